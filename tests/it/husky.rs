//! husky (npm, installed by test.sh) managing the pre-push hook: it sets
//! `core.hooksPath=.husky/_`, and a user adds dockguard to `.husky/pre-push`. Real
//! `husky` install, real `git push` to a recording server, the 5+3 scenario.

use std::path::Path;

use crate::fixture::{dockguard_bin, hermetic, require_tool};
use crate::server::{git_env, Done, Setup, OPT};

/// PATH with the dockguard under test first (hooks call `dockguard` by name).
pub fn path_with_dockguard() -> String {
    let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs a tool hermetically in `dir` with dockguard on PATH; panics unless it succeeds.
pub fn tool(dir: &Path, prog: &Path, args: &[&str]) -> String {
    let out = hermetic(&mut std::process::Command::new(prog))
        .current_dir(dir)
        .env("PATH", path_with_dockguard())
        .args(args)
        .output()
        .expect("run tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{} {args:?}: {text}", prog.display());
    text
}

/// `git push ARGS` with dockguard on PATH.
pub fn push(dir: &Path, args: &[&str]) -> Done {
    let mut all = vec!["push"];
    all.extend_from_slice(args);
    git_env(dir, &all, &[("PATH", &path_with_dockguard())])
}

/// The 5+3 scenario against an already wired hook manager: blocked, pushed with the
/// option, three more commits, blocked again, pushed with the option.
pub fn five_plus_three(s: &Setup) {
    s.r.switch_new("feature", s.base);
    s.r.filler(2, "first");
    s.r.commit("bump debian", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let five = s.r.filler(2, "more");
    let blocked = push(s.path(), &["origin", "feature"]).failed();
    assert!(
        blocked.stderr.contains("docker/Dockerfile"),
        "{}",
        blocked.stderr
    );
    assert!(s.pushes().is_empty(), "nothing may reach the server");
    // The option on the command line is seen through the hook manager's processes.
    push(s.path(), &["-o", OPT, "origin", "feature"]).ok();
    assert_eq!(s.pushes().len(), 1);
    assert_eq!(s.pushes()[0].options, vec![OPT]);
    assert_eq!(
        s.pushes()[0].new_oid("refs/heads/feature"),
        Some(five.to_string().as_str())
    );

    let eight = s.r.filler(3, "later");
    let again = push(s.path(), &["origin", "feature"]).failed();
    assert!(
        again.stderr.contains("docker/Dockerfile"),
        "{}",
        again.stderr
    );
    assert_eq!(s.pushes().len(), 1);
    push(s.path(), &["-o", OPT, "origin", "feature"]).ok();
    assert_eq!(s.pushes().len(), 2);
    assert_eq!(s.pushes()[1].options, vec![OPT]);
    assert_eq!(
        s.pushes()[1].new_oid("refs/heads/feature"),
        Some(eight.to_string().as_str())
    );
}

#[test]
fn five_plus_three_under_husky() {
    let Some(husky) = require_tool("husky") else {
        return;
    };
    let s = Setup::new(false);
    tool(s.path(), &husky, &[]);
    assert_eq!(s.r.git(&["config", "core.hooksPath"]).trim(), ".husky/_");
    // `dockguard install` does not fight husky: it prints the line to add, which works
    // as printed.
    let run = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("managed by husky"), "{}", run.stdout);
    let stub = std::fs::read_to_string(s.path().join(".husky/_/pre-push")).expect("read");
    assert!(
        !stub.contains("dockguard"),
        "husky's own stub is untouched:\n{stub}"
    );
    let line = crate::server::line_starting(&run.stdout, "echo ");
    assert_eq!(
        line,
        "echo 'dockguard hook pre-push \"$@\"' >> .husky/pre-push"
    );
    crate::server::sh(s.path(), &line).ok();

    five_plus_three(&s);

    let run = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert!(
        run.stdout.contains("already runs dockguard"),
        "{}",
        run.stdout
    );
}
