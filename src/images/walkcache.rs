//! A small on-disk memo of where the dockerfiles are, so the hook does not walk the whole
//! tree on every push.
//!
//! Finding a tree's images means finding its dockerfiles, and a dockerfile can be in any
//! directory: a walk of every tree of the repository (thousands in a large one, ~150 ms).
//! But "the dockerfiles and `.dockerignore`s below subtree T at path P" is a pure function
//! of (P, T, the dockerfile patterns), and a push changes few directories, so the answers
//! for unchanged subtrees can be kept from one run to the next. With the memo a push reads
//! only the directories it changed.
//!
//! The file lives in the common git dir (`dockguard/dockerfiles-v4`), is written atomically
//! (a new file with a random name, created exclusively without following links, renamed
//! over it) and is only ever an optimisation, never trusted: it is read only when it is a
//! regular file ([`crate::fsx::read_regular`]: opened with `O_NOFOLLOW | O_NONBLOCK`, so a
//! link to `/dev/zero` is not read and a FIFO is not waited on), at most
//! [`MAX_MEMO_BYTES`], and its checksum (of everything before it, see [`checksum`])
//! matches; every entry must lie below its subtree. A missing, unreadable, oversized,
//! foreign-version, truncated, emptied or otherwise altered file is ignored and rebuilt
//! (an emptied memo used to hide the dockerfiles, and a changed COPY source was "no
//! rebuild"); a read-only `.git` (by its mode bits, so also for root) is never written
//! to. Delete it at any time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::Oid;

use super::Entry;
use crate::limits::MAX_MEMO_BYTES;

const MAGIC: &[u8] = b"dockguard-dockerfiles v4\n";
/// The previous format's file, removed when the new one is written.
const OLD_NAME: &str = "dockerfiles-v3";
/// The checksum trailer's length.
const SUM_LEN: usize = 8;
/// Beyond this many subtrees the memo starts over (a bound on the file, whatever happens).
const MAX_KEYS: usize = 100_000;
/// A subtree not looked at in this many runs is forgotten (each push brings new trees
/// for the directories it changed; old ones must not pile up and slow every load).
pub const MAX_AGE: u32 = 4;

/// (subtree path, subtree id) -> the dockerfiles and `.dockerignore`s below it. The path
/// is part of the key because patterns may be anchored (`ci/*.cf`, `vendor/**` excluded).
pub type WalkCache = HashMap<(Vec<u8>, Oid), Arc<Vec<Entry>>, Fnv>;

/// FNV-1a: the memo's keys are short paths and object ids, and SipHash over thousands of
/// them was most of the cost of loading the memo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// The running FNV-1a state.
#[derive(Debug)]
pub struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The memo's path for a repository whose common git dir is `common`.
pub fn path(common: &Path) -> PathBuf {
    common.join("dockguard").join("dockerfiles-v4")
}

/// How many runs ago each memoised subtree was last looked at.
pub type Ages = HashMap<(Vec<u8>, Oid), u32, Fnv>;

/// Loads the memo made under the same patterns (`fingerprint`); empty on any problem.
pub fn load(file: &Path, fingerprint: &str) -> (WalkCache, Ages) {
    let Ok(Some(bytes)) = crate::fsx::read_regular(file, MAX_MEMO_BYTES) else {
        return Default::default();
    };
    parse(&bytes, fingerprint).unwrap_or_default()
}

/// The checksum of a memo's content: SipHash-1-3 (std's `DefaultHasher`, fixed keys).
///
/// It guards against a truncated, emptied or otherwise damaged file, not against someone
/// who can write to `.git` (they can change the hooks). It was the SHA-1 git blob id:
/// libgit2 computes that with collision detection, ~40 instructions a byte, so after a
/// 1000-ref push had grown the walk memo to 1 MB, each of the next pushes spent 90M
/// instructions (more than all else) hashing it twice. SipHash costs ~2 a byte. Should a
/// Rust release change `DefaultHasher`, old memos fail the check and are rebuilt.
fn checksum(content: &[u8]) -> [u8; SUM_LEN] {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write(content);
    h.finish().to_le_bytes()
}

/// Reads a memo file of `.git/dockguard/` the way every memo is read: a regular file (no
/// link followed, a FIFO not waited on), at most [`MAX_MEMO_BYTES`], whose trailing checksum matches. Returns
/// the content before the checksum; `None` for anything else (then the memo is unused).
pub(crate) fn read_sealed(file: &Path) -> Option<Vec<u8>> {
    let mut bytes = crate::fsx::read_regular(file, MAX_MEMO_BYTES).ok()??;
    let at = bytes.len().checked_sub(SUM_LEN)?;
    if checksum(&bytes[..at])[..] != bytes[at..] {
        return None;
    }
    bytes.truncate(at);
    Some(bytes)
}

/// Writes `content` and its checksum atomically under a random name in `file`'s directory
/// (`.git/dockguard/`, made if missing, never through a link); nothing when the git dir is
/// read-only. Failures are ignored: it is only a memo. True when written.
pub(crate) fn write_sealed(file: &Path, mut content: Vec<u8>) -> bool {
    let sum = checksum(&content);
    content.extend_from_slice(&sum);
    let Some(dir) = file.parent() else {
        return false;
    };
    // A git dir made read-only is a wish not to be written to, even by root (who could).
    let git_dir = dir.parent().unwrap_or(dir);
    if std::fs::metadata(git_dir).map_or(true, |m| m.permissions().readonly()) {
        return false;
    }
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    // Our own directory, not a link to somewhere else.
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return false;
    }
    // A random name, created exclusively without following links: a link planted at a
    // guessable name (`.dockerfiles.<pid>.tmp`) used to be written through.
    crate::fsx::TempFile::new(dir, ".dockerfiles.", 0o644)
        .and_then(|mut tmp| {
            tmp.write_all(&content)?;
            tmp.persist(file)
        })
        .is_ok()
}

/// Format: MAGIC, fingerprint line, then per subtree: 20-byte id, u32 path length, path,
/// u32 age, u32 count, and per entry: 20-byte id, u32 mode, u32 path length, path bytes
/// (integers little-endian); then the checksum of all of that ([`checksum`], 8 bytes).
/// `None` for anything else: a memo that does not verify is not used at all.
pub fn parse(bytes: &[u8], fingerprint: &str) -> Option<(WalkCache, Ages)> {
    let (content, sum) = bytes.split_at(bytes.len().checked_sub(SUM_LEN)?);
    if checksum(content)[..] != *sum {
        return None;
    }
    let mut r = Reader(content.strip_prefix(MAGIC)?);
    let fp = r.take(fingerprint.len() + 1)?;
    if &fp[..fingerprint.len()] != fingerprint.as_bytes() || fp[fingerprint.len()] != b'\n' {
        return None;
    }
    let mut out = WalkCache::default();
    let mut ages = Ages::default();
    // Most subtrees hold no dockerfile: one shared empty list instead of one each.
    let none: Arc<Vec<Entry>> = Arc::default();
    while !r.0.is_empty() {
        let key = Oid::from_bytes(r.take(20)?).ok()?;
        let plen = r.u32()? as usize;
        let prefix = r.take(plen)?.to_vec();
        let age = r.u32()?;
        let n = r.u32()? as usize;
        let entries = if n == 0 {
            Arc::clone(&none)
        } else {
            let mut entries = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let oid = Oid::from_bytes(r.take(20)?).ok()?;
                let mode = i32::try_from(r.u32()?).ok()?;
                let len = r.u32()? as usize;
                let path = r.take(len)?.to_vec();
                // Every entry lies below its subtree (the walk only ever records those).
                let below = match path.strip_prefix(&prefix[..]) {
                    Some(rest) if prefix.is_empty() => !rest.is_empty(),
                    Some(rest) => rest.len() > 1 && rest[0] == b'/',
                    None => false,
                };
                if !below {
                    return None;
                }
                entries.push(Entry { path, oid, mode });
            }
            Arc::new(entries)
        };
        ages.insert((prefix.clone(), key), age);
        out.insert((prefix, key), entries);
    }
    Some((out, ages))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// The memo's bytes (see [`parse`]), with each subtree's age (0: used by this run);
/// subtrees older than [`MAX_AGE`] and the root (new on every commit, and the heaviest: it
/// lists every dockerfile) are left out.
pub fn encode(
    fingerprint: &str,
    cache: &WalkCache,
    age: impl Fn(&(Vec<u8>, Oid)) -> u32,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(cache.len() * 24 + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(fingerprint.as_bytes());
    out.push(b'\n');
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    for (key, entries) in cache {
        let (prefix, oid) = key;
        let age = age(key);
        if prefix.is_empty() || age > MAX_AGE {
            continue;
        }
        out.extend_from_slice(oid.as_bytes());
        out.extend_from_slice(&len32(prefix.len()));
        out.extend_from_slice(prefix);
        out.extend_from_slice(&age.to_le_bytes());
        out.extend_from_slice(&len32(entries.len()));
        for e in entries.iter() {
            out.extend_from_slice(e.oid.as_bytes());
            out.extend_from_slice(&u32::try_from(e.mode).unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&len32(e.path.len()));
            out.extend_from_slice(&e.path);
        }
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    Some(out)
}

/// Writes the memo ([`encode`]) atomically. Failures are ignored (it is only a memo).
pub fn save(
    file: &Path,
    fingerprint: &str,
    cache: &WalkCache,
    age: impl Fn(&(Vec<u8>, Oid)) -> u32,
) {
    if cache.len() > MAX_KEYS {
        let _ = std::fs::remove_file(file);
        return;
    }
    let Some(out) = encode(fingerprint, cache, age) else {
        return;
    };
    let content = out[..out.len() - SUM_LEN].to_vec();
    if write_sealed(file, content) {
        if let Some(dir) = file.parent() {
            let _ = std::fs::remove_file(dir.join(OLD_NAME));
        }
    }
}

/// Identifies the dockerfile patterns a memo was made under.
pub fn fingerprint(parts: &[String]) -> String {
    let joined = parts.join("\0");
    Oid::hash_object(git2::ObjectType::Blob, joined.as_bytes())
        .map_or_else(|_| "unknown".to_owned(), |o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_fingerprints_and_garbage() {
        let dir = std::env::temp_dir().join(format!("dg-walkcache-{}", std::process::id()));
        let file = dir.join("m");
        let mut cache = WalkCache::default();
        let oid = Oid::hash_object(git2::ObjectType::Blob, b"x").expect("oid");
        let other = Oid::hash_object(git2::ObjectType::Blob, b"y").expect("oid");
        cache.insert(
            (b"a/\xff b".to_vec(), oid),
            Arc::new(vec![Entry {
                path: b"a/\xff b/Dockerfile".to_vec(),
                oid,
                mode: 0o100644,
            }]),
        );
        cache.insert((b"x".to_vec(), other), Arc::new(Vec::new()));
        cache.insert((Vec::new(), other), Arc::new(Vec::new()));
        save(&file, "fp", &cache, |k| {
            if k.0 == b"x" {
                MAX_AGE + 1
            } else {
                3
            }
        });
        let (loaded, ages) = load(&file, "fp");
        assert_eq!(loaded.len(), 1, "the root and stale subtrees are left out");
        assert_eq!(
            loaded.get(&(b"a/\xff b".to_vec(), oid)),
            cache.get(&(b"a/\xff b".to_vec(), oid))
        );
        assert_eq!(ages.get(&(b"a/\xff b".to_vec(), oid)), Some(&3));
        assert!(load(&file, "other").0.is_empty());
        let mut bytes = std::fs::read(&file).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&file, bytes).expect("write");
        assert!(
            load(&file, "fp").0.is_empty(),
            "a truncated memo is ignored"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
