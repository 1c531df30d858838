//! Reading the docs' shell commands as a shell does, as far as the tests need: words and
//! operators, and the `dockguard` invocations among them.

use super::markdown::Block;

/// A shell token: a word (quotes and escapes removed) or an operator.
#[derive(Debug, PartialEq)]
pub(crate) enum Tok {
    Word(String),
    Op(String),
}

/// Splits shell text into words and operators (`|`, `||`, `&&`, `;`, `&`, `<`, `>`, `>>`,
/// `(`, `)`, newlines), dropping comments and joining `\`-continued lines; enough for the
/// commands the docs show, and it fails on what it does not understand.
pub(crate) fn lex(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    let mut word: Option<String> = None;
    let flush = |word: &mut Option<String>, toks: &mut Vec<Tok>| {
        if let Some(w) = word.take() {
            toks.push(Tok::Word(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(e) => word.get_or_insert_with(String::new).push(e),
                None => panic!("a trailing backslash in {text:?}"),
            },
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => w.push(ch),
                        None => panic!("an unclosed ' in {text:?}"),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => w.push(e),
                            Some(e) => {
                                w.push('\\');
                                w.push(e);
                            }
                            None => panic!("an unclosed \" in {text:?}"),
                        },
                        Some(ch) => w.push(ch),
                        None => panic!("an unclosed \" in {text:?}"),
                    }
                }
            }
            '#' if word.is_none() => {
                while chars.peek().is_some_and(|&ch| ch != '\n') {
                    chars.next();
                }
            }
            ' ' | '\t' => flush(&mut word, &mut toks),
            '\n' | ';' | '(' | ')' | '<' => {
                flush(&mut word, &mut toks);
                toks.push(Tok::Op(c.to_string()));
            }
            '|' | '&' | '>' => {
                flush(&mut word, &mut toks);
                let mut op = c.to_string();
                if chars.peek() == Some(&c) {
                    op.push(c);
                    chars.next();
                }
                toks.push(Tok::Op(op));
            }
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    flush(&mut word, &mut toks);
    toks
}

/// Every `dockguard` invocation in shell text, as its arguments (without `dockguard`):
/// the words of each simple command after its `NAME=value` assignments; a redirection's
/// target is not an argument; `sh -c SCRIPT`/`bash -c SCRIPT` is read as shell too.
pub(crate) fn invocations(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    // After `>`, `>>` or `<` the next word is a file, not an argument (`<(` is a
    // process substitution: `(` starts a command).
    let mut target = false;
    let end = |words: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        let cmd: Vec<String> = words
            .drain(..)
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .collect();
        if cmd.first().map(String::as_str) == Some("dockguard") {
            out.push(cmd[1..].to_vec());
        }
        // A script a command hands to a shell (`docker run IMAGE sh -c '…'`).
        for w in cmd.windows(3) {
            if matches!(w[0].as_str(), "sh" | "bash") && w[1] == "-c" {
                out.extend(invocations(&w[2]));
            }
        }
    };
    for tok in lex(text) {
        match tok {
            Tok::Word(_) if target => target = false,
            Tok::Word(w) => words.push(w),
            Tok::Op(op) if matches!(op.as_str(), ">" | ">>" | "<") => target = true,
            Tok::Op(_) => {
                target = false;
                end(&mut words, &mut out);
            }
        }
    }
    end(&mut words, &mut out);
    out
}

/// The shell text of a runnable block: a console block's `$ ` lines (with their `> `
/// continuations), a sh block as it is.
pub(crate) fn shell_text(block: &Block) -> Option<String> {
    match block.lang.as_str() {
        "sh" => Some(block.text.clone()),
        "console" => {
            let mut script = String::new();
            let mut continued = false;
            for line in block.text.lines() {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    script.push_str(cmd);
                } else if let Some(cmd) = line.strip_prefix("> ").filter(|_| continued) {
                    script.push_str(cmd);
                } else {
                    continued = false;
                    continue;
                }
                script.push('\n');
                continued = line.ends_with('\\');
            }
            Some(script)
        }
        _ => None,
    }
}

/// GitLab replaces `$[[ inputs.NAME ]]` before any shell sees the line: one word.
pub(crate) fn interpolated(span: &str) -> String {
    let mut out = String::new();
    let mut rest = span;
    while let Some(start) = rest.find("$[[") {
        let end = rest[start..].find("]]").expect("a closed $[[ … ]]") + start + 2;
        out.push_str(&rest[..start]);
        out.push_str("VALUE");
        rest = &rest[end..];
    }
    out + rest
}
