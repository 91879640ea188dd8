//! Config files come from outside: whatever the text, loading returns a config or an error, never panics,
//! and an error always names the file. The address and duration parsers hold to the same.

use proptest::prelude::*;
use smsbridge::config::{Config, parse_duration};
use smsbridge::router::{SenderPattern, parse_destination, parse_prefix, parse_sender};

const DEFAULT: &str = include_str!("../config/smsbridge.toml");
const EXAMPLE: &str = include_str!("../config/examples/smpp-failover.toml");

/// Damages a valid file: cuts a span out and puts arbitrary text in its place.
fn damaged(base: &'static str) -> impl Strategy<Value = String> {
    (0..base.len(), 0usize..40, ".{0,12}").prop_map(move |(at, cut, insert)| {
        let mut at = at;
        while !base.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + cut).min(base.len());
        while !base.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}{}{}", &base[..at], insert, &base[end..])
    })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = Config::from_str(text, "fuzz.toml") {
        let msg = e.to_string();
        prop_assert!(msg.starts_with("fuzz.toml"), "{msg}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text)?;
    }

    #[test]
    fn damaged_default_file_never_panics(text in damaged(DEFAULT)) {
        check(&text)?;
    }

    #[test]
    fn damaged_example_never_panics(text in damaged(EXAMPLE)) {
        check(&text)?;
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,24}") {
        let _ = parse_duration(&s);
        let _ = parse_destination(&s);
        let _ = parse_sender(&s);
        let _ = parse_prefix(&s);
        if let Ok(p) = SenderPattern::new(&s) {
            // A pattern matches its own text: each `*` can match itself.
            prop_assert!(p.matches(&s), "{s:?}");
        }
    }
}
