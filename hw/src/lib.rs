//! smsbridge-hw: the GSM modem driver.
//!
//! An AT session engine over any async byte stream (tokio-serial in production, a pseudo-terminal in
//! tests), the modem life cycle, send/receive/status reports, a modem pool, and the modem simulator.
//! It knows modems, not the gateway: the gateway composes it with the rest.
//!
//! - [`session`]: one AT command at a time, per-kind deadlines, URCs at any time.
//! - [`modem`]: the task per modem ([`modem::spawn`] gives a [`modem::ModemHandle`] and [`modem::ModemEvent`]s).
//! - [`pool`]: several modems with rate limits, carrier choice and failover.
//! - [`port`]: opening devices by path, IMEI or ICCID.
//! - [`sim`]: the simulated modem on a pseudo-terminal.

//! # How the gateway uses it
//!
//! The gateway plans and segments messages itself and hands each segment to a modem as a ready-made
//! SMS-SUBMIT with [`ModemHandle::send_tpdu`]; [`ModemHandle::send`] and the pool plan whole texts, as
//! below, for callers that do not.
//!
//! ```no_run
//! use std::time::Duration;
//! use smsbridge_hw::{
//!     CancellationToken, DeviceSelector, MemberConfig, ModemConfig, ModemEvent, ModemPool,
//!     OutgoingSms, PoolPolicy, spawn,
//! };
//! use tokio::sync::mpsc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cancel = CancellationToken::new();
//! // One bounded channel for the events of every modem (each event names its modem).
//! let (events_tx, mut events) = mpsc::channel(256);
//! let mut pool = ModemPool::new(PoolPolicy::default());
//! let device = DeviceSelector::Path("/dev/serial/by-id/usb-Quectel_EC25-if02-port0".into());
//! let mut cfg = ModemConfig::new("modem-1", device);
//! cfg.pin = Some("1234".into());
//! let (modem, _task) = spawn(cfg, events_tx.clone(), cancel.clone());
//! pool.add(modem, MemberConfig { carrier: None, rate_per_sec: 0.5, burst: 3 });
//!
//! // Send: a healthy modem of the carrier (MCC+MNC of its SIM, or the configured one), failing over.
//! let sent = pool
//!     .send(&OutgoingSms { to: "+46701234567".into(), text: "hi".into(), want_report: true },
//!           Some("24008"))
//!     .await?;
//! // Correlate later status reports by (modem, TP-MR, recipient).
//! let key = (sent.receipt.modem.clone(), sent.receipt.tp_mrs.clone(), sent.receipt.recipient.clone());
//! # let _ = key;
//!
//! // Receive: commit durably, then confirm; only then is the SIM copy deleted.
//! while let Some(ev) = events.recv().await {
//!     match ev {
//!         ModemEvent::Incoming { message, commit } => {
//!             // store(message).await?;
//!             # let _ = message;
//!             commit.confirm();
//!         }
//!         ModemEvent::Receipt { receipt, commit } => {
//!             // receipt.state is the same final-state enum SMPP receipts map to.
//!             # let _ = receipt;
//!             commit.confirm();
//!         }
//!     }
//! }
//! # let _ = Duration::ZERO;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod metrics;
pub mod modem;
pub mod pool;
pub mod port;
pub mod session;
pub mod sim;

pub use config::{DeviceSelector, FlowControl, IncomingMode, ModemConfig, ReportMode};
pub use metrics::{MetricsSnapshot, ModemMetrics};
pub use modem::{
    Commit, Identity, IncomingSms, LinkState, ModemEvent, ModemHandle, ModemStatus, OutgoingSms,
    ProbeReport, ReceiptEvent, SendError, SendReceipt, SimProblem, TpduReceipt, describe_result,
    receipt_state, spawn,
};
pub use pool::{MemberConfig, ModemPool, PoolError, PoolPolicy, PoolReceipt};

/// The cancellation token modem tasks take (re-exported so callers need not depend on tokio-util).
pub use tokio_util::sync::CancellationToken;
