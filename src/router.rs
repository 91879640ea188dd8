//! Routing on the submit path: checks destination and sender addresses, finds the route for a destination by
//! longest prefix (a digit trie), picks a healthy carrier from the route's failover list (weighted, with a
//! caller-supplied random number so it is deterministic in tests), and applies the route's sender rules.
//!
//! Addresses accepted:
//! - destination: E.164 written `+` then 8 to 15 digits, the first not `0`; no spaces or other characters.
//! - sender: an E.164 number (same rule), a short code of 3 to 8 digits without `+`, or an alphanumeric
//!   sender of at most 11 GSM 7-bit septets (TS 23.038 default alphabet; extension characters such as `€`
//!   take two) containing at least one non-digit, without control characters.

use std::fmt;

use crate::config::{CarrierId, Config, RouteConfig};

/// Why an address was refused; each message names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} must start with '+' and the country code (E.164)")]
    MissingPlus { what: &'static str, value: String },
    #[error("{what} {value:?} may contain only digits after '+' (E.164)")]
    NotDigits { what: &'static str, value: String },
    #[error("{what} {value:?} must have 8 to 15 digits after '+' (E.164), it has {digits}")]
    Length {
        what: &'static str,
        value: String,
        digits: usize,
    },
    #[error("{what} {value:?} cannot start with 0 after '+' (E.164 country codes do not)")]
    LeadingZero { what: &'static str, value: String },
    #[error(
        "sender {value:?} is all digits: a short code has 3 to 8 digits, a longer number needs '+' and the country code"
    )]
    ShortCodeLength { value: String },
    #[error(
        "alphanumeric sender {value:?} needs {septets} GSM 7-bit characters, at most 11 are allowed"
    )]
    AlphanumericTooLong { value: String, septets: usize },
    #[error(
        "alphanumeric sender {value:?} contains {ch:?}, which is not in the GSM 7-bit default alphabet"
    )]
    NotGsm { value: String, ch: char },
    #[error(
        "route prefix {value:?}: expected 1 to 15 digits, optionally after '+', not starting with 0; or \"*\" or \"\" for the default route"
    )]
    Prefix { value: String },
    #[error(
        "sender pattern {value:?}: expected 1 to 32 sender characters where '*' matches any run of characters"
    )]
    Pattern { value: String },
}

/// A destination in E.164 form, checked by [`parse_destination`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// With the `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Without the `+`.
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or("")
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_e164(what: &'static str, s: &str) -> Result<(), AddressError> {
    if s.is_empty() {
        return Err(AddressError::Empty { what });
    }
    let Some(digits) = s.strip_prefix('+') else {
        return Err(AddressError::MissingPlus {
            what,
            value: s.to_owned(),
        });
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::NotDigits {
            what,
            value: s.to_owned(),
        });
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(AddressError::Length {
            what,
            value: s.to_owned(),
            digits: digits.len(),
        });
    }
    if digits.starts_with('0') {
        return Err(AddressError::LeadingZero {
            what,
            value: s.to_owned(),
        });
    }
    Ok(())
}

/// Checks a destination number (see the module doc for the rule).
pub fn parse_destination(s: &str) -> Result<E164, AddressError> {
    check_e164("destination", s)?;
    Ok(E164(s.to_owned()))
}

/// What kind of originator a sender is; links map it to TON/NPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenderKind {
    /// `+` and an E.164 number.
    International,
    /// 3 to 8 digits.
    ShortCode,
    /// Letters and digits, at most 11 GSM septets.
    Alphanumeric,
}

/// A checked sender address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sender {
    kind: SenderKind,
    text: String,
}

impl Sender {
    pub fn kind(&self) -> SenderKind {
        self.kind
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Septets a character takes in the GSM 7-bit default alphabet (TS 23.038 §6.2.1): 1 for the basic table,
/// 2 for the extension table (escape + character), none if it is not representable. Control characters
/// (LF, CR, form feed) are representable in messages but are refused in senders, so they are left out.
fn gsm_septets(c: char) -> Option<usize> {
    const BASIC: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "^{}\\[~]|€";
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Checks a sender address (see the module doc for the rules).
pub fn parse_sender(s: &str) -> Result<Sender, AddressError> {
    if s.is_empty() {
        return Err(AddressError::Empty { what: "sender" });
    }
    if s.starts_with('+') {
        check_e164("sender", s)?;
        return Ok(Sender {
            kind: SenderKind::International,
            text: s.to_owned(),
        });
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        if !(3..=8).contains(&s.len()) {
            return Err(AddressError::ShortCodeLength {
                value: s.to_owned(),
            });
        }
        return Ok(Sender {
            kind: SenderKind::ShortCode,
            text: s.to_owned(),
        });
    }
    let mut septets = 0;
    for ch in s.chars() {
        septets += gsm_septets(ch).ok_or_else(|| AddressError::NotGsm {
            value: s.to_owned(),
            ch,
        })?;
    }
    if septets > 11 {
        return Err(AddressError::AlphanumericTooLong {
            value: s.to_owned(),
            septets,
        });
    }
    Ok(Sender {
        kind: SenderKind::Alphanumeric,
        text: s.to_owned(),
    })
}

/// The digits of a route prefix (`"+44"` and `"44"` give `"44"`); `""` for the default route (`""`, `"*"`).
pub fn parse_prefix(s: &str) -> Result<String, AddressError> {
    if s.is_empty() || s == "*" {
        return Ok(String::new());
    }
    let digits = s.strip_prefix('+').unwrap_or(s);
    let ok = (1..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(digits.to_owned())
    } else {
        Err(AddressError::Prefix {
            value: s.to_owned(),
        })
    }
}

/// A sender pattern: `*` matches any run of characters (also none); everything else matches itself,
/// case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderPattern {
    chars: Vec<char>,
}

impl SenderPattern {
    pub fn new(pattern: &str) -> Result<Self, AddressError> {
        let chars: Vec<char> = pattern.chars().collect();
        let ok = (1..=32).contains(&chars.len())
            && chars.iter().all(|c| *c == '*' || gsm_septets(*c).is_some());
        if ok {
            Ok(Self { chars })
        } else {
            Err(AddressError::Pattern {
                value: pattern.to_owned(),
            })
        }
    }

    /// Whether `sender` matches; linear-time glob matching with one backtrack point.
    pub fn matches(&self, sender: &str) -> bool {
        let text: Vec<char> = sender.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.chars.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(c) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.chars
            .get(p..)
            .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
    }
}

/// Whether a carrier can take traffic now; the dispatcher supplies it (link states, circuit breakers).
pub trait CarrierHealth {
    fn is_healthy(&self, carrier: &CarrierId) -> bool;
}

impl<F: Fn(&CarrierId) -> bool> CarrierHealth for F {
    fn is_healthy(&self, carrier: &CarrierId) -> bool {
        self(carrier)
    }
}

/// Why no carrier was chosen; the API answers FAILED_PRECONDITION with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no route for {destination}: no route prefix matches it and there is no default route")]
    NoRoute { destination: String },
    #[error("no healthy carrier for {destination}: route {prefix:?} lists {} and none is available", list(.carriers))]
    NoHealthyCarrier {
        destination: String,
        prefix: String,
        carriers: Vec<CarrierId>,
    },
}

fn list(ids: &[CarrierId]) -> String {
    ids.iter()
        .map(CarrierId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a route's sender rules refused a message; the API answers INVALID_ARGUMENT (or PERMISSION_DENIED for
/// `NotAllowed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderError {
    #[error("the message has no sender and route {prefix:?} has no default_sender")]
    Required { prefix: String },
    #[error(transparent)]
    Invalid(#[from] AddressError),
    #[error("sender {sender:?} is not among the allowed senders of route {prefix:?}")]
    NotAllowed { sender: String, prefix: String },
}

/// A route definition the router could not use (config validation reports these first, by key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("routes[{route}].prefix: {source}")]
    Prefix { route: usize, source: AddressError },
    #[error("routes[{route}].prefix: {prefix:?} is the prefix of another route too")]
    DuplicatePrefix { route: usize, prefix: String },
    #[error("routes[{route}].carriers: {carrier:?} is not a configured carrier")]
    UnknownCarrier { route: usize, carrier: String },
    #[error(
        "routes[{route}].carriers: expected 1 to {MAX_CARRIERS_PER_ROUTE} carriers, got {count}"
    )]
    CarrierCount { route: usize, count: usize },
    #[error("routes[{route}].weights: expected one weight per carrier, at least one above 0")]
    Weights { route: usize },
    #[error("routes[{route}]: sender rule: {source}")]
    Sender { route: usize, source: AddressError },
}

/// Most carriers one route may list (health is tracked in a 64-bit mask on the submit path).
pub const MAX_CARRIERS_PER_ROUTE: usize = 64;

/// One compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    prefix: String,
    carriers: Vec<CarrierId>,
    weights: Option<Vec<u32>>,
    allowed_senders: Vec<SenderPattern>,
    default_sender: Option<Sender>,
    rewrites: Vec<(SenderPattern, Sender)>,
}

impl Route {
    fn compile(index: usize, rc: &RouteConfig, config: &Config) -> Result<Route, BuildError> {
        let prefix = parse_prefix(&rc.prefix).map_err(|source| BuildError::Prefix {
            route: index,
            source,
        })?;
        if rc.carriers.is_empty() || rc.carriers.len() > MAX_CARRIERS_PER_ROUTE {
            return Err(BuildError::CarrierCount {
                route: index,
                count: rc.carriers.len(),
            });
        }
        if let Some(unknown) = rc.carriers.iter().find(|id| config.carrier(id).is_none()) {
            return Err(BuildError::UnknownCarrier {
                route: index,
                carrier: unknown.to_string(),
            });
        }
        if let Some(w) = &rc.weights {
            if w.len() != rc.carriers.len() || w.iter().all(|w| *w == 0) {
                return Err(BuildError::Weights { route: index });
            }
        }
        let sender_err = |source| BuildError::Sender {
            route: index,
            source,
        };
        let allowed_senders = rc
            .allowed_senders
            .iter()
            .map(|p| SenderPattern::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sender_err)?;
        let default_sender = rc
            .default_sender
            .as_deref()
            .map(parse_sender)
            .transpose()
            .map_err(sender_err)?;
        let rewrites = rc
            .rewrite_sender
            .iter()
            .map(|r| Ok((SenderPattern::new(&r.from)?, parse_sender(&r.to)?)))
            .collect::<Result<Vec<_>, AddressError>>()
            .map_err(sender_err)?;
        Ok(Route {
            prefix,
            carriers: rc.carriers.clone(),
            weights: rc.weights.clone(),
            allowed_senders,
            default_sender,
            rewrites,
        })
    }

    /// The prefix digits (`""` for the default route).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The carriers in failover order.
    pub fn carriers(&self) -> &[CarrierId] {
        &self.carriers
    }

    /// The weights, when the route has them.
    pub fn weights(&self) -> Option<&[u32]> {
        self.weights.as_deref()
    }

    /// Picks a carrier: with weights, one of the healthy carriers of weight > 0, chosen in proportion to the
    /// weights using `random` (any `u64`; the same value gives the same choice); without weights, or when none
    /// of those is healthy, the first healthy carrier in list order (weight-0 carriers are the failover tier).
    pub fn pick(&self, health: &(impl CarrierHealth + ?Sized), random: u64) -> Option<&CarrierId> {
        let mut healthy: u64 = 0;
        for (i, id) in self.carriers.iter().enumerate() {
            if health.is_healthy(id) {
                healthy |= 1 << i;
            }
        }
        if healthy == 0 {
            return None;
        }
        if let Some(weights) = &self.weights {
            let up = |i: usize| healthy & (1 << i) != 0;
            let total: u64 = weights
                .iter()
                .enumerate()
                .filter(|(i, _)| up(*i))
                .map(|(_, w)| u64::from(*w))
                .sum();
            if total > 0 {
                let mut target = random % total;
                for (i, w) in weights.iter().enumerate() {
                    if !up(i) {
                        continue;
                    }
                    let w = u64::from(*w);
                    if target < w {
                        return self.carriers.get(i);
                    }
                    target -= w;
                }
            }
            // No weighted carrier is up: the weight-0 carriers, in order.
            return self
                .carriers
                .iter()
                .enumerate()
                .find(|(i, _)| up(*i) && weights.get(*i) == Some(&0))
                .map(|(_, id)| id);
        }
        self.carriers.get(healthy.trailing_zeros() as usize)
    }

    /// Applies the sender rules: a missing sender takes `default_sender`; the sender must be valid and, when
    /// `allowed_senders` is set, match one of its patterns; then the first `rewrite_sender` rule whose `from`
    /// matches replaces it.
    pub fn apply_sender(&self, sender: Option<&str>) -> Result<Sender, SenderError> {
        let sender = match sender.filter(|s| !s.is_empty()) {
            Some(s) => parse_sender(s)?,
            None => self
                .default_sender
                .clone()
                .ok_or_else(|| SenderError::Required {
                    prefix: self.display_prefix(),
                })?,
        };
        if !self.allowed_senders.is_empty()
            && !self
                .allowed_senders
                .iter()
                .any(|p| p.matches(sender.as_str()))
        {
            return Err(SenderError::NotAllowed {
                sender: sender.text,
                prefix: self.display_prefix(),
            });
        }
        Ok(self
            .rewrites
            .iter()
            .find(|(from, _)| from.matches(sender.as_str()))
            .map(|(_, to)| to.clone())
            .unwrap_or(sender))
    }

    fn display_prefix(&self) -> String {
        if self.prefix.is_empty() {
            "*".to_owned()
        } else {
            format!("+{}", self.prefix)
        }
    }
}

const NONE: u32 = u32::MAX;

/// A trie node: a child per digit and the route ending here.
#[derive(Debug, Clone)]
struct Node {
    children: [u32; 10],
    route: u32,
}

impl Node {
    const EMPTY: Node = Node {
        children: [NONE; 10],
        route: NONE,
    };
}

/// The chosen carrier and the route that chose it.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'r> {
    pub carrier: &'r CarrierId,
    pub route: &'r Route,
}

/// Routes destinations to carriers. Build once from a validated config; lookups are a walk of at most 15
/// trie nodes.
#[derive(Debug, Clone)]
pub struct Router {
    nodes: Vec<Node>,
    routes: Vec<Route>,
}

impl Router {
    pub fn new(config: &Config) -> Result<Router, BuildError> {
        let mut router = Router {
            nodes: vec![Node::EMPTY],
            routes: Vec::with_capacity(config.routes.len()),
        };
        for (index, rc) in config.routes.iter().enumerate() {
            let route = Route::compile(index, rc, config)?;
            let mut node = 0usize;
            for d in route.prefix.bytes() {
                let digit = usize::from(d - b'0');
                let next = router.nodes[node].children[digit];
                node = if next == NONE {
                    let new = router.nodes.len();
                    router.nodes.push(Node::EMPTY);
                    router.nodes[node].children[digit] = new as u32;
                    new
                } else {
                    next as usize
                };
            }
            if router.nodes[node].route != NONE {
                return Err(BuildError::DuplicatePrefix {
                    route: index,
                    prefix: rc.prefix.clone(),
                });
            }
            router.nodes[node].route = router.routes.len() as u32;
            router.routes.push(route);
        }
        Ok(router)
    }

    /// All routes, in config order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route whose prefix is the longest one that starts `digits` (E.164 digits without `+`).
    pub fn route_for_digits(&self, digits: &str) -> Option<&Route> {
        let mut best = self.nodes.first().map_or(NONE, |n| n.route);
        let mut node = 0usize;
        for d in digits.bytes() {
            if !d.is_ascii_digit() {
                break;
            }
            let Some(next) = self
                .nodes
                .get(node)
                .map(|n| n.children[usize::from(d - b'0')])
            else {
                break;
            };
            if next == NONE {
                break;
            }
            node = next as usize;
            if let Some(r) = self.nodes.get(node).map(|n| n.route).filter(|r| *r != NONE) {
                best = r;
            }
        }
        self.routes.get(best as usize)
    }

    /// The route for a destination.
    pub fn route(&self, destination: &E164) -> Result<&Route, RouteError> {
        self.route_for_digits(destination.digits())
            .ok_or_else(|| RouteError::NoRoute {
                destination: destination.to_string(),
            })
    }

    /// Routes a destination and picks a carrier (see [`Route::pick`]).
    pub fn select(
        &self,
        destination: &E164,
        health: &(impl CarrierHealth + ?Sized),
        random: u64,
    ) -> Result<Selection<'_>, RouteError> {
        let route = self.route(destination)?;
        let carrier = route
            .pick(health, random)
            .ok_or_else(|| RouteError::NoHealthyCarrier {
                destination: destination.to_string(),
                prefix: route.display_prefix(),
                carriers: route.carriers.clone(),
            })?;
        Ok(Selection { carrier, route })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(
            parse_destination("+447700900123").map(|d| d.digits().to_owned()),
            Ok("447700900123".into())
        );
        assert!(parse_destination("+12345678").is_ok());
        assert!(parse_destination("+123456789012345").is_ok());
        let cases = [
            ("", "is empty"),
            ("447700900123", "must start with '+'"),
            ("+44 7700 900123", "only digits"),
            ("+1234567", "it has 7"),
            ("+1234567890123456", "it has 16"),
            ("+0447700900123", "cannot start with 0"),
        ];
        for (input, fragment) in cases {
            let err = parse_destination(input).expect_err(input).to_string();
            assert!(err.contains(fragment), "{input}: {err}");
        }
    }

    #[test]
    fn senders() {
        let ok = [
            ("+447700900123", SenderKind::International),
            ("123", SenderKind::ShortCode),
            ("12345678", SenderKind::ShortCode),
            ("ACME", SenderKind::Alphanumeric),
            ("Acme Bank 1", SenderKind::Alphanumeric),
            ("Café-Ñ", SenderKind::Alphanumeric),
            ("Shop€€€", SenderKind::Alphanumeric),
        ];
        for (s, kind) in ok {
            assert_eq!(parse_sender(s).map(|s| s.kind()), Ok(kind), "{s}");
        }
        let bad = [
            ("", "is empty"),
            ("12", "short code has 3 to 8 digits"),
            ("447700900123", "needs '+'"),
            ("ACME BANK LTD", "needs 13 GSM 7-bit characters"),
            ("Shop€€€€", "needs 12"),
            ("ACME\n", "not in the GSM 7-bit"),
            ("Ünïcode", "'ï'"),
            ("+44", "8 to 15 digits"),
        ];
        for (s, fragment) in bad {
            let err = parse_sender(s).expect_err(s).to_string();
            assert!(err.contains(fragment), "{s}: {err}");
        }
    }

    #[test]
    fn patterns() {
        let cases = [
            ("ACME", "ACME", true),
            ("ACME", "ACMEX", false),
            ("ACME*", "ACME Bank", true),
            ("+44*", "+447700900123", true),
            ("+44*", "+337700900123", false),
            ("*Bank", "ACME Bank", true),
            ("A*B*C", "AxxBxxC", true),
            ("A*B*C", "AxxBxx", false),
            ("*", "anything", true),
            ("a*", "A", false),
        ];
        for (p, s, want) in cases {
            let pat = SenderPattern::new(p).expect(p);
            assert_eq!(pat.matches(s), want, "{p} vs {s}");
        }
        assert!(SenderPattern::new("").is_err());
        assert!(SenderPattern::new("bad\u{7}").is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(parse_prefix("*"), Ok(String::new()));
        assert_eq!(parse_prefix(""), Ok(String::new()));
        assert_eq!(parse_prefix("+44"), Ok("44".into()));
        assert_eq!(parse_prefix("4477"), Ok("4477".into()));
        for bad in ["+", "44a", "044", "+1234567890123456", "**"] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
    }

    /// A deterministic stream of numbers for building test data (64-bit LCG).
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    #[test]
    fn many_routes_match_a_linear_scan() {
        let mut config = Config::from_str("", "test").expect("empty config with simulator loads");
        let sim = config.carriers[0].id.clone();
        let mut seed = 7u64;
        let mut prefixes = std::collections::BTreeSet::new();
        while prefixes.len() < 20_000 {
            let len = 1 + (lcg(&mut seed) % 7) as usize;
            let mut p = String::new();
            p.push(char::from(b'1' + (lcg(&mut seed) % 9) as u8));
            for _ in 1..len {
                p.push(char::from(b'0' + (lcg(&mut seed) % 10) as u8));
            }
            prefixes.insert(p);
        }
        config.routes = prefixes
            .iter()
            .map(|p| RouteConfig {
                prefix: format!("+{p}"),
                carriers: vec![sim.clone()],
                weights: None,
                allowed_senders: Vec::new(),
                default_sender: None,
                rewrite_sender: Vec::new(),
            })
            .collect();
        let router = Router::new(&config).expect("routes compile");
        let mut matched = 0;
        for _ in 0..20_000 {
            let mut digits = String::new();
            digits.push(char::from(b'1' + (lcg(&mut seed) % 9) as u8));
            for _ in 0..10 {
                digits.push(char::from(b'0' + (lcg(&mut seed) % 10) as u8));
            }
            // The reference answer: try every prefix length, longest first, in the set.
            let naive = (1..=digits.len())
                .rev()
                .find_map(|len| prefixes.get(&digits[..len]));
            let got = router.route_for_digits(&digits).map(|r| r.prefix());
            assert_eq!(got, naive.map(String::as_str), "{digits}");
            matched += usize::from(got.is_some());
        }
        // With 20,000 prefixes of up to 7 digits most numbers have a route; the test would be vacuous if none did.
        assert!(matched > 1_000, "only {matched} destinations matched");
    }
}
