//! tokio_util `Decoder` / `Encoder` over the sans-IO SMPP framer of `smsbridge-protocol`.
//!
//! A PDU that is malformed inside a sound frame is not an error of the stream: it comes out as
//! [`Decoded::Malformed`] (its octets skipped) so the link can answer it and live on. Only a command_length
//! that cannot be right ends the stream, and then the first octets are looked at to name what the peer is
//! speaking instead (an HTTP server's "HTTP/1.1 ..." reads as command_length 0x48545450).

use bytes::{Buf, BytesMut};
use smsbridge_protocol::smpp::{Frame, FrameError, Limits, Pdu, decode_frame};
use tokio_util::codec::{Decoder, Encoder};

/// What the decoder found.
#[derive(Debug)]
pub enum Decoded {
    /// A PDU, owning its data.
    Pdu(Pdu<'static>),
    /// A PDU whose frame was sound but whose content was not; its octets were skipped. Answer
    /// [`FrameError::reply`].
    Malformed(FrameError),
}

/// A stream the decoder cannot follow.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The peer is speaking another protocol.
    #[error("the peer is not speaking SMPP: it sent {protocol} ({preview:?})")]
    NotSmpp {
        /// What it looks like (`"HTTP"`, `"a TLS handshake"`, `"text"`).
        protocol: &'static str,
        /// Its first octets, printable.
        preview: String,
    },
    /// An impossible command_length in what otherwise looks like binary SMPP.
    #[error("PDU stream out of sync: {0}")]
    OutOfSync(FrameError),
    /// I/O (from `FramedRead`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Names the protocol whose first octets these are, when they are not SMPP-looking binary.
pub fn sniff_protocol(first: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| first.len() >= p.len() && first.get(..p.len()) == Some(p);
    if starts(b"HTTP/") || starts(b"HTTP") {
        return Some("HTTP");
    }
    for m in [
        &b"GET "[..],
        b"POST",
        b"PUT ",
        b"HEAD",
        b"DELE",
        b"OPTI",
        b"PATC",
        b"CONN",
    ] {
        if starts(m) {
            return Some("HTTP");
        }
    }
    if starts(b"SSH-") {
        return Some("SSH");
    }
    if matches!(first, [0x16, 0x03, ..] | [0x15, 0x03, ..]) {
        return Some("TLS");
    }
    if starts(b"<") {
        return Some("HTML/XML text");
    }
    let head = first.get(..first.len().min(4)).unwrap_or_default();
    if head.len() == 4
        && head
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        return Some("text");
    }
    None
}

fn preview(buf: &[u8]) -> String {
    let head = buf.get(..buf.len().min(40)).unwrap_or_default();
    head.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// The SMPP codec: frames by command_length, decodes with the protocol crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmppCodec {
    limits: Limits,
}

impl SmppCodec {
    /// A codec refusing PDUs longer than `max_pdu_size` octets.
    pub fn new(max_pdu_size: u32) -> SmppCodec {
        SmppCodec {
            limits: Limits {
                max_command_length: max_pdu_size,
            },
        }
    }

    /// The framing limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl Decoder for SmppCodec {
    type Item = Decoded;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        let (pdu, consumed) = match decode_frame(src, &self.limits) {
            Ok(Frame::Incomplete { needed }) => {
                src.reserve(needed);
                return Ok(None);
            }
            Ok(Frame::Pdu { pdu, consumed }) => (pdu.into_owned(), consumed),
            Err(e) => {
                return match e.consumed() {
                    Some(n) => {
                        src.advance(n.min(src.len()));
                        Ok(Some(Decoded::Malformed(e)))
                    }
                    None => Err(match sniff_protocol(src) {
                        Some(protocol) => CodecError::NotSmpp {
                            protocol,
                            preview: preview(src),
                        },
                        None => CodecError::OutOfSync(e),
                    }),
                };
            }
        };
        src.advance(consumed);
        Ok(Some(Decoded::Pdu(pdu)))
    }
}

impl Encoder<&Pdu<'_>> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Pdu<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst);
        Ok(())
    }
}

impl Encoder<Pdu<'_>> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Pdu<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsbridge_protocol::smpp::{Body, CommandStatus};

    #[test]
    fn decodes_split_pdus_and_skips_malformed_ones() {
        let mut codec = SmppCodec::default();
        let mut wire = BytesMut::new();
        Pdu::new(7, Body::EnquireLink).encode(&mut wire);
        // A frame with an unknown command_id: sound length, bad content.
        wire.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0x07, 0x77, 0, 0, 0, 0, 0, 0, 0, 9]);
        Pdu::new(8, Body::Unbind).encode(&mut wire);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(5) {
            buf.extend_from_slice(chunk);
            while let Some(d) = codec
                .decode(&mut buf)
                .map_err(|e| e.to_string())
                .ok()
                .flatten()
            {
                out.push(d);
            }
        }
        assert_eq!(out.len(), 3);
        assert!(matches!(&out[0], Decoded::Pdu(p) if p.sequence_number == 7));
        match &out[1] {
            Decoded::Malformed(e) => {
                assert_eq!(e.status(), CommandStatus::ESME_RINVCMDID);
                assert_eq!(e.reply().map(|r| r.sequence_number), Some(9));
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        assert!(matches!(&out[2], Decoded::Pdu(p) if p.body == Body::Unbind));
    }

    #[test]
    fn names_http_on_the_port() {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::from(&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..]);
        match codec.decode(&mut buf) {
            Err(CodecError::NotSmpp { protocol, preview }) => {
                assert_eq!(protocol, "HTTP");
                assert!(preview.starts_with("HTTP/1.1 400"));
            }
            other => panic!("expected NotSmpp, got {other:?}"),
        }
        let mut bin = BytesMut::from(&[0xFFu8, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1][..]);
        assert!(matches!(
            codec.decode(&mut bin),
            Err(CodecError::OutOfSync(_))
        ));
    }
}
