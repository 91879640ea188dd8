//! `smsbridge at parse`: a raw modem transcript as one JSON object per item.

use std::io::{Read, Write};

/// Parses the transcript on `input`; returns 0 when every item parsed.
pub fn parse(input: &mut dyn Read, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (input, out);
    anyhow::bail!("at parse: not implemented yet")
}
