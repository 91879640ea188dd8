//! Micro-benchmarks of `sms`: GSM 7-bit pack/unpack of 160 characters, text <-> septets, planning a 1,000-character
//! Chinese text, and decoding SMS-DELIVER TPDUs. Run:
//! `cargo bench -p smsbridge-protocol --bench sms -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smsbridge_protocol::sms::{
    Address, Dcs, Deliver, Gsm7Tables, InformationElement, Pid, PlanOptions, Timestamp, Tpdu, Udh,
    UserData, alphabet, plan,
};

fn text_160() -> String {
    "The quick brown fox jumps over the lazy dog; 0123456789 @£$¥èé! "
        .chars()
        .cycle()
        .take(160)
        .collect()
}

fn gsm7(c: &mut Criterion) {
    let text = text_160();
    let mut septets = Vec::new();
    Gsm7Tables::DEFAULT.encode_str(&text, &mut septets).unwrap();
    let packed = alphabet::pack_septets(&septets, 0);
    let mut g = c.benchmark_group("gsm7");
    g.throughput(Throughput::Elements(160));
    let mut out = Vec::with_capacity(160);
    g.bench_function("pack_160", |b| {
        b.iter(|| {
            out.clear();
            alphabet::pack_septets_into(black_box(&septets), 0, &mut out);
            black_box(out.len())
        })
    });
    let mut un = Vec::with_capacity(160);
    g.bench_function("unpack_160", |b| {
        b.iter(|| {
            un.clear();
            alphabet::unpack_septets_into(black_box(&packed), 0, 160, &mut un);
            black_box(un.len())
        })
    });
    let mut enc = Vec::with_capacity(170);
    g.bench_function("encode_text_160", |b| {
        b.iter(|| {
            enc.clear();
            Gsm7Tables::DEFAULT
                .encode_str(black_box(&text), &mut enc)
                .unwrap();
            black_box(enc.len())
        })
    });
    let mut s = String::with_capacity(400);
    g.bench_function("decode_text_160", |b| {
        b.iter(|| {
            s.clear();
            Gsm7Tables::DEFAULT.decode_into(black_box(&septets), &mut s);
            black_box(s.len())
        })
    });
    g.finish();
}

fn planner(c: &mut Criterion) {
    // 1,000 CJK characters: UCS-2, 15 segments of 67 code units.
    let text: String = (0..1000u32)
        .map(|i| char::from_u32(0x4E00 + (i * 37) % 0x5000).unwrap_or('中'))
        .collect();
    let options = PlanOptions::default();
    let mut g = c.benchmark_group("plan");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("chinese_1000", |b| {
        b.iter(|| black_box(plan(black_box(&text), &options).unwrap().segments.len()))
    });
    let latin: String = text_160().repeat(6).chars().take(1000).collect();
    g.bench_function("gsm7_1000", |b| {
        b.iter(|| black_box(plan(black_box(&latin), &options).unwrap().segments.len()))
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let hello = hex::decode("040BC87238880900F10000993092516195800AE8329BFD4697D9EC37").unwrap();
    let part = Tpdu::Deliver(Deliver {
        tp_mms: true,
        tp_lp: false,
        tp_sri: false,
        tp_rp: false,
        tp_oa: Address::parse("+447700900123"),
        tp_pid: Pid(0),
        tp_dcs: Dcs::GSM7,
        tp_scts: Timestamp::parse_iso8601("2026-11-23T10:15:30+08:00").unwrap(),
        tp_ud: UserData::gsm7(
            &text_160()[..153],
            Some(Udh {
                elements: vec![InformationElement::Concat8 {
                    reference: 1,
                    parts: 2,
                    number: 1,
                }],
            }),
        )
        .unwrap(),
    })
    .encode()
    .unwrap();
    let mut g = c.benchmark_group("tpdu");
    g.bench_function("decode_deliver_hellohello", |b| {
        b.iter(|| black_box(Tpdu::decode(black_box(&hello)).is_ok()))
    });
    g.bench_function("decode_deliver_concat_153", |b| {
        b.iter(|| black_box(Tpdu::decode(black_box(&part)).is_ok()))
    });
    g.bench_function("decode_deliver_concat_153_and_text", |b| {
        b.iter(|| match Tpdu::decode(black_box(&part)) {
            Ok(Tpdu::Deliver(d)) => black_box(d.text().map_or(0, |t| t.len())),
            _ => 0,
        })
    });
    g.finish();
}

criterion_group!(benches, gsm7, planner, decode);
criterion_main!(benches);
