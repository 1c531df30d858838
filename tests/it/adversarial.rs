//! Adversarial cases, each with its expected clear outcome: odd
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
    let srv = r.bare_clone("srv.git");
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
    // The tree diff never reads blobs; the image graph parses Dockerfiles, whose
    // blobs are missing and cannot be fetched by libgit2: a rebuild naming the Dockerfile,
    // never a "no rebuild" and never a hang or a fetch.
    for target in ["origin/docker", "origin/plain"] {
        let (run, v) = check_json(&dir, &["--upstream", "origin/master", target]);
        safe_answer(&run);
        let t = &v["targets"][0];
        assert_eq!(t["merge_base"], v["upstream"]["oid"], "{v}");
        if let Some(detail) = t["base_unknown"]["detail"].as_str() {
            assert!(detail.contains("docker/Dockerfile"), "{detail}");
        }
    }
    assert_eq!(missing_objects(&dir), before, "no blob was fetched");
}

#[test]
fn blobless_partial_clone_with_its_server_fetches_only_dockerfiles_and_judges_fully() {
    let r = TestRepo::new();
    let srv = filter_server(&r);
    let dir = clone_filtered(&r, &srv, "blob:none", "blobless-online");
    let before = missing_objects(&dir);
    let (run, v) = check_json(&dir, &["--upstream", "origin/master", "origin/plain"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        v["rebuild"], false,
        "a source-only change needs no rebuild: {v}"
    );
    let (run, v) = check_json(&dir, &["--upstream", "origin/master", "origin/docker"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        v["targets"][0]["changes"][0]["path"], "docker/Dockerfile",
        "{v}"
    );
    assert!(v["targets"][0]["base_unknown"].is_null(), "{v}");
    // Only the dockerfile blobs (two versions) were fetched, not the sources.
    let fetched = before - missing_objects(&dir);
    assert!((1..=2).contains(&fetched), "fetched {fetched} blobs");
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

/// Ref names git accepts that are hostile to shells, docker, dotenv and terminals.
fn hostile_branches() -> Vec<String> {
    vec![
        "fix-🦀-emoji".to_owned(),
        "100%-done".to_owned(),
        "a$(touch${IFS}pwned)`touch${IFS}pwned`".to_owned(),
        "feat/-rf".to_owned(),
        format!("long/{}/{}", "x".repeat(200), "y".repeat(200)),
        "quote'\"#semi;amp&".to_owned(),
    ]
}

#[test]
fn hostile_ref_names_through_hook_slug_and_dotenv() {
    let s = crate::server::Setup::new(true);
    for name in hostile_branches() {
        let tip = s.branch(&name, true);
        // Blocked, naming the ref; nothing ran from the name.
        let refspec = format!("refs/heads/{name}:refs/heads/{name}");
        let blocked = crate::server::push(s.path(), &["origin", &refspec]).failed();
        assert!(
            blocked.stderr.contains("needs a rebuild") || blocked.stderr.contains("rebuild"),
            "{}",
            blocked.stderr
        );
        assert!(!blocked.stderr.contains("panicked"), "{}", blocked.stderr);
        crate::server::push(s.path(), &["-o", crate::server::OPT, "origin", &refspec]).ok();
        assert_eq!(
            s.server.rev(&format!("refs/heads/{name}")),
            Some(tip.to_string())
        );

        let slug = dockguard(s.path(), &["slug", &name], &[]);
        assert_eq!(slug.code, 0, "{}", slug.stderr);
        let tag = slug.stdout.trim();
        assert!(dockguard::slug::is_docker_tag(tag), "{name:?} -> {tag:?}");

        let env_file = s.r.scratch("ci.env");
        let ci = dockguard(
            s.path(),
            &[
                "ci",
                "--no-fetch",
                "--provider",
                "generic",
                "--upstream-branch",
                "master",
                "--ref",
                &name,
                "--dotenv",
                env_file.to_str().expect("utf-8"),
            ],
            &[("DOCKGUARD_UPSTREAM", "upstream/master")],
        );
        assert!(ci.code == 0 || ci.code == 1, "{}\n{}", ci.stdout, ci.stderr);
        let text = std::fs::read_to_string(&env_file).expect("dotenv");
        for line in text.lines() {
            let (k, v) = line.split_once('=').expect("KEY=value");
            assert!(dockguard::parts::is_var_name(k), "{line:?}");
            assert!(
                !v.contains(['$', '`', '"', '\'', ' ', '\\', '#']),
                "{line:?}"
            );
        }
        let slug_line = text
            .lines()
            .find(|l| l.starts_with("DOCKGUARD_REF_SLUG="))
            .expect("slug var");
        assert!(
            dockguard::slug::is_docker_tag(&slug_line["DOCKGUARD_REF_SLUG=".len()..]),
            "{slug_line}"
        );
    }
    // `@{` is not a ref name, but it is a revision a user can push from.
    let at = dockguard_stdin(
        s.path(),
        &["hook", "pre-push", "origin", s.server.url()],
        &[("DOCKGUARD_POLICY", "warn")],
        format!("HEAD@{{0}} {} refs/heads/at {ZERO}\n", s.r.head()).as_bytes(),
    );
    assert_eq!(at.code, 0, "{}", at.stderr);
    let slug = dockguard(s.path(), &["slug", "a@{b}%c"], &[]);
    assert!(
        dockguard::slug::is_docker_tag(slug.stdout.trim()),
        "{}",
        slug.stdout
    );
    for p in [
        s.path().join("pwned"),
        s.r.tmp.path().join("pwned"),
        s.server.dir.join("pwned"),
    ] {
        assert!(!p.exists(), "a ref name ran a command: {}", p.display());
    }
}

/// Paths that break naive shells, dotenv files and terminals, all inputs of an image.
const HOSTILE_PATHS: &[&[u8]] = &[
    b"docker/with space/Dockerfile",
    b"docker/new\nline/Dockerfile",
    b"docker/q'\"uote/Dockerfile",
    b"docker/$(touch pwned)/Dockerfile",
    b"docker/`touch pwned`/Dockerfile",
    b"-rf/Dockerfile",
    b"docker/\xff\xfe/Dockerfile",
    b"docker/esc\x1b[31mred/Dockerfile",
];

#[test]
fn hostile_paths_through_json_human_hook_and_ci_outputs() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let edits: Vec<(&[u8], Option<&[u8]>)> = HOSTILE_PATHS
        .iter()
        .map(|p| (*p, Some(&b"FROM x\n"[..])))
        .collect();
    r.commit_raw("hostile", &edits);
    let (_, v) = check_json(r.path(), &["--commits"]);
    let changes = v["targets"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), HOSTILE_PATHS.len(), "{v}");
    assert!(changes
        .iter()
        .any(|c| c["path"] == "docker/new\nline/Dockerfile"));
    assert!(
        changes.iter().any(|c| c["path_bytes"].is_array()),
        "non-UTF-8 keeps its bytes"
    );

    // Human output and the hook: one line per path, no raw control characters.
    let human = r.dockguard(&["check"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
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
    assert_eq!(hook.code, 0, "{}", hook.stderr);
    for text in [&human.stdout, &hook.stderr] {
        assert!(
            !text.contains('\x1b'),
            "raw escape reached the terminal:\n{text}"
        );
        assert!(
            !text.lines().any(|l| l.trim() == "line/Dockerfile"),
            "a path's newline split the line:\n{text}"
        );
    }

    // ci: dotenv and GITHUB_OUTPUT stay well-formed.
    let env_file = r.scratch("ci.env");
    let gh_file = r.scratch("gh.out");
    let ci = r.dockguard_env(
        &[
            "ci",
            "--no-fetch",
            "--provider",
            "generic",
            "--ref",
            "feature",
            "--dotenv",
            env_file.to_str().expect("utf-8"),
        ],
        &[("GITHUB_OUTPUT", gh_file.to_str().expect("utf-8"))],
    );
    assert!(ci.code == 0 || ci.code == 1, "{}\n{}", ci.stdout, ci.stderr);
    let text = std::fs::read_to_string(&env_file).expect("dotenv");
    assert!(
        text.contains(&format!(
            "DOCKGUARD_CHANGED_COUNT={}\n",
            HOSTILE_PATHS.len()
        )),
        "{text}"
    );
    for line in text.lines() {
        let (k, _) = line.split_once('=').expect("KEY=value");
        assert!(dockguard::parts::is_var_name(k), "{line:?}");
    }
    let gh = std::fs::read_to_string(&gh_file).unwrap_or_default();
    if !gh.is_empty() {
        let start = gh
            .lines()
            .position(|l| l.starts_with("changed<<"))
            .expect("changed list");
        let delim = &gh.lines().nth(start).expect("l")["changed<<".len()..];
        let body: Vec<&str> = gh
            .lines()
            .skip(start + 1)
            .take_while(|l| *l != delim)
            .collect();
        assert_eq!(body.len(), HOSTILE_PATHS.len(), "{gh}");
    }
    for p in [r.path().join("pwned"), r.tmp.path().join("pwned")] {
        assert!(!p.exists(), "a path ran a command");
    }
}

/// A directory with `sh`, `bash` and `git` wrappers that log their argv (NUL-separated,
/// one record per line) and then run the real program.
fn spy_path(r: &TestRepo) -> (PathBuf, PathBuf, String) {
    let bin = r.scratch("spy-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let log = r.scratch("spy.log");
    let real_git = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .expect("which")
            .stdout,
    )
    .expect("utf-8");
    for (name, real) in [
        ("sh", "/bin/sh"),
        ("bash", "/bin/bash"),
        ("git", real_git.trim()),
    ] {
        let script = format!(
            "#!/bin/sh\n{{ printf '%s' '{name}'; for a in \"$@\"; do printf '\\037%s' \"$a\"; done; printf '\\n'; }} >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        );
        let p = bin.join(name);
        std::fs::write(&p, script).expect("write spy");
        set_mode(&p, 0o755);
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        crate::fixture::test_path().to_string_lossy()
    );
    (bin, log, path)
}

fn spied(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\x1f').map(str::to_owned).collect())
        .collect()
}

#[test]
fn push_and_repush_never_run_a_shell_and_always_lease_explicitly() {
    let s = crate::server::Setup::new(true);
    let (_bin, log, path) = spy_path(&s.r);
    // `dockguard push`: the hook runs inside its git push too.
    let tip = s.branch("docker", true);
    let run = dockguard(s.path(), &["push", "origin", "docker"], &[("PATH", &path)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s.server.rev("refs/heads/docker"), Some(tip.to_string()));
    // repush from the hook, for a new ref and a forced update in one push.
    git(s.path(), &["config", "dockguard.policy", "repush"]);
    let tip2 = s.branch("other", true);
    // git puts its exec-path first on a hook's PATH, so the hook's git is not our spy:
    // GIT_TRACE records every git process's argv instead (the `sh` spy still applies).
    let trace = s.r.scratch("git-trace.log");
    let out = crate::fixture::hermetic(&mut std::process::Command::new("git"))
        .current_dir(s.path())
        .env("PATH", &path)
        .env("GIT_TRACE", &trace)
        .args(["push", "origin", "other", "+other:docker"])
        .output()
        .expect("git push");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the original push is stopped: {stderr}"
    );
    assert!(stderr.contains("THE PUSH ALREADY HAPPENED"), "{stderr}");
    let calls = spied(&log);
    assert!(
        calls.len() >= 3,
        "the spy saw too little to prove anything: {calls:?}"
    );
    assert!(
        calls.iter().all(|c| c[0] == "git"),
        "a shell was run: {:?}",
        calls.iter().filter(|c| c[0] != "git").collect::<Vec<_>>()
    );
    let traced = std::fs::read_to_string(&trace).expect("trace");
    assert!(
        !traced.contains("'sh' -c") && !traced.contains("run_command: sh"),
        "{traced}"
    );
    let repushes: Vec<Vec<&str>> = traced
        .lines()
        .filter_map(|l| l.split_once("trace: built-in: git push ").map(|(_, a)| a))
        .filter(|a| a.contains("--no-verify"))
        .map(|a| a.split(' ').collect())
        .collect();
    assert_eq!(repushes.len(), 1, "{traced}");
    let repush = &repushes[0];
    for (dst, expected) in [
        ("refs/heads/other", String::new()),
        ("refs/heads/docker", tip.to_string()),
    ] {
        let lease = format!("--force-with-lease={dst}:{expected}");
        assert!(
            repush.contains(&lease.as_str()),
            "{lease} missing in {repush:?}"
        );
    }
    assert!(
        !repush.iter().any(|a| *a == "--force"
            || *a == "-f"
            || *a == "--force-with-lease"
            || a.starts_with('+')),
        "{repush:?}"
    );
    assert_eq!(s.server.rev("refs/heads/other"), Some(tip2.to_string()));
    assert_eq!(s.server.rev("refs/heads/docker"), Some(tip2.to_string()));
}

#[test]
fn concurrent_installs_leave_one_hook_and_the_chained_original() {
    use std::os::unix::fs::PermissionsExt;
    for round in 0..5 {
        let (r, _) = with_master();
        let hooks = r.repo.path().join("hooks");
        std::fs::create_dir_all(&hooks).expect("mkdir");
        let foreign = format!("#!/bin/sh\n# theirs, round {round}\nexit 0\n");
        std::fs::write(hooks.join("pre-push"), &foreign).expect("write");
        set_mode(&hooks.join("pre-push"), 0o755);
        let children: Vec<std::process::Child> = (0..8)
            .map(|_| {
                crate::fixture::hermetic(&mut std::process::Command::new(
                    crate::fixture::dockguard_bin(),
                ))
                .current_dir(r.path())
                .arg("install")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
            })
            .collect();
        let outs: Vec<std::process::Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        let ok = outs.iter().filter(|o| o.status.success()).count();
        assert!(ok >= 1, "no install succeeded");
        for o in &outs {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("panicked"), "{err}");
            assert!(o.status.success() || o.status.code() == Some(2), "{err}");
        }
        let hook = std::fs::read_to_string(hooks.join("pre-push")).expect("hook");
        assert!(hook.contains(dockguard::parts::MARKER), "ours is installed");
        let chained = hooks.join(dockguard::parts::CHAINED_NAME);
        assert_eq!(
            std::fs::read_to_string(&chained).expect("chained kept"),
            foreign
        );
        assert!(std::fs::metadata(&chained).expect("m").permissions().mode() & 0o111 != 0);
        let names: Vec<String> = std::fs::read_dir(&hooks)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pre-push") && !n.ends_with(".sample"))
            .collect();
        assert_eq!(names.len(), 2, "no temp files left behind: {names:?}");
        // And uninstall brings back exactly the original.
        assert_eq!(r.dockguard(&["uninstall"]).code, 0);
        assert_eq!(
            std::fs::read_to_string(hooks.join("pre-push")).expect("back"),
            foreign
        );
    }
}

#[test]
fn unwritable_hooks_dir_is_a_clear_error_and_changes_nothing() {
    let (r, _) = with_master();
    let hooks = r.repo.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\nexit 0\n").expect("w");
    // root ignores permission bits: point core.hooksPath at a path below a regular file,
    // which nobody can create, instead.
    let blocked = if unsafe_is_root() {
        let file = r.path().join("not-a-dir");
        std::fs::write(&file, "x").expect("w");
        r.git(&["config", "core.hooksPath", "not-a-dir/hooks"]);
        None
    } else {
        set_mode(&hooks, 0o555);
        Some(hooks.clone())
    };
    let run = r.dockguard(&["install"]);
    if let Some(h) = &blocked {
        set_mode(h, 0o755);
    }
    clear_error(&run, &[]);
    assert!(
        run.stderr.contains("hooks") || run.stderr.contains("cannot"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).expect("r"),
        "#!/bin/sh\nexit 0\n"
    );
    assert!(!hooks.join(dockguard::parts::CHAINED_NAME).exists());
}

fn unsafe_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Regression (found by the `dockerfile` fuzz target): a COPY source whose class has a
/// reversed range (`[a-[b]`) made the whole source union fail to compile, so the image
/// counted no input at all and a change to what it really copies was "not affected".
#[test]
fn an_uncompilable_copy_source_never_hides_the_other_sources() {
    for (dockerfile, rebuild) in [
        ("FROM debian:12\nCOPY src/ /src/\n", true),
        ("FROM debian:12\nCOPY src/ /src/\nCOPY [a-[b] /x/\n", true),
        ("FROM debian:12\nCOPY etc/ /etc/\n", false),
    ] {
        let r = TestRepo::new();
        let base = r.commit(
            "image copies src/",
            &[
                ("Dockerfile", dockerfile),
                ("src/main.c", "int main(void) { return 0; }\n"),
            ],
        );
        r.remote_ref("origin", "master", base);
        r.switch_new("feature", base);
        r.commit(
            "src only",
            &[("src/main.c", "int main(void) { return 1; }\n")],
        );
        let (_, v) = check_json(r.path(), &[]);
        assert_eq!(v["rebuild"], rebuild, "{dockerfile:?}: {v}");
        if rebuild {
            assert_eq!(v["targets"][0]["changes"][0]["path"], "src/main.c", "{v}");
        }
    }
}

/// Fail-safe audit, hook: a pushed object that is no commit (a tag of a tree) is the one
/// non-deletion the hook does not judge; it says so, and a commit in the same push is
/// still judged and blocked.
#[test]
fn a_pushed_tree_is_noted_and_does_not_hide_a_commit_in_the_same_push() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let tip = r.commit("docker", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let tree = r.repo.find_commit(tip).expect("c").tree_id();
    let args = ["hook", "pre-push", "origin", "/nonexistent"];
    let only_tree = format!("refs/tags/t {tree} refs/tags/t {ZERO}\n");
    let done = dockguard_stdin(r.path(), &args, &[], only_tree.as_bytes());
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stderr.contains("is not a commit"), "{}", done.stderr);
    let both = format!("{only_tree}refs/heads/feature {tip} refs/heads/feature {ZERO}\n");
    let done = dockguard_stdin(r.path(), &args, &[], both.as_bytes());
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("refs/heads/feature"),
        "{}",
        done.stderr
    );
}
