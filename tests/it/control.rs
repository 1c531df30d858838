//! The user stays in control, and is told why: `match.exclude` wins for image inputs and
//! for images; with several merge-bases, messages name the one that differs.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check};
use crate::fixture::TestRepo;
use crate::trees::{commit_edits, Edit};

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

/// R; B1 (touches notes) then A1 (bumps the dockerfile, newer); master merges A1+B1,
/// feature merges B1+A1: git picks A1, whose dockerfile the tip has; B1's differs.
#[test]
fn with_several_merge_bases_messages_name_the_one_that_differs() {
    let r = TestRepo::new();
    let t0 = 1_700_000_000;
    let root = commit_edits(
        &r,
        None,
        &[],
        None,
        &[
            Edit::File("docker/Dockerfile", "FROM debian:12\n"),
            Edit::File("notes", "0\n"),
        ],
        t0,
    );
    let b1 = commit_edits(
        &r,
        None,
        &[root],
        Some(root),
        &[Edit::File("notes", "b\n")],
        t0 + 100,
    );
    let a1 = commit_edits(
        &r,
        None,
        &[root],
        Some(root),
        &[Edit::File("docker/Dockerfile", "FROM debian:13\n")],
        t0 + 200,
    );
    let merged = [
        Edit::File("docker/Dockerfile", "FROM debian:13\n"),
        Edit::File("notes", "b\n"),
    ];
    let m1 = commit_edits(&r, None, &[a1, b1], Some(root), &merged, t0 + 300);
    let m2 = commit_edits(&r, None, &[b1, a1], Some(root), &merged, t0 + 400);
    r.remote_ref("origin", "master", m1);
    r.branch("feature", m2);
    let short = |o: git2::Oid| o.to_string()[..10].to_owned();

    let v = check(&r, "feature");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let t = &v["targets"][0];
    assert_eq!(t["merge_base"], a1.to_string(), "git's choice: {t:#}");
    let reasons = t["reasons"].to_string();
    let want = format!(
        "1 dockerfile differs from the merge-base {} (not from {})",
        short(b1),
        short(a1)
    );
    assert!(reasons.contains(&want), "{want}\n{t:#}");
    assert_eq!(
        t["changes"][0]["merge_bases"],
        serde_json::json!([b1.to_string()])
    );
    let human = r.dockguard(&["check", "feature"]);
    let want = format!("differs from the merge-base {} only", short(b1));
    assert!(human.stdout.contains(&want), "{want}\n{}", human.stdout);
}
