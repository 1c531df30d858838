//! An on-disk memo of parsed dockerfiles (by blob id) and of the declarations of compose,
//! bake and CI files (by path and blob id), so that a push does not read and parse them
//! all again.
//!
//! When a dockerfile changes, every image sharing its build context must be parsed (does
//! it COPY the changed file?), and with `images.parent` every dockerfile is (the parent
//! graph): on QEMU that is ~40 blobs to inflate and lex on every such push, most of a
//! `check`'s own work. A parse is a pure function of the blob's bytes and of the parser,
//! so the result is kept. The same goes for declaration files: QEMU's `.gitlab-ci.d/*.yml`
//! cost 22M instructions to inflate and parse, three quarters of a `check` of a one-file
//! change, though they almost never change. A declaration file's parse also depends on its
//! path (its kind, relative contexts), so that is part of its key. All is kept in the
//! common git dir (`dockguard/dockerfiles-parsed`), keyed by
//! blob id, under the parser's version ([`PARSER`]: a hash of this crate's sources and
//! Cargo.lock taken at build time, so another build never trusts it).
//!
//! Like the walk memo ([`super::walkcache`]) it is only ever an optimisation, read and
//! written the same way ([`super::walkcache::read_sealed`] / `write_sealed`): a regular
//! file of at most 64 MiB whose checksum matches (no link followed), else ignored and
//! rewritten; a record that does not decode is parsed again; writes are atomic under a
//! random name; a read-only `.git` is never written to. Delete it at any time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::Oid;

use super::declared::{Builder, Declaration, Declared, Dockerfile, Opaque, Origin, Target};
use super::dockerfile::{Base, Dep, ImageRef, Parsed, Source, Stage, Via};

const MAGIC: &[u8] = b"dockguard-dockerfiles-parsed v4 ";
/// The instructions [`Parsed::arg_uses`] can name (see `dockerfile::Parser`).
const ARG_USE_WHAT: &[&str] = &["FROM", "COPY", "ADD", "RUN --mount"];
/// The parser's version: the build's source hash (see `build.rs`).
pub const PARSER: &str = env!("DOCKGUARD_PARSER_VERSION");
/// Records kept: this run's first, then older ones, up to this many.
const MAX_RECORDS: usize = 512;

/// The memo file of a repository whose common git dir is `common`.
pub fn path(common: &Path) -> PathBuf {
    common.join("dockguard").join("dockerfiles-parsed")
}

/// What a record is the parse of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A dockerfile, by blob id.
    Dockerfile(Oid),
    /// A declaration file: its path and blob id.
    Declared(Vec<u8>, Oid),
}

const TAG_DOCKERFILE: u8 = 0;
const TAG_DECLARED: u8 = 1;

/// The memo of one run: the file as loaded, and what this run used and learnt.
#[derive(Debug, Default)]
pub struct ParsedMemo {
    file: PathBuf,
    bytes: Vec<u8>,
    /// Key -> its record's payload in `bytes`, in file order.
    index: Vec<(Key, std::ops::Range<usize>)>,
    by_key: HashMap<Key, usize>,
    used: HashSet<Key>,
    learnt: Vec<(Key, Vec<u8>)>,
}

impl ParsedMemo {
    /// Loads the memo of the repository whose common git dir is `common` (empty when
    /// there is none, or it is unusable).
    pub fn load(common: &Path) -> Self {
        let file = path(common);
        let bytes = super::walkcache::read_sealed(&file).unwrap_or_default();
        let index = index(&bytes).unwrap_or_default();
        let by_key = index
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        ParsedMemo {
            file,
            bytes,
            index,
            by_key,
            ..ParsedMemo::default()
        }
    }

    /// The payload of `key`'s record, decoded by `decode`, if the memo has a good one.
    fn lookup<T>(&mut self, key: Key, decode: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        let (_, range) = self.index.get(*self.by_key.get(&key)?)?;
        let value = decode(self.bytes.get(range.clone())?)?;
        self.used.insert(key);
        Some(value)
    }

    /// The parse of the dockerfile blob `oid`, if the memo has a good one.
    pub fn get(&mut self, oid: Oid) -> Option<Parsed> {
        self.lookup(Key::Dockerfile(oid), decode)
    }

    /// Remembers the parse of the dockerfile blob `oid`.
    pub fn learn(&mut self, oid: Oid, parsed: &Parsed) {
        let mut payload = Vec::new();
        encode(parsed, &mut payload);
        self.learnt.push((Key::Dockerfile(oid), payload));
    }

    /// The declarations of the file at `path` with blob `oid`, if the memo has them.
    pub fn get_declared(&mut self, path: &[u8], oid: Oid) -> Option<Declared> {
        self.lookup(Key::Declared(path.to_vec(), oid), decode_declared)
    }

    /// Remembers the declarations of the file at `path` with blob `oid`.
    pub fn learn_declared(&mut self, path: &[u8], oid: Oid, declared: &Declared) {
        let mut payload = Vec::new();
        encode_declared(declared, &mut payload);
        self.learnt
            .push((Key::Declared(path.to_vec(), oid), payload));
    }

    /// Writes the memo back when this run parsed something it did not know: this run's
    /// records first, then older ones, at most [`MAX_RECORDS`]. Failures are ignored.
    pub fn save(&mut self) {
        if self.learnt.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.bytes.len() + 4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(PARSER.as_bytes());
        out.push(b'\n');
        let mut written = HashSet::new();
        let learnt = self.learnt.iter().map(|(k, p)| (k, &p[..]));
        let used = self
            .index
            .iter()
            .filter(|(k, _)| self.used.contains(k))
            .chain(self.index.iter().filter(|(k, _)| !self.used.contains(k)))
            .filter_map(|(k, r)| Some((k, self.bytes.get(r.clone())?)));
        for (key, payload) in learnt.chain(used) {
            if written.len() >= MAX_RECORDS {
                break;
            }
            if !written.insert(key) {
                continue;
            }
            match key {
                Key::Dockerfile(oid) => {
                    out.push(TAG_DOCKERFILE);
                    out.extend_from_slice(oid.as_bytes());
                }
                Key::Declared(path, oid) => {
                    out.push(TAG_DECLARED);
                    out.extend_from_slice(oid.as_bytes());
                    put_len(&mut out, path.len());
                    out.extend_from_slice(path);
                }
            }
            put_len(&mut out, payload.len());
            out.extend_from_slice(payload);
        }
        super::walkcache::write_sealed(&self.file, out);
    }
}

/// The records of a memo file: (key, payload range); `None` when it is unusable.
/// A record: a tag byte, the blob id, for a declaration file its path (length-prefixed),
/// then the payload (length-prefixed).
fn index(bytes: &[u8]) -> Option<Vec<(Key, std::ops::Range<usize>)>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let version = rest.strip_prefix(PARSER.as_bytes())?.strip_prefix(b"\n")?;
    let mut r = Reader(version);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let tag = r.byte()?;
        let (head, rest) = r.0.split_at_checked(20)?;
        r.0 = rest;
        let oid = Oid::from_bytes(head).ok()?;
        let key = match tag {
            TAG_DOCKERFILE => Key::Dockerfile(oid),
            TAG_DECLARED => Key::Declared(r.bytes()?.to_vec(), oid),
            _ => return None,
        };
        let len = r.bytes()?.len();
        let end = bytes.len() - r.0.len();
        out.push((key, end - len..end));
    }
    Some(out)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

/// Every field of a [`Parsed`], in order; integers little-endian u32, strings
/// length-prefixed, options and enums a tag byte, reader sets a byte.
pub fn encode(p: &Parsed, out: &mut Vec<u8>) {
    put_len(out, p.stages.len());
    for s in &p.stages {
        put_opt(out, s.name.as_deref());
        let (tag, n) = match s.base {
            Base::Scratch => (0, 0),
            Base::Stage(n) => (1, n),
            Base::Image(n) => (2, n),
        };
        out.push(tag);
        put_len(out, n);
        put_len(out, s.line);
        put_len(out, s.deps.len());
        for d in &s.deps {
            put_len(out, d.stage);
            out.push(d.readers);
        }
    }
    for list in [&p.sources, &p.onbuild] {
        put_len(out, list.len());
        for s in list {
            put_str(out, &s.pattern);
            put_len(out, s.line);
            put_len(out, s.stage);
            out.push(s.readers);
        }
    }
    put_len(out, p.refs.len());
    for r in &p.refs {
        put_str(out, &r.written);
        put_opt(out, r.expanded.as_deref());
        out.push(match r.via {
            Via::From => 0,
            Via::CopyFrom => 1,
            Via::MountFrom => 2,
        });
        put_len(out, r.line);
        put_len(out, r.stage);
        out.push(r.readers);
    }
    put_len(out, p.remote.len());
    for r in &p.remote {
        put_str(out, r);
    }
    put_len(out, p.remote_lines.len());
    for l in &p.remote_lines {
        put_len(out, *l);
    }
    put_len(out, p.arg_uses.len());
    for (line, name, what) in &p.arg_uses {
        put_len(out, *line);
        put_str(out, name);
        put_str(out, what);
    }
    put_len(out, p.inline);
    put_len(out, p.warnings.len());
    for w in &p.warnings {
        put_str(out, w);
    }
    put_len(out, p.args.len());
    for a in &p.args {
        put_str(out, a);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn len(&mut self) -> Option<usize> {
        let (head, rest) = self.0.split_at_checked(4)?;
        self.0 = rest;
        Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.string()?)),
            _ => None,
        }
    }
    /// A count of items, each at least a byte: bounded by what is left.
    fn count(&mut self) -> Option<usize> {
        let n = self.len()?;
        (n <= self.0.len()).then_some(n)
    }
}

/// The inverse of [`encode`]; `None` for anything else.
pub fn decode(bytes: &[u8]) -> Option<Parsed> {
    let mut r = Reader(bytes);
    let mut p = Parsed::default();
    for _ in 0..r.count()? {
        let name = r.opt()?;
        let base = match (r.byte()?, r.len()?) {
            (0, _) => Base::Scratch,
            (1, n) => Base::Stage(n),
            (2, n) => Base::Image(n),
            _ => return None,
        };
        let line = r.len()?;
        let mut deps = Vec::new();
        for _ in 0..r.count()? {
            deps.push(Dep {
                stage: r.len()?,
                readers: r.byte()?,
            });
        }
        p.stages.push(Stage {
            name,
            base,
            line,
            deps,
        });
    }
    for onbuild in [false, true] {
        for _ in 0..r.count()? {
            let s = Source {
                pattern: r.string()?,
                line: r.len()?,
                stage: r.len()?,
                readers: r.byte()?,
            };
            if onbuild {
                p.onbuild.push(s);
            } else {
                p.sources.push(s);
            }
        }
    }
    for _ in 0..r.count()? {
        let written = r.string()?;
        let expanded = r.opt()?;
        let via = match r.byte()? {
            0 => Via::From,
            1 => Via::CopyFrom,
            2 => Via::MountFrom,
            _ => return None,
        };
        p.refs.push(ImageRef {
            written,
            expanded,
            via,
            line: r.len()?,
            stage: r.len()?,
            readers: r.byte()?,
        });
    }
    for _ in 0..r.count()? {
        p.remote.push(r.string()?);
    }
    for _ in 0..r.count()? {
        p.remote_lines.push(r.len()?);
    }
    for _ in 0..r.count()? {
        let line = r.len()?;
        let name = r.string()?;
        // The instruction names the parser records, back as the same static strings.
        let word = r.string()?;
        let what = ARG_USE_WHAT.iter().copied().find(|w| *w == word)?;
        p.arg_uses.push((line, name, what));
    }
    p.inline = r.len()?;
    for _ in 0..r.count()? {
        p.warnings.push(r.string()?);
    }
    for _ in 0..r.count()? {
        p.args.push(r.string()?);
    }
    r.0.is_empty().then_some(p)
}

/// Every field of a [`Declared`], as [`encode`] does for a parse.
pub fn encode_declared(d: &Declared, out: &mut Vec<u8>) {
    put_len(out, d.decls.len());
    for decl in &d.decls {
        put_origin(out, &decl.origin);
        let (tag, text) = match &decl.dockerfile {
            Dockerfile::Path(p) => (0, p),
            Dockerfile::Pattern(p) => (1, p),
            Dockerfile::Inline(t) => (2, t),
        };
        out.push(tag);
        put_str(out, text);
        put_opt(out, decl.context.as_deref());
        match &decl.target {
            Target::Last => out.push(0),
            Target::Named(n) => {
                out.push(1);
                put_str(out, n);
            }
            Target::Unknown => out.push(2),
        }
        put_len(out, decl.args.len());
        for (name, value) in &decl.args {
            put_str(out, name);
            put_opt(out, value.as_deref());
        }
        put_len(out, decl.named.len());
        for (name, dir) in &decl.named {
            put_str(out, name);
            put_str(out, dir);
        }
        out.push(match decl.builder {
            Builder::BuildKit => 0,
            Builder::Legacy => 1,
            Builder::Buildah => 2,
            Builder::Either => 3,
        });
    }
    put_len(out, d.opaque.len());
    for o in &d.opaque {
        put_origin(out, &o.origin);
        put_str(out, &o.why);
    }
    put_len(out, d.warnings.len());
    for w in &d.warnings {
        put_str(out, w);
    }
    put_len(out, d.reads.len());
    for (path, oid) in &d.reads {
        put_str(out, path);
        match oid {
            Some(oid) => {
                out.push(1);
                out.extend_from_slice(oid.as_bytes());
            }
            None => out.push(0),
        }
    }
}

fn put_origin(out: &mut Vec<u8>, o: &Origin) {
    put_str(out, &o.file);
    put_len(out, o.line);
    put_str(out, &o.what);
}

impl Reader<'_> {
    fn origin(&mut self) -> Option<Origin> {
        Some(Origin {
            file: self.string()?,
            line: self.len()?,
            what: self.string()?,
        })
    }
}

/// The inverse of [`encode_declared`]; `None` for anything else.
pub fn decode_declared(bytes: &[u8]) -> Option<Declared> {
    let mut r = Reader(bytes);
    let mut d = Declared::default();
    for _ in 0..r.count()? {
        let origin = r.origin()?;
        let dockerfile = match (r.byte()?, r.string()?) {
            (0, p) => Dockerfile::Path(p),
            (1, p) => Dockerfile::Pattern(p),
            (2, t) => Dockerfile::Inline(t),
            _ => return None,
        };
        let context = r.opt()?;
        let target = match r.byte()? {
            0 => Target::Last,
            1 => Target::Named(r.string()?),
            2 => Target::Unknown,
            _ => return None,
        };
        let mut args = Vec::new();
        for _ in 0..r.count()? {
            args.push((r.string()?, r.opt()?));
        }
        let mut named = Vec::new();
        for _ in 0..r.count()? {
            named.push((r.string()?, r.string()?));
        }
        let builder = match r.byte()? {
            0 => Builder::BuildKit,
            1 => Builder::Legacy,
            2 => Builder::Buildah,
            3 => Builder::Either,
            _ => return None,
        };
        d.decls.push(Declaration {
            origin,
            dockerfile,
            context,
            target,
            args,
            named,
            builder,
        });
    }
    for _ in 0..r.count()? {
        let origin = r.origin()?;
        d.opaque.push(Opaque {
            origin,
            why: r.string()?,
        });
    }
    for _ in 0..r.count()? {
        d.warnings.push(r.string()?);
    }
    for _ in 0..r.count()? {
        let path = r.string()?;
        let oid = match r.byte()? {
            0 => None,
            1 => {
                let (raw, rest) = r.0.split_at_checked(20)?;
                r.0 = rest;
                Some(Oid::from_bytes(raw).ok()?)
            }
            _ => return None,
        };
        d.reads.push((path, oid));
    }
    r.0.is_empty().then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::dockerfile::parse;

    const FILES: &[&str] = &[
        "",
        "FROM debian:12\nRUN apt-get update\n",
        "# escape=`\nARG BASE=alpine\nFROM ${BASE} AS build\nCOPY --from=other /a /b\nCOPY src/ *.c /dst/\nADD https://example.com/x /x\nRUN --mount=type=bind,source=ctx,target=/c make\nFROM build\nCOPY <<EOF /f\nhi\nEOF\n",
        "FROM scratch\nFROM $UNKNOWN\nCOPY $X /y\nRUN <<A cat\nx\n",
        "FROM a\nCOPY [\"x y\", \"z\"]\nONBUILD COPY . /\nFROM --platform=$BUILDPLATFORM b:1@sha256:00 AS c\n",
        "ARG A=1 B=$A\nFROM scratch AS t\nENV D=e\nARG D=a\nCOPY $D /\nONBUILD COPY o/$D /\nFROM t\nCOPY --from=later /x /y\nFROM scratch AS later\nARG V\nCOPY v-$V /\n",
    ];

    #[test]
    fn every_parse_round_trips() {
        for text in FILES {
            let p = parse(text);
            let mut bytes = Vec::new();
            encode(&p, &mut bytes);
            assert_eq!(decode(&bytes).as_ref(), Some(&p), "{text:?}");
            // Any truncation or trailing byte is rejected, never misread.
            for cut in 0..bytes.len() {
                assert_eq!(decode(&bytes[..cut]), None, "{text:?} cut at {cut}");
            }
            bytes.push(0);
            assert_eq!(decode(&bytes), None);
        }
    }

    #[test]
    fn declarations_round_trip_and_are_keyed_by_path() {
        let text = "services:\n  a:\n    build:\n      context: x\n      args:\n        K: v\n        U:\n      additional_contexts:\n        n: ../y\n  b:\n    build: [\n";
        let d = crate::images::declared::parse(b"deploy/compose.yml", text);
        assert!(!d.decls.is_empty() || !d.warnings.is_empty());
        let mut bytes = Vec::new();
        encode_declared(&d, &mut bytes);
        assert_eq!(decode_declared(&bytes).as_ref(), Some(&d));
        for cut in 0..bytes.len() {
            assert_eq!(decode_declared(&bytes[..cut]), None, "cut at {cut}");
        }
        let dir = tempfile_dir().with_extension("declared");
        std::fs::create_dir_all(dir.join("dockguard")).expect("mkdir");
        let oid = Oid::hash_object(git2::ObjectType::Blob, text.as_bytes()).expect("oid");
        let mut memo = ParsedMemo::load(&dir);
        memo.learn_declared(b"deploy/compose.yml", oid, &d);
        memo.learn(oid, &parse("FROM x\n"));
        memo.save();
        let mut memo = ParsedMemo::load(&dir);
        assert_eq!(memo.get_declared(b"deploy/compose.yml", oid), Some(d));
        assert_eq!(memo.get_declared(b"compose.yml", oid), None, "another path");
        assert_eq!(
            memo.get(oid),
            Some(parse("FROM x\n")),
            "a dockerfile record"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_memo_is_reused_and_a_foreign_one_ignored() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("dockguard")).expect("mkdir");
        let oid = Oid::hash_object(git2::ObjectType::Blob, b"FROM x\n").expect("oid");
        let parsed = parse("FROM x\nCOPY a /\n");
        let mut memo = ParsedMemo::load(&dir);
        assert!(memo.get(oid).is_none());
        memo.learn(oid, &parsed);
        memo.save();
        let mut memo = ParsedMemo::load(&dir);
        assert_eq!(memo.get(oid), Some(parsed.clone()));
        let file = path(&dir);
        let bytes = std::fs::read(&file).expect("read");
        let foreign = String::from_utf8_lossy(&bytes).replace(PARSER, "another-build");
        std::fs::write(&file, foreign.as_bytes()).expect("write");
        assert!(ParsedMemo::load(&dir).get(oid).is_none());
        std::fs::write(&file, &bytes[..bytes.len() - 1]).expect("write");
        assert!(ParsedMemo::load(&dir).get(oid).is_none(), "truncated");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("dg-parsedmemo-{}", std::process::id()))
    }
}
