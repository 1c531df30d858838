//! `scripts/release.sh`: the files a release page carries, built from the static binary
//! `./test.sh` builds (`DOCKGUARD_STATIC_BIN`; the release profile is not rebuilt here),
//! with their names, checksums and contents checked; what `cargo binstall` would download
//! (its `pkg-url`/`bin-dir` templates resolved as binstall resolves them) is that archive;
//! and the workflows that run the script on a tag have the shape their runners need.
//!
//! Not run here: cargo-binstall itself (1.26 needs rustc 1.96; 1.24 with its lock file
//! needs a vergen for 1.96 too, and a fresh build is several hundred crates with aws-lc:
//! too heavy for every test run on 2 cores), and the GitHub workflow on a hosted runner
//! (none here: its structure is checked; the GitLab job runs under gitlab-ci-local in
//! release_gitlab.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use yaml_rust2::{Yaml, YamlLoader};

use crate::fixture::{dockguard_bin, hermetic, require_tool};
use crate::static_binary::static_bin;
use crate::testservers::sha256;

/// The version being built (Cargo.toml's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The one target releases carry.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The archive's name (and its top directory's, without `.tar.gz`).
pub fn archive_name() -> String {
    format!("dockguard-{VERSION}-{TARGET}.tar.gz")
}

/// CHANGELOG.md as it is at release time: `[Unreleased]` renamed to the version and a
/// date (README, "Versioning and releases"), written to `dir`.
fn released_changelog(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("CHANGELOG.md")).expect("CHANGELOG.md");
    assert!(
        text.contains("## [Unreleased]"),
        "CHANGELOG.md has [Unreleased]"
    );
    let path = dir.join("CHANGELOG.md");
    std::fs::write(
        &path,
        text.replacen(
            "## [Unreleased]",
            &format!("## [{VERSION}] - 2025-06-01"),
            1,
        ),
    )
    .expect("write changelog");
    path
}

/// What a run of the script did: exit code and stdout + stderr.
pub struct Ran {
    pub code: i32,
    pub out: String,
}

/// Runs `scripts/release.sh ARGS` hermetically, with `env` added.
pub fn release_sh(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd)
        .arg(root().join("scripts/release.sh"))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run release.sh");
    Ran {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    }
}

/// Builds a release from the static binary into `out` (no image), panicking on failure.
fn build_release(out: &Path, changelog: &Path) {
    let run = release_sh(
        &[
            "--bin",
            static_bin().to_str().expect("utf-8"),
            "--no-image",
            "--changelog",
            changelog.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            VERSION,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("--no-image"),
        "says the image is left out: {}",
        run.out
    );
}

/// The release the tests install from, built once per test run.
pub fn built_release() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            std::env::temp_dir().join(format!("dockguard-test-release-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("mkdir");
        let changelog = released_changelog(&base);
        let out = base.join(VERSION);
        build_release(&out, &changelog);
        out
    })
}

/// `sha256sum` lines as name -> hex.
fn sums(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| {
            let (hex, name) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("not a sha256sum line: {l:?}"));
            (name.to_owned(), hex.to_owned())
        })
        .collect()
}

fn file_sha(path: &Path) -> String {
    sha256(&std::fs::read(path).expect("read"))["sha256:".len()..].to_owned()
}

/// `tar -tvzf`: (mode string, path) per entry.
fn listing(archive: &Path) -> Vec<(String, String)> {
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(archive)
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[f.len() - 1].to_owned())
        })
        .collect()
}

#[test]
#[ignore = "needs a static build"]
fn a_release_has_the_files_a_release_page_carries_with_their_checksums() {
    let dir = built_release();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        format!("CHANGELOG-{VERSION}.md"),
        "SHA256SUMS".to_owned(),
        "dockguard".to_owned(),
        archive_name(),
        "dockguard.sha256".to_owned(),
        "install.sh".to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);

    // SHA256SUMS names every other file with its real sha256, and sha256sum agrees.
    let listed = sums(&std::fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS"));
    let others: Vec<&String> = names.iter().filter(|n| *n != "SHA256SUMS").collect();
    assert_eq!(listed.keys().collect::<Vec<_>>(), others);
    for (name, hex) in &listed {
        assert_eq!(&file_sha(&dir.join(name)), hex, "{name}");
    }
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // The bare binary is the static build, with the dockguard.sha256 the CI templates pin.
    assert_eq!(
        std::fs::read(dir.join("dockguard")).expect("binary"),
        std::fs::read(static_bin()).expect("static")
    );
    let own = std::fs::read_to_string(dir.join("dockguard.sha256")).expect("dockguard.sha256");
    assert_eq!(own, format!("{}  dockguard\n", listed["dockguard"]));
    assert_eq!(
        std::fs::read(dir.join("install.sh")).expect("install.sh"),
        std::fs::read(root().join("install.sh")).expect("install.sh")
    );

    // The release notes: this version's section and nothing after it.
    let notes =
        std::fs::read_to_string(dir.join(format!("CHANGELOG-{VERSION}.md"))).expect("notes");
    assert!(
        notes.starts_with(&format!("## [{VERSION}] - 2025-06-01\n")),
        "{notes}"
    );
    assert_eq!(
        notes.matches("\n## ").count(),
        0,
        "one section only:\n{notes}"
    );
    assert!(notes.contains("### "), "{notes}");
}

#[test]
#[ignore = "needs a static build"]
fn the_archive_holds_one_directory_with_the_binary_docs_man_pages_and_completions() {
    let dir = built_release();
    let archive = dir.join(archive_name());
    let top = archive_name().trim_end_matches(".tar.gz").to_owned();
    let entries = listing(&archive);
    let paths: Vec<&str> = entries.iter().map(|(_, p)| p.as_str()).collect();
    assert!(
        paths.iter().all(|p| p.starts_with(&format!("{top}/"))),
        "one top directory, as binstall's bin-dir and `tar -x` expect: {paths:?}"
    );
    for want in [
        "dockguard",
        "README.md",
        "CHANGELOG.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "man/man1/dockguard.1",
        "man/man1/dockguard-check.1",
        "completions/dockguard.bash",
        "completions/_dockguard",
        "completions/dockguard.fish",
    ] {
        assert!(
            paths.contains(&format!("{top}/{want}").as_str()),
            "{want}: {paths:?}"
        );
    }
    let mode = |p: &str| {
        entries
            .iter()
            .find(|(_, q)| q == &format!("{top}/{p}"))
            .map(|(m, _)| m.clone())
            .expect("entry")
    };
    assert_eq!(mode("dockguard"), "-rwxr-xr-x");
    assert_eq!(mode("README.md"), "-rw-r--r--");

    let x = tempfile::tempdir().expect("tempdir");
    let un = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(x.path())
        .status()
        .expect("tar");
    assert!(un.success());
    let tree = x.path().join(&top);
    assert_eq!(
        std::fs::read(tree.join("dockguard")).expect("binary"),
        std::fs::read(static_bin()).expect("static")
    );
    // The man pages and completions are the binary's own output.
    let pages = tempfile::tempdir().expect("tempdir");
    let wrote = Command::new(static_bin())
        .args(["man", "--out-dir"])
        .arg(pages.path())
        .output()
        .expect("man");
    assert!(wrote.status.success());
    let text =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    for page in std::fs::read_dir(pages.path()).expect("ls") {
        let page = page.expect("page").path();
        let name = page.file_name().expect("name");
        let shipped = text(&tree.join("man/man1").join(name));
        assert!(shipped == text(&page), "{name:?} differs from the binary's");
    }
    let bash = Command::new(static_bin())
        .args(["completions", "bash"])
        .output()
        .expect("completions");
    let shipped = text(&tree.join("completions/dockguard.bash"));
    assert!(
        shipped == String::from_utf8_lossy(&bash.stdout),
        "bash completions differ"
    );
}

#[test]
#[ignore = "needs a static build"]
fn the_same_binary_and_sources_give_the_same_archive() {
    let first = built_release();
    let again = tempfile::tempdir().expect("tempdir");
    let changelog = released_changelog(again.path());
    let out = again.path().join("again");
    build_release(&out, &changelog);
    assert_eq!(
        file_sha(&first.join(archive_name())),
        file_sha(&out.join(archive_name())),
        "the archive is reproducible"
    );
    assert_eq!(
        std::fs::read(first.join("SHA256SUMS")).expect("sums"),
        std::fs::read(out.join("SHA256SUMS")).expect("sums")
    );
    // Every entry carries the release date, whatever the files' own times.
    let mtime = Command::new("tar")
        .args(["--full-time", "-tvzf"])
        .arg(out.join(archive_name()))
        .output()
        .expect("tar");
    let text = String::from_utf8_lossy(&mtime.stdout);
    assert!(
        text.lines()
            .all(|l| l.contains("2025-06-01 00:00:00") && l.contains(" 0/0 ")),
        "{text}"
    );
}

#[test]
fn release_sh_refuses_what_would_publish_a_wrong_release() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let changelog = released_changelog(tmp.path());
    let cl = changelog.to_str().expect("utf-8");
    let out = tmp.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    let refused = |args: &[&str], env: &[(&str, &str)], needles: &[&str]| {
        let run = release_sh(args, env);
        assert_eq!(run.code, 2, "{args:?}: {}", run.out);
        for n in needles {
            assert!(run.out.contains(n), "{args:?}: {n}:\n{}", run.out);
        }
        assert!(!out.exists(), "{args:?} left {out_s}");
    };
    // A tag that is not Cargo.toml's version.
    refused(
        &["--no-image", "--changelog", cl, "--out", out_s, "99.0.0"],
        &[],
        &[&format!("Cargo.toml says version {VERSION}, not 99.0.0")],
    );
    refused(&["--out", out_s, "v1"], &[], &["not a version"]);
    refused(&[], &[], &["which version?"]);
    // The changelog as it is between releases: no section for the version.
    let unreleased = root().join("CHANGELOG.md");
    refused(
        &[
            "--no-image",
            "--changelog",
            unreleased.to_str().expect("utf-8"),
            "--out",
            out_s,
            VERSION,
        ],
        &[],
        &[
            &format!("no `## [{VERSION}] - YYYY-MM-DD` section"),
            "rename [Unreleased]",
        ],
    );
    // A dynamically linked binary (the normal build) is not what a release carries.
    refused(
        &[
            "--bin",
            dockguard_bin(),
            "--no-image",
            "--changelog",
            cl,
            "--out",
            out_s,
            VERSION,
        ],
        &[],
        &["dynamically linked"],
    );
    // No Docker daemon: the image needs one, and the message names the way out.
    refused(
        &["--changelog", cl, "--out", out_s, &format!("v{VERSION}")],
        &[("DOCKER", "/nonexistent/docker")],
        &["cannot reach a Docker daemon", "--no-image"],
    );
    // An existing output directory is never overwritten.
    std::fs::create_dir_all(&out).expect("mkdir");
    let run = release_sh(
        &[
            "--bin",
            dockguard_bin(),
            "--no-image",
            "--changelog",
            cl,
            "--out",
            out_s,
            VERSION,
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(run.out.contains("already exists"), "{}", run.out);
    let help = release_sh(&["--help"], &[]);
    assert_eq!(help.code, 0, "{}", help.out);
    assert!(
        help.out.contains("SHA256SUMS") && help.out.contains("--no-image"),
        "{}",
        help.out
    );
}

/// binstall's template syntax: `{ var }` (spaces optional), `\{` `\}` `\\` literal.
fn binstall_template(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().expect("escape")),
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let name = name.trim();
                out.push_str(
                    vars.get(name)
                        .unwrap_or_else(|| panic!("binstall has no template variable {name:?}")),
                );
            }
            c => out.push(c),
        }
    }
    out
}

/// `pkg-url` and `bin-dir` for `target`, as binstall picks them (an override wins).
fn binstall_for(target: &str, repo: &str) -> (String, String, String) {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("toml");
    let meta = manifest["package"]["metadata"]["binstall"]
        .as_table()
        .expect("[package.metadata.binstall]");
    let over = meta
        .get("overrides")
        .and_then(|o| o.get(target))
        .and_then(toml::Value::as_table);
    let key = |k: &str| {
        over.and_then(|o| o.get(k))
            .or_else(|| meta.get(k))
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("binstall {k}"))
            .to_owned()
    };
    let vars: BTreeMap<&str, String> = [
        ("name", "dockguard".to_owned()),
        ("version", VERSION.to_owned()),
        ("target", target.to_owned()),
        ("repo", repo.to_owned()),
        ("bin", "dockguard".to_owned()),
        ("binary-ext", String::new()),
        ("archive-format", "tgz".to_owned()),
        ("archive-suffix", ".tgz".to_owned()),
    ]
    .into_iter()
    .collect();
    (
        binstall_template(&key("pkg-url"), &vars),
        binstall_template(&key("bin-dir"), &vars),
        key("pkg-fmt"),
    )
}

#[test]
#[ignore = "needs a static build"]
fn cargo_binstall_finds_the_archive_and_the_binary_in_it() {
    let dir = built_release();
    let repo = "https://github.com/YOUR-ORG/dockguard";
    let entries = listing(&dir.join(archive_name()));
    for target in [TARGET, "x86_64-unknown-linux-musl"] {
        let (url, bin_dir, fmt) = binstall_for(target, repo);
        assert_eq!(
            url,
            format!("{repo}/releases/download/v{VERSION}/{}", archive_name()),
            "{target}: a GitHub release of tag v{VERSION} holds the archive"
        );
        // pkg-fmt tgz: binstall reads .tgz and .tar.gz as gzip'd tar.
        assert_eq!(fmt, "tgz");
        let (mode, _) = entries
            .iter()
            .find(|(_, p)| *p == bin_dir)
            .unwrap_or_else(|| {
                panic!("{target}: bin-dir {bin_dir} is not in the archive: {entries:?}")
            });
        assert!(mode.starts_with("-rwx"), "{bin_dir}: {mode}");
    }
    // Other targets name no file of the release (binstall then compiles, as it says).
    let (url, _, _) = binstall_for("aarch64-unknown-linux-gnu", repo);
    let file = url.rsplit('/').next().expect("file");
    assert!(!dir.join(file).exists(), "{url}");

    // The download URLs README and the book show are the same ones, for files the release has.
    let readme = crate::docs::markdown_files()
        .iter()
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let prefix = format!("{repo}/releases/download/v{VERSION}/");
    let urls: Vec<&str> = readme
        .split(|c: char| c.is_whitespace() || c == '`' || c == ')' || c == '(')
        .filter(|w| w.starts_with("https://") && w.contains("/releases/download/"))
        .collect();
    assert!(!urls.is_empty(), "README shows the release download");
    for u in urls {
        let file = u
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{u}: not under {prefix}"));
        assert!(
            dir.join(file).is_file(),
            "the docs name {file}, which a release does not carry"
        );
    }
}

#[test]
#[ignore = "needs dockerd, busybox-static and a static build"]
fn a_release_with_the_job_image_saves_one_that_loads_and_runs() {
    use crate::realdocker::{build_busybox_git_base, Dockerd, DOCKER};
    let d = Dockerd::shared();
    build_busybox_git_base(&d, "dockguard-release-base:local");
    let tmp = tempfile::tempdir().expect("tempdir");
    let changelog = released_changelog(tmp.path());
    let out = tmp.path().join("with-image");
    let client = tmp.path().join("docker-client");
    let run = release_sh(
        &[
            "--bin",
            static_bin().to_str().expect("utf-8"),
            "--base",
            "dockguard-release-base:local",
            "--changelog",
            changelog.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            VERSION,
        ],
        &[
            ("DOCKER", DOCKER),
            ("DOCKER_HOST", &d.host),
            ("DOCKER_CONFIG", client.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.out);
    let image = format!("dockguard-{VERSION}-image.tar");
    let tar = out.join(&image);
    let listed = std::fs::read_to_string(out.join("SHA256SUMS")).expect("sums");
    assert!(
        listed.contains(&format!("{}  {image}\n", file_sha(&tar))),
        "{listed}"
    );
    // What a publisher does with it: load it (here into the same daemon, after removing
    // the tag the build left) and run it.
    let tag = format!("dockguard:{VERSION}");
    d.docker_ok(None, &["rmi", &tag]);
    let loaded = d.docker_ok(None, &["load", "-i", tar.to_str().expect("utf-8")]);
    assert!(loaded.contains(&tag), "{loaded}");
    let version = d.docker_all(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "dockguard",
        "--version",
    ]);
    assert!(
        version.starts_with(&format!("dockguard {VERSION}")),
        "{version}"
    );
    d.docker_ok(None, &["rmi", &tag]);
}

fn yaml(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .remove(0)
}

/// Every `run:`/`script:` line of a job, joined.
fn commands(steps: &Yaml) -> String {
    match steps {
        Yaml::Array(a) => a.iter().map(commands).collect::<Vec<_>>().join("\n"),
        Yaml::Hash(h) => h
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), Some("run" | "script")))
            .map(|(_, v)| commands(v))
            .collect::<Vec<_>>()
            .join("\n"),
        Yaml::String(s) => s.clone(),
        _ => String::new(),
    }
}

// The workflows cannot run here (no hosted runner): this checks what each runner needs
// of them, that they parse, trigger on version tags and run scripts/release.sh.
#[test]
fn the_github_release_workflow_runs_release_sh_on_a_version_tag_with_pinned_actions() {
    let w = yaml(".github/workflows/release.yml");
    assert_eq!(
        w["on"]["push"]["tags"].as_vec().expect("on.push.tags"),
        &vec![Yaml::String("v*".into())]
    );
    assert_eq!(w["permissions"]["contents"].as_str(), Some("write"));
    let jobs = w["jobs"].as_hash().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let job = jobs.values().next().expect("job");
    assert!(job["runs-on"]
        .as_str()
        .expect("runs-on")
        .starts_with("ubuntu-"));
    let steps = &job["steps"];
    let run = commands(steps);
    assert!(
        run.contains("scripts/release.sh \"${GITHUB_REF_NAME#v}\""),
        "{run}"
    );
    assert!(run.contains("sha256sum -c SHA256SUMS"), "{run}");
    assert!(
        run.contains("gh release create \"$GITHUB_REF_NAME\" --verify-tag"),
        "{run}"
    );
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).expect("read");
    let uses: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- uses: "))
        .collect();
    assert!(!uses.is_empty());
    for u in uses {
        // owner/repo@<full commit> # vX.Y.Z: a moved tag cannot change what runs.
        let (action, rest) = u.split_once('@').unwrap_or_else(|| panic!("{u}"));
        let (sha, comment) = rest
            .split_once(" # v")
            .unwrap_or_else(|| panic!("{u}: no # vX.Y.Z"));
        assert!(action.contains('/'), "{u}");
        assert!(
            sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{u}"
        );
        assert!(
            comment.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{u}"
        );
    }
}

#[test]
fn the_gitlab_release_job_runs_release_sh_on_a_version_tag_with_pinned_images() {
    let y = yaml("ci/release/gitlab.yml");
    let job = &y["dockguard-release"];
    let script = commands(job);
    assert!(
        script.contains("scripts/release.sh $RELEASE_ARGS \"$version\""),
        "{script}"
    );
    assert!(script.contains("sha256sum -c SHA256SUMS"), "{script}");
    assert!(
        script.contains("/packages/generic/dockguard/$version"),
        "{script}"
    );
    assert!(script.contains("direct_asset_path=/${f##*/}"), "{script}");
    let rule = job["rules"][0]["if"].as_str().expect("rules[0].if");
    assert!(rule.contains("$CI_COMMIT_TAG"), "{rule}");
    let images = [
        job["image"].as_str().expect("image"),
        job["services"][0]["name"].as_str().expect("service"),
    ];
    for image in images {
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
        assert!(
            tag.starts_with(|c: char| c.is_ascii_digit()),
            "{image}: a version, not latest"
        );
    }
}

/// gitlab-ci-local's view of a project whose .gitlab-ci.yml includes the release job.
#[test]
#[ignore = "needs gitlab-ci-local"]
fn gitlab_ci_local_lists_the_release_job_for_version_tags_only() {
    let tool = require_tool("gitlab-ci-local");
    let r = crate::fixture::TestRepo::new();
    let job = std::fs::read_to_string(root().join("ci/release/gitlab.yml")).expect("job");
    r.commit(
        "release job",
        &[
            ("ci/release/gitlab.yml", &job),
            (
                ".gitlab-ci.yml",
                "include:\n  - local: ci/release/gitlab.yml\n",
            ),
        ],
    );
    r.git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/group/dockguard.git",
    ]);
    let home = r.scratch("gcl-home");
    std::fs::create_dir_all(&home).expect("home");
    let list = |vars: &[&str]| {
        let mut cmd = Command::new(&tool);
        hermetic(&mut cmd)
            .current_dir(r.path())
            .arg("--home")
            .arg(&home)
            .arg("--list");
        for v in vars {
            cmd.args(["--variable", v]);
        }
        let o = cmd.output().expect("gitlab-ci-local");
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{text}");
        text
    };
    let tagged = list(&["CI_COMMIT_TAG=v0.1.0"]);
    assert!(tagged.contains("json schema validated"), "{tagged}");
    assert!(tagged.contains("dockguard-release"), "{tagged}");
    assert!(
        !list(&[]).contains("dockguard-release"),
        "a branch pipeline releases nothing"
    );
    assert!(!list(&["CI_COMMIT_TAG=nightly"]).contains("dockguard-release"));
}
