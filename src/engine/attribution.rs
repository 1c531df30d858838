//! Which commits of a range touched which changed paths (`check --commits`, and the hook's
//! block message, which names the commits to look at).
//!
//! A commit touches a path when the path's entry (id and mode) differs from every
//! parent's: git log's default history simplification, so a merge that took one side
//! unchanged did not touch it. Both sides of a rename are looked up. At most `max` commits
//! are examined, and the result says when the walk stopped early. The range is the tip's
//! commits that no merge-base has: with several (criss-cross merges), none of them.
//!
//! Cost: on a branch of thousands of commits this runs on the hook's path, so each
//! comparison descends the two trees in lockstep from the root and stops at the first
//! identical subtree (usually the root's first component), reading trees through
//! [`Objects`] with a small cache (a commit's tree is usually its child's parent tree).

use std::collections::HashMap;
use std::rc::Rc;

use git2::{Oid, Repository};
use serde::Serialize;

use crate::engine::changes::Change;
use crate::error::{Error, Result};
use crate::git::history::History;
use crate::git::objects::CommitHeader;
use crate::git::objects::Objects;

/// A commit in the range that touched some changed paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Touch {
    /// The commit.
    #[serde(serialize_with = "crate::git::ser_oid")]
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

/// A tree entry's id and mode.
type Found = (Oid, u32);

/// Trees read during one attribution, bounded.
struct Trees<'a, 'r> {
    objects: &'a mut Objects<'r>,
    history: &'a History<'a>,
    cache: HashMap<Oid, Rc<Vec<u8>>>,
    commit_trees: HashMap<Oid, Oid>,
    /// (tree, name) -> its entry: a commit's trees are looked at again as its child's
    /// parent trees, and scanning a large tree (a repository's root) is what costs.
    entries: HashMap<(Oid, Vec<u8>), Option<Found>>,
}

const TREE_CACHE: usize = 512;

impl Trees<'_, '_> {
    fn tree(&mut self, oid: Oid) -> Result<Rc<Vec<u8>>> {
        if let Some(t) = self.cache.get(&oid) {
            return Ok(Rc::clone(t));
        }
        let t = self
            .objects
            .tree(oid)
            .map_err(|e| Error::object(format!("cannot read tree {oid}"), e))?;
        if self.cache.len() >= TREE_CACHE {
            self.cache.clear();
        }
        self.cache.insert(oid, Rc::clone(&t));
        Ok(t)
    }

    fn commit_tree(&mut self, oid: Oid) -> Result<Oid> {
        if let Some(t) = self.commit_trees.get(&oid) {
            return Ok(*t);
        }
        let h = self.header(oid)?;
        self.commit_trees.insert(oid, h.tree);
        Ok(h.tree)
    }

    /// A commit's tree and parents, from the commit-graph when it has them.
    fn header(&mut self, oid: Oid) -> Result<CommitHeader> {
        let h = match self.history.commit(self.objects, oid) {
            Some(h) => h,
            None => self.objects.commit_header(oid),
        };
        h.map_err(|e| Error::object(format!("cannot read commit {oid}"), e))
    }

    /// The commits of `base..target` in the order libgit2's topological, time-sorted
    /// revwalk gives them, when that order is forced: every commit from `target` down to
    /// `base` has exactly one parent, so the range is that chain and any topological order
    /// of it is the chain itself. At most `max + 1` are collected (the caller stops at
    /// `max`). `None` for anything else (a merge, a root, history that is not plain, an
    /// unreadable commit): the caller asks the revwalk, as before.
    fn linear_range(&mut self, base: Oid, target: Oid, max: usize) -> Option<Vec<Oid>> {
        let mut out = Vec::new();
        let mut at = target;
        while at != base && out.len() <= max {
            let h = self.history.commit(self.objects, at)?.ok()?;
            let [parent] = h.parents[..] else {
                return None;
            };
            self.commit_trees.insert(at, h.tree);
            out.push(at);
            at = parent;
        }
        Some(out)
    }

    /// Does the entry at `path` differ between trees `a` and `b` (`None`: no tree, as for
    /// a root commit's parent)? Descends in lockstep and stops at the first identical
    /// subtree, below which nothing can differ.
    fn differs(&mut self, a: Oid, b: Option<Oid>, path: &[u8]) -> Result<bool> {
        let (mut a, mut b) = (Some((a, 0o40000)), b.map(|b| (b, 0o40000)));
        for comp in path.split(|c| *c == b'/') {
            if a == b {
                return Ok(false);
            }
            a = self.child(a, comp)?;
            b = self.child(b, comp)?;
        }
        Ok(a != b)
    }

    fn child(&mut self, at: Option<(Oid, u32)>, name: &[u8]) -> Result<Option<(Oid, u32)>> {
        let Some((oid, mode)) = at else {
            return Ok(None);
        };
        if mode != 0o40000 {
            return Ok(None); // a file where a directory is expected: nothing below
        }
        let key = (oid, name.to_vec());
        if let Some(found) = self.entries.get(&key) {
            return Ok(*found);
        }
        let found = find_entry(&self.tree(oid)?, name);
        if self.entries.len() >= TREE_CACHE * 4 {
            self.entries.clear();
        }
        self.entries.insert(key, found);
        Ok(found)
    }
}

/// Looks `name` up in a raw tree object (`None` also when an entry before it is malformed).
fn find_entry(mut data: &[u8], name: &[u8]) -> Option<(Oid, u32)> {
    while !data.is_empty() {
        let sp = data.iter().position(|b| *b == b' ')?;
        let mode = octal(&data[..sp])?;
        let rest = &data[sp + 1..];
        let nul = rest.iter().position(|b| *b == 0)?;
        let id = rest.get(nul + 1..nul + 21)?;
        if &rest[..nul] == name {
            return Some((Oid::from_bytes(id).ok()?, mode));
        }
        data = &rest[nul + 21..];
    }
    None
}

/// `u32::from_str_radix(text, 8)` on bytes. This runs for every entry of every tree on a
/// path, for every commit of the range: going through `str` was most of attribution's cost.
fn octal(text: &[u8]) -> Option<u32> {
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |m, d| {
        (b'0'..=b'7')
            .contains(d)
            .then(|| m.checked_mul(8)?.checked_add(u32::from(d - b'0')))
            .flatten()
    })
}

/// Attributes `changes` to the commits of `target` that no merge-base in `bases` has
/// (`base..target` for one) that touched them.
pub fn attribute(
    repo: &Repository,
    objects: &mut Objects<'_>,
    history: &History<'_>,
    bases: &[Oid],
    target: Oid,
    changes: &[Change],
    max: usize,
) -> Result<Attribution> {
    let mut out = Attribution::default();
    if changes.is_empty() {
        return Ok(out);
    }
    let walk_err = |e| Error::git("cannot walk the commits of the range", e);
    let mut trees = Trees {
        objects,
        history,
        cache: HashMap::new(),
        commit_trees: HashMap::new(),
        entries: HashMap::new(),
    };
    // A branch without merges is a chain: walked by first parents, from the commit-graph
    // when it has them, instead of libgit2 parsing every commit of the range.
    let chain = match bases {
        [base] => trees.linear_range(*base, target, max),
        _ => None,
    };
    let range: Box<dyn Iterator<Item = Result<Oid>>> = match chain {
        Some(chain) => Box::new(chain.into_iter().map(Ok)),
        None => {
            let mut walk = repo.revwalk().map_err(walk_err)?;
            walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
                .map_err(walk_err)?;
            walk.push(target).map_err(walk_err)?;
            for base in bases {
                walk.hide(*base).map_err(walk_err)?;
            }
            Box::new(walk.map(move |r| r.map_err(walk_err)))
        }
    };
    for (n, oid) in range.enumerate() {
        if n >= max {
            out.truncated = true;
            break;
        }
        let oid = oid?;
        let header = trees.header(oid)?;
        trees.commit_trees.insert(oid, header.tree);
        let parent_trees = header
            .parents
            .iter()
            .map(|p| trees.commit_tree(*p))
            .collect::<Result<Vec<_>>>()?;
        let mut touched = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            let mut hit = false;
            for p in std::iter::once(&change.path).chain(change.old_path.as_ref()) {
                hit |= if parent_trees.is_empty() {
                    trees.differs(header.tree, None, p)?
                } else {
                    let mut all = true;
                    for pt in &parent_trees {
                        all &= trees.differs(header.tree, Some(*pt), p)?;
                    }
                    all
                };
            }
            if hit {
                touched.push(i);
            }
        }
        if !touched.is_empty() {
            let commit = repo
                .find_commit(oid)
                .map_err(|e| Error::git(format!("cannot read commit {oid}"), e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_is_from_str_radix_8() {
        for text in [
            "",
            "+",
            "-1",
            "0",
            "100644",
            "40000",
            "160000",
            "120000",
            "+755",
            "8",
            "12a",
            "777777777777",
            "37777777777",
            "40000000000",
            " 1",
            "01",
            "++1",
        ] {
            assert_eq!(
                octal(text.as_bytes()),
                u32::from_str_radix(text, 8).ok(),
                "{text:?}"
            );
        }
    }
}
