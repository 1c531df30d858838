//! Where hooks live: `core.hooksPath` (relative to the work tree root) else the common
//! dir's `hooks/`, resolved the way git does (never `repo.path().join("hooks")`, which is
//! wrong in linked worktrees). Used by install, uninstall, status and the managers.

use std::path::{Component, Path, PathBuf};

use git2::Repository;

use crate::error::{Error, Result};

/// Where hooks live for this repository, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HooksDir {
    /// The directory.
    pub path: PathBuf,
    /// How it was chosen, for messages.
    pub source: String,
    /// Whether it lies inside this repository (its work tree or git dirs).
    pub inside: bool,
}

/// Resolves the hooks directory the way git does.
pub fn hooks_dir(repo: &Repository) -> Result<HooksDir> {
    let config = repo
        .config()
        .map_err(|e| Error::git("cannot read git config", e))?;
    let configured = match config.get_path("core.hookspath") {
        Ok(p) => Some(p),
        Err(e) if e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(Error::git("cannot read core.hooksPath", e)),
    };
    let (path, source) = match configured {
        Some(p) if p.as_os_str().is_empty() => (
            repo.commondir().join("hooks"),
            "the git dir's hooks/ (core.hooksPath is empty)".to_owned(),
        ),
        Some(p) => {
            let base = repo.workdir().unwrap_or_else(|| repo.path());
            let raw = p.display().to_string();
            (base.join(&p), format!("core.hooksPath = {raw}"))
        }
        None => (
            repo.commondir().join("hooks"),
            "the git dir's hooks/".to_owned(),
        ),
    };
    let path = normalize(&path);
    let real = canonical_best_effort(&path);
    let inside = [repo.workdir(), Some(repo.commondir()), Some(repo.path())]
        .into_iter()
        .flatten()
        .map(canonical_best_effort)
        .any(|root| real.starts_with(root));
    Ok(HooksDir {
        path,
        source,
        inside,
    })
}

/// Removes `.` and `..` components lexically (for display and comparisons).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Canonicalizes the longest existing prefix (the directory may not exist yet).
fn canonical_best_effort(p: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut c = c;
            for part in rest.iter().rev() {
                c.push(part);
            }
            return c;
        }
        match (cur.file_name().map(ToOwned::to_owned), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize(Path::new("/a/b/./../c")), PathBuf::from("/a/c"));
    }
}
