//! Evaluating a bake definition: variables, string templates, groups, targets with what
//! they inherit, and `--set` overrides.

use std::collections::HashMap;

use super::super::super::dockerfile::ANY;
use super::super::Origin;
use super::hcl::V;
use super::{glob_match, merge, merge_pairs, Def, TargetDef, MAX_DEPTH};

/// A value, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Val {
    /// Text ([`ANY`] where unknown).
    Str(String),
    Null,
    List(Vec<Val>),
    Obj(Vec<(String, Val)>),
    Unknown,
}

impl Val {
    fn text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Unknown => Some(ANY.to_string()),
            _ => None,
        }
    }
}

/// One resolved target.
#[derive(Debug, Clone, Default)]
pub(super) struct Resolved {
    pub(super) file: String,
    pub(super) line: usize,
    pub(super) context: Option<String>,
    pub(super) dockerfile: Option<String>,
    pub(super) inline: Option<String>,
    pub(super) target: Option<String>,
    pub(super) args: Vec<(String, Option<String>)>,
    pub(super) contexts: Vec<(String, String)>,
    pub(super) matrix: bool,
}

pub(super) struct Run<'a> {
    pub(super) def: &'a Def,
    pub(super) cwd: &'a str,
    pub(super) env: &'a HashMap<String, String>,
    pub(super) sets: &'a [String],
    pub(super) by: Option<&'a Origin>,
}

impl Run<'_> {
    /// A variable's value (`None`: unknown).
    fn var(&self, name: &str, depth: usize) -> Option<String> {
        if let Some(v) = self.env.get(name) {
            return Some(v.clone());
        }
        if depth > MAX_DEPTH {
            return None;
        }
        let from_block = self.def.vars.iter().rev().find(|(n, _)| n == name);
        let v = match from_block {
            Some((_, Some(default))) => default,
            Some((_, None)) => return None,
            None => &self.def.globals.iter().rev().find(|(n, _)| n == name)?.1,
        };
        match self.eval(v, depth + 1) {
            Val::Str(s) if !s.contains(ANY) => Some(s),
            _ => None,
        }
    }

    /// A string template: `${NAME}` the variable, `$${` a literal; anything else inside
    /// `${…}` or a `%{…}` directive is unknown.
    pub(super) fn template(&self, s: &str, depth: usize) -> String {
        let mut out = String::new();
        let mut rest = s;
        loop {
            let next = [rest.find("${"), rest.find("%{")]
                .into_iter()
                .flatten()
                .min();
            let Some(i) = next else { break };
            let escaped = i > 0 && rest.as_bytes()[i - 1] == rest.as_bytes()[i];
            if escaped {
                // `$${` and `%%{` are a literal `${` and `%{`.
                out.push_str(&rest[..i]);
                out.push('{');
                rest = &rest[i + 2..];
                continue;
            }
            out.push_str(&rest[..i]);
            let directive = rest.as_bytes()[i] == b'%';
            let after = &rest[i + 2..];
            let end = after.find('}').unwrap_or(after.len());
            let expr = after[..end]
                .trim()
                .trim_start_matches('~')
                .trim_end_matches('~')
                .trim();
            let ident = !expr.is_empty()
                && expr
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            match (directive, ident) {
                (false, true) => match self.var(expr, depth) {
                    Some(v) => out.push_str(&v),
                    None => out.push(ANY),
                },
                _ => out.push(ANY),
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        out
    }

    fn eval(&self, v: &V, depth: usize) -> Val {
        if depth > MAX_DEPTH {
            return Val::Unknown;
        }
        match v {
            V::Str(s) => Val::Str(self.template(s, depth)),
            V::Lit(s) => Val::Str(s.clone()),
            V::Null => Val::Null,
            V::Ref(name) => self.var(name, depth + 1).map_or(Val::Unknown, Val::Str),
            V::List(items) => Val::List(items.iter().map(|i| self.eval(i, depth + 1)).collect()),
            V::Obj(items) => Val::Obj(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), self.eval(v, depth + 1)))
                    .collect(),
            ),
            V::Unknown => Val::Unknown,
        }
    }

    fn names(&self, v: &V) -> Vec<String> {
        match self.eval(v, 0) {
            Val::List(items) => items.iter().filter_map(Val::text).collect(),
            Val::Str(s) => vec![s],
            _ => Vec::new(),
        }
    }

    /// The targets `names` stand for (groups expanded); `default` with neither a group
    /// nor a target of that name builds nothing.
    pub(super) fn expand(&self, names: &[String], depth: usize, into: &mut Vec<String>) {
        for n in names {
            if let Some((_, members)) = self.def.groups.iter().rev().find(|(g, _)| g == n) {
                if depth < MAX_DEPTH {
                    let members: Vec<String> = members.iter().flat_map(|m| self.names(m)).collect();
                    self.expand(&members, depth + 1, into);
                }
            } else if (n != "default" || self.def.targets.iter().any(|t| t.name == "default"))
                && !into.contains(n)
            {
                into.push(n.clone());
            }
        }
    }

    /// A target with what it inherits (`None`: no such target).
    pub(super) fn target(&self, name: &str, chain: &mut Vec<String>) -> Option<Resolved> {
        let defs: Vec<&TargetDef> = self.def.targets.iter().filter(|t| t.name == name).collect();
        let first = defs.first()?;
        let mut r = Resolved {
            file: first.file.clone(),
            line: first.line,
            ..Resolved::default()
        };
        let attrs: Vec<&(String, V)> = defs.iter().flat_map(|d| d.attrs.iter()).collect();
        let inherits = attrs
            .iter()
            .rev()
            .find(|(k, _)| k == "inherits")
            .map(|(_, v)| self.names(v))
            .unwrap_or_default();
        if chain.len() < MAX_DEPTH && !chain.iter().any(|c| c == name) {
            chain.push(name.to_owned());
            for parent in inherits {
                if let Some(p) = self.target(&parent, chain) {
                    merge(&mut r, p);
                }
            }
            chain.pop();
        }
        for (k, v) in attrs {
            self.apply(&mut r, k, &self.eval(v, 0));
        }
        Some(r)
    }

    /// Sets one attribute of a target.
    fn apply(&self, r: &mut Resolved, key: &str, v: &Val) {
        let pairs = |v: &Val| -> Vec<(String, Option<String>)> {
            match v {
                Val::Obj(items) => items
                    .iter()
                    .map(|(k, v)| (k.clone(), v.text().filter(|t| !t.contains(ANY))))
                    .collect(),
                _ => Vec::new(),
            }
        };
        match key {
            "context" => r.context = v.text(),
            "dockerfile" => r.dockerfile = v.text(),
            "dockerfile-inline" => r.inline = v.text(),
            "target" => r.target = v.text(),
            "args" => merge_pairs(&mut r.args, pairs(v)),
            "contexts" => {
                let c: Vec<(String, String)> = match v {
                    Val::Obj(items) => items
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.text()?)))
                        .collect(),
                    _ => Vec::new(),
                };
                merge_pairs(&mut r.contexts, c);
            }
            "matrix" => r.matrix = true,
            _ => {}
        }
    }

    /// `--set` overrides for `name`.
    pub(super) fn overrides(&self, name: &str, r: &mut Resolved) {
        for s in self.sets {
            let Some((key, value)) = s.split_once('=') else {
                continue;
            };
            let key = key.trim_end_matches('+');
            let mut parts = key.splitn(3, '.');
            let (Some(pattern), Some(attr)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !glob_match(pattern, name) {
                continue;
            }
            let value = Val::Str(value.to_owned());
            match (attr, parts.next()) {
                ("args" | "contexts", Some(k)) => {
                    self.apply(r, attr, &Val::Obj(vec![(k.to_owned(), value)]))
                }
                (a, None) => self.apply(r, a, &value),
                _ => {}
            }
        }
    }
}
