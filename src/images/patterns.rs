//! The two pattern languages of a Docker build, as regexes over path bytes:
//!
//! - **COPY/ADD sources**: Go `filepath.Match` (`*` and `?` within one component,
//!   `[…]` classes with `^` negation, `\` escapes), relative to the context root. A
//!   source also names everything below it (a directory is copied whole), so the regex
//!   matches the path and its descendants.
//! - **`.dockerignore`** (BuildKit / `moby/patternmatcher` semantics): one pattern per
//!   line; lines starting with `#` are comments; surrounding whitespace is trimmed;
//!   `!` makes an exception; patterns are cleaned like Go's `filepath.Clean` with a
//!   leading `/` dropped; `**` matches any number of directories (also none); `*`, `?`,
//!   `[…]` and `\` as above. A path is ignored when the last pattern matching it (or
//!   one of its parent directories) is not an exception, so `dir` + `!dir/keep` keeps
//!   `dir/keep`.

use regex::bytes::Regex;

use super::dockerfile::ANY;
use crate::limits::MAX_COPY_SOURCES;

/// The regex body (unanchored) for a COPY source pattern, matching the path and
/// everything below it. An empty pattern is the whole context.
pub fn source_regex(pattern: &str) -> String {
    if pattern.is_empty() {
        return "(?s-u:.*)".into();
    }
    let mut out = String::new();
    translate(pattern, false, &mut out);
    format!("(?s-u:{out}(?:/.*)?)")
}

/// Translates Go-glob syntax into regex syntax. With `double_star`, `**` is the
/// dockerignore any-directories form.
fn translate(pattern: &str, double_star: bool, out: &mut String) {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // Unknown text may be empty too: `$X/y` is `y` then, `x/$Y` is `x`.
            ANY if chars.get(i + 1) == Some(&'/') => {
                out.push_str("(?:.*/)?");
                i += 1;
            }
            ANY if i + 1 == chars.len() && out.ends_with('/') => {
                out.pop();
                out.push_str("(?:/.*)?");
            }
            ANY => out.push_str(".*"),
            '*' if double_star && chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                }
                if i + 1 >= chars.len() {
                    out.push_str(".*");
                } else {
                    out.push_str("(?:.*/)?");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some(&n) => out.push_str(&regex::escape(&n.to_string())),
                    None => out.push_str(r"\\"),
                }
            }
            '[' => match class(&chars, i) {
                Some((re, end)) => {
                    out.push_str(&re);
                    i = end;
                }
                None => out.push_str(r"\["),
            },
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
}

/// A Go character class starting at `chars[start] == '['`: its regex and the index of
/// its closing `]`, or `None` when it is not closed.
fn class(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut j = start + 1;
    let mut body = String::new();
    let mut negate = false;
    if chars.get(j) == Some(&'^') {
        negate = true;
        j += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(j)?;
        if c == ']' && !first {
            break;
        }
        first = false;
        let c = if c == '\\' {
            j += 1;
            *chars.get(j)?
        } else {
            c
        };
        if c == '-' && !body.is_empty() && chars.get(j + 1).is_some_and(|n| *n != ']') {
            body.push('-');
        } else {
            body.push_str(&class_char(c));
        }
        j += 1;
    }
    let neg = if negate { "^/" } else { "" };
    let ascii = body.is_ascii();
    let re = format!("[{neg}{body}]");
    // A non-ASCII member needs Unicode mode to mean the character, not a byte.
    Some((if ascii { re } else { format!("(?u:{re})") }, j))
}

fn class_char(c: char) -> String {
    match c {
        '\\' | '[' | ']' | '&' | '~' | '^' | '-' => format!("\\{c}"),
        _ => c.to_string(),
    }
}

/// How many patterns a `.dockerignore` holds (lines that are neither comments nor blank),
/// counted before anything is compiled.
pub fn count_patterns(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Dockerignore {
    rules: Vec<(Regex, bool)>,
    /// The patterns as cleaned (`!` kept), for display.
    pub patterns: Vec<String>,
}

impl Dockerignore {
    /// Parses the file's text. Patterns that cannot be compiled are skipped (and listed
    /// in the second value).
    pub fn parse(text: &str) -> (Self, Vec<String>) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = Dockerignore::default();
        let mut bad = Vec::new();
        for raw in text.lines() {
            if raw.starts_with('#') {
                continue;
            }
            let mut pattern = raw.trim();
            if pattern.is_empty() {
                continue;
            }
            let exception = pattern.starts_with('!');
            if exception {
                pattern = pattern[1..].trim();
            }
            if pattern.is_empty() {
                bad.push(format!("{raw:?}: an exception needs a pattern"));
                continue;
            }
            let cleaned = go_clean(pattern);
            let cleaned = match cleaned.strip_prefix('/') {
                Some(rest) if !rest.is_empty() => rest.to_owned(),
                _ => cleaned,
            };
            let mut re = String::new();
            translate(&cleaned, true, &mut re);
            match Regex::new(&format!("^(?s-u:{re})$")) {
                Ok(r) => {
                    ignore.rules.push((r, exception));
                    ignore
                        .patterns
                        .push(format!("{}{cleaned}", if exception { "!" } else { "" }));
                }
                Err(e) => bad.push(format!("{raw:?}: {e}")),
            }
        }
        (ignore, bad)
    }

    /// Whether `path` (relative to the context) is kept out of the build context.
    pub fn ignores(&self, path: &[u8]) -> bool {
        let mut ignored = false;
        for (re, exception) in &self.rules {
            if *exception != ignored {
                continue;
            }
            if re.is_match(path) || parents(path).any(|p| re.is_match(p)) {
                ignored = !exception;
            }
        }
        ignored
    }
}

/// `a`, `a/b` for `a/b/c`.
fn parents(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(move |(i, _)| &path[..i])
}

/// Go's `filepath.Clean` (Unix): keeps a leading `/` and leading `..` of relative paths.
fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// What an image's COPY/ADD/mount sources compile to.
#[derive(Debug, Clone)]
pub enum Sources {
    /// It copies nothing from its context.
    Nothing,
    /// The paths (relative to the context) its sources name.
    Patterns(Regex),
    /// Its sources could not be compiled, so every file of its context counts (the
    /// widest reading: never fewer files than the build copies). The reason says why.
    WholeContext(String),
}

/// Compiles an image's source patterns into one matcher. Fails closed: when the patterns
/// cannot be compiled (more than [`MAX_COPY_SOURCES`], one that does not translate, or a
/// union past the regex size limit, as 10,000 COPY lines are), the whole context counts;
/// it used to count nothing, and a changed COPY source was "no rebuild".
pub fn compile_sources(patterns: &[String]) -> Sources {
    if patterns.is_empty() {
        return Sources::Nothing;
    }
    if patterns.len() > MAX_COPY_SOURCES {
        return Sources::WholeContext(format!(
            "it has {} COPY/ADD sources, more than the {MAX_COPY_SOURCES} dockguard compiles",
            patterns.len()
        ));
    }
    let mut parts = Vec::with_capacity(patterns.len());
    for p in patterns {
        let re = source_regex(p);
        // A pattern whose regex does not compile (a reversed class range such as `[a-[b]`,
        // found by the `dockerfile` fuzz target) must not silence the others.
        if let Err(e) = Regex::new(&format!("^(?:{re})$")) {
            return Sources::WholeContext(format!(
                "its COPY/ADD source `{}` cannot be compiled ({})",
                crate::render::escape::text(p),
                first_line(&e.to_string())
            ));
        }
        parts.push(re);
    }
    match Regex::new(&format!("^(?:{})$", parts.join("|"))) {
        Ok(re) => Sources::Patterns(re),
        Err(e) => Sources::WholeContext(format!(
            "its {} COPY/ADD sources cannot be compiled into one pattern ({})",
            patterns.len(),
            first_line(&e.to_string())
        )),
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("invalid")
}

/// The union of source patterns as one regex, `None` when there are none; sources that
/// cannot be compiled give the whole-context regex (see [`compile_sources`]).
pub fn sources_union(patterns: &[String]) -> Option<Regex> {
    match compile_sources(patterns) {
        Sources::Nothing => None,
        Sources::Patterns(re) => Some(re),
        Sources::WholeContext(_) => Regex::new(&format!("^{}$", source_regex(""))).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(p: &str, path: &str) -> bool {
        Regex::new(&format!("^{}$", source_regex(p)))
            .expect("compiles")
            .is_match(path.as_bytes())
    }

    #[test]
    fn sources_match_the_path_and_below() {
        assert!(src("scripts", "scripts"));
        assert!(src("scripts", "scripts/a/b.sh"));
        assert!(!src("scripts", "scripts2/a"));
        assert!(src("*.sh", "a.sh"));
        assert!(src("*.sh", "dir.sh/inner"));
        assert!(!src("*.sh", "sub/a.sh"));
        assert!(src("a?c", "abc") && !src("a?c", "a/c"));
        assert!(src("[a-c]x", "bx") && !src("[a-c]x", "dx"));
        assert!(src("[^a-c]x", "dx") && !src("[^a-c]x", "ax") && !src("[^a]x", "/x"));
        assert!(src("[!]x", "!x"), "Go negates with ^ only");
        assert!(src("lit\\*", "lit*") && !src("lit\\*", "litx"));
        assert!(src("a.b", "a.b") && !src("a.b", "axb"));
        assert!(src("", "anything/at/all"));
        assert!(
            src("x\0/y", "x/deep/dir/y"),
            "unknown text may span directories"
        );
        assert!(src("\0/y", "y") && src("\0/y", "a/b/y") && !src("\0/y", "ay"));
        assert!(src("x/\0", "x") && src("x/\0", "x/a/b") && !src("x/\0", "xa"));
        assert!(src("x/\0/y", "x/y") && src("x\0/y", "x/y") && src("x\0/y", "xa/y"));
        assert!(src("[", "["), "an unclosed class is literal");
        assert!(src("é*", "éa") && src("[é]", "é"));
        assert!(src("*", "\u{1}\n/x"));
    }

    fn ign(lines: &str) -> Dockerignore {
        let (d, bad) = Dockerignore::parse(lines);
        assert!(bad.is_empty(), "{bad:?}");
        d
    }

    #[test]
    fn dockerignore_semantics() {
        let d = ign("# comment\n  node_modules  \n*.md\n!README.md\ndocs\n!docs/keep/**\n/abs/x\n");
        assert!(d.ignores(b"node_modules"));
        assert!(
            d.ignores(b"node_modules/a/b"),
            "a directory takes its contents"
        );
        assert!(
            !d.ignores(b"sub/node_modules/x"),
            "patterns are anchored at the context"
        );
        assert!(d.ignores(b"a.md") && !d.ignores(b"README.md"));
        assert!(!d.ignores(b"sub/a.md"), "* does not cross directories");
        assert!(d.ignores(b"docs/x") && !d.ignores(b"docs/keep/y/z"));
        assert!(d.ignores(b"abs/x"));
        assert!(!d.ignores(b"src/main.c"));
        let d = ign("**/*.o\nbuild/**\n!build/keep\n  # not a comment\n");
        assert!(d.ignores(b"a.o") && d.ignores(b"x/y/a.o"));
        assert!(d.ignores(b"build/x/y") && !d.ignores(b"build/keep"));
        assert!(
            d.ignores(b"# not a comment"),
            "only a # in column 1 starts a comment"
        );
        let d = ign("a/**/b\n");
        assert!(d.ignores(b"a/b") && d.ignores(b"a/x/y/b") && d.ignores(b"a/x/b/c"));
        let d = ign("*\n!src\n");
        assert!(d.ignores(b"x") && !d.ignores(b"src/a") && d.ignores(b"other/a"));
        let d = ign("./a/../b/\n.\n");
        assert!(d.ignores(b"b/c") && !d.ignores(b"a"));
        let (_, bad) = Dockerignore::parse("!\n");
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn go_clean_matches_go() {
        for (i, o) in [
            ("a//b/", "a/b"),
            ("./x", "x"),
            ("../x", "../x"),
            ("/../x", "/x"),
            ("a/..", "."),
            ("", "."),
            ("/", "/"),
        ] {
            assert_eq!(go_clean(i), o, "{i}");
        }
    }
}
