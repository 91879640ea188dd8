//! SMPP 3.4 codec: PDUs, optional parameters (TLVs), command_status, the time format of
//! schedule_delivery_time and validity_period, and framing over a byte stream.
//!
//! Sans-IO: [`decode_frame`] looks at the front of a read buffer and returns a borrowed [`Pdu`] and how many
//! octets it used, or how many more it needs; [`Pdu::encode`] appends a PDU to a `BytesMut`. A link engine:
//!
//! ```
//! use bytes::{Buf, BytesMut};
//! use smsbridge_protocol::smpp::{decode_frame, Body, Frame, Limits, Pdu};
//!
//! let mut wire = BytesMut::new();
//! Pdu::new(7, Body::EnquireLink).encode(&mut wire);
//! let limits = Limits::default();
//! loop {
//!     match decode_frame(&wire, &limits) {
//!         Ok(Frame::Pdu { pdu, consumed }) => {
//!             let answer = pdu.response_for(Default::default()).unwrap();
//!             assert_eq!(answer.sequence_number, 7);
//!             // keep `pdu.into_owned()` if it must outlive the buffer, then:
//!             wire.advance(consumed);
//!         }
//!         Ok(Frame::Incomplete { .. }) => break, // read more
//!         Err(e) => {
//!             // send e.reply() if any; skip e.consumed() octets if Some, else close the link
//!             break;
//!         }
//!     }
//! }
//! ```

mod decode;
mod encode;
mod error;
mod list;
mod pdu;
mod status;
mod time;
mod tlv;
mod types;

pub use error::{FrameError, PduError};
pub use list::{DestAddressIter, DestAddresses, UnsuccessSmeIter, UnsuccessSmes};
pub use pdu::{
    AlertNotification, Bind, BindResp, Body, CancelSm, DataSm, DeliverSm, DestAddress,
    MessageIdResp, Octets, Outbind, Pdu, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, SubmitSm, UnsuccessSme,
};
pub use status::{CommandStatus, StatusClass};
pub use time::{AbsoluteTime, RelativeTime, SmppTime, TIME_LEN, TimeError};
pub use tlv::{
    KNOWN_TAGS, Shape, Tlv, TlvIter, TlvStreamError, TlvTooLong, TlvValue, Tlvs, is_vendor_tag,
    tag, tag_by_name, tag_name, tag_shape,
};
pub use types::{CommandId, DataCoding, EsmClass, MessageState, NetworkErrorCode, Npi, Ton};

/// Octets of the PDU header (SMPP 3.4 §3.2).
pub const HEADER_LEN: usize = 16;

/// interface_version for SMPP 3.4 (§5.2.4).
pub const INTERFACE_VERSION_34: u8 = 0x34;

/// The four header fields of a PDU (SMPP 3.4 §3.2), read without decoding the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PduHeader {
    /// Octets of the whole PDU, header included.
    pub command_length: u32,
    /// The command (see [`CommandId::from_u32`]).
    pub command_id: u32,
    /// The status (responses).
    pub command_status: CommandStatus,
    /// The sequence_number.
    pub sequence_number: u32,
}

/// Reads the 16 header octets at the front of `buf`; `None` when fewer are there. Checks nothing.
#[inline]
pub fn peek_header(buf: &[u8]) -> Option<PduHeader> {
    let h: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
    let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    Some(PduHeader {
        command_length: w(0),
        command_id: w(4),
        command_status: CommandStatus(w(8)),
        sequence_number: w(12),
    })
}

/// Framing limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest command_length accepted; a larger one is refused from its 4 octets alone, before the body
    /// arrives. Default 64 KiB.
    pub max_command_length: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_command_length: 64 * 1024,
        }
    }
}

/// What the framer found at the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Not enough octets yet; read at least this many more.
    Incomplete {
        /// Octets missing for the next step (the header, then the whole PDU).
        needed: usize,
    },
    /// One whole PDU and how many octets it used.
    Pdu {
        /// The PDU, borrowing from the buffer.
        pdu: Pdu<'a>,
        /// Octets to remove from the front of the buffer (its command_length).
        consumed: usize,
    },
}

/// Decodes the PDU at the front of `buf` (SMPP 3.4 §3.2).
///
/// A command_length below 16 or above `limits.max_command_length` is an error as soon as its 4 octets are
/// there ([`FrameError::BadCommandLength`], stream out of sync). Any other error leaves the stream in sync:
/// [`FrameError::consumed`] octets are to be skipped.
#[inline]
pub fn decode_frame<'a>(buf: &'a [u8], limits: &Limits) -> Result<Frame<'a>, FrameError> {
    let Some(len_octets) = buf.get(..4) else {
        return Ok(Frame::Incomplete {
            needed: HEADER_LEN - buf.len(),
        });
    };
    let command_length =
        u32::from_be_bytes([len_octets[0], len_octets[1], len_octets[2], len_octets[3]]);
    if command_length < HEADER_LEN as u32 || command_length > limits.max_command_length {
        let header = peek_header(buf);
        return Err(FrameError::BadCommandLength {
            command_length,
            max: limits.max_command_length,
            sequence_number: header.map(|h| h.sequence_number),
            command_id: header.map(|h| h.command_id),
        });
    }
    // command_length <= max_command_length (a u32), so it fits a usize on every supported target.
    let len = usize::try_from(command_length).unwrap_or(usize::MAX);
    let Some(pdu_octets) = buf.get(..len) else {
        return Ok(Frame::Incomplete {
            needed: len - buf.len(),
        });
    };
    match Pdu::decode(pdu_octets) {
        Ok(pdu) => Ok(Frame::Pdu { pdu, consumed: len }),
        Err(error) => {
            // The header was read whole above, so peek_header cannot miss here.
            let header = peek_header(pdu_octets).unwrap_or(PduHeader {
                command_length,
                command_id: 0,
                command_status: CommandStatus::ESME_ROK,
                sequence_number: 0,
            });
            Err(FrameError::Pdu { header, error })
        }
    }
}

impl<'a> Pdu<'a> {
    /// Decodes exactly one PDU: `buf` must hold it whole, with nothing after it (command_length ==
    /// `buf.len()`). The result borrows C-octet strings, short_message and TLVs from `buf`.
    #[inline]
    pub fn decode(buf: &'a [u8]) -> Result<Pdu<'a>, PduError> {
        let header = peek_header(buf).ok_or(PduError::ShortHeader { len: buf.len() })?;
        if usize::try_from(header.command_length).ok() != Some(buf.len()) {
            return Err(PduError::LengthMismatch {
                command_length: header.command_length,
                actual: buf.len(),
            });
        }
        let body = decode::decode_body(&header, buf.get(HEADER_LEN..).unwrap_or(&[]))?;
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
        })
    }
}

#[cfg(test)]
mod tests;
