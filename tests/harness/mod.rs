//! The in-process gateway the end-to-end tests drive over real gRPC (`e2e_gateway.rs`, `e2e_modem.rs`,
//! `e2e_cancel.rs`): start it from a config text, call it, follow its events, stop it. Every wait is bounded.
#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use smsbridge::config::Config;
use smsbridge::gateway::{Gateway, GatewayError};
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
        self.client
            .submit(pb::SubmitRequest {
                to: to.into(),
                body: Some(pb::submit_request::Body::Text(text.into())),
                want_receipt: true,
                ..Default::default()
            })
            .await
            .expect("submit")
            .into_inner()
    }

    pub async fn get(&mut self, id: &str) -> pb::Message {
        self.client
            .get_message(pb::GetMessageRequest {
                message_id: id.into(),
            })
            .await
            .expect("get")
            .into_inner()
    }

    pub async fn cancel(&mut self, id: &str) -> pb::CancelResponse {
        self.client
            .cancel(pb::CancelRequest {
                message_id: id.into(),
            })
            .await
            .expect("cancel")
            .into_inner()
    }

    /// Waits until the message is in a final state; returns it.
    pub async fn wait_final(&mut self, id: &str) -> pb::Message {
        let deadline = Instant::now() + WAIT;
        loop {
            let m = self.get(id).await;
            let state = state_of(&m);
            if !matches!(
                state,
                pb::MessageState::Accepted
                    | pb::MessageState::Queued
                    | pb::MessageState::Submitted
                    | pb::MessageState::Unspecified
            ) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "message {id} still {state:?} after {WAIT:?}: {m:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

pub fn state_of(m: &pb::Message) -> pb::MessageState {
    pb::MessageState::try_from(m.state).unwrap_or_default()
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
