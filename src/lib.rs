//! dockguard: does the content a push makes current differ from upstream master in
//! anything a container image is built from?
//!
//! Front doors (`check`, the pre-push hook, `push`, `ci`) share one engine
//! ([`engine::Engine`]): Targets -> Ranges (merge-base with upstream) -> Changes ->
//! Verdict. The binary is thin: [`run`] reads the process environment once and opens the
//! repository; [`run_with_repo`] does the work and is what tests call.

pub mod cli;
pub mod slug;

pub(crate) mod ci;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod git;
pub(crate) mod hook;
pub(crate) mod images;
pub(crate) mod install;
pub(crate) mod limits;
pub(crate) mod push;
pub(crate) mod render;
pub(crate) mod safe_fs;

/// Building blocks that the integration tests and the fuzz targets drive on their own:
/// parsers of untrusted input, object access and merge-bases, and the names install
/// writes. Not a stable API; everything else in the crate is private.
pub mod parts {
    pub use crate::config::{FileLayer, Overrides, KEYS};
    pub use crate::engine::matcher::{glob_to_regex, Matcher};
    pub use crate::git::{history::History, objects::Objects};
    pub use crate::hook::stdin::parse_pre_push;
    pub use crate::images::dockerfile::{parse as parse_dockerfile, ANY};
    pub use crate::images::lexer::lex;
    pub use crate::images::patterns::sources_union;
    pub use crate::images::walkcache::{encode as encode_memo, parse as parse_memo, WalkCache};
    pub use crate::images::Entry;
    pub use crate::install::managers::LEFTHOOK_SNIPPET;
    pub use crate::install::{CHAINED_NAME, MARKER};
    pub use crate::render::outputs::{
        dotenv, github_output, is_var_name, one_line, sanitize_value, DOTENV_MAX_BYTES,
    };
}

use std::collections::BTreeMap;
use std::io::Write;

use git2::Repository;

use crate::cli::{CheckArgs, Cli, Command, Format};
use crate::config::Overrides;
use crate::engine::{Engine, JudgeOptions};
pub use crate::error::{Error, Result};

/// The process environment, read once at the edge.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Variables (only those with UTF-8 names and values).
    pub vars: BTreeMap<String, String>,
    /// Whether stdout is a terminal.
    pub stdout_tty: bool,
}

impl Env {
    /// Captures the real environment.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            stdout_tty: console::Term::stdout().is_term(),
        }
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Colour on stdout: a terminal and no `NO_COLOR`.
    pub fn color(&self) -> bool {
        self.stdout_tty && self.get("NO_COLOR").is_none_or(str::is_empty)
    }
}

/// Runs a parsed command line: opens the repository from the environment and dispatches.
/// Returns the exit code.
pub fn run(cli: &Cli, env: &Env, out: &mut dyn Write) -> Result<i32> {
    // git does not re-hash objects it reads; libgit2 does by default, which costs a fifth
    // of a long history walk. Corruption still surfaces as inflate or parse errors.
    git2::opts::strict_hash_verification(false);
    // Generated from the CLI definitions: no repository needed.
    match &cli.command {
        Command::Completions(a) => return completions::completions(a.shell, out),
        Command::Man(a) => return completions::man(a.out_dir.as_deref(), out),
        _ => {}
    }
    if let Command::Slug(args) = &cli.command {
        // A slug needs no repository (it uses one for the oid fallback when there is one).
        return slug::run(args, cli.dir.as_deref(), out);
    }
    let cwd = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?,
    };
    let repo = if cli.dir.is_some() {
        git::repo::open_at(&cwd)?
    } else {
        git::repo::open_from_env(&cwd)?
    };
    run_with_repo(&repo, cli, env, out)
}

/// Runs a command against an open repository.
pub fn run_with_repo(repo: &Repository, cli: &Cli, env: &Env, out: &mut dyn Write) -> Result<i32> {
    match &cli.command {
        Command::Check(args) => check(repo, args, env, out),
        Command::Ci(args) => ci::run(repo, args, env, out),
        Command::Slug(args) => slug::run(args, repo.workdir(), out),
        Command::Hook(args) => hook::run(repo, args, env, &mut std::io::stderr()),
        Command::Push(args) => push::run(repo, args, env, &mut std::io::stderr()),
        Command::Install(args) => install::install(repo, args, out),
        Command::Uninstall => install::uninstall(repo, out),
        Command::Status => install::status(repo, env, out),
        Command::Images(args) => images::cmd::images(repo, args, env, out),
        Command::Tag(args) => images::cmd::tag(repo, args, env, out),
        Command::Completions(a) => completions::completions(a.shell, out),
        Command::Man(a) => completions::man(a.out_dir.as_deref(), out),
    }
}

fn overrides(repo: &Repository, env: &Env, upstream_flag: Option<&String>) -> Result<Overrides> {
    let config = repo
        .config()
        .map_err(|e| Error::git("cannot read git config", e))?;
    let mut flags = Vec::new();
    if let Some(u) = upstream_flag {
        flags.push(("upstream", u.clone(), "--upstream"));
    }
    Overrides::load(Some(&config), &env.vars, &flags)
}

fn check(repo: &Repository, args: &CheckArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    git::repo::workdir(repo, "check")?;
    let mut engine = Engine::new(repo, overrides(repo, env, args.upstream.as_ref())?)?;
    let targets = engine::targets::from_revspecs(repo, &args.revs)?;
    let report = engine.report(
        &targets,
        JudgeOptions {
            commits: args.commits,
        },
    )?;
    let text = match args.format {
        Format::Json => render::human::json(&report),
        Format::Human => render::human::human(
            &report,
            engine.settings().string_or_default("push_option"),
            &render::human::Styles::new(env.color()),
        ),
    };
    write_out(out, text.as_bytes())?;
    Ok(i32::from(args.exit_code && report.rebuild))
}

/// Writes to stdout; a closed pipe (`dockguard check | head`) is not an error.
pub fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write the output", e)),
    }
}
