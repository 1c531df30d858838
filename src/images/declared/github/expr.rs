//! GitHub Actions expressions (`${{ … }}`) as far as they decide a build, and
//! `strategy.matrix` expanded into its combinations as GitHub expands it.
//!
//! Evaluated: `matrix.*`, `env.*`, `inputs.*`, `github.workspace` (the repository root),
//! `github.action_path` (a local action's directory), string, number and boolean
//! literals, `a || b`, and `format('…{0}…', …)`. A property that is not set is the empty
//! string, as GitHub makes it; any other context (`steps`, `needs`, `github.sha`, …) or
//! function is unknown text ([`ANY`]).

use std::collections::HashMap;

use super::super::super::dockerfile::ANY;
use super::super::super::yaml::Y;

/// A matrix value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum M {
    Str(String),
    List(Vec<M>),
    Map(Vec<(String, M)>),
}

impl M {
    pub(crate) fn of(y: &Y) -> M {
        match y {
            Y::Str(s, _) => M::Str(s.clone()),
            Y::Seq(v) => M::List(v.iter().map(M::of).collect()),
            Y::Map(m) => M::Map(
                m.iter()
                    .filter_map(|(k, v)| Some((k.str()?.to_owned(), M::of(v))))
                    .collect(),
            ),
        }
    }

    fn get(&self, key: &str) -> Option<&M> {
        match self {
            M::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether every key of `part` has this value here (objects compared the same way).
    fn contains(&self, part: &M) -> bool {
        match (self, part) {
            (M::Map(_), M::Map(p)) => p
                .iter()
                .all(|(k, v)| self.get(k).is_some_and(|mine| mine.contains(v))),
            (a, b) => a == b,
        }
    }
}

/// The most combinations a matrix may have (GitHub's limit).
pub(crate) const MAX_COMBINATIONS: usize = 256;

/// The combinations of a `strategy.matrix` (`Ok(None)`: no matrix; `Err`: not known
/// here, an expression or too large).
pub(crate) fn combinations(matrix: Option<&Y>) -> Result<Option<Vec<M>>, String> {
    let Some(matrix) = matrix else {
        return Ok(None);
    };
    let Y::Map(entries) = matrix else {
        return Err("its matrix is an expression".into());
    };
    let mut combos: Vec<Vec<(String, M)>> = vec![Vec::new()];
    let mut keys = Vec::new();
    for (k, v) in entries {
        let Some(k) = k.str() else { continue };
        if k == "include" || k == "exclude" {
            continue;
        }
        let Y::Seq(values) = v else {
            return Err(format!("its matrix key `{k}` is an expression"));
        };
        keys.push(k.to_owned());
        let mut next = Vec::new();
        for c in &combos {
            for value in values {
                let mut c = c.clone();
                c.push((k.to_owned(), M::of(value)));
                next.push(c);
            }
        }
        if next.len() > MAX_COMBINATIONS {
            return Err(format!(
                "its matrix has more than {MAX_COMBINATIONS} combinations"
            ));
        }
        combos = next;
    }
    let mut combos: Vec<M> = if keys.is_empty() {
        Vec::new()
    } else {
        combos.into_iter().map(M::Map).collect()
    };
    match matrix.get("exclude") {
        Some(Y::Seq(ex)) => {
            let ex: Vec<M> = ex.iter().map(M::of).collect();
            combos.retain(|c| !ex.iter().any(|e| c.contains(e)));
        }
        Some(_) => return Err("its matrix exclude is an expression".into()),
        None => {}
    }
    let original = combos.len();
    match matrix.get("include") {
        Some(Y::Seq(inc)) => {
            for entry in inc {
                let M::Map(pairs) = M::of(entry) else {
                    return Err("its matrix include is not a list of objects".into());
                };
                let mut added = false;
                for c in combos.iter_mut().take(original) {
                    // Added to every combination whose original values it does not change.
                    let fits = pairs
                        .iter()
                        .filter(|(k, _)| keys.contains(k))
                        .all(|(k, v)| c.get(k) == Some(v));
                    if fits {
                        if let M::Map(m) = c {
                            for (k, v) in &pairs {
                                match m.iter_mut().find(|(mk, _)| mk == k) {
                                    Some(slot) if !keys.contains(k) => slot.1 = v.clone(),
                                    Some(_) => {}
                                    None => m.push((k.clone(), v.clone())),
                                }
                            }
                        }
                        added = true;
                    }
                }
                if !added {
                    combos.push(M::Map(pairs));
                }
            }
        }
        Some(_) => return Err("its matrix include is an expression".into()),
        None => {}
    }
    if combos.len() > MAX_COMBINATIONS {
        return Err(format!(
            "its matrix has more than {MAX_COMBINATIONS} combinations"
        ));
    }
    Ok(Some(combos))
}

/// What expressions see.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx {
    /// The job's matrix combination (`None`: no matrix).
    pub matrix: Option<M>,
    /// Whether the matrix is not known here (every `matrix.*` is unknown).
    pub matrix_unknown: bool,
    /// Environment variables set by the workflow, job and step (and the caller's step, in
    /// an action).
    pub env: HashMap<String, String>,
    /// Inputs of a reusable workflow or an action (`None`: not known here).
    pub inputs: Option<HashMap<String, String>>,
    /// A local action's directory.
    pub action_path: Option<String>,
}

/// `s` with its `${{ … }}` expressions evaluated (unknown text as [`ANY`]).
pub(crate) fn substitute(s: &str, ctx: &Ctx) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else {
            out.push(ANY);
            return out;
        };
        out.push_str(&eval(after[..end].trim(), ctx).unwrap_or_else(|| ANY.to_string()));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// An expression's value as text (`None`: unknown).
fn eval(e: &str, ctx: &Ctx) -> Option<String> {
    let e = e.trim();
    if let Some(parts) = split_top(e, "||") {
        for p in &parts {
            match eval(p, ctx) {
                Some(v) if v.is_empty() || v == "false" || v == "null" || v == "0" => continue,
                other => return other,
            }
        }
        return Some(String::new());
    }
    if let Some(inner) = e.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(inner.replace("''", "'"));
    }
    if e == "true" || e == "false" || e.parse::<f64>().is_ok() {
        return Some(e.to_owned());
    }
    if e == "null" {
        return Some(String::new());
    }
    if let Some(args) = e.strip_prefix("format(").and_then(|r| r.strip_suffix(')')) {
        let args = split_top(args, ",").unwrap_or_else(|| vec![args.to_owned()]);
        let mut values = Vec::new();
        for a in &args {
            values.push(eval(a, ctx)?);
        }
        let (template, values) = values.split_first()?;
        let mut out = template.clone();
        for (i, v) in values.iter().enumerate() {
            out = out.replace(&format!("{{{i}}}"), v);
        }
        return Some(out);
    }
    property(e, ctx)
}

/// `a.b['c']` as a path of names.
fn path(e: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = e;
    let name = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end > 0 {
            if !name(&rest[..end]) {
                return None;
            }
            out.push(rest[..end].to_owned());
        }
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("['") {
            let close = r.find("']")?;
            out.push(r[..close].to_owned());
            rest = &r[close + 2..];
        } else if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn property(e: &str, ctx: &Ctx) -> Option<String> {
    let p = path(e)?;
    let rest = &p[1..];
    match p[0].as_str() {
        "matrix" => {
            if ctx.matrix_unknown {
                return None;
            }
            let mut v = ctx.matrix.as_ref();
            for k in rest {
                v = v.and_then(|m| m.get(k));
            }
            match v {
                None => Some(String::new()),
                Some(M::Str(s)) => Some(s.clone()),
                Some(_) => None,
            }
        }
        "env" => match rest {
            [k] => Some(ctx.env.get(k).cloned().unwrap_or_default()),
            _ => None,
        },
        "inputs" => match (rest, &ctx.inputs) {
            ([k], Some(inputs)) => Some(inputs.get(k).cloned().unwrap_or_default()),
            _ => None,
        },
        "github" => match rest {
            [k] if k == "workspace" => Some(".".into()),
            [k] if k == "action_path" => ctx.action_path.clone(),
            _ => None,
        },
        _ => None,
    }
}

/// `e` split at `sep` outside quotes and parentheses (`None`: no `sep` there).
fn split_top(e: &str, sep: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    let b = e.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ if !quoted && depth == 0 && e[i..].starts_with(sep) => {
                parts.push(e[start..i].trim().to_owned());
                i += sep.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(e[start..].trim().to_owned());
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::super::super::super::yaml;
    use super::*;

    fn combos(text: &str) -> Vec<String> {
        let y = yaml::load(text).expect("yaml").remove(0);
        let c = combinations(Some(&y)).expect("known").expect("a matrix");
        c.iter()
            .map(|m| {
                let M::Map(pairs) = m else { panic!() };
                pairs
                    .iter()
                    .map(|(k, v)| match v {
                        M::Str(s) => format!("{k}={s}"),
                        _ => format!("{k}=…"),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    #[test]
    fn matrices_expand_as_github_does() {
        // GitHub's documented example of include.
        assert_eq!(
            combos("fruit: [apple, pear]\nanimal: [cat, dog]\ninclude:\n  - color: green\n  - color: pink\n    animal: cat\n  - fruit: apple\n    shape: circle\n  - fruit: banana\n  - fruit: banana\n    animal: cat\n"),
            [
                "fruit=apple,animal=cat,color=pink,shape=circle",
                "fruit=apple,animal=dog,color=green,shape=circle",
                "fruit=pear,animal=cat,color=pink",
                "fruit=pear,animal=dog,color=green",
                "fruit=banana",
                "fruit=banana,animal=cat",
            ]
        );
        assert_eq!(
            combos("os: [a, b]\nv: [1, 2]\nexclude:\n  - os: a\n    v: 2\n"),
            ["os=a,v=1", "os=b,v=1", "os=b,v=2"]
        );
        assert_eq!(combos("include:\n  - n: x\n  - n: y\n"), ["n=x", "n=y"]);
        let y = yaml::load("m: ${{ fromJSON(x) }}").expect("yaml").remove(0);
        assert!(combinations(y.get("m")).is_err());
    }

    #[test]
    fn expressions() {
        let ctx = Ctx {
            matrix: Some(M::Map(vec![
                ("name".into(), M::Str("deb".into())),
                (
                    "cfg".into(),
                    M::Map(vec![("dir".into(), M::Str("d".into()))]),
                ),
            ])),
            env: HashMap::from([("E".to_owned(), "e".to_owned())]),
            inputs: Some(HashMap::from([("i".to_owned(), "in".to_owned())])),
            ..Ctx::default()
        };
        for (text, want) in [
            (
                "x/${{ matrix.name }}/${{matrix.cfg.dir}}",
                "x/deb/d".to_owned(),
            ),
            ("${{ matrix['name'] }}${{ matrix.nope }}", "deb".to_owned()),
            (
                "${{ env.E }}-${{ inputs.i }}-${{ inputs.j || 'dflt' }}",
                "e-in-dflt".to_owned(),
            ),
            (
                "${{ format('{0}/{1}.Dockerfile', github.workspace, matrix.name) }}",
                "./deb.Dockerfile".to_owned(),
            ),
            ("${{ steps.x.outputs.y }}", ANY.to_string()),
            ("${{ github.sha }}", ANY.to_string()),
            ("${{ matrix.name", ANY.to_string()),
        ] {
            assert_eq!(substitute(text, &ctx), want, "{text}");
        }
        let unknown = Ctx {
            matrix_unknown: true,
            ..Ctx::default()
        };
        assert_eq!(substitute("${{ matrix.x }}", &unknown), ANY.to_string());
        assert_eq!(substitute("${{ inputs.x }}", &unknown), ANY.to_string());
    }
}
