//! Issue #22: files a tree names are read from git objects, or from the work tree only as
//! a regular file inside the checkout (no link followed, size-capped); dockguard's own
//! files in `.git/dockguard/` only as regular files, never waited on. Each attack runs
//! against the binary and failed on the code before the fix:
//!
//! - `.dockguard.toml -> /proc/self/environ` (or any file outside the checkout): the TOML
//!   error quoted the line, and `dockguard ci` printed the job's `CI_JOB_TOKEN`;
//! - `.dockguard.toml -> /dev/zero`: read until memory ran out;
//! - a FIFO at a memo path: `check` and the pre-push hook waited forever;
//! - hook managers' files (`lefthook.yml`, `.husky/pre-push`) as links: read through, out
//!   of the checkout and without bound.
//!
//! A run that hangs or eats memory on the old code must fail the test, not the test
//! binary: every run here has a kill timeout and an address-space limit ([`bounded`]).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::Oid;

use crate::ci::{gitlab_env, scenario, Scenario};
use crate::fixture::{dockguard_bin, git, hermetic, with_master, Run, TestRepo};
use crate::server::Setup;

/// Generous: every run here takes well under a second; only a hang reaches it.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Address space for a run (KiB): unbounded reads fail instead of swapping the machine.
const ADDRESS_SPACE_KIB: u64 = 2 << 20;
/// Peak resident set a run may reach (KiB); an unbounded read of `/dev/zero` reaches
/// about half the address space before an allocation fails.
const PEAK_KIB: i64 = 200 << 10;

/// Runs `program args` hermetically in `dir` under `ulimit -v`, in its own process group;
/// after [`TIMEOUT`] the whole group is killed and the test fails ("hung"). Returns the
/// run and its peak resident set (KiB, over the process and the children it waited for;
/// 0 when not above this test process's own: [`crate::fixture::peak_beyond_this_process`]).
fn bounded(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> (Run, i64) {
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd)
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let start = Instant::now();
    let mut status = 0;
    let mut killed = false;
    let rusage = loop {
        #[allow(unsafe_code)]
        // SAFETY: an all-zero rusage is a valid value; wait4 fills it (and `status`) for
        // our own child, which `child` never waits for (it is forgotten below).
        let (rusage, waited) = unsafe {
            let mut rusage: libc::rusage = std::mem::zeroed();
            let waited = libc::wait4(pid, &mut status, libc::WNOHANG, &mut rusage);
            (rusage, waited)
        };
        if waited == pid {
            break rusage;
        }
        assert_eq!(waited, 0, "wait4");
        if !killed && start.elapsed() > TIMEOUT {
            #[allow(unsafe_code)]
            // SAFETY: signals the process group this test created for the child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::mem::forget(child);
    let run = Run {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        },
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    };
    assert!(
        !killed,
        "{program} {args:?} hung: killed after {} s\nstdout:\n{}\nstderr:\n{}",
        TIMEOUT.as_secs(),
        run.stdout,
        run.stderr
    );
    (
        run,
        crate::fixture::peak_beyond_this_process(rusage.ru_maxrss),
    )
}

fn bounded_dockguard(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, i64) {
    bounded(dir, dockguard_bin(), args, env)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Both memo paths of a repository whose common git dir is `git_dir`.
fn memo_paths(git_dir: &Path) -> [PathBuf; 2] {
    let dir = git_dir.join("dockguard");
    [dir.join("dockerfiles-v4"), dir.join("dockerfiles-parsed")]
}

/// Puts a FIFO at each of `paths` (nothing ever writes to it: a blocking open waits forever).
fn plant_fifos(paths: &[PathBuf]) {
    for p in paths {
        std::fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
        let _ = std::fs::remove_file(p);
        mkfifo(p);
    }
}

#[test]
fn a_fifo_at_a_memo_path_never_hangs_check() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let [walk, parsed] = memo_paths(r.repo.path());
    for fifos in [vec![walk.clone()], vec![parsed.clone()], vec![walk, parsed]] {
        plant_fifos(&fifos);
        let (run, _) = bounded_dockguard(r.path(), &["check", "--format", "json"], &[]);
        assert_eq!(run.code, 0, "{fifos:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.json()["targets"][0]["rebuild"], true, "{}", run.stdout);
        for f in &fifos {
            assert!(
                std::fs::symlink_metadata(f).expect("memo").is_file(),
                "rewritten as a regular file: {}",
                f.display()
            );
        }
    }
}

#[test]
fn a_fifo_at_a_memo_path_never_hangs_the_pre_push_hook() {
    let s = Setup::new(true);
    s.first_five();
    plant_fifos(&memo_paths(s.r.repo.path()));
    let (push, _) = bounded(s.path(), "git", &["push", "origin", "feature"], &[]);
    assert_ne!(push.code, 0, "blocked: {}", push.stderr);
    assert!(
        push.stderr.contains("docker/Dockerfile") && push.stderr.contains("DOCKGUARD_SKIP=1"),
        "the hook judged the push: {}",
        push.stderr
    );
    assert!(s.pushes().is_empty(), "nothing reached the server");
}

/// The secrets a GitLab job's environment holds.
const JOB_TOKEN: &str = "glcbt-64_job-token-s3cr3t";
const REGISTRY_PASSWORD: &str = "registry-passw0rd-s3cr3t";

/// Commits a symbolic link `path -> target` (the `git` binary, as a user would).
fn commit_link(dir: &Path, path: &str, target: &Path) {
    let at = dir.join(path);
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let _ = std::fs::remove_file(&at);
    std::os::unix::fs::symlink(target, &at).expect("symlink");
    git(dir, &["add", "--", path]);
    git(dir, &["commit", "-q", "-m", &format!("{path} as a link")]);
}

/// Pushes a commit to the upstream's `feature` that makes `.dockguard.toml` a link to
/// `target`; returns the new tip.
fn push_config_link(s: &Scenario, name: &str, target: &Path) -> Oid {
    let work = s.repo.scratch(&format!("pusher-{name}"));
    git(
        s.repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--branch",
            "feature",
            &s.url(),
            work.to_str().expect("utf8"),
        ],
    );
    commit_link(&work, ".dockguard.toml", target);
    git(&work, &["push", "-q", "origin", "feature"]);
    Oid::from_str(&git(&work, &["rev-parse", "HEAD"])).expect("oid")
}

/// A GitLab job's environment, with the job's secrets in it.
fn job_env(tip: Oid) -> Vec<(String, String)> {
    let mut env = gitlab_env(tip);
    env.push(("CI_JOB_TOKEN".into(), JOB_TOKEN.into()));
    env.push(("CI_REGISTRY_PASSWORD".into(), REGISTRY_PASSWORD.into()));
    env
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A file outside every checkout, holding a secret-looking line.
fn outside_secret(r: &TestRepo) -> (PathBuf, &'static str) {
    const SECRET: &str = "AWS_SECRET_ACCESS_KEY=outside-the-checkout-s3cr3t";
    let path = r.scratch("secret.env");
    std::fs::write(&path, format!("{SECRET}\n")).expect("secret");
    (path, SECRET)
}

fn assert_refused_link(run: &Run, secrets: &[&str]) {
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("dockguard: error: ")
            && first.ends_with(".dockguard.toml is a symbolic link"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: dockguard reads .dockguard.toml only as a regular file"),
        "{}",
        run.stderr
    );
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} leaked:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn ci_never_prints_what_a_committed_config_link_points_at() {
    let s = scenario(3, true);
    let (secret_file, secret) = outside_secret(&s.repo);
    for (name, target) in [
        ("environ", Path::new("/proc/self/environ")),
        ("outside", secret_file.as_path()),
    ] {
        let tip = push_config_link(&s, name, target);
        let dir = s.checkout(&format!("ci-{name}"), Some(1));
        assert!(std::fs::symlink_metadata(dir.join(".dockguard.toml"))
            .expect("checked out")
            .file_type()
            .is_symlink());
        let env = job_env(tip);
        let (run, _) = bounded_dockguard(&dir, &["ci", "--format", "json"], &pairs(&env));
        assert_refused_link(&run, &[JOB_TOKEN, REGISTRY_PASSWORD, secret]);
    }
}

#[test]
fn check_never_reads_a_config_link_and_its_hint_works() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let (secret_file, secret) = outside_secret(&r);
    commit_link(r.path(), ".dockguard.toml", &secret_file);
    let env = [("CI_JOB_TOKEN", JOB_TOKEN)];
    let (run, _) = bounded_dockguard(r.path(), &["check"], &env);
    assert_refused_link(&run, &[secret]);
    // The hint's command, pasted, and the change committed: check answers again.
    let hint = run
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("hint: "))
        .expect("hint");
    let command = hint
        .split("or delete it: ")
        .nth(1)
        .and_then(|rest| rest.split(" (and commit").next())
        .expect("a command in the hint");
    crate::server::sh(r.path(), command).ok();
    git(r.path(), &["commit", "-q", "-a", "-m", "no link"]);
    let (run, _) = bounded_dockguard(r.path(), &["check"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!r.path().join(".dockguard.toml").exists());
    assert_eq!(
        std::fs::read_to_string(&secret_file).expect("secret"),
        format!("{secret}\n"),
        "the link's target is untouched"
    );
}

#[test]
fn a_config_link_to_dev_zero_is_a_quick_clear_error() {
    let s = scenario(3, true);
    let tip = push_config_link(&s, "zero", Path::new("/dev/zero"));
    let dir = s.checkout("ci-zero", Some(1));
    let env = job_env(tip);
    let (run, peak) = bounded_dockguard(&dir, &["ci", "--format", "json"], &pairs(&env));
    assert_refused_link(&run, &[JOB_TOKEN]);
    assert!(peak < PEAK_KIB, "read without bound: peak RSS {peak} KiB");

    let (r, base) = with_master();
    r.switch_new("feature", base);
    commit_link(r.path(), ".dockguard.toml", Path::new("/dev/zero"));
    let (run, peak) = bounded_dockguard(r.path(), &["check"], &[]);
    assert_refused_link(&run, &[]);
    assert!(peak < PEAK_KIB, "read without bound: peak RSS {peak} KiB");
}

#[test]
fn a_config_that_is_a_fifo_or_too_large_is_refused_without_waiting() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("docker", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let config = r.path().join(".dockguard.toml");
    mkfifo(&config);
    let (run, _) = bounded_dockguard(r.path(), &["check"], &[]);
    crate::fixture::assert_error(
        &run,
        ".dockguard.toml is a FIFO, not a regular file",
        "replace it with a regular file holding the configuration",
    );
    std::fs::remove_file(&config).expect("rm");
    std::fs::write(&config, format!("# {}\n", "x".repeat(1 << 20))).expect("big");
    let (run, peak) = bounded_dockguard(r.path(), &["check"], &[]);
    crate::fixture::assert_error(&run, "more than the 1048576 dockguard reads", "a few lines");
    assert!(peak < PEAK_KIB, "peak RSS {peak} KiB");
}

/// A repository whose work tree holds the hook manager file `path` as a link to `target`
/// (committed, as a cloned branch would have it).
fn with_manager_link(path: &str, target: &Path, extra: &[(&str, &str)]) -> TestRepo {
    let (r, _) = with_master();
    r.commit("manager", extra);
    commit_link(r.path(), path, target);
    r
}

#[test]
fn hook_manager_files_are_not_read_through_links() {
    // lefthook: `.lefthook.yml` makes it the manager; `lefthook.yml` is read for dockguard.
    let r = with_manager_link(
        "lefthook.yml",
        Path::new("/dev/zero"),
        &[(".lefthook.yml", "# hooks\n")],
    );
    for command in ["install", "status"] {
        let (run, peak) = bounded_dockguard(r.path(), &[command], &[]);
        assert_eq!(run.code, 0, "{command}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("lefthook"), "{command}: {}", run.stdout);
        assert!(
            peak < PEAK_KIB,
            "{command} read lefthook.yml -> /dev/zero without bound: peak RSS {peak} KiB"
        );
    }

    // A link out of the checkout to a file that runs dockguard is not "already wired".
    let outside = r.scratch("outside-lefthook.yml");
    std::fs::write(&outside, crate::lefthook::LEFTHOOK_YML).expect("outside");
    let r = with_manager_link("lefthook.yml", &outside, &[(".lefthook.yml", "# hooks\n")]);
    let (run, _) = bounded_dockguard(r.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("managed by lefthook")
            && !run.stdout.contains("already runs dockguard"),
        "{}",
        run.stdout
    );

    // husky: core.hooksPath (set by `husky`), and `.husky/pre-push` a link to /dev/zero.
    let (r, _) = with_master();
    commit_link(r.path(), ".husky/pre-push", Path::new("/dev/zero"));
    git(r.path(), &["config", "core.hooksPath", ".husky/_"]);
    let (run, peak) = bounded_dockguard(r.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("husky"), "{}", run.stdout);
    assert!(
        peak < PEAK_KIB,
        "read .husky/pre-push -> /dev/zero without bound: peak RSS {peak} KiB"
    );
}
