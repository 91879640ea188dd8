//! Message planning for the API: how a body is split into SMS segments and which encoding it uses.
//!
//! Everything goes through [`Planner::plan`], the one function the service calls. It uses the protocol
//! crate's planner (`smsbridge_protocol::sms::planner`: TS 23.038 alphabet choice, TS 23.040 concatenation)
//! and numbers concatenated messages per destination. Each stored segment is what an SMPP link puts in
//! short_message with esm_class UDHI: the UDH (when there is one), then the user data (GSM septets one per
//! octet, UCS-2 big-endian, or the binary octets).

use std::sync::Mutex;

use smsbridge_protocol::sms::planner::{self, PlanOptions, PlannedEncoding, ReferenceAllocator};

use super::validate::ValidBody;

/// The most segments a concatenated message can have (TS 23.040 §9.2.3.24.1: an octet).
pub const MAX_SEGMENTS: u8 = 255;
/// Destinations whose concatenation reference is remembered.
const REFERENCE_DESTINATIONS: usize = 65_536;

/// The encoding a plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
    Binary,
}

/// How a message is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub encoding: Encoding,
    /// The name stored with the message (the protocol planner's: "gsm7", "ucs2", "8bit").
    pub encoding_name: &'static str,
    /// The SMPP data_coding octet (the client's for binary bodies).
    pub data_coding: u8,
    /// One payload per segment: the UDH (when there is one), then the user data.
    pub segments: Vec<Vec<u8>>,
}

/// Why a body cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("needs {needed} SMS segments, at most {max} are allowed")]
    TooManySegments { needed: usize, max: u8 },
    /// Only with a forced GSM 7-bit encoding, which the API does not request; kept so nothing is lost.
    #[error("{0:?} cannot be written in GSM 7-bit")]
    NotGsm7(char),
}

impl From<planner::PlanError> for PlanError {
    fn from(err: planner::PlanError) -> Self {
        match err {
            planner::PlanError::TooManySegments { needed, max } => {
                PlanError::TooManySegments { needed, max }
            }
            planner::PlanError::NotGsm7(c) => PlanError::NotGsm7(c),
        }
    }
}

/// Plans bodies; holds the per-destination concatenation references.
#[derive(Debug)]
pub struct Planner {
    options: PlanOptions,
    references: Mutex<ReferenceAllocator>,
}

impl Default for Planner {
    fn default() -> Self {
        Planner::new()
    }
}

impl Planner {
    pub fn new() -> Self {
        // Seeded from the clock so a restart does not reuse the references just sent to a handset.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_millis() & 0xFFFF) as u16)
            .unwrap_or(0);
        Planner {
            options: PlanOptions {
                max_segments: MAX_SEGMENTS,
                ..PlanOptions::default()
            },
            references: Mutex::new(ReferenceAllocator::new(REFERENCE_DESTINATIONS, seed)),
        }
    }

    /// The segments and encoding of `body` sent to `to`. The one entry point the service uses.
    pub fn plan(&self, to: &str, body: &ValidBody) -> Result<Plan, PlanError> {
        let (mut plan, data_coding) = match body {
            ValidBody::Text(text) => {
                let plan = planner::plan(text, &self.options)?;
                let dc = plan.smpp_data_coding();
                (plan, dc)
            }
            ValidBody::Binary { data, data_coding } => {
                (planner::plan_binary(data, &self.options)?, *data_coding)
            }
        };
        if plan.is_concatenated() {
            // A poisoned lock only means another thread panicked mid-update; the counter is still usable.
            let reference = match self.references.lock() {
                Ok(mut refs) => refs.next(to),
                Err(poisoned) => poisoned.into_inner().next(to),
            };
            plan.set_reference(reference);
        }
        let encoding = match plan.encoding {
            PlannedEncoding::Gsm7(_) => Encoding::Gsm7,
            PlannedEncoding::Ucs2 => Encoding::Ucs2,
            PlannedEncoding::Eight => Encoding::Binary,
        };
        let segments = plan
            .segments
            .iter()
            .map(|seg| {
                let mut payload = seg.header_bytes();
                payload.extend_from_slice(&seg.body);
                payload
            })
            .collect();
        Ok(Plan {
            encoding,
            encoding_name: plan.encoding.name(),
            data_coding,
            segments,
        })
    }
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
        ];
        for (t, enc, n) in cases {
            let plan = p.plan("+447700900123", &text(t)).expect("plannable");
            assert_eq!((plan.encoding, plan.segments.len()), (*enc, *n), "{t:?}");
        }
    }

    #[test]
    fn concatenated_parts_carry_one_reference_and_their_numbers() {
        let p = Planner::new();
        let plan = p
            .plan("+447700900123", &text(&"a".repeat(200)))
            .expect("plannable");
        assert_eq!(plan.data_coding, 0);
        let [first, second] = plan.segments.as_slice() else {
            panic!("two segments expected, got {}", plan.segments.len());
        };
        // UDHL 5, IEI 0x00 (8-bit reference), length 3, reference, 2 parts, part number.
        assert_eq!(&first[..4], &[0x05, 0x00, 0x03, first[3]]);
        assert_eq!(&first[4..6], &[2, 1]);
        assert_eq!(&second[..6], &[0x05, 0x00, 0x03, first[3], 2, 2]);
        assert_eq!(first.len() - 6 + second.len() - 6, 200);
    }

    #[test]
    fn too_long_binary_is_refused_and_binary_keeps_its_data_coding() {
        let p = Planner::new();
        let body = ValidBody::Binary {
            data: vec![0; 134 * 256],
            data_coding: 4,
        };
        assert_eq!(
            p.plan("+447700900123", &body),
            Err(PlanError::TooManySegments {
                needed: 256,
                max: 255
            })
        );
        let small = ValidBody::Binary {
            data: vec![1, 2, 3],
            data_coding: 0xF5,
        };
        let plan = p.plan("+447700900123", &small).expect("plannable");
        assert_eq!((plan.encoding, plan.data_coding), (Encoding::Binary, 0xF5));
        assert_eq!(plan.segments, vec![vec![1, 2, 3]]);
    }
}
