//! One escaping mechanism for every user-derived string dockguard shows: ref and remote
//! names, paths, commit summaries, push options, setting names and values, dockerfile
//! words. They come from whoever pushed or wrote the repository's files, and may hold
//! terminal escape sequences (`ESC [ 2 J` clears the screen; OSC 8 makes links), newlines
//! that forge extra log lines, Unicode bidirectional overrides that make text read
//! differently from what it is ("Trojan Source"), Markdown that renders links and images
//! in a CI summary, or shell syntax in a line meant to be pasted.
//!
//! Each output context has one function here, all built on [`is_unsafe`]:
//! - [`text`]: terminals, messages, logs, error lines: unsafe characters become visible
//!   escapes (`\n`, `\x1b`, `\u{202e}`);
//! - [`shell_word`] / [`shell_join`]: a command line to copy and paste into a POSIX
//!   shell: single quotes when needed, `$'…'` (POSIX.1-2024; bash, zsh, ksh, busybox sh)
//!   when the word holds an unsafe character, so the line shows and runs exactly the word
//!   and never prints the character itself ([`shell_literal`] for scripts dockguard writes);
//! - [`md_code`]: Markdown (GitHub's step summary): an inline code span, which renders no
//!   links, images, HTML or emphasis, with its delimiters and table pipes neutralised.
//!
//! Values written to machine-read files (dotenv, `$GITHUB_OUTPUT`) have their own, stricter
//! rules in [`crate::render::outputs`], which uses [`text`] for lines it keeps.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that must never reach a terminal, a log or a rendered document as they
/// are: C0 and C1 controls and DEL (`char::is_control`), line and paragraph separators,
/// and the invisible formatting characters that reorder or hide text (bidirectional
/// embeddings, overrides and isolates, zero-width characters, the BOM).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// The visible form of an unsafe character.
fn visible(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Text for a terminal, a message or a log line: one line, every unsafe character shown
/// as an escape. Text without any is returned as it is.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`text`] for a whole message of several lines: line breaks kept, every other unsafe
/// character shown as an escape. Messages pass here on their way out (the hook's, `push`'s,
/// `status`), behind the escaping of each value, so a value missed there still cannot
/// reach the terminal raw. Idempotent: escapes contain no unsafe character.
pub fn lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.split('\n')
            .map(|l| text(l))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A word for a POSIX shell command line: as it is when it needs no quoting, else in
/// single quotes, else (it holds an unsafe character, which must not be printed raw)
/// in `$'…'` with octal escapes. Pasting the line runs exactly this word.
pub fn shell_word(s: &str) -> String {
    if !s.chars().any(is_unsafe) {
        return shell_literal(s);
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe(c) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:03o}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A word for shell scripts dockguard writes (the hook shim): as it is when it needs no
/// quoting, else in single quotes, which every POSIX shell reads back exactly whatever
/// the word holds. For lines people read, use [`shell_word`].
pub fn shell_literal(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Words joined into one POSIX shell command line (see [`shell_word`]).
pub fn shell_join(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for Markdown: an inline code span. Code spans render no links, images, HTML or
/// emphasis; backticks inside are replaced (they would end the span), `|` is escaped (it
/// would end a table cell), and unsafe characters are shown as escapes ([`text`]).
pub fn md_code(s: &str) -> String {
    let t = text(s).replace('`', "'").replace('|', "\\|");
    format!("`{t}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_what_it_hides() {
        assert_eq!(text("refs/heads/x"), "refs/heads/x");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(text("a\x1b[2Jb\nc\td\r"), "a\\x1b[2Jb\\nc\\td\\r");
        assert_eq!(text("x\u{202e}y\u{7f}\u{9b}"), "x\\u{202e}y\\x7f\\u{9b}");
        assert_eq!(text("naïve 🐳"), "naïve 🐳", "printable Unicode stays");
    }

    #[test]
    fn messages_keep_their_lines() {
        assert_eq!(lines("a\nb\x1b[2J\n"), "a\nb\\x1b[2J\n");
        assert_eq!(lines(&lines("x\u{202e}")), lines("x\u{202e}"), "idempotent");
    }

    #[test]
    fn shell_words_paste_back_to_themselves() {
        assert_eq!(shell_word("refs/heads/x"), "refs/heads/x");
        assert_eq!(
            shell_word("ci.variable=DOCKGUARD_REBUILD=1"),
            "ci.variable=DOCKGUARD_REBUILD=1"
        );
        assert_eq!(shell_word("HEAD~"), "'HEAD~'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_word("a\x1b[31mb'\\"), r"$'a\033[31mb\'\\'");
        assert_eq!(shell_word("\u{202e}"), r"$'\342\200\256'");
    }

    #[test]
    fn markdown_code_spans_cannot_break_out() {
        assert_eq!(md_code("a`b|c\n<x>"), "`a'b\\|c\\n<x>`");
        assert_eq!(
            md_code("ci.variable=X=1 ![i](https://e/x.png)"),
            "`ci.variable=X=1 ![i](https://e/x.png)`"
        );
    }
}
