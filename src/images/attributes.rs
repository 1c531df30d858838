//! Checkout transforms: the file a build copies is the work-tree file, which checkout
//! writes through the attributes in `.gitattributes` (`text`/`eol`/`crlf` line endings,
//! `ident`, `filter` smudge drivers, `working-tree-encoding`). A change of such an
//! attribute changes what the build reads although no blob changed.
//!
//! So, only when a `.gitattributes` changed ([`changed_checkouts`]): the files below its
//! directory whose attributes from it differ between its two versions count as changed
//! for the images that read them. And the content tag records the checkout attributes of
//! each input that has any ([`Checkout`]).
//!
//! git's rules (gitattributes(5)): one pattern per line, then attributes (`attr`,
//! `-attr`, `!attr`, `attr=value`); patterns as in `.gitignore` relative to the file's
//! directory (without `/` they match a name at any depth; no negation; a pattern
//! matching a directory does not match what is inside it); the last matching line wins
//! for each attribute, and a deeper file's lines win over a shallower one's; macros
//! (`[attr]name …`, only in the root file; `binary` is `-diff -merge -text`) set the
//! attributes they stand for. Attributes that cannot change what checkout writes
//! (`diff`, `merge`, `export-ignore`, `linguist-*`, …) are left out; any other name
//! might be one of those above, or a macro, and counts.

use std::collections::{BTreeMap, HashMap};

use git2::{ObjectType, Repository, Tree};
use regex::bytes::Regex;

use crate::engine::matcher::glob_to_regex;
use crate::error::Result;

/// Attributes that never change the bytes checkout writes.
const INERT: &[&str] = &[
    "diff",
    "merge",
    "export-ignore",
    "export-subst",
    "whitespace",
    "delta",
    "conflict-marker-size",
    "encoding",
];

/// Files looked at below one changed `.gitattributes`; past it, the change counts for
/// every image (it cannot be told which files it affects).
const MAX_FILES: usize = 200_000;

/// The name of the file.
pub(crate) const FILE: &[u8] = b".gitattributes";

/// Whether `path` is a `.gitattributes` file.
pub(crate) fn is_attributes(path: &[u8]) -> bool {
    path == FILE || path.ends_with(b"/.gitattributes")
}

/// An attribute's state for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// `attr`.
    Set,
    /// `-attr`.
    Unset,
    /// `attr=value`.
    Value(String),
    /// `!attr`: as if no line mentioned it.
    Unspecified,
}

impl State {
    fn display(&self, name: &str) -> String {
        match self {
            State::Set => name.to_owned(),
            State::Unset => format!("-{name}"),
            State::Value(v) => format!("{name}={v}"),
            State::Unspecified => format!("!{name}"),
        }
    }
}

/// Whether an attribute can change what checkout writes.
fn transforms(name: &str) -> bool {
    !INERT.contains(&name) && !name.starts_with("linguist-")
}

/// One `.gitattributes` file, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attributes {
    rules: Vec<(Regex, Vec<(String, State)>)>,
    /// `[attr]` definitions (read from the root file only).
    macros: BTreeMap<String, Vec<(String, State)>>,
}

fn parse_attr(word: &str) -> Option<(String, State)> {
    let (name, state) = if let Some(n) = word.strip_prefix('-') {
        (n, State::Unset)
    } else if let Some(n) = word.strip_prefix('!') {
        (n, State::Unspecified)
    } else if let Some((n, v)) = word.split_once('=') {
        (n, State::Value(v.to_owned()))
    } else {
        (word, State::Set)
    };
    (!name.is_empty()).then(|| (name.to_owned(), state))
}

/// A pattern that may be C-quoted (`"a b"`), and the rest of the line.
fn split_pattern(line: &str) -> (String, &str) {
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (out, &rest[i + 1..]),
                '\\' => match chars.next().map(|(_, n)| n) {
                    Some('t') => out.push('\t'),
                    Some('n') => out.push('\n'),
                    Some(n) => out.push(n),
                    None => {}
                },
                c => out.push(c),
            }
        }
        return (out, "");
    }
    match line.find([' ', '\t']) {
        Some(i) => (line[..i].to_owned(), &line[i..]),
        None => (line.to_owned(), ""),
    }
}

impl Attributes {
    /// Parses a `.gitattributes` file; `root` for the one at the repository root (the
    /// only one whose macro definitions count).
    pub(crate) fn parse(text: &str, root: bool) -> Self {
        let mut out = Attributes::default();
        for raw in text.lines() {
            let line = raw.trim_start_matches([' ', '\t']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, rest) = split_pattern(line);
            let attrs: Vec<(String, State)> =
                rest.split_whitespace().filter_map(parse_attr).collect();
            if let Some(name) = pattern.strip_prefix("[attr]") {
                if root {
                    out.macros.insert(name.to_owned(), attrs);
                }
                continue;
            }
            // Negative patterns are forbidden, and a directory pattern matches no file.
            if pattern.is_empty() || pattern.starts_with('!') || pattern.ends_with('/') {
                continue;
            }
            if let Ok(re) = Regex::new(&format!("^(?:{})$", glob_to_regex(&pattern))) {
                out.rules.push((re, attrs));
            }
        }
        out
    }

    /// What this file's lines give `rel` (relative to the file's directory), for the
    /// attributes that can change checkout, with `macros` expanded.
    fn apply(
        &self,
        rel: &[u8],
        macros: &BTreeMap<String, Vec<(String, State)>>,
        into: &mut BTreeMap<String, State>,
    ) {
        for (re, attrs) in &self.rules {
            if !re.is_match(rel) {
                continue;
            }
            for (name, state) in attrs {
                let expansion = if name == "binary" && *state == State::Set {
                    Some(vec![
                        ("diff".to_owned(), State::Unset),
                        ("merge".to_owned(), State::Unset),
                        ("text".to_owned(), State::Unset),
                    ])
                } else if *state == State::Set {
                    macros.get(name).cloned()
                } else {
                    None
                };
                for (n, s) in expansion.into_iter().flatten() {
                    if transforms(&n) {
                        into.insert(n, s);
                    }
                }
                if transforms(name) && name != "binary" {
                    into.insert(name.clone(), state.clone());
                }
            }
        }
        into.retain(|_, s| *s != State::Unspecified);
    }

    /// This file's checkout attributes for `rel`.
    fn state(
        &self,
        rel: &[u8],
        macros: &BTreeMap<String, Vec<(String, State)>>,
    ) -> BTreeMap<String, State> {
        let mut out = BTreeMap::new();
        self.apply(rel, macros, &mut out);
        out
    }
}

/// The files of `tree` below `dir` (repository paths), at most `cap`; `None` past it.
fn files_below(
    repo: &Repository,
    tree: &Tree<'_>,
    dir: &[u8],
    cap: usize,
) -> Result<Option<Vec<Vec<u8>>>> {
    let sub = if dir.is_empty() {
        tree.clone()
    } else {
        let Some(p) = super::bytes_path(dir) else {
            return Ok(Some(Vec::new()));
        };
        let Ok(e) = tree.get_path(p) else {
            return Ok(Some(Vec::new()));
        };
        if e.kind() != Some(ObjectType::Tree) {
            return Ok(Some(Vec::new()));
        }
        repo.find_tree(e.id())
            .map_err(|err| crate::error::Error::git("cannot read a tree", err))?
    };
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_vec(), sub)];
    while let Some((prefix, t)) = stack.pop() {
        for e in t.iter() {
            let path = super::view::join(&prefix, e.name_bytes());
            match e.kind() {
                Some(ObjectType::Tree) => {
                    let sub = repo
                        .find_tree(e.id())
                        .map_err(|err| crate::error::Error::git("cannot read a tree", err))?;
                    stack.push((path, sub));
                }
                Some(ObjectType::Blob) => {
                    if out.len() >= cap {
                        return Ok(None);
                    }
                    out.push(path);
                }
                _ => {}
            }
        }
    }
    Ok(Some(out))
}

/// One side of a changed `.gitattributes`: its path and text (`None`: not there).
pub(crate) struct Side<'a> {
    /// Repository path of the file.
    pub path: &'a [u8],
    /// Its text, when it exists on this side.
    pub text: Option<&'a str>,
}

/// The files of `tip` whose checkout attributes from a changed `.gitattributes` differ
/// between its `old` and `new` sides (a rename: both paths); `None` when that cannot be
/// told (too many files, or a root file whose macro definitions changed: every file may
/// differ).
pub(crate) fn changed_checkouts(
    repo: &Repository,
    tip: &Tree<'_>,
    old: Side<'_>,
    new: Side<'_>,
) -> Result<Option<Vec<Vec<u8>>>> {
    let dir = |p: &[u8]| super::view::parent(p).to_vec();
    let parse = |s: &Side<'_>| {
        s.text
            .map(|t| Attributes::parse(t, s.path == FILE))
            .unwrap_or_default()
    };
    let (a, b) = (parse(&old), parse(&new));
    if (old.path == FILE || new.path == FILE) && a.macros != b.macros {
        return Ok(None);
    }
    let macros = if new.path == FILE {
        &b.macros
    } else {
        &a.macros
    };
    let mut dirs = vec![dir(old.path)];
    if old.path != new.path {
        dirs.push(dir(new.path));
    }
    let mut out = Vec::new();
    for d in dirs {
        let Some(files) = files_below(repo, tip, &d, MAX_FILES)? else {
            return Ok(None);
        };
        for f in files {
            let rel = |p: &[u8]| -> Option<Vec<u8>> {
                let base = dir(p);
                if base.is_empty() {
                    return Some(f.clone());
                }
                f.strip_prefix(&base[..])?
                    .strip_prefix(b"/")
                    .map(<[u8]>::to_vec)
            };
            let before = rel(old.path)
                .filter(|_| old.text.is_some())
                .map(|r| a.state(&r, macros))
                .unwrap_or_default();
            let after = rel(new.path)
                .filter(|_| new.text.is_some())
                .map(|r| b.state(&r, macros))
                .unwrap_or_default();
            if before != after && !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(Some(out))
}

/// The checkout attributes of the files of one tree, every `.gitattributes` on their path
/// applied (root first, deeper files win), read once per directory.
pub(crate) struct Checkout<'r, 't> {
    repo: &'r Repository,
    tree: &'t Tree<'r>,
    files: HashMap<Vec<u8>, Option<Attributes>>,
}

impl<'r, 't> Checkout<'r, 't> {
    /// For the tree `tree`.
    pub(crate) fn new(repo: &'r Repository, tree: &'t Tree<'r>) -> Self {
        Checkout {
            repo,
            tree,
            files: HashMap::new(),
        }
    }

    fn file(&mut self, dir: &[u8]) -> Option<&Attributes> {
        if !self.files.contains_key(dir) {
            let path = super::view::join(dir, FILE);
            let parsed = super::bytes_path(&path)
                .and_then(|p| self.tree.get_path(p).ok())
                .filter(|e| e.kind() == Some(ObjectType::Blob))
                .and_then(|e| self.repo.find_blob(e.id()).ok())
                .filter(|b| b.size() <= crate::limits::MAX_DOCKERIGNORE_BYTES)
                .map(|b| Attributes::parse(&String::from_utf8_lossy(b.content()), dir.is_empty()));
            self.files.insert(dir.to_vec(), parsed);
        }
        self.files.get(dir).and_then(Option::as_ref)
    }

    /// `path`'s checkout attributes, as `attr`, `-attr`, `attr=value` words (sorted);
    /// empty when it has none.
    pub(crate) fn of(&mut self, path: &[u8]) -> String {
        let macros = self.file(b"").map(|a| a.macros.clone()).unwrap_or_default();
        let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
        let mut at = 0;
        while let Some(i) = path[at..].iter().position(|b| *b == b'/') {
            dirs.push(path[..at + i].to_vec());
            at += i + 1;
        }
        let mut state = BTreeMap::new();
        for d in dirs {
            let rel = if d.is_empty() {
                path
            } else {
                &path[d.len() + 1..]
            };
            if let Some(a) = self.file(&d) {
                a.apply(rel, &macros, &mut state);
            }
        }
        state
            .iter()
            .map(|(n, s)| s.display(n))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(text: &str, rel: &str) -> String {
        let a = Attributes::parse(text, true);
        a.state(rel.as_bytes(), &a.macros)
            .iter()
            .map(|(n, s)| s.display(n))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn lines_patterns_and_macros() {
        let text = "# comment\n* text=auto\n*.sh eol=lf\n*.bat eol=crlf -text\n*.png binary\n*.md linguist-documentation diff\ndocs/ eol=crlf\n\"with space.txt\" ident\n[attr]crlfy eol=crlf\n*.win crlfy\nsub/*.c filter=lfs !text\n!neg eol=crlf\n";
        assert_eq!(state(text, "a/b/x.sh"), "eol=lf text=auto");
        assert_eq!(state(text, "x.bat"), "eol=crlf -text");
        assert_eq!(
            state(text, "img/a.png"),
            "-text",
            "binary is -diff -merge -text"
        );
        assert_eq!(
            state(text, "README.md"),
            "text=auto",
            "inert attributes left out"
        );
        assert_eq!(
            state(text, "docs/x"),
            "text=auto",
            "a directory pattern matches no file"
        );
        assert_eq!(state(text, "with space.txt"), "ident text=auto");
        assert_eq!(state(text, "a.win"), "crlfy eol=crlf text=auto");
        assert_eq!(state(text, "sub/a.c"), "filter=lfs", "!text: unspecified");
        assert_eq!(
            state(text, "x/sub/a.c"),
            "text=auto",
            "a pattern with / is anchored"
        );
        assert_eq!(state(text, "neg"), "text=auto");
        let sub = Attributes::parse("[attr]m eol=crlf\n* m\n", false);
        assert_eq!(
            sub.state(b"x", &BTreeMap::new()).len(),
            1,
            "macros only from the root file: `m` itself is kept (it may be one)"
        );
    }
}
