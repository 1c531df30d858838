//! Issue 12's scenarios, end to end: the content-tag template
//! (`ci/gitlab/dockguard-content.yml`) under gitlab-ci-local with a real dockerd and real
//! registries (harness: [`crate::pipelines`]). The project is QEMU-shaped: `base` and a
//! `child` built `FROM <registry>/qemu/base:latest`, and a test job that runs inside the
//! child image the plan names (`$DOCKGUARD_IMAGE_CHILD`) and prints the markers the
//! branch's dockerfiles put there. Each marker is written by a `RUN`/`COPY` of the
//! branch's own files, so "runs on its own content" is checked inside the image, not in a
//! variable.

use crate::pipelines::{shipped, Lab, Pipeline};

/// The project's CI configuration: the template, and a job on the child image.
const GITLAB_CI: &str = r#"include:
  - local: ci/gitlab/dockguard-content.yml

variables:
  # This runner has its own docker (gitlab-ci-local skips a service with an empty name).
  DOCKGUARD_DIND_IMAGE: ""

stages: [test]

test-child:
  extends: .dockguard-uses-images
  stage: test
  image: $DOCKGUARD_IMAGE_CHILD
  script:
    - echo "runs on $DOCKGUARD_IMAGE_CHILD"
    - docker run --rm --network none "$DOCKGUARD_IMAGE_CHILD" cat /marker
"#;

const TOML: &str = r#"[images]
parent = ["@REG@/qemu/{name}"]

[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\.docker'
context = "."
inputs = ["tests/docker/dockerfiles/{name}.d/**"]
"#;

fn base(marker: &str) -> String {
    format!("FROM @REG@/base/busybox:1\nRUN echo base-{marker} > /base-marker\n")
}

const CHILD: &str = "FROM @REG@/qemu/base:latest\nCOPY tests/docker/dockerfiles/child.d/marker /child-marker\nRUN cat /base-marker /child-marker > /marker\n";

/// master: the template, base (marker `master`), child (marker `master`).
pub fn qemu_lab() -> Lab {
    let template = shipped("ci/gitlab/dockguard-content.yml");
    let base = base("master");
    Lab::new(&[
        (".gitlab-ci.yml", GITLAB_CI),
        ("ci/gitlab/dockguard-content.yml", &template),
        (".dockguard.toml", TOML),
        ("tests/docker/dockerfiles/base.docker", &base),
        ("tests/docker/dockerfiles/child.docker", CHILD),
        ("tests/docker/dockerfiles/child.d/marker", "child-master\n"),
        ("src/main.c", "int main(void) { return 0; }\n"),
    ])
}

fn a(name: &str, action: &str) -> (String, String) {
    (name.to_owned(), action.to_owned())
}

/// The markers the test job printed from inside the child image.
fn markers(p: &Pipeline) -> Vec<String> {
    p.job_lines("test-child")
        .into_iter()
        .filter(|l| l.starts_with("base-") || l.starts_with("child-"))
        .collect()
}

fn built(p: &Pipeline) -> Vec<String> {
    p.started()
        .into_iter()
        .filter(|j| j.starts_with("build-") || j.starts_with("copy-"))
        .collect()
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_1_first_master_pipeline_builds_base_then_child_under_content_tags() {
    let lab = qemu_lab();
    let p = lab.pipeline("master", &[], &[]);
    p.assert_ok();
    assert_eq!(p.actions(), [a("base", "build"), a("child", "build")]);
    assert_eq!(built(&p), ["build-base", "build-child"], "{}", p.log);
    // The child was built on this pipeline's base (the plan's content tag), in order.
    let base = p.reference("base");
    let child = p.reference("child");
    assert!(
        base.starts_with(&format!("{}/qemu/base:c1-", lab.host())),
        "{base}"
    );
    assert!(
        p.job_lines("build-child")
            .iter()
            .any(|l| l == &format!("dockguard: FROM {}/qemu/base:latest is {base}", lab.host())),
        "{}",
        p.log
    );
    assert!(lab.exists(&base) && lab.exists(&child));
    // The dotenv the test job got names the same references, and the job ran in it.
    let env = p.dotenv("dockguard-plan", "dockguard-plan.env");
    assert!(
        env.contains(&format!("DOCKGUARD_IMAGE_CHILD={child}\n")),
        "{env}"
    );
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    assert!(p.log.contains(&format!("runs on {child}")));
    // The default branch also moves `:latest` (build cache only).
    assert!(lab.exists(&format!("{}/qemu/base:latest", lab.host())));
    eprintln!("scenario 1: {:.1} s", p.seconds);
}
