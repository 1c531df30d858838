//! CI verdicts that must hold whatever happened on the server in the meantime (a default
//! branch that moved on before the job ran, on GitLab and on GitHub push events), and one
//! definition of a rebuild request for the hook and the CI job alike.

use std::path::Path;

use crate::ci::{gitlab_env, run_env, scenario, Scenario};
use crate::fixture::git;
use crate::server::{push, Setup};

/// A depth-1 CI checkout of upstream `master` as it is now.
fn master_checkout(s: &Scenario, name: &str) -> std::path::PathBuf {
    let dir = s.repo.scratch(name);
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
    dir
}

/// Someone pushes `n` more commits to upstream `master` (no image input among them).
fn master_moves_on(s: &Scenario, n: usize) {
    s.repo.checkout("master");
    s.repo.filler(n, "later-push");
    git(
        s.repo.path(),
        &["push", "-q", s.upstream.to_str().expect("utf8"), "master"],
    );
}

fn gitlab_master_env(sha: &str, before: &str) -> Vec<(String, String)> {
    let mut env = gitlab_env(git2::Oid::from_str(sha).expect("oid"));
    for (k, v) in &mut env {
        if k == "CI_COMMIT_REF_NAME" || k == "CI_COMMIT_BRANCH" {
            *v = "master".into();
        }
    }
    env.push(("CI_COMMIT_BEFORE_SHA".into(), before.to_owned()));
    env
}

fn github_push_env(dir: &Path, sha: &str, before: &str) -> Vec<(String, String)> {
    github_env(dir, "push", "master", sha, before)
}

/// A GitHub Actions job's environment for `event` on `branch` at `sha`.
fn github_env(
    dir: &Path,
    event: &str,
    branch: &str,
    sha: &str,
    before: &str,
) -> Vec<(String, String)> {
    let event_file = dir.with_extension(format!("{event}.json"));
    std::fs::write(
        &event_file,
        serde_json::json!({
            "before": before,
            "after": sha,
            "ref": format!("refs/heads/{branch}"),
            "repository": { "default_branch": "master" },
        })
        .to_string(),
    )
    .expect("write the event");
    let gh_ref = format!("refs/heads/{branch}");
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_REF", gh_ref.as_str()),
        ("GITHUB_REF_NAME", branch),
        ("GITHUB_RUN_ID", "8"),
        ("GITHUB_SHA", sha),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([
        (
            "GITHUB_EVENT_PATH".to_owned(),
            event_file.display().to_string(),
        ),
        (
            "GITHUB_OUTPUT".to_owned(),
            dir.with_extension("output").display().to_string(),
        ),
    ])
    .collect()
}

fn ci_json(dir: &Path, env: &[(String, String)]) -> (crate::fixture::Run, serde_json::Value) {
    let run = run_env(dir, &["ci", "--format", "json"], env);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let v = run.json();
    (run, v)
}

#[test]
fn a_default_branch_that_moved_on_still_judges_the_pushed_range() {
    let s = scenario(2, false);
    let pushed = git(&s.upstream, &["rev-parse", "master"]);
    // The push brought master~24..master, which includes "master's own image change".
    let before = git(&s.upstream, &["rev-parse", "master~25"]);
    let dir = master_checkout(&s, "moved-on");
    // Its job runs only after the next push (queued, or retried later).
    master_moves_on(&s, 3);
    for (provider, env) in [
        ("gitlab", gitlab_master_env(&pushed, &before)),
        ("github", github_push_env(&dir, &pushed, &before)),
    ] {
        let (run, v) = ci_json(&dir, &env);
        assert_eq!(v["provider"], provider);
        assert_eq!(
            v["fetch"]["previous_tip"], before,
            "{provider}: {}",
            run.stderr
        );
        assert_eq!(v["fetch"]["on_upstream"], true, "{provider}");
        assert_eq!(
            v["report"]["targets"][0]["merge_base"], before,
            "{provider}"
        );
        assert_eq!(v["decision"], "rebuild", "{provider}: {}", run.stderr);
        assert!(
            run.stderr.contains("has moved on"),
            "{provider}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("is not this commit"), "{}", run.stderr);
        crate::ci::assert_usable(&dir);
    }
    // The later push's own pipeline (its range has no image input) still skips.
    let later = git(&s.upstream, &["rev-parse", "master"]);
    let dir = master_checkout(&s, "later");
    let (run, v) = ci_json(&dir, &gitlab_master_env(&later, &pushed));
    assert_eq!(v["decision"], "skip", "{}", run.stderr);
}

#[test]
fn a_commit_the_default_branch_does_not_contain_is_judged_like_a_branch() {
    let s = scenario(2, true);
    // `feature` claims to be a master pipeline; master has other commits and not this one.
    let dir = s.checkout("claims-master", Some(1));
    let tip = s.tip.to_string();
    let (run, v) = ci_json(&dir, &gitlab_master_env(&tip, &s.base.to_string()));
    assert_eq!(v["fetch"]["on_upstream"], false, "{}", run.stderr);
    assert!(v["fetch"]["previous_tip"].is_null());
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert!(run.stderr.contains("does not contain it"), "{}", run.stderr);
}

#[test]
fn the_hook_and_the_ci_job_take_the_same_values_as_a_request() {
    let s = Setup::new(true);
    s.branch("docker", true);
    // `=true` and `=yes` ask the CI job for a rebuild, so the hook lets them through.
    for (i, value) in ["true", "yes", "1"].iter().enumerate() {
        let option = format!("ci.variable=DOCKGUARD_REBUILD={value}");
        s.r.commit(
            &format!("again {i}"),
            &[("docker/Dockerfile", &format!("FROM debian:{i}\n"))],
        );
        let done = push(s.path(), &["-o", &option, "origin", "docker"]).ok();
        assert!(
            done.stderr.contains("this push asks for it"),
            "{}",
            done.stderr
        );
        assert_eq!(s.pushes().last().expect("pushed").options, vec![option]);
    }
    // `=0` asks nothing: blocked, as the CI job would not rebuild for it either.
    s.r.commit("zero", &[("docker/Dockerfile", "FROM debian:0\n")]);
    let blocked = push(
        s.path(),
        &["-o", "ci.variable=DOCKGUARD_REBUILD=0", "origin", "docker"],
    )
    .failed();
    assert!(
        blocked.stderr.contains("push options seen"),
        "{}",
        blocked.stderr
    );
    // The request and ci.skip: pushed, with a warning that no pipeline will run.
    let done = push(
        s.path(),
        &[
            "-o",
            "ci.variable=DOCKGUARD_REBUILD=1",
            "-o",
            "ci.skip",
            "origin",
            "docker",
        ],
    )
    .ok();
    assert!(
        done.stderr.contains("also carries `-o ci.skip`"),
        "{}",
        done.stderr
    );
    // Without ci.skip, no such warning.
    s.r.commit("plain", &[("docker/Dockerfile", "FROM debian:99\n")]);
    let done = push(
        s.path(),
        &["-o", "ci.variable=DOCKGUARD_REBUILD=1", "origin", "docker"],
    )
    .ok();
    assert!(!done.stderr.contains("ci.skip"), "{}", done.stderr);

    // The CI job reads the same values the same way.
    let sc = scenario(1, true);
    let dir = sc.checkout("values", Some(1));
    for (value, requested) in [
        ("yes", true),
        ("true", true),
        ("1", true),
        ("0", false),
        ("off", false),
    ] {
        let mut env = gitlab_env(sc.tip);
        env.push(("DOCKGUARD_REBUILD".into(), value.into()));
        let (run, v) = ci_json(&dir, &env);
        assert_eq!(v["requested"], requested, "{value}: {}", run.stderr);
        if !requested {
            // Said as it is: "is \"0\"", not "is not set".
            let said = format!("DOCKGUARD_REBUILD is \"{value}\", which is not a request");
            assert!(
                run.stdout.contains(&said) || run.stderr.contains(&said),
                "{}",
                run.stderr
            );
        }
    }
}

/// A pipe whose reader is gone: the write end of `cat`'s stdin after `cat` was killed.
fn widowed_pipe() -> std::process::Stdio {
    let mut cat = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run cat");
    let write_end = cat.stdin.take().expect("cat's stdin");
    cat.kill().expect("kill cat");
    cat.wait().expect("reap cat");
    write_end.into()
}

#[test]
fn an_error_written_to_a_closed_stderr_exits_2_and_never_aborts() {
    let outside = tempfile::tempdir().expect("tempdir");
    let s = scenario(1, true);
    let dir = s.checkout("stderr-gone", Some(1));
    for (cwd, args) in [
        (outside.path(), &["check"][..]),
        (
            dir.as_path(),
            &["ci", "--provider", "generic", "--no-fetch"][..],
        ),
    ] {
        let mut cmd = std::process::Command::new(crate::fixture::dockguard_bin());
        crate::fixture::hermetic(&mut cmd)
            .current_dir(cwd)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(widowed_pipe());
        let status = cmd.status().expect("run dockguard");
        assert_eq!(status.code(), Some(2), "{args:?}: {status:?}");
    }
}

/// The `dockguard …` commands a run's hint suggests, split into arguments (the hints
/// quote them in backquotes; none holds a quoted space).
fn hinted_commands(stderr: &str) -> Vec<Vec<String>> {
    let hint = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("hint:"))
        .unwrap_or_else(|| panic!("no hint in:\n{stderr}"));
    hint.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| code.strip_prefix("dockguard "))
        .map(|args| args.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn dockguard_ci_outside_any_ci_refuses_and_its_hints_work() {
    let s = scenario(1, true);
    let dir = s.checkout("laptop", None);
    let run = run_env(&dir, &["ci"], &[]);
    crate::fixture::assert_error(&run, "does not look like a CI job", "dockguard check");
    assert!(!dir.join(".git/refs/dockguard").exists(), "nothing fetched");
    let commands = hinted_commands(&run.stderr);
    assert_eq!(commands.len(), 2, "{}", run.stderr);
    for args in commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pasted = run_env(&dir, &args, &[]);
        assert_eq!(
            pasted.code, 0,
            "{args:?}:\n{}{}",
            pasted.stdout, pasted.stderr
        );
        assert!(
            pasted.stdout.contains("docker/Dockerfile"),
            "{args:?}: {}",
            pasted.stdout
        );
    }
}

fn with(env: &[(String, String)], more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    for (k, v) in more {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

#[test]
fn on_github_warnings_and_failures_are_annotations_with_hints_that_work() {
    let s = scenario(1, true);
    let dir = s.checkout("gh-feature", Some(1));
    let tip = s.tip.to_string();
    let push_env = github_env(&dir, "push", "feature", &tip, &s.base.to_string());
    // A push that needs a rebuild: GitHub pushes carry no options, so no hook is blamed,
    // and the rebuild nobody asked for is a warning annotation.
    let run = run_env(&dir, &["ci"], &push_env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = line_with(&run.stdout, "REBUILD (fallback)");
    assert!(line.starts_with("::warning::dockguard: REBUILD"), "{line}");
    assert!(line.contains("GitHub pushes carry no request"), "{line}");
    assert!(
        !run.stdout.contains("skipped dockguard's hook"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("skipped dockguard's hook"),
        "{}",
        run.stderr
    );

    // Started by hand with --strict and no request: an error annotation naming the
    // command that starts the workflow again with its `rebuild` input.
    let manual = with(
        &github_env(&dir, "workflow_dispatch", "feature", &tip, ""),
        &[(
            "GITHUB_WORKFLOW_REF",
            "octo/qemu/.github/workflows/containers.yml@refs/heads/feature",
        )],
    );
    let run = run_env(&dir, &["ci", "--strict"], &manual);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let line = line_with(&run.stdout, "FAILED (--strict)");
    assert!(line.starts_with("::error::dockguard: FAILED"), "{line}");
    let rerun = "gh workflow run containers.yml --ref feature -f rebuild=true";
    assert!(line.contains(rerun), "{line}");
    assert!(!line.contains("git push -o"), "{line}");
    // `gh` and a hosted runner cannot run here. Following the hint means: the shipped
    // workflow has that input and hands it to the action, which sets the request variable
    // from it (`DOCKGUARD_REBUILD: ${{ inputs.rebuild }}`); that job then passes.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workflow = std::fs::read_to_string(root.join("ci/github/example-workflow.yml"))
        .expect("the example workflow");
    assert!(workflow.contains("workflow_dispatch:\n    inputs:\n      rebuild:"));
    assert!(workflow.contains("rebuild: ${{ github.event.inputs.rebuild == 'true' && '1' || '' }}"));
    let action = std::fs::read_to_string(root.join("ci/github/action.yml")).expect("action");
    assert!(action.contains("DOCKGUARD_REBUILD: ${{ inputs.rebuild }}"));
    let run = run_env(
        &dir,
        &["ci", "--strict", "--format", "json"],
        &with(&manual, &[("DOCKGUARD_REBUILD", "1")]),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["reason"], "needed");

    // An error is an annotation too (and still the plain lines).
    let run = run_env(&dir, &["ci", "--upstream-branch", "nope"], &push_env);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("dockguard: error: ")),
        "{}",
        run.stderr
    );
    let annotation = line_with(&run.stderr, "::error::");
    assert!(
        annotation.starts_with("::error::dockguard: error: "),
        "{annotation}"
    );
    assert!(annotation.contains("%0A  hint: "), "{annotation}");

    // GitLab: no annotations; a push that needed the rebuild did skip the hook there.
    let run = run_env(&dir, &["ci"], &gitlab_env(s.tip));
    assert!(!run.stdout.contains("::warning::"), "{}", run.stdout);
    assert!(
        run.stdout.contains("skipped dockguard's hook"),
        "{}",
        run.stdout
    );
}

#[test]
fn strict_is_waived_in_pipelines_nobody_pushed_and_the_hint_works() {
    let s = scenario(1, true);
    let dir = s.checkout("scheduled", Some(1));
    for source in ["schedule", "trigger", "pipeline", "parent_pipeline"] {
        let env = with(&gitlab_env(s.tip), &[("CI_PIPELINE_SOURCE", source)]);
        let run = run_env(&dir, &["ci", "--strict", "--format", "json"], &env);
        assert_eq!(run.code, 0, "{source}: {}", run.stderr);
        let v = run.json();
        assert_eq!(v["decision"], "rebuild");
        let why = v["strict_waived"].as_str().unwrap_or_default();
        assert!(why.contains("nobody pushed"), "{source}: {v:#}");
        assert!(!run.stderr.contains("git push -o"), "{}", run.stderr);
        // Following it: the schedule's (trigger's) variables carry the request.
        let env = with(&env, &[("DOCKGUARD_REBUILD", "1")]);
        let run = run_env(&dir, &["ci", "--strict", "--format", "json"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json()["reason"], "needed");
    }
    // A pipeline started by hand ("web") is one a request can reach: --strict applies.
    let env = with(&gitlab_env(s.tip), &[("CI_PIPELINE_SOURCE", "web")]);
    let run = run_env(&dir, &["ci", "--strict"], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn a_forks_default_branch_after_a_sync_judges_what_the_sync_brought() {
    let s = scenario(2, false);
    // The fork was made before upstream's image change ...
    let fork = s.repo.scratch("fork.git");
    git(
        s.repo.tmp.path(),
        &["init", "-q", "--bare", fork.to_str().expect("utf8")],
    );
    let forked = git(&s.upstream, &["rev-parse", "master~25"]);
    let fork_arg = fork.to_str().expect("utf8");
    git(
        &s.upstream,
        &[
            "push",
            "-q",
            fork_arg,
            &format!("{forked}:refs/heads/master"),
        ],
    );
    // ... and syncs: upstream's master, image change included, pushed to the fork's.
    git(&s.upstream, &["push", "-q", fork_arg, "master:master"]);
    let synced = git(&s.upstream, &["rev-parse", "master"]);
    let dir = s.repo.scratch("fork-master");
    git(
        s.repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", fork.display()),
            dir.to_str().expect("utf8"),
        ],
    );
    let run = run_env(
        &dir,
        &["ci", "--format", "json", "--upstream-url", &s.url()],
        &gitlab_master_env(&synced, &forked),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["decision"], "rebuild", "{}", run.stderr);
    assert_eq!(v["fetch"]["previous_tip"], forked);
    assert_eq!(v["fetch"]["source"], "remote `origin`", "{v:#}");
    assert!(
        run.stderr
            .contains("the fork's own default branch `master`"),
        "{}",
        run.stderr
    );
    let paths: Vec<&str> = v["report"]["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(paths, ["tests/docker/dockerfiles/debian.docker"], "{v:#}");
    // A fork's feature branch is still compared with upstream.
    let feature = s.checkout("fork-feature", Some(1));
    let run = run_env(
        &feature,
        &["ci", "--format", "json", "--upstream-url", &s.url()],
        &gitlab_env(s.tip),
    );
    let v = run.json();
    assert_eq!(v["fetch"]["source"], s.url(), "{}", run.stderr);
    assert!(!run.stderr.contains("fork's own"), "{}", run.stderr);
}
