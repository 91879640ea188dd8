//! Property tests: plan -> TPDUs -> decode -> reassemble gives the text back; encode -> decode is the identity
//! for every TPDU type; no input panics a decoder.

use proptest::prelude::*;
use smsbridge_protocol::sms::*;

/// Characters that exercise every path: GSM basic and extension, Turkish/Spanish/Portuguese letters, Greek,
/// CJK, emoji (surrogate pairs), control characters, and anything else.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà".chars().collect::<Vec<_>>()),
        2 => prop::sample::select("^{}\\[~]|€\u{0C}".chars().collect::<Vec<_>>()),
        2 => prop::sample::select("ŞşĞğİıçÁÍÓÚáíóúêÔôÀÃÕÂâÊãõ`∞ªº".chars().collect::<Vec<_>>()),
        1 => prop::char::range('\u{4E00}', '\u{9FFF}'),
        1 => prop::char::range('\u{1F300}', '\u{1FAFF}'),
        1 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(interesting_char(), 0..500).prop_map(|v| v.into_iter().collect())
}

fn options() -> impl Strategy<Value = PlanOptions> {
    (
        prop_oneof![Just(EncodingChoice::Auto), Just(EncodingChoice::Ucs2)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(encoding, national, concat16)| PlanOptions {
            encoding,
            national: if national {
                NationalPolicy::Auto(NationalLanguage::SUPPORTED.to_vec())
            } else {
                NationalPolicy::Off
            },
            concat16,
            ..PlanOptions::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// text -> plan -> SMS-SUBMIT bytes -> decode -> reassemble (shuffled, with a duplicate) == text.
    #[test]
    fn plan_then_reassemble_gives_the_text_back(t in text(), o in options(), seed in any::<u64>()) {
        let mut refs = ReferenceAllocator::new(8, 0);
        let plan = refs.plan("+15550001111", &t, &o).unwrap();
        let limit = match plan.encoding { PlannedEncoding::Gsm7(_) => 160, _ => 140 };
        for (units, seg) in plan.unit_counts().iter().zip(&plan.segments) {
            prop_assert!(*units <= limit, "segment of {} units", units);
            prop_assert!(seg.header.as_ref().is_none_or(|h| h.encoded_len() <= 140));
        }
        let dest = Address::parse("+15550001111");
        let submits = plan.submits(&dest, &SubmitOptions::default());
        let mut decoded = Vec::new();
        for s in submits {
            let bytes = Tpdu::Submit(s).encode().unwrap();
            let Tpdu::Submit(back) = Tpdu::decode(&bytes).unwrap() else { panic!("not a submit") };
            decoded.push(back);
        }
        if decoded.len() == 1 {
            prop_assert_eq!(decoded[0].tp_ud.text(decoded[0].tp_dcs).unwrap(), t);
            return Ok(());
        }
        // Deterministic shuffle from the seed, plus a duplicate of the first part.
        let mut order: Vec<usize> = (0..decoded.len()).collect();
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        order.insert(1, order[0]);
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut done = None;
        for (now, i) in order.into_iter().enumerate() {
            let s = &decoded[i];
            let c = s.tp_ud.header.as_ref().and_then(Udh::concat).unwrap();
            let part = Part {
                sender: s.tp_da.display(),
                reference: c.reference,
                total: c.parts,
                number: c.number,
                text: s.tp_ud.text(s.tp_dcs).unwrap(),
            };
            if let PushOutcome::Complete(m) = r.push(part, now as u64) {
                done = Some(m);
            }
        }
        let m = done.expect("message completed");
        prop_assert!(m.complete);
        prop_assert_eq!(m.text, t);
    }
}

fn digits() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select("0123456789*#abc".chars().collect::<Vec<_>>()),
        0..=20,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn address() -> impl Strategy<Value = Address> {
    let numeric = (0u8..8, 0u8..16, digits()).prop_filter_map("numeric", |(ton, npi, number)| {
        let ton = Ton::from_bits(ton);
        (ton != Ton::Alphanumeric).then(|| Address {
            ton,
            npi: Npi::from_bits(npi),
            number,
        })
    });
    let alpha = prop::collection::vec(
        prop::sample::select("ABCXYZabcxyz0189 @£$Δ_?".chars().collect::<Vec<_>>()),
        0..=11,
    )
    .prop_map(|v| Address {
        ton: Ton::Alphanumeric,
        npi: Npi::Unknown,
        number: v.into_iter().collect(),
    });
    prop_oneof![numeric, alpha]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        0u8..100,
        1u8..13,
        1u8..32,
        0u8..24,
        0u8..60,
        0u8..60,
        -79i8..=79,
    )
        .prop_map(
            |(year, month, day, hour, minute, second, tz_quarters)| Timestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
                tz_quarters,
            },
        )
}

fn header() -> impl Strategy<Value = Option<Udh>> {
    let element = (any::<u8>(), prop::collection::vec(any::<u8>(), 0..6))
        .prop_map(|(iei, data)| InformationElement::from_parts(iei, &data));
    prop::option::of(prop::collection::vec(element, 0..4).prop_map(|elements| Udh { elements }))
}

/// User data that fits in one TPDU for `dcs`.
fn user_data(dcs: Dcs) -> impl Strategy<Value = UserData> {
    (header(), prop::collection::vec(any::<u8>(), 0..160)).prop_map(move |(header, body)| {
        let h = header.as_ref().map_or(0, Udh::encoded_len);
        let body = if dcs.udl_in_septets() {
            let room = 160 - h.saturating_mul(8).div_ceil(7).min(160);
            body.into_iter().take(room).map(|b| b & 0x7F).collect()
        } else {
            body.into_iter().take(140 - h.min(140)).collect()
        };
        UserData {
            header,
            body,
            truncated: false,
        }
    })
}

fn validity() -> impl Strategy<Value = Option<ValidityPeriod>> {
    prop_oneof![
        Just(None),
        any::<u8>().prop_map(|v| Some(ValidityPeriod::Relative(v))),
        timestamp().prop_map(|t| Some(ValidityPeriod::Absolute(t))),
        any::<[u8; 7]>().prop_map(|b| Some(ValidityPeriod::Enhanced(b))),
    ]
}

fn submit() -> impl Strategy<Value = Tpdu> {
    (
        any::<(bool, bool, bool, u8, u8)>(),
        address(),
        any::<u8>(),
        validity(),
    )
        .prop_flat_map(|((tp_rd, tp_srr, tp_rp, tp_mr, pid), tp_da, dcs, tp_vp)| {
            user_data(Dcs(dcs)).prop_map(move |tp_ud| {
                Tpdu::Submit(Submit {
                    tp_rd,
                    tp_srr,
                    tp_rp,
                    tp_mr,
                    tp_da: tp_da.clone(),
                    tp_pid: Pid(pid),
                    tp_dcs: Dcs(dcs),
                    tp_vp,
                    tp_ud,
                })
            })
        })
}

fn deliver() -> impl Strategy<Value = Tpdu> {
    (
        any::<(bool, bool, bool, bool, u8)>(),
        address(),
        any::<u8>(),
        timestamp(),
    )
        .prop_flat_map(
            |((tp_mms, tp_lp, tp_sri, tp_rp, pid), tp_oa, dcs, tp_scts)| {
                user_data(Dcs(dcs)).prop_map(move |tp_ud| {
                    Tpdu::Deliver(Deliver {
                        tp_mms,
                        tp_lp,
                        tp_sri,
                        tp_rp,
                        tp_oa: tp_oa.clone(),
                        tp_pid: Pid(pid),
                        tp_dcs: Dcs(dcs),
                        tp_scts,
                        tp_ud,
                    })
                })
            },
        )
}

fn status_report() -> impl Strategy<Value = Tpdu> {
    (
        any::<(bool, bool, bool, u8, u8)>(),
        address(),
        timestamp(),
        timestamp(),
        prop::option::of(any::<u8>()),
        prop::option::of(any::<u8>()),
        prop::option::of(any::<u8>()),
        any::<bool>(),
    )
        .prop_flat_map(
            |((tp_mms, tp_lp, tp_srq, tp_mr, st), tp_ra, tp_scts, tp_dt, pi, pid, dcs, has_ud)| {
                let ud_dcs = Dcs(dcs.unwrap_or(0));
                prop::option::of(user_data(ud_dcs)).prop_map(move |ud| {
                    let tp_ud = if has_ud { ud } else { None };
                    let presence = u8::from(pid.is_some())
                        | u8::from(dcs.is_some()) << 1
                        | u8::from(tp_ud.is_some()) << 2;
                    let tp_pi = match pi {
                        Some(p) => Some(p & !0x07 | presence),
                        None if presence != 0 => Some(presence),
                        None => None,
                    };
                    Tpdu::StatusReport(StatusReport {
                        tp_mms,
                        tp_lp,
                        tp_srq,
                        tp_mr,
                        tp_ra: tp_ra.clone(),
                        tp_scts,
                        tp_dt,
                        tp_st: Status(st),
                        tp_pi,
                        tp_pid: pid.map(Pid),
                        tp_dcs: dcs.map(Dcs),
                        tp_ud,
                    })
                })
            },
        )
}

/// Clears what a re-encode legitimately changes: the truncated flag (TP-UDL is rewritten to what is there).
fn normalised(mut t: Tpdu) -> Tpdu {
    match &mut t {
        Tpdu::Submit(s) => s.tp_ud.truncated = false,
        Tpdu::Deliver(d) => d.tp_ud.truncated = false,
        Tpdu::StatusReport(r) => {
            if let Some(u) = &mut r.tp_ud {
                u.truncated = false;
            }
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(t in prop_oneof![submit(), deliver(), status_report()]) {
        let bytes = t.encode().unwrap();
        prop_assert_eq!(Tpdu::decode(&bytes).unwrap(), t.clone());
        let sca = Address::parse("+447785016005");
        let (with_sca, len) = encode_with_sca(Some(&sca), &t).unwrap();
        prop_assert_eq!(len, bytes.len());
        prop_assert_eq!(decode_with_sca(&with_sca).unwrap(), (Some(sca), t));
    }

    /// Arbitrary bytes never panic a decoder; what decodes re-encodes, and the re-encoding decodes to the same.
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Submit::decode(&bytes);
        let _ = Deliver::decode(&bytes);
        let _ = StatusReport::decode(&bytes);
        let _ = Udh::parse(&bytes);
        let _ = Address::decode_sca(&bytes);
        let _ = decode_with_sca(&bytes);
        if let Ok(t) = Tpdu::decode(&bytes) {
            if let Ok(again) = t.encode() {
                prop_assert_eq!(Tpdu::decode(&again).map(normalised), Ok(normalised(t)));
            }
        }
    }

    /// Septet packing round-trips for every fill.
    #[test]
    fn pack_unpack(septets in prop::collection::vec(0u8..128, 0..200), fill in 0usize..7) {
        let packed = alphabet::pack_septets(&septets, fill);
        prop_assert_eq!(packed.len(), (fill + septets.len() * 7).div_ceil(8));
        prop_assert_eq!(alphabet::unpack_septets(&packed, fill, septets.len()), septets);
    }
}
