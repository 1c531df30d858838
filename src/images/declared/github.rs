//! GitHub Actions workflows: `run:` scripts (with `env`, `working-directory` and
//! `defaults.run.working-directory`) and `docker/build-push-action` steps.

use std::collections::HashMap;

use super::super::buildcmd::build_calls;
use super::super::dockerfile::ANY;
use super::super::yaml::{self, Y};
use super::gitlab::vars_of;
use super::{declaration, from_call, under, Declared, Dockerfile, Files, Origin};

/// Resolves a workflow file.
pub(super) fn resolve(
    shown: &str,
    text: &str,
    _files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let docs = yaml::load(text)?;
    workflows(shown, &docs, out);
    Ok(())
}

/// GitHub workflow steps: `run:` scripts and `docker/build-push-action`.
fn workflows(shown: &str, docs: &[Y], out: &mut Declared) {
    for doc in docs {
        let mut wf = HashMap::new();
        vars_of(doc.get("env"), &mut wf);
        let Some(jobs) = doc.get("jobs") else {
            continue;
        };
        for (job_name, job) in jobs.entries() {
            let mut job_vars = wf.clone();
            vars_of(job.get("env"), &mut job_vars);
            let job_dir = job
                .get("defaults")
                .and_then(|d| d.get("run"))
                .and_then(|r| r.get("working-directory"))
                .and_then(Y::str)
                .map(str::to_owned);
            let Some(Y::Seq(steps)) = job.get("steps") else {
                continue;
            };
            for step in steps {
                let mut vars = job_vars.clone();
                vars_of(step.get("env"), &mut vars);
                let origin = Origin {
                    file: shown.to_owned(),
                    line: step.line(),
                    what: format!("job `{job_name}`"),
                };
                if let Some(uses) = step.get("uses").and_then(Y::str) {
                    if uses.starts_with("docker/build-push-action") {
                        build_push_action(out, origin.clone(), step.get("with"));
                    }
                }
                let Some(run) = step.get("run").and_then(Y::str) else {
                    continue;
                };
                let dir = step
                    .get("working-directory")
                    .and_then(Y::str)
                    .map(str::to_owned)
                    .or_else(|| job_dir.clone());
                let script = github_expr(run);
                let script = match dir {
                    Some(d) => format!("cd {}\n{script}", github_expr(&d)),
                    None => script,
                };
                for call in build_calls(&script, &vars) {
                    from_call(out, &origin, call);
                }
            }
        }
    }
}

/// `${{ github.workspace }}` is the repository root; other expressions are unknown.
fn github_expr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let end = after.find("}}").unwrap_or(after.len());
        let expr = after[..end].trim();
        out.push_str(if expr == "github.workspace" {
            "."
        } else {
            "$__GITHUB_EXPRESSION__"
        });
        rest = after.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn build_push_action(out: &mut Declared, origin: Origin, with: Option<&Y>) {
    let get = |k: &str| {
        with.and_then(|w| w.get(k))
            .and_then(Y::str)
            .map(github_expr)
    };
    let unknown = |s: &str| s.contains("$__GITHUB_EXPRESSION__");
    // Without `context`, the action builds the repository at the commit (its root).
    let context = match get("context") {
        None => Some(String::new()),
        Some(c) if unknown(&c) => None,
        Some(c) => under("", &c),
    };
    let file = match get("file") {
        Some(f) if unknown(&f) => ANY.to_string(),
        Some(f) => under("", &f).unwrap_or_else(|| ANY.to_string()),
        None => match &context {
            Some(c) => under(c, "Dockerfile").unwrap_or_else(|| ANY.to_string()),
            None => ANY.to_string(),
        },
    };
    let args = get("build-args")
        .map(|a| {
            a.lines()
                .filter_map(|l| l.trim().split_once('='))
                .map(|(k, v)| (k.to_owned(), (!unknown(v)).then(|| v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let named = get("build-contexts")
        .map(|a| {
            a.lines()
                .filter_map(|l| l.trim().split_once('='))
                .filter_map(|(k, v)| Some((k.to_owned(), under("", v)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut d = declaration(
        Origin {
            what: format!("{}: docker/build-push-action", origin.what),
            ..origin
        },
        Dockerfile::path(file),
        context,
        args,
        named,
    );
    d.builder = super::Builder::BuildKit;
    out.decls.push(d);
}
