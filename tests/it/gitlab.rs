//! End-to-end: the global-decision GitLab template (`ci/gitlab/dockguard.yml`) under
//! gitlab-ci-local (shell executor) on shallow clones, building and pushing for real with
//! a real dockerd and registry (harness: [`crate::pipelines`]), on a QEMU-shaped project:
//! `base`, and `child` built `FROM <registry>/qemu/base:latest`. Each test checks one of
//! the failures issue 12 listed for this mode, and the decisions it always made.

use crate::pipelines::{shipped, Lab, Opts, Pipeline, QEMU_CHILD, QEMU_TOML};

const GITLAB_CI: &str = r#"include:
  - local: ci/gitlab/dockguard.yml

variables:
  # This runner has its own docker (gitlab-ci-local skips a service with an empty name).
  DOCKGUARD_DIND_IMAGE: ""

stages: [containers, test]

container-base:
  extends: .dockguard-container
  stage: containers
  variables:
    DOCKGUARD_IMAGE_NAME: base
    DOCKGUARD_DOCKERFILE: tests/docker/dockerfiles/base.docker

container-child:
  extends: .dockguard-container
  stage: containers
  needs: [{job: dockguard, artifacts: true}, container-base]
  variables:
    DOCKGUARD_IMAGE_NAME: child
    DOCKGUARD_DOCKERFILE: tests/docker/dockerfiles/child.docker
    DOCKGUARD_PARENT_IMAGES: base

test-child:
  stage: test
  needs: [{job: dockguard, artifacts: true}, container-child]
  image: $DOCKGUARD_REGISTRY_IMAGE/child:$DOCKGUARD_IMAGE_TAG
  script:
    - echo "runs on $DOCKGUARD_REGISTRY_IMAGE/child:$DOCKGUARD_IMAGE_TAG"
    - docker run --rm --network none "$DOCKGUARD_REGISTRY_IMAGE/child:$DOCKGUARD_IMAGE_TAG" cat /marker
"#;

fn base(marker: &str) -> String {
    format!("FROM @REG@/base/busybox:1\nARG MSG=none\nRUN echo base-{marker} > /base-marker && echo \"$MSG\" > /msg\n")
}

/// master with the template and the two images; pushed.
fn lab() -> Lab {
    let template = shipped("ci/gitlab/dockguard.yml");
    let base = base("master");
    Lab::new(&[
        (".gitlab-ci.yml", GITLAB_CI),
        ("ci/gitlab/dockguard.yml", &template),
        (".dockguard.toml", QEMU_TOML),
        ("tests/docker/dockerfiles/base.docker", &base),
        ("tests/docker/dockerfiles/child.docker", QEMU_CHILD),
        ("tests/docker/dockerfiles/child.d/marker", "child-master\n"),
        ("src/main.c", "int main(void) { return 0; }\n"),
    ])
}

fn var(p: &Pipeline, key: &str) -> Option<String> {
    p.dotenv("dockguard", "dockguard.env")
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_owned)
        })
}

fn markers(p: &Pipeline) -> Vec<String> {
    p.job_lines("test-child")
        .into_iter()
        .filter(|l| l.starts_with("base-") || l.starts_with("child-"))
        .collect()
}

/// The `docker build` command lines the container jobs ran.
fn builds(p: &Pipeline) -> Vec<String> {
    p.log
        .lines()
        .filter_map(|l| l.split_once(" > dockguard: docker build "))
        .map(|(job, rest)| format!("{} {rest}", job.trim()))
        .collect()
}

/// master's first pipeline on a fresh project: builds and pushes `latest`.
fn first_master(lab: &Lab) -> Pipeline {
    let p = lab.pipeline("master", &Opts::default());
    p.assert_ok();
    p
}

/// `feature`: the child's marker changes 8 commits back (then 8 filler commits).
fn feature(lab: &Lab) {
    let m = lab.repo.head();
    lab.repo.switch_new("feature", m);
    lab.commit(
        "child: feature marker",
        &[("tests/docker/dockerfiles/child.d/marker", "child-feature\n")],
    );
    lab.repo.filler(8, "feature");
    lab.repo.checkout("master");
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_fresh_projects_master_pipeline_pushes_latest_and_jobs_get_the_tag_to_use() {
    let lab = lab();
    let p = first_master(&lab);
    // Master compared with itself says skip, but `latest` does not exist yet: built, in
    // order (base first), and pushed as `latest`, which is what jobs are told to use.
    assert_eq!(
        var(&p, "DOCKGUARD_DECISION").as_deref(),
        Some("skip"),
        "{}",
        p.log
    );
    assert_eq!(var(&p, "DOCKGUARD_IMAGE_TAG").as_deref(), Some("latest"));
    assert!(
        p.log.contains("does not exist yet: building it on master"),
        "{}",
        p.log
    );
    let started = p.started();
    let pos = |j: &str| started.iter().position(|s| s == j).unwrap_or(usize::MAX);
    assert!(
        pos("container-base") < pos("container-child"),
        "{started:?}"
    );
    for image in ["base", "child"] {
        assert!(lab.exists(&format!("{}/qemu/{image}:latest", lab.host())));
    }
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    // The next master pipeline finds it and skips.
    let again = lab.pipeline("master", &Opts::default());
    again.assert_ok();
    assert!(builds(&again).is_empty(), "{:?}", builds(&again));
    assert!(
        again.log.contains("dockguard: skipping child"),
        "{}",
        again.log
    );
    assert_eq!(markers(&again), ["base-master", "child-master"]);
    // A merge that changes the child: master's pipeline (previous tip given, as GitLab
    // does for a push) rebuilds and moves `latest` to the new content.
    let before = lab.repo.head();
    lab.commit(
        "merge: child marker",
        &[("tests/docker/dockerfiles/child.d/marker", "child-merged\n")],
    );
    lab.push();
    let merged = lab.pipeline(
        "master",
        &Opts::default().var(&format!("CI_COMMIT_BEFORE_SHA={before}")),
    );
    merged.assert_ok();
    assert_eq!(
        var(&merged, "DOCKGUARD_DECISION").as_deref(),
        Some("rebuild"),
        "{}",
        merged.log
    );
    assert_eq!(
        markers(&merged),
        ["base-master", "child-merged"],
        "{}",
        merged.log
    );
    assert_eq!(
        lab.run_in(&format!("{}/qemu/child:latest", lab.host()), "cat /marker"),
        "base-master\nchild-merged",
        "latest follows master"
    );
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_branch_change_8_commits_back_rebuilds_in_order_on_its_own_base_with_the_cache() {
    let lab = lab();
    first_master(&lab);
    feature(&lab);
    // The base changes too on this branch: the child must be built on the branch's base.
    lab.repo.checkout("feature");
    lab.commit(
        "base: feature marker",
        &[("tests/docker/dockerfiles/base.docker", &base("feature"))],
    );
    lab.repo.filler(1, "after");
    lab.push();
    let p = lab.pipeline("feature", &Opts::default());
    p.assert_ok();
    assert_eq!(var(&p, "DOCKGUARD_DECISION").as_deref(), Some("rebuild"));
    assert_eq!(var(&p, "DOCKGUARD_REASON").as_deref(), Some("fallback"));
    assert_eq!(var(&p, "DOCKGUARD_REF_SLUG").as_deref(), Some("feature"));
    assert_eq!(var(&p, "DOCKGUARD_IMAGE_TAG").as_deref(), Some("feature"));
    assert!(p.log.contains("REBUILD (fallback)"), "{}", p.log);
    let b = builds(&p);
    assert_eq!(b.len(), 2, "{b:?}");
    assert!(
        b[0].starts_with("container-base") && b[1].starts_with("container-child"),
        "{b:?}"
    );
    // The child's FROM is this pipeline's base, not master's `latest`.
    let host = lab.host();
    assert!(
        p.job_lines("container-child").iter().any(|l| l.starts_with(&format!(
            "dockguard: FROM {host}/qemu/base:latest is {host}/qemu/base:feature ({host}/qemu/base@sha256:"
        ))),
        "{}",
        p.log
    );
    assert_eq!(markers(&p), ["base-feature", "child-feature"], "{}", p.log);
    // --cache-from works on a daemon that starts empty: the cache image is pulled first,
    // and the unchanged first steps come from it.
    assert!(
        p.job_lines("container-child")
            .iter()
            .any(|l| l == &format!("dockguard: build cache: {host}/qemu/child:latest")),
        "{}",
        p.log
    );
    assert!(
        b[1].contains(&format!("--cache-from {host}/qemu/child:latest")),
        "{b:?}"
    );
    let base_log = p.job_lines("container-base");
    let cached = base_log
        .iter()
        .position(|l| l.contains("ARG MSG=none"))
        .map(|i| &base_log[i + 1]);
    assert_eq!(
        cached.map(String::as_str),
        Some(" ---> Using cache"),
        "{base_log:#?}"
    );
    // A branch never moves `latest`.
    assert_eq!(
        lab.run_in(&format!("{host}/qemu/child:latest"), "cat /marker"),
        "base-master\nchild-master"
    );
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn skip_request_and_strict_decide_as_before() {
    let lab = lab();
    first_master(&lab);
    feature(&lab);
    let m = lab.repo.head();
    lab.repo.switch_new("quiet", m);
    lab.repo.filler(9, "quiet");
    lab.push();
    // No image input differs: skip, jobs run on `latest`.
    let quiet = lab.pipeline("quiet", &Opts::default());
    quiet.assert_ok();
    assert_eq!(
        var(&quiet, "DOCKGUARD_REASON").as_deref(),
        Some("not-needed")
    );
    assert_eq!(
        var(&quiet, "DOCKGUARD_IMAGE_TAG").as_deref(),
        Some("latest")
    );
    assert!(builds(&quiet).is_empty());
    assert!(
        quiet.log.contains("dockguard: skipping base")
            && quiet.log.contains("dockguard: skipping child")
    );
    assert_eq!(markers(&quiet), ["base-master", "child-master"]);
    // Requested: rebuilt anyway, under the branch's tag.
    let req = lab.pipeline("quiet", &Opts::default().var("DOCKGUARD_REBUILD=1"));
    req.assert_ok();
    assert_eq!(var(&req, "DOCKGUARD_REASON").as_deref(), Some("requested"));
    assert_eq!(builds(&req).len(), 2);
    assert!(lab.exists(&format!("{}/qemu/child:quiet", lab.host())));
    // --strict without the request fails before any container job; with it, passes.
    let strict = lab.pipeline("feature", &Opts::default().var("DOCKGUARD_ARGS=--strict"));
    assert!(!strict.ok, "{}", strict.log);
    assert!(strict.log.contains("FAILED (--strict)"), "{}", strict.log);
    assert!(builds(&strict).is_empty());
    let ok = lab.pipeline(
        "feature",
        &Opts::default()
            .var("DOCKGUARD_ARGS=--strict")
            .var("DOCKGUARD_REBUILD=1"),
    );
    ok.assert_ok();
    assert_eq!(var(&ok, "DOCKGUARD_REASON").as_deref(), Some("needed"));
    assert_eq!(markers(&ok), ["base-master", "child-feature"]);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn build_args_are_quoted_words_never_globbed_and_the_docker_command_is_an_allowlist() {
    let lab = lab();
    first_master(&lab);
    let m = lab.repo.head();
    lab.repo.switch_new("args", m);
    // A file named like an option, for a glob to find.
    lab.commit("bait", &[("--network=host", "x\n"), ("src/more.c", "\n")]);
    lab.push();
    let args = "DOCKGUARD_BUILD_ARGS=--build-arg \"MSG=hello world\" --label 'x=a b'";
    let p = lab.pipeline(
        "args",
        &Opts::default().var("DOCKGUARD_REBUILD=1").var(args),
    );
    p.assert_ok();
    let b = builds(&p);
    assert!(
        b[0].contains("--build-arg MSG=hello world --label x=a b"),
        "{b:?}"
    );
    assert_eq!(
        lab.run_in(&format!("{}/qemu/base:args", lab.host()), "cat /msg"),
        "hello world"
    );
    // `-*` is a word, not a glob of the checkout's `--network=host`: refused by name.
    let glob = lab.pipeline(
        "args",
        &Opts::default()
            .var("DOCKGUARD_REBUILD=1")
            .var("DOCKGUARD_BUILD_ARGS=-*"),
    );
    assert!(!glob.ok);
    assert!(
        glob.log
            .contains("DOCKGUARD_BUILD_ARGS: '-*' is not one of"),
        "{}",
        glob.log
    );
    assert!(!glob.log.contains("--network=host"), "{}", glob.log);
    // Not a command line: a pipeline variable cannot make the job run something else
    // (with the registry password on its stdin).
    let stolen = lab.repo.scratch("stolen");
    let evil = format!("DOCKGUARD_DOCKER=sh -c 'cat >> {}'", stolen.display());
    let e = lab.pipeline(
        "args",
        &Opts::default()
            .var("DOCKGUARD_REBUILD=1")
            .var(&evil)
            .project("CI_REGISTRY_USER", "ci")
            .project("CI_REGISTRY_PASSWORD", "s3cret"),
    );
    assert!(!e.ok);
    assert!(
        e.log.contains("DOCKGUARD_DOCKER must be docker or podman"),
        "{}",
        e.log
    );
    assert!(!stolen.exists(), "nothing ran");
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn pushing_to_another_registry_logs_in_there_with_its_own_credentials() {
    let lab = lab();
    first_master(&lab);
    // Images go to a registry that is not $CI_REGISTRY and wants credentials.
    let other = crate::realdocker::Registry::basic("bot", "other-pass");
    let image = format!("{}/elsewhere", other.host());
    let vars = Opts::default()
        .var("DOCKGUARD_REBUILD=1")
        .var(&format!("DOCKGUARD_REGISTRY_IMAGE={image}"))
        .project("CI_REGISTRY_USER", "ci")
        .project("CI_REGISTRY_PASSWORD", "ci-pass");
    // Without its credentials: the push fails, clearly (the CI_REGISTRY ones are not sent).
    let no = lab.pipeline("master", &vars);
    assert!(!no.ok);
    assert!(no.log.contains("no basic auth credentials"), "{}", no.log);
    let yes = lab.pipeline(
        "master",
        &vars
            .project("DOCKGUARD_REGISTRY_USER", "bot")
            .project("DOCKGUARD_REGISTRY_PASSWORD", "other-pass"),
    );
    yes.assert_ok();
    assert!(yes.log.contains("Login Succeeded"), "{}", yes.log);
    // The child's FROM names the lab's registry, not this one: `base` (a NAME-only parent)
    // was a guess, and the job says the child is not built on this pipeline's base.
    assert!(
        yes.log.contains(&format!(
            "dockguard: warning: no FROM line names the parent image as {image}/base:latest"
        )),
        "{}",
        yes.log
    );
    assert!(!yes.log.contains("other-pass") && !yes.log.contains("ci-pass"));
    assert_eq!(markers(&yes), ["base-master", "child-master"]);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_downloaded_binary_runs_only_when_it_matches_the_pinned_sha256() {
    let lab = lab();
    lab.push();
    let url = format!("file://{}", crate::fixture::dockguard_bin());
    let out = std::process::Command::new("sha256sum")
        .arg(crate::fixture::dockguard_bin())
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&out.stdout)[..64].to_owned();
    let only = |extra: &[&str]| {
        let mut o = Opts {
            dockguard_on_path: Some(false),
            ..Opts::default()
        }
        .jobs(&["dockguard"])
        .var(&format!("DOCKGUARD_BINARY_URL={url}"));
        for v in extra {
            o = o.var(v);
        }
        lab.pipeline("master", &o)
    };
    let none = only(&[]);
    assert!(!none.ok);
    assert!(
        none.log
            .contains("DOCKGUARD_BINARY_URL needs DOCKGUARD_BINARY_SHA256"),
        "{}",
        none.log
    );
    let wrong = only(&[&format!("DOCKGUARD_BINARY_SHA256={}", "0".repeat(64))]);
    assert!(!wrong.ok);
    assert!(
        wrong
            .log
            .contains("does not match DOCKGUARD_BINARY_SHA256: not run"),
        "{}",
        wrong.log
    );
    let right = only(&[&format!("DOCKGUARD_BINARY_SHA256={sum}")]);
    right.assert_ok();
    assert!(right.log.contains("dockguard: SKIP"), "{}", right.log);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_binary_the_branch_committed_never_runs() {
    let lab = lab();
    let planted = crate::pipelines::plant_binaries(&lab, "planted");
    let only = Opts {
        dockguard_on_path: Some(false),
        ..Opts::default()
    }
    .jobs(&["dockguard"]);
    // git_url mode: once ran `.dockguard-cache/bin/dockguard` when it existed; now it
    // always builds (the stand-in cargo, see plant_binaries) outside the checkout.
    let p = lab.pipeline(
        "planted",
        &only
            .clone()
            .var("DOCKGUARD_GIT_URL=https://dockguard.invalid/dockguard.git")
            .var("DOCKGUARD_GIT_TAG=v1"),
    );
    crate::pipelines::assert_built_here(&p, &planted);
    p.assert_ok();
    assert!(p.log.contains("dockguard: SKIP"), "{}", p.log);
    // Download mode: the committed "cached download" fails its checksum and is replaced.
    let out = std::process::Command::new("sha256sum")
        .arg(crate::fixture::dockguard_bin())
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&out.stdout)[..64].to_owned();
    let p = lab.pipeline(
        "planted",
        &only
            .var(&format!(
                "DOCKGUARD_BINARY_URL=file://{}",
                crate::fixture::dockguard_bin()
            ))
            .var(&format!("DOCKGUARD_BINARY_SHA256={sum}")),
    );
    assert_eq!(planted.ran(), None, "{}", p.log);
    p.assert_ok();
    assert!(!p.log.contains("using the cached download"), "{}", p.log);
    assert!(p.log.contains("dockguard: SKIP"), "{}", p.log);
}
