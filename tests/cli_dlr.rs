//! `smsbridge pdu decode dlr` run as a process.

use std::process::Command;

use serde_json::Value;

fn run(text: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(["pdu", "decode", "dlr", text])
        .output()
        .expect("run smsbridge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn decodes_a_standard_receipt() {
    let (code, stdout) = run(
        "id:0123456789 sub:001 dlvrd:001 submit date:2301311259 done date:230131130005 stat:DELIVRD err:000 text:Hello world",
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["id"], "0123456789");
    assert_eq!(v["sub"], "001");
    assert_eq!(v["dlvrd"], "001");
    assert_eq!(v["submit_date"], "2301311259");
    assert_eq!(v["done_date"], "230131130005");
    assert_eq!(v["stat"], "DELIVRD");
    assert_eq!(v["err"], "000");
    assert_eq!(v["text"], "Hello world");
    assert_eq!(v["state"], "delivered");
    assert_eq!(v["final"], true);
    assert_eq!(v["sub_count"], 1);
    assert_eq!(v["done_date_value"]["second"], 5);
    assert_eq!(v["submit_date_value"]["year"], 2023);
}

#[test]
fn absent_fields_are_null() {
    let (code, stdout) = run("ID:7f3a stat:undeliverable");
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["id"], "7f3a");
    assert_eq!(v["state"], "undeliverable");
    assert_eq!(v["text"], Value::Null);
    assert_eq!(v["err"], Value::Null);
    assert_eq!(v["id_form"], "hex");
}

#[test]
fn not_a_receipt_exits_1() {
    let (code, stdout) = run("Your verification code is 1234");
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
}
