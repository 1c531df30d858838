//! `dockguard push`: the option is added iff a ref git will push needs a rebuild, for
//! every way git decides what to push; git's exit code is passed through.

use crate::fixture::{dockguard, git, Run};
use crate::server::{push, Setup, OPT};

fn dg_push(s: &Setup, args: &[&str]) -> Run {
    let mut all = vec!["push"];
    all.extend_from_slice(args);
    dockguard(s.path(), &all, &[])
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

#[test]
fn adds_the_option_only_when_a_pushed_ref_needs_it() {
    let s = Setup::new(true); // the hook sees the wrapper's request and agrees
    s.branch("clean", false);
    let clean = ok(dg_push(&s, &["origin", "clean"]));
    assert!(
        clean.stderr.contains("no image rebuild needed"),
        "{}",
        clean.stderr
    );
    let tip = s.branch("docker", true);
    let docker = ok(dg_push(&s, &["origin", "docker"]));
    assert!(
        docker
            .stderr
            .contains("refs/heads/docker needs an image rebuild"),
        "{}",
        docker.stderr
    );
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 2);
    assert!(pushes[0].options.is_empty());
    assert_eq!(pushes[1].options, vec![OPT]);
    assert_eq!(
        pushes[1].new_oid("refs/heads/docker"),
        Some(tip.to_string().as_str())
    );
}

#[test]
fn follows_push_default_and_head_refspecs() {
    let s = Setup::new(false);
    s.branch("docker", true);
    git(s.path(), &["config", "push.default", "current"]);
    ok(dg_push(&s, &[]));
    assert_eq!(s.pushes()[0].options, vec![OPT]);
    assert!(s.server.rev("refs/heads/docker").is_some());
    // HEAD:refs/heads/x, quiet (the dry run must still list the update).
    ok(dg_push(&s, &["-q", "origin", "HEAD:refs/heads/x"]));
    let last = s.pushes().pop().expect("pushed");
    assert_eq!(last.options, vec![OPT]);
    assert!(last.new_oid("refs/heads/x").is_some());
    // A clean commit pushed by object name.
    ok(dg_push(
        &s,
        &["origin", &format!("{}:refs/heads/y", s.base)],
    ));
    assert!(s.pushes().pop().expect("pushed").options.is_empty());
}

#[test]
fn all_and_tags_count_every_ref() {
    let s = Setup::new(false);
    s.branch("clean", false);
    s.branch("docker", true);
    ok(dg_push(&s, &["--all", "origin"]));
    let p = s.pushes().pop().expect("pushed");
    assert_eq!(p.options, vec![OPT]);
    assert_eq!(p.updates.len(), 2);

    git(s.path(), &["tag", "-a", "v1", "-m", "release"]);
    git(s.path(), &["tag", "base-tag", &s.base.to_string()]);
    ok(dg_push(&s, &["--tags", "origin"]));
    let p = s.pushes().pop().expect("pushed");
    assert_eq!(p.options, vec![OPT]);
    assert!(p.new_oid("refs/tags/v1").is_some() && p.new_oid("refs/tags/base-tag").is_some());
}

#[test]
fn force_and_deletions() {
    let s = Setup::new(false);
    s.branch("docker", true);
    ok(dg_push(&s, &["origin", "docker"]));
    git(s.path(), &["commit", "-q", "--amend", "-m", "amended"]);
    // Without --force git rejects it: git's exit code comes through.
    let rejected = dg_push(&s, &["origin", "docker"]);
    assert_eq!(rejected.code, 1, "{}", rejected.stderr);
    assert_eq!(s.pushes().len(), 1);
    ok(dg_push(&s, &["--force", "origin", "docker"]));
    assert_eq!(s.pushes().pop().expect("pushed").options, vec![OPT]);
    assert_eq!(
        s.server.rev("refs/heads/docker"),
        Some(s.r.head().to_string())
    );
    // A deletion alone makes nothing current: no option.
    s.r.checkout("master");
    ok(dg_push(&s, &["origin", "--delete", "docker"]));
    let p = s.pushes().pop().expect("pushed");
    assert!(p.options.is_empty());
    assert_eq!(s.server.rev("refs/heads/docker"), None);
}

#[test]
fn passes_gits_exit_code_through_when_git_cannot_push() {
    let s = Setup::new(false);
    let run = dg_push(&s, &["no-such-remote", "master"]);
    assert_eq!(run.code, 128, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-remote"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was pushed"), "{}", run.stderr);
}

#[test]
fn keeps_the_users_push_options() {
    let s = Setup::new(true);
    s.branch("docker", true);
    // -o on the command line replaces push.pushOption, ours is added to it.
    git(s.path(), &["config", "push.pushOption", "from.config"]);
    ok(dg_push(&s, &["-o", "ci.skip", "origin", "docker"]));
    assert_eq!(s.pushes()[0].options, vec!["ci.skip", OPT]);
    // Without -o, push.pushOption would be dropped by our -o: it is carried along.
    s.r.commit("again", &[("docker/Dockerfile", "FROM debian:14\n")]);
    ok(dg_push(&s, &["origin", "docker"]));
    assert_eq!(s.pushes()[1].options, vec!["from.config", OPT]);
    // Options after `--` are refspecs, so ours goes before it.
    s.r.commit("again 2", &[("docker/Dockerfile", "FROM debian:15\n")]);
    ok(dg_push(&s, &["origin", "--", "docker"]));
    assert_eq!(s.pushes()[2].options, vec!["from.config", OPT]);
    // A plain git push of a clean branch still gets the configured option only.
    s.branch("clean", false);
    push(s.path(), &["origin", "clean"]).ok();
    assert_eq!(s.pushes()[3].options, vec!["from.config"]);
}
