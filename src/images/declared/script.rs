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
//! - an assignment after `&&` / `||` or inside `if`/`case`/a loop may or may not happen:
//!   a variable it changes becomes unknown; inside a script that defines functions the
//!   positional parameters are unknown (they are the function's);
//! - other programs (`make`, `cirrus-run`, …) are not followed.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::super::buildcmd::{
    change_dir, invocation, is_assignment, repo_path, strip_prefix, Invocation, ROOT_VARS,
};
use super::super::dockerfile::ANY;
use super::super::shwords::{self, Env, Raw, ROOT};
use super::Files;

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

/// The state of one shell.
#[derive(Debug, Clone)]
pub struct Shell {
    /// Variables with known values (a value may hold [`ANY`]); exported or not.
    pub vars: HashMap<String, String>,
    /// Which of them are exported (a child process sees only those).
    pub exported: HashSet<String>,
    /// The working directory, repository-relative (`None`: not known here).
    pub cwd: Option<String>,
    /// The positional parameters (`None`: not known here).
    pub args: Option<Vec<String>>,
    /// `$0`.
    pub zero: Option<String>,
    /// Directories `pushd` left.
    dirs: Vec<Option<String>>,
    /// Scripts being read (no script is read inside itself).
    stack: Vec<String>,
    /// Open `if` / `case` / loops.
    depth: usize,
}

impl Shell {
    /// A job's shell at the repository root, with its CI variables (all exported, as
    /// the runner passes them).
    pub fn new(vars: HashMap<String, String>) -> Self {
        let exported = vars.keys().cloned().collect();
        let mut sh = Shell {
            vars,
            exported,
            cwd: Some(String::new()),
            args: Some(Vec::new()),
            zero: None,
            dirs: Vec::new(),
            stack: Vec::new(),
            depth: 0,
        };
        for v in ROOT_VARS {
            sh.vars.insert((*v).to_owned(), ROOT.to_string());
            sh.exported.insert((*v).to_owned());
        }
        sh.set_pwd();
        sh
    }

    fn set_pwd(&mut self) {
        match &self.cwd {
            Some(c) => {
                let pwd = if c.is_empty() {
                    ROOT.to_string()
                } else {
                    format!("{ROOT}/{c}")
                };
                self.vars.insert("PWD".into(), pwd);
            }
            None => {
                self.vars.remove("PWD");
            }
        }
    }

    /// A child process of this shell: its exported variables, its directory.
    fn child(&self, zero: String, args: Option<Vec<String>>) -> Shell {
        let vars = self
            .vars
            .iter()
            .filter(|(k, _)| self.exported.contains(*k) || k.as_str() == "PWD")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Shell {
            vars,
            exported: self.exported.clone(),
            cwd: self.cwd.clone(),
            args,
            zero: Some(zero),
            dirs: Vec::new(),
            stack: self.stack.clone(),
            depth: 0,
        }
    }

    fn assign(&mut self, name: &str, value: &str, maybe: bool) {
        let value = if maybe && self.vars.get(name).map(String::as_str) != Some(value) {
            ANY.to_string()
        } else {
            value.to_owned()
        };
        self.vars.insert(name.to_owned(), value);
    }
}

/// Expansions as one shell sees them: its variables, positional parameters, and the
/// command substitutions that name a directory (`$(pwd)`, `$(dirname "$0")`,
/// `$(cd "$(dirname "$0")" && pwd)`, `$(realpath …)`, `$(git rev-parse --show-toplevel)`).
struct ShellEnv<'s> {
    sh: &'s Shell,
    nesting: std::cell::Cell<usize>,
}

impl Env for ShellEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let args = self.sh.args.as_ref();
        match name {
            "0" => self.sh.zero.clone(),
            "#" => args.map(|a| a.len().to_string()),
            "@" | "*" => args.filter(|a| a.is_empty()).map(|_| String::new()),
            n if n.chars().all(|c| c.is_ascii_digit()) => {
                let i: usize = n.parse().ok()?;
                args.map(|a| a.get(i.wrapping_sub(1)).cloned().unwrap_or_default())
            }
            n => self.sh.vars.get(n).cloned(),
        }
    }

    fn subst(&self, text: &str) -> Option<String> {
        if self.nesting.get() > 4 {
            return None;
        }
        self.nesting.set(self.nesting.get() + 1);
        let out = self.directory_idiom(text);
        self.nesting.set(self.nesting.get() - 1);
        out
    }
}

impl ShellEnv<'_> {
    fn directory_idiom(&self, text: &str) -> Option<String> {
        let cmds: Vec<Vec<String>> = shwords::lex(text)
            .iter()
            .map(|r| {
                r.words
                    .iter()
                    .flat_map(|w| shwords::expand(w, self))
                    .collect()
            })
            .collect();
        let strip = |w: &[String]| -> Vec<String> {
            w.iter()
                .filter(|a| !matches!(a.as_str(), "--" | "-P" | "-L" | "-f" | "-e" | "-m"))
                .cloned()
                .collect()
        };
        let absolute = |cwd: Option<&str>, p: &str| -> Option<String> {
            let path = repo_path(cwd?, p)
                .or_else(|| p.starts_with(ROOT).then(|| repo_path("", p)).flatten())?;
            Some(if path.is_empty() {
                ROOT.to_string()
            } else {
                format!("{ROOT}/{path}")
            })
        };
        let cwd = self.sh.cwd.as_deref();
        match cmds.as_slice() {
            [one] => {
                let w = strip(one);
                match w.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                    ["pwd"] => absolute(cwd, "."),
                    ["dirname", p] if !p.contains(ANY) => Some(match p.rsplit_once('/') {
                        Some(("", _)) => "/".to_owned(),
                        Some((d, _)) => d.to_owned(),
                        None => ".".to_owned(),
                    }),
                    ["basename", p] if !p.contains(ANY) => {
                        Some(p.rsplit('/').next().unwrap_or(p).to_owned())
                    }
                    ["realpath" | "readlink", p] if !p.contains(ANY) => absolute(cwd, p),
                    ["git", "rev-parse", "--show-toplevel"] => Some(ROOT.to_string()),
                    _ => None,
                }
            }
            [cd, pwd] => {
                let cd = strip(cd);
                let pwd = strip(pwd);
                match (cd.as_slice(), pwd.as_slice()) {
                    ([c, dir], [p]) if c == "cd" && p == "pwd" && !dir.contains(ANY) => {
                        absolute(cwd, dir)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Whether a text names a builder.
fn names_a_builder(text: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"\b(docker|podman|buildah|kaniko|nerdctl|buildctl)\b").ok()
    })
    .as_ref()
    .is_none_or(|re| re.is_match(text))
}

/// A script file, lexed once per resolution.
struct Lexed {
    commands: Vec<Raw>,
    /// It defines shell functions (its `$1`… may be theirs).
    functions: bool,
    /// Its first line names an interpreter that is not a POSIX shell.
    foreign: Option<String>,
    /// Its text names a builder.
    builder: bool,
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
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "ksh", "zsh", "ash", "mksh", "busybox"];
const INTERPRETERS: &[&str] = &[
    "python", "python3", "python2", "perl", "ruby", "node", "php",
];

impl<'f> Scripts<'f> {
    /// Reads files through `files`.
    pub fn new(files: &'f dyn Files) -> Self {
        Scripts {
            files,
            lexed: HashMap::new(),
            commands: 0,
            found: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Runs the shell text `text`, written in `file` from line `line` on (1-based).
    pub fn run(&mut self, text: &str, file: &str, line: usize, sh: &mut Shell) {
        let raws = shwords::lex(text);
        self.run_commands(&raws, file, line, sh);
    }

    fn run_commands(&mut self, raws: &[Raw], file: &str, line: usize, sh: &mut Shell) {
        for raw in raws {
            self.commands += 1;
            let at = line + raw.line;
            if self.commands > MAX_COMMANDS {
                self.opaque(
                    file,
                    at,
                    format!("more than {MAX_COMMANDS} script commands to read"),
                );
                return;
            }
            if !inert(raw) {
                self.command(raw, file, at, sh);
            }
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

    fn command(&mut self, raw: &Raw, file: &str, line: usize, sh: &mut Shell) {
        let words: Vec<String> = {
            let env = ShellEnv {
                sh,
                nesting: std::cell::Cell::new(0),
            };
            raw.words
                .iter()
                .flat_map(|w| shwords::expand(w, &env))
                .collect()
        };
        let mut w: &[String] = &words;
        // Compound commands: the words around them.
        while let Some(first) = w.first() {
            match first.as_str() {
                "if" | "while" | "until" => {
                    sh.depth += 1;
                    w = &w[1..];
                }
                "then" | "else" | "elif" | "do" | "!" | "{" | "}" => w = &w[1..],
                "fi" | "done" | "esac" => {
                    sh.depth = sh.depth.saturating_sub(1);
                    w = &w[1..];
                }
                "for" | "select" => {
                    sh.depth += 1;
                    if let Some(n) = w.get(1) {
                        sh.vars.insert(n.clone(), ANY.to_string());
                    }
                    return;
                }
                "case" => {
                    sh.depth += 1;
                    return;
                }
                _ => break,
            }
        }
        let maybe = raw.chained || sh.depth > 0;
        let (w, assigned) = strip_prefix(w);
        let Some(first) = w.first() else {
            for (n, v) in assigned {
                sh.assign(n, v, maybe);
            }
            return;
        };
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
                    sh.vars.insert(n.clone(), ANY.to_string());
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
            "." | "source" => {
                if let Some(path) = rest.first() {
                    let args = (rest.len() > 1).then(|| rest[1..].to_vec());
                    self.script(path, args, true, file, line, sh);
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
                } else {
                    self.run(&text, file, line, sh);
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
                    None => self.script(program, Some(rest.to_vec()), false, file, line, sh),
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
    }

    /// `sh [options] FILE ARGS` / `sh -c TEXT`.
    fn shell(&mut self, words: &[String], file: &str, line: usize, sh: &mut Shell) {
        let mut i = 0;
        // `busybox sh …`.
        if words.first().is_some_and(|w| SHELLS.contains(&w.as_str())) {
            i = 1;
        }
        while let Some(w) = words.get(i) {
            if w == "-c" {
                let Some(text) = words.get(i + 1) else { return };
                let zero = words.get(i + 2).cloned().unwrap_or_else(|| "sh".into());
                let args = words.get(i + 3..).map(<[String]>::to_vec);
                let mut child = sh.child(zero, args);
                self.run(text, file, line, &mut child);
                return;
            }
            if w == "-o" || w == "+o" {
                i += 2;
            } else if w.starts_with(['-', '+']) && w.len() > 1 {
                i += 1;
            } else {
                break;
            }
        }
        if let Some(path) = words.get(i) {
            let args = words.get(i + 1..).map(<[String]>::to_vec);
            self.script(path, args, false, file, line, sh);
        }
    }

    /// A file run by an interpreter that is not a shell.
    fn foreign(&mut self, word: &str, tool: &str, file: &str, line: usize, sh: &Shell) {
        for path in self.candidates(word, file, line, sh) {
            if let Some(l) = self.lex_file(&path, file, line) {
                if l.builder {
                    self.opaque(file, line, format!("runs `{path}` with {tool}, which names a builder: what it builds is not known here"));
                }
            }
        }
    }

    /// The repository files a script word stands for (a pattern: each file it matches).
    fn candidates(&mut self, word: &str, file: &str, line: usize, sh: &Shell) -> Vec<String> {
        let Some(cwd) = sh.cwd.as_deref().or(word.starts_with(ROOT).then_some("")) else {
            self.opaque(
                file,
                line,
                format!("runs `{}` from a directory not known here", shown(word)),
            );
            return Vec::new();
        };
        let Some(path) = repo_path(cwd, word) else {
            return Vec::new();
        };
        if !path.contains(ANY) {
            return vec![path];
        }
        let name = path.rsplit('/').next().unwrap_or(&path);
        if name.chars().all(|c| c == ANY) {
            self.opaque(
                file,
                line,
                format!(
                    "runs `{}`, a script whose name is not known here",
                    shown(word)
                ),
            );
            return Vec::new();
        }
        let glob: String = path
            .split('/')
            .map(|c| {
                if c.chars().all(|c| c == ANY) {
                    "**".to_owned()
                } else {
                    c.replace(ANY, "*")
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        match self.files.glob(&glob) {
            Ok(found) if found.len() <= MAX_CANDIDATES => found,
            Ok(found) => {
                self.opaque(
                    file,
                    line,
                    format!(
                        "runs `{}`, which may be any of {} files",
                        shown(word),
                        found.len()
                    ),
                );
                Vec::new()
            }
            Err(e) => {
                self.opaque(file, line, format!("runs `{}`: {e}", shown(word)));
                Vec::new()
            }
        }
    }

    /// Reads and runs a repository script (`sourced`: in this shell).
    fn script(
        &mut self,
        word: &str,
        args: Option<Vec<String>>,
        sourced: bool,
        file: &str,
        line: usize,
        sh: &mut Shell,
    ) {
        let paths = self.candidates(word, file, line, sh);
        if sourced && word.contains(ANY) && !paths.is_empty() {
            self.opaque(
                file,
                line,
                format!(
                    "sources `{}`, which may be any of {}",
                    shown(word),
                    paths.join(", ")
                ),
            );
            return;
        }
        for path in paths {
            if sh.stack.contains(&path) {
                continue;
            }
            if sh.stack.len() >= MAX_DEPTH {
                self.opaque(
                    file,
                    line,
                    format!("runs `{path}` inside {MAX_DEPTH} nested scripts"),
                );
                continue;
            }
            let Some(l) = self.lex_file(&path, file, line) else {
                continue;
            };
            if let Some(tool) = &l.foreign {
                if l.builder {
                    self.opaque(file, line, format!("runs `{path}` ({tool}), which names a builder: what it builds is not known here"));
                }
                continue;
            }
            let zero = word.to_owned();
            if sourced {
                let saved = (sh.args.clone(), sh.zero.clone());
                if let Some(a) = &args {
                    sh.args = Some(a.clone());
                }
                if l.functions {
                    sh.args = None;
                }
                sh.stack.push(path.clone());
                self.run_commands(&l.commands, &path, 1, sh);
                sh.stack.pop();
                (sh.args, sh.zero) = saved;
            } else {
                let mut child = sh.child(zero, if l.functions { None } else { args.clone() });
                child.stack.push(path.clone());
                self.run_commands(&l.commands, &path, 1, &mut child);
            }
        }
    }

    /// A repository file, lexed (once); `None` when it is not in the tree (not this
    /// repository's script) or cannot be read (then it is opaque).
    fn lex_file(&mut self, path: &str, file: &str, line: usize) -> Option<Rc<Lexed>> {
        if let Some(hit) = self.lexed.get(path) {
            return hit.clone();
        }
        let lexed = match self.files.read(path) {
            Ok(Some((_, text))) => {
                let first = text.lines().next().unwrap_or_default();
                let foreign = first.strip_prefix("#!").and_then(|i| {
                    let mut words = i.split_whitespace();
                    let mut prog = words.next()?.rsplit('/').next()?;
                    if prog == "env" {
                        prog = words.find(|w| !w.starts_with('-'))?;
                    }
                    (!SHELLS.contains(&prog)).then(|| prog.to_owned())
                });
                let foreign =
                    foreign.or_else(|| text.contains('\0').then(|| "a binary".to_owned()));
                let functions = function_re().is_match(&text);
                Some(Rc::new(Lexed {
                    commands: if foreign.is_some() {
                        Vec::new()
                    } else {
                        shwords::lex(&text)
                    },
                    functions,
                    builder: names_a_builder(&text),
                    foreign,
                }))
            }
            Ok(None) => None,
            Err(e) => {
                self.opaque(
                    file,
                    line,
                    format!("runs `{path}`, which cannot be read ({e})"),
                );
                None
            }
        };
        self.lexed.insert(path.to_owned(), lexed.clone());
        lexed
    }
}

/// Words that make a command worth expanding: builtins that change the shell's state,
/// compound-command keywords, wrappers, shells, and builders.
const STATEFUL: &[&str] = &[
    "export",
    "readonly",
    "local",
    "declare",
    "typeset",
    "unset",
    "read",
    "getopts",
    "mapfile",
    "readarray",
    "cd",
    "pushd",
    "popd",
    "set",
    "shift",
    ".",
    "source",
    "eval",
    "exec",
    "command",
    "sudo",
    "env",
    "time",
    "nice",
    "nohup",
    "if",
    "while",
    "until",
    "for",
    "select",
    "case",
    "fi",
    "done",
    "esac",
    "docker",
    "podman",
    "buildah",
    "nerdctl",
    "docker-compose",
    "podman-compose",
    "nerdctl-compose",
    "executor",
];

/// Whether a command can change nothing read here and build nothing: its program is a
/// literal name that is none of the above (`echo`, `test`, `make`, …). Most lines of a
/// large script (QEMU's `configure`, run by a hundred jobs) are such: they are not
/// expanded at all.
fn inert(raw: &Raw) -> bool {
    for w in &raw.words {
        let mut t = String::new();
        for p in &w.0 {
            match p {
                shwords::Piece::Lit(s, _) => t.push_str(s),
                _ => return false,
            }
        }
        if matches!(
            t.as_str(),
            "then" | "else" | "elif" | "do" | "!" | "{" | "}"
        ) {
            continue;
        }
        let tool = t.rsplit('/').next().unwrap_or(&t);
        return !(t.contains(['/', '='])
            || STATEFUL.contains(&t.as_str())
            || SHELLS.contains(&tool)
            || INTERPRETERS.iter().any(|i| tool.starts_with(i))
            || t.contains("kaniko"));
    }
    true
}

fn function_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"(?m)^\s*(function\s+[A-Za-z_][\w-]*|[A-Za-z_][\w-]*\s*\(\s*\))")
            .expect("a valid regex")
    })
}

/// `DOCKER_BUILDKIT` for one command: its own assignment, else the shell's.
fn dockerkit(assigned: &[(&str, &str)], sh: &Shell) -> Option<String> {
    assigned
        .iter()
        .rev()
        .find(|(n, _)| *n == "DOCKER_BUILDKIT")
        .map(|(_, v)| (*v).to_owned())
        .or_else(|| sh.vars.get("DOCKER_BUILDKIT").cloned())
}

/// A word for messages (unknown text as `…`, the root as `$CI_PROJECT_DIR`).
pub fn shown(word: &str) -> String {
    word.replace(ANY, "…").replace(ROOT, "$CI_PROJECT_DIR")
}

#[cfg(test)]
mod tests {
    use super::super::super::buildcmd::BuildCall;
    use super::super::MemFiles;
    use super::*;

    fn run(
        tree: &[(&'static str, &'static str)],
        text: &str,
        vars: &[(&str, &str)],
    ) -> (Vec<(BuildCall, String, usize)>, Vec<String>) {
        let files = MemFiles(tree.to_vec());
        let mut s = Scripts::new(&files);
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut sh = Shell::new(vars);
        s.run(text, ".gitlab-ci.yml", 10, &mut sh);
        let calls = s
            .found
            .into_iter()
            .filter_map(|f| match f.call {
                Invocation::Build(c) => Some((c, f.file, f.line)),
                Invocation::Files(_) => None,
            })
            .collect();
        (
            calls,
            s.unknown
                .into_iter()
                .map(|u| format!("{}:{}: {}", u.file, u.line, u.why))
                .collect(),
        )
    }

    #[test]
    fn scripts_are_read_with_the_callers_values() {
        let tree = [
            ("ci/build.sh", "#!/usr/bin/env bash\nset -eu\nHERE=$(cd \"$(dirname \"$0\")\" && pwd)\n. \"$HERE/env.sh\"\ndocker build -f \"docker/$1.docker\" --target \"$STAGE\" .\n"),
            ("ci/env.sh", "STAGE=final\n"),
            ("tools/x.py", "#!/usr/bin/env python3\nprint('hello')\n"),
            ("tools/y.py", "#!/usr/bin/env python3\nimport subprocess\nsubprocess.run(['docker', 'build', '.'])\n"),
        ];
        let (calls, unknown) = run(
            &tree,
            "cd ci\n./build.sh debian\ncd ..\nsh -e ci/build.sh \"alpine\"\n./tools/x.py\npython3 tools/y.py\n./build/out/test\n",
            &[],
        );
        assert_eq!(calls.len(), 2, "{calls:?} {unknown:?}");
        assert_eq!(
            calls[0].0.file.as_deref(),
            Some("ci/docker/debian.docker"),
            "relative to the caller's directory"
        );
        assert_eq!(calls[0].0.target.as_deref(), Some("final"));
        assert_eq!((calls[0].1.as_str(), calls[0].2), ("ci/build.sh", 5));
        assert_eq!(calls[1].0.file.as_deref(), Some("docker/alpine.docker"));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(unknown[0].contains("tools/y.py"), "{unknown:?}");
    }

    #[test]
    fn assignments_that_may_not_happen_make_values_unknown() {
        let (calls, _) = run(
            &[],
            "NAME=a\nif [ -n \"$X\" ]; then NAME=b; fi\ndocker build -f $NAME.docker .\nN2=c\ntrue && N2=d\ndocker build -f $N2.docker .\nexport N3=e\ndocker build -f $N3.docker .\n",
            &[("NAME", "z")],
        );
        let files: Vec<Option<String>> = calls.iter().map(|c| c.0.file.clone()).collect();
        assert_eq!(
            files,
            vec![
                Some(format!("{ANY}.docker")),
                Some(format!("{ANY}.docker")),
                Some("e.docker".to_owned())
            ]
        );
    }

    #[test]
    fn what_cannot_be_read_is_opaque() {
        let (_, unknown) = run(
            &[],
            "cd $SOMEWHERE\n./build.sh\n. ./ci/$WHICH\ncd\nbash \"$SCRIPT\"\n",
            &[],
        );
        assert_eq!(unknown.len(), 3, "{unknown:?}");
        assert!(
            unknown[2].contains("a script whose name is not known here"),
            "{unknown:?}"
        );
        assert!(
            unknown[0]
                .contains(".gitlab-ci.yml:11: runs `./build.sh` from a directory not known here"),
            "{unknown:?}"
        );
        let tree = [("ci/a.sh", "docker build -f a.df .\n"), ("ci/b.sh", "x\n")];
        let (calls, unknown) = run(&tree, "./ci/$WHICH.sh\n. ci/$W.sh\n", &[]);
        assert_eq!(calls.len(), 1, "every file the pattern names is read");
        assert_eq!(
            unknown.len(),
            1,
            "a sourced pattern may set anything: {unknown:?}"
        );
        let (_, unknown) = run(&[("a.sh", "./a.sh\n. ./a.sh\n")], "./a.sh\n", &[]);
        assert!(
            unknown.is_empty(),
            "a script is not read inside itself: {unknown:?}"
        );
    }
}
