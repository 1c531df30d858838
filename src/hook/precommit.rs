//! `dockguard hook pre-commit`: the pre-push hook as the pre-commit framework runs it.
//!
//! pre-commit (pre-commit.com) installs its own `.git/hooks/pre-push`, reads git's stdin
//! itself and runs each configured hook without it, passing *one* pushed ref in variables
//! (pre-commit 4.0 `commands/hook_impl.py` and `commands/run.py`):
//! - `PRE_COMMIT_TO_REF`: the commit pushed; `PRE_COMMIT_FROM_REF`: what the remote had,
//!   or for a new branch the parent of the first commit no remote-tracking ref has. Both
//!   are absent when the push includes a root commit (pre-commit's "all files" case);
//! - `PRE_COMMIT_LOCAL_BRANCH` / `PRE_COMMIT_REMOTE_BRANCH` / `PRE_COMMIT_REMOTE_NAME` /
//!   `PRE_COMMIT_REMOTE_URL`: set together.
//!
//! FROM_REF is exactly the narrow "new commits only" range dockguard exists to avoid, so
//! it only serves as the remote's old value (for `--force-with-lease` in messages); the
//! pushed commit is judged against its merge-base with upstream like any other. The
//! variables become one line of git's pre-push protocol and go through the same hook.
//! pre-commit passes only the first ref of a multi-ref push that has new commits (and
//! none when every pushed commit is already on a remote-tracking ref): that is its
//! limitation, documented in the README, and the reason the plain hook stays the default.

use git2::{ObjectType, Oid, Repository};

use crate::cli::{HookOutput, PrePushArgs};
use crate::error::{Error, Result};
use crate::Env;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// The hook's arguments and a synthesized pre-push stdin line from pre-commit's variables.
pub fn from_env(
    repo: &Repository,
    env: &Env,
    output: HookOutput,
) -> Result<(PrePushArgs, Vec<u8>)> {
    let var = |name: &str| env.get(name).map(str::trim).filter(|v| !v.is_empty());
    let to_ref = var("PRE_COMMIT_TO_REF");
    let local = var("PRE_COMMIT_LOCAL_BRANCH");
    if to_ref.is_none() && local.is_none() {
        return Err(Error::Hinted {
            message: "`dockguard hook pre-commit` found neither PRE_COMMIT_TO_REF nor PRE_COMMIT_LOCAL_BRANCH in its environment".into(),
            hint: "it is meant to run from pre-commit's pre-push stage (`stages: [pre-push]`, then `pre-commit install --hook-type pre-push`); to judge HEAD by hand use `dockguard check`".into(),
        });
    }
    let remote = var("PRE_COMMIT_REMOTE_NAME").unwrap_or("origin").to_owned();
    let url = var("PRE_COMMIT_REMOTE_URL").unwrap_or(&remote).to_owned();
    let local_oid = match to_ref {
        Some(t) => resolve(repo, t, "PRE_COMMIT_TO_REF")?,
        // The push includes a root commit: the local ref still points at what is pushed.
        None => resolve(repo, local.unwrap_or("HEAD"), "PRE_COMMIT_LOCAL_BRANCH")?,
    };
    let local_ref = local.unwrap_or("HEAD").to_owned();
    let remote_ref = var("PRE_COMMIT_REMOTE_BRANCH")
        .map(str::to_owned)
        .unwrap_or_else(|| local_ref.clone());
    let remote_oid = remote_old_value(repo, var("PRE_COMMIT_FROM_REF"), &remote, &remote_ref);
    let line = format!("{local_ref} {local_oid} {remote_ref} {remote_oid}\n");
    let args = PrePushArgs {
        remote,
        url,
        installed_hook: None,
        output,
    };
    Ok((args, line.into_bytes()))
}

fn resolve(repo: &Repository, spec: &str, var: &str) -> Result<Oid> {
    repo.revparse_single(spec)
        .and_then(|o| o.peel(ObjectType::Commit))
        .map(|c| c.id())
        .map_err(|e| Error::Hinted {
            message: format!("{var}={spec} does not name a commit in this repository: {}", e.message()),
            hint: "pre-commit sets it from git's pre-push input; is GIT_DIR pointing at another repository?".into(),
        })
}

/// What the remote ref pointed at, as far as can be told: FROM_REF when a remote-tracking
/// ref for it exists (pre-commit then passes the remote's value), else "new" (pre-commit
/// passes the parent of the first new commit, which the remote ref never held). Only
/// leases in printed commands and `policy = repush` use it; a wrong guess makes a lease
/// fail, never overwrite.
fn remote_old_value(
    repo: &Repository,
    from: Option<&str>,
    remote: &str,
    remote_ref: &str,
) -> String {
    let Some(from) = from.filter(|f| f.len() == 40 && f.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return ZERO.to_owned();
    };
    let tracking = remote_ref
        .strip_prefix("refs/heads/")
        .map(|b| format!("refs/remotes/{remote}/{b}"));
    let tracked = tracking.is_some_and(|t| repo.find_reference(&t).is_ok());
    if tracked {
        from.to_ascii_lowercase()
    } else {
        ZERO.to_owned()
    }
}
