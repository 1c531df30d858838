//! Upstream: the branch that counts as "master", resolved once per run.

use git2::{Oid, Repository};
use serde::Serialize;

use crate::config::Origin;
use crate::error::{Error, Result};
use crate::git::repo::{peel_ref, remote_exists};

/// The branch that counts as "master".
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Upstream {
    /// Full ref name, e.g. `refs/remotes/upstream/master`.
    #[serde(rename = "ref")]
    pub refname: String,
    /// The commit it points at.
    #[serde(serialize_with = "crate::git::ser_oid")]
    pub oid: Oid,
    /// How it was chosen, for messages (`remote upstream's HEAD`, `flag --upstream`).
    pub chosen_by: String,
}

/// Resolves the upstream: the configured value when there is one, else the remote
/// `upstream` if it exists, else `origin`; the branch from the remote's `HEAD` symref,
/// else `master`, else `main`.
pub fn resolve_upstream(repo: &Repository, configured: Option<(&str, Origin)>) -> Result<Upstream> {
    let mut tried = Vec::new();
    if let Some((spec, origin)) = configured {
        let candidates: Vec<String> = if spec.starts_with("refs/") {
            vec![spec.to_owned()]
        } else if remote_exists(repo, spec) {
            return resolve_remote(repo, spec, &mut tried, origin.to_string()).ok_or_else(|| {
                Error::UpstreamNotFound {
                    spec: spec.to_owned(),
                    origin: origin.to_string(),
                    tried,
                }
            });
        } else {
            vec![format!("refs/remotes/{spec}"), format!("refs/heads/{spec}")]
        };
        for c in candidates {
            if let Some(oid) = peel_ref(repo, &c)? {
                return Ok(Upstream {
                    refname: c,
                    oid,
                    chosen_by: origin.to_string(),
                });
            }
            tried.push(c);
        }
        return Err(Error::UpstreamNotFound {
            spec: spec.to_owned(),
            origin: origin.to_string(),
            tried,
        });
    }
    let remote = if remote_exists(repo, "upstream") {
        "upstream"
    } else {
        "origin"
    };
    let how = format!("remote `{remote}`");
    resolve_remote(repo, remote, &mut tried, how).ok_or(Error::NoUpstream { tried })
}

fn resolve_remote(
    repo: &Repository,
    remote: &str,
    tried: &mut Vec<String>,
    how: String,
) -> Option<Upstream> {
    let head = format!("refs/remotes/{remote}/HEAD");
    if let Ok(r) = repo.find_reference(&head) {
        if let Ok(Some(target)) = r.symbolic_target() {
            let target = target.to_owned();
            if let Ok(Some(oid)) = peel_ref(repo, &target) {
                return Some(Upstream {
                    refname: target,
                    oid,
                    chosen_by: format!("{how}'s HEAD"),
                });
            }
        }
    }
    tried.push(head);
    for branch in ["master", "main"] {
        let name = format!("refs/remotes/{remote}/{branch}");
        if let Ok(Some(oid)) = peel_ref(repo, &name) {
            return Some(Upstream {
                refname: name,
                oid,
                chosen_by: how,
            });
        }
        tried.push(name);
    }
    None
}
