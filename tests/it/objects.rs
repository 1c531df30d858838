//! The commit headers history walks read (parents, tree, committer time) are exactly
//! what libgit2's commit parser says, for every commit of a repository packed with long
//! delta chains and messages.

use std::collections::HashSet;

use dockguard::parts::Objects;
use git2::{ObjectType, Oid};

use crate::fixture::{git, TestRepo};

#[test]
fn every_commit_header_reads_as_libgit2_parses_it() {
    let r = TestRepo::new();
    for i in 0..60 {
        let dir = i % 7;
        r.commit(
            &format!("commit {i}\n\nA longer message body, line one.\nLine two of it.\n"),
            &[
                (&format!("d{dir}/f{}.c", i % 5), &format!("rev {i}\n")),
                ("top.txt", &format!("{i}\n")),
            ],
        );
    }
    git(r.path(), &["repack", "-adfq", "--depth=50", "--window=50"]);
    let listing = git(r.path(), &["rev-list", "--objects", "--all"]);
    let mut trees = Vec::new();
    let mut commits = Vec::new();
    let mut seen = HashSet::new();
    for line in listing.lines() {
        let oid = Oid::from_str(&line[..40]).expect("oid");
        if !seen.insert(oid) {
            continue;
        }
        match r.repo.find_object(oid, None).expect("object").kind() {
            Some(ObjectType::Tree) => trees.push(oid),
            Some(ObjectType::Commit) => commits.push(oid),
            _ => {}
        }
    }
    let mut objects = Objects::new(&r.repo);
    let odb = r.repo.odb().expect("odb");
    for t in &trees {
        let ours = objects.tree(*t).expect("tree");
        assert_eq!(
            ours.as_slice(),
            odb.read(*t).expect("read").data(),
            "tree {t}"
        );
    }
    for c in &commits {
        let h = objects.commit_header(*c).expect("commit");
        let commit = r.repo.find_commit(*c).expect("commit");
        assert_eq!(
            h.parents,
            commit.parent_ids().collect::<Vec<_>>(),
            "commit {c}"
        );
        assert_eq!(h.time, commit.committer().when().seconds());
        assert_eq!(h.tree, commit.tree_id());
    }
    assert!(commits.len() >= 60 && !trees.is_empty());

    // The packed trees really are delta chains (otherwise this test proves little).
    let verify = std::process::Command::new("git")
        .current_dir(r.path())
        .args(["verify-pack", "-v"])
        .arg(
            std::fs::read_dir(r.repo.path().join("objects/pack"))
                .expect("pack dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "idx"))
                .expect("idx"),
        )
        .output()
        .expect("verify-pack");
    let text = String::from_utf8_lossy(&verify.stdout);
    let deltified_trees = text
        .lines()
        .filter(|l| {
            l.split_whitespace().nth(1) == Some("tree") && l.split_whitespace().count() >= 7
        })
        .count();
    assert!(
        deltified_trees > 20,
        "want many deltified trees, got {deltified_trees}"
    );
}
