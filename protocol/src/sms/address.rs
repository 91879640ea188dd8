//! Addresses: TP-DA / TP-OA / TP-RA (TS 23.040 §9.1.2.5) and the service-centre address that AT PDU mode puts in
//! front of a TPDU (TS 24.011 §8.2.5.1, TS 27.005 §3.1).

use super::alphabet::{Gsm7Tables, pack_septets, unpack_septets};
use super::{DecodeError, EncodeError};

/// Type of number, TS 23.040 §9.1.2.5 (bits 6-4 of the type-of-address octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ton {
    /// 000.
    Unknown,
    /// 001: the number carries its country code (shown with `+`).
    International,
    /// 010.
    National,
    /// 011.
    NetworkSpecific,
    /// 100.
    Subscriber,
    /// 101: GSM 7-bit packed text (TS 23.038 §6.2.1).
    Alphanumeric,
    /// 110.
    Abbreviated,
    /// 111: reserved for extension.
    Reserved,
}

impl Ton {
    /// The three-bit value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::International => 1,
            Self::National => 2,
            Self::NetworkSpecific => 3,
            Self::Subscriber => 4,
            Self::Alphanumeric => 5,
            Self::Abbreviated => 6,
            Self::Reserved => 7,
        }
    }

    /// The type of number for three bits (higher bits ignored).
    pub fn from_bits(v: u8) -> Self {
        match v & 7 {
            0 => Self::Unknown,
            1 => Self::International,
            2 => Self::National,
            3 => Self::NetworkSpecific,
            4 => Self::Subscriber,
            5 => Self::Alphanumeric,
            6 => Self::Abbreviated,
            _ => Self::Reserved,
        }
    }

    /// Lower-case name used in JSON (`international`, `alphanumeric`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::International => "international",
            Self::National => "national",
            Self::NetworkSpecific => "network_specific",
            Self::Subscriber => "subscriber",
            Self::Alphanumeric => "alphanumeric",
            Self::Abbreviated => "abbreviated",
            Self::Reserved => "reserved",
        }
    }

    /// The inverse of [`Ton::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        (0..8).map(Self::from_bits).find(|t| t.name() == name)
    }
}

/// Numbering plan identification, TS 23.040 §9.1.2.5 (bits 3-0 of the type-of-address octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Npi {
    /// 0000.
    Unknown,
    /// 0001: ISDN/telephone (E.164/E.163).
    Isdn,
    /// 0011: data (X.121).
    Data,
    /// 0100: telex.
    Telex,
    /// 0101: service centre specific plan 1.
    ServiceCentreSpecific1,
    /// 0110: service centre specific plan 2.
    ServiceCentreSpecific2,
    /// 1000: national.
    National,
    /// 1001: private.
    Private,
    /// 1010: ERMES.
    Ermes,
    /// 1111: reserved for extension.
    Extension,
    /// Any other (reserved) value, kept.
    Reserved(u8),
}

impl Npi {
    /// The four-bit value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Isdn => 1,
            Self::Data => 3,
            Self::Telex => 4,
            Self::ServiceCentreSpecific1 => 5,
            Self::ServiceCentreSpecific2 => 6,
            Self::National => 8,
            Self::Private => 9,
            Self::Ermes => 10,
            Self::Extension => 15,
            Self::Reserved(v) => v & 0x0F,
        }
    }

    /// The plan for four bits (higher bits ignored).
    pub fn from_bits(v: u8) -> Self {
        match v & 0x0F {
            0 => Self::Unknown,
            1 => Self::Isdn,
            3 => Self::Data,
            4 => Self::Telex,
            5 => Self::ServiceCentreSpecific1,
            6 => Self::ServiceCentreSpecific2,
            8 => Self::National,
            9 => Self::Private,
            10 => Self::Ermes,
            15 => Self::Extension,
            v => Self::Reserved(v),
        }
    }

    /// Lower-case name used in JSON (`isdn`, `unknown`, ... or `reserved_<n>`).
    pub fn name(self) -> String {
        match self {
            Self::Unknown => "unknown".into(),
            Self::Isdn => "isdn".into(),
            Self::Data => "data".into(),
            Self::Telex => "telex".into(),
            Self::ServiceCentreSpecific1 => "sc_specific_1".into(),
            Self::ServiceCentreSpecific2 => "sc_specific_2".into(),
            Self::National => "national".into(),
            Self::Private => "private".into(),
            Self::Ermes => "ermes".into(),
            Self::Extension => "extension".into(),
            Self::Reserved(v) => format!("reserved_{}", v & 0x0F),
        }
    }

    /// The inverse of [`Npi::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        (0..16).map(Self::from_bits).find(|t| t.name() == name)
    }
}

/// An address: type of number, numbering plan and the number. For [`Ton::Alphanumeric`] `number` is the text;
/// otherwise it is the digits (`0-9`, `*`, `#`, `a`, `b`, `c` for BCD codes 0xA-0xE, TS 23.040 §9.1.2.3),
/// without `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number.
    pub ton: Ton,
    /// Numbering plan identification.
    pub npi: Npi,
    /// Digits or, for alphanumeric addresses, the text.
    pub number: String,
}

/// TS 23.040 §9.1.2.3: semi-octet digit codes.
fn digit_char(nibble: u8) -> Option<char> {
    Some(match nibble {
        0..=9 => char::from(b'0' + nibble),
        0x0A => '*',
        0x0B => '#',
        0x0C => 'a',
        0x0D => 'b',
        0x0E => 'c',
        _ => return None,
    })
}

fn digit_code(c: char) -> Option<u8> {
    Some(match c {
        '0'..='9' => c as u8 - b'0',
        '*' => 0x0A,
        '#' => 0x0B,
        'a' | 'A' => 0x0C,
        'b' | 'B' => 0x0D,
        'c' | 'C' => 0x0E,
        _ => return None,
    })
}

/// Decodes `digits` semi-octets (low nibble first) from `bytes`. A 0xF nibble ends the number (filler).
pub(crate) fn decode_semi_octets(bytes: &[u8], digits: usize) -> Result<String, u8> {
    let mut s = String::with_capacity(digits);
    for i in 0..digits {
        let b = bytes.get(i / 2).copied().unwrap_or(0xFF);
        let nibble = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
        if nibble == 0x0F {
            break;
        }
        s.push(digit_char(nibble).ok_or(nibble)?);
    }
    Ok(s)
}

/// Encodes digits as semi-octets, padding an odd count with 0xF.
pub(crate) fn encode_semi_octets(digits: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut pending: Option<u8> = None;
    for c in digits.chars() {
        let code = digit_code(c).ok_or(EncodeError::InvalidDigit(c))?;
        match pending.take() {
            None => pending = Some(code),
            Some(lo) => out.push(lo | (code << 4)),
        }
    }
    if let Some(lo) = pending {
        out.push(lo | 0xF0);
    }
    Ok(())
}

impl Address {
    /// An address from a number as people write it: a leading `+` makes it international/ISDN, otherwise
    /// unknown/ISDN; anything that is not a digit makes it alphanumeric.
    pub fn parse(number: &str) -> Self {
        let trimmed = number.trim();
        if let Some(rest) = trimmed.strip_prefix('+') {
            if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
                return Self {
                    ton: Ton::International,
                    npi: Npi::Isdn,
                    number: rest.to_owned(),
                };
            }
        } else if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) {
            return Self {
                ton: Ton::Unknown,
                npi: Npi::Isdn,
                number: trimmed.to_owned(),
            };
        }
        Self {
            ton: Ton::Alphanumeric,
            npi: Npi::Unknown,
            number: trimmed.to_owned(),
        }
    }

    /// The number as people read it: `+` in front of international numbers.
    pub fn display(&self) -> String {
        if self.ton == Ton::International {
            format!("+{}", self.number)
        } else {
            self.number.clone()
        }
    }

    /// The type-of-address octet (bit 7 always set).
    pub fn type_octet(&self) -> u8 {
        0x80 | (self.ton.bits() << 4) | self.npi.bits()
    }

    /// The value part of a TP address: semi-octets for numbers, packed GSM 7-bit for alphanumeric (§9.1.2.5),
    /// and the length in semi-octets that goes in front.
    fn value_bytes(&self) -> Result<(Vec<u8>, usize), EncodeError> {
        let mut v = Vec::new();
        if self.ton == Ton::Alphanumeric {
            let mut septets = Vec::new();
            Gsm7Tables::DEFAULT
                .encode_str(&self.number, &mut septets)
                .map_err(EncodeError::NotGsm7)?;
            v = pack_septets(&septets, 0);
            // Useful semi-octets: the packed bits rounded up to whole nibbles.
            Ok((v, (septets.len() * 7).div_ceil(4)))
        } else {
            encode_semi_octets(&self.number, &mut v)?;
            Ok((v, self.number.chars().count()))
        }
    }

    /// Writes a TP-DA/TP-OA/TP-RA: length in semi-octets, type of address, value (TS 23.040 §9.1.2.5).
    pub fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let (v, semi) = self.value_bytes()?;
        // At most 20 semi-octets, so 10 value octets (12 with length and type).
        if semi > 20 {
            return Err(EncodeError::AddressTooLong(semi));
        }
        out.push(semi as u8);
        out.push(self.type_octet());
        out.extend_from_slice(&v);
        Ok(())
    }

    /// Decodes the value part of a TP address.
    pub(crate) fn from_tp_parts(semi: u8, toa: u8, value: &[u8]) -> Result<Self, u8> {
        let ton = Ton::from_bits(toa >> 4);
        let npi = Npi::from_bits(toa);
        let number = if ton == Ton::Alphanumeric {
            let septets = usize::from(semi) * 4 / 7;
            let s = unpack_septets(value, 0, septets);
            Gsm7Tables::DEFAULT.decode(&s)
        } else {
            decode_semi_octets(value, usize::from(semi))?
        };
        Ok(Self { ton, npi, number })
    }

    /// Writes the service-centre address in front of an AT PDU-mode TPDU: length in octets (type included), or a
    /// single 0 for "none: use the SIM's" (TS 24.011 §8.2.5.1, TS 27.005 §3.1).
    pub fn encode_sca(sca: Option<&Address>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let Some(a) = sca else {
            out.push(0);
            return Ok(());
        };
        if a.ton == Ton::Alphanumeric {
            return Err(EncodeError::AlphanumericSca);
        }
        let mut v = Vec::new();
        encode_semi_octets(&a.number, &mut v)?;
        // RP address: at most 10 octets after the length octet, type included (TS 24.011 §8.2.5.1).
        if v.len() > 10 {
            return Err(EncodeError::AddressTooLong(a.number.len()));
        }
        out.push(v.len() as u8 + 1);
        out.push(a.type_octet());
        out.extend_from_slice(&v);
        Ok(())
    }

    /// Reads the service-centre address at the front of `bytes`; returns it (`None` when the length is 0) and the
    /// number of octets used.
    pub fn decode_sca(bytes: &[u8]) -> Result<(Option<Address>, usize), DecodeError> {
        let Some((&len, rest)) = bytes.split_first() else {
            return Err(DecodeError::Truncated {
                field: "SCA length",
                offset: 0,
            });
        };
        let len = usize::from(len);
        if len == 0 {
            return Ok((None, 1));
        }
        if len > 11 {
            return Err(DecodeError::Invalid {
                field: "SCA length",
                offset: 0,
                value: len as u8,
            });
        }
        let body = rest.get(..len).ok_or(DecodeError::Truncated {
            field: "SCA",
            offset: 1,
        })?;
        let (&toa, digits) = body.split_first().ok_or(DecodeError::Truncated {
            field: "SCA type of address",
            offset: 1,
        })?;
        let number =
            decode_semi_octets(digits, digits.len() * 2).map_err(|v| DecodeError::Invalid {
                field: "SCA digits",
                offset: 2,
                value: v,
            })?;
        let addr = Address {
            ton: Ton::from_bits(toa >> 4),
            npi: Npi::from_bits(toa),
            number,
        };
        Ok((Some(addr), 1 + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sca_roundtrip() {
        let bytes = hex::decode("07917283010010F5").unwrap();
        let (a, used) = Address::decode_sca(&bytes).unwrap();
        let a = a.unwrap();
        assert_eq!(used, 8);
        assert_eq!(a.display(), "+27381000015");
        let mut out = Vec::new();
        Address::encode_sca(Some(&a), &mut out).unwrap();
        assert_eq!(out, bytes);
        assert_eq!(Address::decode_sca(&[0]).unwrap(), (None, 1));
    }

    #[test]
    fn alphanumeric_sender() {
        // "Design@Home" style: TON 5, packed GSM 7-bit, length in semi-octets.
        let a = Address {
            ton: Ton::Alphanumeric,
            npi: Npi::Unknown,
            number: "Google".into(),
        };
        let mut out = Vec::new();
        a.encode_tp(&mut out).unwrap();
        assert_eq!(out[0], 11); // 6 septets = 42 bits = 11 semi-octets
        assert_eq!(out[1], 0xD0);
        let back = Address::from_tp_parts(out[0], out[1], &out[2..]).unwrap();
        assert_eq!(back, a);
    }
}
