//! Content tags: a docker tag that is a pure function of everything an image is built
//! from, so the same content gets the same tag on any branch and any machine, and any
//! change gets a new one.
//!
//! Algorithm `c1` (the tag is `c1-` and 40 hex digits): the SHA-1 git blob id
//! (`git hash-object`) of these records, each field followed by a NUL byte (git paths
//! cannot contain NUL, so the encoding is unambiguous), each record ending in a newline:
//!
//! ```text
//! dockguard content tag v1
//! context NUL <context path, "." for the root> NUL
//! dockerfile NUL <path> NUL <mode, octal> NUL <blob id> NUL
//! dockerignore NUL <path> NUL <mode> NUL <blob id> NUL         (when there is one)
//! input NUL <path in the context> NUL <mode> NUL <blob id> NUL  (sorted by path bytes)
//! extra NUL <path> NUL <mode> NUL <blob id> NUL                (sorted by path bytes)
//! parent NUL <image name> NUL <its content tag> NUL            (sorted by name)
//! ```
//!
//! Only when they apply (so that other images keep their tags), before the `parent`s:
//!
//! ```text
//! dockerfile-link NUL <path> NUL <mode> NUL <blob id> NUL      (a symlinked dockerfile: each link and file)
//! dockerignore NUL <path> NUL <mode> NUL <blob id> NUL         (another builder's, see below)
//! dockerignore-link NUL <path> NUL <mode> NUL <blob id> NUL    (a symlinked ignore file: each link and file)
//! also-context NUL <path, "." for the root> NUL                (another context it is judged against)
//! also-dockerignore NUL <path> NUL <mode> NUL <blob id> NUL    (that context's ignore files)
//! also-input NUL <repository path> NUL <mode> NUL <blob id> NUL (what a build in that context reads)
//! build NUL <parameter> NUL …                                  (a declared build's target, builder, args)
//! checkout NUL <repository path> NUL <attributes> NUL          (an input checkout transforms, sorted by path)
//! ```
//!
//! `build` is one declared build that passes more than a plain build of the last stage:
//! `target="NAME"`, `builder=buildkit|legacy|buildah`, `arg "NAME"="VALUE"` (`=?` when
//! the value is not known), sorted; builds sorted, each once. The content depends on
//! them as much as on the files.
//!
//! `checkout` gives an input's `.gitattributes` attributes that can change what checkout
//! writes (`text`, `eol`, `ident`, `filter`, `working-tree-encoding`, …: see
//! [`super::attributes`]), as `attr`, `-attr` or `attr=value` words, sorted and joined by
//! spaces. The second `dockerignore` is another builder's (the legacy builder reads
//! `<context>/.dockerignore` where BuildKit reads `<dockerfile>.dockerignore`).
//!
//! `input` lists every file of the context that a COPY/ADD/`RUN --mount` source of a
//! stage its builds need names (or an `ONBUILD` of its parent) and `.dockerignore` keeps
//! (submodules by commit id, symlinks by target blob);
//! `extra` every file matching the image's `[[images.rule]]` `inputs`. Blob ids come
//! from the trees: no file is read but `.gitattributes`. Outside images (`FROM debian:12`) count only as the
//! text of the dockerfile: pin them by digest if their updates must change the tag.

use std::collections::{BTreeMap, HashSet};

use git2::{ObjectType, Oid, Repository, Tree};

use crate::error::{Error, Result};
use crate::git::display_path;

use super::{graph, Entry, Image, ImageSet};

/// The version prefix of tags made by this algorithm.
pub const ALGORITHM: &str = "c1";

/// The content tag of image `name` (or dockerfile path) of `set`, the images of `tree`.
pub fn content_tag(
    repo: &Repository,
    set: &ImageSet,
    tree: &Tree<'_>,
    name: &str,
) -> Result<String> {
    let Some(image) = set.get(name) else {
        let known: Vec<&str> = set.images.iter().map(|i| i.name.as_str()).collect();
        let close = crate::config::closest(name, known.iter().copied());
        return Err(Error::Image {
            message: format!(
                "no image named `{name}`{}",
                close
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default()
            ),
            hint: if known.is_empty() {
                "this revision has no dockerfiles; `dockguard images` lists what it finds".into()
            } else {
                format!("images here: {}", known.join(", "))
            },
        });
    };
    let mut tags = Tags {
        repo,
        set,
        tree,
        done: BTreeMap::new(),
        visiting: HashSet::new(),
    };
    tags.tag(image)
}

/// Content tags of every image of a set (by name), memoised across parents.
pub fn all_tags(
    repo: &Repository,
    set: &ImageSet,
    tree: &Tree<'_>,
) -> BTreeMap<String, Result<String>> {
    let mut tags = Tags {
        repo,
        set,
        tree,
        done: BTreeMap::new(),
        visiting: HashSet::new(),
    };
    set.images
        .iter()
        .map(|img| (img.name.clone(), tags.tag(img)))
        .collect()
}

struct Tags<'a, 'r> {
    repo: &'r Repository,
    set: &'a ImageSet,
    tree: &'a Tree<'r>,
    done: BTreeMap<String, String>,
    visiting: HashSet<String>,
}

impl Tags<'_, '_> {
    fn tag(&mut self, image: &Image) -> Result<String> {
        if let Some(t) = self.done.get(&image.name) {
            return Ok(t.clone());
        }
        if let Some(m) = image.missing.first() {
            return Err(Error::Image {
                message: format!(
                    "image `{}` is built on `{}` ({} line {}), which names the image `{}` of this repository, but no dockerfile defines it",
                    image.name,
                    m.reference,
                    image.dockerfile_display(),
                    m.line,
                    m.name
                ),
                hint: "restore that image's dockerfile, or change the line (or `images.parent`, if it is not an image of this repository)".into(),
            });
        }
        if !self.visiting.insert(image.name.clone()) {
            // Only a cycle brings us back here; let the graph name it.
            return Err(match graph::build_order(self.set) {
                Err(e) => e,
                Ok(_) => Error::Image {
                    message: format!("image `{}` is built on itself", image.name),
                    hint: "fix its FROM / --from lines".into(),
                },
            });
        }
        let mut parents = BTreeMap::new();
        for p in &image.parents {
            let parent = self.set.get(&p.name).ok_or_else(|| Error::Image {
                message: format!("image `{}` has no parent `{}`", image.name, p.name),
                hint: "this is a bug in dockguard; please report it".into(),
            })?;
            parents.insert(p.name.clone(), self.tag(parent)?);
        }
        self.visiting.remove(&image.name);
        let bytes = canonical(self.repo, self.tree, image, &parents)?;
        let oid = Oid::hash_object(ObjectType::Blob, &bytes)
            .map_err(|e| Error::git("cannot hash the content description", e))?;
        let tag = format!("{ALGORITHM}-{oid}");
        self.done.insert(image.name.clone(), tag.clone());
        Ok(tag)
    }
}

/// The canonical description of an image (see the module docs).
pub fn canonical(
    repo: &Repository,
    tree: &Tree<'_>,
    image: &Image,
    parent_tags: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut out = b"dockguard content tag v1\n".to_vec();
    let ctx = if image.context.is_empty() {
        b".".to_vec()
    } else {
        image.context.clone()
    };
    record(&mut out, "context", &[&ctx]);
    entry(
        &mut out,
        "dockerfile",
        &image.dockerfile,
        &image.dockerfile.path,
    );
    if let Some(e) = &image.dockerignore {
        entry(&mut out, "dockerignore", e, &e.path);
    }
    let inputs = inputs(repo, tree, image)?;
    for e in &inputs {
        let rel = image.in_context(&e.path).unwrap_or(&e.path).to_vec();
        entry(&mut out, "input", e, &rel);
    }
    let mut read: Vec<Vec<u8>> = inputs.into_iter().map(|e| e.path).collect();
    for e in extras(repo, tree, image)? {
        entry(&mut out, "extra", &e, &e.path);
    }
    for e in &image.dockerfile_chain {
        entry(&mut out, "dockerfile-link", e, &e.path);
    }
    // The other builders' ignore files (the legacy builder's `<context>/.dockerignore` when
    // BuildKit reads `<dockerfile>.dockerignore`), and the links to them.
    let mut seen: Vec<&Entry> = image.dockerignore.iter().collect();
    for r in &image.ignores {
        if let Some(e) = r.file.as_ref().filter(|e| !seen.contains(e)) {
            entry(&mut out, "dockerignore", e, &e.path);
            seen.push(e);
        }
    }
    for r in &image.ignores {
        for e in &r.chain {
            if !seen.contains(&e) {
                entry(&mut out, "dockerignore-link", e, &e.path);
                seen.push(e);
            }
        }
    }
    for alt in &image.alt {
        let ctx = if alt.path.is_empty() {
            b".".to_vec()
        } else {
            alt.path.clone()
        };
        record(&mut out, "also-context", &[&ctx]);
        for e in &alt.ignore_files {
            entry(&mut out, "also-dockerignore", e, &e.path);
        }
        let mut found = Vec::new();
        if let Some(sub) = subtree(repo, tree, &alt.path)? {
            let mut prefix = alt.path.clone();
            leaves(repo, &sub, &mut prefix, &mut |e| {
                if alt.claims(&e.path) {
                    found.push(e);
                }
            })?;
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        for e in found {
            entry(&mut out, "also-input", &e, &e.path);
            read.push(e.path);
        }
    }
    // What its declared builds pass (a target, a builder, build arguments).
    for b in &image.builds {
        let fields: Vec<&[u8]> = b.iter().map(|f| f.as_bytes()).collect();
        record(&mut out, "build", &fields);
    }
    // What checkout writes for them, where `.gitattributes` transforms it.
    read.sort();
    read.dedup();
    let mut checkout = super::attributes::Checkout::new(repo, tree);
    for path in read {
        let attrs = checkout.of(&path);
        if !attrs.is_empty() {
            record(&mut out, "checkout", &[&path, attrs.as_bytes()]);
        }
    }
    for (name, tag) in parent_tags {
        record(&mut out, "parent", &[name.as_bytes(), tag.as_bytes()]);
    }
    Ok(out)
}

fn record(out: &mut Vec<u8>, kind: &str, fields: &[&[u8]]) {
    out.extend_from_slice(kind.as_bytes());
    out.push(0);
    for f in fields {
        out.extend_from_slice(f);
        out.push(0);
    }
    out.push(b'\n');
}

fn entry(out: &mut Vec<u8>, kind: &str, e: &Entry, path: &[u8]) {
    let mode = format!("{:o}", e.mode);
    let oid = e.oid.to_string();
    record(out, kind, &[path, mode.as_bytes(), oid.as_bytes()]);
}

/// The context files the image copies, sorted by path.
pub fn inputs(repo: &Repository, tree: &Tree<'_>, image: &Image) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    if image.reads_nothing() {
        return Ok(out);
    }
    let Some(ctx_tree) = subtree(repo, tree, &image.context)? else {
        return Ok(out);
    };
    let mut prefix = image.context.clone();
    leaves(repo, &ctx_tree, &mut prefix, &mut |e| {
        if image
            .in_context(&e.path)
            .is_some_and(|rel| image.copies(rel))
        {
            out.push(e);
        }
    })?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The files matching the image's extra input globs, sorted by path.
pub fn extras(repo: &Repository, tree: &Tree<'_>, image: &Image) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = Vec::new();
    let mut roots: Vec<Vec<u8>> = image.extra_globs.iter().map(|g| literal_dir(g)).collect();
    roots.sort();
    // A root below another root is covered by it.
    roots.dedup_by(|b, a| {
        a.is_empty() || b.starts_with(a) && b.get(a.len()) == Some(&b'/') || a == b
    });
    for root in roots {
        let Some(sub) = subtree(repo, tree, &root)? else {
            continue;
        };
        let mut prefix = root.clone();
        leaves(repo, &sub, &mut prefix, &mut |e| {
            if image.extra_input(&e.path) {
                out.push(e);
            }
        })?;
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// The directory a glob cannot match outside of: its leading components without
/// wildcards (empty for globs without `/`, which match in any directory).
fn literal_dir(glob: &str) -> Vec<u8> {
    let g = glob.strip_prefix('/').unwrap_or(glob);
    if !g.trim_end_matches('/').contains('/') {
        return Vec::new();
    }
    let comps: Vec<&str> = g.split('/').collect();
    let lit: Vec<&str> = comps[..comps.len() - 1]
        .iter()
        .take_while(|c| !c.contains(['*', '?', '[', '\\']))
        .copied()
        .collect();
    lit.join("/").into_bytes()
}

fn subtree<'r>(repo: &'r Repository, tree: &Tree<'r>, path: &[u8]) -> Result<Option<Tree<'r>>> {
    if path.is_empty() {
        return Ok(Some(tree.clone()));
    }
    let Some(p) = super::bytes_path(path) else {
        return Ok(None);
    };
    let Ok(e) = tree.get_path(p) else {
        return Ok(None);
    };
    if e.kind() != Some(ObjectType::Tree) {
        return Ok(None);
    }
    repo.find_tree(e.id())
        .map(Some)
        .map_err(|err| Error::git(format!("cannot read tree {}", display_path(path)), err))
}

/// Every non-tree entry below `tree`, with its repository path (`prefix` + name).
fn leaves(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &mut Vec<u8>,
    f: &mut dyn FnMut(Entry),
) -> Result<()> {
    for e in tree.iter() {
        let saved = prefix.len();
        if saved > 0 {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(e.name_bytes());
        if e.kind() == Some(ObjectType::Tree) {
            let sub = repo
                .find_tree(e.id())
                .map_err(|err| Error::git(format!("cannot read tree {}", e.id()), err))?;
            leaves(repo, &sub, prefix, f)?;
        } else {
            f(Entry {
                path: prefix.clone(),
                oid: e.id(),
                mode: e.filemode(),
            });
        }
        prefix.truncate(saved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_dirs_of_globs() {
        assert_eq!(
            literal_dir("tests/docker/dockerfiles/x.d/**"),
            b"tests/docker/dockerfiles/x.d"
        );
        assert_eq!(literal_dir("a/*/b"), b"a");
        assert_eq!(literal_dir("*.sh"), b"");
        assert_eq!(literal_dir("/top/file"), b"top");
        assert_eq!(literal_dir("dir/"), b"");
    }
}
