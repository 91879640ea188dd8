//! Our SMPP link against an SMSC we did not write: `tests/interop/node_smsc.js` (node's `smpp` package).
//! Bind, submit, submit_sm_resp, receipt to the handler (and deliver_sm_resp OK seen by the peer), unbind.
//!
//! Needs `node` and `npm ci` in tests/interop. Missing: the test fails when SMSBRIDGE_REQUIRE_INTEROP=1,
//! otherwise it prints a skip notice and passes.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{LIMIT, link_to_peer, listening_peer, missing, peer_line};
use smsbridge::link::smpp::{InboundKind, SubmitOutcome, SubmitRequest};
use smsbridge_protocol::smpp::SubmitSm;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Waits for a JSON line from the peer matching `pred`.
async fn event(
    lines: &mut mpsc::UnboundedReceiver<String>,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    peer_line(lines, "line", |line| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .filter(|v| pred(v))
    })
    .await
}

#[tokio::test]
async fn link_binds_submits_and_gets_a_receipt_from_node_smpp() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    if !dir.join("node_modules/smpp").is_dir() {
        return missing("tests/interop/node_modules/smpp (run npm ci in tests/interop)");
    }
    let mut child = match Command::new("node")
        .arg("node_smsc.js")
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return missing(&format!("node ({e})")),
    };
    let (port, mut lines) = listening_peer(&mut child, "node").await;
    let cancel = CancellationToken::new();
    let (link, mut inbound) = link_to_peer("node", port, &cancel);
    let handle = link.handle();
    assert!(handle.wait_bound(LIMIT).await, "bound to node smpp");
    event(&mut lines, |v| {
        v["event"] == "bind" && v["kind"] == "transceiver"
    })
    .await;

    let outcome = timeout(
        LIMIT,
        handle.submit(SubmitRequest::SubmitSm(SubmitSm {
            source_addr: b"15550001".to_vec().into(),
            destination_addr: b"4915112345678".to_vec().into(),
            registered_delivery: 1,
            short_message: b"hello from smsbridge".to_vec().into(),
            ..SubmitSm::default()
        })),
    )
    .await
    .expect("answered");
    let SubmitOutcome::Accepted { message_id } = outcome else {
        panic!("expected Accepted, got {outcome:?}");
    };
    let seen = event(&mut lines, |v| v["event"] == "submit_sm").await;
    assert_eq!(seen["message_id"], message_id.as_str());
    assert_eq!(seen["destination_addr"], "4915112345678");
    assert_eq!(seen["text"], "hello from smsbridge");

    let receipt = timeout(LIMIT, inbound.recv())
        .await
        .expect("receipt in time")
        .expect("open");
    assert_eq!(receipt.kind, InboundKind::Receipt);
    let info = receipt.receipt.expect("receipt info");
    assert_eq!(info.message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(info.state, Some("delivered"));
    let resp = event(&mut lines, |v| v["event"] == "deliver_sm_resp").await;
    assert_eq!(resp["command_status"], 0);
    assert_eq!(resp["message_id"], message_id.as_str());

    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("link ends");
    event(&mut lines, |v| v["event"] == "unbind").await;
    let _ = child.kill().await;
}
