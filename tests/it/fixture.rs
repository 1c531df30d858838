//! A tiny DSL for building real repositories in tests, and hermetic runners for the
//! `git` and `dockguard` binaries.
//!
//! Hermetic means: no `GIT_*` from the caller's environment, `HOME` in a temp dir, no
//! global or system git config, pinned dates, `init.defaultBranch=master`, and a `PATH`
//! that is not the caller's ([`test_path`]): no installed dockguard, only the system's
//! directories and the tools `./test.sh` installs.

#![allow(dead_code)] // each test module uses a different part of the DSL

use std::cell::Cell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use git2::{Oid, Repository, Signature, Time};
use tempfile::TempDir;

/// The dockguard binary under test.
pub fn dockguard_bin() -> &'static str {
    env!("CARGO_BIN_EXE_dockguard")
}

/// An empty directory shared by all tests, used as HOME and as libgit2's config search path.
pub fn empty_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = std::env::temp_dir().join(format!("dockguard-test-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).expect("create test home");
        // libgit2 in this process must not read the developer's ~/.gitconfig or /etc/gitconfig.
        for level in [
            git2::ConfigLevel::Global,
            git2::ConfigLevel::System,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::ProgramData,
        ] {
            #[allow(unsafe_code)]
            // SAFETY: runs once, inside OnceLock, before this process opens any repository.
            unsafe {
                git2::opts::set_search_path(level, &home).expect("set libgit2 search path");
            }
        }
        home
    })
}

/// The system's program directories (Debian's packages, and `/usr/local` for a git or a
/// docker built or installed by hand), in the order Debian's default `PATH` has them.
const SYSTEM_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The `PATH` of every program the tests run: `./test.sh`'s tool directories (under
/// `.tools/`), then [`SYSTEM_DIRS`]. Never the caller's: `./install.sh` puts the user's
/// dockguard on it (in `~/.cargo/bin`), and a test that means "no dockguard on PATH" (the
/// templates must download a pinned one) then ran that one instead. A test that wants the
/// binary under test on PATH puts its directory first ([`path_with`]).
///
/// Panics when one of these directories holds a `dockguard` (installed system-wide, e.g.
/// with `DOCKGUARD_INSTALL_ROOT=/usr/local`): every result would depend on it.
pub fn test_path() -> &'static OsStr {
    static PATH: OnceLock<std::ffi::OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools");
        let dirs: Vec<PathBuf> = ["bin", "node_modules/.bin", "venv/bin"]
            .iter()
            .map(|d| tools.join(d))
            .chain(SYSTEM_DIRS.iter().map(PathBuf::from))
            .collect();
        if let Some(found) = dirs
            .iter()
            .map(|d| d.join("dockguard"))
            .find(|p| p.exists())
        {
            panic!(
                "{} would be found on the tests' PATH, so the tests would run it instead of the \
                 build under test (or instead of the download a CI template must pin): \
                 uninstall it (or reinstall with DOCKGUARD_INSTALL_ROOT=~/.cargo) and run again",
                found.display()
            );
        }
        std::env::join_paths(dirs).expect("PATH directories")
    })
}

/// [`test_path`] with `dirs` first.
pub fn path_with(dirs: &[&Path]) -> std::ffi::OsString {
    let all: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.to_path_buf())
        .chain(std::env::split_paths(test_path()))
        .collect();
    std::env::join_paths(all).expect("PATH directories")
}

/// [`path_with`] as a string, for the `(&str, &str)` environments of the runners here.
pub fn path_with_str(dirs: &[&Path]) -> String {
    path_with(dirs)
        .into_string()
        .expect("test directories are UTF-8")
}

/// Applies the hermetic environment to a command (for `git` and `dockguard` alike).
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env_clear()
        .env("PATH", test_path())
        .env("HOME", empty_home())
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "init.defaultBranch")
        .env("GIT_CONFIG_VALUE_0", "master")
        .env("GIT_CONFIG_KEY_1", "protocol.file.allow")
        .env("GIT_CONFIG_VALUE_1", "always")
        .stdin(Stdio::null())
}

/// Runs `git ARGS` hermetically in `dir`, panicking with its output when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `git ARGS` hermetically in `dir`, returning whatever happened.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    hermetic(&mut Command::new("git"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run git")
}

/// What a dockguard run did.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the dockguard binary hermetically in `dir` with extra env vars.
pub fn dockguard(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(dockguard_bin());
    hermetic(&mut cmd).current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run dockguard");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A real repository in a temp dir, built in-process with git2.
pub struct TestRepo {
    /// Keeps the directory alive.
    pub tmp: TempDir,
    /// The repository.
    pub repo: Repository,
    clock: Cell<i64>,
}

impl TestRepo {
    /// A new non-bare repository on branch `master`, no commits.
    pub fn new() -> Self {
        empty_home();
        let tmp = tempfile::Builder::new()
            .prefix("dockguard-it-")
            .tempdir()
            .expect("tempdir");
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("master");
        let repo = Repository::init_opts(tmp.path().join("work"), &opts).expect("init");
        TestRepo {
            tmp,
            repo,
            clock: Cell::new(1_700_000_000),
        }
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.repo.workdir().expect("non-bare")
    }

    /// A scratch directory beside the work tree (for remotes and clones).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `git clone --bare` of this repository into the scratch path `name`.
    pub fn bare_clone(&self, name: &str) -> PathBuf {
        let dir = self.scratch(name);
        git(
            self.tmp.path(),
            &[
                "clone",
                "-q",
                "--bare",
                self.path().to_str().expect("utf-8"),
                dir.to_str().expect("utf-8"),
            ],
        );
        dir
    }

    fn sig(&self) -> Signature<'static> {
        let t = self.clock.get() + 60;
        self.clock.set(t);
        Signature::new("Test", "test@example.com", &Time::new(t, 0)).expect("signature")
    }

    /// Writes files and commits them on the current branch.
    pub fn commit(&self, msg: &str, files: &[(&str, &str)]) -> Oid {
        let edits: Vec<(&[u8], Option<&[u8]>)> = files
            .iter()
            .map(|(p, c)| (p.as_bytes(), Some(c.as_bytes())))
            .collect();
        self.commit_raw(msg, &edits)
    }

    /// Deletes files and commits.
    pub fn delete(&self, msg: &str, paths: &[&str]) -> Oid {
        let edits: Vec<(&[u8], Option<&[u8]>)> =
            paths.iter().map(|p| (p.as_bytes(), None)).collect();
        self.commit_raw(msg, &edits)
    }

    /// Renames a file and commits.
    pub fn rename(&self, msg: &str, from: &str, to: &str) -> Oid {
        let content = std::fs::read(self.path().join(from)).expect("read file to rename");
        self.commit_raw(
            msg,
            &[(from.as_bytes(), None), (to.as_bytes(), Some(&content))],
        )
    }

    /// Writes (Some) or deletes (None) byte paths and commits on HEAD.
    pub fn commit_raw(&self, msg: &str, edits: &[(&[u8], Option<&[u8]>)]) -> Oid {
        let mut index = self.repo.index().expect("index");
        for (path, content) in edits {
            let rel = Path::new(OsStr::from_bytes(path));
            let abs = self.path().join(rel);
            match content {
                Some(c) => {
                    if let Some(parent) = abs.parent() {
                        std::fs::create_dir_all(parent).expect("mkdir");
                    }
                    std::fs::write(&abs, c).expect("write");
                    index.add_path(rel).expect("add");
                }
                None => {
                    let _ = std::fs::remove_file(&abs);
                    index.remove_path(rel).expect("remove");
                }
            }
        }
        index.write().expect("write index");
        let tree = self
            .repo
            .find_tree(index.write_tree().expect("write tree"))
            .expect("tree");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let sig = self.sig();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
            .expect("commit")
    }

    /// `n` commits that touch only `notes.txt`.
    pub fn filler(&self, n: usize, tag: &str) -> Oid {
        let mut last = Oid::ZERO_SHA1;
        for i in 0..n {
            last = self.commit(
                &format!("{tag} {i}"),
                &[("notes.txt", &format!("{tag} {i}\n"))],
            );
        }
        last
    }

    /// Creates (or moves) branch `name` at `at`.
    pub fn branch(&self, name: &str, at: Oid) {
        let c = self.repo.find_commit(at).expect("commit");
        self.repo.branch(name, &c, true).expect("branch");
    }

    /// Checks out a local branch (work tree and index follow).
    pub fn checkout(&self, name: &str) {
        let refname = format!("refs/heads/{name}");
        self.repo.set_head(&refname).expect("set head");
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checkout");
    }

    /// Creates branch `name` at `at` and checks it out.
    pub fn switch_new(&self, name: &str, at: Oid) {
        self.branch(name, at);
        self.checkout(name);
    }

    /// Points `refs/remotes/REMOTE/BRANCH` at `oid`, configuring the remote if needed.
    pub fn remote_ref(&self, remote: &str, branch: &str, oid: Oid) {
        if self.repo.find_remote(remote).is_err() {
            self.repo
                .remote(remote, &format!("file:///nonexistent/{remote}.git"))
                .expect("add remote");
        }
        self.repo
            .reference(
                &format!("refs/remotes/{remote}/{branch}"),
                oid,
                true,
                "test",
            )
            .expect("remote ref");
    }

    /// The current HEAD commit.
    pub fn head(&self) -> Oid {
        self.repo
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit")
            .id()
    }

    /// Runs dockguard in the work tree.
    pub fn dockguard(&self, args: &[&str]) -> Run {
        dockguard(self.path(), args, &[])
    }

    /// Runs dockguard in the work tree with extra env.
    pub fn dockguard_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        dockguard(self.path(), args, env)
    }

    /// Runs git in the work tree.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }
}

/// A repository with `master` at a base commit holding `docker/Dockerfile` and
/// `origin/master` tracking it.
pub fn with_master() -> (TestRepo, Oid) {
    let r = TestRepo::new();
    let base = r.commit(
        "base",
        &[
            ("docker/Dockerfile", "FROM debian:12\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    (r, base)
}

/// Finds an external tool for an end-to-end test. Tests that need one are
/// `#[ignore = "needs TOOL"]`, so plain `cargo test` reports them as ignored; `./test.sh`
/// installs the tools and runs them with `--include-ignored`, and then a missing tool is
/// a failure, never a silent pass.
pub fn require_tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!("{name} is not on the tests' PATH: run ./test.sh, which installs it (this test is ignored by plain `cargo test`)")
    })
}

/// Where `name` is on [`test_path`], the PATH the tests run programs with.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    std::env::split_paths(test_path())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A JSON array of strings as a `Vec`.
pub fn strings(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts dockguard failed with exit 2: a `dockguard: error:` line containing
/// `message`, a `hint:` line containing `hint`, and no panic.
pub fn assert_error(run: &Run, message: &str, hint: &str) {
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("dockguard: error: "));
    assert!(
        line.is_some_and(|l| l.contains(message)),
        "want {message:?} in:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("hint:") && l.contains(hint)),
        "want hint {hint:?} in:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// [`assert_error`], and the error is the first line on stderr.
pub fn assert_error_first(run: &Run, message: &str, hint: &str) {
    assert_error(run, message, hint);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("dockguard: error: "), "{}", run.stderr);
}

/// What a child's `ru_maxrss` (KiB) says it reached beyond this test process's own peak.
/// A child started by `posix_spawn` (vfork, then exec) records its parent's high-water mark
/// as its own, and this process's grows with every test running beside it (about 250 MB
/// in a full run): only what lies above it is the child's for sure. An unbounded read of
/// `/dev/zero` still reaches far above (about half of a 2 GiB address space).
pub(crate) fn peak_beyond_this_process(child_maxrss: i64) -> i64 {
    #[allow(unsafe_code)]
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it for this process.
    let own = unsafe {
        let mut own: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut own);
        own.ru_maxrss
    };
    if child_maxrss > own {
        child_maxrss
    } else {
        0
    }
}
