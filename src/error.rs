//! Typed errors, each with a hint, mapped to exit codes in one place.
//!
//! Every user-facing failure is one variant here so that `main` can print a one-line
//! message, the cause chain, and a hint of what to do, and exit 2. The engine never
//! prints or exits; it returns these.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::render::escape;

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
        /// libgit2's words.
        #[source]
        source: git2::Error,
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
        source: Option<git2::Error>,
        /// What to do about it.
        hint: String,
    },
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
    /// Wraps a libgit2 error with what we were doing.
    pub fn git(context: impl Into<String>, source: git2::Error) -> Self {
        Error::Git {
            context: context.into(),
            source,
        }
    }

    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
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
            Error::NoUpstream { .. } => "add the upstream remote and fetch it \
                 (git remote add upstream URL && git fetch upstream), or name it: \
                 --upstream REMOTE/BRANCH, git config dockguard.upstream REMOTE/BRANCH, \
                 or `upstream = \"REMOTE/BRANCH\"` in .dockguard.toml"
                .into(),
            Error::UpstreamNotFound { spec, .. } => {
                let remote = spec.split('/').next().unwrap_or(spec);
                format!("fetch it (git fetch {remote}) or fix the setting")
            }
            Error::Config { .. } => "see the configuration reference in README.md".into(),
            Error::Image { hint, .. } => hint.clone(),
            Error::Usage(_) => "see dockguard --help".into(),
            Error::Ci { hint, .. } => hint.clone(),
            Error::Hinted { hint, .. } => hint.clone(),
            Error::Limit { .. } => {
                "dockguard caps the work pushed content can ask for (README: Security model, Limits); \
                 over a cap a verdict is always \"rebuild\""
                    .into()
            }
            Error::Git { .. } | Error::Io { .. } => return None,
        })
    }

    /// The process exit code for this error. Errors are always 2; 1 means "rebuild needed".
    pub fn exit_code(&self) -> i32 {
        2
    }

    /// One line, the cause chain, and the hint, ready to print on stderr. Every part may
    /// quote user-derived text (setting names, paths, refs), so each goes through
    /// [`crate::render::escape::text`].
    pub fn render(&self) -> String {
        let mut out = format!("dockguard: error: {}", escape::text(&self.to_string()));
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

fn one_line(s: &str) -> String {
    escape::text(&s.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}
