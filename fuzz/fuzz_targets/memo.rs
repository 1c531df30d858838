//! The walk memo (`.git/dockguard/dockerfiles-v4`) is read from disk, where anything may
//! have been written: parsing arbitrary bytes never panics and never allocates by a size
//! it read; whatever it accepts lists only entries below their subtree; a memo dockguard
//! wrote reads back exactly; and one changed byte anywhere makes it rejected (never a
//! different memo: an emptied one used to hide dockerfiles).
#![no_main]

use std::sync::Arc;

use dockguard::parts::{encode_memo, parse_memo, Entry, WalkCache};
use git2::{ObjectType, Oid};
use libfuzzer_sys::fuzz_target;

const FP: &str = "fingerprint";

/// A memo's worth of subtrees built from the input: `\n` separates subtrees, and each
/// subtree line names its dockerfiles after `\t`.
fn cache_from(data: &[u8]) -> WalkCache {
    let mut cache = WalkCache::default();
    for line in data.split(|b| *b == b'\n') {
        let mut parts = line.split(|b| *b == b'\t');
        let prefix = parts.next().unwrap_or_default().to_vec();
        if prefix.is_empty() {
            continue; // the root is never written
        }
        let oid = Oid::hash_object(ObjectType::Tree, &prefix).expect("oid");
        let entries = parts
            .filter(|name| !name.is_empty())
            .map(|name| {
                let mut path = prefix.clone();
                path.push(b'/');
                path.extend_from_slice(name);
                Entry {
                    oid: Oid::hash_object(ObjectType::Blob, name).expect("oid"),
                    path,
                    mode: 0o100644,
                }
            })
            .collect();
        cache.insert((prefix, oid), Arc::new(entries));
    }
    cache
}

/// What any accepted memo guarantees.
fn check_accepted(bytes: &[u8], fingerprint: &str) {
    if let Some((cache, ages)) = parse_memo(bytes, fingerprint) {
        assert_eq!(cache.len(), ages.len());
        for ((prefix, _), entries) in &cache {
            for e in entries.iter() {
                let rest = e.path.strip_prefix(&prefix[..]).expect("below its subtree");
                assert!(prefix.is_empty() || rest.first() == Some(&b'/'));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes, with the fingerprint a real memo would carry (its second line).
    let fp = data
        .split(|b| *b == b'\n')
        .nth(1)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    check_accepted(data, &fp);
    // Arbitrary content under a valid checksum: the structure parser itself (lengths and
    // counts read from the file, entries outside their subtree).
    let mut framed = format!("dockguard-dockerfiles v4\n{FP}\n").into_bytes();
    framed.extend_from_slice(data);
    let sum = Oid::hash_object(ObjectType::Blob, &framed).expect("sum");
    framed.extend_from_slice(sum.as_bytes());
    check_accepted(&framed, FP);
    let cache = cache_from(data);
    let bytes = encode_memo(FP, &cache, |_| 1).expect("encode");
    let (back, ages) = parse_memo(&bytes, FP).expect("a memo dockguard wrote reads back");
    assert_eq!(back, cache);
    assert!(ages.values().all(|a| *a == 1));
    assert!(parse_memo(&bytes, "other").is_none(), "other patterns: not used");
    if let (Some(&first), Some(&last)) = (data.first(), data.last()) {
        let at = (usize::from(first) * 7919 + data.len()) % bytes.len();
        let mut changed = bytes.clone();
        changed[at] ^= last | 1;
        assert!(parse_memo(&changed, FP).is_none(), "byte {at} changed");
        assert!(parse_memo(&bytes[..at], FP).is_none(), "cut at {at}");
    }
});
