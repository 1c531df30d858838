//! The run context, built once at the edge: the environment snapshot, the configuration
//! layers (read once from git config, the environment and flags), the repository's own
//! file, and the typed run settings.
//!
//! Every front door (check, hook, push, ci, images, tag, status) builds one with
//! [`Context::load`] and gets its engine from it ([`Context::engine`], or
//! [`Context::engine_with`] when it found the upstream itself, as `ci` does after
//! fetching). Nothing else reads settings.

use std::collections::BTreeMap;

use git2::Repository;

use crate::cli::{ColorWhen, Output};
use crate::config::{
    ContentSettings, EnvSettings, FileLayer, Flag, Layers, Name, OnError, Resolved, RunSettings,
};
use crate::engine::upstream::{resolve_upstream, Upstream};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The process environment, read once at the edge, and the global flags that say how to
/// talk to it (`--color`, `-q` / `-v`).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Variables (only those with UTF-8 names and values).
    pub vars: BTreeMap<String, String>,
    /// Whether stdout is a terminal.
    pub stdout_tty: bool,
    /// Whether stderr is a terminal (the hook's messages go there).
    pub stderr_tty: bool,
    /// `--color`.
    pub color: ColorWhen,
    /// The global `-q` / `-v`: a flag over the `verbosity` setting for every command.
    pub output: Output,
}

impl Env {
    /// Captures the real environment.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            stdout_tty: console::Term::stdout().is_term(),
            stderr_tty: console::Term::stderr().is_term(),
            ..Env::default()
        }
    }

    /// An environment of just these variables, stdout not a terminal (for tests and
    /// embedding).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Env::default()
        }
    }

    /// The same environment under the command line's global flags.
    pub fn with_flags(&self, color: ColorWhen, output: Output) -> Self {
        Env {
            color,
            output,
            ..self.clone()
        }
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Colour on stdout.
    pub fn color(&self) -> bool {
        self.color_on(self.stdout_tty)
    }

    /// Colour on stderr.
    pub fn color_stderr(&self) -> bool {
        self.color_on(self.stderr_tty)
    }

    /// `--color always|never` decide; `auto` follows the conventions cargo and ripgrep
    /// follow (anstream's order): a non-empty NO_COLOR (no-color.org) wins, then
    /// CLICOLOR_FORCE other than 0 colours even a pipe, then CLICOLOR=0 turns colour off,
    /// then a terminal that is not TERM=dumb is coloured.
    fn color_on(&self, tty: bool) -> bool {
        let set = |name| self.get(name).is_some_and(|v| !v.is_empty());
        match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto if set("NO_COLOR") => false,
            ColorWhen::Auto if set("CLICOLOR_FORCE") && self.get("CLICOLOR_FORCE") != Some("0") => {
                true
            }
            ColorWhen::Auto if self.get("CLICOLOR") == Some("0") => false,
            ColorWhen::Auto => tty && self.get("TERM") != Some("dumb"),
        }
    }

    /// The global `-q` / `-v` as a flag over `verbosity`, unless the front door gave one.
    fn verbosity_flag(&self, flags: &[Flag]) -> Option<Flag> {
        let (value, flag) = match self.output {
            Output { quiet: true, .. } => ("quiet", "-q"),
            Output { verbose: true, .. } => ("verbose", "-v"),
            _ => return None,
        };
        (!flags.iter().any(|f| f.name == Name::Verbosity)).then(|| Flag {
            name: Name::Verbosity,
            value: value.to_owned(),
            flag,
        })
    }
}

/// Which front door runs: it decides whether `DOCKGUARD_*` variables are settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// A person or script on a developer's machine (check, hook, push, images, tag,
    /// status): the environment is theirs.
    Local,
    /// `dockguard ci`: pipeline variables can be set by whoever pushes.
    Ci,
}

/// One run's configuration.
#[derive(Debug)]
pub struct Context {
    layers: Layers,
    workdir_file: Option<FileLayer>,
    resolved: Resolved,
    /// The typed run-level settings.
    pub settings: RunSettings,
}

impl Context {
    /// Reads the configuration for a run: git config (once), the environment, `flags`,
    /// and the repository's file (the work tree's, else HEAD's).
    pub fn load(repo: &Repository, env: &Env, door: Door, flags: &[Flag]) -> Result<Self> {
        let layers = load_layers(repo, env, door, flags)?;
        let workdir_file = match repo.workdir() {
            Some(dir) => FileLayer::from_workdir(dir)?,
            None => None,
        };
        let head_file = match (
            &workdir_file,
            repo.head().ok().and_then(|h| h.peel_to_tree().ok()),
        ) {
            (None, Some(tree)) => FileLayer::from_tree(repo, &tree, "HEAD")?,
            _ => None,
        };
        let resolved = layers.resolve(workdir_file.as_ref().or(head_file.as_ref()));
        let settings = RunSettings::new(&resolved)?;
        Ok(Context {
            layers,
            workdir_file,
            resolved,
            settings,
        })
    }

    /// What is worth saying about the sources (ignored or misspelt variables).
    pub fn warnings(&self) -> &[String] {
        &self.layers.warnings
    }

    /// Every key's raw value and origin, for `status`.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The content rules of a tree whose file is `file`; a tree without one is judged
    /// by the work tree's file.
    pub fn content(&self, file: Option<&FileLayer>) -> ContentSettings {
        ContentSettings::new(&self.layers.resolve(file.or(self.workdir_file.as_ref())))
    }

    /// The content rules of a tree whose file is exactly `file` (`None`: the built-in
    /// defaults, not the work tree's file), as a merge-base judged itself.
    pub fn content_exact(&self, file: Option<&FileLayer>) -> ContentSettings {
        ContentSettings::new(&self.layers.resolve(file))
    }

    /// The configured upstream, else the one found among the remotes.
    pub fn upstream(&self, repo: &Repository) -> Result<Upstream> {
        resolve_upstream(
            repo,
            self.settings
                .upstream
                .as_ref()
                .map(|u| (u.value.as_str(), u.origin.clone())),
        )
    }

    /// An engine comparing with the resolved upstream.
    pub fn engine<'c>(&'c self, repo: &'c Repository) -> Result<Engine<'c>> {
        Ok(Engine::new(repo, self, self.upstream(repo)?))
    }

    /// An engine comparing with an upstream the front door found itself.
    pub fn engine_with<'c>(&'c self, repo: &'c Repository, upstream: Upstream) -> Engine<'c> {
        Engine::new(repo, self, upstream)
    }
}

fn load_layers(repo: &Repository, env: &Env, door: Door, flags: &[Flag]) -> Result<Layers> {
    let config = repo
        .config()
        .map_err(|e| Error::git("cannot read git config", e))?;
    let global: Vec<Flag>;
    let flags = match env.verbosity_flag(flags) {
        Some(f) => {
            global = flags.iter().cloned().chain([f]).collect();
            &global
        }
        None => flags,
    };
    let env_settings = match door {
        Door::Local => EnvSettings::Read,
        Door::Ci => EnvSettings::Ignore,
    };
    Layers::load(Some(&config), &env.vars, env_settings, flags)
}

/// What the hook does when it cannot decide. `on_error` is a machine key, so it is read
/// from git config and the environment alone: the repository's file (often what failed)
/// never decides it. When even those cannot be parsed, their raw text is read.
pub fn on_error(repo: &Repository, env: &Env) -> OnError {
    let raw = match load_layers(repo, env, Door::Local, &[]) {
        Ok(layers) => layers.trusted(Name::OnError).and_then(|(v, _)| match v {
            crate::config::layers::Value::Str(s) => Some(s.clone()),
            _ => None,
        }),
        Err(_) => env
            .get("DOCKGUARD_ON_ERROR")
            .map(str::to_owned)
            .or_else(|| {
                repo.config()
                    .and_then(|c| c.get_string("dockguard.on-error"))
                    .ok()
            }),
    };
    match raw.as_deref().map(str::trim) {
        Some("allow") => OnError::Allow,
        _ => OnError::Block,
    }
}
