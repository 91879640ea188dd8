//! Arbitrary bytes as a receipt text: parsing, the typed views and the formatter must never panic, and a
//! parsed receipt written back in the standard form must parse to the same fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsbridge_protocol::dlr::{parse_receipt, resolve};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_receipt(data) {
        let _ = (r.sub_count(), r.dlvrd_count(), r.err_code(), r.id_form());
        let _ = (r.submit_date_value(), r.done_date_value());
        let state = r.state();
        let _ = state.map(|s| (s.is_final(), s.stat_text(), s.name()));
        let _ = resolve(Some(&r), data.get(..4), data.first().copied());
        // Values without white space or colons survive a write and re-parse unchanged.
        let clean = |v: Option<&[u8]>| {
            v.is_none_or(|v| !v.iter().any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b':' | 0)))
        };
        if [r.id, r.sub, r.dlvrd, r.submit_date, r.done_date, r.stat, r.err].into_iter().all(clean)
            && r.text.is_none()
        {
            let bytes = r.to_bytes();
            assert_eq!(parse_receipt(&bytes), Ok(r));
        }
    }
});
