//! `smsbridge pdu decode|encode smpp`: SMPP 3.4 PDUs as flat JSON with the specification's field names.

use std::io::Write;

/// Decodes every PDU in `hex`, one JSON line each; returns 0 when all decoded, 1 otherwise.
pub fn decode(hex: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (hex, out);
    anyhow::bail!("pdu decode smpp: not implemented yet")
}

/// Encodes one PDU from its JSON and prints its hex.
pub fn encode(json: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (json, out);
    anyhow::bail!("pdu encode smpp: not implemented yet")
}
