//! End-to-end throughput of the SMPP link against the SMSC simulator, and of the simulator alone.
//!
//! Setup: the simulator runs in-process on its own OS thread with a current-thread tokio runtime (one core at
//! most); the link (or, for the simulator-alone run, a minimal pipelining client that is not our link) runs
//! on another thread with its own current-thread runtime. They talk over TCP on 127.0.0.1. Every submit asks
//! for a receipt (zero receipt delay), and the receipts are answered, so each message costs the simulator a
//! submit_sm, a submit_sm_resp, a deliver_sm and a deliver_sm_resp.
//!
//! Bounded: each run stops at its message count or its time budget, whichever comes first.
//! Run: `cargo bench -p smsbridge --bench smpp_link` (optional env: SMPP_BENCH_SECS, default 3).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::future::BoxFuture;
use prometheus::Registry;
use smsbridge::link::smpp::{
    InboundHandler, InboundMessage, SmppLinkConfig, SmppMetrics, SubmitOutcome, SubmitRequest,
    Verdict, spawn,
};
use smsbridge::sim::smsc::{Smsc, SmscConfig};
use smsbridge_protocol::smpp::{Body, CommandId, MessageIdResp, Pdu, SubmitSm, peek_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

struct CountReceipts(Arc<AtomicU64>);

impl InboundHandler for CountReceipts {
    fn handle(&self, _msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::ready(Verdict::Committed))
    }
}

/// Starts the simulator on its own thread; returns its address and a stopper.
fn start_sim() -> (
    std::net::SocketAddr,
    std::sync::mpsc::Sender<()>,
    Arc<smsbridge::sim::smsc::SimCounters>,
) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let sim = Smsc::start(SmscConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                window: 4096,
                ..SmscConfig::default()
            })
            .await
            .expect("sim");
            let _ = addr_tx.send((sim.local_addr(), sim.counters()));
            // Poll the stop channel without blocking the runtime.
            loop {
                if stop_rx.try_recv().is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            sim.shutdown().await;
        });
    });
    let (addr, counters) = addr_rx.recv().expect("sim address");
    (addr, stop_tx, counters)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn link_run(window: usize, max_messages: u64, budget: Duration) {
    let (addr, stop, counters) = start_sim();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let receipts = Arc::new(AtomicU64::new(0));
        let registry = Registry::new();
        let cancel = CancellationToken::new();
        let link = spawn(
            SmppLinkConfig {
                port: addr.port(),
                system_id: "bench".into(),
                password: "bench".into(),
                window,
                max_inbound_pending: 1024,
                submit_queue: 4096,
                response_timeout: Duration::from_secs(30),
                ..SmppLinkConfig::default()
            },
            Arc::new(CountReceipts(receipts.clone())),
            SmppMetrics::register(&registry).expect("metrics").link("bench", "l1"),
            cancel.clone(),
        )
        .expect("link");
        let handle = link.handle();
        assert!(handle.wait_bound(Duration::from_secs(10)).await, "bound");
        let issued = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + budget;
        let submitters = (window * 2).max(2);
        let mut tasks = Vec::new();
        for _ in 0..submitters {
            let handle = handle.clone();
            let issued = issued.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut failed = 0u64;
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_messages {
                    let t = Instant::now();
                    let o = handle
                        .submit(SubmitRequest::SubmitSm(SubmitSm {
                            source_addr: b"15550001".to_vec().into(),
                            destination_addr: b"4915112345678".to_vec().into(),
                            registered_delivery: 1,
                            short_message: b"bench message text".to_vec().into(),
                            ..SubmitSm::default()
                        }))
                        .await;
                    if matches!(o, SubmitOutcome::Accepted { .. }) {
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        failed += 1;
                    }
                }
                (lat, failed)
            }));
        }
        let mut lat = Vec::new();
        let mut failed = 0;
        for t in tasks {
            if let Ok((l, f)) = t.await {
                lat.extend(l);
                failed += f;
            }
        }
        let elapsed = start.elapsed();
        // Let the last receipts arrive (bounded).
        let accepted = lat.len() as u64;
        let wait_end = Instant::now() + Duration::from_secs(5);
        while receipts.load(Ordering::Relaxed) < accepted && Instant::now() < wait_end {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lat.sort_unstable();
        println!(
            "link window {window:>3}: {accepted:>7} accepted in {:.2}s = {:>8.0} submits/s, receipts {}, failed {failed}, latency p50 {} us p99 {} us (sim saw {} submits)",
            elapsed.as_secs_f64(),
            accepted as f64 / elapsed.as_secs_f64(),
            receipts.load(Ordering::Relaxed),
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            counters.submits.load(Ordering::Relaxed),
        );
        cancel.cancel();
        link.join().await;
    });
    let _ = stop.send(());
}

/// The simulator alone: a minimal pipelining client (not our link) keeps `window` submits in flight and
/// answers every receipt.
fn sim_run(window: usize, max_messages: u64, budget: Duration) {
    let (addr, stop, counters) = start_sim();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut out = BytesMut::with_capacity(1 << 20);
        Pdu::new(
            1,
            Body::BindTransceiver(smsbridge_protocol::smpp::Bind {
                system_id: b"bench".to_vec().into(),
                password: b"bench".to_vec().into(),
                interface_version: 0x34,
                ..Default::default()
            }),
        )
        .encode(&mut out);
        s.write_all(&out).await.expect("bind");
        out.clear();
        let mut inbuf = BytesMut::with_capacity(1 << 20);
        // The bind response.
        while peek_header(&inbuf).is_none_or(|h| (inbuf.len() as u32) < h.command_length) {
            if s.read_buf(&mut inbuf).await.expect("read") == 0 {
                panic!("closed during bind");
            }
        }
        let h = peek_header(&inbuf).expect("header");
        assert_eq!(h.command_status.0, 0, "bound");
        inbuf.advance(h.command_length as usize);
        let submit = SubmitSm {
            source_addr: b"15550001".to_vec().into(),
            destination_addr: b"4915112345678".to_vec().into(),
            registered_delivery: 1,
            short_message: b"bench message text".to_vec().into(),
            ..SubmitSm::default()
        };
        let mut template = Pdu::new(0, Body::SubmitSm(submit)).to_vec();
        let mut seq = 2u32;
        let mut sent = 0u64;
        let mut answered = 0u64;
        let mut receipts = 0u64;
        let start = Instant::now();
        let deadline = start + budget;
        loop {
            let in_flight = sent - answered;
            let room = (window as u64).saturating_sub(in_flight);
            let can_send = Instant::now() < deadline && sent < max_messages;
            if can_send {
                for _ in 0..room.min(max_messages - sent) {
                    template[12..16].copy_from_slice(&seq.to_be_bytes());
                    out.extend_from_slice(&template);
                    seq += 1;
                    sent += 1;
                }
            }
            if !out.is_empty() {
                s.write_all(&out).await.expect("write");
                out.clear();
            }
            if answered == sent && receipts >= answered && !can_send {
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(5) {
                break;
            }
            let n = s.read_buf(&mut inbuf).await.expect("read");
            if n == 0 {
                break;
            }
            while let Some(h) = peek_header(&inbuf) {
                let len = h.command_length as usize;
                if inbuf.len() < len {
                    break;
                }
                if h.command_id == CommandId::SubmitSmResp.as_u32() {
                    answered += 1;
                } else if h.command_id == CommandId::DeliverSm.as_u32() {
                    receipts += 1;
                    Pdu::new(h.sequence_number, Body::DeliverSmResp(MessageIdResp::default()))
                        .write_to(&mut out);
                }
                inbuf.advance(len);
            }
        }
        let elapsed = start.elapsed();
        println!(
            "sim alone window {window}: {answered} submit_sm answered, {receipts} receipts in {:.2}s = {:.0} submit_sm/s with receipts (sim counted {} receipt acks)",
            elapsed.as_secs_f64(),
            answered as f64 / elapsed.as_secs_f64(),
            counters.deliver_resp_ok.load(Ordering::Relaxed),
        );
    });
    let _ = stop.send(());
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it short then.
    let full = std::env::args().any(|a| a == "--bench");
    let secs: u64 = std::env::var("SMPP_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (budget, cap) = if full {
        (Duration::from_secs(secs), 2_000_000)
    } else {
        (Duration::from_millis(300), 2_000)
    };
    println!(
        "smpp_link bench: in-process simulator on its own current-thread runtime, TCP 127.0.0.1"
    );
    for window in [1usize, 10, 100, 500] {
        link_run(window, cap, budget);
    }
    sim_run(256, cap * 2, budget);
}
