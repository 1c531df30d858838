//! `dockguard check`: the engine's verdicts on real repositories, and every error message.

use crate::fixture::{assert_error_first, git, git_output, with_master, TestRepo};

fn json_check(r: &TestRepo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let run = r.dockguard(&all);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run.json()
}

fn paths(target: &serde_json::Value) -> Vec<String> {
    target["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["path"].as_str().expect("path").to_owned())
        .collect()
}

#[test]
fn branch_without_dockerfile_changes_needs_no_rebuild() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.filler(3, "work");
    let v = json_check(&r, &[]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["rebuild"], false);
    let t = &v["targets"][0];
    assert_eq!(t["merge_base"], base.to_string());
    assert_eq!(t["changes"].as_array().map(Vec::len), Some(0));
    assert_eq!(t["other_changes"], 1);
    let exit = r.dockguard(&["check", "--exit-code"]);
    assert_eq!(exit.code, 0, "{}", exit.stderr);
    assert!(exit.stdout.contains("no rebuild needed"), "{}", exit.stdout);
}

#[test]
fn five_plus_three_still_rebuilds_and_names_the_commit() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.filler(2, "first");
    let docker = r.commit("bump debian", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let first_push = r.filler(2, "more");
    // The remote now has the first 5 commits; 3 more follow.
    r.remote_ref("origin", "feature", first_push);
    r.filler(3, "later");
    let v = json_check(&r, &["--commits"]);
    assert_eq!(v["rebuild"], true);
    let t = &v["targets"][0];
    assert_eq!(
        t["merge_base"],
        base.to_string(),
        "judged against master, not the last push"
    );
    assert_eq!(paths(t), vec!["docker/Dockerfile"]);
    assert_eq!(t["changes"][0]["kind"], "modified");
    assert_eq!(t["changes"][0]["role"], "dockerfile");
    assert_eq!(
        t["changes"][0]["commits"],
        serde_json::json!([docker.to_string()])
    );
    assert_eq!(t["commits"][0]["summary"], "bump debian");
    let exit = r.dockguard(&["check", "--exit-code", "--commits"]);
    assert_eq!(exit.code, 1);
    assert!(exit.stdout.contains("bump debian"), "{}", exit.stdout);
    assert!(
        exit.stdout
            .contains("git push -o ci.variable=DOCKGUARD_REBUILD=1"),
        "says what to do next:\n{}",
        exit.stdout
    );
}

#[test]
fn change_reverted_within_the_branch_needs_no_rebuild() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("try", &[("docker/Dockerfile", "FROM alpine\n")]);
    r.commit("revert", &[("docker/Dockerfile", "FROM debian:12\n")]);
    let v = json_check(&r, &[]);
    assert_eq!(v["rebuild"], false, "{v:#}");
}

#[test]
fn master_changing_its_own_dockerfile_does_not_rebuild_the_branch() {
    let (r, base) = with_master();
    let m2 = r.commit("master bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.remote_ref("origin", "master", m2);
    r.switch_new("feature", base);
    r.filler(2, "work");
    let v = json_check(&r, &[]);
    assert_eq!(
        v["rebuild"], false,
        "a two-dot diff would wrongly see master's change: {v:#}"
    );
    assert_eq!(v["targets"][0]["merge_base"], base.to_string());
}

#[test]
fn branch_that_merged_master_back_in_is_judged_by_its_own_changes() {
    let (r, base) = with_master();
    let m2 = r.commit("master bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.remote_ref("origin", "master", m2);
    r.switch_new("feature", base);
    let f1 = r.filler(1, "work");
    // Merge master into feature (a real merge commit with two parents).
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    let ours = r.repo.find_commit(f1).expect("ours");
    let theirs = r.repo.find_commit(m2).expect("theirs");
    let mut idx = r.repo.merge_commits(&ours, &theirs, None).expect("merge");
    let tree = r
        .repo
        .find_tree(idx.write_tree_to(&r.repo).expect("tree"))
        .expect("tree");
    r.repo
        .commit(
            Some("HEAD"),
            &sig,
            &sig,
            "merge master",
            &tree,
            &[&ours, &theirs],
        )
        .expect("merge commit");
    let v = json_check(&r, &["--commits"]);
    assert_eq!(v["rebuild"], false, "{v:#}");
    assert_eq!(v["targets"][0]["merge_base"], m2.to_string());
}

#[test]
fn renames_count_both_paths_and_deletions_count() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.rename("move", "docker/Dockerfile", "ci/Dockerfile");
    let v = json_check(&r, &[]);
    let c = &v["targets"][0]["changes"][0];
    assert_eq!(c["kind"], "renamed", "{v:#}");
    assert_eq!(c["path"], "ci/Dockerfile");
    assert_eq!(c["old_path"], "docker/Dockerfile");
    assert_eq!(v["rebuild"], true);

    r.checkout("master");
    r.switch_new("gone", base);
    r.delete("drop", &["docker/Dockerfile"]);
    let v = json_check(&r, &[]);
    assert_eq!(v["rebuild"], true);
    assert_eq!(v["targets"][0]["changes"][0]["kind"], "deleted");
}

#[test]
fn similar_rename_with_edits_is_detected() {
    let (r, base) = with_master();
    let long = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y gcc make git\nRUN useradd ci\nWORKDIR /src\n";
    let b2 = r.commit("longer", &[("docker/Dockerfile", long)]);
    r.remote_ref("origin", "master", b2);
    let _ = base;
    r.switch_new("feature", b2);
    let edited = long.replace("WORKDIR /src", "WORKDIR /build");
    r.commit_raw(
        "move and edit",
        &[
            (b"docker/Dockerfile", None),
            (b"ci/debian.docker", Some(edited.as_bytes())),
        ],
    );
    let v = json_check(&r, &[]);
    let c = &v["targets"][0]["changes"];
    assert_eq!(c.as_array().map(Vec::len), Some(1), "{v:#}");
    assert_eq!(c[0]["kind"], "renamed");
    assert_eq!(c[0]["old_path"], "docker/Dockerfile");
    assert_eq!(c[0]["path"], "ci/debian.docker");
}

#[test]
fn qemu_docker_files_and_helper_inputs_count() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit(
        "helper",
        &[(
            "tests/docker/dockerfiles/debian.d/build-toolchain.sh",
            "echo hi\n",
        )],
    );
    let v = json_check(&r, &[]);
    assert_eq!(
        v["rebuild"], false,
        "helper scripts are not dockerfiles by default"
    );

    r.commit(
        "config",
        &[(
            ".dockguard.toml",
            "[match]\ninputs = [\"tests/docker/dockerfiles/**\"]\n",
        )],
    );
    let v = json_check(&r, &[]);
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(v["targets"][0]["changes"][0]["role"], "input");

    r.commit(
        "image",
        &[("tests/docker/dockerfiles/fedora.docker", "FROM fedora\n")],
    );
    let v = json_check(&r, &[]);
    let roles: Vec<_> = v["targets"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default().to_owned(),
                c["role"].clone(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(
            "tests/docker/dockerfiles/fedora.docker".into(),
            serde_json::json!("dockerfile")
        )),
        "{roles:?}"
    );
}

#[test]
fn unrelated_history_rebuilds_with_the_reason() {
    let (r, _base) = with_master();
    // An orphan branch: no common history with master.
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    let mut tb = r.repo.treebuilder(None).expect("tb");
    let blob = r.repo.blob(b"x").expect("blob");
    tb.insert("other.txt", blob, 0o100644).expect("insert");
    let tree = r.repo.find_tree(tb.write().expect("write")).expect("tree");
    let orphan = r
        .repo
        .commit(None, &sig, &sig, "orphan", &tree, &[])
        .expect("commit");
    let v = json_check(&r, &[&orphan.to_string()]);
    let t = &v["targets"][0];
    assert_eq!(v["rebuild"], true);
    assert_eq!(t["merge_base"], serde_json::Value::Null);
    assert_eq!(t["base_unknown"]["reason"], "unrelated_history");
    let human = r.dockguard(&["check", &orphan.to_string()]);
    assert!(
        human.stdout.contains("rebuilding to be safe"),
        "{}",
        human.stdout
    );
}

#[test]
fn shallow_clone_without_the_base_rebuilds_with_the_reason() {
    let (r, base) = with_master();
    r.filler(5, "master");
    r.switch_new("feature", base);
    r.filler(5, "feature");
    r.checkout("master");
    let url = format!("file://{}", r.path().display());
    let clone = r.scratch("shallow");
    git(
        r.tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            clone.to_str().expect("utf8"),
        ],
    );
    let run = crate::fixture::dockguard(
        &clone,
        &["check", "--format", "json", "origin/feature"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["rebuild"], true);
    assert_eq!(
        v["targets"][0]["base_unknown"]["reason"], "shallow",
        "{v:#}"
    );
}

#[test]
fn non_utf8_paths_do_not_panic() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit_raw(
        "odd",
        &[
            (b"odd\xff/Dockerfile", Some(b"FROM x\n")),
            (b"\xfe.txt", Some(b"y")),
        ],
    );
    let v = json_check(&r, &[]);
    let c = &v["targets"][0]["changes"][0];
    assert_eq!(c["path"], "odd\u{fffd}/Dockerfile");
    assert_eq!(c["path_bytes"][3], 255);
    assert_eq!(v["targets"][0]["other_changes"], 1);
    let human = r.dockguard(&["check", "--commits"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
}

#[test]
fn config_is_read_from_the_target_tree_before_the_work_tree() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("script", &[("ci/build.sh", "make\n")]);
    // The work tree's (uncommitted) file counts when the commit carries none.
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[match]\ninputs = [\"ci/*.sh\"]\n",
    )
    .expect("write");
    assert_eq!(json_check(&r, &[])["rebuild"], true);
    // A committed file wins over the work tree's.
    let with_rules = r.commit(
        "rules",
        &[(".dockguard.toml", "[match]\ninputs = [\"nothing/**\"]\n")],
    );
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[match]\ninputs = [\"ci/*.sh\"]\n",
    )
    .expect("write");
    assert_eq!(json_check(&r, &[&with_rules.to_string()])["rebuild"], false);
}

#[test]
fn upstream_resolution_order_and_flags() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let f = r.commit("docker", &[("docker/Dockerfile", "FROM alpine\n")]);
    // An `upstream` remote wins over origin; its HEAD symref picks the branch.
    r.remote_ref("upstream", "main", f);
    r.repo
        .reference_symbolic(
            "refs/remotes/upstream/HEAD",
            "refs/remotes/upstream/main",
            true,
            "t",
        )
        .expect("symref");
    let v = json_check(&r, &[]);
    assert_eq!(v["upstream"]["ref"], "refs/remotes/upstream/main");
    assert_eq!(v["rebuild"], false);
    // --upstream, env and git config choose explicitly.
    let v = json_check(&r, &["--upstream", "origin/master"]);
    assert_eq!(v["upstream"]["ref"], "refs/remotes/origin/master");
    assert_eq!(v["rebuild"], true);
    let run = r.dockguard_env(
        &["check", "--format", "json"],
        &[("DOCKGUARD_UPSTREAM", "refs/remotes/origin/master")],
    );
    assert_eq!(
        run.json()["upstream"]["chosen_by"],
        "env DOCKGUARD_UPSTREAM"
    );
    r.git(&["config", "dockguard.upstream", "origin"]);
    let v = json_check(&r, &[]);
    assert_eq!(v["upstream"]["ref"], "refs/remotes/origin/master");
    assert_eq!(v["upstream"]["chosen_by"], "git config");
}

#[test]
fn revspecs_tags_and_several_targets() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let d = r.commit("docker", &[("docker/Dockerfile", "FROM alpine\n")]);
    r.filler(2, "after");
    r.repo
        .tag_lightweight("v1", &r.repo.find_object(d, None).expect("obj"), false)
        .expect("tag");
    let v = json_check(&r, &["HEAD~3", "v1", &d.to_string(), "HEAD"]);
    let rebuilds: Vec<_> = v["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["rebuild"].as_bool())
        .collect();
    assert_eq!(
        rebuilds,
        vec![Some(false), Some(true), Some(true), Some(true)]
    );
    assert_eq!(v["targets"][1]["label"], "v1");
}

#[test]
fn errors_are_one_line_with_cause_and_hint() {
    let (r, _) = with_master();
    // Not a repository.
    let not_repo = r.scratch("empty");
    std::fs::create_dir_all(&not_repo).expect("mkdir");
    assert_error_first(
        &crate::fixture::dockguard(
            &not_repo,
            &["check"],
            &[(
                "GIT_CEILING_DIRECTORIES",
                r.tmp.path().to_str().expect("utf8"),
            )],
        ),
        "not a git repository",
        "inside a git clone",
    );
    // Unknown revision.
    assert_error_first(
        &r.dockguard(&["check", "no-such-branch"]),
        "unknown revision `no-such-branch`",
        "git rev-parse",
    );
    // Unknown upstream (explicit and automatic).
    assert_error_first(
        &r.dockguard(&["check", "--upstream", "nowhere/master"]),
        "upstream `nowhere/master` (from flag --upstream) does not exist",
        "git fetch nowhere",
    );
    let bare_remote = TestRepo::new();
    bare_remote.commit("x", &[("a", "b")]);
    let run = bare_remote.dockguard(&["check"]);
    assert_error_first(
        &run,
        "cannot find the upstream branch",
        "git remote add upstream",
    );
    assert!(
        run.stderr.contains("refs/remotes/origin/master"),
        "lists what was tried: {}",
        run.stderr
    );
    // Bad config: names the file and key.
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[match]\ndockerfile = []\n",
    )
    .expect("write");
    assert_error_first(
        &r.dockguard(&["check"]),
        ".dockguard.toml: unknown key `match.dockerfile`",
        "docs/src/configuration.md",
    );
    std::fs::remove_file(r.path().join(".dockguard.toml")).expect("rm");
    r.git(&["config", "dockguard.match.defaults", "maybe"]);
    assert_error_first(
        &r.dockguard(&["check"]),
        "git config dockguard.match.defaults",
        "docs/src/configuration.md",
    );
    r.git(&["config", "--unset", "dockguard.match.defaults"]);
    // A bad glob in an image rule is a config error, never "merge-base unknown".
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[[images.rule]]\ndockerfile = '(?P<name>.*)/Dockerfile'\ninputs = ['ci/[z-a]/**']\n",
    )
    .expect("write");
    assert_error_first(
        &r.dockguard(&["check"]),
        "`images.rule[0].inputs` glob \"ci/[z-a]/**\" is not valid",
        "docs/src/configuration.md",
    );
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[match]\ninputs = ['a/[b']\n",
    )
    .expect("write");
    assert_error_first(
        &r.dockguard(&["check"]),
        "never closed",
        "docs/src/configuration.md",
    );
    std::fs::remove_file(r.path().join(".dockguard.toml")).expect("rm");
    // Bare repository.
    let bare = r.bare_clone("bare.git");
    assert_error_first(
        &crate::fixture::dockguard(&bare, &["check"], &[]),
        "is a bare repository",
        "non-bare clone",
    );
}

#[test]
fn sha256_repository_fails_clearly() {
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
    let run = crate::fixture::dockguard(&dir, &["check"], &[]);
    assert_error_first(&run, "format extension", "SHA-256");
}

#[test]
fn repository_owned_by_another_user_gets_the_safe_directory_fix() {
    // Only root can hand a directory to another user; elsewhere there is nothing to test.
    let (r, _) = with_master();
    let status = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(r.path())
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("skipped: cannot chown (not root)");
        return;
    }
    let run = r.dockguard(&["check"]);
    assert_error_first(&run, "owned by another user", "safe.directory");
}

#[test]
fn dash_c_runs_elsewhere_and_broken_pipe_is_quiet() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let run = crate::fixture::dockguard(
        r.tmp.path(),
        &[
            "-C",
            r.path().to_str().expect("utf8"),
            "check",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["rebuild"], false);
}

/// Every changed path, from dockguard (matching everything) and from `git diff`.
fn all_paths_both_ways(r: &TestRepo, base: git2::Oid) -> (Vec<String>, Vec<String>) {
    let run = r.dockguard_env(
        &["check", "--format", "json"],
        &[("DOCKGUARD_MATCH_INPUTS", "**")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    let mut ours: Vec<String> = Vec::new();
    for c in v["targets"][0]["changes"].as_array().expect("changes") {
        ours.push(c["path"].as_str().expect("path").to_owned());
        if let Some(old) = c["old_path"].as_str() {
            ours.push(old.to_owned());
        }
    }
    ours.sort();
    assert_eq!(v["targets"][0]["other_changes"], 0);
    let theirs = r.git(&[
        "diff",
        "--name-only",
        "--no-renames",
        &base.to_string(),
        "HEAD",
    ]);
    let mut theirs: Vec<String> = theirs.lines().map(str::to_owned).collect();
    theirs.sort();
    (ours, theirs)
}

#[test]
fn large_diffs_agree_with_git_loose_and_deltified_in_packs() {
    let (r, _) = with_master();
    // 48 directories x 4 subdirectories x 3 files, revised a few times so that packing
    // stores most tree versions as deltas.
    let mut files: Vec<(String, String)> = Vec::new();
    for d in 0..48 {
        for e in 0..4 {
            for f in 0..3 {
                files.push((format!("d{d:02}/e{e}/f{f}.c"), format!("{d} {e} {f}\n")));
            }
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    r.commit("tree", &refs);
    for round in 0..3 {
        let edits: Vec<(String, String)> = files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 7 == round)
            .map(|(_, (p, c))| (p.clone(), format!("{c}rev {round}\n")))
            .collect();
        let e: Vec<(&str, &str)> = edits
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        r.commit("revise", &e);
    }
    let base = r.head();
    r.remote_ref("origin", "master", base);
    r.switch_new("feature", base);
    let edits: Vec<(String, String)> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, (p, c))| (p.clone(), format!("{c}feature\n")))
        .collect();
    let e: Vec<(&str, &str)> = edits
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    r.commit("feature edits", &e);
    r.commit(
        "new files",
        &[("d07/new/a.docker", "FROM x\n"), ("zz/top.txt", "t\n")],
    );
    r.delete("drop", &["d11/e2/f1.c", "d40/e0/f0.c"]);
    r.rename("move", "d05/e1/f2.c", "d05/moved.c");

    let (ours, theirs) = all_paths_both_ways(&r, base);
    assert!(
        theirs.len() > 150,
        "the diff must be large: {}",
        theirs.len()
    );
    assert_eq!(ours, theirs, "loose objects");

    git(r.path(), &["repack", "-adfq", "--depth=20", "--window=20"]);
    let stats = git(r.path(), &["count-objects", "-v"]);
    assert!(stats.contains("count: 0"), "everything packed: {stats}");
    let (ours, theirs) = all_paths_both_ways(&r, base);
    assert_eq!(ours, theirs, "packed, with delta chains");
}

#[test]
fn commit_attribution_agrees_with_git_log_through_merges_and_renames() {
    let (r, base) = with_master();
    r.switch_new("side", base);
    r.commit("side image", &[("ci/x.docker", "FROM alpine\n")]);
    let side = r.commit("side again", &[("ci/x.docker", "FROM alpine:3\n")]);
    r.checkout("master");
    r.switch_new("feature", base);
    r.commit("edit", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.filler(2, "noise");
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    let ours = r.repo.find_commit(r.head()).expect("ours");
    let theirs = r.repo.find_commit(side).expect("theirs");
    let mut idx = r.repo.merge_commits(&ours, &theirs, None).expect("merge");
    let tree = r
        .repo
        .find_tree(idx.write_tree_to(&r.repo).expect("tree"))
        .expect("tree");
    r.repo
        .commit(
            Some("HEAD"),
            &sig,
            &sig,
            "merge side",
            &tree,
            &[&ours, &theirs],
        )
        .expect("merge commit");
    r.rename("move", "docker/Dockerfile", "docker/Containerfile");
    let v = json_check(&r, &["--commits"]);
    for c in v["targets"][0]["changes"].as_array().expect("changes") {
        let mut ours: Vec<String> = c["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|x| x.as_str().expect("oid").to_owned())
            .collect();
        ours.sort();
        let mut paths = vec![c["path"].as_str().expect("path").to_owned()];
        paths.extend(c["old_path"].as_str().map(str::to_owned));
        let mut args = vec![
            "log".to_owned(),
            "--format=%H".to_owned(),
            format!("{base}..HEAD"),
            "--".to_owned(),
        ];
        args.extend(paths.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = r.git(&args);
        let mut theirs: Vec<String> = log.lines().map(str::to_owned).collect();
        theirs.sort();
        assert_eq!(ours, theirs, "commits touching {paths:?}");
        assert!(!ours.is_empty());
    }
}

/// A branch without merges is attributed by walking its chain, from the commit-graph when
/// there is one (issue 11): the same commits, in `git log` order, as without a graph, and
/// `max_commits` still stops the walk.
#[test]
fn attribution_of_a_linear_branch_is_its_chain_with_or_without_a_commit_graph() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("one", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.filler(3, "noise");
    r.commit(
        "two",
        &[
            ("docker/Dockerfile", "FROM debian:14\n"),
            ("ci/x.docker", "FROM alpine\n"),
        ],
    );
    r.filler(2, "more");
    let without = json_check(&r, &["--commits"]);
    git(r.path(), &["commit-graph", "write", "--reachable"]);
    assert!(r.repo.path().join("objects/info/commit-graph").exists());
    let with = json_check(&r, &["--commits"]);
    assert_eq!(without, with);
    let changes = with["targets"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{with}");
    for c in changes {
        let path = c["path"].as_str().expect("path");
        let log = r.git(&["log", "--format=%H", &format!("{base}..HEAD"), "--", path]);
        let theirs: Vec<&str> = log.lines().collect();
        let ours: Vec<&str> = c["commits"]
            .as_array()
            .expect("commits")
            .iter()
            .map(|x| x.as_str().expect("oid"))
            .collect();
        assert_eq!(ours, theirs, "{path}");
    }
    for (max, touching) in [("2", 0), ("3", 1)] {
        let run = r.dockguard_env(
            &["check", "--format", "json", "--commits"],
            &[("DOCKGUARD_MAX_COMMITS", max)],
        );
        let v = run.json();
        assert_eq!(v["targets"][0]["commits_truncated"], true, "{v}");
        assert_eq!(
            v["targets"][0]["commits"].as_array().map(Vec::len),
            Some(touching),
            "the {max} newest commits: {v}"
        );
    }
}
