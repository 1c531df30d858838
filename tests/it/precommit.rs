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
            std::env::var("PATH").unwrap_or_default()
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
