//! Every default of the config file, in one place. `config/smsbridge.toml` writes each of them out and a test
//! checks that the two agree.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{
    ApiConfig, GatewayConfig, LogConfig, MetricsConfig, ModemReconnectConfig, NatsStreams,
    ReceiptStat, ReconnectConfig, RetentionConfig, RetryPolicy, SimulatorConfig, SqliteConfig,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Id of the carrier added for the simulator when the file configures none.
pub(super) const SIMULATOR_CARRIER: &str = "sim";
/// Segments per second of that carrier.
pub(super) const SIMULATOR_CARRIER_RATE: f64 = 100.0;
/// The sender of the implied route to the simulator, so `smsbridge send` works without `--from`.
pub(super) const SIMULATOR_DEFAULT_SENDER: &str = "SMSBRIDGE";

pub(super) fn yes() -> bool {
    true
}
pub(super) fn node_id() -> String {
    "smsbridge-1".to_owned()
}
pub(super) fn shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn api_listen() -> SocketAddr {
    SocketAddr::new(LOCALHOST, 50051)
}
pub(super) fn max_batch_size() -> u32 {
    1_000
}
pub(super) fn default_validity() -> Duration {
    Duration::from_secs(48 * 3_600)
}
pub(super) fn default_priority() -> u8 {
    0
}
pub(super) fn sqlite_path() -> PathBuf {
    PathBuf::from("./data/smsbridge.db")
}
pub(super) fn group_commit_max_batch() -> u32 {
    256
}
pub(super) fn group_commit_max_wait() -> Duration {
    Duration::ZERO
}
pub(super) fn retention_keep() -> Duration {
    Duration::from_secs(7 * 86_400)
}
pub(super) fn retention_unmatched_receipts() -> Duration {
    Duration::from_secs(3_600)
}
pub(super) fn retention_interval() -> Duration {
    Duration::from_secs(60)
}
pub(super) fn retention_chunk_rows() -> u32 {
    5_000
}
pub(super) fn nats_replicas() -> u8 {
    3
}
pub(super) fn nats_stream_messages() -> String {
    "SMSBRIDGE_MESSAGES".to_owned()
}
pub(super) fn nats_stream_events() -> String {
    "SMSBRIDGE_EVENTS".to_owned()
}
pub(super) fn nats_stream_ids() -> String {
    "SMSBRIDGE_IDS".to_owned()
}
pub(super) fn metrics_listen() -> SocketAddr {
    SocketAddr::new(LOCALHOST, 9100)
}
pub(super) fn log_level() -> String {
    "info".to_owned()
}
pub(super) fn receipt_timeout() -> Duration {
    Duration::from_secs(3600)
}
pub(super) fn smpp_reassembly_timeout() -> Duration {
    Duration::from_secs(60)
}
pub(super) fn smpp_reassembly_max_pending() -> u32 {
    1_024
}
pub(super) fn retry_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
pub(super) fn retry_max_backoff() -> Duration {
    Duration::from_secs(300)
}
pub(super) fn retry_multiplier() -> f64 {
    2.0
}
pub(super) fn smpp_port() -> u16 {
    2775
}
pub(super) fn smpp_window() -> u32 {
    10
}
pub(super) fn enquire_link_interval() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn enquire_link_timeout() -> Duration {
    Duration::from_secs(10)
}
pub(super) fn response_timeout() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn reconnect_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
pub(super) fn reconnect_max_backoff() -> Duration {
    Duration::from_secs(60)
}
pub(super) fn reconnect_jitter() -> f64 {
    0.2
}
pub(super) fn max_pdu_size() -> u32 {
    65_536
}
pub(super) fn binds() -> u32 {
    1
}
pub(super) fn baud_rate() -> u32 {
    115_200
}
/// The modem driver's own defaults: a `[[carriers.modem]]` key left out means what the driver does
/// without it.
fn modem_driver() -> smsbridge_hw::ModemConfig {
    smsbridge_hw::ModemConfig::new(
        "defaults",
        smsbridge_hw::DeviceSelector::Path(PathBuf::new()),
    )
}
pub(super) fn modem_health_interval() -> Duration {
    modem_driver().health_interval
}
pub(super) fn modem_send_timeout() -> Duration {
    modem_driver().timeout(smsbridge_protocol::at::CommandKind::SmsSend)
}
pub(super) fn modem_prompt_timeout() -> Duration {
    modem_driver().prompt_timeout
}
pub(super) fn modem_send_retries() -> u32 {
    modem_driver().send_retries
}
pub(super) fn modem_send_retry_delay() -> Duration {
    modem_driver().send_retry_delay
}
pub(super) fn modem_sim_busy_retries() -> u32 {
    modem_driver().sim_busy_retries
}
pub(super) fn modem_sim_busy_delay() -> Duration {
    modem_driver().sim_busy_delay
}
pub(super) fn modem_sim_error_recheck() -> Duration {
    modem_driver().sim_error_recheck
}
pub(super) fn modem_noise_drain() -> Duration {
    modem_driver().noise_drain
}
pub(super) fn modem_probe_attempts() -> u32 {
    modem_driver().probe_attempts
}
pub(super) fn modem_probe_timeout() -> Duration {
    modem_driver().probe_timeout
}
pub(super) fn modem_reconnect_initial_backoff() -> Duration {
    modem_driver().reopen_backoff.0
}
pub(super) fn modem_reconnect_max_backoff() -> Duration {
    modem_driver().reopen_backoff.1
}
pub(super) fn modem_reassembly_timeout() -> Duration {
    modem_driver().reassembly_timeout
}
pub(super) fn modem_reassembly_max_pending() -> u32 {
    u32::try_from(modem_driver().reassembly_max_pending).unwrap_or(u32::MAX)
}
pub(super) fn simulator_listen() -> SocketAddr {
    SocketAddr::new(LOCALHOST, 2775)
}
pub(super) fn simulator_system_id() -> String {
    "smsbridge".to_owned()
}
pub(super) fn simulator_password() -> String {
    "sim".to_owned()
}
pub(super) fn receipt_delay_min() -> Duration {
    Duration::from_millis(100)
}
pub(super) fn receipt_delay_max() -> Duration {
    Duration::from_secs(2)
}
pub(super) fn simulator_outcomes() -> BTreeMap<ReceiptStat, f64> {
    BTreeMap::from([
        (ReceiptStat::Delivered, 0.97),
        (ReceiptStat::Undeliverable, 0.02),
        (ReceiptStat::Expired, 0.01),
    ])
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            node_id: node_id(),
            shutdown_timeout: shutdown_timeout(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: api_listen(),
            clients: Vec::new(),
            max_batch_size: max_batch_size(),
            default_validity: default_validity(),
            default_priority: default_priority(),
        }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            path: sqlite_path(),
            group_commit_max_batch: group_commit_max_batch(),
            group_commit_max_wait: group_commit_max_wait(),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            enabled: yes(),
            keep_finished: retention_keep(),
            keep_events: retention_keep(),
            unmatched_receipts: retention_unmatched_receipts(),
            interval: retention_interval(),
            chunk_rows: retention_chunk_rows(),
        }
    }
}

impl Default for NatsStreams {
    fn default() -> Self {
        Self {
            messages: nats_stream_messages(),
            events: nats_stream_events(),
            ids: nats_stream_ids(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: metrics_listen(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: log_level(),
            json: false,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: retry_initial_backoff(),
            max_backoff: retry_max_backoff(),
            multiplier: retry_multiplier(),
            max_attempts: None,
        }
    }
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            initial_backoff: reconnect_initial_backoff(),
            max_backoff: reconnect_max_backoff(),
            jitter: reconnect_jitter(),
        }
    }
}

impl Default for ModemReconnectConfig {
    fn default() -> Self {
        Self {
            initial_backoff: modem_reconnect_initial_backoff(),
            max_backoff: modem_reconnect_max_backoff(),
        }
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: simulator_listen(),
            system_id: simulator_system_id(),
            password: simulator_password(),
            receipt_delay_min: receipt_delay_min(),
            receipt_delay_max: receipt_delay_max(),
            outcomes: simulator_outcomes(),
            message_id_format: Default::default(),
        }
    }
}
