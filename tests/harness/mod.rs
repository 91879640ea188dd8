//! The gateway the end-to-end tests drive over real gRPC (`e2e_gateway.rs`, `e2e_modem.rs`, `e2e_cancel.rs`,
//! `e2e_validity.rs`, `e2e_receipt_timeout.rs`, `e2e_logs.rs`, `e2e_crash.rs`): in this process from a config
//! text (start it, call it, wait for a message's state, follow its events, stop it) or as the built
//! `smsbridge serve` binary; the config text for SMPP carriers bound to the SMSC simulator (also used by
//! `e2e_load.rs` and `api_serve.rs`), and the simulator itself. Every wait is bounded.
#![allow(dead_code)] // each test file uses its own subset

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use smsbridge::api::server::pb_state;
use smsbridge::config::Config;
use smsbridge::gateway::{Gateway, GatewayError};
use smsbridge::model::MessageState;
use smsbridge::sim::smsc::{OutcomeWeight, Smsc, SmscConfig};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Longest any single wait of a test may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// A gateway running in this process, and a gRPC client connected to it.
pub struct Running {
    pub client: GatewayClient<Channel>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), GatewayError>>,
}

/// Starts the gateway on the config `text` (`name` is the file name its errors would quote).
pub async fn start(text: &str, name: &str) -> Running {
    let config = Config::from_str(text, name).expect("a valid config");
    let shutdown = CancellationToken::new();
    let gateway = Gateway::start(config, shutdown.clone())
        .await
        .expect("the gateway starts");
    let addr = format!("http://{}", gateway.api_addr().expect("bound"));
    let task = tokio::spawn(gateway.run());
    let channel = Channel::from_shared(addr)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    Running {
        client: GatewayClient::new(channel),
        shutdown,
        task,
    }
}

impl Running {
    /// Cancels the gateway and waits for it to stop cleanly (within [`WAIT`]).
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the gateway stops in time")
            .expect("the gateway task")
            .expect("the gateway stops cleanly");
    }

    /// Submits `text` to `to`, wanting a receipt.
    pub async fn submit(&mut self, to: &str, text: &str) -> pb::SubmitResponse {
        submit_with(&mut self.client, text_message(to, text)).await
    }

    /// GetMessage of `id` (an error fails the test).
    pub async fn get(&mut self, id: &str) -> pb::Message {
        self.client
            .get_message(pb::GetMessageRequest {
                message_id: id.into(),
            })
            .await
            .expect("get")
            .into_inner()
    }

    /// Cancel of `id`: the gateway's answer (an error fails the test).
    pub async fn cancel(&mut self, id: &str) -> pb::CancelResponse {
        self.client
            .cancel(pb::CancelRequest {
                message_id: id.into(),
            })
            .await
            .expect("cancel")
            .into_inner()
    }

    /// Polls GetMessage of `id` every `every` until `done` holds for its state, for at most `limit`; returns
    /// the message.
    pub async fn wait_state(
        &mut self,
        id: &str,
        limit: Duration,
        every: Duration,
        done: impl Fn(pb::MessageState) -> bool,
    ) -> pb::Message {
        let deadline = Instant::now() + limit;
        loop {
            let m = self.get(id).await;
            let state = state_of(&m);
            if done(state) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "message {id} still {state:?} after {limit:?}, not the state waited for: {m:?}"
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Waits (polling every 20 ms, at most [`WAIT`]) until the message is in a final state; returns it.
    pub async fn wait_final(&mut self, id: &str) -> pb::Message {
        self.wait_state(id, WAIT, Duration::from_millis(20), is_final)
            .await
    }

    /// Events of `kinds` (all when empty) from the start, until `stop` says enough or `limit` passes.
    pub async fn events_until(
        &mut self,
        kinds: Vec<pb::EventKind>,
        limit: Duration,
        mut stop: impl FnMut(&[pb::Event]) -> bool,
    ) -> Vec<pb::Event> {
        let mut stream = self
            .client
            .stream_events(pb::StreamEventsRequest {
                after_cursor: 0,
                kinds: kinds.into_iter().map(|k| k as i32).collect(),
            })
            .await
            .expect("stream")
            .into_inner();
        let mut events = Vec::new();
        let _ = tokio::time::timeout(limit, async {
            while let Some(e) = stream.next().await {
                events.push(e.expect("event"));
                if stop(&events) {
                    return;
                }
            }
        })
        .await;
        events
    }
}

/// A request to send `text` to `to`, wanting a receipt; other fields default (`..text_message(to, text)`
/// sets the rest of a test's own request).
pub fn text_message(to: &str, text: &str) -> pb::SubmitRequest {
    pb::SubmitRequest {
        to: to.into(),
        body: Some(pb::submit_request::Body::Text(text.into())),
        want_receipt: true,
        ..Default::default()
    }
}

/// Submits `request` as it is; the gateway's answer (a refusal fails the test).
pub async fn submit_with(
    client: &mut GatewayClient<Channel>,
    request: pb::SubmitRequest,
) -> pb::SubmitResponse {
    client.submit(request).await.expect("submit").into_inner()
}

/// The state of `m` (UNSPECIFIED for a value this build does not know).
pub fn state_of(m: &pb::Message) -> pb::MessageState {
    pb::MessageState::try_from(m.state).unwrap_or_default()
}

/// True for a state a message never leaves, as the model says ([`MessageState::is_final`]); UNSPECIFIED, which
/// no model state maps to, is not final.
pub fn is_final(state: pb::MessageState) -> bool {
    MessageState::ALL
        .into_iter()
        .any(|s| s.is_final() && pb_state(s) == state)
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// One `GET /metrics` on loopback: the whole HTTP answer.
pub async fn scrape(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(WAIT, async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to metrics");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    })
    .await
    .expect("scrape in time")
}

/// The value of one sample of the gateway's metrics endpoint on `port` (0 when it is not there yet).
pub async fn metric(port: u16, sample: &str) -> f64 {
    let body = scrape(port).await;
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    body.lines()
        .find(|l| l.starts_with(sample))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The SMSC simulator on loopback (a free port): it accepts every bind and submit_sm and answers each with a
/// DELIVRD receipt after a delay drawn from `receipt_delay` (shortest, longest).
pub async fn smsc(receipt_delay: (Duration, Duration)) -> Smsc {
    Smsc::start(smsc_config(receipt_delay))
        .await
        .expect("the simulator starts")
}

/// The config of [`smsc`], for a test that changes more of it (`..smsc_config(receipt_delay)`).
pub fn smsc_config(receipt_delay: (Duration, Duration)) -> SmscConfig {
    SmscConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        receipt_delay,
        outcomes: vec![OutcomeWeight {
            stat: "DELIVRD",
            weight: 1.0,
        }],
        ..SmscConfig::default()
    }
}

/// The config text of a gateway whose carriers bind over SMPP to one SMSC simulator on loopback (unless
/// [`carrier_at`](Self::carrier_at) says otherwise): the API on loopback, SQLite at `gw.db` in a test's
/// directory, metrics (unless [`metrics`](Self::metrics)) and the built-in simulator off. With no
/// [`route`](Self::route), one route `*` over every carrier in order.
pub struct SmppToml {
    dir: PathBuf,
    smsc_port: u16,
    api_port: u16,
    api: String,
    metrics_port: Option<u16>,
    tables: String,
    carriers: Vec<SmppCarrier>,
    smpp: String,
    routes: Vec<(String, String, String)>,
}

/// The keys of a route of an [`SmppToml`] unless the test gives its own.
const SENT_AS_SMSBRIDGE: &str = r#"default_sender = "SMSBRIDGE""#;

/// One `[[carriers]]` of an [`SmppToml`].
struct SmppCarrier {
    id: String,
    /// The SMSC's port when `None`.
    port: Option<u16>,
    keys: String,
}

impl SmppToml {
    /// No carriers yet; the database goes in `dir`, the carriers bind to the SMSC at 127.0.0.1:`smsc_port`.
    pub fn new(dir: &Path, smsc_port: u16) -> Self {
        SmppToml {
            dir: dir.to_path_buf(),
            smsc_port,
            api_port: 0,
            api: String::new(),
            metrics_port: None,
            tables: String::new(),
            carriers: Vec::new(),
            smpp: r#"reconnect = { initial_backoff = "200ms", max_backoff = "1s" }"#.into(),
            routes: Vec::new(),
        }
    }

    /// The API listens on this loopback port (default 0: any free port, for an in-process gateway).
    pub fn api_port(mut self, port: u16) -> Self {
        self.api_port = port;
        self
    }

    /// More keys of `[api]`, e.g. `default_validity = "1h"`.
    pub fn api(mut self, keys: &str) -> Self {
        self.api = keys.into();
        self
    }

    /// Serves the Prometheus metrics on this loopback port (default: metrics off).
    pub fn metrics(mut self, port: u16) -> Self {
        self.metrics_port = Some(port);
        self
    }

    /// More top-level tables, e.g. `[log]` with its keys.
    pub fn tables(mut self, toml: &str) -> Self {
        self.tables = toml.into();
        self
    }

    /// A carrier `id`; `keys` is the rest of its `[[carriers]]` table (its `rate_limit` too) and may end in
    /// sub-tables such as `[carriers.retry]`.
    pub fn carrier(mut self, id: &str, keys: &str) -> Self {
        self.carriers.push(SmppCarrier {
            id: id.into(),
            port: None,
            keys: keys.into(),
        });
        self
    }

    /// A [`carrier`](Self::carrier) that binds to 127.0.0.1:`port` instead of the SMSC (e.g. a port nothing
    /// listens on).
    pub fn carrier_at(mut self, id: &str, port: u16, keys: &str) -> Self {
        self.carriers.push(SmppCarrier {
            id: id.into(),
            port: Some(port),
            keys: keys.into(),
        });
        self
    }

    /// Every carrier's `[[carriers.smpp]]` keys after host, port and credentials, in place of the default
    /// `reconnect = { initial_backoff = "200ms", max_backoff = "1s" }`.
    pub fn smpp(mut self, keys: &str) -> Self {
        self.smpp = keys.into();
        self
    }

    /// A route: numbers starting with `prefix` go to `carrier`, sent as "SMSBRIDGE".
    pub fn route(self, prefix: &str, carrier: &str) -> Self {
        self.route_with(prefix, carrier, SENT_AS_SMSBRIDGE)
    }

    /// A [`route`](Self::route) whose keys after `prefix` and `carriers` are `keys` (its own `default_sender`,
    /// `allowed_senders`, ...).
    pub fn route_with(mut self, prefix: &str, carrier: &str, keys: &str) -> Self {
        self.routes
            .push((prefix.into(), carrier.into(), keys.into()));
        self
    }

    /// The config text.
    pub fn text(&self) -> String {
        let mut text = format!(
            r#"
[api]
listen = "127.0.0.1:{api_port}"
{api}
[store.sqlite]
path = "{db}"

[metrics]
{metrics}

[simulator]
enabled = false
{tables}
"#,
            api_port = self.api_port,
            api = self.api,
            db = self.dir.join("gw.db").display(),
            metrics = match self.metrics_port {
                Some(port) => format!("enabled = true\nlisten = \"127.0.0.1:{port}\""),
                None => "enabled = false".into(),
            },
            tables = self.tables,
        );
        for SmppCarrier { id, port, keys } in &self.carriers {
            let _ = write!(
                text,
                r#"
[[carriers]]
id = "{id}"
{keys}
[[carriers.smpp]]
host = "127.0.0.1"
port = {port}
system_id = "smsbridge"
password = "sim"
{smpp}
"#,
                port = port.unwrap_or(self.smsc_port),
                smpp = self.smpp,
            );
        }
        let mut route = |prefix: &str, carriers: &str, keys: &str| {
            let _ = write!(
                text,
                "\n[[routes]]\nprefix = {prefix:?}\ncarriers = [{carriers}]\n{keys}\n"
            );
        };
        if self.routes.is_empty() {
            let all: Vec<String> = self
                .carriers
                .iter()
                .map(|c| format!("{:?}", c.id))
                .collect();
            route("*", &all.join(", "), SENT_AS_SMSBRIDGE);
        }
        for (prefix, carrier, keys) in &self.routes {
            route(prefix, &format!("{carrier:?}"), keys);
        }
        text
    }

    /// Writes the config text to `gw.toml` beside the database; its path (for `smsbridge serve --config`).
    pub fn write(&self) -> PathBuf {
        let path = self.dir.join("gw.toml");
        std::fs::write(&path, self.text()).expect("write config");
        path
    }
}

/// Starts the built binary as `smsbridge serve --config <config>`, killed when dropped; stdout is dropped,
/// stderr goes where `stderr` says.
pub fn serve(config: &Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start smsbridge serve")
}

/// A client of the gateway API on loopback `port`, trying every 50 ms until the gateway (a process just
/// started) answers; fails after `limit`.
pub async fn connect(port: u16, limit: Duration) -> GatewayClient<Channel> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("url")
            .connect()
            .await
        {
            return GatewayClient::new(channel);
        }
        assert!(Instant::now() < deadline, "the gateway did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
