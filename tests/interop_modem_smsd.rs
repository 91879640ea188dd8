//! The modem simulator checked against smstools3's `smsd`, a modem client we did not write: it spools an
//! outgoing short and long message through `+CMGS` in PDU mode (to `sent/`), reads the stored status reports
//! and an injected incoming message with `+CPMS?` / `+CMGR` / `+CMGD` (to `incoming/`).
//!
//! Needs `smsd` (Debian package `smstools`); skipped when absent unless `SMSBRIDGE_REQUIRE_INTEROP=1`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use smsbridge_hw::sim::{SimConfig, SimModem};

fn smsd() -> Option<String> {
    for p in ["/usr/sbin/smsd", "/usr/bin/smsd", "/usr/local/sbin/smsd"] {
        if Path::new(p).exists() {
            return Some(p.to_owned());
        }
    }
    if std::env::var("SMSBRIDGE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("smsd (Debian package smstools) is required (SMSBRIDGE_REQUIRE_INTEROP=1)");
    }
    eprintln!("skipping: smsd not installed (Debian package smstools)");
    None
}

/// Polls `cond` every 100 ms for at most `within`.
fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        if !wait_until(Duration::from_secs(5), || {
            self.0.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[test]
fn smsd_sends_and_receives_through_the_simulator() {
    let Some(smsd) = smsd() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let sim = SimModem::start(SimConfig {
        report_delay: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .expect("simulator");

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for sub in ["outgoing", "checked", "failed", "incoming", "sent"] {
        std::fs::create_dir(d.join(sub)).expect("spool dir");
    }
    let template = include_str!("interop/smsd_modem.conf");
    let conf = template
        .replace("@DIR@", &d.display().to_string())
        .replace("@DEVICE@", &sim.path().display().to_string());
    let conf_path = d.join("smsd.conf");
    std::fs::write(&conf_path, conf).expect("config");
    // smsd numbers are international without '+'.
    std::fs::write(
        d.join("outgoing/short"),
        "To: 46701234567\n\nhello from smsd\n",
    )
    .expect("spool");
    let long = "y".repeat(200);
    std::fs::write(
        d.join("outgoing/long"),
        format!("To: 46701234568\n\n{long}\n"),
    )
    .expect("spool");

    let child = Command::new(&smsd)
        .arg("-t")
        .arg(format!("-c{}", conf_path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start smsd");
    let _smsd = KillOnDrop(child);
    let log = || std::fs::read_to_string(d.join("smsd.log")).unwrap_or_default();

    let sent_ok = wait_until(Duration::from_secs(60), || {
        d.join("sent/short").exists() && d.join("sent/long").exists()
    });
    assert!(sent_ok, "smsd did not send; log:\n{}", log());
    // smsd picks spool files in no fixed order.
    let on_air = sim.sent();
    assert_eq!(on_air.len(), 3, "{on_air:?}");
    let short_sms = on_air
        .iter()
        .find(|s| s.text.as_deref() == Some("hello from smsd"))
        .expect("the short message on the air");
    assert_eq!(short_sms.to, "+46701234567");
    assert!(short_sms.concat.is_none());
    let mut parts: Vec<_> = on_air.iter().filter(|s| s.to == "+46701234568").collect();
    parts.sort_by_key(|s| s.concat.map(|c| c.number));
    let joined: String = parts.iter().filter_map(|s| s.text.clone()).collect();
    assert_eq!(joined, long);
    assert!(parts.iter().all(|s| s.concat.is_some_and(|c| c.parts == 2)));
    let short = std::fs::read_to_string(d.join("sent/short")).unwrap_or_default();
    assert!(
        short.contains(&format!("Message_id: {}", short_sms.tp_mr)),
        "{short}"
    );
    assert!(short.contains("IMEI: 356938035643809"), "{short}");

    // Its status reports (TP-SRR was set) are stored on the SIM and read back by smsd.
    let reports_ok = wait_until(Duration::from_secs(60), || {
        files(&d.join("incoming"))
            .iter()
            .filter(|f| f.contains("SMS STATUS REPORT"))
            .count()
            == 3
    });
    assert!(reports_ok, "status reports not read; log:\n{}", log());
    let incoming = files(&d.join("incoming"));
    for id in 0..3 {
        assert!(
            incoming
                .iter()
                .any(|f| f.contains(&format!("Message_id: {id}")) && f.contains("Status: 0,Ok")),
            "report {id} missing: {incoming:?}"
        );
    }

    sim.inject_sms("+46709999999", "incoming for smsd")
        .expect("inject");
    let got = wait_until(Duration::from_secs(60), || {
        files(&d.join("incoming"))
            .iter()
            .any(|f| f.contains("From: 46709999999") && f.ends_with("incoming for smsd"))
    });
    assert!(got, "incoming message not saved; log:\n{}", log());
    // smsd deletes what it saved.
    assert!(wait_until(Duration::from_secs(20), || sim
        .stored()
        .is_empty()));
}
