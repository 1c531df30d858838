//! `dockguard plan` with hostile image names (YAML syntax, `: `, `{`, `#`, newlines,
//! `$`, quotes, a 281-byte name, non-UTF-8 paths): the child pipeline parses with PyYAML
//! and with gitlab-ci-local into exactly the expected jobs, with every value intact; the
//! dotenv, GitHub outputs and Markdown stay within their formats.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fixture::TestRepo;
use crate::plan::{jobs, plan, yaml_to_json};
use crate::realdocker::free_port;

/// Names built to break YAML, dotenv, shells and Markdown.
fn hostile_names() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "a: b",
        "{x}",
        "#c",
        "new\nline",
        "$CI_JOB_TOKEN",
        "q\"u'ote",
        "- dash",
        "[list]",
        "tab\there",
        "back\\slash",
        "`tick`",
        "*star&anchor",
        "!tag",
        "%percent",
        "@at",
        "|pipe",
        ">fold",
        "? key",
        "true",
        "null",
        "é🐳",
        "\u{2028}sep",
        "build-base",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(b"bad\xff\xfe".to_vec());
    v
}

/// A repository with an image per hostile name, `child` FROM `base`, and a 281-byte name.
fn hostile_repo() -> (TestRepo, git2::Oid) {
    let r = TestRepo::new();
    let long = "n".repeat(280);
    let toml = format!(
        "[images]\nparent = [\"qemu/{{name}}\"]\n[[images.rule]]\ndockerfile = \"long/(?P<name>[^/]+)/Dockerfile\"\nname = \"{{name}}{long}\"\n"
    );
    let mut edits: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b".dockguard.toml".to_vec(), toml.into_bytes()),
        (
            b"docker/base/Dockerfile".to_vec(),
            b"FROM debian:12\n".to_vec(),
        ),
        (
            b"docker/child/Dockerfile".to_vec(),
            b"FROM qemu/base\n".to_vec(),
        ),
        (b"long/x/Dockerfile".to_vec(), b"FROM debian:12\n".to_vec()),
    ];
    for name in hostile_names() {
        let mut p = b"docker/".to_vec();
        p.extend_from_slice(&name);
        p.extend_from_slice(b"/Dockerfile");
        edits.push((p, b"FROM debian:12\n".to_vec()));
    }
    let refs: Vec<(&[u8], Option<&[u8]>)> = edits
        .iter()
        .map(|(p, c)| (p.as_slice(), Some(c.as_slice())))
        .collect();
    let c = r.commit_raw("hostile", &refs);
    r.remote_ref("origin", "master", c);
    (r, c)
}

#[test]
#[ignore = "needs PyYAML"]
fn hostile_image_names_cannot_escape_the_generated_files() {
    let (r, c) = hostile_repo();
    let long = "n".repeat(280);
    let files = r.scratch("out");
    std::fs::create_dir_all(&files).expect("dir");
    let f = |n: &str| files.join(n).to_string_lossy().into_owned();
    let reg = format!("127.0.0.1:{}/proj", free_port());
    let (run, v) = plan(
        &r,
        &[
            "--registry-unreachable",
            "build",
            "--registry-image",
            &reg,
            "--child-pipeline",
            &f("child.yml"),
            "--markdown",
            &f("plan.md"),
            "--dotenv",
            &f("plan.env"),
            "--dotenv-max-vars",
            "100",
            "--dotenv-images",
            "base,child",
        ],
        &[
            ("GITHUB_OUTPUT", &f("gh.out")),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", &c.to_string()),
            ("GITHUB_REF", "refs/heads/master"),
            ("GITHUB_EVENT_NAME", "push"),
        ],
    );
    let images = v["images"].as_array().expect("images");
    let n = hostile_names().len() + 3;
    assert_eq!(images.len(), n, "{}", run.stderr);
    assert!(images.iter().all(|i| i["action"] == "build"));
    let long_name = format!("x{long}");
    assert!(images.iter().any(|i| i["name"] == long_name.as_str()));

    // The child pipeline parses and defines exactly one job per image, with each image's
    // name, dockerfile and context intact (GitLab turns `$$` back into `$`).
    let y = yaml_to_json(&files.join("child.yml"));
    let expected: BTreeSet<String> = images
        .iter()
        .map(|i| format!("build-{}", repository_name_like(i)))
        .collect();
    assert_eq!(jobs(&y), expected);
    for i in images {
        let job = &y[format!("build-{}", repository_name_like(i))];
        let vars = &job["variables"];
        for (var, field) in [
            ("DOCKGUARD_IMAGE_NAME", "name"),
            ("DOCKGUARD_DOCKERFILE", "dockerfile"),
            ("DOCKGUARD_CONTEXT", "context"),
        ] {
            assert_eq!(
                vars[var].as_str().map(|s| s.replace("$$", "$")),
                i[field].as_str().map(str::to_owned),
                "{var} of {}",
                i["name"]
            );
        }
        assert_eq!(vars["DOCKGUARD_IMAGE_REF"], i["reference"]);
        assert_eq!(job["stage"], "dockguard-images");
    }
    assert_eq!(y["build-child"]["needs"], serde_json::json!(["build-base"]));
    // Job names are safe characters only.
    for j in jobs(&y) {
        assert!(
            j.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._/".contains(&b)),
            "{j:?}"
        );
    }

    // dotenv: valid lines only.
    let env = std::fs::read_to_string(f("plan.env")).expect("dotenv");
    assert_eq!(env.lines().count(), 4, "{env}");
    for line in env.lines() {
        let (k, val) = line.split_once('=').expect("k=v");
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{line}"
        );
        assert!(
            val.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"'`$#\\".contains(&b)),
            "{line}"
        );
    }
    // Every image in the dotenv is too many for the default limit: a clear error.
    let run = r.dockguard(&[
        "plan",
        "--no-fetch",
        "--registry-unreachable",
        "build",
        "--registry-image",
        &reg,
        "--dotenv",
        &f("all.env"),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--dotenv-images"), "{}", run.stderr);

    // GitHub outputs: plain `name=value` lines and heredocs whose JSON parses back.
    let gh = std::fs::read_to_string(f("gh.out")).expect("github output");
    let mut lines = gh.lines();
    let mut outputs = std::collections::BTreeMap::new();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut body = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                body.push(l);
            }
            assert_eq!(body.len(), 1, "one JSON line for {name}");
            outputs.insert(name.to_owned(), body[0].to_owned());
        } else {
            let (name, value) = line.split_once('=').expect("name=value");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{line}"
            );
            assert!(!value.contains([' ', '"', '$']), "{line}");
            outputs.insert(name.to_owned(), value.to_owned());
        }
    }
    let matrix: Value = serde_json::from_str(&outputs["matrix"]).expect("matrix JSON");
    let names: BTreeSet<&str> = matrix["include"]
        .as_array()
        .expect("include")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names.len(), n);
    assert_eq!(outputs["levels"], "2");
    assert!(outputs.contains_key("matrix-level-1"));
    let base = images.iter().find(|i| i["name"] == "base").expect("base");
    assert_eq!(
        outputs["image-base"],
        base["reference"].as_str().unwrap_or_default()
    );

    // Markdown: one table row per image, labels with no raw newline, quote or backtick.
    let md = std::fs::read_to_string(f("plan.md")).expect("markdown");
    let rows = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, n, "{md}");
    let graph: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("  n") && l.contains("[\""))
        .collect();
    assert_eq!(graph.len(), n);
    for l in graph {
        let label = &l[l.find("[\"").unwrap_or(0) + 2..l.rfind("\"]").unwrap_or(l.len())];
        assert!(
            !label.contains(['"', '`', '<', '>']) || label.contains("<br/>"),
            "{l}"
        );
    }
}

/// The job's name part for an image, from its `variable` (same hash rule) is not
/// available to the test; recompute docker's rule: names that are valid repository
/// paths stay, others are cleaned + hashed. The plan's `reference` carries it.
fn repository_name_like(i: &Value) -> String {
    let reference = i["reference"].as_str().expect("reference");
    let path = reference
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or_default();
    let path = path.rsplit_once(':').map(|(p, _)| p).unwrap_or(path);
    path.strip_prefix("proj/").unwrap_or(path).to_owned()
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn gitlab_ci_local_reads_the_hostile_child_pipeline_as_meant() {
    let tool = crate::realdocker::need(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/node_modules/.bin/gitlab-ci-local")
            .to_str()
            .expect("utf8"),
    );
    let (r, _) = hostile_repo();
    let reg = format!("127.0.0.1:{}/proj", free_port());
    let (_, v) = plan(
        &r,
        &["--registry-image", &reg, "--registry-unreachable", "build"],
        &[],
    );
    // The child pipeline in a project of its own, with a stand-in for the template's
    // hidden job that prints what a build job would receive.
    let p = TestRepo::new();
    let yml = p.scratch("child.yml");
    let run = r.dockguard(&[
        "plan",
        "--no-fetch",
        "--registry-unreachable",
        "build",
        "--registry-image",
        &reg,
        "--child-pipeline",
        yml.to_str().expect("utf8"),
        "--child-include",
        "template.yml",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    p.commit(
        "child pipeline",
        &[
            (".gitlab-ci.yml", &std::fs::read_to_string(&yml).expect("yml")),
            (
                "template.yml",
                ".dockguard-plan-build:\n  script:\n    - printf 'NAME=[%s]\\n' \"$DOCKGUARD_IMAGE_NAME\"\n    - printf 'DOCKERFILE=[%s]\\n' \"$DOCKGUARD_DOCKERFILE\"\n",
            ),
        ],
    );
    let gcl = |args: &[&str]| {
        let out = crate::fixture::hermetic(&mut Command::new(&tool))
            .current_dir(p.path())
            .args(["--no-color", "--home"])
            .arg(p.scratch("gcl-home"))
            .args(args)
            .output()
            .expect("run gitlab-ci-local");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gitlab-ci-local {args:?}:\n{text}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed: Value = serde_json::from_str(&gcl(&["--list-json"])).expect("list json");
    let names: BTreeSet<String> = listed
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["name"].as_str().map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| format!("build-{}", repository_name_like(i)))
        .collect();
    assert_eq!(names, expected);
    let child = listed
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["name"] == "build-child")
        .expect("child");
    assert_eq!(child["needs"][0]["job"], "build-base", "{child}");
    assert_eq!(child["needs"].as_array().map(Vec::len), Some(1), "{child}");
    // `$$` reaches the job as `$`: the image name `$CI_JOB_TOKEN` is not expanded.
    let token_job = expected
        .iter()
        .find(|j| j.starts_with("build-ci-job-token"))
        .expect("job");
    let log = gcl(&[
        "--shell-isolation",
        "--force-shell-executor",
        "--variable",
        "CI_JOB_TOKEN=leaked-job-token",
        token_job,
    ]);
    assert!(log.contains("NAME=[$CI_JOB_TOKEN]"), "{log}");
    assert!(
        log.contains("DOCKERFILE=[docker/$CI_JOB_TOKEN/Dockerfile]"),
        "{log}"
    );
    assert!(!log.contains("leaked-job-token"), "{log}");

    // With the shipped build and copy jobs built in (`--child-jobs`, what the templates
    // use) instead of an include: the same jobs, and nothing else runs.
    let q = TestRepo::new();
    let yml = q.scratch("child.yml");
    let run = r.dockguard(&[
        "plan",
        "--no-fetch",
        "--registry-unreachable",
        "build",
        "--registry-image",
        &reg,
        "--child-pipeline",
        yml.to_str().expect("utf8"),
        "--child-jobs",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&yml).expect("yml");
    assert!(!text.contains("include:"), "{text}");
    q.commit("child pipeline", &[(".gitlab-ci.yml", &text)]);
    let out = crate::fixture::hermetic(&mut Command::new(&tool))
        .current_dir(q.path())
        .args(["--no-color", "--home"])
        .arg(q.scratch("gcl-home"))
        .arg("--list-json")
        .output()
        .expect("run gitlab-ci-local");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).expect("list json");
    let names: BTreeSet<String> = listed
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, expected);
}
