//! `dockguard verify REF...`: a job proves what it runs. Each reference it is handed
//! (`$DOCKGUARD_IMAGE_<NAME>`, from the plan) must be, for the job's own checkout:
//! in this project's image repository, an image of the checkout (by repository name),
//! tagged with that image's content tag as the checkout computes it, and present in
//! the registry with that content tag in its `dockguard.content-tag` label (every image
//! a dockguard build job builds carries it; a copy carries the upstream build's). A
//! stale or redirected variable, a tag moved by hand, or an image built elsewhere fails
//! the job loudly instead of running it on the wrong image.
//!
//! Where it connects comes from the references and the flag, and credentials only go to
//! the host they are for ([`crate::registry::creds`]).

use std::io::Write;
use std::time::Duration;

use git2::Repository;

use crate::cli::VerifyArgs;
use crate::context::{Context, Door};
use crate::error::{Error, Result};
use crate::images::tag;
use crate::plan::{repository_name, CONTENT_TAG_LABEL};
use crate::registry::creds::Credentials;
use crate::registry::{Client, Options, Repository as ImageRepo};
use crate::render::outputs::one_line;
use crate::Env;

/// Runs `dockguard verify`. Exit code 0: every reference verified; 1: one did not.
pub fn run(repo: &Repository, args: &VerifyArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let ctx = Context::load(repo, env, Door::Local, &[])?;
    let oid = crate::git::repo::resolve_commit(repo, rev)?;
    let commit = repo
        .find_commit(oid)
        .map_err(|e| Error::git(format!("cannot read commit {oid} ({rev})"), e))?;
    let catalog = crate::images::cmd::catalog_at(repo, &ctx, &commit, rev)?;
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {rev}"), e))?;
    let set = catalog.image_set(repo, tree.id())?;
    let own = own_repository(args, env)?;
    let creds = Credentials::from_env(env);
    for w in &creds.warnings {
        eprintln!("dockguard: warning: {}", one_line(w));
    }
    let client = Client::new(
        Options {
            request_timeout: Duration::from_secs(args.registry_timeout.max(1)),
            ..Options::default()
        },
        creds,
    );
    let mut failed = 0;
    for text in &args.references {
        match verify_one(repo, &set, &tree, own.as_ref(), &client, text) {
            Ok(line) => crate::write_out(out, format!("dockguard: verified {line}\n").as_bytes())?,
            Err(why) => {
                failed += 1;
                eprintln!("dockguard: error: {}: {}", one_line(text), one_line(&why));
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "dockguard: {failed} of {} image reference(s) are not the images of this checkout ({}): not running on them",
            args.references.len(),
            crate::git::short(&oid)
        );
        return Ok(1);
    }
    Ok(0)
}

/// Checks one reference; the line to print, or why it fails.
fn verify_one(
    repo: &Repository,
    set: &crate::images::ImageSet,
    tree: &git2::Tree<'_>,
    own: Option<&ImageRepo>,
    client: &Client,
    text: &str,
) -> std::result::Result<String, String> {
    let (image_repo, ref_tag) = ImageRepo::parse_reference(text.trim())?;
    if let Some(own) = own {
        let inside = image_repo.registry == own.registry
            && image_repo
                .path
                .strip_prefix(&own.path)
                .is_some_and(|rest| rest.starts_with('/'));
        if !inside {
            return Err(format!(
                "not in this project's image repository {}",
                own.reference()
            ));
        }
    }
    // The image whose repository name ends the reference's path (the longest such).
    let image = set
        .images
        .iter()
        .filter(|i| {
            let r = repository_name(&i.name);
            image_repo.path == r || image_repo.path.ends_with(&format!("/{r}"))
        })
        .max_by_key(|i| repository_name(&i.name).len())
        .ok_or_else(|| "names no image of this checkout".to_owned())?;
    let expected = tag::content_tag(repo, set, tree, &image.name).map_err(|e| e.to_string())?;
    if ref_tag != expected {
        return Err(format!(
            "image `{}` of this checkout has content tag {expected}, the reference says {ref_tag}",
            image.name
        ));
    }
    let found = client
        .labels(&image_repo, &ref_tag)
        .map_err(|f| f.0)?
        .ok_or_else(|| "the registry has no such image".to_owned())?;
    for labels in &found.labels {
        match labels.get(CONTENT_TAG_LABEL) {
            Some(l) if *l == expected => {}
            Some(l) => {
                return Err(format!(
                    "the image's {CONTENT_TAG_LABEL} label is {}, not {expected}: it was built from other content",
                    one_line(l)
                ))
            }
            None => {
                return Err(format!(
                    "the image has no {CONTENT_TAG_LABEL} label: it was not built by dockguard's build job"
                ))
            }
        }
    }
    Ok(format!(
        "{}:{ref_tag} (image `{}`, {})",
        image_repo.reference(),
        image.name,
        found.digest
    ))
}

/// This project's image repository: the flag, else `CI_REGISTRY_IMAGE`, else
/// `ghcr.io/<owner>/<repo>` on GitHub; `None` when there is none to hold references to.
fn own_repository(args: &VerifyArgs, env: &Env) -> Result<Option<ImageRepo>> {
    let from_env = |name: &str| {
        env.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (text, origin) = if let Some(r) = args
        .registry_image
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        (r.to_owned(), "flag --registry-image")
    } else if let Some(r) = from_env("CI_REGISTRY_IMAGE") {
        (r, "environment variable CI_REGISTRY_IMAGE")
    } else if let Some(r) = from_env("GITHUB_REPOSITORY") {
        (
            format!("ghcr.io/{}", r.to_ascii_lowercase()),
            "environment variable GITHUB_REPOSITORY",
        )
    } else {
        return Ok(None);
    };
    ImageRepo::parse(&text)
        .map(Some)
        .map_err(|e| Error::Config {
            origin: origin.to_owned(),
            message: format!("{e}; give HOST[:PORT]/PATH"),
        })
}
