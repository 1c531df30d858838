//! lefthook (npm package with its platform binary, installed by test.sh) running
//! dockguard from `lefthook.yml`: real `lefthook install`, real `git push` to a recording
//! server, the 5+3 scenario.

use crate::fixture::require_tool;
use crate::husky::{push, tool};
use crate::server::{five_plus_three, Setup};

/// What the docs (docs/src/hook-managers.md) tell lefthook users to write.
pub const LEFTHOOK_YML: &str = "\
pre-push:
  commands:
    dockguard:
      run: dockguard hook pre-push {1} {2}
      use_stdin: true
";

#[test]
#[ignore = "needs lefthook"]
fn five_plus_three_under_lefthook() {
    let lefthook = require_tool("lefthook");
    let s = Setup::new(false);
    // A lefthook project without dockguard yet: install prints the entry instead.
    std::fs::write(s.path().join("lefthook.yml"), "# hooks\n").expect("lefthook.yml");
    let run = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("managed by lefthook"), "{}", run.stdout);
    for line in LEFTHOOK_YML.lines() {
        assert!(run.stdout.contains(line), "{line:?} in:\n{}", run.stdout);
    }
    assert!(!s.r.repo.path().join("hooks/pre-push").exists());

    std::fs::write(s.path().join("lefthook.yml"), LEFTHOOK_YML).expect("lefthook.yml");
    tool(s.path(), &lefthook, &["install"]);
    let hook = std::fs::read_to_string(s.r.repo.path().join("hooks/pre-push")).expect("hook");
    assert!(hook.contains("lefthook"), "{hook}");
    five_plus_three(&s, |args| push(s.path(), args));

    let run = crate::fixture::dockguard(s.path(), &["install"], &[]);
    assert!(
        run.stdout.contains("already runs dockguard"),
        "{}",
        run.stdout
    );
    let after = std::fs::read_to_string(s.r.repo.path().join("hooks/pre-push")).expect("hook");
    assert_eq!(after, hook, "lefthook's hook is untouched");
}
