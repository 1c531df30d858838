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
use super::super::shwords::{self, End, Env, Raw, Word, ROOT};
use super::Files;

mod flow;

use flow::{Frame, Tri};

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
    /// Functions defined: where their bodies are.
    functions: HashMap<String, Rc<Body>>,
    /// Functions being run.
    calls: Vec<String>,
    /// Variables the script being read assigns somewhere: before it does, they are
    /// unset (not taken from the CI settings, which are not in the tree).
    locals: Rc<HashSet<String>>,
    /// The remembered script run this shell is part of: what it reads of its starting
    /// state ([`Scripts::script`]).
    recording: Option<Rc<std::cell::RefCell<Reads>>>,
    /// Variables written during that run (what they hold is no starting state).
    derived: HashSet<String>,
}

/// The variables a script run read of the state it started with (first value each).
type Reads = HashMap<String, Option<String>>;

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
            functions: HashMap::new(),
            calls: Vec::new(),
            locals: Rc::default(),
            recording: None,
            derived: HashSet::new(),
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
                self.set("PWD", pwd);
            }
            None => {
                if self.recording.is_some() {
                    self.derived.insert("PWD".into());
                }
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
            functions: HashMap::new(),
            calls: Vec::new(),
            locals: Rc::default(),
            recording: self.recording.clone(),
            derived: self.derived.clone(),
        }
    }

    /// Records that the run being remembered read `name` (unless it wrote it).
    fn note_read(&self, name: &str, value: Option<&String>) {
        if let Some(rec) = &self.recording {
            if !self.derived.contains(name) {
                rec.borrow_mut()
                    .entry(name.to_owned())
                    .or_insert_with(|| value.cloned());
            }
        }
    }

    /// Sets a variable (the one way they change).
    fn set(&mut self, name: &str, value: String) {
        if self.recording.is_some() {
            self.derived.insert(name.to_owned());
        }
        self.vars.insert(name.to_owned(), value);
    }

    fn assign(&mut self, name: &str, value: &str, maybe: bool) {
        let value = if maybe {
            let old = self.vars.get(name);
            self.note_read(name, old);
            if old.map(String::as_str) == Some(value) {
                value.to_owned()
            } else {
                ANY.to_string()
            }
        } else {
            value.to_owned()
        };
        self.set(name, value);
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
    fn unset(&self, name: &str) -> bool {
        let v = self.sh.vars.get(name);
        self.sh.note_read(name, v);
        v.is_none() && self.sh.locals.contains(name)
    }

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
            n => {
                let v = self.sh.vars.get(n);
                self.sh.note_read(n, v);
                v.cloned()
            }
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
        const IDIOMS: &[&str] = &[
            "pwd",
            "dirname",
            "basename",
            "realpath",
            "readlink",
            "rev-parse",
        ];
        if !IDIOMS.iter().any(|i| text.contains(i)) {
            return None;
        }
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
    commands: Rc<Vec<Raw>>,
    /// Its first line names an interpreter that is not a POSIX shell.
    foreign: Option<String>,
    /// Its text names a builder.
    builder: bool,
    /// The variables it assigns.
    assigned: Rc<HashSet<String>>,
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

/// A script run: path, arguments, directory, `$0`, scripts around it.
type RunKey = (
    String,
    Option<Vec<String>>,
    Option<String>,
    Option<String>,
    Vec<String>,
);

/// What one script run read of its starting state and what it found.
#[derive(Debug)]
struct Run {
    reads: Vec<(String, Option<String>)>,
    found: Vec<Found>,
    unknown: Vec<Unknown>,
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
    ) -> Flow {
        let mut end = Flow::Next;
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
            return end;
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
            if sourced {
                let saved = (sh.args.clone(), Rc::clone(&sh.locals));
                if let Some(a) = &args {
                    sh.args = Some(a.clone());
                }
                sh.locals = Rc::clone(&l.assigned);
                sh.stack.push(path.clone());
                let all = 0..l.commands.len();
                if self.run_commands(&l.commands, all, &path, 1, sh) == Flow::Exit {
                    end = Flow::Exit;
                }
                sh.stack.pop();
                (sh.args, sh.locals) = saved;
            } else {
                let mut child = sh.child(word.to_owned(), args.clone());
                child.locals = Rc::clone(&l.assigned);
                child.stack.push(path.clone());
                self.child_run(&l, &path, child);
            }
        }
        end
    }

    /// Runs a script in a child shell, or finds what it finds in a remembered run that
    /// read the same values.
    fn child_run(&mut self, l: &Lexed, path: &str, mut child: Shell) {
        let all = 0..l.commands.len();
        if child.recording.is_some() {
            self.run_commands(&l.commands, all, path, 1, &mut child);
            return;
        }
        let key: RunKey = (
            path.to_owned(),
            child.args.clone(),
            child.cwd.clone(),
            child.zero.clone(),
            child.stack.clone(),
        );
        let same = |r: &Run| r.reads.iter().all(|(n, v)| child.vars.get(n) == v.as_ref());
        if let Some(hit) = self
            .runs
            .get(&key)
            .and_then(|rs| rs.iter().find(|r| same(r)))
            .cloned()
        {
            self.found.extend(hit.found.iter().cloned());
            for u in &hit.unknown {
                self.opaque(&u.file, u.line, u.why.clone());
            }
            return;
        }
        let rec = Rc::new(std::cell::RefCell::new(Reads::new()));
        child.recording = Some(Rc::clone(&rec));
        let (f0, u0) = (self.found.len(), self.unknown.len());
        self.run_commands(&l.commands, all, path, 1, &mut child);
        drop(child);
        let reads = rec
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let run = Run {
            reads,
            found: self.found[f0..].to_vec(),
            unknown: self.unknown[u0.min(self.unknown.len())..].to_vec(),
        };
        self.runs.entry(key).or_default().push(Rc::new(run));
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
                let commands = if foreign.is_some() {
                    Vec::new()
                } else {
                    shwords::lex(&text)
                };
                Some(Rc::new(Lexed {
                    assigned: Rc::new(assigned(&commands)),
                    commands: Rc::new(commands),
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

/// The words that open, continue or close a compound command.
const KEYWORDS: &[&str] = &[
    "then", "do", "!", "if", "elif", "else", "fi", "done", "esac", "}", "{", "while", "until",
    "for", "select", "case",
];

/// A word's text when it is one literal piece (most words), without allocating.
fn lit_str(w: &Word) -> Option<&str> {
    match w.0.as_slice() {
        [shwords::Piece::Lit(s, _)] => Some(s),
        _ => None,
    }
}

/// A word's text when it is all literal.
fn literal(w: &Word) -> Option<String> {
    let mut t = String::new();
    for p in &w.0 {
        match p {
            shwords::Piece::Lit(s, _) => t.push_str(s),
            _ => return None,
        }
    }
    Some(t)
}

/// Whether the command after `raws[i - 1]` belongs to the same `&&` / `||` list.
fn next_chained(raws: &[Raw], i: usize) -> bool {
    raws.get(i).is_some_and(|r| r.chained)
}

/// A function definition at `raws[i]` (`name() {` or `function name {`): its name, its
/// body, and the index after it; `None` when it is none (or its body is not a `{ … }`).
fn function(raws: &[Raw], i: usize) -> Option<(String, std::ops::Range<usize>, usize)> {
    let raw = &raws[i];
    if !raw.func && raw.words.first().and_then(lit_str) != Some("function") {
        return None;
    }
    let words: Vec<String> = raw.words.iter().map(literal).collect::<Option<_>>()?;
    let (name, brace_here) = match words.as_slice() {
        [name] if raw.func => (name.clone(), false),
        [f, name] if f == "function" => (name.clone(), false),
        [f, name, b] if f == "function" && b == "{" => (name.clone(), true),
        _ => return None,
    };
    // The body is the commands from its `{` (a group, when read) to the matching `}`.
    let start = if brace_here { i } else { i + 1 };
    if !brace_here && raws.get(start)?.words.first().and_then(lit_str) != Some("{") {
        return None;
    }
    let mut depth = 0usize;
    for (k, r) in raws.iter().enumerate().skip(start) {
        let first = if k == i {
            Some("{")
        } else {
            r.words.first().and_then(lit_str)
        };
        match first {
            Some("{") => depth += 1,
            Some("}") => {
                depth -= 1;
                if depth == 0 {
                    return Some((name, start..k, k + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The variables a script assigns anywhere (`NAME=…`, `export NAME=…`, `read NAME`,
/// `for NAME`).
fn assigned(raws: &[Raw]) -> HashSet<String> {
    let mut out = HashSet::new();
    for r in raws {
        let words: Vec<Option<String>> = r.words.iter().map(literal).collect();
        let mut k = 0;
        while let Some(Some(w)) = words.get(k) {
            match w.as_str() {
                "then" | "do" | "else" | "!" | "{" => k += 1,
                "export" | "local" | "readonly" | "declare" | "typeset" | "read" | "for" => {
                    for a in words[k + 1..].iter().flatten() {
                        if !a.starts_with('-') {
                            out.insert(a.split('=').next().unwrap_or(a).to_owned());
                        }
                    }
                    break;
                }
                a if is_assignment(a) => {
                    out.insert(a.split('=').next().unwrap_or(a).to_owned());
                    k += 1;
                }
                _ => break,
            }
        }
        // `NAME="…$X…"`: the first word holds an expansion, but its name is literal.
        if let Some(shwords::Piece::Lit(t, false)) = r.words.first().and_then(|w| w.0.first()) {
            if let Some((n, _)) = t.split_once('=').filter(|_| is_assignment(t)) {
                out.insert(n.to_owned());
            }
        }
    }
    out
}

/// Words that make a command worth expanding: builtins that change the shell's state,
/// compound-command keywords, wrappers, shells, and builders.
const STATEFUL: &[&str] = &[
    "export",
    "exit",
    "return",
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
fn inert(words: &[Word], sh: &Shell) -> bool {
    for w in words {
        let Some(t) = lit_str(w) else { return false };
        if matches!(t, "then" | "else" | "elif" | "do" | "!" | "{" | "}") {
            continue;
        }
        let tool = t.rsplit('/').next().unwrap_or(t);
        return !(t.contains(['/', '='])
            || STATEFUL.contains(&t)
            || SHELLS.contains(&tool)
            || INTERPRETERS.iter().any(|i| tool.starts_with(i))
            || t.contains("kaniko")
            || (!sh.functions.is_empty() && sh.functions.contains_key(t)));
    }
    true
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
    fn control_flow_is_followed_where_values_are_known() {
        let tree = [(
            "ci/run.sh",
            "#!/bin/sh\nMODE=plain\nbuild_it() {\n  docker build -f \"$1.df\" .\n}\nnever_called() {\n  docker build -f never.df .\n}\nwhile [ \"$#\" -ge 1 ]; do\n  case \"$1\" in\n    --docker|-d) MODE=docker ;;\n    --name)\n      shift\n      NAME=\"$1\"\n      ;;\n    *) echo other ;;\n  esac\n  shift\ndone\nif [ -z \"$SRC\" ]; then\n  SRC=\"$PWD\"\nfi\ncd \"$SRC\"\nif [ \"$MODE\" = docker ]; then\n  build_it docker\nelif [ \"$MODE\" = plain ]; then\n  build_it plain\nelse\n  docker build -f else.df .\nfi\nexit 0\ndocker build -f after-exit.df .\n",
        )];
        let (calls, unknown) = run(&tree, "./ci/run.sh --check\n", &[]);
        let files: Vec<Option<String>> = calls.iter().map(|c| c.0.file.clone()).collect();
        assert_eq!(files, vec![Some("plain.df".to_owned())], "{unknown:?}");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            (calls[0].1.as_str(), calls[0].2),
            ("ci/run.sh", 4),
            "the line in the function"
        );
        // An argument not known here: every arm may run.
        let (calls, _) = run(&tree, "./ci/run.sh \"$ARG\"\n", &[]);
        let mut files: Vec<String> = calls.iter().filter_map(|c| c.0.file.clone()).collect();
        files.sort();
        assert_eq!(files, vec!["docker.df", "else.df", "plain.df"]);
        // SRC from the job's variables wins over the script's default.
        let (calls, unknown) = run(&tree, "./ci/run.sh\n", &[("SRC", "sub")]);
        assert_eq!(
            calls[0].0.file.as_deref(),
            Some("sub/plain.df"),
            "{unknown:?}"
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
