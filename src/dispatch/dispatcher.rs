//! One carrier's dispatcher: claims ready segments from the store in bounded batches, takes one token of the
//! carrier's rate limit per segment, hands each to a ready link of the carrier (round-robin, as many in
//! flight as the links' windows allow), and records the outcomes in batches.
//!
//! A link is an SMPP bind (a submit_sm per segment, `window` in flight) or a GSM modem (an SMS-SUBMIT TPDU
//! per segment, one at a time, and the modem's own rate limit on top of the carrier's): see [`LinkKind`].
//!
//! Flow control: each link has a semaphore of `window` permits, held from hand-over to outcome. A claimer
//! task claims ahead of the sends, at most the sum of the windows (and at most [`MAX_CLAIM`]) beyond what is
//! in flight, so a claim's commit overlaps the sending of the batch before it; at most twice the windows are
//! leased, and the rest of the queue stays on disk. Outcomes go through a bounded channel to a recorder task that writes them with one
//! `record_outcomes` per batch.

use std::sync::Arc;
use std::time::Duration;

use smsbridge_protocol::smpp::CommandStatus;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use smsbridge_hw::ModemHandle;

use super::modem::{self, ModemOutcome};
use super::pdu;
use crate::config::{CarrierConfig, MessageIdFormat, RetryPolicy, Segmentation};
use crate::link::smpp::{LinkHandle, SubmitOutcome, SubmitRequest};
use crate::metrics::GatewayMetrics;
use crate::model::{CarrierId, UnixMs};
use crate::ratelimit::RateLimiter;
use crate::store::{Dispatch, DispatchKey, Outcome, PermanentStatus, Store, StoreError};

/// Most segments claimed in one call.
const MAX_CLAIM: usize = 256;
/// Most outcomes written in one request.
const MAX_RECORD: usize = 512;
/// Wait between claims when the queue is empty and nothing was committed (retry times come due silently).
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Least wait after an empty claim, so a busy event log does not turn into a claim per commit.
const MIN_IDLE: Duration = Duration::from_millis(5);
/// How often the links are looked at while none is bound.
const DOWN_POLL: Duration = Duration::from_millis(100);
/// How long claimed segments wait for a bound link before they go back to the queue.
const NO_LINK_GIVE_UP: Duration = Duration::from_secs(1);

/// How the dispatcher reaches one link.
#[derive(Clone)]
pub enum LinkKind {
    /// An SMPP bind: a submit_sm per segment.
    Smpp(LinkHandle),
    /// A GSM modem: an SMS-SUBMIT TPDU per segment with `AT+CMGS`. `limiter` is the modem's own
    /// `rate_limit`, taken on top of the carrier's when the modem is picked.
    Modem {
        handle: ModemHandle,
        limiter: Option<Arc<RateLimiter>>,
    },
}

/// One link of a carrier as the dispatcher sees it.
pub struct DispatchLink {
    pub name: String,
    pub kind: LinkKind,
    /// `window` permits: a submit holds one from hand-over to outcome.
    pub permits: Arc<Semaphore>,
}

impl DispatchLink {
    /// An SMPP link with `window` submits in flight.
    pub fn new(name: String, handle: LinkHandle, window: usize) -> Self {
        DispatchLink {
            name,
            kind: LinkKind::Smpp(handle),
            permits: Arc::new(Semaphore::new(window.max(1))),
        }
    }

    /// A modem: one segment at a time (the modem sends one `AT+CMGS` after the other anyway; a segment
    /// queued behind another would only sit leased longer).
    pub fn modem(name: String, handle: ModemHandle, limiter: Option<Arc<RateLimiter>>) -> Self {
        DispatchLink {
            name,
            kind: LinkKind::Modem { handle, limiter },
            permits: Arc::new(Semaphore::new(1)),
        }
    }

    /// Whether the link can take a segment now: an SMPP link bound, a modem ready and registered.
    pub fn is_ready(&self) -> bool {
        match &self.kind {
            LinkKind::Smpp(h) => h.is_bound(),
            LinkKind::Modem { handle, .. } => handle.is_healthy(),
        }
    }
}

/// What one carrier's dispatcher needs.
pub struct Dispatcher {
    pub carrier: CarrierId,
    pub segmentation: Segmentation,
    /// Tell the carrier the time left until each message's valid_until (the carrier's `send_validity`).
    pub send_validity: bool,
    pub message_id_format: MessageIdFormat,
    pub retry: RetryPolicy,
    /// Shared so handing a segment to a link clones a pointer, not the link.
    pub links: Vec<Arc<DispatchLink>>,
    pub store: Store,
    pub limiter: Arc<RateLimiter>,
    pub metrics: GatewayMetrics,
    /// Longest a submit may take from hand-over to outcome (the link's own timeout covers written submits;
    /// this covers a link that went down with the submit still queued in front of it).
    pub submit_timeout: Duration,
}

/// A finished submit on its way to the store.
struct Completion {
    key: DispatchKey,
    attempt: u32,
    result: SubmitResult,
    elapsed: Duration,
}

#[derive(Debug)]
enum SubmitResult {
    Link(SubmitOutcome),
    Modem(ModemOutcome),
    TimedOut,
    /// Never handed to a link (shutdown, no link): back to the queue, not counted.
    Returned(&'static str),
    Unbuildable(String),
}

impl Dispatcher {
    /// Builds a dispatcher for `carrier` over `links`.
    pub fn new(
        carrier: &CarrierConfig,
        links: Vec<DispatchLink>,
        store: Store,
        limiter: Arc<RateLimiter>,
        metrics: GatewayMetrics,
        submit_timeout: Duration,
    ) -> Self {
        Dispatcher {
            carrier: CarrierId::new(carrier.id.as_str()),
            segmentation: carrier.segmentation,
            send_validity: carrier.send_validity,
            message_id_format: carrier.message_id_format,
            retry: carrier.retry.clone(),
            links: links.into_iter().map(Arc::new).collect(),
            store,
            limiter,
            metrics,
            submit_timeout,
        }
    }

    /// Runs until `shutdown`; then stops claiming, waits for every submit in flight and records its outcome.
    pub async fn run(self, shutdown: CancellationToken) {
        let (done_tx, done_rx) = mpsc::channel::<Completion>(MAX_RECORD * 2);
        let recorder = tokio::spawn(record_loop(
            self.store.clone(),
            done_rx,
            self.carrier.clone(),
            self.message_id_format,
            self.retry.clone(),
            self.metrics.clone(),
        ));
        let freed = Arc::new(Notify::new());
        // Claims run ahead of the sends in their own task, so a claim's commit overlaps the sending of the
        // batch before it instead of stalling the links once per batch.
        let ahead = Arc::new(Ahead {
            cap: self
                .links
                .iter()
                .map(|l| l.permits.available_permits())
                .sum::<usize>()
                .clamp(1, MAX_CLAIM),
            pending: std::sync::atomic::AtomicUsize::new(0),
            taken: Notify::new(),
        });
        let (batches_tx, mut batches) = mpsc::channel::<Vec<Dispatch>>(4);
        let claimer = tokio::spawn(claim_ahead(
            self.store.clone(),
            self.carrier.clone(),
            self.links.clone(),
            Arc::clone(&self.limiter),
            Arc::clone(&ahead),
            batches_tx,
            shutdown.clone(),
        ));
        let mut rr = 0usize;
        'outer: while !shutdown.is_cancelled() {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                b = batches.recv() => match b {
                    Some(b) => b,
                    None => break,
                },
            };
            ahead.hand_over(batch.len());
            let mut batch = batch.into_iter();
            while let Some(d) = batch.next() {
                let acquired = tokio::select! {
                    r = self.limiter.acquire(1) => r.is_ok(),
                    _ = shutdown.cancelled() => false,
                };
                if !acquired {
                    // Shutdown (or a limiter that can never grant one): these go back to the queue.
                    for d in std::iter::once(d).chain(batch.by_ref()) {
                        send_done(&done_tx, &d, SubmitResult::Returned("shutdown")).await;
                    }
                    break 'outer;
                }
                let Some((link, permit)) = self.pick_link(&mut rr, &freed, &shutdown).await else {
                    self.limiter.give_back(1);
                    let reason = if shutdown.is_cancelled() {
                        "shutdown"
                    } else {
                        "no bound link"
                    };
                    for d in std::iter::once(d).chain(batch.by_ref()) {
                        send_done(&done_tx, &d, SubmitResult::Returned(reason)).await;
                    }
                    continue 'outer;
                };
                // Waiting for the rate limit or a window slot may have outlived the message's validity:
                // it is never sent after it (the store makes it EXPIRED).
                if d.valid_until <= UnixMs::now() {
                    self.limiter.give_back(1);
                    link.give_back_own_token();
                    drop(permit);
                    send_done(
                        &done_tx,
                        &d,
                        SubmitResult::Returned("its validity ran out while it waited to be sent"),
                    )
                    .await;
                    continue;
                }
                // The time left is taken now, as late as possible before the link writes the PDU.
                let remaining = self
                    .send_validity
                    .then(|| pdu::remaining(&d, UnixMs::now()));
                let built = match &link.kind {
                    LinkKind::Smpp(_) => {
                        pdu::submit_sm(&d, self.segmentation, remaining).map(Built::Smpp)
                    }
                    LinkKind::Modem { .. } => pdu::submit_tpdu(&d, remaining).map(Built::Modem),
                };
                let built = match built {
                    Ok(b) => b,
                    Err(err) => {
                        self.limiter.give_back(1);
                        link.give_back_own_token();
                        drop(permit);
                        send_done(&done_tx, &d, SubmitResult::Unbuildable(err.to_string())).await;
                        continue;
                    }
                };
                self.metrics
                    .submitted
                    .with_label_values(&[self.carrier.as_str()])
                    .inc();
                let done = done_tx.clone();
                let freed = Arc::clone(&freed);
                let limiter = Arc::clone(&self.limiter);
                let limit = self.submit_timeout;
                // Everything logged about this segment's submit carries its ids. A disabled debug span is
                // `Span::none()`: no allocation, its fields are never evaluated, entering it is a branch.
                let span = tracing::debug_span!(
                    "submit",
                    carrier = %self.carrier,
                    link = %link.name,
                    message_id = %d.message_id,
                    segment = d.segment,
                    attempt = d.attempt,
                    resend = d.resend,
                );
                let task = async move {
                    let started = Instant::now();
                    let result = match (built, &link.kind) {
                        (Built::Smpp(sm), LinkKind::Smpp(handle)) => {
                            match tokio::time::timeout(
                                limit,
                                handle.submit(SubmitRequest::SubmitSm(sm)),
                            )
                            .await
                            {
                                Ok(outcome @ SubmitOutcome::NotSent { .. }) => {
                                    limiter.give_back(1);
                                    SubmitResult::Link(outcome)
                                }
                                Ok(outcome) => SubmitResult::Link(outcome),
                                Err(_) => SubmitResult::TimedOut,
                            }
                        }
                        (Built::Modem(tpdu), LinkKind::Modem { handle, .. }) => {
                            match tokio::time::timeout(limit, handle.send_tpdu(tpdu)).await {
                                Ok(r) => {
                                    let outcome = modem::outcome(r);
                                    if outcome.not_sent() {
                                        limiter.give_back(1);
                                        link.give_back_own_token();
                                    }
                                    SubmitResult::Modem(outcome)
                                }
                                Err(_) => SubmitResult::TimedOut,
                            }
                        }
                        // Cannot happen: `built` was made for this link's kind just above.
                        _ => SubmitResult::Returned("segment built for another kind of link"),
                    };
                    tracing::debug!(outcome = ?result, "link answered");
                    drop(permit);
                    freed.notify_one();
                    let _ = done
                        .send(Completion {
                            key: d.key(),
                            attempt: d.attempt,
                            result,
                            elapsed: started.elapsed(),
                        })
                        .await;
                };
                tokio::spawn(task.instrument(span));
            }
        }
        // Whatever was claimed ahead and not sent goes back to the queue. The claimer stops at shutdown
        // after handing over what it is claiming now; the channel ends when it has.
        while let Some(batch) = batches.recv().await {
            for d in &batch {
                send_done(&done_tx, d, SubmitResult::Returned("shutdown")).await;
            }
        }
        let _ = claimer.await;
        drop(done_tx);
        // Every submit task holds a sender: the recorder ends once the last outcome is written.
        let _ = recorder.await;
    }

    /// A ready link with a free window slot (and, for a modem with its own rate limit, a token of it),
    /// round-robin from `rr`; waits for a slot, and gives up after [`NO_LINK_GIVE_UP`] without a ready
    /// link, or at shutdown.
    async fn pick_link(
        &self,
        rr: &mut usize,
        freed: &Notify,
        shutdown: &CancellationToken,
    ) -> Option<(Arc<DispatchLink>, OwnedSemaphorePermit)> {
        let n = self.links.len();
        let mut unready_since: Option<Instant> = None;
        loop {
            let mut any_ready = false;
            for i in 0..n {
                let idx = (*rr + i) % n;
                let Some(link) = self.links.get(idx) else {
                    continue;
                };
                if !link.is_ready() {
                    continue;
                }
                any_ready = true;
                if let Ok(permit) = Arc::clone(&link.permits).try_acquire_owned() {
                    if !link.take_own_token() {
                        // The modem's own limit is spent: try the next link, come back after a wait.
                        continue;
                    }
                    *rr = (idx + 1) % n;
                    return Some((Arc::clone(link), permit));
                }
            }
            if any_ready {
                unready_since = None;
            } else {
                let since = *unready_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= NO_LINK_GIVE_UP {
                    return None;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = freed.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }
}

/// Segments claimed but not yet handed to a link: at most `cap` (the carriers' windows, at most
/// [`MAX_CLAIM`]), so what is leased stays bounded by the windows plus this.
struct Ahead {
    cap: usize,
    pending: std::sync::atomic::AtomicUsize,
    /// Signalled when the sender takes a batch.
    taken: Notify,
}

impl Ahead {
    fn pending(&self) -> usize {
        self.pending.load(std::sync::atomic::Ordering::Acquire)
    }

    fn hand_over(&self, n: usize) {
        self.pending
            .fetch_sub(n, std::sync::atomic::Ordering::AcqRel);
        self.taken.notify_one();
    }
}

/// Claims batches for the sender while there is room ahead of it, as [`Dispatcher::run`] used to between
/// sends: only while a link is ready, no more than the rate limit lets go now beyond what already waits,
/// and after an empty claim only when something was committed (or [`IDLE_POLL`] passed).
async fn claim_ahead(
    store: Store,
    carrier: CarrierId,
    links: Vec<Arc<DispatchLink>>,
    limiter: Arc<RateLimiter>,
    ahead: Arc<Ahead>,
    batches: mpsc::Sender<Vec<Dispatch>>,
    shutdown: CancellationToken,
) {
    let mut events = store.subscribe();
    while !shutdown.is_cancelled() {
        if !links.iter().any(|l| l.is_ready()) {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(DOWN_POLL) => continue,
            }
        }
        let pending = ahead.pending();
        let room = ahead.cap.saturating_sub(pending);
        // Lease no more than the rate limit lets go now (at least one when nothing waits): a segment must
        // not sit leased behind the limiter long enough to look abandoned.
        let sendable = usize::try_from(limiter.available())
            .unwrap_or(usize::MAX)
            .saturating_sub(pending);
        let want = match (room, sendable) {
            (0, _) => 0,
            (_, 0) if pending > 0 => 0,
            (room, sendable) => room.min(sendable.max(1)).min(MAX_CLAIM),
        };
        if want == 0 {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ahead.taken.notified() => {}
                _ = tokio::time::sleep(DOWN_POLL) => {}
            }
            continue;
        }
        let batch = match store.claim(&carrier, want, UnixMs::now()).await {
            Ok(b) => b,
            Err(StoreError::Closed) => break,
            Err(err) => {
                tracing::warn!(carrier = %carrier, error = %err, "claim failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(IDLE_POLL) => continue,
                }
            }
        };
        if batch.is_empty() {
            tokio::time::sleep(MIN_IDLE).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = events.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        ahead
            .pending
            .fetch_add(batch.len(), std::sync::atomic::Ordering::AcqRel);
        // Leased now: the sender takes every batch until this task ends, also at shutdown (it returns them
        // to the queue then), so the send fails only if the sender is gone: then so is the process's
        // dispatching, and the leases are taken back by the stale-lease sweep or at the next start.
        if batches.send(batch).await.is_err() {
            break;
        }
    }
}

/// A segment built for the link it goes to.
enum Built {
    Smpp(smsbridge_protocol::smpp::SubmitSm<'static>),
    Modem(Vec<u8>),
}

impl DispatchLink {
    /// Takes a token of the link's own rate limit (modems with `rate_limit`); true when there is none.
    fn take_own_token(&self) -> bool {
        match &self.kind {
            LinkKind::Modem {
                limiter: Some(l), ..
            } => l.try_acquire(1).is_ok(),
            _ => true,
        }
    }

    /// Returns the token [`DispatchLink::take_own_token`] took, for a segment that was not sent.
    fn give_back_own_token(&self) {
        if let LinkKind::Modem {
            limiter: Some(l), ..
        } = &self.kind
        {
            l.give_back(1);
        }
    }
}

async fn send_done(done: &mpsc::Sender<Completion>, d: &Dispatch, result: SubmitResult) {
    let _ = done
        .send(Completion {
            key: d.key(),
            attempt: d.attempt,
            result,
            elapsed: Duration::ZERO,
        })
        .await;
}

/// Writes outcomes in batches until every sender is gone.
async fn record_loop(
    store: Store,
    mut done: mpsc::Receiver<Completion>,
    carrier: CarrierId,
    format: MessageIdFormat,
    retry: RetryPolicy,
    metrics: GatewayMetrics,
) {
    let label = [carrier.as_str()];
    let mut batch = Vec::with_capacity(MAX_RECORD);
    while let Some(first) = done.recv().await {
        batch.clear();
        batch.push(first);
        while batch.len() < MAX_RECORD {
            match done.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let now = UnixMs::now();
        let outcomes: Vec<(DispatchKey, Outcome)> = batch
            .iter()
            .map(|c| (c.key, outcome(c, now, format, &retry, &metrics, &label)))
            .collect();
        let results = store.record_outcomes(outcomes).await;
        for (c, r) in batch.iter().zip(results) {
            match r {
                Ok(_) => {}
                Err(StoreError::StaleLease { .. }) => {
                    // Taken back by requeue_stale_leases meanwhile: it will be sent again, counted.
                    tracing::debug!(carrier = %carrier, message_id = %c.key.message_id, segment = c.key.segment, "outcome for a stale lease");
                }
                Err(err) => {
                    tracing::warn!(carrier = %carrier, message_id = %c.key.message_id, segment = c.key.segment, error = %err, "recording an outcome failed");
                }
            }
        }
    }
}

/// The store outcome of one completion, counting it in the metrics.
fn outcome(
    c: &Completion,
    now: UnixMs,
    format: MessageIdFormat,
    retry: &RetryPolicy,
    metrics: &GatewayMetrics,
    label: &[&str; 1],
) -> Outcome {
    let transient = |reason: String| {
        if retry.may_retry(c.attempt) {
            let wait = retry.backoff(c.attempt);
            Outcome::Transient {
                retry_at: now.plus_ms(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                reason,
            }
        } else {
            metrics.failed.with_label_values(label).inc();
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                reason: format!("{reason}; gave up after {} attempts", c.attempt),
            }
        }
    };
    match &c.result {
        SubmitResult::Link(SubmitOutcome::Accepted { message_id }) => {
            metrics.accepted.with_label_values(label).inc();
            metrics
                .accept_latency
                .with_label_values(label)
                .observe(c.elapsed.as_secs_f64());
            // Matched by the normalized id; quoted (cancel_sm) and shown as the carrier gave it.
            Outcome::Submitted {
                carrier_message_id: format.normalize(message_id),
                carrier_message_id_raw: message_id.clone(),
            }
        }
        SubmitResult::Link(SubmitOutcome::Rejected { status }) => {
            metrics.failed.with_label_values(label).inc();
            Outcome::Permanent {
                status: PermanentStatus::Rejected,
                reason: status_reason(*status),
            }
        }
        SubmitResult::Link(SubmitOutcome::Transient { status }) => {
            metrics.throttles.with_label_values(label).inc();
            transient(status_reason(*status))
        }
        SubmitResult::Link(SubmitOutcome::Unknown { reason }) => {
            metrics.unknown.with_label_values(label).inc();
            Outcome::Unknown {
                reason: format!("{reason:?}"),
            }
        }
        SubmitResult::TimedOut => {
            metrics.unknown.with_label_values(label).inc();
            Outcome::Unknown {
                reason: "no outcome from the link in time".into(),
            }
        }
        SubmitResult::Modem(m) => modem_outcome(m, c, now, &transient, metrics, label),
        SubmitResult::Link(SubmitOutcome::NotSent { reason }) => Outcome::Transient {
            retry_at: now,
            reason: format!("not sent: {reason:?}"),
        },
        SubmitResult::Returned(reason) => Outcome::Transient {
            retry_at: now,
            reason: format!("not sent: {reason}"),
        },
        SubmitResult::Unbuildable(reason) => {
            metrics.failed.with_label_values(label).inc();
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                reason: reason.clone(),
            }
        }
    }
}

/// The store outcome of a modem's answer. A modem's carrier message id is ours (see
/// [`modem::carrier_message_id`]), so the carrier's `message_id_format` does not apply to it.
fn modem_outcome(
    m: &ModemOutcome,
    c: &Completion,
    now: UnixMs,
    transient: &dyn Fn(String) -> Outcome,
    metrics: &GatewayMetrics,
    label: &[&str; 1],
) -> Outcome {
    match m {
        ModemOutcome::Accepted { carrier_message_id } => {
            metrics.accepted.with_label_values(label).inc();
            metrics
                .accept_latency
                .with_label_values(label)
                .observe(c.elapsed.as_secs_f64());
            Outcome::Submitted {
                carrier_message_id: carrier_message_id.clone(),
                carrier_message_id_raw: carrier_message_id.clone(),
            }
        }
        ModemOutcome::Rejected { reason } => {
            metrics.failed.with_label_values(label).inc();
            Outcome::Permanent {
                status: PermanentStatus::Rejected,
                reason: reason.clone(),
            }
        }
        ModemOutcome::Failed { reason } => {
            metrics.failed.with_label_values(label).inc();
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                reason: reason.clone(),
            }
        }
        ModemOutcome::Transient { reason } => {
            metrics.throttles.with_label_values(label).inc();
            transient(reason.clone())
        }
        ModemOutcome::Unknown { reason } => {
            metrics.unknown.with_label_values(label).inc();
            Outcome::Unknown {
                reason: reason.clone(),
            }
        }
        ModemOutcome::NotSent { reason } => Outcome::Transient {
            retry_at: now,
            reason: format!("not sent: {reason}"),
        },
    }
}

fn status_reason(status: CommandStatus) -> String {
    format!("{} ({:#010x})", status.name(), status.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::smpp::{NotSentReason, UnknownReason};
    use crate::model::MessageId;
    use crate::store::LeaseId;

    fn completion(result: SubmitResult, attempt: u32) -> Completion {
        Completion {
            key: DispatchKey {
                message_id: MessageId::from_u64(1).expect("id"),
                segment: 0,
                lease: LeaseId(1),
            },
            attempt,
            result,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn link_outcomes_become_store_outcomes() {
        let metrics = GatewayMetrics::new().expect("metrics");
        let retry = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            multiplier: 2.0,
            max_attempts: Some(3),
        };
        let now = UnixMs(1_000_000);
        let label = ["c"];
        let run = |r: SubmitResult, attempt: u32| {
            outcome(
                &completion(r, attempt),
                now,
                MessageIdFormat::Auto,
                &retry,
                &metrics,
                &label,
            )
        };
        assert_eq!(
            run(
                SubmitResult::Link(SubmitOutcome::Accepted {
                    message_id: "00AB12".into()
                }),
                1
            ),
            Outcome::Submitted {
                carrier_message_id: "ab12".into(),
                carrier_message_id_raw: "00AB12".into(),
            }
        );
        assert!(matches!(
            run(
                SubmitResult::Link(SubmitOutcome::Rejected {
                    status: CommandStatus::ESME_RINVDSTADR
                }),
                1
            ),
            Outcome::Permanent {
                status: PermanentStatus::Rejected,
                ..
            }
        ));
        // Transient: backoff 1 s after the first attempt, 2 s after the second; none after the third.
        let transient = || {
            SubmitResult::Link(SubmitOutcome::Transient {
                status: CommandStatus::ESME_RSYSERR,
            })
        };
        assert!(matches!(run(transient(), 1),
            Outcome::Transient { retry_at, .. } if retry_at == now.plus_ms(1_000)));
        assert!(matches!(run(transient(), 2),
            Outcome::Transient { retry_at, .. } if retry_at == now.plus_ms(2_000)));
        assert!(matches!(
            run(transient(), 3),
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                ..
            }
        ));
        assert!(matches!(
            run(
                SubmitResult::Link(SubmitOutcome::Unknown {
                    reason: UnknownReason::Timeout
                }),
                1
            ),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            run(SubmitResult::TimedOut, 1),
            Outcome::Unknown { .. }
        ));
        // Never written: back to the queue now, whatever the attempt count.
        assert!(matches!(
            run(
                SubmitResult::Link(SubmitOutcome::NotSent {
                    reason: NotSentReason::Shutdown
                }),
                9
            ),
            Outcome::Transient { retry_at, .. } if retry_at == now
        ));
        assert_eq!(metrics.accepted.with_label_values(&label).get(), 1);
        assert_eq!(metrics.throttles.with_label_values(&label).get(), 3);
        assert_eq!(metrics.unknown.with_label_values(&label).get(), 2);
    }

    #[test]
    fn modem_outcomes_become_store_outcomes() {
        let metrics = GatewayMetrics::new().expect("metrics");
        let retry = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            multiplier: 2.0,
            max_attempts: Some(3),
        };
        let now = UnixMs(1_000_000);
        let label = ["gsm"];
        let run = |m: ModemOutcome, attempt: u32| {
            outcome(
                &completion(SubmitResult::Modem(m), attempt),
                now,
                // Would strip zeros and fold case of an SMSC's id; a modem's id is ours and kept as it is.
                MessageIdFormat::Hex,
                &retry,
                &metrics,
                &label,
            )
        };
        assert_eq!(
            run(
                ModemOutcome::Accepted {
                    carrier_message_id: "GSM/modem0:7:0112345678".into()
                },
                1
            ),
            Outcome::Submitted {
                carrier_message_id: "GSM/modem0:7:0112345678".into(),
                carrier_message_id_raw: "GSM/modem0:7:0112345678".into(),
            }
        );
        let reason =
            || "modem answered +CMS ERROR: 21 (short message transfer rejected)".to_owned();
        assert_eq!(
            run(ModemOutcome::Rejected { reason: reason() }, 1),
            Outcome::Permanent {
                status: PermanentStatus::Rejected,
                reason: reason()
            }
        );
        assert!(matches!(
            run(ModemOutcome::Failed { reason: "x".into() }, 1),
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                ..
            }
        ));
        // Transient: the carrier's backoff, then given up after the last attempt.
        assert!(
            matches!(run(ModemOutcome::Transient { reason: "busy".into() }, 1),
            Outcome::Transient { retry_at, .. } if retry_at == now.plus_ms(1_000))
        );
        assert!(matches!(
            run(
                ModemOutcome::Transient {
                    reason: "busy".into()
                },
                3
            ),
            Outcome::Permanent {
                status: PermanentStatus::Failed,
                ..
            }
        ));
        assert!(matches!(
            run(ModemOutcome::Unknown { reason: "x".into() }, 1),
            Outcome::Unknown { .. }
        ));
        // Never written: back to the queue now, whatever the attempt count.
        assert!(matches!(
            run(ModemOutcome::NotSent { reason: "not ready".into() }, 9),
            Outcome::Transient { retry_at, .. } if retry_at == now
        ));
        assert_eq!(metrics.accepted.with_label_values(&label).get(), 1);
        assert_eq!(metrics.failed.with_label_values(&label).get(), 3);
        assert_eq!(metrics.throttles.with_label_values(&label).get(), 2);
        assert_eq!(metrics.unknown.with_label_values(&label).get(), 1);
    }
}
