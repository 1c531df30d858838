//! Builds declared through compose, bake and GitHub Actions, resolved as those tools
//! resolve them (extends, merge keys, `.env`, override files, inline dockerfiles; bake
//! override files and bake-action; matrix, composite actions, reusable workflows) decide
//! an image's context end to end.

use serde_json::Value;

use crate::contexts::{affected, branch_pair, check};
use crate::trees::Edit;

fn images(r: &crate::fixture::TestRepo, rev: &str) -> Value {
    let run = r.dockguard(&["images", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

/// `docker/Dockerfile` copies `config`, which exists beside it and at the root: the guess
/// (its directory) is wrong when the declarations `files` build it from the root.
fn root_context(files: &[(&str, &str)], declared_in: &str) {
    let mut base = vec![
        Edit::File(
            "docker/Dockerfile",
            "FROM debian:12\nCOPY config /etc/app\n",
        ),
        Edit::File("docker/config/a", "guess\n"),
        Edit::File("config/a", "root\n"),
    ];
    base.extend(files.iter().map(|(p, t)| Edit::File(p, t)));
    let (r, _, _) = branch_pair(&base, &[Edit::File("config/a", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{declared_in}: {v:#}");
    assert_eq!(affected(&v), vec!["docker".to_owned()], "{declared_in}");
    let set = images(&r, "feature");
    let img = set["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["name"] == "docker")
        .expect("the image");
    assert_eq!(img["context"], ".", "{declared_in}: {img:#}");
    let by = img["declared_by"].to_string();
    assert!(by.contains(declared_in), "{declared_in}: {img:#}");
    let (r, _, _) = branch_pair(&base, &[Edit::File("docker/config/a", "changed\n")]);
    assert_eq!(
        check(&r, "feature")["rebuild"],
        false,
        "{declared_in}: the guessed context no longer counts"
    );
}

#[test]
fn compose_extends_from_another_file_decides_the_context() {
    root_context(
        &[
            (
                "compose.yaml",
                "services:\n  app:\n    extends:\n      file: common/base.yml\n      service: base\n",
            ),
            (
                "common/base.yml",
                "services:\n  base:\n    build:\n      context: ..\n      dockerfile: docker/Dockerfile\n",
            ),
        ],
        "common/base.yml:3",
    );
}

#[test]
fn compose_merge_keys_decide_the_context() {
    root_context(
        &[(
            "docker-compose.yml",
            "x-build: &build\n  build:\n    context: .\n    dockerfile: docker/Dockerfile\nservices:\n  app:\n    <<: *build\n",
        )],
        "docker-compose.yml:2",
    );
}

#[test]
fn compose_env_file_decides_the_context() {
    root_context(
        &[
            (
                "docker-compose.yml",
                "services:\n  app:\n    build:\n      context: ${CTX}\n      dockerfile: ${DIR:-nowhere}/Dockerfile\n",
            ),
            (".env", "CTX=.\nDIR=docker\n"),
        ],
        "docker-compose.yml:3",
    );
}

/// The override file's build args are merged onto the service they override.
#[test]
fn a_compose_override_file_is_merged_onto_its_project() {
    let base = [
        Edit::File(
            "compose.yaml",
            "services:\n  app:\n    build:\n      context: .\n      dockerfile: ci/build.Dockerfile\n",
        ),
        Edit::File(
            "compose.override.yaml",
            "services:\n  app:\n    build:\n      args:\n        SRC: lib\n",
        ),
        Edit::File("ci/build.Dockerfile", "FROM debian:12\nARG SRC=src\nCOPY $SRC /x\n"),
        Edit::File("lib/a", "a\n"),
        Edit::File("src/a", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("lib/a", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(affected(&v), vec!["build"]);
}

/// An inline dockerfile is an image of its own: named after its service or target, built
/// from the declared context, changed with the file that declares it.
fn inline_image(file: &str, text: &str, name: &str) {
    let base = [
        Edit::File(file, text),
        Edit::File("config/a", "a\n"),
        Edit::File("other/a", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("config/a", "changed\n")]);
    let v = check(&r, "feature");
    assert_eq!(v["rebuild"], true, "{file}: {v:#}");
    assert_eq!(affected(&v), vec![name.to_owned()], "{file}");
    let set = images(&r, "feature");
    let img = &set["images"][0];
    assert_eq!(img["name"], name, "{set:#}");
    assert_eq!(img["context"], ".", "{img:#}");
    assert!(
        img["dockerfile_links"].to_string().contains(file),
        "{img:#}"
    );
    let (r, _, _) = branch_pair(&base, &[Edit::File("other/a", "changed\n")]);
    assert_eq!(check(&r, "feature")["rebuild"], false, "{file}");
    let edited = text.replace("/etc/app", "/etc/app2");
    let (r, _, _) = branch_pair(&base, &[Edit::File(file, &edited)]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec![name.to_owned()], "{file}: {v:#}");
}

#[test]
fn a_compose_inline_dockerfile_is_an_image() {
    inline_image(
        "deploy/compose.yaml",
        "services:\n  web:\n    build:\n      context: ..\n      dockerfile_inline: |\n        FROM debian:12\n        COPY config /etc/app\n",
        "web",
    );
}

#[test]
fn a_bake_inline_dockerfile_is_an_image() {
    inline_image(
        "docker-bake.hcl",
        "group \"default\" { targets = [\"tool\"] }\ntarget \"tool\" {\n  dockerfile-inline = <<EOT\nFROM debian:12\nCOPY config /etc/app\nEOT\n}\n",
        "tool",
    );
}

#[test]
fn a_bake_override_file_is_merged() {
    root_context(
        &[
            (
                "docker-bake.hcl",
                "group \"default\" { targets = [\"app\"] }\ntarget \"app\" {\n  context = \"docker\"\n  dockerfile = \"Dockerfile\"\n}\n",
            ),
            (
                "docker-bake.override.hcl",
                "target \"app\" {\n  context = \".\"\n  dockerfile = \"docker/Dockerfile\"\n}\n",
            ),
        ],
        "docker-bake.hcl:2",
    );
    // bake-action runs in the repository root: paths are relative to it, not to the file.
}

#[test]
fn bake_action_paths_are_relative_to_its_workdir() {
    root_context(
        &[
            (
                ".github/workflows/bake.yml",
                "on: push\njobs:\n  bake:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/bake-action@v6\n        with:\n          files: deploy/docker-bake.hcl\n          targets: app\n",
            ),
            (
                "deploy/docker-bake.hcl",
                "target \"app\" {\n  context = \".\"\n  dockerfile = \"docker/Dockerfile\"\n}\n",
            ),
        ],
        "deploy/docker-bake.hcl:1",
    );
}

#[test]
fn a_github_matrix_value_names_the_dockerfile() {
    root_context(
        &[(
            ".github/workflows/images.yml",
            "on: push\njobs:\n  build:\n    strategy:\n      matrix:\n        image: [docker]\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: .\n          file: ${{ matrix.image }}/Dockerfile\n",
        )],
        ".github/workflows/images.yml:9",
    );
}

#[test]
fn a_local_composite_action_builds_with_its_inputs() {
    root_context(
        &[
            (
                ".github/workflows/ci.yml",
                "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: ./.github/actions/image\n        with:\n          dir: docker\n",
            ),
            (
                ".github/actions/image/action.yml",
                "inputs:\n  dir: {required: true}\n  context: {default: .}\nruns:\n  using: composite\n  steps:\n    - uses: docker/build-push-action@v6\n      with:\n        context: ${{ inputs.context }}\n        file: ${{ inputs.dir }}/Dockerfile\n",
            ),
        ],
        ".github/actions/image/action.yml:7",
    );
}

#[test]
fn a_local_reusable_workflow_builds_with_its_inputs() {
    root_context(
        &[
            (
                ".github/workflows/ci.yml",
                "on: push\njobs:\n  images:\n    uses: ./.github/workflows/image.yml\n    with:\n      context: .\n",
            ),
            (
                ".github/workflows/image.yml",
                "on:\n  workflow_call:\n    inputs:\n      context: {type: string}\n      file: {type: string, default: docker/Dockerfile}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker build -f ${{ inputs.file }} ${{ inputs.context }}\n",
            ),
        ],
        ".github/workflows/image.yml:10",
    );
}
