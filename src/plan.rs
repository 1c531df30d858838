//! The build plan's decision: per image, in build order, from what the registries said
//! about its content tag, `skip`, `copy` or `build`. Pure data in, data out: the front
//! door (`dockguard plan`, in [`crate::ci::plan`]) asks the registries, fills in a
//! [`PlanReport`], and [`crate::render::plan`] renders it.
//!
//! The rules, first match wins:
//! 1. a rebuild was requested (`DOCKGUARD_REBUILD=1`, `--rebuild`) and the image is
//!    affected relative to upstream: `build` (a fresh build of the same content, e.g. to
//!    pick up a new outside base image);
//! 2. a parent image is built: `build` (its children must be built on the new parent);
//! 3. present in this project's registry: `skip`;
//! 4. present only in the upstream project's registry: `copy`;
//! 5. missing, or unknown (the registry answered nonsense, or could not be asked and
//!    `--registry-unreachable build` said to build): `build`. Unknown is never `skip`.
//!
//! A parent that is not planned before its child (input not in build order) counts as
//! built: when unsure, build.

use std::collections::HashMap;

use serde::Serialize;

/// What the registries said about an image's content tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryState {
    /// This project's registry has it.
    Present,
    /// Only the upstream project's registry has it.
    UpstreamOnly,
    /// Neither has it (or there is no upstream registry to ask).
    Missing,
    /// This project's registry could not be asked.
    Unknown,
}

/// What to do with an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: the image with this content is there.
    Skip,
    /// Copy it from the upstream project's registry.
    Copy,
    /// Build (and push) it.
    Build,
}

impl Action {
    /// Its name.
    pub fn word(self) -> &'static str {
        match self {
            Action::Skip => "skip",
            Action::Copy => "copy",
            Action::Build => "build",
        }
    }
}

/// One image, as the decision needs it.
#[derive(Debug, Clone)]
pub struct Input {
    /// Its name.
    pub name: String,
    /// The images of this repository it is built on.
    pub parents: Vec<String>,
    /// Affected relative to upstream.
    pub affected: bool,
    /// What the registries said.
    pub state: RegistryState,
    /// The registry's words, for `Unknown` (and a note for `Missing`).
    pub detail: Option<String>,
}

/// The decision for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why, in a sentence.
    pub why: String,
}

/// Decides every image; `images` in build order (parents first).
pub fn decide(images: &[Input], rebuild_requested: bool) -> Vec<Decision> {
    let mut decided: HashMap<&str, Action> = HashMap::new();
    let mut out = Vec::with_capacity(images.len());
    for img in images {
        let d = decide_one(img, rebuild_requested, &decided);
        decided.insert(img.name.as_str(), d.action);
        out.push(d);
    }
    out
}

fn decide_one(img: &Input, rebuild: bool, decided: &HashMap<&str, Action>) -> Decision {
    let build = |why: String| Decision {
        action: Action::Build,
        why,
    };
    if rebuild && img.affected {
        return build("a rebuild was requested and the image is affected".into());
    }
    for p in &img.parents {
        match decided.get(p.as_str()) {
            Some(Action::Build) => return build(format!("its parent `{p}` is built")),
            None if *p != img.name => {
                return build(format!("its parent `{p}` is not planned before it"))
            }
            _ => {}
        }
    }
    let detail = img.detail.as_deref();
    match img.state {
        RegistryState::Present => Decision {
            action: Action::Skip,
            why: "this project's registry has it".into(),
        },
        RegistryState::UpstreamOnly => Decision {
            action: Action::Copy,
            why: "only the upstream project's registry has it".into(),
        },
        RegistryState::Missing => build(match detail {
            Some(d) => format!("not in this project's registry ({d})"),
            None => "not in the registry".into(),
        }),
        RegistryState::Unknown => build(format!(
            "the registry could not tell: {}",
            detail.unwrap_or("no answer")
        )),
    }
}

/// The label every image a dockguard build job builds carries: its content tag
/// (`dockguard verify` compares it with the checkout's).
pub const CONTENT_TAG_LABEL: &str = "dockguard.content-tag";

/// Version of the plan's JSON (schema/plan.schema.json); bumped on incompatible changes.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

/// Everything `dockguard plan` decided (its JSON output).
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// [`PLAN_SCHEMA_VERSION`].
    pub version: u32,
    /// `gitlab`, `github` or `generic`.
    pub provider: String,
    /// The commit planned, as a label (`refs/heads/feature`).
    pub target: String,
    /// Its id.
    pub commit: String,
    /// The upstream ref compared with, and its commit.
    pub upstream: PlanUpstream,
    /// The merge-base (`null`: unknown, every image counts as affected).
    pub merge_base: Option<String>,
    /// This project's image repository (`host/path`).
    pub registry: String,
    /// The upstream project's image repository, when there is one to copy from.
    pub upstream_registry: Option<String>,
    /// The rebuild request (request variable or `--rebuild`).
    pub rebuild_requested: bool,
    /// The request variable's name.
    pub request_variable: String,
    /// `ci`'s decision for the pipeline: `rebuild` or `skip`.
    pub decision: String,
    /// Its case (`needed`, `fallback`, `requested`, `not-needed`, `base-unknown`).
    pub reason: String,
    /// `--strict` failed the job.
    pub strict_failure: bool,
    /// Every image, in build order.
    pub images: Vec<PlannedImage>,
    /// Their names, in build order.
    pub build_order: Vec<String>,
    /// How many of each action.
    pub counts: Counts,
    /// HTTP requests sent to registries (token requests included).
    pub registry_requests: usize,
    /// Seconds spent asking registries.
    pub registry_seconds: f64,
    /// Problems that did not stop the plan.
    pub warnings: Vec<String>,
    /// The tags that follow upstream's tip and move with this plan (`--moving-tag`,
    /// when the planned commit is upstream's tip): the child pipeline's jobs move them.
    #[serde(skip)]
    pub moving_tags: Vec<String>,
}

/// The upstream ref and commit.
#[derive(Debug, Clone, Serialize)]
pub struct PlanUpstream {
    /// The ref (`refs/heads/master`).
    #[serde(rename = "ref")]
    pub refname: String,
    /// Its commit.
    pub commit: String,
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Images to build.
    pub build: usize,
    /// Images to copy.
    pub copy: usize,
    /// Images present.
    pub skip: usize,
}

/// One image of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedImage {
    /// Its name (as `dockguard images` shows it).
    pub name: String,
    /// Its dockerfile.
    pub dockerfile: String,
    /// Its build context (`.`: the root).
    pub context: String,
    /// Its content tag.
    pub content_tag: String,
    /// Its reference in this project's registry: what jobs must use.
    pub reference: String,
    /// The same content in the upstream project's registry, when one is configured.
    pub upstream_reference: Option<String>,
    /// The dotenv / output variable holding `reference`.
    pub variable: String,
    /// The images of this repository it is built on.
    pub parents: Vec<PlanParent>,
    /// Affected relative to upstream.
    pub affected: bool,
    /// Why it is affected.
    pub reasons: Vec<String>,
    /// What the registries said.
    pub registry: RegistryAnswer,
    /// What to do.
    pub action: Action,
    /// Why.
    pub why: String,
    /// The images to build or copy in this pipeline that must be done before this one.
    pub needs: Vec<String>,
    /// Its depth among the images to build or copy (0: needs none of them).
    pub level: usize,
}

/// A parent of a planned image.
#[derive(Debug, Clone, Serialize)]
pub struct PlanParent {
    /// The parent image's name.
    pub name: String,
    /// The reference as the dockerfile writes it.
    pub written: String,
    /// The parent's content-tagged reference (what to tag as `written` before building).
    pub reference: String,
}

/// What the registries said about an image.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryAnswer {
    /// The state.
    pub state: RegistryState,
    /// The manifest digest, when present and the registry said.
    pub digest: Option<String>,
    /// The registry's words (why unknown; what upstream's registry said).
    pub detail: Option<String>,
}

/// Decides every planned image (from its `registry` answer, parents and `affected`),
/// then schedules them ([`schedule`]); returns the counts.
pub fn apply(images: &mut [PlannedImage], rebuild_requested: bool) -> Counts {
    let inputs: Vec<Input> = images
        .iter()
        .map(|i| Input {
            name: i.name.clone(),
            parents: i.parents.iter().map(|p| p.name.clone()).collect(),
            affected: i.affected,
            state: i.registry.state,
            detail: i.registry.detail.clone(),
        })
        .collect();
    let mut counts = Counts::default();
    for (img, d) in images.iter_mut().zip(decide(&inputs, rebuild_requested)) {
        match d.action {
            Action::Build => counts.build += 1,
            Action::Copy => counts.copy += 1,
            Action::Skip => counts.skip += 1,
        }
        img.action = d.action;
        img.why = d.why;
    }
    schedule(images);
    counts
}

/// Fills in `needs` and `level`: the parents that are built or copied in the pipeline,
/// and each image's depth among them (`images` in build order).
pub fn schedule(images: &mut [PlannedImage]) {
    let mut level: HashMap<String, usize> = HashMap::new();
    for img in images.iter_mut() {
        if img.action == Action::Skip {
            img.needs.clear();
            img.level = 0;
            continue;
        }
        let mut needs: Vec<String> = img
            .parents
            .iter()
            .filter(|p| level.contains_key(&p.name))
            .map(|p| p.name.clone())
            .collect();
        needs.sort();
        needs.dedup();
        img.level = needs
            .iter()
            .filter_map(|n| level.get(n))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        img.needs = needs;
        level.insert(img.name.clone(), img.level);
    }
}

/// The repository name component for an image: its name when docker accepts it as a
/// repository path (lowercase `[a-z0-9]` runs joined by `.`, `_`, `__`, `-`, and `/`),
/// else a cleaned name plus 8 hex digits of `git hash-object` of the name (so two names
/// that clean to the same text never share a repository).
pub fn repository_name(name: &str) -> String {
    if name.len() <= 100 && crate::registry::valid_repository_path(name) {
        return name.to_owned();
    }
    let mut clean = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            clean.push(c);
        } else if !clean.is_empty() && !clean.ends_with('-') {
            clean.push('-');
        }
        if clean.len() >= 80 {
            break;
        }
    }
    let clean = clean.trim_end_matches('-');
    let hash = crate::slug::name_hash(name);
    if clean.is_empty() {
        format!("image-{hash}")
    } else {
        format!("{clean}-{hash}")
    }
}

/// The variable naming an image's reference: `DOCKGUARD_IMAGE_` + the name in upper
/// case with every run of other characters as one `_` (`debian-amd64-cross` →
/// `DOCKGUARD_IMAGE_DEBIAN_AMD64_CROSS`); a name that loses characters other than `-`,
/// `.`, `/`, `_` on the way, or that would collide, gets 8 hex digits of its hash.
pub fn variable_names(names: &[&str]) -> Vec<String> {
    let base: Vec<(String, bool)> = names
        .iter()
        .map(|n| {
            let mut v = String::from("DOCKGUARD_IMAGE_");
            let mut lossy = n.is_empty() || n.len() > 60;
            for c in n.chars() {
                if c.is_ascii_alphanumeric() {
                    v.push(c.to_ascii_uppercase());
                } else {
                    if !matches!(c, '-' | '.' | '/' | '_') {
                        lossy = true;
                    }
                    if !v.ends_with('_') {
                        v.push('_');
                    }
                }
                if v.len() >= 76 {
                    lossy = true;
                    break;
                }
            }
            (v.trim_end_matches('_').to_owned(), lossy)
        })
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (v, _) in &base {
        *count.entry(v.as_str()).or_default() += 1;
    }
    names
        .iter()
        .zip(&base)
        .map(|(n, (v, lossy))| {
            if *lossy || count[v.as_str()] > 1 {
                format!("{v}_{}", crate::slug::name_hash(n).to_ascii_uppercase())
            } else {
                v.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(name: &str, parents: &[&str], affected: bool, state: RegistryState) -> Input {
        Input {
            name: name.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            affected,
            state,
            detail: None,
        }
    }

    fn actions(d: &[Decision]) -> Vec<Action> {
        d.iter().map(|d| d.action).collect()
    }

    use Action::*;
    use RegistryState::*;

    #[test]
    fn state_decides_when_nothing_else_does() {
        let d = decide(
            &[
                img("a", &[], false, Present),
                img("b", &[], false, UpstreamOnly),
                img("c", &[], false, Missing),
                img("d", &[], true, Unknown),
            ],
            false,
        );
        assert_eq!(actions(&d), [Skip, Copy, Build, Build]);
        assert!(d[3].why.contains("could not tell"));
    }

    #[test]
    fn a_built_parent_builds_its_children_and_grandchildren() {
        let d = decide(
            &[
                img("base", &[], true, Missing),
                img("child", &["base"], false, Present),
                img("grandchild", &["child"], false, UpstreamOnly),
                img("other", &[], false, Present),
            ],
            false,
        );
        assert_eq!(actions(&d), [Build, Build, Build, Skip]);
        assert_eq!(d[1].why, "its parent `base` is built");
        assert_eq!(d[2].why, "its parent `child` is built");
    }

    #[test]
    fn a_copied_parent_does_not_force_its_children() {
        let d = decide(
            &[
                img("base", &[], false, UpstreamOnly),
                img("present", &["base"], false, Present),
                img("missing", &["base"], false, Missing),
                img("up", &["base"], false, UpstreamOnly),
            ],
            false,
        );
        assert_eq!(actions(&d), [Copy, Skip, Build, Copy]);
    }

    #[test]
    fn a_rebuild_request_builds_affected_images_only() {
        let d = decide(
            &[
                img("base", &[], false, Present),
                img("changed", &["base"], true, Present),
                img("kid", &["changed"], false, Present),
                img("same", &["base"], false, Present),
            ],
            true,
        );
        assert_eq!(actions(&d), [Skip, Build, Build, Skip]);
        assert!(d[1].why.contains("rebuild was requested"));
        // Without the request, all present: all skipped.
        let d = decide(
            &[
                img("base", &[], false, Present),
                img("changed", &["base"], true, Present),
            ],
            false,
        );
        assert_eq!(actions(&d), [Skip, Skip]);
    }

    #[test]
    fn unknown_is_never_skip_and_disorder_builds() {
        for affected in [false, true] {
            for rebuild in [false, true] {
                let d = decide(&[img("x", &[], affected, Unknown)], rebuild);
                assert_eq!(d[0].action, Build);
            }
        }
        // Child before parent: the parent is not known to be there yet.
        let d = decide(
            &[
                img("child", &["base"], false, Present),
                img("base", &[], false, Present),
            ],
            false,
        );
        assert_eq!(actions(&d), [Build, Skip]);
    }

    fn planned(name: &str, parents: &[&str], state: RegistryState) -> PlannedImage {
        PlannedImage {
            name: name.into(),
            dockerfile: format!("{name}/Dockerfile"),
            context: name.into(),
            content_tag: "c1-0".into(),
            reference: format!("r/{name}:c1-0"),
            upstream_reference: None,
            variable: String::new(),
            parents: parents
                .iter()
                .map(|p| PlanParent {
                    name: (*p).into(),
                    written: format!("q/{p}"),
                    reference: format!("r/{p}:c1-0"),
                })
                .collect(),
            affected: false,
            reasons: Vec::new(),
            registry: RegistryAnswer {
                state,
                digest: None,
                detail: None,
            },
            action: Build,
            why: String::new(),
            needs: Vec::new(),
            level: 0,
        }
    }

    #[test]
    fn needs_and_levels_follow_only_what_the_pipeline_does() {
        let mut images = vec![
            planned("base", &[], Missing),
            planned("mid", &["base"], Missing),
            planned("leaf", &["mid", "base"], Missing),
            planned("present", &[], Present),
            planned("on-present", &["present"], Missing),
            planned("copied", &[], UpstreamOnly),
            planned("on-copied", &["copied"], Missing),
        ];
        let counts = apply(&mut images, false);
        assert_eq!(
            counts,
            Counts {
                build: 5,
                copy: 1,
                skip: 1
            }
        );
        let got: Vec<(&str, Vec<&str>, usize)> = images
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.needs.iter().map(String::as_str).collect(),
                    i.level,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("base", vec![], 0),
                ("mid", vec!["base"], 1),
                ("leaf", vec!["base", "mid"], 2),
                ("present", vec![], 0),
                ("on-present", vec![], 0),
                ("copied", vec![], 0),
                ("on-copied", vec!["copied"], 1),
            ]
        );
    }

    #[test]
    fn repository_names_are_docker_safe_and_distinct() {
        assert_eq!(repository_name("debian-amd64-cross"), "debian-amd64-cross");
        assert_eq!(repository_name("qemu/debian11"), "qemu/debian11");
        for hostile in [
            "Debian",
            "a b",
            "a: {b}",
            "#x",
            "x\ny",
            "$HOME",
            "\"q\"",
            "é",
            "",
            "-",
            &"n".repeat(300),
        ] {
            let r = repository_name(hostile);
            assert!(
                crate::registry::valid_repository_path(&r),
                "{hostile:?} -> {r}"
            );
            assert!(r.len() <= 100, "{r}");
        }
        assert_ne!(repository_name("a b"), repository_name("a_b"));
        assert_ne!(repository_name("A"), repository_name("a"));
    }

    #[test]
    fn variable_names_are_shell_safe_and_distinct() {
        let names = [
            "debian-amd64-cross",
            "fedora",
            "a-b",
            "a.b",
            "x$y",
            "é",
            "",
            &"n".repeat(300),
        ];
        let vars = variable_names(&names);
        assert_eq!(vars[0], "DOCKGUARD_IMAGE_DEBIAN_AMD64_CROSS");
        assert_eq!(vars[1], "DOCKGUARD_IMAGE_FEDORA");
        assert!(
            vars[2].starts_with("DOCKGUARD_IMAGE_A_B_")
                && vars[3].starts_with("DOCKGUARD_IMAGE_A_B_")
        );
        assert_ne!(vars[2], vars[3]);
        for v in &vars {
            assert!(crate::render::outputs::is_var_name(v), "{v}");
            assert!(v.len() <= 100, "{v}");
        }
        let mut sorted = vars.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), vars.len());
    }
}
