//! The SMPP link against the SMSC simulator over real TCP on 127.0.0.1: normal traffic and every fault the
//! link must survive. Every wait is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use prometheus::Registry;
use smsbridge::link::smpp::{
    Backoff, BindMode, BindState, InboundHandler, InboundKind, InboundMessage, LinkError,
    LinkHandle, NotSentReason, SmppLink, SmppLinkConfig, SmppMetrics, SubmitOutcome, SubmitRequest,
    UnknownReason, Verdict, spawn,
};
use smsbridge::sim::smsc::{IdFormat, MoMessage, Smsc, SmscConfig};
use smsbridge_protocol::smpp::{CommandStatus, DataCoding, EsmClass, SubmitSm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

/// Collects inbound messages; holds each until a permit of `gate` is available (a slow store).
struct Collect {
    tx: mpsc::UnboundedSender<InboundMessage>,
    gate: Option<Arc<Semaphore>>,
    called: Arc<AtomicUsize>,
}

impl InboundHandler for Collect {
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        self.called.fetch_add(1, Ordering::SeqCst);
        let tx = self.tx.clone();
        let gate = self.gate.clone();
        Box::pin(async move {
            if let Some(g) = gate {
                match g.acquire().await {
                    Ok(p) => p.forget(),
                    Err(_) => return Verdict::RetryLater,
                }
            }
            let _ = tx.send(msg);
            Verdict::Committed
        })
    }
}

struct Harness {
    sim: Smsc,
    link: Option<SmppLink>,
    handle: LinkHandle,
    inbound: mpsc::UnboundedReceiver<InboundMessage>,
    called: Arc<AtomicUsize>,
    cancel: CancellationToken,
    registry: Registry,
}

fn link_config(port: u16) -> SmppLinkConfig {
    SmppLinkConfig {
        carrier: "simco".into(),
        link: "l1".into(),
        host: "127.0.0.1".into(),
        port,
        system_id: "esme".into(),
        password: "pw".into(),
        window: 10,
        response_timeout: Duration::from_secs(3),
        enquire_link_interval: Duration::from_secs(30),
        enquire_link_timeout: Duration::from_secs(5),
        bind_timeout: Duration::from_secs(2),
        unbind_timeout: Duration::from_secs(1),
        reconnect: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
        },
        throttle: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        ..SmppLinkConfig::default()
    }
}

fn sim_config() -> SmscConfig {
    SmscConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        accounts: vec![("esme".into(), "pw".into())],
        id_format: IdFormat::Decimal,
        ..SmscConfig::default()
    }
}

async fn start(
    sim_cfg: SmscConfig,
    tweak: impl FnOnce(&mut SmppLinkConfig),
    gate: Option<Arc<Semaphore>>,
) -> Harness {
    let sim = Smsc::start(sim_cfg).await.expect("sim starts");
    let mut cfg = link_config(sim.local_addr().port());
    tweak(&mut cfg);
    let (tx, inbound) = mpsc::unbounded_channel();
    let called = Arc::new(AtomicUsize::new(0));
    let registry = Registry::new();
    let metrics = SmppMetrics::register(&registry)
        .expect("metrics register")
        .link(&cfg.carrier, &cfg.link);
    let cancel = CancellationToken::new();
    let link = spawn(
        cfg,
        Arc::new(Collect {
            tx,
            gate,
            called: called.clone(),
        }),
        metrics,
        cancel.clone(),
    )
    .expect("link starts");
    let handle = link.handle();
    Harness {
        sim,
        link: Some(link),
        handle,
        inbound,
        called,
        cancel,
        registry,
    }
}

fn sms(i: usize, receipt: bool) -> SubmitRequest {
    SubmitRequest::SubmitSm(SubmitSm {
        source_addr: b"15550001".to_vec().into(),
        destination_addr: format!("49151{i:07}").into_bytes().into(),
        registered_delivery: u8::from(receipt),
        short_message: format!("message {i}").into_bytes().into(),
        ..SubmitSm::default()
    })
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    cond()
}

fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::SeqCst)
}

/// Sum of a metric's samples, read from the text exposition (independent of prometheus' model features).
fn metric(registry: &Registry, name: &str) -> f64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b'{' | b' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn down_error(handle: &LinkHandle) -> Arc<LinkError> {
    let mut state = handle.state();
    let got = timeout(
        LIMIT,
        state.wait_for(|s| matches!(s, BindState::Down { .. })),
    )
    .await
    .expect("the link reports the failure in time")
    .expect("state channel open")
    .clone();
    match got {
        BindState::Down { error } => error,
        other => panic!("expected Down, got {other:?}"),
    }
}

async fn shutdown(mut h: Harness) {
    h.cancel.cancel();
    if let Some(link) = h.link.take() {
        timeout(LIMIT, link.join()).await.expect("link ends");
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn submits_are_accepted_and_receipts_reach_the_handler() {
    let mut h = start(sim_config(), |_| {}, None).await;
    assert!(h.handle.wait_bound(LIMIT).await, "binds");
    let outcomes = timeout(
        LIMIT,
        join_all((0..50).map(|i| h.handle.submit(sms(i, true)))),
    )
    .await
    .expect("all answered");
    let mut ids = Vec::new();
    for o in &outcomes {
        match o {
            SubmitOutcome::Accepted { message_id } => ids.push(message_id.clone()),
            other => panic!("expected Accepted, got {other:?}"),
        }
    }
    let mut receipts = Vec::new();
    while receipts.len() < 50 {
        let m = timeout(LIMIT, h.inbound.recv())
            .await
            .expect("receipt in time")
            .expect("open");
        receipts.push(m);
    }
    for r in &receipts {
        assert_eq!(r.kind, InboundKind::Receipt);
        let info = r.receipt.as_ref().expect("receipt info");
        assert!(ids.contains(info.message_id.as_ref().expect("id")));
        assert_eq!(info.state, Some("delivered"));
        assert!(info.is_final);
        assert_eq!(&*r.carrier, "simco");
    }
    let c = h.sim.counters();
    assert!(eventually(LIMIT, || load(&c.deliver_resp_ok) == 50).await);
    assert_eq!(load(&c.accepted), 50);
    assert_eq!(metric(&h.registry, "smsbridge_smpp_submits_total"), 50.0);
    assert_eq!(metric(&h.registry, "smsbridge_smpp_receipts_total"), 50.0);
    assert_eq!(metric(&h.registry, "smsbridge_smpp_responses_total"), 50.0);
    assert_eq!(
        metric(&h.registry, "smsbridge_smpp_response_seconds_count"),
        50.0
    );
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&h.registry.gather())
        .unwrap_or_default();
    assert!(
        text.contains(r#"smsbridge_smpp_window_in_flight{carrier="simco",link="l1"}"#),
        "{text}"
    );
    shutdown(h).await;
}

#[tokio::test]
async fn response_timeout_hands_the_request_back_as_unknown() {
    let h = start(
        sim_config(),
        |c| c.response_timeout = Duration::from_millis(300),
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    h.sim.control().ignore_next_submits(1);
    let started = Instant::now();
    let first = timeout(LIMIT, h.handle.submit(sms(1, false)))
        .await
        .expect("answered");
    assert_eq!(
        first,
        SubmitOutcome::Unknown {
            reason: UnknownReason::Timeout
        }
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let second = timeout(LIMIT, h.handle.submit(sms(2, false)))
        .await
        .expect("answered");
    assert!(
        matches!(second, SubmitOutcome::Accepted { .. }),
        "{second:?}"
    );
    let c = h.sim.counters();
    assert_eq!(load(&c.unanswered), 1);
    assert_eq!(load(&c.binds), 1, "a timeout does not cost the bind");
    assert_eq!(
        metric(&h.registry, "smsbridge_smpp_response_timeouts_total"),
        1.0
    );
    shutdown(h).await;
}

async fn throttled_run(window: usize, count: usize) {
    let mut sim = sim_config();
    sim.throttle_per_sec = 40;
    let h = start(sim, |c| c.window = window, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let outcomes = timeout(
        Duration::from_secs(30),
        join_all((0..count).map(|i| h.handle.submit(sms(i, false)))),
    )
    .await
    .expect("all answered");
    let ids: Vec<u64> = outcomes
        .iter()
        .map(|o| match o {
            SubmitOutcome::Accepted { message_id } => message_id.parse().expect("decimal id"),
            other => panic!("throttled message failed instead of retried: {other:?}"),
        })
        .collect();
    let c = h.sim.counters();
    assert!(load(&c.throttled) > 0, "the simulator throttled");
    assert_eq!(
        load(&c.accepted),
        count as u64,
        "each message accepted once"
    );
    assert!(metric(&h.registry, "smsbridge_smpp_throttles_total") > 0.0);
    if window == 1 {
        // Decimal ids are handed out in acceptance order: acceptance order is submission order.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "order kept: {ids:?}");
    }
    shutdown(h).await;
}

#[tokio::test]
async fn throttling_pauses_the_link_keeps_order_and_fails_nothing() {
    throttled_run(1, 100).await;
}

#[tokio::test]
async fn throttling_with_a_wide_window_fails_nothing() {
    throttled_run(16, 120).await;
}

#[tokio::test]
async fn disconnect_mid_window_returns_every_in_flight_request_as_unknown() {
    let h = start(sim_config(), |c| c.window = 10, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    h.sim.control().drop_connection_at_submit(15);
    let outcomes = timeout(
        LIMIT,
        join_all((0..40).map(|i| h.handle.submit(sms(i, false)))),
    )
    .await
    .expect("no request vanishes");
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, SubmitOutcome::Accepted { .. }))
        .count();
    let unknown = outcomes
        .iter()
        .filter(|o| {
            **o == SubmitOutcome::Unknown {
                reason: UnknownReason::Disconnected,
            }
        })
        .count();
    assert_eq!(accepted + unknown, 40, "{outcomes:?}");
    assert!(unknown >= 1, "the dropped window came back unknown");
    assert!(unknown <= 10, "at most a window was in flight");
    let c = h.sim.counters();
    assert!(load(&c.binds) >= 2, "the link reconnected");
    assert!(metric(&h.registry, "smsbridge_smpp_reconnects_total") >= 1.0);
    shutdown(h).await;
}

#[tokio::test]
async fn garbage_from_the_peer_gets_generic_nack_and_the_link_lives() {
    let h = start(sim_config(), |_| {}, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let ctl = h.sim.control();
    let c = h.sim.counters();
    // A sound frame with an unknown command_id.
    assert_eq!(
        ctl.send_raw(&[0, 0, 0, 16, 0, 0, 0x07, 0x77, 0, 0, 0, 0, 0, 0, 0, 77]),
        1
    );
    assert!(eventually(LIMIT, || load(&c.generic_nacks) == 1).await);
    assert_eq!(
        CommandStatus(c.last_generic_nack_status.load(Ordering::SeqCst)),
        CommandStatus::ESME_RINVCMDID
    );
    // A deliver_sm whose body is cut short inside a sound frame.
    ctl.send_raw(&[0, 0, 0, 18, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 78, b'x', b'y']);
    assert!(
        eventually(LIMIT, || load(&c.generic_nacks)
            + load(&c.deliver_resp_error)
            == 2)
        .await
    );
    let o = timeout(LIMIT, h.handle.submit(sms(1, false)))
        .await
        .expect("answered");
    assert!(matches!(o, SubmitOutcome::Accepted { .. }), "{o:?}");
    assert_eq!(load(&c.binds), 1, "no reconnect");
    assert_eq!(
        metric(&h.registry, "smsbridge_smpp_malformed_pdus_total"),
        2.0
    );
    shutdown(h).await;
}

#[tokio::test]
async fn http_on_the_port_is_named_as_such() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        for _ in 0..3 {
            let Ok(Ok((mut s, _))) = timeout(LIMIT, listener.accept()).await else {
                return;
            };
            let mut buf = [0u8; 256];
            let _ = timeout(Duration::from_secs(2), s.read(&mut buf)).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let (tx, _rx) = mpsc::unbounded_channel();
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let link = spawn(
        link_config(port),
        Arc::new(Collect {
            tx,
            gate: None,
            called: Arc::default(),
        }),
        SmppMetrics::register(&registry)
            .expect("metrics")
            .link("c", "l"),
        cancel.clone(),
    )
    .expect("spawn");
    let err = down_error(&link.handle()).await;
    match &*err {
        LinkError::NotSmpp { protocol, preview } => {
            assert_eq!(*protocol, "HTTP");
            assert!(preview.starts_with("HTTP/1.1 400"), "{preview}");
        }
        other => panic!("expected NotSmpp, got {other:?}"),
    }
    assert!(err.to_string().contains("not speaking SMPP"), "{err}");
    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("ends");
    server.abort();
}

#[tokio::test]
async fn refused_binds_report_the_status_by_name() {
    for (password, refuse, expected) in [
        ("wrong", None, CommandStatus::ESME_RINVPASWD),
        (
            "pw",
            Some(CommandStatus::ESME_RBINDFAIL),
            CommandStatus::ESME_RBINDFAIL,
        ),
    ] {
        let sim = Smsc::start(sim_config()).await.expect("sim");
        sim.control().refuse_binds(refuse);
        let mut cfg = link_config(sim.local_addr().port());
        cfg.password = password.into();
        let (tx, _rx) = mpsc::unbounded_channel();
        let registry = Registry::new();
        let cancel = CancellationToken::new();
        let link = spawn(
            cfg,
            Arc::new(Collect {
                tx,
                gate: None,
                called: Arc::default(),
            }),
            SmppMetrics::register(&registry)
                .expect("metrics")
                .link("c", "l"),
            cancel.clone(),
        )
        .expect("spawn");
        let err = down_error(&link.handle()).await;
        assert_eq!(err.bind_status(), Some(expected), "{err}");
        assert!(err.to_string().contains(expected.name()), "{err}");
        assert!(load(&sim.counters().binds_refused) >= 1);
        assert_eq!(load(&sim.counters().binds), 0);
        cancel.cancel();
        timeout(LIMIT, link.join()).await.expect("ends");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn unanswered_enquire_link_declares_the_peer_dead_and_reconnects() {
    let h = start(
        sim_config(),
        |c| {
            c.enquire_link_interval = Duration::from_millis(150);
            c.enquire_link_timeout = Duration::from_millis(200);
        },
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let c = h.sim.counters();
    // Answered enquire_links keep one session.
    assert!(eventually(LIMIT, || load(&c.enquire_links) >= 2).await);
    assert_eq!(load(&c.binds), 1);
    h.sim.control().set_answer_enquire_link(false);
    assert!(
        eventually(LIMIT, || load(&c.binds) >= 2).await,
        "reconnected"
    );
    h.sim.control().set_answer_enquire_link(true);
    assert!(h.handle.wait_bound(LIMIT).await);
    let o = timeout(LIMIT, h.handle.submit(sms(1, false)))
        .await
        .expect("answered");
    assert!(matches!(o, SubmitOutcome::Accepted { .. }), "{o:?}");
    assert!(metric(&h.registry, "smsbridge_smpp_reconnects_total") >= 1.0);
    shutdown(h).await;
}

#[tokio::test]
async fn a_silent_peer_is_declared_dead_and_the_link_rebinds_when_it_wakes() {
    let h = start(
        sim_config(),
        |c| {
            c.enquire_link_interval = Duration::from_millis(150);
            c.enquire_link_timeout = Duration::from_millis(200);
            c.bind_timeout = Duration::from_millis(300);
        },
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let ctl = h.sim.control();
    ctl.set_silent(true);
    let err = down_error(&h.handle).await;
    assert!(
        matches!(&*err, LinkError::PeerSilent(_)),
        "expected PeerSilent, got {err}"
    );
    ctl.set_silent(false);
    assert!(h.handle.wait_bound(LIMIT).await, "rebound");
    assert!(load(&h.sim.counters().binds) >= 2);
    shutdown(h).await;
}

#[tokio::test]
async fn receipt_arriving_before_the_submit_resp_is_delivered_and_correlates() {
    let mut sim = sim_config();
    sim.receipts_before_resp = true;
    let mut h = start(sim, |_| {}, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    for i in 0..5 {
        let o = timeout(LIMIT, h.handle.submit(sms(i, true)))
            .await
            .expect("answered");
        let SubmitOutcome::Accepted { message_id } = o else {
            panic!("expected Accepted, got {o:?}");
        };
        // The receipt came first on the wire, so the handler has it already or is about to.
        let r = timeout(LIMIT, h.inbound.recv())
            .await
            .expect("receipt")
            .expect("open");
        let info = r.receipt.expect("receipt info");
        assert_eq!(info.message_id.as_deref(), Some(message_id.as_str()));
        assert_eq!(info.message_state, Some(2));
    }
    assert!(eventually(LIMIT, || load(&h.sim.counters().deliver_resp_ok) == 5).await);
    shutdown(h).await;
}

#[tokio::test]
async fn slow_handler_stops_the_link_reading_instead_of_buffering() {
    let gate = Arc::new(Semaphore::new(0));
    let mut h = start(
        sim_config(),
        |c| c.max_inbound_pending = 4,
        Some(gate.clone()),
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let ctl = h.sim.control();
    for i in 0..300 {
        assert!(ctl.inject_mo(MoMessage {
            source_addr: format!("4917{i:06}"),
            destination_addr: "12345".into(),
            data_coding: DataCoding::DEFAULT,
            esm_class: EsmClass::DEFAULT,
            short_message: format!("mo {i}").into_bytes(),
        }));
    }
    let c = h.sim.counters();
    assert!(eventually(LIMIT, || load(&c.mo_sent) == 300).await);
    sleep(Duration::from_millis(300)).await;
    // The handler holds 4; the link reads no further, so nothing else is decoded or answered.
    assert_eq!(h.called.load(Ordering::SeqCst), 4);
    assert_eq!(load(&c.deliver_resp_ok), 0, "no answer before the commit");
    gate.add_permits(300);
    let mut got = 0;
    while got < 300 {
        let m = timeout(LIMIT, h.inbound.recv())
            .await
            .expect("MO in time")
            .expect("open");
        assert_eq!(m.kind, InboundKind::Mo);
        got += 1;
    }
    assert!(eventually(LIMIT, || load(&c.deliver_resp_ok) == 300).await);
    assert_eq!(metric(&h.registry, "smsbridge_smpp_mo_total"), 300.0);
    shutdown(h).await;
}

#[tokio::test]
async fn graceful_shutdown_drains_the_window_and_unbinds() {
    let h = start(sim_config(), |c| c.window = 10, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    h.sim
        .control()
        .set_response_delay(Duration::from_millis(300));
    let handle = h.handle.clone();
    let pending =
        tokio::spawn(async move { join_all((0..5).map(|i| handle.submit(sms(i, false)))).await });
    let c = h.sim.counters();
    assert!(eventually(LIMIT, || load(&c.submits) == 5).await);
    h.cancel.cancel();
    let outcomes = timeout(LIMIT, pending)
        .await
        .expect("drained in time")
        .expect("task");
    for o in &outcomes {
        assert!(
            matches!(o, SubmitOutcome::Accepted { .. }),
            "in-flight work is drained, not dropped: {o:?}"
        );
    }
    let Harness {
        sim, link, handle, ..
    } = h;
    timeout(LIMIT, link.expect("link").join())
        .await
        .expect("link ends");
    assert!(eventually(LIMIT, || load(&c.unbinds) == 1).await, "unbound");
    assert!(matches!(*handle.state().borrow(), BindState::Closed));
    assert_eq!(
        handle.submit(sms(9, false)).await,
        SubmitOutcome::NotSent {
            reason: NotSentReason::LinkClosed
        }
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn transmitter_receiver_pair_submits_on_one_and_receives_on_the_other() {
    let mut h = start(
        sim_config(),
        |c| c.bind_mode = BindMode::TransmitterReceiver,
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    assert_eq!(h.handle.states().len(), 2);
    let c = h.sim.counters();
    assert_eq!(load(&c.binds), 2);
    let o = timeout(LIMIT, h.handle.submit(sms(1, true)))
        .await
        .expect("answered");
    let SubmitOutcome::Accepted { message_id } = o else {
        panic!("{o:?}");
    };
    let r = timeout(LIMIT, h.inbound.recv())
        .await
        .expect("receipt")
        .expect("open");
    assert_eq!(
        r.receipt.and_then(|i| i.message_id).as_deref(),
        Some(message_id.as_str())
    );
    shutdown(h).await;
}

#[tokio::test]
async fn already_bound_after_a_quick_reconnect_means_wait_and_retry() {
    let sim = Smsc::start(sim_config()).await.expect("sim");
    // The SMSC still holds the previous session for a moment.
    sim.control()
        .refuse_binds(Some(CommandStatus::ESME_RALYBND));
    let (tx, _rx) = mpsc::unbounded_channel();
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let link = spawn(
        link_config(sim.local_addr().port()),
        Arc::new(Collect {
            tx,
            gate: None,
            called: Arc::default(),
        }),
        SmppMetrics::register(&registry)
            .expect("metrics")
            .link("c", "l"),
        cancel.clone(),
    )
    .expect("spawn");
    let handle = link.handle();
    let err = down_error(&handle).await;
    assert_eq!(
        err.bind_status(),
        Some(CommandStatus::ESME_RALYBND),
        "{err}"
    );
    assert!(err.to_string().contains("ESME_RALYBND"));
    sim.control().refuse_binds(None);
    assert!(handle.wait_bound(LIMIT).await, "bound after waiting");
    let o = timeout(LIMIT, handle.submit(sms(1, false)))
        .await
        .expect("answered");
    assert!(matches!(o, SubmitOutcome::Accepted { .. }), "{o:?}");
    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("ends");
    sim.shutdown().await;
}

#[tokio::test]
async fn permanent_and_transient_statuses_are_classified() {
    // The simulator refuses a destination_addr over 21 octets (SMPP 3.4 §4.4.1) with ESME_RINVDSTADR in the
    // submit_sm_resp, a permanent status: the link hands the message back as Rejected.
    let h = start(sim_config(), |_| {}, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let bad = SubmitRequest::SubmitSm(SubmitSm {
        destination_addr: vec![b'9'; 30].into(),
        short_message: b"x".to_vec().into(),
        ..SubmitSm::default()
    });
    let o = timeout(LIMIT, h.handle.submit(bad))
        .await
        .expect("answered");
    match o {
        SubmitOutcome::Rejected { status } => {
            assert_eq!(status, CommandStatus::ESME_RINVDSTADR);
            assert_eq!(
                status.class(),
                smsbridge_protocol::smpp::StatusClass::Permanent
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // A transient status comes back as Transient (the dispatcher requeues with backoff), not retried here.
    h.sim
        .control()
        .fail_next_submits(1, CommandStatus::ESME_RSYSERR);
    let o = timeout(LIMIT, h.handle.submit(sms(1, false)))
        .await
        .expect("answered");
    assert_eq!(
        o,
        SubmitOutcome::Transient {
            status: CommandStatus::ESME_RSYSERR
        }
    );
    // The link is still fine.
    let o = timeout(LIMIT, h.handle.submit(sms(2, false)))
        .await
        .expect("answered");
    assert!(matches!(o, SubmitOutcome::Accepted { .. }), "{o:?}");
    shutdown(h).await;
}

#[tokio::test]
async fn responses_are_matched_by_sequence_number_across_reordering_and_the_wrap() {
    // Start 8 below the top so the window crosses 0x7FFFFFFF -> 1; the simulator answers in random order.
    let h = start(
        sim_config(),
        |c| {
            c.window = 32;
            c.first_sequence_number = 0x7FFF_FFF8;
        },
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    h.sim
        .control()
        .set_response_jitter(Duration::from_millis(50));
    let outcomes = timeout(
        LIMIT,
        join_all((0..32).map(|i| h.handle.submit(sms(i, false)))),
    )
    .await
    .expect("all answered");
    // The simulator numbers messages in arrival order (decimal ids), which is submission order here, and
    // answers in a shuffled order: each request must still get its own id.
    let ids: Vec<u64> = outcomes
        .iter()
        .map(|o| match o {
            SubmitOutcome::Accepted { message_id } => message_id.parse().expect("decimal"),
            other => panic!("{other:?}"),
        })
        .collect();
    let first = ids[0];
    assert_eq!(ids, (first..first + 32).collect::<Vec<_>>());
    shutdown(h).await;
}

#[tokio::test]
async fn smsc_requests_are_answered_and_data_sm_flows_both_ways() {
    use smsbridge_protocol::smpp::{Body, DataSm, Pdu, Tlvs, tag};
    let mut h = start(sim_config(), |_| {}, None).await;
    assert!(h.handle.wait_bound(LIMIT).await);
    let ctl = h.sim.control();
    let c = h.sim.counters();
    // The SMSC's enquire_link is answered.
    ctl.send_raw(&Pdu::new(900, Body::EnquireLink).to_vec());
    assert!(eventually(LIMIT, || load(&c.enquire_link_resps) == 1).await);
    // An MO as data_sm reaches the handler and is answered with data_sm_resp after the commit.
    let mo = Pdu::new(
        901,
        Body::DataSm(DataSm {
            source_addr: b"4917000".to_vec().into(),
            destination_addr: b"12345".to_vec().into(),
            tlvs: Tlvs::from_pairs([(tag::MESSAGE_PAYLOAD, &b"via data_sm"[..])]).expect("tlv"),
            ..DataSm::default()
        }),
    );
    ctl.send_raw(&mo.to_vec());
    let m = timeout(LIMIT, h.inbound.recv())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(m.kind, InboundKind::Mo);
    match &m.pdu {
        smsbridge::link::smpp::InboundPdu::DataSm(d) => {
            assert_eq!(d.tlvs.message_payload(), Some(&b"via data_sm"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(eventually(LIMIT, || load(&c.deliver_resp_ok) == 1).await);
    // A concatenated MO arrives as its segments, UDH intact, for the reassembler.
    assert_eq!(
        ctl.inject_mo_multipart("4917000", "12345", &[b'z'; 200], 7, 153),
        2
    );
    for part in 1..=2u8 {
        let m = timeout(LIMIT, h.inbound.recv())
            .await
            .expect("in time")
            .expect("open");
        match &m.pdu {
            smsbridge::link::smpp::InboundPdu::DeliverSm(d) => {
                assert!(d.esm_class.udhi());
                assert_eq!(&d.short_message[..6], &[5, 0, 3, 7, 2, part]);
            }
            other => panic!("{other:?}"),
        }
    }
    // submit as data_sm.
    let o = timeout(
        LIMIT,
        h.handle.submit(SubmitRequest::DataSm(DataSm {
            destination_addr: b"4915100000002".to_vec().into(),
            tlvs: Tlvs::from_pairs([(tag::MESSAGE_PAYLOAD, &b"hello"[..])]).expect("tlv"),
            ..DataSm::default()
        })),
    )
    .await
    .expect("answered");
    assert!(matches!(o, SubmitOutcome::Accepted { .. }), "{o:?}");
    assert!(eventually(LIMIT, || load(&c.deliver_resp_ok) == 3).await);
    shutdown(h).await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_stuck_handler_and_never_acks_uncommitted() {
    let gate = Arc::new(Semaphore::new(0));
    let h = start(
        sim_config(),
        |c| c.response_timeout = Duration::from_millis(400),
        Some(gate.clone()),
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await);
    assert!(h.sim.control().inject_mo(MoMessage {
        source_addr: "4917000".into(),
        destination_addr: "12345".into(),
        data_coding: DataCoding::DEFAULT,
        esm_class: EsmClass::DEFAULT,
        short_message: b"never committed".to_vec(),
    }));
    assert!(eventually(LIMIT, || h.called.load(Ordering::SeqCst) == 1).await);
    let started = Instant::now();
    h.cancel.cancel();
    let Harness { sim, link, .. } = h;
    timeout(Duration::from_secs(5), link.expect("link").join())
        .await
        .expect("shutdown is bounded");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "it waited for the drain"
    );
    let c = sim.counters();
    assert!(eventually(LIMIT, || load(&c.unbinds) == 1).await, "unbound");
    assert_eq!(
        load(&c.deliver_resp_ok),
        0,
        "an uncommitted MO is never acknowledged"
    );
    sim.shutdown().await;
}

/// cancel_sm through the link's window: ESME_ROK for a message whose receipt is still waiting (and the
/// receipt never comes), ESME_RCANCELFAIL for one already cancelled or unknown, no answer in time as a
/// transient outcome, and nothing sent after shutdown. Cancels are not counted as submits.
#[tokio::test]
async fn cancel_sm_outcomes() {
    use smsbridge::link::smpp::{CancelRequest, CancelSmOutcome, CancelTransient};
    use smsbridge_protocol::smpp::{CancelSm, Ton};

    let delay = Duration::from_millis(1500);
    let mut cfg = sim_config();
    cfg.receipt_delay = (delay, delay);
    let mut h = start(
        cfg,
        |c| c.response_timeout = Duration::from_millis(400),
        None,
    )
    .await;
    assert!(h.handle.wait_bound(LIMIT).await, "binds");
    let submitted_at = Instant::now();
    let id = match timeout(LIMIT, h.handle.submit(sms(1, true))).await {
        Ok(SubmitOutcome::Accepted { message_id }) => message_id,
        other => panic!("expected Accepted, got {other:?}"),
    };
    let cancel_of = |message_id: &str| {
        CancelRequest(CancelSm {
            message_id: message_id.as_bytes().to_vec().into(),
            source_addr_ton: Ton::UNKNOWN,
            source_addr: b"15550001".to_vec().into(),
            ..CancelSm::default()
        })
    };
    let first = timeout(LIMIT, h.handle.cancel(cancel_of(&id)))
        .await
        .expect("answered in time");
    assert_eq!(first, CancelSmOutcome::Cancelled);
    let again = timeout(LIMIT, h.handle.cancel(cancel_of(&id)))
        .await
        .expect("answered in time");
    assert_eq!(
        again,
        CancelSmOutcome::Rejected {
            status: CommandStatus::ESME_RCANCELFAIL
        }
    );
    let unknown = timeout(LIMIT, h.handle.cancel(cancel_of("987654321")))
        .await
        .expect("answered in time");
    assert_eq!(
        unknown,
        CancelSmOutcome::Rejected {
            status: CommandStatus::ESME_RCANCELFAIL
        }
    );

    // An SMSC slower than the response timeout: neither yes nor no.
    h.sim.control().set_response_delay(Duration::from_secs(1));
    let slow = timeout(LIMIT, h.handle.cancel(cancel_of(&id)))
        .await
        .expect("answered in time");
    assert_eq!(
        slow,
        CancelSmOutcome::Transient {
            reason: CancelTransient::Unknown(UnknownReason::Timeout)
        }
    );
    h.sim.control().set_response_delay(Duration::ZERO);

    // The cancelled message's receipt never comes.
    tokio::time::sleep_until(submitted_at + delay + Duration::from_millis(500)).await;
    assert!(h.inbound.try_recv().is_err(), "no receipt after the cancel");
    let counters = h.sim.counters();
    assert_eq!(load(&counters.receipts_sent), 0);
    assert_eq!(load(&counters.cancels), 4);
    assert_eq!(load(&counters.cancelled), 1);
    assert_eq!(metric(&h.registry, "smsbridge_smpp_submits_total"), 1.0);

    // After shutdown nothing is written.
    h.cancel.cancel();
    if let Some(link) = h.link.take() {
        timeout(LIMIT, link.join()).await.expect("link ends");
    }
    let after = timeout(LIMIT, h.handle.cancel(cancel_of(&id)))
        .await
        .expect("answered in time");
    assert!(
        matches!(
            after,
            CancelSmOutcome::Transient {
                reason: CancelTransient::NotSent(
                    NotSentReason::LinkClosed | NotSentReason::Shutdown
                )
            }
        ),
        "{after:?}"
    );
    shutdown(h).await;
}
