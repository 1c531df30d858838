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
//! pushed commit is judged against its merge-base with upstream like any other.
//!
//! pre-commit passes only the first ref of a multi-ref push that has new commits, so the
//! others are recovered the way `dockguard push` plans a push: from the `git push`
//! command line ([`super::find_own_push`]) and `git push --dry-run --porcelain` of the
//! same arguments, which lists every update git is about to make. When that cannot be
//! done, the hook does not pass on the one ref it was given: it cannot decide, and says
//! why (exit 2, or `on_error = allow`). The recovered updates become git's pre-push
//! protocol lines and go through the same hook. (When every pushed commit is already on
//! a remote-tracking ref, pre-commit runs no hook at all; nothing run by pre-commit can
//! see such a push: `dockguard install --force` runs dockguard's own hook before
//! pre-commit's, and `dockguard ci` catches it in the pipeline.)

use git2::{ObjectType, Oid, Repository};

use crate::cli::{HookOutput, PrePushArgs};
use crate::error::{Error, Result};
use crate::hook::stdin::parse_pre_push;
use crate::hook::truthy;
use crate::push::{dry_run, PorcelainRef};
use crate::Env;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// What the hook judges under pre-commit.
#[derive(Debug)]
pub struct FromPreCommit {
    /// The hook's arguments.
    pub args: PrePushArgs,
    /// Pre-push protocol lines for every update of the push.
    pub input: Vec<u8>,
    /// What is worth saying about how they were found.
    pub notes: Vec<String>,
}

/// The hook's arguments and pre-push stdin lines for every update of the running push:
/// the ref pre-commit passes in its variables, and the others recovered from git.
pub fn from_env(repo: &Repository, env: &Env, output: HookOutput) -> Result<FromPreCommit> {
    let (args, line) = one_ref(repo, env, output)?;
    if truthy(env.get("DOCKGUARD_SKIP")) {
        // The hook says it skips; nothing to recover.
        return Ok(FromPreCommit {
            args,
            input: line,
            notes: Vec::new(),
        });
    }
    let given = parse_pre_push(&line).map_err(|e| Error::internal(e.to_string()))?;
    let given = given
        .first()
        .ok_or_else(|| Error::internal("no pre-push line made from pre-commit's variables"))?;
    let cannot = |why: String| Error::Hinted {
        message: format!(
            "under pre-commit, dockguard is given only one of the refs this push updates ({}), \
             and cannot tell which others it updates: {why}",
            given.remote_ref
        ),
        hint: "push with `dockguard push …` (it judges every ref itself), or run dockguard's own \
               hook, which sees every ref: `dockguard install --force` (it runs before \
               pre-commit's); to push this once without the check: DOCKGUARD_SKIP=1 git push …"
            .into(),
    };
    let push = super::find_own_push(repo).map_err(|why| {
        cannot(format!(
            "the `git push` command line cannot be read ({why})"
        ))
    })?;
    let planned = dry_run(repo, env, &push.args)?;
    if planned.refs.is_empty() && !planned.status.success() {
        let stderr = String::from_utf8_lossy(&planned.stderr);
        return Err(cannot(format!(
            "`git push --dry-run` of the same arguments failed: {}",
            crate::render::outputs::one_line(stderr.trim())
        )));
    }
    let mut input = Vec::new();
    let mut listed_given = false;
    let mut count = 0;
    for r in &planned.refs {
        let Some(l) = protocol_line(repo, &args.remote, r) else {
            continue;
        };
        listed_given |= r.to == given.remote_ref;
        count += 1;
        input.extend_from_slice(l.as_bytes());
    }
    if !listed_given {
        // git's dry run and pre-commit disagree (a race, or a ref it spells differently):
        // judge pre-commit's ref as well.
        input.extend_from_slice(&line);
        count += 1;
    }
    let notes = if count > 1 {
        vec![format!(
            "pre-commit passes only {}; judging all {count} refs this push updates (from `git push --dry-run`)",
            given.remote_ref
        )]
    } else {
        Vec::new()
    };
    Ok(FromPreCommit { args, input, notes })
}

/// One dry-run update as a pre-push protocol line; `None` for what git will not push
/// (up to date, rejected) or what cannot be resolved here.
fn protocol_line(repo: &Repository, remote: &str, r: &PorcelainRef) -> Option<String> {
    let tracked = || {
        r.to.strip_prefix("refs/heads/")
            .and_then(|b| {
                repo.refname_to_id(&format!("refs/remotes/{remote}/{b}"))
                    .ok()
            })
            .map(|o| o.to_string())
    };
    match r.flag {
        '-' => Some(format!(
            "(delete) {ZERO} {} {}\n",
            r.to,
            tracked().unwrap_or_else(|| ZERO.to_owned())
        )),
        ' ' | '+' | '*' => {
            let local = repo.revparse_single(&r.from).ok()?.id();
            let old = match r.flag {
                '*' => ZERO.to_owned(),
                _ => r
                    .old_oid()
                    .map(str::to_ascii_lowercase)
                    .or_else(tracked)
                    .unwrap_or_else(|| ZERO.to_owned()),
            };
            let from = if r.from.contains(char::is_whitespace) || r.from.is_empty() {
                local.to_string()
            } else {
                r.from.clone()
            };
            Some(format!("{from} {local} {} {old}\n", r.to))
        }
        _ => None,
    }
}

/// The one ref pre-commit passes, as the hook's arguments and a pre-push stdin line.
fn one_ref(repo: &Repository, env: &Env, output: HookOutput) -> Result<(PrePushArgs, Vec<u8>)> {
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
