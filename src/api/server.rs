//! The `smsbridge.v1.Gateway` service and the gRPC server that carries it with health and reflection.
//!
//! [`GatewayService`] turns requests into store operations: validate ([`super::validate`]), route (the
//! [`Routing`] the config provides), plan ([`Planner`]), then [`Store::submit`], answering only with what the
//! store committed. [`ApiServer::serve`] serves it behind bearer-token authentication on a given listener,
//! next to the open health and reflection services.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::auth::{AuthenticatedClient, Authenticator};
use super::coalesce::CoalescingIo;
use super::pb;
use super::plan::{Encoding, PlanError, Planner};
use super::validate::{self, FieldError, SubmitDefaults, ValidBody, ValidSubmit};
use crate::model::{
    Body, CarrierId, CarrierStatus, ClientId, Event, EventData, EventKind, Message, MessageId,
    MessageState, NewMessage, Priority, SegmentInfo, UnixMs,
};
use crate::store::{self, Store, StoreError};

/// Events read from the store per query while streaming.
const EVENT_BATCH: usize = 256;
/// Batches (of at most [`EVENT_BATCH`] events) buffered per stream before the reader waits for the client.
const STREAM_BATCHES: usize = 1;

/// The events of one store read, as a stream sends them; an error ends the stream.
type EventBatch = Vec<Result<pb::Event, Status>>;

/// Why no carrier (or no sender) can be chosen for a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No route covers the destination: FAILED_PRECONDITION.
    #[error("{0}")]
    NoRoute(String),
    /// A route covers it but none of its carriers can take traffic now: UNAVAILABLE (retry later).
    #[error("{0}")]
    NoCarrierAvailable(String),
    /// The request named a carrier the config does not have: INVALID_ARGUMENT on `carrier`.
    #[error("no carrier named {carrier:?} in the config")]
    UnknownCarrier { carrier: String },
    /// The sender is missing (and the route has no default) or breaks a rule: INVALID_ARGUMENT on `from`.
    #[error("{0}")]
    InvalidSender(String),
    /// The route does not allow this sender: PERMISSION_DENIED on `from`.
    #[error("{0}")]
    SenderNotAllowed(String),
}

/// The carrier and the sender a message goes out with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChoice {
    pub carrier: CarrierId,
    /// The sender after the route's rules (default sender, rewrites).
    pub from: String,
}

/// What the API needs from the router and the config: which carrier takes a destination and with which
/// sender. Implemented over the config's router by the composition ([`crate::gateway`]), and by tests with a
/// fixed table.
pub trait Routing: Send + Sync + 'static {
    /// The carrier for `to` (or the `carrier` the client asked for, if the config has it) and the sender
    /// (`from` as the client gave it, `None` for the route's default).
    fn route(
        &self,
        to: &str,
        from: Option<&str>,
        carrier: Option<&str>,
    ) -> Result<RouteChoice, RouteError>;
    /// Every configured carrier (listed by Status even when their queue is empty).
    fn carriers(&self) -> Vec<CarrierId>;
}

/// What the carrier is asked to cancel: the segments of one message it already accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierCancelRequest {
    pub message: MessageId,
    pub carrier: CarrierId,
    /// The sender and the recipient as the message was submitted: cancel_sm quotes the submit's source
    /// address (SMPP 3.4 §4.9.1), and may quote its destination.
    pub from: String,
    pub to: String,
    /// (segment index, carrier message id) of the segments the carrier holds and that are not final, each id
    /// exactly as the carrier gave it: what cancel_sm quotes.
    pub carrier_message_ids: Vec<(u16, String)>,
}

/// Hook for the link engine: ask the carrier to cancel segments it already accepted (SMPP cancel_sm).
/// Without one, Cancel of a submitted message answers `ALREADY_SUBMITTED` with
/// `carrier_cancel_requested: false`.
pub trait CarrierCancel: Send + Sync + 'static {
    /// Queues a cancel request and returns at once (the API call must not wait for the carrier); true when
    /// it was queued, false when the carrier can not cancel (no SMPP link, `supports_cancel = false`) or
    /// the queue is full. The outcome shows up later as CANCELLED state changes, or not at all.
    fn request_carrier_cancel(&self, request: CarrierCancelRequest) -> bool;
}

/// One carrier link's state, for Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub carrier: CarrierId,
    pub link: String,
    pub state: String,
    pub detail: String,
}

/// Hook for the link engine: the links' states, for Status.
pub trait LinkStates: Send + Sync + 'static {
    fn links(&self) -> Vec<LinkState>;
}

/// The `Gateway` service implementation.
#[derive(Clone)]
pub struct GatewayService {
    store: Store,
    routing: Arc<dyn Routing>,
    planner: Arc<Planner>,
    carrier_cancel: Option<Arc<dyn CarrierCancel>>,
    links: Option<Arc<dyn LinkStates>>,
    defaults: SubmitDefaults,
    shutdown: CancellationToken,
}

impl GatewayService {
    /// A service over `store`, routing with `routing` and planning with `planner`. Streams end when
    /// `shutdown` is cancelled.
    pub fn new(
        store: Store,
        routing: Arc<dyn Routing>,
        planner: Arc<Planner>,
        shutdown: CancellationToken,
    ) -> Self {
        GatewayService {
            store,
            routing,
            planner,
            carrier_cancel: None,
            links: None,
            defaults: SubmitDefaults::default(),
            shutdown,
        }
    }

    /// The defaults for fields a request leaves out, and the batch limit (the config's `[api]`).
    pub fn with_defaults(mut self, defaults: SubmitDefaults) -> Self {
        self.defaults = defaults;
        self
    }

    /// Plug in the link engine's carrier cancel (cancel_sm).
    pub fn with_carrier_cancel(mut self, hook: Arc<dyn CarrierCancel>) -> Self {
        self.carrier_cancel = Some(hook);
        self
    }

    /// Plug in the link engine's link states.
    pub fn with_link_states(mut self, links: Arc<dyn LinkStates>) -> Self {
        self.links = Some(links);
        self
    }
}

/// A validated, routed and planned submit, ready for the store; with what the answer needs.
struct Prepared {
    message: NewMessage,
    segments: u32,
    encoding: Encoding,
}

/// The outcome of preparing one submit.
enum Prep {
    /// A new message to store.
    New(Box<Prepared>),
    /// The client_ref was already used: the stored message is the answer.
    Duplicate(pb::SubmitResponse),
}

fn client_of<T>(request: &Request<T>) -> Result<ClientId, Status> {
    request
        .extensions()
        .get::<AuthenticatedClient>()
        .map(|c| ClientId::new(c.0.clone()))
        // The interceptor puts it there; a service mounted without it must not serve anyone.
        .ok_or_else(|| Status::unauthenticated("no authenticated client"))
}

/// The gRPC status for a store error.
pub fn store_status(err: StoreError) -> Status {
    match err {
        StoreError::Engine { .. } | StoreError::Closed => Status::unavailable(format!(
            "{err}; retry (with the same client_ref for Submit)"
        )),
        StoreError::InvalidMessage { field, reason } => {
            Status::invalid_argument(format!("{field}: {reason}"))
        }
        StoreError::NotFound(id) => Status::not_found(format!("message_id: no message {id}")),
        StoreError::CursorPruned { .. } => Status::out_of_range(format!("after_cursor: {err}")),
        other => Status::internal(other.to_string()),
    }
}

fn route_status(err: RouteError) -> Status {
    match err {
        RouteError::NoRoute(_) => Status::failed_precondition(format!("to: {err}")),
        RouteError::NoCarrierAvailable(_) => Status::unavailable(format!("to: {err}")),
        RouteError::UnknownCarrier { .. } => Status::invalid_argument(format!("carrier: {err}")),
        RouteError::InvalidSender(_) => Status::invalid_argument(format!("from: {err}")),
        RouteError::SenderNotAllowed(_) => Status::permission_denied(format!("from: {err}")),
    }
}

fn plan_status(err: PlanError, body: &ValidBody) -> Status {
    let field = match body {
        ValidBody::Text(_) => "text",
        ValidBody::Binary { .. } => "binary.data",
    };
    FieldError::new(field, err.to_string(), None).into()
}

impl GatewayService {
    /// Validates, routes and plans one request, or finds the message its client_ref already made.
    async fn prepare(&self, client: &ClientId, req: pb::SubmitRequest) -> Result<Prep, Status> {
        let valid = validate::submit(req, &self.defaults)?;
        if let Some(client_ref) = &valid.client_ref {
            // A retry must get the first message back even if the config changed since (a route removed).
            let found = self
                .store
                .get_by_client_ref(client, client_ref)
                .await
                .map_err(store_status)?;
            if let Some(message) = found {
                return Ok(Prep::Duplicate(submit_response(&message, true)));
            }
        }
        let RouteChoice { carrier, from } = self
            .routing
            .route(&valid.to, valid.from.as_deref(), valid.carrier.as_deref())
            .map_err(route_status)?;
        let plan = self
            .planner
            .plan(&valid.to, &valid.body)
            .map_err(|e| plan_status(e, &valid.body))?;
        let segments = u32::try_from(plan.segments.len()).unwrap_or(u32::MAX);
        let ValidSubmit {
            to,
            body,
            client_ref,
            validity,
            priority,
            want_receipt,
            tags,
            ..
        } = valid;
        let validity_ms = i64::try_from(validity.as_millis()).unwrap_or(i64::MAX);
        let message = NewMessage {
            client: client.clone(),
            client_ref,
            to,
            from,
            body: match body {
                ValidBody::Text(text) => Body::Text(text),
                ValidBody::Binary { data, data_coding } => Body::Binary { data, data_coding },
            },
            segments: plan.segments,
            encoding: plan.encoding_name.to_owned(),
            carrier,
            priority,
            want_receipt,
            valid_until: UnixMs::now().plus_ms(validity_ms),
            tags,
        };
        Ok(Prep::New(Box::new(Prepared {
            message,
            segments,
            encoding: plan.encoding,
        })))
    }

    /// Stores prepared messages in one store call (one group commit) and answers each.
    async fn store_prepared(
        &self,
        prepared: Vec<Prepared>,
    ) -> Vec<Result<pb::SubmitResponse, Status>> {
        let answers: Vec<(u32, Encoding, CarrierId)> = prepared
            .iter()
            .map(|p| (p.segments, p.encoding, p.message.carrier.clone()))
            .collect();
        let results = self
            .store
            .submit(prepared.into_iter().map(|p| p.message).collect())
            .await;
        let expected = answers.len();
        let mut out = Vec::with_capacity(expected);
        for ((segments, encoding, carrier), result) in answers.into_iter().zip(results) {
            out.push(match result {
                Err(err) => Err(store_status(err)),
                Ok(accepted) if accepted.duplicate => {
                    // Another call with the same client_ref won the race: answer with its message.
                    match self.store.get(accepted.id).await {
                        Ok(Some(message)) => Ok(submit_response(&message, true)),
                        Ok(None) => Err(Status::internal(format!(
                            "message {} reported stored but not found",
                            accepted.id
                        ))),
                        Err(err) => Err(store_status(err)),
                    }
                }
                Ok(accepted) => Ok(pb::SubmitResponse {
                    message_id: accepted.id.to_string(),
                    segments,
                    encoding: pb_encoding_of(encoding) as i32,
                    carrier: carrier.to_string(),
                    duplicate: false,
                    state: pb_state(accepted.state) as i32,
                }),
            });
        }
        // The store answers once per message; a shorter answer would be its bug, not a success.
        while out.len() < expected {
            out.push(Err(Status::internal("the store gave no answer")));
        }
        out
    }

    /// The message `id_text` names, if it belongs to `client`.
    async fn owned_message(
        &self,
        client: &ClientId,
        id_text: &str,
    ) -> Result<(MessageId, Message), Status> {
        let id = parse_message_id(id_text)?;
        let message = self.store.get(id).await.map_err(store_status)?;
        match message {
            // Another client's message is reported as absent: ids are not secrets, contents are.
            Some(m) if &m.client == client => Ok((id, m)),
            _ => Err(Status::not_found(format!(
                "message_id: no message {}",
                validate::quote(id_text)
            ))),
        }
    }
}

/// The debug line of an accepted Submit, in its message's span.
fn log_accepted(answer: &pb::SubmitResponse) {
    tracing::debug!(
        carrier = %answer.carrier,
        segments = answer.segments,
        duplicate = answer.duplicate,
        "submit accepted"
    );
}

fn parse_message_id(text: &str) -> Result<MessageId, Status> {
    let raw = validate::check_message_id("message_id", text)?;
    MessageId::from_u64(raw).ok_or_else(|| {
        FieldError::new(
            "message_id",
            "must be a message id: 16 hex digits",
            Some(validate::quote(text)),
        )
        .into()
    })
}

#[tonic::async_trait]
impl pb::gateway_server::Gateway for GatewayService {
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let client = client_of(&request)?;
        // The message id is born in the store: recorded on the span once known. Disabled, the span is
        // `Span::none()` and costs a branch.
        let span = tracing::debug_span!(
            "api_submit",
            client = %client,
            message_id = tracing::field::Empty,
        );
        let answer = async {
            match self.prepare(&client, request.into_inner()).await? {
                Prep::Duplicate(answer) => Ok(answer),
                Prep::New(prepared) => self
                    .store_prepared(vec![*prepared])
                    .await
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Err(Status::internal("the store gave no answer"))),
            }
        }
        .instrument(span.clone())
        .await;
        span.in_scope(|| match &answer {
            Ok(a) => {
                span.record("message_id", a.message_id.as_str());
                log_accepted(a);
            }
            Err(status) => {
                tracing::debug!(code = ?status.code(), error = status.message(), "submit refused")
            }
        });
        answer.map(Response::new)
    }

    async fn submit_batch(
        &self,
        request: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let client = client_of(&request)?;
        let items = request.into_inner().messages;
        if items.is_empty() || items.len() > self.defaults.max_batch {
            return Err(FieldError::new(
                "messages",
                format!("must hold 1 to {} messages", self.defaults.max_batch),
                Some(format!("{} messages", items.len())),
            )
            .into());
        }
        // One slot per item, filled in two passes: items refused or found as duplicates while preparing, then
        // the answers of the one store call for the rest.
        let mut results: Vec<Option<Result<pb::SubmitResponse, Status>>> =
            Vec::with_capacity(items.len());
        let mut to_store = Vec::new();
        let mut store_index = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            results.push(match self.prepare(&client, item).await {
                Ok(Prep::Duplicate(answer)) => Some(Ok(answer)),
                Ok(Prep::New(prepared)) => {
                    to_store.push(*prepared);
                    store_index.push(index);
                    None
                }
                Err(status) => {
                    // Name the item in the message: `messages[3].to: ...`.
                    let msg = format!("messages[{index}].{}", status.message());
                    Some(Err(Status::new(status.code(), msg)))
                }
            });
        }
        for (index, result) in store_index
            .into_iter()
            .zip(self.store_prepared(to_store).await)
        {
            if let Some(slot) = results.get_mut(index) {
                *slot = Some(result);
            }
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            for answer in results.iter().flatten().flatten() {
                tracing::debug_span!("api_submit", client = %client, message_id = %answer.message_id)
                    .in_scope(|| log_accepted(answer));
            }
        }
        let results = results
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                let outcome = match result {
                    Some(Ok(answer)) => pb::submit_batch_result::Outcome::Accepted(answer),
                    Some(Err(status)) => pb::submit_batch_result::Outcome::Error(pb::ItemError {
                        code: status.code() as i32,
                        message: status.message().to_owned(),
                    }),
                    None => pb::submit_batch_result::Outcome::Error(pb::ItemError {
                        code: tonic::Code::Internal as i32,
                        message: "the store gave no answer".into(),
                    }),
                };
                pb::SubmitBatchResult {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    outcome: Some(outcome),
                }
            })
            .collect();
        Ok(Response::new(pb::SubmitBatchResponse { results }))
    }

    async fn get_message(
        &self,
        request: Request<pb::GetMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let client = client_of(&request)?;
        let (_, message) = self
            .owned_message(&client, &request.get_ref().message_id)
            .await?;
        Ok(Response::new(pb_message(&message)))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::CancelResponse>, Status> {
        let client = client_of(&request)?;
        let (id, before) = self
            .owned_message(&client, &request.get_ref().message_id)
            .await?;
        let outcome = self.store.cancel(id).await.map_err(store_status)?;
        let state_now = |store: &Store| {
            let store = store.clone();
            async move {
                store
                    .get(id)
                    .await
                    .map_err(store_status)?
                    .map(|m| m.state)
                    .ok_or_else(|| Status::not_found(format!("message_id: no message {id}")))
            }
        };
        let answer = match outcome {
            store::CancelOutcome::Cancelled => pb::CancelResponse {
                outcome: pb::CancelOutcome::Cancelled as i32,
                state: pb_state(MessageState::Cancelled) as i32,
                cancelled_segments: 0,
                carrier_cancel_requested: false,
            },
            store::CancelOutcome::AlreadyFinal(state) => pb::CancelResponse {
                outcome: pb::CancelOutcome::AlreadyFinal as i32,
                state: pb_state(state) as i32,
                cancelled_segments: 0,
                carrier_cancel_requested: false,
            },
            store::CancelOutcome::AlreadySubmitted {
                carrier,
                carrier_message_ids,
                cancelled_segments,
                ..
            } => {
                // Segments already final (a receipt came) can not be cancelled: don't ask for them.
                let live: Vec<(u16, String)> = carrier_message_ids
                    .into_iter()
                    .filter(|(idx, _)| {
                        before
                            .segments
                            .iter()
                            .find(|s| s.index == *idx)
                            .is_none_or(|s| !s.state.is_final())
                    })
                    .collect();
                let requested = match &self.carrier_cancel {
                    Some(hook) if !live.is_empty() => {
                        hook.request_carrier_cancel(CarrierCancelRequest {
                            message: id,
                            carrier,
                            from: before.from.clone(),
                            to: before.to.clone(),
                            carrier_message_ids: live,
                        })
                    }
                    _ => false,
                };
                pb::CancelResponse {
                    outcome: pb::CancelOutcome::AlreadySubmitted as i32,
                    state: pb_state(state_now(&self.store).await?) as i32,
                    cancelled_segments: u32::from(cancelled_segments),
                    carrier_cancel_requested: requested,
                }
            }
        };
        Ok(Response::new(answer))
    }

    type StreamEventsStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        client_of(&request)?;
        let req = request.into_inner();
        let filter = KindFilter::new(&req.kinds)?;
        let (tx, rx) = mpsc::channel(STREAM_BATCHES);
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(follow_events(store, req.after_cursor, filter, tx, shutdown));
        // One channel message per store read, not per event: the hand-over to the response is per batch.
        let events = futures::StreamExt::flat_map(ReceiverStream::new(rx), futures::stream::iter);
        Ok(Response::new(Box::pin(events)))
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        client_of(&request)?;
        let stats = self.store.queue_stats();
        let mut queues: BTreeMap<CarrierId, store::QueueStats> = self
            .routing
            .carriers()
            .into_iter()
            .map(|c| (c, store::QueueStats::default()))
            .collect();
        queues.extend(stats);
        let links = self
            .links
            .as_ref()
            .map(|l| l.links())
            .unwrap_or_default()
            .into_iter()
            .map(|l| pb::LinkStatus {
                carrier: l.carrier.to_string(),
                link: l.link,
                state: l.state,
                detail: l.detail,
            })
            .collect();
        let last_cursor = *self.store.subscribe().borrow();
        Ok(Response::new(pb::StatusResponse {
            queues: queues
                .into_iter()
                .map(|(carrier, q)| pb::CarrierQueue {
                    carrier: carrier.to_string(),
                    queued: q.queued,
                    in_flight: q.in_flight,
                    retry_waiting: q.retry_waiting,
                })
                .collect(),
            links,
            last_cursor,
        }))
    }
}

/// Which events a stream wants, from the request's kinds.
#[derive(Debug, Clone)]
struct KindFilter {
    /// Empty: every kind.
    kinds: Vec<pb::EventKind>,
    /// What to ask the store for (it knows state changes and MO, not which state).
    store_kinds: Vec<EventKind>,
}

impl KindFilter {
    fn new(raw: &[i32]) -> Result<Self, FieldError> {
        let mut kinds = Vec::with_capacity(raw.len());
        for (i, &k) in raw.iter().enumerate() {
            match pb::EventKind::try_from(k) {
                Ok(pb::EventKind::Unspecified) | Err(_) => {
                    return Err(FieldError::new(
                        format!("kinds[{i}]"),
                        "must be an EventKind value, 1 to 10",
                        Some(k.to_string()),
                    ));
                }
                Ok(kind) => kinds.push(kind),
            }
        }
        let mut store_kinds = Vec::new();
        if !kinds.is_empty() {
            if kinds.iter().any(|k| *k != pb::EventKind::Mo) {
                store_kinds.push(EventKind::StateChange);
            }
            if kinds.contains(&pb::EventKind::Mo) {
                store_kinds.push(EventKind::Mo);
            }
        }
        Ok(KindFilter { kinds, store_kinds })
    }

    fn wants(&self, kind: pb::EventKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// Sends the stored events after `cursor`, then every new one, in cursor order, until the client goes away
/// or the server shuts down. Reading always continues from the last cursor read, so the switch from replay
/// to live can neither skip nor repeat an event.
async fn follow_events(
    store: Store,
    mut cursor: u64,
    filter: KindFilter,
    tx: mpsc::Sender<EventBatch>,
    shutdown: CancellationToken,
) {
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tx.send(vec![Err(Status::unavailable("the gateway is shutting down; resume from your last cursor"))]).await;
                return;
            }
            _ = tx.closed() => return,
            batch = store.wait_events(cursor, &filter.store_kinds, EVENT_BATCH) => batch,
        };
        let events = match batch {
            Ok(events) => events,
            Err(err) => {
                let _ = tx.send(vec![Err(store_status(err))]).await;
                return;
            }
        };
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            cursor = cursor.max(event.cursor);
            // Filter before building the message (its id as text is an allocation per event).
            let kind = match &event.data {
                EventData::StateChange { new, .. } => event_kind_of(*new),
                EventData::Mo(_) => pb::EventKind::Mo,
            };
            if !filter.wants(kind) {
                continue;
            }
            out.push(Ok(pb_event(&event)));
        }
        if out.is_empty() {
            continue;
        }
        // A client that stops reading must not hold up shutdown.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            sent = tx.send(out) => if sent.is_err() { return; },
        }
    }
}

/// The API form of a stored event.
pub fn pb_event(event: &Event) -> pb::Event {
    let (kind, payload) = match &event.data {
        EventData::StateChange { old, new, segment } => (
            event_kind_of(*new),
            pb::event::Payload::StateChange(pb::StateChange {
                message_id: event.message_id.to_string(),
                old_state: old.map(pb_state).unwrap_or(pb::MessageState::Unspecified) as i32,
                new_state: pb_state(*new) as i32,
                segment: segment.map(u32::from),
            }),
        ),
        EventData::Mo(mo) => (
            pb::EventKind::Mo,
            pb::event::Payload::Inbound(pb::InboundMessage {
                message_id: event.message_id.to_string(),
                from: mo.from.clone(),
                to: mo.to.clone(),
                text: mo.text.clone(),
                carrier: mo.carrier.to_string(),
                received_at: Some(timestamp(mo.received_at)),
            }),
        ),
    };
    pb::Event {
        cursor: event.cursor,
        time: Some(timestamp(event.time)),
        kind: kind as i32,
        payload: Some(payload),
    }
}

fn event_kind_of(state: MessageState) -> pb::EventKind {
    match state {
        MessageState::Accepted => pb::EventKind::Accepted,
        MessageState::Queued => pb::EventKind::Queued,
        MessageState::Submitted => pb::EventKind::Submitted,
        MessageState::Delivered => pb::EventKind::Delivered,
        MessageState::Undeliverable => pb::EventKind::Undeliverable,
        MessageState::Expired => pb::EventKind::Expired,
        MessageState::Rejected => pb::EventKind::Rejected,
        MessageState::Failed => pb::EventKind::Failed,
        MessageState::Cancelled => pb::EventKind::Cancelled,
        MessageState::Unknown => pb::EventKind::Unknown,
    }
}

/// The API form of a message state.
pub fn pb_state(state: MessageState) -> pb::MessageState {
    match state {
        MessageState::Accepted => pb::MessageState::Accepted,
        MessageState::Queued => pb::MessageState::Queued,
        MessageState::Submitted => pb::MessageState::Submitted,
        MessageState::Delivered => pb::MessageState::Delivered,
        MessageState::Undeliverable => pb::MessageState::Undeliverable,
        MessageState::Expired => pb::MessageState::Expired,
        MessageState::Rejected => pb::MessageState::Rejected,
        MessageState::Failed => pb::MessageState::Failed,
        MessageState::Cancelled => pb::MessageState::Cancelled,
        MessageState::Unknown => pb::MessageState::Unknown,
    }
}

fn pb_encoding_of(encoding: Encoding) -> pb::Encoding {
    match encoding {
        Encoding::Gsm7 => pb::Encoding::Gsm7,
        Encoding::Ucs2 => pb::Encoding::Ucs2,
        Encoding::Binary => pb::Encoding::Binary,
    }
}

/// The API encoding for a stored encoding name.
fn pb_encoding_name(name: &str) -> pb::Encoding {
    match name.to_ascii_lowercase().as_str() {
        "gsm7" | "gsm" | "gsm7bit" | "gsm-7" => pb::Encoding::Gsm7,
        "ucs2" | "ucs-2" | "utf16" => pb::Encoding::Ucs2,
        "binary" | "8bit" => pb::Encoding::Binary,
        _ => pb::Encoding::Unspecified,
    }
}

fn pb_priority(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Bulk => pb::Priority::Bulk,
        Priority::Normal => pb::Priority::Normal,
        Priority::High => pb::Priority::High,
        Priority::Urgent => pb::Priority::Urgent,
    }
}

fn timestamp(t: UnixMs) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1000),
        // In 0..1000 ms, so the product fits an i32.
        nanos: i32::try_from(t.0.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

fn pb_carrier_status(s: &CarrierStatus) -> pb::CarrierStatus {
    pb::CarrierStatus {
        stat: s.stat.clone(),
        err: s.err.clone(),
        network_error_code: s.network_error_code.clone(),
        done_date: s.done_date.clone(),
        raw: s.raw.clone(),
    }
}

fn pb_segment(s: &SegmentInfo) -> pb::Segment {
    pb::Segment {
        index: u32::from(s.index),
        state: pb_state(s.state) as i32,
        carrier_message_id: s.carrier_message_id_raw.clone(),
        carrier_message_id_normalized: s.carrier_message_id.clone(),
        attempts: s.attempts,
        resends: s.resends,
        submitted_at: s.submitted_at.map(timestamp),
        final_at: s.final_at.map(timestamp),
        last_error: s.last_error.clone(),
        carrier_status: s.carrier_status.as_ref().map(pb_carrier_status),
    }
}

/// The receipt that says most about the message: the first failed segment's, else the last one received.
fn telling_status(segments: &[SegmentInfo]) -> Option<&CarrierStatus> {
    segments
        .iter()
        .find(|s| {
            s.state.is_final() && s.state != MessageState::Delivered && s.carrier_status.is_some()
        })
        .or_else(|| segments.iter().rev().find(|s| s.carrier_status.is_some()))
        .and_then(|s| s.carrier_status.as_ref())
}

/// The API form of a stored message.
pub fn pb_message(m: &Message) -> pb::Message {
    pb::Message {
        message_id: m.id.to_string(),
        state: pb_state(m.state) as i32,
        to: m.to.clone(),
        from: m.from.clone(),
        body: Some(match &m.body {
            Body::Text(text) => pb::message::Body::Text(text.clone()),
            Body::Binary { data, data_coding } => pb::message::Body::Binary(pb::BinaryBody {
                data: data.clone(),
                data_coding: u32::from(*data_coding),
            }),
        }),
        encoding: pb_encoding_name(&m.encoding) as i32,
        carrier: m.carrier.to_string(),
        carrier_message_ids: m
            .segments
            .iter()
            .filter_map(|s| s.carrier_message_id_raw.clone())
            .collect(),
        segments: m.segments.iter().map(pb_segment).collect(),
        priority: pb_priority(m.priority) as i32,
        want_receipt: m.want_receipt,
        client_ref: m.client_ref.clone().unwrap_or_default(),
        tags: m.tags.clone(),
        accepted_at: Some(timestamp(m.accepted_at)),
        queued_at: m.queued_at.map(timestamp),
        submitted_at: m.submitted_at.map(timestamp),
        final_at: m.final_at.map(timestamp),
        valid_until: Some(timestamp(m.valid_until)),
        carrier_status: telling_status(&m.segments).map(pb_carrier_status),
    }
}

/// Submit's answer for a stored message.
fn submit_response(m: &Message, duplicate: bool) -> pb::SubmitResponse {
    pb::SubmitResponse {
        message_id: m.id.to_string(),
        segments: u32::try_from(m.segments.len()).unwrap_or(u32::MAX),
        encoding: pb_encoding_name(&m.encoding) as i32,
        carrier: m.carrier.to_string(),
        duplicate,
        state: pb_state(m.state) as i32,
    }
}

/// Errors of serving the API.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("building the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The gRPC server: the Gateway service behind authentication, plus health and reflection.
pub struct ApiServer {
    service: GatewayService,
    auth: Authenticator,
}

impl ApiServer {
    pub fn new(service: GatewayService, auth: Authenticator) -> Self {
        ApiServer { service, auth }
    }

    /// The authenticator (its failure counter is what metrics export).
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Serves on `listener` until `shutdown` is cancelled, then stops accepting, ends the event streams
    /// and returns once the calls under way have finished.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(
                <pb::gateway_server::GatewayServer<GatewayService> as tonic::server::NamedService>::NAME,
                tonic_health::ServingStatus::Serving,
            )
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let auth = self.auth.clone();
        let gateway = pb::gateway_server::GatewayServer::with_interceptor(
            self.service,
            move |req: Request<()>| auth.intercept(req),
        );
        let stop = shutdown.clone();
        // Small answers must not wait for a delayed ACK (Nagle): ~40 ms per call otherwise. Instead, the
        // answers that are ready together go out in one write (see `coalesce`).
        let incoming = tokio_stream::StreamExt::map(TcpListenerStream::new(listener), |conn| {
            conn.map(|s| {
                let _ = s.set_nodelay(true);
                CoalescingIo::new(s)
            })
        });
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(gateway)
            .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await })
            .await?;
        Ok(())
    }
}
