//! A message's validity reaches the carrier end to end: gRPC Submit with a validity -> store (SQLite in a
//! temp dir) -> dispatcher -> submit_sm over TCP to the SMSC simulator, or SMS-SUBMIT over a pseudo-terminal
//! to the modem simulator. The carrier gets the time left until the message's valid_until, never more
//! (SMPP validity_period in relative format, a modem's relative TP-VP, with its 5-minute floor); nothing
//! when the carrier's `send_validity` is false. Loopback and pseudo-terminals only, every wait bounded.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smsbridge::api::pb;
use smsbridge::sim::smsc::{RecordedSubmit, Smsc, SmscControl};
use smsbridge_hw::sim::{SentSms, SimConfig, SimHandle, SimModem};
use smsbridge_protocol::smpp::SmppTime;
use smsbridge_protocol::sms::ValidityPeriod;
use tokio::time::Instant;

mod harness;
use harness::{Running, SmppToml, WAIT, eventually, state_of};

/// Wall-clock milliseconds since the Unix epoch (valid_until is wall-clock).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ms_of(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1_000 + i64::from(t.nanos) / 1_000_000
}

/// Submits `text` to `to` with `validity` (`None`: the config's default); returns the message id.
async fn submit(gw: &mut Running, to: &str, validity: Option<Duration>) -> String {
    let request = pb::SubmitRequest {
        validity: validity.map(|v| prost_types::Duration {
            seconds: i64::try_from(v.as_secs()).expect("seconds"),
            nanos: i32::try_from(v.subsec_nanos()).expect("nanos"),
        }),
        ..harness::text_message(to, "validity")
    };
    harness::submit_with(&mut gw.client, request)
        .await
        .message_id
}

/// The message's valid_until, in Unix milliseconds.
async fn valid_until_ms(gw: &mut Running, id: &str) -> i64 {
    let m = gw.get(id).await;
    ms_of(m.valid_until.as_ref().expect("valid_until"))
}

/// Asserts `told` is no longer than what was left of the message when it was built (after `before`), and
/// at most `slack` shorter than what was left when the carrier had it (before `after`).
fn assert_within(told: Duration, valid_until: i64, before: i64, after: i64, slack: Duration) {
    let most = Duration::from_millis(u64::try_from(valid_until - before).expect("future"));
    let least = Duration::from_millis(u64::try_from(valid_until - after).unwrap_or(0));
    assert!(told <= most, "told {told:?}, but only {most:?} were left");
    assert!(
        told + slack >= least,
        "told {told:?}, but {least:?} were still left (slack {slack:?})"
    );
}

/// Two carriers on one SMSC simulator: "told" (numbers +4915…) sends the validity, "untold" (+4916…) has
/// `send_validity = false`; messages without a validity get the default of 1h.
fn smpp_config(dir: &Path, port: u16) -> String {
    SmppToml::new(dir, port)
        .api(r#"default_validity = "1h""#)
        .carrier("told", "rate_limit = { per_second = 1000 }")
        .carrier(
            "untold",
            "rate_limit = { per_second = 1000 }\nsend_validity = false",
        )
        .route("+4915", "told")
        .route("+4916", "untold")
        .text()
}

/// The SMSC simulator on loopback, delivering everything after 20 ms and recording each submit_sm.
async fn start_recording_smsc() -> (Smsc, SmscControl) {
    let sim = harness::smsc((Duration::from_millis(20), Duration::from_millis(20))).await;
    let control = sim.control();
    control.record_submits(true);
    (sim, control)
}

/// Waits until the simulator has recorded a submit_sm to `number` (digits only); returns it.
async fn recorded_for(control: &SmscControl, number: &str) -> RecordedSubmit {
    let find = || {
        control
            .recorded_submits()
            .into_iter()
            .find(|s| s.destination_addr == number.as_bytes())
    };
    assert!(
        eventually(WAIT, || find().is_some()).await,
        "no submit_sm to {number}"
    );
    find().expect("recorded")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_sm_validity_period_is_the_time_left_until_valid_until() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sim, control) = start_recording_smsc().await;
    let mut gw = harness::start(
        &smpp_config(dir.path(), sim.local_addr().port()),
        "e2e_validity.toml",
    )
    .await;

    // (to, validity asked, the most the carrier may be told). Half seconds, so that rounding up to the
    // whole second would show.
    let cases = [
        (
            "+4915100000001",
            Some(Duration::from_millis(600_500)),
            Duration::from_millis(600_500),
        ),
        // None given: the config's default_validity, 1h.
        ("+4915100000002", None, Duration::from_secs(3_600)),
        // Short: whole seconds rounded down, still at least 1s.
        (
            "+4915100000003",
            Some(Duration::from_millis(5_500)),
            Duration::from_millis(5_500),
        ),
    ];
    for (to, validity, most) in cases {
        let before = now_ms();
        let id = submit(&mut gw, to, validity).await;
        let valid_until = valid_until_ms(&mut gw, &id).await;
        let sm = recorded_for(&control, &to[1..]).await;
        let after = now_ms();
        let Ok(Some(SmppTime::Relative(r))) = SmppTime::parse(&sm.validity_period) else {
            panic!(
                "{to}: validity_period {:?} is not a relative time",
                String::from_utf8_lossy(&sm.validity_period)
            );
        };
        assert_eq!((r.years, r.months), (0, 0), "{to}: days and smaller only");
        let told = r.exact().expect("exact");
        assert!(told <= most, "{to}: told {told:?}, asked {validity:?}");
        assert!(told >= Duration::from_secs(1), "{to}: {told:?}");
        // Whole seconds, rounded down: up to 1s shorter than what was left when the simulator read it.
        assert_within(told, valid_until, before, after, Duration::from_secs(1));
        let m = gw.wait_final(&id).await;
        assert_eq!(state_of(&m), pb::MessageState::Delivered, "{to}: {m:?}");
    }

    // send_validity = false: an empty validity_period, the SMSC's default.
    let id = submit(&mut gw, "+4916100000001", Some(Duration::from_secs(600))).await;
    let sm = recorded_for(&control, "4916100000001").await;
    assert!(
        sm.validity_period.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&sm.validity_period)
    );
    let m = gw.wait_final(&id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");

    gw.stop().await;
    sim.shutdown().await;
}

const TOLD_SIM_NUMBER: &str = "+46700000001";
const UNTOLD_SIM_NUMBER: &str = "+46700000002";

fn modem_config(dir: &Path, told: &Path, untold: &Path) -> String {
    format!(
        r#"
[api]
listen = "127.0.0.1:0"

[store.sqlite]
path = "{db}"

[metrics]
enabled = false

[simulator]
enabled = false

[[carriers]]
id = "told"
rate_limit = {{ per_second = 1000 }}
[[carriers.modem]]
device = "{told}"
number = "{TOLD_SIM_NUMBER}"

[[carriers]]
id = "untold"
rate_limit = {{ per_second = 1000 }}
send_validity = false
[[carriers.modem]]
device = "{untold}"
number = "{UNTOLD_SIM_NUMBER}"

[[routes]]
prefix = "+4915"
carriers = ["told"]
default_sender = "{TOLD_SIM_NUMBER}"

[[routes]]
prefix = "+4916"
carriers = ["untold"]
default_sender = "{UNTOLD_SIM_NUMBER}"
"#,
        db = dir.join("gw.db").display(),
        told = told.display(),
        untold = untold.display(),
    )
}

fn start_modem() -> SimHandle {
    SimModem::start(SimConfig {
        report_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .unwrap_or_else(|e| panic!("modem simulator: {e}"))
}

/// Waits until the modem simulator has accepted an SMS-SUBMIT to `to`; returns it.
async fn sent_for(sim: &SimHandle, to: &str) -> SentSms {
    let find = || sim.sent().into_iter().find(|s| s.to == to);
    assert!(
        eventually(WAIT, || find().is_some()).await,
        "no SMS-SUBMIT to {to}"
    );
    find().expect("sent")
}

/// Waits until Status shows both modems READY.
async fn wait_ready(gw: &mut Running) {
    let deadline = Instant::now() + WAIT;
    loop {
        let links = gw
            .client
            .status(pb::StatusRequest {})
            .await
            .expect("status")
            .into_inner()
            .links;
        let ready = |carrier: &str| {
            links
                .iter()
                .any(|l| l.carrier == carrier && l.state == "READY")
        };
        if ready("told") && ready("untold") {
            return;
        }
        assert!(Instant::now() < deadline, "modems not READY: {links:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_submit_tp_vp_is_the_time_left_rounded_down_to_the_relative_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let told = start_modem();
    let untold = start_modem();
    let mut gw = harness::start(
        &modem_config(dir.path(), &told.path(), &untold.path()),
        "e2e_validity.toml",
    )
    .await;
    wait_ready(&mut gw).await;

    // 2h 2m 30s, between two steps of TS 23.040 §9.2.3.12.1: the longest step not past valid_until is
    // 120 minutes (unless the machine took 2.5 minutes to send it); rounding up would give 125.
    let asked = Duration::from_secs(2 * 3_600 + 150);
    let to = "+4915100000001";
    let before = now_ms();
    let id = submit(&mut gw, to, Some(asked)).await;
    let valid_until = valid_until_ms(&mut gw, &id).await;
    let sms = sent_for(&told, to).await;
    let after = now_ms();
    let Some(ValidityPeriod::Relative(octet)) = sms.submit.tp_vp else {
        panic!("TP-VP not relative: {:?}", sms.submit.tp_vp);
    };
    let told_minutes = ValidityPeriod::relative_minutes(octet);
    assert!(
        Duration::from_secs(u64::from(told_minutes) * 60) <= asked,
        "{told_minutes} minutes, asked {asked:?}"
    );
    // The table's steps are 5 minutes apart up to 12 hours: rounding down loses less than 5 minutes.
    assert_within(
        Duration::from_secs(u64::from(told_minutes) * 60),
        valid_until,
        before,
        after,
        Duration::from_secs(5 * 60),
    );
    let m = gw.wait_final(&id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");

    // One minute: below the table's shortest step, the SMSC gets that step, 5 minutes.
    let to = "+4915100000002";
    let id = submit(&mut gw, to, Some(Duration::from_secs(60))).await;
    let sms = sent_for(&told, to).await;
    assert_eq!(sms.submit.tp_vp, Some(ValidityPeriod::Relative(0)));
    let m = gw.wait_final(&id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");

    // send_validity = false: no TP-VP (TP-VPF 00), the SMSC's default.
    let to = "+4916100000001";
    let id = submit(&mut gw, to, Some(Duration::from_secs(2 * 3_600))).await;
    let sms = sent_for(&untold, to).await;
    assert_eq!(sms.submit.tp_vp, None);
    let m = gw.wait_final(&id).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");

    gw.stop().await;
}

/// A message whose validity runs out while it waits for its carrier's rate limit is never sent: it ends
/// EXPIRED, and the carrier never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_validity_ends_while_it_waits_for_the_rate_limit_is_not_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sim, control) = start_recording_smsc().await;
    // One segment every two seconds, no burst beyond it.
    let text = smpp_config(dir.path(), sim.local_addr().port()).replacen(
        "rate_limit = { per_second = 1000 }",
        "rate_limit = { per_second = 0.5, burst = 1 }",
        1,
    );
    assert!(
        text.contains("per_second = 0.5"),
        "the told carrier is slowed"
    );
    let mut gw = harness::start(&text, "e2e_validity_rate.toml").await;

    // The first takes the one token; the second waits about two seconds for the next, longer than its
    // one-second validity.
    let first = submit(&mut gw, "+4915100000011", Some(Duration::from_secs(30))).await;
    let late = submit(&mut gw, "+4915100000012", Some(Duration::from_secs(1))).await;
    let m = gw.wait_final(&late).await;
    assert_eq!(state_of(&m), pb::MessageState::Expired, "{m:?}");
    let m = gw.wait_final(&first).await;
    assert_eq!(state_of(&m), pb::MessageState::Delivered, "{m:?}");
    // Give a wrongly sent one time to arrive, then check the carrier never got it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent: Vec<Vec<u8>> = control
        .recorded_submits()
        .into_iter()
        .map(|s| s.destination_addr)
        .collect();
    assert!(
        sent.iter().any(|a| a == b"4915100000011"),
        "the first went out: {sent:?}"
    );
    assert!(
        !sent.iter().any(|a| a == b"4915100000012"),
        "the expired one was sent anyway"
    );
    gw.stop().await;
}
