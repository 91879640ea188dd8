//! The SMPP 3.4 ESME link: one tokio task per bind that owns its socket (TCP or TLS) and its window.
//!
//! The rest of the gateway talks to a link through a [`LinkHandle`] (a bounded channel of submits, each with a
//! oneshot reply carrying a [`SubmitOutcome`]) and an [`InboundHandler`] that receives deliver_sm / data_sm
//! (receipts and MO messages) and says when their content is durably committed; only then is the
//! deliver_sm_resp sent. See [`spawn`].

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
    BindRole, BindState, ChannelHandler, InboundHandler, InboundKind, InboundMessage, InboundPdu,
    LinkHandle, NotSentReason, ReceiptInfo, SmppLink, SubmitOutcome, SubmitRequest, UnknownReason,
    Verdict, spawn,
};
