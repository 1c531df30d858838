//! What `dockguard ci` writes for the CI: the decision variables (GitLab dotenv, GitHub
//! outputs) and the GitHub step summary. The file formats and their sanitising rules are
//! in [`crate::render::outputs`]; this module decides what goes into them.

use std::fmt::Write as _;
use std::path::Path;

use git2::Oid;

use super::verify::{self, Decision};
use super::CiReport;
use crate::error::Result;
use crate::git::short;
use crate::render::outputs;
use crate::Env;

/// Names of the decision variables (dotenv); never the request variable's name.
pub const DECISION_VARS: &[&str] = &[
    "DOCKGUARD_DECISION",
    "DOCKGUARD_REASON",
    "DOCKGUARD_NEEDED",
    "DOCKGUARD_REQUESTED",
    "DOCKGUARD_MERGE_BASE",
    "DOCKGUARD_UPSTREAM_SHA",
    "DOCKGUARD_TARGET_SHA",
    "DOCKGUARD_REF_SLUG",
    "DOCKGUARD_CHANGED_COUNT",
];

fn oid_or(o: Option<Oid>, none: &str) -> String {
    o.map_or_else(|| none.to_owned(), |o| o.to_string())
}

/// The decision variables, in [`DECISION_VARS`] order.
pub fn decision_vars(ci: &CiReport) -> Vec<(String, String)> {
    let t = ci.report.targets.first();
    let values = [
        ci.decision.to_owned(),
        ci.reason.to_owned(),
        ci.needed.to_string(),
        ci.requested.to_string(),
        oid_or(t.and_then(|t| t.merge_base), "unknown"),
        ci.report.upstream.oid.to_string(),
        oid_or(t.map(|t| t.tip), "unknown"),
        ci.ref_slug.clone(),
        t.map_or(0, |t| t.changes.len()).to_string(),
    ];
    DECISION_VARS
        .iter()
        .map(|n| (*n).to_owned())
        .zip(values)
        .collect()
}

fn changed_paths(ci: &CiReport) -> Vec<String> {
    ci.report
        .targets
        .iter()
        .flat_map(|t| t.changes.iter().map(|c| c.path.clone()))
        .collect()
}

/// Writes `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` when the runner provides them.
pub fn github_files(
    env: &Env,
    ci: &CiReport,
    d: &Decision,
    request: &verify::Request,
    push_option: &str,
) -> Result<()> {
    if let Some(path) = env.get("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let scalars: Vec<(String, String)> = decision_vars(ci)
            .into_iter()
            .map(|(k, v)| {
                let name = k
                    .trim_start_matches("DOCKGUARD_")
                    .to_ascii_lowercase()
                    .replace('_', "-");
                (name, v)
            })
            .collect();
        let lists = vec![("changed".to_owned(), changed_paths(ci))];
        let text = outputs::github_output(&scalars, &lists, &crate::fsx::random_token());
        outputs::append(Path::new(path), &text)?;
    }
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let text = step_summary(ci, d, request, push_option);
        outputs::append(Path::new(path), &text)?;
    }
    Ok(())
}

/// The Markdown step summary, headed by the decision line. Everything from the push
/// (refs, paths, the push option) goes through [`outputs::md_code`].
pub fn step_summary(
    ci: &CiReport,
    d: &Decision,
    request: &verify::Request,
    push_option: &str,
) -> String {
    let mut s = String::new();
    let title = match d.case {
        verify::Case::Needed => "rebuild",
        verify::Case::Fallback if d.strict_failure => "failed (--strict)",
        verify::Case::Fallback => "rebuild (fallback)",
        verify::Case::Requested => "rebuild (requested)",
        verify::Case::NotNeeded => "skip",
        verify::Case::BaseUnknown => "rebuild (base unknown)",
    };
    let _ = writeln!(s, "### dockguard: {title}\n");
    // Our sentence, with every user-derived part a code span; the sentence itself is
    // escaped too (it quotes nothing else, but Markdown must not find any syntax in it).
    let line = verify::line_with(d, request, push_option, &outputs::md_code);
    let _ = writeln!(s, "{}\n", md_sentence(&line));
    let _ = writeln!(s, "| | |\n|---|---|");
    let up = &ci.report.upstream;
    let _ = writeln!(
        s,
        "| upstream | {} at {} |",
        outputs::md_code(&up.refname),
        outputs::md_code(&short(&up.oid))
    );
    for t in &ci.report.targets {
        let _ = writeln!(
            s,
            "| target | {} at {} |",
            outputs::md_code(&t.label),
            outputs::md_code(&short(&t.tip))
        );
        let _ = writeln!(
            s,
            "| merge-base | {} |",
            t.merge_base
                .map_or_else(|| "unknown".to_owned(), |b| outputs::md_code(&short(&b)))
        );
    }
    let _ = writeln!(s, "| image tag | {} |", outputs::md_code(&ci.ref_slug));
    let paths = changed_paths(ci);
    if !paths.is_empty() {
        let _ = writeln!(s, "\nChanged paths images are built from:\n");
        for p in paths {
            let _ = writeln!(s, "- {}", outputs::md_code(&p));
        }
    }
    s.push('\n');
    s
}

/// Our own sentence for Markdown: code spans (already escaped by
/// [`outputs::md_code`]) kept, `<`, `&`, `[`, `]`, `!`, `*`, `_` and `\` outside them
/// backslash-escaped, so nothing renders as HTML, a link, an image or emphasis.
fn md_sentence(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code
            && matches!(
                c,
                '<' | '>' | '&' | '[' | ']' | '!' | '*' | '_' | '\\' | '|'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys::env_name;
    use crate::config::KEYS;

    #[test]
    fn decision_variables_never_shadow_settings_or_each_other() {
        for k in KEYS {
            assert!(
                !DECISION_VARS.contains(&env_name(k).as_str()),
                "{} collides with a setting",
                env_name(k)
            );
        }
        let mut names = DECISION_VARS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DECISION_VARS.len());
        assert!(!DECISION_VARS.contains(&"DOCKGUARD_REBUILD"));
        assert!(names.len() <= outputs::DOTENV_MAX_VARS);
    }
}
