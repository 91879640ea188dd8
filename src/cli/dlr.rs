//! `smsbridge pdu decode dlr`: a delivery receipt's text as JSON.

use std::io::Write;

/// Decodes a receipt text; returns 0 when it parsed, 1 otherwise.
pub fn decode(text: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (text, out);
    anyhow::bail!("pdu decode dlr: not implemented yet")
}
