//! The catalog's side of declarations: which builds a tree declares (its compose, bake,
//! GitHub entry files found by the walk, and its GitLab pipeline's entry file,
//! `images.gitlab_ci`), each resolved once per entry file and blob and remembered (in
//! memory and on disk, [`super::parsedmemo`]) as long as every file the resolution read
//! is the same; and **exact mode**: which dockerfiles count as images.
//!
//! The declarations are *complete* when there is at least one and none is opaque (a
//! build line not resolved, an include from outside the tree, a script that cannot be
//! read, a dockerfile that is entirely unknown text). Then a dockerfile counts only when
//! a declaration builds it (a path, or a pattern that matches it), when an
//! `[[images.rule]]` matches it (a rule says how an image is built: the user says it is
//! built), or when it is a parent (`FROM`, `COPY --from`, `RUN --mount=from=`) of one
//! that counts. Otherwise every dockerfile counts, as without declarations (guessed
//! context, widened), and `images` names the opaque builds. `images.undeclared` forces
//! either side (`count`, `ignore`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use git2::{Oid, Repository};
use regex::bytes::Regex;

use crate::config::Undeclared;
use crate::engine::matcher::glob_to_regex;
use crate::error::{Error, Result};
use crate::limits::MAX_DOCKERFILE_BYTES;

use super::dockerfile::ANY;
use super::rules::ParentMatch;
use super::{declared, links, view, Catalog, Entry};

/// Why an image counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Counted {
    /// A declaration builds it.
    Declared,
    /// An `[[images.rule]]` matches it.
    Rule,
    /// It is a parent of an image that counts.
    Parent,
    /// No declaration builds it, and the declarations are not complete (or
    /// `images.undeclared = "count"`): it counts as every dockerfile did.
    #[default]
    Undeclared,
}

/// The declarations of a tree, and its builds that cannot be resolved.
#[derive(Debug, Default)]
pub(super) struct Declarations {
    pub decls: Vec<declared::Declaration>,
    pub opaque: Vec<declared::Opaque>,
    /// The declaration files: entry files and every file they read (that exists).
    pub files: Vec<String>,
}

/// A read of a directory (a glob's) is recorded as its path with a trailing `/`.
const DIR_READ: char = '/';

/// The memo key of the GitLab entry file: not a path any walked entry file can have.
fn gitlab_key(path: &str) -> Vec<u8> {
    format!("\0gitlab\0{path}").into_bytes()
}

/// Whether every file (and directory) a resolution read is the same in the tree of
/// `view`.
fn same_reads(view: &view::TreeView<'_>, d: &declared::Declared) -> Result<bool> {
    for (path, oid) in &d.reads {
        let now = match path.strip_suffix(DIR_READ) {
            Some(dir) => view.dir(dir.as_bytes())?,
            None => view
                .entry(path.as_bytes())?
                .filter(|(mode, _)| *mode != view::MODE_TREE && *mode != view::MODE_GITLINK)
                .map(|(_, oid)| oid),
        };
        if now != *oid {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The files of one tree, for resolving declarations ([`declared::Files`]): regular
/// files only (no link followed), read from the tree's objects and capped in size;
/// every path asked for is recorded, with what it was, and every directory a glob
/// walked, with its tree id.
struct TreeFiles<'v, 'a> {
    view: &'v view::TreeView<'a>,
    reads: RefCell<Vec<(String, Option<Oid>)>>,
}

impl declared::Files for TreeFiles<'_, '_> {
    fn read(&self, path: &str) -> Result<Option<(Oid, Arc<str>)>> {
        let found = self
            .view
            .entry(path.as_bytes())?
            .filter(|(mode, _)| *mode == 0o100644 || *mode == 0o100755);
        self.reads
            .borrow_mut()
            .push((path.to_owned(), found.map(|(_, oid)| oid)));
        let Some((mode, oid)) = found else {
            return Ok(None);
        };
        let e = Entry {
            path: path.as_bytes().to_vec(),
            oid,
            mode: i32::try_from(mode).unwrap_or(0o100644),
        };
        let text = self
            .view
            .catalog
            .blob_text(self.view.repo, &e, "", MAX_DOCKERFILE_BYTES)?;
        Ok(Some((oid, Arc::from(text))))
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>> {
        let Ok(re) = Regex::new(&format!("^(?:{})$", glob_to_regex(pattern))) else {
            return Ok(Vec::new());
        };
        // Walk only below the pattern's literal directories.
        let literal: Vec<&str> = pattern
            .split('/')
            .take_while(|c| !c.contains(['*', '?', '[', '\\']))
            .collect();
        let dir = if literal.len() == pattern.split('/').count() {
            literal[..literal.len() - 1].join("/")
        } else {
            literal.join("/")
        };
        self.reads
            .borrow_mut()
            .push((format!("{dir}{DIR_READ}"), self.view.dir(dir.as_bytes())?));
        let mut out = Vec::new();
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let done = self
            .view
            .leaves(dir.as_bytes(), GLOB_SCAN, &mut |rel, mode, _| {
                let path = format!("{prefix}{}", String::from_utf8_lossy(rel));
                if mode != view::MODE_GITLINK
                    && mode != view::MODE_LINK
                    && re.is_match(path.as_bytes())
                {
                    out.push(path);
                }
                true
            })?;
        if !done {
            return Err(Error::Limit {
                message: format!(
                    "the glob `{}` would walk more than {GLOB_SCAN} files",
                    crate::render::escape::text(pattern)
                ),
            });
        }
        out.sort();
        Ok(out)
    }
}

/// Files walked to expand one glob in a declaration (an `include: local:` pattern).
const GLOB_SCAN: usize = 200_000;

impl Catalog {
    /// Every declaration of the tree's compose, bake and CI entry files (with the files
    /// they read) and of its GitLab pipeline; files that cannot be read are warnings (see
    /// [`declared`]).
    pub(super) fn declarations(
        &self,
        repo: &Repository,
        tree: Oid,
        files: &[&Entry],
        warnings: &mut Vec<String>,
    ) -> Result<Declarations> {
        let view = view::TreeView {
            catalog: self,
            repo,
            root: tree,
        };
        let mut out = Declarations::default();
        let gitlab = match self.gitlab_ci.as_str() {
            "" => None,
            p => view
                .entry(p.as_bytes())?
                .filter(|(mode, _)| *mode == 0o100644 || *mode == 0o100755)
                .map(|(mode, oid)| Entry {
                    path: p.as_bytes().to_vec(),
                    oid,
                    mode: i32::try_from(mode).unwrap_or(0o100644),
                }),
        };
        let entries = files
            .iter()
            .filter(|e| e.mode != 0o120000)
            .map(|e| ((*e).clone(), false))
            .chain(gitlab.map(|e| (e, true)));
        for (e, is_gitlab) in entries {
            let key = if is_gitlab {
                (gitlab_key(&self.gitlab_ci), e.oid)
            } else {
                (e.path.clone(), e.oid)
            };
            let cached = self.declared.borrow().get(&key).cloned();
            let d = match cached.filter(|d| same_reads(&view, d).unwrap_or(false)) {
                Some(d) => d,
                None => {
                    let d = Arc::new(self.parse_declared(repo, &view, &e, &key.0, is_gitlab)?);
                    self.declared.borrow_mut().insert(key, Arc::clone(&d));
                    d
                }
            };
            warnings.extend(d.warnings.iter().cloned());
            out.decls.extend(d.decls.iter().cloned());
            out.opaque.extend(d.opaque.iter().cloned());
            out.files
                .push(String::from_utf8_lossy(&e.path).into_owned());
            out.files.extend(
                d.reads
                    .iter()
                    .filter(|(p, oid)| oid.is_some() && !p.ends_with(DIR_READ))
                    .map(|(p, _)| p.clone()),
            );
        }
        out.files.sort();
        out.files.dedup();
        Ok(out)
    }

    /// The declarations of one entry file, from the on-disk memo when it has them and
    /// every file they read is the same in this tree.
    fn parse_declared(
        &self,
        repo: &Repository,
        view: &view::TreeView<'_>,
        e: &Entry,
        key: &[u8],
        gitlab: bool,
    ) -> Result<declared::Declared> {
        let remembered = self.parsed_memo(repo).get_declared(key, e.oid);
        if let Some(d) = remembered {
            if same_reads(view, &d)? {
                return Ok(d);
            }
        }
        let text = self.blob_text(repo, e, "", MAX_DOCKERFILE_BYTES)?;
        let files = TreeFiles {
            view,
            reads: RefCell::default(),
        };
        let mut d = if gitlab {
            declared::resolve_gitlab(&self.gitlab_ci, &text, &files)
        } else {
            declared::resolve(&e.path, &text, &files)
        };
        d.reads = files.reads.into_inner();
        d.reads.sort();
        d.reads.dedup();
        self.parsed_memo(repo).learn_declared(key, e.oid, &d);
        Ok(d)
    }

    /// Dockerfiles a declaration names that no dockerfile pattern does (`-f ci/build.df`):
    /// they are images too, unless `match.exclude` says otherwise.
    pub(super) fn declared_only(
        &self,
        repo: &Repository,
        tree: Oid,
        found: &[&Entry],
        decls: &[declared::Declaration],
    ) -> Result<Vec<Entry>> {
        let view = view::TreeView {
            catalog: self,
            repo,
            root: tree,
        };
        let mut out: Vec<Entry> = Vec::new();
        for d in decls {
            let declared::Dockerfile::Path(path) = &d.dockerfile else {
                continue;
            };
            let path = path.as_bytes();
            if found.iter().any(|e| e.path == path)
                || out.iter().any(|e| e.path == path)
                || self.matcher.excludes(path)
            {
                continue;
            }
            if let Some((mode, oid)) = view.entry(path)? {
                if mode != view::MODE_TREE && mode != view::MODE_GITLINK {
                    out.push(Entry {
                        path: path.to_vec(),
                        oid,
                        mode: i32::try_from(mode).unwrap_or(0o100644),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Whether a tree's declarations decide which dockerfiles are images.
    pub(super) fn exact(&self, d: &Declarations) -> bool {
        let unknown_file = d.decls.iter().any(
            |x| matches!(&x.dockerfile, declared::Dockerfile::Pattern(p) if p.chars().all(|c| c == ANY)),
        );
        match self.undeclared {
            Undeclared::Count => false,
            Undeclared::Ignore => d.decls.iter().any(|x| !x.maybe()),
            Undeclared::Auto => !d.decls.is_empty() && d.opaque.is_empty() && !unknown_file,
        }
    }

    /// Why each dockerfile of `found` counts (`None`: it is not an image), in exact mode.
    pub(super) fn counted(
        &self,
        repo: &Repository,
        tree: Oid,
        found: &[&Entry],
        decls: &[declared::Declaration],
    ) -> Result<Vec<Option<Counted>>> {
        let mut why: Vec<Option<Counted>> = found
            .iter()
            .map(|e| {
                if decls
                    .iter()
                    .any(|d| !d.maybe() && d.dockerfile.names(&e.path))
                {
                    Some(Counted::Declared)
                } else if self.rules.name(&e.path).rule.is_some() {
                    Some(Counted::Rule)
                } else {
                    None
                }
            })
            .collect();
        if self.rules.parents.is_empty() || why.iter().all(Option::is_some) {
            return Ok(why);
        }
        // Parents of what counts count, transitively (names as the rules give them; a
        // name several dockerfiles want stands for all of them).
        let view = view::TreeView {
            catalog: self,
            repo,
            root: tree,
        };
        let names: Vec<String> = found
            .iter()
            .map(|e| self.rules.name(&e.path).name)
            .collect();
        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            by_name.entry(n.as_str()).or_default().push(i);
        }
        let list: Vec<&str> = by_name.keys().copied().collect();
        let parents = self.rules.parent_matcher(&list);
        let mut todo: Vec<usize> = (0..found.len()).filter(|i| why[*i].is_some()).collect();
        let mut parsed: HashMap<usize, Arc<super::dockerfile::Parsed>> = HashMap::new();
        while let Some(i) = todo.pop() {
            let entry = found[i];
            let target = if entry.mode == 0o120000 {
                links::dockerfile_chain(&view, &entry.path)?
                    .files
                    .first()
                    .map(|(path, mode, oid)| Entry {
                        path: path.clone(),
                        oid: *oid,
                        mode: i32::try_from(*mode).unwrap_or(0o100644),
                    })
            } else {
                Some(entry.clone())
            };
            let Some(target) = target else { continue };
            let p = match parsed.get(&i) {
                Some(p) => Arc::clone(p),
                None => {
                    let p = self.parse_dockerfile(repo, &target)?;
                    parsed.insert(i, Arc::clone(&p));
                    p
                }
            };
            for r in &p.refs {
                if let ParentMatch::Image(name) = parents.resolve(r) {
                    for &j in by_name
                        .get(name.as_str())
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                    {
                        if why[j].is_none() {
                            why[j] = Some(Counted::Parent);
                            todo.push(j);
                        }
                    }
                }
            }
        }
        Ok(why)
    }
}
