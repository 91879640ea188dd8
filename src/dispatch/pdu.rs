//! From a stored segment to the submit_sm that carries it (SMPP 3.4 §4.4.1).
//!
//! The API's planner stores each segment as SMPP wants it in short_message with esm_class UDHI: the UDH when
//! there is one (only concatenated messages have one: national language tables are off), then the user
//! data (GSM 7-bit septets one per octet, UCS-2 big-endian, or binary octets). The carrier's `segmentation`
//! decides how the concatenation travels: in the UDH as stored, as sar_* TLVs (§5.3.2.22-24) with the UDH
//! taken off, or with the user data in message_payload (§5.3.2.32) and sar_* TLVs.

use std::borrow::Cow;

use smsbridge_protocol::smpp::{
    CancelSm, DataCoding, EsmClass, Npi, SubmitSm, TlvValue, Tlvs, Ton, tag,
};
use smsbridge_protocol::sms::Udh;

use crate::config::Segmentation;
use crate::store::Dispatch;

/// Why a stored segment cannot be sent as it is (a permanent failure of that segment).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("destination {0:?} is not an E.164 number")]
    Destination(String),
    #[error("sender {0:?} does not fit source_addr (at most 20 characters)")]
    Sender(String),
    #[error("segment {segment} of a concatenated message has no readable UDH: {detail}")]
    Udh { segment: u16, detail: String },
    #[error("segment of {0} octets does not fit short_message (at most 254)")]
    TooLong(usize),
    #[error("carrier message id {0:?} does not fit cancel_sm's message_id (1 to 64 characters)")]
    MessageId(String),
}

/// The data_coding of a stored segment: the client's for binary bodies, else from the planner's encoding.
pub fn data_coding(d: &Dispatch) -> DataCoding {
    if let Some(dc) = d.data_coding {
        return DataCoding(dc);
    }
    match d.encoding.as_str() {
        "ucs2" => DataCoding::UCS2,
        "8bit" | "binary" => DataCoding::OCTET_UNSPECIFIED_2,
        _ => DataCoding::DEFAULT,
    }
}

/// TON/NPI and digits of an address: `+` and digits is international E.164; digits only is an unknown-type
/// ISDN number (short codes, national numbers); anything else is an alphanumeric sender id.
fn address(addr: &str) -> (Ton, Npi, &str) {
    if let Some(digits) = addr.strip_prefix('+')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return (Ton::INTERNATIONAL, Npi::ISDN, digits);
    }
    if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) {
        return (Ton::UNKNOWN, Npi::ISDN, addr);
    }
    (Ton::ALPHANUMERIC, Npi::UNKNOWN, addr)
}

/// The submit_sm for one leased segment.
pub fn submit_sm(d: &Dispatch, mode: Segmentation) -> Result<SubmitSm<'static>, BuildError> {
    let (dest_ton, dest_npi, dest) = address(&d.to);
    if dest_ton != Ton::INTERNATIONAL || dest.len() > 20 {
        return Err(BuildError::Destination(d.to.clone()));
    }
    let (src_ton, src_npi, src) = address(&d.from);
    if src.len() > 20 {
        return Err(BuildError::Sender(d.from.clone()));
    }
    let concatenated = d.segment_count > 1;
    let mut esm_class = EsmClass::DEFAULT;
    let mut tlvs = Tlvs::new();
    let mut short_message: Vec<u8> = d.payload.clone();
    if concatenated {
        match mode {
            Segmentation::Udh => esm_class = EsmClass::UDHI,
            Segmentation::Sar | Segmentation::Payload => {
                let (udh, used) = Udh::parse(&d.payload).map_err(|e| BuildError::Udh {
                    segment: d.segment,
                    detail: e.to_string(),
                })?;
                let concat = udh.concat().ok_or_else(|| BuildError::Udh {
                    segment: d.segment,
                    detail: "no concatenation element".into(),
                })?;
                let user_data = d.payload.get(used..).unwrap_or_default().to_vec();
                tlvs = tlvs
                    .with(tag::SAR_MSG_REF_NUM, TlvValue::U16(concat.reference))
                    .with(tag::SAR_TOTAL_SEGMENTS, TlvValue::U8(concat.parts))
                    .with(tag::SAR_SEGMENT_SEQNUM, TlvValue::U8(concat.number));
                if mode == Segmentation::Payload {
                    tlvs = tlvs.with(tag::MESSAGE_PAYLOAD, TlvValue::Octets(&user_data));
                    short_message = Vec::new();
                } else {
                    short_message = user_data;
                }
            }
        }
    } else if mode == Segmentation::Payload {
        tlvs = tlvs.with(tag::MESSAGE_PAYLOAD, TlvValue::Octets(&d.payload));
        short_message = Vec::new();
    }
    if short_message.len() > 254 {
        return Err(BuildError::TooLong(short_message.len()));
    }
    Ok(SubmitSm {
        source_addr_ton: src_ton,
        source_addr_npi: src_npi,
        source_addr: Cow::Owned(src.as_bytes().to_vec()),
        dest_addr_ton: dest_ton,
        dest_addr_npi: dest_npi,
        destination_addr: Cow::Owned(dest.as_bytes().to_vec()),
        esm_class,
        priority_flag: d.priority.code(),
        registered_delivery: u8::from(d.want_receipt),
        data_coding: data_coding(d),
        short_message: Cow::Owned(short_message),
        tlvs: tlvs.into_owned(),
        ..SubmitSm::default()
    })
}

/// The cancel_sm (SMPP 3.4 §4.9.1) of a segment the carrier accepted as `carrier_message_id`: the same
/// service_type (empty) and source address as its submit_sm, built from the message's sender as [`submit_sm`]
/// built it, and its destination (an SMSC checks both when they are given).
pub fn cancel_sm(
    carrier_message_id: &str,
    from: &str,
    to: &str,
) -> Result<CancelSm<'static>, BuildError> {
    let (src_ton, src_npi, src) = address(from);
    if src.len() > 20 {
        return Err(BuildError::Sender(from.to_owned()));
    }
    let (dest_ton, dest_npi, dest) = address(to);
    if dest.len() > 20 {
        return Err(BuildError::Destination(to.to_owned()));
    }
    if carrier_message_id.is_empty() || carrier_message_id.len() > 64 {
        return Err(BuildError::MessageId(carrier_message_id.to_owned()));
    }
    Ok(CancelSm {
        message_id: Cow::Owned(carrier_message_id.as_bytes().to_vec()),
        source_addr_ton: src_ton,
        source_addr_npi: src_npi,
        source_addr: Cow::Owned(src.as_bytes().to_vec()),
        dest_addr_ton: dest_ton,
        dest_addr_npi: dest_npi,
        destination_addr: Cow::Owned(dest.as_bytes().to_vec()),
        ..CancelSm::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CarrierId, MessageId, Priority, UnixMs};
    use crate::store::LeaseId;

    fn dispatch(payload: Vec<u8>, count: u16, encoding: &str) -> Dispatch {
        Dispatch {
            message_id: MessageId::from_u64(1).expect("id"),
            segment: 0,
            segment_count: count,
            lease: LeaseId(1),
            carrier: CarrierId::new("sim"),
            to: "+4915112345678".into(),
            from: "ACME".into(),
            payload,
            encoding: encoding.into(),
            data_coding: None,
            priority: Priority::High,
            want_receipt: true,
            valid_until: UnixMs(0),
            attempt: 1,
            resend: false,
        }
    }

    #[test]
    fn single_gsm7_has_no_udhi_and_asks_a_receipt() {
        let sm = submit_sm(&dispatch(b"hello".to_vec(), 1, "gsm7"), Segmentation::Udh)
            .expect("buildable");
        assert_eq!(sm.esm_class, EsmClass::DEFAULT);
        assert_eq!(sm.data_coding, DataCoding::DEFAULT);
        assert_eq!(sm.registered_delivery, 1);
        assert_eq!(&*sm.destination_addr, b"4915112345678");
        assert_eq!(
            (sm.dest_addr_ton, sm.dest_addr_npi),
            (Ton::INTERNATIONAL, Npi::ISDN)
        );
        assert_eq!(
            (sm.source_addr_ton, sm.source_addr_npi, &*sm.source_addr),
            (Ton::ALPHANUMERIC, Npi::UNKNOWN, &b"ACME"[..])
        );
        assert_eq!(sm.priority_flag, 2);
    }

    #[test]
    fn concatenated_udh_or_sar() {
        let mut payload = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        payload.extend_from_slice(&[0x04, 0x36]);
        let d = dispatch(payload.clone(), 2, "ucs2");
        let udh = submit_sm(&d, Segmentation::Udh).expect("buildable");
        assert_eq!(udh.esm_class, EsmClass::UDHI);
        assert_eq!(udh.data_coding, DataCoding::UCS2);
        assert_eq!(&*udh.short_message, &payload[..]);
        let sar = submit_sm(&d, Segmentation::Sar).expect("buildable");
        assert_eq!(sar.esm_class, EsmClass::DEFAULT);
        assert_eq!(&*sar.short_message, &[0x04, 0x36]);
        assert_eq!(sar.tlvs.sar_msg_ref_num(), Some(0x2A));
        assert_eq!(sar.tlvs.sar_total_segments(), Some(2));
        assert_eq!(sar.tlvs.sar_segment_seqnum(), Some(1));
        let pl = submit_sm(&d, Segmentation::Payload).expect("buildable");
        assert!(pl.short_message.is_empty());
        assert_eq!(pl.tlvs.message_payload(), Some(&[0x04, 0x36][..]));
    }

    #[test]
    fn cancel_sm_quotes_the_source_address_as_the_submit_did() {
        let d = dispatch(b"x".to_vec(), 1, "gsm7");
        let sm = submit_sm(&d, Segmentation::Udh).expect("buildable");
        let c = cancel_sm("1a2b", &d.from, &d.to).expect("buildable");
        assert_eq!(&*c.message_id, b"1a2b");
        assert_eq!(
            (c.source_addr_ton, c.source_addr_npi, &*c.source_addr),
            (sm.source_addr_ton, sm.source_addr_npi, &*sm.source_addr)
        );
        assert_eq!(&*c.destination_addr, &*sm.destination_addr);
        assert_eq!(&*c.service_type, &*sm.service_type);
        let numeric = cancel_sm("7", "+4930123", &d.to).expect("buildable");
        assert_eq!(
            (numeric.source_addr_ton, &*numeric.source_addr),
            (Ton::INTERNATIONAL, &b"4930123"[..])
        );
        assert!(matches!(
            cancel_sm("", &d.from, &d.to),
            Err(BuildError::MessageId(_))
        ));
    }

    #[test]
    fn not_e164_destination_is_refused() {
        let mut d = dispatch(b"x".to_vec(), 1, "gsm7");
        d.to = "12345".into();
        assert!(matches!(
            submit_sm(&d, Segmentation::Udh),
            Err(BuildError::Destination(_))
        ));
    }
}
