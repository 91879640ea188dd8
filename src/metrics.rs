//! The gateway's Prometheus metrics: per-carrier counters and histograms the dispatcher and the inbound
//! handlers update, the queue gauges read from the store at scrape time, and a minimal HTTP/1.1 responder
//! that serves them at `GET /metrics`.
//!
//! The SMPP link metrics ([`crate::link::smpp::SmppMetrics`]) are registered in the same [`Registry`], so
//! one scrape shows the whole gateway.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Latency buckets, seconds: from a millisecond to ten minutes.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 600.0,
];
/// Longest a scrape request may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// The gateway-level metric families (per carrier).
#[derive(Clone)]
pub struct GatewayMetrics {
    registry: Registry,
    /// Segments handed to a link (submit_sm written or queued on a bind).
    pub submitted: IntCounterVec,
    /// Segments the carrier accepted (submit_sm_resp ESME_ROK).
    pub accepted: IntCounterVec,
    /// Segments the carrier refused for good, or that we gave up on.
    pub failed: IntCounterVec,
    /// Transient answers (throttled, busy, queue full): retried later.
    pub throttles: IntCounterVec,
    /// Submits whose outcome is unknown (timeout, link lost): resent.
    pub unknown: IntCounterVec,
    /// Final delivery receipts, by state (DELIVERED, UNDELIVERABLE, ...).
    pub receipts: IntCounterVec,
    /// Receipts that said DELIVERED.
    pub delivered: IntCounterVec,
    /// MO messages committed.
    pub mo: IntCounterVec,
    /// Segments ended UNKNOWN: no receipt by the carrier's receipt_timeout (refreshed at scrape).
    pub receipts_given_up: IntCounterVec,
    /// Segments queued, in flight and waiting for a retry, per carrier (refreshed at scrape).
    pub queue: IntGaugeVec,
    /// Time from handing a segment to a link to the carrier's answer.
    pub accept_latency: HistogramVec,
    /// Time from the API accepting a message to a receipt for it.
    pub receipt_latency: HistogramVec,
    /// API calls refused for a missing or wrong token.
    pub api_auth_failures: IntCounter,
    /// Rows deleted by the store's retention (refreshed at scrape).
    pub store_pruned_rows: IntCounter,
    /// Store transactions committed (refreshed at scrape).
    pub store_commits: IntCounter,
    /// Syncs of the store's write-ahead log apart from the commits (refreshed at scrape).
    pub store_wal_syncs: IntCounter,
}

impl GatewayMetrics {
    /// Creates the families in a new registry.
    pub fn new() -> prometheus::Result<GatewayMetrics> {
        let registry = Registry::new();
        let c = |name: &str, help: &str| -> prometheus::Result<IntCounterVec> {
            let v = IntCounterVec::new(Opts::new(name, help), &["carrier"])?;
            registry.register(Box::new(v.clone()))?;
            Ok(v)
        };
        let h = |name: &str, help: &str| -> prometheus::Result<HistogramVec> {
            let v = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                &["carrier"],
            )?;
            registry.register(Box::new(v.clone()))?;
            Ok(v)
        };
        let queue = IntGaugeVec::new(
            Opts::new(
                "smsbridge_queue_segments",
                "Segments per carrier queue: queued, in_flight, retry_waiting",
            ),
            &["carrier", "state"],
        )?;
        registry.register(Box::new(queue.clone()))?;
        let receipts = IntCounterVec::new(
            Opts::new(
                "smsbridge_receipts_total",
                "Delivery receipts committed, by the state they mean",
            ),
            &["carrier", "state"],
        )?;
        registry.register(Box::new(receipts.clone()))?;
        let api_auth_failures = IntCounter::new(
            "smsbridge_api_auth_failures_total",
            "API calls refused for a missing or wrong token",
        )?;
        registry.register(Box::new(api_auth_failures.clone()))?;
        let store_pruned_rows = IntCounter::new(
            "smsbridge_store_pruned_rows_total",
            "Rows (messages, segments, carrier id mappings, events) deleted by retention",
        )?;
        registry.register(Box::new(store_pruned_rows.clone()))?;
        let store_commits = IntCounter::new(
            "smsbridge_store_commits_total",
            "Store transactions committed (each one a group of write requests)",
        )?;
        registry.register(Box::new(store_commits.clone()))?;
        let store_wal_syncs = IntCounter::new(
            "smsbridge_store_wal_syncs_total",
            "fdatasync calls on the store's write-ahead log made by the sync thread (each covers one or more commits)",
        )?;
        registry.register(Box::new(store_wal_syncs.clone()))?;
        Ok(GatewayMetrics {
            submitted: c(
                "smsbridge_segments_submitted_total",
                "Segments handed to a carrier link",
            )?,
            accepted: c(
                "smsbridge_segments_accepted_total",
                "Segments the carrier accepted (submit_sm_resp OK)",
            )?,
            failed: c(
                "smsbridge_segments_failed_total",
                "Segments refused for good by the carrier or given up",
            )?,
            throttles: c(
                "smsbridge_segments_throttled_total",
                "Transient answers (throttled, busy): retried later",
            )?,
            unknown: c(
                "smsbridge_segments_unknown_total",
                "Submits whose outcome is unknown (timeout, link lost): resent",
            )?,
            delivered: c(
                "smsbridge_segments_delivered_total",
                "Receipts that said DELIVERED",
            )?,
            mo: c("smsbridge_mo_total", "MO messages committed")?,
            receipts_given_up: c(
                "smsbridge_receipts_given_up_total",
                "Segments ended UNKNOWN because no receipt came within the carrier's receipt_timeout after the validity ran out",
            )?,
            accept_latency: h(
                "smsbridge_accept_latency_seconds",
                "Time from handing a segment to a link to the carrier's answer",
            )?,
            receipt_latency: h(
                "smsbridge_receipt_latency_seconds",
                "Time from the API accepting a message to its delivery receipt",
            )?,
            receipts,
            queue,
            api_auth_failures,
            store_pruned_rows,
            store_commits,
            store_wal_syncs,
            registry,
        })
    }

    /// The registry (register the link metrics into it).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text of every metric, after refreshing the gauges from `store` and `auth_failures`.
    pub fn render(&self, store: &Store, auth_failures: &AtomicU64) -> String {
        for (carrier, stats) in store.queue_stats() {
            let c = carrier.as_str();
            let set = |state: &str, v: u64| {
                self.queue
                    .with_label_values(&[c, state])
                    .set(i64::try_from(v).unwrap_or(i64::MAX));
            };
            set("queued", stats.queued);
            set("in_flight", stats.in_flight);
            set("retry_waiting", stats.retry_waiting);
            let given_up = self.receipts_given_up.with_label_values(&[c]);
            if stats.receipts_given_up > given_up.get() {
                given_up.inc_by(stats.receipts_given_up - given_up.get());
            }
        }
        let failures = auth_failures.load(Ordering::Relaxed);
        let seen = self.api_auth_failures.get();
        if failures > seen {
            self.api_auth_failures.inc_by(failures - seen);
        }
        let counters = store.counters();
        for (counter, now) in [
            (&self.store_pruned_rows, counters.pruned_rows),
            (&self.store_commits, counters.commits),
            (&self.store_wal_syncs, counters.wal_syncs),
        ] {
            let counted = counter.get();
            if now > counted {
                counter.inc_by(now - counted);
            }
        }
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(err) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %err, "encoding metrics failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub fn serve(
    listener: TcpListener,
    metrics: GatewayMetrics,
    store: Store,
    auth_failures: Arc<AtomicU64>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::warn!(error = %err, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let metrics = metrics.clone();
            let store = store.clone();
            let failures = Arc::clone(&auth_failures);
            tokio::spawn(async move {
                if let Err(err) = answer(stream, &metrics, &store, &failures).await {
                    tracing::debug!(error = %err, "metrics request failed");
                }
            });
        }
    })
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Reads one request head and answers it; one request per connection.
async fn answer(
    mut stream: TcpStream,
    metrics: &GatewayMetrics,
    store: &Store,
    failures: &AtomicU64,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return Ok(());
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = if method == "GET" && (path == "/metrics" || path == "/") {
        (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(store, failures),
        )
    } else {
        ("404 Not Found", "text/plain", "not found\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
