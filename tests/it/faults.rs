//! Load and faults: a 100k-line stdin, and SIGKILL at random points of the hook
//! (inside a real `git push`) and of `dockguard ci` (inside its fetches), many times: the
//! repository's refs stay as they were (only dockguard's private refs may change), the
//! object store stays connected, and the next run works.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{dockguard_bin, git, git_output, hermetic};
use crate::server::{dockguard_stdin, Setup};

/// A small deterministic generator (no rand dependency; reproducible failures).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Every ref except the given prefixes, with its target.
fn refs_except(dir: &Path, skip: &[&str]) -> Vec<String> {
    git(dir, &["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .filter(|l| !skip.iter().any(|s| l.starts_with(s)))
        .map(str::to_owned)
        .collect()
}

fn fsck(dir: &Path) {
    let out = git_output(
        dir,
        &[
            "fsck",
            "--connectivity-only",
            "--no-progress",
            "--no-dangling",
        ],
    );
    assert!(
        out.status.success(),
        "fsck in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` in its own process group and SIGKILLs the whole group after `delay` (if it
/// is still running). Returns whether it was killed.
fn run_and_kill(cmd: &mut Command, delay: Duration) -> bool {
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        if start.elapsed() >= delay {
            let pgid = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_hundred_thousand_stdin_lines_are_parsed_and_judged_quickly() {
    let s = Setup::new(false);
    let tip = s.branch("docker", true);
    let zero = "0".repeat(40);
    let mut input = String::with_capacity(100_000 * 110);
    for i in 0..100_000 {
        input.push_str(&format!("refs/heads/b{i} {tip} refs/heads/b{i} {zero}\n"));
    }
    let start = Instant::now();
    let done = dockguard_stdin(
        s.path(),
        &["hook", "pre-push", "origin", s.server.url()],
        &[("DOCKGUARD_POLICY", "warn")],
        input.as_bytes(),
    );
    let took = start.elapsed();
    assert_eq!(
        done.code,
        0,
        "{}",
        &done.stderr[..done.stderr.len().min(2000)]
    );
    assert!(
        done.stderr
            .contains("judged 100000 refs (1 distinct commit)"),
        "{}",
        &done.stderr[..done.stderr.len().min(2000)]
    );
    // Loose bound only (debug build, shared machine); the real targets live in bench/.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn killing_the_hook_mid_push_leaves_local_refs_and_objects_intact() {
    let s = Setup::new(true);
    git(s.path(), &["config", "dockguard.policy", "repush"]);
    let mut rng = Lcg(7);
    let before = refs_except(s.path(), &["refs/remotes/origin/"]);
    // How long one push takes here, to spread the kills over it.
    let tip = s.branch("docker0", true);
    let t0 = Instant::now();
    let out = hermetic(&mut Command::new("git"))
        .current_dir(s.path())
        .args(["push", "origin", "docker0"])
        .output()
        .expect("push");
    assert!(!out.status.success());
    let full = t0.elapsed().as_millis() as u64 + 20;
    assert_eq!(s.server.rev("refs/heads/docker0"), Some(tip.to_string()));
    let before = {
        let mut b = before;
        b.retain(|l| !l.starts_with("refs/heads/docker0 "));
        b
    };
    let mut killed = 0;
    for i in 1..=20 {
        let name = format!("docker{i}");
        let tip = s.branch(&name, true);
        let mut local = refs_except(s.path(), &["refs/remotes/origin/"]);
        let delay = Duration::from_millis(rng.below(full));
        let mut cmd = hermetic(&mut Command::new("git"))
            .current_dir(s.path())
            .args(["push", "origin", &name])
            .to_owned_cmd();
        killed += usize::from(run_and_kill(&mut cmd, delay));
        fsck(s.path());
        fsck(&s.server.dir);
        local.sort();
        let mut now = refs_except(s.path(), &["refs/remotes/origin/"]);
        now.sort();
        assert_eq!(local, now, "kill {i} after {delay:?} changed local refs");
        // The server has the branch at its tip or not at all; nothing in between.
        let there = s.server.rev(&format!("refs/heads/{name}"));
        assert!(
            there.is_none() || there == Some(tip.to_string()),
            "{there:?}"
        );
        assert!(!s.path().join(".git/index.lock").exists());
    }
    assert!(
        killed >= 5,
        "only {killed} of 20 runs were killed: the test proves too little"
    );
    assert!(before
        .iter()
        .all(|l| refs_except(s.path(), &[]).contains(l)));
    // The next push still works (and asks for the rebuild itself).
    let tip = s.branch("after", true);
    let out = hermetic(&mut Command::new("git"))
        .current_dir(s.path())
        .args(["push", "-o", crate::server::OPT, "origin", "after"])
        .output()
        .expect("push");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.server.rev("refs/heads/after"), Some(tip.to_string()));
}

#[test]
fn killing_dockguard_ci_leaves_refs_and_the_shallow_clone_usable() {
    let s = crate::ci::scenario(40, true);
    let dir = s.checkout("killed", Some(1));
    let env = crate::ci::gitlab_env(s.tip);
    let ci = |dir: &Path| {
        let mut cmd = Command::new(dockguard_bin());
        hermetic(&mut cmd)
            .current_dir(dir)
            .args(["ci", "--format", "json"]);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd
    };
    let before = refs_except(&dir, &["refs/dockguard/"]);
    // One uninterrupted run in a throw-away copy measures the span to kill within.
    let probe = s.checkout("probe", Some(1));
    let t0 = Instant::now();
    let out = ci(&probe).output().expect("ci");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = t0.elapsed().as_millis() as u64 + 20;
    let mut rng = Lcg(11);
    let mut killed = 0;
    for i in 0..20 {
        // Later runs are quicker (the first fetches what they reuse): kill early.
        let delay = Duration::from_millis(rng.below(full / 2));
        killed += usize::from(run_and_kill(&mut ci(&dir), delay));
        fsck(&dir);
        assert_eq!(
            refs_except(&dir, &["refs/dockguard/"]),
            before,
            "kill {i} after {delay:?}"
        );
        for r in git(
            &dir,
            &["for-each-ref", "--format=%(refname)", "refs/dockguard/"],
        )
        .lines()
        {
            assert!(r.starts_with("refs/dockguard/ci/"), "{r}");
        }
    }
    assert!(killed >= 5, "only {killed} of 20 runs were killed");
    // The next run works and judges correctly despite whatever the kills left behind,
    // except git's own lock of a killed fetch: that is a clear error naming the file
    // (dockguard cannot tell it from a concurrent job's live lock, so it never deletes it),
    // and after removing it as the hint says, the run works.
    let mut out = ci(&dir).output().expect("ci");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("shallow.lock") && err.contains("hint: ") && err.contains("remove"),
            "{err}"
        );
        std::fs::remove_file(dir.join(".git/shallow.lock")).expect("the named lock exists");
        out = ci(&dir).output().expect("ci");
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(refs_except(&dir, &["refs/dockguard/"]), before);
    fsck(&dir);
    git(&dir, &["log", "--oneline", "-n", "3"]);
}

trait ToOwnedCmd {
    fn to_owned_cmd(&mut self) -> Command;
}

impl ToOwnedCmd for Command {
    /// Rebuilds the command (std's Command is not Clone) with the same program, args,
    /// directory and environment.
    fn to_owned_cmd(&mut self) -> Command {
        let mut c = Command::new(self.get_program());
        c.args(self.get_args());
        if let Some(d) = self.get_current_dir() {
            c.current_dir(d);
        }
        c.env_clear();
        for (k, v) in self.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c
    }
}
