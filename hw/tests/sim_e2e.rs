//! End to end over a real pseudo-terminal: the simulator on the master, our driver on the slave through
//! tokio-serial. Send single and multipart messages, receive single and multipart messages, status reports.

mod common;

use std::time::Duration;

use common::{eventually, rig, rig_with};
use smsbridge_hw::sim::SimConfig;
use smsbridge_hw::{IncomingMode, ModemEvent, OutgoingSms, ReportMode};
use smsbridge_protocol::dlr::ReceiptState;

const T: Duration = Duration::from_secs(15);

fn sms(to: &str, text: &str, report: bool) -> OutgoingSms {
    OutgoingSms {
        to: to.into(),
        text: text.into(),
        want_report: report,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_health_after_init() {
    let r = rig();
    let st = r.ready().await;
    assert_eq!(st.identity.imei.as_deref(), Some("356938035643809"));
    assert_eq!(st.identity.mcc_mnc().as_deref(), Some("24008"));
    assert_eq!(st.identity.iccid.as_deref(), Some("89460800001234567890"));
    assert_eq!(st.registration, Some(1));
    assert_eq!(st.rssi, Some(21));
    assert_eq!(st.operator.as_deref(), Some("SIMNET"));
    assert!(st.healthy());
    // The init sequence the brief names, in PDU mode, with indications for messages and reports.
    let cmds = r.sim.commands();
    for c in [
        "Z",
        "E0",
        "+CMEE=1",
        "+CPIN?",
        "+CMGF=0",
        "+CSMS=0",
        "+CNMI=2,1,0,1,0",
    ] {
        assert!(cmds.iter().any(|x| x == c), "missing AT{c} in {cmds:?}");
    }
    let m = r.modem.metrics();
    assert_eq!(m.rssi, 21);
    assert_eq!(m.registration, 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_single_and_multipart() {
    let r = rig();
    r.ready().await;
    let one = r.modem.send(sms("+46701234567", "hello", false)).await;
    let one = one.unwrap_or_else(|e| panic!("send: {e}"));
    assert_eq!(one.tp_mrs, vec![0]);
    assert_eq!(one.recipient, "+46701234567");
    let long: String = "0123456789".repeat(40); // 400 GSM characters: 3 segments of 153
    let multi = r
        .modem
        .send(sms("+46701234567", &long, false))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    assert_eq!(multi.tp_mrs, vec![1, 2, 3]);
    let sent = r.sim.sent();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[0].text.as_deref(), Some("hello"));
    assert_eq!(sent[0].to, "+46701234567");
    assert!(!sent[0].submit.tp_srr);
    let parts: Vec<_> = sent[1..].iter().map(|s| s.concat).collect();
    let reference = parts[0].map(|c| c.reference);
    for (i, c) in parts.iter().enumerate() {
        let c = c.unwrap_or_else(|| panic!("segment {i} without concatenation header"));
        assert_eq!((c.parts, usize::from(c.number)), (3, i + 1));
        assert_eq!(Some(c.reference), reference);
    }
    let joined: String = sent[1..].iter().filter_map(|s| s.text.clone()).collect();
    assert_eq!(joined, long);
    assert_eq!(r.modem.metrics().sends, 2);
    assert_eq!(r.modem.metrics().segments, 4);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_routed_cds() {
    let mut r = rig();
    r.ready().await;
    r.sim.set_report(Duration::from_millis(200), 0x00);
    let sent = r
        .modem
        .send(sms("+46701234567", "with report", true))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    assert!(r.sim.sent()[0].submit.tp_srr, "TP-SRR must be set");
    match r.event(T).await {
        ModemEvent::Receipt { receipt, commit } => {
            assert_eq!(receipt.tp_mr, sent.tp_mrs[0]);
            assert_eq!(receipt.recipient, sent.recipient);
            assert_eq!(receipt.modem, "m1");
            assert_eq!(receipt.state, ReceiptState::Delivered);
            commit.confirm();
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
    // An expired one (TP-ST 0x46) maps like an SMPP EXPIRED receipt.
    r.sim.set_report(Duration::from_millis(100), 0x46);
    let s2 = r
        .modem
        .send(sms("+46701234568", "second", true))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    match r.event(T).await {
        ModemEvent::Receipt { receipt, commit } => {
            assert_eq!(
                (receipt.tp_mr, receipt.recipient.as_str()),
                (s2.tp_mrs[0], "+46701234568")
            );
            assert_eq!(receipt.state, ReceiptState::Expired);
            commit.confirm();
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
    assert!(eventually(T, || r.modem.metrics().reports == 2).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_stored_cdsi_deleted_after_commit() {
    let mut r = rig_with(SimConfig::default(), |c| c.reports = ReportMode::Stored);
    r.ready().await;
    r.sim.set_report(Duration::from_millis(100), 0x00);
    let sent = r
        .modem
        .send(sms("+46701234567", "stored report", true))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    match r.event(T).await {
        ModemEvent::Receipt { receipt, commit } => {
            assert_eq!(receipt.tp_mr, sent.tp_mrs[0]);
            assert_eq!(receipt.state, ReceiptState::Delivered);
            // Not deleted before the commit.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(r.sim.stored().len(), 1);
            commit.confirm();
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_single_and_multipart_deleting_after_commit() {
    let mut r = rig();
    r.ready().await;
    let idx = r
        .sim
        .inject_sms("+46709999999", "hi there")
        .unwrap_or_default();
    assert_eq!(idx.len(), 1);
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.sender, "+46709999999");
            assert_eq!(message.text, "hi there");
            assert_eq!(message.parts, 1);
            assert_eq!(message.smsc.as_deref(), Some("+46708251600"));
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(r.sim.stored().len(), 1, "deleted before the commit");
            commit.confirm();
        }
        other => panic!("expected a message, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    let long = "Ünïcödé ".repeat(20); // UCS-2, 160 characters: 3 parts of 67
    let idx = r.sim.inject_sms("+46709999998", &long).unwrap_or_default();
    assert_eq!(idx.len(), 3);
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, long);
            assert_eq!(message.parts, 3);
            assert!(message.complete);
            commit.confirm();
        }
        other => panic!("expected a message, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    assert!(eventually(T, || r.modem.metrics().received == 2).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_message_stays_on_sim_and_comes_back() {
    let mut r = rig();
    r.ready().await;
    r.sim
        .inject_sms("+46709999999", "keep me")
        .unwrap_or_default();
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, "keep me");
            drop(commit); // the gateway failed to store it
        }
        other => panic!("expected a message, got {other:?}"),
    }
    // Read again on a later scan; deleted only after this commit.
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, "keep me");
            assert_eq!(r.sim.stored().len(), 1);
            commit.confirm();
        }
        other => panic!("expected the message again, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_already_on_sim_are_read_at_start() {
    let sim = common::start_sim(SimConfig::default());
    sim.inject_sms("+46700000001", "waiting")
        .unwrap_or_default();
    sim.inject_sms("+46700000002", &"x".repeat(200))
        .unwrap_or_default();
    assert_eq!(sim.stored().len(), 3);
    let (tx, mut events) = tokio::sync::mpsc::channel(16);
    let cancel = tokio_util::sync::CancellationToken::new();
    let cfg = common::fast_config("m1", smsbridge_hw::DeviceSelector::Path(sim.path()));
    let (_modem, task) = smsbridge_hw::spawn(cfg, tx, cancel.clone());
    let mut texts = Vec::new();
    for _ in 0..2 {
        match tokio::time::timeout(T, events.recv()).await {
            Ok(Some(ModemEvent::Incoming { message, commit })) => {
                texts.push(message.text);
                commit.confirm();
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    texts.sort();
    assert_eq!(texts, vec!["waiting".to_owned(), "x".repeat(200)]);
    assert!(eventually(T, || sim.stored().is_empty()).await);
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_cmt_with_cnma() {
    let mut r = rig_with(SimConfig::default(), |c| c.incoming = IncomingMode::Routed);
    r.ready().await;
    assert!(r.sim.commands().iter().any(|c| c == "+CSMS=1"));
    r.sim
        .inject_sms("+46709999999", "routed")
        .unwrap_or_default();
    assert!(r.sim.stored().is_empty(), "+CMT messages are not stored");
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, "routed");
            commit.confirm();
        }
        other => panic!("expected a message, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.count_commands("+CNMA") == 1).await);
    // With +CSMS=1 a routed status report (+CDS) needs its +CNMA too, after the commit.
    r.sim.set_report(Duration::from_millis(100), 0);
    let sent = r
        .modem
        .send(sms("+46701234567", "report me", true))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    match r.event(T).await {
        ModemEvent::Receipt { receipt, commit } => {
            assert_eq!(receipt.tp_mr, sent.tp_mrs[0]);
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(
                r.sim.count_commands("+CNMA"),
                1,
                "acknowledged before the commit"
            );
            commit.confirm();
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.count_commands("+CNMA") == 2).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urcs_inside_a_command_answer_are_not_lost() {
    let cfg = SimConfig {
        urcs_inside_responses: true,
        report_delay: Duration::from_millis(0),
        ..SimConfig::default()
    };
    let mut r = rig_with(cfg, |c| c.health_interval = Duration::from_millis(50));
    r.ready().await;
    // Many URCs while health polls run every 50 ms: some land between an answer's lines and its OK.
    for i in 0..5 {
        r.sim
            .inject_sms("+46700000009", &format!("msg {i}"))
            .unwrap_or_default();
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        if let ModemEvent::Incoming { message, commit } = r.event(T).await {
            got.push(message.text);
            commit.confirm();
        }
    }
    got.sort();
    assert_eq!(got, (0..5).map(|i| format!("msg {i}")).collect::<Vec<_>>());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_delete_is_retried_and_not_handed_out_twice() {
    let mut r = rig_with(SimConfig::default(), |c| {
        c.health_interval = Duration::from_millis(700)
    });
    r.ready().await;
    r.sim
        .inject_sms("+46709999999", "delete me")
        .unwrap_or_default();
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, "delete me");
            // The +CMGD that follows the commit is refused once.
            r.sim.fail_next(1);
            commit.confirm();
        }
        other => panic!("expected a message, got {other:?}"),
    }
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    assert_eq!(r.sim.count_commands("+CMGD=1"), 2, "{:?}", r.sim.commands());
    // Not handed out again meanwhile.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), r.events.recv())
            .await
            .is_err()
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_part_gives_an_incomplete_message_after_the_timeout() {
    let mut r = rig_with(SimConfig::default(), |c| {
        c.reassembly_timeout = Duration::from_millis(800);
        c.health_interval = Duration::from_millis(200);
    });
    r.ready().await;
    let text: String = (0..3).map(|i| format!("{i}").repeat(153)).collect();
    let idx = r
        .sim
        .inject_sms_parts("+46709999999", &text, |n| n != 2)
        .unwrap_or_default();
    assert_eq!(idx.len(), 2);
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert!(!message.complete);
            assert_eq!(message.missing, vec![2]);
            assert_eq!(message.parts, 3);
            assert_eq!(
                message.text,
                format!("{}{}", "0".repeat(153), "2".repeat(153))
            );
            commit.confirm();
        }
        other => panic!("expected the incomplete message, got {other:?}"),
    }
    // Both stored parts are deleted after the commit.
    assert!(eventually(T, || r.sim.stored().is_empty()).await);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_reassembly_cap_the_oldest_message_is_handed_up_incomplete() {
    let mut r = rig_with(SimConfig::default(), |c| c.reassembly_max_pending = 1);
    r.ready().await;
    let text: String = (0..2).map(|i| format!("{i}").repeat(153)).collect();
    // The first part of two messages: the second takes the only place.
    for from in ["+46709999991", "+46709999992"] {
        let idx = r
            .sim
            .inject_sms_parts(from, &text, |n| n == 1)
            .unwrap_or_default();
        assert_eq!(idx.len(), 1);
    }
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.sender, "+46709999991");
            assert!(!message.complete);
            assert_eq!(message.missing, vec![2]);
            assert_eq!(message.text, "0".repeat(153));
            commit.confirm();
        }
        other => panic!("expected the first message, incomplete, got {other:?}"),
    }
    // The second waits for its other part (reassembly_timeout is 10 minutes).
    assert!(
        tokio::time::timeout(Duration::from_secs(1), r.events.recv())
            .await
            .is_err()
    );
    r.stop().await;
}

/// An SMS-SUBMIT TPDU as a caller that planned the message itself builds it: part `number` of 2 with
/// concatenation reference 0x42, UCS-2.
fn ucs2_part(to: &str, text: &str, number: u8, report: bool) -> Vec<u8> {
    use smsbridge_protocol::sms::{Address, Dcs, InformationElement, Submit, Tpdu, Udh, UserData};
    let udh = Udh {
        elements: vec![InformationElement::Concat8 {
            reference: 0x42,
            parts: 2,
            number,
        }],
    };
    let mut submit = Submit::new(
        Address::parse(to),
        Dcs(0x08),
        UserData::ucs2(text, Some(udh)),
    );
    submit.tp_srr = report;
    Tpdu::Submit(submit)
        .encode()
        .unwrap_or_else(|e| panic!("encode: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_made_tpdus_go_out_as_built_and_get_their_reports() {
    let mut r = rig_with(SimConfig::default(), |c| {
        c.smsc = Some("+46700000000".into())
    });
    r.ready().await;
    r.sim.set_report(Duration::from_millis(100), 0x00);
    let mut mrs = Vec::new();
    for (number, text) in [(1, "Привет, "), (2, "мир")] {
        let sent = r
            .modem
            .send_tpdu(ucs2_part("+46701234567", text, number, true))
            .await
            .unwrap_or_else(|e| panic!("send_tpdu: {e}"));
        assert_eq!(
            (sent.modem.as_str(), sent.recipient.as_str()),
            ("m1", "+46701234567")
        );
        assert_eq!(sent.retries, 0);
        mrs.push(sent.tp_mr);
    }
    let on_air = r.sim.sent();
    assert_eq!(on_air.len(), 2);
    for (i, s) in on_air.iter().enumerate() {
        // The UDH, data coding and TP-SRR the caller chose; the SCA from the config.
        let c = s.concat.unwrap_or_else(|| panic!("part {i} without UDH"));
        assert_eq!(
            (c.reference, c.parts, usize::from(c.number)),
            (0x42, 2, i + 1)
        );
        assert_eq!(s.submit.tp_dcs.0, 0x08);
        assert!(s.submit.tp_srr);
        assert_eq!(s.smsc.as_deref(), Some("+46700000000"));
        assert_eq!(s.tp_mr, mrs[i]);
    }
    let text: String = on_air.iter().filter_map(|s| s.text.clone()).collect();
    assert_eq!(text, "Привет, мир");
    // Each part's status report comes back with its TP-MR.
    let mut reported = Vec::new();
    for _ in 0..2 {
        match r.event(T).await {
            ModemEvent::Receipt { receipt, commit } => {
                assert_eq!(receipt.recipient, "+46701234567");
                reported.push(receipt.tp_mr);
                commit.confirm();
            }
            other => panic!("expected a receipt, got {other:?}"),
        }
    }
    reported.sort_unstable();
    assert_eq!(reported, mrs);
    assert_eq!(r.modem.metrics().segments, 2);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_made_tpdu_errors_are_classified_like_sends() {
    let r = rig();
    r.ready().await;
    // Transient +CMS ERROR 500: retried by the driver, sent once.
    r.sim.fail_sends(&[500]);
    let sent = r
        .modem
        .send_tpdu(ucs2_part("+46701234567", "a", 1, false))
        .await
        .unwrap_or_else(|e| panic!("send_tpdu: {e}"));
    assert_eq!(sent.retries, 1);
    // Permanent +CMS ERROR 21: not retried, named with its meaning.
    r.sim.fail_sends(&[21]);
    match r
        .modem
        .send_tpdu(ucs2_part("+46701234567", "b", 2, false))
        .await
    {
        Err(e) => {
            assert!(e.is_permanent(), "{e}");
            assert_eq!(
                e.to_string(),
                "segment 0: modem answered +CMS ERROR: 21 (short message transfer rejected)"
            );
        }
        Ok(s) => panic!("expected a rejection, got {s:?}"),
    }
    // Not an SMS-SUBMIT: refused before anything is written.
    let deliver_like = vec![0x00, 0x00];
    match r.modem.send_tpdu(deliver_like).await {
        Err(e @ smsbridge_hw::SendError::Encode(_)) => assert!(e.is_permanent()),
        other => panic!("expected an encoding error, got {other:?}"),
    }
    assert_eq!(r.sim.sent().len(), 1);
    assert_eq!(r.sim.count_commands("+CMGS="), 3, "{:?}", r.sim.commands());
    r.stop().await;
}
