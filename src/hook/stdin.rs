//! git's pre-push stdin protocol, parsed as a pure function over bytes.
//!
//! githooks(5): one line per ref that will really be pushed,
//! `<local ref> SP <local oid> SP <remote ref> SP <remote oid> LF`. The local ref is what
//! the user typed (`HEAD`, `HEAD~`, `refs/tags/v1`, an object name) or `(delete)`; object
//! ids are 40 (SHA-1) or 64 (SHA-256) hex digits, all zeros for "none". Lines are split
//! from the right, so only the local ref (the one free-form field) could hold a space.
//!
//! The caller reads *all* of stdin first: git writes every line before it waits for the
//! hook, and a hook that stops reading early would make git block or see a broken pipe.

use std::fmt;

/// A hex object id as git wrote it (SHA-1 or SHA-256; libgit2 may support only SHA-1,
/// so conversion to [`git2::Oid`] happens later, where an error can say so).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexOid(String);

impl HexOid {
    /// Validates 40 or 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        (hex && (s.len() == 40 || s.len() == 64)).then(|| HexOid(s.to_owned()))
    }

    /// All zeros: "no object" (a deletion's local side, a new ref's remote side).
    pub fn is_zero(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HexOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line of pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    /// 1-based line number, for messages.
    pub line: usize,
    /// The local side as git printed it (`refs/heads/x`, `HEAD`, `HEAD~`, `(delete)`).
    pub local_ref: String,
    /// The object the remote ref will point at (zero for a deletion).
    pub local_oid: HexOid,
    /// The full remote ref name (`refs/heads/x`).
    pub remote_ref: String,
    /// What the remote ref points at now as git last saw it (zero: it does not exist).
    /// It need not exist locally.
    pub remote_oid: HexOid,
}

impl PushUpdate {
    /// A deletion: nothing becomes current, so there is nothing to judge.
    pub fn is_delete(&self) -> bool {
        self.local_oid.is_zero()
    }

    /// The remote ref does not exist yet.
    pub fn is_new(&self) -> bool {
        self.remote_oid.is_zero()
    }
}

/// A line that does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// The line, escaped for display and shortened.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pre-push input line {} is malformed ({}): \"{}\"",
            self.line, self.problem, self.text
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses everything git wrote on the hook's stdin. Empty lines are skipped; a trailing
/// CR is tolerated (git never writes one, but a hand-fed or converted input may).
pub fn parse_pre_push(input: &[u8]) -> Result<Vec<PushUpdate>, ParseError> {
    let mut out = Vec::new();
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    if body.is_empty() {
        return Ok(out);
    }
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        out.push(parse_line(raw, line)?);
    }
    Ok(out)
}

fn parse_line(raw: &[u8], line: usize) -> Result<PushUpdate, ParseError> {
    let err = |problem| ParseError {
        line,
        text: escape(raw),
        problem,
    };
    let text = std::str::from_utf8(raw).map_err(|_| err("not UTF-8"))?;
    // From the right: remote oid, remote ref, local oid; the rest is the local ref.
    let mut fields = text.rsplitn(4, ' ');
    let remote_oid = fields.next().ok_or_else(|| err("no remote object id"))?;
    let remote_ref = fields.next().ok_or_else(|| err("expected 4 fields"))?;
    let local_oid = fields.next().ok_or_else(|| err("expected 4 fields"))?;
    let local_ref = fields.next().ok_or_else(|| err("expected 4 fields"))?;
    let remote_oid = HexOid::parse(remote_oid)
        .ok_or_else(|| err("the remote object id is not 40 or 64 lowercase hex digits"))?;
    let local_oid = HexOid::parse(local_oid)
        .ok_or_else(|| err("the local object id is not 40 or 64 lowercase hex digits"))?;
    if local_oid.as_str().len() != remote_oid.as_str().len() {
        return Err(err("the two object ids have different lengths"));
    }
    if local_ref.is_empty() || local_ref.starts_with(' ') {
        return Err(err("the local ref is empty"));
    }
    if !remote_ref.starts_with("refs/") || remote_ref.len() == "refs/".len() {
        return Err(err("the remote ref is not a full ref name (refs/…)"));
    }
    if local_ref == "(delete)" && !local_oid.is_zero() {
        return Err(err("a (delete) line must have an all-zero local object id"));
    }
    Ok(PushUpdate {
        line,
        local_ref: local_ref.to_owned(),
        local_oid,
        remote_ref: remote_ref.to_owned(),
        remote_oid,
    })
}

/// The line for a message: lossy UTF-8, control characters escaped, at most ~200 chars.
fn escape(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let mut s: String = lossy.escape_debug().collect();
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect();
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    fn one(input: &str) -> PushUpdate {
        let mut v = parse_pre_push(input.as_bytes()).expect("valid");
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    fn bad(input: &[u8]) -> ParseError {
        parse_pre_push(input).expect_err("malformed")
    }

    #[test]
    fn parses_every_line_kind() {
        let input = format!(
            "refs/heads/a {A} refs/heads/a {B}\nHEAD~ {A} refs/heads/new {Z}\n(delete) {Z} refs/heads/old {B}\nrefs/tags/v1 {B} refs/tags/v1 {Z}\n"
        );
        let v = parse_pre_push(input.as_bytes()).expect("valid");
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].local_ref, "refs/heads/a");
        assert_eq!(v[0].local_oid.as_str(), A);
        assert_eq!(v[0].remote_oid.as_str(), B);
        assert!(!v[0].is_delete() && !v[0].is_new());
        assert_eq!(v[1].local_ref, "HEAD~");
        assert!(v[1].is_new());
        assert_eq!(v[1].line, 2);
        assert!(v[2].is_delete());
        assert_eq!(v[2].remote_ref, "refs/heads/old");
        assert_eq!(v[3].remote_ref, "refs/tags/v1");
    }

    #[test]
    fn sha256_ids_and_zero_ids() {
        let a = "a".repeat(64);
        let z = "0".repeat(64);
        let u = one(&format!("refs/heads/x {a} refs/heads/x {z}\n"));
        assert_eq!(u.local_oid.as_str(), a);
        assert!(u.is_new());
        let d = one(&format!("(delete) {z} refs/heads/x {a}"));
        assert!(d.is_delete());
    }

    #[test]
    fn parsed_from_the_right_so_the_local_side_may_hold_spaces() {
        let u = one(&format!("weird name {A} refs/heads/x {B}\n"));
        assert_eq!(u.local_ref, "weird name");
        assert_eq!(u.remote_ref, "refs/heads/x");
    }

    #[test]
    fn tolerates_crlf_missing_final_newline_and_blank_lines() {
        let v = parse_pre_push(
            format!("refs/heads/a {A} refs/heads/a {B}\r\n\nrefs/heads/b {A} refs/heads/b {Z}")
                .as_bytes(),
        )
        .expect("valid");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].remote_oid.as_str(), B);
        assert_eq!(v[1].line, 3);
        assert!(parse_pre_push(b"").expect("empty").is_empty());
        assert!(parse_pre_push(b"\n").expect("empty").is_empty());
    }

    #[test]
    fn malformed_lines_name_the_line_and_show_it_escaped() {
        let input = format!("refs/heads/a {A} refs/heads/a {B}\nrefs/heads/b {A} refs/heads/b\n");
        let e = bad(input.as_bytes());
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.to_string().contains("refs/heads/b"), "{e}");

        let e = bad(format!("x {A} refs/heads/a {}\n", &B[..39]).as_bytes());
        assert!(e.problem.contains("remote object id"), "{e}");
        let e = bad(format!(
            "x {} refs/heads/a {B}\n",
            A.to_uppercase().replace('1', "F")
        )
        .as_bytes());
        assert!(e.problem.contains("local object id"), "{e}");
        let e = bad(format!("x {A} refs/heads/a {}\n", "0".repeat(64)).as_bytes());
        assert!(e.problem.contains("different lengths"), "{e}");
        let e = bad(format!("x {A} master {B}\n").as_bytes());
        assert!(e.problem.contains("full ref name"), "{e}");
        let e = bad(format!("(delete) {A} refs/heads/a {B}\n").as_bytes());
        assert!(e.problem.contains("(delete)"), "{e}");
        let e = bad(b"a\tb\x1b[31m \xff\n");
        assert!(e.text.contains("\\t") && e.text.contains("\\u{1b}"), "{e}");
        assert_eq!(e.problem, "not UTF-8");
        let e = bad(format!(" {A} refs/heads/a {B}\n").as_bytes());
        assert!(e.problem.contains("local ref is empty"), "{e}");
    }
}
