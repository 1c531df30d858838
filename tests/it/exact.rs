//! Exact mode: where the repository's CI says how every image is built, a dockerfile that
//! no build declares is not an image. A QEMU-like layout written for these tests (not
//! QEMU's files): `.gitlab-ci.yml` includes a project file that includes a template with
//! a hidden job running `docker build -f "docker/files/$NAME.docker" "."`, and jobs in
//! another directory extend it with `NAME`; `bootstrap.docker` (`ADD . /`) and
//! `toolchain.docker` are never built by a job.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check};
use crate::trees::Edit;

const ROOT: &str = "# the project's pipeline\ninclude:\n  - local: '/.gitlab-ci.d/project.yml'\n";
const PROJECT: &str = "variables:\n  TAG: latest\n  REG: registry.example/qemu\ninclude:\n  - local: '/.gitlab-ci.d/base.yml'\n  - local: .gitlab-ci.d/containers.yml\n";
const BASE: &str =
    ".base:\n  rules:\n    - if: '$CI_COMMIT_TAG'\n      when: never\n    - when: on_success\n";
const TEMPLATE: &str = ".container:\n  extends: .base\n  image: docker:latest\n  before_script:\n    - export IMAGE=\"$REG/$NAME:$TAG\"\n  script:\n    - docker build --tag \"$IMAGE\" --cache-from \"$IMAGE\"\n      -f \"docker/files/$NAME.docker\" \".\"\n    - docker push \"$IMAGE\"\n  after_script:\n    - docker logout\n";
const CONTAINERS: &str = "include:\n  - local: '/.gitlab-ci.d/template.yml'\n\ndebian-container:\n  extends: .container\n  variables:\n    NAME: debian\n\nalpine-container:\n  extends: .container\n  variables:\n    NAME: alpine\n\nweekly:\n  extends: .container\n  script:\n    - make verify\n";

pub(crate) fn layout<'a>(extra: &[Edit<'a>]) -> Vec<Edit<'a>> {
    let mut v = vec![
        Edit::File(".gitlab-ci.yml", ROOT),
        Edit::File(".gitlab-ci.d/project.yml", PROJECT),
        Edit::File(".gitlab-ci.d/base.yml", BASE),
        Edit::File(".gitlab-ci.d/template.yml", TEMPLATE),
        Edit::File(".gitlab-ci.d/containers.yml", CONTAINERS),
        Edit::File(
            "docker/files/debian.docker",
            "FROM debian:13\nRUN apt-get update\n",
        ),
        Edit::File("docker/files/alpine.docker", "FROM alpine:3\n"),
        Edit::File("docker/files/bootstrap.docker", "FROM scratch\nADD . /\n"),
        Edit::File(
            "docker/files/toolchain.docker",
            "FROM debian:13\nADD build-toolchain.sh /x\n",
        ),
        Edit::File("docker/files/toolchain.d/build-toolchain.sh", "true\n"),
        Edit::File("docker/files/plain.docker", "FROM debian:13\nRUN true\n"),
        Edit::File("hw/core/cpu.c", "int cpu;\n"),
    ];
    for e in extra {
        let path = |e: &Edit<'_>| match e {
            Edit::File(p, _) | Edit::Link(p, _) | Edit::Gitlink(p, _) | Edit::Remove(p) => {
                (*p).to_owned()
            }
        };
        v.retain(|o| path(o) != path(e));
        v.push(*e);
    }
    v
}

fn images(r: &crate::fixture::TestRepo, rev: &str) -> Value {
    let run = r.dockguard(&["images", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn a_c_only_change_is_no_rebuild_when_ci_builds_nothing_that_reads_it() {
    let (r, _, _) = branch_pair(
        &layout(&[]),
        &[Edit::File("hw/core/cpu.c", "int cpu; /* x */\n")],
    );
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], false, "{v:#}");
}

#[test]
fn a_ci_built_dockerfile_rebuilds_and_an_unbuilt_one_does_not() {
    let base = layout(&[]);
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File("docker/files/debian.docker", "FROM debian:14\n")],
    );
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["debian"]);
    for path in [
        "docker/files/bootstrap.docker",
        "docker/files/toolchain.docker",
        "docker/files/toolchain.d/build-toolchain.sh",
    ] {
        let (r, _, _) = branch_pair(&base, &[Edit::File(path, "FROM scratch\nADD . /y\n")]);
        let v = check(&r, "feature");
        assert_eq!(v["rebuild"], false, "{path}: {v:#}");
    }
    // A new dockerfile nobody builds is no image either.
    let (r, _, _) = branch_pair(&base, &[Edit::File("examples/Dockerfile", "FROM x\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn images_says_which_dockerfiles_ci_builds_and_from_which_job() {
    let (r, _, _) = branch_pair(&layout(&[]), &[Edit::File("hw/core/cpu.c", "x\n")]);
    let v = images(&r, "feature");
    assert_eq!(names(&v), vec!["alpine", "debian"], "{v:#}");
    let d = &v["declarations"];
    assert_eq!(d["exact"], true, "{d:#}");
    assert_eq!(d["undeclared"], "auto");
    assert_eq!(d["opaque"], serde_json::json!([]));
    assert_eq!(
        d["not_built"],
        serde_json::json!([
            "docker/files/bootstrap.docker",
            "docker/files/plain.docker",
            "docker/files/toolchain.docker"
        ])
    );
    let debian = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["name"] == "debian")
        .expect("debian");
    assert_eq!(debian["counted"], "declared");
    assert_eq!(debian["context"], ".");
    let by = &debian["built_by"];
    assert_eq!(by.as_array().map(Vec::len), Some(1), "{by:#}");
    assert_eq!(by[0]["file"], ".gitlab-ci.d/containers.yml", "{by:#}");
    assert_eq!(by[0]["line"], 4, "{by:#}");
    let what = by[0]["what"].as_str().expect("what");
    assert!(what.contains("job `debian-container`"), "{what}");
    assert!(what.contains(".gitlab-ci.d/template.yml:7"), "{what}");
    assert_eq!(by[0]["context"], ".");
    // The human form says it too.
    let run = r.dockguard(&["images", "feature"]);
    assert!(
        run.stdout
            .contains("built by    .gitlab-ci.d/containers.yml:4: job `debian-container`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not built   docker/files/bootstrap.docker"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_opaque_build_makes_every_dockerfile_count_and_images_names_it() {
    let extra = ".gitlab-ci.yml";
    let root = "include:\n  - local: '/.gitlab-ci.d/project.yml'\n  - remote: 'https://example.com/ci/build-more.yml'\n";
    let base = layout(&[Edit::File(extra, root)]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("hw/core/cpu.c", "x\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["bootstrap"]);
    let v = images(&r, "feature");
    assert_eq!(v["declarations"]["exact"], false);
    let opaque = &v["declarations"]["opaque"];
    assert_eq!(opaque[0]["file"], ".gitlab-ci.yml", "{opaque:#}");
    assert_eq!(opaque[0]["line"], 3, "{opaque:#}");
    assert!(
        opaque[0]["what"].to_string().contains("example.com"),
        "{opaque:#}"
    );
    assert_eq!(names(&v).len(), 5, "{v:#}");
    let boot = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["name"] == "bootstrap")
        .expect("bootstrap");
    assert_eq!(boot["counted"], "undeclared");
    let run = r.dockguard(&["images", "feature"]);
    assert!(
        run.stdout.contains(".gitlab-ci.yml:3: include remote"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_conservative_mode_can_be_forced_and_exact_mode_kept_despite_opaque_lines() {
    let count = "[images]\nundeclared = \"count\"\n";
    let base = layout(&[Edit::File(".dockguard.toml", count)]);
    // Every dockerfile counts, with its guessed context (its directory).
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File(
            "docker/files/bootstrap.docker",
            "FROM scratch\nADD . /x\n",
        )],
    );
    assert_eq!(affected(&check(&r, "feature")), vec!["bootstrap"]);
    assert_eq!(images(&r, "feature")["declarations"]["exact"], false);
    let ignore = "[images]\nundeclared = \"ignore\"\n";
    let root = "include:\n  - local: '/.gitlab-ci.d/project.yml'\n  - remote: 'https://example.com/x.yml'\n";
    let base = layout(&[
        Edit::File(".dockguard.toml", ignore),
        Edit::File(".gitlab-ci.yml", root),
    ]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("hw/core/cpu.c", "x\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn a_parent_of_a_built_image_and_a_rule_named_dockerfile_count() {
    let debian = "FROM qemu/base\nRUN true\n";
    let base = layout(&[
        Edit::File("docker/files/debian.docker", debian),
        Edit::File("docker/files/base.docker", "FROM debian:13\n"),
        Edit::File(
            ".dockguard.toml",
            "[images]\nparent = [\"qemu/{name}\"]\n\n[[images.rule]]\ndockerfile = 'docker/files/(?P<name>bootstrap)\\.docker'\ncontext = \"docker/files\"\n",
        ),
    ]);
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File("docker/files/base.docker", "FROM debian:14\n")],
    );
    let v = check(&r, "feature");
    // bootstrap counts by its rule, with its context `docker/files`: it reads base.docker.
    assert_eq!(affected(&v), vec!["base", "bootstrap", "debian"], "{v:#}");
    let v = images(&r, "feature");
    assert_eq!(names(&v), vec!["alpine", "base", "bootstrap", "debian"]);
    let counted: Vec<(String, String)> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| (i["name"].to_string(), i["counted"].to_string()))
        .collect();
    assert!(
        counted.contains(&(r#""base""#.into(), r#""parent""#.into())),
        "{counted:?}"
    );
    assert!(
        counted.contains(&(r#""bootstrap""#.into(), r#""rule""#.into())),
        "{counted:?}"
    );
}

#[test]
fn a_script_the_job_runs_is_read_with_the_jobs_variables() {
    let ci = "variables:\n  WHICH: alpine\nbuild:\n  script:\n    - ./ci/build.sh \"$WHICH\"\n    - bash ci/more.sh\n";
    let script = "#!/bin/sh\nset -e\nDF=\"docker/files/$1.docker\"\ndocker build -f \"$DF\" .\n";
    let more =
        ". ci/env.sh\ndocker buildx build --target final -f \"docker/files/$OTHER.docker\" .\n";
    let base = layout(&[
        Edit::File(".gitlab-ci.yml", ci),
        Edit::File("ci/build.sh", script),
        Edit::File("ci/more.sh", more),
        Edit::File("ci/env.sh", "export OTHER=debian\n"),
    ]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("hw/core/cpu.c", "x\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
    let v = images(&r, "feature");
    assert_eq!(names(&v), vec!["alpine", "debian"], "{v:#}");
    let img = |n: &str| {
        v["images"]
            .as_array()
            .expect("images")
            .iter()
            .find(|i| i["name"] == n)
            .expect("image")
            .clone()
    };
    let alpine = img("alpine");
    assert!(
        alpine["built_by"][0]["what"]
            .to_string()
            .contains("ci/build.sh:4"),
        "{alpine:#}"
    );
    let debian = img("debian");
    assert_eq!(debian["built_by"][0]["target"], "final", "{debian:#}");
    assert_eq!(debian["built_by"][0]["builder"], "buildkit", "{debian:#}");
    // A script that is not in the tree is not this repository's (a build product, or a
    // program of the runner's image): it builds nothing of ours.
    let ci = "build:\n  script:\n    - ./build/run-tests\n    - docker build -f docker/files/alpine.docker .\n";
    let base = layout(&[Edit::File(".gitlab-ci.yml", ci)]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("hw/core/cpu.c", "x\n")]);
    assert_eq!(images(&r, "feature")["declarations"]["exact"], true);
}

#[test]
fn a_ci_change_that_starts_building_a_dockerfile_rebuilds_it() {
    let base = layout(&[]);
    let more = format!(
        "{CONTAINERS}\nbootstrap-container:\n  extends: .container\n  variables:\n    NAME: plain\n"
    );
    let (r, _, _) = branch_pair(&base, &[Edit::File(".gitlab-ci.d/containers.yml", &more)]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["plain"], "{v:#}");
    let reasons = v["targets"][0]["images"][0]["reasons"].to_string();
    assert!(
        reasons.contains("its build changed: .gitlab-ci.d/containers.yml"),
        "{reasons}"
    );
}

#[test]
fn a_custom_ci_path_and_a_glob_include_are_read_and_remembered() {
    let pipeline = "include:\n  - local: 'jobs/*.yml'\n";
    let job = |name: &str| {
        format!("build-{name}:\n  script:\n    - docker build -f docker/files/{name}.docker .\n")
    };
    let a = job("alpine");
    let base = vec![
        Edit::File(
            ".dockguard.toml",
            "[images]\ngitlab_ci = \"ci/pipeline.yml\"\n",
        ),
        Edit::File("ci/pipeline.yml", pipeline),
        Edit::File("jobs/a.yml", &a),
        Edit::File("docker/files/alpine.docker", "FROM alpine:3\n"),
        Edit::File("docker/files/plain.docker", "FROM debian:13\n"),
    ];
    let p = job("plain");
    let (r, _, _) = branch_pair(&base, &[Edit::File("jobs/b.yml", &p)]);
    let before = images(&r, "master");
    assert_eq!(names(&before), vec!["alpine"], "{before:#}");
    // A file the glob now matches: the remembered resolution is not reused.
    let after = images(&r, "feature");
    assert_eq!(names(&after), vec!["alpine", "plain"], "{after:#}");
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["plain"], "{v:#}");
    // Again, from the on-disk memo: the same answers.
    assert_eq!(images(&r, "master")["images"], before["images"]);
    assert_eq!(check(&r, "feature"), v);
    // Without the setting there is no pipeline: every dockerfile counts.
    let (r, _, _) = branch_pair(&base[1..], &[Edit::File("jobs/b.yml", &p)]);
    assert_eq!(images(&r, "feature")["declarations"]["exact"], false);
}

/// A QEMU-like scan job: its script builds its own image only under `--docker`, which
/// the job does not pass, and then runs `../configure` from a build directory.
#[test]
fn a_script_is_read_as_the_shell_runs_it() {
    let job = format!("{CONTAINERS}\nscan:\n  script:\n    - scripts/scan/run-scan --check-only\n");
    let scan = "#!/bin/sh\nDOCKER=no\nbuild_image() {\n  docker build -f scripts/scan/scan.docker scripts/scan\n}\nwhile [ \"$#\" -ge 1 ]; do\n  case \"$1\" in\n    --docker) DOCKER=yes ;;\n    --srcdir) shift; SRCDIR=\"$1\" ;;\n    *) ;;\n  esac\n  shift\ndone\nif [ -z \"$SRCDIR\" ]; then\n  SRCDIR=\"$PWD\"\nfi\nif [ \"$DOCKER\" = yes ]; then\n  build_image\n  exit 0\nfi\ncd \"$SRCDIR\"\nmkdir -p +build && cd +build\n../configure --enable-all\n";
    let base = layout(&[
        Edit::File(".gitlab-ci.d/containers.yml", &job),
        Edit::File("scripts/scan/run-scan", scan),
        Edit::File("scripts/scan/scan.docker", "FROM fedora\nCOPY . /src\n"),
        Edit::File("configure", "#!/bin/sh\necho configuring\n"),
    ]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("hw/core/cpu.c", "x\n")]);
    let v = images(&r, "feature");
    assert_eq!(v["declarations"]["exact"], true, "{:#}", v["declarations"]);
    assert!(
        v["declarations"]["not_built"]
            .to_string()
            .contains("scripts/scan/scan.docker"),
        "{:#}",
        v["declarations"]
    );
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn a_changed_dockerfile_no_job_builds_is_said_and_the_hint_counts_it() {
    let (r, _, _) = branch_pair(
        &layout(&[]),
        &[Edit::File(
            "docker/files/bootstrap.docker",
            "FROM scratch\nADD . /x\n",
        )],
    );
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], false, "{v:#}");
    let warnings = v["targets"][0]["warnings"].to_string();
    let hint = "git config dockguard.images.undeclared count";
    assert!(
        warnings.contains("docker/files/bootstrap.docker changed, but no build")
            && warnings.contains(hint),
        "{v:#}"
    );
    // The human output says it too, and the hint works when pasted.
    let human = r.dockguard(&["check", "feature"]);
    assert!(
        human.stdout.contains(hint) || human.stderr.contains(hint),
        "{human:?}"
    );
    crate::server::sh(r.path(), hint).ok();
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["bootstrap"], "{v:#}");
}
