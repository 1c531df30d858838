//! Builds the repository declares (compose, bake, CI command lines and actions) decide
//! the context instead of the guess; a declaration that cannot be read is a warning and
//! the guess stays.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check, tag};
use crate::trees::Edit;

fn images(r: &crate::fixture::TestRepo, rev: &str) -> Value {
    let run = r.dockguard(&["images", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

/// `docker/Dockerfile` copies `config`; both `docker/config` and a root `config` exist,
/// so the guess (the dockerfile's directory) matches and is not widened. It is wrong
/// when the repository declares the context as the root.
fn layout<'a>(decl_path: &'a str, decl: &'a str) -> Vec<Edit<'a>> {
    vec![
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY config /etc/app\n",
        ),
        Edit::File("docker/config/a", "guess\n"),
        Edit::File("config/a", "root\n"),
        Edit::File(decl_path, decl),
    ]
}

fn declared_root_context(decl_path: &str, decl: &str, name: &str) {
    let base = layout(decl_path, decl);
    let (r, _, _) = branch_pair(&base, &[Edit::File("config/a", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{decl_path}: {v:#}");
    assert_eq!(affected(&v), vec![name.to_owned()], "{decl_path}");
    assert_ne!(
        tag(&r, name, "master"),
        tag(&r, name, "feature"),
        "{decl_path}"
    );
    let img = &images(&r, "feature")["images"][0];
    assert_eq!(img["context"], ".", "{decl_path}: {img:#}");
    let by = img["declared_by"].to_string();
    assert!(by.contains(decl_path), "{decl_path}: {img:#}");
    // What the declared build does not read no longer counts.
    let (r, _, _) = branch_pair(&base, &[Edit::File("docker/config/a", "changed\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false, "{decl_path}");
}

#[test]
fn compose_build_context_is_used() {
    declared_root_context(
        "docker-compose.yml",
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n",
        "docker",
    );
    // A compose file in a subdirectory: paths are relative to it.
    declared_root_context(
        "deploy/compose.yaml",
        "services:\n  app:\n    build:\n      context: ..\n      dockerfile: docker/Dockerfile\n",
        "docker",
    );
}

#[test]
fn bake_targets_are_used() {
    declared_root_context(
        "docker-bake.hcl",
        "variable \"DF\" { default = \"docker/Dockerfile\" }\ngroup \"default\" { targets = [\"app\"] }\ntarget \"app\" {\n  context = \".\"\n  dockerfile = \"${DF}\"\n}\n",
        "docker",
    );
    declared_root_context(
        "docker-bake.json",
        r#"{"group": {"default": {"targets": ["app"]}}, "target": {"app": {"context": ".", "dockerfile": "docker/Dockerfile"}}}"#,
        "docker",
    );
}

#[test]
fn ci_command_lines_and_actions_are_used() {
    declared_root_context(
        ".gitlab-ci.yml",
        "variables:\n  DF: docker/Dockerfile\nbuild:\n  script:\n    - docker build -t app -f \"$CI_PROJECT_DIR/$DF\" .\n",
        "docker",
    );
    // A hidden job runs only through the jobs that extend it (and a file counts only
    // when the pipeline includes it).
    declared_root_context(
        ".gitlab-ci.yml",
        ".tpl:\n  script:\n    - cd docker\n    - podman build --layers -f Dockerfile ..\nbuild:\n  extends: .tpl\n",
        "docker",
    );
    declared_root_context(
        ".github/workflows/images.yml",
        "jobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          file: docker/Dockerfile\n",
        "docker",
    );
    declared_root_context(
        ".github/workflows/shell.yaml",
        "jobs:\n  b:\n    steps:\n      - run: |\n          docker buildx build \\\n            --file docker/Dockerfile \\\n            ${{ github.workspace }}\n",
        "docker",
    );
}

#[test]
fn a_declared_dockerfile_with_any_name_is_an_image_and_its_build_args_decide() {
    let base = [
        Edit::File(
            ".gitlab-ci.yml",
            "build:\n  script:\n    - docker build -f ci/build.df --build-arg SRC=lib .\n",
        ),
        Edit::File("ci/build.df", "FROM debian:12\nARG SRC=src\nCOPY $SRC /x\n"),
        Edit::File("lib/a", "a\n"),
        Edit::File("src/a", "a\n"),
    ];
    for path in ["lib/a", "ci/build.df"] {
        let (r, _, _) = branch_pair(&base, &[Edit::File(path, "changed\n")]);
        let v = check(&r, "feature");
        assert_eq!(v["rebuild"], true, "{path}: {v:#}");
        assert_eq!(affected(&v), vec!["build"], "{path}");
    }
    // The only build passes SRC=lib: the default is not what it reads.
    let (r, _, _) = branch_pair(&base, &[Edit::File("src/a", "changed\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false);
}

#[test]
fn an_unreadable_declaration_warns_and_the_guess_stays() {
    let base = [
        Edit::File("docker-compose.yml", "services:\n  app: [\n"),
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY src/main.c /\n"),
        Edit::File("src/main.c", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("src/main.c", "b\n")]);
    let v = check(&r, "feature");
    assert_eq!(
        v["rebuild"], true,
        "the widened guess still counts it: {v:#}"
    );
    let w = v["targets"][0]["warnings"].to_string();
    assert!(w.contains("docker-compose.yml cannot be read"), "{w}");
    let set = images(&r, "feature");
    assert!(
        set["warnings"].to_string().contains("cannot be read"),
        "{set:#}"
    );
    // A declaration that does not name the context leaves the guess too.
    let base = [
        Edit::File(
            ".gitlab-ci.yml",
            "b:\n  script: docker build -f docker/Dockerfile $WHERE\n",
        ),
        Edit::File("docker/Dockerfile", "FROM debian:12\nCOPY a /\n"),
        Edit::File("docker/a", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("docker/a", "b\n")]);
    assert_eq!(affected(&check(&r, "feature")), vec!["docker"]);
}

#[test]
fn an_alias_bomb_is_a_warning_not_a_hang() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..14 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let base = [
        Edit::File(".gitlab-ci.yml", &bomb),
        Edit::File("docker/Dockerfile", "FROM debian:12\n"),
    ];
    let (r, _, _) = branch_pair(
        &base,
        &[Edit::File("docker/Dockerfile", "FROM debian:13\n")],
    );
    let started = std::time::Instant::now();
    let v = check(&r, "feature");
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(v["rebuild"], true);
    assert!(
        v["targets"][0]["warnings"]
            .to_string()
            .contains("more than"),
        "{v:#}"
    );
}

/// Declarations are remembered across runs (`.git/dockguard/dockerfiles-parsed`) by path
/// and blob id: the same bytes at another path declare another build (compose paths are
/// relative to the file), and an answer from the memo is the one a fresh parse gives.
#[test]
fn declarations_are_remembered_by_path_and_content() {
    let compose =
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n";
    let df = "FROM debian:12\nCOPY config /etc/app\n";
    let base = [
        Edit::File("docker/Dockerfile", df),
        Edit::File("docker/config/a", "guess\n"),
        Edit::File("config/a", "root\n"),
        Edit::File("docker-compose.yml", compose),
        Edit::File("sub/docker/Dockerfile", df),
        Edit::File("sub/docker/config/a", "guess\n"),
        Edit::File("sub/config/a", "root\n"),
        Edit::File("sub/docker-compose.yml", compose),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("sub/config/a", "changed\n")]);
    let contexts = |r: &crate::fixture::TestRepo| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = images(r, "feature")["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(|i| (i["dockerfile"].to_string(), i["context"].to_string()))
            .collect();
        v.sort();
        v
    };
    let want = vec![
        (r#""docker/Dockerfile""#.to_owned(), r#"".""#.to_owned()),
        (
            r#""sub/docker/Dockerfile""#.to_owned(),
            r#""sub""#.to_owned(),
        ),
    ];
    assert_eq!(
        contexts(&r),
        want,
        "each compose file declares its own build"
    );
    let fresh = check(&r, "feature");
    assert_eq!(fresh["rebuild"], true, "{fresh:#}");
    assert!(
        r.repo.path().join("dockguard/dockerfiles-parsed").exists(),
        "the memo is written"
    );

    // The compose file's blob gone: the memo still knows what each one declares.
    let blob = git2::Oid::hash_object(git2::ObjectType::Blob, compose.as_bytes()).expect("oid");
    let hex = blob.to_string();
    let loose = r
        .repo
        .path()
        .join("objects")
        .join(&hex[..2])
        .join(&hex[2..]);
    std::fs::remove_file(&loose).expect("remove the compose blob");
    assert_eq!(contexts(&r), want, "answered from the memo");
    assert_eq!(check(&r, "feature"), fresh);
}
