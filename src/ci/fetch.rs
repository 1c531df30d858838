//! Fetching the upstream branch into a private ref, and deepening a shallow clone until
//! the merge-base exists.
//!
//! We drive the `git` CLI (arguments as a vector, never a shell) because it carries the
//! job's credentials, proxy and TLS settings, and because libgit2 is built here without
//! network support. libgit2 caches the shallow file and the object database, so after
//! every fetch the repository is opened afresh before looking for the merge-base.
//!
//! Safety for the clone and for concurrent jobs sharing it:
//! - the upstream lands in a ref unique to this run
//!   (`refs/dockguard/ci/<unix time>-<pid>[-<job id>]/upstream`), deleted when the run
//!   ends (also on errors); leftovers of killed runs are deleted after a day;
//! - `--no-write-fetch-head`, `--no-tags`, no submodules, no auto-gc: nothing else in the
//!   clone changes except new objects and a deeper shallow boundary;
//! - git serialises shallow updates with `shallow.lock` and refuses to write a shallow
//!   file another fetch changed meanwhile; in both cases we wait and retry (bounded)
//!   instead of failing;
//! - a complete clone is never given `--depth` (which could make it shallow).
//!
//! Argument injection: the place to fetch from and the branch come from settings a
//! pushed branch may try to set (`upstream_url = "--upload-pack=touch PWNED"` once ran a
//! command in the CI job). Every entry point checks them with [`validate_remote`] and
//! [`validate_src`] before any git runs, and every git command line puts them after
//! `--end-of-options`, so git can never read one as an option.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use git2::{Oid, Repository};

use crate::error::{Error, Result, Said};
use crate::git::repo::{merge_base, MergeBase, NoBase};

use super::remote::{redact_url, validate_remote};

/// Where private refs live.
pub const PRIVATE_PREFIX: &str = "refs/dockguard/ci/";
/// Leftover private refs older than this (seconds) belong to killed runs.
pub const STALE_AFTER: u64 = 24 * 60 * 60;
/// How often a fetch is retried while another git holds a lock.
const LOCK_RETRIES: u32 = 40;

/// A place to fetch from: a remote name or a URL, and how to show it (no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What `git fetch` is given.
    pub arg: String,
    /// What messages show.
    pub display: String,
}

impl Source {
    /// A configured remote.
    pub fn remote(name: &str) -> Self {
        Source {
            arg: name.to_owned(),
            display: format!("remote `{name}`"),
        }
    }

    /// A URL, shown without user name or password.
    pub fn url(url: &str) -> Self {
        Source {
            arg: url.to_owned(),
            display: redact_url(url),
        }
    }
}

/// Checks what is fetched (`refs/heads/<branch>`, or a commit id) before git sees it.
pub fn validate_src(src: &str) -> Result<()> {
    let is_oid = src.len() == 40 && src.bytes().all(|b| b.is_ascii_hexdigit());
    if is_oid || (src.starts_with("refs/") && git2::Reference::is_valid_name(src)) {
        return Ok(());
    }
    Err(Error::Ci {
        context: format!(
            "refusing to fetch `{}`: not a branch ref or a commit id",
            crate::render::escape::text(src)
        ),
        source: None,
        hint: "set ci.upstream_branch (or --upstream-branch) to a branch name, e.g. master".into(),
    })
}

/// `git ls-remote [--symref] SOURCE REF`'s output, if the remote answers (and the source
/// is one git may be given).
fn ls_remote(git_dir: &Path, source: &Source, symref: bool, refname: &str) -> Option<String> {
    if let Err(e) = validate_remote(&source.arg) {
        // Said here: the caller only learns that the remote did not answer.
        eprintln!(
            "dockguard: {}",
            e.render().trim_start_matches("dockguard: ")
        );
        return None;
    }
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir").arg(git_dir).arg("ls-remote");
    if symref {
        cmd.arg("--symref");
    }
    let out = cmd
        .args(["--end-of-options", &source.arg, refname])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The branch a remote's `HEAD` points at (`git ls-remote --symref SOURCE HEAD`), if the
/// remote answers.
pub fn remote_head(git_dir: &Path, source: &Source) -> Option<String> {
    ls_remote(git_dir, source, true, "HEAD")?
        .lines()
        .find_map(|l| {
            let (target, name) = l.strip_prefix("ref: ")?.split_once('\t')?;
            (name == "HEAD")
                .then(|| target.strip_prefix("refs/heads/").map(str::to_owned))
                .flatten()
        })
}

/// What a ref of a remote points at (`git ls-remote SOURCE REF`), if it answers.
pub fn remote_ref(git_dir: &Path, source: &Source, refname: &str) -> Option<Oid> {
    ls_remote(git_dir, source, false, refname)?
        .lines()
        .find_map(|l| {
            let (oid, name) = l.split_once('\t')?;
            (name == refname).then(|| Oid::from_str(oid).ok()).flatten()
        })
}

/// A private ref for this run's upstream, deleted when dropped.
#[derive(Debug)]
pub struct PrivateRef {
    git_dir: PathBuf,
    /// The full ref name.
    pub name: String,
}

impl PrivateRef {
    /// A name unique to this process and job (concurrent jobs in one clone never share it).
    pub fn new(git_dir: &Path, job_id: Option<&str>) -> Self {
        let now = unix_now();
        let mut id = format!("{now}-{}", std::process::id());
        if let Some(job) = job_id {
            let job: String = job
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(64)
                .collect();
            id.push('-');
            id.push_str(&job);
        }
        PrivateRef {
            git_dir: git_dir.to_path_buf(),
            name: format!("{PRIVATE_PREFIX}{id}/upstream"),
        }
    }
}

impl Drop for PrivateRef {
    fn drop(&mut self) {
        if let Ok(repo) = Repository::open(&self.git_dir) {
            if let Ok(mut r) = repo.find_reference(&self.name) {
                let _ = r.delete();
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Deletes private refs left by runs that were killed more than [`STALE_AFTER`] ago.
/// Younger ones may belong to a job running right now, so they stay. Returns how many
/// were deleted.
pub fn delete_stale(git_dir: &Path) -> usize {
    let Ok(repo) = Repository::open(git_dir) else {
        return 0;
    };
    let now = unix_now();
    let Ok(refs) = repo.references_glob(&format!("{PRIVATE_PREFIX}*")) else {
        return 0;
    };
    let names: Vec<String> = refs
        .flatten()
        .filter_map(|r| r.name().ok().map(str::to_owned))
        .collect();
    let mut deleted = 0;
    for name in names {
        let Some(rest) = name.strip_prefix(PRIVATE_PREFIX) else {
            continue;
        };
        let ts = rest
            .split(['-', '/'])
            .next()
            .and_then(|t| t.parse::<u64>().ok());
        if ts.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER) {
            if let Ok(mut r) = repo.find_reference(&name) {
                if r.delete().is_ok() {
                    deleted += 1;
                }
            }
        }
    }
    deleted
}

/// What to fetch and how far to deepen.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The repository's git dir.
    pub git_dir: PathBuf,
    /// The work tree, for messages.
    pub display_dir: PathBuf,
    /// Where the upstream branch is fetched from.
    pub upstream: Source,
    /// The upstream branch (short name), for messages.
    pub branch: String,
    /// What to fetch: `refs/heads/<branch>`, or a commit id (a branch's previous tip).
    pub src: String,
    /// The commit being judged.
    pub target: Oid,
    /// Where the target's history can be fetched from (the clone's origin), if anywhere.
    pub target_source: Option<Source>,
    /// The private ref the upstream lands in.
    pub private_ref: String,
    /// First depth in a shallow clone, and the first deepening step (then doubled).
    pub depth: u32,
    /// Stop doubling once this many commits were asked for.
    pub max_depth: u32,
    /// Then fetch the whole history (`--unshallow`).
    pub unshallow: bool,
}

/// What fetching did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The fetched upstream tip.
    pub upstream_oid: Oid,
    /// Whether the clone was shallow to begin with.
    pub was_shallow: bool,
    /// Deepening rounds after the first fetch.
    pub rounds: u32,
    /// Commits asked for in all (shallow clones only).
    pub depth: u32,
    /// Whether `--unshallow` was needed.
    pub unshallowed: bool,
    /// The merge-base, or why there is none.
    pub merge_base: MergeBase,
    /// The git commands run, for the log.
    pub commands: Vec<String>,
}

fn open(plan: &Plan) -> Result<Repository> {
    Repository::open(&plan.git_dir).map_err(|e| {
        Error::git(
            format!("cannot reopen {} after fetching", plan.git_dir.display()),
            e,
        )
    })
}

/// Fetches the upstream branch into the private ref and deepens until the merge-base of
/// the target and the upstream exists, the clone is complete, or the bounds are reached.
pub fn fetch_and_deepen(plan: &Plan, log: &mut dyn FnMut(&str)) -> Result<Outcome> {
    validate_remote(&plan.upstream.arg)?;
    if let Some(t) = &plan.target_source {
        validate_remote(&t.arg)?;
    }
    validate_src(&plan.src)?;
    let refspec = format!("+{}:{}", plan.src, plan.private_ref);
    let target_hex = plan.target.to_string();
    let same_source = plan.target_source.as_ref() == Some(&plan.upstream);
    let was_shallow = open(plan)?.is_shallow();
    let mut out = Outcome {
        upstream_oid: Oid::ZERO_SHA1,
        was_shallow,
        rounds: 0,
        depth: 0,
        unshallowed: false,
        merge_base: MergeBase::Unknown {
            reason: NoBase::Shallow,
            detail: String::new(),
        },
        commands: Vec::new(),
    };

    // First fetch: the upstream branch only. A complete clone gets no --depth.
    let mut first = Vec::new();
    if was_shallow {
        first.push(format!("--depth={}", plan.depth));
        out.depth = plan.depth;
    }
    let what = [plan.upstream.arg.clone(), refspec.clone()];
    fetch(plan, &first, &what, &plan.upstream, &mut out, log)?;
    let (mut shallow, mut base) = check(plan, &mut out)?;
    let mut step = plan.depth;
    while !found(&base) && shallow && out.depth < plan.max_depth {
        out.rounds += 1;
        out.depth = out.depth.saturating_add(step);
        let deepen = format!("--deepen={step}");
        deepen_both(
            plan,
            &deepen,
            &refspec,
            &target_hex,
            same_source,
            &mut out,
            log,
        )?;
        (shallow, base) = check(plan, &mut out)?;
        step = step.saturating_mul(2);
    }
    if !found(&base) && shallow && plan.unshallow {
        out.rounds += 1;
        out.unshallowed = true;
        deepen_both(
            plan,
            "--unshallow",
            &refspec,
            &target_hex,
            same_source,
            &mut out,
            log,
        )?;
        (_, base) = check(plan, &mut out)?;
    }
    out.merge_base = base;
    Ok(out)
}

fn found(b: &MergeBase) -> bool {
    matches!(b, MergeBase::Found(_))
}

/// One deepening step on the upstream side and on the target's side. The target is
/// asked for by oid (servers that refuse unadvertised oids get a retry without it; git's
/// relative deepening extends every shallow boundary anyway).
fn deepen_both(
    plan: &Plan,
    how: &str,
    refspec: &str,
    target_hex: &str,
    same_source: bool,
    out: &mut Outcome,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let opts = [how.to_owned()];
    let mut args = vec![plan.upstream.arg.clone(), refspec.to_owned()];
    if same_source {
        args.push(target_hex.to_owned());
    }
    if let Err(e) = fetch(plan, &opts, &args, &plan.upstream, out, log) {
        if !same_source {
            return Err(e);
        }
        log(&format!(
            "dockguard: the server refused commit {target_hex} by id; deepening without it"
        ));
        args.pop();
        fetch(plan, &opts, &args, &plan.upstream, out, log)?;
    }
    if let Some(src) = plan.target_source.as_ref().filter(|_| !same_source) {
        if how == "--unshallow" && !open(plan)?.is_shallow() {
            return Ok(());
        }
        let args = [src.arg.clone(), target_hex.to_owned()];
        if let Err(e) = fetch(plan, &opts, &args, src, out, log) {
            // Not fatal: the upstream side may already reach the merge-base.
            log(&format!(
                "dockguard: warning: could not deepen the target's history from {}: {}",
                src.display,
                e.render().lines().collect::<Vec<_>>().join(" ")
            ));
        }
    }
    Ok(())
}

fn check(plan: &Plan, out: &mut Outcome) -> Result<(bool, MergeBase)> {
    let repo = open(plan)?;
    let up = repo
        .find_reference(&plan.private_ref)
        .and_then(|r| r.peel_to_commit())
        .map_err(|e| {
            Error::git(
                format!(
                    "the fetched upstream {} is missing from {}",
                    plan.private_ref,
                    plan.git_dir.display()
                ),
                e,
            )
        })?
        .id();
    out.upstream_oid = up;
    let history = crate::git::history::History::new(&repo);
    let mut objects = crate::git::objects::Objects::new(&repo);
    let base = merge_base(&history, &mut objects, &repo, plan.target, up);
    Ok((repo.is_shallow(), base))
}

/// Runs `git fetch` with our fixed options and `opts`, then `--end-of-options` and the
/// source and refspecs (`what`), retrying while another git holds a lock.
fn fetch(
    plan: &Plan,
    opts: &[String],
    what: &[String],
    source: &Source,
    out: &mut Outcome,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let mut full: Vec<String> = [
        "-c",
        "gc.auto=0",
        "-c",
        "maintenance.auto=false",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    full.extend(opts.iter().cloned());
    full.push("--end-of-options".to_owned());
    full.extend(what.iter().cloned());
    // Show the command without credentials.
    let shown: Vec<String> = full[4..]
        .iter()
        .map(|a| {
            if *a == source.arg {
                redact_url(a)
            } else {
                a.clone()
            }
        })
        .collect();
    let shown = format!("git {}", shown.join(" "));
    log(&format!("dockguard: {shown}"));
    out.commands.push(shown.clone());
    let mut attempt = 0;
    loop {
        let result = Command::new("git")
            .arg("--git-dir")
            .arg(&plan.git_dir)
            .args(&full)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Ci {
                context: "cannot run git".into(),
                source: None,
                hint: format!("install git (2.29 or newer) in the job's image ({e})"),
            })?;
        if result.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
        // Another job's fetch holds a lock, or updated the shallow file under us (git
        // checks it did not change between reading and writing it): both are retried.
        let locked = stderr.contains(".lock': File exists")
            || stderr.contains("shallow.lock")
            || stderr.contains("shallow file has changed since we read it");
        if locked && attempt < LOCK_RETRIES {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(50 * u64::from(attempt.min(10))));
            continue;
        }
        return Err(fetch_error(plan, &shown, source, &stderr, locked));
    }
}

fn fetch_error(plan: &Plan, shown: &str, source: &Source, stderr: &str, locked: bool) -> Error {
    let text = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let said = || Said {
        program: "git",
        text: text.clone(),
    };
    if stderr.contains("dubious ownership") {
        return Error::Ownership {
            path: plan.display_dir.clone(),
            source: Box::new(said()),
        };
    }
    let cause = Some(said());
    let hint = if locked {
        format!(
            "another git process kept a lock in {} for too long; if none is running, remove the stale *.lock file it names",
            plan.git_dir.display()
        )
    } else if stderr.contains("couldn't find remote ref") {
        format!(
            "{} has no branch `{}`: set ci.upstream_branch (or --upstream-branch) to the upstream's main branch",
            source.display, plan.branch
        )
    } else {
        format!(
            "check that {} is reachable from the job (ci.upstream_url / --upstream-url, credentials, proxy) \
             and has the branch `{}`",
            source.display, plan.branch
        )
    };
    Error::Ci {
        context: format!("`{shown}` failed"),
        source: cause,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_refs_are_unique_per_job_and_valid() {
        let a = PrivateRef::new(Path::new("/nonexistent"), Some("12/../x y"));
        assert!(a.name.starts_with(PRIVATE_PREFIX), "{}", a.name);
        assert!(a.name.ends_with("-12____x_y/upstream"), "{}", a.name);
        assert!(git2::Reference::is_valid_name(&a.name), "{}", a.name);
        let b = PrivateRef::new(Path::new("/nonexistent"), Some("13"));
        assert_ne!(a.name, b.name);
    }
}
