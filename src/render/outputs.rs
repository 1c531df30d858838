//! Writers for CI systems: GitLab's dotenv report, GitHub's `$GITHUB_OUTPUT` and
//! `$GITHUB_STEP_SUMMARY`.
//!
//! They follow other programs' file formats (and their injection rules) rather than
//! rendering a [`crate::engine::verdict::Report`] for people ([`super::human`]).
//!
//! Every value that reaches these files passes a sanitiser here: a ref name or a path
//! comes from whoever pushed, and a newline in it must not become a second variable.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// GitLab's limit on a dotenv report's size.
pub const DOTENV_MAX_BYTES: usize = 5 * 1024;
/// A conservative variable count (GitLab's limit is 20 on some plans, more on others).
pub const DOTENV_MAX_VARS: usize = 20;

/// True for names GitLab's dotenv report and shells accept: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value safe for a dotenv line and a shell: printable ASCII without spaces, quotes,
/// `#`, `$`, `\` or backticks; anything else becomes `_`. Empty stays empty.
pub fn sanitize_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '`' | '#' | '$' | '\\') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A GitLab `artifacts:reports:dotenv` file: one `KEY=value` per line, keys checked,
/// values sanitised, within GitLab's size and count limits.
pub fn dotenv(vars: &[(String, String)]) -> Result<String> {
    if vars.len() > DOTENV_MAX_VARS {
        return Err(Error::Usage(format!(
            "internal: {} dotenv variables, GitLab accepts at most {DOTENV_MAX_VARS}",
            vars.len()
        )));
    }
    let mut out = String::new();
    for (name, value) in vars {
        if !is_var_name(name) {
            return Err(Error::Usage(format!(
                "internal: `{name}` is not a valid dotenv variable name"
            )));
        }
        let _ = writeln!(out, "{name}={}", sanitize_value(value));
    }
    if out.len() > DOTENV_MAX_BYTES {
        return Err(Error::Usage(format!(
            "internal: the dotenv report is {} bytes, GitLab accepts at most {DOTENV_MAX_BYTES}",
            out.len()
        )));
    }
    Ok(out)
}

/// A line-safe rendering of arbitrary text (a path, a ref): [`crate::render::escape::text`].
pub fn one_line(text: &str) -> String {
    crate::render::escape::text(text).into_owned()
}

/// `$GITHUB_OUTPUT` lines: `name=value` for scalars (sanitised), and a heredoc with a
/// delimiter that appears in no value for each list (one item per line, control
/// characters replaced). `token` makes the delimiter unguessable; see [`crate::fsx::random_token`].
pub fn github_output(
    scalars: &[(String, String)],
    lists: &[(String, Vec<String>)],
    token: &str,
) -> String {
    let mut out = String::new();
    for (name, value) in scalars {
        let _ = writeln!(out, "{name}={}", sanitize_value(value));
    }
    for (name, items) in lists {
        let body: Vec<String> = items.iter().map(|i| one_line(i)).collect();
        let mut delim = format!("DOCKGUARD_EOF_{token}");
        // A value equal to the delimiter would end the heredoc early; make it longer.
        while body.iter().any(|l| l.contains(&delim)) {
            delim.push('_');
        }
        let _ = writeln!(out, "{name}<<{delim}");
        for line in &body {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "{delim}");
    }
    out
}

/// Text for Markdown: [`crate::render::escape::md_code`].
pub fn md_code(text: &str) -> String {
    crate::render::escape::md_code(text)
}

/// Appends text to a file (GitHub's files are shared by every step of a job).
pub fn append(path: &Path, text: &str) -> Result<()> {
    let what = || format!("cannot write {}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(what(), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(what(), e))
}

/// Writes a whole report file (`--dotenv FILE`): a new file beside it with a random name,
/// renamed over it. A path that is, or leads through, a symbolic link is refused: in a CI
/// job the path usually names a file of the checkout, and a pushed branch can commit
/// `dockguard.env -> /some/file` to have that file overwritten.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let shown = crate::render::escape::text(&path.display().to_string()).into_owned();
    if let Some(link) = crate::fsx::linked_component(path) {
        return Err(Error::Hinted {
            message: format!(
                "refusing to write {shown}: {} is a symbolic link",
                crate::render::escape::text(&link.display().to_string())
            ),
            hint: "dockguard never writes through a link (the checkout's files come from whoever pushed): \
                   remove the link from the branch, or write the report to a name the repository does not use"
                .into(),
        });
    }
    crate::fsx::replace(path, text.as_bytes(), 0o644)
        .map_err(|e| Error::io(format!("cannot write {shown}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn dotenv_obeys_gitlab_rules() {
        let text = dotenv(&v(&[
            ("DOCKGUARD_DECISION", "rebuild"),
            ("DOCKGUARD_REF_SLUG", "a b\"c'd\ne$HOME`x`#"),
        ]))
        .expect("valid");
        assert_eq!(
            text,
            "DOCKGUARD_DECISION=rebuild\nDOCKGUARD_REF_SLUG=a_b_c_d_e_HOME_x__\n"
        );
        for line in text.lines() {
            let (k, val) = line.split_once('=').expect("k=v");
            assert!(is_var_name(k));
            assert!(!val.contains([' ', '"', '\'', '\n']));
        }
        assert!(dotenv(&v(&[("BAD-NAME", "x")])).is_err());
        assert!(dotenv(&v(&[("1X", "x")])).is_err());
        let many: Vec<(String, String)> = (0..21).map(|i| (format!("V{i}"), "x".into())).collect();
        assert!(dotenv(&many).is_err());
        assert!(dotenv(&v(&[("BIG", &"x".repeat(DOTENV_MAX_BYTES))])).is_err());
    }

    #[test]
    fn github_output_heredoc_cannot_be_closed_by_a_value() {
        let token = "abc";
        let evil = "DOCKGUARD_EOF_abc".to_owned();
        let out = github_output(
            &v(&[("decision", "rebuild\nrequested=true")]),
            &[(
                "changed".to_owned(),
                vec!["a/Dockerfile".into(), evil.clone(), "x\ny=1".into()],
            )],
            token,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "decision=rebuild_requested=true");
        let open = lines[1];
        let delim = open.strip_prefix("changed<<").expect("heredoc");
        assert_ne!(delim, evil, "delimiter differs from every value");
        assert_eq!(lines[2..5], ["a/Dockerfile", evil.as_str(), "x\\ny=1"]);
        assert_eq!(lines[5], delim);
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn markdown_code_spans_cannot_break_out() {
        assert_eq!(md_code("a`b|c\n<x>"), "`a'b\\|c\\n<x>`");
    }
}
