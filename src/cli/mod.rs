//! Command-line tools: the `pdu`, `sms` and `at` debuggers for operators, and the gRPC client commands.
//!
//! Each function returns the process exit status (0 when everything decoded) and writes JSON to stdout.

pub mod at;
pub mod client;
pub mod dlr;
pub mod modem;
pub mod smpp;
pub mod sms_plan;
pub mod tpdu;
