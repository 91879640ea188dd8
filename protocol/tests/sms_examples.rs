//! Published example PDUs and spec examples, decoded field by field and encoded back.

use smsbridge_protocol::sms::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The classic "hellohello" SMS-DELIVER with its service-centre address (AT PDU mode).
#[test]
fn hellohello_deliver_with_sca() {
    let pdu = h("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    let (sca, tpdu) = decode_with_sca(&pdu).unwrap();
    let sca = sca.unwrap();
    assert_eq!(sca.ton, Ton::International);
    assert_eq!(sca.npi, Npi::Isdn);
    assert_eq!(sca.display(), "+27381000015");
    let Tpdu::Deliver(d) = &tpdu else {
        panic!("not a deliver: {tpdu:?}")
    };
    assert_eq!(tpdu.first_octet(), 0x04);
    assert!(d.tp_mms);
    assert!(!d.tp_lp && !d.tp_sri && !d.tp_rp);
    assert!(d.tp_ud.header.is_none());
    assert_eq!(d.tp_oa.number, "27838890001");
    assert_eq!(d.tp_oa.ton, Ton::Subscriber);
    assert_eq!(d.tp_oa.npi, Npi::National);
    assert_eq!(d.tp_pid, Pid(0));
    assert_eq!(d.tp_dcs, Dcs::GSM7);
    assert_eq!(d.tp_scts.to_iso8601(), "1999-03-29T15:16:59+02:00");
    assert_eq!(d.tp_scts.tz_quarters, 8);
    assert_eq!(d.text().as_deref(), Some("hellohello"));
    assert!(!d.tp_ud.truncated);
    let (again, tpdu_len) = encode_with_sca(Some(&sca), &tpdu).unwrap();
    assert_eq!(again, pdu);
    assert_eq!(tpdu_len, pdu.len() - 8);
}

/// The classic SMS-SUBMIT with a relative validity period (0xAA = 4 days) and no SCA (length 0).
#[test]
fn hellohello_submit_relative_vp() {
    let pdu = h("0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
    let (sca, tpdu) = decode_with_sca(&pdu).unwrap();
    assert_eq!(sca, None);
    let Tpdu::Submit(s) = &tpdu else {
        panic!("not a submit: {tpdu:?}")
    };
    assert_eq!(s.first_octet(), 0x11);
    assert!(!s.tp_rd && !s.tp_srr && !s.tp_rp);
    assert_eq!(s.tp_mr, 0);
    assert_eq!(s.tp_da.display(), "+46708251358");
    assert_eq!(s.tp_vp, Some(ValidityPeriod::Relative(0xAA)));
    assert_eq!(ValidityPeriod::relative_minutes(0xAA), 4 * 24 * 60);
    assert_eq!(s.tp_ud.text(s.tp_dcs).as_deref(), Some("hellohello"));
    assert_eq!(encode_with_sca(None, &tpdu).unwrap().0, pdu);
}

/// A status report: delivered, recipient +31628870634, no optional parameters.
#[test]
fn status_report_delivered() {
    let pdu = h("0006D60B911326880736F4111011719551401110117195714000");
    let (sca, tpdu) = decode_with_sca(&pdu).unwrap();
    assert_eq!(sca, None);
    let Tpdu::StatusReport(r) = &tpdu else {
        panic!("not a status report: {tpdu:?}")
    };
    assert_eq!(r.first_octet(), 0x06);
    assert!(r.tp_mms);
    assert!(!r.tp_srq);
    assert_eq!(r.tp_mr, 0xD6);
    assert_eq!(r.tp_ra.display(), "+31628870634");
    assert_eq!(r.tp_scts.to_iso8601(), "2011-01-11T17:59:15+01:00");
    assert_eq!(r.tp_dt.to_iso8601(), "2011-01-11T17:59:17+01:00");
    assert_eq!(r.tp_st, Status(0));
    assert_eq!(r.tp_st.kind(), StatusKind::Delivered);
    assert_eq!(r.tp_st.description(), "short message received by the SME");
    assert_eq!(r.tp_pi, None);
    assert_eq!(encode_with_sca(None, &tpdu).unwrap().0, pdu);
}

/// A status report with TP-PI and the optional PID / DCS / UDL / UD after it, permanent error 0x46.
#[test]
fn status_report_with_parameters() {
    let mut report = StatusReport {
        tp_mms: false,
        tp_lp: false,
        tp_srq: false,
        tp_mr: 7,
        tp_ra: Address::parse("+447700900123"),
        tp_scts: Timestamp::parse_iso8601("2026-11-23T10:15:30+08:00").unwrap(),
        tp_dt: Timestamp::parse_iso8601("2026-11-23T10:20:00-03:30").unwrap(),
        tp_st: Status(0x46),
        tp_pi: Some(0),
        tp_pid: Some(Pid(0)),
        tp_dcs: Some(Dcs::GSM7),
        tp_ud: Some(UserData::gsm7("expired", None).unwrap()),
    };
    let bytes = Tpdu::StatusReport(report.clone()).encode().unwrap();
    // first octet, MR, RA (2 + 6), SCTS, DT, ST, PI=07, PID, DCS, UDL 7, 7 septets in 7 octets.
    assert_eq!(bytes.len(), 1 + 1 + 8 + 7 + 7 + 1 + 1 + 1 + 1 + 1 + 7);
    assert_eq!(&bytes[17..24], &[0x62, 0x11, 0x32, 0x01, 0x02, 0x00, 0x49]);
    assert_eq!(bytes[24], 0x46);
    assert_eq!(&bytes[25..29], &[0x07, 0x00, 0x00, 0x07]);
    let back = StatusReport::decode(&bytes).unwrap();
    report.tp_pi = Some(0x07);
    assert_eq!(back, report);
    assert_eq!(back.tp_st.kind(), StatusKind::PermanentError);
    assert_eq!(back.tp_st.description(), "SM validity period expired");
    assert_eq!(back.tp_dt.tz_quarters, -14);
}

/// TS 23.040 §9.2.3.24: a concatenated GSM 7-bit part; the septets start after one fill bit.
#[test]
fn concatenated_part_fill_bits() {
    let udh = Udh {
        elements: vec![InformationElement::Concat8 {
            reference: 0xCC,
            parts: 2,
            number: 1,
        }],
    };
    let d = Deliver {
        tp_mms: true,
        tp_lp: false,
        tp_sri: false,
        tp_rp: false,
        tp_oa: Address::parse("+15551234567"),
        tp_pid: Pid(0),
        tp_dcs: Dcs::GSM7,
        tp_scts: Timestamp::parse_iso8601("2026-11-23T10:15:30+08:00").unwrap(),
        tp_ud: UserData::gsm7("A", Some(udh)).unwrap(),
    };
    let bytes = Tpdu::Deliver(d.clone()).encode().unwrap();
    // UDHI set; UDL = 7 header septets + 1; the UDH; 'A' (0x41) shifted left by one fill bit = 0x82.
    assert_eq!(bytes[0], 0x44);
    let tail = &bytes[bytes.len() - 8..];
    assert_eq!(tail, &[0x08, 0x05, 0x00, 0x03, 0xCC, 0x02, 0x01, 0x82]);
    let back = Deliver::decode(&bytes).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.text().as_deref(), Some("A"));
}

/// An alphanumeric sender: TON 101, GSM 7-bit packed, length in semi-octets.
#[test]
fn alphanumeric_originator() {
    // OA: 0x0E semi-octets (8 septets "MyBank24" -> 56 bits -> 7 octets), type 0xD0.
    let oa = Address {
        ton: Ton::Alphanumeric,
        npi: Npi::Unknown,
        number: "MyBank24".into(),
    };
    let mut enc = Vec::new();
    oa.encode_tp(&mut enc).unwrap();
    assert_eq!(enc[..2], [0x0E, 0xD0]);
    assert_eq!(enc.len(), 2 + 7);
    let mut pdu = h("04");
    pdu.extend_from_slice(&enc);
    pdu.extend_from_slice(&h("00006211320151232302C834"));
    let Tpdu::Deliver(d) = Tpdu::decode(&pdu).unwrap() else {
        panic!("not a deliver")
    };
    assert_eq!(d.tp_oa.ton, Ton::Alphanumeric);
    assert_eq!(d.tp_oa.number, "MyBank24");
    assert_eq!(d.tp_scts.to_iso8601(), "2026-11-23T10:15:32+08:00");
    assert_eq!(d.text().as_deref(), Some("Hi"));
}

/// A TP-UDL that claims more than the TPDU carries decodes what is there and says so.
#[test]
fn truncated_user_data_is_flagged() {
    let mut pdu = h("040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    // 9 octets of user data cut to 6 = 48 bits: six whole septets.
    pdu.truncate(pdu.len() - 3);
    let Tpdu::Deliver(d) = Tpdu::decode(&pdu).unwrap() else {
        panic!("not a deliver")
    };
    assert!(d.tp_ud.truncated);
    assert_eq!(d.text().as_deref(), Some("helloh"));
}

/// UCS-2 with a surrogate pair, and 8-bit data with an application port.
#[test]
fn ucs2_and_ports() {
    let udh = Udh {
        elements: vec![InformationElement::Ports16 {
            destination: 2948,
            source: 9200,
        }],
    };
    let s = Submit::new(
        Address::parse("+33612345678"),
        Dcs::EIGHT_BIT,
        UserData {
            header: Some(udh),
            body: vec![1, 2, 3],
            truncated: false,
        },
    );
    let bytes = Tpdu::Submit(s.clone()).encode().unwrap();
    assert_eq!(&bytes[bytes.len() - 11..], &h("0A0605040B8423F0010203")[..]);
    assert_eq!(Tpdu::decode(&bytes).unwrap(), Tpdu::Submit(s));

    let u = Submit::new(
        Address::parse("+33612345678"),
        Dcs::UCS2,
        UserData::ucs2("😀", None),
    );
    let bytes = Tpdu::Submit(u).encode().unwrap();
    assert_eq!(&bytes[bytes.len() - 5..], &h("04D83DDE00")[..]);
    let Tpdu::Submit(back) = Tpdu::decode(&bytes).unwrap() else {
        panic!("not a submit")
    };
    assert_eq!(back.tp_ud.text(back.tp_dcs).as_deref(), Some("😀"));
}

/// Malformed input is an error naming the field, never a panic.
#[test]
fn malformed_inputs_are_errors() {
    assert_eq!(
        Tpdu::decode(&[]),
        Err(DecodeError::Truncated {
            field: "first octet",
            offset: 0
        })
    );
    assert!(matches!(
        Tpdu::decode(&[0x03]),
        Err(DecodeError::Invalid {
            field: "TP-MTI",
            ..
        })
    ));
    assert!(matches!(
        Tpdu::decode(&h("040BC8723888")),
        Err(DecodeError::Truncated { field: "TP-OA", .. })
    ));
    assert!(matches!(
        decode_with_sca(&h("0791")),
        Err(DecodeError::Truncated { field: "SCA", .. })
    ));
}
