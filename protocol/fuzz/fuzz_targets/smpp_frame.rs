//! Fuzz the SMPP framer and decoder: arbitrary bytes consumed frame by frame as a link would; whatever
//! decodes must re-encode to the same octets, and errors must say consistently how to resynchronise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsbridge_protocol::smpp::{Frame, Limits, decode_frame};

fuzz_target!(|data: &[u8]| {
    // The first octet picks a maximum command_length, so small limits are exercised too.
    let (limits, mut buf) = match data.split_first() {
        Some((b, rest)) if *b < 128 => (Limits { max_command_length: 16 + u32::from(*b) * 8 }, rest),
        _ => (Limits::default(), data),
    };
    loop {
        match decode_frame(buf, &limits) {
            Ok(Frame::Pdu { pdu, consumed }) => {
                assert!(consumed >= 16 && consumed <= buf.len());
                let bytes = pdu.to_vec();
                assert_eq!(bytes.as_slice(), &buf[..consumed], "encode(decode(b)) != b");
                assert_eq!(pdu.encoded_len(), consumed);
                assert!(pdu.validate().is_ok());
                let owned = pdu.clone().into_owned();
                assert_eq!(owned, pdu);
                let _ = pdu.response_for(Default::default());
                buf = &buf[consumed..];
            }
            Ok(Frame::Incomplete { needed }) => {
                assert!(needed > 0);
                break;
            }
            Err(e) => {
                let _ = (e.status().name(), e.reply(), e.to_string());
                match e.consumed() {
                    Some(n) => {
                        assert!(n >= 16 && n <= buf.len());
                        buf = &buf[n..];
                    }
                    None => break,
                }
            }
        }
    }
});
