//! One reading of a lexed Dockerfile: its instructions in order, with one builder's
//! variable rules ([`Semantics`], documented with the table in [`super::dockerfile`]) and
//! the build arguments known or not, recorded into the [`Union`] of all readings.
//!
//! Variables: a stage's `ENV`s and `ARG`s, the `ARG`s before the first `FROM` for `FROM`
//! lines (and for a stage's `ARG NAME` without a default). A name the stage does not
//! define may be an `ENV` of its base image, so it is "any text", unless the stage is
//! built on `scratch` (then it is empty, as in Docker). An `ARG` the stage declares is
//! assumed not to be an `ENV` of an outside base image (which the legacy builder would
//! let win): the base image's configuration is not in the repository.

use std::collections::HashMap;

use super::dockerfile::{
    clean, double_star_any, flag, is_remote, var_names, Base, ImageRef, Readers, Semantics, Union,
    Via, ANY,
};
use super::lexer::{lex, Instruction, Lexed};
use super::shell::{expand, Expanded, Var};

/// Arguments BuildKit sets itself: usable without a value, never known here.
pub(crate) const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// Reads `lexed` as `semantics` with build arguments `args` (`None`: not known), marking
/// what it finds with `bit`.
pub(crate) fn read(
    lexed: &Lexed,
    semantics: Semantics,
    args: Option<&HashMap<String, Option<String>>>,
    bit: Readers,
    out: &mut Union,
) {
    let names: Vec<Option<String>> = lexed
        .instructions
        .iter()
        // The FROMs that make a stage (see `Reading::from`).
        .filter(|i| i.cmd == "from" && !i.args.is_empty())
        .map(|i| match i.args.get(1..) {
            Some([as_kw, name]) if as_kw.eq_ignore_ascii_case("as") => {
                Some(name.to_ascii_lowercase())
            }
            _ => None,
        })
        .collect();
    let mut p = Reading {
        escape: lexed.escape,
        semantics,
        args,
        bit,
        names,
        out,
        global: HashMap::new(),
        scopes: Vec::new(),
        onbuild: Vec::new(),
        pending: Vec::new(),
        in_onbuild: false,
    };
    for ins in &lexed.instructions {
        p.instruction(ins);
    }
    p.end_stage();
    p.out.later = true;
}

/// Variables of one stage.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// `ENV`s (inherited by `FROM stage`).
    env: HashMap<String, Var>,
    /// `ARG`s it declares, with their values (`Unset`: no value).
    args: HashMap<String, Var>,
    /// BuildKit's state environment: `ENV`s and `ARG`s with a value, the later winning.
    bk: HashMap<String, Var>,
    /// The base's environment is known (built on `scratch`): undefined names are empty.
    base_known: bool,
}

struct Reading<'a, 'u> {
    escape: char,
    semantics: Semantics,
    args: Option<&'a HashMap<String, Option<String>>>,
    bit: Readers,
    /// Every stage's name (`AS name`, lowercased), in order.
    names: Vec<Option<String>>,
    out: &'u mut Union,
    /// `ARG`s before the first `FROM`.
    global: HashMap<String, Var>,
    scopes: Vec<Scope>,
    /// Per stage, its `ONBUILD` sources in this reading (pattern, line).
    onbuild: Vec<Vec<(String, usize)>>,
    /// The current stage's `ONBUILD` instructions (inner instruction, line).
    pending: Vec<(Instruction, usize)>,
    /// Reading the current stage's `ONBUILD` instructions, for its children.
    in_onbuild: bool,
}

fn known(e: &Expanded) -> Var {
    e.known().map_or(Var::Unknown, Var::Value)
}

impl Reading<'_, '_> {
    fn stage(&self) -> usize {
        self.scopes.len().saturating_sub(1)
    }

    fn warn(&mut self, line: usize, message: String) {
        self.out.warn(line, message);
    }

    /// A value passed for `name` by the build (`None`: not passed, or not known).
    fn passed(&self, name: &str) -> Option<Var> {
        let v = self.args?.get(name)?;
        Some(v.clone().map_or(Var::Unknown, Var::Value))
    }

    /// An `ARG` without a value that the build does not pass.
    fn unset_arg(&self, name: &str) -> Var {
        if PLATFORM_ARGS.contains(&name) || self.args.is_none() {
            Var::Unknown
        } else {
            Var::Unset
        }
    }

    fn global_lookup<'s>(global: &'s HashMap<String, Var>) -> impl Fn(&str) -> Var + 's {
        move |name: &str| {
            global
                .get(name)
                .cloned()
                .unwrap_or(if PLATFORM_ARGS.contains(&name) {
                    Var::Unknown
                } else {
                    Var::Unset
                })
        }
    }

    /// A name in a stage, as this reading's builder resolves it.
    fn lookup(&self, scope: &Scope, name: &str) -> Var {
        let found = if self.in_onbuild {
            // A child's build sees the image's ENVs only; a name that was an ARG here may
            // be anything there.
            scope.env.get(name).cloned().or_else(|| {
                (scope.args.contains_key(name) || scope.bk.contains_key(name))
                    .then_some(Var::Unknown)
            })
        } else {
            match self.semantics {
                Semantics::BuildKit | Semantics::BuildKitV08 => scope
                    .bk
                    .get(name)
                    .cloned()
                    .or_else(|| scope.args.get(name).map(|_| Var::Unset)),
                Semantics::Legacy => scope
                    .env
                    .get(name)
                    .or_else(|| scope.args.get(name))
                    .cloned(),
            }
        };
        found.unwrap_or(if scope.base_known {
            Var::Unset
        } else {
            Var::Unknown
        })
    }

    fn expand_with(&self, scope: &Scope, word: &str) -> Expanded {
        expand(word, self.escape, &|name: &str| self.lookup(scope, name))
    }

    fn expand_in_stage(&self, word: &str) -> Expanded {
        match self.scopes.last() {
            Some(s) => self.expand_with(s, word),
            None => expand(word, self.escape, &|_| Var::Unknown),
        }
    }

    fn instruction(&mut self, ins: &Instruction) {
        match ins.cmd.as_str() {
            "from" => self.from(ins),
            "arg" => self.arg(ins),
            "env" => self.env(ins),
            "copy" | "add" => self.copy(ins, ins.start_line),
            "run" => self.run(ins, ins.start_line),
            "onbuild" => self.onbuild(ins),
            _ => {}
        }
    }

    /// `ONBUILD INSTRUCTION`: read at the end of the stage (with its final ENVs).
    fn onbuild(&mut self, ins: &Instruction) {
        let inner = ins.args.first().map(String::as_str).unwrap_or_default();
        let lexed = lex(inner);
        if let Some(i) = lexed.instructions.into_iter().next() {
            if matches!(i.cmd.as_str(), "copy" | "add" | "run") {
                self.pending.push((i, ins.start_line));
            }
        }
    }

    /// Ends the current stage: its `ONBUILD` instructions are read for its children.
    fn end_stage(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if self.scopes.is_empty() {
            return;
        }
        self.in_onbuild = true;
        for (ins, line) in &pending {
            match ins.cmd.as_str() {
                "run" => self.run(ins, *line),
                _ => self.copy(ins, *line),
            }
        }
        self.in_onbuild = false;
    }

    fn from(&mut self, ins: &Instruction) {
        self.end_stage();
        let line = ins.start_line;
        let Some(written) = ins.args.first() else {
            self.warn(line, "FROM without an image".into());
            return;
        };
        let index = self.scopes.len();
        let name = self.names.get(index).cloned().flatten();
        if !matches!(ins.args.len(), 1 | 3)
            || (ins.args.len() == 3 && !ins.args[1].eq_ignore_ascii_case("as"))
        {
            self.warn(line, "FROM takes `IMAGE [AS NAME]`".into());
        }
        for v in var_names(written) {
            if self.global.contains_key(&v) {
                self.out.arg_use(line, v, "FROM");
            }
        }
        let expanded = expand(written, self.escape, &Self::global_lookup(&self.global)).known();
        let lower = expanded.as_deref().unwrap_or(written).to_ascii_lowercase();
        let base = if let Some(i) = self.stage_index(&lower, index) {
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
            Base::Image(self.out.image(ImageRef {
                written: written.clone(),
                expanded,
                via: Via::From,
                line,
                stage: index,
                readers: self.bit,
            }))
        };
        let scope = match base {
            Base::Stage(i) => {
                self.out.dep(index, i, self.bit);
                let parent = self.scopes.get(i).cloned().unwrap_or_default();
                let buildkit = self.semantics != Semantics::Legacy;
                Scope {
                    env: parent.env,
                    args: if buildkit {
                        parent.args
                    } else {
                        HashMap::new()
                    },
                    bk: if buildkit { parent.bk } else { HashMap::new() },
                    base_known: parent.base_known,
                }
            }
            Base::Scratch => Scope {
                base_known: true,
                ..Scope::default()
            },
            Base::Image(_) => Scope::default(),
        };
        self.out.stage(index, name, base.clone(), line);
        self.scopes.push(scope);
        self.onbuild.push(Vec::new());
        // The base stage's ONBUILD triggers run here (not in current BuildKit).
        if let (Base::Stage(i), true) = (&base, self.semantics != Semantics::BuildKit) {
            for (pattern, at) in self.onbuild.get(*i).cloned().unwrap_or_default() {
                self.out.source(false, index, pattern, at, self.bit);
            }
        }
    }

    /// A stage named `name` (lowercase) or numbered so, among the first `limit` stages.
    fn stage_index(&self, name: &str, limit: usize) -> Option<usize> {
        if let Some(i) = self.names[..limit.min(self.names.len())]
            .iter()
            .position(|n| n.as_deref() == Some(name))
        {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|i| *i < limit)
    }

    fn arg(&mut self, ins: &Instruction) {
        let words: Vec<(String, Option<String>)> = ins
            .args
            .iter()
            .map(|w| match w.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (w.clone(), None),
            })
            .collect();
        if self.scopes.is_empty() {
            self.meta_arg(words);
            return;
        }
        // The value before this instruction is what a later word sees, except in
        // current BuildKit, which assigns one word at a time.
        let before = self.scopes.last().cloned().unwrap_or_default();
        for (name, default) in words {
            let value = match (self.passed(&name), &default) {
                (Some(v), _) => v,
                (None, Some(d)) => {
                    let scope = if self.semantics == Semantics::BuildKit {
                        self.scopes.last().cloned().unwrap_or_default()
                    } else {
                        before.clone()
                    };
                    known(&self.expand_with(&scope, d))
                }
                // `ARG NAME` in a stage takes the global value, if any.
                (None, None) => match self.global.get(&name) {
                    Some(v) if *v != Var::Unset => v.clone(),
                    _ => self.unset_arg(&name),
                },
            };
            if let Some(s) = self.scopes.last_mut() {
                if value != Var::Unset {
                    s.bk.insert(name.clone(), value.clone());
                }
                s.args.insert(name, value);
            }
        }
    }

    /// `ARG`s before the first `FROM`: BuildKit assigns one word at a time, the legacy
    /// builder expands the whole instruction first.
    fn meta_arg(&mut self, words: Vec<(String, Option<String>)>) {
        let before = self.global.clone();
        for (name, default) in words {
            let value = match (self.passed(&name), default) {
                (Some(v), _) => v,
                (None, Some(d)) => {
                    let env = if self.semantics == Semantics::Legacy {
                        &before
                    } else {
                        &self.global
                    };
                    known(&expand(&d, self.escape, &Self::global_lookup(env)))
                }
                (None, None) => self.unset_arg(&name),
            };
            self.global.insert(name, value);
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
        // Every builder expands the whole instruction before assigning.
        let values: Vec<(String, Var)> = pairs
            .into_iter()
            .map(|(k, v)| {
                let value = known(&self.expand_in_stage(&v));
                (k, value)
            })
            .collect();
        if let Some(s) = self.scopes.last_mut() {
            for (k, v) in values {
                s.env.insert(k.clone(), v.clone());
                s.bk.insert(k, v);
            }
        }
    }

    fn copy(&mut self, ins: &Instruction, line: usize) {
        let is_add = ins.cmd == "add";
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
        if let Some(from) = flag(&ins.flags, "from") {
            if self.in_onbuild {
                self.warn(
                    line,
                    "ONBUILD COPY --from runs in the builds of child images; dockguard does not follow it".into(),
                );
            } else {
                self.dependency(&from, Via::CopyFrom, line);
            }
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
                if !self.in_onbuild {
                    self.out.inline();
                }
                continue;
            }
            self.note_arg_uses(src, line, if is_add { "ADD" } else { "COPY" });
            let expanded = self.expand_in_stage(src);
            let mut text = expanded.with_any(&ANY.to_string());
            if is_add && is_remote(&text) {
                // A child's build fetches it: not this image's input.
                if !self.in_onbuild {
                    self.out.remote(line, text.replace(ANY, "*"));
                }
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
        if self.in_onbuild {
            return;
        }
        for name in var_names(word) {
            let is_arg = self
                .scopes
                .last()
                .is_some_and(|s| s.args.contains_key(&name) && !s.env.contains_key(&name));
            if is_arg {
                self.out.arg_use(line, name, what);
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
        let pattern = clean(&text);
        let stage = self.stage();
        if self.in_onbuild {
            if let Some(list) = self.onbuild.get_mut(stage) {
                list.push((pattern.clone(), line));
            }
        }
        self.out
            .source(self.in_onbuild, stage, pattern, line, self.bit);
    }

    fn dependency(&mut self, value: &str, via: Via, line: usize) {
        let expanded = self.expand_in_stage(value).known();
        let lower = expanded.as_deref().unwrap_or(value).to_ascii_lowercase();
        let stage = self.stage();
        // Any stage of the file, also a later one (BuildKit resolves the whole graph).
        if let Some(i) = self.stage_index(&lower, self.names.len()) {
            self.out.dep(stage, i, self.bit);
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
        self.out.image(ImageRef {
            written: value.to_owned(),
            expanded,
            via,
            line,
            stage,
            readers: self.bit,
        });
    }

    fn run(&mut self, ins: &Instruction, line: usize) {
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
                self.note_arg_uses(&raw, line, "RUN --mount");
            }
            match (kind.as_str(), from) {
                // In a child's build `from=` names its stages or images: not followed.
                ("bind" | "cache", Some(from)) if !from.is_empty() && self.in_onbuild => {}
                ("bind" | "cache", Some(from)) if !from.is_empty() => {
                    self.dependency(&from, Via::MountFrom, line);
                }
                ("bind", _) => self.source(&source, line),
                _ => {}
            }
        }
    }
}

/// `<<EOF` / `2<<EOF` on a line that opened heredocs: inline content.
fn is_heredoc_source(src: &str, ins: &Instruction) -> bool {
    !ins.json
        && !ins.heredocs.is_empty()
        && src
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with("<<")
}
