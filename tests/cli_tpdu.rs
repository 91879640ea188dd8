//! Runs the built `smsbridge` binary: `pdu decode|encode tpdu` and `sms plan`, checking the JSON it prints.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(args)
        .output()
        .expect("run smsbridge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
    )
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

const HELLO: &str = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";

#[test]
fn decode_deliver_with_sca_prints_every_field() {
    let (code, out) = run(&["pdu", "decode", "tpdu", "--sca", HELLO]);
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["type"], "SMS-DELIVER");
    assert_eq!(v["smsc"], "+27381000015");
    assert_eq!(v["first_octet"], 4);
    assert_eq!(v["tp_mti"], 0);
    assert_eq!(v["tp_mms"], true);
    assert_eq!(v["tp_sri"], false);
    assert_eq!(v["tp_udhi"], false);
    assert_eq!(v["tp_rp"], false);
    assert!(v.get("tp_srr").is_none(), "SMS-DELIVER has no TP-SRR");
    assert!(v.get("tp_mr").is_none(), "SMS-DELIVER has no TP-MR");
    assert_eq!(v["tp_oa"]["number"], "27838890001");
    assert_eq!(v["tp_oa"]["ton"], "subscriber");
    assert_eq!(v["tp_oa"]["npi"], "national");
    assert_eq!(v["tp_pid"], 0);
    assert_eq!(v["tp_dcs"], 0);
    assert_eq!(v["tp_scts"], "1999-03-29T15:16:59+02:00");
    assert_eq!(v["text"], "hellohello");
    assert_eq!(v["ud"], "E8329BFD4697D9EC37");
    assert_eq!(v["tp_udl"], 10);
    assert_eq!(v["udh"], Value::Null);
}

#[test]
fn decode_then_encode_gives_the_same_hex() {
    let cases: &[(&str, bool)] = &[
        (HELLO, true),
        ("0011000B916407281553F80000AA0AE8329BFD4697D9EC37", true),
        ("0006D60B911326880736F4111011719551401110117195714000", true),
        // SMS-SUBMIT with SRR, UDH (concat 8-bit ref 0x2A, part 1/2) and one fill bit before the septets.
        ("61000B916407281553F80000080500032A020182", false),
    ];
    for (hex_in, sca) in cases {
        let mut args = vec!["pdu", "decode", "tpdu"];
        if *sca {
            args.push("--sca");
        }
        args.push(hex_in);
        let (code, out) = run(&args);
        assert_eq!(code, 0, "{hex_in}: {out}");
        let mut enc = vec!["pdu", "encode", "tpdu"];
        if *sca {
            enc.push("--sca");
        }
        enc.push(out.trim());
        let (code, back) = run(&enc);
        assert_eq!(code, 0, "{back}");
        assert_eq!(back.trim(), *hex_in, "round trip");
    }
}

#[test]
fn status_report_fields() {
    let (code, out) = run(&[
        "pdu",
        "decode",
        "tpdu",
        "--sca",
        "0006D60B911326880736F4111011719551401110117195714000",
    ]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["type"], "SMS-STATUS-REPORT");
    assert_eq!(v["smsc"], Value::Null);
    assert_eq!(v["tp_mr"], 0xD6);
    assert_eq!(v["tp_srq"], false);
    assert_eq!(v["tp_ra"]["number"], "+31628870634");
    assert_eq!(v["tp_ra"]["ton"], "international");
    assert_eq!(v["tp_dt"], "2011-01-11T17:59:17+01:00");
    assert_eq!(v["tp_st"], 0);
    assert_eq!(v["status"]["kind"], "delivered");
}

#[test]
fn encode_from_hand_written_json() {
    let j = r#"{"type":"SMS-SUBMIT","tp_srr":true,"tp_mr":5,"tp_da":{"number":"+46708251358","ton":"international","npi":"isdn"},
               "tp_dcs":0,"tp_vp":{"minutes":5760},"udh":[{"iei":0,"reference":42,"parts":2,"number":1}],"text":"hi"}"#;
    let (code, out) = run(&["pdu", "encode", "tpdu", j]);
    assert_eq!(code, 0, "{out}");
    // first octet: SUBMIT | VPF relative | SRR | UDHI = 0x71; VP 0xAA; UDL 7 + 2; UDH; "hi" after one fill bit.
    assert_eq!(out.trim(), "71050B916407281553F80000AA090500032A0201D069");
    let (_, dec) = run(&["pdu", "decode", "tpdu", out.trim()]);
    let v = json(&dec);
    assert_eq!(v["text"], "hi");
    assert_eq!(v["udh"][0]["reference"], 42);
    assert_eq!(v["tp_vp"]["minutes"], 5760);
}

#[test]
fn malformed_input_exits_1_with_an_error() {
    for bad in ["zz", "", "0011", "07917283010010F5"] {
        let (code, out) = run(&["pdu", "decode", "tpdu", "--sca", bad]);
        assert_eq!(code, 1, "{bad}: {out}");
        let v = json(&out);
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{out}");
    }
    let (code, out) = run(&[
        "pdu",
        "encode",
        "tpdu",
        r#"{"type":"SMS-SUBMIT","tp_da":"+1","text":"中"}"#,
    ]);
    assert_eq!(code, 1);
    assert!(
        json(&out)["error"].as_str().unwrap().contains("GSM 7-bit"),
        "{out}"
    );
}

#[test]
fn sms_plan_counts_and_splits() {
    let text = "x".repeat(200);
    let (code, out) = run(&["sms", "plan", "--to", "+33612345678", &text]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["segment_count"], 2);
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs[0]["septets"], 153);
    assert_eq!(segs[1]["septets"], 47);
    assert_eq!(segs[0]["tp_udl"], 160);
    let r = v["reference"].as_u64().unwrap();
    assert_eq!(segs[1]["udh"][0]["reference"].as_u64(), Some(r));
    assert_eq!(segs[1]["udh_hex"], format!("050003{r:02X}0202"));
    // Same destination, same first reference: it depends on the destination only.
    let (_, again) = run(&["sms", "plan", "--to", "+33612345678", &text]);
    assert_eq!(json(&again)["reference"], v["reference"]);

    let (_, out) = run(&["sms", "plan", "Grüße 😀"]);
    let v = json(&out);
    assert_eq!(v["encoding"], "ucs2");
    assert_eq!(v["segments"][0]["octets"], 16);
    assert_eq!(v["segments"][0]["ud"], "0047007200FC00DF00650020D83DDE00");
    assert_eq!(v["reference"], Value::Null);
}

/// Validity periods in every format, a status report with TP-PI and user data, and a message waiting DCS: the
/// JSON names each field and encoding it gives back the same bytes.
#[test]
fn validity_formats_and_status_report_parameters_round_trip() {
    use smsbridge_protocol::sms::{
        Address, Dcs, InformationElement, Status, StatusReport, Submit, Timestamp, Tpdu, Udh,
        UserData, ValidityPeriod,
    };
    let ts = |s: &str| Timestamp::parse_iso8601(s).unwrap();
    let submit = |vp: Option<ValidityPeriod>, dcs: Dcs| {
        let mut s = Submit::new(
            Address::parse("+447700900123"),
            dcs,
            UserData::gsm7("vp", None).unwrap(),
        );
        s.tp_vp = vp;
        s.tp_srr = true;
        s.tp_rd = true;
        hex::encode_upper(Tpdu::Submit(s).encode().unwrap())
    };
    let enhanced = submit(
        Some(ValidityPeriod::Enhanced([0x42, 0x78, 0, 0, 0, 0, 0])),
        Dcs::GSM7,
    );
    let absolute = submit(
        Some(ValidityPeriod::Absolute(ts("2026-12-01T00:00:00-03:00"))),
        Dcs(0xD8),
    );
    let report = Tpdu::StatusReport(StatusReport {
        tp_mms: false,
        tp_lp: false,
        tp_srq: false,
        tp_mr: 0x42,
        tp_ra: Address::parse("+447700900123"),
        tp_scts: ts("2026-11-23T10:15:30+08:00"),
        tp_dt: ts("2026-11-23T10:16:00+08:00"),
        tp_st: Status(0x62),
        tp_pi: Some(0x07),
        tp_pid: Some(smsbridge_protocol::sms::Pid(0)),
        tp_dcs: Some(Dcs::UCS2),
        tp_ud: Some(UserData::ucs2(
            "ok",
            Some(Udh {
                elements: vec![InformationElement::Other {
                    iei: 0x70,
                    data: vec![1, 2],
                }],
            }),
        )),
    });
    let report = hex::encode_upper(report.encode().unwrap());

    let (_, out) = run(&["pdu", "decode", "tpdu", &enhanced]);
    let v = json(&out);
    assert_eq!(v["tp_vpf"], 1);
    assert_eq!(v["tp_rd"], true);
    assert_eq!(v["tp_srr"], true);
    assert_eq!(v["tp_vp"]["enhanced"], "42780000000000");
    assert_eq!(v["tp_vp"]["single_shot"], true);
    assert_eq!(v["tp_vp"]["format"], "seconds");
    assert_eq!(v["tp_vp"]["seconds"], 0x78);

    let (_, out) = run(&["pdu", "decode", "tpdu", &absolute]);
    let v = json(&out);
    assert_eq!(v["tp_vpf"], 3);
    assert_eq!(v["tp_vp"], "2026-12-01T00:00:00-03:00");
    assert_eq!(v["dcs"]["group"], "message_waiting_store");
    assert_eq!(v["dcs"]["active"], true);
    assert_eq!(v["dcs"]["indication"], "voicemail");

    let (_, out) = run(&["pdu", "decode", "tpdu", &report]);
    let v = json(&out);
    assert_eq!(v["tp_st"], 0x62);
    assert_eq!(v["status"]["kind"], "temporary_error_not_trying");
    assert_eq!(v["status"]["description"], "no response from SME");
    assert_eq!(v["tp_pi"], 7);
    assert_eq!(v["tp_dcs"], 8);
    assert_eq!(v["tp_udhi"], true);
    assert_eq!(v["udh"][0]["iei"], 0x70);
    assert_eq!(v["udh"][0]["data"], "0102");
    assert_eq!(v["text"], "ok");

    for hex_in in [&enhanced, &absolute, &report] {
        let (_, out) = run(&["pdu", "decode", "tpdu", hex_in]);
        let (code, back) = run(&["pdu", "encode", "tpdu", out.trim()]);
        assert_eq!(code, 0, "{back}");
        assert_eq!(back.trim(), hex_in.as_str());
    }
}
