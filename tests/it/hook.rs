//! The installed pre-push hook, driven by real `git push` to a recording server.

use std::path::Path;

use crate::fixture::{dockguard, git};
use crate::server::{
    dockguard_stdin, git_env, line_starting, mode, push, set_mode, sh, Setup, OPT,
};

const ZERO: &str = "0000000000000000000000000000000000000000";

#[test]
fn five_plus_three_is_blocked_until_asked_and_the_printed_commands_work() {
    let s = Setup::new(true);
    let five = s.first_five();

    let blocked = push(s.path(), &["origin", "feature"]).failed();
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    for needle in [
        "refs/heads/feature",
        "docker/Dockerfile",
        "bump debian",
        "policy block",
        "DOCKGUARD_SKIP=1",
    ] {
        assert!(
            blocked.stderr.contains(needle),
            "{needle}:\n{}",
            blocked.stderr
        );
    }
    let git_line = line_starting(&blocked.stderr, "git push -o");
    assert_eq!(
        git_line,
        format!("git push -o {OPT} origin refs/heads/feature")
    );
    let dg_line = line_starting(&blocked.stderr, "dockguard push");
    assert_eq!(dg_line, "dockguard push origin refs/heads/feature");

    // The printed git command, run as printed, pushes with the option.
    sh(s.path(), &git_line).ok();
    s.assert_pushed(1, &[OPT], five);

    // Three more commits, none touching a dockerfile: the branch still differs from
    // master in the dockerfile, so the second push must ask again.
    let eight = s.three_more();
    let again = push(s.path(), &["origin", "feature"]).failed();
    assert!(
        again.stderr.contains("docker/Dockerfile"),
        "{}",
        again.stderr
    );
    assert_eq!(s.pushes().len(), 1);

    // The printed wrapper command does it.
    let dg_line = line_starting(&again.stderr, "dockguard push");
    sh(s.path(), &dg_line).ok();
    s.assert_pushed(2, &[OPT], eight);
}

#[test]
fn a_branch_without_dockerfile_changes_passes_without_the_option() {
    let s = Setup::new(true);
    let tip = s.branch("clean", false);
    let done = push(s.path(), &["origin", "clean"]).ok();
    assert!(
        done.stderr.contains("no image rebuild needed"),
        "{}",
        done.stderr
    );
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 1);
    assert!(pushes[0].options.is_empty(), "{pushes:?}");
    assert_eq!(
        pushes[0].new_oid("refs/heads/clean"),
        Some(tip.to_string().as_str())
    );
}

#[test]
fn force_push_after_rebase_is_judged_against_the_new_merge_base() {
    let s = Setup::new(true);
    // A clean branch and a dockerfile branch, both pushed.
    s.branch("clean", false);
    push(s.path(), &["origin", "clean"]).ok();
    s.branch("docker", true);
    push(s.path(), &["-o", OPT, "origin", "docker"]).ok();
    let old_docker = s.server.rev("refs/heads/docker").expect("pushed");

    // Master moves on, changing the dockerfile itself.
    s.r.checkout("master");
    let new_master = s.r.commit(
        "master bumps debian",
        &[("docker/Dockerfile", "FROM debian:12.5\n")],
    );
    s.r.remote_ref("upstream", "master", new_master);

    // The clean branch, rebased: it differs from its old remote tip in the dockerfile
    // (master's change) but not from its merge-base. No rebuild.
    s.r.switch_new("clean", new_master);
    s.r.filler(1, "clean rebased");
    let done = push(s.path(), &["--force", "origin", "clean"]).ok();
    assert!(
        done.stderr.contains("no image rebuild needed"),
        "{}",
        done.stderr
    );
    assert!(s.pushes().last().expect("pushed").options.is_empty());

    // The dockerfile branch, rebased: its own change still differs. Blocked, and the
    // printed command needs (and carries) a lease on the old remote tip.
    s.r.switch_new("docker", new_master);
    s.r.commit("docker again", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let blocked = push(s.path(), &["--force", "origin", "docker"]).failed();
    let line = line_starting(&blocked.stderr, "git push -o");
    assert_eq!(
        line,
        format!("git push -o {OPT} --force-with-lease=refs/heads/docker:{old_docker} origin refs/heads/docker")
    );
    sh(s.path(), &line).ok();
    assert_eq!(s.pushes().last().expect("pushed").options, vec![OPT]);
    assert_eq!(
        s.server.rev("refs/heads/docker"),
        Some(s.r.head().to_string())
    );
}

#[test]
fn multi_ref_push_names_only_the_ref_that_needs_it_and_warn_lets_it_through() {
    let s = Setup::new(true);
    s.branch("a-docker", true);
    s.branch("b-clean", false);
    let blocked = push(s.path(), &["origin", "a-docker", "b-clean"]).failed();
    assert!(
        blocked
            .stderr
            .contains("judged 2 refs (2 distinct commits)"),
        "{}",
        blocked.stderr
    );
    assert!(
        blocked.stderr.contains("  refs/heads/a-docker ("),
        "{}",
        blocked.stderr
    );
    assert!(
        !blocked.stderr.contains("  refs/heads/b-clean ("),
        "{}",
        blocked.stderr
    );
    assert_eq!(
        line_starting(&blocked.stderr, "git push -o"),
        format!("git push -o {OPT} origin refs/heads/a-docker refs/heads/b-clean")
    );
    assert!(s.pushes().is_empty());

    let warned = git_env(
        s.path(),
        &["push", "origin", "a-docker", "b-clean"],
        &[("DOCKGUARD_POLICY", "warn")],
    )
    .ok();
    assert!(
        warned.stderr.contains("warning: pushing WITHOUT"),
        "{}",
        warned.stderr
    );
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 1);
    assert!(pushes[0].options.is_empty());
    assert_eq!(pushes[0].updates.len(), 2);
}

#[test]
fn tags_are_judged_by_the_commit_they_tag() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["tag", "-a", "v1", "-m", "release"]);
    git(s.path(), &["tag", "clean-tag", &s.base.to_string()]);
    let blocked = push(s.path(), &["origin", "v1"]).failed();
    assert!(
        blocked.stderr.contains("refs/tags/v1"),
        "{}",
        blocked.stderr
    );
    assert!(
        blocked.stderr.contains("docker/Dockerfile"),
        "{}",
        blocked.stderr
    );
    push(s.path(), &["origin", "clean-tag"]).ok();
    push(s.path(), &["-o", OPT, "origin", "v1"]).ok();
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 2);
    assert!(pushes[0].options.is_empty());
    assert_eq!(pushes[1].options, vec![OPT]);
}

#[test]
fn deletions_are_not_judged() {
    let s = Setup::new(true);
    s.branch("docker", true);
    push(s.path(), &["-o", OPT, "origin", "docker"]).ok();
    s.r.checkout("master");
    push(s.path(), &["origin", ":docker"]).ok();
    assert_eq!(s.server.rev("refs/heads/docker"), None);
    let last = s.pushes().pop().expect("pushed");
    assert!(last.options.is_empty());
    assert_eq!(last.updates[0].1, ZERO);
}

#[test]
fn dry_runs_never_repush() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["config", "dockguard.policy", "repush"]);
    let done = push(s.path(), &["--dry-run", "origin", "docker"]).ok();
    assert!(done.stderr.contains("dry run"), "{}", done.stderr);
    assert!(s.pushes().is_empty());
    assert_eq!(s.server.rev("refs/heads/docker"), None);
    // -n, bundled with another short flag, is a dry run too.
    push(s.path(), &["-fn", "origin", "docker"]).ok();
    assert!(s.pushes().is_empty());
}

#[test]
fn push_to_a_url_and_the_remotes_setting() {
    let s = Setup::new(true);
    s.branch("docker", true);
    let url = s.server.url().to_owned();
    let blocked = push(s.path(), &[&url, "docker"]).failed();
    assert_eq!(
        line_starting(&blocked.stderr, "git push -o"),
        format!("git push -o {OPT} {url} refs/heads/docker")
    );
    // Only `origin` is checked: a push to the URL is not.
    git(s.path(), &["config", "dockguard.remotes", "origin"]);
    let done = push(s.path(), &[&url, "docker"]).ok();
    assert!(
        done.stderr.contains("not among the `remotes`"),
        "{}",
        done.stderr
    );
    // A /regex/ matches the URL, whatever the remote is called.
    git(
        s.path(),
        &[
            "config",
            "--replace-all",
            "dockguard.remotes",
            "/server\\.git$/",
        ],
    );
    s.r.commit("more docker", &[("docker/Dockerfile", "FROM debian:14\n")]);
    push(s.path(), &["origin", "docker"]).failed();
    git(
        s.path(),
        &[
            "config",
            "--replace-all",
            "dockguard.remotes",
            "/elsewhere/",
        ],
    );
    push(s.path(), &["origin", "docker"]).ok();
}

#[test]
fn a_thousand_refs_cost_one_judgement() {
    let s = Setup::new(true);
    let tip = s.branch("docker", true);
    let commit = s.r.repo.find_commit(tip).expect("commit");
    for i in 0..1000 {
        s.r.repo
            .branch(&format!("many/{i:04}"), &commit, true)
            .expect("branch");
    }
    let done = push(
        s.path(),
        &["-o", OPT, "origin", "refs/heads/many/*:refs/heads/many/*"],
    )
    .ok();
    assert!(
        done.stderr.contains("judged 1000 refs (1 distinct commit)"),
        "{}",
        done.stderr
    );
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].updates.len(), 1000);
    assert_eq!(pushes[0].options, vec![OPT]);
    // Without the option, all 1000 are named in the command and 10 described.
    for i in 0..1000 {
        s.r.repo
            .branch(&format!("more/{i:04}"), &commit, true)
            .expect("branch");
    }
    let blocked = push(s.path(), &["origin", "refs/heads/more/*:refs/heads/more/*"]).failed();
    assert!(
        blocked.stderr.contains("… and 990 more refs"),
        "{}",
        blocked.stderr
    );
    let line = line_starting(&blocked.stderr, "git push -o");
    assert_eq!(line.matches("refs/heads/more/").count(), 1000);
    assert_eq!(s.pushes().len(), 1);
}

fn write_foreign_hook(path: &Path, record: &Path) -> Vec<u8> {
    let text = format!(
        "#!/bin/sh\n# someone else's hook\ncat > '{0}.stdin'\nprintf '%s\\n' \"$0\" \"$@\" > '{0}.args'\nexit \"${{FOREIGN_EXIT:-0}}\"\n",
        record.display()
    );
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(path, &text).expect("write hook");
    set_mode(path, 0o750);
    text.into_bytes()
}

#[test]
fn chained_foreign_hook_gets_the_same_argv_and_byte_identical_stdin() {
    let s = Setup::new(false);
    let hooks = s.path().join(".git/hooks");
    let record = s.r.scratch("record");
    let original = write_foreign_hook(&hooks.join("pre-push"), &record);
    s.branch("one", false);
    s.branch("two", false);
    let read = |ext: &str| std::fs::read(record.with_extension(ext)).expect("recorded");

    // What git gives the foreign hook when it is alone (a dry run runs it too).
    push(
        s.path(),
        &[
            "--dry-run",
            "origin",
            "one",
            "two",
            "HEAD~:refs/heads/three",
        ],
    )
    .ok();
    let (alone_stdin, alone_args) = (read("stdin"), read("args"));
    assert_eq!(alone_stdin.iter().filter(|b| **b == b'\n').count(), 3);

    let installed = dockguard(s.path(), &["install"], &[]);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    assert!(
        installed.stdout.contains("pre-push.dockguard-chained"),
        "{}",
        installed.stdout
    );
    let chained = hooks.join("pre-push.dockguard-chained");
    assert_eq!(std::fs::read(&chained).expect("kept"), original);
    assert_eq!(mode(&chained), 0o750);

    std::fs::remove_file(record.with_extension("stdin")).expect("rm");
    push(
        s.path(),
        &["origin", "one", "two", "HEAD~:refs/heads/three"],
    )
    .ok();
    assert_eq!(read("stdin"), alone_stdin, "byte-identical stdin");
    assert_eq!(read("args"), alone_args, "same $0 and arguments");
    assert_eq!(s.pushes().len(), 1);

    // Its failure fails the push.
    s.r.filler(1, "more");
    let failed = git_env(
        s.path(),
        &["push", "origin", "two"],
        &[("FOREIGN_EXIT", "3")],
    )
    .failed();
    assert!(
        failed.stderr.contains("chained pre-push hook"),
        "{}",
        failed.stderr
    );
    assert_eq!(s.pushes().len(), 1);

    // Uninstall puts it back exactly.
    let un = dockguard(s.path(), &["uninstall"], &[]);
    assert_eq!(un.code, 0, "{}", un.stderr);
    assert_eq!(
        std::fs::read(hooks.join("pre-push")).expect("restored"),
        original
    );
    assert_eq!(mode(&hooks.join("pre-push")), 0o750);
    assert!(!chained.exists());
}

#[test]
fn linked_worktree_uses_the_common_hooks_dir() {
    let s = Setup::new(false);
    let wt = s.r.scratch("linked");
    git(
        s.path(),
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "wt",
            wt.to_str().expect("utf-8"),
            &s.base.to_string(),
        ],
    );
    let run = dockguard(&wt, &["install"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let common = s.path().join(".git/hooks/pre-push");
    assert!(common.is_file(), "installed in the common dir");
    let expected = git(
        &wt,
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
    );
    assert_eq!(
        Path::new(&expected).canonicalize().expect("exists"),
        common
            .parent()
            .expect("dir")
            .canonicalize()
            .expect("exists")
    );
    std::fs::write(wt.join("docker/Dockerfile"), "FROM alpine\n").expect("write");
    git(&wt, &["commit", "-qam", "alpine"]);
    let blocked = push(&wt, &["origin", "wt"]).failed();
    assert!(
        blocked.stderr.contains("docker/Dockerfile"),
        "{}",
        blocked.stderr
    );
    push(&wt, &["-o", OPT, "origin", "wt"]).ok();
    assert_eq!(s.pushes().len(), 1);
}

const HUSKY_H: &str = r#"#!/usr/bin/env sh
n=$(basename "$0")
s=$(dirname "$(dirname "$0")")/$n
[ ! -f "$s" ] && exit 0
sh -e "$s" "$@"
"#;

#[test]
fn husky_style_relative_hooks_path_keeps_the_users_husky_hook_working() {
    let s = Setup::new(false);
    let husky = s.path().join(".husky");
    std::fs::create_dir_all(husky.join("_")).expect("mkdir");
    std::fs::write(husky.join("_/h"), HUSKY_H).expect("h");
    std::fs::write(
        husky.join("_/pre-push"),
        "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n",
    )
    .expect("husky pre-push");
    set_mode(&husky.join("_/pre-push"), 0o755);
    let marker = s.r.scratch("husky-ran");
    std::fs::write(
        husky.join("pre-push"),
        format!("echo \"$1\" > '{}'\n", marker.display()),
    )
    .expect("user hook");
    git(s.path(), &["config", "core.hooksPath", ".husky/_"]);

    // Installed from a subdirectory: relative to the work tree's root, not the cwd.
    let sub = s.path().join("src");
    let run = dockguard(&sub, &["install", "--force"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(husky.join("_/pre-push.dockguard-chained").is_file());
    assert!(!sub.join(".husky").exists());
    let expected = git(
        s.path(),
        &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
    );
    assert_eq!(
        Path::new(&expected).canonicalize().expect("exists"),
        husky.join("_").canonicalize().expect("exists")
    );

    s.branch("clean", false);
    push(s.path(), &["origin", "clean"]).ok();
    assert_eq!(
        std::fs::read_to_string(&marker)
            .expect("husky's hook ran")
            .trim(),
        "origin"
    );
    s.branch("docker", true);
    push(s.path(), &["origin", "docker"]).failed();
    assert_eq!(s.pushes().len(), 1);
}

#[test]
fn push_option_config_counts_only_without_dash_o_on_the_command_line() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["config", "push.pushOption", OPT]);
    let done = push(s.path(), &["origin", "docker"]).ok();
    assert!(done.stderr.contains("push.pushOption"), "{}", done.stderr);
    assert_eq!(s.pushes()[0].options, vec![OPT]);

    // -o replaces the configured list: the option is not sent, so the push is blocked.
    s.r.commit("again", &[("docker/Dockerfile", "FROM debian:14\n")]);
    let blocked = push(s.path(), &["-o", "ci.skip", "origin", "docker"]).failed();
    assert!(
        blocked.stderr.contains("push options seen: ci.skip"),
        "{}",
        blocked.stderr
    );
    assert_eq!(
        line_starting(&blocked.stderr, "git push -o"),
        // ci.skip is left out: GitLab would create no pipeline to rebuild in.
        format!("git push -o {OPT} origin refs/heads/docker")
    );
    git(s.path(), &["config", "--unset", "push.pushOption"]);
    // `git -c` reaches the hook through git's environment.
    let c = format!("push.pushOption={OPT}");
    git_env(s.path(), &["-c", &c, "push", "origin", "docker"], &[]).ok();
    assert_eq!(s.pushes().len(), 2);
}

#[test]
fn every_spelling_of_the_option_on_the_command_line_is_recognised() {
    let s = Setup::new(true);
    let spellings: Vec<Vec<String>> = vec![
        vec!["-o".into(), OPT.into()],
        vec![format!("-o{OPT}")],
        vec![format!("--push-option={OPT}")],
        vec!["--push-option".into(), OPT.into()],
        vec![format!("--push-opt={OPT}"), "-o".into(), "ci.skip".into()],
    ];
    for (i, spelling) in spellings.iter().enumerate() {
        let name = format!("b{i}");
        s.branch(&name, true);
        let mut args: Vec<&str> = spelling.iter().map(String::as_str).collect();
        args.extend(["origin", &name]);
        let done = push(s.path(), &args).ok();
        assert!(
            done.stderr.contains("the `git push` command line"),
            "{args:?}: {}",
            done.stderr
        );
    }
    assert!(s
        .pushes()
        .iter()
        .all(|p| p.options.contains(&OPT.to_owned())));
}

#[test]
fn repush_pushes_with_the_option_then_stops_the_original_push() {
    let s = Setup::new(true);
    git(s.path(), &["config", "dockguard.policy", "repush"]);
    s.branch("gone", false);
    push(s.path(), &["origin", "gone"]).ok();
    let tip = s.branch("docker", true);
    let done = push(s.path(), &["origin", "docker", ":gone"]).failed();
    assert!(
        done.stderr.contains("THE PUSH ALREADY HAPPENED"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("--force-with-lease=refs/heads/docker:"),
        "{}",
        done.stderr
    );
    let pushes = s.pushes();
    assert_eq!(
        pushes.len(),
        2,
        "one push by dockguard, the original stopped"
    );
    assert_eq!(pushes[1].options, vec![OPT]);
    assert_eq!(
        pushes[1].new_oid("refs/heads/docker"),
        Some(tip.to_string().as_str())
    );
    assert_eq!(pushes[1].new_oid("refs/heads/gone"), Some(ZERO));
    assert_eq!(s.server.rev("refs/heads/docker"), Some(tip.to_string()));
}

#[test]
fn repush_never_overwrites_a_remote_that_moved() {
    let s = Setup::new(false);
    // A chained hook runs before dockguard's own push; this one moves the remote's
    // `docker` to the local `side` branch (as another pusher would, between git's ref
    // advertisement and our push).
    let hooks = s.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(
        hooks.join("pre-push"),
        format!(
            "#!/bin/sh\ncat >/dev/null\ngit push -q --no-verify --force '{}' refs/heads/side:refs/heads/docker\n",
            s.server.url()
        ),
    )
    .expect("write");
    set_mode(&hooks.join("pre-push"), 0o755);
    let run = dockguard(s.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    git(s.path(), &["config", "dockguard.policy", "repush"]);
    s.r.branch("side", s.base);
    let tip = s.branch("docker", true);

    // git saw no `docker` on the remote, so our lease says "must not exist".
    let done = push(s.path(), &["origin", "docker"]).failed();
    // (git usually says "stale info" here, but when every ref is rejected before the
    // pack is sent, git 2.47 may die of SIGPIPE writing the push options first; the
    // remote is asked what it has either way.)
    assert!(
        done.stderr.contains("nothing was pushed"),
        "{}",
        done.stderr
    );
    assert_eq!(
        s.server.rev("refs/heads/docker"),
        Some(s.base.to_string()),
        "the other pusher's ref is intact"
    );

    // Two refs: the lease on the moved one fails, the other lands; the message says so.
    let parent =
        s.r.repo
            .find_commit(tip)
            .expect("c")
            .parent_id(0)
            .expect("p");
    s.r.branch("side", parent);
    let done = push(s.path(), &["origin", "docker", "docker:refs/heads/other"]).failed();
    assert!(
        done.stderr
            .contains("PART WAY: the remote has refs/heads/other but not refs/heads/docker"),
        "{}",
        done.stderr
    );
    assert_eq!(s.server.rev("refs/heads/docker"), Some(parent.to_string()));
    assert_eq!(s.server.rev("refs/heads/other"), Some(tip.to_string()));
}

#[test]
fn dockguard_skip_lets_the_push_through() {
    let s = Setup::new(true);
    s.branch("docker", true);
    let done = git_env(
        s.path(),
        &["push", "origin", "docker"],
        &[("DOCKGUARD_SKIP", "1")],
    )
    .ok();
    assert!(done.stderr.contains("DOCKGUARD_SKIP"), "{}", done.stderr);
    assert!(s.pushes()[0].options.is_empty());
}

#[test]
fn on_error_blocks_with_the_escape_hatch_or_allows() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(
        s.path(),
        &["update-ref", "-d", "refs/remotes/upstream/master"],
    );
    let blocked = push(s.path(), &["origin", "docker"]).failed();
    assert!(
        blocked.stderr.contains("cannot find the upstream"),
        "{}",
        blocked.stderr
    );
    assert!(
        blocked.stderr.contains("DOCKGUARD_SKIP=1"),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty());
    // git config spells it with a dash (git config names cannot hold `_`).
    git(s.path(), &["config", "dockguard.on-error", "allow"]);
    let allowed = push(s.path(), &["origin", "docker"]).ok();
    assert!(
        allowed.stderr.contains("on_error = allow"),
        "{}",
        allowed.stderr
    );
    // A setting that cannot even be read still honours on_error from the environment.
    git(s.path(), &["config", "dockguard.on-error", "block"]);
    git(s.path(), &["config", "dockguard.policy", "bogus"]);
    s.r.filler(1, "x");
    let bad = push(s.path(), &["origin", "docker"]).failed();
    assert!(bad.stderr.contains("dockguard.policy"), "{}", bad.stderr);
    git_env(
        s.path(),
        &["push", "origin", "docker"],
        &[("DOCKGUARD_ON_ERROR", "allow")],
    )
    .ok();
}

#[test]
fn bad_input_is_an_error_naming_the_line() {
    let s = Setup::new(false);
    let tip = s.branch("docker", true);
    let args = ["hook", "pre-push", "origin", s.server.url()];
    let input = format!(
        "refs/heads/docker {tip} refs/heads/docker {ZERO}\nrefs/heads/x {tip} refs/heads/x\n"
    );
    let done = dockguard_stdin(s.path(), &args, &[], input.as_bytes());
    assert_eq!(done.code, 2, "{}", done.stderr);
    assert!(done.stderr.contains("line 2"), "{}", done.stderr);
    assert!(done.stderr.contains("refs/heads/x"), "{}", done.stderr);

    let missing = "1234567890123456789012345678901234567890";
    let input = format!("refs/heads/docker {missing} refs/heads/docker {ZERO}\n");
    let done = dockguard_stdin(s.path(), &args, &[], input.as_bytes());
    assert_eq!(done.code, 2, "{}", done.stderr);
    assert!(
        done.stderr.contains("line 1") && done.stderr.contains("does not exist"),
        "{}",
        done.stderr
    );

    // A remote oid that does not exist locally is fine; deletions are skipped.
    let input = format!(
        "(delete) {ZERO} refs/heads/old {missing}\nrefs/heads/docker {tip} refs/heads/docker {missing}\n"
    );
    let done = dockguard_stdin(
        s.path(),
        &args,
        &[("DOCKGUARD_POLICY", "warn")],
        input.as_bytes(),
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stderr.contains("judged 1 ref"), "{}", done.stderr);
}

#[test]
fn a_missing_binary_falls_back_to_path_then_fails_loudly() {
    let s = Setup::new(false);
    let first = s.r.scratch("bin-a");
    let second = s.r.scratch("bin-b");
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::create_dir_all(&second).expect("mkdir");
    let copy = first.join("dockguard");
    std::fs::copy(crate::fixture::dockguard_bin(), &copy).expect("copy");
    // A freshly written executable can be briefly "busy" (ETXTBSY) while a child that
    // another test thread forked still holds the write descriptor: try again then.
    let run = loop {
        match crate::fixture::hermetic(&mut std::process::Command::new(&copy))
            .current_dir(s.path())
            .arg("install")
            .output()
        {
            Err(e) if e.raw_os_error() == Some(26) => std::thread::yield_now(),
            other => break other.expect("install"),
        }
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::rename(&copy, second.join("dockguard")).expect("move");
    s.branch("clean", false);
    let path = format!(
        "{}:{}",
        second.display(),
        crate::fixture::test_path().to_string_lossy()
    );
    git_env(s.path(), &["push", "origin", "clean"], &[("PATH", &path)]).ok();
    s.r.filler(1, "x");
    // The tests' PATH has no dockguard on it (fixture::test_path).
    let failed = git_env(
        s.path(),
        &["push", "origin", "clean"],
        &[("PATH", crate::fixture::test_path().to_str().expect("utf-8"))],
    )
    .failed();
    assert!(
        failed.stderr.contains("cannot find the dockguard binary"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("--no-verify"), "{}", failed.stderr);
    assert_eq!(s.pushes().len(), 1);
}

#[test]
fn the_push_option_is_configurable() {
    let s = Setup::new(true);
    s.branch("docker", true);
    // git config spells push_option with a dash.
    git(
        s.path(),
        &[
            "config",
            "dockguard.push-option",
            "ci.variable=REBUILD_IMAGES=yes",
        ],
    );
    let blocked = push(s.path(), &["-o", OPT, "origin", "docker"]).failed();
    assert_eq!(
        line_starting(&blocked.stderr, "git push -o"),
        format!("git push -o {OPT} -o ci.variable=REBUILD_IMAGES=yes origin refs/heads/docker")
    );
    push(
        s.path(),
        &["-o", "ci.variable=REBUILD_IMAGES=yes", "origin", "docker"],
    )
    .ok();
    assert_eq!(
        s.pushes()[0].options,
        vec!["ci.variable=REBUILD_IMAGES=yes"]
    );
}

/// The block message names the commits behind each change; a push that already asks for
/// the rebuild prints no such message, so nothing is attributed (issue 11). Seen by
/// making attribution impossible: the tree of a commit inside the range is gone, which
/// neither the merge-base nor the tree diff (tips only) needs.
#[test]
fn a_push_that_asks_for_the_rebuild_attributes_no_commits() {
    let s = Setup::new(true);
    let tip = s.branch("docker", true);
    let middle =
        s.r.repo
            .find_commit(tip)
            .expect("tip")
            .parent_id(0)
            .expect("parent");
    let tree =
        s.r.repo
            .find_commit(middle)
            .expect("middle")
            .tree_id()
            .to_string();
    let loose =
        s.r.repo
            .path()
            .join("objects")
            .join(&tree[..2])
            .join(&tree[2..]);
    std::fs::remove_file(&loose).expect("remove the middle commit's tree");
    // A real push that asks: the hook sees `-o` on git's command line.
    let asked = push(s.path(), &["-o", OPT, "origin", "docker"]);
    assert!(
        asked.stderr.contains("this push asks for it"),
        "{}",
        asked.stderr
    );
    // (git itself then fails to pack the missing tree: that is git's error, not ours.)
    assert!(
        !asked.stderr.contains("dockguard: error"),
        "{}",
        asked.stderr
    );
    // Without the option the message needs the commits, and says it cannot name them.
    let blocked = push(s.path(), &["origin", "docker"]).failed();
    assert!(
        blocked
            .stderr
            .lines()
            .any(|l| l.starts_with("dockguard: error") && l.contains(&tree)),
        "{}",
        blocked.stderr
    );
}
