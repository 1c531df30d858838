//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `dockguard --version`: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("DOCKGUARD_GIT_COMMIT"),
    ")"
);

/// Make CI rebuild container images whenever a pushed branch differs from upstream master
/// in anything an image is built from.
///
/// dockguard compares each pushed tip with its merge-base against upstream master (not
/// just the newly pushed commits), so a dockerfile changed five commits ago still counts
/// on the next push.
#[derive(Debug, Parser)]
#[command(name = "dockguard", version = VERSION, max_term_width = 100)]
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
    /// In a CI job: fetch upstream, judge the pipeline's commit, compare with the request.
    #[command(after_help = CI_HELP)]
    Ci(CiArgs),
    /// Print a docker-tag-safe name for a ref (or GitLab's CI_COMMIT_REF_SLUG).
    #[command(after_help = SLUG_HELP)]
    Slug(SlugArgs),
    /// Git hook front doors (run by the installed hook, not by hand).
    #[command(after_help = HOOK_HELP)]
    Hook(HookArgs),
    /// Run `git push ARGS...`, adding the rebuild push option iff a pushed ref needs it.
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
    /// Install the pre-push hook into this repository (chaining any existing one).
    #[command(after_help = INSTALL_HELP)]
    Install(InstallArgs),
    /// Remove the pre-push hook, restoring the hook it chained byte for byte.
    #[command(after_help = UNINSTALL_HELP)]
    Uninstall,
    /// Diagnose: is the hook installed, which binary, which upstream, which settings.
    #[command(after_help = STATUS_HELP)]
    Status,
    /// List the images built from this repository: dockerfiles, contexts, inputs,
    /// parents, content tags, and which are affected relative to upstream.
    #[command(after_help = IMAGES_HELP)]
    Images(ImagesArgs),
    /// Print an image's content tag: the same for the same content, on any branch.
    #[command(after_help = TAG_HELP)]
    Tag(TagArgs),
    /// In a CI job: plan every image's build from its content tag and the registries
    /// (skip what is there, copy what upstream has, build the rest, parents first).
    #[command(after_help = PLAN_HELP)]
    Plan(Box<PlanArgs>),
    /// Copy an image to another repository (a cross-repository mount within one
    /// registry, else download and upload), as a plan's `copy` jobs do.
    #[command(after_help = COPY_HELP)]
    Copy(CopyArgs),
    /// In a job that runs on the plan's images: check that each reference is this
    /// checkout's image, by content tag and by the label the registry's image carries.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one per subcommand into a directory.
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
}

/// `dockguard completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const COMPLETIONS_HELP: &str = "\
Examples:
  source <(dockguard completions bash)                       this bash session
  dockguard completions bash > ~/.local/share/bash-completion/completions/dockguard
  dockguard completions zsh > \"${fpath[1]}/_dockguard\"
  dockguard completions fish > ~/.config/fish/completions/dockguard.fish

Exit codes: 0 printed; 2 error (unknown shell: the closest name is suggested).";

/// `dockguard man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write dockguard.1 and dockguard-SUBCOMMAND.1 pages into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

const MAN_HELP: &str = "\
Examples:
  dockguard man | man -l -                      read it now
  dockguard man --out-dir ~/.local/share/man/man1   install every page (then `man dockguard-check`)

Exit codes: 0 written; 2 error (the directory cannot be written).";

const HOOK_HELP: &str = "\
Examples:
  dockguard install                    the usual way: git then runs `dockguard hook pre-push`
  dockguard hook pre-commit            what the pre-commit framework runs (.pre-commit-hooks.yaml)
  dockguard hook pre-push \"$@\"        in .husky/pre-push, or lefthook's `run:`

Exit codes: 0 allow the push, 1 block it, 2 dockguard could not decide.";

const INSTALL_HELP: &str = "\
Examples:
  dockguard install            write the pre-push hook where git looks (core.hooksPath or .git/hooks)
  dockguard install --force    also over a shared hooks dir, a symlinked hook, or a hook manager
  ./install.sh                 build + install the binary, then this

A hook that is already there is kept and run after dockguard's check (uninstall restores
it). Under husky, pre-commit or lefthook, the snippet for that manager is printed instead.

Exit codes: 0 installed (or nothing to do); 2 refused or failed (the hint says why).";

const UNINSTALL_HELP: &str = "\
Examples:
  dockguard uninstall          remove dockguard's hook; a chained hook is renamed back

Exit codes: 0 removed (or nothing to remove); 2 error.";

const STATUS_HELP: &str = "\
Examples:
  dockguard status             hook, binary, upstream (and its age), effective settings

Exit codes: 0 reported (problems are reported, not failed on); 2 no repository.";

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
    #[command(after_help = PRE_PUSH_HELP)]
    PrePush(PrePushArgs),
    /// The pre-push hook as the pre-commit framework runs it (refs from PRE_COMMIT_* variables).
    #[command(after_help = PRE_COMMIT_HELP)]
    PreCommit(PreCommitArgs),
}

/// How much the hook says.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct HookOutput {
    /// One line when there is nothing to do (blocks are still explained in full)
    /// [config: verbosity = quiet].
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also say, for each pushed ref, why it was judged as it was [config: verbosity = verbose].
    #[arg(short, long)]
    pub verbose: bool,
}

/// `dockguard hook pre-commit`.
#[derive(Debug, Args)]
pub struct PreCommitArgs {
    /// How much to say.
    #[command(flatten)]
    pub output: HookOutput,
}

const PRE_PUSH_HELP: &str = "\
Examples:
  dockguard install                       installs a shim that runs this on every git push
  echo 'refs/heads/x <oid> refs/heads/x 0000000000000000000000000000000000000000' |
    dockguard hook pre-push origin git@example.com:a/b.git      drive it by hand
  git config dockguard.verbosity quiet    one line when nothing needs a rebuild

Exit codes:
  0  allow the push (no rebuild needed, the push asks for it, or policy warn)
  1  block it (a rebuild is needed and the push does not ask for it), or policy repush
     already pushed it with the option
  2  dockguard could not decide (with on_error = allow: a warning and exit 0)";

const PRE_COMMIT_HELP: &str = "\
Example, for the pre-commit framework (https://pre-commit.com), in .pre-commit-config.yaml:
  - repo: https://github.com/OWNER/dockguard    (or `repo: local` with `language: system`)
    rev: vX.Y.Z
    hooks: [{id: dockguard, stages: [pre-push]}]
then `pre-commit install --hook-type pre-push`.

pre-commit reads git's stdin itself and passes one pushed ref in PRE_COMMIT_TO_REF /
PRE_COMMIT_LOCAL_BRANCH / PRE_COMMIT_REMOTE_BRANCH / PRE_COMMIT_REMOTE_NAME /
PRE_COMMIT_REMOTE_URL. dockguard judges that ref against its merge-base with upstream
and ignores PRE_COMMIT_FROM_REF (the narrow \"new commits only\" range). pre-commit passes
only the first ref of a multi-ref push: dockguard finds the others from the `git push`
command line and `git push --dry-run`, and stops the push when it cannot.

Exit codes: as `dockguard hook pre-push` (0 allow, 1 block, 2 error).";

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

    /// How much to say.
    #[command(flatten)]
    pub output: HookOutput,
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
    /// by other repositories), a pre-push hook that is a symbolic link (moved aside
    /// and chained, never written through), or hooks managed by husky, pre-commit or
    /// lefthook (by default their snippet is printed instead).
    #[arg(long)]
    pub force: bool,
}

const CHECK_HELP: &str = "\
Examples:
  dockguard check                       judge HEAD against upstream master
  dockguard check feature v1.2 HEAD~3   judge several revisions
  dockguard check --commits             also list the commits that touched each file
  dockguard check --format json         machine-readable (schema/check.schema.json)

Exit codes:
  0  answered (with --exit-code: no rebuild needed)
  1  with --exit-code: a rebuild is needed
  2  error (one line, its cause, and a hint)";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// For scripts (JSON Schema: schema/check.schema.json).
    Json,
}

/// `dockguard check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Revisions to judge: branches, tags, commit ids, `HEAD~2`, ... [default: HEAD]
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

const CI_HELP: &str = "\
Examples:
  dockguard ci --dotenv dockguard.env          GitLab job (artifacts:reports:dotenv)
  dockguard ci --provider github               GitHub Actions ($GITHUB_OUTPUT, step summary)
  dockguard ci --provider generic --upstream-url URL --upstream-branch master
  dockguard ci --strict                        fail when a rebuild is needed but was not requested
  dockguard ci --request-input '$[[ inputs.dockguard_rebuild ]]'   the request as a pipeline input

Decision (one line each): needed+requested -> rebuild; needed, not requested -> rebuild
and warn (exit 1 with --strict, except where no request can arrive: merge-request
pipelines, the upstream branch itself, GitHub events other than workflow_dispatch);
requested only -> rebuild; neither -> skip; no merge-base -> rebuild (base unknown).

Exit codes:
  0  decided (see the decision line / DOCKGUARD_DECISION)
  1  with --strict: a rebuild is needed but the pipeline did not request it
  2  error (one line, its cause, and a hint)";

const SLUG_HELP: &str = "\
Examples:
  dockguard slug feature/foo        feature-foo-<hash>   (docker tag)
  dockguard slug v1.2.3             v1.2.3               (already valid: unchanged)
  dockguard slug --gitlab Feature/X feature-x            (exactly CI_COMMIT_REF_SLUG)

The docker tag matches [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; when characters were replaced or
the name was cut, 8 hex digits of `git hash-object` of the name keep it unique.

Reserved tags: a slug is never `latest`, never starts like a content tag (`c` and digits,
then `-`, as in c1-<40 hex>) and never equals a --reserve TAG; such a slug, and any slug
starting with `_`, gets a leading `_` (latest -> _latest, _x -> __x), so no branch can
take the shared or a content-addressed tag, and no two names share a slug this way.
`dockguard ci` also reserves the upstream tag (DOCKGUARD_UPSTREAM_TAG), the default branch
outside its own pipelines, an MR's target branch, and pr-N/mr-N outside pull request N.
  dockguard slug latest                   _latest
  dockguard slug --reserve stable stable  _stable

Exit codes: 0 printed; 2 error (e.g. nothing of the name survives and there is no oid).";

/// Which CI system to assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// GITLAB_CI=true -> gitlab, GITHUB_ACTIONS=true -> github, else generic.
    Auto,
    /// GitLab CI (also gitlab-ci-local, which sets GITLAB_CI=false).
    Gitlab,
    /// GitHub Actions.
    Github,
    /// Flags and configuration only.
    Generic,
}

/// What `dockguard ci` and `dockguard plan` both take: the job, upstream, the request.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The CI system.
    #[arg(long, value_enum, default_value_t = ProviderArg::Auto)]
    pub provider: ProviderArg,

    /// Fetch upstream from this URL or remote (a fork's upstream project) [config: ci.upstream_url].
    #[arg(long, value_name = "URL")]
    pub upstream_url: Option<String>,

    /// The upstream branch [config: ci.upstream_branch; default: MR/PR target, else the default branch].
    #[arg(long, value_name = "BRANCH")]
    pub upstream_branch: Option<String>,

    /// The pipeline variable that requests a rebuild [config: ci.request_variable].
    #[arg(long, value_name = "NAME")]
    pub request_variable: Option<String>,

    /// The value of the pipeline input that requests a rebuild (`ci.request_input`, set by
    /// `git push -o ci.input=NAME=true`), as the CI configuration passes it, e.g.
    /// `--request-input $[[ inputs.dockguard_rebuild ]]`: any value but "", 0, false, no,
    /// off is a request, like the variable's.
    #[arg(long, value_name = "VALUE")]
    pub request_input: Option<String>,

    /// The commit to judge [default: the pipeline's commit, else HEAD].
    #[arg(long, value_name = "REV")]
    pub target: Option<String>,

    /// The pipeline's ref name, which images are tagged after [default: the pipeline's
    /// branch or tag].
    #[arg(long = "ref", value_name = "NAME")]
    pub ref_name: Option<String>,

    /// Do not fetch: compare with the local upstream ref, as `dockguard check` does.
    #[arg(long)]
    pub no_fetch: bool,

    /// Exit 1 when a rebuild is needed but the pipeline did not request it (only where a
    /// request can arrive: not in merge-request pipelines, on the upstream branch itself,
    /// or on GitHub unless started by hand).
    #[arg(long)]
    pub strict: bool,
}

/// `dockguard ci`.
#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Write GitLab's dotenv report (artifacts:reports:dotenv) to FILE.
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Attribute each changed file to the commits that touched it.
    #[arg(long)]
    pub commits: bool,
}

/// `dockguard slug`.
#[derive(Debug, Args)]
pub struct SlugArgs {
    /// The ref name, as CI shows it (CI_COMMIT_REF_NAME, GITHUB_REF_NAME).
    #[arg(value_name = "REF")]
    pub name: String,

    /// Reproduce GitLab's CI_COMMIT_REF_SLUG instead (lowercase, at most 63, may be empty).
    #[arg(long)]
    pub gitlab: bool,

    /// The commit the ref points at, used when nothing of the name survives
    /// [default: REF resolved in the current repository, when there is one].
    #[arg(long, value_name = "OID")]
    pub oid: Option<String>,

    /// A tag this slug must never equal (repeatable), e.g. the upstream tag or the default
    /// branch's name in a tag pipeline; a slug equal to one gets a leading `_`.
    #[arg(long, value_name = "TAG")]
    pub reserve: Vec<String>,
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

const PLAN_HELP: &str = "\
`plan` is its own command rather than a mode of `ci`: `ci` answers one yes/no question
without any network but git's, while `plan` asks the registries about every image and
writes what a pipeline acts on. It judges the pipeline's commit exactly as `ci` does
(same provider detection, fetching, request variable, --strict) and then, per image in
build order: its content tag (`dockguard tag`), whether it is affected relative to
upstream and why, and whether this project's registry has the tag, only the upstream
project's registry has it, neither, its answer made no sense, or it could not be asked
(then the plan fails, or builds with --registry-unreachable build). Action: skip
(present), copy (upstream has it), build (missing or unknown: unknown is never skip); an
image whose parent is built is built; a rebuild request (the request variable, e.g.
DOCKGUARD_REBUILD=1, or --rebuild) builds every affected image.

Examples:
  dockguard plan --dotenv plan.env --child-pipeline images.yml --json plan.json   GitLab
  dockguard plan --provider github                      GitHub ($GITHUB_OUTPUT: matrix, images)
  dockguard plan --registry-image registry.example/group/project --no-fetch     by hand
  dockguard plan --format mermaid                        the image graph, for a summary
  dockguard plan --format dot | dot -Tsvg > plan.svg

Registries: --registry-image (else CI_REGISTRY_IMAGE, or ghcr.io/OWNER/REPO on
GitHub); --upstream-registry-image for a fork's upstream (no DOCKGUARD_* variable
chooses where the plan connects: whoever pushes can set those). Image IMAGE is
<registry image>/IMAGE:<content tag>. Plain HTTP with an http:// prefix (loopback hosts
default to it). Credentials: CI_REGISTRY_USER/CI_REGISTRY_PASSWORD or CI_JOB_TOKEN for
CI_REGISTRY, GITHUB_TOKEN for ghcr.io, docker's config.json (auths, credHelpers,
credsStore). Secrets are never printed.

Exit codes:
  0  planned (registry failures are not errors: those images are planned `build`)
  1  with --strict: a rebuild is needed but the pipeline did not request it
  2  error (one line, its cause, and a hint)";

/// Output formats of `dockguard plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// A table for people.
    Human,
    /// For scripts (JSON Schema: schema/plan.schema.json).
    Json,
    /// A Mermaid graph of the images, each marked skip / copy / build.
    Mermaid,
    /// The same graph for Graphviz.
    Dot,
}

/// What `dockguard plan` does when this project's registry cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegistryUnreachable {
    /// The plan job fails, saying why (no build job fails later at its push).
    Fail,
    /// Every image the registry could not be asked about is built.
    Build,
}

/// `dockguard plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Build every affected image even if its content tag exists (as the request
    /// variable does; for pipeline inputs: `--rebuild` when `$[[ inputs.rebuild ]]`).
    #[arg(long)]
    pub rebuild: bool,

    /// This project's image repository: HOST[:PORT]/PATH, `http://` for plain HTTP
    /// [default: CI_REGISTRY_IMAGE, ghcr.io/OWNER/REPO].
    #[arg(long, value_name = "REPO")]
    pub registry_image: Option<String>,

    /// The upstream project's image repository, to copy from [default: none: never copy].
    #[arg(long, value_name = "REPO")]
    pub upstream_registry_image: Option<String>,

    /// Seconds one registry request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub registry_timeout: u64,

    /// When this project's registry cannot be asked (down, no answer, 401/403, 429 or
    /// 5xx after the retries): `fail` the plan job with the registry's words, or `build`
    /// every image it could not ask about.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = RegistryUnreachable::Fail)]
    pub registry_unreachable: RegistryUnreachable,

    /// A tag that follows upstream's tip (e.g. `latest`; repeatable): when the planned
    /// commit is upstream's tip, the plan moves it to every present image's content (a
    /// registry manifest copy), and the child pipeline's jobs to what they build or copy.
    #[arg(long, value_name = "TAG")]
    pub moving_tag: Vec<String>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Also write the JSON plan to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write GitLab's dotenv report: DOCKGUARD_IMAGE_<NAME>=<reference> per image.
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,

    /// Only these images in the dotenv report (GitLab limits it to 5 KB and, depending
    /// on the plan, 20-150 variables); comma-separated names.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub dotenv_images: Vec<String>,

    /// The most variables the dotenv report may hold (GitLab's `dotenv_variables` limit).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub dotenv_max_vars: usize,

    /// Write a GitLab child pipeline to FILE: one job per image to build or copy,
    /// ordered by `needs:` along the FROM graph (or one job that says why nothing is to do).
    #[arg(long, value_name = "FILE")]
    pub child_pipeline: Option<PathBuf>,

    /// An `include:` for the child pipeline (the file defining `.dockguard-plan-build`
    /// and `.dockguard-plan-copy`): a path in the project, or an https:// URL. Repeatable.
    #[arg(long, value_name = "LOCATION")]
    pub child_include: Vec<String>,

    /// Put the shipped definitions of `.dockguard-plan-build` and `.dockguard-plan-copy`
    /// (ci/gitlab/dockguard-child.yml, built into dockguard) into the child pipeline, so
    /// it needs no include (what the GitLab template and component do).
    #[arg(long)]
    pub child_jobs: bool,

    /// Write the plan as Markdown (a table and a Mermaid graph) to FILE, e.g. a GitLab
    /// artifact exposed on the merge request (on GitHub it goes to the step summary).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

const COPY_HELP: &str = "\
Examples:
  dockguard copy \"$DOCKGUARD_COPY_FROM\" \"$DOCKGUARD_IMAGE_REF\"     in a plan's copy job
  dockguard copy registry.example/up/proj/base:c1-0a1b registry.example/fork/proj/base:c1-0a1b

References are HOST[:PORT]/PATH:TAG (http:// in front for plain HTTP; loopback hosts
default to it). Within one registry every blob is mounted from the source repository (no
bytes move); between registries they are downloaded and uploaded. The manifest is copied
byte for byte, so the copy has the same digest. Credentials as for `dockguard plan`.

Exit codes: 0 copied; 2 error (naming both images and what the registry said).";

const VERIFY_HELP: &str = "\
Examples:
  dockguard verify \"$DOCKGUARD_IMAGE_CHILD\"                      at the start of a job using it
  dockguard verify --registry-image registry.example/g/p registry.example/g/p/base:c1-0a1b

Each REF (HOST[:PORT]/PATH:TAG) must be in this project's image repository
(--registry-image, else CI_REGISTRY_IMAGE or ghcr.io/OWNER/REPO), name an image of the
checkout (REV, default HEAD) by its repository name, carry that image's content tag as
the checkout computes it, and exist in the registry with the same content tag in its
`dockguard.content-tag` label (set by dockguard's build jobs). Credentials as for
`dockguard plan`.

Exit codes: 0 every reference verified; 1 one is not this checkout's image (each says
why); 2 error.";

/// `dockguard verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image references the job uses: HOST[:PORT]/PATH:TAG.
    #[arg(value_name = "REF", required = true)]
    pub references: Vec<String>,

    /// The revision whose content tags count [default: HEAD].
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,

    /// This project's image repository [default: CI_REGISTRY_IMAGE, ghcr.io/OWNER/REPO].
    #[arg(long, value_name = "REPO")]
    pub registry_image: Option<String>,

    /// Seconds one registry request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub registry_timeout: u64,
}

/// `dockguard copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The image to copy: HOST[:PORT]/PATH:TAG.
    #[arg(value_name = "FROM")]
    pub from: String,

    /// Where to: HOST[:PORT]/PATH:TAG.
    #[arg(value_name = "TO")]
    pub to: String,

    /// Seconds one registry request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub registry_timeout: u64,
}
