//! `dockguard ci`: the CI front door, for pushes that did not go through the hook.
//!
//! A push without the hook (a new contributor, a web-IDE commit, a fork) must still get
//! its rebuild. In the job we: detect the provider and pipeline ([`provider`]); fetch the
//! upstream branch into a private ref and deepen the (usually shallow) clone until the
//! merge-base exists ([`fetch`]); judge the pipeline's commit with the shared engine;
//! compare the verdict with the request the pipeline carries ([`verify`]); and write the
//! decision where the CI reads it (GitLab dotenv, `$GITHUB_OUTPUT`, step summary, JSON).

pub mod emit;
pub mod fetch;
pub mod plan;
pub mod provider;
pub mod remote;
pub mod upstream;
pub mod verify;

use std::fmt::Write as _;
use std::io::Write;

use git2::Repository;
use serde::Serialize;

use crate::cli::{CiArgs, Format, PipelineArgs, ProviderArg};
use crate::config::{Flag, Name};
use crate::context::{Context, Door, Env};
use crate::engine::targets::Target;
use crate::engine::upstream::Upstream;
use crate::engine::verdict::{Report, TargetVerdict};
use crate::engine::JudgeOptions;
use crate::error::{Error, Result};
use crate::git::repo::{self, remote_exists, NoBase};
use crate::git::short;
use crate::render::{annotation, outputs};

use self::emit::{decision_vars, github_files};
use self::fetch::{PrivateRef, Source};
use self::provider::{Choice, CiContext, Provider};

/// What fetching did, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct FetchSummary {
    /// Where upstream came from (no credentials).
    pub source: String,
    /// The upstream branch.
    pub branch: String,
    /// On the upstream branch itself: the previous tip compared with instead.
    pub previous_tip: Option<String>,
    /// Whether the clone was shallow.
    pub was_shallow: bool,
    /// Deepening rounds.
    pub rounds: u32,
    /// Commits asked for in all (shallow clones).
    pub depth: u32,
    /// Whether the whole history had to be fetched.
    pub unshallowed: bool,
    /// The pipeline runs on the upstream branch itself (checked with the server).
    pub on_upstream: bool,
    /// The git commands run.
    pub commands: Vec<String>,
}

/// Everything `dockguard ci` decided, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct CiReport {
    /// Schema version.
    pub version: u32,
    /// The CI system.
    pub provider: Provider,
    /// What started the pipeline.
    pub pipeline: provider::PipelineKind,
    /// The ref the images are tagged after, if known.
    #[serde(rename = "ref")]
    pub ref_name: Option<String>,
    /// Its docker-tag-safe slug.
    pub ref_slug: String,
    /// `rebuild` or `skip`.
    pub decision: &'static str,
    /// Which case applied.
    pub reason: &'static str,
    /// The verdict said a rebuild is needed.
    pub needed: bool,
    /// The pipeline requested one.
    pub requested: bool,
    /// The request variable's name.
    pub request_variable: String,
    /// The request input's name (its value: `request_input_value`).
    pub request_input: String,
    /// The value `--request-input` gave (`null`: not given).
    pub request_input_value: Option<String>,
    /// `--strict` failed the job.
    pub strict_failure: bool,
    /// `--strict` was not applied, because no request can arrive here: why.
    pub strict_waived: Option<&'static str>,
    /// What the CI environment said (branch, MR target, GitLab's MR diff base, …).
    pub context: CiContext,
    /// What fetching did (`null` with `--no-fetch`).
    pub fetch: Option<FetchSummary>,
    /// The engine's report.
    pub report: Report,
}

/// Runs `dockguard ci`: find out about the job, read the settings, fetch and judge,
/// then verify and write the outputs. Returns the exit code.
pub fn run(repo: &Repository, args: &CiArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    refuse_outside_ci(args, env)?;
    let judged = judge(repo, &args.pipeline, args.commits, env)?;
    finish(args, env, out, judged)
}

/// `dockguard ci` on a laptop would fetch into the clone, judge HEAD as if it were a job,
/// and write CI outputs nobody reads: outside a CI system it detects it refuses, unless
/// `--provider generic` says this is a CI it does not know.
fn refuse_outside_ci(args: &CiArgs, env: &Env) -> Result<()> {
    let detected = provider::detect_provider(env, Choice::Auto);
    if args.pipeline.provider != ProviderArg::Auto || detected != Provider::Generic {
        return Ok(());
    }
    Err(Error::Hinted {
        message:
            "this does not look like a CI job (neither GITLAB_CI nor GITHUB_ACTIONS is `true`), \
                  and `dockguard ci` judges a CI job"
                .into(),
        hint: "to see what a push of this checkout needs, run `dockguard check`; in a CI system \
               dockguard does not detect, run `dockguard ci --provider generic`"
            .into(),
    })
}

/// The verdict for the job, and what led to it (shared with `dockguard plan`).
pub(crate) struct Judged {
    job: Job,
    ctx: Context,
    fetch: Option<FetchSummary>,
    /// The engine's report.
    pub(crate) report: Report,
}

impl Judged {
    /// The CI system.
    pub(crate) fn provider(&self) -> Provider {
        self.job.prov
    }

    /// The run's configuration.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// The request variable's name.
    pub(crate) fn request_variable(&self) -> &str {
        &self.ctx.settings.ci.request_variable
    }

    /// The push option that asks for a rebuild.
    pub(crate) fn push_option(&self) -> &str {
        &self.ctx.settings.push_option
    }

    /// The request the pipeline carries, and the decision it makes with the verdict.
    pub(crate) fn decide(
        &self,
        env: &Env,
        request_input: Option<&str>,
        strict: bool,
    ) -> (verify::Request, verify::Decision) {
        let settings = &self.ctx.settings.ci;
        let mut request = verify::Request::new(
            &settings.request_variable,
            env.get(&settings.request_variable),
            &settings.request_input,
            request_input,
        );
        if self.job.prov == Provider::Github {
            request = request.via(verify::Channel::WorkflowInput {
                workflow: env.get("GITHUB_WORKFLOW_REF").and_then(workflow_file),
                git_ref: self.job.ref_name.as_deref().map(outputs::one_line),
            });
        }
        let base_unknown = self.report.targets.iter().any(|t| t.merge_base.is_none());
        let on_upstream = self.fetch.as_ref().is_some_and(|f| f.on_upstream);
        let waiver = verify::strict_waiver(
            self.job.prov,
            self.job.ci.kind,
            on_upstream,
            self.job.ci.unattended.is_some(),
        );
        let decision = verify::decide(
            self.report.rebuild,
            base_unknown,
            request.requested(),
            strict,
            waiver,
        );
        (request, decision)
    }
}

/// Everything up to the verdict: the job, the settings, fetching and judging.
pub(crate) fn judge(
    repo: &Repository,
    args: &PipelineArgs,
    commits: bool,
    env: &Env,
) -> Result<Judged> {
    let workdir = repo::workdir(repo, "ci")?.to_path_buf();
    let job = Job::new(repo, args, env)?;
    let ctx = Context::load(repo, env, Door::Ci, &flags(args))?;
    for w in ctx.warnings() {
        say(job.prov, &format!("dockguard: {w}"));
    }
    say(
        job.prov,
        &format!(
            "dockguard: {} {} pipeline, judging {} ({})",
            job.prov.name(),
            job.ci.kind.name(),
            job.target.label,
            short(&job.target.oid)
        ),
    );
    for w in &job.warnings {
        say(job.prov, &format!("dockguard: {w}"));
    }
    let opts = JudgeOptions {
        commits,
        ..JudgeOptions::default()
    };
    let (report, fetch) = if args.no_fetch {
        let report = ctx
            .engine(repo)?
            .report(std::slice::from_ref(&job.target), opts)?;
        (report, None)
    } else {
        let (report, summary) = fetch_and_judge(repo, &workdir, &ctx, &job, opts)?;
        (report, Some(summary))
    };
    Ok(Judged {
        job,
        ctx,
        fetch,
        report,
    })
}

/// What the job is: the CI system, what its environment says, and what is judged.
struct Job {
    prov: Provider,
    ci: CiContext,
    target: Target,
    ref_name: Option<String>,
    /// Where the environment disagreed with the repository.
    warnings: Vec<String>,
}

impl Job {
    fn new(repo: &Repository, args: &PipelineArgs, env: &Env) -> Result<Self> {
        let choice = match args.provider {
            ProviderArg::Auto => Choice::Auto,
            ProviderArg::Gitlab => Choice::Forced(Provider::Gitlab),
            ProviderArg::Github => Choice::Forced(Provider::Github),
            ProviderArg::Generic => Choice::Forced(Provider::Generic),
        };
        let prov = provider::detect_provider(env, choice);
        let event = if prov == Provider::Github {
            github_event(env)
        } else {
            None
        };
        let ci = provider::context(env, prov, event.as_ref())?;
        let mut warnings = Vec::new();
        let target_oid = match (&args.target, &ci.target) {
            (Some(spec), _) => repo::resolve_commit(repo, spec)?,
            (None, Some(spec)) => {
                // The CI's variable names the commit, but the job builds what is checked
                // out; a pipeline variable can be overridden by whoever pushes.
                let head = repo::resolve_commit(repo, "HEAD")?;
                match repo::resolve_commit(repo, spec) {
                    Ok(oid) if oid == head => head,
                    _ => {
                        warnings.push(format!(
                            "warning: the CI says the commit is {}, but HEAD is {}: judging HEAD, \
                             which is what this job builds",
                            outputs::one_line(spec),
                            short(&head)
                        ));
                        head
                    }
                }
            }
            (None, None) => repo::resolve_commit(repo, "HEAD")?,
        };
        let ref_name = args
            .ref_name
            .clone()
            .or_else(|| ci.ref_name.clone())
            .or_else(|| current_branch(repo));
        let label = outputs::one_line(
            &ci.label
                .clone()
                .or_else(|| ref_name.as_ref().map(|r| format!("refs/heads/{r}")))
                .or_else(|| args.target.clone())
                .unwrap_or_else(|| "HEAD".to_owned()),
        );
        Ok(Job {
            prov,
            ci,
            target: Target {
                label,
                oid: target_oid,
            },
            ref_name,
            warnings,
        })
    }
}

fn flags(args: &PipelineArgs) -> Vec<Flag> {
    Flag::given(&[
        (
            Name::CiUpstreamUrl,
            args.upstream_url.as_ref(),
            "--upstream-url",
        ),
        (
            Name::CiUpstreamBranch,
            args.upstream_branch.as_ref(),
            "--upstream-branch",
        ),
        (
            Name::CiRequestVariable,
            args.request_variable.as_ref(),
            "--request-variable",
        ),
    ])
}

/// Fetches the upstream branch (deepening a shallow clone until the merge-base is there)
/// and judges the job's commit against it.
fn fetch_and_judge(
    repo: &Repository,
    workdir: &std::path::Path,
    ctx: &Context,
    job: &Job,
    opts: JudgeOptions,
) -> Result<(Report, FetchSummary)> {
    let mut log = |line: &str| say(job.prov, line);
    let mut plan =
        upstream::upstream_plan(repo, &ctx.settings.ci, &job.ci, job.target.oid, &mut log)?;
    let git_dir = repo.path().to_path_buf();
    let stale = fetch::delete_stale(&git_dir);
    if stale > 0 {
        log(&format!(
            "dockguard: deleted {stale} private ref(s) left by runs killed more than a day ago"
        ));
    }
    let private = PrivateRef::new(&git_dir, job.ci.job_id.as_deref());
    let fetch_plan = |plan: &upstream::UpstreamPlan, src: String| fetch::Plan {
        git_dir: git_dir.clone(),
        display_dir: workdir.to_path_buf(),
        upstream: plan.source.clone(),
        branch: plan.branch.clone(),
        src,
        target: job.target.oid,
        target_source: remote_exists(repo, "origin").then(|| Source::remote("origin")),
        private_ref: private.name.clone(),
        depth: ctx.settings.ci.depth,
        max_depth: ctx.settings.ci.max_depth,
        unshallow: ctx.settings.ci.unshallow,
    };
    if let Some(tip) = plan.moved_on {
        let branch_plan = fetch_plan(&plan, format!("refs/heads/{}", plan.branch));
        plan.on_upstream = still_on_branch(&branch_plan, tip, &mut log)?;
        if !plan.on_upstream {
            upstream::not_on_branch(&plan, &job.ci, &mut log);
            if let Some(otherwise) = plan.otherwise.take() {
                plan = *otherwise;
            }
        }
    }
    let previous = upstream::previous_tip(&plan, &job.ci, job.target.oid, &mut log);
    let branch = plan.branch.clone();
    let src = fetch_source(&plan, previous, &ctx.settings.ci.request_variable, &mut log);
    let fetch_plan = fetch_plan(&plan, src);
    let mut summary = FetchSummary {
        source: plan.source.display.clone(),
        branch: branch.clone(),
        previous_tip: previous.map(|p| p.to_string()),
        was_shallow: repo.is_shallow(),
        rounds: 0,
        depth: 0,
        unshallowed: false,
        on_upstream: plan.on_upstream,
        commands: Vec::new(),
    };
    let outcome = match (fetch::fetch_and_deepen(&fetch_plan, &mut log), previous) {
        (Ok(o), _) => o,
        (Err(e), Some(p)) => {
            let report = previous_tip_gone(job, &branch, p, &e, &mut log);
            return Ok((report, summary));
        }
        (Err(e), None) => return Err(e),
    };
    // libgit2 caches the shallow file and the object database: open afresh.
    let fresh = Repository::open(&git_dir)
        .map_err(|e| Error::git(format!("cannot reopen {}", git_dir.display()), e))?;
    let upstream = Upstream {
        refname: format!("refs/heads/{branch}"),
        oid: outcome.upstream_oid,
        chosen_by: match previous {
            Some(_) => format!(
                "the branch's previous tip (before this push), fetched from {}",
                plan.source.display
            ),
            None => format!("fetched from {}", plan.source.display),
        },
    };
    let report = ctx
        .engine_with(&fresh, upstream)
        .report(std::slice::from_ref(&job.target), opts)?;
    summary.was_shallow = outcome.was_shallow;
    summary.rounds = outcome.rounds;
    summary.depth = outcome.depth;
    summary.unshallowed = outcome.unshallowed;
    summary.commands = outcome.commands;
    log(&fetch_line(&summary, &report));
    drop(private); // deletes the private ref
    Ok((report, summary))
}

/// The upstream branch has moved on from the judged commit since the CI started this
/// pipeline for it (a later push, a queued or retried job): fetches the branch and tells
/// whether the commit is in its history. If it is, the pipeline is still about what that
/// push brought to the branch, and is judged like one on the tip.
fn still_on_branch(plan: &fetch::Plan, tip: git2::Oid, log: &mut dyn FnMut(&str)) -> Result<bool> {
    let outcome = fetch::fetch_and_deepen(plan, log)?;
    let on = matches!(outcome.merge_base, repo::MergeBase::Found(b) if b == plan.target);
    if on {
        log(&format!(
            "dockguard: `{}` has moved on to {} since this pipeline started, and this commit is in its \
             history: judging what the push that made it the tip brought",
            plan.branch,
            short(&tip)
        ));
    }
    Ok(on)
}

/// What to fetch as "upstream": the branch, or its previous tip when the pipeline runs on
/// the upstream branch itself (then what matters is what this push changed).
fn fetch_source(
    plan: &upstream::UpstreamPlan,
    previous: Option<git2::Oid>,
    request_var: &str,
    log: &mut dyn FnMut(&str),
) -> String {
    let branch = &plan.branch;
    match previous {
        Some(p) => {
            log(&format!(
                "dockguard: this pipeline runs on the upstream branch `{branch}` itself: \
                 comparing with its previous tip {} (what this push changed)",
                short(&p)
            ));
            p.to_string()
        }
        None => {
            if plan.on_upstream {
                log(&format!(
                    "dockguard: note: this pipeline runs on the upstream branch `{branch}` itself and the CI \
                     gives no usable previous tip (first, manual or scheduled run), so it can only be compared with \
                     itself; set {request_var}=1 to rebuild"
                ));
            }
            format!("refs/heads/{branch}")
        }
    }
}

/// The previous tip is gone from the server (a force push): what this push changed
/// cannot be known, so the verdict is "rebuild, base unknown".
fn previous_tip_gone(
    job: &Job,
    branch: &str,
    previous: git2::Oid,
    e: &Error,
    log: &mut dyn FnMut(&str),
) -> Report {
    let why = format!(
        "the branch's previous tip {previous} cannot be fetched (force-pushed away?): {}",
        e.render()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    );
    log(&format!("dockguard: warning: {why}"));
    let verdict = TargetVerdict::base_unknown(
        job.target.label.clone(),
        job.target.oid,
        NoBase::MissingObject,
        why,
    );
    let upstream_at = Upstream {
        refname: format!("refs/heads/{branch}"),
        oid: previous,
        chosen_by: "the branch's previous tip (before this push)".into(),
    };
    Report::new(upstream_at, vec![verdict])
}

/// Verifies against the request, writes the outputs, prints, and picks the exit code.
fn finish(args: &CiArgs, env: &Env, out: &mut dyn Write, judged: Judged) -> Result<i32> {
    let (request, decision) = judged.decide(
        env,
        args.pipeline.request_input.as_deref(),
        args.pipeline.strict,
    );
    let request_var = judged.request_variable().to_owned();
    let push_option = judged.push_option().to_owned();
    let push_option = push_option.as_str();
    let Judged {
        job, fetch, report, ..
    } = judged;
    let ref_slug = crate::slug::ci_slug(
        &job.ci,
        job.ref_name.as_deref(),
        &job.target.oid,
        env,
        fetch.as_ref().is_some_and(|f| f.on_upstream),
    );
    let ci = CiReport {
        version: 1,
        provider: job.prov,
        pipeline: job.ci.kind,
        ref_name: job.ref_name,
        ref_slug,
        decision: if decision.rebuild { "rebuild" } else { "skip" },
        reason: decision.case.slug(),
        needed: decision.needed,
        requested: decision.requested,
        request_variable: request_var,
        request_input: request.input.clone(),
        request_input_value: request.input_value.clone(),
        strict_failure: decision.strict_failure,
        strict_waived: decision.strict_waived,
        fetch,
        context: job.ci,
        report,
    };

    if let Some(path) = &args.dotenv {
        outputs::write(path, &outputs::dotenv(&decision_vars(&ci))?)?;
    }
    let mut line = verify::line(&decision, &request, push_option);
    if job.prov == Provider::Github {
        line = annotate_decision(&decision, line);
    }
    if job.prov == Provider::Github {
        github_files(env, &ci, &decision, &request, push_option)?;
    }
    match args.format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&ci)
                .map_err(|e| Error::internal(format!("cannot serialise the report: {e}")))?;
            json.push('\n');
            crate::write_out(out, json.as_bytes())?;
            eprintln!("{line}");
        }
        Format::Human => {
            let mut text = crate::render::human::human(
                &ci.report,
                push_option,
                &crate::render::human::Styles::new(env.color()),
            );
            text.push('\n');
            text.push_str(&line);
            text.push('\n');
            crate::write_out(out, text.as_bytes())?;
        }
    }
    Ok(i32::from(decision.strict_failure))
}

/// Writes a line of the job's log to stderr; under GitHub Actions a warning is an
/// annotation ([`annotation`]), so that it shows on the run's page.
fn say(prov: Provider, line: &str) {
    let text = if prov == Provider::Github && annotation::is_warning(line) {
        annotation::github(annotation::Level::Warning, line)
    } else {
        line.to_owned()
    };
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// The decision line as GitHub shows it: a `--strict` failure is an error annotation, a
/// rebuild nobody asked for (or a base that could not be found) a warning.
fn annotate_decision(decision: &verify::Decision, line: String) -> String {
    use annotation::Level;
    let level = match decision.case {
        _ if decision.strict_failure => Some(Level::Error),
        verify::Case::Fallback | verify::Case::BaseUnknown => Some(Level::Warning),
        _ => None,
    };
    level.map_or(line.clone(), |l| annotation::github(l, &line))
}

/// The workflow's file name in `GITHUB_WORKFLOW_REF` (`owner/repo/.github/workflows/ci.yml@refs/heads/main`).
fn workflow_file(workflow_ref: &str) -> Option<String> {
    let path = workflow_ref.split('@').next()?;
    let file = path.rsplit('/').next()?;
    (!file.is_empty()).then(|| outputs::one_line(file))
}

fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    if head.is_branch() {
        head.shorthand().ok().map(str::to_owned)
    } else {
        None
    }
}

/// GitHub's event payload (best effort: a missing or broken file only loses detail).
fn github_event(env: &Env) -> Option<serde_json::Value> {
    let path = env.get("GITHUB_EVENT_PATH")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| eprintln!("dockguard: warning: cannot read GITHUB_EVENT_PATH {path}: {e}"))
        .ok()?;
    serde_json::from_str(&text)
        .map_err(|e| eprintln!("dockguard: warning: GITHUB_EVENT_PATH {path} is not JSON: {e}"))
        .ok()
}

fn fetch_line(f: &FetchSummary, report: &Report) -> String {
    let base = report
        .targets
        .first()
        .and_then(|t| t.merge_base)
        .map_or_else(|| "not found".to_owned(), |b| short(&b));
    let mut s = format!(
        "dockguard: fetched {} from {} ({})",
        f.branch,
        f.source,
        short(&report.upstream.oid)
    );
    if f.was_shallow {
        let _ = write!(
            s,
            "; shallow clone: {} commit(s) asked for in {} deepening round(s){}",
            f.depth,
            f.rounds,
            if f.unshallowed {
                ", then the whole history"
            } else {
                ""
            }
        );
    }
    let _ = write!(s, "; merge-base {base}");
    s
}
