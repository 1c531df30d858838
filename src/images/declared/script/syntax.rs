//! What the words of a script are, before they are expanded: compound-command keywords,
//! function definitions, the variables a script assigns, and the commands that can
//! change nothing read here (so they are not expanded at all).

use std::collections::HashSet;

use super::super::super::buildcmd::is_assignment;
use super::super::super::shwords::{self, Raw, Word};
use super::Shell;

/// Shells a script may be run with.
pub(super) const SHELLS: &[&str] = &["sh", "bash", "dash", "ksh", "zsh", "ash", "mksh", "busybox"];
/// Interpreters of scripts that are not read line by line.
pub(super) const INTERPRETERS: &[&str] = &[
    "python", "python3", "python2", "perl", "ruby", "node", "php",
];

/// The words that open, continue or close a compound command.
pub(super) const KEYWORDS: &[&str] = &[
    "then", "do", "!", "if", "elif", "else", "fi", "done", "esac", "}", "{", "while", "until",
    "for", "select", "case",
];

/// A word's text when it is one literal piece (most words), without allocating.
pub(super) fn lit_str(w: &Word) -> Option<&str> {
    match w.0.as_slice() {
        [shwords::Piece::Lit(s, _)] => Some(s),
        _ => None,
    }
}

/// A word's text when it is all literal.
pub(super) fn literal(w: &Word) -> Option<String> {
    let mut t = String::new();
    for p in &w.0 {
        match p {
            shwords::Piece::Lit(s, _) => t.push_str(s),
            _ => return None,
        }
    }
    Some(t)
}

/// Whether the command after `raws[i - 1]` belongs to the same `&&` / `||` list.
pub(super) fn next_chained(raws: &[Raw], i: usize) -> bool {
    raws.get(i).is_some_and(|r| r.chained)
}

/// A function definition at `raws[i]` (`name() {` or `function name {`): its name, its
/// body, and the index after it; `None` when it is none (or its body is not a `{ … }`).
pub(super) fn function(raws: &[Raw], i: usize) -> Option<(String, std::ops::Range<usize>, usize)> {
    let raw = &raws[i];
    if !raw.func && raw.words.first().and_then(lit_str) != Some("function") {
        return None;
    }
    let words: Vec<String> = raw.words.iter().map(literal).collect::<Option<_>>()?;
    let (name, brace_here) = match words.as_slice() {
        [name] if raw.func => (name.clone(), false),
        [f, name] if f == "function" => (name.clone(), false),
        [f, name, b] if f == "function" && b == "{" => (name.clone(), true),
        _ => return None,
    };
    // The body is the commands from its `{` (a group, when read) to the matching `}`.
    let start = if brace_here { i } else { i + 1 };
    if !brace_here && raws.get(start)?.words.first().and_then(lit_str) != Some("{") {
        return None;
    }
    let mut depth = 0usize;
    for (k, r) in raws.iter().enumerate().skip(start) {
        let first = if k == i {
            Some("{")
        } else {
            r.words.first().and_then(lit_str)
        };
        match first {
            Some("{") => depth += 1,
            Some("}") => {
                depth -= 1;
                if depth == 0 {
                    return Some((name, start..k, k + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The variables a script assigns anywhere (`NAME=…`, `export NAME=…`, `read NAME`,
/// `for NAME`).
pub(super) fn assigned(raws: &[Raw]) -> HashSet<String> {
    let mut out = HashSet::new();
    for r in raws {
        let words: Vec<Option<String>> = r.words.iter().map(literal).collect();
        let mut k = 0;
        while let Some(Some(w)) = words.get(k) {
            match w.as_str() {
                "then" | "do" | "else" | "!" | "{" => k += 1,
                "export" | "local" | "readonly" | "declare" | "typeset" | "read" | "for" => {
                    for a in words[k + 1..].iter().flatten() {
                        if !a.starts_with('-') {
                            out.insert(a.split('=').next().unwrap_or(a).to_owned());
                        }
                    }
                    break;
                }
                a if is_assignment(a) => {
                    out.insert(a.split('=').next().unwrap_or(a).to_owned());
                    k += 1;
                }
                _ => break,
            }
        }
        // `NAME="…$X…"`: the first word holds an expansion, but its name is literal.
        if let Some(shwords::Piece::Lit(t, false)) = r.words.first().and_then(|w| w.0.first()) {
            if let Some((n, _)) = t.split_once('=').filter(|_| is_assignment(t)) {
                out.insert(n.to_owned());
            }
        }
    }
    out
}

/// Words that make a command worth expanding: builtins that change the shell's state,
/// compound-command keywords, wrappers, shells, and builders.
pub(super) const STATEFUL: &[&str] = &[
    "export",
    "exit",
    "return",
    "readonly",
    "local",
    "declare",
    "typeset",
    "unset",
    "read",
    "getopts",
    "mapfile",
    "readarray",
    "cd",
    "pushd",
    "popd",
    "set",
    "shift",
    ".",
    "source",
    "eval",
    "exec",
    "command",
    "sudo",
    "env",
    "time",
    "nice",
    "nohup",
    "if",
    "while",
    "until",
    "for",
    "select",
    "case",
    "fi",
    "done",
    "esac",
    "docker",
    "podman",
    "buildah",
    "nerdctl",
    "docker-compose",
    "podman-compose",
    "nerdctl-compose",
    "executor",
];

/// Whether a command can change nothing read here and build nothing: its program is a
/// literal name that is none of the above (`echo`, `test`, `make`, …). Most lines of a
/// large script (QEMU's `configure`, run by a hundred jobs) are such: they are not
/// expanded at all.
pub(super) fn inert(words: &[Word], sh: &Shell) -> bool {
    for w in words {
        let Some(t) = lit_str(w) else { return false };
        if matches!(t, "then" | "else" | "elif" | "do" | "!" | "{" | "}") {
            continue;
        }
        let tool = t.rsplit('/').next().unwrap_or(t);
        return !(t.contains(['/', '='])
            || STATEFUL.contains(&t)
            || SHELLS.contains(&tool)
            || INTERPRETERS.iter().any(|i| tool.starts_with(i))
            || t.contains("kaniko")
            || (!sh.functions.is_empty() && sh.functions.contains_key(t)));
    }
    true
}

/// `DOCKER_BUILDKIT` for one command: its own assignment, else the shell's.
pub(super) fn dockerkit(assigned: &[(&str, &str)], sh: &Shell) -> Option<String> {
    assigned
        .iter()
        .rev()
        .find(|(n, _)| *n == "DOCKER_BUILDKIT")
        .map(|(_, v)| (*v).to_owned())
        .or_else(|| sh.vars.get("DOCKER_BUILDKIT").cloned())
}
