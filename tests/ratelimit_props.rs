//! Property test of the rate limiter on paused time: for random rates, bursts, numbers of links, request
//! sizes and cancelled waits, no closed one-second window holds more than rate + burst segments, and with a
//! backlog the carrier gets at least 95% of its rate (for requests of up to burst + 1 - min_burst segments,
//! the documented bound).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use smsbridge::ratelimit::{Rate, RateLimiter};

use tokio::time::Instant;

#[derive(Debug, Clone)]
struct Scenario {
    per_second: u32,
    burst: u32,
    links: usize,
    max_request: u32,
    cancel_every: u64,
    seconds: u64,
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    (
        1u32..=3_000,
        1u32..=300,
        1usize..=6,
        1u32..=5,
        2u64..=9,
        2u64..=5,
    )
        .prop_map(
            |(per_second, burst, links, max_request, cancel_every, seconds)| Scenario {
                per_second,
                // The smallest burst the limiter accepts is one millisecond's worth of the rate.
                burst: burst.max(Rate::min_burst(f64::from(per_second))),
                links,
                max_request: max_request.min(burst.max(Rate::min_burst(f64::from(per_second)))),
                cancel_every,
                seconds,
            },
        )
}

/// Runs a scenario and returns (grant time, segments) pairs.
fn run(s: &Scenario) -> Vec<(Instant, u32)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let limiter = Arc::new(RateLimiter::new(
            Rate::new(f64::from(s.per_second), s.burst).expect("valid rate"),
        ));
        let grants = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let end = start + Duration::from_secs(s.seconds);
        let mut tasks = Vec::new();
        for link in 0..s.links {
            let (limiter, grants, s) = (limiter.clone(), grants.clone(), s.clone());
            tasks.push(tokio::spawn(async move {
                let mut round = link as u64;
                while Instant::now() < end {
                    round += 1;
                    let n = 1 + (round % u64::from(s.max_request)) as u32;
                    if round % s.cancel_every == 0 {
                        // A wait abandoned after a short while takes nothing.
                        if let Ok(r) =
                            tokio::time::timeout(Duration::from_millis(3), limiter.acquire(n)).await
                        {
                            r.expect("within burst");
                            grants.lock().expect("lock").push((Instant::now(), n));
                        }
                    } else {
                        limiter.acquire(n).await.expect("within burst");
                        grants.lock().expect("lock").push((Instant::now(), n));
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("link task");
        }
        grants.lock().expect("lock").clone()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn windows_never_exceed_rate_plus_burst(s in scenarios()) {
        let mut grants = run(&s);
        grants.sort_by_key(|g| g.0);
        let limit = u64::from(s.per_second) + u64::from(s.burst);
        let mut end = 0;
        let mut in_window = 0u64;
        for start in 0..grants.len() {
            while end < grants.len() && grants[end].0 <= grants[start].0 + Duration::from_secs(1) {
                in_window += u64::from(grants[end].1);
                end += 1;
            }
            prop_assert!(in_window <= limit, "{in_window} segments in the second from grant {start}, limit {limit}");
            in_window -= u64::from(grants[start].1);
        }
        let start = grants.first().map(|g| g.0);
        let total: u64 = grants.iter().map(|g| u64::from(g.1)).sum();
        prop_assert!(start.is_some());
        // The full rate is promised for requests that leave room in the bucket for one timer tick's
        // accrual (see RateLimiter::acquire); the gateway itself acquires one segment at a time.
        let full_rate_request = s.burst + 1 - Rate::min_burst(f64::from(s.per_second));
        if s.max_request <= full_rate_request {
            let wanted = 0.95 * f64::from(s.per_second) * s.seconds as f64;
            prop_assert!(total as f64 >= wanted, "{total} segments in {} s at {}/s", s.seconds, s.per_second);
        }
    }
}
