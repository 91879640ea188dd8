//! AT response parser throughput on a 1 MiB modem transcript, and the receipt-text parser on a typical
//! receipt.
//!
//! `cargo bench -p smsbridge-protocol --bench at -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smsbridge_protocol::at::AtParser;
use smsbridge_protocol::dlr::parse_receipt;

const PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

/// One cycle of what a busy modem link carries: polling, an incoming message read and deleted, a send, a
/// status report, vendor URCs and a USSD answer.
fn cycle(i: usize) -> String {
    format!(
        "AT+CSQ\r\r\n+CSQ: {rssi},99\r\n\r\nOK\r\n\
         AT+CREG?\r\r\n+CREG: 2,1,\"00A1\",\"1B2C\"\r\n\r\nOK\r\n\
         \r\n+CMTI: \"SM\",{idx}\r\n\
         AT+CMGR={idx}\r\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\n\
         AT+CMGD={idx}\r\r\nOK\r\n\
         AT+CMGS=19\r\r\n> 0011000B911326880736F40000A70568656C6C6F\x1a\r\n+CMGS: {mr}\r\n\r\nOK\r\n\
         \r\n+CDS: 25\r\n0006D60B911326880736F4111011719551401110117195714000\r\n\
         \r\n^RSSI:{rssi}\r\n\r\n+QIND: \"csq\",{rssi},99\r\n\
         AT+CUSD=1,\"*100#\",15\r\r\nOK\r\n\r\n+CUSD: 0,\"Balance 5.00 EUR\r\nValid to 31-12\",15\r\n",
        rssi = i % 32,
        idx = i % 30,
        mr = i % 256,
    )
}

fn transcript(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 1024);
    let mut i = 0;
    while out.len() < size {
        out.extend_from_slice(cycle(i).as_bytes());
        i += 1;
    }
    out.truncate(size);
    out
}

fn at_parser(c: &mut Criterion) {
    let data = transcript(1 << 20);
    let mut group = c.benchmark_group("at_parser");
    group.throughput(Throughput::Bytes(data.len() as u64));
    // Fed as a serial port delivers it: reads of up to 64 bytes, items pulled after each.
    group.bench_function("1MiB_transcript_64B_reads", |b| {
        b.iter(|| {
            let mut p = AtParser::new();
            let mut n = 0usize;
            for chunk in data.chunks(64) {
                p.feed(chunk);
                while let Some(item) = p.next_item() {
                    black_box(&item);
                    n += 1;
                }
            }
            n
        })
    });
    group.bench_function("1MiB_transcript_one_feed", |b| {
        b.iter(|| {
            let mut p = AtParser::new();
            p.feed(&data);
            let mut n = 0usize;
            while let Some(item) = p.next_item() {
                black_box(&item);
                n += 1;
            }
            n
        })
    });
    group.finish();
}

fn dlr(c: &mut Criterion) {
    let receipt: &[u8] = b"id:0123456789 sub:001 dlvrd:001 submit date:2301311259 done date:2301311300 stat:DELIVRD err:000 text:Hello world, this";
    let mut group = c.benchmark_group("dlr");
    group.throughput(Throughput::Bytes(receipt.len() as u64));
    group.bench_function("parse_typical_receipt", |b| {
        b.iter(|| {
            let r = parse_receipt(black_box(receipt));
            black_box(r.map(|r| r.state()))
        })
    });
    group.finish();
}

criterion_group!(benches, at_parser, dlr);
criterion_main!(benches);
