//! Byte-level vectors built from the field tables of SMPP 3.4 §4, for every operation, the SMSC quirks
//! and every error kind.

use super::*;

/// Header (command_length computed from the body) + body.
fn pdu(command_id: u32, status: u32, seq: u32, body: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = body.concat();
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&body);
    v
}

/// Decodes, checks the re-encoding is byte-identical, returns the PDU.
fn roundtrip(bytes: &[u8]) -> Pdu<'static> {
    let p = Pdu::decode(bytes).unwrap_or_else(|e| panic!("decode failed: {e}"));
    assert_eq!(
        p.to_vec(),
        bytes,
        "re-encoding differs for {:?}",
        p.command_id()
    );
    assert_eq!(p.encoded_len(), bytes.len());
    p.validate().unwrap();
    p.into_owned()
}

fn err(bytes: &[u8]) -> PduError {
    Pdu::decode(bytes).expect_err("should not decode")
}

#[test]
fn enquire_link_bytes() {
    let wire = hex::decode("00000010000000150000000000000001").unwrap();
    let p = roundtrip(&wire);
    assert_eq!(p, Pdu::new(1, Body::EnquireLink));
    let resp = p.response_for(CommandStatus::ESME_ROK).unwrap();
    assert_eq!(
        hex::encode(resp.to_vec()),
        "00000010800000150000000000000001"
    );
}

#[test]
fn bind_transmitter_and_resp() {
    let wire = pdu(
        0x02,
        0,
        1,
        &[b"smsbridge\0", b"secret\0", b"VMA\0", &[0x34, 1, 1], b"\0"],
    );
    let p = roundtrip(&wire);
    let Body::BindTransmitter(b) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(&*b.system_id, b"smsbridge");
    assert_eq!(&*b.password, b"secret");
    assert_eq!(&*b.system_type, b"VMA");
    assert_eq!(b.interface_version, 0x34);
    assert_eq!((b.addr_ton, b.addr_npi), (Ton::INTERNATIONAL, Npi::ISDN));
    assert!(b.address_range.is_empty());
    for id in [0x01, 0x09] {
        let wire = pdu(
            id,
            0,
            2,
            &[b"a\0", b"b\0", b"\0", &[0x34, 0, 0], b"1234*\0"],
        );
        let p = roundtrip(&wire);
        assert_eq!(p.command_id().as_u32(), id);
    }

    // bind_transmitter_resp with sc_interface_version.
    let wire = pdu(0x8000_0002, 0, 1, &[b"SMSC\0", &[0x02, 0x10, 0, 1, 0x34]]);
    let p = roundtrip(&wire);
    let Body::BindTransmitterResp(r) = &p.body else {
        panic!()
    };
    assert_eq!(r.system_id.as_deref(), Some(&b"SMSC"[..]));
    assert_eq!(r.tlvs.sc_interface_version(), Some(0x34));
    for id in [0x8000_0001, 0x8000_0009] {
        roundtrip(&pdu(id, 0, 3, &[b"X\0"]));
    }
}

#[test]
fn quirk_error_resp_without_body() {
    // bind_transceiver_resp ESME_RINVPASWD with no body at all.
    let wire = pdu(0x8000_0009, 0x0E, 5, &[]);
    let p = roundtrip(&wire);
    assert_eq!(p.command_status, CommandStatus::ESME_RINVPASWD);
    assert_eq!(
        p.body,
        Body::BindTransceiverResp(BindResp {
            system_id: None,
            tlvs: Tlvs::new()
        })
    );
    // generic_nack, submit_sm_resp, query_sm_resp and submit_multi_resp likewise.
    for id in [
        0x8000_0000u32,
        0x8000_0004,
        0x8000_0003,
        0x8000_0021,
        0x8000_0005,
        0x8000_0103,
    ] {
        let wire = pdu(id, 0x58, 9, &[]);
        let p = roundtrip(&wire);
        assert_eq!(p.command_status.class(), StatusClass::Transient);
    }
    // submit_sm_resp with an error status and a message_id body anyway.
    let wire = pdu(0x8000_0004, 0x45, 6, &[b"abc123\0"]);
    let p = roundtrip(&wire);
    assert_eq!(
        p.body,
        Body::SubmitSmResp(MessageIdResp {
            message_id: Some(b"abc123"[..].into()),
            tlvs: Tlvs::new()
        })
    );
    // Trailing TLVs on responses, including those with no body fields.
    let wire = pdu(
        0x8000_0004,
        0,
        7,
        &[b"id7\0", &[0x00, 0x1d, 0, 3, b'o', b'k', 0]],
    );
    let p = roundtrip(&wire);
    assert_eq!(
        p.tlvs()
            .unwrap()
            .get_typed(tag::ADDITIONAL_STATUS_INFO_TEXT),
        Some(TlvValue::CString(b"ok"))
    );
    roundtrip(&pdu(0x8000_0015, 0, 8, &[&[0x14, 0x01, 0, 2, 0xAB, 0xCD]]));
    roundtrip(&pdu(0x8000_0000, 3, 8, &[&[0x00, 0x1d, 0, 1, 0]]));
}

fn submit_sm_body<'a>(sm: &'a [u8], tlvs: &'a [u8]) -> Vec<&'a [u8]> {
    vec![
        b"CMT\0",                  // service_type
        &[1, 1],                   // source_addr_ton, source_addr_npi
        b"447700900001\0",         // source_addr
        &[1, 1],                   // dest_addr_ton, dest_addr_npi
        b"447700900002\0",         // destination_addr
        &[0x00, 0x00, 0x01],       // esm_class, protocol_id, priority_flag
        b"\0",                     // schedule_delivery_time
        b"000001000000000R\0",     // validity_period (relative)
        &[0x01, 0x00, 0x00, 0x00], // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
        sm,
        tlvs,
    ]
}

#[test]
fn submit_sm_fields() {
    let sm = [&[11u8][..], b"Hello world"].concat();
    let tl = [
        0x02, 0x0c, 0, 2, 0x12, 0x34, 0x02, 0x0e, 0, 1, 3, 0x02, 0x0f, 0, 1, 1,
    ];
    let wire = pdu(0x04, 0, 0x7fff_ffff, &submit_sm_body(&sm, &tl));
    let p = roundtrip(&wire);
    let Body::SubmitSm(s) = &p.body else { panic!() };
    assert_eq!(&*s.service_type, b"CMT");
    assert_eq!(&*s.source_addr, b"447700900001");
    assert_eq!(&*s.destination_addr, b"447700900002");
    assert_eq!(s.priority_flag, 1);
    assert_eq!(&*s.validity_period, b"000001000000000R");
    assert_eq!(s.registered_delivery, 1);
    assert_eq!(&*s.short_message, b"Hello world");
    assert_eq!(s.tlvs.sar_msg_ref_num(), Some(0x1234));
    assert_eq!(s.tlvs.sar_total_segments(), Some(3));
    assert_eq!(s.tlvs.sar_segment_seqnum(), Some(1));
    assert_eq!(p.sequence_number(), 0x7fff_ffff);
    // Decoding borrows from the input instead of copying.
    let Body::SubmitSm(b) = Pdu::decode(&wire).unwrap().body else {
        panic!()
    };
    assert!(matches!(b.short_message, std::borrow::Cow::Borrowed(_)));
    assert!(matches!(b.tlvs.as_bytes().as_ptr(), ptr if wire.as_ptr_range().contains(&ptr)));

    let resp = p.response_for(CommandStatus::ESME_RTHROTTLED).unwrap();
    assert_eq!(resp.to_vec(), pdu(0x8000_0004, 0x58, 0x7fff_ffff, &[]));
}

#[test]
fn deliver_sm_receipt() {
    let text = b"id:0123456789 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Hello";
    let sm = [&[text.len() as u8][..], text].concat();
    let tl = [
        &[0x00, 0x1e, 0, 11][..],
        b"0123456789\0",
        &[0x04, 0x27, 0, 1, 2],
        &[0x04, 0x23, 0, 3, 3, 0x00, 0x22],
    ]
    .concat();
    let mut body = submit_sm_body(&sm, &tl);
    body[5] = &[0x04, 0x00, 0x00]; // esm_class = SMSC delivery receipt
    let wire = pdu(0x05, 0, 42, &body);
    let p = roundtrip(&wire);
    assert!(p.is_delivery_receipt());
    assert_eq!(p.receipted_message_id(), Some(&b"0123456789"[..]));
    assert_eq!(p.message_state(), Some(MessageState::DELIVERED));
    assert_eq!(
        p.network_error_code(),
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 0x22
        })
    );
    let owned: Pdu<'static> = p.clone().into_owned();
    drop(wire);
    assert_eq!(owned.receipted_message_id(), Some(&b"0123456789"[..]));
    assert_eq!(owned.as_deliver_sm().unwrap().payload(), text);
    let resp = owned.response_for(CommandStatus::ESME_ROK).unwrap();
    assert_eq!(resp.command_id(), CommandId::DeliverSmResp);
    // deliver_sm_resp with the (unused) NULL message_id.
    roundtrip(&pdu(0x8000_0005, 0, 42, &[b"\0"]));
}

#[test]
fn submit_multi_and_resp() {
    let wire = pdu(
        0x21,
        0,
        3,
        &[
            b"\0",
            &[5, 0],
            b"BRAND\0",
            &[3],       // number_of_dests
            &[1, 1, 1], // dest_flag SME, ton, npi
            b"447700900003\0",
            &[2], // dest_flag distribution list
            b"friends\0",
            &[1, 2, 8],
            b"12345\0",
            &[0x40, 0, 0],
            b"\0",
            b"\0",
            &[0, 0, 8, 0],
            &[4, 0xd8, 0x3d, 0xde, 0x00],
            &[0x04, 0x24, 0, 2, 0xab, 0xcd],
        ],
    );
    let p = roundtrip(&wire);
    let Body::SubmitMulti(m) = &p.body else {
        panic!()
    };
    assert_eq!(m.dest_address.len(), 3);
    let dests: Vec<_> = m.dest_address.iter().collect();
    assert_eq!(dests.len(), 3);
    assert_eq!(
        dests[0],
        DestAddress::Sme {
            dest_addr_ton: Ton(1),
            dest_addr_npi: Npi(1),
            destination_addr: b"447700900003"[..].into()
        }
    );
    assert_eq!(
        dests[1],
        DestAddress::DistributionList {
            dl_name: b"friends"[..].into()
        }
    );
    assert_eq!(dests[2].dest_flag(), 1);
    assert!(m.esm_class.udhi());
    assert_eq!(m.data_coding, DataCoding::UCS2);
    assert_eq!(m.tlvs.message_payload(), Some(&[0xab, 0xcd][..]));

    let wire = pdu(
        0x8000_0021,
        0,
        3,
        &[
            b"MID1\0",
            &[2],
            &[1, 1],
            b"447700900003\0",
            &0x0000_000Bu32.to_be_bytes(),
            &[0, 0],
            b"x\0",
            &0x45u32.to_be_bytes(),
        ],
    );
    let p = roundtrip(&wire);
    let Body::SubmitMultiResp(r) = &p.body else {
        panic!()
    };
    assert_eq!(r.message_id.as_deref(), Some(&b"MID1"[..]));
    let u: Vec<_> = r.unsuccess_sme.as_ref().unwrap().iter().collect();
    assert_eq!(r.unsuccess_sme.as_ref().unwrap().len(), 2);
    assert_eq!(u.len(), 2);
    assert_eq!(u[0].error_status_code, CommandStatus::ESME_RINVDSTADR);
    assert_eq!(&*u[1].destination_addr, b"x");
    assert_eq!(u[1].error_status_code, CommandStatus::ESME_RSUBMITFAIL);
    // message_id only (no_unsuccess absent) still round-trips.
    roundtrip(&pdu(0x8000_0021, 0x45, 4, &[b"MID2\0"]));
}

#[test]
fn data_sm_and_resp() {
    let long = [b'9'; 30];
    let wire = pdu(
        0x103,
        0,
        11,
        &[
            b"WAP\0",
            &[1, 1],
            &long,
            b"\0",
            &[2, 8],
            b"12345\0",
            &[0, 1, 4],
            &[0x04, 0x24, 0, 3, 1, 2, 3],
            &[0x02, 0x0a, 0, 2, 0x0b, 0x84],
        ],
    );
    let p = roundtrip(&wire);
    let Body::DataSm(d) = &p.body else { panic!() };
    assert_eq!(d.source_addr.len(), 30);
    assert_eq!(d.data_coding, DataCoding(4));
    assert_eq!(d.tlvs.message_payload(), Some(&[1, 2, 3][..]));
    assert_eq!(d.tlvs.source_port(), Some(2948));
    let p = roundtrip(&pdu(
        0x8000_0103,
        0xFE,
        11,
        &[b"m1\0", &[0x04, 0x25, 0, 1, 3]],
    ));
    assert_eq!(p.tlvs().unwrap().delivery_failure_reason(), Some(3));
    assert_eq!(p.command_status.name(), "ESME_RDELIVERYFAILURE");
}

#[test]
fn query_cancel_replace_alert_outbind_unbind() {
    let p = roundtrip(&pdu(
        0x03,
        0,
        20,
        &[b"MSG-77\0", &[1, 1], b"447700900001\0"],
    ));
    let Body::QuerySm(q) = &p.body else { panic!() };
    assert_eq!(&*q.message_id, b"MSG-77");

    let p = roundtrip(&pdu(
        0x8000_0003,
        0,
        20,
        &[b"MSG-77\0", b"250101120000000+\0", &[2, 0]],
    ));
    let Body::QuerySmResp(q) = &p.body else {
        panic!()
    };
    assert_eq!(q.final_date.as_deref(), Some(&b"250101120000000+"[..]));
    assert_eq!(q.message_state, Some(MessageState::DELIVERED));
    assert_eq!(q.error_code, Some(0));

    let p = roundtrip(&pdu(
        0x08,
        0,
        21,
        &[
            b"\0",
            b"MSG-77\0",
            &[1, 1],
            b"447700900001\0",
            &[1, 1],
            b"447700900002\0",
        ],
    ));
    let Body::CancelSm(c) = &p.body else { panic!() };
    assert_eq!(&*c.destination_addr, b"447700900002");
    roundtrip(&pdu(0x8000_0008, 0x11, 21, &[]));

    let p = roundtrip(&pdu(
        0x07,
        0,
        22,
        &[
            b"MSG-77\0",
            &[1, 1],
            b"447700900001\0",
            b"\0",
            b"\0",
            &[1, 0],
            &[3, b'n', b'e', b'w'],
        ],
    ));
    let Body::ReplaceSm(r) = &p.body else {
        panic!()
    };
    assert_eq!(&*r.short_message, b"new");
    roundtrip(&pdu(0x8000_0007, 0, 22, &[]));

    let p = roundtrip(&pdu(
        0x102,
        0,
        23,
        &[
            &[1, 1],
            b"447700900001\0",
            &[0, 0],
            b"esme\0",
            &[0x04, 0x22, 0, 1, 0],
        ],
    ));
    let Body::AlertNotification(a) = &p.body else {
        panic!()
    };
    assert_eq!(&*a.esme_addr, b"esme");
    assert_eq!(a.tlvs.ms_availability_status(), Some(0));
    assert_eq!(p.response_for(CommandStatus::ESME_ROK), None);

    let p = roundtrip(&pdu(0x0B, 0, 24, &[b"smsc\0", b"pw\0"]));
    let Body::Outbind(o) = &p.body else { panic!() };
    assert_eq!((&*o.system_id, &*o.password), (&b"smsc"[..], &b"pw"[..]));

    assert_eq!(roundtrip(&pdu(0x06, 0, 25, &[])).body, Body::Unbind);
    assert_eq!(
        roundtrip(&pdu(0x8000_0006, 0, 25, &[])).command_id(),
        CommandId::UnbindResp
    );
}

#[test]
fn framing() {
    let limits = Limits::default();
    let one = pdu(0x15, 0, 1, &[]);
    let two = pdu(0x8000_0004, 0, 2, &[b"abc\0"]);
    let stream = [one.clone(), two.clone()].concat();
    for cut in 0..stream.len() {
        let part = stream.get(..cut).unwrap();
        match decode_frame(part, &limits).unwrap() {
            Frame::Incomplete { needed } => {
                assert!(cut < one.len());
                let want = if cut < 16 { 16 - cut } else { one.len() - cut };
                assert_eq!(needed, want);
            }
            Frame::Pdu {
                pdu: first,
                consumed,
            } => {
                assert_eq!(consumed, one.len());
                assert_eq!(first.sequence_number, 1);
            }
        }
    }
    let Frame::Pdu { consumed, .. } = decode_frame(&stream, &limits).unwrap() else {
        panic!()
    };
    let Frame::Pdu {
        pdu: second,
        consumed: c2,
    } = decode_frame(&stream[consumed..], &limits).unwrap()
    else {
        panic!()
    };
    assert_eq!((second.sequence_number, c2), (2, two.len()));

    // Oversized and undersized command_length: refused from 4 octets alone, out of sync.
    for len in [0u32, 15, 64 * 1024 + 1, u32::MAX] {
        let e = decode_frame(&len.to_be_bytes(), &limits).unwrap_err();
        assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
        assert!(!e.in_sync());
        assert_eq!(e.sequence_number(), None);
        assert_eq!(
            e.reply().unwrap(),
            Pdu::generic_nack(0, CommandStatus::ESME_RINVCMDLEN)
        );
    }
    let small = Limits {
        max_command_length: 100,
    };
    let e = decode_frame(&pdu(0x04, 0, 77, &[&[0u8; 100]]), &small).unwrap_err();
    assert_eq!(e.sequence_number(), Some(77));
    assert!(
        decode_frame(&64u32.to_be_bytes(), &small).unwrap() == Frame::Incomplete { needed: 60 }
    );
    assert_eq!(
        peek_header(&two),
        Some(PduHeader {
            command_length: 20,
            command_id: 0x8000_0004,
            command_status: CommandStatus(0),
            sequence_number: 2
        })
    );
}

#[test]
fn unknown_command_is_generic_nack_in_sync() {
    let wire = pdu(0x0000_0999, 0, 31, &[&[1, 2, 3]]);
    let e = decode_frame(&wire, &Limits::default()).unwrap_err();
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDID);
    assert_eq!(e.consumed(), Some(19));
    assert_eq!(e.sequence_number(), Some(31));
    assert_eq!(e.reply().unwrap().to_vec(), pdu(0x8000_0000, 3, 31, &[]));
}

#[test]
fn body_errors_and_statuses() {
    // Body shorter than its fields: ESME_RINVCMDLEN, answered by generic_nack.
    let e = err(&pdu(0x04, 0, 1, &[b"\0", &[1]]));
    assert_eq!(
        e,
        PduError::Truncated {
            field: "source_addr_npi",
            offset: 18
        }
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    let fe = decode_frame(&pdu(0x04, 0, 1, &[b"\0", &[1]]), &Limits::default()).unwrap_err();
    assert_eq!(fe.reply().unwrap().command_id(), CommandId::GenericNack);
    assert_eq!(fe.consumed(), Some(18));

    // enquire_link with a body.
    let e = err(&pdu(0x15, 0, 1, &[&[0]]));
    assert_eq!(e, PduError::TrailingOctets { offset: 16, len: 1 });
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);

    // command_length contradicting the slice.
    let mut w = pdu(0x15, 0, 1, &[]);
    w.push(0);
    assert_eq!(err(&w).status(), CommandStatus::ESME_RINVCMDLEN);

    // sm_length past the end: ESME_RINVMSGLEN, answered with submit_sm_resp.
    let sm = [10u8, b'a', b'b'];
    let wire = pdu(0x04, 0, 9, &submit_sm_body(&sm, &[]));
    let e = err(&wire);
    assert!(
        matches!(
            e,
            PduError::SmLength {
                sm_length: 10,
                available: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVMSGLEN);
    let fe = decode_frame(&wire, &Limits::default()).unwrap_err();
    assert_eq!(fe.reply().unwrap().to_vec(), pdu(0x8000_0004, 1, 9, &[]));

    // TLV running past the PDU: ESME_RINVOPTPARSTREAM.
    let sm = [0u8];
    let e = err(&pdu(
        0x04,
        0,
        9,
        &submit_sm_body(&sm, &[0x02, 0x0c, 0, 9, 1]),
    ));
    assert!(
        matches!(
            e,
            PduError::TlvStream {
                tag: Some(0x020c),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    let e = err(&pdu(0x8000_0015, 0, 9, &[&[0x02]]));
    assert_eq!(
        e,
        PduError::TlvStream {
            offset: 16,
            tag: None
        }
    );

    // C-octet strings too long or unterminated: the field's own status.
    let cases: Vec<(Vec<u8>, &str, CommandStatus)> = vec![
        (
            pdu(0x04, 0, 1, &[b"CMTCMT\0"]),
            "service_type",
            CommandStatus::ESME_RINVSERTYP,
        ),
        (
            pdu(0x04, 0, 1, &[b"\0", &[1, 1], &[b'1'; 21], b"\0"]),
            "source_addr",
            CommandStatus::ESME_RINVSRCADR,
        ),
        (
            pdu(0x04, 0, 1, &[b"\0", &[1, 1], b"1\0", &[1, 1], b"12345"]),
            "destination_addr",
            CommandStatus::ESME_RINVDSTADR,
        ),
        (
            pdu(0x02, 0, 1, &[&[b's'; 16], b"\0"]),
            "system_id",
            CommandStatus::ESME_RINVSYSID,
        ),
        (
            pdu(0x02, 0, 1, &[b"s\0", b"password1\0"]),
            "password",
            CommandStatus::ESME_RINVPASWD,
        ),
        (
            pdu(0x02, 0, 1, &[b"s\0", b"p\0", b"system_type_x\0"]),
            "system_type",
            CommandStatus::ESME_RINVSYSTYP,
        ),
        (
            pdu(0x03, 0, 1, &[&[b'm'; 65]]),
            "message_id",
            CommandStatus::ESME_RINVMSGID,
        ),
        (
            pdu(0x8000_0004, 0, 1, &[b"abc"]),
            "message_id",
            CommandStatus::ESME_RINVMSGID,
        ),
        (
            pdu(
                0x04,
                0,
                1,
                &[
                    b"\0",
                    &[1, 1],
                    b"1\0",
                    &[1, 1],
                    b"2\0",
                    &[0, 0, 0],
                    &[b'0'; 17],
                ],
            ),
            "schedule_delivery_time",
            CommandStatus::ESME_RINVSCHED,
        ),
        (
            pdu(
                0x04,
                0,
                1,
                &[
                    b"\0",
                    &[1, 1],
                    b"1\0",
                    &[1, 1],
                    b"2\0",
                    &[0, 0, 0],
                    b"\0",
                    &[b'0'; 20],
                ],
            ),
            "validity_period",
            CommandStatus::ESME_RINVEXPIRY,
        ),
        (
            pdu(0x21, 0, 1, &[b"\0", &[1, 1], b"1\0", &[1, 2], &[b'd'; 21]]),
            "dl_name",
            CommandStatus::ESME_RINVDLNAME,
        ),
        (
            pdu(0x102, 0, 1, &[&[1, 1], b"1\0", &[0, 0], b"esme"]),
            "esme_addr",
            CommandStatus::ESME_RINVDSTADR,
        ),
    ];
    for (wire, field, status) in cases {
        let e = err(&wire);
        match &e {
            PduError::FieldTooLong { field: f, .. } | PduError::Unterminated { field: f, .. } => {
                assert_eq!(*f, field)
            }
            other => panic!("{field}: {other:?}"),
        }
        assert_eq!(e.status(), status, "{field}");
        let fe = decode_frame(&wire, &Limits::default()).unwrap_err();
        assert!(fe.in_sync());
        if let Some(reply) = fe.reply() {
            assert_eq!(reply.command_status, status);
        }
    }
    let e = err(&pdu(0x04, 0, 1, &[b"\0", &[1, 1], &[b'1'; 21], b"\0"]));
    assert_eq!(
        e,
        PduError::FieldTooLong {
            field: "source_addr",
            max: 21,
            offset: 19,
            status: CommandStatus::ESME_RINVSRCADR
        }
    );

    // submit_multi: number_of_dests 0 and an unknown dest_flag.
    let e = err(&pdu(0x21, 0, 1, &[b"\0", &[1, 1], b"1\0", &[0]]));
    assert_eq!(e.status(), CommandStatus::ESME_RINVNUMDESTS);
    let e = err(&pdu(0x21, 0, 1, &[b"\0", &[1, 1], b"1\0", &[1, 3]]));
    assert_eq!(
        e,
        PduError::InvalidValue {
            field: "dest_flag",
            value: 3,
            offset: 22,
            status: CommandStatus::ESME_RINVDESTFLAG
        }
    );

    // sm_length 255 is beyond the 254 of §5.2.21.
    let sm = [[255u8].as_slice(), &[b'x'; 255]].concat();
    assert_eq!(
        err(&pdu(0x04, 0, 1, &submit_sm_body(&sm, &[]))).status(),
        CommandStatus::ESME_RINVMSGLEN
    );
}

#[test]
fn validate_catches_unencodable_values() {
    let mut s = SubmitSm {
        destination_addr: b"12\x003"[..].into(),
        ..Default::default()
    };
    let p = Pdu::new(1, Body::SubmitSm(s.clone()));
    assert_eq!(
        p.validate().unwrap_err().status(),
        CommandStatus::ESME_RINVDSTADR
    );
    s.destination_addr = b"123"[..].into();
    s.short_message = vec![0; 300].into();
    let p = Pdu::new(1, Body::SubmitSm(s));
    assert_eq!(
        p.validate().unwrap_err().status(),
        CommandStatus::ESME_RINVMSGLEN
    );
    let p = Pdu::new(
        1,
        Body::SubmitSmResp(MessageIdResp {
            message_id: None,
            tlvs: Tlvs::new().with(tag::MESSAGE_STATE, TlvValue::U8(2)),
        }),
    );
    assert_eq!(
        p.validate().unwrap_err(),
        PduError::FieldAfterAbsent { field: "tlvs" }
    );
}

#[test]
fn every_command_has_a_vector() {
    // Each command id decodes from the smallest body its table allows and re-encodes identically.
    let minimal: &[(u32, &[u8])] = &[
        (0x8000_0000, b""),
        (0x01, b"\0\0\0\x34\0\0\0"),
        (0x8000_0001, b"\0"),
        (0x02, b"\0\0\0\x34\0\0\0"),
        (0x8000_0002, b"\0"),
        (0x03, b"\0\0\0\0"),
        (0x8000_0003, b"\0\0\0\0"),
        (0x04, b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        (0x8000_0004, b"\0"),
        (0x05, b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        (0x8000_0005, b"\0"),
        (0x06, b""),
        (0x8000_0006, b""),
        (0x07, b"\0\0\0\0\0\0\0\0\0"),
        (0x8000_0007, b""),
        (0x08, b"\0\0\0\0\0\0\0\0"),
        (0x8000_0008, b""),
        (0x09, b"\0\0\0\x34\0\0\0"),
        (0x8000_0009, b"\0"),
        (0x0B, b"\0\0"),
        (0x15, b""),
        (0x8000_0015, b""),
        (0x21, b"\0\0\0\0\x01\x02\0\0\0\0\0\0\0\0\0\0\0"),
        (0x8000_0021, b"\0\0"),
        (0x102, b"\0\0\0\0\0\0"),
        (0x103, b"\0\0\0\0\0\0\0\0\0\0"),
        (0x8000_0103, b"\0"),
    ];
    assert_eq!(minimal.len(), CommandId::ALL.len());
    for (id, body) in minimal {
        let wire = pdu(*id, 0, 1, &[body]);
        let p = roundtrip(&wire);
        assert_eq!(p.command_id().as_u32(), *id);
        assert_eq!(p.is_response(), id & 0x8000_0000 != 0);
    }
}

#[test]
fn encoders_agree() {
    let sm = [&[5u8][..], b"hello"].concat();
    let wire = pdu(0x04, 0, 3, &submit_sm_body(&sm, &[0x02, 0x04, 0, 2, 0, 7]));
    let p = Pdu::decode(&wire).unwrap();
    let mut b = bytes::BytesMut::from(&b"xx"[..]);
    p.encode(&mut b);
    assert_eq!(&b[..2], b"xx");
    assert_eq!(&b[2..], &wire[..]);
    let mut g = Vec::new();
    p.write_to(&mut g);
    assert_eq!(g, wire);
    let mut s = vec![0u8; wire.len() + 3];
    assert_eq!(p.encode_to_slice(&mut s), Some(wire.len()));
    assert_eq!(&s[..wire.len()], &wire[..]);
    assert_eq!(p.encode_to_slice(&mut s[..wire.len() - 1]), None);
}
