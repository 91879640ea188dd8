//! GSM modems as carrier links: a `[[carriers.modem]]` entry as the driver's settings, the carrier message
//! id a modem submission gets (and that its status report is matched with), the driver's send results as
//! dispatcher outcomes, the modem's link state for Status, and the task that commits a carrier's modem
//! events (status reports, MO messages) before the modem may forget them.
//!
//! The driver (`smsbridge_hw`) knows modems, not the gateway: it sends the ready-made SMS-SUBMIT TPDUs the
//! dispatcher builds ([`super::pdu::submit_tpdu`]) and hands up events with a [`smsbridge_hw::Commit`] that is
//! confirmed here only after the store committed them (then the SIM copy is deleted, or `+CNMA` sent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry, proto};

use smsbridge_hw::{
    DeviceSelector, IncomingMode, LinkState, MetricsSnapshot, ModemConfig, ModemEvent, ModemHandle,
    ModemStatus, ReportMode, SendError, TpduReceipt, describe_result,
};
use smsbridge_protocol::at::CommandKind;
use tokio::sync::mpsc;

use super::inbound::CarrierInbound;
use crate::config::{self, CarrierConfig, ModemLinkConfig};
use crate::link::smpp::Verdict;

/// Status reports and MO messages a carrier's modems may hand up before the gateway has committed them.
pub const EVENT_QUEUE: usize = 64;

/// Digits of a recipient kept in the correlation key: enough to tell subscribers apart, few enough that a
/// national number (`015112345678`) and its international form (`+4915112345678`, `004915112345678`)
/// give the same key.
const RECIPIENT_KEY_DIGITS: usize = 9;

/// The link's name in Status, metrics and logs: `modem0`, `modem1`, ... by position in `[[carriers.modem]]`.
pub fn link_name(index: usize) -> String {
    format!("modem{index}")
}

/// The name the driver gives the modem (in its logs and events): carrier and link, `gsm/modem0`.
pub fn driver_name(carrier: &config::CarrierId, index: usize) -> String {
    format!("{carrier}/{}", link_name(index))
}

/// The recipient part of a modem's carrier message id: the last [`RECIPIENT_KEY_DIGITS`] digits, without
/// `+`, an international prefix or a national trunk `0` (a status report may give the recipient as
/// `+4915112345678`, `4915112345678`, `004915112345678` or `015112345678` for the same number we sent to).
pub fn recipient_key(recipient: &str) -> String {
    let digits: Vec<u8> = recipient.bytes().filter(u8::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(RECIPIENT_KEY_DIGITS);
    let tail = digits.get(start..).unwrap_or_default();
    let first = tail.iter().position(|&d| d != b'0').unwrap_or(tail.len());
    String::from_utf8_lossy(tail.get(first..).unwrap_or_default()).into_owned()
}

/// The carrier message id of a segment a modem sent: `<driver name>:<TP-MR>:<recipient key>`, what a status
/// report (TS 23.040 §9.2.2.3: TP-MR and TP-RA) is matched with.
///
/// Limitation: TP-MR is one octet (§9.2.3.6), so a modem reuses the id after 256 submissions to the same
/// recipient. The store keeps the newest mapping; a status report that comes after its TP-MR was reused for
/// the same recipient is applied to the newer message. A modem that assigns TP-MR per modem (the usual
/// case) wraps after 256 submissions in all, so only a recipient that got about 256 messages from one
/// modem while a report was still pending is affected.
pub fn carrier_message_id(modem: &str, tp_mr: u8, recipient: &str) -> String {
    format!("{modem}:{tp_mr}:{}", recipient_key(recipient))
}

/// What the dispatcher records for one segment a modem was asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemOutcome {
    /// The network took it: `+CMGS: <mr>`.
    Accepted { carrier_message_id: String },
    /// The network or the modem refused it for good (a permanent `+CMS ERROR`): state REJECTED.
    Rejected { reason: String },
    /// It cannot be sent as it is (not a number, not encodable): state FAILED.
    Failed { reason: String },
    /// Refused for now after the driver's own retries: retried with the carrier's backoff.
    Transient { reason: String },
    /// It may have gone out (the modem stopped answering after the TPDU was written, or answered without a
    /// TP-MR): resent, counted as a possible duplicate.
    Unknown { reason: String },
    /// Never written to the modem (not ready, stopped): back to the queue now, not counted.
    NotSent { reason: String },
}

impl ModemOutcome {
    /// Never written: the rate-limit tokens it took go back.
    pub fn not_sent(&self) -> bool {
        matches!(self, ModemOutcome::NotSent { .. })
    }
}

/// The dispatcher's outcome of the driver's answer to [`smsbridge_hw::ModemHandle::send_tpdu`].
pub fn outcome(r: Result<TpduReceipt, SendError>) -> ModemOutcome {
    match r {
        Ok(sent) => ModemOutcome::Accepted {
            carrier_message_id: carrier_message_id(&sent.modem, sent.tp_mr, &sent.recipient),
        },
        Err(e @ (SendError::BadNumber(_) | SendError::Encode(_))) => ModemOutcome::Failed {
            reason: e.to_string(),
        },
        Err(SendError::Rejected {
            result, permanent, ..
        }) => {
            let reason = format!("modem answered {}", describe_result(&result));
            if permanent {
                ModemOutcome::Rejected { reason }
            } else {
                ModemOutcome::Transient { reason }
            }
        }
        Err(e @ SendError::NoReference { .. }) => ModemOutcome::Unknown {
            reason: e.to_string(),
        },
        Err(e @ SendError::Link { maybe_sent, .. }) => {
            if maybe_sent {
                ModemOutcome::Unknown {
                    reason: e.to_string(),
                }
            } else {
                ModemOutcome::Transient {
                    reason: e.to_string(),
                }
            }
        }
        Err(e @ (SendError::Unavailable { .. } | SendError::Stopped)) => ModemOutcome::NotSent {
            reason: e.to_string(),
        },
    }
}

/// `[[carriers.modem]]` entry `index` of `carrier` as the driver's settings. With `cnma`, received messages
/// and status reports are routed (`+CMT`, `+CDS`) and acknowledged with `+CNMA` after the commit; without,
/// both are stored on the SIM (`+CMTI`, `+CDSI`) and deleted after the commit, so neither is lost when the
/// gateway stops before committing.
pub fn hw_config(
    carrier: &CarrierConfig,
    index: usize,
    c: &ModemLinkConfig,
) -> Result<ModemConfig, String> {
    let key = format!("carriers[{}].modem[{index}]", carrier.id);
    let device = match (&c.device, &c.imei, &c.iccid) {
        (Some(path), None, None) => DeviceSelector::Path(path.clone()),
        (None, Some(imei), None) => DeviceSelector::Imei {
            imei: imei.clone(),
            candidates: Vec::new(),
        },
        (None, None, Some(iccid)) => DeviceSelector::Iccid {
            iccid: iccid.clone(),
            candidates: Vec::new(),
        },
        _ => {
            return Err(format!(
                "{key}: expected exactly one of `device`, `imei` and `iccid`"
            ));
        }
    };
    let mut m = ModemConfig::new(&driver_name(&carrier.id, index), device);
    m.baud_rate = c.baud_rate;
    m.flow_control = match c.flow_control {
        config::FlowControl::None => smsbridge_hw::FlowControl::None,
        config::FlowControl::Hardware => smsbridge_hw::FlowControl::Hardware,
        config::FlowControl::Software => smsbridge_hw::FlowControl::Software,
    };
    m.pin = match c.pin_secret() {
        Some(secret) => Some(secret.resolve().map_err(|e| format!("{key}.pin: {e}"))?),
        None => None,
    };
    m.smsc = c.smsc.clone();
    (m.incoming, m.reports) = if c.cnma {
        (IncomingMode::Routed, ReportMode::Routed)
    } else {
        (IncomingMode::Stored, ReportMode::Stored)
    };
    m.health_interval = c.health_interval;
    if let Some(limit) = c.command_timeout {
        m = m.with_command_timeout(limit);
    }
    m = m.with_send_timeout(c.send_timeout);
    m.prompt_timeout = c.prompt_timeout;
    m.send_retries = c.send_retries;
    m.send_retry_delay = c.send_retry_delay;
    m.sim_busy_retries = c.sim_busy_retries;
    m.sim_busy_delay = c.sim_busy_delay;
    m.sim_error_recheck = c.sim_error_recheck;
    m.noise_drain = c.noise_drain;
    m.probe_attempts = c.probe_attempts;
    m.probe_timeout = c.probe_timeout;
    m.reopen_backoff = (c.reconnect.initial_backoff, c.reconnect.max_backoff);
    m.reassembly_timeout = c.reassembly_timeout;
    m.reassembly_max_pending = usize::try_from(c.reassembly_max_pending).unwrap_or(usize::MAX);
    Ok(m)
}

/// The longest one send may take in the driver: the prompt, then `+CMGS` and each retry of a transient
/// error with its pause. The dispatcher waits at least this long for an outcome.
pub fn longest_send(m: &ModemConfig) -> Duration {
    let tries = m.send_retries.saturating_add(1);
    (m.prompt_timeout + m.timeout(CommandKind::SmsSend)).saturating_mul(tries)
        + m.send_retry_delay.saturating_mul(m.send_retries)
}

/// A modem's state for Status: `READY` (ready and registered), `NO_NETWORK`, `CONNECTING`, `RESETTING`,
/// `DOWN`, `SIM_ERROR`, `CLOSED`; and a detail a person can act on.
pub fn state_name(s: &ModemStatus) -> (&'static str, String) {
    match &s.state {
        LinkState::Opening | LinkState::Initializing => ("CONNECTING", String::new()),
        LinkState::Ready if s.healthy() => {
            let mut detail = s.operator.clone().unwrap_or_default();
            if let Some(rssi) = s.rssi {
                if !detail.is_empty() {
                    detail.push_str(", ");
                }
                detail.push_str(&format!("rssi {rssi}"));
            }
            ("READY", detail)
        }
        LinkState::Ready => (
            "NO_NETWORK",
            match s.registration {
                Some(stat) => format!("+CREG stat {stat}"),
                None => "registration unknown".into(),
            },
        ),
        LinkState::Resetting => ("RESETTING", String::new()),
        LinkState::Reopening { reason } => ("DOWN", reason.clone()),
        LinkState::SimError(problem) => ("SIM_ERROR", problem.to_string()),
        LinkState::Stopped => ("CLOSED", String::new()),
    }
}

/// Commits the events of one carrier's modems until every modem task has ended (they hold the senders):
/// a status report goes through the receipt writer like an SMPP receipt, an MO message into the store;
/// each is confirmed to its modem only once committed. An event that could not be committed is not
/// confirmed: the modem keeps it (on the SIM, or unacknowledged so the network sends it again) and hands
/// it up again later.
///
/// `numbers` gives, by driver name, the `to` of MO messages (the SIM's number when configured, else the
/// link's name).
pub async fn run_events(
    mut events: mpsc::Receiver<ModemEvent>,
    inbound: Arc<CarrierInbound>,
    numbers: HashMap<String, String>,
) {
    while let Some(ev) = events.recv().await {
        match ev {
            ModemEvent::Receipt { receipt, commit } => {
                if inbound.modem_receipt(&receipt).await.is_ok() {
                    commit.confirm();
                }
            }
            ModemEvent::Incoming { message, commit } => {
                let to = numbers
                    .get(&message.modem)
                    .cloned()
                    .unwrap_or_else(|| message.modem.clone());
                if inbound.modem_mo(message, to).await == Verdict::Committed {
                    commit.confirm();
                }
            }
        }
    }
}

/// Reads a gauge's value of one modem.
type ReadGauge = fn(&MetricsSnapshot, &ModemHandle) -> i64;
/// Reads a counter's value of one modem.
type ReadCounter = fn(&MetricsSnapshot) -> u64;

/// The driver's per-modem counters and gauges as Prometheus metrics with `carrier` and `link` labels, read
/// at scrape time (`smsbridge_modem_*`, next to the per-carrier `smsbridge_segments_*` the dispatcher
/// counts for every link).
pub struct ModemCollector {
    modems: Vec<(String, String, ModemHandle)>,
    gauges: Vec<(IntGaugeVec, ReadGauge)>,
    counters: Vec<(IntCounterVec, ReadCounter)>,
    /// Serializes refreshes, so two scrapes at once do not add a counter's increase twice.
    refresh: Mutex<()>,
}

impl ModemCollector {
    /// Registers the metrics of `modems` (carrier, link name, handle) into `registry`.
    pub fn register(
        registry: &Registry,
        modems: Vec<(String, String, ModemHandle)>,
    ) -> prometheus::Result<()> {
        let labels = &["carrier", "link"];
        let gauge = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), labels);
        let counter = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), labels);
        let gauges: Vec<(IntGaugeVec, ReadGauge)> = vec![
            (
                gauge(
                    "smsbridge_modem_up",
                    "1 while the modem is ready and registered on a network",
                )?,
                |_, h| i64::from(h.is_healthy()),
            ),
            (
                gauge(
                    "smsbridge_modem_rssi",
                    "+CSQ rssi of the last health poll (0-31, 99 unknown)",
                )?,
                |m, _| m.rssi,
            ),
            (
                gauge(
                    "smsbridge_modem_registration",
                    "+CREG stat of the last health poll (1 home, 5 roaming, -1 unknown)",
                )?,
                |m, _| m.registration,
            ),
        ];
        let counters: Vec<(IntCounterVec, ReadCounter)> = vec![
            (
                counter(
                    "smsbridge_modem_segments_total",
                    "SMS-SUBMITs the network accepted (+CMGS: <mr>)",
                )?,
                |m| m.segments,
            ),
            (
                counter(
                    "smsbridge_modem_send_errors_total",
                    "Sends that failed after the driver's retries",
                )?,
                |m| m.send_errors,
            ),
            (
                counter(
                    "smsbridge_modem_send_retries_total",
                    "Retries of a segment after a transient error",
                )?,
                |m| m.send_retries,
            ),
            (
                counter(
                    "smsbridge_modem_errors_total",
                    "Commands that failed or timed out, and other link errors",
                )?,
                |m| m.errors,
            ),
            (
                counter(
                    "smsbridge_modem_resets_total",
                    "Reset sequences run on a silent modem",
                )?,
                |m| m.resets,
            ),
            (
                counter(
                    "smsbridge_modem_reopens_total",
                    "Times the device was reopened after it was lost",
                )?,
                |m| m.reopens,
            ),
            (
                counter(
                    "smsbridge_modem_received_total",
                    "Messages received (a concatenated message counts once)",
                )?,
                |m| m.received,
            ),
            (
                counter("smsbridge_modem_reports_total", "Status reports received")?,
                |m| m.reports,
            ),
        ];
        registry.register(Box::new(ModemCollector {
            modems,
            gauges,
            counters,
            refresh: Mutex::new(()),
        }))
    }
}

impl Collector for ModemCollector {
    fn desc(&self) -> Vec<&Desc> {
        let gauges = self.gauges.iter().flat_map(|(g, _)| g.desc());
        let counters = self.counters.iter().flat_map(|(c, _)| c.desc());
        gauges.chain(counters).collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let _one_at_a_time = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        for (carrier, link, handle) in &self.modems {
            let snapshot = handle.metrics();
            let labels = [carrier.as_str(), link.as_str()];
            for (g, read) in &self.gauges {
                g.with_label_values(&labels).set(read(&snapshot, handle));
            }
            for (c, read) in &self.counters {
                let c = c.with_label_values(&labels);
                let now = read(&snapshot);
                let shown = c.get();
                if now > shown {
                    c.inc_by(now - shown);
                }
            }
        }
        let gauges = self.gauges.iter().flat_map(|(g, _)| g.collect());
        let counters = self.counters.iter().flat_map(|(c, _)| c.collect());
        gauges.chain(counters).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsbridge_protocol::at::{ErrorCode, FinalResult};

    #[test]
    fn recipients_in_any_format_give_one_key() {
        let key = recipient_key("+4915112345678");
        assert_eq!(key, "112345678");
        for other in [
            "4915112345678",
            "004915112345678",
            "015112345678",
            "+49 151 12345678",
        ] {
            assert_eq!(recipient_key(other), key, "{other}");
        }
        // Short numbers keep all their digits, without leading zeros.
        assert_eq!(recipient_key("22333"), "22333");
        assert_eq!(recipient_key("0022333"), "22333");
        assert_eq!(recipient_key(""), "");
        assert_eq!(
            carrier_message_id("gsm/modem0", 42, "+4915112345678"),
            "gsm/modem0:42:112345678"
        );
    }

    fn rejected(code: u16, permanent: bool) -> SendError {
        SendError::Rejected {
            segment: 0,
            result: FinalResult::CmsError(ErrorCode {
                code: Some(code),
                text: None,
            }),
            permanent,
            sent: Vec::new(),
        }
    }

    #[test]
    fn driver_results_become_outcomes() {
        let ok = outcome(Ok(TpduReceipt {
            modem: "gsm/modem0".into(),
            recipient: "+4915112345678".into(),
            tp_mr: 7,
            retries: 0,
        }));
        assert_eq!(
            ok,
            ModemOutcome::Accepted {
                carrier_message_id: "gsm/modem0:7:112345678".into()
            }
        );
        match outcome(Err(rejected(21, true))) {
            ModemOutcome::Rejected { reason } => assert_eq!(
                reason,
                "modem answered +CMS ERROR: 21 (short message transfer rejected)"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            outcome(Err(rejected(332, false))),
            ModemOutcome::Transient { .. }
        ));
        assert!(matches!(
            outcome(Err(SendError::BadNumber("x".into()))),
            ModemOutcome::Failed { .. }
        ));
        assert!(matches!(
            outcome(Err(SendError::NoReference {
                segment: 0,
                sent: Vec::new()
            })),
            ModemOutcome::Unknown { .. }
        ));
        let not_sent = outcome(Err(SendError::Unavailable {
            modem: "m".into(),
            reason: "SIM busy".into(),
        }));
        assert!(not_sent.not_sent());
        assert!(outcome(Err(SendError::Stopped)).not_sent());
    }

    #[test]
    fn modem_states_for_status() {
        let mut s = ModemStatus {
            state: LinkState::Ready,
            device: None,
            identity: Default::default(),
            rssi: Some(21),
            registration: Some(1),
            operator: Some("SIMNET".into()),
        };
        assert_eq!(state_name(&s), ("READY", "SIMNET, rssi 21".into()));
        s.registration = Some(2);
        assert_eq!(state_name(&s).0, "NO_NETWORK");
        s.state = LinkState::SimError(smsbridge_hw::SimProblem::PinRequired);
        assert_eq!(
            state_name(&s),
            ("SIM_ERROR", "SIM PIN required and no PIN configured".into())
        );
    }
}
