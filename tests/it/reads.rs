//! What a build reads, exactly: the stages its target needs, variables as both builders
//! expand them, the build arguments its declaration passes, ONBUILD of a repository base
//! image, the ignore files each builder reads (through their links), and submodules on a
//! source's path.

use crate::contexts::{affected, branch_pair, check, tag};
use crate::trees::Edit;

/// `docker build -f docker/Dockerfile .` in a CI job: a declared build of the last stage.
const CI: Edit<'static> = Edit::File(
    ".gitlab-ci.yml",
    "images:\n  script:\n    - docker build -t x -f docker/Dockerfile .\n",
);

/// Whether changing `path` (to new content) on a branch needs a rebuild.
fn rebuild(base: &[Edit<'_>], path: &str) -> bool {
    let (r, _, _) = branch_pair(base, &[Edit::File(path, "changed\n")]);
    let v = check(&r, "feature");
    v["rebuild"].as_bool().unwrap_or(false)
}

#[test]
fn a_change_in_a_stage_the_build_does_not_need_is_no_rebuild() {
    let df = "FROM debian:12 AS test\nCOPY tests /tests\nFROM debian:12 AS build\nCOPY src /src\nFROM build AS more\nCOPY lib /lib\nFROM debian:12\nCOPY --from=more /src /src\nCOPY main.c /\n";
    let base = [
        CI,
        Edit::File("docker/Dockerfile", df),
        Edit::File("tests/t.sh", "t\n"),
        Edit::File("src/a.c", "a\n"),
        Edit::File("lib/l.c", "l\n"),
        Edit::File("main.c", "m\n"),
    ];
    assert!(!rebuild(&base, "tests/t.sh"), "the test stage is not built");
    for needed in ["src/a.c", "lib/l.c", "main.c", "docker/Dockerfile"] {
        assert!(rebuild(&base, needed), "{needed}");
    }
    // The content tag covers what the build reads, nothing else.
    let (r, _, _) = branch_pair(&base, &[Edit::File("tests/t.sh", "changed\n")]);
    assert_eq!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // Nobody declares the build: any `--target` may be built, so every stage counts.
    let guessed = [
        Edit::File("Dockerfile", df),
        Edit::File("tests/t.sh", "t\n"),
        Edit::File("main.c", "m\n"),
    ];
    let (r, _, _) = branch_pair(&guessed, &[Edit::File("tests/t.sh", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true);
    let w = v["targets"][0]["warnings"].to_string();
    assert!(
        w.contains("no build of it is declared, so every stage counts"),
        "{w}"
    );
}

#[test]
fn a_parent_used_only_by_an_unused_stage_is_no_parent() {
    let base = [
        CI,
        Edit::File(".dockguard.toml", "[images]\nparent = [\"qemu/{name}\"]\n"),
        Edit::File("base/Dockerfile", "FROM debian:12\n"),
        Edit::File(
            "docker/Dockerfile",
            "FROM qemu/base AS dev\nFROM debian:12\nCOPY main.c /\n",
        ),
        Edit::File("main.c", "m\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("base/Dockerfile", "FROM debian:13\n")]);
    assert_eq!(affected(&check(&r, "feature")), vec!["base"]);
}

#[test]
fn env_assignments_see_the_values_from_before_the_instruction() {
    // `ENV A=two B=$A`: B is `one` for every builder.
    let base = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nENV A=one\nENV A=two B=$A\nCOPY $B /b\n",
        ),
        Edit::File("one", "1\n"),
        Edit::File("two", "2\n"),
    ];
    assert!(rebuild(&base, "one"));
    assert!(!rebuild(&base, "two"));
}

#[test]
fn where_the_builders_disagree_both_readings_count() {
    // BuildKit: the later of ENV/ARG wins, and `ARG A=two B=$A` sees two; the legacy
    // builder: ENV wins, and B sees the value from before the instruction.
    let env_arg = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nENV D=env\nARG D=arg\nCOPY $D /d\n",
        ),
        Edit::File("env", "e\n"),
        Edit::File("arg", "a\n"),
        Edit::File("other", "o\n"),
    ];
    assert!(rebuild(&env_arg, "env"), "the legacy builder reads env");
    assert!(rebuild(&env_arg, "arg"), "BuildKit reads arg");
    assert!(!rebuild(&env_arg, "other"));
    let args = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nARG A=one\nARG A=two B=$A\nCOPY $B /b\n",
        ),
        Edit::File("one", "1\n"),
        Edit::File("two", "2\n"),
    ];
    assert!(rebuild(&args, "one"), "Docker 20.10 and the legacy builder");
    assert!(rebuild(&args, "two"), "BuildKit");
    // A stage's ARG is inherited by a stage built FROM it in BuildKit, not in the legacy
    // builder (where `$D/x` is `/x`).
    let inherited = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM scratch AS one\nARG D=src\nFROM one\nCOPY $D/x /x\n",
        ),
        Edit::File("src/x", "s\n"),
        Edit::File("x", "x\n"),
    ];
    assert!(rebuild(&inherited, "src/x"));
    assert!(rebuild(&inherited, "x"));
}

#[test]
fn a_declared_build_reads_only_the_build_args_it_passes() {
    // No `--build-arg V`: `app-$V.tgz` is `app-.tgz`.
    let base = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nARG V\nCOPY app-$V.tgz /\n",
        ),
        Edit::File("app-.tgz", "a\n"),
        Edit::File("app-2.tgz", "b\n"),
    ];
    assert!(rebuild(&base, "app-.tgz"));
    assert!(!rebuild(&base, "app-2.tgz"));
    // Undeclared, any `--build-arg` may be passed.
    let guessed = [
        Edit::File("Dockerfile", "FROM debian:12\nARG V\nCOPY app-$V.tgz /\n"),
        Edit::File("app-2.tgz", "b\n"),
    ];
    assert!(rebuild(&guessed, "app-2.tgz"));
}

#[test]
fn a_wildcard_that_matches_nothing_does_not_widen_a_declared_context() {
    let base = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM node:20\nCOPY package.json yarn.lock* ./\n",
        ),
        Edit::File("package.json", "{}\n"),
        Edit::File("docker/package.json", "{\"decoy\": 1}\n"),
        Edit::File("docker/yarn.lock", "decoy\n"),
    ];
    assert!(rebuild(&base, "package.json"));
    assert!(rebuild(&base, "yarn.lock"), "it would be read");
    assert!(!rebuild(&base, "docker/package.json"));
    assert!(!rebuild(&base, "docker/yarn.lock"));
    let (r, _, _) = branch_pair(&base, &[Edit::File("package.json", "[]\n")]);
    let v = check(&r, "feature");
    assert!(
        v["targets"][0].get("warnings").is_none(),
        "nothing to widen: {v:#}"
    );
}

#[test]
fn onbuild_of_a_repository_base_image_reads_the_childs_context() {
    let base = [
        Edit::File(
            ".dockguard.toml",
            "[images]\nparent = [\"qemu/{name}\"]\n\n[[images.rule]]\ndockerfile = '(?P<name>[^/]+)/Dockerfile'\ncontext = \"{name}\"\n",
        ),
        Edit::File(
            "base/Dockerfile",
            "FROM debian:12\nENV DIR=conf\nONBUILD COPY $DIR/app.ini /etc/app.ini\n",
        ),
        Edit::File("base/conf/app.ini", "base\n"),
        Edit::File("child/Dockerfile", "FROM qemu/base\nRUN true\n"),
        Edit::File("child/conf/app.ini", "child\n"),
        Edit::File("child/other", "o\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("child/conf/app.ini", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["child"], "{v:#}");
    assert_ne!(tag(&r, "child", "master"), tag(&r, "child", "feature"));
    assert!(!rebuild(&base, "child/other"));
    assert!(
        !rebuild(&base, "base/conf/app.ini"),
        "the base's own build does not run it"
    );
    // In one file: a stage built FROM a stage runs its ONBUILD (Docker 20.10, legacy).
    let stages = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12 AS base\nONBUILD COPY trig /t\nFROM base\nRUN true\n",
        ),
        Edit::File("trig", "t\n"),
    ];
    assert!(rebuild(&stages, "trig"));
}

#[test]
fn the_legacy_builder_does_not_read_the_dockerfiles_own_ignore_file() {
    // Only `<dockerfile>.dockerignore`: BuildKit leaves secret out, the legacy builder
    // (which a plain `docker build` may be) copies it.
    let base = [
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY . /src\n"),
        Edit::File("docker/Dockerfile.dockerignore", "secret\n"),
        Edit::File("docker/secret", "s\n"),
    ];
    assert!(rebuild(&base, "docker/secret"));
}

#[test]
fn a_symlinked_dockerignore_is_read_through_its_link() {
    let base = [
        CI,
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY . /src\n"),
        Edit::Link(".dockerignore", "ci/ignore"),
        Edit::File("ci/ignore", "secret*\n"),
        Edit::File("secret.txt", "s\n"),
        Edit::File("kept.txt", "k\n"),
    ];
    assert!(!rebuild(&base, "secret.txt"), "left out through the link");
    assert!(rebuild(&base, "kept.txt"));
    let (r, _, _) = branch_pair(&base, &[Edit::File("ci/ignore", "kept*\n")]);
    let v = check(&r, "feature");
    assert_eq!(
        affected(&v),
        vec!["docker"],
        "the target is the ignore file"
    );
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // The dockerfile's own ignore file, likewise.
    let own = [
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY . /src\n"),
        Edit::Link("docker/Dockerfile.dockerignore", "common.ignore"),
        Edit::Link("docker/.dockerignore", "common.ignore"),
        Edit::File("docker/common.ignore", "secret\n"),
        Edit::File("docker/secret", "s\n"),
    ];
    assert!(!rebuild(&own, "docker/secret"));
    assert!(rebuild(&own, "docker/common.ignore"));
}

#[test]
fn a_source_inside_a_submodule_counts_when_the_gitlink_moves() {
    // QEMU: `COPY roms/opensbi/Makefile .` with roms/opensbi a submodule.
    let one = "1111111111111111111111111111111111111111";
    let two = "2222222222222222222222222222222222222222";
    let base = [
        Edit::File(
            ".gitlab-ci.yml",
            "opensbi:\n  script:\n    - docker build -f .gitlab-ci.d/opensbi/Dockerfile .\n",
        ),
        Edit::File(
            ".gitlab-ci.d/opensbi/Dockerfile",
            "FROM debian:12\nCOPY roms/opensbi/Makefile /opensbi/\n",
        ),
        Edit::Gitlink("roms/opensbi", one),
        Edit::Gitlink("roms/seabios", one),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::Gitlink("roms/opensbi", two)]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["opensbi"], "{v:#}");
    assert_ne!(tag(&r, "opensbi", "master"), tag(&r, "opensbi", "feature"));
    let (r, _, _) = branch_pair(&base, &[Edit::Gitlink("roms/seabios", two)]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn a_gitattributes_change_that_transforms_a_copied_file_is_a_change_of_it() {
    let base = [
        CI,
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY scripts/*.sh /scripts/\n",
        ),
        Edit::File(".gitattributes", "*.sh text\n*.png binary\n"),
        Edit::File("scripts/run.sh", "echo $Id$\n"),
        Edit::File("art/logo.png", "png\n"),
    ];
    let change = |text: &str| {
        let (r, _, _) = branch_pair(&base, &[Edit::File(".gitattributes", text)]);
        let v = check(&r, "feature");
        (r, v)
    };
    let (r, v) = change("*.sh text eol=crlf\n*.png binary\n");
    assert_eq!(affected(&v), vec!["docker"], "{v:#}");
    let reasons = v["targets"][0]["images"][0]["reasons"].to_string();
    assert!(
        reasons.contains("`.gitattributes` changed how checkout writes `scripts/run.sh`"),
        "{reasons}"
    );
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // Real git writes different bytes for the two commits.
    let work = r.scratch("checkout");
    crate::fixture::git(
        r.path(),
        &[
            "worktree",
            "add",
            "-q",
            work.to_str().expect("utf-8"),
            "feature",
        ],
    );
    let bytes = std::fs::read(work.join("scripts/run.sh")).expect("checked out");
    assert_eq!(bytes, b"echo $Id$\r\n");
    for (text, why) in [
        ("*.sh text ident\n*.png binary\n", "ident"),
        (
            "*.sh text working-tree-encoding=UTF-16\n*.png binary\n",
            "encoding",
        ),
        ("*.sh filter=lfs\n*.png binary\n", "a smudge filter"),
    ] {
        assert_eq!(affected(&change(text).1), vec!["docker"], "{why}");
    }
    for (text, why) in [
        ("*.sh text\n*.png -text\n", "a file no image reads"),
        (
            "*.sh text diff=bash\n*.png binary\n",
            "an attribute checkout ignores",
        ),
        (
            "# the same rules\n*.sh text\n*.png binary\n",
            "the same attributes",
        ),
    ] {
        let (_, v) = change(text);
        assert_eq!(v["rebuild"], false, "{why}: {v:#}");
    }
    // A new one in a directory it copies from (not copied itself), and elsewhere.
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File("scripts/.gitattributes", "run.sh eol=crlf\n")],
    );
    assert_eq!(affected(&check(&r, "feature")), vec!["docker"]);
    let (r, _, _) = branch_pair(&base, &[Edit::File("art/.gitattributes", "* eol=crlf\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn the_content_tag_covers_what_a_declared_build_passes() {
    let ci = |v: &str| {
        format!("images:\n  script:\n    - docker build --build-arg V={v} -f docker/Dockerfile .\n")
    };
    let one = ci("1");
    let two = ci("2");
    let base = [
        Edit::File(".gitlab-ci.yml", one.as_str()),
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nARG V\nRUN echo $V > /v\n",
        ),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File(".gitlab-ci.yml", two.as_str())]);
    assert_ne!(tag(&r, "docker", "master"), tag(&r, "docker", "feature"));
    // A build that passes nothing keeps the tag it had.
    let plain = [
        Edit::File(
            ".gitlab-ci.yml",
            "images:\n  script:\n    - docker build -f docker/Dockerfile .\n",
        ),
        Edit::File("docker/Dockerfile", "FROM debian:12\n"),
    ];
    let (r, _, _) = branch_pair(&plain, &[Edit::File("README", "x\n")]);
    let run = r.dockguard(&["tag", "--image", "docker", "feature"]);
    let bytes = format!(
        "dockguard content tag v1\ncontext\0.\0\ndockerfile\0docker/Dockerfile\0100644\0{}\0\n",
        git2::Oid::hash_object(git2::ObjectType::Blob, b"FROM debian:12\n").expect("oid")
    );
    let want = git2::Oid::hash_object(git2::ObjectType::Blob, bytes.as_bytes()).expect("oid");
    assert_eq!(run.stdout.trim(), format!("c1-{want}"));
}
