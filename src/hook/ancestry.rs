//! Which `git push` runs this hook: the hook's ancestors, walked up to the nearest
//! `git push`, and checked to be this repository's.
//!
//! git tells a pre-push hook nothing about the push options, so the hook reads them off
//! the `git push` command line ([`super::request`]). Between git and dockguard there may
//! be anything: the shim's shell, a hook manager (pre-commit's Python, lefthook, husky's
//! sh), `timeout`, a Python or Node wrapper. The walk passes through all of them, at most
//! [`MAX_DEPTH`] processes, and stops at the first `git push` (or `git-push`; git runs an
//! alias such as `git p` as a `git push` child). A wrong answer here would be worse than
//! none, so:
//! - the push found must run in this repository (its working directory, read from
//!   `/proc/<pid>/cwd`, is the hook's or lies in this repository's work tree or git
//!   dir): walking past a program that hides the real push must not land on someone
//!   else's push further up (a test suite run from a pre-push hook of another repository);
//! - where the working directory cannot be read (no `/proc`), the push is believed only
//!   when nothing but shells, hook managers and well-known exec wrappers (`timeout`,
//!   `nice`, `env`, …) lie between;
//! - a git process that is not a push (other than `git hook run`) ends the walk: the hook
//!   belongs to it, not to some push above it.
//!
//! Everything else is "unknown", and the caller treats unknown as "no request seen".
//! Process access is a trait, so the walk is tested over invented process trees.

use std::path::{Path, PathBuf};
use std::process::Command;

/// At most this many processes are examined above the hook.
pub const MAX_DEPTH: usize = 32;

/// How the walk sees processes.
pub trait Processes {
    /// The argument vector, `None` when it cannot be read.
    fn argv(&self, pid: u32) -> Option<Vec<String>>;
    /// The parent's pid.
    fn parent(&self, pid: u32) -> Option<u32>;
    /// The working directory; `None` when it cannot be read.
    fn cwd(&self, pid: u32) -> Option<PathBuf>;
    /// Whether working directories can be read on this system at all.
    fn has_cwd(&self) -> bool;
}

/// The real processes: `/proc` on Linux, `ps` elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

fn have_proc() -> bool {
    Path::new("/proc/self/cmdline").exists()
}

impl Processes for System {
    fn argv(&self, pid: u32) -> Option<Vec<String>> {
        process_argv(pid)
    }

    fn parent(&self, pid: u32) -> Option<u32> {
        parent_of(pid)
    }

    fn cwd(&self, pid: u32) -> Option<PathBuf> {
        if !have_proc() {
            return None;
        }
        let link = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        Some(link.canonicalize().unwrap_or(link))
    }

    fn has_cwd(&self) -> bool {
        have_proc()
    }
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

/// A process's parent.
pub fn parent_of(pid: u32) -> Option<u32> {
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

/// Where this hook runs: a push found above it must run in one of these.
#[derive(Debug, Clone, Default)]
pub struct Here {
    /// The hook's own working directory (git runs hooks where it runs itself).
    pub cwd: Option<PathBuf>,
    /// The repository's work tree and git dirs: a push running inside one is this one's.
    pub roots: Vec<PathBuf>,
}

impl Here {
    /// This process, in `repo`.
    pub fn of(repo: &git2::Repository) -> Self {
        let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        Here {
            cwd: std::env::current_dir().ok().map(|c| canon(&c)),
            roots: [repo.workdir(), Some(repo.path()), Some(repo.commondir())]
                .into_iter()
                .flatten()
                .map(canon)
                .collect(),
        }
    }

    fn holds(&self, dir: &Path) -> bool {
        self.cwd.as_deref() == Some(dir) || self.roots.iter().any(|r| dir.starts_with(r))
    }
}

/// The `git push` that runs this hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPush {
    /// Its process id.
    pub pid: u32,
    /// Its arguments after `push`.
    pub args: Vec<String>,
}

/// Walks up from `start` (the hook's parent) to the `git push` that runs the hook.
/// `Err` says, in a few words, why it could not be found; it never names arguments
/// other than the program (they may hold anything, even secrets).
pub fn find_push(procs: &dyn Processes, start: u32, here: &Here) -> Result<FoundPush, String> {
    let mut pid = start;
    // Every process passed so far is one whose word we can take for it.
    let mut only_known = true;
    for _ in 0..MAX_DEPTH {
        if pid <= 1 {
            break;
        }
        let argv = procs
            .argv(pid)
            .ok_or_else(|| format!("cannot read the command line of process {pid}"))?;
        let name = program(&argv);
        if let Some(args) = push_args_of(&argv) {
            confirm_here(procs, pid, here, only_known)?;
            return Ok(FoundPush {
                pid,
                args: args.to_vec(),
            });
        }
        if is_git(&argv) {
            // (git runs an alias such as `git p` = push as a `git push` child of its own.)
            if git_subcommand(&argv).map(|i| argv[i].as_str()) != Some("hook") {
                return Err(format!(
                    "process {pid} is a git command other than `git push`"
                ));
            }
        } else if !is_shell(&name) && !is_hook_manager(&argv) && !is_exec_wrapper(&name) {
            only_known = false;
        }
        pid = match procs.parent(pid) {
            Some(p) => p,
            None => return Err(format!("cannot find the parent of process {pid}")),
        };
    }
    Err(format!(
        "no `git push` among the hook's parent processes (looked at up to {MAX_DEPTH})"
    ))
}

/// A push found above unknown programs must provably be this repository's.
fn confirm_here(
    procs: &dyn Processes,
    pid: u32,
    here: &Here,
    only_known: bool,
) -> Result<(), String> {
    if !procs.has_cwd() {
        return if only_known {
            Ok(())
        } else {
            Err(format!(
                "process {pid} is a `git push`, but programs this system cannot look into \
                 lie between it and the hook, and where it runs cannot be read"
            ))
        };
    }
    match procs.cwd(pid) {
        Some(dir) if here.holds(&dir) => Ok(()),
        Some(_) => Err(format!(
            "the nearest `git push` (process {pid}) runs in another directory: it is not this \
             repository's push"
        )),
        None if only_known => Ok(()),
        None => Err(format!("cannot read where process {pid} (git push) runs")),
    }
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The program's file name, at most 40 characters (for messages).
pub fn program(argv: &[String]) -> String {
    basename(argv.first().map(String::as_str).unwrap_or_default())
        .chars()
        .take(40)
        .collect()
}

fn is_git(argv: &[String]) -> bool {
    let name = basename(argv.first().map(String::as_str).unwrap_or_default());
    name == "git" || name.starts_with("git-")
}

fn is_shell(name: &str) -> bool {
    let name = name.trim_start_matches('-'); // login shells: "-bash"
    matches!(
        name,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "busybox"
    )
}

/// Programs that run one command and change nothing about which push it belongs to.
fn is_exec_wrapper(name: &str) -> bool {
    matches!(
        name,
        "timeout"
            | "nice"
            | "ionice"
            | "env"
            | "nohup"
            | "stdbuf"
            | "chrt"
            | "taskset"
            | "time"
            | "flock"
            | "setsid"
            | "chronic"
    )
}

/// A hook manager between git and dockguard: pre-commit (`python -m pre_commit
/// hook-impl …` or its `pre-commit` script), lefthook (its binary, or npm's node
/// launcher).
pub fn is_hook_manager(argv: &[String]) -> bool {
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

/// The index of the subcommand in a `git [global options] SUBCOMMAND …` command line.
fn git_subcommand(argv: &[String]) -> Option<usize> {
    if basename(argv.first()?) != "git" {
        return None;
    }
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        if GIT_GLOBAL_WITH_VALUE.contains(&a.as_str()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// The arguments after `push` when `argv` is a `git [global options] push …` (or
/// `git-push …`) command line.
pub fn push_args_of(argv: &[String]) -> Option<&[String]> {
    if basename(argv.first()?) == "git-push" {
        return Some(&argv[1..]);
    }
    let i = git_subcommand(argv)?;
    (argv[i] == "push").then(|| &argv[i + 1..])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    /// An invented process tree: pid -> (parent, argv, cwd).
    struct Tree {
        procs: HashMap<u32, (u32, Vec<String>, Option<PathBuf>)>,
        has_cwd: bool,
    }

    impl Tree {
        fn new(has_cwd: bool) -> Self {
            Tree {
                procs: HashMap::new(),
                has_cwd,
            }
        }
        fn add(mut self, pid: u32, parent: u32, argv: &[&str], cwd: Option<&str>) -> Self {
            self.procs
                .insert(pid, (parent, v(argv), cwd.map(PathBuf::from)));
            self
        }
    }

    impl Processes for Tree {
        fn argv(&self, pid: u32) -> Option<Vec<String>> {
            self.procs.get(&pid).map(|p| p.1.clone())
        }
        fn parent(&self, pid: u32) -> Option<u32> {
            self.procs.get(&pid).map(|p| p.0)
        }
        fn cwd(&self, pid: u32) -> Option<PathBuf> {
            self.procs.get(&pid).and_then(|p| p.2.clone())
        }
        fn has_cwd(&self) -> bool {
            self.has_cwd
        }
    }

    fn here() -> Here {
        Here {
            cwd: Some(PathBuf::from("/repo")),
            roots: vec![PathBuf::from("/repo"), PathBuf::from("/repo/.git")],
        }
    }

    #[test]
    fn walks_through_any_wrapper_to_this_repositorys_push() {
        // git push -> sh (hook) -> python wrapper -> timeout -> (dockguard)
        let t = Tree::new(true)
            .add(10, 1, &["bash"], Some("/home"))
            .add(20, 10, &["git", "push", "-o", "x", "origin"], Some("/repo"))
            .add(30, 20, &["/bin/sh", ".git/hooks/pre-push"], Some("/repo"))
            .add(40, 30, &["python3", "wrap.py"], Some("/repo"))
            .add(50, 40, &["timeout", "60", "dockguard"], Some("/repo"));
        let found = find_push(&t, 50, &here()).expect("found");
        assert_eq!(found.pid, 20);
        assert_eq!(found.args, v(&["-o", "x", "origin"]));
        // A push in a subdirectory of the work tree, or in the git dir (bare-like), counts.
        let t = Tree::new(true)
            .add(20, 1, &["git", "push"], Some("/repo/.git"))
            .add(30, 20, &["node", "wrap.js"], Some("/elsewhere"));
        assert_eq!(find_push(&t, 30, &here()).map(|f| f.pid), Ok(20));
    }

    #[test]
    fn never_lands_on_another_repositorys_push() {
        // An outer push (of another repository) runs a test suite whose push is hidden
        // behind a program named `g` (a symlink to git): the outer push is not ours.
        let t = Tree::new(true)
            .add(20, 1, &["git", "push", "-o", "X"], Some("/other"))
            .add(30, 20, &["cargo", "test"], Some("/other"))
            .add(40, 30, &["./g", "push", "origin"], Some("/repo"));
        let e = find_push(&t, 40, &here()).expect_err("not ours");
        assert!(e.contains("another directory"), "{e}");
        // Without /proc, a push above unknown programs cannot be confirmed.
        let t = Tree::new(false).add(20, 1, &["git", "push"], None).add(
            30,
            20,
            &["python3", "wrap.py"],
            None,
        );
        let e = find_push(&t, 30, &here()).expect_err("unconfirmed");
        assert!(e.contains("cannot look into"), "{e}");
        // ... but through shells, hook managers and exec wrappers it is believed.
        let t = Tree::new(false)
            .add(20, 1, &["git", "push"], None)
            .add(30, 20, &["sh", "hook"], None)
            .add(35, 30, &["python3", "-mpre_commit", "hook-impl"], None)
            .add(40, 35, &["timeout", "9", "x"], None);
        assert_eq!(find_push(&t, 40, &here()).map(|f| f.pid), Ok(20));
    }

    #[test]
    fn a_git_command_that_is_no_push_ends_the_walk() {
        let t = Tree::new(true)
            .add(20, 1, &["git", "push"], Some("/repo"))
            .add(30, 20, &["git", "submodule", "foreach"], Some("/repo"))
            .add(40, 30, &["sh"], Some("/repo"));
        let e = find_push(&t, 40, &here()).expect_err("no push");
        assert!(e.contains("other than `git push`"), "{e}");
        // `git hook run pre-push` only runs hooks: walked through.
        let t = Tree::new(true)
            .add(20, 1, &["git", "push"], Some("/repo"))
            .add(30, 20, &["git", "hook", "run", "pre-push"], Some("/repo"));
        assert_eq!(find_push(&t, 30, &here()).map(|f| f.pid), Ok(20));
        // Unreadable, too deep, or orphaned: unknown.
        let t = Tree::new(true).add(30, 20, &["sh"], Some("/repo"));
        assert!(find_push(&t, 30, &here())
            .expect_err("unreadable")
            .contains("cannot read the command line of process 20"));
        let mut t = Tree::new(true).add(100, 1, &["git", "push"], Some("/repo"));
        for pid in 101..140 {
            t = t.add(pid, pid - 1, &["sh"], Some("/repo"));
        }
        assert!(find_push(&t, 139, &here())
            .expect_err("deep")
            .contains("up to 32"));
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
    fn hook_managers_are_recognised() {
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
    fn the_real_system_reads_this_process() {
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
        if System.has_cwd() {
            let cwd = std::env::current_dir()
                .expect("cwd")
                .canonicalize()
                .expect("c");
            assert_eq!(System.cwd(std::process::id()), Some(cwd));
        }
    }
}
