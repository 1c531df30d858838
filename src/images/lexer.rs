//! Splitting a Dockerfile into instructions the way BuildKit's parser does.
//!
//! This is the syntax layer only: what is an instruction, where it starts and ends, its
//! flags, its arguments, and its heredoc bodies. Meaning (stages, sources, variables)
//! is [`super::dockerfile`]'s job. The rules follow BuildKit's
//! `frontend/dockerfile/parser` and are checked against it by a differential test
//! (`tests/it/lexer.rs`, driving the official parser through PyPI's `dockerfile`):
//!
//! - **Parser directives** (`# escape=…`, `# syntax=…`, `# check=…`): lines of the form
//!   `#[ \t]*NAME[ \t]*=[ \t]*VALUE` at the very top. The first line that is not one
//!   (an empty line, a comment, an unknown directive, an instruction) ends them. The
//!   escape character is `\` (default) or `` ` ``.
//! - **Comments**: a line whose first non-blank character is `#`; also inside a
//!   continued instruction, where they (and blank lines) are skipped.
//! - **Line continuation**: the escape character followed only by spaces/tabs at the end
//!   of a line joins the next line (without a newline).
//! - **Instruction**: first word (case-insensitive), then leading `--flag[=value]` words
//!   (quotes and `\` inside flags are removed; a lone `--` ends the flags), then the
//!   arguments.
//! - **Arguments**: for `COPY`/`ADD` a JSON array of strings when the rest starts with
//!   `[` and the first JSON value decodes (anything after it is ignored, as in
//!   BuildKit), else whitespace-separated words; `FROM` whitespace-separated; `ARG`/`ENV`
//!   shell-like words (quotes kept); everything else the rest as one string.
//! - **Heredocs** (`RUN`, `COPY`, `ADD` only): every word of the instruction line of the
//!   form `[n]<<[-]NAME` (NAME possibly quoted) opens a heredoc; their bodies follow the
//!   instruction, in order, each up to a line equal to NAME (after removing leading tabs
//!   with `<<-`). The bodies are never parsed as instructions.

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs are stripped (from the body when the file is written).
    pub chomp: bool,
    /// The delimiter was quoted (no variable expansion in the body).
    pub quoted: bool,
    /// The body as written, each line with its newline.
    pub content: String,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The instruction word, lowercased (`from`, `copy`, …).
    pub cmd: String,
    /// Leading `--flag[=value]` words, unquoted, without the terminating `--`.
    pub flags: Vec<String>,
    /// The arguments (see the module docs for how each instruction splits them).
    pub args: Vec<String>,
    /// True when the arguments came from a JSON array.
    pub json: bool,
    /// First line (1-based).
    pub start_line: usize,
    /// Last line, heredoc bodies included.
    pub end_line: usize,
    /// Heredocs, in the order they appear on the instruction line.
    pub heredocs: Vec<Heredoc>,
}

/// A Dockerfile split into instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexed {
    /// The escape character in force (`\` or `` ` ``).
    pub escape: char,
    /// Instructions in order.
    pub instructions: Vec<Instruction>,
    /// Problems BuildKit would reject the file for, with their line; lexing carries on
    /// as best it can.
    pub warnings: Vec<(usize, String)>,
}

/// Splits `text` into instructions.
pub fn lex(text: &str) -> Lexed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = split_lines(text);
    let mut out = Lexed {
        escape: '\\',
        ..Lexed::default()
    };
    let mut i = directives(&lines, &mut out);
    while i < lines.len() {
        let start = i;
        let first = trim_leading_ws(lines[i]);
        i += 1;
        if first.starts_with('#') {
            continue;
        }
        let (mut line, mut done) = trim_continuation(first, out.escape);
        if done && line.is_empty() {
            continue;
        }
        while !done && i < lines.len() {
            let raw = lines[i];
            i += 1;
            let trimmed = trim_leading_ws(raw);
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let (more, end) = trim_continuation(raw, out.escape);
            line.push_str(&more);
            done = end;
        }
        let mut ins = split_command(&line, start + 1, out.escape);
        // A heredoc word holds `<<`; most RUN lines (long package lists) have none.
        if matches!(ins.cmd.as_str(), "run" | "copy" | "add") && line.contains("<<") {
            for word in shell_words_raw(&line) {
                if let Some(doc) = parse_heredoc(&word) {
                    ins.heredocs.push(doc);
                }
            }
            for doc in &mut ins.heredocs {
                let mut terminated = false;
                while i < lines.len() {
                    let body = lines[i];
                    i += 1;
                    let candidate = if doc.chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(body);
                    doc.content.push('\n');
                }
                if !terminated {
                    out.warnings.push((
                        start + 1,
                        format!(
                            "unterminated heredoc `{}` (BuildKit rejects this)",
                            doc.name
                        ),
                    ));
                }
            }
        }
        ins.end_line = i;
        out.instructions.push(ins);
    }
    out
}

/// Lines without their `\n` / `\r\n`; a final newline does not make an extra line.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    lines
}

/// Reads the parser directives at the top; returns the index of the first other line.
fn directives(lines: &[&str], out: &mut Lexed) -> usize {
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            return i;
        };
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            return i;
        }
        if seen.contains(&name) {
            out.warnings.push((
                i + 1,
                format!("only one `{name}` parser directive can be used; this one is ignored"),
            ));
            continue;
        }
        seen.push(name.clone());
        if name == "escape" {
            match value.as_str() {
                "\\" => out.escape = '\\',
                "`" => out.escape = '`',
                other => out.warnings.push((
                    i + 1,
                    format!("invalid escape character {other:?} (must be \\ or `); using \\"),
                )),
            }
        }
    }
    lines.len()
}

/// `#[ \t]*NAME[ \t]*=[ \t]*VALUE[ \t]*` with NAME `[A-Za-z][A-Za-z0-9]*`, lowercased.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || *i > 0 && c.is_ascii_digit()))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let value = rest
        .trim_start_matches([' ', '\t'])
        .strip_prefix('=')?
        .trim_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_owned()))
}

fn trim_leading_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\x0b', '\x0c', '\r'])
}

/// Removes a trailing `ESCAPE[ \t]*`; returns the line and whether the instruction ends.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(rest) => (rest.to_owned(), false),
        None => (line.to_owned(), true),
    }
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r')
}

/// The instruction word, flags and arguments of a joined line.
fn split_command(line: &str, start_line: usize, escape: char) -> Instruction {
    let trimmed = line.trim_matches(is_ws);
    let (cmd, rest) = match trimmed.find(is_ws) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim_start_matches(is_ws)),
        None => (trimmed, ""),
    };
    let (flags, rest) = extract_flags(rest);
    let rest = rest.trim_matches(is_ws);
    let cmd = cmd.to_ascii_lowercase();
    let (args, json) = match cmd.as_str() {
        "copy" | "add" => match json_array(rest) {
            Some(list) => (list, true),
            None => (whitespace_words(rest), false),
        },
        "from" => (whitespace_words(rest), false),
        "arg" | "env" => (parse_words(rest, escape), false),
        _ => (vec![rest.to_owned()], false),
    };
    Instruction {
        cmd,
        flags,
        args,
        json,
        start_line,
        end_line: start_line,
        heredocs: Vec::new(),
    }
}

/// BuildKit's `extractBuilderFlags`: leading words starting with `--`.
fn extract_flags(line: &str) -> (Vec<String>, &str) {
    let mut words = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(char::is_whitespace);
        if rest.is_empty() {
            return (words, "");
        }
        if !rest.starts_with("--") {
            return (words, rest);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => word.extend(chars.next().map(|(_, n)| n)),
                _ => word.push(c),
            }
        }
        rest = &rest[end..];
        if word == "--" {
            return (words, rest);
        }
        words.push(word);
    }
}

/// The first JSON value of `rest` when it is an array of strings.
fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    let value = serde_json::Deserializer::from_str(rest)
        .into_iter::<serde_json::Value>()
        .next()?
        .ok()?;
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn whitespace_words(rest: &str) -> Vec<String> {
    rest.split(is_ws)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// BuildKit's `parseWords`: whitespace-separated words; quotes and escapes are kept in
/// the words, but whitespace inside quotes does not split.
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None => {
                if c.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
        }
        // The escape character keeps itself and the next character, and disappears at
        // the very end (not inside single quotes).
        let escapes = c == escape && quote.is_none_or(|q| q != '\'');
        if escapes {
            let Some(next) = chars.next() else {
                continue;
            };
            word.push(c);
            word.push(next);
        } else {
            word.push(c);
        }
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Shell words with quotes and backslashes kept (BuildKit's raw lexer for heredoc
/// detection): a quoted `"<<EOF"` stays one word starting with a quote.
fn shell_words_raw(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None if c == '\\' => {
                word.push(c);
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                word.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                word.push(c);
            }
            Some('"') if c == '\\' => {
                word.push(c);
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `^(\d*)<<(-?)([^<]*)$` with an optionally quoted, single-word name.
fn parse_heredoc(word: &str) -> Option<Heredoc> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let first = rest.chars().next()?;
    let (name, quoted) = if (first == '\'' || first == '"') && rest.len() >= 2 {
        let inner = rest.strip_prefix(first)?.strip_suffix(first)?;
        (inner.to_owned(), true)
    } else {
        // Unquoted: backslashes escape, quotes inside are removed.
        let mut name = String::new();
        let mut quoted = false;
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.extend(chars.next()),
                '\'' | '"' => quoted = true,
                _ => name.push(c),
            }
        }
        (name, quoted)
    };
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return None;
    }
    Some(Heredoc {
        name,
        chomp,
        quoted,
        content: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(text: &str) -> Vec<(String, usize, usize)> {
        lex(text)
            .instructions
            .into_iter()
            .map(|i| (i.cmd, i.start_line, i.end_line))
            .collect()
    }

    #[test]
    fn continuation_comments_and_blank_lines() {
        let l = lex("FROM a\n\n  # c\nRUN a \\\n  # inner\n\n  b\nCOPY x \\\ny\n");
        assert_eq!(l.instructions[1].args, vec!["a   b"]);
        assert_eq!(
            cmds("FROM a\n\n  # c\nRUN a \\\n  # inner\n\n  b\nCOPY x \\\ny\n"),
            vec![
                ("from".into(), 1, 1),
                ("run".into(), 4, 7),
                ("copy".into(), 8, 9)
            ]
        );
        assert_eq!(l.instructions[2].args, vec!["x", "y"]);
    }

    #[test]
    fn escape_directive_only_at_the_top() {
        let l = lex("# escape=`\nFROM a\nRUN x `\n y\nCOPY a\\b c\n");
        assert_eq!(l.escape, '`');
        assert_eq!(l.instructions[1].args, vec!["x  y"]);
        assert_eq!(l.instructions[2].args, vec!["a\\b", "c"]);
        let l = lex("\n# escape=`\nFROM a\nRUN x `\n y\n");
        assert_eq!(l.escape, '\\');
        assert_eq!(
            l.instructions.len(),
            3,
            "after a blank line it is a comment"
        );
        let l = lex("#syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM a\n");
        assert_eq!(l.escape, '`');
        let l = lex("# unknown=1\n# escape=`\nFROM a\n");
        assert_eq!(l.escape, '\\', "an unknown directive ends the directives");
        let l = lex("# escape=x\nFROM a\n");
        assert_eq!(l.escape, '\\');
        assert_eq!(l.warnings.len(), 1);
    }

    #[test]
    fn flags_json_and_words() {
        let l = lex("COPY --chown=\"a b\" --link [\"x y\", \"z\"] /d\nCOPY -- --x y\nCOPY ['a'] y\nCOPY [\"a\", 1] y\n");
        let i = &l.instructions;
        assert_eq!(i[0].flags, vec!["--chown=a b", "--link"]);
        assert!(i[0].json);
        assert_eq!(i[0].args, vec!["x y", "z"]);
        assert_eq!(i[1].flags, Vec::<String>::new());
        assert_eq!(i[1].args, vec!["--x", "y"]);
        assert!(!i[2].json);
        assert_eq!(i[2].args, vec!["['a']", "y"]);
        assert!(!i[3].json, "a non-string array is not the JSON form");
        let l = lex("ARG X=\"q r\" Y\nENV A=1 B=\"x y\"\n");
        assert_eq!(l.instructions[0].args, vec!["X=\"q r\"", "Y"]);
        assert_eq!(l.instructions[1].args, vec!["A=1", "B=\"x y\""]);
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "FROM a\nRUN cat <<EOF > x && cat <<-'E2' >y\nbody\nCOPY no way\nEOF\n\tb2\n\tE2\nRUN echo \"<<NO\"\nCOPY <<one <<\"two\" /d/\n1\none\n2\ntwo\n";
        let l = lex(text);
        let cmds: Vec<_> = l.instructions.iter().map(|i| i.cmd.as_str()).collect();
        assert_eq!(cmds, vec!["from", "run", "run", "copy"]);
        let run = &l.instructions[1];
        assert_eq!((run.start_line, run.end_line), (2, 7));
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].content, "body\nCOPY no way\n");
        assert!(run.heredocs[1].chomp && run.heredocs[1].quoted);
        assert_eq!(run.heredocs[1].content, "\tb2\n");
        assert!(l.instructions[2].heredocs.is_empty());
        let copy = &l.instructions[3];
        assert_eq!(copy.heredocs.len(), 2);
        assert_eq!(copy.heredocs[1].name, "two");
        assert_eq!(copy.end_line, 13);
        let l = lex("FROM a\nRUN <<EOF\nno end\n");
        assert_eq!(l.warnings.len(), 1);
        let l = lex("FROM a\nLABEL x=<<EOF\nCOPY a b\n");
        assert_eq!(l.instructions.len(), 3, "only RUN/COPY/ADD take heredocs");
    }

    #[test]
    fn bom_crlf_and_odd_input_do_not_panic() {
        let l = lex("\u{feff}FROM a\r\nCOPY x y\r\n");
        assert_eq!(l.instructions[1].args, vec!["x", "y"]);
        for text in [
            "",
            "\\",
            "#",
            "# escape=",
            "COPY",
            "COPY --",
            "COPY --x=\"",
            "RUN <<",
            "RUN <<-",
            "FROM a\\",
            "COPY <<'a",
            "é\\\n\\",
            "COPY [",
            "COPY [\"a\"",
        ] {
            let _ = lex(text);
        }
    }
}
