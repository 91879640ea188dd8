//! The composed gateway (`smsbridge::gateway`) from a real config file's text: routing and sender rules from
//! the config's router, tokens from `[[api.clients]]`, and the `smsbridge send/events/status` commands run as
//! the built binary against it. Loopback only; nothing listens on the carrier's port, so its link stays down
//! and the test plays the link in-process through the store.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use smsbridge::config::Config;
use smsbridge::gateway::{Gateway, GatewayError};
use smsbridge::model::{CarrierId, CarrierStatus, MessageState, UnixMs};
use smsbridge::store::{Outcome, Receipt, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Request};

mod harness;
use harness::SmppToml;

const TOKEN: &str = "tok-im-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(20);

/// One client `im`; one carrier `acme` whose SMPP link goes to 127.0.0.1:2775, where nothing listens; one
/// route, for +44, with its sender rules.
fn config(dir: &Path) -> Config {
    let text = SmppToml::new(dir, 2775)
        .api(&format!(
            "[[api.clients]]\nname = \"im\"\ntoken = \"{TOKEN}\""
        ))
        .carrier("acme", "rate_limit = { per_second = 10 }")
        // The link's own reconnect defaults.
        .smpp("")
        .route_with(
            "+44",
            "acme",
            "allowed_senders = [\"ACME*\"]\ndefault_sender = \"ACME\"",
        )
        .text();
    Config::from_str(&text, "test.toml").expect("a valid config")
}

struct Running {
    addr: String,
    store: Store,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), GatewayError>>,
}

async fn start(dir: &Path) -> Running {
    let shutdown = CancellationToken::new();
    let gateway = Gateway::start(config(dir), shutdown.clone())
        .await
        .expect("the gateway starts");
    let addr = format!("http://{}", gateway.api_addr().expect("bound"));
    let store = gateway.components().store.clone();
    let task = tokio::spawn(gateway.run());
    Running {
        addr,
        store,
        shutdown,
        task,
    }
}

impl Running {
    async fn client(&self) -> GatewayClient<Channel> {
        let channel = Channel::from_shared(self.addr.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        GatewayClient::new(channel)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the gateway stops in time")
            .expect("the gateway task")
            .expect("the gateway stops cleanly");
    }
}

fn authed<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("ascii"),
    );
    request
}

fn submit_req(to: &str, from: &str) -> pb::SubmitRequest {
    pb::SubmitRequest {
        to: to.into(),
        from: from.into(),
        body: Some(pb::submit_request::Body::Text("hello".into())),
        ..Default::default()
    }
}

#[tokio::test]
async fn routes_senders_and_tokens_come_from_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start(dir.path()).await;
    let mut client = gw.client().await;

    // The route's default sender, the route's carrier.
    let answer = client
        .submit(authed(submit_req("+447700900123", "")))
        .await
        .expect("submit")
        .into_inner();
    assert_eq!(answer.carrier, "acme");
    let m = client
        .get_message(authed(pb::GetMessageRequest {
            message_id: answer.message_id.clone(),
        }))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(m.from, "ACME");
    // The default priority of the config (0) is BULK.
    assert_eq!(m.priority, pb::Priority::Bulk as i32);

    // A sender the route does not allow.
    let status = client
        .submit(authed(submit_req("+447700900123", "Other")))
        .await
        .expect_err("not allowed");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().starts_with("from: "), "{status:?}");
    assert!(status.message().contains("\"Other\""), "{status:?}");
    // No route for +33.
    let status = client
        .submit(authed(submit_req("+33612345678", "ACME")))
        .await
        .expect_err("no route");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status
            .message()
            .starts_with("to: no route for +33612345678"),
        "{status:?}"
    );
    // A carrier the config does not have.
    let mut req = submit_req("+447700900123", "ACME");
    req.carrier = Some("globex".into());
    let status = client
        .submit(authed(req))
        .await
        .expect_err("unknown carrier");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "carrier: no carrier named \"globex\" in the config"
    );
    // Tokens: the configured one works, others do not.
    let status = client
        .status(Request::new(pb::StatusRequest {}))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .status(authed(pb::StatusRequest {}))
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.queues.len(), 1);
    assert_eq!(
        (status.queues[0].carrier.as_str(), status.queues[0].queued),
        ("acme", 1)
    );
    gw.stop().await;
}

fn run_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(args)
        .env_remove("SMSBRIDGE_TOKEN")
        .output()
        .expect("run smsbridge")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_send_waits_for_the_receipt_and_events_and_status_print_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start(dir.path()).await;
    let addr = gw.addr.clone();

    // `send --wait` in a child process while this test plays the carrier.
    let send = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            run_cli(&[
                "send",
                "--addr",
                &addr,
                "--token",
                TOKEN,
                "--to",
                "+447700900123",
                "--text",
                "your code is 1234",
                "--wait",
                "--timeout",
                "20",
            ])
        })
    };
    let carrier = CarrierId::new("acme");
    let dispatch = tokio::time::timeout(WAIT, async {
        loop {
            let claimed = gw
                .store
                .claim(&carrier, 1, UnixMs::now())
                .await
                .expect("claim");
            if let Some(d) = claimed.into_iter().next() {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the CLI's message reaches the queue");
    gw.store
        .record_outcome(
            dispatch.key(),
            Outcome::Submitted {
                carrier_message_id: "a1b2c3".into(),
                carrier_message_id_raw: "a1b2c3".into(),
            },
        )
        .await
        .expect("submitted");
    gw.store
        .record_receipt(
            &carrier,
            "a1b2c3",
            Receipt {
                state: MessageState::Delivered,
                status: CarrierStatus {
                    stat: Some("DELIVRD".into()),
                    err: Some("000".into()),
                    network_error_code: None,
                    done_date: None,
                    raw: None,
                },
                received_at: UnixMs::now(),
            },
        )
        .await
        .expect("receipt");
    let out = tokio::time::timeout(WAIT, send)
        .await
        .expect("send --wait returns in time")
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["carrier"], "acme");
    assert_eq!(lines[0]["message_id"], dispatch.message_id.to_string());
    assert_eq!(lines[1]["state"], "DELIVERED");
    assert_eq!(lines[1]["carrier_message_ids"][0], "a1b2c3");
    assert_eq!(lines[1]["carrier_status"]["stat"], "DELIVRD");
    assert_eq!(lines[1]["carrier_status"]["err"], "000");

    // `events`: the message's life, one JSON line per event.
    let a = addr.clone();
    let events = tokio::task::spawn_blocking(move || {
        run_cli(&[
            "events",
            "--addr",
            &a,
            "--token",
            TOKEN,
            "--kinds",
            "accepted,delivered",
            "--limit",
            "2",
        ])
    })
    .await
    .expect("join");
    assert_eq!(
        events.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&events.stderr)
    );
    let lines = json_lines(&events);
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["ACCEPTED", "DELIVERED"]);
    assert!(lines[0]["cursor"].as_u64() < lines[1]["cursor"].as_u64());

    // `status`, and a bad token is refused with a readable error.
    let a = addr.clone();
    let status =
        tokio::task::spawn_blocking(move || run_cli(&["status", "--addr", &a, "--token", TOKEN]))
            .await
            .expect("join");
    assert_eq!(status.status.code(), Some(0));
    let lines = json_lines(&status);
    assert_eq!(lines[0]["queues"][0]["carrier"], "acme");
    // The config's SMPP link runs, and nothing listens on its port: Status shows it down, with why.
    let links = lines[0]["links"].as_array().expect("links");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["carrier"], "acme");
    assert_eq!(links[0]["link"], "smpp0");
    assert_eq!(links[0]["state"], "DOWN");
    assert!(
        links[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("127.0.0.1:2775")),
        "{links:?}"
    );
    let a = addr.clone();
    let refused = tokio::task::spawn_blocking(move || {
        run_cli(&["status", "--addr", &a, "--token", "wrong-token-0000000"])
    })
    .await
    .expect("join");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Unauthenticated"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_message_past_its_validity_expires_in_the_queue_and_is_never_claimed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start(dir.path()).await;
    let mut client = gw.client().await;
    let mut req = submit_req("+447700900123", "ACME");
    req.validity = Some(prost_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    let answer = client
        .submit(authed(req))
        .await
        .expect("submit")
        .into_inner();
    let mut stream = client
        .stream_events(authed(pb::StreamEventsRequest {
            after_cursor: 0,
            kinds: vec![pb::EventKind::Expired as i32],
        }))
        .await
        .expect("stream")
        .into_inner();
    // No link runs here: the gateway's own expiry ends it.
    let event = tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("EXPIRED in time")
        .expect("stream ok")
        .expect("an event");
    match event.payload {
        Some(pb::event::Payload::StateChange(c)) => {
            assert_eq!(c.message_id, answer.message_id);
            assert_eq!(c.new_state, pb::MessageState::Expired as i32);
        }
        other => panic!("not a state change: {other:?}"),
    }
    assert!(
        gw.store
            .claim(&CarrierId::new("acme"), 10, UnixMs::now())
            .await
            .expect("claim")
            .is_empty(),
        "an expired message must not be handed to a link"
    );
    gw.stop().await;
}

#[tokio::test]
async fn refused_tokens_are_counted_where_the_metrics_module_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shutdown = CancellationToken::new();
    let gateway = Gateway::start(config(dir.path()), shutdown.clone())
        .await
        .expect("the gateway starts");
    let counter = std::sync::Arc::clone(&gateway.components().api_auth_failures);
    let addr = format!("http://{}", gateway.api_addr().expect("bound"));
    let store = gateway.components().store.clone();
    let gw = Running {
        addr,
        store,
        shutdown,
        task: tokio::spawn(gateway.run()),
    };
    let mut client = gw.client().await;
    let mut wrong = Request::new(pb::StatusRequest {});
    wrong.metadata_mut().insert(
        "authorization",
        "Bearer not-the-token-at-all".parse().expect("ascii"),
    );
    let status = client.status(wrong).await.expect_err("wrong token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 1);
    client
        .status(authed(pb::StatusRequest {}))
        .await
        .expect("good token");
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 1);
    gw.stop().await;
}
