//! Reading commit headers straight out of pack files, for history walks without a
//! commit-graph.
//!
//! Why: without a commit-graph a merge-base walk on an old branch reads tens of thousands
//! of commits, and the cost is inflating them. libgit2 inflates each whole object through
//! its generic object database (cache, locks, chunked streams); git does the same with
//! less overhead. A walk needs only the header (`tree`, `parent`s, `committer` time), which
//! sits in the first few hundred bytes, while real commit messages are often longer than
//! that. So we look the object up in the pack index, and inflate only until the committer
//! line is complete, reusing one inflate state.
//!
//! Scope: pack index v2, commits stored whole (packs rarely deltify commits). Loose
//! objects, deltified commits, alternates and anything unexpected return `None`, and the
//! caller reads the object through libgit2 instead: this module can only make a walk
//! faster, never change its answer.

use std::fs::File;
use std::path::Path;

use flate2::{Decompress, FlushDecompress, Status};
use git2::Oid;
use memmap2::Mmap;

const OBJ_COMMIT: u8 = 1;

struct Pack {
    idx: Mmap,
    pack: Mmap,
    count: u32,
}

fn map(path: &Path) -> Option<Mmap> {
    let file = File::open(path).ok()?;
    #[allow(unsafe_code)]
    // SAFETY: git never rewrites a pack or its index in place: new packs are written under
    // temporary names and renamed, old ones unlinked (the mapping keeps the inode alive).
    // Every read below is bounds-checked against the mapping's length.
    let m = unsafe { Mmap::map(&file) }.ok()?;
    Some(m)
}

impl Pack {
    fn open(idx_path: &Path) -> Option<Pack> {
        let idx = map(idx_path)?;
        if idx.len() < 8 + 256 * 4 || idx[..4] != [0xff, b't', b'O', b'c'] || be32(&idx, 4)? != 2 {
            return None;
        }
        let count = be32(&idx, 8 + 255 * 4)?;
        let n = count as usize;
        // fanout, oids, crcs, 32-bit offsets, then 64-bit offsets and two trailing hashes.
        if idx.len() < 8 + 1024 + n * 28 + 40 {
            return None;
        }
        let pack = map(&idx_path.with_extension("pack"))?;
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
}

/// The packs of one object directory, and a reusable inflate state.
pub struct Packs {
    packs: Vec<Pack>,
    inflate: Decompress,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Packs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packs")
            .field("packs", &self.packs.len())
            .finish_non_exhaustive()
    }
}

impl Packs {
    /// Maps every `objects/pack/*.idx` (with its `.pack`) in `objects_dir`.
    pub fn open(objects_dir: &Path) -> Self {
        let mut packs = Vec::new();
        if let Ok(dir) = std::fs::read_dir(objects_dir.join("pack")) {
            let mut paths: Vec<_> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "idx"))
                .collect();
            paths.sort();
            packs.extend(paths.iter().filter_map(|p| Pack::open(p)));
        }
        Packs {
            packs,
            inflate: Decompress::new(true),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Parents and committer time of a commit stored whole in a pack; `None` when it is
    /// not (loose, deltified, not a commit, or anything unexpected).
    pub fn commit_header(&mut self, oid: &Oid) -> Option<(Vec<Oid>, i64)> {
        let key = oid.as_bytes();
        if key.len() != 20 {
            return None;
        }
        let (pack, off) = self
            .packs
            .iter()
            .find_map(|p| p.offset(key).map(|o| (p, o)))?;
        let data = &pack.pack[..];
        // Object header: type in bits 4-6 of the first byte, size as a varint.
        let mut at = off;
        let mut byte = *data.get(at)?;
        at += 1;
        if (byte >> 4) & 7 != OBJ_COMMIT {
            return None;
        }
        let mut size = u64::from(byte & 0x0f);
        let mut shift = 4;
        while byte & 0x80 != 0 {
            byte = *data.get(at)?;
            at += 1;
            size |= u64::from(byte & 0x7f).checked_shl(shift)?;
            shift += 7;
        }
        let size = usize::try_from(size).ok()?;
        self.inflate.reset(true);
        self.buf.clear();
        let mut input = data.get(at..)?;
        // Inflate in slices until the header (up to the committer line) is complete.
        loop {
            let want = (self.buf.len() + 512).min(size);
            self.buf.reserve(want - self.buf.len());
            let before_in = self.inflate.total_in();
            let status = self
                .inflate
                .decompress_vec(input, &mut self.buf, FlushDecompress::None)
                .ok()?;
            let used = usize::try_from(self.inflate.total_in() - before_in).ok()?;
            input = input.get(used..)?;
            if let Some(parsed) = parse_header(&self.buf) {
                return Some(parsed);
            }
            if status == Status::StreamEnd
                || self.buf.len() >= size
                || used == 0 && input.is_empty()
            {
                return None;
            }
        }
    }
}

/// Parents and committer time, once the header through the committer line is present.
pub fn parse_header(data: &[u8]) -> Option<(Vec<Oid>, i64)> {
    let mut parents = Vec::new();
    let mut rest = data;
    loop {
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        if line.is_empty() {
            return None; // header ended without a committer line
        }
        if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(c) = line.strip_prefix(b"committer ") {
            // "Name <email> TIME TZ": the time is the second field from the right.
            let mut fields = c.rsplit(|b| *b == b' ');
            let _tz = fields.next()?;
            let time = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
            return Some((parents, time));
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
