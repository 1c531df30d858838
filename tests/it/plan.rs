//! `dockguard plan` end to end: a real repository, real `docker-registry`s (this
//! project's and upstream's), the binary; JSON checked against schema/plan.schema.json;
//! the dotenv, child pipeline (parsed by PyYAML, a real YAML parser) and GitHub outputs;
//! credentials from CI variables, docker's config.json and a credential helper; HTTPS
//! with the system store; hostile image names; and no network on the hook's path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fixture::{Run, TestRepo};
use crate::realdocker::{free_port, test_ca, Auth, Registry};
use crate::testservers::{put_image, put_image_via};

const TOML: &str = "[images]\nparent = [\"qemu/{name}\"]\n";

/// master: base, child (FROM qemu/base, copies x), other; origin/master tracks it;
/// `feature` changes base's dockerfile.
fn project() -> TestRepo {
    let r = TestRepo::new();
    let m = r.commit(
        "images",
        &[
            (".dockguard.toml", TOML),
            ("docker/base/Dockerfile", "FROM debian:12\nRUN true\n"),
            ("docker/child/Dockerfile", "FROM qemu/base\nCOPY x /x\n"),
            ("docker/child/x", "x\n"),
            ("docker/other/Dockerfile", "FROM alpine:3\n"),
            ("src/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    r.remote_ref("origin", "master", m);
    r.switch_new("feature", m);
    r.commit(
        "base",
        &[("docker/base/Dockerfile", "FROM debian:12\nRUN echo v2\n")],
    );
    r
}

pub fn tag_of(r: &TestRepo, image: &str) -> String {
    let run = r.dockguard(&["tag", "--image", image]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_owned()
}

pub fn plan(r: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> (Run, Value) {
    let mut all = vec!["plan", "--no-fetch", "--format", "json"];
    all.extend_from_slice(args);
    let run = r.dockguard_env(&all, env);
    assert_eq!(run.code, 0, "plan failed:\n{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    assert_valid(&v);
    (run, v)
}

fn validator() -> jsonschema::Validator {
    crate::schema::closed("plan")
}

pub fn assert_valid(doc: &Value) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\nin {doc:#}");
}

fn actions(v: &Value) -> Vec<(String, String, String)> {
    v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap_or_default().to_owned(),
                i["action"].as_str().unwrap_or_default().to_owned(),
                i["registry"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn a(name: &str, action: &str, state: &str) -> (String, String, String) {
    (name.into(), action.into(), state.into())
}

/// PyYAML (from ./.tools/venv, which ./test.sh installs) parses `file` into JSON.
pub fn yaml_to_json(file: &Path) -> Value {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python");
    let python: PathBuf = if venv.is_file() {
        venv
    } else {
        "python3".into()
    };
    let out = Command::new(&python)
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))",
        ])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{} cannot run ({e}): run ./test.sh, which installs PyYAML", python.display()));
    assert!(
        out.status.success(),
        "PyYAML refused the generated pipeline (or is missing: run ./test.sh):\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

pub fn jobs(pipeline: &Value) -> BTreeSet<String> {
    pipeline
        .as_object()
        .expect("mapping")
        .keys()
        .filter(|k| !matches!(k.as_str(), "include" | "stages"))
        .cloned()
        .collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
#[ignore = "needs docker-registry"]
fn plans_skip_copy_build_against_real_registries() {
    let r = project();
    let own = Registry::start();
    let up = Registry::start();
    let (base, child, other) = (tag_of(&r, "base"), tag_of(&r, "child"), tag_of(&r, "other"));
    let own_base = format!("http://{}", own.host());
    let up_base = format!("http://{}", up.host());
    put_image(&own_base, None, "proj/other", &other, b"other");
    put_image(&up_base, None, "upstream/proj/child", &child, b"child");
    let files = r.scratch("out");
    std::fs::create_dir_all(&files).expect("dir");
    let f = |n: &str| files.join(n).to_string_lossy().into_owned();
    let reg = format!("http://{}/proj", own.host());
    let upreg = format!("http://{}/upstream/proj", up.host());
    let args = [
        "--registry-image",
        &reg,
        "--upstream-registry-image",
        &upreg,
        "--dotenv",
        &f("plan.env"),
        "--child-pipeline",
        &f("child.yml"),
        "--child-include",
        "ci/gitlab/dockguard.yml",
        "--markdown",
        &f("plan.md"),
    ];

    // 1. base is missing everywhere: built, and child with it, whatever upstream has
    //    (upstream's child is built on upstream's base, not this branch's), so upstream
    //    is not even asked about child; other is present.
    let (_, v) = plan(&r, &args, &[]);
    assert_eq!(
        actions(&v),
        [
            a("base", "build", "missing"),
            a("child", "build", "missing"),
            a("other", "skip", "present")
        ]
    );
    assert_eq!(v["images"][1]["why"], "its parent `base` is built");
    assert_eq!(
        v["images"][1]["registry"]["detail"],
        "upstream's registry not asked: a parent is built"
    );
    // This project's registry: /v2/ and three GETs; upstream's: /v2/ and base.
    assert_eq!(v["registry_requests"], 6);
    assert_eq!(v["images"][0]["affected"], true);
    assert_eq!(v["images"][2]["affected"], false);
    assert_eq!(
        v["images"][0]["reference"],
        format!("{}/proj/base:{base}", own.host())
    );
    assert_eq!(
        v["images"][1]["parents"][0],
        serde_json::json!({"name": "base", "written": "qemu/base", "reference": format!("{}/proj/base:{base}", own.host())})
    );
    assert!(v["images"][2]["registry"]["digest"]
        .as_str()
        .is_some_and(|d| d.starts_with("sha256:")));
    let env = std::fs::read_to_string(f("plan.env")).expect("dotenv");
    assert_eq!(
        env,
        format!(
            "DOCKGUARD_IMAGE_BASE={h}/proj/base:{base}\nDOCKGUARD_IMAGE_CHILD={h}/proj/child:{child}\nDOCKGUARD_IMAGE_OTHER={h}/proj/other:{other}\nDOCKGUARD_PLAN_BUILD_COUNT=2\nDOCKGUARD_PLAN_COPY_COUNT=0\n",
            h = own.host()
        )
    );
    let y = yaml_to_json(&files.join("child.yml"));
    assert_eq!(jobs(&y), set(&["build-base", "build-child"]));
    assert_eq!(y["build-child"]["needs"], serde_json::json!(["build-base"]));
    assert_eq!(y["build-base"]["needs"], serde_json::json!([]));
    assert_eq!(
        y["include"],
        serde_json::json!([{"local": "ci/gitlab/dockguard.yml"}])
    );
    assert_eq!(
        y["build-child"]["variables"]["DOCKGUARD_PARENTS"],
        format!("qemu/base {}/proj/base:{base}", own.host())
    );
    assert_eq!(
        y["build-child"]["extends"],
        serde_json::json!([".dockguard-plan-build"])
    );
    let md = std::fs::read_to_string(f("plan.md")).expect("markdown");
    assert!(
        md.contains("```mermaid\nflowchart TD\n") && md.contains("n0 --> n1"),
        "{md}"
    );

    // 2. base is there now: child is copied from upstream.
    put_image(&own_base, None, "proj/base", &base, b"base");
    let (_, v) = plan(&r, &args, &[]);
    assert_eq!(
        actions(&v),
        [
            a("base", "skip", "present"),
            a("child", "copy", "upstream_only"),
            a("other", "skip", "present")
        ]
    );
    let y = yaml_to_json(&files.join("child.yml"));
    assert_eq!(jobs(&y), set(&["copy-child"]));
    assert_eq!(
        y["copy-child"]["variables"]["DOCKGUARD_COPY_FROM"],
        format!("{}/upstream/proj/child:{child}", up.host())
    );

    // 3. A rebuild request builds the affected images (base, and child on it), not other.
    let (_, v) = plan(&r, &args, &[("DOCKGUARD_REBUILD", "1")]);
    assert_eq!(
        actions(&v),
        [
            a("base", "build", "present"),
            a("child", "build", "missing"),
            a("other", "skip", "present")
        ]
    );
    assert_eq!(v["rebuild_requested"], true);
    let (_, v2) = plan(&r, &[&args[..], &["--rebuild"]].concat(), &[]);
    assert_eq!(actions(&v), actions(&v2));

    // 4. Everything present: an empty pipeline that says so.
    put_image(&own_base, None, "proj/child", &child, b"child");
    let (_, v) = plan(&r, &args, &[]);
    assert_eq!(
        v["counts"],
        serde_json::json!({"build": 0, "copy": 0, "skip": 3})
    );
    let y = yaml_to_json(&files.join("child.yml"));
    assert_eq!(jobs(&y), set(&["dockguard-nothing-to-do"]));
    assert!(y.get("include").is_none());
    // One /v2/ and three GETs; upstream is not asked.
    assert_eq!(v["registry_requests"], 4);
}

#[test]
#[ignore = "needs docker-registry"]
fn unknown_states_build_and_the_table_says_why() {
    let r = project();
    let port = free_port();
    let reg = format!("127.0.0.1:{port}/proj");
    // By default a registry that cannot be asked fails the plan, once, saying why, with
    // a hint that works when followed.
    let run = r.dockguard_env(&["plan", "--no-fetch", "--registry-image", &reg], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cannot ask the registry {reg} about 3 of 3 image(s): registry 127.0.0.1:{port}, image proj/"
        )) && run.stderr.contains("--registry-unreachable build"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no plan is written: {}", run.stdout);
    let run = r.dockguard_env(
        &[
            "plan",
            "--no-fetch",
            "--registry-image",
            &reg,
            "--registry-unreachable",
            "build",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("base   build   unknown"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("its parent `base` is built"),
        "{}",
        run.stdout
    );
    // One refused connection is one warning, with the images it left unknown counted.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("dockguard: warning: registry 127.0.0.1"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].starts_with(&format!("dockguard: warning: registry 127.0.0.1:{port}: "))
            && warnings[0].contains(" images: proj/"),
        "{}",
        run.stderr
    );
    let dot = r.dockguard(&[
        "plan",
        "--no-fetch",
        "--registry-image",
        &reg,
        "--registry-unreachable",
        "build",
        "--format",
        "dot",
    ]);
    assert!(
        dot.stdout.starts_with("digraph plan {") && dot.stdout.contains("\"base\" -> \"child\";"),
        "{}",
        dot.stdout
    );
    let bad = r.dockguard(&["plan", "--no-fetch", "--registry-image", "Not A Registry"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("flag --registry-image"),
        "{}",
        bad.stderr
    );
    let none = r.dockguard(&["plan", "--no-fetch"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("--registry-image"), "{}", none.stderr);
}

#[test]
#[ignore = "needs docker-registry"]
fn credentials_from_ci_variables_config_json_and_a_helper_never_printed() {
    let r = project();
    let secret = "pl4n-s3cret-password";
    let reg = Registry::basic("ci-user", secret);
    let other = tag_of(&r, "other");
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("ci-user:{secret}")
        )
    );
    put_image(
        &format!("http://{}", reg.host()),
        Some(&auth),
        "g/p/other",
        &other,
        b"o",
    );
    let image = format!("{}/g/p", reg.host());
    let state_of_other = |v: &Value| {
        v["images"][2]["registry"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let leaks = |run: &Run| {
        run.stdout.contains(secret)
            || run.stderr.contains(secret)
            || run.stdout.contains(&auth[6..])
            || run.stderr.contains(&auth[6..])
    };

    // GitLab's variables.
    let env = [
        ("CI_REGISTRY", reg.host()),
        ("CI_REGISTRY_IMAGE", image.clone()),
        ("CI_REGISTRY_USER", "ci-user".to_owned()),
        ("CI_REGISTRY_PASSWORD", secret.to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (run, v) = plan(&r, &[], &env);
    assert_eq!(state_of_other(&v), "present", "{}", run.stderr);
    assert!(!leaks(&run));
    // A wrong password: unknown, said clearly, and the password is not shown.
    let wrong = [
        ("CI_REGISTRY", reg.host()),
        ("CI_REGISTRY_IMAGE", image.clone()),
        ("CI_REGISTRY_USER", "ci-user".to_owned()),
        ("CI_REGISTRY_PASSWORD", "wr0ng-pl4n-password".to_owned()),
    ];
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (run, v) = plan(&r, &["--registry-unreachable", "build"], &wrong);
    assert_eq!(state_of_other(&v), "unknown");
    assert_eq!(v["images"][2]["action"], "build");
    assert!(
        run.stderr
            .contains("refused the credentials from CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("wr0ng-pl4n-password") && !run.stderr.contains("wr0ng-pl4n-password")
    );

    // docker's config.json `auths`.
    let cfg = r.scratch("docker-config");
    std::fs::create_dir_all(&cfg).expect("dir");
    std::fs::write(
        cfg.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.host(),
            &auth[6..]
        ),
    )
    .expect("config");
    let cfg_s = cfg.to_string_lossy().into_owned();
    let (run, v) = plan(
        &r,
        &["--registry-image", &image],
        &[("DOCKER_CONFIG", &cfg_s)],
    );
    assert_eq!(state_of_other(&v), "present", "{}", run.stderr);
    assert!(!leaks(&run));

    // A credential helper (`credHelpers`), run as docker runs it: `docker-credential-NAME get`.
    let bin = r.scratch("helper-bin");
    std::fs::create_dir_all(&bin).expect("dir");
    let helper = bin.join("docker-credential-dgtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n[ \"$server\" = '{}' ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"ci-user\",\"Secret\":\"{secret}\"}}' \"$server\"\n",
            reg.host()
        ),
    )
    .expect("helper");
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&helper).expect("meta").permissions(),
        0o755,
    );
    Command::new("chmod")
        .arg("755")
        .arg(&helper)
        .status()
        .expect("chmod");
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"dgtest"}}}}"#, reg.host()),
    )
    .expect("config");
    let path = format!(
        "{}:{}",
        bin.display(),
        crate::fixture::test_path().to_string_lossy()
    );
    let (run, v) = plan(
        &r,
        &["--registry-image", &image],
        &[("DOCKER_CONFIG", &cfg_s), ("PATH", &path)],
    );
    assert_eq!(state_of_other(&v), "present", "{}", run.stderr);
    assert!(!leaks(&run));
    // `credsStore` for every registry.
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"dgtest"}"#).expect("config");
    let (run, v) = plan(
        &r,
        &["--registry-image", &image],
        &[("DOCKER_CONFIG", &cfg_s), ("PATH", &path)],
    );
    assert_eq!(state_of_other(&v), "present", "{}", run.stderr);
}

#[test]
#[ignore = "needs docker-registry"]
fn https_registries_are_trusted_through_the_system_store() {
    let r = project();
    let dir = tempfile::tempdir().expect("dir");
    let (cert, leaf, key) = test_ca(dir.path(), "registry");
    let reg = Registry::start_with(Auth::None, Some((leaf, key)));
    let other = tag_of(&r, "other");
    // Push over HTTPS with the test's own client trusting the certificate.
    let pem = std::fs::read(&cert).expect("cert");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                    ureq::tls::Certificate::from_pem(&pem).expect("pem"),
                ]))
                .build(),
        )
        .build()
        .into();
    put_image_via(
        &agent,
        &format!("https://{}", reg.host()),
        None,
        "p/other",
        &other,
        b"o",
    );
    let image = format!("https://{}/p", reg.host());
    // Without the certificate: unknown (TLS), planned build.
    let (run, v) = plan(
        &r,
        &[
            "--registry-image",
            &image,
            "--registry-unreachable",
            "build",
        ],
        &[],
    );
    assert_eq!(v["images"][2]["registry"]["state"], "unknown");
    let detail = v["images"][2]["registry"]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        detail.contains("TLS") || detail.contains("certificate"),
        "{detail}\n{}",
        run.stderr
    );
    // With it in the system store (SSL_CERT_FILE), over HTTPS: present, and base missing.
    let cert_s = cert.to_string_lossy().into_owned();
    let (run, v) = plan(
        &r,
        &["--registry-image", &image],
        &[("SSL_CERT_FILE", &cert_s)],
    );
    assert_eq!(
        v["images"][2]["registry"]["state"], "present",
        "{}",
        run.stderr
    );
    assert_eq!(
        v["images"][0]["registry"]["state"], "missing",
        "{}",
        run.stderr
    );
}

#[test]
fn the_schema_rejects_what_the_plan_never_writes() {
    let v = validator();
    let image = serde_json::json!({
        "name": "x", "dockerfile": "x/Dockerfile", "context": "x",
        "content_tag": format!("c1-{}", "a".repeat(40)),
        "reference": format!("reg.example/p/x:c1-{}", "a".repeat(40)),
        "upstream_reference": null, "variable": "DOCKGUARD_IMAGE_X", "parents": [],
        "affected": false, "reasons": [],
        "registry": {"state": "unknown", "digest": null, "detail": "down"},
        "action": "build", "why": "the registry could not tell", "needs": [], "level": 0
    });
    let doc = |image: Value| {
        serde_json::json!({
            "version": 1, "provider": "generic", "target": "HEAD", "commit": "a".repeat(40),
            "upstream": {"ref": "refs/remotes/origin/master", "commit": "b".repeat(40)},
            "merge_base": null, "registry": "reg.example/p", "upstream_registry": null,
            "rebuild_requested": false, "request_variable": "DOCKGUARD_REBUILD",
            "decision": "skip", "reason": "not-needed", "strict_failure": false,
            "images": [image], "build_order": ["x"], "counts": {"build": 1, "copy": 0, "skip": 0},
            "registry_requests": 2, "registry_seconds": 0.01, "warnings": []
        })
    };
    assert!(v.is_valid(&doc(image.clone())));
    let mut skip_unknown = image.clone();
    skip_unknown["action"] = "skip".into();
    assert!(!v.is_valid(&doc(skip_unknown)), "unknown is never skip");
    let mut extra = image.clone();
    extra["password"] = "x".into();
    assert!(!v.is_valid(&doc(extra)));
    let mut bad_ref = image;
    bad_ref["reference"] = "reg.example/P/x:latest".into();
    assert!(!v.is_valid(&doc(bad_ref)));
}

#[test]
fn the_hook_path_has_no_network_code() {
    // The hook (and check, push, install) must never reach the registry client: no
    // module on their path names it or the HTTP crate.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("src").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let allowed = |p: &Path| {
        let rel = p
            .strip_prefix(&src)
            .expect("in src")
            .to_string_lossy()
            .into_owned();
        rel.starts_with("registry/")
            || rel.starts_with("gc/")
            || rel == "ci/plan.rs"
            || rel.starts_with("ci/plan/")
            || rel == "lib.rs"
            || rel == "plan.rs"
            || rel == "render/plan.rs"
            || rel == "cli.rs"
            || rel == "verify_images.rs"
    };
    let mut offenders = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let touches = text.contains("crate::registry")
            || text.contains("ureq")
            || text.contains("ci::plan")
            || text.contains("rustls");
        if touches && !allowed(f) {
            offenders.push(f.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "network code reachable from: {offenders:?}"
    );
    // lib.rs sends only `plan` and `copy` there.
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    for line in lib.lines().filter(|l| l.contains("ci::plan::")) {
        assert!(
            line.contains("ci::plan::run(") || line.contains("ci::plan::copy("),
            "{line}"
        );
    }
    assert!(!lib.contains("registry::"));
}

#[test]
#[ignore = "needs dockerd"]
fn a_plan_drives_real_builds_and_then_skips_them() {
    // What the content-tag pipeline will do, by hand: build what the plan says, parents
    // first, tagging each parent's content-tagged image as the dockerfile names it
    // (`parents[].written`), push, and plan again.
    let reg = Registry::start();
    let d = crate::realdocker::Dockerd::shared();
    let busybox = format!("{}/base/busybox:1", reg.host());
    d.push_busybox(&busybox);
    let r = TestRepo::new();
    let m = r.commit(
        "images",
        &[
            (".dockguard.toml", TOML),
            (
                "docker/base/Dockerfile",
                &format!("FROM {busybox}\nRUN echo base-marker > /base\n"),
            ),
            (
                "docker/child/Dockerfile",
                "FROM qemu/base\nCOPY x /x\nRUN cat /base /x > /both\n",
            ),
            ("docker/child/x", "child-marker\n"),
        ],
    );
    r.remote_ref("origin", "master", m);
    let image = format!("{}/proj", reg.host());
    let (_, v) = plan(&r, &["--registry-image", &image], &[]);
    assert_eq!(
        actions(&v),
        [
            a("base", "build", "missing"),
            a("child", "build", "missing")
        ]
    );
    for img in v["images"].as_array().expect("images") {
        for p in img["parents"].as_array().expect("parents") {
            let (written, reference) = (
                p["written"].as_str().expect("w"),
                p["reference"].as_str().expect("r"),
            );
            d.docker_ok(None, &["pull", "-q", reference]);
            d.docker_ok(None, &["tag", reference, written]);
        }
        let reference = img["reference"].as_str().expect("reference");
        let dockerfile = r
            .path()
            .join(img["dockerfile"].as_str().expect("dockerfile"));
        let context = r.path().join(img["context"].as_str().expect("context"));
        d.docker_ok(
            None,
            &[
                "build",
                "-q",
                "-t",
                reference,
                "-f",
                dockerfile.to_str().expect("utf8"),
                context.to_str().expect("utf8"),
            ],
        );
        d.docker_ok(None, &["push", "-q", reference]);
    }
    let (_, v) = plan(&r, &["--registry-image", &image], &[]);
    assert_eq!(
        actions(&v),
        [a("base", "skip", "present"), a("child", "skip", "present")]
    );
    let child = v["images"][1]["reference"].as_str().expect("child");
    d.docker_ok(None, &["rmi", child]);
    let out = d.docker_ok(None, &["run", "--rm", child, "cat", "/both"]);
    assert_eq!(out, "base-marker\nchild-marker");
}

#[test]
fn where_the_plan_connects_is_never_a_dockguard_variable() {
    // Pipeline variables can be set by whoever pushes, and the job's registry credentials
    // go where the plan connects: DOCKGUARD_REGISTRY_IMAGE and
    // DOCKGUARD_UPSTREAM_REGISTRY_IMAGE are not read (flags are); the CI's own
    // CI_REGISTRY_IMAGE stays the default.
    let r = project();
    let own = format!("127.0.0.1:{}/own", free_port());
    let evil = format!("127.0.0.1:{}/evil", free_port());
    let (_, v) = plan(
        &r,
        &["--registry-unreachable", "build"],
        &[
            ("CI_REGISTRY_IMAGE", &own),
            ("DOCKGUARD_REGISTRY_IMAGE", &evil),
            ("DOCKGUARD_UPSTREAM_REGISTRY_IMAGE", &evil),
        ],
    );
    assert_eq!(v["registry"], own);
    assert!(v["upstream_registry"].is_null(), "{v:#}");
    assert!(!v.to_string().contains(&evil), "{v:#}");
    let run = r.dockguard_env(
        &["plan", "--no-fetch"],
        &[("DOCKGUARD_REGISTRY_IMAGE", evil.as_str())],
    );
    assert_eq!(
        run.code, 2,
        "no registry without the flag or CI_REGISTRY_IMAGE"
    );
    assert!(
        run.stderr.contains("pass --registry-image"),
        "{}",
        run.stderr
    );
}
