//! How `dockguard plan` is written: JSON, a table, Mermaid and Graphviz graphs, Markdown,
//! GitLab's dotenv report and child pipeline, and GitHub's outputs.
//! (The main session may move this into `src/render/`.)
//!
//! Image names, dockerfile paths and registry answers come from whoever pushed or from
//! the network. Nothing of them reaches a file unescaped: in the child pipeline every
//! such string is a double-quoted YAML scalar with every non-printable and non-ASCII
//! character escaped and `$` doubled (GitLab expands variables in `variables:` values);
//! job names and variable names are made from [`crate::plan::repository_name`] and
//! [`crate::plan::variable_names`], which produce only safe characters; dotenv and
//! GitHub output values are references, which [`crate::registry`] validated; JSON goes
//! through serde_json on one line in a heredoc with a random delimiter.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::plan::{Action, PlanReport, PlannedImage};
use crate::render::outputs;

/// JSON, pretty.
pub fn json(r: &PlanReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| {
        format!(
            "{{\"version\":{},\"error\":{:?}}}",
            r.version,
            e.to_string()
        )
    });
    s.push('\n');
    s
}

fn short_tag(t: &str) -> &str {
    t.get(..15).unwrap_or(t)
}

/// A table for people.
pub fn human(r: &PlanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "dockguard plan for {} ({}), upstream {} ({}), merge-base {}",
        outputs::one_line(&r.target),
        short_tag(&r.commit).get(..8).unwrap_or(&r.commit),
        outputs::one_line(&r.upstream.refname),
        r.upstream.commit.get(..8).unwrap_or(&r.upstream.commit),
        r.merge_base
            .as_deref()
            .map_or("unknown (every image counts as affected)", |b| b
                .get(..8)
                .unwrap_or(b))
    );
    let _ = writeln!(
        s,
        "registry {}{}{}",
        r.registry,
        r.upstream_registry
            .as_deref()
            .map(|u| format!(", upstream registry {u}"))
            .unwrap_or_default(),
        if r.rebuild_requested {
            ", rebuild requested"
        } else {
            ""
        }
    );
    s.push('\n');
    let name_w = r
        .images
        .iter()
        .map(|i| outputs::one_line(&i.name).chars().count().min(40))
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        s,
        "{:<name_w$}  ACTION  {:<13}  {:<15}  WHY",
        "IMAGE", "STATE", "TAG"
    );
    for i in &r.images {
        let mut name = outputs::one_line(&i.name);
        if name.chars().count() > 40 {
            name = name.chars().take(39).collect::<String>() + "…";
        }
        let state = serde_json::to_value(i.registry.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{name:<name_w$}  {:<6}  {state:<13}  {:<15}  {}",
            i.action.word(),
            short_tag(&i.content_tag),
            outputs::one_line(&i.why)
        );
    }
    let _ = writeln!(
        s,
        "\n{} to build, {} to copy, {} present; {} registry request(s) in {:.2} s",
        r.counts.build, r.counts.copy, r.counts.skip, r.registry_requests, r.registry_seconds
    );
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {}", outputs::one_line(w));
    }
    s
}

/// Text for a Mermaid label inside `"…"`: entity codes for everything that could end the
/// label, open HTML, or close a Markdown fence.
fn mermaid_text(t: &str) -> String {
    let mut out = String::new();
    for c in t.chars().take(120) {
        match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | ' '
            | '-'
            | '_'
            | '.'
            | '/'
            | ':'
            | ','
            | '('
            | ')' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => {
                let _ = write!(out, "#{};", u32::from(c));
            }
        }
    }
    out
}

/// A Mermaid flowchart of the images: parent → child, each marked skip / copy / build.
pub fn mermaid(r: &PlanReport) -> String {
    let mut s = String::from("flowchart TD\n");
    let index = |name: &str| r.images.iter().position(|i| i.name == name);
    for (n, i) in r.images.iter().enumerate() {
        let _ = writeln!(
            s,
            "  n{n}[\"{}<br/>{}: {}\"]:::{}",
            mermaid_text(&i.name),
            i.action.word(),
            mermaid_text(i.why.split(": ").next().unwrap_or_default()),
            i.action.word()
        );
    }
    for (n, i) in r.images.iter().enumerate() {
        let mut parents: Vec<usize> = i.parents.iter().filter_map(|p| index(&p.name)).collect();
        parents.sort_unstable();
        parents.dedup();
        for p in parents {
            let _ = writeln!(s, "  n{p} --> n{n}");
        }
    }
    s.push_str("  classDef build fill:#ffd27f,stroke:#a06000\n");
    s.push_str("  classDef copy fill:#cde4ff,stroke:#2060a0\n");
    s.push_str("  classDef skip fill:#e0f0e0,stroke:#408040\n");
    s
}

/// Graphviz: the same graph.
pub fn dot(r: &PlanReport) -> String {
    let q = |s: &str| {
        format!(
            "\"{}\"",
            outputs::one_line(s)
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        )
    };
    let mut s = String::from("digraph plan {\n  rankdir=LR;\n  node [shape=box, style=filled];\n");
    for i in &r.images {
        let color = match i.action {
            Action::Build => "#ffd27f",
            Action::Copy => "#cde4ff",
            Action::Skip => "#e0f0e0",
        };
        let _ = writeln!(
            s,
            "  {} [label={}, fillcolor=\"{color}\", tooltip={}];",
            q(&i.name),
            q(&format!("{}\n{}", i.name, i.action.word())),
            q(&i.why)
        );
    }
    for i in &r.images {
        for p in &i.parents {
            let _ = writeln!(s, "  {} -> {};", q(&p.name), q(&i.name));
        }
    }
    s.push_str("}\n");
    s
}

/// Markdown: a title, the table and the Mermaid graph (GitHub's step summary, a GitLab
/// artifact on the merge request).
pub fn markdown(r: &PlanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### dockguard plan: {} to build, {} to copy, {} present\n",
        r.counts.build, r.counts.copy, r.counts.skip
    );
    let _ = writeln!(
        s,
        "{} at {}, upstream {}, registry {}\n",
        outputs::md_code(&r.target),
        outputs::md_code(r.commit.get(..8).unwrap_or(&r.commit)),
        outputs::md_code(&r.upstream.refname),
        outputs::md_code(&r.registry)
    );
    s.push_str("| image | action | registry | content tag | why |\n|---|---|---|---|---|\n");
    for i in &r.images {
        let state = serde_json::to_value(i.registry.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            outputs::md_code(&i.name),
            i.action.word(),
            state,
            outputs::md_code(short_tag(&i.content_tag)),
            outputs::md_code(&i.why)
        );
    }
    s.push_str("\n```mermaid\n");
    s.push_str(&mermaid(r));
    s.push_str("```\n\n");
    s
}

/// GitLab's dotenv report: `DOCKGUARD_IMAGE_<NAME>=<reference>` for every image (or the
/// `only` ones), and the counts; within GitLab's limits, else an error that says what to do.
pub fn dotenv(r: &PlanReport, only: &[String], max_vars: usize) -> Result<String> {
    for name in only {
        if !r.images.iter().any(|i| i.name == *name) {
            return Err(Error::Usage(format!(
                "--dotenv-images names `{}`, which is not an image of this commit (images: {})",
                outputs::one_line(name),
                r.build_order.join(", ")
            )));
        }
    }
    let mut vars: Vec<(String, String)> = r
        .images
        .iter()
        .filter(|i| only.is_empty() || only.contains(&i.name))
        .map(|i| (i.variable.clone(), i.reference.clone()))
        .collect();
    vars.push((
        "DOCKGUARD_PLAN_BUILD_COUNT".into(),
        r.counts.build.to_string(),
    ));
    vars.push((
        "DOCKGUARD_PLAN_COPY_COUNT".into(),
        r.counts.copy.to_string(),
    ));
    let mut out = String::new();
    for (k, v) in &vars {
        if !outputs::is_var_name(k) {
            return Err(Error::Usage(format!(
                "internal: `{k}` is not a variable name"
            )));
        }
        let _ = writeln!(out, "{k}={}", outputs::sanitize_value(v));
    }
    if vars.len() > max_vars || out.len() > outputs::DOTENV_MAX_BYTES {
        return Err(Error::Usage(format!(
            "the dotenv report would hold {} variables in {} bytes; GitLab accepts at most {max_vars} variables (--dotenv-max-vars, your instance's dotenv_variables limit) and {} bytes. Pass --dotenv-images NAME,... with the images later jobs use; the child pipeline's jobs get every reference anyway",
            vars.len(),
            out.len(),
            outputs::DOTENV_MAX_BYTES
        )));
    }
    Ok(out)
}

/// A double-quoted YAML scalar that any YAML 1.1/1.2 parser reads back as `t`, with `$`
/// doubled when `gitlab_vars` (GitLab expands `$NAME` in variable values).
pub fn yaml_str(t: &str, gitlab_vars: bool) -> String {
    let mut out = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' if gitlab_vars => out.push_str("$$"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFF => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// The job name for an image's action (safe characters only, at most ~110 bytes).
pub fn job_name(action: Action, image: &PlannedImage) -> String {
    format!(
        "{}-{}",
        action.word(),
        crate::plan::repository_name(&image.name)
    )
}

/// The definitions of `.dockguard-plan-build` and `.dockguard-plan-copy` that the GitLab
/// template and component use, shipped in the binary so a child pipeline needs no
/// include (an include's location would have to come from somewhere a pusher cannot set).
pub const CHILD_JOBS: &str = include_str!("../../ci/gitlab/dockguard-child.yml");

/// GitLab's child pipeline: one job per image to build or copy, `needs:` along the FROM
/// graph; or, with nothing to do, one job that says so (GitLab refuses an empty pipeline).
/// With `with_jobs`, [`CHILD_JOBS`] follows.
pub fn child_pipeline(r: &PlanReport, includes: &[String], with_jobs: bool) -> Result<String> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Generated by `dockguard plan` for commit {}: {} to build, {} to copy, {} present.",
        r.commit, r.counts.build, r.counts.copy, r.counts.skip
    );
    let todo: Vec<&PlannedImage> = r
        .images
        .iter()
        .filter(|i| i.action != Action::Skip)
        .collect();
    if !todo.is_empty() && !includes.is_empty() {
        s.push_str("include:\n");
        for inc in includes {
            if inc.contains(|c: char| c.is_control()) {
                return Err(Error::Usage(
                    "--child-include holds a control character".into(),
                ));
            }
            let kind = if inc.starts_with("https://") {
                "remote"
            } else {
                "local"
            };
            let _ = writeln!(s, "  - {kind}: {}", yaml_str(inc, false));
        }
    }
    s.push_str("stages:\n  - dockguard-images\n");
    if todo.is_empty() {
        let why = format!(
            "dockguard plan: nothing to build or copy: all {} image(s) with this content are in the registry",
            r.counts.skip
        );
        s.push_str("dockguard-nothing-to-do:\n  stage: dockguard-images\n  variables:\n    GIT_STRATEGY: none\n  script:\n");
        let _ = writeln!(s, "    - {}", yaml_str(&format!("echo '{why}'"), false));
        return Ok(s);
    }
    let job_of = |name: &str| {
        r.images
            .iter()
            .find(|i| i.name == name)
            .map(|i| job_name(i.action, i))
    };
    for i in todo {
        let _ = writeln!(s, "{}:", yaml_str(&job_name(i.action, i), false));
        s.push_str("  stage: dockguard-images\n");
        let base = match i.action {
            Action::Copy => ".dockguard-plan-copy",
            _ => ".dockguard-plan-build",
        };
        let _ = writeln!(s, "  extends: [{}]", yaml_str(base, false));
        let needs: Vec<String> = i
            .needs
            .iter()
            .filter_map(|n| job_of(n))
            .map(|j| yaml_str(&j, false))
            .collect();
        let _ = writeln!(s, "  needs: [{}]", needs.join(", "));
        s.push_str("  variables:\n");
        let mut var = |k: &str, v: &str| {
            let _ = writeln!(s, "    {k}: {}", yaml_str(v, true));
        };
        var("DOCKGUARD_IMAGE_NAME", &i.name);
        var("DOCKGUARD_IMAGE_REF", &i.reference);
        var("DOCKGUARD_DOCKERFILE", &i.dockerfile);
        var("DOCKGUARD_CONTEXT", &i.context);
        var("DOCKGUARD_CONTENT_TAG", &i.content_tag);
        if let Some(u) = &i.upstream_reference {
            var(
                if i.action == Action::Copy {
                    "DOCKGUARD_COPY_FROM"
                } else {
                    "DOCKGUARD_UPSTREAM_REF"
                },
                u,
            );
        }
        // One `WRITTEN REFERENCE` pair per line: tag the parent's content-tagged image
        // as the dockerfile names it before building.
        let parents: Vec<String> = i
            .parents
            .iter()
            .map(|p| format!("{} {}", p.written, p.reference))
            .collect();
        var("DOCKGUARD_PARENTS", &parents.join("\n"));
        var("DOCKGUARD_MOVING_TAGS", &r.moving_tags.join(" "));
    }
    if with_jobs {
        s.push('\n');
        s.push_str(CHILD_JOBS);
    }
    Ok(s)
}

/// `$GITHUB_OUTPUT`: `matrix` (every image to build or copy, for `fromJSON`), `images`
/// (name → reference), `image-<name>` per image, counts, and `levels`.
pub fn github_output(r: &PlanReport, token: &str) -> String {
    let todo: Vec<serde_json::Value> = r
        .images
        .iter()
        .filter(|i| i.action != Action::Skip)
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "action": i.action,
                "dockerfile": i.dockerfile,
                "context": i.context,
                "image": i.reference,
                "upstream-image": i.upstream_reference,
                "level": i.level,
                "needs": i.needs,
                "parents": i.parents,
                // The same, as lines "<FROM as written> <reference>" for a shell step
                // (ci/github/build.sh reads it without a JSON parser).
                "parent-lines": i
                    .parents
                    .iter()
                    .map(|p| format!("{} {}", p.written, p.reference))
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
        })
        .collect();
    let levels = r
        .images
        .iter()
        .filter(|i| i.action != Action::Skip)
        .map(|i| i.level + 1)
        .max()
        .unwrap_or(0);
    let images: serde_json::Map<String, serde_json::Value> = r
        .images
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                serde_json::Value::String(i.reference.clone()),
            )
        })
        .collect();
    let mut json_outputs = vec![
        (
            "matrix".to_owned(),
            serde_json::json!({ "include": todo }).to_string(),
        ),
        (
            "images".to_owned(),
            serde_json::Value::Object(images).to_string(),
        ),
    ];
    for level in 0..levels {
        let at: Vec<&serde_json::Value> = todo
            .iter()
            .filter(|v| v["level"].as_u64() == Some(level as u64))
            .collect();
        json_outputs.push((
            format!("matrix-level-{level}"),
            serde_json::json!({ "include": at }).to_string(),
        ));
    }
    let mut s = String::new();
    let _ = writeln!(s, "build-count={}", r.counts.build);
    let _ = writeln!(s, "copy-count={}", r.counts.copy);
    let _ = writeln!(s, "skip-count={}", r.counts.skip);
    let _ = writeln!(s, "levels={levels}");
    for i in &r.images {
        let name = i
            .variable
            .trim_start_matches("DOCKGUARD_")
            .to_ascii_lowercase()
            .replace('_', "-");
        let _ = writeln!(s, "{name}={}", outputs::sanitize_value(&i.reference));
    }
    for (name, value) in json_outputs {
        // serde_json escapes newlines, so the value is one line; the delimiter is
        // random and made longer until no line equals it.
        let mut delim = format!("DOCKGUARD_EOF_{token}");
        while value.contains(&delim) {
            delim.push('_');
        }
        let _ = writeln!(s, "{name}<<{delim}\n{value}\n{delim}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_escape_everything_unsafe() {
        assert_eq!(yaml_str("a: b # c", false), "\"a: b # c\"");
        assert_eq!(
            yaml_str("$HOME \"x\" \\", true),
            "\"$$HOME \\\"x\\\" \\\\\""
        );
        assert_eq!(
            yaml_str("a\nb\té\u{1F433}", false),
            "\"a\\x0Ab\\x09\\xE9\\U0001F433\""
        );
        assert_eq!(yaml_str("\u{2028}\u{FEFF}", false), "\"\\u2028\\uFEFF\"");
    }

    #[test]
    fn mermaid_labels_cannot_break_out() {
        let t = mermaid_text("a\"]:::x\n```<script>#");
        assert!(!t.contains(['"', ']', '`', '<', '\n']), "{t}");
        assert!(t.contains("#34;"));
    }
}
