//! The one schema: every key dockguard reads, its type, default, documentation and the
//! sources allowed to set it.
//!
//! Code never names a key by a string: it uses [`Name`], so a misspelt key does not
//! compile. The table [`KEYS`] is indexed by `Name` (a unit test checks the order), and
//! README's configuration table and `dockguard status` are generated from it (a test
//! fails when README disagrees).

/// The type of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false` (git config and env also take yes/no/on/off/1/0).
    Bool,
    /// Free text.
    Str,
    /// A list of strings (env: comma-separated; git config: a multi-valued key).
    List,
    /// A whole number within bounds.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// An array of tables (`[[name]]` in TOML), each with the given fields; only the
    /// file layer can set it (it has no git config or environment form).
    Tables(&'static [Field]),
}

/// A field of a [`Kind::Tables`] key.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name inside each table.
    pub name: &'static str,
    /// Its type (`Str` or `List`).
    pub kind: Kind,
    /// Must every table have it?
    pub required: bool,
    /// One line for README.
    pub doc: &'static str,
}

/// Which sources may set a key. The repository (`.dockguard.toml`, whether in the
/// judged commit's tree or in the work tree of a clone) is written by whoever pushed:
/// it may describe what images are built from, never what runs, where dockguard
/// connects, what it pushes, or how strict a check is. Git never trusts a clone's
/// `.git/config` for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Describes content: any source, the repository file included.
    Repository,
    /// The repository file may set it only in a validated shape (see
    /// [`super::settings`]); git config, the environment and flags freely.
    Validated,
    /// Never from a repository file: git config, the environment, flags.
    Machine,
}

impl Trust {
    /// For README and `status`.
    pub fn describe(self) -> &'static str {
        match self {
            Trust::Repository => "any",
            Trust::Validated => "any (file: checked shape)",
            Trust::Machine => "git config, env, flags",
        }
    }
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// Its place in [`KEYS`].
    pub id: Name,
    /// Dotted name: TOML `[a] b`, git config `dockguard.a.b`, env `DOCKGUARD_A_B`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The default, as it would be written in TOML.
    pub default: &'static str,
    /// Which sources may set it.
    pub trust: Trust,
    /// One line for README and `status`.
    pub doc: &'static str,
}

/// Every key, by name. `Name::X.key()` is its row of [`KEYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Name {
    Upstream,
    MatchDefaults,
    MatchDockerfiles,
    MatchDockerfileRegex,
    MatchInputs,
    MatchInputRegex,
    MatchExclude,
    PushOption,
    MaxCommits,
    CiUpstreamUrl,
    CiUpstreamBranch,
    CiRequestVariable,
    CiRequestInput,
    CiDepth,
    CiMaxDepth,
    CiUnshallow,
    Policy,
    AllowRepush,
    Remotes,
    OnError,
    ImagesParent,
    ImagesRule,
    ImagesGitlabCi,
    ImagesUndeclared,
    Verbosity,
    GitlabPipelineRefs,
}

/// How many keys there are.
pub const COUNT: usize = Name::GitlabPipelineRefs as usize + 1;

impl Name {
    /// The key's row in the schema.
    pub fn key(self) -> &'static Key {
        &KEYS[self as usize]
    }

    /// The dotted name.
    pub fn as_str(self) -> &'static str {
        self.key().name
    }
}

/// Every key dockguard reads, in [`Name`] order.
pub const KEYS: &[Key; COUNT] = &[
    Key {
        id: Name::Upstream,
        name: "upstream",
        kind: Kind::Str,
        default: "(auto)",
        trust: Trust::Machine,
        doc: "the branch that counts as master: `REMOTE/BRANCH` or a full ref; default: remote `upstream` else `origin`, branch from its HEAD, else master, else main",
    },
    Key {
        id: Name::MatchDefaults,
        name: "match.defaults",
        kind: Kind::Bool,
        default: "true",
        trust: Trust::Repository,
        doc: "count the built-in dockerfile names (Dockerfile, dockerfile, DockerFile, Dockerfile.*, Dockerfile-*, Dockerfile_*, dockerfile.*, *.Dockerfile, *.dockerfile, Containerfile, Containerfile.*, *.Containerfile, *.containerfile, *.docker; not *.md and other documentation)",
    },
    Key {
        id: Name::MatchDockerfiles,
        name: "match.dockerfiles",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "extra dockerfile globs",
    },
    Key {
        id: Name::MatchDockerfileRegex,
        name: "match.dockerfile_regex",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "extra dockerfile regexes, matched against the whole path",
    },
    Key {
        id: Name::MatchInputs,
        name: "match.inputs",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "globs of other files images are built from (e.g. `tests/docker/dockerfiles/**`)",
    },
    Key {
        id: Name::MatchInputRegex,
        name: "match.input_regex",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "regexes of other files images are built from, matched against the whole path",
    },
    Key {
        id: Name::MatchExclude,
        name: "match.exclude",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "globs that never count, even when another pattern matches",
    },
    Key {
        id: Name::PushOption,
        name: "push_option",
        kind: Kind::Str,
        default: "ci.variable=DOCKGUARD_REBUILD=1",
        trust: Trust::Validated,
        doc: "the push option that asks CI to rebuild images (`git push -o VALUE`); in `.dockguard.toml` only `ci.variable=NAME=1` or `ci.input=NAME=true` naming the request `ci.request_variable` / `ci.request_input` recognise",
    },
    Key {
        id: Name::MaxCommits,
        name: "max_commits",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        trust: Trust::Repository,
        doc: "how many commits `--commits` examines per target before it stops (and says so)",
    },
    Key {
        id: Name::CiUpstreamUrl,
        name: "ci.upstream_url",
        kind: Kind::Str,
        default: "(remote upstream, else origin)",
        trust: Trust::Machine,
        doc: "`dockguard ci`: where to fetch the upstream branch from, a URL (https, ssh, git, file) or a remote name (a fork's upstream project)",
    },
    Key {
        id: Name::CiUpstreamBranch,
        name: "ci.upstream_branch",
        kind: Kind::Str,
        default: "(auto)",
        trust: Trust::Machine,
        doc: "`dockguard ci`: the upstream branch; default: the MR/PR target branch, else the default branch (CI_DEFAULT_BRANCH, GitHub's event, the remote's HEAD)",
    },
    Key {
        id: Name::CiRequestVariable,
        name: "ci.request_variable",
        kind: Kind::Str,
        default: "DOCKGUARD_REBUILD",
        trust: Trust::Machine,
        doc: "the pipeline variable that requests a rebuild (set by `-o ci.variable=NAME=1`); the hook accepts a repository's `push_option` only if it names this",
    },
    Key {
        id: Name::CiRequestInput,
        name: "ci.request_input",
        kind: Kind::Str,
        default: "dockguard_rebuild",
        trust: Trust::Machine,
        doc: "the pipeline input that requests a rebuild (set by `-o ci.input=NAME=true`); the hook accepts a repository's `push_option` only if it names this",
    },
    Key {
        id: Name::CiDepth,
        name: "ci.depth",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "50",
        trust: Trust::Machine,
        doc: "`dockguard ci` in a shallow clone: commits fetched first, and the first deepening step (doubled each round)",
    },
    Key {
        id: Name::CiMaxDepth,
        name: "ci.max_depth",
        kind: Kind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: "10000",
        trust: Trust::Machine,
        doc: "`dockguard ci`: stop deepening step by step after this many commits",
    },
    Key {
        id: Name::CiUnshallow,
        name: "ci.unshallow",
        kind: Kind::Bool,
        default: "true",
        trust: Trust::Machine,
        doc: "`dockguard ci`: when deepening did not find the merge-base, fetch the whole history (`--unshallow`)",
    },
    Key {
        id: Name::Policy,
        name: "policy",
        kind: Kind::Choice(&["block", "warn", "repush"]),
        default: "block",
        trust: Trust::Validated,
        doc: "what the pre-push hook does when a push needs a rebuild and does not ask for it: `block` (stop it, print the command to re-run), `warn` (print, let it through), `repush` (push the same refs itself with the option, then stop the original push); `.dockguard.toml` may choose `repush` only where `allow_repush` is set",
    },
    Key {
        id: Name::AllowRepush,
        name: "allow_repush",
        kind: Kind::Bool,
        default: "false",
        trust: Trust::Machine,
        doc: "let a repository's `.dockguard.toml` choose `policy = \"repush\"` (the hook then runs `git push` itself)",
    },
    Key {
        id: Name::Remotes,
        name: "remotes",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Machine,
        doc: "which pushes the hook judges: remote names (`origin`), or `/REGEX/` searched in the remote URL; empty: every remote",
    },
    Key {
        id: Name::OnError,
        name: "on_error",
        kind: Kind::Choice(&["block", "allow"]),
        default: "block",
        trust: Trust::Machine,
        doc: "what the pre-push hook does when it cannot decide (bad config, no upstream, unreadable input): `block` the push (exit 2) or `allow` it with a warning",
    },
    Key {
        id: Name::ImagesParent,
        name: "images.parent",
        kind: Kind::List,
        default: "[]",
        trust: Trust::Repository,
        doc: "how FROM lines name this repository's images: templates with `{name}` (e.g. `qemu/{name}`, `$CI_REGISTRY_IMAGE/qemu/{name}`); a FROM whose image (tag and digest removed) matches one is built on that image",
    },
    Key {
        id: Name::ImagesRule,
        name: "images.rule",
        kind: Kind::Tables(IMAGE_RULE_FIELDS),
        default: "[]",
        trust: Trust::Repository,
        doc: "naming rules for images, first match wins, before the built-in ones: `[[images.rule]]` tables with `dockerfile` (regex with a `name` group), optional `name`, `context` and `inputs` (see docs/src/images.md); a dockerfile a rule matches counts as built",
    },
    Key {
        id: Name::ImagesGitlabCi,
        name: "images.gitlab_ci",
        kind: Kind::Str,
        default: ".gitlab-ci.yml",
        trust: Trust::Repository,
        doc: "the GitLab pipeline's entry file, repository-relative (the project's \"CI/CD configuration file\" setting, when it is another file of the repository); empty: no GitLab pipeline",
    },
    Key {
        id: Name::ImagesUndeclared,
        name: "images.undeclared",
        kind: Kind::Choice(&["auto", "count", "ignore"]),
        default: "auto",
        trust: Trust::Repository,
        doc: "dockerfiles no declaration builds: `auto` (not images when every build the CI, compose and bake files declare is resolved, else counted with a guessed context), `count` (always counted), `ignore` (never counted, even when some builds cannot be resolved)",
    },
    Key {
        id: Name::Verbosity,
        name: "verbosity",
        kind: Kind::Choice(&["quiet", "normal", "verbose"]),
        default: "normal",
        trust: Trust::Repository,
        doc: "how much the pre-push hook and `check` say: `quiet` (one line when nothing needs a rebuild), `normal`, `verbose` (why each pushed ref was judged as it was); `-q` / `-v`, on every command, override it",
    },
    // Only a warning depends on it, so the repository may share its server's limit.
    Key {
        id: Name::GitlabPipelineRefs,
        name: "gitlab_pipeline_refs",
        kind: Kind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: "4",
        trust: Trust::Repository,
        doc: "GitLab creates branch/tag pipelines only for the first this-many ref updates of one push (gitlab#38251; self-managed: `git_push_pipeline_limit`): the hook warns when a ref that needs a rebuild comes later; `0`: no warning (other servers)",
    },
];

/// The fields of an `[[images.rule]]` table.
pub const IMAGE_RULE_FIELDS: &[Field] = &[
    Field {
        name: "dockerfile",
        kind: Kind::Str,
        required: true,
        doc: "regex matched against the whole dockerfile path; its `name` group names the image",
    },
    Field {
        name: "name",
        kind: Kind::Str,
        required: false,
        doc: "the image name instead of the `name` group; `{name}` and `{dir}` are substituted",
    },
    Field {
        name: "context",
        kind: Kind::Str,
        required: false,
        doc: "the build context, relative to the repository root (`.` is the root); `{name}`, `{dir}` substituted; default `{dir}`",
    },
    Field {
        name: "inputs",
        kind: Kind::List,
        required: false,
        doc: "more globs (from the repository root) the image is built from; `{name}`, `{dir}` substituted",
    },
];

/// Looks a key up by its dotted name (for input: files, git config, env).
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The environment variable for a key.
pub fn env_name(key: &Key) -> String {
    format!(
        "DOCKGUARD_{}",
        key.name.replace('.', "_").to_ascii_uppercase()
    )
}

/// The git config name for a key (git config names cannot hold `_`).
pub fn git_name(key: &Key) -> String {
    format!("dockguard.{}", key.name.replace('_', "-"))
}

/// Where a key may be set, for messages that refuse a source.
pub fn where_to_set(key: &Key) -> String {
    format!(
        "`git config {} …`, the environment variable {}, or a flag",
        git_name(key),
        env_name(key)
    )
}

/// README's configuration table, generated from [`KEYS`] (a test keeps README equal to it).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| key | type | default | set by | meaning |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let kind = match k.kind {
            Kind::Bool => "bool".to_owned(),
            Kind::Str => "string".to_owned(),
            Kind::List => "list".to_owned(),
            Kind::Int { min, max } => format!("int {min}..{max}"),
            Kind::Choice(c) => c
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(" \\| "),
            Kind::Tables(_) => "tables".to_owned(),
        };
        let default = if k.default.starts_with('(') {
            k.default.trim_matches(['(', ')']).to_owned()
        } else {
            format!("`{}`", k.default)
        };
        out.push_str(&format!(
            "| `{}` | {kind} | {default} | {} | {} |\n",
            k.name,
            k.trust.describe(),
            k.doc.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_name_order() {
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(k.id as usize, i, "{} is out of place", k.name);
        }
    }
}
