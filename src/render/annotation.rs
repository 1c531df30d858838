//! GitHub Actions annotations: a warning or failure written as a workflow command
//! (`::warning::…`, `::error::…`) shows on the run's summary page and on the job, instead of
//! being one line among thousands of the log.
//!
//! The message is workflow-command data: `%`, CR and LF are escaped (`%25`, `%0D`, `%0A`),
//! so a multi-line message stays one command and nothing in it (a branch name, a path) can
//! start a command of its own.

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::warning::`
    Warning,
    /// `::error::`
    Error,
}

/// The workflow command that annotates `message` at `level`.
pub fn github(level: Level, message: &str) -> String {
    let name = match level {
        Level::Warning => "warning",
        Level::Error => "error",
    };
    let data = message
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    format!("::{name}::{data}")
}

/// Whether a line of dockguard's log is a warning (`dockguard: warning: …`).
pub fn is_warning(line: &str) -> bool {
    line.starts_with("dockguard: warning:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_whatever_the_message_holds() {
        assert_eq!(github(Level::Warning, "a: b"), "::warning::a: b");
        let cmd = github(Level::Error, "50% done\n::error::injected\r");
        assert_eq!(cmd, "::error::50%25 done%0A::error::injected%0D");
        assert!(!cmd.contains('\n'));
        assert!(is_warning("dockguard: warning: x") && !is_warning("dockguard: note: x"));
    }
}
