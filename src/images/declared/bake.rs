//! `docker buildx bake` files (HCL and JSON), resolved as buildx resolves them: the
//! default files of a directory read and merged in bake's order (`docker-bake.json`,
//! `docker-bake.hcl`, `docker-bake.override.json`, `docker-bake.override.hcl`),
//! `variable` blocks (defaults, `${VAR}` in strings, top-level attributes), `target`
//! blocks merged by name, `inherits` (chains, lists), `group`s, `contexts` (local
//! directories, `target:NAME` links that build NAME too, images and URLs outside),
//! `dockerfile-inline`, `target` and `args`, and `--set` overrides.
//!
//! Paths are relative to the directory bake runs in, not to the file (buildx's default;
//! `BUILDX_BAKE_FILE_RELATIVE_PATHS` is opt-in): a bake file no CI step invokes is taken
//! as run in its own directory, and builds what a plain `docker buildx bake` builds there,
//! its `default` group (or a target named `default`); a target outside it is not built.
//! A CI step that runs bake ([`invoke`]) builds the targets it names, with its files and
//! working directory.
//!
//! A variable without a default is unknown here (the environment must give it); the
//! environment may override defaults too, but a file that no CI step invokes is judged
//! with them. A build whose context or dockerfile is not known is also [`Opaque`].

mod hcl;

use std::collections::HashMap;

use super::super::dockerfile::ANY;
use super::{under, Builder, Declaration, Declared, Dockerfile, Files, Opaque, Origin, Target};
use hcl::{Body, V};

/// Bake's default files, in the order it reads and merges them.
const DEFAULT_FILES: &[&str] = &[
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
];
/// How deep variables, `inherits` and groups are followed.
const MAX_DEPTH: usize = 32;

fn join(dir: &str, f: &str) -> String {
    if dir.is_empty() {
        f.to_owned()
    } else {
        format!("{dir}/{f}")
    }
}

fn read(files: &dyn Files, path: &str) -> Result<Option<String>, String> {
    files
        .read(path)
        .map(|f| f.map(|(_, t)| t.to_string()))
        .map_err(|e| format!("{path}: {e}"))
}

/// Resolves an entry bake file: what a plain `docker buildx bake` in its directory builds.
/// The first of the directory's default files stands for all of them.
pub(super) fn resolve(
    shown: &str,
    dir: &str,
    text: &str,
    files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let mut loaded = Vec::new();
    for f in DEFAULT_FILES {
        let path = join(dir, f);
        if path == shown {
            loaded.push((path, text.to_owned()));
        } else if let Some(t) = read(files, &path)? {
            if loaded.is_empty() {
                return Ok(()); // resolved with that file
            }
            loaded.push((path, t));
        }
    }
    if loaded.first().map(|(p, _)| p.as_str()) != Some(shown) {
        return Ok(());
    }
    let def = Def::load(&loaded)?;
    let run = Run {
        def: &def,
        cwd: dir,
        env: &HashMap::new(),
        sets: &[],
        by: None,
    };
    run.declare(&[], out);
    Ok(())
}

/// A bake run a CI step makes.
#[derive(Debug, Default)]
pub(super) struct Invocation {
    /// Repository paths of its `-f` files (none: the default files of `cwd`).
    pub names: Vec<String>,
    /// Where it runs (repository-relative).
    pub cwd: String,
    /// The targets it builds (none: `default`).
    pub targets: Vec<String>,
    /// Variables its environment sets.
    pub env: HashMap<String, String>,
    /// `--set` overrides.
    pub sets: Vec<String>,
}

/// The builds of a bake run `run` from CI, which the step `by` makes.
pub(super) fn invoke(files: &dyn Files, run: &Invocation, by: &Origin, out: &mut Declared) {
    let (names, cwd, targets) = (&run.names, run.cwd.as_str(), &run.targets);
    let opaque = |out: &mut Declared, why: String| {
        out.opaque.push(Opaque {
            origin: by.clone(),
            why,
        })
    };
    let paths: Vec<String> = if names.is_empty() {
        DEFAULT_FILES.iter().map(|f| join(cwd, f)).collect()
    } else {
        names.to_vec()
    };
    let mut loaded = Vec::new();
    for p in &paths {
        if p.contains(ANY) {
            opaque(
                out,
                "it runs bake with a file whose name is not known here".into(),
            );
            return;
        }
        match read(files, p) {
            Ok(Some(t)) => loaded.push((p.clone(), t)),
            Ok(None) if names.is_empty() => {}
            Ok(None) => {
                opaque(
                    out,
                    format!("it runs bake with {p}, which is not in the tree"),
                );
                return;
            }
            Err(e) => {
                opaque(out, format!("{p} cannot be read ({e})"));
                return;
            }
        }
    }
    if loaded.is_empty() {
        opaque(out, "it runs bake where no bake file is".into());
        return;
    }
    let def = match Def::load(&loaded) {
        Ok(d) => d,
        Err(e) => {
            opaque(out, format!("its bake files cannot be read ({e})"));
            return;
        }
    };
    if targets.iter().any(|t| t.contains(ANY)) {
        opaque(
            out,
            "it builds bake targets whose names are not known here".into(),
        );
        return;
    }
    let bake = Run {
        def: &def,
        cwd,
        env: &run.env,
        sets: &run.sets,
        by: Some(by),
    };
    bake.declare(targets, out);
}

/// One definition of a target, as a file writes it.
#[derive(Debug, Clone)]
struct TargetDef {
    name: String,
    file: String,
    line: usize,
    attrs: Vec<(String, V)>,
}

/// The merged files of one bake run.
#[derive(Debug, Default)]
struct Def {
    /// Variables: name, default (`None`: none).
    vars: Vec<(String, Option<V>)>,
    /// Top-level attributes (variables too).
    globals: Vec<(String, V)>,
    targets: Vec<TargetDef>,
    groups: Vec<(String, Vec<V>)>,
}

impl Def {
    fn load(files: &[(String, String)]) -> Result<Def, String> {
        let mut def = Def::default();
        for (path, text) in files {
            let body: Body = if path.ends_with(".json") {
                hcl::parse_json(text)
            } else {
                hcl::parse(text)
            }
            .map_err(|e| format!("{path}: {e}"))?;
            def.globals.extend(body.attrs);
            for b in body.blocks {
                let Some(name) = b.labels.first().cloned() else {
                    continue;
                };
                match b.kind.as_str() {
                    "variable" => {
                        let default = b
                            .attrs
                            .iter()
                            .rev()
                            .find(|(k, _)| k == "default")
                            .map(|(_, v)| v.clone());
                        def.vars.push((name, default));
                    }
                    "target" => def.targets.push(TargetDef {
                        name,
                        file: path.clone(),
                        line: b.line,
                        attrs: b.attrs,
                    }),
                    "group" => {
                        let targets = match b.attrs.iter().rev().find(|(k, _)| k == "targets") {
                            Some((_, V::List(items))) => items.clone(),
                            _ => Vec::new(),
                        };
                        def.groups.push((name, targets));
                    }
                    _ => {}
                }
            }
        }
        Ok(def)
    }
}

/// A value, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
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
struct Resolved {
    file: String,
    line: usize,
    context: Option<String>,
    dockerfile: Option<String>,
    inline: Option<String>,
    target: Option<String>,
    args: Vec<(String, Option<String>)>,
    contexts: Vec<(String, String)>,
    matrix: bool,
}

struct Run<'a> {
    def: &'a Def,
    cwd: &'a str,
    env: &'a HashMap<String, String>,
    sets: &'a [String],
    by: Option<&'a Origin>,
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
    fn template(&self, s: &str, depth: usize) -> String {
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
                out.push_str(&rest[..i]);
                out.push_str(&rest[i + 1..i + 3]);
                rest = &rest[i + 3..];
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
    fn expand(&self, names: &[String], depth: usize, into: &mut Vec<String>) {
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
    fn target(&self, name: &str, chain: &mut Vec<String>) -> Option<Resolved> {
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
    fn overrides(&self, name: &str, r: &mut Resolved) {
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

    /// The declarations of building `targets` (none: `default`).
    fn declare(&self, targets: &[String], out: &mut Declared) {
        let asked = if targets.is_empty() {
            vec!["default".to_owned()]
        } else {
            targets.to_vec()
        };
        let mut names = Vec::new();
        self.expand(&asked, 0, &mut names);
        let mut i = 0;
        while i < names.len() {
            let name = names[i].clone();
            i += 1;
            let Some(mut r) = self.target(&name, &mut Vec::new()) else {
                if let Some(by) = self.by {
                    out.opaque.push(Opaque {
                        origin: by.clone(),
                        why: format!(
                            "it builds bake target `{name}`, which its files do not define"
                        ),
                    });
                }
                continue;
            };
            self.overrides(&name, &mut r);
            for (_, c) in &r.contexts {
                if let Some(linked) = c.strip_prefix("target:") {
                    if !names.iter().any(|n| n == linked) {
                        names.push(linked.to_owned());
                    }
                }
            }
            self.declare_one(&name, &r, out);
        }
    }

    fn declare_one(&self, name: &str, r: &Resolved, out: &mut Declared) {
        let origin = Origin {
            file: r.file.clone(),
            line: r.line,
            what: match self.by {
                Some(by) => format!("target `{name}` (built by {by})"),
                None => format!("target `{name}`"),
            },
        };
        let opaque = |out: &mut Declared, why: &str| {
            out.opaque.push(Opaque {
                origin: origin.clone(),
                why: why.to_owned(),
            })
        };
        if r.matrix {
            opaque(out, "its matrix is not expanded here");
            return;
        }
        let ctx = r.context.clone().unwrap_or_else(|| ".".into());
        let ctx = ctx.strip_prefix("cwd://").unwrap_or(&ctx);
        if remote(ctx) {
            return; // built from outside the repository
        }
        let context = if ctx.starts_with(ANY) {
            ctx.to_owned()
        } else {
            match under(self.cwd, ctx) {
                Some(c) => c,
                None => return, // outside the repository
            }
        };
        let dockerfile = match (&r.inline, r.dockerfile.as_deref().unwrap_or("Dockerfile")) {
            (Some(text), _) => Dockerfile::Inline(text.clone()),
            (None, f) if f.starts_with(ANY) || context.starts_with(ANY) => {
                Dockerfile::Pattern(format!("{ANY}{}", f.trim_start_matches(ANY)))
            }
            (None, f) => {
                let at = match f.strip_prefix("cwd://") {
                    Some(f) => under(self.cwd, f),
                    None => under(&context, f),
                };
                match at {
                    Some(p) => Dockerfile::path(p),
                    None => {
                        opaque(
                            out,
                            &format!("its dockerfile `{f}` is outside the repository"),
                        );
                        return;
                    }
                }
            }
        };
        let mut named = Vec::new();
        for (k, c) in &r.contexts {
            let c = c.strip_prefix("cwd://").unwrap_or(c);
            if c.starts_with("target:")
                || c.starts_with("docker-image:")
                || c.starts_with("oci-layout:")
                || remote(c)
            {
                continue;
            }
            match under(self.cwd, c) {
                Some(p) if !p.contains(ANY) && !c.starts_with(ANY) => named.push((k.clone(), p)),
                Some(_) => opaque(out, &format!("its context `{k}` is not known here")),
                None => {}
            }
        }
        let target = match &r.target {
            None => Target::Last,
            Some(t) if t.contains(ANY) => Target::Unknown,
            Some(t) => Target::Named(t.to_lowercase()),
        };
        if context.contains(ANY) || matches!(dockerfile, Dockerfile::Pattern(_)) {
            opaque(out, "its context or dockerfile uses a value not known here");
        }
        out.decls.push(Declaration {
            origin,
            dockerfile,
            context: (!context.contains(ANY)).then_some(context),
            target,
            args: r.args.clone(),
            named,
            builder: Builder::BuildKit,
        });
    }
}

/// A URL or git context (buildx's `IsRemoteURL`).
fn remote(s: &str) -> bool {
    s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/")
}

/// `*` and `?` in bake's target patterns (`path.Match`).
fn glob_match(pattern: &str, name: &str) -> bool {
    let re = pattern
        .chars()
        .map(|c| match c {
            '*' => ".*".to_owned(),
            '?' => ".".to_owned(),
            c => regex::escape(&c.to_string()),
        })
        .collect::<String>();
    regex::Regex::new(&format!("^{re}$")).is_ok_and(|re| re.is_match(name))
}

fn merge_pairs<T>(base: &mut Vec<(String, T)>, over: Vec<(String, T)>) {
    for (k, v) in over {
        match base.iter_mut().find(|(b, _)| *b == k) {
            Some(slot) => slot.1 = v,
            None => base.push((k, v)),
        }
    }
}

/// `over` merged onto `base`, as bake merges inherited targets (a later one wins).
fn merge(base: &mut Resolved, over: Resolved) {
    base.context = over.context.or(base.context.take());
    base.dockerfile = over.dockerfile.or(base.dockerfile.take());
    base.inline = over.inline.or(base.inline.take());
    base.target = over.target.or(base.target.take());
    merge_pairs(&mut base.args, over.args);
    merge_pairs(&mut base.contexts, over.contexts);
    base.matrix |= over.matrix;
}

#[cfg(test)]
mod tests;
