//! Issue 25, "images the jobs use", run as a team runs it: the content-mode template
//! under gitlab-ci-local with a real dockerd and registry (harness: [`crate::pipelines`],
//! lab: [`crate::scenarios::qemu_lab`]). Every test job verifies the images it is handed
//! (`dockguard verify` in `.dockguard-uses-images`) and prints the markers from inside
//! them; after a merge, `:latest` follows the default branch for every image, built or not.

use crate::pipelines::Pipeline;
use crate::scenarios::qemu_lab;

/// The markers the test job printed from inside the child image.
fn markers(p: &Pipeline) -> Vec<String> {
    p.job_lines("test-child")
        .into_iter()
        .filter(|l| l.starts_with("base-") || l.starts_with("child-"))
        .collect()
}

/// The manifest bytes the registry serves for `path:tag` (plain HTTP, not dockguard's
/// client), or `None` when it has none.
fn manifest(host: &str, path: &str, tag: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(format!("http://{host}/v2/{path}/manifests/{tag}"))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .call()
        .expect("GET manifest");
    (resp.status().as_u16() == 200).then(|| resp.body_mut().read_to_string().expect("body"))
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

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn latest_follows_the_default_branch_for_images_the_branch_built() {
    let lab = qemu_lab();
    let host = lab.host();
    let p = lab.pipeline("master", &crate::pipelines::Opts::default());
    p.assert_ok();
    let master = lab.repo.head();
    let old_child = p.reference("child");
    // A branch changes the child; its pipeline builds it.
    lab.repo.switch_new("feature", master);
    lab.commit(
        "child: the feature's marker",
        &[("tests/docker/dockerfiles/child.d/marker", "child-feature\n")],
    );
    lab.push();
    let f = lab.pipeline("feature", &crate::pipelines::Opts::default());
    f.assert_ok();
    let new_child = f.reference("child");
    assert_ne!(new_child, old_child);
    // Merged (fast-forward): master's pipeline finds both images present and builds
    // nothing, and `:latest` of every image is master's content now.
    let tip = lab.repo.head();
    lab.repo.branch("master", tip);
    lab.repo.checkout("master");
    lab.push();
    let m = lab.pipeline("master", &crate::pipelines::Opts::default());
    m.assert_ok();
    let actions: Vec<String> = m.actions().into_iter().map(|(_, a)| a).collect();
    assert_eq!(actions, ["skip", "skip"], "{}", m.log);
    assert_eq!(m.reference("child"), new_child);
    let tag_of = |r: &str| r.rsplit(':').next().expect("tag").to_owned();
    assert_eq!(
        manifest(&host, "qemu/child", "latest"),
        manifest(&host, "qemu/child", &tag_of(&new_child)),
        "child:latest is the merged content\n{}",
        m.log
    );
    assert_ne!(
        manifest(&host, "qemu/child", "latest"),
        manifest(&host, "qemu/child", &tag_of(&old_child))
    );
    assert_eq!(
        manifest(&host, "qemu/base", "latest"),
        manifest(&host, "qemu/base", &tag_of(&m.reference("base"))),
    );
    assert!(
        m.log.contains(&format!(
            "dockguard: {host}/qemu/child:latest is now {} (upstream's tip)",
            tag_of(&new_child)
        )),
        "{}",
        m.log
    );
    assert_eq!(markers(&m), ["base-master", "child-feature"], "{}", m.log);
    // The branch's pipeline (not upstream's tip) never moves `:latest`.
    assert!(!f.log.contains(":latest is now"), "{}", f.log);
}

/// What the build jobs of a lab's child say about the base they were built on.
fn built_on(p: &Pipeline) -> Vec<String> {
    p.job_lines("build-child")
        .into_iter()
        .filter(|l| l.contains(" is built on "))
        .collect()
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn two_pipelines_on_one_daemon_changing_the_base_at_once_each_build_on_their_own() {
    let lab = qemu_lab();
    let host = lab.host();
    lab.pipeline("master", &crate::pipelines::Opts::default())
        .assert_ok();
    let master = lab.repo.head();
    for side in ["a", "b"] {
        lab.repo.switch_new(side, master);
        lab.commit(
            &format!("base: marker {side}"),
            &[(
                "tests/docker/dockerfiles/base.docker",
                &format!("FROM @REG@/base/busybox:1\nRUN echo base-{side} > /base-marker\n"),
            )],
        );
    }
    lab.push();
    let runs: Vec<(std::path::PathBuf, crate::pipelines::Opts)> = ["a", "b"]
        .iter()
        .map(|b| (lab.checkout(b), crate::pipelines::Opts::default()))
        .collect();
    // What a third pipeline's job would do meanwhile on the shared daemon: tag its own
    // base under the name the child's FROM line writes, over and over.
    let ctx = lab.repo.scratch("other-base");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {host}/base/busybox:1\nRUN echo base-other > /base-marker\n"),
    )
    .expect("dockerfile");
    lab.d.docker_ok(
        Some(&ctx),
        &["build", "-q", "-t", "dockguard-test/other-base", "."],
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let saboteur = {
        let (d, stop) = (lab.d.clone(), stop.clone());
        let name = format!("{host}/qemu/base:latest");
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = d.docker(&["tag", "dockguard-test/other-base", &name]);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let done = lab.run_together(&runs);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    saboteur.join().expect("saboteur");
    for (p, side) in done.iter().zip(["a", "b"]) {
        p.assert_ok();
        let actions: Vec<String> = p.actions().into_iter().map(|(_, a)| a).collect();
        assert_eq!(actions, ["build", "build"], "{side}: {}", p.log);
        // The child is built on this pipeline's base, pinned by digest, and checked.
        let base = p.reference("base");
        let repo = base.rsplit_once(':').map(|(r, _)| r).expect("tag");
        assert!(
            built_on(p)
                .iter()
                .any(|l| l.contains(&format!("is built on {repo}@sha256:"))),
            "{side}: {}",
            p.log
        );
        assert_eq!(
            markers(p),
            [format!("base-{side}"), "child-master".to_owned()],
            "{side}: the test job runs on the child of its own base\n{}",
            p.log
        );
    }
    assert_ne!(done[0].reference("child"), done[1].reference("child"));
}

#[test]
#[ignore = "needs gitlab-ci-local, dockerd and docker-registry"]
fn a_child_written_from_ci_registry_image_is_built_on_this_pipelines_parent() {
    // QEMU's children say `FROM $CI_REGISTRY_IMAGE/qemu/<base>` (README, QEMU section).
    let toml = crate::pipelines::QEMU_TOML.replace(
        "parent = [\"@REG@/qemu/{name}\"]",
        "parent = [\"$CI_REGISTRY_IMAGE/qemu/{name}\"]",
    );
    let child = crate::pipelines::QEMU_CHILD.replace(
        "FROM @REG@/qemu/base:latest",
        "FROM $CI_REGISTRY_IMAGE/qemu/base",
    );
    let lab = crate::scenarios::qemu_lab_with(&toml, &child);
    let p = lab.pipeline("master", &crate::pipelines::Opts::default());
    p.assert_ok();
    let actions: Vec<String> = p.actions().into_iter().map(|(_, a)| a).collect();
    assert_eq!(actions, ["build", "build"], "{}", p.log);
    let base = p.reference("base");
    assert!(
        p.job_lines("build-child")
            .iter()
            .any(|l| l.starts_with(&format!(
                "dockguard: FROM $CI_REGISTRY_IMAGE/qemu/base is {base} ("
            ))),
        "{}",
        p.log
    );
    assert_eq!(built_on(&p).len(), 1, "{}", p.log);
    assert_eq!(markers(&p), ["base-master", "child-master"], "{}", p.log);
}
