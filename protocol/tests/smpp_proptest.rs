//! Property tests of the SMPP codec: round trips for every operation, and no panic on any input.

use std::borrow::Cow;

use proptest::collection::vec;
use proptest::prelude::*;
use smsbridge_protocol::smpp::*;

/// C-octet string contents: any non-NUL octets, at most `max - 1` of them (§3.1).
fn cstr(max: usize) -> impl Strategy<Value = Octets<'static>> {
    vec(1u8..=255, 0..max).prop_map(Cow::Owned)
}

fn opt_cstr(max: usize) -> impl Strategy<Value = Option<Octets<'static>>> {
    proptest::option::of(cstr(max))
}

fn sm() -> impl Strategy<Value = Octets<'static>> {
    vec(any::<u8>(), 0..=254).prop_map(Cow::Owned)
}

fn tlvs() -> impl Strategy<Value = Tlvs<'static>> {
    let known = proptest::sample::select(KNOWN_TAGS.iter().map(|(t, _)| *t).collect::<Vec<_>>());
    let tag = prop_oneof![known, any::<u16>()];
    vec((tag, vec(any::<u8>(), 0..12)), 0..4)
        .prop_map(|pairs| Tlvs::from_pairs(pairs.iter().map(|(t, v)| (*t, v.as_slice()))).unwrap())
}

fn ton() -> impl Strategy<Value = Ton> {
    any::<u8>().prop_map(Ton)
}

fn npi() -> impl Strategy<Value = Npi> {
    any::<u8>().prop_map(Npi)
}

fn bind() -> impl Strategy<Value = Bind<'static>> {
    (
        cstr(16),
        cstr(9),
        cstr(13),
        any::<u8>(),
        ton(),
        npi(),
        cstr(41),
        tlvs(),
    )
        .prop_map(
            |(
                system_id,
                password,
                system_type,
                interface_version,
                addr_ton,
                addr_npi,
                address_range,
                tlvs,
            )| Bind {
                system_id,
                password,
                system_type,
                interface_version,
                addr_ton,
                addr_npi,
                address_range,
                tlvs,
            },
        )
}

/// Response bodies: TLVs only after all mandatory fields (they would be read as the missing field otherwise).
fn bind_resp() -> impl Strategy<Value = BindResp<'static>> {
    (opt_cstr(16), tlvs()).prop_map(|(system_id, t)| {
        let tlvs = if system_id.is_some() { t } else { Tlvs::new() };
        BindResp { system_id, tlvs }
    })
}

fn message_id_resp() -> impl Strategy<Value = MessageIdResp<'static>> {
    (opt_cstr(65), tlvs()).prop_map(|(message_id, t)| {
        let tlvs = if message_id.is_some() { t } else { Tlvs::new() };
        MessageIdResp { message_id, tlvs }
    })
}

fn submit_sm() -> impl Strategy<Value = SubmitSm<'static>> {
    (
        (cstr(6), ton(), npi(), cstr(21), ton(), npi(), cstr(21)),
        (any::<u8>(), any::<u8>(), any::<u8>(), cstr(17), cstr(17)),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            sm(),
            tlvs(),
        ),
    )
        .prop_map(|(a, b, c)| SubmitSm {
            service_type: a.0,
            source_addr_ton: a.1,
            source_addr_npi: a.2,
            source_addr: a.3,
            dest_addr_ton: a.4,
            dest_addr_npi: a.5,
            destination_addr: a.6,
            esm_class: EsmClass(b.0),
            protocol_id: b.1,
            priority_flag: b.2,
            schedule_delivery_time: b.3,
            validity_period: b.4,
            registered_delivery: c.0,
            replace_if_present_flag: c.1,
            data_coding: DataCoding(c.2),
            sm_default_msg_id: c.3,
            short_message: c.4,
            tlvs: c.5,
        })
}

fn dest_address() -> impl Strategy<Value = DestAddress<'static>> {
    prop_oneof![
        (ton(), npi(), cstr(21)).prop_map(|(dest_addr_ton, dest_addr_npi, destination_addr)| {
            DestAddress::Sme {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
            }
        }),
        cstr(21).prop_map(|dl_name| DestAddress::DistributionList { dl_name }),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti<'static>> {
    (submit_sm(), vec(dest_address(), 1..6)).prop_map(|(s, dest_address)| SubmitMulti {
        service_type: s.service_type,
        source_addr_ton: s.source_addr_ton,
        source_addr_npi: s.source_addr_npi,
        source_addr: s.source_addr,
        dest_address: dest_address.into(),
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp<'static>> {
    let unsuccess = (ton(), npi(), cstr(21), any::<u32>()).prop_map(|(t, n, a, c)| UnsuccessSme {
        dest_addr_ton: t,
        dest_addr_npi: n,
        destination_addr: a,
        error_status_code: CommandStatus(c),
    });
    (0..3u8, cstr(65), vec(unsuccess, 0..4), tlvs()).prop_map(|(depth, id, list, t)| match depth {
        0 => SubmitMultiResp::default(),
        1 => SubmitMultiResp {
            message_id: Some(id),
            unsuccess_sme: None,
            tlvs: Tlvs::new(),
        },
        _ => SubmitMultiResp {
            message_id: Some(id),
            unsuccess_sme: Some(list.into()),
            tlvs: t,
        },
    })
}

fn data_sm() -> impl Strategy<Value = DataSm<'static>> {
    (
        (cstr(6), ton(), npi(), cstr(65), ton(), npi(), cstr(65)),
        (any::<u8>(), any::<u8>(), any::<u8>(), tlvs()),
    )
        .prop_map(|(a, b)| DataSm {
            service_type: a.0,
            source_addr_ton: a.1,
            source_addr_npi: a.2,
            source_addr: a.3,
            dest_addr_ton: a.4,
            dest_addr_npi: a.5,
            destination_addr: a.6,
            esm_class: EsmClass(b.0),
            registered_delivery: b.1,
            data_coding: DataCoding(b.2),
            tlvs: b.3,
        })
}

fn query_sm_resp() -> impl Strategy<Value = QuerySmResp<'static>> {
    (0..5u8, cstr(65), cstr(17), any::<u8>(), any::<u8>(), tlvs()).prop_map(
        |(depth, id, date, st, err, t)| QuerySmResp {
            message_id: (depth >= 1).then_some(id),
            final_date: (depth >= 2).then_some(date),
            message_state: (depth >= 3).then_some(MessageState(st)),
            error_code: (depth >= 4).then_some(err),
            tlvs: if depth >= 4 { t } else { Tlvs::new() },
        },
    )
}

fn cancel_sm() -> impl Strategy<Value = CancelSm<'static>> {
    (
        (cstr(6), cstr(65), ton(), npi(), cstr(21)),
        (ton(), npi(), cstr(21), tlvs()),
    )
        .prop_map(|(a, b)| CancelSm {
            service_type: a.0,
            message_id: a.1,
            source_addr_ton: a.2,
            source_addr_npi: a.3,
            source_addr: a.4,
            dest_addr_ton: b.0,
            dest_addr_npi: b.1,
            destination_addr: b.2,
            tlvs: b.3,
        })
}

fn replace_sm() -> impl Strategy<Value = ReplaceSm<'static>> {
    (
        (cstr(65), ton(), npi(), cstr(21), cstr(17)),
        (cstr(17), any::<u8>(), any::<u8>(), sm(), tlvs()),
    )
        .prop_map(|(a, b)| ReplaceSm {
            message_id: a.0,
            source_addr_ton: a.1,
            source_addr_npi: a.2,
            source_addr: a.3,
            schedule_delivery_time: a.4,
            validity_period: b.0,
            registered_delivery: b.1,
            sm_default_msg_id: b.2,
            short_message: b.3,
            tlvs: b.4,
        })
}

fn body() -> impl Strategy<Value = Body<'static>> {
    prop_oneof![
        bind().prop_map(Body::BindReceiver),
        bind().prop_map(Body::BindTransmitter),
        bind().prop_map(Body::BindTransceiver),
        bind_resp().prop_map(Body::BindReceiverResp),
        bind_resp().prop_map(Body::BindTransmitterResp),
        bind_resp().prop_map(Body::BindTransceiverResp),
        (cstr(16), cstr(9), tlvs()).prop_map(|(system_id, password, tlvs)| Body::Outbind(
            Outbind {
                system_id,
                password,
                tlvs
            }
        )),
        Just(Body::Unbind),
        tlvs().prop_map(Body::UnbindResp),
        tlvs().prop_map(Body::GenericNack),
        submit_sm().prop_map(Body::SubmitSm),
        message_id_resp().prop_map(Body::SubmitSmResp),
        submit_multi().prop_map(Body::SubmitMulti),
        submit_multi_resp().prop_map(Body::SubmitMultiResp),
        submit_sm().prop_map(Body::DeliverSm),
        message_id_resp().prop_map(Body::DeliverSmResp),
        data_sm().prop_map(Body::DataSm),
        message_id_resp().prop_map(Body::DataSmResp),
        (cstr(65), ton(), npi(), cstr(21), tlvs()).prop_map(|(message_id, t, n, a, tlvs)| {
            Body::QuerySm(QuerySm {
                message_id,
                source_addr_ton: t,
                source_addr_npi: n,
                source_addr: a,
                tlvs,
            })
        }),
        query_sm_resp().prop_map(Body::QuerySmResp),
        cancel_sm().prop_map(Body::CancelSm),
        tlvs().prop_map(Body::CancelSmResp),
        replace_sm().prop_map(Body::ReplaceSm),
        tlvs().prop_map(Body::ReplaceSmResp),
        Just(Body::EnquireLink),
        tlvs().prop_map(Body::EnquireLinkResp),
        (ton(), npi(), cstr(65), ton(), npi(), cstr(65), tlvs()).prop_map(
            |(st, sn, sa, et, en, ea, tlvs)| {
                Body::AlertNotification(AlertNotification {
                    source_addr_ton: st,
                    source_addr_npi: sn,
                    source_addr: sa,
                    esme_addr_ton: et,
                    esme_addr_npi: en,
                    esme_addr: ea,
                    tlvs,
                })
            }
        ),
    ]
}

fn pdu() -> impl Strategy<Value = Pdu<'static>> {
    (any::<u32>(), any::<u32>(), body()).prop_map(|(status, seq, body)| Pdu {
        command_status: CommandStatus(status),
        sequence_number: seq,
        body,
    })
}

/// Runs the framer over a byte stream the way a link does; checks re-encoding of whatever decodes.
fn drive(mut buf: &[u8], limits: &Limits) {
    loop {
        match decode_frame(buf, limits) {
            Ok(Frame::Pdu { pdu, consumed }) => {
                assert_eq!(pdu.to_vec(), &buf[..consumed], "encode(decode(b)) != b");
                buf = &buf[consumed..];
            }
            Ok(Frame::Incomplete { needed }) => {
                assert!(needed > 0);
                return;
            }
            Err(e) => {
                let _ = (e.status(), e.reply(), e.to_string());
                match e.consumed() {
                    Some(n) => {
                        assert!(n >= 16 && n <= buf.len());
                        buf = &buf[n..];
                    }
                    None => return,
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decode_encode_round_trip(p in pdu()) {
        p.validate().unwrap();
        let bytes = p.to_vec();
        prop_assert_eq!(bytes.len(), p.encoded_len());
        let back = Pdu::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_vec(), bytes.clone());
        match decode_frame(&bytes, &Limits::default()).unwrap() {
            Frame::Pdu { pdu, consumed } => {
                prop_assert_eq!(consumed, bytes.len());
                prop_assert_eq!(pdu, p);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn owned_pdu_equals_borrowed(p in pdu()) {
        let bytes = p.to_vec();
        let owned: Pdu<'static> = Pdu::decode(&bytes).unwrap().into_owned();
        drop(bytes);
        prop_assert_eq!(owned, p);
    }

    #[test]
    fn streams_of_pdus_frame_back(ps in vec(pdu(), 1..5)) {
        let mut wire = bytes::BytesMut::new();
        for p in &ps {
            p.encode(&mut wire);
        }
        let mut rest: &[u8] = &wire;
        for p in &ps {
            let Frame::Pdu { pdu, consumed } = decode_frame(rest, &Limits::default()).unwrap() else {
                panic!("incomplete");
            };
            prop_assert_eq!(&pdu, p);
            rest = &rest[consumed..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300), max in 16u32..70_000) {
        drive(&bytes, &Limits { max_command_length: max });
        let _ = Pdu::decode(&bytes);
        let _ = peek_header(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_sound_headers(
        id in proptest::sample::select(CommandId::ALL.to_vec()),
        body in vec(any::<u8>(), 0..200),
    ) {
        let mut wire = Vec::new();
        wire.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
        wire.extend_from_slice(&id.as_u32().to_be_bytes());
        wire.extend_from_slice(&[0; 8]);
        wire.extend_from_slice(&body);
        drive(&wire, &Limits::default());
        if let Ok(p) = Pdu::decode(&wire) {
            prop_assert_eq!(p.to_vec(), wire);
        }
    }

    #[test]
    fn mutated_valid_pdus_never_panic(
        p in pdu(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut bytes = p.to_vec();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, byte),
            }
        }
        drive(&bytes, &Limits::default());
        if let Ok(d) = Pdu::decode(&bytes) {
            prop_assert_eq!(d.to_vec(), bytes);
        }
    }
}

/// Time-field contents: valid absolute times, 15 digits and an indicator, or anything.
fn time_octets() -> impl Strategy<Value = Vec<u8>> {
    let absolute = (
        (0..100u8, 1..=12u8, 1..=31u8, 0..24u8),
        (0..60u8, 0..60u8, 0..10u8, 0..=48u8, any::<bool>()),
    )
        .prop_map(|((y, mo, d, h), (mi, s, t, nn, ahead))| {
            let sign = if ahead { '+' } else { '-' };
            format!("{y:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}{t}{nn:02}{sign}").into_bytes()
        });
    let indicator = proptest::sample::select(vec![b'R', b'+', b'-', b'Z']);
    let digits = (vec(b'0'..=b'9', 15), indicator).prop_map(|(mut d, i)| {
        d.push(i);
        d
    });
    prop_oneof![absolute, digits, vec(any::<u8>(), 0..20)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// SMPP 3.4 §7.1.1 times: any octets parse or fail without a panic, and what parses writes back the
    /// same (relative `t`/`nn` are ignored when read and written as zeros).
    #[test]
    fn smpp_times_never_panic_and_round_trip(octets in time_octets()) {
        if let Ok(Some(t)) = SmppTime::parse(&octets) {
            let written = t.to_bytes();
            prop_assert_eq!(SmppTime::parse(&written), Ok(Some(t)));
            match t {
                SmppTime::Absolute(a) => {
                    // Offset 00 is UTC either way, and written with '+'.
                    let same = if a.utc_offset_quarters == 0 { 15 } else { 16 };
                    prop_assert_eq!(&written[..same], &octets[..same]);
                    prop_assert!(a.validate().is_ok());
                    let utc = AbsoluteTime::from_unix_ms(a.unix_ms());
                    // The same instant in UTC (None only when the offset moves it out of 2000-2099).
                    if let Some(utc) = utc {
                        prop_assert_eq!(utc.unix_ms(), a.unix_ms());
                    }
                }
                SmppTime::Relative(_) => {
                    prop_assert_eq!(&written[..12], &octets[..12]);
                    prop_assert_eq!(&written[12..], b"000R");
                }
            }
        }
    }

    /// A duration becomes a relative time of days and smaller units, never longer than the duration
    /// (nor than 99 days 23:59:59), and less than a second shorter below that cap.
    #[test]
    fn relative_times_round_down(ms in any::<u64>()) {
        let d = std::time::Duration::from_millis(ms);
        let r = RelativeTime::from_duration(d);
        let exact = r.exact().expect("no years or months");
        prop_assert!(exact <= d.min(RelativeTime::MAX_EXACT));
        prop_assert!(d.min(RelativeTime::MAX_EXACT) - exact < std::time::Duration::from_secs(1));
        prop_assert_eq!(SmppTime::parse(&SmppTime::Relative(r).to_bytes()), Ok(Some(SmppTime::Relative(r))));
    }
}
