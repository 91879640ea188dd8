//! Helpers shared by the SMPP interop tests (`interop_smpp_node.rs`, `interop_smpp_perl.rs`): the skip rule
//! for a missing peer, the peer's stdout as lines, and our link bound to the peer with an inbound handler
//! that collects what arrives.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prometheus::Registry;
use smsbridge::link::smpp::{
    InboundHandler, InboundMessage, SmppLink, SmppLinkConfig, SmppMetrics, Verdict, spawn,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

/// Longest any single step of an interop test may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// An inbound handler that passes every message to the test and answers it as committed.
pub struct Collect(pub mpsc::UnboundedSender<InboundMessage>);

impl InboundHandler for Collect {
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        let _ = self.0.send(msg);
        Box::pin(async { Verdict::Committed })
    }
}

/// A peer is not installed: fail when SMSBRIDGE_REQUIRE_INTEROP=1, otherwise print a skip notice.
pub fn missing(what: &str) {
    if std::env::var("SMSBRIDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
        panic!("interop peer missing: {what} (SMSBRIDGE_REQUIRE_INTEROP=1)");
    }
    eprintln!("SKIPPED: interop peer missing: {what}");
}

/// Reads the peer's `LISTENING <port>` line from its stdout, then forwards every later line to the returned
/// channel.
pub async fn listening_peer(
    child: &mut Child,
    peer: &str,
) -> (u16, mpsc::UnboundedReceiver<String>) {
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout).lines();
    let port: u16 = timeout(LIMIT, async {
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some(p) = line.strip_prefix("LISTENING ") {
                return p.trim().parse().ok();
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("{peer} prints LISTENING in time"))
    .expect("a port");
    let (ltx, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            if ltx.send(line).is_err() {
                break;
            }
        }
    });
    (port, lines)
}

/// Waits (at most [`LIMIT`]) for the first peer line that `parse` accepts; `what` names it in the panic.
pub async fn peer_line<T>(
    lines: &mut mpsc::UnboundedReceiver<String>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> T {
    let end = Instant::now() + LIMIT;
    loop {
        let line = tokio::time::timeout_at(end, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("peer event {what} in time"))
            .expect("peer still running");
        if let Some(v) = parse(&line) {
            return v;
        }
    }
}

/// Our link, as carrier `carrier`, to the peer on loopback `port` with the interop credentials; inbound
/// messages come out of the returned channel.
pub fn link_to_peer(
    carrier: &str,
    port: u16,
    cancel: &CancellationToken,
) -> (SmppLink, mpsc::UnboundedReceiver<InboundMessage>) {
    let (tx, inbound) = mpsc::unbounded_channel();
    let registry = Registry::new();
    let link = spawn(
        SmppLinkConfig {
            carrier: carrier.into(),
            host: "127.0.0.1".into(),
            port,
            system_id: "interop".into(),
            password: "secret".into(),
            ..SmppLinkConfig::default()
        },
        Arc::new(Collect(tx)),
        SmppMetrics::register(&registry)
            .expect("metrics")
            .link(carrier, "l1"),
        cancel.clone(),
    )
    .expect("spawn");
    (link, inbound)
}
