//! `dockguard tag`: content tags are a pure function of what an image is built from.

use crate::fixture::{git, TestRepo};
use crate::images::{qemu_2021, DOCKERFILES};

fn tag(r: &TestRepo, image: &str, rev: &str) -> String {
    let run = r.dockguard(&["tag", "--image", image, rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = run.stdout.trim().to_owned();
    assert_docker_tag(&t);
    t
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, written out.
fn assert_docker_tag(t: &str) {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    assert!(ok, "not a valid docker tag: {t:?}");
    assert!(t.starts_with("c1-") && t.len() == 43, "{t}");
}

/// An image with every kind of input: a parent, a copied directory, a wildcard, a
/// `.dockerignore`, extra inputs from a rule, and a root context.
fn rich() -> TestRepo {
    let r = TestRepo::new();
    let base = r.commit(
        "images",
        &[
            (
                ".dockguard.toml",
                r#"
[images]
parent = ["proj/{name}"]

[[images.rule]]
dockerfile = 'images/(?P<name>[^/]+)\.docker'
context = "."
inputs = ["images/{name}.d/**"]
"#,
            ),
            (
                "images/base.docker",
                "FROM debian:12\nCOPY scripts/setup.sh /\n",
            ),
            (
                "images/app.docker",
                "FROM proj/base\nCOPY app/ /app/\nCOPY conf/*.ini /etc/\n",
            ),
            ("images/app.d/patch.diff", "+x\n"),
            (".dockerignore", "app/cache\n"),
            ("scripts/setup.sh", "apt-get install -y git\n"),
            ("app/main.py", "print(1)\n"),
            ("app/cache/blob", "junk\n"),
            ("conf/a.ini", "a=1\n"),
            ("conf/readme.txt", "hi\n"),
            ("src/unrelated.c", "int x;\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    r
}

#[test]
fn same_content_same_tag_on_two_branches_and_in_a_clone() {
    let (r, base) = qemu_2021();
    let on_master = tag(&r, "debian-mips-cross", "HEAD");
    // Two branches reach the same content by different histories.
    r.switch_new("one", base);
    r.commit("detour", &[("configure", "#!/bin/sh\nexit 1\n")]);
    r.commit("back", &[("configure", "#!/bin/sh\n")]);
    r.switch_new("two", base);
    r.filler(3, "notes");
    assert_eq!(tag(&r, "debian-mips-cross", "one"), on_master);
    assert_eq!(tag(&r, "debian-mips-cross", "two"), on_master);
    assert_eq!(
        tag(
            &r,
            &format!("{DOCKERFILES}/debian-mips-cross.docker"),
            "two"
        ),
        on_master,
        "an image can be named by its dockerfile path"
    );
    // Another clone, elsewhere: the same tag.
    let clone = r.scratch("clone");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            r.path().to_str().expect("utf8"),
            clone.to_str().expect("utf8"),
        ],
    );
    let run = crate::fixture::dockguard(&clone, &["tag", "--image", "debian-mips-cross"], &[]);
    assert_eq!(run.stdout.trim(), on_master, "{}", run.stderr);
    // Different images with different content differ.
    assert_ne!(tag(&r, "debian-sh4-cross", "two"), on_master);
}

#[test]
fn base_change_changes_every_dependant_tag() {
    let (r, base) = qemu_2021();
    let before = tag(&r, "debian-hppa-cross", "HEAD");
    let base_before = tag(&r, "debian10", "HEAD");
    r.switch_new("bump", base);
    r.commit(
        "bump",
        &[(
            &format!("{DOCKERFILES}/debian10.docker"),
            "FROM debian:bullseye\n",
        )],
    );
    assert_ne!(tag(&r, "debian10", "HEAD"), base_before);
    assert_ne!(tag(&r, "debian-hppa-cross", "HEAD"), before);
}

/// A change to make on a branch.
type Edit = Box<dyn Fn(&TestRepo)>;

#[test]
fn every_kind_of_input_change_changes_the_tag() {
    let r = rich();
    let base = r.head();
    let app = tag(&r, "app", "HEAD");
    let base_tag = tag(&r, "base", "HEAD");
    let mut seen = vec![app.clone()];
    let changed = |name: &str, edit: &dyn Fn(&TestRepo)| {
        r.checkout("master");
        r.switch_new(name, base);
        assert_eq!(r.git(&["status", "--porcelain"]), "", "{name}: clean start");
        edit(&r);
        tag(&r, "app", "HEAD")
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "dockerfile",
            Box::new(|r: &TestRepo| {
                r.commit(
                    "x",
                    &[(
                        "images/app.docker",
                        "FROM proj/base\nCOPY app/ /app/\nCOPY conf/*.ini /etc/\nRUN true\n",
                    )],
                );
            }),
        ),
        (
            "copied-file",
            Box::new(|r: &TestRepo| {
                r.commit("x", &[("app/main.py", "print(2)\n")]);
            }),
        ),
        (
            "new-file-in-copied-dir",
            Box::new(|r: &TestRepo| {
                r.commit("x", &[("app/util.py", "u\n")]);
            }),
        ),
        (
            "wildcard-match-added",
            Box::new(|r: &TestRepo| {
                r.commit("x", &[("conf/b.ini", "b=2\n")]);
            }),
        ),
        (
            "deleted-input",
            Box::new(|r: &TestRepo| {
                r.delete("x", &["conf/a.ini"]);
            }),
        ),
        (
            "mode",
            Box::new(|r: &TestRepo| {
                use std::os::unix::fs::PermissionsExt;
                let p = r.path().join("app/main.py");
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
                r.commit("exec", &[("app/main.py", "print(1)\n")]);
                assert!(r
                    .git(&["ls-tree", "HEAD", "app/main.py"])
                    .starts_with("100755"));
            }),
        ),
        (
            "dockerignore",
            Box::new(|r: &TestRepo| {
                r.commit("x", &[(".dockerignore", "app/cache\n*.tmp\n")]);
            }),
        ),
        (
            "extra-input",
            Box::new(|r: &TestRepo| {
                r.commit("x", &[("images/app.d/patch.diff", "+y\n")]);
            }),
        ),
        (
            "parent",
            Box::new(|r: &TestRepo| {
                r.commit(
                    "x",
                    &[("scripts/setup.sh", "apt-get install -y git make\n")],
                );
            }),
        ),
    ];
    for (name, edit) in &cases {
        let t = changed(name, edit.as_ref());
        assert!(!seen.contains(&t), "{name}: the tag did not change ({t})");
        seen.push(t);
    }
    // Not inputs: unrelated files, ignored files, files the wildcard does not match.
    for (name, path) in [
        ("unrelated", "src/unrelated.c"),
        ("ignored", "app/cache/blob"),
        ("not-matched", "conf/readme.txt"),
    ] {
        let t = changed(name, &|r: &TestRepo| {
            r.commit("x", &[(path, "changed\n")]);
        });
        assert_eq!(t, app, "{name}: {path} is not an input");
    }
    assert_eq!(tag(&r, "base", "master"), base_tag);
}

#[test]
fn context_setting_changes_the_tag() {
    let r = rich();
    let before = tag(&r, "base", "HEAD");
    let toml = std::fs::read_to_string(r.path().join(".dockguard.toml"))
        .expect("read")
        .replace("context = \".\"", "context = \"scripts/..\"");
    r.commit("same", &[(".dockguard.toml", &toml)]);
    assert_eq!(
        tag(&r, "base", "HEAD"),
        before,
        "the same context, spelled differently"
    );
    // A context that changes which files are the build's (and so the COPY paths).
    r.commit(
        "moved",
        &[
            (
                ".dockguard.toml",
                &toml.replace("context = \"scripts/..\"", "context = \"images\""),
            ),
            ("images/scripts/setup.sh", "apt-get install -y git\n"),
        ],
    );
    assert_ne!(tag(&r, "base", "HEAD"), before);
}

#[test]
fn unknown_images_are_errors_with_suggestions() {
    let (r, _) = qemu_2021();
    let run = r.dockguard(&["tag", "--image", "debian-mips-crosss"]);
    assert_eq!(run.code, 2);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("no image named `debian-mips-crosss` (did you mean `debian-mips-cross`?)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: images here: debian-alpha-cross"),
        "{}",
        run.stderr
    );
    let empty = TestRepo::new();
    empty.commit("x", &[("README", "r\n")]);
    let run = empty.dockguard(&["tag", "--image", "x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no dockerfiles"), "{}", run.stderr);
    let run = r.dockguard(&["tag", "--image", "debian10", "no-such-rev"]);
    assert!(
        run.stderr.contains("unknown revision `no-such-rev`"),
        "{}",
        run.stderr
    );
}

#[test]
fn images_json_carries_the_same_tags() {
    let r = rich();
    let run = r.dockguard(&["images", "--format", "json"]);
    let v = run.json();
    for img in v["images"].as_array().expect("images") {
        let name = img["name"].as_str().expect("name");
        assert_eq!(img["content_tag"], tag(&r, name, "HEAD"), "{name}");
    }
}
