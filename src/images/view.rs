//! Looking things up in one tree by path, for what the image graph needs beyond the
//! dockerfile walk: whether a COPY source exists in a context, where a symlink points,
//! which submodules lie on a source's path. Directory listings are cached per tree id
//! in the [`Catalog`], so the merge-base's and the tip's lookups share unchanged
//! subtrees; only symlink blobs (a path each) are ever read.

use std::sync::Arc;

use git2::{Oid, Repository};

use crate::error::{Error, Result};

use super::Catalog;

/// git's modes for the entries that matter here.
pub(crate) const MODE_TREE: u32 = 0o40000;
pub(crate) const MODE_LINK: u32 = 0o120000;
pub(crate) const MODE_GITLINK: u32 = 0o160000;

/// The longest symlink target read (Linux's PATH_MAX); a longer "link" is not followed.
const MAX_LINK: usize = 4096;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// The entry's name.
    pub name: Vec<u8>,
    /// Its git mode.
    pub mode: u32,
    /// Its object id.
    pub oid: Oid,
}

/// A directory listing, cached by tree id.
pub(crate) type Listing = Arc<Vec<Node>>;

/// Path lookups in the tree `root`.
pub(crate) struct TreeView<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) repo: &'a Repository,
    pub(crate) root: Oid,
}

impl std::fmt::Debug for TreeView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeView")
            .field("root", &self.root)
            .finish()
    }
}

impl TreeView<'_> {
    /// The entries of tree `tree`.
    pub(crate) fn list(&self, tree: Oid) -> Result<Listing> {
        if let Some(l) = self.catalog.listings.borrow().get(&tree) {
            return Ok(Arc::clone(l));
        }
        let data = self.catalog.raw(self.repo, tree, git2::ObjectType::Tree)?;
        let mut out = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let (e, next) = crate::engine::changes::parse_entry(rest).ok_or_else(|| {
                Error::Corrupt(format!("tree {tree} is malformed: an entry does not parse"))
            })?;
            out.push(Node {
                name: e.name.to_vec(),
                mode: e.mode,
                oid: e.oid()?,
            });
            rest = next;
        }
        let out = Arc::new(out);
        let mut cache = self.catalog.listings.borrow_mut();
        if cache.len() > 50_000 {
            cache.clear();
        }
        cache.insert(tree, Arc::clone(&out));
        Ok(out)
    }

    /// The entry at `path` (repository-relative, `/`-separated, no symlinks followed):
    /// `(mode, id)`; the root for the empty path; `None` when there is none.
    pub(crate) fn entry(&self, path: &[u8]) -> Result<Option<(u32, Oid)>> {
        let mut here = (MODE_TREE, self.root);
        if path.is_empty() {
            return Ok(Some(here));
        }
        for comp in path.split(|b| *b == b'/') {
            if here.0 != MODE_TREE {
                return Ok(None);
            }
            let list = self.list(here.1)?;
            match list.iter().find(|n| n.name == comp) {
                Some(n) => here = (n.mode, n.oid),
                None => return Ok(None),
            }
        }
        Ok(Some(here))
    }

    /// The tree at `path`, if `path` is a directory.
    pub(crate) fn dir(&self, path: &[u8]) -> Result<Option<Oid>> {
        Ok(self
            .entry(path)?
            .and_then(|(m, o)| (m == MODE_TREE).then_some(o)))
    }

    /// A symlink's target text; `None` when it is too long or not text a path can be.
    pub(crate) fn link_target(&self, oid: Oid) -> Result<Option<String>> {
        let blob = self.catalog.raw(self.repo, oid, git2::ObjectType::Blob)?;
        if blob.len() > MAX_LINK || blob.contains(&0) {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&blob).into_owned()))
    }

    /// Calls `f(path relative to dir, mode, id)` for every non-tree entry below the
    /// directory `dir`, stopping early when `f` returns false or after `cap` entries;
    /// returns whether the walk completed.
    pub(crate) fn leaves(
        &self,
        dir: &[u8],
        cap: usize,
        f: &mut dyn FnMut(&[u8], u32, Oid) -> bool,
    ) -> Result<bool> {
        let Some(tree) = self.dir(dir)? else {
            return Ok(true);
        };
        let mut seen = 0usize;
        let mut prefix = Vec::new();
        self.walk(tree, &mut prefix, cap, &mut seen, f)
    }

    fn walk(
        &self,
        tree: Oid,
        prefix: &mut Vec<u8>,
        cap: usize,
        seen: &mut usize,
        f: &mut dyn FnMut(&[u8], u32, Oid) -> bool,
    ) -> Result<bool> {
        let list = self.list(tree)?;
        for n in list.iter() {
            *seen += 1;
            if *seen > cap {
                return Ok(false);
            }
            let saved = prefix.len();
            if saved > 0 {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(&n.name);
            let go_on = if n.mode == MODE_TREE {
                self.walk(n.oid, prefix, cap, seen, f)?
            } else {
                f(prefix, n.mode, n.oid)
            };
            prefix.truncate(saved);
            if !go_on {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `a/b` + `c` -> `a/b/c`; either may be empty.
pub(crate) fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_vec(),
        (_, true) => a.to_vec(),
        _ => {
            let mut out = a.to_vec();
            out.push(b'/');
            out.extend_from_slice(b);
            out
        }
    }
}

/// The directory part of a path (empty at the root).
pub(crate) fn parent(path: &[u8]) -> &[u8] {
    path.iter()
        .rposition(|b| *b == b'/')
        .map_or(&path[..0], |i| &path[..i])
}
