//! Every hint about the upstream works when followed: the test runs the command the
//! message suggests and checks that dockguard then compares with the right branch.

use crate::fixture::{dockguard, git, TestRepo};

/// The first backquoted `git …` command in `text` after `marker`, split into arguments
/// (the hints quote nothing inside it).
fn suggested_git(text: &str, marker: &str) -> Vec<String> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"));
    let cmd = text[at + marker.len()..]
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no backquoted command after {marker:?} in:\n{text}"));
    let words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
    assert_eq!(words.first().map(String::as_str), Some("git"), "{cmd}");
    words[1..].to_vec()
}

fn run_git(dir: &std::path::Path, args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(dir, &args);
}

/// A project and a clone of it whose remote is called `qemu`, fetched.
fn clone_with_remote_named_qemu() -> (TestRepo, std::path::PathBuf) {
    let r = TestRepo::new();
    r.commit("base", &[("docker/Dockerfile", "FROM debian:12\n")]);
    let project = r.bare_clone("project.git");
    let dir = r.scratch("dev");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "-o",
            "qemu",
            project.to_str().expect("utf8"),
            dir.to_str().expect("utf8"),
        ],
    );
    (r, dir)
}

#[test]
fn no_upstream_suggests_a_setting_that_is_accepted() {
    let (_r, dir) = clone_with_remote_named_qemu();
    let run = dockguard(&dir, &["check"], &[]);
    crate::fixture::assert_error(
        &run,
        "cannot find the upstream",
        "dockguard.upstream qemu/master",
    );
    // A repository's .dockguard.toml may not set `upstream`: never suggested.
    assert!(!run.stderr.contains(".dockguard.toml"), "{}", run.stderr);
    run_git(&dir, &suggested_git(&run.stderr, "is upstream: "));
    let run = dockguard(&dir, &["check"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("refs/remotes/qemu/master"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_upstream_remote_with_another_name_is_not_silently_replaced_by_origin() {
    let (r, dir) = clone_with_remote_named_qemu();
    // The developer's fork is `origin`.
    let fork = r.scratch("fork.git");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            dir.to_str().expect("utf8"),
            fork.to_str().expect("utf8"),
        ],
    );
    git(
        &dir,
        &["remote", "add", "origin", fork.to_str().expect("utf8")],
    );
    git(&dir, &["fetch", "-q", "origin"]);
    let run = dockguard(&dir, &["check"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("refs/remotes/origin/master"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the remote `qemu` is not compared with"),
        "{}",
        run.stdout
    );
    run_git(&dir, &suggested_git(&run.stdout, "if it is upstream: "));
    let run = dockguard(&dir, &["check"], &[]);
    assert!(
        run.stdout.contains("refs/remotes/qemu/master"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("note:"), "{}", run.stdout);
}

#[test]
fn a_master_left_behind_after_upstream_moved_to_main_is_said_with_the_fix() {
    let r = TestRepo::new();
    r.commit("base", &[("docker/Dockerfile", "FROM debian:12\n")]);
    let project = r.bare_clone("project.git");
    let dir = r.scratch("dev");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "-o",
            "upstream",
            project.to_str().expect("utf8"),
            dir.to_str().expect("utf8"),
        ],
    );
    // The project renames master to main and moves on; the clone fetches (no prune).
    r.commit("on main", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let pushed = r.git(&[
        "push",
        "-q",
        project.to_str().expect("utf8"),
        "HEAD:refs/heads/main",
    ]);
    drop(pushed);
    git(&project, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    git(&project, &["branch", "-D", "master"]);
    git(&dir, &["fetch", "-q", "upstream"]);
    let run = dockguard(&dir, &["check"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("refs/remotes/upstream/master"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("may have moved to `main`"),
        "{}",
        run.stdout
    );
    run_git(&dir, &suggested_git(&run.stdout, "if so: "));
    let run = dockguard(&dir, &["check"], &[]);
    assert!(
        run.stdout.contains("refs/remotes/upstream/main"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("warning:"), "{}", run.stdout);
}

#[test]
fn the_commands_printed_after_a_mirror_push_push_the_mirror_with_the_request() {
    use crate::server::{line_starting, push, sh, Setup, OPT};
    let s = Setup::new(true);
    s.branch("docker", true);
    let blocked = push(s.path(), &["--mirror", "origin"]).failed();
    let with_git = line_starting(&blocked.stderr, "git push -o");
    assert_eq!(with_git, format!("git push -o {OPT} --mirror origin"));
    let with_dockguard = line_starting(&blocked.stderr, "dockguard push");
    assert_eq!(with_dockguard, "dockguard push --mirror origin");
    // Pasted: the server gets the mirror (the branch, and the remote-tracking refs a
    // mirror carries) with the request.
    sh(s.path(), &with_git).ok();
    let got = s.pushes();
    let last = got.last().expect("a push");
    assert_eq!(last.options, vec![OPT]);
    assert!(last.new_oid("refs/heads/docker").is_some(), "{last:?}");
    s.r.commit("again", &[("docker/Dockerfile", "FROM debian:14\n")]);
    let blocked = push(s.path(), &["--mirror", "origin"]).failed();
    assert_eq!(
        line_starting(&blocked.stderr, "dockguard push"),
        with_dockguard
    );
    sh(s.path(), &with_dockguard).ok();
    let got = s.pushes();
    let last = got.last().expect("a push");
    assert_eq!(last.options, vec![OPT]);
    assert_eq!(
        last.new_oid("refs/heads/docker"),
        Some(s.r.head().to_string().as_str())
    );
}

#[test]
fn the_commands_printed_leave_out_ci_skip_and_a_contradicting_request() {
    use crate::server::{line_starting, push, sh, Setup, OPT};
    let s = Setup::new(true);
    s.branch("docker", true);
    let blocked = push(
        s.path(),
        &[
            "-o",
            "ci.skip",
            "-o",
            "ci.variable=DOCKGUARD_REBUILD=0",
            "-o",
            "keep=me",
            "origin",
            "docker",
        ],
    )
    .failed();
    let with_git = line_starting(&blocked.stderr, "git push -o");
    assert_eq!(
        with_git,
        format!("git push -o keep=me -o {OPT} origin refs/heads/docker")
    );
    let done = sh(s.path(), &with_git).ok();
    assert!(!done.stderr.contains("ci.skip"), "{}", done.stderr);
    assert_eq!(
        s.pushes().last().expect("a push").options,
        vec!["keep=me", OPT]
    );
}
