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
    /// List the images built from this repository: dockerfiles, contexts, inputs,
    /// parents, content tags, and which are affected relative to upstream.
    #[command(after_help = IMAGES_HELP)]
    Images(ImagesArgs),
    /// Print an image's content tag: the same for the same content, on any branch.
    #[command(after_help = TAG_HELP)]
    Tag(TagArgs),
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

const IMAGES_HELP: &str = "\
Examples:
  dockguard images                       every image of HEAD, in build order
  dockguard images --affected            only those this branch must rebuild
  dockguard images --format names        names only, parents first (for scripts)
  dockguard images --format dot | dot -Tsvg > images.svg

Exit codes:
  0  listed
  2  error (one line, its cause, and a hint)";

const TAG_HELP: &str = "\
Examples:
  dockguard tag --image debian10          content tag of image debian10 at HEAD
  docker manifest inspect \"$IMAGE:$(dockguard tag --image debian10)\" || build-and-push

Exit codes:
  0  printed
  2  error (unknown image, a cycle, a FROM of an image that no longer exists)";

/// Output formats of `dockguard images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImagesFormat {
    /// For people.
    Human,
    /// For scripts (schema in README.md).
    Json,
    /// Graphviz: parent -> child edges, affected images filled.
    Dot,
    /// One image name per line, in build order.
    Names,
}

/// `dockguard images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The revision whose images to list [default: HEAD]
    #[arg(value_name = "REV")]
    pub rev: Option<String>,

    /// Only the images affected relative to upstream, in build order.
    #[arg(long)]
    pub affected: bool,

    /// The branch that counts as master: REMOTE/BRANCH or a full ref.
    #[arg(long, value_name = "REMOTE/BRANCH")]
    pub upstream: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ImagesFormat::Human)]
    pub format: ImagesFormat,
}

/// `dockguard tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image: its name (as `dockguard images` shows it) or its dockerfile path.
    #[arg(long, value_name = "NAME")]
    pub image: String,

    /// The revision [default: HEAD]
    #[arg(value_name = "REV")]
    pub rev: Option<String>,
}
