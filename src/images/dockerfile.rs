//! What a Dockerfile is built from: its stages, the context paths it copies, and the
//! images it uses. Syntax comes from [`super::lexer`]; this module gives it meaning.
//!
//! - `FROM [--platform=…] IMAGE [AS NAME]`: IMAGE is expanded with the `ARG`s declared
//!   before the first `FROM` (their defaults; platform arguments are unknown). A FROM of
//!   an earlier stage (by name, case-insensitive) is a stage, `scratch` is nothing, and
//!   anything else is an image reference.
//! - `COPY`/`ADD` sources (shell or JSON form) are expanded with the stage's `ARG`s and
//!   `ENV`s (a variable the stage does not define may come from the base image, so it is
//!   "any text"). Sources are context paths with Go `filepath.Match` wildcards,
//!   resolved against the context root (`/x` and `x` are the same; `..` cannot leave the
//!   context), and a source names the path and everything below it. Not context paths:
//!   heredoc sources (`<<EOF`, inline content), `--from=STAGE|IMAGE` (a dependency),
//!   and `ADD` of a URL or git remote.
//! - `RUN --mount=type=bind[,source=…]` reads the context (default: all of it) unless it
//!   has `from=…`, which, like `type=cache,from=…`, is a dependency.
//! - Not followed: `ONBUILD` triggers (they run in child builds), `--build-arg` overrides
//!   of `ARG` defaults (defaults are assumed), `COPY --exclude` (ignored, so more paths
//!   count, never fewer).

use std::collections::HashMap;

use super::lexer::{lex, Instruction};
use super::shell::{expand, Expanded, Var};

/// Marks "any text" in a [`Source`] pattern (git paths never contain NUL).
pub const ANY: char = '\0';

/// How an image reference is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

/// One `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// What it starts from.
    pub base: Base,
    /// Line of the `FROM`.
    pub line: usize,
}

/// A context path the image is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Cleaned, relative to the context root; Go wildcards; [`ANY`] for unknown text;
    /// empty for the whole context.
    pub pattern: String,
    /// Line of the instruction.
    pub line: usize,
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
}

/// The meaning of a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Context paths read by COPY/ADD/RUN --mount, in order.
    pub sources: Vec<Source>,
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
}

/// Parses a Dockerfile's text.
pub fn parse(text: &str) -> Parsed {
    parse_with_args(text, &HashMap::new())
}

/// Parses a Dockerfile's text as built with `--build-arg`s (`None`: a value not known
/// here): they replace the defaults of the `ARG`s they name.
pub fn parse_with_args(text: &str, build_args: &HashMap<String, Option<String>>) -> Parsed {
    let lexed = lex(text);
    let mut p = Parser {
        escape: lexed.escape,
        out: Parsed::default(),
        global: HashMap::new(),
        scopes: Vec::new(),
        build_args,
    };
    for (line, w) in &lexed.warnings {
        p.warn(*line, w.clone());
    }
    for ins in &lexed.instructions {
        p.instruction(ins);
    }
    p.out
}

/// Variables of one stage: `ENV`s (inherited by `FROM stage`) and `ARG`s (not).
#[derive(Debug, Clone, Default)]
struct Scope {
    env: HashMap<String, Option<String>>,
    args: HashMap<String, Option<String>>,
}

struct Parser<'a> {
    escape: char,
    out: Parsed,
    /// `ARG`s before the first `FROM`: `None` means declared without a default.
    global: HashMap<String, Option<String>>,
    scopes: Vec<Scope>,
    /// `--build-arg` values declared for this build.
    build_args: &'a HashMap<String, Option<String>>,
}

/// Arguments BuildKit sets itself; usable in FROM without a declaration.
const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

fn var_of(v: Option<&Option<String>>) -> Option<Var> {
    v.map(|v| match v {
        Some(s) => Var::Value(s.clone()),
        None => Var::Unknown,
    })
}

impl Parser<'_> {
    fn warn(&mut self, line: usize, message: String) {
        self.out.warnings.push(format!("line {line}: {message}"));
    }

    fn global_lookup(&self) -> impl Fn(&str) -> Var + '_ {
        |name: &str| {
            var_of(self.global.get(name)).unwrap_or(if PLATFORM_ARGS.contains(&name) {
                Var::Unknown
            } else {
                Var::Unset
            })
        }
    }

    fn expand_in_stage(&self, word: &str) -> Expanded {
        let scope = self.scopes.last();
        let lookup = |name: &str| {
            scope
                .and_then(|s| var_of(s.env.get(name)).or_else(|| var_of(s.args.get(name))))
                // Not declared in the stage: the base image may define it.
                .unwrap_or(Var::Unknown)
        };
        expand(word, self.escape, &lookup)
    }

    fn instruction(&mut self, ins: &Instruction) {
        match ins.cmd.as_str() {
            "from" => self.from(ins),
            "arg" => self.arg(ins),
            "env" => self.env(ins),
            "copy" | "add" => self.copy(ins),
            "run" => self.run(ins),
            "onbuild" => {
                let inner = ins.args.first().map(String::as_str).unwrap_or_default();
                let word = inner.split_whitespace().next().unwrap_or_default();
                if matches!(word.to_ascii_lowercase().as_str(), "copy" | "add") {
                    self.warn(
                        ins.start_line,
                        "ONBUILD COPY/ADD runs in the builds of child images; dockguard does not follow it".into(),
                    );
                }
            }
            _ => {}
        }
    }

    fn from(&mut self, ins: &Instruction) {
        let line = ins.start_line;
        let Some(written) = ins.args.first() else {
            self.warn(line, "FROM without an image".into());
            return;
        };
        let name = match ins.args.get(1..) {
            Some([as_kw, name]) if as_kw.eq_ignore_ascii_case("as") => {
                Some(name.to_ascii_lowercase())
            }
            Some([]) | None => None,
            Some(_) => {
                self.warn(line, "FROM takes `IMAGE [AS NAME]`".into());
                None
            }
        };
        for name in var_names(written) {
            if self.global.contains_key(&name) {
                self.out.arg_uses.push((line, name, "FROM"));
            }
        }
        let expanded = expand(written, self.escape, &self.global_lookup()).known();
        let lower = expanded.as_deref().unwrap_or(written).to_ascii_lowercase();
        let base = if let Some(i) = self.stage_index(&lower) {
            Base::Stage(i)
        } else if lower == "scratch" {
            Base::Scratch
        } else {
            if expanded.is_none() {
                self.warn(
                    line,
                    format!("FROM {written}: a variable in it has no default here, so it cannot be resolved"),
                );
            }
            self.out.refs.push(ImageRef {
                written: written.clone(),
                expanded,
                via: Via::From,
                line,
            });
            Base::Image(self.out.refs.len() - 1)
        };
        let scope = match base {
            Base::Stage(i) => Scope {
                env: self
                    .scopes
                    .get(i)
                    .map(|s| s.env.clone())
                    .unwrap_or_default(),
                args: HashMap::new(),
            },
            _ => Scope::default(),
        };
        self.scopes.push(scope);
        self.out.stages.push(Stage { name, base, line });
    }

    /// An earlier stage named `name` (lowercase) or numbered so.
    fn stage_index(&self, name: &str) -> Option<usize> {
        if let Some(i) = self
            .out
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
        {
            return Some(i);
        }
        name.parse::<usize>()
            .ok()
            .filter(|i| *i < self.out.stages.len())
    }

    fn arg(&mut self, ins: &Instruction) {
        for word in &ins.args {
            let (name, default) = match word.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v)),
                None => (word.clone(), None),
            };
            let overridden = self.build_args.get(&name).cloned();
            if self.scopes.is_empty() {
                let value = match overridden {
                    Some(v) => v,
                    None => {
                        default.and_then(|v| expand(v, self.escape, &self.global_lookup()).known())
                    }
                };
                self.global.insert(name, value);
            } else {
                let value = match (overridden, default) {
                    (Some(v), _) => v,
                    (None, Some(v)) => self.expand_in_stage(v).known(),
                    // `ARG NAME` in a stage takes the global default, if any.
                    (None, None) => self.global.get(&name).cloned().flatten(),
                };
                if let Some(s) = self.scopes.last_mut() {
                    s.args.insert(name, value);
                }
            }
        }
    }

    fn env(&mut self, ins: &Instruction) {
        let pairs: Vec<(String, String)> = match ins.args.first() {
            Some(first) if !first.contains('=') => {
                let rest = ins.args[1..].join(" ");
                vec![(first.clone(), rest)]
            }
            _ => ins
                .args
                .iter()
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        for (k, v) in pairs {
            let value = self.expand_in_stage(&v).known();
            if let Some(s) = self.scopes.last_mut() {
                s.env.insert(k, value);
            }
        }
    }

    fn copy(&mut self, ins: &Instruction) {
        let line = ins.start_line;
        let is_add = ins.cmd == "add";
        let from = flag(&ins.flags, "from");
        if ins.args.len() < 2 {
            self.warn(
                line,
                format!(
                    "{} needs a source and a destination",
                    ins.cmd.to_uppercase()
                ),
            );
            return;
        }
        if let Some(from) = from {
            self.dependency(&from, Via::CopyFrom, line);
            return;
        }
        let sources = &ins.args[..ins.args.len() - 1];
        // `COPY --parents`: sources are include patterns where `**` spans directories.
        let parents = ins
            .flags
            .iter()
            .any(|f| f == "--parents" || f == "--parents=true");
        for src in sources {
            if is_heredoc_source(src, ins) {
                self.out.inline += 1;
                continue;
            }
            self.note_arg_uses(src, line, if is_add { "ADD" } else { "COPY" });
            let expanded = self.expand_in_stage(src);
            let mut text = expanded.with_any(&ANY.to_string());
            if is_add && is_remote(&text) {
                self.out.remote.push(text.replace(ANY, "*"));
                self.out.remote_lines.push(line);
                continue;
            }
            if parents {
                text = double_star_any(&text);
            }
            self.source(&text, line);
        }
    }

    /// Records the stage `ARG`s a source's text uses.
    fn note_arg_uses(&mut self, word: &str, line: usize, what: &'static str) {
        for name in var_names(word) {
            let is_arg = self
                .scopes
                .last()
                .is_some_and(|s| s.args.contains_key(&name) && !s.env.contains_key(&name));
            if is_arg {
                self.out.arg_uses.push((line, name, what));
            }
        }
    }

    fn source(&mut self, text: &str, line: usize) {
        let text = if self.escape == '`' {
            // Windows Dockerfiles: backslashes are path separators.
            text.replace('\\', "/")
        } else {
            text.to_owned()
        };
        self.out.sources.push(Source {
            pattern: clean(&text),
            line,
        });
    }

    fn dependency(&mut self, value: &str, via: Via, line: usize) {
        let expanded = self.expand_in_stage(value).known();
        let lower = expanded.as_deref().unwrap_or(value).to_ascii_lowercase();
        if self.stage_index(&lower).is_some() {
            return;
        }
        if expanded.is_none() {
            self.warn(
                line,
                format!(
                    "{} {value}: a variable in it cannot be resolved here",
                    via.word()
                ),
            );
        }
        self.out.refs.push(ImageRef {
            written: value.to_owned(),
            expanded,
            via,
            line,
        });
    }

    fn run(&mut self, ins: &Instruction) {
        for f in &ins.flags {
            let Some(spec) = f.strip_prefix("--mount=") else {
                continue;
            };
            let mut kind = "bind".to_owned();
            let mut from = None;
            let mut source = String::new();
            let mut source_raw = None;
            for part in spec.split(',') {
                let (k, raw) = part.split_once('=').unwrap_or((part, ""));
                let v = || self.expand_in_stage(raw).with_any(&ANY.to_string());
                match k.trim().to_ascii_lowercase().as_str() {
                    "type" => kind = v().to_ascii_lowercase(),
                    // Expanded (and checked against stage names) by `dependency`.
                    "from" => from = Some(raw.to_owned()),
                    "source" | "src" => {
                        source_raw = Some(raw.to_owned());
                        source = v();
                    }
                    _ => {}
                }
            }
            if let Some(raw) = source_raw.filter(|_| kind == "bind" && from.is_none()) {
                self.note_arg_uses(&raw, ins.start_line, "RUN --mount");
            }
            match (kind.as_str(), from) {
                ("bind" | "cache", Some(from)) if !from.is_empty() => {
                    self.dependency(&from, Via::MountFrom, ins.start_line);
                }
                ("bind", _) => self.source(&source, ins.start_line),
                _ => {}
            }
        }
    }
}

/// The value of `--name=value` (the last one wins, as in BuildKit).
fn flag(flags: &[String], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find_map(|f| f.strip_prefix("--")?.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_owned)
}

/// `<<EOF` / `2<<EOF` on a line that opened heredocs: inline content.
fn is_heredoc_source(src: &str, ins: &Instruction) -> bool {
    !ins.json
        && !ins.heredocs.is_empty()
        && src
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with("<<")
}

/// `**` in a `COPY --parents` pattern: any number of directories (as [`ANY`], with the
/// slashes around it, so that zero directories match too; wider than `**`, never narrower).
fn double_star_any(text: &str) -> String {
    let mut out = text.replace("/**/", &format!("/{ANY}"));
    out = out.replace("**/", &ANY.to_string());
    out.replace("**", &ANY.to_string())
}

/// The variable names a word refers to (`$NAME`, `${NAME…}`).
fn var_names(word: &str) -> Vec<String> {
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
fn is_remote(src: &str) -> bool {
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
mod tests {
    use super::*;

    fn sources(p: &Parsed) -> Vec<String> {
        p.sources.iter().map(Source::display).collect()
    }

    #[test]
    fn stages_args_and_from() {
        let p = parse(
            "ARG BASE=qemu/debian10\nARG TAG\nFROM ${BASE}:latest AS build\nFROM build\nFROM --platform=$BUILDPLATFORM scratch AS x\nFROM other:$TAG\nFROM BUILD AS again\n",
        );
        assert_eq!(p.stages.len(), 5);
        assert_eq!(p.stages[0].name.as_deref(), Some("build"));
        assert_eq!(p.stages[1].base, Base::Stage(0));
        assert_eq!(p.stages[2].base, Base::Scratch);
        assert_eq!(
            p.stages[4].base,
            Base::Stage(0),
            "stage names are case-insensitive"
        );
        assert_eq!(p.refs[0].expanded.as_deref(), Some("qemu/debian10:latest"));
        assert_eq!(p.refs[1].written, "other:$TAG");
        assert_eq!(p.refs[1].expanded, None);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn copy_sources_and_dependencies() {
        let p = parse(
            "FROM a AS b\nARG D=dir\nENV F=file\nCOPY --chown=1:1 --link ./x/../y /$D/*.sh [a-c]?.txt /dst/\nCOPY [\"json src\", \"${F}\", \"/d\"]\nCOPY --from=b /a /b\nCOPY --from=0 /a /b\nCOPY --from=qemu/helper:1 /a /b\nADD https://example.com/x.tgz git@github.com:a/b.git local.tgz /\nCOPY <<EOF <<-two /d/\nx\nEOF\ny\ntwo\nCOPY $HOME/x ../../../etc /d\n",
        );
        assert_eq!(
            sources(&p),
            vec![
                "y",
                "dir/*.sh",
                "[a-c]?.txt",
                "json src",
                "file",
                "local.tgz",
                "*/x",
                "etc"
            ]
        );
        assert_eq!(p.inline, 2);
        assert_eq!(p.remote.len(), 2);
        let refs: Vec<_> = p.refs.iter().map(|r| (r.written.as_str(), r.via)).collect();
        assert_eq!(
            refs,
            vec![("a", Via::From), ("qemu/helper:1", Via::CopyFrom)]
        );
    }

    #[test]
    fn run_mounts_and_heredoc_bodies() {
        let p = parse(
            "FROM a\nRUN --mount=type=bind,source=req.txt,target=/r pip install\nRUN --mount=target=/src make\nRUN --mount=type=cache,target=/c --mount=type=bind,from=tools,source=/x,target=/y true\nRUN <<EOF\nCOPY not/a/source /x\nEOF\n",
        );
        assert_eq!(sources(&p), vec!["req.txt", "."]);
        assert_eq!(p.refs.len(), 2);
        assert_eq!(p.refs[1].via, Via::MountFrom);
        let p = parse("FROM a\nARG T=qemu/tools\nRUN --mount=type=bind,from=$T,target=/t x\n");
        assert_eq!(p.refs[1].written, "$T");
        assert_eq!(p.refs[1].expanded.as_deref(), Some("qemu/tools"));
        assert!(p.sources.is_empty());
    }

    #[test]
    fn stage_env_inheritance_and_windows_escape() {
        let p = parse("FROM a AS one\nENV D=src\nFROM one\nCOPY $D/x /\n");
        assert_eq!(sources(&p), vec!["src/x"]);
        let p = parse("FROM a AS one\nARG D=src\nFROM one\nCOPY $D/x /\n");
        assert_eq!(sources(&p), vec!["*/x"], "ARGs do not cross stages");
        let p = parse("# escape=`\nFROM mcr.microsoft.com/windows\nCOPY .\\app\\bin C:\\app\n");
        assert_eq!(sources(&p), vec!["app/bin"]);
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("/a//b/./c/"), "a/b/c");
        assert_eq!(clean("../../x"), "x");
        assert_eq!(clean("a/../.."), "");
        assert_eq!(clean("."), "");
    }
}
