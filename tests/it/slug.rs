//! `dockguard slug`: docker-tag-safe names, GitLab's CI_COMMIT_REF_SLUG, and properties
//! that hold for arbitrary input.

use dockguard::slug::{docker_tag, gitlab_ref_slug, is_docker_tag, is_reserved, name_hash};
use proptest::prelude::*;
use regex::Regex;

use crate::fixture::{dockguard, git, TestRepo};

fn tag_grammar() -> Regex {
    Regex::new(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z").expect("regex")
}

fn gitlab_grammar() -> Regex {
    // Empty, or [a-z0-9-] not starting or ending with '-', at most 63.
    Regex::new(r"\A(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)?\z").expect("regex")
}

fn slug_cli(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["slug"];
    all.extend_from_slice(args);
    let run = dockguard(dir, &all, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim_end_matches('\n').to_owned()
}

#[test]
fn cli_slugs_names_as_documented() {
    let r = TestRepo::new();
    let p = r.path();
    assert_eq!(slug_cli(p, &["master"]), "master");
    assert_eq!(slug_cli(p, &["v1.2.3"]), "v1.2.3");
    let slash = slug_cli(p, &["feature/foo"]);
    assert_eq!(slash, format!("feature-foo-{}", name_hash("feature/foo")));
    assert_ne!(slash, slug_cli(p, &["feature-foo"]), "no collision");
    // The hash is git's blob hash of the name, so anyone can recompute it.
    let hashed = std::process::Command::new("sh")
        .args(["-c", "printf %s 'feature/foo' | git hash-object --stdin"])
        .output()
        .expect("git hash-object");
    assert!(
        String::from_utf8_lossy(&hashed.stdout).starts_with(&name_hash("feature/foo")),
        "matches git hash-object"
    );
    assert_eq!(
        slug_cli(p, &["--gitlab", "Feature/Foo_Bar"]),
        "feature-foo-bar"
    );
    assert_eq!(slug_cli(p, &["--gitlab", "🐳"]), "");
}

#[test]
fn emoji_branch_falls_back_to_the_short_oid() {
    let r = TestRepo::new();
    let tip = r.commit("x", &[("a", "b")]);
    git(r.path(), &["branch", "🐳"]);
    let tag = slug_cli(r.path(), &["🐳"]);
    let short = &tip.to_string()[..12];
    assert_eq!(tag, format!("{short}-{}", name_hash("🐳")));
    assert!(is_docker_tag(&tag));
    // Outside a repository: no oid, still a valid, deterministic tag.
    let outside = r.scratch("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let run = dockguard(
        &outside,
        &["slug", "🐳"],
        &[(
            "GIT_CEILING_DIRECTORIES",
            r.tmp.path().to_str().expect("utf8"),
        )],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), format!("ref-{}", name_hash("🐳")));
    // An explicit --oid wins, and a bad one is a clear error.
    assert_eq!(
        slug_cli(&outside, &["--oid", &tip.to_string(), "🐳"]),
        format!("{short}-{}", name_hash("🐳"))
    );
    let bad = dockguard(&outside, &["slug", "--oid", "xyz", "🐳"], &[]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("unknown revision `xyz`"),
        "{}",
        bad.stderr
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn docker_tag_always_matches_the_grammar(name in "\\PC{0,200}|[a-z/._-]{0,140}|.{0,300}") {
        let oid = git2::Oid::hash_object(git2::ObjectType::Blob, name.as_bytes()).expect("oid");
        for tag in [docker_tag(&name, None), docker_tag(&name, Some(&oid))] {
            prop_assert!(tag_grammar().is_match(&tag), "{:?} -> {:?}", name, tag);
            prop_assert!(is_docker_tag(&tag));
        }
        prop_assert_eq!(docker_tag(&name, Some(&oid)), docker_tag(&name, Some(&oid)), "deterministic");
        prop_assert_eq!(docker_tag(&name, None), docker_tag(&name, None), "deterministic");
        // Valid tags map to themselves, unless reserved (then a leading `_`); anything
        // else carries the hash of the name. No slug is ever reserved unescaped.
        let tag = docker_tag(&name, None);
        prop_assert!(!is_reserved(&tag, &[]) || tag.starts_with('_'), "{:?} -> {:?}", name, tag);
        prop_assert_ne!(tag.as_str(), "latest");
        if is_docker_tag(&name) && !is_reserved(&name, &[]) {
            prop_assert_eq!(&tag, &name);
        } else if is_docker_tag(&name) && name.len() < 128 {
            prop_assert_eq!(tag, format!("_{name}"));
        } else if is_docker_tag(&name) {
            prop_assert!(tag.starts_with('_') && tag.ends_with(&name_hash(&name)), "{:?} -> {:?}", name, tag);
        } else if !name.is_empty() {
            prop_assert!(tag.ends_with(&name_hash(&name)), "{:?} -> {:?}", name, tag);
        }
    }

    #[test]
    fn distinct_names_get_distinct_tags(a in "[a-z/._-]{1,12}", b in "[a-z/._-]{1,12}") {
        prop_assume!(a != b);
        prop_assert_ne!(docker_tag(&a, None), docker_tag(&b, None), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn gitlab_slug_matches_its_grammar(name in "\\PC{0,100}|[A-Za-z0-9/_.-]{0,100}") {
        let slug = gitlab_ref_slug(&name);
        prop_assert!(gitlab_grammar().is_match(&slug), "{:?} -> {:?}", name, slug);
        prop_assert!(slug.len() <= 63);
        prop_assert_eq!(slug.clone(), gitlab_ref_slug(&name));
    }
}
