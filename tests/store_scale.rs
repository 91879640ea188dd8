//! Scale: a deep queue lives on disk, not in memory. Queues many messages for a carrier that is down,
//! checks that the process's resident memory stays bounded, then restarts the store and checks that the queue
//! resumes in priority-then-age order.
//!
//! `SMSBRIDGE_SCALE_MESSAGES` sets the count (default 200,000; `benches/notes-store.md` records a 1,000,000 run).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use smsbridge::model::{Body, CarrierId, ClientId, MessageId, NewMessage, Priority, UnixMs};
use smsbridge::store::{SqliteConfig, Store, Synchronous};

/// VmRSS of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn priority_of(n: u64) -> Priority {
    Priority::ALL[(n % 4) as usize]
}

fn message(n: u64, valid_until: UnixMs) -> NewMessage {
    // ~460 bytes of content per message: held in memory, 200k of them would be ~90 MiB.
    let text = format!("{n:08} {}", "x".repeat(290));
    NewMessage {
        client: ClientId::new("bulk"),
        client_ref: Some(format!("scale-{n}")),
        to: format!("+4470{n:08}"),
        from: "Bridge".into(),
        body: Body::Text(text),
        segments: vec![vec![(n % 251) as u8; 160]],
        encoding: "gsm7".into(),
        carrier: CarrierId::new("down"),
        priority: priority_of(n),
        want_receipt: true,
        valid_until,
        tags: BTreeMap::new(),
    }
}

fn config(path: &std::path::Path) -> SqliteConfig {
    SqliteConfig {
        // The test measures memory and order, not power-loss durability; FULL is measured in the bench notes.
        synchronous: Synchronous::Normal,
        ..SqliteConfig::new(path)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_queue_stays_on_disk_and_resumes_in_order() {
    let total: u64 = std::env::var("SMSBRIDGE_SCALE_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scale.db");
    let carrier = CarrierId::new("down");
    let valid_until = UnixMs::now().plus_ms(86_400_000);

    let store = Store::open_sqlite_with(config(&path)).await.expect("open");
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut ids: Vec<MessageId> = Vec::with_capacity(total as usize);
    let batch = 1000;
    let mut n = 0;
    while n < total {
        let end = (n + batch).min(total);
        let msgs = (n..end).map(|i| message(i, valid_until)).collect();
        for r in store.submit(msgs).await {
            ids.push(r.expect("accepted").id);
        }
        n = end;
    }
    let submit_time = started.elapsed();
    // The ids themselves (8 bytes each) are the test's, not the store's: leave them out of the bound.
    let ids_kib = (ids.capacity() * 8 / 1024) as u64;
    let rss_after = rss_kib();
    let stats = store.queue_stats()[&carrier];
    assert_eq!(stats.queued, total);
    let t = Instant::now();
    let first = store
        .claim(&carrier, 100, UnixMs::now())
        .await
        .expect("claim");
    let claim_time = t.elapsed();
    assert_eq!(first.len(), 100);
    let grown = rss_after.saturating_sub(rss_before).saturating_sub(ids_kib);
    eprintln!(
        "scale: {total} messages queued in {submit_time:?} ({:.0}/s); RSS {rss_before} KiB -> {rss_after} KiB \
         (+{grown} KiB not counting {ids_kib} KiB of test ids); claim of 100 from a deep queue: {claim_time:?}",
        total as f64 / submit_time.as_secs_f64()
    );
    // Two 8 MiB page caches (writer, one reader) plus statement caches and allocator slack; the queue
    // itself would be ~90 MiB at 200k messages.
    assert!(
        grown < 48 * 1024,
        "RSS grew by {grown} KiB for {total} queued messages"
    );
    assert!(
        claim_time < Duration::from_secs(2),
        "claim took {claim_time:?}"
    );
    store.close().await;

    // Restart: the 100 claimed come back first (leased at the stop: resent), then the rest in order.
    let store = Store::open_sqlite_with(config(&path))
        .await
        .expect("reopen");
    assert_eq!(store.counters().resends, 100);
    let rss_reopen = rss_kib();
    assert!(
        rss_reopen.saturating_sub(rss_before) < 64 * 1024,
        "RSS after reopen {rss_reopen} KiB"
    );
    let mut claimed = Vec::new();
    let want = (total as usize).min(120_000);
    for _ in 0..10_000 {
        if claimed.len() >= want {
            break;
        }
        let ds = store
            .claim(&carrier, 500, UnixMs::now())
            .await
            .expect("claim");
        if ds.is_empty() {
            break;
        }
        claimed.extend(ds);
    }
    assert_eq!(claimed.len(), want);
    // Expected order: by priority (urgent first), then by id (age).
    let mut expected: Vec<(u8, MessageId)> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| (3 - priority_of(n as u64).code(), *id))
        .collect();
    expected.sort();
    let got: Vec<(u8, MessageId)> = claimed
        .iter()
        .map(|d| (3 - d.priority.code(), d.message_id))
        .collect();
    assert_eq!(
        got,
        expected[..want].to_vec(),
        "claims after a restart follow priority then age"
    );
    assert!(
        claimed[..100].iter().all(|d| d.resend),
        "those leased at the stop are resends"
    );
    assert!(claimed[100..].iter().all(|d| !d.resend));
    store.close().await;
}
