//! Typed errors, each with a hint, mapped to exit codes in one place.
//!
//! Every user-facing failure is one variant here so that `main` can print a one-line
//! message, the cause chain, and a hint of what to do, and exit 2. The engine never
//! prints or exits; it returns these.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::render::{annotation, escape};

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What sort of failure an [`Error`] is: it decides the hint's tone and, in one place
/// ([`Error::exit_code`]), the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line or the environment asks for something impossible.
    User,
    /// A setting is wrong (a file, git config, a variable, a flag).
    Config,
    /// The repository is not in a state dockguard can work with (no upstream, bare,
    /// ownership, a lock, an unreachable remote).
    RepoState,
    /// Data is damaged or malformed.
    Corrupt,
    /// A bug in dockguard.
    Internal,
}

/// What another program really said (git's standard error), kept as a cause.
#[derive(Debug, thiserror::Error)]
#[error("{program} said: {text}")]
pub struct Said {
    /// Which program.
    pub program: &'static str,
    /// Its words, on one line.
    pub text: String,
}

/// Everything that can stop dockguard from answering.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No repository at or above the directory.
    #[error("not a git repository: {path}")]
    NotARepo {
        /// Where we looked.
        path: PathBuf,
        /// libgit2's words.
        #[source]
        source: git2::Error,
    },
    /// The command needs a work tree and the repository is bare.
    #[error("{path} is a bare repository; `dockguard {command}` needs a clone with a work tree")]
    BareRepo {
        /// The repository.
        path: PathBuf,
        /// Which command refused.
        command: &'static str,
    },
    /// libgit2 refused the repository because of `safe.directory` ownership checks.
    #[error("refusing to open {path}: it is owned by another user (git's safe.directory check)")]
    Ownership {
        /// The repository.
        path: PathBuf,
        /// libgit2's or git's words.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The repository uses a format extension libgit2 cannot read (e.g. SHA-256 objects).
    #[error("cannot read the repository at {path}: it uses a format extension this build of libgit2 does not support")]
    UnsupportedExtension {
        /// The repository.
        path: PathBuf,
        /// libgit2's words.
        #[source]
        source: git2::Error,
    },
    /// A revision the user named does not resolve.
    #[error("unknown revision `{spec}`")]
    UnknownRevision {
        /// What the user typed.
        spec: String,
        /// libgit2's words.
        #[source]
        source: git2::Error,
    },
    /// No upstream could be found.
    #[error("cannot find the upstream branch to compare with (tried: {})", tried.join(", "))]
    NoUpstream {
        /// Every candidate, in order.
        tried: Vec<String>,
        /// Other remotes with a fetched default branch: `(remote, branch)`.
        others: Vec<(String, String)>,
    },
    /// An explicitly configured upstream does not exist.
    #[error("upstream `{spec}` (from {origin}) does not exist (tried: {})", tried.join(", "))]
    UpstreamNotFound {
        /// The configured value.
        spec: String,
        /// Where it was configured.
        origin: String,
        /// The refs tried.
        tried: Vec<String>,
    },
    /// A configuration value is wrong.
    #[error("{origin}: {message}")]
    Config {
        /// The file, git config key or variable it came from.
        origin: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The images cannot be worked out (a cycle of images, an image that does not exist).
    #[error("{message}")]
    Image {
        /// What is wrong, naming the images and their dockerfiles.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// A command-line usage error found after parsing.
    #[error("{0}")]
    Usage(String),
    /// A bug in dockguard: something its own code should have made impossible.
    #[error("internal error: {0}")]
    Internal(String),
    /// A front door's own failure (hook input, install refusal, push wrapper), with its hint.
    #[error("{message}")]
    Hinted {
        /// What went wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// A git operation failed.
    #[error("{context}")]
    Git {
        /// What we were doing.
        context: String,
        /// libgit2's words.
        #[source]
        source: git2::Error,
    },
    /// `dockguard ci` could not fetch the upstream, or its CI settings cannot work.
    #[error("{context}")]
    Ci {
        /// What failed.
        context: String,
        /// git's words, when git failed.
        #[source]
        source: Option<Said>,
        /// What to do about it.
        hint: String,
    },
    /// Data in the repository is malformed (a tree entry that does not parse, an object
    /// of the wrong type): what dockguard itself found, with no lower-level cause.
    #[error("{0}")]
    Corrupt(String),
    /// Content over one of dockguard's limits ([`crate::limits`]); the engine turns it
    /// into "rebuild" with this message as the reason.
    #[error("{message}")]
    Limit {
        /// What is over which limit.
        message: String,
    },
    /// A file operation failed.
    #[error("{context}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS's words.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A bug in dockguard.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// Wraps a libgit2 error with what we were doing.
    pub fn git(context: impl Into<String>, source: git2::Error) -> Self {
        Error::Git {
            context: context.into(),
            source,
        }
    }

    /// An object that could not be read, with what we were doing: libgit2's failure keeps
    /// its words as the cause; a malformed object is dockguard's own finding.
    pub fn object(context: impl Into<String>, e: crate::git::objects::ObjectError) -> Self {
        match e {
            crate::git::objects::ObjectError::Git(source) => Error::Git {
                context: context.into(),
                source,
            },
            crate::git::objects::ObjectError::Malformed(m) => {
                Error::Corrupt(format!("{}: {m}", context.into()))
            }
        }
    }

    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the content could not be judged (an object missing, corrupt or not
    /// fetched; content over a limit): the engine then answers "rebuild, base unknown"
    /// rather than failing. Config mistakes are not such a case: they are errors.
    pub fn leaves_the_answer_open(&self) -> bool {
        matches!(
            self,
            Error::Git { .. } | Error::Corrupt { .. } | Error::Limit { .. }
        )
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::NotARepo { .. } => {
                "run dockguard inside a git clone, or point GIT_DIR at one".into()
            }
            Error::BareRepo { .. } => "run it in a non-bare clone of the repository".into(),
            Error::Ownership { path, .. } => format!(
                "if you trust this repository, run: git config --global --add safe.directory {}",
                path.display()
            ),
            Error::UnsupportedExtension { .. } => {
                "dockguard's libgit2 reads SHA-1 repositories with the common extensions; \
                 check `git config --get-regexp '^extensions\\.'` (SHA-256 repositories are not supported yet)"
                    .into()
            }
            Error::UnknownRevision { .. } => {
                "use a branch, tag, commit id or any revision git understands (`git rev-parse --verify REV` checks it)".into()
            }
            // `upstream` is a machine setting: a repository's .dockguard.toml may not set it.
            Error::NoUpstream { others, .. } => match others.first() {
                Some((remote, branch)) => format!(
                    "if the remote `{remote}` is upstream: `git config dockguard.upstream {remote}/{branch}` \
                     (or --upstream {remote}/{branch}); else add the upstream remote and fetch it \
                     (git remote add upstream URL && git fetch upstream)"
                ),
                None => "add the upstream remote and fetch it \
                         (git remote add upstream URL && git fetch upstream), or name it: \
                         git config dockguard.upstream REMOTE/BRANCH (or --upstream REMOTE/BRANCH)"
                    .into(),
            },
            Error::UpstreamNotFound { spec, .. } => {
                let remote = spec.split('/').next().unwrap_or(spec);
                format!("fetch it (git fetch {remote}) or fix the setting")
            }
            Error::Config { .. } => "see the configuration reference: docs/src/configuration.md".into(),
            Error::Image { hint, .. } => hint.clone(),
            Error::Usage(_) => "see dockguard --help".into(),
            Error::Internal(_) => "this is a bug in dockguard: please report it with the command you ran and this message".into(),
            Error::Ci { hint, .. } => hint.clone(),
            Error::Hinted { hint, .. } => hint.clone(),
            Error::Corrupt(_) => "the repository may be damaged: `git fsck` says where; a fresh clone repairs it".into(),
            Error::Limit { .. } => {
                "dockguard caps the work pushed content can ask for (docs/src/security.md: Limits); \
                 over a cap a verdict is always \"rebuild\""
                    .into()
            }
            Error::Git { .. } | Error::Io { .. } => return None,
        })
    }

    /// Its kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage(_) | Error::UnknownRevision { .. } | Error::Hinted { .. } => {
                ErrorKind::User
            }
            Error::Config { .. } | Error::Image { .. } => ErrorKind::Config,
            Error::NotARepo { .. }
            | Error::BareRepo { .. }
            | Error::Ownership { .. }
            | Error::UnsupportedExtension { .. }
            | Error::NoUpstream { .. }
            | Error::UpstreamNotFound { .. }
            | Error::Ci { .. }
            | Error::Git { .. }
            | Error::Io { .. } => ErrorKind::RepoState,
            Error::Corrupt(_) | Error::Limit { .. } => ErrorKind::Corrupt,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The process exit code, decided here only. Every kind of error is 2 (documented:
    /// 0 answered, 1 "rebuild needed" / blocked, 2 could not answer).
    pub fn exit_code(&self) -> i32 {
        match self.kind() {
            ErrorKind::User
            | ErrorKind::Config
            | ErrorKind::RepoState
            | ErrorKind::Corrupt
            | ErrorKind::Internal => 2,
        }
    }

    /// One line, the cause chain, and the hint, ready to print on stderr. Every part may
    /// quote user-derived text (setting names, paths, refs), so each goes through
    /// [`crate::render::escape::text`].
    pub fn render(&self) -> String {
        let shown = self.to_string();
        // A config error may end in an excerpt of the user's text (config::excerpt): each
        // of its lines on its own, indented and escaped.
        let (head, excerpt) = match (self, shown.split_once('\n')) {
            (Error::Config { .. }, Some((head, excerpt))) => (head, Some(excerpt)),
            _ => (shown.as_str(), None),
        };
        let mut out = format!("dockguard: error: {}", escape::text(head));
        for line in excerpt.iter().flat_map(|x| x.lines()) {
            let _ = write!(out, "\n    {}", escape::text(line));
        }
        if self.kind() == ErrorKind::Internal {
            out = format!(
                "dockguard: internal error: {}",
                escape::text(self.to_string().trim_start_matches("internal error: "))
            );
        }
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            // libgit2's Display appends "; class=…; code=…", which helps nobody.
            let text = match cause.downcast_ref::<git2::Error>() {
                Some(g) => g.message().to_owned(),
                None => cause.to_string(),
            };
            let _ = write!(out, "\n  caused by: {}", one_line(&text));
            source = cause.source();
        }
        if let Some(hint) = self.hint() {
            let _ = write!(out, "\n  hint: {}", escape::text(&hint));
        }
        out
    }
}

impl Error {
    /// [`Error::render`] for a GitHub Actions job: the same lines, then the whole message
    /// once more as an error annotation, so that the failure shows on the run's page.
    pub fn render_for_github(&self) -> String {
        let text = self.render();
        let annotation = annotation::github(annotation::Level::Error, &text);
        format!("{text}\n{annotation}")
    }
}

fn one_line(s: &str) -> String {
    escape::text(&s.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}
