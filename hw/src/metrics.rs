//! Per-modem counters and gauges the gateway exports (it maps a [`MetricsSnapshot`] to Prometheus).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Live values, updated by the modem task.
#[derive(Debug)]
pub struct ModemMetrics {
    /// `+CSQ` `<rssi>` (0-31, 99 unknown).
    pub rssi: AtomicI64,
    /// `+CREG` `<stat>` (-1 before the first poll).
    pub registration: AtomicI64,
    /// Messages sent (every segment accepted).
    pub sends: AtomicU64,
    /// Segments accepted by the network.
    pub segments: AtomicU64,
    /// Sends that failed.
    pub send_errors: AtomicU64,
    /// Segment retries after a transient error.
    pub send_retries: AtomicU64,
    /// Commands that failed or timed out, and other link errors.
    pub errors: AtomicU64,
    /// Reset sequences run on a silent modem.
    pub resets: AtomicU64,
    /// Times the device was reopened after it was lost.
    pub reopens: AtomicU64,
    /// Incoming messages handed out (reassembled messages count once).
    pub received: AtomicU64,
    /// Status reports handed out.
    pub reports: AtomicU64,
}

impl Default for ModemMetrics {
    fn default() -> Self {
        ModemMetrics {
            rssi: AtomicI64::new(99),
            registration: AtomicI64::new(-1),
            sends: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            send_retries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            received: AtomicU64::new(0),
            reports: AtomicU64::new(0),
        }
    }
}

/// A copy of the values at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// See [`ModemMetrics::rssi`].
    pub rssi: i64,
    /// See [`ModemMetrics::registration`].
    pub registration: i64,
    /// See [`ModemMetrics::sends`].
    pub sends: u64,
    /// See [`ModemMetrics::segments`].
    pub segments: u64,
    /// See [`ModemMetrics::send_errors`].
    pub send_errors: u64,
    /// See [`ModemMetrics::send_retries`].
    pub send_retries: u64,
    /// See [`ModemMetrics::errors`].
    pub errors: u64,
    /// See [`ModemMetrics::resets`].
    pub resets: u64,
    /// See [`ModemMetrics::reopens`].
    pub reopens: u64,
    /// See [`ModemMetrics::received`].
    pub received: u64,
    /// See [`ModemMetrics::reports`].
    pub reports: u64,
}

impl ModemMetrics {
    /// The values now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            rssi: self.rssi.load(Relaxed),
            registration: self.registration.load(Relaxed),
            sends: self.sends.load(Relaxed),
            segments: self.segments.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            send_retries: self.send_retries.load(Relaxed),
            errors: self.errors.load(Relaxed),
            resets: self.resets.load(Relaxed),
            reopens: self.reopens.load(Relaxed),
            received: self.received.load(Relaxed),
            reports: self.reports.load(Relaxed),
        }
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
