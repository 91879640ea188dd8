//! What can end a bind attempt or a session.

use std::io;
use std::time::Duration;

use smsbridge_protocol::smpp::{CommandId, CommandStatus, FrameError};

use super::codec::CodecError;

/// Why a link could not bind, or why its session ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// TCP connect or TLS handshake took too long.
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout {
        /// host:port.
        addr: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {server_name} failed: {source}")]
    Tls {
        /// The expected server name.
        server_name: String,
        /// What rustls said.
        source: io::Error,
    },
    /// The SMSC answered the bind with an error status (or a generic_nack).
    #[error("{command} refused by the SMSC: {status}")]
    BindRefused {
        /// bind_transceiver / bind_transmitter / bind_receiver.
        command: CommandId,
        /// The SMSC's command_status (ESME_RINVPASWD, ESME_RBINDFAIL, ESME_RALYBND, ...).
        status: CommandStatus,
    },
    /// No bind response in time.
    #[error("no response to {command} within {after:?}")]
    BindTimeout {
        /// The bind command sent.
        command: CommandId,
        /// The configured timeout.
        after: Duration,
    },
    /// The peer sent something that is not SMPP (HTTP, TLS, text).
    #[error("the peer is not speaking SMPP: it sent {protocol} ({preview:?})")]
    NotSmpp {
        /// What it looks like.
        protocol: &'static str,
        /// Its first octets, printable.
        preview: String,
    },
    /// A command_length that cannot be right: the PDU stream cannot be followed any more.
    #[error("PDU stream out of sync: {0}")]
    OutOfSync(FrameError),
    /// The peer closed the connection.
    #[error("connection closed by the peer")]
    Closed,
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer did not answer enquire_link.
    #[error("the peer is silent: no enquire_link_resp within {0:?}")]
    PeerSilent(Duration),
    /// The SMSC sent unbind.
    #[error("the SMSC unbound the session")]
    UnboundByPeer,
    /// The SMSC says our bind state is wrong (ESME_RINVBNDSTS): rebind.
    #[error("the SMSC says the session is not bound: {0}")]
    NotBound(CommandStatus),
    /// Settings the link cannot run with.
    #[error("invalid link configuration: {0}")]
    Config(String),
}

impl LinkError {
    /// The SMSC's status for a refused bind.
    pub fn bind_status(&self) -> Option<CommandStatus> {
        match self {
            LinkError::BindRefused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<CodecError> for LinkError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::NotSmpp { protocol, preview } => LinkError::NotSmpp { protocol, preview },
            CodecError::OutOfSync(f) => LinkError::OutOfSync(f),
            CodecError::Io(e) => LinkError::Io(e),
        }
    }
}
