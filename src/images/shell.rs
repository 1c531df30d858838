//! Variable expansion and quote removal in one Dockerfile word (a `FROM` image, a
//! `COPY` source), the subset of BuildKit's shell lexer that decides what a word means.
//!
//! Supported: `'…'` (literal), `"…"` (escapes `"`, `$` and the escape character),
//! the escape character outside quotes, `$NAME`, `${NAME}`, `${NAME:-word}`,
//! `${NAME-word}`, `${NAME:+word}`, `${NAME+word}` (words expanded recursively).
//!
//! A variable whose value cannot be known here (an `ARG` without a default, a platform
//! argument, an environment variable a base image may set) becomes [`Piece::Any`]: the
//! caller decides what "any text" means (a wildcard for sources, "unknown" for `FROM`).
//! So does any other `${…}` form (`${x#pat}`, `${x/a/b}`, …).

/// What a variable is, as far as the Dockerfile tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// A known value.
    Value(String),
    /// Declared but unknowable here (no default, set by the builder or a base image).
    Unknown,
    /// Not declared: expands to nothing, as in Docker.
    Unset,
}

/// A piece of an expanded word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Known text.
    Lit(String),
    /// Some text that cannot be known here.
    Any,
}

/// An expanded word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded(pub Vec<Piece>);

impl Expanded {
    /// The text, when every piece is known.
    pub fn known(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(t) => s.push_str(t),
                Piece::Any => return None,
            }
        }
        Some(s)
    }

    /// The text with each unknown piece replaced by `any`.
    pub fn with_any(&self, any: &str) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Lit(t) => t.as_str(),
                Piece::Any => any,
            })
            .collect()
    }

    fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Piece::Lit(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.0.push(Piece::Lit(s.to_owned()));
        }
    }

    fn push_char(&mut self, c: char) {
        // Literal text arrives a character at a time (long ENV values): no detour via &str.
        match self.0.last_mut() {
            Some(Piece::Lit(last)) => last.push(c),
            _ => self.0.push(Piece::Lit(c.to_string())),
        }
    }

    fn push_any(&mut self) {
        if self.0.last() != Some(&Piece::Any) {
            self.0.push(Piece::Any);
        }
    }

    fn extend(&mut self, other: Expanded) {
        for p in other.0 {
            match p {
                Piece::Lit(t) => self.push_str(&t),
                Piece::Any => self.push_any(),
            }
        }
    }
}

/// Expands one word: quotes removed, variables substituted through `lookup`.
pub fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Var) -> Expanded {
    expand_at(word, escape, lookup, 0)
}

/// [`expand`] inside `depth` enclosing `${V:-…}` words. Past
/// [`crate::limits::MAX_EXPANSION_DEPTH`] a nested word matches any text: 50,000 nested
/// `${a:-` in one COPY line used to recurse 50,000 deep and copy the rest of the line at
/// every level (the process was killed for its memory).
fn expand_at(word: &str, escape: char, lookup: &dyn Fn(&str) -> Var, depth: usize) -> Expanded {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Expanded::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape {
            if let Some(&n) = chars.get(i + 1) {
                out.push_char(n);
            }
            i += 2;
        } else if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push_char(chars[i]);
                i += 1;
            }
            i += 1;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let d = chars[i];
                if d == escape {
                    match chars.get(i + 1) {
                        Some(&n) if n == '"' || n == '$' || n == escape => {
                            out.push_char(n);
                            i += 2;
                        }
                        Some(_) => {
                            out.push_char(d);
                            i += 1;
                        }
                        None => i += 1,
                    }
                } else if d == '$' {
                    i = dollar(&chars, i, escape, lookup, depth, &mut out);
                } else {
                    out.push_char(d);
                    i += 1;
                }
            }
            i += 1;
        } else if c == '$' {
            i = dollar(&chars, i, escape, lookup, depth, &mut out);
        } else {
            out.push_char(c);
            i += 1;
        }
    }
    out
}

/// Expands the `$…` at `chars[at]`; returns the index after it.
fn dollar(
    chars: &[char],
    at: usize,
    escape: char,
    lookup: &dyn Fn(&str) -> Var,
    depth: usize,
    out: &mut Expanded,
) -> usize {
    let mut i = at + 1;
    match chars.get(i) {
        Some('{') => {
            i += 1;
            let name_start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[name_start..i].iter().collect();
            let close = matching_brace(chars, i);
            let Some(close) = close else {
                // `${` without `}`: BuildKit rejects it; nothing sensible to substitute.
                out.push_any();
                return chars.len();
            };
            if depth >= crate::limits::MAX_EXPANSION_DEPTH {
                out.push_any();
                return close + 1;
            }
            let op: String = chars[i..close].iter().collect();
            let value = lookup(&name);
            if name.is_empty() {
                out.push_any();
            } else if op.is_empty() {
                substitute(&value, out);
            } else if let Some((kind, word)) = modifier(&op) {
                let word = expand_at(word, escape, lookup, depth + 1);
                apply_modifier(kind, &value, word, out);
            } else {
                out.push_any();
            }
            close + 1
        }
        Some(c) if c.is_ascii_digit() => {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            i
        }
        Some(c) if c.is_alphabetic() || *c == '_' => {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            substitute(&lookup(&name), out);
            i
        }
        Some('@' | '*' | '#' | '?' | '-' | '$' | '!') => i + 1,
        _ => {
            out.push_char('$');
            i
        }
    }
}

fn matching_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in chars.iter().enumerate().skip(from) {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(j),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn modifier(op: &str) -> Option<(&'static str, &str)> {
    for kind in [":-", ":+", "-", "+"] {
        if let Some(word) = op.strip_prefix(kind) {
            return Some((kind, word));
        }
    }
    None
}

fn substitute(value: &Var, out: &mut Expanded) {
    match value {
        Var::Value(v) => out.push_str(v),
        Var::Unknown => out.push_any(),
        Var::Unset => {}
    }
}

fn apply_modifier(kind: &str, value: &Var, word: Expanded, out: &mut Expanded) {
    match (kind, value) {
        (_, Var::Unknown) => out.push_any(),
        (":-", Var::Value(v)) if v.is_empty() => out.extend(word),
        ("-" | ":-", Var::Value(v)) => out.push_str(v),
        ("-" | ":-", Var::Unset) => out.extend(word),
        (":+", Var::Value(v)) if v.is_empty() => {}
        (":+" | "+", Var::Value(_)) => out.extend(word),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Var {
        match name {
            "A" => Var::Value("alpha".into()),
            "E" => Var::Value(String::new()),
            "U" => Var::Unknown,
            _ => Var::Unset,
        }
    }

    fn x(word: &str) -> String {
        expand(word, '\\', &env).with_any("<?>")
    }

    #[test]
    fn substitutions() {
        assert_eq!(x("$A/${A}/x$Bz"), "alpha/alpha/x");
        assert_eq!(
            x("${B:-dflt}:${A:-no}:${E:-empty}:${E-kept}"),
            "dflt:alpha:empty:"
        );
        assert_eq!(x("${A:+yes}${B:+no}${E:+no}${E+set}"), "yesset");
        assert_eq!(x("${U}/${U:-d}/${A#al}"), "<?>/<?>/<?>");
        assert_eq!(x("${B:-${A}x}"), "alphax");
        assert_eq!(x("$ $1 $@ a$"), "$   a$");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'\"$A\"\\$A"), "$Aalpha$A");
        assert_eq!(x("\"a\\\"b\\n\""), "a\"b\\n");
        assert_eq!(expand("a`$A", '`', &env).with_any("?"), "a$A");
        assert_eq!(expand("${U}x", '\\', &env).known(), None);
        assert_eq!(
            expand("${A}x", '\\', &env).known().as_deref(),
            Some("alphax")
        );
        for odd in ["${", "${A", "\"", "'", "\\", "$", "${:-}", "${A:-${"] {
            let _ = x(odd);
        }
    }
}
