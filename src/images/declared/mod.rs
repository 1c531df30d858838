//! Where a repository declares how its images are built, instead of leaving the context
//! to a guess: docker compose files ([`compose`]), bake files ([`bake`]), and the build
//! command lines and build actions of its CI: GitLab ([`gitlab`]) and GitHub Actions
//! ([`github`]). Each tool's files are resolved as that tool resolves them.
//!
//! A [`Declaration`] is one build: a dockerfile (a path, a pattern when some text is not
//! known here, or an inline dockerfile), a context (or "unknown"), the target stage, the
//! build arguments, named contexts and the builder. A build the repository runs that
//! cannot be resolved is [`Opaque`]: while any exists, what the repository's builds read is
//! not known exactly. A file that cannot be parsed is a warning.
//!
//! Declaration files are resolved from the judged tree's objects, never from the work
//! tree: an entry file ([`kind`]) may read other files of the same tree (includes, compose
//! `extends: file:`, `.env`, scripts, composite actions) through [`Files`], and what it
//! read is recorded in [`Declared::reads`] so that a memo of the result is reused only for
//! a tree where every one of those files is the same.

mod bake;
mod compose;
mod github;
mod gitlab;
pub(crate) mod script;

use git2::Oid;

use super::buildcmd::{repo_path, BuildCall, Tool};
use super::dockerfile::ANY;

/// Where a declaration (or an opaque build) is written, for messages: `file:line: what`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, repository-relative.
    pub file: String,
    /// The line (1-based; 0 when not known).
    pub line: usize,
    /// What it is: ``job `build`: docker build``, ``service `web` ``.
    pub what: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

/// The dockerfile a declaration builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dockerfile {
    /// A repository path.
    Path(String),
    /// A repository path with text not known here ([`ANY`]): it may name several files.
    Pattern(String),
    /// A dockerfile written in the declaration itself (compose `dockerfile_inline`, bake
    /// `dockerfile-inline`): an image of its own.
    Inline(String),
}

impl Dockerfile {
    /// A path, or a pattern when it holds [`ANY`].
    pub fn path(p: String) -> Self {
        if p.contains(ANY) {
            Dockerfile::Pattern(p)
        } else {
            Dockerfile::Path(p)
        }
    }

    /// Whether this names the repository file `path` (a pattern's unknown text matches
    /// anything).
    pub fn names(&self, path: &[u8]) -> bool {
        match self {
            Dockerfile::Path(p) => p.as_bytes() == path,
            Dockerfile::Pattern(p) => pattern_matches(p, path),
            Dockerfile::Inline(_) => false,
        }
    }
}

/// Whether `path` matches a pattern whose [`ANY`] stands for any text.
fn pattern_matches(pattern: &str, path: &[u8]) -> bool {
    let re = pattern
        .split(ANY)
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join("(?s-u:.*)");
    super::contexts::compiled(format!("^(?-u:{re})$")).is_some_and(|re| re.is_match(path))
}

/// Which stage a build stops at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// The last stage (no `--target`).
    #[default]
    Last,
    /// `--target NAME` (lowercased, as stage names compare).
    Named(String),
    /// A target not known here: any stage may be it.
    Unknown,
}

/// Which builder runs a declaration, where it matters (which `.dockerignore` is read,
/// how `ENV` and `ARG` of one name interact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Builder {
    /// BuildKit for certain (`docker buildx build`, bake, compose v2, build-push-action,
    /// `DOCKER_BUILDKIT=1`).
    BuildKit,
    /// The legacy builder for certain (`DOCKER_BUILDKIT=0`).
    Legacy,
    /// buildah (`podman build`, `buildah bud`).
    Buildah,
    /// `docker build`: BuildKit or the legacy builder, depending on the docker version
    /// and the environment of the runner.
    #[default]
    Either,
}

/// How one image is declared to be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Where.
    pub origin: Origin,
    /// The dockerfile.
    pub dockerfile: Dockerfile,
    /// The context, repository-relative; `None` when unknown.
    pub context: Option<String>,
    /// The target stage.
    pub target: Target,
    /// Build arguments it passes (`None`: value unknown).
    pub args: Vec<(String, Option<String>)>,
    /// Named build contexts that are local directories: (name, repository path).
    pub named: Vec<(String, String)>,
    /// The builder.
    pub builder: Builder,
}

impl Declaration {
    /// Whether only a job that cannot be seen may run it (a hidden GitLab job while a
    /// file from outside the tree is included): it says what may be built, never that
    /// something is.
    pub fn maybe(&self) -> bool {
        self.origin.what.starts_with(gitlab::HIDDEN)
    }
}

/// A build the repository runs that cannot be resolved here (a variable whose value is not
/// known, a file that cannot be read, an include from outside the repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opaque {
    /// Where.
    pub origin: Origin,
    /// Why it cannot be resolved.
    pub why: String,
}

/// What one entry file (with everything it reads) declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// Its declarations.
    pub decls: Vec<Declaration>,
    /// Its builds that cannot be resolved.
    pub opaque: Vec<Opaque>,
    /// Why it (or part of it) could not be read.
    pub warnings: Vec<String>,
    /// The other files of the tree it read, with their blob ids (`None`: not there).
    pub reads: Vec<(String, Option<Oid>)>,
}

/// Other files of the tree being judged, read from its objects.
pub trait Files {
    /// The file at a repository path: its blob id and text; `Ok(None)` when there is no
    /// such file (or it is a directory, a submodule or too large to read).
    fn read(&self, path: &str) -> crate::error::Result<Option<(Oid, std::sync::Arc<str>)>>;
    /// The paths of the files that match a glob (`*` within a name, `**` across
    /// directories), sorted.
    fn glob(&self, pattern: &str) -> crate::error::Result<Vec<String>>;
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
    /// `.github/workflows/*.yml`.
    GitHub,
}

/// The kind of declaration file `path` is, if any.
pub fn kind(path: &[u8]) -> Option<Kind> {
    let p = std::str::from_utf8(path).ok()?;
    let file = p.rsplit('/').next().unwrap_or(p);
    let yaml = file.ends_with(".yml") || file.ends_with(".yaml");
    if let Some(rest) = p.strip_prefix(".github/workflows/") {
        if !rest.contains('/') && yaml {
            return Some(Kind::GitHub);
        }
    }
    if compose::is_compose_file(file) {
        return Some(Kind::Compose);
    }
    match file {
        "docker-bake.hcl" | "docker-bake.override.hcl" => Some(Kind::BakeHcl),
        "docker-bake.json" | "docker-bake.override.json" => Some(Kind::BakeJson),
        _ => None,
    }
}

/// Resolves one entry file at `path` (its text), reading what else it needs through
/// `files`.
pub fn resolve(path: &[u8], text: &str, files: &dyn Files) -> Declared {
    match kind(path) {
        Some(k) => resolve_kind(k, &String::from_utf8_lossy(path), text, files),
        None => Declared::default(),
    }
}

/// Resolves the file at `shown` as a file of kind `kind` (a compose or bake file a CI job
/// names, whatever its name).
pub(crate) fn resolve_kind(kind: Kind, shown: &str, text: &str, files: &dyn Files) -> Declared {
    let dir = String::from_utf8_lossy(super::view::parent(shown.as_bytes())).into_owned();
    let mut out = Declared::default();
    let result = match kind {
        Kind::Compose => compose::resolve(shown, &dir, text, files, &mut out),
        Kind::GitHub => github::resolve(shown, text, files, &mut out),
        Kind::BakeHcl | Kind::BakeJson => bake::resolve(shown, &dir, text, files, &mut out),
    };
    unreadable(&mut out, shown, result);
    out
}

/// Resolves a GitLab pipeline whose entry file is `path` (`.gitlab-ci.yml`, or the
/// project's custom CI configuration path).
pub fn resolve_gitlab(path: &str, text: &str, files: &dyn Files) -> Declared {
    let mut out = Declared::default();
    let result = gitlab::resolve(path, text, files, &mut out);
    unreadable(&mut out, path, result);
    out
}

fn unreadable(out: &mut Declared, shown: &str, result: Result<(), String>) {
    if let Err(e) = result {
        out.warnings.push(format!(
            "{shown} cannot be read ({e}): the images it may declare keep their guessed contexts"
        ));
    }
}

/// Resolves one file that reads nothing else (tests).
#[cfg(test)]
pub fn parse(path: &[u8], text: &str) -> Declared {
    resolve(path, text, &NoFiles)
}

/// A tree with no other files.
#[cfg(test)]
#[derive(Debug)]
pub struct NoFiles;

/// A tree of files given in memory (tests).
#[cfg(test)]
#[derive(Debug)]
pub struct MemFiles(pub Vec<(&'static str, &'static str)>);

#[cfg(test)]
impl Files for MemFiles {
    fn read(&self, path: &str) -> crate::error::Result<Option<(Oid, std::sync::Arc<str>)>> {
        Ok(self.0.iter().find(|(p, _)| *p == path).map(|(_, t)| {
            let oid = Oid::hash_object(git2::ObjectType::Blob, t.as_bytes()).expect("oid");
            (oid, std::sync::Arc::from(*t))
        }))
    }
    fn glob(&self, pattern: &str) -> crate::error::Result<Vec<String>> {
        let re = format!("^{}$", crate::engine::matcher::glob_to_regex(pattern));
        let re = regex::bytes::Regex::new(&re).expect("glob");
        let mut out: Vec<String> = self
            .0
            .iter()
            .map(|(p, _)| (*p).to_owned())
            .filter(|p| re.is_match(p.as_bytes()))
            .collect();
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
impl Files for NoFiles {
    fn read(&self, _: &str) -> crate::error::Result<Option<(Oid, std::sync::Arc<str>)>> {
        Ok(None)
    }
    fn glob(&self, _: &str) -> crate::error::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// `dir/rel`, cleaned; `None` when it leaves the repository or is not a local path.
fn under(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim();
    if rel.contains("://") || rel.starts_with("git@") {
        return None;
    }
    repo_path(dir, rel)
}

/// A declaration of a dockerfile with a context (`None`: unknown).
fn declaration(
    origin: Origin,
    dockerfile: Dockerfile,
    context: Option<String>,
    args: Vec<(String, Option<String>)>,
    named: Vec<(String, String)>,
) -> Declaration {
    Declaration {
        origin,
        dockerfile,
        context,
        target: Target::Last,
        args,
        named,
        builder: Builder::Either,
    }
}

/// The declarations of one builder invocation found in a script (none for a build whose
/// context is a URL: it reads nothing of this tree).
fn from_call(out: &mut Declared, origin: &Origin, call: BuildCall) {
    if call.remote {
        return;
    }
    let buildah = call.tool == Tool::Buildah;
    let defaults: &[&str] = if buildah {
        &["Containerfile", "Dockerfile"]
    } else {
        &["Dockerfile", "dockerfile"]
    };
    let mut files: Vec<String> = match (&call.file, &call.context) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(c)) => defaults.iter().filter_map(|d| under(c, d)).collect(),
        (None, None) => vec![ANY.to_string()],
    };
    // kaniko reads a relative `--dockerfile` from the working directory when it is there.
    if let Some(f) = call.cwd_file.as_ref().filter(|f| !files.contains(f)) {
        files.push(f.clone());
    }
    let context = call.context.filter(|c| !c.contains(ANY));
    let origin = Origin {
        what: format!("{}: {}", origin.what, call.command),
        ..origin.clone()
    };
    let named: Vec<(String, String)> = call
        .named
        .iter()
        .map(|dir| (String::new(), dir.clone()))
        .collect();
    let target = match &call.target {
        None => Target::Last,
        Some(t) if t.contains(ANY) => Target::Unknown,
        Some(t) => Target::Named(t.to_lowercase()),
    };
    let builder = match (call.tool, call.buildkit) {
        (Tool::Buildah, _) => Builder::Buildah,
        (_, Some(true)) | (Tool::Nerdctl, _) => Builder::BuildKit,
        (_, Some(false)) => Builder::Legacy,
        _ => Builder::Either,
    };
    for f in files {
        let mut d = declaration(
            origin.clone(),
            Dockerfile::path(f),
            context.clone(),
            call.args.clone(),
            named.clone(),
        );
        d.target = target.clone();
        d.builder = builder;
        out.decls.push(d);
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
            ("deploy/web.compose.yaml", Some(Kind::Compose)),
            ("docker-compose.prod.yml", Some(Kind::Compose)),
            ("docker-bake.hcl", Some(Kind::BakeHcl)),
            (".gitlab-ci.yml", None),
            (".gitlab-ci.d/containers.yml", None),
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
        assert_eq!(
            d.decls[0].dockerfile,
            Dockerfile::Path("web/Dockerfile".into())
        );
        assert_eq!(d.decls[0].context.as_deref(), Some("web"));
        assert_eq!(
            d.decls[1].dockerfile,
            Dockerfile::Path("docker/api.Dockerfile".into())
        );
        assert_eq!(d.decls[1].context.as_deref(), Some(""));
        assert_eq!(d.decls[1].args, vec![("VERSION".into(), Some("1".into()))]);
        assert_eq!(d.decls[2].context, None);
        let bad = parse(b"compose.yaml", "services: [");
        assert_eq!(bad.warnings.len(), 1);
    }

    #[test]
    fn ci_command_lines() {
        let d = resolve_gitlab(
            ".gitlab-ci.yml",
            "variables:\n  NAME: debian\nbuild:\n  script:\n    - docker build -f tests/$NAME.docker .\n    - - podman build ctx\n",
            &NoFiles,
        );
        assert_eq!(
            d.decls[0].dockerfile,
            Dockerfile::Path("tests/debian.docker".into())
        );
        assert_eq!(d.decls[0].context.as_deref(), Some(""));
        assert_eq!(
            d.decls[1].dockerfile,
            Dockerfile::Path("ctx/Containerfile".into())
        );
        assert_eq!(
            d.decls[2].dockerfile,
            Dockerfile::Path("ctx/Dockerfile".into())
        );
        let d = parse(
            b".github/workflows/ci.yml",
            "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: app\n      - run: docker build -f ${{ github.workspace }}/x/Dockerfile x\n        working-directory: .\n",
        );
        assert_eq!(
            d.decls[0].dockerfile,
            Dockerfile::Path("app/Dockerfile".into())
        );
        assert_eq!(d.decls[0].context.as_deref(), Some("app"));
        assert_eq!(
            d.decls[1].dockerfile,
            Dockerfile::Path("x/Dockerfile".into())
        );
        assert_eq!(d.decls[1].context.as_deref(), Some("x"));
    }
}
