//! Our SMPP link against an SMSC we did not write: `tests/interop/perl_smsc.pl` (Perl's Net::SMPP).
//! Bind, submit, submit_sm_resp, receipt to the handler (and deliver_sm_resp OK seen by the peer), unbind.
//!
//! Needs perl with Net::SMPP (Debian libnet-smpp-perl). Missing: the test fails when
//! SMSBRIDGE_REQUIRE_INTEROP=1, otherwise it prints a skip notice and passes.

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

/// Waits for an `EVENT name ...` line from the peer; returns its key=value pairs.
async fn event(lines: &mut mpsc::UnboundedReceiver<String>, name: &str) -> Vec<(String, String)> {
    peer_line(lines, name, |line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("EVENT") && words.next() == Some(name)).then(|| {
            words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    })
    .await
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn link_binds_submits_and_gets_a_receipt_from_perl_net_smpp() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let has_module = std::process::Command::new("perl")
        .args(["-MNet::SMPP", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_module {
        return missing("perl with Net::SMPP (libnet-smpp-perl)");
    }
    let mut child = Command::new("perl")
        .arg("perl_smsc.pl")
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("perl starts");
    let (port, mut lines) = listening_peer(&mut child, "perl").await;
    let cancel = CancellationToken::new();
    let (link, mut inbound) = link_to_peer("perl", port, &cancel);
    let handle = link.handle();
    assert!(handle.wait_bound(LIMIT).await, "bound to Net::SMPP");
    let bind = event(&mut lines, "bind").await;
    assert_eq!(get(&bind, "system_id"), Some("interop"));

    let outcome = timeout(
        LIMIT,
        handle.submit(SubmitRequest::SubmitSm(SubmitSm {
            source_addr: b"15550001".to_vec().into(),
            destination_addr: b"4915112345678".to_vec().into(),
            registered_delivery: 1,
            short_message: b"hello perl".to_vec().into(),
            ..SubmitSm::default()
        })),
    )
    .await
    .expect("answered");
    let SubmitOutcome::Accepted { message_id } = outcome else {
        panic!("expected Accepted, got {outcome:?}");
    };
    let seen = event(&mut lines, "submit_sm").await;
    assert_eq!(get(&seen, "message_id"), Some(message_id.as_str()));
    assert_eq!(get(&seen, "destination_addr"), Some("4915112345678"));
    assert_eq!(
        get(&seen, "text_hex"),
        Some(hex::encode("hello perl").as_str())
    );

    let receipt = timeout(LIMIT, inbound.recv())
        .await
        .expect("receipt in time")
        .expect("open");
    assert_eq!(receipt.kind, InboundKind::Receipt);
    let info = receipt.receipt.expect("receipt info");
    assert_eq!(info.message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(info.state, Some("delivered"));
    let resp = event(&mut lines, "deliver_sm_resp").await;
    assert_eq!(get(&resp, "status"), Some("0"));

    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("link ends");
    event(&mut lines, "unbind").await;
    let _ = child.kill().await;
}
