//! Which CI runs us, and what its environment says about the pipeline.
//!
//! Pure functions over the [`crate::Env`] captured at the edge (and, on GitHub, the event
//! payload the front door reads from `$GITHUB_EVENT_PATH`), so every provider and pipeline
//! kind is unit-tested without a CI system.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::Env;

/// The CI system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// GitLab CI (`GITLAB_CI=true`).
    Gitlab,
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    Github,
    /// Anything else: flags and configuration only.
    Generic,
}

impl Provider {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Gitlab => "GitLab",
            Provider::Github => "GitHub Actions",
            Provider::Generic => "generic CI",
        }
    }
}

/// What started the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineKind {
    /// A push to an existing branch.
    Branch,
    /// The first push of a branch (GitLab's "before" is all zeros).
    NewBranch,
    /// A merge request (GitLab) or pull request (GitHub) pipeline.
    MergeRequest,
    /// A tag pipeline.
    Tag,
    /// Started by hand, by a schedule, a trigger or the API (`workflow_dispatch` on GitHub).
    Manual,
    /// Unknown (generic CI).
    Unknown,
}

impl PipelineKind {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            PipelineKind::Branch => "branch",
            PipelineKind::NewBranch => "new-branch",
            PipelineKind::MergeRequest => "merge-request",
            PipelineKind::Tag => "tag",
            PipelineKind::Manual => "manual",
            PipelineKind::Unknown => "unknown",
        }
    }
}

/// What the environment says about the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiContext {
    /// The CI system.
    pub provider: Provider,
    /// What started the pipeline.
    pub kind: PipelineKind,
    /// The commit to judge (`CI_COMMIT_SHA`, `GITHUB_SHA`); `None`: HEAD.
    pub target: Option<String>,
    /// A label for messages: the full ref (`refs/heads/x`, `refs/pull/3/merge`).
    pub label: Option<String>,
    /// The name images get tagged after (branch or tag name; `pr-N` on GitHub PRs).
    pub ref_name: Option<String>,
    /// The MR/PR target branch.
    pub target_branch: Option<String>,
    /// The project's default branch, when the CI says.
    pub default_branch: Option<String>,
    /// GitLab MRs from another project: the target project's URL (the upstream).
    pub target_project_url: Option<String>,
    /// GitLab's `CI_MERGE_REQUEST_DIFF_BASE_SHA` (reported, for comparison).
    pub diff_base_sha: Option<String>,
    /// The previous tip (`CI_COMMIT_BEFORE_SHA`, the push event's `before`); reported
    /// only: dockguard judges against the merge-base, never against this.
    pub before_sha: Option<String>,
    /// A job identifier, to make private refs unique (`CI_JOB_ID`, `GITHUB_RUN_ID`…).
    pub job_id: Option<String>,
    /// What started the pipeline when no push did (a schedule, a trigger, a parent
    /// pipeline, a chat command): no push option can have reached it.
    #[serde(skip)]
    pub unattended: Option<String>,
}

/// How the user chose the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// From the environment.
    Auto,
    /// Forced.
    Forced(Provider),
}

fn var<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name).filter(|v| !v.trim().is_empty())
}

fn owned(env: &Env, name: &str) -> Option<String> {
    var(env, name).map(str::to_owned)
}

fn is_zero_oid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b'0')
}

/// Detects the provider. `GITLAB_CI` and `GITHUB_ACTIONS` must be `true` (gitlab-ci-local
/// sets `GITLAB_CI=false`: pass `--provider gitlab` there; the shipped template does).
pub fn detect_provider(env: &Env, choice: Choice) -> Provider {
    match choice {
        Choice::Forced(p) => p,
        Choice::Auto if env.get("GITLAB_CI") == Some("true") => Provider::Gitlab,
        Choice::Auto if env.get("GITHUB_ACTIONS") == Some("true") => Provider::Github,
        Choice::Auto => Provider::Generic,
    }
}

/// Reads the pipeline's context. `event` is GitHub's event payload, when available.
pub fn context(
    env: &Env,
    provider: Provider,
    event: Option<&serde_json::Value>,
) -> Result<CiContext> {
    match provider {
        Provider::Gitlab => gitlab(env),
        Provider::Github => github(env, event),
        Provider::Generic => Ok(CiContext {
            provider,
            kind: PipelineKind::Unknown,
            target: None,
            label: None,
            ref_name: None,
            target_branch: None,
            default_branch: None,
            target_project_url: None,
            diff_base_sha: None,
            before_sha: None,
            job_id: None,
            unattended: None,
        }),
    }
}

fn required(env: &Env, provider: Provider, name: &str) -> Result<String> {
    owned(env, name).ok_or_else(|| {
        Error::Usage(format!(
            "{name} is not set, so this does not look like a {} job; run `dockguard ci` inside the job, \
             or choose --provider generic and give --target/--ref",
            provider.name()
        ))
    })
}

fn gitlab(env: &Env) -> Result<CiContext> {
    let target = required(env, Provider::Gitlab, "CI_COMMIT_SHA")?;
    let source = var(env, "CI_PIPELINE_SOURCE").unwrap_or("push");
    let tag = owned(env, "CI_COMMIT_TAG");
    let mr_iid = var(env, "CI_MERGE_REQUEST_IID");
    let before = owned(env, "CI_COMMIT_BEFORE_SHA");
    let kind = if mr_iid.is_some() || source == "merge_request_event" {
        PipelineKind::MergeRequest
    } else if tag.is_some() {
        PipelineKind::Tag
    } else if matches!(
        source,
        "web" | "api" | "schedule" | "trigger" | "pipeline" | "chat" | "webide"
    ) {
        PipelineKind::Manual
    } else if before.as_deref().is_some_and(is_zero_oid) {
        PipelineKind::NewBranch
    } else {
        PipelineKind::Branch
    };
    let ref_name = match kind {
        PipelineKind::MergeRequest => owned(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
            .or_else(|| owned(env, "CI_COMMIT_REF_NAME")),
        PipelineKind::Tag => tag.clone(),
        _ => owned(env, "CI_COMMIT_BRANCH").or_else(|| owned(env, "CI_COMMIT_REF_NAME")),
    };
    let label = match (kind, &ref_name) {
        (PipelineKind::MergeRequest, Some(r)) => Some(format!(
            "merge request !{} (refs/heads/{r})",
            mr_iid.unwrap_or("?")
        )),
        (PipelineKind::Tag, Some(t)) => Some(format!("refs/tags/{t}")),
        (_, Some(b)) => Some(format!("refs/heads/{b}")),
        (_, None) => None,
    };
    // An MR from a fork: the upstream is the target project, not the clone's origin.
    let cross_project = match (
        var(env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID"),
        var(env, "CI_MERGE_REQUEST_PROJECT_ID"),
    ) {
        (Some(s), Some(t)) => s != t,
        _ => false,
    };
    let target_project_url = if kind == PipelineKind::MergeRequest && cross_project {
        owned(env, "CI_MERGE_REQUEST_PROJECT_URL").map(|u| format!("{u}.git"))
    } else {
        None
    };
    Ok(CiContext {
        provider: Provider::Gitlab,
        kind,
        target: Some(target),
        label,
        ref_name,
        target_branch: if kind == PipelineKind::MergeRequest {
            owned(env, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        } else {
            None
        },
        default_branch: owned(env, "CI_DEFAULT_BRANCH"),
        target_project_url,
        diff_base_sha: owned(env, "CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        before_sha: before,
        job_id: owned(env, "CI_JOB_ID"),
        unattended: matches!(
            source,
            "schedule" | "trigger" | "pipeline" | "parent_pipeline" | "chat"
        )
        .then(|| format!("CI_PIPELINE_SOURCE={source}")),
    })
}

fn github(env: &Env, event: Option<&serde_json::Value>) -> Result<CiContext> {
    let target = required(env, Provider::Github, "GITHUB_SHA")?;
    let event_name = var(env, "GITHUB_EVENT_NAME").unwrap_or("push");
    let gh_ref = owned(env, "GITHUB_REF");
    let is_tag = var(env, "GITHUB_REF_TYPE") == Some("tag")
        || gh_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("refs/tags/"));
    let ev = |path: &[&str]| -> Option<String> {
        let mut v = event?;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_owned)
    };
    let before = ev(&["before"]);
    let kind = match event_name {
        "pull_request" | "pull_request_target" | "merge_group" => PipelineKind::MergeRequest,
        _ if is_tag => PipelineKind::Tag,
        "workflow_dispatch" | "schedule" | "repository_dispatch" | "workflow_call" => {
            PipelineKind::Manual
        }
        _ if before.as_deref().is_some_and(is_zero_oid) => PipelineKind::NewBranch,
        _ => PipelineKind::Branch,
    };
    let ref_name = if kind == PipelineKind::MergeRequest {
        // pr-N, N from the event (pull_request_target runs on the base branch's ref, so
        // GITHUB_REF has no number), else refs/pull/N/merge; never the head branch (a
        // fork's `master` got ref-slug=master), else the commit.
        let number = |v: Option<&serde_json::Value>| v?.as_u64().map(|n| n.to_string());
        let n = number(event.and_then(|e| e.get("pull_request")?.get("number")))
            .or_else(|| number(event.and_then(|e| e.get("number"))))
            .or_else(|| {
                let n = gh_ref
                    .as_deref()?
                    .strip_prefix("refs/pull/")?
                    .split('/')
                    .next()?;
                n.bytes().all(|b| b.is_ascii_digit()).then(|| n.to_owned())
            })
            .unwrap_or_else(|| target[..target.len().min(12)].to_owned());
        Some(format!("pr-{n}"))
    } else {
        owned(env, "GITHUB_REF_NAME").or_else(|| {
            gh_ref.as_deref().map(|r| {
                r.trim_start_matches("refs/heads/")
                    .trim_start_matches("refs/tags/")
                    .to_owned()
            })
        })
    };
    let job_id = owned(env, "GITHUB_RUN_ID").map(|id| {
        format!(
            "{id}-{}-{}",
            var(env, "GITHUB_RUN_ATTEMPT").unwrap_or("1"),
            var(env, "GITHUB_JOB").unwrap_or("job")
        )
    });
    Ok(CiContext {
        provider: Provider::Github,
        kind,
        target: Some(target),
        label: gh_ref,
        ref_name,
        target_branch: if kind == PipelineKind::MergeRequest {
            owned(env, "GITHUB_BASE_REF")
        } else {
            None
        },
        default_branch: ev(&["repository", "default_branch"]),
        target_project_url: None,
        diff_base_sha: None,
        before_sha: before,
        job_id,
        unattended: matches!(event_name, "schedule" | "repository_dispatch")
            .then(|| format!("GITHUB_EVENT_NAME={event_name}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const ZERO: &str = "0000000000000000000000000000000000000000";

    fn gl(extra: &[(&str, &str)]) -> CiContext {
        let mut pairs = vec![
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", SHA),
            ("CI_DEFAULT_BRANCH", "master"),
            ("CI_JOB_ID", "77"),
            ("CI_COMMIT_REF_NAME", "feature/x"),
        ];
        pairs.extend_from_slice(extra);
        let e = env(&pairs);
        assert_eq!(detect_provider(&e, Choice::Auto), Provider::Gitlab);
        context(&e, Provider::Gitlab, None).expect("context")
    }

    #[test]
    fn gitlab_branch_pipeline() {
        let c = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "feature/x"),
            (
                "CI_COMMIT_BEFORE_SHA",
                "89abcdef0123456789abcdef0123456789abcdef",
            ),
        ]);
        assert_eq!(c.kind, PipelineKind::Branch);
        assert_eq!(c.target.as_deref(), Some(SHA));
        assert_eq!(c.ref_name.as_deref(), Some("feature/x"));
        assert_eq!(c.label.as_deref(), Some("refs/heads/feature/x"));
        assert_eq!(c.default_branch.as_deref(), Some("master"));
        assert_eq!(c.target_branch, None);
        assert_eq!(c.job_id.as_deref(), Some("77"));
    }

    #[test]
    fn gitlab_new_branch_pipeline() {
        let c = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "feature/x"),
            ("CI_COMMIT_BEFORE_SHA", ZERO),
        ]);
        assert_eq!(c.kind, PipelineKind::NewBranch);
        assert_eq!(c.before_sha.as_deref(), Some(ZERO));
    }

    #[test]
    fn gitlab_merge_request_pipeline() {
        let c = gl(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_COMMIT_BEFORE_SHA", ZERO),
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/x"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "stable-9.0"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", SHA),
            ("CI_MERGE_REQUEST_PROJECT_ID", "1"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "1"),
            (
                "CI_MERGE_REQUEST_PROJECT_URL",
                "https://gitlab.example/qemu-project/qemu",
            ),
        ]);
        assert_eq!(c.kind, PipelineKind::MergeRequest, "not new-branch");
        assert_eq!(c.target_branch.as_deref(), Some("stable-9.0"));
        assert_eq!(c.diff_base_sha.as_deref(), Some(SHA));
        assert_eq!(c.ref_name.as_deref(), Some("feature/x"));
        assert_eq!(
            c.label.as_deref(),
            Some("merge request !12 (refs/heads/feature/x)")
        );
        assert_eq!(c.target_project_url, None, "same project: use origin");
        let fork = gl(&[
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "1"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "2"),
            (
                "CI_MERGE_REQUEST_PROJECT_URL",
                "https://gitlab.example/qemu-project/qemu",
            ),
        ]);
        assert_eq!(
            fork.target_project_url.as_deref(),
            Some("https://gitlab.example/qemu-project/qemu.git")
        );
    }

    #[test]
    fn gitlab_tag_and_manual_pipelines() {
        let c = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_TAG", "v9.0.0"),
            ("CI_COMMIT_REF_NAME", "v9.0.0"),
            ("CI_COMMIT_BEFORE_SHA", ZERO),
        ]);
        assert_eq!(c.kind, PipelineKind::Tag);
        assert_eq!(c.ref_name.as_deref(), Some("v9.0.0"));
        assert_eq!(c.label.as_deref(), Some("refs/tags/v9.0.0"));
        for source in ["web", "schedule", "api", "trigger"] {
            let c = gl(&[
                ("CI_PIPELINE_SOURCE", source),
                ("CI_COMMIT_BRANCH", "master"),
                ("CI_COMMIT_BEFORE_SHA", ZERO),
            ]);
            assert_eq!(c.kind, PipelineKind::Manual, "{source}");
            assert_eq!(c.ref_name.as_deref(), Some("master"));
        }
    }

    #[test]
    fn gitlab_without_commit_sha_is_a_clear_error() {
        let e = env(&[("GITLAB_CI", "true")]);
        let err = context(&e, Provider::Gitlab, None)
            .expect_err("no sha")
            .to_string();
        assert!(err.contains("CI_COMMIT_SHA is not set"), "{err}");
        // gitlab-ci-local says GITLAB_CI=false: auto-detection does not claim GitLab.
        let local = env(&[("GITLAB_CI", "false"), ("CI_COMMIT_SHA", SHA)]);
        assert_eq!(detect_provider(&local, Choice::Auto), Provider::Generic);
        assert_eq!(
            detect_provider(&local, Choice::Forced(Provider::Gitlab)),
            Provider::Gitlab
        );
    }

    fn gh(extra: &[(&str, &str)], event: Option<serde_json::Value>) -> CiContext {
        let mut pairs = vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "900"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_JOB", "detect"),
        ];
        pairs.extend_from_slice(extra);
        let e = env(&pairs);
        assert_eq!(detect_provider(&e, Choice::Auto), Provider::Github);
        context(&e, Provider::Github, event.as_ref()).expect("context")
    }

    #[test]
    fn github_push_and_new_branch() {
        let event = serde_json::json!({
            "before": "89abcdef0123456789abcdef0123456789abcdef",
            "repository": { "default_branch": "main" }
        });
        let c = gh(
            &[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/heads/feature/x"),
                ("GITHUB_REF_NAME", "feature/x"),
                ("GITHUB_REF_TYPE", "branch"),
            ],
            Some(event),
        );
        assert_eq!(c.kind, PipelineKind::Branch);
        assert_eq!(c.ref_name.as_deref(), Some("feature/x"));
        assert_eq!(c.label.as_deref(), Some("refs/heads/feature/x"));
        assert_eq!(c.default_branch.as_deref(), Some("main"));
        assert_eq!(c.job_id.as_deref(), Some("900-2-detect"));
        let created = serde_json::json!({ "before": ZERO, "created": true });
        let c = gh(
            &[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/heads/feature/x"),
            ],
            Some(created),
        );
        assert_eq!(c.kind, PipelineKind::NewBranch);
        assert_eq!(c.ref_name.as_deref(), Some("feature/x"), "from GITHUB_REF");
    }

    #[test]
    fn github_pull_request() {
        let c = gh(
            &[
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_REF", "refs/pull/42/merge"),
                ("GITHUB_REF_NAME", "42/merge"),
                ("GITHUB_BASE_REF", "master"),
                ("GITHUB_HEAD_REF", "master"),
            ],
            None,
        );
        assert_eq!(c.kind, PipelineKind::MergeRequest);
        assert_eq!(c.target_branch.as_deref(), Some("master"));
        assert_eq!(
            c.ref_name.as_deref(),
            Some("pr-42"),
            "never the fork's branch"
        );
        assert_eq!(c.label.as_deref(), Some("refs/pull/42/merge"));
        assert_eq!(c.target.as_deref(), Some(SHA));
    }

    #[test]
    fn github_dispatch_and_tag() {
        let c = gh(
            &[
                ("GITHUB_EVENT_NAME", "workflow_dispatch"),
                ("GITHUB_REF", "refs/heads/master"),
                ("GITHUB_REF_NAME", "master"),
            ],
            None,
        );
        assert_eq!(c.kind, PipelineKind::Manual);
        assert_eq!(c.target_branch, None);
        let c = gh(
            &[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/tags/v1"),
                ("GITHUB_REF_NAME", "v1"),
                ("GITHUB_REF_TYPE", "tag"),
            ],
            None,
        );
        assert_eq!(c.kind, PipelineKind::Tag);
        assert_eq!(c.ref_name.as_deref(), Some("v1"));
    }

    #[test]
    fn generic_reads_nothing() {
        let e = env(&[("CI", "true"), ("GITLAB_CI", "false")]);
        let p = detect_provider(&e, Choice::Auto);
        assert_eq!(p, Provider::Generic);
        let c = context(&e, p, None).expect("generic");
        assert_eq!(c.kind, PipelineKind::Unknown);
        assert_eq!(c.target, None);
    }
}
