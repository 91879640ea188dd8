//! What the rest of the gateway reads from a loaded config: secrets kept out of logs, receipt id
//! normalisation, retry backoff, durations, and the modem driver's timings.

use std::time::Duration;

use smsbridge::config::{Config, MessageIdFormat, RetryPolicy, Secret, parse_duration};
use smsbridge::dispatch::modem::{hw_config, longest_send};
use smsbridge_hw::{DeviceSelector, ModemConfig};
use smsbridge_protocol::at::CommandKind;

const WITH_SECRETS: &str = r#"
[[api.clients]]
name = "im"
token = "tok-0123456789abcdef"

[simulator]
password = "simpw"

[[carriers]]
id = "gsm"
rate_limit = { per_second = 0.5 }
[[carriers.modem]]
device = "/dev/ttyUSB0"
pin = "4321"
[[carriers.smpp]]
host = "127.0.0.1"
port = 2776
system_id = "x"
password = "hunter2"

[[routes]]
prefix = "*"
carriers = ["gsm"]
"#;

#[test]
fn debug_output_never_shows_secrets() {
    let config = Config::from_str(WITH_SECRETS, "secrets.toml").expect("valid");
    let dump = format!("{config:?}");
    for secret in ["tok-0123456789abcdef", "simpw", "4321", "hunter2"] {
        assert!(!dump.contains(secret), "{secret} appears in {dump}");
    }
    assert!(dump.contains("<redacted>"));
    // The values are still there for the code that needs them.
    assert_eq!(
        config.api.clients[0].token_secret().resolve(),
        Ok("tok-0123456789abcdef".to_owned())
    );
    assert_eq!(
        config.carriers[0].modem[0].pin_secret(),
        Some(Secret::Inline("4321".into()))
    );
    assert_eq!(
        config.carriers[0].smpp[0].password_secret(),
        Secret::Inline("hunter2".into())
    );
}

#[test]
fn secrets_from_the_environment() {
    let text = WITH_SECRETS.replace("password = \"hunter2\"", "password_env = \"SMPP_PW\"");
    let config = Config::from_str(&text, "secrets.toml").expect("valid");
    let secret = config.carriers[0].smpp[0].password_secret();
    assert_eq!(secret, Secret::Env("SMPP_PW".into()));
    assert_eq!(
        secret.resolve_with(|n| (n == "SMPP_PW").then(|| "pw".into())),
        Ok("pw".into())
    );
    let err = secret.resolve_with(|_| None).expect_err("unset");
    assert_eq!(err.to_string(), "environment variable SMPP_PW is not set");
    let err = config
        .check_secrets_with("secrets.toml", |_| None)
        .expect_err("unset");
    assert_eq!(
        err.to_string(),
        "secrets.toml: carriers[0].smpp[0].password_env: environment variable SMPP_PW is not set"
    );
}

#[test]
fn receipt_ids_normalise_per_format() {
    let cases = [
        (MessageIdFormat::Opaque, "00AbC", "00AbC"),
        (MessageIdFormat::Hex, "00AbC", "abc"),
        (MessageIdFormat::Hex, "000", "0"),
        (MessageIdFormat::Decimal, "000123", "123"),
        (MessageIdFormat::Auto, "0000DEADbeef", "deadbeef"),
        (MessageIdFormat::Auto, " 42 ", "42"),
    ];
    for (format, id, want) in cases {
        assert_eq!(format.normalize(id), want, "{format:?} {id}");
    }
    // The submit_sm_resp id and the receipt id of one message meet on the same key.
    assert_eq!(
        MessageIdFormat::Auto.normalize("0a1B"),
        MessageIdFormat::Auto.normalize("A1b")
    );
}

#[test]
fn retry_backoff_grows_and_caps() {
    let policy = RetryPolicy {
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(10),
        multiplier: 2.0,
        max_attempts: Some(5),
    };
    let waits: Vec<u64> = (1..=6).map(|a| policy.backoff(a).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    assert!(policy.may_retry(4));
    assert!(!policy.may_retry(5));
    let forever = RetryPolicy {
        max_attempts: None,
        ..policy
    };
    assert!(forever.may_retry(1_000_000));
    assert_eq!(forever.backoff(u32::MAX), Duration::from_secs(10));
}

#[test]
fn carrier_rate_limits_build_limiters() {
    use smsbridge::ratelimit::Rate;
    let config = Config::from_str(WITH_SECRETS, "secrets.toml").expect("valid");
    let rate = Rate::from_config(&config.carriers[0].rate_limit).expect("valid rate");
    // Burst defaults to the rate rounded up, at least 1.
    assert_eq!((rate.per_second(), rate.burst()), (0.5, 1));
}

#[test]
fn durations_parse_like_the_docs_say() {
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
    let err = parse_duration("5parsecs").expect_err("bad unit");
    assert!(
        err.to_string().contains("expected a number and a unit"),
        "{err}"
    );
}

#[test]
fn nats_servers_from_url_or_urls() {
    let cluster = Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/examples/nats-cluster.toml"
    ))
    .expect("example is valid");
    let nats = cluster.store.nats.as_ref().expect("nats section");
    assert_eq!(nats.servers().len(), 3);
    assert_eq!(nats.servers()[0], "nats://nats-1.internal:4222");
    let one =
        Config::from_str("[store.nats]\nurl = \"tls://n:4222\"\n", "one.toml").expect("valid");
    let nats = one.store.nats.as_ref().expect("nats section");
    assert_eq!(nats.servers(), ["tls://n:4222"]);
    assert_eq!(
        (nats.replicas, nats.streams.events.as_str()),
        (3, "SMSBRIDGE_EVENTS")
    );
}

/// Every command kind the driver times out by.
const KINDS: [CommandKind; 9] = [
    CommandKind::Basic,
    CommandKind::Reset,
    CommandKind::Sim,
    CommandKind::Network,
    CommandKind::SmsConfig,
    CommandKind::SmsStorage,
    CommandKind::SmsSend,
    CommandKind::SmsAck,
    CommandKind::Ussd,
];

#[test]
fn modem_timings_default_to_the_drivers() {
    let config = Config::from_str(WITH_SECRETS, "secrets.toml").expect("valid");
    let carrier = &config.carriers[0];
    let m = &carrier.modem[0];
    let s = Duration::from_secs;
    assert_eq!(
        (
            m.health_interval,
            m.send_timeout,
            m.prompt_timeout,
            m.command_timeout
        ),
        (s(30), s(120), s(5), None)
    );
    assert_eq!(
        (
            m.send_retries,
            m.send_retry_delay,
            m.probe_attempts,
            m.probe_timeout
        ),
        (3, s(2), 3, s(2))
    );
    assert_eq!(
        (m.sim_busy_retries, m.sim_busy_delay, m.sim_error_recheck),
        (10, s(1), s(300))
    );
    assert_eq!(
        (m.reconnect.initial_backoff, m.reconnect.max_backoff),
        (s(1), s(60))
    );
    assert_eq!(m.reassembly_timeout, s(600));
    assert_eq!(
        (m.noise_drain, m.reassembly_max_pending),
        (Duration::from_millis(500), 256)
    );
    // Left out, each timing is what the driver does by itself.
    let hw = hw_config(carrier, 0, m).expect("driver config");
    let driver = ModemConfig::new("driver", DeviceSelector::Path("/dev/ttyUSB0".into()));
    assert_eq!(hw.health_interval, driver.health_interval);
    assert_eq!(hw.prompt_timeout, driver.prompt_timeout);
    assert_eq!(
        (hw.send_retries, hw.send_retry_delay),
        (driver.send_retries, driver.send_retry_delay)
    );
    assert_eq!(
        (hw.sim_busy_retries, hw.sim_busy_delay, hw.sim_error_recheck),
        (
            driver.sim_busy_retries,
            driver.sim_busy_delay,
            driver.sim_error_recheck
        )
    );
    assert_eq!(
        (hw.probe_attempts, hw.probe_timeout),
        (driver.probe_attempts, driver.probe_timeout)
    );
    assert_eq!(hw.reopen_backoff, driver.reopen_backoff);
    assert_eq!(hw.reassembly_timeout, driver.reassembly_timeout);
    assert_eq!(
        (hw.noise_drain, hw.reassembly_max_pending),
        (driver.noise_drain, driver.reassembly_max_pending)
    );
    for kind in KINDS {
        assert_eq!(hw.timeout(kind), driver.timeout(kind), "{kind:?}");
    }
}

#[test]
fn modem_timings_from_the_file_reach_the_driver() {
    let config = Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/examples/modem.toml"
    ))
    .expect("example is valid");
    let carrier = config
        .carriers
        .iter()
        .find(|c| c.id.as_str() == "gsm")
        .expect("gsm");
    // The second modem is the slow one.
    let hw = hw_config(carrier, 1, &carrier.modem[1]).expect("driver config");
    let s = Duration::from_secs;
    assert_eq!(hw.health_interval, s(60));
    assert_eq!(hw.timeout(CommandKind::SmsSend), s(240));
    for kind in KINDS {
        if !matches!(kind, CommandKind::SmsSend | CommandKind::Ussd) {
            assert_eq!(hw.timeout(kind), s(20), "{kind:?}");
        }
    }
    assert_eq!(hw.send_retries, 0);
    assert_eq!(hw.reopen_backoff, (s(5), s(120)));
    // Not written: the defaults.
    assert_eq!(hw.prompt_timeout, s(5));
    assert_eq!(hw.reassembly_timeout, s(600));
    // One segment may take the prompt and the send once: what the dispatcher waits for.
    assert_eq!(longest_send(&hw), s(245));
    // The first modem writes no timings (its driver config needs its PIN from the environment).
    let first = &carrier.modem[0];
    assert_eq!(
        (
            first.send_timeout,
            first.command_timeout,
            first.health_interval
        ),
        (s(120), None, s(30))
    );
}

#[test]
fn modem_noise_drain_and_reassembly_cap_reach_the_driver() {
    // The smallest values allowed.
    let text = WITH_SECRETS.replace(
        "pin = \"4321\"",
        "pin = \"4321\"\nnoise_drain = \"0s\"\nreassembly_max_pending = 1",
    );
    let config = Config::from_str(&text, "modem.toml").expect("valid");
    let carrier = &config.carriers[0];
    let m = &carrier.modem[0];
    assert_eq!(
        (m.noise_drain, m.reassembly_max_pending),
        (Duration::ZERO, 1)
    );
    let hw = hw_config(carrier, 0, m).expect("driver config");
    assert_eq!(
        (hw.noise_drain, hw.reassembly_max_pending),
        (Duration::ZERO, 1)
    );
}
