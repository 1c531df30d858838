//! Git plumbing: opening the repository, reading objects (straight from packs where that
//! pays), commit-graph files, and merge-bases. Nothing here knows about dockerfiles.

pub mod commit_graph;
pub mod history;
pub mod objects;

pub mod repo;

use git2::Oid;

/// The 10-character abbreviation used in messages.
pub fn short(oid: &Oid) -> String {
    let s = oid.to_string();
    s[..10.min(s.len())].to_owned()
}

/// A repository path for display: UTF-8 as is, anything else lossily (JSON also carries
/// the bytes).
pub fn display_path(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// Serialises an oid as its hex string.
pub fn ser_oid<S: serde::Serializer>(oid: &Oid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(oid)
}
