//! The engine every front door shares: Targets -> Ranges -> Changes -> Verdict.
//!
//! It never prints, exits or runs `git push`; it returns data.
//!
//! # Fail-safe audit: every way to conclude "no rebuild"
//!
//! Engine (`judge`): a verdict has `rebuild: false` only through
//! [`TargetVerdict::from_diff`] with an empty change list and no image whose declared
//! builds changed ([`TargetVerdict::builds_changed`]), and `judge` calls it only after
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
//!   is checked against an independent oracle (props `glob_and_its_regex_form_agree`);
//!   `match.exclude` is the user's explicit choice, for images too (control
//!   `exclude_wins_over_every_image_that_copies_a_path`), and a branch's own exclude is
//!   judged by the merge-base's rules as well;
//! - a build declaration that changes (a `--build-arg`, a context) is a rebuild of what it
//!   builds (control `a_changed_build_declaration_is_a_rebuild`); a declaration file that
//!   cannot be read declares nothing, which differs from a base that declared a build.
//!
//! Widenings (issue 16): each makes more paths count, never fewer; the union of several
//! complete comparisons ([`union`]) can only add.
//! - every merge-base is compared, not git's pick (bases
//!   `criss_cross_history_is_judged_against_every_merge_base`);
//! - a branch that edits `.dockguard.toml` is judged by the base's rules too (bases
//!   `a_branch_cannot_exclude_its_own_dockerfile_change`); a base file that cannot be read
//!   leaves the tip's rules and says so;
//! - a source matching nothing in the context widens it to the root and every directory
//!   up to the dockerfile (contexts `a_source_missing_from_the_assumed_context_…`,
//!   `widening_changes_the_content_tag_with_the_file`);
//! - symlinked dockerfiles and sources count their targets, resolved as BuildKit does
//!   (contexts `a_symlinked_dockerfile_is_read_through_its_target`,
//!   `a_symlinked_source_counts_its_target`); gitlinks and links where a source's directory
//!   would be count (`a_submodule_under_a_source_counts_when_it_moves`);
//! - with both `.dockerignore`s present a path is left out only when both leave it out
//!   (`both_dockerignores_count_when_both_exist`);
//! - declared builds (compose, bake, CI) set the context; a pattern declaration only adds
//!   one, an unknown one keeps the guess, an unreadable file is a warning and the guess
//!   stays (declared `an_unreadable_declaration_warns_and_the_guess_stays`,
//!   `an_alias_bomb_is_a_warning_not_a_hang`); declared build args add sources
//!   (`a_declared_dockerfile_with_any_name_is_an_image_…`);
//! - `COPY --parents` `**` is any text, `--exclude` is not applied (syntax
//!   `copy_parents_double_star_spans_directories`, `exclude_link_and_heredocs_…`);
//!   remote ADD sources and build-arg-dependent sources are warnings in check and tag
//!   (`remote_sources_and_build_args_are_warned_about_in_check_and_tag`);
//! - the built-in dockerfile names include the tools' own fallbacks (names
//!   `the_tools_default_names_are_dockerfiles`);
//! - proof: a real `docker build` over generated repositories never produces a different
//!   image where dockguard says "not affected" (differential
//!   `a_real_builder_never_sees_a_change_dockguard_misses`).
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
mod explain;
pub mod matcher;
pub mod targets;
pub mod union;
pub mod upstream;
pub mod verdict;

use std::collections::HashMap;
use std::rc::Rc;

use git2::{Oid, Repository};

use crate::config::{ContentSettings, FileLayer};
use crate::context::Context;
use crate::engine::attribution::attribute;
use crate::engine::matcher::Matcher;
use crate::engine::targets::Target;
use crate::engine::upstream::Upstream;
use crate::engine::verdict::{ConfigChange, Report, TargetVerdict};
use crate::error::{Error, Result};
use crate::git::history::History;
use crate::git::objects::Objects;
use crate::git::repo::{merge_bases, MergeBase, NoBase};
use crate::git::short;

/// What a target is judged by: its tree's content rules and the compiled matcher.
#[derive(Debug)]
pub struct Rules {
    /// The typed content settings.
    pub content: ContentSettings,
    /// The compiled patterns.
    pub matcher: Matcher,
    /// The images of trees judged by these rules (with their caches).
    pub images: crate::images::Catalog,
}

impl Rules {
    /// Compiles content settings; a bad pattern is a config error naming its key.
    pub fn new(content: ContentSettings) -> Result<Self> {
        let matcher = Matcher::new(&content.match_spec, &content.match_origin)?;
        let images = crate::images::Catalog::new(&content, matcher.clone())?;
        Ok(Rules {
            content,
            matcher,
            images,
        })
    }
}

/// Options for judging.
#[derive(Debug, Clone, Copy, Default)]
pub struct JudgeOptions {
    /// Attribute changed paths to commits.
    pub commits: bool,
    /// Say, per changed path, which images read it and how, and what would silence it
    /// ([`Engine::explain`]).
    pub explain: bool,
}

/// A verdict's changes as the engine found them, kept so that [`Engine::attribute`] can
/// name the commits that made them, and [`Engine::explain`] why they count, later: only
/// if a message needs them.
#[derive(Debug, Clone)]
pub struct Unattributed {
    bases: Vec<Oid>,
    changes: Vec<crate::engine::changes::Change>,
    max: usize,
    /// Per change, the merge-bases whose comparison found it.
    found_by: Vec<Vec<Oid>>,
    /// The tip's tree and rules.
    tip_tree: Oid,
    rules: Rc<Rules>,
    /// Each comparison made: the merge-base, its tree, the rules.
    comparisons: Vec<(Oid, Oid, Rc<Rules>)>,
}

/// One run's state: the upstream, and rules cached per config blob.
pub struct Engine<'c> {
    repo: &'c Repository,
    ctx: &'c Context,
    cache: HashMap<Option<Oid>, Rc<Rules>>,
    /// Rules exactly as a tree says ([`Engine::rules_of_tree`]), per config blob.
    exact: HashMap<Option<Oid>, Rc<Rules>>,
    history: History<'c>,
    objects: Objects<'c>,
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

impl<'c> Engine<'c> {
    /// An engine over `repo` comparing with `upstream`; built by [`Context::engine`].
    pub(crate) fn new(repo: &'c Repository, ctx: &'c Context, upstream: Upstream) -> Self {
        Engine {
            repo,
            ctx,
            cache: HashMap::new(),
            exact: HashMap::new(),
            history: History::new(repo),
            objects: Objects::new(repo),
            upstream,
        }
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
            None => None,
        };
        let rules = Rc::new(Rules::new(self.ctx.content(file.as_ref()))?);
        self.cache.insert(blob, Rc::clone(&rules));
        Ok(rules)
    }

    /// The rules exactly as a commit's tree says (its `.dockguard.toml`, else the built-in
    /// defaults, never the work tree's file): how a merge-base judged its own content.
    fn rules_of_tree(&mut self, commit: &git2::Commit<'_>, label: &str) -> Result<Rc<Rules>> {
        let tree = commit
            .tree()
            .map_err(|e| Error::git(format!("cannot read the tree of {label}"), e))?;
        let blob = tree.get_name(crate::config::FILE_NAME).map(|e| e.id());
        if let Some(rules) = self.exact.get(&blob) {
            return Ok(Rc::clone(rules));
        }
        let file = match blob {
            Some(_) => FileLayer::from_tree(self.repo, &tree, label)?,
            None => None,
        };
        let rules = Rc::new(Rules::new(self.ctx.content_exact(file.as_ref()))?);
        self.exact.insert(blob, Rc::clone(&rules));
        Ok(rules)
    }

    /// Judges one target against its merge-base(s) with upstream.
    ///
    /// The tip is compared with every merge-base, under the tip's rules and, where a
    /// merge-base's `.dockguard.toml` differs, under that base's rules too; the verdict is
    /// the union of those comparisons ([`union`]).
    pub fn judge(&mut self, target: &Target, opts: JudgeOptions) -> Result<TargetVerdict> {
        let (mut v, pending) = self.judge_unattributed(target)?;
        if let Some(p) = pending {
            if opts.commits {
                self.attribute(&mut v, &p, usize::MAX)?;
            }
            if opts.explain {
                self.explain(&mut v, &p, usize::MAX)?;
            }
        }
        Ok(v)
    }

    /// Attributes the first `paths` changes of `v` (made by [`Engine::judge_unattributed`],
    /// with `pending`) to the commits that made them: what `--commits` adds.
    pub fn attribute(
        &mut self,
        v: &mut TargetVerdict,
        pending: &Unattributed,
        paths: usize,
    ) -> Result<()> {
        let n = pending.changes.len().min(paths);
        let a = attribute(
            self.repo,
            &mut self.objects,
            &self.history,
            &pending.bases,
            v.tip,
            &pending.changes[..n],
            pending.max,
        )?;
        v.attach(a);
        Ok(())
    }

    /// [`Engine::judge`] without attribution; the second value (when the verdict comes
    /// from a diff) lets [`Engine::attribute`] add it later, only where a message needs it.
    pub fn judge_unattributed(
        &mut self,
        target: &Target,
    ) -> Result<(TargetVerdict, Option<Unattributed>)> {
        let repo = self.repo;
        let label = target.label.clone();
        let commit = repo
            .find_commit(target.oid)
            .map_err(|e| Error::git(format!("cannot read commit {} ({label})", target.oid), e))?;
        let rules = self.rules_for(&commit, &label)?;
        let bases = match merge_bases(
            &self.history,
            &mut self.objects,
            repo,
            target.oid,
            self.upstream.oid,
        ) {
            Ok(all) => all,
            Err(MergeBase::Found(b)) => vec![b],
            Err(MergeBase::Unknown { reason, detail }) => {
                let mut v = TargetVerdict::base_unknown(label, target.oid, reason, detail);
                // Every image must be rebuilt; list them when the tree allows it.
                v.images = crate::images::all_images(repo, &rules.images, commit.tree_id());
                return Ok((v, None));
            }
        };
        let base = bases[0];
        let undecided = |e: Error, at: Oid| {
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
            v.merge_bases = bases.clone();
            v.reasons = vec![format!(
                "cannot compare with the merge-base {}: {detail}; rebuilding to be safe",
                crate::git::short(&at)
            )];
            v
        };
        let mut judged = Vec::new();
        let mut comparisons = Vec::new();
        let mut config_change = None;
        let mut notes = Vec::new();
        for &b in &bases {
            let base_commit = match repo.find_commit(b) {
                Ok(c) => c,
                Err(e) => {
                    return Ok((
                        undecided(Error::git("cannot read the merge-base", e), b),
                        None,
                    ))
                }
            };
            let base_tree = base_commit.tree_id();
            let mut sets = vec![Rc::clone(&rules)];
            if config_blob(&base_commit) != config_blob(&commit) {
                config_change.get_or_insert_with(|| config_change_of(&base_commit, &commit));
                match self.rules_of_tree(&base_commit, &format!("the merge-base {}", short(&b))) {
                    Ok(r) => sets.push(r),
                    // The base's own file may be what the branch fixes: judge by the tip's.
                    Err(e) => notes.push(format!(
                        "warning: the merge-base's rules could not be read ({e}); judged by the tip's only"
                    )),
                }
            }
            for set in sets {
                match crate::images::judge_trees(
                    repo,
                    &mut self.objects,
                    &set.images,
                    &set.matcher,
                    base_tree,
                    commit.tree_id(),
                ) {
                    Ok(j) => {
                        judged.push((b, j));
                        comparisons.push((b, base_tree, Rc::clone(&set)));
                    }
                    // Only an object that cannot be read leaves the answer open ("rebuild,
                    // base unknown"); a config mistake or a cycle of images is an error.
                    Err(e) if e.leaves_the_answer_open() => return Ok((undecided(e, b), None)),
                    Err(e) => return Err(e),
                }
            }
        }
        let union::Union { judged, found_by } = union::merge(judged);
        let diff = judged.changes;
        let mut v = TargetVerdict::from_diff(
            label,
            target.oid,
            &bases,
            &diff.matched,
            &found_by,
            diff.other,
        );
        v.images = judged.images;
        v.warnings = judged.warnings;
        v.builds_changed(judged.builds);
        if bases.len() > 1 {
            let list: Vec<String> = bases.iter().map(short).collect();
            v.reasons.push(format!(
                "compared with all {} merge-bases ({}); any difference counts",
                bases.len(),
                list.join(", ")
            ));
        }
        if let Some(c) = config_change {
            v.reasons.push(format!(
                "the branch changes {} ({}): judged by the merge-base's rules and the tip's, either counts",
                c.path,
                c.kind.word()
            ));
            v.config_change = Some(c);
        }
        v.reasons.extend(notes);
        if rules.matcher.is_empty() {
            v.reasons.push(format!(
                "warning: no patterns are configured ({}), so nothing can ever count",
                rules.content.match_origin
            ));
        }
        let pending = Unattributed {
            bases,
            max: rules.content.max_commits,
            changes: diff.matched,
            found_by,
            tip_tree: commit.tree_id(),
            rules: Rc::clone(&rules),
            comparisons,
        };
        Ok((v, Some(pending)))
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

/// The blob of a commit's `.dockguard.toml`, if it has one.
fn config_blob(c: &git2::Commit<'_>) -> Option<Oid> {
    c.tree()
        .ok()
        .and_then(|t| t.get_name(crate::config::FILE_NAME).map(|e| e.id()))
}

/// How `.dockguard.toml` differs between a merge-base and the tip.
fn config_change_of(base: &git2::Commit<'_>, tip: &git2::Commit<'_>) -> ConfigChange {
    let kind = match (config_blob(base), config_blob(tip)) {
        (None, Some(_)) => crate::engine::changes::ChangeKind::Added,
        (Some(_), None) => crate::engine::changes::ChangeKind::Deleted,
        _ => crate::engine::changes::ChangeKind::Modified,
    };
    ConfigChange {
        path: crate::config::FILE_NAME.to_owned(),
        kind,
    }
}
