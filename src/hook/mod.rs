//! The pre-push front door: `dockguard hook pre-push REMOTE URL`, run by the installed
//! shim with git's ref updates on stdin.
//!
//! Every pushed ref (branches, tags, new refs, force pushes, any number of them) is judged
//! by the shared engine against its merge-base with upstream, never against what the
//! remote had before. If any needs a rebuild, the push must carry the configured push
//! option; git gives the hook no way to add one, so when the push does not already carry
//! it ([`request`]) the `policy` decides: `block` (exit 1 with the exact commands to
//! re-run), `warn` (let it through) or `repush` (push the same updates itself with the
//! option and `--force-with-lease`, then stop the original push, saying so).
//!
//! Exit codes: 0 allow, 1 block (or "already re-pushed"), 2 dockguard could not decide
//! (`on_error = allow` turns that into a warning). A foreign hook that `dockguard install`
//! chained runs whenever the push is not blocked, and its failure fails the push.

pub mod action;
pub mod ancestry;
pub mod chain;
pub mod pipeline_limit;
pub mod precommit;
pub mod request;
pub mod stdin;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::Command;

use git2::{ObjectType, Oid, Repository};

use crate::cli::{HookArgs, HookKind, HookOutput, PrePushArgs};
use crate::config::{Flag, Name, OnError, Policy, Verbosity};
use crate::context::{on_error, Context, Door, Env};
use crate::engine::targets::Target;
use crate::engine::upstream::Upstream;
use crate::engine::verdict::TargetVerdict;
use crate::engine::{Engine, Unattributed};
use crate::error::{Error, Result};
use crate::git::short;
use crate::render::escape;

use self::action::{attribute_shown, describe, repush, Plan};
use self::ancestry::{FoundPush, Here};
use self::pipeline_limit::{after_pipeline_limit, warn_pipeline_limit};
use self::request::OPTIONS_ENV;
use self::stdin::{parse_pre_push, PushUpdate};

/// At most this many refs are named in one-line messages (all are judged).
const MAX_REFS_NAMED: usize = 10;

/// `dockguard hook …`: reads all of stdin, then decides.
pub fn run(repo: &Repository, args: &HookArgs, env: &Env, err: &mut dyn Write) -> Result<i32> {
    match &args.hook {
        HookKind::PrePush(a) => {
            // All of it, before anything else: git writes every line before waiting.
            let mut input = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut input)
                .map_err(|e| Error::io("cannot read the ref updates git gives on stdin", e))?;
            pre_push(repo, a, env, &input, err)
        }
        // pre-commit has read git's stdin already; the refs come from its variables and
        // from what `git push` would do.
        HookKind::PreCommit(a) => match precommit::from_env(repo, env, a.output) {
            Ok(p) => {
                for note in &p.notes {
                    emit(err, &format!("dockguard: {note}\n"));
                }
                pre_push(repo, &p.args, env, &p.input, err)
            }
            Err(e) => {
                let mut msg = String::new();
                let code = cannot_decide(repo, env, &e, &mut msg);
                emit(err, &msg);
                Ok(code)
            }
        },
    }
}

/// The `git push` that runs this hook ([`ancestry::find_push`] from our parent).
pub fn find_own_push(repo: &Repository) -> std::result::Result<FoundPush, String> {
    ancestry::find_push(
        &ancestry::System,
        std::os::unix::process::parent_id(),
        &Here::of(repo),
    )
}

/// dockguard could not decide: the error, the escape hatches, and `on_error`'s verdict
/// (exit 0 with a warning when it allows, else 2).
fn cannot_decide(repo: &Repository, env: &Env, e: &Error, msg: &mut String) -> i32 {
    let _ = writeln!(msg, "{}", e.render());
    let _ = writeln!(
        msg,
        "  escape hatch: DOCKGUARD_SKIP=1 git push … skips dockguard for one push \
         (git push --no-verify skips every hook); \
         `git config dockguard.on-error allow` lets pushes through when dockguard fails"
    );
    if on_error(repo, env) == OnError::Allow {
        let _ = writeln!(
            msg,
            "dockguard: warning: letting the push through unchecked (on_error = allow)"
        );
        0
    } else {
        2
    }
}

/// `-q` / `-v` as flags over the `verbosity` setting.
pub fn verbosity_flags(output: HookOutput) -> Vec<Flag> {
    let word = if output.quiet {
        ("quiet", "-q")
    } else if output.verbose {
        ("verbose", "-v")
    } else {
        return Vec::new();
    };
    vec![Flag {
        name: Name::Verbosity,
        value: word.0.to_owned(),
        flag: word.1,
    }]
}

/// What the hook decided.
#[derive(Debug)]
enum Decision {
    Allow,
    Block,
    Repush(Box<Plan>),
}

/// The pre-push hook proper, over the bytes git gave on stdin.
pub fn pre_push(
    repo: &Repository,
    args: &PrePushArgs,
    env: &Env,
    input: &[u8],
    err: &mut dyn Write,
) -> Result<i32> {
    let mut msg = String::new();
    let decision = match decide(repo, args, env, input, &mut msg) {
        Ok(d) => d,
        Err(e) => {
            if cannot_decide(repo, env, &e, &mut msg) != 0 {
                emit(err, &msg);
                return Ok(2);
            }
            Decision::Allow
        }
    };
    emit(err, &msg);
    if matches!(decision, Decision::Block) {
        return Ok(1);
    }
    // The chained hook runs before any re-push: its verdict must hold for that push too.
    if let Some(installed) = &args.installed_hook {
        match chain::run(installed, &[&args.remote, &args.url], input)? {
            chain::Chained::Ran(0) | chain::Chained::Absent => {}
            chain::Chained::NotExecutable(p) => emit(
                err,
                &format!(
                    "dockguard: note: the chained hook {} is not executable; ignored, as git would\n",
                    p.display()
                ),
            ),
            chain::Chained::Ran(code) => {
                emit(
                    err,
                    &format!(
                        "dockguard: the chained pre-push hook {} failed (exit {code}); the push is stopped\n",
                        chain::chained_path(installed).display()
                    ),
                );
                return Ok(code);
            }
        }
    }
    match decision {
        Decision::Allow => Ok(0),
        Decision::Block => Ok(1),
        Decision::Repush(plan) => repush(repo, env, args, &plan, err),
    }
}

/// Writes a message: every line of it escaped ([`escape::lines`]), whatever it quotes.
fn emit(err: &mut dyn Write, text: &str) {
    let _ = err.write_all(escape::lines(text).as_bytes());
    let _ = err.flush();
}

/// True for `1`, `true`, `yes`, `on` (any case).
pub fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// A `git` command that runs against this repository (GIT_DIR, when git set it for the
/// hook, is inherited and wins).
pub fn git_command(repo: &Repository, env: &Env) -> Command {
    let mut cmd = Command::new("git");
    if env.get("GIT_DIR").is_none() {
        cmd.current_dir(repo.workdir().unwrap_or_else(|| repo.path()));
    }
    cmd
}

fn decide(
    repo: &Repository,
    args: &PrePushArgs,
    env: &Env,
    input: &[u8],
    msg: &mut String,
) -> Result<Decision> {
    if truthy(env.get("DOCKGUARD_SKIP")) {
        let _ = writeln!(
            msg,
            "dockguard: DOCKGUARD_SKIP is set: not checking this push for image rebuilds"
        );
        return Ok(Decision::Allow);
    }
    let updates = parse_pre_push(input).map_err(|e| Error::Hinted {
        message: e.to_string(),
        hint: "git writes these lines; by hand, feed `<local ref> <local oid> <remote ref> <remote oid>` per line".into(),
    })?;
    let ctx = Context::load(repo, env, Door::Local, &verbosity_flags(args.output))?;
    for w in ctx.warnings() {
        let _ = writeln!(msg, "dockguard: {w}");
    }
    let settings = &ctx.settings;
    if !settings.remote_in_scope(&args.remote, &args.url) {
        let _ = writeln!(
            msg,
            "dockguard: {} is not among the `remotes` it checks; not checking this push",
            args.remote
        );
        return Ok(Decision::Allow);
    }
    let pushed: Vec<&PushUpdate> = updates.iter().filter(|u| !u.is_delete()).collect();
    if pushed.is_empty() {
        return Ok(Decision::Allow);
    }
    let mut engine = ctx.engine(repo)?;
    let mut judged = judge_all(repo, &mut engine, &pushed, msg)?;
    let up = &engine.upstream.clone();
    let judged_line = format!(
        "judged {} ref{} ({} distinct commit{}) against {} at {}",
        pushed.len(),
        plural(pushed.len()),
        judged.verdicts.len(),
        plural(judged.verdicts.len()),
        up.refname,
        short(&up.oid)
    );
    if settings.verbosity != Verbosity::Quiet {
        let _ = writeln!(msg, "dockguard: {judged_line}");
    }
    if settings.verbosity == Verbosity::Verbose {
        explain(msg, &judged, &up.refname);
    }
    let rebuild: Vec<(&PushUpdate, usize)> = judged
        .refs
        .iter()
        .filter_map(|(u, i)| i.map(|i| (*u, i)))
        .filter(|(_, i)| judged.verdicts[*i].rebuild)
        .collect();
    if rebuild.is_empty() {
        if settings.verbosity == Verbosity::Quiet {
            let _ = writeln!(msg, "dockguard: no image rebuild needed ({judged_line})");
        } else {
            let _ = writeln!(
                msg,
                "dockguard: no image rebuild needed: nothing images are built from differs from upstream"
            );
        }
        return Ok(Decision::Allow);
    }
    let want = settings.push_option.as_str();
    let request = request::detect(env.get(OPTIONS_ENV), find_own_push(repo), || {
        request::configured_push_options(git_command(repo, env))
    })?;
    let late = after_pipeline_limit(&updates, &rebuild, settings.gitlab_pipeline_refs);
    if crate::config::request::options_request(&request.options, want) {
        let names = rebuild
            .iter()
            .map(|(u, _)| u.remote_ref.as_str())
            .take(MAX_REFS_NAMED)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            msg,
            "dockguard: images must be rebuilt for {}; this push asks for it (-o {}, seen in {})",
            escape::text(&names),
            escape::shell_word(want),
            request.source
        );
        if let Some(w) = crate::config::request::skip_warning(&request.options) {
            let _ = writeln!(msg, "dockguard: {w}");
        }
        if settings.verbosity == Verbosity::Verbose {
            for note in &request.notes {
                let _ = writeln!(msg, "dockguard: note: {note}");
            }
        }
        warn_pipeline_limit(
            msg,
            &late,
            settings.gitlab_pipeline_refs,
            want,
            &args.remote,
        );
        return Ok(Decision::Allow);
    }
    if settings.verbosity == Verbosity::Quiet {
        let _ = writeln!(msg, "dockguard: {judged_line}");
    }
    explain_missing_request(msg, want, &request, up);
    // Only this message names the commits behind the changes, and only for what it shows:
    // a push that already asks for the rebuild never pays for attribution.
    attribute_shown(
        &mut engine,
        &rebuild,
        &mut judged.verdicts,
        &mut judged.pending,
    )?;
    describe(msg, &rebuild, &judged.verdicts);
    warn_pipeline_limit(
        msg,
        &late,
        settings.gitlab_pipeline_refs,
        want,
        &args.remote,
    );
    let plan = Plan::new(repo, args, &updates, &request, want);
    Ok(apply_policy(msg, settings.policy, &request, plan, want))
}

/// The block message's head: what is missing, what was seen, what was compared with.
fn explain_missing_request(
    msg: &mut String,
    want: &str,
    request: &request::PushContext,
    up: &Upstream,
) {
    let _ = writeln!(
        msg,
        "dockguard: images must be rebuilt for this push, and it does not ask the CI to (-o {})",
        escape::shell_word(want)
    );
    if request.push.is_none() {
        let _ = writeln!(
            msg,
            "  push options: unknown: the `git push` that runs this hook could not be found ({}), \
             and unknown is not a request",
            request.cmdline_problem.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            msg,
            "  (`dockguard push …` tells the hook exactly what it sends; or run dockguard from \
             the hook without a program between git and it that hides the push)"
        );
    } else {
        let seen = if request.options.is_empty() {
            "none".to_owned()
        } else {
            request
                .options
                .iter()
                .map(|o| escape::shell_word(o))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(msg, "  push options seen: {seen} (from {})", request.source);
    }
    for note in &request.notes {
        let _ = writeln!(msg, "  note: {note}");
    }
    let _ = writeln!(
        msg,
        "  upstream: {} at {} ({})",
        escape::text(&up.refname),
        short(&up.oid),
        escape::text(&up.chosen_by)
    );
}

/// A rebuild is needed and the push does not ask for it: the policy decides.
fn apply_policy(
    msg: &mut String,
    policy: Policy,
    request: &request::PushContext,
    plan: Plan,
    want: &str,
) -> Decision {
    match policy {
        Policy::Warn => {
            let _ = writeln!(
                msg,
                "dockguard: warning: pushing WITHOUT asking the CI to rebuild (policy warn); CI may test against stale images.\n  to ask for it next time: {}",
                plan.dockguard_push()
            );
            Decision::Allow
        }
        Policy::Repush => match request.dry_run() {
            Some(true) => {
                let _ = writeln!(
                    msg,
                    "dockguard: dry run: a real push would be pushed again by dockguard with -o {} (policy repush); nothing is pushed now",
                    escape::shell_word(want)
                );
                Decision::Allow
            }
            None => {
                let _ = writeln!(
                    msg,
                    "dockguard: policy repush, but cannot tell whether this is a dry run ({}); not pushing anything myself",
                    request.cmdline_problem.as_deref().unwrap_or("unknown")
                );
                plan.tell_retry(msg, policy.as_str());
                Decision::Block
            }
            Some(false) => Decision::Repush(Box::new(plan)),
        },
        Policy::Block => {
            plan.tell_retry(msg, policy.as_str());
            Decision::Block
        }
    }
}

/// `-v`: one line per pushed ref saying what it was compared with and what came of it.
fn explain(msg: &mut String, judged: &Judged<'_>, upstream: &str) {
    for (u, i) in &judged.refs {
        let Some(v) = i.map(|i| &judged.verdicts[i]) else {
            continue;
        };
        let base = match v.merge_base {
            Some(b) => format!("merge-base {} with {upstream}", short(&b)),
            None => format!("no merge-base with {upstream}"),
        };
        let paths = v
            .changes
            .iter()
            .take(MAX_REFS_NAMED)
            .map(|c| c.path.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        // Pushed paths may hold control characters: never print them raw.
        let paths = escape::text(&paths);
        let _ = writeln!(
            msg,
            "dockguard: {} -> {}: {base}; {} path{} images are built from differ{}{}, {} other{} ignored; {}",
            escape::text(&u.remote_ref),
            short(&v.tip),
            v.changes.len(),
            plural(v.changes.len()),
            if v.changes.len() == 1 { "s" } else { "" },
            if paths.is_empty() { String::new() } else { format!(" ({paths})") },
            v.other_changes,
            if v.other_changes == 1 { "" } else { "s" },
            if v.rebuild { "rebuild" } else { "no rebuild" },
        );
        if !u.is_new() {
            let _ = writeln!(
                msg,
                "  (the remote had {}; what it had does not matter, only the merge-base does)",
                &u.remote_oid.as_str()[..u.remote_oid.as_str().len().min(12)]
            );
        }
        for r in &v.reasons {
            let _ = writeln!(msg, "  {}", escape::text(r));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Judgements of the pushed refs, one per distinct commit.
struct Judged<'u> {
    /// Each pushed update with the index of its verdict (`None`: it points at no commit).
    refs: Vec<(&'u PushUpdate, Option<usize>)>,
    verdicts: Vec<TargetVerdict>,
    /// Per verdict, what attributing its changes needs (see [`Engine::attribute`]).
    pending: Vec<Option<Unattributed>>,
}

fn judge_all<'u>(
    repo: &Repository,
    engine: &mut Engine<'_>,
    pushed: &[&'u PushUpdate],
    msg: &mut String,
) -> Result<Judged<'u>> {
    let mut by_commit: HashMap<Oid, usize> = HashMap::new();
    let mut out = Judged {
        refs: Vec::with_capacity(pushed.len()),
        verdicts: Vec::new(),
        pending: Vec::new(),
    };
    for u in pushed {
        let Some(commit) = local_commit(repo, u)? else {
            let _ = writeln!(
                msg,
                "dockguard: note: {} ({}) is not a commit; nothing to judge for it",
                u.remote_ref, u.local_oid
            );
            out.refs.push((u, None));
            continue;
        };
        let i = match by_commit.get(&commit) {
            Some(i) => *i,
            None => {
                let target = Target {
                    label: u.remote_ref.clone(),
                    oid: commit,
                };
                let (v, pending) = engine.judge_unattributed(&target)?;
                out.verdicts.push(v);
                out.pending.push(pending);
                by_commit.insert(commit, out.verdicts.len() - 1);
                out.verdicts.len() - 1
            }
        };
        out.refs.push((u, Some(i)));
    }
    Ok(out)
}

/// The commit a pushed object is (tags peeled); `None` when it is no commit.
fn local_commit(repo: &Repository, u: &PushUpdate) -> Result<Option<Oid>> {
    let line = |what: String, hint: &str| Error::Hinted {
        message: format!(
            "pre-push input line {} ({} -> {}): {what}",
            u.line, u.local_ref, u.remote_ref
        ),
        hint: hint.to_owned(),
    };
    if u.local_oid.as_str().len() != 40 {
        return Err(line(
            format!("object id {} is SHA-256", u.local_oid),
            "SHA-256 repositories are not supported by dockguard's libgit2 yet",
        ));
    }
    let oid = Oid::from_str(u.local_oid.as_str()).map_err(|e| Error::git("bad object id", e))?;
    let obj = match repo.find_object(oid, None) {
        Ok(o) => o,
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(line(
                format!("the object to push, {oid}, does not exist in this repository"),
                "git gives the hook the local object it pushes; is GIT_DIR pointing at another repository?",
            ))
        }
        Err(e) => return Err(Error::git(format!("cannot read object {oid}"), e)),
    };
    Ok(obj.peel(ObjectType::Commit).ok().map(|c| c.id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_values() {
        assert!(truthy(Some("1")) && truthy(Some("YES")) && truthy(Some(" true ")));
        assert!(!truthy(Some("0")) && !truthy(Some("")) && !truthy(None));
    }
}
