//! The commit-graph merge-base agrees with `git merge-base` on random histories: single
//! graph files, split chains, graphs that cover only part of history, octopus merges,
//! unrelated roots and clock skew.

use std::collections::HashSet;

use dockguard::parts::History;
use dockguard::parts::Objects;
use git2::{Oid, Signature, Time};

use crate::fixture::{git, git_output, TestRepo};

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Builds `n` commits with random parents; returns them in creation order.
fn random_dag(r: &TestRepo, n: usize, seed: u64) -> Vec<Oid> {
    random_dag_on(r, n, seed, &[])
}

/// Like [`random_dag`], continuing from `earlier` commits.
fn random_dag_on(r: &TestRepo, n: usize, seed: u64, earlier: &[Oid]) -> Vec<Oid> {
    let mut rng = Rng(seed);
    let tree = {
        let mut tb = r.repo.treebuilder(None).expect("tb");
        let blob = r.repo.blob(b"x").expect("blob");
        tb.insert("f", blob, 0o100644).expect("insert");
        r.repo.find_tree(tb.write().expect("tree")).expect("tree")
    };
    let mut commits: Vec<Oid> = earlier.to_vec();
    for i in earlier.len()..earlier.len() + n {
        let nparents = if i == 0 || rng.below(40) == 0 {
            0 // a new root now and then: unrelated histories
        } else {
            match rng.below(10) {
                0 | 1 => 2,
                2 => 3,
                _ => 1,
            }
        };
        let mut parents = Vec::new();
        for _ in 0..nparents {
            // Mostly recent commits, sometimes far back.
            let back = if rng.below(4) == 0 {
                rng.below(i)
            } else {
                rng.below(i.min(6))
            };
            let p = commits[i - 1 - back];
            if !parents.contains(&p) {
                parents.push(p);
            }
        }
        // Mostly increasing time, with some skew.
        let skew = if rng.below(8) == 0 { -5000 } else { 0 };
        let t = 1_600_000_000 + i as i64 * 100 + skew;
        let sig = Signature::new("t", "t@example.com", &Time::new(t, 0)).expect("sig");
        let pc: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| r.repo.find_commit(*p).expect("parent"))
            .collect();
        let refs: Vec<&git2::Commit<'_>> = pc.iter().collect();
        let oid = r
            .repo
            .commit(None, &sig, &sig, &format!("c{i}"), &tree, &refs)
            .expect("commit");
        r.repo
            .reference(&format!("refs/keep/{i}"), oid, true, "t")
            .expect("ref");
        commits.push(oid);
    }
    commits.split_off(earlier.len())
}

fn write_graph(r: &TestRepo, commits: &[Oid], extra: &[&str]) {
    let input: String = commits.iter().map(|c| format!("{c}\n")).collect();
    let mut args = vec!["commit-graph", "write", "--stdin-commits"];
    args.extend_from_slice(extra);
    let mut cmd = std::process::Command::new("git");
    crate::fixture::hermetic(&mut cmd)
        .current_dir(r.path())
        .args(&args)
        .stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn git");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success(), "git {args:?}");
}

fn git_bases(r: &TestRepo, a: Oid, b: Oid) -> HashSet<Oid> {
    let out = git_output(
        r.path(),
        &["merge-base", "--all", &a.to_string(), &b.to_string()],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Oid::from_str(l).expect("oid"))
        .collect()
}

/// Our merge-base must be one of git's (`--all`), and "none" exactly when git has none.
fn check_pair(history: &History<'_>, r: &TestRepo, a: Oid, b: Oid) -> Option<Oid> {
    let mut objects = Objects::new(&r.repo);
    let ours = history.merge_base(&mut objects, a, b).expect("merge-base");
    let theirs = git_bases(r, a, b);
    // Every base (criss-cross merges have several): exactly git's `--all` set, ours first.
    let all = history
        .merge_bases(&mut objects, a, b)
        .expect("merge-bases");
    assert_eq!(
        all.iter().copied().collect::<HashSet<_>>(),
        theirs,
        "{a} {b}: merge_bases differ from git merge-base --all"
    );
    assert_eq!(
        all.first().copied(),
        ours,
        "{a} {b}: the first is merge_base's"
    );
    match ours {
        None => assert!(
            theirs.is_empty(),
            "{a} {b}: we found none, git found {theirs:?}"
        ),
        Some(m) => assert!(
            theirs.contains(&m),
            "{a} {b}: ours {m} not among git's {theirs:?}"
        ),
    }
    ours
}

fn compare(r: &TestRepo, commits: &[Oid], seed: u64, pairs: usize, graph: bool) {
    let history = History::new(&r.repo);
    assert_eq!(history.uses_graph(), graph, "is the commit-graph in use?");
    let mut rng = Rng(seed);
    let mut agreed_exactly = 0;
    for _ in 0..pairs {
        let a = commits[rng.below(commits.len())];
        let b = commits[rng.below(commits.len())];
        if let Some(m) = check_pair(&history, r, a, b) {
            let single = git(r.path(), &["merge-base", &a.to_string(), &b.to_string()]);
            if single == m.to_string() {
                agreed_exactly += 1;
            }
        }
    }
    assert!(
        agreed_exactly > 0,
        "no pair had a merge-base; the DAG is too sparse to test"
    );
}

#[test]
fn merge_base_without_a_graph_matches_git() {
    let r = TestRepo::new();
    let mut commits = random_dag(&r, 300, 23);
    // Most commits packed (read straight from the pack), the newest loose (via libgit2).
    git(r.path(), &["repack", "-adq"]);
    commits.extend(random_dag_on(&r, 40, 31, &commits));
    assert!(
        r.repo
            .path()
            .join("objects/pack")
            .read_dir()
            .expect("pack dir")
            .count()
            >= 2
    );
    compare(&r, &commits, 29, 200, false);
}

#[test]
fn graph_merge_base_matches_git_on_a_single_v2_graph() {
    let r = TestRepo::new();
    let commits = random_dag(&r, 300, 7);
    write_graph(&r, &commits, &[]);
    assert!(r.repo.path().join("objects/info/commit-graph").exists());
    compare(&r, &commits, 11, 150, true);
}

#[test]
fn graph_merge_base_matches_git_on_a_split_chain_and_newer_commits() {
    let r = TestRepo::new();
    let commits = random_dag(&r, 300, 99);
    write_graph(&r, &commits[..120], &["--split"]);
    write_graph(&r, &commits[..240], &["--split=no-merge"]);
    // The last 60 commits are not in any graph layer: parsed by libgit2, as git does.
    let chain = std::fs::read_to_string(
        r.repo
            .path()
            .join("objects/info/commit-graphs/commit-graph-chain"),
    )
    .expect("chain");
    assert_eq!(chain.lines().count(), 2, "two layers: {chain}");
    compare(&r, &commits, 5, 150, true);
}

#[test]
fn a_damaged_graph_is_ignored_and_answers_stay_right() {
    let r = TestRepo::new();
    let commits = random_dag(&r, 60, 3);
    write_graph(&r, &commits, &[]);
    let path = r.repo.path().join("objects/info/commit-graph");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(bytes.len() / 2);
    let mut perms = std::fs::metadata(&path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).expect("chmod");
    std::fs::write(&path, bytes).expect("write");
    let history = History::new(&r.repo);
    assert!(!history.uses_graph(), "a truncated graph must be rejected");
    let mut rng = Rng(17);
    for _ in 0..30 {
        let (a, b) = (commits[rng.below(60)], commits[rng.below(60)]);
        check_pair(&history, &r, a, b);
    }
}
