//! End-to-end: the shipped GitLab template (`ci/gitlab/dockguard.yml`), run by
//! gitlab-ci-local (shell executor) on shallow checkouts of a real local repository.
//! `docker` is replaced by a stub that records its arguments (no docker engine here).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ci::assert_usable;
use crate::fixture::{dockguard_bin, git, hermetic, require_tool, TestRepo};

const CONTAINER_JOBS: &str = "\
include:
  - local: ci/gitlab/dockguard.yml

stages: [containers]

# QEMU's layout: tests/docker/dockerfiles/$NAME.docker, build context `.`.
# `services: []`: this runner builds with the docker it has (here: a stub).
container-debian:
  extends: .dockguard-container
  stage: containers
  services: []
  variables:
    DOCKGUARD_IMAGE_NAME: debian
    DOCKGUARD_DOCKERFILE: tests/docker/dockerfiles/debian.docker

container-fedora:
  extends: .dockguard-container
  stage: containers
  services: []
  variables:
    DOCKGUARD_IMAGE_NAME: fedora
    DOCKGUARD_DOCKERFILE: tests/docker/dockerfiles/fedora.docker
";

struct Project {
    repo: TestRepo,
    upstream: PathBuf,
}

/// master with the template and two images; `feature` edits debian.docker and then has
/// 8 more commits (the change is 8 commits back); `quiet` has 9 commits and no image
/// change; master moves on, changing fedora.docker (which never counts for the branches).
fn project() -> Project {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/gitlab/dockguard.yml"),
    )
    .expect("shipped template");
    let r = TestRepo::new();
    r.commit(
        "root",
        &[
            (".gitlab-ci.yml", CONTAINER_JOBS),
            ("ci/gitlab/dockguard.yml", &template),
            ("tests/docker/dockerfiles/debian.docker", "FROM debian:12\n"),
            ("tests/docker/dockerfiles/fedora.docker", "FROM fedora:40\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    let base = r.filler(3, "master");
    r.switch_new("feature", base);
    r.commit(
        "debian: bump to trixie",
        &[("tests/docker/dockerfiles/debian.docker", "FROM debian:13\n")],
    );
    r.filler(8, "feature");
    r.switch_new("quiet", base);
    r.filler(9, "quiet");
    r.checkout("master");
    r.commit(
        "fedora: 41",
        &[("tests/docker/dockerfiles/fedora.docker", "FROM fedora:41\n")],
    );
    r.filler(4, "master-later");
    let upstream = r.bare_clone("upstream.git");
    Project { repo: r, upstream }
}

struct Pipeline {
    ok: bool,
    log: String,
    /// Lines the docker stub recorded.
    docker: Vec<String>,
    /// The dockguard job's dotenv report, if it wrote one.
    dotenv: Option<String>,
    /// The dockguard job's copy of the checkout.
    job_dir: PathBuf,
}

impl Pipeline {
    fn var(&self, key: &str) -> Option<String> {
        self.dotenv.as_deref()?.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
        })
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(found) = find_file(&p, name) {
                return Some(found);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// A `git clone --depth 1 --branch BRANCH` checkout, run through gitlab-ci-local.
fn pipeline(p: &Project, tool: &Path, case: &str, branch: &str, vars: &[&str]) -> Pipeline {
    let dir = p.repo.scratch(case);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let checkout = dir.join("checkout");
    git(
        &dir,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            branch,
            &format!("file://{}", p.upstream.display()),
            checkout.to_str().expect("utf8"),
        ],
    );
    assert_eq!(
        git(&checkout, &["rev-list", "--count", "HEAD"]),
        "1",
        "shallow"
    );
    let stub = dir.join("docker-stub");
    let stub_log = dir.join("docker.log");
    std::fs::write(&stub, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$STUB_LOG\"\n").expect("stub");
    let chmod = Command::new("chmod").arg("+x").arg(&stub).status();
    assert!(matches!(chmod, Ok(s) if s.success()));
    let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(tool);
    hermetic(&mut cmd)
        .current_dir(&checkout)
        .env("PATH", path)
        // The template adds the checkout to safe.directory with `git config --global`.
        .env("GIT_CONFIG_GLOBAL", dir.join("gitconfig"))
        .args([
            "--shell-isolation",
            "--force-shell-executor",
            "--no-color",
            "--home",
        ])
        .arg(dir.join("gcl-home"))
        .args(["--ignore-predefined-vars", "CI_DEFAULT_BRANCH"])
        .args(["--variable", "CI_DEFAULT_BRANCH=master"])
        .arg("--variable")
        .arg(format!("DOCKGUARD_DOCKER={}", stub.display()))
        .arg("--variable")
        .arg(format!("STUB_LOG={}", stub_log.display()));
    for v in vars {
        cmd.args(["--variable", v]);
    }
    let out = cmd.output().expect("run gitlab-ci-local");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let state = checkout.join(".gitlab-ci-local");
    let dotenv = find_file(&state.join("artifacts"), "dockguard.env")
        .map(|f| std::fs::read_to_string(f).expect("dotenv"));
    let docker = std::fs::read_to_string(&stub_log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    Pipeline {
        ok: out.status.success(),
        log,
        docker,
        dotenv,
        job_dir: state.join("builds").join("dockguard"),
    }
}

fn builds(p: &Pipeline) -> Vec<&str> {
    p.docker
        .iter()
        .filter(|l| l.starts_with("build "))
        .map(String::as_str)
        .collect()
}

fn tools() -> PathBuf {
    require_tool("rsync");
    require_tool("gitlab-ci-local")
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn change_8_commits_back_rebuilds_without_any_push_option() {
    let tool = tools();
    let p = project();
    let run = pipeline(&p, &tool, "feature", "feature", &[]);
    assert!(run.ok, "{}", run.log);
    assert_eq!(
        run.var("DOCKGUARD_DECISION").as_deref(),
        Some("rebuild"),
        "{}",
        run.log
    );
    assert_eq!(run.var("DOCKGUARD_REASON").as_deref(), Some("fallback"));
    assert_eq!(run.var("DOCKGUARD_REQUESTED").as_deref(), Some("false"));
    assert_eq!(run.var("DOCKGUARD_REF_SLUG").as_deref(), Some("feature"));
    assert_eq!(run.var("DOCKGUARD_CHANGED_COUNT").as_deref(), Some("1"));
    let base = git(&p.upstream, &["rev-parse", "feature~9"]);
    assert_eq!(run.var("DOCKGUARD_MERGE_BASE"), Some(base));
    assert!(run.log.contains("REBUILD (fallback)"), "{}", run.log);
    let b = builds(&run);
    assert_eq!(
        b.len(),
        2,
        "both container jobs built: {:?}\n{}",
        run.docker,
        run.log
    );
    let debian = b
        .iter()
        .find(|l| l.contains("/debian:feature"))
        .expect("debian built");
    assert!(
        debian.contains("-f tests/docker/dockerfiles/debian.docker")
            && debian.ends_with(" .")
            && debian.contains("--cache-from")
            && debian.contains("/debian:latest"),
        "{debian}"
    );
    assert!(
        run.docker
            .iter()
            .any(|l| l.starts_with("push ") && l.ends_with("/fedora:feature")),
        "{:?}",
        run.docker
    );
    assert_usable(&run.job_dir);
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn branch_without_dockerfile_changes_skips() {
    let tool = tools();
    let p = project();
    let run = pipeline(&p, &tool, "quiet", "quiet", &[]);
    assert!(run.ok, "{}", run.log);
    assert_eq!(
        run.var("DOCKGUARD_DECISION").as_deref(),
        Some("skip"),
        "{}",
        run.log
    );
    assert_eq!(run.var("DOCKGUARD_REASON").as_deref(), Some("not-needed"));
    assert_eq!(run.var("DOCKGUARD_CHANGED_COUNT").as_deref(), Some("0"));
    assert!(run.docker.is_empty(), "nothing built: {:?}", run.docker);
    assert!(
        run.log.contains("dockguard: skipping debian")
            && run.log.contains("dockguard: skipping fedora"),
        "says why: {}",
        run.log
    );
    assert_usable(&run.job_dir);
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn request_variable_rebuilds_and_is_reported() {
    let tool = tools();
    let p = project();
    // Requested although nothing changed: rebuild, and say so.
    let run = pipeline(&p, &tool, "quiet-req", "quiet", &["DOCKGUARD_REBUILD=1"]);
    assert!(run.ok, "{}", run.log);
    assert_eq!(run.var("DOCKGUARD_DECISION").as_deref(), Some("rebuild"));
    assert_eq!(run.var("DOCKGUARD_REASON").as_deref(), Some("requested"));
    assert_eq!(run.var("DOCKGUARD_REQUESTED").as_deref(), Some("true"));
    assert_eq!(builds(&run).len(), 2, "{:?}", run.docker);
    assert!(run.log.contains("REBUILD (requested)"), "{}", run.log);
    // Needed and requested.
    let run = pipeline(
        &p,
        &tool,
        "feature-req",
        "feature",
        &["DOCKGUARD_REBUILD=1"],
    );
    assert!(run.ok, "{}", run.log);
    assert_eq!(run.var("DOCKGUARD_REASON").as_deref(), Some("needed"));
    assert_eq!(builds(&run).len(), 2);
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn strict_fails_the_pipeline_when_the_request_is_missing() {
    let tool = tools();
    let p = project();
    let run = pipeline(&p, &tool, "strict", "feature", &["DOCKGUARD_ARGS=--strict"]);
    assert!(!run.ok, "the dockguard job fails: {}", run.log);
    assert!(run.log.contains("FAILED (--strict)"), "{}", run.log);
    assert!(
        run.docker.is_empty(),
        "no container job ran: {:?}",
        run.docker
    );
    let run = pipeline(
        &p,
        &tool,
        "strict-ok",
        "feature",
        &["DOCKGUARD_ARGS=--strict", "DOCKGUARD_REBUILD=1"],
    );
    assert!(run.ok, "{}", run.log);
    assert_eq!(builds(&run).len(), 2);
}
