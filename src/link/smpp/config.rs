//! The settings of one SMPP link, as plain data; `src/config.rs` maps the TOML file onto it.

use std::sync::Arc;
use std::time::Duration;

use super::error::LinkError;

/// How a link binds (SMPP 3.4 §2.2): one transceiver session, or a transmitter and a receiver session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// bind_transceiver: submits and deliveries on one connection.
    #[default]
    Transceiver,
    /// bind_transmitter for submits plus bind_receiver for deliveries, two connections.
    TransmitterReceiver,
}

/// Exponential backoff with jitter: `initial`, doubled after each failure, capped at `max`; each wait is drawn
/// from the upper half of the current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First wait.
    pub initial: Duration,
    /// Largest wait.
    pub max: Duration,
}

impl Backoff {
    /// The next step after `current`.
    pub fn next(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.max).max(self.initial)
    }

    /// A wait drawn from `[step/2, step]`.
    pub fn jittered(step: Duration) -> Duration {
        use rand::Rng;
        let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        let low = nanos / 2;
        Duration::from_nanos(rand::rng().random_range(low..=nanos.max(low)))
    }
}

/// TLS towards the SMSC (rustls).
#[derive(Clone)]
pub struct TlsConfig {
    /// The rustls client configuration (roots, client certificate if the carrier wants one).
    pub client_config: Arc<rustls::ClientConfig>,
    /// The name the SMSC's certificate must carry.
    pub server_name: String,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// A client configuration trusting `roots` (ring crypto provider, TLS 1.2 and 1.3).
    pub fn with_roots(
        roots: rustls::RootCertStore,
        server_name: impl Into<String>,
    ) -> Result<TlsConfig, LinkError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| LinkError::Config(format!("tls: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig {
            client_config: Arc::new(config),
            server_name: server_name.into(),
        })
    }
}

/// One SMPP link: where, who, how, and its timing.
#[derive(Debug, Clone)]
pub struct SmppLinkConfig {
    /// Carrier name (metrics label, logs).
    pub carrier: String,
    /// Link name within the carrier (metrics label, logs).
    pub link: String,
    /// SMSC host name or address.
    pub host: String,
    /// SMSC port.
    pub port: u16,
    /// TLS, when the carrier wants it.
    pub tls: Option<TlsConfig>,
    /// system_id, at most 15 characters.
    pub system_id: String,
    /// password, at most 8 characters.
    pub password: String,
    /// system_type, at most 12 characters.
    pub system_type: String,
    /// Transceiver, or a transmitter + receiver pair.
    pub bind_mode: BindMode,
    /// Requests in flight at once (submits; enquire_link and unbind do not count).
    pub window: usize,
    /// Idle time after which an enquire_link is sent.
    pub enquire_link_interval: Duration,
    /// How long an enquire_link may stay unanswered before the peer is declared dead.
    pub enquire_link_timeout: Duration,
    /// How long a submit may wait for its response before it is handed back as "outcome unknown".
    pub response_timeout: Duration,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// How long to wait for bind_*_resp.
    pub bind_timeout: Duration,
    /// How long to wait for unbind_resp before closing anyway.
    pub unbind_timeout: Duration,
    /// Reconnect backoff.
    pub reconnect: Backoff,
    /// Pause of the whole link after ESME_RTHROTTLED / ESME_RMSGQFUL.
    pub throttle: Backoff,
    /// Largest PDU accepted from the peer (command_length), octets.
    pub max_pdu_size: u32,
    /// deliver_sm / data_sm handed to the handler and not yet committed; at this count the link stops
    /// reading from the socket.
    pub max_inbound_pending: usize,
    /// Capacity of the submit channel in front of the link.
    pub submit_queue: usize,
    /// sequence_number of the bind; later requests count up from it and wrap after 0x7FFFFFFF to 1
    /// (SMPP 3.4 §5.1.4). 1 normally; tests start near the top to cross the wrap.
    pub first_sequence_number: u32,
}

impl Default for SmppLinkConfig {
    fn default() -> Self {
        SmppLinkConfig {
            carrier: "carrier".into(),
            link: "link0".into(),
            host: "127.0.0.1".into(),
            port: 2775,
            tls: None,
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            bind_mode: BindMode::Transceiver,
            window: 10,
            enquire_link_interval: Duration::from_secs(30),
            enquire_link_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            bind_timeout: Duration::from_secs(10),
            unbind_timeout: Duration::from_secs(2),
            reconnect: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            throttle: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(10),
            },
            max_pdu_size: 64 * 1024,
            max_inbound_pending: 64,
            submit_queue: 1024,
            first_sequence_number: 1,
        }
    }
}

impl SmppLinkConfig {
    /// Checks the values a link cannot run with; the error names the field.
    pub fn validate(&self) -> Result<(), LinkError> {
        let bad = |field: &str, why: &str| Err(LinkError::Config(format!("{field}: {why}")));
        if self.system_id.len() > 15 {
            return bad("system_id", "at most 15 characters");
        }
        if self.password.len() > 8 {
            return bad("password", "at most 8 characters");
        }
        if self.system_type.len() > 12 {
            return bad("system_type", "at most 12 characters");
        }
        if self.window == 0 || self.window > 0x7FFF_0000 {
            return bad("window", "between 1 and 2147418112");
        }
        if self.max_inbound_pending == 0 || self.submit_queue == 0 {
            return bad("max_inbound_pending/submit_queue", "at least 1");
        }
        if !(1..=0x7FFF_FFFF).contains(&self.first_sequence_number) {
            return bad("first_sequence_number", "between 1 and 0x7FFFFFFF");
        }
        if self.max_pdu_size < 16 {
            return bad("max_pdu_size", "at least 16 octets");
        }
        for (name, d) in [
            ("enquire_link_interval", self.enquire_link_interval),
            ("enquire_link_timeout", self.enquire_link_timeout),
            ("response_timeout", self.response_timeout),
            ("connect_timeout", self.connect_timeout),
            ("bind_timeout", self.bind_timeout),
            ("reconnect.initial", self.reconnect.initial),
            ("throttle.initial", self.throttle.initial),
        ] {
            if d.is_zero() {
                return bad(name, "must be more than zero");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_the_upper_half() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let steps: Vec<u128> = std::iter::successors(Some(b.initial), |d| Some(b.next(*d)))
            .take(6)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        for _ in 0..200 {
            let j = Backoff::jittered(Duration::from_millis(400));
            assert!(
                j >= Duration::from_millis(200) && j <= Duration::from_millis(400),
                "{j:?}"
            );
        }
    }

    #[test]
    fn validate_names_the_field() {
        let mut c = SmppLinkConfig::default();
        assert!(c.validate().is_ok());
        c.window = 0;
        assert!(
            c.validate()
                .is_err_and(|e| e.to_string().contains("window"))
        );
        let mut c = SmppLinkConfig {
            password: "123456789".into(),
            ..SmppLinkConfig::default()
        };
        assert!(
            c.validate()
                .is_err_and(|e| e.to_string().contains("password"))
        );
        c.password.clear();
        c.first_sequence_number = 0;
        assert!(
            c.validate()
                .is_err_and(|e| e.to_string().contains("first_sequence_number"))
        );
    }
}
