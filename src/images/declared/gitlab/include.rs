//! `include:` as GitLab resolves it (`External::Processor`): the included files, in
//! order, deep-merged, and the including file's own content merged last (it wins);
//! nested includes resolved the same way inside each file. Local files (a string, a
//! list, `local:` with or without a leading `/`, always from the repository root, `*`
//! and `**` globs) are read from the judged tree; `include: project:` naming this very
//! project at the pipeline's commit is local too. An include with `rules:` may apply
//! unless every rule is `when: never`. A file with a `spec: inputs:` header is
//! interpolated (`$[[ inputs.NAME ]]`) with the include's `inputs:` and the defaults.
//!
//! Files from outside the tree (`remote:`, `project:`, `template:`, `component:`) may
//! define jobs that build this repository's dockerfiles: they are opaque, except
//! dockguard's own template and component. Global mode (`mode: global`,
//! `ci/gitlab/dockguard.yml`) builds what the jobs extending `.dockguard-container`
//! name, so its hidden job is supplied here; content mode (the default) builds every
//! image dockguard finds, so every dockerfile counts, which is what opaque means.

use super::super::super::dockerfile::ANY;
use super::super::super::yaml::{self, Y};
use super::merge::{deep_merge, from_yaml, At, Map, V};
use super::Ctx;

/// Included files one pipeline may have (GitLab's default limit).
pub(super) const MAX_INCLUDES: usize = 150;
/// Include nesting GitLab allows.
const MAX_NESTING: usize = 100;

/// One entry of `include:`.
enum Include {
    Local(String, Option<V>),
    Outside {
        kind: &'static str,
        what: String,
        dockguard: Option<bool>,
    },
}

/// A pipeline configuration file's content with its includes resolved; `Err` when the
/// file itself cannot be read as YAML (the caller says so).
pub(super) fn load(
    ctx: &mut Ctx<'_>,
    path: &str,
    text: &str,
    inputs: Option<&V>,
    stack: &mut Vec<String>,
) -> Result<Map, String> {
    let file = ctx.file_index(path);
    let docs = yaml::load(text)?;
    let (header, content) = match docs.as_slice() {
        [h, c, ..] if h.get("spec").is_some() => (Some(h), Some(c)),
        [c, ..] => (None, Some(c)),
        [] => (None, None),
    };
    let mut content = match content.map(|c| from_yaml(c, file)) {
        Some(V::Map(m)) => m,
        Some(V::Str(s, _)) if s.is_empty() || s == "~" || s == "null" => Map::default(),
        None => Map::default(),
        Some(_) => return Err("its content is not a mapping of jobs".into()),
    };
    if let Some(h) = header {
        let values = input_values(h, inputs);
        let interpolate = |s: &str| interpolate(s, &values);
        content = match V::Map(content).interpolated(&interpolate) {
            V::Map(m) => m,
            _ => Map::default(),
        };
    }
    let Some(includes) = content.remove("include") else {
        return Ok(content);
    };
    let mut merged = V::Map(Map::default());
    for (entry, at) in entries(&includes) {
        for included in included(ctx, &entry, at, stack) {
            deep_merge(&mut merged, V::Map(included));
        }
    }
    deep_merge(&mut merged, V::Map(content));
    Ok(match merged {
        V::Map(m) => m,
        _ => Map::default(),
    })
}

/// `include:`'s entries with where each is written (a string, a mapping, or a list of
/// those), those whose every rule is `when: never` left out.
fn entries(v: &V) -> Vec<(V, At)> {
    let items: Vec<&V> = match v {
        V::Seq(..) => v.flat(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter(|i| {
            let rules = i.get("rules").map(V::flat).unwrap_or_default();
            rules.is_empty()
                || rules
                    .iter()
                    .any(|r| r.get("when").and_then(V::str) != Some("never"))
        })
        .map(|i| (i.clone(), i.at()))
        .collect()
}

fn classify(entry: &V) -> Option<Include> {
    let s = |k: &str| entry.get(k).and_then(V::str).map(str::to_owned);
    if let V::Str(p, _) = entry {
        return Some(if p.contains("://") {
            outside("remote", p.clone())
        } else {
            Include::Local(p.clone(), None)
        });
    }
    let inputs = entry.get("inputs").cloned();
    if let Some(p) = s("local") {
        return Some(Include::Local(p, inputs));
    }
    if let Some(url) = s("remote") {
        return Some(outside("remote", url));
    }
    if let Some(t) = s("template") {
        return Some(outside("template", t));
    }
    if let Some(c) = s("component") {
        let global = inputs
            .as_ref()
            .and_then(|i| i.get("mode"))
            .and_then(V::str)
            .map(|m| m == "global");
        let path = c.split('@').next().unwrap_or(&c);
        let dockguard = path
            .ends_with("/dockguard")
            .then(|| global.unwrap_or(false));
        return Some(Include::Outside {
            kind: "component",
            what: c,
            dockguard,
        });
    }
    if let Some(project) = s("project") {
        let files: Vec<String> = entry
            .get("file")
            .map(V::flat)
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.str().map(str::to_owned))
            .collect();
        let this_commit = matches!(
            s("ref").as_deref(),
            None | Some("$CI_COMMIT_SHA" | "$CI_COMMIT_REF_NAME" | "$CI_COMMIT_BRANCH")
        );
        if project.trim() == "$CI_PROJECT_PATH" && this_commit && files.len() == 1 {
            return Some(Include::Local(files[0].clone(), inputs));
        }
        let dockguard = files.iter().find_map(|f| dockguard_file(f));
        return Some(Include::Outside {
            kind: "project",
            what: format!("{project} {}", files.join(", ")),
            dockguard,
        });
    }
    None
}

fn outside(kind: &'static str, what: String) -> Include {
    let dockguard = dockguard_file(&what);
    Include::Outside {
        kind,
        what,
        dockguard,
    }
}

/// GitLab's own templates whose jobs run analysers on the code or on images built
/// elsewhere, or only set workflow rules: they build none of the repository's
/// dockerfiles. Any other template (`Docker.gitlab-ci.yml`, `Auto-DevOps.gitlab-ci.yml`,
/// `Jobs/Build.gitlab-ci.yml`, …) may.
fn builds_nothing(template: &str) -> bool {
    const ANALYSERS: &[&str] = &[
        "Security/",
        "Workflows/",
        "Jobs/SAST",
        "Jobs/Secret-Detection",
        "Jobs/Dependency-Scanning",
        "Jobs/Container-Scanning",
        "Jobs/Code-Quality",
        "Jobs/License-Scanning",
        "Code-Quality.gitlab-ci.yml",
    ];
    ANALYSERS.iter().any(|a| template.starts_with(a))
}

/// dockguard's include templates: `Some(true)` for global mode.
fn dockguard_file(path: &str) -> Option<bool> {
    let p = path.split(['?', '#']).next().unwrap_or(path);
    if p.ends_with("ci/gitlab/dockguard.yml") {
        Some(true)
    } else if p.ends_with("ci/gitlab/dockguard-content.yml")
        || p.ends_with("templates/dockguard/template.yml")
    {
        Some(false)
    } else {
        None
    }
}

/// The files one include entry brings in, each with its own includes resolved.
fn included(ctx: &mut Ctx<'_>, entry: &V, at: At, stack: &mut Vec<String>) -> Vec<Map> {
    let Some(inc) = classify(entry) else {
        ctx.problem(
            at,
            "include".into(),
            "an `include:` entry of a kind not known here".into(),
        );
        return Vec::new();
    };
    let (pattern, inputs) = match inc {
        Include::Local(p, inputs) => (p, inputs),
        Include::Outside {
            dockguard: Some(true),
            ..
        } => return vec![dockguard_global(at)],
        Include::Outside {
            kind,
            what,
            dockguard: Some(false),
        } => {
            ctx.problem(
                at,
                format!("include {kind} `{what}`"),
                "dockguard's content mode builds every image dockguard finds, so every dockerfile counts".into(),
            );
            return Vec::new();
        }
        Include::Outside { kind, what, .. } if kind == "template" && builds_nothing(&what) => {
            return Vec::new();
        }
        Include::Outside { kind, what, .. } => {
            ctx.outside = true;
            ctx.problem(
                at,
                format!("include {kind} `{what}`"),
                "a file from outside the repository may define jobs that build its dockerfiles"
                    .into(),
            );
            return Vec::new();
        }
    };
    let path = pattern.trim().trim_start_matches('/').to_owned();
    let what = format!("include `{pattern}`");
    if path.contains('$') || path.contains(ANY) {
        ctx.problem(at, what, "a path with a variable is not known here".into());
        return Vec::new();
    }
    let paths = if path.contains('*') {
        match ctx.files.glob(&path) {
            Ok(found) if !found.is_empty() => found
                .into_iter()
                .filter(|f| f.ends_with(".yml") || f.ends_with(".yaml"))
                .collect(),
            Ok(_) => {
                ctx.problem(at, what, "the pattern matches no file of the tree".into());
                return Vec::new();
            }
            Err(e) => {
                ctx.problem(at, what, e.to_string());
                return Vec::new();
            }
        }
    } else {
        vec![path]
    };
    let mut out = Vec::new();
    for p in paths {
        if stack.contains(&p) {
            continue;
        }
        ctx.includes += 1;
        if ctx.includes > MAX_INCLUDES || stack.len() >= MAX_NESTING {
            ctx.problem(
                at,
                what.clone(),
                format!("more than {MAX_INCLUDES} included files (GitLab refuses the pipeline)"),
            );
            return out;
        }
        let text = match ctx.files.read(&p) {
            Ok(Some((_, text))) => text,
            Ok(None) => {
                ctx.problem(
                    at,
                    format!("include `{p}`"),
                    "the file is not in the tree".into(),
                );
                continue;
            }
            Err(e) => {
                ctx.problem(
                    at,
                    format!("include `{p}`"),
                    format!("it cannot be read ({e})"),
                );
                continue;
            }
        };
        stack.push(p.clone());
        match load(ctx, &p, &text, inputs.as_ref(), stack) {
            Ok(m) => out.push(m),
            Err(e) => ctx.problem(
                at,
                format!("include `{p}`"),
                format!("it cannot be read as YAML ({e})"),
            ),
        }
        stack.pop();
    }
    out
}

/// The inputs of a file with a `spec:` header: the include's, else the defaults, else
/// not known here.
fn input_values(header: &Y, given: Option<&V>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let spec = header.get("spec").and_then(|s| s.get("inputs"));
    for (name, def) in spec.map(Y::entries).unwrap_or_default() {
        let default = def.get("default").and_then(Y::str).map(str::to_owned);
        out.push((name.to_owned(), default.unwrap_or_else(|| ANY.to_string())));
    }
    for (name, _, v) in given
        .and_then(V::map)
        .map(|m| m.0.clone())
        .unwrap_or_default()
    {
        let value = v.str().map_or_else(|| ANY.to_string(), str::to_owned);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    out
}

/// `$[[ inputs.NAME ]]` (with optional `| function` filters: only `truncate(a,b)` is
/// applied, any other makes the value unknown).
pub(super) fn interpolate(s: &str, values: &[(String, String)]) -> String {
    if !s.contains("$[[") {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("$[[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find("]]") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let body = after[..end].trim();
        let mut parts = body.split('|').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let mut value = name
            .strip_prefix("inputs.")
            .and_then(|n| values.iter().find(|(k, _)| k == n))
            .map_or_else(|| ANY.to_string(), |(_, v)| v.clone());
        for f in parts {
            value = match f
                .strip_prefix("truncate(")
                .and_then(|a| a.strip_suffix(')'))
                .and_then(|a| a.split_once(','))
                .and_then(|(o, l)| {
                    Some((
                        o.trim().parse::<usize>().ok()?,
                        l.trim().parse::<usize>().ok()?,
                    ))
                }) {
                Some((o, l)) if !value.contains(ANY) => value.chars().skip(o).take(l).collect(),
                _ => ANY.to_string(),
            };
        }
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What dockguard's global-mode template defines that builds: `.dockguard-container`
/// runs `docker build -f "$DOCKGUARD_DOCKERFILE" "$DOCKGUARD_CONTEXT"`.
fn dockguard_global(at: At) -> Map {
    let s = |t: &str| V::Str(t.to_owned(), at);
    let vars = Map(vec![
        ("DOCKGUARD_DOCKERFILE".into(), at, s("")),
        ("DOCKGUARD_CONTEXT".into(), at, s(".")),
    ]);
    let job = Map(vec![
        ("variables".into(), at, V::Map(vars)),
        (
            "script".into(),
            at,
            V::Seq(
                vec![s(
                    "docker build -f \"$DOCKGUARD_DOCKERFILE\" \"$DOCKGUARD_CONTEXT\"",
                )],
                at,
            ),
        ),
    ]);
    Map(vec![(".dockguard-container".into(), at, V::Map(job))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_interpolated() {
        let v = vec![("a".to_owned(), "hello".to_owned())];
        assert_eq!(
            interpolate("x $[[ inputs.a ]] $[[inputs.a | truncate(1,3)]]", &v),
            "x hello ell"
        );
        assert_eq!(interpolate("$[[ inputs.b ]]", &v), ANY.to_string());
        assert_eq!(
            interpolate("$[[ inputs.a | expand_vars ]]", &v),
            ANY.to_string()
        );
    }

    #[test]
    fn dockguard_templates_are_known() {
        assert_eq!(
            dockguard_file("https://x/raw/main/ci/gitlab/dockguard.yml"),
            Some(true)
        );
        assert_eq!(
            dockguard_file("/ci/gitlab/dockguard-content.yml"),
            Some(false)
        );
        assert_eq!(dockguard_file("ci/other.yml"), None);
    }
}
