//! End-to-end helpers: a local bare "server" that advertises push options and records,
//! per push, the options it carried and the ref updates it received (from a pre-receive
//! hook, exactly as a GitLab-like server sees them); and a clone wired to it with
//! dockguard's hook installed.

#![allow(dead_code)] // each test module uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use git2::Oid;

use crate::fixture::{dockguard, dockguard_bin, git, hermetic, TestRepo};

/// The rebuild option dockguard asks for by default.
pub const OPT: &str = "ci.variable=DOCKGUARD_REBUILD=1";

/// A bare repository that records what each push carried.
pub struct Server {
    /// The bare repository (also its URL).
    pub dir: PathBuf,
    log: PathBuf,
}

/// What one push delivered to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `GIT_PUSH_OPTION_0..COUNT`.
    pub options: Vec<String>,
    /// `(old, new, ref)` per updated ref.
    pub updates: Vec<(String, String, String)>,
}

impl Received {
    /// The new oid pushed to `refname`, if this push updated it.
    pub fn new_oid(&self, refname: &str) -> Option<&str> {
        self.updates
            .iter()
            .find(|(_, _, r)| r == refname)
            .map(|(_, n, _)| n.as_str())
    }
}

const PRE_RECEIVE: &str = r#"#!/bin/sh
log='@LOG@'
{
  echo push
  i=0
  while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "v=\${GIT_PUSH_OPTION_$i}"
    printf 'option %s\n' "$v"
    i=$((i + 1))
  done
  while read -r old new ref; do
    printf 'update %s %s %s\n' "$old" "$new" "$ref"
  done
  echo end
} >> "$log"
"#;

impl Server {
    /// A new bare repository beside `r`'s work tree.
    pub fn new(r: &TestRepo, name: &str) -> Self {
        let dir = r.scratch(&format!("{name}.git"));
        let log = r.scratch(&format!("{name}.log"));
        git(
            r.tmp.path(),
            &["init", "-q", "--bare", dir.to_str().expect("utf-8 path")],
        );
        git(&dir, &["config", "receive.advertisePushOptions", "true"]);
        let hook = dir.join("hooks/pre-receive");
        std::fs::create_dir_all(hook.parent().expect("hooks dir")).expect("mkdir hooks");
        std::fs::write(
            &hook,
            PRE_RECEIVE.replace("@LOG@", log.to_str().expect("utf-8 path")),
        )
        .expect("write pre-receive");
        set_mode(&hook, 0o755);
        Server { dir, log }
    }

    /// The URL to push to (a plain path).
    pub fn url(&self) -> &str {
        self.dir.to_str().expect("utf-8 path")
    }

    /// Every push received so far, in order.
    pub fn pushes(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = Vec::new();
        let mut cur: Option<Received> = None;
        for line in text.lines() {
            if line == "push" {
                cur = Some(Received {
                    options: Vec::new(),
                    updates: Vec::new(),
                });
            } else if line == "end" {
                out.extend(cur.take());
            } else if let Some(o) = line.strip_prefix("option ") {
                cur.as_mut().expect("in a push").options.push(o.to_owned());
            } else if let Some(u) = line.strip_prefix("update ") {
                let mut f = u.splitn(3, ' ').map(str::to_owned);
                let (Some(a), Some(b), Some(c)) = (f.next(), f.next(), f.next()) else {
                    panic!("bad log line {line:?}");
                };
                cur.as_mut().expect("in a push").updates.push((a, b, c));
            }
        }
        out
    }

    /// What a ref points at on the server.
    pub fn rev(&self, refname: &str) -> Option<String> {
        let out = hermetic(&mut Command::new("git"))
            .current_dir(&self.dir)
            .args(["rev-parse", "--verify", "-q", refname])
            .output()
            .expect("git rev-parse");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// Sets a file's permission bits.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A file's permission bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// What a command did, with its output as text.
#[derive(Debug)]
pub struct Done {
    /// Exit code (-1 when killed).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Done {
    fn from(out: Output) -> Self {
        Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the output unless the command succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success:\n{}{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics with the output unless the command failed.
    pub fn failed(self) -> Self {
        assert_ne!(
            self.code, 0,
            "expected failure:\n{}{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs real `git ARGS` hermetically in `dir` with extra env (the hook runs inside).
pub fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Done {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd).current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Done::from(cmd.output().expect("run git"))
}

/// Runs `git push ARGS` in `dir`.
pub fn push(dir: &Path, args: &[&str]) -> Done {
    let mut all = vec!["push"];
    all.extend_from_slice(args);
    git_env(dir, &all, &[])
}

/// Runs a command line printed by dockguard through `sh -c`, with the dockguard binary
/// first on PATH, hermetically in `dir`.
pub fn sh(dir: &Path, line: &str) -> Done {
    let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        crate::fixture::test_path().to_string_lossy()
    );
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd)
        .current_dir(dir)
        .env("PATH", path)
        .args(["-c", line]);
    Done::from(cmd.output().expect("run sh"))
}

/// Runs dockguard with `stdin` fed in (for driving the hook by hand).
pub fn dockguard_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Done {
    let mut cmd = Command::new(dockguard_bin());
    hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn dockguard");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    Done::from(out)
}

/// A clone wired to a recording server (`origin`), with `upstream/master` at a base
/// commit that holds `docker/Dockerfile`, master pushed, and dockguard's hook installed.
pub struct Setup {
    /// The clone.
    pub r: TestRepo,
    /// The server behind `origin`.
    pub server: Server,
    /// The base commit (upstream master).
    pub base: Oid,
}

impl Setup {
    /// Builds it; `install` says whether to install the hook.
    pub fn new(install: bool) -> Self {
        let r = TestRepo::new();
        let base = r.commit(
            "base",
            &[
                ("docker/Dockerfile", "FROM debian:12\n"),
                ("src/main.c", "int main(void) { return 0; }\n"),
            ],
        );
        let server = Server::new(&r, "server");
        r.git(&["remote", "add", "origin", server.url()]);
        push(r.path(), &["-q", "origin", "master"]).ok();
        r.remote_ref("upstream", "master", base);
        let s = Setup { r, server, base };
        if install {
            let run = dockguard(s.r.path(), &["install"], &[]);
            assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        }
        s
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.r.path()
    }

    /// Pushes received after the initial push of master.
    pub fn pushes(&self) -> Vec<Received> {
        self.server.pushes().into_iter().skip(1).collect()
    }

    /// The "5" of the 5+3 story: `feature` from the base, whose 3rd of 5 commits edits
    /// `docker/Dockerfile`; checked out. Returns its tip.
    pub fn first_five(&self) -> Oid {
        self.r.switch_new("feature", self.base);
        self.r.filler(2, "first");
        self.r
            .commit("bump debian", &[("docker/Dockerfile", "FROM debian:13\n")]);
        self.r.filler(2, "more")
    }

    /// The "+3": three more commits, none touching a dockerfile. Returns the tip.
    pub fn three_more(&self) -> Oid {
        self.r.filler(3, "later")
    }

    /// Asserts the server received `count` pushes, the last carrying exactly `options`
    /// and moving `refs/heads/feature` to `tip`.
    pub fn assert_pushed(&self, count: usize, options: &[&str], tip: Oid) {
        let pushes = self.pushes();
        assert_eq!(pushes.len(), count, "{pushes:?}");
        let last = pushes.last().expect("a push");
        assert_eq!(last.options, options);
        assert_eq!(
            last.new_oid("refs/heads/feature"),
            Some(tip.to_string().as_str())
        );
    }

    /// A branch from the base with `n` filler commits and (if `docker`) a dockerfile change
    /// among them; checked out. Returns its tip.
    pub fn branch(&self, name: &str, docker: bool) -> Oid {
        self.r.switch_new(name, self.base);
        self.r.filler(1, name);
        if docker {
            self.r.commit(
                &format!("{name}: bump debian"),
                &[("docker/Dockerfile", &format!("FROM debian:13 # {name}\n"))],
            );
        }
        self.r.filler(1, &format!("{name} more"))
    }
}

/// The line of `text` that starts (after indentation) with `prefix`, trimmed.
pub fn line_starting(text: &str, prefix: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
        .to_owned()
}

/// The 5+3 story through an already wired hook manager, pushing with `push`: blocked,
/// pushed with the option, three more commits, blocked again (the merge-base still
/// differs in the dockerfile), pushed with the option.
pub fn five_plus_three(s: &Setup, push: impl Fn(&[&str]) -> Done) {
    let five = s.first_five();
    let blocked = push(&["origin", "feature"]).failed();
    assert!(
        blocked.stderr.contains("docker/Dockerfile"),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    // The option on the command line is seen through the hook manager's processes.
    push(&["-o", OPT, "origin", "feature"]).ok();
    s.assert_pushed(1, &[OPT], five);

    let eight = s.three_more();
    let again = push(&["origin", "feature"]).failed();
    assert!(
        again.stderr.contains("docker/Dockerfile"),
        "{}",
        again.stderr
    );
    assert_eq!(s.pushes().len(), 1);
    push(&["-o", OPT, "origin", "feature"]).ok();
    s.assert_pushed(2, &[OPT], eight);
}
