//! The driver's timings are the config's, over a real pseudo-terminal: a short send timeout fails a send the
//! network answers late in about that time, and health polls come at the configured interval.

mod common;

use std::time::Duration;

use common::{rig, rig_with};
use smsbridge_hw::sim::SimConfig;
use smsbridge_hw::{OutgoingSms, SendError};
use tokio::time::Instant;

fn sms(text: &str) -> OutgoingSms {
    OutgoingSms {
        to: "+46701234567".into(),
        text: text.into(),
        want_report: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_send_timeout_fails_a_late_answer_in_that_time() {
    let send_timeout = Duration::from_millis(300);
    let r = rig_with(SimConfig::default(), |c| {
        *c = c.clone().with_send_timeout(send_timeout);
    });
    r.ready().await;
    // The network takes far longer than the send timeout (and than the rig's usual 5 s) to answer +CMGS.
    r.sim.set_send_delay(Duration::from_secs(10));
    let start = Instant::now();
    let result = r.modem.send(sms("congested")).await;
    let took = start.elapsed();
    match &result {
        Err(SendError::Link {
            maybe_sent, fault, ..
        }) => {
            // The body was written: the message may have gone out (and here it did).
            assert!(*maybe_sent, "{result:?}");
            assert!(fault.to_string().contains("300ms"), "{fault}");
        }
        other => panic!("expected a send timeout, got {other:?}"),
    }
    assert!(
        took >= send_timeout && took < Duration::from_secs(2),
        "failed after {took:?}, want about {send_timeout:?}"
    );
    assert_eq!(r.sim.sent().len(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_within_the_send_timeout_is_waited_for() {
    // The rig's send timeout is 5 s: an answer after 1 s is a success, not a fault.
    let r = rig();
    r.ready().await;
    r.sim.set_send_delay(Duration::from_secs(1));
    let start = Instant::now();
    let sent = r.modem.send(sms("slow network")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(r.modem.metrics().resets, 0);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_polls_come_at_the_configured_interval() {
    let fast = rig_with(SimConfig::default(), |c| {
        c.health_interval = Duration::from_millis(100)
    });
    let slow = rig_with(SimConfig::default(), |c| {
        c.health_interval = Duration::from_secs(30)
    });
    fast.ready().await;
    slow.ready().await;
    let before = (
        fast.sim.count_commands("+CSQ"),
        slow.sim.count_commands("+CSQ"),
    );
    let window = Duration::from_secs(1);
    tokio::time::sleep(window).await;
    let polls = (
        fast.sim.count_commands("+CSQ") - before.0,
        slow.sim.count_commands("+CSQ") - before.1,
    );
    // About 10 polls in a second at 100 ms (fewer when the machine is busy), none at 30 s.
    assert!((5..=11).contains(&polls.0), "{polls:?} polls in {window:?}");
    assert_eq!(polls.1, 0, "{polls:?} polls in {window:?}");
    fast.stop().await;
    slow.stop().await;
}
