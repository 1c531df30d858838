//! The jobs of a resolved pipeline and the builds they run.
//!
//! A job runs unless it is hidden (`.name`), its `when:` is `never`, or every one of its
//! `rules:` is `when: never`; anything else may run. Each way it may run is read on its
//! own: every `parallel: matrix:` combination (a job with those variables), and every
//! rule that sets `variables:`. Its variables, lowest first: the global `variables:`
//! (unless `inherit: variables:` says otherwise), the job's own (merged through
//! `extends`), the matrix values, the rule's, and for a child pipeline what its trigger
//! job passes; values expanded (`$VAR`, `${VAR}`, `$$`) with the others as the runner
//! does, `expand: false` kept as written, `CI_PROJECT_DIR` the repository root, anything
//! else not known here. `before_script` (the job's, else `default:`'s) and `script` run in
//! one shell, `after_script` in another ([`super::super::script`]). `trigger: include:`
//! of a local file is a child pipeline, resolved the same way.

use std::collections::HashMap;

use super::super::super::buildcmd::{FileTool, Invocation};
use super::super::super::dockerfile::ANY;
use super::super::super::shwords::ROOT;
use super::super::script::{shown, Scripts, Shell};
use super::super::{from_call, kind, resolve_kind, Declared, Kind, Opaque, Origin};
use super::merge::{Map, V};
use super::Ctx;

/// Top-level keys that are not jobs.
const RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "types",
    "variables",
    "workflow",
    "spec",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
];
/// Keys `default:` (or the old top-level form) gives a job that has none.
const DEFAULTS: &[&str] = &["before_script", "after_script"];
/// How a hidden job's builds are named: only a job from outside the tree (an include
/// that is opaque) could run them, so they are read only then, as what such a job may
/// build ([`super::super::Declaration::maybe`]).
pub(crate) const HIDDEN: &str = "hidden job";
/// Combinations of one job's `parallel: matrix:` read at most (GitLab allows 200).
const MAX_MATRIX: usize = 200;

/// A CI variable as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Var {
    pub value: String,
    pub expand: bool,
}

/// The variables of a `variables:` mapping, in order.
pub(super) fn variables(v: Option<&V>) -> Vec<(String, Var)> {
    let Some(m) = v.and_then(V::map) else {
        return Vec::new();
    };
    m.0.iter()
        .filter_map(|(k, _, v)| {
            let var = match v {
                V::Str(s, _) => Var {
                    value: s.clone(),
                    expand: true,
                },
                V::Map(m) => Var {
                    value: m
                        .get("value")
                        .and_then(V::str)
                        .unwrap_or_default()
                        .to_owned(),
                    expand: m.get("expand").and_then(V::str) != Some("false"),
                },
                _ => return None,
            };
            Some((k.clone(), var))
        })
        .collect()
}

/// Overlays `over` on `base` (a later definition wins).
fn overlay(base: &mut Vec<(String, Var)>, over: &[(String, Var)]) {
    for (k, v) in over {
        match base.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.clone(),
            None => base.push((k.clone(), v.clone())),
        }
    }
}

/// The values the runner gives the variables: each expanded with the others.
pub(super) fn expand_all(vars: &[(String, Var)]) -> HashMap<String, String> {
    let table: HashMap<&str, &Var> = vars.iter().map(|(k, v)| (k.as_str(), v)).collect();
    vars.iter()
        .map(|(k, _)| (k.clone(), expand_one(k, &table, 0)))
        .collect()
}

fn expand_one(name: &str, table: &HashMap<&str, &Var>, depth: usize) -> String {
    let Some(var) = table.get(name) else {
        return match name {
            "CI_PROJECT_DIR" => ROOT.to_string(),
            _ => ANY.to_string(),
        };
    };
    if !var.expand {
        return var.value.clone();
    }
    if depth > 16 {
        return ANY.to_string();
    }
    let mut out = String::new();
    let mut chars = var.value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut n = String::new();
        match chars.peek() {
            Some('$') => {
                chars.next();
                out.push('$');
                continue;
            }
            Some('{') => {
                chars.next();
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                    n.push(d);
                }
            }
            _ => {
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        n.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
        }
        if n.is_empty() {
            out.push('$');
        } else if n == name {
            out.push(ANY);
        } else {
            out.push_str(&expand_one(&n, table, depth + 1));
        }
    }
    out
}

/// What a pipeline's jobs build, into `out`. `pipeline` are the variables a parent's
/// trigger job passes (highest precedence); `depth` is how deep the child is.
pub(super) fn declare(
    ctx: &mut Ctx<'_>,
    scripts: &mut Scripts<'_>,
    cfg: &Map,
    pipeline: &[(String, Var)],
    depth: usize,
    out: &mut Declared,
) {
    let Some(globals) = pipeline_ways(cfg) else {
        return;
    };
    let default = cfg.get("default").and_then(V::map);
    for (name, at, job) in &cfg.0 {
        let hidden = name.starts_with('.');
        if RESERVED.contains(&name.as_str()) || (hidden && !ctx.outside) {
            continue;
        }
        let Some(job) = job.map() else { continue };
        if job.get("when").and_then(V::str) == Some("never") {
            continue;
        }
        let rule_vars = rule_ways(job);
        if rule_vars.is_empty() {
            continue;
        }
        let matrix = matrix(job);
        for g in &globals {
            for m in &matrix {
                for r in &rule_vars {
                    let mut vars = inherited(job, g);
                    overlay(&mut vars, &variables(job.get("variables")));
                    overlay(&mut vars, &m.1);
                    overlay(&mut vars, r);
                    overlay(&mut vars, pipeline);
                    let shown_name = match &m.0 {
                        Some(values) => format!("{name}: [{values}]"),
                        None => name.clone(),
                    };
                    let origin = Origin {
                        file: ctx.name(*at).to_owned(),
                        line: at.line,
                        what: if hidden {
                            format!("{HIDDEN} `{shown_name}` (a job from outside the tree may extend it)")
                        } else {
                            format!("job `{shown_name}`")
                        },
                    };
                    if let Some(trigger) = job.get("trigger") {
                        child(ctx, scripts, trigger, &vars, &origin, depth, out);
                        continue;
                    }
                    run(ctx, scripts, job, default, cfg, &vars, &origin, out);
                }
            }
        }
    }
}

/// The global variables of each way the pipeline may be created: `variables:`, and
/// each workflow rule's `variables:` over them; `None` when every workflow rule is
/// `when: never` (no pipeline).
fn pipeline_ways(cfg: &Map) -> Option<Vec<Vec<(String, Var)>>> {
    let rules = cfg
        .get("workflow")
        .and_then(|w| w.get("rules"))
        .map(V::flat)
        .unwrap_or_default();
    if !rules.is_empty() && rules.iter().all(|r| never(r)) {
        return None;
    }
    let global = variables(cfg.get("variables"));
    let mut ways = vec![global.clone()];
    for r in rules.iter().filter(|r| !never(r)) {
        let vars = variables(r.get("variables"));
        if !vars.is_empty() {
            let mut g = global.clone();
            overlay(&mut g, &vars);
            ways.push(g);
        }
    }
    Some(ways)
}

/// The variables each of a job's rules that may apply sets (one way without rules);
/// empty when every rule is `when: never`.
fn rule_ways(job: &Map) -> Vec<Vec<(String, Var)>> {
    let rules = job.get("rules").map(V::flat).unwrap_or_default();
    if rules.is_empty() {
        return vec![Vec::new()];
    }
    let mut ways: Vec<Vec<(String, Var)>> = Vec::new();
    for r in rules.iter().filter(|r| !never(r)) {
        let v = variables(r.get("variables"));
        if !ways.contains(&v) {
            ways.push(v);
        }
    }
    ways
}

fn never(rule: &V) -> bool {
    rule.get("when").and_then(V::str) == Some("never")
}

/// The global variables a job inherits (`inherit: variables: false` / a list).
fn inherited(job: &Map, global: &[(String, Var)]) -> Vec<(String, Var)> {
    match job.get("inherit").and_then(|i| i.get("variables")) {
        Some(V::Str(s, _)) if s == "false" => Vec::new(),
        Some(list @ V::Seq(..)) => {
            let names: Vec<&str> = list.flat().iter().filter_map(|v| v.str()).collect();
            global
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .cloned()
                .collect()
        }
        _ => global.to_vec(),
    }
}

/// Whether a job takes `default:`'s `key` (`inherit: default: false` / a list).
fn inherits_default(job: &Map, key: &str) -> bool {
    match job.get("inherit").and_then(|i| i.get("default")) {
        Some(V::Str(s, _)) if s == "false" => false,
        Some(list @ V::Seq(..)) => list.flat().iter().any(|v| v.str() == Some(key)),
        _ => true,
    }
}

/// A `parallel: matrix:` combination: how GitLab shows its values (`None`: no matrix),
/// and its variables.
type Combination = (Option<String>, Vec<(String, Var)>);

/// Each `parallel: matrix:` combination: its shown values and variables (one
/// combination without variables when there is no matrix).
fn matrix(job: &Map) -> Vec<Combination> {
    let entries = job
        .get("parallel")
        .and_then(|p| p.get("matrix"))
        .map(V::flat)
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in entries {
        let Some(m) = e.map() else { continue };
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (k, _, v) in &m.0 {
            let values: Vec<String> = v
                .flat()
                .iter()
                .filter_map(|x| x.str().map(str::to_owned))
                .collect();
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |val| {
                        let mut c = c.clone();
                        c.push((k.clone(), val.clone()));
                        c
                    })
                })
                .take(MAX_MATRIX)
                .collect();
        }
        for c in combos {
            let shown = c
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let vars = c
                .into_iter()
                .map(|(k, value)| {
                    (
                        k,
                        Var {
                            value,
                            expand: true,
                        },
                    )
                })
                .collect();
            out.push((Some(shown), vars));
        }
    }
    if out.is_empty() {
        out.push((None, Vec::new()));
    }
    out.truncate(MAX_MATRIX);
    out
}

/// The script lines of `key` (the job's, else `default:`'s, else the old top-level
/// form's).
fn lines<'a>(job: &'a Map, default: Option<&'a Map>, cfg: &'a Map, key: &str) -> Vec<&'a V> {
    if let Some(v) = job.get(key) {
        return v.flat();
    }
    if DEFAULTS.contains(&key) && inherits_default(job, key) {
        if let Some(v) = default.and_then(|d| d.get(key)).or_else(|| cfg.get(key)) {
            return v.flat();
        }
    }
    Vec::new()
}

#[allow(clippy::too_many_arguments)]
fn run(
    ctx: &mut Ctx<'_>,
    scripts: &mut Scripts<'_>,
    job: &Map,
    default: Option<&Map>,
    cfg: &Map,
    vars: &[(String, Var)],
    origin: &Origin,
    out: &mut Declared,
) {
    let values = expand_all(vars);
    let mut shells: Vec<Vec<&V>> = Vec::new();
    let mut main = lines(job, default, cfg, "before_script");
    main.extend(lines(job, default, cfg, "script"));
    shells.push(main);
    shells.push(lines(job, default, cfg, "after_script"));
    for lines in shells {
        let mut sh = Shell::new(values.clone());
        let first = scripts.found.len();
        let first_unknown = scripts.unknown.len();
        for l in lines {
            if let V::Str(text, at) = l {
                let file = ctx.name(*at).to_owned();
                scripts.run(text, &file, at.line, &mut sh);
            }
        }
        let found: Vec<_> = scripts.found.drain(first..).collect();
        for f in found {
            let at = format!("{}:{}", f.file, f.line);
            match f.call {
                Invocation::Build(mut call) => {
                    call.command = format!("{} ({at})", call.command);
                    from_call(out, origin, call);
                }
                Invocation::Files(fb) => file_build(ctx, &fb, origin, &at, out),
            }
        }
        for u in scripts.unknown.drain(first_unknown..).collect::<Vec<_>>() {
            push_opaque(
                out,
                Origin {
                    file: u.file,
                    line: u.line,
                    what: origin.what.clone(),
                },
                u.why,
            );
        }
    }
}

fn push_opaque(out: &mut Declared, origin: Origin, why: String) {
    if !out
        .opaque
        .iter()
        .any(|o| o.origin == origin && o.why == why)
    {
        out.opaque.push(Opaque { origin, why });
    }
}

/// `docker compose … build` / `docker buildx bake`: the compose or bake files it names
/// (its default files are entry files of their own).
fn file_build(
    ctx: &mut Ctx<'_>,
    fb: &super::super::super::buildcmd::FileBuild,
    origin: &Origin,
    at: &str,
    out: &mut Declared,
) {
    let what = format!("{}: {} ({at})", origin.what, fb.command);
    let here = Origin {
        what: what.clone(),
        ..origin.clone()
    };
    if let Some(why) = &fb.unknown {
        push_opaque(out, here.clone(), why.clone());
    }
    for f in &fb.files {
        if f.contains(ANY) {
            push_opaque(
                out,
                here.clone(),
                format!("reads `{}`, a file not known here", shown(f)),
            );
            continue;
        }
        if kind(f.as_bytes()).is_some() {
            continue;
        }
        let k = match (fb.tool, f.rsplit('.').next()) {
            (_, Some("hcl")) => Kind::BakeHcl,
            (FileTool::Bake, Some("json")) => Kind::BakeJson,
            _ => Kind::Compose,
        };
        match ctx.files.read(f) {
            Ok(Some((_, text))) => {
                let d = resolve_kind(k, f, &text, ctx.files);
                out.decls.extend(d.decls);
                out.opaque.extend(d.opaque);
                out.warnings.extend(d.warnings);
            }
            Ok(None) => push_opaque(
                out,
                here.clone(),
                format!("reads `{f}`, which is not in the tree (generated?)"),
            ),
            Err(e) => push_opaque(
                out,
                here.clone(),
                format!("reads `{f}`, which cannot be read ({e})"),
            ),
        }
    }
}

/// A trigger job: `trigger: include:` of a local file is a child pipeline; one that is
/// generated (`artifact:`) or from outside is opaque; another project's builds nothing
/// of this repository.
fn child(
    ctx: &mut Ctx<'_>,
    scripts: &mut Scripts<'_>,
    trigger: &V,
    vars: &[(String, Var)],
    origin: &Origin,
    depth: usize,
    out: &mut Declared,
) {
    let Some(include) = trigger.get("include") else {
        return;
    };
    let forward = trigger
        .get("forward")
        .and_then(|f| f.get("yaml_variables"))
        .and_then(V::str)
        != Some("false");
    let values = expand_all(vars);
    let passed: Vec<(String, Var)> = if forward {
        vars.iter()
            .map(|(k, _)| {
                (
                    k.clone(),
                    Var {
                        value: values.get(k).cloned().unwrap_or_default(),
                        expand: false,
                    },
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let items: Vec<&V> = match include {
        V::Seq(..) => include.flat(),
        other => vec![other],
    };
    for item in items {
        let local = match item {
            V::Str(s, _) => Some(s.clone()),
            V::Map(m) => m.get("local").and_then(V::str).map(str::to_owned),
            _ => None,
        };
        let Some(path) = local.filter(|p| !p.contains('$')) else {
            let what = if item.get("artifact").is_some() {
                "a child pipeline generated by a job (`trigger: include: artifact:`)"
            } else {
                "a child pipeline from outside the tree or a file not known here"
            };
            push_opaque(out, origin.clone(), format!("triggers {what}"));
            continue;
        };
        if depth >= 2 {
            push_opaque(
                out,
                origin.clone(),
                "triggers a child pipeline nested deeper than GitLab allows".into(),
            );
            continue;
        }
        let path = path.trim_start_matches('/').to_owned();
        super::pipeline(ctx, scripts, &path, &passed, depth + 1, origin, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_with_each_other() {
        let v = |s: &str| Var {
            value: s.into(),
            expand: true,
        };
        let vars = vec![
            ("A".to_owned(), v("$B/x")),
            ("B".to_owned(), v("${C}-b")),
            ("C".to_owned(), v("c")),
            (
                "D".to_owned(),
                Var {
                    value: "$A".into(),
                    expand: false,
                },
            ),
            ("E".to_owned(), v("$$A $UNKNOWN $CI_PROJECT_DIR $E")),
        ];
        let e = expand_all(&vars);
        assert_eq!(e["A"], "c-b/x");
        assert_eq!(e["D"], "$A");
        assert_eq!(e["E"], format!("$A {ANY} {ROOT} {ANY}"));
    }
}
