//! The message planner: text in, segments out (TS 23.040 §9.2.3.24.1 concatenation, TS 23.038 alphabets), and the
//! same plan rendered for a modem (SMS-SUBMIT TPDUs) or for SMPP (data_coding, esm_class UDHI, SAR values or one
//! message_payload, SMPP 3.4 §5.2.12, §5.3.2.22-24, §5.3.2.32).

use std::collections::HashMap;

use super::address::Address;
use super::alphabet::{self, Gsm7Tables, NationalLanguage};
use super::fields::{Alphabet, Dcs, MessageClass, Pid, ValidityPeriod};
use super::tpdu::{Submit, UserData};
use super::udh::{InformationElement, Udh};

/// TS 23.040 §9.2.3.16: the user data holds at most 140 octets (160 septets).
const MAX_OCTETS: usize = 140;
const MAX_SEPTETS: usize = 160;

/// Which alphabet the planner may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// GSM 7-bit when every character fits (possibly with a national table, see [`NationalPolicy`]), else UCS-2.
    #[default]
    Auto,
    /// GSM 7-bit only: a character outside the tables is an error.
    Gsm7,
    /// UCS-2 always.
    Ucs2,
}

/// Whether national language shift tables (TS 23.038 §6.2.1.2.4, annex A) may be used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NationalPolicy {
    /// Default alphabet and extension table only.
    #[default]
    Off,
    /// When the default tables cannot hold the text, try these languages before falling back to UCS-2.
    Auto(Vec<NationalLanguage>),
    /// Always use these tables.
    Force(Gsm7Tables),
}

/// Planner options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Alphabet choice.
    pub encoding: EncodingChoice,
    /// National language tables.
    pub national: NationalPolicy,
    /// Use the 16-bit concatenation reference (IEI 0x08) instead of the 8-bit one (IEI 0x00).
    pub concat16: bool,
    /// Message class to put in TP-DCS.
    pub class: Option<MessageClass>,
    /// The most segments a message may take (at most 255).
    pub max_segments: u8,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            encoding: EncodingChoice::Auto,
            national: NationalPolicy::Off,
            concat16: false,
            class: None,
            max_segments: 255,
        }
    }
}

/// Why a text could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// GSM 7-bit was required and a character has no code in the tables.
    #[error("{0:?} cannot be written in the GSM 7-bit tables in use")]
    NotGsm7(char),
    /// The text needs more segments than allowed.
    #[error("the message needs {needed} segments, more than the {max} allowed")]
    TooManySegments {
        /// Segments the text needs.
        needed: usize,
        /// The limit.
        max: u8,
    },
}

/// The encoding a plan chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedEncoding {
    /// GSM 7-bit with these tables (national ones are announced in each segment's UDH).
    Gsm7(Gsm7Tables),
    /// UCS-2 / UTF-16.
    Ucs2,
    /// 8-bit data.
    Eight,
}

impl PlannedEncoding {
    /// Short name: "gsm7", "ucs2", "8bit".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gsm7(_) => "gsm7",
            Self::Ucs2 => "ucs2",
            Self::Eight => "8bit",
        }
    }
}

/// One planned segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The UDH: concatenation (when there is more than one segment) and national language shifts.
    pub header: Option<Udh>,
    /// Septets (GSM 7-bit, one per octet) or octets (UCS-2, 8-bit) after the header.
    pub body: Vec<u8>,
    /// The text this segment carries (empty for 8-bit data).
    pub text: String,
}

impl Segment {
    /// The segment as TP-UD.
    pub fn user_data(&self) -> UserData {
        UserData {
            header: self.header.clone(),
            body: self.body.clone(),
            truncated: false,
        }
    }

    /// The UDH bytes, UDHL included (empty without a header).
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        if let Some(h) = &self.header {
            h.encode(&mut v);
        }
        v
    }
}

/// A planned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The encoding chosen.
    pub encoding: PlannedEncoding,
    /// TP-DCS for every segment.
    pub dcs: Dcs,
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// The concatenation reference (only when there is more than one segment).
    pub reference: Option<u16>,
}

/// How concatenation is carried towards an SMSC over SMPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmppConcat {
    /// esm_class UDHI (0x40) with the UDH at the front of short_message.
    Udh,
    /// The sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar,
    /// One submit_sm with the whole message in message_payload.
    Payload,
}

/// The SAR TLV values of one segment (SMPP 3.4 §5.3.2.22-24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SarInfo {
    /// sar_msg_ref_num.
    pub msg_ref_num: u16,
    /// sar_total_segments.
    pub total_segments: u8,
    /// sar_segment_seqnum, from 1.
    pub segment_seqnum: u8,
}

/// What one submit_sm carries, for the SMPP side to build the PDU from. GSM 7-bit text is given unpacked (one
/// septet per octet, escape pairs as 0x1B + code), as SMSCs expect with data_coding 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppRendering {
    /// data_coding (SMPP 3.4 §5.2.19).
    pub data_coding: u8,
    /// esm_class: 0x40 (UDHI) when short_message or message_payload starts with a UDH.
    pub esm_class: u8,
    /// short_message (empty in payload mode).
    pub short_message: Vec<u8>,
    /// SAR values (SAR mode, several segments).
    pub sar: Option<SarInfo>,
    /// message_payload (payload mode).
    pub message_payload: Option<Vec<u8>>,
}

/// Per-message SMS-SUBMIT settings for [`Plan::submits`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitOptions {
    /// TP-SRR.
    pub status_report: bool,
    /// TP-RD.
    pub reject_duplicates: bool,
    /// TP-VP (and TP-VPF).
    pub validity: Option<ValidityPeriod>,
    /// TP-PID.
    pub pid: Pid,
    /// TP-MR of the first segment; the next ones count up (modems usually assign their own).
    pub first_mr: u8,
}

/// The UDH octets (UDHL included) for the given elements' sizes, or 0 when there are none.
fn header_octets(elements_len: usize) -> usize {
    if elements_len == 0 {
        0
    } else {
        1 + elements_len
    }
}

fn shift_elements(tables: Gsm7Tables) -> Vec<InformationElement> {
    let mut v = Vec::new();
    if let Some(l) = tables.single {
        v.push(InformationElement::SingleShift(l));
    }
    if let Some(l) = tables.locking {
        v.push(InformationElement::LockingShift(l));
    }
    v
}

/// Splits `text` into chunks of at most `cap` units, where `cost` gives each character's units; characters
/// (and so escape pairs and surrogate pairs) are never split.
fn split_text(text: &str, cap: usize, cost: impl Fn(char) -> usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let k = cost(c);
        if used + k > cap && i > start {
            out.push(text.get(start..i).unwrap_or_default());
            start = i;
            used = 0;
        }
        used += k;
    }
    out.push(text.get(start..).unwrap_or_default());
    out
}

/// Total units and the single-part / multi-part capacities for an encoding and its extra UDH elements.
fn capacities(encoding: PlannedEncoding, extra_elements: usize, concat16: bool) -> (usize, usize) {
    let concat = if concat16 { 6 } else { 5 };
    let single_h = header_octets(extra_elements);
    let multi_h = header_octets(extra_elements + concat);
    match encoding {
        PlannedEncoding::Gsm7(_) => (
            MAX_SEPTETS - alphabet::udh_septets(single_h),
            MAX_SEPTETS - alphabet::udh_septets(multi_h),
        ),
        PlannedEncoding::Ucs2 => ((MAX_OCTETS - single_h) / 2, (MAX_OCTETS - multi_h) / 2),
        PlannedEncoding::Eight => (MAX_OCTETS - single_h, MAX_OCTETS - multi_h),
    }
}

/// Chooses the encoding for `text`.
fn choose(text: &str, options: &PlanOptions) -> Result<PlannedEncoding, PlanError> {
    if options.encoding == EncodingChoice::Ucs2 {
        return Ok(PlannedEncoding::Ucs2);
    }
    let first_bad = |t: Gsm7Tables| text.chars().find(|&c| t.encode_char(c).is_none());
    let base = match &options.national {
        NationalPolicy::Force(t) => *t,
        _ => Gsm7Tables::DEFAULT,
    };
    let Some(bad) = first_bad(base) else {
        return Ok(PlannedEncoding::Gsm7(base));
    };
    if let NationalPolicy::Auto(langs) = &options.national {
        // Among the tables that hold the text, take the one with the fewest segments, then the fewest septets.
        let mut best: Option<(usize, usize, Gsm7Tables)> = None;
        for &l in langs {
            let mut candidates = vec![Gsm7Tables {
                locking: None,
                single: Some(l),
            }];
            if l.has_locking_table() {
                candidates.push(Gsm7Tables {
                    locking: Some(l),
                    single: None,
                });
                candidates.push(Gsm7Tables {
                    locking: Some(l),
                    single: Some(l),
                });
            }
            for t in candidates {
                let Some(septets) = t.count_str(text) else {
                    continue;
                };
                let extra: usize = shift_elements(t)
                    .iter()
                    .map(InformationElement::encoded_len)
                    .sum();
                let (single, multi) = capacities(PlannedEncoding::Gsm7(t), extra, options.concat16);
                let segs = if septets <= single {
                    1
                } else {
                    split_text(text, multi, |c| {
                        t.encode_char(c).map_or(1, alphabet::Septets::len)
                    })
                    .len()
                };
                let key = (segs, septets + extra);
                if best.is_none_or(|(s, n, _)| key < (s, n)) {
                    best = Some((key.0, key.1, t));
                }
            }
        }
        if let Some((_, _, t)) = best {
            return Ok(PlannedEncoding::Gsm7(t));
        }
    }
    match options.encoding {
        EncodingChoice::Gsm7 => Err(PlanError::NotGsm7(bad)),
        _ => Ok(PlannedEncoding::Ucs2),
    }
}

/// Plans `text`: chooses the encoding, counts exactly and splits into segments (reference 0 in the UDH until
/// [`Plan::set_reference`] or [`ReferenceAllocator::plan`] numbers it).
pub fn plan(text: &str, options: &PlanOptions) -> Result<Plan, PlanError> {
    let encoding = choose(text, options)?;
    let (tables, alphabet) = match encoding {
        PlannedEncoding::Gsm7(t) => (t, Alphabet::Gsm7),
        _ => (Gsm7Tables::DEFAULT, Alphabet::Ucs2),
    };
    let extra = if alphabet == Alphabet::Gsm7 {
        shift_elements(tables)
    } else {
        Vec::new()
    };
    let extra_len: usize = extra.iter().map(InformationElement::encoded_len).sum();
    let (single_cap, multi_cap) = capacities(encoding, extra_len, options.concat16);
    let gsm_cost = |c: char| tables.encode_char(c).map_or(1, alphabet::Septets::len);
    let total = match alphabet {
        Alphabet::Gsm7 => text.chars().map(gsm_cost).sum::<usize>(),
        _ => text.encode_utf16().count(),
    };
    let chunks: Vec<&str> = if total <= single_cap {
        vec![text]
    } else if alphabet == Alphabet::Gsm7 {
        split_text(text, multi_cap, gsm_cost)
    } else {
        split_text(text, multi_cap, char::len_utf16)
    };
    let bodies = chunks
        .iter()
        .map(|chunk| {
            let mut body = Vec::new();
            if alphabet == Alphabet::Gsm7 {
                tables
                    .encode_str(chunk, &mut body)
                    .map_err(PlanError::NotGsm7)?;
            } else {
                alphabet::encode_ucs2_into(chunk, &mut body);
            }
            Ok((body, (*chunk).to_owned()))
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    build(
        encoding,
        Dcs::general(alphabet, options.class),
        bodies,
        extra,
        options,
    )
}

/// Plans 8-bit data: 140 octets in one message, 134 (133 with a 16-bit reference) per concatenated part.
pub fn plan_binary(data: &[u8], options: &PlanOptions) -> Result<Plan, PlanError> {
    let (single_cap, multi_cap) = capacities(PlannedEncoding::Eight, 0, options.concat16);
    let bodies: Vec<(Vec<u8>, String)> = if data.len() <= single_cap {
        vec![(data.to_vec(), String::new())]
    } else {
        data.chunks(multi_cap)
            .map(|c| (c.to_vec(), String::new()))
            .collect()
    };
    build(
        PlannedEncoding::Eight,
        Dcs::general(Alphabet::Eight, options.class),
        bodies,
        Vec::new(),
        options,
    )
}

fn build(
    encoding: PlannedEncoding,
    dcs: Dcs,
    bodies: Vec<(Vec<u8>, String)>,
    extra: Vec<InformationElement>,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let total = bodies.len();
    if total > usize::from(options.max_segments.max(1)) {
        return Err(PlanError::TooManySegments {
            needed: total,
            max: options.max_segments,
        });
    }
    let multi = total > 1;
    let segments = bodies
        .into_iter()
        .enumerate()
        .map(|(i, (body, text))| {
            let mut elements = Vec::new();
            if multi {
                // total <= 255 was checked above.
                let (parts, number) = (total as u8, (i + 1) as u8);
                elements.push(if options.concat16 {
                    InformationElement::Concat16 {
                        reference: 0,
                        parts,
                        number,
                    }
                } else {
                    InformationElement::Concat8 {
                        reference: 0,
                        parts,
                        number,
                    }
                });
            }
            elements.extend(extra.iter().cloned());
            let header = (!elements.is_empty()).then_some(Udh { elements });
            Segment { header, body, text }
        })
        .collect();
    Ok(Plan {
        encoding,
        dcs,
        segments,
        reference: multi.then_some(0),
    })
}

impl Plan {
    /// Whether the message is sent as several concatenated parts.
    pub fn is_concatenated(&self) -> bool {
        self.segments.len() > 1
    }

    /// Sets the concatenation reference in every segment (8-bit references keep the low octet).
    pub fn set_reference(&mut self, reference: u16) {
        if !self.is_concatenated() {
            return;
        }
        let mut stored = reference;
        for seg in &mut self.segments {
            for e in seg.header.iter_mut().flat_map(|h| h.elements.iter_mut()) {
                match e {
                    InformationElement::Concat8 { reference: r, .. } => {
                        *r = (reference & 0xFF) as u8;
                        stored = reference & 0xFF;
                    }
                    InformationElement::Concat16 { reference: r, .. } => *r = reference,
                    _ => {}
                }
            }
        }
        self.reference = Some(stored);
    }

    /// The septets (GSM 7-bit) or octets each segment's TP-UDL counts, UDH included.
    pub fn unit_counts(&self) -> Vec<usize> {
        self.segments
            .iter()
            .map(|s| s.user_data().udl(self.dcs))
            .collect()
    }

    /// The SMS-SUBMIT TPDUs for a modem, one per segment.
    pub fn submits(&self, destination: &Address, options: &SubmitOptions) -> Vec<Submit> {
        self.segments
            .iter()
            .enumerate()
            .map(|(i, seg)| Submit {
                tp_rd: options.reject_duplicates,
                tp_srr: options.status_report,
                tp_rp: false,
                tp_mr: options.first_mr.wrapping_add((i & 0xFF) as u8),
                tp_da: destination.clone(),
                tp_pid: options.pid,
                tp_dcs: self.dcs,
                tp_vp: options.validity,
                tp_ud: seg.user_data(),
            })
            .collect()
    }

    /// data_coding for SMPP: 0x00 / 0x08 / 0x04, or 0xF0-0xF7 (GSM message class control) when a class is set
    /// on GSM 7-bit or 8-bit data (SMPP 3.4 §5.2.19).
    pub fn smpp_data_coding(&self) -> u8 {
        match (self.encoding, self.dcs.class()) {
            (PlannedEncoding::Gsm7(_), None) => 0x00,
            (PlannedEncoding::Gsm7(_), Some(c)) => 0xF0 | c.number(),
            (PlannedEncoding::Eight, Some(c)) => 0xF4 | c.number(),
            (PlannedEncoding::Eight, None) => 0x04,
            (PlannedEncoding::Ucs2, _) => 0x08,
        }
    }

    /// The submit_sm contents for SMPP. In `Sar` and `Payload` modes a UDH is still sent (esm_class 0x40) when the
    /// plan uses national language tables, since only the UDH can announce them.
    pub fn smpp(&self, mode: SmppConcat) -> Vec<SmppRendering> {
        let data_coding = self.smpp_data_coding();
        let non_concat_header = |seg: &Segment| -> Vec<u8> {
            let elements: Vec<InformationElement> = seg
                .header
                .iter()
                .flat_map(|h| h.elements.iter())
                .filter(|e| {
                    !matches!(
                        e,
                        InformationElement::Concat8 { .. } | InformationElement::Concat16 { .. }
                    )
                })
                .cloned()
                .collect();
            let mut v = Vec::new();
            if !elements.is_empty() {
                Udh { elements }.encode(&mut v);
            }
            v
        };
        let esm = |h: &[u8]| if h.is_empty() { 0 } else { 0x40 };
        match mode {
            SmppConcat::Udh => self
                .segments
                .iter()
                .map(|seg| {
                    let mut sm = seg.header_bytes();
                    let esm_class = esm(&sm);
                    sm.extend_from_slice(&seg.body);
                    SmppRendering {
                        data_coding,
                        esm_class,
                        short_message: sm,
                        sar: None,
                        message_payload: None,
                    }
                })
                .collect(),
            SmppConcat::Sar => {
                let total = self.segments.len();
                self.segments
                    .iter()
                    .enumerate()
                    .map(|(i, seg)| {
                        let mut sm = non_concat_header(seg);
                        let esm_class = esm(&sm);
                        sm.extend_from_slice(&seg.body);
                        let sar = self.is_concatenated().then(|| SarInfo {
                            msg_ref_num: self.reference.unwrap_or(0),
                            total_segments: total.min(255) as u8,
                            segment_seqnum: (i + 1).min(255) as u8,
                        });
                        SmppRendering {
                            data_coding,
                            esm_class,
                            short_message: sm,
                            sar,
                            message_payload: None,
                        }
                    })
                    .collect()
            }
            SmppConcat::Payload => {
                let mut payload = self
                    .segments
                    .first()
                    .map(non_concat_header)
                    .unwrap_or_default();
                let esm_class = esm(&payload);
                for seg in &self.segments {
                    payload.extend_from_slice(&seg.body);
                }
                vec![SmppRendering {
                    data_coding,
                    esm_class,
                    short_message: Vec::new(),
                    sar: None,
                    message_payload: Some(payload),
                }]
            }
        }
    }
}

/// Concatenation references per destination, so that parts of different messages to one handset never share a
/// reference while they may be in flight. Sans-IO: the caller keeps it (one per link or per gateway). Bounded:
/// past `capacity` destinations the least recently used one is forgotten.
#[derive(Debug, Clone)]
pub struct ReferenceAllocator {
    next: HashMap<String, (u16, u64)>,
    capacity: usize,
    seed: u16,
    tick: u64,
}

impl ReferenceAllocator {
    /// An allocator remembering up to `capacity` destinations. `seed` (e.g. from the clock at start-up) sets
    /// where a new destination's numbering starts, so a restart does not reuse the references just sent.
    pub fn new(capacity: usize, seed: u16) -> Self {
        Self {
            next: HashMap::new(),
            capacity: capacity.max(1),
            seed,
            tick: 0,
        }
    }

    fn start_for(&self, destination: &str) -> u16 {
        // FNV-1a, folded to 16 bits: spreads destinations without a random source.
        let mut h: u32 = 0x811C_9DC5;
        for b in destination.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        ((h >> 16) as u16 ^ h as u16) ^ self.seed
    }

    /// The next reference for `destination` (8-bit references use its low octet).
    pub fn next(&mut self, destination: &str) -> u16 {
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        if let Some((n, used)) = self.next.get_mut(destination) {
            let r = *n;
            *n = n.wrapping_add(1);
            *used = tick;
            return r;
        }
        if self.next.len() >= self.capacity {
            if let Some(oldest) = self
                .next
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            {
                self.next.remove(&oldest);
            }
        }
        let r = self.start_for(destination);
        self.next
            .insert(destination.to_owned(), (r.wrapping_add(1), tick));
        r
    }

    /// Plans `text` for `destination` and numbers it when it is concatenated.
    pub fn plan(
        &mut self,
        destination: &str,
        text: &str,
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let mut p = plan(text, options)?;
        if p.is_concatenated() {
            p.set_reference(self.next(destination));
        }
        Ok(p)
    }

    /// How many destinations are remembered.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// Whether no destination is remembered.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_gsm7() {
        let o = PlanOptions::default();
        assert_eq!(plan(&"a".repeat(160), &o).unwrap().segments.len(), 1);
        let p = plan(&"a".repeat(161), &o).unwrap();
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].body.len(), 153);
        assert_eq!(p.unit_counts(), vec![160, 7 + 8]);
        // An escape pair is never split: 152 plain + '€' does not fit in 153.
        let t = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let p = plan(&t, &o).unwrap();
        assert_eq!(p.segments[0].body.len(), 152);
        assert_eq!(p.segments[1].text, format!("€{}", "b".repeat(10)));
        // Extension characters count two.
        assert_eq!(plan(&"€".repeat(80), &o).unwrap().segments.len(), 1);
        assert_eq!(plan(&"€".repeat(81), &o).unwrap().segments.len(), 2);
    }

    #[test]
    fn limits_ucs2_and_binary() {
        let o = PlanOptions::default();
        assert_eq!(plan(&"中".repeat(70), &o).unwrap().segments.len(), 1);
        let p = plan(&"中".repeat(71), &o).unwrap();
        assert_eq!(p.encoding, PlannedEncoding::Ucs2);
        assert_eq!(p.segments[0].body.len(), 134);
        // A surrogate pair is never split: 66 units + emoji does not fit in 67.
        let t = format!("{}😀{}", "中".repeat(66), "x".repeat(10));
        let p = plan(
            &t,
            &PlanOptions {
                encoding: EncodingChoice::Ucs2,
                ..o.clone()
            },
        )
        .unwrap();
        assert_eq!(p.segments[0].body.len(), 132);
        assert_eq!(plan_binary(&[0; 140], &o).unwrap().segments.len(), 1);
        let p = plan_binary(&[0; 141], &o).unwrap();
        assert_eq!(p.segments[0].body.len(), 134);
    }

    #[test]
    fn national_auto_avoids_ucs2() {
        let o = PlanOptions {
            national: NationalPolicy::Auto(NationalLanguage::SUPPORTED.to_vec()),
            ..Default::default()
        };
        let p = plan("Şişli'de buluşalım mı?", &o).unwrap();
        let PlannedEncoding::Gsm7(t) = p.encoding else {
            panic!("expected GSM 7-bit, got {:?}", p.encoding)
        };
        assert_eq!(t.locking, Some(NationalLanguage::Turkish));
        let h = p.segments[0].header.as_ref().unwrap();
        assert_eq!(h.gsm7_tables(), t);
        assert_eq!(t.decode(&p.segments[0].body), "Şişli'de buluşalım mı?");
        // Without the policy the same text goes UCS-2.
        assert_eq!(
            plan("Şişli", &PlanOptions::default()).unwrap().encoding,
            PlannedEncoding::Ucs2
        );
    }

    #[test]
    fn national_shift_headers_reduce_capacity() {
        // Locking + single shift: UDH 1 + 3 + 3 = 7 octets = 8 septets, so 152 septets in one message; with the
        // concatenation IE 1 + 5 + 6 = 12 octets = 14 septets, so 146 per part.
        let t = Gsm7Tables {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        let o = PlanOptions {
            national: NationalPolicy::Force(t),
            ..Default::default()
        };
        let p = plan(&"ş".repeat(152), &o).unwrap();
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.unit_counts(), vec![160]);
        let p = plan(&"ş".repeat(153), &o).unwrap();
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].body.len(), 146);
        assert_eq!(p.unit_counts()[0], 160);
        // Single shift only (Spanish): 1 + 3 = 4 octets = 5 septets, 155 in one message.
        let es = Gsm7Tables {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        };
        let o = PlanOptions {
            national: NationalPolicy::Force(es),
            ..Default::default()
        };
        assert_eq!(plan(&"a".repeat(155), &o).unwrap().segments.len(), 1);
        assert_eq!(plan(&"a".repeat(156), &o).unwrap().segments.len(), 2);
        // Forced GSM 7-bit with a character outside the tables is an error, not a silent UCS-2.
        let strict = PlanOptions {
            encoding: EncodingChoice::Gsm7,
            ..Default::default()
        };
        assert_eq!(plan("中", &strict), Err(PlanError::NotGsm7('中')));
    }

    #[test]
    fn sar_parts_reassemble() {
        use crate::sms::reassembly::{Part, PushOutcome, Reassembler, ReassemblyConfig};
        let text = format!("{}{}", "€uro ".repeat(40), "end");
        let mut refs = ReferenceAllocator::new(4, 7);
        let p = refs
            .plan("+4915112345678", &text, &PlanOptions::default())
            .unwrap();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut done = None;
        // SMPP SAR parts arrive in reverse; GSM 7-bit short_message is one septet per octet.
        for m in p.smpp(SmppConcat::Sar).into_iter().rev() {
            let sar = m.sar.unwrap();
            let part = Part {
                sender: "+4915112345678".into(),
                reference: sar.msg_ref_num,
                total: sar.total_segments,
                number: sar.segment_seqnum,
                text: Gsm7Tables::DEFAULT.decode(&m.short_message),
            };
            if let PushOutcome::Complete(msg) = r.push(part, 0) {
                done = Some(msg);
            }
        }
        assert_eq!(done.map(|m| m.text), Some(text));
    }

    #[test]
    fn national_auto_picks_spanish_and_portuguese() {
        let o = PlanOptions {
            national: NationalPolicy::Auto(NationalLanguage::SUPPORTED.to_vec()),
            ..Default::default()
        };
        // 'ó' and 'í': the Spanish single shift needs 2 escapes (17 septets + 3 UDH octets), the Portuguese locking
        // table holds them directly (15 septets + 3): fewest units wins.
        let p = plan("Canción para tí", &o).unwrap();
        let PlannedEncoding::Gsm7(t) = p.encoding else {
            panic!("expected GSM 7-bit, got {:?}", p.encoding)
        };
        assert_eq!(
            t,
            Gsm7Tables {
                locking: Some(NationalLanguage::Portuguese),
                single: None
            }
        );
        assert_eq!(p.segments[0].body.len(), 15);
        // 'Á' is only in the Spanish and Portuguese single shift tables; '¿' and 'ñ' only in the default main
        // table, which the Portuguese locking table would replace: Spanish single shift it is.
        let p = plan("¿Árbol? ñandú", &o).unwrap();
        let PlannedEncoding::Gsm7(t) = p.encoding else {
            panic!("expected GSM 7-bit, got {:?}", p.encoding)
        };
        assert_eq!(t.locking, None);
        assert!(matches!(
            t.single,
            Some(NationalLanguage::Spanish | NationalLanguage::Portuguese)
        ));
        assert_eq!(t.decode(&p.segments[0].body), "¿Árbol? ñandú");
        // 'ã', 'õ', 'ê' and 'ç' are in the Portuguese locking table.
        let p = plan("Não há informações, você está ótimo", &o).unwrap();
        let PlannedEncoding::Gsm7(t) = p.encoding else {
            panic!("expected GSM 7-bit, got {:?}", p.encoding)
        };
        assert_eq!(t.locking.or(t.single), Some(NationalLanguage::Portuguese));
        assert_eq!(
            t.decode(&p.segments[0].body),
            "Não há informações, você está ótimo"
        );
    }

    #[test]
    fn references_per_destination() {
        let mut a = ReferenceAllocator::new(2, 0);
        let r1 = a.next("+1");
        let r2 = a.next("+1");
        assert_eq!(r2, r1.wrapping_add(1));
        let s1 = a.next("+2");
        assert_eq!(a.next("+2"), s1.wrapping_add(1));
        a.next("+3");
        assert_eq!(a.len(), 2);
        let p = a
            .plan("+1", &"x".repeat(200), &PlanOptions::default())
            .unwrap();
        assert!(p.reference.is_some());
        let single = a.plan("+1", "hi", &PlanOptions::default()).unwrap();
        assert_eq!(single.reference, None);
        assert!(single.segments[0].header.is_none());
    }

    #[test]
    fn smpp_modes() {
        let mut p = plan(&"y".repeat(200), &PlanOptions::default()).unwrap();
        p.set_reference(0x1234);
        let udh = p.smpp(SmppConcat::Udh);
        assert_eq!(udh.len(), 2);
        assert_eq!(udh[0].esm_class, 0x40);
        assert_eq!(
            &udh[0].short_message[..6],
            &[0x05, 0x00, 0x03, 0x34, 0x02, 0x01]
        );
        assert_eq!(udh[0].short_message.len(), 6 + 153);
        let sar = p.smpp(SmppConcat::Sar);
        assert_eq!(
            sar[1].sar,
            Some(SarInfo {
                msg_ref_num: 0x34,
                total_segments: 2,
                segment_seqnum: 2
            })
        );
        assert_eq!(sar[1].esm_class, 0);
        let pay = p.smpp(SmppConcat::Payload);
        assert_eq!(pay.len(), 1);
        assert_eq!(pay[0].message_payload.as_ref().map(Vec::len), Some(200));
    }
}
