//! `smsbridge at parse` run as a process on a real-looking modem transcript.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn run(transcript: &[u8]) -> (i32, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsbridge"))
        .args(["at", "parse"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run smsbridge");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(transcript)
        .expect("write transcript");
    let out = child.wait_with_output().expect("wait");
    let items = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (out.status.code().unwrap_or(-1), items)
}

const PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

#[test]
fn parses_a_modem_session() {
    let transcript = format!(
        "ATE1\r\r\nOK\r\nAT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",4\r\nAT+CMGR=4\r\r\n+CMGR: 0,,24\r\n{PDU}\r\n\r\nOK\r\n\
         AT+CMGS=19\r\r\n> 0011000B911326880736F40000A70568656C6C6F\x1a\r\n+CMGS: 7\r\n\r\n+CMS ERROR: 332\r\n\
         \r\n^RSSI:12\r\n\r\n+CUSD: 0,\"Balance 5\r\nEUR\",15\r\n"
    );
    let (code, items) = run(transcript.as_bytes());
    assert_eq!(code, 0);
    let types: Vec<&str> = items
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        types,
        [
            "echo", "final", "echo", "info", "final", "urc", "echo", "info", "final", "echo",
            "prompt", "echo", "info", "final", "urc", "urc"
        ]
    );
    assert_eq!(items[3]["command"], "+CSQ");
    assert_eq!(items[3]["rssi"], 21);
    assert_eq!(items[3]["ber"], 99);
    assert_eq!(items[5]["command"], "+CMTI");
    assert_eq!(items[5]["mem"], "SM");
    assert_eq!(items[5]["index"], 4);
    assert_eq!(items[7]["command"], "+CMGR");
    assert_eq!(items[7]["stat"], 0);
    assert_eq!(items[7]["length"], 24);
    assert_eq!(items[7]["pdu"], PDU);
    assert_eq!(items[12]["command"], "+CMGS");
    assert_eq!(items[12]["mr"], 7);
    assert_eq!(items[13]["result"], "+CMS ERROR");
    assert_eq!(items[13]["code"], 332);
    assert_eq!(items[13]["meaning"], "network timeout");
    assert_eq!(items[13]["retry"], "transient");
    assert_eq!(items[14]["command"], "^RSSI");
    assert_eq!(items[15]["command"], "+CUSD");
    assert_eq!(items[15]["m"], 0);
    assert_eq!(items[15]["str"], "Balance 5\nEUR");
    assert_eq!(items[15]["dcs"], 15);
}

#[test]
fn overlong_line_exits_1() {
    let mut transcript = vec![b'x'; 10_000];
    transcript.extend_from_slice(b"\r\nOK\r\n");
    let (code, items) = run(&transcript);
    assert_eq!(code, 1);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "error");
    assert_eq!(items[1]["result"], "OK");
}
