//! `dockguard gc` end to end: a real repository with a history of branches that changed
//! images, merged and were deleted, pushed to a real bare remote; a real `docker-registry`
//! with deletes enabled holding every image those pipelines pushed (raw HTTP, not the code
//! under test); the binary. Exactly the live set stays; a pipeline that planned `skip`
//! still finds its images; a git or registry failure deletes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::fixture::{assert_error, git, hermetic, Run, TestRepo};
use crate::realdocker::Registry;
use crate::testservers::sha256;

const TOML: &str = "[images]\nparent = [\"qemu/{name}\"]\n";
const IMAGES: [&str; 3] = ["base", "child", "other"];
/// Long before any grace period.
const OLD: &str = "2020-01-01T00:00:00Z";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Pushes an image whose config says `created` (raw HTTP); returns (digest, bytes of
/// its config and layer).
fn put(base: &str, repo: &str, tag: &str, layer: &[u8], created: &str) -> (String, u64) {
    let a = agent();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{created}","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(layer)
    );
    let blob = |bytes: &[u8]| {
        let digest = sha256(bytes);
        let resp = a
            .post(format!("{base}/v2/{repo}/blobs/uploads/"))
            .send_empty()
            .expect("start upload");
        assert_eq!(resp.status().as_u16(), 202);
        let loc = resp.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let loc = if loc.starts_with('/') {
            format!("{base}{loc}")
        } else {
            loc
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = a
            .put(format!("{loc}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .expect("upload");
        assert_eq!(resp.status().as_u16(), 201);
        (digest, bytes.len())
    };
    let (cd, cl) = blob(config.as_bytes());
    let (ld, ll) = blob(layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{cl},"digest":"{cd}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{ll},"digest":"{ld}"}}]}}"#
    );
    let resp = a
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send(manifest.as_bytes())
        .expect("put manifest");
    assert_eq!(resp.status().as_u16(), 201, "{repo}:{tag}");
    (sha256(manifest.as_bytes()), (cl + ll) as u64)
}

/// Every tag of `repo`, asked with raw HTTP.
fn tags(base: &str, repo: &str) -> BTreeSet<String> {
    let mut resp = agent()
        .get(format!("{base}/v2/{repo}/tags/list?n=10000"))
        .call()
        .expect("tags/list");
    if resp.status().as_u16() == 404 {
        return BTreeSet::new();
    }
    let v: Value =
        serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json");
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn manifest_status(base: &str, repo: &str, tag: &str) -> u16 {
    agent()
        .get(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .call()
        .expect("manifest")
        .status()
        .as_u16()
}

fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/gc.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("schema"))
        .expect("schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema itself is valid")
}

fn assert_valid(doc: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\nin {doc:#}");
}

/// The test's registry: what it holds, per repository, and what the test expects gc to
/// keep and to find as garbage.
struct World {
    r: TestRepo,
    reg: Registry,
    /// `http://HOST`
    base: String,
    /// The commit of the merge request head (not on any branch of the remote).
    mr: String,
    /// repository -> tags that must stay.
    keep: BTreeMap<String, BTreeSet<String>>,
    /// repository -> tags that are garbage.
    garbage: BTreeMap<String, BTreeSet<String>>,
    /// Bytes only the garbage holds.
    garbage_bytes: u64,
    /// What each pipeline pushed: commit label -> (repository, tag, size).
    pushed: BTreeMap<&'static str, Vec<(String, String, u64)>>,
    /// The hand-made tags: (repository, tag).
    extra: Vec<(String, String)>,
}

impl World {
    fn repo_of(image: &str) -> String {
        format!("proj/{image}")
    }

    fn tag(&self, image: &str, rev: &str) -> String {
        let run = self.r.dockguard(&["tag", "--image", image, rev]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout.trim().to_owned()
    }

    /// What a pipeline for `rev` pushed: every image's content tag.
    fn publish(&self, rev: &str, created: &str) -> Vec<(String, String, u64)> {
        IMAGES
            .iter()
            .map(|img| {
                let t = self.tag(img, rev);
                let (_, size) = put(
                    &self.base,
                    &Self::repo_of(img),
                    &t,
                    format!("{img} at {t}").as_bytes(),
                    created,
                );
                (Self::repo_of(img), t, size)
            })
            .collect()
    }

    fn registry_image(&self) -> String {
        format!("{}/proj", self.base)
    }

    fn gc(&self, extra: &[&str]) -> Run {
        let reg = self.registry_image();
        let mut args = vec![
            "gc",
            "--registry-image",
            &reg,
            "--history",
            "2",
            "--grace",
            "1h",
            "--keep",
            &self.mr,
        ];
        args.extend_from_slice(extra);
        self.r.dockguard(&args)
    }

    fn all_tags(&self) -> BTreeMap<String, BTreeSet<String>> {
        IMAGES
            .iter()
            .map(|i| (Self::repo_of(i), tags(&self.base, &Self::repo_of(i))))
            .collect()
    }

    fn push(&self, args: &[&str]) {
        let mut all = vec!["push", "-q", "origin"];
        all.extend_from_slice(args);
        self.r.git(&all);
    }
}

/// master: m0 (base v0) -> m1 (base v1, tag v1) -> a (feat-a merged, base v2) -> m3 (C
/// only). feat-b changed `other` and was deleted unmerged; feat-d too, a minute ago; feat-c
/// (child's input changed) is open; an MR head (base changed) lives only in CI's eyes.
fn world() -> World {
    let r = TestRepo::new();
    let reg = Registry::start();
    let bare = r.scratch("origin.git");
    git(
        r.tmp.path(),
        &["init", "-q", "--bare", bare.to_str().expect("utf-8")],
    );
    r.git(&["remote", "add", "origin", bare.to_str().expect("utf-8")]);
    let mut w = World {
        base: format!("http://{}", reg.host()),
        r,
        reg,
        mr: String::new(),
        keep: BTreeMap::new(),
        garbage: BTreeMap::new(),
        garbage_bytes: 0,
        pushed: BTreeMap::new(),
        extra: Vec::new(),
    };
    let r = &w.r;
    let m0 = r.commit(
        "images",
        &[
            (".dockguard.toml", TOML),
            ("docker/base/Dockerfile", "FROM debian:12\nRUN echo v0\n"),
            ("docker/child/Dockerfile", "FROM qemu/base\nCOPY x /x\n"),
            ("docker/child/x", "x\n"),
            ("docker/other/Dockerfile", "FROM alpine:3\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    w.push(&["master"]);
    let at_m0 = w.publish(&m0.to_string(), OLD);
    let m1 = r.commit(
        "base v1",
        &[("docker/base/Dockerfile", "FROM debian:12\nRUN echo v1\n")],
    );
    r.git(&["tag", "-a", "v1", "-m", "release 1"]);
    w.push(&["master", "v1"]);
    let at_m1 = w.publish(&m1.to_string(), OLD);

    r.switch_new("feat-a", m1);
    let a = r.commit(
        "base v2",
        &[("docker/base/Dockerfile", "FROM debian:12\nRUN echo v2\n")],
    );
    w.push(&["feat-a"]);
    let at_a = w.publish(&a.to_string(), OLD);

    r.switch_new("feat-b", m1);
    let b = r.commit(
        "other b",
        &[("docker/other/Dockerfile", "FROM alpine:3.20\n")],
    );
    w.push(&["feat-b"]);
    let at_b = w.publish(&b.to_string(), OLD);

    // feat-a merges (fast-forward).
    r.switch_new("master", a);
    let m3 = r.commit(
        "C only",
        &[("src/main.c", "int main(void) { return 1; }\n")],
    );
    w.push(&["master"]);
    w.push(&["--delete", "feat-a", "feat-b"]);

    r.switch_new("feat-c", m3);
    let c = r.commit("child input", &[("docker/child/x", "x2\n")]);
    w.push(&["feat-c"]);
    let at_c = w.publish(&c.to_string(), OLD);

    r.switch_new("feat-d", m3);
    let d = r.commit(
        "other d",
        &[("docker/other/Dockerfile", "FROM alpine:3.21\n")],
    );
    w.push(&["feat-d"]);
    let now = chrono_now();
    let at_d = w.publish(&d.to_string(), &now);
    w.push(&["--delete", "feat-d"]);

    r.switch_new("mr", m3);
    let mr = r.commit(
        "mr base",
        &[("docker/base/Dockerfile", "FROM debian:12\nRUN echo mr\n")],
    );
    let at_mr = w.publish(&mr.to_string(), OLD);
    r.checkout("master");
    r.git(&["branch", "-q", "-D", "mr"]);
    // As GitLab keeps a merge request's head (from a fork too): no branch, so not live.
    w.push(&[&format!("{mr}:refs/merge-requests/1/head")]);
    w.mr = mr.to_string();

    // Moving and hand-made tags: `latest` on m0's base (same bytes, same digest), a branch
    // slug, and a content tag no commit ever had.
    let (base0_repo, base0_tag, _) = at_m0[0].clone();
    put(
        &w.base,
        &base0_repo,
        "latest",
        format!("base at {base0_tag}").as_bytes(),
        OLD,
    );
    put(&w.base, "proj/other", "feat-a", b"a slug tag", OLD);
    let stray = format!("c1-{}", "0".repeat(40));
    let (_, stray_size) = put(&w.base, "proj/base", &stray, b"stray", OLD);

    let mut keep: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |set: &[(String, String, u64)]| {
        for (repo, t, _) in set {
            keep.entry(repo.clone()).or_default().insert(t.clone());
        }
    };
    // Live: m3 and a (history 2), m1 (tag v1), feat-c, the MR; feat-d by grace.
    for set in [&at_a, &at_m1, &at_c, &at_mr, &at_d] {
        add(set);
    }
    let at_m3 = w.publish(&m3.to_string(), OLD);
    assert_eq!(at_m3, at_a, "a C-only commit keeps every tag");
    keep.entry(base0_repo.clone())
        .or_default()
        .insert("latest".into());
    keep.entry(base0_repo).or_default().insert(base0_tag);
    keep.entry("proj/other".into())
        .or_default()
        .insert("feat-a".into());
    w.keep = keep;

    let mut garbage: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut bytes = stray_size;
    garbage.entry("proj/base".into()).or_default().insert(stray);
    for (repo, t, size) in at_m0.iter().chain(&at_b) {
        if !w.keep.get(repo).is_some_and(|k| k.contains(t))
            && garbage.entry(repo.clone()).or_default().insert(t.clone())
        {
            bytes += size;
        }
    }
    w.garbage = garbage;
    w.garbage_bytes = bytes;
    w.pushed = [
        ("m0", at_m0),
        ("m1", at_m1),
        ("a", at_a),
        ("b", at_b),
        ("c", at_c),
        ("d", at_d),
        ("mr", at_mr),
    ]
    .into();
    w.extra = vec![
        ("proj/base".into(), "latest".into()),
        ("proj/other".into(), "feat-a".into()),
    ];
    w
}

/// Now, as RFC 3339 (the `date` binary: the test does not trust the code under test).
fn chrono_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn by_verdict(v: &Value, verdict: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in v["tags"].as_array().expect("tags") {
        if t["verdict"] == verdict {
            let repo = t["repository"].as_str().expect("repository");
            let repo = repo.split_once('/').map_or(repo, |(_, p)| p);
            out.entry(repo.to_owned())
                .or_default()
                .insert(t["tag"].as_str().expect("tag").to_owned());
        }
    }
    out
}

fn union(
    a: &BTreeMap<String, BTreeSet<String>>,
    b: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = a.clone();
    for (k, v) in b {
        out.entry(k.clone()).or_default().extend(v.iter().cloned());
    }
    out
}

#[test]
#[ignore = "needs docker-registry"]
fn gc_keeps_exactly_the_live_set_and_deletes_the_rest() {
    let w = world();
    let everything = union(&w.keep, &w.garbage);
    assert_eq!(
        w.all_tags(),
        everything,
        "the registry holds what the pipelines pushed"
    );

    // A dry run: the report, and nothing deleted.
    let run = w.gc(&["--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    assert_valid(&v);
    assert_eq!(by_verdict(&v, "garbage"), w.garbage, "{v:#}");
    assert_eq!(by_verdict(&v, "keep"), w.keep, "{v:#}");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["counts"]["deleted"], 0);
    assert_eq!(v["bytes_freed"], w.garbage_bytes);
    assert_eq!(v["default_branch"], "master");
    assert_eq!(w.all_tags(), everything);
    let why = |tag: &str| {
        v["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["tag"] == tag)
            .map(|t| t["why"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert!(
        why("latest").contains("not a c1 content tag"),
        "{}",
        why("latest")
    );
    let base0 = w.keep["proj/base"]
        .iter()
        .find(|t| why(t).contains("`latest`"))
        .cloned();
    assert!(
        base0.is_some(),
        "m0's base shares latest's digest: kept\n{v:#}"
    );

    // The table says the same, with the dry-run hint.
    let run = w.gc(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let garbage_lines = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("garbage "))
        .count();
    assert_eq!(
        garbage_lines,
        w.garbage.values().map(BTreeSet::len).sum::<usize>(),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("dry run: add --delete to delete them"),
        "{}",
        run.stdout
    );

    // A pipeline on feat-c planned `skip` for every image a moment ago.
    w.r.checkout("feat-c");
    w.r.git(&["fetch", "-q", "origin"]);
    let reg = w.registry_image();
    let plan = w.r.dockguard(&[
        "plan",
        "--no-fetch",
        "--format",
        "json",
        "--registry-image",
        &reg,
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan = plan.json();
    let planned: Vec<(String, String)> = plan["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            assert_eq!(i["action"], "skip", "{plan:#}");
            (
                World::repo_of(i["name"].as_str().expect("name")),
                i["content_tag"].as_str().expect("tag").to_owned(),
            )
        })
        .collect();
    w.r.checkout("master");

    let json = w.r.scratch("gc.json");
    let run = w.gc(&["--delete", "--json", json.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    assert_valid(&v);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["counts"]["deleted"], v["counts"]["garbage"]);
    assert!(run.stdout.contains("deleted "), "{}", run.stdout);
    let mut left = w.keep.clone();
    left.retain(|_, t| !t.is_empty());
    let mut now = w.all_tags();
    now.retain(|_, t| !t.is_empty());
    assert_eq!(now, left, "exactly the live set stays");
    for (repo, t) in &planned {
        assert_eq!(
            manifest_status(&w.base, repo, t),
            200,
            "the pipeline's {repo}:{t}"
        );
    }
    for (repo, gone) in &w.garbage {
        for t in gone {
            assert_eq!(manifest_status(&w.base, repo, t), 404, "{repo}:{t}");
        }
    }

    // Again: nothing left to do.
    let run = w.gc(&["--delete", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["counts"]["garbage"], 0);
}

/// Renames a blob's data file in the registry's storage (and back), so the registry can
/// no longer serve what names it.
fn blob_file(reg: &Registry, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("sha256");
    reg.dir
        .path()
        .join("storage/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

fn assert_untouched(w: &World, run: &Run, message: &str, hint: &str) {
    assert_error(run, message, hint);
    assert_eq!(
        w.all_tags(),
        union(&w.keep, &w.garbage),
        "nothing was deleted"
    );
}

#[test]
#[ignore = "needs docker-registry"]
fn a_git_or_registry_failure_deletes_nothing() {
    let w = world();

    // The remote cannot be asked.
    let run = w.gc(&["--delete", "--remote", "nosuch"]);
    assert_untouched(
        &w,
        &run,
        "cannot list the refs of remote `nosuch`",
        "git ls-remote nosuch",
    );

    // The remote has a branch this clone has not fetched.
    let other = w.r.scratch("other");
    let bare = w.r.scratch("origin.git");
    git(
        w.r.tmp.path(),
        &[
            "clone",
            "-q",
            bare.to_str().expect("utf-8"),
            other.to_str().expect("utf-8"),
        ],
    );
    std::fs::write(other.join("docker/other/Dockerfile"), "FROM alpine:edge\n").expect("write");
    git(&other, &["commit", "-q", "-am", "elsewhere"]);
    git(
        &other,
        &["push", "-q", "origin", "HEAD:refs/heads/elsewhere"],
    );
    let run = w.gc(&["--delete"]);
    assert_untouched(
        &w,
        &run,
        "which this clone does not have",
        "git fetch --tags origin",
    );
    // The hint, pasted, fixes it.
    let hint = run
        .stderr
        .lines()
        .find_map(|l| l.split_once("run gc again: ").map(|(_, c)| c.to_owned()))
        .expect("hint command");
    let out = hermetic(&mut std::process::Command::new("sh"))
        .args(["-c", &hint])
        .current_dir(w.r.path())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{hint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.gc(&[]).code, 0);

    // A live branch's content tags cannot be computed.
    git(&other, &["checkout", "-q", "-b", "broken"]);
    std::fs::write(other.join(".dockguard.toml"), "[images\n").expect("write");
    git(&other, &["commit", "-q", "-am", "broken rules"]);
    git(&other, &["push", "-q", "origin", "broken"]);
    w.r.git(&["fetch", "-q", "origin"]);
    let run = w.gc(&["--delete"]);
    assert_untouched(
        &w,
        &run,
        "cannot compute the content tags",
        "dockguard images",
    );
    git(&other, &["push", "-q", "origin", "--delete", "broken"]);
    assert_eq!(w.gc(&[]).code, 0);

    // One manifest of one repository cannot be read.
    let digest = {
        let mut resp = agent()
            .get(format!("{}/v2/proj/other/manifests/feat-a", w.base))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .call()
            .expect("manifest");
        let _ = resp.body_mut().read_to_string();
        resp.headers()["docker-content-digest"]
            .to_str()
            .expect("digest")
            .to_owned()
    };
    let file = blob_file(&w.reg, &digest);
    let aside = file.with_extension("aside");
    std::fs::rename(&file, &aside).expect("hide the manifest");
    let run = w.gc(&["--delete"]);
    assert_untouched(&w, &run, "nothing was deleted", "run gc again");
    std::fs::rename(&aside, &file).expect("restore");
    assert_eq!(w.gc(&[]).code, 0);
}

/// The fenced blocks of language `lang` in the book's gc chapter.
fn readme_blocks(lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/gc.md"))
        .expect("gc.md");
    let start = readme
        .find("## Registry hygiene: `dockguard gc`")
        .expect("gc.md has the gc section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(i) = rest.find(&fence) {
        let body = &rest[i + fence.len()..];
        let end = body.find("\n```\n").expect("closed block");
        out.push(body[..end + 1].to_owned());
        rest = &body[end..];
    }
    out
}

/// Runs a script with sh in `dir`, hermetically, with dockguard on PATH and `env`.
fn sh(dir: &std::path::Path, script: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin = std::path::Path::new(crate::fixture::dockguard_bin())
        .parent()
        .expect("bin dir")
        .to_owned();
    let mut cmd = std::process::Command::new("sh");
    hermetic(&mut cmd)
        .env("PATH", crate::fixture::path_with(&[&bin]))
        .args(["-eu", "-c", script])
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("sh")
}

/// The gc chapter's commands, its GitLab job's script and its GitHub workflow's step, run as
/// written in a fresh full clone (the job's checkout), against the real registry. The CI
/// systems themselves cannot run here: the test sets what they would (CI_REGISTRY_IMAGE;
/// `${{ vars.REGISTRY_IMAGE }}` evaluated; GITHUB_STEP_SUMMARY).
#[test]
#[ignore = "needs docker-registry"]
fn readme_commands_and_ci_examples_run() {
    let w = world();
    let clone = w.r.scratch("job");
    let bare = w.r.scratch("origin.git");
    git(
        w.r.tmp.path(),
        &[
            "clone",
            "-q",
            bare.to_str().expect("utf-8"),
            clone.to_str().expect("utf-8"),
        ],
    );
    // The job fetches the MR head it keeps (GitLab: refs/merge-requests/N/head).
    git(
        &clone,
        &["fetch", "-q", "origin", "refs/merge-requests/1/head"],
    );
    let reg = w.registry_image();
    // History 100 and no --keep: every master commit is live, the MR head is not.
    let mut keep: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (label, set) in &w.pushed {
        if !matches!(*label, "b" | "mr") {
            for (repo, t, _) in set {
                keep.entry(repo.clone()).or_default().insert(t.clone());
            }
        }
    }
    for (repo, t) in &w.extra {
        keep.entry(repo.clone()).or_default().insert(t.clone());
    }
    let everything = union(&w.keep, &w.garbage);

    // The chapter's sh block (a dry run, a JSON report): nothing deleted.
    let sh_blocks = readme_blocks("sh");
    assert_eq!(sh_blocks.len(), 1);
    let report_only: String = sh_blocks[0]
        .lines()
        .filter(|l| !l.contains("--delete"))
        .map(|l| format!("{l}\n"))
        .collect();
    let out = sh(
        &clone,
        &report_only,
        &[("REGISTRY_IMAGE", &reg), ("MR_HEAD_SHA", &w.mr)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.all_tags(), everything);

    let yaml = readme_blocks("yaml");
    assert_eq!(yaml.len(), 2, "a GitLab job and a GitHub workflow");
    let parse = |text: &str, name: &str| {
        let f = w.r.scratch(name);
        std::fs::write(&f, text).expect("write");
        crate::plan::yaml_to_json(&f)
    };

    // GitHub: report only.
    let wf = parse(&yaml[1], "workflow.yml");
    let steps = wf["jobs"]["gc"]["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["with"]["fetch-depth"], 0, "a full clone");
    let step = &steps[1];
    for k in step["env"].as_object().expect("env").keys() {
        assert!(
            matches!(k.as_str(), "GITHUB_TOKEN" | "REGISTRY_IMAGE"),
            "{k}"
        );
    }
    let summary = w.r.scratch("summary.md");
    let out = sh(
        &clone,
        step["run"].as_str().expect("run"),
        &[
            ("GITHUB_TOKEN", "not-a-real-token"),
            ("REGISTRY_IMAGE", &reg),
            ("GITHUB_REPOSITORY", "owner/proj"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&summary).expect("summary");
    assert!(table.starts_with("```\nACTION"), "{table}");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(clone.join("gc.json")).expect("gc.json"))
            .expect("json");
    assert_valid(&v);
    assert_eq!(by_verdict(&v, "keep"), keep, "{v:#}");
    assert_eq!(w.all_tags(), everything);

    // GitLab: deletes.
    let ci = parse(&yaml[0], "gitlab-ci.yml");
    let job = &ci["registry-gc"];
    assert_eq!(job["variables"]["GIT_DEPTH"], 0);
    assert!(job["rules"][0]["if"]
        .as_str()
        .is_some_and(|r| r.contains("schedule")));
    let script: String = job["script"]
        .as_array()
        .expect("script")
        .iter()
        .map(|l| format!("{}\n", l.as_str().expect("line")))
        .collect();
    let out = sh(
        &clone,
        &script,
        &[
            ("CI_REGISTRY_IMAGE", &reg),
            ("CI_PIPELINE_SOURCE", "schedule"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(clone.join("gc.json")).expect("gc.json"))
            .expect("json");
    assert_eq!(v["counts"]["deleted"], 4, "{v:#}");
    let mut now = w.all_tags();
    now.retain(|_, t| !t.is_empty());
    assert_eq!(now, keep, "exactly the live set stays");
}

/// A second `docker-registry` serving the same storage with deletes disabled (the
/// default), killed when dropped.
struct NoDeletes(std::process::Child, u16);

impl NoDeletes {
    fn start(reg: &Registry) -> Self {
        let bin = crate::realdocker::need("docker-registry");
        let port = crate::realdocker::free_port();
        let cfg = reg.dir.path().join("nodeletes.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                reg.dir.path().join("storage").display()
            ),
        )
        .expect("config");
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry");
        for _ in 0..500 {
            if crate::realdocker::http_status(port, "/v2/").is_some() {
                return NoDeletes(child, port);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("the second docker-registry did not start");
    }
}

impl Drop for NoDeletes {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs docker-registry"]
fn a_registry_that_refuses_deletes_stops_gc_and_says_so() {
    let w = world();
    let no = NoDeletes::start(&w.reg);
    let reg = format!("http://127.0.0.1:{}/proj", no.1);
    let run = w.r.dockguard(&[
        "gc",
        "--registry-image",
        &reg,
        "--history",
        "2",
        "--grace",
        "1h",
        "--keep",
        &w.mr,
        "--delete",
    ]);
    assert_error(
        &run,
        "the registry does not allow deletes (405)",
        "deletes enabled",
    );
    assert!(
        run.stderr.contains("0 of 3 garbage tag(s) were deleted"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("FAILED "),
        "the table says what was not deleted:\n{}",
        run.stdout
    );
    assert_eq!(
        w.all_tags(),
        union(&w.keep, &w.garbage),
        "nothing was deleted"
    );
}
