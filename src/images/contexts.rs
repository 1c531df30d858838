//! Which build contexts an image is judged against, per tree.
//!
//! The context is declared (an `[[images.rule]]` `context`, a compose file, a bake file, a
//! CI command line: see [`super::declared`]) or assumed (the dockerfile's directory). An
//! assumption can be wrong: `docker build -f docker/Dockerfile .` is the most common
//! layout, and its `COPY src/main.c` matches nothing in `docker/`. A COPY/ADD/bind-mount
//! source that matches nothing in the primary context means the context is not known, so
//! the image is also judged against every other candidate: the repository root, each
//! directory between it and the dockerfile, and the declared contexts; a file counts when
//! any candidate's build would read it. This never narrows what counts; it is said in
//! `images`, `check` and `tag`, with the fix (`[[images.rule]] context`).
//!
//! A declared context is not widened for a wildcard source that matches nothing there
//! (`COPY package.json yarn.lock* ./`): the build reads nothing for it, as BuildKit does.
//!
//! Each context is judged as its builds' builders read it ([`ignore_readings`]): BuildKit
//! reads `<dockerfile>.dockerignore` when it exists, else `<context>/.dockerignore`; the
//! legacy builder only `<context>/.dockerignore`; buildah `<context>/.containerignore` when
//! it exists (not parsed here: nothing is left out), else like both of them. A path is
//! left out only when every reading leaves it out. An ignore file that is a symlink is
//! read through it (the docker CLI on the host, BuildKit inside the file's directory:
//! [`links::dockerfile_chain`]); when the readings reach different files, or leave the
//! repository, nothing is left out. Then the symlinks on the source paths are followed
//! ([`super::links`]), and the gitlinks and links that stand where a source's directory
//! would be count.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use regex::bytes::Regex;

use crate::error::Result;
use crate::git::display_path;

use super::declared::{Declaration, Dockerfile};
use super::dockerfile::{Source, ANY};
use super::links;
use super::patterns::{source_regex, sources_union, Dockerignore};
use super::view::{join, TreeView, MODE_GITLINK, MODE_LINK, MODE_TREE};
use super::{Entry, Image};

/// Entries walked to tell whether a pattern with unknown text matches anything.
const MAX_SCAN: usize = 200_000;

/// Another context an image is judged against.
#[derive(Debug, Clone)]
pub struct AltContext {
    /// Repository-relative (empty: the root).
    pub path: Vec<u8>,
    /// Why it is a candidate.
    pub why: String,
    /// The ignore files its builds read (and the links to them).
    pub ignore_files: Vec<Entry>,
    /// Where an ignore file would change what is read, had it appeared or changed.
    pub ignore_paths: Vec<Vec<u8>>,
    ignores: Vec<Arc<Dockerignore>>,
    /// Source patterns in it (the image's, plus link targets found in this context).
    pub patterns: Vec<String>,
    sources: OnceLock<Option<Regex>>,
    prefixes: OnceLock<Option<Regex>>,
}

impl AltContext {
    /// What a repository path is to this context's build, if anything.
    pub fn claims(&self, path: &[u8]) -> bool {
        let rel = if self.path.is_empty() {
            path
        } else {
            match path
                .strip_prefix(&self.path[..])
                .and_then(|r| r.strip_prefix(b"/"))
            {
                Some(r) => r,
                None => return false,
            }
        };
        copies(
            &self.sources,
            &self.prefixes,
            &self.patterns,
            &self.ignores,
            rel,
        )
    }

    /// The context for messages.
    pub fn display(&self) -> String {
        if self.path.is_empty() {
            ".".into()
        } else {
            display_path(&self.path)
        }
    }
}

/// Whether a context-relative path is read: a source (or a link target) names it and not
/// every build's `.dockerignore` keeps it out, or it stands where a source's directory
/// would be (a gitlink or a symlink: what is below it is not in this tree).
pub(crate) fn copies(
    sources: &OnceLock<Option<Regex>>,
    prefixes: &OnceLock<Option<Regex>>,
    patterns: &[String],
    ignores: &[Arc<Dockerignore>],
    rel: &[u8],
) -> bool {
    let named = sources
        .get_or_init(|| sources_union(patterns))
        .as_ref()
        .is_some_and(|re| re.is_match(rel));
    if named && (ignores.is_empty() || !ignores.iter().all(|i| i.ignores(rel))) {
        return true;
    }
    prefixes
        .get_or_init(|| links::prefix_regex(patterns))
        .as_ref()
        .is_some_and(|re| re.is_match(rel))
}

/// How the catalog decided an image's primary context.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// An `[[images.rule]]` set it, or a declaration did.
    pub declared: bool,
    /// Other contexts declarations name (and the assumed one, when some declaration's
    /// context is unknown), with why.
    pub others: Vec<(Vec<u8>, String)>,
}

/// What the declarations of one dockerfile decide.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    /// How the context was decided.
    pub plan: Plan,
    /// The declarations that build it (their targets, arguments and builders decide what
    /// the builds read), each once.
    pub decls: Vec<Declaration>,
}

/// Applies the declarations naming `path` to its naming: the first declared context
/// becomes the primary one (unless an `[[images.rule]]` set it), the others are judged
/// too, and named build contexts are inputs.
pub(crate) fn apply_declarations(
    naming: &mut super::rules::Naming,
    path: &[u8],
    decls: &[Declaration],
) -> Applied {
    let mut out = Applied {
        plan: Plan {
            declared: naming.context_set,
            others: Vec::new(),
        },
        ..Applied::default()
    };
    let mine: Vec<&Declaration> = decls.iter().filter(|d| d.dockerfile.names(path)).collect();
    if mine.is_empty() {
        return out;
    }
    let assumed = naming.context.clone();
    let mut known: Vec<(Vec<u8>, String)> = Vec::new();
    // A declaration whose dockerfile is a pattern (`-f $DOCKERFILE`) may not be about
    // this image: its context is judged too, never instead.
    let mut maybe: Vec<(Vec<u8>, String)> = Vec::new();
    let mut unknown = None;
    for d in &mine {
        let pattern = !matches!(d.dockerfile, Dockerfile::Path(_));
        let list = if pattern { &mut maybe } else { &mut known };
        match &d.context {
            Some(c) if !list.iter().any(|(k, _)| k == c.as_bytes()) => {
                list.push((c.as_bytes().to_vec(), format!("declared by {}", d.origin)));
            }
            Some(_) => {}
            None if !pattern => unknown = unknown.or(Some(d.origin.to_string())),
            None => {}
        }
        for (_, n) in &d.named {
            naming.inputs.push(format!("{}/**", links::escape(n)));
        }
        if !out.decls.contains(d) {
            out.decls.push((*d).clone());
        }
    }
    let mut others = known.into_iter();
    if !naming.context_set {
        if let Some((first, _)) = others.next() {
            naming.context = first;
            out.plan.declared = true;
            if let Some(origin) = unknown {
                out.plan.others.push((
                    assumed,
                    format!("{origin} builds it with a context that is not known here"),
                ));
            }
        }
    }
    let primary = naming.context.clone();
    out.plan
        .others
        .extend(others.chain(maybe).filter(|(c, _)| *c != primary));
    out
}

/// `Regex::new`, compiled once per process and pattern: a 1000-ref push matches the same
/// COPY sources in 1000 trees, and compiling them was an eighth of its time (840M of 7G
/// instructions on QEMU). `None` for a pattern that does not compile. The cache is
/// bounded (patterns come from the judged trees).
pub(crate) fn compiled(pattern: String) -> Option<Regex> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const MAX: usize = 4096;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::default();
    }
    CACHE.with(|cache| {
        if let Some(hit) = cache.borrow().get(&pattern) {
            return hit.clone();
        }
        let re = Regex::new(&pattern).ok();
        let mut cache = cache.borrow_mut();
        if cache.len() >= MAX {
            cache.clear();
        }
        cache.insert(pattern, re.clone());
        re
    })
}

/// Which builders read an image's context: decides which ignore files are in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IgnoreReaders {
    /// Some build may be BuildKit.
    pub buildkit: bool,
    /// Some build may be the legacy builder.
    pub legacy: bool,
    /// Some build is buildah.
    pub buildah: bool,
}

/// One builder's reading of a context's ignore file.
#[derive(Debug, Clone)]
pub struct Ignore {
    /// The ignore file, if there is one (a symlink is read through its links).
    pub file: Option<Entry>,
    /// When it is a symlink: every link followed and the file reached.
    pub chain: Vec<Entry>,
    /// Its patterns (none when there is no file, or it cannot be judged).
    pub rules: Arc<Dockerignore>,
}

/// Parses an ignore file: its patterns and the patterns skipped.
pub(crate) type ParseIgnore<'a> = dyn Fn(&Entry) -> Result<Arc<(Dockerignore, Vec<String>)>> + 'a;

/// What the builders of an image read to leave paths out of a context: one [`Ignore`]
/// per distinct reading, the paths where an ignore file would change that, and notes
/// (skipped patterns, links that cannot be judged).
pub(crate) struct Readings {
    /// One per distinct reading.
    pub ignores: Vec<Ignore>,
    /// Where an ignore file appearing or changing changes what is left out.
    pub paths: Vec<Vec<u8>>,
    /// Skipped patterns, links that cannot be judged.
    pub notes: Vec<String>,
}

/// The [`Readings`] of the context `ctx` (see the module docs).
pub(crate) fn ignore_readings(
    view: &TreeView<'_>,
    dockerfile: &[u8],
    ctx: &[u8],
    readers: IgnoreReaders,
    ignores: &HashMap<&[u8], &Entry>,
    parse: &ParseIgnore<'_>,
) -> Result<Readings> {
    let mut own = dockerfile.to_vec();
    own.extend_from_slice(b".dockerignore");
    let of_ctx = join(ctx, b".dockerignore");
    let has = |p: &[u8]| ignores.contains_key(p);
    let mut wanted: Vec<Option<Vec<u8>>> = Vec::new();
    let mut paths: Vec<Vec<u8>> = Vec::new();
    let want = |w: Option<Vec<u8>>, wanted: &mut Vec<Option<Vec<u8>>>| {
        if !wanted.contains(&w) {
            wanted.push(w);
        }
    };
    if readers.buildkit {
        paths.push(own.clone());
        if has(&own) {
            want(Some(own.clone()), &mut wanted);
        } else {
            paths.push(of_ctx.clone());
            want(has(&of_ctx).then(|| of_ctx.clone()), &mut wanted);
        }
    }
    if readers.legacy {
        paths.push(of_ctx.clone());
        want(has(&of_ctx).then(|| of_ctx.clone()), &mut wanted);
    }
    if readers.buildah {
        let container = join(ctx, b".containerignore");
        paths.push(container.clone());
        paths.push(own.clone());
        paths.push(of_ctx.clone());
        if view.entry(&container)?.is_some() {
            want(None, &mut wanted);
        } else {
            // Read like either docker builder: which one it follows is not pinned here.
            let first = if has(&own) { &own } else { &of_ctx };
            want(has(first).then(|| first.clone()), &mut wanted);
            want(has(&of_ctx).then(|| of_ctx.clone()), &mut wanted);
        }
    }
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for w in wanted {
        let Some(path) = w else {
            out.push(Ignore {
                file: None,
                chain: Vec::new(),
                rules: Arc::new(Dockerignore::default()),
            });
            continue;
        };
        let Some(entry) = ignores.get(&path[..]).map(|e| (*e).clone()) else {
            continue;
        };
        let (file, chain) = if entry.mode as u32 == MODE_LINK {
            let (file, chain, why) = follow_ignore(view, &entry)?;
            if let Some(why) = why {
                notes.push(why);
            }
            (file, chain)
        } else {
            (Some(entry.clone()), Vec::new())
        };
        let rules = match &file {
            Some(f) => {
                let parsed = parse(f)?;
                for bad in &parsed.1 {
                    notes.push(format!(
                        "{}: pattern {bad} skipped",
                        display_path(&entry.path)
                    ));
                }
                Arc::new(parsed.0.clone())
            }
            None => Arc::new(Dockerignore::default()),
        };
        out.push(Ignore {
            file: Some(entry),
            chain,
            rules,
        });
    }
    Ok(Readings {
        ignores: out,
        paths,
        notes,
    })
}

/// Reads a symlinked ignore file: the file both readings reach, and every entry on the
/// way; `None` for the file (nothing left out) when they reach different files or leave
/// the repository, with why.
fn follow_ignore(
    view: &TreeView<'_>,
    link: &Entry,
) -> Result<(Option<Entry>, Vec<Entry>, Option<String>)> {
    let c = links::dockerfile_chain(view, &link.path)?;
    let mut chain = Vec::new();
    for p in &c.paths {
        if let Some((mode, oid)) = view.entry(p)? {
            chain.push(Entry {
                path: p.clone(),
                oid,
                mode: i32::try_from(mode).unwrap_or(0o100644),
            });
        }
    }
    let shown = display_path(&link.path);
    let file = match (&c.outside, c.files.as_slice()) {
        (None, [(path, mode, oid)]) => Some(Entry {
            path: path.clone(),
            oid: *oid,
            mode: i32::try_from(*mode).unwrap_or(0o100644),
        }),
        _ => None,
    };
    let why = match (&c.outside, c.files.len()) {
        _ if file.is_some() => None,
        (Some(why), _) => Some(format!(
            "{shown} is a symlink and {why}: nothing is taken as left out of the context"
        )),
        (None, 0) => Some(format!(
            "{shown} is a symlink to nothing in the repository: nothing is taken as left out of the context"
        )),
        (None, _) => Some(format!(
            "{shown} is a symlink that the docker CLI and BuildKit resolve to different files: nothing is taken as left out of the context"
        )),
    };
    Ok((file, chain, why))
}

/// How an image is built, as far as refining it for a tree goes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Builds {
    /// Which builders' ignore files are read.
    pub readers: IgnoreReaders,
    /// Some build of it is not declared (its build arguments are not known).
    pub guessed: bool,
}

/// Refines an image for the tree it is in: its ignore files, links, and the other
/// contexts it is judged against.
pub(crate) fn refine(
    view: &TreeView<'_>,
    image: &mut Image,
    plan: &Plan,
    builds: Builds,
    ignores: &HashMap<&[u8], &Entry>,
    parse_ignore: &ParseIgnore<'_>,
) -> Result<()> {
    for (src, line) in image.parsed.remote.iter().zip(&image.parsed.remote_lines) {
        image.notes.push(format!(
            "line {line}: ADD {src} is fetched at build time, so what it fetches cannot be judged (pin it: `ADD --checksum=…`, or a git URL at a commit)"
        ));
    }
    // A declared build passes the arguments its declaration says; only a guessed one may
    // pass any.
    let mut seen = std::collections::HashSet::new();
    for (line, name, what) in image.parsed.arg_uses.iter().filter(|_| builds.guessed) {
        if seen.insert((*line, name.clone())) {
            image.notes.push(format!(
                "line {line}: {what} uses ARG {name}, judged with its default; a `--build-arg {name}=…` can change what the build reads"
            ));
        }
    }
    let r = ignore_readings(
        view,
        &image.dockerfile.path,
        &image.context,
        builds.readers,
        ignores,
        parse_ignore,
    )?;
    image.dockerignore = r.ignores.iter().find_map(|i| i.file.clone());
    image.ignore_paths = r.paths;
    image.ignores = r.ignores;
    image.warnings.extend(r.notes);
    let originals: Vec<String> = image.source_patterns.to_vec();
    let derived = links::derived(view, &image.context, &originals)?;
    if !derived.patterns.is_empty() {
        let mut all = originals.clone();
        all.extend(derived.patterns.iter().cloned());
        image.set_patterns(all);
        image.followed = derived.followed.clone();
    }
    let sources = std::sync::Arc::clone(&image.sources);
    let mut unmatched = unmatched(view, &image.context, &sources, &derived)?;
    if plan.declared {
        // A wildcard that matches nothing reads nothing (BuildKit allows it): no reason
        // to doubt a declared context.
        unmatched.retain(|s| !s.is_wildcard());
    }
    let mut candidates: Vec<(Vec<u8>, String)> = plan.others.clone();
    if let Some(first) = unmatched.first() {
        let what = if plan.declared {
            format!("the declared context `{}`", image.context_display())
        } else {
            format!(
                "context assumed `{}` (the dockerfile's directory)",
                image.context_display()
            )
        };
        let more = if unmatched.len() > 1 {
            format!(" and {} more", unmatched.len() - 1)
        } else {
            String::new()
        };
        let mut widened = vec![Vec::new()];
        let mut dir = super::view::parent(&image.dockerfile.path).to_vec();
        while !dir.is_empty() {
            widened.push(dir.clone());
            dir = super::view::parent(&dir).to_vec();
        }
        for w in widened {
            candidates.push((
                w,
                format!("`{}` matches nothing in the context", first.display()),
            ));
        }
        candidates.retain(|(c, _)| *c != image.context);
        let mut shown: Vec<String> = candidates
            .iter()
            .map(|(c, _)| {
                if c.is_empty() {
                    ".".into()
                } else {
                    display_path(c)
                }
            })
            .collect();
        shown.dedup();
        image.notes.push(format!(
            "{what}: `{}` (line {}){more} matches nothing there, so the image is also judged against {}; set `[[images.rule]] context` (or declare the build in a compose, bake or CI file)",
            first.display(),
            first.line,
            shown.join(", ")
        ));
    }
    let mut seen = vec![image.context.clone()];
    for (path, why) in candidates {
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        let Readings {
            ignores: readings,
            paths: ignore_paths,
            notes,
        } = ignore_readings(
            view,
            &image.dockerfile.path,
            &path,
            builds.readers,
            ignores,
            parse_ignore,
        )?;
        image.warnings.extend(notes);
        let d = links::derived(view, &path, &originals)?;
        let mut patterns = originals.clone();
        patterns.extend(d.patterns);
        let mut files: Vec<Entry> = Vec::new();
        for r in &readings {
            for e in r.file.iter().chain(&r.chain) {
                if !files.contains(e) {
                    files.push(e.clone());
                }
            }
        }
        image.alt.push(AltContext {
            path,
            why,
            ignore_files: files,
            ignore_paths,
            ignores: readings.into_iter().map(|r| r.rules).collect(),
            patterns,
            sources: OnceLock::new(),
            prefixes: OnceLock::new(),
        });
    }
    Ok(())
}

/// The sources that match nothing in the context `ctx` (nor does a link target derived
/// from them).
fn unmatched<'s>(
    view: &TreeView<'_>,
    ctx: &[u8],
    sources: &'s [Source],
    derived: &links::Derived,
) -> Result<Vec<&'s Source>> {
    let mut out = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        if matches_any(view, ctx, &s.pattern)? {
            continue;
        }
        let mut via_link = false;
        for (p, o) in derived.patterns.iter().zip(&derived.origin) {
            if *o == i && matches_any(view, ctx, p)? {
                via_link = true;
                break;
            }
        }
        if !via_link {
            out.push(s);
        }
    }
    Ok(out)
}

/// Whether a source pattern names anything in the context `ctx`. A gitlink on the way
/// counts as a match (its content is the submodule's); so does a walk too large to finish.
pub(crate) fn matches_any(view: &TreeView<'_>, ctx: &[u8], pattern: &str) -> Result<bool> {
    let Some(_) = view.dir(ctx)? else {
        return Ok(false);
    };
    if pattern.is_empty() {
        return Ok(true);
    }
    let comps: Vec<&str> = pattern.split('/').collect();
    descend(view, ctx.to_vec(), &comps)
}

fn descend(view: &TreeView<'_>, dir: Vec<u8>, comps: &[&str]) -> Result<bool> {
    let Some((&comp, rest)) = comps.split_first() else {
        return Ok(true);
    };
    if comp.contains(ANY) {
        let re = compiled(format!("^{}$", source_regex(&comps.join("/"))));
        let Some(re) = re else { return Ok(true) };
        let mut hit = false;
        let done = view.leaves(&dir, MAX_SCAN, &mut |rel, mode, _| {
            hit = re.is_match(rel) || mode == MODE_GITLINK;
            !hit
        })?;
        return Ok(hit || !done);
    }
    let Some(tree) = view.dir(&dir)? else {
        return Ok(false);
    };
    let list = view.list(tree)?;
    // A name without glob syntax matches only itself (most COPY sources are plain paths);
    // an empty one (`a//b`, `dir/`) matches anything, as its regex does.
    let literal = !comp.is_empty() && !comp.contains(['*', '?', '[', '\\']);
    let re = if literal {
        None
    } else {
        compiled(format!("^{}$", source_regex(comp)))
    };
    for node in list.iter() {
        let hit = if literal {
            node.name == comp.as_bytes()
        } else {
            re.as_ref().is_none_or(|re| re.is_match(&node.name))
        };
        if !hit {
            continue;
        }
        if rest.is_empty() || node.mode == MODE_GITLINK {
            return Ok(true);
        }
        if node.mode == MODE_TREE && descend(view, join(&dir, &node.name), rest)? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ContentSettings;
    use crate::engine::matcher::{MatchSpec, Matcher};
    use crate::images::Catalog;

    /// A tree of `files` (a `->` in a name makes a symlink to what follows).
    fn tree(repo: &git2::Repository, files: &[(&str, &str)]) -> git2::Oid {
        let empty = repo
            .treebuilder(None)
            .and_then(|t| t.write())
            .expect("tree");
        let base = repo.find_tree(empty).expect("tree");
        let mut b = git2::build::TreeUpdateBuilder::new();
        for (path, content) in files {
            let (path, mode) = match path.split_once(" -> ") {
                Some((p, _)) => (p, git2::FileMode::Link),
                None => (*path, git2::FileMode::Blob),
            };
            b.upsert(path, repo.blob(content.as_bytes()).expect("blob"), mode);
        }
        b.create_updated(repo, &base).expect("tree")
    }

    /// What the builders `readers` leave out of context `docker` of the tree `files`.
    fn left_out(files: &[(&str, &str)], readers: IgnoreReaders, path: &str) -> bool {
        let dir = tempfile::tempdir().expect("tmp");
        let repo = git2::Repository::init_bare(dir.path()).expect("repo");
        let root = tree(&repo, files);
        let catalog = Catalog::new(
            &ContentSettings::default(),
            Matcher::new(&MatchSpec::default(), "test").expect("matcher"),
        )
        .expect("catalog");
        let view = TreeView {
            catalog: &catalog,
            repo: &repo,
            root,
        };
        let entries: Vec<Entry> = files
            .iter()
            .filter(|(p, _)| {
                p.split(" -> ")
                    .next()
                    .is_some_and(|p| p.ends_with(".dockerignore"))
            })
            .map(|(p, _)| {
                let p = p.split(" -> ").next().unwrap_or(p);
                let (mode, oid) = view.entry(p.as_bytes()).ok().flatten().expect("entry");
                Entry {
                    path: p.as_bytes().to_vec(),
                    oid,
                    mode: mode as i32,
                }
            })
            .collect();
        let ignores: HashMap<&[u8], &Entry> = entries.iter().map(|e| (&e.path[..], e)).collect();
        let parse = |e: &Entry| -> Result<Arc<(Dockerignore, Vec<String>)>> {
            let blob = repo.find_blob(e.oid).expect("blob");
            Ok(Arc::new(Dockerignore::parse(&String::from_utf8_lossy(
                blob.content(),
            ))))
        };
        let r = ignore_readings(
            &view,
            b"docker/Dockerfile",
            b"docker",
            readers,
            &ignores,
            &parse,
        )
        .expect("readings");
        !r.ignores.is_empty() && r.ignores.iter().all(|i| i.rules.ignores(path.as_bytes()))
    }

    const BK: IgnoreReaders = IgnoreReaders {
        buildkit: true,
        legacy: false,
        buildah: false,
    };
    const LEGACY: IgnoreReaders = IgnoreReaders {
        buildkit: false,
        legacy: true,
        buildah: false,
    };
    const EITHER: IgnoreReaders = IgnoreReaders {
        buildkit: true,
        legacy: true,
        buildah: false,
    };
    const BUILDAH: IgnoreReaders = IgnoreReaders {
        buildkit: false,
        legacy: false,
        buildah: true,
    };

    #[test]
    fn each_builder_reads_its_own_ignore_file() {
        let both = [
            ("docker/Dockerfile.dockerignore", "own\n"),
            ("docker/.dockerignore", "ctx\n"),
        ];
        assert!(
            left_out(&both, BK, "own") && !left_out(&both, BK, "ctx"),
            "BuildKit: only <dockerfile>.dockerignore"
        );
        assert!(left_out(&both, LEGACY, "ctx") && !left_out(&both, LEGACY, "own"));
        assert!(!left_out(&both, EITHER, "own") && !left_out(&both, EITHER, "ctx"));
        let own = [("docker/Dockerfile.dockerignore", "own\n")];
        assert!(left_out(&own, BK, "own"));
        assert!(
            !left_out(&own, EITHER, "own"),
            "the legacy builder reads none"
        );
        let ctx = [("docker/.dockerignore", "ctx\n")];
        assert!(left_out(&ctx, BK, "ctx") && left_out(&ctx, EITHER, "ctx"));
        assert!(left_out(&ctx, BUILDAH, "ctx"));
        let container = [
            ("docker/.dockerignore", "ctx\n"),
            ("docker/.containerignore", "other\n"),
        ];
        assert!(
            !left_out(&container, BUILDAH, "ctx"),
            "buildah reads .containerignore"
        );
    }

    #[test]
    fn a_symlinked_ignore_file_is_read_through_its_link() {
        let linked = [
            (
                "docker/.dockerignore -> ../common/ignore",
                "../common/ignore",
            ),
            ("common/ignore", "secret\n"),
        ];
        assert!(left_out(&linked, EITHER, "secret"));
        let nowhere = [("docker/.dockerignore -> gone", "gone")];
        assert!(!left_out(&nowhere, EITHER, "gone"));
        // The docker CLI follows it anywhere, BuildKit inside the file's directory: two
        // different files, so nothing is taken as left out.
        let split = [
            ("docker/.dockerignore -> /x", "/x"),
            ("x", "secret\n"),
            ("docker/x", "secret\n"),
        ];
        assert!(!left_out(&split, EITHER, "secret"));
    }
}
