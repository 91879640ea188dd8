//! `smsbridge send`, `events` and `status`: gRPC client commands against a running gateway.
//!
//! Each prints JSON (one object per line) to the given writer and returns the process exit status.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::api::pb;
use crate::api::pb::gateway_client::GatewayClient;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Connection {
    /// e.g. `http://127.0.0.1:50051`.
    pub addr: String,
    /// The bearer token (`None`: send no `authorization`, and the gateway will refuse).
    pub token: Option<String>,
}

impl Connection {
    async fn client(&self) -> anyhow::Result<GatewayClient<Channel>> {
        let endpoint = Endpoint::from_shared(self.addr.clone())
            .with_context(|| {
                format!(
                    "--addr {:?} is not a URL like http://127.0.0.1:50051",
                    self.addr
                )
            })?
            .connect_timeout(Duration::from_secs(10));
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        Ok(GatewayClient::new(channel))
    }

    fn request<T>(&self, message: T) -> anyhow::Result<Request<T>> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            let value: MetadataValue<_> = format!("Bearer {token}")
                .parse()
                .context("--token must be printable ASCII")?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// What `send` submits.
#[derive(Debug, Clone, Default)]
pub struct SendArgs {
    pub to: String,
    pub text: String,
    pub from: Option<String>,
    pub client_ref: Option<String>,
    /// Follow the message's events until it reaches a final state, then print it.
    pub wait: bool,
    /// How long `wait` waits at most.
    pub wait_timeout: Duration,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn status_error(what: &str, status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{what}: {:?}: {}", status.code(), status.message())
}

fn write_line(out: &mut dyn Write, value: &Value) -> anyhow::Result<()> {
    writeln!(out, "{value}")?;
    out.flush()?;
    Ok(())
}

/// `smsbridge send`: prints the Submit answer; with `wait`, then the message in its final state (the receipt).
/// Exit status 0 when delivered (or accepted without `wait`), 1 when it ended in another final state.
pub fn send(conn: &Connection, args: &SendArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    runtime()?.block_on(send_async(conn, args, out))
}

async fn send_async(conn: &Connection, args: &SendArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut client = conn.client().await?;
    // The stream starts at the newest event before the submit, so none of this message's events is missed.
    let start_cursor = if args.wait {
        client
            .status(conn.request(pb::StatusRequest {})?)
            .await
            .map_err(|s| status_error("status", s))?
            .into_inner()
            .last_cursor
    } else {
        0
    };
    let answer = client
        .submit(conn.request(pb::SubmitRequest {
            to: args.to.clone(),
            from: args.from.clone().unwrap_or_default(),
            body: Some(pb::submit_request::Body::Text(args.text.clone())),
            client_ref: args.client_ref.clone().unwrap_or_default(),
            want_receipt: true,
            ..Default::default()
        })?)
        .await
        .map_err(|s| status_error("submit", s))?
        .into_inner();
    write_line(out, &submit_json(&answer))?;
    if !args.wait {
        return Ok(0);
    }
    let id = answer.message_id.clone();
    let final_state = tokio::time::timeout(args.wait_timeout, async {
        // A message that was a duplicate may be final already.
        if pb::MessageState::try_from(answer.state).is_ok_and(is_final) {
            return Ok::<_, anyhow::Error>(());
        }
        let mut stream = client
            .stream_events(conn.request(pb::StreamEventsRequest {
                after_cursor: start_cursor,
                kinds: Vec::new(),
            })?)
            .await
            .map_err(|s| status_error("stream events", s))?
            .into_inner();
        while let Some(event) = stream
            .message()
            .await
            .map_err(|s| status_error("stream events", s))?
        {
            if let Some(pb::event::Payload::StateChange(change)) = &event.payload {
                let state = pb::MessageState::try_from(change.new_state);
                if change.message_id == id && change.segment.is_none() && state.is_ok_and(is_final)
                {
                    return Ok(());
                }
            }
        }
        anyhow::bail!("the event stream ended before message {id} reached a final state")
    })
    .await;
    match final_state {
        Ok(result) => result?,
        Err(_) => anyhow::bail!(
            "message {id} reached no final state within {}s",
            args.wait_timeout.as_secs()
        ),
    }
    let message = client
        .get_message(conn.request(pb::GetMessageRequest {
            message_id: id.clone(),
        })?)
        .await
        .map_err(|s| status_error("get message", s))?
        .into_inner();
    write_line(out, &message_json(&message))?;
    Ok(if message.state == pb::MessageState::Delivered as i32 {
        0
    } else {
        1
    })
}

fn is_final(state: pb::MessageState) -> bool {
    !matches!(
        state,
        pb::MessageState::Unspecified
            | pb::MessageState::Accepted
            | pb::MessageState::Queued
            | pb::MessageState::Submitted
    )
}

/// `smsbridge events`: follows the event stream from `after`, one JSON line per event, until the stream ends
/// or `limit` events were printed.
pub fn events(
    conn: &Connection,
    after: u64,
    kinds: &[String],
    limit: Option<u64>,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let mut parsed = Vec::with_capacity(kinds.len());
    for kind in kinds.iter().flat_map(|k| k.split(',')) {
        let name = format!("EVENT_KIND_{}", kind.trim().to_ascii_uppercase());
        let value = pb::EventKind::from_str_name(&name)
            .filter(|k| *k != pb::EventKind::Unspecified)
            .with_context(|| {
                format!(
                    "--kinds: unknown kind {kind:?} (expected accepted, queued, submitted, delivered, \
                     undeliverable, expired, rejected, failed, cancelled, mo)"
                )
            })?;
        parsed.push(value as i32);
    }
    runtime()?.block_on(async {
        let mut client = conn.client().await?;
        let mut stream = client
            .stream_events(conn.request(pb::StreamEventsRequest {
                after_cursor: after,
                kinds: parsed,
            })?)
            .await
            .map_err(|s| status_error("stream events", s))?
            .into_inner();
        let mut printed = 0u64;
        while limit.is_none_or(|l| printed < l) {
            match stream
                .message()
                .await
                .map_err(|s| status_error("stream events", s))?
            {
                Some(event) => {
                    write_line(out, &event_json(&event))?;
                    printed += 1;
                }
                None => break,
            }
        }
        Ok(0)
    })
}

/// `smsbridge status`: the queues and links, as one JSON object.
pub fn status(conn: &Connection, out: &mut dyn Write) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let mut client = conn.client().await?;
        let status = client
            .status(conn.request(pb::StatusRequest {})?)
            .await
            .map_err(|s| status_error("status", s))?
            .into_inner();
        let value = json!({
            "last_cursor": status.last_cursor,
            "queues": status.queues.iter().map(|q| json!({
                "carrier": q.carrier,
                "queued": q.queued,
                "in_flight": q.in_flight,
                "retry_waiting": q.retry_waiting,
            })).collect::<Vec<_>>(),
            "links": status.links.iter().map(|l| json!({
                "carrier": l.carrier,
                "link": l.link,
                "state": l.state,
                "detail": l.detail,
            })).collect::<Vec<_>>(),
        });
        write_line(out, &value)?;
        Ok(0)
    })
}

fn state_name(value: i32) -> String {
    pb::MessageState::try_from(value)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("MESSAGE_STATE_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

fn encoding_name(value: i32) -> String {
    pb::Encoding::try_from(value)
        .map(|e| e.as_str_name().trim_start_matches("ENCODING_").to_owned())
        .unwrap_or_else(|_| value.to_string())
}

fn time_json(t: &Option<prost_types::Timestamp>) -> Value {
    match t {
        Some(t) => json!(t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000)),
        None => Value::Null,
    }
}

fn carrier_status_json(s: &pb::CarrierStatus) -> Value {
    json!({
        "stat": s.stat,
        "err": s.err,
        "network_error_code": s.network_error_code.as_ref().map(hex::encode),
        "done_date": s.done_date,
        "raw": s.raw,
    })
}

/// Submit's answer as JSON.
pub fn submit_json(a: &pb::SubmitResponse) -> Value {
    json!({
        "message_id": a.message_id,
        "segments": a.segments,
        "encoding": encoding_name(a.encoding),
        "carrier": a.carrier,
        "duplicate": a.duplicate,
        "state": state_name(a.state),
    })
}

/// A message (GetMessage) as JSON; times in Unix milliseconds.
pub fn message_json(m: &pb::Message) -> Value {
    json!({
        "message_id": m.message_id,
        "state": state_name(m.state),
        "to": m.to,
        "from": m.from,
        "encoding": encoding_name(m.encoding),
        "carrier": m.carrier,
        "carrier_message_ids": m.carrier_message_ids,
        "carrier_status": m.carrier_status.as_ref().map(carrier_status_json),
        "segments": m.segments.iter().map(|s| json!({
            "index": s.index,
            "state": state_name(s.state),
            "carrier_message_id": s.carrier_message_id,
            "carrier_message_id_normalized": s.carrier_message_id_normalized,
            "attempts": s.attempts,
            "carrier_status": s.carrier_status.as_ref().map(carrier_status_json),
            "last_error": s.last_error,
        })).collect::<Vec<_>>(),
        "accepted_at_ms": time_json(&m.accepted_at),
        "submitted_at_ms": time_json(&m.submitted_at),
        "final_at_ms": time_json(&m.final_at),
    })
}

/// An event as JSON; times in Unix milliseconds.
pub fn event_json(e: &pb::Event) -> Value {
    let kind = pb::EventKind::try_from(e.kind)
        .map(|k| k.as_str_name().trim_start_matches("EVENT_KIND_").to_owned())
        .unwrap_or_else(|_| e.kind.to_string());
    let mut value = json!({
        "cursor": e.cursor,
        "time_ms": time_json(&e.time),
        "kind": kind,
    });
    match &e.payload {
        Some(pb::event::Payload::StateChange(c)) => {
            value["message_id"] = json!(c.message_id);
            value["old_state"] = json!(state_name(c.old_state));
            value["new_state"] = json!(state_name(c.new_state));
            value["segment"] = json!(c.segment);
        }
        Some(pb::event::Payload::Inbound(mo)) => {
            value["message_id"] = json!(mo.message_id);
            value["from"] = json!(mo.from);
            value["to"] = json!(mo.to);
            value["text"] = json!(mo.text);
            value["carrier"] = json!(mo.carrier);
            value["received_at_ms"] = time_json(&mo.received_at);
        }
        None => {}
    }
    value
}
