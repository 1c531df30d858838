//! Where a repository declares how its images are built, instead of leaving the context
//! to a guess: docker compose files (`build:` with `context`, `dockerfile`, `args`,
//! `additional_contexts`), `docker-bake.hcl` / `docker-bake.json` targets, and the
//! `docker build` / `docker buildx build` / `podman build` / `buildah bud` command lines
//! and `docker/build-push-action` steps of `.gitlab-ci.yml`, `.gitlab-ci.d/**` and
//! `.github/workflows/*`.
//!
//! A declaration names a dockerfile (a path, or a pattern when a CI variable in it is
//! unknown) and a context (or "unknown"). A file that cannot be parsed is a warning,
//! and the guessed context (widened where a source matches nothing) stays in force:
//! declarations can add contexts to judge, never take the guess away without naming
//! another.

use std::collections::HashMap;

use super::bake;
use super::buildcmd::{build_calls, build_calls_in, repo_path, BuildCall};
use super::dockerfile::ANY;
use super::yaml::{self, Y};

/// How one image is declared to be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Where, for messages: `docker-compose.yml: service web`.
    pub origin: String,
    /// The dockerfile, repository-relative (may contain [`ANY`] for unknown text).
    pub dockerfile: String,
    /// The context, repository-relative; `None` when unknown.
    pub context: Option<String>,
    /// Build arguments it passes (`None`: value unknown).
    pub args: Vec<(String, Option<String>)>,
    /// Named build contexts (local directories) it passes.
    pub named: Vec<String>,
}

/// What one declaration file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// Its declarations.
    pub decls: Vec<Declaration>,
    /// Why it (or part of it) could not be read.
    pub warnings: Vec<String>,
}

/// Which kind of declaration file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A docker compose file.
    Compose,
    /// `docker-bake.hcl`.
    BakeHcl,
    /// `docker-bake.json`.
    BakeJson,
    /// `.gitlab-ci.yml` or a file under `.gitlab-ci.d/`.
    GitLab,
    /// `.github/workflows/*.yml`.
    GitHub,
}

/// The kind of declaration file `path` is, if any.
pub fn kind(path: &[u8]) -> Option<Kind> {
    let p = std::str::from_utf8(path).ok()?;
    let file = p.rsplit('/').next().unwrap_or(p);
    let yaml = file.ends_with(".yml") || file.ends_with(".yaml");
    if p == ".gitlab-ci.yml" || (p.starts_with(".gitlab-ci.d/") && yaml) {
        return Some(Kind::GitLab);
    }
    if let Some(rest) = p.strip_prefix(".github/workflows/") {
        if !rest.contains('/') && yaml {
            return Some(Kind::GitHub);
        }
    }
    let stem = file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"));
    if let Some(stem) = stem {
        let base = stem.split('.').next().unwrap_or(stem);
        if base == "compose" || base == "docker-compose" {
            return Some(Kind::Compose);
        }
    }
    match file {
        "docker-bake.hcl" | "docker-bake.override.hcl" => Some(Kind::BakeHcl),
        "docker-bake.json" | "docker-bake.override.json" => Some(Kind::BakeJson),
        _ => None,
    }
}

/// Reads one declaration file at `path` (its text).
pub fn parse(path: &[u8], text: &str) -> Declared {
    let shown = String::from_utf8_lossy(path).into_owned();
    let dir = String::from_utf8_lossy(super::view::parent(path)).into_owned();
    let mut out = Declared::default();
    let Some(kind) = kind(path) else {
        return out;
    };
    let result = match kind {
        Kind::Compose => yaml::load(text).map(|docs| compose(&shown, &dir, &docs, &mut out)),
        Kind::GitLab => yaml::load(text).map(|docs| gitlab(&shown, &docs, &mut out)),
        Kind::GitHub => yaml::load(text).map(|docs| github(&shown, &docs, &mut out)),
        Kind::BakeHcl => bake::parse_hcl(text).map(|t| bake_targets(&shown, &dir, t, &mut out)),
        Kind::BakeJson => bake::parse_json(text).map(|t| bake_targets(&shown, &dir, t, &mut out)),
    };
    if let Err(e) = result {
        out.warnings.push(format!(
            "{shown} cannot be read ({e}): the images it may declare keep their guessed contexts"
        ));
    }
    out
}

/// `dir/rel`, cleaned; `None` when it leaves the repository or is not a local path.
fn under(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim();
    if rel.contains("://") || rel.starts_with("git@") {
        return None;
    }
    repo_path(dir, rel)
}

/// Compose's `${VAR}`, `${VAR:-default}`, `$$`: defaults known, the rest unknown text.
fn compose_vars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            let body = &inner[..end];
            match body.split_once(":-").or_else(|| body.split_once('-')) {
                Some((_, d)) if !d.contains('$') => out.push_str(d),
                _ => out.push(ANY),
            }
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push(if end == 0 { '$' } else { ANY });
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

fn pairs(y: Option<&Y>) -> Vec<(String, Option<String>)> {
    match y {
        Some(Y::Map(_)) => y
            .map(Y::entries)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.str().map(compose_vars)))
            .collect(),
        Some(Y::Seq(items)) => items
            .iter()
            .filter_map(Y::str)
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(compose_vars(v))),
                None => (s.to_owned(), None),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn compose(shown: &str, dir: &str, docs: &[Y], out: &mut Declared) {
    for doc in docs {
        let Some(services) = doc.get("services") else {
            continue;
        };
        for (name, svc) in services.entries() {
            let Some(build) = svc.get("build") else {
                continue;
            };
            let origin = format!("{shown} line {}: service `{name}`", build.line());
            let (context, dockerfile, args, named) = match build {
                Y::Str(ctx, _) => (Some(compose_vars(ctx)), None, Vec::new(), Vec::new()),
                Y::Map(_) => {
                    if build.get("dockerfile_inline").is_some() {
                        continue; // no dockerfile in the repository
                    }
                    let ctx = match build.get("context") {
                        None => Some(".".to_owned()),
                        Some(c) => c.str().map(compose_vars),
                    };
                    let named = pairs(build.get("additional_contexts"))
                        .into_iter()
                        .filter_map(|(_, v)| v)
                        .collect();
                    (
                        ctx,
                        build.get("dockerfile").and_then(Y::str).map(compose_vars),
                        pairs(build.get("args")),
                        named,
                    )
                }
                _ => continue,
            };
            let context = context.and_then(|c| under(dir, &c));
            let file = dockerfile.unwrap_or_else(|| "Dockerfile".into());
            // The dockerfile is relative to the context; unknown context, unknown file.
            let dockerfile = match &context {
                Some(c) => under(c, &file).unwrap_or_else(|| ANY.to_string()),
                None => ANY.to_string(),
            };
            let named = named
                .iter()
                .filter_map(|n| context.as_ref().and_then(|c| under(c, n)))
                .collect();
            if context.as_deref().is_some_and(|c| c.contains(ANY)) {
                push(out, origin, dockerfile, None, args, named);
            } else {
                push(out, origin, dockerfile, context, args, named);
            }
        }
    }
}

fn push(
    out: &mut Declared,
    origin: String,
    dockerfile: String,
    context: Option<String>,
    args: Vec<(String, Option<String>)>,
    named: Vec<String>,
) {
    out.decls.push(Declaration {
        origin,
        dockerfile,
        context,
        args,
        named,
    });
}

fn from_call(out: &mut Declared, origin: String, call: BuildCall) {
    let defaults: &[&str] = if call.podman {
        &["Containerfile", "Dockerfile"]
    } else {
        &["Dockerfile", "dockerfile"]
    };
    let files: Vec<String> = match (&call.file, &call.context) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(c)) => defaults.iter().filter_map(|d| under(c, d)).collect(),
        (None, None) => vec![ANY.to_string()],
    };
    let context = call.context.filter(|c| !c.contains(ANY));
    for f in files {
        push(
            out,
            format!("{origin}: {}", call.command),
            f,
            context.clone(),
            call.args.clone(),
            call.named.clone(),
        );
    }
}

fn vars_of(y: Option<&Y>, into: &mut HashMap<String, String>) {
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
fn gitlab(shown: &str, docs: &[Y], out: &mut Declared) {
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
                    from_call(out, format!("{shown} line {line}: job `{name}`"), call);
                }
            }
        }
    }
}

/// GitHub workflow steps: `run:` scripts and `docker/build-push-action`.
fn github(shown: &str, docs: &[Y], out: &mut Declared) {
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
                let origin = format!("{shown} line {}: job `{job_name}`", step.line());
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
                    from_call(out, origin.clone(), call);
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

fn build_push_action(out: &mut Declared, origin: String, with: Option<&Y>) {
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
                .filter_map(|(_, v)| under("", v))
                .collect()
        })
        .unwrap_or_default();
    push(
        out,
        format!("{origin}: docker/build-push-action"),
        file,
        context,
        args,
        named,
    );
}

fn bake_targets(shown: &str, dir: &str, targets: Vec<bake::Target>, out: &mut Declared) {
    for t in targets {
        let context = t.context.as_deref().and_then(|c| under(dir, c));
        let dockerfile = match (&context, &t.dockerfile) {
            (Some(c), Some(f)) => under(c, f).unwrap_or_else(|| ANY.to_string()),
            _ => ANY.to_string(),
        };
        let named = t.contexts.iter().filter_map(|n| under(dir, n)).collect();
        let context = context.filter(|c| !c.contains(ANY));
        push(
            out,
            format!("{shown}: target `{}`", t.name),
            dockerfile,
            context,
            t.args,
            named,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_files() {
        for (p, k) in [
            ("docker-compose.yml", Some(Kind::Compose)),
            ("svc/compose.yaml", Some(Kind::Compose)),
            ("docker-compose.override.yml", Some(Kind::Compose)),
            ("docker-bake.hcl", Some(Kind::BakeHcl)),
            (".gitlab-ci.yml", Some(Kind::GitLab)),
            (".gitlab-ci.d/containers.yml", Some(Kind::GitLab)),
            (".github/workflows/ci.yaml", Some(Kind::GitHub)),
            (".github/workflows/sub/x.yml", None),
            ("composer.yml", None),
            ("README.md", None),
        ] {
            assert_eq!(kind(p.as_bytes()), k, "{p}");
        }
    }

    #[test]
    fn compose_services() {
        let d = parse(
            b"deploy/docker-compose.yml",
            "services:\n  web:\n    build: ../web\n  api:\n    build:\n      context: ..\n      dockerfile: docker/api.Dockerfile\n      args:\n        - VERSION=1\n  db:\n    image: postgres\n  var:\n    build: ${CTX}\n",
        );
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        assert_eq!(d.decls.len(), 3);
        assert_eq!(d.decls[0].dockerfile, "web/Dockerfile");
        assert_eq!(d.decls[0].context.as_deref(), Some("web"));
        assert_eq!(d.decls[1].dockerfile, "docker/api.Dockerfile");
        assert_eq!(d.decls[1].context.as_deref(), Some(""));
        assert_eq!(d.decls[1].args, vec![("VERSION".into(), Some("1".into()))]);
        assert_eq!(d.decls[2].context, None);
        let bad = parse(b"compose.yaml", "services: [");
        assert_eq!(bad.warnings.len(), 1);
    }

    #[test]
    fn ci_command_lines() {
        let d = parse(
            b".gitlab-ci.yml",
            "variables:\n  NAME: debian\nbuild:\n  script:\n    - docker build -f tests/$NAME.docker .\n    - - podman build ctx\n",
        );
        assert_eq!(d.decls[0].dockerfile, "tests/debian.docker");
        assert_eq!(d.decls[0].context.as_deref(), Some(""));
        assert_eq!(d.decls[1].dockerfile, "ctx/Containerfile");
        assert_eq!(d.decls[2].dockerfile, "ctx/Dockerfile");
        let d = parse(
            b".github/workflows/ci.yml",
            "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: app\n      - run: docker build -f ${{ github.workspace }}/x/Dockerfile x\n        working-directory: .\n",
        );
        assert_eq!(d.decls[0].dockerfile, "app/Dockerfile");
        assert_eq!(d.decls[0].context.as_deref(), Some("app"));
        assert_eq!(d.decls[1].dockerfile, "x/Dockerfile");
        assert_eq!(d.decls[1].context.as_deref(), Some("x"));
    }
}
