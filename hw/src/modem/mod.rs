//! One modem: a task that owns the device and its AT session, and runs the life cycle — open (by path or
//! identity), init (echo off, numeric errors, SIM PIN, PDU mode, storages, new-message indications),
//! identity, health polls, sends, incoming messages and status reports — and recovers: a silent modem gets
//! a reset sequence, a lost device is reopened with backoff, a busy SIM is asked again, and a SIM that needs a
//! PIN we do not have, a blocked or missing SIM is a state the modem reports and waits in.
//!
//! The gateway talks to it through a [`ModemHandle`] (bounded request queue, `oneshot` replies) and receives
//! [`ModemEvent`]s on a bounded channel. An incoming message or a stored status report is deleted from the SIM
//! only after the event's [`Commit`] was confirmed (TS 27.005 §3.5.4 `+CMGD`).

mod link;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smsbridge_protocol::at::FinalResult;
use smsbridge_protocol::dlr::ReceiptState;
use smsbridge_protocol::sms::{Status, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ModemConfig;
use crate::metrics::{MetricsSnapshot, ModemMetrics};
use crate::session::SessionError;

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

/// One SMS-SUBMIT the network accepted (see [`ModemHandle::send_tpdu`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpduReceipt {
    /// The modem that sent it.
    pub modem: String,
    /// TP-DA as displayed: what status reports are matched with (they may name it in another format).
    pub recipient: String,
    /// TP-MR the modem answered (`+CMGS: <mr>`): the key of the status report, with modem and recipient.
    pub tp_mr: u8,
    /// Retries after transient errors.
    pub retries: u32,
}

/// A final result code as a person reads it: `+CMS ERROR: 21 (short message transfer rejected)`.
pub fn describe_result(result: &FinalResult) -> String {
    use smsbridge_protocol::at::errors::ErrorFamily;
    let (family, e) = match result {
        FinalResult::CmsError(e) => (ErrorFamily::Cms, e),
        FinalResult::CmeError(e) => (ErrorFamily::Cme, e),
        other => return other.name().to_owned(),
    };
    let code = e
        .code
        .map_or_else(|| e.text.clone().unwrap_or_default(), |c| c.to_string());
    match e.meaning(family) {
        Some(m) if e.code.is_some() => format!("{}: {code} ({m})", result.name()),
        _ => format!("{}: {code}", result.name()),
    }
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
    #[error("segment {segment}: modem answered {}", describe_result(result))]
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
    SendTpdu {
        tpdu: Vec<u8>,
        reply: oneshot::Sender<Result<TpduReceipt, SendError>>,
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
            Request::SendTpdu { reply, .. } => {
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
            Request::SendTpdu { tpdu, .. } => write!(f, "SendTpdu({} octets)", tpdu.len()),
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

    /// Sends one ready-made SMS-SUBMIT TPDU (TS 23.040 §9.2.2.2, without the service-centre address) with
    /// `AT+CMGS=<length>` in PDU mode, with the same retries of transient errors as [`ModemHandle::send`];
    /// returns the TP-MR the modem answered. For callers that plan and segment themselves: the TPDU
    /// carries its own UDH and TP-DCS; its TP-MR is whatever the modem assigns.
    pub async fn send_tpdu(&self, tpdu: Vec<u8>) -> Result<TpduReceipt, SendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::SendTpdu { tpdu, reply })
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

    /// Ready and registered ([`ModemStatus::healthy`]), without copying the status.
    pub fn is_healthy(&self) -> bool {
        self.status.borrow().healthy()
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
    let task = tokio::spawn(link::run(ctx, rx, cancel));
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
