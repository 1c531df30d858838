//! What a tip is compared with: every merge-base of a criss-cross history, and both
//! sides' rules when the branch edits `.dockguard.toml`.

use crate::fixture::{git, TestRepo};
use crate::trees::{commit_edits, Edit};

fn check(r: &TestRepo, rev: &str) -> serde_json::Value {
    let run = r.dockguard(&["check", "--format", "json", rev]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

/// R; B1 (touches notes) then A1 (bumps the dockerfile, newer); master merges A1+B1,
/// feature merges B1+A1: two merge-bases, git prints the newer A1, whose dockerfile the
/// tip has. B1's differs.
#[test]
fn criss_cross_history_is_judged_against_every_merge_base() {
    let r = TestRepo::new();
    let t0 = 1_700_000_000;
    let root = commit_edits(
        &r,
        None,
        &[],
        None,
        &[
            Edit::File("docker/Dockerfile", "FROM debian:12\n"),
            Edit::File("notes", "0\n"),
        ],
        t0,
    );
    let b1 = commit_edits(
        &r,
        None,
        &[root],
        Some(root),
        &[Edit::File("notes", "b\n")],
        t0 + 100,
    );
    let a1 = commit_edits(
        &r,
        None,
        &[root],
        Some(root),
        &[Edit::File("docker/Dockerfile", "FROM debian:13\n")],
        t0 + 200,
    );
    let merged = [
        Edit::File("docker/Dockerfile", "FROM debian:13\n"),
        Edit::File("notes", "b\n"),
    ];
    let m1 = commit_edits(&r, None, &[a1, b1], Some(root), &merged, t0 + 300);
    let m2 = commit_edits(&r, None, &[b1, a1], Some(root), &merged, t0 + 400);
    r.remote_ref("origin", "master", m1);
    r.branch("feature", m2);
    let all = git(
        r.path(),
        &["merge-base", "--all", &m1.to_string(), &m2.to_string()],
    );
    assert_eq!(
        all.lines().count(),
        2,
        "a criss-cross has two merge-bases: {all}"
    );
    assert_eq!(
        git(r.path(), &["merge-base", &m1.to_string(), &m2.to_string()]),
        a1.to_string(),
        "git picks the newer base, whose dockerfile equals the tip's"
    );

    let v = check(&r, "feature");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let t = &v["targets"][0];
    assert_eq!(v["rebuild"], true, "differs from the merge-base B1: {v:#}");
    assert_eq!(
        t["merge_base"],
        a1.to_string(),
        "merge_base stays git's choice"
    );
    let bases: Vec<&str> = t["merge_bases"]
        .as_array()
        .expect("merge_bases")
        .iter()
        .filter_map(|b| b.as_str())
        .collect();
    assert_eq!(bases, vec![a1.to_string(), b1.to_string()]);
    assert_eq!(t["changes"][0]["path"], "docker/Dockerfile");
    assert!(
        t["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.contains("all 2 merge-bases"))),
        "{t:#}"
    );
    let human = r.dockguard(&["check", "feature"]);
    assert!(
        human.stdout.contains("all 2 merge-bases"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_branch_cannot_exclude_its_own_dockerfile_change() {
    let (r, base) = crate::fixture::with_master();
    r.switch_new("sneaky", base);
    r.commit(
        "bump and hide it",
        &[
            ("docker/Dockerfile", "FROM debian:13\n"),
            (".dockguard.toml", "[match]\nexclude = [\"docker/**\"]\n"),
        ],
    );
    let v = check(&r, "HEAD");
    crate::schema::assert_valid(&crate::schema::validator(), &v);
    let t = &v["targets"][0];
    assert_eq!(v["rebuild"], true, "the merge-base's rules count it: {v:#}");
    assert_eq!(t["changes"][0]["path"], "docker/Dockerfile");
    assert_eq!(t["config_change"]["path"], ".dockguard.toml");
    assert_eq!(t["config_change"]["kind"], "added");
    assert!(
        t["reasons"].as_array().expect("reasons").iter().any(|x| x
            .as_str()
            .is_some_and(|s| s.contains("merge-base's rules and the tip's"))),
        "{t:#}"
    );
    assert_eq!(t["images"][0]["name"], "docker", "{t:#}");

    // The other way round: the tip's rules add what the base's did not count.
    r.switch_new("widen", base);
    r.commit(
        "init",
        &[(".dockguard.toml", "[match]\ninputs = [\"src/**\"]\n")],
    );
    r.remote_ref("origin", "master", r.head());
    r.commit(
        "drop the rule and edit",
        &[
            (".dockguard.toml", "# no more inputs\n"),
            ("src/main.c", "int main(void) { return 1; }\n"),
        ],
    );
    let v = check(&r, "HEAD");
    assert_eq!(v["rebuild"], true, "{v:#}");
    assert_eq!(v["targets"][0]["config_change"]["kind"], "modified");

    // A branch that leaves the file alone reports no config change.
    r.switch_new("plain", base);
    r.commit("docs", &[("README", "x\n")]);
    let v = check(&r, "HEAD");
    assert!(v["targets"][0].get("config_change").is_none(), "{v:#}");
    assert_eq!(v["rebuild"], false);
}
