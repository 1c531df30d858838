//! `dockguard verify` (issue 25, "every job can prove what it runs") against a real
//! `docker-registry`, with images built and pushed by a real dockerd: the reference of
//! this checkout's image, labelled as dockguard's build job labels it, verifies; a stale
//! tag, a reference outside this project's repository, an unlabelled image, an image
//! labelled with other content and a tag the registry lacks each fail, saying why.

use crate::fixture::TestRepo;
use crate::plan::tag_of;
use crate::realdocker::{Dockerd, Registry};

/// A project with one image, `base`, built on the registry's busybox.
fn project(reg: &str) -> TestRepo {
    let r = TestRepo::new();
    r.commit(
        "images",
        &[
            (".dockguard.toml", "[images]\nparent = [\"qemu/{name}\"]\n"),
            (
                "docker/base/Dockerfile",
                &format!("FROM {reg}/base/busybox:1\nRUN echo base > /marker\n"),
            ),
        ],
    );
    r
}

/// Builds `docker/base` as `reference`, with `label` as its content-tag label (if any),
/// and pushes it.
fn build_push(d: &Dockerd, r: &TestRepo, reg: &str, reference: &str, label: Option<&str>) {
    let ctx = r.scratch("ctx");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {reg}/base/busybox:1\nRUN echo {reference} > /marker\n"),
    )
    .expect("dockerfile");
    let label_arg = label.map(|l| format!("dockguard.content-tag={l}"));
    let mut args = vec!["build", "-q", "-t", reference];
    if let Some(l) = &label_arg {
        args.extend(["--label", l.as_str()]);
    }
    args.push(".");
    d.docker_ok(Some(&ctx), &args);
    d.docker_ok(None, &["push", "-q", reference]);
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_job_verifies_the_images_it_runs_against_its_checkout() {
    let d = Dockerd::shared();
    let reg = Registry::start();
    let host = reg.host();
    d.push_busybox(&format!("{host}/base/busybox:1"));
    let r = project(&host);
    let tag = tag_of(&r, "base");
    let good = format!("{host}/proj/base:{tag}");
    build_push(&d, &r, &host, &good, Some(&tag));
    let verify = |args: &[&str]| {
        let mut all = vec!["verify", "--registry-image"];
        all.extend_from_slice(args);
        r.dockguard_env(&all, &[])
    };
    let own = format!("{host}/proj");

    let run = verify(&[&own, &good]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "dockguard: verified {good} (image `base`, sha256:"
        )),
        "{}",
        run.stdout
    );
    // CI_REGISTRY_IMAGE is the default repository.
    let run = r.dockguard_env(&["verify", &good], &[("CI_REGISTRY_IMAGE", &own)]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let stale = format!("{host}/proj/base:c1-{}", "0".repeat(40));
    let fails = |args: &[&str], words: &str| {
        let run = verify(args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(words), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("are not the images of this checkout"),
            "{}",
            run.stderr
        );
    };
    fails(
        &[&own, &stale],
        &format!("image `base` of this checkout has content tag {tag}, the reference says c1-"),
    );
    fails(
        &[&own, &format!("{host}/elsewhere/base:{tag}")],
        &format!("not in this project's image repository {own}"),
    );
    fails(
        &[&own, &format!("{host}/proj/other:{tag}")],
        "names no image of this checkout",
    );
    // Right tag, but not built by dockguard's build job (no label), or from other content.
    let bare = format!("{host}/bare/base:{tag}");
    build_push(&d, &r, &host, &bare, None);
    fails(
        &[&format!("{host}/bare"), &bare],
        "has no dockguard.content-tag label",
    );
    let other = format!("{host}/other/base:{tag}");
    build_push(&d, &r, &host, &other, Some("c1-something-else"));
    fails(
        &[&format!("{host}/other"), &other],
        "label is c1-something-else, not",
    );
    fails(
        &[&format!("{host}/none"), &format!("{host}/none/base:{tag}")],
        "the registry has no such image",
    );
    // Every reference is checked and reported, good and bad alike.
    let run = verify(&[&own, &good, &stale]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("verified"), "{}", run.stdout);
    assert!(
        run.stderr.contains("1 of 2 image reference(s)"),
        "{}",
        run.stderr
    );
}
