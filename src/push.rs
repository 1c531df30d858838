//! `dockguard push [git push args…]`: `git push` that asks for the rebuild exactly when
//! a pushed ref needs one.
//!
//! What will be pushed is learned from git itself, so push.default, explicit refspecs,
//! `--all`, `--tags`, `HEAD:refs/heads/x`, `--force` and deletions mean what they mean to
//! git: `git push --dry-run --porcelain --no-verify ARGS --no-quiet` lists every update
//! (`flag<TAB>from:to<TAB>summary`). Each update that makes a commit current is judged by
//! the engine; then the real `git push ARGS` runs, with `-o OPTION` added iff any needs
//! a rebuild, and with [`OPTIONS_ENV`] telling our own pre-push hook which options the
//! push carries. git's exit code is passed through.
//!
//! Adding `-o` on the command line makes git ignore `push.pushOption`, so the configured
//! options are added explicitly too. Our options go before `--`, after any
//! `--no-push-option` of the user's.

use std::fmt::Write as _;
use std::io::Write;
use std::process::Stdio;

use git2::{ObjectType, Repository};

use crate::cli::PushArgs;
use crate::engine::targets::Target;
use crate::engine::{Engine, JudgeOptions};
use crate::error::{Error, Result};
use crate::hook::chain::exit_code;
use crate::hook::request::{configured_push_options, scan_push_args, OPTIONS_ENV};
use crate::hook::{git_command, load_overrides, run_settings};
use crate::render::escape::{self, shell_join as sh_join};
use crate::Env;

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

/// Runs the wrapper. Messages go to `err`; git's own output goes where git sends it.
pub fn run(repo: &Repository, args: &PushArgs, env: &Env, err: &mut dyn Write) -> Result<i32> {
    let user = &args.args;
    let scan = scan_push_args(user);
    let end = scan.end_of_options.unwrap_or(user.len());
    let with = |extra: &[String]| -> Vec<String> {
        let mut v = user[..end].to_vec();
        v.extend_from_slice(extra);
        v.extend_from_slice(&user[end..]);
        v
    };

    // The dry run carries no push options: they do not change what is pushed, and git
    // 2.47 often dies of SIGPIPE on `push --dry-run -o X` to a server that advertises
    // them. An empty push.pushOption resets the configured list; --no-push-option the
    // command line's.
    let mut dry = vec![
        "-c".to_owned(),
        "push.pushOption=".to_owned(),
        "push".to_owned(),
        "--dry-run".to_owned(),
        "--porcelain".to_owned(),
        "--no-verify".to_owned(),
    ];
    dry.extend(with(&[
        "--no-quiet".to_owned(),
        "--no-push-option".to_owned(),
    ]));
    let out = git_command(repo, env)
        .args(&dry)
        .stdin(Stdio::inherit())
        .output()
        .map_err(|e| Error::io("cannot run `git push --dry-run`", e))?;
    let refs = parse_porcelain(&String::from_utf8_lossy(&out.stdout));
    if refs.is_empty() && !out.status.success() {
        // git could not even plan the push (no such remote, no upstream, …): its words.
        let _ = err.write_all(&out.stderr);
        let mut shown = vec!["git".to_owned(), "push".to_owned()];
        shown.extend(user.iter().cloned());
        let _ = writeln!(
            err,
            "dockguard: `{}` would fail (above); nothing was pushed",
            sh_join(&shown)
        );
        return Ok(exit_code(out.status));
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
    if want_and_need.need && !effective.contains(&want_and_need.want) {
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
    real.extend(with(&added));
    let status = git_command(repo, env)
        .args(&real)
        .env(OPTIONS_ENV, sent.join("\n"))
        .status()
        .map_err(|e| Error::io("cannot run `git push`", e))?;
    Ok(exit_code(status))
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
    let overrides = load_overrides(repo, env)?;
    let want = run_settings(repo, &overrides)?
        .string_or_default("push_option")
        .to_owned();
    if pushed.is_empty() {
        return Ok(Judgement {
            want,
            need: false,
            msg,
        });
    }
    let mut engine = match Engine::new(repo, overrides) {
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
    let want = engine
        .settings()
        .string_or_default("push_option")
        .to_owned();
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
