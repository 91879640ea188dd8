//! How one modem is reached and driven: device selection, serial settings, SIM PIN, message indication
//! modes, timeouts and recovery pacing. Plain data; the gateway fills it from its TOML.

use std::path::PathBuf;
use std::time::Duration;

use smsbridge_protocol::at::CommandKind;

/// Which device is the modem. A USB modem may come back as another `/dev/ttyUSBn` after a replug, so
/// production configs name it by a stable path or by what the modem says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelector {
    /// A device path, best a stable one (`/dev/serial/by-id/usb-...-if00-port0`).
    Path(PathBuf),
    /// The modem whose `AT+CGSN` is this IMEI, among the candidate ports.
    Imei {
        /// The IMEI.
        imei: String,
        /// Ports to probe; a directory stands for every entry in it. Empty: [`default_candidates`].
        candidates: Vec<PathBuf>,
    },
    /// The modem whose SIM's `AT+CCID` is this ICCID, among the candidate ports.
    Iccid {
        /// The ICCID.
        iccid: String,
        /// As for [`DeviceSelector::Imei`].
        candidates: Vec<PathBuf>,
    },
}

/// The ports scanned when a selector names none: USB serial and ACM devices and `/dev/serial/by-id`.
pub fn default_candidates() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/dev/serial/by-id"),
        PathBuf::from("/dev/ttyUSB*"),
        PathBuf::from("/dev/ttyACM*"),
    ]
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowControl {
    /// None.
    #[default]
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// How new messages are indicated (`AT+CNMI` `<mt>`, TS 27.005 §3.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncomingMode {
    /// Stored on the SIM and announced with `+CMTI`; read with `+CMGR`, deleted after the commit. The
    /// safe default: a message survives a crash of the gateway.
    #[default]
    Stored,
    /// Routed with `+CMT` (not stored); acknowledged with `+CNMA` after the commit (`AT+CSMS=1`).
    Routed,
}

/// How status reports are indicated (`AT+CNMI` `<ds>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportMode {
    /// `+CDS` with the PDU.
    #[default]
    Routed,
    /// Stored, announced with `+CDSI`.
    Stored,
}

/// One modem's settings.
#[derive(Debug, Clone)]
pub struct ModemConfig {
    /// Name in logs, metrics and events (`modem-1`).
    pub name: String,
    /// Which device.
    pub device: DeviceSelector,
    /// Baud rate.
    pub baud_rate: u32,
    /// Flow control.
    pub flow_control: FlowControl,
    /// The SIM PIN, entered when the SIM asks for it.
    pub pin: Option<String>,
    /// New-message indication.
    pub incoming: IncomingMode,
    /// Status-report indication.
    pub reports: ReportMode,
    /// Carrier this modem sends for (`24008`); `None`: MCC+MNC of the SIM's IMSI.
    pub carrier: Option<String>,
    /// Service centre (`+4917...`) put in front of every SMS-SUBMIT; `None`: the one stored on the SIM
    /// (`AT+CSCA`), sent as an empty SCA (TS 27.005 §3.1).
    pub smsc: Option<String>,
    /// Digits of the MNC in the IMSI when the MCC does not tell (2 in most of the world).
    pub mnc_digits: Option<u8>,
    /// Time between health polls (`+CSQ`, `+CREG?`, `+COPS?`). Parts of concatenated messages are checked
    /// against `reassembly_timeout` at each poll too.
    pub health_interval: Duration,
    /// Per command kind time limits that replace [`CommandKind::suggested_timeout`] (see
    /// [`ModemConfig::with_command_timeout`], [`ModemConfig::with_send_timeout`]).
    pub timeouts: Vec<(CommandKind, Duration)>,
    /// How long to wait for the `> ` prompt of `+CMGS`.
    pub prompt_timeout: Duration,
    /// Retries of a segment after a transient `+CMS ERROR` / `ERROR`.
    pub send_retries: u32,
    /// Pause before such a retry.
    pub send_retry_delay: Duration,
    /// "SIM busy" after power-up: how many times to ask again, and how long to wait between.
    pub sim_busy_retries: u32,
    /// See `sim_busy_retries`.
    pub sim_busy_delay: Duration,
    /// A PIN-blocked, PIN-less or missing SIM: how long to wait before checking it again.
    pub sim_error_recheck: Duration,
    /// How long waking the modem (an ESC to leave a stuck `> ` prompt, before the `AT` probes) reads and
    /// drops what the modem sends: until the line is quiet for 100 ms, at most this long.
    pub noise_drain: Duration,
    /// `AT` probes before a silent modem gets `ATZ` and then a reopen.
    pub probe_attempts: u32,
    /// Time allowed for each probe.
    pub probe_timeout: Duration,
    /// First and longest pause between attempts to reopen a lost device.
    pub reopen_backoff: (Duration, Duration),
    /// How long parts of a concatenated message wait for the rest (checked at each health poll, so a
    /// part may wait up to one `health_interval` longer).
    pub reassembly_timeout: Duration,
    /// Most concatenated messages reassembled at once: a part of one more hands up the one that began
    /// first, incomplete.
    pub reassembly_max_pending: usize,
    /// Capacity of the request queue.
    pub queue: usize,
}

impl ModemConfig {
    /// Defaults for a modem at `device`.
    pub fn new(name: &str, device: DeviceSelector) -> ModemConfig {
        ModemConfig {
            name: name.to_owned(),
            device,
            baud_rate: 115_200,
            flow_control: FlowControl::None,
            pin: None,
            incoming: IncomingMode::Stored,
            reports: ReportMode::Routed,
            carrier: None,
            smsc: None,
            mnc_digits: None,
            health_interval: Duration::from_secs(30),
            timeouts: Vec::new(),
            prompt_timeout: Duration::from_secs(5),
            send_retries: 3,
            send_retry_delay: Duration::from_secs(2),
            sim_busy_retries: 10,
            sim_busy_delay: Duration::from_secs(1),
            sim_error_recheck: Duration::from_secs(300),
            noise_drain: Duration::from_millis(500),
            probe_attempts: 3,
            probe_timeout: Duration::from_secs(2),
            reopen_backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            reassembly_timeout: Duration::from_secs(600),
            reassembly_max_pending: 256,
            queue: 64,
        }
    }

    /// The time limit for a command of `kind`.
    pub fn timeout(&self, kind: CommandKind) -> Duration {
        self.timeouts
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or_else(|| kind.suggested_timeout(), |(_, d)| *d)
    }

    /// Sets the time limit of one command kind.
    pub fn with_timeout(mut self, kind: CommandKind, limit: Duration) -> ModemConfig {
        self.timeouts.retain(|(x, _)| *x != kind);
        self.timeouts.push((kind, limit));
        self
    }

    /// Sets every command kind's time limit except the send's (a slow modem, quick tests, impatient
    /// probes).
    pub fn with_command_timeout(mut self, limit: Duration) -> ModemConfig {
        use CommandKind as K;
        for k in [
            K::Basic,
            K::Reset,
            K::Sim,
            K::Network,
            K::SmsConfig,
            K::SmsStorage,
            K::SmsAck,
        ] {
            self = self.with_timeout(k, limit);
        }
        self
    }

    /// Sets how long a send waits for the network's answer to `+CMGS` once the message body is written
    /// (default [`CommandKind::SmsSend`]'s suggested 120 s; the `> ` prompt has `prompt_timeout`).
    pub fn with_send_timeout(self, limit: Duration) -> ModemConfig {
        self.with_timeout(CommandKind::SmsSend, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_replace_the_suggested_ones() {
        let cfg = ModemConfig::new("m", DeviceSelector::Path("/dev/null".into()));
        assert_eq!(cfg.timeout(CommandKind::SmsSend), Duration::from_secs(120));
        assert_eq!(cfg.timeout(CommandKind::Basic), Duration::from_secs(3));
        let cfg = cfg
            .with_command_timeout(Duration::from_secs(7))
            .with_send_timeout(Duration::from_secs(9))
            .with_send_timeout(Duration::from_secs(11));
        assert_eq!(cfg.timeout(CommandKind::Basic), Duration::from_secs(7));
        assert_eq!(cfg.timeout(CommandKind::SmsStorage), Duration::from_secs(7));
        // The last setting wins, and a send keeps its own limit.
        assert_eq!(cfg.timeout(CommandKind::SmsSend), Duration::from_secs(11));
        assert_eq!(cfg.timeouts.len(), 8);
    }
}
