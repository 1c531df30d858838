//! The shipped example workflow (ci/github/example-workflow.yml) run job by job, the way
//! a runner runs it, against a real dockerd and registry.
//!
//! The stand-in is for the hosted runner only: this test reads the workflow, orders its
//! jobs by `needs`, evaluates each `if:`, `strategy.matrix`, `with:`, `env:` and
//! `outputs:` with GitHub's expression rules (tests/it/github_expr.rs), expands the
//! composite actions `uses:` names (`YOUR-ORG/dockguard/<dir>@<tag>` is this checkout's
//! `<dir>/action.yml`), and runs each of their `run:` steps with bash as the runner
//! does (`bash --noprofile --norc -eo pipefail`, `$GITHUB_ACTION_PATH`, `$GITHUB_OUTPUT`
//! read back into step outputs). Every job starts as on a fresh runner: a new checkout
//! (`actions/checkout` = a depth-1 clone), no dockguard on PATH, its own docker config
//! and tool cache, and no local images (a hosted runner's daemon starts empty).
//! What it replaces, as a user copying the example would: every `binary-url` and
//! `binary-sha256` input (a `file://` URL of the binary under test and its sha256) and
//! the plan step's registry inputs. The test job's own `run:` steps are the
//! project's (`make check`); the test checks the content of the image its `container:`
//! names instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::fixture::{dockguard_bin, hermetic};
use crate::github_expr::{interpolate, to_text, truthy};
use crate::pipelines::Lab;

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn yaml(rel: &str) -> Value {
    crate::plan::yaml_to_json(&repo_path(rel))
}

/// One run of the workflow: its event and what a user edits in the example.
pub struct Run<'a> {
    pub lab: &'a Lab,
    pub branch: String,
    pub event_name: &'static str,
    pub event: Value,
    /// Inputs added to the plan step's `with:` (registry-image, credentials).
    pub plan_with: Vec<(&'static str, String)>,
    /// Inputs added to every build step's `with:`.
    pub build_with: Vec<(&'static str, String)>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Job name (with the matrix entry's `name`) → success.
    pub jobs: BTreeMap<String, bool>,
    /// The jobs skipped by their `if:`.
    pub skipped: Vec<String>,
    /// Every step's output, in order.
    pub log: String,
    /// The plan job's outputs.
    pub plan: BTreeMap<String, String>,
    /// The image the test job's `container:` names, if it ran.
    pub test_image: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.jobs.values().all(|ok| *ok) && !self.jobs.is_empty()
    }
}

/// `$GITHUB_OUTPUT` as GitHub reads it: `k=v` lines and `k<<DELIM` heredocs.
pub fn outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.insert(k.to_owned(), v.join("\n"));
        } else if let Some((k, v)) = l.split_once('=') {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

fn sha256(file: &str) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .expect("sum")
        .to_owned()
}

fn strings(m: &BTreeMap<String, String>) -> Value {
    m.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

impl Run<'_> {
    /// Runs every job of the example workflow; stops at the first failed job (the later
    /// ones' `!failure()` would skip them).
    pub fn go(&self) -> Outcome {
        let wf = yaml("ci/github/example-workflow.yml");
        let env: BTreeMap<String, String> = wf["env"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), to_text(v))).collect())
            .unwrap_or_default();
        let jobs = wf["jobs"].as_object().expect("jobs").clone();
        let mut needs_ctx = serde_json::Map::new();
        let mut out = Outcome::default();
        let mut done: Vec<String> = Vec::new();
        while done.len() < jobs.len() {
            let (name, job) = jobs
                .iter()
                .find(|(n, j)| !done.contains(n) && needs_of(j).iter().all(|d| done.contains(d)))
                .expect("a job whose needs are done (a cycle?)");
            done.push(name.clone());
            let ctx = json!({
                "github": self.github(),
                "env": env,
                "secrets": {"GITHUB_TOKEN": ""},
                "needs": needs_ctx.clone(),
            });
            let condition = job["if"].as_str().unwrap_or("success()");
            let condition = condition
                .trim()
                .strip_prefix("${{")
                .and_then(|c| c.strip_suffix("}}"))
                .unwrap_or(condition);
            if !truthy(&crate::github_expr::eval(condition, &ctx)) {
                out.skipped.push(name.clone());
                needs_ctx.insert(name.clone(), json!({"result": "skipped", "outputs": {}}));
                continue;
            }
            let entries = matrix(name, job, &ctx);
            let mut job_outputs = BTreeMap::new();
            for entry in entries {
                let label = match entry["name"].as_str() {
                    Some(n) => format!("{name} ({n})"),
                    None => name.clone(),
                };
                let mut ctx = ctx.clone();
                ctx["matrix"] = entry;
                let (ok, steps) = self.job(job, &ctx, &mut out);
                out.jobs.insert(label, ok);
                if !ok {
                    return out;
                }
                if let Some(o) = job["outputs"].as_object() {
                    let mut c = ctx.clone();
                    c["steps"] = steps;
                    for (k, v) in o {
                        job_outputs.insert(k.clone(), to_text(&interpolate(&to_text(v), &c)));
                    }
                }
            }
            if name == "plan" {
                out.plan = job_outputs.clone();
            }
            if let Some(image) = job.get("container").and_then(|c| c.get("image")) {
                out.test_image = Some(to_text(&interpolate(&to_text(image), &ctx)));
            }
            needs_ctx.insert(
                name.clone(),
                json!({"result": "success", "outputs": strings(&job_outputs)}),
            );
        }
        out
    }

    fn github(&self) -> Value {
        json!({
            "event_name": self.event_name,
            "event": self.event,
            "ref": format!("refs/heads/{}", self.branch),
            "ref_name": self.branch,
            "repository": "owner/project",
        })
    }

    /// One job on a fresh runner: its steps in order; the `steps` context it leaves.
    fn job(&self, job: &Value, ctx: &Value, out: &mut Outcome) -> (bool, Value) {
        self.lab.forget_local_images();
        let checkout = self.lab.checkout(&self.branch);
        let runner = checkout.parent().expect("run dir").to_path_buf();
        let mut steps = serde_json::Map::new();
        for (n, step) in job["steps"].as_array().expect("steps").iter().enumerate() {
            let uses = step["uses"].as_str().unwrap_or_default();
            if uses.starts_with("actions/checkout@") || uses.is_empty() {
                continue; // the checkout above; a `run:` step is the project's own
            }
            let dir = uses
                .strip_prefix("YOUR-ORG/dockguard/")
                .and_then(|u| u.split('@').next())
                .unwrap_or_else(|| panic!("the test runs dockguard's actions only: {uses}"));
            let mut c = ctx.clone();
            c["steps"] = Value::Object(steps.clone());
            let mut with: BTreeMap<String, String> = step["with"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), to_text(&interpolate(&to_text(v), &c))))
                        .collect()
                })
                .unwrap_or_default();
            let extra = if dir == "ci/github" {
                &self.plan_with
            } else {
                &self.build_with
            };
            for (k, v) in extra {
                with.insert((*k).to_owned(), v.clone());
            }
            // The release download the example pins, as the binary under test.
            if with.contains_key("binary-url") {
                with.insert("binary-url".into(), format!("file://{}", dockguard_bin()));
                with.insert("binary-sha256".into(), sha256(dockguard_bin()));
            }
            let step_env: Vec<(String, String)> = step["env"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), to_text(&interpolate(&to_text(v), &c))))
                        .collect()
                })
                .unwrap_or_default();
            let (ok, outs) = self.composite(
                dir,
                &with,
                &step_env,
                &c,
                &checkout,
                &runner.join(format!("step-{n}")),
                out,
            );
            let id = step["id"]
                .as_str()
                .map_or_else(|| format!("step{n}"), str::to_owned);
            steps.insert(id, json!({"outputs": strings(&outs)}));
            if !ok {
                return (false, Value::Object(steps));
            }
        }
        (true, Value::Object(steps))
    }

    /// A composite action's steps (`<dir>/action.yml`); its declared outputs.
    #[allow(clippy::too_many_arguments)]
    fn composite(
        &self,
        dir: &str,
        with: &BTreeMap<String, String>,
        step_env: &[(String, String)],
        ctx: &Value,
        checkout: &Path,
        scratch: &Path,
        out: &mut Outcome,
    ) -> (bool, BTreeMap<String, String>) {
        let action = yaml(&format!("{dir}/action.yml"));
        let mut inputs = serde_json::Map::new();
        for (k, spec) in action["inputs"].as_object().expect("inputs") {
            let v = match with.get(k) {
                Some(v) => v.clone(),
                None => to_text(&interpolate(&to_text(&spec["default"]), ctx)),
            };
            inputs.insert(k.clone(), Value::String(v));
        }
        for k in with.keys() {
            assert!(
                inputs.contains_key(k),
                "{dir}/action.yml has no input `{k}`"
            );
        }
        let mut c = ctx.clone();
        c["inputs"] = Value::Object(inputs);
        std::fs::create_dir_all(scratch).expect("mkdir");
        let mut inner = serde_json::Map::new();
        for (n, s) in action["runs"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .enumerate()
        {
            assert_eq!(s["shell"], "bash", "{dir}: a step's shell");
            let script = scratch.join(format!("run-{n}.sh"));
            std::fs::write(&script, to_text(&s["run"])).expect("script");
            let output = scratch.join(format!("output-{n}"));
            std::fs::write(&output, "").expect("output");
            let mut cmd = Command::new("bash");
            hermetic(&mut cmd)
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script)
                .current_dir(checkout)
                .envs(self.runner_env(checkout, scratch, &output))
                .env("GITHUB_ACTION_PATH", repo_path(dir));
            for (k, v) in step_env {
                cmd.env(k, v);
            }
            for (k, v) in s["env"].as_object().into_iter().flatten() {
                cmd.env(k, to_text(&interpolate(&to_text(v), &c)));
            }
            let o = cmd.output().expect("bash");
            out.log.push_str(&format!(
                "--- {dir} step {n}\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
            let outs = outputs(&std::fs::read_to_string(&output).unwrap_or_default());
            let id = s["id"]
                .as_str()
                .map_or_else(|| format!("step{n}"), str::to_owned);
            inner.insert(id, json!({"outputs": strings(&outs)}));
            if !o.status.success() {
                return (false, BTreeMap::new());
            }
        }
        c["steps"] = Value::Object(inner);
        let declared = action["outputs"].as_object().cloned().unwrap_or_default();
        let outs = declared
            .iter()
            .map(|(k, v)| (k.clone(), to_text(&interpolate(&to_text(&v["value"]), &c))))
            .collect();
        (true, outs)
    }

    /// The variables a runner gives every step (a fresh runner per job: its own docker
    /// config, tool cache and git config; no dockguard on PATH).
    fn runner_env(&self, checkout: &Path, scratch: &Path, output: &Path) -> Vec<(String, String)> {
        let runner = checkout.parent().expect("run dir");
        let event = runner.join("event.json");
        std::fs::write(&event, self.event.to_string()).expect("event");
        let sha = crate::fixture::git(checkout, &["rev-parse", "HEAD"]);
        let path = format!(
            "{}:{}",
            self.lab.bin.display(),
            crate::fixture::test_path().to_string_lossy()
        );
        let p = |p: PathBuf| p.display().to_string();
        [
            ("PATH", path),
            ("DOCKER_HOST", self.lab.d.host.clone()),
            ("DOCKER_CONFIG", p(runner.join("docker-config"))),
            ("GIT_CONFIG_GLOBAL", p(runner.join("gitconfig"))),
            ("RUNNER_TOOL_CACHE", p(runner.join("tool-cache"))),
            ("RUNNER_TEMP", p(scratch.to_path_buf())),
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_EVENT_NAME", self.event_name.into()),
            ("GITHUB_EVENT_PATH", p(event)),
            ("GITHUB_REF", format!("refs/heads/{}", self.branch)),
            ("GITHUB_REF_NAME", self.branch.clone()),
            ("GITHUB_REF_TYPE", "branch".into()),
            ("GITHUB_SHA", sha),
            ("GITHUB_REPOSITORY", "owner/project".into()),
            ("GITHUB_RUN_ID", "1".into()),
            ("GITHUB_OUTPUT", p(output.to_path_buf())),
            ("GITHUB_STEP_SUMMARY", p(scratch.join("summary.md"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A job's matrix entries (`strategy.matrix`, its `include` list), or one run without.
fn matrix(name: &str, job: &Value, ctx: &Value) -> Vec<Value> {
    let Some(m) = job.get("strategy").and_then(|s| s.get("matrix")) else {
        return vec![Value::Null];
    };
    let m = match m {
        Value::String(s) => interpolate(s, ctx),
        other => other.clone(),
    };
    let include = m["include"].as_array().cloned().unwrap_or_default();
    assert!(
        !include.is_empty(),
        "{name}: an empty matrix is an error on GitHub"
    );
    include
}

fn needs_of(job: &Value) -> Vec<String> {
    match &job["needs"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(to_text).collect(),
        _ => Vec::new(),
    }
}
