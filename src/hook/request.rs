//! Has this push already asked for the rebuild? And is it a dry run?
//!
//! git fixes the push options before it runs the pre-push hook and does not tell the hook
//! what they are. So we look where they can be seen, in this order:
//! 1. the hand-off from `dockguard push` ([`OPTIONS_ENV`]: the process id of the `git
//!    push` it became, then exactly the options it gave git, one per line); it counts only
//!    for that one process: leaked into another push's environment, it is ignored;
//! 2. the `git push` command line (`-o X`, `-oX`, `--push-option=X`, `--push-option X`,
//!    `--no-push-option`, unique abbreviations such as `--push-opt=X`), found by walking
//!    up the hook's ancestors through whatever runs in between ([`super::ancestry`]), read from `/proc/<pid>/cmdline` on Linux and
//!    `ps -o args=` elsewhere (best effort: `ps` joins arguments with spaces, so an
//!    option holding a space is split);
//! 3. `push.pushOption` (as `git config` sees it, `git -c` included), which counts only
//!    when the command line has no `-o`: git replaces the configured list with the
//!    command line's.
//!
//! When the `git push` cannot be found, nothing is seen: unknown is not a request (git
//! drops `push.pushOption` when `-o` is given, so the configured list proves nothing).
//!
//! The same argument scanner tells `dockguard push` where options end (`--`) so that the
//! options it adds land where git will read them.

use std::process::Command;

use super::ancestry::FoundPush;
use crate::error::{Error, Result};

/// Set by `dockguard push` for the `git push` it becomes: `pid=<that process>`, then the
/// push options it carries, one per line (git refuses options that contain a newline).
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
    /// `--mirror`: every ref, forced, and pruned; a command to push again names no refs.
    pub mirror: bool,
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
                    ("mirror", n) => scan.mirror = !n,
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
    /// The push options this push carries, as far as can be told; empty when it cannot
    /// be told (unknown is not a request).
    pub options: Vec<String>,
    /// How the options were learned, for messages.
    pub source: String,
    /// The `git push` running the hook, when it was found.
    pub push: Option<FoundPush>,
    /// What its arguments say.
    pub scan: Option<PushScan>,
    /// Why the `git push` could not be found, when it could not.
    pub cmdline_problem: Option<String>,
    /// Things worth saying (a hand-off that belongs to another push, configured options
    /// that were not assumed to apply).
    pub notes: Vec<String>,
}

impl PushContext {
    /// Whether this is a dry run: `Some(true/false)` when the command line was read.
    pub fn dry_run(&self) -> Option<bool> {
        self.scan.as_ref().map(|s| s.dry_run)
    }
}

/// Separates the push's arguments on the hand-off's `args=` line.
const ARG_SEP: char = '\u{1f}';

/// The value `dockguard push` sets [`OPTIONS_ENV`] to for the `git push` it becomes:
/// `pid=<its process id>`, `args=<its arguments after push>`, then the options, one per
/// line. `None` when an argument holds a newline or the separator (git would refuse such
/// a push anyway; the hook then reads the command line alone).
pub fn handoff_value(pid: u32, args: &[String], options: &[String]) -> Option<String> {
    if args.iter().any(|a| a.contains(['\n', ARG_SEP])) {
        return None;
    }
    let mut v = format!("pid={pid}\nargs={}", args.join(&ARG_SEP.to_string()));
    for o in options {
        v.push('\n');
        v.push_str(o);
    }
    Some(v)
}

/// A hand-off read back.
struct Handoff {
    pid: Option<u32>,
    args: Option<Vec<String>>,
    options: Vec<String>,
}

fn parse_handoff(value: &str) -> Handoff {
    let mut lines = value.split('\n').peekable();
    let pid = lines
        .peek()
        .and_then(|l| l.strip_prefix("pid="))
        .and_then(|p| p.trim().parse().ok());
    if pid.is_some() {
        lines.next();
    }
    let args = lines.peek().and_then(|l| l.strip_prefix("args=")).map(|a| {
        if a.is_empty() {
            Vec::new()
        } else {
            a.split(ARG_SEP).map(str::to_owned).collect()
        }
    });
    if args.is_some() {
        lines.next();
    }
    let options = lines.filter(|s| !s.is_empty()).map(str::to_owned).collect();
    Handoff { pid, args, options }
}

impl Handoff {
    /// Made for this `git push`: its process id, and exactly its arguments (a process id
    /// can be reused; the pair cannot plausibly be). `ps` splits arguments on whitespace,
    /// so words are compared too.
    fn is_for(&self, push: &FoundPush) -> bool {
        let Some(args) = &self.args else {
            return false;
        };
        let words = |v: &[String]| {
            v.join(" ")
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        self.pid == Some(push.pid) && (*args == push.args || words(args) == words(&push.args))
    }
}

/// Works out which push options the running push carries.
/// `handoff` is the value of [`OPTIONS_ENV`]; `found` is the `git push` running the hook
/// ([`super::ancestry::find_push`]); `config` reads `push.pushOption`.
///
/// A hand-off counts only when it names the very `git push` that runs this hook (its
/// process id and arguments): a value leaked into the environment of another push, or
/// of a push nested in another repository, is no request. When the `git push` could not be
/// found, nothing is assumed: `push.pushOption` applies only when the command line has
/// no `-o`, which cannot be told then.
pub fn detect(
    handoff: Option<&str>,
    found: std::result::Result<FoundPush, String>,
    config: impl FnOnce() -> Result<Vec<String>>,
) -> Result<PushContext> {
    let mut ctx = PushContext::default();
    match found {
        Ok(push) => {
            ctx.scan = Some(scan_push_args(&push.args));
            ctx.push = Some(push);
        }
        Err(why) => ctx.cmdline_problem = Some(why),
    }
    if let Some(value) = handoff {
        let h = parse_handoff(value);
        let (pid, ours) = (h.pid, ctx.push.as_ref().map(|p| p.pid));
        if ctx.push.as_ref().is_some_and(|p| h.is_for(p)) {
            ctx.options = h.options;
            ctx.source = format!(
                "`dockguard push`, which became this `git push` (process {})",
                pid.unwrap_or_default()
            );
            return Ok(ctx);
        }
        ctx.notes.push(format!(
            "{OPTIONS_ENV} is set but was made for {}, not for this push ({}); ignored",
            pid.map_or_else(
                || "no particular push".to_owned(),
                |p| format!("the `git push` of process {p}")
            ),
            ours.map_or_else(
                || "whose `git push` could not be found".to_owned(),
                |p| format!("process {p}")
            )
        ));
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
            let configured = config()?;
            if !configured.is_empty() {
                ctx.notes.push(format!(
                    "push.pushOption is set ({}), but git drops it when the command line has -o, \
                     and the command line could not be read: not counted",
                    configured.join(", ")
                ));
            }
            ctx.source = format!(
                "nothing: the `git push` command line could not be read ({})",
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

    fn found(pid: u32, args: &[&str]) -> std::result::Result<FoundPush, String> {
        Ok(FoundPush { pid, args: v(args) })
    }

    #[test]
    fn a_handoff_counts_only_for_the_push_it_was_made_for() {
        let sent =
            handoff_value(42, &v(&["-o", "x", "origin"]), &v(&["x", "ci.skip"])).expect("value");
        let ctx = detect(Some(&sent), found(42, &["-o", "x", "origin"]), || {
            Ok(v(&["cfg"]))
        })
        .expect("ok");
        assert_eq!(ctx.options, v(&["x", "ci.skip"]));
        assert!(ctx.source.contains("dockguard push"), "{}", ctx.source);
        // The same process id with other arguments: a reused pid, not this push.
        let ctx = detect(Some(&sent), found(42, &["origin"]), || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["cfg"]));
        // `ps` splits arguments that hold spaces: the words still match.
        let spaced = handoff_value(5, &v(&["-o", "a b"]), &v(&["a b"])).expect("value");
        let ctx = detect(Some(&spaced), found(5, &["-o", "a", "b"]), || Ok(vec![])).expect("ok");
        assert_eq!(ctx.options, v(&["a b"]));
        assert_eq!(handoff_value(5, &v(&["a\nb"]), &[]), None);
        // Leaked into another push (or a nested one): that push's own options count.
        let ctx = detect(Some(&sent), found(7, &["origin"]), || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["cfg"]));
        assert!(ctx.notes[0].contains("process 42") && ctx.notes[0].contains("ignored"));
        // The old, unbound form, or any value without a pid and arguments, is no request.
        let ctx = detect(Some("ci.variable=X=1"), found(7, &[]), || Ok(vec![])).expect("ok");
        assert!(ctx.options.is_empty());
        let ctx = detect(Some("pid=7\nci.variable=X=1"), found(7, &[]), || Ok(vec![])).expect("ok");
        assert!(ctx.options.is_empty());
        // And with the push unknown, a hand-off cannot be matched to it.
        let ctx = detect(Some(&sent), Err("hidden".into()), || Ok(vec![])).expect("ok");
        assert!(ctx.options.is_empty());
    }

    #[test]
    fn unknown_is_not_a_request_and_config_counts_only_without_dash_o() {
        let ctx = detect(None, found(7, &["origin"]), || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["cfg"]));
        let ctx = detect(None, found(7, &["-o", "a", "origin"]), || Ok(v(&["cfg"]))).expect("ok");
        assert_eq!(ctx.options, v(&["a"]));
        let ctx = detect(None, Err("process 9 (g) …".into()), || Ok(v(&["cfg"]))).expect("ok");
        assert!(ctx.options.is_empty(), "{:?}", ctx.options);
        assert!(ctx.source.starts_with("nothing"), "{}", ctx.source);
        assert!(
            ctx.notes[0].contains("push.pushOption is set (cfg)"),
            "{:?}",
            ctx.notes
        );
        assert!(ctx.dry_run().is_none());
    }
}
