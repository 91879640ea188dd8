//! Routing as the submit path uses it: a config file's routes, longest-prefix match, failover past
//! unhealthy carriers, weighted choice, typed errors, and sender rules.

use std::collections::{HashMap, HashSet};

use smsbridge::config::{CarrierId, Config};
use smsbridge::router::{RouteError, Router, SenderError, SenderKind, parse_destination};

const CONFIG: &str = r#"
[simulator]
enabled = false

[[carriers]]
id = "acme"
rate_limit = { per_second = 10 }
[[carriers.smpp]]
host = "127.0.0.1"
system_id = "a"
password = "p"

[[carriers]]
id = "globex"
rate_limit = { per_second = 10 }
[[carriers.smpp]]
host = "127.0.0.1"
system_id = "g"
password = "p"

[[carriers]]
id = "initech"
rate_limit = { per_second = 10 }
[[carriers.smpp]]
host = "127.0.0.1"
system_id = "i"
password = "p"

[[routes]]
prefix = "+44"
carriers = ["acme", "globex", "initech"]
allowed_senders = ["ACME*", "+447700*", "12345"]
default_sender = "ACME"
rewrite_sender = [{ from = "ACME*", to = "ACME" }]

[[routes]]
prefix = "+447700"
carriers = ["globex"]
default_sender = "+447700900000"

[[routes]]
prefix = "+1"
carriers = ["acme", "globex", "initech"]
weights = [3, 1, 0]

[[routes]]
prefix = "+33"
carriers = ["initech"]
"#;

fn router() -> Router {
    let config = Config::from_str(CONFIG, "router.toml").expect("router config is valid");
    Router::new(&config).expect("routes compile")
}

fn id(s: &str) -> CarrierId {
    CarrierId::new(s).expect("valid id")
}

fn healthy(ids: &[&str]) -> impl Fn(&CarrierId) -> bool {
    let set: HashSet<String> = ids.iter().map(|s| s.to_string()).collect();
    move |c: &CarrierId| set.contains(c.as_str())
}

#[test]
fn longest_prefix_wins() {
    let r = router();
    let all = healthy(&["acme", "globex", "initech"]);
    let pick = |dest: &str| {
        let d = parse_destination(dest).expect("valid destination");
        r.select(&d, &all, 0)
            .map(|s| (s.route.prefix().to_owned(), s.carrier.to_string()))
    };
    assert_eq!(
        pick("+447700900123"),
        Ok(("447700".into(), "globex".into()))
    );
    assert_eq!(pick("+447800900123"), Ok(("44".into(), "acme".into())));
    assert_eq!(pick("+33612345678"), Ok(("33".into(), "initech".into())));
    // No default route in this file.
    let err = pick("+4915112345678").expect_err("no route");
    assert_eq!(
        err,
        RouteError::NoRoute {
            destination: "+4915112345678".into()
        }
    );
    assert!(err.to_string().contains("no route for +4915112345678"));
}

#[test]
fn failover_skips_unhealthy_carriers_in_order() {
    let r = router();
    let d = parse_destination("+447800900123").expect("valid destination");
    let cases: [(&[&str], Option<&str>); 5] = [
        (&["acme", "globex", "initech"], Some("acme")),
        (&["globex", "initech"], Some("globex")),
        (&["initech"], Some("initech")),
        (&["acme"], Some("acme")),
        (&[], None),
    ];
    for (up, want) in cases {
        // The random number must not matter for a route without weights.
        for random in [0, 1, 7, u64::MAX] {
            let got = r
                .select(&d, &healthy(up), random)
                .map(|s| s.carrier.to_string())
                .ok();
            assert_eq!(got.as_deref(), want, "healthy {up:?}");
        }
    }
    let err = r.select(&d, &healthy(&[]), 0).expect_err("nothing healthy");
    match &err {
        RouteError::NoHealthyCarrier {
            prefix, carriers, ..
        } => {
            assert_eq!(prefix, "+44");
            assert_eq!(carriers, &vec![id("acme"), id("globex"), id("initech")]);
        }
        other => panic!("expected NoHealthyCarrier, got {other:?}"),
    }
    assert!(err.to_string().contains("acme, globex, initech"), "{err}");
}

#[test]
fn weights_split_traffic_and_weight_zero_is_the_failover_tier() {
    let r = router();
    let d = parse_destination("+14155550100").expect("valid destination");
    let count = |up: &[&str]| {
        let health = healthy(up);
        let mut counts: HashMap<String, u64> = HashMap::new();
        for random in 0..4_000u64 {
            // Spread the inputs like a random generator would.
            let random = random.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let s = r.select(&d, &health, random).expect("a carrier is up");
            *counts.entry(s.carrier.to_string()).or_default() += 1;
        }
        counts
    };
    let both = count(&["acme", "globex", "initech"]);
    let acme = both.get("acme").copied().unwrap_or(0) as f64;
    let globex = both.get("globex").copied().unwrap_or(0) as f64;
    assert_eq!(
        both.get("initech"),
        None,
        "weight 0 is not used while others are up"
    );
    assert!(
        (acme / 4_000.0 - 0.75).abs() < 0.05,
        "acme share {}",
        acme / 4_000.0
    );
    assert!(
        (globex / 4_000.0 - 0.25).abs() < 0.05,
        "globex share {}",
        globex / 4_000.0
    );

    // One weighted carrier down: the other takes everything.
    let one = count(&["globex", "initech"]);
    assert_eq!(one.get("globex"), Some(&4_000));
    // Both weighted carriers down: the weight-0 carrier takes over.
    let failover = count(&["initech"]);
    assert_eq!(failover.get("initech"), Some(&4_000));

    // The same random number gives the same choice.
    let all = healthy(&["acme", "globex", "initech"]);
    for random in [0u64, 2, 3, 99] {
        let a = r.select(&d, &all, random).map(|s| s.carrier.clone());
        let b = r.select(&d, &all, random).map(|s| s.carrier.clone());
        assert_eq!(a, b);
    }
    // With weights 3:1, random % 4 in 0..3 picks acme and 3 picks globex.
    assert_eq!(
        r.select(&d, &all, 2).map(|s| s.carrier.to_string()),
        Ok("acme".into())
    );
    assert_eq!(
        r.select(&d, &all, 3).map(|s| s.carrier.to_string()),
        Ok("globex".into())
    );
}

#[test]
fn sender_rules_per_route() {
    let r = router();
    let uk = r
        .route(&parse_destination("+447800900123").expect("valid"))
        .expect("route");
    // Missing sender: the default.
    let s = uk.apply_sender(None).expect("default sender");
    assert_eq!((s.as_str(), s.kind()), ("ACME", SenderKind::Alphanumeric));
    // Allowed and rewritten.
    assert_eq!(
        uk.apply_sender(Some("ACME Bank")).map(|s| s.to_string()),
        Ok("ACME".into())
    );
    // Allowed, not rewritten.
    assert_eq!(
        uk.apply_sender(Some("+447700900555"))
            .map(|s| s.to_string()),
        Ok("+447700900555".into())
    );
    assert_eq!(
        uk.apply_sender(Some("12345")).map(|s| s.kind()),
        Ok(SenderKind::ShortCode)
    );
    // Valid but not allowed.
    let err = uk.apply_sender(Some("Globex")).expect_err("not allowed");
    assert_eq!(
        err,
        SenderError::NotAllowed {
            sender: "Globex".into(),
            prefix: "+44".into()
        }
    );
    // Invalid: the address rule is named.
    let err = uk.apply_sender(Some("ACME\u{1F600}")).expect_err("emoji");
    assert!(matches!(err, SenderError::Invalid(_)));
    assert!(
        err.to_string()
            .contains("not in the GSM 7-bit default alphabet"),
        "{err}"
    );

    let fr = r
        .route(&parse_destination("+33612345678").expect("valid"))
        .expect("route");
    // No default sender and none given.
    assert_eq!(
        fr.apply_sender(None),
        Err(SenderError::Required {
            prefix: "+33".into()
        })
    );
    // No allow list: any valid sender.
    assert_eq!(
        fr.apply_sender(Some("Shop")).map(|s| s.to_string()),
        Ok("Shop".into())
    );
}

#[test]
fn default_config_routes_everything_to_the_simulator() {
    let config = Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/smsbridge.toml"
    ))
    .expect("default config");
    let r = Router::new(&config).expect("routes compile");
    for dest in ["+12025550100", "+447700900123", "+861012345678"] {
        let d = parse_destination(dest).expect("valid");
        let s = r.select(&d, &|_: &CarrierId| true, 0).expect("routed");
        assert_eq!(s.carrier.as_str(), "sim");
        assert_eq!(s.route.prefix(), "");
    }
}
