//! husky (npm, installed by test.sh) managing the pre-push hook: it sets
//! `core.hooksPath=.husky/_`, and a user adds dockguard to `.husky/pre-push`. Real
//! `husky` install, real `git push` to a recording server, the 5+3 scenario.

use std::path::Path;

use crate::fixture::{dockguard_bin, hermetic, require_tool};
use crate::server::{five_plus_three, git_env, Done, Setup};

/// PATH with the dockguard under test first (hooks call `dockguard` by name).
pub fn path_with_dockguard() -> String {
    let bin_dir = Path::new(dockguard_bin()).parent().expect("bin dir");
    format!(
        "{}:{}",
        bin_dir.display(),
        crate::fixture::test_path().to_string_lossy()
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

#[test]
#[ignore = "needs husky"]
fn five_plus_three_under_husky() {
    let husky = require_tool("husky");
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

    five_plus_three(&s, |args| push(s.path(), args));

    let run = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert!(
        run.stdout.contains("already runs dockguard"),
        "{}",
        run.stdout
    );
}
