//! The SMSC simulator against a client we did not write: `tests/interop/smpplib_client.py` (PyPI
//! `smpplib`). It binds, submits, waits for every receipt, unbinds and prints a JSON summary.
//!
//! The Python comes from SMSBRIDGE_PYTHON (tests/run.sh sets it). Missing: the test fails when
//! SMSBRIDGE_REQUIRE_INTEROP=1, otherwise it prints a skip notice and passes.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use smsbridge::sim::smsc::{IdFormat, Smsc, SmscConfig};
use tokio::process::Command;
use tokio::time::timeout;

fn missing(what: &str) {
    if std::env::var("SMSBRIDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
        panic!("interop peer missing: {what} (SMSBRIDGE_REQUIRE_INTEROP=1)");
    }
    eprintln!("SKIPPED: interop peer missing: {what}");
}

async fn run(id_format: IdFormat, delay: Duration) {
    let Some(python) = std::env::var_os("SMSBRIDGE_PYTHON") else {
        return missing("SMSBRIDGE_PYTHON (a Python with smpplib)");
    };
    let has_smpplib = std::process::Command::new(&python)
        .args(["-c", "import smpplib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_smpplib {
        return missing("smpplib in SMSBRIDGE_PYTHON");
    }
    let sim = Smsc::start(SmscConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        accounts: vec![("smpplib".into(), "secret".into())],
        id_format,
        receipt_delay: (Duration::ZERO, delay),
        ..SmscConfig::default()
    })
    .await
    .expect("sim");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/smpplib_client.py");
    let out = timeout(
        Duration::from_secs(60),
        Command::new(&python)
            .arg(&script)
            .arg("127.0.0.1")
            .arg(sim.local_addr().port().to_string())
            .args(["smpplib", "secret", "5"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("client ends in time")
    .expect("client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "smpplib client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a JSON summary"),
    )
    .expect("JSON");
    assert_eq!(summary["submitted"], 5);
    let ids: Vec<String> = summary["message_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("string id").to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    let receipts = summary["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 5);
    for r in receipts {
        let rid = r["receipted_message_id"]
            .as_str()
            .expect("receipted_message_id");
        assert!(ids.iter().any(|i| i == rid), "{rid} not among {ids:?}");
        assert_eq!(r["esm_class"], 4);
        assert_eq!(r["message_state"], 2);
        let text = r["short_message"].as_str().expect("text");
        assert!(text.starts_with(&format!("id:{rid} ")), "{text}");
        assert!(text.contains("stat:DELIVRD"), "{text}");
    }
    for id in &ids {
        match id_format {
            IdFormat::Hex => assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}"),
            IdFormat::Decimal => assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}"),
            IdFormat::Uuid => assert_eq!(id.len(), 36, "{id}"),
            IdFormat::PaddedHex => assert!(
                id.len() == 16
                    && id
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
                "{id}"
            ),
        }
    }
    let c = sim.counters();
    assert_eq!(c.binds.load(Ordering::SeqCst), 1);
    assert_eq!(c.accepted.load(Ordering::SeqCst), 5);
    assert_eq!(c.receipts_sent.load(Ordering::SeqCst), 5);
    assert_eq!(c.deliver_resp_ok.load(Ordering::SeqCst), 5);
    assert_eq!(c.unbinds.load(Ordering::SeqCst), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn smpplib_binds_submits_and_receives_receipts_hex_ids() {
    run(IdFormat::Hex, Duration::ZERO).await;
}

#[tokio::test]
async fn smpplib_receives_delayed_receipts_with_uuid_ids() {
    run(IdFormat::Uuid, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn smpplib_receives_receipts_with_padded_hex_ids() {
    run(IdFormat::PaddedHex, Duration::ZERO).await;
}
