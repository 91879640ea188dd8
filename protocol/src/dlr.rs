//! Delivery receipts: the SMPP receipt text (SMPP 3.4 Appendix B) as carriers really send it, and the
//! mapping of its `stat` and of the `message_state` TLV (SMPP 3.4 §5.3.2.35) to one final state.
//!
//! The text form is `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
//! stat:DDDDDDD err:E text:...`. Appendix B calls it an example, and carriers treat it as one: labels in
//! any letter case, fields missing or reordered, several spaces, dates with seconds, ids in hex, decimal or
//! UUID form, alphanumeric `err`, a trailing NUL, and text that is not UTF-8. [`parse_receipt`] accepts all
//! of these, borrows every field from the input as its literal bytes, and offers typed views beside them.
//!
//! [`resolve`] combines a parsed text with the `receipted_message_id` and `message_state` TLVs of the same
//! deliver_sm; the TLVs are authoritative when present (SMPP 3.4 §4.6.1.1: they were added so that the
//! text need not be parsed).
//!
//! [`StandardReceipt`] writes the standard text form; the SMSC simulator uses it.

use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::character::complete::space0;
use nom::combinator::value;
use nom::{IResult, Parser};

/// A receipt text's fields as their literal bytes, borrowed from the input (SMPP 3.4 Appendix B).
///
/// `None` means the field's label was absent; `Some(b"")` means the label was there with no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Receipt<'a> {
    /// `id`: the message id the SMSC gave in submit_sm_resp (decimal, hex or UUID in practice).
    pub id: Option<&'a [u8]>,
    /// `sub`: number of messages originally submitted (normally `001`).
    pub sub: Option<&'a [u8]>,
    /// `dlvrd`: number of messages delivered.
    pub dlvrd: Option<&'a [u8]>,
    /// `submit date`: `YYMMDDhhmm`, sometimes with seconds.
    pub submit_date: Option<&'a [u8]>,
    /// `done date`: when the message reached its final state.
    pub done_date: Option<&'a [u8]>,
    /// `stat`: the message state as text (`DELIVRD`, `UNDELIV`, ...).
    pub stat: Option<&'a [u8]>,
    /// `err`: a network or SMSC specific error code (3 digits in the spec; 4 digits or letters seen).
    pub err: Option<&'a [u8]>,
    /// `text`: the first characters of the message, running to the end of the receipt.
    pub text: Option<&'a [u8]>,
}

/// Why a text is not a delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Fewer than two receipt fields, or neither `id` nor `stat` among them.
    #[error(
        "not a delivery receipt: found {fields} receipt field(s), need two including id or stat"
    )]
    NotAReceipt {
        /// How many receipt fields were recognised.
        fields: usize,
    },
}

/// Which receipt field a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `submit date` and `done date`: one word, a space or an underscore between the words, or none.
fn date_label<'a>(
    first: &'static str,
) -> impl Parser<&'a [u8], Output = (), Error = nom::error::Error<&'a [u8]>> {
    value(
        (),
        (
            tag_no_case(first),
            take_while(|b| b == b' ' || b == b'_'),
            tag_no_case("date"),
        ),
    )
}

/// A label and its colon (`stat:`, `Submit Date :`); labels are matched in any letter case.
///
/// The first letter picks the labels worth trying: this runs at every word of a receipt and at every value
/// (to tell `sub: dlvrd:001` from a value), so most calls are on words that are no label at all.
fn label(input: &[u8]) -> IResult<&[u8], Field> {
    let (rest, field) = match input.first().map(u8::to_ascii_lowercase) {
        // `sub` is a prefix of `submit`: the date label goes first.
        Some(b's') => alt((
            value(Field::SubmitDate, date_label("submit")),
            value(Field::Stat, tag_no_case("stat")),
            value(Field::Sub, tag_no_case("sub")),
        ))
        .parse(input)?,
        Some(b'd') => alt((
            value(Field::DoneDate, date_label("done")),
            value(Field::Dlvrd, tag_no_case("dlvrd")),
        ))
        .parse(input)?,
        Some(b't') => value(Field::Text, tag_no_case("text")).parse(input)?,
        Some(b'e') => value(Field::Err, tag_no_case("err")).parse(input)?,
        Some(b'i') => value(Field::Id, tag_no_case("id")).parse(input)?,
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::Tag,
            )));
        }
    };
    let (rest, _) = (space0, tag(":")).parse(rest)?;
    Ok((rest, field))
}

/// Parses a receipt text (SMPP 3.4 Appendix B and the variants carriers send).
///
/// Fields are found by their labels at word starts, in any order and letter case; a value runs to the next
/// white space, except `text`, which runs to the end of the input (it may contain anything, including words
/// that look like labels). A trailing NUL, CR or LF is not part of the receipt. When a label repeats, the
/// first one counts. Text before the first label is ignored.
///
/// A text is taken as a receipt when it has at least two fields, one of them `id` or `stat`.
pub fn parse_receipt(input: &[u8]) -> Result<Receipt<'_>, ReceiptError> {
    let end = input
        .iter()
        .rposition(|&b| !matches!(b, 0 | b'\r' | b'\n'))
        .map_or(0, |p| p.saturating_add(1));
    let mut rest = input.get(..end).unwrap_or_default();
    let mut receipt = Receipt::default();
    let mut fields = 0usize;
    loop {
        // `rest` starts at a word.
        let (after_ws, _) = skip_blanks(rest);
        rest = after_ws;
        if rest.is_empty() {
            break;
        }
        if let Ok((after_label, field)) = label(rest) {
            let (value_start, _) = skip_spaces(after_label);
            if field == Field::Text {
                fields = fields.saturating_add(usize::from(receipt.text.is_none()));
                receipt.text.get_or_insert(value_start);
                break;
            }
            // `sub: dlvrd:001`: an empty value, not a value that is a label.
            let (after_value, val) = if label(value_start).is_ok() {
                (value_start, &value_start[..0])
            } else {
                let (r, v) = word(value_start);
                (r, v)
            };
            let slot = match field {
                Field::Id => &mut receipt.id,
                Field::Sub => &mut receipt.sub,
                Field::Dlvrd => &mut receipt.dlvrd,
                Field::SubmitDate => &mut receipt.submit_date,
                Field::DoneDate => &mut receipt.done_date,
                Field::Stat => &mut receipt.stat,
                Field::Err => &mut receipt.err,
                Field::Text => &mut receipt.text,
            };
            if slot.is_none() {
                *slot = Some(val);
                fields = fields.saturating_add(1);
            }
            rest = after_value;
        } else {
            let (r, _) = word(rest);
            rest = r;
        }
    }
    if fields >= 2 && (receipt.id.is_some() || receipt.stat.is_some()) {
        Ok(receipt)
    } else {
        Err(ReceiptError::NotAReceipt { fields })
    }
}

fn skip_blanks(input: &[u8]) -> (&[u8], &[u8]) {
    let r: IResult<&[u8], &[u8]> = take_while(is_blank)(input);
    r.unwrap_or((input, &input[..0]))
}

fn skip_spaces(input: &[u8]) -> (&[u8], &[u8]) {
    let r: IResult<&[u8], &[u8]> = take_while(|b| b == b' ' || b == b'\t')(input);
    r.unwrap_or((input, &input[..0]))
}

fn word(input: &[u8]) -> (&[u8], &[u8]) {
    let r: IResult<&[u8], &[u8]> = take_while(|b| !is_blank(b))(input);
    r.unwrap_or((input, &input[..0]))
}

/// Parses an unsigned decimal number of at most 9 digits (no sign, no spaces).
fn decimal_u32(input: &[u8]) -> Option<u32> {
    let r: IResult<&[u8], &[u8]> = take_while1(|b: u8| b.is_ascii_digit())(input);
    let (rest, digits) = r.ok()?;
    if !rest.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u32::from(d.wrapping_sub(b'0')))
    })
}

impl<'a> Receipt<'a> {
    /// `sub` as a number, when it is decimal digits.
    pub fn sub_count(&self) -> Option<u32> {
        self.sub.and_then(decimal_u32)
    }

    /// `dlvrd` as a number, when it is decimal digits.
    pub fn dlvrd_count(&self) -> Option<u32> {
        self.dlvrd.and_then(decimal_u32)
    }

    /// `err` as a number, when it is decimal digits.
    pub fn err_code(&self) -> Option<u32> {
        self.err.and_then(decimal_u32)
    }

    /// `submit date` as a date, when it is a valid one.
    pub fn submit_date_value(&self) -> Option<ReceiptDate> {
        self.submit_date.and_then(ReceiptDate::parse)
    }

    /// `done date` as a date, when it is a valid one.
    pub fn done_date_value(&self) -> Option<ReceiptDate> {
        self.done_date.and_then(ReceiptDate::parse)
    }

    /// The state that `stat` names.
    pub fn state(&self) -> Option<ReceiptState<'a>> {
        self.stat.map(ReceiptState::from_stat)
    }

    /// What the `id` looks like.
    pub fn id_form(&self) -> Option<MessageIdForm> {
        self.id.map(MessageIdForm::of)
    }

    /// Writes the fields that are present in the standard order and spelling (SMPP 3.4 Appendix B), one
    /// space apart, `text:` last. The values are written as they are: no padding.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let fields: [(&[u8], Option<&[u8]>); 8] = [
            (b"id:", self.id),
            (b"sub:", self.sub),
            (b"dlvrd:", self.dlvrd),
            (b"submit date:", self.submit_date),
            (b"done date:", self.done_date),
            (b"stat:", self.stat),
            (b"err:", self.err),
            (b"text:", self.text),
        ];
        let mut first = true;
        for (name, val) in fields {
            if let Some(val) = val {
                if !first {
                    out.push(b' ');
                }
                first = false;
                out.extend_from_slice(name);
                out.extend_from_slice(val);
            }
        }
    }

    /// The standard text form of the fields that are present (see [`Receipt::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out);
        out
    }
}

/// A receipt date (`YYMMDDhhmm[ss]`, SMPP 3.4 Appendix B) as plain numbers; no time zone is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptDate {
    /// The full year: a two-digit `YY` is taken as 20YY (receipts are about recent messages); a 14-digit
    /// `YYYYMMDDhhmmss` date, which a few carriers send, gives it directly.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59, when the date carried seconds.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parses `YYMMDDhhmm`, `YYMMDDhhmmss` or `YYYYMMDDhhmmss`; `None` for anything else or out-of-range
    /// values.
    pub fn parse(input: &[u8]) -> Option<ReceiptDate> {
        if !input.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| -> Option<u8> {
            let d = input.get(i..i.checked_add(2)?)?;
            let hi = d.first()?.wrapping_sub(b'0');
            let lo = d.get(1)?.wrapping_sub(b'0');
            hi.checked_mul(10)?.checked_add(lo)
        };
        let (year, at) = match input.len() {
            10 | 12 => (2000u16.checked_add(u16::from(two(0)?))?, 2),
            14 => (
                u16::from(two(0)?)
                    .checked_mul(100)?
                    .checked_add(u16::from(two(2)?))?,
                4,
            ),
            _ => return None,
        };
        let date = ReceiptDate {
            year,
            month: two(at)?,
            day: two(at.checked_add(2)?)?,
            hour: two(at.checked_add(4)?)?,
            minute: two(at.checked_add(6)?)?,
            second: if input.len() > at.checked_add(8)? {
                Some(two(at.checked_add(8)?)?)
            } else {
                None
            },
        };
        let valid = (1..=12).contains(&date.month)
            && (1..=31).contains(&date.day)
            && date.hour < 24
            && date.minute < 60
            && date.second.is_none_or(|s| s < 60);
        valid.then_some(date)
    }

    /// Writes the date as `YYMMDDhhmm`, or `YYMMDDhhmmss` when it has seconds (years outside 2000-2099 are
    /// written modulo 100, as the two-digit form can say nothing else).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut push2 = |v: u8| {
            out.push(b'0'.wrapping_add((v / 10) % 10));
            out.push(b'0'.wrapping_add(v % 10));
        };
        push2(u8::try_from(self.year % 100).unwrap_or(0));
        push2(self.month);
        push2(self.day);
        push2(self.hour);
        push2(self.minute);
        if let Some(s) = self.second {
            push2(s);
        }
    }
}

/// The shape of a message id, for logs and for correlators that must compare ids written differently
/// (SMPP 3.4 leaves the id format to the SMSC; Appendix B shows 10 decimal digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageIdForm {
    /// Only decimal digits.
    Decimal,
    /// Hexadecimal digits, at least one of them a letter.
    Hex,
    /// `8-4-4-4-12` hexadecimal digits.
    Uuid,
    /// Anything else (empty, other letters, punctuation).
    Other,
}

impl MessageIdForm {
    /// Classifies an id.
    pub fn of(id: &[u8]) -> MessageIdForm {
        if id.is_empty() {
            MessageIdForm::Other
        } else if id.iter().all(u8::is_ascii_digit) {
            MessageIdForm::Decimal
        } else if id.iter().all(u8::is_ascii_hexdigit) {
            MessageIdForm::Hex
        } else if is_uuid(id) {
            MessageIdForm::Uuid
        } else {
            MessageIdForm::Other
        }
    }
}

fn is_uuid(id: &[u8]) -> bool {
    let groups = [8usize, 4, 4, 4, 12];
    let mut parts = id.split(|&b| b == b'-');
    for len in groups {
        match parts.next() {
            Some(p) if p.len() == len && p.iter().all(u8::is_ascii_hexdigit) => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

/// The state of a submitted message as a receipt reports it: the `stat` text (SMPP 3.4 Appendix B) and
/// the `message_state` TLV (SMPP 3.4 §5.3.2.35) both map to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState<'a> {
    /// `ENROUTE` / 1: on its way; not final.
    Enroute,
    /// `DELIVRD` / 2.
    Delivered,
    /// `EXPIRED` / 3: the validity period ran out.
    Expired,
    /// `DELETED` / 4.
    Deleted,
    /// `UNDELIV` / 5.
    Undeliverable,
    /// `ACCEPTD` / 6: accepted on the subscriber's behalf (e.g. read by customer service); final.
    Accepted,
    /// `UNKNOWN` / 7: the SMSC does not know; final.
    Unknown,
    /// `REJECTD` / 8.
    Rejected,
    /// A `stat` text none of the above names, kept as sent.
    Other(&'a [u8]),
    /// A `message_state` value outside 1-8 (SMPP 5.0 adds 0 SCHEDULED and 9 SKIPPED).
    OtherMessageState(u8),
}

impl<'a> ReceiptState<'a> {
    /// Maps a `stat` text: the Appendix B codes and the spellings carriers use instead, in any case
    /// (`DELIVERED`, `UNDELIVERABLE`, `UNDELIVERED`, `REJECTED`, `EN_ROUTE`, `FAILED`, ...).
    pub fn from_stat(stat: &'a [u8]) -> ReceiptState<'a> {
        // Compare on letters only, upper-cased, without allocating.
        let mut key = [0u8; 16];
        let mut len = 0usize;
        for &b in stat {
            if b.is_ascii_alphabetic() {
                match key.get_mut(len) {
                    Some(slot) => *slot = b.to_ascii_uppercase(),
                    None => return ReceiptState::Other(stat),
                }
                len = len.saturating_add(1);
            } else if !matches!(b, b'_' | b' ' | b'-') {
                return ReceiptState::Other(stat);
            }
        }
        match key.get(..len).unwrap_or_default() {
            b"ENROUTE" => ReceiptState::Enroute,
            b"DELIVRD" | b"DELIVERED" | b"DELIVRED" | b"DELIVER" => ReceiptState::Delivered,
            b"EXPIRED" | b"EXPIRD" => ReceiptState::Expired,
            b"DELETED" | b"DELETD" => ReceiptState::Deleted,
            // FAILED is what many aggregators write for an undeliverable message.
            b"UNDELIV" | b"UNDELIVERABLE" | b"UNDELIVERED" | b"UNDELIVRD" | b"FAILED" => {
                ReceiptState::Undeliverable
            }
            b"ACCEPTD" | b"ACCEPTED" => ReceiptState::Accepted,
            b"UNKNOWN" | b"UNKNOWNN" => ReceiptState::Unknown,
            b"REJECTD" | b"REJECTED" | b"REJECT" => ReceiptState::Rejected,
            _ => ReceiptState::Other(stat),
        }
    }

    /// Maps a `message_state` TLV value (SMPP 3.4 §5.3.2.35).
    pub fn from_message_state(value: u8) -> ReceiptState<'static> {
        match value {
            1 => ReceiptState::Enroute,
            2 => ReceiptState::Delivered,
            3 => ReceiptState::Expired,
            4 => ReceiptState::Deleted,
            5 => ReceiptState::Undeliverable,
            6 => ReceiptState::Accepted,
            7 => ReceiptState::Unknown,
            8 => ReceiptState::Rejected,
            other => ReceiptState::OtherMessageState(other),
        }
    }

    /// The `message_state` value of this state, when it has one.
    pub fn message_state(&self) -> Option<u8> {
        match self {
            ReceiptState::Enroute => Some(1),
            ReceiptState::Delivered => Some(2),
            ReceiptState::Expired => Some(3),
            ReceiptState::Deleted => Some(4),
            ReceiptState::Undeliverable => Some(5),
            ReceiptState::Accepted => Some(6),
            ReceiptState::Unknown => Some(7),
            ReceiptState::Rejected => Some(8),
            ReceiptState::Other(_) => None,
            ReceiptState::OtherMessageState(v) => Some(*v),
        }
    }

    /// Whether the message will not change state again (SMPP 3.4 §5.2.28: every state but ENROUTE is
    /// final). States we cannot name are not final: waiting for another receipt is safer than closing a
    /// message on a word we do not understand.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            ReceiptState::Enroute | ReceiptState::Other(_) | ReceiptState::OtherMessageState(_)
        )
    }

    /// Whether the message reached the handset (`DELIVRD` or `ACCEPTD`).
    pub fn is_delivered(&self) -> bool {
        matches!(self, ReceiptState::Delivered | ReceiptState::Accepted)
    }

    /// The Appendix B `stat` code (`DELIVRD`, ...); an [`ReceiptState::Other`] text as it was; `UNKNOWN`
    /// for a `message_state` value that has no code.
    pub fn stat_text(&self) -> &'a [u8] {
        match self {
            ReceiptState::Enroute => b"ENROUTE",
            ReceiptState::Delivered => b"DELIVRD",
            ReceiptState::Expired => b"EXPIRED",
            ReceiptState::Deleted => b"DELETED",
            ReceiptState::Undeliverable => b"UNDELIV",
            ReceiptState::Accepted => b"ACCEPTD",
            ReceiptState::Unknown | ReceiptState::OtherMessageState(_) => b"UNKNOWN",
            ReceiptState::Rejected => b"REJECTD",
            ReceiptState::Other(text) => text,
        }
    }

    /// A stable lower-case name for logs and JSON (`delivered`, `other`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ReceiptState::Enroute => "enroute",
            ReceiptState::Delivered => "delivered",
            ReceiptState::Expired => "expired",
            ReceiptState::Deleted => "deleted",
            ReceiptState::Undeliverable => "undeliverable",
            ReceiptState::Accepted => "accepted",
            ReceiptState::Unknown => "unknown",
            ReceiptState::Rejected => "rejected",
            ReceiptState::Other(_) | ReceiptState::OtherMessageState(_) => "other",
        }
    }
}

impl fmt::Display for ReceiptState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.stat_text()))
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A TLV of the deliver_sm (`receipted_message_id`, `message_state`).
    Tlv,
    /// The receipt text in short_message / message_payload.
    Text,
}

/// A value and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

/// The message id and state of a receipt, from its TLVs and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The SMSC's id of the message this receipt is about, without a trailing NUL.
    pub message_id: Option<Sourced<&'a [u8]>>,
    /// The message's state.
    pub state: Option<Sourced<ReceiptState<'a>>>,
}

impl Resolved<'_> {
    /// Whether the state is final.
    pub fn is_final(&self) -> bool {
        self.state.is_some_and(|s| s.value.is_final())
    }
}

/// Resolves a receipt's message id and state from its text (when it parsed) and its TLVs
/// (`receipted_message_id` SMPP 3.4 §5.3.2.12, `message_state` §5.3.2.35), passed as their raw values.
/// A TLV wins over the text when both are present; an empty `receipted_message_id` counts as absent.
pub fn resolve<'a>(
    text: Option<&Receipt<'a>>,
    receipted_message_id: Option<&'a [u8]>,
    message_state: Option<u8>,
) -> Resolved<'a> {
    let tlv_id = receipted_message_id
        .map(|id| {
            let end = id
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |p| p.saturating_add(1));
            id.get(..end).unwrap_or_default()
        })
        .filter(|id| !id.is_empty());
    let message_id = match tlv_id {
        Some(value) => Some(Sourced {
            value,
            source: Source::Tlv,
        }),
        None => text.and_then(|r| r.id).map(|value| Sourced {
            value,
            source: Source::Text,
        }),
    };
    let state = match message_state {
        Some(v) => Some(Sourced {
            value: ReceiptState::from_message_state(v),
            source: Source::Tlv,
        }),
        None => text.and_then(|r| r.state()).map(|value| Sourced {
            value,
            source: Source::Text,
        }),
    };
    Resolved { message_id, state }
}

/// A receipt to write in the standard form, from typed values (used by the SMSC simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardReceipt<'a> {
    /// The message id as given in submit_sm_resp.
    pub id: &'a [u8],
    /// Messages submitted (written with at least 3 digits).
    pub sub: u32,
    /// Messages delivered (at least 3 digits).
    pub dlvrd: u32,
    /// When the message was submitted.
    pub submit_date: ReceiptDate,
    /// When it reached its state.
    pub done_date: ReceiptDate,
    /// Its state (written as its 7-letter code).
    pub state: ReceiptState<'a>,
    /// The error code (at least 3 digits).
    pub err: u32,
    /// The first characters of the message (Appendix B: 20); written as given.
    pub text: &'a [u8],
}

impl StandardReceipt<'_> {
    /// Writes `id:... sub:001 dlvrd:001 submit date:... done date:... stat:DELIVRD err:000 text:...`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut submit = Vec::with_capacity(12);
        self.submit_date.write_to(&mut submit);
        let mut done = Vec::with_capacity(12);
        self.done_date.write_to(&mut done);
        let sub = format!("{:03}", self.sub);
        let dlvrd = format!("{:03}", self.dlvrd);
        let err = format!("{:03}", self.err);
        let receipt = Receipt {
            id: Some(self.id),
            sub: Some(sub.as_bytes()),
            dlvrd: Some(dlvrd.as_bytes()),
            submit_date: Some(&submit),
            done_date: Some(&done),
            stat: Some(self.state.stat_text()),
            err: Some(err.as_bytes()),
            text: Some(self.text),
        };
        receipt.write_to(out);
    }

    /// The receipt text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `label` as it was before it dispatched on the first letter: every label tried in turn.
    fn label_tried_in_turn(input: &[u8]) -> IResult<&[u8], Field> {
        let (rest, field) = alt((
            value(Field::SubmitDate, date_label("submit")),
            value(Field::DoneDate, date_label("done")),
            value(Field::Dlvrd, tag_no_case("dlvrd")),
            value(Field::Stat, tag_no_case("stat")),
            value(Field::Text, tag_no_case("text")),
            value(Field::Sub, tag_no_case("sub")),
            value(Field::Err, tag_no_case("err")),
            value(Field::Id, tag_no_case("id")),
        ))
        .parse(input)?;
        let (rest, _) = (space0, tag(":")).parse(rest)?;
        Ok((rest, field))
    }

    #[test]
    fn label_finds_what_trying_every_label_finds() {
        let words: &[&[u8]] = &[
            b"id:1",
            b"ID :1",
            b"Id:",
            b"sub:001",
            b"SUB:",
            b"submit date:2611",
            b"Submit_Date:",
            b"submitdate:",
            b"SUBMIT  DATE :",
            b"submit:",
            b"subx:",
            b"done date:",
            b"DONE_date:",
            b"donedate:",
            b"done:",
            b"dlvrd:001",
            b"Dlvrd :",
            b"stat:DELIVRD",
            b"STAT:",
            b"state:",
            b"err:000",
            b"Err:",
            b"error:",
            b"text:hi",
            b"TEXT :",
            b"texts:",
            b"idx:",
            b"i",
            b"",
            b":",
            b"0123456789",
            b"DELIVRD",
            b" id:",
            b"\xffid:",
            b"s",
            b"d",
            b"e",
            b"t",
        ];
        for w in words {
            assert_eq!(
                label(w).ok(),
                label_tried_in_turn(w).ok(),
                "{:?}",
                String::from_utf8_lossy(w)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn label_agrees_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
                                     prefix in proptest::sample::select(vec![
                                         "", "id", "sub", "submit", "submit date", "done date", "dlvrd",
                                         "stat", "err", "text", "ST", "Sub", "DONE",
                                     ])) {
            let mut input = prefix.as_bytes().to_vec();
            input.extend_from_slice(&bytes);
            proptest::prop_assert_eq!(label(&input).ok(), label_tried_in_turn(&input).ok());
        }
    }

    #[test]
    fn appendix_b_example() {
        let r = parse_receipt(
            b"id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:hello",
        );
        let r = r.map_err(|e| e.to_string());
        assert_eq!(
            r.map(|r| (r.id, r.stat, r.err, r.text)),
            Ok((
                Some(&b"IIIIIIIIII"[..]),
                Some(&b"DDDDDDD"[..]),
                Some(&b"E"[..]),
                Some(&b"hello"[..])
            ))
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            ReceiptDate::parse(b"2301311259"),
            Some(ReceiptDate {
                year: 2023,
                month: 1,
                day: 31,
                hour: 12,
                minute: 59,
                second: None
            })
        );
        assert_eq!(
            ReceiptDate::parse(b"230131125907").and_then(|d| d.second),
            Some(7)
        );
        assert_eq!(
            ReceiptDate::parse(b"20230131125907").map(|d| d.year),
            Some(2023)
        );
        assert_eq!(ReceiptDate::parse(b"2313311259"), None);
        assert_eq!(ReceiptDate::parse(b"23013112"), None);
        assert_eq!(ReceiptDate::parse(b"23O1311259"), None);
    }

    #[test]
    fn message_state_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(ReceiptState::from_message_state(v).message_state(), Some(v));
        }
    }

    #[test]
    fn id_forms() {
        assert_eq!(MessageIdForm::of(b"0123456789"), MessageIdForm::Decimal);
        assert_eq!(MessageIdForm::of(b"1a2B3c"), MessageIdForm::Hex);
        assert_eq!(
            MessageIdForm::of(b"123e4567-e89b-12d3-a456-426614174000"),
            MessageIdForm::Uuid
        );
        assert_eq!(MessageIdForm::of(b"msg-42"), MessageIdForm::Other);
    }
}
