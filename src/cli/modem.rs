//! `smsbridge modem probe|send` and `smsbridge sim modem`: operator tools over the modem driver, and the
//! simulated modem for demos and tests.
//!
//! `probe` prints one JSON object: device, identity (IMEI, IMSI with MCC/MNC, ICCID), SIM state, signal,
//! registration, operator and service centre. `send` prints the TP-MR of each segment and, with
//! `--wait-report`, the status report of each. `sim modem` prints the pseudo-terminal's path on the first
//! line and runs until interrupted.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use smsbridge_hw::sim::{SimConfig, SimModem};
use smsbridge_hw::{
    CancellationToken, DeviceSelector, LinkState, ModemConfig, ModemEvent, ModemHandle,
    OutgoingSms, ReceiptEvent, spawn,
};
use tokio::sync::mpsc;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn config(device: &str, pin: Option<&str>) -> ModemConfig {
    let selector = match device.split_once(':') {
        Some(("imei", v)) => DeviceSelector::Imei {
            imei: v.to_owned(),
            candidates: Vec::new(),
        },
        Some(("iccid", v)) => DeviceSelector::Iccid {
            iccid: v.to_owned(),
            candidates: Vec::new(),
        },
        _ => DeviceSelector::Path(PathBuf::from(device)),
    };
    let mut cfg = ModemConfig::new("cli", selector);
    cfg.pin = pin.map(str::to_owned);
    // An operator waits seconds, not minutes: one reopen attempt pace, no long SIM recheck.
    cfg.reopen_backoff = (Duration::from_secs(1), Duration::from_secs(2));
    cfg
}

/// Starts the modem task and waits until it is ready or stuck (SIM problem, device missing).
async fn open(
    device: &str,
    pin: Option<&str>,
    within: Duration,
) -> anyhow::Result<(ModemHandle, mpsc::Receiver<ModemEvent>, CancellationToken)> {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let (handle, _task) = spawn(config(device, pin), tx, cancel.clone());
    let st = handle
        .wait_for(within, |s| {
            matches!(
                s.state,
                LinkState::Ready | LinkState::SimError(_) | LinkState::Reopening { .. }
            )
        })
        .await;
    match st.map(|s| s.state) {
        Some(LinkState::Ready) => Ok((handle, rx, cancel)),
        Some(LinkState::SimError(p)) => {
            cancel.cancel();
            anyhow::bail!("{device}: {p}")
        }
        // An operator tool does not wait for a device to come back.
        Some(LinkState::Reopening { reason }) => {
            cancel.cancel();
            anyhow::bail!("{reason}")
        }
        _ => {
            let st = handle.status();
            cancel.cancel();
            anyhow::bail!(
                "{device}: modem not ready within {within:?} (state {:?})",
                st.state
            )
        }
    }
}

fn registration_name(stat: u8) -> &'static str {
    match stat {
        0 => "not_registered",
        1 => "home",
        2 => "searching",
        3 => "denied",
        5 => "roaming",
        _ => "unknown",
    }
}

/// `smsbridge modem probe <DEVICE>`: exit 0 when the modem answered.
pub fn probe(device: &str, pin: Option<&str>, out: &mut dyn Write) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let report = rt.block_on(async {
        let (handle, _rx, cancel) = open(device, pin, Duration::from_secs(30)).await?;
        let r = handle.probe().await;
        cancel.cancel();
        r.map_err(anyhow::Error::from)
    })?;
    let id = &report.identity;
    let signal = report.signal.map(|(rssi, ber)| {
        json!({
            "rssi": rssi,
            "ber": ber,
            // TS 27.007 §8.5: 0 = -113 dBm or less, 2 dB steps, 31 = -51 dBm or more.
            "dbm": (rssi <= 31).then(|| -113 + 2 * i32::from(rssi)),
        })
    });
    let v = json!({
        "device": report.device.map(|p| p.display().to_string()),
        "imei": id.imei,
        "imsi": id.imsi,
        "mcc": id.mcc,
        "mnc": id.mnc,
        "iccid": id.iccid,
        "sim": report.sim,
        "signal": signal,
        "registration": report.registration.map(|s| json!({"stat": s, "name": registration_name(s)})),
        "operator": report.operator,
        "smsc": report.smsc,
    });
    serde_json::to_writer(&mut *out, &v)?;
    writeln!(out)?;
    Ok(0)
}

fn receipt_json(r: &ReceiptEvent) -> Value {
    json!({
        "tp_mr": r.tp_mr,
        "recipient": r.recipient,
        "tp_st": r.status.0,
        "status": r.status.description(),
        "state": r.state.name(),
        "discharge_time": r.discharge_time.to_iso8601(),
    })
}

/// `smsbridge modem send <DEVICE> <NUMBER> <TEXT> [--wait-report]`: exit 0 when sent (and, with
/// `--wait-report`, every segment was reported delivered), 1 when a report says otherwise or none came.
pub fn send(
    device: &str,
    number: &str,
    text: &str,
    wait_report: bool,
    timeout: Duration,
    pin: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let (sent, reports, complete) = rt.block_on(async {
        let (handle, mut events, cancel) = open(device, pin, Duration::from_secs(30)).await?;
        let sent = handle
            .send(OutgoingSms {
                to: number.to_owned(),
                text: text.to_owned(),
                want_report: wait_report,
            })
            .await;
        let sent = match sent {
            Ok(s) => s,
            Err(e) => {
                cancel.cancel();
                return Err(anyhow::Error::from(e));
            }
        };
        let mut reports: Vec<ReceiptEvent> = Vec::new();
        if wait_report {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut pending: Vec<u8> = sent.tp_mrs.clone();
            // Bounded by the deadline and by the number of segments.
            while !pending.is_empty() {
                let ev = tokio::time::timeout_at(deadline, events.recv()).await;
                match ev {
                    Ok(Some(ModemEvent::Receipt { receipt, commit })) => {
                        commit.confirm();
                        if receipt.recipient == sent.recipient
                            && let Some(i) = pending.iter().position(|&m| m == receipt.tp_mr)
                            && receipt.state.is_final()
                        {
                            pending.remove(i);
                            reports.push(receipt);
                        }
                    }
                    // Incoming messages are left on the SIM for the gateway: no commit.
                    Ok(Some(ModemEvent::Incoming { .. })) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            // Let the deletes of the committed reports go out.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        cancel.cancel();
        let complete = reports.len() == sent.tp_mrs.len();
        Ok::<_, anyhow::Error>((sent, reports, complete))
    })?;
    let v = json!({
        "modem": device,
        "recipient": sent.recipient,
        "tp_mr": sent.tp_mrs,
        "segments": sent.tp_mrs.len(),
        "retries": sent.retries,
        "reports": wait_report.then(|| reports.iter().map(receipt_json).collect::<Vec<_>>()),
    });
    serde_json::to_writer(&mut *out, &v)?;
    writeln!(out)?;
    let delivered = reports.iter().all(|r| r.state.is_delivered());
    Ok(if !wait_report || (complete && delivered) {
        0
    } else {
        1
    })
}

/// `smsbridge sim modem`: prints the pseudo-terminal's path, then serves until interrupted (or for
/// `run_for`, or until standard input closes when asked); on the way out prints what was sent to it, as JSON.
pub fn sim(
    report_delay: Duration,
    link: Option<PathBuf>,
    run_for: Option<Duration>,
    until_stdin_closes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let rt = runtime()?;
    rt.block_on(async {
        let sim = SimModem::start(SimConfig {
            report_delay,
            link,
            ..SimConfig::default()
        })?;
        writeln!(out, "{}", sim.path().display())?;
        out.flush()?;
        let stop = async {
            match run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        let stdin_closed = async {
            if until_stdin_closes {
                // Reads and drops input until end of file (a supervising process went away).
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = stop => {}
            _ = stdin_closed => {}
        }
        let sent = sim.sent();
        writeln!(
            out,
            "{}",
            json!({"sent": sent.iter().map(|s| json!({"tp_mr": s.tp_mr, "to": s.to, "text": s.text})).collect::<Vec<_>>()})
        )?;
        Ok::<_, anyhow::Error>(0)
    })
}
