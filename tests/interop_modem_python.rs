//! The modem simulator checked against python-gsmmodem-new, a client we did not write: it connects (its own
//! init sequence), lists stored messages (`+CMGL`), sends in PDU mode (`+CMGS` with the prompt), gets a
//! stored status report (`+CDSI`, `+CMGR`) and an incoming message (`+CMTI`, `+CMGR`, `+CMGD`).
//!
//! Needs `SMSBRIDGE_PYTHON` (a Python with python-gsmmodem-new); skipped when absent unless
//! `SMSBRIDGE_REQUIRE_INTEROP=1`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use smsbridge_hw::sim::{SimConfig, SimModem};

fn python() -> Option<String> {
    let py = std::env::var("SMSBRIDGE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let usable = py.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import gsmmodem"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return py;
    }
    if std::env::var("SMSBRIDGE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "SMSBRIDGE_PYTHON with python-gsmmodem-new is required (SMSBRIDGE_REQUIRE_INTEROP=1)"
        );
    }
    eprintln!("skipping: set SMSBRIDGE_PYTHON to a Python with python-gsmmodem-new");
    None
}

#[test]
fn python_gsmmodem_talks_to_the_simulator() {
    let Some(py) = python() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let sim = SimModem::start(SimConfig {
        report_delay: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .expect("simulator");
    sim.inject_sms("+46700000001", "waiting on the SIM")
        .expect("stored message");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/modem_gsmmodem.py"
    );
    let mut child = Command::new(&py)
        .arg(script)
        .arg(sim.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    let next = |phase: &str| -> Value {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(v) => {
                assert_eq!(v["phase"], phase, "{v}");
                v
            }
            Err(e) => panic!(
                "no {phase} line from python-gsmmodem: {e}; commands {:?}",
                sim.commands()
            ),
        }
    };

    let connected = next("connected");
    assert_eq!(connected["imei"], "356938035643809");
    assert_eq!(connected["imsi"], "240080123456789");
    assert_eq!(connected["signal"], 21);
    assert_eq!(connected["network"], "SIMNET");
    assert_eq!(connected["smsc"], "+46708251600");
    assert_eq!(
        connected["stored"],
        serde_json::json!([{"number": "+46700000001", "text": "waiting on the SIM"}])
    );

    let sent = next("sent");
    let on_air = sim.sent();
    let texts: Vec<_> = on_air.iter().filter_map(|s| s.text.clone()).collect();
    assert_eq!(
        texts,
        vec![
            "hello from python-gsmmodem".to_owned(),
            "x".repeat(153),
            "x".repeat(47)
        ]
    );
    assert_eq!(on_air[0].to, "+46701234567");
    assert!(
        on_air.iter().all(|s| s.submit.tp_srr),
        "python asked for reports"
    );
    assert_eq!(sent["references"], serde_json::json!([0, 2]));
    // Its decoder read our stored status report for the first message.
    let reports = sent["reports"].as_array().expect("reports");
    assert!(
        reports.iter().any(|r| r["reference"] == 0
            && r["number"] == "+46701234567"
            && r["delivered"] == true),
        "{reports:?}"
    );

    sim.inject_sms("+46709999999", "incoming for python")
        .expect("inject");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("signal python");
    let received = next("receive");
    assert_eq!(
        received["received"],
        serde_json::json!([{"number": "+46709999999", "text": "incoming for python"}])
    );
    let status = child.wait().expect("python exit");
    assert!(status.success());
    // It deleted the status reports it read (+CMGD after its handler); the message it only listed stays.
    assert!(sim.count_commands("+CMGD=") >= 1);
    assert!(
        sim.stored().iter().any(|m| m.index == 1),
        "{:?}",
        sim.stored()
    );
}
