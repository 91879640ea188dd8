//! What the modem says: the items the streaming parser yields and the typed information responses and
//! unsolicited result codes of TS 27.007 and TS 27.005, with their parameters under the specs' names.

use super::errors::{ErrorCode, ErrorFamily, Retry};
use super::params::{Param, params};

/// One thing the modem said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A command line echoed back (`ATE1`), or the message body echoed after the `> ` prompt.
    Echo(String),
    /// A final result code: the command in flight is over (V.250 §5.7.1).
    Final(FinalResult),
    /// An information response to the command in flight.
    Info(Response),
    /// An unsolicited result code.
    Urc(Response),
    /// The `> ` prompt of `+CMGS`: write the body now (TS 27.005 §3.5.1).
    Prompt,
    /// Bytes that could not be taken as an item (a line over the limit); they were skipped.
    Error(StreamError),
}

impl Item {
    /// Whether this ends the command in flight.
    pub fn is_final(&self) -> bool {
        matches!(self, Item::Final(_))
    }

    /// The response of an [`Item::Info`] or [`Item::Urc`].
    pub fn response(&self) -> Option<&Response> {
        match self {
            Item::Info(r) | Item::Urc(r) => Some(r),
            _ => None,
        }
    }
}

/// Why bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A line (or a multi-line item) grew past the parser's limit; it was dropped up to its end.
    #[error("line longer than {limit} bytes skipped")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
}

/// A final result code (V.250 §5.7.1, TS 27.007 §9.2, TS 27.005 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalResult {
    /// `OK` (V0: `0`).
    Ok,
    /// `ERROR` (V0: `4`).
    Error,
    /// `+CME ERROR: <err>`.
    CmeError(ErrorCode),
    /// `+CMS ERROR: <err>`.
    CmsError(ErrorCode),
    /// `NO CARRIER` (V0: `3`).
    NoCarrier,
    /// `BUSY` (V0: `7`).
    Busy,
    /// `NO ANSWER` (V0: `8`).
    NoAnswer,
    /// `NO DIALTONE` (V0: `6`).
    NoDialtone,
    /// `CONNECT [<text>]` (V0: `1`).
    Connect(Option<String>),
}

impl FinalResult {
    /// `OK` (or `CONNECT`): the command succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, FinalResult::Ok | FinalResult::Connect(_))
    }

    /// The result text as the spec writes it (`OK`, `+CME ERROR`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FinalResult::Ok => "OK",
            FinalResult::Error => "ERROR",
            FinalResult::CmeError(_) => "+CME ERROR",
            FinalResult::CmsError(_) => "+CMS ERROR",
            FinalResult::NoCarrier => "NO CARRIER",
            FinalResult::Busy => "BUSY",
            FinalResult::NoAnswer => "NO ANSWER",
            FinalResult::NoDialtone => "NO DIALTONE",
            FinalResult::Connect(_) => "CONNECT",
        }
    }

    /// The extended error, with its table, for `+CME ERROR` / `+CMS ERROR`.
    pub fn error_code(&self) -> Option<(ErrorFamily, &ErrorCode)> {
        match self {
            FinalResult::CmeError(e) => Some((ErrorFamily::Cme, e)),
            FinalResult::CmsError(e) => Some((ErrorFamily::Cms, e)),
            _ => None,
        }
    }

    /// Whether retrying can help; `None` for success. A plain `ERROR` says nothing and counts as
    /// transient, bounded by the driver's retries.
    pub fn retry(&self) -> Option<Retry> {
        match self {
            FinalResult::Ok | FinalResult::Connect(_) => None,
            FinalResult::CmeError(e) => Some(e.retry(ErrorFamily::Cme)),
            FinalResult::CmsError(e) => Some(e.retry(ErrorFamily::Cms)),
            _ => Some(Retry::Transient),
        }
    }
}

/// `<stat>` of `+CREG`/`+CGREG`/`+CEREG`-family responses: which command it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `+CREG` (TS 27.007 §7.2): circuit-switched.
    Creg,
    /// `+CGREG` (§10.1.20): GPRS.
    Cgreg,
    /// `+CEREG` (§10.1.22): EPS.
    Cereg,
}

/// One of `<used>,<total>` per storage of a `+CPMS` answer (TS 27.005 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// `<mem1>`/`<mem2>`/`<mem3>` (in the read form only).
    pub mem: Option<String>,
    /// `<used>`.
    pub used: u32,
    /// `<total>`.
    pub total: u32,
}

/// An information response or an unsolicited result code, by its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+CSQ: <rssi>,<ber>` (TS 27.007 §8.5).
    Csq {
        /// 0-31 (-113 to -51 dBm), 99 unknown.
        rssi: u8,
        /// 0-7, 99 unknown.
        ber: u8,
    },
    /// `+CREG: [<n>,]<stat>[,<lac>,<ci>[,<act>]]` and its `+CGREG`/`+CEREG` twins (TS 27.007 §7.2).
    /// `n` is present in the read answer (information response) and absent in the URC.
    Creg {
        /// Which command.
        command: Registration,
        /// `<n>`: the URC setting.
        n: Option<u8>,
        /// `<stat>`: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming, ...
        stat: u8,
        /// `<lac>`: location area (or tracking area) code, hex as sent.
        lac: Option<String>,
        /// `<ci>`: cell id, hex as sent.
        ci: Option<String>,
        /// `<AcT>`: access technology.
        act: Option<u8>,
    },
    /// `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` (TS 27.007 §7.3).
    Cops {
        /// `<mode>`: 0 automatic, 1 manual, 2 deregistered, ...
        mode: u8,
        /// `<format>`: 0 long name, 1 short name, 2 numeric.
        format: Option<u8>,
        /// `<oper>`.
        oper: Option<String>,
        /// `<AcT>`.
        act: Option<u8>,
    },
    /// `+CPIN: <code>` (TS 27.007 §8.3): `READY`, `SIM PIN`, `SIM PUK`, ...
    Cpin {
        /// `<code>`.
        code: String,
    },
    /// `+CPMS: ...` (TS 27.005 §3.2.2): the read form names the storages, the set form only counts.
    Cpms {
        /// One per storage, `<mem1>` first.
        storages: Vec<Storage>,
    },
    /// `+CSCA: <sca>[,<tosca>]` (TS 27.005 §3.3.1).
    Csca {
        /// `<sca>`: the service centre number.
        sca: String,
        /// `<tosca>`: its type of address (145 international).
        tosca: Option<u8>,
    },
    /// `+CMGS: <mr>[,<ackpdu>|<scts>]` (TS 27.005 §3.5.1): the message reference of a sent message.
    Cmgs {
        /// `<mr>`: TP-Message-Reference.
        mr: u8,
        /// `<ackpdu>` (PDU mode) or `<scts>` (text mode), when the modem gives it.
        ackpdu: Option<String>,
    },
    /// `+CMGR: <stat>,[<alpha>],<length>` + the PDU line (TS 27.005 §3.4.3, PDU mode).
    CmgrPdu {
        /// `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
        stat: u8,
        /// `<alpha>`: phonebook name.
        alpha: Option<String>,
        /// `<length>`: TPDU octets.
        length: u16,
        /// The SCA + TPDU in hex, as sent; `None` if no hex line followed.
        pdu: Option<String>,
    },
    /// `+CMGR: <stat>,<oa/da>,[<alpha>][,<scts>...]` + text line(s) (TS 27.005 §3.4.3, text mode).
    CmgrText {
        /// `<stat>`: `REC UNREAD`, `REC READ`, `STO UNSENT`, `STO SENT`.
        stat: String,
        /// `<oa>` (received) or `<da>` (stored to send).
        oa: Option<String>,
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<scts>`: service centre time stamp.
        scts: Option<String>,
        /// `<data>`: the text, lines joined with `\n`.
        data: String,
    },
    /// `+CMGL: <index>,<stat>,[<alpha>],<length>` + the PDU line (TS 27.005 §3.4.2, PDU mode).
    CmglPdu {
        /// `<index>` in the storage.
        index: u32,
        /// `<stat>`.
        stat: u8,
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<length>`.
        length: u16,
        /// The SCA + TPDU in hex; `None` if no hex line followed.
        pdu: Option<String>,
    },
    /// `+CMGL: <index>,<stat>,<oa/da>,[<alpha>],[<scts>]...` + text line(s) (TS 27.005 §3.4.2, text mode).
    CmglText {
        /// `<index>`.
        index: u32,
        /// `<stat>`.
        stat: String,
        /// `<oa>`/`<da>`.
        oa: Option<String>,
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<scts>`.
        scts: Option<String>,
        /// `<data>`.
        data: String,
    },
    /// `+CMTI: <mem>,<index>` (TS 27.005 §3.4.1): a message was stored.
    Cmti {
        /// `<mem>`: the storage (`SM`, `ME`, ...).
        mem: String,
        /// `<index>` in it.
        index: u32,
    },
    /// `+CMT: [<alpha>],<length>` + the PDU line (TS 27.005 §3.4.1, PDU mode): a message routed to us.
    CmtPdu {
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<length>`.
        length: u16,
        /// The SCA + TPDU in hex; `None` if no hex line followed.
        pdu: Option<String>,
    },
    /// `+CMT: <oa>,[<alpha>],<scts>...` + the text line (TS 27.005 §3.4.1, text mode).
    CmtText {
        /// `<oa>`.
        oa: String,
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<scts>`.
        scts: Option<String>,
        /// `<data>`: the one line that follows.
        data: String,
    },
    /// `+CDS: <length>` + the PDU line (TS 27.005 §3.4.1, PDU mode): a status report routed to us.
    CdsPdu {
        /// `<length>`.
        length: u16,
        /// The SCA + TPDU in hex; `None` if no hex line followed.
        pdu: Option<String>,
    },
    /// `+CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>` (TS 27.005 §3.4.1, text mode).
    CdsText {
        /// `<fo>`: first octet.
        fo: u8,
        /// `<mr>`: the reference of the message reported on.
        mr: u8,
        /// `<ra>`: recipient address.
        ra: Option<String>,
        /// `<tora>`.
        tora: Option<u8>,
        /// `<scts>`.
        scts: Option<String>,
        /// `<dt>`: discharge time.
        dt: Option<String>,
        /// `<st>`: TP-Status.
        st: u8,
    },
    /// `+CDSI: <mem>,<index>` (TS 27.005 §3.4.1): a status report was stored.
    Cdsi {
        /// `<mem>`.
        mem: String,
        /// `<index>`.
        index: u32,
    },
    /// `+CUSD: <m>[,<str>[,<dcs>]]` (TS 27.007 §7.15): the network's USSD answer, a URC.
    Cusd {
        /// `<m>`: 0 no further action, 1 further action required, 2 terminated by network, ...
        m: u8,
        /// `<str>`: the text (lines of a multi-line answer joined with `\n`).
        str: Option<String>,
        /// `<dcs>`: TS 23.038 data coding scheme of `str`.
        dcs: Option<u8>,
    },
    /// `+CUSD: <n>`: the read answer of `AT+CUSD?`.
    CusdSetting {
        /// `<n>`: 0 result codes disabled, 1 enabled.
        n: u8,
    },
    /// `RING` (V.250 §5.7.1): an incoming call.
    Ring,
    /// `+CLIP: <number>,<type>[,<subaddr>,<satype>[,<alpha>[,<CLI validity>]]]` (TS 27.007 §7.6).
    Clip {
        /// `<number>`.
        number: String,
        /// `<type>`: type of address (145 international, 129 unknown).
        type_of_address: u8,
        /// `<alpha>`.
        alpha: Option<String>,
        /// `<CLI validity>`.
        cli_validity: Option<u8>,
    },
    /// The IMEI after `AT+CGSN` (TS 27.007 §5.4).
    Cgsn {
        /// `<sn>`.
        sn: String,
    },
    /// The IMSI after `AT+CIMI` (TS 27.007 §5.6).
    Cimi {
        /// `<IMSI>`.
        imsi: String,
    },
    /// The ICCID after `AT+CCID` (`+CCID:`, `+ICCID:`, `^ICCID:`, `+QCCID:` or a bare line).
    Ccid {
        /// The ICCID as sent.
        iccid: String,
    },
    /// A prefixed line this parser has no type for (`+CMGF: 0`, `^RSSI: 12`, `+QIND: "SMS DONE"`).
    Generic {
        /// The prefix, upper-cased (`^RSSI`).
        command: String,
        /// The text after the colon, trimmed.
        params: String,
    },
    /// A line without a prefix (an answer of `ATI`, a vendor banner).
    Raw {
        /// The line.
        line: String,
    },
}

impl Response {
    /// The command name as the modem writes it (`+CSQ`); `RING`; empty for [`Response::Raw`].
    pub fn command(&self) -> &str {
        match self {
            Response::Csq { .. } => "+CSQ",
            Response::Creg { command, .. } => match command {
                Registration::Creg => "+CREG",
                Registration::Cgreg => "+CGREG",
                Registration::Cereg => "+CEREG",
            },
            Response::Cops { .. } => "+COPS",
            Response::Cpin { .. } => "+CPIN",
            Response::Cpms { .. } => "+CPMS",
            Response::Csca { .. } => "+CSCA",
            Response::Cmgs { .. } => "+CMGS",
            Response::CmgrPdu { .. } | Response::CmgrText { .. } => "+CMGR",
            Response::CmglPdu { .. } | Response::CmglText { .. } => "+CMGL",
            Response::Cmti { .. } => "+CMTI",
            Response::CmtPdu { .. } | Response::CmtText { .. } => "+CMT",
            Response::CdsPdu { .. } | Response::CdsText { .. } => "+CDS",
            Response::Cdsi { .. } => "+CDSI",
            Response::Cusd { .. } | Response::CusdSetting { .. } => "+CUSD",
            Response::Ring => "RING",
            Response::Clip { .. } => "+CLIP",
            Response::Cgsn { .. } => "+CGSN",
            Response::Cimi { .. } => "+CIMI",
            Response::Ccid { .. } => "+CCID",
            Response::Generic { command, .. } => command,
            Response::Raw { .. } => "",
        }
    }

    /// The PDU in hex of an item that carries one (`+CMGR`, `+CMGL`, `+CMT`, `+CDS` in PDU mode).
    pub fn pdu(&self) -> Option<&str> {
        match self {
            Response::CmgrPdu { pdu, .. }
            | Response::CmglPdu { pdu, .. }
            | Response::CmtPdu { pdu, .. }
            | Response::CdsPdu { pdu, .. } => pdu.as_deref(),
            _ => None,
        }
    }
}

fn text(p: Option<&Param<'_>>) -> Option<String> {
    p.and_then(|p| p.text()).map(str::to_owned)
}

fn u8_at(ps: &[Param<'_>], i: usize) -> Option<u8> {
    ps.get(i).and_then(|p| p.u8())
}

/// Parses a final result code line; `numeric` also takes V0 digits (V.250 §6.2.6).
pub(crate) fn final_result(line: &str, numeric: bool) -> Option<FinalResult> {
    let upper = line.to_ascii_uppercase();
    let fr = match upper.as_str() {
        "OK" => FinalResult::Ok,
        "ERROR" => FinalResult::Error,
        "NO CARRIER" => FinalResult::NoCarrier,
        "BUSY" => FinalResult::Busy,
        "NO ANSWER" => FinalResult::NoAnswer,
        "NO DIALTONE" | "NO DIAL TONE" => FinalResult::NoDialtone,
        "CONNECT" => FinalResult::Connect(None),
        "0" if numeric => FinalResult::Ok,
        "1" if numeric => FinalResult::Connect(None),
        "3" if numeric => FinalResult::NoCarrier,
        "4" if numeric => FinalResult::Error,
        "6" if numeric => FinalResult::NoDialtone,
        "7" if numeric => FinalResult::Busy,
        "8" if numeric => FinalResult::NoAnswer,
        _ => {
            if let Some(rest) = upper.strip_prefix("+CME ERROR") {
                let value = line.get(line.len().saturating_sub(rest.len())..)?;
                let value = value.trim_start().strip_prefix(':').unwrap_or(value);
                FinalResult::CmeError(ErrorCode::parse(ErrorFamily::Cme, value))
            } else if let Some(rest) = upper.strip_prefix("+CMS ERROR") {
                let value = line.get(line.len().saturating_sub(rest.len())..)?;
                let value = value.trim_start().strip_prefix(':').unwrap_or(value);
                FinalResult::CmsError(ErrorCode::parse(ErrorFamily::Cms, value))
            } else if let Some(rest) = upper.strip_prefix("CONNECT ") {
                let value = line.get(line.len().saturating_sub(rest.len())..)?;
                FinalResult::Connect(Some(value.trim().to_owned()))
            } else {
                return None;
            }
        }
    };
    Some(fr)
}

/// What a `+CMGR`/`+CMGL`/`+CMT`/`+CDS` header needs after it.
pub(crate) enum Follow {
    /// Nothing: the response is complete.
    Done(Response),
    /// One hex PDU line.
    Pdu(Response),
    /// Text-mode data: one line (`+CMT`) or lines up to the final result code / next `+CMGL`.
    Text { response: Response, one_line: bool },
}

/// The registration response, by shape: the read answer has `<n>` before a numeric `<stat>`; the URC
/// starts with `<stat>` and has a quoted `<lac>` second. Returns (response, is_read_answer).
fn registration(command: Registration, ps: &[Param<'_>]) -> Option<(Response, bool)> {
    let second_is_stat = ps
        .get(1)
        .is_some_and(|p| p.number().is_some_and(|n| n <= 255));
    let read_form = ps.len() >= 2 && second_is_stat && ps.len() != 3;
    let (n, rest) = if read_form {
        (u8_at(ps, 0), ps.get(1..)?)
    } else {
        (None, ps)
    };
    let stat = u8_at(rest, 0)?;
    Some((
        Response::Creg {
            command,
            n,
            stat,
            lac: text(rest.get(1)),
            ci: text(rest.get(2)),
            act: u8_at(rest, 3),
        },
        read_form,
    ))
}

/// Whether a response is an information response or a URC, and what follows it.
pub(crate) struct Classified {
    pub(crate) follow: Follow,
    pub(crate) urc: bool,
}

/// Parses a prefixed line. `in_flight` is the prefix of the command being answered (if known) and
/// whether it was a read (`?`).
pub(crate) fn prefixed_line(
    name: &str,
    params_text: &str,
    in_flight: Option<(&str, bool)>,
) -> Classified {
    let ps = params(params_text);
    let expecting = |p: &str| in_flight.is_some_and(|(f, _)| f == p);
    let generic = || Response::Generic {
        command: name.to_owned(),
        params: params_text.to_owned(),
    };
    let info = |r: Response| Classified {
        follow: Follow::Done(r),
        urc: false,
    };
    let urc = |r: Response| Classified {
        follow: Follow::Done(r),
        urc: true,
    };
    match name {
        "+CSQ" => info(match (u8_at(&ps, 0), u8_at(&ps, 1)) {
            (Some(rssi), Some(ber)) => Response::Csq { rssi, ber },
            _ => generic(),
        }),
        "+CREG" | "+CGREG" | "+CEREG" => {
            let command = match name {
                "+CGREG" => Registration::Cgreg,
                "+CEREG" => Registration::Cereg,
                _ => Registration::Creg,
            };
            match registration(command, &ps) {
                Some((r, read_form)) => Classified {
                    follow: Follow::Done(r),
                    urc: !read_form,
                },
                None => Classified {
                    follow: Follow::Done(generic()),
                    urc: !expecting(name),
                },
            }
        }
        "+COPS" => info(match u8_at(&ps, 0) {
            Some(mode) => Response::Cops {
                mode,
                format: u8_at(&ps, 1),
                oper: text(ps.get(2)),
                act: u8_at(&ps, 3),
            },
            None => generic(),
        }),
        "+CPIN" => {
            let r = Response::Cpin {
                code: params_text.trim().trim_matches('"').to_owned(),
            };
            // Many modems announce `+CPIN: READY` by themselves after start-up.
            if expecting("+CPIN") { info(r) } else { urc(r) }
        }
        "+CPMS" => {
            let mut storages = Vec::new();
            let mut i = 0usize;
            let named = ps.first().is_some_and(|p| p.is_quoted());
            loop {
                let (mem, at) = if named {
                    (text(ps.get(i)), i.saturating_add(1))
                } else {
                    (None, i)
                };
                match (
                    ps.get(at).and_then(|p| p.number()),
                    ps.get(at.saturating_add(1)).and_then(|p| p.number()),
                ) {
                    (Some(used), Some(total)) => storages.push(Storage { mem, used, total }),
                    _ => break,
                }
                i = at.saturating_add(2);
            }
            info(if storages.is_empty() {
                generic()
            } else {
                Response::Cpms { storages }
            })
        }
        "+CSCA" => info(match ps.first().and_then(|p| p.text()) {
            Some(sca) => Response::Csca {
                sca: sca.to_owned(),
                tosca: u8_at(&ps, 1),
            },
            None => generic(),
        }),
        "+CMGS" => info(match u8_at(&ps, 0) {
            Some(mr) => Response::Cmgs {
                mr,
                ackpdu: text(ps.get(1)),
            },
            None => generic(),
        }),
        "+CMGR" => {
            let follow = match ps.first() {
                Some(Param::Bare(_)) => match (u8_at(&ps, 0), ps.get(2).and_then(|p| p.u16())) {
                    (Some(stat), Some(length)) => Follow::Pdu(Response::CmgrPdu {
                        stat,
                        alpha: text(ps.get(1)),
                        length,
                        pdu: None,
                    }),
                    _ => Follow::Done(generic()),
                },
                Some(Param::Quoted(stat)) => Follow::Text {
                    response: Response::CmgrText {
                        stat: (*stat).to_owned(),
                        oa: text(ps.get(1)),
                        alpha: text(ps.get(2)),
                        scts: text(ps.get(3)),
                        data: String::new(),
                    },
                    one_line: false,
                },
                _ => Follow::Done(generic()),
            };
            Classified { follow, urc: false }
        }
        "+CMGL" => {
            let index = ps.first().and_then(|p| p.number());
            let follow = match (index, ps.get(1)) {
                (Some(index), Some(Param::Bare(_))) => {
                    match (u8_at(&ps, 1), ps.get(3).and_then(|p| p.u16())) {
                        (Some(stat), Some(length)) => Follow::Pdu(Response::CmglPdu {
                            index,
                            stat,
                            alpha: text(ps.get(2)),
                            length,
                            pdu: None,
                        }),
                        _ => Follow::Done(generic()),
                    }
                }
                (Some(index), Some(Param::Quoted(stat))) => Follow::Text {
                    response: Response::CmglText {
                        index,
                        stat: (*stat).to_owned(),
                        oa: text(ps.get(2)),
                        alpha: text(ps.get(3)),
                        scts: text(ps.get(4)),
                        data: String::new(),
                    },
                    one_line: false,
                },
                _ => Follow::Done(generic()),
            };
            Classified { follow, urc: false }
        }
        "+CMTI" | "+CDSI" => urc(
            match (
                ps.first().and_then(|p| p.text()),
                ps.get(1).and_then(|p| p.number()),
            ) {
                (Some(mem), Some(index)) => {
                    let mem = mem.to_owned();
                    if name == "+CMTI" {
                        Response::Cmti { mem, index }
                    } else {
                        Response::Cdsi { mem, index }
                    }
                }
                _ => generic(),
            },
        ),
        "+CMT" => {
            // PDU mode: `[<alpha>],<length>`, the length last and bare; text mode starts with `<oa>`.
            let pdu_mode = ps.len() == 2 && ps.get(1).and_then(|p| p.u16()).is_some();
            let follow = if pdu_mode {
                match ps.get(1).and_then(|p| p.u16()) {
                    Some(length) => Follow::Pdu(Response::CmtPdu {
                        alpha: text(ps.first()),
                        length,
                        pdu: None,
                    }),
                    None => Follow::Done(generic()),
                }
            } else {
                match ps.first().and_then(|p| p.text()) {
                    Some(oa) => Follow::Text {
                        response: Response::CmtText {
                            oa: oa.to_owned(),
                            alpha: text(ps.get(1)),
                            scts: text(ps.get(2)),
                            data: String::new(),
                        },
                        one_line: true,
                    },
                    None => Follow::Done(generic()),
                }
            };
            Classified { follow, urc: true }
        }
        "+CDS" => {
            let follow = if ps.len() == 1 {
                match ps.first().and_then(|p| p.u16()) {
                    Some(length) => Follow::Pdu(Response::CdsPdu { length, pdu: None }),
                    None => Follow::Done(generic()),
                }
            } else {
                match (u8_at(&ps, 0), u8_at(&ps, 1), u8_at(&ps, 6)) {
                    (Some(fo), Some(mr), Some(st)) => Follow::Done(Response::CdsText {
                        fo,
                        mr,
                        ra: text(ps.get(2)),
                        tora: u8_at(&ps, 3),
                        scts: text(ps.get(4)),
                        dt: text(ps.get(5)),
                        st,
                    }),
                    _ => Follow::Done(generic()),
                }
            };
            Classified { follow, urc: true }
        }
        "+CUSD" => {
            let read = in_flight.is_some_and(|(f, q)| f == "+CUSD" && q);
            match (u8_at(&ps, 0), ps.len()) {
                (Some(n), 1) if read => info(Response::CusdSetting { n }),
                (Some(m), _) => urc(Response::Cusd {
                    m,
                    str: text(ps.get(1)),
                    dcs: u8_at(&ps, 2),
                }),
                _ => urc(generic()),
            }
        }
        "+CLIP" => match (ps.first(), u8_at(&ps, 1)) {
            (Some(Param::Quoted(number)), Some(type_of_address)) => urc(Response::Clip {
                number: (*number).to_owned(),
                type_of_address,
                alpha: text(ps.get(4)),
                cli_validity: u8_at(&ps, 5),
            }),
            _ => info(generic()),
        },
        "+CGSN" | "+GSN" => info(match ps.first().and_then(|p| p.text()) {
            Some(sn) => Response::Cgsn { sn: sn.to_owned() },
            None => generic(),
        }),
        "+CIMI" => info(match ps.first().and_then(|p| p.text()) {
            Some(imsi) => Response::Cimi {
                imsi: imsi.to_owned(),
            },
            None => generic(),
        }),
        "+CCID" | "+ICCID" | "^ICCID" | "+QCCID" | "$ICCID" | "^SCID" => {
            info(match ps.first().and_then(|p| p.text()) {
                Some(iccid) => Response::Ccid {
                    iccid: iccid.to_owned(),
                },
                None => generic(),
            })
        }
        _ => {
            // A line for the command in flight is its answer; anything else came by itself. Commands
            // that only ever answer are answers even when the driver did not say what is in flight.
            let answer_only = matches!(
                name,
                "+CMGF"
                    | "+CMEE"
                    | "+CNMI"
                    | "+CSMS"
                    | "+CSCS"
                    | "+CGMI"
                    | "+CGMM"
                    | "+CGMR"
                    | "+CBC"
            );
            Classified {
                follow: Follow::Done(generic()),
                urc: !(answer_only || expecting(name)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finals() {
        assert_eq!(final_result("OK", false), Some(FinalResult::Ok));
        assert_eq!(final_result("0", false), None);
        assert_eq!(final_result("0", true), Some(FinalResult::Ok));
        assert_eq!(
            final_result("+CMS ERROR: 332", false),
            Some(FinalResult::CmsError(ErrorCode {
                code: Some(332),
                text: None
            }))
        );
        assert_eq!(
            final_result("+CME ERROR: SIM busy", false),
            Some(FinalResult::CmeError(ErrorCode {
                code: Some(14),
                text: Some("SIM busy".to_owned())
            }))
        );
    }
}
