//! `smsbridge modem probe` and `smsbridge modem send` run as processes against `smsbridge sim modem`, which
//! serves a real pseudo-terminal: the same path an operator takes with a USB modem.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smsbridge");

struct Sim {
    child: Child,
    stdout: BufReader<ChildStdout>,
    path: String,
}

fn start_sim() -> Sim {
    let mut child = Command::new(BIN)
        .args([
            "sim",
            "modem",
            "--report-delay-ms",
            "200",
            "--seconds",
            "120",
            "--until-stdin-closes",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start smsbridge sim modem");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut path = String::new();
    stdout.read_line(&mut path).expect("the pty path");
    let path = path.trim().to_owned();
    assert!(path.starts_with("/dev/pts/"), "{path:?}");
    Sim {
        child,
        stdout,
        path,
    }
}

fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run smsbridge");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {text:?}; stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn probe_and_send_against_the_simulator() {
    let mut sim = start_sim();

    let (code, probe) = run(&["modem", "probe", &sim.path]);
    assert_eq!(code, 0, "{probe}");
    assert_eq!(probe["device"], sim.path.as_str());
    assert_eq!(probe["imei"], "356938035643809");
    assert_eq!(probe["imsi"], "240080123456789");
    assert_eq!(
        (probe["mcc"].as_str(), probe["mnc"].as_str()),
        (Some("240"), Some("08"))
    );
    assert_eq!(probe["iccid"], "89460800001234567890");
    assert_eq!(probe["sim"], "READY");
    assert_eq!(probe["signal"]["rssi"], 21);
    assert_eq!(probe["signal"]["dbm"], -71);
    assert_eq!(probe["registration"]["name"], "home");
    assert_eq!(probe["operator"], "SIMNET");
    assert_eq!(probe["smsc"], "+46708251600");

    let (code, sent) = run(&[
        "modem",
        "send",
        &sim.path,
        "+46701234567",
        "hello from the cli",
        "--wait-report",
        "--timeout",
        "20",
    ]);
    assert_eq!(code, 0, "{sent}");
    assert_eq!(sent["tp_mr"], serde_json::json!([0]));
    assert_eq!(sent["recipient"], "+46701234567");
    let reports = sent["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["tp_mr"], 0);
    assert_eq!(reports[0]["state"], "delivered");

    let long = "a".repeat(200);
    let (code, sent) = run(&["modem", "send", &sim.path, "+46701234568", &long]);
    assert_eq!(code, 0, "{sent}");
    assert_eq!(sent["tp_mr"], serde_json::json!([1, 2]));
    assert!(sent["reports"].is_null());

    // Closing its standard input stops the simulator; it prints what it was sent.
    drop(sim.child.stdin.take());
    let mut rest = String::new();
    let _ = sim.stdout.read_to_string(&mut rest);
    let _ = sim.child.wait();
    let summary: Value = serde_json::from_str(rest.trim()).expect("summary JSON");
    let texts: Vec<&str> = summary["sent"]
        .as_array()
        .expect("sent")
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["hello from the cli", &long[..153], &long[153..]]
    );
}

#[test]
fn probe_of_a_missing_device_fails_with_a_message() {
    let out = Command::new(BIN)
        .args(["modem", "probe", "/dev/does-not-exist-smsbridge"])
        .output()
        .expect("run smsbridge");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does-not-exist-smsbridge"), "{err}");
}
