//! smsbridge-protocol: sans-IO codecs.
//!
//! Bytes in, values (or typed errors) out; values in, bytes out. No sockets, no clocks, no runtime, and
//! no panic on anything that came off a wire.
//!
//! - [`smpp`]: SMPP 3.4 PDUs, TLVs, command_status, framing.
//! - [`dlr`]: delivery receipt text (`id:... stat:DELIVRD ...`) and the final-state mapping.
//! - [`sms`]: 3GPP TS 23.040 TPDUs, TS 23.038 alphabets, UDH, segmentation planner, reassembly.
//! - [`at`]: 3GPP TS 27.007/27.005 AT command builders and the streaming response/URC parser.

pub mod at;
pub mod civil;
pub mod dlr;
pub mod smpp;
pub mod sms;
