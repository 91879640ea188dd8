//! Simulators of the peers the gateway talks to. `smsc` is an SMPP 3.4 SMSC: binds, submits, receipts,
//! MO messages and faults on demand, fast enough not to be the bottleneck of a bench; `cli` is its
//! `smsbridge sim smsc` command.

pub mod cli;
pub mod smsc;
