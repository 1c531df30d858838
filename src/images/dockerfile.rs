//! What a Dockerfile is built from: its stage graph, the context paths each stage copies,
//! and the images it uses. Syntax comes from [`super::lexer`]; one reading of the file
//! under one builder's rules is [`super::reading`]; this module holds the result and
//! answers "what does a build of target T read".
//!
//! The builders do not read a Dockerfile the same way, so a file is read several times
//! and the results are kept together, each item marked with the [`Readers`] that produce
//! it: the three builders' variable rules ([`Semantics`]), each with the build arguments
//! unknown (a build nobody declares: any `--build-arg` may be passed) or known (the
//! build's declaration says which it passes; an `ARG` without a default that it does not
//! pass is empty).
//!
//! - `FROM [--platform=…] IMAGE [AS NAME]`: IMAGE is expanded with the `ARG`s declared
//!   before the first `FROM`. A FROM of an earlier stage (by name, case-insensitive, or
//!   number) is a stage, `scratch` is nothing, anything else is an image reference.
//! - `COPY`/`ADD` sources (shell or JSON form) are expanded with the stage's variables (a
//!   variable the stage does not define may come from the base image, so it is "any
//!   text", unless the stage is built on `scratch`). Sources are context paths with Go
//!   `filepath.Match` wildcards, resolved against the context root (`/x` and `x` are the
//!   same; `..` cannot leave the context), and a source names the path and everything
//!   below it. Not context paths: heredoc sources (`<<EOF`, inline content),
//!   `--from=STAGE|IMAGE` (a dependency), and `ADD` of a URL or git remote.
//! - `RUN --mount=type=bind[,source=…]` reads the context (default: all of it) unless it
//!   has `from=…`, which, like `type=cache,from=…`, is a dependency.
//! - `ONBUILD COPY/ADD/RUN --mount`: recorded with the stage ([`Parsed::onbuild`]); they
//!   run in the builds of images built `FROM` it, with the child's context (and, for
//!   BuildKit as in Docker 20.10 and the legacy builder, in stages of the same file built
//!   `FROM` it).
//! - A build of target T ([`Stop`]) builds T and, transitively, the stages T is built
//!   `FROM`, copies `--from` or mounts `from=` ([`Parsed::needed`]): only their sources
//!   and images count. (The legacy builder also runs the other stages before T, but they
//!   cannot change T's content.)
//! - Not followed: `COPY --exclude` (ignored, so more paths count, never fewer), `ONBUILD
//!   COPY --from`.

use std::collections::{HashMap, HashSet};

use super::lexer::{lex, Lexed};
use super::reading;

/// Marks "any text" in a [`Source`] pattern (git paths never contain NUL).
pub const ANY: char = '\0';

/// How a builder expands variables, where builders differ (each checked in its source:
/// moby/buildkit `frontend/dockerfile/dockerfile2llb/convert.go`, at its current version
/// and at the v0.8 that Docker 20.10 vendors; moby/moby 20.10 `builder/dockerfile`):
///
/// | | BuildKit | BuildKit v0.8 | legacy builder |
/// |---|---|---|---|
/// | `ENV A=1 B=$A` | B sees A from before the instruction | same | same |
/// | `ARG A=1 B=$A` in a stage | B sees A=1 | B sees A from before | from before |
/// | `ARG A=1 B=$A` before the first FROM | B sees A=1 | B sees A=1 | from before |
/// | `ENV X` and `ARG X` in one stage | the later instruction wins | same | ENV wins |
/// | a stage's ARGs in a stage built FROM it | inherited | inherited | not |
/// | ONBUILD of a stage, in a stage built FROM it | not run | run | run |
///
/// Buildah and a `docker build` whose builder is not known are read all three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// BuildKit's Dockerfile frontend as it is now.
    BuildKit,
    /// The frontend built into Docker 20.10's BuildKit (v0.8).
    BuildKitV08,
    /// The legacy builder (`DOCKER_BUILDKIT=0`).
    Legacy,
}

impl Semantics {
    /// Every builder, in bit order.
    pub const ALL: [Semantics; 3] = [
        Semantics::BuildKit,
        Semantics::BuildKitV08,
        Semantics::Legacy,
    ];

    fn index(self) -> u8 {
        match self {
            Semantics::BuildKit => 0,
            Semantics::BuildKitV08 => 1,
            Semantics::Legacy => 2,
        }
    }
}

/// A set of readings: bit `i` is [`Semantics::ALL`]`[i]` with the build arguments
/// unknown, bit `3 + i` the same with the build's declared arguments.
pub type Readers = u8;

/// Every reading.
#[cfg(test)]
pub const EVERY: Readers = 0b11_1111;

/// The readings of builds by these builders, with the build arguments declared or not.
pub fn readers(builders: &[Semantics], declared: bool) -> Readers {
    let shift = if declared { 3 } else { 0 };
    builders
        .iter()
        .fold(0, |acc, s| acc | (1 << (s.index() + shift)))
}

/// The reading of one semantics, arguments known or not.
pub(crate) fn reader(semantics: Semantics, declared: bool) -> Readers {
    readers(&[semantics], declared)
}

/// How an image reference is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `FROM image`.
    From,
    /// `COPY --from=image` / `ADD --from=image`.
    CopyFrom,
    /// `RUN --mount=…,from=image`.
    MountFrom,
}

impl Via {
    /// The instruction, for messages.
    pub fn word(self) -> &'static str {
        match self {
            Via::From => "FROM",
            Via::CopyFrom => "COPY --from",
            Via::MountFrom => "RUN --mount from",
        }
    }
}

/// An image the Dockerfile uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written (variables not expanded).
    pub written: String,
    /// Expanded, when every variable in it is known.
    pub expanded: Option<String>,
    /// How it is used.
    pub via: Via,
    /// Line of the instruction.
    pub line: usize,
    /// The stage that uses it.
    pub stage: usize,
    /// The readings that find it.
    pub readers: Readers,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An earlier stage of the same file.
    Stage(usize),
    /// An image: index into [`Parsed::refs`].
    Image(usize),
}

/// Another stage a stage needs (its base, a `COPY --from`, a `RUN --mount from=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    /// The stage needed.
    pub stage: usize,
    /// The readings in which it is needed.
    pub readers: Readers,
}

/// One `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// What it starts from (as the first reading resolves it; [`Stage::deps`] has every
    /// reading's).
    pub base: Base,
    /// Line of the `FROM`.
    pub line: usize,
    /// The stages it needs.
    pub deps: Vec<Dep>,
}

/// A context path the image is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Cleaned, relative to the context root; Go wildcards; [`ANY`] for unknown text;
    /// empty for the whole context.
    pub pattern: String,
    /// Line of the instruction.
    pub line: usize,
    /// The stage that reads it.
    pub stage: usize,
    /// The readings that find it.
    pub readers: Readers,
}

impl Source {
    /// For display: `.` for the whole context, `*` for unknown text.
    pub fn display(&self) -> String {
        if self.pattern.is_empty() {
            ".".into()
        } else {
            self.pattern.replace(ANY, "*")
        }
    }

    /// Whether the pattern has Go wildcards (`*`, `?`, `[`): such a source may match
    /// nothing, and then reads nothing (BuildKit allows an empty wildcard match).
    pub fn is_wildcard(&self) -> bool {
        let mut escaped = false;
        for c in self.pattern.chars() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if matches!(c, '*' | '?' | '[') {
                return true;
            }
        }
        false
    }
}

/// Which stage a build stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop<'a> {
    /// The last stage (no `--target`).
    Last,
    /// `--target NAME` (lowercase).
    Named(&'a str),
    /// Not known: any stage may be the one built.
    Any,
}

/// The meaning of a Dockerfile, every reading of it together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Context paths read by COPY/ADD/RUN --mount, in order.
    pub sources: Vec<Source>,
    /// Context paths read by `ONBUILD` instructions, with the stage that declares them:
    /// they are read by the builds of what is built `FROM` that stage.
    pub onbuild: Vec<Source>,
    /// Images used (FROM, COPY --from, RUN --mount from), in order.
    pub refs: Vec<ImageRef>,
    /// `ADD` of URLs and git remotes.
    pub remote: Vec<String>,
    /// The line of each [`Parsed::remote`].
    pub remote_lines: Vec<usize>,
    /// `ARG`s whose value decides a source or a `FROM` (line, name, instruction): a
    /// `--build-arg` can override the default the analysis assumes.
    pub arg_uses: Vec<(usize, String, &'static str)>,
    /// Heredoc sources (inline content).
    pub inline: usize,
    /// Problems, `line N: …`.
    pub warnings: Vec<String>,
    /// The names of every `ARG` it declares, sorted: a `--build-arg` of another name
    /// changes nothing it reads.
    pub args: Vec<String>,
}

impl Parsed {
    /// The stages a build stopping at `stop` ends with (what the built image is): the last
    /// stage, the named one, or every stage when the stop is not known (or names no stage:
    /// `None` then, so that callers can say so).
    pub fn finals(&self, stop: Stop<'_>) -> Option<Vec<usize>> {
        let n = self.stages.len();
        match stop {
            Stop::Last => Some(n.checked_sub(1).into_iter().collect()),
            Stop::Any => Some((0..n).collect()),
            Stop::Named(name) => self
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(name))
                .map(|i| vec![i]),
        }
    }

    /// For each stage, the readings (among `readers`) in which a build stopping at `stop`
    /// builds it: the final stage(s) and everything they need, transitively. A named stop
    /// that is no stage counts every stage.
    pub fn needed(&self, stop: Stop<'_>, readers: Readers) -> Vec<Readers> {
        let finals = self
            .finals(stop)
            .unwrap_or_else(|| (0..self.stages.len()).collect());
        let mut out = vec![0; self.stages.len()];
        for bit in (0..8).map(|b| 1u8 << b).filter(|b| readers & b != 0) {
            let mut stack = finals.clone();
            while let Some(s) = stack.pop() {
                let Some(slot) = out.get_mut(s) else { continue };
                if *slot & bit != 0 {
                    continue;
                }
                *slot |= bit;
                stack.extend(
                    self.stages[s]
                        .deps
                        .iter()
                        .filter(|d| d.readers & bit != 0)
                        .map(|d| d.stage),
                );
            }
        }
        out
    }

    /// The sources a build stopping at `stop`, read as `readers`, reads.
    pub fn sources_for(&self, stop: Stop<'_>, readers: Readers) -> Vec<&Source> {
        let needed = self.needed(stop, readers);
        self.sources
            .iter()
            .filter(|s| needed.get(s.stage).is_some_and(|n| n & s.readers != 0))
            .collect()
    }

    /// The images a build stopping at `stop`, read as `readers`, uses.
    pub fn refs_for(&self, stop: Stop<'_>, readers: Readers) -> Vec<&ImageRef> {
        let needed = self.needed(stop, readers);
        self.refs
            .iter()
            .filter(|r| needed.get(r.stage).is_some_and(|n| n & r.readers != 0))
            .collect()
    }

    /// The `ONBUILD` sources of the image a build stopping at `stop` makes (its final
    /// stage's), which the builds of its children read.
    pub fn onbuild_for(&self, stop: Stop<'_>, readers: Readers) -> Vec<&Source> {
        let finals = self
            .finals(stop)
            .unwrap_or_else(|| (0..self.stages.len()).collect());
        self.onbuild
            .iter()
            .filter(|s| finals.contains(&s.stage) && s.readers & readers != 0)
            .collect()
    }
}

/// Parses a Dockerfile's text, every reading: each builder, with the build arguments
/// unknown and with none passed.
pub fn parse(text: &str) -> Parsed {
    let lexed = lex(text);
    let mut u = Union::default();
    for s in Semantics::ALL {
        reading::read(&lexed, s, None, reader(s, false), &mut u);
    }
    // Known or unknown build arguments differ only for an `ARG` without a default (most
    // files have none: their declared readings are the others, without reading again).
    let open = lexed.instructions.iter().any(|i| {
        i.cmd == "arg"
            && i.args
                .iter()
                .any(|w| !w.contains('=') && !reading::PLATFORM_ARGS.contains(&w.as_str()))
    });
    if open {
        let none = HashMap::new();
        for s in Semantics::ALL {
            reading::read(&lexed, s, Some(&none), reader(s, true), &mut u);
        }
    } else {
        u.declared_as_guessed();
    }
    u.finish(&lexed)
}

/// Parses a Dockerfile's text as built with these `--build-arg`s (`None`: a value not
/// known here): they replace the defaults of the `ARG`s they name, and an `ARG` without a
/// default that they do not name is empty. Only the declared-arguments readings.
pub fn parse_with_args(text: &str, build_args: &HashMap<String, Option<String>>) -> Parsed {
    let lexed = lex(text);
    let mut u = Union::default();
    for s in Semantics::ALL {
        reading::read(&lexed, s, Some(build_args), reader(s, true), &mut u);
    }
    u.finish(&lexed)
}

/// The readings of one file, merged: every item once, with the readings that found it.
#[derive(Debug, Default)]
pub(crate) struct Union {
    p: Parsed,
    sources: HashMap<(usize, usize, String), usize>,
    onbuild: HashMap<(usize, usize, String), usize>,
    refs: HashMap<(usize, usize, String, Option<String>, Via), usize>,
    remote: HashSet<(usize, String)>,
    uses: HashSet<(usize, String, &'static str)>,
    warnings: HashSet<String>,
    /// Whether a reading has run (only the first counts heredocs and sets stage bases).
    pub(crate) later: bool,
}

impl Union {
    /// Stage `i` (as the first reading defines it).
    pub(crate) fn stage(&mut self, i: usize, name: Option<String>, base: Base, line: usize) {
        if self.p.stages.len() == i {
            self.p.stages.push(Stage {
                name,
                base,
                line,
                deps: Vec::new(),
            });
        }
    }

    /// Stage `stage` needs stage `on` in reading `r`.
    pub(crate) fn dep(&mut self, stage: usize, on: usize, r: Readers) {
        let Some(s) = self.p.stages.get_mut(stage) else {
            return;
        };
        match s.deps.iter_mut().find(|d| d.stage == on) {
            Some(d) => d.readers |= r,
            None => s.deps.push(Dep {
                stage: on,
                readers: r,
            }),
        }
    }

    /// A source of `stage` (or, with `onbuild`, of the builds `FROM` it).
    pub(crate) fn source(
        &mut self,
        onbuild: bool,
        stage: usize,
        pattern: String,
        line: usize,
        r: Readers,
    ) {
        let (map, list) = if onbuild {
            (&mut self.onbuild, &mut self.p.onbuild)
        } else {
            (&mut self.sources, &mut self.p.sources)
        };
        let key = (stage, line, pattern);
        match map.get(&key) {
            Some(&i) => list[i].readers |= r,
            None => {
                list.push(Source {
                    pattern: key.2.clone(),
                    line,
                    stage,
                    readers: r,
                });
                map.insert(key, list.len() - 1);
            }
        }
    }

    /// An image reference; returns its index.
    pub(crate) fn image(&mut self, r: ImageRef) -> usize {
        let key = (
            r.stage,
            r.line,
            r.written.clone(),
            r.expanded.clone(),
            r.via,
        );
        match self.refs.get(&key) {
            Some(&i) => {
                self.p.refs[i].readers |= r.readers;
                i
            }
            None => {
                self.p.refs.push(r);
                let i = self.p.refs.len() - 1;
                self.refs.insert(key, i);
                i
            }
        }
    }

    /// An `ADD` of a URL.
    pub(crate) fn remote(&mut self, line: usize, url: String) {
        if self.remote.insert((line, url.clone())) {
            self.p.remote.push(url);
            self.p.remote_lines.push(line);
        }
    }

    /// A heredoc source (counted by the first reading only).
    pub(crate) fn inline(&mut self) {
        if !self.later {
            self.p.inline += 1;
        }
    }

    /// An `ARG` deciding a source or a `FROM`.
    pub(crate) fn arg_use(&mut self, line: usize, name: String, what: &'static str) {
        if self.uses.insert((line, name.clone(), what)) {
            self.p.arg_uses.push((line, name, what));
        }
    }

    /// A problem with the file.
    pub(crate) fn warn(&mut self, line: usize, message: String) {
        let w = format!("line {line}: {message}");
        if self.warnings.insert(w.clone()) {
            self.p.warnings.push(w);
        }
    }

    /// Gives every item the declared-arguments readings of the readings that found it.
    fn declared_as_guessed(&mut self) {
        let up = |r: &mut Readers| *r |= (*r & 0b111) << 3;
        let p = &mut self.p;
        p.sources.iter_mut().for_each(|s| up(&mut s.readers));
        p.onbuild.iter_mut().for_each(|s| up(&mut s.readers));
        p.refs.iter_mut().for_each(|r| up(&mut r.readers));
        for st in &mut p.stages {
            st.deps.iter_mut().for_each(|d| up(&mut d.readers));
        }
    }

    fn finish(mut self, lexed: &Lexed) -> Parsed {
        let mut warnings: Vec<String> = lexed
            .warnings
            .iter()
            .map(|(line, w)| format!("line {line}: {w}"))
            .collect();
        warnings.append(&mut self.p.warnings);
        self.p.warnings = warnings;
        let mut args: Vec<String> = lexed
            .instructions
            .iter()
            .filter(|i| i.cmd == "arg")
            .flat_map(|i| &i.args)
            .map(|w| w.split_once('=').map_or(w.as_str(), |(n, _)| n).to_owned())
            .collect();
        args.sort();
        args.dedup();
        self.p.args = args;
        self.p
    }
}

/// The value of `--name=value` (the last one wins, as in BuildKit).
pub(crate) fn flag(flags: &[String], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find_map(|f| f.strip_prefix("--")?.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_owned)
}

/// `**` in a `COPY --parents` pattern: any number of directories (as [`ANY`], with the
/// slashes around it, so that zero directories match too; wider than `**`, never narrower).
pub(crate) fn double_star_any(text: &str) -> String {
    let mut out = text.replace("/**/", &format!("/{ANY}"));
    out = out.replace("**/", &ANY.to_string());
    out.replace("**", &ANY.to_string())
}

/// The variable names a word refers to (`$NAME`, `${NAME…}`).
pub(crate) fn var_names(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = word.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = if b.get(i + 1) == Some(&b'{') {
                i + 2
            } else {
                i + 1
            };
            let mut end = start;
            while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                end += 1;
            }
            if end > start {
                out.push(word[start..end].to_owned());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// A URL or git remote, which `ADD` fetches instead of reading the context
/// (BuildKit's `dfgitutil.ParseGitRef` / `isHTTPSource`: a `scheme://` URL, or an
/// scp-style `user@host:path`).
pub(crate) fn is_remote(src: &str) -> bool {
    if let Some((user, rest)) = src.split_once('@') {
        let scp = !user.is_empty()
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && rest.split_once(':').is_some_and(|(host, _)| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            });
        if scp {
            return true;
        }
    }
    let scheme_len = src
        .find("://")
        .filter(|&i| {
            i > 0
                && src[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        })
        .is_some();
    scheme_len || src.starts_with("git@")
}

/// Go's `filepath.Clean` for a context path, rooted at the context: no leading `/`, no
/// `.` components, `..` resolved (and clamped at the root), no trailing `/`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests;
