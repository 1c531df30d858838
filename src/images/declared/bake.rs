//! `docker-bake.hcl` / `docker-bake.json` targets: context, dockerfile, args, contexts.
//!
//! HCL is read by a small parser for the subset bake files use (blocks with labels,
//! attributes, strings with `${VAR}` interpolation, heredocs, lists, objects, comments):
//! the hcl-rs crate would bring a full expression language and a parser combinator
//! library for the five attributes we read. Values we cannot evaluate (function calls,
//! conditionals, references) are unknown, and an unknown context leaves the image's
//! guessed context (widened) in force.

use std::collections::HashMap;

use super::super::dockerfile::ANY;
use super::{declaration, under, Declared, Dockerfile, Origin};

/// A value, as far as we evaluate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V {
    /// A string (interpolations not yet expanded).
    Str(String),
    /// A list.
    List(Vec<V>),
    /// An object.
    Obj(Vec<(String, V)>),
    /// Anything else.
    Unknown,
}

/// One bake target, with inherited attributes applied and variables expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Its name.
    pub name: String,
    /// `context` (default `.`); `None` when unknown or not local.
    pub context: Option<String>,
    /// `dockerfile` (default `Dockerfile`, relative to the context); `None` when unknown.
    pub dockerfile: Option<String>,
    /// `args`.
    pub args: Vec<(String, Option<String>)>,
    /// `contexts` (named build contexts) that are local directories.
    pub contexts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    Other,
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            let mut depth = 0usize;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err("an unterminated string".into());
                };
                i += 1;
                match d {
                    '"' if depth == 0 => break,
                    '\\' => {
                        let n = chars.get(i).copied().unwrap_or('\\');
                        i += 1;
                        s.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    '$' if chars.get(i) == Some(&'{') => {
                        depth += 1;
                        s.push_str("${");
                        i += 1;
                    }
                    '}' if depth > 0 => {
                        depth -= 1;
                        s.push('}');
                    }
                    _ => s.push(d),
                }
            }
            out.push(Tok::Str(s));
        } else if c == '<' && chars.get(i + 1) == Some(&'<') {
            // Heredoc: <<EOT or <<-EOT up to a line holding only EOT.
            i += 2;
            if chars.get(i) == Some(&'-') {
                i += 1;
            }
            let mut tag = String::new();
            while i < chars.len() && chars[i] != '\n' {
                tag.push(chars[i]);
                i += 1;
            }
            let tag = tag.trim().to_owned();
            let mut body = String::new();
            i += 1;
            loop {
                let start = i;
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                let line: String = chars[start..i.min(chars.len())].iter().collect();
                i += 1;
                if line.trim() == tag || i > chars.len() {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            out.push(Tok::Str(body));
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || "_-".contains(chars[i])) {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Tok::Ident(s));
        } else if "{}[]()=,:.?!<>+*/%&|-".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            while i < chars.len() && !chars[i].is_whitespace() && !"{}[](),=".contains(chars[i]) {
                i += 1;
            }
            out.push(Tok::Other);
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

/// A block: its type, labels and body.
type Block = (String, Vec<String>, Vec<(String, V)>);

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// A body up to `}` (or the end): attributes and blocks.
    fn body(&mut self, blocks: &mut Vec<Block>) -> Result<Vec<(String, V)>, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("nested too deeply".into());
        }
        let mut attrs = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct('}')) => {
                    self.at += 1;
                    break;
                }
                Some(Tok::Ident(_)) => {}
                Some(t) => return Err(format!("unexpected {t:?}")),
            }
            let Some(Tok::Ident(name)) = self.next() else {
                break;
            };
            if self.eat('=') {
                attrs.push((name, self.expr()?));
                continue;
            }
            let mut labels = Vec::new();
            loop {
                match self.next() {
                    Some(Tok::Str(s)) | Some(Tok::Ident(s)) => labels.push(s),
                    Some(Tok::Punct('{')) => break,
                    other => return Err(format!("a block `{name}` expected `{{`, got {other:?}")),
                }
            }
            let inner = self.body(blocks)?;
            blocks.push((name, labels, inner));
        }
        self.depth -= 1;
        Ok(attrs)
    }

    fn expr(&mut self) -> Result<V, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("nested too deeply".into());
        }
        let v = match self.next() {
            Some(Tok::Str(s)) => V::Str(s),
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    if self.peek().is_none() {
                        return Err("an unterminated list".into());
                    }
                    items.push(self.expr()?);
                    self.eat(',');
                }
                V::List(items)
            }
            Some(Tok::Punct('{')) => {
                let mut items = Vec::new();
                while !self.eat('}') {
                    let key = match self.next() {
                        Some(Tok::Ident(k)) | Some(Tok::Str(k)) => k,
                        None => return Err("an unterminated object".into()),
                        Some(t) => return Err(format!("an object key expected, got {t:?}")),
                    };
                    if !(self.eat('=') || self.eat(':')) {
                        return Err(format!("`=` expected after `{key}`"));
                    }
                    items.push((key, self.expr()?));
                    self.eat(',');
                }
                V::Obj(items)
            }
            Some(Tok::Ident(_)) => {
                // A reference, a bool, a function call: skip a call's arguments.
                if self.eat('(') {
                    let mut depth = 1;
                    while depth > 0 {
                        match self.next() {
                            Some(Tok::Punct('(')) => depth += 1,
                            Some(Tok::Punct(')')) => depth -= 1,
                            None => return Err("an unterminated call".into()),
                            _ => {}
                        }
                    }
                }
                V::Unknown
            }
            Some(Tok::Other) => V::Unknown,
            other => return Err(format!("a value expected, got {other:?}")),
        };
        // Operators (`a ? b : c`, `a + b`, `x.y`): the whole expression is unknown.
        let mut unknown = false;
        while let Some(Tok::Punct(c)) = self.peek() {
            if "?!<>+*/%&|-.:".contains(*c) {
                self.at += 1;
                unknown = true;
                if self
                    .peek()
                    .is_some_and(|t| !matches!(t, Tok::Punct('}' | ']' | ',')))
                {
                    let _ = self.expr()?;
                }
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if unknown { V::Unknown } else { v })
    }
}

fn str_of(v: &V, vars: &HashMap<String, String>) -> Option<String> {
    match v {
        V::Str(s) => Some(interpolate(s, vars).trim().to_owned()),
        _ => None,
    }
}

/// `${NAME}` with the variable's default; anything else inside `${}` is unknown text.
fn interpolate(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = after[..end].trim();
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => out.push(ANY),
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Parses an HCL bake file.
pub fn parse_hcl(text: &str) -> Result<Vec<Target>, String> {
    let toks = tokens(text)?;
    let mut p = P {
        toks,
        at: 0,
        depth: 0,
    };
    let mut blocks = Vec::new();
    let top = p.body(&mut blocks)?;
    let mut vars: HashMap<String, String> = HashMap::new();
    for (kind, labels, attrs) in &blocks {
        if kind == "variable" {
            if let (Some(name), Some((_, V::Str(d)))) =
                (labels.first(), attrs.iter().find(|(k, _)| k == "default"))
            {
                vars.insert(name.clone(), d.clone());
            }
        }
    }
    // Top-level attributes are variables too (`TAG = "x"`).
    for (k, v) in &top {
        if let V::Str(s) = v {
            vars.entry(k.clone()).or_insert_with(|| s.clone());
        }
    }
    let defs: Vec<(String, Vec<(String, V)>)> = blocks
        .into_iter()
        .filter(|(k, _, _)| k == "target")
        .filter_map(|(_, l, a)| Some((l.into_iter().next()?, a)))
        .collect();
    Ok(targets(&defs, &vars))
}

/// Parses a JSON bake file.
pub fn parse_json(text: &str) -> Result<Vec<Target>, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    fn conv(v: &serde_json::Value) -> V {
        match v {
            serde_json::Value::String(s) => V::Str(s.clone()),
            serde_json::Value::Array(a) => V::List(a.iter().map(conv).collect()),
            serde_json::Value::Object(o) => {
                V::Obj(o.iter().map(|(k, v)| (k.clone(), conv(v))).collect())
            }
            _ => V::Unknown,
        }
    }
    let mut vars = HashMap::new();
    if let Some(serde_json::Value::Object(vs)) = doc.get("variable") {
        for (k, v) in vs {
            if let Some(d) = v.get("default").and_then(|d| d.as_str()) {
                vars.insert(k.clone(), d.to_owned());
            }
        }
    }
    let mut defs = Vec::new();
    if let Some(serde_json::Value::Object(ts)) = doc.get("target") {
        for (name, body) in ts {
            let attrs = match conv(body) {
                V::Obj(a) => a,
                _ => Vec::new(),
            };
            defs.push((name.clone(), attrs));
        }
    }
    Ok(targets(&defs, &vars))
}

fn targets(defs: &[(String, Vec<(String, V)>)], vars: &HashMap<String, String>) -> Vec<Target> {
    let by_name: HashMap<&str, &Vec<(String, V)>> =
        defs.iter().map(|(n, a)| (n.as_str(), a)).collect();
    defs.iter()
        .map(|(name, _)| {
            let attrs = inherited(name, &by_name, 0);
            let get = |k: &str| attrs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v);
            let local = |s: String| (!s.contains("://") && !s.contains(':')).then_some(s);
            let context = match get("context") {
                None => Some(".".to_owned()),
                Some(v) => str_of(v, vars).and_then(local),
            };
            let dockerfile = match get("dockerfile") {
                None => Some("Dockerfile".to_owned()),
                Some(v) => str_of(v, vars),
            };
            let pairs = |v: Option<&V>| match v {
                Some(V::Obj(items)) => items
                    .iter()
                    .map(|(k, v)| (k.clone(), str_of(v, vars)))
                    .collect(),
                _ => Vec::new(),
            };
            Target {
                name: name.clone(),
                context,
                dockerfile,
                args: pairs(get("args")),
                contexts: pairs(get("contexts"))
                    .into_iter()
                    .filter_map(|(_, v)| v.and_then(local))
                    .collect(),
            }
        })
        .collect()
}

/// A target's attributes with its `inherits` first (later wins).
fn inherited(
    name: &str,
    by_name: &HashMap<&str, &Vec<(String, V)>>,
    depth: usize,
) -> Vec<(String, V)> {
    let Some(attrs) = by_name.get(name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if depth < 16 {
        if let Some((_, V::List(parents))) = attrs.iter().find(|(k, _)| k == "inherits") {
            for p in parents {
                if let V::Str(p) = p {
                    out.extend(inherited(p, by_name, depth + 1));
                }
            }
        }
    }
    out.extend(attrs.iter().cloned());
    out
}

/// The declarations of a bake file's targets.
pub(super) fn declare(shown: &str, dir: &str, targets: Vec<Target>, out: &mut Declared) {
    for t in targets {
        let context = t.context.as_deref().and_then(|c| under(dir, c));
        let dockerfile = match (&context, &t.dockerfile) {
            (Some(c), Some(f)) => under(c, f).unwrap_or_else(|| ANY.to_string()),
            _ => ANY.to_string(),
        };
        let named = t
            .contexts
            .iter()
            .filter_map(|n| Some((String::new(), under(dir, n)?)))
            .collect();
        let context = context.filter(|c| !c.contains(ANY));
        let mut d = declaration(
            Origin {
                file: shown.to_owned(),
                line: 0,
                what: format!("target `{}`", t.name),
            },
            Dockerfile::path(dockerfile),
            context,
            t.args,
            named,
        );
        d.builder = super::Builder::BuildKit;
        out.decls.push(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_targets_with_variables_and_inherits() {
        let t = parse_hcl(
            r#"
# comment
variable "DIR" { default = "services" }
group "default" { targets = ["api", "web"] }
target "base" {
  context = "${DIR}/common"   // trailing comment
  args = { A = "1", B = "${TAG}" }
}
target "api" {
  inherits = ["base"]
  dockerfile = "api.Dockerfile"
  contexts = { tools = "tools", img = "docker-image://alpine" }
}
target "web" {
  context = notlocal("x")
  dockerfile = <<EOT
web/Dockerfile
EOT
}
"#,
        )
        .expect("parses");
        let api = t.iter().find(|t| t.name == "api").expect("api");
        assert_eq!(api.context.as_deref(), Some("services/common"));
        assert_eq!(api.dockerfile.as_deref(), Some("api.Dockerfile"));
        assert_eq!(api.args[1], ("B".into(), Some(ANY.to_string())));
        assert_eq!(api.contexts, vec!["tools".to_owned()]);
        let web = t.iter().find(|t| t.name == "web").expect("web");
        assert_eq!(web.context, None);
        assert_eq!(web.dockerfile.as_deref(), Some("web/Dockerfile"));
        assert!(
            parse_hcl("target \"x\" {").is_ok(),
            "an unclosed body ends at EOF"
        );
        assert!(parse_hcl("target \"x\" { context = [ }").is_err());
        let j = parse_json(r#"{"target":{"app":{"context":"app","dockerfile":"Containerfile"}}}"#)
            .expect("json");
        assert_eq!(j[0].context.as_deref(), Some("app"));
    }
}
