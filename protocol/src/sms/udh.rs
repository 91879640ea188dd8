//! The user data header, TS 23.040 §9.2.3.24: UDHL then information elements (IEI, length, data).

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::u8 as octet;

use super::DecodeError;
use super::alphabet::NationalLanguage;

/// One information element, TS 23.040 §9.2.3.24. Elements with an unknown IEI, or a known IEI with a length the
/// spec does not allow, are kept byte-exact as [`InformationElement::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InformationElement {
    /// IEI 0x00: concatenated short message, 8-bit reference (§9.2.3.24.1).
    Concat8 {
        reference: u8,
        parts: u8,
        number: u8,
    },
    /// IEI 0x08: concatenated short message, 16-bit reference (§9.2.3.24.8).
    Concat16 {
        reference: u16,
        parts: u8,
        number: u8,
    },
    /// IEI 0x04: application port addressing, 8-bit ports (§9.2.3.24.3).
    Ports8 { destination: u8, source: u8 },
    /// IEI 0x05: application port addressing, 16-bit ports (§9.2.3.24.4).
    Ports16 { destination: u16, source: u16 },
    /// IEI 0x24: national language single shift (§9.2.3.24.15).
    SingleShift(NationalLanguage),
    /// IEI 0x25: national language locking shift (§9.2.3.24.16).
    LockingShift(NationalLanguage),
    /// Any other element, as on the wire.
    Other { iei: u8, data: Vec<u8> },
}

impl InformationElement {
    /// The IEI octet.
    pub fn iei(&self) -> u8 {
        match self {
            Self::Concat8 { .. } => 0x00,
            Self::Concat16 { .. } => 0x08,
            Self::Ports8 { .. } => 0x04,
            Self::Ports16 { .. } => 0x05,
            Self::SingleShift(_) => 0x24,
            Self::LockingShift(_) => 0x25,
            Self::Other { iei, .. } => *iei,
        }
    }

    /// The element from its IEI and data.
    pub fn from_parts(iei: u8, data: &[u8]) -> Self {
        match (iei, data) {
            (0x00, &[reference, parts, number]) => Self::Concat8 {
                reference,
                parts,
                number,
            },
            (0x08, &[r0, r1, parts, number]) => Self::Concat16 {
                reference: u16::from_be_bytes([r0, r1]),
                parts,
                number,
            },
            (0x04, &[destination, source]) => Self::Ports8 {
                destination,
                source,
            },
            (0x05, &[d0, d1, s0, s1]) => Self::Ports16 {
                destination: u16::from_be_bytes([d0, d1]),
                source: u16::from_be_bytes([s0, s1]),
            },
            (0x24, &[lang]) => Self::SingleShift(NationalLanguage::from_id(lang)),
            (0x25, &[lang]) => Self::LockingShift(NationalLanguage::from_id(lang)),
            _ => Self::Other {
                iei,
                data: data.to_vec(),
            },
        }
    }

    /// Appends IEI, length and data.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.iei());
        match self {
            Self::Concat8 {
                reference,
                parts,
                number,
            } => out.extend_from_slice(&[3, *reference, *parts, *number]),
            Self::Concat16 {
                reference,
                parts,
                number,
            } => {
                let r = reference.to_be_bytes();
                out.extend_from_slice(&[4, r[0], r[1], *parts, *number]);
            }
            Self::Ports8 {
                destination,
                source,
            } => out.extend_from_slice(&[2, *destination, *source]),
            Self::Ports16 {
                destination,
                source,
            } => {
                out.push(4);
                out.extend_from_slice(&destination.to_be_bytes());
                out.extend_from_slice(&source.to_be_bytes());
            }
            Self::SingleShift(l) | Self::LockingShift(l) => out.extend_from_slice(&[1, l.id()]),
            Self::Other { data, .. } => {
                out.push(data.len().min(255) as u8);
                out.extend_from_slice(data.get(..data.len().min(255)).unwrap_or_default());
            }
        }
    }

    /// The encoded size: IEI, length and data.
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            Self::Concat8 { .. } => 3,
            Self::Concat16 { .. } | Self::Ports16 { .. } => 4,
            Self::Ports8 { .. } => 2,
            Self::SingleShift(_) | Self::LockingShift(_) => 1,
            Self::Other { data, .. } => data.len().min(255),
        }
    }
}

/// The concatenation fields of a header, whatever the reference width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConcatInfo {
    /// The reference (8- or 16-bit).
    pub reference: u16,
    /// Total number of parts.
    pub parts: u8,
    /// This part's number, from 1.
    pub number: u8,
}

/// A user data header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Udh {
    /// The elements in wire order.
    pub elements: Vec<InformationElement>,
}

impl Udh {
    /// Parses a header whose UDHL octet is the first of `input`; returns it and the octets used (UDHL included).
    pub fn parse(input: &[u8]) -> Result<(Udh, usize), DecodeError> {
        let (rest, udhl) =
            octet::<_, nom::error::Error<&[u8]>>(input).map_err(|_| DecodeError::Truncated {
                field: "UDHL",
                offset: 0,
            })?;
        let (_, mut body) = take::<_, _, nom::error::Error<&[u8]>>(usize::from(udhl))
            .parse(rest)
            .map_err(|_| DecodeError::Truncated {
                field: "UDH",
                offset: 1,
            })?;
        let mut elements = Vec::new();
        while !body.is_empty() {
            let offset = 1 + usize::from(udhl) - body.len();
            let r: nom::IResult<&[u8], (u8, &[u8])> =
                (octet, nom::multi::length_data(octet)).parse(body);
            let (rest, (iei, data)) = r.map_err(|_| DecodeError::Truncated {
                field: "UDH information element",
                offset,
            })?;
            elements.push(InformationElement::from_parts(iei, data));
            body = rest;
        }
        Ok((Udh { elements }, 1 + usize::from(udhl)))
    }

    /// Appends UDHL and the elements.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.body_len().min(255) as u8);
        for e in &self.elements {
            e.encode(out);
        }
    }

    fn body_len(&self) -> usize {
        self.elements
            .iter()
            .map(InformationElement::encoded_len)
            .sum()
    }

    /// The encoded size, UDHL included.
    pub fn encoded_len(&self) -> usize {
        1 + self.body_len()
    }

    /// The concatenation element, if any.
    pub fn concat(&self) -> Option<ConcatInfo> {
        self.elements.iter().find_map(|e| match *e {
            InformationElement::Concat8 {
                reference,
                parts,
                number,
            } => Some(ConcatInfo {
                reference: u16::from(reference),
                parts,
                number,
            }),
            InformationElement::Concat16 {
                reference,
                parts,
                number,
            } => Some(ConcatInfo {
                reference,
                parts,
                number,
            }),
            _ => None,
        })
    }

    /// The national language tables the header selects.
    pub fn gsm7_tables(&self) -> super::alphabet::Gsm7Tables {
        let mut t = super::alphabet::Gsm7Tables::DEFAULT;
        for e in &self.elements {
            match *e {
                InformationElement::SingleShift(l) => t.single = Some(l),
                InformationElement::LockingShift(l) => t.locking = Some(l),
                _ => {}
            }
        }
        t
    }

    /// The application ports (destination, source), if any.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.elements.iter().find_map(|e| match *e {
            InformationElement::Ports8 {
                destination,
                source,
            } => Some((u16::from(destination), u16::from(source))),
            InformationElement::Ports16 {
                destination,
                source,
            } => Some((destination, source)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_concat_shift_and_unknown() {
        let bytes = [
            0x0A, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x70, 0x00, 0x25, 0x01, 0x01,
        ];
        let (udh, used) = Udh::parse(&bytes).unwrap();
        assert_eq!(used, 11);
        assert_eq!(
            udh.elements,
            vec![
                InformationElement::Concat8 {
                    reference: 0x2A,
                    parts: 2,
                    number: 1
                },
                InformationElement::Other {
                    iei: 0x70,
                    data: vec![]
                },
                InformationElement::LockingShift(NationalLanguage::Turkish),
            ]
        );
        assert_eq!(
            udh.concat(),
            Some(ConcatInfo {
                reference: 0x2A,
                parts: 2,
                number: 1
            })
        );
        let mut out = Vec::new();
        udh.encode(&mut out);
        assert_eq!(out, bytes);
        // An element running past UDHL is an error, not a panic.
        assert!(Udh::parse(&[0x03, 0x00, 0x03, 0x01]).is_err());
        // A known IEI with a wrong length is kept as is.
        let (odd, _) = Udh::parse(&[0x03, 0x00, 0x01, 0x07]).unwrap();
        assert_eq!(
            odd.elements,
            vec![InformationElement::Other {
                iei: 0,
                data: vec![7]
            }]
        );
    }
}
