//! The on-disk memo of where the dockerfiles are (.git/dockguard/dockerfiles-v4) only
//! ever makes image discovery faster: warm, corrupt, stale-pattern and missing memos all
//! give the same verdicts as none.

use crate::fixture::{with_master, TestRepo};

fn verdict(r: &TestRepo) -> serde_json::Value {
    let run = r.dockguard(&["check", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut v = run.json();
    // Only the judgement matters here.
    v["targets"][0]["images"].take()
}

#[test]
fn memo_is_written_reused_and_never_changes_an_answer() {
    let (r, base) = with_master();
    r.commit(
        "images",
        &[
            ("img/a/Dockerfile", "FROM debian\nCOPY app.sh /\n"),
            ("img/a/app.sh", "echo a\n"),
        ],
    );
    let master = r.head();
    r.remote_ref("origin", "master", master);
    let _ = base;
    r.switch_new("feature", master);
    r.commit("script", &[("img/a/app.sh", "echo b\n")]);
    let memo = r.repo.path().join("dockguard/dockerfiles-v4");
    let cold = verdict(&r);
    assert!(memo.exists(), "the memo is written");
    assert_eq!(cold[0]["name"], "a", "{cold:#}");
    assert_eq!(verdict(&r), cold, "warm memo, same answer");

    // New image in a new directory: found although the memo predates it.
    r.commit(
        "second image",
        &[
            ("img/b/Dockerfile", "FROM debian\nCOPY x.sh /\n"),
            ("img/b/x.sh", "echo x\n"),
        ],
    );
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("images")
            .iter()
            .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let warm = verdict(&r);
    assert_eq!(names(&warm), vec!["a", "b"]);

    // A corrupt memo is ignored.
    std::fs::write(&memo, b"dockguard-dockerfiles v3\ngarbage").expect("write");
    assert_eq!(verdict(&r), warm);
    // So is a missing one.
    std::fs::remove_file(&memo).expect("rm");
    assert_eq!(verdict(&r), warm);

    // Other patterns: a memo made under the old ones must not hide the new dockerfile.
    r.commit("cf", &[("img/c/build.cf", "FROM debian\n")]);
    assert_eq!(names(&verdict(&r)), vec!["a", "b"]);
    r.git(&["config", "--add", "dockguard.match.dockerfiles", "*.cf"]);
    let v = verdict(&r);
    assert_eq!(names(&v), vec!["a", "b", "build"], "{v:#}");
}

/// Parsed dockerfiles are remembered by blob id (.git/dockguard/dockerfiles-parsed): a
/// second judgement of the same trees reads no dockerfile, and the answers are the ones
/// a fresh parse gives, also once the memo is corrupt or gone.
#[test]
fn parsed_dockerfiles_are_remembered_and_never_change_an_answer() {
    const A: &str = "FROM debian\nCOPY app.sh /\n";
    let (r, _) = with_master();
    r.commit(
        "images",
        &[
            ("img/a/Dockerfile", A),
            ("img/a/app.sh", "echo a\n"),
            ("img/a/notes.txt", "n\n"),
        ],
    );
    let master = r.head();
    r.remote_ref("origin", "master", master);
    r.switch_new("feature", master);
    r.commit(
        "script and notes",
        &[("img/a/app.sh", "echo b\n"), ("img/a/notes.txt", "m\n")],
    );
    let judge = || {
        let run = r.dockguard(&["check", "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()["targets"][0].clone()
    };
    let memo = r.repo.path().join("dockguard/dockerfiles-parsed");
    let fresh = judge();
    assert_eq!(fresh["changes"][0]["path"], "img/a/app.sh", "{fresh}");
    assert_eq!(
        fresh["other_changes"], 1,
        "notes.txt is not copied: {fresh}"
    );
    assert!(memo.exists(), "the memo is written");

    // The dockerfile's blob gone: the memo knows what it says.
    let blob = git2::Oid::hash_object(git2::ObjectType::Blob, A.as_bytes()).expect("oid");
    let hex = blob.to_string();
    let loose = r
        .repo
        .path()
        .join("objects")
        .join(&hex[..2])
        .join(&hex[2..]);
    let saved = std::fs::read(&loose).expect("read the blob");
    std::fs::remove_file(&loose).expect("remove the blob");
    // Only the message's quote of the line that copies the path needs the blob itself
    // (`check` reads it to show the line, when it can): everything else is the same.
    let unquoted = |mut v: serde_json::Value| {
        if let Some(r) = v["changes"][0]["read_by"][0].as_object_mut() {
            r.remove("instruction");
        }
        v
    };
    let from_memo = judge();
    assert!(from_memo["changes"][0]["read_by"][0]
        .get("instruction")
        .is_none());
    assert_eq!(from_memo, unquoted(fresh.clone()), "answered from the memo");

    // Corrupt or missing, the memo is ignored: the blob must be read again.
    let mut bytes = std::fs::read(&memo).expect("memo");
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&memo, &bytes).expect("write");
    assert_eq!(judge()["rebuild"], true, "unreadable dockerfile: rebuild");
    std::fs::write(&loose, &saved).expect("restore the blob");
    std::fs::remove_file(&memo).expect("rm");
    assert_eq!(judge(), fresh);
    assert!(memo.exists(), "written again");
}
