//! Symlinks and submodules on the paths a build reads, resolved as the builders do.
//!
//! What BuildKit does (moby/buildkit `frontend/dockerfile/dockerfile2llb/convert_copy.go`:
//! every local COPY/ADD source is copied with `FollowSymlinks: true`; tonistiigi/fsutil
//! `followlinks.go`: the context transfer follows the links on each source path, component
//! by component, wildcards included) and what the legacy builder does (`FollowSymlinkInScope`
//! against the context root) agree:
//! - a source that *is* a symlink copies its target (a file, or a directory's content);
//! - a symlink on the way to a source (`COPY conf/app.ini` with `conf -> shared/conf`) is
//!   followed;
//! - targets are resolved *inside the context root*: an absolute target is taken relative to
//!   the root, and `..` stops at the root (a link cannot leave the context);
//! - symlinks *inside* a copied directory are copied as symlinks (their text counts, which
//!   the tree diff sees already).
//!
//! So each such link adds its resolved target as another source pattern ([`derived`]).
//!
//! The dockerfile itself is read through its link by the docker CLI, which resolves it on
//! the host (`filepath.EvalSymlinks` in `cli/command/image/build/context.go`: anywhere in
//! the repository), while BuildKit's frontend reads it from the dockerfile's directory (the
//! target clamped there); both readings count ([`dockerfile_chain`]).
//!
//! Submodules are gitlinks (a commit id, no content in this repository): a source at or
//! under one counts when the gitlink changes. A changed path that is a proper prefix of a
//! source's match (a gitlink, or a symlink, at `vendor/lib` for `COPY vendor/lib/x`) is
//! matched by [`prefix_regex`].

use regex::bytes::Regex;

use crate::error::Result;

use super::dockerfile::{clean, ANY};
use super::patterns::source_regex;
use super::view::{join, parent, TreeView, MODE_GITLINK, MODE_LINK, MODE_TREE};

/// How many links one resolution follows (Linux allows 40).
const MAX_HOPS: usize = 40;
/// How many derived patterns one image may collect.
const MAX_DERIVED: usize = 256;
/// Entries walked looking for links under a pattern with unknown text.
const MAX_SCAN: usize = 100_000;

/// Escapes Go-glob syntax so that a resolved path matches only itself.
pub(crate) fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn has_wildcard(comp: &str) -> bool {
    let mut escaped = false;
    for c in comp.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

/// A link at `at` (context-relative) with `target`, resolved inside the context root.
fn resolve_in_root(at: &str, target: &str) -> String {
    if target.starts_with('/') {
        clean(target)
    } else {
        let dir = at.rsplit_once('/').map_or("", |(d, _)| d);
        clean(&format!("{dir}/{target}"))
    }
}

/// What following the links on the source patterns of a context adds: more patterns
/// (context-relative, glob-escaped) for link targets, and notes for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    /// New source patterns.
    pub patterns: Vec<String>,
    /// `link -> target` for each link followed.
    pub followed: Vec<String>,
    /// For each new pattern, the index of the original pattern it came from.
    pub origin: Vec<usize>,
}

/// Follows the symlinks on the paths `patterns` name inside the context `ctx`.
pub(crate) fn derived(view: &TreeView<'_>, ctx: &[u8], patterns: &[String]) -> Result<Derived> {
    let mut out = Derived::default();
    let mut queue: Vec<(String, usize, usize)> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i, 0))
        .collect();
    let mut seen: std::collections::HashSet<String> = patterns.iter().cloned().collect();
    while let Some((pattern, origin, hops)) = queue.pop() {
        if hops >= MAX_HOPS || pattern.is_empty() {
            continue;
        }
        let comps: Vec<&str> = pattern.split('/').collect();
        let mut found = Vec::new();
        walk(view, ctx, "", &comps, &mut found)?;
        for (link, target) in found {
            if out.patterns.len() >= MAX_DERIVED {
                return Ok(out);
            }
            out.followed.push(format!("{link} -> {target}"));
            if seen.insert(target.clone()) {
                out.patterns.push(target.clone());
                out.origin.push(origin);
                queue.push((target, origin, hops + 1));
            }
        }
    }
    Ok(out)
}

/// Descends `comps` from the context-relative directory `at`; every symlink met on the
/// way gives `(link path, new pattern)`.
fn walk(
    view: &TreeView<'_>,
    ctx: &[u8],
    at: &str,
    comps: &[&str],
    found: &mut Vec<(String, String)>,
) -> Result<()> {
    let Some((&comp, rest)) = comps.split_first() else {
        return Ok(());
    };
    let dir = join(ctx, at.as_bytes());
    if comp.contains(ANY) {
        return scan_unknown(view, ctx, at, comps, found);
    }
    let Some(tree) = view.dir(&dir)? else {
        return Ok(());
    };
    let list = view.list(tree)?;
    let matcher = if has_wildcard(comp) {
        Regex::new(&format!("^{}$", source_regex(comp))).ok()
    } else {
        None
    };
    for node in list.iter() {
        let name = String::from_utf8_lossy(&node.name);
        let hit = match &matcher {
            Some(re) => re.is_match(&node.name) && !node.name.contains(&b'/'),
            None => unescape(comp) == name,
        };
        if !hit {
            continue;
        }
        let child = if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}/{name}")
        };
        match node.mode {
            MODE_LINK => {
                let Some(text) = view.link_target(node.oid)? else {
                    continue;
                };
                let target = escape(&resolve_in_root(&child, text.trim_end_matches('\n')));
                let pattern = if rest.is_empty() {
                    target
                } else if target.is_empty() {
                    rest.join("/")
                } else {
                    format!("{target}/{}", rest.join("/"))
                };
                found.push((child, pattern));
            }
            MODE_TREE if !rest.is_empty() => walk(view, ctx, &child, rest, found)?,
            _ => {}
        }
    }
    Ok(())
}

/// Unknown text in a pattern (`COPY src/$X /`): any link below `at` that the pattern
/// (or a prefix of it) could name counts, with its whole target.
fn scan_unknown(
    view: &TreeView<'_>,
    ctx: &[u8],
    at: &str,
    comps: &[&str],
    found: &mut Vec<(String, String)>,
) -> Result<()> {
    let dir = join(ctx, at.as_bytes());
    let mut links = Vec::new();
    view.leaves(&dir, MAX_SCAN, &mut |rel, mode, oid| {
        if mode == MODE_LINK {
            links.push((rel.to_vec(), oid));
        }
        true
    })?;
    let pattern = comps.join("/");
    let full = Regex::new(&format!("^{}$", source_regex(&pattern))).ok();
    let prefix = prefix_regex(std::slice::from_ref(&pattern));
    for (rel, oid) in links {
        let named = full.as_ref().is_none_or(|re| re.is_match(&rel))
            || prefix.as_ref().is_some_and(|re| re.is_match(&rel));
        if !named {
            continue;
        }
        let Some(text) = view.link_target(oid)? else {
            continue;
        };
        let rel = String::from_utf8_lossy(&rel);
        let child = if at.is_empty() {
            rel.to_string()
        } else {
            format!("{at}/{rel}")
        };
        let target = escape(&resolve_in_root(&child, text.trim_end_matches('\n')));
        found.push((child, target));
    }
    Ok(())
}

fn unescape(comp: &str) -> String {
    let mut out = String::new();
    let mut chars = comp.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A regex for the paths that are proper prefixes of what `patterns` can match (the
/// places a gitlink or a symlink stands in for a directory on a source's path).
pub(crate) fn prefix_regex(patterns: &[String]) -> Option<Regex> {
    let mut alts = Vec::new();
    for p in patterns {
        let comps: Vec<&str> = p.split('/').collect();
        for k in 1..comps.len() {
            let head = &comps[..k];
            if let Some(i) = head.iter().position(|c| c.contains(ANY)) {
                // Unknown text may span directories: anything below the known part.
                let known = comps[..i].join("/");
                alts.push(if known.is_empty() {
                    "(?s-u:.+)".to_owned()
                } else {
                    format!("{}/(?s-u:.+)", exact(&known))
                });
                break;
            }
            alts.push(exact(&head.join("/")));
        }
    }
    if alts.is_empty() {
        return None;
    }
    alts.sort();
    alts.dedup();
    let joined = alts
        .iter()
        .map(|a| format!("(?:{a})"))
        .collect::<Vec<_>>()
        .join("|");
    // Parts that do not compile (a broken class) count as "anything": never narrower.
    Regex::new(&format!("^(?:{joined})$"))
        .ok()
        .or_else(|| Regex::new("^(?s-u:.+)$").ok())
}

/// A source pattern's regex matching the path itself only (not what is below it).
fn exact(pattern: &str) -> String {
    let re = source_regex(pattern);
    // source_regex wraps as `(?s-u:BODY(?:/.*)?)`: drop the "and below" part.
    match re
        .strip_prefix("(?s-u:")
        .and_then(|r| r.strip_suffix("(?:/.*)?)"))
    {
        Some(body) => format!("(?s-u:{body})"),
        None => re,
    }
}

/// Following a symlinked dockerfile: every entry on the way (links and the file it ends
/// at), for both readings (the docker CLI's on the host, BuildKit's inside the
/// dockerfile's directory). `outside` is set when a reading leaves the repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    /// Repository paths of every link followed and every file reached.
    pub paths: Vec<Vec<u8>>,
    /// The files reached (what is parsed: the first), with mode and blob id.
    pub files: Vec<(Vec<u8>, u32, git2::Oid)>,
    /// A reading left the repository (its content cannot be judged).
    pub outside: Option<String>,
}

/// Follows the dockerfile link at `path`.
pub(crate) fn dockerfile_chain(view: &TreeView<'_>, path: &[u8]) -> Result<Chain> {
    let mut chain = Chain::default();
    let dir = parent(path).to_vec();
    // The docker CLI: on the host, relative to each link's directory, anywhere.
    follow(view, path, None, &mut chain)?;
    // BuildKit's frontend: the dockerfile's directory is the root.
    follow(view, path, Some(&dir), &mut chain)?;
    chain.paths.sort();
    chain.paths.dedup();
    chain.files.dedup();
    Ok(chain)
}

fn follow(view: &TreeView<'_>, start: &[u8], root: Option<&[u8]>, chain: &mut Chain) -> Result<()> {
    let mut at = start.to_vec();
    for _ in 0..MAX_HOPS {
        let Some((mode, oid)) = resolve_dirs(view, &at, root)? else {
            return Ok(());
        };
        if mode != MODE_LINK {
            if mode != MODE_TREE && mode != MODE_GITLINK {
                chain.paths.push(at.clone());
                chain.files.push((at, mode, oid));
            }
            return Ok(());
        }
        chain.paths.push(at.clone());
        let Some(text) = view.link_target(oid)? else {
            return Ok(());
        };
        let text = text.trim_end_matches('\n');
        let here = String::from_utf8_lossy(parent(&at)).into_owned();
        at = match root {
            Some(r) => {
                let r = String::from_utf8_lossy(r).into_owned();
                let rel = here
                    .strip_prefix(&r)
                    .unwrap_or(&here)
                    .trim_start_matches('/');
                let inside = if text.starts_with('/') {
                    clean(text)
                } else {
                    clean(&format!("{rel}/{text}"))
                };
                join(r.as_bytes(), inside.as_bytes())
            }
            None => {
                if text.starts_with('/') {
                    chain.outside = Some(format!("it points at {text}, outside the repository"));
                    return Ok(());
                }
                match host_join(&here, text) {
                    Some(p) => p.into_bytes(),
                    None => {
                        chain.outside =
                            Some(format!("it points at {text}, outside the repository"));
                        return Ok(());
                    }
                }
            }
        };
    }
    Ok(())
}

/// `dir/text` normalised like the host would, `None` when `..` climbs above the root.
fn host_join(dir: &str, text: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for comp in text.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// The entry at `path` with the links on its directories followed (within `root` when
/// given, else anywhere in the repository).
fn resolve_dirs(
    view: &TreeView<'_>,
    path: &[u8],
    root: Option<&[u8]>,
) -> Result<Option<(u32, git2::Oid)>> {
    let dir = parent(path);
    if dir.is_empty() || root.is_some_and(|r| r == dir) {
        return view.entry(path);
    }
    // Directories on the way are rarely links; when one is, give up on this reading
    // (its other reading, and the diff of the link itself, still count).
    match view.entry(dir)? {
        Some((MODE_TREE, _)) => view.entry(path),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_source_patterns() {
        let re =
            prefix_regex(&["vendor/lib/x".into(), "a/*/c".into(), "top".into()]).expect("some");
        for yes in ["vendor", "vendor/lib", "a", "a/b"] {
            assert!(re.is_match(yes.as_bytes()), "{yes}");
        }
        for no in ["vendor/lib/x", "vendor/other", "top", "a/b/c", "b"] {
            assert!(!re.is_match(no.as_bytes()), "{no}");
        }
        let re = prefix_regex(&[format!("src/x{ANY}y/z")]).expect("some");
        assert!(re.is_match(b"src/anything/below") && re.is_match(b"src"));
        assert!(!re.is_match(b"other"));
        assert!(prefix_regex(&["single".into()]).is_none());
    }

    #[test]
    fn targets_stay_in_the_root() {
        assert_eq!(
            resolve_in_root("a/link", "../../../etc/passwd"),
            "etc/passwd"
        );
        assert_eq!(resolve_in_root("a/link", "/abs/x"), "abs/x");
        assert_eq!(resolve_in_root("a/b/link", "../c"), "a/c");
        assert_eq!(resolve_in_root("link", "."), "");
        assert_eq!(
            host_join("docker", "../Dockerfile.common"),
            Some("Dockerfile.common".into())
        );
        assert_eq!(host_join("", "../x"), None);
        assert_eq!(escape("a*[b]?\\"), "a\\*\\[b\\]\\?\\\\");
    }
}
