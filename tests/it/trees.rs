//! Commits made from trees directly (git2), for what the file-writing fixture cannot say:
//! symlinks, submodule gitlinks, merges with chosen parents and commit times.

#![allow(dead_code)]

use git2::{FileMode, Oid, Signature, Time};

use crate::fixture::TestRepo;

/// One edit of a tree.
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    /// A regular file with this content.
    File(&'a str, &'a str),
    /// A symbolic link with this target.
    Link(&'a str, &'a str),
    /// A submodule gitlink at this commit id (hex).
    Gitlink(&'a str, &'a str),
    /// Removes a path.
    Remove(&'a str),
}

/// Commits `edits` applied to the tree of `from` (or an empty tree), with `parents` and
/// a commit time of `time` seconds; moves `refname` to it when given.
pub fn commit_edits(
    r: &TestRepo,
    refname: Option<&str>,
    parents: &[Oid],
    from: Option<Oid>,
    edits: &[Edit<'_>],
    time: i64,
) -> Oid {
    let repo = &r.repo;
    let base_tree = match from {
        Some(c) => repo.find_commit(c).expect("commit").tree().expect("tree"),
        None => {
            let empty = repo.treebuilder(None).expect("tb").write().expect("empty");
            repo.find_tree(empty).expect("tree")
        }
    };
    let mut b = git2::build::TreeUpdateBuilder::new();
    for e in edits {
        match *e {
            Edit::File(p, c) => {
                let blob = repo.blob(c.as_bytes()).expect("blob");
                b.upsert(p, blob, FileMode::Blob);
            }
            Edit::Link(p, target) => {
                let blob = repo.blob(target.as_bytes()).expect("blob");
                b.upsert(p, blob, FileMode::Link);
            }
            Edit::Gitlink(p, id) => {
                b.upsert(p, Oid::from_str(id).expect("oid"), FileMode::Commit);
            }
            Edit::Remove(p) => {
                b.remove(p);
            }
        }
    }
    let tree = b.create_updated(repo, &base_tree).expect("update tree");
    let tree = repo.find_tree(tree).expect("tree");
    let sig = Signature::new("Test", "test@example.com", &Time::new(time, 0)).expect("sig");
    let parents: Vec<git2::Commit<'_>> = parents
        .iter()
        .map(|p| repo.find_commit(*p).expect("parent"))
        .collect();
    let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(refname, &sig, &sig, "edit", &tree, &refs)
        .expect("commit")
}

/// A linear commit on HEAD's branch (checked out afterwards so the work tree follows).
pub fn commit_on_head(r: &TestRepo, edits: &[Edit<'_>], time: i64) -> Oid {
    let head = r.repo.head().ok().and_then(|h| h.target());
    let parents: Vec<Oid> = head.into_iter().collect();
    let oid = commit_edits(r, Some("HEAD"), &parents, head, edits, time);
    r.repo
        .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .expect("checkout");
    oid
}
