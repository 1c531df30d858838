//! GitLab CI files: the build command lines of every job's scripts, with global and job
//! `variables`.

use std::collections::HashMap;

use super::super::buildcmd::build_calls_in;
use super::super::yaml::{self, Y};
use super::{from_call, Declared, Files, Origin};

/// Resolves a GitLab CI file.
pub(super) fn resolve(
    shown: &str,
    text: &str,
    _files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let docs = yaml::load(text)?;
    jobs(shown, &docs, out);
    Ok(())
}

pub(super) fn vars_of(y: Option<&Y>, into: &mut HashMap<String, String>) {
    for (k, v) in y.map(Y::entries).unwrap_or_default() {
        let value = match v {
            Y::Str(s, _) => Some(s.clone()),
            // GitLab's `{ value: …, description: … }` form.
            Y::Map(_) => v.get("value").and_then(Y::str).map(str::to_owned),
            Y::Seq(_) => None,
        };
        if let Some(value) = value {
            into.insert(k.to_owned(), value);
        }
    }
}

/// GitLab jobs' `script` / `before_script` / `after_script` (and anything else a job
/// holds: `!reference` lists, templates), with global and job `variables`.
fn jobs(shown: &str, docs: &[Y], out: &mut Declared) {
    for doc in docs {
        let mut global = HashMap::new();
        vars_of(doc.get("variables"), &mut global);
        vars_of(
            doc.get("default").and_then(|d| d.get("variables")),
            &mut global,
        );
        for (name, job) in doc.entries() {
            if matches!(
                name,
                "variables" | "include" | "stages" | "workflow" | "spec"
            ) {
                continue;
            }
            let mut vars = global.clone();
            vars_of(job.get("variables"), &mut vars);
            let mut scalars = Vec::new();
            job.scalars(&mut scalars);
            // The lines of a job's scripts run in one shell: a `cd` carries over.
            let mut cwd = Some(String::new());
            for (text, line) in scalars {
                for call in build_calls_in(&text, &vars, &mut cwd) {
                    let origin = Origin {
                        file: shown.to_owned(),
                        line,
                        what: format!("job `{name}`"),
                    };
                    from_call(out, &origin, call);
                }
            }
        }
    }
}
