//! Rate limiter behaviour a link relies on: first come first served (a large request is not starved by small
//! ones), cancelled waits release their place, tokens can be handed back, try_acquire never jumps the queue,
//! and requests larger than the burst are refused instead of waiting forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smsbridge::ratelimit::{AcquireError, Rate, RateLimiter, TryAcquireError};
use tokio::time::Instant;

fn limiter(per_second: f64, burst: u32) -> Arc<RateLimiter> {
    Arc::new(RateLimiter::new(
        Rate::new(per_second, burst).expect("valid rate"),
    ))
}

/// Lets spawned tasks run until they block.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    let l = limiter(10.0, 5);
    l.try_acquire(5).expect("full bucket");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    // A large request first, then many small ones that could each be served sooner.
    for (name, n) in [("big", 5u32), ("s1", 1), ("s2", 1), ("s3", 1)] {
        let (l, order) = (l.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            l.acquire(n).await.expect("within burst");
            order.lock().expect("lock").push((name, Instant::now()));
        }));
        settle().await;
    }
    assert_eq!(l.waiters(), 4);
    let start = Instant::now();
    for t in tasks {
        t.await.expect("task");
    }
    let order = order.lock().expect("lock").clone();
    let names: Vec<&str> = order.iter().map(|o| o.0).collect();
    assert_eq!(names, ["big", "s1", "s2", "s3"]);
    // big waits for 5 tokens at 10/s, then each small one for one more token.
    let waited: Vec<Duration> = order.iter().map(|o| o.1 - start).collect();
    assert_eq!(
        waited,
        [500, 600, 700, 800].map(Duration::from_millis).to_vec()
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_lets_the_next_one_go() {
    let l = limiter(10.0, 3);
    l.try_acquire(3).expect("full bucket");
    let start = Instant::now();
    let big = {
        let l = l.clone();
        tokio::spawn(
            async move { tokio::time::timeout(Duration::from_millis(100), l.acquire(3)).await },
        )
    };
    settle().await;
    let small = {
        let l = l.clone();
        tokio::spawn(async move {
            l.acquire(1).await.expect("within burst");
            Instant::now()
        })
    };
    settle().await;
    assert!(
        big.await.expect("task").is_err(),
        "the big request times out"
    );
    let served = small.await.expect("task");
    // At 100 ms the bucket holds one token: the small request gets it as soon as the big one leaves.
    assert_eq!(served - start, Duration::from_millis(100));
    assert_eq!(l.waiters(), 0);
}

#[tokio::test(start_paused = true)]
async fn handed_back_tokens_are_reused_at_once() {
    let l = limiter(1.0, 4);
    l.try_acquire(4).expect("full bucket");
    assert!(matches!(l.try_acquire(1), Err(TryAcquireError::Wait(_))));
    l.give_back(3);
    assert_eq!(l.available(), 3);
    l.try_acquire(3).expect("given back");
    // Giving back more than was taken cannot overfill the bucket.
    l.give_back(100);
    assert_eq!(l.available(), 4);
}

#[tokio::test(start_paused = true)]
async fn give_back_wakes_a_waiter() {
    let l = limiter(0.1, 2);
    l.try_acquire(2).expect("full bucket");
    let start = Instant::now();
    let waiter = {
        let l = l.clone();
        tokio::spawn(async move {
            l.acquire(2).await.expect("within burst");
            Instant::now()
        })
    };
    settle().await;
    tokio::time::advance(Duration::from_secs(1)).await;
    l.give_back(2);
    let served = waiter.await.expect("task");
    assert_eq!(served - start, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn try_acquire_does_not_jump_the_queue() {
    let l = limiter(10.0, 5);
    l.try_acquire(5).expect("full bucket");
    let waiter = {
        let l = l.clone();
        tokio::spawn(async move { l.acquire(5).await })
    };
    settle().await;
    tokio::time::advance(Duration::from_millis(200)).await;
    // Two tokens are there, but the waiter came first.
    assert_eq!(l.available(), 2);
    match l.try_acquire(1) {
        Err(TryAcquireError::Wait(d)) => assert!(d >= Duration::from_millis(300), "{d:?}"),
        other => panic!("expected Wait, got {other:?}"),
    }
    waiter.await.expect("task").expect("within burst");
}

#[tokio::test(start_paused = true)]
async fn requests_above_the_burst_are_refused() {
    let l = limiter(100.0, 10);
    assert_eq!(
        l.acquire(11).await,
        Err(AcquireError::ExceedsBurst {
            requested: 11,
            burst: 10
        })
    );
    assert!(matches!(
        l.try_acquire(11),
        Err(TryAcquireError::Invalid(_))
    ));
    assert_eq!(l.acquire(0).await, Ok(()));
    assert_eq!(l.available(), 10);
}

#[tokio::test(start_paused = true)]
async fn shrinking_the_burst_below_a_waiting_request_refuses_it() {
    let l = limiter(1.0, 5);
    l.try_acquire(5).expect("full bucket");
    let big = {
        let l = l.clone();
        tokio::spawn(async move { l.acquire(5).await })
    };
    let small = {
        let l = l.clone();
        tokio::spawn(async move { l.acquire(1).await })
    };
    settle().await;
    l.set_rate(Rate::new(1.0, 2).expect("valid rate"));
    let result = tokio::time::timeout(Duration::from_secs(5), big)
        .await
        .expect("big finishes")
        .expect("task");
    assert_eq!(
        result,
        Err(AcquireError::ExceedsBurst {
            requested: 5,
            burst: 2
        })
    );
    tokio::time::timeout(Duration::from_secs(5), small)
        .await
        .expect("small finishes")
        .expect("task")
        .expect("within burst");
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_does_not_jump_the_queue() {
    let l = limiter(10.0, 5);
    l.try_acquire(5).expect("full bucket");
    let start = Instant::now();
    let big = {
        let l = l.clone();
        tokio::spawn(async move {
            l.acquire(5).await.expect("within burst");
            Instant::now()
        })
    };
    settle().await;
    tokio::time::advance(Duration::from_millis(200)).await;
    // Two tokens are in the bucket when the small request arrives; it still waits behind the big one.
    let small = {
        let l = l.clone();
        tokio::spawn(async move {
            l.acquire(1).await.expect("within burst");
            Instant::now()
        })
    };
    settle().await;
    assert_eq!(l.waiters(), 2);
    let big_at = big.await.expect("task");
    let small_at = small.await.expect("task");
    assert_eq!(big_at - start, Duration::from_millis(500));
    assert_eq!(small_at - start, Duration::from_millis(600));
}
