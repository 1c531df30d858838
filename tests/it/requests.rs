//! Only what the server will really receive counts as a request (issue 16), and the
//! request can be a pipeline input as well as a variable (issue 15): real repositories,
//! real `git push` to a recording server, the hook installed by `dockguard install`.

use std::path::{Path, PathBuf};

use crate::ci::{gitlab_env, run_env, scenario};
use crate::fixture::{dockguard, dockguard_bin, git};
use crate::server::{git_env, line_starting, push, set_mode, Done, Setup, OPT};

/// The input form of the request, with the default `ci.request_input`.
const INPUT: &str = "ci.input=dockguard_rebuild=true";

/// A pre-push hook that runs dockguard behind `timeout`, which stays between git and
/// dockguard as a process of its own (it forks to enforce the time limit).
fn hook_behind_timeout(s: &Setup) {
    let hook = s.path().join(".git/hooks/pre-push");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nexec timeout 300 '{}' hook pre-push \"$@\"\n",
            dockguard_bin()
        ),
    )
    .expect("write hook");
    set_mode(&hook, 0o755);
}

/// `g`: git under another name (a symlink), so its command line does not say `git push`.
fn git_in_disguise(s: &Setup) -> PathBuf {
    let git_bin = crate::fixture::find_tool("git").expect("git on PATH");
    let g = s.r.scratch("g");
    std::os::unix::fs::symlink(git_bin, &g).expect("symlink");
    g
}

fn run_prog(dir: &Path, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Done {
    let mut cmd = std::process::Command::new(prog);
    crate::fixture::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_wrapper_between_git_and_the_hook_does_not_hide_the_push() {
    let s = Setup::new(false);
    hook_behind_timeout(&s);
    s.branch("docker", true);
    git(s.path(), &["config", "push.pushOption", OPT]);
    // -o on the command line makes git drop push.pushOption: the server would get
    // ci.skip only. Behind `timeout` the hook must still see that, and stop the push.
    let blocked = push(s.path(), &["-o", "ci.skip", "origin", "docker"]).failed();
    assert!(
        blocked
            .stderr
            .contains("push options seen: ci.skip (from the `git push` command line)"),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    // Without -o the configured option is sent, and seen as such.
    let done = push(s.path(), &["origin", "docker"]).ok();
    assert!(done.stderr.contains("push.pushOption"), "{}", done.stderr);
    assert_eq!(s.pushes()[0].options, vec![OPT]);
}

#[test]
fn a_push_that_cannot_be_seen_is_no_request() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["config", "push.pushOption", OPT]);
    let g = git_in_disguise(&s);
    // The server gets ci.skip only (git drops push.pushOption for -o); the hook cannot
    // see the command line, so it must not assume the configured option.
    let blocked = run_prog(
        s.path(),
        &g,
        &["push", "-o", "ci.skip", "origin", "docker"],
        &[],
    )
    .failed();
    assert!(
        blocked.stderr.contains("push options: unknown"),
        "{}",
        blocked.stderr
    );
    assert!(
        blocked
            .stderr
            .contains(&format!("push.pushOption is set ({OPT})")),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    // `dockguard push` tells the hook what it sends: that works from anywhere.
    let run = dockguard(s.path(), &["push", "origin", "docker"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s.pushes()[0].options, vec![OPT]);
}

#[test]
fn a_git_alias_for_push_is_read_like_git_push() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["config", "alias.p", "push"]);
    git(s.path(), &["config", "push.pushOption", OPT]);
    let blocked = push_alias(&s, &["p", "-o", "ci.skip", "origin", "docker"]).failed();
    assert!(
        blocked.stderr.contains("push options seen: ci.skip"),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty());
    // (git runs the alias as a `git push` process of its own: that is what the hook reads.)
    let done = push_alias(&s, &["p", "-o", OPT, "origin", "docker"]).ok();
    assert!(
        done.stderr.contains("the `git push` command line"),
        "{}",
        done.stderr
    );
    assert_eq!(s.pushes()[0].options, vec![OPT]);
}

fn push_alias(s: &Setup, args: &[&str]) -> Done {
    git_env(s.path(), args, &[])
}

#[test]
fn a_handoff_leaked_into_another_push_is_no_request() {
    let s = Setup::new(true);
    s.branch("docker", true);
    // The unbound form older versions wrote, and a bound one for some other process.
    for value in [
        OPT.to_owned(),
        format!("pid=1\n{OPT}"),
        format!("pid={}\n{OPT}", std::process::id()),
    ] {
        let blocked = git_env(
            s.path(),
            &["push", "origin", "docker"],
            &[("DOCKGUARD_PUSH_OPTIONS_SENT", &value)],
        )
        .failed();
        assert!(
            blocked
                .stderr
                .contains("DOCKGUARD_PUSH_OPTIONS_SENT is set but was made for"),
            "{value:?}: {}",
            blocked.stderr
        );
        assert!(s.pushes().is_empty(), "{value:?}");
    }
}

#[test]
fn a_push_nested_in_another_repository_does_not_inherit_the_request() {
    // Repository B: its `docker` branch needs a rebuild.
    let b = Setup::new(true);
    b.branch("docker", true);
    // Repository A: its own pre-push hook (chained by dockguard) pushes B, as a mirroring
    // or release script would.
    let a = Setup::new(false);
    let hooks = a.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(
        hooks.join("pre-push"),
        format!(
            "#!/bin/sh\ncat >/dev/null\nexec git -C '{}' push origin docker\n",
            b.path().display()
        ),
    )
    .expect("write");
    set_mode(&hooks.join("pre-push"), 0o755);
    let run = dockguard(a.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    a.branch("docker", true);

    // `dockguard push` in A hands its request to A's own hook, which lets A's push go;
    // the nested push of B inherits that environment but is another push: blocked.
    let run = dockguard(a.path(), &["push", "origin", "docker"], &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "this push asks for it (-o ci.variable=DOCKGUARD_REBUILD=1, seen in `dockguard push`"
        ),
        "A's hook took A's hand-off: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("was made for the `git push` of process"),
        "B's hook ignored it: {}",
        run.stderr
    );
    assert!(b.pushes().is_empty(), "B got nothing: {:?}", b.pushes());
    assert!(
        a.pushes().is_empty(),
        "A's chained hook failed, so A's push stopped"
    );
}

#[test]
fn the_pipeline_input_form_is_a_request_everywhere_the_variable_form_is() {
    let s = Setup::new(true);
    s.branch("docker", true);
    git(s.path(), &["config", "dockguard.push-option", INPUT]);
    let blocked = push(s.path(), &["origin", "docker"]).failed();
    assert_eq!(
        line_starting(&blocked.stderr, "git push -o"),
        format!("git push -o {INPUT} origin refs/heads/docker")
    );
    assert!(s.pushes().is_empty());
    // On the command line: the server receives it, the hook accepts it.
    let done = push(s.path(), &["-o", INPUT, "origin", "docker"]).ok();
    assert!(
        done.stderr.contains("this push asks for it"),
        "{}",
        done.stderr
    );
    assert_eq!(s.pushes()[0].options, vec![INPUT]);
    // In push.pushOption.
    s.r.commit("again", &[("docker/Dockerfile", "FROM debian:14\n")]);
    let c = format!("push.pushOption={INPUT}");
    git_env(s.path(), &["-c", &c, "push", "origin", "docker"], &[]).ok();
    assert_eq!(s.pushes()[1].options, vec![INPUT]);
    // `dockguard push` adds it.
    s.r.commit("again 2", &[("docker/Dockerfile", "FROM debian:15\n")]);
    let run = dockguard(s.path(), &["push", "origin", "docker"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("pushing with -o {INPUT}")),
        "{}",
        run.stderr
    );
    assert_eq!(s.pushes()[2].options, vec![INPUT]);
    // A repository's file may choose it (it names this machine's ci.request_input).
    git(s.path(), &["config", "--unset", "dockguard.push-option"]);
    s.r.commit(
        "use inputs",
        &[
            (".dockguard.toml", &format!("push_option = {INPUT:?}\n")),
            ("docker/Dockerfile", "FROM debian:16\n"),
        ],
    );
    push(s.path(), &["origin", "docker"]).failed();
    push(s.path(), &["-o", INPUT, "origin", "docker"]).ok();
    assert_eq!(s.pushes()[3].options, vec![INPUT]);
}

#[test]
fn install_and_status_say_which_request_form_and_what_the_server_needs() {
    let s = Setup::new(false);
    let run = dockguard(s.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "request:    `git push -o ci.variable=DOCKGUARD_REBUILD=1`: a GitLab pipeline variable",
        "receive.advertisePushOptions",
        "Insufficient permissions to set pipeline variables",
        "git config dockguard.push-option ci.input=dockguard_rebuild=true",
    ] {
        assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    }
    git(s.path(), &["config", "dockguard.push-option", INPUT]);
    let run = dockguard(s.path(), &["status"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "request:    `git push -o ci.input=dockguard_rebuild=true`: a GitLab pipeline input",
        "spec: inputs: dockguard_rebuild",
        "--request-input $[[ inputs.dockguard_rebuild ]]",
        "first 4 branch/tag updates",
    ] {
        assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    }
    assert!(
        !run.stdout.contains("Insufficient permissions"),
        "{}",
        run.stdout
    );
}

#[test]
fn refs_beyond_gitlabs_pipeline_limit_are_named() {
    let s = Setup::new(true);
    let tip = s.branch("docker", true);
    let commit = s.r.repo.find_commit(tip).expect("commit");
    for i in 1..=6 {
        s.r.repo
            .branch(&format!("d{i}"), &commit, true)
            .expect("branch");
    }
    let refs: Vec<String> = (1..=6).map(|i| format!("d{i}")).collect();
    let mut args = vec!["-o", OPT, "origin"];
    args.extend(refs.iter().map(String::as_str));
    let done = push(s.path(), &args).ok();
    let warning = line_starting(&done.stderr, "dockguard: warning: GitLab creates pipelines");
    assert!(
        warning.contains("first 4 branch/tag updates")
            && warning.contains("so 2 that need a rebuild"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("push them separately"),
        "{}",
        done.stderr
    );
    assert_eq!(s.pushes()[0].updates.len(), 6);
    // GitLab numbers the updates in the order git sends them, which is the hook's input
    // order: the warning names the 5th and 6th.
    let pushed = s.pushes();
    let order: Vec<&str> = pushed[0]
        .updates
        .iter()
        .map(|(_, _, r)| r.as_str())
        .collect();
    for late in &order[4..] {
        assert!(warning.contains(late), "{late}: {warning}");
    }
    // Four at a time: no warning.
    s.r.commit("more", &[("docker/Dockerfile", "FROM debian:14\n")]);
    let specs: Vec<String> = (1..=6).map(|i| format!("docker:d{i}")).collect();
    let mut args = vec!["-o", OPT, "--force", "origin"];
    args.extend(specs[..4].iter().map(String::as_str));
    let done = push(s.path(), &args).ok();
    assert!(
        !done.stderr.contains("GitLab creates pipelines"),
        "{}",
        done.stderr
    );
    // `gitlab_pipeline_refs = 0` (another server): none for any number.
    s.r.commit("more 2", &[("docker/Dockerfile", "FROM debian:15\n")]);
    git(s.path(), &["config", "dockguard.gitlab-pipeline-refs", "0"]);
    let mut args = vec!["-o", OPT, "--force", "origin"];
    args.extend(specs.iter().map(String::as_str));
    let done = push(s.path(), &args).ok();
    assert!(done.stderr.contains("judged 6 refs"), "{}", done.stderr);
    assert!(
        !done.stderr.contains("GitLab creates pipelines"),
        "{}",
        done.stderr
    );
}

#[test]
fn ci_reads_the_request_from_the_pipeline_input() {
    let s = scenario(3, false);
    let dir = s.checkout("input", Some(1));
    let env = gitlab_env(s.tip);
    let json = |extra: &[&str]| {
        let mut args = vec!["ci", "--provider", "gitlab", "--format", "json", "--strict"];
        args.extend_from_slice(extra);
        let run = run_env(&dir, &args, &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        (run.json(), run.stderr)
    };
    // Nothing differs; the input's value, as the CI configuration passes it, asks.
    let (v, stderr) = json(&["--request-input", "true"]);
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(v["reason"], "requested");
    assert_eq!(v["requested"], true);
    assert_eq!(v["request_input"], "dockguard_rebuild");
    assert_eq!(v["request_input_value"], "true");
    assert!(
        stderr.contains("REBUILD (requested)")
            && stderr.contains("the input dockguard_rebuild is \"true\""),
        "{stderr}"
    );
    // A boolean input left at its default: no request.
    let (v, stderr) = json(&["--request-input", "false"]);
    assert_eq!(v["decision"], "skip");
    assert!(
        stderr
            .contains("DOCKGUARD_REBUILD is not set and the input dockguard_rebuild is \"false\""),
        "{stderr}"
    );
    // The name is this machine's (git config), like the variable's.
    git(
        &dir,
        &["config", "dockguard.ci.request-input", "rebuild_images"],
    );
    let (v, _) = json(&["--request-input", "1"]);
    assert_eq!(v["request_input"], "rebuild_images");
    assert_eq!(v["reason"], "requested");
}

#[test]
fn ci_reads_the_input_and_rebuilds_when_needed() {
    let s = scenario(3, true);
    let dir = s.checkout("input-needed", Some(1));
    let env = gitlab_env(s.tip);
    let args = ["ci", "--provider", "gitlab", "--format", "json", "--strict"];
    let run = run_env(&dir, &args, &env);
    assert_eq!(
        run.code, 1,
        "needed, not requested: --strict fails\n{}",
        run.stderr
    );
    let mut with_input = args.to_vec();
    with_input.extend(["--request-input", "true"]);
    let run = run_env(&dir, &with_input, &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("rebuild"), Some("needed"))
    );
}

#[test]
fn strict_does_not_fail_where_no_request_can_arrive() {
    let s = scenario(3, true);
    let dir = s.checkout("strict-mr", Some(1));
    let mut env = gitlab_env(s.tip);
    env.retain(|(k, _)| k != "CI_PIPELINE_SOURCE" && k != "CI_COMMIT_BRANCH");
    env.extend(
        [
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "5"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let run = run_env(
        &dir,
        &["ci", "--provider", "gitlab", "--format", "json", "--strict"],
        &env,
    );
    assert_eq!(
        run.code, 0,
        "a merge-request pipeline gets no push options\n{}",
        run.stderr
    );
    let v = run.json();
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(v["reason"], "fallback");
    assert_eq!(v["strict_failure"], false);
    let why = v["strict_waived"].as_str().expect("says why");
    assert!(why.contains("branch pipeline"), "{why}");
    assert!(
        run.stderr
            .contains("--strict does not apply here: push options reach GitLab's branch pipelines"),
        "{}",
        run.stderr
    );

    // GitHub: a push event can carry no request.
    let gh_dir = s.checkout("strict-gh", Some(1));
    let gh: Vec<(String, String)> = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/feature"),
        ("GITHUB_REF_NAME", "feature"),
        ("GITHUB_RUN_ID", "9"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([("GITHUB_SHA".to_owned(), s.tip.to_string())])
    .collect();
    let run = run_env(&gh_dir, &["ci", "--format", "json", "--strict"], &gh);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json()["strict_waived"]
        .as_str()
        .expect("why")
        .contains("GitHub has no push options"));
}

#[test]
fn strict_does_not_fail_on_the_upstream_branch_itself() {
    // master's own pipeline after a merge made in the web UI: the merge commit brings a
    // dockerfile change, and no push option can come with it.
    let s = scenario(2, false);
    let master = git(&s.upstream, &["rev-parse", "master"]);
    let before = git(&s.upstream, &["rev-parse", "master~25"]);
    let dir = s.repo.scratch("master-strict");
    git(
        s.repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &s.url(),
            dir.to_str().expect("utf8"),
        ],
    );
    let mut env = gitlab_env(git2::Oid::from_str(&master).expect("oid"));
    for (k, v) in &mut env {
        if k == "CI_COMMIT_REF_NAME" || k == "CI_COMMIT_BRANCH" {
            *v = "master".into();
        }
    }
    env.push(("CI_COMMIT_BEFORE_SHA".into(), before));
    let run = run_env(
        &dir,
        &["ci", "--provider", "gitlab", "--format", "json", "--strict"],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(v["fetch"]["on_upstream"], true);
    assert!(v["strict_waived"].as_str().expect("why").contains("web UI"));
}
