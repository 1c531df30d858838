//! The GitHub action's scripts (`ci/github/dockguard.sh`, `ci/github/build.sh`) in
//! content mode, with a real dockerd and registry. There is no hosted runner here: the
//! test plays it. It gives each script the environment GitHub gives a composite
//! action's step (`GITHUB_*`, the event payload file, `$GITHUB_OUTPUT`, the inputs as the
//! `env:` of ci/github/action.yml and ci/github/build/action.yml map them), reads
//! `$GITHUB_OUTPUT` as GitHub does, runs one build step per entry of `matrix-level-0`,
//! then `matrix-level-1` (the example workflow's jobs), and then a test step on the
//! image `outputs.images` names. What it does not run: GitHub's expression evaluation
//! (`fromJSON`, `toJSON(matrix)`), which the test does by hand with serde_json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fixture::{git, hermetic};
use crate::github_workflow::outputs;
use crate::pipelines::{tools, Lab, QEMU_BASE, QEMU_CHILD, QEMU_TOML};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("ci/github")
        .join(name)
}

struct Runner<'a> {
    lab: &'a Lab,
    dir: PathBuf,
    checkout: PathBuf,
    branch: String,
}

impl Runner<'_> {
    /// A depth-1 checkout of `branch`, as actions/checkout leaves it.
    fn new<'a>(lab: &'a Lab, branch: &str) -> Runner<'a> {
        let checkout = lab.checkout(branch);
        let dir = checkout
            .parent()
            .expect("the run's directory")
            .to_path_buf();
        Runner {
            lab,
            dir,
            checkout,
            branch: branch.to_owned(),
        }
    }

    /// Runs a script as a step: GitHub's variables, the step's `env:`.
    fn step(&self, name: &str, env: &[(&str, String)]) -> (bool, String, BTreeMap<String, String>) {
        let output = self.dir.join(format!("{name}.output"));
        let summary = self.dir.join("summary.md");
        let event = self.dir.join("event.json");
        std::fs::write(
            &event,
            r#"{"before":"0000000000000000000000000000000000000000","repository":{"default_branch":"master"}}"#,
        )
        .expect("event");
        let _ = std::fs::remove_file(&output);
        let sha = git(&self.checkout, &["rev-parse", "HEAD"]);
        let path = format!(
            "{}:{}:{}",
            self.lab.bin.display(),
            self.lab.bin_dg.display(),
            crate::fixture::test_path().to_string_lossy()
        );
        let mut cmd = Command::new("bash");
        hermetic(&mut cmd)
            .arg(script(name))
            .current_dir(&self.checkout)
            .env("PATH", path)
            .env("DOCKER_HOST", &self.lab.d.host)
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env("GIT_CONFIG_GLOBAL", self.dir.join("gitconfig"))
            .env("RUNNER_TOOL_CACHE", self.dir.join("tool-cache"))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REF", format!("refs/heads/{}", self.branch))
            .env("GITHUB_REF_NAME", &self.branch)
            .env("GITHUB_REF_TYPE", "branch")
            .env("GITHUB_SHA", sha)
            .env("GITHUB_REPOSITORY", "owner/project")
            .env("GITHUB_RUN_ID", "1")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("bash");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let outs = outputs(&std::fs::read_to_string(&output).unwrap_or_default());
        (out.status.success(), log, outs)
    }

    /// The plan step (ci/github/action.yml, mode: content), then one build step per
    /// entry, level by level; returns the plan's outputs and the built images' names.
    fn workflow(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let registry = format!("{}/qemu", self.lab.host());
        let (ok, log, outs) = self.step(
            "dockguard.sh",
            &[
                ("DOCKGUARD_ACTION_MODE", "content".into()),
                ("INPUT_REGISTRY_IMAGE", registry),
                ("DOCKGUARD_ACTION_STRICT", "false".into()),
            ],
        );
        assert!(ok, "the plan step failed:\n{log}");
        let mut built = Vec::new();
        let levels: usize = outs["levels"].parse().expect("levels");
        for level in 0..levels {
            let matrix: Value =
                serde_json::from_str(&outs[&format!("matrix-level-{level}")]).expect("matrix");
            for entry in matrix["include"].as_array().expect("include") {
                let field = |k: &str| entry[k].as_str().unwrap_or_default().to_owned();
                let env = [
                    ("DOCKGUARD_ACTION", field("action")),
                    ("DOCKGUARD_IMAGE_NAME", field("name")),
                    ("DOCKGUARD_IMAGE_REF", field("image")),
                    ("DOCKGUARD_DOCKERFILE", field("dockerfile")),
                    ("DOCKGUARD_CONTEXT", field("context")),
                    ("DOCKGUARD_UPSTREAM_REF", field("upstream-image")),
                    ("DOCKGUARD_COPY_FROM", field("upstream-image")),
                    ("DOCKGUARD_PARENT_LINES", field("parent-lines")),
                    ("DOCKGUARD_DEFAULT_BRANCH", "master".into()),
                    (
                        "DOCKGUARD_BUILD_ARGS",
                        "--label \"built-by=the test\"".into(),
                    ),
                ];
                let (ok, log, _) = self.step("build.sh", &env);
                assert!(ok, "building {}:\n{log}", field("name"));
                built.push(field("name"));
            }
        }
        (outs, built)
    }
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn the_action_plans_builds_level_by_level_and_jobs_run_on_their_own_images() {
    tools();
    let lab = Lab::new(&[
        (".dockguard.toml", QEMU_TOML),
        ("tests/docker/dockerfiles/base.docker", QEMU_BASE),
        ("tests/docker/dockerfiles/child.docker", QEMU_CHILD),
        ("tests/docker/dockerfiles/child.d/marker", "child-master\n"),
    ]);
    // master: both, base first (level 0), child on it (level 1).
    let (outs, built) = Runner::new(&lab, "master").workflow();
    assert_eq!(built, ["base", "child"]);
    assert_eq!(outs["levels"], "2");
    assert_eq!(outs["build-count"], "2");
    let images: Value = serde_json::from_str(&outs["images"]).expect("images");
    let child = images["child"].as_str().expect("child").to_owned();
    assert_eq!(
        lab.run_in(&child, "cat /marker"),
        "base-master\nchild-master"
    );
    assert!(
        lab.exists(&format!("{}/qemu/base:latest", lab.host())),
        "default branch: latest"
    );
    let label = lab.d.docker_ok(
        None,
        &[
            "inspect",
            "-f",
            "{{index .Config.Labels \"built-by\"}}",
            &child,
        ],
    );
    assert_eq!(label, "the test", "build-args with a space in a value");

    // A branch changing the child: only the child, at level 0 (its parent exists).
    let m = lab.repo.head();
    lab.repo.switch_new("feature", m);
    lab.commit(
        "child: feature",
        &[("tests/docker/dockerfiles/child.d/marker", "child-feature\n")],
    );
    lab.push();
    let (outs, built) = Runner::new(&lab, "feature").workflow();
    assert_eq!(built, ["child"]);
    assert_eq!(outs["levels"], "1");
    let images: Value = serde_json::from_str(&outs["images"]).expect("images");
    let feature_child = images["child"].as_str().expect("child");
    assert_ne!(feature_child, child);
    assert_eq!(
        lab.run_in(feature_child, "cat /marker"),
        "base-master\nchild-feature"
    );
    // Run again: nothing to build, the same references.
    let (outs, built) = Runner::new(&lab, "feature").workflow();
    assert!(built.is_empty());
    assert_eq!(outs["levels"], "0");
    assert_eq!(
        serde_json::from_str::<Value>(&outs["images"]).expect("images")["child"],
        feature_child
    );
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn the_action_refuses_an_unpinned_download_and_a_docker_command_line() {
    tools();
    let lab = Lab::new(&[("tests/docker/dockerfiles/base.docker", QEMU_BASE)]);
    let r = Runner::new(&lab, "master");
    // No dockguard on PATH here: the step must download it, and only a pinned one.
    let mut cmd_env = vec![(
        "DOCKGUARD_BINARY_URL",
        format!("file://{}", crate::fixture::dockguard_bin()),
    )];
    let run = |env: &[(&str, String)]| {
        let mut c = Command::new("bash");
        hermetic(&mut c)
            .arg(script("dockguard.sh"))
            .current_dir(&r.checkout)
            .env("RUNNER_TOOL_CACHE", r.dir.join("tc"));
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().expect("bash");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (ok, log) = run(&cmd_env);
    assert!(!ok);
    assert!(log.contains("binary-url needs binary-sha256"), "{log}");
    cmd_env.push(("DOCKGUARD_BINARY_SHA256", "1".repeat(64)));
    let (ok, log) = run(&cmd_env);
    assert!(!ok);
    assert!(
        log.contains("does not match binary-sha256: not run"),
        "{log}"
    );
    let (ok, log, _) = r.step(
        "build.sh",
        &[
            ("DOCKGUARD_DOCKER", "sh -c id".into()),
            ("DOCKGUARD_ACTION", "build".into()),
            ("DOCKGUARD_IMAGE_REF", "x".into()),
        ],
    );
    assert!(!ok);
    assert!(log.contains("docker must be docker or podman"), "{log}");
}

#[test]
#[ignore = "needs dockerd and docker-registry"]
fn a_build_in_the_tool_cache_never_runs_unchecked() {
    // The tool cache outlives a run on a self-hosted runner, where any job's steps can
    // write it (and actions/cache once restored it for git-url): a binary found there
    // must not run in git-url mode; the step builds its own (the stand-in cargo of
    // crate::pipelines::stand_in_cargo) outside the workspace.
    tools();
    let lab = Lab::new(&[("tests/docker/dockerfiles/base.docker", QEMU_BASE)]);
    let r = Runner::new(&lab, "master");
    let marker = r.dir.join("planted-ran");
    let cached = r.dir.join("tool-cache/dockguard/bin/dockguard");
    std::fs::create_dir_all(cached.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &cached,
        format!("#!/bin/sh\necho planted >> '{}'\n", marker.display()),
    )
    .expect("plant");
    let mut perm = std::fs::metadata(&cached).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&cached, perm).expect("chmod");
    let record = r.dir.join("cargo-record");
    crate::pipelines::stand_in_cargo(&lab, &record);
    // No dockguard on PATH: the step must get one.
    let path = format!(
        "{}:{}",
        lab.bin.display(),
        crate::fixture::test_path().to_string_lossy()
    );
    let (ok, log, outs) = r.step(
        "dockguard.sh",
        &[
            ("PATH", path),
            (
                "DOCKGUARD_GIT_URL",
                "https://dockguard.invalid/dockguard.git".into(),
            ),
        ],
    );
    assert!(!marker.exists(), "the cached binary ran:\n{log}");
    assert!(ok, "{log}");
    let record = std::fs::read_to_string(&record).expect("cargo install ran");
    let cwd = record.lines().next().unwrap_or_default();
    assert!(!Path::new(cwd).starts_with(&r.dir), "{cwd}");
    assert!(outs.contains_key("decision"), "{outs:?}\n{log}");
}
