//! Where a config value came from: maps byte offsets in the TOML text to line/column and key paths
//! (`carriers[1].smpp[0].window`), in both directions, so every error can name its place in the file.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A 1-based line and column in the config text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Line and column (both from 1) of a byte offset; offsets past the end land on the last line.
pub(crate) fn position(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Position { line, column }
}

/// Appends one table key to a key path, quoting it when it is not a bare TOML key.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        path.push_str(key);
    } else {
        path.push('"');
        for c in key.chars() {
            if c == '"' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push('"');
    }
}

fn push_index(path: &mut String, index: usize) {
    path.push('[');
    path.push_str(&index.to_string());
    path.push(']');
}

/// The key path of the value (or key) at `offset` in a parsed document, if any.
///
/// Leaves (keys and scalar values) are searched first because their spans are exact; when none holds the
/// offset (an error about a whole table, e.g. a missing field), the deepest table or array that holds it wins.
///
/// After a syntax error the recovered document may hold no value at the offset; then the last key written on
/// the same line before the offset (from `line_start`) is taken, as in `window = = 3`.
pub(crate) fn path_at(root: &DeTable<'_>, offset: usize, line_start: usize) -> Option<String> {
    let mut path = String::new();
    if leaf_in_table(root, offset, &mut path) {
        return Some(path);
    }
    let mut before: Option<(usize, String)> = None;
    key_before_in_table(root, line_start..offset, &mut String::new(), &mut before);
    if let Some((_, p)) = before {
        return Some(p);
    }
    let mut best: Option<(usize, String)> = None;
    container_in_table(root, offset, &mut String::new(), 0, &mut best);
    best.map(|(_, p)| p)
}

fn key_before_in_table(
    table: &DeTable<'_>,
    window: std::ops::Range<usize>,
    path: &mut String,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let len = path.len();
        push_key(path, key.get_ref());
        let span = key.span();
        if span.start >= window.start
            && span.end <= window.end
            && best.as_ref().is_none_or(|(end, _)| span.end > *end)
        {
            *best = Some((span.end, path.clone()));
        }
        key_before_in_value(value, window.clone(), path, best);
        path.truncate(len);
    }
}

fn key_before_in_value(
    value: &Spanned<DeValue<'_>>,
    window: std::ops::Range<usize>,
    path: &mut String,
    best: &mut Option<(usize, String)>,
) {
    match value.get_ref() {
        DeValue::Table(table) => key_before_in_table(table, window, path, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push_index(path, i);
                key_before_in_value(item, window.clone(), path, best);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn leaf_in_table(table: &DeTable<'_>, offset: usize, path: &mut String) -> bool {
    for (key, value) in table.iter() {
        let len = path.len();
        push_key(path, key.get_ref());
        if key.span().contains(&offset) || leaf_in_value(value, offset, path) {
            return true;
        }
        path.truncate(len);
    }
    false
}

fn leaf_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut String) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => leaf_in_table(table, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push_index(path, i);
                if leaf_in_value(item, offset, path) {
                    return true;
                }
                path.truncate(len);
            }
            false
        }
        _ => {
            let span = value.span();
            // Recovered values after a syntax error can have an empty span at the error.
            span.contains(&offset) || (span.is_empty() && span.start == offset && offset > 0)
        }
    }
}

fn container_in_table(
    table: &DeTable<'_>,
    offset: usize,
    path: &mut String,
    depth: usize,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let len = path.len();
        push_key(path, key.get_ref());
        container_in_value(value, offset, path, depth + 1, best);
        path.truncate(len);
    }
}

fn container_in_value(
    value: &Spanned<DeValue<'_>>,
    offset: usize,
    path: &mut String,
    depth: usize,
    best: &mut Option<(usize, String)>,
) {
    let is_container = matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_));
    let span = value.span();
    // An empty span at the offset counts too: toml reports some errors with a zero-length span.
    let holds = span.contains(&offset) || (span.start == offset && span.is_empty());
    if is_container && holds && best.as_ref().is_none_or(|(d, _)| depth >= *d) {
        *best = Some((depth, path.clone()));
    }
    match value.get_ref() {
        DeValue::Table(table) => container_in_table(table, offset, path, depth, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push_index(path, i);
                container_in_value(item, offset, path, depth + 1, best);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// One step of a key path.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits a key path as produced by validation (`carriers[1].smpp[0].window`) into steps. Quoted keys are
/// not produced by validation, so they are not parsed here.
fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (part.get(..i).unwrap_or(""), part.get(i..).unwrap_or("")),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(i) = stripped.get(..end).unwrap_or("").parse() {
                out.push(Step::Index(i));
            }
            rest = stripped.get(end + 1..).unwrap_or("");
        }
    }
    out
}

/// The byte offset where a key path is written in the document: the key itself for a table entry, the element
/// for an array index. A path that does not exist (a missing key) resolves to its deepest existing ancestor.
pub(crate) fn offset_of(root: &DeTable<'_>, path: &str) -> Option<usize> {
    let mut found = None;
    let mut table = Some(root);
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for step in steps(path) {
        match step {
            Step::Key(k) => {
                let Some((key, v)) = table.and_then(|t| t.get_key_value(k)) else {
                    return found;
                };
                found = Some(key.span().start);
                value = Some(v);
            }
            Step::Index(i) => {
                let Some(DeValue::Array(items)) = value.map(Spanned::get_ref) else {
                    return found;
                };
                let Some(item) = items.get(i) else {
                    return found;
                };
                found = Some(item.span().start);
                value = Some(item);
            }
        }
        table = match value.map(Spanned::get_ref) {
            Some(DeValue::Table(t)) => Some(t),
            _ => None,
        };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_chars() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(position(text, 6), Position { line: 2, column: 1 });
        // "é" is two bytes but one column.
        assert_eq!(position(text, 10), Position { line: 2, column: 4 });
        assert_eq!(position(text, 999).line, 3);
    }

    #[test]
    fn paths_round_trip_through_offsets() {
        let text = "[api]\nlisten = \"x\"\n[[carriers]]\nid = \"a\"\n[[carriers]]\nid = \"b\"\n\
                    [[carriers.smpp]]\nwindow = 0\n";
        let doc = DeTable::parse(text).expect("test document parses");
        let doc = doc.get_ref();
        let at = offset_of(doc, "carriers[1].smpp[0].window").expect("path exists");
        assert_eq!(position(text, at).line, 8);
        assert_eq!(
            path_at(doc, at, 0).as_deref(),
            Some("carriers[1].smpp[0].window")
        );
        let value_at = text.find("0\n").expect("value present");
        assert_eq!(
            path_at(doc, value_at, 0).as_deref(),
            Some("carriers[1].smpp[0].window")
        );
        // A missing key resolves to its parent.
        let parent = offset_of(doc, "carriers[0].retry.initial_backoff").expect("parent exists");
        assert_eq!(position(text, parent).line, 3);
    }

    #[test]
    fn odd_keys_are_quoted() {
        let mut p = String::new();
        push_key(&mut p, "outcomes");
        push_key(&mut p, "a.b");
        assert_eq!(p, "outcomes.\"a.b\"");
    }
}
