//! Verification: the verdict against the request the pipeline carries.
//!
//! | needed | requested | decision | line |
//! |---|---|---|---|
//! | yes | yes | rebuild | needed and requested |
//! | yes | no  | rebuild (warn), or fail with `--strict` | the push skipped the hook: CI fallback |
//! | no  | yes | rebuild | the pipeline asked although nothing differs |
//! | no  | no  | skip | nothing differs, nothing asked |
//!
//! An unknown merge-base means "needed" (rebuild to be safe) but never fails `--strict`:
//! the contributor could not have known either.
//!
//! The request is the pipeline variable (`ci.request_variable`, set by `git push -o
//! ci.variable=NAME=1`) or the pipeline input (`ci.request_input`, set by `git push -o
//! ci.input=NAME=true`; its value reaches the job only through the CI configuration, as
//! `dockguard ci --request-input $[[ inputs.NAME ]]`); which values ask is
//! [`crate::config::request`]'s one definition, shared with the hook. `--strict` fails only where a
//! request can arrive at all ([`strict_waiver`]): not in merge-request pipelines (push
//! options reach branch pipelines only), not on the upstream branch itself (merges made
//! in the web UI carry none), not on GitHub (no push options) unless started by hand, not
//! in pipelines nobody pushed (schedules, triggers, parent pipelines).

use serde::Serialize;

use super::provider::{PipelineKind, Provider};
use crate::config::request::is_request;
use crate::render::escape;
use crate::render::outputs::one_line;

/// How a request can reach this pipeline, for the messages that say how to make one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Channel {
    /// With the push (`git push -o …`): GitLab.
    #[default]
    PushOption,
    /// Only as the input of a workflow started by hand: GitHub, whose pushes carry no
    /// options.
    WorkflowInput {
        /// The workflow's file name (from `GITHUB_WORKFLOW_REF`), when known.
        workflow: Option<String>,
        /// The branch or tag to run it on, when known.
        git_ref: Option<String>,
    },
}

impl Channel {
    /// The command that starts the workflow again with the request (`gh workflow run`).
    fn rerun_command(&self) -> Option<String> {
        let Channel::WorkflowInput { workflow, git_ref } = self else {
            return None;
        };
        let mut cmd = format!(
            "gh workflow run {}",
            escape::shell_word(workflow.as_deref().unwrap_or("WORKFLOW.yml"))
        );
        if let Some(r) = git_ref {
            cmd.push_str(" --ref ");
            cmd.push_str(&escape::shell_word(r));
        }
        cmd.push_str(" -f rebuild=true");
        Some(cmd)
    }
}

/// How the pipeline asks for a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The request variable's name.
    pub variable: String,
    /// The variable's value, when it is set (one line, cut short: the pusher's).
    pub variable_value: Option<String>,
    /// Whether the variable asks for a rebuild.
    pub variable_set: bool,
    /// The request input's name.
    pub input: String,
    /// The input's value as `--request-input` gave it (`None`: not given).
    pub input_value: Option<String>,
    /// Whether the input asks for a rebuild.
    pub input_set: bool,
    /// How a request could have come.
    #[serde(skip)]
    pub channel: Channel,
}

impl Request {
    /// The request as the job sees it: `variable`'s value from the environment, the
    /// input's value from the flag.
    pub fn new(
        variable: &str,
        value: Option<&str>,
        input: &str,
        input_value: Option<&str>,
    ) -> Self {
        Request {
            variable: variable.to_owned(),
            variable_value: value.map(|v| one_line(v).chars().take(40).collect()),
            variable_set: is_request(value),
            input: input.to_owned(),
            input_value: input_value.map(str::to_owned),
            input_set: is_request(input_value),
            channel: Channel::PushOption,
        }
    }

    /// The same request, in a pipeline a request reaches only through `channel`.
    pub fn via(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// Did the pipeline ask?
    pub fn requested(&self) -> bool {
        self.variable_set || self.input_set
    }

    /// What the pipeline said, for the decision line.
    pub fn describe(&self) -> String {
        let input = |v: &str| {
            let v: String = one_line(v).chars().take(40).collect();
            format!("the input {} is {v:?}", self.input)
        };
        let variable = match &self.variable_value {
            None => format!("{} is not set", self.variable),
            Some(v) => format!("{} is {v:?}, which is not a request", self.variable),
        };
        match (self.variable_set, &self.input_value) {
            (true, _) => format!("{} is set", self.variable),
            (false, Some(v)) if self.input_set => input(v),
            (false, Some(v)) => format!("{variable} and {}", input(v)),
            (false, None) => variable,
        }
    }
}

/// Why `--strict` cannot be met in this pipeline, with what to do instead; `None` where
/// a request can arrive (GitLab branch and tag pipelines of a push, pipelines started
/// by hand, any generic CI).
pub fn strict_waiver(
    provider: Provider,
    kind: PipelineKind,
    on_upstream: bool,
    unattended: bool,
) -> Option<&'static str> {
    if unattended {
        return Some(
            "nobody pushed this pipeline (a schedule, a trigger, a parent pipeline or a chat \
             command started it), so no push can have carried a request: set the request \
             variable where it is started (the schedule's or trigger's variables) to rebuild \
             there, and enforce --strict in the branch pipelines of pushes",
        );
    }
    match (provider, kind) {
        (Provider::Github, PipelineKind::Manual) | (Provider::Generic, _) => None,
        (Provider::Github, _) => Some(
            "GitHub has no push options, so a push cannot request a rebuild; a request can \
             only come with a workflow started by hand (the action's `rebuild` input): use \
             --strict for GitLab branch pipelines",
        ),
        (Provider::Gitlab, PipelineKind::MergeRequest) => Some(
            "push options reach GitLab's branch pipelines, never merge-request pipelines: \
             enforce --strict in the branch pipeline of the push (the merge request still \
             rebuilds)",
        ),
        (Provider::Gitlab, _) if on_upstream => Some(
            "this pipeline runs on the upstream branch itself, and merges made in the web UI \
             carry no push options: enforce --strict in branch pipelines",
        ),
        (Provider::Gitlab, _) => None,
    }
}

/// Which of the cases applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// Needed and requested.
    Needed,
    /// Needed, not requested: the push skipped the hook.
    Fallback,
    /// Not needed, but requested.
    Requested,
    /// Neither.
    NotNeeded,
    /// No merge-base: rebuilding to be safe (requested or not).
    BaseUnknown,
}

impl Case {
    /// The slug used in dotenv / outputs (`DOCKGUARD_REASON`).
    pub fn slug(self) -> &'static str {
        match self {
            Case::Needed => "needed",
            Case::Fallback => "fallback",
            Case::Requested => "requested",
            Case::NotNeeded => "not-needed",
            Case::BaseUnknown => "base-unknown",
        }
    }
}

/// What the CI job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Rebuild the images?
    pub rebuild: bool,
    /// Why.
    pub case: Case,
    /// The verdict says a rebuild is needed (or the base is unknown).
    pub needed: bool,
    /// The pipeline carries the request variable.
    pub requested: bool,
    /// `--strict` and needed-but-not-requested: the job fails (exit 1).
    pub strict_failure: bool,
    /// `--strict` and needed-but-not-requested where no request can arrive: why the job
    /// does not fail, and what to do instead.
    pub strict_waived: Option<&'static str>,
}

/// Combines the verdict with the request. `waiver` is [`strict_waiver`]'s answer.
pub fn decide(
    needed: bool,
    base_unknown: bool,
    requested: bool,
    strict: bool,
    waiver: Option<&'static str>,
) -> Decision {
    let needed = needed || base_unknown;
    let case = match (needed, requested) {
        _ if base_unknown => Case::BaseUnknown,
        (true, true) => Case::Needed,
        (true, false) => Case::Fallback,
        (false, true) => Case::Requested,
        (false, false) => Case::NotNeeded,
    };
    Decision {
        rebuild: needed || requested,
        case,
        needed,
        requested,
        strict_failure: strict && case == Case::Fallback && waiver.is_none(),
        strict_waived: waiver.filter(|_| strict && case == Case::Fallback),
    }
}

/// The one line that says what happens and why, for a terminal or a log.
pub fn line(d: &Decision, request: &Request, push_option: &str) -> String {
    line_with(d, request, push_option, &|s| {
        format!("`{}`", escape::text(s))
    })
}

/// [`line`] with the user-derived parts (what the request said, the command with the push
/// option) rendered by `code`: backquoted and escaped for a terminal, a Markdown code span
/// ([`escape::md_code`]) for GitHub's step summary, where a `push_option` such as
/// `![x](https://…)` must not render as an image.
pub fn line_with(
    d: &Decision,
    request: &Request,
    push_option: &str,
    code: &dyn Fn(&str) -> String,
) -> String {
    let command = code(&format!("git push -o {}", escape::shell_word(push_option)));
    let described = request.describe();
    let said = escape::text(&described);
    match d.case {
        Case::Needed => format!(
            "dockguard: REBUILD: images need a rebuild, and the pipeline requested it ({said})"
        ),
        Case::Fallback if d.strict_failure => match request.channel.rerun_command() {
            Some(rerun) => format!(
                "dockguard: FAILED (--strict): images need a rebuild but this run did not request it \
                 ({said}); GitHub pushes carry no push options, so the request is the workflow's \
                 `rebuild` input: run it again with the input set, {} (or Actions > Run workflow)",
                code(&rerun)
            ),
            None => format!(
                "dockguard: FAILED (--strict): images need a rebuild but the pipeline did not request it \
                 ({said}); push with {command} or use dockguard's pre-push hook"
            ),
        },
        Case::Fallback => {
            let waived = d
                .strict_waived
                .map(|why| format!("; --strict does not apply here: {why}"))
                .unwrap_or_default();
            let why = match request.channel {
                Channel::PushOption => "the push skipped dockguard's hook",
                Channel::WorkflowInput { .. } => {
                    "GitHub pushes carry no request, so this job is where the need is found"
                }
            };
            format!(
                "dockguard: REBUILD (fallback): images need a rebuild but the pipeline did not request it \
                 ({said}; {why}); rebuilding anyway{waived}"
            )
        }
        Case::Requested => format!(
            "dockguard: REBUILD (requested): nothing images are built from differs from upstream, \
             but the pipeline asked for it ({said})"
        ),
        Case::NotNeeded => format!(
            "dockguard: SKIP: nothing images are built from differs from upstream, and no rebuild was requested \
             ({said})"
        ),
        Case::BaseUnknown => "dockguard: REBUILD (base unknown): !!! no merge-base with upstream could be found, \
             so nothing can be ruled out; rebuilding to be safe !!!"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_cases_and_base_unknown() {
        let d = decide(true, false, true, false, None);
        assert_eq!((d.rebuild, d.case), (true, Case::Needed));
        let d = decide(true, false, false, false, None);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Fallback, false)
        );
        let d = decide(true, false, false, true, None);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Fallback, true)
        );
        let d = decide(false, false, true, true, None);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Requested, false)
        );
        let d = decide(false, false, false, true, None);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (false, Case::NotNeeded, false)
        );
        let d = decide(true, true, false, true, None);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::BaseUnknown, false),
            "an unknown base never fails --strict"
        );
    }

    #[test]
    fn every_case_has_one_distinct_line() {
        let lines: Vec<String> = [
            decide(true, false, true, false, None),
            decide(true, false, false, false, None),
            decide(true, false, false, true, None),
            decide(false, false, true, false, None),
            decide(false, false, false, false, None),
            decide(true, true, false, false, None),
        ]
        .iter()
        .map(|d| {
            let r = Request::new("DOCKGUARD_REBUILD", None, "dockguard_rebuild", None);
            line(d, &r, "ci.variable=DOCKGUARD_REBUILD=1")
        })
        .collect();
        for l in &lines {
            assert!(!l.contains('\n'), "{l}");
        }
        let mut unique = lines.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), lines.len());
    }

    #[test]
    fn the_input_is_a_request_like_the_variable() {
        let r = Request::new("DOCKGUARD_REBUILD", None, "dockguard_rebuild", Some("true"));
        assert!(r.requested());
        assert_eq!(r.describe(), "the input dockguard_rebuild is \"true\"");
        let r = Request::new(
            "DOCKGUARD_REBUILD",
            None,
            "dockguard_rebuild",
            Some("false"),
        );
        assert!(!r.requested());
        assert!(
            r.describe().contains("not set and the input"),
            "{}",
            r.describe()
        );
        let r = Request::new(
            "DOCKGUARD_REBUILD",
            Some("1"),
            "dockguard_rebuild",
            Some("false"),
        );
        assert!(r.requested());
        // An input value is the pusher's: one line, cut short, in messages.
        let r = Request::new("V", None, "i", Some("x\ny"));
        assert!(!r.describe().contains('\n'));
        // Set to a value that does not ask: said as it is, not as "not set".
        let r = Request::new("DOCKGUARD_REBUILD", Some("0"), "dockguard_rebuild", None);
        assert!(!r.requested());
        assert_eq!(
            r.describe(),
            "DOCKGUARD_REBUILD is \"0\", which is not a request"
        );
        let r = Request::new("V", Some("no\nway"), "i", None);
        assert!(!r.describe().contains('\n'));
    }

    #[test]
    fn strict_fails_only_where_a_request_can_arrive() {
        use PipelineKind::*;
        for kind in [Branch, NewBranch, Tag, Manual] {
            assert_eq!(
                strict_waiver(Provider::Gitlab, kind, false, false),
                None,
                "{kind:?}"
            );
        }
        assert!(strict_waiver(Provider::Gitlab, MergeRequest, false, false).is_some());
        assert!(strict_waiver(Provider::Gitlab, Branch, true, false).is_some());
        for kind in [Branch, NewBranch, Tag, MergeRequest] {
            assert!(
                strict_waiver(Provider::Github, kind, false, false).is_some(),
                "{kind:?}"
            );
        }
        assert_eq!(strict_waiver(Provider::Github, Manual, false, false), None);
        assert_eq!(strict_waiver(Provider::Generic, Unknown, true, false), None);
        // Pipelines nobody pushed: a schedule, a trigger, a parent pipeline.
        for p in [Provider::Gitlab, Provider::Github] {
            assert!(strict_waiver(p, Manual, false, true).is_some());
            assert!(strict_waiver(p, Branch, false, true).is_some());
        }
        let why = strict_waiver(Provider::Gitlab, MergeRequest, false, false);
        let d = decide(true, false, false, true, why);
        assert!(!d.strict_failure && d.rebuild && d.strict_waived.is_some());
        let r = Request::new("DOCKGUARD_REBUILD", None, "dockguard_rebuild", None);
        assert!(line(&d, &r, "o").contains("--strict does not apply here"));
        // Without --strict there is nothing to waive.
        assert_eq!(decide(true, false, false, false, why).strict_waived, None);
    }
}
