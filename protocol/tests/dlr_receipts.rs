//! Delivery receipt texts as carriers send them (SMPP 3.4 Appendix B and its real-world variants).

use proptest::prelude::*;
use smsbridge_protocol::dlr::{
    MessageIdForm, Receipt, ReceiptDate, ReceiptError, ReceiptState, Source, StandardReceipt,
    parse_receipt, resolve,
};

fn s(b: Option<&[u8]>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
}

/// (input, id, stat, err, text, state)
type Row = (
    &'static [u8],
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<ReceiptState<'static>>,
);

#[test]
fn real_world_variants() {
    let rows: &[Row] = &[
        (
            b"id:0123456789 sub:001 dlvrd:001 submit date:2301311259 done date:2301311300 stat:DELIVRD err:000 text:Hello world",
            Some("0123456789"),
            Some("DELIVRD"),
            Some("000"),
            Some("Hello world"),
            Some(ReceiptState::Delivered),
        ),
        // Labels in other cases, `Text:` capitalised.
        (
            b"ID:7F3A2B sub:001 dlvrd:000 Submit Date:2301311259 Done Date:2301311300 STAT:UNDELIV err:011 Text:hi",
            Some("7F3A2B"),
            Some("UNDELIV"),
            Some("011"),
            Some("hi"),
            Some(ReceiptState::Undeliverable),
        ),
        // Fields in another order, extra spaces, no text.
        (
            b"stat:EXPIRED   id:42  err:000   done date:2301311300",
            Some("42"),
            Some("EXPIRED"),
            Some("000"),
            None,
            Some(ReceiptState::Expired),
        ),
        // 12-digit dates with seconds, UUID id, 4-digit err, trailing NUL.
        (
            b"id:123e4567-e89b-12d3-a456-426614174000 sub:001 dlvrd:001 submit date:230131125901 done date:230131130002 stat:DELIVRD err:0000 text:\0",
            Some("123e4567-e89b-12d3-a456-426614174000"),
            Some("DELIVRD"),
            Some("0000"),
            Some(""),
            Some(ReceiptState::Delivered),
        ),
        // Alphanumeric err and a long stat spelling in lower case.
        (
            b"id:99 sub:1 dlvrd:0 stat:rejected err:E05 text:",
            Some("99"),
            Some("rejected"),
            Some("E05"),
            Some(""),
            Some(ReceiptState::Rejected),
        ),
        // Text running to the end, with words that look like labels in it.
        (
            b"id:5 stat:DELIVRD err:000 text:see stat:UNDELIV id:6 err:1",
            Some("5"),
            Some("DELIVRD"),
            Some("000"),
            Some("see stat:UNDELIV id:6 err:1"),
            Some(ReceiptState::Delivered),
        ),
        // Missing fields: only id and stat.
        (
            b"id:AB12 stat:ACCEPTD",
            Some("AB12"),
            Some("ACCEPTD"),
            None,
            None,
            Some(ReceiptState::Accepted),
        ),
        // Unknown stat text is kept.
        (
            b"id:1 stat:QUEUED err:000",
            Some("1"),
            Some("QUEUED"),
            Some("000"),
            None,
            Some(ReceiptState::Other(b"QUEUED")),
        ),
        // `submit_date` with an underscore, space before the colon, CRLF at the end.
        (
            b"id:77 submit_date:2301311259 stat : DELIVERED\r\n",
            Some("77"),
            Some("DELIVERED"),
            None,
            None,
            Some(ReceiptState::Delivered),
        ),
        // A label with an empty value before the next label.
        (
            b"id: sub:001 stat:ENROUTE",
            Some(""),
            Some("ENROUTE"),
            None,
            None,
            Some(ReceiptState::Enroute),
        ),
    ];
    for (input, id, stat, err, text, state) in rows {
        let r = parse_receipt(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let got = (s(r.id), s(r.stat), s(r.err), s(r.text), r.state());
        let want = (
            id.map(str::to_owned),
            stat.map(str::to_owned),
            err.map(str::to_owned),
            text.map(str::to_owned),
            *state,
        );
        assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn typed_values() {
    let r = parse_receipt(
        b"id:0123456789 sub:001 dlvrd:002 submit date:2301311259 done date:230131130005 stat:DELIVRD err:0042 text:x",
    )
    .unwrap();
    assert_eq!(r.sub_count(), Some(1));
    assert_eq!(r.dlvrd_count(), Some(2));
    assert_eq!(r.err_code(), Some(42));
    assert_eq!(
        r.submit_date_value(),
        Some(ReceiptDate {
            year: 2023,
            month: 1,
            day: 31,
            hour: 12,
            minute: 59,
            second: None
        })
    );
    assert_eq!(r.done_date_value().and_then(|d| d.second), Some(5));
    assert_eq!(r.id_form(), Some(MessageIdForm::Decimal));
    // Literal strings are kept, not re-padded.
    assert_eq!(r.sub, Some(&b"001"[..]));
    assert_eq!(r.err, Some(&b"0042"[..]));
}

#[test]
fn invalid_utf8_text_is_kept() {
    let input = b"id:1 stat:DELIVRD text:caf\xe9 \xff\xfe";
    let r = parse_receipt(input).unwrap();
    assert_eq!(r.text, Some(&b"caf\xe9 \xff\xfe"[..]));
}

#[test]
fn not_receipts() {
    for input in [
        &b""[..],
        b"hello world",
        b"Your code is 1234",
        b"text:id:1 stat:DELIVRD",
        b"id:1",
        b"sub:001 dlvrd:001 err:000",
    ] {
        assert!(
            matches!(parse_receipt(input), Err(ReceiptError::NotAReceipt { .. })),
            "{input:?}"
        );
    }
}

#[test]
fn stat_variants() {
    let cases: &[(&[u8], ReceiptState<'static>)] = &[
        (b"DELIVRD", ReceiptState::Delivered),
        (b"delivered", ReceiptState::Delivered),
        (b"UNDELIVERABLE", ReceiptState::Undeliverable),
        (b"Undelivered", ReceiptState::Undeliverable),
        (b"FAILED", ReceiptState::Undeliverable),
        (b"REJECTED", ReceiptState::Rejected),
        (b"REJECTD", ReceiptState::Rejected),
        (b"EXPIRED", ReceiptState::Expired),
        (b"DELETED", ReceiptState::Deleted),
        (b"ACCEPTED", ReceiptState::Accepted),
        (b"UNKNOWN", ReceiptState::Unknown),
        (b"EN_ROUTE", ReceiptState::Enroute),
        (b"enroute", ReceiptState::Enroute),
    ];
    for (text, want) in cases {
        assert_eq!(ReceiptState::from_stat(text), *want, "{text:?}");
    }
    assert!(ReceiptState::Delivered.is_final());
    assert!(ReceiptState::Accepted.is_final());
    assert!(ReceiptState::Unknown.is_final());
    assert!(!ReceiptState::Enroute.is_final());
    assert!(!ReceiptState::Other(b"QUEUED").is_final());
    for (value, want) in [
        (1u8, ReceiptState::Enroute),
        (2, ReceiptState::Delivered),
        (3, ReceiptState::Expired),
        (4, ReceiptState::Deleted),
        (5, ReceiptState::Undeliverable),
        (6, ReceiptState::Accepted),
        (7, ReceiptState::Unknown),
        (8, ReceiptState::Rejected),
        (9, ReceiptState::OtherMessageState(9)),
    ] {
        assert_eq!(ReceiptState::from_message_state(value), want);
    }
}

#[test]
fn tlvs_win_over_text() {
    let text = parse_receipt(b"id:0000000042 stat:DELIVRD err:000").unwrap();
    let both = resolve(Some(&text), Some(b"2a\0"), Some(5));
    assert_eq!(
        both.message_id.map(|m| (m.value, m.source)),
        Some((&b"2a"[..], Source::Tlv))
    );
    assert_eq!(
        both.state.map(|s| (s.value, s.source)),
        Some((ReceiptState::Undeliverable, Source::Tlv))
    );
    let text_only = resolve(Some(&text), None, None);
    assert_eq!(
        text_only.message_id.map(|m| (m.value, m.source)),
        Some((&b"0000000042"[..], Source::Text))
    );
    assert_eq!(
        text_only.state.map(|s| (s.value, s.source)),
        Some((ReceiptState::Delivered, Source::Text))
    );
    assert!(text_only.is_final());
    let tlv_only = resolve(None, Some(b"abc"), Some(1));
    assert_eq!(tlv_only.state.map(|s| s.value), Some(ReceiptState::Enroute));
    assert!(!tlv_only.is_final());
    // An empty receipted_message_id is absent: the text's id is used.
    let empty = resolve(Some(&text), Some(b"\0"), None);
    assert_eq!(empty.message_id.map(|m| m.source), Some(Source::Text));
    assert_eq!(resolve(None, None, None).state, None);
}

#[test]
fn standard_form() {
    let date = |minute, second| ReceiptDate {
        year: 2023,
        month: 1,
        day: 31,
        hour: 12,
        minute,
        second,
    };
    let receipt = StandardReceipt {
        id: b"0123456789",
        sub: 1,
        dlvrd: 1,
        submit_date: date(59, None),
        done_date: date(59, Some(30)),
        state: ReceiptState::Delivered,
        err: 0,
        text: b"Hello",
    };
    assert_eq!(
        String::from_utf8(receipt.to_bytes()).unwrap(),
        "id:0123456789 sub:001 dlvrd:001 submit date:2301311259 done date:230131125930 stat:DELIVRD err:000 text:Hello"
    );
    let bytes = receipt.to_bytes();
    let parsed = parse_receipt(&bytes).unwrap();
    assert_eq!(parsed.submit_date_value(), Some(date(59, None)));
    assert_eq!(parsed.done_date_value(), Some(date(59, Some(30))));
    assert_eq!(parsed.state(), Some(ReceiptState::Delivered));
}

/// A value that cannot be mistaken for a label and has no white space.
fn value() -> impl Strategy<Value = Vec<u8>> {
    "[0-9A-Za-z.#/+=-]{0,20}"
        .prop_filter("looks like a label", |v| !v.contains(':'))
        .prop_map(String::into_bytes)
}

fn text_value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(|mut t| {
        t.retain(|b| !matches!(b, 0 | b'\r' | b'\n'));
        while t.first().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            t.remove(0);
        }
        t
    })
}

proptest! {
    #[test]
    fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = parse_receipt(&input) {
            let _ = (r.sub_count(), r.dlvrd_count(), r.err_code(), r.state(), r.id_form());
            let _ = (r.submit_date_value(), r.done_date_value(), r.to_bytes());
        }
    }

    #[test]
    fn never_panics_near_receipts(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"id:"[..]), Just(&b"stat:"[..]), Just(&b"submit date:"[..]), Just(&b"text:"[..]),
                Just(&b" "[..]), Just(&b"\0"[..]), Just(&b"DELIVRD"[..]), Just(&b"2301311259"[..]),
                Just(&b"\xff"[..]), Just(&b"err:"[..]), Just(&b"Done   Date :"[..]),
            ],
            0..30,
        )
    ) {
        let input: Vec<u8> = parts.concat();
        if let Ok(r) = parse_receipt(&input) {
            prop_assert!(r.id.is_some() || r.stat.is_some());
        }
    }

    #[test]
    fn format_parse_round_trip(
        id in value(),
        sub in proptest::option::of(value()),
        dlvrd in proptest::option::of(value()),
        submit_date in proptest::option::of(value()),
        done_date in proptest::option::of(value()),
        stat in value(),
        err in proptest::option::of(value()),
        text in proptest::option::of(text_value()),
    ) {
        let receipt = Receipt {
            id: Some(&id),
            sub: sub.as_deref(),
            dlvrd: dlvrd.as_deref(),
            submit_date: submit_date.as_deref(),
            done_date: done_date.as_deref(),
            stat: Some(&stat),
            err: err.as_deref(),
            text: text.as_deref(),
        };
        let bytes = receipt.to_bytes();
        prop_assert_eq!(parse_receipt(&bytes), Ok(receipt));
    }

    #[test]
    fn standard_receipt_round_trip(
        id in "[0-9a-f]{1,16}",
        sub in 0u32..1000, dlvrd in 0u32..1000, err in 0u32..10000,
        state in 1u8..=8,
        (y, mo, d, h, mi, se) in (0u16..100, 1u8..=12, 1u8..=31, 0u8..24, 0u8..60, proptest::option::of(0u8..60)),
        text in text_value(),
    ) {
        let date = ReceiptDate { year: 2000 + y, month: mo, day: d, hour: h, minute: mi, second: se };
        let receipt = StandardReceipt {
            id: id.as_bytes(), sub, dlvrd, submit_date: date, done_date: date,
            state: ReceiptState::from_message_state(state), err, text: &text,
        };
        let bytes = receipt.to_bytes();
        let parsed = parse_receipt(&bytes).unwrap();
        prop_assert_eq!(parsed.id, Some(id.as_bytes()));
        prop_assert_eq!(parsed.sub_count(), Some(sub));
        prop_assert_eq!(parsed.dlvrd_count(), Some(dlvrd));
        prop_assert_eq!(parsed.err_code(), Some(err));
        prop_assert_eq!(parsed.submit_date_value(), Some(date));
        prop_assert_eq!(parsed.done_date_value(), Some(date));
        prop_assert_eq!(parsed.state(), Some(receipt.state));
        prop_assert_eq!(parsed.text, Some(&text[..]));
    }
}
