//! `dockguard ci` on real CI-like clones: a local "upstream" bare repository and shallow
//! `git clone --depth 1 file://…` checkouts, judged through the binary with a CI
//! environment. Each test also checks that the clone is still usable afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use git2::Oid;

use crate::fixture::{assert_error, dockguard, dockguard_bin, git, hermetic, Run, TestRepo};

/// Upstream history with a branch whose tip is `back` commits above its branch point.
pub struct Scenario {
    /// Owns the directories.
    pub repo: TestRepo,
    /// The bare upstream (`master` and `feature`).
    pub upstream: PathBuf,
    /// The branch point.
    pub base: Oid,
    /// The branch tip.
    pub tip: Oid,
}

impl Scenario {
    /// `file://` URL of the upstream.
    pub fn url(&self) -> String {
        format!("file://{}", self.upstream.display())
    }

    /// A CI checkout of `feature`: `git clone --depth D --branch feature` (no depth: full).
    pub fn checkout(&self, name: &str, depth: Option<u32>) -> PathBuf {
        let dir = self.repo.scratch(name);
        let mut args = vec!["clone", "-q", "--branch", "feature"];
        let d = depth.map(|d| d.to_string());
        if let Some(d) = &d {
            args.extend(["--depth", d.as_str()]);
        }
        let url = self.url();
        args.push(&url);
        args.push(dir.to_str().expect("utf8"));
        git(self.repo.tmp.path(), &args);
        dir
    }
}

/// master: base (+ 10 commits before it); `feature` from base: `back` commits, the first
/// editing `docker/Dockerfile` when `docker`; then master moves on 40 commits, one of them
/// editing another dockerfile (which must never count for the branch).
pub fn scenario(back: usize, docker: bool) -> Scenario {
    let r = TestRepo::new();
    r.commit(
        "root",
        &[
            ("docker/Dockerfile", "FROM debian:12\n"),
            ("tests/docker/dockerfiles/debian.docker", "FROM debian:12\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    let base = r.filler(10, "master-before");
    r.switch_new("feature", base);
    let mut tip = base;
    for i in 0..back {
        tip = if i == 0 && docker {
            r.commit("bump debian", &[("docker/Dockerfile", "FROM debian:13\n")])
        } else {
            r.commit(
                &format!("work {i}"),
                &[("src/main.c", &format!("// {i}\n"))],
            )
        };
    }
    r.checkout("master");
    r.filler(20, "master-after");
    r.commit(
        "master's own image change",
        &[("tests/docker/dockerfiles/debian.docker", "FROM debian:13\n")],
    );
    r.filler(19, "master-after-2");
    let upstream = r.bare_clone("upstream.git");
    Scenario {
        repo: r,
        upstream,
        base,
        tip,
    }
}

/// A GitLab branch pipeline's environment for `feature` at `tip`.
pub fn gitlab_env(tip: Oid) -> Vec<(String, String)> {
    [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_REF_NAME", "feature"),
        ("CI_COMMIT_BRANCH", "feature"),
        ("CI_DEFAULT_BRANCH", "master"),
        ("CI_JOB_ID", "4242"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([("CI_COMMIT_SHA".to_owned(), tip.to_string())])
    .collect()
}

pub fn run_env(dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    dockguard(dir, args, &pairs)
}

fn ci_json(dir: &Path, extra: &[&str], env: &[(String, String)]) -> (Run, serde_json::Value) {
    let mut args = vec!["ci", "--format", "json"];
    args.extend_from_slice(extra);
    let run = run_env(dir, &args, env);
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    let v = run.json();
    (run, v)
}

/// The clone still works: connectivity intact, history readable, no private refs left.
pub fn assert_usable(dir: &Path) {
    git(dir, &["fsck", "--connectivity-only", "--no-progress"]);
    let log = git(dir, &["log", "--oneline", "-n", "5"]);
    assert!(!log.is_empty());
    assert_eq!(
        git(dir, &["for-each-ref", "refs/dockguard/"]),
        "",
        "private refs cleaned up"
    );
    git(dir, &["status", "--short"]);
}

fn dotenv(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .expect("dotenv written")
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn get<'a>(vars: &'a [(String, String)], key: &str) -> &'a str {
    vars.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} missing in {vars:?}"))
}

fn changed_paths(v: &serde_json::Value) -> Vec<String> {
    v["report"]["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["path"].as_str().expect("path").to_owned())
        .collect()
}

fn branch_point_back(back: usize) {
    let s = scenario(back, true);
    let dir = s.checkout("ci", Some(1));
    assert_eq!(git(&dir, &["rev-parse", "--is-shallow-repository"]), "true");
    let env_file = s.repo.scratch("dockguard.env");
    let (run, v) = ci_json(
        &dir,
        &["--dotenv", env_file.to_str().expect("utf8")],
        &gitlab_env(s.tip),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(v["provider"], "gitlab");
    assert_eq!(v["pipeline"], "branch");
    assert_eq!(v["decision"], "rebuild", "{v:#}");
    assert_eq!(v["reason"], "fallback");
    let t = &v["report"]["targets"][0];
    assert_eq!(t["merge_base"], s.base.to_string(), "{}", run.stderr);
    assert_eq!(t["tip"], s.tip.to_string());
    assert_eq!(
        changed_paths(&v),
        vec!["docker/Dockerfile"],
        "master's own dockerfile change does not count"
    );
    assert_eq!(v["fetch"]["was_shallow"], true);
    let depth = v["fetch"]["depth"].as_u64().expect("depth");
    assert!(
        depth >= back as u64,
        "asked for {depth} commits, branch point {back} back"
    );
    assert_eq!(v["fetch"]["unshallowed"], false, "found by deepening");
    if back > 100 {
        assert!(v["fetch"]["rounds"].as_u64() >= Some(3), "{v:#}");
    }
    let vars = dotenv(&env_file);
    assert_eq!(get(&vars, "DOCKGUARD_DECISION"), "rebuild");
    assert_eq!(get(&vars, "DOCKGUARD_REASON"), "fallback");
    assert_eq!(get(&vars, "DOCKGUARD_MERGE_BASE"), s.base.to_string());
    assert_eq!(get(&vars, "DOCKGUARD_REF_SLUG"), "feature");
    assert!(
        run.stderr.contains("REBUILD (fallback)"),
        "one clear line: {}",
        run.stderr
    );
    assert_usable(&dir);
    assert_eq!(
        git(&dir, &["rev-parse", "HEAD"]),
        s.tip.to_string(),
        "checkout untouched"
    );
}

#[test]
fn branch_point_1_back_in_a_depth_1_clone() {
    branch_point_back(1);
}

#[test]
fn branch_point_30_back_in_a_depth_1_clone() {
    branch_point_back(30);
}

#[test]
fn branch_point_500_back_in_a_depth_1_clone() {
    branch_point_back(500);
}

#[test]
fn branch_without_dockerfile_changes_skips_and_request_rebuilds() {
    let s = scenario(30, false);
    let dir = s.checkout("ci", Some(1));
    let env_file = s.repo.scratch("skip.env");
    let env_arg = env_file.to_str().expect("utf8");
    let (run, v) = ci_json(&dir, &["--dotenv", env_arg], &gitlab_env(s.tip));
    assert_eq!(v["decision"], "skip", "{v:#}\n{}", run.stderr);
    assert_eq!(v["reason"], "not-needed");
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_eq!(get(&dotenv(&env_file), "DOCKGUARD_DECISION"), "skip");
    assert!(run.stderr.contains("dockguard: SKIP:"), "{}", run.stderr);
    // The request variable (the push option's) turns it into a rebuild, and says so.
    let mut env = gitlab_env(s.tip);
    env.push(("DOCKGUARD_REBUILD".into(), "1".into()));
    let (run, v) = ci_json(&dir, &["--dotenv", env_arg, "--strict"], &env);
    assert_eq!(run.code, 0);
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("rebuild"), Some("requested"))
    );
    assert_eq!(get(&dotenv(&env_file), "DOCKGUARD_REQUESTED"), "true");
    assert!(run.stderr.contains("REBUILD (requested)"), "{}", run.stderr);
    // A differently named request variable (QEMU's convention), from the template's flag.
    env.pop();
    env.push(("QEMU_CI_CONTAINER_REBUILD".into(), "yes".into()));
    let (_, v) = ci_json(
        &dir,
        &["--request-variable", "QEMU_CI_CONTAINER_REBUILD"],
        &env,
    );
    assert_eq!(v["reason"], "requested");
    assert_eq!(v["request_variable"], "QEMU_CI_CONTAINER_REBUILD");
    assert_usable(&dir);
}

#[test]
fn needed_and_requested_and_strict() {
    let s = scenario(8, true);
    let dir = s.checkout("ci", Some(1));
    let mut env = gitlab_env(s.tip);
    env.push(("DOCKGUARD_REBUILD".into(), "1".into()));
    let (run, v) = ci_json(&dir, &["--strict"], &env);
    assert_eq!(run.code, 0, "requested: strict is satisfied");
    assert_eq!(v["reason"], "needed");
    assert!(run
        .stderr
        .contains("dockguard: REBUILD: images need a rebuild, and the pipeline requested it"));
    // Not requested + --strict: exit 1, and the dotenv still says rebuild.
    env.pop();
    let env_file = s.repo.scratch("strict.env");
    let (run, v) = ci_json(
        &dir,
        &["--strict", "--dotenv", env_file.to_str().expect("utf8")],
        &env,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(v["strict_failure"], true);
    assert!(run.stderr.contains("FAILED (--strict)"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("git push -o ci.variable=DOCKGUARD_REBUILD=1"),
        "says how to request: {}",
        run.stderr
    );
    assert_eq!(get(&dotenv(&env_file), "DOCKGUARD_DECISION"), "rebuild");
    // Human output: the verdict, then the decision line.
    let human = run_env(&dir, &["ci"], &env);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human.stdout.contains("docker/Dockerfile"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("upstream: refs/heads/master")
            && human.stdout.contains("fetched from remote `origin`"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.trim_end().ends_with("rebuilding anyway"),
        "{}",
        human.stdout
    );
    assert_usable(&dir);
}

#[test]
fn fork_fetches_upstream_from_the_configured_url() {
    let s = scenario(30, true);
    // The fork: an old copy of upstream (stale master) plus the feature branch.
    let fork = s.repo.scratch("fork.git");
    git(
        s.repo.tmp.path(),
        &["init", "-q", "--bare", fork.to_str().expect("utf8")],
    );
    git(
        &s.upstream,
        &[
            "push",
            "-q",
            fork.to_str().expect("utf8"),
            &format!("{}:refs/heads/master", s.base),
            "feature:feature",
        ],
    );
    let dir = s.repo.scratch("fork-ci");
    git(
        s.repo.tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "feature",
            &format!("file://{}", fork.display()),
            dir.to_str().expect("utf8"),
        ],
    );
    let env = gitlab_env(s.tip);
    let (run, v) = ci_json(&dir, &["--upstream-url", &s.url()], &env);
    assert_eq!(v["fetch"]["source"], s.url(), "{}", run.stderr);
    assert_eq!(v["report"]["upstream"]["ref"], "refs/heads/master");
    let master = git(&s.upstream, &["rev-parse", "master"]);
    assert_eq!(
        v["report"]["upstream"]["oid"], master,
        "upstream's master, not the fork's"
    );
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_eq!(changed_paths(&v), vec!["docker/Dockerfile"]);
    assert_usable(&dir);
    // The URL is only fetched from, never added as a remote.
    assert_eq!(git(&dir, &["remote"]), "origin");
}

#[test]
fn full_clone_is_never_made_shallow() {
    let s = scenario(30, true);
    let dir = s.checkout("full", None);
    let (run, v) = ci_json(&dir, &[], &gitlab_env(s.tip));
    assert_eq!(v["fetch"]["was_shallow"], false, "{}", run.stderr);
    let commands = v["fetch"]["commands"].to_string();
    assert!(
        !commands.contains("--depth") && !commands.contains("--deepen"),
        "{commands}"
    );
    assert_eq!(
        git(&dir, &["rev-parse", "--is-shallow-repository"]),
        "false"
    );
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_usable(&dir);
}

#[test]
fn merge_request_pipeline_compares_with_its_target_branch() {
    let s = scenario(5, false);
    // A `stable` branch in upstream at an older master commit (before the branch point).
    let old = git(&s.upstream, &["rev-parse", "master~45"]);
    git(&s.upstream, &["branch", "stable", &old]);
    let dir = s.checkout("mr", Some(1));
    let mut env = gitlab_env(s.tip);
    env.extend(
        [
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master"),
            (
                "CI_COMMIT_BEFORE_SHA",
                "0000000000000000000000000000000000000000",
            ),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let (_, v) = ci_json(&dir, &[], &env);
    assert_eq!(v["pipeline"], "merge_request");
    assert_eq!(v["fetch"]["branch"], "master");
    assert_eq!(v["decision"], "skip");
    // Targeting `stable`: compared with that branch, the merge-base is its tip.
    let stable = env
        .iter()
        .map(|(k, v)| {
            if k == "CI_MERGE_REQUEST_TARGET_BRANCH_NAME" {
                (k.clone(), "stable".to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect::<Vec<_>>();
    let (_, v) = ci_json(&dir, &["--upstream-url", &s.url()], &stable);
    assert_eq!(v["fetch"]["branch"], "stable");
    assert_eq!(v["report"]["upstream"]["oid"], old);
    assert_eq!(v["report"]["targets"][0]["merge_base"], old);
    assert_usable(&dir);
}

#[test]
fn unrelated_upstream_is_rebuild_base_unknown_loudly() {
    let s = scenario(3, false);
    let other = TestRepo::new();
    other.commit("unrelated", &[("README", "other project\n")]);
    let other_url = format!("file://{}", other.path().display());
    let dir = s.checkout("ci", Some(1));
    let env = gitlab_env(s.tip);
    // Small steps, so that deepening stops while the clone is still shallow.
    git(&dir, &["config", "dockguard.ci.depth", "1"]);
    git(&dir, &["config", "dockguard.ci.max-depth", "2"]);
    let (run, v) = ci_json(&dir, &["--strict", "--upstream-url", &other_url], &env);
    assert_eq!(run.code, 0, "an unknown base never fails --strict");
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(v["reason"], "base-unknown");
    assert_eq!(
        v["fetch"]["unshallowed"], true,
        "tried the whole history first"
    );
    assert_eq!(v["fetch"]["depth"], 2);
    assert_eq!(
        git(&dir, &["rev-parse", "--is-shallow-repository"]),
        "false"
    );
    assert_eq!(
        v["report"]["targets"][0]["base_unknown"]["reason"],
        "unrelated_history"
    );
    assert!(
        run.stderr.contains("REBUILD (base unknown)") && run.stderr.contains("!!!"),
        "{}",
        run.stderr
    );
    assert_usable(&dir);
    // Without --unshallow the clone stays shallow and the reason says so.
    let dir = s.checkout("ci2", Some(1));
    for (k, v) in [("depth", "1"), ("max-depth", "2"), ("unshallow", "false")] {
        git(&dir, &["config", &format!("dockguard.ci.{k}"), v]);
    }
    let (_, v) = ci_json(&dir, &["--upstream-url", &other_url], &env);
    assert_eq!(v["reason"], "base-unknown");
    assert_eq!(
        v["report"]["targets"][0]["base_unknown"]["reason"],
        "shallow"
    );
    assert_eq!(v["fetch"]["unshallowed"], false);
    assert_usable(&dir);
}

#[test]
fn concurrent_jobs_in_one_clone_do_not_corrupt_each_other() {
    let s = scenario(120, true);
    let dir = s.checkout("shared", Some(1));
    let env = gitlab_env(s.tip);
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut cmd = Command::new(dockguard_bin());
            hermetic(&mut cmd)
                .current_dir(&dir)
                .args(["ci", "--format", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            for (k, v) in &env {
                cmd.env(k, v);
            }
            cmd.env("CI_JOB_ID", format!("job{i}"));
            cmd.spawn().expect("spawn dockguard")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
        assert_eq!(v["decision"], "rebuild");
    }
    assert_usable(&dir);
}

#[test]
fn leftover_private_refs_of_killed_runs_are_removed_after_a_day() {
    let s = scenario(2, true);
    let dir = s.checkout("ci", Some(1));
    let tip = s.tip.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let old = "refs/dockguard/ci/1000000000-1-killed/upstream".to_owned();
    let young = format!("refs/dockguard/ci/{}-2-running/upstream", now - 60);
    git(&dir, &["update-ref", &old, &tip]);
    git(&dir, &["update-ref", &young, &tip]);
    let (run, _) = ci_json(&dir, &[], &gitlab_env(s.tip));
    assert!(
        run.stderr.contains("deleted 1 private ref"),
        "{}",
        run.stderr
    );
    assert_eq!(
        git(
            &dir,
            &["for-each-ref", "--format=%(refname)", "refs/dockguard/"]
        ),
        young,
        "a young ref may belong to a running job: kept"
    );
}

#[test]
fn errors_say_what_to_do() {
    let s = scenario(2, true);
    let dir = s.checkout("ci", Some(1));
    let env = gitlab_env(s.tip);
    // No such upstream branch.
    assert_error(
        &run_env(&dir, &["ci", "--upstream-branch", "nope"], &env),
        "git fetch",
        "ci.upstream_branch",
    );
    // An unreachable upstream, with a password in the URL that must not be printed.
    let url = format!(
        "file://user:s3cret@/{}/missing.git",
        s.repo.tmp.path().display()
    );
    let run = run_env(&dir, &["ci", "--upstream-url", &url], &env);
    assert_error(&run, "failed", "reachable");
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    // Not a GitLab job after all.
    let run = run_env(&dir, &["ci", "--provider", "gitlab"], &[]);
    assert_error(&run, "CI_COMMIT_SHA is not set", "--help");
    // A request variable that collides with a decision variable.
    assert_error(
        &run_env(
            &dir,
            &["ci", "--request-variable", "DOCKGUARD_DECISION"],
            &env,
        ),
        "dockguard's own variables",
        "docs/src/configuration.md",
    );
    // No upstream branch can be determined.
    let generic = run_env(
        &dir,
        &[
            "ci",
            "--provider",
            "generic",
            "--upstream-url",
            "/nonexistent/x.git",
        ],
        &[],
    );
    assert_error(&generic, "cannot tell which branch", "ci.upstream_branch");
    assert_usable(&dir);
}

#[test]
fn repository_owned_by_another_user_gets_the_safe_directory_fix() {
    let s = scenario(1, true);
    let dir = s.checkout("ci", Some(1));
    let status = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&dir)
        .status();
    if !matches!(status, Ok(st) if st.success()) {
        eprintln!("skipped: cannot chown (not root)");
        return;
    }
    let run = run_env(&dir, &["ci"], &gitlab_env(s.tip));
    assert_error(
        &run,
        "owned by another user",
        "git config --global --add safe.directory",
    );
}

#[test]
fn github_actions_outputs_and_step_summary() {
    let s = scenario(8, true);
    let dir = s.checkout("gh", Some(1));
    let out = s.repo.scratch("github_output");
    let summary = s.repo.scratch("step_summary");
    let event = s.repo.scratch("event.json");
    std::fs::write(
        &event,
        r#"{"before":"1111111111111111111111111111111111111111","repository":{"default_branch":"master"}}"#,
    )
    .expect("event");
    std::fs::write(&out, "earlier=step\n").expect("existing output");
    let env: Vec<(String, String)> = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/feature"),
        ("GITHUB_REF_NAME", "feature"),
        ("GITHUB_RUN_ID", "1"),
        ("GITHUB_OUTPUT", out.to_str().expect("utf8")),
        ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf8")),
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf8")),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([("GITHUB_SHA".to_owned(), s.tip.to_string())])
    .collect();
    let run = run_env(&dir, &["ci"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&out).expect("output");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "earlier=step", "appended, not overwritten");
    assert!(lines.contains(&"decision=rebuild"), "{text}");
    assert!(lines.contains(&"reason=fallback"), "{text}");
    assert!(
        lines.contains(&format!("merge-base={}", s.base).as_str()),
        "{text}"
    );
    let open = lines
        .iter()
        .position(|l| l.starts_with("changed<<"))
        .expect("heredoc");
    let delim = lines[open].trim_start_matches("changed<<");
    assert!(delim.len() > 20, "random delimiter: {delim}");
    assert_eq!(lines[open + 1], "docker/Dockerfile");
    assert_eq!(lines[open + 2], delim);
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.starts_with("### dockguard: rebuild (fallback)"), "{md}");
    assert!(md.contains("- `docker/Dockerfile`"), "{md}");
    assert!(
        run.stdout.contains("fetched from remote `origin`"),
        "{}",
        run.stdout
    );
    assert_usable(&dir);
}

fn github_env(s: &Scenario, dir: &Path) -> Vec<(String, String)> {
    let out = dir.with_extension("output");
    let summary = dir.with_extension("summary");
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/42/merge"),
        ("GITHUB_BASE_REF", "master"),
        ("GITHUB_HEAD_REF", "master"),
        ("GITHUB_RUN_ID", "7"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain([
        ("GITHUB_SHA".to_owned(), s.tip.to_string()),
        ("GITHUB_OUTPUT".to_owned(), out.display().to_string()),
        (
            "GITHUB_STEP_SUMMARY".to_owned(),
            summary.display().to_string(),
        ),
    ])
    .collect()
}

/// Runs the composite action's script (`ci/github/dockguard.sh`) the way the action does:
/// inputs as environment variables, the binary on PATH.
fn action_script(dir: &Path, env: &[(String, String)]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/github/dockguard.sh");
    let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
    let mut cmd = Command::new("bash");
    hermetic(&mut cmd).current_dir(dir).arg(script).env(
        "PATH",
        format!(
            "{}:{}",
            bin_dir.display(),
            crate::fixture::test_path().to_string_lossy()
        ),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the action script")
}

#[test]
fn github_action_script_pull_request_and_strict_input() {
    let s = scenario(8, true);
    let dir = s.checkout("gh-action", Some(1));
    let mut env = github_env(&s, &dir);
    env.push(("DOCKGUARD_ACTION_STRICT".into(), "false".into()));
    // Empty inputs (the action's defaults) must mean "not set".
    env.push(("DOCKGUARD_CI_UPSTREAM_URL".into(), String::new()));
    env.push(("DOCKGUARD_CI_UPSTREAM_BRANCH".into(), String::new()));
    env.push(("DOCKGUARD_REBUILD".into(), String::new()));
    env.push(("DOCKGUARD_ACTION_ARGS".into(), "--commits".into()));
    let out = action_script(&dir, &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("bump debian"),
        "--commits was passed: {stdout}"
    );
    let output = std::fs::read_to_string(dir.with_extension("output")).expect("GITHUB_OUTPUT");
    assert!(output.contains("decision=rebuild\n"), "{output}");
    assert!(output.contains("reason=fallback\n"), "{output}");
    assert!(output.contains("ref-slug=pr-42\n"), "{output}");
    assert!(
        output.contains(&format!("merge-base={}\n", s.base)),
        "the PR's base branch: {output}"
    );
    // The strict input cannot fail a pull request (GitHub has no push options, so no
    // request can arrive): the step rebuilds and the summary says why.
    env.retain(|(k, _)| k != "DOCKGUARD_ACTION_STRICT");
    env.push(("DOCKGUARD_ACTION_STRICT".into(), "true".into()));
    let out = action_script(&dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(dir.with_extension("summary")).expect("summary");
    assert!(
        summary.contains("--strict does not apply here: GitHub has no push options"),
        "{summary}"
    );
    // Started by hand (workflow_dispatch), a request could have been made: strict fails.
    let mut manual: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("GITHUB_EVENT") && k != "GITHUB_REF" && !k.ends_with("_REF")
        })
        .cloned()
        .collect();
    manual.extend(
        [
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_REF", "refs/heads/feature"),
            ("GITHUB_REF_NAME", "feature"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let out = action_script(&dir, &manual);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The rebuild input is a request.
    env.retain(|(k, _)| k != "DOCKGUARD_REBUILD");
    env.push(("DOCKGUARD_REBUILD".into(), "1".into()));
    let out = action_script(&dir, &env);
    assert!(out.status.success());
    let output = std::fs::read_to_string(dir.with_extension("output")).expect("GITHUB_OUTPUT");
    assert!(output.contains("reason=needed\n"), "{output}");
    assert_usable(&dir);
}

#[test]
fn github_action_declares_every_output_the_binary_writes() {
    // Global mode writes `ci`'s outputs, content mode `plan`'s; action.yml declares both
    // (plan's per-image `image-<name>` outputs are summed up in `images`, and it declares
    // the first four `matrix-level-N`).
    let s = scenario(1, true);
    let dir = s.checkout("gh-outputs", Some(1));
    let env = github_env(&s, &dir);
    let written_by = |args: &[&str]| -> Vec<String> {
        let _ = std::fs::remove_file(dir.with_extension("output"));
        let run = run_env(&dir, args, &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        std::fs::read_to_string(dir.with_extension("output"))
            .expect("GITHUB_OUTPUT")
            .lines()
            .filter_map(|l| {
                l.split_once("<<")
                    .or_else(|| l.split_once('='))
                    .map(|(k, _)| k.to_owned())
            })
            .filter(|k| {
                k.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            })
            .filter(|k| !k.starts_with("image-"))
            .collect()
    };
    let ci = written_by(&["ci"]);
    // A registry nobody answers: every image planned `build`, quickly.
    let nowhere = format!("127.0.0.1:{}/p", crate::realdocker::free_port());
    let plan = written_by(&[
        "plan",
        "--registry-image",
        &nowhere,
        "--registry-unreachable",
        "build",
    ]);
    let action =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/github/action.yml"))
            .expect("action.yml");
    let outputs = action
        .split("\noutputs:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nruns:").next())
        .expect("outputs section");
    let declared: Vec<String> = outputs
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect();
    assert!(ci.len() >= 10, "{ci:?}");
    assert!(plan.iter().any(|k| k == "matrix-level-0"), "{plan:?}");
    for name in ci.iter().chain(&plan) {
        assert!(
            declared.contains(name),
            "action.yml does not declare output `{name}`"
        );
        assert!(
            outputs.contains(&format!("steps.dockguard.outputs.{name} }}}}")),
            "`{name}` is not wired to the step"
        );
    }
    for name in &declared {
        assert!(
            ci.contains(name) || plan.contains(name) || name.starts_with("matrix-level-"),
            "action.yml declares `{name}`, which nothing writes"
        );
    }
}

#[test]
fn no_fetch_uses_the_local_upstream_like_check() {
    let s = scenario(5, true);
    let dir = s.checkout("nofetch", None);
    let (run, v) = ci_json(
        &dir,
        &["--no-fetch", "--provider", "generic", "--ref", "feature"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(v["fetch"].is_null());
    assert_eq!(v["provider"], "generic");
    assert_eq!(v["report"]["upstream"]["ref"], "refs/remotes/origin/master");
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_eq!(v["report"]["targets"][0]["label"], "refs/heads/feature");
    assert_eq!(v["decision"], "rebuild");
    assert_eq!(v["ref_slug"], "feature");
    // GitLab's MR diff base is reported for comparison, never used as the base.
    let mut env = gitlab_env(s.tip);
    env.push(("CI_MERGE_REQUEST_IID".into(), "3".into()));
    env.push(("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), s.tip.to_string()));
    let (_, v) = ci_json(&dir, &["--no-fetch"], &env);
    assert_eq!(v["context"]["diff_base_sha"], s.tip.to_string());
    assert_eq!(v["report"]["targets"][0]["merge_base"], s.base.to_string());
    assert_eq!(v["decision"], "rebuild");
}

#[test]
fn pipeline_on_the_upstream_branch_itself_judges_what_the_push_changed() {
    let s = scenario(2, false);
    let master = git(&s.upstream, &["rev-parse", "master"]);
    let dir = s.repo.scratch("master-ci");
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
    let env_for = |before: &str| -> Vec<(String, String)> {
        let mut env = gitlab_env(Oid::from_str(&master).expect("oid"));
        for (k, v) in &mut env {
            if k == "CI_COMMIT_REF_NAME" || k == "CI_COMMIT_BRANCH" {
                *v = "master".into();
            }
        }
        env.push(("CI_COMMIT_BEFORE_SHA".into(), before.to_owned()));
        env
    };
    // The push brought master~24..master, which includes "master's own image change".
    let before = git(&s.upstream, &["rev-parse", "master~25"]);
    let (run, v) = ci_json(&dir, &[], &env_for(&before));
    assert_eq!(v["fetch"]["previous_tip"], before, "{}", run.stderr);
    assert_eq!(v["report"]["targets"][0]["merge_base"], before);
    assert_eq!(
        changed_paths(&v),
        vec!["tests/docker/dockerfiles/debian.docker"]
    );
    assert_eq!(v["decision"], "rebuild");
    assert!(
        run.stderr.contains("upstream branch `master` itself"),
        "{}",
        run.stderr
    );
    // A push of the last 10 commits only: nothing images are built from.
    let before = git(&s.upstream, &["rev-parse", "master~10"]);
    let (_, v) = ci_json(&dir, &[], &env_for(&before));
    assert_eq!(v["decision"], "skip", "{v:#}");
    // No previous tip (first or manual run): compared with itself, and the log says so.
    let (run, v) = ci_json(&dir, &[], &env_for(&"0".repeat(40)));
    assert_eq!(v["decision"], "skip");
    assert!(v["fetch"]["previous_tip"].is_null());
    assert!(
        run.stderr.contains("set DOCKGUARD_REBUILD=1 to rebuild"),
        "{}",
        run.stderr
    );
    // A previous tip the server no longer has (force push): rebuild, base unknown.
    let (run, v) = ci_json(&dir, &[], &env_for(&"1".repeat(40)));
    assert_eq!(v["decision"], "rebuild", "{}", run.stderr);
    assert_eq!(v["reason"], "base-unknown");
    assert_eq!(
        v["report"]["targets"][0]["base_unknown"]["reason"],
        "missing_object"
    );
    assert_usable(&dir);
}
