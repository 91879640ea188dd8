//! AT commands for GSM modems (3GPP TS 27.007, TS 27.005, ITU-T V.250): typed command builders and a
//! sans-IO streaming parser for what the modem answers.
//!
//! A modem driver builds a [`Command`], writes [`Command::bytes`], tells the parser with
//! [`AtParser::expect`], sets a timer from [`CommandKind::suggested_timeout`], then feeds every byte read
//! to [`AtParser::feed`] and pulls [`Item`]s with [`AtParser::next_item`] until `None`:
//! [`Item::Info`] answers belong to the command, [`Item::Final`] ends it, [`Item::Urc`]s come at any
//! time, and [`Item::Prompt`] asks for the body of a send ([`SendPdu::body`]).
//!
//! Errors: [`FinalResult::retry`] says whether a `+CME ERROR` / `+CMS ERROR` is worth retrying; the code
//! tables are in [`errors`].
//!
//! The PDUs of `+CMGR`, `+CMGL`, `+CMT` and `+CDS` are handed out as the hex text the modem sent; the
//! `sms` module decodes them.

mod command;
pub mod errors;
mod params;
mod response;
mod stream;

pub use command::{
    CTRL_Z, CmeeMode, Cnmi, Command, CommandError, CommandKind, ESC, Expect, ListFilter,
    MessageFormat, SendPdu,
};
pub use errors::{ErrorCode, ErrorFamily, Retry};
pub use response::{FinalResult, Item, Registration, Response, Storage, StreamError};
pub use stream::{AtParser, ParserConfig};
