//! The gateway's logs as an operator reads them: the built binary (`smsbridge serve`) with `[log] json = true`
//! and debug level for smsbridge, one message submitted over gRPC to the SMSC simulator (in this process) and
//! its receipt back. Every line about the message must carry its id in a span's fields: the API's submit, the
//! dispatcher's per-segment submit (with carrier and segment) and the receipt (with segment). Loopback only,
//! bounded in time.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

mod harness;
use harness::{SmppToml, WAIT, free_port};

/// The span named `name` among a JSON log line's spans (outermost first), if any.
fn span<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get("spans")?
        .as_array()?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
}

/// The lines logged inside a span `name` whose `message_id` is `id`.
fn lines_in_span<'a>(lines: &'a [Value], name: &str, id: &str) -> Vec<(&'a Value, &'a Value)> {
    lines
        .iter()
        .filter_map(|l| span(l, name).map(|s| (l, s)))
        .filter(|(_, s)| s.get("message_id").and_then(Value::as_str) == Some(id))
        .collect()
}

fn text_of(line: &Value) -> &str {
    line.pointer("/fields/message")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_message_id_in_span_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = harness::smsc((Duration::from_millis(50), Duration::from_millis(50))).await;
    let api_port = free_port();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .api_port(api_port)
        .tables("[log]\nlevel = \"info,smsbridge=debug\"\njson = true")
        .carrier("alpha", "rate_limit = { per_second = 100 }")
        .smpp(r#"reconnect = { initial_backoff = "100ms", max_backoff = "500ms" }"#)
        .write();
    let mut child = harness::serve(&config, Stdio::piped());
    let stderr = child.stderr.take().expect("stderr");
    let logged: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader = tokio::spawn({
        let logged = Arc::clone(&logged);
        async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logged.lock().expect("lock").push(line);
            }
        }
    });

    let mut client = harness::connect(api_port, WAIT).await;
    let accepted = harness::submit_with(
        &mut client,
        harness::text_message("+4915112345678", "traced"),
    )
    .await;
    let id = accepted.message_id.clone();

    // The receipt line is written after the receipt is committed: wait for it, not only for the state.
    let deadline = tokio::time::Instant::now() + WAIT;
    let json = loop {
        let json: Vec<Value> = logged
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let receipt_logged = lines_in_span(&json, "receipt", &id)
            .iter()
            .any(|(l, _)| text_of(l) == "receipt committed");
        if receipt_logged {
            break json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no receipt line for {id} in {WAIT:?}; logged:\n{}",
            logged.lock().expect("lock").join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill().await;
    let _ = tokio::time::timeout(WAIT, reader).await;
    sim.shutdown().await;

    let api = lines_in_span(&json, "api_submit", &id);
    assert!(
        api.iter().any(|(l, _)| text_of(l) == "submit accepted"),
        "the API's submit line carries {id}: {api:?}"
    );
    let submit = lines_in_span(&json, "submit", &id);
    let (answered, span) = submit
        .iter()
        .find(|(l, _)| text_of(l) == "link answered")
        .unwrap_or_else(|| panic!("the dispatcher's submit line carries {id}: {submit:?}"));
    assert_eq!(span["carrier"], "alpha", "{answered}");
    assert_eq!(span["segment"], 0, "{answered}");
    assert_eq!(span["attempt"], 1, "{answered}");
    assert!(
        answered["fields"]["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("Accepted")),
        "{answered}"
    );
    let receipt = lines_in_span(&json, "receipt", &id);
    let (line, span) = receipt
        .iter()
        .find(|(l, _)| text_of(l) == "receipt committed")
        .expect("found above");
    assert_eq!(span["carrier"], "alpha", "{line}");
    assert_eq!(span["segment"], 0, "{line}");
    assert_eq!(line["fields"]["state"], "DELIVERED", "{line}");
}
