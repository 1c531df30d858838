//! Issue #13, the attacks a push (or a prepared `.git`) can mount, each reproduced against
//! the real binary: every test here failed on the code before its fix.
//!
//! - raw output: escapes in `-v` paths, in `push_option`, in TOML key names, Markdown in the
//!   step summary;
//! - unbounded work: a huge `.dockerignore`, a huge Dockerfile, 10,000 nested directories,
//!   50,000 nested `${a:-…}`; crafted local state: a pack entry claiming 2^36 bytes;
//! - crafted local state: an emptied memo, a memo that is a link to `/dev/zero`; writes
//!   through links: a committed `dockguard.env` link, planted links at install's and the
//!   memo's temporary names, a writable hooks directory;
//! - fail-open on a limit: 10,000 COPY lines;
//! - argument injection: an upstream URL that is a git option, helper transports, schemes;
//! - tags: a branch named `latest` or like a content tag, a fork's `master` in a GitHub
//!   `pull_request_target` run.
//!
//! Tests that could eat the machine on the old code (unbounded reads and recursion) run
//! the binary under `ulimit -v`, so the old code fails by aborting, not by swapping.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use git2::Oid;

use crate::fixture::{dockguard, dockguard_bin, git, hermetic, with_master, Run, TestRepo};
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
fn step_summary_renders_no_links_or_images_from_push_option_or_workflow() {
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
            // A run by hand: where --strict applies on GitHub (a push cannot request).
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_REF", "refs/heads/feature"),
            ("GITHUB_REF_NAME", "feature"),
            ("GITHUB_SHA", &tip.to_string()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
            // On GitHub the failure names the command that reruns the workflow, whose file
            // name is the repository's: as hostile as the push option.
            (
                "GITHUB_WORKFLOW_REF",
                "o/r/.github/workflows/![x](evil.example) [y](evil.example) <img src=x>.yml@refs/heads/feature",
            ),
        ],
    );
    assert_eq!(run.code, 1, "--strict fails: {}", run.stderr);
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.contains("evil.example"), "the workflow is shown: {md}");
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

/// `dockguard check --format json` in `dir`, expecting an answer (exit 0).
fn check(dir: &Path) -> serde_json::Value {
    let run = dockguard(dir, &["check", "--format", "json"], &[]);
    assert_eq!(
        run.code, 0,
        "exit {}\n{}\n{}",
        run.code, run.stdout, run.stderr
    );
    run.json()
}

/// The binary under an address-space limit (KiB), so that unbounded allocation fails
/// instead of swapping the machine; also returns its peak resident set (KiB), since Rust's
/// `read_to_end` turns a failed allocation into an error the old code then ignored.
fn dockguard_limited(dir: &Path, args: &[&str], kib: u64) -> (Run, i64) {
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd)
        .current_dir(dir)
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(dockguard_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run dockguard under ulimit");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut s);
        s
    });
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    #[allow(unsafe_code)]
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it (and `status`) for our
    // own child, which `child` will not wait for again (it is forgotten below).
    let (rusage, waited) = unsafe {
        let mut rusage: libc::rusage = std::mem::zeroed();
        let waited = libc::wait4(pid, &mut status, 0, &mut rusage);
        (rusage, waited)
    };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let run = Run {
        code,
        stdout: String::from_utf8_lossy(&out.join().expect("stdout")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr")).into_owned(),
    };
    (
        run,
        crate::fixture::peak_beyond_this_process(rusage.ru_maxrss),
    )
}

/// master with `img/Dockerfile` (`dockerfile`) and `img/src.txt`, origin/master there;
/// then `feature` changes `img/src.txt` (and writes `extra` files first).
fn image_branch(dockerfile: &str, extra: &[(&str, &str)]) -> TestRepo {
    let r = TestRepo::new();
    let mut files = vec![("img/Dockerfile", dockerfile), ("img/src.txt", "a\n")];
    files.extend_from_slice(extra);
    let base = r.commit("base", &files);
    r.remote_ref("origin", "master", base);
    r.switch_new("feature", base);
    r.commit("change the source", &[("img/src.txt", "b\n")]);
    r
}

fn assert_limit_rebuild(v: &serde_json::Value, what: &str) {
    let t = &v["targets"][0];
    assert_eq!(t["rebuild"], true, "{v:#}");
    assert_eq!(t["base_unknown"]["reason"], "limit", "{v:#}");
    let detail = t["base_unknown"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(what), "the reason names the limit: {v:#}");
}

// ---- 8. Unbounded work --------------------------------------------------------------

#[test]
fn a_huge_dockerignore_is_a_rebuild_with_the_reason() {
    // src.txt is ignored by the first line, so a complete reading says "no rebuild";
    // past the pattern cap dockguard does not read it, and must not say that.
    let mut ignore = String::from("src.txt\n");
    for i in 0..20_000 {
        ignore.push_str(&format!("**/dir{i}/**/file{i}.*\n"));
    }
    let r = image_branch(
        "FROM scratch\nCOPY . /\n",
        &[("img/.dockerignore", &ignore)],
    );
    let v = check(r.path());
    assert_limit_rebuild(&v, "patterns");
}

#[test]
fn a_huge_dockerfile_is_a_rebuild_with_the_reason() {
    // The branch changes a file the dockerfile does not copy: a complete reading says
    // "no rebuild", but a 2 MiB dockerfile is not read at all.
    let mut dockerfile = String::from("FROM scratch\nCOPY other.txt /\n");
    while dockerfile.len() < 2 << 20 {
        dockerfile
            .push_str("RUN echo 0123456789012345678901234567890123456789012345678901234567\n");
    }
    let r = image_branch(&dockerfile, &[("img/other.txt", "o\n")]);
    let v = check(r.path());
    assert_limit_rebuild(&v, "bytes");
}

/// A tree of `depth` nested directories `d/d/…/d/f`, built bottom-up (no recursion).
fn nested_tree(repo: &git2::Repository, depth: usize) -> Oid {
    let blob = repo.blob(b"x\n").expect("blob");
    let mut tb = repo.treebuilder(None).expect("tb");
    tb.insert("f", blob, 0o100644).expect("insert");
    let mut tree = tb.write().expect("tree");
    for _ in 0..depth {
        let mut tb = repo.treebuilder(None).expect("tb");
        tb.insert("d", tree, 0o040000).expect("insert");
        tree = tb.write().expect("tree");
    }
    tree
}

#[test]
fn ten_thousand_nested_directories_do_not_overflow_the_stack() {
    let (r, base) = with_master();
    let deep = nested_tree(&r.repo, 10_000);
    let base_commit = r.repo.find_commit(base).expect("base");
    let mut tb = r
        .repo
        .treebuilder(Some(&base_commit.tree().expect("tree")))
        .expect("tb");
    tb.insert("deep", deep, 0o040000).expect("insert");
    let root = r.repo.find_tree(tb.write().expect("root")).expect("root");
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    r.repo
        .commit(
            Some("refs/heads/deep"),
            &sig,
            &sig,
            "deep",
            &root,
            &[&base_commit],
        )
        .expect("commit");
    let run = dockguard(r.path(), &["check", "--format", "json", "deep"], &[]);
    assert_eq!(run.code, 0, "exit {}\n{}", run.code, run.stderr);
    assert_limit_rebuild(&run.json(), "directories deep");
    let images = dockguard(r.path(), &["images", "deep"], &[]);
    assert_eq!(
        images.code, 2,
        "a clear error, not a crash: {}",
        images.stderr
    );
    assert!(
        images.stderr.contains("directories deep"),
        "{}",
        images.stderr
    );
}

#[test]
fn deeply_nested_variable_expansion_is_bounded() {
    let n = 50_000;
    let dockerfile = format!(
        "FROM scratch\nARG a\nCOPY {}x{} /\n",
        "${a:-".repeat(n),
        "}".repeat(n)
    );
    let r = image_branch(&dockerfile, &[]);
    let (run, _) = dockguard_limited(r.path(), &["check", "--format", "json"], 2 << 20);
    assert_eq!(run.code, 0, "exit {}\n{}", run.code, run.stderr);
    let v = run.json();
    assert_eq!(
        v["targets"][0]["rebuild"], true,
        "the word matches any text: {v:#}"
    );
}

// ---- 7. Crafted local state ---------------------------------------------------------

fn sha1(bytes: &[u8]) -> [u8; 20] {
    let mut child = Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha1sum (coreutils)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("sha1sum");
    let hex = String::from_utf8_lossy(&out.stdout);
    let oid = Oid::from_str(&hex[..40]).expect("hex");
    oid.as_bytes().try_into().expect("20 bytes")
}

/// Writes a one-object pack (+ index v2) into `objects/pack/` whose entry for `oid` says
/// it is a `kind` of `claimed` bytes, followed by `payload` deflated.
fn craft_pack(objects: &Path, oid: Oid, kind: u8, claimed: u64, payload: &[u8]) {
    let mut pack = b"PACK".to_vec();
    pack.extend(2u32.to_be_bytes());
    pack.extend(1u32.to_be_bytes());
    let offset = u32::try_from(pack.len()).expect("offset");
    let mut size = claimed;
    let mut byte = (kind << 4) | u8::try_from(size & 0x0f).expect("nibble");
    size >>= 4;
    while size > 0 {
        pack.push(byte | 0x80);
        byte = u8::try_from(size & 0x7f).expect("7 bits");
        size >>= 7;
    }
    pack.push(byte);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(payload).expect("deflate");
    pack.extend(z.finish().expect("deflate"));
    let pack_sum = sha1(&pack);
    pack.extend(pack_sum);
    let mut idx = vec![0xff, b't', b'O', b'c'];
    idx.extend(2u32.to_be_bytes());
    for i in 0..256u32 {
        let n = u32::from(u32::from(oid.as_bytes()[0]) <= i);
        idx.extend(n.to_be_bytes());
    }
    idx.extend(oid.as_bytes());
    idx.extend(0u32.to_be_bytes()); // crc32: not checked on reads
    idx.extend(offset.to_be_bytes());
    idx.extend(pack_sum);
    let idx_sum = sha1(&idx);
    idx.extend(idx_sum);
    let dir = objects.join("pack");
    std::fs::create_dir_all(&dir).expect("pack dir");
    // Sorts before any real pack: the reader looks here first.
    let name = format!("pack-{}", "0".repeat(40));
    std::fs::write(dir.join(format!("{name}.pack")), pack).expect("pack");
    std::fs::write(dir.join(format!("{name}.idx")), idx).expect("idx");
}

#[test]
fn a_pack_entry_claiming_2_pow_36_bytes_does_not_abort() {
    let r = image_branch("FROM scratch\nCOPY src.txt /\n", &[]);
    // The tip's `img` subtree: read by dockguard's own pack reader first (the root tree
    // is read by libgit2 before, which refuses the entry by itself).
    let img = r
        .repo
        .find_commit(r.head())
        .expect("tip")
        .tree()
        .expect("tree")
        .get_name("img")
        .expect("img")
        .id();
    let bytes = r
        .repo
        .odb()
        .expect("odb")
        .read(img)
        .expect("tree")
        .data()
        .to_vec();
    craft_pack(&r.repo.path().join("objects"), img, 2, 1 << 36, &bytes);
    for args in [&["check", "--format", "json"][..], &["images"][..]] {
        let (run, _) = dockguard_limited(r.path(), args, 4 << 20);
        assert!(
            run.code == 0 || run.code == 2,
            "an answer or a clear error, never a crash: exit {}\n{}",
            run.code,
            run.stderr
        );
        assert!(!run.stderr.contains("memory allocation"), "{}", run.stderr);
        if run.code == 0 && args[0] == "check" {
            assert_eq!(run.json()["targets"][0]["rebuild"], true, "{}", run.stdout);
        }
    }
}

/// The memo file dockguard wrote, whatever its format version.
fn memo_file(r: &TestRepo) -> PathBuf {
    std::fs::read_dir(r.repo.path().join("dockguard"))
        .expect("memo dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("dockerfiles-v"))
        })
        .expect("a memo was written")
}

/// The memo with every subtree's dockerfile list emptied (records kept, counts 0),
/// leaving the trailing checksum (8 bytes) as it was.
fn emptied(bytes: &[u8]) -> Vec<u8> {
    let header_end = {
        let first = bytes.iter().position(|b| *b == b'\n').expect("magic") + 1;
        first + bytes[first..].iter().position(|b| *b == b'\n').expect("fp") + 1
    };
    let v4 = bytes.starts_with(b"dockguard-dockerfiles v4\n");
    let body_end = if v4 { bytes.len() - 8 } else { bytes.len() };
    let mut out = bytes[..header_end].to_vec();
    let mut at = header_end;
    let u32_at = |at: usize| {
        usize::try_from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("u32"),
        ))
        .expect("usize")
    };
    let mut emptied = 0;
    while at < body_end {
        let plen = u32_at(at + 20);
        let head = 20 + 4 + plen + 4;
        out.extend_from_slice(&bytes[at..at + head]);
        out.extend(0u32.to_le_bytes());
        let n = u32_at(at + head);
        emptied += n;
        at += head + 4;
        for _ in 0..n {
            at += 20 + 4 + 4 + u32_at(at + 24);
        }
    }
    assert!(emptied > 0, "the memo listed dockerfiles");
    out.extend_from_slice(&bytes[body_end..]);
    out
}

#[test]
fn an_emptied_or_corrupted_memo_is_not_trusted() {
    let r = TestRepo::new();
    let base = r.commit(
        "base",
        &[
            ("img/a/Dockerfile", "FROM scratch\nCOPY app.sh /\n"),
            ("img/a/app.sh", "echo a\n"),
        ],
    );
    r.remote_ref("origin", "master", base);
    r.switch_new("feature", base);
    r.commit("script", &[("img/a/app.sh", "echo b\n")]);
    assert_eq!(check(r.path())["targets"][0]["rebuild"], true);
    let memo = memo_file(&r);
    let original = std::fs::read(&memo).expect("memo");
    std::fs::write(&memo, emptied(&original)).expect("write");
    let v = check(r.path());
    assert_eq!(v["targets"][0]["rebuild"], true, "an emptied memo: {v:#}");
    // One flipped byte anywhere: ignored too.
    let mut flipped = std::fs::read(&memo).expect("memo");
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    std::fs::write(&memo, flipped).expect("write");
    assert_eq!(check(r.path())["targets"][0]["rebuild"], true);
}

#[test]
fn a_memo_that_is_a_link_to_dev_zero_is_not_read() {
    let r = image_branch("FROM scratch\nCOPY src.txt /\n", &[]);
    assert_eq!(check(r.path())["targets"][0]["rebuild"], true);
    let memo = memo_file(&r);
    std::fs::remove_file(&memo).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &memo).expect("link");
    let (run, peak) = dockguard_limited(r.path(), &["check", "--format", "json"], 2 << 20);
    assert_eq!(run.code, 0, "exit {}\n{}", run.code, run.stderr);
    assert_eq!(run.json()["targets"][0]["rebuild"], true);
    assert!(peak < 200 << 10, "read without bound: peak RSS {peak} KiB");
}

// ---- 6. Writes through links --------------------------------------------------------

#[test]
fn dotenv_refuses_a_committed_symlink() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    let victim = r.scratch("victim");
    std::fs::write(&victim, "precious\n").expect("victim");
    std::os::unix::fs::symlink(&victim, r.path().join("dockguard.env")).expect("link");
    let mut index = r.repo.index().expect("index");
    index
        .add_path(Path::new("dockguard.env"))
        .expect("add link");
    index.write().expect("index");
    git(r.path(), &["commit", "-qm", "a link named like the report"]);
    let run = r.dockguard(&[
        "ci",
        "--provider",
        "generic",
        "--no-fetch",
        "--dotenv",
        "dockguard.env",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    // A report path of its own works.
    let own = r.scratch("own.env");
    let run = r.dockguard(&[
        "ci",
        "--provider",
        "generic",
        "--no-fetch",
        "--dotenv",
        own.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(&own)
        .expect("dotenv")
        .contains("DOCKGUARD_DECISION="));
}

/// Links named `<dir>/<prefix><pid><suffix>` for the next `n` process ids, to `victim`.
fn plant_pid_links(dir: &Path, prefix: &str, suffix: &str, victim: &Path, n: u32) {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(std::process::id());
    for pid in last + 1..=last + n {
        let _ = std::os::unix::fs::symlink(victim, dir.join(format!("{prefix}{pid}{suffix}")));
    }
}

fn victim(r: &TestRepo) -> PathBuf {
    let v = r.scratch("victim");
    std::fs::write(&v, "precious\n").expect("victim");
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    v
}

fn assert_untouched(victim: &Path) {
    assert_eq!(
        std::fs::read_to_string(victim).expect("victim"),
        "precious\n"
    );
    let mode = std::fs::metadata(victim)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode unchanged");
}

#[test]
fn install_never_writes_through_a_planted_temporary_name() {
    let (r, _) = with_master();
    let hooks = r.repo.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks");
    let v = victim(&r);
    plant_pid_links(&hooks, ".pre-push.dockguard-tmp.", "", &v, 20_000);
    let run = r.dockguard(&["install"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_untouched(&v);
    let hook = std::fs::symlink_metadata(hooks.join("pre-push")).expect("hook");
    assert!(hook.is_file() && hook.permissions().mode() & 0o777 == 0o755);
}

#[test]
fn the_memo_is_never_written_through_a_planted_temporary_name() {
    let r = image_branch("FROM scratch\nCOPY src.txt /\n", &[]);
    let dir = r.repo.path().join("dockguard");
    std::fs::create_dir_all(&dir).expect("memo dir");
    let v = victim(&r);
    plant_pid_links(&dir, ".dockerfiles.", ".tmp", &v, 20_000);
    assert_eq!(check(r.path())["targets"][0]["rebuild"], true);
    assert_untouched(&v);
    let memo = memo_file(&r);
    assert!(std::fs::symlink_metadata(memo).expect("memo").is_file());
}

#[test]
fn install_warns_when_others_can_write_the_hooks_directory() {
    let (r, _) = with_master();
    let hooks = r.repo.path().join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks");
    std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let run = r.dockguard(&["install"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("can be written by everyone"),
        "{}",
        run.stdout
    );
    std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = r.dockguard(&["install"]);
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}

// ---- 5. Fail-open on a limit --------------------------------------------------------

#[test]
fn ten_thousand_copy_lines_still_count_their_sources() {
    let mut dockerfile = String::from("FROM scratch\n");
    for i in 0..10_000 {
        dockerfile.push_str(&format!(
            "COPY a/very/long/path/to/some/directory/number/{i}/and/its/file-{i}.txt /d/\n"
        ));
    }
    dockerfile.push_str("COPY src.txt /\n");
    let r = image_branch(&dockerfile, &[]);
    let v = check(r.path());
    let t = &v["targets"][0];
    assert_eq!(t["rebuild"], true, "a changed COPY source: {v:#}");
    assert_eq!(t["changes"][0]["path"], "img/src.txt", "{v:#}");
    let why = t["images"][0]["reasons"][0].as_str().unwrap_or_default();
    assert!(
        why.contains("the whole context counts"),
        "it says so: {why}"
    );
    let images = r.dockguard(&["images"]);
    assert!(
        images.stdout.contains("every file of the context counts"),
        "{}",
        images.stdout
    );
}

// ---- 1. Argument injection ----------------------------------------------------------

#[test]
fn an_upstream_url_that_is_a_git_option_runs_nothing() {
    let (r, _) = with_master();
    let pwned = r.scratch("PWNED");
    let url = format!("--upload-pack=touch {}; false", pwned.display());
    let flag = format!("--upstream-url={url}");
    for extra in [&["--upstream-branch", "master"][..], &[][..]] {
        let mut args = vec!["ci", "--provider", "generic", flag.as_str()];
        args.extend_from_slice(extra);
        let run = r.dockguard(&args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            !pwned.exists(),
            "git ran the option as a command: {}",
            run.stderr
        );
        assert!(run.stderr.contains("starts with `-`"), "{}", run.stderr);
    }
    // Through the environment (a CI variable) just the same.
    let run = r.dockguard_env(
        &["ci", "--provider", "generic", "--upstream-branch", "master"],
        &[("DOCKGUARD_CI_UPSTREAM_URL", &url)],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!pwned.exists());
}

#[test]
fn helper_transports_and_unknown_schemes_are_refused() {
    let (r, _) = with_master();
    let pwned = r.scratch("PWNED2");
    for url in [
        format!("ext::sh -c touch% {}", pwned.display()),
        "fd::3".to_owned(),
        "http://example.invalid/x.git".to_owned(),
        "gopher://example.invalid/x".to_owned(),
    ] {
        let run = r.dockguard(&[
            "ci",
            "--provider",
            "generic",
            "--upstream-url",
            &url,
            "--upstream-branch",
            "master",
        ]);
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(
            run.stderr.contains("refusing to fetch"),
            "{url}: {}",
            run.stderr
        );
        assert!(!pwned.exists());
    }
}

// ---- 3. Tag collisions --------------------------------------------------------------

#[test]
fn a_branch_named_latest_never_gets_the_shared_tag() {
    let (r, base) = with_master();
    r.switch_new("latest", base);
    r.commit("x", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let env_file = r.scratch("ci.env");
    let run = r.dockguard(&[
        "ci",
        "--provider",
        "generic",
        "--no-fetch",
        "--ref",
        "latest",
        "--dotenv",
        env_file.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dotenv = std::fs::read_to_string(&env_file).expect("dotenv");
    assert!(
        dotenv.contains("DOCKGUARD_REF_SLUG=_latest\n"),
        "the shared tag stays upstream's: {dotenv}"
    );
    let slug = r.dockguard(&["slug", "latest"]);
    assert_eq!(slug.stdout.trim(), "_latest");
}

#[test]
fn a_branch_named_like_a_content_tag_or_a_reserved_name_never_gets_it() {
    let r = TestRepo::new();
    let content = format!("c1-{}", "5db4f7c5f42c8f393423eb507ad44fa838c56eb3");
    for (name, want) in [
        (content.as_str(), format!("_{content}")),
        ("_latest", "__latest".to_owned()),
        ("c2-next", "_c2-next".to_owned()),
    ] {
        let run = r.dockguard(&["slug", name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.trim(), want, "{name}");
    }
    let run = r.dockguard(&[
        "slug",
        "--reserve",
        "master",
        "--reserve",
        "stable",
        "stable",
    ]);
    assert_eq!(run.stdout.trim(), "_stable", "{}", run.stderr);
    let run = r.dockguard(&["slug", "--help"]);
    assert!(run.stdout.contains("Reserved tags"), "{}", run.stdout);
}

#[test]
fn slugs_are_never_reserved_and_never_shared() {
    use dockguard::slug::{docker_tag, is_docker_tag, is_reserved, ref_slug};
    let names = [
        "latest", "_latest", "__latest", "c1-abc", "_c1-abc", "c", "c-1", "c1", "master", "_",
        "-latest", ".latest", "latest/", "x",
    ];
    let mut seen = std::collections::HashMap::new();
    for n in names {
        let t = ref_slug(n, None, &["master"]);
        assert!(is_docker_tag(&t), "{n:?} -> {t:?}");
        assert!(
            !is_reserved(&t, &[]) || t.starts_with('_'),
            "{n:?} -> {t:?}"
        );
        assert_ne!(t, "latest");
        assert_ne!(t, "master");
        if let Some(other) = seen.insert(t.clone(), n) {
            panic!("{n:?} and {other:?} share the slug {t:?}");
        }
    }
    assert_eq!(
        docker_tag("master", None),
        "master",
        "the default branch keeps its name"
    );
}

#[test]
fn github_pull_request_target_slug_is_the_pull_request_number() {
    let (r, base) = with_master();
    // A fork's branch named `master`; pull_request_target runs on the base branch's ref.
    r.switch_new("fork-master", base);
    let tip = r.commit("x", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let event = r.scratch("event.json");
    std::fs::write(
        &event,
        r#"{"number": 7, "pull_request": {"number": 7, "head": {"ref": "master"}},
            "repository": {"default_branch": "master"}}"#,
    )
    .expect("event");
    let output = r.scratch("gh.output");
    let run = r.dockguard_env(
        &["ci", "--no-fetch"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request_target"),
            ("GITHUB_REF", "refs/heads/master"),
            ("GITHUB_REF_NAME", "master"),
            ("GITHUB_HEAD_REF", "master"),
            ("GITHUB_BASE_REF", "master"),
            ("GITHUB_SHA", &tip.to_string()),
            ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
            ("GITHUB_OUTPUT", output.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
    assert!(
        out.contains("ref-slug=pr-7\n"),
        "never the fork's branch name: {out}"
    );
}
