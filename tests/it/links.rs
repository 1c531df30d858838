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

use crate::fixture::{dockguard_bin, hermetic, with_master, Run};
use crate::server::Setup;

/// Generous: every run here takes well under a second; only a hang reaches it.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Address space for a run (KiB): unbounded reads fail instead of swapping the machine.
const ADDRESS_SPACE_KIB: u64 = 2 << 20;

/// Runs `program args` hermetically in `dir` under `ulimit -v`, in its own process group;
/// after [`TIMEOUT`] the whole group is killed and the test fails ("hung"). Returns the
/// run and its peak resident set (KiB, over the process and the children it waited for).
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
    (run, rusage.ru_maxrss)
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
