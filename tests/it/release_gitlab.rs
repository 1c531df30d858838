//! The GitLab release job (`ci/release/gitlab.yml`) run by gitlab-ci-local's shell executor
//! on a tag pipeline, against a recording stand-in for GitLab's REST API (no GitLab runs
//! here): it builds the release with `scripts/release.sh` (from the static binary
//! `./test.sh` builds, without the image: no Docker-in-Docker service here), uploads every
//! file to the generic package registry, creates the release with the changelog section as
//! its notes, and links each file under the `downloads/FILE` path binstall and
//! `install.sh` use.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fixture::{hermetic, require_tool, TestRepo};
use crate::release_script::{archive_name, built_release, VERSION};
use crate::static_binary::static_bin;
use crate::testservers::{read_head, sha256};

/// One request the stand-in API received.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    head: String,
    body: Vec<u8>,
}

/// Answers every request `201 {}` after reading its body, and records it.
struct FakeApi {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !stopping.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let head = read_head(&mut s);
                let lower = head.to_ascii_lowercase();
                let length = lower
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if lower.contains("expect: 100-continue") {
                    let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let mut body = vec![0; length];
                let _ = s.read_exact(&mut body);
                let mut words = head.split_whitespace();
                let method = words.next().unwrap_or_default().to_owned();
                let path = words.next().unwrap_or_default().to_owned();
                log.lock().expect("log").push(Request {
                    method,
                    path,
                    head,
                    body,
                });
                let _ = s.write_all(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        FakeApi {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The value of a multipart form field.
fn field(body: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name}: {text}"));
    let rest = &text[at..];
    let start = rest.find("\r\n\r\n").expect("field body") + 4;
    let end = rest[start..].find("\r\n--").expect("field end");
    rest[start..start + end].to_owned()
}

#[test]
#[ignore = "needs gitlab-ci-local, rsync and a static build"]
fn the_gitlab_release_job_uploads_every_file_and_links_it_from_the_release() {
    let tool = require_tool("gitlab-ci-local");
    require_tool("rsync");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).expect("read");
    // A project with what release.sh reads, the changelog at release time, and the job,
    // included as the file's own docs say (services off: no Docker-in-Docker here).
    let changelog = read("CHANGELOG.md").replacen(
        "## [Unreleased]",
        &format!("## [{VERSION}] - 2025-06-01"),
        1,
    );
    let files = [
        "scripts/release.sh",
        "install.sh",
        "Cargo.toml",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "ci/release/gitlab.yml",
    ]
    .map(|f| (f, read(f)));
    let r = TestRepo::new();
    let mut all: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    all.push(("CHANGELOG.md", &changelog));
    all.push((
        ".gitlab-ci.yml",
        "include:\n  - local: ci/release/gitlab.yml\ndockguard-release:\n  services: []\n",
    ));
    r.commit("release", &all);
    // Executable, as in this repository (the fixture commits plain files).
    crate::server::set_mode(&r.path().join("scripts/release.sh"), 0o755);
    r.git(&["update-index", "--chmod=+x", "scripts/release.sh"]);
    r.git(&["commit", "-q", "-m", "executable"]);
    r.git(&["tag", &format!("v{VERSION}")]);

    let api = FakeApi::start();
    let api_url = format!("http://127.0.0.1:{}/api/v4", api.port);
    let home = r.scratch("gcl-home");
    std::fs::create_dir_all(&home).expect("home");
    let release_args = format!("--bin {} --no-image", static_bin().display());
    let out = hermetic(&mut Command::new(&tool))
        .current_dir(r.path())
        .arg("--home")
        .arg(&home)
        .args([
            "--shell-isolation",
            "--force-shell-executor",
            "--no-color",
            "--ignore-predefined-vars",
            "CI_API_V4_URL,CI_PROJECT_ID,CI_JOB_TOKEN,CI_COMMIT_TAG",
        ])
        .args(["--variable", &format!("CI_COMMIT_TAG=v{VERSION}")])
        .args(["--variable", &format!("CI_API_V4_URL={api_url}")])
        .args(["--variable", "CI_PROJECT_ID=7"])
        .args(["--variable", "CI_JOB_TOKEN=job-token-1"])
        .args(["--variable", &format!("RELEASE_ARGS={release_args}")])
        .arg("dockguard-release")
        .output()
        .expect("gitlab-ci-local");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");

    let requests = api.requests.lock().expect("requests");
    let release = built_release();
    let sums: Vec<(String, String)> = std::fs::read_to_string(release.join("SHA256SUMS"))
        .expect("sums")
        .lines()
        .map(|l| {
            let (h, n) = l.split_once("  ").expect("line");
            (n.to_owned(), h.to_owned())
        })
        .collect();
    let mut names: Vec<String> = sums.iter().map(|(n, _)| n.clone()).collect();
    names.push("SHA256SUMS".to_owned());
    names.sort();
    assert!(
        requests
            .iter()
            .all(|q| q.head.contains("JOB-TOKEN: job-token-1")),
        "{requests:?}"
    );
    let packages = format!("/api/v4/projects/7/packages/generic/dockguard/{VERSION}/");
    let uploads: Vec<&Request> = requests.iter().filter(|q| q.method == "PUT").collect();
    let mut uploaded: Vec<String> = uploads
        .iter()
        .map(|q| q.path.strip_prefix(&packages).unwrap_or(&q.path).to_owned())
        .collect();
    uploaded.sort();
    assert_eq!(uploaded, names, "every file, to the generic package");
    // The job's release is byte for byte the one built here (reproducible elsewhere too).
    for q in &uploads {
        let name = q.path.strip_prefix(&packages).expect("package path");
        let hex = &sha256(&q.body)["sha256:".len()..];
        match sums.iter().find(|(n, _)| n == name) {
            Some((_, h)) => assert_eq!(hex, h, "{name}"),
            None => assert_eq!(q.body, std::fs::read(release.join(name)).expect("sums")),
        }
    }
    assert!(names.contains(&archive_name()));

    let posts: Vec<&Request> = requests.iter().filter(|q| q.method == "POST").collect();
    let create = posts
        .iter()
        .position(|q| q.path == "/api/v4/projects/7/releases")
        .expect("release created");
    let last_upload = requests
        .iter()
        .rposition(|q| q.method == "PUT")
        .expect("uploads");
    let first_post = requests
        .iter()
        .position(|q| q.method == "POST")
        .expect("posts");
    assert!(
        last_upload < first_post,
        "uploaded before the release names them"
    );
    assert_eq!(
        field(&posts[create].body, "tag_name"),
        format!("v{VERSION}")
    );
    let notes =
        std::fs::read_to_string(release.join(format!("CHANGELOG-{VERSION}.md"))).expect("notes");
    assert!(
        field(&posts[create].body, "description").trim_end() == notes.trim_end(),
        "the release notes are CHANGELOG-{VERSION}.md"
    );

    let links: Vec<&&Request> = posts
        .iter()
        .filter(|q| q.path == format!("/api/v4/projects/7/releases/v{VERSION}/assets/links"))
        .collect();
    let mut linked: Vec<String> = links.iter().map(|q| field(&q.body, "name")).collect();
    linked.sort();
    assert_eq!(linked, names);
    for q in links {
        let name = field(&q.body, "name");
        assert_eq!(field(&q.body, "direct_asset_path"), format!("/{name}"));
        assert_eq!(
            field(&q.body, "url"),
            format!("http://127.0.0.1:{}{packages}{name}", api.port)
        );
        assert_eq!(field(&q.body, "link_type"), "package");
    }
}
