//! The templates' binary steps (the text shared by every GitLab template) run by `sh`
//! as a job's script runs them (issue 25): they trust the checkout through a global git
//! config of the job's own, never by writing `~/.gitconfig` (jobs running at once on a
//! shell runner raced on its lock), and a job without a checkout (`GIT_STRATEGY: none`,
//! the copy jobs) needs no git at all.

use std::path::Path;
use std::process::Command;

use crate::fixture::dockguard_bin;

/// The shell script of the binary steps, as the job runs it (YAML block indentation off).
fn binary_steps() -> String {
    let text = crate::pipelines::shipped("templates/dockguard/template.yml");
    let start = text
        .find("# --- dockguard binary steps (the same text in every dockguard template) ---")
        .expect("binary steps");
    let end = text[start..]
        .find("# --- end of dockguard binary steps ---")
        .expect("end of the binary steps");
    text[start..start + end]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("- |"))
        .skip(1)
        .map(|l| l.strip_prefix("      ").unwrap_or(l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the steps then `after` in `dir` with `path` as PATH and `home` as HOME.
fn run(dir: &Path, path: &str, home: &Path, after: &str) -> std::process::Output {
    let script = format!("{}\n{after}\n", binary_steps());
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("DOCKGUARD_TRUST_PROJECT_DIR", "true")
        .output()
        .expect("sh")
}

/// A directory with `dockguard` and the tools the steps use, without git.
fn bin_dir(dir: &Path, git: bool) -> String {
    std::fs::create_dir_all(dir).expect("dir");
    std::os::unix::fs::symlink(dockguard_bin(), dir.join("dockguard")).expect("symlink");
    let mut tools = vec![
        "mktemp",
        "mkdir",
        "grep",
        "sha256sum",
        "xargs",
        "printf",
        "cat",
        "sed",
    ];
    if git {
        tools.push("git");
    }
    for t in tools {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(t))
            .find(|p| p.exists());
        if let Some(p) = found {
            std::os::unix::fs::symlink(p, dir.join(t)).expect("symlink");
        }
    }
    dir.to_string_lossy().into_owned()
}

#[test]
fn the_checkout_is_trusted_without_writing_the_runners_git_config() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let runner_config = "[user]\n\tname = The Runner\n";
    std::fs::write(home.join(".gitconfig"), runner_config).expect("gitconfig");
    // A path git's config syntax must quote and escape.
    let checkout = tmp.path().join("check\"out\\ #;x");
    std::fs::create_dir_all(checkout.join(".git")).expect("checkout");
    let path = bin_dir(&tmp.path().join("bin"), true);
    let out = run(
        &checkout,
        &path,
        &home,
        "git config --global --get-all safe.directory; git config --includes --global user.name",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| Path::new(l) == checkout),
        "the job's git trusts the checkout: {stdout}"
    );
    assert!(
        stdout.contains("The Runner"),
        "the runner's config still counts: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".gitconfig")).expect("gitconfig"),
        runner_config,
        "~/.gitconfig is never written"
    );
}

#[test]
fn a_job_image_without_git_still_gets_the_checkout_trusted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let checkout = tmp.path().join("checkout");
    std::fs::create_dir_all(checkout.join(".git")).expect("checkout");
    let path = bin_dir(&tmp.path().join("bin"), false);
    let out = run(&checkout, &path, &home, "cat \"$GIT_CONFIG_GLOBAL\"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("[safe]\n\tdirectory = \"{}\"", checkout.display())),
        "{stdout}"
    );
    assert!(
        !home.join(".gitconfig").exists(),
        "~/.gitconfig is never written"
    );
}

#[test]
fn a_job_without_a_checkout_needs_no_git() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let path = bin_dir(&tmp.path().join("bin"), false);
    let out = run(tmp.path(), &path, &home, "dockguard --version");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dockguard "));
}

#[test]
fn dockguard_opens_a_checkout_owned_by_another_user_after_the_steps() {
    // The steps' config is what lets libgit2 (opened from the environment) accept a
    // checkout the job's user does not own, as CI containers often have it.
    let r = crate::fixture::TestRepo::new();
    r.commit("one", &[("docker/base/Dockerfile", "FROM scratch\n")]);
    let checkout = r.path().to_path_buf();
    let status = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&checkout)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("skipped: cannot chown (not root)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let path = bin_dir(&tmp.path().join("bin"), false);
    let out = run(&checkout, &path, &home, "dockguard images");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("docker/base/Dockerfile"), "{text}");
    // Without the steps' config: refused, so the test can fail.
    let refused = Command::new(dockguard_bin())
        .arg("images")
        .current_dir(&checkout)
        .env_clear()
        .env("HOME", &home)
        .output()
        .expect("dockguard");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("owned by another user"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
