//! Decoding errors, with the command_status a link answers with and whether the stream is still in sync.

use super::PduHeader;
use super::pdu::Pdu;
use super::status::CommandStatus;
use super::types::CommandId;

/// Why one PDU (header and body) could not be decoded, or is not valid for encoding.
///
/// Offsets count from the first octet of the PDU (the command_length field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// Fewer than 16 octets: no complete header.
    #[error("{len} octets are too few for the 16-octet PDU header")]
    ShortHeader {
        /// Octets given.
        len: usize,
    },
    /// command_length says something else than the octets given (SMPP 3.4 §3.2).
    #[error("command_length {command_length} does not match the {actual} octets of the PDU")]
    LengthMismatch {
        /// The header's command_length.
        command_length: u32,
        /// The octets given.
        actual: usize,
    },
    /// command_length below 16 or above the configured maximum.
    #[error("command_length {command_length} is outside 16..={max}")]
    BadCommandLength {
        /// The header's command_length.
        command_length: u32,
        /// The configured maximum.
        max: u32,
    },
    /// command_id not defined by SMPP 3.4 (§5.1.2).
    #[error("unknown command_id {command_id:#010x}")]
    UnknownCommand {
        /// The header's command_id.
        command_id: u32,
    },
    /// The body ends inside a fixed-size or mandatory field: the body contradicts command_length.
    #[error("the body ends inside {field} at offset {offset}")]
    Truncated {
        /// The field's specification name.
        field: &'static str,
        /// Where it should have started.
        offset: usize,
    },
    /// Octets left after a body that takes no optional parameters.
    #[error("{len} unexpected octets after the body at offset {offset}")]
    TrailingOctets {
        /// Where they start.
        offset: usize,
        /// How many.
        len: usize,
    },
    /// A C-octet string without its NUL before the end of the PDU.
    #[error("{field} at offset {offset} has no NUL terminator before the end of the PDU")]
    Unterminated {
        /// The field's specification name.
        field: &'static str,
        /// Its maximum size in octets, NUL included.
        max: usize,
        /// Where it starts.
        offset: usize,
        /// The status a link answers with.
        status: CommandStatus,
    },
    /// A C-octet string longer than its specification maximum (or containing a NUL, when encoding).
    #[error("{field} at offset {offset} is longer than {max} octets (NUL included)")]
    FieldTooLong {
        /// The field's specification name.
        field: &'static str,
        /// Its maximum size in octets, NUL included.
        max: usize,
        /// Where it starts.
        offset: usize,
        /// The status a link answers with.
        status: CommandStatus,
    },
    /// sm_length says more octets than the PDU has left (SMPP 3.4 §5.2.21).
    #[error(
        "sm_length {sm_length} at offset {offset} runs past the end of the PDU ({available} octets left)"
    )]
    SmLength {
        /// The sm_length octet.
        sm_length: u8,
        /// Octets left after it.
        available: usize,
        /// Offset of the sm_length field.
        offset: usize,
    },
    /// A field value the specification does not allow (number_of_dests, dest_flag, sm_length 255, ...).
    #[error("{field} = {value} at offset {offset} is not allowed")]
    InvalidValue {
        /// The field's specification name.
        field: &'static str,
        /// The value found.
        value: u32,
        /// Where it is.
        offset: usize,
        /// The status a link answers with.
        status: CommandStatus,
    },
    /// A C-octet string containing a NUL (only when validating a PDU for encoding).
    #[error("{field} contains a NUL octet")]
    ContainsNul {
        /// The field's specification name.
        field: &'static str,
        /// The status a peer would answer with.
        status: CommandStatus,
    },
    /// A response field present after an absent one (only when validating): it could not be encoded.
    #[error("{field} is present although an earlier field of the response is absent")]
    FieldAfterAbsent {
        /// The field's specification name.
        field: &'static str,
    },
    /// A TLV whose header or value runs past the end of the PDU (SMPP 3.4 §3.2.4.1).
    #[error("malformed optional parameter at offset {offset}{}", tag.map(|t| format!(" (tag {t:#06x})")).unwrap_or_default())]
    TlvStream {
        /// Offset of the TLV.
        offset: usize,
        /// Its tag, if its 2 tag octets were there.
        tag: Option<u16>,
    },
}

impl PduError {
    /// The command_status a link answers with (in generic_nack or the request's response).
    ///
    /// Framing problems (a body that contradicts command_length) answer ESME_RINVCMDLEN; unknown commands
    /// ESME_RINVCMDID; a bad C-octet string the status of its field (ESME_RINVSRCADR for source_addr, ...,
    /// ESME_RINVCMDLEN for fields the specification gives no status); sm_length ESME_RINVMSGLEN; TLVs
    /// ESME_RINVOPTPARSTREAM.
    pub fn status(&self) -> CommandStatus {
        match self {
            PduError::ShortHeader { .. }
            | PduError::LengthMismatch { .. }
            | PduError::BadCommandLength { .. }
            | PduError::Truncated { .. }
            | PduError::TrailingOctets { .. }
            | PduError::FieldAfterAbsent { .. } => CommandStatus::ESME_RINVCMDLEN,
            PduError::UnknownCommand { .. } => CommandStatus::ESME_RINVCMDID,
            PduError::Unterminated { status, .. }
            | PduError::FieldTooLong { status, .. }
            | PduError::InvalidValue { status, .. }
            | PduError::ContainsNul { status, .. } => *status,
            PduError::SmLength { .. } => CommandStatus::ESME_RINVMSGLEN,
            PduError::TlvStream { .. } => CommandStatus::ESME_RINVOPTPARSTREAM,
        }
    }

    /// Offset of the problem from the start of the PDU, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            PduError::Truncated { offset, .. }
            | PduError::TrailingOctets { offset, .. }
            | PduError::Unterminated { offset, .. }
            | PduError::FieldTooLong { offset, .. }
            | PduError::SmLength { offset, .. }
            | PduError::InvalidValue { offset, .. }
            | PduError::TlvStream { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// What [`decode_frame`](super::decode_frame) could not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// command_length is below 16 or above [`Limits::max_command_length`](super::Limits): detected from the
    /// 4 length octets alone. The stream cannot be resynchronised; answer generic_nack ESME_RINVCMDLEN (see
    /// [`FrameError::reply`]) and close the connection.
    #[error("command_length {command_length} is outside 16..={max}; the stream is out of sync")]
    BadCommandLength {
        /// The command_length found.
        command_length: u32,
        /// The configured maximum.
        max: u32,
        /// The sequence_number, when the 16 header octets were already there.
        sequence_number: Option<u32>,
        /// The command_id, when the 16 header octets were already there.
        command_id: Option<u32>,
    },
    /// The header was sound but the PDU was not. The stream is still in sync: skip
    /// [`consumed`](FrameError::consumed) octets (command_length) and answer [`reply`](FrameError::reply).
    #[error("{} (sequence_number {}): {error}", command_name(header.command_id), header.sequence_number)]
    Pdu {
        /// The PDU's header.
        header: PduHeader,
        /// What is wrong with it.
        error: PduError,
    },
}

fn command_name(id: u32) -> String {
    CommandId::from_u32(id).map_or_else(
        || format!("command_id {id:#010x}"),
        |c| c.name().to_string(),
    )
}

impl FrameError {
    /// The command_status a link answers with.
    pub fn status(&self) -> CommandStatus {
        match self {
            FrameError::BadCommandLength { .. } => CommandStatus::ESME_RINVCMDLEN,
            FrameError::Pdu { error, .. } => error.status(),
        }
    }

    /// The offending PDU's sequence_number, when its header was there.
    pub fn sequence_number(&self) -> Option<u32> {
        match self {
            FrameError::BadCommandLength {
                sequence_number, ..
            } => *sequence_number,
            FrameError::Pdu { header, .. } => Some(header.sequence_number),
        }
    }

    /// The offending PDU's command_id, when its header was there.
    pub fn command_id(&self) -> Option<u32> {
        match self {
            FrameError::BadCommandLength { command_id, .. } => *command_id,
            FrameError::Pdu { header, .. } => Some(header.command_id),
        }
    }

    /// Octets to skip to reach the next PDU; `None` when the stream is out of sync (close the link).
    pub fn consumed(&self) -> Option<usize> {
        match self {
            FrameError::BadCommandLength { .. } => None,
            FrameError::Pdu { header, .. } => usize::try_from(header.command_length).ok(),
        }
    }

    /// True when the next PDU starts [`consumed`](FrameError::consumed) octets further.
    pub fn in_sync(&self) -> bool {
        self.consumed().is_some()
    }

    /// The PDU a link sends back, if any (SMPP 3.4 §4.3.1, §5.1.3):
    /// - generic_nack with ESME_RINVCMDLEN or ESME_RINVCMDID and the same sequence_number for a bad header,
    ///   a body that contradicts command_length or an unknown command;
    /// - the request's own response (e.g. submit_sm_resp with ESME_RINVDSTADR) for a bad field of a request;
    /// - nothing for a bad response, outbind or alert_notification (they are never answered).
    pub fn reply(&self) -> Option<Pdu<'static>> {
        let status = self.status();
        let seq = self.sequence_number().unwrap_or(0);
        if status == CommandStatus::ESME_RINVCMDLEN || status == CommandStatus::ESME_RINVCMDID {
            return Some(Pdu::generic_nack(seq, status));
        }
        let id = CommandId::from_u32(self.command_id()?)?;
        Pdu::response_to(id, seq, status)
    }

    /// The underlying PDU error, for errors of a sound header.
    pub fn pdu_error(&self) -> Option<&PduError> {
        match self {
            FrameError::Pdu { error, .. } => Some(error),
            FrameError::BadCommandLength { .. } => None,
        }
    }
}
