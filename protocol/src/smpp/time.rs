//! SMPP 3.4 §7.1.1 time format, the form of schedule_delivery_time and validity_period: 16 characters
//! `YYMMDDhhmmsstnnp`, either an absolute time (`p` is `+` or `-`: `nn` quarter hours ahead of or behind
//! UTC, §7.1.1.1) or a time relative to the SMSC's clock when it reads the PDU (`p` is `R`, §7.1.1.2).
//!
//! Sans-IO like the rest of the codec: no clock is read here. A caller that wants "now plus so long" builds a
//! [`RelativeTime`] from the duration, or an [`AbsoluteTime`] from a Unix time it read itself.
//!
//! An empty field (a lone NUL on the wire) is not a time: it asks for immediate delivery or the SMSC's
//! default validity; [`SmppTime::parse`] answers `None` for it.

use std::fmt;
use std::time::Duration;

use crate::civil::{civil_from_days, days_from_civil};

/// Characters of an SMPP time (the field is 17 octets with its NUL).
pub const TIME_LEN: usize = 16;

/// Seconds in a day.
const DAY: u64 = 86_400;

/// Why octets are not an SMPP time (§7.1.1). A link answers ESME_RINVEXPIRY for a bad validity_period and
/// ESME_RINVSCHED for a bad schedule_delivery_time; which field it was is the caller's to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not 16 characters (and not empty).
    #[error("an SMPP time has 16 characters, got {len}")]
    Length {
        /// Octets given.
        len: usize,
    },
    /// One of the first 15 characters is not a decimal digit.
    #[error("expected a digit at offset {offset}, got {found:#04x}")]
    NotDigit {
        /// Offset in the time, 0 to 14.
        offset: usize,
        /// The octet found.
        found: u8,
    },
    /// The 16th character is not `+`, `-` or `R`.
    #[error("expected '+', '-' or 'R' at offset 15, got {found:#04x}")]
    Indicator {
        /// The octet found.
        found: u8,
    },
    /// A field of an absolute time outside its range (month 13, day 31 in April, hour 24, offset 49, ...).
    #[error("{field} {value} is outside {min}..={max}")]
    OutOfRange {
        /// The field: `month`, `day`, `hour`, `minute`, `second` or `utc_offset`.
        field: &'static str,
        /// Its value.
        value: u8,
        /// Its smallest value.
        min: u8,
        /// Its largest value.
        max: u8,
    },
}

/// An SMPP time, absolute or relative (§7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// `p` is `+` or `-` (§7.1.1.1).
    Absolute(AbsoluteTime),
    /// `p` is `R` (§7.1.1.2).
    Relative(RelativeTime),
}

/// An absolute time, §7.1.1.1: a local time and its offset from UTC.
///
/// SMPP carries two digits of the year; they are read as 2000 to 2099.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsoluteTime {
    /// `YY`, 0 to 99: the year 2000 + `year`.
    pub year: u8,
    /// `MM`, 1 to 12.
    pub month: u8,
    /// `DD`, 1 to the days of the month.
    pub day: u8,
    /// `hh`, 0 to 23.
    pub hour: u8,
    /// `mm`, 0 to 59.
    pub minute: u8,
    /// `ss`, 0 to 59.
    pub second: u8,
    /// `t`, tenths of a second, 0 to 9.
    pub tenths: u8,
    /// `nn` with the sign of `p`: quarter hours the local time is ahead of UTC, -48 to 48.
    pub utc_offset_quarters: i8,
}

/// A relative time, §7.1.1.2: how long after the SMSC reads the PDU (`t` and `nn` are written `0` and
/// `00` and ignored when read).
///
/// Years and months are calendar units whose length the SMSC decides; a time built by
/// [`RelativeTime::from_duration`] uses days and smaller units only, so every SMSC reads the same length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    /// `YY`, 0 to 99.
    pub years: u8,
    /// `MM`, 0 to 99.
    pub months: u8,
    /// `DD`, 0 to 99.
    pub days: u8,
    /// `hh`, 0 to 99.
    pub hours: u8,
    /// `mm`, 0 to 99.
    pub minutes: u8,
    /// `ss`, 0 to 99.
    pub seconds: u8,
}

/// Two ASCII digits of `v` (values above 99 are written 99: the format has two digits).
fn put2(out: &mut [u8; TIME_LEN], at: usize, v: u8) {
    let v = v.min(99);
    if let Some(pair) = out.get_mut(at..at + 2) {
        pair.copy_from_slice(&[b'0' + v / 10, b'0' + v % 10]);
    }
}

/// Days of `month` (1-12) in the year 2000 + `year` (every fourth year is a leap year in 2000-2099).
fn days_in_month(year: u8, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl AbsoluteTime {
    /// The UTC time (`nn` 00, `p` `+`) `unix_ms` milliseconds after 1970-01-01T00:00:00Z, to the tenth of
    /// a second below; `None` outside the years SMPP can write (2000 to 2099).
    pub fn from_unix_ms(unix_ms: i64) -> Option<Self> {
        let secs = unix_ms.div_euclid(1_000);
        let tenths = (unix_ms.rem_euclid(1_000) / 100) as u8;
        let days = secs.div_euclid(DAY as i64);
        let of_day = secs.rem_euclid(DAY as i64);
        let (year, month, day) = civil_from_days(days);
        let year = u8::try_from(year.checked_sub(2000)?)
            .ok()
            .filter(|y| *y <= 99)?;
        Some(AbsoluteTime {
            year,
            month,
            day,
            hour: (of_day / 3_600) as u8,
            minute: (of_day % 3_600 / 60) as u8,
            second: (of_day % 60) as u8,
            tenths,
            utc_offset_quarters: 0,
        })
    }

    /// Milliseconds since 1970-01-01T00:00:00Z (the offset taken off, tenths included).
    pub fn unix_ms(&self) -> i64 {
        let days = days_from_civil(
            2000 + i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let local = days * DAY as i64
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        let utc = local - i64::from(self.utc_offset_quarters) * 15 * 60;
        utc * 1_000 + i64::from(self.tenths) * 100
    }

    /// Checks every field's range (what [`SmppTime::parse`] checks).
    pub fn validate(&self) -> Result<(), TimeError> {
        let check = |field, value: u8, min, max| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(TimeError::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                })
            }
        };
        check("year", self.year, 0, 99)?;
        check("month", self.month, 1, 12)?;
        check("day", self.day, 1, days_in_month(self.year, self.month))?;
        check("hour", self.hour, 0, 23)?;
        check("minute", self.minute, 0, 59)?;
        check("second", self.second, 0, 59)?;
        check("tenths", self.tenths, 0, 9)?;
        check("utc_offset", self.utc_offset_quarters.unsigned_abs(), 0, 48)
    }
}

impl RelativeTime {
    /// The longest time [`RelativeTime::from_duration`] writes: 99 days 23:59:59.
    pub const MAX_EXACT: Duration = Duration::from_secs(99 * DAY + DAY - 1);

    /// `d` in days, hours, minutes and seconds (whole seconds, rounded down), at most
    /// [`RelativeTime::MAX_EXACT`]: years and months are left 0 because their length is the SMSC's choice.
    pub fn from_duration(d: Duration) -> Self {
        let secs = d.min(Self::MAX_EXACT).as_secs();
        // Each quotient below is at most 99 after the cap above.
        RelativeTime {
            years: 0,
            months: 0,
            days: (secs / DAY) as u8,
            hours: (secs % DAY / 3_600) as u8,
            minutes: (secs % 3_600 / 60) as u8,
            seconds: (secs % 60) as u8,
        }
    }

    /// The duration when it does not depend on a calendar (years and months are 0); `None` otherwise.
    pub fn exact(&self) -> Option<Duration> {
        if self.years != 0 || self.months != 0 {
            return None;
        }
        Some(Duration::from_secs(
            u64::from(self.days) * DAY
                + u64::from(self.hours) * 3_600
                + u64::from(self.minutes) * 60
                + u64::from(self.seconds),
        ))
    }
}

impl SmppTime {
    /// Reads a time field's contents (without its NUL). Empty is `None`: no time given.
    pub fn parse(octets: &[u8]) -> Result<Option<Self>, TimeError> {
        if octets.is_empty() {
            return Ok(None);
        }
        let Ok(field) = <&[u8; TIME_LEN]>::try_from(octets) else {
            return Err(TimeError::Length { len: octets.len() });
        };
        let mut digits = [0u8; TIME_LEN - 1];
        for (offset, (d, &c)) in digits.iter_mut().zip(field.iter()).enumerate() {
            if !c.is_ascii_digit() {
                return Err(TimeError::NotDigit { offset, found: c });
            }
            *d = c - b'0';
        }
        let two = |at: usize| digits[at] * 10 + digits[at + 1];
        let [.., indicator] = *field;
        match indicator {
            b'R' => Ok(Some(SmppTime::Relative(RelativeTime {
                years: two(0),
                months: two(2),
                days: two(4),
                hours: two(6),
                minutes: two(8),
                seconds: two(10),
            }))),
            b'+' | b'-' => {
                let quarters = two(13);
                if quarters > 48 {
                    return Err(TimeError::OutOfRange {
                        field: "utc_offset",
                        value: quarters,
                        min: 0,
                        max: 48,
                    });
                }
                // quarters <= 48 fits an i8.
                let quarters = quarters as i8;
                let t = AbsoluteTime {
                    year: two(0),
                    month: two(2),
                    day: two(4),
                    hour: two(6),
                    minute: two(8),
                    second: two(10),
                    tenths: digits[12],
                    utc_offset_quarters: if indicator == b'-' {
                        -quarters
                    } else {
                        quarters
                    },
                };
                t.validate()?;
                Ok(Some(SmppTime::Absolute(t)))
            }
            found => Err(TimeError::Indicator { found }),
        }
    }

    /// The 16 characters (fields beyond two digits are written 99; see [`AbsoluteTime::validate`]). An
    /// absolute time in UTC is written with `+`, also when it was read as `00-`.
    pub fn to_bytes(&self) -> [u8; TIME_LEN] {
        let mut out = [b'0'; TIME_LEN];
        match self {
            SmppTime::Absolute(t) => {
                put2(&mut out, 0, t.year);
                put2(&mut out, 2, t.month);
                put2(&mut out, 4, t.day);
                put2(&mut out, 6, t.hour);
                put2(&mut out, 8, t.minute);
                put2(&mut out, 10, t.second);
                out[12] = b'0' + t.tenths.min(9);
                put2(&mut out, 13, t.utc_offset_quarters.unsigned_abs());
                out[15] = if t.utc_offset_quarters < 0 {
                    b'-'
                } else {
                    b'+'
                };
            }
            SmppTime::Relative(r) => {
                put2(&mut out, 0, r.years);
                put2(&mut out, 2, r.months);
                put2(&mut out, 4, r.days);
                put2(&mut out, 6, r.hours);
                put2(&mut out, 8, r.minutes);
                put2(&mut out, 10, r.seconds);
                out[15] = b'R';
            }
        }
        out
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // to_bytes writes ASCII only.
        f.write_str(std::str::from_utf8(&self.to_bytes()).unwrap_or_default())
    }
}

impl From<AbsoluteTime> for SmppTime {
    fn from(t: AbsoluteTime) -> Self {
        SmppTime::Absolute(t)
    }
}

impl From<RelativeTime> for SmppTime {
    fn from(t: RelativeTime) -> Self {
        SmppTime::Relative(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(years: u8, months: u8, days: u8, hours: u8, minutes: u8, seconds: u8) -> SmppTime {
        SmppTime::Relative(RelativeTime {
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        })
    }

    #[test]
    fn spec_examples_round_trip() {
        // §7.1.1.2: 2 years, 6 months, 10 days, 23:34:29 from now.
        let t = SmppTime::parse(b"020610233429000R").unwrap().unwrap();
        assert_eq!(t, rel(2, 6, 10, 23, 34, 29));
        assert_eq!(&t.to_bytes(), b"020610233429000R");
        // The decoder tests' validity_period: one day.
        let day = SmppTime::parse(b"000001000000000R").unwrap().unwrap();
        assert_eq!(day, rel(0, 0, 1, 0, 0, 0));
        // §7.1.1.1: 1 June 2026, 10:15:30.4, two hours (8 quarters) ahead of UTC.
        let abs = SmppTime::parse(b"260601101530408+").unwrap().unwrap();
        let SmppTime::Absolute(a) = abs else {
            panic!("{abs:?}")
        };
        assert_eq!((a.year, a.month, a.day), (26, 6, 1));
        assert_eq!((a.hour, a.minute, a.second, a.tenths), (10, 15, 30, 4));
        assert_eq!(a.utc_offset_quarters, 8);
        assert_eq!(abs.to_string(), "260601101530408+");
        // 2026-06-01T08:15:30.4Z.
        assert_eq!(a.unix_ms(), 1_780_301_730_400);
        let behind = SmppTime::parse(b"261231235959944-").unwrap().unwrap();
        assert_eq!(behind.to_string(), "261231235959944-");
        // UTC is UTC: "00-" reads like "00+" and is written "00+".
        let utc = SmppTime::parse(b"260101000000000-").unwrap().unwrap();
        assert_eq!(utc.to_string(), "260101000000000+");
        assert_eq!(SmppTime::parse(b"").unwrap(), None);
    }

    #[test]
    fn relative_from_duration_uses_days_and_rounds_down() {
        let cases: &[(u64, u64, &[u8; 16])] = &[
            (0, 0, b"000000000000000R"),
            (1_999, 1, b"000000000001000R"),
            (600_000, 600, b"000000001000000R"),
            (86_399_999, 86_399, b"000000235959000R"),
            (86_400_000, 86_400, b"000001000000000R"),
            (
                (30 * DAY + 3_600 + 61) * 1_000 + 500,
                30 * DAY + 3_661,
                b"000030010101000R",
            ),
            (
                99 * DAY * 1_000 + DAY * 1_000 - 1,
                99 * DAY + DAY - 1,
                b"000099235959000R",
            ),
            // Capped: 100 days and more are 99 days 23:59:59.
            (100 * DAY * 1_000, 99 * DAY + DAY - 1, b"000099235959000R"),
            (u64::MAX, 99 * DAY + DAY - 1, b"000099235959000R"),
        ];
        for &(ms, secs, text) in cases {
            let r = RelativeTime::from_duration(Duration::from_millis(ms));
            assert_eq!(&SmppTime::from(r).to_bytes(), text, "{ms} ms");
            assert_eq!(r.exact(), Some(Duration::from_secs(secs)), "{ms} ms");
            assert_eq!(
                SmppTime::parse(text).unwrap(),
                Some(SmppTime::Relative(r)),
                "{ms} ms"
            );
        }
        assert_eq!(
            RelativeTime {
                months: 1,
                ..RelativeTime::default()
            }
            .exact(),
            None
        );
    }

    #[test]
    fn absolute_from_unix_and_back() {
        for ms in [
            946_684_800_000_i64, // 2000-01-01T00:00:00Z
            951_782_400_000,     // 2000-02-29 (leap)
            1_780_301_730_400,   // 2026-06-01T08:15:30.4Z
            4_102_444_799_900,   // 2099-12-31T23:59:59.9Z
        ] {
            let t = AbsoluteTime::from_unix_ms(ms).unwrap();
            t.validate().unwrap();
            assert_eq!(t.unix_ms(), ms);
            let parsed = SmppTime::parse(&SmppTime::from(t).to_bytes()).unwrap();
            assert_eq!(parsed, Some(SmppTime::Absolute(t)));
        }
        let t = AbsoluteTime::from_unix_ms(1_780_301_730_499).unwrap();
        assert_eq!(SmppTime::from(t).to_string(), "260601081530400+");
        assert_eq!(AbsoluteTime::from_unix_ms(946_684_799_999), None); // 1999
        assert_eq!(AbsoluteTime::from_unix_ms(4_102_444_800_000), None); // 2100
        assert_eq!(AbsoluteTime::from_unix_ms(i64::MIN), None);
        assert_eq!(AbsoluteTime::from_unix_ms(i64::MAX), None);
    }

    #[test]
    fn bad_times_are_refused_with_what_and_where() {
        let cases: &[(&[u8], TimeError)] = &[
            (b"0", TimeError::Length { len: 1 }),
            (b"000001000000000R0", TimeError::Length { len: 17 }),
            (
                b"00000100000000 R",
                TimeError::NotDigit {
                    offset: 14,
                    found: b' ',
                },
            ),
            (b"000001000000000Z", TimeError::Indicator { found: b'Z' }),
            (
                b"261301000000000+",
                TimeError::OutOfRange {
                    field: "month",
                    value: 13,
                    min: 1,
                    max: 12,
                },
            ),
            (
                b"250229000000000+",
                TimeError::OutOfRange {
                    field: "day",
                    value: 29,
                    min: 1,
                    max: 28,
                },
            ),
            (
                b"260431000000000+",
                TimeError::OutOfRange {
                    field: "day",
                    value: 31,
                    min: 1,
                    max: 30,
                },
            ),
            (
                b"260101240000000+",
                TimeError::OutOfRange {
                    field: "hour",
                    value: 24,
                    min: 0,
                    max: 23,
                },
            ),
            (
                b"260101006000000-",
                TimeError::OutOfRange {
                    field: "minute",
                    value: 60,
                    min: 0,
                    max: 59,
                },
            ),
            (
                b"260101000000049+",
                TimeError::OutOfRange {
                    field: "utc_offset",
                    value: 49,
                    min: 0,
                    max: 48,
                },
            ),
        ];
        for (octets, want) in cases {
            assert_eq!(
                SmppTime::parse(octets),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(octets)
            );
        }
        // A leap day is a day; relative fields take any two digits.
        assert!(SmppTime::parse(b"280229000000000+").unwrap().is_some());
        assert!(SmppTime::parse(b"999999999999999R").unwrap().is_some());
    }
}
