//! The `dockguard images` and `dockguard tag` front doors.

use std::io::Write;

use git2::Repository;

use crate::cli::{ImagesArgs, ImagesFormat, TagArgs};
use crate::config::{FileLayer, Flag, Name};
use crate::context::{Context, Door};
use crate::engine::targets::Target;
use crate::engine::{JudgeOptions, Rules};
use crate::error::{Error, Result};
use crate::git::repo;
use crate::{write_out, Env};

use super::{graph, tag, Catalog};
use crate::render::images::{
    self as render, ImageView, ImagesReport, ParentView, IMAGES_SCHEMA_VERSION,
};

/// The images a commit's rules define (its `.dockguard.toml`, else the work tree's),
/// without needing an upstream.
pub fn catalog_at(
    repo: &Repository,
    ctx: &Context,
    commit: &git2::Commit<'_>,
    label: &str,
) -> Result<Catalog> {
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {label}"), e))?;
    let file = FileLayer::from_tree(repo, &tree, label)?;
    Ok(Rules::new(ctx.content(file.as_ref()))?.images)
}

fn commit_of<'r>(repo: &'r Repository, rev: &str) -> Result<git2::Commit<'r>> {
    let oid = repo::resolve_commit(repo, rev)?;
    repo.find_commit(oid)
        .map_err(|e| Error::git(format!("cannot read commit {oid} ({rev})"), e))
}

/// `dockguard tag --image NAME [REV]`.
pub fn tag(repo: &Repository, args: &TagArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let ctx = Context::load(repo, env, Door::Local, &[])?;
    let commit = commit_of(repo, rev)?;
    let catalog = catalog_at(repo, &ctx, &commit, rev)?;
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {rev}"), e))?;
    let set = catalog.image_set(repo, tree.id())?;
    let t = tag::content_tag(repo, &set, &tree, &args.image)?;
    // What the tag cannot cover, for the image and what it is built on.
    if let Some(img) = set.get(&args.image) {
        let mut todo = vec![img];
        let mut seen = std::collections::HashSet::new();
        while let Some(i) = todo.pop() {
            if !seen.insert(i.name.clone()) {
                continue;
            }
            for n in &i.notes {
                eprintln!(
                    "dockguard: warning: image `{}` ({}): {}",
                    crate::render::outputs::one_line(&i.name),
                    crate::render::outputs::one_line(&i.dockerfile_display()),
                    crate::render::outputs::one_line(n)
                );
            }
            todo.extend(i.parents.iter().filter_map(|p| set.get(&p.name)));
        }
    }
    write_out(out, format!("{t}\n").as_bytes())?;
    Ok(0)
}

/// `dockguard images [REV] [--affected] [--format …]`.
pub fn images(repo: &Repository, args: &ImagesArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let flags = Flag::given(&[(Name::Upstream, args.upstream.as_ref(), "--upstream")]);
    let ctx = Context::load(repo, env, Door::Local, &flags)?;
    let commit = commit_of(repo, rev)?;
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {rev}"), e))?;
    let engine = match ctx.engine(repo) {
        Ok(e) => Some(e),
        // Listing images needs no upstream; only "affected" does.
        Err(Error::NoUpstream { .. }) if !args.affected => None,
        Err(e) => return Err(e),
    };
    let mut report = ImagesReport {
        version: IMAGES_SCHEMA_VERSION,
        rev: rev.to_owned(),
        commit: commit.id(),
        upstream: None,
        merge_base: None,
        base_unknown: None,
        images: Vec::new(),
        build_order: Vec::new(),
        warnings: Vec::new(),
        declarations: render::DeclarationsView::default(),
    };
    let (set, verdict) = match engine {
        Some(mut engine) => {
            let rules = engine.rules_for(&commit, rev)?;
            let set = rules.images.image_set(repo, tree.id())?;
            let target = Target {
                label: rev.to_owned(),
                oid: commit.id(),
            };
            let v = engine.judge(&target, JudgeOptions::default())?;
            report.upstream = Some(engine.upstream.clone());
            (set, Some(v))
        }
        None => {
            let catalog = catalog_at(repo, &ctx, &commit, rev)?;
            (catalog.image_set(repo, tree.id())?, None)
        }
    };
    if let Some(v) = &verdict {
        report.merge_base = v.merge_base.map(|b| b.to_string());
        report.base_unknown = v.base_unknown.clone();
    }
    report.warnings = set.warnings.clone();
    report.declarations = render::DeclarationsView {
        exact: set.exact,
        undeclared: set.undeclared.word(),
        opaque: set
            .opaque
            .iter()
            .map(|o| render::OpaqueView {
                file: o.origin.file.clone(),
                line: o.origin.line,
                what: o.origin.what.clone(),
                why: o.why.clone(),
            })
            .collect(),
        not_built: set
            .not_built
            .iter()
            .map(|e| crate::git::display_path(&e.path))
            .collect(),
    };
    let order = graph::build_order(&set)?;
    let mut tags = tag::all_tags(repo, &set, &tree);
    for img in order {
        let affected = verdict
            .as_ref()
            .map(|v| v.images.iter().find(|a| a.name == img.name));
        if args.affected && !matches!(affected, Some(Some(_))) {
            continue;
        }
        let (content_tag, tag_error) = match tags.remove(&img.name) {
            Some(Ok(t)) => (Some(t), None),
            Some(Err(e)) => (None, Some(e.to_string())),
            None => (None, None),
        };
        let mut warnings = img.notes.clone();
        warnings.extend(img.warnings.iter().cloned());
        if let Some(why) = img.whole_context() {
            warnings.push(format!(
                "every file of the context counts: {why} (dockguard errs on the side of rebuilding)"
            ));
        }
        for m in &img.missing {
            warnings.push(format!(
                "line {}: {} {} names the image `{}` of this repository, which no dockerfile defines",
                m.line,
                m.via.word(),
                m.reference,
                m.name
            ));
        }
        report.build_order.push(img.name.clone());
        report.images.push(ImageView {
            name: img.name.clone(),
            dockerfile: img.dockerfile_display(),
            context: img.context_display(),
            dockerignore: img
                .dockerignore
                .as_ref()
                .map(|e| crate::git::display_path(&e.path)),
            sources: img.sources.iter().map(|s| s.display()).collect(),
            extra_inputs: img.extra_globs.clone(),
            also_contexts: img
                .alt
                .iter()
                .map(|a| render::AlsoContext {
                    context: a.display(),
                    why: a.why.clone(),
                })
                .collect(),
            follows: img.followed.clone(),
            dockerfile_links: img
                .dockerfile_chain
                .iter()
                .map(|e| crate::git::display_path(&e.path))
                .collect(),
            declared_by: img.declared.iter().map(|d| d.origin.to_string()).collect(),
            counted: img.counted,
            built_by: img.declared.iter().map(render::BuildView::new).collect(),
            parents: img
                .parents
                .iter()
                .map(|p| ParentView {
                    name: p.name.clone(),
                    reference: p.reference.clone(),
                    via: p.via,
                    line: p.line,
                })
                .collect(),
            external: img.external.clone(),
            remote: img.parsed.remote.clone(),
            inline: img.parsed.inline,
            affected: affected.map(|a| a.is_some()),
            reasons: affected
                .flatten()
                .map(|a| a.reasons.clone())
                .unwrap_or_default(),
            content_tag,
            tag_error,
            warnings,
        });
    }
    let text = match args.format {
        ImagesFormat::Human => {
            render::human(&report, &crate::render::human::Styles::new(env.color()))
        }
        ImagesFormat::Json => render::json(&report),
        ImagesFormat::Dot => render::dot(&report),
        ImagesFormat::Names => render::names(&report),
    };
    write_out(out, text.as_bytes())?;
    Ok(0)
}
