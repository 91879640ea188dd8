//! One test per scripted fault of the simulator, over a real pseudo-terminal: each shows that nothing is lost
//! (messages sent exactly as asked, incoming messages handed out) and that the driver recovers.

mod common;

use std::time::Duration;

use common::{eventually, fast_config, rig, rig_with, start_sim};
use smsbridge_hw::sim::SimConfig;
use smsbridge_hw::{
    DeviceSelector, LinkState, MemberConfig, ModemEvent, ModemPool, OutgoingSms, PoolPolicy,
    SendError, SimProblem, spawn,
};
use smsbridge_protocol::at::FinalResult;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(20);

fn sms(text: &str) -> OutgoingSms {
    OutgoingSms {
        to: "+46701234567".into(),
        text: text.into(),
        want_report: false,
    }
}

async fn expect_incoming(r: &mut common::Rig, text: &str) {
    match r.event(T).await {
        ModemEvent::Incoming { message, commit } => {
            assert_eq!(message.text, text);
            commit.confirm();
        }
        other => panic!("expected {text:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_are_waited_for() {
    let r = rig();
    r.ready().await;
    r.sim.set_delay(Duration::from_millis(800));
    let start = Instant::now();
    let sent = r.modem.send(sms("slow")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert!(start.elapsed() >= Duration::from_millis(800));
    assert_eq!(r.sim.sent().len(), 1);
    assert_eq!(r.modem.metrics().resets, 0, "a slow modem is not reset");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_error_is_retried() {
    let r = rig();
    r.ready().await;
    r.sim.fail_next(1);
    let sent = r.modem.send(sms("after ERROR")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(sent.map(|s| s.retries).unwrap_or(0), 1);
    let on_air = r.sim.sent();
    assert_eq!(on_air.len(), 1, "sent exactly once");
    assert_eq!(on_air[0].text.as_deref(), Some("after ERROR"));
    assert_eq!(r.modem.metrics().send_retries, 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cms_error_500_is_transient_and_330_permanent() {
    let r = rig();
    r.ready().await;
    r.sim.fail_sends(&[500, 500]);
    let sent = r.modem.send(sms("after 500")).await;
    assert_eq!(sent.as_ref().map(|s| s.retries).ok(), Some(2), "{sent:?}");
    assert_eq!(r.sim.sent().len(), 1);
    // SMSC address unknown: retrying cannot help; one attempt only.
    r.sim.fail_sends(&[330, 330]);
    let refused = r.modem.send(sms("refused")).await;
    match refused {
        Err(e @ SendError::Rejected { .. }) => {
            assert!(e.is_permanent());
            if let SendError::Rejected { result, .. } = e {
                assert!(matches!(result, FinalResult::CmsError(c) if c.code == Some(330)));
            }
        }
        other => panic!("expected a permanent rejection, got {other:?}"),
    }
    assert_eq!(r.sim.sent().len(), 1);
    // The second 330 is still queued: the next send meets it once, then the modem works again.
    r.sim.fail_sends(&[]);
    let _ = r.modem.send(sms("eats the queued 330")).await;
    let ok = r.modem.send(sms("works again")).await;
    assert!(ok.is_ok(), "{ok:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_do_not_break_the_session() {
    let mut r = rig();
    r.ready().await;
    // Line noise while idle, with words that look like result codes.
    r.sim
        .inject_garbage(b"\xff\xfe\x00\x13\x11noise!\r\n\x00\x00+++\r\nOK\r\n\xc3\x28ERROR\r\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = r.modem.send(sms("through the noise")).await;
    assert!(sent.is_ok(), "{sent:?}");
    // Noise in the middle of commands and URCs.
    r.sim
        .inject_garbage(b"\r\n\x7f\x01garbage line\r\n\xff\xff");
    r.sim
        .inject_sms("+46709999999", "still here")
        .unwrap_or_default();
    r.sim.inject_garbage(b"\x00\xfe#%&\r\n");
    expect_incoming(&mut r, "still here").await;
    r.sim.inject_garbage(b"\x00\xff\x1b@@@\r\n");
    let sent = r.modem.send(sms("and again")).await;
    assert!(sent.is_ok(), "{sent:?}");
    let texts: Vec<_> = r.sim.sent().into_iter().filter_map(|s| s.text).collect();
    assert_eq!(texts, vec!["through the noise", "and again"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_modem_gets_reset_sequence() {
    let mut r = rig();
    r.ready().await;
    // The next health poll and two probes get no answer at all.
    r.sim.silence(3);
    r.sim
        .inject_sms("+46709999999", "sent while silent")
        .unwrap_or_default();
    assert!(
        eventually(T, || r.modem.metrics().resets >= 1).await,
        "no reset: {:?}",
        r.modem.status()
    );
    r.ready().await;
    expect_incoming(&mut r, "sent while silent").await;
    let sent = r.modem.send(sms("after reset")).await;
    assert!(sent.is_ok(), "{sent:?}");
    // The reset sequence ran ATZ and the init again.
    assert!(r.sim.count_commands("Z") >= 2);
    assert_eq!(r.modem.metrics().reopens, 0, "recovered without reopening");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_into_silence_fails_cleanly_then_recovers() {
    let r = rig();
    r.ready().await;
    r.sim.silence(4);
    // AT+CMGS=.. gets no prompt: the message was certainly not sent.
    match r.modem.send(sms("lost prompt")).await {
        Err(SendError::Link {
            maybe_sent, sent, ..
        }) => {
            assert!(!maybe_sent);
            assert!(sent.is_empty());
        }
        other => panic!("expected a link failure, got {other:?}"),
    }
    r.ready().await;
    let sent = r.modem.send(sms("lost prompt")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(r.sim.sent().len(), 1, "sent exactly once");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_pin_entered_from_config() {
    let cfg = SimConfig {
        pin: Some("4321".into()),
        ..SimConfig::default()
    };
    let r = rig_with(cfg, |c| c.pin = Some("4321".into()));
    r.ready().await;
    assert_eq!(r.sim.count_commands("+CPIN=\"4321\""), 1);
    let sent = r.modem.send(sms("unlocked")).await;
    assert!(sent.is_ok(), "{sent:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_pin_missing_wrong_or_no_sim_is_a_state_not_a_loop() {
    let locked = SimConfig {
        pin: Some("4321".into()),
        ..SimConfig::default()
    };
    let cases: [(SimConfig, Option<&str>, SimProblem); 4] = [
        (locked.clone(), None, SimProblem::PinRequired),
        (locked.clone(), Some("1111"), SimProblem::WrongPin),
        (locked, Some("4321"), SimProblem::PukRequired),
        (
            SimConfig {
                sim_present: false,
                ..SimConfig::default()
            },
            None,
            SimProblem::NotInserted,
        ),
    ];
    for (sim_cfg, pin, problem) in cases {
        let blocked = problem == SimProblem::PukRequired;
        let r = if blocked {
            // Blocked before the driver opens it: the configured PIN is not tried at all.
            let sim = start_sim(sim_cfg);
            sim.block_sim();
            let (tx, events) = mpsc::channel(8);
            let cancel = CancellationToken::new();
            let mut cfg = fast_config("m1", DeviceSelector::Path(sim.path()));
            cfg.pin = pin.map(str::to_owned);
            let (modem, task) = spawn(cfg, tx, cancel.clone());
            common::Rig {
                sim,
                modem,
                events,
                cancel,
                task,
            }
        } else {
            rig_with(sim_cfg, |c| c.pin = pin.map(str::to_owned))
        };
        let st = r
            .modem
            .wait_for(T, |s| matches!(s.state, LinkState::SimError(_)))
            .await;
        assert_eq!(
            st.map(|s| s.state),
            Some(LinkState::SimError(problem.clone()))
        );
        match r.modem.send(sms("no")).await {
            Err(SendError::Unavailable { reason, .. }) => assert_eq!(reason, problem.to_string()),
            other => panic!("expected unavailable, got {other:?}"),
        }
        let before = r.sim.count_commands("+CPIN");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(r.sim.count_commands("+CPIN"), before, "no retry loop");
        // A wrong PIN is tried once: the SIM keeps its other attempts; a blocked SIM gets no PIN at all.
        let expected_pin_tries = match problem {
            SimProblem::WrongPin => 1,
            _ => 0,
        };
        assert_eq!(r.sim.count_commands("+CPIN="), expected_pin_tries);
        assert!(r.sim.sent().is_empty());
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_busy_after_power_up_is_retried() {
    let sim = start_sim(SimConfig::default());
    sim.sim_busy(4);
    let (tx, _events) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let (modem, task) = spawn(
        fast_config("m1", DeviceSelector::Path(sim.path())),
        tx,
        cancel.clone(),
    );
    let st = modem.wait_for(T, |s| s.state == LinkState::Ready).await;
    assert!(st.is_some(), "{:?}", modem.status());
    assert!(sim.count_commands("+CPIN?") >= 5, "asked again while busy");
    assert!(modem.send(sms("after busy")).await.is_ok());
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_registered_then_registered() {
    let r = rig();
    r.ready().await;
    r.sim.set_registration(2);
    assert!(
        r.modem.wait_for(T, |s| !s.healthy()).await.is_some(),
        "health poll did not see the lost registration"
    );
    // Straight to the modem: +CMS ERROR 331 (no network service) is transient, retried, then reported.
    match r.modem.send(sms("no network")).await {
        Err(e @ SendError::Rejected { .. }) => assert!(!e.is_permanent()),
        other => panic!("expected a transient rejection, got {other:?}"),
    }
    assert!(r.sim.sent().is_empty());
    // Through the pool: it waits for a healthy modem; registration comes back and the message goes.
    let mut pool = ModemPool::new(PoolPolicy {
        deadline: T,
        ..PoolPolicy::default()
    });
    pool.add(r.modem.clone(), MemberConfig::default());
    let sim = r.sim.clone();
    let back = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sim.set_registration(1);
    });
    let sent = pool.send(&sms("no network"), None).await;
    assert!(sent.is_ok(), "{sent:?}");
    let _ = back.await;
    assert_eq!(r.sim.sent().len(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_and_replug_as_a_new_pty() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let link = dir.path().join("usb-SIM_Modem_356938035643809-if00");
    let cfg = SimConfig {
        link: Some(link.clone()),
        ..SimConfig::default()
    };
    let mut r = rig_with(cfg, |_| {});
    r.ready().await;
    let first = r.sim.path();
    r.sim.unplug();
    assert!(
        r.modem
            .wait_for(T, |s| matches!(s.state, LinkState::Reopening { .. }))
            .await
            .is_some(),
        "unplug not noticed: {:?}",
        r.modem.status()
    );
    match r.modem.send(sms("while unplugged")).await {
        Err(SendError::Unavailable { .. }) => {}
        other => panic!("expected unavailable, got {other:?}"),
    }
    // A message arrives on the SIM while the modem is off the bus.
    r.sim
        .inject_sms("+46709999999", "while unplugged")
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Something else takes the old device node (the kernel reuses free pty numbers, as it does ttyUSB
    // numbers), so the modem comes back under another name and only the stable link finds it.
    // Other tests open pseudo-terminals in parallel: take free nodes until the old one is ours.
    let mut squatters = Vec::new();
    for _ in 0..64 {
        let p = smsbridge_hw::sim::Pty::open().unwrap_or_else(|e| panic!("pty: {e}"));
        let hit = p.path() == first;
        squatters.push(p);
        if hit {
            break;
        }
    }
    let second = r.sim.replug().unwrap_or_else(|e| panic!("replug: {e}"));
    assert_ne!(first, second, "comes back as another device");
    r.ready().await;
    assert!(r.modem.metrics().reopens >= 1);
    expect_incoming(&mut r, "while unplugged").await;
    let sent = r.modem.send(sms("after replug")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(r.sim.sent().len(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_fails_over_and_picks_carrier() {
    let sim_a = start_sim(SimConfig::default());
    let sim_b = start_sim(SimConfig {
        imei: "490154203237518".into(),
        imsi: "310260000000001".into(),
        iccid: "8901260000000000001".into(),
        ..SimConfig::default()
    });
    let (tx, _events) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let (a, ta) = spawn(
        fast_config("a", DeviceSelector::Path(sim_a.path())),
        tx.clone(),
        cancel.clone(),
    );
    // b is found by its IMEI among the candidate ports, not by its path.
    let (b, tb) = spawn(
        fast_config(
            "b",
            DeviceSelector::Imei {
                imei: "490154203237518".into(),
                candidates: vec![sim_a.path(), sim_b.path()],
            },
        ),
        tx,
        cancel.clone(),
    );
    for m in [&a, &b] {
        assert!(
            m.wait_for(T, |s| s.healthy()).await.is_some(),
            "{:?}",
            m.status()
        );
    }
    assert_eq!(b.status().identity.mcc_mnc().as_deref(), Some("310260"));
    assert_eq!(b.status().device, Some(sim_b.path()));
    let mut pool = ModemPool::new(PoolPolicy {
        deadline: T,
        ..PoolPolicy::default()
    });
    pool.add(
        a.clone(),
        MemberConfig {
            rate_per_sec: 100.0,
            burst: 100,
            ..MemberConfig::default()
        },
    );
    pool.add(
        b.clone(),
        MemberConfig {
            rate_per_sec: 100.0,
            burst: 100,
            ..MemberConfig::default()
        },
    );
    // Carrier choice: 310260 is only b.
    for i in 0..3 {
        let r = pool.send(&sms(&format!("us {i}")), Some("310260")).await;
        assert_eq!(r.map(|r| r.receipt.modem).ok().as_deref(), Some("b"));
    }
    assert!(matches!(
        pool.send(&sms("nowhere"), Some("99999")).await,
        Err(smsbridge_hw::PoolError::NoModem(_))
    ));
    // a stops answering in the middle of a send (no prompt); the pool moves the message to b. A fresh
    // pool starts its round robin at a.
    let mut pool = ModemPool::new(PoolPolicy {
        deadline: T,
        ..PoolPolicy::default()
    });
    pool.add(a.clone(), MemberConfig::default());
    pool.add(b.clone(), MemberConfig::default());
    sim_a.silence(1000);
    let r = pool.send(&sms("failover"), None).await;
    let r = r.unwrap_or_else(|e| panic!("failover: {e}"));
    assert_eq!((r.receipt.modem.as_str(), r.attempts), ("b", 2));
    let on_b: Vec<_> = sim_b.sent().into_iter().filter_map(|s| s.text).collect();
    assert!(on_b.contains(&"failover".to_owned()));
    assert!(
        sim_a
            .sent()
            .iter()
            .all(|s| s.text.as_deref() != Some("failover"))
    );
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), ta).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_spaces_sends() {
    let r = rig();
    r.ready().await;
    let mut pool = ModemPool::new(PoolPolicy {
        deadline: T,
        idle_wait: Duration::from_millis(50),
        ..PoolPolicy::default()
    });
    pool.add(
        r.modem.clone(),
        MemberConfig {
            rate_per_sec: 4.0,
            burst: 1,
            ..MemberConfig::default()
        },
    );
    let start = Instant::now();
    for i in 0..4 {
        let s = pool.send(&sms(&format!("r{i}")), None).await;
        assert!(s.is_ok(), "{s:?}");
    }
    // 1 at once, then 3 more at 4/s: at least 0.75 s.
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.sim.sent().len(), 4);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replugged_modem_found_again_by_imei_and_ports_are_not_shared() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let sim_a = start_sim(SimConfig {
        link: Some(dir.path().join("ttyUSB0")),
        ..SimConfig::default()
    });
    let sim_b = start_sim(SimConfig {
        imei: "490154203237518".into(),
        iccid: "8901260000000000001".into(),
        link: Some(dir.path().join("ttyUSB1")),
        ..SimConfig::default()
    });
    let (tx, mut events) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let (a, ta) = spawn(
        fast_config("a", DeviceSelector::Path(dir.path().join("ttyUSB0"))),
        tx.clone(),
        cancel.clone(),
    );
    assert!(a.wait_for(T, |s| s.healthy()).await.is_some());
    // b is named by its SIM's ICCID; the candidates are every port in the directory, a's included.
    let (b, tb) = spawn(
        fast_config(
            "b",
            DeviceSelector::Iccid {
                iccid: "8901260000000000001".into(),
                candidates: vec![dir.path().to_path_buf()],
            },
        ),
        tx,
        cancel.clone(),
    );
    assert!(
        b.wait_for(T, |s| s.healthy()).await.is_some(),
        "{:?}",
        b.status()
    );
    assert_eq!(b.status().identity.imei.as_deref(), Some("490154203237518"));
    // The probe did not open a's port (locked by a): no AT+CCID reached a's modem.
    assert_eq!(
        sim_a.count_commands("+CCID"),
        1,
        "only a's own identity read"
    );
    assert_eq!(a.metrics().errors, 0);

    // b is unplugged and comes back as another device; the scan finds it again by its ICCID.
    sim_b.unplug();
    assert!(
        b.wait_for(T, |s| matches!(s.state, LinkState::Reopening { .. }))
            .await
            .is_some()
    );
    sim_b
        .inject_sms("+46709999999", "to b while away")
        .unwrap_or_default();
    let _squatter = smsbridge_hw::sim::Pty::open().unwrap_or_else(|e| panic!("pty: {e}"));
    let new_path = sim_b.replug().unwrap_or_else(|e| panic!("replug: {e}"));
    assert!(
        b.wait_for(T, |s| s.healthy()).await.is_some(),
        "{:?}",
        b.status()
    );
    assert!(b.metrics().reopens >= 1);
    match tokio::time::timeout(T, events.recv()).await {
        Ok(Some(ModemEvent::Incoming { message, commit })) => {
            assert_eq!(
                (message.modem.as_str(), message.text.as_str()),
                ("b", "to b while away")
            );
            commit.confirm();
        }
        other => panic!("expected b's message, got {other:?}"),
    }
    let sent = b.send(sms("b is back")).await;
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(sim_b.sent().len(), 1);
    assert!(sim_a.sent().is_empty());
    assert_eq!(b.status().device, Some(dir.path().join("ttyUSB1")));
    assert_eq!(
        std::fs::read_link(dir.path().join("ttyUSB1")).ok(),
        Some(new_path)
    );
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), ta).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), tb).await;
}
