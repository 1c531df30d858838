//! Which upstream `dockguard ci` compares with: where to fetch it from and which branch.

use git2::Repository;

use super::fetch::{self, Source};
use super::provider::CiContext;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::git::repo::remote_exists;

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Where to fetch upstream from, which branch, and whether that is another project.
pub fn upstream_plan(
    repo: &Repository,
    settings: &Settings,
    ctx: &CiContext,
) -> Result<(Source, String, bool)> {
    let configured_url = nonempty(settings.string("ci.upstream_url"));
    let source = match (&configured_url, &ctx.target_project_url) {
        (Some(u), _) if remote_exists(repo, u) => Source::remote(u),
        (Some(u), _) => Source::url(u),
        (None, Some(u)) => Source::url(u),
        (None, None) if remote_exists(repo, "upstream") => Source::remote("upstream"),
        (None, None) if remote_exists(repo, "origin") => Source::remote("origin"),
        (None, None) => {
            return Err(Error::Ci {
                context: "no remote to fetch the upstream branch from (no `upstream`, no `origin`)"
                    .into(),
                source: None,
                hint: "set ci.upstream_url (or --upstream-url) to the upstream repository's URL"
                    .into(),
            })
        }
    };
    let other_project = configured_url.is_some() || ctx.target_project_url.is_some();
    let branch = nonempty(settings.string("ci.upstream_branch"))
        .or_else(|| ctx.target_branch.clone())
        .or_else(|| {
            if other_project {
                fetch::remote_head(repo.path(), &source)
            } else {
                None
            }
        })
        .or_else(|| ctx.default_branch.clone())
        .or_else(|| fetch::remote_head(repo.path(), &source));
    let branch = branch.ok_or_else(|| Error::Ci {
        context: format!(
            "cannot tell which branch of {} is upstream (no MR/PR target, no default branch, no HEAD)",
            source.display
        ),
        source: None,
        hint: "set ci.upstream_branch (or --upstream-branch), e.g. master".into(),
    })?;
    let branch = branch
        .strip_prefix("refs/heads/")
        .unwrap_or(&branch)
        .to_owned();
    if git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        Ok((source, branch, other_project))
    } else {
        Err(Error::Config {
            origin: settings.origin("ci.upstream_branch").to_string(),
            message: format!("{branch:?} is not a valid branch name"),
        })
    }
}
