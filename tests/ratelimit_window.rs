//! The rate limiter's promise, checked on paused tokio time: over any one-second window a carrier never gets
//! more than its rate plus its burst, with a backlog it gets at least 95% of its rate, and links sharing one
//! limiter stay within it together and each get a fair share.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smsbridge::ratelimit::{Rate, RateLimiter};
use tokio::time::Instant;

/// One grant: when, how many segments, which link.
type Grant = (Instant, u32, usize);

/// The most segments granted in any closed window `[t, t + 1s]` that starts at a grant at or after `from`.
fn max_per_second(grants: &[Grant], from: Instant) -> u64 {
    let mut sorted: Vec<Grant> = grants.to_vec();
    sorted.sort_by_key(|g| g.0);
    let mut best = 0u64;
    let mut end = 0usize;
    let mut in_window = 0u64;
    for start in 0..sorted.len() {
        let t0 = sorted[start].0;
        while end < sorted.len() && sorted[end].0 <= t0 + Duration::from_secs(1) {
            in_window += u64::from(sorted[end].1);
            end += 1;
        }
        if t0 >= from {
            best = best.max(in_window);
        }
        in_window -= u64::from(sorted[start].1);
    }
    best
}

/// Runs `links` tasks that each acquire `sizes` (cycled) from one limiter until `run_for` has passed, with a
/// permanent backlog, and returns every grant.
async fn run_links(
    limiter: Arc<RateLimiter>,
    links: usize,
    sizes: &'static [u32],
    run_for: Duration,
) -> Vec<Grant> {
    let grants = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for link in 0..links {
        let limiter = limiter.clone();
        let grants = grants.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = link;
            loop {
                let n = sizes[i % sizes.len()];
                i += 1;
                limiter.acquire(n).await.expect("request within burst");
                let now = Instant::now();
                if now.duration_since(start) >= run_for {
                    // Outside the measured period: hand it back so totals cover exactly `run_for`.
                    limiter.give_back(n);
                    break;
                }
                grants.lock().expect("grants lock").push((now, n, link));
            }
        }));
    }
    for t in tasks {
        t.await.expect("link task");
    }
    grants.lock().expect("grants lock").clone()
}

fn total(grants: &[Grant]) -> u64 {
    grants.iter().map(|g| u64::from(g.1)).sum()
}

#[tokio::test(start_paused = true)]
async fn one_link_stays_within_rate_plus_burst_and_gets_the_rate() {
    let limiter = Arc::new(RateLimiter::new(Rate::new(100.0, 20).expect("valid rate")));
    let start = Instant::now();
    let grants = run_links(limiter, 1, &[1], Duration::from_secs(10)).await;
    let peak = max_per_second(&grants, start);
    assert!(peak <= 100 + 20, "peak {peak} per second");
    // The first second holds the full burst on top of the rate.
    assert!(peak >= 100, "peak {peak} per second");
    let sent = total(&grants);
    assert!(sent <= 20 + 100 * 10, "sent {sent} in 10 s");
    assert!(sent as f64 >= 0.95 * 1_000.0, "sent {sent} in 10 s");
}

#[tokio::test(start_paused = true)]
async fn steady_state_after_the_burst_is_the_rate() {
    let limiter = Arc::new(RateLimiter::new(Rate::new(50.0, 10).expect("valid rate")));
    let start = Instant::now();
    let grants = run_links(limiter, 1, &[1, 2, 3, 4], Duration::from_secs(10)).await;
    // From the third second on the burst is long spent: every window holds at most the rate (plus one
    // request of up to 4 segments that straddles the window's edges).
    let peak = max_per_second(&grants, start + Duration::from_secs(2));
    assert!(peak <= 50 + 10, "peak {peak}");
    let steady: u64 = grants
        .iter()
        .filter(|g| g.0 >= start + Duration::from_secs(2))
        .map(|g| u64::from(g.1))
        .sum();
    assert!(
        steady as f64 >= 0.95 * 50.0 * 8.0,
        "{steady} segments in the last 8 s"
    );
    assert!(max_per_second(&grants, start) <= 50 + 10);
}

#[tokio::test(start_paused = true)]
async fn links_sharing_a_limiter_stay_within_it_together() {
    let limiter = Arc::new(RateLimiter::new(Rate::new(200.0, 50).expect("valid rate")));
    let start = Instant::now();
    let links = 5;
    let grants = run_links(limiter, links, &[1, 1, 2], Duration::from_secs(10)).await;
    let peak = max_per_second(&grants, start);
    assert!(peak <= 200 + 50, "peak {peak}");
    let sent = total(&grants);
    assert!(sent <= 50 + 200 * 10, "sent {sent}");
    assert!(sent as f64 >= 0.95 * 2_000.0, "sent {sent}");
    // First come, first served: every link gets close to its fifth.
    for link in 0..links {
        let mine: u64 = grants
            .iter()
            .filter(|g| g.2 == link)
            .map(|g| u64::from(g.1))
            .sum();
        assert!(
            mine as f64 >= 0.15 * sent as f64,
            "link {link} got {mine} of {sent}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn twenty_thousand_per_second_across_links() {
    let limiter = Arc::new(RateLimiter::new(
        Rate::new(20_000.0, 1_000).expect("valid rate"),
    ));
    let start = Instant::now();
    let grants = run_links(limiter, 4, &[1], Duration::from_secs(3)).await;
    let peak = max_per_second(&grants, start);
    assert!(peak <= 20_000 + 1_000, "peak {peak}");
    let sent = total(&grants);
    assert!(sent as f64 >= 0.95 * 60_000.0, "sent {sent}");
}

#[tokio::test(start_paused = true)]
async fn a_rate_change_applies_to_waiting_links() {
    let limiter = Arc::new(RateLimiter::new(Rate::new(100.0, 10).expect("valid rate")));
    let start = Instant::now();
    let change_at = start + Duration::from_secs(3);
    let changer = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(change_at).await;
            limiter.set_rate(Rate::new(10.0, 5).expect("valid rate"));
        })
    };
    let grants = run_links(limiter.clone(), 3, &[1], Duration::from_secs(8)).await;
    changer.await.expect("changer");
    assert_eq!(limiter.rate(), Rate::new(10.0, 5).expect("valid rate"));
    let before = max_per_second(&grants, start);
    assert!(before <= 100 + 10, "peak {before} before the change");
    // Windows that start at the change see the new rate and at most the new burst.
    let after = max_per_second(&grants, change_at);
    assert!(after <= 10 + 5, "peak {after} after the change");
    let late: u64 = grants
        .iter()
        .filter(|g| g.0 >= change_at + Duration::from_secs(1))
        .map(|g| u64::from(g.1))
        .sum();
    assert!(
        late as f64 >= 0.95 * 10.0 * 4.0,
        "{late} segments in the last 4 s"
    );
}
