//! The shell lines a CI job runs, read as a shell runs them: variables assigned
//! (`NAME=…`, `export NAME=…`, `unset`) apply to the commands after them, `cd` / `pushd`
//! move the working directory, and the repository's own scripts the lines run are read
//! like the job's lines: `./ci/build.sh ARGS`, `bash ci/build.sh`, `sh -e ci/build.sh`,
//! `sh -c '…'`, `eval …` (a child shell: the exported variables, `$0`, `$1`…), `. ci/env.sh`
//! and `source …` (the same shell). Builder invocations ([`Invocation`]) are collected with
//! the file and line they are written on.
//!
//! What a script is, decided here (and said in README):
//! - a program at a relative path (or one under `$CI_PROJECT_DIR`) that is not in the
//!   tree is not this repository's script (a build product such as `build/run-tests`,
//!   or a program of the runner's image): it builds nothing of this repository's;
//! - a repository file run with a shebang for another interpreter (python, perl, …), or
//!   through one (`python3 x.py`), is not read line by line: it builds nothing when its
//!   text names no builder (`docker`, `podman`, `buildah`, `kaniko`, `nerdctl`,
//!   `buildctl`), else it is opaque;
//! - a script that cannot be read (over the size limit, or nested deeper than
//!   [`MAX_DEPTH`]), one whose path or working directory is not known here, and a
//!   sourced script whose name is a pattern, are opaque: they may build anything;
//! - control flow is followed where the values are known ([`flow`]): `if` / `case` /
//!   `while` on known values take one way, functions run where they are called, `exit`
//!   ends; what may or may not run (after `&&` / `||`, a condition not known here, a
//!   loop body) makes what it assigns unknown;
//! - a variable a script assigns somewhere is unset before it does, as a shell starting
//!   it would have it unless the CI settings (not in the tree) set it: the repository's
//!   own default counts, as `${NAME:-default}` does;
//! - other programs (`make`, `cirrus-run`, …) are not followed.
//!
//! A child script run is remembered by what it read ([`files`]), so the same script in
//! every way every job may run is read once per distinct input.

use std::collections::HashMap;
use std::rc::Rc;

use super::super::buildcmd::{change_dir, invocation, is_assignment, strip_prefix, Invocation};
use super::super::dockerfile::ANY;
use super::super::shwords::{self, End, Raw, Word, ROOT};
use super::Files;

mod files;
mod flow;
mod shell;
mod syntax;

use files::{names_a_builder, Lexed, Run, RunKey};
use flow::{Frame, Tri};
pub use shell::Shell;
use shell::{Reads, ShellEnv};
use syntax::{
    dockerkit, function, inert, lit_str, literal, next_chained, INTERPRETERS, KEYWORDS, SHELLS,
};

/// Scripts nested in scripts at most this deep.
pub const MAX_DEPTH: usize = 16;
/// Commands interpreted in one resolution (every job's, every script's) at most.
pub const MAX_COMMANDS: usize = 500_000;
/// Files a script name that is a pattern may stand for, at most.
const MAX_CANDIDATES: usize = 8;

/// A builder invocation and where it is written.
#[derive(Debug, Clone)]
pub struct Found {
    /// What it runs.
    pub call: Invocation,
    /// The file (repository path).
    pub file: String,
    /// The line (1-based).
    pub line: usize,
}

/// Something a script runs that may build, but what is not known here.
#[derive(Debug, Clone)]
pub struct Unknown {
    /// The file.
    pub file: String,
    /// The line (1-based).
    pub line: usize,
    /// Why.
    pub why: String,
}

/// Reads the lines of a CI job and the scripts they run.
pub struct Scripts<'f> {
    files: &'f dyn Files,
    lexed: HashMap<String, Option<Rc<Lexed>>>,
    commands: usize,
    /// Builder invocations found.
    pub found: Vec<Found>,
    /// What may build but is not known.
    pub unknown: Vec<Unknown>,
    /// Script runs remembered: a script run with the same arguments, directory and
    /// `$0` that reads the same values finds the same (QEMU's `configure` runs in every
    /// way each of a hundred jobs may run).
    runs: HashMap<RunKey, Vec<Rc<Run>>>,
    /// Script lines lexed (every way a job runs reads the same lines).
    texts: HashMap<String, Rc<Vec<Raw>>>,
}

impl<'f> Scripts<'f> {
    /// Reads files through `files`.
    pub fn new(files: &'f dyn Files) -> Self {
        Scripts {
            files,
            lexed: HashMap::new(),
            commands: 0,
            found: Vec::new(),
            unknown: Vec::new(),
            runs: HashMap::new(),
            texts: HashMap::new(),
        }
    }

    /// Runs the shell text `text`, written in `file` from line `line` on (1-based);
    /// `false` when it surely ends the shell (`exit`).
    pub fn run(&mut self, text: &str, file: &str, line: usize, sh: &mut Shell) -> bool {
        let raws = match self.texts.get(text) {
            Some(r) => Rc::clone(r),
            None => {
                let r = Rc::new(shwords::lex(text));
                self.texts.insert(text.to_owned(), Rc::clone(&r));
                r
            }
        };
        self.run_commands(&raws, 0..raws.len(), file, line, sh) != Flow::Exit
    }

    /// Reads commands with their compound structure (see [`flow`]).
    fn run_commands(
        &mut self,
        raws: &Rc<Vec<Raw>>,
        range: std::ops::Range<usize>,
        file: &str,
        line: usize,
        sh: &mut Shell,
    ) -> Flow {
        let mut frames: Vec<Frame> = Vec::new();
        let mut i = range.start;
        while i < range.end {
            let raw = &raws[i];
            i += 1;
            self.commands += 1;
            let at = line + raw.line;
            if self.commands > MAX_COMMANDS {
                self.opaque(
                    file,
                    at,
                    format!("more than {MAX_COMMANDS} script commands to read"),
                );
                return Flow::Exit;
            }
            // A function definition: its body runs where the function is called.
            if let Some((name, body, next)) = function(raws, i - 1) {
                if flow::state(&frames) != Tri::No {
                    let body = Body {
                        raws: Rc::clone(raws),
                        range: body,
                        file: file.to_owned(),
                        line,
                    };
                    sh.functions.insert(name, Rc::new(body));
                }
                i = next;
                continue;
            }
            if case_pattern(&mut frames, raw) {
                continue;
            }
            let words = self.keywords(&mut frames, raws, i, file, at, sh);
            if let Some(words) = words.filter(|w| !w.is_empty()) {
                let state = flow::state(&frames);
                if state != Tri::No && !inert(words, sh) {
                    let maybe = state == Tri::Maybe || raw.chained;
                    match self.command(words, maybe, file, at, sh) {
                        Flow::Next => {}
                        end => return end,
                    }
                }
            }
            if raw.end == End::Arm {
                if let Some(Frame::Case { now, patterns, .. }) = frames.last_mut() {
                    *now = Tri::No;
                    *patterns = Some(Vec::new());
                }
            }
        }
        Flow::Next
    }

    /// The compound-command keywords at the start of `raws[i - 1]`, applied to
    /// `frames` (conditions evaluated); the words of the command that follows them,
    /// `None` when the keyword takes them all (`if COND`, `case WORD in`).
    fn keywords<'r>(
        &mut self,
        frames: &mut Vec<Frame>,
        raws: &'r [Raw],
        i: usize,
        file: &str,
        at: usize,
        sh: &mut Shell,
    ) -> Option<&'r [Word]> {
        let mut words: &[Word] = &raws[i - 1].words;
        while let Some(first) = words.first().and_then(lit_str) {
            if !KEYWORDS.contains(&first) {
                break;
            }
            let outer = flow::state(frames);
            match first {
                "then" | "do" | "!" => words = &words[1..],
                "if" => {
                    let c = self.condition(&words[1..], next_chained(raws, i), outer, file, at, sh);
                    frames.push(Frame::If { now: c, taken: c });
                    return None;
                }
                "elif" => {
                    let parent = flow::state(&frames[..frames.len().saturating_sub(1)]);
                    let c =
                        self.condition(&words[1..], next_chained(raws, i), parent, file, at, sh);
                    if let Some(Frame::If { now, taken }) = frames.last_mut() {
                        *now = Tri::after(*taken, c);
                        *taken = taken.or(*now);
                    }
                    return None;
                }
                "else" => {
                    if let Some(Frame::If { now, taken }) = frames.last_mut() {
                        *now = Tri::after(*taken, Tri::Yes);
                        *taken = Tri::Yes;
                    }
                    words = &words[1..];
                }
                "fi" | "done" | "esac" | "}" => {
                    frames.pop();
                    words = &words[1..];
                }
                "{" => {
                    frames.push(Frame::Group);
                    words = &words[1..];
                }
                "while" | "until" => {
                    let mut c =
                        self.condition(&words[1..], next_chained(raws, i), outer, file, at, sh);
                    if first == "until" {
                        c = c.not();
                    }
                    let now = if c == Tri::No { Tri::No } else { Tri::Maybe };
                    frames.push(Frame::Loop { now });
                    return None;
                }
                "for" | "select" => {
                    if outer != Tri::No {
                        if let Some(n) = words.get(1).and_then(literal) {
                            sh.set(&n, ANY.to_string());
                        }
                    }
                    let now = if outer == Tri::No {
                        Tri::No
                    } else {
                        Tri::Maybe
                    };
                    frames.push(Frame::Loop { now });
                    return None;
                }
                "case" => {
                    let subject = if outer == Tri::No {
                        None
                    } else {
                        words
                            .get(1)
                            .map(|w| self.expand(w, sh).join(" "))
                            .filter(|s| !s.contains(ANY))
                    };
                    frames.push(Frame::Case {
                        subject,
                        now: Tri::No,
                        taken: Tri::No,
                        patterns: Some(Vec::new()),
                    });
                    return None;
                }
                _ => break,
            }
        }
        Some(words)
    }

    /// The words of a word, expanded in `sh`.
    fn expand(&self, w: &Word, sh: &Shell) -> Vec<String> {
        shwords::expand(
            w,
            &ShellEnv {
                sh,
                nesting: std::cell::Cell::new(0),
            },
        )
    }

    /// Whether the condition of an `if` / `elif` / `while` holds: a `test` / `[ … ]`,
    /// `true`, `false` with what is known; any other command is run (it may build) and
    /// may or may not succeed. `chained`: `&&` / `||` follows, so the whole is not known.
    fn condition(
        &mut self,
        words: &[Word],
        chained: bool,
        outer: Tri,
        file: &str,
        line: usize,
        sh: &mut Shell,
    ) -> Tri {
        if outer == Tri::No {
            return Tri::No;
        }
        // Only a test is expanded here; any other command runs (and expands) as usual.
        let testing = words.iter().find_map(|w| lit_str(w).filter(|t| *t != "!"));
        if !matches!(testing, Some("[" | "[[" | "test" | "true" | "false" | ":")) {
            if !inert(words, sh) {
                self.command(words, true, file, line, sh);
            }
            return Tri::Maybe;
        }
        let expanded: Vec<String> = words.iter().flat_map(|w| self.expand(w, sh)).collect();
        let mut e: &[String] = &expanded;
        let mut negate = false;
        while e.first().is_some_and(|w| w == "!") {
            negate = !negate;
            e = &e[1..];
        }
        let c = match e {
            [t, args @ .., end] if (t == "[" && end == "]") || (t == "[[" && end == "]]") => {
                flow::test(args)
            }
            [t, args @ ..] if t == "test" => flow::test(args),
            [t] if t == "true" || t == ":" => Tri::Yes,
            [t] if t == "false" => Tri::No,
            _ => Tri::Maybe,
        };
        let c = if negate { c.not() } else { c };
        if chained {
            Tri::Maybe
        } else {
            c
        }
    }

    fn opaque(&mut self, file: &str, line: usize, why: String) {
        if !self
            .unknown
            .iter()
            .any(|u| u.file == file && u.line == line && u.why == why)
        {
            self.unknown.push(Unknown {
                file: file.to_owned(),
                line,
                why,
            });
        }
    }

    fn command(
        &mut self,
        words: &[Word],
        maybe: bool,
        file: &str,
        line: usize,
        sh: &mut Shell,
    ) -> Flow {
        let words: Vec<String> = words.iter().flat_map(|w| self.expand(w, sh)).collect();
        let (w, assigned) = strip_prefix(&words);
        let Some(first) = w.first() else {
            for (n, v) in assigned {
                sh.assign(n, v, maybe);
            }
            return Flow::Next;
        };
        if let Some(f) = sh.functions.get(first.as_str()).cloned() {
            if sh.calls.contains(first) || sh.calls.len() >= MAX_DEPTH {
                return Flow::Next;
            }
            let saved = sh.args.replace(w[1..].to_vec());
            sh.calls.push(first.clone());
            let end = self.run_commands(&f.raws, f.range.clone(), &f.file, f.line, sh);
            sh.calls.pop();
            sh.args = saved;
            return if end == Flow::Exit && !maybe {
                Flow::Exit
            } else {
                Flow::Next
            };
        }
        let rest = &w[1..];
        match first.as_str() {
            "export" | "readonly" | "local" | "declare" | "typeset" => {
                for a in rest.iter().filter(|a| !a.starts_with('-')) {
                    match a.split_once('=').filter(|_| is_assignment(a)) {
                        Some((n, v)) => {
                            sh.assign(n, v, maybe);
                            sh.exported.insert(n.to_owned());
                        }
                        None => {
                            sh.exported.insert(a.clone());
                        }
                    }
                }
            }
            "unset" => {
                for n in rest.iter().filter(|a| !a.starts_with('-')) {
                    sh.assign(n, "", maybe);
                }
            }
            "read" | "getopts" | "mapfile" | "readarray" => {
                for n in rest.iter().filter(|a| !a.starts_with('-')) {
                    sh.set(n, ANY.to_string());
                }
            }
            "cd" => {
                sh.cwd = change_dir(sh.cwd.take(), rest.first().map(String::as_str));
                sh.set_pwd();
            }
            "pushd" => {
                sh.dirs.push(sh.cwd.clone());
                sh.cwd = change_dir(sh.cwd.take(), rest.first().map(String::as_str));
                sh.set_pwd();
            }
            "popd" => {
                sh.cwd = sh.dirs.pop().unwrap_or(None);
                sh.set_pwd();
            }
            "set" => {
                if let Some(i) = rest.iter().position(|a| a == "--") {
                    sh.args = Some(rest[i + 1..].to_vec());
                }
            }
            "shift" => {
                let n: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(1);
                if let Some(a) = sh.args.as_mut() {
                    a.drain(..n.min(a.len()));
                }
            }
            "exit" if !maybe => return Flow::Exit,
            "return" if !maybe => return Flow::Return,
            "." | "source" => {
                if let Some(path) = rest.first() {
                    let args = (rest.len() > 1).then(|| rest[1..].to_vec());
                    if self.script(path, args, true, file, line, sh) == Flow::Exit && !maybe {
                        return Flow::Exit;
                    }
                }
            }
            "eval" => {
                let text = rest.join(" ");
                if text.contains(ANY) && names_a_builder(&text) {
                    self.opaque(
                        file,
                        line,
                        format!("`eval {}`: what it runs is not known here", shown(&text)),
                    );
                } else if !self.run(&text, file, line, sh) && !maybe {
                    return Flow::Exit;
                }
            }
            tool if SHELLS.contains(&tool.rsplit('/').next().unwrap_or(tool)) => {
                self.shell(rest, file, line, sh);
            }
            tool if INTERPRETERS.iter().any(|i| {
                let t = tool.rsplit('/').next().unwrap_or(tool);
                t == *i
                    || t.strip_prefix(i)
                        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            }) =>
            {
                if let Some(path) = rest.iter().find(|a| !a.starts_with('-')) {
                    self.foreign(path, tool, file, line, sh);
                }
            }
            program if program.contains('/') || program.starts_with(ROOT) => {
                let bk = dockerkit(&assigned, sh);
                match invocation(w, sh.cwd.as_deref(), bk.as_deref()) {
                    Some(call) => self.found.push(Found {
                        call,
                        file: file.to_owned(),
                        line,
                    }),
                    None if program.starts_with('/') => {}
                    None => {
                        self.script(program, Some(rest.to_vec()), false, file, line, sh);
                    }
                }
            }
            _ => {
                let bk = dockerkit(&assigned, sh);
                if let Some(call) = invocation(w, sh.cwd.as_deref(), bk.as_deref()) {
                    self.found.push(Found {
                        call,
                        file: file.to_owned(),
                        line,
                    });
                }
            }
        }
        Flow::Next
    }
}

/// A function's body: commands `range` of `raws`, read from `file` (its first line
/// `line`).
#[derive(Debug)]
struct Body {
    raws: Rc<Vec<Raw>>,
    range: std::ops::Range<usize>,
    file: String,
    line: usize,
}

/// How reading commands ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// On to the next command.
    Next,
    /// `exit`: the shell ends.
    Exit,
    /// `return`: the function (or sourced script) ends.
    Return,
}

/// A `case` pattern (`a|b)`) while an arm's patterns are read: matched against the
/// word (`true`: the command was one).
fn case_pattern(frames: &mut [Frame], raw: &Raw) -> bool {
    if let Some(Frame::Case {
        subject,
        now,
        taken,
        patterns,
    }) = frames.last_mut()
    {
        if let Some(pats) = patterns {
            if matches!(raw.end, End::Pipe | End::Close) {
                pats.extend(
                    raw.words
                        .iter()
                        .map(|w| literal(w).unwrap_or_else(|| ANY.to_string())),
                );
                if raw.end == End::Close {
                    let m = match subject {
                        Some(sub) => pats
                            .iter()
                            .map(|p| flow::pattern(p, sub))
                            .fold(Tri::No, Tri::or),
                        None => Tri::Maybe,
                    };
                    *now = Tri::after(*taken, m);
                    *taken = taken.or(*now);
                    *patterns = None;
                }
                return true;
            }
            if raw.words.is_empty() {
                return true;
            }
        }
    }
    false
}

/// A word for messages (unknown text as `…`, the root as `$CI_PROJECT_DIR`).
pub fn shown(word: &str) -> String {
    word.replace(ANY, "…").replace(ROOT, "$CI_PROJECT_DIR")
}

#[cfg(test)]
mod tests;
