//! Optional parameters (TLVs), SMPP 3.4 §5.3.
//!
//! A PDU's TLVs are kept as the validated wire bytes ([`Tlvs`]): decoding only walks the tag/length chain,
//! nothing is copied or allocated, unknown tags and odd values survive byte-exact, and order is preserved.
//! Typed access ([`Tlv::typed`], [`Tlvs::message_state`], ...) interprets a value on demand; a value that does
//! not have the shape the specification gives its tag is reported as raw [`TlvValue::Octets`], never an error.

use std::borrow::Cow;
use std::fmt;

use super::types::{MessageState, NetworkErrorCode};

macro_rules! tags {
    ($( $const:ident = $value:literal, $name:literal, $shape:expr; )*) => {
        /// Tag constants of the optional parameters SMPP 3.4 §5.3.2 defines.
        pub mod tag {
            $(
                #[doc = concat!("`", $name, "` (SMPP 3.4 §5.3.2)")]
                pub const $const: u16 = $value;
            )*
        }

        /// Every tag SMPP 3.4 §5.3.2 defines, with its name.
        pub const KNOWN_TAGS: &[(u16, &str)] = &[$(($value, $name)),*];

        /// The specification's name of a tag (`"receipted_message_id"`), `None` for tags it does not define.
        pub fn tag_name(tag: u16) -> Option<&'static str> {
            match tag {
                $($value => Some($name),)*
                _ => None,
            }
        }

        /// Looks a tag up by its specification name.
        pub fn tag_by_name(name: &str) -> Option<u16> {
            match name {
                $($name => Some($value),)*
                _ => None,
            }
        }

        /// The value shape SMPP 3.4 §5.3.2 gives a tag.
        pub fn tag_shape(tag: u16) -> Shape {
            match tag {
                $($value => $shape,)*
                _ => Shape::Octets,
            }
        }
    };
}

/// How the specification types a TLV value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No value (length 0).
    Empty,
    /// 1-octet integer.
    U8,
    /// 2-octet integer.
    U16,
    /// 4-octet integer.
    U32,
    /// NUL-terminated string of at most this many octets, NUL included.
    CString(usize),
    /// Octet string.
    Octets,
    /// network_error_code: 3 octets.
    NetworkErrorCode,
    /// message_state: 1 octet.
    MessageState,
}

tags! {
    DEST_ADDR_SUBUNIT = 0x0005, "dest_addr_subunit", Shape::U8;
    DEST_NETWORK_TYPE = 0x0006, "dest_network_type", Shape::U8;
    DEST_BEARER_TYPE = 0x0007, "dest_bearer_type", Shape::U8;
    DEST_TELEMATICS_ID = 0x0008, "dest_telematics_id", Shape::U16;
    SOURCE_ADDR_SUBUNIT = 0x000D, "source_addr_subunit", Shape::U8;
    SOURCE_NETWORK_TYPE = 0x000E, "source_network_type", Shape::U8;
    SOURCE_BEARER_TYPE = 0x000F, "source_bearer_type", Shape::U8;
    SOURCE_TELEMATICS_ID = 0x0010, "source_telematics_id", Shape::U8;
    QOS_TIME_TO_LIVE = 0x0017, "qos_time_to_live", Shape::U32;
    PAYLOAD_TYPE = 0x0019, "payload_type", Shape::U8;
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, "additional_status_info_text", Shape::CString(256);
    RECEIPTED_MESSAGE_ID = 0x001E, "receipted_message_id", Shape::CString(65);
    MS_MSG_WAIT_FACILITIES = 0x0030, "ms_msg_wait_facilities", Shape::U8;
    PRIVACY_INDICATOR = 0x0201, "privacy_indicator", Shape::U8;
    SOURCE_SUBADDRESS = 0x0202, "source_subaddress", Shape::Octets;
    DEST_SUBADDRESS = 0x0203, "dest_subaddress", Shape::Octets;
    USER_MESSAGE_REFERENCE = 0x0204, "user_message_reference", Shape::U16;
    USER_RESPONSE_CODE = 0x0205, "user_response_code", Shape::U8;
    SOURCE_PORT = 0x020A, "source_port", Shape::U16;
    DESTINATION_PORT = 0x020B, "destination_port", Shape::U16;
    SAR_MSG_REF_NUM = 0x020C, "sar_msg_ref_num", Shape::U16;
    LANGUAGE_INDICATOR = 0x020D, "language_indicator", Shape::U8;
    SAR_TOTAL_SEGMENTS = 0x020E, "sar_total_segments", Shape::U8;
    SAR_SEGMENT_SEQNUM = 0x020F, "sar_segment_seqnum", Shape::U8;
    SC_INTERFACE_VERSION = 0x0210, "sc_interface_version", Shape::U8;
    CALLBACK_NUM_PRES_IND = 0x0302, "callback_num_pres_ind", Shape::U8;
    CALLBACK_NUM_ATAG = 0x0303, "callback_num_atag", Shape::Octets;
    NUMBER_OF_MESSAGES = 0x0304, "number_of_messages", Shape::U8;
    CALLBACK_NUM = 0x0381, "callback_num", Shape::Octets;
    DPF_RESULT = 0x0420, "dpf_result", Shape::U8;
    SET_DPF = 0x0421, "set_dpf", Shape::U8;
    MS_AVAILABILITY_STATUS = 0x0422, "ms_availability_status", Shape::U8;
    NETWORK_ERROR_CODE = 0x0423, "network_error_code", Shape::NetworkErrorCode;
    MESSAGE_PAYLOAD = 0x0424, "message_payload", Shape::Octets;
    DELIVERY_FAILURE_REASON = 0x0425, "delivery_failure_reason", Shape::U8;
    MORE_MESSAGES_TO_SEND = 0x0426, "more_messages_to_send", Shape::U8;
    MESSAGE_STATE = 0x0427, "message_state", Shape::MessageState;
    USSD_SERVICE_OP = 0x0501, "ussd_service_op", Shape::U8;
    DISPLAY_TIME = 0x1201, "display_time", Shape::U8;
    SMS_SIGNAL = 0x1203, "sms_signal", Shape::U16;
    MS_VALIDITY = 0x1204, "ms_validity", Shape::U8;
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, "alert_on_message_delivery", Shape::Empty;
    ITS_REPLY_TYPE = 0x1380, "its_reply_type", Shape::U8;
    ITS_SESSION_INFO = 0x1383, "its_session_info", Shape::Octets;
}

/// True for tags in the range SMPP 3.4 §5.3.2 reserves for SMSC vendors (0x1400-0x3FFF).
pub fn is_vendor_tag(tag: u16) -> bool {
    (0x1400..=0x3FFF).contains(&tag)
}

/// One optional parameter as found on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag (see [`tag`]).
    pub tag: u16,
    /// The value octets, exactly as on the wire.
    pub value: &'a [u8],
}

/// A TLV value interpreted by the shape the specification gives its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvValue<'a> {
    /// A tag without value (alert_on_message_delivery).
    Empty,
    /// A 1-octet integer.
    U8(u8),
    /// A 2-octet integer (sar_msg_ref_num, source_port, user_message_reference, ...).
    U16(u16),
    /// A 4-octet integer (qos_time_to_live).
    U32(u32),
    /// A C-octet string, without its NUL (receipted_message_id, additional_status_info_text).
    CString(&'a [u8]),
    /// Octets: octet-string tags, unknown tags, and values that do not fit their tag's shape.
    Octets(&'a [u8]),
    /// network_error_code.
    NetworkErrorCode(NetworkErrorCode),
    /// message_state.
    MessageState(MessageState),
}

impl<'a> TlvValue<'a> {
    /// The value octets this value is encoded as.
    pub fn to_bytes(&self) -> Vec<u8> {
        match *self {
            TlvValue::Empty => Vec::new(),
            TlvValue::U8(v) => vec![v],
            TlvValue::U16(v) => v.to_be_bytes().to_vec(),
            TlvValue::U32(v) => v.to_be_bytes().to_vec(),
            TlvValue::CString(s) => {
                let mut v = Vec::with_capacity(s.len() + 1);
                v.extend_from_slice(s);
                v.push(0);
                v
            }
            TlvValue::Octets(s) => s.to_vec(),
            TlvValue::NetworkErrorCode(n) => n.to_bytes().to_vec(),
            TlvValue::MessageState(m) => vec![m.0],
        }
    }
}

impl<'a> Tlv<'a> {
    /// The specification's name of the tag, if it defines it.
    pub fn name(&self) -> Option<&'static str> {
        tag_name(self.tag)
    }

    /// The value interpreted by its tag's shape ([`tag_shape`]); raw octets when it does not fit.
    pub fn typed(&self) -> TlvValue<'a> {
        let v = self.value;
        let raw = TlvValue::Octets(v);
        match (tag_shape(self.tag), v) {
            (Shape::Empty, []) => TlvValue::Empty,
            (Shape::U8, [b]) => TlvValue::U8(*b),
            (Shape::MessageState, [b]) => TlvValue::MessageState(MessageState(*b)),
            (Shape::U16, [a, b]) => TlvValue::U16(u16::from_be_bytes([*a, *b])),
            (Shape::U32, [a, b, c, d]) => TlvValue::U32(u32::from_be_bytes([*a, *b, *c, *d])),
            (Shape::NetworkErrorCode, _) => {
                NetworkErrorCode::from_bytes(v).map_or(raw, TlvValue::NetworkErrorCode)
            }
            (Shape::CString(max), [s @ .., 0]) if v.len() <= max && !s.contains(&0) => {
                TlvValue::CString(s)
            }
            _ => raw,
        }
    }
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({:#06x})=", self.tag)?,
            None => write!(f, "{:#06x}=", self.tag)?,
        }
        write!(f, "{:?}", self.typed())
    }
}

/// Why a TLV stream is not well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvStreamError {
    /// Offset of the offending TLV from the start of the stream.
    pub offset: usize,
    /// Its tag, if the 2 tag octets were there.
    pub tag: Option<u16>,
}

/// A TLV value longer than the 16-bit length field can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TLV {tag:#06x} value of {len} octets does not fit a 16-bit length")]
pub struct TlvTooLong {
    /// The tag.
    pub tag: u16,
    /// The value's length.
    pub len: usize,
}

/// The optional parameters of one PDU: well-formed wire bytes, in wire order (SMPP 3.4 §3.2.4.1, §5.3).
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct Tlvs<'a>(Cow<'a, [u8]>);

impl<'a> Tlvs<'a> {
    /// No TLVs.
    pub const fn new() -> Tlvs<'a> {
        Tlvs(Cow::Borrowed(&[]))
    }

    /// Checks that `bytes` is a sequence of whole TLVs and borrows it.
    pub fn parse(bytes: &'a [u8]) -> Result<Tlvs<'a>, TlvStreamError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let offset = bytes.len() - rest.len();
            match *rest {
                [t0, t1, l0, l1, ref tail @ ..] => {
                    let len = usize::from(u16::from_be_bytes([l0, l1]));
                    match tail.get(len..) {
                        Some(next) => rest = next,
                        None => {
                            return Err(TlvStreamError {
                                offset,
                                tag: Some(u16::from_be_bytes([t0, t1])),
                            });
                        }
                    }
                }
                [t0, t1, ..] => {
                    return Err(TlvStreamError {
                        offset,
                        tag: Some(u16::from_be_bytes([t0, t1])),
                    });
                }
                _ => return Err(TlvStreamError { offset, tag: None }),
            }
        }
        Ok(Tlvs(Cow::Borrowed(bytes)))
    }

    /// Builds a TLV list from (tag, value) pairs.
    pub fn from_pairs<'v, I: IntoIterator<Item = (u16, &'v [u8])>>(
        pairs: I,
    ) -> Result<Tlvs<'static>, TlvTooLong> {
        let mut t = Tlvs::new();
        for (tag, value) in pairs {
            t.push(tag, value)?;
        }
        Ok(t)
    }

    /// The wire bytes of all TLVs.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of octets on the wire.
    pub fn encoded_len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The TLVs in wire order.
    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter { rest: &self.0 }
    }

    /// The value of the first TLV with this tag.
    pub fn get(&self, tag: u16) -> Option<&[u8]> {
        self.iter().find(|t| t.tag == tag).map(|t| t.value)
    }

    /// The first TLV with this tag, typed.
    pub fn get_typed(&self, tag: u16) -> Option<TlvValue<'_>> {
        self.iter().find(|t| t.tag == tag).map(|t| t.typed())
    }

    /// Appends a TLV.
    pub fn push(&mut self, tag: u16, value: &[u8]) -> Result<(), TlvTooLong> {
        let len = u16::try_from(value.len()).map_err(|_| TlvTooLong {
            tag,
            len: value.len(),
        })?;
        let v = self.0.to_mut();
        v.reserve(4 + value.len());
        v.extend_from_slice(&tag.to_be_bytes());
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(value);
        Ok(())
    }

    /// Appends a typed TLV.
    pub fn push_value(&mut self, tag: u16, value: TlvValue<'_>) -> Result<(), TlvTooLong> {
        self.push(tag, &value.to_bytes())
    }

    /// Builder form of [`Tlvs::push_value`] for values that always fit (integers, short strings). A value
    /// that does not fit the 16-bit length is left out; use [`Tlvs::push`] to see the error.
    pub fn with(mut self, tag: u16, value: TlvValue<'_>) -> Tlvs<'a> {
        let _ = self.push_value(tag, value);
        self
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> Tlvs<'static> {
        Tlvs(Cow::Owned(self.0.into_owned()))
    }

    fn u8_of(&self, tag: u16) -> Option<u8> {
        match self.get(tag)? {
            [b] => Some(*b),
            _ => None,
        }
    }

    fn u16_of(&self, tag: u16) -> Option<u16> {
        match self.get(tag)? {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// receipted_message_id (§5.3.2.12) without its NUL, when present and well formed.
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        match self.get_typed(tag::RECEIPTED_MESSAGE_ID)? {
            TlvValue::CString(s) => Some(s),
            _ => None,
        }
    }

    /// message_state (§5.3.2.35).
    pub fn message_state(&self) -> Option<MessageState> {
        self.u8_of(tag::MESSAGE_STATE).map(MessageState)
    }

    /// network_error_code (§5.3.2.31).
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        NetworkErrorCode::from_bytes(self.get(tag::NETWORK_ERROR_CODE)?)
    }

    /// message_payload (§5.3.2.32).
    pub fn message_payload(&self) -> Option<&[u8]> {
        self.get(tag::MESSAGE_PAYLOAD)
    }

    /// sar_msg_ref_num (§5.3.2.22).
    pub fn sar_msg_ref_num(&self) -> Option<u16> {
        self.u16_of(tag::SAR_MSG_REF_NUM)
    }

    /// sar_total_segments (§5.3.2.23).
    pub fn sar_total_segments(&self) -> Option<u8> {
        self.u8_of(tag::SAR_TOTAL_SEGMENTS)
    }

    /// sar_segment_seqnum (§5.3.2.24).
    pub fn sar_segment_seqnum(&self) -> Option<u8> {
        self.u8_of(tag::SAR_SEGMENT_SEQNUM)
    }

    /// user_message_reference (§5.3.2.17).
    pub fn user_message_reference(&self) -> Option<u16> {
        self.u16_of(tag::USER_MESSAGE_REFERENCE)
    }

    /// source_port (§5.3.2.20).
    pub fn source_port(&self) -> Option<u16> {
        self.u16_of(tag::SOURCE_PORT)
    }

    /// destination_port (§5.3.2.21).
    pub fn destination_port(&self) -> Option<u16> {
        self.u16_of(tag::DESTINATION_PORT)
    }

    /// sc_interface_version (§5.3.2.25), sent in bind responses.
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.u8_of(tag::SC_INTERFACE_VERSION)
    }

    /// ms_availability_status (§5.3.2.30), sent in alert_notification.
    pub fn ms_availability_status(&self) -> Option<u8> {
        self.u8_of(tag::MS_AVAILABILITY_STATUS)
    }

    /// delivery_failure_reason (§5.3.2.33), sent in data_sm_resp.
    pub fn delivery_failure_reason(&self) -> Option<u8> {
        self.u8_of(tag::DELIVERY_FAILURE_REASON)
    }
}

impl fmt::Debug for Tlvs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'t> IntoIterator for &'t Tlvs<'_> {
    type Item = Tlv<'t>;
    type IntoIter = TlvIter<'t>;
    fn into_iter(self) -> TlvIter<'t> {
        self.iter()
    }
}

/// Iterator over well-formed TLV bytes.
#[derive(Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        match *self.rest {
            [t0, t1, l0, l1, ref tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([l0, l1]));
                // Tlvs are validated on construction; a short tail just ends the iteration.
                let value = tail.get(..len)?;
                self.rest = tail.get(len..).unwrap_or(&[]);
                Some(Tlv {
                    tag: u16::from_be_bytes([t0, t1]),
                    value,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_type() {
        let wire = [
            0x00, 0x1e, 0x00, 0x04, b'a', b'b', b'c', 0, 0x04, 0x27, 0x00, 0x01, 2, 0x04, 0x23, 0,
            3, 3, 0, 0x22,
        ];
        let t = Tlvs::parse(&wire).unwrap();
        assert_eq!(t.receipted_message_id(), Some(&b"abc"[..]));
        assert_eq!(t.message_state(), Some(MessageState::DELIVERED));
        assert_eq!(
            t.network_error_code(),
            Some(NetworkErrorCode {
                network_type: 3,
                error_code: 0x22
            })
        );
        assert_eq!(t.iter().count(), 3);
        assert_eq!(t.as_bytes(), &wire);
    }

    #[test]
    fn misshaped_values_stay_raw() {
        let t = Tlvs::from_pairs([
            (tag::SAR_MSG_REF_NUM, &[1u8, 2, 3][..]),
            (0x1401, &[9u8][..]),
        ])
        .unwrap();
        let v: Vec<_> = t.iter().map(|x| x.typed()).collect();
        assert_eq!(
            v,
            vec![TlvValue::Octets(&[1, 2, 3]), TlvValue::Octets(&[9])]
        );
        assert_eq!(t.sar_msg_ref_num(), None);
    }

    #[test]
    fn broken_streams() {
        assert_eq!(
            Tlvs::parse(&[0x02]).unwrap_err(),
            TlvStreamError {
                offset: 0,
                tag: None
            }
        );
        assert_eq!(
            Tlvs::parse(&[0x02, 0x0c, 0]).unwrap_err(),
            TlvStreamError {
                offset: 0,
                tag: Some(0x020c)
            }
        );
        assert_eq!(
            Tlvs::parse(&[0x02, 0x0c, 0, 1, 7, 0x02, 0x0c, 0, 2, 1]).unwrap_err(),
            TlvStreamError {
                offset: 5,
                tag: Some(0x020c)
            }
        );
    }
}
