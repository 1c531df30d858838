//! Running the foreign pre-push hook that `dockguard install` moved aside.
//!
//! It gets what git would have given it: the same argv, the same environment and working
//! directory, and a byte-identical replay of stdin. Its exit status is the push's.
//!
//! One subtlety: hook managers find their scripts by `$0` (husky's `h` runs
//! `.husky/$(basename "$0")`), and the chained file's own name would break that. So a
//! shell script (a `sh`/`bash`/`dash` shebang, or none, which git also runs with `sh`)
//! is run by its shell with `$0` set to the path git would have used, the installed hook's:
//! `sh -c '. "$DOCKGUARD_CHAINED_HOOK_FILE"' <installed path> REMOTE URL`. Anything else is
//! executed directly. Like git, a chained hook that is not executable is ignored.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The name a foreign pre-push hook is kept under, beside the installed shim.
pub const CHAINED_NAME: &str = "pre-push.dockguard-chained";

/// Where the chained hook of an installed shim lives.
pub fn chained_path(installed_hook: &Path) -> PathBuf {
    installed_hook
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(CHAINED_NAME)
}

/// What happened to the chained hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chained {
    /// There is none.
    Absent,
    /// It exists but is not executable; git would ignore it, so do we.
    NotExecutable(PathBuf),
    /// It ran and exited with this code (128+N for signal N).
    Ran(i32),
}

/// Runs the chained hook beside `installed_hook`, if there is one.
pub fn run(installed_hook: &Path, argv: &[&str], stdin: &[u8]) -> Result<Chained> {
    let chained = chained_path(installed_hook);
    let meta = match std::fs::metadata(&chained) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is a hook that cannot run: say so rather than skip it.
            if std::fs::symlink_metadata(&chained).is_ok() {
                return Err(Error::Hinted {
                    message: format!(
                        "the chained pre-push hook {} is a broken symbolic link",
                        chained.display()
                    ),
                    hint: "fix or remove the link (dockguard uninstall restores it as pre-push)"
                        .into(),
                });
            }
            return Ok(Chained::Absent);
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot read the chained hook {}", chained.display()),
                e,
            ))
        }
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Ok(Chained::NotExecutable(chained));
    }
    let mut cmd = match shell_of(&chained) {
        Some(shell) => {
            let mut c = Command::new(shell.program);
            c.args(&shell.flags)
                .arg("-c")
                .arg(". \"$DOCKGUARD_CHAINED_HOOK_FILE\"")
                .arg(installed_hook)
                .env("DOCKGUARD_CHAINED_HOOK_FILE", &chained);
            c
        }
        None => Command::new(&chained),
    };
    cmd.args(argv).stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        Error::io(
            format!("cannot run the chained hook {}", chained.display()),
            e,
        )
    })?;
    if let Some(mut pipe) = child.stdin.take() {
        // A hook may exit without reading its input: a broken pipe is not an error.
        match pipe.write_all(stdin) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(Error::io("cannot feed the chained hook its input", e)),
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("cannot wait for the chained hook", e))?;
    Ok(Chained::Ran(exit_code(status)))
}

/// A process's exit code the way a shell reports it (128+N for signal N).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

struct Shell {
    program: String,
    flags: Vec<String>,
}

/// The shell a script runs with: its `sh`/`bash`/`dash` shebang (with flags such as
/// `-e`), `sh` when it has no shebang and is text; `None` for anything else.
fn shell_of(path: &Path) -> Option<Shell> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .ok()?;
    let head = &head[..n];
    let Some(rest) = head.strip_prefix(b"#!") else {
        // git runs a shebang-less hook with sh (ENOEXEC fallback); binaries exec directly.
        let binary = head.starts_with(b"\x7fELF") || head.contains(&0);
        return (!binary).then(|| Shell {
            program: "sh".into(),
            flags: Vec::new(),
        });
    };
    let line = rest.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim();
    let mut words = line.split_whitespace();
    let mut program = words.next()?;
    if program.ends_with("/env") {
        program = words.next()?;
    }
    let name = program.rsplit('/').next()?;
    if !matches!(name, "sh" | "bash" | "dash") {
        return None;
    }
    let flags: Vec<String> = words.map(str::to_owned).collect();
    if flags.iter().any(|f| !f.starts_with('-')) {
        return None;
    }
    Some(Shell {
        program: program.to_owned(),
        flags,
    })
}
