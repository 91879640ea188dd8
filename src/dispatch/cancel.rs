//! Carrier cancel: the API's [`CarrierCancel`] hook over the SMPP links. Cancel of a message the carrier
//! already accepted sends cancel_sm (SMPP 3.4 §4.9.1) for each of its submitted segments and records the
//! segments the carrier cancelled as CANCELLED.
//!
//! The API call does not wait for the carrier: [`CarrierCanceller::request_carrier_cancel`] only puts the
//! request on a bounded queue (full: it answers false, and the client sees `carrier_cancel_requested:
//! false`). One task takes requests off the queue, a bounded number at a time; for each it picks a bound link
//! of the carrier, sends one cancel_sm per segment through the link's window, and then writes the segments
//! that were cancelled with one [`Store::record_carrier_cancel`].
//!
//! What the answers mean:
//! - ESME_ROK: the segment is cancelled at the carrier: CANCELLED (a final state; a receipt that comes later
//!   records its status fields but leaves the state).
//! - A refusal (ESME_RCANCELFAIL: already delivered, or the SMSC does not know the id; any permanent status):
//!   nothing changes; the segment's receipt tells how it ended. Logged and counted.
//! - No yes or no (a transient status, link down, no response in time): asked again a few times, then given
//!   up, logged and counted; nothing changes.
//!
//! Carrier ids are quoted exactly as the carrier gave them in submit_sm_resp (the store keeps them beside the
//! normalized keys receipts are matched by), whatever the carrier's `message_id_format`: an SMSC looks up
//! "00001A2B" as issued, not "1a2b". Segments stored before raw ids were kept quote the normalized id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use prometheus::IntCounterVec;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::pdu;
use crate::api::{CarrierCancel, CarrierCancelRequest};
use crate::config::Config;
use crate::link::smpp::{CancelRequest, CancelSmOutcome, LinkHandle};
use crate::metrics::GatewayMetrics;
use crate::model::CarrierId;
use crate::store::{Store, StoreError};

/// Cancel requests waiting for the task; beyond this the API answers `carrier_cancel_requested: false`.
pub const QUEUE: usize = 1024;
/// Requests worked on at once (each sends its segments' cancel_sm concurrently through a link's window).
const CONCURRENT: usize = 16;
/// Attempts per segment when the answer is neither yes nor no.
const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled for each further one.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// How long shutdown waits for requests under way before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The result label of `smsbridge_carrier_cancels_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentResult {
    /// cancel_sm_resp ESME_ROK.
    Cancelled,
    /// The carrier refused (ESME_RCANCELFAIL, ...).
    Refused,
    /// No yes or no after every attempt (throttled past the timeout, link down, timeout, transient status),
    /// or the cancel_sm could not be built.
    Failed,
}

impl SegmentResult {
    fn label(self) -> &'static str {
        match self {
            SegmentResult::Cancelled => "cancelled",
            SegmentResult::Refused => "refused",
            SegmentResult::Failed => "failed",
        }
    }
}

/// The links of the carriers that take cancel_sm.
struct Carriers(HashMap<CarrierId, Vec<LinkHandle>>);

impl Carriers {
    /// A bound link of `carrier`, else its first (it may be reconnecting: the wait is bounded by the
    /// per-segment timeout).
    fn link(&self, carrier: &CarrierId) -> Option<LinkHandle> {
        let links = self.0.get(carrier)?;
        links
            .iter()
            .find(|l| l.is_bound())
            .or_else(|| links.first())
            .cloned()
    }
}

/// The [`CarrierCancel`] hook: a bounded queue in front of the cancel task.
pub struct CarrierCanceller {
    tx: mpsc::Sender<CarrierCancelRequest>,
    carriers: Arc<Carriers>,
    cancels: IntCounterVec,
}

impl CarrierCancel for CarrierCanceller {
    fn request_carrier_cancel(&self, request: CarrierCancelRequest) -> bool {
        if !self.carriers.0.contains_key(&request.carrier) {
            return false;
        }
        match self.tx.try_send(request) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(r)) => {
                tracing::warn!(message = %r.message, carrier = %r.carrier, "carrier cancel queue full: cancel_sm not requested");
                self.cancels
                    .with_label_values(&[r.carrier.as_str(), "queue_full"])
                    .inc();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Registers `smsbridge_carrier_cancels_total` in the gateway's registry.
fn register(metrics: &GatewayMetrics) -> prometheus::Result<IntCounterVec> {
    let v = IntCounterVec::new(
        prometheus::Opts::new(
            "smsbridge_carrier_cancels_total",
            "cancel_sm per segment by result: cancelled, refused (e.g. ESME_RCANCELFAIL), failed (no answer); \
             queue_full counts requests not queued",
        ),
        &["carrier", "result"],
    )?;
    metrics.registry().register(Box::new(v.clone()))?;
    Ok(v)
}

impl CarrierCanceller {
    /// The hook and its task, for the carriers of `config` whose `supports_cancel` holds, over their SMPP
    /// `links` (carrier, handle). `per_segment` bounds one cancel_sm from hand-over to answer (the link's
    /// own response timeout covers a written one; this covers a link that is down). The task ends with
    /// `shutdown`.
    pub fn start<'a>(
        config: &Config,
        links: impl IntoIterator<Item = (&'a crate::config::CarrierId, &'a LinkHandle)>,
        store: Store,
        metrics: &GatewayMetrics,
        per_segment: Duration,
        shutdown: CancellationToken,
    ) -> prometheus::Result<(Arc<CarrierCanceller>, JoinHandle<()>)> {
        let cancels = register(metrics)?;
        let mut map: HashMap<CarrierId, Vec<LinkHandle>> = HashMap::new();
        for (carrier, handle) in links {
            let takes_cancel = config
                .carriers
                .iter()
                .any(|c| &c.id == carrier && c.cancel_sm());
            if takes_cancel {
                map.entry(CarrierId::new(carrier.as_str()))
                    .or_default()
                    .push(handle.clone());
            }
        }
        let carriers = Arc::new(Carriers(map));
        let (tx, rx) = mpsc::channel(QUEUE);
        let worker = Worker {
            carriers: Arc::clone(&carriers),
            store,
            cancels: cancels.clone(),
            per_segment,
        };
        let task = tokio::spawn(worker.run(rx, shutdown));
        Ok((
            Arc::new(CarrierCanceller {
                tx,
                carriers,
                cancels,
            }),
            task,
        ))
    }
}

#[derive(Clone)]
struct Worker {
    carriers: Arc<Carriers>,
    store: Store,
    cancels: IntCounterVec,
    per_segment: Duration,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<CarrierCancelRequest>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        let mut running = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let request = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => break,
                },
            };
            let worker = self.clone();
            running.spawn(async move {
                worker.cancel_message(request).await;
                drop(permit);
            });
            while running.try_join_next().is_some() {}
        }
        rx.close();
        // The links are draining too: what is under way ends quickly (answered, or handed back unsent).
        let _ = timeout(SHUTDOWN_GRACE, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        running.shutdown().await;
    }

    async fn cancel_message(&self, r: CarrierCancelRequest) {
        let Some(link) = self.carriers.link(&r.carrier) else {
            return;
        };
        let answers = join_all(
            r.carrier_message_ids
                .iter()
                .map(|(idx, id)| self.cancel_segment(&link, &r, *idx, id)),
        )
        .await;
        let cancelled: Vec<u16> = r
            .carrier_message_ids
            .iter()
            .zip(&answers)
            .filter(|(_, a)| **a == SegmentResult::Cancelled)
            .map(|((idx, _), _)| *idx)
            .collect();
        for a in &answers {
            self.cancels
                .with_label_values(&[r.carrier.as_str(), a.label()])
                .inc();
        }
        if cancelled.is_empty() {
            return;
        }
        match self
            .store
            .record_carrier_cancel(r.message, cancelled.clone())
            .await
        {
            Ok(applied) => tracing::info!(
                message = %r.message,
                carrier = %r.carrier,
                cancelled = applied.cancelled,
                unchanged = applied.unchanged,
                state = %applied.message_state,
                "carrier cancelled segments"
            ),
            Err(StoreError::Closed) => tracing::warn!(
                message = %r.message,
                segments = ?cancelled,
                "carrier cancelled segments, but the store closed before they were recorded"
            ),
            Err(e) => tracing::error!(
                message = %r.message,
                segments = ?cancelled,
                error = %e,
                "carrier cancelled segments, but recording it failed"
            ),
        }
    }

    /// One segment's cancel_sm, asked again while the answer is neither yes nor no.
    async fn cancel_segment(
        &self,
        link: &LinkHandle,
        r: &CarrierCancelRequest,
        idx: u16,
        carrier_message_id: &str,
    ) -> SegmentResult {
        let sm = match pdu::cancel_sm(carrier_message_id, &r.from, &r.to) {
            Ok(sm) => sm,
            Err(e) => {
                tracing::warn!(message = %r.message, segment = idx, error = %e, "cancel_sm can not be built");
                return SegmentResult::Failed;
            }
        };
        let mut backoff = RETRY_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let outcome = timeout(self.per_segment, link.cancel(CancelRequest(sm.clone()))).await;
            let why = match outcome {
                Ok(CancelSmOutcome::Cancelled) => return SegmentResult::Cancelled,
                Ok(CancelSmOutcome::Rejected { status }) => {
                    tracing::info!(
                        message = %r.message,
                        carrier = %r.carrier,
                        segment = idx,
                        carrier_message_id,
                        %status,
                        "the carrier refused cancel_sm (already delivered, or unknown to it): state unchanged"
                    );
                    return SegmentResult::Refused;
                }
                Ok(CancelSmOutcome::Transient { reason }) => reason.to_string(),
                Err(_) => format!("no answer within {:?}", self.per_segment),
            };
            tracing::warn!(
                message = %r.message,
                carrier = %r.carrier,
                segment = idx,
                attempt,
                reason = %why,
                "cancel_sm got no answer"
            );
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        SegmentResult::Failed
    }
}
