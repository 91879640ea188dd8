//! Throughput of the whole gateway: gRPC SubmitBatch -> SQLite -> dispatcher -> SMPP (2 binds) -> simulator
//! -> receipts -> event stream. Ignored by default (it is a measurement, not a check); run it in release:
//!
//! ```text
//! SMSBRIDGE_LOAD=20000 cargo test --release -p smsbridge --test e2e_load -- --ignored --nocapture
//! ```
//!
//! It prints accepted/s (API), submitted/s (the SMSC's answers; in-process only) and delivered/s (receipt
//! events seen). With `SMSBRIDGE_LOAD_ADDR=http://127.0.0.1:50051` it drives a gateway running elsewhere.

use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use smsbridge::config::Config;
use smsbridge::gateway::Gateway;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

mod harness;
use harness::SmppToml;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn throughput_submit_to_receipt() {
    let total: usize = std::env::var("SMSBRIDGE_LOAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // SMSBRIDGE_LOAD_ADDR: drive a gateway that runs elsewhere (e.g. the release binary on the default
    // config with the built-in simulator) instead of one in this process.
    let external = std::env::var("SMSBRIDGE_LOAD_ADDR").ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut local = None;
    let addr = match &external {
        Some(addr) => addr.clone(),
        None => {
            let sim = harness::smsc((Duration::from_millis(0), Duration::from_millis(20))).await;
            let text = SmppToml::new(dir.path(), sim.local_addr().port())
                .api("max_batch_size = 1000")
                .carrier("alpha", "rate_limit = { per_second = 100000 }")
                .smpp("window = 200\nbinds = 2")
                .text();
            let config = Config::from_str(&text, "load.toml").expect("config");
            let shutdown = CancellationToken::new();
            let gateway = Gateway::start(config, shutdown.clone())
                .await
                .expect("start");
            let addr = format!("http://{}", gateway.api_addr().expect("addr"));
            let task = tokio::spawn(gateway.run());
            local = Some((sim, shutdown, task));
            addr
        }
    };
    let channel = Channel::from_shared(addr)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let client = GatewayClient::new(channel);

    let after = client
        .clone()
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .last_cursor;
    let start = tokio::time::Instant::now();
    let mut watcher = client.clone();
    let delivered = tokio::spawn(async move {
        let mut stream = watcher
            .stream_events(pb::StreamEventsRequest {
                after_cursor: after,
                kinds: vec![pb::EventKind::Delivered as i32],
            })
            .await
            .expect("stream")
            .into_inner();
        let mut n = 0usize;
        let _ = tokio::time::timeout(Duration::from_secs(600), async {
            while let Some(Ok(e)) = stream.next().await {
                if matches!(&e.payload, Some(pb::event::Payload::StateChange(sc)) if sc.segment.is_none())
                {
                    n += 1;
                    if n == total {
                        return;
                    }
                }
            }
        })
        .await;
        (n, start.elapsed())
    });
    let senders = 4usize;
    let per = total / senders;
    let mut handles = Vec::new();
    for s in 0..senders {
        let mut c = client.clone();
        handles.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            for chunk in (0..per).collect::<Vec<_>>().chunks(500) {
                let req = pb::SubmitBatchRequest {
                    messages: chunk
                        .iter()
                        .map(|i| harness::text_message(&format!("+49151{s:02}{i:06}"), "load"))
                        .collect(),
                };
                let r = c.submit_batch(req).await.expect("batch").into_inner();
                accepted += r.results.len();
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for h in handles {
        accepted += h.await.expect("join");
    }
    let accept_time = start.elapsed();
    if let Some((sim, _, _)) = &local {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        let counters = sim.counters();
        while (counters.accepted.load(std::sync::atomic::Ordering::Relaxed) as usize) < accepted
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let submit_time = start.elapsed();
    let (n, deliver_time) = delivered.await.expect("join");
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "load: {accepted} messages; accepted by the API in {accept_time:?} ({:.0}/s); submitted to the SMSC in \
         {submit_time:?} ({:.0}/s); {n} DELIVERED events in {deliver_time:?} ({:.0}/s)",
        rate(accepted, accept_time),
        rate(accepted, submit_time),
        rate(n, deliver_time)
    );
    assert_eq!(accepted, per * senders);
    assert_eq!(n, accepted, "every message delivered");
    if let Some((sim, shutdown, task)) = local {
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        sim.shutdown().await;
    }
}
