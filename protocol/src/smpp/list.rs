//! The two entry lists of SMPP 3.4: submit_multi's dest_address (§4.5.1.1) and submit_multi_resp's
//! unsuccess_sme (§4.5.2.1).
//!
//! Like [`Tlvs`](super::tlv::Tlvs), a list keeps the validated wire bytes of its entries (borrowed from the
//! decoded buffer) and their count; entries are decoded on demand by [`DestAddresses::iter`] /
//! [`UnsuccessSmes::iter`]. Decoding therefore allocates nothing, however many entries a PDU carries. A list
//! built from entries ([`DestAddresses::from_entries`], `collect()`) holds their encoding, so there is one
//! representation: two lists are equal exactly when their entries are (the encoding is canonical: the
//! entry layout is fixed and every string ends at its only NUL).

use std::borrow::Cow;
use std::fmt;

use super::decode;
use super::encode::check_c;
use super::error::PduError;
use super::pdu::{DestAddress, UnsuccessSme};
use super::status::CommandStatus;
use super::types::{Npi, Ton};

/// Splits a NUL-terminated string off the front: (the octets before the NUL, the rest after it).
fn cstr(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = i.iter().position(|&b| b == 0)?;
    let (s, rest) = i.split_at(p);
    Some((s, rest.get(1..).unwrap_or(&[])))
}

/// Reads one dest_address entry from bytes already validated (no maximum length is enforced here, so a
/// list built from over-long entries reads them back too; [`super::Pdu::validate`] reports those).
fn read_dest(i: &[u8]) -> Option<(DestAddress<'_>, &[u8])> {
    match *i {
        [1, ton, npi, ref rest @ ..] => {
            let (s, rest) = cstr(rest)?;
            Some((
                DestAddress::Sme {
                    dest_addr_ton: Ton(ton),
                    dest_addr_npi: Npi(npi),
                    destination_addr: Cow::Borrowed(s),
                },
                rest,
            ))
        }
        [2, ref rest @ ..] => {
            let (s, rest) = cstr(rest)?;
            Some((
                DestAddress::DistributionList {
                    dl_name: Cow::Borrowed(s),
                },
                rest,
            ))
        }
        _ => None,
    }
}

fn write_dest(out: &mut Vec<u8>, d: &DestAddress<'_>) {
    match d {
        DestAddress::Sme {
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
        } => {
            out.extend_from_slice(&[1, dest_addr_ton.0, dest_addr_npi.0]);
            out.extend_from_slice(destination_addr);
        }
        DestAddress::DistributionList { dl_name } => {
            out.push(2);
            out.extend_from_slice(dl_name);
        }
    }
    out.push(0);
}

/// Why an entry given to a list cannot be sent as it is; small, so lists (and every `Pdu`) stay small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unsendable {
    /// dl_name (else destination_addr).
    dl_name: bool,
    /// It contains a NUL (else it is over its maximum length).
    nul: bool,
}

impl Unsendable {
    fn check(dl_name: bool, v: &[u8]) -> Option<Unsendable> {
        let f = if dl_name {
            decode::DL_NAME
        } else {
            decode::DESTINATION_ADDR
        };
        match check_c(f, v) {
            Ok(()) => None,
            Err(e) => Some(Unsendable {
                dl_name,
                nul: matches!(e, PduError::ContainsNul { .. }),
            }),
        }
    }

    /// The error [`check_c`] gives for it.
    fn error(self) -> PduError {
        let f = if self.dl_name {
            decode::DL_NAME
        } else {
            decode::DESTINATION_ADDR
        };
        if self.nul {
            PduError::ContainsNul {
                field: f.name,
                status: f.status,
            }
        } else {
            PduError::FieldTooLong {
                field: f.name,
                max: f.max,
                offset: 0,
                status: f.status,
            }
        }
    }
}

fn check_dest(d: &DestAddress<'_>) -> Option<Unsendable> {
    match d {
        DestAddress::Sme {
            destination_addr, ..
        } => Unsendable::check(false, destination_addr),
        DestAddress::DistributionList { dl_name } => Unsendable::check(true, dl_name),
    }
}

/// Reads one unsuccess_sme entry from bytes already validated (see [`read_dest`]).
fn read_unsuccess(i: &[u8]) -> Option<(UnsuccessSme<'_>, &[u8])> {
    let [ton, npi, ref rest @ ..] = *i else {
        return None;
    };
    let (s, rest) = cstr(rest)?;
    let [a, b, c, d, ref rest @ ..] = *rest else {
        return None;
    };
    Some((
        UnsuccessSme {
            dest_addr_ton: Ton(ton),
            dest_addr_npi: Npi(npi),
            destination_addr: Cow::Borrowed(s),
            error_status_code: CommandStatus(u32::from_be_bytes([a, b, c, d])),
        },
        rest,
    ))
}

fn write_unsuccess(out: &mut Vec<u8>, u: &UnsuccessSme<'_>) {
    out.extend_from_slice(&[u.dest_addr_ton.0, u.dest_addr_npi.0]);
    out.extend_from_slice(&u.destination_addr);
    out.push(0);
    out.extend_from_slice(&u.error_status_code.0.to_be_bytes());
}

fn check_unsuccess(u: &UnsuccessSme<'_>) -> Option<Unsendable> {
    Unsendable::check(false, &u.destination_addr)
}

macro_rules! entry_list {
    (
        $(#[$doc:meta])*
        $list:ident, $iter:ident, $item:ident, $read:ident, $write:ident, $check:ident, $parse:path, $what:literal
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Default)]
        pub struct $list<'a> {
            /// The entries' wire bytes: exactly `count` entries, nothing else.
            bytes: Cow<'a, [u8]>,
            /// u32 (saturating) rather than usize, to keep the list at 32 octets.
            count: u32,
            /// For a list built from entries: the first entry that cannot be sent as given (a NUL inside a
            /// string, a string over its maximum), reported by [`super::Pdu::validate`]. Never set on a list
            /// that was decoded.
            invalid: Option<Unsendable>,
        }

        impl<'a> $list<'a> {
            /// No entries.
            pub const fn new() -> $list<'a> {
                $list {
                    bytes: Cow::Borrowed(&[]),
                    count: 0,
                    invalid: None,
                }
            }

            #[doc = concat!("Reads `count` ", $what, " entries from the front of `input`, checking each as the PDU")]
            /// decoder does (same errors, statuses and offsets, counted from the start of `input`), and borrows
            /// their bytes. Returns the list and the input after it.
            pub fn parse(input: &'a [u8], count: u8) -> Result<($list<'a>, &'a [u8]), PduError> {
                $parse(input, count)
            }

            /// A list over `bytes` that the decoder has checked to be exactly `count` entries.
            pub(crate) fn from_validated(bytes: &'a [u8], count: u8) -> $list<'a> {
                $list {
                    bytes: Cow::Borrowed(bytes),
                    count: u32::from(count),
                    invalid: None,
                }
            }

            /// A list holding the encoding of these entries.
            pub fn from_entries<'e, I: IntoIterator<Item = $item<'e>>>(entries: I) -> $list<'a> {
                let mut l = $list::new();
                for e in entries {
                    l.push(&e);
                }
                l
            }

            /// Appends an entry.
            pub fn push(&mut self, entry: &$item<'_>) {
                if self.invalid.is_none() {
                    self.invalid = $check(entry);
                }
                $write(self.bytes.to_mut(), entry);
                self.count = self.count.saturating_add(1);
            }

            /// Number of entries.
            pub fn len(&self) -> usize {
                usize::try_from(self.count).unwrap_or(usize::MAX)
            }

            /// True when there are none.
            pub fn is_empty(&self) -> bool {
                self.count == 0
            }

            /// The entries in wire order, borrowing from the list.
            pub fn iter(&self) -> $iter<'_> {
                $iter {
                    rest: &self.bytes,
                    left: self.len(),
                }
            }

            /// The wire bytes of all entries (without the count octet).
            pub fn wire_bytes(&self) -> &[u8] {
                &self.bytes
            }

            /// The wire bytes of the first `n` entries.
            pub(crate) fn wire_prefix(&self, n: usize) -> &[u8] {
                if n >= self.len() {
                    return &self.bytes;
                }
                let mut it = self.iter();
                for _ in 0..n {
                    if it.next().is_none() {
                        break;
                    }
                }
                let end = self.bytes.len().saturating_sub(it.rest.len());
                self.bytes.get(..end).unwrap_or(&self.bytes)
            }

            /// Why an entry cannot be sent as given, for a list built from entries.
            pub(crate) fn invalid(&self) -> Option<PduError> {
                self.invalid.map(Unsendable::error)
            }

            /// A copy that owns its bytes.
            pub fn into_owned(self) -> $list<'static> {
                $list {
                    bytes: Cow::Owned(self.bytes.into_owned()),
                    count: self.count,
                    invalid: self.invalid,
                }
            }
        }

        impl fmt::Debug for $list<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        impl<'e> FromIterator<$item<'e>> for $list<'_> {
            fn from_iter<I: IntoIterator<Item = $item<'e>>>(entries: I) -> Self {
                $list::from_entries(entries)
            }
        }

        impl<'e> From<Vec<$item<'e>>> for $list<'_> {
            fn from(entries: Vec<$item<'e>>) -> Self {
                $list::from_entries(entries)
            }
        }

        impl<'t> IntoIterator for &'t $list<'_> {
            type Item = $item<'t>;
            type IntoIter = $iter<'t>;
            fn into_iter(self) -> $iter<'t> {
                self.iter()
            }
        }

        #[doc = concat!("Iterator over the entries of a [`", stringify!($list), "`].")]
        #[derive(Clone)]
        pub struct $iter<'a> {
            rest: &'a [u8],
            left: usize,
        }

        impl<'a> Iterator for $iter<'a> {
            type Item = $item<'a>;
            fn next(&mut self) -> Option<$item<'a>> {
                if self.left == 0 {
                    return None;
                }
                // The bytes are validated on construction; anything short just ends the iteration.
                match $read(self.rest) {
                    Some((e, rest)) => {
                        self.rest = rest;
                        self.left -= 1;
                        Some(e)
                    }
                    None => {
                        self.left = 0;
                        None
                    }
                }
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                (0, Some(self.left))
            }
        }
    };
}

entry_list! {
    /// submit_multi's dest_address entries (SMPP 3.4 §4.5.1.1): validated wire bytes and their count.
    DestAddresses, DestAddressIter, DestAddress, read_dest, write_dest, check_dest,
    decode::parse_dest_addresses, "dest_address"
}

entry_list! {
    /// submit_multi_resp's unsuccess_sme entries (SMPP 3.4 §4.5.2.1): validated wire bytes and their count.
    UnsuccessSmes, UnsuccessSmeIter, UnsuccessSme, read_unsuccess, write_unsuccess, check_unsuccess,
    decode::parse_unsuccess_smes, "unsuccess_sme"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sme(addr: &[u8]) -> DestAddress<'_> {
        DestAddress::Sme {
            dest_addr_ton: Ton(1),
            dest_addr_npi: Npi(1),
            destination_addr: Cow::Borrowed(addr),
        }
    }

    fn dl(name: &[u8]) -> DestAddress<'_> {
        DestAddress::DistributionList {
            dl_name: Cow::Borrowed(name),
        }
    }

    #[test]
    fn parse_borrows_254_minimal_entries() {
        let mut wire = [1u8, 1, 1, 0].repeat(254);
        wire.extend_from_slice(b"rest");
        let (l, rest) = DestAddresses::parse(&wire, 254).unwrap();
        assert_eq!(rest, b"rest");
        assert!(matches!(l.bytes, Cow::Borrowed(_)));
        assert_eq!(l.len(), 254);
        assert_eq!(l.wire_bytes().len(), 254 * 4);
        assert!(l.iter().all(|d| d == sme(b"")));
        assert_eq!(l.iter().count(), 254);
    }

    #[test]
    fn entries_round_trip_through_the_bytes() {
        let entries = [sme(b"447700900003"), dl(b"friends"), sme(b"")];
        let l: DestAddresses<'_> = entries.iter().cloned().collect();
        assert_eq!(l.len(), 3);
        assert_eq!(l.iter().collect::<Vec<_>>(), entries);
        assert_eq!(l.invalid(), None);
        let (p, rest) = DestAddresses::parse(l.wire_bytes(), 3).unwrap();
        assert!(rest.is_empty());
        // Parsed and built lists compare equal: one representation.
        assert_eq!(p, l);
        assert_eq!(p.clone().into_owned(), l);
        assert_ne!(
            p,
            DestAddresses::from_entries([sme(b"447700900003"), dl(b"friends")])
        );
        assert_eq!(
            format!("{l:?}"),
            format!("{:?}", entries.iter().collect::<Vec<_>>())
        );
        assert_eq!(DestAddresses::default(), DestAddresses::from_entries([]));
        assert!(DestAddresses::new().is_empty());

        let u = UnsuccessSme {
            dest_addr_ton: Ton(1),
            dest_addr_npi: Npi(1),
            destination_addr: Cow::Borrowed(b"4477"),
            error_status_code: CommandStatus::ESME_RINVDSTADR,
        };
        let l = UnsuccessSmes::from_entries([u.clone(), UnsuccessSme::default()]);
        assert_eq!(
            l.wire_bytes(),
            b"\x01\x01\x34\x34\x37\x37\0\0\0\0\x0b\0\0\0\0\0\0\0"
        );
        assert_eq!(l.iter().collect::<Vec<_>>(), [u, UnsuccessSme::default()]);
        let (p, _) = UnsuccessSmes::parse(l.wire_bytes(), 2).unwrap();
        assert_eq!(p, l);
    }

    #[test]
    fn parse_reports_what_the_decoder_does() {
        assert_eq!(
            DestAddresses::parse(&[1, 1, 1, 0, 3], 2).unwrap_err(),
            PduError::InvalidValue {
                field: "dest_flag",
                value: 3,
                offset: 4,
                status: CommandStatus::ESME_RINVDESTFLAG
            }
        );
        assert_eq!(
            DestAddresses::parse(&[2, b'a', b'b'], 1).unwrap_err(),
            PduError::Unterminated {
                field: "dl_name",
                max: 21,
                offset: 1,
                status: CommandStatus::ESME_RINVDLNAME
            }
        );
        assert_eq!(
            UnsuccessSmes::parse(&[1, 1, 0, 0, 0], 1).unwrap_err(),
            PduError::Truncated {
                field: "error_status_code",
                offset: 3
            }
        );
    }

    #[test]
    fn unsendable_entries_are_kept_for_validate() {
        let d = DestAddresses::from_entries([sme(b"1"), dl(b"a\0b"), sme(&[b'9'; 30])]);
        assert_eq!(
            d.invalid(),
            Some(PduError::ContainsNul {
                field: "dl_name",
                status: CommandStatus::ESME_RINVDLNAME
            })
        );
        let l = DestAddresses::from_entries([sme(b"1"), sme(&[b'9'; 21]), dl(b"a\0b")]);
        assert_eq!(
            l.invalid(),
            Some(PduError::FieldTooLong {
                field: "destination_addr",
                max: 21,
                offset: 0,
                status: CommandStatus::ESME_RINVDSTADR
            })
        );
        let l = UnsuccessSmes::from_entries([UnsuccessSme {
            destination_addr: Cow::Borrowed(b"1\x002"),
            ..UnsuccessSme::default()
        }]);
        assert_eq!(
            l.invalid(),
            Some(PduError::ContainsNul {
                field: "destination_addr",
                status: CommandStatus::ESME_RINVDSTADR
            })
        );
        // Encoded as given.
        assert_eq!(
            d.wire_bytes().get(..9),
            Some(&b"\x01\x01\x011\0\x02a\0b"[..])
        );
    }

    #[test]
    fn wire_prefix_stops_after_n_entries() {
        let l = DestAddresses::from_entries((0..300).map(|_| dl(b"x")));
        assert_eq!(l.len(), 300);
        assert_eq!(l.wire_prefix(255).len(), 255 * 3);
        assert_eq!(l.wire_prefix(300).len(), 300 * 3);
    }
}
