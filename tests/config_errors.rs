//! The shipped config files load, and broken files are refused with a message naming the file, the key and
//! what was expected.

use std::path::{Path, PathBuf};

use smsbridge::config::{Config, ConfigError};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn default_file_loads_and_runs_on_the_simulator() {
    let config = Config::load(repo_file("config/smsbridge.toml")).expect("default config is valid");
    assert!(config.simulator.enabled);
    assert_eq!(config.carriers.len(), 1);
    let sim = &config.carriers[0];
    assert_eq!(sim.id.as_str(), "sim");
    let link = &sim.smpp[0];
    assert_eq!(link.port, config.simulator.listen.port());
    assert_eq!(link.system_id, config.simulator.system_id);
    assert_eq!(config.routes.len(), 1);
    assert_eq!(config.routes[0].prefix, "*");
    assert_eq!(config.routes[0].carriers, vec![sim.id.clone()]);
    // No carrier account is needed: nothing to read from the environment.
    config
        .check_secrets_with("config/smsbridge.toml", |_| None)
        .expect("default config needs no secrets");
}

#[test]
fn default_file_writes_the_code_defaults() {
    // An empty file takes every default and gets the implied simulator carrier and route; the default file
    // writes all of them out, so the two must be equal.
    let from_file =
        Config::load(repo_file("config/smsbridge.toml")).expect("default config is valid");
    let from_code = Config::from_str("", "empty.toml").expect("empty config is valid");
    assert_eq!(from_file, from_code);
}

#[test]
fn default_file_documents_the_modem_defaults() {
    // The commented-out [[carriers.modem]] in the default file writes every key with its default: taken in
    // as it is written, it must equal a modem table with only its device.
    let text = std::fs::read_to_string(repo_file("config/smsbridge.toml")).expect("default file");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "# [[carriers.modem]]")
        .take_while(|l| l.starts_with("#"))
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect();
    assert!(block.len() > 10, "no modem block in the default file");
    let block = block.join("\n");
    for key in [
        "health_interval",
        "send_timeout",
        "prompt_timeout",
        "command_timeout",
        "send_retries",
        "send_retry_delay",
        "sim_busy_retries",
        "sim_busy_delay",
        "sim_error_recheck",
        "probe_attempts",
        "probe_timeout",
        "reconnect",
        "noise_drain",
        "reassembly_timeout",
        "reassembly_max_pending",
    ] {
        assert!(
            block.contains(&format!("\n{key} = ")) || block.contains(&format!("# {key} = ")),
            "{key} is not documented"
        );
    }
    let carrier = |modem: &str| {
        format!(
            "[simulator]\nenabled = false\n[[carriers]]\nid = \"gsm\"\nrate_limit = {{ per_second = 1 }}\n\
             {modem}\n[[routes]]\nprefix = \"*\"\ncarriers = [\"gsm\"]\n"
        )
    };
    let documented =
        Config::from_str(&carrier(&block), "documented.toml").unwrap_or_else(|e| panic!("{e}"));
    let bare = Config::from_str(
        &carrier("[[carriers.modem]]\ndevice = \"/dev/serial/by-id/usb-Quectel_EC25-if02-port0\""),
        "bare.toml",
    )
    .expect("valid");
    assert_eq!(documented.carriers[0].modem, bare.carriers[0].modem);
}

#[test]
fn every_example_loads() {
    let dir = repo_file("config/examples");
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("config/examples exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                !config.carriers.is_empty() && !config.routes.is_empty(),
                "{}",
                path.display()
            );
            loaded.push(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    loaded.sort();
    for wanted in ["modem.toml", "smpp-failover.toml", "tls.toml"] {
        assert!(
            loaded.iter().any(|l| l == wanted),
            "{wanted} missing from {loaded:?}"
        );
    }
}

#[test]
fn cancel_sm_is_on_by_default_for_smpp_carriers_only() {
    let config = Config::load(repo_file("config/examples/modem.toml")).expect("example is valid");
    let by_id = |id: &str| {
        config
            .carriers
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap_or_else(|| panic!("carrier {id}"))
    };
    // `bulk` leaves supports_cancel out and has an SMPP link; `gsm` has modems only.
    assert_eq!(by_id("bulk").supports_cancel, None);
    assert!(by_id("bulk").cancel_sm());
    assert!(!by_id("gsm").cancel_sm());
    let off = Config::from_str(&with("#CARRIER_B", "supports_cancel = false"), "off.toml")
        .expect("valid");
    assert!(off.carriers[0].cancel_sm());
    assert!(!off.carriers[1].cancel_sm());
}

#[test]
fn send_validity_is_on_unless_turned_off() {
    let base = Config::from_str(BASE, "base.toml").expect("base is valid");
    assert!(base.carriers.iter().all(|c| c.send_validity));
    let off =
        Config::from_str(&with("#CARRIER_B", "send_validity = false"), "off.toml").expect("valid");
    assert!(off.carriers[0].send_validity);
    assert!(!off.carriers[1].send_validity);
    // A modem-only carrier takes it too (TP-VP); the example's globex turns it off.
    let modem = Config::load(repo_file("config/examples/modem.toml")).expect("example is valid");
    assert!(modem.carriers.iter().all(|c| c.send_validity));
    let failover =
        Config::load(repo_file("config/examples/smpp-failover.toml")).expect("example is valid");
    let globex = failover
        .carriers
        .iter()
        .find(|c| c.id.as_str() == "globex")
        .expect("globex");
    assert!(!globex.send_validity);
}

#[test]
fn receipt_timeout_defaults_to_an_hour_and_is_per_carrier() {
    let base = Config::from_str(BASE, "base.toml").expect("base is valid");
    assert!(
        base.carriers
            .iter()
            .all(|c| c.receipt_timeout == std::time::Duration::from_secs(3600))
    );
    let set = Config::from_str(&with("#CARRIER_B", "receipt_timeout = \"2d\""), "set.toml")
        .expect("valid");
    assert_eq!(set.carriers[0].receipt_timeout.as_secs(), 3600);
    assert_eq!(set.carriers[1].receipt_timeout.as_secs(), 2 * 86_400);
}

#[test]
fn smpp_reassembly_defaults_to_a_minute_and_1024_messages_per_carrier() {
    let base = Config::from_str(BASE, "base.toml").expect("base is valid");
    assert!(base.carriers.iter().all(|c| {
        (c.smpp_reassembly_timeout, c.smpp_reassembly_max_pending)
            == (std::time::Duration::from_secs(60), 1024)
    }));
    // The largest values allowed.
    let set = Config::from_str(
        &with(
            "#CARRIER_B",
            "smpp_reassembly_timeout = \"1h\"\nsmpp_reassembly_max_pending = 100000",
        ),
        "set.toml",
    )
    .expect("valid");
    let a = &set.carriers[0];
    assert_eq!(
        (
            a.smpp_reassembly_timeout.as_secs(),
            a.smpp_reassembly_max_pending
        ),
        (60, 1024)
    );
    let b = &set.carriers[1];
    assert_eq!(
        (
            b.smpp_reassembly_timeout.as_secs(),
            b.smpp_reassembly_max_pending
        ),
        (3600, 100_000)
    );
}

#[test]
fn example_secrets_are_reported_by_key() {
    let path = repo_file("config/examples/smpp-failover.toml");
    let config = Config::load(&path).expect("example is valid");
    let err = config
        .check_secrets_with("smpp-failover.toml", |name| {
            (name != "ACME_SMPP_PASSWORD").then(|| "x".into())
        })
        .expect_err("ACME_SMPP_PASSWORD is missing");
    let text = err.to_string();
    assert!(
        text.contains("carriers[0].smpp[0].password_env")
            && text.contains("ACME_SMPP_PASSWORD is not set"),
        "{text}"
    );
    config
        .check_secrets_with("smpp-failover.toml", |_| Some("secret".into()))
        .expect("all secrets set");
}

#[test]
fn missing_file_names_the_file() {
    let err = Config::load("/nonexistent/smsbridge.toml").expect_err("file does not exist");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/smsbridge.toml: cannot read"),
        "{err}"
    );
}

/// A valid file with two carriers; the cases below change one part of it.
const BASE: &str = r#"
[api]
listen = "127.0.0.1:50051"
#API

[simulator]
enabled = false
#SIM

[[carriers]]
id = "a"
rate_limit = { per_second = 10 }
#CARRIER_A

[[carriers.smpp]]
host = "127.0.0.1"
system_id = "x"
password = "p"
#A_LINK

[[carriers]]
id = "b"
rate_limit = { per_second = 10 }
#CARRIER_B

[[carriers.smpp]]
host = "127.0.0.1"
port = 2776
system_id = "y"
password = "p"
#B_LINK

[[routes]]
prefix = "*"
carriers = ["a", "b"]
#ROUTE
"#;

fn with(marker: &str, replacement: &str) -> String {
    assert!(BASE.contains(marker), "no marker {marker}");
    BASE.replace(marker, replacement)
}

/// BASE with a modem in carrier `b` and `line` in the modem's table.
fn with_modem(line: &str) -> String {
    with(
        "#CARRIER_B",
        &format!("[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\n{line}"),
    )
}

#[test]
fn base_is_valid() {
    let config = Config::from_str(BASE, "base.toml").expect("base is valid");
    assert_eq!(config.carriers.len(), 2);
}

struct Case {
    name: &'static str,
    text: String,
    key: &'static str,
    expect: &'static str,
}

fn case(name: &'static str, text: String, key: &'static str, expect: &'static str) -> Case {
    Case {
        name,
        text,
        key,
        expect,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "unknown key",
            with("#B_LINK", "windw = 5"),
            "carriers[1].smpp[0].windw",
            "unknown key `windw`",
        ),
        case(
            "unknown section",
            format!("[gatway]\nnode_id = \"x\"\n{BASE}"),
            "gatway",
            "unknown key `gatway`",
        ),
        case(
            "unknown key in inline table",
            with("#CARRIER_B", "").replace(
                "id = \"b\"\nrate_limit = { per_second = 10 }",
                "id = \"b\"\nrate_limit = { per_second = 10, brust = 2 }",
            ),
            "carriers[1].rate_limit.brust",
            "unknown key `brust`",
        ),
        case(
            "wrong type",
            with("#B_LINK", "window = \"ten\""),
            "carriers[1].smpp[0].window",
            "invalid type: string \"ten\"",
        ),
        case(
            "negative integer",
            with("#A_LINK", "port = -1"),
            "carriers[0].smpp[0].port",
            "invalid value",
        ),
        case(
            "unknown enum value",
            with("#B_LINK", "bind = \"both\""),
            "carriers[1].smpp[0].bind",
            "unknown variant `both`",
        ),
        case(
            "missing required key",
            BASE.replace("system_id = \"y\"\n", ""),
            "carriers[1].smpp[0].system_id",
            "missing required key `system_id`",
        ),
        case(
            "bad carrier id",
            BASE.replace("id = \"b\"", "id = \"Bad Id\""),
            "carriers[1].id",
            "invalid carrier id \"Bad Id\"",
        ),
        case(
            "syntax error",
            with("#B_LINK", "window = "),
            "carriers[1].smpp[0].window",
            "string values must be quoted",
        ),
        case(
            "syntax error in a value",
            with("#B_LINK", "window = = 3"),
            "carriers[1].smpp[0].window",
            "expected",
        ),
        case(
            "missing carrier in route",
            BASE.replace("carriers = [\"a\", \"b\"]", "carriers = [\"a\", \"c\"]"),
            "routes[0].carriers[1]",
            "expected the id of a configured carrier (a, b), got \"c\"",
        ),
        case(
            "duplicate carrier id",
            BASE.replace("id = \"b\"", "id = \"a\""),
            "carriers[1].id",
            "expected a unique carrier id, \"a\" is also carriers[0].id",
        ),
        case(
            "window 0",
            with("#B_LINK", "window = 0"),
            "carriers[1].smpp[0].window",
            "expected an integer from 1 to 10000, got 0",
        ),
        case(
            "window too large",
            with("#A_LINK", "window = 10001"),
            "carriers[0].smpp[0].window",
            "expected an integer from 1 to 10000, got 10001",
        ),
        case(
            "bad duration",
            with("#B_LINK", "enquire_link_interval = \"5parsecs\""),
            "carriers[1].smpp[0].enquire_link_interval",
            "invalid duration \"5parsecs\"",
        ),
        case(
            "duration without unit",
            with("#B_LINK", "response_timeout = \"30\""),
            "carriers[1].smpp[0].response_timeout",
            "the unit is missing",
        ),
        case(
            "duration out of range",
            with("#B_LINK", "enquire_link_interval = \"10ms\""),
            "carriers[1].smpp[0].enquire_link_interval",
            "expected a duration from 1s to 1h, got 10ms",
        ),
        case(
            "bad prefix",
            BASE.replace("prefix = \"*\"", "prefix = \"44a\""),
            "routes[0].prefix",
            "route prefix \"44a\": expected 1 to 15 digits",
        ),
        case(
            "prefix with leading zero",
            BASE.replace("prefix = \"*\"", "prefix = \"+044\""),
            "routes[0].prefix",
            "not starting with 0",
        ),
        case(
            "duplicate prefix",
            with("#ROUTE", "[[routes]]\nprefix = \"\"\ncarriers = [\"a\"]"),
            "routes[1].prefix",
            "routes[0] has the same prefix",
        ),
        case(
            "weights length mismatch",
            with("#ROUTE", "weights = [1]"),
            "routes[0].weights",
            "expected one weight per carrier (2), got 1",
        ),
        case(
            "weights all zero",
            with("#ROUTE", "weights = [0, 0]"),
            "routes[0].weights",
            "at least one weight above 0",
        ),
        case(
            "carrier twice in a route",
            BASE.replace("carriers = [\"a\", \"b\"]", "carriers = [\"a\", \"a\"]"),
            "routes[0].carriers[1]",
            "\"a\" is listed twice",
        ),
        case(
            "tls ca_file missing",
            with(
                "#B_LINK",
                "tls = { enabled = true, ca_file = \"/nonexistent/ca.pem\" }",
            ),
            "carriers[1].smpp[0].tls.ca_file",
            "expected an existing file, \"/nonexistent/ca.pem\" does not exist",
        ),
        case(
            "tls setting while disabled",
            with("#B_LINK", "tls = { server_name = \"smsc.example\" }"),
            "carriers[1].smpp[0].tls.server_name",
            "expected tls.enabled = true",
        ),
        case(
            "insecure tls on a remote host",
            BASE.replace(
                "port = 2776",
                "port = 2776\ntls = { enabled = true, insecure_skip_verify = true }",
            )
            .replace(
                "host = \"127.0.0.1\"\nport",
                "host = \"smsc.example.com\"\nport",
            ),
            "carriers[1].smpp[0].tls.insecure_skip_verify",
            "allowed only for loopback hosts",
        ),
        case(
            "client cert without key",
            with(
                "#B_LINK",
                "tls = { enabled = true, cert_file = \"/nonexistent/c.pem\" }",
            ),
            "carriers[1].smpp[0].tls.key_file",
            "expected key_file together with cert_file",
        ),
        case(
            "password and password_env",
            with("#B_LINK", "password_env = \"B_PASS\""),
            "carriers[1].smpp[0].password_env",
            "expected either `password` or `password_env`, not both",
        ),
        case(
            "no password",
            BASE.replace("system_id = \"y\"\npassword = \"p\"", "system_id = \"y\""),
            "carriers[1].smpp[0].password",
            "expected `password` or `password_env`",
        ),
        case(
            "password too long",
            BASE.replace(
                "system_id = \"y\"\npassword = \"p\"",
                "system_id = \"y\"\npassword = \"123456789\"",
            ),
            "carriers[1].smpp[0].password",
            "expected at most 8 printable ASCII characters without spaces, got 9 characters",
        ),
        case(
            "system_id too long",
            BASE.replace("system_id = \"y\"", "system_id = \"abcdefghijklmnop\""),
            "carriers[1].smpp[0].system_id",
            "expected 1 to 15 printable ASCII characters",
        ),
        case(
            "bad host",
            BASE.replace(
                "host = \"127.0.0.1\"\nport",
                "host = \"smsc example\"\nport",
            ),
            "carriers[1].smpp[0].host",
            "expected a host name or IP address",
        ),
        case(
            "carrier without links",
            format!("{BASE}\n[[carriers]]\nid = \"c\"\nrate_limit = {{ per_second = 1 }}\n"),
            "carriers[2]",
            "expected at least one link",
        ),
        case(
            "rate zero",
            BASE.replace(
                "id = \"b\"\nrate_limit = { per_second = 10 }",
                "id = \"b\"\nrate_limit = { per_second = 0 }",
            ),
            "carriers[1].rate_limit.per_second",
            "expected a number from 0.001 to 1000000, got 0",
        ),
        case(
            "burst zero",
            BASE.replace(
                "id = \"b\"\nrate_limit = { per_second = 10 }",
                "id = \"b\"\nrate_limit = { per_second = 10, burst = 0 }",
            ),
            "carriers[1].rate_limit.burst",
            "expected an integer from 1 to 1000000, got 0",
        ),
        case(
            "retry backoffs reversed",
            with(
                "#CARRIER_B",
                "retry = { initial_backoff = \"1m\", max_backoff = \"10s\" }",
            ),
            "carriers[1].retry.max_backoff",
            "expected at least initial_backoff (1m), got 10s",
        ),
        case(
            "retry multiplier",
            with("#CARRIER_B", "retry = { multiplier = 0.5 }"),
            "carriers[1].retry.multiplier",
            "expected a number from 1 to 10, got 0.5",
        ),
        case(
            "supports_cancel not a boolean",
            with("#CARRIER_B", "supports_cancel = \"yes\""),
            "carriers[1].supports_cancel",
            "invalid type: string \"yes\", expected a boolean",
        ),
        case(
            "send_validity not a boolean",
            with("#CARRIER_A", "send_validity = \"no\""),
            "carriers[0].send_validity",
            "invalid type: string \"no\", expected a boolean",
        ),
        case(
            "receipt_timeout below a second",
            with("#CARRIER_A", "receipt_timeout = \"500ms\""),
            "carriers[0].receipt_timeout",
            "expected",
        ),
        case(
            "receipt_timeout not a duration",
            with("#CARRIER_B", "receipt_timeout = \"soon\""),
            "carriers[1].receipt_timeout",
            "soon",
        ),
        case(
            "smpp_reassembly_timeout too long",
            with("#CARRIER_A", "smpp_reassembly_timeout = \"2h\""),
            "carriers[0].smpp_reassembly_timeout",
            "expected a duration from 1s to 1h, got 2h",
        ),
        case(
            "smpp_reassembly_timeout below a second",
            with("#CARRIER_B", "smpp_reassembly_timeout = \"500ms\""),
            "carriers[1].smpp_reassembly_timeout",
            "expected a duration from 1s to 1h, got 500ms",
        ),
        case(
            "smpp_reassembly_max_pending zero",
            with("#CARRIER_B", "smpp_reassembly_max_pending = 0"),
            "carriers[1].smpp_reassembly_max_pending",
            "expected an integer from 1 to 100000, got 0",
        ),
        case(
            "supports_cancel without an SMPP link",
            format!(
                "{BASE}\n[[carriers]]\nid = \"gsm\"\nrate_limit = {{ per_second = 1 }}\nsupports_cancel = true\n\
                 [[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\n"
            ),
            "carriers[2].supports_cancel",
            "expected false or no value for a carrier without [[carriers.smpp]] links",
        ),
        case(
            "modem found two ways",
            with("#ROUTE", "").replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nimei = \"490154203237518\"",
            ),
            "carriers[1].modem[0]",
            "expected exactly one of `device`, `imei` and `iccid`",
        ),
        case(
            "modem bad imei",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\nimei = \"490154203237517\"",
            ),
            "carriers[1].modem[0].imei",
            "valid Luhn check digit",
        ),
        case(
            "modem relative device",
            BASE.replace("#CARRIER_B", "[[carriers.modem]]\ndevice = \"ttyUSB0\""),
            "carriers[1].modem[0].device",
            "expected an absolute path",
        ),
        case(
            "modem bad baud rate",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nbaud_rate = 1234",
            ),
            "carriers[1].modem[0].baud_rate",
            "got 1234",
        ),
        case(
            "modem bad pin",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\npin = \"12a4\"",
            ),
            "carriers[1].modem[0].pin",
            "expected 4 to 8 digits",
        ),
        case(
            "modem bad smsc",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nsmsc = \"0800123\"",
            ),
            "carriers[1].modem[0].smsc",
            "must start with '+'",
        ),
        case(
            "modem unknown key",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nbaud = 9600",
            ),
            "carriers[1].modem[0].baud",
            "unknown key `baud`",
        ),
        case(
            "modem bad number",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nnumber = \"0151 000\"",
            ),
            "carriers[1].modem[0].number",
            "expected an E.164 number",
        ),
        case(
            "modem flow control",
            BASE.replace(
                "#CARRIER_B",
                "[[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\nflow_control = \"rts\"",
            ),
            "carriers[1].modem[0].flow_control",
            "unknown variant `rts`",
        ),
        case(
            "modem health_interval zero",
            with_modem("health_interval = \"0s\""),
            "carriers[1].modem[0].health_interval",
            "expected a duration from 100ms to 1h, got 0s",
        ),
        case(
            "modem health_interval too long",
            with_modem("health_interval = \"2h\""),
            "carriers[1].modem[0].health_interval",
            "expected a duration from 100ms to 1h, got 2h",
        ),
        case(
            "modem send_timeout not a duration",
            with_modem("send_timeout = \"2 minutes\""),
            "carriers[1].modem[0].send_timeout",
            "invalid duration \"2 minutes\": spaces are not allowed",
        ),
        case(
            "modem send_timeout without unit",
            with_modem("send_timeout = \"120\""),
            "carriers[1].modem[0].send_timeout",
            "the unit is missing",
        ),
        case(
            "modem send_timeout a number",
            with_modem("send_timeout = 120"),
            "carriers[1].modem[0].send_timeout",
            "invalid type: integer `120`, expected a string",
        ),
        case(
            "modem send_timeout too short",
            with_modem("send_timeout = \"500ms\""),
            "carriers[1].modem[0].send_timeout",
            "expected a duration from 1s to 10m, got 500ms",
        ),
        case(
            "modem send_timeout too long",
            with_modem("send_timeout = \"1h\""),
            "carriers[1].modem[0].send_timeout",
            "expected a duration from 1s to 10m, got 1h",
        ),
        case(
            "modem prompt_timeout zero",
            with_modem("prompt_timeout = \"0s\""),
            "carriers[1].modem[0].prompt_timeout",
            "expected a duration from 100ms to 1m, got 0s",
        ),
        case(
            "modem command_timeout zero",
            with_modem("command_timeout = \"0ms\""),
            "carriers[1].modem[0].command_timeout",
            "expected a duration from 100ms to 10m, got 0s",
        ),
        case(
            "modem command_timeout bad unit",
            with_modem("command_timeout = \"10sec\""),
            "carriers[1].modem[0].command_timeout",
            "the unit is not one of ms, s, m, h, d",
        ),
        case(
            "modem send_retries too many",
            with_modem("send_retries = 11"),
            "carriers[1].modem[0].send_retries",
            "expected an integer from 0 to 10, got 11",
        ),
        case(
            "modem send_retries negative",
            with_modem("send_retries = -1"),
            "carriers[1].modem[0].send_retries",
            "expected an integer from 0 to 4294967295",
        ),
        case(
            "modem send_retry_delay too long",
            with_modem("send_retry_delay = \"5m\""),
            "carriers[1].modem[0].send_retry_delay",
            "expected a duration from 0s to 1m, got 5m",
        ),
        case(
            "modem sim_busy_retries too many",
            with_modem("sim_busy_retries = 1001"),
            "carriers[1].modem[0].sim_busy_retries",
            "expected an integer from 0 to 1000, got 1001",
        ),
        case(
            "modem sim_busy_delay zero",
            with_modem("sim_busy_delay = \"0s\""),
            "carriers[1].modem[0].sim_busy_delay",
            "expected a duration from 10ms to 1m, got 0s",
        ),
        case(
            "modem sim_error_recheck too short",
            with_modem("sim_error_recheck = \"500ms\""),
            "carriers[1].modem[0].sim_error_recheck",
            "expected a duration from 1s to 1d, got 500ms",
        ),
        case(
            "modem probe_attempts zero",
            with_modem("probe_attempts = 0"),
            "carriers[1].modem[0].probe_attempts",
            "expected an integer from 1 to 10, got 0",
        ),
        case(
            "modem probe_timeout too long",
            with_modem("probe_timeout = \"2m\""),
            "carriers[1].modem[0].probe_timeout",
            "expected a duration from 100ms to 1m, got 2m",
        ),
        case(
            "modem reconnect initial zero",
            with_modem("reconnect = { initial_backoff = \"0s\" }"),
            "carriers[1].modem[0].reconnect.initial_backoff",
            "expected a duration from 10ms to 1h, got 0s",
        ),
        case(
            "modem reconnect max below initial",
            with_modem("reconnect = { initial_backoff = \"10s\", max_backoff = \"1s\" }"),
            "carriers[1].modem[0].reconnect.max_backoff",
            "expected at least reconnect.initial_backoff (10s), got 1s",
        ),
        case(
            "modem reconnect max too long",
            with_modem("reconnect = { max_backoff = \"2d\" }"),
            "carriers[1].modem[0].reconnect.max_backoff",
            "expected a duration from 10ms to 1d, got 2d",
        ),
        case(
            "modem reconnect has no jitter",
            with_modem("reconnect = { jitter = 0.2 }"),
            "carriers[1].modem[0].reconnect.jitter",
            "unknown key `jitter`",
        ),
        case(
            "modem reassembly_timeout zero",
            with_modem("reassembly_timeout = \"0s\""),
            "carriers[1].modem[0].reassembly_timeout",
            "expected a duration from 1s to 1d, got 0s",
        ),
        case(
            "modem noise_drain too long",
            with_modem("noise_drain = \"11s\""),
            "carriers[1].modem[0].noise_drain",
            "expected a duration from 0s to 10s, got 11s",
        ),
        case(
            "modem reassembly_max_pending too large",
            with_modem("reassembly_max_pending = 100001"),
            "carriers[1].modem[0].reassembly_max_pending",
            "expected an integer from 1 to 100000, got 100001",
        ),
        case(
            "default sender not allowed",
            with(
                "#ROUTE",
                "allowed_senders = [\"ACME*\"]\ndefault_sender = \"Other\"",
            ),
            "routes[0].default_sender",
            "expected a sender that allowed_senders allows",
        ),
        case(
            "bad default sender",
            with("#ROUTE", "default_sender = \"12\""),
            "routes[0].default_sender",
            "a short code has 3 to 8 digits",
        ),
        case(
            "bad rewrite target",
            with(
                "#ROUTE",
                "rewrite_sender = [{ from = \"*\", to = \"FAR TOO LONG NAME\" }]",
            ),
            "routes[0].rewrite_sender[0].to",
            "at most 11 are allowed",
        ),
        case(
            "bad sender pattern",
            with("#ROUTE", "allowed_senders = [\"\"]"),
            "routes[0].allowed_senders[0]",
            "expected 1 to 32 sender characters",
        ),
        case(
            "route without carriers",
            BASE.replace("carriers = [\"a\", \"b\"]", "carriers = []"),
            "routes[0].carriers",
            "expected at least one carrier id",
        ),
        case(
            "unauthenticated public api",
            BASE.replace("listen = \"127.0.0.1:50051\"", "listen = \"0.0.0.0:50051\""),
            "api.clients",
            "expected at least one [[api.clients]] entry",
        ),
        case(
            "client token too short",
            with("#API", "[[api.clients]]\nname = \"im\"\ntoken = \"short\""),
            "api.clients[0].token",
            "at least 16 characters",
        ),
        case(
            "client token twice",
            with(
                "#API",
                "[[api.clients]]\nname = \"im\"\ntoken = \"0123456789abcdef\"\n[[api.clients]]\nname = \"im2\"\ntoken = \"0123456789abcdef\"",
            ),
            "api.clients[1].token",
            "no other client uses",
        ),
        case(
            "client without token",
            with("#API", "[[api.clients]]\nname = \"im\""),
            "api.clients[0].token",
            "expected `token` or `token_env`",
        ),
        case(
            "bad token_env",
            with(
                "#API",
                "[[api.clients]]\nname = \"im\"\ntoken_env = \"1-BAD\"",
            ),
            "api.clients[0].token_env",
            "expected an environment variable name",
        ),
        case(
            "priority out of range",
            with("#API", "default_priority = 7"),
            "api.default_priority",
            "expected an integer from 0 to 3, got 7",
        ),
        case(
            "bad listen address",
            BASE.replace("listen = \"127.0.0.1:50051\"", "listen = \"localhost\""),
            "api.listen",
            "invalid socket address",
        ),
        case(
            "nats engine without nats",
            format!("[store]\nengine = \"nats\"\n{BASE}"),
            "store.nats",
            "expected a [store.nats] table",
        ),
        case(
            "nats bad url",
            format!("[store.nats]\nurls = [\"http://x\"]\n{BASE}"),
            "store.nats.urls[0]",
            "expected a URL starting with nats://",
        ),
        case(
            "nats replicas",
            format!("[store.nats]\nurls = [\"nats://x:4222\"]\nreplicas = 7\n{BASE}"),
            "store.nats.replicas",
            "expected an integer from 1 to 5, got 7",
        ),
        case(
            "nats same stream twice",
            format!(
                "[store.nats]\nurls = [\"nats://x:4222\"]\nstreams = {{ messages = \"S\", events = \"S\" }}\n{BASE}"
            ),
            "store.nats.streams.events",
            "different from streams.messages",
        ),
        case(
            "nats unknown key",
            format!("[store.nats]\nuri = \"nats://x:4222\"\n{BASE}"),
            "store.nats.uri",
            "unknown key `uri`",
        ),
        case(
            "nats url and urls",
            format!("[store.nats]\nurl = \"nats://x:4222\"\nurls = [\"nats://y:4222\"]\n{BASE}"),
            "store.nats.urls",
            "expected either `url` or `urls`, not both",
        ),
        case(
            "nats without a server",
            format!("[store]\nengine = \"nats\"\n[store.nats]\nreplicas = 1\n{BASE}"),
            "store.nats.url",
            "expected a server URL",
        ),
        case(
            "nats bad single url",
            format!("[store.nats]\nurl = \"nats:/x\"\n{BASE}"),
            "store.nats.url",
            "expected a URL starting with nats://",
        ),
        case(
            "sqlite group commit",
            format!("[store.sqlite]\ngroup_commit_max_batch = 0\n{BASE}"),
            "store.sqlite.group_commit_max_batch",
            "expected an integer from 1 to 100000, got 0",
        ),
        case(
            "retention too short",
            format!("[store.retention]\nkeep_events = \"10s\"\n{BASE}"),
            "store.retention.keep_events",
            "expected a duration from 1m to 3650d, got 10s",
        ),
        case(
            "retention chunk",
            format!("[store.retention]\nchunk_rows = 10\n{BASE}"),
            "store.retention.chunk_rows",
            "expected an integer from 100 to 100000, got 10",
        ),
        case(
            "retention unknown key",
            format!("[store.retention]\nkeep_messages = \"7d\"\n{BASE}"),
            "store.retention.keep_messages",
            "unknown key `keep_messages`, expected one of `enabled`, `keep_finished`",
        ),
        case(
            "log level",
            format!("[log]\nlevel = \"loud\"\n{BASE}"),
            "log.level",
            "expected a level",
        ),
        case(
            "outcomes do not add up",
            with("#SIM", "outcomes = { DELIVRD = 0.5, UNDELIV = 0.2 }")
                .replace("enabled = false", "enabled = true"),
            "simulator.outcomes",
            "expected the probabilities to add up to 1, got 0.7",
        ),
        case(
            "unknown receipt state",
            with("#SIM", "outcomes = { DELIVERED = 1.0 }"),
            "simulator.outcomes.DELIVERED",
            "unknown variant `DELIVERED`",
        ),
        case(
            "receipt delays reversed",
            with(
                "#SIM",
                "receipt_delay_min = \"5s\"\nreceipt_delay_max = \"1s\"",
            )
            .replace("enabled = false", "enabled = true"),
            "simulator.receipt_delay_min",
            "expected at most receipt_delay_max (1s), got 5s",
        ),
        case(
            "listen addresses collide",
            with("#SIM", "listen = \"127.0.0.1:50051\"")
                .replace("enabled = false", "enabled = true"),
            "simulator.listen",
            "expected an address not used by api.listen",
        ),
        case(
            "link to simulator with wrong system_id",
            with("#SIM", "")
                .replace("enabled = false", "enabled = true")
                .replace("port = 2776", "port = 2775"),
            "carriers[1].smpp[0].system_id",
            "this link points at the simulator",
        ),
        case(
            "no carriers and no simulator",
            "[simulator]\nenabled = false\n".to_owned(),
            "carriers",
            "expected at least one [[carriers]] entry",
        ),
    ]
}

#[test]
fn broken_files_name_the_key_and_the_expectation() {
    let mut failures = Vec::new();
    for c in cases() {
        match Config::from_str(&c.text, "broken.toml") {
            Ok(_) => failures.push(format!(
                "{}: loaded, expected an error about {}",
                c.name, c.key
            )),
            Err(err) => {
                let text = err.to_string();
                let ok = text.starts_with("broken.toml:")
                    && err.keys().contains(&c.key)
                    && text.contains(&format!("{}: ", c.key))
                    && text.contains(c.expect);
                if !ok {
                    failures.push(format!(
                        "{}: wanted key {} and {:?}, got: {text}",
                        c.name, c.key, c.expect
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

/// Line of the first occurrence of `needle` in `text`, from 1.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle present");
    text[..at].matches('\n').count() + 1
}

#[test]
fn errors_point_at_the_line() {
    // A semantic problem points at its key.
    let text = with("#B_LINK", "window = 0");
    let err = Config::from_str(&text, "broken.toml").expect_err("window 0");
    let want = format!(
        "broken.toml:{}:1: carriers[1].smpp[0].window:",
        line_of(&text, "window = 0")
    );
    assert!(err.to_string().starts_with(&want), "{err}");

    // A type error points at the value.
    let text = with("#B_LINK", "window = \"ten\"");
    let err = Config::from_str(&text, "broken.toml").expect_err("window ten");
    let want = format!(
        "broken.toml:{}:10: carriers[1].smpp[0].window:",
        line_of(&text, "window = \"ten\"")
    );
    assert!(err.to_string().starts_with(&want), "{err}");

    // A syntax error gives the line even though the document did not parse.
    let text = with("#B_LINK", "window = = 3");
    let err = Config::from_str(&text, "broken.toml").expect_err("syntax");
    let ConfigError::Parse { position, .. } = &err else {
        panic!("expected a parse error, got {err}");
    };
    assert_eq!(position.line, line_of(&text, "window = = 3"), "{err}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = with("#B_LINK", "window = 0\nbinds = 0").replace("prefix = \"*\"", "prefix = \"x\"");
    let err = Config::from_str(&text, "broken.toml").expect_err("three problems");
    let keys = err.keys();
    for key in [
        "carriers[1].smpp[0].window",
        "carriers[1].smpp[0].binds",
        "routes[0].prefix",
    ] {
        assert!(keys.contains(&key), "{key} missing in {err}");
    }
    assert!(err.to_string().contains("3 problems"), "{err}");
}

#[test]
fn existing_tls_files_are_accepted() {
    let dir = std::env::temp_dir().join(format!("smsbridge-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").expect("write ca");
    let text = with(
        "#B_LINK",
        &format!(
            "tls = {{ enabled = true, ca_file = {:?} }}",
            ca.display().to_string()
        ),
    );
    let result = Config::from_str(&text, "tls.toml");
    let _ = std::fs::remove_dir_all(&dir);
    let config = result.expect("ca_file exists");
    assert_eq!(
        config.carriers[1].smpp[0].tls.ca_file.as_deref(),
        Some(ca.as_path())
    );
}

#[test]
fn errors_do_not_echo_secrets() {
    let text = BASE.replace(
        "system_id = \"y\"\npassword = \"p\"",
        "system_id = \"y\"\npassword = \"sw0rdfish!!\"",
    );
    let err = Config::from_str(&text, "broken.toml").expect_err("password too long");
    let msg = err.to_string();
    assert!(msg.contains("carriers[1].smpp[0].password"), "{msg}");
    assert!(!msg.contains("sw0rdfish"), "{msg}");
    let text = with(
        "#API",
        "[[api.clients]]\nname = \"im\"\ntoken = \"short secret\"",
    );
    let msg = Config::from_str(&text, "broken.toml")
        .expect_err("bad token")
        .to_string();
    assert!(
        msg.contains("api.clients[0].token") && !msg.contains("short secret"),
        "{msg}"
    );
}
