//! The SMPP 3.4 ESME link: one tokio task per bind that owns its socket (TCP or TLS) and its window.
//!
//! The rest of the gateway talks to a link through a [`LinkHandle`] (a bounded channel of submits, each with a
//! oneshot reply carrying a [`SubmitOutcome`]) and an [`InboundHandler`] that receives deliver_sm / data_sm
//! (receipts and MO messages) and says when their content is durably committed; only then is the
//! deliver_sm_resp sent. See [`spawn`]. [`LinkHandle::cancel`] sends a cancel_sm of an earlier submit through
//! the same queue and window and answers with a [`CancelSmOutcome`].
//!
//! How the dispatcher uses a link:
//!
//! ```no_run
//! use std::sync::Arc;
//! use smsbridge::link::smpp::{
//!     ChannelHandler, SmppLinkConfig, SmppMetrics, SubmitOutcome, SubmitRequest, Verdict, spawn,
//! };
//! use smsbridge_protocol::smpp::SubmitSm;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = prometheus::Registry::new();
//! let metrics = SmppMetrics::register(&registry)?; // once per registry, shared by all links
//! let (inbound_tx, mut inbound) = tokio::sync::mpsc::channel(64);
//! let cancel = CancellationToken::new();
//! let config = SmppLinkConfig { carrier: "acme".into(), link: "trx1".into(), host: "127.0.0.1".into(),
//!     port: 2775, system_id: "esme".into(), password: "pw".into(), window: 50, ..Default::default() };
//! let link = spawn(config, Arc::new(ChannelHandler(inbound_tx)), metrics.link("acme", "trx1"), cancel.clone())?;
//! let handle = link.handle();
//!
//! // Receipts and MO messages: commit, then answer (the link sends deliver_sm_resp only then).
//! tokio::spawn(async move {
//!     while let Some((msg, reply)) = inbound.recv().await {
//!         // store.commit(&msg).await ...
//!         let _ = reply.send(Verdict::Committed);
//!     }
//! });
//!
//! let sm = SubmitSm { destination_addr: b"4915112345678".to_vec().into(), registered_delivery: 1,
//!     short_message: b"hello".to_vec().into(), ..Default::default() };
//! match handle.submit(SubmitRequest::SubmitSm(sm)).await {
//!     SubmitOutcome::Accepted { message_id } => { /* SUBMITTED; keep (carrier, message_id) */ }
//!     SubmitOutcome::Rejected { status } => { /* FAILED: permanent */ }
//!     SubmitOutcome::Transient { status } => { /* requeue with backoff */ }
//!     SubmitOutcome::Unknown { reason } => { /* may have been sent: resend and count it */ }
//!     SubmitOutcome::NotSent { reason } => { /* never written: resend freely */ }
//! }
//! cancel.cancel(); // drain, unbind
//! link.join().await;
//! # Ok(()) }
//! ```

mod codec;
mod config;
mod error;
mod metrics;
mod session;

pub use codec::{CodecError, Decoded, SmppCodec, sniff_protocol};
pub use config::{Backoff, BindMode, SmppLinkConfig, TlsConfig};
pub use error::LinkError;
pub use metrics::{LinkMetrics, SmppMetrics};
pub use session::{
    BindRole, BindState, CancelRequest, CancelSmOutcome, CancelTransient, ChannelHandler,
    InboundHandler, InboundKind, InboundMessage, InboundPdu, LinkHandle, NotSentReason,
    ReceiptInfo, SmppLink, SubmitOutcome, SubmitRequest, UnknownReason, Verdict, spawn,
};
