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
pub mod chain;
pub mod precommit;
pub mod request;
pub mod stdin;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::Command;

use git2::{ObjectType, Oid, Repository};

use crate::cli::{HookArgs, HookKind, HookOutput, PrePushArgs};
use crate::config::{FileLayer, Overrides, Settings};
use crate::engine::targets::Target;
use crate::engine::verdict::{short, TargetVerdict};
use crate::engine::{Engine, JudgeOptions};
use crate::error::{Error, Result};
use crate::render::escape;
use crate::Env;

use self::action::{describe, repush, Plan};
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
        // pre-commit has read git's stdin already; the refs come from its variables.
        HookKind::PreCommit(a) => {
            let (args, input) = precommit::from_env(repo, env, a.output)?;
            pre_push(repo, &args, env, &input, err)
        }
    }
}

/// How much the hook says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// One line when nothing needs doing.
    Quiet,
    /// The default.
    Normal,
    /// Also why each ref was judged as it was.
    Verbose,
}

impl Verbosity {
    /// Flags win over the `verbosity` setting.
    pub fn new(flags: HookOutput, settings: &Settings) -> Self {
        if flags.quiet {
            Verbosity::Quiet
        } else if flags.verbose {
            Verbosity::Verbose
        } else {
            match settings.choice("verbosity") {
                "quiet" => Verbosity::Quiet,
                "verbose" => Verbosity::Verbose,
                _ => Verbosity::Normal,
            }
        }
    }
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
            let _ = writeln!(msg, "{}", e.render());
            let _ = writeln!(
                msg,
                "  escape hatch: DOCKGUARD_SKIP=1 git push … skips dockguard for one push \
                 (git push --no-verify skips every hook); \
                 `git config dockguard.on-error allow` lets pushes through when dockguard fails"
            );
            if on_error(repo, env) == "allow" {
                let _ = writeln!(
                    msg,
                    "dockguard: warning: letting the push through unchecked (on_error = allow)"
                );
                Decision::Allow
            } else {
                emit(err, &msg);
                return Ok(2);
            }
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

/// The layers above the file (git config, env), read once.
pub fn load_overrides(repo: &Repository, env: &Env) -> Result<Overrides> {
    let config = repo
        .config()
        .map_err(|e| Error::git("cannot read git config", e))?;
    Overrides::load(Some(&config), &env.vars, &[])
}

/// Run-level settings, as [`Engine::new`] computes them: the work tree's
/// `.dockguard.toml`, else HEAD's, under the overrides. Needed before the engine exists
/// (which remotes count, what to do on error).
pub fn run_settings(repo: &Repository, overrides: &Overrides) -> Result<Settings> {
    let mut file = match repo.workdir() {
        Some(dir) => FileLayer::from_workdir(dir)?,
        None => None,
    };
    if file.is_none() {
        if let Some(tree) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) {
            file = FileLayer::from_tree(repo, &tree, "HEAD")?;
        }
    }
    Ok(overrides.resolve(file.as_ref()))
}

/// `on_error`, best effort: from the settings when they load, else straight from the
/// environment or git config (the settings may be what failed).
fn on_error(repo: &Repository, env: &Env) -> String {
    if let Ok(s) = load_overrides(repo, env).and_then(|o| run_settings(repo, &o)) {
        return s.choice("on_error").to_owned();
    }
    if let Some(v) = env.get("DOCKGUARD_ON_ERROR") {
        return v.trim().to_owned();
    }
    repo.config()
        .and_then(|c| c.get_string("dockguard.on-error"))
        .unwrap_or_else(|_| "block".into())
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

/// Does the hook apply to this remote? `remotes` entries are remote names (or exact
/// URLs), or `/REGEX/` searched in the URL; an empty list means every remote.
pub fn remote_in_scope(patterns: &[String], remote: &str, url: &str) -> Result<bool> {
    if patterns.is_empty() {
        return Ok(true);
    }
    for p in patterns {
        if let Some(re) = p
            .strip_prefix('/')
            .and_then(|r| r.strip_suffix('/'))
            .filter(|_| p.len() >= 2)
        {
            let re = regex::Regex::new(re).map_err(|e| Error::Config {
                origin: "setting `remotes`".into(),
                message: format!("`{p}` is not a valid regex: {e}"),
            })?;
            if re.is_match(url) {
                return Ok(true);
            }
        } else if p == remote || p == url {
            return Ok(true);
        }
    }
    Ok(false)
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
    let overrides = load_overrides(repo, env)?;
    let settings = run_settings(repo, &overrides)?;
    let verbosity = Verbosity::new(args.output, &settings);
    if !remote_in_scope(&settings.list("remotes"), &args.remote, &args.url)? {
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
    let mut engine = Engine::new(repo, overrides)?;
    let judged = judge_all(repo, &mut engine, &pushed, msg)?;
    let up = &engine.upstream;
    let judged_line = format!(
        "judged {} ref{} ({} distinct commit{}) against {} at {}",
        pushed.len(),
        plural(pushed.len()),
        judged.verdicts.len(),
        plural(judged.verdicts.len()),
        up.refname,
        short(&up.oid)
    );
    if verbosity != Verbosity::Quiet {
        let _ = writeln!(msg, "dockguard: {judged_line}");
    }
    if verbosity == Verbosity::Verbose {
        explain(msg, &judged, &up.refname);
    }
    let rebuild: Vec<(&PushUpdate, usize)> = judged
        .refs
        .iter()
        .filter_map(|(u, i)| i.map(|i| (*u, i)))
        .filter(|(_, i)| judged.verdicts[*i].rebuild)
        .collect();
    if rebuild.is_empty() {
        if verbosity == Verbosity::Quiet {
            let _ = writeln!(msg, "dockguard: no image rebuild needed ({judged_line})");
        } else {
            let _ = writeln!(
                msg,
                "dockguard: no image rebuild needed: nothing images are built from differs from upstream"
            );
        }
        return Ok(Decision::Allow);
    }
    let want = engine
        .settings()
        .string_or_default("push_option")
        .to_owned();
    let ctx = request::detect(
        env.get(OPTIONS_ENV),
        std::os::unix::process::parent_id(),
        || request::configured_push_options(git_command(repo, env)),
    )?;
    let names = rebuild
        .iter()
        .map(|(u, _)| u.remote_ref.as_str())
        .take(MAX_REFS_NAMED)
        .collect::<Vec<_>>()
        .join(", ");
    let shown_want = escape::shell_word(&want);
    let names = escape::text(&names);
    if ctx.options.contains(&want) {
        let _ = writeln!(
            msg,
            "dockguard: images must be rebuilt for {names}; this push asks for it (-o {shown_want}, seen in {})",
            ctx.source
        );
        return Ok(Decision::Allow);
    }
    if verbosity == Verbosity::Quiet {
        let _ = writeln!(msg, "dockguard: {judged_line}");
    }
    let _ = writeln!(
        msg,
        "dockguard: images must be rebuilt for this push, and it does not ask the CI to (-o {shown_want})"
    );
    let seen = if ctx.options.is_empty() {
        "none".to_owned()
    } else {
        ctx.options
            .iter()
            .map(|o| escape::shell_word(o))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(msg, "  push options seen: {seen} (from {})", ctx.source);
    let _ = writeln!(
        msg,
        "  upstream: {} at {} ({})",
        escape::text(&up.refname),
        short(&up.oid),
        escape::text(&up.chosen_by)
    );
    describe(msg, &rebuild, &judged.verdicts);
    let plan = Plan::new(repo, args, &updates, &ctx, &want);
    let policy = engine.settings().choice("policy").to_owned();
    match policy.as_str() {
        "warn" => {
            let _ = writeln!(
                msg,
                "dockguard: warning: pushing WITHOUT asking the CI to rebuild (policy warn); CI may test against stale images.\n  to ask for it next time: {}",
                plan.dockguard_push()
            );
            Ok(Decision::Allow)
        }
        "repush" => match ctx.dry_run() {
            Some(true) => {
                let _ = writeln!(
                    msg,
                    "dockguard: dry run: a real push would be pushed again by dockguard with -o {shown_want} (policy repush); nothing is pushed now"
                );
                Ok(Decision::Allow)
            }
            None => {
                let _ = writeln!(
                    msg,
                    "dockguard: policy repush, but cannot tell whether this is a dry run ({}); not pushing anything myself",
                    ctx.cmdline_problem.as_deref().unwrap_or("unknown")
                );
                plan.tell_retry(msg, &policy);
                Ok(Decision::Block)
            }
            Some(false) => Ok(Decision::Repush(Box::new(plan))),
        },
        _ => {
            plan.tell_retry(msg, &policy);
            Ok(Decision::Block)
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
                out.verdicts
                    .push(engine.judge(&target, JudgeOptions { commits: true })?);
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
    fn remotes_by_name_url_or_regex() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(remote_in_scope(&[], "origin", "u").expect("ok"));
        assert!(remote_in_scope(&p(&["origin"]), "origin", "u").expect("ok"));
        assert!(!remote_in_scope(&p(&["upstream"]), "origin", "u").expect("ok"));
        let re = p(&[r"/gitlab\.example\.com[:/]/"]);
        assert!(remote_in_scope(&re, "x", "git@gitlab.example.com:a/b.git").expect("ok"));
        assert!(!remote_in_scope(&re, "x", "https://github.com/a/b").expect("ok"));
        assert!(remote_in_scope(&p(&["/srv/x.git"]), "/srv/x.git", "/srv/x.git").expect("ok"));
        let e = remote_in_scope(&p(&["/(/"]), "x", "y")
            .expect_err("bad regex")
            .to_string();
        assert!(
            e.contains("remotes") && e.contains("not a valid regex"),
            "{e}"
        );
    }

    #[test]
    fn skip_values() {
        assert!(truthy(Some("1")) && truthy(Some("YES")) && truthy(Some(" true ")));
        assert!(!truthy(Some("0")) && !truthy(Some("")) && !truthy(None));
    }
}
