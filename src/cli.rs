//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Make CI rebuild container images whenever a pushed branch differs from upstream master
/// in anything an image is built from.
///
/// dockguard compares each pushed tip with its merge-base against upstream master (not
/// just the newly pushed commits), so a dockerfile changed five commits ago still counts
/// on the next push.
#[derive(Debug, Parser)]
#[command(name = "dockguard", version, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in DIR (like `git -C DIR`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tell whether the CI must rebuild images for a commit (default HEAD).
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Git hook front doors (run by the installed hook, not by hand).
    Hook(HookArgs),
    /// Run `git push ARGS…`, adding the rebuild push option iff a pushed ref needs it.
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
    /// Install the pre-push hook into this repository (chaining any existing one).
    Install(InstallArgs),
    /// Remove the pre-push hook, restoring the hook it chained byte for byte.
    Uninstall,
    /// Diagnose: is the hook installed, which binary, which upstream, which settings.
    Status,
}

/// `dockguard hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// Which hook.
    #[command(subcommand)]
    pub hook: HookKind,
}

/// The hooks dockguard implements.
#[derive(Debug, Subcommand)]
pub enum HookKind {
    /// git's pre-push hook: reads the ref updates on stdin, exits 0 (allow), 1 (block) or 2 (error).
    PrePush(PrePushArgs),
}

/// `dockguard hook pre-push REMOTE URL`.
#[derive(Debug, Args)]
pub struct PrePushArgs {
    /// The remote's name (git passes the URL here too when pushing to a URL).
    pub remote: String,

    /// The remote's URL.
    pub url: String,

    /// Path of the installed hook shim (passed by the shim); a foreign hook chained
    /// beside it runs too.
    #[arg(long, value_name = "PATH", hide = true)]
    pub installed_hook: Option<PathBuf>,
}

/// `dockguard push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Arguments for `git push`, passed through unchanged.
    #[arg(
        value_name = "GIT PUSH ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

const PUSH_HELP: &str = "\
Examples:
  dockguard push                         like `git push`, with the option when needed
  dockguard push origin feature          explicit remote and refspecs
  dockguard push --force-with-lease origin HEAD:refs/heads/x

Exit code: git push's.";

/// `dockguard install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install even where it looks wrong: a core.hooksPath outside the repository (shared
    /// by other repositories) or a pre-push hook that is a symbolic link (moved aside
    /// and chained, never written through).
    #[arg(long)]
    pub force: bool,
}

const CHECK_HELP: &str = "\
Examples:
  dockguard check                       judge HEAD against upstream master
  dockguard check feature v1.2 HEAD~3   judge several revisions
  dockguard check --commits             also list the commits that touched each file
  dockguard check --format json         machine-readable verdict (schema in README)

Exit codes:
  0  answered (with --exit-code: no rebuild needed)
  1  with --exit-code: a rebuild is needed
  2  error (one line, its cause, and a hint)";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// For scripts (schema in README.md).
    Json,
}

/// `dockguard check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Revisions to judge: branches, tags, commit ids, `HEAD~2`, … [default: HEAD]
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,

    /// The branch that counts as master: REMOTE/BRANCH or a full ref.
    #[arg(long, value_name = "REMOTE/BRANCH")]
    pub upstream: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Attribute each changed file to the commits that touched it (at most
    /// `max_commits` commits per revision are examined).
    #[arg(long)]
    pub commits: bool,

    /// Exit with 1 when a rebuild is needed (0 otherwise).
    #[arg(long)]
    pub exit_code: bool,
}
