//! The streaming response parser: bytes from the modem in, [`Item`]s out, whatever way the bytes were
//! split (ITU-T V.250 §5.7 response format, TS 27.005 §3/§4 for the SMS responses).

use std::collections::VecDeque;

use super::command::{CTRL_Z, Command, ESC, Expect};
use super::params::prefixed;
use super::response::{
    Classified, Follow, Item, Response, StreamError, final_result, prefixed_line,
};

/// Limits and options of an [`AtParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Longest line kept, in bytes; also the limit for a multi-line item (`+CUSD` string, text-mode
    /// message). Longer ones become [`Item::Error`] and are skipped. The longest legitimate line is a
    /// `+CMGL` PDU line (under 400 hex digits).
    pub max_line: usize,
    /// Take the V0 digit codes (`0` OK, `4` ERROR, ...; V.250 §6.2.6) as final results. Off by default:
    /// bare digit lines are answers in V1 mode.
    pub numeric_codes: bool,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_line: 4096,
            numeric_codes: false,
        }
    }
}

/// The command being answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    /// Its information response prefix (`+CREG`), or empty when unknown.
    prefix: String,
    query: bool,
    bare: bool,
    prompt: bool,
    /// Set by [`AtParser::expect`], which an echo does not override.
    explicit: bool,
}

impl InFlight {
    fn of(expect: Expect) -> InFlight {
        InFlight {
            prefix: expect.prefix.unwrap_or_default().to_owned(),
            query: expect.query,
            bare: expect.bare,
            prompt: expect.prompt,
            explicit: true,
        }
    }

    /// What an echoed command line says about the answer to come.
    fn from_echo(line: &str) -> InFlight {
        let body = line.get(2..).unwrap_or_default().trim();
        let first = body.split(';').next().unwrap_or_default();
        let name_len = first
            .char_indices()
            .skip(1)
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(first.len(), |(i, _)| i);
        let prefixed = first.starts_with(['+', '^', '$', '%', '*', '#']);
        let name = if prefixed {
            first
                .get(..name_len)
                .unwrap_or_default()
                .to_ascii_uppercase()
        } else {
            String::new()
        };
        let rest = first.get(name_len..).unwrap_or_default();
        let query = rest.ends_with('?') && !rest.ends_with("=?");
        let plain = rest.is_empty();
        let bare = (plain
            && matches!(
                name.as_str(),
                "+CGSN"
                    | "+GSN"
                    | "+CIMI"
                    | "+CCID"
                    | "+CGMI"
                    | "+CGMM"
                    | "+CGMR"
                    | "+GMI"
                    | "+GMM"
                    | "+GMR"
            ))
            || (!prefixed && first.to_ascii_uppercase().starts_with('I'));
        let prompt = matches!(name.as_str(), "+CMGS" | "+CMGW")
            && rest.starts_with('=')
            && !rest.ends_with('?');
        InFlight {
            prefix: name,
            query,
            bare,
            prompt,
            explicit: false,
        }
    }
}

/// A header waiting for the line(s) that complete it.
#[derive(Debug)]
enum Pending {
    None,
    /// `+CMGR`/`+CMGL`/`+CMT`/`+CDS` in PDU mode: the next non-blank line, if hex, is its PDU.
    Pdu {
        response: Response,
        urc: bool,
    },
    /// Text-mode message: data lines.
    Text {
        response: Response,
        urc: bool,
        one_line: bool,
        data: String,
        lines: usize,
    },
    /// `+CUSD` whose quoted string goes on over more lines.
    Cusd {
        line: String,
    },
}

/// Parses what a modem writes, fed in chunks of any size (sans-IO: the caller reads the port).
///
/// ```
/// use smsbridge_protocol::at::{AtParser, FinalResult, Item, Response};
/// let mut p = AtParser::new();
/// p.feed(b"\r\n+CSQ: 2");
/// assert_eq!(p.next_item(), None);
/// p.feed(b"1,99\r\n\r\nOK\r\n");
/// assert_eq!(p.next_item(), Some(Item::Info(Response::Csq { rssi: 21, ber: 99 })));
/// assert_eq!(p.next_item(), Some(Item::Final(FinalResult::Ok)));
/// ```
///
/// Lines end with `\r\n`, `\n` or a lone `\r`; blank lines, leading NULs and other non-printing bytes
/// are skipped. The `> ` prompt is recognised at the start of a line without a line end.
///
/// **Information response or URC.** [`AtParser::expect`] says which command is in flight; an echoed
/// command line (`ATE1`) says it too when `expect` was not called, and a final result code ends it. Without that knowledge, the shape
/// decides: `+CREG: <n>,<stat>[,...]` (a number second) is the read answer and `+CREG: <stat>[,"<lac>",...]`
/// the URC; `+CUSD: <m>,...` is a URC (TS 27.007 §7.15 defines it as one, even when it answers
/// `AT+CUSD=1,...`); `+CPIN:` is an answer only while `+CPIN` is in flight (modems also send it by
/// themselves after start-up); `+CMTI`, `+CMT`, `+CDS`, `+CDSI`, `RING` and `+CLIP: "<number>",...` are
/// always URCs; other known answers (`+CSQ`, `+COPS`, `+CPMS`, `+CMGS`, ...) are always answers; an
/// unknown prefixed line (`^RSSI:`, `+QIND:`) is an answer only when its prefix is the command in flight;
/// a line without a prefix is an answer while a command is in flight and a URC otherwise.
///
/// **Memory.** The buffer holds at most [`ParserConfig::max_line`] bytes of an unfinished line plus what
/// was fed and not yet pulled with [`AtParser::next_item`]: feed, then pull until `None`.
#[derive(Debug)]
pub struct AtParser {
    buf: Vec<u8>,
    pos: usize,
    config: ParserConfig,
    in_flight: Option<InFlight>,
    after_cr: bool,
    discarding: bool,
    after_prompt: bool,
    pending: Pending,
    queue: VecDeque<Item>,
}

impl Default for AtParser {
    fn default() -> Self {
        AtParser::new()
    }
}

fn is_hex(line: &[u8]) -> bool {
    !line.is_empty() && line.iter().all(u8::is_ascii_hexdigit)
}

/// Drops non-printing bytes (NUL, controls, noise like 0xFF) and spaces from both ends.
fn trim_garbage(line: &[u8]) -> &[u8] {
    let keep = |b: &u8| (0x21..=0x7E).contains(b) || *b >= 0x80 && *b != 0xFF;
    let start = line.iter().position(keep).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(keep)
        .map_or(start, |p| p.saturating_add(1));
    line.get(start..end).unwrap_or_default()
}

/// Text-mode data: line ends, NULs and trailing spaces removed, leading spaces kept.
fn data_line(line: &[u8]) -> String {
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, 0 | b' ' | b'\t'))
        .map_or(0, |p| p.saturating_add(1));
    let line = line.get(..end).unwrap_or_default();
    String::from_utf8_lossy(line).replace('\0', "")
}

fn set_pdu(response: &mut Response, hex: String) {
    match response {
        Response::CmgrPdu { pdu, .. }
        | Response::CmglPdu { pdu, .. }
        | Response::CmtPdu { pdu, .. }
        | Response::CdsPdu { pdu, .. } => *pdu = Some(hex),
        _ => {}
    }
}

fn set_data(response: &mut Response, text: String) {
    match response {
        Response::CmgrText { data, .. }
        | Response::CmglText { data, .. }
        | Response::CmtText { data, .. } => *data = text,
        _ => {}
    }
}

fn wrap(response: Response, urc: bool) -> Item {
    if urc {
        Item::Urc(response)
    } else {
        Item::Info(response)
    }
}

impl AtParser {
    /// A parser with the default limits.
    pub fn new() -> AtParser {
        AtParser::with_config(ParserConfig::default())
    }

    /// A parser with the given limits.
    pub fn with_config(config: ParserConfig) -> AtParser {
        AtParser {
            buf: Vec::with_capacity(1024),
            pos: 0,
            config,
            in_flight: None,
            after_cr: false,
            discarding: false,
            after_prompt: false,
            pending: Pending::None,
            queue: VecDeque::new(),
        }
    }

    /// Appends bytes read from the modem.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Says which command was just written, so its answer is told from URCs. A final result code ends
    /// it; so does [`AtParser::clear_expect`].
    pub fn expect(&mut self, command: &Command) {
        self.expect_answer(command.expect());
    }

    /// [`AtParser::expect`] from an [`Expect`] directly (for commands built elsewhere).
    pub fn expect_answer(&mut self, expect: Expect) {
        self.in_flight = Some(InFlight::of(expect));
    }

    /// Forgets the command in flight (e.g. after the driver timed it out).
    pub fn clear_expect(&mut self) {
        self.in_flight = None;
    }

    /// Bytes held: an unfinished line and what was fed but not parsed yet.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next complete item, or `None` until more bytes are fed.
    pub fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if !self.step() {
                return None;
            }
        }
    }

    /// The end of the stream (port closed): the unfinished line is taken as complete and a header still
    /// waiting for its PDU or text is given out as it is. Pull the remaining items with
    /// [`AtParser::next_item`].
    pub fn finish(&mut self) {
        while self.step() {}
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if !self.discarding && !rest.is_empty() {
            let line = rest.to_vec();
            self.pos = self.buf.len();
            if line.len() > self.config.max_line {
                self.release_pending();
                self.queue.push_back(Item::Error(StreamError::LineTooLong {
                    limit: self.config.max_line,
                }));
            } else {
                self.process_line(&line);
            }
        }
        self.pos = self.buf.len();
        self.discarding = false;
        self.release_pending();
    }

    fn release_pending(&mut self) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Pdu { response, urc } => self.queue.push_back(wrap(response, urc)),
            Pending::Text {
                mut response,
                urc,
                data,
                ..
            } => {
                set_data(&mut response, data.trim_end_matches('\n').to_owned());
                self.queue.push_back(wrap(response, urc));
            }
            Pending::Cusd { line } => self.classify_prefixed(&line, false),
        }
    }

    fn too_long(&mut self) {
        self.release_pending();
        self.queue.push_back(Item::Error(StreamError::LineTooLong {
            limit: self.config.max_line,
        }));
    }

    /// Handles one line or prompt from the buffer; `false` when the buffer holds no complete one.
    fn step(&mut self) -> bool {
        let rest = match self.buf.get(self.pos..) {
            Some(r) if !r.is_empty() => r,
            _ => return false,
        };
        if self.after_cr {
            self.after_cr = false;
            if rest.first() == Some(&b'\n') {
                self.pos = self.pos.saturating_add(1);
                return true;
            }
        }
        let line_end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
        if self.discarding {
            match line_end {
                Some(i) => {
                    self.after_cr = rest.get(i) == Some(&b'\r');
                    self.pos = self.pos.saturating_add(i).saturating_add(1);
                    self.discarding = false;
                }
                None => self.pos = self.buf.len(),
            }
            return true;
        }
        if rest.first() == Some(&b'>')
            && !matches!(self.pending, Pending::Text { .. } | Pending::Cusd { .. })
        {
            let expecting = self.in_flight.as_ref().is_some_and(|f| f.prompt);
            let used = match rest.get(1) {
                Some(b' ') => Some(2),
                None if !expecting => return false,
                _ if expecting => Some(1),
                _ => None,
            };
            if let Some(used) = used {
                self.pos = self.pos.saturating_add(used);
                self.release_pending();
                self.after_prompt = true;
                self.queue.push_back(Item::Prompt);
                return true;
            }
        }
        match line_end {
            None => {
                if rest.len() > self.config.max_line {
                    self.pos = self.buf.len();
                    self.discarding = true;
                    self.too_long();
                    return true;
                }
                false
            }
            Some(i) => {
                let start = self.pos;
                let end = start.saturating_add(i);
                self.after_cr = rest.get(i) == Some(&b'\r');
                self.pos = end.saturating_add(1);
                if i > self.config.max_line {
                    self.too_long();
                    return true;
                }
                // Borrow the line out of the buffer without copying it.
                let buf = std::mem::take(&mut self.buf);
                self.process_line(buf.get(start..end).unwrap_or_default());
                self.buf = buf;
                true
            }
        }
    }

    fn process_line(&mut self, raw: &[u8]) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Pdu { mut response, urc } => {
                let t = trim_garbage(raw);
                if t.is_empty() {
                    self.pending = Pending::Pdu { response, urc };
                    return;
                }
                if is_hex(t) {
                    set_pdu(&mut response, String::from_utf8_lossy(t).into_owned());
                    self.queue.push_back(wrap(response, urc));
                    return;
                }
                self.queue.push_back(wrap(response, urc));
            }
            Pending::Text {
                mut response,
                urc,
                one_line,
                mut data,
                lines,
            } => {
                let line = data_line(raw);
                if one_line {
                    set_data(&mut response, line);
                    self.queue.push_back(wrap(response, urc));
                    return;
                }
                let t = trim_garbage(raw);
                let t_str = String::from_utf8_lossy(t);
                let ends = final_result(&t_str, false).is_some()
                    || (matches!(response, Response::CmglText { .. })
                        && t_str.to_ascii_uppercase().starts_with("+CMGL:"));
                if ends {
                    set_data(&mut response, data.trim_end_matches('\n').to_owned());
                    self.queue.push_back(wrap(response, urc));
                } else if data.len().saturating_add(line.len()) > self.config.max_line {
                    self.pending = Pending::Text {
                        response,
                        urc,
                        one_line,
                        data,
                        lines,
                    };
                    self.too_long();
                    return;
                } else {
                    if lines > 0 {
                        data.push('\n');
                    }
                    data.push_str(&line);
                    self.pending = Pending::Text {
                        response,
                        urc,
                        one_line,
                        data,
                        lines: lines.saturating_add(1),
                    };
                    return;
                }
            }
            Pending::Cusd { mut line } => {
                let more = data_line(raw);
                if line.len().saturating_add(more.len()) > self.config.max_line {
                    self.queue.push_back(Item::Error(StreamError::LineTooLong {
                        limit: self.config.max_line,
                    }));
                    return;
                }
                line.push('\n');
                line.push_str(&more);
                if line.matches('"').count() % 2 == 0 {
                    self.classify_prefixed(&line, false);
                } else {
                    self.pending = Pending::Cusd { line };
                }
                return;
            }
        }
        self.classify(raw);
    }

    fn classify(&mut self, raw: &[u8]) {
        let t = trim_garbage(raw);
        if t.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(t);
        if self.after_prompt {
            self.after_prompt = false;
            if raw.iter().any(|&b| b == CTRL_Z || b == ESC) || is_hex(t) {
                self.queue.push_back(Item::Echo(line.into_owned()));
                return;
            }
        }
        let bare_expected = self.in_flight.as_ref().is_some_and(|f| f.bare);
        if let Some(fr) = final_result(&line, self.config.numeric_codes && !bare_expected) {
            self.in_flight = None;
            self.after_prompt = false;
            self.queue.push_back(Item::Final(fr));
            return;
        }
        if line.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")) {
            // What the driver said it sent is more precise than what the echo shows.
            if !self.in_flight.as_ref().is_some_and(|f| f.explicit) {
                self.in_flight = Some(InFlight::from_echo(&line));
            }
            self.queue.push_back(Item::Echo(line.into_owned()));
            return;
        }
        if line.eq_ignore_ascii_case("RING")
            || (self.config.numeric_codes && !bare_expected && line == "2")
        {
            self.queue.push_back(Item::Urc(Response::Ring));
            return;
        }
        if prefixed(&line).is_some() {
            self.classify_prefixed(&line, true);
            return;
        }
        let response = match self.in_flight.as_ref() {
            Some(f) if f.bare => {
                let value = line.trim_matches('"').to_owned();
                match f.prefix.as_str() {
                    "+CGSN" | "+GSN" => Response::Cgsn { sn: value },
                    "+CIMI" => Response::Cimi { imsi: value },
                    "+CCID" => Response::Ccid { iccid: value },
                    _ => Response::Raw {
                        line: line.into_owned(),
                    },
                }
            }
            _ => Response::Raw {
                line: line.into_owned(),
            },
        };
        let urc = self.in_flight.is_none();
        self.queue.push_back(wrap(response, urc));
    }

    /// `continuation`: a `+CUSD` line with an open quote may go on over the next lines.
    fn classify_prefixed(&mut self, line: &str, continuation: bool) {
        let Some((name, params)) = prefixed(line) else {
            let urc = self.in_flight.is_none();
            self.queue.push_back(wrap(
                Response::Raw {
                    line: line.to_owned(),
                },
                urc,
            ));
            return;
        };
        if continuation && name == "+CUSD" && line.matches('"').count() % 2 == 1 {
            self.pending = Pending::Cusd {
                line: line.to_owned(),
            };
            return;
        }
        let in_flight = self
            .in_flight
            .as_ref()
            .map(|f| (f.prefix.as_str(), f.query));
        let Classified { follow, urc } = prefixed_line(&name, params, in_flight);
        match follow {
            Follow::Done(r) => self.queue.push_back(wrap(r, urc)),
            Follow::Pdu(response) => self.pending = Pending::Pdu { response, urc },
            Follow::Text { response, one_line } => {
                self.pending = Pending::Text {
                    response,
                    urc,
                    one_line,
                    data: String::new(),
                    lines: 0,
                }
            }
        }
    }
}
