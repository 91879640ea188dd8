//! SMPP codec micro-benchmarks, with rusmpp 0.4 doing the same work in the same group so one run gives
//! the ratio. Inputs: submit_sm (160-octet text, two TLVs), deliver_sm carrying a delivery receipt
//! (receipt text + receipted_message_id and message_state TLVs), enquire_link.
//!
//! Decoding: ours frames and decodes from a `&[u8]` (borrowing); rusmpp decodes a `BytesMut` into its owned
//! `Command` (the buffer copy is made in untimed setup). Encoding: both append to a reused `BytesMut`,
//! command_length included.

use std::borrow::Cow;
use std::hint::black_box;

use bytes::{BufMut, BytesMut};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rusmpp::Command;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode;
use smsbridge_protocol::smpp::*;

fn submit_sm() -> Pdu<'static> {
    let text: Vec<u8> = (0..160u32).map(|i| b'a' + (i % 26) as u8).collect();
    Pdu::new(
        0x0102_0304,
        Body::SubmitSm(SubmitSm {
            service_type: Cow::Borrowed(b""),
            source_addr_ton: Ton::ALPHANUMERIC,
            source_addr_npi: Npi::UNKNOWN,
            source_addr: Cow::Borrowed(b"SMSBRIDGE"),
            dest_addr_ton: Ton::INTERNATIONAL,
            dest_addr_npi: Npi::ISDN,
            destination_addr: Cow::Borrowed(b"447700900123"),
            registered_delivery: 1,
            short_message: Cow::Owned(text),
            tlvs: Tlvs::new()
                .with(tag::USER_MESSAGE_REFERENCE, TlvValue::U16(0x1234))
                .with(tag::SOURCE_PORT, TlvValue::U16(2948)),
            ..Default::default()
        }),
    )
}

fn deliver_sm_receipt() -> Pdu<'static> {
    let text = b"id:7b3c1e0a9f sub:001 dlvrd:001 submit date:2511231200 done date:2511231201 stat:DELIVRD err:000 text:Hello";
    Pdu::new(
        77,
        Body::DeliverSm(SubmitSm {
            source_addr_ton: Ton::INTERNATIONAL,
            source_addr_npi: Npi::ISDN,
            source_addr: Cow::Borrowed(b"447700900123"),
            dest_addr_ton: Ton::ALPHANUMERIC,
            destination_addr: Cow::Borrowed(b"SMSBRIDGE"),
            esm_class: EsmClass::DELIVERY_RECEIPT,
            short_message: Cow::Borrowed(text),
            tlvs: Tlvs::new()
                .with(tag::RECEIPTED_MESSAGE_ID, TlvValue::CString(b"7b3c1e0a9f"))
                .with(
                    tag::MESSAGE_STATE,
                    TlvValue::MessageState(MessageState::DELIVERED),
                ),
            ..Default::default()
        }),
    )
}

fn enquire_link() -> Pdu<'static> {
    Pdu::new(9, Body::EnquireLink)
}

fn rusmpp_decode(wire: &[u8]) -> Command {
    let mut src = BytesMut::from(&wire[4..]);
    let (cmd, _) = Command::decode(&mut src, wire.len() - 4).expect("rusmpp decodes");
    cmd
}

fn rusmpp_encode(cmd: &Command, dst: &mut BytesMut) {
    let len = 4 + cmd.length();
    dst.reserve(len);
    dst.put_u32(len as u32);
    cmd.encode(dst);
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("submit_sm", submit_sm()),
        ("deliver_sm_receipt", deliver_sm_receipt()),
        ("enquire_link", enquire_link()),
    ];
    let limits = Limits::default();
    for (name, pdu) in cases {
        let wire = pdu.to_vec();
        let theirs = rusmpp_decode(&wire);
        let mut check = BytesMut::new();
        rusmpp_encode(&theirs, &mut check);
        assert_eq!(
            &check[..],
            &wire[..],
            "{name}: both codecs must produce the same octets"
        );

        let mut g = c.benchmark_group(format!("smpp/{name}"));
        g.bench_function("decode/smsbridge", |b| {
            b.iter(|| match decode_frame(black_box(&wire), &limits) {
                Ok(Frame::Pdu { pdu, consumed }) => {
                    black_box(&pdu);
                    consumed
                }
                _ => unreachable!(),
            })
        });
        g.bench_function("decode/rusmpp", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&wire[4..]),
                |src| {
                    let r = Command::decode(black_box(src), wire.len() - 4);
                    black_box(r.is_ok());
                    r
                },
                BatchSize::SmallInput,
            )
        });
        let mut buf = BytesMut::with_capacity(1024);
        g.bench_function("encode/smsbridge", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&pdu).encode(&mut buf);
                black_box(buf.len())
            })
        });
        g.bench_function("encode/rusmpp", |b| {
            b.iter(|| {
                buf.clear();
                rusmpp_encode(black_box(&theirs), &mut buf);
                black_box(buf.len())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
