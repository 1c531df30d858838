//! `dockguard install / uninstall / status`: where hooks go, what is refused, what is
//! kept, and what status reports (install.sh: tests/it/install_script.rs).

use std::path::{Path, PathBuf};

use crate::fixture::{dockguard, dockguard_bin, git, with_master, Run, TestRepo};
use crate::server::{git_env, mode, set_mode};

fn hooks_of(r: &TestRepo) -> PathBuf {
    r.path().join(".git/hooks")
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

fn refused(run: Run, needles: &[&str]) -> Run {
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "{n}:\n{}", run.stderr);
    }
    run
}

#[test]
fn install_is_idempotent_and_records_the_binary() {
    let (r, _) = with_master();
    let first = ok(r.dockguard(&["install"]));
    assert!(
        first.stdout.contains("installed the pre-push hook"),
        "{}",
        first.stdout
    );
    let hook = hooks_of(&r).join("pre-push");
    let text = std::fs::read_to_string(&hook).expect("installed");
    assert!(
        text.starts_with("#!/bin/sh\n# dockguard-managed-hook:"),
        "{text}"
    );
    let bin = Path::new(dockguard_bin()).canonicalize().expect("bin");
    assert!(
        text.contains(&format!("recorded={}", bin.display())),
        "{text}"
    );
    assert_eq!(mode(&hook), 0o755);
    let second = ok(r.dockguard(&["install"]));
    assert!(
        second.stdout.contains("already installed"),
        "{}",
        second.stdout
    );
    assert_eq!(std::fs::read_to_string(&hook).expect("still there"), text);
    assert!(!hooks_of(&r).join("pre-push.dockguard-chained").exists());
    // The installed shim is the shipped one, with only the binary filled in.
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/pre-push"))
            .expect("hooks/pre-push");
    assert_eq!(
        text.replacen(&format!("recorded={}", bin.display()), "recorded=''", 1),
        shipped
    );
    // An old shim (another binary) is updated in place, never chained.
    std::fs::write(
        &hook,
        text.replace(&bin.display().to_string(), "/old/dockguard"),
    )
    .expect("edit");
    let third = ok(r.dockguard(&["install"]));
    assert!(third.stdout.contains("updated"), "{}", third.stdout);
    assert_eq!(std::fs::read_to_string(&hook).expect("there"), text);
    assert!(!hooks_of(&r).join("pre-push.dockguard-chained").exists());
}

#[test]
fn hooks_dir_is_the_one_git_uses() {
    let (r, _) = with_master();
    let sub = r.path().join("src");
    // GIT_DIR from elsewhere (as git sets it for hooks).
    let elsewhere = r.scratch("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let git_dir = r.path().join(".git");
    let run = dockguard(
        &elsewhere,
        &["install"],
        &[("GIT_DIR", git_dir.to_str().expect("utf-8"))],
    );
    ok(run);
    assert!(hooks_of(&r).join("pre-push").is_file());
    ok(r.dockguard(&["uninstall"]));
    // core.hooksPath, relative to the work tree root whatever the cwd.
    git(r.path(), &["config", "core.hooksPath", "tools/hooks"]);
    ok(dockguard(&sub, &["install"], &[]));
    let expected = git(
        &sub,
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
    );
    assert_eq!(
        Path::new(&expected),
        r.path().join("tools/hooks").canonicalize().expect("made")
    );
    assert!(r.path().join("tools/hooks/pre-push").is_file());
    assert!(!hooks_of(&r).join("pre-push").exists());
}

#[test]
fn refuses_a_hooks_path_outside_the_repository_unless_forced() {
    let (r, _) = with_master();
    let shared = r.scratch("shared-hooks");
    git(
        r.path(),
        &["config", "core.hooksPath", shared.to_str().expect("utf-8")],
    );
    refused(
        r.dockguard(&["install"]),
        &["outside this repository", "--force"],
    );
    assert!(!shared.join("pre-push").exists());
    ok(r.dockguard(&["install", "--force"]));
    assert!(shared.join("pre-push").is_file());
    ok(r.dockguard(&["uninstall"]));
    assert!(!shared.join("pre-push").exists());
}

#[test]
fn never_writes_through_a_symlinked_hook() {
    let (r, _) = with_master();
    let target = r.scratch("managed-elsewhere");
    std::fs::write(&target, "#!/bin/sh\nexit 0\n").expect("write");
    set_mode(&target, 0o755);
    let hooks = hooks_of(&r);
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::os::unix::fs::symlink(&target, hooks.join("pre-push")).expect("symlink");
    refused(r.dockguard(&["install"]), &["symbolic link", "--force"]);
    assert_eq!(
        std::fs::read_to_string(&target).expect("t"),
        "#!/bin/sh\nexit 0\n"
    );
    ok(r.dockguard(&["install", "--force"]));
    let chained = hooks.join("pre-push.dockguard-chained");
    assert_eq!(std::fs::read_link(&chained).expect("still a link"), target);
    assert_eq!(
        std::fs::read_to_string(&target).expect("t"),
        "#!/bin/sh\nexit 0\n"
    );
    ok(r.dockguard(&["uninstall"]));
    assert_eq!(
        std::fs::read_link(hooks.join("pre-push")).expect("link back"),
        target
    );
}

#[test]
fn refuses_when_a_chained_hook_would_be_lost() {
    let (r, _) = with_master();
    let hooks = hooks_of(&r);
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\necho new\n").expect("w");
    std::fs::write(
        hooks.join("pre-push.dockguard-chained"),
        "#!/bin/sh\necho old\n",
    )
    .expect("w");
    refused(
        r.dockguard(&["install"]),
        &["already exists", "would be lost"],
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("r"),
        "#!/bin/sh\necho new\n"
    );
}

#[test]
fn uninstall_leaves_what_is_not_ours() {
    let (r, _) = with_master();
    let none = ok(r.dockguard(&["uninstall"]));
    assert!(none.stdout.contains("not installed"), "{}", none.stdout);
    let hooks = hooks_of(&r);
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\necho theirs\n").expect("w");
    let foreign = ok(r.dockguard(&["uninstall"]));
    assert!(
        foreign.stdout.contains("not dockguard's"),
        "{}",
        foreign.stdout
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("r"),
        "#!/bin/sh\necho theirs\n"
    );
}

#[test]
fn status_reports_hook_binary_upstream_age_and_settings() {
    let (r, base) = with_master();
    let before = ok(r.dockguard(&["status"]));
    assert!(
        before.stdout.contains("pre-push:   NOT installed"),
        "{}",
        before.stdout
    );
    ok(r.dockguard(&["install"]));
    git(r.path(), &["config", "dockguard.policy", "warn"]);
    let run = ok(r.dockguard_env(&["status"], &[("DOCKGUARD_ON_ERROR", "allow")]));
    let out = &run.stdout;
    let bin = Path::new(dockguard_bin()).canonicalize().expect("bin");
    for needle in [
        format!("hooks dir:  {}", hooks_of(&r).display()),
        format!(
            "pre-push:   installed ({}/pre-push), runs {}",
            hooks_of(&r).display(),
            bin.display()
        ),
        "upstream:   refs/remotes/origin/master".to_owned(),
        "last updated".to_owned(),
    ] {
        assert!(out.contains(&needle), "{needle}:\n{out}");
    }
    let setting = |name: &str| line_of(out, &format!("  {name} "));
    assert!(setting("policy").ends_with("git config"), "{out}");
    assert!(setting("policy").contains("\"warn\""), "{out}");
    assert!(
        setting("on_error").ends_with("env DOCKGUARD_ON_ERROR"),
        "{out}"
    );
    assert!(setting("remotes").ends_with("default"), "{out}");
    assert!(!out.contains("warning:"), "fresh ref: {out}");

    // A tracking ref last updated long ago (the hermetic clock says 2023) is stale.
    let newer = r.commit("newer master", &[("README", "x\n")]);
    assert_ne!(newer, base);
    git_env(
        r.path(),
        &[
            "update-ref",
            "refs/remotes/origin/master",
            &newer.to_string(),
        ],
        &[],
    )
    .ok();
    let stale = ok(r.dockguard(&["status"]));
    assert!(
        stale.stdout.contains("warning: last updated"),
        "{}",
        stale.stdout
    );
    assert!(
        stale.stdout.contains("git fetch origin"),
        "{}",
        stale.stdout
    );

    // Broken settings are reported, not fatal.
    git(r.path(), &["config", "dockguard.policy", "bogus"]);
    let broken = ok(r.dockguard(&["status"]));
    assert!(
        broken.stdout.contains("settings:   problem:"),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("dockguard.policy"),
        "{}",
        broken.stdout
    );
    git(r.path(), &["config", "--unset", "dockguard.policy"]);

    // A hook manager sets core.hooksPath later: our hook is no longer the one git runs.
    git(r.path(), &["config", "core.hooksPath", ".husky/_"]);
    let shadowed = ok(r.dockguard(&["status"]));
    // ... and, as `install` would, it names husky as the manager in charge.
    assert!(
        shadowed
            .stdout
            .contains("pre-push:   NOT installed: hooks are managed by husky"),
        "{}",
        shadowed.stdout
    );
    assert!(
        shadowed
            .stdout
            .contains("git ignores it while core.hooksPath is set"),
        "{}",
        shadowed.stdout
    );
}

fn line_of<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"))
        .trim_end()
}

#[test]
fn the_stale_upstream_warning_clears_after_the_fetch_it_suggests() {
    // A fetch that finds the branch unchanged writes no reflog entry: status, which read
    // only the reflog, kept the warning after the very `git fetch` it asked for.
    let r = TestRepo::new();
    r.commit("base", &[("README", "x\n")]);
    let bare = r.bare_clone("upstream.git");
    git(
        r.path(),
        &["remote", "add", "origin", bare.to_str().expect("utf8")],
    );
    git(r.path(), &["fetch", "-q", "origin"]);
    let fetch_head = r.path().join(".git/FETCH_HEAD");
    // The last fetch was long ago (and the hermetic clock dates the reflog 2023).
    git(
        r.path(),
        &["update-ref", "refs/remotes/origin/master", "HEAD"],
    );
    crate::server::sh(r.path(), "touch -d 2023-01-01 .git/FETCH_HEAD").ok();
    assert!(fetch_head.is_file());
    let stale = ok(r.dockguard(&["status"]));
    let line = line_of(&stale.stdout, "            warning: last updated");
    let cmd = line
        .split("run `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no command in {line:?}"));
    assert_eq!(cmd, "git fetch origin");
    crate::server::sh(r.path(), cmd).ok();
    let fresh = ok(r.dockguard(&["status"]));
    assert!(
        !fresh.stdout.contains("warning: last updated"),
        "{}",
        fresh.stdout
    );
    assert!(
        fresh.stdout.contains("ago (last fetch)"),
        "{}",
        fresh.stdout
    );
}
