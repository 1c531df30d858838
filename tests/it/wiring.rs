//! `status` says what a push would really do, and `install` says exactly how to make it
//! run dockguard, under each way a hook manager can look wired and not be: every case
//! is checked by a real `git push` through the real lefthook / husky (from .tools) to a
//! recording server, before and after following `install`'s instructions as printed.
//! (pre-commit's wrong-stage case: tests/it/precommit.rs.)

use std::path::Path;

use crate::fixture::{dockguard, require_tool};
use crate::husky::{push, tool};
use crate::lefthook::LEFTHOOK_YML;
use crate::server::{line_starting, mode, set_mode, sh, Setup};

/// The `pre-push:` line of `dockguard status`.
fn status(s: &Setup) -> String {
    let run = dockguard(
        s.path(),
        &["status"],
        &[("PATH", &crate::husky::path_with_dockguard())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    line_starting(&run.stdout, "pre-push:")
}

/// `dockguard install`'s output.
fn install(s: &Setup) -> String {
    let run = dockguard(
        s.path(),
        &["install"],
        &[("PATH", &crate::husky::path_with_dockguard())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.stdout
}

/// Runs every `run: COMMAND` line of `text` as pasted into a shell.
fn paste_runs(s: &Setup, text: &str) -> usize {
    let cmds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: "))
        .collect();
    for c in &cmds {
        sh(s.path(), c).ok();
    }
    cmds.len()
}

/// A branch whose push needs a rebuild; the push without a request goes through
/// (nothing guards it) or is blocked (dockguard ran), as `guarded` says.
fn push_and_expect(s: &Setup, guarded: bool, round: usize) {
    if round == 0 {
        s.branch("feature", true);
    } else {
        s.r.filler(1, &format!("round {round}"));
    }
    let before = s.pushes().len();
    let done = push(s.path(), &["origin", "feature"]);
    let text = format!("{}{}", done.stdout, done.stderr);
    if guarded {
        assert_ne!(done.code, 0, "dockguard did not block the push:\n{text}");
        assert_eq!(s.pushes().len(), before, "{text}");
    } else {
        assert_eq!(done.code, 0, "{text}");
        assert_eq!(
            s.pushes().len(),
            before + 1,
            "the push went through unguarded:\n{text}"
        );
    }
}

fn assert_wired(s: &Setup, manager: &str) {
    let line = status(s);
    assert!(
        line.starts_with(&format!("pre-push:   via {manager} (")),
        "{line}"
    );
}

fn assert_not_wired(s: &Setup, manager: &str, why: &str) {
    let line = status(s);
    assert!(
        line.starts_with(&format!(
            "pre-push:   NOT installed: hooks are managed by {manager}"
        )) && line.contains(why),
        "{why:?} in {line}"
    );
}

#[test]
#[ignore = "needs lefthook"]
fn lefthook_never_installed_in_this_clone_is_not_wired_until_lefthook_install() {
    require_tool("lefthook");
    let s = Setup::new(false);
    std::fs::write(s.path().join("lefthook.yml"), LEFTHOOK_YML).expect("lefthook.yml");
    assert_not_wired(&s, "lefthook", "`lefthook install` was never run here");
    push_and_expect(&s, false, 0);
    let advice = install(&s);
    assert_eq!(paste_runs(&s, &advice), 1, "{advice}");
    assert_wired(&s, "lefthook");
    push_and_expect(&s, true, 1);
}

#[test]
#[ignore = "needs lefthook"]
fn lefthook_skip_or_a_comment_is_not_wired() {
    let lefthook = require_tool("lefthook");
    for (config, why) in [
        (format!("{LEFTHOOK_YML}      skip: true\n"), "`skip: true`"),
        (
            "pre-push:\n  commands:\n    lint:\n      run: 'true'\n#    dockguard:\n#      run: dockguard hook pre-push {1} {2}\n".to_owned(),
            "does not run dockguard",
        ),
    ] {
        let s = Setup::new(false);
        std::fs::write(s.path().join("lefthook.yml"), &config).expect("lefthook.yml");
        tool(s.path(), &lefthook, &["install"]);
        assert_not_wired(&s, "lefthook", why);
        push_and_expect(&s, false, 0);
        // install prints the entry to have; a user puts it in lefthook.yml.
        let advice = install(&s);
        for line in LEFTHOOK_YML.lines() {
            assert!(advice.contains(line), "{line:?} in:\n{advice}");
        }
        std::fs::write(s.path().join("lefthook.yml"), LEFTHOOK_YML).expect("lefthook.yml");
        assert_wired(&s, "lefthook");
        push_and_expect(&s, true, 1);
    }
}

#[test]
#[ignore = "needs lefthook"]
fn a_hook_git_ignores_for_not_being_executable_is_not_wired() {
    let lefthook = require_tool("lefthook");
    // dockguard's own hook: status says git ignores it; install makes it executable.
    let s = Setup::new(true);
    let hook = s.r.repo.path().join("hooks/pre-push");
    set_mode(&hook, 0o644);
    let line = status(&s);
    assert!(line.contains("not executable, so git ignores it"), "{line}");
    push_and_expect(&s, false, 0);
    assert!(install(&s).contains("updated the pre-push hook"));
    assert_ne!(mode(&hook) & 0o111, 0);
    push_and_expect(&s, true, 1);

    // lefthook's: install prints the chmod that fixes it.
    let s = Setup::new(false);
    std::fs::write(s.path().join("lefthook.yml"), LEFTHOOK_YML).expect("lefthook.yml");
    tool(s.path(), &lefthook, &["install"]);
    let hook = s.r.repo.path().join("hooks/pre-push");
    set_mode(&hook, 0o644);
    assert_not_wired(&s, "lefthook", "not executable, so git ignores it");
    push_and_expect(&s, false, 0);
    assert_eq!(paste_runs(&s, &install(&s)), 1);
    assert_wired(&s, "lefthook");
    push_and_expect(&s, true, 1);
}

#[test]
#[ignore = "needs husky"]
fn husky_with_dockguard_only_in_a_comment_is_not_wired() {
    let husky = require_tool("husky");
    let s = Setup::new(false);
    tool(s.path(), &husky, &[]);
    std::fs::write(
        s.path().join(".husky/pre-push"),
        "# dockguard hook pre-push \"$@\"   (to do)\n",
    )
    .expect("husky hook");
    assert_not_wired(&s, "husky", "a mention in a comment runs nothing");
    push_and_expect(&s, false, 0);
    let advice = install(&s);
    let line = line_starting(&advice, "echo ");
    sh(s.path(), &line).ok();
    assert_wired(&s, "husky");
    push_and_expect(&s, true, 1);

    // husky's stubs gone (`git clean -fdx` removes the ignored .husky/_): nothing runs
    // until husky runs again.
    std::fs::remove_dir_all(s.path().join(".husky/_")).expect("rm");
    assert_not_wired(&s, "husky", "husky's hooks are not installed");
    push_and_expect(&s, false, 2);
    assert!(install(&s).contains("`npx husky` where husky is installed"));
    tool(s.path(), &husky, &[]);
    assert!(Path::new(&s.path().join(".husky/_/pre-push")).is_file());
    assert_wired(&s, "husky");
    push_and_expect(&s, true, 3);
}
