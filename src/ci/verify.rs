//! Verification: the verdict against the request the pipeline carries.
//!
//! | needed | requested | decision | line |
//! |---|---|---|---|
//! | yes | yes | rebuild | needed and requested |
//! | yes | no  | rebuild (warn), or fail with `--strict` | the push skipped the hook: CI fallback |
//! | no  | yes | rebuild | the pipeline asked although nothing differs |
//! | no  | no  | skip | nothing differs, nothing asked |
//!
//! An unknown merge-base means "needed" (rebuild to be safe) but never fails `--strict`:
//! the contributor could not have known either.

use serde::Serialize;

use crate::config::{env_name, Settings, KEYS};
use crate::error::{Error, Result};
use crate::render::{escape, outputs};

use super::emit::DECISION_VARS;

/// Which of the cases applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// Needed and requested.
    Needed,
    /// Needed, not requested: the push skipped the hook.
    Fallback,
    /// Not needed, but requested.
    Requested,
    /// Neither.
    NotNeeded,
    /// No merge-base: rebuilding to be safe (requested or not).
    BaseUnknown,
}

impl Case {
    /// The slug used in dotenv / outputs (`DOCKGUARD_REASON`).
    pub fn slug(self) -> &'static str {
        match self {
            Case::Needed => "needed",
            Case::Fallback => "fallback",
            Case::Requested => "requested",
            Case::NotNeeded => "not-needed",
            Case::BaseUnknown => "base-unknown",
        }
    }
}

/// What the CI job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Rebuild the images?
    pub rebuild: bool,
    /// Why.
    pub case: Case,
    /// The verdict says a rebuild is needed (or the base is unknown).
    pub needed: bool,
    /// The pipeline carries the request variable.
    pub requested: bool,
    /// `--strict` and needed-but-not-requested: the job fails (exit 1).
    pub strict_failure: bool,
}

/// Combines the verdict with the request.
pub fn decide(needed: bool, base_unknown: bool, requested: bool, strict: bool) -> Decision {
    let needed = needed || base_unknown;
    let case = match (needed, requested) {
        _ if base_unknown => Case::BaseUnknown,
        (true, true) => Case::Needed,
        (true, false) => Case::Fallback,
        (false, true) => Case::Requested,
        (false, false) => Case::NotNeeded,
    };
    Decision {
        rebuild: needed || requested,
        case,
        needed,
        requested,
        strict_failure: strict && case == Case::Fallback,
    }
}

/// Whether a request variable's value asks for a rebuild: set and not one of
/// `0`, `false`, `no`, `off` (any case). An unknown value counts as a request.
pub fn is_request(value: Option<&str>) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => !matches!(v.as_str(), "" | "0" | "false" | "no" | "off"),
    }
}

/// The one line that says what happens and why, for a terminal or a log.
pub fn line(d: &Decision, request_var: &str, push_option: &str) -> String {
    line_with(d, request_var, push_option, &|s| {
        format!("`{}`", escape::text(s))
    })
}

/// [`line`] with the user-derived parts (the request variable, the command with the push
/// option) rendered by `code`: backquoted and escaped for a terminal, a Markdown code span
/// ([`escape::md_code`]) for GitHub's step summary, where a `push_option` such as
/// `![x](https://…)` must not render as an image.
pub fn line_with(
    d: &Decision,
    request_var: &str,
    push_option: &str,
    code: &dyn Fn(&str) -> String,
) -> String {
    let command = code(&format!("git push -o {}", escape::shell_word(push_option)));
    let request_var = escape::text(request_var);
    match d.case {
        Case::Needed => format!(
            "dockguard: REBUILD: images need a rebuild, and the pipeline requested it ({request_var} is set)"
        ),
        Case::Fallback if d.strict_failure => format!(
            "dockguard: FAILED (--strict): images need a rebuild but the pipeline did not request it \
             ({request_var} is not set); push with {command} or use dockguard's pre-push hook"
        ),
        Case::Fallback => format!(
            "dockguard: REBUILD (fallback): images need a rebuild but the pipeline did not request it \
             ({request_var} is not set; the push skipped dockguard's hook); rebuilding anyway"
        ),
        Case::Requested => format!(
            "dockguard: REBUILD (requested): nothing images are built from differs from upstream, \
             but the pipeline asked for it ({request_var} is set)"
        ),
        Case::NotNeeded => format!(
            "dockguard: SKIP: nothing images are built from differs from upstream, and no rebuild was requested \
             ({request_var} is not set)"
        ),
        Case::BaseUnknown => "dockguard: REBUILD (base unknown): !!! no merge-base with upstream could be found, \
             so nothing can be ruled out; rebuilding to be safe !!!"
            .to_owned(),
    }
}

/// The request variable's name, checked: a valid variable name, and not one of ours.
pub fn request_variable(settings: &Settings) -> Result<String> {
    let name = settings.string_or_default("ci.request_variable").to_owned();
    let origin = settings.origin("ci.request_variable").to_string();
    if !outputs::is_var_name(&name) {
        return Err(Error::Config {
            origin,
            message: format!(
                "`ci.request_variable` = {name:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
            ),
        });
    }
    if DECISION_VARS.contains(&name.as_str()) || KEYS.iter().any(|k| env_name(k) == name) {
        return Err(Error::Config {
            origin,
            message: format!(
                "`ci.request_variable` = {name:?} is one of dockguard's own variables; \
                 the request must have a name of its own (default DOCKGUARD_REBUILD)"
            ),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn request_variable_must_be_a_name_of_its_own() {
        let settings = |v: &str| {
            let mut env = std::collections::BTreeMap::new();
            env.insert("DOCKGUARD_CI_REQUEST_VARIABLE".to_owned(), v.to_owned());
            Overrides::load(None, &env, &[])
                .expect("load")
                .resolve(None)
        };
        assert_eq!(
            request_variable(&settings("QEMU_CI")).expect("ok"),
            "QEMU_CI"
        );
        let e = request_variable(&settings("DOCKGUARD_DECISION"))
            .expect_err("ours")
            .to_string();
        assert!(e.contains("dockguard's own"), "{e}");
        let e = request_variable(&settings("DOCKGUARD_UPSTREAM"))
            .expect_err("a setting")
            .to_string();
        assert!(e.contains("dockguard's own"), "{e}");
        let e = request_variable(&settings("A-B"))
            .expect_err("bad")
            .to_string();
        assert!(
            e.contains("DOCKGUARD_CI_REQUEST_VARIABLE") && e.contains("not a variable name"),
            "{e}"
        );
    }

    #[test]
    fn the_four_cases_and_base_unknown() {
        let d = decide(true, false, true, false);
        assert_eq!((d.rebuild, d.case), (true, Case::Needed));
        let d = decide(true, false, false, false);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Fallback, false)
        );
        let d = decide(true, false, false, true);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Fallback, true)
        );
        let d = decide(false, false, true, true);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::Requested, false)
        );
        let d = decide(false, false, false, true);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (false, Case::NotNeeded, false)
        );
        let d = decide(true, true, false, true);
        assert_eq!(
            (d.rebuild, d.case, d.strict_failure),
            (true, Case::BaseUnknown, false),
            "an unknown base never fails --strict"
        );
    }

    #[test]
    fn request_values() {
        for yes in ["1", "true", "YES", "on", "please"] {
            assert!(is_request(Some(yes)), "{yes}");
        }
        for no in ["", " ", "0", "false", "No", "OFF"] {
            assert!(!is_request(Some(no)), "{no:?}");
        }
        assert!(!is_request(None));
    }

    #[test]
    fn every_case_has_one_distinct_line() {
        let lines: Vec<String> = [
            decide(true, false, true, false),
            decide(true, false, false, false),
            decide(true, false, false, true),
            decide(false, false, true, false),
            decide(false, false, false, false),
            decide(true, true, false, false),
        ]
        .iter()
        .map(|d| line(d, "DOCKGUARD_REBUILD", "ci.variable=DOCKGUARD_REBUILD=1"))
        .collect();
        for l in &lines {
            assert!(!l.contains('\n'), "{l}");
        }
        let mut unique = lines.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), lines.len());
    }
}
