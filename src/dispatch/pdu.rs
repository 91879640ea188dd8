//! From a stored segment to the submit_sm that carries it (SMPP 3.4 §4.4.1), or to the SMS-SUBMIT TPDU a
//! GSM modem sends (3GPP TS 23.040 §9.2.2.2).
//!
//! The API's planner stores each segment as SMPP wants it in short_message with esm_class UDHI: the UDH when
//! there is one (only concatenated messages have one: national language tables are off), then the user
//! data (GSM 7-bit septets one per octet, UCS-2 big-endian, or binary octets). The carrier's `segmentation`
//! decides how the concatenation travels: in the UDH as stored, as sar_* TLVs (§5.3.2.22-24) with the UDH
//! taken off, or with the user data in message_payload (§5.3.2.32) and sar_* TLVs. A modem always carries
//! the concatenation in the UDH (TS 23.040 §9.2.3.24.1): the carrier's `segmentation` does not apply.
//!
//! Validity: unless the carrier's `send_validity` is off, the carrier is told how long the message may
//! still be delivered, the time left until its `valid_until` when the PDU is built, rounded down, so it
//! stops trying when the client's deadline passes instead of after its own default validity. Both formats
//! are relative (no clock agreement with the carrier is needed), and the carrier counts from when it reads
//! the PDU, a little after it was built: the link's window slot is taken before building, so that is the
//! time to write it and cross the network (or for a modem, `AT+CMGS` and the radio): milliseconds to
//! seconds, which the carrier's deadline may pass `valid_until` by where the rounding down (to the second
//! for SMPP, to the table's step for TP-VP) happened to take off less. The formats' floors are the other
//! way the carrier can end up later than the deadline (see [`smpp_validity`] and [`tp_vp`]).

use std::borrow::Cow;
use std::time::Duration;

use smsbridge_protocol::smpp::{
    CancelSm, DataCoding, EsmClass, Npi, RelativeTime, SmppTime, SubmitSm, TlvValue, Tlvs, Ton, tag,
};
use smsbridge_protocol::sms::{self, Dcs, Submit, Tpdu, Udh, UserData, ValidityPeriod};

use crate::config::Segmentation;
use crate::model::UnixMs;
use crate::store::Dispatch;

/// The shortest validity_period a submit_sm carries: a relative time of zero would ask the SMSC to give up
/// before trying, or be refused (ESME_RINVEXPIRY).
pub const MIN_SMPP_VALIDITY: Duration = Duration::from_secs(1);

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
    #[error("data_coding {0:#04x} has no TP-DCS a modem can send (TS 23.038 §4)")]
    DataCoding(u8),
    #[error("segment does not fit an SMS-SUBMIT: {0}")]
    Tpdu(String),
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

/// How long the segment may still be delivered at `now`: until its valid_until, zero once that has passed.
pub fn remaining(d: &Dispatch, now: UnixMs) -> Duration {
    let ms = d.valid_until.0.saturating_sub(now.0);
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The validity_period (SMPP 3.4 §5.2.16, relative time format §7.1.1.2) for `remaining`: whole seconds
/// rounded down, so the SMSC never holds the message past the deadline, and at least
/// [`MIN_SMPP_VALIDITY`]. Written in days, hours, minutes and seconds only (years and months are calendar
/// units each SMSC measures its own way), which caps it at 99 days 23:59:59; messages live 30 days at most.
pub fn smpp_validity(remaining: Duration) -> SmppTime {
    SmppTime::Relative(RelativeTime::from_duration(
        remaining.max(MIN_SMPP_VALIDITY),
    ))
}

/// The TP-VP (TS 23.040 §9.2.3.12.1, relative format, TP-VPF 10) for `remaining`: the longest period of
/// the table that does not exceed it, so the SMSC never holds the message past the deadline. The table
/// starts at 5 minutes: with less than 5 minutes left the SMSC gets 5 minutes and may deliver up to that
/// much after the deadline (the gateway itself does not send after it). Leaving TP-VP out instead would
/// give the SMSC's default, usually days.
pub fn tp_vp(remaining: Duration) -> ValidityPeriod {
    let minutes = u32::try_from(remaining.as_secs() / 60).unwrap_or(u32::MAX);
    ValidityPeriod::Relative(ValidityPeriod::relative_at_most_minutes(minutes))
}

/// The submit_sm for one leased segment; its validity_period from `remaining` ([`smpp_validity`]) when
/// given, empty (the SMSC's default) when not.
pub fn submit_sm(
    d: &Dispatch,
    mode: Segmentation,
    remaining: Option<Duration>,
) -> Result<SubmitSm<'static>, BuildError> {
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
        validity_period: match remaining {
            Some(r) => Cow::Owned(smpp_validity(r).to_bytes().to_vec()),
            None => Cow::Borrowed(&[]),
        },
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

/// The TP-DCS (TS 23.038 §4) of an SMPP data_coding (SMPP 3.4 §5.2.19): the GSM values (0x00 default
/// alphabet, 0x08 UCS-2, 0x10-0x3F general coding, 0xF0-0xFF message class) mean the same in both; SMPP's
/// 0x02 and 0x04 are 8-bit data. The SMPP-only alphabets (IA5, Latin-1, JIS, ...) have no TP-DCS.
fn tp_dcs(dc: DataCoding) -> Result<Dcs, BuildError> {
    match dc.0 {
        0x00 | 0x08 | 0x10..=0x3F | 0xF0..=0xFF => Ok(Dcs(dc.0)),
        0x02 | 0x04 => Ok(Dcs(0x04)),
        other => Err(BuildError::DataCoding(other)),
    }
}

/// The SMS-SUBMIT TPDU (without service-centre address) that sends one leased segment through a GSM modem:
/// the stored UDH (concatenated segments only) and user data, the TP-DCS of its data coding, TP-SRR when a
/// receipt is wanted, a relative TP-VP from `remaining` ([`tp_vp`]) when given (none, TP-VPF 00, when not).
/// TP-MR is 0: the modem assigns its own and answers it in `+CMGS: <mr>`. There is no sender field: the
/// network sends it from the SIM's number, whatever the message's `from`.
pub fn submit_tpdu(d: &Dispatch, remaining: Option<Duration>) -> Result<Vec<u8>, BuildError> {
    let dest = sms::Address::parse(&d.to);
    if dest.ton != sms::Ton::International {
        return Err(BuildError::Destination(d.to.clone()));
    }
    let dcs = tp_dcs(data_coding(d))?;
    let (header, body) = if d.segment_count > 1 {
        let (udh, used) = Udh::parse(&d.payload).map_err(|e| BuildError::Udh {
            segment: d.segment,
            detail: e.to_string(),
        })?;
        (Some(udh), d.payload.get(used..).unwrap_or_default())
    } else {
        (None, &d.payload[..])
    };
    // The planner stores GSM 7-bit text one septet per octet; anything above 0x7F would not pack.
    if dcs.udl_in_septets() && body.iter().any(|&b| b > 0x7F) {
        return Err(BuildError::Tpdu(
            "GSM 7-bit user data holds an octet above 0x7f".into(),
        ));
    }
    let mut submit = Submit::new(
        dest,
        dcs,
        UserData {
            header,
            body: body.to_vec(),
            truncated: false,
        },
    );
    submit.tp_srr = d.want_receipt;
    submit.tp_vp = remaining.map(tp_vp);
    Tpdu::Submit(submit)
        .encode()
        .map_err(|e| BuildError::Tpdu(e.to_string()))
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
        let sm = submit_sm(
            &dispatch(b"hello".to_vec(), 1, "gsm7"),
            Segmentation::Udh,
            None,
        )
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
        assert!(sm.validity_period.is_empty(), "send_validity off");
    }

    #[test]
    fn remaining_is_the_time_to_valid_until_and_never_negative() {
        let mut d = dispatch(b"x".to_vec(), 1, "gsm7");
        d.valid_until = UnixMs(1_000_000);
        assert_eq!(
            remaining(&d, UnixMs(400_250)),
            Duration::from_millis(599_750)
        );
        assert_eq!(remaining(&d, UnixMs(1_000_000)), Duration::ZERO);
        assert_eq!(remaining(&d, UnixMs(2_000_000)), Duration::ZERO);
        d.valid_until = UnixMs(i64::MAX);
        assert_eq!(
            remaining(&d, UnixMs(i64::MIN)),
            Duration::from_millis(i64::MAX as u64)
        );
    }

    #[test]
    fn submit_sm_validity_is_the_time_left_rounded_down_in_relative_format() {
        let d = dispatch(b"hello".to_vec(), 1, "gsm7");
        let secs = Duration::from_secs;
        // (time left, validity_period): whole seconds rounded down, at least 1s, days at most 99.
        let cases: [(Duration, &[u8; 16]); 8] = [
            (Duration::ZERO, b"000000000001000R"),
            (Duration::from_millis(999), b"000000000001000R"),
            (Duration::from_millis(1_999), b"000000000001000R"),
            (Duration::from_millis(599_750), b"000000000959000R"),
            (secs(600), b"000000001000000R"),
            (
                secs(2 * 86_400 + 3 * 3_600 + 4 * 60 + 5),
                b"000002030405000R",
            ),
            (secs(30 * 86_400), b"000030000000000R"),
            (secs(400 * 86_400), b"000099235959000R"),
        ];
        for (left, want) in cases {
            let sm = submit_sm(&d, Segmentation::Udh, Some(left)).expect("buildable");
            assert_eq!(&*sm.validity_period, want, "{left:?}");
            // What the SMSC reads back: a relative time no longer than what is left (but the 1s floor).
            let Ok(Some(SmppTime::Relative(r))) = SmppTime::parse(&sm.validity_period) else {
                panic!("not a relative time: {:?}", sm.validity_period);
            };
            let exact = r.exact().expect("days and smaller units only");
            assert!(exact <= left.max(MIN_SMPP_VALIDITY), "{left:?}: {exact:?}");
        }
        // Every segmentation mode carries it.
        let mut payload = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        payload.extend_from_slice(&[0x04, 0x36]);
        let multi = dispatch(payload, 2, "ucs2");
        for mode in [Segmentation::Udh, Segmentation::Sar, Segmentation::Payload] {
            let sm = submit_sm(&multi, mode, Some(secs(60))).expect("buildable");
            assert_eq!(&*sm.validity_period, b"000000000100000R", "{mode:?}");
        }
    }

    #[test]
    fn tpdu_validity_is_a_relative_tp_vp_rounded_down_to_the_table() {
        let d = dispatch(b"hello".to_vec(), 1, "gsm7");
        let mins = |m: u64| Duration::from_secs(m * 60);
        // (time left, TP-VP octet, its minutes): the longest step of TS 23.040 §9.2.3.12.1 not past the
        // deadline; less than 5 minutes left still gets 5 minutes, the shortest step.
        let cases = [
            (Duration::ZERO, 0, 5),
            (Duration::from_secs(299), 0, 5),
            (mins(5), 0, 5),
            (Duration::from_secs(599), 0, 5),
            (mins(10), 1, 10),
            (mins(120) - Duration::from_millis(1), 22, 115),
            (mins(120), 23, 120),
            (mins(13 * 60 + 29), 145, 13 * 60),
            (mins(48 * 60) - Duration::from_secs(1), 167, 24 * 60),
            (mins(48 * 60), 168, 48 * 60),
            (mins(30 * 24 * 60), 196, 30 * 24 * 60),
        ];
        for (left, octet, minutes) in cases {
            assert_eq!(tp_vp(left), ValidityPeriod::Relative(octet), "{left:?}");
            assert_eq!(ValidityPeriod::relative_minutes(octet), minutes);
            let tpdu = submit_tpdu(&d, Some(left)).expect("buildable");
            // First octet: SMS-SUBMIT, TP-VPF 10 (relative), TP-SRR; TP-VP is the octet after TP-DCS.
            assert_eq!(tpdu[0], 0x31, "{left:?}");
            assert_eq!(tpdu[..4], [0x31, 0x00, 0x0D, 0x91]);
            assert_eq!(tpdu[4 + 7 + 2], octet, "{left:?}");
            let s = decoded(&tpdu);
            assert_eq!(s.tp_vp, Some(ValidityPeriod::Relative(octet)));
            assert_eq!(s.tp_ud.text(s.tp_dcs).as_deref(), Some("hello"));
        }
        assert_eq!(
            decoded(&submit_tpdu(&d, None).expect("buildable")).tp_vp,
            None
        );
    }

    #[test]
    fn concatenated_udh_or_sar() {
        let mut payload = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        payload.extend_from_slice(&[0x04, 0x36]);
        let d = dispatch(payload.clone(), 2, "ucs2");
        let udh = submit_sm(&d, Segmentation::Udh, None).expect("buildable");
        assert_eq!(udh.esm_class, EsmClass::UDHI);
        assert_eq!(udh.data_coding, DataCoding::UCS2);
        assert_eq!(&*udh.short_message, &payload[..]);
        let sar = submit_sm(&d, Segmentation::Sar, None).expect("buildable");
        assert_eq!(sar.esm_class, EsmClass::DEFAULT);
        assert_eq!(&*sar.short_message, &[0x04, 0x36]);
        assert_eq!(sar.tlvs.sar_msg_ref_num(), Some(0x2A));
        assert_eq!(sar.tlvs.sar_total_segments(), Some(2));
        assert_eq!(sar.tlvs.sar_segment_seqnum(), Some(1));
        let pl = submit_sm(&d, Segmentation::Payload, None).expect("buildable");
        assert!(pl.short_message.is_empty());
        assert_eq!(pl.tlvs.message_payload(), Some(&[0x04, 0x36][..]));
    }

    #[test]
    fn cancel_sm_quotes_the_source_address_as_the_submit_did() {
        let d = dispatch(b"x".to_vec(), 1, "gsm7");
        let sm = submit_sm(&d, Segmentation::Udh, None).expect("buildable");
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
            submit_sm(&d, Segmentation::Udh, None),
            Err(BuildError::Destination(_))
        ));
    }

    fn decoded(tpdu: &[u8]) -> Submit {
        match Tpdu::decode(tpdu) {
            Ok(Tpdu::Submit(s)) => s,
            other => panic!("not an SMS-SUBMIT: {other:?}"),
        }
    }

    #[test]
    fn single_gsm7_tpdu_asks_a_report_and_has_no_udh() {
        // "hello" as septets, one per octet, as the planner stores it.
        let d = dispatch(b"hello".to_vec(), 1, "gsm7");
        let tpdu = submit_tpdu(&d, None).expect("buildable");
        // First octet: SMS-SUBMIT, TP-SRR, no TP-UDHI, no TP-VP; TP-MR 0; TP-DA 13 digits international.
        assert_eq!(tpdu[..4], [0x21, 0x00, 0x0D, 0x91]);
        let s = decoded(&tpdu);
        assert!(s.tp_srr);
        assert_eq!(s.tp_da.display(), "+4915112345678");
        assert_eq!(s.tp_dcs, Dcs(0x00));
        assert_eq!(s.tp_ud.header, None);
        assert_eq!(s.tp_ud.text(s.tp_dcs).as_deref(), Some("hello"));
    }

    #[test]
    fn concatenated_ucs2_tpdu_keeps_the_udh() {
        let mut payload = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        payload.extend_from_slice(&[0x04, 0x36, 0x00, 0x41]);
        let mut d = dispatch(payload, 2, "ucs2");
        d.want_receipt = false;
        let s = decoded(&submit_tpdu(&d, None).expect("buildable"));
        assert!(!s.tp_srr);
        assert_eq!(s.tp_dcs, Dcs(0x08));
        let concat = s
            .tp_ud
            .header
            .as_ref()
            .and_then(Udh::concat)
            .expect("concat");
        assert_eq!(
            (concat.reference, concat.parts, concat.number),
            (0x2A, 2, 1)
        );
        assert_eq!(s.tp_ud.text(s.tp_dcs).as_deref(), Some("жA"));
    }

    #[test]
    fn concatenated_gsm7_tpdu_packs_after_the_udh() {
        let mut payload = vec![0x05, 0x00, 0x03, 0x07, 0x03, 0x03];
        payload.extend_from_slice(b"tail");
        let s = decoded(&submit_tpdu(&dispatch(payload, 3, "gsm7"), None).expect("buildable"));
        let concat = s
            .tp_ud
            .header
            .as_ref()
            .and_then(Udh::concat)
            .expect("concat");
        assert_eq!((concat.parts, concat.number), (3, 3));
        assert_eq!(s.tp_ud.text(s.tp_dcs).as_deref(), Some("tail"));
    }

    #[test]
    fn tpdu_refuses_what_a_modem_cannot_send() {
        let mut d = dispatch(b"x".to_vec(), 1, "gsm7");
        d.to = "ACME".into();
        assert!(matches!(
            submit_tpdu(&d, None),
            Err(BuildError::Destination(_))
        ));
        let mut d = dispatch(b"x".to_vec(), 1, "binary");
        d.data_coding = Some(0x03); // SMPP Latin-1: no TP-DCS
        assert_eq!(submit_tpdu(&d, None), Err(BuildError::DataCoding(0x03)));
        let mut d = dispatch(vec![0xAB; 10], 1, "binary");
        d.data_coding = Some(0x04);
        assert_eq!(
            decoded(&submit_tpdu(&d, None).expect("8-bit")).tp_dcs,
            Dcs(0x04)
        );
        let d = dispatch(vec![0x80], 1, "gsm7");
        assert!(matches!(submit_tpdu(&d, None), Err(BuildError::Tpdu(_))));
        let d = dispatch(vec![b'a'; 161], 1, "gsm7");
        assert!(matches!(submit_tpdu(&d, None), Err(BuildError::Tpdu(_))));
    }
}
