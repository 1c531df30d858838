//! A reader for git's commit-graph files (single file or split chain), so that history
//! walks cost an array lookup per commit instead of inflating a commit object.
//!
//! Why our own: libgit2 1.9 ignores every commit-graph that carries generation-v2 chunks
//! (GDA2/GDO2), which is what git >= 2.31 writes by default (`gc`, `maintenance`,
//! `fetch.writeCommitGraph`). Without a graph, a merge-base on an old branch of a large
//! repository parses tens of thousands of commits (~17x slower than git). Every commit-graph
//! still stores topological levels (generation v1) in CDAT, which is all a correct
//! merge-base walk needs, so we read CDAT and ignore the v2 chunks.
//!
//! Format: git's Documentation/gitformat-commit-graph.txt. Only SHA-1 graphs (hash
//! version 1) are read; anything unexpected makes [`CommitGraph::open`] return `None` and
//! the caller falls back to libgit2, so a damaged or unknown graph costs speed, never
//! correctness.

use std::fs::File;
use std::path::Path;

use git2::Oid;
use memmap2::Mmap;

const HASH_LEN: usize = 20;
const NO_PARENT: u32 = 0x7000_0000;
const OCTOPUS: u32 = 0x8000_0000;
const LAST_EDGE: u32 = 0x8000_0000;

/// Generation of commits that are not in the graph: larger than any real one.
pub const GENERATION_INFINITY: u32 = u32::MAX;

/// One graph file, memory-mapped.
struct Layer {
    map: Mmap,
    fanout: usize,
    oids: usize,
    data: usize,
    edges: Option<(usize, usize)>,
    count: u32,
    /// Global position of this layer's first commit (sum of base layers' counts).
    base: u32,
}

impl Layer {
    fn open(path: &Path) -> Option<Layer> {
        let file = File::open(path).ok()?;
        #[allow(unsafe_code)]
        // SAFETY: git replaces commit-graph files atomically (write to a lock file, then
        // rename), never rewriting one in place, so the mapped bytes cannot change under us.
        // Every offset read below is bounds-checked against the mapping's length.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        let b = &map[..];
        if b.len() < 8 || &b[..4] != b"CGPH" || b[4] != 1 || b[5] != 1 {
            return None;
        }
        let chunks = b[6] as usize;
        let (mut fanout, mut oids, mut data, mut edges) = (None, None, None, None);
        for i in 0..chunks {
            let at = 8 + i * 12;
            let id = b.get(at..at + 4)?;
            let start = usize::try_from(be64(b, at + 4)?).ok()?;
            let end = usize::try_from(be64(b, at + 16)?).ok()?;
            if start > end || end > b.len() {
                return None;
            }
            match id {
                b"OIDF" => fanout = Some(start),
                b"OIDL" => oids = Some(start),
                b"CDAT" => data = Some(start),
                b"EDGE" => edges = Some((start, end)),
                _ => {}
            }
        }
        let fanout = fanout?;
        let count = be32(b, fanout + 255 * 4)?;
        let (oids, data) = (oids?, data?);
        let n = count as usize;
        if oids + n * HASH_LEN > b.len() || data + n * (HASH_LEN + 16) > b.len() {
            return None;
        }
        Some(Layer {
            map,
            fanout,
            oids,
            data,
            edges,
            count,
            base: 0,
        })
    }

    fn find(&self, oid: &[u8]) -> Option<u32> {
        let b = &self.map[..];
        let first = usize::from(oid[0]);
        let lo = if first == 0 {
            0
        } else {
            be32(b, self.fanout + (first - 1) * 4)?
        };
        let hi = be32(b, self.fanout + first * 4)?;
        let (mut lo, mut hi) = (lo, hi.min(self.count));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = self.oids + mid as usize * HASH_LEN;
            match b.get(at..at + HASH_LEN)?.cmp(oid) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// The commit-graph of a repository (all layers of a split chain).
pub struct CommitGraph {
    layers: Vec<Layer>,
}

impl std::fmt::Debug for CommitGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitGraph")
            .field("layers", &self.layers.len())
            .field("commits", &self.len())
            .finish()
    }
}

impl CommitGraph {
    /// Opens the graph in `objects_dir` (`.git/objects`): `info/commit-graph`, else the
    /// split chain in `info/commit-graphs/`. `None` when there is none or it is unusable.
    pub fn open(objects_dir: &Path) -> Option<CommitGraph> {
        let info = objects_dir.join("info");
        if let Some(layer) = Layer::open(&info.join("commit-graph")) {
            return Some(CommitGraph {
                layers: vec![layer],
            });
        }
        let dir = info.join("commit-graphs");
        let chain = std::fs::read_to_string(dir.join("commit-graph-chain")).ok()?;
        let mut layers: Vec<Layer> = Vec::new();
        let mut base = 0u32;
        for line in chain.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut layer = Layer::open(&dir.join(format!("graph-{line}.graph")))?;
            // A layer's header says how many base layers it sits on.
            if usize::from(layer.map[7]) != layers.len() {
                return None;
            }
            layer.base = base;
            base = base.checked_add(layer.count)?;
            layers.push(layer);
        }
        (!layers.is_empty()).then_some(CommitGraph { layers })
    }

    /// How many commits the graph holds.
    pub fn len(&self) -> u32 {
        self.layers.last().map_or(0, |l| l.base + l.count)
    }

    /// The global position of a commit, if the graph has it.
    pub fn position(&self, oid: &Oid) -> Option<u32> {
        let bytes = oid.as_bytes();
        if bytes.len() != HASH_LEN {
            return None;
        }
        self.layers
            .iter()
            .find_map(|l| l.find(bytes).map(|p| l.base + p))
    }

    fn layer_of(&self, pos: u32) -> Option<(&Layer, usize)> {
        let l = self
            .layers
            .iter()
            .rev()
            .find(|l| pos >= l.base && pos < l.base + l.count)?;
        Some((l, (pos - l.base) as usize))
    }

    /// The object id at a global position.
    pub fn oid(&self, pos: u32) -> Option<Oid> {
        let (l, i) = self.layer_of(pos)?;
        let at = l.oids + i * HASH_LEN;
        Oid::from_bytes(l.map.get(at..at + HASH_LEN)?).ok()
    }

    /// The root tree of the commit at a global position.
    pub fn tree(&self, pos: u32) -> Option<Oid> {
        let (l, i) = self.layer_of(pos)?;
        let at = l.data + i * (HASH_LEN + 16);
        Oid::from_bytes(l.map.get(at..at + HASH_LEN)?).ok()
    }

    /// Appends the parents (global positions) of the commit at `pos` to `parents` and
    /// returns its (generation, committer time); no allocation on the walk's hot path.
    pub fn commit_into(&self, pos: u32, parents: &mut Vec<u32>) -> Option<(u32, i64)> {
        let before = parents.len();
        let found = self.read_commit(pos, parents);
        if found.is_none() {
            parents.truncate(before);
        }
        found
    }

    fn read_commit(&self, pos: u32, parents: &mut Vec<u32>) -> Option<(u32, i64)> {
        let before = parents.len();
        let (l, i) = self.layer_of(pos)?;
        let b = &l.map[..];
        let at = l.data + i * (HASH_LEN + 16) + HASH_LEN;
        let p1 = be32(b, at)?;
        let p2 = be32(b, at + 4)?;
        let hi = be32(b, at + 8)?;
        let lo = be32(b, at + 12)?;
        if p1 != NO_PARENT {
            parents.push(p1);
        }
        if p2 & OCTOPUS != 0 {
            let (start, end) = l.edges?;
            let mut e = start + (p2 & !OCTOPUS) as usize * 4;
            loop {
                if e + 4 > end {
                    return None;
                }
                let v = be32(b, e)?;
                parents.push(v & !LAST_EDGE);
                if v & LAST_EDGE != 0 {
                    break;
                }
                e += 4;
            }
        } else if p2 != NO_PARENT {
            parents.push(p2);
        }
        if parents[before..].iter().any(|p| *p >= self.len()) {
            return None;
        }
        Some((hi >> 2, (i64::from(hi & 0x3) << 32) | i64::from(lo)))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
