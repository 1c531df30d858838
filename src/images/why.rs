//! Why an image reads a path: the dockerfile line that reads it, the context it is read
//! from and where that context comes from (a declaration's `file:line`, an
//! `[[images.rule]]`, a guess, a widening).
//!
//! Only messages ask (`check`, the hook's block message), and only for the paths they
//! show: none of this runs for a push that goes through, nor for paths a message leaves
//! out. It re-asks what [`Image::claim`] already decided, one source at a time, so the
//! answer always agrees with the verdict.

use git2::{Oid, Repository};

use crate::engine::verdict::{ContextFrom, Reader, Reads};
use crate::error::Result;
use crate::git::display_path;
use crate::limits::MAX_DOCKERFILE_BYTES;

use super::contexts::{compiled, AltContext};
use super::declared::{self, Declaration, Dockerfile};
use super::patterns::source_regex;
use super::{Catalog, Entry, Image};

/// How long a quoted dockerfile line may be before it is cut.
const MAX_INSTRUCTION: usize = 80;

/// Dockerfile texts read to quote their lines, by blob id (`None`: unreadable).
pub(crate) type Texts = std::collections::HashMap<Oid, Option<String>>;

impl Catalog {
    /// The builds a tree's compose, bake and CI files declare: what [`Catalog::image_set`]
    /// applied to the tree's images (from the same caches).
    pub(crate) fn tree_declarations(
        &self,
        repo: &Repository,
        tree: Oid,
    ) -> Result<Vec<Declaration>> {
        self.load_memo(repo);
        let found = self.walk(repo, tree, &mut Vec::new())?;
        let files: Vec<&Entry> = found
            .iter()
            .filter(|e| {
                !e.path.ends_with(b".dockerignore")
                    && declared::kind(&e.path).is_some()
                    && !self.is_dockerfile(&e.path)
            })
            .collect();
        let mut warnings = Vec::new();
        Ok(self.declarations(repo, tree, &files, &mut warnings)?.decls)
    }

    /// How `img` reads `path` (`decls`: the declarations of the image's tree), one
    /// [`Reader`] per way: nothing when [`Image::claim`] says it does not. `texts` keeps
    /// the dockerfiles read to quote a line, by blob id, across calls.
    pub(crate) fn readers(
        &self,
        repo: &Repository,
        img: &Image,
        path: &[u8],
        decls: &[Declaration],
        texts: &mut Texts,
    ) -> Vec<Reader> {
        let Some(what) = img.claim(path) else {
            return Vec::new();
        };
        let base = Reader {
            image: Some(img.name.clone()),
            dockerfile: Some(img.dockerfile_display()),
            reads: Reads::Dockerfile,
            line: None,
            instruction: None,
            context: None,
            context_from: None,
            origin: None,
            kept_by: None,
        };
        match what {
            "dockerfile" => return vec![base],
            ".dockerignore" => {
                let primary = img.ignore_paths.iter().any(|p| p == path)
                    || img
                        .ignores
                        .iter()
                        .any(|i| i.chain.iter().any(|e| e.path == path));
                let (context, from, origin) = if primary {
                    self.primary_context(img, decls)
                } else {
                    img.alt
                        .iter()
                        .find(|a| {
                            a.ignore_files.iter().any(|e| e.path == path)
                                || a.ignore_paths.iter().any(|p| p == path)
                        })
                        .map_or((img.context_display(), ContextFrom::Guessed, None), |a| {
                            alt_context(img, a, decls)
                        })
                };
                return vec![Reader {
                    reads: Reads::Dockerignore,
                    context: Some(context),
                    context_from: Some(from),
                    origin,
                    ..base
                }];
            }
            _ => {}
        }
        let mut out = Vec::new();
        if let Some(rel) = img.in_context(path).filter(|rel| img.copies(rel)) {
            let (context, from, origin) = self.primary_context(img, decls);
            let (reads, line) = match img.whole_context() {
                Some(_) => (Reads::WholeContext, None),
                None => source_line(img, rel),
            };
            out.push(Reader {
                reads,
                line,
                instruction: line.and_then(|l| self.instruction(repo, img, texts, l)),
                context: Some(context),
                context_from: Some(from),
                origin,
                kept_by: img.dockerignore.as_ref().map(|e| display_path(&e.path)),
                ..base.clone()
            });
        }
        for a in img.alt.iter().filter(|a| a.claims(path)) {
            let rel = if a.path.is_empty() {
                path
            } else {
                path.strip_prefix(&a.path[..])
                    .and_then(|r| r.strip_prefix(b"/"))
                    .unwrap_or(path)
            };
            let (context, from, origin) = alt_context(img, a, decls);
            let (reads, line) = source_line(img, rel);
            out.push(Reader {
                reads,
                line,
                instruction: line.and_then(|l| self.instruction(repo, img, texts, l)),
                context: Some(context),
                context_from: Some(from),
                origin,
                kept_by: a.ignore_files.first().map(|e| display_path(&e.path)),
                ..base.clone()
            });
        }
        if img.extra_input(path) {
            // A named build context (`--build-context`, compose `additional_contexts`)
            // is an input glob `<dir>/**` too; say which, else it is a rule's.
            let named = decls.iter().find(|d| {
                d.dockerfile.names(&img.dockerfile.path)
                    && d.named.iter().any(|(_, dir)| {
                        dir.is_empty()
                            || path
                                .strip_prefix(dir.as_bytes())
                                .is_some_and(|r| r.first() == Some(&b'/'))
                    })
            });
            out.push(Reader {
                reads: Reads::RuleInput,
                origin: Some(match named {
                    Some(d) => format!("a named build context of {}", d.origin),
                    None => format!("an `[[images.rule]]` input ({})", self.rules.origin),
                }),
                ..base
            });
        }
        out
    }

    /// The image's own context: (shown, where it comes from, the origin).
    fn primary_context(
        &self,
        img: &Image,
        decls: &[Declaration],
    ) -> (String, ContextFrom, Option<String>) {
        let shown = img.context_display();
        if self.rules.name(&img.dockerfile.path).context_set {
            return (shown, ContextFrom::Rule, Some(self.rules.origin.clone()));
        }
        let declaring = decls.iter().find(|d| {
            matches!(&d.dockerfile, Dockerfile::Path(p) if p.as_bytes() == img.dockerfile.path)
                && d.context.as_deref().map(str::as_bytes) == Some(&img.context[..])
        });
        match declaring {
            Some(d) => (shown, ContextFrom::Declared, Some(d.origin.to_string())),
            None => (
                shown,
                ContextFrom::Guessed,
                Some("the dockerfile's directory".into()),
            ),
        }
    }

    /// The first physical line of the dockerfile's line `line`, shortened.
    fn instruction(
        &self,
        repo: &Repository,
        img: &Image,
        texts: &mut Texts,
        line: usize,
    ) -> Option<String> {
        // A symlinked dockerfile is read through its chain: the first file on it.
        let file = if img.dockerfile.mode == 0o120000 {
            img.dockerfile_chain.iter().find(|e| e.mode != 0o120000)?
        } else {
            &img.dockerfile
        };
        let text = texts
            .entry(file.oid)
            .or_insert_with(|| self.blob_text(repo, file, "", MAX_DOCKERFILE_BYTES).ok());
        let l = text.as_deref()?.lines().nth(line.checked_sub(1)?)?.trim();
        Some(match l.char_indices().nth(MAX_INSTRUCTION) {
            Some((cut, _)) => format!("{}…", &l[..cut]),
            None => l.to_owned(),
        })
    }
}

/// Another context the image is judged against: (shown, where it comes from, origin).
fn alt_context(
    img: &Image,
    a: &AltContext,
    decls: &[Declaration],
) -> (String, ContextFrom, Option<String>) {
    let declaring = decls.iter().find(|d| {
        d.dockerfile.names(&img.dockerfile.path)
            && d.context.as_deref().map(str::as_bytes) == Some(&a.path[..])
    });
    match declaring {
        Some(d) => {
            let mut origin = d.origin.to_string();
            if let Dockerfile::Pattern(p) = &d.dockerfile {
                origin.push_str(&format!(
                    ", whose dockerfile `{}` is a pattern: it may build another one",
                    p.replace(super::dockerfile::ANY, "*")
                ));
            }
            (a.display(), ContextFrom::Declared, Some(origin))
        }
        None => (a.display(), ContextFrom::Widened, Some(a.why.clone())),
    }
}

/// Which source its builds read names the context-relative `rel`: its line, or a link
/// (a symlink or submodule where a source leads) when none names it itself.
fn source_line(img: &Image, rel: &[u8]) -> (Reads, Option<usize>) {
    for s in img.sources.iter() {
        let re = compiled(format!("^(?:{})$", source_regex(&s.pattern)));
        if re.is_some_and(|re| re.is_match(rel)) {
            return (Reads::Source, Some(s.line));
        }
    }
    (Reads::Link, None)
}
