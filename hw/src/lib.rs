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
    ProbeReport, ReceiptEvent, SendError, SendReceipt, SimProblem, receipt_state, spawn,
};
pub use pool::{MemberConfig, ModemPool, PoolError, PoolPolicy, PoolReceipt};

/// The cancellation token modem tasks take (re-exported so callers need not depend on tokio-util).
pub use tokio_util::sync::CancellationToken;
