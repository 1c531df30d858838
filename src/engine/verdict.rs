//! The Verdict: pure data that every front door renders the same way.
//!
//! Besides the answer it carries why: the reasons, which merge-base found each change,
//! and, where a message shows them ([`crate::engine::Engine::explain`]), the images that
//! read each path and the line that would stop counting it.
//!
//! Fail-safe rule: `rebuild` is false only when the merge-base is known, the complete
//! tree diff from it found nothing the matcher counts, and no image's declared builds
//! changed. Every other outcome (no merge-base,
//! shallow history, missing objects) is `rebuild: true` with the reason.

use git2::Oid;
use serde::{Serialize, Serializer};

use crate::git::{display_path, ser_oid, short};

use crate::engine::attribution::{Attribution, Touch};
use crate::engine::changes::{Change, ChangeKind};
use crate::engine::matcher::PathRole;
use crate::engine::upstream::Upstream;
use crate::git::repo::NoBase;

/// Version of the JSON output; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

fn ser_opt_oid<S: Serializer>(oid: &Option<Oid>, s: S) -> Result<S::Ok, S::Error> {
    match oid {
        Some(o) => s.collect_str(o),
        None => s.serialize_none(),
    }
}

fn ser_oids<S: Serializer>(oids: &[Oid], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(oids.iter().map(|o| o.to_string()))
}

/// A branch that edits the rules (`.dockguard.toml`): both versions judged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// The file.
    pub path: String,
    /// added / deleted / modified (relative to the merge-base).
    pub kind: ChangeKind,
}

/// Why there is no merge-base, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseUnknown {
    /// The kind of failure.
    pub reason: NoBase,
    /// libgit2's words.
    pub detail: String,
}

/// A changed path in the JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedPath {
    /// The path (lossy UTF-8 when the real name is not UTF-8; see `path_bytes`).
    pub path: String,
    /// The raw bytes, only when the path is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    /// For renames, the old path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// added / deleted / modified / renamed.
    pub kind: ChangeKind,
    /// dockerfile / input.
    pub role: PathRole,
    /// With `--commits`: the commits in the range that touched it, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<Vec<String>>,
    /// With several merge-bases: those whose comparison found it (the others have it as
    /// the tip does).
    #[serde(serialize_with = "ser_oids", skip_serializing_if = "Vec::is_empty")]
    pub merge_bases: Vec<Oid>,
    /// Why it counts: each image that reads it, how, and from which context (only where
    /// a message shows it: `check`, the hook's block message).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_by: Vec<Reader>,
    /// How many more readers there are than `read_by` lists.
    #[serde(skip_serializing_if = "is_zero")]
    pub read_by_more: usize,
    /// The configuration that would stop counting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence: Option<Silence>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ChangedPath {
    fn new(c: &Change) -> Self {
        ChangedPath {
            path: display_path(&c.path),
            path_bytes: std::str::from_utf8(&c.path)
                .is_err()
                .then(|| c.path.clone()),
            old_path: c.old_path.as_deref().map(display_path),
            kind: c.kind,
            role: c.role,
            commits: None,
            merge_bases: Vec::new(),
            read_by: Vec::new(),
            read_by_more: 0,
            silence: None,
        }
    }
}

/// How an image reads a changed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    /// It is the image's dockerfile (or a link or file on the dockerfile's symlink chain).
    Dockerfile,
    /// It is an ignore file a build of the image reads.
    Dockerignore,
    /// A COPY/ADD/`RUN --mount` source names it (`line`).
    Source,
    /// The image's sources cannot be compiled, so its whole context counts.
    WholeContext,
    /// A symlink or submodule stands where a source's path leads (or a link's target
    /// is what a source reads).
    Link,
    /// An `[[images.rule]]` `inputs` glob, or a named build context, covers it.
    RuleInput,
    /// No image reads it: a `match.inputs` pattern counts it, for every image.
    MatchInput,
}

/// Where an image's build context comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextFrom {
    /// A compose, bake or CI declaration (`origin`: its `file:line: what`).
    Declared,
    /// An `[[images.rule]]` `context` (`origin`: the file).
    Rule,
    /// Nothing says: the dockerfile's directory is assumed.
    Guessed,
    /// A source matches nothing in the assumed context, so this one is judged too
    /// (`origin` says which source).
    Widened,
}

/// One image that reads a changed path, and why (see [`ChangedPath::read_by`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reader {
    /// The image; absent for [`Reads::MatchInput`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its dockerfile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// How it reads the path.
    pub reads: Reads,
    /// The dockerfile line that reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// That line's text (its first physical line, shortened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// The build context it is read from (`.` for the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where that context comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_from: Option<ContextFrom>,
    /// The declaration (`file:line: what`), rule file or widening behind the context, or
    /// the patterns' origin for [`Reads::MatchInput`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The `.dockerignore` in force that does not leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_by: Option<String>,
}

/// A configuration line that would stop counting a path: `line` goes into `file` (under
/// `[table]` when given), replacing the key if the file sets it already (the line holds
/// its values too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    /// The file (`.dockguard.toml`), on the upstream branch: a branch is judged by the
    /// merge-base's rules too, so its own edit cannot silence its own change. `git
    /// config` when git config sets `match.exclude` (it overrides the file).
    pub file: String,
    /// The table the line goes under, when the file has one for it (`match`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The TOML line (for `git config`: the command).
    pub line: String,
}

/// The judgement of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetVerdict {
    /// What the target is called in messages (`HEAD`, `refs/heads/feature`).
    pub label: String,
    /// The commit judged.
    #[serde(serialize_with = "ser_oid")]
    pub tip: Oid,
    /// The merge-base with upstream, when known (git's choice when there are several).
    #[serde(serialize_with = "ser_opt_oid")]
    pub merge_base: Option<Oid>,
    /// Every merge-base (`git merge-base --all`), `merge_base` first; the tip was compared
    /// with each of them. Empty when unknown.
    #[serde(serialize_with = "ser_oids", skip_serializing_if = "Vec::is_empty")]
    pub merge_bases: Vec<Oid>,
    /// When the branch edits `.dockguard.toml`: it was judged by both sides' rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_change: Option<ConfigChange>,
    /// What limits the judgement of this target's images (assumed contexts, sources
    /// fetched at build time, build-arg overrides), one sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the merge-base is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_unknown: Option<BaseUnknown>,
    /// Paths images are built from that differ between merge-base and tip.
    pub changes: Vec<ChangedPath>,
    /// How many other paths differ (ignored).
    pub other_changes: usize,
    /// With `--commits`: the commits that touched the changed paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<Vec<Touch>>,
    /// With `--commits`: true when attribution stopped at `max_commits`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub commits_truncated: bool,
    /// Must the CI rebuild images for this target?
    pub rebuild: bool,
    /// Why (one sentence each).
    pub reasons: Vec<String>,
    /// The images affected, in build order (parents first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<crate::images::AffectedImage>,
    /// Images whose declared builds (a CI job's `--build-arg`, `--target`, context, a
    /// compose service's `args`) differ from the merge-base's: what CI builds changed,
    /// whatever files did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_changes: Vec<crate::images::graph::BuildChange>,
}

impl TargetVerdict {
    /// A verdict for a target whose merge-base could not be found: rebuild.
    pub fn base_unknown(label: String, tip: Oid, reason: NoBase, detail: String) -> Self {
        TargetVerdict {
            label,
            tip,
            merge_base: None,
            merge_bases: Vec::new(),
            config_change: None,
            warnings: Vec::new(),
            reasons: vec![format!(
                "no merge-base with upstream: {}; rebuilding to be safe",
                reason.describe()
            )],
            base_unknown: Some(BaseUnknown { reason, detail }),
            changes: Vec::new(),
            other_changes: 0,
            commits: None,
            commits_truncated: false,
            rebuild: true,
            images: Vec::new(),
            build_changes: Vec::new(),
        }
    }

    /// A verdict from complete diffs against the known merge-base(s) `bases` (git's
    /// choice first); `found_by` says, per change, which of them found it (the others
    /// have it as the tip does): with several, the reasons and each change name them.
    pub fn from_diff(
        label: String,
        tip: Oid,
        bases: &[Oid],
        changes: &[Change],
        found_by: &[Vec<Oid>],
        other: usize,
    ) -> Self {
        let base = bases.first().copied().unwrap_or(Oid::ZERO_SHA1);
        let of = |i: usize| found_by.get(i).cloned().unwrap_or_else(|| bases.to_vec());
        let mut paths: Vec<ChangedPath> = changes.iter().map(ChangedPath::new).collect();
        if bases.len() > 1 {
            for (i, p) in paths.iter_mut().enumerate() {
                p.merge_bases = of(i);
            }
        }
        let reasons = if changes.is_empty() {
            vec![format!(
                "nothing images are built from differs from the merge-base {}",
                short(&base)
            )]
        } else {
            differ_reasons(changes, of, bases)
        };
        TargetVerdict {
            label,
            tip,
            merge_base: Some(base),
            merge_bases: bases.to_vec(),
            config_change: None,
            warnings: Vec::new(),
            base_unknown: None,
            rebuild: !changes.is_empty(),
            changes: paths,
            other_changes: other,
            commits: None,
            commits_truncated: false,
            reasons,
            images: Vec::new(),
            build_changes: Vec::new(),
        }
    }

    /// Makes the verdict say that images' declared builds differ from the merge-base's.
    pub fn builds_changed(&mut self, builds: Vec<crate::images::graph::BuildChange>) {
        if builds.is_empty() {
            return;
        }
        let first = &builds[0];
        let more = match builds.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        self.reasons
            .retain(|r| !r.starts_with("nothing images are built from"));
        self.reasons.push(format!(
            "the declared build of image `{}` differs from the merge-base{}: {}{more}",
            first.image,
            first
                .merge_base
                .map(|b| format!(" {}", short(&b)))
                .unwrap_or_default(),
            first.origin
        ));
        self.rebuild = true;
        self.build_changes = builds;
    }

    /// Adds which commits touched the changed paths (its `paths` index `changes`).
    pub fn attach(&mut self, a: Attribution) {
        for touch in &a.commits {
            for &i in &touch.paths {
                if let Some(p) = self.changes.get_mut(i) {
                    p.commits
                        .get_or_insert_with(Vec::new)
                        .push(touch.oid.to_string());
                }
            }
        }
        for p in &mut self.changes {
            p.commits.get_or_insert_with(Vec::new);
        }
        self.commits_truncated = a.truncated;
        self.commits = Some(a.commits);
    }
}

/// The answer for a whole run: the upstream and one verdict per target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// What the targets were compared with.
    pub upstream: Upstream,
    /// True when any target needs a rebuild.
    pub rebuild: bool,
    /// One verdict per target, in the order given.
    pub targets: Vec<TargetVerdict>,
}

impl Report {
    /// Combines verdicts: a rebuild is needed when any target needs one.
    pub fn new(upstream: Upstream, targets: Vec<TargetVerdict>) -> Self {
        Report {
            version: SCHEMA_VERSION,
            rebuild: targets.iter().any(|t| t.rebuild),
            upstream,
            targets,
        }
    }
}

/// "N dockerfiles differ from the merge-base X", per role and per set of merge-bases that
/// found the changes (`of(i)` for change `i`); `bases` are all of them.
fn differ_reasons(
    changes: &[Change],
    of: impl Fn(usize) -> Vec<Oid>,
    bases: &[Oid],
) -> Vec<String> {
    let mut out = Vec::new();
    for (role, word) in [
        (PathRole::Dockerfile, "dockerfile"),
        (PathRole::Input, "image input"),
    ] {
        // Groups in the order first seen: the base sets, each with its count.
        let mut groups: Vec<(Vec<Oid>, usize)> = Vec::new();
        for (i, _) in changes.iter().enumerate().filter(|(_, c)| c.role == role) {
            let found = of(i);
            match groups.iter_mut().find(|(b, _)| *b == found) {
                Some((_, n)) => *n += 1,
                None => groups.push((found, 1)),
            }
        }
        for (found, n) in groups {
            let names: Vec<String> = found.iter().map(short).collect();
            let others: Vec<String> = bases
                .iter()
                .filter(|b| !found.contains(b))
                .map(short)
                .collect();
            let not = if others.is_empty() {
                String::new()
            } else {
                format!(" (not from {})", others.join(", "))
            };
            out.push(format!(
                "{n} {word}{} differ{} from the merge-base{} {}{not}",
                plural(n),
                if n == 1 { "s" } else { "" },
                plural(names.len()),
                names.join(", ")
            ));
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
