//! Issue 12's scenarios, end to end: the content-tag template
//! (`ci/gitlab/dockguard-content.yml`) under gitlab-ci-local with a real dockerd and real
//! registries (harness: [`crate::pipelines`]). The project is QEMU-shaped: `base` and a
//! `child` built `FROM <registry>/qemu/base:latest`, and a test job that runs inside the
//! child image the plan names (`$DOCKGUARD_IMAGE_CHILD`) and prints the markers the
//! branch's dockerfiles put there. Each marker is written by a `RUN`/`COPY` of the
//! branch's own files, so "runs on its own content" is checked inside the image, not in a
//! variable.

use crate::pipelines::{shipped, Lab, Opts, Pipeline, QEMU_CHILD, QEMU_TOML};

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

fn base(marker: &str) -> String {
    format!("FROM @REG@/base/busybox:1\nRUN echo base-{marker} > /base-marker\n")
}

/// master: the template, base (marker `master`), child (marker `master`).
pub fn qemu_lab() -> Lab {
    qemu_lab_with(QEMU_TOML, QEMU_CHILD)
}

/// [`qemu_lab`] with another `.dockguard.toml` and child dockerfile.
pub fn qemu_lab_with(toml: &str, child: &str) -> Lab {
    let template = shipped("ci/gitlab/dockguard-content.yml");
    let base = base("master");
    Lab::new(&[
        (".gitlab-ci.yml", GITLAB_CI),
        ("ci/gitlab/dockguard-content.yml", &template),
        (".dockguard.toml", toml),
        ("tests/docker/dockerfiles/base.docker", &base),
        ("tests/docker/dockerfiles/child.docker", child),
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
    let p = lab.pipeline("master", &Opts::default());
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
            .any(|l| l.starts_with(&format!(
                "dockguard: FROM {}/qemu/base:latest is {base} ({}/qemu/base@sha256:",
                lab.host(),
                lab.host()
            ))),
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

/// Builds master's images (scenario 1) and returns the child's reference.
fn master_built(lab: &Lab) -> String {
    let p = lab.pipeline("master", &Opts::default());
    p.assert_ok();
    assert_eq!(built(&p), ["build-base", "build-child"], "{}", p.log);
    p.reference("child")
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_2_a_branch_with_identical_image_content_builds_nothing() {
    let lab = qemu_lab();
    let master_child = master_built(&lab);
    let m = lab.repo.head();
    lab.repo.switch_new("quiet", m);
    lab.commit(
        "code only",
        &[("src/main.c", "int main(void) { return 1; }\n")],
    );
    lab.push();
    let p = lab.pipeline("quiet", &Opts::default());
    p.assert_ok();
    assert_eq!(p.actions(), [a("base", "skip"), a("child", "skip")]);
    assert!(built(&p).is_empty(), "nothing built: {:?}", p.started());
    assert!(p.started().iter().any(|j| j == "dockguard-nothing-to-do"));
    assert_eq!(p.reference("child"), master_child, "the same image");
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    eprintln!("scenario 2 (second pipeline): {:.1} s", p.seconds);
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_3_five_plus_three_runs_on_the_image_built_for_the_first_five() {
    let lab = qemu_lab();
    let master_child = master_built(&lab);
    let m = lab.repo.head();
    lab.repo.switch_new("feature", m);
    lab.repo.filler(2, "first");
    lab.commit(
        "child: the feature's marker",
        &[("tests/docker/dockerfiles/child.d/marker", "child-feature\n")],
    );
    lab.repo.filler(2, "more");
    lab.push();
    let five = lab.pipeline("feature", &Opts::default());
    five.assert_ok();
    assert_eq!(five.actions(), [a("base", "skip"), a("child", "build")]);
    assert_eq!(built(&five), ["build-child"]);
    let feature_child = five.reference("child");
    assert_ne!(feature_child, master_child);
    assert_eq!(
        markers(&five),
        ["base-master", "child-feature"],
        "{}",
        five.log
    );

    // +3: no image file changes, so nothing is built, and the jobs run on the image
    // the first five built (not master's: the marker says so from inside it).
    lab.repo.filler(3, "later");
    lab.push();
    let eight = lab.pipeline("feature", &Opts::default());
    eight.assert_ok();
    assert_eq!(eight.actions(), [a("base", "skip"), a("child", "skip")]);
    assert!(built(&eight).is_empty(), "{:?}", eight.started());
    assert_eq!(eight.reference("child"), feature_child);
    assert_eq!(
        markers(&eight),
        ["base-master", "child-feature"],
        "{}",
        eight.log
    );
    eprintln!(
        "scenario 3: the 5 in {:.1} s (one build), the +3 in {:.1} s (none)",
        five.seconds, eight.seconds
    );
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_4_interleaved_branches_each_run_on_their_own_content() {
    let lab = qemu_lab();
    master_built(&lab);
    let m = lab.repo.head();
    for name in ["a", "b"] {
        lab.repo.switch_new(name, m);
        lab.commit(
            &format!("child: branch {name}"),
            &[(
                "tests/docker/dockerfiles/child.d/marker",
                &format!("child-{name}\n"),
            )],
        );
    }
    lab.push();
    let (ca, cb) = (lab.checkout("a"), lab.checkout("b"));
    let plan = Opts::default().jobs(&["dockguard-plan"]);
    // The rest of a pipeline whose plan ran earlier: its child pipeline, as planned then
    // (gitlab-ci-local cannot run a trigger job alone), then the test job.
    let child = Opts {
        file: Some(".gitlab-ci-local/artifacts/dockguard-plan/dockguard-images.yml".into()),
        ..Opts::default()
    };
    let test = Opts::default().jobs(&["test-child"]);
    let rest = |c: &std::path::Path| {
        let built = lab.run(c, &child);
        built.assert_ok();
        let tested = lab.run(c, &test);
        tested.assert_ok();
        (built, tested)
    };
    // A plans, B plans, B builds (and tests), A builds (and tests).
    let a_plan = lab.run(&ca, &plan);
    a_plan.assert_ok();
    let b_plan = lab.run(&cb, &plan);
    b_plan.assert_ok();
    assert_eq!(a_plan.actions(), [a("base", "skip"), a("child", "build")]);
    assert_eq!(b_plan.actions(), [a("base", "skip"), a("child", "build")]);
    assert_ne!(a_plan.reference("child"), b_plan.reference("child"));
    let (b_built, b_test) = rest(&cb);
    let (a_built, a_test) = rest(&ca);
    assert_eq!(built(&b_built), ["build-child"]);
    assert_eq!(built(&a_built), ["build-child"]);
    assert_eq!(
        markers(&b_test),
        ["base-master", "child-b"],
        "{}",
        b_test.log
    );
    assert_eq!(
        markers(&a_test),
        ["base-master", "child-a"],
        "{}",
        a_test.log
    );
    // And each image keeps its content after the other branch built.
    assert_eq!(
        lab.run_in(&a_plan.reference("child"), "cat /marker"),
        "base-master\nchild-a"
    );
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_5_a_fork_copies_what_upstreams_registry_has() {
    let lab = qemu_lab();
    // Upstream's master pipeline fills upstream's registry (the lab's).
    let upstream_child = master_built(&lab);
    // The fork: same commits, its own (empty) registry, upstream's as the copy source.
    let fork = crate::realdocker::Registry::start();
    let opts = Opts::default().registry(&fork.host()).var(&format!(
        "DOCKGUARD_UPSTREAM_REGISTRY_IMAGE={}/qemu",
        lab.host()
    ));
    let p = lab.pipeline("master", &opts);
    p.assert_ok();
    assert_eq!(p.actions(), [a("base", "copy"), a("child", "copy")]);
    assert_eq!(built(&p), ["copy-base", "copy-child"], "copied, not built");
    let child = p.reference("child");
    assert!(
        child.starts_with(&format!("{}/qemu/child:", fork.host())),
        "{child}"
    );
    assert_eq!(
        child.rsplit(':').next(),
        upstream_child.rsplit(':').next(),
        "the same content tag"
    );
    assert!(
        p.job_lines("copy-child")
            .iter()
            .any(|l| l.starts_with("dockguard: copied ")),
        "{}",
        p.log
    );
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    assert!(lab.exists(&child));
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_6_a_registry_that_cannot_tell_means_build_never_skip() {
    use crate::testservers::ScriptedServer;
    let lab = qemu_lab();
    master_built(&lab);
    let plan_only = |opts: Opts| {
        let p = lab.pipeline("master", &opts.jobs(&["dockguard-plan"]));
        p.assert_ok();
        let states: Vec<(String, String)> = p.plan()["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(|i| {
                (
                    i["action"].as_str().unwrap_or_default().to_owned(),
                    i["registry"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        (p, states)
    };
    let unknown = vec![a("build", "unknown"), a("build", "unknown")];
    // A registry that cannot be asked fails the plan job, once, with its words (issue 25:
    // no longer a green plan and a failure at every build job's push)...
    let plan_fails = |opts: Opts, words: &str| {
        let p = lab.pipeline("master", &opts.jobs(&["dockguard-plan"]));
        assert!(!p.ok, "the plan job must fail:\n{}", p.log);
        assert!(
            p.log.contains("dockguard: error: cannot ask the registry") && p.log.contains(words),
            "{}",
            p.log
        );
        p
    };

    // Down: nothing listens there.
    let down = format!("127.0.0.1:{}", crate::realdocker::free_port());
    plan_fails(Opts::default().registry(&down), &format!("registry {down}"));
    // ...unless the project chose to build instead.
    let (p, states) = plan_only(
        Opts::default()
            .registry(&down)
            .var("DOCKGUARD_ARGS=--registry-unreachable build"),
    );
    assert_eq!(states, unknown, "{}", p.log);
    assert!(p.log.contains(&format!("registry {down}")), "{}", p.log);

    // Wrong credentials: a registry with Basic auth that holds both tags.
    let locked = crate::realdocker::Registry::basic("ci", "right-password");
    let tags = master_tags(&lab);
    for (name, tag) in &tags {
        let auth = format!("Basic {}", b64("ci:right-password"));
        crate::testservers::put_image(
            &format!("http://{}", locked.host()),
            Some(&auth),
            &format!("qemu/{name}"),
            tag,
            name.as_bytes(),
        );
    }
    let p = plan_fails(
        Opts::default()
            .registry(&locked.host())
            .project("CI_REGISTRY_USER", "ci")
            .project("CI_REGISTRY_PASSWORD", "wrong-password"),
        "refused the credentials",
    );
    assert!(!p.log.contains("wrong-password"), "no secret in the log");
    // (With the right ones both are present: the tags are really there.)
    let (_, states) = plan_only(
        Opts::default()
            .registry(&locked.host())
            .project("CI_REGISTRY_USER", "ci")
            .project("CI_REGISTRY_PASSWORD", "right-password"),
    );
    assert_eq!(states, [a("skip", "present"), a("skip", "present")]);

    // The tag exists, but its manifest cannot be read: a registry (or a cache in front of
    // it) that says 200 with a manifest type and sends something else.
    let broken = ScriptedServer::start(|head| {
        Some(if head.starts_with("GET /v2/ ") {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nDocker-Content-Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!".to_vec()
        })
    });
    let (p, states) = plan_only(Opts::default().registry(&format!("127.0.0.1:{}", broken.port)));
    assert_eq!(states, unknown, "{}", p.log);
    assert!(p.log.contains("manifest is unreadable"), "{}", p.log);

    // A real registry whose stored manifests are corrupt answers 500: the plan builds.
    // The new build usually has a new digest (layer times differ) and replaces them; if
    // the daemon reused its layers, the digest is the same, the registry keeps the corrupt
    // blob, and the job that pulls it fails saying which image. Never a skip.
    corrupt_manifests(&lab.reg);
    let p = lab.pipeline("master", &Opts::default());
    assert_eq!(p.actions(), [a("base", "build"), a("child", "build")]);
    if p.ok {
        assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
    } else {
        assert!(
            p.log.contains("dockguard: cannot pull the parent image"),
            "{}",
            p.log
        );
    }
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `(name, content tag)` of master's images.
fn master_tags(lab: &Lab) -> Vec<(String, String)> {
    ["base", "child"]
        .iter()
        .map(|n| {
            let run = lab.repo.dockguard(&["tag", "--image", n, "master"]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            ((*n).to_owned(), run.stdout.trim().to_owned())
        })
        .collect()
}

/// Overwrites every stored manifest revision's blob of `reg` with garbage.
fn corrupt_manifests(reg: &crate::realdocker::Registry) {
    let repos = reg
        .dir
        .path()
        .join("storage/docker/registry/v2/repositories/qemu");
    let blobs = reg
        .dir
        .path()
        .join("storage/docker/registry/v2/blobs/sha256");
    for image in ["base", "child"] {
        let revs = repos.join(image).join("_manifests/revisions/sha256");
        for rev in std::fs::read_dir(&revs).expect("revisions").flatten() {
            let hex = rev.file_name().to_string_lossy().into_owned();
            let data = blobs.join(&hex[..2]).join(&hex).join("data");
            std::fs::write(&data, b"garbage").expect("corrupt");
        }
    }
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn scenario_7_a_rebuilt_parent_gives_its_child_a_new_tag_built_after_it() {
    let lab = qemu_lab();
    let master_child = master_built(&lab);
    let m = lab.repo.head();
    lab.repo.switch_new("newbase", m);
    lab.commit(
        "base: new marker",
        &[("tests/docker/dockerfiles/base.docker", &base("newbase"))],
    );
    lab.push();
    let p = lab.pipeline("newbase", &Opts::default());
    p.assert_ok();
    assert_eq!(p.actions(), [a("base", "build"), a("child", "build")]);
    let plan = p.plan();
    assert!(
        plan["images"][1]["why"]
            .as_str()
            .unwrap_or_default()
            .contains("base"),
        "the child is built because its parent is: {plan:#}"
    );
    assert_ne!(p.reference("child"), master_child, "a new tag");
    assert_eq!(built(&p), ["build-base", "build-child"], "parent first");
    assert_eq!(markers(&p), ["base-newbase", "child-master"], "{}", p.log);
}
