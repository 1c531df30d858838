//! Issue #13, the attacks a push (or a prepared `.git`) can mount, each reproduced against
//! the real binary: every test here failed on the code before its fix.
//!
//! - raw output: escapes in `-v` paths, in `push_option`, in TOML key names, Markdown in the
//!   step summary.

use crate::fixture::with_master;
use crate::server::dockguard_stdin;

const ZERO: &str = "0000000000000000000000000000000000000000";

// ---- 9. Raw output ------------------------------------------------------------------

#[test]
fn verbose_hook_output_never_prints_raw_escapes() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit_raw(
        "hostile",
        &[(
            &b"docker/esc\x1b]0;owned\x07\x1b[2J/Dockerfile"[..],
            Some(&b"FROM x\n"[..]),
        )],
    );
    let hook = dockguard_stdin(
        r.path(),
        &["hook", "pre-push", "-v", "origin", "/nonexistent"],
        &[("DOCKGUARD_POLICY", "warn")],
        format!(
            "refs/heads/feature {} refs/heads/feature {ZERO}\n",
            r.head()
        )
        .as_bytes(),
    );
    assert_eq!(hook.code, 0, "{}", hook.stderr);
    assert!(
        !hook.stderr.contains('\x1b'),
        "raw escape:\n{}",
        hook.stderr
    );
    assert!(!hook.stderr.contains('\x07'), "raw BEL:\n{}", hook.stderr);
    assert!(hook.stderr.contains("esc\\x1b]0;owned"), "{}", hook.stderr);
}

#[test]
fn push_option_is_escaped_in_messages_and_in_the_command_to_paste() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("x", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let hook = dockguard_stdin(
        r.path(),
        &["hook", "pre-push", "origin", "/nonexistent"],
        &[(
            "DOCKGUARD_PUSH_OPTION",
            "ci.variable=DOCKGUARD_REBUILD=1\x1b[2J",
        )],
        format!(
            "refs/heads/feature {} refs/heads/feature {ZERO}\n",
            r.head()
        )
        .as_bytes(),
    );
    assert!(hook.code == 1 || hook.code == 2, "{}", hook.stderr);
    assert!(
        !hook.stderr.contains('\x1b'),
        "raw escape:\n{}",
        hook.stderr
    );
    let check = r.dockguard_env(
        &["check"],
        &[(
            "DOCKGUARD_PUSH_OPTION",
            "ci.variable=DOCKGUARD_REBUILD=1\x1b[2J",
        )],
    );
    assert!(!check.stdout.contains('\x1b') && !check.stderr.contains('\x1b'));
    if check.code == 0 {
        assert!(
            check
                .stdout
                .contains(r"$'ci.variable=DOCKGUARD_REBUILD=1\033[2J'"),
            "pasting runs exactly the option: {}",
            check.stdout
        );
    }
}

#[test]
fn toml_key_names_are_escaped_in_errors() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("cfg", &[(".dockguard.toml", "\"\\u001b[2Jx\" = 1\n")]);
    let run = r.dockguard(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains('\x1b'), "raw escape:\n{}", run.stderr);
    assert!(run.stderr.contains("\\x1b[2Jx"), "{}", run.stderr);
}

#[test]
fn step_summary_renders_no_links_or_images_from_push_option() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let tip = r.commit("x", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let evil = "ci.variable=DOCKGUARD_REBUILD=1 ![x](https://evil.example/x.png) [y](https://evil.example/) <img src=x>";
    r.git(&["config", "dockguard.push-option", evil]);
    let summary = r.scratch("summary.md");
    let run = r.dockguard_env(
        &["ci", "--no-fetch", "--strict"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/feature"),
            ("GITHUB_REF_NAME", "feature"),
            ("GITHUB_SHA", &tip.to_string()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 1, "--strict fails: {}", run.stderr);
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.contains("evil.example"), "the option is shown: {md}");
    // Outside code spans (odd segments between backticks) no Markdown or HTML from it.
    for (i, plain) in md.split('`').enumerate() {
        if i % 2 == 0 {
            for bad in ["](", "<img", "evil.example"] {
                assert!(
                    !plain.contains(bad),
                    "{bad:?} rendered outside a code span:\n{md}"
                );
            }
        }
    }
}
