//! Reading objects straight out of pack files: commit headers for history walks, and
//! trees (with delta chains) for the tree diff.
//!
//! Why our own reader, when libgit2 reads packs too:
//! - Cost. A hook's work is inflating objects: commits on a long merge-base walk without a
//!   commit-graph, trees on a large diff. libgit2 sets up a new zlib stream per object,
//!   goes through its object cache and locks, and always inflates whole objects. A walk
//!   needs only a commit's header (parents, committer time), the first few hundred bytes;
//!   real commit messages are often longer. We keep one inflate state per reader, stop a
//!   commit at its committer line, and keep a small cache of delta bases.
//! - Memory. Pack indexes of large repositories are tens of MB. libgit2 maps them without
//!   advice, so the kernel's fault-around maps 64 KiB around every page a binary search
//!   touches, and a hook's resident set balloons (tens of MB for a 68-file diff). Our maps
//!   are advised `MADV_RANDOM`: only the pages we read become resident.
//! - Parallelism. libgit2 serialises reads of one pack behind a lock shared by every
//!   repository handle in the process. [`PackSet`] is immutable and shared between threads;
//!   each thread has its own [`PackReader`], so a large diff uses both cores.
//!
//! Scope: pack index v2, SHA-1. Loose objects, objects in alternates, and anything
//! unexpected return `None`, and the caller reads the object through libgit2 instead: this
//! module can make reading faster, never change what is read.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};
use git2::Oid;
use memmap2::{Advice, Mmap};

use crate::limits::MAX_OBJECT_BYTES;

const OBJ_COMMIT: u8 = 1;
const OBJ_TREE: u8 = 2;
const OBJ_BLOB: u8 = 3;
const OBJ_OFS_DELTA: u8 = 6;
const OBJ_REF_DELTA: u8 = 7;
/// Longest delta chain we follow (git's default maximum depth is 50).
const MAX_CHAIN: usize = 10_000;
/// Bytes of inflated delta bases kept per reader.
const CACHE_BYTES: usize = 16 << 20;
/// First allocation for an inflated object; buffers grow from there with the data.
const FIRST_BUFFER: usize = 64 << 10;

/// Maps a file read-only, advised for random access.
pub fn map_random(path: &Path) -> Option<Mmap> {
    let file = File::open(path).ok()?;
    #[allow(unsafe_code)]
    // SAFETY: git never rewrites packs, pack indexes or commit-graphs in place: new files
    // are written under temporary names and renamed, old ones unlinked (the mapping keeps
    // the inode alive). Every read from a mapping is bounds-checked.
    let m = unsafe { Mmap::map(&file) }.ok()?;
    // Only a hint: without it the kernel maps neighbouring pages on every fault.
    let _ = m.advise(Advice::Random);
    Some(m)
}

struct Pack {
    idx: Mmap,
    pack: Mmap,
    count: u32,
}

impl Pack {
    fn open(idx_path: &Path) -> Option<Pack> {
        let idx = map_random(idx_path)?;
        if idx.len() < 8 + 256 * 4 || idx[..4] != [0xff, b't', b'O', b'c'] || be32(&idx, 4)? != 2 {
            return None;
        }
        let count = be32(&idx, 8 + 255 * 4)?;
        let n = count as usize;
        // fanout, oids, crcs, 32-bit offsets, then 64-bit offsets and two trailing hashes.
        if idx.len() < 8 + 1024 + n * 28 + 40 {
            return None;
        }
        let pack = map_random(&idx_path.with_extension("pack"))?;
        if pack.len() < 12 || &pack[..4] != b"PACK" {
            return None;
        }
        Some(Pack { idx, pack, count })
    }

    fn offset(&self, oid: &[u8]) -> Option<usize> {
        let idx = &self.idx[..];
        let first = usize::from(oid[0]);
        let mut lo = if first == 0 {
            0
        } else {
            be32(idx, 8 + (first - 1) * 4)?
        };
        let mut hi = be32(idx, 8 + first * 4)?.min(self.count);
        let oids = 8 + 1024;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = oids + mid as usize * 20;
            match idx.get(at..at + 20)?.cmp(oid) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let n = self.count as usize;
                    let off32 = be32(idx, oids + n * 24 + mid as usize * 4)?;
                    if off32 & 0x8000_0000 == 0 {
                        return Some(off32 as usize);
                    }
                    let big = oids + n * 28 + (off32 & 0x7fff_ffff) as usize * 8;
                    let hi32 = u64::from(be32(idx, big)?);
                    let lo32 = u64::from(be32(idx, big + 4)?);
                    return usize::try_from(hi32 << 32 | lo32).ok();
                }
            }
        }
        None
    }

    /// The entry header at `off`: (type, inflated size, where the data starts).
    fn header(&self, off: usize) -> Option<(u8, usize, usize)> {
        let data = &self.pack[..];
        let mut at = off;
        let mut byte = *data.get(at)?;
        at += 1;
        let kind = (byte >> 4) & 7;
        let mut size = u64::from(byte & 0x0f);
        let mut shift = 4u32;
        while byte & 0x80 != 0 {
            byte = *data.get(at)?;
            at += 1;
            size |= u64::from(byte & 0x7f).checked_shl(shift)?;
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        Some((kind, usize::try_from(size).ok()?, at))
    }
}

/// The packs of one object directory, mapped once and shared between threads.
pub struct PackSet {
    packs: Vec<Pack>,
}

impl std::fmt::Debug for PackSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackSet")
            .field("packs", &self.packs.len())
            .finish()
    }
}

impl PackSet {
    /// Maps every `pack/*.idx` (with its `.pack`) in `objects_dir`.
    pub fn open(objects_dir: &Path) -> Arc<PackSet> {
        let mut packs = Vec::new();
        if let Ok(dir) = std::fs::read_dir(objects_dir.join("pack")) {
            let mut paths: Vec<_> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "idx"))
                .collect();
            paths.sort();
            packs.extend(paths.iter().filter_map(|p| Pack::open(p)));
        }
        Arc::new(PackSet { packs })
    }

    fn locate(&self, oid: &[u8]) -> Option<(usize, usize)> {
        if oid.len() != 20 {
            return None;
        }
        self.packs
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.offset(oid).map(|o| (i, o)))
    }
}

/// An inflated, delta-resolved object: its type and bytes.
type Resolved = (u8, Rc<Vec<u8>>);

/// A thread's reader over a shared [`PackSet`]: one inflate state and a delta-base cache.
pub struct PackReader {
    set: Arc<PackSet>,
    inflate: Decompress,
    cache: HashMap<(usize, usize), Resolved, BuildOffsetHasher>,
    order: VecDeque<(usize, usize)>,
    cached: usize,
    served: usize,
    missed: usize,
}

impl std::fmt::Debug for PackReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackReader")
            .field("set", &self.set)
            .field("cached", &self.cached)
            .finish_non_exhaustive()
    }
}

impl PackReader {
    /// A reader over `set`.
    pub fn new(set: Arc<PackSet>) -> Self {
        PackReader {
            set,
            inflate: Decompress::new(true),
            cache: HashMap::default(),
            order: VecDeque::new(),
            cached: 0,
            served: 0,
            missed: 0,
        }
    }

    /// The shared packs, for another thread's reader.
    pub fn set(&self) -> Arc<PackSet> {
        Arc::clone(&self.set)
    }

    /// How many objects this reader served, and how many it left to libgit2.
    pub fn stats(&self) -> (usize, usize) {
        (self.served, self.missed)
    }

    fn count<T>(&mut self, found: Option<T>) -> Option<T> {
        if found.is_some() {
            self.served += 1;
        } else {
            self.missed += 1;
        }
        found
    }

    /// The header of a commit stored whole in a pack; `None` when it is not (loose,
    /// deltified, not a commit, or anything unexpected).
    pub fn commit_header(&mut self, oid: &Oid) -> Option<CommitHeader> {
        let found = self.commit_header_inner(oid);
        self.count(found)
    }

    fn commit_header_inner(&mut self, oid: &Oid) -> Option<CommitHeader> {
        let set = Arc::clone(&self.set);
        let (p, off) = set.locate(oid.as_bytes())?;
        let pack = &set.packs[p];
        let (kind, size, at) = pack.header(off)?;
        if kind != OBJ_COMMIT {
            return None;
        }
        let mut buf = Vec::with_capacity(512.min(size));
        let mut input = pack.pack.get(at..)?;
        self.inflate.reset(true);
        // Inflate in slices until the header (up to the committer line) is complete.
        loop {
            let want = (buf.len() + 512).min(size);
            buf.reserve(want.saturating_sub(buf.len()));
            let before = self.inflate.total_in();
            let status = self
                .inflate
                .decompress_vec(input, &mut buf, FlushDecompress::None)
                .ok()?;
            let used = usize::try_from(self.inflate.total_in() - before).ok()?;
            input = input.get(used..)?;
            if let Some(parsed) = parse_header(&buf) {
                return Some(parsed);
            }
            if status == Status::StreamEnd || buf.len() >= size || used == 0 && input.is_empty() {
                return None;
            }
        }
    }

    /// A tree object's raw bytes, resolving delta chains; `None` when it is not in a pack
    /// (or not a tree, or anything unexpected).
    pub fn tree(&mut self, oid: &Oid) -> Option<Rc<Vec<u8>>> {
        let found = self
            .set
            .locate(oid.as_bytes())
            .and_then(|(p, off)| self.object_at(p, off))
            .and_then(|(kind, data)| (kind == OBJ_TREE).then_some(data));
        self.count(found)
    }

    /// A blob's bytes, resolving delta chains; `None` when it is not in a pack.
    pub fn blob(&mut self, oid: &Oid) -> Option<Rc<Vec<u8>>> {
        let found = self
            .set
            .locate(oid.as_bytes())
            .and_then(|(p, off)| self.object_at(p, off))
            .and_then(|(kind, data)| (kind == OBJ_BLOB).then_some(data));
        self.count(found)
    }

    /// Inflates the entry at (pack, offset), applying deltas down its chain.
    fn object_at(&mut self, p: usize, off: usize) -> Option<(u8, Rc<Vec<u8>>)> {
        let set = Arc::clone(&self.set);
        // Walk down to a base we have (cached) or can inflate whole.
        let mut chain: Vec<(usize, usize, usize, usize)> = Vec::new(); // pack, off, size, data
        let (mut cp, mut coff) = (p, off);
        let (kind, mut data) = loop {
            if chain.len() > MAX_CHAIN {
                return None;
            }
            if let Some((k, bytes)) = self.cache.get(&(cp, coff)) {
                break (*k, Rc::clone(bytes));
            }
            let pack = &set.packs[cp];
            let (kind, size, at) = pack.header(coff)?;
            match kind {
                OBJ_OFS_DELTA => {
                    let (rel, n) = ofs_varint(pack.pack.get(at..)?)?;
                    chain.push((cp, coff, size, at + n));
                    coff = coff.checked_sub(rel)?;
                }
                OBJ_REF_DELTA => {
                    let base = pack.pack.get(at..at + 20)?;
                    chain.push((cp, coff, size, at + 20));
                    (cp, coff) = set.locate(base)?;
                }
                1..=4 => {
                    let whole = Rc::new(self.inflate_at(cp, at, size)?);
                    if !chain.is_empty() {
                        self.remember(cp, coff, kind, &whole);
                    }
                    break (kind, whole);
                }
                _ => return None,
            }
        };
        while let Some((dp, doff, dsize, dat)) = chain.pop() {
            let delta = self.inflate_at(dp, dat, dsize)?;
            data = Rc::new(apply_delta(&data, &delta)?);
            if !chain.is_empty() {
                self.remember(dp, doff, kind, &data);
            }
        }
        Some((kind, data))
    }

    /// Inflates `size` bytes at (pack, offset). The size comes from the pack file, so it
    /// is a claim, not an allocation: the buffer grows with what really inflates (a pack
    /// entry claiming 2^36 bytes used to abort the process), and an entry that claims
    /// more than [`MAX_OBJECT_BYTES`] or inflates to anything but its claim is left to
    /// libgit2.
    fn inflate_at(&mut self, p: usize, at: usize, size: usize) -> Option<Vec<u8>> {
        if size > MAX_OBJECT_BYTES {
            return None;
        }
        let mut input = self.set.packs[p].pack.get(at..)?;
        let mut out = Vec::with_capacity(size.min(FIRST_BUFFER));
        self.inflate.reset(true);
        loop {
            if out.len() == out.capacity() {
                // Room for the claim and one byte more (to notice an entry that inflates
                // past it), doubling at most.
                out.reserve_exact(out.len().max(FIRST_BUFFER).min(size + 1 - out.len()));
            }
            let (in_before, out_before) = (self.inflate.total_in(), out.len());
            let status = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Finish)
                .ok()?;
            let used = usize::try_from(self.inflate.total_in() - in_before).ok()?;
            input = input.get(used..)?;
            if out.len() > size {
                return None;
            }
            match status {
                Status::StreamEnd => return (out.len() == size).then_some(out),
                // No progress with room left: the data ends early.
                _ if used == 0 && out.len() == out_before && out.len() < out.capacity() => {
                    return None
                }
                _ => {}
            }
        }
    }

    fn remember(&mut self, p: usize, off: usize, kind: u8, data: &Rc<Vec<u8>>) {
        if data.len() > CACHE_BYTES / 8 {
            return;
        }
        if self
            .cache
            .insert((p, off), (kind, Rc::clone(data)))
            .is_some()
        {
            return;
        }
        self.cached += data.len();
        self.order.push_back((p, off));
        while self.cached > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, e)) = self.cache.remove(&old) {
                self.cached -= e.len();
            }
        }
    }
}

/// Pack offsets are already well spread: a multiply-xor hash is plenty, and much cheaper
/// than the default SipHash on the delta-base cache's hot path.
#[derive(Debug, Clone, Copy, Default)]
struct BuildOffsetHasher;

impl std::hash::BuildHasher for BuildOffsetHasher {
    type Hasher = OffsetHasher;
    fn build_hasher(&self) -> OffsetHasher {
        OffsetHasher(0)
    }
}

#[derive(Debug)]
struct OffsetHasher(u64);

impl std::hash::Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The negative offset of an OFS_DELTA base: git's big-endian base-128 with +1 per byte.
fn ofs_varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    let mut c = *b.get(i)?;
    let mut v = usize::from(c & 0x7f);
    while c & 0x80 != 0 {
        i += 1;
        c = *b.get(i)?;
        v = v.checked_add(1)?.checked_shl(7)? | usize::from(c & 0x7f);
    }
    Some((v, i + 1))
}

fn size_varint(b: &[u8], at: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    let mut shift = 0u32;
    loop {
        let c = *b.get(*at)?;
        *at += 1;
        v |= usize::from(c & 0x7f).checked_shl(shift)?;
        if c & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Applies a git delta (copy/insert instructions) to `base`.
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    if size_varint(delta, &mut at)? != base.len() {
        return None;
    }
    let size = size_varint(delta, &mut at)?;
    // The result size is read from the delta: grow towards it with the data, and never
    // past it.
    if size > MAX_OBJECT_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(size.min(FIRST_BUFFER.max(base.len())));
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut off = 0usize;
            let mut len = 0usize;
            for i in 0..4 {
                if op & (1 << i) != 0 {
                    off |= usize::from(*delta.get(at)?) << (8 * i);
                    at += 1;
                }
            }
            for i in 0..3 {
                if op & (0x10 << i) != 0 {
                    len |= usize::from(*delta.get(at)?) << (8 * i);
                    at += 1;
                }
            }
            if len == 0 {
                len = 0x10000;
            }
            if out.len() + len > size {
                return None;
            }
            out.extend_from_slice(base.get(off..off.checked_add(len)?)?);
        } else if op != 0 {
            let n = usize::from(op);
            if out.len() + n > size {
                return None;
            }
            out.extend_from_slice(delta.get(at..at + n)?);
            at += n;
        } else {
            return None;
        }
    }
    (out.len() == size).then_some(out)
}

/// What a history walk needs of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHeader {
    /// Its tree.
    pub tree: Oid,
    /// Its parents, in order.
    pub parents: Vec<Oid>,
    /// Committer time, seconds since the epoch.
    pub time: i64,
}

/// The header through the committer line, once that much is present.
pub fn parse_header(data: &[u8]) -> Option<CommitHeader> {
    let mut parents = Vec::new();
    let mut tree = None;
    let mut rest = data;
    loop {
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        if line.is_empty() {
            return None; // header ended without a committer line
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Some(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(c) = line.strip_prefix(b"committer ") {
            // "Name <email> TIME TZ": the time is the second field from the right.
            let mut fields = c.rsplit(|b| *b == b' ');
            let _tz = fields.next()?;
            let time = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
            return Some(CommitHeader {
                tree: tree?,
                parents,
                time,
            });
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_copy_and_insert() {
        let base = b"hello, world";
        // src 12, dst 11; copy base[7..12] ("world"), insert " ok!!!".
        let delta = [
            12,
            11,
            0x80 | 0x01 | 0x10,
            7,
            5,
            6,
            b' ',
            b'o',
            b'k',
            b'!',
            b'!',
            b'!',
        ];
        assert_eq!(
            apply_delta(base, &delta).as_deref(),
            Some(&b"world ok!!!"[..])
        );
        // Wrong source size, truncated insert, copy past the end, op 0: all rejected.
        assert_eq!(apply_delta(b"x", &delta), None);
        assert_eq!(apply_delta(base, &[12, 3, 3, b'a']), None);
        assert_eq!(apply_delta(base, &[12, 5, 0x91, 10, 5]), None);
        assert_eq!(apply_delta(base, &[12, 1, 0]), None);
    }

    #[test]
    fn ofs_varint_matches_git() {
        assert_eq!(ofs_varint(&[0x05]), Some((5, 1)));
        // 0x81 0x00: ((1 + 1) << 7) | 0 = 256
        assert_eq!(ofs_varint(&[0x81, 0x00]), Some((256, 2)));
        assert_eq!(ofs_varint(&[0x80]), None);
    }

    #[test]
    fn commit_header_parse() {
        let c = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 1111111111111111111111111111111111111111\nauthor A <a@b> 1 +0000\ncommitter C <c@d> 1700000000 +0100\n\nmsg\n";
        let h = parse_header(c).expect("parsed");
        assert_eq!(h.parents.len(), 1);
        assert_eq!(h.time, 1_700_000_000);
        assert_eq!(
            h.tree.to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(parse_header(b"tree x\n\nmsg"), None);
    }
}
