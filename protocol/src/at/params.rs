//! Parameter lists of information responses and result codes (`+CMTI: "SM",3`): comma-separated values
//! that are numbers, double-quoted strings, parenthesised ranges or empty (3GPP TS 27.007 §4.1, ITU-T V.250
//! §5.7.1).

use nom::branch::alt;
use nom::bytes::complete::{take_till, take_while};
use nom::character::complete::char;
use nom::combinator::{opt, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// One parameter as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param<'a> {
    /// Nothing between two commas.
    Empty,
    /// A double-quoted string, without its quotes.
    Quoted(&'a str),
    /// Anything else (a number, a bare word, a `(0-3)` range), trimmed.
    Bare(&'a str),
}

impl<'a> Param<'a> {
    /// The text of a quoted or bare parameter.
    pub(crate) fn text(self) -> Option<&'a str> {
        match self {
            Param::Empty => None,
            Param::Quoted(s) | Param::Bare(s) => Some(s),
        }
    }

    /// A bare decimal number (at most 9 digits, so it cannot overflow).
    pub(crate) fn number(self) -> Option<u32> {
        match self {
            Param::Bare(s)
                if !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse().ok()
            }
            _ => None,
        }
    }

    /// A bare number that fits `u8`.
    pub(crate) fn u8(self) -> Option<u8> {
        self.number().and_then(|n| u8::try_from(n).ok())
    }

    /// A bare number that fits `u16`.
    pub(crate) fn u16(self) -> Option<u16> {
        self.number().and_then(|n| u16::try_from(n).ok())
    }

    /// Whether it was written in double quotes.
    pub(crate) fn is_quoted(self) -> bool {
        matches!(self, Param::Quoted(_))
    }
}

fn quoted(input: &str) -> IResult<&str, Param<'_>> {
    // An unterminated string runs to the end of the line rather than failing the whole list.
    let (input, body) = preceded(char('"'), take_till(|c| c == '"')).parse(input)?;
    let (input, _) = opt(char('"')).parse(input)?;
    let (input, _) = take_while(|c| c != ',').parse(input)?;
    Ok((input, Param::Quoted(body)))
}

/// `(0-3)` or `(2,"Op","O","20404",7)` in a test-command answer: commas inside do not split.
fn parenthesised(input: &str) -> IResult<&str, &str> {
    delimited(char('('), take_till(|c| c == ')'), opt(char(')'))).parse(input)
}

fn bare(input: &str) -> IResult<&str, Param<'_>> {
    let (after, _) = (opt(parenthesised), take_while(|c| c != ',')).parse(input)?;
    let used = input.len().saturating_sub(after.len());
    let text = input.get(..used).unwrap_or_default().trim();
    Ok((
        after,
        if text.is_empty() {
            Param::Empty
        } else {
            Param::Bare(text)
        },
    ))
}

fn param(input: &str) -> IResult<&str, Param<'_>> {
    let (input, _) = take_while(|c| c == ' ').parse(input)?;
    alt((quoted, bare)).parse(input)
}

/// Splits a parameter list. Never fails: whatever cannot be split any further is one bare parameter.
pub(crate) fn params(input: &str) -> Vec<Param<'_>> {
    let mut out = Vec::new();
    let mut input = input.trim();
    if input.is_empty() {
        return out;
    }
    loop {
        match param(input) {
            Ok((after, p)) => {
                out.push(p);
                match preceded(char::<&str, nom::error::Error<&str>>(','), rest).parse(after) {
                    Ok((_, next)) => input = next,
                    Err(_) => break,
                }
            }
            Err(_) => {
                out.push(Param::Bare(input));
                break;
            }
        }
    }
    out
}

/// Splits `+NAME: params` (or `+NAME` alone) into the upper-cased name and the parameter text. The name is
/// a prefix character (`+ ^ * # $ %`) and letters, digits or `_`.
pub(crate) fn prefixed(line: &str) -> Option<(String, &str)> {
    let first = line.chars().next()?;
    if !matches!(first, '+' | '^' | '*' | '#' | '$' | '%') {
        return None;
    }
    let body = line.get(1..)?;
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    if name_len == 0 {
        return None;
    }
    let name = line.get(..name_len.checked_add(1)?)?;
    let after = line.get(name_len.checked_add(1)?..)?;
    let after = after.trim_start();
    let params = if let Some(p) = after.strip_prefix(':') {
        p.trim()
    } else if after.is_empty() {
        ""
    } else {
        return None;
    };
    Some((name.to_ascii_uppercase(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(
            params(r#""SM",3"#),
            vec![Param::Quoted("SM"), Param::Bare("3")]
        );
        assert_eq!(
            params(r#"1,,24"#),
            vec![Param::Bare("1"), Param::Empty, Param::Bare("24")]
        );
        assert_eq!(
            params(r#"(2,"Op","O","20404",7),,(0-4)"#),
            vec![
                Param::Bare(r#"(2,"Op","O","20404",7)"#),
                Param::Empty,
                Param::Bare("(0-4)")
            ]
        );
        assert_eq!(params(r#" 0, "a,b" ,15"#)[1], Param::Quoted("a,b"));
        assert_eq!(
            params(r#""unterminated"#),
            vec![Param::Quoted("unterminated")]
        );
        assert_eq!(params(""), vec![]);
        assert_eq!(params(","), vec![Param::Empty, Param::Empty]);
    }

    #[test]
    fn names() {
        assert_eq!(prefixed("+CSQ: 20,99"), Some(("+CSQ".to_owned(), "20,99")));
        assert_eq!(prefixed("^boot"), Some(("^BOOT".to_owned(), "")));
        assert_eq!(prefixed("+CME ERROR: 10"), None);
        assert_eq!(prefixed("12345"), None);
    }
}
