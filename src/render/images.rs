//! How `dockguard images` looks: human, JSON, Graphviz dot, or bare names.

use std::fmt::Write as _;

use git2::Oid;
use serde::Serialize;

use crate::engine::upstream::Upstream;
use crate::engine::verdict::BaseUnknown;
use crate::git::short;
use crate::render::human::Styles;

use crate::images::dockerfile::Via;

/// Version of the `images` JSON output; bumped on any incompatible change.
pub const IMAGES_SCHEMA_VERSION: u32 = 1;

/// Everything `dockguard images` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ImagesReport {
    /// [`IMAGES_SCHEMA_VERSION`].
    pub version: u32,
    /// The revision as given.
    pub rev: String,
    /// The commit it names.
    #[serde(serialize_with = "crate::git::ser_oid")]
    pub commit: Oid,
    /// What "affected" is relative to (`null` when no upstream could be found).
    pub upstream: Option<Upstream>,
    /// The merge-base with upstream, when known.
    pub merge_base: Option<String>,
    /// Why the merge-base is unknown, when it is (then every image is affected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_unknown: Option<BaseUnknown>,
    /// The images, in build order (only affected ones with `--affected`).
    pub images: Vec<ImageView>,
    /// Their names, in build order.
    pub build_order: Vec<String>,
    /// Problems that concern the whole set.
    pub warnings: Vec<String>,
    /// Which dockerfiles the declarations make images.
    pub declarations: DeclarationsView,
}

/// Exact mode or not, and why.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DeclarationsView {
    /// Only what the declarations build (and its parents, and what a rule names) is an
    /// image.
    pub exact: bool,
    /// `images.undeclared` as configured.
    pub undeclared: &'static str,
    /// Builds that cannot be resolved (while there are any, every dockerfile counts).
    pub opaque: Vec<OpaqueView>,
    /// In exact mode, the dockerfiles no declaration builds (not images).
    pub not_built: Vec<String>,
}

/// A build that cannot be resolved.
#[derive(Debug, Clone, Serialize)]
pub struct OpaqueView {
    /// Where (repository-relative).
    pub file: String,
    /// The line (0: not known).
    pub line: usize,
    /// What it is.
    pub what: String,
    /// Why it cannot be resolved.
    pub why: String,
}

/// A declaration that builds an image.
#[derive(Debug, Clone, Serialize)]
pub struct BuildView {
    /// Where it is declared (for a CI job: the job).
    pub file: String,
    /// The line.
    pub line: usize,
    /// What it is (``job `x`: docker build (file:line)``).
    pub what: String,
    /// The context it declares (`.` for the root; `null`: not known).
    pub context: Option<String>,
    /// `--target` (`null`: the last stage; `"*"`: not known here).
    pub target: Option<String>,
    /// `buildkit`, `legacy`, `buildah`, or `either`.
    pub builder: &'static str,
    /// The build arguments it passes (`null`: the value is not known).
    pub args: std::collections::BTreeMap<String, Option<String>>,
}

impl BuildView {
    /// The view of a declaration.
    pub fn new(d: &crate::images::declared::Declaration) -> Self {
        use crate::images::declared::{Builder, Target};
        BuildView {
            file: d.origin.file.clone(),
            line: d.origin.line,
            what: d.origin.what.clone(),
            context: d
                .context
                .as_ref()
                .map(|c| if c.is_empty() { ".".into() } else { c.clone() }),
            target: match &d.target {
                Target::Last => None,
                Target::Named(n) => Some(n.clone()),
                Target::Unknown => Some("*".into()),
            },
            builder: match d.builder {
                Builder::BuildKit => "buildkit",
                Builder::Legacy => "legacy",
                Builder::Buildah => "buildah",
                Builder::Either => "either",
            },
            args: d.args.iter().cloned().collect(),
        }
    }
}

/// One image in the `images` output.
#[derive(Debug, Clone, Serialize)]
pub struct ImageView {
    /// Its name.
    pub name: String,
    /// Its dockerfile.
    pub dockerfile: String,
    /// Its build context (`.` for the root).
    pub context: String,
    /// The `.dockerignore` in force.
    pub dockerignore: Option<String>,
    /// COPY/ADD/RUN --mount sources, relative to the context (`.`: all of it).
    pub sources: Vec<String>,
    /// Extra input globs from `[[images.rule]]`.
    pub extra_inputs: Vec<String>,
    /// Other contexts it is judged against (the context is unknown, or declared more than
    /// once), and why.
    pub also_contexts: Vec<AlsoContext>,
    /// Symlinks on source paths that are followed (`link -> target`).
    pub follows: Vec<String>,
    /// A symlinked dockerfile: the links followed and the file read.
    pub dockerfile_links: Vec<String>,
    /// Where the build is declared (compose, bake, CI files); empty when assumed.
    pub declared_by: Vec<String>,
    /// Why it is an image: `declared` (a declaration builds it), `rule` (an
    /// `[[images.rule]]` matches it), `parent` (an image that counts is built on it),
    /// `undeclared` (no declaration builds it and not every build is resolved).
    pub counted: crate::images::Counted,
    /// The declarations that build it.
    pub built_by: Vec<BuildView>,
    /// Images of this repository it is built on.
    pub parents: Vec<ParentView>,
    /// Outside images it uses.
    pub external: Vec<String>,
    /// `ADD` URLs and git remotes (not covered by the content tag).
    pub remote: Vec<String>,
    /// Heredoc sources (inline content).
    pub inline: usize,
    /// Affected relative to upstream (`null` when there is no upstream to compare with).
    pub affected: Option<bool>,
    /// Why it is affected.
    pub reasons: Vec<String>,
    /// Its content tag (`null` when it cannot be computed; see `tag_error`).
    pub content_tag: Option<String>,
    /// Why there is no content tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_error: Option<String>,
    /// Problems with its dockerfile or `.dockerignore`.
    pub warnings: Vec<String>,
}

/// Another context an image is judged against.
#[derive(Debug, Clone, Serialize)]
pub struct AlsoContext {
    /// The context (`.` for the root).
    pub context: String,
    /// Why.
    pub why: String,
}

/// A parent in the `images` output.
#[derive(Debug, Clone, Serialize)]
pub struct ParentView {
    /// The parent image's name.
    pub name: String,
    /// The reference as written.
    pub reference: String,
    /// `from`, `copy-from` or `mount-from`.
    pub via: Via,
    /// The dockerfile line.
    pub line: usize,
}

/// JSON.
pub fn json(r: &ImagesReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| {
        format!(
            "{{\"version\":{},\"error\":{:?}}}",
            r.version,
            e.to_string()
        )
    });
    s.push('\n');
    s
}

/// One name per line, in build order.
pub fn names(r: &ImagesReport) -> String {
    r.build_order.iter().map(|n| format!("{n}\n")).collect()
}

/// Graphviz: an edge from each parent to the images built on it; affected images filled.
pub fn dot(r: &ImagesReport) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let q = |s: &str| format!("\"{}\"", esc(s));
    let mut out = String::from("digraph images {\n  rankdir=LR;\n  node [shape=box];\n");
    for img in &r.images {
        let style = if img.affected == Some(true) {
            ", style=filled, fillcolor=\"#ffd27f\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{}\"{style}];",
            q(&img.name),
            esc(&img.name),
            esc(&img.dockerfile)
        );
    }
    for img in &r.images {
        for p in &img.parents {
            let attr = match p.via {
                Via::From => String::new(),
                other => format!(" [style=dashed, label={}]", q(other.word())),
            };
            let _ = writeln!(out, "  {} -> {}{attr};", q(&p.name), q(&img.name));
        }
    }
    out.push_str("}\n");
    out
}

/// For people.
pub fn human(r: &ImagesReport, st: &Styles) -> String {
    let mut out = String::new();
    match (&r.upstream, &r.merge_base, &r.base_unknown) {
        (Some(up), Some(base), _) => {
            let _ = writeln!(
                out,
                "upstream: {} at {} ({})\n{} ({}): compared {}..{} (merge-base with upstream .. tip)",
                up.refname,
                short(&up.oid),
                up.chosen_by,
                r.rev,
                short(&r.commit),
                &base[..10.min(base.len())],
                short(&r.commit)
            );
        }
        (Some(up), None, Some(u)) => {
            let _ = writeln!(
                out,
                "upstream: {} at {}\n{} ({}): merge-base unknown ({}): every image counts as affected",
                up.refname,
                short(&up.oid),
                r.rev,
                short(&r.commit),
                u.detail
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "{} ({}): no upstream to compare with, so nothing is marked affected",
                r.rev,
                short(&r.commit)
            );
        }
    }
    let affected = r.images.iter().filter(|i| i.affected == Some(true)).count();
    let _ = writeln!(
        out,
        "{} image{} in build order (parents first){}",
        r.images.len(),
        if r.images.len() == 1 { "" } else { "s" },
        if r.upstream.is_some() {
            format!(", {affected} affected")
        } else {
            String::new()
        }
    );
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {}", crate::render::outputs::one_line(w));
    }
    declarations(&mut out, &r.declarations, r.images.len());
    for img in &r.images {
        out.push('\n');
        let state = match img.affected {
            Some(true) => format!("  {}", st_bad(st, "affected")),
            Some(false) => format!("  {}", st_good(st, "not affected")),
            None => String::new(),
        };
        let name = crate::render::outputs::one_line(&img.name);
        let _ = writeln!(out, "{}{state}", st_bold(st, &name));
        let row = |out: &mut String, k: &str, v: String| {
            if !v.is_empty() {
                let _ = writeln!(out, "  {k:<11} {}", crate::render::outputs::one_line(&v));
            }
        };
        row(&mut out, "dockerfile", img.dockerfile.clone());
        row(&mut out, "via links", img.dockerfile_links.join(" -> "));
        row(&mut out, "context", img.context.clone());
        for d in &img.declared_by {
            row(&mut out, "built by", d.clone());
        }
        match img.counted {
            crate::images::Counted::Rule => {
                row(&mut out, "counted", "an [[images.rule]] matches it".into())
            }
            crate::images::Counted::Parent => row(
                &mut out,
                "counted",
                "an image that counts is built on it".into(),
            ),
            _ => {}
        }
        for a in &img.also_contexts {
            row(
                &mut out,
                "also",
                format!("context {} ({})", a.context, a.why),
            );
        }
        row(
            &mut out,
            "ignore",
            img.dockerignore.clone().unwrap_or_default(),
        );
        let mut copies = img.sources.join(", ");
        if img.inline > 0 {
            copies.push_str(&format!(
                "{}{} heredoc{}",
                if copies.is_empty() { "" } else { ", " },
                img.inline,
                if img.inline == 1 { "" } else { "s" }
            ));
        }
        row(&mut out, "copies", copies);
        row(&mut out, "inputs", img.extra_inputs.join(", "));
        row(&mut out, "follows", img.follows.join(", "));
        let parents: Vec<String> = img
            .parents
            .iter()
            .map(|p| {
                format!(
                    "{} (line {}: {} {})",
                    p.name,
                    p.line,
                    p.via.word(),
                    p.reference
                )
            })
            .collect();
        row(&mut out, "built on", parents.join(", "));
        row(&mut out, "uses", img.external.join(", "));
        row(&mut out, "fetches", img.remote.join(", "));
        match (&img.content_tag, &img.tag_error) {
            (Some(t), _) => row(&mut out, "tag", t.clone()),
            (None, Some(e)) => row(&mut out, "tag", format!("none: {e}")),
            _ => {}
        }
        for reason in &img.reasons {
            row(&mut out, "why", reason.clone());
        }
        for w in &img.warnings {
            row(&mut out, "warning", w.clone());
        }
    }
    for p in &r.declarations.not_built {
        if p == &r.declarations.not_built[0] {
            out.push('\n');
        }
        let _ = writeln!(out, "not built   {}", crate::render::outputs::one_line(p));
    }
    out
}

/// What the declarations decide, before the images.
fn declarations(out: &mut String, d: &DeclarationsView, images: usize) {
    let one = crate::render::outputs::one_line;
    if d.exact {
        let _ = writeln!(
            out,
            "exact: the declared builds make {images} image{} ({} dockerfile{} nothing builds: not images)",
            if images == 1 { "" } else { "s" },
            d.not_built.len(),
            if d.not_built.len() == 1 { "" } else { "s" },
        );
    } else if !d.opaque.is_empty() {
        let _ = writeln!(
            out,
            "every dockerfile counts: {} build{} cannot be resolved{}",
            d.opaque.len(),
            if d.opaque.len() == 1 { "" } else { "s" },
            if d.undeclared == "count" {
                " (and images.undeclared = \"count\")"
            } else {
                ""
            }
        );
    } else if d.undeclared == "count" {
        let _ = writeln!(
            out,
            "every dockerfile counts: images.undeclared = \"count\""
        );
    }
    for o in &d.opaque {
        let _ = writeln!(
            out,
            "opaque      {}:{}: {}: {}",
            one(&o.file),
            o.line,
            one(&o.what),
            one(&o.why)
        );
    }
}

fn st_bad(st: &Styles, s: &str) -> String {
    st.paint_bad(s)
}

fn st_good(st: &Styles, s: &str) -> String {
    st.paint_good(s)
}

fn st_bold(st: &Styles, s: &str) -> String {
    st.paint_bold(s)
}
