//! What the rest of the gateway reads from a loaded config: secrets kept out of logs, receipt id
//! normalisation, retry backoff, and durations.

use std::time::Duration;

use smsbridge::config::{Config, MessageIdFormat, RetryPolicy, Secret, parse_duration};

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
