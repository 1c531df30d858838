//! Has this push already asked for the rebuild? And is it a dry run?
//!
//! git fixes the push options before it runs the pre-push hook and does not tell the hook
//! what they are. So we look where they can be seen, in this order:
//! 1. the environment set by `dockguard push` ([`OPTIONS_ENV`]: exactly the options it
//!    gave git, one per line);
//! 2. the parent `git push` command line (`-o X`, `-oX`, `--push-option=X`,
//!    `--push-option X`, `--no-push-option`, unique abbreviations such as `--push-opt=X`),
//!    read from `/proc/<pid>/cmdline` on Linux and `ps -o args=` elsewhere (best effort:
//!    `ps` joins arguments with spaces, so an option holding a space is split). We walk up
//!    from our parent through shells (a hook script that calls dockguard) and hook
//!    managers (pre-commit's Python, lefthook; husky is plain sh) to the first
//!    `git … push` process, at most a few levels;
//! 3. `push.pushOption` (as `git config` sees it, `git -c` included), which counts only
//!    when the command line has no `-o`: git replaces the configured list with the
//!    command line's. When the command line cannot be read, the configured list is
//!    assumed to apply, and the message says so.
//!
//! The same argument scanner tells `dockguard push` where options end (`--`) so that the
//! options it adds land where git will read them.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// Set by `dockguard push` for the `git push` it runs: the push options that push
/// carries, one per line (git refuses options that contain a newline).
pub const OPTIONS_ENV: &str = "DOCKGUARD_PUSH_OPTIONS_SENT";

/// How an option of `git push` takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    /// `--opt=value` or `--opt value`.
    Value,
    /// Only `--opt=value`; `--opt` alone is allowed.
    OptionalValue,
}

/// git push's long options (git 2.47), for abbreviation matching and value skipping.
const LONG: &[(&str, Takes)] = &[
    ("verbose", Takes::Nothing),
    ("quiet", Takes::Nothing),
    ("repo", Takes::Value),
    ("all", Takes::Nothing),
    ("branches", Takes::Nothing),
    ("mirror", Takes::Nothing),
    ("delete", Takes::Nothing),
    ("tags", Takes::Nothing),
    ("dry-run", Takes::Nothing),
    ("porcelain", Takes::Nothing),
    ("force", Takes::Nothing),
    ("force-with-lease", Takes::OptionalValue),
    ("force-if-includes", Takes::Nothing),
    ("recurse-submodules", Takes::Value),
    ("thin", Takes::Nothing),
    ("receive-pack", Takes::Value),
    ("exec", Takes::Value),
    ("set-upstream", Takes::Nothing),
    ("progress", Takes::Nothing),
    ("prune", Takes::Nothing),
    ("no-verify", Takes::Nothing),
    ("verify", Takes::Nothing),
    ("follow-tags", Takes::Nothing),
    ("signed", Takes::OptionalValue),
    ("atomic", Takes::Nothing),
    ("push-option", Takes::Value),
    ("ipv4", Takes::Nothing),
    ("ipv6", Takes::Nothing),
];

/// Resolves a long option the way git's parse-options does: exact name, `no-` negation,
/// or a unique prefix. `None` when unknown or ambiguous (git itself would refuse).
fn resolve_long(name: &str) -> Option<(&'static str, bool, Takes)> {
    if let Some(&(n, t)) = LONG.iter().find(|(n, _)| *n == name) {
        return Some((n, false, t));
    }
    if let Some(rest) = name.strip_prefix("no-") {
        if let Some(&(n, _)) = LONG.iter().find(|(n, _)| *n == rest) {
            return Some((n, true, Takes::Nothing));
        }
    }
    let mut hits = LONG
        .iter()
        .filter(|(n, _)| n.starts_with(name))
        .map(|&(n, t)| (n, false, t))
        .collect::<Vec<_>>();
    if let Some(rest) = name.strip_prefix("no-") {
        hits.extend(
            LONG.iter()
                .filter(|(n, _)| n.starts_with(rest))
                .map(|&(n, _)| (n, true, Takes::Nothing)),
        );
    }
    match hits.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// What a `git push` argument list says, as far as dockguard cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushScan {
    /// The push options given on the command line, in order (`--no-push-option` clears).
    /// git uses these instead of `push.pushOption` when there are any.
    pub push_options: Vec<String>,
    /// `--dry-run` / `-n`.
    pub dry_run: bool,
    /// `--atomic`.
    pub atomic: bool,
    /// Index of `--` or `--end-of-options`, after which nothing is an option.
    pub end_of_options: Option<usize>,
}

/// Scans the arguments that follow `push`.
pub fn scan_push_args(args: &[String]) -> PushScan {
    let mut scan = PushScan::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" || a == "--end-of-options" {
            scan.end_of_options = Some(i);
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            if let Some((opt, negated, takes)) = resolve_long(name) {
                let value = match (value, takes) {
                    (Some(v), _) => Some(v),
                    (None, Takes::Value) => {
                        i += 1;
                        args.get(i).cloned()
                    }
                    (None, _) => None,
                };
                match (opt, negated) {
                    ("push-option", true) => scan.push_options.clear(),
                    ("push-option", false) => scan.push_options.extend(value),
                    ("dry-run", n) => scan.dry_run = !n,
                    ("atomic", n) => scan.atomic = !n,
                    _ => {}
                }
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (j, c) in shorts.char_indices() {
                match c {
                    'o' => {
                        let rest = &shorts[j + 1..];
                        let value = if rest.is_empty() {
                            i += 1;
                            args.get(i).cloned()
                        } else {
                            Some(rest.to_owned())
                        };
                        scan.push_options.extend(value);
                        break;
                    }
                    'n' => scan.dry_run = true,
                    _ => {}
                }
            }
        }
        i += 1;
    }
    scan
}

/// git's own options that take the next argument as their value.
const GIT_GLOBAL_WITH_VALUE: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--config-env",
    "--attr-source",
    "--list-cmds",
];

/// The arguments after `push` when `argv` is a `git [global options] push …` (or
/// `git-push …`) command line.
pub fn push_args_of(argv: &[String]) -> Option<&[String]> {
    let prog = basename(argv.first()?);
    if prog == "git-push" {
        return Some(&argv[1..]);
    }
    if prog != "git" {
        return None;
    }
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        if GIT_GLOBAL_WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return (a == "push").then(|| &argv[i + 1..]);
        }
    }
    None
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn is_shell(argv0: &str) -> bool {
    let name = basename(argv0).trim_start_matches('-'); // login shells: "-bash"
    matches!(
        name,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "busybox"
    )
}

/// A hook manager between git and dockguard: pre-commit (`python -m pre_commit
/// hook-impl …` or its `pre-commit` script), lefthook (its binary, or npm's node
/// launcher).
fn is_hook_manager(argv: &[String]) -> bool {
    let name = basename(argv.first().map(String::as_str).unwrap_or_default());
    if matches!(name, "pre-commit" | "lefthook") {
        return true;
    }
    let interpreter = name.starts_with("python") || name == "node";
    interpreter
        && argv.iter().skip(1).take(3).any(|a| {
            let a = basename(a);
            matches!(a, "pre_commit" | "-mpre_commit" | "pre-commit" | "lefthook")
                || (name == "node"
                    && a == "index.js"
                    && argv.iter().any(|x| x.contains("/lefthook/")))
        })
}

/// The parent `git push` command line, walking up from `start` through shells and hook
/// managers (at most eight processes). `Err` says why it could not be found.
pub fn find_push_cmdline(start: u32) -> std::result::Result<Vec<String>, String> {
    let mut pid = start;
    for _ in 0..8 {
        let argv = process_argv(pid).ok_or_else(|| format!("cannot read process {pid}"))?;
        if push_args_of(&argv).is_some() {
            return Ok(argv);
        }
        let first = argv.first().map(String::as_str).unwrap_or_default();
        let is_git = matches!(basename(first), "git" | "git-push");
        if !is_git && !is_shell(first) && !is_hook_manager(&argv) {
            // Name the program only: other arguments may hold anything (even secrets).
            let name: String = basename(first).chars().take(40).collect();
            return Err(format!("process {pid} ({name}) is not git push"));
        }
        pid = match parent_of(pid) {
            Some(p) if p > 1 => p,
            _ => break,
        };
    }
    Err("no `git push` among the hook's parent processes".into())
}

fn have_proc() -> bool {
    Path::new("/proc/self/cmdline").exists()
}

/// A process's argument vector: `/proc/<pid>/cmdline`, else `ps -o args=` (split on
/// whitespace: best effort).
pub fn process_argv(pid: u32) -> Option<Vec<String>> {
    if have_proc() {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let raw = raw.strip_suffix(b"\0").unwrap_or(&raw);
        if raw.is_empty() {
            return None;
        }
        return Some(
            raw.split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        );
    }
    ps_argv(pid)
}

/// `ps -o args= -p PID`, split on whitespace.
pub fn ps_argv(pid: u32) -> Option<Vec<String>> {
    let out = ps(pid, "args=")?;
    let argv: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    (!argv.is_empty()).then_some(argv)
}

fn parent_of(pid: u32) -> Option<u32> {
    if have_proc() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid …": comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')')? + 1..];
        return after.split_whitespace().nth(1)?.parse().ok();
    }
    ps(pid, "ppid=")?.trim().parse().ok()
}

fn ps(pid: u32, field: &str) -> Option<String> {
    let out = Command::new("ps")
        .args(["-o", field, "-p", &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `push.pushOption` as git would apply it: every value in order, an empty value
/// clearing the list. Asks `git config` so that `git -c`, includes and worktree config
/// count exactly as for the push itself.
pub fn configured_push_options(git: Command) -> Result<Vec<String>> {
    let mut git = git;
    let out = git
        .args(["config", "-z", "--get-all", "push.pushoption"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run `git config` to read push.pushOption", e))?;
    match out.status.code() {
        Some(0) => {}
        Some(1) => return Ok(Vec::new()), // not set
        _ => {
            return Err(Error::Hinted {
                message: format!(
                    "`git config --get-all push.pushOption` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                hint: "check the repository's git config (git config --list --show-origin)".into(),
            })
        }
    }
    // `-z` ends every value with NUL.
    let mut options = Vec::new();
    if out.stdout.is_empty() {
        return Ok(options);
    }
    let body = out.stdout.strip_suffix(b"\0").unwrap_or(&out.stdout);
    for v in body.split(|b| *b == 0) {
        let v = String::from_utf8_lossy(v).into_owned();
        if v.is_empty() {
            options.clear();
        } else {
            options.push(v);
        }
    }
    Ok(options)
}

/// What the hook knows about the push that runs it.
#[derive(Debug, Clone, Default)]
pub struct PushContext {
    /// The push options this push carries (as far as can be told).
    pub options: Vec<String>,
    /// How the options were learned, for messages.
    pub source: String,
    /// The parent `git push` arguments (after `push`), when they could be read.
    pub args: Option<Vec<String>>,
    /// What those arguments say.
    pub scan: Option<PushScan>,
    /// Why the command line could not be read, when it could not.
    pub cmdline_problem: Option<String>,
}

impl PushContext {
    /// Whether this is a dry run: `Some(true/false)` when the command line was read.
    pub fn dry_run(&self) -> Option<bool> {
        self.scan.as_ref().map(|s| s.dry_run)
    }
}

/// Works out which push options the running push carries.
/// `wrapper` is the value of [`OPTIONS_ENV`]; `parent` is the pid to start the
/// command-line search from; `config` reads `push.pushOption`.
pub fn detect(
    wrapper: Option<&str>,
    parent: u32,
    config: impl FnOnce() -> Result<Vec<String>>,
) -> Result<PushContext> {
    let mut ctx = PushContext::default();
    match find_push_cmdline(parent) {
        Ok(argv) => {
            let args = push_args_of(&argv).unwrap_or_default().to_vec();
            ctx.scan = Some(scan_push_args(&args));
            ctx.args = Some(args);
        }
        Err(why) => ctx.cmdline_problem = Some(why),
    }
    if let Some(sent) = wrapper {
        ctx.options = sent
            .split('\n')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        ctx.source = "`dockguard push`".into();
        return Ok(ctx);
    }
    match &ctx.scan {
        Some(scan) if !scan.push_options.is_empty() => {
            ctx.options = scan.push_options.clone();
            ctx.source = "the `git push` command line".into();
        }
        Some(_) => {
            ctx.options = config()?;
            ctx.source = "push.pushOption, as the `git push` command line has no -o".into();
        }
        None => {
            ctx.options = config()?;
            ctx.source = format!(
                "push.pushOption, assumed to apply: the `git push` command line could not be read ({})",
                ctx.cmdline_problem.as_deref().unwrap_or("unknown")
            );
        }
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recognises_every_spelling_of_push_options() {
        let s = scan_push_args(&v(&[
            "-o",
            "a",
            "-ob",
            "--push-option=c",
            "--push-option",
            "d",
            "origin",
            "--push-opt=e",
            "-fo",
            "f",
            "main",
        ]));
        assert_eq!(s.push_options, v(&["a", "b", "c", "d", "e", "f"]));
        assert!(!s.dry_run);
        let s = scan_push_args(&v(&["-o", "a", "--no-push-option", "-o", "b"]));
        assert_eq!(s.push_options, v(&["b"]));
        // A value that looks like an option is still the value.
        let s = scan_push_args(&v(&["-o", "--dry-run", "origin"]));
        assert_eq!(s.push_options, v(&["--dry-run"]));
        assert!(!s.dry_run);
    }

    #[test]
    fn dry_run_atomic_and_end_of_options() {
        assert!(scan_push_args(&v(&["-n", "origin"])).dry_run);
        assert!(scan_push_args(&v(&["-fn", "origin"])).dry_run);
        assert!(scan_push_args(&v(&["origin", "--dry-run"])).dry_run);
        assert!(scan_push_args(&v(&["--dry"])).dry_run);
        assert!(!scan_push_args(&v(&["--dry-run", "--no-dry-run"])).dry_run);
        assert!(scan_push_args(&v(&["--atomic"])).atomic);
        // `-d` is --delete, `--d` is ambiguous: neither is a dry run.
        assert!(!scan_push_args(&v(&["-d", "--d"])).dry_run);
        let s = scan_push_args(&v(&["origin", "--", "-n", "-o", "x"]));
        assert_eq!(s.end_of_options, Some(1));
        assert!(!s.dry_run && s.push_options.is_empty());
        // Values of options that take one are skipped, not read as refspecs or flags.
        let s = scan_push_args(&v(&["--repo", "-n", "--receive-pack", "-ox"]));
        assert!(!s.dry_run && s.push_options.is_empty());
    }

    #[test]
    fn finds_push_after_gits_own_options() {
        let argv = v(&[
            "git",
            "-C",
            "push",
            "-c",
            "a=b",
            "--no-pager",
            "push",
            "-o",
            "x",
        ]);
        assert_eq!(push_args_of(&argv), Some(&argv[7..]));
        let argv = v(&["/usr/libexec/git-core/git", "push", "origin"]);
        assert_eq!(push_args_of(&argv), Some(&argv[2..]));
        assert_eq!(push_args_of(&v(&["git", "fetch", "push"])), None);
        assert_eq!(push_args_of(&v(&["gitk", "push"])), None);
        let argv = v(&["git-push", "origin"]);
        assert_eq!(push_args_of(&argv), Some(&argv[1..]));
    }

    #[test]
    fn hook_managers_are_walked_through() {
        assert!(is_hook_manager(&v(&[
            "/venv/bin/python3.11",
            "-mpre_commit",
            "hook-impl",
            "--hook-type=pre-push"
        ])));
        assert!(is_hook_manager(&v(&[
            "python3",
            "-m",
            "pre_commit",
            "hook-impl"
        ])));
        assert!(is_hook_manager(&v(&[
            "/usr/local/bin/pre-commit",
            "hook-impl"
        ])));
        assert!(is_hook_manager(&v(&[
            "/x/node_modules/lefthook-linux-x64/bin/lefthook",
            "run"
        ])));
        assert!(is_hook_manager(&v(&[
            "node",
            "/x/node_modules/lefthook/bin/index.js",
            "run"
        ])));
        assert!(!is_hook_manager(&v(&[
            "python3",
            "evil.py",
            "pre_commit_like"
        ])));
        assert!(!is_hook_manager(&v(&["node", "server.js"])));
    }

    #[test]
    fn ps_reads_a_command_line() {
        let argv = ps_argv(std::process::id()).expect("ps works here");
        let me = std::env::current_exe().expect("exe");
        let name = me.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(argv[0].ends_with(name), "{argv:?}");
        assert_eq!(
            process_argv(std::process::id()).map(|a| !a.is_empty()),
            Some(true)
        );
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }

    #[test]
    fn wrapper_env_wins_and_config_counts_only_without_dash_o() {
        let ctx = detect(Some("x\nci.skip\n"), 1, || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["x", "ci.skip"]));
        assert!(ctx.source.contains("dockguard push"));
        // pid 1 is not git push: the command line is unknown, config is assumed.
        let ctx = detect(None, 1, || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["cfg"]));
        assert!(ctx.source.contains("assumed"), "{}", ctx.source);
        assert!(ctx.dry_run().is_none());
    }
}
