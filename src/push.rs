//! `dockguard push [git push args…]`: `git push` that asks for the rebuild exactly when
//! a pushed ref needs one.
//!
//! What will be pushed is learned from git itself, so push.default, explicit refspecs,
//! `--all`, `--tags`, `HEAD:refs/heads/x`, `--force` and deletions mean what they mean to
//! git: `git push --dry-run --porcelain --no-verify ARGS --no-quiet` lists every update
//! (`flag<TAB>from:to<TAB>summary`). Each update that makes a commit current is judged by
//! the engine; then the real `git push ARGS` runs, with `-o OPTION` added iff any needs
//! a rebuild, and with [`OPTIONS_ENV`] telling our own pre-push hook which options the
//! push carries: dockguard becomes that `git push` (exec), so the hand-off names its
//! process id and counts for no other push. git's exit code is passed through.
//!
//! Adding `-o` on the command line makes git ignore `push.pushOption`, so the configured
//! options are added explicitly too. Our options go before `--`, after any
//! `--no-push-option` of the user's.

use std::fmt::Write as _;
use std::io::Write;
use std::process::Stdio;

use git2::{ObjectType, Repository};

use crate::cli::PushArgs;
use crate::context::{Context, Door, Env};
use crate::engine::targets::Target;
use crate::engine::JudgeOptions;
use crate::error::{Error, Result};
use crate::hook::chain::exit_code;
use crate::hook::git_command;
use crate::hook::request::{configured_push_options, handoff_value, scan_push_args, OPTIONS_ENV};
use crate::render::escape::{self, shell_join as sh_join};

/// One line of `git push --porcelain` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PorcelainRef {
    /// ` ` fast-forward, `+` forced, `-` deleted, `*` new, `!` rejected, `=` up to date.
    pub flag: char,
    /// The source as typed (`HEAD`, `refs/heads/x`, an object name); empty for deletions.
    pub from: String,
    /// The remote ref.
    pub to: String,
    /// git's summary (`[new branch]`, `a..b`, `[rejected] (non-fast-forward)`).
    pub summary: String,
}

impl PorcelainRef {
    /// Will this update make a commit current on the remote?
    pub fn pushes_something(&self) -> bool {
        matches!(self.flag, ' ' | '+' | '*')
    }

    /// What the remote ref points at before the push, when git's summary says
    /// (`old..new`, `old...new (forced update)`; in full with `core.abbrev=no`).
    pub fn old_oid(&self) -> Option<&str> {
        let (old, _) = self.summary.split_once("..")?;
        (old.len() >= 40 && old.bytes().all(|b| b.is_ascii_hexdigit())).then_some(old)
    }
}

/// Parses `git push --porcelain` standard output (every `To <url>` block).
pub fn parse_porcelain(stdout: &str) -> Vec<PorcelainRef> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?;
            let refs = parts.next()?;
            let summary = parts.next().unwrap_or_default();
            let mut chars = flag.chars();
            let (Some(flag), None) = (chars.next(), chars.next()) else {
                return None;
            };
            let (from, to) = refs.rsplit_once(':')?;
            Some(PorcelainRef {
                flag,
                from: from.to_owned(),
                to: to.to_owned(),
                summary: summary.to_owned(),
            })
        })
        .collect()
}

/// The arguments `user` with `extra` inserted where git still reads options (before `--`).
fn with_options(user: &[String], extra: &[String]) -> Vec<String> {
    let end = scan_push_args(user).end_of_options.unwrap_or(user.len());
    let mut v = user[..end].to_vec();
    v.extend_from_slice(extra);
    v.extend_from_slice(&user[end..]);
    v
}

/// What `git push ARGS` would do, from git itself.
#[derive(Debug)]
pub struct DryRun {
    /// Every update it lists (old values in full: `core.abbrev=no`).
    pub refs: Vec<PorcelainRef>,
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// `git push --dry-run --porcelain --no-verify ARGS --no-quiet`: the updates `git push
/// ARGS` would make. The dry run carries no push options: they do not change what is
/// pushed, and git 2.47 often dies of SIGPIPE on `push --dry-run -o X` to a server that
/// advertises them. An empty push.pushOption resets the configured list;
/// --no-push-option the command line's.
pub fn dry_run(repo: &Repository, env: &Env, user: &[String]) -> Result<DryRun> {
    let mut dry = vec![
        "-c".to_owned(),
        "push.pushOption=".to_owned(),
        "-c".to_owned(),
        "core.abbrev=no".to_owned(),
        "push".to_owned(),
        "--dry-run".to_owned(),
        "--porcelain".to_owned(),
        "--no-verify".to_owned(),
    ];
    dry.extend(with_options(
        user,
        &["--no-quiet".to_owned(), "--no-push-option".to_owned()],
    ));
    let out = git_command(repo, env)
        .args(&dry)
        .stdin(Stdio::inherit())
        .output()
        .map_err(|e| Error::io("cannot run `git push --dry-run`", e))?;
    Ok(DryRun {
        refs: parse_porcelain(&String::from_utf8_lossy(&out.stdout)),
        status: out.status,
        stderr: out.stderr,
    })
}

/// Runs the wrapper. Messages go to `err`; git's own output goes where git sends it.
/// On success it does not return: the process becomes the `git push` (see [`become_push`]).
pub fn run(repo: &Repository, args: &PushArgs, env: &Env, err: &mut dyn Write) -> Result<i32> {
    let user = &args.args;
    let scan = scan_push_args(user);
    let planned = dry_run(repo, env, user)?;
    let refs = planned.refs;
    if refs.is_empty() && !planned.status.success() {
        // git could not even plan the push (no such remote, no upstream, …): its words.
        let _ = err.write_all(&planned.stderr);
        let mut shown = vec!["git".to_owned(), "push".to_owned()];
        shown.extend(user.iter().cloned());
        let _ = writeln!(
            err,
            "dockguard: `{}` would fail (above); nothing was pushed",
            sh_join(&shown)
        );
        return Ok(exit_code(planned.status));
    }

    let want_and_need = judge(repo, env, &refs)?;
    let mut msg = want_and_need.msg;
    let cmdline_options = scan.push_options.clone();
    let effective = if cmdline_options.is_empty() {
        configured_push_options(git_command(repo, env))?
    } else {
        cmdline_options.clone()
    };
    let mut added = Vec::new();
    let mut sent = effective.clone();
    let asked = crate::config::request::options_request(&effective, &want_and_need.want);
    if want_and_need.need && !asked {
        if cmdline_options.is_empty() {
            // Our -o would make git drop push.pushOption: carry those along.
            for o in &effective {
                added.extend(["-o".to_owned(), o.clone()]);
            }
        }
        added.extend(["-o".to_owned(), want_and_need.want.clone()]);
        sent.push(want_and_need.want.clone());
        let _ = writeln!(
            msg,
            "dockguard: pushing with -o {}",
            escape::shell_word(&want_and_need.want)
        );
    }
    let _ = err.write_all(escape::lines(&msg).as_bytes());
    let _ = err.flush();

    let mut real = vec!["push".to_owned()];
    real.extend(with_options(user, &added));
    Err(become_push(git_command(repo, env), &real, &sent))
}

/// Replaces this process with `git ARGS`, telling our pre-push hook what it sends
/// ([`OPTIONS_ENV`]). Becoming the push, rather than starting it, keeps the process id,
/// so the hand-off names exactly that one `git push` (its pid and arguments): the hook
/// ignores it anywhere else (a nested push, another push that inherited the environment). git's exit status is
/// then the exit status. Returns only when exec fails.
fn become_push(mut git: std::process::Command, args: &[String], sent: &[String]) -> Error {
    use std::os::unix::process::CommandExt;
    git.args(args);
    match handoff_value(std::process::id(), args.get(1..).unwrap_or_default(), sent) {
        Some(value) => git.env(OPTIONS_ENV, value),
        // Never pass on a hand-off from elsewhere.
        None => git.env_remove(OPTIONS_ENV),
    };
    Error::io("cannot run `git push`", git.exec())
}

struct Judgement {
    want: String,
    need: bool,
    msg: String,
}

/// Judges every update that makes a commit current. When something cannot be judged,
/// the answer is "rebuild", with the reason.
fn judge(repo: &Repository, env: &Env, refs: &[PorcelainRef]) -> Result<Judgement> {
    let mut msg = String::new();
    let pushed: Vec<&PorcelainRef> = refs.iter().filter(|r| r.pushes_something()).collect();
    let ctx = Context::load(repo, env, Door::Local, &[])?;
    for w in ctx.warnings() {
        let _ = writeln!(msg, "dockguard: {w}");
    }
    let want = ctx.settings.push_option.clone();
    if pushed.is_empty() {
        return Ok(Judgement {
            want,
            need: false,
            msg,
        });
    }
    let mut engine = match ctx.engine(repo) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(
                msg,
                "{}\ndockguard: cannot judge this push, so asking for the rebuild to be safe",
                e.render()
            );
            return Ok(Judgement {
                want,
                need: true,
                msg,
            });
        }
    };
    let mut need = false;
    let mut cache = std::collections::HashMap::new();
    for r in pushed {
        let commit = repo
            .revparse_single(&r.from)
            .and_then(|o| o.peel(ObjectType::Commit))
            .map(|c| c.id());
        let commit = match commit {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(
                    msg,
                    "dockguard: {} ({}): cannot find the commit it pushes ({}); asking for the rebuild to be safe",
                    escape::text(&r.to),
                    escape::text(&r.from),
                    escape::text(e.message())
                );
                need = true;
                continue;
            }
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(commit) {
            let v = engine.judge(
                &Target {
                    label: r.to.clone(),
                    oid: commit,
                },
                JudgeOptions::default(),
            );
            let v = match v {
                Ok(v) => v,
                Err(e) => {
                    let _ = writeln!(
                        msg,
                        "{}\ndockguard: cannot judge {}; asking for the rebuild to be safe",
                        e.render(),
                        escape::text(&r.to)
                    );
                    need = true;
                    continue;
                }
            };
            slot.insert(v.rebuild);
            if v.rebuild {
                let paths: Vec<&str> = v.changes.iter().take(5).map(|c| c.path.as_str()).collect();
                let _ = writeln!(
                    msg,
                    "dockguard: {} needs an image rebuild: {}{}",
                    escape::text(&r.to),
                    escape::text(&v.reasons.join("; ")),
                    if paths.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", escape::text(&paths.join(", ")))
                    }
                );
            }
        }
        need |= cache.get(&commit).copied().unwrap_or(true);
    }
    if !need {
        let _ = writeln!(
            msg,
            "dockguard: no image rebuild needed; pushing without -o {}",
            escape::shell_word(&want)
        );
    }
    Ok(Judgement { want, need, msg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain_output() {
        let out = "To ../srv.git\n=\trefs/heads/master:refs/heads/master\t[up to date]\n-\t:refs/heads/old\t[deleted]\n*\tHEAD~:refs/heads/y\t[new branch]\n+\trefs/heads/m:refs/heads/m\tdee9cb0...56137ca (forced update)\n \trefs/heads/a:refs/heads/a\t1..2\n!\trefs/heads/b:refs/heads/b\t[rejected] (non-fast-forward)\nDone\n";
        let refs = parse_porcelain(out);
        assert_eq!(refs.len(), 6);
        assert_eq!(refs[1].from, "");
        assert_eq!(refs[1].to, "refs/heads/old");
        assert_eq!(refs[2].from, "HEAD~");
        let pushing: Vec<_> = refs
            .iter()
            .filter(|r| r.pushes_something())
            .map(|r| r.to.as_str())
            .collect();
        assert_eq!(pushing, ["refs/heads/y", "refs/heads/m", "refs/heads/a"]);
    }
}
