//! Simulators of the peers the gateway talks to. `smsc` is an SMPP 3.4 SMSC: binds, submits, receipts,
//! MO messages and faults on demand, fast enough not to be the bottleneck of a bench; `cli` is its
//! `smsbridge sim smsc` command.
//!
//! As the built-in carrier (the default configuration has no carrier account): start it in-process on a
//! free port and point an ordinary SMPP link at it.
//!
//! ```no_run
//! use smsbridge::link::smpp::SmppLinkConfig;
//! use smsbridge::sim::smsc::{Smsc, SmscConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = Smsc::start(SmscConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await?;
//! let link = SmppLinkConfig {
//!     carrier: "simulated".into(),
//!     host: "127.0.0.1".into(),
//!     port: sim.local_addr().port(),
//!     system_id: "smsbridge".into(), // any account is accepted when `accounts` is empty
//!     ..Default::default()
//! };
//! // ... spawn the link with `link`; `sim.control()` injects faults and MOs, `sim.counters()` counts.
//! # let _ = link; sim.shutdown().await; Ok(()) }
//! ```

pub mod cli;
pub mod smsc;
