//! Adversarial cases from issue 7, each with its expected clear outcome: odd
//! repositories (partial clones, missing objects, worktreeConfig, read-only `.git`,
//! SHA-256, stale upstream), hostile ref names and paths through every output, and
//! "never a shell, always an argument vector" for the commands that run git.

use std::path::{Path, PathBuf};

use crate::fixture::{dockguard, git, git_output, with_master, Run, TestRepo};
use crate::server::{dockguard_stdin, set_mode};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Exit 2, one `dockguard: error:` line, and the words the user needs.
fn clear_error(run: &Run, words: &[&str]) {
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("dockguard: error: "), "{}", run.stderr);
    for w in words {
        assert!(run.stderr.contains(w), "{w:?} missing in:\n{}", run.stderr);
    }
}

/// A bare server (allowing partial-clone filters) holding `master` (base with a
/// Dockerfile), `docker` (changes it) and `plain` (changes only src/).
fn filter_server(r: &TestRepo) -> PathBuf {
    let base = r.commit(
        "base",
        &[
            ("docker/Dockerfile", "FROM debian:12\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
            ("src/deep/more.c", "int more;\n"),
        ],
    );
    r.switch_new("docker", base);
    r.commit("docker", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.switch_new("plain", base);
    r.commit("plain", &[("src/deep/more.c", "int more = 1;\n")]);
    r.checkout("master");
    let srv = r.scratch("srv.git");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            r.path().to_str().expect("utf-8"),
            srv.to_str().expect("utf-8"),
        ],
    );
    git(&srv, &["config", "uploadpack.allowFilter", "true"]);
    srv
}

fn clone_filtered(r: &TestRepo, srv: &Path, filter: &str, name: &str) -> PathBuf {
    let dir = r.scratch(name);
    let url = format!("file://{}", srv.display());
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            &format!("--filter={filter}"),
            &url,
            dir.to_str().expect("utf-8"),
        ],
    );
    dir
}

fn missing_objects(dir: &Path) -> usize {
    git(dir, &["rev-list", "--objects", "--all", "--missing=print"])
        .lines()
        .filter(|l| l.starts_with('?'))
        .count()
}

/// Either a clear error (exit 2) or a rebuild verdict that names its reason: never a
/// "no rebuild".
fn safe_answer(run: &Run) {
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    if run.code == 2 {
        clear_error(run, &[]);
        return;
    }
    let v = run.json();
    assert_eq!(v["rebuild"], true, "{v}");
    for t in v["targets"].as_array().expect("targets") {
        assert_eq!(t["rebuild"], true, "{t}");
        assert!(!t["reasons"].as_array().expect("reasons").is_empty(), "{t}");
    }
}

fn check_json(dir: &Path, args: &[&str]) -> (Run, serde_json::Value) {
    let mut a = vec!["check", "--format", "json"];
    a.extend_from_slice(args);
    let run = dockguard(dir, &a, &[]);
    assert!(
        run.code == 0,
        "exit {}\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    let v = run.json();
    (run, v)
}

#[test]
fn blobless_partial_clone_is_judged_without_fetching_a_single_blob() {
    let r = TestRepo::new();
    let srv = filter_server(&r);
    let dir = clone_filtered(&r, &srv, "blob:none", "blobless");
    let before = missing_objects(&dir);
    assert!(before >= 3, "the clone really lacks blobs ({before})");
    // Make any lazy fetch impossible: the promisor remote is gone.
    std::fs::rename(&srv, r.scratch("srv-gone.git")).expect("hide the server");
    let (_, v) = check_json(&dir, &["--upstream", "origin/master", "origin/docker"]);
    assert_eq!(v["rebuild"], true);
    assert_eq!(v["targets"][0]["changes"][0]["path"], "docker/Dockerfile");
    let (_, v) = check_json(&dir, &["--upstream", "origin/master", "origin/plain"]);
    assert_eq!(v["rebuild"], false, "{v}");
    assert_eq!(v["targets"][0]["other_changes"], 1);
    assert_eq!(missing_objects(&dir), before, "no blob was fetched");
}

#[test]
fn treeless_partial_clone_fails_clearly_never_no_rebuild() {
    let r = TestRepo::new();
    let srv = filter_server(&r);
    let dir = clone_filtered(&r, &srv, "tree:0", "treeless");
    std::fs::rename(&srv, r.scratch("srv-gone.git")).expect("hide the server");
    for target in ["origin/plain", "origin/docker"] {
        let run = dockguard(&dir, &["check", "--upstream", "origin/master", target], &[]);
        clear_error(&run, &["cannot read the tree", target]);
    }
}

/// Removes a loose object (the fixture writes loose objects only).
fn delete_loose(r: &TestRepo, oid: git2::Oid) {
    let hex = oid.to_string();
    let path = r
        .repo
        .path()
        .join("objects")
        .join(&hex[..2])
        .join(&hex[2..]);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
}

fn subtree(r: &TestRepo, commit: git2::Oid, dir: &str) -> git2::Oid {
    let tree = r
        .repo
        .find_commit(commit)
        .expect("commit")
        .tree()
        .expect("tree");
    tree.get_path(Path::new(dir)).expect("subtree").id()
}

#[test]
fn a_missing_tree_object_never_yields_no_rebuild() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    // Only src/ changes: judged with all trees present, nothing needs a rebuild.
    let tip = r.commit("src", &[("src/lib/x.c", "int x;\n")]);
    let (_, v) = check_json(r.path(), &[]);
    assert_eq!(v["rebuild"], false);
    // Without the changed subtree, nobody can know whether src/ holds a Dockerfile now.
    delete_loose(&r, subtree(&r, tip, "src"));
    let run = r.dockguard(&["check", "--format", "json"]);
    safe_answer(&run);
    assert!(run.stdout.contains("missing_object"), "{}", run.stdout);
    // A missing root tree of the tip: the same.
    let root = r.repo.find_commit(tip).expect("c").tree_id();
    delete_loose(&r, root);
    let run = r.dockguard(&["check", "--format", "json"]);
    safe_answer(&run);
    // And through the hook: the push is blocked (on_error=block), not waved through.
    let hook = dockguard_stdin(
        r.path(),
        &["hook", "pre-push", "origin", "/nonexistent"],
        &[],
        format!("refs/heads/feature {tip} refs/heads/feature {ZERO}\n").as_bytes(),
    );
    assert_ne!(hook.code, 0, "{}", hook.stderr);
    assert!(!hook.stderr.contains("panicked"), "{}", hook.stderr);
}

#[test]
fn a_corrupt_object_never_yields_no_rebuild() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let tip = r.commit("src", &[("src/lib/x.c", "int x;\n")]);
    let hex = subtree(&r, tip, "src").to_string();
    let path = r
        .repo
        .path()
        .join("objects")
        .join(&hex[..2])
        .join(&hex[2..]);
    set_mode(&path, 0o644);
    std::fs::write(&path, b"\x78\x01garbage that is not zlib").expect("corrupt");
    safe_answer(&r.dockguard(&["check", "--format", "json"]));
}

#[test]
fn worktree_with_worktree_config_extension_works() {
    let (r, base) = with_master();
    r.branch("feature", base);
    git(r.path(), &["config", "extensions.worktreeConfig", "true"]);
    git(
        r.path(),
        &["config", "--worktree", "dockguard.policy", "warn"],
    );
    let wt = r.scratch("linked");
    git(
        r.path(),
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().expect("utf-8"),
            "feature",
        ],
    );
    git(
        &wt,
        &["config", "--worktree", "core.sparseCheckout", "false"],
    );
    std::fs::write(wt.join("docker/Dockerfile"), "FROM debian:13\n").expect("write");
    git(&wt, &["commit", "-qam", "docker in a linked worktree"]);
    let (_, v) = check_json(&wt, &[]);
    assert_eq!(v["rebuild"], true);
    assert_eq!(v["targets"][0]["label"], "HEAD");
    assert_eq!(v["targets"][0]["changes"][0]["path"], "docker/Dockerfile");
    let status = dockguard(&wt, &["status"], &[]);
    assert!(!status.stderr.contains("panicked"), "{}", status.stderr);
}

/// Every file under `.git` with its content: proof that nothing was written.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap_or_default();
                out.push((p, data));
            }
        }
    }
    out.sort();
    out
}

fn chmod_tree(dir: &Path, writable: bool) {
    git(dir.parent().expect("parent"), &["--version"]);
    let mode = if writable { "u+w" } else { "a-w" };
    let out = std::process::Command::new("chmod")
        .args(["-R", mode])
        .arg(dir)
        .output()
        .expect("chmod");
    assert!(out.status.success());
}

#[test]
fn read_only_git_dir_is_judged_and_nothing_in_it_changes() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("docker", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let gitdir = r.repo.path().to_path_buf();
    let before = snapshot(&gitdir);
    chmod_tree(&gitdir, false);
    let (_, v) = check_json(r.path(), &["--commits"]);
    let hook = dockguard_stdin(
        r.path(),
        &["hook", "pre-push", "origin", "/nonexistent"],
        &[("DOCKGUARD_POLICY", "warn")],
        format!(
            "refs/heads/feature {} refs/heads/feature {ZERO}\n",
            r.head()
        )
        .as_bytes(),
    );
    chmod_tree(&gitdir, true);
    assert_eq!(v["rebuild"], true);
    assert_eq!(hook.code, 0, "{}", hook.stderr);
    assert!(hook.stderr.contains("docker/Dockerfile"), "{}", hook.stderr);
    assert!(
        before == snapshot(&gitdir),
        "check and the hook wrote into .git"
    );
}

#[test]
fn sha256_repository_fails_clearly_in_hook_and_ci() {
    let r = TestRepo::new();
    let dir = r.scratch("sha256");
    let out = git_output(
        r.tmp.path(),
        &[
            "init",
            "-q",
            "--object-format=sha256",
            dir.to_str().expect("utf8"),
        ],
    );
    assert!(out.status.success());
    let z = "0".repeat(64);
    let a = "a".repeat(64);
    let hook = dockguard_stdin(
        &dir,
        &["hook", "pre-push", "origin", "/nonexistent"],
        &[],
        format!("refs/heads/x {a} refs/heads/x {z}\n").as_bytes(),
    );
    assert_eq!(hook.code, 2, "{}", hook.stderr);
    assert!(hook.stderr.contains("SHA-256"), "{}", hook.stderr);
    let ci = dockguard(
        &dir,
        &["ci", "--no-fetch", "--provider", "generic", "--ref", "x"],
        &[],
    );
    clear_error(&ci, &["SHA-256"]);
}

#[test]
fn stale_or_dangling_upstream_ref_is_a_clear_error_or_a_safe_answer() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("src", &[("src/x.c", "int x;\n")]);
    // Stale: upstream moved on elsewhere (its new commit never fetched). The stale tip is
    // still an ancestor, so the answer is the one against the last known upstream.
    let (_, v) = check_json(r.path(), &[]);
    assert_eq!(v["rebuild"], false);
    assert_eq!(v["upstream"]["oid"], base.to_string());
    // Dangling: the remote-tracking ref names an object that is not in the repository.
    let bogus = "1234567890123456789012345678901234567890";
    std::fs::write(
        r.repo.path().join("refs/remotes/origin/master"),
        format!("{bogus}\n"),
    )
    .expect("write ref");
    let run = r.dockguard(&["check"]);
    clear_error(&run, &[]);
    assert!(!run.stdout.contains("no rebuild"), "{}", run.stdout);
    // A missing upstream remote altogether.
    git(r.path(), &["remote", "remove", "origin"]);
    let run = r.dockguard(&["check"]);
    clear_error(&run, &["upstream"]);
}
