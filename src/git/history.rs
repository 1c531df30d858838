//! Merge-bases, fast: git's own algorithm over the commit-graph when there is one.
//!
//! [`History::merge_base`] is a port of git's `paint_down_to_common` (commit-reach.c):
//! paint the two sides down a queue ordered by generation, then commit date; a commit
//! reached from both sides is a candidate and makes everything below it stale; stop when
//! only stale commits are queued; drop candidates that are ancestors of other candidates.
//! Commits are read from the commit-graph ([`CommitGraph`]) when it has them (an array
//! lookup) and parsed by libgit2 otherwise (commits newer than the graph), exactly as
//! git mixes the two.
//!
//! We use the graph only where git itself would: not in shallow clones, not with grafts or
//! replace refs, not with `core.commitGraph=false`. Anything unexpected in the graph data
//! falls back to libgit2's merge-base, which is slower but always right.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use git2::{ErrorClass, ErrorCode, Oid, Repository};

use crate::git::commit_graph::{CommitGraph, GENERATION_INFINITY};
use crate::git::objects::CommitHeader;
use crate::git::objects::{ObjectError, Objects};

const PARENT1: u8 = 1;
const PARENT2: u8 = 2;
const STALE: u8 = 4;
const RESULT: u8 = 8;

/// Merge-base computation for one repository, with its commit-graph loaded once.
pub struct History<'r> {
    repo: &'r Repository,
    graph: Option<CommitGraph>,
    /// Our walk is usable here (not shallow, no grafts, no replace refs).
    walkable: bool,
}

impl std::fmt::Debug for History<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("graph", &self.graph)
            .finish_non_exhaustive()
    }
}

/// Why a graph walk stopped: the graph is unusable (ask libgit2 instead) or git failed.
enum WalkError {
    Unusable,
    Object(ObjectError),
}

impl From<ObjectError> for WalkError {
    fn from(e: ObjectError) -> Self {
        WalkError::Object(e)
    }
}

impl<'r> History<'r> {
    /// Loads the commit-graph if git itself would use it here.
    pub fn new(repo: &'r Repository) -> Self {
        let walkable = plain_history(repo);
        History {
            repo,
            graph: if walkable { graph_enabled(repo) } else { None },
            walkable,
        }
    }

    /// A commit's tree, parents and committer time: from the commit-graph when it has the
    /// commit (as git reads them there), else from the object. `None` when history is not
    /// plain (shallow, grafts, replace refs): parents are then not what objects say.
    pub fn commit(
        &self,
        objects: &mut Objects<'_>,
        oid: Oid,
    ) -> Option<Result<CommitHeader, ObjectError>> {
        if !self.walkable {
            return None;
        }
        if let Some((g, pos)) = self
            .graph
            .as_ref()
            .and_then(|g| Some((g, g.position(&oid)?)))
        {
            let mut at = Vec::new();
            if let (Some(tree), Some((_, time))) = (g.tree(pos), g.commit_into(pos, &mut at)) {
                if let Some(parents) = at.iter().map(|p| g.oid(*p)).collect() {
                    return Some(Ok(CommitHeader {
                        tree,
                        parents,
                        time,
                    }));
                }
            }
        }
        Some(objects.commit_header(oid))
    }

    /// True when merge-bases are computed from the commit-graph.
    pub fn uses_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// The best common ancestor of `a` and `b` (`git merge-base a b`), `Ok(None)` when
    /// there is none. Errors are libgit2's (e.g. a missing object).
    pub fn merge_base(
        &self,
        objects: &mut Objects<'_>,
        a: Oid,
        b: Oid,
    ) -> Result<Option<Oid>, ObjectError> {
        Ok(self.merge_bases(objects, a, b)?.first().copied())
    }

    /// Every best common ancestor of `a` and `b` (`git merge-base --all a b`), git's
    /// choice first (newest, then by id); empty when there is none. Criss-cross merges
    /// have several, and which one `git merge-base` prints depends on commit dates.
    pub fn merge_bases(
        &self,
        objects: &mut Objects<'_>,
        a: Oid,
        b: Oid,
    ) -> Result<Vec<Oid>, ObjectError> {
        if a == b {
            return Ok(vec![a]);
        }
        if self.walkable {
            match Walk::new(self.graph.as_ref(), objects).merge_bases(a, b) {
                Ok(found) => return Ok(found),
                Err(WalkError::Object(e)) => return Err(e),
                Err(WalkError::Unusable) => {}
            }
        }
        let best = match self.repo.merge_base(a, b) {
            Ok(oid) => oid,
            Err(e) if e.class() == ErrorClass::Merge && e.code() == ErrorCode::NotFound => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(ObjectError::Git(e)),
        };
        let mut all = match self.repo.merge_bases(a, b) {
            Ok(list) => list.iter().copied().collect::<Vec<_>>(),
            Err(e) => return Err(ObjectError::Git(e)),
        };
        all.retain(|o| *o != best);
        all.insert(0, best);
        Ok(all)
    }
}

/// True when parents are exactly what commit objects say: no shallow cut, no grafts, no
/// replace refs. Otherwise libgit2 (which knows about shallow clones) does the walk.
fn plain_history(repo: &Repository) -> bool {
    if repo.is_shallow() || repo.commondir().join("info/grafts").exists() {
        return false;
    }
    let replace_refs = repo
        .config()
        .ok()
        .and_then(|c| c.get_bool("core.useReplaceRefs").ok())
        .unwrap_or(true);
    !replace_refs
        || repo
            .references_glob("refs/replace/*")
            .map(|mut r| r.next().is_none())
            .unwrap_or(false)
}

fn graph_enabled(repo: &Repository) -> Option<CommitGraph> {
    let config = repo.config().ok()?;
    if !config.get_bool("core.commitGraph").unwrap_or(true) {
        return None;
    }
    CommitGraph::open(&repo.commondir().join("objects"))
}

/// A node's parents: a range of `Walk::edges`, holding graph positions or object ids
/// until first expanded, node indexes after.
#[derive(Clone, Copy)]
enum Parents {
    /// Graph positions, not looked up yet.
    Positions(u32, u32),
    /// Parsed commit: index into `Walk::pending_oids`, not looked up yet.
    Oids(u32, u32),
    /// Node indexes.
    Nodes(u32, u32),
}

struct Node {
    /// For commits outside the graph; graph commits have `pos` (their id is read from the
    /// graph only for the answer: most nodes of a long walk never need it).
    oid: Oid,
    pos: u32,
    generation: u32,
    time: i64,
    flags: u8,
    queued: u32,
    parents: Parents,
}

struct Walk<'a, 'r> {
    objects: &'a mut Objects<'r>,
    graph: Option<&'a CommitGraph>,
    nodes: Vec<Node>,
    /// Graph position -> node index.
    by_pos: PosIndex,
    /// Commits outside the graph -> node index.
    by_oid: HashMap<Oid, u32>,
    edges: Vec<u32>,
    pending_oids: Vec<Oid>,
}

type Step<T> = Result<T, WalkError>;

impl<'a, 'r> Walk<'a, 'r> {
    fn new(graph: Option<&'a CommitGraph>, objects: &'a mut Objects<'r>) -> Self {
        Walk {
            objects,
            graph,
            nodes: Vec::new(),
            by_pos: PosIndex::default(),
            by_oid: HashMap::new(),
            edges: Vec::new(),
            pending_oids: Vec::new(),
        }
    }

    fn merge_bases(mut self, a: Oid, b: Oid) -> Step<Vec<Oid>> {
        let na = self.node_by_oid(a)?;
        let nb = self.node_by_oid(b)?;
        let mut candidates = self.paint(na, nb)?;
        if candidates.len() > 1 {
            candidates = self.remove_redundant(&candidates)?;
        }
        // Like git: newest first; ties broken by id so the answer is deterministic.
        let mut keyed = candidates
            .iter()
            .map(|n| Ok((Reverse(self.nodes[*n as usize].time), self.oid(*n)?)))
            .collect::<Step<Vec<_>>>()?;
        keyed.sort();
        Ok(keyed.into_iter().map(|(_, oid)| oid).collect())
    }

    fn oid(&self, n: u32) -> Step<Oid> {
        let node = &self.nodes[n as usize];
        if node.pos == NO_POS {
            return Ok(node.oid);
        }
        let graph = self.graph.ok_or(WalkError::Unusable)?;
        graph.oid(node.pos).ok_or(WalkError::Unusable)
    }

    fn node_by_oid(&mut self, oid: Oid) -> Step<u32> {
        if let Some(n) = self.by_oid.get(&oid) {
            return Ok(*n);
        }
        if let Some(pos) = self.graph.and_then(|g| g.position(&oid)) {
            return self.node_by_pos(pos);
        }
        let header = self.objects.commit_header(oid)?;
        let (parent_ids, time) = (header.parents, header.time);
        let start = len32(&self.pending_oids);
        self.pending_oids.extend(parent_ids);
        let parents = Parents::Oids(start, len32(&self.pending_oids) - start);
        let n = self.push(Node {
            oid,
            pos: NO_POS,
            generation: GENERATION_INFINITY,
            time,
            flags: 0,
            queued: 0,
            parents,
        });
        self.by_oid.insert(oid, n);
        Ok(n)
    }

    fn node_by_pos(&mut self, pos: u32) -> Step<u32> {
        let graph = self.graph.ok_or(WalkError::Unusable)?;
        if pos >= graph.len() {
            return Err(WalkError::Unusable);
        }
        if let Some(n) = self.by_pos.get(pos) {
            return Ok(n);
        }
        let start = len32(&self.edges);
        let (generation, time) = graph
            .commit_into(pos, &mut self.edges)
            .ok_or(WalkError::Unusable)?;
        if generation == 0 {
            // Written without generation numbers: the walk order would be unsound.
            return Err(WalkError::Unusable);
        }
        let parents = Parents::Positions(start, len32(&self.edges) - start);
        let n = self.push(Node {
            oid: Oid::ZERO_SHA1,
            pos,
            generation,
            time,
            flags: 0,
            queued: 0,
            parents,
        });
        self.by_pos.set(pos, n, graph.len());
        Ok(n)
    }

    fn push(&mut self, node: Node) -> u32 {
        let n = len32(&self.nodes);
        self.nodes.push(node);
        n
    }

    /// The node's parents as a range of `edges` holding node indexes.
    fn parents(&mut self, n: u32) -> Step<(usize, usize)> {
        let (start, len) = match self.nodes[n as usize].parents {
            Parents::Nodes(s, l) => return Ok((s as usize, l as usize)),
            Parents::Positions(s, l) => {
                for i in s..s + l {
                    let node = self.node_by_pos(self.edges[i as usize])?;
                    self.edges[i as usize] = node;
                }
                (s, l)
            }
            Parents::Oids(s, l) => {
                // Looking parents up appends other nodes' edges: collect first.
                let mut found = Vec::with_capacity(l as usize);
                for i in s..s + l {
                    found.push(self.node_by_oid(self.pending_oids[i as usize])?);
                }
                let start = len32(&self.edges);
                self.edges.extend(found);
                (start, l)
            }
        };
        self.nodes[n as usize].parents = Parents::Nodes(start, len);
        Ok((start as usize, len as usize))
    }

    fn key(&self, n: u32) -> (u32, i64, u32) {
        let node = &self.nodes[n as usize];
        (node.generation, node.time, n)
    }

    /// git's paint_down_to_common for one commit against one other.
    fn paint(&mut self, one: u32, two: u32) -> Step<Vec<u32>> {
        let mut queue = BinaryHeap::new();
        let mut nonstale = 0usize;
        let mut result = Vec::new();
        for (n, flag) in [(one, PARENT1), (two, PARENT2)] {
            self.nodes[n as usize].flags |= flag;
            self.nodes[n as usize].queued += 1;
            nonstale += 1;
            queue.push(self.key(n));
        }
        while nonstale > 0 {
            let Some((_, _, n)) = queue.pop() else { break };
            let node = &mut self.nodes[n as usize];
            node.queued -= 1;
            if node.flags & STALE == 0 {
                nonstale -= 1;
            }
            let mut flags = node.flags & (PARENT1 | PARENT2 | STALE);
            if flags == PARENT1 | PARENT2 {
                if node.flags & RESULT == 0 {
                    node.flags |= RESULT;
                    result.push(n);
                }
                flags |= STALE;
            }
            let (start, len) = self.parents(n)?;
            for i in start..start + len {
                let p = self.edges[i];
                let pn = &mut self.nodes[p as usize];
                if pn.flags & flags == flags {
                    continue;
                }
                let was_stale = pn.flags & STALE != 0;
                pn.flags |= flags;
                if !was_stale && pn.flags & STALE != 0 {
                    // Entries of p already queued just became stale.
                    nonstale -= pn.queued as usize;
                }
                pn.queued += 1;
                if pn.flags & STALE == 0 {
                    nonstale += 1;
                }
                queue.push(self.key(p));
            }
        }
        Ok(result
            .into_iter()
            .filter(|n| self.nodes[*n as usize].flags & STALE == 0)
            .collect())
    }

    /// Drops candidates reachable from another candidate.
    fn remove_redundant(&mut self, candidates: &[u32]) -> Step<Vec<u32>> {
        let mut keep = Vec::new();
        for &c in candidates {
            let mut redundant = false;
            for &d in candidates {
                if c != d && self.reaches(d, c)? {
                    redundant = true;
                    break;
                }
            }
            if !redundant {
                keep.push(c);
            }
        }
        Ok(keep)
    }

    /// Is `target` an ancestor of `from`?
    fn reaches(&mut self, from: u32, target: u32) -> Step<bool> {
        let floor = self.nodes[target as usize].generation;
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == target {
                return Ok(true);
            }
            if !seen.insert(n) {
                continue;
            }
            // A descendant of target has a strictly larger generation, so nothing at or
            // below target's generation (other than target) can lead to it. Commits outside
            // the graph have infinite generation and are always walked.
            if floor != GENERATION_INFINITY && self.nodes[n as usize].generation <= floor {
                continue;
            }
            let (start, len) = self.parents(n)?;
            stack.extend_from_slice(&self.edges[start..start + len]);
        }
        Ok(false)
    }
}

/// `Node::pos` of a commit outside the graph.
const NO_POS: u32 = u32::MAX;

/// Graph position -> node index: a small map for the short walks of a branch near
/// upstream (a 1000-ref push makes 1000 of them), an array over the whole graph once a
/// walk is long (an old branch visits tens of thousands of commits).
enum PosIndex {
    Sparse(HashMap<u32, u32>),
    Dense(Vec<u32>),
}

impl Default for PosIndex {
    fn default() -> Self {
        PosIndex::Sparse(HashMap::new())
    }
}

/// Beyond this many nodes the array is cheaper than the map.
const SPARSE_MAX: usize = 4096;

impl PosIndex {
    fn get(&self, pos: u32) -> Option<u32> {
        match self {
            PosIndex::Sparse(m) => m.get(&pos).copied(),
            PosIndex::Dense(v) => v.get(pos as usize).copied().filter(|n| *n != u32::MAX),
        }
    }

    fn set(&mut self, pos: u32, n: u32, graph_len: u32) {
        match self {
            PosIndex::Sparse(m) if m.len() < SPARSE_MAX => {
                m.insert(pos, n);
            }
            PosIndex::Sparse(m) => {
                let mut v = vec![u32::MAX; graph_len as usize];
                for (p, i) in m.drain() {
                    v[p as usize] = i;
                }
                v[pos as usize] = n;
                *self = PosIndex::Dense(v);
            }
            PosIndex::Dense(v) => v[pos as usize] = n,
        }
    }
}

fn len32<T>(v: &[T]) -> u32 {
    u32::try_from(v.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_index_keeps_every_node_when_it_grows_into_an_array() {
        let mut idx = PosIndex::default();
        let len = 3 * SPARSE_MAX as u32;
        let pos = |i: u32| (i * 7919) % len;
        for i in 0..=SPARSE_MAX as u32 + 10 {
            idx.set(pos(i), i, len);
        }
        assert!(matches!(idx, PosIndex::Dense(_)));
        for i in 0..=SPARSE_MAX as u32 + 10 {
            assert_eq!(idx.get(pos(i)), Some(i));
        }
        assert_eq!(idx.get(pos(SPARSE_MAX as u32 + 11)), None);
    }
}
