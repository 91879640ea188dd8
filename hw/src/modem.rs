//! One modem: a task that owns the device and its AT session, and runs the life cycle — open (by path or
//! identity), init (echo off, numeric errors, SIM PIN, PDU mode, storages, new-message indications),
//! identity, health polls, sends, incoming messages and status reports — and recovers: a silent modem gets
//! a reset sequence, a lost device is reopened with backoff, a busy SIM is asked again, and a SIM that needs a
//! PIN we do not have, a blocked or missing SIM is a state the modem reports and waits in.
//!
//! The gateway talks to it through a [`ModemHandle`] (bounded request queue, `oneshot` replies) and receives
//! [`ModemEvent`]s on a bounded channel. An incoming message or a stored status report is deleted from the SIM
//! only after the event's [`Commit`] was confirmed (TS 27.005 §3.5.4 `+CMGD`).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use smsbridge_protocol::at::{
    CmeeMode, Cnmi, Command, CommandKind, ESC, FinalResult, ListFilter, MessageFormat, Response,
    Retry,
};
use smsbridge_protocol::dlr::ReceiptState;
use smsbridge_protocol::sms::{
    Address, Deliver, Part, PlanOptions, PushOutcome, ReassembledMessage, Reassembler,
    ReassemblyConfig, ReferenceAllocator, Status, StatusReport, SubmitOptions, Timestamp, Ton,
    Tpdu, decode_with_sca,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::{IncomingMode, ModemConfig, ReportMode};
use crate::metrics::{MetricsSnapshot, ModemMetrics};
use crate::port::{self, ModemIo};
use crate::session::{Answer, Session, SessionError};

/// What is wrong with the SIM; the modem waits in this state and checks again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimProblem {
    /// The SIM wants a PIN and the config has none.
    #[error("SIM PIN required and no PIN configured")]
    PinRequired,
    /// The configured PIN was refused (not retried: each try uses up an attempt).
    #[error("SIM PIN refused")]
    WrongPin,
    /// The SIM is blocked and wants the PUK.
    #[error("SIM blocked: PUK required")]
    PukRequired,
    /// No SIM.
    #[error("SIM not inserted")]
    NotInserted,
    /// Still busy after the configured retries.
    #[error("SIM busy")]
    Busy,
    /// Another state or failure, as the modem put it.
    #[error("SIM failure: {0}")]
    Other(String),
}

/// Why a link stopped working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkFault {
    /// The device went away (EOF or I/O error): reopen it.
    #[error("device lost: {0}")]
    DeviceLost(String),
    /// The modem stopped answering.
    #[error("modem does not answer: {0}")]
    Unresponsive(String),
    /// The SIM cannot be used.
    #[error("{0}")]
    Sim(SimProblem),
    /// A command that must succeed failed.
    #[error("{command} answered {result}")]
    Refused {
        /// The command line.
        command: String,
        /// The final result code.
        result: String,
    },
}

impl From<SessionError> for LinkFault {
    fn from(e: SessionError) -> LinkFault {
        if e.is_device_lost() {
            LinkFault::DeviceLost(e.to_string())
        } else {
            LinkFault::Unresponsive(e.to_string())
        }
    }
}

/// Where a modem is in its life cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Opening the device.
    Opening,
    /// Running the init sequence.
    Initializing,
    /// Ready to send and receive.
    Ready,
    /// Running the reset sequence on a silent modem.
    Resetting,
    /// Waiting to reopen a lost device.
    Reopening {
        /// Why.
        reason: String,
    },
    /// The SIM cannot be used.
    SimError(SimProblem),
    /// The task ended.
    Stopped,
}

/// The modem's identity (TS 27.007 §5.4, §5.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `+CGSN`.
    pub imei: Option<String>,
    /// `+CIMI`.
    pub imsi: Option<String>,
    /// `+CCID`.
    pub iccid: Option<String>,
    /// Mobile country code from the IMSI.
    pub mcc: Option<String>,
    /// Mobile network code from the IMSI.
    pub mnc: Option<String>,
}

impl Identity {
    /// MCC+MNC (`24008`): the home network of the SIM.
    pub fn mcc_mnc(&self) -> Option<String> {
        Some(format!("{}{}", self.mcc.as_ref()?, self.mnc.as_ref()?))
    }
}

/// MCCs whose networks use 3-digit MNCs (ITU-T E.212 assignments: North America, parts of Latin America and
/// the Caribbean, India's newer networks).
fn three_digit_mnc(mcc: &str) -> bool {
    matches!(
        mcc,
        "302"
            | "310"
            | "311"
            | "312"
            | "313"
            | "314"
            | "315"
            | "316"
            | "334"
            | "338"
            | "342"
            | "344"
            | "346"
            | "348"
            | "354"
            | "356"
            | "358"
            | "360"
            | "365"
            | "376"
            | "405"
            | "708"
            | "722"
            | "732"
    )
}

/// Splits an IMSI into MCC and MNC.
pub fn split_imsi(imsi: &str, mnc_digits: Option<u8>) -> Option<(String, String)> {
    if imsi.len() < 6 || !imsi.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mcc = imsi.get(..3)?;
    let n = match mnc_digits {
        Some(n @ 2..=3) => usize::from(n),
        _ if three_digit_mnc(mcc) => 3,
        _ => 2,
    };
    Some((mcc.to_owned(), imsi.get(3..3 + n)?.to_owned()))
}

/// What the gateway sees of a modem right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemStatus {
    /// Life-cycle state.
    pub state: LinkState,
    /// The device path in use.
    pub device: Option<PathBuf>,
    /// Identity, once read.
    pub identity: Identity,
    /// `+CSQ` `<rssi>`.
    pub rssi: Option<u8>,
    /// `+CREG` `<stat>`.
    pub registration: Option<u8>,
    /// `+COPS` operator.
    pub operator: Option<String>,
}

impl ModemStatus {
    /// Ready and registered (home or roaming): worth sending through.
    pub fn healthy(&self) -> bool {
        self.state == LinkState::Ready && matches!(self.registration, Some(1 | 5))
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// Destination (`+46701234567` or a national number).
    pub to: String,
    /// The text; long texts are sent as concatenated segments.
    pub text: String,
    /// Ask for a status report (TP-SRR).
    pub want_report: bool,
}

/// A message the network accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The modem that sent it.
    pub modem: String,
    /// The recipient as status reports will name it (TP-DA as displayed).
    pub recipient: String,
    /// TP-MR of each segment, in order: the key of the status reports.
    pub tp_mrs: Vec<u8>,
    /// Segment retries after transient errors.
    pub retries: u32,
}

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The destination is not a phone number.
    #[error("{0:?} is not a phone number")]
    BadNumber(String),
    /// The text could not be planned or encoded.
    #[error("cannot encode the text: {0}")]
    Encode(String),
    /// The modem refused a segment.
    #[error("segment {segment}: modem answered {result:?}")]
    Rejected {
        /// Index of the refused segment.
        segment: usize,
        /// The final result code.
        result: FinalResult,
        /// Whether retrying cannot help.
        permanent: bool,
        /// TP-MRs of the segments sent before.
        sent: Vec<u8>,
    },
    /// `+CMGS` succeeded without a message reference.
    #[error("segment {segment}: +CMGS answered without a message reference")]
    NoReference {
        /// Index of the segment.
        segment: usize,
        /// TP-MRs of the segments sent before.
        sent: Vec<u8>,
    },
    /// The modem cannot send now (opening, resetting, SIM problem).
    #[error("modem {modem} unavailable: {reason}")]
    Unavailable {
        /// The modem.
        modem: String,
        /// Why.
        reason: String,
    },
    /// The link failed during the send.
    #[error("segment {segment}: {fault}")]
    Link {
        /// Index of the segment in flight.
        segment: usize,
        /// TP-MRs of the segments sent before.
        sent: Vec<u8>,
        /// The segment's body was written: it may have gone out.
        maybe_sent: bool,
        /// What failed.
        fault: LinkFault,
    },
    /// The modem task is gone.
    #[error("modem task stopped")]
    Stopped,
}

impl SendError {
    /// Retrying (on this or another modem) cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SendError::BadNumber(_)
                | SendError::Encode(_)
                | SendError::Rejected {
                    permanent: true,
                    ..
                }
        )
    }
}

/// An incoming message (reassembled when it came in parts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingSms {
    /// The modem that received it.
    pub modem: String,
    /// TP-OA as displayed.
    pub sender: String,
    /// The text (parts in order).
    pub text: String,
    /// The service centre that delivered it.
    pub smsc: Option<String>,
    /// TP-SCTS of the (first) part.
    pub timestamp: Option<Timestamp>,
    /// Number of parts announced (1 for a single message).
    pub parts: u8,
    /// Concatenation reference.
    pub reference: Option<u16>,
    /// Whether every part arrived (false when the reassembly timed out).
    pub complete: bool,
    /// Part numbers that did not arrive.
    pub missing: Vec<u8>,
}

/// A status report (TS 23.040 §9.2.2.3), keyed by (modem, TP-MR, recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptEvent {
    /// The modem that sent the message and got the report.
    pub modem: String,
    /// TP-MR of the reported segment.
    pub tp_mr: u8,
    /// TP-RA as displayed.
    pub recipient: String,
    /// TP-ST.
    pub status: Status,
    /// The same state an SMPP receipt maps to.
    pub state: ReceiptState<'static>,
    /// TP-DT: when the final state was reached.
    pub discharge_time: Timestamp,
}

/// Maps TP-ST (TS 23.040 §9.2.3.15) to the receipt state SMPP receipts map to.
pub fn receipt_state(st: Status) -> ReceiptState<'static> {
    match st.0 {
        0x00..=0x1F => ReceiptState::Delivered,
        0x20..=0x3F => ReceiptState::Enroute,
        0x46 => ReceiptState::Expired,
        0x47 | 0x48 => ReceiptState::Deleted,
        0x42 | 0x63 => ReceiptState::Rejected,
        0x40..=0x7F => ReceiptState::Undeliverable,
        _ => ReceiptState::Unknown,
    }
}

/// Confirms that the gateway committed an event durably; only then is the message deleted from the SIM (or
/// acknowledged with `+CNMA`). Dropping it without confirming leaves the message on the SIM for a later read.
#[derive(Debug)]
pub struct Commit(oneshot::Sender<()>);

impl Commit {
    /// The event is stored: the modem may forget it.
    pub fn confirm(self) {
        let _ = self.0.send(());
    }
}

/// What a modem reports to the gateway.
#[derive(Debug)]
pub enum ModemEvent {
    /// An incoming message.
    Incoming {
        /// The message.
        message: IncomingSms,
        /// Confirm after the durable commit.
        commit: Commit,
    },
    /// A status report.
    Receipt {
        /// The report.
        receipt: ReceiptEvent,
        /// Confirm after the durable commit.
        commit: Commit,
    },
}

/// What `modem probe` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The device path.
    pub device: Option<PathBuf>,
    /// Identity.
    pub identity: Identity,
    /// `+CPIN?` code (`READY`).
    pub sim: String,
    /// `+CSQ` `<rssi>`, `<ber>`.
    pub signal: Option<(u8, u8)>,
    /// `+CREG` `<stat>`.
    pub registration: Option<u8>,
    /// `+COPS` operator.
    pub operator: Option<String>,
    /// `+CSCA` service centre.
    pub smsc: Option<String>,
}

enum Request {
    Send {
        msg: OutgoingSms,
        reply: oneshot::Sender<Result<SendReceipt, SendError>>,
    },
    Probe {
        reply: oneshot::Sender<Result<ProbeReport, SendError>>,
    },
}

impl Request {
    fn reject(self, err: SendError) {
        match self {
            Request::Send { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Request::Probe { reply } => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

/// The gateway's side of a modem task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ModemHandle {
    name: String,
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<ModemStatus>,
    metrics: Arc<ModemMetrics>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Send { msg, .. } => write!(f, "Send({msg:?})"),
            Request::Probe { .. } => f.write_str("Probe"),
        }
    }
}

impl ModemHandle {
    /// The modem's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a message; returns the TP-MR of each segment.
    pub async fn send(&self, msg: OutgoingSms) -> Result<SendReceipt, SendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Send { msg, reply })
            .await
            .map_err(|_| SendError::Stopped)?;
        rx.await.map_err(|_| SendError::Stopped)?
    }

    /// Reads identity, SIM state, signal, registration, operator and service centre.
    pub async fn probe(&self) -> Result<ProbeReport, SendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Probe { reply })
            .await
            .map_err(|_| SendError::Stopped)?;
        rx.await.map_err(|_| SendError::Stopped)?
    }

    /// The status now.
    pub fn status(&self) -> ModemStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<ModemStatus> {
        self.status.clone()
    }

    /// Waits until the state satisfies `pred`, at most `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        pred: impl Fn(&ModemStatus) -> bool,
    ) -> Option<ModemStatus> {
        let mut rx = self.status.clone();
        tokio::time::timeout(within, async {
            rx.wait_for(|s| pred(s)).await.ok().map(|s| s.clone())
        })
        .await
        .ok()
        .flatten()
    }

    /// Counters and gauges.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }
}

/// Starts a modem task. Events (incoming messages, status reports) go to `events`; the task ends when
/// `cancel` fires or every handle is dropped.
pub fn spawn(
    cfg: ModemConfig,
    events: mpsc::Sender<ModemEvent>,
    cancel: CancellationToken,
) -> (ModemHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(cfg.queue.max(1));
    let (status_tx, status_rx) = watch::channel(ModemStatus {
        state: LinkState::Opening,
        device: None,
        identity: Identity::default(),
        rssi: None,
        registration: None,
        operator: None,
    });
    let metrics = Arc::new(ModemMetrics::default());
    let handle = ModemHandle {
        name: cfg.name.clone(),
        tx,
        status: status_rx,
        metrics: Arc::clone(&metrics),
    };
    let ctx = Ctx {
        cfg,
        status: status_tx,
        metrics,
        events,
    };
    let task = tokio::spawn(run(ctx, rx, cancel));
    (handle, task)
}

struct Ctx {
    cfg: ModemConfig,
    status: watch::Sender<ModemStatus>,
    metrics: Arc<ModemMetrics>,
    events: mpsc::Sender<ModemEvent>,
}

impl Ctx {
    fn set_state(&self, state: LinkState) {
        self.status.send_modify(|s| s.state = state);
    }

    fn unavailable(&self, reason: String) -> SendError {
        SendError::Unavailable {
            modem: self.cfg.name.clone(),
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AckTarget {
    /// Delete these SIM indexes.
    Delete(Vec<u32>),
    /// Acknowledge a routed message or report.
    Cnma,
    /// Nothing to do on the modem.
    Nothing,
}

type AckFuture = Pin<Box<dyn Future<Output = (AckTarget, bool)> + Send>>;
type PartKey = (String, u16, u8);
/// SIM indexes of the parts so far, and the first part's service centre and time stamp.
type PartsSoFar = (Vec<u32>, Option<String>, Option<Timestamp>);

/// State that outlives one opening of the device.
struct Carry {
    refs: ReferenceAllocator,
    reassembler: Reassembler,
    /// SIM indexes and first-part details of messages being reassembled.
    parts: HashMap<PartKey, PartsSoFar>,
    /// SIM indexes handed out or held for reassembly: not read again.
    seen: HashSet<u32>,
    acks: FuturesUnordered<AckFuture>,
    due: Vec<AckTarget>,
    epoch: Instant,
    rescan: bool,
    /// Committed SIM indexes whose `+CMGD` failed; tried again on health polls.
    failed_deletes: Vec<u32>,
}

impl Carry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Waits `dur`, answering requests with `err` meanwhile; `false` when the task should end.
async fn pause(
    rx: &mut mpsc::Receiver<Request>,
    dur: Duration,
    cancel: &CancellationToken,
    err: &SendError,
) -> bool {
    let until = Instant::now() + dur;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = sleep_until(until) => return true,
            req = rx.recv() => match req {
                Some(r) => r.reject(err.clone()),
                None => return false,
            },
        }
    }
}

async fn run(ctx: Ctx, mut rx: mpsc::Receiver<Request>, cancel: CancellationToken) {
    let mut carry = Carry {
        refs: ReferenceAllocator::new(256, rand::random()),
        reassembler: Reassembler::new(ReassemblyConfig {
            timeout_ms: u64::try_from(ctx.cfg.reassembly_timeout.as_millis()).unwrap_or(u64::MAX),
            max_pending: 256,
        }),
        parts: HashMap::new(),
        seen: HashSet::new(),
        acks: FuturesUnordered::new(),
        due: Vec::new(),
        epoch: Instant::now(),
        rescan: false,
        failed_deletes: Vec::new(),
    };
    let (min_backoff, max_backoff) = ctx.cfg.reopen_backoff;
    let mut backoff = min_backoff;
    let mut opened_before = false;
    'outer: while !cancel.is_cancelled() {
        ctx.set_state(LinkState::Opening);
        let (io, path) = match port::open(&ctx.cfg).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(modem = %ctx.cfg.name, error = %e, "cannot open the modem");
                ctx.set_state(LinkState::Reopening {
                    reason: e.to_string(),
                });
                let err = ctx.unavailable(e.to_string());
                if !pause(&mut rx, backoff, &cancel, &err).await {
                    break;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        if opened_before {
            ModemMetrics::inc(&ctx.metrics.reopens);
        }
        opened_before = true;
        ctx.status.send_modify(|s| s.device = Some(path.clone()));
        // A +CNMA is only valid on the connection that got the +CMT.
        carry.due.retain(|t| *t != AckTarget::Cnma);
        let mut link = Link {
            s: Session::new(io),
            ctx: &ctx,
            carry: &mut carry,
            cnma: false,
        };
        ctx.set_state(LinkState::Initializing);
        let mut fault = tokio::select! {
            _ = cancel.cancelled() => break 'outer,
            r = link.start() => r.err(),
        };
        let mut resets_in_row = 0u32;
        loop {
            match fault.take() {
                None => {
                    ctx.set_state(LinkState::Ready);
                    backoff = min_backoff;
                    match link.serve(&mut rx, &cancel).await {
                        Ok(()) => break 'outer,
                        Err(f) => {
                            resets_in_row = 0;
                            fault = Some(f);
                        }
                    }
                }
                Some(LinkFault::Unresponsive(why)) if resets_in_row < 2 => {
                    tracing::warn!(modem = %ctx.cfg.name, %why, "modem silent: reset sequence");
                    resets_in_row += 1;
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ModemMetrics::inc(&ctx.metrics.resets);
                    ctx.set_state(LinkState::Resetting);
                    fault = tokio::select! {
                        _ = cancel.cancelled() => break 'outer,
                        r = link.recover() => r.err(),
                    };
                }
                Some(LinkFault::Sim(problem)) => {
                    tracing::error!(modem = %ctx.cfg.name, %problem, "SIM unusable");
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ctx.set_state(LinkState::SimError(problem.clone()));
                    drop(link);
                    let err = ctx.unavailable(problem.to_string());
                    if !pause(&mut rx, ctx.cfg.sim_error_recheck, &cancel, &err).await {
                        break 'outer;
                    }
                    continue 'outer;
                }
                Some(other) => {
                    tracing::warn!(modem = %ctx.cfg.name, fault = %other, "reopening the device");
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ctx.set_state(LinkState::Reopening {
                        reason: other.to_string(),
                    });
                    drop(link);
                    let err = ctx.unavailable(other.to_string());
                    if !pause(&mut rx, backoff, &cancel, &err).await {
                        break 'outer;
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue 'outer;
                }
            }
        }
    }
    ctx.set_state(LinkState::Stopped);
}

/// One opening of the device.
struct Link<'a> {
    s: Session<Box<dyn ModemIo>>,
    ctx: &'a Ctx,
    carry: &'a mut Carry,
    /// `+CSMS=1` is in force: routed messages and reports need `+CNMA`.
    cnma: bool,
}

enum Wake {
    Cancel,
    Read(Result<(), SessionError>),
    Ack(Option<(AckTarget, bool)>),
    Req(Option<Request>),
    Health,
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

impl Link<'_> {
    fn cfg(&self) -> &ModemConfig {
        &self.ctx.cfg
    }

    /// Runs a command; a timeout or a lost device is a fault, any final result code is an answer.
    async fn cmd(&mut self, c: &Command) -> Result<Answer, LinkFault> {
        let t = self.cfg().timeout(c.kind());
        let r = self.s.command(c, t).await;
        if let Err(e) = &r {
            tracing::debug!(modem = %self.ctx.cfg.name, command = c.line(), error = %e, "command failed");
        }
        Ok(r?)
    }

    /// Wakes the modem: leaves a stuck prompt, drops noise, and waits for `AT` to answer.
    async fn wake(&mut self) -> Result<(), LinkFault> {
        self.s.write_raw(&[ESC]).await?;
        self.s
            .settle(Duration::from_millis(100), Duration::from_millis(500))
            .await?;
        let t = self.cfg().probe_timeout;
        let mut last = String::new();
        for _ in 0..self.cfg().probe_attempts.max(1) {
            match self.s.command(&Command::at(), t).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_device_lost() => return Err(e.into()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(LinkFault::Unresponsive(last))
    }

    /// Init, identity, health, and the messages already on the SIM.
    async fn start(&mut self) -> Result<(), LinkFault> {
        self.wake().await?;
        self.init().await?;
        self.identity().await?;
        self.health().await?;
        self.list_stored().await?;
        self.run_due().await?;
        Ok(())
    }

    /// The reset sequence for a modem that stopped answering: wake it, `ATZ`, init again.
    async fn recover(&mut self) -> Result<(), LinkFault> {
        if self.wake().await.is_err() {
            // Last try before giving up on this opening: a profile reset.
            let t = self.cfg().timeout(CommandKind::Reset);
            let _ = self.s.command(&Command::reset(), t).await?;
        }
        self.start().await
    }

    async fn init(&mut self) -> Result<(), LinkFault> {
        // Some modems refuse ATZ or ATE0 in some states; the parser copes with echo either way.
        let _ = self.cmd(&Command::reset()).await?;
        let _ = self.cmd(&Command::echo(false)).await?;
        // Not every modem knows +CMEE; errors then stay plain.
        self.cmd(&Command::cmee(CmeeMode::Numeric)).await?;
        self.unlock_sim().await?;
        self.sms_setup().await
    }

    async fn sms_setup(&mut self) -> Result<(), LinkFault> {
        // SIM busy can still come after the PIN: retry the first SMS command a few times.
        let mut tries = 0;
        loop {
            let a = self.cmd(&Command::cmgf(MessageFormat::Pdu)).await?;
            if a.is_ok() {
                break;
            }
            tries += 1;
            if tries > self.cfg().sim_busy_retries || a.result.retry() == Some(Retry::Permanent) {
                return Err(LinkFault::Refused {
                    command: "AT+CMGF=0".into(),
                    result: format!("{:?}", a.result),
                });
            }
            sleep(self.cfg().sim_busy_delay).await;
        }
        let routed_mt = self.cfg().incoming == IncomingMode::Routed;
        let routed_ds = self.cfg().reports == ReportMode::Routed;
        self.cnma = false;
        if routed_mt {
            let a = self.cmd(&Command::csms(1)).await?;
            self.cnma = a.is_ok();
        } else {
            let _ = self.cmd(&Command::csms(0)).await?;
        }
        if let Ok(c) = Command::cpms("SM", Some("SM"), Some("SM")) {
            let _ = self.cmd(&c).await?;
        }
        let cnmi = Cnmi {
            mode: 2,
            mt: if routed_mt { 2 } else { 1 },
            bm: 0,
            ds: if routed_ds { 1 } else { 2 },
            bfr: 0,
        };
        let a = self.cmd(&Command::cnmi(cnmi)).await?;
        if !a.is_ok() {
            // Some modems only know <mode> 1.
            let a = self.cmd(&Command::cnmi(Cnmi { mode: 1, ..cnmi })).await?;
            if !a.is_ok() {
                tracing::warn!(modem = %self.ctx.cfg.name, "+CNMI refused: incoming messages are found by polling only");
                self.carry.rescan = true;
            }
        }
        Ok(())
    }

    async fn unlock_sim(&mut self) -> Result<(), LinkFault> {
        let mut pin_sent = false;
        for _ in 0..=self.cfg().sim_busy_retries {
            let a = self.cmd(&Command::cpin_query()).await?;
            let code = a.info.iter().find_map(|r| match r {
                Response::Cpin { code } => Some(code.to_ascii_uppercase()),
                _ => None,
            });
            match (&a.result, code.as_deref()) {
                (FinalResult::Ok, Some("READY")) => return Ok(()),
                (FinalResult::Ok, Some("SIM PIN")) => {
                    if pin_sent {
                        // Asked again after a PIN that was taken: the SIM is still settling.
                        sleep(self.cfg().sim_busy_delay).await;
                        continue;
                    }
                    let Some(pin) = self.cfg().pin.clone() else {
                        return Err(LinkFault::Sim(SimProblem::PinRequired));
                    };
                    let c = Command::cpin_enter(&pin)
                        .map_err(|e| LinkFault::Sim(SimProblem::Other(e.to_string())))?;
                    let r = self.cmd(&c).await?;
                    match &r.result {
                        FinalResult::Ok => pin_sent = true,
                        FinalResult::CmeError(e) if e.code == Some(16) => {
                            return Err(LinkFault::Sim(SimProblem::WrongPin));
                        }
                        FinalResult::CmeError(e) if e.code == Some(12) => {
                            return Err(LinkFault::Sim(SimProblem::PukRequired));
                        }
                        other if other.retry() == Some(Retry::Permanent) => {
                            return Err(LinkFault::Sim(SimProblem::WrongPin));
                        }
                        _ => sleep(self.cfg().sim_busy_delay).await,
                    }
                }
                (FinalResult::Ok, Some("SIM PUK")) => {
                    return Err(LinkFault::Sim(SimProblem::PukRequired));
                }
                (FinalResult::Ok, Some(other)) => {
                    return Err(LinkFault::Sim(SimProblem::Other(other.to_owned())));
                }
                (FinalResult::Ok, None) => sleep(self.cfg().sim_busy_delay).await,
                (FinalResult::CmeError(e), _) => match e.code {
                    Some(10) => return Err(LinkFault::Sim(SimProblem::NotInserted)),
                    Some(11) if self.cfg().pin.is_none() => {
                        return Err(LinkFault::Sim(SimProblem::PinRequired));
                    }
                    Some(12) => return Err(LinkFault::Sim(SimProblem::PukRequired)),
                    Some(13 | 15) => {
                        return Err(LinkFault::Sim(SimProblem::Other(format!(
                            "+CME ERROR: {:?}",
                            e.code
                        ))));
                    }
                    _ => sleep(self.cfg().sim_busy_delay).await,
                },
                _ => sleep(self.cfg().sim_busy_delay).await,
            }
        }
        Err(LinkFault::Sim(SimProblem::Busy))
    }

    async fn identity(&mut self) -> Result<(), LinkFault> {
        let mut id = Identity::default();
        for c in [Command::cgsn(), Command::cimi(), Command::ccid()] {
            let a = self.cmd(&c).await?;
            for r in a.info {
                match r {
                    Response::Cgsn { sn } => id.imei = Some(sn),
                    Response::Cimi { imsi } => id.imsi = Some(imsi),
                    Response::Ccid { iccid } => id.iccid = Some(iccid),
                    _ => {}
                }
            }
        }
        if let Some((mcc, mnc)) = id
            .imsi
            .as_deref()
            .and_then(|i| split_imsi(i, self.cfg().mnc_digits))
        {
            id.mcc = Some(mcc);
            id.mnc = Some(mnc);
        }
        self.ctx.status.send_modify(|s| s.identity = id);
        Ok(())
    }

    async fn health(
        &mut self,
    ) -> Result<(Option<(u8, u8)>, Option<u8>, Option<String>), LinkFault> {
        let mut signal = None;
        let mut reg = None;
        let mut oper = None;
        for r in self.cmd(&Command::csq()).await?.info {
            if let Response::Csq { rssi, ber } = r {
                signal = Some((rssi, ber));
            }
        }
        for r in self.cmd(&Command::creg_query()).await?.info {
            if let Response::Creg { stat, .. } = r {
                reg = Some(stat);
            }
        }
        for r in self.cmd(&Command::cops_query()).await?.info {
            if let Response::Cops { oper: o, .. } = r {
                oper = o;
            }
        }
        let m = &self.ctx.metrics;
        m.rssi.store(
            signal.map_or(99, |(r, _)| i64::from(r)),
            std::sync::atomic::Ordering::Relaxed,
        );
        m.registration.store(
            reg.map_or(-1, i64::from),
            std::sync::atomic::Ordering::Relaxed,
        );
        let operator = oper.clone();
        self.ctx.status.send_modify(|s| {
            s.rssi = signal.map(|(r, _)| r);
            s.registration = reg;
            s.operator = operator;
        });
        Ok((signal, reg, oper))
    }

    async fn probe(&mut self) -> Result<ProbeReport, LinkFault> {
        let a = self.cmd(&Command::cpin_query()).await?;
        let sim = a
            .info
            .iter()
            .find_map(|r| match r {
                Response::Cpin { code } => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| format!("{:?}", a.result));
        let (signal, registration, operator) = self.health().await?;
        let smsc = self
            .cmd(&Command::csca_query())
            .await?
            .info
            .into_iter()
            .find_map(|r| match r {
                Response::Csca { sca, .. } => Some(sca),
                _ => None,
            });
        let st = self.ctx.status.borrow().clone();
        Ok(ProbeReport {
            device: st.device,
            identity: st.identity,
            sim,
            signal,
            registration,
            operator,
            smsc,
        })
    }

    /// Reads every received message and status report on the SIM (TS 27.005 §3.4.2 `+CMGL=4`).
    async fn list_stored(&mut self) -> Result<(), LinkFault> {
        self.carry.rescan = false;
        let a = self.cmd(&Command::cmgl_pdu(ListFilter::All)).await?;
        if !a.is_ok() {
            tracing::warn!(modem = %self.ctx.cfg.name, result = ?a.result, "+CMGL failed");
            self.carry.rescan = true;
            return Ok(());
        }
        for r in a.info {
            if let Response::CmglPdu {
                index,
                stat,
                pdu: Some(pdu),
                ..
            } = r
                && stat <= 1
                && !self.carry.seen.contains(&index)
            {
                self.stored_pdu(index, &pdu);
            }
        }
        Ok(())
    }

    /// Reads one stored message or report (`+CMTI` / `+CDSI`).
    async fn read_index(&mut self, index: u32) -> Result<(), LinkFault> {
        if self.carry.seen.contains(&index) {
            return Ok(());
        }
        let a = self.cmd(&Command::cmgr(index)).await?;
        let pdu = a.info.into_iter().find_map(|r| match r {
            Response::CmgrPdu { pdu: Some(p), .. } => Some(p),
            _ => None,
        });
        match pdu {
            Some(p) => self.stored_pdu(index, &p),
            None => {
                tracing::warn!(modem = %self.ctx.cfg.name, index, result = ?a.result, "+CMGR gave no PDU");
                self.carry.rescan = true;
            }
        }
        Ok(())
    }

    fn stored_pdu(&mut self, index: u32, pdu: &str) {
        let decoded = hex_decode(pdu).and_then(|b| decode_with_sca(&b).ok());
        self.carry.seen.insert(index);
        match decoded {
            Some((sca, Tpdu::Deliver(d))) => self.incoming(Some(index), sca.as_ref(), d),
            Some((_, Tpdu::StatusReport(r))) => {
                self.report(r, AckTarget::Delete(vec![index]));
            }
            Some((_, Tpdu::Submit(_))) => {}
            None => {
                // Kept on the SIM for a person to look at; never handed out, never read again.
                tracing::error!(modem = %self.ctx.cfg.name, index, pdu, "stored PDU does not decode");
                ModemMetrics::inc(&self.ctx.metrics.errors);
            }
        }
    }

    fn routed_target(&self) -> AckTarget {
        if self.cnma {
            AckTarget::Cnma
        } else {
            AckTarget::Nothing
        }
    }

    fn incoming(&mut self, index: Option<u32>, sca: Option<&Address>, d: Deliver) {
        let smsc = sca.map(Address::display);
        let target = |idx: Vec<u32>, this: &Self| {
            if index.is_some() {
                AckTarget::Delete(idx)
            } else {
                this.routed_target()
            }
        };
        let Some(part) = Part::from_deliver(&d) else {
            let message = IncomingSms {
                modem: self.ctx.cfg.name.clone(),
                sender: d.tp_oa.display(),
                text: d.text().unwrap_or_default(),
                smsc,
                timestamp: Some(d.tp_scts),
                parts: 1,
                reference: None,
                complete: true,
                missing: Vec::new(),
            };
            let t = target(index.into_iter().collect(), self);
            self.emit_incoming(message, t);
            return;
        };
        if index.is_none() && self.cnma {
            // A routed part is not stored anywhere; acknowledge it now (use stored mode for durability).
            self.carry.due.push(AckTarget::Cnma);
        }
        let key = (part.sender.clone(), part.reference, part.total);
        let entry = self
            .carry
            .parts
            .entry(key.clone())
            .or_insert_with(|| (Vec::new(), smsc.clone(), Some(d.tp_scts)));
        entry.0.extend(index);
        let now = self.carry.now_ms();
        match self.carry.reassembler.push(part, now) {
            PushOutcome::Complete(m) | PushOutcome::Evicted(m) => self.reassembled(m),
            PushOutcome::Pending | PushOutcome::Duplicate => {}
            PushOutcome::Invalid => {
                let (idx, _, _) = self.carry.parts.remove(&key).unwrap_or_default();
                let message = IncomingSms {
                    modem: self.ctx.cfg.name.clone(),
                    sender: d.tp_oa.display(),
                    text: d.text().unwrap_or_default(),
                    smsc,
                    timestamp: Some(d.tp_scts),
                    parts: 1,
                    reference: None,
                    complete: true,
                    missing: Vec::new(),
                };
                let t = if index.is_some() {
                    AckTarget::Delete(idx)
                } else {
                    AckTarget::Nothing
                };
                self.emit_incoming(message, t);
            }
        }
    }

    fn reassembled(&mut self, m: ReassembledMessage) {
        let key = (m.sender.clone(), m.reference, m.total);
        let (idx, smsc, ts) = self.carry.parts.remove(&key).unwrap_or_default();
        let message = IncomingSms {
            modem: self.ctx.cfg.name.clone(),
            sender: m.sender,
            text: m.text,
            smsc,
            timestamp: ts,
            parts: m.total,
            reference: Some(m.reference),
            complete: m.complete,
            missing: m.missing,
        };
        let t = if idx.is_empty() {
            AckTarget::Nothing
        } else {
            AckTarget::Delete(idx)
        };
        self.emit_incoming(message, t);
    }

    fn emit_incoming(&mut self, message: IncomingSms, target: AckTarget) {
        let (tx, rx) = oneshot::channel();
        let ev = ModemEvent::Incoming {
            message,
            commit: Commit(tx),
        };
        if self.emit(ev, target.clone(), rx) {
            ModemMetrics::inc(&self.ctx.metrics.received);
        }
    }

    fn report(&mut self, r: StatusReport, target: AckTarget) {
        let receipt = ReceiptEvent {
            modem: self.ctx.cfg.name.clone(),
            tp_mr: r.tp_mr,
            recipient: r.tp_ra.display(),
            status: r.tp_st,
            state: receipt_state(r.tp_st),
            discharge_time: r.tp_dt,
        };
        let (tx, rx) = oneshot::channel();
        let ev = ModemEvent::Receipt {
            receipt,
            commit: Commit(tx),
        };
        if self.emit(ev, target, rx) {
            ModemMetrics::inc(&self.ctx.metrics.reports);
        }
    }

    /// Hands an event to the gateway; the SIM copy stays until the commit is confirmed. `false` when the
    /// gateway's queue is full or gone: the message stays on the SIM and is read again later.
    fn emit(&mut self, ev: ModemEvent, target: AckTarget, rx: oneshot::Receiver<()>) -> bool {
        match self.ctx.events.try_send(ev) {
            Ok(()) => {
                self.carry
                    .acks
                    .push(Box::pin(async move { (target, rx.await.is_ok()) }));
                true
            }
            Err(e) => {
                tracing::warn!(modem = %self.ctx.cfg.name, error = %e, "event queue full: left on the SIM");
                if let AckTarget::Delete(idx) = &target {
                    for i in idx {
                        self.carry.seen.remove(i);
                    }
                }
                self.carry.rescan = true;
                false
            }
        }
    }

    /// Deletes (or acknowledges) what the gateway committed.
    async fn run_due(&mut self) -> Result<(), LinkFault> {
        let due = std::mem::take(&mut self.carry.due);
        for t in due {
            match t {
                AckTarget::Delete(idx) => {
                    for i in idx {
                        let a = self.cmd(&Command::cmgd(i, None)).await?;
                        if a.is_ok() {
                            self.carry.seen.remove(&i);
                        } else {
                            // Still committed: not handed out again, deleted on a later health poll.
                            tracing::warn!(modem = %self.ctx.cfg.name, index = i, result = ?a.result, "+CMGD failed");
                            self.carry.failed_deletes.push(i);
                        }
                    }
                }
                AckTarget::Cnma => {
                    let _ = self.cmd(&Command::cnma()).await?;
                }
                AckTarget::Nothing => {}
            }
        }
        Ok(())
    }

    async fn handle_urcs(&mut self) -> Result<(), LinkFault> {
        // Bounded: each round handles what was queued; new URCs wait for the next round.
        for r in self.s.take_urcs() {
            match r {
                Response::Cmti { index, .. } | Response::Cdsi { index, .. } => {
                    self.read_index(index).await?;
                }
                Response::CmtPdu { pdu: Some(p), .. } => {
                    match hex_decode(&p).and_then(|b| decode_with_sca(&b).ok()) {
                        Some((sca, Tpdu::Deliver(d))) => self.incoming(None, sca.as_ref(), d),
                        _ => {
                            tracing::error!(modem = %self.ctx.cfg.name, pdu = p, "+CMT PDU does not decode");
                            ModemMetrics::inc(&self.ctx.metrics.errors);
                            if self.cnma {
                                self.carry.due.push(AckTarget::Cnma);
                            }
                        }
                    }
                }
                Response::CdsPdu { pdu: Some(p), .. } => {
                    match hex_decode(&p).and_then(|b| decode_with_sca(&b).ok()) {
                        Some((_, Tpdu::StatusReport(rep))) => {
                            let t = self.routed_target();
                            self.report(rep, t);
                        }
                        _ => {
                            tracing::error!(modem = %self.ctx.cfg.name, pdu = p, "+CDS PDU does not decode");
                            ModemMetrics::inc(&self.ctx.metrics.errors);
                        }
                    }
                }
                Response::Creg { stat, .. } => {
                    self.ctx
                        .metrics
                        .registration
                        .store(i64::from(stat), std::sync::atomic::Ordering::Relaxed);
                    self.ctx.status.send_modify(|s| s.registration = Some(stat));
                }
                other => tracing::debug!(modem = %self.ctx.cfg.name, urc = ?other, "URC ignored"),
            }
        }
        Ok(())
    }

    fn expire_parts(&mut self) {
        let now = self.carry.now_ms();
        for m in self.carry.reassembler.expire(now) {
            self.reassembled(m);
        }
    }

    async fn send(&mut self, msg: &OutgoingSms) -> Result<SendReceipt, SendError> {
        let dest = Address::parse(&msg.to);
        if dest.ton == Ton::Alphanumeric {
            return Err(SendError::BadNumber(msg.to.clone()));
        }
        let recipient = dest.display();
        let plan = self
            .carry
            .refs
            .plan(&recipient, &msg.text, &PlanOptions::default())
            .map_err(|e| SendError::Encode(e.to_string()))?;
        let submits = plan.submits(
            &dest,
            &SubmitOptions {
                status_report: msg.want_report,
                ..SubmitOptions::default()
            },
        );
        let mut mrs = Vec::with_capacity(submits.len());
        let mut retries = 0u32;
        let send_timeout = self.cfg().timeout(CommandKind::SmsSend);
        let prompt_timeout = self.cfg().prompt_timeout;
        for (segment, submit) in submits.into_iter().enumerate() {
            let tpdu = Tpdu::Submit(submit)
                .encode()
                .map_err(|e| SendError::Encode(e.to_string()))?;
            let pdu =
                Command::cmgs_pdu(None, &tpdu).map_err(|e| SendError::Encode(e.to_string()))?;
            let mut attempt = 0u32;
            loop {
                match self.s.send_pdu(&pdu, prompt_timeout, send_timeout).await {
                    Ok(a) if a.is_ok() => {
                        let mr = a.info.iter().find_map(|r| match r {
                            Response::Cmgs { mr, .. } => Some(*mr),
                            _ => None,
                        });
                        match mr {
                            Some(mr) => {
                                mrs.push(mr);
                                ModemMetrics::inc(&self.ctx.metrics.segments);
                                break;
                            }
                            None => {
                                return Err(SendError::NoReference { segment, sent: mrs });
                            }
                        }
                    }
                    Ok(a) => {
                        let retry = a.result.retry().unwrap_or(Retry::Transient);
                        if retry == Retry::Transient && attempt < self.cfg().send_retries {
                            attempt += 1;
                            retries += 1;
                            ModemMetrics::inc(&self.ctx.metrics.send_retries);
                            tracing::info!(modem = %self.ctx.cfg.name, segment, result = ?a.result, "transient send error: retrying");
                            sleep(self.cfg().send_retry_delay).await;
                            continue;
                        }
                        return Err(SendError::Rejected {
                            segment,
                            result: a.result,
                            permanent: retry == Retry::Permanent,
                            sent: mrs,
                        });
                    }
                    Err(e) => {
                        let maybe_sent = matches!(
                            e,
                            SessionError::Timeout {
                                body_written: true,
                                ..
                            }
                        );
                        return Err(SendError::Link {
                            segment,
                            sent: mrs,
                            maybe_sent,
                            fault: e.into(),
                        });
                    }
                }
            }
        }
        Ok(SendReceipt {
            modem: self.ctx.cfg.name.clone(),
            recipient,
            tp_mrs: mrs,
            retries,
        })
    }

    /// Serves requests, URCs, commits and health polls until cancelled (`Ok`) or the link fails.
    async fn serve(
        &mut self,
        rx: &mut mpsc::Receiver<Request>,
        cancel: &CancellationToken,
    ) -> Result<(), LinkFault> {
        let interval = self.cfg().health_interval;
        let mut next_health = Instant::now() + interval;
        loop {
            self.handle_urcs().await?;
            self.run_due().await?;
            let wake = {
                let s = &mut self.s;
                let acks = &mut self.carry.acks;
                let has_acks = !acks.is_empty();
                // Unbiased: a modem that floods the line does not starve requests and commits.
                tokio::select! {
                    _ = cancel.cancelled() => Wake::Cancel,
                    r = s.fill() => Wake::Read(r),
                    a = acks.next(), if has_acks => Wake::Ack(a),
                    req = rx.recv() => Wake::Req(req),
                    _ = sleep_until(next_health) => Wake::Health,
                }
            };
            match wake {
                Wake::Cancel | Wake::Req(None) => return Ok(()),
                Wake::Read(r) => r?,
                Wake::Ack(Some((target, confirmed))) => {
                    if confirmed {
                        self.carry.due.push(target);
                    } else if let AckTarget::Delete(idx) = target {
                        for i in idx {
                            self.carry.seen.remove(&i);
                        }
                        self.carry.rescan = true;
                    }
                }
                Wake::Ack(None) => {}
                Wake::Req(Some(Request::Send { msg, reply })) => {
                    let r = self.send(&msg).await;
                    let fault = match &r {
                        Ok(_) => {
                            ModemMetrics::inc(&self.ctx.metrics.sends);
                            None
                        }
                        Err(SendError::Link { fault, .. }) => {
                            ModemMetrics::inc(&self.ctx.metrics.send_errors);
                            Some(fault.clone())
                        }
                        Err(_) => {
                            ModemMetrics::inc(&self.ctx.metrics.send_errors);
                            None
                        }
                    };
                    let _ = reply.send(r);
                    if let Some(f) = fault {
                        return Err(f);
                    }
                }
                Wake::Req(Some(Request::Probe { reply })) => match self.probe().await {
                    Ok(p) => {
                        let _ = reply.send(Ok(p));
                    }
                    Err(f) => {
                        let _ = reply.send(Err(self.ctx.unavailable(f.to_string())));
                        return Err(f);
                    }
                },
                Wake::Health => {
                    next_health = Instant::now() + interval;
                    self.health().await?;
                    self.expire_parts();
                    if !self.carry.failed_deletes.is_empty() {
                        let idx = std::mem::take(&mut self.carry.failed_deletes);
                        self.carry.due.push(AckTarget::Delete(idx));
                    }
                    if self.carry.rescan {
                        self.list_stored().await?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi_to_mcc_mnc() {
        assert_eq!(
            split_imsi("240080123456789", None),
            Some(("240".into(), "08".into()))
        );
        // North America: 3-digit MNCs.
        assert_eq!(
            split_imsi("310260000000001", None),
            Some(("310".into(), "260".into()))
        );
        assert_eq!(
            split_imsi("240080123456789", Some(3)),
            Some(("240".into(), "080".into()))
        );
        assert_eq!(split_imsi("24008", None), None);
        assert_eq!(split_imsi("24008012345678x", None), None);
    }

    #[test]
    fn tp_st_maps_like_smpp_receipts() {
        // TS 23.040 §9.2.3.15 classes and the codes with their own SMPP state.
        let table = [
            (0x00, ReceiptState::Delivered),
            (0x02, ReceiptState::Delivered),
            (0x20, ReceiptState::Enroute),
            (0x3F, ReceiptState::Enroute),
            (0x40, ReceiptState::Undeliverable),
            (0x42, ReceiptState::Rejected),
            (0x46, ReceiptState::Expired),
            (0x47, ReceiptState::Deleted),
            (0x48, ReceiptState::Deleted),
            (0x61, ReceiptState::Undeliverable),
            (0x63, ReceiptState::Rejected),
            (0x80, ReceiptState::Unknown),
        ];
        for (st, state) in table {
            assert_eq!(receipt_state(Status(st)), state, "TP-ST {st:#04x}");
        }
        assert!(!receipt_state(Status(0x21)).is_final());
        assert!(receipt_state(Status(0x65)).is_final());
    }

    #[test]
    fn permanent_send_errors() {
        assert!(SendError::BadNumber("x".into()).is_permanent());
        assert!(
            !SendError::Unavailable {
                modem: "m".into(),
                reason: "r".into()
            }
            .is_permanent()
        );
        assert!(
            !SendError::Rejected {
                segment: 0,
                result: FinalResult::Error,
                permanent: false,
                sent: vec![]
            }
            .is_permanent()
        );
    }
}
