//! GSM modems as gateway carriers end to end: gRPC Submit -> store (SQLite in a temp dir) -> dispatcher ->
//! the modem driver -> AT+CMGS over a real pseudo-terminal -> the modem simulator; its status reports back
//! to DELIVERED in StreamEvents and GetMessage; MO messages injected into the simulator to StreamEvents and
//! off the SIM; a permanent +CMS ERROR; the carrier's and the modem's rate limits; carrier health for
//! failover. Loopback and pseudo-terminals only, every wait bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::sim::smsc::{OutcomeWeight, Smsc, SmscConfig};
use smsbridge_hw::sim::{ReportRecipient, SentSms, SimConfig, SimHandle, SimModem};
use smsbridge_protocol::sms::Udh;
use tokio::time::Instant;

mod harness;
use harness::{Running, WAIT, eventually, free_port, scrape, state_of};

async fn start(text: &str) -> Running {
    harness::start(text, "e2e_modem.toml").await
}

impl Running {
    async fn status_of(&mut self, carrier: &str, link: &str) -> Option<pb::LinkStatus> {
        self.client
            .status(pb::StatusRequest {})
            .await
            .expect("status")
            .into_inner()
            .links
            .into_iter()
            .find(|l| l.carrier == carrier && l.link == link)
    }

    /// Waits until Status shows the carrier's modem in `state`.
    async fn wait_link(&mut self, carrier: &str, state: &str) -> pb::LinkStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            let l = self.status_of(carrier, "modem0").await;
            if let Some(l) = l.as_ref().filter(|l| l.state == state) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "modem0 of {carrier} not {state}: {l:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The SIM's own number in the configs below: the `to` of MO messages.
const SIM_NUMBER: &str = "+46700000001";

fn start_sim(cfg: SimConfig) -> SimHandle {
    SimModem::start(cfg).unwrap_or_else(|e| panic!("modem simulator: {e}"))
}

/// A config whose carrier `gsm` has one link: the modem at `device`. `carrier_rate` and `modem_extra` are
/// TOML put into the carrier's and the modem's tables; `more` is appended (other carriers, routes).
fn config_text(
    dir: &Path,
    device: &Path,
    carrier_rate: &str,
    modem_extra: &str,
    more: &str,
) -> String {
    let mut text = format!(
        r#"
[api]
listen = "127.0.0.1:0"

[store.sqlite]
path = "{db}"

[metrics]
enabled = false

[simulator]
enabled = false

[[carriers]]
id = "gsm"
rate_limit = {carrier_rate}
[carriers.retry]
initial_backoff = "100ms"
max_attempts = 3
[[carriers.modem]]
device = "{device}"
number = "{SIM_NUMBER}"
{modem_extra}
"#,
        db = dir.join("gw.db").display(),
        device = device.display(),
    );
    if more.is_empty() {
        // Modems send from their SIM's number; the route still names a sender for the record.
        text.push_str(&format!(
            "\n[[routes]]\nprefix = \"*\"\ncarriers = [\"gsm\"]\ndefault_sender = \"{SIM_NUMBER}\"\n"
        ));
    } else {
        text.push_str(more);
    }
    text
}

/// What the simulator received for `to`, in order.
fn sent_to(sim: &SimHandle, to: &str) -> Vec<SentSms> {
    sim.sent().into_iter().filter(|s| s.to == to).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_multipart_gsm7_and_ucs2_go_out_as_tpdus_and_reports_deliver_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig {
        report_delay: Duration::from_millis(50),
        // The network names the recipient nationally in its reports: they must still match.
        report_recipient: ReportRecipient::National {
            country_code: "49".into(),
        },
        ..SimConfig::default()
    });
    let metrics_port = free_port();
    let text = config_text(dir.path(), &sim.path(), "{ per_second = 1000 }", "", "").replace(
        "[metrics]\nenabled = false",
        &format!("[metrics]\nenabled = true\nlisten = \"127.0.0.1:{metrics_port}\""),
    );
    let mut gw = start(&text).await;
    let link = gw.wait_link("gsm", "READY").await;
    assert!(link.detail.contains("SIMNET"), "{link:?}");

    let long_gsm = "The quick brown fox jumps over the lazy dog. ".repeat(5); // 225 chars: 2 parts
    let long_ucs2 = "Привет, как дела? ".repeat(6); // 108 UCS-2 chars: 2 parts
    // (to, text, TP-DCS, parts)
    let cases: [(&str, &str, u8, usize); 4] = [
        ("+4915100000001", "hello @ £5", 0x00, 1),
        ("+4915100000002", &long_gsm, 0x00, 2),
        ("+4915100000003", "Привет", 0x08, 1),
        ("+4915100000004", &long_ucs2, 0x08, 2),
    ];
    let mut ids = Vec::new();
    for (to, text, _, parts) in &cases {
        let r = gw.submit(to, text).await;
        assert_eq!(r.segments as usize, *parts, "{to}");
        assert_eq!(r.carrier, "gsm");
        ids.push(r.message_id);
    }
    for ((to, text, dcs, parts), id) in cases.iter().zip(&ids) {
        let m = gw.wait_final(id).await;
        assert_eq!(state_of(&m), pb::MessageState::Delivered, "{to}: {m:?}");
        assert_eq!(m.carrier_message_ids.len(), *parts, "{to}: {m:?}");
        for seg in &m.segments {
            assert_eq!(
                pb::MessageState::try_from(seg.state).unwrap_or_default(),
                pb::MessageState::Delivered,
                "{to}: {seg:?}"
            );
            let cid = seg.carrier_message_id.as_deref().unwrap_or_default();
            assert!(cid.starts_with("gsm/modem0:"), "{cid}");
            let status = seg.carrier_status.as_ref().expect("status report");
            assert_eq!(status.stat.as_deref(), Some("DELIVRD"));
            assert_eq!(status.err.as_deref(), Some("0x00"));
            assert!(
                status
                    .raw
                    .as_deref()
                    .unwrap_or_default()
                    .contains("TP-ST 0x00"),
                "{status:?}"
            );
        }
        // What the modem sent: one SMS-SUBMIT per part, the right TP-DCS, TP-SRR, a UDH only on parts.
        let sent = sent_to(&sim, to);
        assert_eq!(sent.len(), *parts, "{to}: {sent:?}");
        let mut numbers = Vec::new();
        for s in &sent {
            assert_eq!(s.submit.tp_dcs.0, *dcs, "{to}");
            assert!(s.submit.tp_srr, "{to}: TP-SRR");
            assert_eq!(s.smsc, None, "the SIM's service centre");
            match s.concat {
                Some(c) => {
                    assert!(*parts > 1, "{to}: UDH on a single message");
                    assert_eq!(usize::from(c.parts), *parts);
                    numbers.push(c.number);
                }
                None => assert_eq!(*parts, 1, "{to}: part without UDH"),
            }
        }
        // Every part has the same reference; the texts in part order make the message.
        let refs: Vec<u16> = sent
            .iter()
            .filter_map(|s| s.concat.map(|c| c.reference))
            .collect();
        assert!(refs.windows(2).all(|w| w[0] == w[1]), "{to}: {refs:?}");
        let mut by_number: Vec<(u8, String)> = sent
            .iter()
            .map(|s| {
                (
                    s.concat.map_or(1, |c| c.number),
                    s.text.clone().unwrap_or_default(),
                )
            })
            .collect();
        by_number.sort();
        let joined: String = by_number.into_iter().map(|(_, t)| t).collect();
        assert_eq!(&joined, text, "{to}");
        if *parts > 1 {
            numbers.sort_unstable();
            assert_eq!(numbers, (1..=*parts as u8).collect::<Vec<_>>());
            let udh = sent[0].submit.tp_ud.header.as_ref().and_then(Udh::concat);
            assert!(udh.is_some());
        }
    }

    // StreamEvents shows each message reaching DELIVERED.
    let want = ids.clone();
    let events = gw
        .events_until(vec![pb::EventKind::Delivered], WAIT, |evs| {
            want.iter().all(|id| {
                evs.iter().any(|e| {
                    matches!(&e.payload, Some(pb::event::Payload::StateChange(sc))
                        if &sc.message_id == id && sc.segment.is_none())
                })
            })
        })
        .await;
    for id in &ids {
        assert!(
            events.iter().any(|e| matches!(&e.payload,
                Some(pb::event::Payload::StateChange(sc)) if &sc.message_id == id && sc.segment.is_none()
                    && sc.new_state == pb::MessageState::Delivered as i32)),
            "no DELIVERED event for {id}: {events:?}"
        );
    }
    // Stored status reports (+CDSI) are deleted from the SIM once committed.
    assert!(
        eventually(WAIT, || sim.stored().is_empty()).await,
        "{:?}",
        sim.stored()
    );

    // Metrics: the carrier's segment counters, and the modem's own with its link name.
    let body = scrape(metrics_port).await;
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {body}"))
    };
    assert_eq!(
        value("smsbridge_segments_submitted_total{carrier=\"gsm\"}"),
        6.0
    );
    assert_eq!(
        value("smsbridge_segments_accepted_total{carrier=\"gsm\"}"),
        6.0
    );
    assert_eq!(
        value("smsbridge_segments_delivered_total{carrier=\"gsm\"}"),
        6.0
    );
    let modem = "{carrier=\"gsm\",link=\"modem0\"}";
    assert_eq!(
        value(&format!("smsbridge_modem_segments_total{modem}")),
        6.0
    );
    assert_eq!(value(&format!("smsbridge_modem_reports_total{modem}")), 6.0);
    assert_eq!(value(&format!("smsbridge_modem_up{modem}")), 1.0);
    assert_eq!(value(&format!("smsbridge_modem_rssi{modem}")), 21.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_single_and_concatenated_reach_stream_events_and_leave_the_sim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig::default());
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "",
        "",
    ))
    .await;
    gw.wait_link("gsm", "READY").await;
    let idx = sim.inject_sms("+46709999999", "STOP").expect("inject");
    assert_eq!(idx.len(), 1);
    let long = "Ünïcödé reply, long enough for three parts. ".repeat(4); // UCS-2, 176 chars: 3 parts of 67
    let idx = sim.inject_sms("+46709999998", &long).expect("inject");
    assert_eq!(idx.len(), 3);
    let events = gw
        .events_until(vec![pb::EventKind::Mo], WAIT, |evs| evs.len() >= 2)
        .await;
    let mos: BTreeMap<String, (String, String, String)> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::Inbound(m)) => Some((
                m.from.clone(),
                (m.to.clone(), m.text.clone(), m.carrier.clone()),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(mos.len(), 2, "{events:?}");
    let want = |text: &str| (SIM_NUMBER.to_owned(), text.to_owned(), "gsm".to_owned());
    assert_eq!(mos.get("+46709999999"), Some(&want("STOP")), "{mos:?}");
    assert_eq!(
        mos.get("+46709999998"),
        Some(&want(&long)),
        "the three parts come back as one text"
    );
    // Deleted from the SIM only after the commit (the events above are the commit).
    assert!(
        eventually(WAIT, || sim.stored().is_empty()).await,
        "{:?}",
        sim.stored()
    );
    assert_eq!(sim.count_commands("+CMGD="), 4, "{:?}", sim.commands());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_modem_error_rejects_the_message_and_keeps_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig::default());
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "",
        "",
    ))
    .await;
    gw.wait_link("gsm", "READY").await;
    // "Short message transfer rejected" (TS 24.011 cause 21): retrying cannot help.
    sim.fail_sends(&[21]);
    let r = gw.submit("+4915100000009", "refused").await;
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Rejected, "{m:?}");
    let seg = &m.segments[0];
    let error = seg.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("+CMS ERROR: 21 (short message transfer rejected)"),
        "{error:?}"
    );
    assert_eq!(seg.attempts, 1, "not retried: {seg:?}");
    assert!(sim.sent().is_empty(), "nothing went out");
    // The modem works on: the next message goes out and is delivered.
    let r = gw.submit("+4915100000010", "accepted").await;
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    gw.stop().await;
}

/// Submits `n` single-part messages and returns when the simulator accepted each of them.
async fn send_n_and_time_them(gw: &mut Running, sim: &SimHandle, n: usize) -> Vec<Instant> {
    for i in 0..n {
        gw.submit(&format!("+49152000000{i:02}"), "rate").await;
    }
    assert!(
        eventually(WAIT, || sim.sent().len() >= n).await,
        "only {} of {n} reached the modem",
        sim.sent().len()
    );
    let sent = sim.sent();
    assert_eq!(sent.len(), n, "each message once");
    sent.iter().map(|s| s.at).collect()
}

/// Burst 1 then `rate` per second: `n` sends span at least (n - 1) / rate seconds (less a little for the
/// timer), and no second holds more than burst + rate, plus one whose send was held up behind its token
/// by a slow answer from the modem.
fn assert_paced(at: &[Instant], rate: f64) {
    let span = at[at.len() - 1] - at[0];
    let least = Duration::from_secs_f64((at.len() - 1) as f64 / rate * 0.9);
    assert!(
        span >= least,
        "{} sends in {span:?}, expected at least {least:?}",
        at.len()
    );
    for (i, t) in at.iter().enumerate() {
        let in_window = at[i..]
            .iter()
            .take_while(|u| **u - *t < Duration::from_secs(1))
            .count();
        assert!(
            in_window as f64 <= 2.0 + rate,
            "{in_window} sends within one second"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carrier_rate_limit_holds_at_the_modem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig::default());
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 4, burst = 1 }",
        "",
        "",
    ))
    .await;
    gw.wait_link("gsm", "READY").await;
    let at = send_n_and_time_them(&mut gw, &sim, 9).await;
    assert_paced(&at, 4.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_rate_limit_holds_under_a_faster_carrier_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig::default());
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "rate_limit = { per_second = 4, burst = 1 }",
        "",
    ))
    .await;
    gw.wait_link("gsm", "READY").await;
    let at = send_n_and_time_them(&mut gw, &sim, 9).await;
    assert_paced(&at, 4.0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_without_network_makes_its_carrier_unhealthy_for_failover() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The backup carrier: the SMSC simulator over SMPP.
    let smsc = Smsc::start(SmscConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        receipt_delay: (Duration::from_millis(10), Duration::from_millis(10)),
        outcomes: vec![OutcomeWeight {
            stat: "DELIVRD",
            weight: 1.0,
        }],
        ..SmscConfig::default()
    })
    .await
    .expect("the SMSC simulator starts");
    let backup = format!(
        r#"
[[carriers]]
id = "backup"
rate_limit = {{ per_second = 1000 }}
[[carriers.smpp]]
host = "127.0.0.1"
port = {port}
system_id = "smsbridge"
password = "sim"

[[routes]]
prefix = "*"
carriers = ["gsm", "backup"]
default_sender = "SMSBRIDGE"
"#,
        port = smsc.local_addr().port()
    );
    // Searching for a network (+CREG stat 2): the modem is up but cannot send.
    let sim = start_sim(SimConfig {
        registration: 2,
        ..SimConfig::default()
    });
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "",
        &backup,
    ))
    .await;
    let link = gw.wait_link("gsm", "NO_NETWORK").await;
    assert_eq!(link.detail, "+CREG stat 2");
    let r = gw.submit("+4915100000020", "around the modem").await;
    assert_eq!(
        r.carrier, "backup",
        "routed around the modem without network"
    );
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    assert!(sim.sent().is_empty());
    gw.stop().await;

    // The same carrier with a registered modem takes the traffic.
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = start_sim(SimConfig::default());
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "",
        &backup,
    ))
    .await;
    gw.wait_link("gsm", "READY").await;
    let r = gw.submit("+4915100000021", "through the modem").await;
    assert_eq!(r.carrier, "gsm");
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    assert_eq!(sent_to(&sim, "+4915100000021").len(), 1);
    gw.stop().await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_health_interval_paces_the_polls_and_finds_the_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Searching for a network at start: the modem is up but its carrier is not.
    let sim = start_sim(SimConfig {
        registration: 2,
        ..SimConfig::default()
    });
    let mut gw = start(&config_text(
        dir.path(),
        &sim.path(),
        "{ per_second = 1000 }",
        "health_interval = \"200ms\"",
        "",
    ))
    .await;
    gw.wait_link("gsm", "NO_NETWORK").await;
    let before = sim.count_commands("+CREG?");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let polls = sim.count_commands("+CREG?") - before;
    // About 5 in a second at 200ms (the default 30s would give none).
    assert!((3..=6).contains(&polls), "{polls} polls in 1s");
    // The network comes: the next poll, not one 30s later, makes the modem ready.
    sim.set_registration(1);
    let found = Instant::now();
    let link = gw.wait_link("gsm", "READY").await;
    assert!(
        found.elapsed() < Duration::from_millis(1_500),
        "READY after {:?}: {link:?}",
        found.elapsed()
    );
    gw.stop().await;
}
