//! Net changes between two trees that matter to images, and which commits made them.
//!
//! The diff is our own merge-join over git's sorted tree entries rather than libgit2's
//! `diff_tree_to_tree`, because on the hook's path we want exactly this work and no more:
//! - subtrees with the same object id on both sides are skipped without being read;
//! - no blob is ever loaded (a change is an object-id or mode difference), so partial
//!   clones (`--filter=blob:none`) work without fetching anything;
//! - trees are read as raw bytes ([`crate::git::objects`]), not parsed into libgit2 objects;
//! - a large diff is split across two threads by subtree (it is bound by inflating trees);
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

use std::rc::Rc;

use git2::{Oid, Repository};
use serde::Serialize;

use crate::engine::matcher::PathRole;
use crate::error::{Error, Result};
use crate::git::objects::Objects;
use crate::limits::MAX_TREE_DEPTH;

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

/// A path classifier; `Sync` because a large diff is shared with a second thread.
pub type Classify<'a> = dyn Fn(&[u8]) -> Option<PathRole> + Sync + 'a;

/// Compares two trees (base -> target) with any classifier (the engine adds image inputs found in
/// dockerfiles to the matcher's patterns).
pub fn diff_trees_with(
    repo: &Repository,
    objects: &mut Objects<'_>,
    base: Oid,
    target: Oid,
    classify: &Classify<'_>,
) -> Result<TreeChanges> {
    let mut out = TreeChanges::default();
    if base == target {
        return Ok(out);
    }
    // Expand breadth-first in this thread until there is enough independent work to share
    // with a second core: large diffs are bound by inflating trees, which parallelises
    // perfectly across subtrees. Small diffs never reach the threshold.
    let mut frontier = vec![Pending {
        prefix: Vec::new(),
        a: Some(base),
        b: Some(target),
    }];
    for _ in 0..SPLIT_DEPTH {
        if frontier.is_empty() || frontier.len() >= PARALLEL_MIN {
            break;
        }
        let mut next = Vec::new();
        let mut walker = Walker::new(objects, classify, Some(&mut next));
        for p in &frontier {
            walker.run(p)?;
        }
        out.absorb(walker.out);
        frontier = next;
    }
    if frontier.len() >= PARALLEL_MIN {
        let theirs: Vec<Pending> = frontier.iter().skip(1).step_by(2).cloned().collect();
        let mine: Vec<Pending> = frontier.into_iter().step_by(2).collect();
        let path = objects.repo().path().to_path_buf();
        let (mine_out, theirs_out) = std::thread::scope(|s| {
            // libgit2 handles cannot be shared across threads: the helper opens the
            // repository again; whatever it cannot read, this thread redoes.
            let helper = s.spawn(|| {
                let repo = Repository::open(&path).ok()?;
                let mut objects = Objects::new(&repo);
                walk_all(&mut objects, classify, &theirs).ok()
            });
            let mine_out = walk_all(objects, classify, &mine);
            (mine_out, helper.join().ok().flatten())
        });
        out.absorb(mine_out?);
        out.absorb(match theirs_out {
            Some(t) => t,
            None => walk_all(objects, classify, &theirs)?,
        });
    } else {
        out.absorb(walk_all(objects, classify, &frontier)?);
    }
    // Full paths in byte order are git's tree order, whatever order the work was done in.
    out.matched.sort_by(|x, y| x.path.cmp(&y.path));
    pair_renames(repo, base, target, &mut out.matched);
    Ok(out)
}

/// Subtree pairs wanted before a second thread is worth starting.
const PARALLEL_MIN: usize = 32;
/// How many levels to expand looking for them.
const SPLIT_DEPTH: usize = 3;

/// Where the walker gets trees from.
trait TreeSource {
    fn tree(&mut self, oid: Oid) -> Result<Rc<Vec<u8>>>;
}

impl TreeSource for Objects<'_> {
    fn tree(&mut self, oid: Oid) -> Result<Rc<Vec<u8>>> {
        Objects::tree(self, oid).map_err(|e| Error::object(format!("cannot read tree {oid}"), e))
    }
}

/// A pair of trees (either may be absent) still to compare, at a path.
#[derive(Debug, Clone)]
struct Pending {
    prefix: Vec<u8>,
    a: Option<Oid>,
    b: Option<Oid>,
}

impl TreeChanges {
    fn absorb(&mut self, other: TreeChanges) {
        self.matched.extend(other.matched);
        self.other += other.other;
    }
}

fn walk_all(
    src: &mut dyn TreeSource,
    classify: &Classify<'_>,
    items: &[Pending],
) -> Result<TreeChanges> {
    let mut walker = Walker::new(src, classify, None);
    for p in items {
        walker.run(p)?;
    }
    Ok(walker.out)
}

/// One entry of a raw tree object: `<octal mode> SP <name> NUL <20-byte id>`.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'t> {
    pub(crate) mode: u32,
    pub(crate) name: &'t [u8],
    pub(crate) id: &'t [u8],
}

impl Entry<'_> {
    pub(crate) fn is_tree(&self) -> bool {
        self.mode == 0o40000
    }

    pub(crate) fn oid(&self) -> Result<Oid> {
        Oid::from_bytes(self.id).map_err(|e| Error::git("malformed tree entry", e))
    }
}

/// Iterates a raw tree; a malformed tree yields an error (and the verdict says rebuild).
struct Entries<'t> {
    rest: &'t [u8],
}

impl<'t> Iterator for Entries<'t> {
    type Item = Result<Entry<'t>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_entry(self.rest) {
            Some((entry, rest)) => {
                self.rest = rest;
                Some(Ok(entry))
            }
            None => {
                self.rest = &[];
                Some(Err(Error::Corrupt(
                    "a tree object is malformed: an entry does not parse".into(),
                )))
            }
        }
    }
}

/// One entry of a raw tree and the rest of it; `None` when malformed.
pub(crate) fn parse_entry(data: &[u8]) -> Option<(Entry<'_>, &[u8])> {
    let sp = data.iter().position(|b| *b == b' ')?;
    let mut mode = 0u32;
    for d in &data[..sp] {
        if !(b'0'..=b'7').contains(d) {
            return None;
        }
        mode = mode.checked_mul(8)?.checked_add(u32::from(d - b'0'))?;
    }
    let after = &data[sp + 1..];
    let nul = after.iter().position(|b| *b == 0)?;
    let id = after.get(nul + 1..nul + 21)?;
    let entry = Entry {
        mode,
        name: &after[..nul],
        id,
    };
    Some((entry, &after[nul + 21..]))
}

fn entries(data: Option<&[u8]>) -> std::iter::Peekable<Entries<'_>> {
    Entries {
        rest: data.unwrap_or_default(),
    }
    .peekable()
}

struct Walker<'a, 's> {
    src: &'s mut dyn TreeSource,
    classify: &'a Classify<'a>,
    out: TreeChanges,
    prefix: Vec<u8>,
    /// When set, subtree pairs are recorded here instead of being walked.
    defer: Option<&'a mut Vec<Pending>>,
}

impl<'a, 's> Walker<'a, 's> {
    fn new(
        src: &'s mut dyn TreeSource,
        classify: &'a Classify<'a>,
        defer: Option<&'a mut Vec<Pending>>,
    ) -> Self {
        Walker {
            src,
            classify,
            out: TreeChanges::default(),
            prefix: Vec::new(),
            defer,
        }
    }

    fn run(&mut self, p: &Pending) -> Result<()> {
        self.prefix.clear();
        self.prefix.extend_from_slice(&p.prefix);
        self.trees(p.a, p.b)
    }

    fn trees(&mut self, a: Option<Oid>, b: Option<Oid>) -> Result<()> {
        let ta = a.map(|o| self.src.tree(o)).transpose()?;
        let tb = b.map(|o| self.src.tree(o)).transpose()?;
        let mut ia = entries(ta.as_deref().map(Vec::as_slice));
        let mut ib = entries(tb.as_deref().map(Vec::as_slice));
        loop {
            let ord = match (ia.peek(), ib.peek()) {
                (None, None) => return Ok(()),
                (Some(Err(_)), _) => return ia.next().map_or(Ok(()), |r| r.map(|_| ())),
                (_, Some(Err(_))) => return ib.next().map_or(Ok(()), |r| r.map(|_| ())),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(Ok(x)), Some(Ok(y))) => git_order(x, y),
            };
            let (x, y) = match ord {
                Ordering::Less => (ia.next().transpose()?, None),
                Ordering::Greater => (None, ib.next().transpose()?),
                Ordering::Equal => (ia.next().transpose()?, ib.next().transpose()?),
            };
            if let (Some(x), Some(y)) = (&x, &y) {
                if x.id == y.id && x.mode == y.mode {
                    continue; // identical file or subtree: nothing below can differ
                }
            }
            self.entry(x, y)?;
        }
    }

    /// One name present on either or both sides (same kind: both trees or both not).
    fn entry(&mut self, a: Option<Entry<'_>>, b: Option<Entry<'_>>) -> Result<()> {
        let Some(e) = a.or(b) else {
            return Ok(());
        };
        let saved = self.prefix.len();
        if saved > 0 {
            self.prefix.push(b'/');
        }
        self.prefix.extend_from_slice(e.name);
        let result = if e.is_tree() && crate::limits::path_depth(&self.prefix) > MAX_TREE_DEPTH {
            // The walk recurses once per level: a bound keeps 10,000 nested directories
            // from overflowing the stack (the verdict is "rebuild", with this reason).
            Err(crate::limits::too_deep(&self.prefix))
        } else if e.is_tree() {
            let ia = a.map(|x| x.oid()).transpose();
            let ib = b.map(|x| x.oid()).transpose();
            match (ia, ib, &mut self.defer) {
                (Ok(ia), Ok(ib), Some(defer)) => {
                    defer.push(Pending {
                        prefix: self.prefix.clone(),
                        a: ia,
                        b: ib,
                    });
                    Ok(())
                }
                (Ok(ia), Ok(ib), None) => self.trees(ia, ib),
                (Err(err), _, _) | (_, Err(err), _) => Err(err),
            }
        } else {
            self.leaf(a, b)
        };
        self.prefix.truncate(saved);
        result
    }

    fn leaf(&mut self, a: Option<Entry<'_>>, b: Option<Entry<'_>>) -> Result<()> {
        let Some(role) = (self.classify)(&self.prefix) else {
            self.out.other += 1;
            return Ok(());
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
            old_oid: a.map_or(Ok(Oid::ZERO_SHA1), |e| e.oid())?,
            new_oid: b.map_or(Ok(Oid::ZERO_SHA1), |e| e.oid())?,
        });
        Ok(())
    }
}

/// git's tree order: names compared bytewise, a tree's name as if it ended in `/`.
fn git_order(x: &Entry<'_>, y: &Entry<'_>) -> Ordering {
    let (a, b) = (x.name, y.name);
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        other => return other,
    }
    let end = |name: &[u8], e: &Entry<'_>| {
        name.get(n)
            .copied()
            .unwrap_or(if e.is_tree() { b'/' } else { 0 })
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
