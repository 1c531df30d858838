//! Default dockerfile names as the tools define them, and the docs' naming table is exactly
//! what the code does: every row of the table is read, instantiated as a real repository
//! and checked against `dockguard images`.

use std::collections::BTreeSet;

use dockguard::parts::{DEFAULT_DOCKERFILES, NOT_DOCKERFILES};

use crate::fixture::TestRepo;

/// The rows of the "Names and contexts" table (docs/src/images.md): (dockerfile forms, image, context).
fn table() -> Vec<(Vec<String>, String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/images.md"))
        .expect("docs/src/images.md");
    let start = doc
        .find("### Names and contexts")
        .expect("docs/src/images.md has the naming section");
    let mut rows = Vec::new();
    for line in doc[start..].lines().skip(1) {
        if line.starts_with("###") {
            break;
        }
        if !line.starts_with('|') || line.starts_with("|---") || line.contains("| dockerfile |") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a naming row has 3 cells: {line}");
        let forms = cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        rows.push((forms, cells[1].to_owned(), cells[2].to_owned()));
    }
    assert!(rows.len() >= 4, "the naming table: {rows:?}");
    rows
}

fn images(r: &TestRepo) -> Vec<(String, String, String)> {
    let run = r.dockguard(&["images", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (s("dockerfile"), s("name"), s("context"))
        })
        .collect()
}

#[test]
fn the_naming_table_is_what_the_code_does() {
    let rows = table();
    let mut globs = BTreeSet::new();
    let mut checked = 0;
    for (forms, image, context) in &rows {
        assert_eq!(
            context, "its directory",
            "every built-in context is the directory"
        );
        if forms.iter().any(|f| f == "match.*") {
            // "anything else `match.*` calls a dockerfile": its name without the last extension.
            let r = TestRepo::new();
            r.commit(
                "custom",
                &[
                    (".dockguard.toml", "[match]\ndockerfiles = [\"*.df\"]\n"),
                    ("x/build.prod.df", "FROM scratch\n"),
                ],
            );
            assert_eq!(
                images(&r),
                vec![("x/build.prod.df".into(), "build.prod".into(), "x".into())],
                "{image}"
            );
            checked += 1;
            continue;
        }
        for form in forms {
            let r = TestRepo::new();
            let path = form
                .replace("…/<dir>/", "svc/app/")
                .replace("<name>", "web");
            let path = if path.contains('/') {
                path
            } else {
                format!("d/{path}")
            };
            r.commit("one", &[(&path, "FROM scratch\n")]);
            let dir = path
                .rsplit_once('/')
                .map(|(d, _)| d.to_owned())
                .unwrap_or_default();
            let want = if image.starts_with("`<dir>`") {
                "app"
            } else {
                assert_eq!(image, "`<name>`", "{form}");
                "web"
            };
            assert_eq!(
                images(&r),
                vec![(path.clone(), want.to_owned(), dir)],
                "naming table row {form}"
            );
            // The file-name glob this form is counted by.
            let file = form.rsplit('/').next().unwrap_or(form);
            globs.insert(file.replace("<name>", "*"));
            checked += 1;
        }
        if image.contains("a root `Dockerfile` is `root`") {
            let r = TestRepo::new();
            r.commit("root", &[("Dockerfile", "FROM scratch\n")]);
            assert_eq!(
                images(&r),
                vec![("Dockerfile".into(), "root".into(), ".".into())]
            );
        }
    }
    let defaults: BTreeSet<String> = DEFAULT_DOCKERFILES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        globs, defaults,
        "the naming table lists exactly the built-in dockerfile names"
    );
    assert!(checked >= 10, "{checked} forms checked");
}

#[test]
fn the_tools_default_names_are_dockerfiles() {
    // docker's lowercase fallback, Podman's Containerfile forms.
    let (r, base) = crate::fixture::with_master();
    r.switch_new("names", base);
    r.commit(
        "more images",
        &[
            ("a/dockerfile", "FROM scratch\n"),
            ("b/web.Containerfile", "FROM scratch\n"),
            ("b/api.containerfile", "FROM scratch\n"),
        ],
    );
    let run = r.dockguard(&["check", "--format", "json"]);
    let v = run.json();
    let changed: Vec<(&str, &str)> = v["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default(),
                c["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            ("a/dockerfile", "dockerfile"),
            ("b/api.containerfile", "dockerfile"),
            ("b/web.Containerfile", "dockerfile"),
        ]
    );
}

/// The line of the "What counts" section (docs/src/check.md) that starts with `first`, as its list of
/// backticked names.
fn docs_list(first: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/check.md"))
        .expect("docs/src/check.md");
    let start = doc
        .find("### What counts: dockerfiles and image inputs")
        .expect("docs/src/check.md has the section");
    let line = doc[start..]
        .lines()
        .find(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("docs/src/check.md lists the names, starting with {first}"));
    line.split(", ")
        .map(|w| w.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn the_docs_list_exactly_the_default_names_and_what_they_leave_out() {
    let code: Vec<String> = DEFAULT_DOCKERFILES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(docs_list("`Dockerfile`, "), code);
    let not: Vec<String> = NOT_DOCKERFILES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(docs_list("`*.md`, "), not);
    // The key's own description names them too.
    let doc = dockguard::parts::KEYS
        .iter()
        .find(|k| k.name == "match.defaults")
        .expect("match.defaults")
        .doc;
    let listed = doc
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(';'))
        .map(|(list, _)| list.split(", ").map(str::to_owned).collect::<Vec<_>>());
    assert_eq!(listed, Some(code), "{doc}");
}

#[test]
fn common_spellings_are_dockerfiles_and_documentation_is_not() {
    let (r, base) = crate::fixture::with_master();
    r.switch_new("names", base);
    r.commit(
        "spellings",
        &[
            ("a/Dockerfile-dev", "FROM scratch\n"),
            ("a/Dockerfile_prod", "FROM scratch\n"),
            ("a/dockerfile.test", "FROM scratch\n"),
            ("web/DockerFile", "FROM scratch\n"),
            ("docs/Dockerfile.md", "# How to write a Dockerfile\n"),
            ("docs/Dockerfile-layers.png", "png\n"),
        ],
    );
    let run = r.dockguard(&["images", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<(String, String)> = run.json()["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            (
                i["dockerfile"].as_str().unwrap_or_default().to_owned(),
                i["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    names.sort();
    let want: Vec<(String, String)> = [
        ("a/Dockerfile-dev", "dev"),
        ("a/Dockerfile_prod", "prod"),
        ("a/dockerfile.test", "test"),
        ("docker/Dockerfile", "docker"),
        ("web/DockerFile", "web"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(names, want);
    let v = r.dockguard(&["check", "--format", "json"]).json();
    let changed: Vec<&str> = v["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert!(
        !changed.iter().any(|p| p.starts_with("docs/")),
        "{changed:?}"
    );
    // Declared, a file of any name is one.
    r.commit(
        "declared",
        &[(
            ".gitlab-ci.yml",
            "b:\n  script:\n    - docker build -f docs/Dockerfile.md .\n",
        )],
    );
    let run = r.dockguard(&["images", "--format", "json"]);
    assert!(
        run.stdout.contains("\"docs/Dockerfile.md\""),
        "{}",
        run.stdout
    );
}
