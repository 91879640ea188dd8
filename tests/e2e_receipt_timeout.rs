//! Every message reaches a final state, also when the carrier never sends its receipt: gRPC Submit -> store
//! (SQLite in a temp dir) -> submit_sm over TCP to the SMSC simulator, whose receipts come far too late. Once
//! a message's validity has run out and the carrier's `receipt_timeout` passed after it, the segment and the
//! message end UNKNOWN, on GetMessage and on the event stream. A message sent without want_receipt is
//! finished (final_at) as soon as it is SUBMITTED and never ends UNKNOWN. A receipt that still comes after
//! that (the simulator ignores validity) replaces UNKNOWN with the carrier's state. Loopback only, every wait
//! bounded.

use std::time::Duration;

use smsbridge::api::pb;
use tokio::time::Instant;

mod harness;
use harness::{Running, SmppToml, state_of};

async fn submit(gw: &mut Running, to: &str, validity_ms: i32, want_receipt: bool) -> String {
    let request = pb::SubmitRequest {
        want_receipt,
        validity: Some(prost_types::Duration {
            seconds: i64::from(validity_ms / 1000),
            nanos: (validity_ms % 1000) * 1_000_000,
        }),
        ..harness::text_message(to, "anyone there?")
    };
    harness::submit_with(&mut gw.client, request)
        .await
        .message_id
}

/// How often the test asks GetMessage while it waits for a state.
const POLL: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_never_comes_ends_the_message_unknown_after_the_receipt_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The simulator accepts every submit_sm; its receipts would come after ten minutes.
    let sim = harness::smsc((Duration::from_secs(600), Duration::from_secs(600))).await;
    let metrics_port = harness::free_port();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier(
            "silent",
            "rate_limit = { per_second = 1000 }\nreceipt_timeout = \"1s\"",
        )
        .metrics(metrics_port)
        .text();
    let mut gw = harness::start(&config, "e2e_receipt_timeout.toml").await;

    let started = Instant::now();
    let waiting = submit(&mut gw, "+4915100000001", 1_500, true).await;
    let no_receipt = submit(&mut gw, "+4915100000002", 1_500, false).await;

    // Both go out and wait: SUBMITTED.
    let m = gw
        .wait_state(&waiting, Duration::from_secs(10), POLL, |s| {
            s == pb::MessageState::Submitted
        })
        .await;
    assert!(m.final_at.is_none(), "still waiting for its receipt: {m:?}");
    let m = gw
        .wait_state(&no_receipt, Duration::from_secs(10), POLL, |s| {
            s == pb::MessageState::Submitted
        })
        .await;
    assert!(
        m.final_at.is_some(),
        "a message without want_receipt is finished once submitted: {m:?}"
    );

    // Validity 1.5 s + receipt_timeout 1 s (+ the 1 s sweep): UNKNOWN, not before 2.5 s.
    let m = gw
        .wait_state(&waiting, Duration::from_secs(15), POLL, |s| {
            s == pb::MessageState::Unknown
        })
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(2_500),
        "ended after {:?}, before validity + receipt_timeout",
        started.elapsed()
    );
    assert!(m.final_at.is_some());
    let seg = &m.segments[0];
    assert_eq!(
        pb::MessageState::try_from(seg.state).unwrap_or_default(),
        pb::MessageState::Unknown
    );
    let why = seg.last_error.clone().unwrap_or_default();
    assert!(why.contains("receipt_timeout"), "{why:?}");
    // Operators see it per carrier (the no-receipt message is not counted). Counters are published after the
    // commit's WAL sync, which a reader may just have overtaken: poll briefly.
    let sample = "smsbridge_receipts_given_up_total{carrier=\"silent\"}";
    let end = Instant::now() + Duration::from_secs(5);
    while harness::metric(metrics_port, sample).await < 1.0 && Instant::now() < end {
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(harness::metric(metrics_port, sample).await, 1.0);
    // The carrier's message id is still shown: it did accept the message.
    assert!(
        m.segments[0]
            .carrier_message_id
            .as_deref()
            .is_some_and(|id| !id.is_empty()),
        "{m:?}"
    );

    // The event stream says so, under its own kind.
    let events = gw
        .events_until(
            vec![pb::EventKind::Unknown],
            Duration::from_secs(10),
            |evs| !evs.is_empty(),
        )
        .await;
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::StateChange(sc)) if sc.segment.is_none() => {
                Some(sc.message_id.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![waiting.clone()], "{events:?}");

    // The message without want_receipt stays SUBMITTED: nobody waits for its receipt.
    let m = gw.get(&no_receipt).await;
    assert_eq!(state_of(&m), pb::MessageState::Submitted, "{m:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_comes_after_the_receipt_timeout_replaces_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The simulator ignores the validity it is sent: its DELIVRD receipt comes 7 s after the submit, well
    // after the message ended UNKNOWN (validity 1.5 s + receipt_timeout 1 s + the 1 s sweep).
    let sim = harness::smsc((Duration::from_secs(7), Duration::from_secs(7))).await;
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .carrier(
            "slow",
            "rate_limit = { per_second = 1000 }\nreceipt_timeout = \"1s\"",
        )
        .text();
    let mut gw = harness::start(&config, "e2e_receipt_timeout_late.toml").await;
    let id = submit(&mut gw, "+4915100000003", 1_500, true).await;

    let m = gw
        .wait_state(&id, Duration::from_secs(15), POLL, |s| {
            s == pb::MessageState::Unknown
        })
        .await;
    let unknown_at = m.final_at.expect("final when UNKNOWN");

    let m = gw
        .wait_state(&id, Duration::from_secs(20), POLL, |s| {
            s == pb::MessageState::Delivered
        })
        .await;
    let seg = &m.segments[0];
    assert_eq!(
        pb::MessageState::try_from(seg.state).unwrap_or_default(),
        pb::MessageState::Delivered
    );
    let stat = seg.carrier_status.as_ref().and_then(|s| s.stat.clone());
    assert_eq!(stat.as_deref(), Some("DELIVRD"), "{m:?}");
    let final_at = m.final_at.expect("final");
    assert!(
        (final_at.seconds, final_at.nanos) > (unknown_at.seconds, unknown_at.nanos),
        "final_at {final_at:?} moves to the receipt, after UNKNOWN at {unknown_at:?}"
    );

    // The stream tells both: UNKNOWN, then DELIVERED.
    let events = gw
        .events_until(
            vec![pb::EventKind::Unknown, pb::EventKind::Delivered],
            Duration::from_secs(10),
            |evs| evs.len() >= 2,
        )
        .await;
    let changes: Vec<(u64, i32, i32)> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::StateChange(sc))
                if sc.segment.is_none() && sc.message_id == id =>
            {
                Some((e.cursor, sc.old_state, sc.new_state))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes.iter().map(|c| (c.1, c.2)).collect::<Vec<_>>(),
        vec![
            (
                pb::MessageState::Submitted as i32,
                pb::MessageState::Unknown as i32
            ),
            (
                pb::MessageState::Unknown as i32,
                pb::MessageState::Delivered as i32
            ),
        ],
        "{events:?}"
    );
    assert!(changes[0].0 < changes[1].0);
    gw.stop().await;
}
