//! GitLab CI, resolved as GitLab resolves it: the pipeline's entry file (`.gitlab-ci.yml`,
//! or the project's custom CI configuration path, `images.gitlab_ci`) with its
//! `include:`s ([`include`]), `extends` and `!reference` ([`merge`]), then every job that
//! may run, with its variables, and the builds its scripts run ([`jobs`], read by
//! [`super::script`]). A job's build line is bound to that job's values only: a hidden
//! template's `docker build -f "docker/$NAME.docker" .` declares exactly the dockerfiles
//! of the `NAME`s the jobs that extend it set.
//!
//! What cannot be resolved from the tree (an include from outside it, a missing or
//! unreadable included file, `extends` of a job no file defines, a script that cannot be
//! read, a generated child pipeline) is [`Opaque`]: while one exists, every dockerfile
//! counts. Variables set in the project's or group's CI/CD settings, or when a pipeline
//! is run, are not in the tree: they are taken as unset, except that a variable the
//! configuration reads but never defines is unknown text.

use super::script::Scripts;
use super::{Declared, Files, Opaque, Origin};

mod include;
mod jobs;
mod merge;

pub(crate) use jobs::HIDDEN;
use merge::{At, Map};

/// The state of one resolution.
pub(super) struct Ctx<'f> {
    files: &'f dyn Files,
    /// The files read, by index ([`At::file`]).
    names: Vec<String>,
    /// Files included so far.
    includes: usize,
    /// What could not be resolved: where, what, why.
    problems: Vec<(At, String, String)>,
    /// A file from outside the tree is included: a job there may extend any hidden job.
    outside: bool,
}

impl Ctx<'_> {
    fn file_index(&mut self, path: &str) -> usize {
        match self.names.iter().position(|n| n == path) {
            Some(i) => i,
            None => {
                self.names.push(path.to_owned());
                self.names.len() - 1
            }
        }
    }

    fn name(&self, at: At) -> &str {
        self.names.get(at.file).map_or("", String::as_str)
    }

    fn problem(&mut self, at: At, what: String, why: String) {
        self.problems.push((at, what, why));
    }
}

/// Resolves the pipeline whose entry file is `shown` (its text).
pub(super) fn resolve(
    shown: &str,
    text: &str,
    files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let mut ctx = Ctx {
        files,
        names: Vec::new(),
        includes: 0,
        problems: Vec::new(),
        outside: false,
    };
    let mut scripts = Scripts::new(files);
    let cfg = match include::load(&mut ctx, shown, text, None, &mut vec![shown.to_owned()]) {
        Ok(cfg) => cfg,
        Err(e) => {
            out.opaque.push(Opaque {
                origin: Origin {
                    file: shown.to_owned(),
                    line: 0,
                    what: "the pipeline configuration".into(),
                },
                why: format!("it cannot be read ({e})"),
            });
            return Err(e);
        }
    };
    finish(&mut ctx, &mut scripts, cfg, &[], 0, out);
    dedup(out);
    Ok(())
}

/// A child pipeline (`trigger: include: local:`), with the variables its trigger job
/// passes.
fn pipeline(
    ctx: &mut Ctx<'_>,
    scripts: &mut Scripts<'_>,
    path: &str,
    passed: &[(String, jobs::Var)],
    depth: usize,
    origin: &Origin,
    out: &mut Declared,
) {
    let opaque = |out: &mut Declared, why: String| {
        out.opaque.push(Opaque {
            origin: origin.clone(),
            why,
        });
    };
    let text = match ctx.files.read(path) {
        Ok(Some((_, t))) => t,
        Ok(None) => return opaque(out, format!("triggers `{path}`, which is not in the tree")),
        Err(e) => {
            return opaque(
                out,
                format!("triggers `{path}`, which cannot be read ({e})"),
            )
        }
    };
    match include::load(ctx, path, &text, None, &mut vec![path.to_owned()]) {
        Ok(cfg) => finish(ctx, scripts, cfg, passed, depth, out),
        Err(e) => opaque(
            out,
            format!("triggers `{path}`, which cannot be read as YAML ({e})"),
        ),
    }
}

/// `extends`, `!reference`, then the jobs.
fn finish(
    ctx: &mut Ctx<'_>,
    scripts: &mut Scripts<'_>,
    mut cfg: Map,
    passed: &[(String, jobs::Var)],
    depth: usize,
    out: &mut Declared,
) {
    let mut problems = merge::extends(&mut cfg);
    problems.extend(merge::references(&mut cfg));
    for p in problems {
        ctx.problem(p.at, p.what, p.why);
    }
    jobs::declare(ctx, scripts, &cfg, passed, depth, out);
    for (at, what, why) in std::mem::take(&mut ctx.problems) {
        let origin = Origin {
            file: ctx.name(at).to_owned(),
            line: at.line,
            what,
        };
        if !out
            .opaque
            .iter()
            .any(|o| o.origin == origin && o.why == why)
        {
            out.opaque.push(Opaque { origin, why });
        }
    }
}

/// One declaration per (origin, build): a job's combinations often build the same.
fn dedup(out: &mut Declared) {
    let mut seen = Vec::new();
    out.decls.retain(|d| {
        if seen.contains(d) {
            false
        } else {
            seen.push(d.clone());
            true
        }
    });
}

#[cfg(test)]
mod tests;
