//! Object access for the engine's hot paths: pack files first ([`crate::git::pack`]), libgit2
//! for everything else (loose objects, alternates, unusual packs).
//!
//! Both sources give the same bytes; the pack reader is only faster and leaner, so any
//! object it cannot read is simply read by libgit2.

use std::rc::Rc;
use std::sync::Arc;

use git2::{ObjectType, Oid, Repository};

use crate::git::pack::{parse_header, CommitHeader, PackReader, PackSet};

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
    packs: Option<PackReader>,
    odb: Option<git2::Odb<'r>>,
}

impl std::fmt::Debug for Objects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("packs", &self.packs)
            .finish_non_exhaustive()
    }
}

impl<'r> Objects<'r> {
    /// Object access for `repo`; packs are mapped on first use.
    pub fn new(repo: &'r Repository) -> Self {
        Objects {
            repo,
            packs: None,
            odb: None,
        }
    }

    /// The mapped packs, to give another thread its own [`PackReader`].
    pub fn pack_set(&mut self) -> Arc<PackSet> {
        self.packs().set()
    }

    fn packs(&mut self) -> &mut PackReader {
        let repo = self.repo;
        self.packs.get_or_insert_with(|| {
            PackReader::new(PackSet::open(&repo.commondir().join("objects")))
        })
    }

    fn odb(&mut self) -> Result<&git2::Odb<'r>, ObjectError> {
        if self.odb.is_none() {
            self.odb = Some(self.repo.odb()?);
        }
        self.odb
            .as_ref()
            .ok_or_else(|| ObjectError::Malformed("the object database is unavailable".into()))
    }

    /// (served from packs, left to libgit2) so far; for tests and diagnostics.
    pub fn pack_stats(&self) -> (usize, usize) {
        self.packs.as_ref().map_or((0, 0), PackReader::stats)
    }

    /// A commit's tree, parents and committer time.
    pub fn commit_header(&mut self, oid: Oid) -> Result<CommitHeader, ObjectError> {
        if let Some(found) = self.packs().commit_header(&oid) {
            return Ok(found);
        }
        let obj = self.odb()?.read(oid)?;
        if obj.kind() != ObjectType::Commit {
            return Err(ObjectError::Malformed(format!("{oid} is not a commit")));
        }
        parse_header(obj.data())
            .ok_or_else(|| ObjectError::Malformed(format!("commit {oid} is malformed")))
    }

    /// A tree's raw bytes.
    pub fn tree(&mut self, oid: Oid) -> Result<Rc<Vec<u8>>, ObjectError> {
        if let Some(found) = self.packs().tree(&oid) {
            return Ok(found);
        }
        let obj = self.odb()?.read(oid)?;
        if obj.kind() != ObjectType::Tree {
            return Err(ObjectError::Malformed(format!("{oid} is not a tree")));
        }
        Ok(Rc::new(obj.data().to_vec()))
    }
}
