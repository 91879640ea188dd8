//! TS 23.040 §9.2.2 TPDUs: SMS-SUBMIT (§9.2.2.2), SMS-DELIVER (§9.2.2.1) and SMS-STATUS-REPORT (§9.2.2.3), and the
//! user data with its header (§9.2.3.16, §9.2.3.24).
//!
//! Decoding goes by TP-MTI as seen by a mobile station's host: 00 = SMS-DELIVER, 01 = SMS-SUBMIT,
//! 10 = SMS-STATUS-REPORT (the DELIVER-REPORT, SUBMIT-REPORT and COMMAND that share those codes are not handled).

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::u8 as octet;

use super::address::Address;
use super::alphabet;
use super::fields::{Alphabet, Dcs, Pid, Status, Timestamp, ValidityPeriod};
use super::udh::Udh;
use super::{DecodeError, EncodeError};

/// A cursor over a TPDU that reads fields with nom parsers and reports the field name and offset on failure.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

type NomErr<'a> = nom::error::Error<&'a [u8]>;

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    fn octet(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (rest, v) = octet::<_, NomErr<'a>>(self.input).map_err(|_| DecodeError::Truncated {
            field,
            offset: self.pos,
        })?;
        self.input = rest;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let (rest, v) =
            take::<_, _, NomErr<'a>>(n)
                .parse(self.input)
                .map_err(|_| DecodeError::Truncated {
                    field,
                    offset: self.pos,
                })?;
        self.input = rest;
        self.pos += n;
        Ok(v)
    }

    fn array7(&mut self, field: &'static str) -> Result<[u8; 7], DecodeError> {
        let s = self.take(7, field)?;
        let mut a = [0u8; 7];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn timestamp(&mut self, field: &'static str) -> Result<Timestamp, DecodeError> {
        let at = self.pos;
        let raw = self.array7(field)?;
        Timestamp::decode(&raw).map_err(|e| match e {
            DecodeError::Invalid { offset, value, .. } => DecodeError::Invalid {
                field,
                offset: at + offset,
                value,
            },
            other => other,
        })
    }

    /// TS 23.040 §9.1.2.5: length in semi-octets, type of address, value.
    fn address(&mut self, field: &'static str) -> Result<Address, DecodeError> {
        let at = self.pos;
        let semi = self.octet(field)?;
        if semi > 20 {
            return Err(DecodeError::Invalid {
                field,
                offset: at,
                value: semi,
            });
        }
        let toa = self.octet(field)?;
        let value = self.take(usize::from(semi).div_ceil(2), field)?;
        Address::from_tp_parts(semi, toa, value).map_err(|v| DecodeError::Invalid {
            field,
            offset: at + 2,
            value: v,
        })
    }

    fn rest(&self) -> &'a [u8] {
        self.input
    }
}

/// TP-UD with its header, TS 23.040 §9.2.3.24.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserData {
    /// The user data header (TP-UDHI set).
    pub header: Option<Udh>,
    /// After the header: septets (one per octet, 0-127) for GSM 7-bit, octets for 8-bit data and UCS-2.
    pub body: Vec<u8>,
    /// TP-UDL claimed more than the TPDU carries; `body` holds what was there.
    pub truncated: bool,
}

impl UserData {
    /// GSM 7-bit user data for `text` with the tables the header selects (or the default ones).
    pub fn gsm7(text: &str, header: Option<Udh>) -> Result<Self, EncodeError> {
        let tables = header.as_ref().map(Udh::gsm7_tables).unwrap_or_default();
        let mut body = Vec::new();
        tables
            .encode_str(text, &mut body)
            .map_err(EncodeError::NotGsm7)?;
        Ok(Self {
            header,
            body,
            truncated: false,
        })
    }

    /// UCS-2 (UTF-16BE) user data for `text`.
    pub fn ucs2(text: &str, header: Option<Udh>) -> Self {
        let mut body = Vec::new();
        alphabet::encode_ucs2_into(text, &mut body);
        Self {
            header,
            body,
            truncated: false,
        }
    }

    /// The text, decoded by the alphabet `dcs` names; `None` for 8-bit data and compressed text.
    pub fn text(&self, dcs: Dcs) -> Option<String> {
        if dcs.compressed() {
            return None;
        }
        match dcs.alphabet() {
            Alphabet::Gsm7 => {
                let tables = self
                    .header
                    .as_ref()
                    .map(Udh::gsm7_tables)
                    .unwrap_or_default();
                Some(tables.decode(&self.body))
            }
            Alphabet::Ucs2 => Some(alphabet::decode_ucs2(&self.body)),
            Alphabet::Eight => None,
        }
    }

    /// The alphabet that sizes TP-UDL: compressed data is counted in octets (§9.2.3.16).
    fn wire_alphabet(dcs: Dcs) -> Alphabet {
        if dcs.udl_in_septets() {
            Alphabet::Gsm7
        } else {
            Alphabet::Eight
        }
    }

    /// Decodes TP-UD given TP-UDL and the octets that follow it. Tolerant: a TP-UDL longer than the data sets
    /// `truncated` and keeps what is there.
    pub fn decode(udl: u8, data: &[u8], dcs: Dcs, udhi: bool) -> Result<Self, DecodeError> {
        let udl = usize::from(udl);
        match Self::wire_alphabet(dcs) {
            Alphabet::Gsm7 => {
                let needed = (udl * 7).div_ceil(8);
                let avail = data.get(..needed.min(data.len())).unwrap_or_default();
                let mut truncated = avail.len() < needed;
                let (header, hlen) = if udhi && !avail.is_empty() {
                    let (h, n) = Udh::parse(avail)?;
                    (Some(h), n)
                } else {
                    (None, 0)
                };
                let header_septets = alphabet::udh_septets(hlen);
                let wanted = udl.saturating_sub(header_septets);
                let mut body = Vec::with_capacity(wanted);
                let after = avail.get(hlen..).unwrap_or_default();
                let got = alphabet::unpack_septets_into(
                    after,
                    alphabet::fill_bits(hlen),
                    wanted,
                    &mut body,
                );
                truncated |= got < wanted;
                Ok(Self {
                    header,
                    body,
                    truncated,
                })
            }
            _ => {
                let avail = data.get(..udl.min(data.len())).unwrap_or_default();
                let truncated = avail.len() < udl;
                let (header, hlen) = if udhi && !avail.is_empty() {
                    let (h, n) = Udh::parse(avail)?;
                    (Some(h), n)
                } else {
                    (None, 0)
                };
                let body = avail.get(hlen..).unwrap_or_default().to_vec();
                Ok(Self {
                    header,
                    body,
                    truncated,
                })
            }
        }
    }

    /// Appends TP-UDL and TP-UD.
    pub fn encode(&self, dcs: Dcs, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut header = Vec::new();
        if let Some(h) = &self.header {
            h.encode(&mut header);
        }
        match Self::wire_alphabet(dcs) {
            Alphabet::Gsm7 => {
                let udl = alphabet::udh_septets(header.len()) + self.body.len();
                if udl > 160 {
                    return Err(EncodeError::UserDataTooLong {
                        len: udl,
                        max: 160,
                        unit: "septets",
                    });
                }
                out.push(udl as u8);
                out.extend_from_slice(&header);
                alphabet::pack_septets_into(&self.body, alphabet::fill_bits(header.len()), out);
            }
            _ => {
                let udl = header.len() + self.body.len();
                if udl > 140 {
                    return Err(EncodeError::UserDataTooLong {
                        len: udl,
                        max: 140,
                        unit: "octets",
                    });
                }
                out.push(udl as u8);
                out.extend_from_slice(&header);
                out.extend_from_slice(&self.body);
            }
        }
        Ok(())
    }

    /// TP-UD as on the wire (without TP-UDL).
    pub fn wire_bytes(&self, dcs: Dcs) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::new();
        self.encode(dcs, &mut v)?;
        v.remove(0);
        Ok(v)
    }

    /// The septet (GSM 7-bit) or octet count of TP-UDL.
    pub fn udl(&self, dcs: Dcs) -> usize {
        let h = self.header.as_ref().map_or(0, Udh::encoded_len);
        match Self::wire_alphabet(dcs) {
            Alphabet::Gsm7 => alphabet::udh_septets(h) + self.body.len(),
            _ => h + self.body.len(),
        }
    }
}

/// SMS-SUBMIT, TS 23.040 §9.2.2.2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Submit {
    /// TP-RD: reject duplicates.
    pub tp_rd: bool,
    /// TP-SRR: status report requested.
    pub tp_srr: bool,
    /// TP-RP: reply path.
    pub tp_rp: bool,
    /// TP-MR: message reference.
    pub tp_mr: u8,
    /// TP-DA: destination address.
    pub tp_da: Address,
    /// TP-PID.
    pub tp_pid: Pid,
    /// TP-DCS.
    pub tp_dcs: Dcs,
    /// TP-VP, in the format that sets TP-VPF (absent: TP-VPF 00).
    pub tp_vp: Option<ValidityPeriod>,
    /// TP-UD (TP-UDHI is set when it has a header).
    pub tp_ud: UserData,
}

/// SMS-DELIVER, TS 23.040 §9.2.2.1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deliver {
    /// TP-MMS as on the wire: `true` (1) = no more messages waiting.
    pub tp_mms: bool,
    /// TP-LP: loop prevention.
    pub tp_lp: bool,
    /// TP-SRI: a status report will be returned to the originator.
    pub tp_sri: bool,
    /// TP-RP: reply path.
    pub tp_rp: bool,
    /// TP-OA: originating address.
    pub tp_oa: Address,
    /// TP-PID.
    pub tp_pid: Pid,
    /// TP-DCS.
    pub tp_dcs: Dcs,
    /// TP-SCTS: service centre time stamp.
    pub tp_scts: Timestamp,
    /// TP-UD.
    pub tp_ud: UserData,
}

/// SMS-STATUS-REPORT, TS 23.040 §9.2.2.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusReport {
    /// TP-MMS as on the wire: `true` (1) = no more messages waiting.
    pub tp_mms: bool,
    /// TP-LP: loop prevention.
    pub tp_lp: bool,
    /// TP-SRQ: `true` = the report answers an SMS-COMMAND, `false` = an SMS-SUBMIT.
    pub tp_srq: bool,
    /// TP-MR of the SMS-SUBMIT this reports on.
    pub tp_mr: u8,
    /// TP-RA: recipient address.
    pub tp_ra: Address,
    /// TP-SCTS of the reported message.
    pub tp_scts: Timestamp,
    /// TP-DT: discharge time.
    pub tp_dt: Timestamp,
    /// TP-ST.
    pub tp_st: Status,
    /// TP-PI as on the wire (its reserved bits are kept; the presence bits follow the fields below on encode).
    pub tp_pi: Option<u8>,
    /// TP-PID, when TP-PI says it is present.
    pub tp_pid: Option<Pid>,
    /// TP-DCS, when TP-PI says it is present.
    pub tp_dcs: Option<Dcs>,
    /// TP-UDL and TP-UD, when TP-PI says they are present (decoded with TP-DCS, or GSM 7-bit without it).
    pub tp_ud: Option<UserData>,
}

/// One of the TPDUs this module handles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tpdu {
    /// SMS-SUBMIT.
    Submit(Submit),
    /// SMS-DELIVER.
    Deliver(Deliver),
    /// SMS-STATUS-REPORT.
    StatusReport(StatusReport),
}

const UDHI: u8 = 0x40;

impl Submit {
    /// A plain SMS-SUBMIT: default PID, no validity period, no flags.
    pub fn new(tp_da: Address, tp_dcs: Dcs, tp_ud: UserData) -> Self {
        Self {
            tp_rd: false,
            tp_srr: false,
            tp_rp: false,
            tp_mr: 0,
            tp_da,
            tp_pid: Pid::DEFAULT,
            tp_dcs,
            tp_vp: None,
            tp_ud,
        }
    }

    /// The first octet: TP-MTI 01, TP-RD, TP-VPF, TP-SRR, TP-UDHI, TP-RP (§9.2.2.2).
    pub fn first_octet(&self) -> u8 {
        0x01 | u8::from(self.tp_rd) << 2
            | self.tp_vp.as_ref().map_or(0, ValidityPeriod::vpf) << 3
            | u8::from(self.tp_srr) << 5
            | if self.tp_ud.header.is_some() { UDHI } else { 0 }
            | u8::from(self.tp_rp) << 7
    }

    /// Decodes an SMS-SUBMIT (TP-MTI is not checked).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let fo = r.octet("first octet")?;
        let tp_mr = r.octet("TP-MR")?;
        let tp_da = r.address("TP-DA")?;
        let tp_pid = Pid(r.octet("TP-PID")?);
        let tp_dcs = Dcs(r.octet("TP-DCS")?);
        let tp_vp = match (fo >> 3) & 3 {
            0 => None,
            1 => Some(ValidityPeriod::Enhanced(r.array7("TP-VP")?)),
            2 => Some(ValidityPeriod::Relative(r.octet("TP-VP")?)),
            _ => Some(ValidityPeriod::Absolute(r.timestamp("TP-VP")?)),
        };
        let udl = r.octet("TP-UDL")?;
        let tp_ud = UserData::decode(udl, r.rest(), tp_dcs, fo & UDHI != 0)?;
        Ok(Self {
            tp_rd: fo & 0x04 != 0,
            tp_srr: fo & 0x20 != 0,
            tp_rp: fo & 0x80 != 0,
            tp_mr,
            tp_da,
            tp_pid,
            tp_dcs,
            tp_vp,
            tp_ud,
        })
    }

    /// Encodes the TPDU.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.first_octet());
        out.push(self.tp_mr);
        self.tp_da.encode_tp(out)?;
        out.push(self.tp_pid.0);
        out.push(self.tp_dcs.0);
        match &self.tp_vp {
            None => {}
            Some(ValidityPeriod::Relative(v)) => out.push(*v),
            Some(ValidityPeriod::Absolute(t)) => out.extend_from_slice(&t.encode()?),
            Some(ValidityPeriod::Enhanced(b)) => out.extend_from_slice(b),
        }
        self.tp_ud.encode(self.tp_dcs, out)
    }
}

impl Deliver {
    /// The first octet: TP-MTI 00, TP-MMS, TP-LP, TP-SRI, TP-UDHI, TP-RP (§9.2.2.1).
    pub fn first_octet(&self) -> u8 {
        u8::from(self.tp_mms) << 2
            | u8::from(self.tp_lp) << 3
            | u8::from(self.tp_sri) << 5
            | if self.tp_ud.header.is_some() { UDHI } else { 0 }
            | u8::from(self.tp_rp) << 7
    }

    /// Decodes an SMS-DELIVER (TP-MTI is not checked).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let fo = r.octet("first octet")?;
        let tp_oa = r.address("TP-OA")?;
        let tp_pid = Pid(r.octet("TP-PID")?);
        let tp_dcs = Dcs(r.octet("TP-DCS")?);
        let tp_scts = r.timestamp("TP-SCTS")?;
        let udl = r.octet("TP-UDL")?;
        let tp_ud = UserData::decode(udl, r.rest(), tp_dcs, fo & UDHI != 0)?;
        Ok(Self {
            tp_mms: fo & 0x04 != 0,
            tp_lp: fo & 0x08 != 0,
            tp_sri: fo & 0x20 != 0,
            tp_rp: fo & 0x80 != 0,
            tp_oa,
            tp_pid,
            tp_dcs,
            tp_scts,
            tp_ud,
        })
    }

    /// Encodes the TPDU.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.first_octet());
        self.tp_oa.encode_tp(out)?;
        out.push(self.tp_pid.0);
        out.push(self.tp_dcs.0);
        out.extend_from_slice(&self.tp_scts.encode()?);
        self.tp_ud.encode(self.tp_dcs, out)
    }

    /// The decoded text (`None` for 8-bit data).
    pub fn text(&self) -> Option<String> {
        self.tp_ud.text(self.tp_dcs)
    }
}

impl StatusReport {
    /// The first octet: TP-MTI 10, TP-MMS, TP-LP, TP-SRQ, TP-UDHI (§9.2.2.3).
    pub fn first_octet(&self) -> u8 {
        0x02 | u8::from(self.tp_mms) << 2
            | u8::from(self.tp_lp) << 3
            | u8::from(self.tp_srq) << 5
            | if self.tp_ud.as_ref().is_some_and(|u| u.header.is_some()) {
                UDHI
            } else {
                0
            }
    }

    /// TP-PI as it will be encoded: the stored octet's other bits with the presence bits of the fields.
    pub fn parameter_indicator(&self) -> Option<u8> {
        let presence = u8::from(self.tp_pid.is_some())
            | u8::from(self.tp_dcs.is_some()) << 1
            | u8::from(self.tp_ud.is_some()) << 2;
        match self.tp_pi {
            Some(pi) => Some(pi & !0x07 | presence),
            None if presence != 0 => Some(presence),
            None => None,
        }
    }

    /// Decodes an SMS-STATUS-REPORT (TP-MTI is not checked). The optional parameters after TP-ST are read when
    /// present.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let fo = r.octet("first octet")?;
        let tp_mr = r.octet("TP-MR")?;
        let tp_ra = r.address("TP-RA")?;
        let tp_scts = r.timestamp("TP-SCTS")?;
        let tp_dt = r.timestamp("TP-DT")?;
        let tp_st = Status(r.octet("TP-ST")?);
        let (mut tp_pi, mut tp_pid, mut tp_dcs, mut tp_ud) = (None, None, None, None);
        if !r.rest().is_empty() {
            let pi = r.octet("TP-PI")?;
            tp_pi = Some(pi);
            if pi & 0x01 != 0 {
                tp_pid = Some(Pid(r.octet("TP-PID")?));
            }
            if pi & 0x02 != 0 {
                tp_dcs = Some(Dcs(r.octet("TP-DCS")?));
            }
            if pi & 0x04 != 0 {
                let udl = r.octet("TP-UDL")?;
                tp_ud = Some(UserData::decode(
                    udl,
                    r.rest(),
                    tp_dcs.unwrap_or_default(),
                    fo & UDHI != 0,
                )?);
            }
        }
        Ok(Self {
            tp_mms: fo & 0x04 != 0,
            tp_lp: fo & 0x08 != 0,
            tp_srq: fo & 0x20 != 0,
            tp_mr,
            tp_ra,
            tp_scts,
            tp_dt,
            tp_st,
            tp_pi,
            tp_pid,
            tp_dcs,
            tp_ud,
        })
    }

    /// Encodes the TPDU.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.first_octet());
        out.push(self.tp_mr);
        self.tp_ra.encode_tp(out)?;
        out.extend_from_slice(&self.tp_scts.encode()?);
        out.extend_from_slice(&self.tp_dt.encode()?);
        out.push(self.tp_st.0);
        if let Some(pi) = self.parameter_indicator() {
            out.push(pi);
            if let Some(p) = self.tp_pid {
                out.push(p.0);
            }
            if let Some(d) = self.tp_dcs {
                out.push(d.0);
            }
            if let Some(ud) = &self.tp_ud {
                ud.encode(self.tp_dcs.unwrap_or_default(), out)?;
            }
        }
        Ok(())
    }
}

impl Tpdu {
    /// Decodes a TPDU by its TP-MTI (00 SMS-DELIVER, 01 SMS-SUBMIT, 10 SMS-STATUS-REPORT; 11 is reserved).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let fo = *bytes.first().ok_or(DecodeError::Truncated {
            field: "first octet",
            offset: 0,
        })?;
        match fo & 0x03 {
            0 => Deliver::decode(bytes).map(Self::Deliver),
            1 => Submit::decode(bytes).map(Self::Submit),
            2 => StatusReport::decode(bytes).map(Self::StatusReport),
            _ => Err(DecodeError::Invalid {
                field: "TP-MTI",
                offset: 0,
                value: fo,
            }),
        }
    }

    /// Encodes the TPDU.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(176);
        match self {
            Self::Submit(s) => s.encode(&mut out)?,
            Self::Deliver(d) => d.encode(&mut out)?,
            Self::StatusReport(s) => s.encode(&mut out)?,
        }
        Ok(out)
    }

    /// The first octet.
    pub fn first_octet(&self) -> u8 {
        match self {
            Self::Submit(s) => s.first_octet(),
            Self::Deliver(d) => d.first_octet(),
            Self::StatusReport(s) => s.first_octet(),
        }
    }

    /// The spec's name of the type: "SMS-SUBMIT", "SMS-DELIVER", "SMS-STATUS-REPORT".
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Submit(_) => "SMS-SUBMIT",
            Self::Deliver(_) => "SMS-DELIVER",
            Self::StatusReport(_) => "SMS-STATUS-REPORT",
        }
    }
}

/// Decodes an AT PDU-mode PDU: the service-centre address (`None` when its length octet is 0) then the TPDU
/// (TS 27.005 §3.1).
pub fn decode_with_sca(bytes: &[u8]) -> Result<(Option<Address>, Tpdu), DecodeError> {
    let (sca, used) = Address::decode_sca(bytes)?;
    let rest = bytes.get(used..).unwrap_or_default();
    let tpdu = Tpdu::decode(rest).map_err(|e| match e {
        DecodeError::Truncated { field, offset } => DecodeError::Truncated {
            field,
            offset: offset + used,
        },
        DecodeError::Invalid {
            field,
            offset,
            value,
        } => DecodeError::Invalid {
            field,
            offset: offset + used,
            value,
        },
    })?;
    Ok((sca, tpdu))
}

/// Encodes an AT PDU-mode PDU: the service-centre address (length 0 = use the SIM's) then the TPDU. Returns the
/// bytes and the TPDU length that `AT+CMGS=<length>` takes (TS 27.005 §3.5.1).
pub fn encode_with_sca(
    sca: Option<&Address>,
    tpdu: &Tpdu,
) -> Result<(Vec<u8>, usize), EncodeError> {
    let mut out = Vec::with_capacity(190);
    Address::encode_sca(sca, &mut out)?;
    let sca_len = out.len();
    out.extend_from_slice(&tpdu.encode()?);
    let tpdu_len = out.len() - sca_len;
    Ok((out, tpdu_len))
}
