//! The CI/CD component (`templates/dockguard/template.yml`) under gitlab-ci-local 4.70.1,
//! included locally with inputs as the catalog would include it, with a real dockerd and
//! registry (harness: [`crate::pipelines`]), in both modes; invalid inputs; pipeline
//! variables that try to change its settings; and issue 15's end-to-end request: a real
//! `git push -o ci.input=dockguard_rebuild=true` through dockguard's hook to a recording
//! server, whose recorded input then reaches `dockguard` in the component's job.
//!
//! GitLab's own part of that last step (turning a push's `ci.input=NAME=VALUE` into the
//! pipeline's inputs) is played by the test: gitlab-ci-local has no flag for a
//! configuration's own inputs, so the test includes the project's `.gitlab-ci.yml` (which
//! declares `spec: inputs: dockguard_rebuild`) from a wrapper file, with the recorded
//! inputs, exactly as GitLab would pass them. (gitlab-ci-local also does not check
//! `regex:` on inputs, only `options:` and types: the regex tests are GitLab's to run.)

use crate::pipelines::{shipped, Lab, Opts, Pipeline, QEMU_BASE, QEMU_CHILD, QEMU_TOML};

/// The project's configuration: the request input, the component with `mode` and
/// `extra_inputs` (YAML lines), and jobs for that mode.
fn gitlab_ci(mode: &str, extra_inputs: &str) -> String {
    gitlab_ci_with(mode, &format!("      mode: {mode}\n{extra_inputs}"))
}

fn gitlab_ci_with(mode: &str, inputs: &str) -> String {
    let jobs = if mode == "content" {
        r#"test-child:
  extends: .dockguard-uses-images
  stage: test
  image: $DOCKGUARD_IMAGE_CHILD
  script:
    - docker run --rm --network none "$DOCKGUARD_IMAGE_CHILD" cat /marker
"#
    } else {
        r#"container-base:
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
    - docker run --rm --network none "$DOCKGUARD_REGISTRY_IMAGE/child:$DOCKGUARD_IMAGE_TAG" cat /marker
"#
    };
    format!(
        r#"spec:
  inputs:
    dockguard_rebuild:
      type: boolean
      default: false
---
include:
  - local: templates/dockguard/template.yml
    inputs:
      # This runner has its own docker.
      dind_image: ""
      rebuild: $[[ inputs.dockguard_rebuild ]]
{inputs}
stages: [containers, test]

{jobs}"#
    )
}

fn lab(mode: &str, extra_inputs: &str) -> Lab {
    let component = shipped("templates/dockguard/template.yml");
    let ci = gitlab_ci(mode, extra_inputs);
    Lab::new(&[
        (".gitlab-ci.yml", &ci),
        ("templates/dockguard/template.yml", &component),
        (".dockguard.toml", QEMU_TOML),
        ("tests/docker/dockerfiles/base.docker", QEMU_BASE),
        ("tests/docker/dockerfiles/child.docker", QEMU_CHILD),
        ("tests/docker/dockerfiles/child.d/marker", "child-master\n"),
        ("src/main.c", "int main(void) { return 0; }\n"),
    ])
}

fn markers(p: &Pipeline) -> Vec<String> {
    p.job_lines("test-child")
        .into_iter()
        .filter(|l| l.starts_with("base-") || l.starts_with("child-"))
        .collect()
}

/// A wrapper that includes the project's configuration with `inputs` (what GitLab does
/// with a push's `ci.input=` options), written into `checkout`; its name for `--file`.
fn with_inputs(checkout: &std::path::Path, inputs: &[(String, String)]) -> String {
    let mut y = String::from("include:\n  - local: .gitlab-ci.yml\n    inputs:\n");
    for (k, v) in inputs {
        y.push_str(&format!("      {k}: {v}\n"));
    }
    if inputs.is_empty() {
        y = "include:\n  - local: .gitlab-ci.yml\n".into();
    }
    std::fs::write(checkout.join(".gitlab-ci-pipeline.yml"), y).expect("wrapper");
    ".gitlab-ci-pipeline.yml".into()
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn content_mode_from_the_component_builds_in_order_and_ignores_pipeline_variables() {
    // `$CI_REGISTRY_IMAGE/...` is the one variable an input may name.
    let lab = lab(
        "content",
        "      strict: false\n      registry_image: $CI_REGISTRY_IMAGE/sub\n",
    );
    // Pipeline variables that try to redirect or replace what the template does: the
    // component's settings are its inputs, so none of them has any effect.
    let stolen = lab.repo.scratch("stolen");
    let elsewhere = format!("127.0.0.1:{}", crate::realdocker::free_port());
    let p = lab.pipeline(
        "master",
        &Opts::default()
            .var(&format!(
                "DOCKGUARD_DOCKER=sh -c 'cat >> {}'",
                stolen.display()
            ))
            .var(&format!("DOCKGUARD_REGISTRY_IMAGE={elsewhere}/x"))
            .var("DOCKGUARD_BUILD_ARGS=--output=type=local,dest=/tmp/x")
            .var("DOCKGUARD_ARGS=--upstream-url file:///nonexistent"),
    );
    p.assert_ok();
    assert_eq!(
        p.started()
            .into_iter()
            .filter(|j| j.starts_with("build-"))
            .collect::<Vec<_>>(),
        ["build-base", "build-child"]
    );
    let child = p.reference("child");
    assert!(
        child.starts_with(&format!("{}/qemu/sub/child:c1-", lab.host())),
        "{child}"
    );
    assert!(lab.exists(&child));
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    assert!(!stolen.exists());
    assert!(!p.log.contains(&elsewhere), "{}", p.log);
    eprintln!("component, content mode: {:.1} s", p.seconds);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn invalid_inputs_are_pipeline_errors_that_name_the_input() {
    for (inputs, says) in [
        (
            "      mode: fast\n",
            "`mode` input: `fast` cannot be used because it is not in the list of allowed options",
        ),
        (
            "      strict: \"yes\"\n",
            "`strict` input: provided value is not a boolean",
        ),
        (
            "      docker: \"sh -c id\"\n",
            "`docker` input: `sh -c id` cannot be used because it is not in the list of allowed options",
        ),
    ] {
        let ci = if inputs.contains("mode:") {
            gitlab_ci_with("content", inputs)
        } else {
            gitlab_ci("content", inputs)
        };
        let lab = Lab::new(&[
            (".gitlab-ci.yml", &ci),
            (
                "templates/dockguard/template.yml",
                &shipped("templates/dockguard/template.yml"),
            ),
            ("tests/docker/dockerfiles/base.docker", QEMU_BASE),
        ]);
        let p = lab.pipeline("master", &Opts::default());
        assert!(!p.ok, "{inputs}: {}", p.log);
        assert!(p.log.contains("This GitLab CI configuration is invalid"), "{}", p.log);
        assert!(p.log.contains(says), "{inputs}: {}", p.log);
        assert!(p.started().is_empty(), "no job ran: {:?}", p.started());
    }
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_pushed_input_reaches_the_component_and_rebuilds() {
    // Global mode (the decision reads the request), strict: a push that needs a rebuild
    // must carry the request.
    let lab = lab("global", "      strict: true\n");
    let first = lab.pipeline("master", &Opts::default());
    first.assert_ok();
    assert_eq!(
        markers(&first),
        ["base-master", "child-master"],
        "{}",
        first.log
    );
    // The developer's clone: dockguard's hook, the input form of the request.
    let dev = lab.repo.path();
    let install = lab.repo.dockguard(&["install"]);
    assert_eq!(install.code, 0, "{}{}", install.stdout, install.stderr);
    lab.repo.git(&[
        "config",
        "dockguard.push-option",
        "ci.input=dockguard_rebuild=true",
    ]);
    let m = lab.repo.head();
    lab.repo.switch_new("feature", m);
    lab.commit(
        "child: feature marker",
        &[("tests/docker/dockerfiles/child.d/marker", "child-feature\n")],
    );
    lab.repo.filler(2, "feature");
    // Without the option the hook stops the push; with it, the server gets it.
    let push = |args: &[&str]| crate::server::push(dev, args);
    let blocked = push(&["upstream", "feature"]).failed();
    assert!(
        blocked.stderr.contains("ci.input=dockguard_rebuild=true"),
        "{}",
        blocked.stderr
    );
    push(&[
        "-o",
        "ci.input=dockguard_rebuild=true",
        "upstream",
        "feature",
    ])
    .ok();
    let received = lab.server.pushes();
    let last = received.last().expect("a push");
    assert_eq!(last.options, ["ci.input=dockguard_rebuild=true"]);

    // GitLab's part: the push's inputs become the pipeline's inputs.
    let inputs: Vec<(String, String)> = last
        .options
        .iter()
        .filter_map(|o| o.strip_prefix("ci.input="))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let checkout = lab.checkout("feature");
    let file = with_inputs(&checkout, &inputs);
    let p = lab.run(
        &checkout,
        &Opts {
            file: Some(file),
            ..Opts::default()
        },
    );
    p.assert_ok();
    assert!(
        p.log.contains(
            "REBUILD: images need a rebuild, and the pipeline requested it (the input dockguard_rebuild is \"true\")"
        ),
        "{}",
        p.log
    );
    assert_eq!(
        p.dotenv("dockguard", "dockguard.env")
            .lines()
            .find(|l| l.starts_with("DOCKGUARD_REQUESTED=")),
        Some("DOCKGUARD_REQUESTED=true")
    );
    assert_eq!(markers(&p), ["base-master", "child-feature"], "{}", p.log);

    // The same push without the input (it skipped the hook): --strict fails the pipeline.
    let checkout = lab.checkout("feature");
    let file = with_inputs(&checkout, &[]);
    let p = lab.run(
        &checkout,
        &Opts {
            file: Some(file),
            ..Opts::default()
        },
    );
    assert!(!p.ok);
    assert!(p.log.contains("FAILED (--strict)"), "{}", p.log);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_binary_the_branch_committed_never_runs_in_the_component() {
    let lab = lab(
        "global",
        "      git_url: https://dockguard.invalid/dockguard.git\n      git_tag: v1\n",
    );
    let planted = crate::pipelines::plant_binaries(&lab, "planted");
    let p = lab.pipeline(
        "planted",
        &Opts {
            dockguard_on_path: Some(false),
            ..Opts::default()
        }
        .jobs(&["dockguard"]),
    );
    crate::pipelines::assert_built_here(&p, &planted);
    p.assert_ok();
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_registry_that_cannot_be_asked_fails_the_plan_unless_the_input_says_build() {
    let down = format!("127.0.0.1:{}/x", crate::realdocker::free_port());
    let plan_only = || Opts::default().jobs(&["dockguard-plan"]);
    let failing = lab("content", &format!("      registry_image: {down}\n"));
    let p = failing.pipeline("master", &plan_only());
    assert!(!p.ok, "{}", p.log);
    assert!(
        p.log.contains(&format!(
            "dockguard: error: cannot ask the registry {down} about 2 of 2 image(s)"
        )),
        "{}",
        p.log
    );
    let building = lab(
        "content",
        &format!("      registry_image: {down}\n      registry_unreachable: build\n"),
    );
    let p = building.pipeline("master", &plan_only());
    p.assert_ok();
    let actions: Vec<String> = p.actions().into_iter().map(|(_, a)| a).collect();
    assert_eq!(actions, ["build", "build"], "{}", p.log);
}
