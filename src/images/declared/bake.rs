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

mod eval;
mod hcl;

use std::collections::HashMap;

use super::super::dockerfile::ANY;
use super::{under, Builder, Declaration, Declared, Dockerfile, Files, Opaque, Origin, Target};
use eval::{Resolved, Run};
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
/// The first of the directory's default files stands for all of them; a file of another
/// name stands alone (`docker buildx bake -f FILE` run in its directory).
pub(super) fn resolve(
    shown: &str,
    dir: &str,
    text: &str,
    files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let mut loaded = Vec::new();
    let name = shown.rsplit('/').next().unwrap_or(shown);
    let alone = !DEFAULT_FILES.contains(&name);
    if alone {
        loaded.push((shown.to_owned(), text.to_owned()));
    }
    for f in DEFAULT_FILES.iter().filter(|_| !alone) {
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

/// `docker buildx bake` options that take a value.
const VALUE_FLAGS: &[&str] = &[
    "-f",
    "--file",
    "--set",
    "--var",
    "--builder",
    "--progress",
    "--metadata-file",
    "--provenance",
    "--sbom",
    "--allow",
    "--call",
    "--list",
];

/// A `docker buildx bake` (or `docker bake`) command line run in `cwd`: its arguments
/// after `bake` (`Err`: an option not known here, a remote definition).
pub(super) fn command(args: &[String], cwd: &str) -> Result<Invocation, String> {
    let mut run = Invocation {
        cwd: cwd.to_owned(),
        ..Invocation::default()
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') {
            if remote(a) {
                return Err(format!("it bakes a remote definition ({a})"));
            }
            run.targets.push(a.clone());
            continue;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        if !VALUE_FLAGS.contains(&flag) {
            if flag.starts_with("--") || flag == "-" {
                continue; // `--load`, `--push`, `--print`, `--no-cache`, `--pull`, …
            }
            return Err(format!("its bake option `{a}` is not known here"));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i - 1).cloned().unwrap_or_default()
            }
        };
        match flag {
            "-f" | "--file" => match under(cwd, &value) {
                Some(p) => run.names.push(p),
                None => return Err(format!("it bakes {value}, outside the repository")),
            },
            "--set" => run.sets.push(value),
            "--var" => {
                if let Some((k, v)) = value.split_once('=') {
                    run.env.insert(k.to_owned(), v.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(run)
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

impl Run<'_> {
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
