//! Typed settings, parsed and validated once ([`RunSettings`] for the run,
//! [`ContentSettings`] per judged tree), so that code reads `settings.policy`, never a
//! key by name.
//!
//! The repository file may set [`super::Trust::Validated`] keys only in a checked shape:
//! `push_option` must be exactly a rebuild request naming the request this machine
//! recognises (`ci.variable=<ci.request_variable>=1` or `ci.input=<ci.request_input>=true`),
//! and `policy = "repush"` needs `allow_repush` from a trusted source.

use std::collections::BTreeMap;

use super::keys::{where_to_set, Name};
use super::layers::{Origin, Resolved, Value};
use crate::engine::matcher::MatchSpec;
use crate::error::{Error, Result};
use crate::render::outputs::is_var_name;

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub origin: Origin,
}

/// What the pre-push hook does when a push needs a rebuild and does not ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Stop the push and print the command to re-run.
    Block,
    /// Print and let it through.
    Warn,
    /// Push the same refs with the option, then stop the original push.
    Repush,
}

impl Policy {
    /// The word as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Block => "block",
            Policy::Warn => "warn",
            Policy::Repush => "repush",
        }
    }
}

/// What the hook does when it cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop the push (exit 2).
    Block,
    /// Let it through with a warning.
    Allow,
}

/// How much the hook says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// One line when nothing needs doing.
    Quiet,
    /// The default.
    Normal,
    /// Also why each ref was judged as it was.
    Verbose,
}

/// `dockguard ci`'s settings.
#[derive(Debug, Clone)]
pub struct CiSettings {
    /// Where to fetch upstream from (URL or remote name).
    pub upstream_url: Option<Sourced<String>>,
    /// The upstream branch.
    pub upstream_branch: Option<Sourced<String>>,
    /// The pipeline variable that requests a rebuild (validated).
    pub request_variable: String,
    /// The pipeline input that requests a rebuild (validated).
    pub request_input: String,
    /// First fetch depth and deepening step.
    pub depth: u32,
    /// Stop deepening after this many commits.
    pub max_depth: u32,
    /// Fetch everything when deepening did not find the merge-base.
    pub unshallow: bool,
}

/// The settings that apply to a run as a whole.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The configured upstream, if any.
    pub upstream: Option<Sourced<String>>,
    /// The push option that requests a rebuild (validated).
    pub push_option: String,
    /// The hook's policy.
    pub policy: Policy,
    /// Which remotes the hook judges (empty: all).
    pub remotes: Vec<RemotePattern>,
    /// How much the hook says.
    pub verbosity: Verbosity,
    /// GitLab's per-push pipeline limit the hook warns about (0: none).
    pub gitlab_pipeline_refs: usize,
    /// `dockguard ci`.
    pub ci: CiSettings,
}

/// One `remotes` entry.
#[derive(Debug, Clone)]
pub enum RemotePattern {
    /// A remote name or exact URL.
    Exact(String),
    /// `/REGEX/`, searched in the URL.
    Regex(regex::Regex),
}

impl RunSettings {
    /// Types and validates the run-level keys.
    pub fn new(r: &Resolved) -> Result<Self> {
        let ci = CiSettings {
            upstream_url: sourced_string(r, Name::CiUpstreamUrl),
            upstream_branch: sourced_string(r, Name::CiUpstreamBranch),
            request_variable: request_variable(r)?,
            request_input: request_input(r)?,
            depth: int_u32(r, Name::CiDepth),
            max_depth: int_u32(r, Name::CiMaxDepth),
            unshallow: r.bool(Name::CiUnshallow),
        };
        let push_option = push_option(r, &ci)?;
        let policy = match r.string_or_default(Name::Policy) {
            "warn" => Policy::Warn,
            "repush" => Policy::Repush,
            _ => Policy::Block,
        };
        let origin = r.origin(Name::Policy);
        if policy == Policy::Repush && origin.is_repository() && !r.bool(Name::AllowRepush) {
            return Err(Error::Config {
                origin: origin.to_string(),
                message: format!(
                    "`policy = \"repush\"` makes the hook run `git push` itself; a repository's \
                     file may choose it only where you allow it: {}",
                    where_to_set(Name::AllowRepush.key()).replace(" …", " true")
                ),
            });
        }
        Ok(RunSettings {
            upstream: sourced_string(r, Name::Upstream),
            push_option,
            policy,
            remotes: remotes(r)?,
            verbosity: match r.string_or_default(Name::Verbosity) {
                "quiet" => Verbosity::Quiet,
                "verbose" => Verbosity::Verbose,
                _ => Verbosity::Normal,
            },
            gitlab_pipeline_refs: usize::try_from(r.int(Name::GitlabPipelineRefs))
                .unwrap_or(usize::MAX),
            ci,
        })
    }

    /// Does the hook apply to this remote?
    pub fn remote_in_scope(&self, remote: &str, url: &str) -> bool {
        self.remotes.is_empty()
            || self.remotes.iter().any(|p| match p {
                RemotePattern::Exact(s) => s == remote || s == url,
                RemotePattern::Regex(re) => re.is_match(url),
            })
    }
}

/// One `[[images.rule]]` table, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRuleSpec {
    /// Regex matched against the whole dockerfile path.
    pub dockerfile: String,
    /// The image name instead of the `name` group.
    pub name: Option<String>,
    /// The build context.
    pub context: Option<String>,
    /// More input globs.
    pub inputs: Vec<String>,
}

/// What a judged tree's rules say about its content.
#[derive(Debug, Clone, Default)]
pub struct ContentSettings {
    /// The matcher's patterns.
    pub match_spec: MatchSpec,
    /// Where they came from, for messages.
    pub match_origin: String,
    /// `[[images.rule]]`.
    pub image_rules: Vec<ImageRuleSpec>,
    /// Where they came from.
    pub image_rules_origin: String,
    /// `images.parent` templates.
    pub image_parents: Vec<String>,
    /// Where they came from.
    pub image_parents_origin: String,
    /// `max_commits`.
    pub max_commits: usize,
    /// `images.gitlab_ci`: the GitLab pipeline's entry file (empty: none).
    pub gitlab_ci: String,
    /// `images.undeclared`.
    pub undeclared: Undeclared,
}

/// What counts of the dockerfiles no declaration builds (`images.undeclared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Undeclared {
    /// Not images when the declarations are complete, else counted.
    #[default]
    Auto,
    /// Always counted.
    Count,
    /// Never counted (when there are declarations at all).
    Ignore,
}

impl Undeclared {
    /// As written in the configuration.
    pub fn word(self) -> &'static str {
        match self {
            Undeclared::Auto => "auto",
            Undeclared::Count => "count",
            Undeclared::Ignore => "ignore",
        }
    }
}

impl ContentSettings {
    /// Types the content keys.
    pub fn new(r: &Resolved) -> Self {
        let match_names = [
            Name::MatchDefaults,
            Name::MatchDockerfiles,
            Name::MatchDockerfileRegex,
            Name::MatchInputs,
            Name::MatchInputRegex,
            Name::MatchExclude,
        ];
        let mut origins: Vec<String> = match_names
            .iter()
            .map(|n| r.origin(*n).to_string())
            .collect();
        origins.sort();
        origins.dedup();
        let text = |t: &BTreeMap<String, Value>, k: &str| match t.get(k) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        ContentSettings {
            match_spec: MatchSpec {
                defaults: r.bool(Name::MatchDefaults),
                dockerfiles: r.list(Name::MatchDockerfiles),
                dockerfile_regex: r.list(Name::MatchDockerfileRegex),
                inputs: r.list(Name::MatchInputs),
                input_regex: r.list(Name::MatchInputRegex),
                exclude: r.list(Name::MatchExclude),
            },
            match_origin: origins.join(" + "),
            image_rules: r
                .tables(Name::ImagesRule)
                .iter()
                .map(|t| ImageRuleSpec {
                    dockerfile: text(t, "dockerfile").unwrap_or_default(),
                    name: text(t, "name"),
                    context: text(t, "context"),
                    inputs: match t.get("inputs") {
                        Some(Value::List(l)) => l.clone(),
                        _ => Vec::new(),
                    },
                })
                .collect(),
            image_rules_origin: r.origin(Name::ImagesRule).to_string(),
            image_parents: r.list(Name::ImagesParent),
            image_parents_origin: r.origin(Name::ImagesParent).to_string(),
            max_commits: usize::try_from(r.int(Name::MaxCommits)).unwrap_or(usize::MAX),
            gitlab_ci: r
                .string_or_default(Name::ImagesGitlabCi)
                .trim()
                .trim_start_matches("./")
                .trim_start_matches('/')
                .to_owned(),
            undeclared: match r.string_or_default(Name::ImagesUndeclared) {
                "count" => Undeclared::Count,
                "ignore" => Undeclared::Ignore,
                _ => Undeclared::Auto,
            },
        }
    }
}

fn sourced_string(r: &Resolved, name: Name) -> Option<Sourced<String>> {
    let value = r.string(name)?.trim();
    (!value.is_empty()).then(|| Sourced {
        value: value.to_owned(),
        origin: r.origin(name),
    })
}

fn int_u32(r: &Resolved, name: Name) -> u32 {
    u32::try_from(r.int(name)).unwrap_or(u32::MAX)
}

fn config_error(r: &Resolved, name: Name, message: String) -> Error {
    Error::Config {
        origin: r.origin(name).to_string(),
        message,
    }
}

/// Names the CI systems set in every job: a request named so would always be "made".
fn set_by_every_ci(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "CI"
        || ["CI_", "GITLAB_", "GITHUB_", "RUNNER_", "FF_"]
            .iter()
            .any(|p| upper.starts_with(p))
}

fn request_variable(r: &Resolved) -> Result<String> {
    let name = r
        .string_or_default(Name::CiRequestVariable)
        .trim()
        .to_owned();
    if !is_var_name(&name) {
        return Err(config_error(
            r,
            Name::CiRequestVariable,
            format!(
                "`ci.request_variable` = {name:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
            ),
        ));
    }
    if name.starts_with("DOCKGUARD_") && name != "DOCKGUARD_REBUILD" {
        return Err(config_error(
            r,
            Name::CiRequestVariable,
            format!(
                "`ci.request_variable` = {name:?} is one of dockguard's own variables; \
                 the request must have a name of its own (default DOCKGUARD_REBUILD)"
            ),
        ));
    }
    if set_by_every_ci(&name) {
        return Err(config_error(
            r,
            Name::CiRequestVariable,
            format!(
                "`ci.request_variable` = {name:?} is set by the CI system itself, so every \
                 pipeline would count as a request; use a name of its own (default DOCKGUARD_REBUILD)"
            ),
        ));
    }
    Ok(name)
}

fn request_input(r: &Resolved) -> Result<String> {
    let name = r.string_or_default(Name::CiRequestInput).trim().to_owned();
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(config_error(
            r,
            Name::CiRequestInput,
            format!(
                "`ci.request_input` = {name:?} is not an input name (letters, digits, `_`, `-`)"
            ),
        ));
    }
    Ok(name)
}

/// The push option, checked: one line always (git refuses a push option with a newline),
/// and from a repository file exactly a rebuild request this machine recognises.
fn push_option(r: &Resolved, ci: &CiSettings) -> Result<String> {
    let value = r.string_or_default(Name::PushOption).to_owned();
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(config_error(
            r,
            Name::PushOption,
            "`push_option` must be one non-empty line (git refuses push options with a newline)"
                .into(),
        ));
    }
    if !r.origin(Name::PushOption).is_repository() {
        return Ok(value);
    }
    let variable = format!("ci.variable={}=1", ci.request_variable);
    let input = format!("ci.input={}=true", ci.request_input);
    if value == variable || value == input {
        return Ok(value);
    }
    Err(config_error(
        r,
        Name::PushOption,
        format!(
            "`push_option` = {:?} is not a rebuild request this machine recognises: a repository's \
             file may only ask for `{variable}` or `{input}` (the names come from \
             `ci.request_variable` / `ci.request_input`, which only git config, the environment \
             or flags set, e.g. `git config dockguard.ci.request-variable NAME`)",
            value
        ),
    ))
}

fn remotes(r: &Resolved) -> Result<Vec<RemotePattern>> {
    r.list(Name::Remotes)
        .into_iter()
        .map(|p| {
            match p
                .strip_prefix('/')
                .and_then(|x| x.strip_suffix('/'))
                .filter(|_| p.len() >= 2)
            {
                Some(re) => regex::Regex::new(re)
                    .map(RemotePattern::Regex)
                    .map_err(|e| {
                        config_error(
                            r,
                            Name::Remotes,
                            format!("`remotes` entry `{p}` is not a valid regex: {e}"),
                        )
                    }),
                None => Ok(RemotePattern::Exact(p)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::layers::{EnvSettings, FileLayer, Layers};
    use super::*;

    fn with(file: &str, env: &[(&str, &str)]) -> Result<RunSettings> {
        let vars = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let layers = Layers::load(None, &vars, EnvSettings::Read, &[])?;
        let f = FileLayer::parse(file, "HEAD:.dockguard.toml")?;
        RunSettings::new(&layers.resolve(Some(&f)))
    }

    #[test]
    fn a_repository_push_option_must_be_the_recognised_request() {
        assert!(with("push_option = \"ci.variable=DOCKGUARD_REBUILD=1\"\n", &[]).is_ok());
        assert!(with("push_option = \"ci.input=dockguard_rebuild=true\"\n", &[]).is_ok());
        for bad in [
            "ci.variable=DOCKGUARD_DOCKER=sh -c 'id'",
            "ci.variable=DOCKGUARD_REBUILD=1x",
            "ci.variable=CI_DEBUG_TRACE=1",
            "ci.skip",
            "ci.variable=QEMU_CI=1",
        ] {
            let e = with(&format!("push_option = {bad:?}\n"), &[])
                .expect_err(bad)
                .to_string();
            assert!(
                e.contains("HEAD:.dockguard.toml") && e.contains("not a rebuild request"),
                "{e}"
            );
        }
        // The machine decides the name; then the repository may ask for it.
        assert!(with(
            "push_option = \"ci.variable=QEMU_CI=1\"\n",
            &[("DOCKGUARD_CI_REQUEST_VARIABLE", "QEMU_CI")]
        )
        .is_ok());
        // A machine source may choose any one-line option.
        assert!(with("", &[("DOCKGUARD_PUSH_OPTION", "ci.variable=X=yes")]).is_ok());
        assert!(with("", &[("DOCKGUARD_PUSH_OPTION", "a\nb")]).is_err());
    }

    #[test]
    fn repush_from_a_repository_needs_the_machines_consent() {
        let e = with("policy = \"repush\"\n", &[])
            .expect_err("repush")
            .to_string();
        assert!(
            e.contains("allow_repush") || e.contains("allow-repush"),
            "{e}"
        );
        let s = with("policy = \"repush\"\n", &[("DOCKGUARD_ALLOW_REPUSH", "1")]).expect("ok");
        assert_eq!(s.policy, Policy::Repush);
        assert_eq!(
            with("policy = \"warn\"\n", &[]).expect("ok").policy,
            Policy::Warn
        );
        let s = with("", &[("DOCKGUARD_POLICY", "repush")]).expect("ok");
        assert_eq!(s.policy, Policy::Repush);
    }

    #[test]
    fn request_names_are_names_of_their_own() {
        for (bad, why) in [
            ("GITLAB_CI", "set by the CI system"),
            ("CI", "set by the CI system"),
            ("CI_COMMIT_SHA", "set by the CI system"),
            ("DOCKGUARD_DECISION", "dockguard's own"),
            ("DOCKGUARD_UPSTREAM", "dockguard's own"),
            ("A-B", "not a variable name"),
            ("", "not a variable name"),
        ] {
            let e = with("", &[("DOCKGUARD_CI_REQUEST_VARIABLE", bad)])
                .expect_err(bad)
                .to_string();
            assert!(
                e.contains("DOCKGUARD_CI_REQUEST_VARIABLE") && e.contains(why),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            with("", &[("DOCKGUARD_CI_REQUEST_VARIABLE", "QEMU_CI")])
                .expect("ok")
                .ci
                .request_variable,
            "QEMU_CI"
        );
    }

    #[test]
    fn remotes_by_name_url_or_regex() {
        let s = |v: &str| with("", &[("DOCKGUARD_REMOTES", v)]);
        assert!(s("").expect("ok").remote_in_scope("origin", "u"));
        assert!(s("origin").expect("ok").remote_in_scope("origin", "u"));
        assert!(!s("upstream").expect("ok").remote_in_scope("origin", "u"));
        let re = s(r"/gitlab\.example\.com[:/]/").expect("ok");
        assert!(re.remote_in_scope("x", "git@gitlab.example.com:a/b.git"));
        assert!(!re.remote_in_scope("x", "https://github.com/a/b"));
        assert!(s("/srv/x.git")
            .expect("ok")
            .remote_in_scope("/srv/x.git", "/srv/x.git"));
        let e = s("/(/").expect_err("bad regex").to_string();
        assert!(
            e.contains("remotes") && e.contains("not a valid regex"),
            "{e}"
        );
    }
}
