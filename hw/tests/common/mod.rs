//! Shared set-up for the end-to-end tests: a simulated modem on a pseudo-terminal and our driver on the
//! same path through tokio-serial.
#![allow(dead_code)]

use std::time::Duration;

use smsbridge_hw::sim::{SimConfig, SimHandle, SimModem};
use smsbridge_hw::{
    DeviceSelector, LinkState, ModemConfig, ModemEvent, ModemHandle, ModemStatus, spawn,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const READY_WITHIN: Duration = Duration::from_secs(20);

/// Quick timings so fault tests run in seconds.
pub fn fast_config(name: &str, device: DeviceSelector) -> ModemConfig {
    let mut cfg = ModemConfig::new(name, device).with_command_timeout(Duration::from_secs(2));
    cfg.health_interval = Duration::from_millis(500);
    cfg.send_retry_delay = Duration::from_millis(100);
    cfg.sim_busy_delay = Duration::from_millis(100);
    cfg.probe_timeout = Duration::from_millis(500);
    cfg.reopen_backoff = (Duration::from_millis(100), Duration::from_millis(500));
    cfg.sim_error_recheck = Duration::from_secs(60);
    cfg.timeouts.push((
        smsbridge_protocol::at::CommandKind::SmsSend,
        Duration::from_secs(5),
    ));
    cfg
}

pub struct Rig {
    pub sim: SimHandle,
    pub modem: ModemHandle,
    pub events: mpsc::Receiver<ModemEvent>,
    pub cancel: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

pub fn start_sim(cfg: SimConfig) -> SimHandle {
    match SimModem::start(cfg) {
        Ok(s) => s,
        Err(e) => panic!("simulator: {e}"),
    }
}

pub fn rig_with(sim_cfg: SimConfig, tweak: impl FnOnce(&mut ModemConfig)) -> Rig {
    let sim = start_sim(sim_cfg);
    let device = match sim.link() {
        Some(l) => DeviceSelector::Path(l),
        None => DeviceSelector::Path(sim.path()),
    };
    let mut cfg = fast_config("m1", device);
    tweak(&mut cfg);
    let (tx, events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let (modem, task) = spawn(cfg, tx, cancel.clone());
    Rig {
        sim,
        modem,
        events,
        cancel,
        task,
    }
}

pub fn rig() -> Rig {
    rig_with(SimConfig::default(), |_| {})
}

impl Rig {
    pub async fn ready(&self) -> ModemStatus {
        match self
            .modem
            .wait_for(READY_WITHIN, |s| s.state == LinkState::Ready)
            .await
        {
            Some(s) => s,
            None => panic!("modem not ready: {:?}", self.modem.status()),
        }
    }

    /// The next event within `within`.
    pub async fn event(&mut self, within: Duration) -> ModemEvent {
        match tokio::time::timeout(within, self.events.recv()).await {
            Ok(Some(e)) => e,
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!(
                "no event within {within:?}; status {:?}",
                self.modem.status()
            ),
        }
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Polls `cond` every 50 ms until true or `within` passes.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
