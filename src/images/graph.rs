//! The parent graph: build order, cycles, and which images a change affects.
//!
//! An image is affected when its dockerfile, its `.dockerignore`, a context file it
//! copies, one of its extra inputs, or (transitively) a parent image is affected. Both
//! trees count: the merge-base's images are checked too, so a deleted parent, or a file
//! that a dockerfile used to copy, still affects what is built on it. A changed path that
//! counts (a `match.*` input) but belongs to no image affects every image: there is no
//! telling which image it goes into. A changed `.gitattributes` affects the images that
//! read a file whose checkout it changes.
//!
//! An image is affected too when its declared builds differ ([`build_changes`]): a CI
//! job's `--build-arg`, `--target` or context, a compose service's `args`, changes what
//! CI builds although no file the image reads changed.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use crate::engine::changes::{Change, ChangeKind};
use crate::error::{Error, Result};
use crate::git::display_path;

use super::declared::Declaration;
use super::{Image, ImageSet};

/// An affected image in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedImage {
    /// The image name.
    pub name: String,
    /// Its dockerfile.
    pub dockerfile: String,
    /// Why it is affected (at most [`MAX_REASONS`], then a count).
    pub reasons: Vec<String>,
}

/// How many reasons an affected image lists before "and N more".
pub const MAX_REASONS: usize = 8;

/// An image of the tip whose declared builds differ from the merge-base's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildChange {
    /// The image.
    pub image: String,
    /// Its dockerfile.
    pub dockerfile: String,
    /// The build that differs (`file:line: what`): the tip's, or, when the tip no longer
    /// declares it, the merge-base's (`removed`).
    pub origin: String,
    /// `origin` is the merge-base's: the tip builds it that way no more.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// The merge-base compared with (set by the engine).
    #[serde(
        serialize_with = "ser_opt_oid",
        skip_serializing_if = "Option::is_none"
    )]
    pub merge_base: Option<git2::Oid>,
}

fn ser_opt_oid<S: serde::Serializer>(
    oid: &Option<git2::Oid>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match oid {
        Some(o) => s.collect_str(o),
        None => s.serialize_none(),
    }
}

impl BuildChange {
    /// The reason it gives its image.
    pub fn reason(&self) -> String {
        if self.removed {
            format!("its build changed: {} builds it no more", self.origin)
        } else {
            format!("its build changed: {}", self.origin)
        }
    }
}

/// What a declaration builds, apart from where it is written: its context, target, build
/// arguments (the last of a name wins, as on a command line), named contexts and builder.
fn build_key(d: &Declaration) -> String {
    let mut args: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for (k, v) in &d.args {
        args.insert(k, v.as_deref());
    }
    let mut named: Vec<&(String, String)> = d.named.iter().collect();
    named.sort();
    format!("{:?}", (&d.context, &d.target, args, named, d.builder))
}

/// The images of `target` whose declared builds differ from those of the same dockerfile
/// in `base`: a build added, removed or changed in what it passes. The line a
/// declaration is written on does not count, only what it builds. An image's builds are the declarations the catalog applied
/// to it (its `declared` builds), so no dockerfile pattern is matched again here.
pub fn build_changes(target: &ImageSet, base: &ImageSet) -> Vec<BuildChange> {
    let builds = |img: Option<&Image>| {
        let mut v: Vec<(String, String)> = img
            .iter()
            .flat_map(|i| &i.declared)
            .map(|d| (build_key(d), d.origin.to_string()))
            .collect();
        v.sort();
        v
    };
    let keys =
        |v: &[(String, String)]| -> BTreeSet<String> { v.iter().map(|(k, _)| k.clone()).collect() };
    let mut out = Vec::new();
    for img in &target.images {
        let before_img = base
            .images
            .iter()
            .find(|b| b.dockerfile.path == img.dockerfile.path);
        if img.declared.is_empty() && before_img.is_none_or(|b| b.declared.is_empty()) {
            continue;
        }
        let now = builds(Some(img));
        let before = builds(before_img);
        let (now_keys, before_keys) = (keys(&now), keys(&before));
        if now_keys == before_keys {
            continue;
        }
        let added = now.iter().find(|(k, _)| !before_keys.contains(k));
        let (origin, removed) = match added {
            Some((_, o)) => (o.clone(), false),
            None => match before.iter().find(|(k, _)| !now_keys.contains(k)) {
                Some((_, o)) => (o.clone(), true),
                None => continue,
            },
        };
        out.push(BuildChange {
            image: img.name.clone(),
            dockerfile: img.dockerfile_display(),
            origin,
            removed,
            merge_base: None,
        });
    }
    out
}

/// The images in build order (parents first, ties by name), or the error naming a cycle.
pub fn build_order(set: &ImageSet) -> Result<Vec<&Image>> {
    let index: HashMap<&str, usize> = set
        .images
        .iter()
        .enumerate()
        .map(|(i, img)| (img.name.as_str(), i))
        .collect();
    let n = set.images.len();
    let mut pending = vec![0usize; n];
    let mut children: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, img) in set.images.iter().enumerate() {
        let parents: BTreeSet<usize> = img
            .parents
            .iter()
            .filter_map(|p| index.get(p.name.as_str()).copied())
            .collect();
        if parents.contains(&i) {
            let p = img.parents.iter().find(|p| p.name == img.name);
            return Err(cycle_error(set, &[i], p.map(|p| p.line)));
        }
        pending[i] = parents.len();
        for p in parents {
            children[p].insert(i);
        }
    }
    // Kahn's algorithm; `images` is sorted by name, so a BTreeSet of indexes orders ties.
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| pending[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &children[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() < n {
        let stuck: Vec<usize> = (0..n).filter(|i| pending[*i] > 0).collect();
        return Err(cycle_error(set, &find_cycle(set, &index, &stuck), None));
    }
    Ok(order.into_iter().map(|i| &set.images[i]).collect())
}

/// A cycle among `stuck` (images that never became ready), each built on the next.
fn find_cycle(set: &ImageSet, index: &HashMap<&str, usize>, stuck: &[usize]) -> Vec<usize> {
    let stuck_set: BTreeSet<usize> = stuck.iter().copied().collect();
    // Every stuck image waits for a stuck parent: walk parents until one repeats.
    let mut path = vec![stuck[0]];
    loop {
        let here = path[path.len() - 1];
        let next = set.images[here]
            .parents
            .iter()
            .filter_map(|p| index.get(p.name.as_str()).copied())
            .filter(|p| stuck_set.contains(p))
            .min();
        let Some(next) = next else { return path };
        if let Some(pos) = path.iter().position(|p| *p == next) {
            return path[pos..].to_vec();
        }
        path.push(next);
    }
}

fn cycle_error(set: &ImageSet, cycle: &[usize], line: Option<usize>) -> Error {
    let img = |i: usize| &set.images[cycle[i % cycle.len()]];
    let message = if cycle.len() == 1 {
        format!(
            "image `{}` is built on itself ({} line {})",
            img(0).name,
            img(0).dockerfile_display(),
            line.unwrap_or(0)
        )
    } else {
        let mut names: Vec<&str> = (0..cycle.len()).map(|i| img(i).name.as_str()).collect();
        names.push(names[0]);
        let detail: Vec<String> = (0..cycle.len())
            .filter_map(|i| {
                let (child, parent) = (img(i), img(i + 1));
                let p = child.parents.iter().find(|p| p.name == parent.name)?;
                Some(format!(
                    "{} line {}: {} {}",
                    child.dockerfile_display(),
                    p.line,
                    p.via.word(),
                    p.reference
                ))
            })
            .collect();
        format!(
            "images are built on each other in a cycle: {} ({})",
            names.join(" -> "),
            detail.join("; ")
        )
    };
    Error::Image {
        message,
        hint: "an image cannot be built before itself: fix the FROM / --from lines, or the `images.parent` templates that map them to images".into(),
    }
}

/// Changed `.gitattributes` files (by path) and the files read by some image whose
/// checkout they change ([`super::attributes`]).
pub type Checkouts = HashMap<Vec<u8>, Vec<Vec<u8>>>;

/// The affected images of `target`, in build order, given the changes from the
/// merge-base (`base`, the merge-base's images, when known), the checkouts they change,
/// and the images whose declared builds changed.
pub fn affected(
    target: &ImageSet,
    base: Option<&ImageSet>,
    changes: &[Change],
    checkouts: &Checkouts,
    builds: &[BuildChange],
) -> Result<Vec<AffectedImage>> {
    let order = build_order(target)?;
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for b in builds {
        reasons.entry(b.image.clone()).or_default().push(b.reason());
    }
    let mut claimed = vec![false; changes.len()];
    let base_only = base.map(|b| b.differing_from(target)).unwrap_or_default();
    for img in target.images.iter().chain(base_only) {
        for (ci, c) in changes.iter().enumerate() {
            let paths = std::iter::once(&c.path).chain(c.old_path.as_ref());
            if let Some(files) = checkouts.get(&c.path) {
                let mine: Vec<&Vec<u8>> = files.iter().filter(|f| img.claim(f).is_some()).collect();
                if let Some(first) = mine.first() {
                    claimed[ci] = true;
                    let more = match mine.len() {
                        1 => String::new(),
                        n => format!(" and {} more", n - 1),
                    };
                    let r = format!(
                        "`{}` changed how checkout writes `{}`{more}, which it reads",
                        display_path(&c.path),
                        display_path(first)
                    );
                    reasons.entry(img.name.clone()).or_default().push(r);
                }
                continue;
            }
            for path in paths {
                if let Some(what) = img.claim(path) {
                    claimed[ci] = true;
                    let mut r = describe(what, path, c);
                    if let Some(why) = img.whole_context().filter(|_| what == "context file") {
                        r.push_str(&format!(" (the whole context counts: {why})"));
                    }
                    let list = reasons.entry(img.name.clone()).or_default();
                    if !list.contains(&r) {
                        list.push(r);
                    }
                }
            }
        }
    }
    let orphans: Vec<&Change> = changes
        .iter()
        .zip(&claimed)
        .filter(|(_, c)| !**c)
        .map(|(c, _)| c)
        .collect();
    if !orphans.is_empty() {
        let first = display_path(&orphans[0].path);
        let r = if orphans.len() == 1 {
            format!("`{first}` changed and belongs to no particular image")
        } else {
            format!(
                "`{first}` and {} other changed paths belong to no particular image",
                orphans.len() - 1
            )
        };
        for img in &target.images {
            reasons.entry(img.name.clone()).or_default().push(r.clone());
        }
    }
    // Propagate to children, through the parent edges of both trees.
    let mut children: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for set in std::iter::once(target).chain(base) {
        for img in &set.images {
            for p in &img.parents {
                children
                    .entry(p.name.as_str())
                    .or_default()
                    .insert(&img.name);
            }
        }
    }
    let mut queue: VecDeque<String> = reasons.keys().cloned().collect();
    while let Some(name) = queue.pop_front() {
        let Some(kids) = children.get(name.as_str()) else {
            continue;
        };
        for kid in kids {
            let list = reasons.entry((*kid).to_owned()).or_default();
            let first_time = list.is_empty();
            let r = format!("parent `{name}` is affected");
            if !list.contains(&r) {
                list.push(r);
            }
            if first_time {
                queue.push_back((*kid).to_owned());
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|img| {
            let mut r = reasons.remove(&img.name)?;
            if r.len() > MAX_REASONS {
                let more = r.len() - MAX_REASONS;
                r.truncate(MAX_REASONS);
                r.push(format!("and {more} more"));
            }
            Some(AffectedImage {
                name: img.name.clone(),
                dockerfile: img.dockerfile_display(),
                reasons: r,
            })
        })
        .collect())
}

/// Every image of `set`, in build order, affected for `reason`.
pub fn all_affected(set: &ImageSet, reason: &str) -> Result<Vec<AffectedImage>> {
    Ok(build_order(set)?
        .into_iter()
        .map(|img| AffectedImage {
            name: img.name.clone(),
            dockerfile: img.dockerfile_display(),
            reasons: vec![reason.to_owned()],
        })
        .collect())
}

fn describe(what: &str, path: &[u8], c: &Change) -> String {
    let p = display_path(path);
    let how = match (c.kind, c.old_path.as_deref()) {
        (ChangeKind::Renamed, Some(old)) if old == path => {
            format!("renamed to {}", display_path(&c.path))
        }
        (ChangeKind::Renamed, Some(old)) => format!("renamed from {}", display_path(old)),
        (kind, _) => kind.word().to_owned(),
    };
    if what == "dockerfile" {
        format!("dockerfile {how}")
    } else {
        format!("{what} `{p}` {how}")
    }
}
