//! Records the git commit the binary is built from, for `dockguard --version`.
//!
//! Where the commit comes from, first match wins:
//! 1. `.cargo_vcs_info.json` in the package root: `cargo package`/`cargo publish` write it
//!    into the crates.io tarball with the commit the package was made from (`-dirty` when it
//!    was packaged with uncommitted changes);
//! 2. `git rev-parse HEAD` when this package's directory is itself the top of a git work
//!    tree (a checkout of dockguard). Discovery is stopped at the package directory
//!    (`GIT_CEILING_DIRECTORIES`) and the caller's `GIT_*` variables are dropped, so an
//!    unpacked tarball inside some other repository (a dotfiles `$HOME`, a vendoring
//!    monorepo) or a build started from a git hook never reports that repository's commit;
//! 3. otherwise `unknown` (no git, no .git, a tarball without vcs info).
//!
//! Cheap (a few `git rev-parse`), and never fails the build.
//!
//! Also hashes the sources (and Cargo.lock) into `DOCKGUARD_PARSER_VERSION`: the
//! on-disk memo of parsed dockerfiles (`src/images/parsedmemo.rs`) is trusted only by the
//! build that wrote it, so a changed parser can never read an old parse.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(k);
        }
    }
    if let Some(parent) = dir.parent() {
        cmd.env("GIT_CEILING_DIRECTORIES", parent);
    }
    let o = cmd.output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// FNV-1a over every file below `dir` (sorted), path and contents.
fn hash_tree(dir: &Path, h: &mut u64) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            hash_tree(&p, h);
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            for b in p.to_string_lossy().as_bytes().iter().chain(&bytes) {
                *h = (*h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

/// The parser's version: the crate's version and a hash of its sources and lock file.
fn parser_version(root: &Path) {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    hash_tree(&root.join("src"), &mut h);
    for b in std::fs::read(root.join("Cargo.lock")).unwrap_or_default() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    println!(
        "cargo:rustc-env=DOCKGUARD_PARSER_VERSION={}-{h:016x}",
        env!("CARGO_PKG_VERSION")
    );
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
}

/// The text after `"KEY":` in a JSON document, leading spaces trimmed.
fn after_key<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let at = text.find(&quoted)? + quoted.len();
    Some(text[at..].trim_start().strip_prefix(':')?.trim_start())
}

/// The commit recorded by `cargo package`: `{"git": {"sha1": "…", "dirty": true}, …}`.
/// Read with string searches: a build script cannot use the crate's dependencies.
fn vcs_info_commit(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(".cargo_vcs_info.json")).ok()?;
    let rest = after_key(&text, "sha1")?.strip_prefix('"')?;
    let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    if sha.len() < 10 || !rest[sha.len()..].starts_with('"') {
        return None;
    }
    let dirty = after_key(&text, "dirty").is_some_and(|v| v.starts_with("true"));
    Some(format!(
        "{}{}",
        &sha[..10],
        if dirty { "-dirty" } else { "" }
    ))
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()));
    println!("cargo:rerun-if-changed=build.rs");
    parser_version(&root);

    if let Some(commit) = vcs_info_commit(&root) {
        // (Only when it exists: a missing rerun-if-changed file reruns the script every time.)
        println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
        println!("cargo:rustc-env=DOCKGUARD_GIT_COMMIT={commit}");
        return;
    }

    // Only this package's own work tree counts (canonical paths: symlinked checkouts).
    let own_tree = git(&root, &["rev-parse", "--show-toplevel"])
        .and_then(|top| std::fs::canonicalize(top).ok())
        .is_some_and(|top| std::fs::canonicalize(&root).is_ok_and(|r| r == top));
    let commit = own_tree
        .then(|| git(&root, &["rev-parse", "--short=10", "HEAD"]))
        .flatten()
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DOCKGUARD_GIT_COMMIT={commit}");
    if !own_tree {
        return;
    }
    // Rebuild when HEAD moves: HEAD itself (checkouts) and the branch it names (commits).
    // `--git-path` is right in linked worktrees, where .git is a file.
    let mut watch = vec![git(&root, &["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&root, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(git(&root, &["rev-parse", "--git-path", &branch]));
        watch.push(git(&root, &["rev-parse", "--git-path", "packed-refs"]));
    }
    for p in watch.into_iter().flatten() {
        let p = root.join(p);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
