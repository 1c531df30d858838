//! A GitLab configuration as GitLab merges it: values that remember the file and line
//! they come from ([`V`]), Rails' `deep_merge` (hashes merged key by key, the later
//! value winning; arrays and scalars replaced), `extends` (each parent resolved first,
//! parents merged in order, the job's own keys last; at most [`MAX_EXTENDS`] levels),
//! then `!reference [job, key, …]` tags resolved against the extended configuration (at
//! most [`MAX_REFERENCE_DEPTH`] levels), in GitLab's order (`Config#build_config`:
//! includes, `Extendable`, `Yaml::Tags::Resolver`).

use std::collections::HashMap;

use super::super::super::yaml::Y;

/// `extends` levels GitLab allows (`Extendable::Entry::MAX_NESTING_LEVELS`).
pub(super) const MAX_EXTENDS: usize = 10;
/// `!reference` nesting GitLab allows.
pub(super) const MAX_REFERENCE_DEPTH: usize = 10;

/// Where a value is written: a file (an index into the resolution's file list) and a
/// line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct At {
    pub file: usize,
    pub line: usize,
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum V {
    /// A scalar.
    Str(String, At),
    /// A sequence.
    Seq(Vec<V>, At),
    /// A mapping with string keys, in order.
    Map(Map),
    /// `!reference [a, b, …]`, not yet resolved.
    Ref(Vec<String>, At),
}

/// A mapping: (key, where the key is written, value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Map(pub Vec<(String, At, V)>);

impl Map {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, ..)| k == key).map(|(_, _, v)| v)
    }

    pub fn at(&self, key: &str) -> Option<At> {
        self.0.iter().find(|(k, ..)| k == key).map(|(_, a, _)| *a)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.0.iter().position(|(k, ..)| k == key)?;
        Some(self.0.remove(i).2)
    }
}

impl V {
    pub fn str(&self) -> Option<&str> {
        match self {
            V::Str(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn map(&self) -> Option<&Map> {
        match self {
            V::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.map()?.get(key)
    }

    /// Where it is written (a mapping: its first key).
    pub fn at(&self) -> At {
        match self {
            V::Str(_, a) | V::Seq(_, a) | V::Ref(_, a) => *a,
            V::Map(m) => m.0.first().map(|(_, a, _)| *a).unwrap_or_default(),
        }
    }

    /// The scalars of a value that is a scalar or a (nested) sequence, in order: GitLab
    /// flattens the nested arrays of `script` and `rules` (what `!reference` and YAML
    /// aliases leave).
    pub fn flat(&self) -> Vec<&V> {
        let mut out = Vec::new();
        fn walk<'a>(v: &'a V, out: &mut Vec<&'a V>) {
            match v {
                V::Seq(items, _) => items.iter().for_each(|i| walk(i, out)),
                other => out.push(other),
            }
        }
        walk(self, &mut out);
        out
    }

    /// The value with every `$[[ … ]]` in its strings (keys too) replaced by `f`.
    pub fn interpolated(self, f: &dyn Fn(&str) -> String) -> V {
        match self {
            V::Str(s, a) => V::Str(f(&s), a),
            V::Seq(items, a) => V::Seq(items.into_iter().map(|i| i.interpolated(f)).collect(), a),
            V::Map(m) => V::Map(Map(m
                .0
                .into_iter()
                .map(|(k, a, v)| (f(&k), a, v.interpolated(f)))
                .collect())),
            V::Ref(p, a) => V::Ref(p.iter().map(|s| f(s)).collect(), a),
        }
    }
}

/// A YAML value of file `file` as a configuration value (mappings keep their string
/// keys only).
pub(super) fn from_yaml(y: &Y, file: usize) -> V {
    let at = |line| At { file, line };
    if let Some(path) = y.reference() {
        return V::Ref(path.iter().map(|s| (*s).to_owned()).collect(), at(y.line()));
    }
    match y {
        Y::Str(s, line) => V::Str(s.clone(), at(*line)),
        Y::Seq(items) => V::Seq(
            items.iter().map(|i| from_yaml(i, file)).collect(),
            at(y.line()),
        ),
        Y::Map(entries) => V::Map(Map(entries
            .iter()
            .filter_map(|(k, v)| match k {
                Y::Str(key, line) => Some((key.clone(), at(*line), from_yaml(v, file))),
                _ => None,
            })
            .collect())),
    }
}

/// Rails' `Hash#deep_merge!`: `over` into `base`.
pub(super) fn deep_merge(base: &mut V, over: V) {
    match (base, over) {
        (V::Map(b), V::Map(o)) => merge_maps(b, o),
        (b, o) => *b = o,
    }
}

pub(super) fn merge_maps(b: &mut Map, o: Map) {
    for (k, at, v) in o.0 {
        match b.0.iter_mut().find(|(bk, ..)| *bk == k) {
            Some(slot) => {
                slot.1 = at;
                deep_merge(&mut slot.2, v);
            }
            None => b.0.push((k, at, v)),
        }
    }
}

/// What went wrong while resolving (each makes the resolution opaque there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub at: At,
    pub what: String,
    pub why: String,
}

/// Resolves every `extends` of the top-level entries.
pub(super) fn extends(cfg: &mut Map) -> Vec<Problem> {
    let mut done: HashMap<String, V> = HashMap::new();
    let mut problems = Vec::new();
    let names: Vec<String> = cfg
        .0
        .iter()
        .filter(|(_, _, v)| v.get("extends").is_some())
        .map(|(k, ..)| k.clone())
        .collect();
    for name in &names {
        extend(cfg, name, &mut Vec::new(), &mut done, &mut problems);
    }
    for (k, _, v) in &mut cfg.0 {
        if let Some(r) = done.remove(k) {
            *v = r;
        }
    }
    problems
}

fn extend(
    cfg: &Map,
    name: &str,
    stack: &mut Vec<String>,
    done: &mut HashMap<String, V>,
    problems: &mut Vec<Problem>,
) -> Option<V> {
    if let Some(v) = done.get(name) {
        return Some(v.clone());
    }
    let own = cfg.get(name)?.clone();
    let at = cfg.at(name).unwrap_or_default();
    let parents: Vec<String> = match own.get("extends") {
        Some(V::Str(s, _)) => vec![s.clone()],
        Some(v @ V::Seq(..)) => v
            .flat()
            .iter()
            .filter_map(|p| p.str().map(str::to_owned))
            .collect(),
        _ => return Some(own),
    };
    if stack.len() >= MAX_EXTENDS {
        problems.push(Problem {
            at,
            what: format!("`{name}`"),
            why: format!(
                "extends more than {MAX_EXTENDS} levels deep (GitLab refuses the pipeline)"
            ),
        });
        return Some(own);
    }
    stack.push(name.to_owned());
    let mut merged = V::Map(Map::default());
    for p in parents {
        if stack.contains(&p) {
            problems.push(Problem {
                at,
                what: format!("`{name}`"),
                why: format!("extends `{p}` in a cycle (GitLab refuses the pipeline)"),
            });
            continue;
        }
        match extend(cfg, &p, stack, done, problems) {
            Some(base @ V::Map(_)) => deep_merge(&mut merged, base),
            Some(_) => {}
            None => problems.push(Problem {
                at,
                what: format!("`{name}`"),
                why: format!("extends `{p}`, which no file of the pipeline defines"),
            }),
        }
    }
    stack.pop();
    deep_merge(&mut merged, own);
    done.insert(name.to_owned(), merged.clone());
    Some(merged)
}

/// Resolves every `!reference` against the (extended) configuration.
pub(super) fn references(cfg: &mut Map) -> Vec<Problem> {
    let source = cfg.clone();
    let mut problems = Vec::new();
    for (_, _, v) in &mut cfg.0 {
        resolve_refs(v, &source, 0, &mut problems);
    }
    problems
}

fn resolve_refs(v: &mut V, source: &Map, depth: usize, problems: &mut Vec<Problem>) {
    match v {
        V::Ref(path, at) => {
            let at = *at;
            let shown = format!("!reference [{}]", path.join(", "));
            if depth >= MAX_REFERENCE_DEPTH {
                problems.push(Problem {
                    at,
                    what: shown,
                    why: format!("nested more than {MAX_REFERENCE_DEPTH} levels (GitLab refuses the pipeline)"),
                });
                *v = V::Seq(Vec::new(), at);
                return;
            }
            let mut found: Option<&V> = None;
            for (i, key) in path.iter().enumerate() {
                found = if i == 0 {
                    source.get(key)
                } else {
                    found.and_then(|f| f.get(key))
                };
            }
            match found {
                Some(target) => {
                    let mut target = target.clone();
                    resolve_refs(&mut target, source, depth + 1, problems);
                    *v = target;
                }
                None => {
                    problems.push(Problem {
                        at,
                        what: shown,
                        why: "names nothing the pipeline defines".into(),
                    });
                    *v = V::Seq(Vec::new(), at);
                }
            }
        }
        V::Seq(items, _) => items
            .iter_mut()
            .for_each(|i| resolve_refs(i, source, depth, problems)),
        V::Map(m) => {
            m.0.iter_mut()
                .for_each(|(_, _, i)| resolve_refs(i, source, depth, problems))
        }
        V::Str(..) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::yaml;

    fn cfg(text: &str) -> Map {
        match from_yaml(&yaml::load(text).expect("yaml")[0], 0) {
            V::Map(m) => m,
            _ => panic!("a map"),
        }
    }

    fn script(m: &Map, job: &str) -> Vec<String> {
        m.get(job)
            .and_then(|j| j.get("script"))
            .map(|s| {
                s.flat()
                    .iter()
                    .filter_map(|v| v.str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn extends_merges_hashes_and_the_last_parent_wins() {
        let mut m = cfg(
            ".a:\n  script: a\n  variables: {X: a, Y: a}\n.b:\n  script: b\n  variables: {Y: b}\n.c:\n  extends: .a\nd:\n  extends: [.b, .c]\n  variables: {Z: d}\n",
        );
        assert!(extends(&mut m).is_empty());
        assert_eq!(
            script(&m, "d"),
            vec!["a"],
            "the last member (.c, from .a) wins"
        );
        let vars = m
            .get("d")
            .and_then(|d| d.get("variables"))
            .expect("variables");
        let get = |k: &str| vars.get(k).and_then(V::str).map(str::to_owned);
        assert_eq!(
            (get("X"), get("Y"), get("Z")),
            (Some("a".into()), Some("a".into()), Some("d".into()))
        );
    }

    #[test]
    fn references_resolve_after_extends_and_problems_are_said() {
        let mut m = cfg(
            ".base:\n  script: [one, two]\n.t:\n  extends: .base\nj:\n  script:\n    - !reference [.t, script]\n    - three\nk:\n  extends: .gone\n  script: !reference [.nope, script]\nl:\n  extends: .l\n",
        );
        let p = extends(&mut m);
        assert_eq!(p.len(), 2, "{p:?}");
        let p = references(&mut m);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(script(&m, "j"), vec!["one", "two", "three"]);
    }
}
