//! The published JSON schemas (schema/*.schema.json, one per `--format json` output)
//! validated against real output: `dockguard check --format json` in every shape it takes
//! (rebuild, no rebuild, base unknown, renames, non-UTF-8 paths, --commits and truncated,
//! several targets), `images`, `ci` (and `plan` in plan.rs); and against documents that
//! break them, so the schemas are shown to be strict. Real output is held to each schema
//! with every object closed; the published ones are open, as the compatibility promise
//! (new optional fields without a version bump) needs.

use serde_json::{json, Value};

use crate::fixture::{with_master, TestRepo};

/// Every published schema.
const SCHEMAS: [&str; 4] = ["check", "images", "ci", "plan"];

fn schema(name: &str) -> Value {
    let path = format!("{}/schema/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read schema"))
        .expect("schema is JSON")
}

/// Every object that lists its properties, closed (`additionalProperties: false`), as the
/// tests hold real output to: the published schemas are open, because new optional fields
/// may appear without a version bump, but each field dockguard writes must be listed.
fn close(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("type") == Some(&json!("object"))
                && o.contains_key("properties")
                && !o.contains_key("additionalProperties")
            {
                o.insert("additionalProperties".into(), json!(false));
            }
            o.values_mut().for_each(close);
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

fn build(name: &str, closed: bool) -> jsonschema::Validator {
    let variant = |n: &str| {
        let mut s = schema(n);
        if closed {
            close(&mut s);
        }
        s
    };
    let mut options = jsonschema::draft202012::options();
    options.should_validate_formats(true);
    // The schemas refer to each other by `$id` (ci's `report` is check's document).
    for other in SCHEMAS {
        let s = variant(other);
        let id = s["$id"].as_str().expect("$id").to_owned();
        options.with_resource(
            id,
            jsonschema::Resource::from_contents(s).expect("resource"),
        );
    }
    options
        .build(&variant(name))
        .expect("the schema itself is valid")
}

/// schema/NAME.schema.json as published (what a consumer validates with).
pub(crate) fn published(name: &str) -> jsonschema::Validator {
    build(name, false)
}

/// schema/NAME.schema.json with every object closed ([`close`]): what real output is held to.
pub(crate) fn closed(name: &str) -> jsonschema::Validator {
    build(name, true)
}

/// `check`'s schema, closed.
pub(crate) fn validator() -> jsonschema::Validator {
    closed("check")
}

fn check(r: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let run = r.dockguard(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

pub(crate) fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\nin {doc:#}");
}

#[test]
fn real_output_in_every_shape_matches_the_schema() {
    let v = validator();
    let (r, base) = with_master();
    // No rebuild.
    r.switch_new("clean", base);
    r.commit("docs", &[("README", "hi\n")]);
    let doc = check(&r, &[]);
    assert_eq!(doc["rebuild"], false);
    assert_valid(&v, &doc);

    // Rebuild, with a rename, a non-UTF-8 path and --commits; several targets.
    r.switch_new("feature", base);
    r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    r.rename("move", "src/main.c", "docker/ctx/main.c");
    r.commit_raw("odd", &[(b"odd\xff/Dockerfile", Some(b"FROM x\n"))]);
    let doc = check(&r, &["--commits", "HEAD", "clean", "HEAD~1"]);
    assert_eq!(doc["rebuild"], true);
    assert_eq!(doc["targets"].as_array().map(Vec::len), Some(3));
    let changes = doc["targets"][0]["changes"].as_array().expect("changes");
    assert!(
        changes.iter().any(|c| c.get("path_bytes").is_some()),
        "{doc:#}"
    );
    assert!(doc["targets"][0]["commits"].is_array());
    assert_valid(&v, &doc);

    // --commits stopped by max_commits.
    let run = r.dockguard_env(
        &["check", "--format", "json", "--commits"],
        &[("DOCKGUARD_MAX_COMMITS", "1")],
    );
    let doc = run.json();
    assert_eq!(doc["targets"][0]["commits_truncated"], true, "{doc:#}");
    assert_valid(&v, &doc);

    // Base unknown: an orphan commit.
    let sig = git2::Signature::now("t", "t@example.com").expect("sig");
    let mut tb = r.repo.treebuilder(None).expect("tb");
    let blob = r.repo.blob(b"x").expect("blob");
    tb.insert("Dockerfile", blob, 0o100644).expect("insert");
    let tree = r.repo.find_tree(tb.write().expect("write")).expect("tree");
    let orphan = r
        .repo
        .commit(None, &sig, &sig, "orphan", &tree, &[])
        .expect("commit");
    let doc = check(&r, &[&orphan.to_string()]);
    assert_eq!(doc["targets"][0]["merge_base"], Value::Null);
    assert_valid(&v, &doc);
}

#[test]
fn the_schema_rejects_what_dockguard_never_prints() {
    let v = validator();
    let oid = "0123456789abcdef0123456789abcdef01234567";
    let good = json!({
        "version": 1,
        "upstream": { "ref": "refs/remotes/origin/master", "oid": oid, "chosen_by": "x" },
        "rebuild": true,
        "targets": [{
            "label": "HEAD", "tip": oid, "merge_base": null,
            "base_unknown": { "reason": "shallow", "detail": "d" },
            "changes": [], "other_changes": 0, "rebuild": true, "reasons": ["r"]
        }]
    });
    assert_valid(&v, &good);
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d);
        assert!(!v.is_valid(&d), "accepted {d:#}");
    };
    broken(&|d| d["version"] = json!(2));
    broken(&|d| d["targets"][0]["rebuild"] = json!(false)); // base unknown must rebuild
    broken(&|d| {
        d["targets"][0]["base_unknown"] = Value::Null;
    });
    broken(&|d| d["targets"][0]["tip"] = json!("abc"));
    broken(&|d| d["targets"][0]["surprise"] = json!(1));
    broken(&|d| {
        d["targets"][0]["changes"] = json!([{ "path": "a", "kind": "renamed", "role": "input" }]);
    });
    broken(&|d| {
        d["targets"][0]["changes"] = json!([{ "path": "a", "kind": "copied", "role": "input" }]);
    });
}

/// `dockguard images --format json` (schema/images.schema.json): exact mode, every
/// dockerfile counting with an opaque build, no upstream at all; and documents that
/// break it.
#[test]
fn images_output_matches_its_schema() {
    use crate::contexts::branch_pair;
    use crate::exact::layout;
    use crate::trees::Edit;
    let v = closed("images");
    let images = |r: &TestRepo, args: &[&str]| {
        let mut all = vec!["images", "--format", "json"];
        all.extend_from_slice(args);
        let run = r.dockguard(&all);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
    };
    let (r, _, _) = branch_pair(&layout(&[]), &[Edit::File("hw/core/cpu.c", "x\n")]);
    let exact = images(&r, &["feature"]);
    assert_eq!(exact["declarations"]["exact"], true);
    assert_valid(&v, &exact);
    let root = "include:\n  - local: '/.gitlab-ci.d/project.yml'\n  - remote: 'https://example.com/x.yml'\n";
    let (r, _, _) = branch_pair(
        &layout(&[Edit::File(".gitlab-ci.yml", root)]),
        &[Edit::File("docker/files/debian.docker", "FROM debian:14\n")],
    );
    let opaque = images(&r, &["feature"]);
    assert!(!opaque["declarations"]["opaque"]
        .as_array()
        .expect("opaque")
        .is_empty());
    assert_valid(&v, &opaque);
    let (r, _) = with_master();
    let run = r.dockguard(&["images", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_valid(&v, &run.json());
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = exact.clone();
        f(&mut d);
        assert!(!v.is_valid(&d), "accepted {d:#}");
    };
    broken(&|d| d["images"][0]["counted"] = json!("maybe"));
    broken(&|d| d["images"][0]["built_by"][0]["builder"] = json!("kaniko"));
    broken(&|d| d["declarations"]["not_built"] = json!(7));
    broken(&|d| {
        d["declarations"]["exact"] = json!(false);
    });
    broken(&|d| d["surprise"] = json!(1));
}

/// `dockguard ci --format json` (schema/ci.schema.json): no fetch and fetched, rebuild
/// and skip, requested; its `report` is check's document.
#[test]
fn ci_output_matches_its_schema() {
    let v = closed("ci");
    let (r, base) = with_master();
    let up = r.bare_clone("upstream.git");
    let up = up.to_str().expect("utf-8");
    let ci = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["ci", "--provider", "generic", "--format", "json"];
        all.extend_from_slice(args);
        let run = r.dockguard_env(&all, env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let doc = run.json();
        assert_valid(&v, &doc);
        doc
    };
    r.switch_new("clean", base);
    r.commit("docs", &[("README", "hi\n")]);
    let skip = ci(&["--no-fetch"], &[]);
    assert_eq!(skip["decision"], "skip");
    assert_eq!(skip["fetch"], Value::Null);
    let requested = ci(&["--no-fetch"], &[("DOCKGUARD_REBUILD", "1")]);
    assert_eq!(requested["reason"], "requested");
    r.switch_new("feature", base);
    r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let fetched = ci(&["--upstream-url", up, "--upstream-branch", "master"], &[]);
    assert_eq!(fetched["decision"], "rebuild");
    assert!(fetched["fetch"].is_object(), "{fetched:#}");
    assert_eq!(fetched["report"]["rebuild"], true);

    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = fetched.clone();
        f(&mut d);
        assert!(!v.is_valid(&d), "accepted {d:#}");
    };
    broken(&|d| d["decision"] = json!("maybe"));
    broken(&|d| d["reason"] = json!("fallback-ish"));
    broken(&|d| d["decision"] = json!("skip")); // a skip that was needed
    broken(&|d| d["report"]["targets"][0]["tip"] = json!("abc"));
    broken(&|d| d["fetch"]["rounds"] = json!(-1));
    broken(&|d| d["surprise"] = json!(1));
}

/// The compatibility promise (a `version` bump for incompatible changes; new optional
/// fields without one): a consumer validating with a published schema accepts a document
/// with a field this version does not know, at the top and nested; the closed form the
/// tests use does not. Every `$id` names its document and version, no placeholder.
#[test]
fn published_schemas_accept_new_fields_and_name_themselves() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let doc = check(&r, &[]);
    let mut newer = doc.clone();
    newer["added_in_1_1"] = json!(true);
    newer["targets"][0]["also_new"] = json!({ "x": 1 });
    assert_valid(&published("check"), &newer);
    assert!(!closed("check").is_valid(&newer));
    for name in SCHEMAS {
        let s = schema(name);
        assert_eq!(
            s["$id"],
            json!(format!("urn:dockguard:schema:{name}:1")),
            "{name}"
        );
        assert_eq!(s["properties"]["version"], json!({ "const": 1 }), "{name}");
        let text = serde_json::to_string(&s).expect("json");
        assert!(
            !text.contains("OWNER") && !text.contains("YOUR-ORG"),
            "{name}"
        );
        assert!(
            !text.contains("\"additionalProperties\":false"),
            "{name} is closed"
        );
        published(name);
    }
}
