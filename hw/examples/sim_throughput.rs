//! Load over the simulated modem: our driver on one pseudo-terminal, sending and receiving as fast as the
//! AT dialogue allows. Prints msgs/s and send latency percentiles; the numbers go into
//! `benches/notes-modem.md`.
//!
//! `cargo run -p smsbridge-hw --example sim_throughput [--release] -- [SENDS] [RECEIVES]`

use std::time::Duration;

use smsbridge_hw::sim::{SimConfig, SimModem};
use smsbridge_hw::{
    CancellationToken, DeviceSelector, LinkState, ModemConfig, ModemEvent, OutgoingSms, spawn,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sends: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let receives: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let sim = SimModem::start(SimConfig {
        capacity: 255,
        ..SimConfig::default()
    })?;
    let (tx, mut events) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let t0 = Instant::now();
    let (modem, task) = spawn(
        ModemConfig::new("load", DeviceSelector::Path(sim.path())),
        tx,
        cancel.clone(),
    );
    modem
        .wait_for(Duration::from_secs(30), |s| s.state == LinkState::Ready)
        .await
        .ok_or("modem not ready")?;
    println!(
        "ready after {:?} (open, init, identity, health, +CMGL)",
        t0.elapsed()
    );

    let mut lat = Vec::with_capacity(sends);
    let start = Instant::now();
    for i in 0..sends {
        let t = Instant::now();
        modem
            .send(OutgoingSms {
                to: "+46701234567".into(),
                text: format!("load test message {i}"),
                want_report: false,
            })
            .await?;
        lat.push(t.elapsed());
    }
    let took = start.elapsed();
    lat.sort();
    println!(
        "send: {sends} single-segment messages in {took:?}: {:.0} msgs/s; latency p50 {:?} p90 {:?} p99 {:?} max {:?}",
        sends as f64 / took.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );

    let start = Instant::now();
    let mut got = 0usize;
    for i in 0..receives {
        sim.inject_sms("+46709999999", &format!("incoming {i}"))?;
        // The SIM holds 255: hand them out as they come so it never fills.
        while let Ok(ev) = events.try_recv() {
            if let ModemEvent::Incoming { commit, .. } = ev {
                commit.confirm();
                got += 1;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < receives && Instant::now() < deadline {
        if let Ok(Some(ModemEvent::Incoming { commit, .. })) =
            tokio::time::timeout(Duration::from_secs(5), events.recv()).await
        {
            commit.confirm();
            got += 1;
        }
    }
    let took = start.elapsed();
    println!(
        "receive: {got}/{receives} messages (+CMTI, +CMGR, commit, +CMGD) in {took:?}: {:.0} msgs/s",
        got as f64 / took.as_secs_f64()
    );
    cancel.cancel();
    let _ = task.await;
    Ok(())
}
