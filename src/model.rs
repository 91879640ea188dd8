//! The gateway's message model: ids, states, what the API hands in, what the store hands back, and events.
//!
//! These types are shared by the API layer, the router, the dispatcher, the links and every store engine, so
//! they carry no storage detail. The one rule with logic in it, how a multipart message's state follows from
//! its segments, lives here too ([`derive_message_state`]) so that every engine applies the same rule.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMs(pub i64);

impl UnixMs {
    /// The wall clock now.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        UnixMs(ms)
    }

    /// This time plus `ms` milliseconds (saturating).
    pub fn plus_ms(self, ms: i64) -> Self {
        UnixMs(self.0.saturating_add(ms))
    }
}

impl fmt::Display for UnixMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// The id of a message (outbound or inbound MO), allocated by the store.
///
/// A 63-bit, time-ordered "snowflake": `0 | 41 bits of milliseconds since 2025-01-01T00:00:00Z | 10 bits of
/// node id | 12 bits of sequence within that millisecond`. Why this layout:
/// - unique across nodes without coordination: each gateway node of a future NATS JetStream cluster gets its
///   own node id (0..=1023), and the SQLite engine is node 0 unless configured;
/// - sortable: ids of one node increase with time, so ordering by id is ordering by age (the queue relies on
///   it), and ids from several nodes interleave roughly by time;
/// - fits an SQLite `INTEGER PRIMARY KEY` (a positive i64), which makes inserts appends to the B-tree;
/// - printable as 16 lowercase hex digits, whose string order is the numeric order.
///
/// 4096 ids per millisecond per node (4 M/s); 41 bits of milliseconds last until 2094.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(u64);

/// 2025-01-01T00:00:00Z in Unix milliseconds: the origin of [`MessageId`] time.
pub const MESSAGE_ID_EPOCH_MS: i64 = 1_735_689_600_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const MS_BITS: u32 = 41;
/// The largest node id a [`MessageId`] can carry.
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;

impl MessageId {
    /// The id from its integer form; `None` when the top bit is set (not an id this model makes).
    pub fn from_u64(v: u64) -> Option<Self> {
        (v >> 63 == 0).then_some(MessageId(v))
    }

    /// The integer form (always `<= i64::MAX`).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The integer form as the signed integer SQLite stores; never negative.
    pub fn as_i64(self) -> i64 {
        // The top bit is clear by construction.
        self.0 as i64
    }

    /// The id from SQLite's signed integer; `None` for a negative value.
    pub fn from_i64(v: i64) -> Option<Self> {
        u64::try_from(v).ok().and_then(Self::from_u64)
    }

    /// When the id was made (Unix ms).
    pub fn time(self) -> UnixMs {
        UnixMs(((self.0 >> (NODE_BITS + SEQ_BITS)) as i64) + MESSAGE_ID_EPOCH_MS)
    }

    /// The node that made the id.
    pub fn node(self) -> u16 {
        ((self.0 >> SEQ_BITS) & u64::from(MAX_NODE_ID)) as u16
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Why a string is not a [`MessageId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a message id (16 hex digits expected): {0:?}")]
pub struct ParseMessageIdError(pub String);

impl FromStr for MessageId {
    type Err = ParseMessageIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(ParseMessageIdError(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .ok()
            .and_then(MessageId::from_u64)
            .ok_or_else(|| ParseMessageIdError(s.to_owned()))
    }
}

/// Makes [`MessageId`]s for one node: strictly increasing, even when the wall clock steps back.
#[derive(Debug, Clone)]
pub struct MessageIdGenerator {
    node: u16,
    /// The last id handed out (its ms and seq); the next one is always larger.
    last: u64,
}

impl MessageIdGenerator {
    /// A generator for `node` (masked to 10 bits) that will only hand out ids greater than `after` (the
    /// largest id already stored, so that a restart with a clock that went back never reuses an id).
    pub fn new(node: u16, after: Option<MessageId>) -> Self {
        MessageIdGenerator {
            node: node & MAX_NODE_ID,
            last: after.map(|id| id.0).unwrap_or(0),
        }
    }

    /// The next id at wall-clock time `now`.
    pub fn next_at(&mut self, now: UnixMs) -> MessageId {
        let ms_mask = (1u64 << MS_BITS) - 1;
        let now_ms =
            u64::try_from(now.0.saturating_sub(MESSAGE_ID_EPOCH_MS)).unwrap_or(0) & ms_mask;
        let last_ms = self.last >> (NODE_BITS + SEQ_BITS);
        let last_seq = self.last & ((1 << SEQ_BITS) - 1);
        let (ms, seq) = if now_ms > last_ms {
            (now_ms, 0)
        } else if last_seq + 1 < (1 << SEQ_BITS) {
            // Same millisecond, or the clock went back: keep counting in the last millisecond.
            (last_ms, last_seq + 1)
        } else {
            // 4096 ids in one millisecond: borrow the next millisecond.
            (last_ms + 1, 0)
        };
        let id = (ms << (NODE_BITS + SEQ_BITS)) | (u64::from(self.node) << SEQ_BITS) | seq;
        self.last = id;
        MessageId(id & !(1 << 63))
    }

    /// The next id now. (Not an `Iterator`: it never ends and takes the clock.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> MessageId {
        self.next_at(UnixMs::now())
    }
}

/// A carrier (an SMPP account or a modem pool), by its configured name. Cheap to clone (shared string).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CarrierId(Arc<str>);

impl CarrierId {
    pub fn new(name: impl AsRef<str>) -> Self {
        CarrierId(Arc::from(name.as_ref()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CarrierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API client (an IM backend), by its authenticated name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn new(name: impl Into<String>) -> Self {
        ClientId(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The state of a message, and of each of its segments.
///
/// `Accepted -> Queued -> Submitted -> final` where final is one of `Delivered`, `Undeliverable`, `Expired`,
/// `Rejected`, `Failed`, `Cancelled` (see ARCHITECTURE.md, "Message life cycle"). Segments use the same states:
/// a segment is `Queued` while it waits or is in flight, `Submitted` once the carrier gave it a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageState {
    /// Stored and acknowledged to the client.
    Accepted,
    /// Routed to a carrier queue, waiting to be sent (or in flight, waiting for the carrier's answer).
    Queued,
    /// The carrier accepted it and gave a message id; waiting for a delivery receipt.
    Submitted,
    /// Final: the handset received it.
    Delivered,
    /// Final: the carrier could not deliver it (receipt UNDELIV).
    Undeliverable,
    /// Final: its validity ran out (in our queue, or at the carrier).
    Expired,
    /// Final: the carrier refused it (receipt REJECTD, or a permanent submit error meaning "refused").
    Rejected,
    /// Final: we gave up (a permanent error from the carrier or the link).
    Failed,
    /// Final: cancelled by the client before it was sent.
    Cancelled,
    /// Final: the carrier accepted it but its fate is not known: the receipt said UNKNOWN, or no receipt came
    /// by the carrier's `receipt_timeout` after the message's validity ran out. The one final state that can
    /// still change: a final receipt that comes later replaces it with the state the carrier reports.
    Unknown,
}

impl MessageState {
    /// Every state, in life-cycle order.
    pub const ALL: [MessageState; 10] = [
        MessageState::Accepted,
        MessageState::Queued,
        MessageState::Submitted,
        MessageState::Delivered,
        MessageState::Undeliverable,
        MessageState::Expired,
        MessageState::Rejected,
        MessageState::Failed,
        MessageState::Cancelled,
        MessageState::Unknown,
    ];

    /// True for the final states: a message never leaves them, except `Unknown`, which a late final receipt
    /// replaces.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            MessageState::Accepted | MessageState::Queued | MessageState::Submitted
        )
    }

    /// The upper-case name used by the API and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Accepted => "ACCEPTED",
            MessageState::Queued => "QUEUED",
            MessageState::Submitted => "SUBMITTED",
            MessageState::Delivered => "DELIVERED",
            MessageState::Undeliverable => "UNDELIVERABLE",
            MessageState::Expired => "EXPIRED",
            MessageState::Rejected => "REJECTED",
            MessageState::Failed => "FAILED",
            MessageState::Cancelled => "CANCELLED",
            MessageState::Unknown => "UNKNOWN",
        }
    }

    /// A stable small integer for storage (never renumber: it is on disk).
    pub fn code(self) -> u8 {
        match self {
            MessageState::Accepted => 0,
            MessageState::Queued => 1,
            MessageState::Submitted => 2,
            MessageState::Delivered => 3,
            MessageState::Undeliverable => 4,
            MessageState::Expired => 5,
            MessageState::Rejected => 6,
            MessageState::Failed => 7,
            MessageState::Cancelled => 8,
            MessageState::Unknown => 9,
        }
    }

    /// The state for a storage code.
    pub fn from_code(code: i64) -> Option<Self> {
        MessageState::ALL
            .into_iter()
            .find(|s| i64::from(s.code()) == code)
    }

    /// For final states other than `Delivered`: how bad, higher wins when segments disagree.
    fn failure_rank(self) -> u8 {
        match self {
            MessageState::Rejected => 6,
            MessageState::Failed => 5,
            MessageState::Undeliverable => 4,
            MessageState::Unknown => 3,
            MessageState::Expired => 2,
            MessageState::Cancelled => 1,
            _ => 0,
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown message state {s:?}"))
    }
}

/// The state of a message from the states of its segments.
///
/// The rule:
/// 1. While any segment is not final, the message is in the least advanced state among its non-final segments
///    (`Accepted` < `Queued` < `Submitted`): a message is `Submitted` only when every segment still under way
///    is, so a client never sees `Submitted` while a part still waits in our queue.
/// 2. When every segment is final: `Delivered` if all are delivered; otherwise the worst failure among them, in
///    the order `Rejected` > `Failed` > `Undeliverable` > `Unknown` > `Expired` > `Cancelled` (one part that did not
///    arrive means the message did not arrive, and the most telling reason is the one reported).
///
/// An empty list (never stored) gives `Accepted`.
pub fn derive_message_state(segments: &[MessageState]) -> MessageState {
    if segments.is_empty() {
        return MessageState::Accepted;
    }
    if let Some(least) = segments.iter().copied().filter(|s| !s.is_final()).min() {
        return least;
    }
    segments
        .iter()
        .copied()
        .filter(|s| *s != MessageState::Delivered)
        .max_by_key(|s| s.failure_rank())
        .unwrap_or(MessageState::Delivered)
}

/// How urgent a message is; the queue hands out higher priorities first, then older messages first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Marketing and other bulk traffic.
    Bulk,
    /// The default.
    #[default]
    Normal,
    /// Time-sensitive notifications.
    High,
    /// One-time passwords and other messages a person is waiting for.
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Bulk,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// A stable small integer for storage (higher is more urgent).
    pub fn code(self) -> u8 {
        match self {
            Priority::Bulk => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Priority::ALL
            .into_iter()
            .find(|p| i64::from(p.code()) == code)
    }
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text, as the client sent it (the segments hold its encoded form).
    Text(String),
    /// Binary content with the SMPP/TS 23.038 data_coding the client chose.
    Binary { data: Vec<u8>, data_coding: u8 },
}

/// A new outbound message, as the API hands it to the store after validating and planning it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub client: ClientId,
    /// The client's idempotency key: a second submit with the same (client, client_ref) returns the first
    /// message instead of storing a new one.
    pub client_ref: Option<String>,
    /// Destination, E.164 (`+` and digits).
    pub to: String,
    /// Sender address (a number or an alphanumeric sender id).
    pub from: String,
    pub body: Body,
    /// The segments as planned by the caller: one opaque payload per segment (e.g. UDH + encoded user data),
    /// sent as they are. The count is `segments.len()` (1..=255).
    pub segments: Vec<Vec<u8>>,
    /// The encoding the planner chose (e.g. "gsm7", "ucs2", "binary").
    pub encoding: String,
    /// The carrier the router chose.
    pub carrier: CarrierId,
    pub priority: Priority,
    /// Ask the carrier for delivery receipts.
    pub want_receipt: bool,
    /// After this time the message is never sent: it becomes `Expired`.
    pub valid_until: UnixMs,
    /// Free-form labels from the client, returned as they are.
    pub tags: BTreeMap<String, String>,
}

/// The delivery receipt fields a segment got from its carrier, exactly as received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CarrierStatus {
    /// `stat:` of the receipt text (e.g. "DELIVRD").
    pub stat: Option<String>,
    /// `err:` of the receipt text.
    pub err: Option<String>,
    /// The network_error_code TLV (3 octets: network type + error code), as received.
    pub network_error_code: Option<Vec<u8>>,
    /// `done date:` of the receipt text, as received.
    pub done_date: Option<String>,
    /// The whole receipt text, for support.
    pub raw: Option<String>,
}

/// One segment of a stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// 0-based.
    pub index: u16,
    pub state: MessageState,
    /// The carrier's id for this segment (from submit_sm_resp / +CMGS), once submitted, normalized by the
    /// carrier's `message_id_format`: the key its receipts are matched by.
    pub carrier_message_id: Option<String>,
    /// The same id exactly as the carrier gave it (the normalized one for segments stored before raw ids
    /// were kept); set exactly when `carrier_message_id` is.
    pub carrier_message_id_raw: Option<String>,
    /// How many times it was handed to a link.
    pub attempts: u32,
    /// How many of those were resends after an unknown outcome (crash, timeout, link down mid-window).
    pub resends: u32,
    /// True while a link holds it (claimed, outcome not yet recorded).
    pub in_flight: bool,
    /// When a retry waits: not before this time.
    pub retry_at: Option<UnixMs>,
    pub submitted_at: Option<UnixMs>,
    pub final_at: Option<UnixMs>,
    /// The last error a link reported (transient or permanent).
    pub last_error: Option<String>,
    /// The receipt, when one came.
    pub carrier_status: Option<CarrierStatus>,
}

/// Everything the store knows about a message (GetMessage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub client: ClientId,
    pub client_ref: Option<String>,
    pub to: String,
    pub from: String,
    pub body: Body,
    pub encoding: String,
    pub carrier: CarrierId,
    pub priority: Priority,
    pub want_receipt: bool,
    pub valid_until: UnixMs,
    pub tags: BTreeMap<String, String>,
    /// Derived from the segments by [`derive_message_state`].
    pub state: MessageState,
    pub segments: Vec<SegmentInfo>,
    pub accepted_at: UnixMs,
    pub queued_at: Option<UnixMs>,
    /// When the first segment was submitted.
    pub submitted_at: Option<UnixMs>,
    /// When the message reached its final state.
    pub final_at: Option<UnixMs>,
}

impl Message {
    /// Handed to links, summed over segments.
    pub fn attempts(&self) -> u32 {
        self.segments.iter().map(|s| s.attempts).sum()
    }
    /// Resends after unknown outcomes, summed over segments.
    pub fn resends(&self) -> u32 {
        self.segments.iter().map(|s| s.resends).sum()
    }
}

/// Concatenation info of an inbound part (TS 23.040 §9.2.3.24.1), when the caller did not reassemble it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatInfo {
    pub reference: u16,
    pub total: u8,
    /// 1-based.
    pub seq: u8,
}

/// An inbound (mobile-originated) message, as the link and reassembler hand it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    pub from: String,
    pub to: String,
    pub text: String,
    pub carrier: CarrierId,
    /// When the carrier or modem handed it to us.
    pub received_at: UnixMs,
    pub concat: Option<ConcatInfo>,
}

/// What happened, in an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// A message (`segment: None`) or one segment of a multipart message (`segment: Some(i)`) changed state.
    /// `old` is `None` for the first event of a message.
    StateChange {
        old: Option<MessageState>,
        new: MessageState,
        segment: Option<u16>,
    },
    /// An inbound message arrived.
    Mo(MoMessage),
}

impl EventData {
    pub fn kind(&self) -> EventKind {
        match self {
            EventData::StateChange { .. } => EventKind::StateChange,
            EventData::Mo(_) => EventKind::Mo,
        }
    }
}

/// One entry of the durable event log, in cursor order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Strictly increasing, never reused; a consumer resumes with "after this cursor".
    pub cursor: u64,
    pub time: UnixMs,
    /// The outbound message, or the id given to an inbound MO.
    pub message_id: MessageId,
    pub data: EventData,
}

/// The kinds of events, for filtering a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    StateChange,
    Mo,
}

impl EventKind {
    /// A stable small integer for storage.
    pub fn code(self) -> u8 {
        match self {
            EventKind::StateChange => 0,
            EventKind::Mo => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageState::*;

    #[test]
    fn derive_state_table() {
        let cases: &[(&[MessageState], MessageState)] = &[
            (&[Queued], Queued),
            (&[Delivered], Delivered),
            (&[Delivered, Delivered, Delivered], Delivered),
            (&[Delivered, Submitted], Submitted),
            (&[Submitted, Queued, Delivered], Queued),
            (&[Failed, Queued], Queued),
            (&[Delivered, Undeliverable], Undeliverable),
            (&[Expired, Rejected, Delivered], Rejected),
            (&[Cancelled, Cancelled], Cancelled),
            (&[Expired, Cancelled], Expired),
            (&[Failed, Undeliverable], Failed),
            (&[], Accepted),
        ];
        for (segs, want) in cases {
            assert_eq!(derive_message_state(segs), *want, "segments {segs:?}");
        }
    }

    #[test]
    fn state_codes_round_trip_and_final() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::from_code(i64::from(s.code())), Some(s));
            assert_eq!(s.as_str().parse::<MessageState>(), Ok(s));
        }
        assert!(!Submitted.is_final());
        assert!(Cancelled.is_final() && Delivered.is_final());
        assert_eq!(MessageState::from_code(99), None);
    }

    #[test]
    fn ids_increase_and_round_trip() {
        let mut g = MessageIdGenerator::new(7, None);
        let t = UnixMs(MESSAGE_ID_EPOCH_MS + 1_000_000);
        let a = g.next_at(t);
        let b = g.next_at(t);
        // The clock steps back: ids still increase.
        let c = g.next_at(UnixMs(t.0 - 5_000));
        assert!(a < b && b < c);
        assert_eq!(a.node(), 7);
        assert_eq!(a.time(), t);
        let s = c.to_string();
        assert_eq!(s.len(), 16);
        assert_eq!(s.parse::<MessageId>(), Ok(c));
        assert!("xyz".parse::<MessageId>().is_err());
        assert_eq!(MessageId::from_i64(c.as_i64()), Some(c));
        assert_eq!(MessageId::from_i64(-1), None);
        // A restart resumes after the largest stored id even with an earlier clock.
        let mut g2 = MessageIdGenerator::new(7, Some(c));
        assert!(g2.next_at(UnixMs(MESSAGE_ID_EPOCH_MS)) > c);
    }

    #[test]
    fn ids_survive_sequence_overflow() {
        let mut g = MessageIdGenerator::new(0, None);
        let t = UnixMs(MESSAGE_ID_EPOCH_MS + 42);
        let mut prev = g.next_at(t);
        for _ in 0..5000 {
            let id = g.next_at(t);
            assert!(id > prev);
            prev = id;
        }
        assert!(prev.time() > t);
    }
}
