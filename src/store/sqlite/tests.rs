//! Unit tests of the SQLite engine, through the engine-agnostic [`Store`] interface.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::store::Store;

const DAY: i64 = 86_400_000;

fn carrier() -> CarrierId {
    CarrierId::new("acme")
}

fn msg(client: &str, client_ref: Option<&str>, priority: Priority, segments: usize) -> NewMessage {
    NewMessage {
        client: ClientId::new(client),
        client_ref: client_ref.map(str::to_owned),
        to: "+15551230000".into(),
        from: "Bridge".into(),
        body: Body::Text("hello".into()),
        segments: (0..segments).map(|i| vec![b'a' + i as u8; 10]).collect(),
        encoding: "gsm7".into(),
        carrier: carrier(),
        priority,
        want_receipt: true,
        valid_until: UnixMs::now().plus_ms(DAY),
        tags: BTreeMap::from([("campaign".to_owned(), "x".to_owned())]),
    }
}

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open_sqlite(dir.path().join("store.db"))
        .await
        .expect("open store")
}

async fn submit_one(store: &Store, m: NewMessage) -> MessageId {
    let mut r = store.submit(vec![m]).await;
    r.pop().expect("one answer").expect("accepted").id
}

fn receipt(state: MessageState, stat: &str) -> Receipt {
    Receipt {
        state,
        status: CarrierStatus {
            stat: Some(stat.into()),
            err: Some("000".into()),
            network_error_code: Some(vec![3, 0, 0]),
            done_date: Some("2601011200".into()),
            raw: Some(format!("id:x sub:001 dlvrd:001 stat:{stat} err:000")),
        },
        received_at: UnixMs::now(),
    }
}

fn now_far() -> UnixMs {
    UnixMs::now().plus_ms(1000)
}

#[tokio::test]
async fn submit_stores_message_and_two_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let m = msg("im", Some("r1"), Priority::Normal, 2);
    let id = submit_one(&store, m.clone()).await;
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Queued);
    assert_eq!(got.to, m.to);
    assert_eq!(got.body, m.body);
    assert_eq!(got.tags, m.tags);
    assert_eq!(got.segments.len(), 2);
    assert!(got.segments.iter().all(|s| s.state == MessageState::Queued));
    let events = store.events_after(0, &[], 100).await.expect("events");
    let states: Vec<_> = events
        .iter()
        .map(|e| match &e.data {
            EventData::StateChange { old, new, segment } => (*old, *new, *segment),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (None, MessageState::Accepted, None),
            (Some(MessageState::Accepted), MessageState::Queued, None)
        ]
    );
    assert_eq!(store.queue_stats()[&carrier()].queued, 2);
    let by_ref = store
        .get_by_client_ref(&ClientId::new("im"), "r1")
        .await
        .expect("get by ref")
        .expect("present");
    assert_eq!(by_ref.id, id);
    store.close().await;
}

#[tokio::test]
async fn idempotent_submit_returns_first_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let first = store
        .submit(vec![
            msg("im", Some("k"), Priority::Normal, 1),
            msg("im", Some("k"), Priority::Normal, 1),
            msg("other", Some("k"), Priority::Normal, 1),
        ])
        .await;
    let first: Vec<Accepted> = first.into_iter().map(|r| r.expect("accepted")).collect();
    assert!(!first[0].duplicate);
    assert!(first[1].duplicate, "same key in the same batch");
    assert_eq!(first[0].id, first[1].id);
    assert!(!first[2].duplicate, "another client's key is its own");
    assert_ne!(first[2].id, first[0].id);
    let again = store
        .submit(vec![msg("im", Some("k"), Priority::High, 3)])
        .await;
    let again = again[0].clone().expect("accepted");
    assert!(again.duplicate);
    assert_eq!(again.id, first[0].id);
    // Nothing new stored: two messages of one segment each.
    assert_eq!(store.queue_stats()[&carrier()].queued, 2);
    store.close().await;
}

#[tokio::test]
async fn invalid_message_fails_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let res = store
        .submit(vec![
            msg("im", None, Priority::Normal, 0),
            msg("im", None, Priority::Normal, 1),
        ])
        .await;
    assert!(matches!(
        res[0],
        Err(StoreError::InvalidMessage {
            field: "segments",
            ..
        })
    ));
    assert!(res[1].is_ok());
    store.close().await;
}

#[tokio::test]
async fn claim_orders_by_priority_then_age_and_leases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let bulk = submit_one(&store, msg("im", None, Priority::Bulk, 1)).await;
    let n1 = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let urgent = submit_one(&store, msg("im", None, Priority::Urgent, 1)).await;
    let n2 = submit_one(&store, msg("im", None, Priority::Normal, 2)).await;
    let other = NewMessage {
        carrier: CarrierId::new("other"),
        ..msg("im", None, Priority::Urgent, 1)
    };
    submit_one(&store, other).await;

    let first = store.claim(&carrier(), 3, now_far()).await.expect("claim");
    let got: Vec<_> = first.iter().map(|d| (d.message_id, d.segment)).collect();
    assert_eq!(got, vec![(urgent, 0), (n1, 0), (n2, 0)]);
    assert!(first.iter().all(|d| d.attempt == 1 && !d.resend));
    let stats = store.queue_stats()[&carrier()];
    assert_eq!((stats.queued, stats.in_flight), (2, 3));
    let second = store.claim(&carrier(), 10, now_far()).await.expect("claim");
    let got: Vec<_> = second.iter().map(|d| (d.message_id, d.segment)).collect();
    assert_eq!(
        got,
        vec![(n2, 1), (bulk, 0)],
        "leased segments are not returned again"
    );
    assert!(
        store
            .claim(&carrier(), 10, now_far())
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.queue_stats()[&CarrierId::new("other")].queued, 1);
    store.close().await;
}

#[tokio::test]
async fn transient_waits_for_retry_time_then_keeps_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let t0 = now_far();
    let d = store
        .claim(&carrier(), 1, t0)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(d.message_id, a);
    let b = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let retry_at = t0.plus_ms(30_000);
    let applied = store
        .record_outcome(
            d.key(),
            Outcome::Transient {
                retry_at,
                reason: "ESME_RTHROTTLED".into(),
            },
        )
        .await
        .expect("outcome");
    assert_eq!(applied.segment_state, MessageState::Queued);
    assert_eq!(store.queue_stats()[&carrier()].retry_waiting, 1);
    let seg = &store.get(a).await.expect("get").expect("present").segments[0];
    assert_eq!(seg.retry_at, Some(retry_at));
    assert_eq!(seg.last_error.as_deref(), Some("ESME_RTHROTTLED"));

    // Before its retry time only b is ready.
    let early = store
        .claim(&carrier(), 10, t0.plus_ms(1000))
        .await
        .expect("claim");
    assert_eq!(
        early.iter().map(|d| d.message_id).collect::<Vec<_>>(),
        vec![b]
    );
    store
        .record_outcome(
            early[0].key(),
            Outcome::Unknown {
                reason: "timeout".into(),
            },
        )
        .await
        .expect("outcome");
    // At its retry time a comes back ahead of b (older), as attempt 2.
    let later = store.claim(&carrier(), 10, retry_at).await.expect("claim");
    assert_eq!(
        later
            .iter()
            .map(|d| (d.message_id, d.attempt))
            .collect::<Vec<_>>(),
        vec![(a, 2), (b, 2)]
    );
    assert!(!later[0].resend);
    assert!(later[1].resend, "b's first outcome was unknown");
    assert_eq!(store.counters().resends, 1);
    store.close().await;
}

#[tokio::test]
async fn validity_is_never_exceeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let now = UnixMs::now();
    let short = NewMessage {
        valid_until: now.plus_ms(60_000),
        ..msg("im", None, Priority::Normal, 1)
    };
    // A retry past validity expires the segment instead.
    let a = submit_one(&store, short.clone()).await;
    let d = store
        .claim(&carrier(), 1, now)
        .await
        .expect("claim")
        .remove(0);
    let applied = store
        .record_outcome(
            d.key(),
            Outcome::Transient {
                retry_at: now.plus_ms(120_000),
                reason: "busy".into(),
            },
        )
        .await
        .expect("outcome");
    assert_eq!(applied.message_state, MessageState::Expired);
    assert_eq!(
        store.get(a).await.expect("get").expect("present").state,
        MessageState::Expired
    );

    // A claim after validity never hands it out.
    let b = submit_one(&store, short.clone()).await;
    let late = store
        .claim(&carrier(), 10, now.plus_ms(60_000))
        .await
        .expect("claim");
    assert!(late.is_empty());
    assert_eq!(
        store.get(b).await.expect("get").expect("present").state,
        MessageState::Expired
    );

    // expire() finds queued messages past validity.
    let c = submit_one(&store, short.clone()).await;
    let keep = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    assert_eq!(store.expire(now).await.expect("expire").messages, 0);
    let report = store.expire(now.plus_ms(61_000)).await.expect("expire");
    assert_eq!((report.messages, report.segments), (1, 1));
    let c_msg = store.get(c).await.expect("get").expect("present");
    assert_eq!(c_msg.state, MessageState::Expired);
    assert!(c_msg.final_at.is_some());
    let left = store
        .claim(&carrier(), 10, now.plus_ms(61_000))
        .await
        .expect("claim");
    assert_eq!(
        left.iter().map(|d| d.message_id).collect::<Vec<_>>(),
        vec![keep]
    );
    store.close().await;
}

#[tokio::test]
async fn permanent_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let b = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");
    for (d, status) in ds
        .iter()
        .zip([PermanentStatus::Rejected, PermanentStatus::Failed])
    {
        store
            .record_outcome(
                d.key(),
                Outcome::Permanent {
                    status,
                    reason: "ESME_RINVDSTADR".into(),
                },
            )
            .await
            .expect("outcome");
    }
    assert_eq!(
        store.get(a).await.expect("get").expect("a").state,
        MessageState::Rejected
    );
    assert_eq!(
        store.get(b).await.expect("get").expect("b").state,
        MessageState::Failed
    );
    assert_eq!(store.queue_stats()[&carrier()].total(), 0);
    // Recording twice is refused.
    let again = store
        .record_outcome(ds[0].key(), Outcome::Unknown { reason: "x".into() })
        .await;
    assert!(matches!(again, Err(StoreError::StaleLease { .. })));
    store.close().await;
}

#[tokio::test]
async fn receipts_match_and_receipt_before_submit_is_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let b = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");

    // a: the usual order.
    store
        .record_outcome(
            ds[0].key(),
            Outcome::Submitted {
                carrier_message_id: "A1".into(),
                carrier_message_id_raw: "A1".into(),
            },
        )
        .await
        .expect("outcome");
    let m = store.get(a).await.expect("get").expect("a");
    assert_eq!(m.state, MessageState::Submitted);
    assert!(m.submitted_at.is_some());
    let r = store
        .record_receipt(
            &carrier(),
            "A1",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    assert_eq!(
        r,
        ReceiptMatch::Matched {
            message_id: a,
            segment: 0
        }
    );
    let m = store.get(a).await.expect("get").expect("a");
    assert_eq!(m.state, MessageState::Delivered);
    let status = m.segments[0].carrier_status.clone().expect("status");
    assert_eq!(status.stat.as_deref(), Some("DELIVRD"));
    assert_eq!(status.network_error_code, Some(vec![3, 0, 0]));
    assert_eq!(m.segments[0].carrier_message_id.as_deref(), Some("A1"));

    // b: the receipt overtakes submit_sm_resp.
    let r = store
        .record_receipt(
            &carrier(),
            "B1",
            receipt(MessageState::Undeliverable, "UNDELIV"),
        )
        .await
        .expect("receipt");
    assert_eq!(r, ReceiptMatch::Unmatched);
    assert_eq!(store.counters().unmatched_receipts, 1);
    assert_eq!(store.counters().held_receipts, 1);
    let applied = store
        .record_outcome(
            ds[1].key(),
            Outcome::Submitted {
                carrier_message_id: "B1".into(),
                carrier_message_id_raw: "B1".into(),
            },
        )
        .await
        .expect("outcome");
    assert!(applied.held_receipt_applied);
    assert_eq!(applied.message_state, MessageState::Undeliverable);
    assert_eq!(store.counters().held_receipts, 0);
    let m = store.get(b).await.expect("get").expect("b");
    assert_eq!(m.state, MessageState::Undeliverable);
    assert_eq!(
        m.segments[0]
            .carrier_status
            .as_ref()
            .and_then(|s| s.stat.as_deref()),
        Some("UNDELIV")
    );
    // The event log saw SUBMITTED then UNDELIVERABLE for b.
    let events = store
        .events_after(0, &[EventKind::StateChange], 100)
        .await
        .expect("events");
    let b_states: Vec<_> = events
        .iter()
        .filter(|e| e.message_id == b)
        .filter_map(|e| match e.data {
            EventData::StateChange { new, .. } => Some(new),
            _ => None,
        })
        .collect();
    assert_eq!(
        b_states,
        vec![
            MessageState::Accepted,
            MessageState::Queued,
            MessageState::Submitted,
            MessageState::Undeliverable
        ]
    );

    // A held receipt that nothing claims is dropped after its holding time.
    store
        .record_receipt(
            &carrier(),
            "nobody",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let rep = store
        .expire(UnixMs::now().plus_ms(2 * 3_600_000))
        .await
        .expect("expire");
    assert_eq!(rep.held_receipts_dropped, 1);
    assert_eq!(store.counters().held_receipts, 0);
    store.close().await;
}

#[tokio::test]
async fn multipart_state_follows_its_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let id = submit_one(&store, msg("im", None, Priority::Normal, 3)).await;
    let ds = store.claim(&carrier(), 3, now_far()).await.expect("claim");
    assert_eq!(ds.len(), 3);
    assert!(ds.iter().all(|d| d.segment_count == 3));
    let cids = ["M0", "M1", "M2"];
    let applied = store
        .record_outcome(
            ds[0].key(),
            Outcome::Submitted {
                carrier_message_id: cids[0].into(),
                carrier_message_id_raw: cids[0].into(),
            },
        )
        .await
        .expect("outcome");
    assert_eq!(applied.segment_state, MessageState::Submitted);
    assert_eq!(
        applied.message_state,
        MessageState::Queued,
        "two parts still in flight"
    );
    for (d, cid) in ds.iter().zip(cids).skip(1) {
        store
            .record_outcome(
                d.key(),
                Outcome::Submitted {
                    carrier_message_id: cid.into(),
                    carrier_message_id_raw: cid.into(),
                },
            )
            .await
            .expect("outcome");
    }
    assert_eq!(
        store.get(id).await.expect("get").expect("m").state,
        MessageState::Submitted
    );
    store
        .record_receipt(
            &carrier(),
            "M0",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    store
        .record_receipt(
            &carrier(),
            "M2",
            receipt(MessageState::Undeliverable, "UNDELIV"),
        )
        .await
        .expect("receipt");
    assert_eq!(
        store.get(id).await.expect("get").expect("m").state,
        MessageState::Submitted
    );
    store
        .record_receipt(
            &carrier(),
            "M1",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let m = store.get(id).await.expect("get").expect("m");
    assert_eq!(m.state, MessageState::Undeliverable);
    assert!(m.final_at.is_some());
    let seg_events = store
        .events_after(0, &[], 100)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| {
            matches!(
                e.data,
                EventData::StateChange {
                    segment: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(seg_events, 6, "three segments, SUBMITTED and final each");
    store.close().await;
}

#[tokio::test]
async fn cancel_before_and_after_submit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 2)).await;
    assert_eq!(
        store.cancel(a).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store.get(a).await.expect("get").expect("a").state,
        MessageState::Cancelled
    );
    assert!(
        store
            .claim(&carrier(), 10, now_far())
            .await
            .expect("claim")
            .is_empty(),
        "nothing is sent"
    );
    assert_eq!(
        store.cancel(a).await.expect("cancel"),
        CancelOutcome::AlreadyFinal(MessageState::Cancelled)
    );

    let b = submit_one(&store, msg("im", None, Priority::Normal, 3)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");
    store
        .record_outcome(
            ds[0].key(),
            Outcome::Submitted {
                carrier_message_id: "S0".into(),
                carrier_message_id_raw: "S0".into(),
            },
        )
        .await
        .expect("outcome");
    let out = store.cancel(b).await.expect("cancel");
    assert_eq!(
        out,
        CancelOutcome::AlreadySubmitted {
            carrier: carrier(),
            carrier_message_ids: vec![(0, "S0".into())],
            in_flight: 1,
            cancelled_segments: 1,
        }
    );
    assert!(
        store
            .claim(&carrier(), 10, now_far())
            .await
            .expect("claim")
            .is_empty()
    );
    let missing = MessageId::from_u64(12345).expect("id");
    assert!(matches!(
        store.cancel(missing).await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

#[tokio::test]
async fn events_resume_from_any_cursor_and_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    for i in 0..5 {
        submit_one(
            &store,
            msg("im", Some(&format!("e{i}")), Priority::Normal, 1),
        )
        .await;
    }
    let mo = MoMessage {
        from: "+15550001111".into(),
        to: "12345".into(),
        text: "STOP".into(),
        carrier: carrier(),
        received_at: UnixMs::now(),
        concat: Some(ConcatInfo {
            reference: 7,
            total: 2,
            seq: 1,
        }),
    };
    let (mo_id, mo_cursor) = store.record_mo(mo.clone()).await.expect("mo");
    let all = store.events_after(0, &[], 1000).await.expect("events");
    assert_eq!(all.len(), 11);
    assert!(all.windows(2).all(|w| w[0].cursor < w[1].cursor));
    // Paging with any page size from any cursor gives the same sequence, none missing.
    for page in [1, 3, 4] {
        let mut cursor = 0;
        let mut got = Vec::new();
        for _ in 0..100 {
            let batch = store.events_after(cursor, &[], page).await.expect("events");
            let Some(last) = batch.last() else { break };
            cursor = last.cursor;
            got.extend(batch);
        }
        assert_eq!(got, all, "page size {page}");
    }
    let mos = store
        .events_after(0, &[EventKind::Mo], 100)
        .await
        .expect("events");
    assert_eq!(mos.len(), 1);
    assert_eq!(mos[0].cursor, mo_cursor);
    assert_eq!(mos[0].message_id, mo_id);
    assert_eq!(mos[0].data, EventData::Mo(mo));

    // Before the restart the events came from the writer's in-memory window; after it, from the table:
    // both must give the same events.
    let mid = all[4].cursor;
    store.close().await;
    let store = open(&dir).await;
    let after = store.events_after(mid, &[], 1000).await.expect("events");
    assert_eq!(after, all[5..].to_vec());
    let id = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let newer = store
        .events_after(all[10].cursor, &[], 10)
        .await
        .expect("events");
    assert_eq!(newer.len(), 2);
    assert_eq!(
        newer[0].cursor,
        all[10].cursor + 1,
        "cursors continue after a restart"
    );
    assert_eq!(newer[0].message_id, id);
    assert!(id > mo_id, "ids continue after a restart");
    store.close().await;
}

#[tokio::test]
async fn waiting_for_new_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let last = *store.subscribe().borrow();
    assert_eq!(last, 2);
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_secs(10),
                store.wait_events(last, &[EventKind::Mo], 10),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "nothing new yet");
    // State changes don't wake a consumer of MOs with an answer...
    submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "no MO yet");
    // ...an MO does.
    let (mo_id, _) = store
        .record_mo(MoMessage {
            from: "+1555".into(),
            to: "100".into(),
            text: "hi".into(),
            carrier: carrier(),
            received_at: UnixMs::now(),
            concat: None,
        })
        .await
        .expect("mo");
    let got = waiter
        .await
        .expect("join")
        .expect("in time")
        .expect("events");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, mo_id);
    store.close().await;
}

#[tokio::test]
async fn unknown_outcome_and_restart_resend_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let b = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");
    assert_eq!(ds.len(), 2);
    // The process stops with both in flight.
    store.close().await;
    let store = open(&dir).await;
    assert_eq!(store.counters().resends, 2);
    let stats = store.queue_stats()[&carrier()];
    assert_eq!((stats.queued, stats.in_flight), (2, 0));
    let again = store.claim(&carrier(), 10, now_far()).await.expect("claim");
    assert_eq!(
        again
            .iter()
            .map(|d| (d.message_id, d.resend, d.attempt))
            .collect::<Vec<_>>(),
        vec![(a, true, 2), (b, true, 2)]
    );
    // A stale dispatch from before the restart is refused.
    assert!(matches!(
        store
            .record_outcome(
                ds[0].key(),
                Outcome::Submitted {
                    carrier_message_id: "z".into(),
                    carrier_message_id_raw: "z".into(),
                }
            )
            .await,
        Err(StoreError::StaleLease { .. })
    ));
    // A receipt for the first send can still land while the resend waits in the queue.
    store
        .record_outcome(
            again[0].key(),
            Outcome::Unknown {
                reason: "link down".into(),
            },
        )
        .await
        .expect("outcome");
    let m = store.get(a).await.expect("get").expect("a");
    assert_eq!((m.resends(), m.attempts()), (2, 2));
    store.close().await;
}

#[tokio::test]
async fn schema_newer_than_known_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = Store::open_sqlite(&path).await.expect("open");
    store.close().await;
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    match Store::open_sqlite(&path).await {
        Err(StoreError::SchemaTooNew { found: 99, known }) => {
            assert_eq!(known, schema::known_version())
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[test]
fn claim_reads_the_queue_by_its_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = Connection::open(dir.path().join("plan.db")).expect("open");
    schema::migrate(&mut conn).expect("migrate");
    let plan: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "EXPLAIN QUERY PLAN
                 SELECT q.prio_rank, q.msg_id, q.idx, m.to_addr, s.payload
                 FROM queue q
                 JOIN messages m ON m.id = q.msg_id
                 JOIN segments s ON s.msg_id = q.msg_id AND s.idx = q.idx
                 WHERE q.carrier = ?1
                 ORDER BY q.prio_rank, q.msg_id, q.idx
                 LIMIT ?2",
            )
            .expect("prepare");
        stmt.query_map(params!["acme", 10], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let text = plan.join("\n");
    assert!(
        !text.contains("TEMP B-TREE"),
        "the claim must not sort:\n{text}"
    );
    assert!(text.contains("SEARCH q USING PRIMARY KEY"), "{text}");
    assert!(
        !text.contains("SCAN m") && !text.contains("SCAN s"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let before = store.counters();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..20 {
                ids.push(
                    submit_one(
                        &store,
                        msg("im", Some(&format!("{t}-{i}")), Priority::Normal, 1),
                    )
                    .await,
                );
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 320);
    let after = store.counters();
    let requests = after.write_requests - before.write_requests;
    let commits = after.commits - before.commits;
    assert_eq!(requests, 320);
    assert!(
        commits < requests,
        "group commit: {commits} commits for {requests} submits"
    );
    store.close().await;
}

#[tokio::test]
async fn batched_outcomes_and_receipts_answer_each_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let b = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");
    let stale = DispatchKey {
        lease: LeaseId(1),
        ..ds[1].key()
    };
    let res = store
        .record_outcomes(vec![
            (
                ds[0].key(),
                Outcome::Submitted {
                    carrier_message_id: "BA".into(),
                    carrier_message_id_raw: "BA".into(),
                },
            ),
            (
                stale,
                Outcome::Submitted {
                    carrier_message_id: "BX".into(),
                    carrier_message_id_raw: "BX".into(),
                },
            ),
            (
                ds[1].key(),
                Outcome::Submitted {
                    carrier_message_id: "BB".into(),
                    carrier_message_id_raw: "BB".into(),
                },
            ),
        ])
        .await;
    assert_eq!(res.len(), 3);
    assert_eq!(
        res[0].as_ref().expect("a").segment_state,
        MessageState::Submitted
    );
    assert!(
        matches!(res[1], Err(StoreError::StaleLease { .. })),
        "{:?}",
        res[1]
    );
    assert_eq!(
        res[2].as_ref().expect("b").segment_state,
        MessageState::Submitted
    );
    let res = store
        .record_receipts(vec![
            (
                carrier(),
                "BA".into(),
                receipt(MessageState::Delivered, "DELIVRD"),
            ),
            (
                carrier(),
                "BZ".into(),
                receipt(MessageState::Delivered, "DELIVRD"),
            ),
            (
                carrier(),
                "BB".into(),
                receipt(MessageState::Rejected, "REJECTD"),
            ),
        ])
        .await;
    let res: Vec<ReceiptMatch> = res.into_iter().map(|r| r.expect("receipt")).collect();
    assert_eq!(
        res,
        vec![
            ReceiptMatch::Matched {
                message_id: a,
                segment: 0
            },
            ReceiptMatch::Unmatched,
            ReceiptMatch::Matched {
                message_id: b,
                segment: 0
            },
        ]
    );
    assert_eq!(
        store.get(a).await.expect("get").expect("a").state,
        MessageState::Delivered
    );
    assert_eq!(
        store.get(b).await.expect("get").expect("b").state,
        MessageState::Rejected
    );
    assert_eq!(store.counters().held_receipts, 1);
    store.close().await;
}

#[tokio::test]
async fn intermediate_receipt_records_status_only_and_final_state_sticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let d = store
        .claim(&carrier(), 1, now_far())
        .await
        .expect("claim")
        .remove(0);
    store
        .record_outcome(
            d.key(),
            Outcome::Submitted {
                carrier_message_id: "E1".into(),
                carrier_message_id_raw: "E1".into(),
            },
        )
        .await
        .expect("outcome");
    store
        .record_receipt(
            &carrier(),
            "E1",
            receipt(MessageState::Submitted, "ENROUTE"),
        )
        .await
        .expect("receipt");
    let m = store.get(a).await.expect("get").expect("a");
    assert_eq!(m.state, MessageState::Submitted);
    assert_eq!(
        m.segments[0]
            .carrier_status
            .as_ref()
            .and_then(|s| s.stat.as_deref()),
        Some("ENROUTE")
    );
    store
        .record_receipt(
            &carrier(),
            "E1",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    // A late contradicting receipt does not move a final state.
    store
        .record_receipt(
            &carrier(),
            "E1",
            receipt(MessageState::Undeliverable, "UNDELIV"),
        )
        .await
        .expect("receipt");
    let m = store.get(a).await.expect("get").expect("a");
    assert_eq!(m.state, MessageState::Delivered);
    let finals = store
        .events_after(0, &[], 100)
        .await
        .expect("events")
        .iter()
        .filter(|e| matches!(e.data, EventData::StateChange { new, .. } if new.is_final()))
        .count();
    assert_eq!(finals, 1, "one final event");
    store.close().await;
}

#[tokio::test]
async fn stale_leases_are_requeued_as_resends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let a = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let t0 = UnixMs::now();
    let d = store
        .claim(&carrier(), 1, t0)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(
        store.requeue_stale_leases(t0).await.expect("requeue"),
        0,
        "not older than t0"
    );
    assert_eq!(
        store
            .requeue_stale_leases(t0.plus_ms(1))
            .await
            .expect("requeue"),
        1
    );
    let stats = store.queue_stats()[&carrier()];
    assert_eq!((stats.queued, stats.in_flight), (1, 0));
    assert_eq!(store.counters().resends, 1);
    // The dead link's late answer is refused; the resend goes out.
    assert!(matches!(
        store
            .record_outcome(
                d.key(),
                Outcome::Unknown {
                    reason: "late".into()
                }
            )
            .await,
        Err(StoreError::StaleLease { .. })
    ));
    let again = store.claim(&carrier(), 1, t0).await.expect("claim");
    assert_eq!(
        again
            .iter()
            .map(|d| (d.message_id, d.resend))
            .collect::<Vec<_>>(),
        vec![(a, true)]
    );
    store.close().await;
}

#[tokio::test]
async fn an_older_schema_is_migrated_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.execute_batch(schema::MIGRATIONS[0]).expect("schema 1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version 1");
    }
    let store = Store::open_sqlite(&path).await.expect("open migrates");
    let id = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store
        .claim(&carrier(), 1, now_far())
        .await
        .expect("claim uses leased_at");
    assert_eq!(ds[0].message_id, id);
    store.close().await;
    let conn = Connection::open(&path).expect("raw open");
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, schema::known_version());
    assert_eq!(v, 5);
    let index: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'messages_awaiting_receipt'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert_eq!(index, 1, "migration 5 made the receipt timeout's index");
}

/// `Submitted` of a segment whose carrier id normalizes to something else (as "auto" makes "00001A2B" into
/// "1a2b").
fn submitted(normalized: &str, raw: &str) -> Outcome {
    Outcome::Submitted {
        carrier_message_id: normalized.into(),
        carrier_message_id_raw: raw.into(),
    }
}

#[tokio::test]
async fn carrier_ids_are_kept_as_received_beside_the_normalized_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let id = submit_one(&store, msg("im", None, Priority::Normal, 2)).await;
    let ds = store.claim(&carrier(), 2, now_far()).await.expect("claim");
    let answers = store
        .record_outcomes(vec![
            (ds[0].key(), submitted("1a2b", "00001A2B")),
            (ds[1].key(), submitted("1a2c", "00001A2C")),
        ])
        .await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");

    let m = store.get(id).await.expect("get").expect("m");
    let ids: Vec<_> = m
        .segments
        .iter()
        .map(|s| {
            (
                s.carrier_message_id.as_deref(),
                s.carrier_message_id_raw.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            (Some("1a2b"), Some("00001A2B")),
            (Some("1a2c"), Some("00001A2C"))
        ]
    );
    // Receipts still match by the normalized id.
    let matched = store
        .record_receipt(
            &carrier(),
            "1a2b",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    assert_eq!(
        matched,
        ReceiptMatch::Matched {
            message_id: id,
            segment: 0
        }
    );
    // Cancel hands over the ids as the carrier gave them, for cancel_sm to quote.
    assert_eq!(
        store.cancel(id).await.expect("cancel"),
        CancelOutcome::AlreadySubmitted {
            carrier: carrier(),
            carrier_message_ids: vec![(0, "00001A2B".into()), (1, "00001A2C".into())],
            in_flight: 0,
            cancelled_segments: 0,
        }
    );
    store.close().await;
}

#[tokio::test]
async fn segments_stored_before_migration_4_read_their_normalized_id_as_received() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = Store::open_sqlite(&path).await.expect("open");
    let old = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 1, now_far()).await.expect("claim");
    store
        .record_outcome(ds[0].key(), submitted("ab", "00AB"))
        .await
        .expect("outcome");
    store.close().await;
    {
        // Back to schema 3 with the segment in it, as a build before migration 4 left it.
        let conn = Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "ALTER TABLE segments DROP COLUMN carrier_msg_id_raw; PRAGMA user_version = 3;",
        )
        .expect("schema 3");
    }

    let store = Store::open_sqlite(&path).await.expect("open migrates");
    let raw: Option<String> = Connection::open(&path)
        .expect("raw open")
        .query_row(
            "SELECT carrier_msg_id_raw FROM segments WHERE msg_id = ?1",
            [old.as_i64()],
            |r| r.get(0),
        )
        .expect("the column is back");
    assert_eq!(raw, None);
    let m = store.get(old).await.expect("get").expect("old");
    assert_eq!(m.segments[0].carrier_message_id.as_deref(), Some("ab"));
    assert_eq!(m.segments[0].carrier_message_id_raw.as_deref(), Some("ab"));
    assert_eq!(
        store.cancel(old).await.expect("cancel"),
        CancelOutcome::AlreadySubmitted {
            carrier: carrier(),
            carrier_message_ids: vec![(0, "ab".into())],
            in_flight: 0,
            cancelled_segments: 0,
        }
    );
    // A receipt still finds it; a segment submitted now keeps its raw id.
    assert!(matches!(
        store
            .record_receipt(
                &carrier(),
                "ab",
                receipt(MessageState::Delivered, "DELIVRD")
            )
            .await,
        Ok(ReceiptMatch::Matched { .. })
    ));
    let new = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 1, now_far()).await.expect("claim");
    store
        .record_outcome(ds[0].key(), submitted("cd", "00CD"))
        .await
        .expect("outcome");
    let m = store.get(new).await.expect("get").expect("new");
    assert_eq!(
        m.segments[0].carrier_message_id_raw.as_deref(),
        Some("00CD")
    );
    store.close().await;
}

/// Counts straight from the tables, to check the writer's published depths against.
fn table_stats(path: &std::path::Path) -> (u64, u64, u64) {
    let conn = Connection::open(path).expect("raw open");
    let count = |q: &str| -> u64 {
        let n: i64 = conn.query_row(q, [], |r| r.get(0)).expect("count");
        u64::try_from(n).expect("non-negative")
    };
    (
        count("SELECT COUNT(*) FROM queue"),
        count("SELECT COUNT(*) FROM segments WHERE lease IS NOT NULL"),
        count("SELECT COUNT(*) FROM retry"),
    )
}

/// A long pseudo-random mix of every operation: the published queue depths always equal the tables, every
/// message's state is the one derived from its segments, and the event log only grows.
#[tokio::test]
async fn random_operations_keep_depths_and_states_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = Store::open_sqlite(&path).await.expect("open");
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let base = UnixMs::now();
    let mut now = base;
    let mut ids: Vec<MessageId> = Vec::new();
    let mut leased: Vec<(Dispatch, UnixMs)> = Vec::new();
    let mut submitted: Vec<String> = Vec::new();
    let mut last_cursor = 0;
    for step in 0..600u64 {
        now = now.plus_ms(rnd(2000) as i64);
        match rnd(10) {
            0 | 1 => {
                let segs = 1 + rnd(3) as usize;
                let mut m = msg("im", None, Priority::ALL[rnd(4) as usize], segs);
                m.valid_until = now.plus_ms(5_000 + rnd(60_000) as i64);
                ids.push(submit_one(&store, m).await);
            }
            2 | 3 => {
                let ds = store
                    .claim(&carrier(), 1 + rnd(4) as usize, now)
                    .await
                    .expect("claim");
                leased.extend(ds.into_iter().map(|d| (d, now)));
            }
            4 | 5 if !leased.is_empty() => {
                let (d, _) = leased.swap_remove(rnd(leased.len() as u64) as usize);
                let outcome = match rnd(4) {
                    0 => {
                        let cid = format!("c{step}");
                        submitted.push(cid.clone());
                        Outcome::Submitted {
                            carrier_message_id: cid.clone(),
                            carrier_message_id_raw: cid,
                        }
                    }
                    1 => Outcome::Transient {
                        retry_at: now.plus_ms(rnd(10_000) as i64),
                        reason: "busy".into(),
                    },
                    2 => Outcome::Permanent {
                        status: PermanentStatus::Rejected,
                        reason: "no".into(),
                    },
                    _ => Outcome::Unknown {
                        reason: "timeout".into(),
                    },
                };
                store
                    .record_outcome(d.key(), outcome)
                    .await
                    .expect("outcome");
            }
            6 if !submitted.is_empty() => {
                let cid = submitted.swap_remove(rnd(submitted.len() as u64) as usize);
                store
                    .record_receipt(
                        &carrier(),
                        &cid,
                        receipt(MessageState::Delivered, "DELIVRD"),
                    )
                    .await
                    .expect("receipt");
            }
            6 => {
                // A receipt that overtakes its response: held until the id is recorded.
                let cid = format!("c{}", step + 1 + rnd(5));
                store
                    .record_receipt(
                        &carrier(),
                        &cid,
                        receipt(MessageState::Delivered, "DELIVRD"),
                    )
                    .await
                    .expect("receipt");
            }
            7 if !ids.is_empty() => {
                let id = ids[rnd(ids.len() as u64) as usize];
                store.cancel(id).await.expect("cancel");
            }
            8 => {
                store.expire(now).await.expect("expire");
            }
            _ => {
                let cutoff = now.plus_ms(-20_000);
                store.requeue_stale_leases(cutoff).await.expect("requeue");
                // What was requeued is no longer ours to answer.
                leased.retain(|(_, at)| *at >= cutoff);
            }
        }
        if step % 25 == 24 {
            let s = store
                .queue_stats()
                .get(&carrier())
                .copied()
                .unwrap_or_default();
            let (queued, in_flight, retry) = table_stats(&path);
            assert_eq!(
                (s.queued, s.in_flight, s.retry_waiting),
                (queued, in_flight, retry),
                "published depths drifted at step {step}"
            );
            for id in &ids {
                let m = store.get(*id).await.expect("get").expect("message");
                let states: Vec<_> = m.segments.iter().map(|s| s.state).collect();
                assert_eq!(
                    m.state,
                    derive_message_state(&states),
                    "{id} at step {step}"
                );
                assert!(
                    m.segments
                        .iter()
                        .all(|s| !(s.in_flight && s.state.is_final() && s.retry_at.is_some())),
                    "{id}"
                );
            }
            let events = store
                .events_after(last_cursor, &[], 10_000)
                .await
                .expect("events");
            assert!(events.windows(2).all(|w| w[0].cursor < w[1].cursor));
            if let Some(e) = events.last() {
                last_cursor = e.cursor;
            }
            assert_eq!(last_cursor, *store.subscribe().borrow());
        }
    }
    // The mix reached every corner it is meant to.
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        seen.insert(store.get(*id).await.expect("get").expect("message").state);
    }
    for want in [
        MessageState::Delivered,
        MessageState::Rejected,
        MessageState::Expired,
        MessageState::Cancelled,
    ] {
        assert!(seen.contains(&want), "no message ended {want}: {seen:?}");
    }
    let c = store.counters();
    assert!(c.resends > 0 && c.unmatched_receipts > 0, "{c:?}");
    store.close().await;
}

/// Claims every segment of the carrier's queue and records each as submitted with id `S<idx>`.
async fn submit_all(store: &Store, prefix: &str) -> Vec<Dispatch> {
    let ds = store
        .claim(&carrier(), 100, now_far())
        .await
        .expect("claim");
    for d in &ds {
        store
            .record_outcome(
                d.key(),
                Outcome::Submitted {
                    carrier_message_id: format!("{prefix}{}", d.segment),
                    carrier_message_id_raw: format!("{prefix}{}", d.segment),
                },
            )
            .await
            .expect("outcome");
    }
    ds
}

#[tokio::test]
async fn carrier_cancel_makes_segments_cancelled_and_receipts_do_not_undo_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let id = submit_one(&store, msg("im", None, Priority::Normal, 3)).await;
    assert_eq!(submit_all(&store, "C").await.len(), 3);
    // Segment 2 is delivered before the cancel reaches the carrier.
    store
        .record_receipt(
            &carrier(),
            "C2",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let out = store.cancel(id).await.expect("cancel");
    let CancelOutcome::AlreadySubmitted {
        carrier_message_ids,
        ..
    } = out
    else {
        panic!("expected AlreadySubmitted, got {out:?}");
    };
    assert_eq!(carrier_message_ids.len(), 3);
    let cursor = *store.subscribe().borrow();

    // The carrier cancelled 0 and 1; the list also names the delivered 2 and a segment that does not exist.
    let applied = store
        .record_carrier_cancel(id, vec![0, 1, 2, 9])
        .await
        .expect("record");
    assert_eq!(
        applied,
        CarrierCancelApplied {
            cancelled: 2,
            unchanged: 2,
            message_state: MessageState::Cancelled,
        }
    );
    let m = store.get(id).await.expect("get").expect("present");
    assert_eq!(m.state, MessageState::Cancelled);
    let states: Vec<_> = m.segments.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            MessageState::Cancelled,
            MessageState::Cancelled,
            MessageState::Delivered
        ]
    );
    assert!(m.segments[0].final_at.is_some());
    let events: Vec<_> = store
        .events_after(cursor, &[], 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| match e.data {
            EventData::StateChange { old, new, segment } => (old, new, segment),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                Some(MessageState::Submitted),
                MessageState::Cancelled,
                Some(0)
            ),
            (
                Some(MessageState::Submitted),
                MessageState::Cancelled,
                Some(1)
            ),
            (Some(MessageState::Submitted), MessageState::Cancelled, None),
        ]
    );

    // A late DELIVRD receipt for a cancelled segment keeps the state, records what the carrier said, and
    // writes no event; so does a DELETED one.
    let cursor = *store.subscribe().borrow();
    store
        .record_receipt(
            &carrier(),
            "C0",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    store
        .record_receipt(
            &carrier(),
            "C1",
            receipt(MessageState::Undeliverable, "DELETED"),
        )
        .await
        .expect("receipt");
    let m = store.get(id).await.expect("get").expect("present");
    assert_eq!(m.state, MessageState::Cancelled);
    assert_eq!(m.segments[0].state, MessageState::Cancelled);
    assert_eq!(m.segments[1].state, MessageState::Cancelled);
    assert_eq!(
        m.segments[0]
            .carrier_status
            .as_ref()
            .and_then(|s| s.stat.as_deref()),
        Some("DELIVRD")
    );
    assert_eq!(
        m.segments[1]
            .carrier_status
            .as_ref()
            .and_then(|s| s.stat.as_deref()),
        Some("DELETED")
    );
    assert!(
        store
            .events_after(cursor, &[], 100)
            .await
            .expect("events")
            .is_empty()
    );

    // Recording again changes nothing; an unknown message is NotFound.
    let again = store
        .record_carrier_cancel(id, vec![0, 1])
        .await
        .expect("record");
    assert_eq!(again.cancelled, 0);
    assert_eq!(again.unchanged, 2);
    let missing = MessageId::from_u64(4242).expect("id");
    assert!(matches!(
        store.record_carrier_cancel(missing, vec![0]).await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

#[tokio::test]
async fn carrier_cancel_of_a_single_segment_and_of_a_requeued_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let single = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    submit_all(&store, "A").await;
    let applied = store
        .record_carrier_cancel(single, vec![0])
        .await
        .expect("record");
    assert_eq!(applied.cancelled, 1);
    assert_eq!(applied.message_state, MessageState::Cancelled);
    // One event for a single-part message: the message's own.
    let last = store.events_after(0, &[], 100).await.expect("events");
    assert!(matches!(
        last.last().map(|e| &e.data),
        Some(EventData::StateChange {
            old: Some(MessageState::Submitted),
            new: MessageState::Cancelled,
            segment: None
        })
    ));

    // A segment sent, then requeued after an unknown outcome of a resend: the carrier cancelled the copy it
    // had, so the queued resend must not go out.
    let two = submit_one(&store, msg("im", None, Priority::Normal, 1)).await;
    let ds = store.claim(&carrier(), 10, now_far()).await.expect("claim");
    assert_eq!(ds.len(), 1);
    store
        .record_outcome(
            ds[0].key(),
            Outcome::Unknown {
                reason: "timeout".into(),
            },
        )
        .await
        .expect("outcome");
    assert_eq!(store.queue_stats()[&carrier()].queued, 1);
    let applied = store
        .record_carrier_cancel(two, vec![0])
        .await
        .expect("record");
    assert_eq!(applied.cancelled, 1);
    assert_eq!(store.queue_stats()[&carrier()].queued, 0);
    assert!(
        store
            .claim(&carrier(), 10, now_far())
            .await
            .expect("claim")
            .is_empty(),
        "the cancelled segment is not sent again"
    );
    store.close().await;
}

fn shared_for_test() -> Arc<Shared> {
    let (cursor, _) = watch::channel(0);
    Arc::new(Shared {
        recent: RwLock::new(RecentEvents::default()),
        stats: RwLock::new(HashMap::new()),
        resends: AtomicU64::new(0),
        unmatched: AtomicU64::new(0),
        held: AtomicU64::new(0),
        commits: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        pruned: AtomicU64::new(0),
        syncs: AtomicU64::new(0),
        cursor,
    })
}

/// A committed group of one request whose answer goes to `answered`, with one event at `cursor`.
fn committed(cursor: u64, answered: std::sync::mpsc::Sender<Option<String>>) -> Committed {
    let done: Done = Box::new(move |e: Option<&StoreError>| {
        let _ = answered.send(e.map(|e| e.to_string()));
    });
    Committed {
        done: vec![done],
        events: vec![Event {
            cursor,
            time: UnixMs::now(),
            message_id: MessageId::from_u64(cursor).expect("a valid id"),
            data: EventData::StateChange {
                old: None,
                new: MessageState::Accepted,
                segment: None,
            },
        }],
        forget_recent: false,
        snapshot: Snapshot {
            stats: HashMap::new(),
            resends: 0,
            unmatched: 0,
            held: 0,
            last_cursor: cursor,
            requests: 1,
        },
    }
}

#[test]
fn syncer_answers_and_publishes_only_after_the_sync() {
    let shared = shared_for_test();
    // The sync blocks until the test lets it go.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let syncer = spawn_syncer(
        Box::new(move || {
            gate.recv()
                .map_err(|_| std::io::Error::other("gate closed"))?;
            Ok(())
        }),
        shared.clone(),
    )
    .expect("syncer");
    let (answered, answers) = std::sync::mpsc::channel();
    syncer
        .tx
        .send(committed(1, answered.clone()))
        .expect("send");
    syncer.tx.send(committed(2, answered)).expect("send");
    assert!(
        answers.recv_timeout(Duration::from_millis(200)).is_err(),
        "answered before the WAL sync"
    );
    assert_eq!(
        *shared.cursor.borrow(),
        0,
        "cursor published before the sync"
    );
    assert_eq!(shared.commits.load(Ordering::Relaxed), 0);
    // Two syncs at most for the two groups (one when the second joined the first).
    release.send(()).expect("release");
    let _ = release.send(());
    for _ in 0..2 {
        let a = answers
            .recv_timeout(Duration::from_secs(5))
            .expect("answered after the sync");
        assert_eq!(a, None, "a synced group is answered without error");
    }
    assert_eq!(*shared.cursor.borrow(), 2);
    assert_eq!(shared.commits.load(Ordering::Relaxed), 2);
    assert_eq!(shared.requests.load(Ordering::Relaxed), 2);
    let recent = shared
        .recent
        .read()
        .expect("lock")
        .after(0, i64::MAX, 10, 2);
    let cursors: Vec<u64> = recent
        .expect("in memory")
        .iter()
        .map(|e| e.cursor)
        .collect();
    assert_eq!(cursors, vec![1, 2]);
    drop(syncer.tx);
    syncer
        .handle
        .join()
        .expect("syncer stops when the writer goes");
}

#[test]
fn failed_wal_sync_answers_the_requests_with_the_error() {
    let shared = shared_for_test();
    let syncer = spawn_syncer(
        Box::new(|| Err(std::io::Error::other("disk on fire"))),
        shared.clone(),
    )
    .expect("syncer");
    let (answered, answers) = std::sync::mpsc::channel();
    syncer.tx.send(committed(1, answered)).expect("send");
    let a = answers
        .recv_timeout(Duration::from_secs(5))
        .expect("answered");
    let e = a.expect("an error, not a success");
    assert!(e.contains("syncing the WAL"), "{e}");
    assert!(e.contains("disk on fire"), "{e}");
    drop(syncer.tx);
    syncer.handle.join().expect("join");
}

#[tokio::test]
async fn full_durability_syncs_the_wal_off_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let before = store.counters();
    for i in 0..20 {
        submit_one(
            &store,
            msg("c", Some(&format!("r{i}")), Priority::Normal, 1),
        )
        .await;
    }
    let after = store.counters();
    let syncs = after.wal_syncs - before.wal_syncs;
    let commits = after.commits - before.commits;
    // One at a time: each submit waited for its own commit and sync.
    assert_eq!(commits, 20);
    assert!(
        (1..=commits).contains(&syncs),
        "{syncs} WAL syncs for {commits} commits"
    );
    store.close().await;

    // With NORMAL nothing is synced at commit, and the syncer does not run.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SqliteConfig::new(dir.path().join("store.db"));
    config.synchronous = Synchronous::Normal;
    let store = Store::open_sqlite_with(config).await.expect("open");
    submit_one(&store, msg("c", None, Priority::Normal, 1)).await;
    assert_eq!(store.counters().wal_syncs, 0);
    store.close().await;
}

#[tokio::test]
async fn receipts_that_never_come_end_unknown_after_the_receipt_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let valid_until = UnixMs::now().plus_ms(DAY);
    let globex = CarrierId::new("globex");
    // a: two parts wanting receipts; b: asks for none; c: another carrier.
    let mut m = msg("im", None, Priority::Normal, 2);
    m.valid_until = valid_until;
    let a = submit_one(&store, m).await;
    let mut m = msg("im", None, Priority::Normal, 1);
    m.valid_until = valid_until;
    m.want_receipt = false;
    let b = submit_one(&store, m).await;
    let mut m = msg("im", None, Priority::Normal, 1);
    m.valid_until = valid_until;
    m.carrier = globex.clone();
    let c = submit_one(&store, m).await;
    let mut ds = store.claim(&carrier(), 10, now_far()).await.expect("claim");
    ds.extend(store.claim(&globex, 10, now_far()).await.expect("claim"));
    assert_eq!(ds.len(), 4);
    for d in &ds {
        store
            .record_outcome(
                d.key(),
                Outcome::Submitted {
                    carrier_message_id: format!("{}-{}", d.message_id, d.segment),
                    carrier_message_id_raw: format!("{}-{}", d.message_id, d.segment),
                },
            )
            .await
            .expect("outcome");
    }
    store
        .record_receipt(
            &carrier(),
            &format!("{a}-0"),
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");

    // Not yet: the validity has not run out before the cut-off.
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until)])
            .await
            .expect("give up")
            .total(),
        0
    );
    assert_eq!(
        store.get(a).await.expect("get").expect("a").state,
        MessageState::Submitted
    );
    let (_, cursor_before) = {
        let evs = store.events_after(0, &[], 1_000).await.expect("events");
        (evs.len(), evs.last().map(|e| e.cursor).unwrap_or(0))
    };

    // Past it: the part still waiting ends UNKNOWN, and so does the message (one part's fate is unknown).
    let ended = store
        .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
        .await
        .expect("give up")
        .total();
    assert_eq!(ended, 1, "only a's second part was waiting");
    let got = store.get(a).await.expect("get").expect("a");
    assert_eq!(got.state, MessageState::Unknown);
    assert!(got.final_at.is_some());
    assert_eq!(got.segments[0].state, MessageState::Delivered);
    assert_eq!(got.segments[1].state, MessageState::Unknown);
    let why = got.segments[1].last_error.clone().expect("a reason");
    assert!(why.contains("receipt_timeout"), "{why}");
    let evs = store
        .events_after(cursor_before, &[], 1_000)
        .await
        .expect("events");
    let to_unknown: Vec<Option<u16>> = evs
        .iter()
        .filter(|e| e.message_id == a)
        .filter_map(|e| match e.data {
            EventData::StateChange {
                new: MessageState::Unknown,
                segment,
                ..
            } => Some(segment),
            _ => None,
        })
        .collect();
    assert_eq!(
        to_unknown,
        vec![Some(1), None],
        "segment then message event"
    );

    // b asked for no receipt: SUBMITTED is its last state, finished (final_at) and never ended UNKNOWN.
    let got = store.get(b).await.expect("get").expect("b");
    assert_eq!(got.state, MessageState::Submitted);
    assert!(
        got.final_at.is_some(),
        "a no-receipt message is finished when submitted"
    );
    // c belongs to another carrier, with its own timeout.
    let got = store.get(c).await.expect("get").expect("c");
    assert_eq!(got.state, MessageState::Submitted);
    assert!(got.final_at.is_none());
    let gave_up = store
        .give_up_receipts(&[(globex.clone(), valid_until.plus_ms(1))])
        .await
        .expect("give up");
    assert_eq!(gave_up.segments, HashMap::from([(globex.clone(), 1)]));
    assert_eq!(
        store.get(c).await.expect("get").expect("c").state,
        MessageState::Unknown
    );
    // Counted per carrier since the store opened (the metrics read it): one of a's parts, and c.
    let stats = store.queue_stats();
    assert_eq!(stats.get(&carrier()).map(|s| s.receipts_given_up), Some(1));
    assert_eq!(stats.get(&globex).map(|s| s.receipts_given_up), Some(1));
    // Nothing left to end.
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
            .await
            .expect("give up")
            .total(),
        0
    );
    store.close().await;
}

/// Submits `m` (validity `valid_until`), sends each segment and maps it to carrier id `{tag}-{segment}`.
async fn submit_and_send(
    store: &Store,
    mut m: NewMessage,
    valid_until: UnixMs,
    tag: &str,
) -> MessageId {
    m.valid_until = valid_until;
    let id = submit_one(store, m).await;
    for d in store
        .claim(&carrier(), 300, now_far())
        .await
        .expect("claim")
    {
        let cid = format!("{tag}-{}", d.segment);
        store
            .record_outcome(d.key(), submitted(&cid, &cid))
            .await
            .expect("outcome");
    }
    id
}

/// The state changes of message `id` after `cursor`: (cursor, old, new, segment).
async fn changes_of(
    store: &Store,
    id: MessageId,
    after: u64,
) -> Vec<(u64, Option<MessageState>, MessageState, Option<u16>)> {
    store
        .events_after(after, &[], 1_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.message_id == id)
        .filter_map(|e| match e.data {
            EventData::StateChange { old, new, segment } => Some((e.cursor, old, new, segment)),
            _ => None,
        })
        .collect()
}

fn last_cursor(changes: &[(u64, Option<MessageState>, MessageState, Option<u16>)]) -> u64 {
    changes.last().map(|c| c.0).expect("an event")
}

#[tokio::test]
async fn a_final_receipt_after_the_receipt_timeout_replaces_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let valid_until = UnixMs::now().plus_ms(DAY);
    let id = submit_and_send(
        &store,
        msg("im", None, Priority::Normal, 1),
        valid_until,
        "late",
    )
    .await;
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
            .await
            .expect("give up")
            .total(),
        1
    );
    let unknown = store.get(id).await.expect("get").expect("present");
    assert_eq!(unknown.state, MessageState::Unknown);
    let unknown_at = unknown.final_at.expect("final");
    let before = changes_of(&store, id, 0).await;
    let unknown_cursor = last_cursor(&before);
    assert_eq!(
        before.last().map(|c| (c.1, c.2, c.3)),
        Some((Some(MessageState::Submitted), MessageState::Unknown, None))
    );

    // A non-final receipt records its fields and changes nothing else, as on any final segment.
    let enroute = receipt(MessageState::Submitted, "ENROUTE");
    store
        .record_receipt(&carrier(), "late-0", enroute.clone())
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Unknown);
    assert_eq!(got.segments[0].carrier_status, Some(enroute.status));
    assert_eq!(got.final_at, Some(unknown_at));
    assert!(changes_of(&store, id, unknown_cursor).await.is_empty());

    // The carrier's final word, however late, replaces UNKNOWN: the receipt still finds its segment.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let delivered = receipt(MessageState::Delivered, "DELIVRD");
    let found = store
        .record_receipt(&carrier(), "late-0", delivered.clone())
        .await
        .expect("receipt");
    assert_eq!(
        found,
        ReceiptMatch::Matched {
            message_id: id,
            segment: 0
        }
    );
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Delivered);
    let seg = &got.segments[0];
    assert_eq!(seg.state, MessageState::Delivered);
    assert_eq!(seg.carrier_status, Some(delivered.status));
    let final_at = got.final_at.expect("final");
    assert!(final_at > unknown_at, "{final_at:?} after {unknown_at:?}");
    assert_eq!(seg.final_at, Some(final_at));
    // Why it had ended UNKNOWN stays on record (the receipt was late).
    let why = seg.last_error.clone().unwrap_or_default();
    assert!(why.contains("receipt_timeout"), "{why}");

    // Events: SUBMITTED -> UNKNOWN, then UNKNOWN -> DELIVERED, cursors increasing.
    let after = changes_of(&store, id, unknown_cursor).await;
    assert_eq!(
        after.iter().map(|c| (c.1, c.2, c.3)).collect::<Vec<_>>(),
        vec![(Some(MessageState::Unknown), MessageState::Delivered, None)]
    );
    assert!(after[0].0 > unknown_cursor);

    // The segment waits for nothing now: the receipt timeout never ends it again.
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
            .await
            .expect("give up")
            .total(),
        0
    );
    let again = store.get(id).await.expect("get").expect("present");
    assert_eq!(again.state, MessageState::Delivered);
    assert_eq!(again.final_at, Some(final_at));
    store.close().await;
}

#[tokio::test]
async fn a_late_receipt_for_an_unknown_part_derives_the_message_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let valid_until = UnixMs::now().plus_ms(DAY);
    let id = submit_and_send(
        &store,
        msg("im", None, Priority::Normal, 3),
        valid_until,
        "multi",
    )
    .await;
    store
        .record_receipt(
            &carrier(),
            "multi-0",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
            .await
            .expect("give up")
            .total(),
        2
    );
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Unknown);
    let unknown_at = got.final_at.expect("final");
    let cursor = last_cursor(&changes_of(&store, id, 0).await);

    // Part 1's receipt comes: the part is DELIVERED, the message stays UNKNOWN (part 2 still is).
    store
        .record_receipt(
            &carrier(),
            "multi-1",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    let states: Vec<_> = got.segments.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        vec![
            MessageState::Delivered,
            MessageState::Delivered,
            MessageState::Unknown
        ]
    );
    assert_eq!(got.state, MessageState::Unknown);
    assert_eq!(got.final_at, Some(unknown_at));
    let changes = changes_of(&store, id, cursor).await;
    assert_eq!(
        changes.iter().map(|c| (c.1, c.2, c.3)).collect::<Vec<_>>(),
        vec![(
            Some(MessageState::Unknown),
            MessageState::Delivered,
            Some(1)
        )]
    );
    let cursor = last_cursor(&changes);

    // Part 2's: every part is delivered, so is the message, and it is final from now.
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .record_receipt(
            &carrier(),
            "multi-2",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Delivered);
    assert!(got.final_at.expect("final") > unknown_at);
    let changes = changes_of(&store, id, cursor).await;
    assert_eq!(
        changes.iter().map(|c| (c.1, c.2, c.3)).collect::<Vec<_>>(),
        vec![
            (
                Some(MessageState::Unknown),
                MessageState::Delivered,
                Some(2)
            ),
            (Some(MessageState::Unknown), MessageState::Delivered, None),
        ]
    );
    assert!(cursor < changes[0].0 && changes[0].0 < changes[1].0);
    assert_eq!(
        store
            .give_up_receipts(&[(carrier(), valid_until.plus_ms(1))])
            .await
            .expect("give up")
            .total(),
        0
    );
    store.close().await;
}

#[tokio::test]
async fn a_later_receipt_never_changes_a_final_state_other_than_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let id = submit_and_send(
        &store,
        msg("im", None, Priority::Normal, 1),
        UnixMs::now().plus_ms(DAY),
        "twice",
    )
    .await;
    store
        .record_receipt(
            &carrier(),
            "twice-0",
            receipt(MessageState::Delivered, "DELIVRD"),
        )
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Delivered);
    let delivered_at = got.final_at.expect("final");
    let cursor = last_cursor(&changes_of(&store, id, 0).await);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let undeliv = receipt(MessageState::Undeliverable, "UNDELIV");
    store
        .record_receipt(&carrier(), "twice-0", undeliv.clone())
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Delivered);
    assert_eq!(got.segments[0].state, MessageState::Delivered);
    assert_eq!(got.final_at, Some(delivered_at));
    assert_eq!(got.segments[0].final_at, Some(delivered_at));
    // Its fields are recorded, as for every final receipt: the status shows what the carrier said last.
    assert_eq!(got.segments[0].carrier_status, Some(undeliv.status));
    assert!(changes_of(&store, id, cursor).await.is_empty());

    // An intermediate receipt that was overtaken (ENROUTE after the final one) records nothing.
    let enroute = receipt(MessageState::Submitted, "ENROUTE");
    store
        .record_receipt(&carrier(), "twice-0", enroute)
        .await
        .expect("receipt");
    let got = store.get(id).await.expect("get").expect("present");
    assert_eq!(got.state, MessageState::Delivered);
    assert_eq!(
        got.segments[0]
            .carrier_status
            .as_ref()
            .and_then(|s| s.stat.as_deref()),
        Some("UNDELIV")
    );
    store.close().await;
}

#[test]
fn the_receipt_timeout_reads_its_partial_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = Connection::open(dir.path().join("plan.db")).expect("open");
    schema::migrate(&mut conn).expect("migrate");
    let plan: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "EXPLAIN QUERY PLAN
                 SELECT id, carrier, valid_until FROM messages
                 WHERE state = 2 AND want_receipt = 1 AND valid_until < ?1
                 ORDER BY valid_until",
            )
            .expect("prepare");
        stmt.query_map(params![0], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let text = plan.join("\n");
    assert!(
        text.contains("USING INDEX messages_awaiting_receipt"),
        "{text}"
    );
    assert!(!text.contains("TEMP B-TREE"), "{text}");
}
