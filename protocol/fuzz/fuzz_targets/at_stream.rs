//! Arbitrary bytes, split into arbitrary chunks, through the AT response parser: no panic, the buffer stays
//! bounded, and the items do not depend on how the bytes were split.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsbridge_protocol::at::{AtParser, Item, ParserConfig};

const MAX_LINE: usize = 256;

fn run(data: &[u8], cuts: &[usize]) -> Vec<Item> {
    let mut p = AtParser::with_config(ParserConfig { max_line: MAX_LINE, numeric_codes: false });
    let mut items = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let cut = cut.clamp(start, data.len());
        p.feed(&data[start..cut]);
        while let Some(item) = p.next_item() {
            items.push(item);
        }
        assert!(p.buffered() <= MAX_LINE + 1 + (cut - start));
        start = cut;
    }
    p.finish();
    while let Some(item) = p.next_item() {
        items.push(item);
    }
    items
}

fuzz_target!(|input: &[u8]| {
    // The first byte seeds the chunking, the rest is the modem's output.
    let Some((&seed, data)) = input.split_first() else { return };
    let mut cuts = Vec::new();
    let step = usize::from(seed % 17) + 1;
    let mut at = 0;
    while at < data.len() {
        at += step + usize::from(data[at] & 3);
        cuts.push(at.min(data.len()));
    }
    let whole = run(data, &[]);
    let split = run(data, &cuts);
    assert_eq!(whole, split);
    let bytewise: Vec<usize> = (0..data.len()).collect();
    if data.len() < 512 {
        assert_eq!(whole, run(data, &bytewise));
    }
});
