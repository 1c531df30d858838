//! The real build.rs, compiled on its own and run the way cargo runs it, in the places a
//! build happens: a dockguard checkout, a crates.io tarball (with or without
//! `.cargo_vcs_info.json`), and a tarball unpacked inside somebody else's git repository.
//! `dockguard --version` shows what it prints, so a wrong commit here is a wrong version.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::fixture::{git, hermetic, TestRepo};

/// build.rs compiled once per test run.
fn build_script() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dockguard-buildrs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let bin = dir.join("build-script");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs");
        let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .args(["--edition", "2021", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("run rustc");
        assert!(
            out.status.success(),
            "compiling build.rs failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// Runs build.rs as cargo would for a package in `root`, with extra env, and returns the
/// commit it records.
fn recorded_commit(root: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(build_script());
    hermetic(&mut cmd)
        .current_dir(root)
        .env("CARGO_MANIFEST_DIR", root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run build script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "build.rs failed: {stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("cargo:rustc-env=DOCKGUARD_GIT_COMMIT="))
        .unwrap_or_else(|| panic!("no DOCKGUARD_GIT_COMMIT in:\n{stdout}"))
        .to_owned()
}

fn short(repo: &Path) -> String {
    git(repo, &["rev-parse", "--short=10", "HEAD"])
}

#[test]
fn a_checkout_records_its_head() {
    let r = TestRepo::new();
    r.commit("one", &[("Cargo.toml", "[package]\n")]);
    assert_eq!(recorded_commit(r.path(), &[]), short(r.path()));
}

#[test]
fn a_tarball_inside_another_repository_does_not_take_that_repositorys_commit() {
    // e.g. ~/.cargo/registry/src/…/dockguard-0.1.0 under a $HOME kept in git, or a
    // vendored copy in a monorepo; and a build started from a hook, with GIT_DIR set.
    let r = TestRepo::new();
    r.commit(
        "dotfiles",
        &[("vendor/dockguard-0.1.0/Cargo.toml", "[package]\n")],
    );
    let pkg = r.path().join("vendor/dockguard-0.1.0");
    assert_eq!(recorded_commit(&pkg, &[]), "unknown");
    let git_dir = r.path().join(".git");
    let git_dir = git_dir.to_str().expect("utf8");
    assert_eq!(
        recorded_commit(
            &pkg,
            &[
                ("GIT_DIR", git_dir),
                ("GIT_WORK_TREE", r.path().to_str().expect("utf8"))
            ]
        ),
        "unknown"
    );
}

#[test]
fn a_tarball_records_the_commit_cargo_package_wrote() {
    let r = TestRepo::new();
    r.commit("dotfiles", &[("pkg/Cargo.toml", "[package]\n")]);
    let pkg = r.path().join("pkg");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    // Exactly what cargo 1.95 writes (serde_json pretty-printed).
    let info =
        format!("{{\n  \"git\": {{\n    \"sha1\": \"{sha}\"\n  }},\n  \"path_in_vcs\": \"\"\n}}");
    std::fs::write(pkg.join(".cargo_vcs_info.json"), &info).expect("write");
    assert_eq!(recorded_commit(&pkg, &[]), "0123456789");
    let dirty = info.replace(
        &format!("\"{sha}\"\n"),
        &format!("\"{sha}\",\n    \"dirty\": true\n"),
    );
    std::fs::write(pkg.join(".cargo_vcs_info.json"), dirty).expect("write");
    assert_eq!(recorded_commit(&pkg, &[]), "0123456789-dirty");
    // A damaged file is no commit at all, not a wrong one.
    std::fs::write(
        pkg.join(".cargo_vcs_info.json"),
        "{\"git\": {\"sha1\": \"xyz\"}}",
    )
    .expect("write");
    assert_eq!(recorded_commit(&pkg, &[]), "unknown");
}

#[test]
fn no_git_at_all_is_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\n").expect("write");
    let empty = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        recorded_commit(
            dir.path(),
            &[("PATH", empty.path().to_str().expect("utf8"))]
        ),
        "unknown"
    );
}
