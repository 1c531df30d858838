//! Trust boundaries of the configuration: what a pushed branch carries (its
//! `.dockguard.toml`, the CI variables a push option sets, what the CI's environment
//! claims) may describe content, never choose what runs, where dockguard connects, what
//! the hook pushes, or how strict a check is. Each attack is run against the binary.

use std::path::Path;

use git2::Oid;

use crate::ci::{gitlab_env, run_env, scenario, Scenario};
use crate::fixture::{git, Run};
use crate::server::{push, Setup};

/// Puts a commit on the upstream's `feature` that adds `files`; returns the new tip.
fn push_to_feature(s: &Scenario, name: &str, files: &[(&str, &str)]) -> Oid {
    let work = s.repo.scratch(&format!("pusher-{name}"));
    git(
        s.repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--branch",
            "feature",
            &s.url(),
            work.to_str().expect("utf8"),
        ],
    );
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "hostile"]);
    git(&work, &["push", "-q", "origin", "feature"]);
    Oid::from_str(&git(&work, &["rev-parse", "HEAD"])).expect("oid")
}

fn ci(dir: &Path, args: &[&str], env: &[(String, String)]) -> (Run, Option<serde_json::Value>) {
    let mut all = vec!["ci", "--format", "json"];
    all.extend_from_slice(args);
    let run = run_env(dir, &all, env);
    let v = serde_json::from_str(&run.stdout).ok();
    (run, v)
}

fn with(env: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    out.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    out
}

#[test]
fn a_branch_config_cannot_run_code_or_redirect_the_fetch_in_ci() {
    let s = scenario(3, true);
    for (toml, key) in [
        (
            "[ci]\nupstream_url = \"--upload-pack=touch PWNED; false\"\n",
            "ci.upstream_url",
        ),
        (
            "[ci]\nrequest_variable = \"GITLAB_CI\"\n",
            "ci.request_variable",
        ),
        ("[ci]\nmax_depth = 100000000\n", "ci.max_depth"),
        ("upstream = \"refs/heads/feature\"\n", "upstream"),
    ] {
        let name = key.replace('.', "-");
        let tip = push_to_feature(&s, &name, &[(".dockguard.toml", toml)]);
        let dir = s.checkout(&format!("ci-{name}"), Some(1));
        let (run, _) = ci(&dir, &["--strict"], &gitlab_env(tip));
        assert_eq!(run.code, 2, "{key}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains(&format!("`{key}` cannot be set in a repository's"))
                && run.stderr.contains(".dockguard.toml"),
            "{key}: {}",
            run.stderr
        );
        assert!(!dir.join("PWNED").exists() && !s.repo.path().join("PWNED").exists());
        assert!(
            !run.stderr.contains("git fetch"),
            "nothing fetched: {}",
            run.stderr
        );
    }
}

#[test]
fn pipeline_variables_neither_redirect_the_fetch_nor_loosen_the_check() {
    let s = scenario(3, true);
    let dir = s.checkout("ci", Some(1));
    let hostile = with(
        &gitlab_env(s.tip),
        &[
            (
                "DOCKGUARD_CI_UPSTREAM_URL",
                "--upload-pack=touch PWNED; false",
            ),
            ("DOCKGUARD_CI_REQUEST_VARIABLE", "GITLAB_CI"),
            ("DOCKGUARD_MATCH_DEFAULTS", "false"),
            ("DOCKGUARD_MATCH_EXCLUDE", "**"),
            ("DOCKGUARD_CI_UNSHALLOW", "false"),
        ],
    );
    let (run, v) = ci(&dir, &["--strict"], &hostile);
    let v = v.expect("json");
    assert!(!dir.join("PWNED").exists());
    assert_eq!(v["fetch"]["source"], "remote `origin`", "{}", run.stderr);
    assert_eq!(
        v["decision"], "rebuild",
        "the dockerfile change still counts"
    );
    assert_eq!(v["request_variable"], "DOCKGUARD_REBUILD");
    assert_eq!(
        (run.code, v["strict_failure"].as_bool()),
        (1, Some(true)),
        "--strict keeps its meaning: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ignoring DOCKGUARD_MATCH_DEFAULTS")
            || run.stderr.contains("DOCKGUARD_CI_UPSTREAM_URL"),
        "says what it ignored: {}",
        run.stderr
    );
}

#[test]
fn what_the_ci_environment_claims_is_checked_against_git() {
    let s = scenario(3, true);
    let dir = s.checkout("ci", Some(1));
    let base = gitlab_env(s.tip);
    // The default branch is the server's HEAD, not CI_DEFAULT_BRANCH (comparing the
    // branch with itself would say "nothing differs").
    let (run, v) = ci(&dir, &[], &with(&base, &[("CI_DEFAULT_BRANCH", "feature")]));
    let v = v.expect("json");
    assert_eq!(v["fetch"]["branch"], "master", "{}", run.stderr);
    assert_eq!(v["decision"], "rebuild");
    // "This pipeline runs on master itself, compare with the previous tip" is believed
    // only when the server's master is this commit.
    let previous = git(&dir, &["rev-parse", "HEAD"]);
    let claims = with(
        &base,
        &[
            ("CI_COMMIT_BRANCH", "master"),
            ("CI_COMMIT_REF_NAME", "master"),
            ("CI_COMMIT_BEFORE_SHA", &previous),
        ],
    );
    let (run, v) = ci(&dir, &[], &claims);
    let v = v.expect("json");
    assert_eq!(
        v["fetch"]["previous_tip"],
        serde_json::Value::Null,
        "{}",
        run.stderr
    );
    assert_eq!(v["decision"], "rebuild");
    assert!(run.stderr.contains("is not this commit"), "{}", run.stderr);
    // CI_COMMIT_SHA pointing elsewhere: the job builds HEAD, so HEAD is judged.
    let (run, v) = ci(
        &dir,
        &[],
        &with(&base, &[("CI_COMMIT_SHA", &s.base.to_string())]),
    );
    let v = v.expect("json");
    assert_eq!(
        v["report"]["targets"][0]["tip"],
        s.tip.to_string(),
        "{}",
        run.stderr
    );
    assert_eq!(v["decision"], "rebuild");
    assert!(run.stderr.contains("judging HEAD"), "{}", run.stderr);
    // A merge request "from a fork" whose target project URL points elsewhere: not fetched.
    let mr = with(
        &base,
        &[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "1"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "2"),
            (
                "CI_MERGE_REQUEST_PROJECT_URL",
                "http://169.254.169.254/latest",
            ),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
        ],
    );
    let (run, v) = ci(&dir, &[], &mr);
    let v = v.expect("json");
    assert_eq!(v["fetch"]["source"], "remote `origin`", "{}", run.stderr);
    assert!(
        run.stderr.contains("ignoring the target project URL"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .filter(|l| l.contains("git fetch"))
            .all(|l| !l.contains("169.254")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_committed_config_cannot_make_the_hook_push_an_option() {
    let s = Setup::new(true);
    s.r.commit(
        "project config",
        &[(
            ".dockguard.toml",
            "policy = \"repush\"\npush_option = \"ci.variable=DOCKGUARD_DOCKER=sh -c id\"\n",
        )],
    );
    s.r.git(&["branch", "-f", "base-with-config"]);
    s.branch("feature", true);
    s.r.git(&["merge", "-q", "--no-edit", "base-with-config"]);
    let done = push(s.path(), &["origin", "feature"]);
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("`policy = \"repush\"`") || done.stderr.contains("push_option"),
        "{}",
        done.stderr
    );
    assert!(
        s.pushes().is_empty(),
        "nothing reached the server: {:?}",
        s.pushes()
    );
    // The machine's own consent makes repush possible; the option must still be the request.
    s.r.git(&["config", "dockguard.allow-repush", "true"]);
    let done = push(s.path(), &["origin", "feature"]);
    assert!(
        done.stderr
            .contains("not a rebuild request this machine recognises"),
        "{}",
        done.stderr
    );
    assert!(s.pushes().is_empty());
}

#[test]
fn a_repository_may_share_the_rebuild_request_and_block_or_warn() {
    let s = Setup::new(true);
    s.r.commit(
        "project config",
        &[(
            ".dockguard.toml",
            "policy = \"warn\"\npush_option = \"ci.input=dockguard_rebuild=true\"\n",
        )],
    );
    let tip = s.r.git(&["rev-parse", "HEAD"]);
    s.r.remote_ref("upstream", "master", Oid::from_str(&tip).expect("oid"));
    s.r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let done = push(s.path(), &["origin", "HEAD:refs/heads/feature"]);
    assert_eq!(done.code, 0, "policy warn lets it through: {}", done.stderr);
    assert!(
        done.stderr.contains("-o ci.input=dockguard_rebuild=true"),
        "{}",
        done.stderr
    );
}
