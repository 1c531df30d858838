//! The pre-commit framework (real `pre-commit` from PyPI, installed by test.sh) running
//! dockguard from the shipped `.pre-commit-hooks.yaml`, driven by real `git push` to a
//! recording server. Hermetic: PRE_COMMIT_HOME in the test's temp dir, the hooks repo is
//! a local clone, `language: system` (nothing is fetched or built).

use std::path::{Path, PathBuf};

use crate::fixture::{dockguard_bin, git, require_tool, TestRepo};
use crate::server::{git_env, line_starting, sh, Done, Setup, OPT};

/// A repository holding the shipped `.pre-commit-hooks.yaml`, as a user's `repo:` would
/// point at it. Returns (path, commit).
fn hooks_repo(r: &TestRepo) -> (PathBuf, String) {
    let dir = r.scratch("dockguard-hooks");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    std::fs::copy(&manifest, dir.join(".pre-commit-hooks.yaml")).expect("copy manifest");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "hooks"]);
    let rev = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    (dir, rev)
}

struct PreCommit {
    s: Setup,
    env: Vec<(String, String)>,
}

impl PreCommit {
    /// The user's setup: three lines of YAML (plus `args`), `pre-commit install`.
    fn new(extra: &str) -> Self {
        let tool = require_tool("pre-commit");
        let s = Setup::new(false);
        let (hooks, rev) = hooks_repo(&s.r);
        let config = format!(
            "repos:\n- repo: {}\n  rev: {rev}\n  hooks: [{{id: dockguard-system{extra}}}]\n",
            hooks.display()
        );
        // Untracked: pre-commit only refuses a config with unstaged *changes*.
        std::fs::write(s.path().join(".pre-commit-config.yaml"), config).expect("config");
        let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            crate::fixture::test_path().to_string_lossy()
        );
        let home = s.r.scratch("pre-commit-home");
        let env = vec![
            ("PATH".to_owned(), path),
            ("PRE_COMMIT_HOME".to_owned(), home.display().to_string()),
        ];
        let pc = PreCommit { s, env };
        let done = pc.run(
            tool.to_str().expect("utf-8"),
            &["install", "--hook-type", "pre-push"],
        );
        assert!(done.stdout.contains("pre-push"), "{}", done.stdout);
        pc
    }

    fn run(&self, prog: &str, args: &[&str]) -> Done {
        let mut line = vec![prog.to_owned()];
        line.extend(args.iter().map(|a| (*a).to_owned()));
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if prog == "git" {
            git_env(self.s.path(), args, &env)
        } else {
            let mut cmd = std::process::Command::new(prog);
            crate::fixture::hermetic(&mut cmd)
                .current_dir(self.s.path())
                .args(args)
                .envs(env.iter().copied());
            let out = cmd.output().expect("run");
            assert!(out.status.success(), "{prog} {args:?} failed: {out:?}");
            Done {
                code: 0,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
    }

    fn push(&self, args: &[&str]) -> Done {
        let mut all = vec!["push"];
        all.extend_from_slice(args);
        self.run("git", &all)
    }
}

fn text(d: &Done) -> String {
    format!("{}{}", d.stdout, d.stderr)
}

#[test]
#[ignore = "needs pre-commit"]
fn five_plus_three_under_pre_commit_is_judged_against_the_merge_base() {
    let pc = PreCommit::new(", args: [--verbose]");
    let s = &pc.s;
    let five = s.first_five();

    let blocked = pc.push(&["origin", "feature"]).failed();
    let out = text(&blocked);
    assert!(out.contains("docker/Dockerfile"), "{out}");
    assert!(
        out.contains("dockguard (image rebuild check)"),
        "pre-commit ran it:\n{out}"
    );
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    let git_line = line_starting(&out, "git push -o");
    assert_eq!(
        git_line,
        format!("git push -o {OPT} origin refs/heads/feature")
    );

    // Run as printed: the option on the `git push` command line is seen through
    // pre-commit's Python process, so the push goes through, carrying it.
    let env: Vec<(&str, &str)> = pc
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut cmd = format!("PRE_COMMIT_HOME='{}' ", env[1].1);
    cmd.push_str(&git_line);
    sh(s.path(), &cmd).ok();
    s.assert_pushed(1, &[OPT], five);

    // Three more commits, none touching a dockerfile. pre-commit's own range
    // (PRE_COMMIT_FROM_REF..TO_REF) is exactly those three; dockguard still sees the
    // dockerfile change since the merge-base and blocks again.
    let eight = s.three_more();
    let again = pc.push(&["origin", "feature"]).failed();
    let out = text(&again);
    assert!(out.contains("docker/Dockerfile"), "{out}");
    let short_five = &five.to_string()[..12];
    assert!(
        out.contains(&format!("the remote had {short_five}")),
        "-v names pre-commit's FROM_REF as the remote's old value:\n{out}"
    );
    assert!(
        out.contains(&format!("merge-base {}", &s.base.to_string()[..7])),
        "{out}"
    );
    assert_eq!(s.pushes().len(), 1);

    let ok = pc.push(&["-o", OPT, "origin", "feature"]).ok();
    // pre-commit shows a passing hook's output only with `verbose: true`.
    assert!(
        text(&ok).contains("rebuild check)....") && text(&ok).contains("Passed"),
        "{}",
        text(&ok)
    );
    s.assert_pushed(2, &[OPT], eight);
}

#[test]
#[ignore = "needs pre-commit"]
fn a_clean_branch_passes_under_pre_commit_without_the_option() {
    let pc = PreCommit::new("");
    // pre-commit owns .git/hooks/pre-push: install leaves it alone and says it is wired.
    let run = crate::fixture::dockguard(pc.s.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("managed by pre-commit"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("already runs dockguard"),
        "{}",
        run.stdout
    );
    let hook = std::fs::read_to_string(pc.s.r.repo.path().join("hooks/pre-push")).expect("hook");
    assert!(hook.contains("File generated by pre-commit") && !hook.contains("dockguard"));
    let tip = pc.s.branch("clean", false);
    let done = pc.push(&["origin", "clean"]).ok();
    let pushes = pc.s.pushes();
    assert_eq!(pushes.len(), 1, "{}", text(&done));
    assert!(pushes[0].options.is_empty());
    assert_eq!(
        pushes[0].new_oid("refs/heads/clean"),
        Some(tip.to_string().as_str())
    );
}

#[test]
#[ignore = "needs pre-commit"]
fn the_shipped_manifest_is_valid_for_pre_commit() {
    let tool = require_tool("pre-commit");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let out = std::process::Command::new(tool)
        .args(["validate-manifest"])
        .arg(&manifest)
        .output()
        .expect("run pre-commit");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&manifest).expect("read");
    for id in ["id: dockguard\n", "id: dockguard-system\n"] {
        assert!(text.contains(id), "{id}");
    }
    assert_eq!(text.matches("stages: [pre-push]").count(), 2);
    assert_eq!(text.matches("entry: dockguard hook pre-commit").count(), 2);
}

#[test]
fn outside_pre_commit_the_mode_says_what_it_is_for() {
    let r = TestRepo::new();
    r.commit("base", &[("a", "a")]);
    let run = crate::fixture::dockguard(r.path(), &["hook", "pre-commit"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("PRE_COMMIT_TO_REF"), "{}", run.stderr);
    assert!(run.stderr.contains("stages: [pre-push]"), "{}", run.stderr);
}

#[test]
#[ignore = "needs pre-commit"]
fn every_ref_of_a_multi_ref_push_is_judged_under_pre_commit() {
    let pc = PreCommit::new("");
    let s = &pc.s;
    // A dockerfile branch, pushed with the option (origin/feature now has its commits).
    let feature = s.branch("feature", true);
    pc.push(&["-o", OPT, "origin", "feature"]).ok();
    let clean = s.branch("a-clean", false);
    // pre-commit passes one ref: `a-clean` (it skips `copy`, a new ref at commits the
    // remote-tracking refs already have). The new branch `copy` gets a pipeline of its own
    // that must rebuild, so the push must stop.
    let blocked = pc
        .push(&["origin", "a-clean", "feature:refs/heads/copy"])
        .failed();
    let out = text(&blocked);
    assert!(
        out.contains("pre-commit passes only refs/heads/a-clean; judging all 2 refs"),
        "{out}"
    );
    assert!(out.contains("  refs/heads/copy ("), "{out}");
    assert_eq!(s.pushes().len(), 1, "nothing more may reach the server");
    pc.push(&["-o", OPT, "origin", "a-clean", "feature:refs/heads/copy"])
        .ok();
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1].options, vec![OPT]);
    assert_eq!(
        pushes[1].new_oid("refs/heads/copy"),
        Some(feature.to_string().as_str())
    );
    assert_eq!(
        pushes[1].new_oid("refs/heads/a-clean"),
        Some(clean.to_string().as_str())
    );
}

#[test]
#[ignore = "needs pre-commit"]
fn under_pre_commit_a_push_that_cannot_be_seen_stops_with_the_reason() {
    let pc = PreCommit::new("");
    let s = &pc.s;
    s.branch("clean", false);
    // git under another name: its command line does not say `git push`, so the other refs
    // of the push cannot be found. The one ref pre-commit passes is clean, but that is
    // not enough to let the push through.
    let g = s.r.scratch("g");
    let git_bin = crate::fixture::find_tool("git").expect("git on PATH");
    std::os::unix::fs::symlink(git_bin, &g).expect("symlink");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(&g);
        crate::fixture::hermetic(&mut cmd)
            .current_dir(s.path())
            .args(["push", "origin", "clean"])
            .envs(pc.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied());
        cmd.output().expect("run g push")
    };
    let out = run(&[]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("under pre-commit, dockguard is given only one of the refs this push updates (refs/heads/clean)"),
        "{all}"
    );
    assert!(all.contains("dockguard install --force"), "{all}");
    assert!(s.pushes().is_empty());
    // on_error = allow lets it through, saying so.
    let out = run(&[("DOCKGUARD_ON_ERROR", "allow")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.pushes().len(), 1);
}

#[test]
#[ignore = "needs pre-commit"]
fn status_agrees_with_install_under_pre_commit() {
    let pc = PreCommit::new("");
    let install = crate::fixture::dockguard(pc.s.path(), &["install"], &[]);
    assert!(
        install.stdout.contains("already runs dockguard")
            && install
                .stdout
                .contains("pre-commit passes dockguard one pushed ref"),
        "{}",
        install.stdout
    );
    let status = crate::fixture::dockguard(pc.s.path(), &["status"], &[]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let line = line_starting(&status.stdout, "pre-push:");
    assert!(
        line.starts_with("pre-push:   via pre-commit (")
            && line.ends_with("its configuration runs dockguard"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("note: pre-commit passes dockguard one pushed ref"),
        "{}",
        status.stdout
    );
    // A pre-commit configuration without dockguard: both say it is not wired yet.
    std::fs::write(pc.s.path().join(".pre-commit-config.yaml"), "repos: []\n").expect("config");
    let install = crate::fixture::dockguard(pc.s.path(), &["install"], &[]);
    assert!(
        install
            .stdout
            .contains("Add dockguard to pre-commit instead"),
        "{}",
        install.stdout
    );
    let status = crate::fixture::dockguard(pc.s.path(), &["status"], &[]);
    let line = line_starting(&status.stdout, "pre-push:");
    assert!(
        line.starts_with("pre-push:   NOT installed: hooks are managed by pre-commit"),
        "{}",
        status.stdout
    );
}

#[test]
#[ignore = "needs pre-commit"]
fn install_force_under_pre_commit_sees_a_new_branch_at_a_pushed_commit() {
    let pc = PreCommit::new("");
    let s = &pc.s;
    s.branch("feature", true);
    pc.push(&["-o", OPT, "origin", "feature"]).ok();
    // pre-commit runs no hook for this push (every commit is on origin/feature already):
    // dockguard's own hook, installed in front of pre-commit's, sees it.
    let run = crate::fixture::dockguard(s.path(), &["install", "--force"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // From now on dockguard's hook is what a push runs: install and status say so, and
    // neither sends the user back to pre-commit (whose hook is the chained one now).
    let again = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    let status = crate::fixture::dockguard(s.path(), &["status"], &[]);
    assert!(
        line_starting(&status.stdout, "pre-push:").starts_with("pre-push:   installed ("),
        "{}",
        status.stdout
    );
    let blocked = pc.push(&["origin", "feature:refs/heads/copy"]).failed();
    assert!(
        text(&blocked).contains("refs/heads/copy"),
        "{}",
        text(&blocked)
    );
    assert_eq!(s.pushes().len(), 1);
    pc.push(&["-o", OPT, "origin", "feature:refs/heads/copy"])
        .ok();
    let pushes = s.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1].options, vec![OPT]);
}

#[test]
#[ignore = "needs pre-commit"]
fn a_dockguard_hook_in_the_wrong_stage_is_not_wired() {
    // pre-commit's pre-push hook is installed and the config names dockguard, but only for
    // the pre-commit stage: a push runs nothing of it, and status must say so.
    let pc = PreCommit::new(", stages: [pre-commit]");
    let status = crate::fixture::dockguard(pc.s.path(), &["status"], &[]);
    let line = line_starting(&status.stdout, "pre-push:");
    assert!(
        line.starts_with("pre-push:   NOT installed: hooks are managed by pre-commit")
            && line.contains("runs in the stages [pre-commit], not pre-push"),
        "{}",
        status.stdout
    );
    pc.s.branch("feature", true);
    pc.push(&["origin", "feature"]).ok();
    assert_eq!(pc.s.pushes().len(), 1, "the push went through unguarded");
    let install = crate::fixture::dockguard(pc.s.path(), &["install"], &[]);
    assert!(
        install
            .stdout
            .contains("give the `dockguard-system` hook `stages: [pre-push]`"),
        "{}",
        install.stdout
    );
    // Done as said: the stage fixed, the hook now runs and blocks.
    let config = pc.s.path().join(".pre-commit-config.yaml");
    let yaml = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        yaml.replace("stages: [pre-commit]", "stages: [pre-push]"),
    )
    .expect("config");
    let status = crate::fixture::dockguard(pc.s.path(), &["status"], &[]);
    assert!(
        line_starting(&status.stdout, "pre-push:").starts_with("pre-push:   via pre-commit ("),
        "{}",
        status.stdout
    );
    pc.s.r.filler(1, "again");
    let blocked = pc.push(&["origin", "feature"]).failed();
    assert!(
        text(&blocked).contains("refs/heads/feature"),
        "{}",
        text(&blocked)
    );
    assert_eq!(pc.s.pushes().len(), 1);
}
