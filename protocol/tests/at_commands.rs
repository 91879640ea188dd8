//! AT command builders: the bytes on the wire, the kind (for timeouts) and what answer each expects.

use std::time::Duration;

use smsbridge_protocol::at::{
    CmeeMode, Cnmi, Command, CommandError, CommandKind, ListFilter, MessageFormat, errors,
};

#[test]
fn wire_bytes_and_kinds() {
    let cases: Vec<(Command, &[u8], CommandKind)> = vec![
        (Command::at(), b"AT\r", CommandKind::Basic),
        (Command::reset(), b"ATZ\r", CommandKind::Reset),
        (Command::echo(false), b"ATE0\r", CommandKind::Basic),
        (
            Command::cmee(CmeeMode::Verbose),
            b"AT+CMEE=2\r",
            CommandKind::Basic,
        ),
        (Command::cpin_query(), b"AT+CPIN?\r", CommandKind::Sim),
        (
            Command::cpin_enter("0000").unwrap(),
            b"AT+CPIN=\"0000\"\r",
            CommandKind::Sim,
        ),
        (
            Command::cpin_unblock("12345678", "1234").unwrap(),
            b"AT+CPIN=\"12345678\",\"1234\"\r",
            CommandKind::Sim,
        ),
        (
            Command::cmgf(MessageFormat::Pdu),
            b"AT+CMGF=0\r",
            CommandKind::SmsConfig,
        ),
        (Command::csca_query(), b"AT+CSCA?\r", CommandKind::SmsConfig),
        (
            Command::csca_set("+31653131313", Some(145)).unwrap(),
            b"AT+CSCA=\"+31653131313\",145\r",
            CommandKind::SmsConfig,
        ),
        (Command::csms(1), b"AT+CSMS=1\r", CommandKind::SmsConfig),
        (
            Command::cnmi(Cnmi {
                mode: 2,
                mt: 2,
                bm: 0,
                ds: 1,
                bfr: 0,
            }),
            b"AT+CNMI=2,2,0,1,0\r",
            CommandKind::SmsConfig,
        ),
        (
            Command::cpms("SM", Some("SM"), Some("SM")).unwrap(),
            b"AT+CPMS=\"SM\",\"SM\",\"SM\"\r",
            CommandKind::SmsConfig,
        ),
        (Command::cpms_query(), b"AT+CPMS?\r", CommandKind::SmsConfig),
        (Command::cmgr(7), b"AT+CMGR=7\r", CommandKind::SmsStorage),
        (
            Command::cmgl_pdu(ListFilter::All),
            b"AT+CMGL=4\r",
            CommandKind::SmsStorage,
        ),
        (
            Command::cmgl_text(ListFilter::RecUnread),
            b"AT+CMGL=\"REC UNREAD\"\r",
            CommandKind::SmsStorage,
        ),
        (
            Command::cmgd(3, None),
            b"AT+CMGD=3\r",
            CommandKind::SmsStorage,
        ),
        (
            Command::cmgd(1, Some(4)),
            b"AT+CMGD=1,4\r",
            CommandKind::SmsStorage,
        ),
        (Command::cnma(), b"AT+CNMA\r", CommandKind::SmsAck),
        (Command::csq(), b"AT+CSQ\r", CommandKind::Basic),
        (Command::creg_set(2), b"AT+CREG=2\r", CommandKind::Basic),
        (Command::creg_query(), b"AT+CREG?\r", CommandKind::Network),
        (Command::cops_query(), b"AT+COPS?\r", CommandKind::Network),
        (Command::cgsn(), b"AT+CGSN\r", CommandKind::Basic),
        (Command::cimi(), b"AT+CIMI\r", CommandKind::Sim),
        (Command::ccid(), b"AT+CCID\r", CommandKind::Sim),
        (
            Command::cusd(1, Some("*100#"), Some(15)).unwrap(),
            b"AT+CUSD=1,\"*100#\",15\r",
            CommandKind::Ussd,
        ),
        (Command::cusd_query(), b"AT+CUSD?\r", CommandKind::Basic),
    ];
    for (cmd, bytes, kind) in cases {
        assert_eq!(cmd.bytes(), bytes, "{}", cmd.line());
        assert_eq!(cmd.kind(), kind, "{}", cmd.line());
        assert!(cmd.kind().suggested_timeout() >= Duration::from_secs(1));
    }
}

#[test]
fn send_expects_prompt_and_counts_tpdu_only() {
    let tpdu = hex::decode("11000B911326880736F40000A70568656C6C6F").unwrap();
    let sca = hex::decode("07911326040000F0").unwrap();
    let send = Command::cmgs_pdu(Some(&sca), &tpdu).unwrap();
    assert_eq!(
        send.command.bytes(),
        format!("AT+CMGS={}\r", tpdu.len()).as_bytes()
    );
    assert!(send.command.expect().prompt);
    assert_eq!(send.command.kind(), CommandKind::SmsSend);
    let mut want = b"07911326040000F011000B911326880736F40000A70568656C6C6F".to_vec();
    want.push(0x1A);
    assert_eq!(send.body, want);
    let text = Command::cmgs_text("+31612345678", Some(145), b"hi").unwrap();
    assert_eq!(text.command.bytes(), b"AT+CMGS=\"+31612345678\",145\r");
    assert_eq!(text.body, b"hi\x1a");
    assert!(Command::cmgs_text("+316", None, b"a\x1ab").is_err());
    assert!(matches!(
        Command::cmgs_pdu(None, &[]),
        Err(CommandError::BadPdu { .. })
    ));
}

#[test]
fn invalid_values_are_refused() {
    assert!(matches!(
        Command::cpin_enter("12"),
        Err(CommandError::BadPin { .. })
    ));
    assert!(matches!(
        Command::cpin_unblock("1234567", "12345"),
        Err(CommandError::BadPin { field: "puk" })
    ));
    assert!(Command::cpin_unblock("12345678", "12345").is_ok());
    assert!(matches!(
        Command::csca_set("", None),
        Err(CommandError::BadNumber { .. })
    ));
    assert!(matches!(
        Command::cusd(1, Some("*1\"#"), None),
        Err(CommandError::BadString { .. })
    ));
    assert!(Command::cpms("sm", None, None).is_err());
    assert!(Command::other("+QCFG=\"x\"\r", CommandKind::Basic, Command::at().expect()).is_err());
}

#[test]
fn error_tables() {
    assert_eq!(errors::cms_meaning(332), Some("network timeout"));
    assert_eq!(errors::cms_meaning(530), Some("manufacturer specific"));
    assert_eq!(errors::cme_meaning(14), Some("SIM busy"));
    assert_eq!(errors::cms_code("(U)SIM busy"), Some(314));
    assert_eq!(errors::cms_code("SIM busy"), Some(314));
    assert_eq!(errors::cme_code("Incorrect password"), Some(16));
    use errors::Retry::{Permanent, Transient};
    for (code, want) in [
        (14, Transient),
        (16, Permanent),
        (10, Permanent),
        (30, Transient),
        (100, Transient),
    ] {
        assert_eq!(errors::cme_retry(code), want, "CME {code}");
    }
    for (code, want) in [
        (314, Transient),
        (332, Transient),
        (322, Transient),
        (500, Transient),
        (304, Permanent),
        (330, Permanent),
        (1, Permanent),
        (42, Transient),
        (197, Permanent),
    ] {
        assert_eq!(errors::cms_retry(code), want, "CMS {code}");
    }
}
