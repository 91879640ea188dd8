//! `smsbridge pdu decode|encode smpp` run as a user would: real hex in, JSON lines and exit codes out.

use std::process::{Command, Output};

use serde_json::Value;

const SUBMIT_SM: &str = "00000060000000040000000000000001434d54000101343437373030393030303031000101343437373030393030303032000000000000010000001448656c6c6f2066726f6d20736d73627269646765020c00021234020e000102020f000101";
const DELIVER_SM_RECEIPT: &str = "000000b3000000050000000000000002000101343437373030393030303032000101343437373030393030303031000400000000000000006569643a4d534731207375623a30303120646c7672643a303031207375626d697420646174653a3235303130313132303020646f6e6520646174653a3235303130313132303120737461743a44454c49565244206572723a30303020746578743a48656c6c6f001e00054d53473100042700010204230003030000";
const SUBMIT_MULTI: &str = "0000003f0000002100000000000000030005004252414e4400020101013434373730303930303030330002667269656e647300000000000000000000026869";
const BIND_TRANSCEIVER_RESP_NO_BODY: &str = "00000010800000090000000e00000004";
const SUBMIT_SM_RESP_THROTTLED: &str = "00000010800000040000005800000005";
const SUBMIT_MULTI_RESP: &str =
    "000000298000002100000000000000034d49443300010101343437373030393030303033000000000b";
const UNKNOWN_COMMAND: &str = "00000013000009990000000000000006010203";
const ENQUIRE_LINK: &str = "00000010000000150000000000000007";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(args)
        .output()
        .expect("run smsbridge")
}

fn decode(hex: &str) -> (Vec<Value>, i32) {
    let out = run(&["pdu", "decode", "smpp", hex]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (lines, out.status.code().unwrap())
}

fn encode(json: &str) -> (String, String, i32) {
    let out = run(&["pdu", "encode", "smpp", json]);
    (
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn submit_sm_fields_by_spec_name() {
    let (lines, code) = decode(SUBMIT_SM);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 1);
    let p = &lines[0];
    assert_eq!(p["command_length"], 96);
    assert_eq!(p["command_id"], 4);
    assert_eq!(p["command"], "submit_sm");
    assert_eq!(p["command_status"], 0);
    assert_eq!(p["command_status_name"], "ESME_ROK");
    assert_eq!(p["sequence_number"], 1);
    assert_eq!(p["service_type"], "CMT");
    assert_eq!(p["source_addr_ton"], 1);
    assert_eq!(p["source_addr"], "447700900001");
    assert_eq!(p["destination_addr"], "447700900002");
    assert_eq!(p["registered_delivery"], 1);
    assert_eq!(p["schedule_delivery_time"], "");
    assert_eq!(p["sm_length"], 20);
    assert_eq!(p["short_message"], hex::encode("Hello from smsbridge"));
    assert_eq!(p["tlvs"]["0x020c"], "1234");
    assert_eq!(p["tlvs"]["0x020e"], "02");
    assert_eq!(p["tlvs"]["0x020f"], "01");
}

#[test]
fn receipt_multi_and_responses() {
    let all = [
        DELIVER_SM_RECEIPT,
        SUBMIT_MULTI,
        BIND_TRANSCEIVER_RESP_NO_BODY,
        SUBMIT_SM_RESP_THROTTLED,
        SUBMIT_MULTI_RESP,
    ]
    .join(" ");
    let (lines, code) = decode(&all);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["command"], "deliver_sm");
    assert_eq!(lines[0]["esm_class"], 4);
    assert_eq!(lines[0]["tlvs"]["0x001e"], hex::encode("MSG1\0"));
    assert_eq!(lines[0]["tlvs"]["0x0427"], "02");
    assert_eq!(lines[0]["tlvs"]["0x0423"], "030000");

    let m = &lines[1];
    assert_eq!(m["number_of_dests"], 2);
    assert_eq!(m["dest_address"][0]["dest_flag"], 1);
    assert_eq!(m["dest_address"][0]["destination_addr"], "447700900003");
    assert_eq!(m["dest_address"][1]["dest_flag"], 2);
    assert_eq!(m["dest_address"][1]["dl_name"], "friends");
    assert_eq!(m["short_message"], "6869");

    // Error response without body: the body fields are absent, not empty.
    let b = &lines[2];
    assert_eq!(b["command"], "bind_transceiver_resp");
    assert_eq!(b["command_status_name"], "ESME_RINVPASWD");
    assert!(b.get("system_id").is_none(), "{b}");
    assert_eq!(lines[3]["command_status_name"], "ESME_RTHROTTLED");
    assert!(lines[3].get("message_id").is_none());

    let r = &lines[4];
    assert_eq!(r["message_id"], "MID3");
    assert_eq!(r["no_unsuccess"], 1);
    assert_eq!(r["unsuccess_sme"][0]["destination_addr"], "447700900003");
    assert_eq!(r["unsuccess_sme"][0]["error_status_code"], 11);
}

#[test]
fn malformed_pdu_reports_status_and_decoding_continues() {
    let (lines, code) = decode(&format!("{UNKNOWN_COMMAND}{ENQUIRE_LINK}"));
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2);
    let e = &lines[0];
    assert!(
        e["error"].as_str().unwrap().contains("unknown command_id"),
        "{e}"
    );
    assert_eq!(e["command_status"], 3);
    assert_eq!(e["command_status_name"], "ESME_RINVCMDID");
    assert_eq!(e["consumed_octets"], 19);
    assert_eq!(e["sequence_number"], 6);
    assert_eq!(lines[1]["command"], "enquire_link");
    assert_eq!(lines[1]["sequence_number"], 7);

    // sm_length past the end of the PDU.
    let bad = "0000002100000004000000000000000900000000000000000000000000000000ff";
    let bad = bad.replacen("ff", "0a", 1);
    let (lines, code) = decode(&format!("{bad}{ENQUIRE_LINK}"));
    assert_eq!(code, 1);
    assert_eq!(
        lines[0]["command_status_name"], "ESME_RINVMSGLEN",
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["consumed_octets"], 33);
    assert_eq!(lines[1]["command"], "enquire_link");

    // command_length out of range: out of sync, nothing after it is decoded.
    let (lines, code) = decode(&format!("0000000f00000015000000000000000a{ENQUIRE_LINK}"));
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["command_status_name"], "ESME_RINVCMDLEN");
    assert_eq!(lines[0]["in_sync"], false);
}

#[test]
fn incomplete_bytes() {
    let cut = &SUBMIT_SM[..SUBMIT_SM.len() - 10];
    let (lines, code) = decode(&format!("{ENQUIRE_LINK}{cut}"));
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["command"], "enquire_link");
    assert_eq!(lines[1]["incomplete"], true);
    assert_eq!(lines[1]["needed"], 5);
}

#[test]
fn hex_with_spaces_and_colons() {
    let spaced: Vec<String> = ENQUIRE_LINK
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let (lines, code) = decode(&spaced.join(":"));
    assert_eq!(code, 0);
    assert_eq!(lines[0]["sequence_number"], 7);
    let (lines, _) = decode(&spaced.join(" "));
    assert_eq!(lines[0]["command"], "enquire_link");
}

#[test]
fn decode_then_encode_gives_the_same_hex() {
    for hex in [
        SUBMIT_SM,
        DELIVER_SM_RECEIPT,
        SUBMIT_MULTI,
        BIND_TRANSCEIVER_RESP_NO_BODY,
        SUBMIT_SM_RESP_THROTTLED,
        SUBMIT_MULTI_RESP,
        ENQUIRE_LINK,
    ] {
        let out = run(&["pdu", "decode", "smpp", hex]);
        let json = String::from_utf8(out.stdout).unwrap();
        let (back, err, code) = encode(&json);
        assert_eq!(code, 0, "{err}");
        assert_eq!(back, hex);
    }
    // Several PDUs at once, as decode prints them.
    let all = format!("{SUBMIT_SM}{DELIVER_SM_RECEIPT}{SUBMIT_MULTI_RESP}");
    let json = String::from_utf8(run(&["pdu", "decode", "smpp", &all]).stdout).unwrap();
    assert_eq!(encode(&json).0, all);
}

#[test]
fn repeated_tags_and_non_utf8_strings_survive() {
    // submit_sm with source_addr "\xff1" and the same TLV tag twice around another one.
    let json = r#"{"command":"submit_sm","sequence_number":9,"source_addr":{"hex":"ff31"},"destination_addr":"1",
        "short_message":"","tlvs":[{"0x1401":"01"},{"0x0424":"abcd"},{"0x1401":"02"}]}"#;
    let (hex, err, code) = encode(json);
    assert_eq!(code, 0, "{err}");
    assert!(hex.contains("ff3100"), "{hex}");
    assert!(
        hex.ends_with("140100010104240002abcd1401000102"),
        "TLVs in order, repeats kept: {hex}"
    );
    let (lines, code) = decode(&hex);
    assert_eq!(code, 0);
    assert_eq!(lines[0]["source_addr"]["hex"], "ff31");
    assert_eq!(lines[0]["tlvs"][0]["0x1401"], "01");
    assert_eq!(lines[0]["tlvs"][1]["0x0424"], "abcd");
    assert_eq!(lines[0]["tlvs"][2]["0x1401"], "02");
    let again = String::from_utf8(run(&["pdu", "decode", "smpp", &hex]).stdout).unwrap();
    assert_eq!(encode(&again).0, hex);
}

#[test]
fn bad_json_names_the_field() {
    let (_, err, code) =
        encode(r#"{"command":"submit_sm","sequence_number":1,"destination_address":"1"}"#);
    assert_eq!(code, 2);
    assert!(err.contains("destination_address"), "{err}");
    let (_, err, code) =
        encode(r#"{"command":"submit_sm","sequence_number":1,"source_addr_ton":300}"#);
    assert_eq!(code, 2);
    assert!(err.contains("source_addr_ton"), "{err}");
    let (_, err, code) = encode(r#"{"command":"submit_sm"}"#);
    assert_eq!(code, 2);
    assert!(err.contains("sequence_number"), "{err}");
    let (_, err, code) = encode(
        r#"{"command":"submit_sm","sequence_number":1,"destination_addr":"123456789012345678901"}"#,
    );
    assert_eq!(code, 2);
    assert!(err.contains("destination_addr"), "{err}");
    let (_, err, code) =
        encode(r#"{"command":"submit_sm","sequence_number":1,"command_length":99}"#);
    assert_eq!(code, 2);
    assert!(err.contains("command_length"), "{err}");
    let (_, err, code) = encode(r#"{"command":"nope","sequence_number":1}"#);
    assert_eq!(code, 2);
    assert!(err.contains("command"), "{err}");
}
