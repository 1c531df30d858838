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
pub mod upstream;
pub mod verify;

use std::fmt::Write as _;
use std::io::Write;

use git2::Repository;
use serde::Serialize;

use crate::cli::{CiArgs, Format, ProviderArg};
use crate::config::{FileLayer, Overrides};
use crate::engine::{Engine, JudgeOptions};
use crate::error::{Error, Result};
use crate::outputs;
use crate::repo::{self, remote_exists};
use crate::repo::{NoBase, Upstream};
use crate::targets::Target;
use crate::verdict::{short, Report, TargetVerdict};
use crate::Env;

use self::emit::{decision_vars, github_files};
use self::fetch::{PrivateRef, Source};
use self::provider::{Choice, CiContext, PipelineKind, Provider};

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
    /// `--strict` failed the job.
    pub strict_failure: bool,
    /// What the CI environment said (branch, MR target, GitLab's MR diff base, …).
    pub context: CiContext,
    /// What fetching did (`null` with `--no-fetch`).
    pub fetch: Option<FetchSummary>,
    /// The engine's report.
    pub report: Report,
}

/// Runs `dockguard ci`. Returns the exit code.
pub fn run(repo: &Repository, args: &CiArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let judged = judge(repo, args, env)?;
    finish(args, env, out, judged)
}

/// Everything up to the verdict (provider, fetch, judge), shared with `dockguard plan`.
pub(crate) fn judge(repo: &Repository, args: &CiArgs, env: &Env) -> Result<Finish> {
    let workdir = repo::workdir(repo, "ci")?.to_path_buf();
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
    let ctx = provider::context(env, prov, event.as_ref())?;

    let mut flags: Vec<(&'static str, String, &'static str)> = Vec::new();
    if let Some(u) = &args.upstream_url {
        flags.push(("ci.upstream_url", u.clone(), "--upstream-url"));
    }
    if let Some(b) = &args.upstream_branch {
        flags.push(("ci.upstream_branch", b.clone(), "--upstream-branch"));
    }
    if let Some(v) = &args.request_variable {
        flags.push(("ci.request_variable", v.clone(), "--request-variable"));
    }
    let config = repo
        .config()
        .map_err(|e| Error::git("cannot read git config", e))?;
    let overrides = Overrides::load(Some(&config), &env.vars, &flags)?;
    let settings = overrides.resolve(FileLayer::from_workdir(&workdir)?.as_ref());
    let request_var = verify::request_variable(&settings)?;
    let requested = verify::is_request(env.get(&request_var));

    let target_spec = args
        .target
        .clone()
        .or_else(|| ctx.target.clone())
        .unwrap_or_else(|| "HEAD".to_owned());
    let target_oid = repo::resolve_commit(repo, &target_spec)?;
    let ref_name = args
        .ref_name
        .clone()
        .or_else(|| ctx.ref_name.clone())
        .or_else(|| current_branch(repo));
    let label = outputs::one_line(
        &ctx.label
            .clone()
            .or_else(|| ref_name.as_ref().map(|r| format!("refs/heads/{r}")))
            .unwrap_or_else(|| target_spec.clone()),
    );
    let ref_slug = crate::slug::docker_tag(ref_name.as_deref().unwrap_or(""), Some(&target_oid));
    let mut log = |line: &str| eprintln!("{line}");
    log(&format!(
        "dockguard: {} {} pipeline, judging {label} ({})",
        prov.name(),
        ctx.kind.name(),
        short(&target_oid)
    ));

    let target = Target {
        label,
        oid: target_oid,
    };
    let opts = JudgeOptions {
        commits: args.commits,
    };
    let (report, push_option, fetch_summary) = if args.no_fetch {
        let mut engine = Engine::new(repo, overrides)?;
        let report = engine.report(std::slice::from_ref(&target), opts)?;
        let po = engine
            .settings()
            .string_or_default("push_option")
            .to_owned();
        (report, po, None)
    } else {
        let (upstream, branch, other_project) = upstream::upstream_plan(repo, &settings, &ctx)?;
        // A pipeline on the upstream branch itself (master after a merge) always equals
        // upstream; what matters there is what this push changed: compare with the
        // branch's previous tip when the CI knows it.
        let on_upstream = !other_project
            && matches!(
                ctx.kind,
                PipelineKind::Branch | PipelineKind::NewBranch | PipelineKind::Manual
            )
            && ref_name.as_deref() == Some(branch.as_str());
        let previous = ctx
            .before_sha
            .as_deref()
            .filter(|_| on_upstream)
            .and_then(|b| git2::Oid::from_str(b).ok())
            .filter(|b| !b.is_zero());
        let src = match previous {
            Some(p) => {
                log(&format!(
                    "dockguard: this pipeline runs on the upstream branch `{branch}` itself: \
                     comparing with its previous tip {} (what this push changed)",
                    short(&p)
                ));
                p.to_string()
            }
            None => {
                if on_upstream {
                    log(&format!(
                        "dockguard: note: this pipeline runs on the upstream branch `{branch}` itself and the CI \
                         gives no previous tip (first, manual or scheduled run), so it can only be compared with \
                         itself; set {request_var}=1 to rebuild"
                    ));
                }
                format!("refs/heads/{branch}")
            }
        };
        let git_dir = repo.path().to_path_buf();
        let stale = fetch::delete_stale(&git_dir);
        if stale > 0 {
            log(&format!(
                "dockguard: deleted {stale} private ref(s) left by runs killed more than a day ago"
            ));
        }
        let private = PrivateRef::new(&git_dir, ctx.job_id.as_deref());
        let target_source = remote_exists(repo, "origin").then(|| Source::remote("origin"));
        let plan = fetch::Plan {
            git_dir: git_dir.clone(),
            display_dir: workdir.clone(),
            upstream: upstream.clone(),
            branch: branch.clone(),
            src,
            target: target_oid,
            target_source,
            private_ref: private.name.clone(),
            depth: u32::try_from(settings.int("ci.depth")).unwrap_or(50),
            max_depth: u32::try_from(settings.int("ci.max_depth")).unwrap_or(u32::MAX),
            unshallow: settings.bool("ci.unshallow"),
        };
        let outcome =
            match (fetch::fetch_and_deepen(&plan, &mut log), previous) {
                (Ok(o), _) => o,
                (Err(e), Some(p)) => {
                    // The previous tip is gone from the server (a force push): what this
                    // push changed cannot be known, so rebuild.
                    let why =
                        format!(
                    "the branch's previous tip {p} cannot be fetched (force-pushed away?): {}",
                    e.render().lines().map(str::trim).collect::<Vec<_>>().join(" ")
                );
                    log(&format!("dockguard: warning: {why}"));
                    let verdict = TargetVerdict::base_unknown(
                        target.label.clone(),
                        target_oid,
                        NoBase::MissingObject,
                        why,
                    );
                    let upstream_at = Upstream {
                        refname: format!("refs/heads/{branch}"),
                        oid: p,
                        chosen_by: "the branch's previous tip (before this push)".into(),
                    };
                    let summary = FetchSummary {
                        source: upstream.display.clone(),
                        branch: branch.clone(),
                        previous_tip: Some(p.to_string()),
                        was_shallow: repo.is_shallow(),
                        rounds: 0,
                        depth: 0,
                        unshallowed: false,
                        commands: Vec::new(),
                    };
                    drop(private);
                    let po = settings.string_or_default("push_option").to_owned();
                    return Ok(Finish {
                        prov,
                        ctx,
                        ref_name,
                        ref_slug,
                        request_var,
                        requested,
                        push_option: po,
                        fetch: Some(summary),
                        report: Report::new(upstream_at, vec![verdict]),
                    });
                }
                (Err(e), None) => return Err(e),
            };
        // libgit2 caches the shallow file and the object database: open afresh.
        let fresh = Repository::open(&git_dir)
            .map_err(|e| Error::git(format!("cannot reopen {}", git_dir.display()), e))?;
        let mut flags = flags.clone();
        flags.push(("upstream", private.name.clone(), "dockguard ci"));
        let overrides = Overrides::load(Some(&config), &env.vars, &flags)?;
        let mut engine = Engine::new(&fresh, overrides)?;
        engine.upstream.refname = format!("refs/heads/{branch}");
        engine.upstream.chosen_by = match previous {
            Some(_) => format!(
                "the branch's previous tip (before this push), fetched from {}",
                upstream.display
            ),
            None => format!("fetched from {}", upstream.display),
        };
        let report = engine.report(std::slice::from_ref(&target), opts)?;
        let po = engine
            .settings()
            .string_or_default("push_option")
            .to_owned();
        let summary = FetchSummary {
            source: upstream.display.clone(),
            branch,
            previous_tip: previous.map(|p| p.to_string()),
            was_shallow: outcome.was_shallow,
            rounds: outcome.rounds,
            depth: outcome.depth,
            unshallowed: outcome.unshallowed,
            commands: outcome.commands,
        };
        log(&fetch_line(&summary, &report));
        drop(engine);
        drop(private); // deletes the private ref
        (report, po, Some(summary))
    };

    Ok(Finish {
        prov,
        ctx,
        ref_name,
        ref_slug,
        request_var,
        requested,
        push_option,
        fetch: fetch_summary,
        report,
    })
}

/// What is left to do once the verdict is in.
pub(crate) struct Finish {
    pub(crate) prov: Provider,
    pub(crate) ctx: CiContext,
    pub(crate) ref_name: Option<String>,
    pub(crate) ref_slug: String,
    pub(crate) request_var: String,
    pub(crate) requested: bool,
    pub(crate) push_option: String,
    pub(crate) fetch: Option<FetchSummary>,
    pub(crate) report: Report,
}

/// Verifies against the request, writes the outputs, prints, and picks the exit code.
fn finish(args: &CiArgs, env: &Env, out: &mut dyn Write, f: Finish) -> Result<i32> {
    let Finish {
        prov,
        ctx,
        ref_name,
        ref_slug,
        request_var,
        requested,
        push_option,
        fetch: fetch_summary,
        report,
    } = f;
    let base_unknown = report.targets.iter().any(|t| t.merge_base.is_none());
    let decision = verify::decide(report.rebuild, base_unknown, requested, args.strict);
    let ci = CiReport {
        version: 1,
        provider: prov,
        pipeline: ctx.kind,
        ref_name: ref_name.clone(),
        ref_slug,
        decision: if decision.rebuild { "rebuild" } else { "skip" },
        reason: decision.case.slug(),
        needed: decision.needed,
        requested: decision.requested,
        request_variable: request_var.clone(),
        strict_failure: decision.strict_failure,
        fetch: fetch_summary,
        context: ctx,
        report,
    };

    if let Some(path) = &args.dotenv {
        outputs::write(path, &outputs::dotenv(&decision_vars(&ci))?)?;
    }
    if prov == Provider::Github {
        github_files(env, &ci, &decision, &push_option)?;
    }
    let line = verify::line(&decision, &request_var, &push_option);
    match args.format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&ci)
                .map_err(|e| Error::Usage(format!("internal: cannot serialise the report: {e}")))?;
            json.push('\n');
            crate::write_out(out, json.as_bytes())?;
            eprintln!("{line}");
        }
        Format::Human => {
            let mut text = crate::report::human(
                &ci.report,
                &push_option,
                &crate::report::Styles::new(env.color()),
            );
            text.push('\n');
            text.push_str(&line);
            text.push('\n');
            crate::write_out(out, text.as_bytes())?;
        }
    }
    Ok(i32::from(decision.strict_failure))
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
