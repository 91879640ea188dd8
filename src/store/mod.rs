//! The durable store: messages, carrier queues, leases, carrier id mappings, held receipts and the event log,
//! behind one engine-agnostic interface.
//!
//! # How the rest of the gateway uses it
//! Everyone holds a [`Store`] (cheap to clone) and never knows which engine runs:
//! - **API** (gRPC Submit): [`Store::submit`] with the planned messages; answer the client only with what it
//!   returns (each message is committed by then). Idempotent per (client, client_ref): a retry gets the first
//!   message back with `duplicate: true`. GetMessage: [`Store::get`] / [`Store::get_by_client_ref`].
//!   CancelMessage: [`Store::cancel`]; when it says [`CancelOutcome::AlreadySubmitted`], try cancel_sm with the
//!   carrier ids it returns, then [`Store::record_carrier_cancel`] with the segments the carrier cancelled. StreamEvents: [`Store::events_after`] from the client's cursor, then
//!   [`Store::wait_events`] (or [`Store::subscribe`]) to follow live.
//! - **Dispatcher** (one per carrier): [`Store::claim`] a window's worth of [`Dispatch`]es (they are leased: no
//!   other claim returns them), hand them to links, then [`Store::record_outcome`] for each, exactly once:
//!   `Submitted` with the carrier's id from submit_sm_resp / +CMGS (normalized, and as received),
//!   `Transient` with the retry time from the backoff policy, `Permanent`, or `Unknown` when the answer never
//!   came (timeout, link lost mid-window): the segment is sent again and the resend is counted. Call
//!   [`Store::expire`] periodically (e.g. every second), and [`Store::requeue_stale_leases`] to take back
//!   segments a crashed link task never answered for.
//!   [`Store::queue_stats`] gives the depth per carrier for backpressure and metrics.
//! - **Links / correlator**: on a receipt, [`Store::record_receipt`] with the *normalized* carrier message id
//!   (the store compares exact strings), then answer deliver_sm_resp / delete the SIM entry. A receipt that
//!   arrives before its submit_sm_resp is held and applied when `Submitted` with that id is recorded. On an MO,
//!   [`Store::record_mo`], then answer the carrier.
//!
//! Every operation that changes something is durable when its future resolves (committed, and with the SQLite
//! engine fsynced: see [`sqlite`]). At high rates, prefer the batched forms: a link that drains several
//! submit_sm_resps or receipts at once calls [`Store::record_outcomes`] / [`Store::record_receipts`] (one request,
//! one answer per item), and the API passes a client's batch to one [`Store::submit`].
//! `claim`'s `now` is the time used for retry times and validity, and is recorded as the lease time.
//!
//! # Retention
//! Nothing is kept forever: [`Store::prune`] (run periodically by the gateway) deletes finished messages
//! (final state for longer than [`RetentionPolicy::keep_finished`]) with their segments and carrier id
//! mappings, and events older than [`RetentionPolicy::keep_events`], in bounded chunks so that it never holds
//! the writer for long. A message that is not final is never deleted, whatever its age. A client_ref is
//! remembered as long as its message: a Submit retried after its message was pruned stores a new message.
//! GetMessage of a pruned message finds nothing. A consumer resuming from a cursor whose following events
//! were pruned gets [`StoreError::CursorPruned`] (with the oldest cursor it can resume from) instead of a
//! silent gap; cursor 0 means "from the oldest event kept". A receipt that comes after its message was pruned
//! (its carrier id mapping went with it) matches nothing: it is held like any unmatched receipt, then dropped
//! after the holding time, and the message stays gone, also when it had ended UNKNOWN.
//!
//! # Events
//! Each transition is one event with a cursor, written in the same transaction as the change: a new message
//! gives two (`None -> ACCEPTED`, `ACCEPTED -> QUEUED`); afterwards a message-level event (`segment: None`) is
//! written whenever the derived state changes, and for multipart messages a segment-level event
//! (`segment: Some(i)`) for each segment's transition. MOs are events too, with an id of their own.
//! Cursors are strictly increasing and never reused; consumers resume from any cursor (at-least-once).
//!
//! A final state is never changed, with one exception: `UNKNOWN` (no receipt by the carrier's receipt timeout,
//! see [`Store::give_up_receipts`], or the carrier's receipt said UNKNOWN). A final receipt that matches an
//! `UNKNOWN` segment later (a slow carrier, or one that ignores validity) replaces it with the carrier's state,
//! like any receipt: its fields are stored, the segment's and (when its derived state changes) the message's
//! `final_at` become the time of the receipt, and the same events are written (e.g. `UNKNOWN -> DELIVERED`,
//! for a segment and then for the message). A consumer may thus see a message's final state change once,
//! from `UNKNOWN`. A non-final receipt for a segment not final yet, or a final one for a segment in any other
//! final state, records its fields only (the status shows what the carrier said last). A non-final receipt for a
//! segment already final (an ENROUTE overtaken by the DELIVRD) records nothing.
//!
//! # Why an enum and a trait
//! [`StoreEngine`] is the contract an engine implements (async methods returning `Send` futures). [`Store`] is an
//! enum over the engines that delegates to them: static dispatch, no boxed futures, and adding the NATS
//! JetStream engine is one variant plus one arm per method. Callers only see [`Store`].

pub mod sqlite;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use crate::model::{
    CarrierId, CarrierStatus, ClientId, Event, EventKind, Message, MessageId, MessageState,
    MoMessage, NewMessage, Priority, UnixMs,
};

pub use sqlite::{SqliteConfig, SqliteStore, Synchronous};

/// The answer to one submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    /// True when (client, client_ref) was already stored: this is the first message, nothing new was stored.
    pub duplicate: bool,
    /// The message's state now (`Queued` for a new one).
    pub state: MessageState,
}

/// What [`Store::give_up_receipts`] ended UNKNOWN: segments per carrier (a carrier with none is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GaveUp {
    pub segments: HashMap<CarrierId, u64>,
}

impl GaveUp {
    /// Segments ended, all carriers together.
    pub fn total(&self) -> u64 {
        self.segments.values().sum()
    }
}

/// The token of one claim of one segment; an outcome must quote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub u64);

/// Names one leased segment when recording its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DispatchKey {
    pub message_id: MessageId,
    pub segment: u16,
    pub lease: LeaseId,
}

/// One segment handed to a link: everything needed to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub message_id: MessageId,
    /// 0-based index of this segment.
    pub segment: u16,
    pub segment_count: u16,
    pub lease: LeaseId,
    pub carrier: CarrierId,
    pub to: String,
    pub from: String,
    /// The planned payload of this segment, as the API stored it.
    pub payload: Vec<u8>,
    pub encoding: String,
    /// For binary bodies: the client's data_coding.
    pub data_coding: Option<u8>,
    pub priority: Priority,
    pub want_receipt: bool,
    pub valid_until: UnixMs,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// True when an earlier attempt's outcome is unknown (crash, timeout): the carrier may already have it.
    pub resend: bool,
}

impl Dispatch {
    pub fn key(&self) -> DispatchKey {
        DispatchKey {
            message_id: self.message_id,
            segment: self.segment,
            lease: self.lease,
        }
    }
}

/// The final answer of a permanent failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentStatus {
    /// The carrier refused the message (e.g. invalid destination, barred): state `Rejected`.
    Rejected,
    /// We give up for another reason (e.g. the message can not be encoded for this link): state `Failed`.
    Failed,
}

/// What a link reports about one dispatched segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The carrier accepted it: state `Submitted`, and (carrier, `carrier_message_id`) now maps to this
    /// segment.
    Submitted {
        /// The carrier's id normalized by its `message_id_format`: the key receipts are matched by.
        carrier_message_id: String,
        /// The same id exactly as the carrier gave it (submit_sm_resp message_id, +CMGS): what cancel_sm
        /// quotes and GetMessage shows. Equal to `carrier_message_id` when nothing normalizes it (modems).
        carrier_message_id_raw: String,
    },
    /// Try again at `retry_at` (throttled, busy, link error before sending); `Expired` instead when that is
    /// past the validity.
    Transient { retry_at: UnixMs, reason: String },
    /// Never try again.
    Permanent {
        status: PermanentStatus,
        reason: String,
    },
    /// We don't know whether the carrier got it (timeout, link down mid-window): requeued at once, and the next
    /// attempt is counted as a resend.
    Unknown { reason: String },
}

/// What [`Store::record_outcome`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeApplied {
    /// The segment's state now.
    pub segment_state: MessageState,
    /// The message's state now.
    pub message_state: MessageState,
    /// A receipt that came before this `Submitted` was found and applied.
    pub held_receipt_applied: bool,
}

/// A delivery receipt, as the link parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The state the receipt means (e.g. DELIVRD -> `Delivered`, UNDELIV -> `Undeliverable`). A non-final
    /// state (e.g. ENROUTE mapped to `Submitted`) records the status without changing the state (nothing at
    /// all once the segment is final); a final one for a segment already final records the status only, unless
    /// that segment is `Unknown` (see "Events" above).
    pub state: MessageState,
    /// The fields exactly as received.
    pub status: CarrierStatus,
    pub received_at: UnixMs,
}

/// Whether a receipt found its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptMatch {
    Matched {
        message_id: MessageId,
        segment: u16,
    },
    /// No message has this carrier id (yet): the receipt is held until a `Submitted` with that id, or expiry.
    Unmatched,
}

/// What [`Store::cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Nothing had been sent; nothing will be. The message is `Cancelled`.
    Cancelled,
    /// Some segment was already handed to the carrier. Segments still waiting in our queue were cancelled
    /// (`cancelled_segments`); the caller may try cancel_sm with these ids.
    AlreadySubmitted {
        carrier: CarrierId,
        /// (segment index, carrier message id) of the submitted segments, each id exactly as the carrier gave
        /// it (what cancel_sm must quote; the normalized form when it was stored before raw ids were kept).
        carrier_message_ids: Vec<(u16, String)>,
        /// Segments held by a link right now, whose carrier id is not known yet.
        in_flight: u16,
        cancelled_segments: u16,
    },
    /// The message was already in a final state.
    AlreadyFinal(MessageState),
}

/// What [`Store::record_carrier_cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierCancelApplied {
    /// Segments that became `Cancelled`.
    pub cancelled: u16,
    /// Segments left as they were: already final (a receipt, or an expiry, came first) or not segments of
    /// this message.
    pub unchanged: u16,
    /// The message's state now.
    pub message_state: MessageState,
}

/// What [`Store::expire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpireReport {
    /// Messages that had segments expired in our queue.
    pub messages: u64,
    pub segments: u64,
    /// Unmatched receipts dropped after their holding time.
    pub held_receipts_dropped: u64,
}

/// The depth of one carrier's queue (and one counter of its segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Segments ready to be claimed.
    pub queued: u64,
    /// Segments claimed, outcome not yet recorded.
    pub in_flight: u64,
    /// Segments waiting for their retry time.
    pub retry_waiting: u64,
    /// Counter, since the store opened: segments ended UNKNOWN because no receipt came by the carrier's
    /// receipt timeout ([`Store::give_up_receipts`]). Not part of [`QueueStats::total`].
    pub receipts_given_up: u64,
}

impl QueueStats {
    pub fn total(&self) -> u64 {
        self.queued + self.in_flight + self.retry_waiting
    }
}

/// Counters for metrics (since the process started, except the gauges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounters {
    /// Segments sent again after an unknown outcome (crash recovery at open, or `Outcome::Unknown`).
    pub resends: u64,
    /// Receipts that matched no message when they came.
    pub unmatched_receipts: u64,
    /// Gauge: unmatched receipts held now.
    pub held_receipts: u64,
    /// Transactions committed by the writer.
    pub commits: u64,
    /// Write requests answered (a group commit answers many per commit).
    pub write_requests: u64,
    /// Rows deleted by retention ([`Store::prune`]).
    pub pruned_rows: u64,
    /// Syncs of the write-ahead log made apart from the commits (SQLite: the syncer, one per one or more
    /// commits; 0 when each commit syncs itself).
    pub wal_syncs: u64,
}

/// How long finished data is kept; see the module documentation's "Retention".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Finished messages are deleted this long after they became final; `None`: kept forever.
    pub keep_finished: Option<std::time::Duration>,
    /// Events are deleted this long after they were written; `None`: kept forever.
    pub keep_events: Option<std::time::Duration>,
    /// About how many rows one writer request deletes at most (one chunk): other writes wait at most for
    /// one chunk.
    pub chunk_rows: usize,
}

impl Default for RetentionPolicy {
    /// Keeps everything (the gateway sets the policy from `[store.retention]`).
    fn default() -> Self {
        RetentionPolicy {
            keep_finished: None,
            keep_events: None,
            chunk_rows: 5_000,
        }
    }
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    pub messages: u64,
    pub segments: u64,
    /// (carrier, carrier message id) mappings of the deleted messages' segments.
    pub carrier_ids: u64,
    pub events: u64,
    /// Writer requests used (each deleted at most about `chunk_rows` rows).
    pub chunks: u64,
    /// True when the call stopped at its chunk limit with more to delete: the next call goes on.
    pub more: bool,
}

impl PruneReport {
    /// Rows deleted, all tables together.
    pub fn rows(&self) -> u64 {
        self.messages + self.segments + self.carrier_ids + self.events
    }

    /// Adds another chunk's counts.
    pub fn add(&mut self, other: &PruneReport) {
        self.messages += other.messages;
        self.segments += other.segments;
        self.carrier_ids += other.carrier_ids;
        self.events += other.events;
        self.chunks += other.chunks;
    }
}

/// Errors of the store, with what was being done.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (I/O, SQL, ...).
    #[error("{engine} store: {context}: {source}")]
    Engine {
        engine: &'static str,
        context: &'static str,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer smsbridge.
    #[error(
        "store schema version {found} is newer than this build supports ({known}); upgrade smsbridge"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// Stored data that this build can not read.
    #[error("corrupt stored data in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A message the store refuses (the API should have caught it).
    #[error("invalid message: {field}: {reason}")]
    InvalidMessage { field: &'static str, reason: String },
    #[error("message {0} not found")]
    NotFound(MessageId),
    /// The outcome names a lease that is not the segment's current one (recorded twice, or after a restart).
    #[error("segment {segment} of message {message_id} is not leased by lease {lease}")]
    StaleLease {
        message_id: MessageId,
        segment: u16,
        lease: u64,
    },
    /// The store was closed (shutdown) or its writer stopped.
    #[error("the store is closed")]
    Closed,
    /// Events after `after` were deleted by retention: resuming from it would skip them.
    #[error(
        "events after cursor {after} were deleted by retention (store.retention.keep_events); the oldest \
         cursor to resume from is {oldest} (or 0 for every event still kept)"
    )]
    CursorPruned { after: u64, oldest: u64 },
}

/// The contract of a store engine. Every method that changes state resolves only once the change is durable.
pub trait StoreEngine: Clone + Send + Sync + 'static {
    /// Stores new messages (`Accepted` then `Queued`, two events each); one answer per message, in order.
    fn submit(
        &self,
        messages: Vec<NewMessage>,
    ) -> impl Future<Output = Vec<Result<Accepted, StoreError>>> + Send;
    /// Leases up to `max` ready segments of `carrier`, highest priority first, then oldest first.
    fn claim(
        &self,
        carrier: &CarrierId,
        max: usize,
        now: UnixMs,
    ) -> impl Future<Output = Result<Vec<Dispatch>, StoreError>> + Send;
    fn record_outcome(
        &self,
        dispatch: DispatchKey,
        outcome: Outcome,
    ) -> impl Future<Output = Result<OutcomeApplied, StoreError>> + Send;
    fn record_receipt(
        &self,
        carrier: &CarrierId,
        carrier_message_id: &str,
        receipt: Receipt,
    ) -> impl Future<Output = Result<ReceiptMatch, StoreError>> + Send;
    /// [`StoreEngine::record_outcome`] for many segments in one request (one answer each, in order): what a
    /// link does with the responses that arrived together.
    fn record_outcomes(
        &self,
        outcomes: Vec<(DispatchKey, Outcome)>,
    ) -> impl Future<Output = Vec<Result<OutcomeApplied, StoreError>>> + Send;
    /// [`StoreEngine::record_receipt`] for many receipts in one request (one answer each, in order).
    fn record_receipts(
        &self,
        receipts: Vec<(CarrierId, String, Receipt)>,
    ) -> impl Future<Output = Vec<Result<ReceiptMatch, StoreError>>> + Send;
    /// Stores an inbound message as an event; returns its id and cursor.
    fn record_mo(
        &self,
        mo: MoMessage,
    ) -> impl Future<Output = Result<(MessageId, u64), StoreError>> + Send;
    fn cancel(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send;
    /// Records that the carrier confirmed the cancel (cancel_sm_resp ESME_ROK) of these segments of a
    /// submitted message: each one not final yet becomes `Cancelled` (final), with its events; final ones
    /// are left alone. A refused cancel_sm changes nothing, so it is not recorded.
    fn record_carrier_cancel(
        &self,
        id: MessageId,
        segments: Vec<u16>,
    ) -> impl Future<Output = Result<CarrierCancelApplied, StoreError>> + Send;
    fn expire(&self, now: UnixMs) -> impl Future<Output = Result<ExpireReport, StoreError>> + Send;
    /// For each `(carrier, valid_before)`: ends UNKNOWN the segments of that carrier's messages that still
    /// wait for a receipt although the message's validity ran out before `valid_before` (the carrier's
    /// receipt timeout ago). One writer request for all of them. Messages that did not ask for a receipt are
    /// left alone, and a segment is ended at most once (only a `Submitted` one is). A receipt that comes
    /// afterwards still replaces `Unknown` (see "Events" in the module documentation). Returns how many
    /// segments ended, per carrier.
    fn give_up_receipts(
        &self,
        deadlines: &[(CarrierId, UnixMs)],
    ) -> impl Future<Output = Result<GaveUp, StoreError>> + Send;
    /// Takes back leases older than `leased_before` that got no outcome (a dispatcher or link that died
    /// without answering): they are requeued as resends, counted. Returns how many were requeued.
    fn requeue_stale_leases(
        &self,
        leased_before: UnixMs,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn get(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;
    fn get_by_client_ref(
        &self,
        client: &ClientId,
        client_ref: &str,
    ) -> impl Future<Output = Result<Option<Message>, StoreError>> + Send;
    /// Deletes what the engine's [`RetentionPolicy`] no longer keeps at `now`, in bounded chunks.
    fn prune(&self, now: UnixMs) -> impl Future<Output = Result<PruneReport, StoreError>> + Send;
    /// Up to `limit` events with cursor > `after`, of the given kinds (all kinds when empty), in cursor order.
    /// [`StoreError::CursorPruned`] when `after` is not 0 and events after it were deleted by retention.
    fn events_after(
        &self,
        after: u64,
        kinds: &[EventKind],
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The cursor of the last committed event; changes after each commit that wrote events.
    fn subscribe(&self) -> watch::Receiver<u64>;
    fn queue_stats(&self) -> HashMap<CarrierId, QueueStats>;
    fn counters(&self) -> StoreCounters;
    /// Stops accepting writes, finishes those under way, and waits for the engine to stop.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// The gateway's store; see the module documentation for who calls what.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

macro_rules! delegate {
    ($self:ident, $e:ident => $call:expr) => {
        match $self {
            Store::Sqlite($e) => $call,
        }
    };
}

impl Store {
    /// Opens (or creates) the SQLite store at `path` with default settings.
    pub async fn open_sqlite(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Ok(Store::Sqlite(
            SqliteStore::open(SqliteConfig::new(path.as_ref())).await?,
        ))
    }

    /// Opens (or creates) the SQLite store with the given settings.
    pub async fn open_sqlite_with(config: SqliteConfig) -> Result<Store, StoreError> {
        Ok(Store::Sqlite(SqliteStore::open(config).await?))
    }

    pub async fn submit(&self, messages: Vec<NewMessage>) -> Vec<Result<Accepted, StoreError>> {
        delegate!(self, e => e.submit(messages).await)
    }

    pub async fn claim(
        &self,
        carrier: &CarrierId,
        max: usize,
        now: UnixMs,
    ) -> Result<Vec<Dispatch>, StoreError> {
        delegate!(self, e => e.claim(carrier, max, now).await)
    }

    pub async fn record_outcome(
        &self,
        dispatch: DispatchKey,
        outcome: Outcome,
    ) -> Result<OutcomeApplied, StoreError> {
        delegate!(self, e => e.record_outcome(dispatch, outcome).await)
    }

    pub async fn record_receipt(
        &self,
        carrier: &CarrierId,
        carrier_message_id: &str,
        receipt: Receipt,
    ) -> Result<ReceiptMatch, StoreError> {
        delegate!(self, e => e.record_receipt(carrier, carrier_message_id, receipt).await)
    }

    /// Many outcomes in one request (one answer each, in order); cheaper per segment than one call each.
    pub async fn record_outcomes(
        &self,
        outcomes: Vec<(DispatchKey, Outcome)>,
    ) -> Vec<Result<OutcomeApplied, StoreError>> {
        delegate!(self, e => e.record_outcomes(outcomes).await)
    }

    /// Many receipts, as `(carrier, normalized carrier message id, receipt)`, in one request.
    pub async fn record_receipts(
        &self,
        receipts: Vec<(CarrierId, String, Receipt)>,
    ) -> Vec<Result<ReceiptMatch, StoreError>> {
        delegate!(self, e => e.record_receipts(receipts).await)
    }

    pub async fn record_mo(&self, mo: MoMessage) -> Result<(MessageId, u64), StoreError> {
        delegate!(self, e => e.record_mo(mo).await)
    }

    pub async fn cancel(&self, id: MessageId) -> Result<CancelOutcome, StoreError> {
        delegate!(self, e => e.cancel(id).await)
    }

    /// After cancel_sm: the segments the carrier confirmed cancelled become `Cancelled` (see
    /// [`StoreEngine::record_carrier_cancel`]). A receipt that comes for such a segment afterwards records
    /// its status fields but leaves the state `Cancelled` (only `Unknown` is ever changed): a `DELETED`
    /// receipt is the carrier saying the same thing; a `DELIVRD` one contradicts its cancel_sm_resp, and the
    /// status shows that.
    pub async fn record_carrier_cancel(
        &self,
        id: MessageId,
        segments: Vec<u16>,
    ) -> Result<CarrierCancelApplied, StoreError> {
        delegate!(self, e => e.record_carrier_cancel(id, segments).await)
    }

    pub async fn expire(&self, now: UnixMs) -> Result<ExpireReport, StoreError> {
        delegate!(self, e => e.expire(now).await)
    }

    /// Ends UNKNOWN the segments still waiting for a receipt of messages whose validity ran out before their
    /// carrier's `valid_before`; see [`StoreEngine::give_up_receipts`]. Returns how many segments ended, per
    /// carrier.
    pub async fn give_up_receipts(
        &self,
        deadlines: &[(CarrierId, UnixMs)],
    ) -> Result<GaveUp, StoreError> {
        delegate!(self, e => e.give_up_receipts(deadlines).await)
    }

    /// Requeues (as counted resends) segments leased before `leased_before` that never got an outcome. A
    /// supervisor calls it with "now minus the longest a link may hold a segment" (e.g. window timeout x 3).
    pub async fn requeue_stale_leases(&self, leased_before: UnixMs) -> Result<u64, StoreError> {
        delegate!(self, e => e.requeue_stale_leases(leased_before).await)
    }

    /// Deletes finished messages and events older than the retention policy (see "Retention" above), in
    /// chunks of about `chunk_rows` rows, each its own writer request so that submits are never held up for
    /// long. Returns what was deleted; `more` when it stopped at its chunk limit.
    pub async fn prune(&self, now: UnixMs) -> Result<PruneReport, StoreError> {
        delegate!(self, e => e.prune(now).await)
    }

    pub async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        delegate!(self, e => e.get(id).await)
    }

    pub async fn get_by_client_ref(
        &self,
        client: &ClientId,
        client_ref: &str,
    ) -> Result<Option<Message>, StoreError> {
        delegate!(self, e => e.get_by_client_ref(client, client_ref).await)
    }

    pub async fn events_after(
        &self,
        after: u64,
        kinds: &[EventKind],
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        delegate!(self, e => e.events_after(after, kinds, limit).await)
    }

    /// Like [`Store::events_after`], but waits until at least one matching event exists. Wrap it in a timeout
    /// or a cancellation (it waits as long as no matching event comes).
    pub async fn wait_events(
        &self,
        after: u64,
        kinds: &[EventKind],
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut rx = self.subscribe();
        let mut scanned = after;
        loop {
            // Everything up to `seen` is committed, so an empty answer means nothing matches up to it.
            let seen = *rx.borrow_and_update();
            if seen > scanned {
                let events = self.events_after(scanned, kinds, limit).await?;
                if !events.is_empty() {
                    return Ok(events);
                }
                scanned = seen;
            }
            if rx.changed().await.is_err() {
                return Err(StoreError::Closed);
            }
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        delegate!(self, e => e.subscribe())
    }

    pub fn queue_stats(&self) -> HashMap<CarrierId, QueueStats> {
        delegate!(self, e => e.queue_stats())
    }

    pub fn counters(&self) -> StoreCounters {
        delegate!(self, e => e.counters())
    }

    pub async fn close(&self) {
        delegate!(self, e => e.close().await)
    }
}
