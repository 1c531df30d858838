//! Opening the repository, resolving revisions and refs, and finding merge-bases.
//!
//! git2 reports "not found" as an error; this module turns the expected not-found cases
//! into `Option`s or first-class outcomes ([`MergeBase::Unknown`]) at the boundary, so that
//! the rest of the engine never confuses "there is none" with "something broke".

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::history::History;
use crate::git::objects::Objects;

/// Opens the repository the way git would for a hook: honouring `GIT_DIR`,
/// `GIT_WORK_TREE` and `GIT_COMMON_DIR`, else discovering upwards from `cwd`.
pub fn open_from_env(cwd: &Path) -> Result<Repository> {
    Repository::open_from_env().map_err(|e| classify_open_error(cwd, e))
}

/// Opens the repository at (or above) `path`, without looking at the environment.
pub fn open_at(path: &Path) -> Result<Repository> {
    Repository::discover(path).map_err(|e| classify_open_error(path, e))
}

fn classify_open_error(path: &Path, e: git2::Error) -> Error {
    let path = path.to_path_buf();
    let msg = e.message().to_ascii_lowercase();
    if e.code() == ErrorCode::Owner || msg.contains("not owned by current user") {
        Error::Ownership {
            path,
            source: Box::new(e),
        }
    } else if msg.contains("unsupported extension") || msg.contains("unknown object format") {
        Error::UnsupportedExtension { path, source: e }
    } else if e.code() == ErrorCode::NotFound {
        Error::NotARepo { path, source: e }
    } else {
        Error::git(
            format!("cannot open the repository at {}", path.display()),
            e,
        )
    }
}

/// The work tree, or an error naming the command that needs one.
pub fn workdir<'r>(repo: &'r Repository, command: &'static str) -> Result<&'r Path> {
    repo.workdir().ok_or_else(|| Error::BareRepo {
        path: repo.path().to_path_buf(),
        command,
    })
}

/// True when a remote of that name is configured or has tracking refs.
pub fn remote_exists(repo: &Repository, name: &str) -> bool {
    if repo.find_remote(name).is_ok() {
        return true;
    }
    repo.references_glob(&format!("refs/remotes/{name}/*"))
        .map(|mut refs| refs.next().is_some())
        .unwrap_or(false)
}

/// The commit a ref points at, `None` when the ref does not exist.
pub fn peel_ref(repo: &Repository, name: &str) -> Result<Option<Oid>> {
    match repo.find_reference(name) {
        Ok(r) => r
            .peel_to_commit()
            .map(|c| Some(c.id()))
            .map_err(|e| Error::git(format!("{name} does not point at a commit"), e)),
        Err(e) if e.code() == ErrorCode::NotFound || e.code() == ErrorCode::InvalidSpec => Ok(None),
        Err(e) => Err(Error::git(format!("cannot read {name}"), e)),
    }
}

/// Resolves a revspec the way `git rev-parse REV^{commit}` would.
pub fn resolve_commit(repo: &Repository, spec: &str) -> Result<Oid> {
    let obj = repo
        .revparse_single(spec)
        .map_err(|source| Error::UnknownRevision {
            spec: spec.to_owned(),
            source,
        })?;
    obj.peel_to_commit()
        .map(|c| c.id())
        .map_err(|source| Error::UnknownRevision {
            spec: spec.to_owned(),
            source,
        })
}

/// Why there is no merge-base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoBase {
    /// The histories share no commit.
    UnrelatedHistory,
    /// The clone is shallow and the common history is cut off.
    Shallow,
    /// An object needed to walk history is missing (corrupt or partial clone).
    MissingObject,
    /// The base was found, but comparing with it would exceed one of dockguard's limits
    /// (a huge dockerfile or `.dockerignore`, a tree too deep): see [`crate::limits`].
    Limit,
}

impl NoBase {
    /// A sentence for humans.
    pub fn describe(self) -> &'static str {
        match self {
            NoBase::UnrelatedHistory => "the branch and upstream share no history",
            NoBase::Shallow => "the clone is shallow and the common history is cut off",
            NoBase::MissingObject => "an object needed to walk the history is missing",
            NoBase::Limit => "comparing with it would exceed one of dockguard's limits",
        }
    }
}

/// The outcome of looking for a merge-base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeBase {
    /// The best common ancestor.
    Found(Oid),
    /// None could be determined.
    Unknown {
        /// Why.
        reason: NoBase,
        /// libgit2's words, when it had any.
        detail: String,
    },
}

/// `git merge-base target upstream`, with "none" as an outcome rather than an error.
pub fn merge_base(
    history: &History<'_>,
    objects: &mut Objects<'_>,
    repo: &Repository,
    target: Oid,
    upstream: Oid,
) -> MergeBase {
    match merge_bases(history, objects, repo, target, upstream) {
        Ok(all) => MergeBase::Found(all[0]),
        Err(unknown) => unknown,
    }
}

/// `git merge-base --all target upstream`: every merge-base, git's choice first (never
/// empty), or why there is none.
pub fn merge_bases(
    history: &History<'_>,
    objects: &mut Objects<'_>,
    repo: &Repository,
    target: Oid,
    upstream: Oid,
) -> std::result::Result<Vec<Oid>, MergeBase> {
    match history.merge_bases(objects, target, upstream) {
        Ok(all) if !all.is_empty() => Ok(all),
        Ok(_) => Err(MergeBase::Unknown {
            reason: if repo.is_shallow() {
                NoBase::Shallow
            } else {
                NoBase::UnrelatedHistory
            },
            detail: "no common ancestor".into(),
        }),
        Err(e) => Err(MergeBase::Unknown {
            reason: NoBase::MissingObject,
            detail: e.to_string(),
        }),
    }
}

/// The repository's displayable location (the work tree, else the git dir).
pub fn display_path(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}
