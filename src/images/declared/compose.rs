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

use std::collections::HashSet;

use super::super::dockerfile::ANY;
use super::super::view::parent;
use super::super::yaml::{self, Y};
use super::{under, Builder, Declaration, Declared, Dockerfile, Files, Opaque, Origin, Target};
use interp::{dotenv, interpolate, Env};

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

/// A location a compose file names (a context), resolved against the directory it is
/// relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Loc {
    /// A repository path (may hold [`ANY`]).
    Repo(String),
    /// Outside the repository (a URL, an absolute path, above the root).
    Outside,
    /// Another service's image (`service:NAME`).
    Service(String),
}

fn locate(base: &str, value: &str) -> Loc {
    if let Some(s) = value.strip_prefix("service:") {
        return Loc::Service(s.to_owned());
    }
    let remote = [
        "https://",
        "http://",
        "git://",
        "ssh://",
        "github.com/",
        "git@",
    ];
    if value.contains("://") || remote.iter().any(|r| value.starts_with(r)) {
        return Loc::Outside;
    }
    if value.starts_with(ANY) {
        // Unknown from its first character: it may be absolute or go up.
        return Loc::Repo(value.to_owned());
    }
    match under(base, value) {
        Some(p) => Loc::Repo(p),
        None => Loc::Outside,
    }
}

/// A service's `build:`, with its paths resolved.
#[derive(Debug, Clone, Default)]
struct Build {
    /// Where `build:` is written (the first file that wrote it).
    origin: Option<(String, usize)>,
    context: Option<Loc>,
    dockerfile: Option<String>,
    inline: Option<String>,
    target: Option<String>,
    /// Build arguments (`None`: from the environment).
    args: Vec<(String, Option<String>)>,
    contexts: Vec<(String, Loc)>,
}

/// What a service says about building.
#[derive(Debug, Clone, Default)]
struct Service {
    build: Option<Build>,
    profiles: Vec<String>,
}

/// Later wins per key; new keys go last (compose merges these lists by key).
fn merge_pairs<T: Clone>(base: &mut Vec<(String, T)>, over: &[(String, T)]) {
    for (k, v) in over {
        match base.iter_mut().find(|(b, _)| b == k) {
            Some(slot) => slot.1 = v.clone(),
            None => base.push((k.clone(), v.clone())),
        }
    }
}

/// `over` merged onto `base`, as compose merges override files and `extends`.
fn merge(base: Service, over: Service) -> Service {
    let build = match (base.build, over.build) {
        (Some(mut b), Some(o)) => {
            b.origin = b.origin.or(o.origin);
            b.context = o.context.or(b.context);
            b.dockerfile = o.dockerfile.or(b.dockerfile);
            b.inline = o.inline.or(b.inline);
            b.target = o.target.or(b.target);
            merge_pairs(&mut b.args, &o.args);
            merge_pairs(&mut b.contexts, &o.contexts);
            Some(b)
        }
        (b, o) => o.or(b),
    };
    let mut profiles = base.profiles;
    profiles.extend(over.profiles);
    Service { build, profiles }
}

/// Every scalar value (not key) of a tree, interpolated.
fn interpolated(y: &Y, env: &Env) -> Y {
    match y {
        Y::Str(s, l) => Y::Str(interpolate(s, env), *l),
        Y::Seq(v) => Y::Seq(v.iter().map(|i| interpolated(i, env)).collect()),
        Y::Map(m) => Y::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), interpolated(v, env)))
                .collect(),
        ),
    }
}

/// A YAML null (`~`, `null`, or nothing).
fn is_null(y: &Y) -> bool {
    matches!(y.str(), Some("~" | "null" | "Null" | "NULL" | ""))
}

/// `args:` / `additional_contexts:` as a map or a `KEY=VALUE` list.
fn pairs(y: &Y) -> Vec<(String, Option<String>)> {
    match y {
        Y::Map(_) => y
            .entries()
            .into_iter()
            .map(|(k, v)| {
                let value = (!is_null(v)).then(|| v.str().map(str::to_owned)).flatten();
                (k.to_owned(), value)
            })
            .collect(),
        Y::Seq(items) => items
            .iter()
            .filter_map(Y::str)
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (s.to_owned(), None),
            })
            .collect(),
        Y::Str(..) => Vec::new(),
    }
}

/// A service as one file writes it, its paths relative to `base`.
fn service(file: &str, base: &str, y: &Y) -> Service {
    let mut s = Service::default();
    let Y::Map(entries) = y else {
        return s;
    };
    for (k, v) in entries {
        match k.str() {
            Some("build") => {
                let mut b = Build {
                    origin: Some((file.to_owned(), k.line())),
                    ..Build::default()
                };
                match v {
                    Y::Str(ctx, _) => b.context = Some(locate(base, ctx)),
                    Y::Map(_) => {
                        let text = |key: &str| v.get(key).and_then(Y::str).map(str::to_owned);
                        b.context = text("context").map(|c| locate(base, &c));
                        b.dockerfile = text("dockerfile");
                        b.inline = text("dockerfile_inline");
                        b.target = text("target");
                        b.args = v.get("args").map(pairs).unwrap_or_default();
                        b.contexts = v
                            .get("additional_contexts")
                            .map(pairs)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|(k, v)| Some((k, locate(base, &v?))))
                            .collect();
                    }
                    Y::Seq(_) => {}
                }
                s.build = Some(b);
            }
            Some("profiles") => {
                s.profiles = match v {
                    Y::Seq(items) => items.iter().filter_map(Y::str).map(str::to_owned).collect(),
                    Y::Str(p, _) => vec![p.clone()],
                    Y::Map(_) => Vec::new(),
                }
            }
            _ => {}
        }
    }
    s
}

/// One compose file, loaded and interpolated: its services as written.
struct RawFile {
    path: String,
    /// The directory its relative paths are resolved against.
    base: String,
    doc: Y,
}

impl RawFile {
    fn services(&self) -> Vec<(&str, &Y)> {
        self.doc.get("services").map(Y::entries).unwrap_or_default()
    }
}

/// The services of a project being loaded, in order.
type Services = Vec<(String, Service)>;

fn merge_into(into: &mut Services, from: Services) {
    for (name, s) in from {
        match into.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                let base = std::mem::take(&mut into[i].1);
                into[i].1 = merge(base, s);
            }
            None => into.push((name, s)),
        }
    }
}

struct Project<'a> {
    files: &'a dyn Files,
    out: &'a mut Declared,
    /// The project's variables (its `.env`).
    env: Env,
}

impl Project<'_> {
    /// The project of `paths` (the first is the entry file, `text` its content), in
    /// `dir`.
    fn project(&mut self, dir: &str, paths: &[String], text: &str) -> Result<(), String> {
        self.env = match read(self.files, &join(dir, ".env"))? {
            Some(t) => dotenv(&t),
            None => Env::new(),
        };
        if let Some(f) = self.env.get("COMPOSE_FILE") {
            // `.env` chooses other files than the ones found here.
            self.opaque(
                &paths[0],
                0,
                "the project".into(),
                format!("its .env sets COMPOSE_FILE={f}: which files make the project is not resolved here"),
            );
            return Ok(());
        }
        let env = self.env.clone();
        let mut services = Services::new();
        for (i, path) in paths.iter().enumerate() {
            let raw = if i == 0 {
                self.raw(path, dir, Some(text), &env)?
            } else {
                self.raw(path, dir, None, &env)?
            };
            let loaded = self.file_services(&raw, &env, &mut vec![path.clone()], 0)?;
            merge_into(&mut services, loaded);
        }
        self.declare(dir, &paths[0], &services);
        Ok(())
    }

    /// A file's text, parsed and interpolated.
    fn raw(
        &self,
        path: &str,
        base: &str,
        text: Option<&str>,
        env: &Env,
    ) -> Result<RawFile, String> {
        let owned;
        let text = match text {
            Some(t) => t,
            None => {
                owned =
                    read(self.files, path)?.ok_or_else(|| format!("{path} is not in the tree"))?;
                &owned
            }
        };
        let docs = yaml::load(text).map_err(|e| format!("{path}: {e}"))?;
        let mut doc = Y::Map(Vec::new());
        // Several documents in one file merge in order.
        for d in docs {
            if let (Y::Map(into), Y::Map(more)) = (&mut doc, interpolated(&d, env)) {
                into.extend(more);
            }
        }
        Ok(RawFile {
            path: path.to_owned(),
            base: base.to_owned(),
            doc,
        })
    }

    /// The services of one file, with its `include:` and `extends:` applied.
    fn file_services(
        &mut self,
        raw: &RawFile,
        env: &Env,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Result<Services, String> {
        let mut services = Services::new();
        if let Some(Y::Seq(includes)) = raw.doc.get("include") {
            for inc in includes {
                let included = self.include(raw, inc, env, chain, depth)?;
                merge_into(&mut services, included);
            }
        }
        let mut own = Services::new();
        for (name, _) in raw.services() {
            let s = self.extended(raw, name, env, &mut Vec::new(), depth)?;
            own.push((name.to_owned(), s));
        }
        // The including file's definitions win over the included ones.
        merge_into(&mut services, own);
        Ok(services)
    }

    /// One `include:` entry: the included project's services.
    fn include(
        &mut self,
        raw: &RawFile,
        inc: &Y,
        env: &Env,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Result<Services, String> {
        let line = inc.line();
        let listed: Vec<String> = match inc {
            Y::Str(p, _) => vec![p.clone()],
            _ => match inc.get("path") {
                Some(Y::Str(p, _)) => vec![p.clone()],
                Some(Y::Seq(ps)) => ps.iter().filter_map(Y::str).map(str::to_owned).collect(),
                _ => Vec::new(),
            },
        };
        let mut paths = Vec::new();
        for p in &listed {
            match locate(&raw.base, p) {
                Loc::Repo(path) if !path.contains(ANY) => paths.push(path),
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        "include".into(),
                        format!(
                            "it includes `{p}`, which is not a file of the repository known here"
                        ),
                    );
                    return Ok(Services::new());
                }
            }
        }
        let Some(first) = paths.first() else {
            return Ok(Services::new());
        };
        if depth >= MAX_DEPTH || chain.contains(first) {
            self.opaque(
                &raw.path,
                line,
                "include".into(),
                format!("its includes of `{first}` nest too deeply or loop"),
            );
            return Ok(Services::new());
        }
        let dir = match inc.get("project_directory").and_then(Y::str) {
            Some(d) => match locate(&raw.base, d) {
                Loc::Repo(d) if !d.contains(ANY) => d,
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        "include".into(),
                        format!("its project_directory `{d}` is not known here"),
                    );
                    return Ok(Services::new());
                }
            },
            None => String::from_utf8_lossy(parent(first.as_bytes())).into_owned(),
        };
        // The included project's variables: its env files (default its `.env`), under
        // those of the including project.
        let env_files: Vec<String> = match inc.get("env_file") {
            Some(Y::Str(f, _)) => vec![f.clone()],
            Some(Y::Seq(fs)) => fs.iter().filter_map(Y::str).map(str::to_owned).collect(),
            _ => vec![".env".to_owned()],
        };
        let mut inc_env = env.clone();
        for f in env_files {
            let from = if inc.get("env_file").is_some() {
                &raw.base
            } else {
                &dir
            };
            if let Some(path) = under(from, &f) {
                if let Some(t) = read(self.files, &path)? {
                    for (k, v) in dotenv(&t) {
                        inc_env.entry(k).or_insert(v);
                    }
                }
            }
        }
        chain.push(first.clone());
        let mut services = Services::new();
        for p in &paths {
            let inc_raw = self.raw(p, &dir, None, &inc_env);
            let inc_raw = match inc_raw {
                Ok(r) => r,
                Err(e) => {
                    self.opaque(&raw.path, line, "include".into(), e);
                    chain.pop();
                    return Ok(Services::new());
                }
            };
            let s = self.file_services(&inc_raw, &inc_env, chain, depth + 1)?;
            merge_into(&mut services, s);
        }
        chain.pop();
        // Its defaults are its own: a build without a context builds its directory.
        for (_, s) in &mut services {
            if let Some(b) = &mut s.build {
                b.context.get_or_insert_with(|| Loc::Repo(dir.clone()));
            }
        }
        Ok(services)
    }

    /// A service of `raw` with its `extends:` chain applied.
    fn extended(
        &mut self,
        raw: &RawFile,
        name: &str,
        env: &Env,
        chain: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<Service, String> {
        let Some((_, y)) = raw.services().into_iter().find(|(n, _)| *n == name) else {
            return Ok(Service::default());
        };
        let own = service(&raw.path, &raw.base, y);
        let Some(ext) = y.get("extends") else {
            return Ok(own);
        };
        let line = y.line();
        let (of, file) = match ext {
            Y::Str(s, _) => (s.clone(), None),
            _ => (
                ext.get("service").and_then(Y::str).unwrap_or("").to_owned(),
                ext.get("file").and_then(Y::str).map(str::to_owned),
            ),
        };
        let key = (file.clone().unwrap_or_else(|| raw.path.clone()), of.clone());
        if depth + chain.len() >= MAX_DEPTH || chain.contains(&key) || of.is_empty() {
            self.opaque(
                &raw.path,
                line,
                format!("service `{name}`"),
                format!("its extends of `{of}` loops, nests too deeply or names no service"),
            );
            return Ok(own);
        }
        chain.push(key);
        let parent = match file {
            None => self.extended(raw, &of, env, chain, depth)?,
            Some(f) => match locate(&raw.base, &f) {
                Loc::Repo(path) if !path.contains(ANY) => {
                    let dir = String::from_utf8_lossy(parent(path.as_bytes())).into_owned();
                    match self.raw(&path, &dir, None, env) {
                        Ok(other) => self.extended(&other, &of, env, chain, depth)?,
                        Err(e) => {
                            self.opaque(&raw.path, line, format!("service `{name}`"), e);
                            Service::default()
                        }
                    }
                }
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        format!("service `{name}`"),
                        format!("it extends a service of `{f}`, which is not a file of the repository known here"),
                    );
                    Service::default()
                }
            },
        };
        chain.pop();
        Ok(merge(parent, own))
    }

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
