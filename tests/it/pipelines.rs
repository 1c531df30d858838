//! The shipped GitLab templates run for real: gitlab-ci-local 4.70.1 (shell executor)
//! runs `ci/gitlab/dockguard-content.yml` (content tags: plan, then the generated child
//! pipeline) and `ci/gitlab/dockguard.yml` (one global decision) on shallow clones of a
//! real repository, with a real `dockerd` (one per lab: see [`Lab::new`]) and a
//! real `docker-registry` per test. Jobs run Debian's docker CLI; the project is
//! QEMU-shaped: a base image and a child `FROM <registry>/qemu/base:latest`.
//!
//! What cannot run here: a hosted GitLab (gitlab-ci-local plays it; it runs child
//! pipelines from `trigger: include: artifact:` and skips services whose name is empty,
//! which is how these projects say "the runner has its own docker"), and a per-job
//! docker-in-docker daemon: the jobs share one daemon, so before every pipeline the test
//! removes every local image of its registry ([`Lab::forget_local_images`]), as a fresh
//! dind daemon would start.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::fixture::{dockguard_bin, git, hermetic, require_tool, TestRepo};
use crate::realdocker::{Dockerd, Registry, DOCKER};
use crate::server::Server;

/// The templates as shipped.
pub fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One project's world: its repository and upstream server, its registry, the daemon.
pub struct Lab {
    /// The developer's repository.
    pub repo: TestRepo,
    /// The bare repository pipelines clone from (GitLab's copy).
    pub upstream: PathBuf,
    /// The same, as the recording server (`server.pushes()`).
    pub server: Server,
    /// This project's registry (`CI_REGISTRY`).
    pub reg: Registry,
    /// The shared daemon.
    pub d: Arc<Dockerd>,
    /// `PATH` directories with `docker` (Debian's CLI), and with `dockguard`.
    pub bin: PathBuf,
    /// See [`Lab::bin`].
    pub bin_dg: PathBuf,
    runs: std::cell::Cell<usize>,
}

/// What one pipeline did.
pub struct Pipeline {
    /// gitlab-ci-local's exit status was success.
    pub ok: bool,
    /// Its whole output (every job's log, prefixed with the job name).
    pub log: String,
    /// The checkout it ran in.
    pub checkout: PathBuf,
    /// Seconds it took.
    pub seconds: f64,
}

impl Pipeline {
    /// A job's artifact file, if it wrote one.
    pub fn artifact(&self, job: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(
            self.checkout
                .join(".gitlab-ci-local/artifacts")
                .join(job)
                .join(file),
        )
        .ok()
    }

    /// A job's dotenv report (gitlab-ci-local keeps it apart from the artifacts).
    pub fn dotenv(&self, job: &str, file: &str) -> String {
        self.artifact(job, &format!(".gitlab-ci-reports/dotenv/{file}"))
            .unwrap_or_else(|| panic!("no dotenv report {file} from {job}:\n{}", self.log))
    }

    /// The plan the `dockguard-plan` job wrote.
    pub fn plan(&self) -> Value {
        let text = self
            .artifact("dockguard-plan", "dockguard-plan.json")
            .unwrap_or_else(|| panic!("no plan artifact:\n{}", self.log));
        serde_json::from_str(&text).expect("plan JSON")
    }

    /// `(name, action)` per image of the plan, in build order.
    pub fn actions(&self) -> Vec<(String, String)> {
        self.plan()["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap_or_default().to_owned(),
                    i["action"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The plan's reference for `image`.
    pub fn reference(&self, image: &str) -> String {
        self.plan()["images"]
            .as_array()
            .expect("images")
            .iter()
            .find(|i| i["name"] == image)
            .and_then(|i| i["reference"].as_str())
            .unwrap_or_else(|| panic!("no image {image} in the plan"))
            .to_owned()
    }

    /// The log's lines without the child pipeline's `\t[trigger job] -> ` prefix.
    fn lines(&self) -> impl Iterator<Item = &str> {
        self.log.lines().map(|l| {
            let t = l.trim_start();
            match t.strip_prefix('[').and_then(|r| r.split_once("] -> ")) {
                Some((_, rest)) => rest,
                None => l,
            }
        })
    }

    /// Lines a job printed (gitlab-ci-local prefixes them with `<job> >`).
    pub fn job_lines(&self, job: &str) -> Vec<String> {
        self.lines()
            .filter(|l| l.split_whitespace().next() == Some(job))
            .filter_map(|l| l.split_once(" > ").map(|(_, r)| r.to_owned()))
            .collect()
    }

    /// The jobs that started, in order.
    pub fn started(&self) -> Vec<String> {
        self.lines()
            .filter(|l| l.contains(" starting "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    }

    /// Asserts that it succeeded, with the log when not.
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok, "the pipeline failed:\n{}", self.log);
        self
    }
}

/// How to run a pipeline.
#[derive(Debug, Default, Clone)]
pub struct Opts {
    /// The project's CI/CD settings (gitlab-ci-local's home variables file), which every
    /// pipeline of the project has, child pipelines too.
    pub project_vars: Vec<(String, String)>,
    /// Pipeline variables (what `git push -o ci.variable=` sets): gitlab-ci-local's
    /// `--variable`; GitLab does not forward them to child pipelines, nor does it.
    pub pipeline_vars: Vec<String>,
    /// Only these jobs (none: the whole pipeline).
    pub jobs: Vec<String>,
    /// `CI_REGISTRY` (default: the lab's registry); `CI_REGISTRY_IMAGE` is `<it>/qemu`.
    pub registry: Option<String>,
    /// Another CI configuration file than `.gitlab-ci.yml`.
    pub file: Option<String>,
    /// `Some(false)`: no `dockguard` on the jobs' PATH (the template must fetch it).
    pub dockguard_on_path: Option<bool>,
}

impl Opts {
    /// Adds a project variable.
    pub fn project(mut self, k: &str, v: &str) -> Self {
        self.project_vars.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Adds a pipeline variable `K=V`.
    pub fn var(mut self, kv: &str) -> Self {
        self.pipeline_vars.push(kv.to_owned());
        self
    }

    /// Runs only `jobs`.
    pub fn jobs(mut self, jobs: &[&str]) -> Self {
        self.jobs = jobs.iter().map(|j| (*j).to_owned()).collect();
        self
    }

    /// Uses `host` as `CI_REGISTRY`.
    pub fn registry(mut self, host: &str) -> Self {
        self.registry = Some(host.to_owned());
        self
    }
}

/// A pipeline run's outcome.
fn finished(checkout: &Path, out: std::process::Output, started: Instant) -> Pipeline {
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Pipeline {
        ok: out.status.success(),
        log,
        checkout: checkout.to_path_buf(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The tools every test here needs, or a panic that says how to get them.
pub fn tools() -> PathBuf {
    require_tool("rsync");
    crate::realdocker::need("dockerd");
    crate::realdocker::need(DOCKER);
    require_tool("gitlab-ci-local")
}

impl Lab {
    /// A repository whose master has `files` (written with `@REG@` replaced by the
    /// registry's `127.0.0.1:PORT`) and a busybox base image `@REG@/base/busybox:1`.
    pub fn new(files: &[(&str, &str)]) -> Lab {
        tools();
        let reg = Registry::start();
        // A daemon of its own: a lab removes its images between pipelines (as a fresh
        // dind daemon would start empty), which raced with other tests' builds that
        // shared cached layers on one daemon ("failed to get digest").
        let d = Arc::new(Dockerd::start());
        d.push_busybox(&format!("{}/base/busybox:1", reg.host()));
        let repo = TestRepo::new();
        let owned: Vec<(String, String)> = files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.replace("@REG@", &reg.host())))
            .collect();
        let refs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        repo.commit("project", &refs);
        // The server records what each push carried (push options included), as GitLab sees it.
        let server = Server::new(&repo, "upstream");
        let upstream = server.dir.clone();
        repo.git(&["remote", "add", "upstream", server.url()]);
        repo.git(&["push", "-q", "upstream", "master"]);
        let bin = repo.scratch("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        std::os::unix::fs::symlink(DOCKER, bin.join("docker")).expect("docker symlink");
        let bin_dg = repo.scratch("bin-dockguard");
        std::fs::create_dir_all(&bin_dg).expect("bin dir");
        std::os::unix::fs::symlink(dockguard_bin(), bin_dg.join("dockguard")).expect("symlink");
        Lab {
            repo,
            upstream,
            server,
            reg,
            d,
            bin,
            bin_dg,
            runs: std::cell::Cell::new(0),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.reg.host()
    }

    /// Writes `files` (with `@REG@` replaced) on the current branch, commits.
    pub fn commit(&self, msg: &str, files: &[(&str, &str)]) -> git2::Oid {
        let owned: Vec<(String, String)> = files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.replace("@REG@", &self.host())))
            .collect();
        let refs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        self.repo.commit(msg, &refs)
    }

    /// Pushes every branch to the upstream server (force: branches are rewritten too).
    pub fn push(&self) {
        self.repo
            .git(&["push", "-q", "-f", "upstream", "refs/heads/*:refs/heads/*"]);
    }

    /// Removes every local image of this lab's registry from the shared daemon, as a
    /// fresh docker-in-docker daemon of a GitLab job would start.
    pub fn forget_local_images(&self) {
        let out = self.d.docker_ok(
            None,
            &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
        );
        let prefix = format!("{}/", self.host());
        let mine: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&prefix) && !l.contains("/base/busybox:"))
            .filter_map(|l| l.split(' ').next())
            .collect();
        if !mine.is_empty() {
            let mut args = vec!["rmi", "-f"];
            args.extend(mine);
            let _ = self.d.docker(&args);
        }
    }

    /// Runs the pipeline of `branch` (as pushed) under gitlab-ci-local in a new depth-1
    /// clone, with `opts`.
    pub fn pipeline(&self, branch: &str, opts: &Opts) -> Pipeline {
        let checkout = self.checkout(branch);
        self.run(&checkout, opts)
    }

    /// A new depth-1 clone of `branch` from the upstream server, as a runner makes it.
    pub fn checkout(&self, branch: &str) -> PathBuf {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let dir = self.repo.scratch(&format!("run-{n}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let checkout = dir.join("checkout");
        git(
            &dir,
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                "--branch",
                branch,
                &format!("file://{}", self.upstream.display()),
                checkout.to_str().expect("utf8"),
            ],
        );
        checkout
    }

    /// Runs gitlab-ci-local in `checkout` (again, for the jobs of `opts.jobs`: their
    /// earlier jobs' artifacts are still there).
    pub fn run(&self, checkout: &Path, opts: &Opts) -> Pipeline {
        self.forget_local_images();
        let mut cmd = self.command(checkout, opts);
        let t = Instant::now();
        let out = cmd.output().expect("run gitlab-ci-local");
        finished(checkout, out, t)
    }

    /// Runs the pipelines of several checkouts at once, on this lab's one daemon (as jobs
    /// of a runner with `dind_image: ""` share it).
    pub fn run_together(&self, runs: &[(PathBuf, Opts)]) -> Vec<Pipeline> {
        self.forget_local_images();
        let t = Instant::now();
        let children: Vec<std::process::Child> = runs
            .iter()
            .map(|(checkout, opts)| {
                self.command(checkout, opts)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start gitlab-ci-local")
            })
            .collect();
        children
            .into_iter()
            .zip(runs)
            .map(|(c, (checkout, _))| {
                finished(checkout, c.wait_with_output().expect("gitlab-ci-local"), t)
            })
            .collect()
    }

    /// The gitlab-ci-local command for `checkout`'s pipeline.
    fn command(&self, checkout: &Path, opts: &Opts) -> Command {
        let tool = tools();
        let dir = checkout.parent().expect("run dir");
        let home = dir.join("gcl-home");
        std::fs::create_dir_all(home.join(".gitlab-ci-local")).expect("home");
        let registry = opts.registry.clone().unwrap_or_else(|| self.host());
        let mut vars = format!(
            "global:\n  CI_DEFAULT_BRANCH: master\n  CI_REGISTRY: \"{registry}\"\n  CI_REGISTRY_IMAGE: \"{registry}/qemu\"\n"
        );
        for (k, v) in &opts.project_vars {
            vars.push_str(&format!(
                "  {k}: {}\n",
                serde_json::to_string(v).expect("json")
            ));
        }
        std::fs::write(home.join(".gitlab-ci-local/variables.yml"), vars).expect("vars");
        let mut path = format!("{}:", self.bin.display());
        if opts.dockguard_on_path != Some(false) {
            path.push_str(&format!("{}:", self.bin_dg.display()));
        }
        path.push_str(&crate::fixture::test_path().to_string_lossy());
        let mut cmd = Command::new(tool);
        hermetic(&mut cmd)
            .current_dir(checkout)
            .env("PATH", path)
            .env("DOCKER_HOST", &self.d.host)
            .env("DOCKER_CONFIG", dir.join("docker-config"))
            .env("GIT_CONFIG_GLOBAL", dir.join("gitconfig"))
            .args([
                "--shell-isolation",
                "--force-shell-executor",
                "--no-color",
                "--home",
            ])
            .arg(&home)
            .args([
                "--ignore-predefined-vars",
                "CI_DEFAULT_BRANCH,CI_REGISTRY,CI_REGISTRY_IMAGE,CI_REGISTRY_USER,CI_REGISTRY_PASSWORD",
            ]);
        if let Some(file) = &opts.file {
            cmd.args(["--file", file]);
        }
        for v in &opts.pipeline_vars {
            cmd.args(["--variable", v]);
        }
        cmd.args(&opts.jobs);
        cmd
    }

    /// Runs `cmd` inside `image` (pulled from the registry: local copies are removed
    /// first) and returns its output.
    pub fn run_in(&self, image: &str, cmd: &str) -> String {
        self.forget_local_images();
        self.d.docker_ok(
            None,
            &["run", "--rm", "--network", "none", image, "sh", "-c", cmd],
        )
    }

    /// Whether `reference` exists in the registry (`docker manifest inspect --insecure`:
    /// the registry is plain HTTP on loopback).
    pub fn exists(&self, reference: &str) -> bool {
        let out = self
            .d
            .docker(&["manifest", "inspect", "--insecure", reference]);
        if !out.status.success() {
            eprintln!(
                "{reference}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        out.status.success()
    }
}

/// The text between `# --- <name> (the same text in every dockguard template) ---` and
/// `# --- end of <name> ---` in `file`.
fn block(file: &str, name: &str) -> Option<String> {
    let text = shipped(file);
    let start = text.find(&format!(
        "# --- {name} (the same text in every dockguard template) ---"
    ))?;
    let end = text[start..].find(&format!("# --- end of {name} ---"))?;
    Some(text[start..start + end].to_owned())
}

#[test]
fn the_templates_share_their_docker_and_binary_steps_word_for_word() {
    // The steps that run docker and fetch the binary are written once and copied into
    // each file (GitLab has no include that both an include template and a component
    // could share): a fix in one copy must reach them all.
    let files = [
        "ci/gitlab/dockguard.yml",
        "ci/gitlab/dockguard-content.yml",
        "ci/gitlab/dockguard-child.yml",
        "templates/dockguard/template.yml",
    ];
    for name in ["dockguard docker steps", "dockguard binary steps"] {
        let copies: Vec<(&str, String)> = files
            .iter()
            .filter_map(|f| block(f, name).map(|b| (*f, b)))
            .collect();
        assert!(
            copies.len() >= 3,
            "{name}: found in {:?}",
            copies.iter().map(|c| c.0).collect::<Vec<_>>()
        );
        for (f, b) in &copies[1..] {
            assert_eq!(b, &copies[0].1, "{name}: {f} differs from {}", copies[0].0);
        }
    }
}

/// The QEMU-like lab's `.dockguard.toml`: images under tests/docker/dockerfiles, built from
/// the root, with `<name>.d/` as inputs and parents in this project's registry.
pub const QEMU_TOML: &str = r#"[images]
parent = ["@REG@/qemu/{name}"]

[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\.docker'
context = "."
inputs = ["tests/docker/dockerfiles/{name}.d/**"]
"#;

/// The lab's base image, marker `master`.
pub const QEMU_BASE: &str = "FROM @REG@/base/busybox:1\nRUN echo base-master > /base-marker\n";

/// The lab's child image: FROM base, copies its marker.
pub const QEMU_CHILD: &str = "FROM @REG@/qemu/base:latest\nCOPY tests/docker/dockerfiles/child.d/marker /child-marker\nRUN cat /base-marker /child-marker > /marker\n";

/// What a branch planted for the binary steps of a template to run, and how to see
/// whether anything of it ran.
pub struct Planted {
    /// Written to by every planted executable that runs.
    pub marker: PathBuf,
    /// Written to by the stand-in `cargo` (its working directory, then its arguments).
    pub cargo_record: PathBuf,
}

impl Planted {
    /// Whether a planted executable ran.
    pub fn ran(&self) -> Option<String> {
        std::fs::read_to_string(&self.marker).ok()
    }
}

/// Creates `branch` (pushed) whose commit holds executables where the templates' binary
/// steps once looked for a cached build (`.dockguard-cache/bin/dockguard`) and keep
/// their cached download (`.dockguard-cache/dockguard`): a branch can commit any file
/// of the checkout, and the job's `cache:` would spread it. Each writes `marker` when run.
///
/// Also puts [`stand_in_cargo`] on the jobs' PATH.
pub fn plant_binaries(lab: &Lab, branch: &str) -> Planted {
    let marker = lab.repo.scratch(&format!("planted-ran-{branch}"));
    let cargo_record = lab.repo.scratch(&format!("cargo-record-{branch}"));
    let script = format!(
        "#!/bin/sh\necho \"planted $0 ran\" >> '{}'\n",
        marker.display()
    );
    let at = lab.repo.head();
    lab.repo.switch_new(branch, at);
    let paths = [
        ".dockguard-cache/bin/dockguard",
        ".dockguard-cache/dockguard",
    ];
    lab.commit(
        "plant executables where a cache would be",
        &[(paths[0], &script), (paths[1], &script)],
    );
    let mut args = vec!["update-index", "--chmod=+x"];
    args.extend(paths);
    lab.repo.git(&args);
    lab.repo
        .git(&["commit", "-q", "-m", "make them executable"]);
    lab.repo.checkout("master");
    lab.push();
    stand_in_cargo(lab, &cargo_record);
    Planted {
        marker,
        cargo_record,
    }
}

/// Puts a stand-in `cargo` into the lab's `bin` (on the jobs' PATH): a real `cargo install
/// --git` of dockguard takes minutes and needs the network. It records its working
/// directory and arguments in `record` and installs the dockguard under test into
/// `--root DIR`'s `bin/`, which is what `cargo install` leaves there. The templates' own
/// decision logic runs unchanged around it.
pub fn stand_in_cargo(lab: &Lab, record: &Path) {
    let cargo = format!(
        "#!/bin/sh\n# Stand-in for `cargo install --root DIR ... dockguard` (see plant_binaries).\n\
         {{ pwd; printf '%s\\n' \"$@\"; }} > '{record}'\n\
         root=\"\"\n\
         while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
         [ -n \"$root\" ] || {{ echo 'stand-in cargo: no --root' >&2; exit 1; }}\n\
         mkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/dockguard\"\n",
        record = record.display(),
        bin = dockguard_bin(),
    );
    let path = lab.bin.join("cargo");
    std::fs::write(&path, cargo).expect("stand-in cargo");
    let mut perm = std::fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&path, perm).expect("chmod");
}

/// Asserts that in `p`, on `planted`'s branch, no planted executable ran and that
/// dockguard was built by the stand-in cargo outside the checkout.
pub fn assert_built_here(p: &Pipeline, planted: &Planted) {
    assert_eq!(planted.ran(), None, "a committed binary ran:\n{}", p.log);
    let record = std::fs::read_to_string(&planted.cargo_record)
        .unwrap_or_else(|_| panic!("cargo install never ran:\n{}", p.log));
    let cwd = record.lines().next().unwrap_or_default();
    assert!(
        !Path::new(cwd).starts_with(p.checkout.parent().expect("run dir")),
        "cargo ran in the checkout ({cwd}):\n{}",
        p.log
    );
    assert!(record.contains("--git"), "{record}");
}
