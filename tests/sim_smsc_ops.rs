//! The SMSC simulator answering each SMPP 3.4 operation, seen from a bare client written with the codec
//! (not our link): binds and accounts, submit_sm / submit_multi / data_sm / query_sm / cancel_sm /
//! replace_sm / enquire_link / unbind, receipts (outcome mix, registered_delivery, delays), MO injection
//! (single and concatenated with a UDH), and the command line `smsbridge sim smsc`.

use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use smsbridge::sim::smsc::{IdFormat, MoMessage, OutcomeWeight, Smsc, SmscConfig};
use smsbridge_protocol::dlr::parse_receipt;
use smsbridge_protocol::smpp::{
    Bind, Body, CancelSm, CommandStatus, DataCoding, DataSm, DestAddress, EsmClass, Frame, Limits,
    MessageIdResp, MessageState, Pdu, QuerySm, ReplaceSm, SubmitMulti, SubmitSm, Tlvs,
    decode_frame, tag,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

const LIMIT: Duration = Duration::from_secs(10);

struct Client {
    s: TcpStream,
    buf: BytesMut,
    seq: u32,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            s: TcpStream::connect(addr).await.expect("connect"),
            buf: BytesMut::new(),
            seq: 0,
        }
    }

    async fn send(&mut self, body: Body<'_>) -> u32 {
        self.seq += 1;
        let seq = self.seq;
        self.s
            .write_all(&Pdu::new(seq, body).to_vec())
            .await
            .expect("write");
        seq
    }

    async fn recv(&mut self) -> Option<Pdu<'static>> {
        let end = Instant::now() + LIMIT;
        loop {
            match decode_frame(&self.buf, &Limits::default()) {
                Ok(Frame::Pdu { pdu, consumed }) => {
                    let p = pdu.into_owned();
                    self.buf.advance(consumed);
                    return Some(p);
                }
                Ok(Frame::Incomplete { .. }) => {}
                Err(e) => panic!("simulator sent a bad PDU: {e}"),
            }
            match tokio::time::timeout_at(end, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    /// The next PDU that is not a deliver_sm (answering those).
    async fn response(&mut self) -> Pdu<'static> {
        loop {
            let p = self.recv().await.expect("a response");
            if let Body::DeliverSm(_) = p.body {
                self.ack(p.sequence_number).await;
                continue;
            }
            return p;
        }
    }

    async fn ack(&mut self, seq: u32) {
        self.s
            .write_all(&Pdu::new(seq, Body::DeliverSmResp(MessageIdResp::default())).to_vec())
            .await
            .expect("write");
    }

    async fn bind(&mut self, system_id: &str, password: &str) -> CommandStatus {
        self.send(Body::BindTransceiver(Bind {
            system_id: system_id.as_bytes().to_vec().into(),
            password: password.as_bytes().to_vec().into(),
            interface_version: 0x34,
            ..Bind::default()
        }))
        .await;
        self.response().await.command_status
    }
}

fn cfg() -> SmscConfig {
    SmscConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        accounts: vec![("acct".into(), "pw".into())],
        id_format: IdFormat::Decimal,
        ..SmscConfig::default()
    }
}

fn submit(dest: &str, rd: u8) -> Body<'static> {
    Body::SubmitSm(SubmitSm {
        source_addr: b"1555".to_vec().into(),
        destination_addr: dest.as_bytes().to_vec().into(),
        registered_delivery: rd,
        short_message: b"hello there".to_vec().into(),
        ..SubmitSm::default()
    })
}

#[tokio::test]
async fn binds_check_accounts_and_bind_state() {
    let sim = Smsc::start(cfg()).await.expect("sim");
    let mut c = Client::connect(sim.local_addr()).await;
    // Before a bind, a submit is refused for its bind state.
    c.send(submit("1", 0)).await;
    assert_eq!(
        c.response().await.command_status,
        CommandStatus::ESME_RINVBNDSTS
    );
    assert_eq!(c.bind("acct", "nope").await, CommandStatus::ESME_RINVPASWD);
    let mut c = Client::connect(sim.local_addr()).await;
    assert_eq!(c.bind("who", "pw").await, CommandStatus::ESME_RINVSYSID);
    let mut c = Client::connect(sim.local_addr()).await;
    assert_eq!(c.bind("acct", "pw").await, CommandStatus::ESME_ROK);
    assert_eq!(c.bind("acct", "pw").await, CommandStatus::ESME_RALYBND);
    c.send(Body::EnquireLink).await;
    assert!(matches!(c.response().await.body, Body::EnquireLinkResp(_)));
    c.send(Body::Unbind).await;
    assert!(matches!(c.response().await.body, Body::UnbindResp(_)));
    assert!(c.recv().await.is_none(), "closed after unbind");
    let n = sim.counters();
    assert_eq!(n.binds.load(Ordering::SeqCst), 1);
    assert_eq!(n.binds_refused.load(Ordering::SeqCst), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn answers_every_operation() {
    let mut conf = cfg();
    conf.receipt_delay = (Duration::from_secs(5), Duration::from_secs(5));
    let sim = Smsc::start(conf).await.expect("sim");
    let mut c = Client::connect(sim.local_addr()).await;
    assert_eq!(c.bind("acct", "pw").await, CommandStatus::ESME_ROK);
    // submit_sm asking for a receipt (held 5 s): the message stays ENROUTE meanwhile.
    c.send(submit("4911", 1)).await;
    let r = c.response().await;
    let Body::SubmitSmResp(MessageIdResp {
        message_id: Some(id),
        ..
    }) = r.body
    else {
        panic!("{r:?}")
    };
    let id = id.into_owned();
    c.send(Body::QuerySm(QuerySm {
        message_id: id.clone().into(),
        source_addr: b"1555".to_vec().into(),
        ..QuerySm::default()
    }))
    .await;
    match c.response().await.body {
        Body::QuerySmResp(q) => {
            assert_eq!(q.message_id.as_deref(), Some(&id[..]));
            assert_eq!(q.message_state, Some(MessageState::ENROUTE));
        }
        other => panic!("{other:?}"),
    }
    c.send(Body::ReplaceSm(ReplaceSm {
        message_id: id.clone().into(),
        short_message: b"new".to_vec().into(),
        ..ReplaceSm::default()
    }))
    .await;
    let r = c.response().await;
    assert!(matches!(r.body, Body::ReplaceSmResp(_)) && r.command_status.is_ok());
    c.send(Body::CancelSm(CancelSm {
        message_id: id.clone().into(),
        ..CancelSm::default()
    }))
    .await;
    let r = c.response().await;
    assert!(matches!(r.body, Body::CancelSmResp(_)) && r.command_status.is_ok());
    // Cancelled: a second cancel fails, and a query says DELETED.
    c.send(Body::CancelSm(CancelSm {
        message_id: id.clone().into(),
        ..CancelSm::default()
    }))
    .await;
    assert_eq!(
        c.response().await.command_status,
        CommandStatus::ESME_RCANCELFAIL
    );
    c.send(Body::QuerySm(QuerySm {
        message_id: id.clone().into(),
        ..QuerySm::default()
    }))
    .await;
    match c.response().await.body {
        Body::QuerySmResp(q) => assert_eq!(q.message_state, Some(MessageState::DELETED)),
        other => panic!("{other:?}"),
    }
    c.send(Body::QuerySm(QuerySm {
        message_id: b"999999".to_vec().into(),
        ..QuerySm::default()
    }))
    .await;
    assert_eq!(
        c.response().await.command_status,
        CommandStatus::ESME_RQUERYFAIL
    );
    // submit_multi and data_sm.
    c.send(Body::SubmitMulti(SubmitMulti {
        dest_address: vec![DestAddress::Sme {
            dest_addr_ton: Default::default(),
            dest_addr_npi: Default::default(),
            destination_addr: b"4912".to_vec().into(),
        }]
        .into(),
        short_message: b"multi".to_vec().into(),
        ..SubmitMulti::default()
    }))
    .await;
    match c.response().await.body {
        Body::SubmitMultiResp(m) => {
            assert!(m.message_id.is_some_and(|i| !i.is_empty()));
            assert_eq!(m.unsuccess_sme.map(|u| u.len()), Some(0));
        }
        other => panic!("{other:?}"),
    }
    c.send(Body::DataSm(DataSm {
        destination_addr: b"4913".to_vec().into(),
        tlvs: Tlvs::from_pairs([(tag::MESSAGE_PAYLOAD, &b"payload"[..])]).expect("tlv"),
        ..DataSm::default()
    }))
    .await;
    match c.response().await.body {
        Body::DataSmResp(m) => assert!(m.message_id.is_some()),
        other => panic!("{other:?}"),
    }
    // An unknown command gets generic_nack ESME_RINVCMDID with its sequence number.
    c.s.write_all(&[0, 0, 0, 16, 0, 0, 0x07, 0x77, 0, 0, 0, 0, 0, 0, 0, 42])
        .await
        .expect("write");
    let r = c.response().await;
    assert!(matches!(r.body, Body::GenericNack(_)));
    assert_eq!(
        (r.command_status, r.sequence_number),
        (CommandStatus::ESME_RINVCMDID, 42)
    );
    assert_eq!(sim.counters().submits.load(Ordering::SeqCst), 3);
    assert_eq!(sim.counters().queries.load(Ordering::SeqCst), 6);
    // The cancelled message gets no receipt.
    assert_eq!(sim.counters().receipts_sent.load(Ordering::SeqCst), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn receipts_follow_the_outcome_mix_and_registered_delivery() {
    let mut conf = cfg();
    conf.outcomes = vec![
        OutcomeWeight {
            stat: "DELIVRD",
            weight: 1.0,
        },
        OutcomeWeight {
            stat: "UNDELIV",
            weight: 1.0,
        },
    ];
    conf.receipt_delay = (Duration::from_millis(1), Duration::from_millis(50));
    let sim = Smsc::start(conf).await.expect("sim");
    let mut c = Client::connect(sim.local_addr()).await;
    assert_eq!(c.bind("acct", "pw").await, CommandStatus::ESME_ROK);
    let n = 200;
    for i in 0..n {
        // Half ask for every receipt, half only for failures (registered_delivery 2).
        c.send(submit(&format!("49{i}"), if i % 2 == 0 { 1 } else { 2 }))
            .await;
    }
    let mut ids = std::collections::HashSet::new();
    let mut stats = std::collections::HashMap::<String, usize>::new();
    let mut failure_only_delivered = 0;
    let mut dests = std::collections::HashMap::new();
    let end = Instant::now() + LIMIT;
    let mut answered = 0;
    while Instant::now() < end {
        let Ok(Some(p)) = timeout(Duration::from_millis(300), c.recv()).await else {
            if answered == n {
                break;
            }
            continue;
        };
        match p.body {
            Body::SubmitSmResp(r) => {
                answered += 1;
                ids.insert(r.message_id.expect("id").into_owned());
            }
            Body::DeliverSm(d) => {
                assert!(d.is_delivery_receipt());
                let text = parse_receipt(&d.short_message).expect("receipt text");
                let id = d.receipted_message_id().expect("tlv").to_vec();
                assert_eq!(text.id, Some(&id[..]));
                let stat = String::from_utf8_lossy(text.stat.expect("stat")).into_owned();
                let expect_state = if stat == "DELIVRD" { 2 } else { 5 };
                assert_eq!(d.message_state(), Some(MessageState(expect_state)));
                let dest: u32 = std::str::from_utf8(&d.source_addr)
                    .ok()
                    .and_then(|s| s.strip_prefix("49"))
                    .and_then(|s| s.parse().ok())
                    .expect("receipt comes from the destination");
                if dest % 2 == 1 && stat == "DELIVRD" {
                    failure_only_delivered += 1;
                }
                dests.insert(dest, stat.clone());
                *stats.entry(stat).or_default() += 1;
                c.ack(p.sequence_number).await;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(answered, n);
    assert_eq!(ids.len(), n, "distinct ids");
    assert_eq!(
        failure_only_delivered, 0,
        "registered_delivery 2 gets failures only"
    );
    let delivered = stats.get("DELIVRD").copied().unwrap_or(0);
    let undeliv = stats.get("UNDELIV").copied().unwrap_or(0);
    // 100 ask for all (about half each), 100 for failures only (about half of them UNDELIV): DELIVRD is
    // Binomial(100, 0.5), UNDELIV Binomial(200, 0.5); the bounds are 5 standard deviations wide.
    assert!((25..=75).contains(&delivered), "{stats:?}");
    assert!((65..=135).contains(&undeliv), "{stats:?}");
    let c2 = sim.counters();
    assert_eq!(
        c2.receipts_sent.load(Ordering::SeqCst) as usize,
        delivered + undeliv
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn mo_messages_single_and_concatenated() {
    let sim = Smsc::start(cfg()).await.expect("sim");
    let ctl = sim.control();
    assert!(
        !ctl.inject_mo(MoMessage {
            source_addr: "4917".into(),
            destination_addr: "123".into(),
            data_coding: DataCoding::DEFAULT,
            esm_class: EsmClass::DEFAULT,
            short_message: b"x".to_vec(),
        }),
        "nobody bound to receive"
    );
    let mut c = Client::connect(sim.local_addr()).await;
    assert_eq!(c.bind("acct", "pw").await, CommandStatus::ESME_ROK);
    assert!(ctl.inject_mo(MoMessage {
        source_addr: "4917".into(),
        destination_addr: "123".into(),
        data_coding: DataCoding::DEFAULT,
        esm_class: EsmClass::DEFAULT,
        short_message: b"single".to_vec(),
    }));
    let p = c.recv().await.expect("MO");
    match &p.body {
        Body::DeliverSm(d) => {
            assert!(!d.is_delivery_receipt());
            assert_eq!(&d.short_message[..], b"single");
            assert_eq!(&d.source_addr[..], b"4917");
        }
        other => panic!("{other:?}"),
    }
    c.ack(p.sequence_number).await;
    let text: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(ctl.inject_mo_multipart("4917", "123", &text, 0x42, 153), 2);
    let mut joined = Vec::new();
    for part in 1..=2u8 {
        let p = c.recv().await.expect("segment");
        let Body::DeliverSm(d) = &p.body else {
            panic!("{p:?}")
        };
        assert!(d.esm_class.udhi());
        assert_eq!(&d.short_message[..6], &[0x05, 0x00, 0x03, 0x42, 2, part]);
        joined.extend_from_slice(&d.short_message[6..]);
        c.ack(p.sequence_number).await;
    }
    assert_eq!(joined, text);
    let n = sim.counters();
    let end = Instant::now() + LIMIT;
    while n.deliver_resp_ok.load(Ordering::SeqCst) < 3 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(n.mo_sent.load(Ordering::SeqCst), 3);
    assert_eq!(n.deliver_resp_ok.load(Ordering::SeqCst), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn command_line_simulator_serves_and_prints_its_counters() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args([
            "sim",
            "smsc",
            "--listen",
            "127.0.0.1:0",
            "--id-format",
            "uuid",
            "--outcomes",
            "DELIVRD=0.97,UNDELIV=0.03",
            "--receipt-delay",
            "0..5",
            "--account",
            "cli:pw",
            "--stats-every",
            "1",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("smsbridge runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = timeout(LIMIT, lines.next_line())
        .await
        .expect("in time")
        .expect("read")
        .expect("a line");
    let port: u16 = first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line {first:?}"));
    let mut c = Client::connect(([127, 0, 0, 1], port).into()).await;
    assert_eq!(c.bind("cli", "pw").await, CommandStatus::ESME_ROK);
    for i in 0..3 {
        c.send(submit(&format!("49{i}"), 1)).await;
    }
    let mut ids = 0;
    let mut receipts = 0;
    while ids < 3 || receipts < 3 {
        let p = c.recv().await.expect("PDU");
        match p.body {
            Body::SubmitSmResp(r) => {
                assert_eq!(r.message_id.map(|m| m.len()), Some(36), "uuid ids");
                ids += 1;
            }
            Body::DeliverSm(_) => {
                receipts += 1;
                c.ack(p.sequence_number).await;
            }
            other => panic!("{other:?}"),
        }
    }
    c.send(Body::Unbind).await;
    let _ = c.response().await;
    // Ctrl-C: it prints its counters at exit.
    let pid = child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut exit_line = None;
    while let Ok(Ok(Some(line))) = timeout(LIMIT, lines.next_line()).await {
        if line.starts_with("sim smsc (exit):") {
            exit_line = Some(line);
        }
    }
    let exit_line = exit_line.expect("exit counters printed");
    assert!(
        exit_line.contains("binds=1 submits=3 accepted=3 receipts=3"),
        "{exit_line}"
    );
    let code = timeout(LIMIT, child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(code.success());
}
