//! Message planning for the API: how a body is split into SMS segments and which encoding it uses.
//!
//! Everything goes through [`plan`], the one function the service calls. Until the protocol crate's `sms`
//! planner is merged, this is a small stand-in that follows 3GPP TS 23.038/23.040 for the counts (GSM 7-bit
//! default alphabet with its extension table, else UCS-2; 160/153, 70/67 and 140/134 per segment) and
//! builds each segment as an 8-bit-reference concatenation UDH followed by the user data (GSM septets one per
//! octet, as SMPP carries them with data_coding 0; UCS-2 big-endian; binary as given).

use std::sync::atomic::{AtomicU8, Ordering};

use super::validate::ValidBody;

/// The most segments a concatenated message can have (TS 23.040 §9.2.3.24.1: an octet).
pub const MAX_SEGMENTS: usize = 255;

/// The encoding a plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
    Binary,
}

impl Encoding {
    /// The name stored with the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
            Encoding::Binary => "binary",
        }
    }
}

/// How a message is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub encoding: Encoding,
    /// The SMPP data_coding octet (0 GSM default, 8 UCS-2, or the client's for binary).
    pub data_coding: u8,
    /// One payload per segment: the UDH (when there is more than one segment), then the user data.
    pub segments: Vec<Vec<u8>>,
}

/// Why a body cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("needs {segments} SMS segments, at most {MAX_SEGMENTS} are allowed")]
    TooManySegments { segments: usize },
}

/// Plans bodies; holds the concatenation reference counter.
#[derive(Debug, Default)]
pub struct Planner {
    next_ref: AtomicU8,
}

impl Planner {
    pub fn new() -> Self {
        Planner::default()
    }

    /// The segments and encoding for a body. The one entry point the service uses.
    pub fn plan(&self, body: &ValidBody) -> Result<Plan, PlanError> {
        let (encoding, data_coding, units, single, multi) = match body {
            ValidBody::Text(text) => match gsm7_septets(text) {
                Some(septets) => (Encoding::Gsm7, 0u8, septets, 160, 153),
                None => (Encoding::Ucs2, 8u8, ucs2_units(text), 70, 67),
            },
            ValidBody::Binary { data, data_coding } => (
                Encoding::Binary,
                *data_coding,
                data.iter().map(|b| vec![*b]).collect(),
                140,
                134,
            ),
        };
        let payload_len: usize = units.iter().map(Vec::len).sum();
        // Unit lengths are in octets for every encoding here (a GSM septet stored in one octet).
        let (single, multi) = match encoding {
            Encoding::Ucs2 => (single * 2, multi * 2),
            _ => (single, multi),
        };
        if payload_len <= single {
            return Ok(Plan {
                encoding,
                data_coding,
                segments: vec![units.concat()],
            });
        }
        // Split on unit boundaries so an escape pair or a surrogate pair is never cut in two.
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        for unit in units {
            if current.len() + unit.len() > multi {
                parts.push(std::mem::take(&mut current));
            }
            current.extend_from_slice(&unit);
        }
        if !current.is_empty() {
            parts.push(current);
        }
        if parts.len() > MAX_SEGMENTS {
            return Err(PlanError::TooManySegments {
                segments: parts.len(),
            });
        }
        let reference = self.next_ref.fetch_add(1, Ordering::Relaxed);
        let total = u8::try_from(parts.len()).map_err(|_| PlanError::TooManySegments {
            segments: parts.len(),
        })?;
        let segments = parts
            .into_iter()
            .zip(1u8..=255)
            .map(|(part, seq)| {
                // IEI 0x00: concatenated short messages, 8-bit reference (TS 23.040 §9.2.3.24.1).
                let mut seg = vec![0x05, 0x00, 0x03, reference, total, seq];
                seg.extend_from_slice(&part);
                seg
            })
            .collect();
        Ok(Plan {
            encoding,
            data_coding,
            segments,
        })
    }
}

/// The GSM 7-bit default alphabet (TS 23.038 §6.2.1), by code; position 0x1B is the escape to the extension
/// table and matches no character.
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The GSM 7-bit extension table (TS 23.038 §6.2.1.1): character and code after the escape.
const GSM7_EXTENSION: [(char, u8); 10] = [
    ('\u{0c}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

/// The text as GSM septets, one unit per character (two for extension characters); `None` when a character
/// is not in the alphabet.
fn gsm7_septets(text: &str) -> Option<Vec<Vec<u8>>> {
    text.chars()
        .map(|c| {
            if c == '\u{1b}' {
                return None;
            }
            if let Some(code) = GSM7_BASIC.iter().position(|&b| b == c) {
                return u8::try_from(code).ok().map(|code| vec![code]);
            }
            GSM7_EXTENSION
                .iter()
                .find(|(e, _)| *e == c)
                .map(|(_, code)| vec![0x1B, *code])
        })
        .collect()
}

/// The text as UCS-2 (UTF-16 big-endian), one unit per character (4 octets for a surrogate pair).
fn ucs2_units(text: &str) -> Vec<Vec<u8>> {
    text.chars()
        .map(|c| {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf)
                .iter()
                .flat_map(|u| u.to_be_bytes())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ValidBody {
        ValidBody::Text(s.to_owned())
    }

    #[test]
    fn counts_follow_ts_23_038() {
        let p = Planner::new();
        let cases: &[(String, Encoding, usize)] = &[
            ("hello".into(), Encoding::Gsm7, 1),
            ("a".repeat(160), Encoding::Gsm7, 1),
            ("a".repeat(161), Encoding::Gsm7, 2),
            ("a".repeat(306), Encoding::Gsm7, 2),
            ("a".repeat(307), Encoding::Gsm7, 3),
            ("€".repeat(80), Encoding::Gsm7, 1),
            ("€".repeat(81), Encoding::Gsm7, 2),
            ("ж".repeat(70), Encoding::Ucs2, 1),
            ("ж".repeat(71), Encoding::Ucs2, 2),
            ("😀".repeat(35), Encoding::Ucs2, 1),
        ];
        for (t, enc, n) in cases {
            let plan = p.plan(&text(t)).expect("plannable");
            assert_eq!((plan.encoding, plan.segments.len()), (*enc, *n), "{t:?}");
        }
    }

    #[test]
    fn escapes_are_not_split_and_udh_is_set() {
        let p = Planner::new();
        // 152 plain characters, a euro sign, 7 more (161 septets): the escape pair moves to the second part
        // whole.
        let t = format!("{}€{}", "a".repeat(152), "x".repeat(7));
        let plan = p.plan(&text(&t)).expect("plannable");
        assert_eq!(plan.segments.len(), 2);
        assert_eq!(
            &plan.segments[0][..6],
            &[0x05, 0x00, 0x03, plan.segments[0][3], 2, 1]
        );
        assert_eq!(plan.segments[0].len(), 6 + 152);
        assert_eq!(&plan.segments[1][6..], b"\x1b\x65xxxxxxx");
    }

    #[test]
    fn too_long_binary_is_refused() {
        let p = Planner::new();
        let body = ValidBody::Binary {
            data: vec![0; 134 * 256],
            data_coding: 4,
        };
        assert_eq!(
            p.plan(&body),
            Err(PlanError::TooManySegments { segments: 256 })
        );
    }
}
