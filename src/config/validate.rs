//! The semantic checks run once after parsing: ranges, cross-references (routes to carriers), exclusive
//! keys, files that must exist. Each problem names its key path and what was expected; all are collected so
//! an operator fixes a file in one go.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::duration::Display as Dur;
use super::{
    Config, ModemLinkConfig, NatsConfig, Problem, RateLimitConfig, RetryPolicy, SmppLinkConfig,
    StoreEngine, TlsConfig,
};
use crate::router::{
    MAX_CARRIERS_PER_ROUTE, SenderPattern, parse_destination, parse_prefix, parse_sender,
};

/// Collects problems.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
            position: None,
        });
    }

    fn int(&mut self, key: impl Into<String>, value: u64, min: u64, max: u64) {
        if !(min..=max).contains(&value) {
            self.push(
                key,
                format!("expected an integer from {min} to {max}, got {value}"),
            );
        }
    }

    fn float(&mut self, key: impl Into<String>, value: f64, min: f64, max: f64) {
        if !(value.is_finite() && (min..=max).contains(&value)) {
            self.push(
                key,
                format!("expected a number from {min} to {max}, got {value}"),
            );
        }
    }

    fn duration(&mut self, key: impl Into<String>, value: Duration, min: Duration, max: Duration) {
        if !(min..=max).contains(&value) {
            self.push(
                key,
                format!(
                    "expected a duration from {} to {}, got {}",
                    Dur(min),
                    Dur(max),
                    Dur(value)
                ),
            );
        }
    }

    fn text_len(&mut self, key: impl Into<String>, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        let printable = value.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if !(min..=max).contains(&len) || !printable {
            self.push(
                key,
                format!("expected {min} to {max} printable ASCII characters, got {value:?}"),
            );
        }
    }

    /// Like `text_len`, without echoing the value (a password).
    fn secret_len(&mut self, key: impl Into<String>, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max || !value.chars().all(|c| c.is_ascii_graphic()) {
            self.push(
                key,
                format!("expected at most {max} printable ASCII characters without spaces, got {len} characters"),
            );
        }
    }

    fn file_exists(&mut self, key: impl Into<String>, path: &Path) {
        if !path.is_file() {
            self.push(
                key,
                format!(
                    "expected an existing file, {:?} does not exist",
                    path.display().to_string()
                ),
            );
        }
    }

    /// Exactly one (or, with `optional`, at most one) of an inline secret and its `_env` twin.
    fn secret_pair(
        &mut self,
        base: &str,
        name: &str,
        inline: &Option<String>,
        env: &Option<String>,
        optional: bool,
    ) {
        match (inline, env) {
            (Some(_), Some(_)) => self.push(
                format!("{base}.{name}_env"),
                format!("expected either `{name}` or `{name}_env`, not both"),
            ),
            (None, None) if !optional => {
                self.push(format!("{base}.{name}"), format!("expected `{name}` or `{name}_env`"))
            }
            (None, Some(var)) if !is_env_name(var) => self.push(
                format!("{base}.{name}_env"),
                format!("expected an environment variable name (letters, digits, '_', not starting with a digit), got {var:?}"),
            ),
            _ => {}
        }
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_host(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
        || ((1..=253).contains(&s.len())
            && s.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }))
}

fn is_loopback_host(s: &str) -> bool {
    s.eq_ignore_ascii_case("localhost") || s.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Runs every check and returns the problems found (empty when the config is usable).
pub(super) fn validate(c: &Config) -> Vec<Problem> {
    let mut v = Checker {
        problems: Vec::new(),
    };

    // [gateway]
    if !is_name(&c.gateway.node_id, 64) {
        v.push(
            "gateway.node_id",
            format!(
                "expected 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', got {:?}",
                c.gateway.node_id
            ),
        );
    }
    v.duration(
        "gateway.shutdown_timeout",
        c.gateway.shutdown_timeout,
        Duration::from_secs(1),
        Duration::from_secs(3_600),
    );

    // [api]
    let api = &c.api;
    if api.clients.is_empty() && !api.listen.ip().is_loopback() {
        v.push(
            "api.clients",
            format!(
                "expected at least one [[api.clients]] entry: without clients the API is unauthenticated, which is \
                 allowed only on a loopback address, and api.listen is {}",
                api.listen
            ),
        );
    }
    let mut client_names = HashSet::new();
    let mut tokens = HashSet::new();
    for (i, client) in api.clients.iter().enumerate() {
        let base = format!("api.clients[{i}]");
        if !is_name(&client.name, 64) {
            v.push(
                format!("{base}.name"),
                format!(
                    "expected 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', got {:?}",
                    client.name
                ),
            );
        } else if !client_names.insert(client.name.as_str()) {
            v.push(
                format!("{base}.name"),
                format!(
                    "expected a unique client name, {:?} is used twice",
                    client.name
                ),
            );
        }
        v.secret_pair(&base, "token", &client.token, &client.token_env, false);
        if let Some(token) = &client.token {
            if token.chars().count() < 16 || token.chars().any(char::is_whitespace) {
                v.push(
                    format!("{base}.token"),
                    "expected a token of at least 16 characters without spaces",
                );
            } else if !tokens.insert(token.as_str()) {
                v.push(
                    format!("{base}.token"),
                    "expected a token no other client uses",
                );
            }
        }
    }
    v.int("api.max_batch_size", api.max_batch_size.into(), 1, 100_000);
    v.duration(
        "api.default_validity",
        api.default_validity,
        Duration::from_secs(60),
        Duration::from_secs(30 * 86_400),
    );
    v.int("api.default_priority", api.default_priority.into(), 0, 3);

    // [store]
    let store = &c.store;
    if store.sqlite.path.as_os_str().is_empty() {
        v.push(
            "store.sqlite.path",
            "expected a file path, got an empty string",
        );
    }
    v.int(
        "store.sqlite.group_commit_max_batch",
        store.sqlite.group_commit_max_batch.into(),
        1,
        100_000,
    );
    v.duration(
        "store.sqlite.group_commit_max_wait",
        store.sqlite.group_commit_max_wait,
        Duration::ZERO,
        Duration::from_secs(1),
    );
    let retention = &store.retention;
    for (key, value) in [
        ("store.retention.keep_finished", retention.keep_finished),
        ("store.retention.keep_events", retention.keep_events),
    ] {
        v.duration(
            key,
            value,
            Duration::from_secs(60),
            Duration::from_secs(3_650 * 86_400),
        );
    }
    v.duration(
        "store.retention.unmatched_receipts",
        retention.unmatched_receipts,
        Duration::from_secs(1),
        Duration::from_secs(7 * 86_400),
    );
    v.duration(
        "store.retention.interval",
        retention.interval,
        Duration::from_secs(1),
        Duration::from_secs(86_400),
    );
    v.int(
        "store.retention.chunk_rows",
        retention.chunk_rows.into(),
        100,
        100_000,
    );
    match (&store.nats, store.engine) {
        (None, StoreEngine::Nats) => v.push(
            "store.nats",
            "expected a [store.nats] table with `urls` when store.engine = \"nats\"",
        ),
        (Some(nats), _) => check_nats(&mut v, nats),
        (None, StoreEngine::Sqlite) => {}
    }

    // Listening addresses must not collide.
    let mut listeners: Vec<(&str, SocketAddr)> = vec![("api.listen", api.listen)];
    if c.metrics.enabled {
        listeners.push(("metrics.listen", c.metrics.listen));
    }
    if c.simulator.enabled {
        listeners.push(("simulator.listen", c.simulator.listen));
    }
    for (i, (key, addr)) in listeners.iter().enumerate() {
        if let Some((other, _)) = listeners
            .iter()
            .take(i)
            .find(|(_, a)| a == addr && addr.port() != 0)
        {
            v.push(
                *key,
                format!("expected an address not used by {other}, got {addr}"),
            );
        }
    }

    // [log]
    let level_ok = !c.log.level.is_empty()
        && c.log.level.split(',').all(|d| {
            let level = d.rsplit('=').next().unwrap_or("");
            let target_ok = d.split_once('=').is_none_or(|(t, _)| {
                !t.is_empty()
                    && t.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
            });
            target_ok && LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str())
        });
    if !level_ok {
        v.push(
            "log.level",
            format!(
                "expected a level ({}) or directives like \"info,smsbridge::link=debug\", got {:?}",
                LOG_LEVELS.join(", "),
                c.log.level
            ),
        );
    }

    // [[carriers]]
    if c.carriers.is_empty() {
        v.push(
            "carriers",
            "expected at least one [[carriers]] entry, or [simulator] enabled = true to use the built-in simulator",
        );
    }
    let mut carrier_ids: HashMap<&str, usize> = HashMap::new();
    for (i, carrier) in c.carriers.iter().enumerate() {
        let base = format!("carriers[{i}]");
        if let Some(first) = carrier_ids.insert(carrier.id.as_str(), i) {
            carrier_ids.insert(carrier.id.as_str(), first);
            v.push(
                format!("{base}.id"),
                format!(
                    "expected a unique carrier id, {:?} is also carriers[{first}].id",
                    carrier.id.as_str()
                ),
            );
        }
        check_rate(&mut v, &format!("{base}.rate_limit"), &carrier.rate_limit);
        check_retry(&mut v, &format!("{base}.retry"), &carrier.retry);
        v.duration(
            format!("{base}.receipt_timeout"),
            carrier.receipt_timeout,
            Duration::from_secs(1),
            Duration::from_secs(30 * 86_400),
        );
        // The SMSC waits for the answer to every part held: minutes at most, not the hours of a typo.
        v.duration(
            format!("{base}.smpp_reassembly_timeout"),
            carrier.smpp_reassembly_timeout,
            Duration::from_secs(1),
            Duration::from_secs(3_600),
        );
        v.int(
            format!("{base}.smpp_reassembly_max_pending"),
            carrier.smpp_reassembly_max_pending.into(),
            1,
            100_000,
        );
        if carrier.smpp.is_empty() && carrier.modem.is_empty() {
            v.push(
                base.clone(),
                "expected at least one link: a [[carriers.smpp]] or [[carriers.modem]] table",
            );
        }
        if carrier.supports_cancel == Some(true) && carrier.smpp.is_empty() {
            v.push(
                format!("{base}.supports_cancel"),
                "expected false or no value for a carrier without [[carriers.smpp]] links: only SMPP can cancel a submitted message (cancel_sm)",
            );
        }
        for (j, link) in carrier.smpp.iter().enumerate() {
            check_smpp(&mut v, &format!("{base}.smpp[{j}]"), link, c);
        }
        for (j, modem) in carrier.modem.iter().enumerate() {
            let base = format!("{base}.modem[{j}]");
            let finders = [
                modem.device.is_some(),
                modem.imei.is_some(),
                modem.iccid.is_some(),
            ];
            if finders.iter().filter(|f| **f).count() != 1 {
                v.push(
                    base.clone(),
                    "expected exactly one of `device`, `imei` and `iccid` to find the modem",
                );
            }
            if let Some(device) = &modem.device {
                if !device.is_absolute() {
                    v.push(
                        format!("{base}.device"),
                        format!(
                            "expected an absolute path such as /dev/serial/by-id/..., got {:?}",
                            device.display().to_string()
                        ),
                    );
                }
            }
            if let Some(imei) = &modem.imei {
                if !is_imei(imei) {
                    v.push(
                        format!("{base}.imei"),
                        format!("expected 15 digits with a valid Luhn check digit, got {imei:?}"),
                    );
                }
            }
            if let Some(iccid) = &modem.iccid {
                let ok =
                    (18..=22).contains(&iccid.len()) && iccid.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    v.push(
                        format!("{base}.iccid"),
                        format!("expected 18 to 22 digits, got {iccid:?}"),
                    );
                }
            }
            const BAUDS: [u32; 10] = [
                9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_000_000,
                3_000_000,
            ];
            if !BAUDS.contains(&modem.baud_rate) {
                v.push(
                    format!("{base}.baud_rate"),
                    format!("expected one of {BAUDS:?}, got {}", modem.baud_rate),
                );
            }
            v.secret_pair(&base, "pin", &modem.pin, &modem.pin_env, true);
            if let Some(pin) = &modem.pin {
                if !((4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())) {
                    v.push(format!("{base}.pin"), "expected 4 to 8 digits");
                }
            }
            if let Some(smsc) = &modem.smsc {
                if let Err(e) = parse_destination(smsc) {
                    v.push(
                        format!("{base}.smsc"),
                        format!("expected an E.164 number: {e}"),
                    );
                }
            }
            if let Some(number) = &modem.number {
                if let Err(e) = parse_destination(number) {
                    v.push(
                        format!("{base}.number"),
                        format!("expected an E.164 number: {e}"),
                    );
                }
            }
            if let Some(rate) = &modem.rate_limit {
                check_rate(&mut v, &format!("{base}.rate_limit"), rate);
            }
            check_modem_timing(&mut v, &base, modem);
        }
    }

    // [[routes]]
    let mut prefixes: HashMap<String, usize> = HashMap::new();
    for (i, route) in c.routes.iter().enumerate() {
        let base = format!("routes[{i}]");
        match parse_prefix(&route.prefix) {
            Err(e) => v.push(format!("{base}.prefix"), e.to_string()),
            Ok(digits) => {
                if let Some(first) = prefixes.get(&digits) {
                    v.push(
                        format!("{base}.prefix"),
                        format!("expected a prefix no other route has, routes[{first}] has the same prefix {:?}", route.prefix),
                    );
                } else {
                    prefixes.insert(digits, i);
                }
            }
        }
        if route.carriers.is_empty() {
            v.push(
                format!("{base}.carriers"),
                "expected at least one carrier id",
            );
        } else if route.carriers.len() > MAX_CARRIERS_PER_ROUTE {
            v.push(
                format!("{base}.carriers"),
                format!(
                    "expected at most {MAX_CARRIERS_PER_ROUTE} carriers, got {}",
                    route.carriers.len()
                ),
            );
        }
        let mut seen = HashSet::new();
        for (j, id) in route.carriers.iter().enumerate() {
            if !carrier_ids.contains_key(id.as_str()) {
                let known: Vec<&str> = c.carriers.iter().map(|c| c.id.as_str()).collect();
                v.push(
                    format!("{base}.carriers[{j}]"),
                    format!(
                        "expected the id of a configured carrier ({}), got {:?}",
                        known.join(", "),
                        id.as_str()
                    ),
                );
            }
            if !seen.insert(id.as_str()) {
                v.push(
                    format!("{base}.carriers[{j}]"),
                    format!(
                        "expected each carrier once, {:?} is listed twice",
                        id.as_str()
                    ),
                );
            }
        }
        if let Some(weights) = &route.weights {
            if weights.len() != route.carriers.len() {
                v.push(
                    format!("{base}.weights"),
                    format!(
                        "expected one weight per carrier ({}), got {}",
                        route.carriers.len(),
                        weights.len()
                    ),
                );
            } else if weights.iter().all(|w| *w == 0) {
                v.push(
                    format!("{base}.weights"),
                    "expected at least one weight above 0",
                );
            }
            if let Some((j, w)) = weights.iter().enumerate().find(|(_, w)| **w > 1_000_000) {
                v.push(
                    format!("{base}.weights[{j}]"),
                    format!("expected an integer from 0 to 1000000, got {w}"),
                );
            }
        }
        let mut patterns = Vec::new();
        for (j, p) in route.allowed_senders.iter().enumerate() {
            match SenderPattern::new(p) {
                Ok(p) => patterns.push(p),
                Err(e) => v.push(format!("{base}.allowed_senders[{j}]"), e.to_string()),
            }
        }
        if let Some(sender) = &route.default_sender {
            match parse_sender(sender) {
                Err(e) => v.push(
                    format!("{base}.default_sender"),
                    format!("expected a valid sender: {e}"),
                ),
                Ok(_) if !patterns.is_empty() && !patterns.iter().any(|p| p.matches(sender)) => v
                    .push(
                        format!("{base}.default_sender"),
                        format!("expected a sender that allowed_senders allows, got {sender:?}"),
                    ),
                Ok(_) => {}
            }
        }
        for (j, rule) in route.rewrite_sender.iter().enumerate() {
            if let Err(e) = SenderPattern::new(&rule.from) {
                v.push(format!("{base}.rewrite_sender[{j}].from"), e.to_string());
            }
            if let Err(e) = parse_sender(&rule.to) {
                v.push(
                    format!("{base}.rewrite_sender[{j}].to"),
                    format!("expected a valid sender: {e}"),
                );
            }
        }
    }

    // [simulator]
    let sim = &c.simulator;
    if sim.enabled {
        v.text_len("simulator.system_id", &sim.system_id, 1, 15);
        v.secret_len("simulator.password", &sim.password, 8);
        v.duration(
            "simulator.receipt_delay_max",
            sim.receipt_delay_max,
            Duration::ZERO,
            Duration::from_secs(3_600),
        );
        if sim.receipt_delay_min > sim.receipt_delay_max {
            v.push(
                "simulator.receipt_delay_min",
                format!(
                    "expected at most receipt_delay_max ({}), got {}",
                    Dur(sim.receipt_delay_max),
                    Dur(sim.receipt_delay_min)
                ),
            );
        }
        if sim.outcomes.is_empty() {
            v.push(
                "simulator.outcomes",
                "expected at least one receipt state with a probability",
            );
        }
        let mut sum = 0.0;
        let mut all_valid = true;
        for p in sim.outcomes.values() {
            all_valid &= p.is_finite() && (0.0..=1.0).contains(p);
            sum += p;
        }
        if !all_valid {
            v.push(
                "simulator.outcomes",
                "expected each probability to be a number from 0 to 1",
            );
        } else if !sim.outcomes.is_empty() && (sum - 1.0).abs() > 1e-6 {
            v.push(
                "simulator.outcomes",
                format!("expected the probabilities to add up to 1, got {sum}"),
            );
        }
    }

    v.problems
}

fn check_nats(v: &mut Checker, nats: &NatsConfig) {
    match (&nats.url, nats.urls.is_empty()) {
        (None, true) => v.push(
            "store.nats.url",
            "expected a server URL, e.g. url = \"nats://127.0.0.1:4222\", or several in `urls`",
        ),
        (Some(_), false) => v.push(
            "store.nats.urls",
            "expected either `url` or `urls`, not both",
        ),
        _ => {}
    }
    let keyed = nats
        .url
        .iter()
        .map(|u| ("store.nats.url".to_owned(), u))
        .chain(
            nats.urls
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("store.nats.urls[{i}]"), u)),
        );
    for (key, url) in keyed {
        let rest = ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            v.push(
                key,
                format!(
                    "expected a URL starting with nats://, tls://, ws:// or wss://, got {url:?}"
                ),
            );
        }
    }
    let streams = [
        ("messages", &nats.streams.messages),
        ("events", &nats.streams.events),
        ("ids", &nats.streams.ids),
    ];
    for (i, (key, name)) in streams.iter().enumerate() {
        if !is_name(name, 64) {
            v.push(
                format!("store.nats.streams.{key}"),
                format!(
                    "expected 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-', got {name:?}"
                ),
            );
        } else if let Some((other, _)) = streams.iter().take(i).find(|(_, n)| n == name) {
            v.push(
                format!("store.nats.streams.{key}"),
                format!("expected a stream name different from streams.{other}, got {name:?}"),
            );
        }
    }
    v.int("store.nats.replicas", nats.replicas.into(), 1, 5);
    if let Some(creds) = &nats.credentials_file {
        v.file_exists("store.nats.credentials_file", creds);
    }
}

fn check_rate(v: &mut Checker, base: &str, rate: &RateLimitConfig) {
    v.float(
        format!("{base}.per_second"),
        rate.per_second,
        0.001,
        1_000_000.0,
    );
    if let Some(burst) = rate.burst {
        // Timers tick in milliseconds: a smaller burst cannot carry the rate (see Rate::min_burst).
        let min = u64::from(crate::ratelimit::Rate::min_burst(rate.per_second));
        v.int(format!("{base}.burst"), burst.into(), min, 1_000_000);
    }
}

fn check_retry(v: &mut Checker, base: &str, retry: &RetryPolicy) {
    v.duration(
        format!("{base}.initial_backoff"),
        retry.initial_backoff,
        Duration::from_millis(1),
        Duration::from_secs(86_400),
    );
    if retry.max_backoff < retry.initial_backoff {
        v.push(
            format!("{base}.max_backoff"),
            format!(
                "expected at least initial_backoff ({}), got {}",
                Dur(retry.initial_backoff),
                Dur(retry.max_backoff)
            ),
        );
    }
    v.float(format!("{base}.multiplier"), retry.multiplier, 1.0, 10.0);
    if let Some(max) = retry.max_attempts {
        v.int(format!("{base}.max_attempts"), max.into(), 1, 1_000);
    }
}

/// A modem's timings: each long enough for a modem to answer and short enough that a typo (`"30m"` for
/// `"30s"`) does not leave a modem hanging for hours.
fn check_modem_timing(v: &mut Checker, base: &str, modem: &ModemLinkConfig) {
    let ms = Duration::from_millis;
    let secs = Duration::from_secs;
    let mut durations = vec![
        (
            "health_interval",
            modem.health_interval,
            ms(100),
            secs(3_600),
        ),
        ("send_timeout", modem.send_timeout, secs(1), secs(600)),
        ("prompt_timeout", modem.prompt_timeout, ms(100), secs(60)),
        (
            "send_retry_delay",
            modem.send_retry_delay,
            Duration::ZERO,
            secs(60),
        ),
        ("sim_busy_delay", modem.sim_busy_delay, ms(10), secs(60)),
        (
            "sim_error_recheck",
            modem.sim_error_recheck,
            secs(1),
            secs(86_400),
        ),
        ("probe_timeout", modem.probe_timeout, ms(100), secs(60)),
        ("noise_drain", modem.noise_drain, Duration::ZERO, secs(10)),
        (
            "reconnect.initial_backoff",
            modem.reconnect.initial_backoff,
            ms(10),
            secs(3_600),
        ),
        (
            "reassembly_timeout",
            modem.reassembly_timeout,
            secs(1),
            secs(86_400),
        ),
    ];
    if let Some(t) = modem.command_timeout {
        durations.push(("command_timeout", t, ms(100), secs(600)));
    }
    for (key, value, min, max) in durations {
        v.duration(format!("{base}.{key}"), value, min, max);
    }
    let reconnect = &modem.reconnect;
    if reconnect.max_backoff < reconnect.initial_backoff {
        v.push(
            format!("{base}.reconnect.max_backoff"),
            format!(
                "expected at least reconnect.initial_backoff ({}), got {}",
                Dur(reconnect.initial_backoff),
                Dur(reconnect.max_backoff)
            ),
        );
    } else {
        v.duration(
            format!("{base}.reconnect.max_backoff"),
            reconnect.max_backoff,
            ms(10),
            secs(86_400),
        );
    }
    v.int(
        format!("{base}.send_retries"),
        modem.send_retries.into(),
        0,
        10,
    );
    v.int(
        format!("{base}.sim_busy_retries"),
        modem.sim_busy_retries.into(),
        0,
        1_000,
    );
    v.int(
        format!("{base}.probe_attempts"),
        modem.probe_attempts.into(),
        1,
        10,
    );
    v.int(
        format!("{base}.reassembly_max_pending"),
        modem.reassembly_max_pending.into(),
        1,
        100_000,
    );
}

fn check_smpp(v: &mut Checker, base: &str, link: &SmppLinkConfig, c: &Config) {
    if !is_host(&link.host) {
        v.push(
            format!("{base}.host"),
            format!("expected a host name or IP address, got {:?}", link.host),
        );
    }
    v.int(format!("{base}.port"), link.port.into(), 1, 65_535);
    v.text_len(format!("{base}.system_id"), &link.system_id, 1, 15);
    v.secret_pair(base, "password", &link.password, &link.password_env, false);
    if let Some(password) = &link.password {
        v.secret_len(format!("{base}.password"), password, 8);
    }
    v.text_len(format!("{base}.system_type"), &link.system_type, 0, 12);
    v.int(format!("{base}.window"), link.window.into(), 1, 10_000);
    v.duration(
        format!("{base}.enquire_link_interval"),
        link.enquire_link_interval,
        Duration::from_secs(1),
        Duration::from_secs(3_600),
    );
    v.duration(
        format!("{base}.enquire_link_timeout"),
        link.enquire_link_timeout,
        Duration::from_millis(100),
        Duration::from_secs(600),
    );
    v.duration(
        format!("{base}.response_timeout"),
        link.response_timeout,
        Duration::from_millis(100),
        Duration::from_secs(600),
    );
    v.duration(
        format!("{base}.reconnect.initial_backoff"),
        link.reconnect.initial_backoff,
        Duration::from_millis(10),
        Duration::from_secs(3_600),
    );
    if link.reconnect.max_backoff < link.reconnect.initial_backoff {
        v.push(
            format!("{base}.reconnect.max_backoff"),
            format!(
                "expected at least reconnect.initial_backoff ({}), got {}",
                Dur(link.reconnect.initial_backoff),
                Dur(link.reconnect.max_backoff)
            ),
        );
    }
    v.float(
        format!("{base}.reconnect.jitter"),
        link.reconnect.jitter,
        0.0,
        1.0,
    );
    v.int(
        format!("{base}.max_pdu_size"),
        link.max_pdu_size.into(),
        64,
        1_048_576,
    );
    v.int(format!("{base}.binds"), link.binds.into(), 1, 64);
    check_tls(v, &format!("{base}.tls"), &link.tls, &link.host);

    // A link aimed at the built-in simulator must use its credentials, or it would never bind.
    let sim = &c.simulator;
    let aims_at_sim = sim.enabled
        && link.port == sim.listen.port()
        && (link
            .host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip == sim.listen.ip())
            || (link.host.eq_ignore_ascii_case("localhost") && sim.listen.ip().is_loopback()));
    if aims_at_sim && link.system_id != sim.system_id {
        v.push(
            format!("{base}.system_id"),
            format!(
                "expected {:?} (simulator.system_id: this link points at the simulator), got {:?}",
                sim.system_id, link.system_id
            ),
        );
    }
}

fn check_tls(v: &mut Checker, base: &str, tls: &TlsConfig, host: &str) {
    if !tls.enabled {
        let set: Vec<&str> = [
            ("server_name", tls.server_name.is_some()),
            ("ca_file", tls.ca_file.is_some()),
            ("cert_file", tls.cert_file.is_some()),
            ("key_file", tls.key_file.is_some()),
            ("insecure_skip_verify", tls.insecure_skip_verify),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if let Some(first) = set.first() {
            v.push(
                format!("{base}.{first}"),
                "expected tls.enabled = true: TLS settings have no effect while TLS is disabled",
            );
        }
        return;
    }
    if let Some(name) = &tls.server_name {
        if !is_host(name) {
            v.push(
                format!("{base}.server_name"),
                format!("expected a DNS name or IP address, got {name:?}"),
            );
        }
    }
    if let Some(ca) = &tls.ca_file {
        v.file_exists(format!("{base}.ca_file"), ca);
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            v.file_exists(format!("{base}.cert_file"), cert);
            v.file_exists(format!("{base}.key_file"), key);
        }
        (Some(_), None) => v.push(
            format!("{base}.key_file"),
            "expected key_file together with cert_file",
        ),
        (None, Some(_)) => v.push(
            format!("{base}.cert_file"),
            "expected cert_file together with key_file",
        ),
        (None, None) => {}
    }
    if tls.insecure_skip_verify && !is_loopback_host(host) {
        v.push(
            format!("{base}.insecure_skip_verify"),
            format!("expected false: skipping certificate checks is allowed only for loopback hosts (tests), and host is {host:?}"),
        );
    }
}

/// 15 digits whose last is the Luhn check digit of the first 14.
fn is_imei(s: &str) -> bool {
    if s.len() != 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imei_check_digit() {
        // A commonly cited valid IMEI, and the same with its check digit changed.
        assert!(is_imei("490154203237518"));
        assert!(!is_imei("490154203237517"));
        assert!(!is_imei("49015420323751"));
    }

    #[test]
    fn hosts() {
        for ok in ["smsc.example.com", "127.0.0.1", "::1", "localhost", "a-b.c"] {
            assert!(is_host(ok), "{ok}");
        }
        for bad in ["", "a b", "-a.com", "a..b", "smsc.example.com:2775"] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
