//! `smsbridge pdu decode dlr`: a delivery receipt's text as JSON.

use std::io::Write;

use serde_json::{Value, json};
use smsbridge_protocol::dlr::{ReceiptDate, parse_receipt};

fn lossy(field: Option<&[u8]>) -> Value {
    field.map_or(Value::Null, |b| {
        Value::String(String::from_utf8_lossy(b).into_owned())
    })
}

fn date(d: Option<ReceiptDate>) -> Value {
    d.map_or(Value::Null, |d| {
        json!({
            "year": d.year, "month": d.month, "day": d.day,
            "hour": d.hour, "minute": d.minute, "second": d.second,
        })
    })
}

/// Decodes a receipt text; returns 0 when it parsed, 1 otherwise.
///
/// The fields are printed as their literal strings (`null` when absent), beside the mapped `state`, whether
/// it is `final`, and typed values where they parse.
pub fn decode(text: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let receipt = match parse_receipt(text.as_bytes()) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("smsbridge: {err}");
            return Ok(1);
        }
    };
    let state = receipt.state();
    let doc = json!({
        "id": lossy(receipt.id),
        "sub": lossy(receipt.sub),
        "dlvrd": lossy(receipt.dlvrd),
        "submit_date": lossy(receipt.submit_date),
        "done_date": lossy(receipt.done_date),
        "stat": lossy(receipt.stat),
        "err": lossy(receipt.err),
        "text": lossy(receipt.text),
        "state": state.map(|s| s.name()),
        "final": state.map(|s| s.is_final()),
        "id_form": receipt.id_form().map(|f| format!("{f:?}").to_lowercase()),
        "sub_count": receipt.sub_count(),
        "dlvrd_count": receipt.dlvrd_count(),
        "err_code": receipt.err_code(),
        "submit_date_value": date(receipt.submit_date_value()),
        "done_date_value": date(receipt.done_date_value()),
    });
    serde_json::to_writer(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(0)
}
