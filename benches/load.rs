//! End-to-end load test: gRPC clients -> `smsbridge serve` (durable SQLite store, one SMPP carrier) -> the SMSC
//! simulator in its own process -> delivery receipts -> back to the clients on `StreamEvents`.
//!
//! `cargo bench --bench load [-- MODE]`, MODE one of:
//! - `single` (default): concurrent clients, one message per `Submit`, every message wants a receipt; the run
//!   ends when every message's final event (DELIVERED, ...) arrived on `StreamEvents`.
//! - `batch`: the same through `SubmitBatch` (`LOAD_BATCH` messages per call, default 100).
//! - `noreceipt`: `Submit` with `want_receipt = false`; the run ends when every message is SUBMITTED.
//! - `half`: first a `single` run (the maximum), then an open-loop run at a fixed offered rate (`LOAD_RATE`
//!   msgs/s, default half the end-to-end rate just measured) that reports the accept latency percentiles,
//!   measured from each request's scheduled time (so a stall is not hidden by the clients waiting).
//! - `open`: only the open-loop run, at `LOAD_RATE` msgs/s (required).
//!
//! Environment: `LOAD_MESSAGES` (default 50,000), `LOAD_CLIENTS` (concurrent submitters, default 64),
//! `LOAD_CONNECTIONS` (HTTP/2 connections they share, default 4), `LOAD_BATCH`, `LOAD_RATE`,
//! `LOAD_TIMEOUT_SECS` (per run, default 120), `LOAD_GATEWAY_BIN` (another gateway binary, for A/B runs),
//! `LOAD_WINDOW` (SMPP window, default 256), `LOAD_LOG` (the gateway's log level, default warn), `LOAD_COALESCE=0` (the
//! clients' connections write each request on its own instead of coalescing what is ready together, as the
//! gateway does: `smsbridge::api::coalesce`), `LOAD_KEEP=1` keeps
//! the temp directory (config, store, logs) for inspection.
//!
//! The gateway binary is the one cargo builds for this package (`CARGO_BIN_EXE_smsbridge`, which cargo sets
//! for benches), so `cargo bench --bench load` builds it with the bench profile first. Both child processes are
//! ended (SIGTERM, then SIGKILL after 10 s) when the bench returns, also on failure. Every wait is bounded.
//! Each run prints one `RESULT key=value ...` line for scripts (`benches/kannel/run.sh`).

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// The load generator should be cheap: the same allocator as the gateway binary (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "load-test-token-0123456789";
const SMSC_ACCOUNT: (&str, &str) = ("smsbridge", "load");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Single,
    Batch,
    NoReceipt,
    Half,
    Open,
}

#[derive(Debug, Clone)]
struct Settings {
    mode: Mode,
    messages: usize,
    clients: usize,
    connections: usize,
    batch: usize,
    rate: Option<f64>,
    timeout: Duration,
    window: u32,
    keep: bool,
    coalesce: bool,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env_and_args() -> Settings {
        // cargo passes `--bench`; anything else not starting with '-' names the mode.
        let mode = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .or_else(|| std::env::var("LOAD_MODE").ok())
            .unwrap_or_else(|| "single".into());
        let mode = match mode.as_str() {
            "single" => Mode::Single,
            "batch" => Mode::Batch,
            "noreceipt" | "no-receipt" => Mode::NoReceipt,
            "half" => Mode::Half,
            "open" => Mode::Open,
            other => {
                panic!("unknown mode {other:?}: expected single, batch, noreceipt, half or open")
            }
        };
        Settings {
            mode,
            messages: env_num("LOAD_MESSAGES", 50_000usize).max(1),
            clients: env_num("LOAD_CLIENTS", 64usize).max(1),
            connections: env_num("LOAD_CONNECTIONS", 4usize).max(1),
            batch: env_num("LOAD_BATCH", 100usize).max(1),
            rate: std::env::var("LOAD_RATE")
                .ok()
                .map(|v| v.trim().parse().expect("LOAD_RATE is not a number")),
            timeout: Duration::from_secs(env_num("LOAD_TIMEOUT_SECS", 120u64)),
            window: env_num("LOAD_WINDOW", 256u32),
            keep: std::env::var("LOAD_KEEP").is_ok_and(|v| v == "1"),
            coalesce: std::env::var("LOAD_COALESCE").map_or(true, |v| v != "0"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

/// A child process that is ended when dropped: SIGTERM for the gateway (it drains and flushes its store),
/// SIGINT for the simulator (it prints its final counters), then SIGKILL if it is still there after 10 s.
struct Proc {
    name: &'static str,
    child: Child,
    /// The signal that asks it to stop: the simulator stops (and prints its counters) on SIGINT.
    signal: &'static str,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args([self.signal, &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "load: {} did not stop within 10 s of {}: killing it",
            self.name, self.signal
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (bound, then released: the child binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a loopback port to find a free one")
        .port()
}

fn start_simulator(bin: &Path, dir: &Path) -> (Proc, u16) {
    let stdout_path = dir.join("sim.out");
    let mut child = Command::new(bin)
        .args([
            "sim",
            "smsc",
            "--listen",
            "127.0.0.1:0",
            "--receipt-delay",
            "0",
        ])
        .args([
            "--account",
            &format!("{}:{}", SMSC_ACCOUNT.0, SMSC_ACCOUNT.1),
        ])
        .args(["--stats-every", "0", "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.join("sim.err")).expect("creating sim.err"))
        .spawn()
        .expect("starting `smsbridge sim smsc`");
    let stdout = child
        .stdout
        .take()
        .expect("the simulator's stdout is piped");
    let proc = Proc {
        name: "simulator",
        child,
        signal: "-INT",
    };
    // A thread reads the first line (`LISTENING <port>`), then copies the rest (the counters) to a file.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let _ = tx.send(first);
        if let Ok(mut out) = fs::File::create(stdout_path) {
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(out, "{line}");
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the simulator did not print `LISTENING <port>` within 15 s");
    let port = first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the simulator printed {first:?}, expected `LISTENING <port>`"));
    (proc, port)
}

fn gateway_config(dir: &Path, api: u16, metrics: u16, sim: u16, window: u32) -> String {
    // `LOAD_LOG=info` shows the store writer's commit count at the end, among other things.
    let log = std::env::var("LOAD_LOG").unwrap_or_else(|_| "warn".into());
    // `LOAD_MAX_WAIT=0ms` (any duration) sets the store's group_commit_max_wait.
    let max_wait = std::env::var("LOAD_MAX_WAIT").unwrap_or_else(|_| "0ms".into());
    format!(
        r#"# Written by benches/load.rs.
[gateway]
node_id = "load"
shutdown_timeout = "10s"

[api]
listen = "127.0.0.1:{api}"
max_batch_size = 1000
[[api.clients]]
name = "load"
token = "{TOKEN}"

[store]
engine = "sqlite"
[store.sqlite]
# Durable: WAL with synchronous=FULL (the default), one fsync per group commit.
path = "{db}"
group_commit_max_batch = 1024
group_commit_max_wait = "{max_wait}"

[metrics]
enabled = true
listen = "127.0.0.1:{metrics}"

[log]
level = "{log}"

[simulator]
enabled = false

[[carriers]]
id = "load"
# Far above what the run reaches: the limiter is not the bottleneck.
rate_limit = {{ per_second = 1000000 }}
message_id_format = "auto"

[[carriers.smpp]]
host = "127.0.0.1"
port = {sim}
system_id = "{sid}"
password = "{pw}"
bind = "transceiver"
window = {window}
response_timeout = "30s"
binds = 1
reconnect = {{ initial_backoff = "100ms", max_backoff = "1s", jitter = 0.2 }}

[[routes]]
prefix = "*"
carriers = ["load"]
"#,
        db = dir.join("smsbridge.db").display(),
        sid = SMSC_ACCOUNT.0,
        pw = SMSC_ACCOUNT.1,
    )
}

fn start_gateway(bin: &Path, config: &Path, dir: &Path) -> Proc {
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(fs::File::create(dir.join("gateway.out")).expect("creating gateway.out"))
        .stderr(fs::File::create(dir.join("gateway.err")).expect("creating gateway.err"))
        .spawn()
        .expect("starting `smsbridge serve`");
    Proc {
        name: "gateway",
        child,
        signal: "-TERM",
    }
}

/// Peak RSS (VmHWM, KiB) and CPU time (utime + stime) of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
struct ProcUsage {
    hwm_kib: u64,
    rss_kib: u64,
    cpu: Duration,
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn proc_usage(pid: u32, ticks: u64) -> ProcUsage {
    proc_usage_path(&format!("/proc/{pid}"), ticks)
}

/// As [`proc_usage`], for a `/proc/<pid>` or `/proc/<pid>/task/<tid>` directory.
fn proc_usage_path(dir: &str, ticks: u64) -> ProcUsage {
    let mut usage = ProcUsage::default();
    if let Ok(status) = fs::read_to_string(format!("{dir}/status")) {
        for line in status.lines() {
            let kib = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("VmHWM:") {
                usage.hwm_kib = kib(line);
            } else if line.starts_with("VmRSS:") {
                usage.rss_kib = kib(line);
            }
        }
    }
    if let Ok(stat) = fs::read_to_string(format!("{dir}/stat")) {
        // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14, 15.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let t = n(11) + n(12);
            usage.cpu = Duration::from_micros(t * 1_000_000 / ticks.max(1));
        }
    }
    usage
}

/// Whether a child process is still running (not exited, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| {
            st.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
}

/// CPU time of a process's threads, summed by thread name (`/proc/<pid>/task/*/comm`), largest first.
fn thread_cpu(pid: u32, ticks: u64) -> Vec<(String, Duration)> {
    let mut by_name: HashMap<String, Duration> = HashMap::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let comm = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let cpu = proc_usage_path(&format!("/proc/{pid}/task/{tid}"), ticks).cpu;
            *by_name.entry(comm.trim().to_string()).or_default() += cpu;
        }
    }
    let mut v: Vec<_> = by_name.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

fn thread_cpu_delta(
    before: &[(String, Duration)],
    after: &[(String, Duration)],
) -> Vec<(String, Duration)> {
    let mut v: Vec<_> = after
        .iter()
        .map(|(name, t)| {
            let b = before
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| *d)
                .unwrap_or_default();
            (name.clone(), t.saturating_sub(b))
        })
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

// ---------------------------------------------------------------------------------------------------------
// The client side

#[derive(Clone)]
struct Api {
    channels: Vec<Channel>,
    auth: MetadataValue<tonic::metadata::Ascii>,
}

impl Api {
    fn client(&self, i: usize) -> GatewayClient<Channel> {
        let ch = &self.channels[i % self.channels.len()];
        GatewayClient::new(ch.clone())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut r = Request::new(message);
        r.metadata_mut().insert("authorization", self.auth.clone());
        r
    }
}

async fn connect(addr: &str, connections: usize, coalesce: bool, deadline: Instant) -> Api {
    let auth: MetadataValue<_> = format!("Bearer {TOKEN}")
        .parse()
        .expect("the token is ASCII");
    let mut channels = Vec::new();
    for _ in 0..connections {
        loop {
            let endpoint = Endpoint::from_shared(addr.to_string())
                .expect("a valid URL")
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true);
            let connected = if coalesce {
                // The same TCP connection tonic would make, with the requests that are ready together
                // written in one go (`smsbridge::api::coalesce`): a load generator should be cheap.
                let target = endpoint.uri().authority().map(|a| a.to_string());
                endpoint
                    .connect_with_connector(tower::service_fn(move |_| {
                        let target = target.clone();
                        async move {
                            let target = target.ok_or_else(|| {
                                std::io::Error::new(
                                    std::io::ErrorKind::InvalidInput,
                                    "no host:port",
                                )
                            })?;
                            let stream = tokio::net::TcpStream::connect(target).await?;
                            stream.set_nodelay(true)?;
                            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                                smsbridge::api::coalesce::CoalescingIo::new(stream),
                            ))
                        }
                    }))
                    .await
            } else {
                endpoint.connect().await
            };
            match connected {
                Ok(ch) => {
                    channels.push(ch);
                    break;
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the gateway's API at {addr} did not answer in time: {e}"),
            }
        }
    }
    Api { channels, auth }
}

/// Waits (bounded) until the carrier's link is bound; returns the link states seen last.
async fn wait_bound(api: &Api, deadline: Instant) -> Vec<pb::LinkStatus> {
    let mut client = api.client(0);
    loop {
        let links = match client.status(api.request(pb::StatusRequest {})).await {
            Ok(s) => s.into_inner().links,
            Err(e) => panic!("Status failed: {e}"),
        };
        let bound = links.iter().any(|l| l.state.contains("BOUND"));
        if bound || Instant::now() >= deadline {
            return links;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn ts_us(ts: &Option<prost_types::Timestamp>) -> i64 {
    ts.as_ref()
        .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000)
        .unwrap_or(0)
}

fn message(i: usize, want_receipt: bool) -> pb::SubmitRequest {
    pb::SubmitRequest {
        to: format!("+4477{:08}", i % 100_000_000),
        from: "smsbridge".into(),
        body: Some(pb::submit_request::Body::Text(format!(
            "load test message {i}: hello from smsbridge"
        ))),
        want_receipt,
        ..Default::default()
    }
}

/// What the event consumer saw of one message (times in µs since the epoch, the gateway's clock).
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    submitted: Option<i64>,
    final_at: Option<i64>,
    final_kind: i32,
}

/// Everything one run measured.
#[derive(Debug, Default)]
struct RunResult {
    label: String,
    n: usize,
    accepted: usize,
    rejected: usize,
    first_error: Option<String>,
    /// From the start of the run to the last Submit answer, the last SUBMITTED event, the last final event.
    accept_elapsed: Duration,
    submitted_elapsed: Option<Duration>,
    final_elapsed: Option<Duration>,
    submitted_count: usize,
    final_count: usize,
    final_kinds: HashMap<i32, usize>,
    /// Submit RPC latency (open loop: from the scheduled time), µs.
    accept_lat: Vec<u64>,
    accept_to_submitted: Vec<u64>,
    accept_to_final: Vec<u64>,
    missing: usize,
    gw_cpu: Duration,
    sim_cpu: Duration,
    client_cpu: Duration,
    gw_hwm_kib: u64,
    /// The gateway's CPU time during the run by thread name.
    gw_threads: Vec<(String, Duration)>,
    wall: Duration,
    offered_rate: Option<f64>,
}

enum Load {
    /// `clients` tasks each submit as fast as answers come.
    Closed { batch: Option<usize> },
    /// One request every 1/rate s, whatever the answers do.
    Open { rate: f64 },
}

/// The event consumer: follows `StreamEvents` from `after` and records SUBMITTED and final events per message
/// id, until `target` messages (usize::MAX until every submit is answered) reached their goal (a final
/// event, or SUBMITTED without receipts), or the deadline.
async fn consume(
    api: Api,
    gateway_pid: u32,
    after: u64,
    want_final: bool,
    target: Arc<AtomicUsize>,
    deadline: Instant,
    start: Instant,
) -> (HashMap<String, Seen>, Option<Duration>, Option<Duration>) {
    use pb::EventKind as K;
    let mut kinds = vec![K::Submitted as i32];
    if want_final {
        kinds.extend(
            [
                K::Delivered,
                K::Undeliverable,
                K::Expired,
                K::Rejected,
                K::Failed,
                K::Cancelled,
            ]
            .map(|k| k as i32),
        );
    }
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let (mut done, mut last_submitted, mut last_final) = (0usize, None, None);
    let mut cursor = after;
    // Reconnects (bounded by the deadline) if the stream breaks.
    'outer: while Instant::now() < deadline {
        let mut client = api.client(0);
        let stream = client
            .stream_events(api.request(pb::StreamEventsRequest {
                after_cursor: cursor,
                kinds: kinds.clone(),
            }))
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(e) => {
                if !alive(gateway_pid) {
                    eprintln!("load: the gateway process exited; the event consumer stops");
                    break 'outer;
                }
                eprintln!("load: StreamEvents failed: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        loop {
            // Stop once every message reached its goal (and every submit was answered, so `target` is final).
            if done >= target.load(Ordering::Acquire) {
                break 'outer;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ev =
                match tokio::time::timeout(left.min(Duration::from_millis(500)), stream.message())
                    .await
                {
                    Err(_) => {
                        if Instant::now() >= deadline {
                            break 'outer;
                        }
                        continue;
                    }
                    Ok(Ok(Some(ev))) => ev,
                    Ok(Ok(None)) => continue 'outer,
                    Ok(Err(e)) => {
                        if !alive(gateway_pid) {
                            eprintln!("load: the gateway process exited; the event consumer stops");
                            break 'outer;
                        }
                        eprintln!("load: StreamEvents broke: {e}; resuming after cursor {cursor}");
                        continue 'outer;
                    }
                };
            cursor = ev.cursor;
            let Some(pb::event::Payload::StateChange(sc)) = ev.payload else {
                continue;
            };
            if sc.segment.is_some() {
                continue;
            }
            let t = ts_us(&ev.time);
            let entry = seen.entry(sc.message_id).or_default();
            if ev.kind == K::Submitted as i32 {
                if entry.submitted.is_none() {
                    entry.submitted = Some(t);
                    last_submitted = Some(start.elapsed());
                    if !want_final {
                        done += 1;
                    }
                }
            } else if entry.final_at.is_none() {
                entry.final_at = Some(t);
                entry.final_kind = ev.kind;
                last_final = Some(start.elapsed());
                done += 1;
            }
        }
    }
    (seen, last_submitted, last_final)
}

async fn run(
    label: &str,
    api: &Api,
    s: &Settings,
    load: Load,
    want_receipt: bool,
    pids: (u32, u32),
    ticks: u64,
) -> RunResult {
    let n = s.messages;
    let after = api
        .client(0)
        .status(api.request(pb::StatusRequest {}))
        .await
        .expect("Status before the run")
        .into_inner()
        .last_cursor;
    let gw0 = proc_usage(pids.0, ticks);
    let threads0 = thread_cpu(pids.0, ticks);
    let sim0 = proc_usage(pids.1, ticks);
    let me0 = proc_usage(std::process::id(), ticks);
    let start = Instant::now();
    let deadline = start + s.timeout;
    // Until all submits are answered, the consumer may not stop: the target is then the accepted count.
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let consumer = tokio::spawn(consume(
        api.clone(),
        pids.0,
        after,
        want_receipt,
        target.clone(),
        deadline,
        start,
    ));

    // id -> client wall time of the Submit answer (µs), and the Submit latencies.
    let accepted: Arc<Mutex<Vec<(String, i64)>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let errors: Arc<Mutex<(usize, Option<String>)>> = Arc::new(Mutex::new((0, None)));
    let next = Arc::new(AtomicUsize::new(0));
    let mut offered_rate = None;

    let record_err = |errors: &Mutex<(usize, Option<String>)>, k: usize, msg: String| {
        let mut e = errors.lock().expect("errors lock");
        e.0 += k;
        e.1.get_or_insert(msg);
    };

    match load {
        Load::Closed { batch } => {
            let mut tasks = Vec::new();
            for c in 0..s.clients {
                let (api, next, accepted, latencies, errors) = (
                    api.clone(),
                    next.clone(),
                    accepted.clone(),
                    latencies.clone(),
                    errors.clone(),
                );
                let size = batch.unwrap_or(1);
                tasks.push(tokio::spawn(async move {
                    let mut client = api.client(c);
                    let mut local_acc = Vec::new();
                    let mut local_lat = Vec::new();
                    while Instant::now() < deadline {
                        let first = next.fetch_add(size, Ordering::Relaxed);
                        if first >= n {
                            break;
                        }
                        let last = (first + size).min(n);
                        let t0 = Instant::now();
                        if batch.is_none() {
                            match client
                                .submit(api.request(message(first, want_receipt)))
                                .await
                            {
                                Ok(r) => {
                                    local_lat.push(t0.elapsed().as_micros() as u64);
                                    local_acc.push((r.into_inner().message_id, now_us()));
                                }
                                Err(e) => record_err(&errors, 1, format!("Submit: {e}")),
                            }
                        } else {
                            let messages =
                                (first..last).map(|i| message(i, want_receipt)).collect();
                            match client
                                .submit_batch(api.request(pb::SubmitBatchRequest { messages }))
                                .await
                            {
                                Ok(r) => {
                                    let at = now_us();
                                    local_lat.push(t0.elapsed().as_micros() as u64);
                                    for res in r.into_inner().results {
                                        match res.outcome {
                                            Some(pb::submit_batch_result::Outcome::Accepted(a)) => {
                                                local_acc.push((a.message_id, at))
                                            }
                                            Some(pb::submit_batch_result::Outcome::Error(e)) => {
                                                record_err(
                                                    &errors,
                                                    1,
                                                    format!("SubmitBatch item: {e:?}"),
                                                )
                                            }
                                            None => record_err(
                                                &errors,
                                                1,
                                                "SubmitBatch item without outcome".into(),
                                            ),
                                        }
                                    }
                                }
                                Err(e) => {
                                    record_err(&errors, last - first, format!("SubmitBatch: {e}"))
                                }
                            }
                        }
                    }
                    accepted.lock().expect("accepted lock").extend(local_acc);
                    latencies.lock().expect("latency lock").extend(local_lat);
                }));
            }
            for t in tasks {
                t.await.expect("a submitter panicked");
            }
        }
        Load::Open { rate } => {
            offered_rate = Some(rate);
            // Bounded: at most this many requests outstanding; past that the schedule slips (and the latency,
            // measured from the scheduled time, shows it).
            let inflight = Arc::new(tokio::sync::Semaphore::new(20_000));
            let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                let scheduled = start + interval.mul_f64(i as f64);
                if scheduled >= deadline {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let permit = inflight
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let (api, accepted, latencies, errors) = (
                    api.clone(),
                    accepted.clone(),
                    latencies.clone(),
                    errors.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let _permit = permit;
                    let mut client = api.client(i);
                    match client.submit(api.request(message(i, want_receipt))).await {
                        Ok(r) => {
                            let lat = scheduled.elapsed().as_micros() as u64;
                            latencies.lock().expect("latency lock").push(lat);
                            accepted
                                .lock()
                                .expect("accepted lock")
                                .push((r.into_inner().message_id, now_us()));
                        }
                        Err(e) => record_err(&errors, 1, format!("Submit: {e}")),
                    }
                }));
            }
            for t in tasks {
                t.await.expect("a submitter panicked");
            }
        }
    }
    let accept_elapsed = start.elapsed();
    let accepted = std::mem::take(&mut *accepted.lock().expect("accepted lock"));
    target.store(accepted.len(), Ordering::Release);
    let (seen, sub_el, fin_el) = consumer.await.expect("the event consumer panicked");
    let wall = start.elapsed();
    let gw1 = proc_usage(pids.0, ticks);
    let gw_threads = thread_cpu_delta(&threads0, &thread_cpu(pids.0, ticks));
    let sim1 = proc_usage(pids.1, ticks);
    let me1 = proc_usage(std::process::id(), ticks);

    let mut r = RunResult {
        label: label.into(),
        n,
        accepted: accepted.len(),
        accept_elapsed,
        submitted_elapsed: sub_el,
        final_elapsed: fin_el,
        gw_cpu: gw1.cpu.saturating_sub(gw0.cpu),
        sim_cpu: sim1.cpu.saturating_sub(sim0.cpu),
        client_cpu: me1.cpu.saturating_sub(me0.cpu),
        gw_hwm_kib: gw1.hwm_kib,
        gw_threads,
        wall,
        offered_rate,
        ..Default::default()
    };
    {
        let e = errors.lock().expect("errors lock");
        r.rejected = e.0;
        r.first_error = e.1.clone();
    }
    r.accept_lat = std::mem::take(&mut *latencies.lock().expect("latency lock"));
    for (id, at) in &accepted {
        if let Some(sn) = seen.get(id) {
            if let Some(t) = sn.submitted {
                r.submitted_count += 1;
                r.accept_to_submitted.push((t - at).max(0) as u64);
            }
            if let Some(t) = sn.final_at {
                r.final_count += 1;
                *r.final_kinds.entry(sn.final_kind).or_default() += 1;
                r.accept_to_final.push((t - at).max(0) as u64);
            }
        }
    }
    r.missing = if want_receipt {
        r.accepted - r.final_count
    } else {
        r.accepted - r.submitted_count
    } + r.rejected;
    r
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)] as f64 / 1000.0
}

fn pcts(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        pct(v, 0.5),
        pct(v, 0.9),
        pct(v, 0.99),
        pct(v, 0.999),
        pct(v, 1.0)
    )
}

fn rate(n: usize, d: Option<Duration>) -> f64 {
    match d {
        Some(d) if d > Duration::ZERO && n > 0 => n as f64 / d.as_secs_f64(),
        _ => 0.0,
    }
}

fn report(r: &mut RunResult, want_receipt: bool) {
    let acc_rate = rate(r.accepted, Some(r.accept_elapsed));
    let sub_rate = rate(r.submitted_count, r.submitted_elapsed);
    let fin_rate = rate(r.final_count, r.final_elapsed);
    println!("\n== {} ==", r.label);
    if let Some(o) = r.offered_rate {
        println!("offered (open loop):  {o:.0} msgs/s");
    }
    println!(
        "messages:             {} asked, {} accepted, {} refused{}",
        r.n,
        r.accepted,
        r.rejected,
        r.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "accepted:             {acc_rate:.0} msgs/s ({:.2} s)",
        r.accept_elapsed.as_secs_f64()
    );
    println!(
        "submitted (SUBMITTED events): {} , {sub_rate:.0} msgs/s",
        r.submitted_count
    );
    if want_receipt {
        let kinds: Vec<String> = r
            .final_kinds
            .iter()
            .map(|(k, c)| {
                let name = pb::EventKind::try_from(*k)
                    .map(|k| {
                        k.as_str_name()
                            .trim_start_matches("EVENT_KIND_")
                            .to_string()
                    })
                    .unwrap_or_else(|_| k.to_string());
                format!("{name}={c}")
            })
            .collect();
        println!(
            "receipts (final events): {} [{}], {fin_rate:.0} msgs/s end to end",
            r.final_count,
            kinds.join(" ")
        );
    }
    println!(
        "accept latency (Submit{} RPC{}): {}",
        if r.label.contains("batch") {
            "Batch"
        } else {
            ""
        },
        if r.offered_rate.is_some() {
            ", from scheduled time"
        } else {
            ""
        },
        pcts(&mut r.accept_lat)
    );
    println!("accept -> SUBMITTED:  {}", pcts(&mut r.accept_to_submitted));
    if want_receipt {
        println!("accept -> receipt:    {}", pcts(&mut r.accept_to_final));
    }
    println!(
        "gateway: peak RSS {:.1} MiB, CPU {:.2} s ({:.0} % of one core over {:.2} s); simulator CPU {:.2} s; \
         load clients (this process) CPU {:.2} s",
        r.gw_hwm_kib as f64 / 1024.0,
        r.gw_cpu.as_secs_f64(),
        100.0 * r.gw_cpu.as_secs_f64() / r.wall.as_secs_f64().max(1e-9),
        r.wall.as_secs_f64(),
        r.sim_cpu.as_secs_f64(),
        r.client_cpu.as_secs_f64()
    );
    let threads: Vec<String> = r
        .gw_threads
        .iter()
        .filter(|(_, d)| *d >= Duration::from_millis(10))
        .map(|(n, d)| format!("{n} {:.2} s", d.as_secs_f64()))
        .collect();
    println!("gateway CPU by thread: {}", threads.join(", "));
    let p99 = pct(&mut r.accept_lat, 0.99);
    println!(
        "RESULT run={} messages={} accepted={} accepted_per_s={acc_rate:.0} submitted={} submitted_per_s={sub_rate:.0} receipts={} \
         receipts_per_s={fin_rate:.0} accept_p99_ms={p99:.2} missing={} gw_hwm_kib={} gw_cpu_s={:.2}",
        r.label.replace(' ', "_"),
        r.n,
        r.accepted,
        r.submitted_count,
        r.final_count,
        r.missing,
        r.gw_hwm_kib,
        r.gw_cpu.as_secs_f64()
    );
    if r.missing > 0 {
        println!(
            "MISSING: {} of {} messages did not reach {} within {} s \
             ({} refused, {} accepted but not SUBMITTED, {} SUBMITTED without a receipt event)",
            r.missing,
            r.n,
            if want_receipt {
                "a final state"
            } else {
                "SUBMITTED"
            },
            r.wall.as_secs(),
            r.rejected,
            r.accepted - r.submitted_count.min(r.accepted),
            if want_receipt {
                r.submitted_count.saturating_sub(r.final_count)
            } else {
                0
            }
        );
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn main() {
    let s = Settings::from_env_and_args();
    // `LOAD_GATEWAY_BIN` runs another build of the gateway (an A/B comparison) with this same client.
    let bin = std::env::var_os("LOAD_GATEWAY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_smsbridge")));
    let tmp = tempfile::Builder::new()
        .prefix("smsbridge-load-")
        .tempdir()
        .expect("creating a temp directory");
    let dir = tmp.path().to_path_buf();
    let ticks = clock_ticks();
    println!(
        "load: mode {:?}, {} messages, {} clients on {} connections{}, batch {}, window {}, timeout {} s, dir {}",
        s.mode,
        s.messages,
        s.clients,
        s.connections,
        if s.coalesce {
            " (coalesced writes)"
        } else {
            ""
        },
        s.batch,
        s.window,
        s.timeout.as_secs(),
        dir.display()
    );
    println!("load: binary {}", bin.display());

    let (sim, sim_port) = start_simulator(&bin, &dir);
    let (api_port, metrics_port) = (free_port(), free_port());
    let config_path = dir.join("smsbridge.toml");
    fs::write(
        &config_path,
        gateway_config(&dir, api_port, metrics_port, sim_port, s.window),
    )
    .expect("writing the gateway config");
    let gateway = start_gateway(&bin, &config_path, &dir);
    println!(
        "load: simulator pid {} on 127.0.0.1:{sim_port}; gateway pid {} \
         (API 127.0.0.1:{api_port}, metrics 127.0.0.1:{metrics_port})",
        sim.pid(),
        gateway.pid()
    );
    let pids = (gateway.pid(), sim.pid());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the client runtime");
    let mut failed = false;
    let mut results = Vec::new();
    rt.block_on(async {
        let api = connect(
            &format!("http://127.0.0.1:{api_port}"),
            s.connections,
            s.coalesce,
            Instant::now() + Duration::from_secs(30),
        )
        .await;
        let links = wait_bound(&api, Instant::now() + Duration::from_secs(15)).await;
        if !links.iter().any(|l| l.state.contains("BOUND")) {
            println!(
                "load: WARNING: no bound carrier link after 15 s (links: {links:?}); \
                 without the link engine messages are accepted but never sent"
            );
        }
        let mut runs: Vec<(String, Load, bool)> = match s.mode {
            Mode::Single => vec![("single".into(), Load::Closed { batch: None }, true)],
            Mode::Batch => vec![(
                format!("batch {}", s.batch),
                Load::Closed {
                    batch: Some(s.batch),
                },
                true,
            )],
            Mode::NoReceipt => vec![("noreceipt".into(), Load::Closed { batch: None }, false)],
            Mode::Half => vec![("single".into(), Load::Closed { batch: None }, true)],
            Mode::Open => {
                let rate = s.rate.expect("mode open needs LOAD_RATE (msgs/s)");
                vec![(format!("open loop {rate:.0}/s"), Load::Open { rate }, true)]
            }
        };
        let mut i = 0;
        while i < runs.len() {
            let (label, load, want) = std::mem::replace(
                &mut runs[i],
                (String::new(), Load::Closed { batch: None }, true),
            );
            let mut r = run(&label, &api, &s, load, want, pids, ticks).await;
            report(&mut r, want);
            failed |= r.missing > 0;
            if s.mode == Mode::Half && i == 0 {
                let e2e = rate(r.final_count, r.final_elapsed);
                let offered = s.rate.unwrap_or((e2e / 2.0).max(100.0));
                runs.push((
                    format!("open loop {offered:.0}/s"),
                    Load::Open { rate: offered },
                    true,
                ));
            }
            results.push(r);
            i += 1;
        }
    });
    drop(rt);
    drop(gateway);
    drop(sim);
    // The thread that copies the simulator's output ends at its EOF, just after the exit.
    std::thread::sleep(Duration::from_millis(300));
    println!("\nsimulator: {}", tail(&dir.join("sim.out"), 1));
    let gw_err = tail(&dir.join("gateway.err"), 15);
    if failed || !gw_err.trim().is_empty() {
        println!("gateway log (last lines):\n{gw_err}");
    }
    // A failed run keeps its directory (config, store, logs) to look at; `process::exit` runs no destructors.
    if s.keep || failed {
        let kept = tmp.keep();
        println!("load: kept {}", kept.display());
    } else {
        drop(tmp);
    }
    if failed {
        eprintln!("load: FAILED: messages missing (see MISSING above)");
        std::process::exit(1);
    }
}
