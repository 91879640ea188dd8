//! Cancel of a message the carrier already accepted, end to end: gRPC Cancel -> the carrier cancel task ->
//! cancel_sm over a real SMPP link (TCP, loopback) -> the SMSC simulator -> cancel_sm_resp -> the store ->
//! CANCELLED on StreamEvents and GetMessage. The simulator holds receipts for a few seconds, so a message
//! sits SUBMITTED long enough to be cancelled. Every wait is bounded.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::sim::smsc::{IdFormat, Smsc, SmscConfig};
use smsbridge_protocol::smpp::CommandStatus;
use tokio::time::Instant;

mod harness;
use harness::{Running, SmppToml, WAIT, eventually, free_port, metric, state_of};

async fn start(text: &str) -> Running {
    harness::start(text, "e2e-cancel.toml").await
}

/// Where every message of these tests goes.
const TO: &str = "+4915112345678";

impl Running {
    /// Waits for the message-level SUBMITTED event of `id`.
    async fn wait_submitted(&mut self, id: &str) {
        let events = self
            .events_until(Vec::new(), WAIT, |evs| {
                reached(evs, id, pb::MessageState::Submitted)
            })
            .await;
        assert!(
            reached(&events, id, pb::MessageState::Submitted),
            "no SUBMITTED event for {id}: {events:?}"
        );
    }
}

/// How long the simulator holds a receipt: the window in which a submitted message can be cancelled.
const RECEIPT_DELAY: Duration = Duration::from_secs(3);

async fn simulator(delay: Duration) -> Smsc {
    simulator_issuing(IdFormat::Hex, delay).await
}

/// [`simulator`] handing out message ids in `id_format`.
async fn simulator_issuing(id_format: IdFormat, delay: Duration) -> Smsc {
    let sim = Smsc::start(SmscConfig {
        id_format,
        ..harness::smsc_config((delay, delay))
    })
    .await
    .expect("the simulator starts");
    sim.control().record_submits(true);
    sim
}

/// One carrier `sim` on the simulator at `port`; `supports_cancel` as given (`None`: the key left out).
fn config(dir: &Path, port: u16, supports_cancel: Option<bool>) -> SmppToml {
    let cancel_key = supports_cancel
        .map(|b| format!("\nsupports_cancel = {b}"))
        .unwrap_or_default();
    SmppToml::new(dir, port)
        .carrier(
            "sim",
            &format!("rate_limit = {{ per_second = 1000 }}{cancel_key}"),
        )
        .smpp(concat!(
            "window = 10\n",
            r#"reconnect = { initial_backoff = "200ms", max_backoff = "1s" }"#,
        ))
}

/// The state changes of one message (segment-level ones included) in an event list.
fn changes<'a>(events: &'a [pb::Event], id: &'a str) -> impl Iterator<Item = &'a pb::StateChange> {
    events.iter().filter_map(move |e| match &e.payload {
        Some(pb::event::Payload::StateChange(sc)) if sc.message_id == id => Some(sc),
        _ => None,
    })
}

/// A message-level change of `id` to `state`.
fn reached(events: &[pb::Event], id: &str, state: pb::MessageState) -> bool {
    changes(events, id).any(|sc| sc.segment.is_none() && sc.new_state == state as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_submit_sends_cancel_sm_and_no_receipt_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator(RECEIPT_DELAY).await;
    let control = sim.control();
    // supports_cancel left out: SMPP carriers take cancel_sm by default.
    let mut gw = start(&config(dir.path(), sim.local_addr().port(), None).text()).await;
    let submitted_at = Instant::now();
    let r = gw.submit(TO, "cancel me").await;
    gw.wait_submitted(&r.message_id).await;

    let answer = gw.cancel(&r.message_id).await;
    assert_eq!(
        answer.outcome,
        pb::CancelOutcome::AlreadySubmitted as i32,
        "{answer:?}"
    );
    assert!(answer.carrier_cancel_requested, "{answer:?}");
    assert_eq!(answer.cancelled_segments, 0, "{answer:?}");

    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &r.message_id, pb::MessageState::Cancelled)
        })
        .await;
    assert!(
        reached(&events, &r.message_id, pb::MessageState::Cancelled),
        "no CANCELLED event: {events:?}"
    );
    let m = gw.get(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Cancelled, "{m:?}");
    assert_eq!(
        m.segments[0].state,
        pb::MessageState::Cancelled as i32,
        "{m:?}"
    );

    // On the wire: one cancel_sm naming the carrier's id, with the submit's source address.
    let cancels = control.recorded_cancels();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    let submits = control.recorded_submits();
    assert_eq!(submits.len(), 1);
    assert_eq!(
        Some(String::from_utf8_lossy(&cancels[0].message_id).into_owned()),
        m.segments[0].carrier_message_id,
    );
    assert_eq!(cancels[0].source_addr, submits[0].source_addr);
    assert_eq!(cancels[0].source_addr_ton, submits[0].source_addr_ton);
    assert_eq!(cancels[0].source_addr, b"SMSBRIDGE");
    assert_eq!(cancels[0].destination_addr, submits[0].destination_addr);
    assert_eq!(cancels[0].status, CommandStatus::ESME_ROK);

    // Past the receipt delay: no receipt was sent and nothing moved the message.
    let past = submitted_at + RECEIPT_DELAY + Duration::from_secs(1);
    tokio::time::sleep_until(past).await;
    let counters = sim.counters();
    assert_eq!(counters.receipts_sent.load(Ordering::SeqCst), 0);
    assert_eq!(counters.cancels.load(Ordering::SeqCst), 1);
    assert_eq!(counters.cancelled.load(Ordering::SeqCst), 1);
    let m = gw.get(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Cancelled, "{m:?}");
    let events = gw
        .events_until(Vec::new(), Duration::from_millis(500), |_| false)
        .await;
    assert!(
        !reached(&events, &r.message_id, pb::MessageState::Delivered),
        "{events:?}"
    );
    // A second Cancel finds the message final.
    let again = gw.cancel(&r.message_id).await;
    assert_eq!(again.outcome, pb::CancelOutcome::AlreadyFinal as i32);
    assert_eq!(again.state, pb::MessageState::Cancelled as i32);
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_multipart_message_cancels_every_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator(RECEIPT_DELAY).await;
    let control = sim.control();
    let mut gw = start(&config(dir.path(), sim.local_addr().port(), Some(true)).text()).await;
    let text = "0123456789".repeat(40); // 400 GSM 7-bit characters: 3 segments
    let r = gw.submit(TO, &text).await;
    assert_eq!(r.segments, 3);
    gw.wait_submitted(&r.message_id).await;

    let answer = gw.cancel(&r.message_id).await;
    assert_eq!(answer.outcome, pb::CancelOutcome::AlreadySubmitted as i32);
    assert!(answer.carrier_cancel_requested, "{answer:?}");

    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &r.message_id, pb::MessageState::Cancelled)
        })
        .await;
    assert!(
        reached(&events, &r.message_id, pb::MessageState::Cancelled),
        "{events:?}"
    );
    let mut cancelled_segments: Vec<u32> = changes(&events, &r.message_id)
        .filter(|sc| sc.new_state == pb::MessageState::Cancelled as i32)
        .filter_map(|sc| sc.segment)
        .collect();
    cancelled_segments.sort_unstable();
    assert_eq!(cancelled_segments, [0, 1, 2], "{events:?}");
    let m = gw.get(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Cancelled);
    assert!(
        m.segments
            .iter()
            .all(|s| s.state == pb::MessageState::Cancelled as i32),
        "{m:?}"
    );
    let mut ids: Vec<String> = control
        .recorded_cancels()
        .iter()
        .map(|c| String::from_utf8_lossy(&c.message_id).into_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = m.carrier_message_ids.clone();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(sim.counters().cancelled.load(Ordering::SeqCst), 3);
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_delivery_is_already_final() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator(Duration::from_millis(20)).await;
    let mut gw = start(&config(dir.path(), sim.local_addr().port(), None).text()).await;
    let r = gw.submit(TO, "too late").await;
    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &r.message_id, pb::MessageState::Delivered)
        })
        .await;
    assert!(
        reached(&events, &r.message_id, pb::MessageState::Delivered),
        "{events:?}"
    );
    let answer = gw.cancel(&r.message_id).await;
    assert_eq!(answer.outcome, pb::CancelOutcome::AlreadyFinal as i32);
    assert_eq!(answer.state, pb::MessageState::Delivered as i32);
    assert!(!answer.carrier_cancel_requested);
    assert_eq!(sim.counters().cancels.load(Ordering::SeqCst), 0);
    let m = gw.get(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered);
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_without_cancel_support_is_not_asked_and_delivers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator(Duration::from_secs(1)).await;
    let mut gw = start(&config(dir.path(), sim.local_addr().port(), Some(false)).text()).await;
    let r = gw.submit(TO, "cannot be called back").await;
    gw.wait_submitted(&r.message_id).await;
    let answer = gw.cancel(&r.message_id).await;
    assert_eq!(answer.outcome, pb::CancelOutcome::AlreadySubmitted as i32);
    assert!(!answer.carrier_cancel_requested, "{answer:?}");
    assert_eq!(answer.state, pb::MessageState::Submitted as i32);
    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &r.message_id, pb::MessageState::Delivered)
        })
        .await;
    assert!(
        reached(&events, &r.message_id, pb::MessageState::Delivered),
        "{events:?}"
    );
    assert_eq!(sim.counters().cancels.load(Ordering::SeqCst), 0);
    assert_eq!(
        state_of(&gw.get(&r.message_id).await),
        pb::MessageState::Delivered
    );
    gw.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_cancel_sm_leaves_the_message_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator(RECEIPT_DELAY).await;
    let control = sim.control();
    let metrics_port = free_port();
    let config = config(dir.path(), sim.local_addr().port(), None).metrics(metrics_port);
    let mut gw = start(&config.text()).await;
    let r = gw.submit(TO, "already on its way").await;
    gw.wait_submitted(&r.message_id).await;
    // The SMSC says it can not cancel (as when it delivered the message and the receipt is still coming).
    control.refuse_next_cancels(1);
    let answer = gw.cancel(&r.message_id).await;
    assert_eq!(answer.outcome, pb::CancelOutcome::AlreadySubmitted as i32);
    assert!(answer.carrier_cancel_requested, "{answer:?}");
    let counters = sim.counters();
    assert!(
        eventually(WAIT, || counters.cancels_refused.load(Ordering::SeqCst)
            == 1)
        .await,
        "the simulator refused a cancel_sm"
    );
    // The refusal is not recorded: still SUBMITTED, and the carrier is not asked again (a refusal is final).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = gw.get(&r.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Submitted, "{m:?}");
    assert_eq!(counters.cancels.load(Ordering::SeqCst), 1);
    let recorded = control.recorded_cancels();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, CommandStatus::ESME_RCANCELFAIL);
    // Counted, per carrier and result.
    let refused = "smsbridge_carrier_cancels_total{carrier=\"sim\",result=\"refused\"}";
    let end = Instant::now() + WAIT;
    while metric(metrics_port, refused).await < 1.0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(metrics_port, refused).await, 1.0);
    assert_eq!(
        metric(
            metrics_port,
            "smsbridge_carrier_cancels_total{carrier=\"sim\",result=\"cancelled\"}"
        )
        .await,
        0.0
    );
    // The receipt then ends it as the carrier says.
    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &r.message_id, pb::MessageState::Delivered)
        })
        .await;
    assert!(
        reached(&events, &r.message_id, pb::MessageState::Delivered),
        "{events:?}"
    );
    assert!(
        !reached(&events, &r.message_id, pb::MessageState::Cancelled),
        "{events:?}"
    );
    gw.stop().await;
    sim.shutdown().await;
}

/// An SMSC whose ids the carrier's `message_id_format` ("auto", the default) normalizes to another string
/// ("000000000000001A" -> "1a"), and that recognises an id in cancel_sm only as it issued it: GetMessage shows
/// the ids as issued (and the normalized keys beside them), receipts still match, and cancel_sm quotes the id
/// as issued and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_ids_are_shown_and_cancelled_as_the_smsc_issued_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator_issuing(IdFormat::PaddedHex, RECEIPT_DELAY).await;
    let control = sim.control();
    let mut gw = start(&config(dir.path(), sim.local_addr().port(), None).text()).await;
    let kept = gw.submit(TO, "delivered").await;
    let called_back = gw.submit(TO, "cancelled").await;
    gw.wait_submitted(&kept.message_id).await;
    gw.wait_submitted(&called_back.message_id).await;

    let mut issued = Vec::new();
    for id in [&kept.message_id, &called_back.message_id] {
        let m = gw.get(id).await;
        let seg = &m.segments[0];
        let raw = seg.carrier_message_id.clone().expect("a carrier id");
        assert!(
            raw.len() == 16
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "not as the simulator issued it: {m:?}"
        );
        let normalized = raw.trim_start_matches('0').to_ascii_lowercase();
        assert_ne!(normalized, raw);
        assert_eq!(
            seg.carrier_message_id_normalized.as_deref(),
            Some(normalized.as_str()),
            "{m:?}"
        );
        assert_eq!(m.carrier_message_ids, std::slice::from_ref(&raw), "{m:?}");
        issued.push(raw);
    }

    let answer = gw.cancel(&called_back.message_id).await;
    assert_eq!(
        answer.outcome,
        pb::CancelOutcome::AlreadySubmitted as i32,
        "{answer:?}"
    );
    assert!(answer.carrier_cancel_requested, "{answer:?}");
    let events = gw
        .events_until(Vec::new(), WAIT, |evs| {
            reached(evs, &called_back.message_id, pb::MessageState::Cancelled)
        })
        .await;
    assert!(
        reached(
            &events,
            &called_back.message_id,
            pb::MessageState::Cancelled
        ),
        "no CANCELLED event: {events:?}"
    );
    let cancels = control.recorded_cancels();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(
        String::from_utf8_lossy(&cancels[0].message_id),
        issued[1].as_str()
    );
    assert_eq!(cancels[0].status, CommandStatus::ESME_ROK);

    // The other one's receipt (quoting the id as issued) is matched by its normalized form.
    let m = gw.wait_final(&kept.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    assert_eq!(
        m.segments[0]
            .carrier_status
            .as_ref()
            .and_then(|c| c.stat.as_deref()),
        Some("DELIVRD"),
        "{m:?}"
    );
    assert_eq!(m.carrier_message_ids, [issued[0].clone()]);
    assert_eq!(sim.counters().receipts_sent.load(Ordering::SeqCst), 1);
    let m = gw.get(&called_back.message_id).await;
    assert_eq!(state_of(&m), pb::MessageState::Cancelled, "{m:?}");
    gw.stop().await;
    sim.shutdown().await;
}
