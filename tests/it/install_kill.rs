//! `dockguard install` and `uninstall` killed at every system call they make (strace's
//! fault injection: `-e inject=NAME:signal=KILL:when=N`, for each call NAME makes, for
//! each NAME the run makes): whatever the moment, git finds a working `pre-push`, the
//! user's or dockguard's (with the user's kept beside it), and the next run finishes
//! the job and leaves no temporary file or lock behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fixture::{dockguard_bin, hermetic, require_tool, with_master, TestRepo};
use crate::server::{mode, set_mode};

const USER_HOOK: &str = "#!/bin/sh\necho the user's hook\n";
const MARKER: &str = "# dockguard-managed-hook:";

/// How many times the run makes each system call.
fn syscalls(strace: &Path, r: &TestRepo, args: &[&str]) -> BTreeMap<String, usize> {
    let trace = r.scratch("trace");
    let out = hermetic(&mut Command::new(strace))
        .current_dir(r.path())
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .arg(dockguard_bin())
        .args(args)
        .output()
        .expect("strace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(&trace).expect("trace").lines() {
        // `PID name(args) = result`; resumed halves (`<... name resumed>`) are not calls.
        let call = line.split_whitespace().nth(1).unwrap_or_default();
        if let Some((name, _)) = call.split_once('(') {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                *counts.entry(name.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// Runs dockguard with a SIGKILL at the `n`th call of `name`.
fn killed_at(strace: &Path, r: &TestRepo, args: &[&str], name: &str, n: usize) {
    let _ = hermetic(&mut Command::new(strace))
        .current_dir(r.path())
        .args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={name}"))
        .arg("-e")
        .arg(format!("inject={name}:signal=KILL:when={n}"))
        .arg(dockguard_bin())
        .args(args)
        .output()
        .expect("strace");
}

fn hooks(r: &TestRepo) -> PathBuf {
    r.path().join(".git/hooks")
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// Git runs one of the two hooks, and nothing of the user's is lost.
fn assert_a_whole_state(r: &TestRepo, at: &str) {
    let hook = hooks(r).join("pre-push");
    let text = read(&hook).unwrap_or_else(|| panic!("{at}: no pre-push at all"));
    assert_ne!(mode(&hook) & 0o111, 0, "{at}: pre-push is not executable");
    if text != USER_HOOK {
        assert!(
            text.contains(MARKER),
            "{at}: pre-push is neither hook:\n{text}"
        );
        assert_eq!(
            read(&hooks(r).join("pre-push.dockguard-chained")).as_deref(),
            Some(USER_HOOK),
            "{at}: dockguard's hook without the user's beside it"
        );
    }
}

/// Nothing but the hooks themselves (and git's samples) is left.
fn assert_no_leftovers(r: &TestRepo, at: &str) {
    for e in std::fs::read_dir(hooks(r)).expect("hooks").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            matches!(name.as_str(), "pre-push" | "pre-push.dockguard-chained")
                || name.ends_with(".sample"),
            "{at}: {name} was left in the hooks directory"
        );
    }
}

fn ok(r: &TestRepo, args: &[&str]) {
    let run = r.dockguard(args);
    assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
}

fn user_hook_only(r: &TestRepo) {
    let _ = std::fs::remove_file(hooks(r).join("pre-push.dockguard-chained"));
    std::fs::write(hooks(r).join("pre-push"), USER_HOOK).expect("hook");
    set_mode(&hooks(r).join("pre-push"), 0o755);
}

#[test]
#[ignore = "needs strace"]
fn install_and_uninstall_killed_at_any_moment_leave_one_state_or_the_other() {
    let strace = require_tool("strace");
    let (r, _) = with_master();
    std::fs::create_dir_all(hooks(&r)).expect("hooks");
    for (args, before) in [
        (&["install"][..], "installed"),
        (&["uninstall"][..], "restored"),
    ] {
        let setup = |r: &TestRepo| {
            user_hook_only(r);
            if args == ["uninstall"] {
                ok(r, &["install"]);
            }
        };
        setup(&r);
        let counts = syscalls(&strace, &r, args);
        assert!(
            counts.contains_key("linkat") || args == ["uninstall"],
            "{counts:?}"
        );
        let mut kills = 0;
        for (name, count) in &counts {
            for n in 1..=*count {
                setup(&r);
                killed_at(&strace, &r, args, name, n);
                let at = format!("{args:?} killed at {name} #{n}");
                assert_a_whole_state(&r, &at);
                ok(&r, args);
                assert_a_whole_state(&r, &at);
                assert_no_leftovers(&r, &at);
                let text = read(&hooks(&r).join("pre-push")).expect("hook");
                assert_eq!(
                    text.contains(MARKER),
                    before == "installed",
                    "{at}: the next run did not finish the job"
                );
                kills += 1;
            }
        }
        assert!(kills > 50, "{args:?}: only {kills} moments");
    }
}
