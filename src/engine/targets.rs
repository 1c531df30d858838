//! Targets: the commits that will become current somewhere, with a label for messages.
//!
//! `check` builds them from revspecs; the hook from git's pre-push stdin; CI from its
//! environment. Whatever the source, the engine judges a [`Target`] the same way.

use git2::{Oid, Repository};

use crate::error::Result;
use crate::git::repo::resolve_commit;

/// A commit to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How messages name it (`HEAD`, `refs/heads/feature`, `v1.0`).
    pub label: String,
    /// The commit.
    pub oid: Oid,
}

/// Resolves revspecs (default `HEAD`) to targets, in order, failing on the first unknown.
pub fn from_revspecs(repo: &Repository, specs: &[String]) -> Result<Vec<Target>> {
    let default = ["HEAD".to_owned()];
    let specs = if specs.is_empty() {
        &default[..]
    } else {
        specs
    };
    specs
        .iter()
        .map(|spec| {
            Ok(Target {
                label: spec.clone(),
                oid: resolve_commit(repo, spec)?,
            })
        })
        .collect()
}
