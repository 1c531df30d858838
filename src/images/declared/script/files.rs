//! The repository's scripts a line runs: found in the tree (a pattern: each file it may
//! be), lexed once, read in a child shell or sourced into the caller's, remembered by
//! what they read; programs for other interpreters are not read line by line.

use std::collections::HashSet;
use std::rc::Rc;

use super::super::super::buildcmd::repo_path;
use super::super::super::dockerfile::ANY;
use super::super::super::shwords::{self, Raw, ROOT};
use super::syntax::{assigned, SHELLS};
use super::{shown, Flow, Found, Reads, Scripts, Shell, Unknown, MAX_CANDIDATES, MAX_DEPTH};

/// Whether a text names a builder.
pub(super) fn names_a_builder(text: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"\b(docker|podman|buildah|kaniko|nerdctl|buildctl)\b").ok()
    })
    .as_ref()
    .is_none_or(|re| re.is_match(text))
}

/// A script file, lexed once per resolution.
pub(super) struct Lexed {
    commands: Rc<Vec<Raw>>,
    /// Its first line names an interpreter that is not a POSIX shell.
    foreign: Option<String>,
    /// Its text names a builder.
    builder: bool,
    /// The variables it assigns.
    assigned: Rc<HashSet<String>>,
}

/// A script run: path, arguments, directory, `$0`, scripts around it.
pub(super) type RunKey = (
    String,
    Option<Vec<String>>,
    Option<String>,
    Option<String>,
    Vec<String>,
);

/// What one script run read of its starting state and what it found.
#[derive(Debug)]
pub(super) struct Run {
    reads: Vec<(String, Option<String>)>,
    found: Vec<Found>,
    unknown: Vec<Unknown>,
}

impl Scripts<'_> {
    /// `sh [options] FILE ARGS` / `sh -c TEXT`.
    pub(super) fn shell(&mut self, words: &[String], file: &str, line: usize, sh: &mut Shell) {
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
    pub(super) fn foreign(&mut self, word: &str, tool: &str, file: &str, line: usize, sh: &Shell) {
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
    pub(super) fn script(
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
