//! The bind task: connect, bind, run the session (window, timers, inbound), reconnect; and the handle the
//! gateway submits through.
//!
//! One task per bind owns its socket halves, its read and write buffers and its window. It never blocks on a
//! write while it could read (reads, writes, submits, handler completions and timers are branches of one
//! `select!`), so two peers that both write cannot deadlock each other.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use smsbridge_protocol::dlr::{ReceiptState, parse_receipt, resolve};
use smsbridge_protocol::smpp::{
    Bind, Body, CancelSm, CommandId, CommandStatus, DataSm, DeliverSm, INTERFACE_VERSION_34, Pdu,
    StatusClass, SubmitSm, Tlvs, peek_header,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::codec::{Decoded, SmppCodec};
use super::config::{Backoff, BindMode, SmppLinkConfig};
use super::error::LinkError;
use super::metrics::LinkMetrics;

/// Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4) and wrap back to 1.
const SEQ_MAX: u32 = 0x7FFF_FFFF;
/// Above this many unwritten octets the session stops reading (the peer is not reading our answers).
const WRITE_HIGH_WATER: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// What the gateway asks a link to send.
#[derive(Debug, Clone)]
pub enum SubmitRequest {
    /// submit_sm (SMPP 3.4 §4.4.1).
    SubmitSm(SubmitSm<'static>),
    /// data_sm (SMPP 3.4 §4.7.1).
    DataSm(DataSm<'static>),
}

impl SubmitRequest {
    /// A borrowed view of the PDU body, so sending (and re-sending after a throttle) copies nothing.
    fn body(&self) -> Body<'_> {
        fn b(v: &[u8]) -> Cow<'_, [u8]> {
            Cow::Borrowed(v)
        }
        fn t<'a>(v: &'a Tlvs<'_>) -> Tlvs<'a> {
            Tlvs::parse(v.as_bytes()).unwrap_or_default()
        }
        match self {
            SubmitRequest::SubmitSm(s) => Body::SubmitSm(SubmitSm {
                service_type: b(&s.service_type),
                source_addr_ton: s.source_addr_ton,
                source_addr_npi: s.source_addr_npi,
                source_addr: b(&s.source_addr),
                dest_addr_ton: s.dest_addr_ton,
                dest_addr_npi: s.dest_addr_npi,
                destination_addr: b(&s.destination_addr),
                esm_class: s.esm_class,
                protocol_id: s.protocol_id,
                priority_flag: s.priority_flag,
                schedule_delivery_time: b(&s.schedule_delivery_time),
                validity_period: b(&s.validity_period),
                registered_delivery: s.registered_delivery,
                replace_if_present_flag: s.replace_if_present_flag,
                data_coding: s.data_coding,
                sm_default_msg_id: s.sm_default_msg_id,
                short_message: b(&s.short_message),
                tlvs: t(&s.tlvs),
            }),
            SubmitRequest::DataSm(d) => Body::DataSm(DataSm {
                service_type: b(&d.service_type),
                source_addr_ton: d.source_addr_ton,
                source_addr_npi: d.source_addr_npi,
                source_addr: b(&d.source_addr),
                dest_addr_ton: d.dest_addr_ton,
                dest_addr_npi: d.dest_addr_npi,
                destination_addr: b(&d.destination_addr),
                esm_class: d.esm_class,
                registered_delivery: d.registered_delivery,
                data_coding: d.data_coding,
                tlvs: t(&d.tlvs),
            }),
        }
    }
}

/// cancel_sm (SMPP 3.4 §4.9.1): asks the SMSC to cancel a message it accepted and has not delivered yet.
/// `message_id` is the id from submit_sm_resp; `service_type` and the source address must be the ones the
/// submit used; the destination may be left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest(pub CancelSm<'static>);

/// What became of a cancel_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelSmOutcome {
    /// cancel_sm_resp ESME_ROK: the SMSC cancelled the message; it will not be delivered.
    Cancelled,
    /// The SMSC refused with this status (e.g. ESME_RCANCELFAIL: already delivered, or no such message). It
    /// will not change its mind: asking again is pointless.
    Rejected {
        /// The SMSC's status.
        status: CommandStatus,
    },
    /// No answer that says yes or no: a transient status (ESME_RSYSERR, ...), the link down or shutting
    /// down, no response in time. The message may or may not have been cancelled; asking again may help.
    Transient {
        /// What happened, as for a submit.
        reason: CancelTransient,
    },
}

/// Why a cancel_sm got no yes or no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelTransient {
    /// cancel_sm_resp (or generic_nack) with a transient or link-level status.
    Status(CommandStatus),
    /// Written, but no response (timeout, disconnect, unreadable response).
    Unknown(UnknownReason),
    /// Never written (shutdown, link task gone).
    NotSent(NotSentReason),
}

impl std::fmt::Display for CancelTransient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelTransient::Status(s) => write!(f, "{s}"),
            CancelTransient::Unknown(r) => write!(f, "no response ({r:?})"),
            CancelTransient::NotSent(r) => write!(f, "not sent ({r:?})"),
        }
    }
}

impl CancelSmOutcome {
    /// The outcome of a cancel job: the session treats it like a submit (window, throttle pause, response
    /// timeout, disconnect), and an accepted "submit" is a cancelled message.
    fn from_job(outcome: SubmitOutcome) -> Self {
        match outcome {
            SubmitOutcome::Accepted { .. } => CancelSmOutcome::Cancelled,
            SubmitOutcome::Rejected { status } => CancelSmOutcome::Rejected { status },
            SubmitOutcome::Transient { status } => CancelSmOutcome::Transient {
                reason: CancelTransient::Status(status),
            },
            SubmitOutcome::Unknown { reason } => CancelSmOutcome::Transient {
                reason: CancelTransient::Unknown(reason),
            },
            SubmitOutcome::NotSent { reason } => CancelSmOutcome::Transient {
                reason: CancelTransient::NotSent(reason),
            },
        }
    }
}

/// What a link's job sends: a submit, or a cancel_sm of an earlier one.
#[derive(Debug, Clone)]
enum Request {
    Submit(SubmitRequest),
    Cancel(CancelRequest),
}

impl Request {
    fn body(&self) -> Body<'_> {
        match self {
            Request::Submit(s) => s.body(),
            Request::Cancel(CancelRequest(c)) => Body::CancelSm(CancelSm {
                service_type: Cow::Borrowed(&c.service_type),
                message_id: Cow::Borrowed(&c.message_id),
                source_addr_ton: c.source_addr_ton,
                source_addr_npi: c.source_addr_npi,
                source_addr: Cow::Borrowed(&c.source_addr),
                dest_addr_ton: c.dest_addr_ton,
                dest_addr_npi: c.dest_addr_npi,
                destination_addr: Cow::Borrowed(&c.destination_addr),
                tlvs: Tlvs::parse(c.tlvs.as_bytes()).unwrap_or_default(),
            }),
        }
    }

    fn is_cancel(&self) -> bool {
        matches!(self, Request::Cancel(_))
    }

    /// Whether a response with this command_id answers this request (generic_nack answers anything).
    fn answered_by(&self, response: CommandId) -> bool {
        match self {
            Request::Cancel(_) => {
                matches!(response, CommandId::CancelSmResp | CommandId::GenericNack)
            }
            Request::Submit(_) => !matches!(response, CommandId::CancelSmResp),
        }
    }
}

/// What became of a submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The SMSC took it and named it.
    Accepted {
        /// The SMSC's message id (receipts refer to it).
        message_id: String,
    },
    /// The SMSC will never take this message (permanent status): fail it.
    Rejected {
        /// The SMSC's status.
        status: CommandStatus,
    },
    /// The SMSC did not take it now (transient or link-level status): queue it again with backoff.
    Transient {
        /// The SMSC's status.
        status: CommandStatus,
    },
    /// It was written but no response came: the SMSC may or may not have it. A resend may duplicate it.
    Unknown {
        /// Why no response came.
        reason: UnknownReason,
    },
    /// It was never written (or every written attempt was answered with a throttle): resend freely.
    NotSent {
        /// Why not.
        reason: NotSentReason,
    },
}

/// Why a submit's outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// No response within the response timeout.
    Timeout,
    /// The connection ended while it was in flight.
    Disconnected,
    /// The response came but could not be decoded.
    MalformedResponse,
}

/// Why a submit was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSentReason {
    /// The link is shutting down.
    Shutdown,
    /// The link task is gone.
    LinkClosed,
}

/// What a receipt says, read from its TLVs and its text (TLVs win).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptInfo {
    /// The SMSC message id this receipt is about (as in submit_sm_resp).
    pub message_id: Option<String>,
    /// The state's name (`"delivered"`, `"undeliverable"`, ...), see `ReceiptState::name`.
    pub state: Option<&'static str>,
    /// The state as a message_state value (SMPP 3.4 §5.2.28) when it maps to one.
    pub message_state: Option<u8>,
    /// Whether the state is final.
    pub is_final: bool,
    /// The `err` field of the text.
    pub err: Option<String>,
}

/// Whether an inbound message is a receipt or a mobile-originated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundKind {
    /// esm_class says SMSC delivery receipt (or intermediate notification), or data_sm with a
    /// receipted_message_id.
    Receipt,
    /// A message from a handset.
    Mo,
}

/// The PDU as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundPdu {
    /// deliver_sm.
    DeliverSm(DeliverSm<'static>),
    /// data_sm.
    DataSm(DataSm<'static>),
}

/// One deliver_sm / data_sm for the handler.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// Carrier name.
    pub carrier: Arc<str>,
    /// Link name.
    pub link: Arc<str>,
    /// Receipt or MO.
    pub kind: InboundKind,
    /// For receipts: the id and state.
    pub receipt: Option<ReceiptInfo>,
    /// The PDU.
    pub pdu: InboundPdu,
}

/// The handler's answer for one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Durably committed: answer ESME_ROK.
    Committed,
    /// Could not commit now: answer ESME_RX_T_APPN so the SMSC redelivers later.
    RetryLater,
    /// Will never accept it: answer ESME_RX_P_APPN.
    Reject,
}

impl Verdict {
    fn status(self) -> CommandStatus {
        match self {
            Verdict::Committed => CommandStatus::ESME_ROK,
            Verdict::RetryLater => CommandStatus::ESME_RX_T_APPN,
            Verdict::Reject => CommandStatus::ESME_RX_P_APPN,
        }
    }
}

/// Receives deliver_sm / data_sm. The returned future resolves once the content is durably committed; the
/// link answers the SMSC only then. While `max_inbound_pending` futures are unresolved the link stops
/// reading its socket.
pub trait InboundHandler: Send + Sync + 'static {
    /// Takes one message; resolves with what to answer.
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict>;
}

/// An [`InboundHandler`] that passes each message and a oneshot for the verdict into a bounded channel (a
/// full channel is backpressure too). A dropped oneshot answers [`Verdict::RetryLater`].
#[derive(Clone)]
pub struct ChannelHandler(pub mpsc::Sender<(InboundMessage, oneshot::Sender<Verdict>)>);

impl InboundHandler for ChannelHandler {
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        let tx = self.0.clone();
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            if tx.send((msg, reply)).await.is_err() {
                return Verdict::RetryLater;
            }
            rx.await.unwrap_or(Verdict::RetryLater)
        })
    }
}

/// Which side of the link a bind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindRole {
    /// bind_transceiver.
    Transceiver,
    /// bind_transmitter.
    Transmitter,
    /// bind_receiver.
    Receiver,
}

impl BindRole {
    fn command(self) -> CommandId {
        match self {
            BindRole::Transceiver => CommandId::BindTransceiver,
            BindRole::Transmitter => CommandId::BindTransmitter,
            BindRole::Receiver => CommandId::BindReceiver,
        }
    }

    fn receives(self) -> bool {
        self != BindRole::Transmitter
    }
}

/// The state of one bind, published through a `watch` channel.
#[derive(Debug, Clone)]
pub enum BindState {
    /// Connecting or binding.
    Connecting,
    /// Bound; the count says how many sessions this bind has had.
    Bound {
        /// Sessions so far, this one included.
        sessions: u64,
    },
    /// Not bound; waiting before the next attempt.
    Down {
        /// Why the last attempt or session ended.
        error: Arc<LinkError>,
    },
    /// The task ended (shutdown).
    Closed,
}

struct Job {
    req: Request,
    reply: oneshot::Sender<SubmitOutcome>,
    /// Submission order, to keep it across throttling.
    ordinal: u64,
}

/// The gateway's side of a link: submit, watch the binds.
#[derive(Clone)]
pub struct LinkHandle {
    tx: mpsc::Sender<Job>,
    states: Vec<watch::Receiver<BindState>>,
    ordinal: Arc<std::sync::atomic::AtomicU64>,
}

impl LinkHandle {
    /// Sends a submit and waits for its outcome. Waits while the submit queue is full or the link is down
    /// (wrap it in a timeout to bound that).
    pub async fn submit(&self, req: SubmitRequest) -> SubmitOutcome {
        self.send_job(Request::Submit(req)).await
    }

    /// Sends a cancel_sm (SMPP 3.4 §4.9) and waits for its outcome. It goes through the same queue and
    /// window as submits, is paused by throttling like them, and waits for cancel_sm_resp at most the
    /// response timeout once written. Waits while the queue is full or the link is down (wrap it in a
    /// timeout to bound that).
    pub async fn cancel(&self, req: CancelRequest) -> CancelSmOutcome {
        CancelSmOutcome::from_job(self.send_job(Request::Cancel(req)).await)
    }

    async fn send_job(&self, req: Request) -> SubmitOutcome {
        let (reply, rx) = oneshot::channel();
        let ordinal = self
            .ordinal
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self
            .tx
            .send(Job {
                req,
                reply,
                ordinal,
            })
            .await
            .is_err()
        {
            return SubmitOutcome::NotSent {
                reason: NotSentReason::LinkClosed,
            };
        }
        // A dropped reply means the task died with the job somewhere: it may have been written.
        rx.await.unwrap_or(SubmitOutcome::Unknown {
            reason: UnknownReason::Disconnected,
        })
    }

    /// The state of the submitting bind (the transceiver, or the transmitter of a pair).
    pub fn state(&self) -> watch::Receiver<BindState> {
        self.states[0].clone()
    }

    /// Every bind's state (transceiver; or transmitter then receiver).
    pub fn states(&self) -> Vec<watch::Receiver<BindState>> {
        self.states.clone()
    }

    /// True when every bind of the link is bound.
    pub fn is_bound(&self) -> bool {
        self.states
            .iter()
            .all(|s| matches!(*s.borrow(), BindState::Bound { .. }))
    }

    /// Waits until every bind is bound, at most `limit`.
    pub async fn wait_bound(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        for s in &self.states {
            let mut s = s.clone();
            let ok = timeout_at_opt(
                deadline,
                s.wait_for(|v| matches!(v, BindState::Bound { .. })),
            )
            .await
            .is_some_and(|r| r.is_ok());
            if !ok {
                return false;
            }
        }
        true
    }
}

async fn timeout_at_opt<F: Future>(deadline: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, f).await.ok()
}

/// A running link: its handle and its tasks.
pub struct SmppLink {
    handle: LinkHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl SmppLink {
    /// The handle (clone it freely).
    pub fn handle(&self) -> LinkHandle {
        self.handle.clone()
    }

    /// Waits for the link's tasks to end (after the cancellation token fired: drained and unbound).
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts a link: one task per bind (a transceiver, or a transmitter and a receiver). The tasks reconnect
/// until `cancel` fires, then drain their windows, unbind and end.
pub fn spawn(
    config: SmppLinkConfig,
    handler: Arc<dyn InboundHandler>,
    metrics: LinkMetrics,
    cancel: CancellationToken,
) -> Result<SmppLink, LinkError> {
    config.validate()?;
    let config = Arc::new(config);
    let (tx, rx) = mpsc::channel(config.submit_queue);
    let roles: &[BindRole] = match config.bind_mode {
        BindMode::Transceiver => &[BindRole::Transceiver],
        BindMode::TransmitterReceiver => &[BindRole::Transmitter, BindRole::Receiver],
    };
    let mut rx = Some(rx);
    let mut states = Vec::new();
    let mut tasks = Vec::new();
    for &role in roles {
        let (state_tx, state_rx) = watch::channel(BindState::Connecting);
        states.push(state_rx);
        let task = BindTask {
            carrier: Arc::from(config.carrier.as_str()),
            link: Arc::from(config.link.as_str()),
            config: config.clone(),
            role,
            submits: if role == BindRole::Receiver {
                None
            } else {
                rx.take()
            },
            submits_closed: false,
            retry: VecDeque::new(),
            handler: handler.clone(),
            metrics: metrics.clone(),
            cancel: cancel.clone(),
            state: state_tx,
        };
        tasks.push(tokio::spawn(task.run()));
    }
    Ok(SmppLink {
        handle: LinkHandle {
            tx,
            states,
            ordinal: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        },
        tasks,
    })
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

struct BindTask {
    carrier: Arc<str>,
    link: Arc<str>,
    config: Arc<SmppLinkConfig>,
    role: BindRole,
    submits: Option<mpsc::Receiver<Job>>,
    submits_closed: bool,
    /// Throttled submits waiting to be sent again, in submission order; kept across reconnects.
    retry: VecDeque<Job>,
    handler: Arc<dyn InboundHandler>,
    metrics: LinkMetrics,
    cancel: CancellationToken,
    state: watch::Sender<BindState>,
}

/// How a session ended.
enum SessionEnd {
    /// Shutdown: drained and unbound.
    Shutdown,
    /// Anything else: reconnect.
    Lost(LinkError),
}

impl BindTask {
    async fn run(mut self) {
        let mut step = self.config.reconnect.initial;
        let mut sessions = 0u64;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            self.state.send_replace(BindState::Connecting);
            let attempt = tokio::select! {
                r = self.connect_and_bind() => r,
                _ = self.cancel.cancelled() => break,
            };
            let error = match attempt {
                Ok((rd, wr, rbuf)) => {
                    sessions += 1;
                    if sessions > 1 {
                        self.metrics.reconnects.inc();
                    }
                    step = self.config.reconnect.initial;
                    self.state.send_replace(BindState::Bound { sessions });
                    tracing::info!(carrier = %self.carrier, link = %self.link, role = ?self.role, "bound");
                    match self.run_session(rd, wr, rbuf).await {
                        SessionEnd::Shutdown => break,
                        SessionEnd::Lost(e) => e,
                    }
                }
                Err(e) => {
                    self.metrics.bind_failure(match &e {
                        LinkError::BindRefused { status, .. } => status.name(),
                        LinkError::Connect { .. } | LinkError::ConnectTimeout { .. } => "connect",
                        LinkError::Tls { .. } => "tls",
                        LinkError::NotSmpp { .. } => "not_smpp",
                        _ => "other",
                    });
                    if e.bind_status() == Some(CommandStatus::ESME_RALYBND) {
                        // The SMSC still holds our previous session (a quick reconnect): wait and retry.
                        tracing::info!(carrier = %self.carrier, link = %self.link, "ESME_RALYBND: waiting for the SMSC to release the old session");
                    }
                    e
                }
            };
            tracing::warn!(carrier = %self.carrier, link = %self.link, role = ?self.role, error = %error, "link down");
            self.state.send_replace(BindState::Down {
                error: Arc::new(error),
            });
            let wait = Backoff::jittered(step);
            step = self.config.reconnect.next(step);
            tokio::select! {
                _ = sleep(wait) => {}
                _ = self.cancel.cancelled() => break,
            }
        }
        // Nothing more will be sent: hand back every waiting submit.
        for job in self.retry.drain(..) {
            let _ = job.reply.send(SubmitOutcome::NotSent {
                reason: NotSentReason::Shutdown,
            });
        }
        if let Some(rx) = self.submits.as_mut() {
            rx.close();
            while let Ok(job) = rx.try_recv() {
                let _ = job.reply.send(SubmitOutcome::NotSent {
                    reason: NotSentReason::Shutdown,
                });
            }
        }
        self.metrics.window.set(0);
        self.state.send_replace(BindState::Closed);
    }

    async fn connect(&self) -> Result<(Reader, Writer), LinkError> {
        let cfg = &self.config;
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let tcp = match timeout(cfg.connect_timeout, TcpStream::connect(&addr)).await {
            Err(_) => {
                return Err(LinkError::ConnectTimeout {
                    addr,
                    after: cfg.connect_timeout,
                });
            }
            Ok(Err(source)) => return Err(LinkError::Connect { addr, source }),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        match &cfg.tls {
            None => {
                let (r, w) = tcp.into_split();
                Ok((Box::new(r), Box::new(w)))
            }
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(tls.server_name.clone())
                    .map_err(|e| LinkError::Config(format!("tls.server_name: {e}")))?;
                let connector = tokio_rustls::TlsConnector::from(tls.client_config.clone());
                let stream = match timeout(cfg.connect_timeout, connector.connect(name, tcp)).await
                {
                    Err(_) => {
                        return Err(LinkError::ConnectTimeout {
                            addr,
                            after: cfg.connect_timeout,
                        });
                    }
                    Ok(Err(source)) => {
                        return Err(LinkError::Tls {
                            server_name: tls.server_name.clone(),
                            source,
                        });
                    }
                    Ok(Ok(s)) => s,
                };
                let (r, w) = tokio::io::split(stream);
                Ok((Box::new(r), Box::new(w)))
            }
        }
    }

    /// Connects and binds (SMPP 3.4 §4.1); returns the socket halves and any octets read after the bind
    /// response.
    async fn connect_and_bind(&self) -> Result<(Reader, Writer, BytesMut), LinkError> {
        let (mut rd, mut wr) = self.connect().await?;
        let cfg = &self.config;
        let bind = Bind {
            system_id: cfg.system_id.as_bytes().into(),
            password: cfg.password.as_bytes().into(),
            system_type: cfg.system_type.as_bytes().into(),
            interface_version: INTERFACE_VERSION_34,
            ..Bind::default()
        };
        let command = self.role.command();
        let body = match self.role {
            BindRole::Transceiver => Body::BindTransceiver(bind),
            BindRole::Transmitter => Body::BindTransmitter(bind),
            BindRole::Receiver => Body::BindReceiver(bind),
        };
        let mut out = BytesMut::new();
        Pdu::new(cfg.first_sequence_number, body).encode(&mut out);
        wr.write_all(&out).await?;
        wr.flush().await?;
        let mut codec = SmppCodec::new(cfg.max_pdu_size);
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let deadline = Instant::now() + cfg.bind_timeout;
        loop {
            while let Some(d) = codec.decode(&mut rbuf)? {
                let pdu = match d {
                    Decoded::Pdu(p) => p,
                    Decoded::Malformed(e) => {
                        self.metrics.malformed.inc();
                        if let Some(reply) = e.reply() {
                            out.clear();
                            reply.encode(&mut out);
                            wr.write_all(&out).await?;
                        }
                        continue;
                    }
                };
                match &pdu.body {
                    Body::BindTransceiverResp(_)
                    | Body::BindTransmitterResp(_)
                    | Body::BindReceiverResp(_)
                    | Body::GenericNack(_)
                        if pdu.sequence_number == cfg.first_sequence_number =>
                    {
                        if pdu.command_status.is_ok() && !matches!(pdu.body, Body::GenericNack(_)) {
                            return Ok((rd, wr, rbuf));
                        }
                        return Err(LinkError::BindRefused {
                            command,
                            status: pdu.command_status,
                        });
                    }
                    Body::EnquireLink => {
                        out.clear();
                        Pdu::new(
                            pdu.sequence_number,
                            Body::EnquireLinkResp(Default::default()),
                        )
                        .encode(&mut out);
                        wr.write_all(&out).await?;
                    }
                    _ => {
                        tracing::debug!(command = %pdu.command_id(), "ignored while binding");
                    }
                }
            }
            let n = match tokio::time::timeout_at(deadline, rd.read_buf(&mut rbuf)).await {
                Err(_) => {
                    return Err(LinkError::BindTimeout {
                        command,
                        after: cfg.bind_timeout,
                    });
                }
                Ok(r) => r?,
            };
            if n == 0 {
                return Err(LinkError::Closed);
            }
        }
    }

    async fn run_session(&mut self, rd: Reader, wr: Writer, rbuf: BytesMut) -> SessionEnd {
        let mut s = Session::new(rd, wr, rbuf, &self.config);
        let end = self.session_loop(&mut s).await;
        // Every request still in flight comes back: its outcome is unknown.
        for (_, f) in s.in_flight.drain() {
            if let InFlight::Submit { job, .. } = f {
                let _ = job.reply.send(SubmitOutcome::Unknown {
                    reason: UnknownReason::Disconnected,
                });
            }
        }
        self.metrics.window.set(0);
        let _ = timeout(Duration::from_millis(200), s.wr.shutdown()).await;
        end
    }

    fn can_send(&self, s: &Session) -> bool {
        self.submits.is_some()
            && !s.draining
            && s.submits_in_flight < self.config.window
            && s.paused_until.is_none()
            && !s.read_paused(self.config.max_inbound_pending)
    }

    async fn session_loop(&mut self, s: &mut Session) -> SessionEnd {
        let cfg = self.config.clone();
        let timer = sleep_until(Instant::now() + cfg.enquire_link_interval);
        tokio::pin!(timer);
        let mut timer_at = timer.deadline();
        loop {
            // Fill the window: throttled submits first (in order), then new ones.
            while self.can_send(s) {
                let job = match self.retry.pop_front() {
                    Some(j) => j,
                    None => match self.submits.as_mut().map(|rx| rx.try_recv()) {
                        Some(Ok(j)) => j,
                        Some(Err(mpsc::error::TryRecvError::Disconnected)) => {
                            self.submits_closed = true;
                            break;
                        }
                        _ => break,
                    },
                };
                self.send_submit(s, job);
            }
            // Graceful shutdown: once the window is empty and the handler is done, unbind.
            let drained = s.submits_in_flight == 0 && s.inbound.is_empty();
            let overdue = s.drain_deadline.is_some_and(|d| d <= Instant::now());
            if s.draining && s.unbind.is_none() && (drained || overdue) {
                let seq = s.alloc_seq();
                Pdu::new(seq, Body::Unbind).encode(&mut s.wbuf);
                s.in_flight.insert(seq, InFlight::Unbind);
                s.unbind = Some(Instant::now() + cfg.unbind_timeout);
            }
            let read_paused = s.read_paused(cfg.max_inbound_pending);
            let want_submit = self.can_send(s) && self.retry.is_empty() && !self.submits_closed;
            // Re-arm only when something is due earlier (or the timer fired): a later deadline lets the
            // timer fire early and re-arm then, instead of touching the timer wheel on every response.
            let next = self.next_deadline(s);
            if next < timer_at || timer.is_elapsed() {
                timer.as_mut().reset(next);
                timer_at = next;
            }
            self.metrics.window.set(s.submits_in_flight as i64);
            let submits = self.submits.as_mut();
            tokio::select! {
                biased;
                _ = self.cancel.cancelled(), if !s.draining => {
                    s.draining = true;
                    // The window drains within a response timeout; an SMSC that keeps the handler busy
                    // with deliveries does not hold the unbind back longer than that.
                    s.drain_deadline = Some(Instant::now() + cfg.response_timeout);
                    s.paused_until = None;
                    // Throttled submits will not be retried now: hand them back.
                    for job in self.retry.drain(..) {
                        let _ = job.reply.send(SubmitOutcome::NotSent { reason: NotSentReason::Shutdown });
                    }
                }
                r = async {
                    if s.wbuf.is_empty() {
                        s.wr.flush().await.map(|()| None)
                    } else {
                        s.wr.write(&s.wbuf).await.map(Some)
                    }
                }, if !s.wbuf.is_empty() || s.need_flush => match r {
                    Ok(Some(0)) => return SessionEnd::Lost(LinkError::Closed),
                    Ok(Some(n)) => {
                        bytes::Buf::advance(&mut s.wbuf, n);
                        s.need_flush = true;
                    }
                    Ok(None) => s.need_flush = false,
                    Err(e) => return SessionEnd::Lost(LinkError::Io(e)),
                },
                Some((seq, id, verdict)) = s.inbound.next(), if !s.inbound.is_empty() => {
                    if let Some(resp) = Pdu::response_to(id, seq, verdict.status()) {
                        resp.encode(&mut s.wbuf);
                    }
                    // Answer every other commit that is already done in the same write.
                    while let Some(Some((seq, id, verdict))) = s.inbound.next().now_or_never() {
                        if let Some(resp) = Pdu::response_to(id, seq, verdict.status()) {
                            resp.encode(&mut s.wbuf);
                        }
                    }
                    // Room again: decode what waited in the buffer.
                    if !s.rbuf.is_empty()
                        && let Err(end) = self.process_input(s)
                    {
                        return end;
                    }
                }
                r = s.rd.read_buf(&mut s.rbuf), if !read_paused => match r {
                    Ok(0) => return SessionEnd::Lost(LinkError::Closed),
                    Ok(_) => {
                        s.last_rx = Instant::now();
                        if let Err(end) = self.process_input(s) {
                            // Write what was answered (generic_nack, unbind_resp) before leaving.
                            let _ = timeout(Duration::from_millis(200), async {
                                s.wr.write_all(&s.wbuf).await?;
                                s.wr.flush().await
                            }).await;
                            return end;
                        }
                        if s.rbuf.capacity() - s.rbuf.len() < 4096 {
                            s.rbuf.reserve(READ_CHUNK);
                        }
                    }
                    Err(e) => return SessionEnd::Lost(LinkError::Io(e)),
                },
                job = async { match submits { Some(rx) => rx.recv().await, None => std::future::pending().await } }, if want_submit => match job {
                    Some(job) => self.send_submit(s, job),
                    None => self.submits_closed = true,
                },
                _ = &mut timer => {
                    if let Err(end) = self.on_timer(s) {
                        return end;
                    }
                }
            }
        }
    }

    fn next_deadline(&self, s: &mut Session) -> Instant {
        let cfg = &self.config;
        s.prune_deadlines(cfg.window);
        let mut next = match s.enquire {
            Some((_, due)) => due,
            None => s.last_rx + cfg.enquire_link_interval,
        };
        if let Some(&(d, _)) = s.deadlines.front() {
            next = next.min(d);
        }
        if let Some(p) = s.paused_until {
            next = next.min(p);
        }
        if let Some(u) = s.unbind {
            next = next.min(u);
        } else if let Some(d) = s.drain_deadline {
            next = next.min(d);
        }
        next
    }

    fn on_timer(&mut self, s: &mut Session) -> Result<(), SessionEnd> {
        let cfg = self.config.clone();
        let now = Instant::now();
        if s.paused_until.is_some_and(|p| p <= now) {
            s.paused_until = None;
        }
        if s.unbind.is_some_and(|u| u <= now) {
            return Err(SessionEnd::Shutdown);
        }
        // Response timeouts: deadlines are in send order, so the front is the oldest.
        while let Some(&(d, seq)) = s.deadlines.front() {
            if d > now {
                break;
            }
            s.deadlines.pop_front();
            let expired = matches!(s.in_flight.get(&seq), Some(InFlight::Submit { sent, .. }) if *sent + cfg.response_timeout <= now);
            if expired && let Some(InFlight::Submit { job, .. }) = s.in_flight.remove(&seq) {
                s.submits_in_flight -= 1;
                self.metrics.timeouts.inc();
                let _ = job.reply.send(SubmitOutcome::Unknown {
                    reason: UnknownReason::Timeout,
                });
            }
        }
        match s.enquire {
            Some((seq, due)) if due <= now => {
                if s.read_paused(cfg.max_inbound_pending) {
                    // We are not reading, so its answer may be waiting in the socket: not the peer's fault.
                    s.enquire = Some((seq, now + cfg.enquire_link_timeout));
                } else {
                    return Err(SessionEnd::Lost(LinkError::PeerSilent(
                        cfg.enquire_link_timeout,
                    )));
                }
            }
            None if s.last_rx + cfg.enquire_link_interval <= now => {
                let seq = s.alloc_seq();
                Pdu::new(seq, Body::EnquireLink).encode(&mut s.wbuf);
                s.in_flight.insert(seq, InFlight::EnquireLink);
                s.enquire = Some((seq, now + cfg.enquire_link_timeout));
            }
            _ => {}
        }
        Ok(())
    }

    fn send_submit(&mut self, s: &mut Session, job: Job) {
        let cancel = job.req.is_cancel();
        let seq = s.alloc_seq();
        Pdu::new(seq, job.req.body()).encode(&mut s.wbuf);
        let now = Instant::now();
        s.in_flight.insert(seq, InFlight::Submit { job, sent: now });
        s.submits_in_flight += 1;
        s.deadlines
            .push_back((now + self.config.response_timeout, seq));
        if !cancel {
            self.metrics.submits.inc();
        }
    }

    /// Decodes and handles every whole PDU in the read buffer.
    fn process_input(&mut self, s: &mut Session) -> Result<(), SessionEnd> {
        loop {
            // The handler holds as many messages as it may: leave the next deliver_sm / data_sm (and all
            // after it) in the buffer; reading stays paused until the handler commits one.
            if s.inbound.len() >= self.config.max_inbound_pending
                && peek_header(&s.rbuf).is_some_and(|h| {
                    h.command_id == CommandId::DeliverSm.as_u32()
                        || h.command_id == CommandId::DataSm.as_u32()
                })
            {
                return Ok(());
            }
            let decoded = match s.codec.decode(&mut s.rbuf) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(()),
                Err(e) => {
                    let err = LinkError::from(e);
                    if let LinkError::OutOfSync(f) = &err
                        && let Some(reply) = f.reply()
                    {
                        reply.encode(&mut s.wbuf);
                    }
                    self.metrics.malformed.inc();
                    return Err(SessionEnd::Lost(err));
                }
            };
            match decoded {
                Decoded::Pdu(pdu) => self.on_pdu(s, pdu)?,
                Decoded::Malformed(e) => {
                    self.metrics.malformed.inc();
                    tracing::warn!(carrier = %self.carrier, link = %self.link, error = %e, "malformed PDU from the peer");
                    match e.reply() {
                        Some(reply) => reply.encode(&mut s.wbuf),
                        None => {
                            // A response we cannot read: its request's outcome is unknown.
                            if let Some(seq) = e.sequence_number()
                                && e.command_id().is_some_and(|c| c & 0x8000_0000 != 0)
                                && let Some(InFlight::Submit { .. }) = s.in_flight.get(&seq)
                                && let Some(InFlight::Submit { job, .. }) = s.in_flight.remove(&seq)
                            {
                                s.submits_in_flight -= 1;
                                let _ = job.reply.send(SubmitOutcome::Unknown {
                                    reason: UnknownReason::MalformedResponse,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    fn on_pdu(&mut self, s: &mut Session, pdu: Pdu<'static>) -> Result<(), SessionEnd> {
        let seq = pdu.sequence_number;
        let status = pdu.command_status;
        match pdu.body {
            Body::SubmitSmResp(r) | Body::DataSmResp(r) => {
                let id = r
                    .message_id
                    .map(|m| String::from_utf8_lossy(&m).into_owned());
                self.on_submit_resp(s, seq, status, id, CommandId::SubmitSmResp)?;
            }
            Body::CancelSmResp(_) => {
                self.on_submit_resp(s, seq, status, None, CommandId::CancelSmResp)?;
            }
            Body::GenericNack(_) => match s.in_flight.get(&seq) {
                Some(InFlight::Submit { .. }) => {
                    self.on_submit_resp(s, seq, status, None, CommandId::GenericNack)?
                }
                Some(InFlight::EnquireLink) => {
                    s.in_flight.remove(&seq);
                    s.enquire = None;
                }
                _ => {
                    tracing::warn!(carrier = %self.carrier, link = %self.link, seq, %status, "generic_nack from the peer");
                }
            },
            Body::EnquireLinkResp(_) => {
                if matches!(s.in_flight.get(&seq), Some(InFlight::EnquireLink)) {
                    s.in_flight.remove(&seq);
                }
                if s.enquire.is_some_and(|(e, _)| e == seq) {
                    s.enquire = None;
                }
            }
            Body::EnquireLink => {
                Pdu::new(seq, Body::EnquireLinkResp(Default::default())).encode(&mut s.wbuf);
            }
            Body::Unbind => {
                Pdu::new(seq, Body::UnbindResp(Default::default())).encode(&mut s.wbuf);
                return Err(if s.draining {
                    SessionEnd::Shutdown
                } else {
                    SessionEnd::Lost(LinkError::UnboundByPeer)
                });
            }
            Body::UnbindResp(_) => {
                if matches!(s.in_flight.remove(&seq), Some(InFlight::Unbind)) {
                    return Err(SessionEnd::Shutdown);
                }
            }
            Body::DeliverSm(d) => {
                if !self.role.receives() {
                    if let Some(r) =
                        Pdu::response_to(CommandId::DeliverSm, seq, CommandStatus::ESME_RINVBNDSTS)
                    {
                        r.encode(&mut s.wbuf);
                    }
                } else {
                    let msg = self.inbound_message(InboundPdu::DeliverSm(d));
                    let fut = self.handler.handle(msg);
                    s.inbound.push(Box::pin(
                        async move { (seq, CommandId::DeliverSm, fut.await) },
                    ));
                }
            }
            Body::DataSm(d) => {
                if !self.role.receives() {
                    if let Some(r) =
                        Pdu::response_to(CommandId::DataSm, seq, CommandStatus::ESME_RINVBNDSTS)
                    {
                        r.encode(&mut s.wbuf);
                    }
                } else {
                    let msg = self.inbound_message(InboundPdu::DataSm(d));
                    let fut = self.handler.handle(msg);
                    s.inbound
                        .push(Box::pin(async move { (seq, CommandId::DataSm, fut.await) }));
                }
            }
            Body::AlertNotification(_) => {}
            other => {
                let id = other.command_id();
                if !id.is_response() {
                    let reply = Pdu::response_to(id, seq, CommandStatus::ESME_RINVBNDSTS)
                        .unwrap_or_else(|| Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
                    reply.encode(&mut s.wbuf);
                }
            }
        }
        Ok(())
    }

    fn on_submit_resp(
        &mut self,
        s: &mut Session,
        seq: u32,
        status: CommandStatus,
        message_id: Option<String>,
        response: CommandId,
    ) -> Result<(), SessionEnd> {
        let Some(InFlight::Submit { job, .. }) = s.in_flight.get(&seq) else {
            tracing::debug!(carrier = %self.carrier, link = %self.link, seq, "response to no request in flight (late or unknown)");
            return Ok(());
        };
        if !job.req.answered_by(response) {
            // A cancel_sm_resp for a submit (or the other way round) is the peer's mistake: the request
            // keeps waiting for its own response, or its timeout.
            tracing::warn!(carrier = %self.carrier, link = %self.link, seq, %response, "response of the wrong kind for the request in flight: ignored");
            return Ok(());
        }
        let Some(InFlight::Submit { job, sent }) = s.in_flight.remove(&seq) else {
            return Ok(());
        };
        s.submits_in_flight -= 1;
        if !job.req.is_cancel() {
            self.metrics.response(status);
            self.metrics.latency.observe(sent.elapsed().as_secs_f64());
        }
        if status == CommandStatus::ESME_RTHROTTLED || status == CommandStatus::ESME_RMSGQFUL {
            // Pause the whole link; the message goes back in its submission place.
            self.metrics.throttles.inc();
            let pos = self.retry.partition_point(|j| j.ordinal < job.ordinal);
            self.retry.insert(pos, job);
            let until = Instant::now() + Backoff::jittered(s.throttle_step);
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
            s.throttle_step = self.config.throttle.next(s.throttle_step);
            return Ok(());
        }
        s.throttle_step = self.config.throttle.initial;
        let outcome = match status.class() {
            StatusClass::Ok => SubmitOutcome::Accepted {
                message_id: message_id.unwrap_or_default(),
            },
            StatusClass::Permanent => SubmitOutcome::Rejected { status },
            StatusClass::Transient | StatusClass::Link => SubmitOutcome::Transient { status },
        };
        let _ = job.reply.send(outcome);
        if status == CommandStatus::ESME_RINVBNDSTS {
            return Err(SessionEnd::Lost(LinkError::NotBound(status)));
        }
        Ok(())
    }

    fn inbound_message(&self, pdu: InboundPdu) -> InboundMessage {
        let (esm, tlvs, text): (_, _, &[u8]) = match &pdu {
            InboundPdu::DeliverSm(d) => (d.esm_class, &d.tlvs, d.payload()),
            InboundPdu::DataSm(d) => (
                d.esm_class,
                &d.tlvs,
                d.tlvs.message_payload().unwrap_or(&[]),
            ),
        };
        let is_receipt = esm.is_delivery_receipt()
            || esm.message_type() == 0x20
            || tlvs.receipted_message_id().is_some();
        let receipt = is_receipt.then(|| {
            let parsed = parse_receipt(text).ok();
            let r = resolve(
                parsed.as_ref(),
                tlvs.receipted_message_id(),
                tlvs.message_state().map(|m| m.0),
            );
            let state: Option<ReceiptState<'_>> = r.state.map(|s| s.value);
            ReceiptInfo {
                message_id: r
                    .message_id
                    .map(|m| String::from_utf8_lossy(m.value).into_owned()),
                state: state.map(|s| s.name()),
                message_state: state.and_then(|s| s.message_state()),
                is_final: state.is_some_and(|s| s.is_final()),
                err: parsed
                    .and_then(|p| p.err)
                    .map(|e| String::from_utf8_lossy(e).into_owned()),
            }
        });
        if receipt.is_some() {
            self.metrics.receipts.inc();
        } else {
            self.metrics.mos.inc();
        }
        InboundMessage {
            carrier: self.carrier.clone(),
            link: self.link.clone(),
            kind: if receipt.is_some() {
                InboundKind::Receipt
            } else {
                InboundKind::Mo
            },
            receipt,
            pdu,
        }
    }
}

// Nearly every entry is a Submit, so boxing it would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
enum InFlight {
    Submit { job: Job, sent: Instant },
    EnquireLink,
    Unbind,
}

type InboundFuture = Pin<Box<dyn Future<Output = (u32, CommandId, Verdict)> + Send>>;

struct Session {
    rd: Reader,
    wr: Writer,
    rbuf: BytesMut,
    wbuf: BytesMut,
    need_flush: bool,
    codec: SmppCodec,
    next_seq: u32,
    in_flight: HashMap<u32, InFlight>,
    submits_in_flight: usize,
    /// (response deadline, sequence_number) of submits, in send order.
    deadlines: VecDeque<(Instant, u32)>,
    inbound: FuturesUnordered<InboundFuture>,
    last_rx: Instant,
    /// The enquire_link in flight and when it is due.
    enquire: Option<(u32, Instant)>,
    paused_until: Option<Instant>,
    throttle_step: Duration,
    draining: bool,
    /// When draining stops waiting and unbinds anyway.
    drain_deadline: Option<Instant>,
    /// When our unbind gives up waiting for unbind_resp.
    unbind: Option<Instant>,
}

impl Session {
    fn new(rd: Reader, wr: Writer, rbuf: BytesMut, config: &SmppLinkConfig) -> Session {
        Session {
            rd,
            wr,
            rbuf,
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            need_flush: false,
            codec: SmppCodec::new(config.max_pdu_size),
            next_seq: next_seq(config.first_sequence_number),
            in_flight: HashMap::with_capacity(config.window * 2),
            submits_in_flight: 0,
            deadlines: VecDeque::with_capacity(config.window),
            inbound: FuturesUnordered::new(),
            last_rx: Instant::now(),
            enquire: None,
            paused_until: None,
            throttle_step: config.throttle.initial,
            draining: false,
            drain_deadline: None,
            unbind: None,
        }
    }

    /// The next free sequence_number: 1..=0x7FFFFFFF, wrapping, skipping any still in flight.
    fn alloc_seq(&mut self) -> u32 {
        loop {
            let seq = self.next_seq;
            self.next_seq = next_seq(seq);
            if !self.in_flight.contains_key(&seq) {
                return seq;
            }
        }
    }

    /// Drops deadline entries of submits already answered: from the front (so the timer aims at a live
    /// request), and all of them when answered ones pile up behind a slow one, so the queue stays within a
    /// few windows whatever the response timeout.
    fn prune_deadlines(&mut self, window: usize) {
        let in_flight = &self.in_flight;
        let live = |&(_, seq): &(Instant, u32)| {
            matches!(in_flight.get(&seq), Some(InFlight::Submit { .. }))
        };
        while self.deadlines.front().is_some_and(|e| !live(e)) {
            self.deadlines.pop_front();
        }
        if self.deadlines.len() > window.saturating_mul(4).max(64) {
            self.deadlines.retain(live);
        }
    }

    fn read_paused(&self, max_inbound: usize) -> bool {
        self.inbound.len() >= max_inbound || self.wbuf.len() > WRITE_HIGH_WATER
    }
}

/// The sequence_number after `seq` (SMPP 3.4 §5.1.4: 0x00000001-0x7FFFFFFF).
pub(crate) fn next_seq(seq: u32) -> u32 {
    if seq >= SEQ_MAX { 1 } else { seq + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            req: Request::Submit(SubmitRequest::SubmitSm(SubmitSm::default())),
            reply: oneshot::channel().0,
            ordinal: 0,
        }
    }

    #[tokio::test]
    async fn answered_deadlines_do_not_pile_up_behind_a_slow_request() {
        let cfg = SmppLinkConfig {
            window: 10,
            ..SmppLinkConfig::default()
        };
        let mut s = Session::new(
            Box::new(tokio::io::empty()),
            Box::new(tokio::io::sink()),
            BytesMut::new(),
            &cfg,
        );
        let now = Instant::now();
        // One request stays unanswered; 10,000 behind it are answered.
        for _ in 0..10_001 {
            let seq = s.alloc_seq();
            s.in_flight.insert(
                seq,
                InFlight::Submit {
                    job: job(),
                    sent: now,
                },
            );
            s.deadlines.push_back((now, seq));
            if seq != 2 {
                s.in_flight.remove(&seq);
            }
            s.prune_deadlines(cfg.window);
        }
        assert!(s.deadlines.len() <= 64, "{}", s.deadlines.len());
        assert_eq!(
            s.deadlines.front().map(|d| d.1),
            Some(2),
            "the live one is kept"
        );
        s.in_flight.remove(&2);
        s.prune_deadlines(cfg.window);
        assert!(s.deadlines.is_empty());
    }

    #[test]
    fn sequence_numbers_wrap_to_one() {
        assert_eq!(next_seq(1), 2);
        assert_eq!(next_seq(0x7FFF_FFFE), 0x7FFF_FFFF);
        assert_eq!(next_seq(0x7FFF_FFFF), 1);
        assert_eq!(next_seq(0xFFFF_FFFF), 1);
    }
}
