//! Caps on the work that pushed content can ask of dockguard.
//!
//! A push may carry a 200 MB Dockerfile, a 100,000-line `.dockerignore`, 10,000 nested
//! directories or 10,000 COPY lines; a crafted `.git` may hold a pack entry claiming
//! 2^36 bytes. None of that may crash dockguard (an abort, a stack overflow, memory
//! exhaustion) or make it answer "no rebuild": over a cap the answer is "rebuild", with
//! the reason ([`crate::error::Error::Limit`], which the engine turns into a verdict
//! `base_unknown: limit`), or, where the analysis can widen instead, it widens and says
//! so (COPY sources that cannot be compiled make the image count its whole context).
//!
//! The caps are far above anything real repositories have (the largest dockerfiles in
//! QEMU and libvirt are a few KB; git itself refuses trees deeper than 4096 by default,
//! and a checkout deeper than ~2000 cannot exist under Linux's 4096-byte PATH_MAX).

/// Largest dockerfile dockguard parses (bytes). Over it: rebuild, with the reason.
pub const MAX_DOCKERFILE_BYTES: usize = 1 << 20;

/// Largest `.dockerignore` dockguard reads (bytes). Over it: rebuild, with the reason.
pub const MAX_DOCKERIGNORE_BYTES: usize = 1 << 20;

/// Most patterns dockguard compiles from one `.dockerignore`. Over it: rebuild.
pub const MAX_DOCKERIGNORE_PATTERNS: usize = 10_000;

/// Most COPY/ADD/mount sources compiled into one image's source matcher; over it (or
/// when the union does not compile, e.g. past the regex size limit) the image counts its
/// whole context, and says so.
pub const MAX_COPY_SOURCES: usize = 1_000;

/// Deepest tree path walked (`a/b/c` has depth 3) by the tree diff and image discovery.
/// Over it: rebuild, with the reason. Both walks recurse once per level; this bound keeps
/// them well inside a 2 MiB thread stack.
pub const MAX_TREE_DEPTH: usize = 1024;

/// Nesting of `${VAR:-${VAR:-…}}` expanded in a dockerfile word; deeper words match any
/// text (the widest reading).
pub const MAX_EXPANSION_DEPTH: usize = 32;

/// Largest `.dockguard.toml` read (bytes), from a commit or the work tree; a larger one
/// is a configuration error (real ones are a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Largest hook file or hook manager configuration (`.pre-commit-config.yaml`,
/// `lefthook.yml`, `.husky/pre-push`) read to recognise who owns the hook and whether it
/// runs dockguard; a larger one is not recognised (dockguard's own shim is ~3 KB).
pub const MAX_HOOK_FILE_BYTES: u64 = 1 << 20;

/// Largest walk memo (`.git/dockguard/dockerfiles-v4`) read; a larger one is ignored.
pub const MAX_MEMO_BYTES: u64 = 64 << 20;

/// Depth of a tree path: its number of components.
pub fn path_depth(path: &[u8]) -> usize {
    if path.is_empty() {
        0
    } else {
        1 + path.iter().filter(|b| **b == b'/').count()
    }
}

/// The error for a tree deeper than [`MAX_TREE_DEPTH`] at `path`.
pub fn too_deep(path: &[u8]) -> crate::error::Error {
    let shown: String =
        crate::render::escape::text(&String::from_utf8_lossy(&path[..path.len().min(60)]))
            .into_owned();
    crate::error::Error::Limit {
        message: format!("the tree is more than {MAX_TREE_DEPTH} directories deep (at `{shown}…`)"),
    }
}
