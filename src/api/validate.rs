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

/// Text bodies: at most this many characters (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Binary bodies: at most this many octets (255 segments of 140 octets).
pub const MAX_BINARY_OCTETS: usize = 35_700;
/// Idempotency keys: at most this many characters.
pub const MAX_CLIENT_REF_CHARS: usize = 128;
/// Validity when the request has none.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(2 * 24 * 3600);
/// The shortest validity accepted.
pub const MIN_VALIDITY: Duration = Duration::from_secs(1);
/// The longest validity accepted.
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Tags: at most this many entries.
pub const MAX_TAGS: usize = 32;
/// Tag keys: 1 to this many characters.
pub const MAX_TAG_KEY_CHARS: usize = 64;
/// Tag values: at most this many characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// SubmitBatch: at most this many messages.
pub const MAX_BATCH: usize = 1_000;
/// Alphanumeric sender ids: at most this many characters (the TP-OA limit of 11 GSM characters).
pub const MAX_ALPHANUMERIC_SENDER: usize = 11;

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

/// Message priority, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidPriority {
    Bulk,
    Normal,
    High,
    Urgent,
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
    pub priority: ValidPriority,
    pub want_receipt: bool,
    pub carrier: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Checks every field of a Submit request; the first broken rule is returned.
pub fn submit(req: pb::SubmitRequest) -> Result<ValidSubmit, FieldError> {
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
        None => DEFAULT_VALIDITY,
        Some(d) => check_validity(&d)?,
    };
    let priority = match pb::Priority::try_from(req.priority) {
        Ok(pb::Priority::Unspecified | pb::Priority::Normal) => ValidPriority::Normal,
        Ok(pb::Priority::Bulk) => ValidPriority::Bulk,
        Ok(pb::Priority::High) => ValidPriority::High,
        Ok(pb::Priority::Urgent) => ValidPriority::Urgent,
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

/// E.164: `+`, then 8 to 15 digits, the first not 0.
pub fn check_e164(field: &str, value: &str) -> Result<(), FieldError> {
    const RULE: &str = "must be E.164: '+' then 8 to 15 digits";
    let digits = value
        .strip_prefix('+')
        .ok_or_else(|| FieldError::new(field, RULE, Some(quote(value))))?;
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, RULE, Some(quote(value))));
    }
    if digits.starts_with('0') {
        return Err(FieldError::new(
            field,
            "must be E.164: the country code does not start with 0",
            Some(quote(value)),
        ));
    }
    Ok(())
}

/// A sender: an E.164 number, a number of 3 to 15 digits (short codes have 3 to 8), or an alphanumeric id
/// of 1 to 11 characters (letters, digits, space, `.-_&'`) with at least one letter.
pub fn check_sender(field: &str, value: &str) -> Result<(), FieldError> {
    if value.starts_with('+') {
        return check_e164(field, value);
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        if !(3..=15).contains(&value.len()) {
            return Err(FieldError::new(
                field,
                "a numeric sender must have 3 to 15 digits (short codes 3 to 8)",
                Some(quote(value)),
            ));
        }
        return Ok(());
    }
    const RULE: &str = "an alphanumeric sender must be 1 to 11 characters of A-Z a-z 0-9 space . - _ & ' \
                        with at least one letter";
    let chars = value.chars().count();
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " .-_&'".contains(c));
    let has_letter = value.chars().any(|c| c.is_ascii_alphabetic());
    if chars > MAX_ALPHANUMERIC_SENDER || !allowed || !has_letter || value.trim() != value {
        return Err(FieldError::new(field, RULE, Some(quote(value))));
    }
    Ok(())
}

fn check_validity(d: &prost_types::Duration) -> Result<Duration, FieldError> {
    let shown = format!("{}s {}ns", d.seconds, d.nanos);
    let rule = format!(
        "must be between {}s and {}s (7 days)",
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
        let v = submit(base()).expect("valid");
        assert_eq!(v.validity, DEFAULT_VALIDITY);
        assert_eq!(v.priority, ValidPriority::Normal);
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
            "447700900123",
            "Acme",
            "ACME Bank",
            "A.B-C_D&E'",
            "12345678901a"[..11].as_ref(),
        ] {
            assert!(check_sender("from", good).is_ok(), "{good}");
        }
        for bad in [
            "12",
            "1234567890123456",
            "TwelveChars1",
            "Ümlaut",
            "123 456",
            " Acme",
            "+12",
        ] {
            let err = check_sender("from", bad).expect_err(bad);
            assert!(err.to_string().starts_with("from: "), "{err}");
        }
    }
}
