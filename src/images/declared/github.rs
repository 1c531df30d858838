//! GitHub Actions workflows (`.github/workflows/*.yml`): every job's steps, once per
//! `strategy.matrix` combination, with `env` (workflow, job, step) and
//! `defaults.run.working-directory` (workflow, job) and `working-directory` applied, and
//! `${{ … }}` evaluated ([`expr`]). Builds are `run:` scripts' builder command lines,
//! `docker/build-push-action` (`context`, `file`, `target`, `build-args`,
//! `build-contexts`), `docker/bake-action` (`files`, `targets`, `workdir`, `set`, read
//! with [`bake::invoke`](super::bake::invoke)), and Docker container actions of the
//! repository. Local composite actions (`uses: ./path`, `runs.steps` with
//! `${{ inputs.* }}` from the caller's `with:` and the action's defaults) and local
//! reusable workflows (`jobs.<id>.uses: ./.github/workflows/x.yml`, `with:` and
//! `on.workflow_call.inputs` defaults) are followed. A workflow that only runs when called
//! (`on: workflow_call`) is resolved through its callers, not alone. Other remote actions
//! and workflows build nothing here.
//!
//! A build whose context or dockerfile depends on an expression that cannot be evaluated
//! (a matrix from `fromJSON`, a step output) is also [`Opaque`].

mod actions;
mod expr;

use std::collections::HashMap;

use super::super::buildcmd::{build_calls, repo_path};
use super::super::dockerfile::ANY;
use super::super::shwords::commands;
use super::super::yaml::{self, Y};
use super::bake;
use super::{from_call, Declared, Files, Opaque, Origin};
use expr::{combinations, substitute, Ctx, M};

/// Nested local actions and reusable workflows followed (GitHub allows ten levels).
const MAX_DEPTH: usize = 10;

/// Resolves a workflow file.
pub(super) fn resolve(
    shown: &str,
    text: &str,
    files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let docs = yaml::load(text)?;
    let mut w = Walker {
        files,
        out,
        stack: vec![shown.to_owned()],
    };
    for doc in &docs {
        if only_called(doc) {
            continue; // resolved through its callers
        }
        w.workflow(shown, doc, None, "");
    }
    Ok(())
}

/// Whether a workflow runs only when another calls it.
fn only_called(doc: &Y) -> bool {
    match doc.get("on").or_else(|| doc.get("true")) {
        Some(Y::Str(s, _)) => s == "workflow_call",
        Some(Y::Seq(v)) => !v.is_empty() && v.iter().all(|t| t.str() == Some("workflow_call")),
        Some(m @ Y::Map(_)) => {
            let e = m.entries();
            !e.is_empty() && e.iter().all(|(k, _)| *k == "workflow_call")
        }
        None => false,
    }
}

/// `env:` values, evaluated.
fn env_of(y: Option<&Y>, ctx: &Ctx, into: &mut HashMap<String, String>) {
    for (k, v) in y.map(Y::entries).unwrap_or_default() {
        match v.str() {
            Some(s) => into.insert(k.to_owned(), substitute(s, ctx)),
            None => into.insert(k.to_owned(), ANY.to_string()),
        };
    }
}

/// `defaults.run.working-directory`.
fn default_dir(y: &Y) -> Option<&str> {
    y.get("defaults")?
        .get("run")?
        .get("working-directory")?
        .str()
}

/// The inputs of a call: `with:` evaluated, then the callee's defaults.
fn inputs(with: Option<&Y>, declared: Option<&Y>, ctx: &Ctx) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in with.map(Y::entries).unwrap_or_default() {
        let value = v
            .str()
            .map_or_else(|| ANY.to_string(), |s| substitute(s, ctx));
        out.insert(k.to_owned(), value);
    }
    for (k, spec) in declared.map(Y::entries).unwrap_or_default() {
        if !out.contains_key(k) {
            if let Some(d) = spec.get("default").and_then(Y::str) {
                out.insert(k.to_owned(), substitute(d, ctx));
            }
        }
    }
    out
}

/// A text list input (`files`, `targets`, `set`, `build-args`): one item a line, or comma
/// separated.
fn list(s: &str, commas: bool) -> Vec<String> {
    s.lines()
        .flat_map(|l| {
            if commas {
                l.split(',').map(str::to_owned).collect::<Vec<_>>()
            } else {
                vec![l.to_owned()]
            }
        })
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}

struct Walker<'a> {
    files: &'a dyn Files,
    out: &'a mut Declared,
    /// The workflows and actions being followed (for loops and depth).
    stack: Vec<String>,
}

impl Walker<'_> {
    fn opaque(&mut self, origin: Origin, why: impl Into<String>) {
        self.out.opaque.push(Opaque {
            origin,
            why: why.into(),
        });
    }

    /// A workflow's jobs; `inputs` when called, `via` says by whom (for messages).
    fn workflow(
        &mut self,
        file: &str,
        doc: &Y,
        inputs: Option<HashMap<String, String>>,
        via: &str,
    ) {
        let base = Ctx {
            inputs,
            ..Ctx::default()
        };
        let mut wf_env = HashMap::new();
        env_of(doc.get("env"), &base, &mut wf_env);
        let wf_dir = default_dir(doc).map(str::to_owned);
        let Some(jobs) = doc.get("jobs") else {
            return;
        };
        let Y::Map(jobs) = jobs else {
            return;
        };
        for (key, job) in jobs {
            let Some(job_name) = key.str() else { continue };
            let origin = Origin {
                file: file.to_owned(),
                line: key.line(),
                what: format!("job `{job_name}`{via}"),
            };
            let combos = match combinations(job.get("strategy").and_then(|s| s.get("matrix"))) {
                Ok(Some(c)) => c.into_iter().map(Some).collect(),
                Ok(None) => vec![None],
                Err(_) => {
                    // Every matrix value is unknown: builds that depend on one are opaque.
                    let ctx = Ctx {
                        matrix_unknown: true,
                        env: wf_env.clone(),
                        ..base.clone()
                    };
                    self.job(&origin, job, &ctx, wf_dir.as_deref());
                    continue;
                }
            };
            for m in combos {
                let what = match &m {
                    Some(M::Map(pairs)) if !pairs.is_empty() => {
                        let shown: Vec<String> = pairs
                            .iter()
                            .filter_map(|(k, v)| match v {
                                M::Str(s) => Some(format!("{k}={s}")),
                                _ => None,
                            })
                            .collect();
                        format!("{} (matrix {})", origin.what, shown.join(", "))
                    }
                    _ => origin.what.clone(),
                };
                let ctx = Ctx {
                    matrix: m,
                    env: wf_env.clone(),
                    ..base.clone()
                };
                let origin = Origin {
                    what,
                    ..origin.clone()
                };
                self.job(&origin, job, &ctx, wf_dir.as_deref());
            }
        }
    }

    /// One job in one matrix combination.
    fn job(&mut self, origin: &Origin, job: &Y, ctx: &Ctx, wf_dir: Option<&str>) {
        let mut ctx = ctx.clone();
        let mut env = ctx.env.clone();
        env_of(job.get("env"), &ctx, &mut env);
        ctx.env = env;
        if let Some(uses) = job.get("uses").and_then(Y::str) {
            self.call(origin, uses, job.get("with"), &ctx);
            return;
        }
        let dir = default_dir(job).or(wf_dir).map(|d| substitute(d, &ctx));
        if let Some(Y::Seq(steps)) = job.get("steps") {
            self.steps(&origin.file, &origin.what, steps, &ctx, dir.as_deref());
        }
    }

    /// A reusable workflow call.
    fn call(&mut self, origin: &Origin, uses: &str, with: Option<&Y>, ctx: &Ctx) {
        let Some(path) = uses.strip_prefix("./") else {
            return; // a remote workflow builds nothing of this repository
        };
        let path = path.split('@').next().unwrap_or(path).to_owned();
        if self.stack.len() > MAX_DEPTH || self.stack.contains(&path) {
            self.opaque(
                origin.clone(),
                format!("its calls of {path} nest too deeply or loop"),
            );
            return;
        }
        let doc = match self.files.read(&path) {
            Ok(Some((_, text))) => yaml::load(&text)
                .ok()
                .and_then(|mut d| (!d.is_empty()).then(|| d.remove(0))),
            _ => None,
        };
        let Some(doc) = doc else {
            self.opaque(
                origin.clone(),
                format!("it calls {path}, which cannot be read"),
            );
            return;
        };
        let declared = doc
            .get("on")
            .and_then(|o| o.get("workflow_call"))
            .and_then(|c| c.get("inputs"));
        let inputs = inputs(with, declared, ctx);
        let via = format!(" (called by {}:{})", origin.file, origin.line);
        self.stack.push(path.clone());
        self.workflow(&path, &doc, Some(inputs), &via);
        self.stack.pop();
    }

    /// Steps run in the job's (or action's) context; `dir`: the default working
    /// directory of `run:` steps.
    fn steps(&mut self, file: &str, what: &str, steps: &[Y], ctx: &Ctx, dir: Option<&str>) {
        for step in steps {
            let mut ctx = ctx.clone();
            let mut env = ctx.env.clone();
            env_of(step.get("env"), &ctx, &mut env);
            ctx.env = env;
            let origin = Origin {
                file: file.to_owned(),
                line: step.line(),
                what: what.to_owned(),
            };
            if let Some(uses) = step.get("uses").and_then(Y::str) {
                self.uses(&origin, uses, step.get("with"), &ctx);
                continue;
            }
            let Some(run) = step.get("run").and_then(Y::str) else {
                continue;
            };
            let dir = step
                .get("working-directory")
                .and_then(Y::str)
                .map(|d| substitute(d, &ctx))
                .or_else(|| dir.map(str::to_owned));
            let script = substitute(run, &ctx);
            let script = match dir {
                Some(d) => format!("cd {}\n{script}", shell_quote(&d)),
                None => script,
            };
            self.bake_and_compose(&origin, &script, &ctx);
            for call in build_calls(&script, &ctx.env) {
                let unknown = call.context.as_ref().is_none_or(|c| c.contains(ANY))
                    || call.file.as_ref().is_some_and(|f| f.contains(ANY));
                if unknown {
                    self.opaque(
                        Origin {
                            what: format!("{}: {}", origin.what, call.command),
                            ..origin.clone()
                        },
                        "its context or dockerfile is not known here",
                    );
                }
                from_call(self.out, &origin, call);
            }
        }
    }

    /// `docker buildx bake` and `docker compose build` command lines in a script (run
    /// from the repository root; `cd` followed).
    fn bake_and_compose(&mut self, origin: &Origin, script: &str, ctx: &Ctx) {
        let mut cwd = Some(String::new());
        for words in commands(script, &ctx.env) {
            let w: Vec<&str> = words.iter().map(String::as_str).collect();
            if w.first() == Some(&"cd") {
                cwd = match (cwd.take(), w.get(1)) {
                    (Some(c), Some(d)) if !d.contains(ANY) => repo_path(&c, d),
                    (_, None) => Some(String::new()),
                    _ => None,
                };
                continue;
            }
            let tool = w.first().map(|t| t.rsplit('/').next().unwrap_or(t));
            let rest: &[String] = match (tool, w.get(1), w.get(2)) {
                (Some("docker"), Some(&"buildx"), Some(&"bake")) => &words[3..],
                (Some("docker"), Some(&"bake"), _) | (Some("docker-buildx"), Some(&"bake"), _) => {
                    &words[2..]
                }
                (Some("docker"), Some(&"compose"), _) | (Some("docker-compose"), _, _) => {
                    self.compose_command(origin, &w);
                    continue;
                }
                _ => continue,
            };
            let by = Origin {
                what: format!("{}: docker buildx bake", origin.what),
                ..origin.clone()
            };
            let Some(dir) = cwd.clone() else {
                self.opaque(by, "it runs bake in a directory not known here");
                continue;
            };
            match bake::command(rest, &dir) {
                Ok(mut run) => {
                    for (k, v) in &ctx.env {
                        if !v.contains(ANY) {
                            run.env.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    bake::invoke(self.files, &run, &by, self.out);
                }
                Err(why) => self.opaque(by, why),
            }
        }
    }

    /// `docker compose build` (or `up`, `run`, `create`, which build what is missing): a
    /// plain one builds what its directory's project declares (resolved from the
    /// project's files); with files, profiles or services chosen on the command line it is
    /// not resolved here.
    fn compose_command(&mut self, origin: &Origin, w: &[&str]) {
        let start = usize::from(w.first() == Some(&"docker")) + 1;
        let Some(at) = w
            .iter()
            .skip(start)
            .position(|a| matches!(*a, "build" | "up" | "run" | "create"))
            .map(|p| p + start)
        else {
            return;
        };
        let options = w[start..at].iter().any(|a| a.starts_with('-'));
        let named = w[at + 1..].iter().any(|a| !a.starts_with('-'));
        if options || named {
            self.opaque(
                Origin {
                    what: format!("{}: docker compose {}", origin.what, w[at]),
                    ..origin.clone()
                },
                "its compose files, profiles or services are chosen on the command line",
            );
        }
    }
}

/// A word for `cd` in a script (the directory may hold spaces).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests;
