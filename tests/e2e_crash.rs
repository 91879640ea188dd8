//! Crash safety of the whole gateway: the built binary (`smsbridge serve`) is killed with SIGKILL while
//! clients submit, then started again on the same database. Every message the API accepted reaches a final
//! state, none is lost, and an event consumer that resumes from its last cursor misses no event.
//! The SMSC simulator runs in this test process (it outlives the gateway, as a carrier would) and keeps the
//! receipts of the killed session for the next one (store and forward). Loopback only, bounded in time.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use smsbridge::api::pb;
use smsbridge::api::pb::gateway_client::GatewayClient;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod harness;
use harness::{SmppToml, free_port, is_final};

const WAIT: Duration = Duration::from_secs(60);

/// Reads events after `cursor` into `seen` until `enough` or the stream ends (the gateway died) or `limit`.
async fn consume(
    client: &mut GatewayClient<Channel>,
    cursor: &mut u64,
    seen: &mut Vec<pb::Event>,
    limit: Duration,
    enough: impl Fn(&[pb::Event]) -> bool,
) {
    let Ok(stream) = client
        .stream_events(pb::StreamEventsRequest {
            after_cursor: *cursor,
            kinds: Vec::new(),
        })
        .await
    else {
        return;
    };
    let mut stream = stream.into_inner();
    let _ = tokio::time::timeout(limit, async {
        while let Some(Ok(e)) = stream.next().await {
            assert!(
                e.cursor > *cursor,
                "cursor {} after {}: not increasing",
                e.cursor,
                *cursor
            );
            *cursor = e.cursor;
            seen.push(e);
            if enough(seen) {
                return;
            }
        }
    })
    .await;
}

fn final_events(events: &[pb::Event]) -> BTreeMap<String, i32> {
    events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::StateChange(sc))
                if sc.segment.is_none()
                    && is_final(pb::MessageState::try_from(sc.new_state).unwrap_or_default()) =>
            {
                Some((sc.message_id.clone(), sc.new_state))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_accepted_message_and_no_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = harness::smsc((Duration::from_millis(200), Duration::from_millis(800))).await;
    sim.control().set_store_and_forward(true);
    let api_port = free_port();
    let config = SmppToml::new(dir.path(), sim.local_addr().port())
        .api_port(api_port)
        .carrier(
            "alpha",
            concat!(
                "rate_limit = { per_second = 400 }\n",
                "[carriers.retry]\n",
                r#"initial_backoff = "100ms""#,
            ),
        )
        .smpp(concat!(
            "window = 20\n",
            "response_timeout = \"2s\"\n",
            r#"reconnect = { initial_backoff = "100ms", max_backoff = "500ms" }"#,
        ))
        .write();

    let t0 = tokio::time::Instant::now();
    let mut gateway = harness::serve(&config, Stdio::null());
    let client = harness::connect(api_port, WAIT).await;

    // Clients submit batches of 20 until the gateway dies under them.
    let submitter = {
        let mut client = client.clone();
        tokio::spawn(async move {
            let mut accepted: Vec<String> = Vec::new();
            for round in 0..200u32 {
                let batch = pb::SubmitBatchRequest {
                    messages: (0..20u32)
                        .map(|i| {
                            harness::text_message(
                                &format!("+4915{:04}{:05}", round, i),
                                &format!("load {round}/{i}"),
                            )
                        })
                        .collect(),
                };
                match client.submit_batch(batch).await {
                    Ok(r) => {
                        for res in r.into_inner().results {
                            if let Some(pb::submit_batch_result::Outcome::Accepted(a)) = res.outcome
                            {
                                accepted.push(a.message_id);
                            }
                        }
                    }
                    Err(_) => break,
                }
            }
            accepted
        })
    };

    // An event consumer follows along, then the gateway is killed mid-load.
    let mut consumer = client.clone();
    let mut cursor = 0u64;
    let mut events: Vec<pb::Event> = Vec::new();
    consume(
        &mut consumer,
        &mut cursor,
        &mut events,
        Duration::from_secs(20),
        |evs| final_events(evs).len() >= 150,
    )
    .await;
    let finals_before_kill = final_events(&events).len();
    gateway.start_kill().expect("kill -9");
    let _ = tokio::time::timeout(WAIT, gateway.wait()).await;
    let accepted = tokio::time::timeout(WAIT, submitter)
        .await
        .expect("the submitter ends")
        .expect("join");
    assert!(
        accepted.len() >= 150,
        "only {} accepted before the kill",
        accepted.len()
    );
    // The stream of the dead process ended; whatever it delivered up to `cursor` is processed.
    let before_restart = cursor;
    eprintln!(
        "killed after {} accepted, {finals_before_kill} final events seen, cursor {cursor}, at {:?}",
        accepted.len(),
        t0.elapsed()
    );

    let mut gateway = harness::serve(&config, Stdio::null());
    let mut client = harness::connect(api_port, WAIT).await;
    let want: BTreeSet<String> = accepted.iter().cloned().collect();
    // Resume from the cursor until every accepted message has its final event.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !want.iter().all(|id| final_events(&events).contains_key(id)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} accepted messages have no final event",
            want.iter()
                .filter(|id| !final_events(&events).contains_key(*id))
                .count(),
            want.len()
        );
        let want = want.clone();
        consume(
            &mut client,
            &mut cursor,
            &mut events,
            Duration::from_secs(5),
            move |evs| {
                let f = final_events(evs);
                want.iter().all(|id| f.contains_key(id))
            },
        )
        .await;
    }
    assert!(cursor > before_restart);
    eprintln!("all {} final at {:?}", want.len(), t0.elapsed());

    // Every accepted message is final (GetMessage agrees), delivered, and its events were all seen: the
    // consumer's log has ACCEPTED, QUEUED and the final state for each.
    for id in &accepted {
        let m = client
            .get_message(pb::GetMessageRequest {
                message_id: id.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(
            pb::MessageState::try_from(m.state).unwrap_or_default(),
            pb::MessageState::Delivered,
            "{m:?}"
        );
        let kinds: Vec<i32> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Some(pb::event::Payload::StateChange(sc)) if &sc.message_id == id => {
                    Some(sc.new_state)
                }
                _ => None,
            })
            .collect();
        assert!(
            kinds.contains(&(pb::MessageState::Accepted as i32))
                && kinds.contains(&(pb::MessageState::Delivered as i32)),
            "{id}: events {kinds:?}"
        );
    }
    // Nothing was delivered twice as an event of the same transition to DELIVERED.
    let delivered: Vec<&String> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Some(pb::event::Payload::StateChange(sc))
                if sc.segment.is_none() && sc.new_state == pb::MessageState::Delivered as i32 =>
            {
                Some(&sc.message_id)
            }
            _ => None,
        })
        .collect();
    let unique: BTreeSet<&String> = delivered.iter().copied().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "a DELIVERED event seen twice"
    );

    eprintln!("checked at {:?}", t0.elapsed());
    gateway.start_kill().expect("stop");
    let _ = tokio::time::timeout(WAIT, gateway.wait()).await;
    sim.shutdown().await;
    eprintln!("stopped at {:?}", t0.elapsed());
}
