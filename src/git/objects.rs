//! Object access for the engine's hot paths: commit headers for history walks outside
//! the commit-graph, and raw trees for the tree diff, read through libgit2's object
//! database (with its object cache, which many short walks of a multi-ref push reuse).
//!
//! An own pack reader used to sit in front of libgit2 here. Measured on QEMU's history
//! (`bench/qemu.sh`) it was no faster with a commit-graph, several times slower on a
//! 1000-ref push without one (no object cache), only 9% faster on a 43k-commit walk
//! without a graph, and it mapped the packs a second time (up to 30 MB more resident).

use std::rc::Rc;

use git2::{ObjectType, Oid, Repository};

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// libgit2 could not read it (missing, unreadable).
    #[error("{}", .0.message())]
    Git(#[from] git2::Error),
    /// It is not what it must be (wrong type, does not parse): dockguard's finding.
    #[error("{0}")]
    Malformed(String),
}

/// Reads commits and trees for one thread.
pub struct Objects<'r> {
    repo: &'r Repository,
    odb: Option<git2::Odb<'r>>,
}

impl std::fmt::Debug for Objects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").finish_non_exhaustive()
    }
}

impl<'r> Objects<'r> {
    /// Object access for `repo`; the object database is opened on first use.
    pub fn new(repo: &'r Repository) -> Self {
        Objects { repo, odb: None }
    }

    /// The repository read from.
    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    fn odb(&mut self) -> Result<&git2::Odb<'r>, ObjectError> {
        if self.odb.is_none() {
            self.odb = Some(self.repo.odb()?);
        }
        self.odb
            .as_ref()
            .ok_or_else(|| ObjectError::Malformed("the object database is unavailable".into()))
    }

    /// A commit's tree, parents and committer time.
    pub fn commit_header(&mut self, oid: Oid) -> Result<CommitHeader, ObjectError> {
        let obj = self.odb()?.read(oid)?;
        if obj.kind() != ObjectType::Commit {
            return Err(ObjectError::Malformed(format!("{oid} is not a commit")));
        }
        parse_header(obj.data())
            .ok_or_else(|| ObjectError::Malformed(format!("commit {oid} is malformed")))
    }

    /// A tree's raw bytes.
    pub fn tree(&mut self, oid: Oid) -> Result<Rc<Vec<u8>>, ObjectError> {
        let obj = self.odb()?.read(oid)?;
        if obj.kind() != ObjectType::Tree {
            return Err(ObjectError::Malformed(format!("{oid} is not a tree")));
        }
        Ok(Rc::new(obj.data().to_vec()))
    }
}

/// What a history walk needs of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHeader {
    /// Its tree.
    pub tree: Oid,
    /// Its parents, in order.
    pub parents: Vec<Oid>,
    /// Committer time, seconds since the epoch.
    pub time: i64,
}

/// The header through the committer line, once that much is present.
pub fn parse_header(data: &[u8]) -> Option<CommitHeader> {
    let mut parents = Vec::new();
    let mut tree = None;
    let mut rest = data;
    loop {
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        if line.is_empty() {
            return None; // header ended without a committer line
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Some(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(c) = line.strip_prefix(b"committer ") {
            // "Name <email> TIME TZ": the time is the second field from the right.
            let mut fields = c.rsplit(|b| *b == b' ');
            let _tz = fields.next()?;
            let time = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
            return Some(CommitHeader {
                tree: tree?,
                parents,
                time,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_header_parse() {
        let c = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 1111111111111111111111111111111111111111\nauthor A <a@b> 1 +0000\ncommitter C <c@d> 1700000000 +0100\n\nmsg\n";
        let h = parse_header(c).expect("parsed");
        assert_eq!(h.parents.len(), 1);
        assert_eq!(h.time, 1_700_000_000);
        assert_eq!(
            h.tree.to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(parse_header(b"tree x\n\nmsg"), None);
    }
}
