//! Renderers: how a [`Report`] looks to a person (console) and to a script (JSON).
//!
//! Colour only when asked for by the caller (stdout is a terminal and `NO_COLOR` is unset);
//! the decision is made once at the edge and passed in.

use std::fmt::Write as _;

use console::Style;

use crate::engine::changes::ChangeKind;
use crate::engine::verdict::{
    ChangedPath, ContextFrom, Reader, Reads, Report, Silence, TargetVerdict,
};
use crate::git::short;
use crate::render::escape::{shell_word, text};

/// Styles for human output; all plain when colour is off.
#[derive(Debug, Clone)]
pub struct Styles {
    bad: Style,
    good: Style,
    dim: Style,
    bold: Style,
}

impl Styles {
    /// Colourful when `color`, plain otherwise.
    pub fn new(color: bool) -> Self {
        let s = |st: Style| st.force_styling(color);
        Styles {
            bad: s(Style::new().yellow().bold()),
            good: s(Style::new().green()),
            dim: s(Style::new().dim()),
            bold: s(Style::new().bold()),
        }
    }
}

impl Styles {
    /// Text in the "needs attention" style.
    pub fn paint_bad(&self, s: &str) -> String {
        self.bad.apply_to(s).to_string()
    }

    /// Text in the "all good" style.
    pub fn paint_good(&self, s: &str) -> String {
        self.good.apply_to(s).to_string()
    }

    /// Bold text.
    pub fn paint_bold(&self, s: &str) -> String {
        self.bold.apply_to(s).to_string()
    }
}

/// The human-readable report: what was compared with what, why, and what to do next.
pub fn human(report: &Report, push_option: &str, st: &Styles) -> String {
    let mut out = String::new();
    let up = &report.upstream;
    let _ = writeln!(
        out,
        "{} {} at {} ({})",
        st.dim.apply_to("upstream:"),
        text(&up.refname),
        short(&up.oid),
        text(&up.chosen_by)
    );
    for t in &report.targets {
        out.push('\n');
        target(&mut out, t, st);
    }
    out.push('\n');
    out.push_str(&conclusion(report, push_option, st));
    out
}

/// The last lines of [`human`]: whether CI must rebuild, and how to ask it to. Alone, it
/// is what `check -q` prints when nothing needs a rebuild.
pub fn conclusion(report: &Report, push_option: &str, st: &Styles) -> String {
    let mut out = String::new();
    if report.rebuild {
        let _ = writeln!(
            out,
            "{} CI must rebuild the container images for this push.",
            st.bad.apply_to("=>")
        );
        let _ = writeln!(
            out,
            "   push with `dockguard push …` or `git push -o {} …`",
            shell_word(push_option)
        );
    } else {
        let _ = writeln!(
            out,
            "{} no container image needs a rebuild: nothing they are built from differs from upstream.",
            st.good.apply_to("=>")
        );
    }
    out
}

fn target(out: &mut String, t: &TargetVerdict, st: &Styles) {
    let verdict = if t.rebuild {
        st.bad.apply_to("rebuild needed").to_string()
    } else {
        st.good.apply_to("no rebuild needed").to_string()
    };
    let _ = writeln!(
        out,
        "{} ({}): {verdict}",
        st.bold.apply_to(text(&t.label)),
        short(&t.tip)
    );
    match (&t.merge_base, &t.base_unknown) {
        (Some(b), None) => {
            let _ = writeln!(
                out,
                "  compared {}..{} (merge-base with upstream .. tip)",
                short(b),
                short(&t.tip)
            );
        }
        (_, Some(u)) => {
            let _ = writeln!(out, "  merge-base: unknown ({})", text(&u.detail));
        }
        (None, None) => {}
    }
    for reason in &t.reasons {
        let _ = writeln!(out, "  {}", text(reason));
    }
    for w in &t.warnings {
        // Warnings quote dockerfile text and paths from the push: one line each.
        let _ = writeln!(
            out,
            "  {} {}",
            st.bad.apply_to("warning:"),
            crate::render::outputs::one_line(w)
        );
    }
    for c in &t.changes {
        let path = match (&c.old_path, c.kind) {
            (Some(old), ChangeKind::Renamed) => format!("{old} -> {}", c.path),
            _ => c.path.clone(),
        };
        // A path or commit subject comes from whoever pushed: no raw control characters
        // (a newline would fake a line, an escape sequence would drive the terminal).
        let path = crate::render::outputs::one_line(&path);
        let role = match c.role {
            crate::engine::matcher::PathRole::Dockerfile => "dockerfile",
            crate::engine::matcher::PathRole::Input => "input",
        };
        let _ = writeln!(
            out,
            "    {:<9}{path}  {}",
            c.kind.word(),
            st.dim.apply_to(format!("({role})"))
        );
        if let Some(commits) = &c.commits {
            for oid in commits {
                let summary = t
                    .commits
                    .iter()
                    .flatten()
                    .find(|x| x.oid.to_string() == *oid)
                    .map(|x| crate::render::outputs::one_line(&x.summary))
                    .unwrap_or_default();
                let _ = writeln!(out, "             {} {summary}", &oid[..10.min(oid.len())]);
            }
        }
        for line in why_lines(t, c, usize::MAX) {
            let _ = writeln!(out, "      {}", st.dim.apply_to(line));
        }
    }
    for b in &t.build_changes {
        let _ = writeln!(
            out,
            "    {:<9}image `{}`: {}",
            "build",
            crate::render::outputs::one_line(&b.image),
            crate::render::outputs::one_line(&b.reason())
        );
    }
    if !t.images.is_empty() {
        let _ = writeln!(
            out,
            "  {} affected image{}, in build order:",
            t.images.len(),
            if t.images.len() == 1 { "" } else { "s" }
        );
        let width = t.images.iter().map(|i| i.name.len()).max().unwrap_or(0);
        for img in &t.images {
            let why = img.reasons.first().map(String::as_str).unwrap_or_default();
            let more = if img.reasons.len() > 1 { ", …" } else { "" };
            // Image names come from pushed paths: no raw control characters.
            let _ = writeln!(
                out,
                "    {:<width$}  {}",
                crate::render::outputs::one_line(&img.name),
                st.dim
                    .apply_to(format!("({}{more})", crate::render::outputs::one_line(why)))
            );
        }
    }
    if t.commits_truncated {
        let _ = writeln!(
            out,
            "  (commit attribution stopped at max_commits; older commits were not examined)"
        );
    }
    if t.other_changes > 0 {
        let _ = writeln!(
            out,
            "  {}",
            st.dim.apply_to(format!(
                "{} other changed path{} ignored",
                t.other_changes,
                if t.other_changes == 1 { "" } else { "s" }
            ))
        );
    }
}

/// Why a changed path counts, one line each: which merge-bases found it (when the target
/// has several and not all did), the images that read it (at most `max`), and the line
/// that would stop counting it. Every line is escaped for a terminal.
pub(crate) fn why_lines(t: &TargetVerdict, c: &ChangedPath, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    if !c.merge_bases.is_empty() && c.merge_bases.len() < t.merge_bases.len() {
        let found: Vec<String> = c.merge_bases.iter().map(short).collect();
        out.push(format!(
            "differs from the merge-base{} {} only",
            if found.len() == 1 { "" } else { "s" },
            found.join(", ")
        ));
    }
    for r in c.read_by.iter().take(max) {
        out.push(crate::render::outputs::one_line(&reader(r)));
    }
    let more = c.read_by_more + c.read_by.len().saturating_sub(max);
    if more > 0 {
        out.push(format!(
            "… and {more} more image{} read it",
            if more == 1 { "" } else { "s" }
        ));
    }
    if let Some(s) = &c.silence {
        out.push(crate::render::outputs::one_line(&silence(s)));
    }
    out
}

/// One reader of a path, as a sentence.
fn reader(r: &Reader) -> String {
    let img = r.image.as_deref().unwrap_or_default();
    let df = r.dockerfile.as_deref().unwrap_or_default();
    let line = match (r.line, &r.instruction) {
        (Some(l), Some(i)) => format!("{df} line {l}: `{i}`"),
        (Some(l), None) => format!("{df} line {l}"),
        _ => df.to_owned(),
    };
    let context = match (&r.context, r.context_from) {
        (Some(c), Some(from)) => {
            let origin = r.origin.as_deref().unwrap_or_default();
            let from = match from {
                ContextFrom::Declared => format!("declared by {origin}"),
                ContextFrom::Rule => format!("set by an [[images.rule]] in {origin}"),
                ContextFrom::Guessed => format!("guessed: {origin}"),
                ContextFrom::Widened => format!("widened: {origin}"),
            };
            format!(", context `{c}` ({from})")
        }
        _ => String::new(),
    };
    let kept = r
        .kept_by
        .as_deref()
        .map(|k| format!("; {k} does not leave it out"))
        .unwrap_or_default();
    match r.reads {
        Reads::Dockerfile => format!("the dockerfile of image `{img}` ({df})"),
        Reads::Dockerignore => format!("an ignore file of image `{img}`{context}"),
        Reads::Source => format!("read by image `{img}`: {line}{context}{kept}"),
        Reads::WholeContext => {
            format!("read by image `{img}`: its whole context counts ({df}){context}")
        }
        Reads::Link => format!(
            "read by image `{img}` through a symlink or submodule on a source's path ({df}){context}"
        ),
        Reads::RuleInput => format!(
            "an input of image `{img}`: {}",
            r.origin.as_deref().unwrap_or_default()
        ),
        Reads::MatchInput => format!(
            "counted by a `match.*` pattern ({}); no image reads it, so it counts for every image",
            r.origin.as_deref().unwrap_or_default()
        ),
    }
}

/// The silencing line, with where it goes.
fn silence(s: &Silence) -> String {
    if s.file == "git config" {
        return format!("to stop counting it: {}", s.line);
    }
    let place = match &s.table {
        Some(t) => format!("under [{t}] in the upstream branch's {}", s.file),
        None => format!("in the upstream branch's {}", s.file),
    };
    format!("to stop counting it, {place}: {}", s.line)
}

/// The JSON report (schema in README.md, `version` field first).
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serialising plain data cannot fail; keep a valid document if it ever does.
        format!(
            "{{\"version\":{},\"error\":{:?}}}",
            report.version,
            e.to_string()
        )
    });
    s.push('\n');
    s
}
