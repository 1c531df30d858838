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

/// A docker tag for a ref name (see the module docs). `oid` is the commit the name points
/// at, used only when nothing of the name survives.
pub fn docker_tag(name: &str, oid: Option<&Oid>) -> String {
    let clean = clean(name);
    let clean = clean.as_str();
    let lossless = clean == name && clean.len() <= MAX_TAG;
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
    let room = MAX_TAG - 1 - HASH_LEN;
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
    let tag = docker_tag(&args.name, oid.as_ref());
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
        for name in ["master", "v1.2.3", "Feature_X-2", "_x", "a..b"] {
            assert_eq!(docker_tag(name, None), name);
        }
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
