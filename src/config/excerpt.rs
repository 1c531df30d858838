//! Where in what the user wrote a configuration error is: the source line and a caret
//! under the offending part, as cargo and rustc show them.
//!
//! An error message is its first line; the excerpt follows on lines of its own, which
//! [`crate::error::Error::render`] indents and escapes one by one. The excerpt always
//! quotes the user's own text: for a regex, the pattern as written, never the one
//! dockguard compiles (`^(?:(?s:…))$`), whose offsets mean nothing to the user.

use std::fmt::Write as _;
use std::ops::Range;

/// `text`'s line holding byte `span.start`, and carets under the span (at least one, cut
/// at the end of the line): `  2 | inputs = ["a/**"` over `    |                 ^`.
pub(crate) fn at(text: &str, span: Range<usize>) -> String {
    let start = floor_char(text, span.start.min(text.len()));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let number = text[..line_start].matches('\n').count() + 1;
    // One column per character; a tab shown as one space keeps the caret under it.
    let line = text[line_start..line_end]
        .trim_end_matches('\r')
        .replace('\t', " ");
    let column = text[line_start..start].chars().count();
    let end = floor_char(text, span.end.clamp(start, line_end));
    let width = text[start..end].chars().count().max(1);
    let gutter = " ".repeat(number.to_string().len());
    let mut out = String::new();
    let _ = writeln!(out, "{number} | {line}");
    let _ = write!(
        out,
        "{gutter} | {}{}",
        " ".repeat(column),
        "^".repeat(width)
    );
    out
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A TOML error as a summary and the excerpt of the line it is on.
pub(crate) fn toml(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let number = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {number})\n{}", at(text, span))
        }
        None => message,
    }
}

/// Why `pattern`, exactly as the user wrote it, is not a valid regex: the regex
/// crate's summary and its excerpt (the pattern with a caret), or `None` when it compiles
/// (as a bytes regex, which is how paths are matched).
pub(crate) fn regex(pattern: &str) -> Option<String> {
    let e = regex::bytes::Regex::new(pattern).err()?;
    let text = match &e {
        regex::Error::Syntax(s) => s.clone(),
        other => return Some(other.to_string()),
    };
    // "regex parse error:\n    PATTERN\n    ^^^\nerror: WHAT"
    let mut lines: Vec<&str> = text.lines().collect();
    let summary = match lines.last() {
        Some(l) if l.starts_with("error: ") => l.trim_start_matches("error: ").to_owned(),
        _ => return Some(text.split_whitespace().collect::<Vec<_>>().join(" ")),
    };
    lines.pop();
    if lines
        .first()
        .is_some_and(|l| l.starts_with("regex parse error"))
    {
        lines.remove(0);
    }
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    Some(format!("{summary}\n{}", lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_span_on_its_line() {
        let text = "[match]\ninputs = [\"a/**\"\n";
        // At the newline that ends line 2: just after its last character.
        let caret = format!("2 | inputs = [\"a/**\"\n  | {}^", " ".repeat(16));
        assert_eq!(at(text, 24..25), caret);
        assert_eq!(at(text, 8..14), "2 | inputs = [\"a/**\"\n  | ^^^^^^");
        // A span past the end points after the last character.
        assert_eq!(at("ab", 5..9), "1 | ab\n  |   ^");
    }

    #[test]
    fn columns_count_characters_and_tabs() {
        assert_eq!(at("\té = 1x\n", 7..8), "1 |  é = 1x\n  |       ^");
    }

    #[test]
    fn a_regex_error_quotes_the_pattern_as_written() {
        let e = regex("a(b").expect("invalid");
        let (summary, excerpt) = e.split_once('\n').expect("excerpt");
        assert_eq!(summary, "unclosed group");
        assert!(
            excerpt.contains("a(b") && !excerpt.contains("(?s:"),
            "{excerpt}"
        );
        assert!(
            excerpt.lines().nth(1).is_some_and(|l| l.trim() == "^"),
            "{excerpt}"
        );
        assert_eq!(regex("a(b)"), None);
    }
}
