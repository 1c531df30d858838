//! Upstream: the branch that counts as "master", resolved once per run.
//!
//! A guess that may be wrong says so where the upstream is shown (`chosen_by`, printed by
//! `check` and the hook) with the command that settles it: a fork's `origin` used while
//! another remote (`qemu`) is probably upstream, or a `master` left behind after the
//! upstream moved to `main`. Guessing silently would compare with the wrong branch on
//! every push.

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
    let others = other_remotes(repo, remote);
    match resolve_remote(repo, remote, &mut tried, how) {
        Some(mut up) => {
            if let Some((name, branch)) = others.first() {
                up.chosen_by.push_str(&format!(
                    "; note: there is no remote `upstream`, and the remote `{name}` is not \
                     compared with; if it is upstream: `git config dockguard.upstream {name}/{branch}`"
                ));
            }
            Ok(up)
        }
        None => Err(Error::NoUpstream { tried, others }),
    }
}

/// Remotes other than `used` (and `upstream`/`origin`) that have a fetched default branch:
/// `(remote, branch)`, for the note that they exist and the setting that picks one.
fn other_remotes(repo: &Repository, used: &str) -> Vec<(String, String)> {
    let Ok(names) = repo.remotes() else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|n| n.ok().flatten())
        .filter(|n| *n != used && *n != "upstream" && *n != "origin")
        .filter(|n| git2::Remote::is_valid_name(n) && !n.starts_with('-'))
        .filter_map(|n| {
            let mut tried = Vec::new();
            let up = resolve_remote(repo, n, &mut tried, String::new())?;
            let prefix = format!("refs/remotes/{n}/");
            let branch = up.refname.strip_prefix(&prefix)?.to_owned();
            Some((n.to_owned(), branch))
        })
        .collect()
}

fn resolve_remote(
    repo: &Repository,
    remote: &str,
    tried: &mut Vec<String>,
    how: String,
) -> Option<Upstream> {
    let mut up = find_remote_branch(repo, remote, tried, how)?;
    if let Some(note) = left_behind(repo, remote, &up) {
        up.chosen_by.push_str(&note);
    }
    Some(up)
}

/// `master` chosen while the remote's `main` contains it and is ahead (or the other way
/// round): the upstream probably moved to the other branch and this one was left behind
/// (a fetch neither deletes it nor moves the remote's `HEAD`).
fn left_behind(repo: &Repository, remote: &str, up: &Upstream) -> Option<String> {
    let prefix = format!("refs/remotes/{remote}/");
    let branch = up.refname.strip_prefix(&prefix)?;
    let other = match branch {
        "master" => "main",
        "main" => "master",
        _ => return None,
    };
    let other_oid = peel_ref(repo, &format!("{prefix}{other}")).ok()??;
    let ahead = other_oid != up.oid && repo.graph_descendant_of(other_oid, up.oid).ok()?;
    ahead.then(|| {
        format!(
            "; warning: `{remote}/{other}` contains `{remote}/{branch}` and is ahead of it, so the \
             upstream may have moved to `{other}`; if so: `git remote set-head {remote} --auto`"
        )
    })
}

fn find_remote_branch(
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
