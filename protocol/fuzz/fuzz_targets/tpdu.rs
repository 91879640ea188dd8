//! Fuzzes the TS 23.040 TPDU decoders: arbitrary bytes as each TPDU type, with and without the AT PDU-mode SCA,
//! and the UDH parser. Whatever decodes is re-encoded; when that succeeds, decoding the re-encoding must give the
//! same value (up to the `truncated` flag, which a re-encode clears by writing TP-UDL to what is there).
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsbridge_protocol::sms::{Deliver, StatusReport, Submit, Tpdu, Udh, decode_with_sca, encode_with_sca};

fn untruncated(mut t: Tpdu) -> Tpdu {
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

fn check(t: Tpdu) {
    if let Ok(bytes) = t.encode() {
        let again = Tpdu::decode(&bytes).expect("a re-encoded TPDU decodes");
        assert_eq!(untruncated(again), untruncated(t));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Submit::decode(data) {
        let mut s = s;
        s.tp_ud.truncated = false;
        check(Tpdu::Submit(s));
    }
    if let Ok(d) = Deliver::decode(data) {
        check(Tpdu::Deliver(d));
    }
    if let Ok(r) = StatusReport::decode(data) {
        check(Tpdu::StatusReport(r));
    }
    if let Ok(t) = Tpdu::decode(data) {
        check(t);
    }
    if let Ok((sca, t)) = decode_with_sca(data) {
        if let Ok((bytes, len)) = encode_with_sca(sca.as_ref(), &t) {
            let (sca2, t2) = decode_with_sca(&bytes).expect("a re-encoded PDU decodes");
            assert_eq!(sca2, sca);
            assert!(len <= bytes.len());
            assert_eq!(untruncated(t2), untruncated(t));
        }
    }
    if let Ok((udh, used)) = Udh::parse(data) {
        let mut out = Vec::new();
        udh.encode(&mut out);
        assert_eq!(out.len(), used);
        assert_eq!(Udh::parse(&out).map(|(u, _)| u).ok(), Some(udh));
    }
});
