//! What the hook does when a push needs a rebuild and does not ask for it: describe why
//! (refs, paths, commits), print the exact commands to push again, or push again itself.
//!
//! The commands are built from git's stdin lines, so they name exactly the updates git
//! was about to make: the sources as the user typed them, `:dst` for deletions, and a
//! `--force-with-lease=<dst>:<remote oid>` wherever git needed force (a non-fast-forward
//! update, an existing tag). Our own re-push (policy `repush`) pushes the exact objects
//! judged, with a lease on every ref (`<dst>:` for a new ref: "must not exist"), so it can
//! never overwrite what someone else pushed meanwhile; `--no-verify` keeps this hook from
//! running again. Words are quoted for a POSIX shell, so a printed line can be pasted.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::process::Stdio;

use git2::{ObjectType, Oid, Repository};

use super::request::PushContext;
use super::stdin::PushUpdate;
use super::{emit, git_command};
use crate::cli::PrePushArgs;
use crate::config::request::{same_request, CI_SKIP};
use crate::engine::verdict::TargetVerdict;
use crate::error::{Error, Result};
use crate::git::short;
use crate::render::escape::{self, shell_join as sh_join, shell_word as sh_quote};
use crate::Env;

/// At most this many refs are described in detail in messages (all are judged).
const MAX_REFS_SHOWN: usize = 10;
/// At most this many paths per ref, commits per path, and images per path are listed.
const MAX_PATHS_SHOWN: usize = 10;
const MAX_COMMITS_SHOWN: usize = 5;
const MAX_READERS_SHOWN: usize = 3;

/// Attributes the changes [`describe`] will show (the first refs and paths) to commits,
/// and says why each counts ([`crate::engine::Engine::explain`]).
pub(super) fn attribute_shown(
    engine: &mut crate::engine::Engine<'_>,
    rebuild: &[(&PushUpdate, usize)],
    verdicts: &mut [TargetVerdict],
    pending: &mut [Option<crate::engine::Unattributed>],
) -> Result<()> {
    for (_, i) in rebuild.iter().take(MAX_REFS_SHOWN) {
        if let (Some(v), Some(p)) = (verdicts.get_mut(*i), pending.get_mut(*i)) {
            if let Some(p) = p.take() {
                engine.attribute(v, &p, MAX_PATHS_SHOWN)?;
                engine.explain(v, &p, MAX_PATHS_SHOWN)?;
            }
        }
    }
    Ok(())
}

pub(super) fn describe(
    msg: &mut String,
    rebuild: &[(&PushUpdate, usize)],
    verdicts: &[TargetVerdict],
) {
    let mut shown: HashMap<usize, &str> = HashMap::new();
    for (u, i) in rebuild.iter().take(MAX_REFS_SHOWN) {
        let v = &verdicts[*i];
        let _ = writeln!(
            msg,
            "  {} ({}): {}",
            escape::text(&u.remote_ref),
            short(&v.tip),
            escape::text(&v.reasons.join("; "))
        );
        if let Some(first) = shown.get(i) {
            let _ = writeln!(msg, "      (same commit as {first})");
            continue;
        }
        shown.insert(*i, &u.remote_ref);
        if let Some(b) = &v.base_unknown {
            let _ = writeln!(msg, "      {}", escape::text(&b.detail));
        }
        for c in v.changes.iter().take(MAX_PATHS_SHOWN) {
            let path = match &c.old_path {
                Some(old) => format!("{old} -> {}", c.path),
                None => c.path.clone(),
            };
            // Pushed paths may hold control characters: never print them raw.
            let path = crate::render::outputs::one_line(&path);
            let role = match c.role {
                crate::engine::matcher::PathRole::Dockerfile => "dockerfile",
                crate::engine::matcher::PathRole::Input => "image input",
            };
            let _ = writeln!(msg, "      {:<9}{path} ({role})", c.kind.word());
            for oid in c.commits.iter().flatten().take(MAX_COMMITS_SHOWN) {
                let summary = v
                    .commits
                    .iter()
                    .flatten()
                    .find(|t| t.oid.to_string() == *oid)
                    .map(|t| crate::render::outputs::one_line(&t.summary))
                    .unwrap_or_default();
                let _ = writeln!(
                    msg,
                    "               {} {summary}",
                    &oid[..10.min(oid.len())]
                );
            }
            for line in crate::render::human::why_lines(v, c, MAX_READERS_SHOWN) {
                let _ = writeln!(msg, "        {line}");
            }
        }
        for b in &v.build_changes {
            let _ = writeln!(
                msg,
                "      {:<9}image `{}`: {}",
                "build",
                crate::render::outputs::one_line(&b.image),
                crate::render::outputs::one_line(&b.reason())
            );
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
pub(super) struct Plan {
    want: String,
    /// Push options of the original push other than ours.
    others: Vec<String>,
    /// Options the user gave on the command line other than ours (for `dockguard push`,
    /// which reads push.pushOption itself).
    cmdline_others: Vec<String>,
    atomic: bool,
    /// The push was `--mirror`: the commands shown push the mirror again.
    mirror: bool,
    remote: String,
    /// `--force-with-lease` only where the update is not a fast-forward (for the user).
    needed_leases: Vec<String>,
    /// `--force-with-lease` for every update (for our own push: nothing blind).
    all_leases: Vec<String>,
    /// Refspecs as the user typed their sources.
    refspecs: Vec<String>,
    /// Refspecs with the exact objects judged.
    exact_refspecs: Vec<String>,
    /// What each remote ref must point at once our push landed (`None`: deleted).
    landed: Vec<(String, Option<String>)>,
}

impl Plan {
    pub(super) fn new(
        repo: &Repository,
        args: &PrePushArgs,
        updates: &[PushUpdate],
        ctx: &PushContext,
        want: &str,
    ) -> Self {
        // The commands shown must do what they promise: an option setting the request to
        // something else (`=0`) would contradict it, and `ci.skip` would leave GitLab
        // without a pipeline to rebuild in.
        let keep = |o: &&String| !same_request(o, want) && *o != CI_SKIP;
        let mut p = Plan {
            want: want.to_owned(),
            others: ctx.options.iter().filter(keep).cloned().collect(),
            cmdline_others: ctx
                .scan
                .iter()
                .flat_map(|s| s.push_options.iter())
                .filter(keep)
                .cloned()
                .collect(),
            atomic: ctx.scan.as_ref().is_some_and(|s| s.atomic),
            mirror: ctx.scan.as_ref().is_some_and(|s| s.mirror),
            remote: args.remote.clone(),
            needed_leases: Vec::new(),
            all_leases: Vec::new(),
            refspecs: Vec::new(),
            exact_refspecs: Vec::new(),
            landed: Vec::new(),
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
            p.landed.push((
                u.remote_ref.clone(),
                (!u.is_delete()).then(|| u.local_oid.to_string()),
            ));
        }
        p
    }

    /// Options, then the remote and refspecs. `--end-of-options` goes before them when
    /// `always` (a command dockguard runs) or when one starts with `-` (a printed one:
    /// git would read such a word as an option).
    fn common(&self, leases: &[String], refspecs: &[String], always: bool) -> Vec<String> {
        let mut v = Vec::new();
        if self.atomic {
            v.push("--atomic".to_owned());
        }
        v.extend(leases.iter().cloned());
        let dashed = std::iter::once(&self.remote)
            .chain(refspecs)
            .any(|w| w.starts_with('-'));
        if always || dashed {
            v.push("--end-of-options".to_owned());
        }
        v.push(self.remote.clone());
        v.extend(refspecs.iter().cloned());
        v
    }

    /// The remote and refspecs of a command shown to the user: after a `--mirror` push,
    /// `--mirror REMOTE` again (its refs include remote-tracking ones and its deletions).
    fn shown_tail(&self) -> Vec<String> {
        if self.mirror {
            let mut v = vec!["--mirror".to_owned()];
            if self.remote.starts_with('-') {
                v.push("--end-of-options".to_owned());
            }
            v.push(self.remote.clone());
            return v;
        }
        self.common(&self.needed_leases, &self.refspecs, false)
    }

    pub(super) fn dockguard_push(&self) -> String {
        let mut v = vec!["dockguard".to_owned(), "push".to_owned()];
        for o in &self.cmdline_others {
            v.extend(["-o".to_owned(), o.clone()]);
        }
        v.extend(self.shown_tail());
        sh_join(&v)
    }

    fn git_push(&self) -> String {
        let mut v = vec!["git".to_owned(), "push".to_owned()];
        for o in self.others.iter().chain([&self.want]) {
            v.extend(["-o".to_owned(), o.clone()]);
        }
        v.extend(self.shown_tail());
        sh_join(&v)
    }

    /// `git` arguments for our own push: the same updates, exact objects, a lease on
    /// every ref, the option, and no hooks (this hook must not run again).
    fn repush_args(&self) -> Vec<String> {
        let mut v = vec!["push".to_owned(), "--no-verify".to_owned()];
        for o in self.sent_options() {
            v.extend(["-o".to_owned(), o]);
        }
        v.extend(self.common(&self.all_leases, &self.exact_refspecs, true));
        v
    }

    fn sent_options(&self) -> Vec<String> {
        self.others.iter().chain([&self.want]).cloned().collect()
    }

    pub(super) fn tell_retry(&self, msg: &mut String, policy: &str) {
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

pub(super) fn repush(
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
    // No hand-off: `--no-verify` runs no pre-push hook that could read one.
    let status = git_command(repo, env)
        .args(&git_args)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::io("cannot run git push", e))?;
    // git's exit status alone does not say what reached the remote: a push can be
    // partly rejected, and git 2.47 may die of SIGPIPE after a rejection. Ask the remote.
    let state = if status.success() {
        Landed::All
    } else {
        landed(repo, env, &args.remote, &plan.landed)
    };
    let again = plan.dockguard_push();
    let text = match state {
        Landed::All => format!(
            "\ndockguard: THE PUSH ALREADY HAPPENED: {} now has your refs, pushed WITH -o {}.\n\
             dockguard: stopping the original push on purpose; the \"failed to push\" error git prints next is expected.\n",
            escape::text(&args.remote),
            sh_quote(&plan.want)
        ),
        Landed::None => format!(
            "\ndockguard: my push with -o {} failed ({}), and the remote has none of it: nothing was pushed; the original push is stopped too.\n  push again with: {again}\n",
            sh_quote(&plan.want),
            describe_status(status)
        ),
        Landed::Some { done, not } => format!(
            "\ndockguard: my push with -o {} failed ({}) PART WAY: the remote has {} but not {}; the original push is stopped.\n  push the rest with: {again}\n",
            sh_quote(&plan.want),
            describe_status(status),
            escape::text(&done.join(", ")),
            escape::text(&not.join(", "))
        ),
        Landed::Unknown(why) => format!(
            "\ndockguard: my push with -o {} failed ({}), and checking the remote failed too ({why}); see `git ls-remote {}`. The original push is stopped.\n  push again with: {again}\n",
            sh_quote(&plan.want),
            describe_status(status),
            sh_quote(&args.remote)
        ),
    };
    emit(err, &text);
    Ok(1)
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("git exited with {c}; its message is above"),
        (None, Some(13)) => "git was killed by SIGPIPE".into(),
        (None, Some(s)) => format!("git was killed by signal {s}"),
        (None, None) => "git failed".into(),
    }
}

/// How much of our push the remote has.
enum Landed {
    All,
    None,
    Some { done: Vec<String>, not: Vec<String> },
    Unknown(String),
}

/// Compares the remote's refs (`git ls-remote`) with what our push set them to.
fn landed(
    repo: &Repository,
    env: &Env,
    remote: &str,
    expected: &[(String, Option<String>)],
) -> Landed {
    let out = git_command(repo, env)
        .args(["ls-remote", "--end-of-options"])
        .arg(remote)
        .args(expected.iter().map(|(r, _)| r))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => return Landed::Unknown(format!("git ls-remote: {}", describe_status(o.status))),
        Err(e) => return Landed::Unknown(format!("cannot run git ls-remote: {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let now: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(oid, r)| (r, oid))
        .collect();
    let (done, not): (Vec<_>, Vec<_>) = expected
        .iter()
        .partition(|(r, want)| now.get(r.as_str()).copied() == want.as_deref());
    let names = |v: Vec<&(String, Option<String>)>| v.into_iter().map(|(r, _)| r.clone()).collect();
    match (done.is_empty(), not.is_empty()) {
        (_, true) => Landed::All,
        (true, false) => Landed::None,
        (false, false) => Landed::Some {
            done: names(done),
            not: names(not),
        },
    }
}
