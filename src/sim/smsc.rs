//! The SMSC simulator: accepts ESME binds, answers every SMPP 3.4 operation an ESME sends, sends delivery
//! receipts after a configurable delay with a configurable mix of outcomes, injects MO messages, and plays
//! faults on demand (throttling, delays, drops, garbage, refused binds, silence).
//!
//! One task per connection. Each read is decoded in place (borrowed PDUs) and every answer of that read is
//! encoded into one write buffer, written with one syscall; receipts are encoded straight from a small
//! fixed-size record. Nothing is allocated per PDU on the submit path except the receipt text.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use smsbridge_protocol::dlr::{ReceiptDate, ReceiptState, StandardReceipt};
use smsbridge_protocol::smpp::{
    BindResp, Body, CommandId, CommandStatus, DataCoding, DeliverSm, EsmClass, Frame, Limits,
    MessageIdResp, MessageState, Pdu, QuerySmResp, SubmitMultiResp, Tlvs, UnsuccessSmes,
    decode_frame, tag,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// How message ids are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// Lower-case hexadecimal.
    #[default]
    Hex,
    /// Decimal.
    Decimal,
    /// A UUID (8-4-4-4-12).
    Uuid,
    /// Upper-case hexadecimal, zero-padded to 16 digits (`000000000000001A`), and recognised by query_sm,
    /// cancel_sm and replace_sm only exactly so, like an SMSC that looks its ids up as strings: an ESME that
    /// quotes the id in another form (e.g. normalized to `1a`) gets ESME_RQUERYFAIL, ESME_RCANCELFAIL or
    /// ESME_RREPLACEFAIL.
    PaddedHex,
}

impl std::str::FromStr for IdFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hex" => Ok(IdFormat::Hex),
            "decimal" => Ok(IdFormat::Decimal),
            "uuid" => Ok(IdFormat::Uuid),
            "padded-hex" => Ok(IdFormat::PaddedHex),
            other => Err(format!(
                "id format {other:?}: expected hex, decimal, uuid or padded-hex"
            )),
        }
    }
}

/// A receipt outcome and its weight in the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeWeight {
    /// The `stat` code written in the receipt (`DELIVRD`, `UNDELIV`, `EXPIRED`, `REJECTD`, ...).
    pub stat: &'static str,
    /// Relative weight.
    pub weight: f64,
}

/// The stat codes the simulator can send (SMPP 3.4 Appendix B).
pub const STATS: &[&str] = &[
    "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "ACCEPTD", "ENROUTE",
];

/// Parses `DELIVRD=0.97,UNDELIV=0.03`.
pub fn parse_outcomes(s: &str) -> Result<Vec<OutcomeWeight>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part
            .split_once('=')
            .ok_or_else(|| format!("outcome {part:?}: expected STAT=weight"))?;
        let stat = STATS
            .iter()
            .find(|s| s.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| format!("outcome {name:?}: expected one of {}", STATS.join(", ")))?;
        let weight: f64 = w
            .trim()
            .parse()
            .map_err(|_| format!("outcome {name}: weight {w:?} is not a number"))?;
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(format!("outcome {name}: weight must be 0 or more"));
        }
        out.push(OutcomeWeight { stat, weight });
    }
    if out.iter().map(|o| o.weight).sum::<f64>() <= 0.0 {
        return Err("outcomes: the weights add up to zero".into());
    }
    Ok(out)
}

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct SmscConfig {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Accepted (system_id, password) pairs; empty accepts any.
    pub accounts: Vec<(String, String)>,
    /// Receipt delay, drawn uniformly from this range.
    pub receipt_delay: (Duration, Duration),
    /// Receipt outcomes and their weights.
    pub outcomes: Vec<OutcomeWeight>,
    /// Message id form.
    pub id_format: IdFormat,
    /// ESME_RTHROTTLED above this many submits per second (all connections together); 0: off.
    pub throttle_per_sec: u32,
    /// Send the receipt before the submit_sm_resp when the delay is zero (real SMSCs do this).
    pub receipts_before_resp: bool,
    /// deliver_sm sent and not yet answered, per connection.
    pub window: usize,
    /// Largest PDU accepted.
    pub max_pdu_size: u32,
    /// system_id in bind responses.
    pub system_id: String,
}

impl Default for SmscConfig {
    fn default() -> Self {
        SmscConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 2775)),
            accounts: Vec::new(),
            receipt_delay: (Duration::ZERO, Duration::ZERO),
            outcomes: vec![OutcomeWeight {
                stat: "DELIVRD",
                weight: 1.0,
            }],
            id_format: IdFormat::Hex,
            throttle_per_sec: 0,
            receipts_before_resp: false,
            window: 1024,
            max_pdu_size: 64 * 1024,
            system_id: "smsbridge-sim".into(),
        }
    }
}

/// What the simulator has seen and done, readable while it runs.
#[derive(Debug, Default)]
pub struct SimCounters {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// Successful binds.
    pub binds: AtomicU64,
    /// Refused binds.
    pub binds_refused: AtomicU64,
    /// submit_sm, data_sm and submit_multi received.
    pub submits: AtomicU64,
    /// Of those, accepted with a message id.
    pub accepted: AtomicU64,
    /// Of those, answered ESME_RTHROTTLED.
    pub throttled: AtomicU64,
    /// Of those, deliberately left unanswered.
    pub unanswered: AtomicU64,
    /// Receipts sent (deliver_sm).
    pub receipts_sent: AtomicU64,
    /// deliver_sm_resp (or data_sm_resp) with ESME_ROK (receipts and MOs).
    pub deliver_resp_ok: AtomicU64,
    /// deliver_sm_resp with an error status.
    pub deliver_resp_error: AtomicU64,
    /// MO messages sent (deliver_sm).
    pub mo_sent: AtomicU64,
    /// query_sm, cancel_sm and replace_sm received.
    pub queries: AtomicU64,
    /// cancel_sm received.
    pub cancels: AtomicU64,
    /// Of those, answered ESME_ROK: the receipt was still waiting and is dropped.
    pub cancelled: AtomicU64,
    /// Of those, answered ESME_RCANCELFAIL (receipt already sent, unknown id, or a fault).
    pub cancels_refused: AtomicU64,
    /// enquire_link received.
    pub enquire_links: AtomicU64,
    /// enquire_link_resp received (answers to enquire_link sent with [`SmscControl::send_raw`]).
    pub enquire_link_resps: AtomicU64,
    /// unbind received.
    pub unbinds: AtomicU64,
    /// unbind_resp received (after our unbind).
    pub unbind_resps: AtomicU64,
    /// generic_nack received.
    pub generic_nacks: AtomicU64,
    /// The command_status of the last generic_nack received.
    pub last_generic_nack_status: AtomicU32,
    /// Malformed PDUs received.
    pub malformed: AtomicU64,
    /// Connections dropped on purpose (fault).
    pub dropped: AtomicU64,
    /// Connections that ended.
    pub closed: AtomicU64,
}

impl SimCounters {
    fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "binds={} submits={} accepted={} receipts={} receipt_acks={} throttled={} cancels={} cancelled={} mo={} enquire_links={} connections={}",
            g(&self.binds),
            g(&self.submits),
            g(&self.accepted),
            g(&self.receipts_sent),
            g(&self.deliver_resp_ok),
            g(&self.throttled),
            g(&self.cancels),
            g(&self.cancelled),
            g(&self.mo_sent),
            g(&self.enquire_links),
            g(&self.connections),
        )
    }
}

/// An MO message to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// The handset's number.
    pub source_addr: String,
    /// The number it wrote to.
    pub destination_addr: String,
    /// data_coding.
    pub data_coding: DataCoding,
    /// esm_class (UDHI for a segment with a UDH).
    pub esm_class: EsmClass,
    /// short_message (UDH included).
    pub short_message: Vec<u8>,
}

enum ConnCmd {
    Raw(Vec<u8>),
    Receipt(PendingReceipt),
    Mo(MoMessage),
    Disconnect,
}

/// One submit_sm as the simulator received it (recorded when [`SmscControl::record_submits`] is on), so
/// tests can check what went over the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSubmit {
    /// When it was read.
    pub at: Instant,
    pub source_addr_ton: u8,
    pub source_addr: Vec<u8>,
    pub dest_addr_ton: u8,
    pub destination_addr: Vec<u8>,
    pub esm_class: EsmClass,
    pub data_coding: DataCoding,
    pub registered_delivery: u8,
    /// validity_period as received (SMPP 3.4 §7.1.1 time format; empty: the SMSC's default). The simulator
    /// only records it: receipts come after the configured delay whatever it says.
    pub validity_period: Vec<u8>,
    pub short_message: Vec<u8>,
    /// sar_msg_ref_num, sar_total_segments, sar_segment_seqnum, when all three came.
    pub sar: Option<(u16, u8, u8)>,
    /// message_payload, when it came.
    pub message_payload: Option<Vec<u8>>,
}

/// One cancel_sm as the simulator received it (recorded while [`SmscControl::record_submits`] is on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCancel {
    pub message_id: Vec<u8>,
    pub service_type: Vec<u8>,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: Vec<u8>,
    pub destination_addr: Vec<u8>,
    /// The command_status it was answered with.
    pub status: CommandStatus,
}

/// Most submits kept by the recorder.
const MAX_RECORDED: usize = 100_000;

/// Faults and shared state, changed at run time through [`SmscControl`].
struct Shared {
    recorded: Mutex<Option<Vec<RecordedSubmit>>>,
    recorded_cancels: Mutex<Vec<RecordedCancel>>,
    refuse_cancels: AtomicU64,
    /// Keep receipts across sessions (see [`SmscControl::set_store_and_forward`]).
    store_and_forward: AtomicBool,
    /// Receipts of closed sessions, waiting for the next receiver bind.
    orphans: Mutex<Vec<PendingReceipt>>,
    config: SmscConfig,
    counters: Arc<SimCounters>,
    next_id: AtomicU64,
    uuid_salt: u64,
    throttle_per_sec: AtomicU32,
    throttle_second: AtomicU64,
    throttle_count: AtomicU32,
    response_delay_us: AtomicU64,
    response_jitter_us: AtomicU64,
    answer_enquire_link: AtomicBool,
    silent: AtomicBool,
    refuse_binds: AtomicU32,
    drop_at_submit: AtomicU64,
    ignore_submits: AtomicU64,
    fail_submits: AtomicU64,
    fail_status: AtomicU32,
    receipts_before_resp: AtomicBool,
    started: Instant,
    conns: Mutex<Vec<(u64, bool, mpsc::Sender<ConnCmd>)>>,
}

/// Control of a running simulator (faults, MO injection, counters); clone freely.
#[derive(Clone)]
pub struct SmscControl {
    shared: Arc<Shared>,
}

impl SmscControl {
    /// The counters.
    pub fn counters(&self) -> &SimCounters {
        &self.shared.counters
    }

    /// ESME_RTHROTTLED above `per_sec` submits per second; 0 turns it off.
    pub fn set_throttle(&self, per_sec: u32) {
        self.shared
            .throttle_per_sec
            .store(per_sec, Ordering::Relaxed);
    }

    /// Delay every response by this much.
    pub fn set_response_delay(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.shared.response_delay_us.store(us, Ordering::Relaxed);
    }

    /// Add a random delay of up to this much to each response, so responses come back out of order.
    pub fn set_response_jitter(&self, max: Duration) {
        let us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        self.shared.response_jitter_us.store(us, Ordering::Relaxed);
    }

    /// Answer enquire_link or not.
    pub fn set_answer_enquire_link(&self, on: bool) {
        self.shared.answer_enquire_link.store(on, Ordering::Relaxed);
    }

    /// Stop reading and writing on every connection (a hung SMSC).
    pub fn set_silent(&self, on: bool) {
        self.shared.silent.store(on, Ordering::Relaxed);
    }

    /// Refuse every bind with this status; `None` accepts again.
    pub fn refuse_binds(&self, status: Option<CommandStatus>) {
        self.shared
            .refuse_binds
            .store(status.map_or(0, |s| s.0), Ordering::Relaxed);
    }

    /// Drop the connection, without answering, when the submit counter reaches `total` (once).
    pub fn drop_connection_at_submit(&self, total: u64) {
        self.shared.drop_at_submit.store(total, Ordering::Relaxed);
    }

    /// Leave the next `n` submits unanswered.
    pub fn ignore_next_submits(&self, n: u64) {
        self.shared.ignore_submits.store(n, Ordering::Relaxed);
    }

    /// Answer the next `n` submits with this error status.
    pub fn fail_next_submits(&self, n: u64, status: CommandStatus) {
        self.shared.fail_status.store(status.0, Ordering::Relaxed);
        self.shared.fail_submits.store(n, Ordering::Relaxed);
    }

    /// Answer the next `n` cancel_sm with ESME_RCANCELFAIL whatever the message's state (an SMSC that
    /// delivered the message and has not sent its receipt yet).
    pub fn refuse_next_cancels(&self, n: u64) {
        self.shared.refuse_cancels.store(n, Ordering::Relaxed);
    }

    /// The cancel_sm received while recording is on, in arrival order.
    pub fn recorded_cancels(&self) -> Vec<RecordedCancel> {
        match self.shared.recorded_cancels.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Send receipts before the submit_sm_resp (zero receipt delay only).
    pub fn set_receipts_before_resp(&self, on: bool) {
        self.shared
            .receipts_before_resp
            .store(on, Ordering::Relaxed);
    }

    /// Store and forward receipts like a real SMSC: receipts not yet answered with an OK deliver_sm_resp when
    /// a session ends (waiting, queued, or sent and unanswered) go to the next session that binds as a
    /// receiver, and a receipt answered with an error is sent again a second later. Off by default.
    pub fn set_store_and_forward(&self, on: bool) {
        self.shared.store_and_forward.store(on, Ordering::Relaxed);
    }

    /// Starts (or stops, dropping what was kept) recording every submit_sm received, up to 100,000.
    pub fn record_submits(&self, on: bool) {
        let mut r = match self.shared.recorded.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        *r = on.then(Vec::new);
    }

    /// The submits recorded so far, in arrival order.
    pub fn recorded_submits(&self) -> Vec<RecordedSubmit> {
        let r = match self.shared.recorded.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        r.clone().unwrap_or_default()
    }

    fn broadcast(&self, receivers_only: bool, mut make: impl FnMut() -> ConnCmd) -> usize {
        let conns = match self.shared.conns.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let mut n = 0;
        for (_, bound_rx, tx) in conns.iter() {
            if (!receivers_only || *bound_rx) && tx.try_send(make()).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Writes these octets on every connection (garbage, a malformed PDU); returns how many got them.
    pub fn send_raw(&self, octets: &[u8]) -> usize {
        self.broadcast(false, || ConnCmd::Raw(octets.to_vec()))
    }

    /// Closes every connection.
    pub fn disconnect_all(&self) -> usize {
        self.broadcast(false, || ConnCmd::Disconnect)
    }

    /// Sends an MO message on the first connection bound as receiver or transceiver; false if none.
    pub fn inject_mo(&self, mo: MoMessage) -> bool {
        let conns = match self.shared.conns.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        conns
            .iter()
            .filter(|(_, rx, _)| *rx)
            .any(|(_, _, tx)| tx.try_send(ConnCmd::Mo(mo.clone())).is_ok())
    }

    /// Sends a text as a concatenated MO (8-bit reference UDH, TS 23.040 §9.2.3.24.1), `per_segment` text
    /// octets per part; returns the number of parts sent (0 when no receiver is bound).
    pub fn inject_mo_multipart(
        &self,
        source_addr: &str,
        destination_addr: &str,
        text: &[u8],
        reference: u8,
        per_segment: usize,
    ) -> usize {
        let per = per_segment.clamp(1, 153);
        let parts: Vec<&[u8]> = text.chunks(per).collect();
        let Ok(total) = u8::try_from(parts.len()) else {
            return 0;
        };
        let mut sent = 0;
        for (i, part) in parts.iter().enumerate() {
            let mut sm = vec![
                0x05,
                0x00,
                0x03,
                reference,
                total,
                u8::try_from(i + 1).unwrap_or(0),
            ];
            sm.extend_from_slice(part);
            if self.inject_mo(MoMessage {
                source_addr: source_addr.into(),
                destination_addr: destination_addr.into(),
                data_coding: DataCoding::DEFAULT,
                esm_class: EsmClass::UDHI,
                short_message: sm,
            }) {
                sent += 1;
            }
        }
        sent
    }
}

/// A running simulator.
pub struct Smsc {
    local_addr: SocketAddr,
    control: SmscControl,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Smsc {
    /// Binds the listener and starts accepting on the current runtime.
    pub async fn start(config: SmscConfig) -> std::io::Result<Smsc> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            recorded: Mutex::new(None),
            recorded_cancels: Mutex::new(Vec::new()),
            refuse_cancels: AtomicU64::new(0),
            store_and_forward: AtomicBool::new(false),
            orphans: Mutex::new(Vec::new()),
            throttle_per_sec: AtomicU32::new(config.throttle_per_sec),
            receipts_before_resp: AtomicBool::new(config.receipts_before_resp),
            config,
            counters: Arc::new(SimCounters::default()),
            next_id: AtomicU64::new(1),
            uuid_salt: rand::rng().random(),
            throttle_second: AtomicU64::new(0),
            throttle_count: AtomicU32::new(0),
            response_delay_us: AtomicU64::new(0),
            response_jitter_us: AtomicU64::new(0),
            answer_enquire_link: AtomicBool::new(true),
            silent: AtomicBool::new(false),
            refuse_binds: AtomicU32::new(0),
            drop_at_submit: AtomicU64::new(0),
            ignore_submits: AtomicU64::new(0),
            fail_submits: AtomicU64::new(0),
            fail_status: AtomicU32::new(0),
            started: Instant::now(),
            conns: Mutex::new(Vec::new()),
        });
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), cancel.clone()));
        Ok(Smsc {
            local_addr,
            control: SmscControl { shared },
            cancel,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The control handle.
    pub fn control(&self) -> SmscControl {
        self.control.clone()
    }

    /// The counters.
    pub fn counters(&self) -> Arc<SimCounters> {
        self.control.shared.counters.clone()
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, cancel: CancellationToken) {
    let mut conn_id = 0u64;
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    conn_id += 1;
                    SimCounters::add(&shared.counters.connections);
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(stream, shared.clone(), conn_id, cancel.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sim smsc: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    conns.shutdown().await;
}

/// A receipt waiting for its time, small and fixed-size.
#[derive(Clone, Copy)]
struct PendingReceipt {
    due: Instant,
    id: u64,
    stat: u8,
    submit_date: ReceiptDate,
    src: Addr,
    dst: Addr,
    text: Addr,
}

impl PartialEq for PendingReceipt {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.id) == (o.due, o.id)
    }
}
impl Eq for PendingReceipt {}
impl PartialOrd for PendingReceipt {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for PendingReceipt {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.id).cmp(&(o.due, o.id))
    }
}

/// Up to 21 octets inline (addresses; the first 20 octets of a text).
#[derive(Clone, Copy)]
struct Addr {
    buf: [u8; 21],
    len: u8,
}

impl Addr {
    fn new(v: &[u8]) -> Addr {
        let mut buf = [0u8; 21];
        let n = v.len().min(20);
        buf[..n].copy_from_slice(&v[..n]);
        Addr { buf, len: n as u8 }
    }
    fn get(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// A message id written into a stack buffer.
struct IdBuf {
    buf: [u8; 40],
    len: usize,
}

impl IdBuf {
    fn get(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn format_id(format: IdFormat, salt: u64, id: u64) -> IdBuf {
    let mut out = IdBuf {
        buf: [0; 40],
        len: 0,
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match format {
        IdFormat::Decimal => {
            let mut tmp = [0u8; 20];
            let mut i = tmp.len();
            let mut v = id;
            loop {
                i -= 1;
                tmp[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            let n = tmp.len() - i;
            out.buf[..n].copy_from_slice(&tmp[i..]);
            out.len = n;
        }
        IdFormat::Hex => {
            let digits = (64 - id.leading_zeros()).div_ceil(4).max(1) as usize;
            for k in 0..digits {
                let shift = 4 * (digits - 1 - k);
                out.buf[k] = HEX[((id >> shift) & 0xF) as usize];
            }
            out.len = digits;
        }
        IdFormat::PaddedHex => {
            const UPPER: &[u8; 16] = b"0123456789ABCDEF";
            for (k, b) in out.buf[..16].iter_mut().enumerate() {
                *b = UPPER[((id >> (60 - 4 * k)) & 0xF) as usize];
            }
            out.len = 16;
        }
        IdFormat::Uuid => {
            // 32 hex digits: the salt (version nibble forced to 4), then the counter in the last 12 digits.
            let hi = (salt & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
            let lo = (0x8000u64 << 48) | (id & 0xFFFF_FFFF_FFFF);
            let mut k = 0;
            for (n, word) in [hi, lo].iter().enumerate() {
                for d in 0..16 {
                    let pos = n * 16 + d;
                    if matches!(pos, 8 | 12 | 16 | 20) {
                        out.buf[k] = b'-';
                        k += 1;
                    }
                    out.buf[k] = HEX[((word >> (60 - 4 * d)) & 0xF) as usize];
                    k += 1;
                }
            }
            out.len = k;
        }
    }
    out
}

fn parse_id(format: IdFormat, id: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(id).ok()?;
    match format {
        IdFormat::Decimal => s.parse().ok(),
        IdFormat::Hex => u64::from_str_radix(s, 16).ok(),
        IdFormat::Uuid => u64::from_str_radix(s.get(s.len().checked_sub(12)?..)?, 16).ok(),
        IdFormat::PaddedHex => {
            let as_issued = s.len() == 16
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
            as_issued.then(|| u64::from_str_radix(s, 16).ok()).flatten()
        }
    }
}

fn now_date() -> ReceiptDate {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = smsbridge_protocol::civil::civil_from_days(days);
    ReceiptDate {
        year: u16::try_from(year).unwrap_or(2000),
        month,
        day,
        hour: (rem / 3600) as u8,
        minute: ((rem / 60) % 60) as u8,
        second: None,
    }
}

struct Conn {
    shared: Arc<Shared>,
    id: u64,
    wbuf: BytesMut,
    bound: Option<CommandId>,
    next_seq: u32,
    /// deliver_sm sent and not answered.
    outstanding: usize,
    waiting: BinaryHeap<Reverse<PendingReceipt>>,
    /// Receipts due but held back by the window, and MOs.
    ready: VecDeque<Outgoing>,
    /// Delayed responses by due time (a jitter reorders them).
    delayed: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    delayed_n: u64,
    /// Message states for query_sm / cancel_sm / replace_sm (bounded).
    states: HashMap<u64, u8>,
    /// Receipts sent and not yet answered, by sequence number (store and forward only).
    unanswered: HashMap<u32, PendingReceipt>,
    rng: SmallRng,
    text: Vec<u8>,
    outcome_total: f64,
    date: ReceiptDate,
    date_at: Instant,
}

enum Outgoing {
    Receipt(PendingReceipt),
    Mo(MoMessage),
}

const STATE_PENDING: u8 = 0;
const STATE_CANCELLED: u8 = 0xFF;
const MAX_STATES: usize = 1 << 16;

enum Flow {
    Go,
    Close,
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, id: u64, cancel: CancellationToken) {
    let (mut rd, mut wr) = stream.into_split();
    let (cmd_tx, mut cmd_rx) = mpsc::channel(4096);
    if let Ok(mut c) = shared.conns.lock() {
        c.push((id, false, cmd_tx));
    }
    let outcome_total = shared.config.outcomes.iter().map(|o| o.weight).sum();
    let mut conn = Conn {
        shared: shared.clone(),
        id,
        wbuf: BytesMut::with_capacity(256 * 1024),
        bound: None,
        next_seq: 1,
        outstanding: 0,
        waiting: BinaryHeap::new(),
        ready: VecDeque::new(),
        delayed: BinaryHeap::new(),
        delayed_n: 0,
        states: HashMap::new(),
        unanswered: HashMap::new(),
        rng: SmallRng::from_rng(&mut rand::rng()),
        text: Vec::with_capacity(256),
        outcome_total,
        date: now_date(),
        date_at: Instant::now(),
    };
    let limits = Limits {
        max_command_length: shared.config.max_pdu_size,
    };
    let mut rbuf = BytesMut::with_capacity(256 * 1024);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let timer = sleep_until(far);
    tokio::pin!(timer);
    let mut timer_at = far;
    loop {
        let silent = shared.silent.load(Ordering::Relaxed);
        let next = if silent {
            Instant::now() + Duration::from_millis(20)
        } else {
            conn.next_timer().unwrap_or(far)
        };
        if next != timer_at {
            timer.as_mut().reset(next);
            timer_at = next;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            cmd = cmd_rx.recv() => match cmd {
                Some(ConnCmd::Raw(b)) => conn.wbuf.extend_from_slice(&b),
                Some(ConnCmd::Mo(mo)) => { conn.ready.push_back(Outgoing::Mo(mo)); conn.pump(); }
                Some(ConnCmd::Receipt(r)) => {
                    if r.due <= Instant::now() {
                        conn.ready.push_back(Outgoing::Receipt(r));
                        conn.pump();
                    } else {
                        conn.waiting.push(Reverse(r));
                    }
                }
                Some(ConnCmd::Disconnect) | None => { SimCounters::add(&shared.counters.dropped); break; }
            },
            r = wr.write(&conn.wbuf), if !silent && !conn.wbuf.is_empty() => match r {
                Ok(n) if n > 0 => conn.wbuf.advance(n),
                _ => break,
            },
            r = rd.read_buf(&mut rbuf), if !silent && conn.wbuf.len() < 4 << 20 => match r {
                Ok(n) if n > 0 => {
                    let flow = conn.process(&mut rbuf, &limits);
                    if matches!(flow, Flow::Close) {
                        let _ = tokio::time::timeout(Duration::from_millis(200), wr.write_all(&conn.wbuf)).await;
                        break;
                    }
                    if rbuf.capacity() - rbuf.len() < 16 * 1024 {
                        rbuf.reserve(256 * 1024);
                    }
                }
                _ => break,
            },
            _ = &mut timer => {
                if !silent {
                    conn.on_timer();
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    SimCounters::add(&shared.counters.closed);
    if let Ok(mut c) = shared.conns.lock() {
        c.retain(|(cid, _, _)| *cid != id);
    }
    if shared.store_and_forward.load(Ordering::Relaxed) {
        let mut kept: Vec<PendingReceipt> = conn.unanswered.drain().map(|(_, r)| r).collect();
        kept.extend(conn.waiting.drain().map(|Reverse(r)| r));
        kept.extend(conn.ready.drain(..).filter_map(|o| match o {
            Outgoing::Receipt(r) => Some(r),
            Outgoing::Mo(_) => None,
        }));
        let mut orphans = match shared.orphans.lock() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        let room = MAX_ORPHANS.saturating_sub(orphans.len());
        orphans.extend(kept.into_iter().take(room));
    }
}

/// Most receipts kept for the next session (store and forward).
const MAX_ORPHANS: usize = 1 << 20;

impl Conn {
    fn next_timer(&self) -> Option<Instant> {
        let a = self.waiting.peek().map(|r| r.0.due);
        let b = self.delayed.peek().map(|d| d.0.0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        while self.delayed.peek().is_some_and(|d| d.0.0 <= now) {
            if let Some(Reverse((_, _, bytes))) = self.delayed.pop() {
                self.wbuf.extend_from_slice(&bytes);
            }
        }
        while self.waiting.peek().is_some_and(|r| r.0.due <= now) {
            if let Some(Reverse(r)) = self.waiting.pop() {
                self.ready.push_back(Outgoing::Receipt(r));
            }
        }
        self.pump();
    }

    /// Sends what is ready while the window allows.
    fn pump(&mut self) {
        let window = self.shared.config.window;
        while self.outstanding < window {
            let Some(next) = self.ready.pop_front() else {
                break;
            };
            match next {
                Outgoing::Receipt(r) => self.encode_receipt(&r),
                Outgoing::Mo(mo) => self.encode_mo(&mo),
            }
        }
    }

    fn alloc_seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    fn refresh_date(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.date_at) > Duration::from_secs(1) {
            self.date = now_date();
            self.date_at = now;
        }
    }

    fn encode_receipt(&mut self, r: &PendingReceipt) {
        match self.states.get(&r.id) {
            Some(&STATE_CANCELLED) => return,
            Some(_) => {
                let state = ReceiptState::from_stat(STATS[usize::from(r.stat)].as_bytes());
                self.states.insert(r.id, state.message_state().unwrap_or(7));
            }
            None => {}
        }
        let shared = self.shared.clone();
        let idb = format_id(shared.config.id_format, shared.uuid_salt, r.id);
        let stat = STATS[usize::from(r.stat)];
        let state = ReceiptState::from_stat(stat.as_bytes());
        self.refresh_date();
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        StandardReceipt {
            id: idb.get(),
            sub: 1,
            dlvrd: u32::from(state.is_delivered()),
            submit_date: r.submit_date,
            done_date: self.date,
            state,
            err: if state.is_delivered() { 0 } else { 1 },
            text: r.text.get(),
        }
        .write_to(&mut text);
        // receipted_message_id (C-octet string) and message_state TLVs, built on the stack.
        let mut tl = [0u8; 4 + 41 + 5];
        let id = idb.get();
        let idlen = id.len() + 1;
        tl[0..2].copy_from_slice(&tag::RECEIPTED_MESSAGE_ID.to_be_bytes());
        tl[2..4].copy_from_slice(&(idlen as u16).to_be_bytes());
        tl[4..4 + id.len()].copy_from_slice(id);
        let mut k = 4 + idlen;
        tl[k..k + 2].copy_from_slice(&tag::MESSAGE_STATE.to_be_bytes());
        tl[k + 2..k + 4].copy_from_slice(&1u16.to_be_bytes());
        tl[k + 4] = state.message_state().unwrap_or(7);
        k += 5;
        let tlvs = Tlvs::parse(&tl[..k]).unwrap_or_default();
        let seq = self.alloc_seq();
        if self.shared.store_and_forward.load(Ordering::Relaxed) {
            self.unanswered.insert(seq, *r);
        }
        Pdu::new(
            seq,
            Body::DeliverSm(DeliverSm {
                source_addr: Cow::Borrowed(r.dst.get()),
                destination_addr: Cow::Borrowed(r.src.get()),
                esm_class: EsmClass::DELIVERY_RECEIPT,
                short_message: Cow::Borrowed(&text),
                tlvs,
                ..DeliverSm::default()
            }),
        )
        .encode(&mut self.wbuf);
        self.text = text;
        self.outstanding += 1;
        SimCounters::add(&self.shared.counters.receipts_sent);
    }

    fn encode_mo(&mut self, mo: &MoMessage) {
        let seq = self.alloc_seq();
        Pdu::new(
            seq,
            Body::DeliverSm(DeliverSm {
                source_addr: Cow::Borrowed(mo.source_addr.as_bytes()),
                destination_addr: Cow::Borrowed(mo.destination_addr.as_bytes()),
                esm_class: mo.esm_class,
                data_coding: mo.data_coding,
                short_message: Cow::Borrowed(&mo.short_message),
                ..DeliverSm::default()
            }),
        )
        .encode(&mut self.wbuf);
        self.outstanding += 1;
        SimCounters::add(&self.shared.counters.mo_sent);
    }

    /// Queues a response, now or after the configured delay.
    fn respond(&mut self, pdu: Pdu<'_>) {
        let delay = self.shared.response_delay_us.load(Ordering::Relaxed);
        let jitter = self.shared.response_jitter_us.load(Ordering::Relaxed);
        if delay == 0 && jitter == 0 {
            pdu.encode(&mut self.wbuf);
        } else {
            let extra = if jitter > 0 {
                self.rng.random_range(0..=jitter)
            } else {
                0
            };
            let due = Instant::now() + Duration::from_micros(delay + extra);
            self.delayed_n += 1;
            self.delayed
                .push(Reverse((due, self.delayed_n, pdu.to_vec())));
        }
    }

    fn throttled(&self) -> bool {
        let limit = self.shared.throttle_per_sec.load(Ordering::Relaxed);
        if limit == 0 {
            return false;
        }
        let sec = self.shared.started.elapsed().as_secs();
        if self.shared.throttle_second.swap(sec, Ordering::Relaxed) != sec {
            self.shared.throttle_count.store(0, Ordering::Relaxed);
        }
        self.shared.throttle_count.fetch_add(1, Ordering::Relaxed) >= limit
    }

    fn set_bound_receiver(&mut self) {
        if let Ok(mut c) = self.shared.conns.lock() {
            for e in c.iter_mut().filter(|e| e.0 == self.id) {
                e.1 = true;
            }
        }
        let orphans = match self.shared.orphans.lock() {
            Ok(mut o) => std::mem::take(&mut *o),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        self.waiting.extend(orphans.into_iter().map(Reverse));
    }

    /// Handles every whole PDU in `rbuf`; Close ends the connection.
    fn process(&mut self, rbuf: &mut BytesMut, limits: &Limits) -> Flow {
        let mut pos = 0;
        let flow = loop {
            let rest = &rbuf[pos..];
            match decode_frame(rest, limits) {
                Ok(Frame::Incomplete { .. }) => break Flow::Go,
                Ok(Frame::Pdu { pdu, consumed }) => {
                    pos += consumed;
                    if let Flow::Close = self.on_pdu(pdu) {
                        break Flow::Close;
                    }
                }
                Err(e) => {
                    SimCounters::add(&self.shared.counters.malformed);
                    if let Some(reply) = e.reply() {
                        reply.encode(&mut self.wbuf);
                    }
                    match e.consumed() {
                        Some(n) => pos += n.min(rest.len()),
                        None => break Flow::Close,
                    }
                }
            }
        };
        rbuf.advance(pos.min(rbuf.len()));
        self.pump();
        flow
    }

    fn on_pdu(&mut self, pdu: Pdu<'_>) -> Flow {
        let c = self.shared.counters.clone();
        let seq = pdu.sequence_number;
        let id = pdu.command_id();
        match &pdu.body {
            Body::BindTransceiver(b) | Body::BindTransmitter(b) | Body::BindReceiver(b) => {
                let refused = self.shared.refuse_binds.load(Ordering::Relaxed);
                let accounts = &self.shared.config.accounts;
                let status = if refused != 0 {
                    CommandStatus(refused)
                } else if self.bound.is_some() {
                    CommandStatus::ESME_RALYBND
                } else if !accounts.is_empty() {
                    match accounts
                        .iter()
                        .find(|(s, _)| s.as_bytes() == b.system_id.as_ref())
                    {
                        None => CommandStatus::ESME_RINVSYSID,
                        Some((_, p)) if p.as_bytes() != b.password.as_ref() => {
                            CommandStatus::ESME_RINVPASWD
                        }
                        Some(_) => CommandStatus::ESME_ROK,
                    }
                } else {
                    CommandStatus::ESME_ROK
                };
                let resp = BindResp {
                    system_id: status
                        .is_ok()
                        .then(|| Cow::Borrowed(self.shared.config.system_id.as_bytes())),
                    tlvs: Tlvs::new(),
                };
                let body = match id {
                    CommandId::BindTransceiver => Body::BindTransceiverResp(resp),
                    CommandId::BindTransmitter => Body::BindTransmitterResp(resp),
                    _ => Body::BindReceiverResp(resp),
                };
                Pdu {
                    command_status: status,
                    sequence_number: seq,
                    body,
                }
                .encode(&mut self.wbuf);
                if status.is_ok() {
                    SimCounters::add(&c.binds);
                    self.bound = Some(id);
                    if id != CommandId::BindTransmitter {
                        self.set_bound_receiver();
                    }
                } else if status != CommandStatus::ESME_RALYBND {
                    SimCounters::add(&c.binds_refused);
                    return Flow::Close;
                }
            }
            _ if self.bound.is_none() && !pdu.is_response() => {
                let reply = pdu
                    .response_for(CommandStatus::ESME_RINVBNDSTS)
                    .unwrap_or_else(|| Pdu::generic_nack(seq, CommandStatus::ESME_RINVBNDSTS));
                reply.encode(&mut self.wbuf);
            }
            Body::SubmitSm(_) | Body::DataSm(_) | Body::SubmitMulti(_) => {
                let total = c.submits.fetch_add(1, Ordering::Relaxed) + 1;
                if let Body::SubmitSm(sm) = &pdu.body {
                    self.record(sm);
                }
                let drop_at = self.shared.drop_at_submit.load(Ordering::Relaxed);
                if drop_at != 0 && total >= drop_at {
                    self.shared.drop_at_submit.store(0, Ordering::Relaxed);
                    SimCounters::add(&c.dropped);
                    return Flow::Close;
                }
                if self
                    .shared
                    .ignore_submits
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    SimCounters::add(&c.unanswered);
                    return Flow::Go;
                }
                if self
                    .shared
                    .fail_submits
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let status = CommandStatus(self.shared.fail_status.load(Ordering::Relaxed));
                    if let Some(r) = pdu.response_for(status) {
                        self.respond(r);
                    }
                    return Flow::Go;
                }
                if self.throttled() {
                    SimCounters::add(&c.throttled);
                    if let Some(r) = pdu.response_for(CommandStatus::ESME_RTHROTTLED) {
                        self.respond(r);
                    }
                    return Flow::Go;
                }
                self.accept_submit(&pdu);
            }
            Body::QuerySm(q) => {
                SimCounters::add(&c.queries);
                let state = parse_id(self.shared.config.id_format, &q.message_id)
                    .and_then(|n| self.states.get(&n).copied());
                let reply = match state {
                    None => pdu.response_for(CommandStatus::ESME_RQUERYFAIL),
                    Some(st) => Some(Pdu::new(
                        seq,
                        Body::QuerySmResp(QuerySmResp {
                            message_id: Some(q.message_id.clone()),
                            final_date: Some(Cow::Borrowed(b"")),
                            message_state: Some(match st {
                                STATE_PENDING => MessageState::ENROUTE,
                                STATE_CANCELLED => MessageState::DELETED,
                                s => MessageState(s),
                            }),
                            error_code: Some(0),
                            tlvs: Tlvs::new(),
                        }),
                    )),
                };
                if let Some(r) = reply {
                    self.respond(r);
                }
            }
            Body::CancelSm(x) => {
                // SMPP 3.4 §4.9: a message whose receipt has not been sent yet is still "in the SMSC": it is
                // cancelled and its receipt dropped. No receipt is sent for it (real SMSCs mostly send none;
                // a DELETED receipt would race the cancel_sm_resp at the ESME). A message whose receipt went
                // out, or an id this session never handed out, can not be cancelled: ESME_RCANCELFAIL.
                SimCounters::add(&c.queries);
                SimCounters::add(&c.cancels);
                let refuse = self
                    .shared
                    .refuse_cancels
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok();
                let n = parse_id(self.shared.config.id_format, &x.message_id);
                let ok = !refuse && n.is_some_and(|n| self.states.get(&n) == Some(&STATE_PENDING));
                if ok && let Some(n) = n {
                    self.states.insert(n, STATE_CANCELLED);
                }
                let status = if ok {
                    SimCounters::add(&c.cancelled);
                    CommandStatus::ESME_ROK
                } else {
                    SimCounters::add(&c.cancels_refused);
                    CommandStatus::ESME_RCANCELFAIL
                };
                self.record_cancel(x, status);
                if let Some(r) = pdu.response_for(status) {
                    self.respond(r);
                }
            }
            Body::ReplaceSm(x) => {
                SimCounters::add(&c.queries);
                let ok = parse_id(self.shared.config.id_format, &x.message_id)
                    .is_some_and(|n| self.states.get(&n) == Some(&STATE_PENDING));
                let status = if ok {
                    CommandStatus::ESME_ROK
                } else {
                    CommandStatus::ESME_RREPLACEFAIL
                };
                if let Some(r) = pdu.response_for(status) {
                    self.respond(r);
                }
            }
            Body::EnquireLink => {
                SimCounters::add(&c.enquire_links);
                if self.shared.answer_enquire_link.load(Ordering::Relaxed)
                    && let Some(r) = pdu.response_for(CommandStatus::ESME_ROK)
                {
                    self.respond(r);
                }
            }
            Body::Unbind => {
                SimCounters::add(&c.unbinds);
                if let Some(r) = pdu.response_for(CommandStatus::ESME_ROK) {
                    r.encode(&mut self.wbuf);
                }
                return Flow::Close;
            }
            Body::UnbindResp(_) => {
                SimCounters::add(&c.unbind_resps);
                return Flow::Close;
            }
            Body::DeliverSmResp(_) | Body::DataSmResp(_) => {
                self.outstanding = self.outstanding.saturating_sub(1);
                if let Some(mut r) = self.unanswered.remove(&pdu.sequence_number)
                    && !pdu.command_status.is_ok()
                {
                    r.due = Instant::now() + Duration::from_secs(1);
                    self.waiting.push(Reverse(r));
                }
                if pdu.command_status.is_ok() {
                    SimCounters::add(&c.deliver_resp_ok);
                } else {
                    SimCounters::add(&c.deliver_resp_error);
                }
            }
            Body::GenericNack(_) => {
                SimCounters::add(&c.generic_nacks);
                c.last_generic_nack_status
                    .store(pdu.command_status.0, Ordering::Relaxed);
            }
            Body::EnquireLinkResp(_) => SimCounters::add(&c.enquire_link_resps),
            _ => {
                if !pdu.is_response() {
                    let reply = pdu
                        .response_for(CommandStatus::ESME_RINVCMDID)
                        .unwrap_or_else(|| Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
                    reply.encode(&mut self.wbuf);
                }
            }
        }
        Flow::Go
    }

    fn record_cancel(&self, x: &smsbridge_protocol::smpp::CancelSm<'_>, status: CommandStatus) {
        let on = match self.shared.recorded.lock() {
            Ok(r) => r.is_some(),
            Err(p) => p.into_inner().is_some(),
        };
        if !on {
            return;
        }
        let mut list = match self.shared.recorded_cancels.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        if list.len() < MAX_RECORDED {
            list.push(RecordedCancel {
                message_id: x.message_id.to_vec(),
                service_type: x.service_type.to_vec(),
                source_addr_ton: x.source_addr_ton.0,
                source_addr_npi: x.source_addr_npi.0,
                source_addr: x.source_addr.to_vec(),
                destination_addr: x.destination_addr.to_vec(),
                status,
            });
        }
    }

    fn record(&self, sm: &smsbridge_protocol::smpp::SubmitSm<'_>) {
        let mut r = match self.shared.recorded.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let Some(list) = r.as_mut().filter(|l| l.len() < MAX_RECORDED) else {
            return;
        };
        let sar = match (
            sm.tlvs.sar_msg_ref_num(),
            sm.tlvs.sar_total_segments(),
            sm.tlvs.sar_segment_seqnum(),
        ) {
            (Some(a), Some(b), Some(c)) => Some((a, b, c)),
            _ => None,
        };
        list.push(RecordedSubmit {
            at: Instant::now(),
            source_addr_ton: sm.source_addr_ton.0,
            source_addr: sm.source_addr.to_vec(),
            dest_addr_ton: sm.dest_addr_ton.0,
            destination_addr: sm.destination_addr.to_vec(),
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            registered_delivery: sm.registered_delivery,
            validity_period: sm.validity_period.to_vec(),
            short_message: sm.short_message.to_vec(),
            sar,
            message_payload: sm.tlvs.message_payload().map(<[u8]>::to_vec),
        });
    }

    fn route_receipt(&self, r: PendingReceipt) {
        let conns = match self.shared.conns.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let sent = conns
            .iter()
            .filter(|(_, rx, _)| *rx)
            .any(|(_, _, tx)| tx.try_send(ConnCmd::Receipt(r)).is_ok());
        if !sent {
            tracing::debug!("sim smsc: no receiver bound, receipt {} dropped", r.id);
        }
    }

    fn pick_outcome(&mut self) -> u8 {
        let outcomes = &self.shared.config.outcomes;
        let mut x = self.rng.random::<f64>() * self.outcome_total;
        for o in outcomes {
            if x < o.weight {
                return STATS.iter().position(|s| *s == o.stat).unwrap_or(0) as u8;
            }
            x -= o.weight;
        }
        outcomes
            .last()
            .and_then(|o| STATS.iter().position(|s| *s == o.stat))
            .unwrap_or(0) as u8
    }

    fn accept_submit(&mut self, pdu: &Pdu<'_>) {
        let c = self.shared.counters.clone();
        let n = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let idb = format_id(self.shared.config.id_format, self.shared.uuid_salt, n);
        let seq = pdu.sequence_number;
        let (src, dst, rd, text): (&[u8], &[u8], u8, &[u8]) = match &pdu.body {
            Body::SubmitSm(s) => (
                &s.source_addr,
                &s.destination_addr,
                s.registered_delivery,
                s.payload(),
            ),
            Body::DataSm(d) => (
                &d.source_addr,
                &d.destination_addr,
                d.registered_delivery,
                d.tlvs.message_payload().unwrap_or(&[]),
            ),
            _ => (&[], &[], 0, &[]),
        };
        let resp_body = match pdu.command_id() {
            CommandId::DataSm => Body::DataSmResp(MessageIdResp {
                message_id: Some(Cow::Borrowed(idb.get())),
                tlvs: Tlvs::new(),
            }),
            CommandId::SubmitMulti => Body::SubmitMultiResp(SubmitMultiResp {
                message_id: Some(Cow::Borrowed(idb.get())),
                unsuccess_sme: Some(UnsuccessSmes::new()),
                tlvs: Tlvs::new(),
            }),
            _ => Body::SubmitSmResp(MessageIdResp {
                message_id: Some(Cow::Borrowed(idb.get())),
                tlvs: Tlvs::new(),
            }),
        };
        let resp = Pdu::new(seq, resp_body);
        SimCounters::add(&c.accepted);
        let mut receipt = None;
        if rd & 0x03 != 0 {
            let stat = self.pick_outcome();
            let failure_only = rd & 0x03 == 2;
            if !(failure_only && STATS[usize::from(stat)] == "DELIVRD") {
                let (lo, hi) = self.shared.config.receipt_delay;
                let delay = if hi > lo {
                    self.rng.random_range(lo..=hi)
                } else {
                    lo
                };
                self.refresh_date();
                receipt = Some(PendingReceipt {
                    due: Instant::now() + delay,
                    id: n,
                    stat,
                    submit_date: self.date,
                    src: Addr::new(src),
                    dst: Addr::new(dst),
                    text: Addr::new(text),
                });
            }
        }
        if self.states.len() >= MAX_STATES {
            self.states.clear();
        }
        self.states.insert(n, STATE_PENDING);
        let before = self.shared.receipts_before_resp.load(Ordering::Relaxed);
        if self.bound == Some(CommandId::BindTransmitter) {
            // A transmitter session cannot carry deliver_sm: hand the receipt to a receiver session.
            self.respond(resp);
            if let Some(r) = receipt {
                self.route_receipt(r);
            }
            return;
        }
        match receipt {
            Some(r)
                if r.due <= Instant::now()
                    && before
                    && self.outstanding < self.shared.config.window =>
            {
                self.encode_receipt(&r);
                self.respond(resp);
            }
            Some(r) if self.shared.config.receipt_delay.1.is_zero() => {
                self.respond(resp);
                self.ready.push_back(Outgoing::Receipt(r));
            }
            Some(r) => {
                self.respond(resp);
                self.waiting.push(Reverse(r));
            }
            None => self.respond(resp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_every_format() {
        for f in [
            IdFormat::Hex,
            IdFormat::Decimal,
            IdFormat::Uuid,
            IdFormat::PaddedHex,
        ] {
            for n in [1u64, 255, 4096, 1_000_000_007] {
                let id = format_id(f, 0x1234_5678_9abc_def0, n);
                assert_eq!(parse_id(f, id.get()), Some(n), "{f:?} {n}");
            }
        }
        assert_eq!(format_id(IdFormat::Hex, 0, 255).get(), b"ff");
        assert_eq!(format_id(IdFormat::Decimal, 0, 1009).get(), b"1009");
        assert_eq!(
            format_id(IdFormat::PaddedHex, 0, 0x1a2b).get(),
            b"0000000000001A2B"
        );
        assert_eq!(
            format_id(IdFormat::PaddedHex, 0, u64::MAX).get(),
            b"FFFFFFFFFFFFFFFF"
        );
        // Only the form it issued is recognised.
        for other in [
            &b"1a2b"[..],
            b"1A2B",
            b"0000000000001a2b",
            b"00000000000001A2B",
        ] {
            assert_eq!(parse_id(IdFormat::PaddedHex, other), None, "{other:?}");
        }
        let u = format_id(IdFormat::Uuid, 0, 1);
        let s = std::str::from_utf8(u.get()).unwrap_or("");
        assert_eq!(s.len(), 36);
        assert_eq!(
            s.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
    }

    #[test]
    fn outcome_mix_parses() {
        let o = parse_outcomes("DELIVRD=0.97,undeliv=0.03");
        assert_eq!(
            o,
            Ok(vec![
                OutcomeWeight {
                    stat: "DELIVRD",
                    weight: 0.97
                },
                OutcomeWeight {
                    stat: "UNDELIV",
                    weight: 0.03
                }
            ])
        );
        assert!(parse_outcomes("NOPE=1").is_err());
        assert!(parse_outcomes("DELIVRD=0").is_err());
    }

    #[test]
    fn dates_are_civil() {
        let d = now_date();
        assert!(d.year >= 2024 && (1..=12).contains(&d.month) && (1..=31).contains(&d.day));
    }
}
