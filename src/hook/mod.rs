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

pub mod chain;
pub mod request;
pub mod stdin;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

use git2::{ObjectType, Oid, Repository};

use crate::cli::{HookArgs, HookKind, PrePushArgs};
use crate::config::{FileLayer, Overrides, Settings};
use crate::engine::{Engine, JudgeOptions};
use crate::error::{Error, Result};
use crate::targets::Target;
use crate::verdict::{short, TargetVerdict};
use crate::Env;

use self::request::{PushContext, OPTIONS_ENV};
use self::stdin::{parse_pre_push, PushUpdate};

/// At most this many refs are described in detail in messages (all are judged).
const MAX_REFS_SHOWN: usize = 10;
/// At most this many paths per ref, and commits per path, are listed.
const MAX_PATHS_SHOWN: usize = 10;
const MAX_COMMITS_SHOWN: usize = 5;

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
    }
}

/// What the hook decided.
#[derive(Debug)]
enum Decision {
    Allow,
    Block,
    Repush(Plan),
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

fn emit(err: &mut dyn Write, text: &str) {
    let _ = err.write_all(text.as_bytes());
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
    let _ = writeln!(
        msg,
        "dockguard: judged {} ref{} ({} distinct commit{}) against {} at {}",
        pushed.len(),
        plural(pushed.len()),
        judged.verdicts.len(),
        plural(judged.verdicts.len()),
        up.refname,
        short(&up.oid)
    );
    let rebuild: Vec<(&PushUpdate, usize)> = judged
        .refs
        .iter()
        .filter_map(|(u, i)| i.map(|i| (*u, i)))
        .filter(|(_, i)| judged.verdicts[*i].rebuild)
        .collect();
    if rebuild.is_empty() {
        let _ = writeln!(
            msg,
            "dockguard: no image rebuild needed: nothing images are built from differs from upstream"
        );
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
        .take(MAX_REFS_SHOWN)
        .collect::<Vec<_>>()
        .join(", ");
    if ctx.options.contains(&want) {
        let _ = writeln!(
            msg,
            "dockguard: images must be rebuilt for {names}; this push asks for it (-o {want}, seen in {})",
            ctx.source
        );
        return Ok(Decision::Allow);
    }
    let _ = writeln!(
        msg,
        "dockguard: images must be rebuilt for this push, and it does not ask the CI to (-o {want})"
    );
    let seen = if ctx.options.is_empty() {
        "none".to_owned()
    } else {
        ctx.options.join(", ")
    };
    let _ = writeln!(msg, "  push options seen: {seen} (from {})", ctx.source);
    let _ = writeln!(
        msg,
        "  upstream: {} at {} ({})",
        up.refname,
        short(&up.oid),
        up.chosen_by
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
                    "dockguard: dry run: a real push would be pushed again by dockguard with -o {want} (policy repush); nothing is pushed now"
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
            Some(false) => Ok(Decision::Repush(plan)),
        },
        _ => {
            plan.tell_retry(msg, &policy);
            Ok(Decision::Block)
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

fn describe(msg: &mut String, rebuild: &[(&PushUpdate, usize)], verdicts: &[TargetVerdict]) {
    let mut shown: HashMap<usize, &str> = HashMap::new();
    for (u, i) in rebuild.iter().take(MAX_REFS_SHOWN) {
        let v = &verdicts[*i];
        let _ = writeln!(
            msg,
            "  {} ({}): {}",
            u.remote_ref,
            short(&v.tip),
            v.reasons.join("; ")
        );
        if let Some(first) = shown.get(i) {
            let _ = writeln!(msg, "      (same commit as {first})");
            continue;
        }
        shown.insert(*i, &u.remote_ref);
        if let Some(b) = &v.base_unknown {
            let _ = writeln!(msg, "      {}", b.detail);
        }
        for c in v.changes.iter().take(MAX_PATHS_SHOWN) {
            let path = match &c.old_path {
                Some(old) => format!("{old} -> {}", c.path),
                None => c.path.clone(),
            };
            let role = match c.role {
                crate::matcher::PathRole::Dockerfile => "dockerfile",
                crate::matcher::PathRole::Input => "image input",
            };
            let _ = writeln!(msg, "      {:<9}{path} ({role})", c.kind.word());
            for oid in c.commits.iter().flatten().take(MAX_COMMITS_SHOWN) {
                let summary = v
                    .commits
                    .iter()
                    .flatten()
                    .find(|t| t.oid.to_string() == *oid)
                    .map(|t| t.summary.as_str())
                    .unwrap_or_default();
                let _ = writeln!(
                    msg,
                    "               {} {summary}",
                    &oid[..10.min(oid.len())]
                );
            }
        }
        if v.changes.len() > MAX_PATHS_SHOWN {
            let _ = writeln!(
                msg,
                "      … and {} more (dockguard check {} lists them all)",
                v.changes.len() - MAX_PATHS_SHOWN,
                short(&v.tip)
            );
        }
    }
    if rebuild.len() > MAX_REFS_SHOWN {
        let _ = writeln!(
            msg,
            "  … and {} more refs that need a rebuild",
            rebuild.len() - MAX_REFS_SHOWN
        );
    }
}

/// Everything needed to tell the user how to push again, or to push again ourselves.
#[derive(Debug)]
struct Plan {
    want: String,
    /// Push options of the original push other than ours.
    others: Vec<String>,
    /// Options the user gave on the command line other than ours (for `dockguard push`,
    /// which reads push.pushOption itself).
    cmdline_others: Vec<String>,
    atomic: bool,
    remote: String,
    /// `--force-with-lease` only where the update is not a fast-forward (for the user).
    needed_leases: Vec<String>,
    /// `--force-with-lease` for every update (for our own push: nothing blind).
    all_leases: Vec<String>,
    /// Refspecs as the user typed their sources.
    refspecs: Vec<String>,
    /// Refspecs with the exact objects judged.
    exact_refspecs: Vec<String>,
}

impl Plan {
    fn new(
        repo: &Repository,
        args: &PrePushArgs,
        updates: &[PushUpdate],
        ctx: &PushContext,
        want: &str,
    ) -> Self {
        let mut p = Plan {
            want: want.to_owned(),
            others: ctx.options.iter().filter(|o| *o != want).cloned().collect(),
            cmdline_others: ctx
                .scan
                .iter()
                .flat_map(|s| s.push_options.iter())
                .filter(|o| *o != want)
                .cloned()
                .collect(),
            atomic: ctx.scan.as_ref().is_some_and(|s| s.atomic),
            remote: args.remote.clone(),
            needed_leases: Vec::new(),
            all_leases: Vec::new(),
            refspecs: Vec::new(),
            exact_refspecs: Vec::new(),
        };
        for u in updates {
            let expected = if u.is_new() {
                String::new()
            } else {
                u.remote_oid.to_string()
            };
            let lease = format!("--force-with-lease={}:{expected}", u.remote_ref);
            if u.is_delete() {
                p.refspecs.push(format!(":{}", u.remote_ref));
                p.exact_refspecs.push(format!(":{}", u.remote_ref));
            } else {
                if needs_force(repo, u) {
                    p.needed_leases.push(lease.clone());
                }
                p.refspecs.push(if u.local_ref == u.remote_ref {
                    u.remote_ref.clone()
                } else {
                    format!("{}:{}", u.local_ref, u.remote_ref)
                });
                p.exact_refspecs
                    .push(format!("{}:{}", u.local_oid, u.remote_ref));
            }
            p.all_leases.push(lease);
        }
        p
    }

    fn common(&self, leases: &[String], refspecs: &[String]) -> Vec<String> {
        let mut v = Vec::new();
        if self.atomic {
            v.push("--atomic".to_owned());
        }
        v.extend(leases.iter().cloned());
        v.push(self.remote.clone());
        v.extend(refspecs.iter().cloned());
        v
    }

    fn dockguard_push(&self) -> String {
        let mut v = vec!["dockguard".to_owned(), "push".to_owned()];
        for o in &self.cmdline_others {
            v.extend(["-o".to_owned(), o.clone()]);
        }
        v.extend(self.common(&self.needed_leases, &self.refspecs));
        sh_join(&v)
    }

    fn git_push(&self) -> String {
        let mut v = vec!["git".to_owned(), "push".to_owned()];
        for o in self.others.iter().chain([&self.want]) {
            v.extend(["-o".to_owned(), o.clone()]);
        }
        v.extend(self.common(&self.needed_leases, &self.refspecs));
        sh_join(&v)
    }

    /// `git` arguments for our own push: the same updates, exact objects, a lease on
    /// every ref, the option, and no hooks (this hook must not run again).
    fn repush_args(&self) -> Vec<String> {
        let mut v = vec!["push".to_owned(), "--no-verify".to_owned()];
        for o in self.sent_options() {
            v.extend(["-o".to_owned(), o]);
        }
        v.extend(self.common(&self.all_leases, &self.exact_refspecs));
        v
    }

    fn sent_options(&self) -> Vec<String> {
        self.others.iter().chain([&self.want]).cloned().collect()
    }

    fn tell_retry(&self, msg: &mut String, policy: &str) {
        let _ = writeln!(
            msg,
            "\nThe push is stopped (policy {policy}). Push again asking for the rebuild:\n  {}\nor, with git alone:\n  {}\nTo push without the rebuild this once: DOCKGUARD_SKIP=1 git push … (git push --no-verify skips every hook).",
            self.dockguard_push(),
            self.git_push()
        );
    }
}

/// Would git need force for this update? New refs never; existing tags always; a branch
/// when the remote's commit is unknown here or not an ancestor of the new one.
fn needs_force(repo: &Repository, u: &PushUpdate) -> bool {
    if u.is_new() {
        return false;
    }
    if u.remote_ref.starts_with("refs/tags/") {
        return true;
    }
    let (Ok(old), Ok(new)) = (
        Oid::from_str(u.remote_oid.as_str()),
        Oid::from_str(u.local_oid.as_str()),
    ) else {
        return true;
    };
    if old == new {
        return false;
    }
    let new = match repo
        .find_object(new, None)
        .and_then(|o| o.peel(ObjectType::Commit))
    {
        Ok(c) => c.id(),
        Err(_) => return true,
    };
    !(repo.find_commit(old).is_ok() && repo.graph_descendant_of(new, old).unwrap_or(false))
}

fn repush(
    repo: &Repository,
    env: &Env,
    args: &PrePushArgs,
    plan: &Plan,
    err: &mut dyn Write,
) -> Result<i32> {
    let git_args = plan.repush_args();
    let mut shown = vec!["git".to_owned()];
    shown.extend(git_args.iter().cloned());
    emit(
        err,
        &format!(
            "dockguard: policy repush: pushing the same updates myself, asking for the rebuild:\n  {}\n",
            sh_join(&shown)
        ),
    );
    let status = git_command(repo, env)
        .args(&git_args)
        .env(OPTIONS_ENV, plan.sent_options().join("\n"))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::io("cannot run git push", e))?;
    if status.success() {
        emit(
            err,
            &format!(
                "\ndockguard: THE PUSH ALREADY HAPPENED: {} now has your refs, pushed WITH -o {}.\n\
                 dockguard: stopping the original push on purpose; the \"failed to push\" error git prints next is expected.\n",
                args.remote, plan.want
            ),
        );
    } else {
        emit(
            err,
            &format!(
                "\ndockguard: my push with -o {} failed (git's message above), so nothing was pushed; the original push is stopped too.\n  push again with: {}\n",
                plan.want,
                plan.dockguard_push()
            ),
        );
    }
    Ok(1)
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Joins words into one POSIX shell command line.
pub fn sh_join(words: &[String]) -> String {
    words
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_a_posix_shell() {
        assert_eq!(sh_quote("refs/heads/x"), "refs/heads/x");
        assert_eq!(
            sh_quote("ci.variable=DOCKGUARD_REBUILD=1"),
            "ci.variable=DOCKGUARD_REBUILD=1"
        );
        assert_eq!(sh_quote("HEAD~"), "'HEAD~'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

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
