//! Per-carrier rate limiting: a token bucket counted in message segments, shared by all links of a carrier
//! (`Arc<RateLimiter>`). Waiters are served first come, first served, so no link starves; time comes from
//! `tokio::time`, so tests run on paused time.
//!
//! Accounting is exact integer arithmetic: the bucket holds tokens in units of 10^-12 segment and refills at
//! `per_second` given in thousandths, so no rounding drifts the long-run rate. Over any interval of length T
//! the bucket grants at most `burst + per_second * T` segments (tokens handed back with [`RateLimiter::give_back`]
//! are not counted as sent). The lock is a plain mutex held for a few arithmetic operations and never across
//! an await.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::{CarrierId, Config, RateLimitConfig};

/// Units per token.
const UNIT: u128 = 1_000_000_000_000;

/// A rate: `per_second` segments per second on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    millis_per_second: u64,
    burst: u32,
}

/// A rate outside the supported range: 0.001 to 1,000,000 per second, and a burst from
/// [`Rate::min_burst`] (one timer tick's worth of the rate) to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "rate limit {per_second}/s with burst {burst} is outside 0.001..=1000000 per second, burst from \
     ceil(per_second / 1000) (one millisecond's worth) to 1000000"
)]
pub struct RateError {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    pub fn new(per_second: f64, burst: u32) -> Result<Rate, RateError> {
        let millis = (per_second * 1_000.0).round();
        if !(per_second.is_finite()
            && (1.0..=1e9).contains(&millis)
            && (Rate::min_burst(per_second)..=1_000_000).contains(&burst))
        {
            return Err(RateError { per_second, burst });
        }
        Ok(Rate {
            millis_per_second: millis as u64,
            burst,
        })
    }

    /// The smallest burst a rate can honour: tokio's timers tick in milliseconds, so a waiter may be
    /// woken up to one millisecond late, and by then up to `per_second / 1000` tokens are due. A bucket
    /// smaller than that would throw them away and fall short of the rate.
    pub fn min_burst(per_second: f64) -> u32 {
        if per_second.is_finite() && per_second > 0.0 {
            ((per_second / 1_000.0).ceil() as u32).max(1)
        } else {
            1
        }
    }

    /// The rate of a validated carrier or modem `rate_limit`.
    pub fn from_config(c: &RateLimitConfig) -> Result<Rate, RateError> {
        Rate::new(c.per_second, c.effective_burst())
    }

    pub fn per_second(&self) -> f64 {
        self.millis_per_second as f64 / 1_000.0
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn capacity(&self) -> u128 {
        u128::from(self.burst) * UNIT
    }
}

/// Why an acquire cannot be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcquireError {
    /// More segments than the burst: the bucket can never hold them at once; send them in smaller parts.
    #[error("asked for {requested} segments at once, more than the burst of {burst}")]
    ExceedsBurst { requested: u32, burst: u32 },
}

/// Why [`RateLimiter::try_acquire`] did not grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// Not enough tokens now (or others are waiting first); roughly this long until there would be.
    #[error("rate limited, retry in {0:?}")]
    Wait(Duration),
    #[error(transparent)]
    Invalid(#[from] AcquireError),
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    segments: u32,
    wake: Arc<Notify>,
}

#[derive(Debug)]
struct State {
    rate: Rate,
    /// Tokens in units; never above the capacity.
    units: u128,
    /// When `units` was last brought up to date.
    updated: Instant,
    /// Waiting acquires, oldest first; only the front one may take tokens.
    queue: VecDeque<Waiter>,
    next_ticket: u64,
}

impl State {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_nanos();
        // One thousandth of a token per second is 10^-12 token per nanosecond: one unit per ns.
        let added = elapsed.saturating_mul(u128::from(self.rate.millis_per_second));
        // With a backlog, the front waiter is woken a little after its tokens were due (timers tick in
        // milliseconds). What accrued meanwhile beyond the burst belongs to the backlog: keep less than one
        // token of it, so the next grant is not pushed back and the backlog gets the whole rate. Grants
        // are whole tokens, so less than one extra token never lets a second see more than rate + burst.
        let cap = if self.queue.is_empty() {
            self.rate.capacity()
        } else {
            self.rate.capacity() + (UNIT - 1)
        };
        self.units = self.units.saturating_add(added).min(cap);
        self.updated = now;
    }

    /// How long until `segments` tokens are in the bucket.
    fn time_until(&self, segments: u32) -> Duration {
        let need = u128::from(segments) * UNIT;
        let missing = need.saturating_sub(self.units);
        let per_ns = u128::from(self.rate.millis_per_second.max(1));
        let ns = missing.div_ceil(per_ns);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    fn take(&mut self, segments: u32) -> bool {
        let need = u128::from(segments) * UNIT;
        if self.units >= need {
            self.units -= need;
            true
        } else {
            false
        }
    }

    fn wake_front(&self) {
        if let Some(w) = self.queue.front() {
            w.wake.notify_one();
        }
    }
}

/// A token bucket shared by the links of one carrier.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

/// Takes a queued waiter out of the queue if its acquire is dropped before it is served.
struct QueueGuard<'a> {
    limiter: &'a RateLimiter,
    ticket: u64,
    served: bool,
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut st = self.limiter.lock();
        let was_front = st.queue.front().is_some_and(|w| w.ticket == self.ticket);
        st.queue.retain(|w| w.ticket != self.ticket);
        if was_front {
            st.wake_front();
        }
    }
}

impl RateLimiter {
    /// A limiter that starts with a full bucket.
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            state: Mutex::new(State {
                rate,
                units: rate.capacity(),
                updated: Instant::now(),
                queue: VecDeque::new(),
                next_ticket: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement that changes it, so a panic elsewhere while the lock
        // was held does not leave it broken.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The rate in effect.
    pub fn rate(&self) -> Rate {
        self.lock().rate
    }

    /// Changes the rate (config reload). Tokens already in the bucket are kept up to the new burst; waiters
    /// re-plan with the new rate at once.
    pub fn set_rate(&self, rate: Rate) {
        let mut st = self.lock();
        st.refill(Instant::now());
        st.rate = rate;
        st.units = st.units.min(rate.capacity());
        st.wake_front();
    }

    /// Whole tokens in the bucket now.
    pub fn available(&self) -> u32 {
        let mut st = self.lock();
        st.refill(Instant::now());
        u32::try_from(st.units / UNIT).unwrap_or(u32::MAX)
    }

    /// Waiting acquires.
    pub fn waiters(&self) -> usize {
        self.lock().queue.len()
    }

    /// Takes `segments` tokens now if they are there and nobody is waiting ahead.
    pub fn try_acquire(&self, segments: u32) -> Result<(), TryAcquireError> {
        let mut st = self.lock();
        if segments > st.rate.burst {
            return Err(AcquireError::ExceedsBurst {
                requested: segments,
                burst: st.rate.burst,
            }
            .into());
        }
        st.refill(Instant::now());
        if st.queue.is_empty() && st.take(segments) {
            return Ok(());
        }
        // An estimate: the time until the bucket holds what the queue and this request need together.
        let queued: u64 = st.queue.iter().map(|w| u64::from(w.segments)).sum();
        let total = u32::try_from(queued + u64::from(segments)).unwrap_or(u32::MAX);
        Err(TryAcquireError::Wait(st.time_until(total)))
    }

    /// Waits until `segments` tokens can be taken, in arrival order, and takes them.
    ///
    /// Timers tick in milliseconds, so a waiter is woken up to a millisecond after its tokens were due.
    /// A backlog gets the whole rate when each request leaves room in the bucket for that much accrual:
    /// `segments <= burst + 1 - Rate::min_burst(per_second)` (always true for the one segment at a time
    /// that the gateway asks for). Larger requests are still served in order and never exceed the rate,
    /// but may get somewhat less of it. Dropping the future
    /// before it completes takes nothing and lets the next waiter go.
    pub async fn acquire(&self, segments: u32) -> Result<(), AcquireError> {
        let (ticket, wake) = {
            let mut st = self.lock();
            if segments > st.rate.burst {
                return Err(AcquireError::ExceedsBurst {
                    requested: segments,
                    burst: st.rate.burst,
                });
            }
            st.refill(Instant::now());
            if st.queue.is_empty() && st.take(segments) {
                return Ok(());
            }
            let ticket = st.next_ticket;
            st.next_ticket += 1;
            let wake = Arc::new(Notify::new());
            st.queue.push_back(Waiter {
                ticket,
                segments,
                wake: wake.clone(),
            });
            (ticket, wake)
        };
        let mut guard = QueueGuard {
            limiter: self,
            ticket,
            served: false,
        };
        loop {
            let deadline = {
                let mut st = self.lock();
                if st.queue.front().is_some_and(|w| w.ticket == ticket) {
                    if segments > st.rate.burst {
                        // The burst shrank below this request while it waited.
                        let burst = st.rate.burst;
                        st.queue.pop_front();
                        st.wake_front();
                        guard.served = true;
                        return Err(AcquireError::ExceedsBurst {
                            requested: segments,
                            burst,
                        });
                    }
                    let now = Instant::now();
                    st.refill(now);
                    if st.take(segments) {
                        st.queue.pop_front();
                        // The next waiter may be servable from what is left.
                        st.wake_front();
                        guard.served = true;
                        return Ok(());
                    }
                    Some(now + st.time_until(segments))
                } else {
                    None
                }
            };
            match deadline {
                // Woken early by a rate change or a give_back, or on time: either way, look again.
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, wake.notified()).await;
                }
                None => wake.notified().await,
            }
        }
    }

    /// Returns tokens for segments that were acquired but not sent (the link failed before writing them).
    pub fn give_back(&self, segments: u32) {
        let mut st = self.lock();
        st.refill(Instant::now());
        let cap = st.rate.capacity();
        st.units = st
            .units
            .saturating_add(u128::from(segments) * UNIT)
            .min(cap);
        st.wake_front();
    }
}

/// The limiters of a running gateway: one per carrier, and one per modem that has its own `rate_limit`.
/// Built from the config at start; [`Limiters::apply`] updates them in place on reload, so links keep the
/// `Arc`s they were given.
#[derive(Debug, Default)]
pub struct Limiters {
    carriers: HashMap<CarrierId, Arc<RateLimiter>>,
    /// Keyed by carrier and the modem's position in `[[carriers.modem]]`.
    modems: HashMap<(CarrierId, usize), Arc<RateLimiter>>,
}

impl Limiters {
    pub fn from_config(config: &Config) -> Result<Limiters, RateError> {
        let mut limiters = Limiters::default();
        limiters.apply(config)?;
        Ok(limiters)
    }

    /// The limiter shared by all links of a carrier.
    pub fn carrier(&self, id: &CarrierId) -> Option<&Arc<RateLimiter>> {
        self.carriers.get(id)
    }

    /// The limiter of one modem (`index` in its carrier's `[[carriers.modem]]` list), if it has its own.
    pub fn modem(&self, id: &CarrierId, index: usize) -> Option<&Arc<RateLimiter>> {
        self.modems.get(&(id.clone(), index))
    }

    /// Brings the limiters in line with `config`: changes the rates of existing ones (waiters re-plan at
    /// once), adds new ones, and drops those no longer configured. Nothing changes if a rate is invalid.
    pub fn apply(&mut self, config: &Config) -> Result<(), RateError> {
        let mut carriers = Vec::new();
        let mut modems = Vec::new();
        for c in &config.carriers {
            carriers.push((c.id.clone(), Rate::from_config(&c.rate_limit)?));
            for (i, m) in c.modem.iter().enumerate() {
                if let Some(r) = &m.rate_limit {
                    modems.push(((c.id.clone(), i), Rate::from_config(r)?));
                }
            }
        }
        self.carriers = carriers
            .into_iter()
            .map(|(id, rate)| {
                let limiter = reuse(self.carriers.remove(&id), rate);
                (id, limiter)
            })
            .collect();
        self.modems = modems
            .into_iter()
            .map(|(key, rate)| {
                let limiter = reuse(self.modems.remove(&key), rate);
                (key, limiter)
            })
            .collect();
        Ok(())
    }
}

fn reuse(existing: Option<Arc<RateLimiter>>, rate: Rate) -> Arc<RateLimiter> {
    match existing {
        Some(limiter) => {
            if limiter.rate() != rate {
                limiter.set_rate(rate);
            }
            limiter
        }
        None => Arc::new(RateLimiter::new(rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_checked() {
        assert!(Rate::new(0.5, 1).is_ok());
        assert!(Rate::new(20_000.0, 20_000).is_ok());
        for (r, b) in [
            (0.0, 1),
            (-1.0, 1),
            (f64::NAN, 1),
            (2e6, 1),
            (1.0, 0),
            (1.0, 2_000_000),
        ] {
            assert!(Rate::new(r, b).is_err(), "{r} {b}");
        }
        let r = Rate::new(0.25, 3).expect("valid");
        assert_eq!((r.per_second(), r.burst()), (0.25, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn refill_is_exact_for_fractional_rates() {
        let limiter = RateLimiter::new(Rate::new(0.5, 1).expect("valid"));
        assert_eq!(limiter.try_acquire(1), Ok(()));
        assert_eq!(
            limiter.try_acquire(1),
            Err(TryAcquireError::Wait(Duration::from_secs(2)))
        );
        tokio::time::advance(Duration::from_millis(1_999)).await;
        assert!(limiter.try_acquire(1).is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(limiter.try_acquire(1), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn limiters_follow_config_reloads() {
        let text = |rate: u32| {
            format!(
                "[[carriers]]\nid = \"sim\"\nrate_limit = {{ per_second = {rate} }}\n[[carriers.smpp]]\n\
                 host = \"127.0.0.1\"\nsystem_id = \"smsbridge\"\npassword = \"sim\"\n\
                 [[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nrate_limit = {{ per_second = 0.5 }}\n\
                 [[routes]]\nprefix = \"*\"\ncarriers = [\"sim\"]\n"
            )
        };
        let first = Config::from_str(&text(100), "a.toml").expect("valid");
        let mut limiters = Limiters::from_config(&first).expect("valid rates");
        let sim = CarrierId::new("sim").expect("valid id");
        let held = limiters.carrier(&sim).cloned().expect("carrier limiter");
        assert_eq!(held.rate(), Rate::new(100.0, 100).expect("valid"));
        assert_eq!(limiters.modem(&sim, 0).map(|l| l.rate().burst()), Some(1));
        assert!(limiters.modem(&sim, 1).is_none());

        let second = Config::from_str(&text(20), "b.toml").expect("valid");
        limiters.apply(&second).expect("valid rates");
        // The link's Arc is the same limiter, now at the new rate.
        assert!(Arc::ptr_eq(
            &held,
            limiters.carrier(&sim).expect("still there")
        ));
        assert_eq!(held.rate(), Rate::new(20.0, 20).expect("valid"));

        let empty = Config::from_str("[simulator]\nenabled = false\n[[carriers]]\nid = \"other\"\n\
             rate_limit = { per_second = 1 }\n[[carriers.smpp]]\nhost = \"::1\"\nsystem_id = \"o\"\n\
             password = \"p\"\n", "c.toml")
        .expect("valid");
        limiters.apply(&empty).expect("valid rates");
        assert!(limiters.carrier(&sim).is_none());
        assert!(
            limiters
                .carrier(&CarrierId::new("other").expect("valid"))
                .is_some()
        );
    }
}
