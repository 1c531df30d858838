//! Builder command lines in CI scripts: `docker build`, `docker buildx build`,
//! `docker image build`, `podman build`, `buildah bud` / `buildah build`, `nerdctl build`,
//! kaniko's `/kaniko/executor --context … --dockerfile …`: which dockerfile is built with
//! which context, target, build arguments and builder; and `docker compose build` /
//! `docker buildx bake` (and `up`/`run`/`create`, which build too): which compose or bake
//! files they read.
//!
//! Words come from [`super::shwords`] (already expanded). A path is relative to the
//! working directory of the command (CI jobs start at the repository root), or starts at
//! the root when it starts with [`ROOT`] (`$CI_PROJECT_DIR/…`). Anything not known here
//! (an unknown variable, an option we do not know, a URL context) makes that part
//! unknown: [`ANY`] in a path, `None` for a context.

use std::collections::HashMap;

use super::dockerfile::{clean, ANY};
use super::shwords::{self, ROOT};

/// Which program builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `docker build` (BuildKit or the legacy builder) and `docker buildx build`.
    Docker,
    /// podman or buildah (they look for `Containerfile` before `Dockerfile`).
    Buildah,
    /// nerdctl (BuildKit).
    Nerdctl,
    /// kaniko's executor.
    Kaniko,
}

/// One builder invocation found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCall {
    /// The command as written (first words), for messages.
    pub command: String,
    /// The dockerfile, repository-relative (may contain [`ANY`]); `None` when it is the
    /// context's default (`Dockerfile`, or `Containerfile` for podman/buildah).
    pub file: Option<String>,
    /// The context, repository-relative (may contain [`ANY`]); `None` when unknown.
    pub context: Option<String>,
    /// `--build-arg NAME=VALUE` (`None`: the value is unknown).
    pub args: Vec<(String, Option<String>)>,
    /// `--build-context name=DIR` directories (repository-relative).
    pub named: Vec<String>,
    /// Which program builds.
    pub tool: Tool,
    /// `Some(true)`: BuildKit for certain (`buildx`, `DOCKER_BUILDKIT=1`); `Some(false)`:
    /// the legacy builder (`DOCKER_BUILDKIT=0`); `None`: not known.
    pub buildkit: Option<bool>,
    /// `--target` (may contain [`ANY`]); `None`: the last stage.
    pub target: Option<String>,
    /// kaniko's dockerfile relative to the working directory (it looks there before the
    /// context).
    pub cwd_file: Option<String>,
    /// The context is a URL or a git remote: the build reads nothing of this tree.
    pub remote: bool,
}

/// Which kind of file a `compose` / `bake` command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTool {
    /// `docker compose` / `docker-compose` / `podman-compose`.
    Compose,
    /// `docker buildx bake`.
    Bake,
}

/// A command that builds what a compose or bake file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBuild {
    /// The command as written (first words).
    pub command: String,
    /// Which tool.
    pub tool: FileTool,
    /// The files named with `-f` (repository paths, may contain [`ANY`]); empty: the
    /// tool's default files in the working directory.
    pub files: Vec<String>,
    /// Why what it builds is not known from the files (`--set *.dockerfile=…`).
    pub unknown: Option<String>,
}

/// What a command is to the image model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A builder.
    Build(BuildCall),
    /// compose / bake.
    Files(FileBuild),
}

/// docker/podman/buildah build options that take a value (as a separate word).
const VALUE_FLAGS: &[&str] = &[
    "-f",
    "--file",
    "-t",
    "--tag",
    "--build-arg",
    "--build-context",
    "--target",
    "--cache-from",
    "--cache-to",
    "--platform",
    "--label",
    "--network",
    "--add-host",
    "--cgroup-parent",
    "--cpu-period",
    "--cpu-quota",
    "-c",
    "--cpu-shares",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--iidfile",
    "--isolation",
    "-m",
    "--memory",
    "--memory-swap",
    "-o",
    "--output",
    "--progress",
    "--secret",
    "--security-opt",
    "--shm-size",
    "--ssh",
    "--ulimit",
    "--attest",
    "--sbom",
    "--provenance",
    "--metadata-file",
    "--allow",
    "--builder",
    "--call",
    "--annotation",
    "--authfile",
    "--cert-dir",
    "--creds",
    "--format",
    "--runtime",
    "--sign-by",
    "--signature-policy",
    "--arch",
    "--os",
    "--variant",
    "--jobs",
    "--logfile",
    "--manifest",
    "--timestamp",
    "-v",
    "--volume",
    "--cap-add",
    "--cap-drop",
    "--device",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--from",
    "--userns",
    "--uts",
    "--pid",
    "--ipc",
    "--cgroupns",
    "--decryption-key",
    "--ignorefile",
    "--layer-label",
    "--unsetenv",
    "--unsetlabel",
    "--retry",
    "--retry-delay",
    "--os-feature",
    "--os-version",
    "--platforms",
    "--rusage-logfile",
    "--hooks-dir",
    "--cpp-flag",
    "--group-add",
    "--source-date-epoch",
    "--env",
    "-e",
    "--runtime-flag",
    "--tls-details",
    "--userns-uid-map",
    "--userns-gid-map",
    "--userns-uid-map-user",
    "--userns-gid-map-group",
    "--cw",
    "--sbom-output",
    "--sbom-scanner-image",
    "--sbom-image-output",
    "--sbom-merge-strategy",
    "--no-cache-filter",
    "--identity-label",
    "--stdin",
];

/// Boolean options (no value).
const BOOL_FLAGS: &[&str] = &[
    "-q",
    "--quiet",
    "--no-cache",
    "--pull",
    "--rm",
    "--force-rm",
    "--compress",
    "--squash",
    "--squash-all",
    "--load",
    "--push",
    "--layers",
    "--disable-compression",
    "-D",
    "--disable-content-trust",
    "--debug",
    "--help",
    "--tls-verify",
    "--http-proxy",
    "--no-hosts",
    "--omit-history",
    "--compat-volumes",
    "--rewrite-timestamp",
    "--inherit-labels",
    "--skip-unused-stages",
    "--all-platforms",
    "--check",
    "--print",
    "--stream",
];

/// docker's own options before the subcommand that take a value.
const DOCKER_GLOBAL: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    "--url",
    "--connection",
    "--remote",
    "--identity",
    "--root",
    "--runroot",
    "--storage-driver",
    "--cgroup-manager",
    "--namespace",
    "-n",
    "--address",
    "-a",
];

/// Wrappers that run the rest of the line (their own options skipped).
const WRAPPERS: &[&str] = &["sudo", "time", "exec", "command", "nice", "env", "nohup"];

/// Whether a word is `NAME=value`.
pub fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(n, _)| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The words of a command after its leading assignments and wrappers, with the
/// assignments given to it (`DOCKER_BUILDKIT=1 docker build`, `env A=b cmd`).
pub fn strip_prefix(words: &[String]) -> (&[String], Vec<(&str, &str)>) {
    let mut w = words;
    let mut assigned = Vec::new();
    while let Some((first, rest)) = w.split_first() {
        if is_assignment(first) {
            if let Some((n, v)) = first.split_once('=') {
                assigned.push((n, v));
            }
            w = rest;
        } else if WRAPPERS.contains(&first.as_str()) {
            w = rest;
            // `sudo -E`, `env -i`, `nice -n 5`: options of the wrapper.
            while let Some((o, r)) = w.split_first() {
                if o == "--" {
                    w = r;
                    break;
                }
                if !o.starts_with('-') {
                    break;
                }
                w = r;
                if matches!(o.as_str(), "-n" | "-u" | "-g" | "-C" | "-S") {
                    w = w.get(1..).unwrap_or_default();
                }
            }
        } else {
            break;
        }
    }
    (w, assigned)
}

/// What the command `words` (prefix stripped) is to the image model, run in `cwd`
/// (`None`: unknown) with `DOCKER_BUILDKIT` set to `buildkit`.
pub fn invocation(
    words: &[String],
    cwd: Option<&str>,
    buildkit: Option<&str>,
) -> Option<Invocation> {
    let first = words.first()?;
    let tool = first.rsplit('/').next().unwrap_or(first);
    let is_docker = matches!(tool, "docker" | "podman" | "nerdctl");
    // Options of docker itself (`docker -H tcp://… build`).
    let mut i = 1;
    if is_docker {
        while let Some(w) = words.get(i) {
            if DOCKER_GLOBAL.contains(&w.as_str()) {
                i += 2;
            } else if w.starts_with('-') {
                i += 1;
            } else {
                break;
            }
        }
    }
    let sub = |k: usize| words.get(i + k).map(String::as_str);
    let unknown_tool = first.contains(ANY);
    let buildkit = match buildkit {
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    let build = |rest: usize, tool: Tool, bk: Option<bool>| {
        let n = (i + rest).min(words.len());
        let command = words[..n].join(" ");
        Some(Invocation::Build(parse_call(
            command,
            &words[n..],
            cwd,
            tool,
            bk,
        )))
    };
    match (tool, sub(0), sub(1)) {
        ("docker", Some("build"), _) => build(1, Tool::Docker, buildkit),
        ("docker", Some("buildx"), Some("build" | "b")) => build(2, Tool::Docker, Some(true)),
        ("docker", Some("image" | "builder"), Some("build")) => build(2, Tool::Docker, buildkit),
        ("podman", Some("build"), _) => build(1, Tool::Buildah, None),
        ("podman", Some("image"), Some("build")) => build(2, Tool::Buildah, None),
        ("buildah", Some("bud" | "build" | "build-using-dockerfile"), _) => {
            build(1, Tool::Buildah, None)
        }
        ("nerdctl", Some("build"), _) => build(1, Tool::Nerdctl, Some(true)),
        ("nerdctl", Some("image"), Some("build")) => build(2, Tool::Nerdctl, Some(true)),
        ("docker" | "podman" | "nerdctl", Some("compose"), _) => {
            files(words, i + 1, FileTool::Compose, cwd)
        }
        ("docker-compose" | "podman-compose" | "nerdctl-compose", _, _) => {
            files(words, 1, FileTool::Compose, cwd)
        }
        ("docker", Some("buildx"), Some("bake")) => files(words, i + 2, FileTool::Bake, cwd),
        ("docker", Some("bake"), _) => files(words, i + 1, FileTool::Bake, cwd),
        ("executor", _, _)
            if first.contains("kaniko")
                || words
                    .iter()
                    .any(|w| w.starts_with("--dockerfile") || w.starts_with("--context")) =>
        {
            Some(Invocation::Build(kaniko(words, cwd)))
        }
        // `$DOCKER build …`: a builder whose name is not known here.
        (_, Some("build"), _) if unknown_tool => build(1, Tool::Docker, buildkit),
        (_, Some("buildx"), Some("build")) if unknown_tool => build(2, Tool::Docker, Some(true)),
        _ => None,
    }
}

/// compose / bake options that take a value, before or after the subcommand.
const FILE_TOOL_VALUE_FLAGS: &[&str] = &[
    "-p",
    "--project-name",
    "--project-directory",
    "--profile",
    "--env-file",
    "--ansi",
    "--parallel",
    "--progress",
    "--builder",
    "--metadata-file",
    "--set",
    "--call",
    "--allow",
    "--list",
];

/// `docker compose …` / `docker buildx bake …` from word `i` on.
fn files(words: &[String], i: usize, tool: FileTool, cwd: Option<&str>) -> Option<Invocation> {
    let mut out = FileBuild {
        command: words[..i.min(words.len())].join(" "),
        tool,
        files: Vec::new(),
        unknown: None,
    };
    let mut dir = cwd.map(str::to_owned);
    let mut sub = None;
    let mut k = i;
    while let Some(w) = words.get(k) {
        k += 1;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        let takes = matches!(flag, "-f" | "--file") || FILE_TOOL_VALUE_FLAGS.contains(&flag);
        let value = if takes {
            match inline {
                Some(v) => Some(v),
                None => {
                    k += 1;
                    words.get(k - 1).cloned()
                }
            }
        } else {
            None
        };
        match (flag, value) {
            ("-f" | "--file", Some(f)) => out.files.push(f),
            ("--project-directory", Some(d)) => {
                dir = dir.as_deref().and_then(|c| local_dir(c, &d));
            }
            ("--set", Some(s)) => {
                let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k);
                if [
                    ".dockerfile",
                    ".context",
                    ".contexts",
                    ".target",
                    ".dockerfile-inline",
                ]
                .iter()
                .any(|k| key.ends_with(k) || key.contains(&format!("{k}.")))
                {
                    out.unknown = Some(format!("`--set {s}` overrides what the file declares"));
                }
            }
            (f, _) if f.starts_with('-') => {}
            (word, _) if sub.is_none() => sub = Some(word.to_owned()),
            _ => {}
        }
    }
    if tool == FileTool::Compose
        && !matches!(sub.as_deref(), Some("build" | "up" | "run" | "create"))
    {
        return None;
    }
    out.files = out
        .files
        .iter()
        .map(|f| match dir.as_deref() {
            Some(d) => repo_path(d, f).unwrap_or_else(|| ANY.to_string()),
            None => ANY.to_string(),
        })
        .collect();
    if out.files.is_empty() && dir.is_none() {
        out.unknown = Some("the working directory is not known here".into());
    }
    Some(Invocation::Files(out))
}

/// kaniko's executor: `--context` (a directory, `dir://…`; other schemes are not this
/// repository), `--context-sub-path`, `--dockerfile` (relative to the working directory,
/// else to the context), `--build-arg`, `--target`.
fn kaniko(words: &[String], cwd: Option<&str>) -> BuildCall {
    let mut call = BuildCall {
        command: words[0].clone(),
        file: None,
        context: None,
        args: Vec::new(),
        named: Vec::new(),
        tool: Tool::Kaniko,
        buildkit: None,
        target: None,
        cwd_file: None,
        remote: false,
    };
    let (mut context, mut sub, mut file) = (None, None, None);
    let mut k = 1;
    while let Some(w) = words.get(k) {
        k += 1;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), Some(v.to_owned())),
            _ => (w.clone(), None),
        };
        if !matches!(
            flag.as_str(),
            "-c" | "--context"
                | "--context-sub-path"
                | "-f"
                | "--dockerfile"
                | "--build-arg"
                | "--target"
        ) {
            continue;
        }
        let Some(v) = inline.or_else(|| {
            k += 1;
            words.get(k - 1).cloned()
        }) else {
            break;
        };
        match flag.as_str() {
            "-c" | "--context" => context = Some(v),
            "--context-sub-path" => sub = Some(v),
            "-f" | "--dockerfile" => file = Some(v),
            "--build-arg" => push_arg(&mut call.args, &v),
            _ => call.target = Some(v),
        }
    }
    let context = context
        .inspect(|c| call.remote = c.contains("://"))
        .and_then(|c| match c.strip_prefix("dir://") {
            Some(p) => Some(p.to_owned()),
            None if c.contains("://") => None,
            None => Some(c),
        })
        .map(|c| match &sub {
            Some(s) => format!("{c}/{s}"),
            None => c,
        });
    call.context = match (cwd, &context) {
        (Some(c), Some(ctx)) => local_dir(c, ctx),
        _ => None,
    };
    let file = file.unwrap_or_else(|| "Dockerfile".into());
    call.cwd_file = cwd.and_then(|c| repo_path(c, &file));
    call.file = match &call.context {
        Some(ctx) if !file.starts_with(['/', ROOT]) => repo_path(ctx, &file),
        _ => call.cwd_file.clone(),
    };
    if call.file.is_none() {
        call.file = Some(ANY.to_string());
    }
    call
}

fn push_arg(args: &mut Vec<(String, Option<String>)>, v: &str) {
    match v.split_once('=') {
        Some((k, val)) => args.push((k.to_owned(), (!val.contains(ANY)).then(|| val.to_owned()))),
        // `--build-arg NAME` takes the value from the environment: unknown.
        None => args.push((v.to_owned(), None)),
    }
}

/// The variables that name the repository root in CI (`$CI_PROJECT_DIR/x` is `x`).
pub const ROOT_VARS: &[&str] = &["CI_PROJECT_DIR", "GITHUB_WORKSPACE"];

/// A path word relative to `cwd`, repository-relative and cleaned; `None` when it leaves
/// the repository or is absolute (outside what this repository holds). A word starting
/// with [`ROOT`] is resolved from the repository root.
pub(super) fn repo_path(cwd: &str, word: &str) -> Option<String> {
    let (cwd, word) = match word.strip_prefix(ROOT) {
        Some(rest) => ("", rest.trim_start_matches('/')),
        None => (cwd, word),
    };
    if word.starts_with('/') || word.contains(ROOT) {
        return None;
    }
    let joined = if cwd.is_empty() {
        word.to_owned()
    } else {
        format!("{cwd}/{word}")
    };
    let mut depth: i32 = 0;
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => depth += 1,
        }
    }
    Some(clean(&joined))
}

/// The builder invocations in a script (run from the repository root).
pub fn build_calls(script: &str, vars: &HashMap<String, String>) -> Vec<BuildCall> {
    build_calls_in(script, vars, &mut Some(String::new()))
}

/// The builder invocations in a script run in `cwd` (repository-relative, `None`:
/// unknown), which a `cd` in it moves for what follows (the next script of the same job);
/// assignments (`NAME=…`, `export NAME=…`) apply to what follows.
pub fn build_calls_in(
    script: &str,
    vars: &HashMap<String, String>,
    cwd: &mut Option<String>,
) -> Vec<BuildCall> {
    let mut vars = vars.clone();
    for v in ROOT_VARS {
        vars.insert((*v).to_owned(), ROOT.to_string());
    }
    let mut out = Vec::new();
    for raw in shwords::lex(script) {
        let words: Vec<String> = raw
            .words
            .iter()
            .flat_map(|w| shwords::expand(w, &vars))
            .collect();
        let (w, assigned) = strip_prefix(&words);
        let Some(first) = w.first() else {
            for (n, v) in assigned {
                vars.insert(n.to_owned(), v.to_owned());
            }
            continue;
        };
        if first == "export" {
            for a in &w[1..] {
                if let Some((n, v)) = a.split_once('=').filter(|_| is_assignment(a)) {
                    vars.insert(n.to_owned(), v.to_owned());
                }
            }
            continue;
        }
        if first == "cd" {
            *cwd = change_dir(cwd.take(), w.get(1).map(String::as_str));
            continue;
        }
        let bk = assigned
            .iter()
            .rev()
            .find(|(n, _)| *n == "DOCKER_BUILDKIT")
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| vars.get("DOCKER_BUILDKIT").cloned());
        if let Some(Invocation::Build(call)) = invocation(w, cwd.as_deref(), bk.as_deref()) {
            out.push(call);
        }
    }
    out
}

/// The working directory after `cd DIR` (`cd` alone: the home directory, here the root).
pub fn change_dir(cwd: Option<String>, dir: Option<&str>) -> Option<String> {
    match (cwd, dir) {
        (_, None) => Some(String::new()),
        (_, Some("-")) => None,
        (Some(c), Some(d)) if !d.contains(ANY) => repo_path(&c, d),
        (None, Some(d)) if d.starts_with(ROOT) && !d.contains(ANY) => repo_path("", d),
        _ => None,
    }
}

fn parse_call(
    command: String,
    args: &[String],
    cwd: Option<&str>,
    tool: Tool,
    buildkit: Option<bool>,
) -> BuildCall {
    let mut call = BuildCall {
        command,
        file: None,
        context: None,
        args: Vec::new(),
        named: Vec::new(),
        tool,
        buildkit,
        target: None,
        cwd_file: None,
        remote: false,
    };
    let mut positional = Vec::new();
    let mut uncertain = false;
    let mut i = 0;
    let mut file = None;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            positional.push(a.clone());
            continue;
        }
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => {
                // `-fDockerfile` style short options.
                if a.len() > 2 && !a.starts_with("--") && VALUE_FLAGS.contains(&&a[..2]) {
                    let v = &a[2..];
                    (
                        a[..2].to_owned(),
                        Some(v.strip_prefix('=').unwrap_or(v).to_owned()),
                    )
                } else {
                    (a.clone(), None)
                }
            }
        };
        let value = if VALUE_FLAGS.contains(&flag.as_str()) {
            match value {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    args.get(i - 1).cloned()
                }
            }
        } else {
            if !BOOL_FLAGS.contains(&flag.as_str()) && value.is_none() {
                // We do not know whether it takes a value: the context is uncertain.
                uncertain = true;
            }
            None
        };
        let Some(v) = value else { continue };
        match flag.as_str() {
            "-f" | "--file" => file = Some(v),
            "--build-arg" => push_arg(&mut call.args, &v),
            "--target" => call.target = Some(v),
            "--build-context" => {
                if let Some((_, dir)) = v.split_once('=') {
                    if let Some(p) = cwd.and_then(|c| local_dir(c, dir)) {
                        call.named.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    let context = match positional.as_slice() {
        [one] if !uncertain => Some(one.clone()),
        _ => None,
    };
    call.remote = context.as_deref().is_some_and(remote_context);
    call.context = match (cwd, context) {
        (Some(c), Some(ctx)) => local_dir(c, &ctx),
        _ => None,
    };
    call.file = match (cwd, file) {
        (_, None) => None,
        (_, Some(f)) if f == "-" => None,
        (Some(c), Some(f)) => repo_path(c, &f),
        (None, Some(f)) if f.starts_with(ROOT) => repo_path("", &f),
        (None, Some(_)) => Some(ANY.to_string()),
    };
    // `-f` given but unusable (absolute, outside, stdin): a dockerfile we cannot name.
    if call.file.is_none()
        && args
            .iter()
            .any(|a| a == "-f" || a == "--file" || a.starts_with("--file="))
    {
        call.file = Some(ANY.to_string());
    }
    call
}

/// Whether a context word names another place than this repository (a URL, a git
/// remote): such a build reads nothing of this tree.
pub fn remote_context(word: &str) -> bool {
    word.contains("://") || word.starts_with("git@") || word.starts_with("github.com/")
}

/// A local context directory (not a URL, not `-`).
fn local_dir(cwd: &str, word: &str) -> Option<String> {
    if word == "-" || remote_context(word) {
        return None;
    }
    repo_path(cwd, word)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn calls(s: &str) -> Vec<BuildCall> {
        let vars = HashMap::from([("NAME".to_owned(), "debian".to_owned())]);
        build_calls(s, &vars)
    }

    #[test]
    fn finds_builds_in_scripts() {
        let c = calls(
            "set -e\ndocker build -t x:1 -f docker/Dockerfile --build-arg A=1 .\ncd sub && sudo podman build --layers -f=ci/$NAME.Containerfile ctx\n",
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].file.as_deref(), Some("docker/Dockerfile"));
        assert_eq!(c[0].context.as_deref(), Some(""));
        assert_eq!(c[0].args, vec![("A".into(), Some("1".into()))]);
        assert_eq!(c[1].file.as_deref(), Some("sub/ci/debian.Containerfile"));
        assert_eq!(c[1].context.as_deref(), Some("sub/ctx"));
        assert_eq!(c[1].tool, Tool::Buildah);
        let c = calls("docker buildx build --push \\\n  --file \"$CI_PROJECT_DIR/a b/Dockerfile\" \"${CI_PROJECT_DIR}/a b\"");
        assert_eq!(c[0].file.as_deref(), Some("a b/Dockerfile"));
        assert_eq!(c[0].context.as_deref(), Some("a b"));
        let c = calls("buildah bud -f $UNKNOWN/Dockerfile --weird-flag x .");
        assert_eq!(c[0].file, Some(format!("{ANY}/Dockerfile")));
        assert_eq!(
            c[0].context, None,
            "an unknown option makes the context unknown"
        );
        let c = calls("docker build - < Dockerfile\ndocker build https://github.com/x/y.git\necho docker build");
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.context.is_none()));
        assert_eq!((c[0].remote, c[1].remote), (false, true));
        let c = calls("docker build --build-context tools=../tools .");
        assert!(c[0].named.is_empty(), "outside the repository");
    }

    #[test]
    fn builders_targets_roots_and_assignments() {
        let c = calls(
            "export DF=a.docker\nDOCKER_BUILDKIT=1 docker build --target Final -f $DF .\ndocker -H tcp://x buildx build --target=t .\nDOCKER_BUILDKIT=0 docker image build .\ncd sub\ndocker build -f \"$CI_PROJECT_DIR/x/Dockerfile\" \"$CI_PROJECT_DIR\"\n",
        );
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(c[0].file.as_deref(), Some("a.docker"));
        assert_eq!(
            (c[0].buildkit, c[0].target.as_deref()),
            (Some(true), Some("Final"))
        );
        assert_eq!(
            (c[1].buildkit, c[1].target.as_deref()),
            (Some(true), Some("t"))
        );
        assert_eq!(c[2].buildkit, Some(false));
        assert_eq!(
            c[3].file.as_deref(),
            Some("x/Dockerfile"),
            "from the root, not sub/"
        );
        assert_eq!(c[3].context.as_deref(), Some(""));
        let c = calls("/kaniko/executor --context \"${CI_PROJECT_DIR}\" --dockerfile \"${CI_PROJECT_DIR}/docker/Dockerfile\" --destination x --build-arg A=1 --target=b");
        assert_eq!(c[0].tool, Tool::Kaniko);
        assert_eq!(c[0].file.as_deref(), Some("docker/Dockerfile"));
        assert_eq!(c[0].context.as_deref(), Some(""));
        assert_eq!(c[0].args, vec![("A".into(), Some("1".into()))]);
        let c = calls(
            "cd ci && executor --context dir://ctx --dockerfile d.df\n$DOCKER build -f x.df .\n",
        );
        assert_eq!(c[0].context.as_deref(), Some("ci/ctx"));
        assert_eq!(c[0].file.as_deref(), Some("ci/ctx/d.df"));
        assert_eq!(c[0].cwd_file.as_deref(), Some("ci/d.df"));
        assert_eq!(
            c[1].file.as_deref(),
            Some("ci/x.df"),
            "an unknown builder name that builds"
        );
    }

    #[test]
    fn compose_and_bake_commands_name_their_files() {
        let inv = |s: &str, cwd: Option<&str>| {
            let w: Vec<String> = s.split(' ').map(str::to_owned).collect();
            invocation(&w, cwd, None)
        };
        let Some(Invocation::Files(f)) =
            inv("docker compose -f ci/a.yml --profile x build web", Some(""))
        else {
            panic!("compose build");
        };
        assert_eq!(
            (f.tool, f.files.clone()),
            (FileTool::Compose, vec!["ci/a.yml".to_owned()])
        );
        assert!(
            inv("docker compose -f x.yml push", Some("")).is_none(),
            "push builds nothing"
        );
        let Some(Invocation::Files(f)) = inv(
            "docker buildx bake -f d/b.hcl --set *.platform=arm64 all",
            Some("sub"),
        ) else {
            panic!("bake");
        };
        assert_eq!(
            (f.tool, f.files.clone(), f.unknown.clone()),
            (FileTool::Bake, vec!["sub/d/b.hcl".to_owned()], None)
        );
        let Some(Invocation::Files(f)) = inv("docker buildx bake --set app.dockerfile=x", Some(""))
        else {
            panic!("bake");
        };
        assert!(f.unknown.is_some());
    }
}
