//! SMS over the air interface: 3GPP TS 23.040 TPDUs (SMS-SUBMIT, SMS-DELIVER, SMS-STATUS-REPORT), the AT PDU-mode
//! service-centre address, TS 23.038 alphabets, user data headers, the segmentation planner (modem and SMPP
//! renderings) and reassembly of concatenated messages. Sans-IO: no clock, no I/O; callers pass "now".
//!
//! Entry points:
//! - [`Tpdu::decode`] / [`Tpdu::encode`], and [`decode_with_sca`] / [`encode_with_sca`] for AT PDU mode;
//! - [`plan`] / [`plan_binary`] and [`ReferenceAllocator::plan`] for outgoing text, rendered with
//!   [`Plan::submits`] (modem) or [`Plan::smpp`] (SMPP);
//! - [`Reassembler`] for incoming parts.

pub mod address;
pub mod alphabet;
pub mod fields;
pub mod planner;
pub mod reassembly;
pub mod tpdu;
pub mod udh;

pub use address::{Address, Npi, Ton};
pub use alphabet::{Gsm7Tables, NationalLanguage, Septets};
pub use fields::{
    Alphabet, Dcs, DcsGroup, EnhancedValidity, IndicationType, MessageClass, Pid, Status,
    StatusKind, Timestamp, ValidityPeriod,
};
pub use planner::{
    EncodingChoice, NationalPolicy, Plan, PlanError, PlanOptions, PlannedEncoding,
    ReferenceAllocator, SarInfo, Segment, SmppConcat, SmppRendering, SubmitOptions, plan,
    plan_binary,
};
pub use reassembly::{Part, PushOutcome, ReassembledMessage, Reassembler, ReassemblyConfig};
pub use tpdu::{Deliver, StatusReport, Submit, Tpdu, UserData, decode_with_sca, encode_with_sca};
pub use udh::{ConcatInfo, InformationElement, Udh};

/// Why bytes did not decode as a TPDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("input ends inside {field} at offset {offset}")]
    Truncated {
        /// The field (spec name).
        field: &'static str,
        /// Octet offset of the field.
        offset: usize,
    },
    /// A field holds a value the spec does not allow.
    #[error("{field} at offset {offset} has an invalid value {value:#04x}")]
    Invalid {
        /// The field (spec name).
        field: &'static str,
        /// Octet offset of the field.
        offset: usize,
        /// The offending octet (or nibble).
        value: u8,
    },
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A number holds a character that is not a semi-octet digit (TS 23.040 §9.1.2.3).
    #[error("{0:?} is not a valid address digit (0-9, *, #, a, b, c)")]
    InvalidDigit(char),
    /// A character is not in the GSM 7-bit tables in use.
    #[error("{0:?} has no GSM 7-bit code")]
    NotGsm7(char),
    /// An address is longer than 20 semi-octets (TS 23.040 §9.1.2.5) or 20 digits for an SCA.
    #[error("address of {0} semi-octets is longer than 20")]
    AddressTooLong(usize),
    /// A service-centre address cannot be alphanumeric.
    #[error("a service-centre address cannot be alphanumeric")]
    AlphanumericSca,
    /// The user data does not fit (160 septets / 140 octets, TS 23.040 §9.2.3.16).
    #[error("user data of {len} {unit} is longer than {max}")]
    UserDataTooLong {
        /// Length of the user data, header included.
        len: usize,
        /// The limit.
        max: usize,
        /// "septets" or "octets".
        unit: &'static str,
    },
    /// A time stamp field is out of range.
    #[error("time stamp field out of range")]
    InvalidTimestamp,
}
