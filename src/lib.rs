//! dockguard: does the content a push makes current differ from upstream master in
//! anything a container image is built from?
//!
//! The data flows one way (Targets -> Ranges -> Changes -> Verdict -> Action):
//! - [`context`]: the run context, built once at the edge (environment, configuration
//!   layers, typed settings); every front door gets its engine from it;
//! - `config`: the key schema, the layers each source contributes, typed settings;
//! - `git`: plumbing (object and pack reading, commit-graph, merge-bases);
//! - `engine`: targets, upstream, changes (tree diff + matcher), attribution, verdict;
//! - `images`: dockerfiles, image graph, content tags;
//! - front doors: `check`, `hook`, `push`, `ci`, `install`, the images commands; only
//!   they perform side effects;
//! - `render`: how results look to people, scripts and CI systems.
//!
//! The binary is thin: [`run`] opens the repository from the environment and
//! [`run_with_repo`] does the work.

pub mod cli;
pub mod registry;
pub mod slug;

pub(crate) mod check;
pub(crate) mod ci;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod fsx;
pub(crate) mod git;
pub(crate) mod hook;
pub(crate) mod images;
pub(crate) mod install;
pub(crate) mod limits;
pub(crate) mod plan;
pub(crate) mod push;

pub(crate) mod render;
pub(crate) mod verify_images;

/// Building blocks that the integration tests and the fuzz targets drive on their own:
/// parsers of untrusted input, object access and merge-bases, and the names install
/// writes. Not a stable API; everything else in the crate is private.
pub mod parts {
    pub use crate::ci::remote::{locate, same_server, Located, Server};
    pub use crate::config::keys::markdown_table as config_table;
    pub use crate::config::keys::Trust;
    pub use crate::config::{
        ContentSettings, EnvSettings, FileLayer, Layers, Policy, RunSettings, KEYS,
    };
    pub use crate::engine::matcher::{
        glob_to_regex, Matcher, DEFAULT_DOCKERFILES, NOT_DOCKERFILES,
    };
    pub use crate::git::{history::History, objects::Objects};
    pub use crate::hook::stdin::parse_pre_push;
    pub use crate::images::declared::{
        resolve as resolve_declarations, Declaration, Declared, Dockerfile as DeclaredDockerfile,
        Files as DeclarationFiles, Target as DeclaredTarget,
    };
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

use std::io::Write;

use git2::Repository;

use crate::cli::{Cli, Command};
pub use crate::context::Env;
pub use crate::error::{Error, Result};

/// Pack windows: libgit2 maps packs in windows of 1 GiB, up to 8 GiB, and every page it
/// touches stays in the process's RSS until exit. 4 MiB windows under a 16 MiB limit let
/// it unmap what it no longer reads. On QEMU (a 471 MB pack), hook peak RSS / wall,
/// default -> 4/16 MiB: near branch 38.4 -> 30.5 MB, 9.6 -> 10.5 ms; one-file change
/// 17.9 -> 15.4 MB, 4.8 -> 4.9 ms; 1000-ref push 107 -> 69 MB, 0.79 -> 0.83 s (16/64 MiB:
/// 33 MB and 10.1 ms near). Bounded memory is worth the remapping (~100 4 MiB maps).
fn mwindow_limits() {
    const WINDOW: usize = 4 << 20;
    const MAPPED: usize = 16 << 20;
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: libgit2 reads these globals when it maps a pack; they are set once per
    // process (before the first repository is opened when run from main), and nothing
    // else sets them.
    #[allow(unsafe_code)]
    ONCE.call_once(|| unsafe {
        let _ = git2::opts::set_mwindow_size(WINDOW);
        let _ = git2::opts::set_mwindow_mapped_limit(MAPPED);
    });
}

/// Runs a parsed command line: opens the repository from the environment and dispatches.
/// Returns the exit code.
pub fn run(cli: &Cli, env: &Env, out: &mut dyn Write) -> Result<i32> {
    // git does not re-hash objects it reads; libgit2 does by default, which costs a fifth
    // of a long history walk. Corruption still surfaces as inflate or parse errors.
    git2::opts::strict_hash_verification(false);
    mwindow_limits();
    // Generated from the CLI definitions: no repository needed.
    match &cli.command {
        Command::Completions(a) => return completions::completions(a.shell, out),
        Command::Man(a) => return completions::man(a.out_dir.as_deref(), out),
        _ => {}
    }
    if let Command::Copy(args) = &cli.command {
        // A copy is between registries: no repository.
        return ci::plan::copy(args, env, out);
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
        Command::Check(args) => check::run(repo, args, env, out),
        Command::Ci(args) => ci::run(repo, args, env, out),
        Command::Slug(args) => slug::run(args, repo.workdir(), out),
        Command::Hook(args) => hook::run(repo, args, env, &mut std::io::stderr()),
        Command::Push(args) => push::run(repo, args, env, &mut std::io::stderr()),
        Command::Install(args) => install::install(repo, args, env, out),
        Command::Uninstall => install::uninstall(repo, out),
        Command::Status => install::status(repo, env, out),
        Command::Images(args) => images::cmd::images(repo, args, env, out),
        Command::Tag(args) => images::cmd::tag(repo, args, env, out),
        Command::Plan(args) => ci::plan::run(repo, args, env, out),
        Command::Copy(args) => ci::plan::copy(args, env, out),
        Command::Verify(args) => verify_images::run(repo, args, env, out),
        Command::Completions(a) => completions::completions(a.shell, out),
        Command::Man(a) => completions::man(a.out_dir.as_deref(), out),
    }
}

/// Writes to stdout; a closed pipe (`dockguard check | head`) is not an error.
pub fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write the output", e)),
    }
}
