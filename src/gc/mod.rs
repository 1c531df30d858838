//! `dockguard gc`: which content tags in the project's registry no live ref needs, and
//! (with `--delete`) deleting them.
//!
//! Content tags make every change its own tag, so they accumulate; a registry's own
//! cleanup rules (name regex, age, count) cannot know which of them a branch still pulls.
//! gc can: the live set ([`live`]) is every image's content tag at every commit that a
//! ref of the remote, the default branch's recent history or CI (`--keep`) names. A tag
//! is garbage only when it is a `c1-` content tag, not live, older than the grace period,
//! and its digest is not one a kept tag shares (a delete by digest removes every tag on
//! it). Everything else is kept, with the reason in the report.
//!
//! It fails closed: the live set and every listing and manifest are complete before the
//! first delete, and any error before that deletes nothing.

mod live;
mod oci;
mod render;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use git2::Repository;
use serde::Serialize;

use crate::cli::{GcArgs, GcFormat};
use crate::error::{Error, Result};
use crate::registry::creds::Credentials;
use crate::registry::{Client, Options, Repository as ImageRepo};
use crate::render::outputs::{self, one_line};
use crate::Env;

/// Version of gc's JSON (schema/gc.schema.json); bumped on incompatible changes.
pub(crate) const GC_SCHEMA_VERSION: u32 = 1;

/// Everything `dockguard gc` found (its JSON output).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GcReport {
    pub version: u32,
    pub registry: String,
    pub remote: String,
    pub default_branch: String,
    pub history: usize,
    pub grace_seconds: u64,
    /// No `--delete`: nothing was deleted.
    pub dry_run: bool,
    pub live_commits: usize,
    pub tags: Vec<TagEntry>,
    pub counts: Counts,
    /// Bytes of the blobs only garbage manifests hold (per repository), which the
    /// registry's own garbage collection frees once they are deleted.
    pub bytes_freed: u64,
    pub registry_requests: usize,
}

/// How many tags were kept, found to be garbage, and deleted.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Counts {
    pub kept: usize,
    pub garbage: usize,
    pub deleted: usize,
}

/// Keep or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Keep,
    Garbage,
}

/// One tag of one image repository.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagEntry {
    /// The image repository, `<registry image>/<image>`.
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// Bytes of its blobs.
    pub size: u64,
    /// Its image's `created` time (seconds since the epoch), when read and known.
    pub created: Option<i64>,
    pub age_seconds: Option<i64>,
    pub verdict: Verdict,
    pub why: String,
    pub deleted: bool,
}

/// A listed tag, as the decision needs it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub tag: String,
    pub manifest: oci::Manifest,
    pub created: Option<i64>,
}

/// Whether `tag` is one this dockguard computes (`c1-` and 40 lowercase hex digits).
/// Another algorithm's tags are never garbage: this version cannot tell if they are live.
pub(crate) fn is_content_tag(tag: &str) -> bool {
    tag.strip_prefix("c1-").is_some_and(|h| {
        h.len() == 40
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A tag that can only be decided by its age (the others are decided without it).
fn needs_age(tag: &str, live: &BTreeMap<String, Vec<String>>) -> bool {
    is_content_tag(tag) && !live.contains_key(tag)
}

/// Decides every tag of one repository: `(verdict, why)` in the order of `tags`.
pub(crate) fn decide(
    tags: &[Listed],
    live: &BTreeMap<String, Vec<String>>,
    now: i64,
    grace: u64,
) -> Vec<(Verdict, String)> {
    let mut out: Vec<(Verdict, String)> = tags
        .iter()
        .map(|t| {
            if !is_content_tag(&t.tag) {
                return (
                    Verdict::Keep,
                    "not a c1 content tag (moving, release or another algorithm's tag)".to_owned(),
                );
            }
            if let Some(why) = live.get(&t.tag) {
                return (Verdict::Keep, format!("live: {}", why.join(", ")));
            }
            match t.created {
                None => (
                    Verdict::Keep,
                    "its age is unknown (no `created` in its image config)".to_owned(),
                ),
                Some(c) if now.saturating_sub(c) < i64::try_from(grace).unwrap_or(i64::MAX) => {
                    (Verdict::Keep, "younger than the grace period".to_owned())
                }
                Some(_) => (
                    Verdict::Garbage,
                    "no live ref has this content tag".to_owned(),
                ),
            }
        })
        .collect();
    // A delete by digest takes every tag on that digest, and breaks an index listing it.
    let mut protected: BTreeMap<&str, &str> = BTreeMap::new();
    for (t, (v, _)) in tags.iter().zip(&out) {
        if *v == Verdict::Keep {
            protected
                .entry(t.manifest.digest.as_str())
                .or_insert(&t.tag);
            for c in &t.manifest.children {
                protected.entry(c.as_str()).or_insert(&t.tag);
            }
        }
    }
    for (t, d) in tags.iter().zip(out.iter_mut()) {
        if d.0 == Verdict::Garbage {
            if let Some(kept) = protected.get(t.manifest.digest.as_str()) {
                *d = (
                    Verdict::Keep,
                    format!("its digest is also kept tag `{kept}`'s"),
                );
            }
        }
    }
    out
}

/// Bytes that deleting the garbage frees in one repository: blobs garbage holds and
/// nothing kept does.
fn freed(tags: &[Listed], verdicts: &[(Verdict, String)]) -> u64 {
    let kept: HashSet<&str> = tags
        .iter()
        .zip(verdicts)
        .filter(|(_, (v, _))| *v == Verdict::Keep)
        .flat_map(|(t, _)| t.manifest.blobs.iter().map(|(d, _)| d.as_str()))
        .collect();
    let mut counted = HashSet::new();
    tags.iter()
        .zip(verdicts)
        .filter(|(_, (v, _))| *v == Verdict::Garbage)
        .flat_map(|(t, _)| t.manifest.blobs.iter())
        .filter(|(d, _)| !kept.contains(d.as_str()) && counted.insert(d.as_str()))
        .map(|(_, s)| s)
        .sum()
}

/// `90s`, `30m`, `24h`, `7d`, or plain seconds.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// This project's image repository: the flag, else CI_REGISTRY_IMAGE, else GitHub's
/// ghcr.io/OWNER/REPO (as `dockguard plan` chooses; never a DOCKGUARD_* variable).
fn registry_image(args: &GcArgs, env: &Env) -> Result<ImageRepo> {
    let parse = |text: &str, what: &str| {
        ImageRepo::parse(text).map_err(|e| Error::Config {
            origin: what.to_owned(),
            message: format!("{e}; give HOST[:PORT]/PATH, e.g. registry.gitlab.com/group/project"),
        })
    };
    let non_empty = |name: &str| env.get(name).map(str::trim).filter(|v| !v.is_empty());
    if let Some(r) = args
        .registry_image
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        return parse(r, "flag --registry-image");
    }
    if let Some(r) = non_empty("CI_REGISTRY_IMAGE") {
        return parse(r, "environment variable CI_REGISTRY_IMAGE");
    }
    if let Some(r) = non_empty("GITHUB_REPOSITORY") {
        return parse(
            &format!("ghcr.io/{}", r.to_ascii_lowercase()),
            "environment variable GITHUB_REPOSITORY (as ghcr.io/OWNER/REPO)",
        );
    }
    Err(Error::Usage(
        "no registry to collect: pass --registry-image HOST/PATH (GitLab's CI_REGISTRY_IMAGE and GitHub's ghcr.io/OWNER/REPO are the defaults)".into(),
    ))
}

fn registry_failure(f: crate::registry::Failure) -> Error {
    Error::Hinted {
        message: format!("{}; nothing was deleted", one_line(&f.0)),
        hint: "check the registry and the job's credentials (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, GITHUB_TOKEN, docker config.json), then run gc again".into(),
    }
}

/// The registry client, with the job's credentials (as `dockguard plan` has them).
fn client(env: &Env, timeout: u64) -> Client {
    let creds = Credentials::from_env(env);
    for w in &creds.warnings {
        eprintln!("dockguard: warning: {}", one_line(w));
    }
    let options = Options {
        request_timeout: Duration::from_secs(timeout.max(1)),
        ..Options::default()
    };
    Client::new(options, creds)
}

/// Runs `dockguard gc`. Returns the exit code.
pub fn run(repo: &Repository, args: &GcArgs, env: &Env, out: &mut dyn Write) -> Result<i32> {
    let registry = registry_image(args, env)?;
    let grace = parse_duration(&args.grace).ok_or_else(|| {
        Error::Usage(format!(
            "--grace `{}` is not a duration: give seconds, or 90s, 30m, 24h, 7d",
            one_line(&args.grace)
        ))
    })?;
    let remote = live::remote_refs(repo, env, &args.remote)?;
    let default_branch = match (&args.default_branch, &remote.head) {
        (Some(b), _) => b.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => {
            return Err(Error::Hinted {
                message: format!(
                    "remote `{}` does not say its default branch (no HEAD)",
                    one_line(&args.remote)
                ),
                hint: "name it: dockguard gc --default-branch master".into(),
            })
        }
    };
    let commits = live::live_commits(
        repo,
        &args.remote,
        &remote,
        &default_branch,
        args.history,
        &args.keep,
    )?;
    let live = live::live_tags(repo, env, &commits)?;

    let client = client(env, args.registry_timeout);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);

    // Everything is read and decided before the first delete.
    let mut plans = Vec::new();
    for (component, live_here) in &live {
        let image = registry.child(component);
        let listed = list(&client, &image, live_here).map_err(registry_failure)?;
        let verdicts = decide(&listed, live_here, now, grace);
        plans.push((image, listed, verdicts));
    }

    let mut report = GcReport {
        version: GC_SCHEMA_VERSION,
        registry: registry.reference(),
        remote: args.remote.clone(),
        default_branch,
        history: args.history,
        grace_seconds: grace,
        dry_run: !args.delete,
        live_commits: commits.len(),
        tags: Vec::new(),
        counts: Counts::default(),
        bytes_freed: 0,
        registry_requests: 0,
    };
    let failure = act(&client, &plans, args.delete, now, &mut report);
    report.registry_requests = client.requests();
    if let Some(path) = &args.json {
        outputs::write(path, &render::json(&report))?;
    }
    let text = match args.format {
        GcFormat::Table => render::table(&report),
        GcFormat::Json => render::json(&report),
    };
    crate::write_out(out, text.as_bytes())?;
    if let Some(f) = failure {
        return Err(Error::Hinted {
            message: format!(
                "a delete failed, so gc stopped: {}; {} of {} garbage tag(s) were deleted (the report lists which)",
                one_line(&f.0),
                report.counts.deleted,
                report.counts.garbage
            ),
            hint: "fix the registry's answer (deletes enabled, a token with the delete action), then run gc again: it recomputes everything".into(),
        });
    }
    Ok(0)
}

/// One repository's tags with their verdicts.
type Decided = (ImageRepo, Vec<Listed>, Vec<(Verdict, String)>);

/// Fills the report from the decisions and, with `delete`, deletes the garbage (each
/// digest once), stopping at the first failure, which it returns.
fn act(
    client: &Client,
    plans: &[Decided],
    delete: bool,
    now: i64,
    report: &mut GcReport,
) -> Option<crate::registry::Failure> {
    let mut failure = None;
    for (image, listed, verdicts) in plans {
        report.bytes_freed += freed(listed, verdicts);
        let mut deleted_digests: BTreeSet<String> = BTreeSet::new();
        for (t, (verdict, why)) in listed.iter().zip(verdicts) {
            let mut deleted = false;
            if *verdict == Verdict::Garbage {
                report.counts.garbage += 1;
                if delete && failure.is_none() {
                    if deleted_digests.contains(&t.manifest.digest) {
                        deleted = true;
                    } else {
                        match oci::delete(client, image, &t.manifest.digest) {
                            Ok(_) => {
                                deleted_digests.insert(t.manifest.digest.clone());
                                deleted = true;
                            }
                            Err(f) => failure = Some(f),
                        }
                    }
                }
            } else {
                report.counts.kept += 1;
            }
            report.counts.deleted += usize::from(deleted);
            report.tags.push(TagEntry {
                repository: image.reference(),
                tag: t.tag.clone(),
                digest: t.manifest.digest.clone(),
                size: t.manifest.size(),
                created: t.created,
                age_seconds: t.created.map(|c| now - c),
                verdict: *verdict,
                why: why.clone(),
                deleted,
            });
        }
    }
    failure
}

/// Every tag of `image` with its manifest, and `created` where the verdict depends on it.
fn list(
    client: &Client,
    image: &ImageRepo,
    live: &BTreeMap<String, Vec<String>>,
) -> std::result::Result<Vec<Listed>, crate::registry::Failure> {
    let tags = oci::list_tags(client, image)?;
    let read = client.parallel(
        &tags,
        |tag| -> std::result::Result<Listed, crate::registry::Failure> {
            let manifest = oci::manifest(client, image, tag)?;
            let created = match (&manifest.config, needs_age(tag, live)) {
                (Some(config), true) => oci::created(client, image, config)?,
                _ => None,
            };
            Ok(Listed {
                tag: tag.clone(),
                manifest,
                created,
            })
        },
    );
    read.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: i64 = 1_000;
    const NOW: i64 = 1_000_000;

    fn listed(tag: &str, digest: &str, created: Option<i64>) -> Listed {
        Listed {
            tag: tag.into(),
            manifest: oci::Manifest {
                digest: digest.into(),
                blobs: vec![(format!("{digest}-layer"), 10), ("shared".into(), 100)],
                children: Vec::new(),
                config: None,
            },
            created,
        }
    }

    fn c1(n: u8) -> String {
        format!(
            "c1-{}",
            format!("{n:x}").repeat(40).get(..40).expect("40 digits")
        )
    }

    #[test]
    fn only_old_dead_content_tags_on_unshared_digests_are_garbage() {
        let live: BTreeMap<String, Vec<String>> =
            [(c1(1), vec!["refs/heads/main".to_owned()])].into();
        let tags = vec![
            listed(&c1(1), "sha256:a", Some(OLD)),
            listed(&c1(2), "sha256:b", Some(OLD)),
            listed(&c1(3), "sha256:c", Some(NOW - 10)),
            listed(&c1(4), "sha256:d", None),
            listed("latest", "sha256:e", Some(OLD)),
            listed(&c1(5), "sha256:e", Some(OLD)),
            listed("c2-0123", "sha256:f", Some(OLD)),
        ];
        let v = decide(&tags, &live, NOW, 3600);
        let verdicts: Vec<Verdict> = v.iter().map(|(v, _)| *v).collect();
        use Verdict::{Garbage as G, Keep as K};
        assert_eq!(verdicts, vec![K, G, K, K, K, K, K]);
        assert!(v[5].1.contains("`latest`"), "{}", v[5].1);
        assert_eq!(freed(&tags, &v), 10, "the shared blob stays with kept tags");
        let forever = decide(&tags[1..2], &live, NOW, u64::MAX);
        assert_eq!(
            forever[0].0,
            Verdict::Keep,
            "a grace past i64 keeps everything"
        );
    }

    #[test]
    fn a_digest_listed_by_a_kept_index_is_kept() {
        let live: BTreeMap<String, Vec<String>> = [(c1(1), vec!["x".to_owned()])].into();
        let mut index = listed(&c1(1), "sha256:i", Some(OLD));
        index.manifest.children = vec!["sha256:child".into()];
        let tags = vec![index, listed(&c1(2), "sha256:child", Some(OLD))];
        let v = decide(&tags, &live, NOW, 0);
        assert_eq!(v[1].0, Verdict::Keep);
    }

    #[test]
    fn content_tags_and_durations() {
        assert!(is_content_tag(&c1(10)));
        assert!(!is_content_tag(
            "c1-ABCDEF0123456789ABCDEF0123456789ABCDEF01"
        ));
        assert!(!is_content_tag("c1-abc"));
        assert!(!is_content_tag("latest"));
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }
}
