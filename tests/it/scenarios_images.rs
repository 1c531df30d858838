//! Issue 25, "images the jobs use", run as a team runs it: the content-mode template
//! under gitlab-ci-local with a real dockerd and registry (harness: [`crate::pipelines`],
//! lab: [`crate::scenarios::qemu_lab`]). Every test job verifies the images it is handed
//! (`dockguard verify` in `.dockguard-uses-images`) and prints the markers from inside
//! them.

use crate::pipelines::Pipeline;
use crate::scenarios::qemu_lab;

/// The markers the test job printed from inside the child image.
fn markers(p: &Pipeline) -> Vec<String> {
    p.job_lines("test-child")
        .into_iter()
        .filter(|l| l.starts_with("base-") || l.starts_with("child-"))
        .collect()
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn every_test_job_verifies_its_images_and_refuses_a_replaced_one() {
    let lab = qemu_lab();
    let p = lab.pipeline("master", &crate::pipelines::Opts::default());
    p.assert_ok();
    let child = p.reference("child");
    let base = p.reference("base");
    let lines = p.job_lines("test-child");
    for r in [&base, &child] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("dockguard: verified {r} (image `"))),
            "{}",
            p.log
        );
    }
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);

    // Someone pushes another image under the child's content tag (not built by the build
    // job: no label). The plan sees the tag and skips; the test job refuses to run on it.
    let ctx = lab.repo.scratch("replacement");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {}/base/busybox:1\nRUN echo base-evil > /marker\n",
            lab.host()
        ),
    )
    .expect("dockerfile");
    lab.d
        .docker_ok(Some(&ctx), &["build", "-q", "-t", &child, "."]);
    lab.d.docker_ok(None, &["push", "-q", &child]);
    let p = lab.pipeline("master", &crate::pipelines::Opts::default());
    assert!(
        !p.ok,
        "the test job must refuse the replaced image:\n{}",
        p.log
    );
    assert!(
        p.log.contains(&format!(
            "dockguard: error: {child}: the image has no dockguard.content-tag label"
        )),
        "{}",
        p.log
    );
    assert!(
        !p.log.contains("base-evil"),
        "the job never ran on it:\n{}",
        p.log
    );
}
