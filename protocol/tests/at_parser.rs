//! The AT response parser on realistic modem transcripts, fed whole and split at every byte.

use proptest::prelude::*;
use smsbridge_protocol::at::{
    AtParser, Command, ErrorCode, ErrorFamily, FinalResult, Item, ParserConfig, Registration,
    Response, Retry, Storage, StreamError,
};

fn parse_all(p: &mut AtParser, bytes: &[u8]) -> Vec<Item> {
    p.feed(bytes);
    let mut items = Vec::new();
    while let Some(item) = p.next_item() {
        items.push(item);
    }
    items
}

fn parse_whole(bytes: &[u8]) -> Vec<Item> {
    let mut p = AtParser::new();
    let mut items = parse_all(&mut p, bytes);
    p.finish();
    items.extend(std::iter::from_fn(|| p.next_item()));
    items
}

fn parse_chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Item> {
    let mut p = AtParser::new();
    let mut items = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.clamp(start, bytes.len());
        items.extend(parse_all(&mut p, &bytes[start..cut]));
        start = cut;
    }
    items.extend(parse_all(&mut p, &bytes[start..]));
    p.finish();
    items.extend(std::iter::from_fn(|| p.next_item()));
    items
}

fn ok() -> Item {
    Item::Final(FinalResult::Ok)
}

fn echo(s: &str) -> Item {
    Item::Echo(s.to_owned())
}

const INIT: &[u8] = b"ATZ\r\r\nOK\r\nATE0\r\r\nOK\r\n\r\nOK\r\n\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n\r\nOK\r\n\r\n+CSQ: 18,99\r\n\r\nOK\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n\r\n+COPS: 0,0,\"Vodafone NL\",7\r\n\r\nOK\r\n\r\n356938035643809\r\n\r\nOK\r\n\r\n204043212345678\r\n\r\nOK\r\n\r\n+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30\r\n\r\nOK\r\n\r\n+CSCA: \"+31653131313\",145\r\n\r\nOK\r\n";

#[test]
fn init_sequence_with_expect() {
    // Echo on for ATZ/ATE0, then the driver tells the parser what it sent.
    let mut p = AtParser::new();
    let mut items = Vec::new();
    let steps: Vec<(Option<Command>, &[u8])> = vec![
        (None, b"ATZ\r\r\nOK\r\nATE0\r\r\nOK\r\n"),
        (
            Some(Command::cmee(smsbridge_protocol::at::CmeeMode::Numeric)),
            b"\r\nOK\r\n",
        ),
        (
            Some(Command::cpin_query()),
            b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
        ),
        (Command::cpin_enter("1234").ok(), b"\r\nOK\r\n"),
        (Some(Command::csq()), b"\r\n+CSQ: 18,99\r\n\r\nOK\r\n"),
        (Some(Command::creg_query()), b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        (
            Some(Command::cops_query()),
            b"\r\n+COPS: 0,0,\"Vodafone NL\",7\r\n\r\nOK\r\n",
        ),
        (Some(Command::cgsn()), b"\r\n356938035643809\r\n\r\nOK\r\n"),
        (Some(Command::cimi()), b"\r\n204043212345678\r\n\r\nOK\r\n"),
        (
            Some(Command::cpms_query()),
            b"\r\n+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30\r\n\r\nOK\r\n",
        ),
        (
            Some(Command::csca_query()),
            b"\r\n+CSCA: \"+31653131313\",145\r\n\r\nOK\r\n",
        ),
    ];
    let mut all = Vec::new();
    for (cmd, bytes) in steps {
        if let Some(cmd) = cmd {
            p.expect(&cmd);
        }
        all.extend_from_slice(bytes);
        items.extend(parse_all(&mut p, bytes));
    }
    assert_eq!(all, INIT);
    let storage = |used, total| Storage {
        mem: Some("SM".to_owned()),
        used,
        total,
    };
    assert_eq!(
        items,
        vec![
            echo("ATZ"),
            ok(),
            echo("ATE0"),
            ok(),
            ok(),
            Item::Info(Response::Cpin {
                code: "SIM PIN".to_owned()
            }),
            ok(),
            ok(),
            Item::Info(Response::Csq { rssi: 18, ber: 99 }),
            ok(),
            Item::Info(Response::Creg {
                command: Registration::Creg,
                n: Some(0),
                stat: 1,
                lac: None,
                ci: None,
                act: None
            }),
            ok(),
            Item::Info(Response::Cops {
                mode: 0,
                format: Some(0),
                oper: Some("Vodafone NL".to_owned()),
                act: Some(7)
            }),
            ok(),
            Item::Info(Response::Cgsn {
                sn: "356938035643809".to_owned()
            }),
            ok(),
            Item::Info(Response::Cimi {
                imsi: "204043212345678".to_owned()
            }),
            ok(),
            Item::Info(Response::Cpms {
                storages: vec![storage(3, 30), storage(3, 30), storage(3, 30)]
            }),
            ok(),
            Item::Info(Response::Csca {
                sca: "+31653131313".to_owned(),
                tosca: Some(145)
            }),
            ok(),
        ]
    );
}

#[test]
fn echo_tells_what_is_in_flight() {
    let items = parse_whole(
        b"AT+CGSN\r\r\n356938035643809\r\n\r\nOK\r\nAT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\nAT+CCID\r\r\n+ICCID: 8931440301234567890F\r\n\r\nOK\r\n",
    );
    assert_eq!(
        items,
        vec![
            echo("AT+CGSN"),
            Item::Info(Response::Cgsn {
                sn: "356938035643809".to_owned()
            }),
            ok(),
            echo("AT+CPIN?"),
            Item::Info(Response::Cpin {
                code: "READY".to_owned()
            }),
            ok(),
            echo("AT+CCID"),
            Item::Info(Response::Ccid {
                iccid: "8931440301234567890F".to_owned()
            }),
            ok(),
        ]
    );
}

#[test]
fn send_with_prompt() {
    let mut p = AtParser::new();
    let send = Command::cmgs_pdu(
        None,
        &hex::decode("11000B911326880736F40000A70568656C6C6F").unwrap(),
    )
    .unwrap();
    assert_eq!(send.command.bytes(), b"AT+CMGS=19\r");
    p.expect(&send.command);
    let mut items = parse_all(&mut p, b"\r\n> ");
    assert_eq!(items, vec![Item::Prompt]);
    items = parse_all(&mut p, b"\r\n+CMGS: 42\r\n\r\nOK\r\n");
    assert_eq!(
        items,
        vec![
            Item::Info(Response::Cmgs {
                mr: 42,
                ackpdu: None
            }),
            ok()
        ]
    );
    // With echo on, the body comes back after the prompt.
    let items = parse_whole(b"AT+CMGS=19\r\r\n> 0011000B911326880736F40000A70568656C6C6F\x1a\r\n+CMGS: 43\r\n\r\nOK\r\n");
    assert_eq!(
        items,
        vec![
            echo("AT+CMGS=19"),
            Item::Prompt,
            echo("0011000B911326880736F40000A70568656C6C6F"),
            Item::Info(Response::Cmgs {
                mr: 43,
                ackpdu: None
            }),
            ok()
        ]
    );
}

const PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

#[test]
fn incoming_cmti_then_cmgr() {
    let t = format!(
        "\r\n+CMTI: \"SM\",3\r\nAT+CMGR=3\r\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\nAT+CMGD=3\r\r\nOK\r\n"
    );
    assert_eq!(
        parse_whole(t.as_bytes()),
        vec![
            Item::Urc(Response::Cmti {
                mem: "SM".to_owned(),
                index: 3
            }),
            echo("AT+CMGR=3"),
            Item::Info(Response::CmgrPdu {
                stat: 0,
                alpha: None,
                length: 24,
                pdu: Some(PDU.to_owned())
            }),
            ok(),
            echo("AT+CMGD=3"),
            ok(),
        ]
    );
}

#[test]
fn cmgl_pdu_and_text() {
    let t = format!("\r\n+CMGL: 1,0,,24\r\n{PDU}\r\n+CMGL: 2,1,\"Mum\",24\r\n{PDU}\r\n\r\nOK\r\n");
    let items = parse_whole(t.as_bytes());
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[1],
        Item::Info(Response::CmglPdu {
            index: 2,
            stat: 1,
            alpha: Some("Mum".to_owned()),
            length: 24,
            pdu: Some(PDU.to_owned())
        })
    );
    let text = b"AT+CMGL=\"ALL\"\r\r\n+CMGL: 1,\"REC READ\",\"+31612345678\",,\"24/01/31,12:59:07+04\"\r\nHello there\r\nsecond line\r\n+CMGL: 2,\"REC UNREAD\",\"+31687654321\",,\"24/01/31,13:00:00+04\"\r\nBye\r\n\r\nOK\r\n";
    assert_eq!(
        parse_whole(text),
        vec![
            echo("AT+CMGL=\"ALL\""),
            Item::Info(Response::CmglText {
                index: 1,
                stat: "REC READ".to_owned(),
                oa: Some("+31612345678".to_owned()),
                alpha: None,
                scts: Some("24/01/31,12:59:07+04".to_owned()),
                data: "Hello there\nsecond line".to_owned()
            }),
            Item::Info(Response::CmglText {
                index: 2,
                stat: "REC UNREAD".to_owned(),
                oa: Some("+31687654321".to_owned()),
                alpha: None,
                scts: Some("24/01/31,13:00:00+04".to_owned()),
                data: "Bye".to_owned()
            }),
            ok(),
        ]
    );
}

#[test]
fn cmgr_text_mode() {
    let t = b"\r\n+CMGR: \"REC UNREAD\",\"+31612345678\",,\"24/01/31,12:59:07+04\"\r\nHi!\r\n\r\nOK\r\n";
    assert_eq!(
        parse_whole(t),
        vec![
            Item::Info(Response::CmgrText {
                stat: "REC UNREAD".to_owned(),
                oa: Some("+31612345678".to_owned()),
                alpha: None,
                scts: Some("24/01/31,12:59:07+04".to_owned()),
                data: "Hi!".to_owned()
            }),
            ok()
        ]
    );
}

#[test]
fn cmt_and_cds_urcs_with_pdu() {
    let cds = "0006D60B911326880736F4111011719551401110117195714000";
    let t = format!(
        "\r\n+CMT: ,24\r\n{PDU}\r\n\r\n+CDS: 25\r\n{cds}\r\n\r\n+CDSI: \"SR\",7\r\n\r\n+CMT: \"+31612345678\",,\"24/01/31,12:59:07+04\"\r\nText mode\r\n"
    );
    assert_eq!(
        parse_whole(t.as_bytes()),
        vec![
            Item::Urc(Response::CmtPdu {
                alpha: None,
                length: 24,
                pdu: Some(PDU.to_owned())
            }),
            Item::Urc(Response::CdsPdu {
                length: 25,
                pdu: Some(cds.to_owned())
            }),
            Item::Urc(Response::Cdsi {
                mem: "SR".to_owned(),
                index: 7
            }),
            Item::Urc(Response::CmtText {
                oa: "+31612345678".to_owned(),
                alpha: None,
                scts: Some("24/01/31,12:59:07+04".to_owned()),
                data: "Text mode".to_owned()
            }),
        ]
    );
}

#[test]
fn multi_line_cusd() {
    let t = b"AT+CUSD=1,\"*100#\",15\r\r\nOK\r\n\r\n+CUSD: 0,\"Your balance is 5.00 EUR.\r\nValid until 31-12.\r\n1. Top up\",15\r\n";
    assert_eq!(
        parse_whole(t),
        vec![
            echo("AT+CUSD=1,\"*100#\",15"),
            ok(),
            Item::Urc(Response::Cusd {
                m: 0,
                str: Some("Your balance is 5.00 EUR.\nValid until 31-12.\n1. Top up".to_owned()),
                dcs: Some(15)
            }),
        ]
    );
    let mut p = AtParser::new();
    p.expect(&Command::cusd_query());
    assert_eq!(
        parse_all(&mut p, b"\r\n+CUSD: 1\r\n\r\nOK\r\n"),
        vec![Item::Info(Response::CusdSetting { n: 1 }), ok()]
    );
}

#[test]
fn creg_urc_and_read_answer_by_shape() {
    let t = b"\r\n+CREG: 5,\"00A1\",\"1B2C\",7\r\n\r\n+CREG: 2\r\n\r\n+CREG: 2,1,\"00A1\",\"1B2C\"\r\n\r\nOK\r\n";
    let items = parse_whole(t);
    assert_eq!(
        items,
        vec![
            Item::Urc(Response::Creg {
                command: Registration::Creg,
                n: None,
                stat: 5,
                lac: Some("00A1".to_owned()),
                ci: Some("1B2C".to_owned()),
                act: Some(7)
            }),
            Item::Urc(Response::Creg {
                command: Registration::Creg,
                n: None,
                stat: 2,
                lac: None,
                ci: None,
                act: None
            }),
            Item::Info(Response::Creg {
                command: Registration::Creg,
                n: Some(2),
                stat: 1,
                lac: Some("00A1".to_owned()),
                ci: Some("1B2C".to_owned()),
                act: None
            }),
            ok(),
        ]
    );
}

#[test]
fn ring_clip_and_vendor_urcs() {
    let t = b"\r\n^BOOT:12345,0,0,0,6\r\n\r\n^RSSI:12\r\n\r\n+QIND: \"SMS DONE\"\r\n\r\nRING\r\n\r\n+CLIP: \"+31612345678\",145,\"\",0,\"\",0\r\n\r\nNO CARRIER\r\n\r\n+CPIN: READY\r\n";
    assert_eq!(
        parse_whole(t),
        vec![
            Item::Urc(Response::Generic {
                command: "^BOOT".to_owned(),
                params: "12345,0,0,0,6".to_owned()
            }),
            Item::Urc(Response::Generic {
                command: "^RSSI".to_owned(),
                params: "12".to_owned()
            }),
            Item::Urc(Response::Generic {
                command: "+QIND".to_owned(),
                params: "\"SMS DONE\"".to_owned()
            }),
            Item::Urc(Response::Ring),
            Item::Urc(Response::Clip {
                number: "+31612345678".to_owned(),
                type_of_address: 145,
                alpha: Some("".to_owned()),
                cli_validity: Some(0)
            }),
            Item::Final(FinalResult::NoCarrier),
            Item::Urc(Response::Cpin {
                code: "READY".to_owned()
            }),
        ]
    );
}

#[test]
fn error_finals() {
    let t =
        b"\r\n+CMS ERROR: 332\r\n\r\n+CME ERROR: SIM busy\r\n\r\nERROR\r\n\r\n+CMS ERROR: 600\r\n";
    let items = parse_whole(t);
    assert_eq!(
        items,
        vec![
            Item::Final(FinalResult::CmsError(ErrorCode {
                code: Some(332),
                text: None
            })),
            Item::Final(FinalResult::CmeError(ErrorCode {
                code: Some(14),
                text: Some("SIM busy".to_owned())
            })),
            Item::Final(FinalResult::Error),
            Item::Final(FinalResult::CmsError(ErrorCode {
                code: Some(600),
                text: None
            })),
        ]
    );
    let retries: Vec<_> = items
        .iter()
        .map(|i| match i {
            Item::Final(f) => f.retry(),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        vec![
            Some(Retry::Transient),
            Some(Retry::Transient),
            Some(Retry::Transient),
            Some(Retry::Transient)
        ]
    );
    let bad_number = FinalResult::CmsError(ErrorCode::parse(ErrorFamily::Cms, "1"));
    assert_eq!(bad_number.retry(), Some(Retry::Permanent));
}

#[test]
fn line_ends_garbage_and_blank_lines() {
    // Lone CR, lone LF, NULs and 0xFF noise before a line, blank lines in between.
    let t = b"\0\0\xff\r\n\n\n+CSQ: 10,0\rOK\n\r\r\r\n\0\0OK\r\n";
    assert_eq!(
        parse_whole(t),
        vec![Item::Info(Response::Csq { rssi: 10, ber: 0 }), ok(), ok()]
    );
}

#[test]
fn numeric_result_codes_when_enabled() {
    let mut p = AtParser::with_config(ParserConfig {
        numeric_codes: true,
        ..ParserConfig::default()
    });
    assert_eq!(
        parse_all(&mut p, b"0\r4\r2\r"),
        vec![
            ok(),
            Item::Final(FinalResult::Error),
            Item::Urc(Response::Ring)
        ]
    );
    // Off by default: a bare digit line is just a line.
    assert_eq!(
        parse_whole(b"0\r\n"),
        vec![Item::Urc(Response::Raw {
            line: "0".to_owned()
        })]
    );
}

#[test]
fn long_lines_are_bounded() {
    let mut p = AtParser::with_config(ParserConfig {
        max_line: 64,
        ..ParserConfig::default()
    });
    let mut items = Vec::new();
    // 10 kB without a line end, fed in pieces: the buffer never holds more than the limit plus a chunk.
    for _ in 0..100 {
        items.extend(parse_all(&mut p, &[b'A'; 100]));
        assert!(p.buffered() <= 64 + 100, "buffered {}", p.buffered());
    }
    items.extend(parse_all(&mut p, b"\r\nOK\r\n"));
    assert_eq!(
        items,
        vec![Item::Error(StreamError::LineTooLong { limit: 64 }), ok()]
    );
}

#[test]
fn pdu_header_without_pdu_line() {
    // An empty slot: no hex line follows; the header is given out and OK still parses.
    assert_eq!(
        parse_whole(b"\r\n+CMGR: 0,,0\r\n\r\nOK\r\n"),
        vec![
            Item::Info(Response::CmgrPdu {
                stat: 0,
                alpha: None,
                length: 0,
                pdu: None
            }),
            ok()
        ]
    );
}

/// A transcript with every kind of item, used for the split tests.
fn full_transcript() -> Vec<u8> {
    let mut t = INIT.to_vec();
    t.extend_from_slice(
        format!(
            "\r\n+CMTI: \"SM\",3\r\nAT+CMGR=3\r\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\n\r\n+CMT: ,24\r\n{PDU}\r\n\
             AT+CMGS=19\r\r\n> 0011000B911326880736F40000A70568656C6C6F\x1a\r\n+CMGS: 43\r\n\r\nOK\r\n\
             \r\n+CUSD: 0,\"Balance\r\nline 2\",15\r\n\r\n^RSSI:12\r\n\r\nRING\r\n\r\n+CMS ERROR: 500\r\n\
             AT+CMGL=\"ALL\"\r\r\n+CMGL: 1,\"REC READ\",\"+316\",,\"24/01/31,12:59:07+04\"\r\nHello\r\n\r\nOK\r\n\
             \r\n+CREG: 1,\"00A1\",\"1B2C\"\r\n\0\0\n+CDS: 25\r\n0006D60B911326880736F4111011719551401110117195714000\r\n"
        )
        .as_bytes(),
    );
    t
}

#[test]
fn every_single_split_gives_the_same_items() {
    let t = full_transcript();
    let whole = parse_whole(&t);
    assert!(whole.len() > 40, "{} items", whole.len());
    for cut in 0..=t.len() {
        assert_eq!(parse_chunks(&t, &[cut]), whole, "split at {cut}");
    }
    // And byte by byte.
    let cuts: Vec<usize> = (0..t.len()).collect();
    assert_eq!(parse_chunks(&t, &cuts), whole);
}

proptest! {
    #[test]
    fn arbitrary_chunkings_give_the_same_items(mut cuts in proptest::collection::vec(0usize..2000, 0..40)) {
        let t = full_transcript();
        cuts.sort_unstable();
        prop_assert_eq!(parse_chunks(&t, &cuts), parse_whole(&t));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        mut cuts in proptest::collection::vec(0usize..600, 0..10),
    ) {
        cuts.sort_unstable();
        let items = parse_chunks(&data, &cuts);
        prop_assert!(items.len() <= data.len() + 1);
    }

    #[test]
    fn near_protocol_bytes_split_anywhere_give_the_same_items(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b"\n"[..]), Just(&b"OK"[..]), Just(&b"> "[..]),
                Just(&b">"[..]), Just(&b"+CMGR: 0,,24"[..]), Just(&b"+CMT: ,24"[..]), Just(&b"07911326"[..]),
                Just(&b"+CUSD: 0,\"ab"[..]), Just(&b"\""[..]), Just(&b"AT+CMGS=3"[..]), Just(&b"\x1a"[..]),
                Just(&b"+CMGL: 1,\"REC READ\",\"+3\""[..]), Just(&b"\0"[..]), Just(&b"AT+CGSN"[..]),
                Just(&b"+CREG: 1"[..]), Just(&b"ERROR"[..]), Just(&b"+CMT: \"+31\",,\"x\""[..]),
            ],
            0..40,
        ),
        mut cuts in proptest::collection::vec(0usize..400, 0..20),
    ) {
        let data: Vec<u8> = parts.concat();
        cuts.sort_unstable();
        prop_assert_eq!(parse_chunks(&data, &cuts), parse_whole(&data));
    }

    #[test]
    fn memory_stays_bounded(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let mut p = AtParser::with_config(ParserConfig { max_line: 100, ..ParserConfig::default() });
        for chunk in data.chunks(7) {
            p.feed(chunk);
            while p.next_item().is_some() {}
            prop_assert!(p.buffered() <= 100 + 7);
        }
    }
}

#[test]
fn explicit_expect_wins_over_the_echo() {
    use smsbridge_protocol::at::{CommandKind, Expect};
    let gsn = Command::other(
        "+GSN",
        CommandKind::Basic,
        Expect {
            prefix: Some("+CGSN"),
            bare: true,
            query: false,
            prompt: false,
        },
    )
    .unwrap();
    let mut p = AtParser::new();
    p.expect(&gsn);
    assert_eq!(
        parse_all(
            &mut p,
            b"AT+GSN\r\r\n356938035643809\r\n\r\nOK\r\n\r\n+CPIN: READY\r\n"
        ),
        vec![
            echo("AT+GSN"),
            Item::Info(Response::Cgsn {
                sn: "356938035643809".to_owned()
            }),
            ok(),
            // The final result ended the command: this one came by itself.
            Item::Urc(Response::Cpin {
                code: "READY".to_owned()
            }),
        ]
    );
}

#[test]
fn more_answers_and_urcs() {
    let t = b"\r\n+CEREG: 1,\"1A2B\",\"01C2D3E4\",7\r\n\r\n+CGREG: 0,5\r\n\r\n+CPMS: 3,30,3,30,3,30\r\n\r\n+CDS: 6,42,\"+31612345678\",145,\"24/01/31,12:59:07+04\",\"24/01/31,12:59:09+04\",0\r\n\r\n+CME ERROR: 10\r\n";
    assert_eq!(
        parse_whole(t),
        vec![
            Item::Urc(Response::Creg {
                command: Registration::Cereg,
                n: None,
                stat: 1,
                lac: Some("1A2B".to_owned()),
                ci: Some("01C2D3E4".to_owned()),
                act: Some(7)
            }),
            Item::Info(Response::Creg {
                command: Registration::Cgreg,
                n: Some(0),
                stat: 5,
                lac: None,
                ci: None,
                act: None
            }),
            Item::Info(Response::Cpms {
                storages: vec![
                    Storage {
                        mem: None,
                        used: 3,
                        total: 30
                    },
                    Storage {
                        mem: None,
                        used: 3,
                        total: 30
                    },
                    Storage {
                        mem: None,
                        used: 3,
                        total: 30
                    }
                ]
            }),
            Item::Urc(Response::CdsText {
                fo: 6,
                mr: 42,
                ra: Some("+31612345678".to_owned()),
                tora: Some(145),
                scts: Some("24/01/31,12:59:07+04".to_owned()),
                dt: Some("24/01/31,12:59:09+04".to_owned()),
                st: 0
            }),
            Item::Final(FinalResult::CmeError(ErrorCode {
                code: Some(10),
                text: None
            })),
        ]
    );
}
