//! Which upstream `dockguard ci` compares with: where to fetch it from and which branch.
//!
//! The job's environment is partly written by whoever pushed (pipeline variables set by
//! `git push -o ci.variable=…` can override the CI's own), so what it says is checked
//! against what the servers and the repository say wherever it decides the comparison:
//! - a fetch URL from the environment (a fork MR's target project) is used only when it is
//!   on the same server as the clone's `origin` (scheme, host and port, parsed: see
//!   [`remote`]); configured URLs come from flags or git config;
//! - the default branch is the upstream server's `HEAD`; `CI_DEFAULT_BRANCH` / the event's
//!   default branch only when the server does not say;
//! - "this pipeline runs on the upstream branch itself" (compare with the previous tip) is
//!   believed only when the upstream server's branch points at the judged commit, or has
//!   moved on from it (a later push, a queued or retried job): then `dockguard ci` fetches
//!   the branch and believes it only when the judged commit is in its history
//!   ([`UpstreamPlan::moved_on`]). Otherwise a dockerfile change pushed to master whose job
//!   ran after the next push would be compared with itself and never rebuilt;
//! - a fork's own default branch (upstream configured elsewhere, the pipeline on origin's
//!   `HEAD` branch, a previous tip given) is judged like upstream's: what the push brought
//!   to it, since the fork's registry is what its jobs use ([`fork_default_branch`]).

use git2::{Oid, Repository};

use super::fetch::{self, Source};
use super::provider::{CiContext, PipelineKind};
use super::remote;
use crate::config::CiSettings;
use crate::error::{Error, Result};
use crate::git::repo::remote_exists;
use crate::render::outputs::one_line;

/// Where upstream comes from and what is compared.
#[derive(Debug, Clone)]
pub struct UpstreamPlan {
    /// Where it is fetched from.
    pub source: Source,
    /// The upstream branch (short name).
    pub branch: String,
    /// The pipeline runs on the upstream branch itself (checked with the server).
    pub on_upstream: bool,
    /// The CI says the pipeline runs on the upstream branch, but the server's branch is
    /// another commit (its tip here): the branch may have moved on since. Whether the
    /// judged commit is in its history is for the caller to find out by fetching it.
    pub moved_on: Option<Oid>,
    /// A fork's own default branch is compared with (see [`fork_default_branch`]): the
    /// plan to use instead if the branch turns out not to contain the commit.
    pub otherwise: Option<Box<UpstreamPlan>>,
}

/// Works out the upstream: source, branch, and whether the pipeline is on it.
pub fn upstream_plan(
    repo: &Repository,
    settings: &CiSettings,
    ctx: &CiContext,
    target: Oid,
    log: &mut dyn FnMut(&str),
) -> Result<UpstreamPlan> {
    let configured_url = settings.upstream_url.as_ref().map(|u| u.value.clone());
    let env_url = ctx
        .target_project_url
        .as_deref()
        .and_then(|u| on_origins_server(repo, u, log));
    let source = match (&configured_url, &env_url) {
        (Some(u), _) if remote_exists(repo, u) => Source::remote(u),
        (Some(u), _) => {
            remote::validate_remote(u)?;
            Source::url(u)
        }
        (None, Some(u)) => {
            remote::validate_remote(u)?;
            Source::url(u)
        }
        (None, None) if remote_exists(repo, "upstream") => Source::remote("upstream"),
        (None, None) if remote_exists(repo, "origin") => Source::remote("origin"),
        (None, None) => {
            return Err(Error::Ci {
                context: "no remote to fetch the upstream branch from (no `upstream`, no `origin`)"
                    .into(),
                source: None,
                hint: "pass --upstream-url URL (or `git config dockguard.ci.upstream-url URL`)"
                    .into(),
            })
        }
    };
    let other_project = configured_url.is_some() || env_url.is_some();
    let branch = branch(repo, settings, ctx, &source, log)?;
    let claims_upstream = !other_project
        && matches!(
            ctx.kind,
            PipelineKind::Branch | PipelineKind::NewBranch | PipelineKind::Manual
        );
    let mut plan = UpstreamPlan {
        source,
        branch,
        on_upstream: false,
        moved_on: None,
        otherwise: None,
    };
    if claims_upstream && ctx.ref_name.as_deref() == Some(plan.branch.as_str()) {
        check_on_branch(repo, &mut plan, target);
        if !plan.on_upstream && plan.moved_on.is_none() {
            not_on_branch(&plan, ctx, log);
        }
    }
    if configured_url.is_some() {
        if let Some(mut own) = fork_default_branch(repo, ctx, target, log) {
            own.otherwise = Some(Box::new(plan));
            return Ok(own);
        }
    }
    Ok(plan)
}

/// Sets `on_upstream` when the server's branch is the target, `moved_on` when it is
/// another commit (whether the target is in its history is found out by fetching).
fn check_on_branch(repo: &Repository, plan: &mut UpstreamPlan, target: Oid) {
    match server_tip(repo, plan) {
        Some(tip) if tip == target => plan.on_upstream = true,
        tip => plan.moved_on = tip,
    }
}

/// A fork (upstream configured elsewhere) whose pipeline runs on its own default branch,
/// pushed onto an earlier tip: the images its jobs use come from its own registry, which
/// its default branch's pipelines built. Compared with upstream, a sync that brings an
/// upstream dockerfile change differs in nothing, and the fork's images would never be
/// refreshed; so what is judged is what the push brought to the fork's branch (its
/// previous tip, as for upstream's own default branch). A first push (no previous tip)
/// is still compared with upstream.
fn fork_default_branch(
    repo: &Repository,
    ctx: &CiContext,
    target: Oid,
    log: &mut dyn FnMut(&str),
) -> Option<UpstreamPlan> {
    if !matches!(ctx.kind, PipelineKind::Branch | PipelineKind::Manual) {
        return None;
    }
    let before = ctx
        .before_sha
        .as_deref()
        .and_then(|b| Oid::from_str(b).ok());
    if before.is_none_or(|b| b.is_zero() || b == target) || !remote_exists(repo, "origin") {
        return None;
    }
    let source = Source::remote("origin");
    let branch = fetch::remote_head(repo.path(), &source)?;
    if ctx.ref_name.as_deref() != Some(branch.as_str()) {
        return None;
    }
    let mut own = UpstreamPlan {
        source,
        branch,
        on_upstream: false,
        moved_on: None,
        otherwise: None,
    };
    check_on_branch(repo, &mut own, target);
    if !own.on_upstream && own.moved_on.is_none() {
        return None;
    }
    log(&format!(
        "dockguard: this pipeline runs on the fork's own default branch `{}`, whose registry its \
         jobs use: judging what this push brought to it, not the difference from upstream",
        one_line(&own.branch)
    ));
    Some(own)
}

fn branch(
    repo: &Repository,
    settings: &CiSettings,
    ctx: &CiContext,
    source: &Source,
    log: &mut dyn FnMut(&str),
) -> Result<String> {
    let (branch, origin) = if let Some(b) = &settings.upstream_branch {
        (Some(b.value.clone()), b.origin.to_string())
    } else if let Some(b) = ctx
        .target_branch
        .clone()
        .filter(|_| ctx.kind == PipelineKind::MergeRequest)
    {
        (Some(b), "the merge request's target branch".to_owned())
    } else if let Some(b) = fetch::remote_head(repo.path(), source) {
        if let Some(d) = ctx.default_branch.as_deref().filter(|d| *d != b) {
            log(&format!(
                "dockguard: note: the CI says the default branch is `{}`, but {} says `{b}`; using `{b}`",
                one_line(d),
                source.display
            ));
        }
        (Some(b), format!("{}'s HEAD", source.display))
    } else {
        (
            ctx.default_branch.clone(),
            "the CI's default branch".to_owned(),
        )
    };
    let branch = branch.ok_or_else(|| Error::Ci {
        context: format!(
            "cannot tell which branch of {} is upstream (no MR/PR target, no HEAD, no default branch)",
            source.display
        ),
        source: None,
        hint: "pass --upstream-branch BRANCH (e.g. master), or set ci.upstream_branch \
               (`git config dockguard.ci.upstream-branch BRANCH`)"
            .into(),
    })?;
    let branch = branch
        .strip_prefix("refs/heads/")
        .unwrap_or(&branch)
        .to_owned();
    if !branch.starts_with('-') && git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        Ok(branch)
    } else {
        Err(Error::Config {
            origin,
            message: format!("{:?} is not a valid branch name", one_line(&branch)),
        })
    }
}

/// A URL taken from the CI's environment may only point at the server the clone came
/// from: a pipeline variable must not make the job fetch from anywhere else. Returns what
/// git is given for it ([`remote::same_server`]: scheme, host and port compared after
/// parsing; the URL rebuilt from what was compared).
fn on_origins_server(repo: &Repository, url: &str, log: &mut dyn FnMut(&str)) -> Option<String> {
    let origin = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(str::to_owned));
    let checked = match origin.as_deref() {
        Some(o) => remote::same_server(o, url),
        None => Err("the clone has no origin to compare with".to_owned()),
    };
    match checked {
        Ok(arg) => Some(arg),
        Err(why) => {
            log(&format!(
                "dockguard: warning: ignoring the target project URL {} from the CI's environment: {} \
                 (only a URL on origin's server is used; pass --upstream-url to fetch from elsewhere)",
                one_line(&remote::redact_url(url)),
                one_line(&why)
            ));
            None
        }
    }
}

/// Where the upstream server's branch points now. The branch name and the previous tip
/// come from the environment; this does not.
fn server_tip(repo: &Repository, plan: &UpstreamPlan) -> Option<Oid> {
    fetch::remote_ref(
        repo.path(),
        &plan.source,
        &format!("refs/heads/{}", plan.branch),
    )
}

/// Says that the CI's "this pipeline runs on the upstream branch" was not believed.
pub fn not_on_branch(plan: &UpstreamPlan, ctx: &CiContext, log: &mut dyn FnMut(&str)) {
    log(&format!(
        "dockguard: note: the CI says this pipeline runs on `{}`, but {}'s `{}` is not this commit \
         and does not contain it; comparing with its merge-base like any branch",
        one_line(ctx.ref_name.as_deref().unwrap_or("?")),
        plan.source.display,
        plan.branch
    ));
}

/// The previous tip to compare with, when the pipeline is on the upstream branch itself.
pub fn previous_tip(
    plan: &UpstreamPlan,
    ctx: &CiContext,
    target: Oid,
    log: &mut dyn FnMut(&str),
) -> Option<Oid> {
    if !plan.on_upstream {
        return None;
    }
    let previous = ctx
        .before_sha
        .as_deref()
        .and_then(|b| Oid::from_str(b).ok())
        .filter(|b| !b.is_zero())?;
    if previous == target {
        log("dockguard: note: the CI's previous tip is this very commit; ignoring it");
        return None;
    }
    Some(previous)
}
