//! The state of one shell while a script is read ([`Shell`]) and how its words expand
//! ([`ShellEnv`]): variables (unset before a script assigns them, unknown when they may
//! come from CI settings), positional parameters, and the command substitutions that
//! name a directory.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::super::super::buildcmd::{repo_path, ROOT_VARS};
use super::super::super::dockerfile::ANY;
use super::super::super::shwords::{self, Env, ROOT};
use super::Body;

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
    pub(super) dirs: Vec<Option<String>>,
    /// Scripts being read (no script is read inside itself).
    pub(super) stack: Vec<String>,
    /// Functions defined: where their bodies are.
    pub(super) functions: HashMap<String, Rc<Body>>,
    /// Functions being run.
    pub(super) calls: Vec<String>,
    /// Variables the script being read assigns somewhere: before it does, they are
    /// unset (not taken from the CI settings, which are not in the tree).
    pub(super) locals: Rc<HashSet<String>>,
    /// The remembered script run this shell is part of: what it reads of its starting
    /// state ([`Scripts::script`]).
    pub(super) recording: Option<Rc<std::cell::RefCell<Reads>>>,
    /// Variables written during that run (what they hold is no starting state).
    pub(super) derived: HashSet<String>,
}

/// The variables a script run read of the state it started with (first value each).
pub(super) type Reads = HashMap<String, Option<String>>;

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

    pub(super) fn set_pwd(&mut self) {
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
    pub(super) fn child(&self, zero: String, args: Option<Vec<String>>) -> Shell {
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
    pub(super) fn note_read(&self, name: &str, value: Option<&String>) {
        if let Some(rec) = &self.recording {
            if !self.derived.contains(name) {
                rec.borrow_mut()
                    .entry(name.to_owned())
                    .or_insert_with(|| value.cloned());
            }
        }
    }

    /// Sets a variable (the one way they change).
    pub(super) fn set(&mut self, name: &str, value: String) {
        if self.recording.is_some() {
            self.derived.insert(name.to_owned());
        }
        self.vars.insert(name.to_owned(), value);
    }

    pub(super) fn assign(&mut self, name: &str, value: &str, maybe: bool) {
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
pub(super) struct ShellEnv<'s> {
    pub(super) sh: &'s Shell,
    pub(super) nesting: std::cell::Cell<usize>,
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
