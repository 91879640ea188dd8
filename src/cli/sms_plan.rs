//! `smsbridge sms plan`: how a text is split into SMS segments.

use std::io::Write;

/// Prints the plan for `text` as JSON.
pub fn plan(text: &str, to: Option<&str>, out: &mut dyn Write) -> anyhow::Result<u8> {
    let _ = (text, to, out);
    anyhow::bail!("sms plan: not implemented yet")
}
