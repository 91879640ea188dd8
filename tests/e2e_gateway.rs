//! The whole gateway end to end: gRPC Submit -> store (SQLite in a temp dir) -> dispatcher -> SMPP link over
//! TCP -> the SMSC simulator -> receipt -> StreamEvents / GetMessage; MO from the simulator to StreamEvents;
//! failover between carriers; the carrier rate limit; the Prometheus endpoint. Loopback only, every wait
//! bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::sim::smsc::{OutcomeWeight, RecordedSubmit, Smsc, SmscConfig, SmscControl};
use smsbridge_protocol::smpp::{DataCoding, EsmClass};

mod harness;
use harness::{Running, SmppToml, WAIT, free_port, scrape, state_of};

async fn start(text: &str) -> Running {
    harness::start(text, "e2e.toml").await
}

/// A simulator on a free loopback port, recording submits, receipts after `delay`, all with `stat`, kept
/// across sessions.
async fn simulator(stat: &'static str, delay: Duration) -> Smsc {
    let sim = Smsc::start(SmscConfig {
        outcomes: vec![OutcomeWeight { stat, weight: 1.0 }],
        ..harness::smsc_config((delay, delay))
    })
    .await
    .expect("the simulator starts");
    sim.control().record_submits(true);
    // Like a real SMSC: receipts of a lost session go to the next one.
    sim.control().set_store_and_forward(true);
    sim
}

/// The keys of a carrier of these tests: `per_second` messages a second, `segmentation` (`udh` or `sar`), a
/// retry after 100 ms.
fn carrier(per_second: u32, segmentation: &str) -> String {
    format!(
        "rate_limit = {{ per_second = {per_second} }}\nsegmentation = \"{segmentation}\"\n\
         [carriers.retry]\ninitial_backoff = \"100ms\""
    )
}

/// Every carrier's SMPP keys: `window` submits in flight, reconnecting after 200 ms to 1 s.
fn smpp(window: u32) -> String {
    format!(
        "window = {window}\nreconnect = {{ initial_backoff = \"200ms\", max_backoff = \"1s\" }}"
    )
}

fn submits_to(control: &SmscControl, number: &str) -> Vec<RecordedSubmit> {
    control
        .recorded_submits()
        .into_iter()
        .filter(|s| s.destination_addr == number.as_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_multipart_gsm7_and_ucs2_are_delivered_with_the_right_coding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(50)).await;
    let control = sim.control();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(1000, "udh"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;

    let long_gsm = "The quick brown fox jumps over the lazy dog. ".repeat(5); // 225 chars: 2 parts
    let long_ucs2 = "Привет, как дела? ".repeat(6); // 108 UCS-2 chars: 2 parts
    let cases: [(&str, &str, DataCoding, usize); 4] = [
        ("+4915100000001", "hello", DataCoding::DEFAULT, 1),
        ("+4915100000002", &long_gsm, DataCoding::DEFAULT, 2),
        ("+4915100000003", "Привет", DataCoding::UCS2, 1),
        ("+4915100000004", &long_ucs2, DataCoding::UCS2, 2),
    ];
    let mut ids = Vec::new();
    for (to, text, _, parts) in &cases {
        let r = gw.submit(to, text).await;
        assert_eq!(r.segments as usize, *parts, "{to}");
        assert_eq!(r.carrier, "alpha");
        ids.push(r.message_id);
    }
    for ((to, text, dc, parts), id) in cases.iter().zip(&ids) {
        let m = gw.wait_final(id).await;
        assert_eq!(state_of(&m), pb::MessageState::Delivered, "{to}: {m:?}");
        assert_eq!(m.carrier_message_ids.len(), *parts, "{to}: {m:?}");
        for seg in &m.segments {
            assert_eq!(
                pb::MessageState::try_from(seg.state).unwrap_or_default(),
                pb::MessageState::Delivered
            );
            let status = seg.carrier_status.as_ref().expect("receipt status");
            assert_eq!(status.stat.as_deref(), Some("DELIVRD"));
            assert!(seg.carrier_message_id.is_some());
        }
        // What the simulator received: one submit_sm per part, the right data_coding, UDH only on parts.
        let subs = submits_to(&control, &to[1..]);
        assert_eq!(subs.len(), *parts, "{to}: {subs:?}");
        let mut body: Vec<u8> = Vec::new();
        for (i, s) in subs.iter().enumerate() {
            assert_eq!(s.data_coding, *dc, "{to}");
            assert_eq!(s.registered_delivery, 1);
            assert_eq!(s.dest_addr_ton, 1, "international");
            assert_eq!(s.source_addr, b"SMSBRIDGE");
            if *parts > 1 {
                assert!(s.esm_class.udhi(), "{to}: part {i} without UDHI");
                let udh = &s.short_message[..6];
                assert_eq!(&udh[..3], &[0x05, 0x00, 0x03]);
                assert_eq!(udh[4] as usize, *parts);
                body.extend_from_slice(&s.short_message[6..]);
            } else {
                assert_eq!(s.esm_class, EsmClass::DEFAULT);
                body.extend_from_slice(&s.short_message);
            }
        }
        // Parts may arrive in any order; the bytes of the whole text are all there.
        let expected_len = if *dc == DataCoding::UCS2 {
            text.encode_utf16().count() * 2
        } else {
            text.len()
        };
        assert_eq!(body.len(), expected_len, "{to}");
        if *parts == 1 && *dc == DataCoding::UCS2 {
            let units: Vec<u16> = text.encode_utf16().collect();
            let sent: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            assert_eq!(sent, units);
        }
        if *parts == 1 && *dc == DataCoding::DEFAULT {
            assert_eq!(body, text.as_bytes(), "GSM septets of ASCII letters");
        }
    }

    // StreamEvents shows each message reaching DELIVERED.
    let want: Vec<String> = ids.clone();
    let events = gw
        .events_until(vec![pb::EventKind::Delivered], WAIT, |evs| {
            want.iter().all(|id| {
                evs.iter().any(|e| match &e.payload {
                    Some(pb::event::Payload::StateChange(sc)) => {
                        &sc.message_id == id && sc.segment.is_none()
                    }
                    _ => false,
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
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sar_segmentation_sends_tlvs_instead_of_udh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let control = sim.control();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(1000, "sar"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;
    let text = "x".repeat(300);
    let r = gw.submit("+4915100000010", &text).await;
    assert_eq!(r.segments, 2);
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    let subs = submits_to(&control, "4915100000010");
    assert_eq!(subs.len(), 2);
    let mut seqs: Vec<u8> = Vec::new();
    for s in &subs {
        assert!(!s.esm_class.udhi());
        let (reference, total, seq) = s.sar.expect("sar TLVs");
        assert_eq!(total, 2);
        assert_eq!(Some(reference), subs[0].sar.map(|s| s.0));
        seqs.push(seq);
        assert!(s.short_message.iter().all(|&b| b == b'x'));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(
        subs.iter().map(|s| s.short_message.len()).sum::<usize>(),
        300
    );
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_receipt_keeps_stat_and_err() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("UNDELIV", Duration::from_millis(20)).await;
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(1000, "udh"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;
    let r = gw.submit("+4915100000020", "will not arrive").await;
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Undeliverable, "{m:?}");
    let status = m.segments[0]
        .carrier_status
        .as_ref()
        .expect("carrier status");
    assert_eq!(status.stat.as_deref(), Some("UNDELIV"));
    assert!(
        status.err.as_deref().is_some_and(|e| !e.is_empty()),
        "{status:?}"
    );
    assert!(
        status
            .raw
            .as_deref()
            .is_some_and(|r| r.contains("stat:UNDELIV")),
        "{status:?}"
    );
    let events = gw
        .events_until(vec![pb::EventKind::Undeliverable], WAIT, |evs| {
            !evs.is_empty()
        })
        .await;
    assert!(
        events.iter().any(|e| matches!(&e.payload,
            Some(pb::event::Payload::StateChange(sc)) if sc.message_id == r.message_id)),
        "{events:?}"
    );
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_single_and_concatenated_reach_stream_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let control = sim.control();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(1000, "udh"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;
    assert!(control.inject_mo(smsbridge::sim::smsc::MoMessage {
        source_addr: "4917600000001".into(),
        destination_addr: "4930123".into(),
        data_coding: DataCoding::DEFAULT,
        esm_class: EsmClass::DEFAULT,
        short_message: b"STOP".to_vec(),
    }));
    let long = "a reply that is long enough to need three parts of forty octets each, ok";
    let parts = control.inject_mo_multipart("4917600000002", "4930123", long.as_bytes(), 7, 30);
    assert_eq!(parts, 3);
    let events = gw
        .events_until(vec![pb::EventKind::Mo], WAIT, |evs| evs.len() >= 2)
        .await;
    let mos: BTreeMap<String, (String, String)> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::Inbound(m)) => {
                Some((m.from.clone(), (m.to.clone(), m.text.clone())))
            }
            _ => None,
        })
        .collect();
    assert_eq!(mos.len(), 2, "{events:?}");
    let single = mos.values().find(|(_, t)| t == "STOP");
    assert!(single.is_some_and(|(to, _)| to == "4930123"), "{mos:?}");
    assert!(
        mos.values().any(|(_, t)| t == long),
        "the three parts come back as one text: {mos:?}"
    );
    // Every deliver_sm is answered OK (after its commit: the answer follows the events above).
    let c = sim.counters();
    let ok = || c.deliver_resp_ok.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + WAIT;
    while ok() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ok(), 4);
    assert_eq!(
        c.deliver_resp_error
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_fail_over_to_the_second_carrier_when_the_first_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let control = sim.control();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier_at("down", free_port(), &carrier(1000, "udh"))
        .carrier("backup", &carrier(1000, "udh"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let r = gw.submit(&format!("+49151000001{i:02}"), "failover").await;
        assert_eq!(
            r.carrier, "backup",
            "routed around the carrier that is down"
        );
        ids.push(r.message_id);
    }
    for id in &ids {
        let m = gw.wait_final(id).await;
        assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
        assert_eq!(m.carrier, "backup");
    }
    assert_eq!(control.recorded_submits().len(), 10);
    let status = gw
        .client
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    let state_of_link = |carrier: &str| {
        status
            .links
            .iter()
            .find(|l| l.carrier == carrier)
            .map(|l| l.state.clone())
    };
    assert_eq!(state_of_link("down").as_deref(), Some("DOWN"));
    assert_eq!(state_of_link("backup").as_deref(), Some("BOUND"));
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carrier_rate_limit_holds_at_the_smsc_and_metrics_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let control = sim.control();
    let metrics_port = free_port();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(50, "udh"))
        .smpp(&smpp(50))
        .metrics(metrics_port);
    let mut gw = start(&config.text()).await;
    let total = 150usize;
    let batch = pb::SubmitBatchRequest {
        messages: (0..total)
            .map(|i| harness::text_message(&format!("+4915200{i:06}"), "rate"))
            .collect(),
    };
    let results = gw
        .client
        .submit_batch(batch)
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(results.len(), total);
    let deadline = tokio::time::Instant::now() + WAIT;
    while control.recorded_submits().len() < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {total} submits reached the SMSC",
            control.recorded_submits().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subs = control.recorded_submits();
    assert_eq!(subs.len(), total, "each message once");
    // Burst 50, then 50/s: in any one-second window at most burst + rate = 100 submits, and the whole run
    // takes at least (150 - 50) / 50 = 2 seconds.
    let first = subs[0].at;
    let span = subs[total - 1].at - first;
    assert!(
        span >= Duration::from_millis(1900),
        "150 submits in {span:?}"
    );
    for (i, s) in subs.iter().enumerate() {
        let in_window = subs[i..]
            .iter()
            .take_while(|t| t.at - s.at < Duration::from_secs(1))
            .count();
        assert!(in_window <= 101, "{in_window} submits within one second");
    }

    // The metrics endpoint: per-carrier counters, link metrics in the same registry.
    let body = scrape(metrics_port).await;
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {body}"))
    };
    assert_eq!(
        value("smsbridge_segments_submitted_total{carrier=\"alpha\"}"),
        total as f64
    );
    assert_eq!(
        value("smsbridge_segments_accepted_total{carrier=\"alpha\"}"),
        total as f64
    );
    assert_eq!(
        value("smsbridge_smpp_submits_total{carrier=\"alpha\",link=\"smpp0\"}"),
        total as f64
    );
    assert!(body.contains("smsbridge_accept_latency_seconds_bucket{carrier=\"alpha\""));
    assert!(body.contains("smsbridge_queue_segments{carrier=\"alpha\",state=\"queued\"}"));
    assert!(body.contains("smsbridge_api_auth_failures_total 0"));
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_simulator_is_the_carrier_of_a_config_without_carriers() {
    // What `smsbridge serve` does with the default file, on free ports: no [[carriers]], the simulator
    // enabled; carrier `sim` and a default route with a default sender are implied.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        r#"
[api]
listen = "127.0.0.1:0"
[store.sqlite]
path = "{db}"
[metrics]
enabled = false
[simulator]
listen = "127.0.0.1:{port}"
receipt_delay_min = "10ms"
receipt_delay_max = "50ms"
outcomes = {{ DELIVRD = 1.0 }}
"#,
        db = dir.path().join("gw.db").display(),
        port = free_port()
    );
    let mut gw = start(&text).await;
    let r = gw.submit("+4915112345678", "hello").await;
    assert_eq!(r.carrier, "sim");
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    assert_eq!(m.from, "SMSBRIDGE");
    let status = gw
        .client
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.links.len(), 1);
    assert_eq!(status.links[0].carrier, "sim");
    assert_eq!(status.links[0].state, "BOUND");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_window_resends_the_unanswered_and_delivers_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let control = sim.control();
    // The SMSC reads the 20th submit_sm and drops the connection without answering.
    control.drop_connection_at_submit(20);
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier("alpha", &carrier(1000, "udh"))
        .smpp(&smpp(10));
    let mut gw = start(&config.text()).await;
    let total = 60usize;
    let batch = pb::SubmitBatchRequest {
        messages: (0..total)
            .map(|i| harness::text_message(&format!("+4915300{i:06}"), "survives"))
            .collect(),
    };
    let results = gw
        .client
        .submit_batch(batch)
        .await
        .expect("batch")
        .into_inner()
        .results;
    let ids: Vec<String> = results
        .into_iter()
        .filter_map(|r| match r.outcome {
            Some(pb::submit_batch_result::Outcome::Accepted(a)) => Some(a.message_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), total);
    let mut resends = 0u32;
    for id in &ids {
        let m = gw.wait_final(id).await;
        assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
        resends += m.segments.iter().map(|s| s.resends).sum::<u32>();
    }
    let c = sim.counters();
    assert_eq!(c.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    // The submits in flight when the connection dropped had no answer: sent again, and counted as resends.
    assert!(resends >= 1, "no resend counted");
    let sent = control.recorded_submits().len();
    assert!(
        sent > total && sent <= total + 10,
        "{sent} submits for {total} messages (window 10)"
    );
    let reconnected = gw
        .client
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(reconnected.links[0].state, "BOUND");
    assert_eq!(reconnected.links[0].detail, "session 2");
    gw.stop().await;
    sim.shutdown().await;
}

/// Accepts TLS connections (a self-signed certificate for "localhost") and pipes their plaintext to
/// `backend`; returns its port and the certificate in PEM.
async fn tls_front(backend: SocketAddr) -> (u16, String) {
    use std::sync::Arc;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok(Ok((tcp, _))) = tokio::time::timeout(WAIT, listener.accept()).await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) = tokio::time::timeout(WAIT, acceptor.accept(tcp)).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ =
                    tokio::time::timeout(WAIT, tokio::io::copy_bidirectional(&mut tls, &mut plain))
                        .await;
            });
        }
    });
    (port, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_link_from_the_config_delivers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator("DELIVRD", Duration::from_millis(10)).await;
    let (port, pem) = tls_front(sim.local_addr()).await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).expect("write ca");
    let text = SmppToml::new(dir.path(), port)
        .carrier("secure", &carrier(1000, "udh"))
        .smpp(&smpp(10))
        .text()
        .replace(
            "password = \"sim\"\n",
            &format!(
                "password = \"sim\"\ntls = {{ enabled = true, ca_file = \"{}\", server_name = \"localhost\" }}\n",
                ca.display()
            ),
        );
    assert!(text.contains("tls = {"));
    let mut gw = start(&text).await;
    let r = gw.submit("+4915400000001", "over tls").await;
    let m = gw.wait_final(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    assert_eq!(
        submits_to(&sim.control(), "4915400000001")[0].short_message,
        b"over tls"
    );
    gw.stop().await;
    sim.shutdown().await;
}
