//! The user stays in control, and is told why: `match.exclude` wins for image inputs and
//! for images; `check` and the hook's block message say, per counted path, which image
//! reads it, the dockerfile line, where the context came from, and the one line that
//! would stop counting it (pasted here, it does); with several merge-bases they name
//! the one that differs; a changed build declaration is a rebuild.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check};
use crate::fixture::{dockguard, git, TestRepo};
use crate::server::{push, Server};
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
    // `debian` is built by no job: counted anyway, so that only the exclude removes images.
    let config = "match.exclude = [\"tests/docker/dockerfiles/debian-bootstrap.docker\", \"ci/**\"]\nimages.undeclared = \"count\"\n";
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

/// The one reader of `hw/core/cpu-common.c` in the QEMU-like layout.
fn assert_bootstrap_reads_it(change: &Value) {
    let r = &change["read_by"][0];
    assert_eq!(r["image"], "debian-bootstrap", "{change:#}");
    assert_eq!(
        r["dockerfile"],
        "tests/docker/dockerfiles/debian-bootstrap.docker"
    );
    assert_eq!(r["reads"], "source");
    assert_eq!(r["line"], 3);
    assert_eq!(r["instruction"], "ADD . /");
    assert_eq!(r["context"], ".");
    assert_eq!(r["context_from"], "declared");
    let origin = r["origin"].as_str().expect("origin");
    assert!(
        origin.starts_with(".gitlab-ci.yml:1: job `bootstrap`: docker build (.gitlab-ci.yml:3)"),
        "{origin}"
    );
    assert_eq!(change["read_by"].as_array().map(Vec::len), Some(1));
}

#[test]
fn check_says_which_image_reads_a_path_from_which_line_and_context() {
    let (r, _, _) = branch_pair(&qemu_like(""), C_CHANGE);
    let v = check(&r, "feature");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let change = &v["targets"][0]["changes"][0];
    assert_bootstrap_reads_it(change);
    assert_eq!(
        change["silence"],
        serde_json::json!({ "file": ".dockguard.toml", "line": "match.exclude = [\"hw/core/cpu-common.c\"]" })
    );
    let human = r.dockguard(&["check", "feature"]);
    for needle in [
        "read by image `debian-bootstrap`: tests/docker/dockerfiles/debian-bootstrap.docker line 3: `ADD . /`, context `.` (declared by .gitlab-ci.yml:1: job `bootstrap`: docker build (.gitlab-ci.yml:3)",
        "to stop counting it, in the upstream branch's .dockguard.toml: match.exclude = [\"hw/core/cpu-common.c\"]",
    ] {
        assert!(human.stdout.contains(needle), "{needle}\n{}", human.stdout);
    }
}

#[test]
fn guessed_widened_and_ignore_file_contexts_are_named() {
    let base = [
        // Guessed: the dockerfile's directory, which has what it copies.
        Edit::File("app/Dockerfile", "FROM debian:12\nCOPY . /app\n"),
        Edit::File("app/main.c", "1\n"),
        Edit::File("app/.dockerignore", "*.md\n"),
        // Widened: `src/main.c` is not in `docker/`, so the root is judged too.
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY src/main.c /\n"),
        Edit::File("src/main.c", "1\n"),
    ];
    let (r, _, _) = branch_pair(
        &base,
        &[
            Edit::File("app/main.c", "2\n"),
            Edit::File("src/main.c", "2\n"),
            Edit::File("app/.dockerignore", "*.txt\n"),
        ],
    );
    let v = check(&r, "feature");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let by_path = |p: &str| -> Value {
        v["targets"][0]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["path"] == p)
            .unwrap_or_else(|| panic!("{p} in {v:#}"))["read_by"][0]
            .clone()
    };
    let app = by_path("app/main.c");
    assert_eq!(
        (
            &app["image"],
            &app["line"],
            &app["context"],
            &app["context_from"]
        ),
        (&"app".into(), &2.into(), &"app".into(), &"guessed".into()),
        "{app:#}"
    );
    assert_eq!(app["kept_by"], "app/.dockerignore");
    let src = by_path("src/main.c");
    assert_eq!(src["image"], "docker");
    assert_eq!(src["context"], ".");
    assert_eq!(src["context_from"], "widened");
    assert!(
        src["origin"]
            .as_str()
            .is_some_and(|o| o.contains("`src/main.c` matches nothing in the context")),
        "{src:#}"
    );
    let ignore = by_path("app/.dockerignore");
    assert_eq!(ignore["reads"], "dockerignore");
    // A path only `match.inputs` counts belongs to no image: it says so.
    let (r, _, _) = branch_pair(
        &[
            Edit::File("docker/Dockerfile", "FROM debian:12\n"),
            Edit::File(".dockguard.toml", "match.inputs = [\"scripts/**\"]\n"),
        ],
        &[Edit::File("scripts/setup.sh", "x\n")],
    );
    let v = check(&r, "feature");
    let reader = &v["targets"][0]["changes"][0]["read_by"][0];
    assert_eq!(reader["reads"], "match_input", "{v:#}");
    assert!(reader.get("image").is_none());
}

/// A clone whose `origin` is a recording server, `upstream/master` at the base, the hook
/// installed; `feature` checked out with `change` committed.
fn pushed_clone(base: &[Edit<'_>], change: &[Edit<'_>]) -> (TestRepo, Server) {
    let r = TestRepo::new();
    let b = commit_edits(
        &r,
        Some("refs/heads/master"),
        &[],
        None,
        base,
        1_700_000_000,
    );
    r.checkout("master");
    let server = Server::new(&r, "server");
    r.git(&["remote", "add", "origin", server.url()]);
    push(r.path(), &["-q", "origin", "master"]).ok();
    r.remote_ref("upstream", "master", b);
    let run = dockguard(r.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    commit_edits(
        &r,
        Some("refs/heads/feature"),
        &[b],
        Some(b),
        change,
        1_700_000_100,
    );
    r.checkout("feature");
    (r, server)
}

/// The silencing line of the hook's block message, pasted under `[match]` of upstream's
/// `.dockguard.toml`, lets the same change through; the branch's own edit does not.
#[test]
fn the_block_message_names_the_reader_and_its_silencing_line_works_when_pasted() {
    let config =
        "# the project's settings\n[match]\nexclude = [\"docs/**\"]\n\n[images]\nparent = []\n";
    let (r, server) = pushed_clone(&qemu_like(config), C_CHANGE);
    let blocked = push(r.path(), &["origin", "feature"]).failed();
    let err = &blocked.stderr;
    for needle in [
        "modified hw/core/cpu-common.c (image input)",
        "read by image `debian-bootstrap`: tests/docker/dockerfiles/debian-bootstrap.docker line 3: `ADD . /`, context `.` (declared by .gitlab-ci.yml:1: job `bootstrap`: docker build (.gitlab-ci.yml:3)",
        "to stop counting it, under [match] in the upstream branch's .dockguard.toml: exclude = [\"docs/**\", \"hw/core/cpu-common.c\"]",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
    assert_eq!(server.pushes().len(), 1, "only master reached the server");
    let line = err
        .lines()
        .find_map(|l| l.split_once("upstream branch's .dockguard.toml: "))
        .map(|(_, line)| line.to_owned())
        .expect("a silencing line");
    let pasted = config.replace("exclude = [\"docs/**\"]", &line);

    // On the branch itself it cannot silence its own change: the merge-base's rules
    // judge it too.
    r.commit("silence it here", &[(".dockguard.toml", &pasted)]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert!(paths(&v).contains(&"hw/core/cpu-common.c".to_owned()));

    // Upstream takes the line; the same change on a branch from there goes through.
    git(r.path(), &["checkout", "-q", "master"]);
    r.commit(
        "dockguard: hw is not in any image",
        &[(".dockguard.toml", &pasted)],
    );
    let master = r.head();
    // (Upstream's own push is not this hook's to judge.)
    push(r.path(), &["-q", "--no-verify", "origin", "master"]).ok();
    r.remote_ref("upstream", "master", master);
    r.switch_new("feature2", master);
    r.commit(
        "edit cpu-common",
        &[("hw/core/cpu-common.c", "int cpu = 1;\n")],
    );
    let done = push(r.path(), &["origin", "feature2"]).ok();
    assert!(
        done.stderr.contains("no image rebuild needed"),
        "{}",
        done.stderr
    );
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

fn build_change(base_decl: &str, tip_decl: &str, path: &str) -> Value {
    let base = [
        Edit::File("docker/Dockerfile", "FROM debian:12\nARG V\nRUN echo $V\n"),
        Edit::File(path, base_decl),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File(path, tip_decl)]);
    let v = check(&r, "feature");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    if v["rebuild"] == true {
        let human = r.dockguard(&["check", "feature"]);
        assert!(
            human
                .stdout
                .contains("build    image `docker`: its build changed: "),
            "{}",
            human.stdout
        );
    }
    v
}

#[test]
fn a_changed_build_declaration_is_a_rebuild() {
    let job = |arg: &str| {
        format!("build:\n  script:\n    - docker build --build-arg V={arg} -f docker/Dockerfile docker\n")
    };
    // The build arg of the CI job changes: no file the image reads does.
    let v = build_change(&job("1"), &job("2"), ".gitlab-ci.yml");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert!(paths(&v).is_empty(), "no input path changed: {v:#}");
    let b = &v["targets"][0]["build_changes"][0];
    assert_eq!(b["image"], "docker");
    assert!(
        b["origin"].as_str().is_some_and(
            |o| o.starts_with(".gitlab-ci.yml:1: job `build`: docker build (.gitlab-ci.yml:3)")
        ),
        "{b:#}"
    );
    assert_eq!(affected(&v), vec!["docker"]);
    let why = v["targets"][0]["images"][0]["reasons"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.starts_with("its build changed: .gitlab-ci.yml:1: job `build`"),
        "{why}"
    );
    assert!(
        v["targets"][0]["reasons"]
            .to_string()
            .contains("the declared build of image `docker` differs from the merge-base"),
        "{v:#}"
    );

    // A compose service's args.
    let svc =
        |extra: &str| format!("services:\n  web:\n    build:\n      context: docker\n{extra}");
    for (before, after) in [
        (
            "      args:\n        V: \"1\"\n",
            "      args:\n        V: \"2\"\n",
        ),
        ("", "      args:\n        - V=1\n"),
    ] {
        let v = build_change(&svc(before), &svc(after), "docker-compose.yml");
        assert_eq!(v["rebuild"], true, "{after}: {v:#}");
        assert_eq!(v["targets"][0]["build_changes"][0]["image"], "docker");
    }
    let v = build_change(
        &job("1"),
        "build:\n  script:\n    - docker build --build-arg V=1 -f docker/Dockerfile .\n",
        ".gitlab-ci.yml",
    );
    assert_eq!(v["rebuild"], true, "a new context: {v:#}");

    // The same build written elsewhere in the file (another line, another job name) is
    // the same build: no rebuild.
    let v = build_change(
        &job("1"),
        &format!(
            "# moved\nother:\n  script:\n    - echo hi\n{}",
            job("1").replace("build:", "renamed:")
        ),
        ".gitlab-ci.yml",
    );
    assert_eq!(v["rebuild"], false, "{v:#}");
    // A build removed: what CI builds changed too.
    let v = build_change(
        &job("1"),
        "test:\n  script:\n    - make check\n",
        ".gitlab-ci.yml",
    );
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(v["targets"][0]["build_changes"][0]["removed"], true);
}

/// When git config sets `match.exclude` (overriding the file), the line is a `git config`
/// command, and run as printed it silences the path.
#[test]
fn with_git_config_excludes_the_silencing_line_is_a_git_config_command() {
    let (r, _, _) = branch_pair(&qemu_like(""), C_CHANGE);
    r.git(&["config", "dockguard.match.exclude", "docs/**"]);
    let v = check(&r, "feature");
    let s = &v["targets"][0]["changes"][0]["silence"];
    assert_eq!(s["file"], "git config", "{v:#}");
    let line = s["line"].as_str().expect("line");
    assert_eq!(
        line,
        "git config --add dockguard.match.exclude hw/core/cpu-common.c"
    );
    crate::server::sh(r.path(), line).ok();
    assert_eq!(check(&r, "feature")["rebuild"], false);
}
