//! `dockguard slug`: any name maps to a valid docker tag, deterministically; names that
//! are already valid tags map to themselves unless reserved (`latest`, `c1-…`, `_…`);
//! GitLab's slug stays in its grammar.
#![no_main]

use dockguard::slug::{docker_tag, gitlab_ref_slug, is_docker_tag, is_reserved, needs_oid, MAX_TAG};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data);
    let oid = git2::Oid::hash_object(git2::ObjectType::Blob, data).ok();
    for o in [None, oid.as_ref()] {
        let tag = docker_tag(&name, o);
        assert!(is_docker_tag(&tag), "{name:?} -> {tag:?}");
        assert!(tag.len() <= MAX_TAG);
        assert_eq!(tag, docker_tag(&name, o), "deterministic");
        assert!(!is_reserved(&tag, &[]) || tag.starts_with('_'), "{name:?} -> {tag:?}");
        if is_docker_tag(&name) && !is_reserved(&name, &[]) {
            assert_eq!(tag, *name, "a valid tag maps to itself unless reserved");
        }
    }
    let _ = needs_oid(&name);
    let g = gitlab_ref_slug(&name);
    assert!(g.len() <= 63);
    assert!(g
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    assert!(!g.starts_with('-') && !g.ends_with('-'));
});
