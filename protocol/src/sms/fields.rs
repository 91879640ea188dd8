//! TPDU parameters with a meaning beyond their octets: TP-DCS (TS 23.038 §4), TP-PID (TS 23.040 §9.2.3.9), TP-ST
//! (§9.2.3.15), TP-SCTS / TP-DT (§9.2.3.11, §9.2.3.13) and TP-VP (§9.2.3.12).

use super::{DecodeError, EncodeError};

/// The character set of the user data, TS 23.038 §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet, packed (§6.2.1).
    Gsm7,
    /// 8-bit data.
    Eight,
    /// UCS-2 (UTF-16 in practice).
    Ucs2,
}

/// Message class, TS 23.038 §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Class 0: flash, shown and not stored.
    Class0,
    /// Class 1: ME specific.
    Class1,
    /// Class 2: SIM specific.
    Class2,
    /// Class 3: TE specific.
    Class3,
}

impl MessageClass {
    fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::Class0,
            1 => Self::Class1,
            2 => Self::Class2,
            _ => Self::Class3,
        }
    }

    /// The number 0-3.
    pub fn number(self) -> u8 {
        match self {
            Self::Class0 => 0,
            Self::Class1 => 1,
            Self::Class2 => 2,
            Self::Class3 => 3,
        }
    }
}

/// The kind of indication in a message waiting group, TS 23.038 §4 (bits 1-0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicationType {
    /// Voicemail message waiting.
    Voicemail,
    /// Fax message waiting.
    Fax,
    /// Electronic mail message waiting.
    Email,
    /// Other message waiting.
    Other,
}

/// The coding group a TP-DCS value belongs to, TS 23.038 §4, with every field decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DcsGroup {
    /// 00xx xxxx (general data coding) and 01xx xxxx (automatic deletion group).
    General {
        /// Bit 6: the message is marked for automatic deletion after reading.
        auto_delete: bool,
        /// Bit 5: compressed (TS 23.042).
        compressed: bool,
        /// Bits 3-2 (reserved value 11 is read as GSM 7-bit, §4).
        alphabet: Alphabet,
        /// Bits 1-0 when bit 4 is set.
        class: Option<MessageClass>,
    },
    /// 1000 xxxx - 1011 xxxx: reserved coding groups (read as GSM 7-bit, §4).
    Reserved,
    /// 1100 (discard message), 1101 (store, GSM 7-bit) and 1110 (store, UCS-2): message waiting indication.
    MessageWaiting {
        /// 1100: the message may be discarded.
        discard: bool,
        /// Bit 3: indication active.
        active: bool,
        /// Bits 1-0.
        indication: IndicationType,
        /// GSM 7-bit (1100, 1101) or UCS-2 (1110).
        alphabet: Alphabet,
    },
    /// 1111 xxxx: data coding / message class.
    DataCodingClass {
        /// Bit 2: GSM 7-bit (0) or 8-bit data (1).
        alphabet: Alphabet,
        /// Bits 1-0.
        class: MessageClass,
    },
}

/// TP-DCS, TS 23.040 §9.2.3.10 / TS 23.038 §4. The octet is kept as is (reserved bits included) so that encoding
/// gives back what was decoded; [`Dcs::group`] gives its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dcs(pub u8);

impl Dcs {
    /// GSM 7-bit default alphabet, no class (0x00).
    pub const GSM7: Dcs = Dcs(0x00);
    /// 8-bit data, no class (0x04).
    pub const EIGHT_BIT: Dcs = Dcs(0x04);
    /// UCS-2, no class (0x08).
    pub const UCS2: Dcs = Dcs(0x08);

    /// The general data coding value for an alphabet and an optional class.
    pub fn general(alphabet: Alphabet, class: Option<MessageClass>) -> Self {
        let a = match alphabet {
            Alphabet::Gsm7 => 0,
            Alphabet::Eight => 0x04,
            Alphabet::Ucs2 => 0x08,
        };
        let c = class.map_or(0, |c| 0x10 | c.number());
        Dcs(a | c)
    }

    /// The coding group and its fields.
    pub fn group(self) -> DcsGroup {
        let v = self.0;
        match v >> 4 {
            0x0..=0x7 => DcsGroup::General {
                auto_delete: v & 0x40 != 0,
                compressed: v & 0x20 != 0,
                alphabet: match (v >> 2) & 3 {
                    1 => Alphabet::Eight,
                    2 => Alphabet::Ucs2,
                    _ => Alphabet::Gsm7,
                },
                class: (v & 0x10 != 0).then(|| MessageClass::from_bits(v)),
            },
            0x8..=0xB => DcsGroup::Reserved,
            0xC..=0xE => DcsGroup::MessageWaiting {
                discard: v >> 4 == 0xC,
                active: v & 0x08 != 0,
                indication: match v & 3 {
                    0 => IndicationType::Voicemail,
                    1 => IndicationType::Fax,
                    2 => IndicationType::Email,
                    _ => IndicationType::Other,
                },
                alphabet: if v >> 4 == 0xE {
                    Alphabet::Ucs2
                } else {
                    Alphabet::Gsm7
                },
            },
            _ => DcsGroup::DataCodingClass {
                alphabet: if v & 0x04 != 0 {
                    Alphabet::Eight
                } else {
                    Alphabet::Gsm7
                },
                class: MessageClass::from_bits(v),
            },
        }
    }

    /// The alphabet the user data is in (reserved values read as GSM 7-bit, TS 23.038 §4).
    pub fn alphabet(self) -> Alphabet {
        match self.group() {
            DcsGroup::General { alphabet, .. }
            | DcsGroup::MessageWaiting { alphabet, .. }
            | DcsGroup::DataCodingClass { alphabet, .. } => alphabet,
            DcsGroup::Reserved => Alphabet::Gsm7,
        }
    }

    /// Whether TP-UDL counts septets (uncompressed GSM 7-bit) rather than octets, TS 23.040 §9.2.3.16.
    pub fn udl_in_septets(self) -> bool {
        !self.compressed() && self.alphabet() == Alphabet::Gsm7
    }

    /// Whether the user data is compressed (TS 23.042); compressed text is not decoded by this crate.
    pub fn compressed(self) -> bool {
        matches!(
            self.group(),
            DcsGroup::General {
                compressed: true,
                ..
            }
        )
    }

    /// The message class, when the value has one.
    pub fn class(self) -> Option<MessageClass> {
        match self.group() {
            DcsGroup::General { class, .. } => class,
            DcsGroup::DataCodingClass { class, .. } => Some(class),
            _ => None,
        }
    }
}

/// TP-PID, TS 23.040 §9.2.3.9. Kept as its octet; helpers name the common meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pid(pub u8);

impl Pid {
    /// 0x00: plain SME-to-SME.
    pub const DEFAULT: Pid = Pid(0);
    /// 0x40: short message type 0 (acknowledged, discarded).
    pub const TYPE_0: Pid = Pid(0x40);

    /// Bits 7-6 = 00 and bit 5 = 1: telematic interworking (the device type is in bits 4-0).
    pub fn telematic_interworking(self) -> bool {
        self.0 & 0xE0 == 0x20
    }

    /// 0x41-0x47: replace short message type 1-7.
    pub fn replace_type(self) -> Option<u8> {
        (0x41..=0x47).contains(&self.0).then(|| self.0 - 0x40)
    }
}

/// The meaning of a TP-ST value, TS 23.040 §9.2.3.15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// 0x00-0x1F: short message transaction completed.
    Delivered,
    /// 0x20-0x3F: temporary error, the SC is still trying.
    TemporaryErrorTrying,
    /// 0x40-0x5F: permanent error, the SC is not making any more attempts.
    PermanentError,
    /// 0x60-0x7F: temporary error, the SC is not making any more attempts.
    TemporaryErrorNotTrying,
    /// 0x80-0xFF: reserved.
    Reserved,
}

impl StatusKind {
    /// Snake-case name for JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::TemporaryErrorTrying => "temporary_error_trying",
            Self::PermanentError => "permanent_error",
            Self::TemporaryErrorNotTrying => "temporary_error_not_trying",
            Self::Reserved => "reserved",
        }
    }

    /// Whether no further status will follow for this message.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::TemporaryErrorTrying)
    }
}

/// TP-ST, TS 23.040 §9.2.3.15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Status(pub u8);

impl Status {
    /// The class of the status.
    pub fn kind(self) -> StatusKind {
        match self.0 {
            0x00..=0x1F => StatusKind::Delivered,
            0x20..=0x3F => StatusKind::TemporaryErrorTrying,
            0x40..=0x5F => StatusKind::PermanentError,
            0x60..=0x7F => StatusKind::TemporaryErrorNotTrying,
            _ => StatusKind::Reserved,
        }
    }

    /// The name of the individual code (§9.2.3.15), or "reserved" / "SC specific".
    pub fn description(self) -> &'static str {
        match self.0 {
            0x00 => "short message received by the SME",
            0x01 => {
                "short message forwarded by the SC to the SME but the SC is unable to confirm delivery"
            }
            0x02 => "short message replaced by the SC",
            0x20 | 0x60 => "congestion",
            0x21 | 0x61 => "SME busy",
            0x22 | 0x62 => "no response from SME",
            0x23 | 0x63 => "service rejected",
            0x24 | 0x44 | 0x64 => "quality of service not available",
            0x25 | 0x65 => "error in SME",
            0x40 => "remote procedure error",
            0x41 => "incompatible destination",
            0x42 => "connection rejected by SME",
            0x43 => "not obtainable",
            0x45 => "no interworking available",
            0x46 => "SM validity period expired",
            0x47 => "SM deleted by originating SME",
            0x48 => "SM deleted by SC administration",
            0x49 => "SM does not exist",
            0x10..=0x1F | 0x30..=0x3F | 0x50..=0x5F | 0x70..=0x7F => "SC specific",
            _ => "reserved",
        }
    }
}

/// A TP-SCTS / TP-DT / absolute TP-VP time stamp, TS 23.040 §9.2.3.11: two-digit year, local time and the time
/// zone in quarters of an hour from GMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Year within the century, 0-99.
    pub year: u8,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-59.
    pub second: u8,
    /// Offset from GMT in quarters of an hour, -79..=79 (sign in bit 3 of the first digit).
    pub tz_quarters: i8,
}

fn bcd_swapped(b: u8) -> Option<u8> {
    let lo = b & 0x0F;
    let hi = b >> 4;
    (lo <= 9 && hi <= 9).then_some(lo * 10 + hi)
}

fn to_bcd_swapped(v: u8) -> u8 {
    (v % 10) << 4 | (v / 10 % 10)
}

impl Timestamp {
    /// Decodes the 7 octets of a time stamp (semi-octets in swapped order).
    pub fn decode(b: &[u8; 7]) -> Result<Self, DecodeError> {
        let digit = |i: usize, field: &'static str| {
            b.get(i)
                .and_then(|&v| bcd_swapped(v))
                .ok_or(DecodeError::Invalid {
                    field,
                    offset: i,
                    value: b.get(i).copied().unwrap_or(0),
                })
        };
        let tz = b[6];
        let tz_abs_lo = tz & 0x07;
        let tz_hi = tz >> 4;
        if tz_hi > 9 {
            return Err(DecodeError::Invalid {
                field: "time zone",
                offset: 6,
                value: tz,
            });
        }
        let q = (tz_abs_lo * 10 + tz_hi) as i8;
        Ok(Self {
            year: digit(0, "year")?,
            month: digit(1, "month")?,
            day: digit(2, "day")?,
            hour: digit(3, "hour")?,
            minute: digit(4, "minute")?,
            second: digit(5, "second")?,
            tz_quarters: if tz & 0x08 != 0 { -q } else { q },
        })
    }

    /// Encodes the 7 octets.
    pub fn encode(&self) -> Result<[u8; 7], EncodeError> {
        let ok = self.year <= 99
            && self.month <= 99
            && self.day <= 99
            && self.hour <= 99
            && self.minute <= 99
            && self.second <= 99
            && (-79..=79).contains(&self.tz_quarters);
        if !ok {
            return Err(EncodeError::InvalidTimestamp);
        }
        let q = self.tz_quarters.unsigned_abs();
        let mut tz = to_bcd_swapped(q);
        if self.tz_quarters < 0 {
            tz |= 0x08;
        }
        Ok([
            to_bcd_swapped(self.year),
            to_bcd_swapped(self.month),
            to_bcd_swapped(self.day),
            to_bcd_swapped(self.hour),
            to_bcd_swapped(self.minute),
            to_bcd_swapped(self.second),
            tz,
        ])
    }

    /// The four-digit year: years 70-99 are read as 1970-1999, 00-69 as 2000-2069 (the spec carries two
    /// digits only).
    pub fn full_year(&self) -> u16 {
        if self.year >= 70 {
            1900 + u16::from(self.year)
        } else {
            2000 + u16::from(self.year)
        }
    }

    /// ISO 8601 with the offset, e.g. `2026-11-23T10:15:30+08:00`.
    pub fn to_iso8601(&self) -> String {
        let mins = i32::from(self.tz_quarters) * 15;
        let sign = if mins < 0 { '-' } else { '+' };
        let m = mins.unsigned_abs();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.full_year(),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            m / 60,
            m % 60
        )
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS±HH:MM` (or `Z`); the offset must be a whole number of quarters of an hour.
    pub fn parse_iso8601(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        if b.len() < 20
            || b.get(4) != Some(&b'-')
            || b.get(7) != Some(&b'-')
            || b.get(10) != Some(&b'T')
        {
            return None;
        }
        let year = num(0..4)?;
        let (month, day, hour, minute, second) = (
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        let tz_quarters = match b.get(19)? {
            b'Z' if b.len() == 20 => 0,
            sign @ (b'+' | b'-') if b.len() == 25 && b.get(22) == Some(&b':') => {
                let mins = num(20..22)? * 60 + num(23..25)?;
                if mins % 15 != 0 || mins / 15 > 79 {
                    return None;
                }
                let q = (mins / 15) as i8;
                if *sign == b'-' { -q } else { q }
            }
            _ => return None,
        };
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        Some(Self {
            year: (year % 100) as u8,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            tz_quarters,
        })
    }
}

/// TP-VP, TS 23.040 §9.2.3.12, in the format TP-VPF selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidityPeriod {
    /// TP-VPF 10: one octet, §9.2.3.12.1.
    Relative(u8),
    /// TP-VPF 11: a time stamp, §9.2.3.12.2.
    Absolute(Timestamp),
    /// TP-VPF 01: seven octets, the first the functionality indicator, §9.2.3.12.3.
    Enhanced([u8; 7]),
}

/// What an enhanced validity period says, TS 23.040 §9.2.3.12.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnhancedValidity {
    /// Format 000: no validity period.
    None,
    /// Format 001: one octet as in the relative format, in minutes.
    RelativeMinutes(u32),
    /// Format 010: 0-255 seconds.
    Seconds(u8),
    /// Format 011: hours, minutes, seconds in semi-octets.
    Hms { hours: u8, minutes: u8, seconds: u8 },
    /// Formats 100-111: reserved.
    Reserved(u8),
}

impl ValidityPeriod {
    /// The TP-VPF bits (4-3 of the first octet) for this format.
    pub fn vpf(&self) -> u8 {
        match self {
            Self::Enhanced(_) => 1,
            Self::Relative(_) => 2,
            Self::Absolute(_) => 3,
        }
    }

    /// The duration in minutes of a relative TP-VP octet, §9.2.3.12.1.
    pub fn relative_minutes(v: u8) -> u32 {
        let v = u32::from(v);
        match v {
            0..=143 => (v + 1) * 5,
            144..=167 => 12 * 60 + (v - 143) * 30,
            168..=196 => (v - 166) * 24 * 60,
            _ => (v - 192) * 7 * 24 * 60,
        }
    }

    /// The smallest relative TP-VP octet whose duration is at least `minutes` (capped at 63 weeks).
    pub fn relative_from_minutes(minutes: u32) -> u8 {
        (0..=255u8)
            .find(|&v| Self::relative_minutes(v) >= minutes)
            .unwrap_or(255)
    }

    /// The largest relative TP-VP octet whose duration is at most `minutes`, so an SMSC told it gives up no
    /// later than `minutes` from now. Below 5 minutes, the shortest the format can say, it is 0 (5 minutes).
    pub fn relative_at_most_minutes(minutes: u32) -> u8 {
        (0..=255u8)
            .rev()
            .find(|&v| Self::relative_minutes(v) <= minutes)
            .unwrap_or(0)
    }

    /// Single shot (bit 6 of the functionality indicator) of an enhanced period.
    pub fn enhanced_single_shot(&self) -> Option<bool> {
        match self {
            Self::Enhanced(b) => Some(b[0] & 0x40 != 0),
            _ => None,
        }
    }

    /// The meaning of an enhanced period.
    pub fn enhanced(&self) -> Option<EnhancedValidity> {
        let Self::Enhanced(b) = self else { return None };
        Some(match b[0] & 0x07 {
            0 => EnhancedValidity::None,
            1 => EnhancedValidity::RelativeMinutes(Self::relative_minutes(b[1])),
            2 => EnhancedValidity::Seconds(b[1]),
            3 => match (bcd_swapped(b[1]), bcd_swapped(b[2]), bcd_swapped(b[3])) {
                (Some(hours), Some(minutes), Some(seconds)) => EnhancedValidity::Hms {
                    hours,
                    minutes,
                    seconds,
                },
                _ => EnhancedValidity::Reserved(3),
            },
            f => EnhancedValidity::Reserved(f),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_validity_table() {
        assert_eq!(ValidityPeriod::relative_minutes(0), 5);
        assert_eq!(ValidityPeriod::relative_minutes(143), 720);
        assert_eq!(ValidityPeriod::relative_minutes(167), 1440);
        assert_eq!(ValidityPeriod::relative_minutes(0xA7), 1440);
        assert_eq!(ValidityPeriod::relative_minutes(196), 30 * 1440);
        assert_eq!(ValidityPeriod::relative_minutes(255), 63 * 7 * 1440);
        for v in 0..=255u8 {
            assert_eq!(
                ValidityPeriod::relative_from_minutes(ValidityPeriod::relative_minutes(v)),
                v
            );
        }
    }

    #[test]
    fn relative_validity_rounds_down_with_a_five_minute_floor() {
        // (minutes, octet): the table's steps (§9.2.3.12.1) and the values just below and above them.
        let cases = [
            (0, 0),
            (4, 0),
            (5, 0),
            (9, 0),
            (10, 1),
            (119, 22),
            (120, 23),
            (720, 143),
            (749, 143),
            (750, 144),
            (1_439, 166),
            (1_440, 167),
            (2_879, 167),
            (2_880, 168),
            (30 * 1_440, 196),
            (35 * 1_440 - 1, 196),
            (35 * 1_440, 197),
            (63 * 7 * 1_440, 255),
            (u32::MAX, 255),
        ];
        for (minutes, octet) in cases {
            assert_eq!(
                ValidityPeriod::relative_at_most_minutes(minutes),
                octet,
                "{minutes} minutes"
            );
        }
        // Never longer than asked (but 5 minutes at least), and the next octet would be.
        for minutes in (0..=63 * 7 * 1_440 + 10).step_by(7) {
            let v = ValidityPeriod::relative_at_most_minutes(minutes);
            assert!(
                ValidityPeriod::relative_minutes(v) <= minutes.max(5),
                "{minutes}"
            );
            if v < 255 {
                assert!(
                    ValidityPeriod::relative_minutes(v + 1) > minutes,
                    "{minutes}"
                );
            }
        }
    }

    #[test]
    fn timestamp_negative_zone() {
        let t = Timestamp::decode(&[0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x4C]).unwrap();
        assert_eq!(t.tz_quarters, -44);
        assert_eq!(t.to_iso8601(), "2026-11-23T10:15:30-11:00");
        assert_eq!(
            t.encode().unwrap(),
            [0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x4C]
        );
        assert_eq!(
            Timestamp::parse_iso8601("2026-11-23T10:15:30-11:00"),
            Some(t)
        );
    }

    #[test]
    fn dcs_groups() {
        assert_eq!(Dcs(0x08).alphabet(), Alphabet::Ucs2);
        assert_eq!(
            Dcs(0xF1).group(),
            DcsGroup::DataCodingClass {
                alphabet: Alphabet::Gsm7,
                class: MessageClass::Class1
            }
        );
        assert_eq!(Dcs(0x10).class(), Some(MessageClass::Class0));
        assert!(matches!(
            Dcs(0x48).group(),
            DcsGroup::General {
                auto_delete: true,
                alphabet: Alphabet::Ucs2,
                ..
            }
        ));
        assert!(matches!(
            Dcs(0xE8).group(),
            DcsGroup::MessageWaiting {
                active: true,
                alphabet: Alphabet::Ucs2,
                ..
            }
        ));
        assert_eq!(Dcs(0x0C).alphabet(), Alphabet::Gsm7);
        assert_eq!(Dcs(0x85).group(), DcsGroup::Reserved);
    }
}
