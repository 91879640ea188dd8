//! TS 23.038 alphabets: the GSM 7-bit default alphabet and its extension table (§6.2.1, §6.2.1.1), the
//! national language shift tables of annex A (Turkish, Spanish, Portuguese), septet packing (§6.1.2.1) and
//! UCS-2 / UTF-16 (§6.2.3).
//!
//! Packing and unpacking work on slices of septets (one `u8` per septet, 0..=127) with a bit accumulator and no
//! allocation per character; text conversion uses table lookups.

/// The escape septet to the (single shift) extension table, TS 23.038 §6.2.1.1.
pub const ESCAPE: u8 = 0x1B;

/// Marks a code point without a character in a table.
const NONE: char = '\u{0}';

/// TS 23.038 §6.2.1: the GSM 7-bit default alphabet, indexed by septet.
pub static DEFAULT_TABLE: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 §6.2.1.1: the default extension table (reached with [`ESCAPE`]), as (septet, character) pairs.
static DEFAULT_EXTENSION: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// TS 23.038 annex A.2.1: Turkish single shift table.
static TURKISH_SINGLE: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
];

/// TS 23.038 annex A.2.2: Spanish single shift table.
static SPANISH_SINGLE: &[(u8, char)] = &[
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// TS 23.038 annex A.2.3: Portuguese single shift table.
static PORTUGUESE_SINGLE: &[(u8, char)] = &[
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x14, '^'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
];

/// TS 23.038 annex A.3.1: Turkish locking shift table.
static TURKISH_LOCKING: [char; 128] = [
    '@', '£', '$', '¥', '€', 'é', 'ù', 'ı', 'ò', 'Ç', '\n', 'Ğ', 'ğ', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Ş', 'ş', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'İ', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    'ç', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 annex A.3.3: Portuguese locking shift table.
static PORTUGUESE_LOCKING: [char; 128] = [
    '@', '£', '$', '¥', 'ê', 'é', 'ú', 'í', 'ó', 'ç', '\n', 'Ô', 'ô', '\r', 'Á', 'á', //
    'Δ', '_', 'ª', 'Ç', 'À', '∞', '^', '\\', '€', 'Ó', '|', '\u{1B}', 'Â', 'â', 'Ê', 'É', //
    ' ', '!', '"', '#', 'º', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'Í', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ã', 'Õ', 'Ú', 'Ü', '§', //
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ã', 'õ', '`', 'ü', 'à', //
];

/// Reverse lookup of the default table for characters below U+0100: septet, or 0xFF when absent.
static DEFAULT_REVERSE_LATIN1: [u8; 256] = build_reverse_latin1(&DEFAULT_TABLE);

/// Reverse lookup of the default extension table for ASCII characters: septet, or 0xFF when absent.
static DEFAULT_EXT_REVERSE_ASCII: [u8; 128] = build_ext_reverse_ascii(DEFAULT_EXTENSION);

const fn build_reverse_latin1(table: &[char; 128]) -> [u8; 256] {
    let mut out = [0xFFu8; 256];
    let mut i = 0;
    while i < 128 {
        let c = table[i] as u32;
        // The escape code point is not a character.
        if c < 256 && i != ESCAPE as usize {
            out[c as usize] = i as u8;
        }
        i += 1;
    }
    out
}

const fn build_ext_reverse_ascii(table: &[(u8, char)]) -> [u8; 128] {
    let mut out = [0xFFu8; 128];
    let mut i = 0;
    while i < table.len() {
        let (code, c) = table[i];
        if (c as u32) < 128 {
            out[c as usize] = code;
        }
        i += 1;
    }
    out
}

/// A national language identifier, TS 23.038 §6.2.1.2.4 (used by UDH IEs 0x24 and 0x25, TS 23.040 §9.2.3.24.15-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NationalLanguage {
    /// 0x01.
    Turkish,
    /// 0x02.
    Spanish,
    /// 0x03.
    Portuguese,
    /// A language whose tables this crate does not carry (kept as its identifier).
    Other(u8),
}

impl NationalLanguage {
    /// The identifier octet.
    pub fn id(self) -> u8 {
        match self {
            Self::Turkish => 1,
            Self::Spanish => 2,
            Self::Portuguese => 3,
            Self::Other(v) => v,
        }
    }

    /// The language for an identifier octet.
    pub fn from_id(id: u8) -> Self {
        match id {
            1 => Self::Turkish,
            2 => Self::Spanish,
            3 => Self::Portuguese,
            v => Self::Other(v),
        }
    }

    /// The languages this crate has tables for.
    pub const SUPPORTED: [NationalLanguage; 3] = [Self::Turkish, Self::Spanish, Self::Portuguese];

    fn single_table(self) -> &'static [(u8, char)] {
        match self {
            Self::Turkish => TURKISH_SINGLE,
            Self::Spanish => SPANISH_SINGLE,
            Self::Portuguese => PORTUGUESE_SINGLE,
            Self::Other(_) => DEFAULT_EXTENSION,
        }
    }

    /// The locking shift table, when the language has one (Spanish has none, annex A.3.2).
    fn locking_table(self) -> Option<&'static [char; 128]> {
        match self {
            Self::Turkish => Some(&TURKISH_LOCKING),
            Self::Portuguese => Some(&PORTUGUESE_LOCKING),
            Self::Spanish | Self::Other(_) => None,
        }
    }

    /// Whether the language defines a locking shift table in TS 23.038 annex A.3.
    pub fn has_locking_table(self) -> bool {
        self.locking_table().is_some()
    }
}

/// The pair of tables in force for a GSM 7-bit text: the locking shift (main) table and the single shift
/// (extension) table, TS 23.038 §6.2.1.2.4. `None` means the default table of §6.2.1 / §6.2.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Gsm7Tables {
    /// Locking shift table (UDH IE 0x25).
    pub locking: Option<NationalLanguage>,
    /// Single shift table (UDH IE 0x24).
    pub single: Option<NationalLanguage>,
}

/// How one character is written in GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    /// One septet of the main table.
    One(u8),
    /// [`ESCAPE`] then this septet of the extension table.
    Escaped(u8),
}

impl Septets {
    /// How many septets the character takes.
    pub fn len(self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Escaped(_) => 2,
        }
    }

    /// Never empty; present for API symmetry with `len`.
    pub fn is_empty(self) -> bool {
        false
    }
}

impl Gsm7Tables {
    /// The default alphabet and extension table.
    pub const DEFAULT: Gsm7Tables = Gsm7Tables {
        locking: None,
        single: None,
    };

    fn main_table(self) -> &'static [char; 128] {
        self.locking
            .and_then(NationalLanguage::locking_table)
            .unwrap_or(&DEFAULT_TABLE)
    }

    fn ext_table(self) -> &'static [(u8, char)] {
        self.single
            .map(NationalLanguage::single_table)
            .unwrap_or(DEFAULT_EXTENSION)
    }

    /// How `c` is written with these tables, or `None` when it cannot be (TS 23.038 §6.2.1).
    #[inline]
    pub fn encode_char(self, c: char) -> Option<Septets> {
        if self.locking.is_none() && self.single.is_none() {
            return encode_default(c);
        }
        let main = if self
            .locking
            .and_then(NationalLanguage::locking_table)
            .is_none()
        {
            default_main(c)
        } else if c != '\u{1B}' {
            self.main_table()
                .iter()
                .position(|&t| t == c)
                .map(|p| p as u8)
        } else {
            None
        };
        if let Some(s) = main {
            return Some(Septets::One(s));
        }
        self.ext_table()
            .iter()
            .find(|&&(_, t)| t == c)
            .map(|&(s, _)| Septets::Escaped(s))
    }

    /// The character of a main-table septet (only the low 7 bits are used).
    #[inline]
    pub fn main_char(self, septet: u8) -> char {
        let table = self.main_table();
        table
            .get(usize::from(septet & 0x7F))
            .copied()
            .unwrap_or(' ')
    }

    /// The character of an extension septet: TS 23.038 §6.2.1.1 says a code without an extension character is
    /// shown as the main table's character for that code.
    #[inline]
    pub fn ext_char(self, septet: u8) -> char {
        self.ext_table()
            .iter()
            .find(|&&(s, _)| s == septet)
            .map(|&(_, c)| c)
            .filter(|&c| c != NONE)
            .unwrap_or_else(|| self.main_char(septet))
    }

    /// Appends the septets of `text` to `out`; fails with the first character that has no septet.
    pub fn encode_str(self, text: &str, out: &mut Vec<u8>) -> Result<(), char> {
        out.reserve(text.len());
        if self.locking.is_none() && self.single.is_none() {
            // Default tables: one lookup per character.
            for c in text.chars() {
                match encode_default(c).ok_or(c)? {
                    Septets::One(s) => out.push(s),
                    Septets::Escaped(s) => out.extend_from_slice(&[ESCAPE, s]),
                }
            }
            return Ok(());
        }
        for c in text.chars() {
            match self.encode_char(c).ok_or(c)? {
                Septets::One(s) => out.push(s),
                Septets::Escaped(s) => {
                    out.push(ESCAPE);
                    out.push(s);
                }
            }
        }
        Ok(())
    }

    /// The number of septets of `text`, or `None` when a character has no septet.
    pub fn count_str(self, text: &str) -> Option<usize> {
        text.chars().try_fold(0usize, |n, c| {
            Some(n.saturating_add(self.encode_char(c)?.len()))
        })
    }

    /// Appends the text of `septets` to `out`. A trailing lone escape is dropped; escape-escape (reserved for a
    /// further extension, §6.2.1.1) shows a space.
    pub fn decode_into(self, septets: &[u8], out: &mut String) {
        out.reserve(septets.len());
        let main = self.main_table();
        let mut iter = septets.iter();
        while let Some(&s) = iter.next() {
            if s & 0x7F == ESCAPE {
                match iter.next() {
                    Some(&e) if e & 0x7F == ESCAPE => out.push(' '),
                    Some(&e) => out.push(self.ext_char(e & 0x7F)),
                    None => {}
                }
            } else {
                // A masked index into a 128-entry table is always in bounds.
                out.push(main[usize::from(s & 0x7F)]);
            }
        }
    }

    /// The text of `septets`.
    pub fn decode(self, septets: &[u8]) -> String {
        let mut s = String::new();
        self.decode_into(septets, &mut s);
        s
    }
}

/// The default table's septet for `c` (§6.2.1), by table lookup.
#[inline]
fn default_main(c: char) -> Option<u8> {
    let cp = c as u32;
    if cp < 256 {
        DEFAULT_REVERSE_LATIN1
            .get(cp as usize)
            .copied()
            .filter(|&s| s != 0xFF)
    } else {
        greek_default(c)
    }
}

/// The default table then the default extension table (§6.2.1, §6.2.1.1), by table lookup.
#[inline]
fn encode_default(c: char) -> Option<Septets> {
    if let Some(s) = default_main(c) {
        return Some(Septets::One(s));
    }
    let cp = c as u32;
    if cp < 128 {
        DEFAULT_EXT_REVERSE_ASCII
            .get(cp as usize)
            .copied()
            .filter(|&s| s != 0xFF)
            .map(Septets::Escaped)
    } else {
        (c == '€').then_some(Septets::Escaped(0x65))
    }
}

#[inline]
fn greek_default(c: char) -> Option<u8> {
    Some(match c {
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        _ => return None,
    })
}

/// The number of fill bits that align the first septet after a UDH of `udh_octets` octets (UDHL included) on a
/// septet boundary, TS 23.040 §9.2.3.24.
pub fn fill_bits(udh_octets: usize) -> usize {
    (7 - (udh_octets % 7) * 8 % 7) % 7
}

/// The number of septets a UDH of `udh_octets` octets (UDHL included) occupies, fill bits included.
pub fn udh_septets(udh_octets: usize) -> usize {
    (udh_octets.saturating_mul(8)).div_ceil(7)
}

/// Packs septets (low 7 bits of each byte) after `fill` zero bits (0-7) into octets, TS 23.038 §6.1.2.1.1.
pub fn pack_septets_into(septets: &[u8], fill: usize, out: &mut Vec<u8>) {
    let total_bits = fill.saturating_add(septets.len().saturating_mul(7));
    out.reserve(total_bits.div_ceil(8));
    let mut acc: u64 = 0;
    let mut bits: u32 = (fill % 8) as u32;
    let mut rest = septets;
    loop {
        // Whole groups of 8 septets make 7 octets when the accumulator is empty.
        if bits == 0 {
            while let Some((group, tail)) = rest.split_first_chunk::<8>() {
                let mut w: u64 = 0;
                for (k, &s) in group.iter().enumerate() {
                    w |= u64::from(s & 0x7F) << (7 * k);
                }
                let b = w.to_le_bytes();
                out.extend_from_slice(b.get(..7).unwrap_or_default());
                rest = tail;
            }
        }
        let Some((&s, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        acc |= u64::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Packs septets into a new vector.
pub fn pack_septets(septets: &[u8], fill: usize) -> Vec<u8> {
    let mut out = Vec::new();
    pack_septets_into(septets, fill, &mut out);
    out
}

/// Unpacks up to `count` septets from `packed` after skipping `fill` bits; returns how many were unpacked (fewer
/// than `count` when `packed` is too short).
pub fn unpack_septets_into(packed: &[u8], fill: usize, count: usize, out: &mut Vec<u8>) -> usize {
    let available = packed.len().saturating_mul(8).saturating_sub(fill) / 7;
    let n = count.min(available);
    out.reserve(n);
    let mut data = packed.get(fill / 8..).unwrap_or_default();
    let skip = (fill % 8) as u32;
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    if skip > 0 {
        if let Some((&b, tail)) = data.split_first() {
            acc = u64::from(b) >> skip;
            bits = 8 - skip;
            data = tail;
        }
    }
    let mut produced = 0;
    while produced < n {
        // Aligned: 7 octets give 8 septets at once.
        if bits == 0 && n - produced >= 8 {
            if let Some((group, tail)) = data.split_first_chunk::<7>() {
                let mut w: u64 = 0;
                for (k, &b) in group.iter().enumerate() {
                    w |= u64::from(b) << (8 * k);
                }
                let mut septets = [0u8; 8];
                for (k, s) in septets.iter_mut().enumerate() {
                    *s = ((w >> (7 * k)) & 0x7F) as u8;
                }
                out.extend_from_slice(&septets);
                data = tail;
                produced += 8;
                continue;
            }
        }
        if bits < 7 {
            let Some((&b, tail)) = data.split_first() else {
                break;
            };
            acc |= u64::from(b) << bits;
            bits += 8;
            data = tail;
        }
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        bits -= 7;
        produced += 1;
    }
    produced
}

/// Unpacks septets into a new vector.
pub fn unpack_septets(packed: &[u8], fill: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    unpack_septets_into(packed, fill, count, &mut out);
    out
}

/// Encodes text as UCS-2 big-endian; characters outside the BMP become UTF-16 surrogate pairs (TS 23.038 §6.2.3
/// as used in practice).
pub fn encode_ucs2_into(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len().saturating_mul(2));
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Decodes UCS-2 / UTF-16 big-endian; unpaired surrogates become U+FFFD and a trailing odd octet is ignored.
pub fn decode_ucs2(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|p| {
        u16::from_be_bytes([
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ])
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_hellohello() {
        let septets = Gsm7Tables::DEFAULT.count_str("hellohello");
        assert_eq!(septets, Some(10));
        let mut s = Vec::new();
        Gsm7Tables::DEFAULT
            .encode_str("hellohello", &mut s)
            .unwrap();
        let packed = pack_septets(&s, 0);
        assert_eq!(packed, hex::decode("E8329BFD4697D9EC37").unwrap());
        let back = unpack_septets(&packed, 0, 10);
        assert_eq!(Gsm7Tables::DEFAULT.decode(&back), "hellohello");
    }

    #[test]
    fn fill_bits_for_concat_udh() {
        // 6-octet UDH (concat 8-bit): 48 bits -> 7 septets, 1 fill bit.
        assert_eq!(fill_bits(6), 1);
        assert_eq!(udh_septets(6), 7);
        // 7-octet UDH (concat 16-bit): 56 bits -> 8 septets, no fill bit.
        assert_eq!(fill_bits(7), 0);
        assert_eq!(udh_septets(7), 8);
        assert_eq!(fill_bits(4), 3);
    }

    #[test]
    fn pack_with_fill_roundtrip() {
        let septets: Vec<u8> = (0..128u8).collect();
        for fill in 0..7 {
            let packed = pack_septets(&septets, fill);
            assert_eq!(unpack_septets(&packed, fill, 128), septets, "fill {fill}");
        }
    }

    #[test]
    fn extension_and_national() {
        assert_eq!(
            Gsm7Tables::DEFAULT.encode_char('€'),
            Some(Septets::Escaped(0x65))
        );
        assert_eq!(
            Gsm7Tables::DEFAULT.encode_char('['),
            Some(Septets::Escaped(0x3C))
        );
        assert_eq!(Gsm7Tables::DEFAULT.encode_char('ş'), None);
        let tr = Gsm7Tables {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        assert_eq!(tr.encode_char('ş'), Some(Septets::One(0x1D)));
        assert_eq!(tr.encode_char('İ'), Some(Septets::One(0x40)));
        assert_eq!(tr.encode_char('€'), Some(Septets::One(0x04)));
        let es = Gsm7Tables {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        };
        assert_eq!(es.encode_char('á'), Some(Septets::Escaped(0x61)));
        assert_eq!(es.encode_char('e'), Some(Septets::One(0x65)));
        let pt = Gsm7Tables {
            locking: Some(NationalLanguage::Portuguese),
            single: None,
        };
        assert_eq!(pt.encode_char('ã'), Some(Septets::One(0x7B)));
        assert_eq!(pt.decode(&[0x60, 0x7D]), "~`");
    }

    #[test]
    fn ucs2_surrogates() {
        let mut b = Vec::new();
        encode_ucs2_into("a😀", &mut b);
        assert_eq!(b, [0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode_ucs2(&b), "a😀");
        assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0x00]), "\u{FFFD}");
    }
}
