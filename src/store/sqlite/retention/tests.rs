//! Retention of the SQLite engine, through the [`Store`] interface: what is deleted, what never is, chunking,
//! the cursor error, and the reuse of freed pages.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::Connection;

use crate::model::{
    Body, CarrierId, CarrierStatus, ClientId, MessageId, MessageState, NewMessage, Priority, UnixMs,
};
use crate::store::{
    DispatchKey, Outcome, Receipt, RetentionPolicy, SqliteConfig, Store, StoreError, Synchronous,
};

const HOUR: i64 = 3_600_000;

fn carrier() -> CarrierId {
    CarrierId::new("acme")
}

fn msg(client_ref: Option<&str>, segments: usize, body_len: usize) -> NewMessage {
    NewMessage {
        client: ClientId::new("im"),
        client_ref: client_ref.map(str::to_owned),
        to: "+15551230000".into(),
        from: "Bridge".into(),
        body: Body::Text("x".repeat(body_len)),
        segments: (0..segments).map(|_| vec![b'a'; body_len.max(1)]).collect(),
        encoding: "gsm7".into(),
        carrier: carrier(),
        priority: Priority::Normal,
        want_receipt: true,
        valid_until: UnixMs::now().plus_ms(24 * HOUR),
        tags: BTreeMap::new(),
    }
}

async fn open(path: &std::path::Path, retention: RetentionPolicy) -> Store {
    Store::open_sqlite_with(SqliteConfig {
        synchronous: Synchronous::Normal,
        retention,
        ..SqliteConfig::new(path)
    })
    .await
    .expect("open store")
}

fn policy(finished: Option<i64>, events: Option<i64>, chunk_rows: usize) -> RetentionPolicy {
    let ms = |v: i64| Duration::from_millis(u64::try_from(v).expect("positive"));
    RetentionPolicy {
        keep_finished: finished.map(ms),
        keep_events: events.map(ms),
        chunk_rows,
    }
}

async fn submit(store: &Store, messages: Vec<NewMessage>) -> Vec<MessageId> {
    store
        .submit(messages)
        .await
        .into_iter()
        .map(|r| r.expect("accepted").id)
        .collect()
}

/// Claims up to `n` segments and records `Submitted` for each; returns their carrier ids.
async fn send(store: &Store, n: usize, tag: &str) -> Vec<String> {
    let ds = store
        .claim(&carrier(), n, UnixMs::now().plus_ms(1_000))
        .await
        .expect("claim");
    let outcomes: Vec<(DispatchKey, Outcome)> = ds
        .iter()
        .map(|d| {
            (
                d.key(),
                Outcome::Submitted {
                    carrier_message_id: format!("{tag}-{}-{}", d.message_id, d.segment),
                    carrier_message_id_raw: format!("{tag}-{}-{}", d.message_id, d.segment),
                },
            )
        })
        .collect();
    let ids = outcomes
        .iter()
        .map(|(_, o)| match o {
            Outcome::Submitted {
                carrier_message_id, ..
            } => carrier_message_id.clone(),
            _ => unreachable!("only Submitted is built above"),
        })
        .collect();
    for r in store.record_outcomes(outcomes).await {
        r.expect("outcome");
    }
    ids
}

async fn deliver(store: &Store, carrier_ids: &[String]) {
    let receipts = carrier_ids
        .iter()
        .map(|id| {
            (
                carrier(),
                id.clone(),
                Receipt {
                    state: MessageState::Delivered,
                    status: CarrierStatus {
                        stat: Some("DELIVRD".into()),
                        ..CarrierStatus::default()
                    },
                    received_at: UnixMs::now(),
                },
            )
        })
        .collect();
    for r in store.record_receipts(receipts).await {
        r.expect("receipt");
    }
}

fn count(path: &std::path::Path, query: &str) -> i64 {
    let conn = Connection::open(path).expect("raw open");
    conn.query_row(query, [], |r| r.get(0)).expect("count")
}

#[tokio::test]
async fn prune_deletes_only_finished_messages_in_bounded_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let chunk_rows = 10;
    let store = open(&path, policy(Some(HOUR), None, chunk_rows)).await;

    // 20 delivered, 5 submitted waiting for a receipt, 1 in flight, 4 queued; and a client_ref on a finished
    // one.
    let finished = submit(
        &store,
        (0..20)
            .map(|i| msg((i == 0).then_some("ref-0"), 1, 10))
            .collect(),
    )
    .await;
    let delivered = send(&store, 20, "d").await;
    deliver(&store, &delivered).await;
    let waiting = submit(&store, (0..5).map(|_| msg(None, 1, 10)).collect()).await;
    send(&store, 5, "w").await;
    let in_flight = submit(&store, vec![msg(None, 1, 10)]).await;
    let leased = store
        .claim(&carrier(), 1, UnixMs::now().plus_ms(1_000))
        .await
        .expect("claim");
    assert_eq!(leased.len(), 1);
    let queued = submit(&store, (0..4).map(|_| msg(None, 2, 10)).collect()).await;
    let events_before = count(&path, "SELECT COUNT(*) FROM events");

    // Nothing is older than the policy yet.
    let none = store.prune(UnixMs::now()).await.expect("prune");
    assert_eq!(none.rows(), 0, "{none:?}");

    // Far in the future: every finished message goes, nothing else does, whatever its age.
    let report = store
        .prune(UnixMs::now().plus_ms(3_650 * 24 * HOUR))
        .await
        .expect("prune");
    assert_eq!(report.messages, 20, "{report:?}");
    assert_eq!(report.segments, 20);
    assert_eq!(report.carrier_ids, 20);
    assert_eq!(report.events, 0, "events are not in this policy");
    assert!(!report.more);
    // Each chunk stays within its budget: 60 rows at most 10 (3 per message) each.
    assert!(report.chunks >= 6, "{report:?}");
    assert!(
        report.rows() <= report.chunks * chunk_rows as u64,
        "{report:?}"
    );
    assert_eq!(store.counters().pruned_rows, report.rows());

    for id in &finished {
        assert!(store.get(*id).await.expect("get").is_none(), "{id} pruned");
    }
    for id in waiting.iter().chain(&in_flight).chain(&queued) {
        let m = store.get(*id).await.expect("get").expect("kept");
        assert!(!m.state.is_final(), "{id} is {:?}", m.state);
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM messages"), 10);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM segments"), 5 + 1 + 8);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM carrier_ids"), 5);
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM events"),
        events_before,
        "keep_events is unset: the log is untouched"
    );

    // A pruned message's receipts no longer match; a live one's still do.
    let late = store
        .record_receipt(
            &carrier(),
            &delivered[3],
            Receipt {
                state: MessageState::Delivered,
                status: CarrierStatus::default(),
                received_at: UnixMs::now(),
            },
        )
        .await
        .expect("receipt");
    assert_eq!(late, crate::store::ReceiptMatch::Unmatched);

    // The client_ref is forgotten with its message: a retry stores a new one.
    let again = store.submit(vec![msg(Some("ref-0"), 1, 10)]).await;
    let again = again.into_iter().next().expect("answer").expect("accepted");
    assert!(!again.duplicate);
    assert_ne!(again.id, finished[0]);
    store.close().await;
}

#[tokio::test]
async fn the_finished_query_reads_its_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = Connection::open(dir.path().join("plan.db")).expect("open");
    super::super::schema::migrate(&mut conn).expect("migrate");
    let plan: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "EXPLAIN QUERY PLAN
                 SELECT m.id, m.seg_count FROM messages m
                 WHERE m.final_at IS NOT NULL AND m.final_at < ?1 AND m.state >= ?2
                   AND NOT EXISTS (SELECT 1 FROM segments s
                                   WHERE s.msg_id = m.id AND (s.state < ?2 OR s.lease IS NOT NULL))
                 ORDER BY m.final_at
                 LIMIT ?3",
            )
            .expect("prepare");
        stmt.query_map(rusqlite::params![0, 3, 10], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let text = plan.join("\n");
    assert!(text.contains("messages_final_at"), "{text}");
    assert!(!text.contains("TEMP B-TREE"), "{text}");
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN DELETE FROM carrier_ids WHERE msg_id = 1",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("carrier_ids_msg"), "{plan}");
}

#[tokio::test]
async fn pruned_events_make_an_old_cursor_an_error_and_cursors_are_never_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    // Events older than 30 ms go; messages stay (no keep_finished).
    let store = open(&path, policy(None, Some(30), 7)).await;
    submit(&store, (0..10).map(|_| msg(None, 1, 5)).collect()).await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    let mid = UnixMs::now();
    tokio::time::sleep(Duration::from_millis(40)).await;
    submit(&store, (0..3).map(|_| msg(None, 1, 5)).collect()).await;
    let all = store.events_after(0, &[], 1_000).await.expect("events");
    assert_eq!(all.len(), 26);
    let last_old = all.get(19).expect("20 old events").cursor;

    // Prune as if now were `mid + 30ms`: the 20 older events go, the 6 newer ones stay.
    let report = store.prune(mid.plus_ms(30)).await.expect("prune");
    assert_eq!(report.events, 20, "{report:?}");
    assert_eq!(report.messages, 0);
    assert!(report.chunks >= 3, "chunks of at most 7: {report:?}");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM messages"), 13);

    // From 0: everything still kept. From the pruning point: the same. From before it: an error naming it.
    let kept = store.events_after(0, &[], 1_000).await.expect("from 0");
    assert_eq!(kept.len(), 6);
    assert!(kept.iter().all(|e| e.cursor > last_old));
    let resumed = store
        .events_after(last_old, &[], 1_000)
        .await
        .expect("from the oldest cursor");
    assert_eq!(resumed, kept);
    for after in [1, last_old - 1] {
        match store.events_after(after, &[], 1_000).await {
            Err(StoreError::CursorPruned { after: a, oldest }) => {
                assert_eq!((a, oldest), (after, last_old));
            }
            other => panic!("cursor {after}: expected CursorPruned, got {other:?}"),
        }
    }
    assert!(matches!(
        store.wait_events(1, &[], 10).await,
        Err(StoreError::CursorPruned { .. })
    ));

    // Everything pruned, then a restart: the next cursor is still past every cursor handed out.
    let last = kept.last().expect("kept").cursor;
    let report = store
        .prune(UnixMs::now().plus_ms(HOUR))
        .await
        .expect("prune all");
    assert_eq!(report.events, 6);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM events"), 0);
    store.close().await;
    let store = open(&path, policy(None, Some(30), 7)).await;
    assert!(matches!(
        store.events_after(last - 1, &[], 10).await,
        Err(StoreError::CursorPruned { oldest, .. }) if oldest == last
    ));
    submit(&store, vec![msg(None, 1, 5)]).await;
    let fresh = store.events_after(last, &[], 10).await.expect("new events");
    assert_eq!(fresh.len(), 2);
    assert_eq!(fresh[0].cursor, last + 1, "no cursor is reused");
    store.close().await;
}

#[tokio::test]
async fn freed_pages_are_reused_instead_of_growing_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = open(&path, policy(Some(60_000), Some(60_000), 5_000)).await;
    let round = |tag: &'static str| {
        let store = store.clone();
        async move {
            for _ in 0..4 {
                submit(&store, (0..100).map(|_| msg(None, 1, 400)).collect()).await;
                let ids = send(&store, 100, tag).await;
                deliver(&store, &ids).await;
            }
        }
    };
    round("a").await;
    let pages_full = count(&path, "PRAGMA page_count");
    let report = store
        .prune(UnixMs::now().plus_ms(HOUR))
        .await
        .expect("prune");
    assert_eq!(report.messages, 400);
    let free = count(&path, "PRAGMA freelist_count");
    assert!(
        free > pages_full / 2,
        "pruning frees most pages: {free} of {pages_full}"
    );

    // The same load again fits in the freed pages.
    round("b").await;
    let pages_again = count(&path, "PRAGMA page_count");
    assert!(
        pages_again <= pages_full + pages_full / 10,
        "the file grew from {pages_full} to {pages_again} pages instead of reusing {free} free ones"
    );
    store.close().await;
}

#[tokio::test]
async fn a_message_without_receipt_is_pruned_once_submitted_and_one_waiting_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = open(&path, policy(Some(1), None, 100)).await;
    let mut no_receipt = msg(None, 1, 10);
    no_receipt.want_receipt = false;
    let ids = submit(&store, vec![no_receipt, msg(None, 1, 10)]).await;
    send(&store, 2, "s").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = store.prune(UnixMs::now()).await.expect("prune");
    assert_eq!(report.messages, 1, "{report:?}");
    assert!(
        store.get(ids[0]).await.expect("get").is_none(),
        "no-receipt message pruned"
    );
    let waiting = store.get(ids[1]).await.expect("get").expect("still kept");
    assert_eq!(waiting.state, MessageState::Submitted);
    store.close().await;
}
