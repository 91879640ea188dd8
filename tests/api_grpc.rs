//! The gRPC API end to end: a real server on 127.0.0.1 (port 0) over the real SQLite store in a temporary
//! directory, called through the generated client.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use smsbridge::api::{
    ApiServer, Authenticator, ClientToken, GatewayService, Planner, RouteChoice, RouteError,
    Routing, ServeError,
};
use smsbridge::model::{CarrierId, CarrierStatus, MessageId, MessageState, MoMessage, UnixMs};
use smsbridge::store::{Outcome, Receipt, RetentionPolicy, SqliteConfig, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Request, Streaming};

const TOKEN_IM: &str = "tok-im-0123456789";
const TOKEN_CRM: &str = "tok-crm-9876543210";
/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

/// Routes of the tests: +44 -> "uk-smpp" (default sender "Acme"), +1 -> "us-modem" (no default sender).
struct TestRoutes;

impl Routing for TestRoutes {
    fn route(
        &self,
        to: &str,
        from: Option<&str>,
        carrier: Option<&str>,
    ) -> Result<RouteChoice, RouteError> {
        let carrier = match carrier {
            Some(name) if ["uk-smpp", "us-modem"].contains(&name) => name,
            Some(name) => {
                return Err(RouteError::UnknownCarrier {
                    carrier: name.to_owned(),
                });
            }
            None if to.starts_with("+44") => "uk-smpp",
            None if to.starts_with("+1") => "us-modem",
            None => return Err(RouteError::NoRoute(format!("no route covers {to:?}"))),
        };
        let from = match (from, carrier) {
            (Some(from), _) => from.to_owned(),
            (None, "uk-smpp") => "Acme".to_owned(),
            (None, _) => {
                return Err(RouteError::InvalidSender(format!(
                    "is required: carrier {carrier} has no default sender"
                )));
            }
        };
        Ok(RouteChoice {
            carrier: CarrierId::new(carrier),
            from,
        })
    }

    fn carriers(&self) -> Vec<CarrierId> {
        vec![CarrierId::new("uk-smpp"), CarrierId::new("us-modem")]
    }
}

/// A running server and the store under it.
struct Gateway {
    addr: SocketAddr,
    store: Store,
    auth: Authenticator,
    shutdown: CancellationToken,
    served: JoinHandle<Result<(), ServeError>>,
}

impl Gateway {
    async fn start(dir: &Path) -> Gateway {
        let store = Store::open_sqlite(dir.join("smsbridge.db"))
            .await
            .expect("open the store");
        Gateway::start_on(store).await
    }

    /// A server over `store`, opened by the test with the settings it needs.
    async fn start_on(store: Store) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let service = GatewayService::new(
            store.clone(),
            Arc::new(TestRoutes),
            Arc::new(Planner::new()),
            shutdown.clone(),
        );
        let auth = Authenticator::new(vec![
            ClientToken {
                client: "im".into(),
                token: TOKEN_IM.into(),
            },
            ClientToken {
                client: "crm".into(),
                token: TOKEN_CRM.into(),
            },
        ]);
        let server = ApiServer::new(service, auth.clone());
        let served = tokio::spawn(server.serve(listener, shutdown.clone()));
        Gateway {
            addr,
            store,
            auth,
            shutdown,
            served,
        }
    }

    async fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        tokio::time::timeout(WAIT, async {
            loop {
                match Channel::from_shared(url.clone())
                    .expect("url")
                    .connect()
                    .await
                {
                    Ok(ch) => return ch,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await
        .expect("the server accepts connections")
    }

    async fn client(&self) -> GatewayClient<Channel> {
        GatewayClient::new(self.channel().await)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.served)
            .await
            .expect("the server stops in time")
            .expect("the server task")
            .expect("the server ends without error");
        self.store.close().await;
    }
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

fn im<T>(message: T) -> Request<T> {
    authed(TOKEN_IM, message)
}

fn text_to(to: &str, text: &str) -> pb::SubmitRequest {
    pb::SubmitRequest {
        to: to.into(),
        from: "Acme".into(),
        body: Some(pb::submit_request::Body::Text(text.into())),
        want_receipt: true,
        ..Default::default()
    }
}

fn uk(text: &str) -> pb::SubmitRequest {
    text_to("+447700900123", text)
}

async fn submit(client: &mut GatewayClient<Channel>, req: pb::SubmitRequest) -> pb::SubmitResponse {
    client
        .submit(im(req))
        .await
        .expect("submit accepted")
        .into_inner()
}

async fn get(client: &mut GatewayClient<Channel>, id: &str) -> pb::Message {
    client
        .get_message(im(pb::GetMessageRequest {
            message_id: id.into(),
        }))
        .await
        .expect("get message")
        .into_inner()
}

async fn open_stream(
    client: &mut GatewayClient<Channel>,
    after: u64,
    kinds: &[pb::EventKind],
) -> Streaming<pb::Event> {
    client
        .stream_events(im(pb::StreamEventsRequest {
            after_cursor: after,
            kinds: kinds.iter().map(|k| *k as i32).collect(),
        }))
        .await
        .expect("stream events")
        .into_inner()
}

/// The next `n` events, each within the bounded wait.
async fn take(stream: &mut Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let event = tokio::time::timeout(WAIT, stream.message())
            .await
            .unwrap_or_else(|_| panic!("event {} of {n} did not come in time", out.len() + 1))
            .expect("stream ok")
            .expect("stream still open");
        out.push(event);
    }
    out
}

/// No further event comes within a short while.
async fn assert_quiet(stream: &mut Streaming<pb::Event>) {
    if let Ok(next) = tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
        panic!("unexpected event: {next:?}");
    }
}

fn state_change(e: &pb::Event) -> (&str, pb::MessageState, Option<u32>) {
    match &e.payload {
        Some(pb::event::Payload::StateChange(c)) => (
            c.message_id.as_str(),
            pb::MessageState::try_from(c.new_state).expect("known state"),
            c.segment,
        ),
        other => panic!("not a state change: {other:?}"),
    }
}

/// The whole-message state changes of `id` among `events`.
fn states_of(events: &[pb::Event], id: &str) -> Vec<pb::MessageState> {
    events
        .iter()
        .filter(|e| matches!(&e.payload, Some(pb::event::Payload::StateChange(c)) if c.message_id == id && c.segment.is_none()))
        .map(|e| state_change(e).1)
        .collect()
}

fn assert_increasing(events: &[pb::Event]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].cursor < pair[1].cursor,
            "cursors must increase: {} then {}",
            pair[0].cursor,
            pair[1].cursor
        );
    }
}

/// Plays the link: claims every ready segment of `carrier` and records the carrier's acceptance with ids
/// `<prefix>-<segment>` (normalized; the carrier gave them in upper case, as the dispatcher's "auto" folds
/// them). Returns the normalized ids.
async fn carrier_accepts(store: &Store, carrier: &str, prefix: &str) -> Vec<String> {
    let claimed = store
        .claim(&CarrierId::new(carrier), 100, UnixMs::now())
        .await
        .expect("claim");
    assert!(!claimed.is_empty(), "nothing to claim for {carrier}");
    let mut ids = Vec::new();
    for d in claimed {
        let id = format!("{prefix}-{}", d.segment);
        store
            .record_outcome(
                d.key(),
                Outcome::Submitted {
                    carrier_message_id: id.clone(),
                    carrier_message_id_raw: id.to_uppercase(),
                },
            )
            .await
            .expect("record outcome");
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn every_field_rule_gets_invalid_argument_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let with = |f: &dyn Fn(&mut pb::SubmitRequest)| {
        let mut r = uk("hello");
        f(&mut r);
        r
    };
    let bin = |data: Vec<u8>, data_coding: u32| {
        Some(pb::submit_request::Body::Binary(pb::BinaryBody {
            data,
            data_coding,
        }))
    };
    let many_tags: BTreeMap<String, String> =
        (0..33).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let cases: Vec<(pb::SubmitRequest, &str)> = vec![
        (
            with(&|r| r.to = "12ab".into()),
            "to: must be E.164: '+' then 8 to 15 digits, got \"12ab\"",
        ),
        (with(&|r| r.to = String::new()), "to: must be E.164"),
        (with(&|r| r.to = "+1234567".into()), "to: must be E.164"),
        (
            with(&|r| r.to = "+1234567890123456".into()),
            "to: must be E.164",
        ),
        (
            with(&|r| r.to = "+04477009001".into()),
            "to: must be E.164: the country code",
        ),
        (
            with(&|r| r.from = "TwelveChars1".into()),
            "from: an alphanumeric sender must be at most 11 GSM 7-bit characters, got \"TwelveChars1\" (12 characters)",
        ),
        (
            with(&|r| r.from = "Bad™Sender".into()),
            "from: an alphanumeric sender may use only the GSM 7-bit default alphabet",
        ),
        (
            with(&|r| r.from = "12".into()),
            "from: a numeric sender is a short code of 3 to 8 digits",
        ),
        (with(&|r| r.from = "+12".into()), "from: must be E.164"),
        (
            with(&|r| r.body = None),
            "body: one of `text` or `binary` is required",
        ),
        (
            with(&|r| r.body = Some(pb::submit_request::Body::Text(String::new()))),
            "text: must not be empty",
        ),
        (
            with(&|r| r.body = Some(pb::submit_request::Body::Text("x".repeat(10_001)))),
            "text: must be at most 10000 characters, got 10001 characters",
        ),
        (
            with(&|r| r.body = bin(Vec::new(), 4)),
            "binary.data: must not be empty",
        ),
        (
            with(&|r| r.body = bin(vec![0; 35_701], 4)),
            "binary.data: must be at most 35700 octets",
        ),
        (
            with(&|r| r.body = bin(vec![1], 256)),
            "binary.data_coding: must be an octet, 0 to 255, got 256",
        ),
        (
            with(&|r| r.body = bin(vec![0; 134 * 256], 4)),
            "binary.data: needs 256 SMS segments, at most 255",
        ),
        (
            with(&|r| r.client_ref = "r".repeat(129)),
            "client_ref: must be 1 to 128 printable ASCII",
        ),
        (
            with(&|r| r.client_ref = "line\nbreak".into()),
            "client_ref: must be 1 to 128 printable ASCII",
        ),
        (
            with(&|r| {
                r.validity = Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 0,
                })
            }),
            "validity: must be between 1s and 2592000s (30 days), got 0s 0ns",
        ),
        (
            with(&|r| {
                r.validity = Some(prost_types::Duration {
                    seconds: 31 * 86_400,
                    nanos: 0,
                })
            }),
            "validity: must be between",
        ),
        (
            with(&|r| {
                r.validity = Some(prost_types::Duration {
                    seconds: 60,
                    nanos: -1,
                })
            }),
            "validity: must be between",
        ),
        (
            with(&|r| r.priority = 17),
            "priority: must be a Priority value, 0 to 4, got 17",
        ),
        (
            with(&|r| r.carrier = Some(String::new())),
            "carrier: must name a carrier",
        ),
        (
            with(&|r| r.carrier = Some("nope".into())),
            "carrier: no carrier named \"nope\"",
        ),
        (
            with(&|r| r.tags = many_tags.clone()),
            "tags: must have at most 32 entries, got 33 entries",
        ),
        (
            with(&|r| r.tags = BTreeMap::from([(String::new(), "v".into())])),
            "tags: keys must be 1 to 64",
        ),
        (
            with(&|r| r.tags = BTreeMap::from([("k".into(), "v".repeat(257))])),
            "tags[\"k\"]: must be at most 256 characters",
        ),
        (
            with(&|r| {
                r.to = "+12025550123".into();
                r.from = String::new();
            }),
            "from: is required: carrier us-modem has no default sender",
        ),
    ];
    for (req, want) in cases {
        let status = client.submit(im(req.clone())).await.expect_err(want);
        assert_eq!(status.code(), Code::InvalidArgument, "{want}: {status:?}");
        assert!(
            status.message().starts_with(want),
            "want a message starting with {want:?}, got {:?}",
            status.message()
        );
    }

    // No route: FAILED_PRECONDITION saying so.
    let status = client
        .submit(im(text_to("+33612345678", "bonjour")))
        .await
        .expect_err("no route");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "to: no route covers \"+33612345678\"");

    // The other requests' fields.
    let status = client
        .get_message(im(pb::GetMessageRequest {
            message_id: "xyz".into(),
        }))
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("message_id: must be a message id"),
        "{status:?}"
    );
    let status = client
        .cancel(im(pb::CancelRequest {
            message_id: "00000000000000zz".into(),
        }))
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("message_id: "), "{status:?}");
    let status = client
        .stream_events(im(pb::StreamEventsRequest {
            after_cursor: 0,
            kinds: vec![pb::EventKind::Delivered as i32, 0],
        }))
        .await
        .expect_err("bad kind");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("kinds[1]: "), "{status:?}");
    let status = client
        .submit_batch(im(pb::SubmitBatchRequest { messages: vec![] }))
        .await
        .expect_err("empty batch");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("messages: must hold 1 to 1000"),
        "{status:?}"
    );
    // An unknown but well-formed id.
    let status = client
        .get_message(im(pb::GetMessageRequest {
            message_id: "0000000000000001".into(),
        }))
        .await
        .expect_err("unknown id");
    assert_eq!(status.code(), Code::NotFound);

    // Nothing was stored by any of them.
    let status = client
        .status(im(pb::StatusRequest {}))
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.last_cursor, 0);
    assert!(status.queues.iter().all(|q| q.queued == 0), "{status:?}");
    gw.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_unauthenticated_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    assert_eq!(gw.auth.failures(), 0);

    let status = client
        .submit(Request::new(uk("no token")))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(gw.auth.failures(), 1);

    let status = client
        .submit(authed("tok-im-wrong", uk("wrong token")))
        .await
        .expect_err("wrong token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(gw.auth.failures(), 2);

    let mut basic = Request::new(pb::StatusRequest {});
    basic.metadata_mut().insert(
        "authorization",
        format!("Basic {TOKEN_IM}").parse().expect("ascii"),
    );
    let status = client.status(basic).await.expect_err("wrong scheme");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .stream_events(Request::new(pb::StreamEventsRequest::default()))
        .await
        .expect_err("no token on a stream");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(gw.auth.failures(), 4);

    // Nothing was stored, and a good token still works and does not count.
    let status = client
        .status(im(pb::StatusRequest {}))
        .await
        .expect("status with a good token")
        .into_inner();
    assert_eq!(status.last_cursor, 0);
    assert_eq!(gw.auth.failures(), 4);
    gw.stop().await;
}

#[tokio::test]
async fn submit_then_get_message_through_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let mut req = uk(&"a".repeat(200));
    req.from = String::new(); // the carrier's default sender
    req.priority = pb::Priority::Urgent as i32;
    req.validity = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });
    req.tags = BTreeMap::from([("order".into(), "A-17".into())]);
    let before = UnixMs::now();
    let answer = submit(&mut client, req).await;
    assert_eq!(answer.segments, 2);
    assert_eq!(answer.encoding, pb::Encoding::Gsm7 as i32);
    assert_eq!(answer.carrier, "uk-smpp");
    assert!(!answer.duplicate);
    assert_eq!(answer.message_id.len(), 16);

    let m = get(&mut client, &answer.message_id).await;
    assert_eq!(m.message_id, answer.message_id);
    assert_eq!(m.state, pb::MessageState::Queued as i32);
    assert_eq!((m.to.as_str(), m.from.as_str()), ("+447700900123", "Acme"));
    assert_eq!(m.body, Some(pb::message::Body::Text("a".repeat(200))));
    assert_eq!(m.carrier, "uk-smpp");
    assert_eq!(m.encoding, pb::Encoding::Gsm7 as i32);
    assert_eq!(m.priority, pb::Priority::Urgent as i32);
    assert_eq!(m.tags.get("order").map(String::as_str), Some("A-17"));
    assert_eq!(m.segments.len(), 2);
    assert!(m.carrier_message_ids.is_empty());
    let valid_until = m.valid_until.expect("valid_until");
    let valid_ms = valid_until.seconds * 1000 + i64::from(valid_until.nanos / 1_000_000);
    assert!(
        (before.0 + 3_600_000..=UnixMs::now().0 + 3_600_000).contains(&valid_ms),
        "valid_until {valid_ms} is not an hour after the submit"
    );

    // The link takes both segments; the carrier accepts them and sends receipts.
    let ids = carrier_accepts(&gw.store, "uk-smpp", "smsc").await;
    assert_eq!(ids.len(), 2);
    let m = get(&mut client, &answer.message_id).await;
    assert_eq!(m.state, pb::MessageState::Submitted as i32);
    // Shown as the carrier gave them; the normalized receipt keys beside them.
    assert_eq!(m.carrier_message_ids, vec!["SMSC-0", "SMSC-1"]);
    let per_segment: Vec<_> = m
        .segments
        .iter()
        .map(|s| {
            (
                s.carrier_message_id.as_deref(),
                s.carrier_message_id_normalized.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        per_segment,
        [
            (Some("SMSC-0"), Some("smsc-0")),
            (Some("SMSC-1"), Some("smsc-1"))
        ]
    );
    for (segment, (stat, err, nec)) in [
        ("DELIVRD", "000", None),
        ("UNDELIV", "0x1f", Some(vec![3u8, 0, 0x1f])),
    ]
    .into_iter()
    .enumerate()
    {
        gw.store
            .record_receipt(
                &CarrierId::new("uk-smpp"),
                &format!("smsc-{segment}"),
                Receipt {
                    state: if stat == "DELIVRD" {
                        MessageState::Delivered
                    } else {
                        MessageState::Undeliverable
                    },
                    status: CarrierStatus {
                        stat: Some(stat.into()),
                        err: Some(err.into()),
                        network_error_code: nec,
                        done_date: Some("2611231047".into()),
                        raw: Some(format!("id:smsc-{segment} stat:{stat} err:{err}")),
                    },
                    received_at: UnixMs::now(),
                },
            )
            .await
            .expect("record receipt");
    }
    let m = get(&mut client, &answer.message_id).await;
    assert_eq!(m.state, pb::MessageState::Undeliverable as i32);
    assert_eq!(m.segments[0].state, pb::MessageState::Delivered as i32);
    assert_eq!(m.segments[1].state, pb::MessageState::Undeliverable as i32);
    let cs = m.carrier_status.expect("the failed segment's receipt");
    assert_eq!(cs.stat.as_deref(), Some("UNDELIV"));
    assert_eq!(cs.err.as_deref(), Some("0x1f"));
    assert_eq!(cs.network_error_code, Some(vec![3, 0, 0x1f]));
    assert_eq!(cs.raw.as_deref(), Some("id:smsc-1 stat:UNDELIV err:0x1f"));
    let first = m.segments[0].carrier_status.clone().expect("receipt");
    assert_eq!(
        (first.stat.as_deref(), first.err.as_deref()),
        (Some("DELIVRD"), Some("000"))
    );
    assert_eq!(first.network_error_code, None);
    assert!(m.final_at.is_some());

    // A binary body keeps its octets and data_coding.
    let mut req = uk("x");
    req.body = Some(pb::submit_request::Body::Binary(pb::BinaryBody {
        data: vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0],
        data_coding: 0xF5,
    }));
    let binary = submit(&mut client, req).await;
    assert_eq!(
        (binary.segments, binary.encoding),
        (1, pb::Encoding::Binary as i32)
    );
    let stored = get(&mut client, &binary.message_id).await;
    assert_eq!(
        stored.body,
        Some(pb::message::Body::Binary(pb::BinaryBody {
            data: vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0],
            data_coding: 0xF5,
        }))
    );
    assert!(stored.want_receipt);

    // Another client cannot read it.
    let status = client
        .get_message(authed(
            TOKEN_CRM,
            pb::GetMessageRequest {
                message_id: answer.message_id.clone(),
            },
        ))
        .await
        .expect_err("not that client's message");
    assert_eq!(status.code(), Code::NotFound);
    gw.stop().await;
}

#[tokio::test]
async fn resubmitting_a_client_ref_returns_the_first_message_and_stores_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let mut req = uk("pay 10 EUR");
    req.client_ref = "order-17".into();
    let first = submit(&mut client, req.clone()).await;
    assert!(!first.duplicate);
    // A retry, even with a different body, is the first message.
    let mut retry = req.clone();
    retry.body = Some(pb::submit_request::Body::Text("something else".into()));
    let second = submit(&mut client, retry).await;
    assert!(second.duplicate);
    assert_eq!(second.message_id, first.message_id);
    assert_eq!((second.segments, second.carrier.as_str()), (1, "uk-smpp"));
    // The same key from another client is that client's own message.
    let other = client
        .submit(authed(TOKEN_CRM, req.clone()))
        .await
        .expect("submit")
        .into_inner();
    assert_ne!(other.message_id, first.message_id);
    assert!(!other.duplicate);
    // Twice in one batch, and again: still the first message.
    let batch = client
        .submit_batch(im(pb::SubmitBatchRequest {
            messages: vec![req.clone(), req.clone()],
        }))
        .await
        .expect("batch")
        .into_inner();
    for r in &batch.results {
        match &r.outcome {
            Some(pb::submit_batch_result::Outcome::Accepted(a)) => {
                assert_eq!(a.message_id, first.message_id);
                assert!(a.duplicate);
            }
            other => panic!("item {}: {other:?}", r.index),
        }
    }

    // Exactly one message for "im": one ACCEPTED event for the id, and one queued segment in total
    // besides the other client's.
    let mut stream = open_stream(&mut client, 0, &[pb::EventKind::Accepted]).await;
    let events = take(&mut stream, 2).await;
    assert_quiet(&mut stream).await;
    let ids: Vec<&str> = events.iter().map(|e| state_change(e).0).collect();
    assert_eq!(
        ids,
        vec![first.message_id.as_str(), other.message_id.as_str()]
    );
    let status = client
        .status(im(pb::StatusRequest {}))
        .await
        .expect("status")
        .into_inner();
    let uk_queue = status
        .queues
        .iter()
        .find(|q| q.carrier == "uk-smpp")
        .expect("uk queue");
    assert_eq!(uk_queue.queued, 2);
    gw.stop().await;
}

#[tokio::test]
async fn submit_batch_answers_each_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let answer = client
        .submit_batch(im(pb::SubmitBatchRequest {
            messages: vec![
                uk("first"),
                text_to("12ab", "bad number"),
                text_to("+33612345678", "no route"),
                text_to("+12025550123", &"ж".repeat(71)),
            ],
        }))
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(answer.results.len(), 4);
    let indexes: Vec<u32> = answer.results.iter().map(|r| r.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3]);
    let accepted = |i: usize| match &answer.results[i].outcome {
        Some(pb::submit_batch_result::Outcome::Accepted(a)) => a.clone(),
        other => panic!("item {i} not accepted: {other:?}"),
    };
    let error = |i: usize| match &answer.results[i].outcome {
        Some(pb::submit_batch_result::Outcome::Error(e)) => e.clone(),
        other => panic!("item {i} not refused: {other:?}"),
    };
    let a0 = accepted(0);
    assert_eq!((a0.segments, a0.carrier.as_str()), (1, "uk-smpp"));
    let e1 = error(1);
    assert_eq!(e1.code, Code::InvalidArgument as i32);
    assert_eq!(
        e1.message,
        "messages[1].to: must be E.164: '+' then 8 to 15 digits, got \"12ab\""
    );
    let e2 = error(2);
    assert_eq!(e2.code, Code::FailedPrecondition as i32);
    assert!(e2.message.contains("no route"), "{e2:?}");
    let a3 = accepted(3);
    assert_eq!(
        (a3.segments, a3.encoding, a3.carrier.as_str()),
        (2, pb::Encoding::Ucs2 as i32, "us-modem")
    );
    assert_ne!(a0.message_id, a3.message_id);
    // Both accepted items are stored and readable.
    for id in [&a0.message_id, &a3.message_id] {
        assert_eq!(get(&mut client, id).await.message_id, *id);
    }
    gw.stop().await;
}

#[tokio::test]
async fn cancel_before_and_after_submission() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let waiting = submit(&mut client, uk("cancel me")).await;
    let answer = client
        .cancel(im(pb::CancelRequest {
            message_id: waiting.message_id.clone(),
        }))
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(answer.outcome, pb::CancelOutcome::Cancelled as i32);
    assert_eq!(answer.state, pb::MessageState::Cancelled as i32);
    assert_eq!(
        get(&mut client, &waiting.message_id).await.state,
        pb::MessageState::Cancelled as i32
    );
    let mut stream = open_stream(&mut client, 0, &[pb::EventKind::Cancelled]).await;
    let cancelled = take(&mut stream, 1).await;
    let (id, state, segment) = state_change(&cancelled[0]);
    assert_eq!(
        (id, state),
        (waiting.message_id.as_str(), pb::MessageState::Cancelled)
    );
    assert!(segment.is_none() || segment == Some(0));
    assert_eq!(cancelled[0].kind, pb::EventKind::Cancelled as i32);
    // Nothing is left for the link to send.
    assert!(
        gw.store
            .claim(&CarrierId::new("uk-smpp"), 10, UnixMs::now())
            .await
            .expect("claim")
            .is_empty()
    );
    // Again: already final.
    let again = client
        .cancel(im(pb::CancelRequest {
            message_id: waiting.message_id.clone(),
        }))
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(again.outcome, pb::CancelOutcome::AlreadyFinal as i32);
    assert_eq!(again.state, pb::MessageState::Cancelled as i32);

    // After the carrier has it: the answer says so and nothing is cancelled.
    let sent = submit(&mut client, uk("too late")).await;
    carrier_accepts(&gw.store, "uk-smpp", "late").await;
    let late = client
        .cancel(im(pb::CancelRequest {
            message_id: sent.message_id.clone(),
        }))
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(late.outcome, pb::CancelOutcome::AlreadySubmitted as i32);
    assert_eq!(late.state, pb::MessageState::Submitted as i32);
    assert!(!late.carrier_cancel_requested);
    assert_eq!(
        get(&mut client, &sent.message_id).await.state,
        pb::MessageState::Submitted as i32
    );
    // The only CANCELLED event is the first message's.
    assert_quiet(&mut stream).await;
    gw.stop().await;
}

#[tokio::test]
async fn events_replay_follow_live_and_carry_inbound_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;

    let m1 = submit(&mut client, uk("one")).await;
    let mut stream = open_stream(&mut client, 0, &[]).await;
    // Replay: m1's ACCEPTED and QUEUED (message-level and per-segment events may both exist).
    let replayed = take(&mut stream, 2).await;
    assert_eq!(
        states_of(&replayed, &m1.message_id),
        vec![pb::MessageState::Accepted, pb::MessageState::Queued]
    );
    // Live: a new message, then an inbound one.
    let m2 = submit(&mut client, uk("two")).await;
    let live = take(&mut stream, 2).await;
    assert_eq!(
        states_of(&live, &m2.message_id),
        vec![pb::MessageState::Accepted, pb::MessageState::Queued]
    );
    let received_at = UnixMs::now();
    let (mo_id, mo_cursor) = gw
        .store
        .record_mo(MoMessage {
            from: "+447700900999".into(),
            to: "+447700900000".into(),
            text: "STOP".into(),
            carrier: CarrierId::new("uk-smpp"),
            received_at,
            concat: None,
        })
        .await
        .expect("record mo");
    let mo = take(&mut stream, 1).await;
    assert_eq!(mo[0].cursor, mo_cursor);
    assert_eq!(mo[0].kind, pb::EventKind::Mo as i32);
    match &mo[0].payload {
        Some(pb::event::Payload::Inbound(m)) => {
            assert_eq!(m.message_id, mo_id.to_string());
            assert_eq!(
                (
                    m.from.as_str(),
                    m.to.as_str(),
                    m.text.as_str(),
                    m.carrier.as_str()
                ),
                ("+447700900999", "+447700900000", "STOP", "uk-smpp")
            );
            let t = m.received_at.expect("received_at");
            assert_eq!(
                t.seconds * 1000 + i64::from(t.nanos / 1_000_000),
                received_at.0
            );
        }
        other => panic!("not an inbound message: {other:?}"),
    }
    let all: Vec<pb::Event> = replayed.into_iter().chain(live).chain(mo).collect();
    assert_increasing(&all);
    assert_quiet(&mut stream).await;

    // A filtered stream from the middle: only MO, after m1's events.
    let after = all[1].cursor;
    let mut only_mo = open_stream(&mut client, after, &[pb::EventKind::Mo]).await;
    let got = take(&mut only_mo, 1).await;
    assert_eq!(got[0].cursor, mo_cursor);
    assert_quiet(&mut only_mo).await;
    gw.stop().await;
}

#[tokio::test]
async fn no_gap_or_duplicate_when_replay_meets_live_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    for i in 0..20 {
        submit(&mut client, uk(&format!("before {i}"))).await;
    }
    // Open the stream while 30 more messages are being submitted concurrently.
    let mut writer = gw.client().await;
    let submitting = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..30 {
            ids.push(
                submit(&mut writer, uk(&format!("during {i}")))
                    .await
                    .message_id,
            );
        }
        ids
    });
    let mut stream = open_stream(&mut client, 0, &[pb::EventKind::Accepted]).await;
    let events = take(&mut stream, 50).await;
    let during = submitting.await.expect("submitter");
    assert_quiet(&mut stream).await;
    assert_increasing(&events);
    let ids: HashSet<&str> = events.iter().map(|e| state_change(e).0).collect();
    assert_eq!(ids.len(), 50, "each message's ACCEPTED exactly once");
    for id in &during {
        assert!(ids.contains(id.as_str()), "{id} missing");
    }
    gw.stop().await;
}

#[tokio::test]
async fn events_resume_after_a_server_restart_with_nothing_lost_or_repeated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(submit(&mut client, uk(&format!("m{i}"))).await.message_id);
    }
    // The consumer processes 4 of the 6 events, then the server goes away under it.
    let mut stream = open_stream(&mut client, 0, &[]).await;
    let first = take(&mut stream, 4).await;
    let last_processed = first.last().map(|e| e.cursor).expect("events");
    gw.stop().await;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue, // events already in flight: the consumer did not process them
                Ok(None) => return None,
                Err(status) => return Some(status.code()),
            }
        }
    })
    .await
    .expect("the stream ends when the server stops");
    assert!(
        matches!(
            ended,
            None | Some(Code::Unavailable) | Some(Code::Unknown) | Some(Code::Cancelled)
        ),
        "{ended:?}"
    );

    // A new server on the same database; more happens before the consumer is back.
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    let while_away = submit(&mut client, uk("while away")).await;
    ids.push(while_away.message_id.clone());
    let mut resumed = open_stream(&mut client, last_processed, &[]).await;
    let rest = take(&mut resumed, 4).await;
    // And it keeps following live.
    let after_resume = submit(&mut client, uk("after resume")).await;
    ids.push(after_resume.message_id.clone());
    let live = take(&mut resumed, 2).await;
    assert_quiet(&mut resumed).await;

    let consumed: Vec<pb::Event> = first.into_iter().chain(rest).chain(live).collect();
    assert_increasing(&consumed);
    // Exactly the stored log: a fresh full replay gives the same cursors.
    let mut full = open_stream(&mut client, 0, &[]).await;
    let everything = take(&mut full, consumed.len()).await;
    assert_quiet(&mut full).await;
    let cursors = |es: &[pb::Event]| es.iter().map(|e| e.cursor).collect::<Vec<_>>();
    assert_eq!(cursors(&consumed), cursors(&everything));
    for id in &ids {
        assert_eq!(
            states_of(&consumed, id),
            vec![pb::MessageState::Accepted, pb::MessageState::Queued],
            "{id}"
        );
    }
    // Message ids survive the restart too.
    assert!(ids.iter().all(|id| id.parse::<MessageId>().is_ok()));
    gw.stop().await;
}

#[tokio::test]
async fn status_lists_configured_carriers_and_queue_depths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    submit(&mut client, uk(&"b".repeat(300))).await; // 2 segments
    submit(&mut client, uk("short")).await;
    let status = client
        .status(im(pb::StatusRequest {}))
        .await
        .expect("status")
        .into_inner();
    let by_carrier: BTreeMap<&str, &pb::CarrierQueue> = status
        .queues
        .iter()
        .map(|q| (q.carrier.as_str(), q))
        .collect();
    assert_eq!(by_carrier.len(), 2);
    assert_eq!(by_carrier["uk-smpp"].queued, 3);
    assert_eq!(by_carrier["us-modem"].queued, 0);
    assert!(status.links.is_empty());
    assert!(status.last_cursor >= 4);
    gw.stop().await;
}

#[tokio::test]
async fn health_answers_serving_and_reflection_lists_the_service_without_a_token() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let channel = gw.channel().await;

    let mut health = HealthClient::new(channel.clone());
    for service in ["", "smsbridge.v1.Gateway"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }

    // v1
    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let mut reflection = ServerReflectionClient::new(channel.clone());
        let requests = tokio_stream::iter(vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "smsbridge.v1.Gateway".into(),
                )),
            },
        ]);
        let mut answers = reflection
            .server_reflection_info(requests)
            .await
            .expect("reflection")
            .into_inner();
        let first = tokio::time::timeout(WAIT, answers.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("an answer");
        let names: Vec<String> = match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("not a service list: {other:?}"),
        };
        for want in [
            "smsbridge.v1.Gateway",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let second = tokio::time::timeout(WAIT, answers.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("an answer");
        match second.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                assert!(!files.file_descriptor_proto.is_empty());
            }
            other => panic!("no file descriptor: {other:?}"),
        }
    }
    // v1alpha, as older grpcurl versions use.
    {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        let mut reflection = ServerReflectionClient::new(channel);
        let requests = tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]);
        let mut answers = reflection
            .server_reflection_info(requests)
            .await
            .expect("reflection")
            .into_inner();
        let first = tokio::time::timeout(WAIT, answers.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("an answer");
        match first.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                assert!(
                    list.service
                        .iter()
                        .any(|s| s.name == "smsbridge.v1.Gateway")
                );
            }
            other => panic!("not a service list: {other:?}"),
        }
    }
    // None of this was an authentication failure.
    assert_eq!(gw.auth.failures(), 0);
    gw.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path()).await;
    let mut client = gw.client().await;
    // 10,000 events (about 1 MB): more than the stream buffer, the HTTP/2 window and the send buffer hold.
    for batch in 0..5 {
        let messages = (0..1000)
            .map(|i| {
                uk(&format!(
                    "batch {batch} message {i} with some padding to make events larger"
                ))
            })
            .collect();
        let answer = client
            .submit_batch(im(pb::SubmitBatchRequest { messages }))
            .await
            .expect("batch")
            .into_inner();
        assert_eq!(answer.results.len(), 1000);
    }
    let mut stream = open_stream(&mut client, 0, &[]).await;
    let first = take(&mut stream, 1).await;
    assert_eq!(first[0].cursor, 1);
    // The client keeps the stream open and reads nothing more; the server must still stop in time.
    gw.stop().await;
    drop(stream);
}

#[tokio::test]
async fn retention_pruned_events_and_messages_answer_out_of_range_and_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_sqlite_with(SqliteConfig {
        retention: RetentionPolicy {
            keep_finished: Some(Duration::from_secs(60)),
            keep_events: Some(Duration::from_secs(60)),
            chunk_rows: 1_000,
        },
        ..SqliteConfig::new(dir.path().join("smsbridge.db"))
    })
    .await
    .expect("open the store");
    let gw = Gateway::start_on(store.clone()).await;
    let mut client = gw.client().await;
    let cancelled = submit(&mut client, uk("cancel me")).await.message_id;
    client
        .cancel(im(pb::CancelRequest {
            message_id: cancelled.clone(),
        }))
        .await
        .expect("cancel");
    let queued = submit(&mut client, uk("still queued")).await.message_id;
    let before = take(&mut open_stream(&mut client, 0, &[]).await, 5).await;
    let last = before.last().expect("events").cursor;

    // An hour later: every event is gone, and the cancelled (final) message; the queued one stays.
    let report = store
        .prune(UnixMs::now().plus_ms(3_600_000))
        .await
        .expect("prune");
    assert_eq!((report.messages, report.events), (1, 5), "{report:?}");

    let status = tokio::time::timeout(
        WAIT,
        open_stream(&mut client, before[0].cursor, &[])
            .await
            .message(),
    )
    .await
    .expect("an answer in time")
    .expect_err("a cursor before the pruned events is refused");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains(&format!("resume from is {last}")),
        "names the oldest cursor: {}",
        status.message()
    );
    // Resuming from that cursor, or from 0, works and follows live.
    let mut resumed = open_stream(&mut client, last, &[]).await;
    let mut from_start = open_stream(&mut client, 0, &[]).await;
    let new = submit(&mut client, uk("after pruning")).await.message_id;
    for stream in [&mut resumed, &mut from_start] {
        let events = take(stream, 2).await;
        assert!(events.iter().all(|e| e.cursor > last), "{events:?}");
        assert_eq!(
            states_of(&events, &new),
            vec![pb::MessageState::Accepted, pb::MessageState::Queued]
        );
    }

    let gone = client
        .get_message(im(pb::GetMessageRequest {
            message_id: cancelled.clone(),
        }))
        .await
        .expect_err("pruned");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    assert_eq!(
        pb::MessageState::try_from(get(&mut client, &queued).await.state),
        Ok(pb::MessageState::Queued)
    );
    gw.stop().await;
}
