//! The words of CI scripts, as a POSIX shell splits and expands them: enough to read the
//! builder command lines ([`super::buildcmd`]) and the assignments, `cd`s and scripts
//! around them ([`super::declared::script`]).
//!
//! [`lex`] splits a script into simple commands (`;`, `&`, `&&`, `||`, `|`, `(`, `)`,
//! newlines; backslash-newline joins lines; `#` comments), keeping each word unexpanded,
//! with the line it starts on and whether it follows `&&` / `||`. [`expand`] then expands
//! a word with the variables known at that point: `$NAME`, `${NAME}`, `${NAME:-default}`,
//! `${NAME-default}`, positional parameters; quotes removed, unquoted expansions split
//! into fields, an unquoted expansion to nothing dropped. What is not known here (an
//! unknown variable, `$(…)` the environment cannot evaluate, other `${…}` forms) becomes
//! [`ANY`], "any text", so a path holding it is a pattern, never a guess.

use std::collections::HashMap;

use super::dockerfile::ANY;

/// Marks the repository root as an absolute path (`$CI_PROJECT_DIR`, `$GITHUB_WORKSPACE`,
/// `$(pwd)` at the root): a path starting with it is resolved from the root, whatever the
/// working directory. Git paths never start with this character in practice, and a word
/// holding it anywhere else is not a repository path.
pub const ROOT: char = '\u{1}';

/// A piece of a word as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text; `true` when it was quoted (so an empty word still counts).
    Lit(String, bool),
    /// `$NAME` / `${NAME}` / `${NAME:-default}`: the name, the default (raw text), and
    /// whether the expansion was inside double quotes (no field splitting).
    Var {
        /// The variable (or positional parameter: `1`, `@`, …).
        name: String,
        /// `${NAME:-default}` / `${NAME-default}`: the default's text.
        default: Option<String>,
        /// Inside double quotes.
        quoted: bool,
    },
    /// `$(…)` or a backquoted command: its text.
    Subst(String),
    /// Something not understood here (`${#x}`, `${x%y}`, `$'…'`).
    Any,
}

/// A word as written (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word(pub Vec<Piece>);

/// One simple command as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// Its words.
    pub words: Vec<Word>,
    /// The line it starts on (0-based, within the text lexed).
    pub line: usize,
    /// It runs only when the command before it succeeded or failed (`&&`, `||`).
    pub chained: bool,
    /// What ends it.
    pub end: End,
    /// It is `NAME()`: a function definition's head.
    pub func: bool,
}

/// What ends a simple command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A newline, `;`, `&`, `&&`, `||`, or the end of the text.
    Line,
    /// `;;`: the end of a `case` arm (a command with no words when it stands alone).
    Arm,
    /// `|`: a pipe (or, in a `case` pattern, another pattern follows).
    Pipe,
    /// `(`.
    Open,
    /// `)`: the end of a subshell, or of a `case` pattern.
    Close,
}

/// What expansions see: variables (positional parameters included) and, where the
/// caller can, the value of a command substitution.
pub trait Env {
    /// A variable's value; `None` when it is not known here.
    fn var(&self, name: &str) -> Option<String>;
    /// What `$(text)` prints; `None` when it is not known here.
    fn subst(&self, _text: &str) -> Option<String> {
        None
    }
    /// Whether a variable [`Env::var`] does not know is unset (rather than unknown).
    fn unset(&self, _name: &str) -> bool {
        false
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Splits a script into simple commands, words unexpanded.
pub fn lex(script: &str) -> Vec<Raw> {
    Lexer {
        chars: script.chars().collect(),
        at: 0,
        line: 0,
    }
    .commands()
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn commands(mut self) -> Vec<Raw> {
        let mut out = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        let mut word = Word::default();
        let mut in_word = false;
        let mut start = 0;
        let mut chained = false;
        let mut next_chained = false;
        let mut words_started = false;
        while let Some(c) = self.peek() {
            let sep = matches!(c, '\n' | ';' | '&' | '|' | '(' | ')');
            if c == ' ' || c == '\t' || c == '\r' || sep {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if sep {
                    let doubled = matches!(c, '&' | '|' | ';') && self.peek2() == Some(c);
                    let end = match c {
                        ';' if doubled => End::Arm,
                        '|' if !doubled => End::Pipe,
                        '(' => End::Open,
                        ')' => End::Close,
                        _ => End::Line,
                    };
                    self.bump();
                    if doubled {
                        self.bump();
                    }
                    // `name()`: the empty parentheses of a function definition.
                    let mut func = false;
                    if end == End::Open && !words.is_empty() {
                        let mut k = self.at;
                        while matches!(self.chars.get(k), Some(' ' | '\t')) {
                            k += 1;
                        }
                        if self.chars.get(k) == Some(&')') {
                            func = true;
                            while self.at <= k {
                                self.bump();
                            }
                        }
                    }
                    if !words.is_empty() || end == End::Arm {
                        out.push(Raw {
                            words: std::mem::take(&mut words),
                            line: if words_started { start } else { self.line },
                            chained,
                            end,
                            func,
                        });
                    }
                    words_started = false;
                    if doubled && c != ';' {
                        next_chained = true;
                    } else if c != '|' && c != '(' {
                        next_chained = false;
                    }
                    continue;
                }
                self.bump();
                continue;
            }
            if !in_word {
                if c == '#' {
                    while self.peek().is_some_and(|d| d != '\n') {
                        self.bump();
                    }
                    continue;
                }
                if !words_started {
                    start = self.line;
                    chained = next_chained;
                    words_started = true;
                }
                in_word = true;
            }
            self.piece(&mut word);
        }
        if in_word {
            words.push(word);
        }
        if !words.is_empty() {
            out.push(Raw {
                words,
                line: start,
                chained,
                end: End::Line,
                func: false,
            });
        }
        out
    }

    /// Reads the next piece of a word (at a non-blank, non-separator character).
    fn piece(&mut self, word: &mut Word) {
        let Some(c) = self.bump() else { return };
        match c {
            '\'' => {
                let mut t = String::new();
                while let Some(d) = self.bump() {
                    if d == '\'' {
                        break;
                    }
                    t.push(d);
                }
                lit(word, t, true);
            }
            '"' => {
                lit(word, String::new(), true);
                while let Some(d) = self.bump() {
                    match d {
                        '"' => break,
                        '\\' => match self.bump() {
                            Some('\n') => {}
                            Some(n) if matches!(n, '$' | '`' | '"' | '\\') => {
                                lit(word, n.to_string(), true)
                            }
                            Some(n) => lit(word, format!("\\{n}"), true),
                            None => {}
                        },
                        '$' => self.dollar(word, true),
                        '`' => self.backquote(word),
                        _ => lit(word, d.to_string(), true),
                    }
                }
            }
            '\\' => match self.bump() {
                // A line continuation: nothing.
                Some('\n') | None => {}
                Some(n) => lit(word, n.to_string(), true),
            },
            '$' => self.dollar(word, false),
            '`' => self.backquote(word),
            _ => lit(word, c.to_string(), false),
        }
    }

    fn backquote(&mut self, word: &mut Word) {
        let mut t = String::new();
        while let Some(d) = self.bump() {
            if d == '`' {
                break;
            }
            t.push(d);
        }
        word.0.push(Piece::Subst(t));
    }

    /// After a `$`.
    fn dollar(&mut self, word: &mut Word, quoted: bool) {
        match self.peek() {
            Some('{') => {
                self.bump();
                let mut inner = String::new();
                let mut depth = 0;
                while let Some(d) = self.bump() {
                    match d {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    inner.push(d);
                }
                word.0.push(braced(&inner, quoted));
            }
            Some('(') => {
                self.bump();
                let arith = self.peek() == Some('(');
                let mut depth = 1;
                let mut t = String::new();
                while let Some(d) = self.bump() {
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    t.push(d);
                }
                word.0
                    .push(if arith { Piece::Any } else { Piece::Subst(t) });
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(d) = self.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        name.push(d);
                        self.bump();
                    } else {
                        break;
                    }
                }
                word.0.push(Piece::Var {
                    name,
                    default: None,
                    quoted,
                });
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.bump();
                word.0.push(Piece::Var {
                    name: c.to_string(),
                    default: None,
                    quoted,
                });
            }
            Some('\'') if !quoted => {
                // `$'…'`: ANSI-C quoting, not read here.
                self.bump();
                while let Some(d) = self.bump() {
                    if d == '\'' {
                        break;
                    }
                }
                word.0.push(Piece::Any);
            }
            _ => lit(word, "$".into(), quoted),
        }
    }
}

fn lit(word: &mut Word, t: String, quoted: bool) {
    if let Some(Piece::Lit(last, q)) = word.0.last_mut() {
        if *q == quoted {
            last.push_str(&t);
            return;
        }
    }
    word.0.push(Piece::Lit(t, quoted));
}

/// `${…}`: a name with an optional `:-` / `-` default; anything else is not read here.
fn braced(inner: &str, quoted: bool) -> Piece {
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    if name.is_empty() {
        return Piece::Any;
    }
    let default = if rest.is_empty() {
        None
    } else if let Some(d) = rest.strip_prefix(":-").or_else(|| rest.strip_prefix('-')) {
        Some(d.to_owned())
    } else {
        return Piece::Any;
    };
    Piece::Var {
        name: name.to_owned(),
        default,
        quoted,
    }
}

/// A variable's value in a word: the known value, else the default, else [`ANY`].
fn value(env: &dyn Env, name: &str, default: Option<&str>) -> String {
    match (env.var(name), default) {
        (Some(v), _) => v,
        (None, Some(d)) if !d.contains(['$', '`']) => d.to_owned(),
        (None, None) if env.unset(name) => String::new(),
        _ => ANY.to_string(),
    }
}

/// The fields a word expands to.
pub fn expand(word: &Word, env: &dyn Env) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    let mut cur = String::new();
    // Whether `cur` is a field even when empty (quoted text, or text was added).
    let mut real = false;
    for p in &word.0 {
        match p {
            Piece::Lit(t, q) => {
                cur.push_str(t);
                real |= *q || !t.is_empty();
            }
            Piece::Var {
                name,
                default,
                quoted,
            } => {
                let v = value(env, name, default.as_deref());
                if *quoted {
                    cur.push_str(&v);
                    real = true;
                } else {
                    split_into(&v, &mut fields, &mut cur, &mut real);
                }
            }
            Piece::Subst(t) => match env.subst(t) {
                Some(v) => split_into(&v, &mut fields, &mut cur, &mut real),
                None => {
                    cur.push(ANY);
                    real = true;
                }
            },
            Piece::Any => {
                cur.push(ANY);
                real = true;
            }
        }
    }
    if real {
        fields.push(cur);
    }
    fields
}

/// Appends an unquoted expansion's text, split at blanks into fields.
fn split_into(v: &str, fields: &mut Vec<String>, cur: &mut String, real: &mut bool) {
    let mut first = true;
    let starts_blank = v.starts_with([' ', '\t', '\n']);
    for part in v.split([' ', '\t', '\n']).filter(|p| !p.is_empty()) {
        if (!first || starts_blank) && *real {
            fields.push(std::mem::take(cur));
        }
        cur.push_str(part);
        *real = true;
        first = false;
    }
    if v.ends_with([' ', '\t', '\n']) && *real && !first {
        fields.push(std::mem::take(cur));
        *real = false;
    }
}

/// Splits a script into simple commands (each a list of unquoted words), expanding
/// variables with `vars`; unknown expansions become [`ANY`] (no control flow followed:
/// for GitHub `run:` steps' compose and bake lines).
pub fn commands(script: &str, vars: &HashMap<String, String>) -> Vec<Vec<String>> {
    lex(script)
        .iter()
        .map(|c| c.words.iter().flat_map(|w| expand(w, vars)).collect())
        .filter(|w: &Vec<String>| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str, vars: &[(&str, &str)]) -> Vec<Vec<String>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        commands(s, &vars)
    }

    #[test]
    fn splits_quotes_and_expands_like_a_shell() {
        let any = ANY.to_string();
        assert_eq!(
            words(
                "a 'b c' \"d $X\" e\\ f $Y ${Z:-zz} ${W-} \"\" $UNKNOWN # c\ng && h",
                &[("X", "x"), ("Y", "1 2")]
            ),
            vec![
                vec!["a", "b c", "d x", "e f", "1", "2", "zz", "", &any],
                vec!["g"],
                vec!["h"]
            ]
        );
        assert_eq!(
            words("docker build $EMPTY .", &[("EMPTY", "")]),
            vec![vec!["docker", "build", "."]]
        );
        assert_eq!(
            words("x ${a%b} $(pwd) `id`", &[]),
            vec![vec!["x", &any, &any, &any]]
        );
        assert_eq!(words("a \\\n  b", &[]), vec![vec!["a", "b"]]);
    }

    #[test]
    fn separators_that_make_structure() {
        let raw = lex("f() {\n  a\n}\ncase $x in\n  a|b) c ;;\n  *) d\n  ;;\nesac\n");
        let got: Vec<(usize, End, bool)> =
            raw.iter().map(|r| (r.words.len(), r.end, r.func)).collect();
        assert_eq!(
            got,
            vec![
                (1, End::Open, true),
                (1, End::Line, false),
                (1, End::Line, false),
                (1, End::Line, false),
                (3, End::Line, false),
                (1, End::Pipe, false),
                (1, End::Close, false),
                (1, End::Arm, false),
                (1, End::Close, false),
                (1, End::Line, false),
                (0, End::Arm, false),
                (1, End::Line, false),
            ]
        );
    }

    #[test]
    fn lines_and_chains() {
        let raw = lex("a\n\nb && c || d; e\n  f \\\n g\n");
        let got: Vec<(usize, bool)> = raw.iter().map(|r| (r.line, r.chained)).collect();
        assert_eq!(
            got,
            vec![
                (0, false),
                (2, false),
                (2, true),
                (2, true),
                (2, false),
                (3, false)
            ]
        );
    }
}
