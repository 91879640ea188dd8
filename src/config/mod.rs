//! The gateway's configuration: one TOML file (`config/smsbridge.toml` documents every key and default),
//! parsed into the structs below with unknown keys rejected, then validated once. Every error names the file,
//! the key path (`carriers[1].smpp[0].window`) and what was expected; syntax and type errors add the line and
//! column.
//!
//! Secrets (`token_env`, `password_env`, `pin_env`) are read from the environment only when asked
//! ([`Config::check_secrets`], [`Secret::resolve`]), so loading a file never depends on the environment.

mod defaults;
pub mod duration;
mod source;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use duration::{DurationError, parse_duration};
pub use source::Position;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub gateway: GatewayConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Carrier accounts. When empty and the simulator is enabled, a carrier `sim` bound to the simulator and a
    /// default route to it are added (see [`Config::from_str`]).
    #[serde(default)]
    pub carriers: Vec<CarrierConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub simulator: SimulatorConfig,
}

/// `[gateway]`: this node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Names this node in a cluster (NATS consumer names, metrics labels).
    #[serde(default = "defaults::node_id")]
    pub node_id: String,
    /// How long a graceful shutdown may take to drain windows and flush the store.
    #[serde(default = "defaults::shutdown_timeout", with = "duration")]
    pub shutdown_timeout: Duration,
}

/// `[api]`: the gRPC service the IM backends call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "defaults::api_listen")]
    pub listen: SocketAddr,
    /// Clients and their bearer tokens. With none, the API is unauthenticated, which validation allows only on
    /// a loopback address.
    #[serde(default)]
    pub clients: Vec<ApiClient>,
    /// Most messages in one SubmitBatch call.
    #[serde(default = "defaults::max_batch_size")]
    pub max_batch_size: u32,
    /// Validity period of a message whose Submit gives none.
    #[serde(default = "defaults::default_validity", with = "duration")]
    pub default_validity: Duration,
    /// Priority (0 lowest .. 3 highest, as SMPP 3.4 §5.2.14 priority_flag) of a message whose Submit gives none.
    #[serde(default = "defaults::default_priority")]
    pub default_priority: u8,
}

/// `[[api.clients]]`: one API client.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiClient {
    pub name: String,
    /// The bearer token, inline. Exactly one of `token` and `token_env` is given.
    #[serde(default)]
    pub token: Option<String>,
    /// The name of an environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
}

impl ApiClient {
    /// Where this client's token comes from (validation guarantees one of the two keys is set).
    pub fn token_secret(&self) -> Secret {
        Secret::from_pair(&self.token, &self.token_env)
    }
}

/// `[store]`: the durable store.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default)]
    pub engine: StoreEngine,
    #[serde(default)]
    pub sqlite: SqliteConfig,
    /// Required when `engine = "nats"`; validated whenever present.
    #[serde(default)]
    pub nats: Option<NatsConfig>,
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[store.retention]`: how long finished data is kept before the periodic prune deletes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Whether the prune runs at all (`false`: messages and events are kept forever).
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// How long a message is kept after it reached a final state (with its segments, carrier id mappings
    /// and its client_ref: a Submit retried later with that client_ref stores a new message).
    #[serde(default = "defaults::retention_keep", with = "duration")]
    pub keep_finished: Duration,
    /// How long events are kept; a consumer resuming from an older cursor gets OUT_OF_RANGE.
    #[serde(default = "defaults::retention_keep", with = "duration")]
    pub keep_events: Duration,
    /// How long a receipt that matches no message (yet) is held waiting for its submit_sm_resp.
    #[serde(default = "defaults::retention_unmatched_receipts", with = "duration")]
    pub unmatched_receipts: Duration,
    /// How often the prune runs.
    #[serde(default = "defaults::retention_interval", with = "duration")]
    pub interval: Duration,
    /// About the most rows one prune step deletes before other writes get their turn.
    #[serde(default = "defaults::retention_chunk_rows")]
    pub chunk_rows: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreEngine {
    #[default]
    Sqlite,
    Nats,
}

/// `[store.sqlite]`: the embedded engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// Database file; relative paths are relative to the working directory.
    #[serde(default = "defaults::sqlite_path")]
    pub path: PathBuf,
    /// Most write requests committed together in one transaction (one fsync).
    #[serde(default = "defaults::group_commit_max_batch")]
    pub group_commit_max_batch: u32,
    /// Longest a write waits for others to join its commit.
    #[serde(default = "defaults::group_commit_max_wait", with = "duration")]
    pub group_commit_max_wait: Duration,
}

/// `[store.nats]`: the clustered engine (NATS JetStream).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// One server URL (`nats://`, `tls://`, `ws://`, `wss://`). Give `url` or `urls`, not both.
    #[serde(default)]
    pub url: Option<String>,
    /// Several server URLs, tried in order.
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub streams: NatsStreams,
    /// JetStream replicas for each stream (1..=5).
    #[serde(default = "defaults::nats_replicas")]
    pub replicas: u8,
    /// A NATS `.creds` file; must exist when given.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

impl NatsConfig {
    /// The server URLs, from `url` or `urls`.
    pub fn servers(&self) -> Vec<&str> {
        self.url
            .iter()
            .chain(self.urls.iter())
            .map(String::as_str)
            .collect()
    }
}

/// `[store.nats.streams]`: JetStream stream names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsStreams {
    #[serde(default = "defaults::nats_stream_messages")]
    pub messages: String,
    #[serde(default = "defaults::nats_stream_events")]
    pub events: String,
    #[serde(default = "defaults::nats_stream_ids")]
    pub ids: String,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Serves `GET /metrics`.
    #[serde(default = "defaults::metrics_listen")]
    pub listen: SocketAddr,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or per-target directives
    /// (`"info,smsbridge::link=debug"`).
    #[serde(default = "defaults::log_level")]
    pub level: String,
    /// One JSON object per line instead of text.
    #[serde(default)]
    pub json: bool,
}

/// A carrier id: lowercase letters, digits, `_` and `-`, 1 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CarrierId(String);

/// Why a string is not a [`CarrierId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid carrier id {0:?}: expected 1 to 32 characters from a-z, 0-9, '_' and '-'")]
pub struct CarrierIdError(pub String);

impl CarrierId {
    pub fn new(id: impl Into<String>) -> Result<Self, CarrierIdError> {
        let id = id.into();
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(id))
        } else {
            Err(CarrierIdError(id))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CarrierId {
    type Error = CarrierIdError;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl fmt::Display for CarrierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CarrierId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `[[carriers]]`: one carrier account and its links.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierConfig {
    pub id: CarrierId,
    /// Segments per second for the whole carrier, shared by all its links.
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub message_id_format: MessageIdFormat,
    #[serde(default)]
    pub segmentation: Segmentation,
    /// Whether Cancel of a submitted message asks the carrier with cancel_sm (SMPP 3.4 §4.9). Unset: yes
    /// when the carrier has SMPP links (see [`CarrierConfig::cancel_sm`]). `true` needs an SMPP link.
    #[serde(default)]
    pub supports_cancel: Option<bool>,
    /// Whether submits tell the carrier how long the message may still be delivered (the time left until its
    /// valid_until): submit_sm's validity_period (SMPP 3.4 §5.2.16), a modem's TP-VP (TS 23.040 §9.2.3.12).
    /// Off: none is sent and the carrier applies its own default validity.
    #[serde(default = "defaults::yes")]
    pub send_validity: bool,
    /// How long after a message's validity runs out a receipt may still come for it. A segment still waiting
    /// for its receipt then ends UNKNOWN (a message that asked for no receipt is not waiting); a receipt that
    /// comes later still replaces UNKNOWN. 1 second to 30 days; default 1 hour.
    #[serde(default = "defaults::receipt_timeout", with = "duration")]
    pub receipt_timeout: Duration,
    /// How long the parts of a concatenated MO that came over this carrier's SMPP links wait for the rest
    /// before what came is committed; the SMSC gets each part's answer only then. 1 second to 1 hour;
    /// default 1 minute. (A modem reassembles its own: `reassembly_timeout` of `[[carriers.modem]]`.)
    #[serde(default = "defaults::smpp_reassembly_timeout", with = "duration")]
    pub smpp_reassembly_timeout: Duration,
    /// Most concatenated MOs of this carrier's SMPP links reassembled at once: a part of one more commits
    /// the one that began first with the parts it has. 1 to 100,000; default 1024.
    #[serde(default = "defaults::smpp_reassembly_max_pending")]
    pub smpp_reassembly_max_pending: u32,
    #[serde(default)]
    pub retry: RetryPolicy,
    #[serde(default)]
    pub smpp: Vec<SmppLinkConfig>,
    #[serde(default)]
    pub modem: Vec<ModemLinkConfig>,
}

impl CarrierConfig {
    /// Whether a Cancel after submit sends cancel_sm to this carrier: `supports_cancel`, which defaults to
    /// true for a carrier with SMPP links; never for modems only (an SMS on the air can not be called back).
    pub fn cancel_sm(&self) -> bool {
        !self.smpp.is_empty() && self.supports_cancel.unwrap_or(true)
    }
}

/// A token bucket: `per_second` segments per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// 0.001 to 1,000,000; fractions allowed (a modem may send one segment every few seconds).
    pub per_second: f64,
    /// 1 to 1,000,000; defaults to `per_second` rounded up.
    #[serde(default)]
    pub burst: Option<u32>,
}

impl RateLimitConfig {
    /// The burst size in effect.
    pub fn effective_burst(&self) -> u32 {
        self.burst
            .unwrap_or_else(|| (self.per_second.ceil() as u32).max(1))
    }
}

/// How the carrier writes message ids, which decides how a receipt's id is matched to a submit_sm_resp's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageIdFormat {
    /// Compared exactly as received.
    Opaque,
    /// Hexadecimal numbers: compared case-insensitively, leading zeros ignored.
    Hex,
    /// Decimal numbers: leading zeros ignored.
    Decimal,
    /// Unknown: compared case-insensitively with leading zeros ignored, which matches both hex and decimal
    /// ids as long as the carrier uses the same base in responses and receipts.
    #[default]
    Auto,
}

impl MessageIdFormat {
    /// The form of `id` used as the correlation key.
    pub fn normalize(self, id: &str) -> String {
        let id = id.trim();
        match self {
            MessageIdFormat::Opaque => id.to_owned(),
            MessageIdFormat::Decimal => strip_zeros(id).to_owned(),
            MessageIdFormat::Hex | MessageIdFormat::Auto => strip_zeros(id).to_ascii_lowercase(),
        }
    }
}

fn strip_zeros(id: &str) -> &str {
    let stripped = id.trim_start_matches('0');
    if stripped.is_empty() && !id.is_empty() {
        "0"
    } else {
        stripped
    }
}

/// How long messages are split (TS 23.040 §9.2.3.24.1 UDH concatenation, SMPP 3.4 §5.3.2.22-24 sar_* TLVs,
/// or one submit_sm with message_payload, §5.3.2.32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Segmentation {
    #[default]
    Udh,
    Sar,
    Payload,
}

/// `retry`: how transient failures are retried.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default = "defaults::retry_initial_backoff", with = "duration")]
    pub initial_backoff: Duration,
    #[serde(default = "defaults::retry_max_backoff", with = "duration")]
    pub max_backoff: Duration,
    /// 1.0 to 10.0.
    #[serde(default = "defaults::retry_multiplier")]
    pub multiplier: f64,
    /// Attempts in all, first one included; none means retry until the message's validity period ends.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after `attempt` failures (attempt 1 waits `initial_backoff`).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(1_000) as i32;
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let max = self.max_backoff.as_secs_f64();
        Duration::from_secs_f64(if secs.is_finite() { secs.min(max) } else { max })
    }

    /// Whether another attempt is allowed after `attempts` attempts.
    pub fn may_retry(&self, attempts: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts < max)
    }
}

/// `[[carriers.smpp]]`: one SMPP 3.4 account (host and credentials) with `binds` sessions.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppLinkConfig {
    pub host: String,
    #[serde(default = "defaults::smpp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: TlsConfig,
    /// At most 15 characters (SMPP 3.4 §5.2.1).
    pub system_id: String,
    /// At most 8 characters (SMPP 3.4 §5.2.2). Exactly one of `password` and `password_env` is given.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// At most 12 characters (SMPP 3.4 §5.2.3).
    #[serde(default)]
    pub system_type: String,
    #[serde(default)]
    pub bind: BindMode,
    /// Outstanding requests per bind (1..=10000).
    #[serde(default = "defaults::smpp_window")]
    pub window: u32,
    #[serde(default = "defaults::enquire_link_interval", with = "duration")]
    pub enquire_link_interval: Duration,
    #[serde(default = "defaults::enquire_link_timeout", with = "duration")]
    pub enquire_link_timeout: Duration,
    /// How long a request waits for its response before it counts as failed.
    #[serde(default = "defaults::response_timeout", with = "duration")]
    pub response_timeout: Duration,
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    /// Largest PDU accepted from the peer, in octets (64..=1048576).
    #[serde(default = "defaults::max_pdu_size")]
    pub max_pdu_size: u32,
    /// Parallel binds with these credentials (1..=64); each has its own window.
    #[serde(default = "defaults::binds")]
    pub binds: u32,
}

impl SmppLinkConfig {
    pub fn password_secret(&self) -> Secret {
        Secret::from_pair(&self.password, &self.password_env)
    }
}

/// `tls`: TLS for an SMPP link.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The name checked against the certificate; defaults to `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// PEM file of CAs to trust instead of the system roots; must exist.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS; both or neither; must exist.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Tests only: allowed only when the link's host is a loopback address.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// How a link binds (SMPP 3.4 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One bind_transceiver session.
    #[default]
    Transceiver,
    /// A bind_transmitter and a bind_receiver session.
    TransmitterReceiver,
}

/// `reconnect`: backoff between connection attempts of a link.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    #[serde(default = "defaults::reconnect_initial_backoff", with = "duration")]
    pub initial_backoff: Duration,
    #[serde(default = "defaults::reconnect_max_backoff", with = "duration")]
    pub max_backoff: Duration,
    /// Fraction (0.0..=1.0) of each wait chosen at random, so links do not reconnect in step.
    #[serde(default = "defaults::reconnect_jitter")]
    pub jitter: f64,
}

/// `[[carriers.modem]]`: one GSM modem, found by exactly one of `device`, `imei`, `iccid`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemLinkConfig {
    /// Absolute path of the serial device; prefer `/dev/serial/by-id/...`, which survives re-plugging.
    #[serde(default)]
    pub device: Option<PathBuf>,
    /// The modem's IMEI (15 digits with a valid check digit): the pool probes serial ports for it.
    #[serde(default)]
    pub imei: Option<String>,
    /// The SIM's ICCID (18 to 22 digits): the pool probes serial ports for it.
    #[serde(default)]
    pub iccid: Option<String>,
    #[serde(default = "defaults::baud_rate")]
    pub baud_rate: u32,
    #[serde(default)]
    pub flow_control: FlowControl,
    /// SIM PIN (4 to 8 digits), inline or from an environment variable; neither when the SIM has no PIN.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub pin_env: Option<String>,
    /// SMSC address to use instead of the SIM's (E.164, `+` and digits).
    #[serde(default)]
    pub smsc: Option<String>,
    /// The SIM's own number (E.164): the `to` of MO messages received on this modem. Without it, their `to`
    /// is the link's name (`modem0`).
    #[serde(default)]
    pub number: Option<String>,
    /// A limit for this modem alone, on top of the carrier's.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Acknowledge received messages and reports with AT+CNMA (TS 27.005 §3.4.4).
    #[serde(default)]
    pub cnma: bool,
    /// Time between health polls (`+CSQ`, `+CREG?`, `+COPS?`), which also decide when the modem counts as
    /// registered and when parts of a concatenated MO past `reassembly_timeout` are handed up.
    #[serde(default = "defaults::modem_health_interval", with = "duration")]
    pub health_interval: Duration,
    /// Time limit of every AT command other than a send. Unset: each kind of command has its own (3s for
    /// the modem's own settings up to 30s for reading the SIM store).
    #[serde(default, with = "duration::option")]
    pub command_timeout: Option<Duration>,
    /// How long a send waits for the network's answer to AT+CMGS once the message is written.
    #[serde(default = "defaults::modem_send_timeout", with = "duration")]
    pub send_timeout: Duration,
    /// How long a send waits for the `> ` prompt of AT+CMGS.
    #[serde(default = "defaults::modem_prompt_timeout", with = "duration")]
    pub prompt_timeout: Duration,
    /// Retries of a segment in the driver after a transient error, before the carrier's `retry` policy.
    #[serde(default = "defaults::modem_send_retries")]
    pub send_retries: u32,
    /// Pause before each of those retries.
    #[serde(default = "defaults::modem_send_retry_delay", with = "duration")]
    pub send_retry_delay: Duration,
    /// At start-up, how often a "SIM busy" SIM is asked again, and how long to wait in between.
    #[serde(default = "defaults::modem_sim_busy_retries")]
    pub sim_busy_retries: u32,
    #[serde(default = "defaults::modem_sim_busy_delay", with = "duration")]
    pub sim_busy_delay: Duration,
    /// How long to wait before checking again a SIM that wants a PIN we do not have, is blocked or missing.
    #[serde(default = "defaults::modem_sim_error_recheck", with = "duration")]
    pub sim_error_recheck: Duration,
    /// Before the first `AT` probe, each time the device is opened and when the modem stopped answering,
    /// how long what the modem sends is read and dropped at most (less once the line is quiet for 100 ms).
    #[serde(default = "defaults::modem_noise_drain", with = "duration")]
    pub noise_drain: Duration,
    /// `AT` probes (each within `probe_timeout`) before a silent modem gets ATZ and then a reopen; the
    /// probe timeout also limits each command of the IMEI/ICCID search.
    #[serde(default = "defaults::modem_probe_attempts")]
    pub probe_attempts: u32,
    #[serde(default = "defaults::modem_probe_timeout", with = "duration")]
    pub probe_timeout: Duration,
    /// Backoff between attempts to reopen a device that went away or cannot be opened.
    #[serde(default)]
    pub reconnect: ModemReconnectConfig,
    /// How long the parts of a concatenated MO wait for the rest before what came is handed up.
    #[serde(default = "defaults::modem_reassembly_timeout", with = "duration")]
    pub reassembly_timeout: Duration,
    /// Most concatenated MOs reassembled at once: a part of one more hands up the one that began first
    /// with the parts it has.
    #[serde(default = "defaults::modem_reassembly_max_pending")]
    pub reassembly_max_pending: u32,
}

/// `reconnect` of a modem: the wait before reopening a lost device starts at `initial_backoff` and
/// doubles up to `max_backoff`; it starts over once the modem is ready.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemReconnectConfig {
    #[serde(
        default = "defaults::modem_reconnect_initial_backoff",
        with = "duration"
    )]
    pub initial_backoff: Duration,
    #[serde(default = "defaults::modem_reconnect_max_backoff", with = "duration")]
    pub max_backoff: Duration,
}

impl ModemLinkConfig {
    /// The PIN's source, if the SIM needs one.
    pub fn pin_secret(&self) -> Option<Secret> {
        (self.pin.is_some() || self.pin_env.is_some())
            .then(|| Secret::from_pair(&self.pin, &self.pin_env))
    }
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowControl {
    #[default]
    None,
    Hardware,
    Software,
}

/// `[[routes]]`: destinations by prefix to carriers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Digits of the E.164 destination, with or without a leading `+`; `""` or `"*"` is the default route.
    pub prefix: String,
    /// Failover order; each must be a configured carrier.
    pub carriers: Vec<CarrierId>,
    /// Same length as `carriers`. Carriers with a weight above 0 share the traffic in proportion among those
    /// that are healthy; carriers with weight 0 are used, in list order, only when none of those is healthy.
    /// Without weights, the first healthy carrier in list order takes everything.
    #[serde(default)]
    pub weights: Option<Vec<u32>>,
    /// Patterns (`*` matches any run of characters, case-sensitive) a sender must match; empty = any sender.
    #[serde(default)]
    pub allowed_senders: Vec<String>,
    /// Sender of messages submitted without one.
    #[serde(default)]
    pub default_sender: Option<String>,
    /// Rewrites applied after the allow check; the first rule whose `from` matches wins.
    #[serde(default)]
    pub rewrite_sender: Vec<SenderRewrite>,
}

/// One sender rewrite rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderRewrite {
    pub from: String,
    pub to: String,
}

/// `[simulator]`: the built-in SMSC simulator, an SMPP server on loopback that accepts submissions and sends
/// receipts, so the gateway runs without a carrier account.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    #[serde(default = "defaults::simulator_listen")]
    pub listen: SocketAddr,
    #[serde(default = "defaults::simulator_system_id")]
    pub system_id: String,
    #[serde(default = "defaults::simulator_password")]
    pub password: String,
    /// Receipts are sent after a delay drawn uniformly from `[receipt_delay_min, receipt_delay_max]`.
    #[serde(default = "defaults::receipt_delay_min", with = "duration")]
    pub receipt_delay_min: Duration,
    #[serde(default = "defaults::receipt_delay_max", with = "duration")]
    pub receipt_delay_max: Duration,
    /// Probability of each final receipt state; they must add up to 1.
    #[serde(default = "defaults::simulator_outcomes")]
    pub outcomes: BTreeMap<ReceiptStat, f64>,
    #[serde(default)]
    pub message_id_format: SimulatorIdFormat,
}

/// The `stat` of a delivery receipt (SMPP 3.4 Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum ReceiptStat {
    #[serde(rename = "DELIVRD")]
    Delivered,
    #[serde(rename = "EXPIRED")]
    Expired,
    #[serde(rename = "DELETED")]
    Deleted,
    #[serde(rename = "UNDELIV")]
    Undeliverable,
    #[serde(rename = "ACCEPTD")]
    Accepted,
    #[serde(rename = "UNKNOWN")]
    Unknown,
    #[serde(rename = "REJECTD")]
    Rejected,
}

/// How the simulator writes the message ids it hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimulatorIdFormat {
    #[default]
    Hex,
    Decimal,
    Uuid,
}

/// A secret given inline or by naming an environment variable.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    Env(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret::Inline(..)"),
            Secret::Env(name) => write!(f, "Secret::Env({name:?})"),
        }
    }
}

/// A secret named an environment variable that is not set (or not Unicode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct SecretError(pub String);

impl Secret {
    fn from_pair(inline: &Option<String>, env: &Option<String>) -> Self {
        match (inline, env) {
            (Some(v), _) => Secret::Inline(v.clone()),
            (None, Some(name)) => Secret::Env(name.clone()),
            (None, None) => Secret::Inline(String::new()),
        }
    }

    /// The secret's value, reading the process environment for `Env`.
    pub fn resolve(&self) -> Result<String, SecretError> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// The secret's value, with `lookup` standing in for the environment.
    pub fn resolve_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<String, SecretError> {
        match self {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::Env(name) => lookup(name).ok_or_else(|| SecretError(name.clone())),
        }
    }
}

/// One semantic problem found by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `carriers[1].smpp[0].window`.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
    /// Where the key (or its nearest written ancestor) is in the file, when it is written there.
    pub position: Option<Position>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax errors and type errors (wrong type, unknown key, missing key).
    #[error("{file}:{}:{}: {}{message}", position.line, position.column, key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default())]
    Parse {
        file: String,
        position: Position,
        key: Option<String>,
        message: String,
    },
    /// Semantic problems, all of them, in file order of discovery.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
    /// A secret from the environment is missing.
    #[error("{file}: {key}: {source}")]
    Secret {
        file: String,
        key: String,
        #[source]
        source: SecretError,
    },
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let one = |p: &Problem| match p.position {
        Some(pos) => format!(
            "{file}:{}:{}: {}: {}",
            pos.line, pos.column, p.key, p.message
        ),
        None => format!("{file}: {}: {}", p.key, p.message),
    };
    match problems {
        [p] => one(p),
        many => {
            let mut s = format!("{file}: {} problems:", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(&one(p));
            }
            s
        }
    }
}

impl ConfigError {
    /// The key paths the error is about (empty for read errors).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            ConfigError::Read { .. } => Vec::new(),
            ConfigError::Parse { key, .. } => key.as_deref().into_iter().collect(),
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.key.as_str()).collect()
            }
            ConfigError::Secret { key, .. } => vec![key.as_str()],
        }
    }
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::from_str(&text, &file)
    }

    /// Parses and validates `text`; `origin` names it in errors (usually the file path).
    ///
    /// When the file configures no carrier and the simulator is enabled, a carrier `sim` with one SMPP link
    /// to the simulator (its `listen` address and credentials) and, if there are no routes, a default route
    /// to it (with the default sender `SMSBRIDGE`) are added before validation.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // Recoverable parsing keeps what was read before a syntax error, so the error can name its key.
        let (doc, errors) = toml::de::DeTable::parse_recoverable(text);
        if let Some(e) = errors.first() {
            return Err(parse_error(text, origin, Some(doc.get_ref()), e));
        }
        let mut config = Config::deserialize(toml::de::Deserializer::from(doc.clone()))
            .map_err(|e| parse_error(text, origin, Some(doc.get_ref()), &e))?;
        config.add_implied_simulator_carrier();
        let mut problems = validate::validate(&config);
        if problems.is_empty() {
            return Ok(config);
        }
        for p in &mut problems {
            p.position =
                source::offset_of(doc.get_ref(), &p.key).map(|o| source::position(text, o));
        }
        Err(ConfigError::Invalid {
            file: origin.to_owned(),
            problems,
        })
    }

    fn add_implied_simulator_carrier(&mut self) {
        if !self.carriers.is_empty() || !self.simulator.enabled {
            return;
        }
        let Ok(id) = CarrierId::new(defaults::SIMULATOR_CARRIER) else {
            return;
        };
        let sim = &self.simulator;
        let per_second = defaults::SIMULATOR_CARRIER_RATE;
        self.carriers.push(CarrierConfig {
            id: id.clone(),
            rate_limit: RateLimitConfig {
                per_second,
                burst: None,
            },
            message_id_format: MessageIdFormat::default(),
            segmentation: Segmentation::default(),
            supports_cancel: Some(true),
            send_validity: defaults::yes(),
            receipt_timeout: defaults::receipt_timeout(),
            smpp_reassembly_timeout: defaults::smpp_reassembly_timeout(),
            smpp_reassembly_max_pending: defaults::smpp_reassembly_max_pending(),
            retry: RetryPolicy::default(),
            smpp: vec![SmppLinkConfig {
                host: sim.listen.ip().to_string(),
                port: sim.listen.port(),
                system_id: sim.system_id.clone(),
                password: Some(sim.password.clone()),
                ..SmppLinkConfig::default_for_tests()
            }],
            modem: Vec::new(),
        });
        if self.routes.is_empty() {
            self.routes.push(RouteConfig {
                prefix: "*".to_owned(),
                carriers: vec![id],
                weights: None,
                allowed_senders: Vec::new(),
                default_sender: Some(defaults::SIMULATOR_DEFAULT_SENDER.to_owned()),
                rewrite_sender: Vec::new(),
            });
        }
    }

    /// The carrier with this id.
    pub fn carrier(&self, id: &CarrierId) -> Option<&CarrierConfig> {
        self.carriers.iter().find(|c| &c.id == id)
    }

    /// Reads every secret that names an environment variable and reports the first one missing, by key.
    pub fn check_secrets(&self, origin: &str) -> Result<(), ConfigError> {
        self.check_secrets_with(origin, |name| std::env::var(name).ok())
    }

    /// [`Config::check_secrets`] with `lookup` standing in for the environment.
    pub fn check_secrets_with(
        &self,
        origin: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let mut secrets: Vec<(String, Secret)> = Vec::new();
        for (i, c) in self.api.clients.iter().enumerate() {
            secrets.push((format!("api.clients[{i}].token_env"), c.token_secret()));
        }
        for (i, carrier) in self.carriers.iter().enumerate() {
            for (j, l) in carrier.smpp.iter().enumerate() {
                secrets.push((
                    format!("carriers[{i}].smpp[{j}].password_env"),
                    l.password_secret(),
                ));
            }
            for (j, m) in carrier.modem.iter().enumerate() {
                if let Some(s) = m.pin_secret() {
                    secrets.push((format!("carriers[{i}].modem[{j}].pin_env"), s));
                }
            }
        }
        for (key, secret) in secrets {
            secret
                .resolve_with(&lookup)
                .map_err(|source| ConfigError::Secret {
                    file: origin.to_owned(),
                    key,
                    source,
                })?;
        }
        Ok(())
    }
}

impl SmppLinkConfig {
    /// A link to 127.0.0.1:2775 with every optional key at its default; the base of the implied simulator
    /// carrier and handy in tests.
    pub fn default_for_tests() -> Self {
        SmppLinkConfig {
            host: "127.0.0.1".to_owned(),
            port: defaults::smpp_port(),
            tls: TlsConfig::default(),
            system_id: String::new(),
            password: None,
            password_env: None,
            system_type: String::new(),
            bind: BindMode::default(),
            window: defaults::smpp_window(),
            enquire_link_interval: defaults::enquire_link_interval(),
            enquire_link_timeout: defaults::enquire_link_timeout(),
            response_timeout: defaults::response_timeout(),
            reconnect: ReconnectConfig::default(),
            max_pdu_size: defaults::max_pdu_size(),
            binds: defaults::binds(),
        }
    }
}

/// Turns a toml error into [`ConfigError::Parse`], naming the key at the error's span when the document
/// parsed far enough to know it.
fn parse_error(
    text: &str,
    origin: &str,
    doc: Option<&toml::de::DeTable<'_>>,
    err: &toml::de::Error,
) -> ConfigError {
    let offset = err.span().map_or(0, |s| s.start);
    let line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let mut key = doc.and_then(|d| source::path_at(d, offset, line_start));
    let message = err.message().trim().to_owned();
    // serde names a missing field only in the message; the span is its table's.
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        key = Some(match key {
            Some(k) if !k.is_empty() => format!("{k}.{field}"),
            _ => field.to_owned(),
        });
    }
    ConfigError::Parse {
        file: origin.to_owned(),
        position: source::position(text, offset),
        key,
        message: humanize(&message),
    }
}

/// Rewrites serde's wording in terms of the TOML file: keys rather than fields, integer ranges rather than
/// Rust type names.
fn humanize(message: &str) -> String {
    let mut m = message
        .replacen("unknown field", "unknown key", 1)
        .replacen("missing field", "missing required key", 1)
        .replacen("there are no fields", "this table takes no keys", 1);
    for (rust, human) in [
        ("u8", "an integer from 0 to 255"),
        ("u16", "an integer from 0 to 65535"),
        ("u32", "an integer from 0 to 4294967295"),
        ("u64", "an integer from 0 to 18446744073709551615"),
        ("f64", "a number"),
    ] {
        let tail = format!("expected {rust}");
        if m.ends_with(&tail) {
            m.truncate(m.len() - rust.len());
            m.push_str(human);
        }
    }
    if m == "invalid socket address syntax" {
        m.push_str(
            ": expected an IP address and port, e.g. \"127.0.0.1:50051\" or \"[::1]:50051\"",
        );
    }
    m
}

/// Stands in for a secret in `Debug` output, so logging a config never prints a token, password or PIN.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("name", &self.name)
            .field("token", &redacted(&self.token))
            .field("token_env", &self.token_env)
            .finish()
    }
}

impl fmt::Debug for SmppLinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppLinkConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("system_id", &self.system_id)
            .field("password", &redacted(&self.password))
            .field("password_env", &self.password_env)
            .field("system_type", &self.system_type)
            .field("bind", &self.bind)
            .field("window", &self.window)
            .field("enquire_link_interval", &self.enquire_link_interval)
            .field("enquire_link_timeout", &self.enquire_link_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("reconnect", &self.reconnect)
            .field("max_pdu_size", &self.max_pdu_size)
            .field("binds", &self.binds)
            .finish()
    }
}

impl fmt::Debug for ModemLinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModemLinkConfig")
            .field("device", &self.device)
            .field("imei", &self.imei)
            .field("iccid", &self.iccid)
            .field("baud_rate", &self.baud_rate)
            .field("flow_control", &self.flow_control)
            .field("pin", &redacted(&self.pin))
            .field("pin_env", &self.pin_env)
            .field("smsc", &self.smsc)
            .field("number", &self.number)
            .field("rate_limit", &self.rate_limit)
            .field("cnma", &self.cnma)
            .field("health_interval", &self.health_interval)
            .field("command_timeout", &self.command_timeout)
            .field("send_timeout", &self.send_timeout)
            .field("prompt_timeout", &self.prompt_timeout)
            .field("send_retries", &self.send_retries)
            .field("send_retry_delay", &self.send_retry_delay)
            .field("sim_busy_retries", &self.sim_busy_retries)
            .field("sim_busy_delay", &self.sim_busy_delay)
            .field("sim_error_recheck", &self.sim_error_recheck)
            .field("noise_drain", &self.noise_drain)
            .field("probe_attempts", &self.probe_attempts)
            .field("probe_timeout", &self.probe_timeout)
            .field("reconnect", &self.reconnect)
            .field("reassembly_timeout", &self.reassembly_timeout)
            .field("reassembly_max_pending", &self.reassembly_max_pending)
            .finish()
    }
}

impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("receipt_delay_min", &self.receipt_delay_min)
            .field("receipt_delay_max", &self.receipt_delay_max)
            .field("outcomes", &self.outcomes)
            .field("message_id_format", &self.message_id_format)
            .finish()
    }
}
