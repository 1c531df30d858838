//! The engine every front door shares: Targets -> Ranges -> Changes -> Verdict.
//!
//! It never prints, exits or runs `git push`; it returns data.
//!
//! # Fail-safe audit: every way to conclude "no rebuild"
//!
//! Engine (`judge`): a verdict has `rebuild: false` only through
//! [`TargetVerdict::from_diff`] with an empty change list, and `judge` calls it only after
//! `merge_base` returned [`MergeBase::Found`] and `diff_trees` completed without error over
//! both whole trees (identical subtree ids are skipped: same id, same content). Everything
//! else is `rebuild: true` naming the reason, or an error (exit 2):
//! - no merge-base / shallow cut / object missing in the walk -> `base_unknown`, rebuild
//!   (tests: check `unrelated_history_…`, `shallow_clone_without_the_base_…`);
//! - merge-base commit or any tree unreadable (missing, corrupt, `--filter=tree:0`) ->
//!   `base_unknown: missing_object`, rebuild, or a clear error when the tip's own tree is
//!   unreadable (adversarial `a_missing_tree_object_…`, `a_corrupt_object_…`,
//!   `treeless_partial_clone_…`); the tree diff never reads blobs; the image graph reads
//!   dockerfile and `.dockerignore` blobs, which a `blob:none` clone fetches from its
//!   promisor through `git cat-file` (adversarial `blobless_partial_clone_with_its_server_…`)
//!   and, when it cannot, is a rebuild naming the file (`blobless_partial_clone_is_judged_…`);
//! - over a limit ([`crate::limits`]: a dockerfile or `.dockerignore` too large, too many
//!   `.dockerignore` patterns, a tree too deep) -> `base_unknown: limit`, rebuild (security
//!   `a_huge_dockerfile_…`, `a_huge_dockerignore_…`, `ten_thousand_nested_directories_…`);
//!   COPY sources that cannot be compiled -> the image counts its whole context (security
//!   `ten_thousand_copy_lines_…`); `${V:-…}` nested too deep -> any text (security
//!   `deeply_nested_variable_expansion_…`); a pack entry whose size claim does not hold ->
//!   read by libgit2 (security `a_pack_entry_claiming_2_pow_36_bytes_…`); the walk memo
//!   is never trusted, only verified or ignored (security `an_emptied_or_corrupted_memo_…`,
//!   `a_memo_that_is_a_link_to_dev_zero_…`);
//! - config or matcher errors, unreadable tip commit -> error, never a default verdict;
//! - paths the matcher does not classify are "other changes" by definition; the glob form
//!   is checked against an independent oracle (props `glob_and_its_regex_form_agree`).
//!
//! Hook (`hook::decide`), where a push goes through without a rebuild request:
//! - `DOCKGUARD_SKIP` truthy: explicit user choice, said on stderr (hook
//!   `dockguard_skip_lets_the_push_through`);
//! - the remote is not in `remotes`: explicit configuration, said (hook
//!   `push_to_a_url_and_the_remotes_setting`);
//! - only deletions: nothing becomes current (hook `deletions_are_not_judged`);
//! - a pushed object that is no commit (a tag of a tree or blob): nothing a pipeline
//!   builds, a note is printed (adversarial `a_pushed_tree_is_noted_…`);
//! - every judged verdict has `rebuild: false`: only via the engine path above;
//! - the push already asks for the rebuild: not a "no rebuild" (CI rebuilds);
//! - `policy = warn`: explicit choice, warns loudly (hook `multi_ref_push_…_warn_…`);
//! - any error with `on_error = allow`: explicit choice, warns "unchecked" (hook
//!   `on_error_blocks_with_the_escape_hatch_or_allows`); the default blocks (exit 2);
//! - `git push --no-verify` bypasses every hook: `dockguard ci` is the fallback.
//!
//! CI (`ci::run`, [`crate::ci::verify::decide`]): `skip` only for needed = false and
//! base_unknown = false, i.e. only via the engine path above, and no request (ci
//! `branch_without_dockerfile_changes_skips_…`, `unrelated_upstream_is_rebuild_…`). A fetch
//! failure is an error (exit 2, the templates fail the job), except that an unfetchable
//! previous tip on the upstream branch is a rebuild. One explicit exception: a pipeline on
//! the upstream branch itself without a previous tip (first, manual or scheduled run) is
//! compared with itself, prints a note and rebuilds only on request.

pub mod attribution;
pub mod changes;
pub mod matcher;
pub mod targets;
pub mod verdict;

use std::collections::HashMap;
use std::rc::Rc;

use git2::{Oid, Repository};

use crate::config::{FileLayer, Overrides, Settings};
use crate::engine::attribution::attribute;
use crate::engine::matcher::Matcher;
use crate::engine::targets::Target;
use crate::engine::verdict::{Report, TargetVerdict};
use crate::error::{Error, Result};
use crate::git::history::History;
use crate::git::objects::Objects;
use crate::git::repo::{merge_base, resolve_upstream, MergeBase, NoBase, Upstream};

/// What a target is judged by: its settings and the compiled matcher.
#[derive(Debug)]
pub struct Rules {
    /// The effective settings.
    pub settings: Settings,
    /// The compiled patterns.
    pub matcher: Matcher,
    /// The images of trees judged by these rules (with their caches).
    pub images: crate::images::Catalog,
}

/// Options for judging.
#[derive(Debug, Clone, Copy, Default)]
pub struct JudgeOptions {
    /// Attribute changed paths to commits.
    pub commits: bool,
}

/// One run's state: the upstream, the override layers, and rules cached per config blob.
pub struct Engine<'r> {
    repo: &'r Repository,
    overrides: Overrides,
    workdir_file: Option<FileLayer>,
    run_settings: Settings,
    cache: HashMap<Option<Oid>, Rc<Rules>>,
    history: History<'r>,
    objects: Objects<'r>,
    /// What targets are compared with.
    pub upstream: Upstream,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl<'r> Engine<'r> {
    /// Resolves the run-level settings and the upstream.
    ///
    /// Run-level settings (the upstream, the hook's policy) come from the work tree's
    /// `.dockguard.toml`, else HEAD's, under the overrides.
    pub fn new(repo: &'r Repository, overrides: Overrides) -> Result<Self> {
        let workdir_file = match repo.workdir() {
            Some(dir) => FileLayer::from_workdir(dir)?,
            None => None,
        };
        let head_file = match (
            &workdir_file,
            repo.head().ok().and_then(|h| h.peel_to_tree().ok()),
        ) {
            (None, Some(tree)) => FileLayer::from_tree(repo, &tree, "HEAD")?,
            _ => None,
        };
        let run_settings = overrides.resolve(workdir_file.as_ref().or(head_file.as_ref()));
        let configured = run_settings
            .string("upstream")
            .map(|s| (s, run_settings.origin("upstream")));
        let upstream = resolve_upstream(repo, configured)?;
        Ok(Engine {
            repo,
            overrides,
            workdir_file,
            run_settings,
            cache: HashMap::new(),
            history: History::new(repo),
            objects: Objects::new(repo),
            upstream,
        })
    }

    /// The settings that apply to the run as a whole.
    pub fn settings(&self) -> &Settings {
        &self.run_settings
    }

    /// The rules a commit carries: its tree's `.dockguard.toml`, else the work tree's.
    pub fn rules_for(&mut self, commit: &git2::Commit<'_>, label: &str) -> Result<Rc<Rules>> {
        let tree = commit
            .tree()
            .map_err(|e| Error::git(format!("cannot read the tree of {label}"), e))?;
        let blob = tree.get_name(crate::config::FILE_NAME).map(|e| e.id());
        if let Some(rules) = self.cache.get(&blob) {
            return Ok(Rc::clone(rules));
        }
        let file = match blob {
            Some(_) => FileLayer::from_tree(self.repo, &tree, label)?,
            None => self.workdir_file.clone(),
        };
        let settings = self.overrides.resolve(file.as_ref());
        let matcher = Matcher::new(&settings.match_spec(), &settings.match_origin())?;
        let images = crate::images::Catalog::new(&settings, matcher.clone())?;
        let rules = Rc::new(Rules {
            settings,
            matcher,
            images,
        });
        self.cache.insert(blob, Rc::clone(&rules));
        Ok(rules)
    }

    /// Judges one target against its merge-base with upstream.
    pub fn judge(&mut self, target: &Target, opts: JudgeOptions) -> Result<TargetVerdict> {
        let repo = self.repo;
        let label = target.label.clone();
        let commit = repo
            .find_commit(target.oid)
            .map_err(|e| Error::git(format!("cannot read commit {} ({label})", target.oid), e))?;
        let rules = self.rules_for(&commit, &label)?;
        let base = match merge_base(
            &self.history,
            &mut self.objects,
            repo,
            target.oid,
            self.upstream.oid,
        ) {
            MergeBase::Found(b) => b,
            MergeBase::Unknown { reason, detail } => {
                let mut v = TargetVerdict::base_unknown(label, target.oid, reason, detail);
                // Every image must be rebuilt; list them when the tree allows it.
                v.images = crate::images::all_images(repo, &rules.images, commit.tree_id());
                return Ok(v);
            }
        };
        let undecided = |e: Error| {
            let detail = match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            };
            let reason = match e {
                Error::Limit { .. } => NoBase::Limit,
                _ => NoBase::MissingObject,
            };
            let mut v =
                TargetVerdict::base_unknown(label.clone(), target.oid, reason, detail.clone());
            v.merge_base = Some(base);
            v.reasons = vec![format!(
                "cannot compare with the merge-base {}: {detail}; rebuilding to be safe",
                crate::engine::verdict::short(&base)
            )];
            v
        };
        let base_tree = match repo.find_commit(base).map(|c| c.tree_id()) {
            Ok(t) => t,
            Err(e) => return Ok(undecided(Error::git("cannot read the merge-base", e))),
        };
        let judged = match crate::images::judge_trees(
            repo,
            &mut self.objects,
            &rules.images,
            &rules.matcher,
            base_tree,
            commit.tree_id(),
        ) {
            Ok(j) => j,
            // A cycle of images is the content's fault, not an unreadable tree.
            Err(e @ Error::Image { .. }) => return Err(e),
            Err(e) => return Ok(undecided(e)),
        };
        let diff = judged.changes;
        let attribution = if opts.commits {
            let max = usize::try_from(rules.settings.int("max_commits")).unwrap_or(usize::MAX);
            Some(attribute(
                repo,
                &mut self.objects,
                base,
                target.oid,
                &diff.matched,
                max,
            )?)
        } else {
            None
        };
        let mut v = TargetVerdict::from_diff(
            label,
            target.oid,
            base,
            &diff.matched,
            diff.other,
            attribution,
        );
        v.images = judged.images;
        if rules.matcher.is_empty() {
            v.reasons.push(format!(
                "warning: no patterns are configured ({}), so nothing can ever count",
                rules.settings.match_origin()
            ));
        }
        Ok(v)
    }

    /// Judges every target and combines the verdicts.
    pub fn report(&mut self, targets: &[Target], opts: JudgeOptions) -> Result<Report> {
        let verdicts = targets
            .iter()
            .map(|t| self.judge(t, opts))
            .collect::<Result<Vec<_>>>()?;
        Ok(Report::new(self.upstream.clone(), verdicts))
    }
}
