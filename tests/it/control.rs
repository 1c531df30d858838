//! The user stays in control, and is told why: `match.exclude` wins for image inputs and
//! for images.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check};
use crate::fixture::TestRepo;
use crate::trees::Edit;

/// QEMU's shape: a dockerfile that copies the whole checkout (`ADD . /`, line 3), built
/// by CI from the repository root, and C code.
fn qemu_like<'a>(config: &'a str) -> Vec<Edit<'a>> {
    vec![
        Edit::File(
            "tests/docker/dockerfiles/debian-bootstrap.docker",
            "FROM scratch\n# the whole checkout\nADD . /\n",
        ),
        Edit::File("tests/docker/dockerfiles/debian.docker", "FROM debian:12\n"),
        Edit::File(
            ".gitlab-ci.yml",
            "bootstrap:\n  script:\n    - docker build -f tests/docker/dockerfiles/debian-bootstrap.docker .\n",
        ),
        Edit::File("hw/core/cpu-common.c", "int cpu;\n"),
        Edit::File(".dockguard.toml", config),
    ]
}

const C_CHANGE: &[Edit<'static>] = &[Edit::File("hw/core/cpu-common.c", "int cpu = 1;\n")];

fn images(r: &TestRepo, rev: &str) -> Vec<String> {
    let run = r.dockguard(&["images", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect()
}

fn paths(v: &Value) -> Vec<String> {
    v["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["path"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn exclude_wins_over_every_image_that_copies_a_path() {
    // Without an exclude, the C change is an input of `ADD . /`.
    let (r, _, _) = branch_pair(&qemu_like(""), C_CHANGE);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["debian-bootstrap"]);

    // README's fix: exclude it. The image still copies it, and it no longer counts.
    let (r, _, _) = branch_pair(&qemu_like("[match]\nexclude = [\"hw/**\"]\n"), C_CHANGE);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], false, "exclude always wins: {v:#}");
    assert!(paths(&v).is_empty(), "{v:#}");
    assert_eq!(v["targets"][0]["other_changes"], 1);
    // A deleted or renamed excluded file is nothing either, on either side.
    let (r, _, _) = branch_pair(
        &qemu_like("match.exclude = [\"hw/**\"]\n"),
        &[
            Edit::Remove("hw/core/cpu-common.c"),
            Edit::File("hw/new.c", "x\n"),
        ],
    );
    assert_eq!(check(&r, "feature")["rebuild"], false);
    // What the exclude does not cover still counts.
    let (r, _, _) = branch_pair(
        &qemu_like("match.exclude = [\"hw/**\"]\n"),
        &[Edit::File("docs/index.md", "x\n")],
    );
    let v = check(&r, "feature");
    assert_eq!(paths(&v), vec!["docs/index.md"], "{v:#}");
}

#[test]
fn an_excluded_dockerfile_is_no_image_found_or_declared() {
    let config =
        "match.exclude = [\"tests/docker/dockerfiles/debian-bootstrap.docker\", \"ci/**\"]\n";
    let mut base = qemu_like(config);
    // A dockerfile only a declaration names (`-f ci/build.df`), excluded too.
    base.push(Edit::File("ci/build.df", "FROM scratch\nCOPY . /\n"));
    base.push(Edit::File(
        ".gitlab-ci.d/more.yml",
        "other:\n  script:\n    - docker build -f ci/build.df .\n",
    ));
    let (r, _, _) = branch_pair(&base, C_CHANGE);
    assert_eq!(images(&r, "feature"), vec!["debian"]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], false, "{v:#}");
    // Editing the excluded dockerfile is nothing to dockguard either.
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File(
            "tests/docker/dockerfiles/debian-bootstrap.docker",
            "FROM scratch\nADD hw /\n",
        )],
    );
    assert_eq!(check(&r, "feature")["rebuild"], false);
}
