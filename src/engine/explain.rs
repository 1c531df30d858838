//! Why each changed path counts, and the one configuration line that would stop counting
//! it: what `check` and the hook's block message say per path.
//!
//! A path counts because images read it: [`crate::images::Catalog::readers`] says, per
//! image, the dockerfile line that reads it and where the build context comes from (a
//! declaration, a rule, a guess, a widening), for every comparison that found the path
//! (several merge-bases, both sides' rules), from the same image sets the verdict used.
//! A path no image reads counts by a `match.*` pattern.
//!
//! The silencing line is a `match.exclude` glob naming exactly that path, merged with the
//! excludes upstream's `.dockguard.toml` already has and shaped to fit that file (a
//! dotted key, or a line under its `[match]` table); it is checked by pasting it into a
//! copy of the file and parsing that, and left out when it would not work. It goes on the
//! upstream branch: a branch's own edit to `.dockguard.toml` is judged by the
//! merge-base's rules too, so it cannot silence its own change. When git config sets
//! `match.exclude` (and so overrides the file), the line is a `git config --add` instead;
//! when the environment does, there is none.
//!
//! Cost: nothing here runs unless a message shows it, and then only for the paths shown
//! (image sets and declarations come from the catalog's caches; a dockerfile is read
//! again only to quote a line).

use std::sync::Arc;

use git2::Oid;

use crate::config::{Name, Origin, FILE_NAME};
use crate::engine::verdict::{Reader, Reads, Silence, TargetVerdict};
use crate::engine::{Engine, Unattributed};
use crate::error::Result;
use crate::images::declared::Declaration;
use crate::images::ImageSet;
use crate::limits::MAX_CONFIG_BYTES;
use crate::render::escape::shell_word;

/// How many images a path lists as its readers (then a count).
pub const MAX_READERS: usize = 6;

/// One comparison's images: the tip's, the merge-base's, and their declarations.
struct Side {
    base: Oid,
    tip: Arc<ImageSet>,
    base_set: Arc<ImageSet>,
    tip_decls: Vec<Declaration>,
    base_decls: Vec<Declaration>,
}

impl Engine<'_> {
    /// Says, for the first `paths` changes of `v` (judged by
    /// [`Engine::judge_unattributed`], with `pending`), which images read each and how,
    /// and the line that would stop counting it.
    pub fn explain(
        &mut self,
        v: &mut TargetVerdict,
        pending: &Unattributed,
        paths: usize,
    ) -> Result<()> {
        let repo = self.repo;
        let n = pending.changes.len().min(v.changes.len()).min(paths);
        if n == 0 {
            return Ok(());
        }
        let mut sides = Vec::new();
        for (base, tree, rules) in &pending.comparisons {
            let cat = &rules.images;
            sides.push((
                Side {
                    base: *base,
                    tip: cat.image_set(repo, pending.tip_tree)?,
                    base_set: cat.image_set(repo, *tree)?,
                    tip_decls: cat.tree_declarations(repo, pending.tip_tree)?,
                    base_decls: cat.tree_declarations(repo, *tree)?,
                },
                rules,
            ));
        }
        let silencer = Silencer::new(self);
        let mut texts = crate::images::why::Texts::new();
        for i in 0..n {
            let c = &pending.changes[i];
            let found = pending.found_by.get(i).map(Vec::as_slice).unwrap_or(&[]);
            let mut readers: Vec<Reader> = Vec::new();
            for (side, rules) in &sides {
                if !found.is_empty() && !found.contains(&side.base) {
                    continue;
                }
                let tip = side.tip.images.iter().map(|img| (img, &side.tip_decls));
                let base_only = side.base_set.differing_from(&side.tip);
                let base = base_only.into_iter().map(|img| (img, &side.base_decls));
                for (img, decls) in tip.chain(base) {
                    for path in std::iter::once(&c.path).chain(c.old_path.as_ref()) {
                        for r in rules.images.readers(repo, img, path, decls, &mut texts) {
                            if !readers.contains(&r) {
                                readers.push(r);
                            }
                        }
                    }
                }
            }
            if readers.is_empty() {
                readers.push(Reader {
                    image: None,
                    dockerfile: None,
                    reads: Reads::MatchInput,
                    line: None,
                    instruction: None,
                    context: None,
                    context_from: None,
                    origin: Some(pending.rules.content.match_origin.clone()),
                    kept_by: None,
                });
            }
            let p = &mut v.changes[i];
            p.read_by_more = readers.len().saturating_sub(MAX_READERS);
            readers.truncate(MAX_READERS);
            p.read_by = readers;
            let paths: Vec<&[u8]> = std::iter::once(&c.path[..])
                .chain(c.old_path.as_deref())
                .collect();
            p.silence = silencer.silence(&paths, &pending.rules.content.match_spec.exclude);
        }
        Ok(())
    }
}

/// What the silencing line must fit: upstream's `.dockguard.toml` and who sets
/// `match.exclude`.
struct Silencer {
    /// Upstream's file: `None` when it has none, `Some(None)` when it cannot be read.
    file: Option<Option<String>>,
    origin: Origin,
}

impl Silencer {
    fn new(engine: &Engine<'_>) -> Self {
        Silencer {
            file: upstream_file(engine.repo, engine.upstream.oid),
            origin: engine.ctx.resolved().origin(Name::MatchExclude),
        }
    }

    /// The line that stops counting `paths` (`excludes`: what the tip's rules exclude).
    fn silence(&self, paths: &[&[u8]], excludes: &[String]) -> Option<Silence> {
        let globs = paths
            .iter()
            .map(|p| std::str::from_utf8(p).ok().map(exact_glob))
            .collect::<Option<Vec<String>>>()?;
        match self.origin {
            Origin::Env(_) | Origin::Flag(_) => None,
            Origin::GitConfig => {
                let adds: Vec<String> = globs
                    .iter()
                    .filter(|g| !excludes.contains(g))
                    .map(|g| format!("git config --add dockguard.match.exclude {}", shell_word(g)))
                    .collect();
                (!adds.is_empty()).then(|| Silence {
                    file: "git config".into(),
                    table: None,
                    line: adds.join(" && "),
                })
            }
            Origin::Default | Origin::File(_) => {
                let text = match &self.file {
                    None => String::new(),
                    Some(Some(t)) => t.clone(),
                    Some(None) => return None,
                };
                toml_silence(&text, &globs)
            }
        }
    }
}

/// A `match.exclude` glob matching exactly `path`: wildcards escaped, anchored at the
/// root (a glob without `/` would match the name in every directory).
fn exact_glob(path: &str) -> String {
    let mut g = String::with_capacity(path.len() + 1);
    if !path.contains('/') {
        g.push('/');
    }
    for ch in path.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            g.push('\\');
        }
        g.push(ch);
    }
    g
}

/// The `.dockguard.toml` of the upstream commit `oid`: `None` without one, `Some(None)`
/// when it is not a small regular UTF-8 file.
fn upstream_file(repo: &git2::Repository, oid: Oid) -> Option<Option<String>> {
    let tree = repo.find_commit(oid).and_then(|c| c.tree()).ok()?;
    let entry = tree.get_name(FILE_NAME)?;
    if entry.filemode() & 0o170000 != 0o100000 {
        return Some(None);
    }
    let size = repo.odb().and_then(|o| o.read_header(entry.id())).ok()?.0 as u64;
    if size > MAX_CONFIG_BYTES {
        return Some(None);
    }
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(std::str::from_utf8(blob.content()).ok().map(str::to_owned))
}

/// The line for a `.dockguard.toml` holding `text`: `match.exclude` with `globs` added
/// to what it has, as a dotted key or under its `[match]` table; `None` when pasting it
/// would not give exactly that list (a shape this does not handle).
fn toml_silence(text: &str, globs: &[String]) -> Option<Silence> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let mut list: Vec<String> = match table.get("match").and_then(|m| m.get("exclude")) {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
        Some(_) => return None,
        None => Vec::new(),
    };
    let before = list.len();
    for g in globs {
        if !list.contains(g) {
            list.push(g.clone());
        }
    }
    if list.len() == before {
        return None;
    }
    let values = list
        .iter()
        .map(|g| toml_string(g))
        .collect::<Vec<_>>()
        .join(", ");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| is_header(l, "match"));
    let (table_name, line, pasted) = match header {
        Some(h) => {
            let line = format!("exclude = [{values}]");
            let mut out: Vec<String> = lines[..=h].iter().map(|l| (*l).to_owned()).collect();
            out.push(line.clone());
            out.extend(without_key(&lines[h + 1..], "exclude"));
            (Some("match".to_owned()), line, out.join("\n"))
        }
        None => {
            let line = format!("match.exclude = [{values}]");
            let mut out = vec![line.clone()];
            out.extend(without_key(&lines, "match.exclude"));
            (None, line, out.join("\n"))
        }
    };
    let check: toml::Table = toml::from_str(&pasted).ok()?;
    let got: Vec<&str> = check
        .get("match")?
        .get("exclude")?
        .as_array()?
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    (got == list.iter().map(String::as_str).collect::<Vec<_>>()).then(|| Silence {
        file: FILE_NAME.to_owned(),
        table: table_name,
        line,
    })
}

/// Whether a TOML line is the header `[name]`.
fn is_header(line: &str, name: &str) -> bool {
    let l = line.trim();
    let l = l.split('#').next().unwrap_or(l).trim();
    l.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|inner| !inner.starts_with('[') && inner.trim() == name)
}

/// `lines` without the assignment to `key` of the table they start in (up to the next
/// header), an array spanning lines included: the line replaces it.
fn without_key(lines: &[&str], key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_table = true;
    let mut skipping = false;
    for l in lines {
        let t = l.trim_start();
        if t.starts_with('[') {
            in_table = false;
        }
        if skipping {
            skipping = !l.contains(']');
            continue;
        }
        let assigns = t
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('='));
        if in_table && assigns {
            let value = t.split_once('=').map_or("", |(_, v)| v);
            skipping = value.contains('[') && !value.contains(']');
            continue;
        }
        out.push((*l).to_owned());
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::matcher::{MatchSpec, Matcher};

    fn excluded(glob: &str, path: &str) -> bool {
        Matcher::new(
            &MatchSpec {
                exclude: vec![glob.into()],
                ..MatchSpec::default()
            },
            "test",
        )
        .expect("valid glob")
        .excludes(path.as_bytes())
    }

    #[test]
    fn the_glob_matches_exactly_the_path() {
        for (path, other) in [
            ("hw/core/cpu-common.c", "hw/core/cpu-common.cc"),
            ("Makefile", "sub/Makefile"),
            ("a/b[1]*?.c", "a/b1xy.c"),
            ("back\\slash", "backslash"),
        ] {
            let g = exact_glob(path);
            assert!(excluded(&g, path), "{g} must exclude {path}");
            assert!(!excluded(&g, other), "{g} must not exclude {other}");
        }
    }

    #[test]
    fn the_line_fits_the_file_and_keeps_its_excludes() {
        let g = vec!["hw/core/cpu-common.c".to_owned()];
        let s = toml_silence("", &g).expect("a line");
        assert_eq!(
            (s.table, s.line.as_str()),
            (None, r#"match.exclude = ["hw/core/cpu-common.c"]"#)
        );
        let file = "[match]\ninputs = [\"x/**\"]\nexclude = [\n  \"docs/**\",\n]\n\n[images]\nparent = []\n";
        let s = toml_silence(file, &g).expect("a line");
        assert_eq!(s.table.as_deref(), Some("match"));
        assert_eq!(s.line, r#"exclude = ["docs/**", "hw/core/cpu-common.c"]"#);
        let s =
            toml_silence("match.exclude = [\"docs/**\"]\npolicy = \"warn\"\n", &g).expect("a line");
        assert_eq!(
            s.line,
            r#"match.exclude = ["docs/**", "hw/core/cpu-common.c"]"#
        );
        // Already excluded there, or a shape the line cannot fit: no line.
        assert!(toml_silence("match.exclude = [\"hw/core/cpu-common.c\"]\n", &g).is_none());
        assert!(toml_silence("match = { exclude = [] }\n", &g).is_none());
        assert!(toml_silence("not toml [", &g).is_none());
        assert_eq!(toml_string("a\"b\\c\n"), r#""a\"b\\c\u000A""#);
    }
}
