//! The published JSON schema (schema/check.schema.json) validated against real output of
//! `dockguard check --format json` in every shape it takes: rebuild, no rebuild, base
//! unknown (unrelated history), renames, non-UTF-8 paths, --commits (and truncated), several
//! targets; and against documents that break it, so the schema is shown to be strict.

use serde_json::{json, Value};

use crate::fixture::{with_master, TestRepo};

pub(crate) fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/check.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read schema"))
        .expect("schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema itself is valid")
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

fn images_validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/images.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read schema"))
        .expect("schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema itself is valid")
}

/// `dockguard images --format json` (schema/images.schema.json): exact mode, every
/// dockerfile counting with an opaque build, no upstream at all; and documents that
/// break it.
#[test]
fn images_output_matches_its_schema() {
    use crate::contexts::branch_pair;
    use crate::exact::layout;
    use crate::trees::Edit;
    let v = images_validator();
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
