//! The build context: an assumption that cannot be right is widened and said, symlinks are
//! followed as the builders follow them, submodules count when they move.

use git2::Oid;
use serde_json::Value;

use crate::fixture::TestRepo;
use crate::trees::{commit_edits, Edit};

const T0: i64 = 1_700_000_000;

/// `master` (tracked as origin/master) with `base`, and branch `feature` one commit on.
pub fn branch_pair(base: &[Edit<'_>], change: &[Edit<'_>]) -> (TestRepo, Oid, Oid) {
    let r = TestRepo::new();
    let b = commit_edits(&r, Some("refs/heads/master"), &[], None, base, T0);
    r.remote_ref("origin", "master", b);
    let t = commit_edits(
        &r,
        Some("refs/heads/feature"),
        &[b],
        Some(b),
        change,
        T0 + 60,
    );
    r.checkout("master");
    (r, b, t)
}

pub fn check(r: &TestRepo, rev: &str) -> Value {
    let run = r.dockguard(&["check", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

pub fn affected(v: &Value) -> Vec<String> {
    v["targets"][0]["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn tag(r: &TestRepo, image: &str, rev: &str) -> String {
    let run = r.dockguard(&["tag", "--image", image, rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_owned()
}

fn warnings(v: &Value) -> String {
    v["targets"][0]["warnings"].to_string()
}

#[test]
fn a_source_missing_from_the_assumed_context_widens_it_and_says_so() {
    // `docker build -f docker/Dockerfile .`: the COPY source is at the root.
    let base = [
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY src/main.c /src/\n",
        ),
        Edit::File("src/main.c", "int main(void) { return 0; }\n"),
    ];
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File("src/main.c", "int main(void) { return 1; }\n")],
    );
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["docker"]);
    let w = warnings(&v);
    assert!(w.contains("context assumed `docker`"), "{w}");
    assert!(w.contains("`src/main.c` (line 2)"), "{w}");
    assert!(w.contains("set `[[images.rule]] context`"), "{w}");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let human = r.dockguard(&["check", "feature"]);
    assert!(
        human.stdout.contains("warning: image `docker`"),
        "{}",
        human.stdout
    );

    let run = r.dockguard(&["images", "--format", "json", "feature"]);
    let img = &run.json()["images"][0];
    assert_eq!(img["also_contexts"][0]["context"], ".", "{img:#}");
    assert!(
        img["warnings"].to_string().contains("context assumed"),
        "{img:#}"
    );
    let human = r.dockguard(&["images", "feature"]);
    assert!(
        human.stdout.contains("also        context ."),
        "{}",
        human.stdout
    );
}

#[test]
fn widening_changes_the_content_tag_with_the_file() {
    let base = [
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY src/main.c /src/\n",
        ),
        Edit::File("src/main.c", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("src/main.c", "b\n")]);
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    let run = r.dockguard(&["tag", "--image", "docker", "feature"]);
    assert!(
        run.stderr.contains("context assumed `docker`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_declared_rule_context_is_used_and_a_matching_assumption_is_not_widened() {
    // The rule says where the context is: no warning, the root file counts.
    let base = [
        (
            ".dockguard.toml",
            "[[images.rule]]\ndockerfile = 'docker/Dockerfile'\nname = 'app'\ncontext = '.'\n",
        ),
        (
            "docker/Dockerfile",
            "FROM debian:12\nCOPY src/main.c /src/\n",
        ),
        ("src/main.c", "a\n"),
    ];
    let edits: Vec<Edit<'_>> = base.iter().map(|(p, c)| Edit::File(p, c)).collect();
    let (r, _, _) = branch_pair(&edits, &[Edit::File("src/main.c", "b\n")]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["app"]);
    assert!(v["targets"][0].get("warnings").is_none(), "{v:#}");

    // The assumed context has the file: a same-named file elsewhere does not count.
    let base = [
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY src/main.c /src/\n",
        ),
        Edit::File("docker/src/main.c", "a\n"),
        Edit::File("src/main.c", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("src/main.c", "b\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], false, "{v:#}");
    assert!(v["targets"][0].get("warnings").is_none(), "{v:#}");
}

#[test]
fn a_symlinked_dockerfile_is_read_through_its_target() {
    let base = [
        Edit::Link("docker/Dockerfile", "../build/base.df"),
        Edit::File("build/base.df", "FROM debian:12\nCOPY app.sh /\n"),
        Edit::File("docker/app.sh", "echo 1\n"),
    ];
    // The target changes: the image's dockerfile changed.
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File(
            "build/base.df",
            "FROM debian:13\nCOPY app.sh /\n",
        )],
    );
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["docker"]);
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // Its COPY sources are the target's.
    let (r, _, _) = branch_pair(&base, &[Edit::File("docker/app.sh", "echo 2\n")]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["docker"], "{v:#}");
    let run = r.dockguard(&["images", "--format", "json", "feature"]);
    let img = &run.json()["images"][0];
    assert_eq!(img["sources"][0], "app.sh", "{img:#}");
    assert_eq!(
        img["dockerfile_links"],
        serde_json::json!(["build/base.df", "docker/Dockerfile"]),
        "{img:#}"
    );
}

#[test]
fn a_symlinked_source_counts_its_target() {
    let base = [
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY conf /etc/conf\nCOPY cfg/app.ini /etc/\nCOPY out /out\n",
        ),
        Edit::Link("docker/conf", "shared"),
        Edit::File("docker/shared/a.ini", "a\n"),
        Edit::Link("docker/cfg", "shared"),
        Edit::File("docker/shared/app.ini", "x\n"),
        // Leaves the context: BuildKit and the legacy builder resolve it inside the
        // context root, so it names docker/etc/x, not the repository's etc/x.
        Edit::Link("docker/out", "../../etc/x"),
        Edit::File("docker/etc/x", "inside\n"),
        Edit::File("etc/x", "outside\n"),
        Edit::File("docker/unrelated", "u\n"),
    ];
    for (path, counts) in [
        ("docker/shared/a.ini", true),
        ("docker/shared/app.ini", true),
        ("docker/etc/x", true),
        ("etc/x", false),
        ("docker/unrelated", false),
    ] {
        let (r, _, _) = branch_pair(&base, &[Edit::File(path, "changed\n")]);
        let v = check(&r, "feature");
        assert_eq!(v["rebuild"], counts, "{path}: {v:#}");
        if counts {
            assert_ne!(
                tag(&r, "docker", "master"),
                tag(&r, "docker", "feature"),
                "{path}"
            );
        } else {
            assert_eq!(
                tag(&r, "docker", "master"),
                tag(&r, "docker", "feature"),
                "{path}"
            );
        }
    }
    // Re-pointing a link counts.
    let (r, _, _) = branch_pair(&base, &[Edit::Link("docker/conf", "other")]);
    assert_eq!(check(&r, "feature")["rebuild"], true);
}

#[test]
fn a_submodule_under_a_source_counts_when_it_moves() {
    let one = "1111111111111111111111111111111111111111";
    let two = "2222222222222222222222222222222222222222";
    let base = [
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY vendor/lib/include /usr/include/lib\n",
        ),
        Edit::Gitlink("docker/vendor/lib", one),
        Edit::Gitlink("other/lib", one),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::Gitlink("docker/vendor/lib", two)]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["docker"]);
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // A submodule no source reaches does not count.
    let (r, _, _) = branch_pair(&base, &[Edit::Gitlink("other/lib", two)]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
    // Nor does a matching source hide a missing-context warning for it: the gitlink is
    // what the source names, so nothing is widened.
    assert!(check(&r, "feature")["targets"][0].get("warnings").is_none());
}

#[test]
fn both_dockerignores_count_when_both_exist() {
    // BuildKit reads Dockerfile.dockerignore, the legacy builder docker/.dockerignore:
    // a file only one of them ignores is still read by the other builder.
    let base = [
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY . /src\n"),
        Edit::File("docker/Dockerfile.dockerignore", "a.txt\nboth.txt\n"),
        Edit::File("docker/.dockerignore", "b.txt\nboth.txt\n"),
        Edit::File("docker/a.txt", "a\n"),
        Edit::File("docker/b.txt", "b\n"),
        Edit::File("docker/both.txt", "x\n"),
    ];
    for (path, counts) in [
        ("docker/a.txt", true),
        ("docker/b.txt", true),
        ("docker/both.txt", false),
    ] {
        let (r, _, _) = branch_pair(&base, &[Edit::File(path, "changed\n")]);
        assert_eq!(check(&r, "feature")["rebuild"], counts, "{path}");
    }
}

/// A plain source name matches only that name (a `srcs/` beside it is no match), with or
/// without empty components: each spelling widens the assumed context to where `src` is.
#[test]
fn a_plain_source_matches_only_its_own_name_however_it_is_spelt() {
    for source in ["src", "src/", "src//main.c", "./src/main.c"] {
        let df = format!("FROM debian:12\nCOPY {source} /s/\n");
        let base = [
            Edit::File("docker/Dockerfile", df.as_str()),
            Edit::File("docker/srcs/main.c", "decoy\n"),
            Edit::File("docker/sr/main.c", "decoy\n"),
            Edit::File("src/main.c", "int main(void) { return 0; }\n"),
        ];
        let (r, _, _) = branch_pair(
            &base,
            &[Edit::File("src/main.c", "int main(void) { return 1; }\n")],
        );
        let v = check(&r, "feature");
        assert_eq!(v["rebuild"], true, "COPY {source}: {v:#}");
        assert_eq!(affected(&v), vec!["docker"], "COPY {source}");
        assert!(
            warnings(&v).contains("context assumed `docker`"),
            "COPY {source}: {v:#}"
        );
    }
}
