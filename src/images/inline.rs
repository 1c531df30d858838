//! Inline dockerfiles (compose `dockerfile_inline`, bake `dockerfile-inline`): each is an
//! image of its own. Its dockerfile has no path in the tree, so it gets a synthetic one,
//! `<declaring file's directory>/<service or target>.inline` (named like any dockerfile:
//! `web.inline` is the image `web`), and its text is parsed from the declaration. The
//! declaring file counts as its dockerfile too (a link in its dockerfile chain): a change
//! to it is a change to the image, and its blob is part of the content tag.

use std::sync::Arc;

use git2::Oid;

use super::declared::{Declaration, Dockerfile};
use super::view::{self, TreeView};
use super::Entry;
use crate::error::Result;

/// One inline dockerfile of a tree.
#[derive(Debug, Clone)]
pub(crate) struct Inline {
    /// The synthetic dockerfile: its path, and the id its text would have as a blob.
    pub entry: Entry,
    /// The file that declares it.
    pub source: Entry,
    /// Its text.
    pub text: Arc<str>,
}

/// The name an origin gives its build (``service `web` `` is `web`).
fn build_name(what: &str) -> Option<&str> {
    let start = what.find('`')? + 1;
    let len = what[start..].find('`')?;
    Some(&what[start..start + len]).filter(|n| !n.is_empty() && !n.contains('/'))
}

/// The declarations with each inline dockerfile bound to its synthetic path, and those
/// dockerfiles (the first one declared at a path wins).
pub(crate) fn split(
    view: &TreeView<'_>,
    decls: &[Declaration],
) -> Result<(Vec<Declaration>, Vec<Inline>)> {
    let mut out = Vec::with_capacity(decls.len());
    let mut inline: Vec<Inline> = Vec::new();
    for d in decls {
        let Dockerfile::Inline(text) = &d.dockerfile else {
            out.push(d.clone());
            continue;
        };
        let Some(name) = build_name(&d.origin.what) else {
            continue;
        };
        let dir = String::from_utf8_lossy(view::parent(d.origin.file.as_bytes())).into_owned();
        let path = if dir.is_empty() {
            format!("{name}.inline")
        } else {
            format!("{dir}/{name}.inline")
        };
        let source = match view.entry(d.origin.file.as_bytes())? {
            Some((mode, oid)) if mode != view::MODE_TREE && mode != view::MODE_GITLINK => Entry {
                path: d.origin.file.as_bytes().to_vec(),
                oid,
                mode: i32::try_from(mode).unwrap_or(0o100644),
            },
            _ => continue,
        };
        let mut bound = d.clone();
        bound.dockerfile = Dockerfile::Path(path.clone());
        let taken = inline.iter().any(|i| i.entry.path == path.as_bytes());
        if !taken {
            let oid = Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
                .map_err(|e| crate::error::Error::git("cannot hash an inline dockerfile", e))?;
            inline.push(Inline {
                entry: Entry {
                    path: path.into_bytes(),
                    oid,
                    mode: 0o100644,
                },
                source,
                text: Arc::from(text.as_str()),
            });
        }
        out.push(bound);
    }
    Ok((out, inline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_builds() {
        assert_eq!(build_name("service `web`"), Some("web"));
        assert_eq!(
            build_name("target `app` (built by x:1: job `b`)"),
            Some("app")
        );
        assert_eq!(build_name("service ``"), None);
        assert_eq!(build_name("job"), None);
    }
}
