//! Load bench of the SQLite store: submits per second with group commit under many concurrent submitters,
//! and the whole per-message cost (submit, claim, outcome, receipt) end to end.
//!
//! `cargo bench --bench store` (env: `STORE_BENCH_N` messages per scenario, default 100000;
//! `STORE_BENCH_SYNC=normal` for synchronous=NORMAL; `STORE_BENCH_DIR` for the database directory).
//! Results go into `benches/notes-store.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smsbridge::model::{
    Body, CarrierId, CarrierStatus, ClientId, MessageState, NewMessage, Priority, UnixMs,
};
use smsbridge::store::{Outcome, Receipt, SqliteConfig, Store, Synchronous};
use tokio::task::JoinSet;

fn message(n: u64) -> NewMessage {
    NewMessage {
        client: ClientId::new("bench"),
        client_ref: Some(format!("b-{n}")),
        to: format!("+4470{n:08}"),
        from: "Bridge".into(),
        body: Body::Text("Your code is 123456".into()),
        segments: vec![b"Your code is 123456".to_vec()],
        encoding: "gsm7".into(),
        carrier: CarrierId::new("bench"),
        priority: Priority::Normal,
        want_receipt: true,
        valid_until: UnixMs::now().plus_ms(86_400_000),
        tags: BTreeMap::new(),
    }
}

/// CPU time (user + system) from a /proc stat line, in clock ticks of 10 ms.
fn stat_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time of the store's writer thread so far (the one thread every write goes through).
fn writer_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == "store-writer" {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            return stat_cpu(&stat).unwrap_or(Duration::ZERO);
        }
    }
    Duration::ZERO
}

/// CPU time of the whole process so far.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat_cpu(&stat).unwrap_or(Duration::ZERO)
}

/// "writer X µs/msg (capacity Y msgs/s on one core), process Z µs/msg": robust to a busy machine.
fn cpu_line(n: u64, process_before: Duration) -> String {
    let w = writer_cpu().as_secs_f64() * 1e6 / n as f64;
    let p = (process_cpu().saturating_sub(process_before)).as_secs_f64() * 1e6 / n as f64;
    format!(
        "writer CPU {w:.1} us/msg (one core sustains {:.0} msgs/s), whole process {p:.1} us/msg",
        1e6 / w.max(0.001)
    )
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn open(dir: &std::path::Path, name: &str) -> Store {
    let sync = match std::env::var("STORE_BENCH_SYNC").as_deref() {
        Ok("normal") => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    Store::open_sqlite_with(SqliteConfig {
        synchronous: sync,
        ..SqliteConfig::new(path)
    })
    .await
    .expect("open")
}

/// `clients` tasks each submit `per_request` messages per call until `n` are stored.
async fn submits(dir: &std::path::Path, n: u64, clients: u64, per_request: u64) {
    let store = open(dir, "submit.db").await;
    let cpu0 = process_cpu();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..clients {
        let store = store.clone();
        let next = next.clone();
        set.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let first = next.fetch_add(per_request, std::sync::atomic::Ordering::Relaxed);
                if first >= n {
                    break;
                }
                let msgs = (first..(first + per_request).min(n)).map(message).collect();
                let t = Instant::now();
                for r in store.submit(msgs).await {
                    r.expect("submit");
                }
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = set.join_next().await {
        lat.extend(r.expect("client"));
    }
    let took = started.elapsed();
    lat.sort();
    let c = store.counters();
    println!(
        "submit  clients={clients:<4} msgs/request={per_request:<4} n={n}: {:>8.0} msgs/s  commits={} \
         ({:.1} requests/commit)  latency p50={:?} p99={:?}",
        n as f64 / took.as_secs_f64(),
        c.commits,
        c.write_requests as f64 / c.commits.max(1) as f64,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    println!("        {}", cpu_line(n, cpu0));
    store.close().await;
}

fn delivered() -> Receipt {
    Receipt {
        state: MessageState::Delivered,
        status: CarrierStatus {
            stat: Some("DELIVRD".into()),
            err: Some("000".into()),
            ..CarrierStatus::default()
        },
        received_at: UnixMs::now(),
    }
}

/// The full cycle with batched outcomes and receipts: the dispatcher records a claimed window's outcomes in
/// one request and their receipts in another (as a link draining its responses would).
async fn end_to_end_batched(dir: &std::path::Path, n: u64, clients: u64) {
    let store = open(dir, "e2e-batched.db").await;
    let cpu0 = process_cpu();
    let carrier = CarrierId::new("bench");
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut submitters = JoinSet::new();
    for _ in 0..clients {
        let store = store.clone();
        let next = next.clone();
        submitters.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                for r in store.submit(vec![message(i)]).await {
                    r.expect("submit");
                }
            }
        });
    }
    let mut links = JoinSet::new();
    for _ in 0..4 {
        let store = store.clone();
        let carrier = carrier.clone();
        links.spawn(async move {
            let mut done = 0u64;
            let deadline = Instant::now() + Duration::from_secs(600);
            while Instant::now() < deadline {
                let ds = store
                    .claim(&carrier, 256, UnixMs::now())
                    .await
                    .expect("claim");
                if ds.is_empty() {
                    if store
                        .queue_stats()
                        .get(&carrier)
                        .map(|s| s.total())
                        .unwrap_or(0)
                        == 0
                        && next_done(&store, n).await
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                let outcomes = ds
                    .iter()
                    .map(|d| {
                        let cid = format!("{:x}", d.message_id.as_u64());
                        (
                            d.key(),
                            Outcome::Submitted {
                                carrier_message_id: cid.clone(),
                                carrier_message_id_raw: cid,
                            },
                        )
                    })
                    .collect();
                for r in store.record_outcomes(outcomes).await {
                    r.expect("outcome");
                }
                let receipts = ds
                    .iter()
                    .map(|d| {
                        (
                            carrier.clone(),
                            format!("{:x}", d.message_id.as_u64()),
                            delivered(),
                        )
                    })
                    .collect();
                for r in store.record_receipts(receipts).await {
                    r.expect("receipt");
                }
                done += ds.len() as u64;
            }
            done
        });
    }
    while let Some(r) = submitters.join_next().await {
        r.expect("submitter");
    }
    let mut done = 0;
    while let Some(r) = links.join_next().await {
        done += r.expect("link");
    }
    let took = started.elapsed();
    let c = store.counters();
    println!(
        "e2e-batched clients={clients:<4} n={n}: {done} delivered, {:>8.0} msgs/s end to end (submit+claim+outcome+receipt)  \
         commits={} ({:.1} requests/commit)",
        done as f64 / took.as_secs_f64(),
        c.commits,
        c.write_requests as f64 / c.commits.max(1) as f64,
    );
    println!("        {}", cpu_line(n, cpu0));
    store.close().await;
}

/// True once every submitted message is final (checked by the event cursor: 4 events per delivered message).
async fn next_done(store: &Store, n: u64) -> bool {
    *store.subscribe().borrow() >= 4 * n
}

/// The full cycle per message: submit (clients), claim (one dispatcher), Submitted outcome and a DELIVRD
/// receipt (one task per segment, as links would), until all `n` are DELIVERED.
async fn end_to_end(dir: &std::path::Path, n: u64, clients: u64) {
    let store = open(dir, "e2e.db").await;
    let cpu0 = process_cpu();
    let carrier = CarrierId::new("bench");
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut submitters = JoinSet::new();
    for _ in 0..clients {
        let store = store.clone();
        let next = next.clone();
        submitters.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                for r in store.submit(vec![message(i)]).await {
                    r.expect("submit");
                }
            }
        });
    }
    let dispatcher = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut done = 0u64;
            let mut links = JoinSet::new();
            let deadline = Instant::now() + Duration::from_secs(600);
            while done < n && Instant::now() < deadline {
                // A window of in-flight segments, like an SMPP bind's.
                while links.len() < 2048 {
                    let ds = store
                        .claim(&carrier, 512, UnixMs::now())
                        .await
                        .expect("claim");
                    if ds.is_empty() {
                        break;
                    }
                    for d in ds {
                        let store = store.clone();
                        let carrier = carrier.clone();
                        links.spawn(async move {
                            let cid = format!("{:x}", d.message_id.as_u64());
                            store
                                .record_outcome(
                                    d.key(),
                                    Outcome::Submitted {
                                        carrier_message_id: cid.clone(),
                                        carrier_message_id_raw: cid.clone(),
                                    },
                                )
                                .await
                                .expect("outcome");
                            let receipt = Receipt {
                                state: MessageState::Delivered,
                                status: CarrierStatus {
                                    stat: Some("DELIVRD".into()),
                                    err: Some("000".into()),
                                    ..CarrierStatus::default()
                                },
                                received_at: UnixMs::now(),
                            };
                            store
                                .record_receipt(&carrier, &cid, receipt)
                                .await
                                .expect("receipt");
                        });
                    }
                }
                match links.join_next().await {
                    Some(r) => {
                        r.expect("link");
                        done += 1;
                    }
                    None => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
            done
        })
    };
    while let Some(r) = submitters.join_next().await {
        r.expect("submitter");
    }
    let done = dispatcher.await.expect("dispatcher");
    let took = started.elapsed();
    let c = store.counters();
    println!(
        "e2e     clients={clients:<4} n={n}: {done} delivered, {:>8.0} msgs/s end to end (submit+claim+outcome+receipt)  \
         commits={} ({:.1} requests/commit)",
        done as f64 / took.as_secs_f64(),
        c.commits,
        c.write_requests as f64 / c.commits.max(1) as f64,
    );
    println!("        {}", cpu_line(n, cpu0));
    store.close().await;
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then run a tiny smoke size.
    let benching = std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("STORE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 2_000 });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var("STORE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "store bench: synchronous={}, n={n}",
            std::env::var("STORE_BENCH_SYNC").unwrap_or_else(|_| "full".into())
        );
        submits(&dir, n.min(5_000), 1, 1).await;
        submits(&dir, n, 256, 1).await;
        submits(&dir, n, 16, 100).await;
        end_to_end(&dir, n, 256).await;
        end_to_end_batched(&dir, n, 256).await;
    });
}
