//! A pool of modems: each with its own rate limit and health. A send goes to a healthy modem of the right
//! carrier (the config's, or MCC+MNC of the SIM's IMSI) and moves to another one when a modem fails; a
//! permanent refusal (bad number, barred) is returned at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::metrics::MetricsSnapshot;
use crate::modem::{ModemHandle, ModemStatus, OutgoingSms, SendError, SendReceipt};

/// A token bucket: `rate` messages per second, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A bucket that starts full.
    pub fn new(rate_per_sec: f64, burst: u32) -> RateLimiter {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            rate: rate_per_sec.max(0.001),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes `n` tokens now if there are enough; otherwise how long until there will be.
    pub fn try_take(&self, n: u32) -> Result<(), Duration> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let (tokens, last) = *st;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        let need = f64::from(n).min(self.burst);
        if tokens >= need {
            *st = (tokens - need, now);
            Ok(())
        } else {
            *st = (tokens, now);
            Err(Duration::from_secs_f64((need - tokens) / self.rate))
        }
    }
}

/// A modem in the pool.
#[derive(Debug)]
pub struct Member {
    handle: ModemHandle,
    carrier: Option<String>,
    limiter: RateLimiter,
}

/// Pool settings for one modem.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// The carrier it sends for; `None`: MCC+MNC of its SIM.
    pub carrier: Option<String>,
    /// Messages per second.
    pub rate_per_sec: f64,
    /// Burst.
    pub burst: u32,
}

impl Default for MemberConfig {
    fn default() -> Self {
        MemberConfig {
            carrier: None,
            rate_per_sec: 1.0,
            burst: 5,
        }
    }
}

/// Why the pool could not send.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No modem for this carrier is in the pool.
    #[error("no modem for carrier {0:?}")]
    NoModem(Option<String>),
    /// Permanent refusal: retrying cannot help.
    #[error("refused by {modem}: {error}")]
    Refused {
        /// The modem.
        modem: String,
        /// What it said.
        error: SendError,
    },
    /// Every attempt failed within the time allowed.
    #[error("gave up after {attempts} attempt(s); last: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// How hard the pool tries.
#[derive(Debug, Clone, Copy)]
pub struct PoolPolicy {
    /// Attempts over all modems.
    pub max_attempts: u32,
    /// Total time for one send, waiting for a healthy modem included.
    pub deadline: Duration,
    /// Pause when no modem is healthy.
    pub idle_wait: Duration,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        PoolPolicy {
            max_attempts: 6,
            deadline: Duration::from_secs(300),
            idle_wait: Duration::from_millis(500),
        }
    }
}

/// The pool.
#[derive(Debug, Default)]
pub struct ModemPool {
    members: Vec<Member>,
    next: AtomicUsize,
    policy: PoolPolicy,
}

/// A send the pool completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolReceipt {
    /// The modem's receipt (its name, recipient and TP-MRs: the status reports' key).
    pub receipt: SendReceipt,
    /// Attempts it took (1 when the first modem sent it).
    pub attempts: u32,
    /// Attempts that may have put segments on the air before failing (possible duplicates).
    pub maybe_resent: u32,
}

impl ModemPool {
    /// An empty pool.
    pub fn new(policy: PoolPolicy) -> ModemPool {
        ModemPool {
            members: Vec::new(),
            next: AtomicUsize::new(0),
            policy,
        }
    }

    /// Adds a modem.
    pub fn add(&mut self, handle: ModemHandle, cfg: MemberConfig) {
        self.members.push(Member {
            handle,
            carrier: cfg.carrier,
            limiter: RateLimiter::new(cfg.rate_per_sec, cfg.burst),
        });
    }

    /// The modems.
    pub fn handles(&self) -> impl Iterator<Item = &ModemHandle> {
        self.members.iter().map(|m| &m.handle)
    }

    /// Per modem: name, status and metrics.
    pub fn snapshot(&self) -> Vec<(String, ModemStatus, MetricsSnapshot)> {
        self.members
            .iter()
            .map(|m| {
                (
                    m.handle.name().to_owned(),
                    m.handle.status(),
                    m.handle.metrics(),
                )
            })
            .collect()
    }

    fn carrier_of(m: &Member) -> Option<String> {
        m.carrier
            .clone()
            .or_else(|| m.handle.status().identity.mcc_mnc())
    }

    fn serves(m: &Member, carrier: Option<&str>) -> bool {
        match carrier {
            None => true,
            Some(c) => Self::carrier_of(m).as_deref() == Some(c),
        }
    }

    /// Sends `msg` through a healthy modem of `carrier` (any modem when `None`), failing over to the others.
    pub async fn send(
        &self,
        msg: &OutgoingSms,
        carrier: Option<&str>,
    ) -> Result<PoolReceipt, PoolError> {
        let candidates: Vec<usize> = (0..self.members.len())
            .filter(|&i| {
                self.members
                    .get(i)
                    .is_some_and(|m| Self::serves(m, carrier))
            })
            .collect();
        if candidates.is_empty() {
            return Err(PoolError::NoModem(carrier.map(str::to_owned)));
        }
        let deadline = Instant::now() + self.policy.deadline;
        let mut attempts = 0u32;
        let mut maybe_resent = 0u32;
        let mut last = String::from("no healthy modem");
        // The rate limit counts segments, as the network does.
        let segments = smsbridge_protocol::sms::plan(&msg.text, &Default::default())
            .map_or(1, |p| u32::try_from(p.segments.len()).unwrap_or(u32::MAX));
        // Bounded by attempts and by the deadline.
        while attempts < self.policy.max_attempts && Instant::now() < deadline {
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            let n = candidates.len();
            let mut chosen = None;
            let mut wait = self.policy.idle_wait;
            for k in 0..n {
                let Some(&i) = candidates.get((start + k) % n) else {
                    continue;
                };
                let Some(m) = self.members.get(i) else {
                    continue;
                };
                if !m.handle.status().healthy() {
                    continue;
                }
                match m.limiter.try_take(segments) {
                    Ok(()) => {
                        chosen = Some(m);
                        break;
                    }
                    Err(d) => wait = wait.min(d),
                }
            }
            let Some(m) = chosen else {
                sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
                continue;
            };
            attempts += 1;
            match m.handle.send(msg.clone()).await {
                Ok(receipt) => {
                    return Ok(PoolReceipt {
                        receipt,
                        attempts,
                        maybe_resent,
                    });
                }
                Err(e) if e.is_permanent() => {
                    return Err(PoolError::Refused {
                        modem: m.handle.name().to_owned(),
                        error: e,
                    });
                }
                Err(e) => {
                    let partial = match &e {
                        SendError::Link {
                            sent, maybe_sent, ..
                        } => !sent.is_empty() || *maybe_sent,
                        SendError::Rejected { sent, .. } | SendError::NoReference { sent, .. } => {
                            !sent.is_empty()
                        }
                        _ => false,
                    };
                    if partial {
                        maybe_resent += 1;
                    }
                    tracing::warn!(modem = m.handle.name(), error = %e, "send failed: trying another modem");
                    last = format!("{}: {e}", m.handle.name());
                }
            }
        }
        Err(PoolError::Exhausted { attempts, last })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn token_bucket() {
        let b = RateLimiter::new(2.0, 3);
        for _ in 0..3 {
            assert_eq!(b.try_take(1), Ok(()));
        }
        let wait = b.try_take(1);
        assert_eq!(wait, Err(Duration::from_millis(500)));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(b.try_take(1), Ok(()));
        // A request larger than the burst waits for a full bucket, not forever.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.try_take(7), Ok(()));
    }
}
