//! Net changes between two trees that matter to images, and which commits made them.
//!
//! The diff is our own merge-join over git's sorted tree entries rather than libgit2's
//! `diff_tree_to_tree`, because on the hook's path we want exactly this work and no more:
//! - subtrees with the same object id on both sides are skipped without being read;
//! - no blob is ever loaded (a change is an object-id or mode difference), so partial
//!   clones (`--filter=blob:none`) work without fetching anything;
//! - paths are bytes from end to end (non-UTF-8 names are fine);
//! - only paths the matcher classifies are kept; the rest are only counted.
//!
//! Renames: an added and a deleted matched path with the same blob are paired exactly
//! here; remaining added/deleted pairs are offered to libgit2's similarity detection,
//! restricted to those few paths (best effort: it needs the blobs). Either way both
//! sides of a rename count, so rename detection changes how a change is shown, never
//! whether it counts.

use std::cmp::Ordering;
use std::collections::HashSet;

use git2::{Oid, Repository, Tree, TreeEntry};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::matcher::{Matcher, PathRole};

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New on the target side.
    Added,
    /// Gone on the target side.
    Deleted,
    /// Different content or mode.
    Modified,
    /// Moved (`old_path` -> `path`), possibly with edits.
    Renamed,
}

impl ChangeKind {
    /// The word used in human output.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
        }
    }
}

/// One changed path that an image is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path on the target side (for deletions, the deleted path).
    pub path: Vec<u8>,
    /// For renames, the path on the base side.
    pub old_path: Option<Vec<u8>>,
    /// How it changed.
    pub kind: ChangeKind,
    /// What the path is to an image (for renames, the stronger of the two sides).
    pub role: PathRole,
    /// Blob on the base side (zero when added).
    pub old_oid: Oid,
    /// Blob on the target side (zero when deleted).
    pub new_oid: Oid,
}

/// The result of a tree comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeChanges {
    /// Changed paths that matter to images, in path order.
    pub matched: Vec<Change>,
    /// How many other paths changed (ignored).
    pub other: usize,
}

/// Compares two trees (base -> target), keeping the paths `matcher` classifies.
pub fn diff_trees(
    repo: &Repository,
    base: Oid,
    target: Oid,
    matcher: &Matcher,
) -> Result<TreeChanges> {
    diff_trees_with(repo, base, target, &|p| matcher.classify(p))
}

/// [`diff_trees`] with any classifier (the engine adds image inputs found in
/// dockerfiles to the matcher's patterns).
pub fn diff_trees_with(
    repo: &Repository,
    base: Oid,
    target: Oid,
    classify: &dyn Fn(&[u8]) -> Option<PathRole>,
) -> Result<TreeChanges> {
    let mut out = TreeChanges::default();
    if base == target {
        return Ok(out);
    }
    let a = find_tree(repo, base)?;
    let b = find_tree(repo, target)?;
    let mut walker = Walker {
        repo,
        classify,
        out: &mut out,
        prefix: Vec::new(),
    };
    walker.trees(Some(&a), Some(&b))?;
    pair_renames(repo, base, target, &mut out.matched);
    Ok(out)
}

fn find_tree(repo: &Repository, oid: Oid) -> Result<Tree<'_>> {
    repo.find_tree(oid)
        .map_err(|e| Error::git(format!("cannot read tree {oid}"), e))
}

struct Walker<'a, 'r> {
    repo: &'r Repository,
    classify: &'a dyn Fn(&[u8]) -> Option<PathRole>,
    out: &'a mut TreeChanges,
    prefix: Vec<u8>,
}

impl Walker<'_, '_> {
    fn trees(&mut self, a: Option<&Tree<'_>>, b: Option<&Tree<'_>>) -> Result<()> {
        let mut ia = a.map(|t| t.iter()).into_iter().flatten().peekable();
        let mut ib = b.map(|t| t.iter()).into_iter().flatten().peekable();
        loop {
            let ord = match (ia.peek(), ib.peek()) {
                (None, None) => return Ok(()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => git_order(x, y),
            };
            match ord {
                Ordering::Less => {
                    let x = ia.next();
                    self.entry(x.as_ref(), None)?;
                }
                Ordering::Greater => {
                    let y = ib.next();
                    self.entry(None, y.as_ref())?;
                }
                Ordering::Equal => {
                    let (x, y) = (ia.next(), ib.next());
                    if let (Some(x), Some(y)) = (&x, &y) {
                        if x.id() == y.id() && x.filemode() == y.filemode() {
                            continue; // identical file or subtree: nothing below can differ
                        }
                    }
                    self.entry(x.as_ref(), y.as_ref())?;
                }
            }
        }
    }

    /// One name present on either or both sides (same kind: both trees or both not).
    fn entry(&mut self, a: Option<&TreeEntry<'_>>, b: Option<&TreeEntry<'_>>) -> Result<()> {
        let Some(name) = a.or(b).map(TreeEntry::name_bytes) else {
            return Ok(());
        };
        let saved = self.prefix.len();
        if saved > 0 {
            self.prefix.push(b'/');
        }
        self.prefix.extend_from_slice(name);
        let result = if a.or(b).is_some_and(is_tree) {
            let ta = a.map(|e| find_tree(self.repo, e.id())).transpose()?;
            let tb = b.map(|e| find_tree(self.repo, e.id())).transpose()?;
            self.trees(ta.as_ref(), tb.as_ref())
        } else {
            self.leaf(a, b);
            Ok(())
        };
        self.prefix.truncate(saved);
        result
    }

    fn leaf(&mut self, a: Option<&TreeEntry<'_>>, b: Option<&TreeEntry<'_>>) {
        let Some(role) = (self.classify)(&self.prefix) else {
            self.out.other += 1;
            return;
        };
        let kind = match (a, b) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Deleted,
            _ => ChangeKind::Modified,
        };
        self.out.matched.push(Change {
            path: self.prefix.clone(),
            old_path: None,
            kind,
            role,
            old_oid: a.map_or(Oid::ZERO_SHA1, TreeEntry::id),
            new_oid: b.map_or(Oid::ZERO_SHA1, TreeEntry::id),
        });
    }
}

fn is_tree(e: &TreeEntry<'_>) -> bool {
    e.kind() == Some(git2::ObjectType::Tree)
}

/// git's tree order: names compared bytewise, a tree's name as if it ended in `/`.
fn git_order(x: &TreeEntry<'_>, y: &TreeEntry<'_>) -> Ordering {
    let (a, b) = (x.name_bytes(), y.name_bytes());
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        other => return other,
    }
    let end = |name: &[u8], e: &TreeEntry<'_>| {
        name.get(n)
            .copied()
            .unwrap_or(if is_tree(e) { b'/' } else { 0 })
    };
    end(a, x).cmp(&end(b, y))
}

fn pair_renames(repo: &Repository, base: Oid, target: Oid, changes: &mut Vec<Change>) {
    let has = |k| changes.iter().any(|c| c.kind == k);
    if !has(ChangeKind::Added) || !has(ChangeKind::Deleted) {
        return;
    }
    // Exact renames: same blob on both sides.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut used = HashSet::new();
    for (d, del) in changes.iter().enumerate() {
        if del.kind != ChangeKind::Deleted {
            continue;
        }
        if let Some(a) = changes.iter().enumerate().position(|(i, c)| {
            c.kind == ChangeKind::Added && c.new_oid == del.old_oid && !used.contains(&i)
        }) {
            used.insert(a);
            used.insert(d);
            pairs.push((d, a));
        }
    }
    // Similar renames among the rest, by libgit2 (needs blobs; skipped if unavailable).
    let rest_del: Vec<usize> = (0..changes.len())
        .filter(|i| changes[*i].kind == ChangeKind::Deleted && !used.contains(i))
        .collect();
    let rest_add: Vec<usize> = (0..changes.len())
        .filter(|i| changes[*i].kind == ChangeKind::Added && !used.contains(i))
        .collect();
    if !rest_del.is_empty() && !rest_add.is_empty() {
        if let Ok(similar) = similar_renames(repo, base, target, changes, &rest_del, &rest_add) {
            pairs.extend(similar);
        }
    }
    if pairs.is_empty() {
        return;
    }
    let mut drop = HashSet::new();
    for (d, a) in pairs {
        let old = changes[d].clone();
        let new = &mut changes[a];
        new.kind = ChangeKind::Renamed;
        new.old_path = Some(old.path);
        new.old_oid = old.old_oid;
        if old.role == PathRole::Dockerfile {
            new.role = PathRole::Dockerfile;
        }
        drop.insert(d);
    }
    let mut i = 0;
    changes.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
}

fn similar_renames(
    repo: &Repository,
    base: Oid,
    target: Oid,
    changes: &[Change],
    dels: &[usize],
    adds: &[usize],
) -> std::result::Result<Vec<(usize, usize)>, git2::Error> {
    let mut opts = git2::DiffOptions::new();
    opts.disable_pathspec_match(true);
    for i in dels.iter().chain(adds) {
        opts.pathspec(changes[*i].path.clone());
    }
    let a = repo.find_tree(base)?;
    let b = repo.find_tree(target)?;
    let mut diff = repo.diff_tree_to_tree(Some(&a), Some(&b), Some(&mut opts))?;
    diff.find_similar(Some(git2::DiffFindOptions::new().renames(true)))?;
    let mut pairs = Vec::new();
    for delta in diff.deltas() {
        if delta.status() != git2::Delta::Renamed {
            continue;
        }
        let (Some(old), Some(new)) = (delta.old_file().path_bytes(), delta.new_file().path_bytes())
        else {
            continue;
        };
        let d = dels.iter().find(|i| changes[**i].path == old);
        let a = adds.iter().find(|i| changes[**i].path == new);
        if let (Some(d), Some(a)) = (d, a) {
            pairs.push((*d, *a));
        }
    }
    Ok(pairs)
}

/// A commit in the range that touched some changed paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Touch {
    /// The commit.
    #[serde(serialize_with = "crate::verdict::ser_oid")]
    pub oid: Oid,
    /// Its subject line.
    pub summary: String,
    /// Indexes into the change list of the paths it touched.
    #[serde(skip)]
    pub paths: Vec<usize>,
}

/// Which commits of `base..target` touched which changed paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Touching commits, newest first.
    pub commits: Vec<Touch>,
    /// True when the walk stopped at `max` commits before reaching the base.
    pub truncated: bool,
}

/// Attributes `changes` to the commits of `base..target` that touched them.
///
/// A commit touches a path when the path's entry differs from every parent's (git log's
/// default history simplification: a merge that took one side unchanged did not touch it).
/// Both sides of a rename are looked up. At most `max` commits are examined.
pub fn attribute(
    repo: &Repository,
    base: Oid,
    target: Oid,
    changes: &[Change],
    max: usize,
) -> Result<Attribution> {
    let mut out = Attribution::default();
    if changes.is_empty() {
        return Ok(out);
    }
    let walk_err = |e| Error::git("cannot walk the commits of the range", e);
    let mut walk = repo.revwalk().map_err(walk_err)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(walk_err)?;
    walk.push(target).map_err(walk_err)?;
    walk.hide(base).map_err(walk_err)?;
    for (n, oid) in walk.enumerate() {
        if n >= max {
            out.truncated = true;
            break;
        }
        let oid = oid.map_err(walk_err)?;
        let commit = repo
            .find_commit(oid)
            .map_err(|e| Error::git(format!("cannot read commit {oid}"), e))?;
        let tree = commit
            .tree()
            .map_err(|e| Error::git(format!("cannot read the tree of {oid}"), e))?;
        let parents: Vec<Tree<'_>> = commit
            .parents()
            .map(|p| p.tree())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::git(format!("cannot read the parents of {oid}"), e))?;
        let mut touched = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            let hit = std::iter::once(&change.path)
                .chain(change.old_path.as_ref())
                .any(|p| {
                    let here = entry_id(&tree, p);
                    parents.is_empty() && here.is_some()
                        || !parents.is_empty() && parents.iter().all(|pt| entry_id(pt, p) != here)
                });
            if hit {
                touched.push(i);
            }
        }
        if !touched.is_empty() {
            out.commits.push(Touch {
                oid,
                summary: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                    .into_owned(),
                paths: touched,
            });
        }
    }
    Ok(out)
}

fn entry_id(tree: &Tree<'_>, path: &[u8]) -> Option<(Oid, i32)> {
    tree.get_path(bytes_path(path)?)
        .ok()
        .map(|e| (e.id(), e.filemode()))
}

#[cfg(unix)]
fn bytes_path(p: &[u8]) -> Option<&std::path::Path> {
    use std::os::unix::ffi::OsStrExt;
    Some(std::path::Path::new(std::ffi::OsStr::from_bytes(p)))
}

#[cfg(not(unix))]
fn bytes_path(p: &[u8]) -> Option<&std::path::Path> {
    std::str::from_utf8(p).ok().map(std::path::Path::new)
}
