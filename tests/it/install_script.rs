//! `install.sh`: installing a release (the archive `scripts/release.sh` builds, or the bare
//! binary) from a file, a `file://` URL or a local HTTP server, only after its sha256
//! matched; building from source otherwise (a stand-in cargo: the script's logic is under
//! test, not cargo's compile); and the hook going into the repository it is run from.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fixture::{dockguard_bin, hermetic, path_with_str, test_path, with_master, TestRepo};
use crate::release_script::{archive_name, built_release, VERSION};
use crate::server::set_mode;
use crate::testservers::{sha256, ScriptedServer};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

/// Runs `sh SCRIPT ARGS` hermetically in `dir` with `PATH`; (exit code, stdout + stderr).
fn run_in(dir: &Path, script: &Path, args: &[&str], path: &str) -> (i32, String) {
    let out = hermetic(&mut Command::new("/bin/sh"))
        .current_dir(dir)
        .env("PATH", path)
        .arg(script)
        .args(args)
        .output()
        .expect("run install.sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn hex_of(path: &Path) -> String {
    sha256(&std::fs::read(path).expect("read"))["sha256:".len()..].to_owned()
}

fn hook_of(r: &TestRepo) -> PathBuf {
    r.path().join(".git/hooks/pre-push")
}

/// install.sh as a release page carries it: alone in a directory, no sources beside it.
fn lone_script(r: &TestRepo) -> PathBuf {
    let dir = r.scratch("downloads");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let copy = dir.join("install.sh");
    std::fs::copy(built_release().join("install.sh"), &copy).expect("copy");
    copy
}

#[test]
fn the_tests_path_finds_no_installed_dockguard() {
    // fixture::test_path: what `./install.sh` put on the user's PATH is not on the tests'.
    let out = hermetic(&mut Command::new("sh"))
        .args(["-c", "command -v dockguard"])
        .output()
        .expect("sh");
    assert!(
        !out.status.success(),
        "the tests' PATH finds {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for dir in std::env::split_paths(test_path()) {
        assert!(!dir.join("dockguard").exists(), "{}", dir.display());
    }
}

#[test]
#[ignore = "needs a static build"]
fn installs_the_release_archive_into_the_repository_it_is_run_from() {
    // A project of the user's, and install.sh downloaded from the release page: run as the
    // Quick start says (`cd your-project && path/to/install.sh --from …`).
    let (r, _) = with_master();
    let root = r.scratch("root");
    let archive = built_release().join(archive_name());
    let start = std::time::Instant::now();
    let (code, out) = run_in(
        r.path(),
        &lone_script(&r),
        &[
            "--root",
            root.to_str().expect("utf-8"),
            "--from",
            archive.to_str().expect("utf-8"),
        ],
        &test_path().to_string_lossy(),
    );
    eprintln!("install.sh --from the archive: {:.2?}", start.elapsed());
    assert_eq!(code, 0, "{out}");
    let bin = root.join("bin/dockguard");
    assert_eq!(
        std::fs::read(&bin).expect("installed"),
        std::fs::read(built_release().join("dockguard")).expect("release binary")
    );
    assert!(
        out.contains("checking it against"),
        "the SHA256SUMS beside it: {out}"
    );
    assert!(
        out.contains(&format!("installed {} (dockguard {VERSION}", bin.display())),
        "{out}"
    );
    assert!(!out.contains("building"), "{out}");
    assert!(
        out.contains(&format!(
            "protecting {} ",
            r.path().canonicalize().expect("dir").display()
        )),
        "says which repository: {out}"
    );
    let hook = std::fs::read_to_string(hook_of(&r)).expect("hook in the project");
    assert!(
        hook.contains(&format!(
            "recorded={}",
            bin.canonicalize().expect("bin").display()
        )),
        "{hook}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.join("bin"))
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(leftovers, ["dockguard"], "one rename, no temp file left");

    // Again, the bare binary this time, pinned by --sha256: the same file, replaced.
    let binary = built_release().join("dockguard");
    let sum = hex_of(&binary);
    let (code, out) = run_in(
        r.path(),
        &lone_script(&r),
        &[
            "--root",
            root.to_str().expect("utf-8"),
            "--no-hook",
            "--from",
            binary.to_str().expect("utf-8"),
            "--sha256",
            &sum.to_uppercase(),
        ],
        &test_path().to_string_lossy(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("checking it against"), "--sha256 wins: {out}");
    assert_eq!(hex_of(&bin), sum);
}

#[test]
#[ignore = "needs a static build"]
fn a_wrong_or_missing_checksum_installs_nothing() {
    let (r, _) = with_master();
    let root = r.scratch("root");
    let bindir = root.join("bin");
    std::fs::create_dir_all(&bindir).expect("mkdir");
    std::fs::write(bindir.join("dockguard"), "#!/bin/sh\necho old\n").expect("old");
    let path = test_path().to_string_lossy().into_owned();
    let archive = built_release().join(archive_name());
    let root_s = root.to_str().expect("utf-8");
    let assert_untouched = |out: &str| {
        assert_eq!(
            std::fs::read_to_string(bindir.join("dockguard")).expect("old"),
            "#!/bin/sh\necho old\n",
            "{out}"
        );
        assert_eq!(std::fs::read_dir(&bindir).expect("ls").count(), 1, "{out}");
        assert!(!hook_of(&r).exists(), "{out}");
    };
    let wrong = "0".repeat(64);
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--from",
            archive.to_str().expect("utf-8"),
            "--sha256",
            &wrong,
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("not {wrong}: not installed")),
        "{out}"
    );
    assert_untouched(&out);

    // A copy with no SHA256SUMS beside it and no --sha256: refused, saying what to pass.
    let lone = r.scratch("lone");
    std::fs::create_dir_all(&lone).expect("mkdir");
    std::fs::copy(&archive, lone.join(archive_name())).expect("copy");
    let lone_archive = lone.join(archive_name());
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--from",
            lone_archive.to_str().expect("utf-8"),
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no checksum") && out.contains("--sha256 HEX"),
        "{out}"
    );
    assert_untouched(&out);

    // A SHA256SUMS beside it that does not match (a changed archive): refused.
    std::fs::write(
        lone.join("SHA256SUMS"),
        format!("{wrong}  {}\n", archive_name()),
    )
    .expect("sums");
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--from",
            lone_archive.to_str().expect("utf-8"),
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not installed"), "{out}");
    assert_untouched(&out);

    // Not an archive and not a binary, though its checksum matches.
    let junk = lone.join("junk");
    std::fs::write(&junk, "<html>404</html>\n").expect("junk");
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--from",
            junk.to_str().expect("utf-8"),
            "--sha256",
            &hex_of(&junk),
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("neither a .tar.gz archive nor a Linux binary"),
        "{out}"
    );
    assert_untouched(&out);
}

/// Serves `files` (name -> bytes) at `/v/NAME` over plain HTTP; 404 for anything else.
fn serve(files: Vec<(String, Vec<u8>)>) -> ScriptedServer {
    ScriptedServer::start(move |head| {
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let body = files
            .iter()
            .find(|(name, _)| path == format!("/v/{name}"))
            .map(|(_, b)| b.clone());
        let (status, body) = match body {
            Some(b) => ("200 OK", b),
            None => ("404 Not Found", b"not found\n".to_vec()),
        };
        let mut reply = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend(body);
        Some(reply)
    })
}

#[test]
#[ignore = "needs a static build"]
fn installs_from_urls_https_file_or_http_with_a_pinned_sha256() {
    let (r, _) = with_master();
    let dir = built_release();
    let read = |n: &str| std::fs::read(dir.join(n)).expect("release file");
    let server = serve(vec![
        (archive_name(), read(&archive_name())),
        ("SHA256SUMS".to_owned(), read("SHA256SUMS")),
    ]);
    let url = format!("http://127.0.0.1:{}/v/{}", server.port, archive_name());
    let root = r.scratch("root");
    let root_s = root.to_str().expect("utf-8");
    let path = test_path().to_string_lossy().into_owned();
    // Plain http: a SHA256SUMS from the same connection proves nothing, so --sha256 it is.
    let (code, out) = run_in(
        r.path(),
        &script(),
        &["--root", root_s, "--no-hook", "--from", &url],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("plain http: pass --sha256 HEX"), "{out}");
    assert!(!root.join("bin/dockguard").exists());
    let sum = hex_of(&dir.join(archive_name()));
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--no-hook",
            "--from",
            &url,
            "--sha256",
            &sum,
        ],
        &path,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("downloading {url}")), "{out}");
    assert_eq!(
        hex_of(&root.join("bin/dockguard")),
        hex_of(&dir.join("dockguard"))
    );
    let asked = server.heads.lock().expect("heads").len();
    assert_eq!(
        asked, 1,
        "the archive only: no SHA256SUMS fetched over http"
    );

    // A missing download is an error, not an empty install.
    let missing = format!("http://127.0.0.1:{}/v/nothing.tar.gz", server.port);
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--no-hook",
            "--from",
            &missing,
            "--sha256",
            &sum,
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot download"), "{out}");

    // file:// with the release's SHA256SUMS beside it (its URL's directory).
    let other = r.scratch("root2");
    let file_url = format!("file://{}", dir.join(archive_name()).display());
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            other.to_str().expect("utf-8"),
            "--no-hook",
            "--from",
            &file_url,
        ],
        &path,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/SHA256SUMS"), "{out}");
    assert!(other.join("bin/dockguard").is_file());
    // Other schemes are refused by name.
    let (code, out) = run_in(
        r.path(),
        &script(),
        &[
            "--root",
            root_s,
            "--from",
            "ftp://example.com/x.tar.gz",
            "--sha256",
            &sum,
        ],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("only https://"), "{out}");
}

#[test]
fn help_teaches_both_ways_and_bad_arguments_say_so() {
    let r = TestRepo::new();
    let path = test_path().to_string_lossy().into_owned();
    let (code, out) = run_in(r.path(), &script(), &["--help"], &path);
    assert_eq!(code, 0, "{out}");
    for needle in [
        "cd your-project && path/to/install.sh --from URL|FILE [--sha256 HEX]",
        "cd your-project && path/to/dockguard/install.sh",
        "about 2-3 minutes",
        "--sha256 HEX",
        "SHA256SUMS",
        "--no-hook",
        "--root DIR",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    assert!(!out.contains("set -eu"), "{out}");
    let (code, out) = run_in(r.path(), &script(), &["--bogus"], &path);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown argument: --bogus (try --help)"),
        "{out}"
    );
    let (code, out) = run_in(
        r.path(),
        &script(),
        &["--from", "x", "--sha256", "12"],
        &path,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("64 hex digits"), "{out}");
    let (code, out) = run_in(r.path(), &script(), &["--sha256", &"a".repeat(64)], &path);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("without --from this builds from source"),
        "{out}"
    );
}

/// A stand-in `cargo` in `dir` that "builds" by copying the test binary into `--root`,
/// recording its arguments (one a line) in `log`.
fn stand_in_cargo(dir: &Path, log: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join("cargo"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{log}'\necho '   Compiling dockguard (stand-in)' >&2\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/dockguard\"\n",
            log = log.display(),
            bin = dockguard_bin()
        ),
    )
    .expect("fake cargo");
    set_mode(&dir.join("cargo"), 0o755);
}

#[test]
fn without_a_release_it_builds_says_how_long_and_shows_cargo() {
    let (r, _) = with_master();
    let fake = r.scratch("fakebin");
    let log = r.scratch("cargo-args");
    stand_in_cargo(&fake, &log);
    let root = r.scratch("root");
    let root_s = root.to_str().expect("utf-8");
    let path = path_with_str(&[&fake]);
    let (code, out) = run_in(r.path(), &script(), &["--root", root_s], &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("building dockguard from source (about 2-3 minutes on 2 cores)"),
        "{out}"
    );
    assert!(
        out.contains("Compiling dockguard (stand-in)"),
        "cargo's progress is shown: {out}"
    );
    assert!(out.contains("built in "), "{out}");
    assert!(
        out.contains(&format!("{}/bin/dockguard", root.display())),
        "{out}"
    );
    assert!(
        out.contains("add") && out.contains("to PATH"),
        "not on PATH yet: {out}"
    );
    assert!(out.contains("installed the pre-push hook"), "{out}");
    let logged = std::fs::read_to_string(&log).expect("cargo ran");
    assert!(logged.lines().any(|l| l == "--locked"), "{logged}");
    assert!(!logged.lines().any(|l| l == "--quiet"), "{logged}");
    let hook = std::fs::read_to_string(hook_of(&r)).expect("hook");
    let installed = root.join("bin/dockguard").canonicalize().expect("bin");
    assert!(
        hook.contains(&format!("recorded={}", installed.display())),
        "{hook}"
    );

    // Again, with the install dir on PATH (DOCKGUARD_INSTALL_ROOT this time): idempotent,
    // and it says it is found.
    let bindir = root.join("bin");
    let out = hermetic(&mut Command::new("/bin/sh"))
        .current_dir(r.path())
        .env("PATH", path_with_str(&[&bindir, &fake]))
        .env("DOCKGUARD_INSTALL_ROOT", &root)
        .arg(script())
        .output()
        .expect("install.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("already installed"), "{text}");
    assert!(text.contains("is on PATH"), "{text}");

    // Outside any repository: the binary only, and it says where to run `dockguard install`.
    let elsewhere = r.scratch("not-a-repo");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let (code, out) = run_in(&elsewhere, &script(), &["--root", root_s], &path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not inside a git repository"), "{out}");

    // No cargo, and no release given: a clear message naming both ways, exit 2.
    let no_cargo = r.scratch("nocargo");
    std::fs::create_dir_all(&no_cargo).expect("mkdir");
    for tool in ["git", "dirname"] {
        let found = crate::fixture::find_tool(tool).expect("tool on PATH");
        std::os::unix::fs::symlink(found, no_cargo.join(tool)).expect("link");
    }
    let (code, out) = run_in(
        r.path(),
        &script(),
        &["--root", root_s],
        no_cargo.to_str().expect("utf-8"),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("cargo is not installed") && out.contains("rustup.rs"),
        "{out}"
    );
    assert!(out.contains("--from URL --sha256 HEX"), "{out}");
}

#[test]
fn a_lone_install_sh_without_a_release_says_to_give_one() {
    // Downloaded alone (as a release page carries it), there are no sources to build.
    let r = TestRepo::new();
    let dir = r.scratch("downloads");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(script(), dir.join("install.sh")).expect("copy");
    let (code, out) = run_in(
        r.path(),
        &dir.join("install.sh"),
        &[],
        &test_path().to_string_lossy(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no dockguard sources beside"), "{out}");
    assert!(out.contains("--from URL|FILE"), "{out}");
}

/// The ```sh blocks of README's section `heading` (up to the next `## `).
fn readme_blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has ## {heading}"));
    let section = &readme[start + heading.len() + 5..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("closed block")].to_owned())
        .collect()
}

/// Runs a README block as a user would, in `home` (where `your-project` is), with the
/// release URLs served from `file://` the release `scripts/release.sh` built, the clone
/// being this checkout, and the install root on PATH (as `~/.cargo/bin` is).
fn run_readme_block(block: &str, home: &Path, root: &Path, extra_path: &[&Path]) -> (bool, String) {
    let release = format!("https://github.com/YOUR-ORG/dockguard/releases/download/v{VERSION}/");
    assert!(
        !block.contains("releases/download/") || block.contains(&release),
        "README's release URLs name v{VERSION}:\n{block}"
    );
    let script = block
        .replace(&release, &format!("file://{}/", built_release().display()))
        .replace("path/to/dockguard", env!("CARGO_MANIFEST_DIR"));
    let bindir = root.join("bin");
    let mut dirs = vec![bindir.as_path()];
    dirs.extend_from_slice(extra_path);
    let out = hermetic(&mut Command::new("sh"))
        .current_dir(home)
        .env("PATH", path_with_str(&dirs))
        .env("DOCKGUARD_INSTALL_ROOT", root)
        .args(["-e", "-x", "-c", &script])
        .output()
        .expect("sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
#[ignore = "needs a static build"]
fn the_readme_install_and_quick_start_commands_run_as_shown() {
    let install = readme_blocks("Install");
    let quick = readme_blocks("Quick start");
    assert_eq!(
        (install.len(), quick.len()),
        (2, 1),
        "{install:?} {quick:?}"
    );
    for (i, block) in [&install[0], &install[1], &quick[0]]
        .into_iter()
        .enumerate()
    {
        // Each in a fresh home with the user's project in it (with an upstream master).
        let (r, _) = with_master();
        let home = r.path().parent().expect("temp dir").to_path_buf();
        std::os::unix::fs::symlink(r.path(), home.join("your-project")).expect("your-project");
        let root = r.scratch("root");
        let fake = r.scratch("fakebin");
        stand_in_cargo(&fake, &r.scratch("cargo-args"));
        let (ok, out) = run_readme_block(block, &home, &root, &[&fake]);
        assert!(ok, "README block {i}:\n{block}\n{out}");
        assert!(root.join("bin/dockguard").is_file(), "{block}\n{out}");
        assert!(
            hook_of(&r).is_file(),
            "the hook went into your-project:\n{out}"
        );
        if block.contains("--from") {
            assert_eq!(
                hex_of(&root.join("bin/dockguard")),
                hex_of(&built_release().join("dockguard")),
                "the release's binary"
            );
            assert!(!out.contains("building"), "{out}");
            assert!(!home.join("your-project/install.sh").exists(), "cleaned up");
        } else {
            assert!(out.contains("building dockguard from source"), "{out}");
        }
    }
}
