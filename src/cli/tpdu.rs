//! `smsbridge pdu decode|encode tpdu`: 3GPP TS 23.040 TPDUs as JSON.

use std::io::Write;

/// Decodes one TPDU (preceded by the service-centre address when `sca`); returns 0 when it decoded.
pub fn decode(hex: &str, sca: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (hex, sca, out);
    anyhow::bail!("pdu decode tpdu: not implemented yet")
}

/// Encodes one TPDU from its JSON and prints its hex.
pub fn encode(json: &str, sca: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (json, sca, out);
    anyhow::bail!("pdu encode tpdu: not implemented yet")
}
