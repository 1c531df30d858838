//! The proof: a real builder as the oracle.
//!
//! Generated repositories ([`generate`], one class per seed) get random changes on a
//! branch:
//! - contexts: at the root or in a directory, dockerfiles beside the context or elsewhere
//!   with the build declared in a CI file, a compose file or a rule, or undeclared and
//!   widened; symlinks to files, to directories and out of the context; `.dockerignore`
//!   and `<dockerfile>.dockerignore`; COPY/ADD forms, wildcards, ARG defaults,
//!   multi-stage `--from`, bind mounts; a submodule;
//! - stages: stages built FROM and copied `--from` others, unused ones, a declared build
//!   of the last stage or an undeclared one of any `--target`, ONBUILD in a base stage;
//! - variables: several assignments in one ENV/ARG, ENV and ARG of one name, ARGs without
//!   a default passed by the declaration's `--build-arg` or not, ARGs in a child stage;
//! - wildcards: `COPY pkg.json yarn.lock* …` matching nothing in a declared context.
//!
//! Both commits are exported to disk (the submodule's content from its own repository) and
//! built by a real `docker build`, BuildKit (`--output type=local`) or the legacy builder
//! (`docker export`), or both where they read differently; the image content is `/data`'s
//! listing (type, mode, content hash, link target). Properties, both directions: whenever
//! the content differs for a builder (or only one side builds), dockguard says the image
//! is affected and its content tag differs (asserted: no miss); and a change no declared
//! build reads (the content is the same for every builder) is "not affected" (counted,
//! per class; for the declared builds of the classes above it is asserted, except where
//! current BuildKit, which is not this machine's, would read a file these builders do
//! not, or a value comes from the base image's environment, which is not in the
//! repository: there dockguard must count what it may be).
//!
//! dockerd is started here with its own data root, exec root, socket and pidfile, no
//! bridge and no iptables, and stopped by pid ([`Dockerd`], a Drop guard), so that this
//! can later move onto a shared harness. `DOCKGUARD_DIFF_CASES` and `DOCKGUARD_DIFF_SEED`
//! choose how many cases and which; `DOCKGUARD_DIFF_ONLY=SEED` runs the one case a
//! failure names.

mod generate;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::fixture::TestRepo;
use crate::trees::{commit_edits, Edit};

/// Debian's CLI (the machine's newer /usr/local/bin/docker lacks buildx/BuildKit here).
const DOCKER: &str = "/usr/bin/docker";

/// A dockerd of our own, stopped by pid on drop.
struct Dockerd {
    dir: PathBuf,
    child: std::process::Child,
    socket: PathBuf,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        let dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("dockerd is required (apt-get install --no-install-recommends docker.io; ./test.sh does it)")
            });
        assert!(
            Path::new(DOCKER).exists(),
            "{DOCKER} (Debian's docker.io CLI) is required; ./test.sh installs it"
        );
        let data = dir.join("data");
        let exec = dir.join("exec");
        std::fs::create_dir_all(&data).expect("data root");
        std::fs::create_dir_all(&exec).expect("exec root");
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("log");
        let child = Command::new(dockerd)
            .arg("--data-root")
            .arg(&data)
            .arg("--exec-root")
            .arg(&exec)
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver",
                "overlay2",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let d = Dockerd {
            dir: dir.to_path_buf(),
            child,
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if d.docker(&["version"]).status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within 30 s:\n{}",
                std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", self.dir.join("cli"))
            .stdin(Stdio::null());
        c
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        self.cmd().args(args).output().expect("run docker")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Stopped by its pid: TERM, then KILL after 15 s.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // What it may leave mounted under our directories (nsfs under exec-root, overlays).
        let prefix = self.dir.to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
}

/// xorshift64*: reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// How the build is declared to dockguard.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Declared {
    /// The dockerfile is in its context directory: nothing to declare.
    Beside,
    /// A `.gitlab-ci.yml` script runs `docker build -f … CONTEXT`.
    Ci,
    /// A compose file's `build:`.
    Compose,
    /// An `[[images.rule]]` `context`.
    Rule,
    /// Not declared: the dockerfile's directory holds no source, so the guess is widened.
    Widened,
}

/// What a generator exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Contexts, declarations, links, ignore files, COPY forms.
    Contexts,
    /// Stages and targets.
    Stages,
    /// ENV and ARG forms, build arguments.
    Vars,
    /// A wildcard matching nothing in a declared context.
    Wildcard,
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    class: Class,
    /// The builders it is built with (true: BuildKit), each compared on its own.
    builders: Vec<bool>,
    declared: Declared,
    context: String,
    dockerfile: String,
    /// The real build's `--target` (undeclared builds only: dockguard cannot see it).
    target: Option<String>,
    /// The real build's `--build-arg`s (its declaration passes them too).
    args: Vec<(String, String)>,
    base: Vec<(String, Node)>,
    tip: Vec<(String, Node)>,
    changes: Vec<String>,
    /// Why dockguard must count a file these builders do not read: current BuildKit (not
    /// this machine's) reads it, or it depends on the base image's environment.
    newer: Option<&'static str>,
}

impl Case {
    /// A declared build of a class whose reading is exact.
    fn exact(&self) -> bool {
        self.class != Class::Contexts && self.declared == Declared::Ci && self.newer.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    File(String, bool),
    Link(String),
    Gitlink(usize),
}

fn at(ctx: &str, p: &str) -> String {
    if ctx.is_empty() {
        p.to_owned()
    } else {
        format!("{ctx}/{p}")
    }
}

fn edits(files: &[(String, Node)], subs: &[Oid]) -> Vec<(String, Node, String)> {
    files
        .iter()
        .map(|(p, n)| {
            let id = match n {
                Node::Gitlink(i) => subs[*i].to_string(),
                _ => String::new(),
            };
            (p.clone(), n.clone(), id)
        })
        .collect()
}

fn commit_files(
    r: &TestRepo,
    refname: &str,
    parents: &[Oid],
    files: &[(String, Node)],
    subs: &[Oid],
    time: i64,
) -> Oid {
    let owned = edits(files, subs);
    let list: Vec<Edit<'_>> = owned
        .iter()
        .map(|(p, n, id)| match n {
            Node::File(c, _) => Edit::File(p, c),
            Node::Link(t) => Edit::Link(p, t),
            Node::Gitlink(_) => Edit::Gitlink(p, id),
        })
        .collect();
    let oid = commit_edits(r, Some(refname), parents, None, &list, time);
    // Executable bits: the Edit DSL writes plain blobs; set the mode where asked.
    let exec: Vec<&String> = files
        .iter()
        .filter(|(_, n)| matches!(n, Node::File(_, true)))
        .map(|(p, _)| p)
        .collect();
    if exec.is_empty() {
        return oid;
    }
    let repo = &r.repo;
    let commit = repo.find_commit(oid).expect("commit");
    let tree = commit.tree().expect("tree");
    let mut b = git2::build::TreeUpdateBuilder::new();
    for p in exec {
        let e = tree.get_path(Path::new(p)).expect("entry");
        b.upsert(p.as_str(), e.id(), git2::FileMode::BlobExecutable);
    }
    let new_tree = repo
        .find_tree(b.create_updated(repo, &tree).expect("tree"))
        .expect("tree");
    let sig = commit.committer().to_owned();
    let parents: Vec<git2::Commit<'_>> = parents
        .iter()
        .map(|p| repo.find_commit(*p).expect("p"))
        .collect();
    let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let fixed = repo
        .commit(None, &sig, &sig, "edit", &new_tree, &refs)
        .expect("commit");
    repo.reference(refname, fixed, true, "exec bits")
        .expect("ref");
    fixed
}

/// Writes a commit's tree to `dir` as a checkout would (submodules from their repository).
fn export(repo: &Repository, sub: &Repository, commit: Oid, dir: &Path) {
    std::fs::create_dir_all(dir).expect("export dir");
    let tree = repo
        .find_commit(commit)
        .expect("commit")
        .tree()
        .expect("tree");
    tree.walk(TreeWalkMode::PreOrder, |root, e| {
        let path = dir.join(root).join(e.name().expect("utf-8 name"));
        match (e.kind(), e.filemode()) {
            (Some(ObjectType::Tree), _) => std::fs::create_dir_all(&path).expect("mkdir"),
            (Some(ObjectType::Commit), _) => export_tree(
                sub,
                sub.find_commit(e.id()).expect("sub commit").tree_id(),
                &path,
            ),
            (_, 0o120000) => {
                let blob = repo.find_blob(e.id()).expect("link");
                let target = String::from_utf8_lossy(blob.content()).into_owned();
                std::os::unix::fs::symlink(target, &path).expect("symlink");
            }
            (_, mode) => {
                let blob = repo.find_blob(e.id()).expect("blob");
                std::fs::write(&path, blob.content()).expect("write");
                let perm = if mode == 0o100755 { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm))
                    .expect("chmod");
            }
        }
        TreeWalkResult::Ok
    })
    .expect("walk");
}

fn export_tree(repo: &Repository, tree: Oid, dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let tree = repo.find_tree(tree).expect("tree");
    for e in tree.iter() {
        let path = dir.join(e.name().expect("name"));
        if e.kind() == Some(ObjectType::Tree) {
            export_tree(repo, e.id(), &path);
        } else {
            std::fs::write(&path, repo.find_blob(e.id()).expect("blob").content()).expect("write");
        }
    }
}

/// `/data` of a built image as a listing: type, permissions, content hash, link target.
fn listing(root: &Path) -> String {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{rel}/{}", e.file_name().to_string_lossy());
            let meta = std::fs::symlink_metadata(e.path()).expect("meta");
            let perm = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(e.path()).expect("readlink");
                out.push(format!("l {name} -> {}", t.display()));
            } else if meta.is_dir() {
                out.push(format!("d {name} {perm:o}"));
                walk(&e.path(), &name, out);
            } else {
                let bytes = std::fs::read(e.path()).expect("read");
                let id = Oid::hash_object(ObjectType::Blob, &bytes).expect("hash");
                out.push(format!("f {name} {perm:o} {id}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("data"), "", &mut out);
    out.join("\n")
}

/// Builds and returns the image's listing, or `None` when the build fails.
fn build(
    d: &Dockerd,
    case: &Case,
    buildkit: bool,
    src: &Path,
    work: &Path,
    tag: &str,
) -> Option<String> {
    let out = work.join(format!("out-{tag}"));
    let ctx = if case.context.is_empty() {
        src.to_path_buf()
    } else {
        src.join(&case.context)
    };
    let file = src.join(&case.dockerfile);
    let mut opts: Vec<String> = Vec::new();
    if let Some(t) = &case.target {
        opts.extend(["--target".into(), t.clone()]);
    }
    for (k, v) in &case.args {
        opts.extend(["--build-arg".into(), format!("{k}={v}")]);
    }
    if buildkit {
        let run = d
            .cmd()
            .env("DOCKER_BUILDKIT", "1")
            .args(["build", "--network", "host", "--progress", "plain", "-o"])
            .arg(format!("type=local,dest={}", out.display()))
            .args(&opts)
            .arg("-f")
            .arg(&file)
            .arg(&ctx)
            .output()
            .expect("docker build");
        run.status.success().then(|| listing(&out))
    } else {
        let image = format!("dg-case:{}-{tag}", case.seed);
        let run = d
            .cmd()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &image])
            .args(&opts)
            .arg("-f")
            .arg(&file)
            .arg(&ctx)
            .output()
            .expect("docker build");
        if !run.status.success() {
            return None;
        }
        let created = d.docker(&["create", &image, "/bin/true"]);
        let id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
        std::fs::create_dir_all(&out).expect("out");
        let tar = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "DOCKER_HOST=unix://{} {DOCKER} export {id} | tar -x -C {} -f -",
                d.socket.display(),
                out.display()
            ))
            .env("DOCKER_CONFIG", d.dir.join("cli"))
            .status()
            .expect("export");
        assert!(tar.success(), "docker export of {image}");
        let _ = d.docker(&["rm", &id]);
        let _ = d.docker(&["rmi", &image]);
        Some(listing(&out))
    }
}

struct Outcome {
    differs: bool,
    affected: bool,
    tags_differ: bool,
}

fn run_case(d: &Dockerd, case: &Case, work: &Path, subs: &(Repository, Vec<Oid>)) -> Outcome {
    let r = TestRepo::new();
    let base = commit_files(
        &r,
        "refs/heads/master",
        &[],
        &case.base,
        &subs.1,
        1_700_000_000,
    );
    r.remote_ref("origin", "master", base);
    let tip = commit_files(
        &r,
        "refs/heads/feature",
        &[base],
        &case.tip,
        &subs.1,
        1_700_000_100,
    );
    std::fs::create_dir_all(work).expect("work");
    let (bsrc, tsrc) = (work.join("base"), work.join("tip"));
    export(&r.repo, &subs.0, base, &bsrc);
    export(&r.repo, &subs.0, tip, &tsrc);
    let differs = case.builders.iter().any(|&bk| {
        let which = if bk { "bk" } else { "legacy" };
        let before = build(d, case, bk, &bsrc, work, &format!("base-{which}"));
        let after = build(d, case, bk, &tsrc, work, &format!("tip-{which}"));
        before != after
    });
    let images = |rev: &str| {
        let run = r.dockguard(&["images", "--format", "json", rev]);
        assert_eq!(run.code, 0, "seed {}: {}", case.seed, run.stderr);
        run.json()
    };
    let find = |v: &serde_json::Value| {
        v["images"].as_array().and_then(|a| {
            a.iter()
                .find(|i| i["dockerfile"] == case.dockerfile.as_str())
                .cloned()
        })
    };
    let t = images("feature");
    let b = images("master");
    let ti = find(&t);
    let bi = find(&b);
    let affected = ti.as_ref().is_none_or(|i| i["affected"] == true);
    let tag = |i: &Option<serde_json::Value>| i.as_ref().map(|i| i["content_tag"].clone());
    let tags_differ = tag(&ti) != tag(&bi) || tag(&ti).is_some_and(|t| t.is_null());
    let _ = std::fs::remove_dir_all(work);
    Outcome {
        differs,
        affected,
        tags_differ,
    }
}

/// A submodule repository with three commits of different content.
fn submodule(dir: &Path) -> (Repository, Vec<Oid>) {
    let repo = Repository::init_bare(dir).expect("sub repo");
    let mut commits = Vec::new();
    let sig = git2::Signature::new("S", "s@example.com", &git2::Time::new(1_700_000_000, 0))
        .expect("sig");
    for i in 0..3 {
        let s = repo.blob(format!("sub v{i}\n").as_bytes()).expect("blob");
        let t = repo.blob(b"inner\n").expect("blob");
        let mut inner = repo.treebuilder(None).expect("tb");
        inner.insert("t.txt", t, 0o100644).expect("insert");
        let inner = inner.write().expect("inner");
        let mut tb = repo.treebuilder(None).expect("tb");
        tb.insert("s.txt", s, 0o100644).expect("insert");
        tb.insert("inner", inner, 0o040000).expect("insert");
        let tree = repo.find_tree(tb.write().expect("tree")).expect("tree");
        let parents: Vec<git2::Commit<'_>> = commits
            .last()
            .map(|c| repo.find_commit(*c).expect("c"))
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        commits.push(
            repo.commit(None, &sig, &sig, "sub", &tree, &refs)
                .expect("commit"),
        );
    }
    (repo, commits)
}

#[test]
#[ignore = "needs dockerd"]
fn a_real_builder_never_sees_a_change_dockguard_misses() {
    assert!(
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))),
        "the differential test starts its own dockerd, which needs root"
    );
    // One case, by the seed a failure prints.
    let only: Option<u64> = std::env::var("DOCKGUARD_DIFF_ONLY")
        .ok()
        .and_then(|s| s.parse().ok());
    let cases: usize = std::env::var("DOCKGUARD_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if only.is_some() { 1 } else { 160 });
    let seed: u64 = std::env::var("DOCKGUARD_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let top = tempfile::Builder::new()
        .prefix("dockguard-diff-")
        .tempdir()
        .expect("tempdir");
    let started = Instant::now();
    let d = Dockerd::start(&top.path().join("dockerd"));
    // The base image: busybox on scratch (no registry needed).
    let base = top.path().join("base");
    std::fs::create_dir_all(&base).expect("base");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is required (./test.sh installs it)");
    std::fs::copy(busybox, base.join("busybox")).expect("copy busybox");
    std::fs::write(base.join("Dockerfile"), "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n").expect("df");
    let out = d
        .cmd()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "dg-base"])
        .arg(&base)
        .output()
        .expect("build base");
    assert!(
        out.status.success(),
        "base image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sub_dir = top.path().join("sub.git");
    let sub_commits = submodule(&sub_dir).1;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(Case, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..3 {
            let (d, next, results) = (&d, &next, &results);
            let (sub_dir, sub_commits) = (&sub_dir, &sub_commits);
            let work = top.path().join(format!("w{w}"));
            s.spawn(move || {
                // Each worker needs its own submodule handle (git2 is not Sync).
                let sub = (
                    Repository::open_bare(sub_dir).expect("sub"),
                    sub_commits.clone(),
                );
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= cases {
                        break;
                    }
                    let case_seed = only.unwrap_or(seed * 1_000_003 + i as u64);
                    let case = generate::generate(case_seed, sub.1.len());
                    let o = run_case(d, &case, &work.join(i.to_string()), &sub);
                    results.lock().expect("results").push((case, o));
                }
            });
        }
    });
    let results = results.into_inner().expect("results");
    let differing = results.iter().filter(|(_, o)| o.differs).count();
    let misses: Vec<&(Case, Outcome)> = results
        .iter()
        .filter(|(_, o)| o.differs && (!o.affected || !o.tags_differ))
        .collect();
    let builds: usize = results.iter().map(|(c, _)| 2 * c.builders.len()).sum();
    eprintln!(
        "differential: {} cases, {builds} builds, in {:.0?}; image changed in {differing}; dockguard missed {}",
        results.len(),
        started.elapsed(),
        misses.len()
    );
    // Over-approximations: affected although the content is the same for every builder.
    let mut classes: BTreeMap<(Class, &str), (usize, usize, usize)> = BTreeMap::new();
    for (c, o) in &results {
        let kind = match (c.exact(), c.newer) {
            (true, _) => "declared",
            (false, Some(why)) if c.declared == Declared::Ci => why,
            _ => "guessed, or contexts",
        };
        let e = classes.entry((c.class, kind)).or_default();
        e.0 += 1;
        e.1 += usize::from(o.differs);
        e.2 += usize::from(!o.differs && o.affected);
    }
    for ((class, kind), (n, changed, over)) in &classes {
        eprintln!(
            "  {class:?} ({kind}): {n} cases, image changed in {changed}, affected although nothing read changed: {over}"
        );
    }
    for (c, o) in &misses {
        eprintln!(
            "MISS seed {} ({:?} {:?}, context {:?}, dockerfile {}, builders {:?}, target {:?}, args {:?}): {:?}; affected {}, tags differ {}\nbase: {:#?}\ntip: {:#?}",
            c.seed, c.class, c.declared, c.context, c.dockerfile, c.builders, c.target, c.args, c.changes, o.affected, o.tags_differ, c.base, c.tip
        );
    }
    let over_exact: Vec<&(Case, Outcome)> = results
        .iter()
        .filter(|(c, o)| c.exact() && !o.differs && o.affected)
        .collect();
    for (c, _) in over_exact.iter().copied().chain(
        results
            .iter()
            .filter(|(c, o)| !c.exact() && !o.differs && o.affected)
            .filter(|_| std::env::var_os("DOCKGUARD_DIFF_VERBOSE").is_some()),
    ) {
        let df = c
            .base
            .iter()
            .find(|(p, _)| *p == c.dockerfile)
            .map(|(_, n)| n);
        eprintln!(
            "over: seed {} {:?} {:?} ctx {:?} {} builders {:?} target {:?} args {:?}: {:?}\n{df:?}",
            c.seed,
            c.class,
            c.declared,
            c.context,
            c.dockerfile,
            c.builders,
            c.target,
            c.args,
            c.changes
        );
    }
    assert_eq!(results.len(), cases);
    assert!(
        only.is_some() || differing > cases / 10,
        "too few cases change the image ({differing}): the generator is too tame"
    );
    assert!(
        misses.is_empty(),
        "{} cases where the image changed and dockguard did not say so",
        misses.len()
    );
    assert!(
        over_exact.is_empty(),
        "{} declared builds judged affected although nothing they read changed",
        over_exact.len()
    );
}
