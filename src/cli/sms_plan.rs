//! `smsbridge sms plan`: how a text is split into SMS segments (TS 23.040 §9.2.3.24.1, TS 23.038).
//!
//! Prints one JSON object: `encoding` ("gsm7", "ucs2"), `national` (the shift tables, if any), `tp_dcs`,
//! `data_coding` (SMPP), `reference` (numbered per destination, `null` for a single segment), `units`
//! ("septets" or "octets") and `segments`, each with `number`, `udh` (decoded elements), `udh_hex`, `ud` (TP-UD
//! in hex as sent by a modem), `tp_udl` (septets or octets, UDH included), `septets`/`octets` (the text's own
//! count) and `text`.

use std::io::Write;

use serde_json::{Value, json};
use smsbridge_protocol::sms::{PlanOptions, PlannedEncoding, ReferenceAllocator};

use super::tpdu::udh_json;

/// Prints the plan for `text` as JSON.
pub fn plan(text: &str, to: Option<&str>, out: &mut dyn Write) -> anyhow::Result<u8> {
    // One allocator per run: the reference is a pure function of the destination, as it would be for the first
    // message to that destination in a gateway started with seed 0.
    let mut refs = ReferenceAllocator::new(1, 0);
    let destination = to.unwrap_or("");
    let p = match refs.plan(destination, text, &PlanOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            writeln!(out, "{}", json!({ "error": e.to_string() }))?;
            return Ok(1);
        }
    };
    let (units, national) = match p.encoding {
        PlannedEncoding::Gsm7(t) => (
            "septets",
            json!({ "locking": t.locking.map(|l| l.id()), "single": t.single.map(|l| l.id()) }),
        ),
        _ => ("octets", Value::Null),
    };
    let segments: Vec<Value> = p
        .segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let ud = seg.user_data();
            let wire = ud
                .wire_bytes(p.dcs)
                .map(hex::encode_upper)
                .unwrap_or_default();
            let mut v = json!({
                "number": i + 1,
                "udh": seg.header.as_ref().map_or(Value::Null, udh_json),
                "udh_hex": hex::encode_upper(seg.header_bytes()),
                "ud": wire,
                "tp_udl": ud.udl(p.dcs),
                "text": seg.text,
            });
            if let Some(o) = v.as_object_mut() {
                o.insert(units.into(), json!(seg.body.len()));
            }
            v
        })
        .collect();
    let v = json!({
        "to": to,
        "encoding": p.encoding.name(),
        "national": national,
        "tp_dcs": p.dcs.0,
        "data_coding": p.smpp_data_coding(),
        "reference": p.reference,
        "units": units,
        "segment_count": p.segments.len(),
        "segments": segments,
    });
    writeln!(out, "{v}")?;
    Ok(0)
}
