//! The field rules of the API's requests.
//!
//! Each rule failure is a [`FieldError`] that names the field (with its path inside a batch), states the rule
//! and quotes the value received, so a person reading the INVALID_ARGUMENT status can fix the request
//! without reading the .proto. Rules that depend on the config (does the carrier exist, is there a route)
//! are checked later by the service, not here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::pb;
use crate::model::Priority;
use crate::router::{self, AddressError};

/// Text bodies: at most this many characters (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Binary bodies: at most this many octets (255 segments of 140 octets).
pub const MAX_BINARY_OCTETS: usize = 35_700;
/// Idempotency keys: at most this many characters.
pub const MAX_CLIENT_REF_CHARS: usize = 128;
/// Validity when neither the request nor the config gives one.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(2 * 24 * 3600);
/// The shortest validity accepted.
pub const MIN_VALIDITY: Duration = Duration::from_secs(1);
/// The longest validity accepted (the longest `api.default_validity` the config allows).
pub const MAX_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);
/// Tags: at most this many entries.
pub const MAX_TAGS: usize = 32;
/// Tag keys: 1 to this many characters.
pub const MAX_TAG_KEY_CHARS: usize = 64;
/// Tag values: at most this many characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// SubmitBatch: at most this many messages unless the config says otherwise.
pub const MAX_BATCH: usize = 1_000;

/// What a request gets for the fields it leaves out, and the batch limit (from the config's `[api]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitDefaults {
    pub validity: Duration,
    pub priority: Priority,
    pub max_batch: usize,
}

impl Default for SubmitDefaults {
    fn default() -> Self {
        SubmitDefaults {
            validity: DEFAULT_VALIDITY,
            priority: Priority::Normal,
            max_batch: MAX_BATCH,
        }
    }
}

/// A request field that breaks a rule: `<field>: <rule>, got <value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `to`, `binary.data_coding`, `messages[3].from`, `tags["k"]`.
    pub field: String,
    /// The rule, e.g. `must be E.164: '+' then 8 to 15 digits`.
    pub rule: String,
    /// The offending value as quoted in the message (`None` when quoting it says nothing, e.g. a missing
    /// field).
    pub got: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>, got: Option<String>) -> Self {
        FieldError {
            field: field.into(),
            rule: rule.into(),
            got,
        }
    }

    /// The same error for a field inside a container, e.g. `messages[3]`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)?;
        if let Some(got) = &self.got {
            write!(f, ", got {got}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

impl From<FieldError> for tonic::Status {
    fn from(err: FieldError) -> Self {
        tonic::Status::invalid_argument(err.to_string())
    }
}

/// A string value quoted for an error message: Rust debug quoting (escapes control characters), cut to 64
/// characters so a huge value does not flood the message.
pub fn quote(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}... ({} characters)", value.chars().count())
    }
}

/// What a message says, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidBody {
    Text(String),
    Binary { data: Vec<u8>, data_coding: u8 },
}

/// A Submit request that passed every field rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSubmit {
    pub to: String,
    /// `None`: the carrier's default sender.
    pub from: Option<String>,
    pub body: ValidBody,
    pub client_ref: Option<String>,
    pub validity: Duration,
    pub priority: Priority,
    pub want_receipt: bool,
    pub carrier: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Checks every field of a Submit request; the first broken rule is returned.
pub fn submit(
    req: pb::SubmitRequest,
    defaults: &SubmitDefaults,
) -> Result<ValidSubmit, FieldError> {
    check_e164("to", &req.to)?;
    let from = if req.from.is_empty() {
        None
    } else {
        check_sender("from", &req.from)?;
        Some(req.from)
    };
    let body = match req.body {
        None => {
            return Err(FieldError::new(
                "body",
                "one of `text` or `binary` is required",
                None,
            ));
        }
        Some(pb::submit_request::Body::Text(text)) => {
            let chars = text.chars().count();
            if chars == 0 {
                return Err(FieldError::new("text", "must not be empty", None));
            }
            if chars > MAX_TEXT_CHARS {
                return Err(FieldError::new(
                    "text",
                    format!("must be at most {MAX_TEXT_CHARS} characters"),
                    Some(format!("{chars} characters")),
                ));
            }
            ValidBody::Text(text)
        }
        Some(pb::submit_request::Body::Binary(bin)) => {
            if bin.data.is_empty() {
                return Err(FieldError::new("binary.data", "must not be empty", None));
            }
            if bin.data.len() > MAX_BINARY_OCTETS {
                return Err(FieldError::new(
                    "binary.data",
                    format!("must be at most {MAX_BINARY_OCTETS} octets"),
                    Some(format!("{} octets", bin.data.len())),
                ));
            }
            let data_coding = u8::try_from(bin.data_coding).map_err(|_| {
                FieldError::new(
                    "binary.data_coding",
                    "must be an octet, 0 to 255",
                    Some(bin.data_coding.to_string()),
                )
            })?;
            ValidBody::Binary {
                data: bin.data,
                data_coding,
            }
        }
    };
    let client_ref = if req.client_ref.is_empty() {
        None
    } else {
        let ok = req.client_ref.len() <= MAX_CLIENT_REF_CHARS
            && req.client_ref.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if !ok {
            return Err(FieldError::new(
                "client_ref",
                format!("must be 1 to {MAX_CLIENT_REF_CHARS} printable ASCII characters"),
                Some(quote(&req.client_ref)),
            ));
        }
        Some(req.client_ref)
    };
    let validity = match req.validity {
        None => defaults.validity,
        Some(d) => check_validity(&d)?,
    };
    let priority = match pb::Priority::try_from(req.priority) {
        Ok(pb::Priority::Unspecified) => defaults.priority,
        Ok(pb::Priority::Normal) => Priority::Normal,
        Ok(pb::Priority::Bulk) => Priority::Bulk,
        Ok(pb::Priority::High) => Priority::High,
        Ok(pb::Priority::Urgent) => Priority::Urgent,
        Err(_) => {
            return Err(FieldError::new(
                "priority",
                "must be a Priority value, 0 to 4",
                Some(req.priority.to_string()),
            ));
        }
    };
    let carrier = match req.carrier {
        Some(c) if c.trim().is_empty() => {
            return Err(FieldError::new(
                "carrier",
                "must name a carrier when set",
                Some(quote(&c)),
            ));
        }
        other => other,
    };
    check_tags(&req.tags)?;
    Ok(ValidSubmit {
        to: req.to,
        from,
        body,
        client_ref,
        validity,
        priority,
        want_receipt: req.want_receipt,
        carrier,
        tags: req.tags,
    })
}

/// E.164: `+`, then 8 to 15 digits, the first not 0 (the router's rule, [`router::parse_destination`]).
pub fn check_e164(field: &str, value: &str) -> Result<(), FieldError> {
    router::parse_destination(value)
        .map(|_| ())
        .map_err(|e| address_error(field, value, e))
}

/// A sender (the router's rule, [`router::parse_sender`]): an E.164 number, a short code of 3 to 8 digits,
/// or an alphanumeric sender of at most 11 GSM 7-bit characters.
pub fn check_sender(field: &str, value: &str) -> Result<(), FieldError> {
    router::parse_sender(value)
        .map(|_| ())
        .map_err(|e| address_error(field, value, e))
}

/// The router's address error in the API's words: field, rule, value.
fn address_error(field: &str, value: &str, err: AddressError) -> FieldError {
    const E164: &str = "must be E.164: '+' then 8 to 15 digits";
    let got = Some(quote(value));
    match err {
        AddressError::Empty { .. }
        | AddressError::MissingPlus { .. }
        | AddressError::NotDigits { .. }
        | AddressError::Length { .. } => FieldError::new(field, E164, got),
        AddressError::LeadingZero { .. } => FieldError::new(
            field,
            "must be E.164: the country code does not start with 0",
            got,
        ),
        AddressError::ShortCodeLength { .. } => FieldError::new(
            field,
            "a numeric sender is a short code of 3 to 8 digits (longer numbers need '+' and the country code)",
            got,
        ),
        AddressError::AlphanumericTooLong { septets, .. } => FieldError::new(
            field,
            "an alphanumeric sender must be at most 11 GSM 7-bit characters",
            Some(format!("{} ({septets} characters)", quote(value))),
        ),
        AddressError::NotGsm { ch, .. } => FieldError::new(
            field,
            "an alphanumeric sender may use only the GSM 7-bit default alphabet",
            Some(format!("{} (contains {ch:?})", quote(value))),
        ),
        other => FieldError::new(field, other.to_string(), got),
    }
}

fn check_validity(d: &prost_types::Duration) -> Result<Duration, FieldError> {
    let shown = format!("{}s {}ns", d.seconds, d.nanos);
    let rule = format!(
        "must be between {}s and {}s (30 days)",
        MIN_VALIDITY.as_secs(),
        MAX_VALIDITY.as_secs()
    );
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(FieldError::new("validity", rule, Some(shown)));
    }
    let secs = u64::try_from(d.seconds).map_err(|_| FieldError::new("validity", &rule, None))?;
    let nanos = u32::try_from(d.nanos).map_err(|_| FieldError::new("validity", &rule, None))?;
    let value = Duration::new(secs, nanos);
    if value < MIN_VALIDITY || value > MAX_VALIDITY {
        return Err(FieldError::new("validity", rule, Some(shown)));
    }
    Ok(value)
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new(
            "tags",
            format!("must have at most {MAX_TAGS} entries"),
            Some(format!("{} entries", tags.len())),
        ));
    }
    for (key, value) in tags {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            return Err(FieldError::new(
                "tags",
                format!("keys must be 1 to {MAX_TAG_KEY_CHARS} characters"),
                Some(quote(key)),
            ));
        }
        let value_chars = value.chars().count();
        if value_chars > MAX_TAG_VALUE_CHARS {
            return Err(FieldError::new(
                format!("tags[{}]", quote(key)),
                format!("must be at most {MAX_TAG_VALUE_CHARS} characters"),
                Some(format!("{value_chars} characters")),
            ));
        }
    }
    Ok(())
}

/// A message id as printed by Submit: 16 lowercase hex digits.
pub fn check_message_id(field: &str, value: &str) -> Result<u64, FieldError> {
    let rule = "must be a message id: 16 hex digits";
    if value.len() != 16 {
        return Err(FieldError::new(field, rule, Some(quote(value))));
    }
    u64::from_str_radix(value, 16)
        .ok()
        .filter(|v| v >> 63 == 0)
        .ok_or_else(|| FieldError::new(field, rule, Some(quote(value))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> pb::SubmitRequest {
        pb::SubmitRequest {
            to: "+447700900123".into(),
            from: "Acme".into(),
            body: Some(pb::submit_request::Body::Text("hi".into())),
            ..Default::default()
        }
    }

    #[test]
    fn good_request_passes_with_defaults() {
        let defaults = SubmitDefaults {
            validity: Duration::from_secs(600),
            priority: Priority::Bulk,
            max_batch: 10,
        };
        let v = submit(base(), &defaults).expect("valid");
        assert_eq!(v.validity, Duration::from_secs(600));
        assert_eq!(v.priority, Priority::Bulk);
        assert_eq!(v.from.as_deref(), Some("Acme"));
        assert_eq!(v.client_ref, None);
    }

    #[test]
    fn e164_message_names_field_rule_and_value() {
        let err = check_e164("to", "12ab").expect_err("not E.164");
        assert_eq!(
            err.to_string(),
            "to: must be E.164: '+' then 8 to 15 digits, got \"12ab\""
        );
        for bad in [
            "",
            "+1234567",
            "+1234567890123456",
            "+4477009001x3",
            "+0447700900",
            "447700900123",
        ] {
            assert!(check_e164("to", bad).is_err(), "{bad}");
        }
        for good in ["+12345678", "+123456789012345"] {
            assert!(check_e164("to", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn senders() {
        for good in [
            "+447700900123",
            "12345",
            "Acme",
            "ACME Bank",
            "A.B-C_D&E'",
            "Shop€",
        ] {
            assert!(check_sender("from", good).is_ok(), "{good}");
        }
        for bad in [
            "12",
            "447700900123",
            "TwelveChars1",
            "Bad™",
            "+12",
            "Shop€€€€€€",
        ] {
            let err = check_sender("from", bad).expect_err(bad);
            assert!(err.to_string().starts_with("from: "), "{err}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
