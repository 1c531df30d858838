//! What the builds of an image read: for each declaration that builds it, the stages its
//! target needs, read with its build arguments and its builder's variable rules
//! ([`super::dockerfile`]); the image's inputs are the union over those builds.
//!
//! An image no declaration names (a declaration whose dockerfile has an unknown part, `-f
//! $DOCKERFILE`, may be about another image) is built by someone dockguard cannot see (a
//! script, a developer, another CI): which `--target`, which `--build-arg`s and which
//! builder are not known, so every stage counts, read every builder's way with any build
//! argument.
//! That never misses what such a build reads; declaring the build (a compose or bake
//! file, a CI `docker build` line) makes it exact.
//!
//! `ONBUILD` instructions of a repository image run in the builds of the images built
//! `FROM` it, with their context: [`inherit_onbuild`] adds them to the children's sources.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::Result;

use super::contexts::{Builds, IgnoreReaders};
use super::declared::{Builder, Declaration, Dockerfile, Target};
use super::dockerfile::{readers, ImageRef, Parsed, Readers, Semantics, Source, Stop, Via};
use super::Image;

/// The variable rules a builder may follow.
fn semantics(b: Builder) -> &'static [Semantics] {
    match b {
        // Which BuildKit is not known: the current frontend or Docker 20.10's.
        Builder::BuildKit => &[Semantics::BuildKit, Semantics::BuildKitV08],
        Builder::Legacy => &[Semantics::Legacy],
        Builder::Buildah | Builder::Either => &Semantics::ALL,
    }
}

/// What the reads found so far, each once.
#[derive(Default)]
struct Reads {
    sources: Vec<Source>,
    refs: Vec<ImageRef>,
    onbuild: Vec<Source>,
}

impl Reads {
    fn add(&mut self, p: &Parsed, stop: Stop<'_>, r: Readers) {
        for s in p.sources_for(stop, r) {
            if !self.sources.iter().any(|x| x.pattern == s.pattern) {
                self.sources.push(s.clone());
            }
        }
        for x in p.refs_for(stop, r) {
            let same = |y: &ImageRef| {
                y.written == x.written
                    && y.expanded == x.expanded
                    && y.via == x.via
                    && y.line == x.line
            };
            if !self.refs.iter().any(same) {
                self.refs.push(x.clone());
            }
        }
        for s in p.onbuild_for(stop, r) {
            if !self.onbuild.iter().any(|x| x.pattern == s.pattern) {
                self.onbuild.push(s.clone());
            }
        }
    }
}

/// Parses the image's dockerfile as built with these `--build-arg`s (`None` when there is
/// no dockerfile to read).
pub(crate) type WithArgs<'a> =
    dyn FnMut(&[(String, Option<String>)]) -> Result<Option<Arc<Parsed>>> + 'a;

/// Sets what `image` reads from the declarations `decls` that build it (none: a guessed
/// build, see the module docs). `with_args` parses it for a build that passes a
/// `--build-arg` for one of its `ARG`s.
pub(crate) fn read(
    image: &mut Image,
    decls: &[Declaration],
    with_args: &mut WithArgs<'_>,
) -> Result<Builds> {
    let parsed = Arc::clone(&image.parsed);
    let mut out = Builds::default();
    let mut reads = Reads::default();
    // A declaration whose dockerfile has an unknown part (`-f $DOCKERFILE`) may not be
    // this image's build: it adds what it reads, never replaces the guess.
    let named = decls
        .iter()
        .any(|d| matches!(d.dockerfile, Dockerfile::Path(_)));
    if !named {
        out.guessed = true;
        out.readers = IgnoreReaders {
            buildkit: true,
            legacy: true,
            buildah: false,
        };
        let r = readers(&Semantics::ALL, false);
        reads.add(&parsed, Stop::Any, r);
        let last: HashSet<&str> = parsed
            .sources_for(Stop::Last, r)
            .iter()
            .map(|s| s.pattern.as_str())
            .collect();
        if let Some(s) = reads
            .sources
            .iter()
            .find(|s| !last.contains(s.pattern.as_str()))
        {
            image.notes.push(format!(
                "no build of it is declared, so every stage counts (a `docker build --target` may build any): `{}` (line {}) is read by a stage the last one does not need; declare the build (compose, bake, or a CI `docker build` line) to count only the stages it builds",
                s.display(),
                s.line
            ));
        }
    }
    for d in decls {
        match d.builder {
            Builder::BuildKit => out.readers.buildkit = true,
            Builder::Legacy => out.readers.legacy = true,
            Builder::Buildah => out.readers.buildah = true,
            Builder::Either => {
                out.readers.buildkit = true;
                out.readers.legacy = true;
            }
        }
        let r = readers(semantics(d.builder), true);
        let stop = match &d.target {
            Target::Last => Stop::Last,
            Target::Named(n) => Stop::Named(n),
            Target::Unknown => Stop::Any,
        };
        match &d.target {
            Target::Named(n) if parsed.finals(stop).is_none() => image.notes.push(format!(
                "{} builds the target `{n}`, which is no stage of the dockerfile: every stage counts",
                d.origin
            )),
            Target::Unknown => image.notes.push(format!(
                "{} builds a target that is not known here: every stage counts",
                d.origin
            )),
            _ => {}
        }
        // A `--build-arg` for no ARG of the file changes nothing it reads
        // (`BUILDKIT_INLINE_CACHE=1`): the readings with none passed are the same.
        let matters = d
            .args
            .iter()
            .any(|(k, _)| parsed.args.binary_search(k).is_ok());
        let own = if matters { with_args(&d.args)? } else { None };
        reads.add(own.as_deref().unwrap_or(&parsed), stop, r);
    }
    let mut builds: Vec<Vec<String>> = decls
        .iter()
        .map(parameters)
        .filter(|p| !p.is_empty())
        .collect();
    builds.sort();
    builds.dedup();
    image.builds = builds;
    let patterns = reads.sources.iter().map(|s| s.pattern.clone()).collect();
    image.sources = Arc::new(reads.sources);
    image.refs = reads.refs;
    image.onbuild = reads.onbuild;
    image.set_patterns(patterns);
    Ok(out)
}

/// What a declared build passes that a plain `docker build` of the last stage does not,
/// and that its image's content depends on: `target=NAME`, `builder=…`, `arg NAME=VALUE`
/// (values quoted; an unknown one is `?`), sorted. Empty for a plain build.
pub(crate) fn parameters(d: &Declaration) -> Vec<String> {
    let mut out = Vec::new();
    match &d.target {
        Target::Last => {}
        Target::Named(n) => out.push(format!("target={n:?}")),
        Target::Unknown => out.push("target=?".into()),
    }
    match d.builder {
        Builder::Either => {}
        Builder::BuildKit => out.push("builder=buildkit".into()),
        Builder::Legacy => out.push("builder=legacy".into()),
        Builder::Buildah => out.push("builder=buildah".into()),
    }
    // The last of one name wins, as on a command line.
    let args: HashMap<&str, Option<&str>> = d
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    out.extend(args.into_iter().map(|(k, v)| match v {
        Some(v) => format!("arg {k:?}={v:?}"),
        None => format!("arg {k:?}=?"),
    }));
    out.sort();
    out
}

/// Adds to each image the `ONBUILD` sources of the repository images it is built `FROM`
/// (their builds run them in its context).
pub(crate) fn inherit_onbuild(images: &mut [Image]) {
    let by_name: HashMap<String, Vec<Source>> = images
        .iter()
        .filter(|i| !i.onbuild.is_empty())
        .map(|i| (i.name.clone(), i.onbuild.clone()))
        .collect();
    if by_name.is_empty() {
        return;
    }
    for img in images.iter_mut() {
        let mut sources: Vec<Source> = img.sources.to_vec();
        let before = sources.len();
        for p in img.parents.iter().filter(|p| p.via == Via::From) {
            let stage = img
                .refs
                .iter()
                .find(|r| r.line == p.line && r.via == Via::From)
                .map_or(0, |r| r.stage);
            for s in by_name.get(&p.name).into_iter().flatten() {
                if !sources.iter().any(|x| x.pattern == s.pattern) {
                    sources.push(Source {
                        pattern: s.pattern.clone(),
                        line: p.line,
                        stage,
                        readers: s.readers,
                    });
                }
            }
        }
        if sources.len() > before {
            let patterns = sources.iter().map(|s| s.pattern.clone()).collect();
            img.sources = Arc::new(sources);
            img.set_patterns(patterns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::declared::Origin;
    use crate::images::dockerfile::parse;
    use crate::images::Entry;

    fn image(text: &str) -> Image {
        let parsed = Arc::new(parse(text));
        Image {
            name: "img".into(),
            dockerfile: Entry {
                path: b"Dockerfile".to_vec(),
                oid: git2::Oid::ZERO_SHA1,
                mode: 0o100644,
            },
            context: Vec::new(),
            ignore_paths: Vec::new(),
            dockerignore: None,
            ignores: Vec::new(),
            sources: Arc::new(parsed.sources.clone()),
            refs: parsed.refs.clone(),
            onbuild: Vec::new(),
            builds: Vec::new(),
            parsed,
            extra_globs: Vec::new(),
            source_patterns: Arc::default(),
            compiled: std::sync::OnceLock::new(),
            extra: None,
            parents: Vec::new(),
            missing: Vec::new(),
            external: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            dockerfile_chain: Vec::new(),
            alt: Vec::new(),
            followed: Vec::new(),
            declared: Vec::new(),
            prefixes: std::sync::OnceLock::new(),
            exclude: None,
            counted: crate::images::Counted::default(),
        }
    }

    fn decl(target: Target, builder: Builder, args: &[(&str, Option<&str>)]) -> Declaration {
        Declaration {
            origin: Origin {
                file: ".gitlab-ci.yml".into(),
                line: 3,
                what: "job `b`: docker build".into(),
            },
            dockerfile: Dockerfile::Path("Dockerfile".into()),
            context: Some(String::new()),
            target,
            args: args
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect(),
            named: Vec::new(),
            builder,
        }
    }

    /// What the builds `decls` of `text` read, and the image's notes.
    fn reads(text: &str, decls: &[Declaration]) -> (Vec<String>, Builds, Vec<String>) {
        let mut img = image(text);
        let owned = text.to_owned();
        let builds = read(&mut img, decls, &mut |args| {
            let args: HashMap<String, Option<String>> = args.iter().cloned().collect();
            Ok(Some(Arc::new(crate::images::dockerfile::parse_with_args(
                &owned, &args,
            ))))
        })
        .expect("reads");
        let mut got: Vec<String> = img.sources.iter().map(|s| s.display()).collect();
        got.sort();
        (got, builds, img.notes)
    }

    const STAGES: &str = "FROM scratch AS test\nCOPY tests /t\nFROM scratch AS build\nARG V\nCOPY src-$V /s\nFROM scratch\nCOPY --from=build /s /s\nCOPY main /m\n";

    #[test]
    fn each_declared_build_reads_its_targets_stages() {
        let last = decl(Target::Last, Builder::Either, &[]);
        assert_eq!(
            reads(STAGES, std::slice::from_ref(&last)).0,
            vec!["main", "src-"]
        );
        let test = decl(Target::Named("test".into()), Builder::BuildKit, &[]);
        assert_eq!(reads(STAGES, std::slice::from_ref(&test)).0, vec!["tests"]);
        assert_eq!(
            reads(STAGES, &[last, test]).0,
            vec!["main", "src-", "tests"],
            "two builds of one dockerfile: the union"
        );
        let with_v = decl(Target::Last, Builder::Legacy, &[("V", Some("1"))]);
        let (got, builds, _) = reads(STAGES, std::slice::from_ref(&with_v));
        assert_eq!(got, vec!["main", "src-1"]);
        assert_eq!(
            parameters(&with_v),
            vec!["arg \"V\"=\"1\"", "builder=legacy"],
            "what the content tag records"
        );
        assert!(parameters(&decl(Target::Last, Builder::Either, &[])).is_empty());
        // An argument for no ARG of the file is not parsed for (QEMU's
        // BUILDKIT_INLINE_CACHE=1): what the build reads is the same.
        let cache = decl(
            Target::Last,
            Builder::Either,
            &[("BUILDKIT_INLINE_CACHE", Some("1"))],
        );
        let mut img = image(STAGES);
        read(&mut img, &[cache], &mut |_| {
            panic!("no ARG of that name: nothing to parse")
        })
        .expect("reads");
        let mut got: Vec<String> = img.sources.iter().map(|s| s.display()).collect();
        got.sort();
        assert_eq!(got, vec!["main", "src-"]);
        assert_eq!(
            builds.readers,
            IgnoreReaders {
                buildkit: false,
                legacy: true,
                buildah: false
            }
        );
        assert!(!builds.guessed);
    }

    #[test]
    fn unknown_targets_and_guessed_builds_read_every_stage() {
        let (got, _, notes) = reads(STAGES, &[decl(Target::Unknown, Builder::Either, &[])]);
        assert_eq!(got, vec!["main", "src-", "tests"]);
        assert!(
            notes[0].contains("a target that is not known here"),
            "{notes:?}"
        );
        let (got, _, notes) = reads(
            STAGES,
            &[decl(Target::Named("gone".into()), Builder::Either, &[])],
        );
        assert_eq!(got, vec!["main", "src-", "tests"]);
        assert!(notes[0].contains("`gone`, which is no stage"), "{notes:?}");
        let (got, builds, notes) = reads(STAGES, &[]);
        assert_eq!(got, vec!["main", "src-*", "tests"]);
        assert!(builds.guessed && builds.readers.buildkit && builds.readers.legacy);
        assert!(notes[0].contains("no build of it is declared"), "{notes:?}");
        let (_, _, notes) = reads("FROM scratch\nCOPY a /\n", &[]);
        assert!(notes.is_empty(), "one stage: nothing to say");
        let mut maybe = decl(Target::Last, Builder::Either, &[]);
        maybe.dockerfile =
            Dockerfile::Pattern(format!("{}.docker", crate::images::dockerfile::ANY));
        let (got, builds, _) = reads(STAGES, &[maybe]);
        assert_eq!(
            got,
            vec!["main", "src-", "src-*", "tests"],
            "may be another image's build"
        );
        assert!(builds.guessed);
    }

    #[test]
    fn a_builder_reads_its_own_way() {
        let text = "FROM scratch\nENV D=env\nARG D=arg\nCOPY $D /\n";
        let one = |b| reads(text, &[decl(Target::Last, b, &[])]).0;
        assert_eq!(one(Builder::BuildKit), vec!["arg"]);
        assert_eq!(one(Builder::Legacy), vec!["env"]);
        assert_eq!(one(Builder::Either), vec!["arg", "env"]);
        assert_eq!(one(Builder::Buildah), vec!["arg", "env"]);
    }

    #[test]
    fn children_read_their_parents_onbuild_sources() {
        let mut base = image("FROM scratch\nONBUILD COPY trig /t\n");
        read(&mut base, &[], &mut |_| Ok(None)).expect("reads");
        assert_eq!(base.onbuild.len(), 1);
        let mut child = image("FROM qemu/base\nCOPY own /o\n");
        read(&mut child, &[], &mut |_| Ok(None)).expect("reads");
        child.parents.push(crate::images::Parent {
            name: "img".into(),
            reference: "qemu/base".into(),
            via: Via::From,
            line: 1,
        });
        child.name = "child".into();
        let mut images = vec![base, child];
        inherit_onbuild(&mut images);
        let got: Vec<(String, usize)> = images[1]
            .sources
            .iter()
            .map(|s| (s.display(), s.line))
            .collect();
        assert_eq!(got, vec![("own".into(), 2), ("trig".into(), 1)]);
        assert!(images[1].copies(b"trig"));
    }
}
