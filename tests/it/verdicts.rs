//! CI verdicts that must hold whatever happened on the server in the meantime: a default
//! branch that moved on before the job ran, on GitLab and on GitHub push events.

use std::path::Path;

use crate::ci::{gitlab_env, run_env, scenario, Scenario};
use crate::fixture::git;

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
    let event = dir.with_extension("event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "before": before,
            "after": sha,
            "ref": "refs/heads/master",
            "repository": { "default_branch": "master" },
        })
        .to_string(),
    )
    .expect("write the event");
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/master"),
        ("GITHUB_REF_NAME", "master"),
        ("GITHUB_RUN_ID", "8"),
        ("GITHUB_SHA", sha),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([
        ("GITHUB_EVENT_PATH".to_owned(), event.display().to_string()),
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
