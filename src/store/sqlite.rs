//! The SQLite engine of the store: the embedded default.
//!
//! # Durability
//! WAL journal with `synchronous=FULL` by default: every commit fsyncs the WAL before the writer answers, so an
//! acknowledged submit, outcome, receipt or MO survives a power loss, not only a process crash. (`NORMAL` is
//! available for tests and benches; with it a power loss may drop the last commits, which breaks the API's
//! promise, so production keeps `FULL`.)
//!
//! The fsync does not hold the writer up: the write connection commits with `synchronous=OFF` (its frames go
//! to the WAL with plain writes) and hands the committed group to a second thread, the syncer, which
//! `fdatasync`s the WAL file once for every group that committed meanwhile and only then answers their
//! requests and publishes their events, counters and cursor. So nothing of a group is visible outside the
//! store (no acknowledgement, no claimed segment, no event) before it is on disk, exactly as with `FULL`,
//! while the writer already applies the next group. Checkpoints run on their own connection with `FULL`,
//! which syncs the WAL before copying it and the database file before the WAL may be started over. (Reader
//! connections may see a committed group a moment before its sync; `events_after` reads only up to the
//! published cursor.) Without a checkpoint thread the writer keeps `FULL` and answers after its own commit.
//!
//! Connections open the database through a VFS of ours (`walvfs`): SQLite's default one, except that a WAL
//! commit's frames reach the file in one write instead of two per page, before SQLite publishes the commit.
//!
//! # One writer, group commit
//! Every change goes through one OS thread that owns the write connection, fed by a bounded tokio channel
//! (callers await a slot: backpressure). The thread takes every request waiting (up to `max_batch`), applies
//! them in one transaction, commits once (one fsync for the whole group), and only then answers each request
//! on its oneshot. Requests get no savepoint each (SQLite would copy every page they touch into a sub-journal):
//! instead each one checks everything that can refuse it before it writes, and one that still fails after
//! writing (I/O error, corrupt data) rolls the whole group back, every request in it answered with an error. While one group
//! fsyncs, the next one piles up in the channel, so the more concurrent callers, the larger the groups.
//! Counters, queue depths and the event cursor are published after the commit, never before.
//!
//! # Reads
//! `get`, `get_by_client_ref` and `events_after` run on a small pool of reader connections in blocking tasks.
//! WAL readers see the last committed snapshot and never wait for the writer.
//!
//! # The queue on disk
//! Ready segments live in the `queue` table keyed `(carrier, priority rank, message id, segment)`, so a claim
//! is a range read of its primary key: nothing loads the whole queue, and 1,000,000 queued messages cost disk,
//! not memory (the memory is SQLite's bounded page caches). Segments waiting for a retry live in `retry` keyed
//! by time and move back into `queue` (at their original position) when due. Leased segments are in neither;
//! at open, any segment still leased (the process died with it in flight) is put back in the queue, marked
//! "outcome unknown", and its resend is counted.

mod retention;
mod schema;
mod walvfs;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    Accepted, CancelOutcome, CarrierCancelApplied, Dispatch, DispatchKey, ExpireReport, GaveUp,
    LeaseId, Outcome, OutcomeApplied, PermanentStatus, PruneReport, QueueStats, Receipt,
    ReceiptMatch, RetentionPolicy, StoreCounters, StoreEngine, StoreError,
};
use crate::model::{
    Body, CarrierId, CarrierStatus, ClientId, ConcatInfo, Event, EventData, EventKind, Message,
    MessageId, MessageIdGenerator, MessageState, MoMessage, NewMessage, Priority, SegmentInfo,
    UnixMs, derive_message_state,
};

/// How hard each commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL on every commit: acknowledged writes survive power loss. The default.
    Full,
    /// fsync only at checkpoints: survives a process crash, may lose the last commits on power loss.
    /// For tests and benches only.
    Normal,
}

/// Settings of the SQLite engine.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file (created with its directory's permissions when missing).
    pub path: PathBuf,
    /// The node id put in [`MessageId`]s (0..=1023).
    pub node_id: u16,
    pub synchronous: Synchronous,
    /// Most write requests applied in one transaction (one group commit).
    pub max_batch: usize,
    /// Least time between the starts of two commits unless a group is full: at high rates requests gather
    /// for up to this long (fewer, larger commits: each one rewrites the hot pages it touched); when requests
    /// come further apart than this, none waits. Zero: commit whatever is waiting at once.
    pub max_wait: std::time::Duration,
    /// Capacity of the writer's request channel; callers wait when it is full.
    pub channel_capacity: usize,
    /// How long an unmatched receipt is held waiting for its `Submitted`.
    pub held_receipt_ttl_ms: i64,
    /// Reader connections kept open.
    pub readers: usize,
    /// Page cache per connection, KiB: bounds the store's memory whatever the queue depth.
    pub cache_kib: i64,
    /// What [`crate::store::Store::prune`] deletes (default: nothing).
    pub retention: RetentionPolicy,
}

impl SqliteConfig {
    /// Defaults: node 0, `synchronous=FULL`, 1024 requests per group, no wait for a group to fill (the
    /// gateway's config sets one), 4096 waiting requests, receipts held one
    /// hour, 4 readers, 8 MiB page cache per connection.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            node_id: 0,
            synchronous: Synchronous::Full,
            max_batch: 1024,
            max_wait: std::time::Duration::ZERO,
            channel_capacity: 4096,
            held_receipt_ttl_ms: 3_600_000,
            readers: 4,
            cache_kib: 8 * 1024,
            retention: RetentionPolicy::default(),
        }
    }
}

/// Maps a rusqlite error to a [`StoreError`] saying what was being done.
pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Engine {
        engine: "sqlite",
        context,
        source: Arc::new(e),
    }
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

fn state_of(code: i64, what: &'static str) -> Result<MessageState, StoreError> {
    MessageState::from_code(code).ok_or_else(|| corrupt(what, format!("unknown state code {code}")))
}

fn id_of(v: i64) -> Result<MessageId, StoreError> {
    MessageId::from_i64(v).ok_or_else(|| corrupt("message id", format!("negative id {v}")))
}

fn u16_of(v: i64, what: &'static str) -> Result<u16, StoreError> {
    u16::try_from(v).map_err(|_| corrupt(what, format!("{v} is out of range")))
}

fn u32_of(v: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, format!("{v} is out of range")))
}

/// Priority 3 (urgent) is rank 0: the queue's key sorts ascending.
fn prio_rank(p: Priority) -> i64 {
    3 - i64::from(p.code())
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write request for the writer thread.
enum Op {
    Submit(Vec<NewMessage>, Reply<Vec<Result<Accepted, StoreError>>>),
    Claim(CarrierId, usize, UnixMs, Reply<Vec<Dispatch>>),
    Outcome(DispatchKey, Outcome, Reply<OutcomeApplied>),
    Receipt(CarrierId, String, Receipt, Reply<ReceiptMatch>),
    Outcomes(
        Vec<(DispatchKey, Outcome)>,
        Reply<Vec<Result<OutcomeApplied, StoreError>>>,
    ),
    Receipts(
        Vec<(CarrierId, String, Receipt)>,
        Reply<Vec<Result<ReceiptMatch, StoreError>>>,
    ),
    Mo(MoMessage, Reply<(MessageId, u64)>),
    Cancel(MessageId, Reply<CancelOutcome>),
    CarrierCancel(MessageId, Vec<u16>, Reply<CarrierCancelApplied>),
    Expire(UnixMs, Reply<ExpireReport>),
    RequeueStale(UnixMs, Reply<u64>),
    GiveUpReceipts(Vec<(CarrierId, UnixMs)>, Reply<GaveUp>),
    Prune(retention::PruneChunk, Reply<PruneReport>),
    Shutdown,
}

impl Op {
    /// How much work the request is, for bounding a group.
    fn weight(&self) -> usize {
        match self {
            Op::Submit(m, _) => m.len().max(1),
            Op::Claim(_, max, _, _) => (*max).clamp(1, 1024),
            Op::Outcomes(v, _) => v.len().max(1),
            Op::Receipts(v, _) => v.len().max(1),
            // A chunk of deletes ends its group: it is as much work as a full one.
            Op::Prune(..) => 1024,
            _ => 1,
        }
    }
}

/// How long the checkpointer lets commits gather before it copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The checkpointer: copies the WAL back into the database file on its own thread and connection, so the
/// writer never pays for it (SQLite's automatic checkpoint would run inside a writer's commit). PASSIVE
/// checkpoints never block the writer or readers; SQLite starts the WAL over once a checkpoint has copied
/// all of it. The writer nudges it after each commit; it stops when the writer drops its sender.
fn spawn_checkpointer(
    config: &SqliteConfig,
) -> Result<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>), StoreError> {
    let conn = open_connection(config, true)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    let handle = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                std::thread::sleep(CHECKPOINT_EVERY);
                let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                });
                if let Err(e) = r {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| StoreError::Engine {
            engine: "sqlite",
            context: "starting the checkpoint thread",
            source: Arc::new(e),
        })?;
    Ok((tx, handle))
}

/// How many committed groups may wait for their WAL sync before the writer waits for the syncer: enough to
/// overlap one group's fsync with the next one's work, few enough that groups stay large.
const SYNC_AHEAD: usize = 2;

/// Makes everything written to the WAL so far durable (`fdatasync` of the WAL file).
type WalSync = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// The WAL file of the database at `path`, opened for syncing, when it exists.
fn open_wal(path: &Path) -> Option<std::fs::File> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::OpenOptions::new().write(true).open(&wal).ok()
}

/// A committed group: what becomes visible once its WAL frames are on disk.
struct Committed {
    done: Vec<Done>,
    events: Vec<Event>,
    forget_recent: bool,
    snapshot: Snapshot,
}

/// The writer's counters as of one commit.
struct Snapshot {
    stats: HashMap<CarrierId, QueueStats>,
    resends: u64,
    unmatched: u64,
    held: u64,
    last_cursor: u64,
    requests: u64,
}

/// The syncer ([`spawn_syncer`]): the writer's sender and the thread.
struct Syncer {
    tx: std::sync::mpsc::SyncSender<Committed>,
    handle: JoinHandle<()>,
}

/// Starts the thread that syncs the WAL for committed groups, then publishes them and answers their requests.
/// One sync covers every group that committed while the previous one ran. A failed sync answers the
/// requests of its groups with the error (their data is committed but may not be on disk) and is logged.
fn spawn_syncer(mut sync: WalSync, shared: Arc<Shared>) -> Result<Syncer, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Committed>(SYNC_AHEAD);
    let handle = std::thread::Builder::new()
        .name("store-sync".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut groups = vec![first];
                groups.extend(rx.try_iter());
                let error = sync().err().map(|e| {
                    tracing::error!(error = %e, groups = groups.len(), "syncing the WAL failed");
                    StoreError::Engine {
                        engine: "sqlite",
                        context: "syncing the WAL",
                        source: Arc::new(e),
                    }
                });
                shared.syncs.fetch_add(1, Ordering::Relaxed);
                for mut g in groups {
                    shared.publish(&mut g.events, g.forget_recent, g.snapshot);
                    for d in g.done {
                        d(error.as_ref());
                    }
                }
            }
        })
        .map_err(|e| StoreError::Engine {
            engine: "sqlite",
            context: "starting the WAL sync thread",
            source: Arc::new(e),
        })?;
    Ok(Syncer { tx, handle })
}

/// How many of the newest events are kept in memory for consumers that follow the log closely.
const RECENT_EVENTS: usize = 32_768;

/// The newest committed events, oldest first, with contiguous cursors. A consumer whose cursor lies within
/// (or just before) this window is answered from memory instead of a query.
#[derive(Default)]
struct RecentEvents {
    events: std::collections::VecDeque<Event>,
}

impl RecentEvents {
    /// Events after `after` matching `mask` (at most `limit`), or `None` when the window does not reach back
    /// to `after` (the caller reads the database then).
    fn after(&self, after: u64, mask: i64, limit: usize, last: u64) -> Option<Vec<Event>> {
        if after >= last {
            return Some(Vec::new());
        }
        let first = self.events.front()?.cursor;
        if first > after.saturating_add(1) {
            return None;
        }
        let skip = usize::try_from(after.saturating_add(1).saturating_sub(first)).ok()?;
        Some(
            self.events
                .iter()
                .skip(skip)
                .filter(|e| (mask >> e.data.kind().code()) & 1 == 1)
                .take(limit)
                .cloned()
                .collect(),
        )
    }

    fn extend(&mut self, committed: &mut Vec<Event>) {
        // A gap would break the window's contiguity: start over from the new events.
        if let (Some(back), Some(next)) = (self.events.back(), committed.first())
            && back.cursor.saturating_add(1) != next.cursor
        {
            self.events.clear();
        }
        self.events.extend(committed.drain(..));
        let excess = self.events.len().saturating_sub(RECENT_EVENTS);
        self.events.drain(..excess);
    }
}

/// What the writer publishes after each commit.
struct Shared {
    recent: RwLock<RecentEvents>,
    stats: RwLock<HashMap<CarrierId, QueueStats>>,
    resends: AtomicU64,
    unmatched: AtomicU64,
    held: AtomicU64,
    commits: AtomicU64,
    requests: AtomicU64,
    pruned: AtomicU64,
    /// WAL syncs done by the syncer (one may cover several commits).
    syncs: AtomicU64,
    cursor: watch::Sender<u64>,
}

impl Shared {
    /// Makes one committed (and synced) group visible: its events, the counters, the cursor.
    fn publish(&self, events: &mut Vec<Event>, forget_recent: bool, snap: Snapshot) {
        if !events.is_empty() || forget_recent {
            let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
            if forget_recent {
                recent.events.clear();
            }
            recent.extend(events);
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(snap.requests, Ordering::Relaxed);
        *self.stats.write().unwrap_or_else(|p| p.into_inner()) = snap.stats;
        self.resends.store(snap.resends, Ordering::Relaxed);
        self.unmatched.store(snap.unmatched, Ordering::Relaxed);
        self.held.store(snap.held, Ordering::Relaxed);
        self.cursor.send_if_modified(|c| {
            if *c != snap.last_cursor {
                *c = snap.last_cursor;
                true
            } else {
                false
            }
        });
    }
}

struct Inner {
    tx: mpsc::Sender<Op>,
    config: SqliteConfig,
    readers: Mutex<Vec<Connection>>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The SQLite store. Cheap to clone; all clones share one writer thread.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

fn open_connection(config: &SqliteConfig, writer: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    // The WAL-gathering VFS when it registers (it always should); SQLite's default one otherwise.
    let conn = match walvfs::register() {
        Ok(()) => Connection::open_with_flags_and_vfs(&config.path, flags, walvfs::NAME),
        Err(e) => {
            tracing::warn!(error = %e, "the WAL-gathering VFS is not available: using SQLite's default");
            Connection::open_with_flags(&config.path, flags)
        }
    }
    .map_err(sql("opening the database"))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql("setting busy_timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql("enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(corrupt("journal mode", format!("WAL refused, got {mode}")));
    }
    let sync = match config.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(sql("setting synchronous"))?;
    conn.pragma_update(None, "cache_size", -config.cache_kib.max(256))
        .map_err(sql("setting cache_size"))?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql("setting temp_store"))?;
    if !writer {
        conn.pragma_update(None, "query_only", true)
            .map_err(sql("setting query_only"))?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The writer's view of the counters and depths, staged during a transaction and published after its commit.
#[derive(Clone, Default)]
struct WState {
    stats: HashMap<CarrierId, QueueStats>,
    next_cursor: i64,
    next_lease: u64,
    resends: u64,
    unmatched: u64,
    held: u64,
}

impl WState {
    fn stat(&mut self, carrier: &CarrierId) -> &mut QueueStats {
        // CarrierId clones are reference-count bumps.
        self.stats.entry(carrier.clone()).or_default()
    }
}

/// Puts back segments that were leased when the process stopped, and reads the state the writer starts from.
fn recover(conn: &mut Connection) -> Result<(WState, Option<MessageId>), StoreError> {
    let tx = conn.transaction().map_err(sql("starting recovery"))?;
    tx.execute(
        "INSERT OR IGNORE INTO queue (carrier, prio_rank, msg_id, idx)
         SELECT m.carrier, 3 - m.priority, s.msg_id, s.idx
         FROM segments s JOIN messages m ON m.id = s.msg_id
         WHERE s.lease IS NOT NULL AND s.state = 1",
        [],
    )
    .map_err(sql("requeueing leased segments"))?;
    let resent = tx
        .execute(
            "UPDATE segments SET unknown_outcome = 1, resends = resends + 1
             WHERE lease IS NOT NULL AND state = 1",
            [],
        )
        .map_err(sql("counting resends of leased segments"))?;
    tx.execute(
        "UPDATE segments SET lease = NULL WHERE lease IS NOT NULL",
        [],
    )
    .map_err(sql("clearing leases"))?;
    tx.commit().map_err(sql("committing recovery"))?;
    if resent > 0 {
        tracing::warn!(
            segments = resent,
            "segments were in flight at the last stop: their outcome is unknown, they will be resent"
        );
    }

    // Lease ids must not repeat across restarts, or a dispatch from before a restart could pass for a new
    // one: start each process at (wall-clock ms << 20), far above what the previous process could reach.
    let lease_base = u64::try_from(UnixMs::now().0).unwrap_or(1).max(1) << 20;
    let mut st = WState {
        resends: resent as u64,
        next_lease: lease_base,
        ..WState::default()
    };
    let max_cursor: Option<i64> = conn
        .query_row("SELECT MAX(cursor) FROM events", [], |r| r.get(0))
        .map_err(sql("reading the last cursor"))?;
    // Retention may have deleted every event: never hand out a pruned cursor again.
    let pruned = i64::try_from(retention::events_pruned_through(conn)?).unwrap_or(i64::MAX);
    st.next_cursor = max_cursor.unwrap_or(0).max(pruned) + 1;
    let max_msg: Option<i64> = conn
        .query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0))
        .map_err(sql("reading the last message id"))?;
    let max_mo: Option<i64> = conn
        .query_row("SELECT MAX(msg_id) FROM events WHERE kind = 1", [], |r| {
            r.get(0)
        })
        .map_err(sql("reading the last MO id"))?;
    let last_id = match max_msg.max(max_mo) {
        Some(v) => Some(id_of(v)?),
        None => None,
    };
    for (table, field) in [("queue", 0u8), ("retry", 1u8)] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT carrier, COUNT(*) FROM {table} GROUP BY carrier"
            ))
            .map_err(sql("counting the queues"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sql("counting the queues"))?;
        for row in rows {
            let (carrier, n) = row.map_err(sql("counting the queues"))?;
            let s = st.stat(&CarrierId::new(carrier));
            let n = u64::try_from(n).unwrap_or(0);
            if field == 0 {
                s.queued = n;
            } else {
                s.retry_waiting = n;
            }
        }
    }
    let held: i64 = conn
        .query_row("SELECT COUNT(*) FROM held_receipts", [], |r| r.get(0))
        .map_err(sql("counting held receipts"))?;
    st.held = u64::try_from(held).unwrap_or(0);
    Ok((st, last_id))
}

impl SqliteStore {
    /// Opens (or creates) the database, migrates its schema, recovers leased segments and starts the writer.
    pub async fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        let cfg = config.clone();
        let (conn, st, last_id, checkpointer, wal) = tokio::task::spawn_blocking(move || {
            let mut conn = open_connection(&cfg, true)?;
            schema::migrate(&mut conn)?;
            let (st, last_id) = recover(&mut conn)?;
            let checkpointer = match spawn_checkpointer(&cfg) {
                Ok(c) => {
                    conn.pragma_update(None, "wal_autocheckpoint", 0)
                        .map_err(sql("setting wal_autocheckpoint"))?;
                    Some(c)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no checkpoint thread: the writer checkpoints itself");
                    None
                }
            };
            // The syncer takes the fsync off the writer (module docs, "Durability"); it needs the checkpoint
            // thread, whose connection keeps FULL and so syncs before it copies and before the WAL restarts.
            let wal = match (&checkpointer, cfg.synchronous) {
                (Some(_), Synchronous::Full) => open_wal(&cfg.path),
                _ => None,
            };
            if wal.is_some() {
                conn.pragma_update(None, "synchronous", "OFF")
                    .map_err(sql("setting synchronous"))?;
            }
            Ok::<_, StoreError>((conn, st, last_id, checkpointer, wal))
        })
        .await
        .map_err(|e| StoreError::Engine {
            engine: "sqlite",
            context: "opening task",
            source: Arc::new(e),
        })??;

        let (cursor_tx, _) = watch::channel(u64::try_from(st.next_cursor - 1).unwrap_or(0));
        let shared = Arc::new(Shared {
            recent: RwLock::new(RecentEvents::default()),
            stats: RwLock::new(st.stats.clone()),
            resends: AtomicU64::new(st.resends),
            unmatched: AtomicU64::new(0),
            held: AtomicU64::new(st.held),
            commits: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            cursor: cursor_tx,
        });
        let syncer = match wal {
            Some(file) => Some(spawn_syncer(
                Box::new(move || file.sync_data()),
                shared.clone(),
            )?),
            None => None,
        };
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let writer = Writer {
            syncer,
            conn,
            ids: MessageIdGenerator::new(config.node_id, last_id),
            st,
            shared: shared.clone(),
            held_ttl_ms: config.held_receipt_ttl_ms,
            max_batch: config.max_batch.max(1),
            max_wait: config.max_wait,
            pending: Vec::new(),
            forget_recent: false,
            checkpointer,
        };
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Engine {
                engine: "sqlite",
                context: "starting the writer thread",
                source: Arc::new(e),
            })?;
        tracing::info!(path = %config.path.display(), "store opened");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                tx,
                config,
                readers: Mutex::new(Vec::new()),
                shared,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.config.path
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.config, false)?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < inner.config.readers {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Engine {
            engine: "sqlite",
            context: "reader task",
            source: Arc::new(e),
        })?
    }
}

impl StoreEngine for SqliteStore {
    async fn submit(&self, messages: Vec<NewMessage>) -> Vec<Result<Accepted, StoreError>> {
        let n = messages.len();
        if n == 0 {
            return Vec::new();
        }
        match self.call(|r| Op::Submit(messages, r)).await {
            Ok(v) => v,
            Err(e) => vec![Err(e); n],
        }
    }

    async fn claim(
        &self,
        carrier: &CarrierId,
        max: usize,
        now: UnixMs,
    ) -> Result<Vec<Dispatch>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let carrier = carrier.clone();
        self.call(|r| Op::Claim(carrier, max, now, r)).await
    }

    async fn record_outcome(
        &self,
        dispatch: DispatchKey,
        outcome: Outcome,
    ) -> Result<OutcomeApplied, StoreError> {
        self.call(|r| Op::Outcome(dispatch, outcome, r)).await
    }

    async fn record_receipt(
        &self,
        carrier: &CarrierId,
        carrier_message_id: &str,
        receipt: Receipt,
    ) -> Result<ReceiptMatch, StoreError> {
        let carrier = carrier.clone();
        let id = carrier_message_id.to_owned();
        self.call(|r| Op::Receipt(carrier, id, receipt, r)).await
    }

    async fn record_outcomes(
        &self,
        outcomes: Vec<(DispatchKey, Outcome)>,
    ) -> Vec<Result<OutcomeApplied, StoreError>> {
        let n = outcomes.len();
        if n == 0 {
            return Vec::new();
        }
        match self.call(|r| Op::Outcomes(outcomes, r)).await {
            Ok(v) => v,
            Err(e) => vec![Err(e); n],
        }
    }

    async fn record_receipts(
        &self,
        receipts: Vec<(CarrierId, String, Receipt)>,
    ) -> Vec<Result<ReceiptMatch, StoreError>> {
        let n = receipts.len();
        if n == 0 {
            return Vec::new();
        }
        match self.call(|r| Op::Receipts(receipts, r)).await {
            Ok(v) => v,
            Err(e) => vec![Err(e); n],
        }
    }

    async fn record_mo(&self, mo: MoMessage) -> Result<(MessageId, u64), StoreError> {
        self.call(|r| Op::Mo(mo, r)).await
    }

    async fn cancel(&self, id: MessageId) -> Result<CancelOutcome, StoreError> {
        self.call(|r| Op::Cancel(id, r)).await
    }

    async fn record_carrier_cancel(
        &self,
        id: MessageId,
        segments: Vec<u16>,
    ) -> Result<CarrierCancelApplied, StoreError> {
        self.call(|r| Op::CarrierCancel(id, segments, r)).await
    }

    async fn expire(&self, now: UnixMs) -> Result<ExpireReport, StoreError> {
        self.call(|r| Op::Expire(now, r)).await
    }

    async fn requeue_stale_leases(&self, leased_before: UnixMs) -> Result<u64, StoreError> {
        self.call(|r| Op::RequeueStale(leased_before, r)).await
    }

    async fn give_up_receipts(
        &self,
        deadlines: &[(CarrierId, UnixMs)],
    ) -> Result<GaveUp, StoreError> {
        if deadlines.is_empty() {
            return Ok(GaveUp::default());
        }
        let deadlines = deadlines.to_vec();
        self.call(|r| Op::GiveUpReceipts(deadlines, r)).await
    }

    async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read(move |c| read_message(c, MessageLookup::Id(id)))
            .await
    }

    async fn get_by_client_ref(
        &self,
        client: &ClientId,
        client_ref: &str,
    ) -> Result<Option<Message>, StoreError> {
        let client = client.clone();
        let client_ref = client_ref.to_owned();
        self.read(move |c| read_message(c, MessageLookup::ClientRef(&client, &client_ref)))
            .await
    }

    async fn events_after(
        &self,
        after: u64,
        kinds: &[EventKind],
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mask: i64 = if kinds.is_empty() {
            i64::MAX
        } else {
            kinds.iter().fold(0, |m, k| m | (1 << k.code()))
        };
        let last = *self.inner.shared.cursor.borrow();
        let recent = self
            .inner
            .shared
            .recent
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .after(after, mask, limit, last);
        if let Some(events) = recent {
            return Ok(events);
        }
        self.read(move |c| {
            // Only what is published: a group committed but not yet synced stays invisible.
            let events = read_events(c, after, last, mask, limit)?;
            retention::check_cursor(c, after)?;
            Ok(events)
        })
        .await
    }

    async fn prune(&self, now: UnixMs) -> Result<PruneReport, StoreError> {
        /// Chunks per call; a tick that stops here leaves `more` for the next one.
        const MAX_CHUNKS: u64 = 1_000;
        let policy = self.inner.config.retention;
        let before = |keep: Option<std::time::Duration>| {
            keep.map(|k| now.plus_ms(-i64::try_from(k.as_millis()).unwrap_or(i64::MAX)))
        };
        let chunk = retention::PruneChunk {
            finished_before: before(policy.keep_finished),
            events_before: before(policy.keep_events),
            max_rows: policy.chunk_rows.max(1),
        };
        let mut total = PruneReport::default();
        if chunk.finished_before.is_none() && chunk.events_before.is_none() {
            return Ok(total);
        }
        loop {
            // One request per chunk: whatever was queued meanwhile (submits, outcomes) goes first.
            let got = self.call(|r| Op::Prune(chunk, r)).await?;
            self.inner
                .shared
                .pruned
                .fetch_add(got.rows(), Ordering::Relaxed);
            total.add(&got);
            total.more = got.more;
            if !got.more || total.chunks >= MAX_CHUNKS {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.cursor.subscribe()
    }

    fn queue_stats(&self) -> HashMap<CarrierId, QueueStats> {
        self.inner
            .shared
            .stats
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn counters(&self) -> StoreCounters {
        let s = &self.inner.shared;
        StoreCounters {
            resends: s.resends.load(Ordering::Relaxed),
            unmatched_receipts: s.unmatched.load(Ordering::Relaxed),
            held_receipts: s.held.load(Ordering::Relaxed),
            commits: s.commits.load(Ordering::Relaxed),
            write_requests: s.requests.load(Ordering::Relaxed),
            pruned_rows: s.pruned.load(Ordering::Relaxed),
            wal_syncs: s.syncs.load(Ordering::Relaxed),
        }
    }

    async fn close(&self) {
        // An error means the writer already stopped.
        let _ = self.inner.tx.send(Op::Shutdown).await;
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Answers a request once the group's commit is known (`None`: committed).
type Done = Box<dyn FnOnce(Option<&StoreError>) + Send>;

fn settle<T: Send + 'static>(
    reply: Reply<T>,
    result: Result<T, StoreError>,
) -> (Option<StoreError>, Done) {
    match result {
        Ok(v) => (
            None,
            Box::new(move |commit_error: Option<&StoreError>| {
                // The caller may have gone away; nothing to do then.
                let _ = reply.send(match commit_error {
                    None => Ok(v),
                    Some(e) => Err(e.clone()),
                });
            }),
        ),
        Err(e) => (
            Some(e.clone()),
            Box::new(move |_: Option<&StoreError>| {
                let _ = reply.send(Err(e));
            }),
        ),
    }
}

struct Writer {
    conn: Connection,
    /// Events written by the open transaction, published to [`Shared::recent`] at its commit.
    pending: Vec<Event>,
    /// The open transaction pruned events: [`Shared::recent`] is emptied at its commit.
    forget_recent: bool,
    /// Syncs the WAL and answers for committed groups ([`spawn_syncer`]); `None`: the commit itself synced.
    syncer: Option<Syncer>,
    /// The checkpoint thread's nudge and handle ([`spawn_checkpointer`]).
    checkpointer: Option<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)>,
    ids: MessageIdGenerator,
    st: WState,
    shared: Arc<Shared>,
    held_ttl_ms: i64,
    max_batch: usize,
    max_wait: std::time::Duration,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        let mut last_start: Option<std::time::Instant> = None;
        while let Some(first) = rx.blocking_recv() {
            let mut weight = first.weight();
            let mut batch = vec![first];
            // Group commit: take what is waiting; if the last commit started less than `max_wait` ago, let
            // more requests join until then (a full group goes at once).
            let deadline = last_start.map(|t| t + self.max_wait);
            loop {
                while weight < self.max_batch {
                    match rx.try_recv() {
                        Ok(op) => {
                            weight += op.weight();
                            batch.push(op);
                        }
                        Err(_) => break,
                    }
                }
                let now = std::time::Instant::now();
                match deadline {
                    Some(d) if weight < self.max_batch && now < d => {
                        std::thread::sleep((d - now).min(std::time::Duration::from_micros(250)));
                    }
                    _ => break,
                }
            }
            last_start = Some(std::time::Instant::now());
            if !self.run_batch(batch) {
                break;
            }
        }
        // The syncer answers what is still waiting for its sync, then stops.
        if let Some(Syncer { tx, handle }) = self.syncer.take() {
            drop(tx);
            let _ = handle.join();
        }
        if let Some((nudge, handle)) = self.checkpointer.take() {
            drop(nudge);
            let _ = handle.join();
        }
        tracing::info!(
            commits = self.shared.commits.load(Ordering::Relaxed),
            requests = self.shared.requests.load(Ordering::Relaxed),
            "store writer stopped"
        );
    }

    /// Applies one group in one transaction; false when a shutdown was asked.
    fn run_batch(&mut self, batch: Vec<Op>) -> bool {
        let now = UnixMs::now();
        let committed = self.st.clone();
        let mut keep_running = true;
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            for op in batch {
                keep_running &= fail_op(op, &e);
            }
            return keep_running;
        }
        let mut done: Vec<Done> = Vec::with_capacity(batch.len());
        let mut broken: Option<StoreError> = None;
        let Writer {
            conn,
            st,
            ids,
            pending,
            forget_recent,
            held_ttl_ms,
            ..
        } = self;
        let conn: &Connection = conn;
        let mut stmts = Stmts::new(conn);
        for op in batch {
            if let Some(err) = &broken {
                keep_running &= fail_op(op, err);
                continue;
            }
            if matches!(op, Op::Shutdown) {
                keep_running = false;
                continue;
            }
            // No savepoint per request (it would copy every touched page into a sub-journal): each request
            // checks everything that can refuse it before it writes. A request that fails after writing (an
            // I/O error, corrupt data) poisons the group, which is rolled back and answered with that error.
            let changes = conn.total_changes();
            let before = st.clone();
            let mut cx = Cx {
                conn,
                stmts: &mut stmts,
                forget_recent,
                pending,
                st,
                ids,
                now,
                held_ttl_ms: *held_ttl_ms,
            };
            let (failed, d) = cx.apply(op);
            if let Some(e) = failed {
                *st = before;
                if conn.total_changes() != changes {
                    broken = Some(e);
                }
            }
            done.push(d);
        }
        // Back to the connection's cache before the commit.
        drop(stmts);
        let n = done.len() as u64;
        let commit_error = match broken {
            Some(e) => Some(e),
            None => self.exec("COMMIT").err(),
        };
        match &commit_error {
            None => {
                if let Some((nudge, _)) = &self.checkpointer {
                    // Full: a checkpoint is already due.
                    let _ = nudge.try_send(());
                }
                let mut group = Committed {
                    done,
                    events: std::mem::take(&mut self.pending),
                    forget_recent: std::mem::take(&mut self.forget_recent),
                    snapshot: self.snapshot(n),
                };
                if let Some(syncer) = &self.syncer {
                    match syncer.tx.send(group) {
                        Ok(()) => return keep_running,
                        // The syncer is gone (it never stops first): answer here rather than never.
                        Err(std::sync::mpsc::SendError(g)) => group = g,
                    }
                }
                self.shared
                    .publish(&mut group.events, group.forget_recent, group.snapshot);
                for d in group.done {
                    d(None);
                }
            }
            Some(e) => {
                self.pending.clear();
                self.forget_recent = false;
                tracing::error!(error = %e, "store transaction failed; rolling back the group");
                let _ = self.conn.execute_batch("ROLLBACK");
                self.st = committed;
                self.shared.requests.fetch_add(n, Ordering::Relaxed);
                for d in done {
                    d(commit_error.as_ref());
                }
            }
        }
        keep_running
    }

    fn exec(&self, stmt: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(stmt)
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(sql("transaction control"))
    }

    /// The counters as of the commit just made, `requests` of them in the group.
    fn snapshot(&self, requests: u64) -> Snapshot {
        Snapshot {
            stats: self.st.stats.clone(),
            resends: self.st.resends,
            unmatched: self.st.unmatched,
            held: self.st.held,
            last_cursor: u64::try_from(self.st.next_cursor - 1).unwrap_or(0),
            requests,
        }
    }
}

/// Answers a request that never ran; false for a shutdown.
fn fail_op(op: Op, e: &StoreError) -> bool {
    let e = e.clone();
    match op {
        Op::Submit(_, r) => drop(r.send(Err(e))),
        Op::Claim(_, _, _, r) => drop(r.send(Err(e))),
        Op::Outcome(_, _, r) => drop(r.send(Err(e))),
        Op::Receipt(_, _, _, r) => drop(r.send(Err(e))),
        Op::Outcomes(_, r) => drop(r.send(Err(e))),
        Op::Receipts(_, r) => drop(r.send(Err(e))),
        Op::Mo(_, r) => drop(r.send(Err(e))),
        Op::Cancel(_, r) => drop(r.send(Err(e))),
        Op::CarrierCancel(_, _, r) => drop(r.send(Err(e))),
        Op::Expire(_, r) => drop(r.send(Err(e))),
        Op::RequeueStale(_, r) => drop(r.send(Err(e))),
        Op::GiveUpReceipts(_, r) => drop(r.send(Err(e))),
        Op::Prune(_, r) => drop(r.send(Err(e))),
        Op::Shutdown => return false,
    }
    true
}

/// The columns of a message the write paths need.
struct Head {
    id: i64,
    carrier: CarrierId,
    prio_rank: i64,
    valid_until: i64,
    seg_count: u16,
    state: MessageState,
}

/// A segment as the write paths see it.
struct Seg {
    idx: u16,
    state: MessageState,
    lease: Option<i64>,
    retry_at: Option<i64>,
    carrier_msg_id: Option<String>,
}

/// Fields of a segment to change along with its state, in the same UPDATE.
#[derive(Default)]
struct SegUpdate<'a> {
    release_lease: bool,
    carrier_msg_id: Option<&'a str>,
    /// The id as the carrier gave it; written whenever `carrier_msg_id` is (None then: NULL, read as it).
    carrier_msg_id_raw: Option<&'a str>,
    last_error: Option<&'a str>,
    retry_at: Option<i64>,
    count_resend: bool,
    status: Option<&'a CarrierStatus>,
}

/// The statements of the hot write paths, taken from the connection's cache once per group commit instead
/// of once per use (a cache lookup hashes the whole SQL text and moves it in an LRU list twice).
#[derive(Clone, Copy)]
enum Hot {
    Event,
    AcceptedQueued,
    InsertMessage,
    InsertSegment,
    InsertQueue,
    ClaimRows,
    ClaimDequeue,
    Lease,
    HeadSeg,
    HeadSegByCarrierId,
    MapCarrierId,
    UpdateSegment,
    UpdateMessageState,
}

const HOT: usize = Hot::UpdateMessageState as usize + 1;

struct Stmts<'c> {
    conn: &'c Connection,
    slots: [Option<rusqlite::CachedStatement<'c>>; HOT],
}

impl<'c> Stmts<'c> {
    fn new(conn: &'c Connection) -> Self {
        Stmts {
            conn,
            slots: std::array::from_fn(|_| None),
        }
    }

    /// The statement `which`, prepared from `sql` on first use in this group.
    fn get(
        &mut self,
        which: Hot,
        sql: &'static str,
    ) -> rusqlite::Result<&mut rusqlite::CachedStatement<'c>> {
        match &mut self.slots[which as usize] {
            Some(stmt) => Ok(stmt),
            slot @ None => Ok(slot.insert(self.conn.prepare_cached(sql)?)),
        }
    }
}

/// One request's view of the open transaction.
struct Cx<'a, 'c> {
    conn: &'c Connection,
    stmts: &'a mut Stmts<'c>,
    /// Set when events were pruned: the in-memory window is dropped at the commit.
    forget_recent: &'a mut bool,
    pending: &'a mut Vec<Event>,
    st: &'a mut WState,
    ids: &'a mut MessageIdGenerator,
    now: UnixMs,
    held_ttl_ms: i64,
}

fn validate(m: &NewMessage) -> Result<(), StoreError> {
    let bad = |field, reason: &str| {
        Err(StoreError::InvalidMessage {
            field,
            reason: reason.to_owned(),
        })
    };
    if m.segments.is_empty() {
        return bad("segments", "at least one segment is needed");
    }
    if m.segments.len() > 255 {
        return bad("segments", "at most 255 segments");
    }
    if m.to.is_empty() {
        return bad("to", "empty destination");
    }
    if m.carrier.as_str().is_empty() {
        return bad("carrier", "no carrier chosen");
    }
    if m.client_ref.as_deref() == Some("") {
        return bad("client_ref", "empty idempotency key (omit it instead)");
    }
    Ok(())
}

impl Cx<'_, '_> {
    /// Applies one request inside the open transaction.
    fn apply(&mut self, op: Op) -> (Option<StoreError>, Done) {
        match op {
            Op::Submit(m, r) => settle(r, self.submit(m)),
            Op::Claim(c, max, at, r) => settle(r, self.claim(&c, max, at)),
            Op::Outcome(k, o, r) => settle(r, self.outcome(k, o)),
            Op::Receipt(c, id, rc, r) => settle(r, self.receipt(&c, &id, rc)),
            Op::Outcomes(items, r) => settle(r, self.each(items, |cx, (k, o)| cx.outcome(k, o))),
            Op::Receipts(items, r) => settle(
                r,
                self.each(items, |cx, (c, id, rc)| cx.receipt(&c, &id, rc)),
            ),
            Op::Mo(mo, r) => settle(r, self.mo(mo)),
            Op::Cancel(id, r) => settle(r, self.cancel(id)),
            Op::CarrierCancel(id, segs, r) => settle(r, self.carrier_cancel(id, &segs)),
            Op::Prune(chunk, r) => {
                let pruned = retention::prune_chunk(self.conn, chunk);
                if pruned.as_ref().is_ok_and(|p| p.events > 0) {
                    // The in-memory window may hold pruned events: readers must see the log as stored.
                    *self.forget_recent = true;
                }
                settle(r, pruned)
            }
            Op::Expire(at, r) => settle(r, self.expire(at)),
            Op::RequeueStale(before, r) => settle(r, self.requeue_stale(before)),
            Op::GiveUpReceipts(deadlines, r) => settle(r, self.give_up_receipts(&deadlines)),
            Op::Shutdown => (None, Box::new(|_: Option<&StoreError>| {})),
        }
    }

    /// Applies `f` to each item: an item refused before it wrote anything gets its own error; one that fails
    /// after writing fails the whole request (and so the group).
    fn each<I, T>(
        &mut self,
        items: Vec<I>,
        mut f: impl FnMut(&mut Self, I) -> Result<T, StoreError>,
    ) -> Result<Vec<Result<T, StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let changes = self.conn.total_changes();
            let before = self.st.clone();
            match f(self, item) {
                Ok(v) => out.push(Ok(v)),
                Err(e) if self.conn.total_changes() == changes => {
                    *self.st = before;
                    out.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn event(
        &mut self,
        msg: i64,
        old: Option<MessageState>,
        new: MessageState,
        segment: Option<u16>,
    ) -> Result<(), StoreError> {
        let cursor = self.st.next_cursor;
        self.stmts
            .get(
                Hot::Event,
                "INSERT INTO events (cursor, time, msg_id, kind, old_state, new_state, segment)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
            )
            .and_then(|s| {
                s.execute(params![
                    cursor,
                    self.now.0,
                    msg,
                    old.map(|o| o.code()),
                    new.code(),
                    segment
                ])
            })
            .map_err(sql("writing an event"))?;
        self.pending.push(Event {
            cursor: u64::try_from(cursor).unwrap_or(0),
            time: self.now,
            message_id: id_of(msg)?,
            data: EventData::StateChange { old, new, segment },
        });
        self.st.next_cursor += 1;
        Ok(())
    }

    /// The first two events of a new message, ACCEPTED then QUEUED, in one statement.
    fn accepted_and_queued(&mut self, id: MessageId) -> Result<(), StoreError> {
        let cursor = self.st.next_cursor;
        let (accepted, queued) = (MessageState::Accepted, MessageState::Queued);
        self.stmts
            .get(
                Hot::AcceptedQueued,
                "INSERT INTO events (cursor, time, msg_id, kind, old_state, new_state, segment)
                 VALUES (?1, ?2, ?3, 0, NULL, ?4, NULL), (?1 + 1, ?2, ?3, 0, ?4, ?5, NULL)",
            )
            .and_then(|s| {
                s.execute(params![
                    cursor,
                    self.now.0,
                    id.as_i64(),
                    accepted.code(),
                    queued.code()
                ])
            })
            .map_err(sql("writing an event"))?;
        let first = u64::try_from(cursor).unwrap_or(0);
        for (i, (old, new)) in [(None, accepted), (Some(accepted), queued)]
            .into_iter()
            .enumerate()
        {
            self.pending.push(Event {
                cursor: first + i as u64,
                time: self.now,
                message_id: id,
                data: EventData::StateChange {
                    old,
                    new,
                    segment: None,
                },
            });
        }
        self.st.next_cursor += 2;
        Ok(())
    }

    fn head(&self, id: i64) -> Result<Option<Head>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT carrier, priority, valid_until, seg_count, state FROM messages WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(sql("reading a message"))?;
        let Some((carrier, prio, valid_until, seg_count, state)) = row else {
            return Ok(None);
        };
        let priority = Priority::from_code(prio)
            .ok_or_else(|| corrupt("messages.priority", format!("unknown priority {prio}")))?;
        Ok(Some(Head {
            id,
            carrier: CarrierId::new(carrier),
            prio_rank: prio_rank(priority),
            valid_until,
            seg_count: u16_of(seg_count, "messages.seg_count")?,
            state: state_of(state, "messages.state")?,
        }))
    }

    /// A message's head and one of its segments, in one read.
    fn head_seg(&mut self, id: i64, idx: u16) -> Result<Option<(Head, Seg)>, StoreError> {
        self.query_head_seg(
            Hot::HeadSeg,
            "SELECT m.id, s.idx, m.carrier, m.priority, m.valid_until, m.seg_count, m.state,
                    s.state, s.lease, s.retry_at, s.carrier_msg_id
             FROM messages m JOIN segments s ON s.msg_id = m.id
             WHERE m.id = ?1 AND s.idx = ?2",
            params![id, idx],
        )
    }

    /// The segment a (carrier, carrier message id) maps to, with its message's head, in one read.
    fn head_seg_by_carrier_id(
        &mut self,
        carrier: &CarrierId,
        carrier_msg_id: &str,
    ) -> Result<Option<(Head, Seg)>, StoreError> {
        self.query_head_seg(
            Hot::HeadSegByCarrierId,
            "SELECT m.id, s.idx, m.carrier, m.priority, m.valid_until, m.seg_count, m.state,
                    s.state, s.lease, s.retry_at, s.carrier_msg_id
             FROM carrier_ids c
             JOIN messages m ON m.id = c.msg_id
             JOIN segments s ON s.msg_id = c.msg_id AND s.idx = c.idx
             WHERE c.carrier = ?1 AND c.carrier_msg_id = ?2",
            params![carrier.as_str(), carrier_msg_id],
        )
    }

    fn query_head_seg(
        &mut self,
        which: Hot,
        query: &'static str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Option<(Head, Seg)>, StoreError> {
        type Row = (
            i64,
            i64,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let row: Option<Row> = self
            .stmts
            .get(which, query)
            .and_then(|s| {
                s.query_row(args, |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ))
                })
                .optional()
            })
            .map_err(sql("reading a segment"))?;
        let Some((
            id,
            idx,
            carrier,
            prio,
            valid_until,
            seg_count,
            mstate,
            sstate,
            lease,
            retry_at,
            cid,
        )) = row
        else {
            return Ok(None);
        };
        let priority = Priority::from_code(prio)
            .ok_or_else(|| corrupt("messages.priority", format!("unknown priority {prio}")))?;
        Ok(Some((
            Head {
                id,
                carrier: CarrierId::new(carrier),
                prio_rank: prio_rank(priority),
                valid_until,
                seg_count: u16_of(seg_count, "messages.seg_count")?,
                state: state_of(mstate, "messages.state")?,
            },
            Seg {
                idx: u16_of(idx, "segments.idx")?,
                state: state_of(sstate, "segments.state")?,
                lease,
                retry_at,
                carrier_msg_id: cid,
            },
        )))
    }

    fn segments(&self, msg: i64) -> Result<Vec<Seg>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, state, lease, retry_at, carrier_msg_id FROM segments
                 WHERE msg_id = ?1 ORDER BY idx",
            )
            .map_err(sql("reading segments"))?;
        let rows = stmt
            .query_map([msg], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(sql("reading segments"))?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, state, lease, retry_at, carrier_msg_id) =
                row.map_err(sql("reading segments"))?;
            out.push(Seg {
                idx: u16_of(idx, "segments.idx")?,
                state: state_of(state, "segments.state")?,
                lease,
                retry_at,
                carrier_msg_id,
            });
        }
        Ok(out)
    }

    /// Moves a segment to `new`, derives the message's state, and writes the events of both.
    fn set_segment(
        &mut self,
        head: &mut Head,
        idx: u16,
        old: MessageState,
        new: MessageState,
    ) -> Result<(), StoreError> {
        if old == new {
            return Ok(());
        }
        self.update_segment(head, idx, old, new, &SegUpdate::default())
    }

    /// One UPDATE of a segment: its state (when `old != new`) and the other fields of `upd`; then, when the
    /// state changed, the message's derived state and the events.
    fn update_segment(
        &mut self,
        head: &mut Head,
        idx: u16,
        old: MessageState,
        new: MessageState,
        upd: &SegUpdate<'_>,
    ) -> Result<(), StoreError> {
        let now = self.now.0;
        let changed = old != new;
        let submitted_at = (changed && new == MessageState::Submitted).then_some(now);
        let final_at = (changed && new.is_final()).then_some(now);
        let status = upd.status;
        self.stmts
            .get(
                Hot::UpdateSegment,
                "UPDATE segments SET state = ?3,
                   submitted_at = COALESCE(submitted_at, ?4),
                   final_at = COALESCE(?5, final_at),
                   lease = CASE WHEN ?6 THEN NULL ELSE lease END,
                   carrier_msg_id = COALESCE(?7, carrier_msg_id),
                   last_error = COALESCE(?8, last_error),
                   retry_at = CASE WHEN ?9 IS NULL THEN retry_at ELSE ?9 END,
                   resends = resends + ?10,
                   unknown_outcome = CASE WHEN ?10 > 0 THEN 1 ELSE unknown_outcome END,
                   stat = CASE WHEN ?11 THEN ?12 ELSE stat END,
                   err = CASE WHEN ?11 THEN ?13 ELSE err END,
                   network_error_code = CASE WHEN ?11 THEN ?14 ELSE network_error_code END,
                   done_date = CASE WHEN ?11 THEN ?15 ELSE done_date END,
                   receipt_raw = CASE WHEN ?11 THEN ?16 ELSE receipt_raw END,
                   carrier_msg_id_raw = CASE WHEN ?7 IS NULL THEN carrier_msg_id_raw ELSE ?17 END
                 WHERE msg_id = ?1 AND idx = ?2",
            )
            .and_then(|s| {
                s.execute(params![
                    head.id,
                    idx,
                    new.code(),
                    submitted_at,
                    final_at,
                    upd.release_lease,
                    upd.carrier_msg_id,
                    upd.last_error,
                    upd.retry_at,
                    i64::from(upd.count_resend),
                    status.is_some(),
                    status.and_then(|s| s.stat.as_deref()),
                    status.and_then(|s| s.err.as_deref()),
                    status.and_then(|s| s.network_error_code.as_deref()),
                    status.and_then(|s| s.done_date.as_deref()),
                    status.and_then(|s| s.raw.as_deref()),
                    upd.carrier_msg_id_raw,
                ])
            })
            .map_err(sql("updating a segment"))?;
        if !changed {
            return Ok(());
        }
        if head.seg_count > 1 {
            self.event(head.id, Some(old), new, Some(idx))?;
        }
        let derived = if head.seg_count == 1 {
            new
        } else {
            let states: Vec<MessageState> = self
                .segments(head.id)?
                .into_iter()
                .map(|s| s.state)
                .collect();
            derive_message_state(&states)
        };
        if derived != head.state {
            let m_submitted = (derived == MessageState::Submitted).then_some(now);
            let m_final = derived.is_final().then_some(now);
            // A message that asked for no receipt is finished once SUBMITTED (its last state unless the
            // carrier sends a receipt anyway): `final_at` then, so that retention prunes it in time.
            self.stmts
                .get(
                    Hot::UpdateMessageState,
                    "UPDATE messages SET state = ?2, submitted_at = COALESCE(submitted_at, ?3),
                       final_at = COALESCE(?4, final_at, CASE WHEN ?2 = ?5 AND want_receipt = 0 THEN ?3 END)
                     WHERE id = ?1",
                )
                .and_then(|s| {
                    s.execute(params![
                        head.id,
                        derived.code(),
                        m_submitted,
                        m_final,
                        MessageState::Submitted.code()
                    ])
                })
                .map_err(sql("updating a message's state"))?;
            self.event(head.id, Some(head.state), derived, None)?;
            head.state = derived;
        }
        Ok(())
    }

    /// Takes a waiting (not leased) segment out of `queue` or `retry`.
    fn dequeue(&mut self, head: &Head, seg: &Seg) -> Result<(), StoreError> {
        if let Some(at) = seg.retry_at {
            let n = self
                .conn
                .prepare_cached(
                    "DELETE FROM retry WHERE carrier = ?1 AND not_before = ?2 AND msg_id = ?3 AND idx = ?4",
                )
                .and_then(|mut s| s.execute(params![head.carrier.as_str(), at, head.id, seg.idx]))
                .map_err(sql("removing a segment from the retry queue"))?;
            self.conn
                .prepare_cached(
                    "UPDATE segments SET retry_at = NULL WHERE msg_id = ?1 AND idx = ?2",
                )
                .and_then(|mut s| s.execute(params![head.id, seg.idx]))
                .map_err(sql("clearing a retry time"))?;
            if n > 0 {
                let s = self.st.stat(&head.carrier);
                s.retry_waiting = s.retry_waiting.saturating_sub(1);
            }
        } else {
            let n = self
                .conn
                .prepare_cached(
                    "DELETE FROM queue WHERE carrier = ?1 AND prio_rank = ?2 AND msg_id = ?3 AND idx = ?4",
                )
                .and_then(|mut s| s.execute(params![head.carrier.as_str(), head.prio_rank, head.id, seg.idx]))
                .map_err(sql("removing a segment from the queue"))?;
            if n > 0 {
                let s = self.st.stat(&head.carrier);
                s.queued = s.queued.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn enqueue(&mut self, head: &Head, idx: u16) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO queue (carrier, prio_rank, msg_id, idx) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![head.carrier.as_str(), head.prio_rank, head.id, idx]))
            .map_err(sql("queueing a segment"))?;
        self.st.stat(&head.carrier).queued += 1;
        Ok(())
    }

    fn submit(
        &mut self,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Result<Accepted, StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            if let Err(e) = validate(&m) {
                out.push(Err(e));
                continue;
            }
            if let Some(client_ref) = &m.client_ref {
                let found = self
                    .conn
                    .prepare_cached(
                        "SELECT id, state FROM messages WHERE client = ?1 AND client_ref = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![m.client.as_str(), client_ref], |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                        })
                        .optional()
                    })
                    .map_err(sql("looking up an idempotency key"))?;
                if let Some((id, state)) = found {
                    out.push(Ok(Accepted {
                        id: id_of(id)?,
                        duplicate: true,
                        state: state_of(state, "messages.state")?,
                    }));
                    continue;
                }
            }
            let tags = if m.tags.is_empty() {
                None
            } else {
                match serde_json::to_string(&m.tags) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        out.push(Err(StoreError::InvalidMessage {
                            field: "tags",
                            reason: e.to_string(),
                        }));
                        continue;
                    }
                }
            };
            let id = self.ids.next_at(self.now);
            let idn = id.as_i64();
            let (body_kind, body, data_coding): (i64, &[u8], Option<u8>) = match &m.body {
                Body::Text(t) => (0, t.as_bytes(), None),
                Body::Binary { data, data_coding } => (1, data.as_slice(), Some(*data_coding)),
            };
            let seg_count = m.segments.len() as i64;
            let queued = MessageState::Queued.code();
            self.stmts
                .get(Hot::InsertMessage,
                    "INSERT INTO messages (id, client, client_ref, to_addr, from_addr, body_kind, body,
                       data_coding, encoding, carrier, priority, want_receipt, valid_until, tags, seg_count,
                       state, accepted_at, queued_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)",
                )
                .and_then(|s| {
                    s.execute(params![
                        idn,
                        m.client.as_str(),
                        m.client_ref,
                        m.to,
                        m.from,
                        body_kind,
                        body,
                        data_coding,
                        m.encoding,
                        m.carrier.as_str(),
                        m.priority.code(),
                        m.want_receipt,
                        m.valid_until.0,
                        tags,
                        seg_count,
                        queued,
                        self.now.0
                    ])
                })
                .map_err(sql("inserting a message"))?;
            let rank = prio_rank(m.priority);
            {
                for (i, payload) in m.segments.iter().enumerate() {
                    self.stmts
                        .get(
                            Hot::InsertSegment,
                            "INSERT INTO segments (msg_id, idx, payload, state) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .and_then(|s| s.execute(params![idn, i as i64, payload, queued]))
                        .map_err(sql("inserting segments"))?;
                    self.stmts
                        .get(
                            Hot::InsertQueue,
                            "INSERT INTO queue (carrier, prio_rank, msg_id, idx) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .and_then(|s| s.execute(params![m.carrier.as_str(), rank, idn, i as i64]))
                        .map_err(sql("queueing segments"))?;
                }
            }
            self.st.stat(&m.carrier).queued += m.segments.len() as u64;
            self.accepted_and_queued(id)?;
            out.push(Ok(Accepted {
                id,
                duplicate: false,
                state: MessageState::Queued,
            }));
        }
        Ok(out)
    }

    /// Moves due retries of `carrier` back into the queue (bounded per call).
    fn promote_retries(&mut self, carrier: &CarrierId, now: UnixMs) -> Result<(), StoreError> {
        // The count is exact or too high (never too low: every insert into `retry` counts), so zero means
        // there is nothing to look for; that is the common case and saves a query per claim.
        if self
            .st
            .stats
            .get(carrier)
            .is_none_or(|s| s.retry_waiting == 0)
        {
            return Ok(());
        }
        let due: Vec<(i64, i64, i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT not_before, msg_id, idx, prio_rank FROM retry
                     WHERE carrier = ?1 AND not_before <= ?2 ORDER BY not_before LIMIT 4096",
                )
                .map_err(sql("reading due retries"))?;
            let rows = stmt
                .query_map(params![carrier.as_str(), now.0], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(sql("reading due retries"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql("reading due retries"))?
        };
        for (at, msg, idx, rank) in due {
            self.conn
                .prepare_cached(
                    "DELETE FROM retry WHERE carrier = ?1 AND not_before = ?2 AND msg_id = ?3 AND idx = ?4",
                )
                .and_then(|mut s| s.execute(params![carrier.as_str(), at, msg, idx]))
                .map_err(sql("promoting a retry"))?;
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO queue (carrier, prio_rank, msg_id, idx) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![carrier.as_str(), rank, msg, idx]))
                .map_err(sql("promoting a retry"))?;
            self.conn
                .prepare_cached(
                    "UPDATE segments SET retry_at = NULL WHERE msg_id = ?1 AND idx = ?2",
                )
                .and_then(|mut s| s.execute(params![msg, idx]))
                .map_err(sql("promoting a retry"))?;
            let s = self.st.stat(carrier);
            s.retry_waiting = s.retry_waiting.saturating_sub(1);
            s.queued += 1;
        }
        Ok(())
    }

    fn claim(
        &mut self,
        carrier: &CarrierId,
        max: usize,
        now: UnixMs,
    ) -> Result<Vec<Dispatch>, StoreError> {
        self.promote_retries(carrier, now)?;
        let mut out = Vec::with_capacity(max.min(4096));
        // Each extra round only happens when expired segments were dropped from the front.
        for _round in 0..16 {
            let want = max - out.len();
            if want == 0 {
                break;
            }
            type Row = (
                i64,
                i64,
                i64,
                String,
                String,
                String,
                Option<i64>,
                i64,
                bool,
                i64,
                i64,
                Vec<u8>,
                i64,
                bool,
                i64,
            );
            let rows: Vec<Row> = {
                let stmt = self
                    .stmts
                    .get(Hot::ClaimRows,
                        "SELECT q.prio_rank, q.msg_id, q.idx, m.to_addr, m.from_addr, m.encoding, m.data_coding,
                                m.priority, m.want_receipt, m.valid_until, m.seg_count, s.payload, s.attempts,
                                s.unknown_outcome, m.state
                         FROM queue q
                         JOIN messages m ON m.id = q.msg_id
                         JOIN segments s ON s.msg_id = q.msg_id AND s.idx = q.idx
                         WHERE q.carrier = ?1
                         ORDER BY q.prio_rank, q.msg_id, q.idx",
                    )
                    .map_err(sql("claiming"))?;
                // No `LIMIT ?`: a bound LIMIT makes SQLite re-prepare the statement on every rebind. The rows
                // come in the primary key's order, lazily, so taking `want` of them reads no more.
                let rows = stmt
                    .query_map(params![carrier.as_str()], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                            r.get(11)?,
                            r.get(12)?,
                            r.get(13)?,
                            r.get(14)?,
                        ))
                    })
                    .map_err(sql("claiming"))?;
                rows.take(want)
                    .collect::<Result<_, _>>()
                    .map_err(sql("claiming"))?
            };
            let got = rows.len();
            // The rows are the front of this carrier's queue in key order: take them out with one range
            // delete (nothing else writes between the read and here: this is the only writer).
            if let Some(&(rank, msg, idx, ..)) = rows.last() {
                let n = self
                    .stmts
                    .get(Hot::ClaimDequeue,
                        "DELETE FROM queue WHERE carrier = ?1 AND (prio_rank, msg_id, idx) <= (?2, ?3, ?4)",
                    )
                    .and_then(|s| s.execute(params![carrier.as_str(), rank, msg, idx]))
                    .map_err(sql("removing claimed segments from the queue"))?;
                let s = self.st.stat(carrier);
                s.queued = s.queued.saturating_sub(n as u64);
            }
            let mut expired = 0;
            for (
                rank,
                msg,
                idx,
                to,
                from,
                encoding,
                dc,
                prio,
                want_receipt,
                valid_until,
                seg_count,
                payload,
                attempts,
                unknown,
                mstate,
            ) in rows
            {
                let idx16 = u16_of(idx, "queue.idx")?;
                let mut head = Head {
                    id: msg,
                    carrier: carrier.clone(),
                    prio_rank: rank,
                    valid_until,
                    seg_count: u16_of(seg_count, "messages.seg_count")?,
                    state: state_of(mstate, "messages.state")?,
                };
                if valid_until <= now.0 {
                    // Never sent after its validity.
                    if let Some(h) = self.head(msg)? {
                        head = h;
                    }
                    self.set_segment(
                        &mut head,
                        idx16,
                        MessageState::Queued,
                        MessageState::Expired,
                    )?;
                    expired += 1;
                    continue;
                }
                let lease = self.st.next_lease;
                self.st.next_lease += 1;
                self.stmts
                    .get(
                        Hot::Lease,
                        "UPDATE segments SET lease = ?3, leased_at = ?4, attempts = attempts + 1,
                           unknown_outcome = 0
                         WHERE msg_id = ?1 AND idx = ?2",
                    )
                    .and_then(|s| s.execute(params![msg, idx, lease as i64, now.0]))
                    .map_err(sql("leasing a segment"))?;
                self.st.stat(carrier).in_flight += 1;
                out.push(Dispatch {
                    message_id: id_of(msg)?,
                    segment: idx16,
                    segment_count: head.seg_count,
                    lease: LeaseId(lease),
                    carrier: carrier.clone(),
                    to,
                    from,
                    payload,
                    encoding,
                    data_coding: dc.and_then(|v| u8::try_from(v).ok()),
                    priority: Priority::from_code(prio).ok_or_else(|| {
                        corrupt("messages.priority", format!("unknown priority {prio}"))
                    })?,
                    want_receipt,
                    valid_until: UnixMs(valid_until),
                    attempt: u32_of(attempts, "segments.attempts")?.saturating_add(1),
                    resend: unknown,
                });
            }
            if got < want || expired == 0 {
                break;
            }
        }
        Ok(out)
    }

    fn outcome(
        &mut self,
        key: DispatchKey,
        outcome: Outcome,
    ) -> Result<OutcomeApplied, StoreError> {
        let msg = key.message_id.as_i64();
        let (mut head, seg) = self
            .head_seg(msg, key.segment)?
            .ok_or(StoreError::NotFound(key.message_id))?;
        let lease = i64::try_from(key.lease.0).ok();
        if seg.lease.is_none() || seg.lease != lease {
            return Err(StoreError::StaleLease {
                message_id: key.message_id,
                segment: key.segment,
                lease: key.lease.0,
            });
        }
        {
            let s = self.st.stat(&head.carrier);
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        // A segment can be final while leased: a receipt for an earlier send came during a resend. Then the
        // outcome only releases the lease (and maps the carrier id); the state stays.
        let live = !seg.state.is_final();
        let mut held_applied = false;
        let mut seg_state = seg.state;
        match outcome {
            Outcome::Submitted {
                carrier_message_id,
                carrier_message_id_raw,
            } => {
                self.stmts
                    .get(
                        Hot::MapCarrierId,
                        "INSERT OR REPLACE INTO carrier_ids (carrier, carrier_msg_id, msg_id, idx)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|s| {
                        s.execute(params![
                            head.carrier.as_str(),
                            carrier_message_id,
                            msg,
                            key.segment
                        ])
                    })
                    .map_err(sql("mapping a carrier message id"))?;
                if live {
                    seg_state = MessageState::Submitted;
                }
                let upd = SegUpdate {
                    release_lease: true,
                    carrier_msg_id: Some(&carrier_message_id),
                    carrier_msg_id_raw: Some(&carrier_message_id_raw),
                    ..SegUpdate::default()
                };
                self.update_segment(&mut head, key.segment, seg.state, seg_state, &upd)?;
                // Most of the time nothing is held: skip the lookup.
                let held = if self.st.held > 0 {
                    self.take_held(&head.carrier, &carrier_message_id)?
                } else {
                    None
                };
                if let Some(receipt) = held {
                    let seg_now = Seg {
                        idx: key.segment,
                        state: seg_state,
                        lease: None,
                        retry_at: None,
                        carrier_msg_id: Some(carrier_message_id),
                    };
                    seg_state = self.apply_receipt(&mut head, &seg_now, &receipt)?;
                    held_applied = true;
                }
            }
            Outcome::Transient { retry_at, reason } => {
                let mut upd = SegUpdate {
                    release_lease: true,
                    last_error: Some(&reason),
                    ..SegUpdate::default()
                };
                if live && retry_at.0 >= head.valid_until {
                    seg_state = MessageState::Expired;
                } else if live {
                    self.conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO retry (carrier, not_before, msg_id, idx, prio_rank)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                head.carrier.as_str(),
                                retry_at.0,
                                msg,
                                key.segment,
                                head.prio_rank
                            ])
                        })
                        .map_err(sql("scheduling a retry"))?;
                    upd.retry_at = Some(retry_at.0);
                    self.st.stat(&head.carrier).retry_waiting += 1;
                }
                self.update_segment(&mut head, key.segment, seg.state, seg_state, &upd)?;
            }
            Outcome::Permanent { status, reason } => {
                if live {
                    seg_state = match status {
                        PermanentStatus::Rejected => MessageState::Rejected,
                        PermanentStatus::Failed => MessageState::Failed,
                    };
                }
                let upd = SegUpdate {
                    release_lease: true,
                    last_error: Some(&reason),
                    ..SegUpdate::default()
                };
                self.update_segment(&mut head, key.segment, seg.state, seg_state, &upd)?;
            }
            Outcome::Unknown { reason } => {
                let upd = SegUpdate {
                    release_lease: true,
                    last_error: Some(&reason),
                    count_resend: live,
                    ..SegUpdate::default()
                };
                self.update_segment(&mut head, key.segment, seg.state, seg_state, &upd)?;
                if live {
                    self.st.resends += 1;
                    self.enqueue(&head, key.segment)?;
                }
            }
        }
        Ok(OutcomeApplied {
            segment_state: seg_state,
            message_state: head.state,
            held_receipt_applied: held_applied,
        })
    }

    fn take_held(
        &mut self,
        carrier: &CarrierId,
        carrier_msg_id: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, stat, err, network_error_code, done_date, raw, received_at FROM held_receipts
                 WHERE carrier = ?1 AND carrier_msg_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![carrier.as_str(), carrier_msg_id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        CarrierStatus {
                            stat: r.get(1)?,
                            err: r.get(2)?,
                            network_error_code: r.get(3)?,
                            done_date: r.get(4)?,
                            raw: r.get(5)?,
                        },
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()
            })
            .map_err(sql("looking up a held receipt"))?;
        let Some((state, status, received_at)) = row else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("DELETE FROM held_receipts WHERE carrier = ?1 AND carrier_msg_id = ?2")
            .and_then(|mut s| s.execute(params![carrier.as_str(), carrier_msg_id]))
            .map_err(sql("removing a held receipt"))?;
        self.st.held = self.st.held.saturating_sub(1);
        Ok(Some(Receipt {
            state: state_of(state, "held_receipts.state")?,
            status,
            received_at: UnixMs(received_at),
        }))
    }

    /// Stores a receipt's fields on a segment and moves it to the receipt's final state. Returns the segment's
    /// state after.
    fn apply_receipt(
        &mut self,
        head: &mut Head,
        seg: &Seg,
        receipt: &Receipt,
    ) -> Result<MessageState, StoreError> {
        // A non-final receipt (e.g. ENROUTE) records the status only. A final state is never changed, except
        // UNKNOWN: it says nobody knew the fate (no receipt by the receipt timeout, or the carrier said
        // UNKNOWN), so a final receipt that comes later is the answer and replaces it, with its events.
        let open = !seg.state.is_final() || seg.state == MessageState::Unknown;
        if !open && !receipt.state.is_final() {
            // An intermediate receipt (ENROUTE, ACCEPTD) that arrives after the segment is final was overtaken
            // by a later one: recording it would replace the final status (e.g. DELIVRD) with a stale one.
            tracing::debug!(message_id = head.id, segment = seg.idx, state = ?seg.state, stat = ?receipt.status.stat,
                "an intermediate receipt for a segment already final: not recorded");
            return Ok(seg.state);
        }
        let new = if receipt.state.is_final() && open {
            receipt.state
        } else {
            seg.state
        };
        if new != seg.state && seg.state == MessageState::Queued && seg.lease.is_none() {
            // It was requeued after an unknown outcome, but the carrier had it: don't send it again.
            self.dequeue(head, seg)?;
        }
        let upd = SegUpdate {
            status: Some(&receipt.status),
            ..SegUpdate::default()
        };
        self.update_segment(head, seg.idx, seg.state, new, &upd)?;
        Ok(new)
    }

    fn receipt(
        &mut self,
        carrier: &CarrierId,
        carrier_msg_id: &str,
        receipt: Receipt,
    ) -> Result<ReceiptMatch, StoreError> {
        if let Some((mut head, seg)) = self.head_seg_by_carrier_id(carrier, carrier_msg_id)? {
            let id = id_of(head.id)?;
            self.apply_receipt(&mut head, &seg, &receipt)?;
            return Ok(ReceiptMatch::Matched {
                message_id: id,
                segment: seg.idx,
            });
        }
        let existed = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM held_receipts WHERE carrier = ?1 AND carrier_msg_id = ?2",
            )
            .and_then(|mut s| s.exists(params![carrier.as_str(), carrier_msg_id]))
            .map_err(sql("holding a receipt"))?;
        let st = &receipt.status;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO held_receipts (carrier, carrier_msg_id, received_at, expires_at, state,
                   stat, err, network_error_code, done_date, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    carrier.as_str(),
                    carrier_msg_id,
                    receipt.received_at.0,
                    self.now.0.saturating_add(self.held_ttl_ms),
                    receipt.state.code(),
                    st.stat,
                    st.err,
                    st.network_error_code,
                    st.done_date,
                    st.raw
                ])
            })
            .map_err(sql("holding a receipt"))?;
        if !existed {
            self.st.held += 1;
        }
        self.st.unmatched += 1;
        Ok(ReceiptMatch::Unmatched)
    }

    fn mo(&mut self, mo: MoMessage) -> Result<(MessageId, u64), StoreError> {
        let id = self.ids.next_at(self.now);
        let cursor = self.st.next_cursor;
        self.conn
            .prepare_cached(
                "INSERT INTO events (cursor, time, msg_id, kind, mo_from, mo_to, mo_text, mo_carrier,
                   mo_received_at, concat_ref, concat_total, concat_seq)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    cursor,
                    self.now.0,
                    id.as_i64(),
                    mo.from,
                    mo.to,
                    mo.text,
                    mo.carrier.as_str(),
                    mo.received_at.0,
                    mo.concat.map(|c| c.reference),
                    mo.concat.map(|c| c.total),
                    mo.concat.map(|c| c.seq)
                ])
            })
            .map_err(sql("storing an MO"))?;
        self.pending.push(Event {
            cursor: u64::try_from(cursor).unwrap_or(0),
            time: self.now,
            message_id: id,
            data: EventData::Mo(mo),
        });
        self.st.next_cursor += 1;
        Ok((id, u64::try_from(cursor).unwrap_or(0)))
    }

    fn cancel(&mut self, id: MessageId) -> Result<CancelOutcome, StoreError> {
        let msg = id.as_i64();
        let mut head = self.head(msg)?.ok_or(StoreError::NotFound(id))?;
        if head.state.is_final() {
            return Ok(CancelOutcome::AlreadyFinal(head.state));
        }
        let segs = self.segments(msg)?;
        let sent = segs
            .iter()
            .any(|s| s.lease.is_some() || s.carrier_msg_id.is_some());
        let mut cancelled = 0u16;
        for s in &segs {
            if s.state == MessageState::Queued && s.lease.is_none() {
                self.dequeue(&head, s)?;
                self.set_segment(&mut head, s.idx, s.state, MessageState::Cancelled)?;
                cancelled += 1;
            }
        }
        if !sent {
            return Ok(CancelOutcome::Cancelled);
        }
        // cancel_sm quotes the ids as the carrier gave them, not the normalized keys `segs` holds.
        let mut carrier_message_ids = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT idx, COALESCE(carrier_msg_id_raw, carrier_msg_id) FROM segments
                     WHERE msg_id = ?1 AND carrier_msg_id IS NOT NULL ORDER BY idx",
                )
                .map_err(sql("reading carrier message ids"))?;
            let rows = stmt
                .query_map([msg], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(sql("reading carrier message ids"))?;
            for row in rows {
                let (idx, cid) = row.map_err(sql("reading carrier message ids"))?;
                carrier_message_ids.push((u16_of(idx, "segments.idx")?, cid));
            }
        }
        Ok(CancelOutcome::AlreadySubmitted {
            carrier: head.carrier.clone(),
            carrier_message_ids,
            in_flight: segs.iter().filter(|s| s.lease.is_some()).count() as u16,
            cancelled_segments: cancelled,
        })
    }

    /// The carrier cancelled these segments (cancel_sm_resp OK): each one still live becomes `Cancelled`.
    fn carrier_cancel(
        &mut self,
        id: MessageId,
        cancelled: &[u16],
    ) -> Result<CarrierCancelApplied, StoreError> {
        let msg = id.as_i64();
        let mut head = self.head(msg)?.ok_or(StoreError::NotFound(id))?;
        let mut done = 0u16;
        let mut unchanged = 0u16;
        let segs = self.segments(msg)?;
        for &idx in cancelled {
            let Some(seg) = segs.iter().find(|s| s.idx == idx) else {
                unchanged = unchanged.saturating_add(1);
                continue;
            };
            // Read again: an earlier item of this list may be the same segment.
            let state = match self.head_seg(msg, idx)? {
                Some((_, s)) => s.state,
                None => seg.state,
            };
            if state.is_final() {
                unchanged = unchanged.saturating_add(1);
                continue;
            }
            if state == MessageState::Queued && seg.lease.is_none() {
                // Requeued after an unknown outcome, but the carrier had it and cancelled it: don't resend.
                self.dequeue(&head, seg)?;
            }
            // A segment leased right now (a resend in flight) keeps its lease: the outcome releases it and,
            // the state being final, changes nothing else.
            let upd = SegUpdate {
                last_error: Some("cancelled by the carrier (cancel_sm)"),
                ..SegUpdate::default()
            };
            self.update_segment(&mut head, idx, state, MessageState::Cancelled, &upd)?;
            done = done.saturating_add(1);
        }
        Ok(CarrierCancelApplied {
            cancelled: done,
            unchanged,
            message_state: head.state,
        })
    }

    /// Leases taken before `before` and still unanswered: their outcome is unknown, so they go back to the
    /// queue as resends (like the leases found at open).
    fn requeue_stale(&mut self, before: UnixMs) -> Result<u64, StoreError> {
        let stale: Vec<(i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT msg_id, idx FROM segments
                     WHERE lease IS NOT NULL AND (leased_at IS NULL OR leased_at < ?1)",
                )
                .map_err(sql("finding stale leases"))?;
            let rows = stmt
                .query_map([before.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql("finding stale leases"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql("finding stale leases"))?
        };
        let mut n = 0;
        for (msg, idx) in stale {
            let idx = u16_of(idx, "segments.idx")?;
            let Some((mut head, seg)) = self.head_seg(msg, idx)? else {
                continue;
            };
            let live = !seg.state.is_final();
            let upd = SegUpdate {
                release_lease: true,
                last_error: Some("lease expired without an outcome"),
                count_resend: live,
                ..SegUpdate::default()
            };
            self.update_segment(&mut head, idx, seg.state, seg.state, &upd)?;
            let s = self.st.stat(&head.carrier);
            s.in_flight = s.in_flight.saturating_sub(1);
            if live {
                self.st.resends += 1;
                self.enqueue(&head, idx)?;
                n += 1;
            }
        }
        if n > 0 {
            tracing::warn!(
                segments = n,
                "leases expired without an outcome: requeued as resends"
            );
        }
        Ok(n)
    }

    fn give_up_receipts(
        &mut self,
        deadlines: &[(CarrierId, UnixMs)],
    ) -> Result<GaveUp, StoreError> {
        /// Messages per request: a long backlog is worked off over several ticks.
        const MAX_MESSAGES: usize = 10_000;
        let Some(latest) = deadlines.iter().map(|(_, before)| before.0).max() else {
            return Ok(GaveUp::default());
        };
        let ids: Vec<i64> = {
            // `messages_awaiting_receipt` (migration 5) holds exactly the rows with state = 2 and
            // want_receipt = 1, by validity: one range read up to the latest deadline serves every carrier.
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, carrier, valid_until FROM messages
                     WHERE state = 2 AND want_receipt = 1 AND valid_until < ?1
                     ORDER BY valid_until",
                )
                .map_err(sql("finding messages past their receipt timeout"))?;
            let rows = stmt
                .query_map([latest], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(sql("finding messages past their receipt timeout"))?;
            let mut ids = Vec::new();
            for row in rows {
                let (id, carrier, valid_until) =
                    row.map_err(sql("finding messages past their receipt timeout"))?;
                let due = deadlines
                    .iter()
                    .any(|(c, before)| c.as_str() == carrier && valid_until < before.0);
                if due {
                    ids.push(id);
                    if ids.len() >= MAX_MESSAGES {
                        break;
                    }
                }
            }
            ids
        };
        let mut ended = GaveUp::default();
        let reason =
            "no receipt from the carrier within its receipt_timeout after the validity ran out";
        for msg in ids {
            let Some(mut head) = self.head(msg)? else {
                continue;
            };
            for s in self.segments(msg)? {
                // A leased segment is being resent: its outcome decides. Only SUBMITTED ends, so a segment
                // ends UNKNOWN at most once, and one a late receipt took on from UNKNOWN is never touched.
                if s.state == MessageState::Submitted && s.lease.is_none() {
                    let upd = SegUpdate {
                        last_error: Some(reason),
                        ..SegUpdate::default()
                    };
                    self.update_segment(&mut head, s.idx, s.state, MessageState::Unknown, &upd)?;
                    *ended.segments.entry(head.carrier.clone()).or_default() += 1;
                    self.st.stat(&head.carrier).receipts_given_up += 1;
                }
            }
        }
        Ok(ended)
    }

    fn expire(&mut self, now: UnixMs) -> Result<ExpireReport, StoreError> {
        let mut report = ExpireReport::default();
        let ids: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id FROM messages WHERE state = 1 AND valid_until <= ?1 LIMIT 10000",
                )
                .map_err(sql("finding expired messages"))?;
            let rows = stmt
                .query_map([now.0], |r| r.get(0))
                .map_err(sql("finding expired messages"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql("finding expired messages"))?
        };
        for msg in ids {
            let Some(mut head) = self.head(msg)? else {
                continue;
            };
            let mut any = false;
            for s in self.segments(msg)? {
                if s.state == MessageState::Queued && s.lease.is_none() {
                    self.dequeue(&head, &s)?;
                    self.set_segment(&mut head, s.idx, s.state, MessageState::Expired)?;
                    report.segments += 1;
                    any = true;
                }
            }
            if any {
                report.messages += 1;
            }
        }
        let dropped = self
            .conn
            .prepare_cached("DELETE FROM held_receipts WHERE expires_at <= ?1")
            .and_then(|mut s| s.execute([now.0]))
            .map_err(sql("dropping old held receipts"))?;
        self.st.held = self.st.held.saturating_sub(dropped as u64);
        report.held_receipts_dropped = dropped as u64;
        Ok(report)
    }
}

enum MessageLookup<'a> {
    Id(MessageId),
    ClientRef(&'a ClientId, &'a str),
}

fn read_message(
    conn: &Connection,
    lookup: MessageLookup<'_>,
) -> Result<Option<Message>, StoreError> {
    const COLS: &str = "id, client, client_ref, to_addr, from_addr, body_kind, body, data_coding, encoding, carrier,
        priority, want_receipt, valid_until, tags, state, accepted_at, queued_at, submitted_at, final_at";
    type Row = (
        i64,
        String,
        Option<String>,
        String,
        String,
        i64,
        Vec<u8>,
        Option<i64>,
        String,
        String,
        i64,
        bool,
        i64,
        Option<String>,
        i64,
        (i64, Option<i64>, Option<i64>, Option<i64>),
    );
    let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            (r.get(15)?, r.get(16)?, r.get(17)?, r.get(18)?),
        ))
    };
    let row = match lookup {
        MessageLookup::Id(id) => conn
            .prepare_cached(&format!("SELECT {COLS} FROM messages WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id.as_i64()], map).optional()),
        MessageLookup::ClientRef(client, client_ref) => conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM messages WHERE client = ?1 AND client_ref = ?2"
            ))
            .and_then(|mut s| {
                s.query_row(params![client.as_str(), client_ref], map)
                    .optional()
            }),
    }
    .map_err(sql("reading a message"))?;
    let Some((
        id,
        client,
        client_ref,
        to,
        from,
        body_kind,
        body,
        data_coding,
        encoding,
        carrier,
        priority,
        want_receipt,
        valid_until,
        tags,
        state,
        (accepted_at, queued_at, submitted_at, final_at),
    )) = row
    else {
        return Ok(None);
    };
    let body = match body_kind {
        0 => Body::Text(
            String::from_utf8(body)
                .map_err(|e| corrupt("messages.body", format!("text is not UTF-8: {e}")))?,
        ),
        1 => Body::Binary {
            data: body,
            data_coding: data_coding
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| corrupt("messages.data_coding", "missing or out of range"))?,
        },
        k => {
            return Err(corrupt(
                "messages.body_kind",
                format!("unknown body kind {k}"),
            ));
        }
    };
    let tags: BTreeMap<String, String> = match tags {
        None => BTreeMap::new(),
        Some(t) => serde_json::from_str(&t).map_err(|e| corrupt("messages.tags", e.to_string()))?,
    };

    let mut segments = Vec::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT idx, state, carrier_msg_id, attempts, resends, lease, retry_at, submitted_at, final_at,
                        last_error, stat, err, network_error_code, done_date, receipt_raw,
                        COALESCE(carrier_msg_id_raw, carrier_msg_id)
                 FROM segments WHERE msg_id = ?1 ORDER BY idx",
            )
            .map_err(sql("reading segments"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ),
                    CarrierStatus {
                        stat: r.get(10)?,
                        err: r.get(11)?,
                        network_error_code: r.get(12)?,
                        done_date: r.get(13)?,
                        raw: r.get(14)?,
                    },
                    r.get::<_, Option<String>>(15)?,
                ))
            })
            .map_err(sql("reading segments"))?;
        for row in rows {
            let (
                (idx, st, cid, attempts, resends, lease, retry_at, sub_at, fin_at, last_error),
                status,
                cid_raw,
            ) = row.map_err(sql("reading segments"))?;
            let has_status = status != CarrierStatus::default();
            segments.push(SegmentInfo {
                index: u16_of(idx, "segments.idx")?,
                state: state_of(st, "segments.state")?,
                carrier_message_id: cid,
                carrier_message_id_raw: cid_raw,
                attempts: u32_of(attempts, "segments.attempts")?,
                resends: u32_of(resends, "segments.resends")?,
                in_flight: lease.is_some(),
                retry_at: retry_at.map(UnixMs),
                submitted_at: sub_at.map(UnixMs),
                final_at: fin_at.map(UnixMs),
                last_error,
                carrier_status: has_status.then_some(status),
            });
        }
    }
    Ok(Some(Message {
        id: id_of(id)?,
        client: ClientId::new(client),
        client_ref,
        to,
        from,
        body,
        encoding,
        carrier: CarrierId::new(carrier),
        priority: Priority::from_code(priority)
            .ok_or_else(|| corrupt("messages.priority", format!("unknown priority {priority}")))?,
        want_receipt,
        valid_until: UnixMs(valid_until),
        tags,
        state: state_of(state, "messages.state")?,
        segments,
        accepted_at: UnixMs(accepted_at),
        queued_at: queued_at.map(UnixMs),
        submitted_at: submitted_at.map(UnixMs),
        final_at: final_at.map(UnixMs),
    }))
}

/// Events with `after < cursor <= upto` whose kind is in `mask`, at most `limit`, oldest first.
fn read_events(
    conn: &Connection,
    after: u64,
    upto: u64,
    mask: i64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let upto = i64::try_from(upto).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT cursor, time, msg_id, kind, old_state, new_state, segment, mo_from, mo_to, mo_text,
                    mo_carrier, mo_received_at, concat_ref, concat_total, concat_seq
             FROM events WHERE cursor > ?1 AND cursor <= ?3 AND ((?2 >> kind) & 1) = 1 ORDER BY cursor",
        )
        .map_err(sql("reading events"))?;
    // No `LIMIT ?` (a bound LIMIT re-prepares the statement at every call): rows come lazily in cursor
    // order, and `take` stops reading.
    let rows = stmt
        .query_map(params![after, mask, upto], |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ),
                (
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                    r.get::<_, Option<i64>>(12)?,
                    r.get::<_, Option<i64>>(13)?,
                    r.get::<_, Option<i64>>(14)?,
                ),
            ))
        })
        .map_err(sql("reading events"))?;
    let mut out = Vec::new();
    for row in rows.take(limit) {
        let (
            (cursor, time, msg, kind, old, new, segment),
            (from, to, text, carrier, rx_at, cref, ctotal, cseq),
        ) = row.map_err(sql("reading events"))?;
        let data = match kind {
            0 => EventData::StateChange {
                old: old.map(|o| state_of(o, "events.old_state")).transpose()?,
                new: state_of(
                    new.ok_or_else(|| corrupt("events.new_state", "missing"))?,
                    "events.new_state",
                )?,
                segment: segment.map(|s| u16_of(s, "events.segment")).transpose()?,
            },
            1 => {
                let concat = match (cref, ctotal, cseq) {
                    (Some(r), Some(t), Some(s)) => Some(ConcatInfo {
                        reference: u16_of(r, "events.concat_ref")?,
                        total: u8::try_from(t)
                            .map_err(|_| corrupt("events.concat_total", t.to_string()))?,
                        seq: u8::try_from(s)
                            .map_err(|_| corrupt("events.concat_seq", s.to_string()))?,
                    }),
                    _ => None,
                };
                EventData::Mo(MoMessage {
                    from: from.unwrap_or_default(),
                    to: to.unwrap_or_default(),
                    text: text.unwrap_or_default(),
                    carrier: CarrierId::new(carrier.unwrap_or_default()),
                    received_at: UnixMs(rx_at.unwrap_or(time)),
                    concat,
                })
            }
            k => return Err(corrupt("events.kind", format!("unknown kind {k}"))),
        };
        out.push(Event {
            cursor: u64::try_from(cursor)
                .map_err(|_| corrupt("events.cursor", cursor.to_string()))?,
            time: UnixMs(time),
            message_id: id_of(msg)?,
            data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
