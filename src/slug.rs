//! Docker-tag-safe names for refs (`dockguard slug`), and GitLab's `CI_COMMIT_REF_SLUG`.
//!
//! Git allows branch names docker refuses as tags (an emoji, `feature/x`, 200 characters),
//! and QEMU's CI learned that the hard way. [`docker_tag`] maps any name to a tag that
//! matches docker's grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`:
//! - characters of the grammar are kept as they are (case included);
//! - every run of other characters becomes one `-`; leading characters the grammar does
//!   not allow first (`.` and `-`) are dropped;
//! - when that lost information (anything was replaced or dropped, or the name was cut to
//!   fit 128 characters) a `-` and 8 hex digits of a hash of the whole name are appended,
//!   so two names that clean up the same (`feature/x`, `feature-x`) still get different
//!   tags; a name that is already a valid tag maps to itself;
//! - a name with nothing left falls back to the commit's short oid (when known), else
//!   `ref`, followed by the hash.
//!
//! The hash is git's blob hash of the name (`printf %s NAME | git hash-object --stdin`),
//! so it is stable across versions and machines and anyone can recompute it.
//!
//! Reserved tags: a branch's images must never overwrite a tag that means something else.
//! A slug is reserved when it is `latest` (the shared tag skipped jobs and build caches
//! use), starts with a content-tag prefix (`c` and digits, then `-`: `c1-<40 hex>` is an
//! immutable content tag, see [`crate::images::tag`]), starts with `_` (the escape
//! below), or is one of the names a caller adds (`--reserve`; in CI: the upstream tag, the
//! default branch unless this is the default branch's own pipeline, the MR target branch,
//! and `pr-<N>`/`mr-<N>` for anything but a pull request). A reserved slug gets a leading
//! `_` (cut to fit), deterministically: `latest` -> `_latest`, `_x` -> `__x`. Since every
//! escaped slug starts with `_` and no unescaped one does, no name can take another's.
//!
//! [`gitlab_ref_slug`] reproduces GitLab's `CI_COMMIT_REF_SLUG` exactly, including its
//! ability to be empty: a template may need to predict the name GitLab gives.

use git2::{ObjectType, Oid};

/// Longest docker tag.
pub const MAX_TAG: usize = 128;
/// Longest `CI_COMMIT_REF_SLUG`.
pub const GITLAB_MAX: usize = 63;
/// Hex digits of hash appended when information was lost.
const HASH_LEN: usize = 8;

fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn tag_first(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `git hash-object` of the name's bytes, first [`HASH_LEN`] hex digits.
pub fn name_hash(name: &str) -> String {
    let hex = Oid::hash_object(ObjectType::Blob, name.as_bytes())
        .map(|o| o.to_string())
        // Hashing bytes in memory cannot fail; keep a deterministic value if it ever does.
        .unwrap_or_else(|_| format!("{:040x}", fnv1a(name.as_bytes())));
    hex[..HASH_LEN].to_owned()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Tags a branch or tag slug never takes, whatever the context.
pub const RESERVED: &[&str] = &["latest"];

/// Whether `tag` is reserved: [`RESERVED`], a content-tag prefix (`c<digits>-`), a
/// leading `_`, or one of `extra` (see the module docs).
pub fn is_reserved(tag: &str, extra: &[&str]) -> bool {
    let content_like = tag
        .strip_prefix('c')
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(digits, _)| {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        });
    tag.starts_with('_') || content_like || RESERVED.contains(&tag) || extra.contains(&tag)
}

/// A pull or merge request tag dockguard gives (`pr-<N>`, `mr-<N>`): reserved for refs
/// that are not that request.
pub fn is_request_tag(tag: &str) -> bool {
    ["pr-", "mr-"].iter().any(|p| {
        tag.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// A docker tag for a ref name (see the module docs) that is never reserved
/// ([`is_reserved`] with `extra`). `oid` is the commit the name points at, used only when
/// nothing of the name survives.
pub fn ref_slug(name: &str, oid: Option<&Oid>, extra: &[&str]) -> String {
    let tag = unreserved_tag(name, oid, MAX_TAG);
    if !is_reserved(&tag, extra) {
        return tag;
    }
    // One character of room for the `_`: a tag already at the limit is made again from
    // the name, cut one shorter (and so hashed).
    let tag = if tag.len() < MAX_TAG {
        tag
    } else {
        unreserved_tag(name, oid, MAX_TAG - 1)
    };
    format!("_{tag}")
}

/// A docker tag for a ref name: [`ref_slug`] with no names reserved beyond the fixed ones.
pub fn docker_tag(name: &str, oid: Option<&Oid>) -> String {
    ref_slug(name, oid, &[])
}

/// The slug `dockguard ci` gives the pipeline's ref (`DOCKGUARD_REF_SLUG`, `ref-slug`):
/// [`ref_slug`] with the names this pipeline must not take reserved as well:
/// - the upstream tag (`DOCKGUARD_UPSTREAM_TAG`, the template's `--cache-from` tag);
/// - the default branch's name, unless this is the default branch's own pipeline, as
///   checked against the server (`on_upstream`; a tag named `master`, a merge request from
///   a fork's `master`, a pipeline variable claiming `CI_COMMIT_BRANCH=master` are not);
/// - a merge request's target branch;
/// - `pr-<N>` / `mr-<N>`, except for GitHub's pull request `N` itself, whose name the
///   provider took from the event's pull-request number (never from the head branch).
pub(crate) fn ci_slug(
    ctx: &crate::ci::provider::CiContext,
    ref_name: Option<&str>,
    oid: &Oid,
    env: &crate::Env,
    on_upstream: bool,
) -> String {
    use crate::ci::provider::{PipelineKind, Provider};
    let name = ref_name.unwrap_or("");
    if ctx.kind == PipelineKind::MergeRequest
        && ctx.provider == Provider::Github
        && is_request_tag(name)
    {
        return name.to_owned();
    }
    let mut extra: Vec<String> = Vec::new();
    if let Some(t) = env
        .get("DOCKGUARD_UPSTREAM_TAG")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        extra.push(t.to_owned());
    }
    let own_default_branch = on_upstream && ref_name.is_some();
    let mut branches: Vec<&str> = Vec::new();
    if !own_default_branch {
        branches.extend(ctx.default_branch.as_deref());
    }
    if ctx.kind == PipelineKind::MergeRequest {
        branches.extend(ctx.target_branch.as_deref());
    }
    for b in branches {
        extra.push(b.to_owned());
        extra.push(docker_tag(b, None));
    }
    let plain = unreserved_tag(name, Some(oid), MAX_TAG);
    if is_request_tag(&plain) {
        extra.push(plain);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    ref_slug(name, Some(oid), &extra)
}

/// The tag before reservations, at most `max` characters.
fn unreserved_tag(name: &str, oid: Option<&Oid>, max: usize) -> String {
    let clean = clean(name);
    let clean = clean.as_str();
    let lossless = clean == name && clean.len() <= max;
    if lossless && !clean.is_empty() {
        return clean.to_owned();
    }
    if name.is_empty() {
        // Nothing to lose: the short oid is the whole answer.
        return oid.map_or_else(|| "ref".to_owned(), |o| o.to_string()[..12].to_owned());
    }
    let hash = name_hash(name);
    let base = match (clean.is_empty(), oid) {
        (false, _) => clean.to_owned(),
        (true, Some(o)) => o.to_string()[..12].to_owned(),
        (true, None) => "ref".to_owned(),
    };
    // Room for "-" + hash; the base is ASCII, so cutting at a byte index is safe.
    let room = max - 1 - HASH_LEN;
    let mut base = base[..base.len().min(room)].to_owned();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        return hash;
    }
    format!("{base}-{hash}")
}

/// The name with every run of characters outside the tag grammar replaced by one `-` and
/// leading characters that may not start a tag dropped.
fn clean(name: &str) -> String {
    let mut clean = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if tag_char(c) {
            clean.push(c);
            in_run = false;
        } else if !in_run {
            clean.push('-');
            in_run = true;
        }
    }
    clean.trim_start_matches(|c: char| !tag_first(c)).to_owned()
}

/// True when nothing of the name survives, so the tag falls back to the commit's oid.
pub fn needs_oid(name: &str) -> bool {
    clean(name).is_empty()
}

/// GitLab's `CI_COMMIT_REF_SLUG` for a ref name: lowercase, every character outside
/// `[a-z0-9]` replaced by `-`, cut to 63 bytes, leading and trailing `-` removed. Runs of
/// `-` are kept, and the result can be empty (as in GitLab).
pub fn gitlab_ref_slug(name: &str) -> String {
    let mapped: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .take(GITLAB_MAX)
        .collect();
    mapped.trim_matches('-').to_owned()
}

/// Whether `s` is a valid docker tag.
pub fn is_docker_tag(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if tag_first(c)) && s.len() <= MAX_TAG && chars.all(tag_char)
}

/// `dockguard slug`: prints the slug of a ref name.
pub fn run(
    args: &crate::cli::SlugArgs,
    dir: Option<&std::path::Path>,
    out: &mut dyn std::io::Write,
) -> crate::Result<i32> {
    if args.gitlab {
        let slug = gitlab_ref_slug(&args.name);
        if slug.is_empty() {
            eprintln!(
                "dockguard: warning: GitLab's CI_COMMIT_REF_SLUG for this name is empty (as GitLab computes it)"
            );
        }
        crate::write_out(out, format!("{slug}\n").as_bytes())?;
        return Ok(0);
    }
    let oid = match &args.oid {
        Some(text) => Some(
            Oid::from_str(text).map_err(|e| crate::Error::UnknownRevision {
                spec: text.clone(),
                source: e,
            })?,
        ),
        // Only a name with nothing usable left needs the commit; look it up best effort.
        None if needs_oid(&args.name) => resolve(&args.name, dir),
        None => None,
    };
    let reserved: Vec<&str> = args.reserve.iter().map(String::as_str).collect();
    let tag = ref_slug(&args.name, oid.as_ref(), &reserved);
    crate::write_out(out, format!("{tag}\n").as_bytes())?;
    Ok(0)
}

fn resolve(name: &str, dir: Option<&std::path::Path>) -> Option<Oid> {
    let repo = match dir {
        Some(d) => git2::Repository::discover(d).ok()?,
        None => git2::Repository::open_from_env().ok()?,
    };
    crate::git::repo::resolve_commit(&repo, name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_tags_map_to_themselves() {
        for name in [
            "master",
            "v1.2.3",
            "Feature_X-2",
            "a..b",
            "Latest",
            "c-1",
            "cx-1",
        ] {
            assert_eq!(docker_tag(name, None), name);
        }
    }

    #[test]
    fn reserved_tags_are_escaped_and_stay_distinct() {
        assert_eq!(docker_tag("latest", None), "_latest");
        assert_eq!(docker_tag("_latest", None), "__latest");
        assert_eq!(docker_tag("_x", None), "__x");
        let content = format!("c1-{}", "a".repeat(40));
        assert_eq!(docker_tag(&content, None), format!("_{content}"));
        assert_eq!(docker_tag("c12-x", None), "_c12-x");
        assert_eq!(ref_slug("master", None, &["master"]), "_master");
        assert_eq!(ref_slug("main", None, &["master"]), "main");
        let long = format!("_{}", "a".repeat(127));
        let t = docker_tag(&long, None);
        assert!(is_docker_tag(&t) && t.starts_with("__"), "{t}");
        assert!(is_request_tag("pr-42") && is_request_tag("mr-7"));
        assert!(!is_request_tag("pr-") && !is_request_tag("pr-4x") && !is_request_tag("xpr-1"));
    }

    #[test]
    fn lossy_names_get_a_hash_of_the_whole_name() {
        let a = docker_tag("feature/x", None);
        let b = docker_tag("feature-x", None);
        assert_eq!(a, format!("feature-x-{}", name_hash("feature/x")));
        assert_eq!(b, "feature-x");
        assert_ne!(a, b);
        // git's blob hash of the name: printf %s feature/x | git hash-object --stdin
        assert_eq!(name_hash(""), "e69de29b");
        let emoji = docker_tag("🐳", None);
        assert_eq!(emoji, format!("ref-{}", name_hash("🐳")));
        let oid = Oid::from_str("0123456789abcdef0123456789abcdef01234567").expect("oid");
        assert_eq!(
            docker_tag("🐳", Some(&oid)),
            format!("0123456789ab-{}", name_hash("🐳"))
        );
        assert_eq!(docker_tag("", Some(&oid)), "0123456789ab");
        assert_eq!(docker_tag("", None), "ref");
        assert_eq!(
            docker_tag("-x", None),
            format!("x-{}", name_hash("-x")),
            "leading dash dropped"
        );
        let long = "a".repeat(200);
        let t = docker_tag(&long, None);
        assert_eq!(t.len(), MAX_TAG);
        assert!(t.ends_with(&name_hash(&long)));
        assert!(is_docker_tag(&t));
    }

    #[test]
    fn ci_slugs_reserve_what_the_pipeline_must_not_take() {
        use crate::ci::provider::{CiContext, PipelineKind, Provider};
        let oid = Oid::from_str("0123456789abcdef0123456789abcdef01234567").expect("oid");
        let ctx = |provider, kind, target: Option<&str>| CiContext {
            provider,
            kind,
            target: None,
            label: None,
            ref_name: None,
            target_branch: target.map(str::to_owned),
            default_branch: Some("master".to_owned()),
            target_project_url: None,
            diff_base_sha: None,
            before_sha: None,
            job_id: None,
            unattended: None,
        };
        let env = crate::Env::default();
        let slug = |c: &CiContext, name: &str| ci_slug(c, Some(name), &oid, &env, false);
        let branch = ctx(Provider::Gitlab, PipelineKind::Branch, None);
        assert_eq!(
            ci_slug(&branch, Some("master"), &oid, &env, true),
            "master",
            "the default branch's own pipeline (checked against the server)"
        );
        assert_eq!(
            slug(&branch, "master"),
            "_master",
            "a pipeline that only claims to be master's"
        );
        assert_eq!(slug(&branch, "feature"), "feature");
        assert_eq!(slug(&branch, "latest"), "_latest");
        assert_eq!(
            slug(&branch, "mr-3"),
            "_mr-3",
            "a branch is not merge request 3"
        );
        let tag = ctx(Provider::Gitlab, PipelineKind::Tag, None);
        assert_eq!(
            slug(&tag, "master"),
            "_master",
            "a tag named like the default branch"
        );
        let mr = ctx(Provider::Gitlab, PipelineKind::MergeRequest, Some("stable"));
        assert_eq!(slug(&mr, "master"), "_master", "a fork's master");
        assert_eq!(slug(&mr, "stable"), "_stable", "the target branch");
        let pr = ctx(Provider::Github, PipelineKind::MergeRequest, Some("master"));
        assert_eq!(slug(&pr, "pr-42"), "pr-42", "pull request 42 itself");
        let push = ctx(Provider::Github, PipelineKind::Branch, None);
        assert_eq!(
            slug(&push, "pr-42"),
            "_pr-42",
            "a branch is not pull request 42"
        );
        let mut env = crate::Env::default();
        env.vars
            .insert("DOCKGUARD_UPSTREAM_TAG".into(), "stable".into());
        assert_eq!(
            ci_slug(&branch, Some("stable"), &oid, &env, false),
            "_stable"
        );
        assert_eq!(ci_slug(&branch, None, &oid, &env, false), "0123456789ab");
    }

    #[test]
    fn gitlab_slug_matches_gitlab() {
        assert_eq!(gitlab_ref_slug("Feature/Foo_Bar"), "feature-foo-bar");
        assert_eq!(gitlab_ref_slug("--a//b--"), "a--b");
        assert_eq!(gitlab_ref_slug("🐳"), "");
        assert_eq!(gitlab_ref_slug("Ünïcode"), "n-code");
        let long = format!("{}-b", "a".repeat(62));
        assert_eq!(gitlab_ref_slug(&long), "a".repeat(62), "cut, then trimmed");
        // The Kelvin sign lowercases to an ASCII k, as in Ruby's String#downcase.
        assert_eq!(gitlab_ref_slug("\u{212A}"), "k");
    }
}
