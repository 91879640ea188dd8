//! Durations in the config file, written like `"30s"`, `"500ms"`, `"2m"`, `"1h30m"`: a small parser with
//! errors that say what was expected, and the serde glue for `std::time::Duration` fields.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {value:?}: {reason}; expected a number and a unit (ms, s, m, h, d), e.g. \"500ms\", \"30s\", \"1h30m\""
)]
pub struct DurationError {
    pub value: String,
    pub reason: &'static str,
}

/// Parses `<number><unit>` groups (`"1h30m"`, `"1.5s"`, `"250ms"`); units are `ms`, `s`, `m`, `h`, `d`.
/// Whitespace is not allowed, a bare number is rejected (the unit is never guessed), and the total must fit
/// in a `Duration`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let fail = |reason| DurationError {
        value: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(fail("it is empty"));
    }
    if text.contains(char::is_whitespace) {
        return Err(fail("spaces are not allowed"));
    }
    let mut total_ns: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(num_len);
        if number.is_empty() {
            return Err(fail("a unit must follow a number"));
        }
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "" => return Err(fail("the unit is missing")),
            _ => return Err(fail("the unit is not one of ms, s, m, h, d")),
        };
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
            return Err(fail("the number is malformed"));
        }
        if frac.len() > 9 {
            return Err(fail("more than 9 decimal places"));
        }
        let whole: u128 = whole.parse().map_err(|_| fail("the number is too large"))?;
        let frac_value: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| fail("the number is malformed"))?
        };
        let frac_scale = 10u128.pow(frac.len() as u32);
        let part = whole
            .checked_mul(unit_ns)
            .and_then(|w| w.checked_add(frac_value * unit_ns / frac_scale))
            .ok_or_else(|| fail("it is too large"))?;
        total_ns = total_ns
            .checked_add(part)
            .ok_or_else(|| fail("it is too large"))?;
        rest = after;
    }
    let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| fail("it is too large"))?;
    // The remainder is below 1e9, so it fits in u32.
    let nanos = (total_ns % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Writes a duration the way the config file does (`"1h30m"`, `"250ms"`), for messages and docs.
pub struct Display(pub Duration);

impl fmt::Display for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return if self.0.is_zero() {
                f.write_str("0s")
            } else {
                write!(f, "{}ns", self.0.as_nanos())
            };
        }
        let mut rest = ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        if rest > 0 {
            write!(f, "{rest}ms")?;
        }
        Ok(())
    }
}

/// serde `deserialize_with` for `Duration` fields written as strings.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// serde `with` for `Option<Duration>` fields written as strings (absent: `None`, with `#[serde(default)]`).
pub(crate) mod option {
    use std::time::Duration;

    use serde::Deserializer;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5_400)),
            ("2d", Duration::from_secs(172_800)),
            ("1.5s", Duration::from_millis(1_500)),
            ("0s", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("", "it is empty"),
            ("30", "the unit is missing"),
            ("30 s", "spaces are not allowed"),
            ("5parsecs", "the unit is not one of ms, s, m, h, d"),
            ("s", "a unit must follow a number"),
            ("-1s", "a unit must follow a number"),
            ("1.s", "the number is malformed"),
            ("1.2.3s", "the number is malformed"),
            ("99999999999999999999999d", "it is too large"),
        ];
        for (text, reason) in cases {
            let err = parse_duration(text).expect_err(text);
            assert_eq!(err.reason, reason, "{text}");
            assert!(err.to_string().contains("expected a number and a unit"));
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["1h30m", "250ms", "2d", "45s", "1m1s1ms"] {
            let d = parse_duration(text).expect("valid");
            assert_eq!(Display(d).to_string(), text);
        }
    }
}
