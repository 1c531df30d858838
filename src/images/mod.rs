//! Images: which images a tree defines, what each is built from, which a change
//! affects, and content tags.
//!
//! Split along concepts:
//! - [`lexer`], [`shell`], [`dockerfile`] (each builder's reading: `reading`): Dockerfile
//!   syntax, variable expansion, meaning, the stage graph;
//! - [`patterns`]: COPY source wildcards and `.dockerignore`;
//! - [`rules`]: image names, contexts, extra inputs, `images.parent` templates;
//! - `builds`: what each declared build of an image reads (target, args, builder);
//! - `attributes`: checkout transforms (`.gitattributes`);
//! - this module: finding the images of a tree ([`Catalog`], [`ImageSet`]);
//! - [`graph`]: build order, cycles, the affected set;
//! - [`tag`]: content-addressed tags;
//! - [`why`]: why an image reads a path (the line, the context and its origin), for
//!   messages;
//! - [`cmd`]: the `dockguard images` and `dockguard tag` front doors (their renderers
//!   are in [`crate::render::images`]).
//!
//! Cost on the hook's path: nothing here runs when the merge-base tree and the target
//! tree are identical. Otherwise both trees are walked for dockerfiles, but subtrees are
//! remembered by (path, tree id), so the second tree only costs its changed subtrees;
//! dockerfile and `.dockerignore` blobs are parsed once per blob id; no other blob is
//! ever read (content tags use blob ids), but a `.gitattributes` the branch changed (and,
//! for content tags, those on an input's path).

pub(crate) mod attributes;
pub(crate) mod buildcmd;
pub(crate) mod builds;
pub mod cmd;
pub mod contexts;
pub(crate) mod declared;
mod declaring;
pub mod dockerfile;
pub mod graph;
pub(crate) mod inline;
pub mod lexer;
pub(crate) mod links;
pub(crate) mod parsedmemo;
pub mod patterns;
pub(crate) mod reading;
pub mod rules;
pub mod shell;
pub(crate) mod shwords;
pub mod tag;
pub(crate) mod view;
pub mod walkcache;
pub(crate) mod why;
pub(crate) mod yaml;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use git2::{Oid, Repository};
use regex::bytes::Regex;

use crate::config::ContentSettings;
use crate::engine::changes::{diff_trees_with, TreeChanges};
use crate::engine::matcher::{glob_to_regex, Matcher, PathRole};
use crate::error::{Error, Result};
use crate::git::objects::Objects;
use crate::limits::{
    MAX_DOCKERFILE_BYTES, MAX_DOCKERIGNORE_BYTES, MAX_DOCKERIGNORE_PATTERNS, MAX_TREE_DEPTH,
};

use dockerfile::{ImageRef, Parsed, Source, Via};
use patterns::Dockerignore;
use rules::{ImageRules, ParentMatch};
use walkcache::WalkCache;

pub use declaring::Counted;
pub use graph::AffectedImage;

/// A parent: another image of this repository that an image is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// The parent image's name.
    pub name: String,
    /// The reference as written in the dockerfile.
    pub reference: String,
    /// FROM, COPY --from or RUN --mount from.
    pub via: Via,
    /// Line in the dockerfile.
    pub line: usize,
}

/// A file in a tree: path, blob id, mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Repository path.
    pub path: Vec<u8>,
    /// Blob (or commit, for submodules) id.
    pub oid: Oid,
    /// git file mode.
    pub mode: i32,
}

/// One image of a tree.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its name (see [`rules`]).
    pub name: String,
    /// The dockerfile.
    pub dockerfile: Entry,
    /// The build context, relative to the repository root (empty: the root).
    pub context: Vec<u8>,
    /// Where an ignore file, had it appeared or changed, would change what its builds
    /// leave out (`<dockerfile>.dockerignore`, `<context>/.dockerignore`, as its builders
    /// read them: [`contexts::ignore_readings`]).
    pub ignore_paths: Vec<Vec<u8>>,
    /// The `.dockerignore` in force, if any (the first build's).
    pub dockerignore: Option<Entry>,
    /// What each of its builders reads to leave paths out: a path is left out only when
    /// every one leaves it out.
    pub ignores: Vec<contexts::Ignore>,
    /// The parsed dockerfile.
    pub parsed: Arc<Parsed>,
    /// The sources its builds read ([`builds`]: the stages their targets need, their
    /// build arguments, their builders), and the `ONBUILD` sources of its parents.
    pub sources: Arc<Vec<Source>>,
    /// The images its builds use.
    pub refs: Vec<ImageRef>,
    /// The `ONBUILD` sources of the image its builds make, for images built on it.
    pub onbuild: Vec<Source>,
    /// What its declared builds pass besides the context: the target, the builder, the
    /// build arguments ([`builds::parameters`]), for builds that pass any.
    pub builds: Vec<Vec<String>>,
    /// Extra input globs (from `[[images.rule]]`).
    pub extra_globs: Vec<String>,
    /// COPY/ADD source patterns, compiled into one regex on first use: most images of a
    /// large repository never see a changed path in their context, and compiling 100
    /// regexes per push was a third of the hook's time on a 50k-file repository.
    source_patterns: Arc<Vec<String>>,
    compiled: std::sync::OnceLock<patterns::Sources>,
    extra: Option<Regex>,
    /// Images of this repository it is built on.
    pub parents: Vec<Parent>,
    /// References matching an `images.parent` template whose image does not exist.
    pub missing: Vec<Parent>,
    /// Outside images it uses (as written).
    pub external: Vec<String>,
    /// Problems with the dockerfile or its `.dockerignore`.
    pub warnings: Vec<String>,
    /// What limits the judgement (assumed context, fetched sources, build-arg
    /// overrides): shown by `images`, `check` and `tag`.
    pub notes: Vec<String>,
    /// When the dockerfile is a symlink: every link followed and the file(s) reached,
    /// which count as the dockerfile too ([`links::dockerfile_chain`]).
    pub dockerfile_chain: Vec<Entry>,
    /// Other contexts the image is judged against ([`contexts`]).
    pub alt: Vec<contexts::AltContext>,
    /// Symlinks followed on source paths (`link -> target`).
    pub followed: Vec<String>,
    /// The declarations that build it (compose, bake, CI files).
    pub declared: Vec<declared::Declaration>,
    /// Why it counts as an image.
    pub counted: Counted,
    /// Proper prefixes of what the sources match (gitlinks, links), compiled on use.
    prefixes: std::sync::OnceLock<Option<Regex>>,
    /// `match.exclude`: what it matches is nothing to this image ([`Image::claim`]).
    exclude: Option<Regex>,
}

impl Image {
    /// Replaces the source patterns (with link targets added).
    pub(crate) fn set_patterns(&mut self, patterns: Vec<String>) {
        self.source_patterns = Arc::new(patterns);
        self.compiled = std::sync::OnceLock::new();
        self.prefixes = std::sync::OnceLock::new();
    }

    /// `path` relative to the context, when it is inside it.
    pub fn in_context<'p>(&self, path: &'p [u8]) -> Option<&'p [u8]> {
        if self.context.is_empty() {
            return Some(path);
        }
        path.strip_prefix(&self.context[..])?.strip_prefix(b"/")
    }

    fn compiled(&self) -> &patterns::Sources {
        self.compiled
            .get_or_init(|| patterns::compile_sources(&self.source_patterns))
    }

    /// Whether its builds read nothing from the context.
    pub fn reads_nothing(&self) -> bool {
        self.source_patterns.is_empty()
    }

    /// Whether a context-relative path is copied into the image (a COPY/ADD/mount
    /// source names it or a directory above it, or the sources could not be compiled
    /// and the whole context counts; and `.dockerignore` keeps it).
    pub fn copies(&self, rel: &[u8]) -> bool {
        let named = match self.compiled() {
            patterns::Sources::Nothing => false,
            patterns::Sources::Patterns(re) => re.is_match(rel),
            patterns::Sources::WholeContext(_) => true,
        };
        let ignored =
            || !self.ignores.is_empty() && self.ignores.iter().all(|i| i.rules.ignores(rel));
        if named && !ignored() {
            return true;
        }
        // A gitlink or a symlink where a source's directory would be (see `links`).
        self.prefixes
            .get_or_init(|| links::prefix_regex(&self.source_patterns))
            .as_ref()
            .is_some_and(|re| re.is_match(rel))
    }

    /// Why this image counts its whole context, when its sources could not be compiled.
    pub fn whole_context(&self) -> Option<&str> {
        match self.compiled() {
            patterns::Sources::WholeContext(why) => Some(why),
            _ => None,
        }
    }

    /// Whether a repository path matches one of the extra input globs.
    pub fn extra_input(&self, path: &[u8]) -> bool {
        self.extra.as_ref().is_some_and(|re| re.is_match(path))
    }

    /// What `path` is to this image, if anything; never anything when `match.exclude`
    /// excludes it ("exclude always wins", whatever a COPY names).
    pub fn claim(&self, path: &[u8]) -> Option<&'static str> {
        if self.exclude.as_ref().is_some_and(|re| re.is_match(path)) {
            None
        } else if path == self.dockerfile.path
            || self.dockerfile_chain.iter().any(|e| e.path == path)
        {
            Some("dockerfile")
        } else if self.ignore_paths.iter().any(|p| p == path)
            || self
                .ignores
                .iter()
                .any(|i| i.chain.iter().any(|e| e.path == path))
            || self.alt.iter().any(|a| {
                a.ignore_files.iter().any(|e| e.path == path)
                    || a.ignore_paths.iter().any(|p| p == path)
            })
        {
            Some(".dockerignore")
        } else if self.in_context(path).is_some_and(|rel| self.copies(rel)) {
            Some(if self.whole_context().is_some() {
                "context file"
            } else {
                "input"
            })
        } else if self.extra_input(path) || self.alt.iter().any(|a| a.claims(path)) {
            Some("input")
        } else {
            None
        }
    }

    /// The dockerfile path for messages.
    pub fn dockerfile_display(&self) -> String {
        crate::git::display_path(&self.dockerfile.path)
    }

    /// The context for messages (`.` for the root).
    pub fn context_display(&self) -> String {
        if self.context.is_empty() {
            ".".into()
        } else {
            crate::git::display_path(&self.context)
        }
    }
}

impl Image {
    /// Same tree-dependent judging (links, second ignore file, other contexts).
    fn same_refinement(&self, other: &Image) -> bool {
        let files = |i: &Image| -> Vec<(Option<Entry>, Vec<Entry>)> {
            i.ignores
                .iter()
                .map(|r| (r.file.clone(), r.chain.clone()))
                .collect()
        };
        self.source_patterns == other.source_patterns
            && self.dockerfile_chain == other.dockerfile_chain
            && files(self) == files(other)
            && self.alt.len() == other.alt.len()
            && self.alt.iter().zip(&other.alt).all(|(a, b)| {
                a.path == b.path && a.patterns == b.patterns && a.ignore_files == b.ignore_files
            })
    }
}

/// The images of one tree.
#[derive(Debug, Clone, Default)]
pub struct ImageSet {
    /// By name.
    pub images: Vec<Image>,
    /// Problems that concern the set (name clashes, unreadable declaration files).
    pub warnings: Vec<String>,
    /// Declaration files that cannot be read (also in `warnings`): they limit the
    /// judgement, so `check` says them too.
    pub declaration_warnings: Vec<String>,
    /// Exact mode: only dockerfiles that declarations build (and their parents, and
    /// those a rule names) are images ([`declaring`]).
    pub exact: bool,
    /// `images.undeclared`, as configured.
    pub undeclared: crate::config::Undeclared,
    /// Builds the tree runs that cannot be resolved (none in exact mode, unless
    /// `images.undeclared = "ignore"`).
    pub opaque: Vec<declared::Opaque>,
    /// In exact mode: the dockerfiles no declaration builds (not images).
    pub not_built: Vec<Entry>,
    /// The declaration files (entry files and the files they read).
    pub declaration_files: Vec<String>,
}

impl ImageSet {
    /// The image named `name`, or whose dockerfile path is `name`.
    pub fn get(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name).or_else(|| {
            self.images
                .iter()
                .find(|i| i.dockerfile.path == name.as_bytes())
        })
    }

    /// What limits the judgement of these images, one sentence each naming the image.
    pub fn notes(&self) -> Vec<String> {
        self.declaration_warnings
            .iter()
            .cloned()
            .chain(self.images.iter().flat_map(|img| {
                img.notes.iter().map(move |n| {
                    format!("image `{}` ({}): {n}", img.name, img.dockerfile_display())
                })
            }))
            .collect()
    }

    /// Whether a path that names a dockerfile is one of an image (in exact mode an
    /// unbuilt dockerfile is nothing).
    pub fn counts_dockerfile(&self, path: &[u8]) -> bool {
        !self.exact
            || self
                .images
                .iter()
                .any(|i| i.claim(path) == Some("dockerfile"))
    }

    /// Whether any image is built from `path`.
    pub fn claims(&self, path: &[u8]) -> bool {
        self.images.iter().any(|i| i.claim(path).is_some())
    }

    /// The images that `other` does not have with the same name and the same build
    /// (dockerfile, `.dockerignore`, context, extra inputs): the merge-base's images worth
    /// checking besides the tip's.
    pub fn differing_from<'a>(&'a self, other: &ImageSet) -> Vec<&'a Image> {
        self.images
            .iter()
            .filter(|img| {
                !other.images.iter().any(|o| {
                    o.name == img.name
                        && o.dockerfile == img.dockerfile
                        && o.dockerignore == img.dockerignore
                        && o.context == img.context
                        && o.extra_globs == img.extra_globs
                        && o.builds == img.builds
                        && o.same_refinement(img)
                })
            })
            .collect()
    }
}

/// Parsed `.dockerignore` files (and their skipped patterns), by blob id.
type IgnoreCache = HashMap<Oid, Arc<(Dockerignore, Vec<String>)>>;
/// Images before their builds are read, by what they are made of: dockerfile path and
/// blob, the blob parsed (a symlinked dockerfile's target), name and context.
type ImageKey = (Vec<u8>, Oid, Option<Oid>, String, Vec<u8>);
type ImageCache = HashMap<ImageKey, Image>;

/// Image sets kept per catalog (see [`Catalog::image_set`]).
const MAX_SETS: usize = 8;

/// Images of trees under one set of rules, with the caches that keep this cheap.
#[derive(Debug)]
pub struct Catalog {
    rules: ImageRules,
    matcher: Matcher,
    walks: RefCell<WalkCache>,
    parsed: RefCell<HashMap<Oid, Arc<Parsed>>>,
    ignores: RefCell<IgnoreCache>,
    images: RefCell<ImageCache>,
    sets: RefCell<HashMap<Oid, Arc<ImageSet>>>,
    /// The on-disk memo of the walk, once loaded: (file, fingerprint, ages at load).
    memo: RefCell<Option<(std::path::PathBuf, String, walkcache::Ages)>>,
    /// Subtrees looked at in this run (memo entries used or made).
    used: RefCell<std::collections::HashSet<(Vec<u8>, Oid), walkcache::Fnv>>,
    /// Whether this run walked any subtree the memo did not know.
    learnt: std::cell::Cell<bool>,
    /// Directory listings by tree id, for path lookups ([`view`]).
    listings: RefCell<HashMap<Oid, view::Listing>>,
    /// Parsed declaration files (compose, bake, CI), by path and blob id: a file's parse
    /// depends on its path too (compose contexts are relative to the file).
    declared: RefCell<HashMap<PathAndBlob, Arc<declared::Declared>>>,
    /// The on-disk memo of parsed dockerfiles, once loaded.
    parsed_memo: RefCell<Option<parsedmemo::ParsedMemo>>,
    /// `images.gitlab_ci`: the GitLab pipeline's entry file (empty: none).
    gitlab_ci: String,
    /// `images.undeclared`.
    undeclared: crate::config::Undeclared,
    /// Inline dockerfiles' texts, by the id they would have as blobs ([`inline`]).
    inline: RefCell<HashMap<Oid, Arc<str>>>,
    /// Dockerfiles parsed with a build's `--build-arg`s, by blob id and arguments.
    with_args: RefCell<HashMap<WithArgsKey, Arc<Parsed>>>,
}

/// A dockerfile blob and the build arguments it was parsed with.
type WithArgsKey = (Oid, Vec<(String, Option<String>)>);

/// A file's path and blob id.
type PathAndBlob = (Vec<u8>, Oid);

impl Drop for Catalog {
    fn drop(&mut self) {
        if let Some(memo) = self.parsed_memo.get_mut() {
            memo.save();
        }
        // Keep what this run learnt about where the dockerfiles are, for the next push.
        if let Some((file, fingerprint, ages)) = self.memo.get_mut().take() {
            // Rewrite the memo when this run learnt something, or when it holds much more
            // than this run needed (after a 1000-ref push, say), so that ages advance and it
            // shrinks back; a run that only reused it leaves it alone.
            let oversized = ages.len() > 2 * self.used.get_mut().len() + 256;
            if !self.learnt.get() && !oversized {
                return;
            }
            let used = self.used.get_mut();
            let age = |k: &(Vec<u8>, Oid)| {
                if used.contains(k) {
                    0
                } else {
                    ages.get(k).map_or(u32::MAX, |a| a.saturating_add(1))
                }
            };
            walkcache::save(&file, &fingerprint, self.walks.get_mut(), age);
        }
    }
}

impl Catalog {
    /// Compiles the `images.*` settings; `matcher` says which paths are dockerfiles.
    pub fn new(settings: &ContentSettings, matcher: Matcher) -> Result<Self> {
        Ok(Catalog {
            rules: ImageRules::from_settings(settings)?,
            matcher,
            walks: RefCell::default(),
            parsed: RefCell::default(),
            ignores: RefCell::default(),
            images: RefCell::default(),
            sets: RefCell::default(),
            memo: RefCell::default(),
            used: RefCell::default(),
            learnt: std::cell::Cell::new(false),
            listings: RefCell::default(),
            declared: RefCell::default(),
            parsed_memo: RefCell::default(),
            gitlab_ci: settings.gitlab_ci.clone(),
            undeclared: settings.undeclared,
            inline: RefCell::default(),
            with_args: RefCell::default(),
        })
    }

    /// Loads the repository's on-disk walk memo (see [`walkcache`]) on first use.
    fn load_memo(&self, repo: &Repository) {
        if self.memo.borrow().is_some() {
            return;
        }
        let file = walkcache::path(repo.commondir());
        // The walk also collects declaration entry files (compose, bake, GitHub; GitLab's
        // entry is read by its path): memos made under another rule are not reused.
        let mut parts = self.matcher.fingerprint();
        parts.push("declarations v2".into());
        let fingerprint = walkcache::fingerprint(&parts);
        let (loaded, ages) = walkcache::load(&file, &fingerprint);
        self.walks.borrow_mut().extend(loaded);
        *self.memo.borrow_mut() = Some((file, fingerprint, ages));
    }

    /// A raw object's bytes, through libgit2 (a partial clone's missing blob from its
    /// promisor).
    fn raw(&self, repo: &Repository, oid: Oid, kind: git2::ObjectType) -> Result<Arc<Vec<u8>>> {
        let odb = repo
            .odb()
            .map_err(|e| Error::git("cannot open the object database", e))?;
        let obj = match odb.read(oid) {
            Ok(obj) => obj,
            Err(e) if kind == git2::ObjectType::Blob && is_partial_clone(repo) => {
                return promisor_blob(repo, oid).map(Arc::new).ok_or_else(|| {
                    Error::git(
                        format!("cannot read object {oid} (not fetched in this partial clone)"),
                        e,
                    )
                });
            }
            Err(e) => return Err(Error::git(format!("cannot read object {oid}"), e)),
        };
        if obj.kind() != kind {
            return Err(Error::Corrupt(format!(
                "object {oid} is a {}, not a {kind}",
                obj.kind().str()
            )));
        }
        Ok(Arc::new(obj.data().to_vec()))
    }

    /// The images of the tree `tree`.
    pub fn image_set(&self, repo: &Repository, tree: Oid) -> Result<Arc<ImageSet>> {
        if let Some(set) = self.sets.borrow().get(&tree) {
            return Ok(Arc::clone(set));
        }
        self.load_memo(repo);
        let found = self.walk(repo, tree, &mut Vec::new())?;
        let (ignores, rest): (Vec<&Entry>, Vec<&Entry>) = found
            .iter()
            .partition(|e| e.path.ends_with(b".dockerignore"));
        let (decl_files, mut dockerfiles): (Vec<&Entry>, Vec<&Entry>) = rest
            .into_iter()
            .partition(|e| declared::kind(&e.path).is_some() && !self.is_dockerfile(&e.path));
        let ignores: HashMap<&[u8], &Entry> =
            ignores.into_iter().map(|e| (&e.path[..], e)).collect();
        let mut warnings = Vec::new();
        let d = self.declarations(repo, tree, &decl_files, &mut warnings)?;
        let extra = self.declared_only(repo, tree, &dockerfiles, &d.decls)?;
        dockerfiles.extend(extra.iter());
        let inline = self.inline_images(repo, tree, &d.decls)?;
        let decls = inline.0;
        dockerfiles.extend(inline.1.iter().map(|i| &i.entry));
        dockerfiles.sort_by(|a, b| a.path.cmp(&b.path));
        let exact = self.exact(&d);
        let mut not_built = Vec::new();
        let mut counted: HashMap<Vec<u8>, Counted> = HashMap::new();
        if exact {
            let why = self.counted(repo, tree, &dockerfiles, &decls)?;
            let mut kept = Vec::new();
            for (e, w) in dockerfiles.into_iter().zip(why) {
                match w {
                    Some(w) => {
                        counted.insert(e.path.clone(), w);
                        kept.push(e);
                    }
                    None => not_built.push(e.clone()),
                }
            }
            dockerfiles = kept;
        }
        let mut set = self.build(repo, tree, &ignores, &dockerfiles, &decls)?;
        for img in &mut set.images {
            img.counted = match counted.get(&img.dockerfile.path) {
                Some(c) => *c,
                None if img.declared.iter().any(|d| !d.maybe()) => Counted::Declared,
                None if self.rules.name(&img.dockerfile.path).rule.is_some() => Counted::Rule,
                None => Counted::Undeclared,
            };
            if let Some(i) = inline
                .1
                .iter()
                .find(|i| i.entry.path == img.dockerfile.path)
            {
                img.dockerfile_chain.push(i.source.clone());
            }
        }
        set.warnings.extend(warnings.iter().cloned());
        set.declaration_warnings = warnings;
        set.exact = exact;
        set.undeclared = self.undeclared;
        set.opaque = d.opaque;
        set.not_built = not_built;
        set.declaration_files = d.files;
        let set = Arc::new(set);
        let mut sets = self.sets.borrow_mut();
        // A 1000-ref push judges 1000 trees: keep only a few sets (the merge-base's is the
        // one reused); images themselves stay cached by content, so rebuilding one is cheap.
        if sets.len() >= MAX_SETS {
            sets.clear();
        }
        sets.insert(tree, Arc::clone(&set));
        Ok(set)
    }

    /// The dockerfiles and `*.dockerignore` files below `tree` (at `prefix`), remembered
    /// per (prefix, tree id), in memory and in the on-disk memo.
    fn walk(&self, repo: &Repository, tree: Oid, prefix: &mut Vec<u8>) -> Result<Arc<Vec<Entry>>> {
        let key = (prefix.clone(), tree);
        if let Some(hit) = self.walks.borrow().get(&key) {
            self.used.borrow_mut().insert(key);
            return Ok(Arc::clone(hit));
        }
        let data = self.raw(repo, tree, git2::ObjectType::Tree)?;
        let mut out = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let (entry, next) = crate::engine::changes::parse_entry(rest).ok_or_else(|| {
                Error::Corrupt(format!("tree {tree} is malformed: an entry does not parse"))
            })?;
            rest = next;
            let saved = prefix.len();
            if saved > 0 {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(entry.name);
            if entry.is_tree() {
                // One level of recursion per directory: bounded, so a branch of 10,000
                // nested directories cannot overflow the stack.
                if crate::limits::path_depth(prefix) > MAX_TREE_DEPTH {
                    return Err(crate::limits::too_deep(prefix));
                }
                let sub = self.walk(repo, entry.oid()?, prefix)?;
                out.extend(sub.iter().cloned());
            } else if entry.mode != 0o160000
                && (prefix.ends_with(b".dockerignore")
                    || self.matcher.classify(prefix) == Some(PathRole::Dockerfile)
                    || declared::kind(prefix).is_some())
            {
                out.push(Entry {
                    path: prefix.clone(),
                    oid: entry.oid()?,
                    mode: i32::try_from(entry.mode).unwrap_or(0o100644),
                });
            }
            prefix.truncate(saved);
        }
        let out = Arc::new(out);
        // The root lists every dockerfile and is new on every commit: a 1000-ref push would
        // keep 1000 copies. Its image set is cached instead (and subtrees are memoised).
        if !key.0.is_empty() {
            self.learnt.set(true);
            self.used.borrow_mut().insert(key.clone());
            self.walks.borrow_mut().insert(key, Arc::clone(&out));
        }
        Ok(out)
    }

    fn is_dockerfile(&self, path: &[u8]) -> bool {
        self.matcher.classify(path) == Some(PathRole::Dockerfile)
    }

    /// The declarations with inline dockerfiles bound to their synthetic paths, and those
    /// dockerfiles (not excluded by `match.exclude`), their texts remembered to be parsed.
    fn inline_images(
        &self,
        repo: &Repository,
        tree: Oid,
        decls: &[declared::Declaration],
    ) -> Result<(Vec<declared::Declaration>, Vec<inline::Inline>)> {
        let view = view::TreeView {
            catalog: self,
            repo,
            root: tree,
        };
        let (decls, mut found) = inline::split(&view, decls)?;
        found.retain(|i| {
            !self.matcher.excludes(&i.entry.path) && !self.matcher.excludes(&i.source.path)
        });
        let mut texts = self.inline.borrow_mut();
        for i in &found {
            texts.insert(i.entry.oid, Arc::clone(&i.text));
        }
        Ok((decls, found))
    }

    /// The on-disk memo of parses, loaded on first use.
    fn parsed_memo(&self, repo: &Repository) -> std::cell::RefMut<'_, parsedmemo::ParsedMemo> {
        std::cell::RefMut::map(self.parsed_memo.borrow_mut(), |memo| {
            memo.get_or_insert_with(|| parsedmemo::ParsedMemo::load(repo.commondir()))
        })
    }

    /// The dockerfile `e` as built with `args`, parsed once per run for the same blob and
    /// arguments (the merge-base's and the tip's builds are mostly the same).
    fn parse_with_args(
        &self,
        repo: &Repository,
        e: &Entry,
        args: &[(String, Option<String>)],
    ) -> Result<Arc<Parsed>> {
        let key = (e.oid, args.to_vec());
        if let Some(p) = self.with_args.borrow().get(&key) {
            return Ok(Arc::clone(p));
        }
        let text = self.blob_text(repo, e, "the dockerfile ", MAX_DOCKERFILE_BYTES)?;
        let map: HashMap<String, Option<String>> = args.iter().cloned().collect();
        let parsed = Arc::new(dockerfile::parse_with_args(&text, &map));
        let mut cache = self.with_args.borrow_mut();
        // Keys come from the judged trees: bounded.
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&parsed));
        Ok(parsed)
    }

    fn parse_dockerfile(&self, repo: &Repository, e: &Entry) -> Result<Arc<Parsed>> {
        if let Some(p) = self.parsed.borrow().get(&e.oid) {
            return Ok(Arc::clone(p));
        }
        let mut memo = self.parsed_memo(repo);
        let parsed = match memo.get(e.oid) {
            Some(p) => Arc::new(p),
            None => {
                let text = self.blob_text(repo, e, "the dockerfile ", MAX_DOCKERFILE_BYTES)?;
                let p = dockerfile::parse(&text);
                memo.learn(e.oid, &p);
                Arc::new(p)
            }
        };
        self.parsed.borrow_mut().insert(e.oid, Arc::clone(&parsed));
        Ok(parsed)
    }

    /// A file's text (lossily UTF-8); errors say "cannot read {what}{path}". A blob larger
    /// than `max` bytes is not read at all: its size is asked first.
    fn blob_text(&self, repo: &Repository, e: &Entry, what: &str, max: usize) -> Result<String> {
        if let Some(text) = self.inline.borrow().get(&e.oid) {
            return Ok(text.to_string());
        }
        let over = |size: usize| Error::Limit {
            message: format!(
                "{what}{} is {size} bytes, more than the {max} dockguard reads",
                crate::render::escape::text(&crate::git::display_path(&e.path))
            ),
        };
        if let Some(size) = repo
            .odb()
            .ok()
            .and_then(|odb| odb.read_header(e.oid).ok())
            .map(|(size, _)| size)
            .filter(|size| *size > max)
        {
            return Err(over(size));
        }
        let blob = self
            .raw(repo, e.oid, git2::ObjectType::Blob)
            .map_err(|err| {
                let path = crate::git::display_path(&e.path);
                recontext(err, format!("cannot read {what}{path}"))
            })?;
        if blob.len() > max {
            return Err(over(blob.len()));
        }
        Ok(String::from_utf8_lossy(&blob).into_owned())
    }

    fn parse_ignore(
        &self,
        repo: &Repository,
        e: &Entry,
    ) -> Result<Arc<(Dockerignore, Vec<String>)>> {
        if let Some(p) = self.ignores.borrow().get(&e.oid) {
            return Ok(Arc::clone(p));
        }
        let text = self.blob_text(repo, e, "", MAX_DOCKERIGNORE_BYTES)?;
        let n = patterns::count_patterns(&text);
        if n > MAX_DOCKERIGNORE_PATTERNS {
            return Err(Error::Limit {
                message: format!(
                    "{} has {n} patterns, more than the {MAX_DOCKERIGNORE_PATTERNS} dockguard compiles",
                    crate::render::escape::text(&crate::git::display_path(&e.path))
                ),
            });
        }
        let parsed = Arc::new(Dockerignore::parse(&text));
        self.ignores.borrow_mut().insert(e.oid, Arc::clone(&parsed));
        Ok(parsed)
    }

    /// The changed `.gitattributes` files that change how checkout writes a file some
    /// image reads, with those files (by the `.gitattributes` path); the others are no
    /// longer counted. One whose effect cannot be told stays, belonging to every image.
    fn checkouts(
        &self,
        repo: &Repository,
        target: Oid,
        changes: &mut TreeChanges,
        claimed: &dyn Fn(&[u8]) -> Option<PathRole>,
        images: &[&Image],
    ) -> Result<graph::Checkouts> {
        let mut out = graph::Checkouts::new();
        let todo: Vec<usize> = (0..changes.matched.len())
            .filter(|&i| {
                let c = &changes.matched[i];
                std::iter::once(&c.path)
                    .chain(c.old_path.as_ref())
                    .all(|p| attributes::is_attributes(p) && claimed(p).is_none())
            })
            .collect();
        if todo.is_empty() {
            return Ok(out);
        }
        let tip = repo
            .find_tree(target)
            .map_err(|e| Error::git("cannot read the target tree", e))?;
        let mut dropped = Vec::new();
        for i in todo {
            let c = &changes.matched[i];
            let text = |path: &[u8], oid: Oid| -> Result<Option<String>> {
                if oid.is_zero() {
                    return Ok(None);
                }
                let e = Entry {
                    path: path.to_vec(),
                    oid,
                    mode: 0o100644,
                };
                self.blob_text(repo, &e, "", MAX_DOCKERIGNORE_BYTES)
                    .map(Some)
            };
            let old_path = c.old_path.as_deref().unwrap_or(&c.path);
            let (old, new) = (text(old_path, c.old_oid)?, text(&c.path, c.new_oid)?);
            let files = attributes::changed_checkouts(
                repo,
                &tip,
                attributes::Side {
                    path: old_path,
                    text: old.as_deref(),
                },
                attributes::Side {
                    path: &c.path,
                    text: new.as_deref(),
                },
            )?;
            let Some(files) = files else { continue };
            let read: Vec<Vec<u8>> = files
                .into_iter()
                .filter(|f| images.iter().any(|img| img.claim(f).is_some()))
                .collect();
            if read.is_empty() {
                dropped.push(i);
            } else {
                out.insert(c.path.clone(), read);
            }
        }
        for i in dropped.into_iter().rev() {
            changes.matched.remove(i);
            changes.other += 1;
        }
        Ok(out)
    }

    fn build(
        &self,
        repo: &Repository,
        tree: Oid,
        ignores: &HashMap<&[u8], &Entry>,
        found: &[&Entry],
        decls: &[declared::Declaration],
    ) -> Result<ImageSet> {
        let view = view::TreeView {
            catalog: self,
            repo,
            root: tree,
        };
        let mut set = ImageSet::default();
        let namings: Vec<_> = found.iter().map(|e| self.rules.name(&e.path)).collect();
        // Clashing names: each clashing image is named by its dockerfile path instead.
        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, n) in namings.iter().enumerate() {
            by_name.entry(n.name.as_str()).or_default().push(i);
        }
        let mut names: Vec<String> = namings.iter().map(|n| n.name.clone()).collect();
        let mut clashes: HashMap<String, Vec<String>> = HashMap::new();
        for (name, idx) in &by_name {
            if idx.len() > 1 {
                let paths: Vec<String> = idx
                    .iter()
                    .map(|&i| crate::git::display_path(&found[i].path))
                    .collect();
                set.warnings.push(format!(
                    "{} dockerfiles would be named `{name}` ({}); each is named by its path instead (an [[images.rule]] can name them)",
                    idx.len(),
                    paths.join(", ")
                ));
                for &i in idx {
                    names[i] = crate::git::display_path(&found[i].path);
                }
                clashes.insert((*name).to_owned(), paths);
            }
        }
        let mut images = Vec::new();
        for ((entry, naming), name) in found.iter().zip(&namings).zip(names) {
            let mut chain = Vec::new();
            let mut notes = Vec::new();
            let parse = if entry.mode == 0o120000 {
                let c = links::dockerfile_chain(&view, &entry.path)?;
                for p in &c.paths {
                    if let Some((mode, oid)) = view.entry(p)? {
                        chain.push(Entry {
                            path: p.clone(),
                            oid,
                            mode: i32::try_from(mode).unwrap_or(0o100644),
                        });
                    }
                }
                if let Some(why) = &c.outside {
                    notes.push(format!(
                        "the dockerfile is a symlink and {why}: what the docker CLI reads there cannot be judged"
                    ));
                }
                c.files.first().map(|(path, mode, oid)| Entry {
                    path: path.clone(),
                    oid: *oid,
                    mode: i32::try_from(*mode).unwrap_or(0o100644),
                })
            } else {
                Some((*entry).clone())
            };
            if parse.is_none() && notes.is_empty() {
                notes.push("the dockerfile is a symlink to nothing in the repository".into());
            }
            let mut naming = naming.clone();
            let applied = contexts::apply_declarations(&mut naming, &entry.path, decls);
            let mut image = self.image(repo, entry, parse.as_ref(), &naming, name)?;
            image.dockerfile_chain = chain;
            image.notes.extend(notes);
            image.declared = applied.decls.clone();
            let builds = builds::read(&mut image, &applied.decls, &mut |args| {
                parse
                    .as_ref()
                    .map(|p| self.parse_with_args(repo, p, args))
                    .transpose()
            })?;
            images.push((image, applied.plan, builds));
        }
        let name_list: Vec<&str> = images
            .iter()
            .map(|(i, _, _)| i.name.as_str())
            .chain(clashes.keys().map(String::as_str))
            .collect();
        let parents = self.rules.parent_matcher(&name_list);
        for (image, _, _) in &mut images {
            let refs = std::mem::take(&mut image.refs);
            for r in &refs {
                let parent = |name: String| Parent {
                    name,
                    reference: r.written.clone(),
                    via: r.via,
                    line: r.line,
                };
                match parents.resolve(r) {
                    ParentMatch::Image(name) => match clashes.get(&name) {
                        // Ambiguous: depend on every image that wanted the name.
                        Some(paths) => {
                            for p in paths {
                                image.parents.push(parent(p.clone()));
                            }
                        }
                        None => image.parents.push(parent(name)),
                    },
                    ParentMatch::Missing(name) => image.missing.push(parent(name)),
                    ParentMatch::External => image.external.push(r.written.clone()),
                }
            }
            image.refs = refs;
            image
                .parents
                .dedup_by(|a, b| a.name == b.name && a.line == b.line);
        }
        let (mut imgs, rest): (Vec<Image>, Vec<_>) =
            images.into_iter().map(|(i, p, b)| (i, (p, b))).unzip();
        builds::inherit_onbuild(&mut imgs);
        let parse_ignore = |e: &Entry| self.parse_ignore(repo, e);
        for (image, (plan, builds)) in imgs.iter_mut().zip(rest) {
            contexts::refine(&view, image, &plan, builds, ignores, &parse_ignore)?;
        }
        let mut images = imgs;
        images.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then(a.dockerfile.path.cmp(&b.dockerfile.path))
        });
        set.images = images;
        Ok(set)
    }

    fn image(
        &self,
        repo: &Repository,
        entry: &Entry,
        parse: Option<&Entry>,
        naming: &rules::Naming,
        name: String,
    ) -> Result<Image> {
        let key = (
            entry.path.clone(),
            entry.oid,
            parse.map(|p| p.oid),
            name.clone(),
            naming.context.clone(),
        );
        if let Some(img) = self.images.borrow().get(&key) {
            return Ok(img.clone());
        }
        let parsed = match parse {
            Some(p) => self.parse_dockerfile(repo, p)?,
            None => Arc::new(Parsed::default()),
        };
        let warnings = parsed.warnings.clone();
        let source_patterns: Vec<String> =
            parsed.sources.iter().map(|s| s.pattern.clone()).collect();
        let extra = if naming.inputs.is_empty() {
            None
        } else {
            let joined = naming
                .inputs
                .iter()
                .map(|g| format!("(?:{})", glob_to_regex(g)))
                .collect::<Vec<_>>()
                .join("|");
            Some(
                Regex::new(&format!("^(?:{joined})$")).map_err(|e| Error::Config {
                    origin: self.rules.origin.clone(),
                    message: format!(
                        "an `images.rule` input glob for {name} is not valid: {}",
                        e.to_string().lines().last().unwrap_or("invalid")
                    ),
                })?,
            )
        };
        let image = Image {
            name,
            dockerfile: entry.clone(),
            context: naming.context.clone(),
            ignore_paths: Vec::new(),
            dockerignore: None,
            ignores: Vec::new(),
            sources: Arc::new(parsed.sources.clone()),
            refs: parsed.refs.clone(),
            onbuild: Vec::new(),
            builds: Vec::new(),
            source_patterns: Arc::new(source_patterns),
            compiled: std::sync::OnceLock::new(),
            extra_globs: naming.inputs.clone(),
            extra,
            parents: Vec::new(),
            missing: Vec::new(),
            external: Vec::new(),
            warnings,
            parsed,
            notes: Vec::new(),
            dockerfile_chain: Vec::new(),
            alt: Vec::new(),
            followed: Vec::new(),
            declared: Vec::new(),
            counted: Counted::default(),
            prefixes: std::sync::OnceLock::new(),
            exclude: self.matcher.exclude_regex().cloned(),
        };
        self.images.borrow_mut().insert(key, image.clone());
        Ok(image)
    }
}

/// What comparing two trees found: the changed paths that count (dockerfiles, `match.*`
/// inputs, and files an image copies) and the images they affect.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// Changed paths, classified.
    pub changes: TreeChanges,
    /// Affected images of the target tree, in build order.
    pub images: Vec<AffectedImage>,
    /// Images of the target tree whose declared builds differ from the base tree's.
    pub builds: Vec<graph::BuildChange>,
    /// What limits the judgement (an assumed context, fetched sources, build-arg
    /// overrides), naming the image and the line.
    pub warnings: Vec<String>,
}

/// Compares the merge-base tree `base` with the target tree `target`.
///
/// A path counts when `matcher` classifies it or when an image of either tree is built
/// from it (role `input`); the merge-base's images count so that a deleted source, or a
/// dockerfile that used to copy a path, is not missed. `match.exclude` wins over both:
/// an excluded path is never an image's input ([`Image::claim`]). An image is affected
/// too when the builds declared for it differ ([`graph::build_changes`]).
pub fn judge_trees(
    repo: &Repository,
    objects: &mut Objects<'_>,
    catalog: &Catalog,
    matcher: &Matcher,
    base: Oid,
    target: Oid,
) -> Result<Judged> {
    if base == target {
        return Ok(Judged::default());
    }
    let t = catalog.image_set(repo, target)?;
    let b = catalog.image_set(repo, base)?;
    let base_only = b.differing_from(&t);
    // Dockerfiles the branch changed that no build of either tree builds: said, not
    // silently dropped.
    let unbuilt: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::default();
    let claimed = |p: &[u8]| {
        let role = matcher.classify(p).filter(|r| {
            // In exact mode a dockerfile nothing builds is no image's.
            let counts =
                *r != PathRole::Dockerfile || t.counts_dockerfile(p) || b.counts_dockerfile(p);
            if !counts {
                let mut seen = unbuilt
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !seen.iter().any(|u| u == p) {
                    seen.push(p.to_vec());
                }
            }
            counts
        });
        role.or_else(|| {
            (t.claims(p) || base_only.iter().any(|i| i.claim(p).is_some()))
                .then_some(PathRole::Input)
        })
    };
    // A changed `.gitattributes` is looked at after the diff (see `attributes`).
    let classify =
        |p: &[u8]| claimed(p).or_else(|| attributes::is_attributes(p).then_some(PathRole::Input));
    let mut changes = diff_trees_with(repo, objects, base, target, &classify)?;
    let images: Vec<&Image> = t.images.iter().chain(base_only.iter().copied()).collect();
    let checkouts = catalog.checkouts(repo, target, &mut changes, &claimed, &images)?;
    let builds = graph::build_changes(&t, &b);
    let images = graph::affected(&t, Some(&b), &changes.matched, &checkouts, &builds)?;
    let mut warnings = t.notes();
    let mut unbuilt = unbuilt
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    unbuilt.sort();
    warnings.extend(unbuilt.iter().map(|p| unbuilt_note(p)));
    Ok(Judged {
        changes,
        images,
        builds,
        warnings,
    })
}

/// What a changed dockerfile that no declared build builds is to the verdict, and how to
/// count it anyway.
fn unbuilt_note(path: &[u8]) -> String {
    format!(
        "{} changed, but no build the CI, compose or bake files declare builds it (all of \
         them are resolved), so it is no image; to count it anyway: \
         git config dockguard.images.undeclared count",
        crate::render::escape::text(&crate::git::display_path(path))
    )
}

/// A clone made with `--filter` (its missing objects can be fetched from a promisor).
fn is_partial_clone(repo: &Repository) -> bool {
    let Ok(config) = repo.config() else {
        return false;
    };
    if config.get_string("extensions.partialclone").is_ok() {
        return true;
    }
    let mut promisor = false;
    if let Ok(entries) = config.entries(Some(r"^remote\..*\.promisor$")) {
        let _ = entries.for_each(|e| promisor |= e.value().is_ok_and(|v| v == "true"));
    }
    promisor
}

/// A blob of a partial clone, fetched the way git fetches it (`git cat-file`, which asks the
/// promisor remote with the user's own credentials). Only dockerfiles and `.dockerignore`s
/// are ever read, so this fetches a handful of small blobs at most; `None` when git cannot
/// (offline, remote gone), and the verdict then says "rebuild" naming the file.
fn promisor_blob(repo: &Repository, oid: Oid) -> Option<Vec<u8>> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["cat-file", "blob", &oid.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Replaces the context of a git error (keeping libgit2's words as the cause).
fn recontext(err: Error, context: String) -> Error {
    match err {
        Error::Git { source, .. } => Error::git(context, source),
        other => other,
    }
}

/// Every image of a tree, affected because nothing is known to compare with; empty when
/// the tree's images cannot be worked out (the verdict is "rebuild" anyway).
pub fn all_images(repo: &Repository, catalog: &Catalog, tree: Oid) -> Vec<AffectedImage> {
    catalog
        .image_set(repo, tree)
        .and_then(|set| graph::all_affected(&set, "the merge-base with upstream is unknown"))
        .unwrap_or_default()
}

#[cfg(unix)]
pub(crate) fn bytes_path(p: &[u8]) -> Option<&std::path::Path> {
    use std::os::unix::ffi::OsStrExt;
    Some(std::path::Path::new(std::ffi::OsStr::from_bytes(p)))
}

#[cfg(not(unix))]
pub(crate) fn bytes_path(p: &[u8]) -> Option<&std::path::Path> {
    std::str::from_utf8(p).ok().map(std::path::Path::new)
}
