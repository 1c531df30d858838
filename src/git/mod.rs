//! Git plumbing: opening the repository, reading objects (straight from packs where that
//! pays), commit-graph files, and merge-bases. Nothing here knows about dockerfiles.

pub mod commit_graph;
pub mod history;
pub mod objects;
pub mod pack;
pub mod repo;
