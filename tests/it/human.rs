//! Human output pinned by snapshots (insta; the files are in tests/it/snapshots/): what
//! `check`, the hook, `images` and a configuration error say, word for word. A change of
//! wording fails here until its .snap diff is reviewed and accepted (`cargo insta review`,
//! or INSTA_UPDATE=always and a look at `git diff`).
//!
//! The repositories are built with pinned dates, so commit ids are stable; the temporary
//! directory is shown as [REPO].

use crate::fixture::{with_master, TestRepo};
use crate::server::dockguard_stdin;

const ZERO: &str = "0000000000000000000000000000000000000000";

fn shown(r: &TestRepo, text: &str) -> String {
    let dir = r.path().to_str().expect("utf-8");
    // The directory as given and as resolved (a /tmp that is a link).
    let real = std::fs::canonicalize(r.path()).expect("canonical");
    text.replace(real.to_str().expect("utf-8"), "[REPO]")
        .replace(dir, "[REPO]")
}

/// A branch that changes two dockerfiles and an input of each image.
fn feature() -> TestRepo {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit(
        "base image and an app on it",
        &[
            ("docker/Dockerfile", "FROM debian:13\nCOPY src /src\n"),
            ("app/Dockerfile", "FROM alpine:3\nCOPY . /app\n"),
            ("app/main.c", "int main(void) { return 1; }\n"),
        ],
    );
    r.commit(
        "edit main",
        &[("src/main.c", "int main(void) { return 2; }\n")],
    );
    r
}

#[test]
fn check_human_output() {
    let r = feature();
    let rebuild = r.dockguard(&["check"]);
    assert_eq!(rebuild.code, 0, "{}", rebuild.stderr);
    insta::assert_snapshot!("check_rebuild", shown(&r, &rebuild.stdout));
    let commits = r.dockguard(&["check", "--commits"]);
    insta::assert_snapshot!("check_rebuild_commits", shown(&r, &commits.stdout));

    let (clean, base) = with_master();
    clean.switch_new("clean", base);
    clean.commit("docs", &[("README", "hi\n")]);
    let run = clean.dockguard(&["check"]);
    insta::assert_snapshot!("check_no_rebuild", shown(&clean, &run.stdout));
    let quiet = clean.dockguard(&["check", "-q"]);
    insta::assert_snapshot!("check_no_rebuild_quiet", quiet.stdout);
}

#[test]
fn hook_block_message() {
    let r = feature();
    let tip = r.head();
    let input = format!("refs/heads/feature {tip} refs/heads/feature {ZERO}\n");
    let blocked = dockguard_stdin(
        r.path(),
        &["hook", "pre-push", "origin", "/nonexistent.git"],
        &[],
        input.as_bytes(),
    );
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    insta::assert_snapshot!("hook_block", shown(&r, &blocked.stderr));
}

#[test]
fn images_human_output() {
    let r = feature();
    let run = r.dockguard(&["images"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("images", shown(&r, &run.stdout));
}

#[test]
fn config_error() {
    let r = feature();
    std::fs::write(
        r.path().join(".dockguard.toml"),
        "[match]\ninput_regex = [\"docs/(a|b\"]\n",
    )
    .expect("write");
    let run = r.dockguard(&["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!("config_error_regex", shown(&r, &run.stderr));
}
