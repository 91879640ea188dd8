//! AT command builders: the bytes to write to the modem (ITU-T V.250 §5.1: `AT` + command + `\r`), the
//! [`CommandKind`] a driver times out by, and the [`Expect`] that tells the response parser what answer
//! to look for.

use std::time::Duration;

/// Ctrl-Z: ends the message body after the `> ` prompt of `+CMGS` (TS 27.005 §3.5.1, §4.3).
pub const CTRL_Z: u8 = 0x1A;
/// ESC: abandons the message body after the `> ` prompt (TS 27.005 §3.5.1).
pub const ESC: u8 = 0x1B;

/// What a command does, for per-kind timeouts in the driver. The durations are suggestions taken from what
/// modems need in practice; 27.007 sets none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// Answered by the modem itself at once (`AT`, `ATE0`, `+CMEE`, `+CSQ`, `+CGSN`, settings).
    Basic,
    /// `ATZ`: the modem reloads its profile.
    Reset,
    /// Reads or unlocks the SIM (`+CPIN`, `+CIMI`, `+CCID`); a SIM can take seconds after power-up.
    Sim,
    /// Asks the network registration state (`+CREG?`, `+COPS?`).
    Network,
    /// Message service settings that touch the SIM (`+CMGF`, `+CSCA`, `+CSMS`, `+CNMI`, `+CPMS`).
    SmsConfig,
    /// Reads, lists or deletes stored messages; `+CMGL` on a full SIM takes long.
    SmsStorage,
    /// Sends a message (`+CMGS` after the body): waits for the network's answer.
    SmsSend,
    /// Acknowledges a routed message (`+CNMA`); the network expects it within seconds.
    SmsAck,
    /// USSD: the network's answer comes as a `+CUSD` URC.
    Ussd,
}

impl CommandKind {
    /// How long to wait for the final result code.
    pub fn suggested_timeout(self) -> Duration {
        Duration::from_secs(match self {
            CommandKind::Basic => 3,
            CommandKind::Reset => 5,
            CommandKind::Sim => 10,
            CommandKind::Network => 10,
            CommandKind::SmsConfig => 10,
            CommandKind::SmsStorage => 30,
            CommandKind::SmsSend => 120,
            CommandKind::SmsAck => 5,
            CommandKind::Ussd => 60,
        })
    }
}

/// What answer a command is waiting for; given to [`super::AtParser::expect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The information response prefix (`+CREG`), when the answer has one.
    pub prefix: Option<&'static str>,
    /// The answer is bare lines without a prefix (`+CGSN`, `+CIMI`, `+CCID` on many modems).
    pub bare: bool,
    /// The command is a read (`?`): its `+CREG`/`+CUSD` answer is an information response, not a URC.
    pub query: bool,
    /// The command is answered with the `> ` prompt first (`+CMGS`).
    pub prompt: bool,
}

impl Expect {
    const NONE: Expect = Expect {
        prefix: None,
        bare: false,
        query: false,
        prompt: false,
    };

    fn prefix(prefix: &'static str) -> Expect {
        Expect {
            prefix: Some(prefix),
            ..Expect::NONE
        }
    }
}

/// Why a command cannot be built from the values given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A PIN is not 4 to 8 digits, or a PUK not 8 digits (TS 31.101 §9: PINs are 4-8 digits, PUKs 8).
    #[error("{field} must be 4 to 8 decimal digits (a PUK exactly 8)")]
    BadPin {
        /// `pin`, `puk` or `newpin`.
        field: &'static str,
    },
    /// A phone number holds characters other than `+`, digits, `*` and `#`, or is empty or too long.
    #[error("{field} must be 1 to 20 characters of `+0123456789*#`, got {value:?}")]
    BadNumber {
        /// The parameter.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// A string parameter holds a double quote, a control character or is too long.
    #[error(
        "{field} must not contain quotes or control characters and be at most {max} characters"
    )]
    BadString {
        /// The parameter.
        field: &'static str,
        /// Its limit.
        max: usize,
    },
    /// A PDU for `+CMGS` is empty, longer than 255 octets, or its SCA length octet does not match.
    #[error("PDU rejected: {reason}")]
    BadPdu {
        /// What is wrong.
        reason: &'static str,
    },
}

/// One command line to write, with its kind and expected answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    bytes: Vec<u8>,
    kind: CommandKind,
    expect: Expect,
}

/// `+CMEE` modes (TS 27.007 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmeeMode {
    /// Plain `ERROR`.
    Disabled = 0,
    /// `+CME ERROR: <n>` with a numeric code.
    Numeric = 1,
    /// `+CME ERROR: <text>` with a verbose text.
    Verbose = 2,
}

/// `+CMGF` message formats (TS 27.005 §3.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// PDU mode: TPDUs in hex.
    Pdu = 0,
    /// Text mode.
    Text = 1,
}

/// `+CMGL` filters (TS 27.005 §3.1: `<stat>`), written as a number in PDU mode and a string in text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// Received, not yet read.
    RecUnread = 0,
    /// Received, read.
    RecRead = 1,
    /// Stored, not sent.
    StoUnsent = 2,
    /// Stored, sent.
    StoSent = 3,
    /// Everything.
    All = 4,
}

impl ListFilter {
    /// The text-mode name.
    pub fn text(self) -> &'static str {
        match self {
            ListFilter::RecUnread => "REC UNREAD",
            ListFilter::RecRead => "REC READ",
            ListFilter::StoUnsent => "STO UNSENT",
            ListFilter::StoSent => "STO SENT",
            ListFilter::All => "ALL",
        }
    }
}

/// `+CNMI` settings (TS 27.005 §3.4.1): how new messages and status reports are indicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cnmi {
    /// `<mode>`: 2 = buffer URCs while the link is busy, flush them afterwards.
    pub mode: u8,
    /// `<mt>`: 1 = `+CMTI` (stored), 2 = `+CMT` (routed, needs `+CNMA` with `+CSMS=1`).
    pub mt: u8,
    /// `<bm>`: cell broadcast.
    pub bm: u8,
    /// `<ds>`: 1 = `+CDS` status reports, 2 = `+CDSI` (stored).
    pub ds: u8,
    /// `<bfr>`: 0 = flush buffered URCs when `<mode>` 1-3 is entered.
    pub bfr: u8,
}

fn check_pin(field: &'static str, pin: &str) -> Result<(), CommandError> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CommandError::BadPin { field })
    }
}

fn check_number(field: &'static str, number: &str) -> Result<(), CommandError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if !digits.is_empty()
        && digits.len() <= 20
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
    {
        Ok(())
    } else {
        Err(CommandError::BadNumber {
            field,
            value: number.to_owned(),
        })
    }
}

fn check_string(field: &'static str, s: &str, max: usize) -> Result<(), CommandError> {
    if s.len() <= max && !s.chars().any(|c| c == '"' || c.is_control()) {
        Ok(())
    } else {
        Err(CommandError::BadString { field, max })
    }
}

/// The 2-letter storage names of TS 27.005 §3.1 `<mem>` (`SM`, `ME`, `MT`, `BM`, `SR`, `TA`).
fn check_mem(mem: &str) -> Result<(), CommandError> {
    if mem.len() == 2 && mem.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(CommandError::BadString {
            field: "mem",
            max: 2,
        })
    }
}

fn hex_upper(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0F)]);
    }
}

impl Command {
    fn new(text: &str, kind: CommandKind, expect: Expect) -> Command {
        let mut bytes = Vec::with_capacity(text.len().saturating_add(3));
        bytes.extend_from_slice(b"AT");
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\r');
        Command {
            bytes,
            kind,
            expect,
        }
    }

    /// The bytes to write, ending in `\r`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The command line without `\r`, for logs.
    pub fn line(&self) -> &str {
        let line = self.bytes.strip_suffix(b"\r").unwrap_or(&self.bytes);
        std::str::from_utf8(line).unwrap_or("AT")
    }

    /// What it does, for its timeout.
    pub fn kind(&self) -> CommandKind {
        self.kind
    }

    /// What answer it waits for.
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// `AT`: is the modem there (V.250 §5.2.1).
    pub fn at() -> Command {
        Command::new("", CommandKind::Basic, Expect::NONE)
    }

    /// `ATZ`: reset to the stored profile (V.250 §6.1.1).
    pub fn reset() -> Command {
        Command::new("Z", CommandKind::Reset, Expect::NONE)
    }

    /// `ATE0` / `ATE1`: command echo off or on (V.250 §6.2.4).
    pub fn echo(on: bool) -> Command {
        Command::new(
            if on { "E1" } else { "E0" },
            CommandKind::Basic,
            Expect::NONE,
        )
    }

    /// `AT+CMEE=<n>`: how errors are reported (TS 27.007 §9.1).
    pub fn cmee(mode: CmeeMode) -> Command {
        Command::new(
            &format!("+CMEE={}", mode as u8),
            CommandKind::Basic,
            Expect::NONE,
        )
    }

    /// `AT+CPIN?`: whether the SIM wants a PIN (TS 27.007 §8.3).
    pub fn cpin_query() -> Command {
        Command::new(
            "+CPIN?",
            CommandKind::Sim,
            Expect {
                query: true,
                ..Expect::prefix("+CPIN")
            },
        )
    }

    /// `AT+CPIN="<pin>"`: enter the PIN (TS 27.007 §8.3).
    pub fn cpin_enter(pin: &str) -> Result<Command, CommandError> {
        check_pin("pin", pin)?;
        Ok(Command::new(
            &format!("+CPIN=\"{pin}\""),
            CommandKind::Sim,
            Expect::NONE,
        ))
    }

    /// `AT+CPIN="<puk>","<newpin>"`: unblock with the PUK and set a new PIN (TS 27.007 §8.3).
    pub fn cpin_unblock(puk: &str, new_pin: &str) -> Result<Command, CommandError> {
        if puk.len() != 8 {
            return Err(CommandError::BadPin { field: "puk" });
        }
        check_pin("puk", puk)?;
        check_pin("newpin", new_pin)?;
        Ok(Command::new(
            &format!("+CPIN=\"{puk}\",\"{new_pin}\""),
            CommandKind::Sim,
            Expect::NONE,
        ))
    }

    /// `AT+CMGF=<mode>`: PDU or text mode (TS 27.005 §3.2.3).
    pub fn cmgf(format: MessageFormat) -> Command {
        Command::new(
            &format!("+CMGF={}", format as u8),
            CommandKind::SmsConfig,
            Expect::NONE,
        )
    }

    /// `AT+CSCA?`: the service centre address (TS 27.005 §3.3.1).
    pub fn csca_query() -> Command {
        Command::new(
            "+CSCA?",
            CommandKind::SmsConfig,
            Expect {
                query: true,
                ..Expect::prefix("+CSCA")
            },
        )
    }

    /// `AT+CSCA="<sca>"[,<tosca>]`: set the service centre address (TS 27.005 §3.3.1).
    pub fn csca_set(sca: &str, tosca: Option<u8>) -> Result<Command, CommandError> {
        check_number("sca", sca)?;
        let text = match tosca {
            Some(t) => format!("+CSCA=\"{sca}\",{t}"),
            None => format!("+CSCA=\"{sca}\""),
        };
        Ok(Command::new(&text, CommandKind::SmsConfig, Expect::NONE))
    }

    /// `AT+CSMS=<service>`: message service (TS 27.005 §3.2.1); 1 makes `+CMT`/`+CDS` need `+CNMA`.
    pub fn csms(service: u8) -> Command {
        Command::new(
            &format!("+CSMS={service}"),
            CommandKind::SmsConfig,
            Expect::prefix("+CSMS"),
        )
    }

    /// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: new message indications (TS 27.005 §3.4.1).
    pub fn cnmi(c: Cnmi) -> Command {
        Command::new(
            &format!("+CNMI={},{},{},{},{}", c.mode, c.mt, c.bm, c.ds, c.bfr),
            CommandKind::SmsConfig,
            Expect::NONE,
        )
    }

    /// `AT+CPMS="<mem1>"[,"<mem2>"[,"<mem3>"]]`: preferred storages (TS 27.005 §3.2.2).
    pub fn cpms(
        mem1: &str,
        mem2: Option<&str>,
        mem3: Option<&str>,
    ) -> Result<Command, CommandError> {
        check_mem(mem1)?;
        let mut text = format!("+CPMS=\"{mem1}\"");
        if let Some(m2) = mem2 {
            check_mem(m2)?;
            text.push_str(&format!(",\"{m2}\""));
            if let Some(m3) = mem3 {
                check_mem(m3)?;
                text.push_str(&format!(",\"{m3}\""));
            }
        }
        Ok(Command::new(
            &text,
            CommandKind::SmsConfig,
            Expect::prefix("+CPMS"),
        ))
    }

    /// `AT+CPMS?`: storages with used and total counts (TS 27.005 §3.2.2).
    pub fn cpms_query() -> Command {
        Command::new(
            "+CPMS?",
            CommandKind::SmsConfig,
            Expect {
                query: true,
                ..Expect::prefix("+CPMS")
            },
        )
    }

    /// `AT+CMGS=<length>` in PDU mode (TS 27.005 §3.5.1, §4.3), and the body to write after the `> `
    /// prompt: the SCA and TPDU in hex, then Ctrl-Z. `sca` is the encoded service centre address
    /// (length octet, type of address, BCD digits); `None` writes `00`, the SIM's `+CSCA` default. The
    /// length the command carries counts the TPDU's octets only, without the SCA.
    pub fn cmgs_pdu(sca: Option<&[u8]>, tpdu: &[u8]) -> Result<SendPdu, CommandError> {
        if tpdu.is_empty() || tpdu.len() > 255 {
            return Err(CommandError::BadPdu {
                reason: "the TPDU must be 1 to 255 octets",
            });
        }
        let sca: &[u8] = match sca {
            Some(s) => {
                let declared = s.first().map(|&n| usize::from(n));
                if declared != Some(s.len().saturating_sub(1)) {
                    return Err(CommandError::BadPdu {
                        reason: "the SCA length octet does not match the SCA",
                    });
                }
                s
            }
            None => &[0],
        };
        let mut body = Vec::with_capacity(
            (sca.len().saturating_add(tpdu.len()))
                .saturating_mul(2)
                .saturating_add(1),
        );
        hex_upper(sca, &mut body);
        hex_upper(tpdu, &mut body);
        body.push(CTRL_Z);
        Ok(SendPdu {
            command: Command::new(
                &format!("+CMGS={}", tpdu.len()),
                CommandKind::SmsSend,
                Expect {
                    prompt: true,
                    ..Expect::prefix("+CMGS")
                },
            ),
            body,
        })
    }

    /// [`Command::cmgs_pdu`] for a PDU that already starts with its SCA (as in `+CMGR` answers): the first
    /// octet is the SCA's length.
    pub fn cmgs_pdu_with_sca(pdu: &[u8]) -> Result<SendPdu, CommandError> {
        let sca_len = pdu.first().map(|&n| usize::from(n).saturating_add(1));
        match sca_len.and_then(|n| Some((pdu.get(..n)?, pdu.get(n..)?))) {
            Some((sca, tpdu)) => Command::cmgs_pdu(Some(sca), tpdu),
            None => Err(CommandError::BadPdu {
                reason: "the PDU is shorter than its SCA",
            }),
        }
    }

    /// `AT+CMGS="<da>"[,<toda>]` in text mode (TS 27.005 §3.5.1), and the text followed by Ctrl-Z.
    pub fn cmgs_text(da: &str, toda: Option<u8>, text: &[u8]) -> Result<SendPdu, CommandError> {
        check_number("da", da)?;
        if text.iter().any(|&b| b == CTRL_Z || b == ESC) {
            return Err(CommandError::BadString {
                field: "text",
                max: text.len(),
            });
        }
        let line = match toda {
            Some(t) => format!("+CMGS=\"{da}\",{t}"),
            None => format!("+CMGS=\"{da}\""),
        };
        let mut body = text.to_vec();
        body.push(CTRL_Z);
        Ok(SendPdu {
            command: Command::new(
                &line,
                CommandKind::SmsSend,
                Expect {
                    prompt: true,
                    ..Expect::prefix("+CMGS")
                },
            ),
            body,
        })
    }

    /// `AT+CMGR=<index>`: read a stored message (TS 27.005 §3.4.3).
    pub fn cmgr(index: u32) -> Command {
        Command::new(
            &format!("+CMGR={index}"),
            CommandKind::SmsStorage,
            Expect::prefix("+CMGR"),
        )
    }

    /// `AT+CMGL=<stat>` in PDU mode (TS 27.005 §3.4.2, §4.1).
    pub fn cmgl_pdu(filter: ListFilter) -> Command {
        Command::new(
            &format!("+CMGL={}", filter as u8),
            CommandKind::SmsStorage,
            Expect::prefix("+CMGL"),
        )
    }

    /// `AT+CMGL="<stat>"` in text mode (TS 27.005 §3.4.2).
    pub fn cmgl_text(filter: ListFilter) -> Command {
        Command::new(
            &format!("+CMGL=\"{}\"", filter.text()),
            CommandKind::SmsStorage,
            Expect::prefix("+CMGL"),
        )
    }

    /// `AT+CMGD=<index>[,<delflag>]`: delete stored messages (TS 27.005 §3.5.4).
    pub fn cmgd(index: u32, delflag: Option<u8>) -> Command {
        let text = match delflag {
            Some(f) => format!("+CMGD={index},{f}"),
            None => format!("+CMGD={index}"),
        };
        Command::new(&text, CommandKind::SmsStorage, Expect::NONE)
    }

    /// `AT+CNMA`: acknowledge a `+CMT`/`+CDS` routed to us (TS 27.005 §3.4.4), required with `+CSMS=1`.
    pub fn cnma() -> Command {
        Command::new("+CNMA", CommandKind::SmsAck, Expect::NONE)
    }

    /// `AT+CSQ`: signal quality (TS 27.007 §8.5).
    pub fn csq() -> Command {
        Command::new("+CSQ", CommandKind::Basic, Expect::prefix("+CSQ"))
    }

    /// `AT+CREG=<n>`: registration URCs off (0), `+CREG: <stat>` (1), with location (2) (TS 27.007 §7.2).
    pub fn creg_set(n: u8) -> Command {
        Command::new(&format!("+CREG={n}"), CommandKind::Basic, Expect::NONE)
    }

    /// `AT+CREG?`: registration state (TS 27.007 §7.2).
    pub fn creg_query() -> Command {
        Command::new(
            "+CREG?",
            CommandKind::Network,
            Expect {
                query: true,
                ..Expect::prefix("+CREG")
            },
        )
    }

    /// `AT+CGREG?`: GPRS registration state (TS 27.007 §10.1.20).
    pub fn cgreg_query() -> Command {
        Command::new(
            "+CGREG?",
            CommandKind::Network,
            Expect {
                query: true,
                ..Expect::prefix("+CGREG")
            },
        )
    }

    /// `AT+CEREG?`: EPS registration state (TS 27.007 §10.1.22).
    pub fn cereg_query() -> Command {
        Command::new(
            "+CEREG?",
            CommandKind::Network,
            Expect {
                query: true,
                ..Expect::prefix("+CEREG")
            },
        )
    }

    /// `AT+COPS?`: the current operator (TS 27.007 §7.3).
    pub fn cops_query() -> Command {
        Command::new(
            "+COPS?",
            CommandKind::Network,
            Expect {
                query: true,
                ..Expect::prefix("+COPS")
            },
        )
    }

    /// `AT+CGSN`: the IMEI (TS 27.007 §5.4), a bare line on most modems.
    pub fn cgsn() -> Command {
        Command::new(
            "+CGSN",
            CommandKind::Basic,
            Expect {
                bare: true,
                ..Expect::prefix("+CGSN")
            },
        )
    }

    /// `AT+CIMI`: the IMSI (TS 27.007 §5.6), a bare line.
    pub fn cimi() -> Command {
        Command::new(
            "+CIMI",
            CommandKind::Sim,
            Expect {
                bare: true,
                ..Expect::prefix("+CIMI")
            },
        )
    }

    /// `AT+CCID`: the SIM's ICCID (vendor command; answered as `+CCID:`, `+ICCID:`, `^ICCID:` or bare).
    pub fn ccid() -> Command {
        Command::new(
            "+CCID",
            CommandKind::Sim,
            Expect {
                bare: true,
                ..Expect::prefix("+CCID")
            },
        )
    }

    /// `AT+CUSD=<n>[,"<str>"[,<dcs>]]`: send a USSD string (TS 27.007 §7.15); the answer is a `+CUSD` URC.
    pub fn cusd(n: u8, str: Option<&str>, dcs: Option<u8>) -> Result<Command, CommandError> {
        let mut text = format!("+CUSD={n}");
        if let Some(s) = str {
            check_string("str", s, 182)?;
            text.push_str(&format!(",\"{s}\""));
            if let Some(d) = dcs {
                text.push_str(&format!(",{d}"));
            }
        }
        Ok(Command::new(&text, CommandKind::Ussd, Expect::NONE))
    }

    /// `AT+CUSD?`: whether USSD result codes are enabled (TS 27.007 §7.15).
    pub fn cusd_query() -> Command {
        Command::new(
            "+CUSD?",
            CommandKind::Basic,
            Expect {
                query: true,
                ..Expect::prefix("+CUSD")
            },
        )
    }

    /// `AT+CLIP=<n>`: calling line identification URCs (TS 27.007 §7.6).
    pub fn clip(n: u8) -> Command {
        Command::new(&format!("+CLIP={n}"), CommandKind::Basic, Expect::NONE)
    }

    /// Any other command: `text` is written after `AT` (e.g. `+QCFG="urc/ri/smsincoming"`).
    pub fn other(text: &str, kind: CommandKind, expect: Expect) -> Result<Command, CommandError> {
        if text.chars().any(|c| c.is_control()) {
            return Err(CommandError::BadString {
                field: "command",
                max: text.len(),
            });
        }
        Ok(Command::new(text, kind, expect))
    }
}

/// A send command and the body to write after its `> ` prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPdu {
    /// `AT+CMGS=...\r`.
    pub command: Command,
    /// The PDU in hex (or the text), then Ctrl-Z.
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(Command::at().bytes(), b"AT\r");
        assert_eq!(Command::echo(false).bytes(), b"ATE0\r");
        assert_eq!(Command::cmee(CmeeMode::Numeric).bytes(), b"AT+CMEE=1\r");
        assert_eq!(
            Command::cpin_enter("1234").map(|c| c.bytes().to_vec()),
            Ok(b"AT+CPIN=\"1234\"\r".to_vec())
        );
        assert!(Command::cpin_enter("12a4").is_err());
        assert!(Command::cpin_enter("123").is_err());
        assert_eq!(
            Command::cnmi(Cnmi {
                mode: 2,
                mt: 1,
                bm: 0,
                ds: 2,
                bfr: 0
            })
            .bytes(),
            b"AT+CNMI=2,1,0,2,0\r"
        );
        assert_eq!(
            Command::cmgl_text(ListFilter::All).bytes(),
            b"AT+CMGL=\"ALL\"\r"
        );
        assert_eq!(
            Command::cusd(1, Some("*100#"), Some(15)).map(|c| c.bytes().to_vec()),
            Ok(b"AT+CUSD=1,\"*100#\",15\r".to_vec())
        );
        assert!(Command::csca_set("+31\"6", None).is_err());
    }

    #[test]
    fn cmgs_length_excludes_sca() {
        let tpdu = [0x11, 0x00, 0x0B, 0x91];
        let send = Command::cmgs_pdu(None, &tpdu).map_err(|e| e.to_string());
        assert_eq!(
            send.as_ref().map(|s| s.command.bytes().to_vec()),
            Ok(b"AT+CMGS=4\r".to_vec())
        );
        assert_eq!(send.map(|s| s.body), Ok(b"0011000B91\x1a".to_vec()));
        let with_sca = Command::cmgs_pdu_with_sca(&[0x02, 0x91, 0x13, 0x11, 0x00]);
        assert_eq!(
            with_sca.map(|s| (s.command.bytes().to_vec(), s.body)),
            Ok((b"AT+CMGS=2\r".to_vec(), b"0291131100\x1a".to_vec()))
        );
        assert!(Command::cmgs_pdu_with_sca(&[0x07, 0x91]).is_err());
        assert!(Command::cmgs_pdu(Some(&[0x02, 0x91]), &tpdu).is_err());
    }
}
