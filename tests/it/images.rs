//! Images: names, contexts, inputs, parents, the affected set in verdicts, and
//! `dockguard images`.

use git2::Oid;
use serde_json::Value;

use crate::fixture::TestRepo;

/// QEMU's 22 cross-compiler images of early 2021, all `FROM qemu/debian10`.
pub const QEMU_2021_LEAVES: &[&str] = &[
    "debian-alpha-cross",
    "debian-amd64-cross",
    "debian-arm64-cross",
    "debian-armel-cross",
    "debian-armhf-cross",
    "debian-hppa-cross",
    "debian-m68k-cross",
    "debian-mips-cross",
    "debian-mips64-cross",
    "debian-mips64el-cross",
    "debian-mipsel-cross",
    "debian-powerpc-cross",
    "debian-ppc64-cross",
    "debian-ppc64el-cross",
    "debian-riscv64-cross",
    "debian-s390x-cross",
    "debian-sh4-cross",
    "debian-sparc64-cross",
    "debian-tricore-cross",
    "debian-win32-cross",
    "debian-win64-cross",
    "debian-xtensa-cross",
];

pub const DOCKERFILES: &str = "tests/docker/dockerfiles";

/// Commits owned strings.
pub fn commit_all(r: &TestRepo, msg: &str, files: &[(String, String)]) -> Oid {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    r.commit(msg, &refs)
}

/// A QEMU-2021-like repository on master (tracked as origin/master).
pub fn qemu_2021() -> (TestRepo, Oid) {
    let r = TestRepo::new();
    let mut files = vec![
        (
            ".dockguard.toml".to_owned(),
            "[images]\nparent = [\"qemu/{name}\"]\n".to_owned(),
        ),
        (
            format!("{DOCKERFILES}/debian10.docker"),
            "FROM debian:buster-slim\nRUN apt-get update\n".to_owned(),
        ),
        ("configure".to_owned(), "#!/bin/sh\n".to_owned()),
    ];
    for leaf in QEMU_2021_LEAVES {
        files.push((
            format!("{DOCKERFILES}/{leaf}.docker"),
            format!("FROM qemu/debian10\nRUN apt-get install -y gcc-{leaf}\n"),
        ));
    }
    let base = commit_all(&r, "qemu images", &files);
    r.remote_ref("origin", "master", base);
    (r, base)
}

fn check_json(r: &TestRepo) -> Value {
    let run = r.dockguard(&["check", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

fn image_names(target: &Value) -> Vec<String> {
    target["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn images_json(r: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["images", "--format", "json"];
    all.extend_from_slice(args);
    let run = r.dockguard(&all);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

#[test]
fn qemu_2021_base_change_affects_all_22_dependants_in_build_order() {
    let (r, base) = qemu_2021();
    r.switch_new("bump-base", base);
    r.commit(
        "debian10: add a package",
        &[(
            &format!("{DOCKERFILES}/debian10.docker"),
            "FROM debian:buster-slim\nRUN apt-get update && apt-get install -y git\n",
        )],
    );
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true);
    let mut want = vec!["debian10".to_owned()];
    want.extend(QEMU_2021_LEAVES.iter().map(|s| (*s).to_owned()));
    assert_eq!(
        image_names(&v["targets"][0]),
        want,
        "parents first, then by name"
    );
    assert_eq!(
        v["targets"][0]["images"][0]["reasons"][0],
        "dockerfile modified"
    );
    assert_eq!(
        v["targets"][0]["images"][5]["reasons"][0],
        "parent `debian10` is affected"
    );
    let names = r.dockguard(&["images", "--affected", "--format", "names"]);
    assert_eq!(names.code, 0, "{}", names.stderr);
    assert_eq!(names.stdout.lines().collect::<Vec<_>>(), want);
    let human = r.dockguard(&["check"]);
    assert!(
        human.stdout.contains("23 affected images, in build order:"),
        "{}",
        human.stdout
    );
}

#[test]
fn qemu_2021_leaf_change_affects_only_that_leaf() {
    let (r, base) = qemu_2021();
    r.switch_new("mips", base);
    r.commit(
        "mips: newer gcc",
        &[(
            &format!("{DOCKERFILES}/debian-mips-cross.docker"),
            "FROM qemu/debian10\nRUN apt-get install -y gcc-10-mips\n",
        )],
    );
    r.filler(2, "work");
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true);
    assert_eq!(image_names(&v["targets"][0]), vec!["debian-mips-cross"]);
    let listing = images_json(&r, &[]);
    assert_eq!(listing["images"].as_array().map(Vec::len), Some(23));
    assert_eq!(listing["build_order"][0], "debian10");
    let affected: Vec<_> = listing["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter(|i| i["affected"] == true)
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(affected, vec![Value::from("debian-mips-cross")]);
    let mips = &listing["images"][8];
    assert_eq!(mips["name"], "debian-mips-cross");
    assert_eq!(mips["parents"][0]["name"], "debian10");
    assert_eq!(mips["parents"][0]["reference"], "qemu/debian10");
    assert_eq!(mips["context"], DOCKERFILES);
}

#[test]
fn unrelated_changes_affect_no_image() {
    let (r, base) = qemu_2021();
    r.switch_new("code", base);
    r.commit("code", &[("configure", "#!/bin/sh\necho hi\n")]);
    let v = check_json(&r);
    assert_eq!(v["rebuild"], false, "{v:#}");
    assert!(v["targets"][0].get("images").is_none(), "{v:#}");
}

/// QEMU today: standalone `.docker` files with `<name>.d/` helpers, built with the
/// repository root as context.
fn qemu_today() -> (TestRepo, Oid) {
    let r = TestRepo::new();
    let base = r.commit(
        "images",
        &[
            (
                ".dockguard.toml",
                r#"
[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\.docker'
context = "."
inputs = ["tests/docker/dockerfiles/{name}.d/**"]
"#,
            ),
            (
                "tests/docker/dockerfiles/debian-hexagon-cross.docker",
                "FROM docker.io/library/debian:11-slim\nADD tests/docker/dockerfiles/debian-hexagon-cross.d/build-toolchain.sh /root/\nRUN /root/build-toolchain.sh\n",
            ),
            (
                "tests/docker/dockerfiles/debian-hexagon-cross.d/build-toolchain.sh",
                "#!/bin/bash\nmake\n",
            ),
            (
                "tests/docker/dockerfiles/debian-loongarch-cross.docker",
                "FROM docker.io/library/debian:11-slim\nRUN apt-get update\n",
            ),
            (
                "tests/docker/dockerfiles/debian-loongarch-cross.d/notes.txt",
                "used by CI scripts\n",
            ),
            (
                "tests/docker/dockerfiles/fedora.docker",
                "FROM registry.fedoraproject.org/fedora:40\nCOPY scripts/ci/setup/ /setup/\n",
            ),
            ("scripts/ci/setup/build-env.yml", "packages: []\n"),
            (".gitlab-ci.d/opensbi/Dockerfile", "FROM ubuntu:22.04\n"),
            (
                "scripts/coverity-scan/coverity-scan.docker",
                "FROM fedora:40\n",
            ),
            ("hw/arm/virt.c", "int x;\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    (r, base)
}

#[test]
fn qemu_today_helpers_and_context_inputs() {
    let (r, base) = qemu_today();
    let listing = images_json(&r, &[]);
    let names = crate::fixture::strings(&listing["build_order"]);
    assert_eq!(
        names,
        vec![
            "coverity-scan",
            "debian-hexagon-cross",
            "debian-loongarch-cross",
            "fedora",
            "opensbi"
        ]
    );
    let hexagon = &listing["images"][1];
    assert_eq!(hexagon["context"], ".");
    assert_eq!(
        hexagon["sources"][0],
        "tests/docker/dockerfiles/debian-hexagon-cross.d/build-toolchain.sh"
    );
    assert_eq!(
        hexagon["extra_inputs"][0],
        "tests/docker/dockerfiles/debian-hexagon-cross.d/**"
    );

    // A helper file of one image: that image only, through its extra inputs.
    r.switch_new("helper", base);
    r.commit(
        "loongarch notes",
        &[(
            "tests/docker/dockerfiles/debian-loongarch-cross.d/notes.txt",
            "still used\n",
        )],
    );
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(v["targets"][0]["changes"][0]["role"], "input");
    assert_eq!(
        image_names(&v["targets"][0]),
        vec!["debian-loongarch-cross"]
    );

    // A file COPYed from the root context, which no match.* pattern names.
    r.checkout("master");
    r.switch_new("setup", base);
    r.commit(
        "ci setup",
        &[("scripts/ci/setup/build-env.yml", "packages: [gcc]\n")],
    );
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(
        v["targets"][0]["changes"][0]["path"],
        "scripts/ci/setup/build-env.yml"
    );
    assert_eq!(image_names(&v["targets"][0]), vec!["fedora"]);
    assert_eq!(
        v["targets"][0]["images"][0]["reasons"][0],
        "input `scripts/ci/setup/build-env.yml` modified"
    );

    // Source code no image copies: nothing.
    r.checkout("master");
    r.switch_new("code", base);
    r.commit("code", &[("hw/arm/virt.c", "int y;\n")]);
    assert_eq!(check_json(&r)["rebuild"], false);
}

#[test]
fn libvirt_containers_use_their_directory_as_context() {
    let r = TestRepo::new();
    let mut files = Vec::new();
    for target in ["almalinux-9", "debian-12", "fedora-40", "ubuntu-2404"] {
        files.push((
            format!("ci/containers/{target}.Dockerfile"),
            format!("FROM docker.io/library/{target}\nCOPY common.sh /\nRUN sh /common.sh\n"),
        ));
    }
    files.push((
        "ci/containers/common.sh".to_owned(),
        "dnf install -y meson\n".to_owned(),
    ));
    files.push(("ci/cirrus/build.yml".to_owned(), "x: 1\n".to_owned()));
    let base = commit_all(&r, "containers", &files);
    r.remote_ref("origin", "master", base);
    let listing = images_json(&r, &[]);
    assert_eq!(listing["images"][0]["name"], "almalinux-9");
    assert_eq!(listing["images"][0]["context"], "ci/containers");
    r.switch_new("common", base);
    r.commit(
        "common deps",
        &[("ci/containers/common.sh", "dnf install -y meson ninja\n")],
    );
    let v = check_json(&r);
    assert_eq!(
        image_names(&v["targets"][0]),
        vec!["almalinux-9", "debian-12", "fedora-40", "ubuntu-2404"]
    );
    r.commit("cirrus", &[("ci/cirrus/build.yml", "x: 2\n")]);
    let v = check_json(&r);
    assert_eq!(v["targets"][0]["changes"].as_array().map(Vec::len), Some(1));
}

#[test]
fn multi_stage_copy_from_stage_and_from_a_repository_image() {
    let r = TestRepo::new();
    let base = r.commit(
        "images",
        &[
            (
                ".dockguard.toml",
                "[images]\nparent = ['registry.example.com/proj/{name}']\n",
            ),
            (
                "tools/Dockerfile",
                "FROM alpine:3 AS build\nCOPY src/ /src/\nRUN make -C /src\nFROM scratch\nCOPY --from=build /src/tool /tool\n",
            ),
            ("tools/src/tool.c", "int main;\n"),
            (
                "app/Dockerfile",
                "ARG REG=registry.example.com/proj\nFROM debian:12 AS base\nFROM base\nARG REG\nCOPY --from=${REG}/tools:latest /tool /usr/bin/\nCOPY --from=base /etc/os-release /\nCOPY app.py /\n",
            ),
            ("app/app.py", "print(1)\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    let listing = images_json(&r, &[]);
    assert_eq!(
        crate::fixture::strings(&listing["build_order"]),
        vec!["tools", "app"]
    );
    let app = &listing["images"][1];
    assert_eq!(app["parents"][0]["name"], "tools");
    assert_eq!(app["parents"][0]["via"], "copy-from");
    assert_eq!(app["external"][0], "debian:12");
    assert_eq!(crate::fixture::strings(&app["sources"]), vec!["app.py"]);
    r.switch_new("tool", base);
    r.commit("tool", &[("tools/src/tool.c", "int main(void);\n")]);
    let v = check_json(&r);
    assert_eq!(image_names(&v["targets"][0]), vec!["tools", "app"]);
    assert_eq!(
        v["targets"][0]["images"][1]["reasons"][0],
        "parent `tools` is affected"
    );
    let dot = r.dockguard(&["images", "--format", "dot"]);
    assert!(
        dot.stdout
            .contains("\"tools\" -> \"app\" [style=dashed, label=\"COPY --from\"];"),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout.contains("fillcolor"),
        "affected images are filled"
    );
}

#[test]
fn dockerignore_decides_which_copied_files_count() {
    let r = TestRepo::new();
    let base = r.commit(
        "app",
        &[
            ("Dockerfile", "FROM node:20\nCOPY . /app\n"),
            (
                ".dockerignore",
                "# not sent\ndocs\n*.md\n!README.md\n**/*.log\n",
            ),
            ("src/index.js", "1\n"),
            ("docs/guide.txt", "g\n"),
            ("README.md", "r\n"),
            ("NOTES.md", "n\n"),
            ("src/debug.log", "l\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    let rebuild_after = |branch: &str, path: &str| {
        r.checkout("master");
        r.switch_new(branch, base);
        r.commit(branch, &[(path, "changed\n")]);
        let v = check_json(&r);
        (
            v["rebuild"].as_bool().unwrap_or_default(),
            image_names(&v["targets"][0]),
        )
    };
    assert_eq!(
        rebuild_after("src", "src/index.js"),
        (true, vec!["root".into()])
    );
    assert_eq!(rebuild_after("docs", "docs/guide.txt"), (false, vec![]));
    assert_eq!(rebuild_after("notes", "NOTES.md"), (false, vec![]));
    assert_eq!(
        rebuild_after("readme", "README.md"),
        (true, vec!["root".into()])
    );
    assert_eq!(rebuild_after("log", "src/debug.log"), (false, vec![]));
    assert_eq!(
        rebuild_after("new", "src/new.js"),
        (true, vec!["root".into()])
    );
    let (rebuild, images) = rebuild_after("ignore", ".dockerignore");
    assert!(rebuild);
    assert_eq!(images, vec!["root"]);
    // A Dockerfile-specific ignore file wins over the context's.
    r.checkout("master");
    r.switch_new("own-ignore", base);
    r.commit("own", &[("Dockerfile.dockerignore", "src\n")]);
    let listing = images_json(&r, &[]);
    assert_eq!(
        listing["images"][0]["dockerignore"],
        "Dockerfile.dockerignore"
    );
    assert_eq!(
        listing["images"].as_array().map(Vec::len),
        Some(1),
        "an ignore file is not an image"
    );
    r.commit("docs now count", &[("docs/guide.txt", "again\n")]);
    let v = check_json(&r);
    assert!(
        v["targets"][0]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["path"] == "docs/guide.txt"),
        "{v:#}"
    );
}

#[test]
fn wildcards_heredocs_and_remote_sources() {
    let r = TestRepo::new();
    let base = r.commit(
        "img",
        &[
            (
                "img/Dockerfile",
                "FROM alpine\nCOPY scripts/*.sh /s/\nCOPY <<EOF /etc/motd\nhello\nEOF\nRUN <<EOF\nset -e\nCOPY payload /p\nEOF\nADD https://example.com/x.tgz /x\n",
            ),
            ("img/scripts/a.sh", "a\n"),
            ("img/scripts/sub/b.sh", "b\n"),
            ("img/scripts/a.py", "p\n"),
            ("img/payload", "x\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    let listing = images_json(&r, &[]);
    let img = &listing["images"][0];
    assert_eq!(
        crate::fixture::strings(&img["sources"]),
        vec!["scripts/*.sh"]
    );
    assert_eq!(img["inline"], 1);
    assert_eq!(
        crate::fixture::strings(&img["remote"]),
        vec!["https://example.com/x.tgz"]
    );
    for (path, counts) in [
        ("img/scripts/a.sh", true),
        ("img/scripts/c.sh", true),
        ("img/scripts/sub/b.sh", false),
        ("img/scripts/a.py", false),
        ("img/payload", false),
    ] {
        r.checkout("master");
        let branch = path.replace('/', "-");
        r.switch_new(&branch, base);
        r.commit("edit", &[(path, "changed\n")]);
        assert_eq!(check_json(&r)["rebuild"], counts, "{path}");
    }
    // Deleting a copied file counts too.
    r.checkout("master");
    r.switch_new("delete", base);
    r.delete("drop", &["img/scripts/a.sh"]);
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true);
    assert_eq!(v["targets"][0]["changes"][0]["kind"], "deleted");
    assert_eq!(image_names(&v["targets"][0]), vec!["img"]);
}

#[test]
fn the_merge_base_side_counts() {
    // The merge-base's dockerfile copied `old.sh`; the branch stops copying it and
    // deletes it in one go, and a sibling image is built on this one.
    let r = TestRepo::new();
    let base = r.commit(
        "img",
        &[
            (".dockguard.toml", "[images]\nparent = ['proj/{name}']\n"),
            ("a/Dockerfile", "FROM alpine\nCOPY old.sh /\n"),
            ("a/old.sh", "x\n"),
            ("b/Dockerfile", "FROM proj/a\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    r.switch_new("drop-old", base);
    r.commit_raw(
        "stop copying old.sh",
        &[
            (b"a/Dockerfile", Some(b"FROM alpine\n")),
            (b"a/old.sh", None),
        ],
    );
    let v = check_json(&r);
    assert_eq!(image_names(&v["targets"][0]), vec!["a", "b"]);
    let reasons = &v["targets"][0]["images"][0]["reasons"];
    assert!(
        reasons
            .as_array()
            .expect("reasons")
            .contains(&Value::from("input `a/old.sh` deleted")),
        "{reasons:#}"
    );
}

#[test]
fn from_an_image_that_no_longer_exists() {
    let (r, base) = qemu_2021();
    r.switch_new("drop-base", base);
    r.delete(
        "drop debian10",
        &[&format!("{DOCKERFILES}/debian10.docker")],
    );
    // The dependents still say FROM qemu/debian10: their parent changed (it is gone).
    let v = check_json(&r);
    assert_eq!(v["rebuild"], true);
    assert_eq!(image_names(&v["targets"][0]).len(), 22);
    assert_eq!(
        v["targets"][0]["images"][0]["reasons"][0],
        "parent `debian10` is affected"
    );
    let listing = images_json(&r, &[]);
    let first = &listing["images"][0];
    assert!(
        first["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains("names the image `debian10` of this repository, which no dockerfile defines"),
        "{first:#}"
    );
    assert_eq!(first["content_tag"], Value::Null);
    let tag = r.dockguard(&["tag", "--image", "debian-mips-cross"]);
    assert_eq!(tag.code, 2);
    assert!(
        tag.stderr.contains("no dockerfile defines it") && tag.stderr.contains("hint:"),
        "{}",
        tag.stderr
    );
}

#[test]
fn a_cycle_is_an_error_naming_it() {
    let r = TestRepo::new();
    let base = r.commit(
        "ok",
        &[
            (".dockguard.toml", "[images]\nparent = ['proj/{name}']\n"),
            ("a/Dockerfile", "FROM alpine\n"),
            ("b/Dockerfile", "FROM proj/a\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    r.switch_new("cycle", base);
    r.commit(
        "cycle",
        &[("a/Dockerfile", "FROM alpine\nCOPY --from=proj/b /x /x\n")],
    );
    for args in [
        &["check"][..],
        &["images"][..],
        &["tag", "--image", "a"][..],
    ] {
        let run = r.dockguard(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains("images are built on each other in a cycle: a -> b -> a")
                && first.contains("a/Dockerfile line 2: COPY --from proj/b")
                && first.contains("b/Dockerfile line 1: FROM proj/a"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    }
    r.commit("self", &[("a/Dockerfile", "FROM proj/a\n")]);
    let run = r.dockguard(&["check"]);
    assert!(
        run.stderr
            .contains("image `a` is built on itself (a/Dockerfile line 1)"),
        "{}",
        run.stderr
    );
}

#[test]
fn unattributed_inputs_affect_every_image() {
    let (r, base) = qemu_2021();
    r.switch_new("shared", base);
    r.commit(
        "rules",
        &[(
            ".dockguard.toml",
            "[images]\nparent = [\"qemu/{name}\"]\n[match]\ninputs = [\"tests/docker/common.sh\"]\n",
        )],
    );
    r.commit("shared helper", &[("tests/docker/common.sh", "set -e\n")]);
    let v = check_json(&r);
    assert_eq!(image_names(&v["targets"][0]).len(), 23);
    assert_eq!(
        v["targets"][0]["images"][0]["reasons"][0],
        "`tests/docker/common.sh` changed and belongs to no particular image"
    );
}

#[test]
fn clashing_names_fall_back_to_paths_and_parents_stay_safe() {
    let r = TestRepo::new();
    let base = r.commit(
        "two docker dirs",
        &[
            (".dockguard.toml", "[images]\nparent = ['corp/{name}']\n"),
            ("frontend/docker/Dockerfile", "FROM node\n"),
            ("backend/docker/Dockerfile", "FROM python\n"),
            ("e2e/Dockerfile", "FROM corp/docker\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    let listing = images_json(&r, &[]);
    assert_eq!(
        crate::fixture::strings(&listing["build_order"]),
        vec![
            "backend/docker/Dockerfile",
            "frontend/docker/Dockerfile",
            "e2e"
        ]
    );
    assert!(
        listing["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains("2 dockerfiles would be named `docker`"),
        "{listing:#}"
    );
    // `FROM corp/docker` could mean either: it depends on both.
    r.switch_new("front", base);
    r.commit("front", &[("frontend/docker/Dockerfile", "FROM node:22\n")]);
    let v = check_json(&r);
    assert_eq!(
        image_names(&v["targets"][0]),
        vec!["frontend/docker/Dockerfile", "e2e"]
    );
}

#[test]
fn images_without_an_upstream_and_bad_rules() {
    let r = TestRepo::new();
    r.commit("one", &[("Dockerfile", "FROM alpine\n")]);
    let run = r.dockguard(&["images"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("no upstream to compare with"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("root"), "{}", run.stdout);
    let run = r.dockguard(&["images", "--affected"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot find the upstream"),
        "{}",
        run.stderr
    );
    r.commit(
        "bad rule",
        &[(
            ".dockguard.toml",
            "[[images.rule]]\ndockerfile = '(?P<name>x'\n",
        )],
    );
    let run = r.dockguard(&["images"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("HEAD:.dockguard.toml: `images.rule[0].dockerfile` regex"),
        "{}",
        run.stderr
    );
    r.delete("no rules", &[".dockguard.toml"]);
    r.git(&["config", "dockguard.images.rule", "x"]);
    let run = r.dockguard(&["images"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "git config dockguard.images.rule: `images.rule` can only be set in .dockguard.toml"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn base_unknown_lists_every_image() {
    let (r, _) = qemu_2021();
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    let head = r.repo.head().expect("head").peel_to_commit().expect("c");
    let orphan = r
        .repo
        .commit(None, &sig, &sig, "orphan", &head.tree().expect("tree"), &[])
        .expect("orphan");
    let run = r.dockguard(&["check", "--format", "json", &orphan.to_string()]);
    let v = run.json();
    assert_eq!(
        v["targets"][0]["base_unknown"]["reason"],
        "unrelated_history"
    );
    assert_eq!(image_names(&v["targets"][0]).len(), 23);
}
