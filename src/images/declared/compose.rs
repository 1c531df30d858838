//! docker compose files, resolved as `docker compose config` (compose-go) resolves them:
//! the project's files (`compose.yaml` and its override file), `include:`, `extends:`
//! (also from another `file:`), `.env` and `${VAR:-default}` interpolation
//! ([`interp`]), profiles, and each built service's `build:` (string or map: `context`,
//! `dockerfile`, `dockerfile_inline`, `target`, `args` as a map or a list,
//! `additional_contexts`). YAML merge keys are applied by the loader.
//!
//! Which files are projects: a directory's `compose.yaml`, `compose.yml`,
//! `docker-compose.yml` and `docker-compose.yaml` are each one (what `docker compose`
//! finds there), with the directory's override file (`compose.override.yml`, …, the first
//! that exists) merged onto it; an override file is part of that project, and a project of
//! its own only where no project file is beside it. Any other compose file
//! (`docker-compose.prod.yml`, `web.compose.yaml`) is a project of its own (`docker compose
//! -f FILE`), unless a project file of its directory includes it or extends a service
//! from it: then it is read as part of that project.
//!
//! A service builds under a plain `docker compose build` unless it has `profiles:` (and
//! `COMPOSE_PROFILES` in `.env` does not enable one) or only an `image:`; a service another
//! one names as `additional_contexts: {x: "service:NAME"}` is built too. A build whose
//! context or dockerfile is not known here is also [`Opaque`].

mod interp;
mod load;
mod model;

use std::collections::HashSet;

use super::super::dockerfile::ANY;
use super::super::yaml::{self, Y};
use super::{under, Builder, Declaration, Declared, Dockerfile, Files, Opaque, Origin, Target};
use interp::Env;
use model::{Build, Loc, Service, Services};

/// Project file names, in docker compose's order of preference.
const PROJECT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
/// Override file names, in docker compose's order of preference.
const OVERRIDE_FILES: &[&str] = &[
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];
/// How deep `include:` and `extends:` are followed (compose refuses cycles; a deeper
/// chain is not resolved here).
const MAX_DEPTH: usize = 16;

/// Whether a file name is a compose file (`compose.yaml`, `docker-compose.prod.yml`,
/// `web.compose.yaml`).
pub(super) fn is_compose_file(file: &str) -> bool {
    let Some(stem) = file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"))
    else {
        return false;
    };
    let first = stem.split('.').next().unwrap_or(stem);
    first == "compose" || first == "docker-compose" || stem.ends_with(".compose")
}

/// Resolves the compose project an entry file stands for (see the module docs).
pub(super) fn resolve(
    shown: &str,
    dir: &str,
    text: &str,
    files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let name = shown.rsplit('/').next().unwrap_or(shown);
    let exists = |f: &str| -> Result<bool, String> { Ok(read(files, &join(dir, f))?.is_some()) };
    let mut paths = vec![shown.to_owned()];
    if OVERRIDE_FILES.contains(&name) {
        for p in PROJECT_FILES {
            if exists(p)? {
                return Ok(()); // resolved with that project
            }
        }
    } else if PROJECT_FILES.contains(&name) {
        for o in OVERRIDE_FILES {
            if exists(o)? {
                paths.push(join(dir, o));
                break;
            }
        }
    } else {
        for p in PROJECT_FILES.iter().chain(OVERRIDE_FILES) {
            let path = join(dir, p);
            if let Some(t) = read(files, &path)? {
                if names_file(&t, dir, shown) {
                    return Ok(()); // part of that project
                }
            }
        }
    }
    let mut p = Project {
        files,
        out,
        env: Env::new(),
    };
    p.project(dir, &paths, text)
}

fn join(dir: &str, f: &str) -> String {
    if dir.is_empty() {
        f.to_owned()
    } else {
        format!("{dir}/{f}")
    }
}

fn read(files: &dyn Files, path: &str) -> Result<Option<String>, String> {
    files
        .read(path)
        .map(|f| f.map(|(_, t)| t.to_string()))
        .map_err(|e| format!("{path}: {e}"))
}

/// Whether a compose file includes `target` or extends a service from it.
fn names_file(text: &str, dir: &str, target: &str) -> bool {
    let Ok(docs) = yaml::load(text) else {
        return false;
    };
    let is = |p: &str| under(dir, p).as_deref() == Some(target);
    docs.iter().any(|doc| {
        let included = match doc.get("include") {
            Some(Y::Seq(items)) => items.iter().any(|i| match i {
                Y::Str(p, _) => is(p),
                _ => match i.get("path") {
                    Some(Y::Str(p, _)) => is(p),
                    Some(Y::Seq(ps)) => ps.iter().filter_map(Y::str).any(is),
                    _ => false,
                },
            }),
            _ => false,
        };
        let extended = doc
            .get("services")
            .map(Y::entries)
            .unwrap_or_default()
            .iter()
            .filter_map(|(_, s)| s.get("extends")?.get("file")?.str())
            .any(is);
        included || extended
    })
}

struct Project<'a> {
    files: &'a dyn Files,
    out: &'a mut Declared,
    /// The project's variables (its `.env`).
    env: Env,
}

impl Project<'_> {
    fn opaque(&mut self, file: &str, line: usize, what: String, why: String) {
        self.out.opaque.push(Opaque {
            origin: Origin {
                file: file.to_owned(),
                line,
                what,
            },
            why,
        });
    }

    /// The declarations of a project's services that a plain `docker compose build`
    /// builds.
    fn declare(&mut self, dir: &str, entry: &str, services: &Services) {
        let active: Vec<String> = self
            .env
            .get("COMPOSE_PROFILES")
            .map(|p| p.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default();
        let enabled = |s: &Service| {
            s.profiles.is_empty() || active.iter().any(|a| a == "*" || s.profiles.contains(a))
        };
        let mut built: Vec<&str> = services
            .iter()
            .filter(|(_, s)| s.build.is_some() && enabled(s))
            .map(|(n, _)| n.as_str())
            .collect();
        // Services whose images a built one uses as a named context are built too.
        let mut i = 0;
        while i < built.len() {
            let name = built[i];
            if let Some(b) = services
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, s)| s.build.as_ref())
            {
                for (_, c) in &b.contexts {
                    if let Loc::Service(dep) = c {
                        if !built.contains(&dep.as_str())
                            && services.iter().any(|(n, s)| n == dep && s.build.is_some())
                        {
                            built.push(dep);
                        }
                    }
                }
            }
            i += 1;
        }
        let built: HashSet<&str> = built.into_iter().collect();
        for (name, s) in services {
            if !built.contains(name.as_str()) {
                continue;
            }
            if let Some(b) = &s.build {
                self.declare_build(dir, entry, name, b);
            }
        }
    }

    fn declare_build(&mut self, dir: &str, entry: &str, name: &str, b: &Build) {
        let (file, line) = b.origin.clone().unwrap_or_else(|| (entry.to_owned(), 0));
        let origin = Origin {
            file,
            line,
            what: format!("service `{name}`"),
        };
        let context = match b
            .context
            .clone()
            .unwrap_or_else(|| Loc::Repo(dir.to_owned()))
        {
            Loc::Repo(c) => c,
            // A context outside the repository (a URL): nothing of it is built here.
            Loc::Outside | Loc::Service(_) => return,
        };
        let dockerfile = match (&b.inline, b.dockerfile.as_deref().unwrap_or("Dockerfile")) {
            (Some(text), _) => Dockerfile::Inline(text.clone()),
            // Unknown from the first character, the context or the dockerfile may be
            // anywhere.
            (None, f) if context.starts_with(ANY) || f.starts_with(ANY) => {
                let mut rest = f.trim_start_matches(ANY);
                while let Some(r) = rest.strip_prefix("../").or_else(|| rest.strip_prefix("./")) {
                    rest = r;
                }
                Dockerfile::Pattern(format!("{ANY}{rest}"))
            }
            (None, f) => match under(&context, f) {
                Some(p) => Dockerfile::path(p),
                None => {
                    self.opaque(
                        &origin.file,
                        origin.line,
                        origin.what.clone(),
                        format!("its dockerfile `{f}` is outside the repository"),
                    );
                    return;
                }
            },
        };
        let known = |v: &str| (!v.contains(ANY)).then(|| v.to_owned());
        let args = b
            .args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Some(v) => known(v),
                    // `KEY` alone: from the environment, of which `.env` is known.
                    None => self.env.get(k).and_then(|v| known(v)),
                };
                (k.clone(), v)
            })
            .collect();
        let mut named = Vec::new();
        for (k, c) in &b.contexts {
            if let Loc::Repo(p) = c {
                if p.contains(ANY) {
                    self.opaque(
                        &origin.file,
                        origin.line,
                        origin.what.clone(),
                        format!("its additional context `{k}` is not known here"),
                    );
                } else {
                    named.push((k.clone(), p.clone()));
                }
            }
        }
        let target = match &b.target {
            None => Target::Last,
            Some(t) if t.contains(ANY) => Target::Unknown,
            Some(t) => Target::Named(t.to_lowercase()),
        };
        let unknown = context.contains(ANY) || matches!(dockerfile, Dockerfile::Pattern(_));
        if unknown {
            self.opaque(
                &origin.file,
                origin.line,
                origin.what.clone(),
                "its context or dockerfile uses a variable whose value is not known here".into(),
            );
        }
        self.out.decls.push(Declaration {
            origin,
            dockerfile,
            context: (!context.contains(ANY)).then_some(context),
            target,
            args,
            named,
            builder: Builder::Either,
        });
    }
}

#[cfg(test)]
pub(super) mod tests;
