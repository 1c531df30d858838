//! `uses:` steps: docker's build and bake actions, and the repository's own actions
//! (composite ones' steps, Docker container actions' images).

use super::super::super::dockerfile::ANY;
use super::super::super::yaml::{self, Y};
use super::super::bake::{self, Invocation};
use super::super::{under, Builder, Declaration, Dockerfile, Origin, Target};
use super::expr::{substitute, Ctx};
use super::{inputs, list, Walker, MAX_DEPTH};

impl Walker<'_> {
    /// A `uses:` step.
    pub(super) fn uses(&mut self, origin: &Origin, uses: &str, with: Option<&Y>, ctx: &Ctx) {
        let name = uses.split('@').next().unwrap_or(uses);
        let get = |k: &str| {
            with.and_then(|w| w.get(k))
                .and_then(Y::str)
                .map(|s| substitute(s, ctx))
        };
        match name {
            "docker/build-push-action" => {
                let origin = Origin {
                    what: format!("{}: docker/build-push-action", origin.what),
                    ..origin.clone()
                };
                self.build_push(origin, &get);
            }
            "docker/bake-action" => {
                let workdir = get("workdir").unwrap_or_else(|| ".".into());
                let Some(cwd) = under("", &workdir).filter(|c| !c.contains(ANY)) else {
                    self.opaque(origin.clone(), "its bake workdir is not known here");
                    return;
                };
                let mut names = Vec::new();
                for f in list(&get("files").unwrap_or_default(), true) {
                    match under(&cwd, f.strip_prefix("cwd://").unwrap_or(&f)) {
                        Some(p) => names.push(p),
                        None => {
                            self.opaque(
                                origin.clone(),
                                format!("it bakes {f}, outside the repository"),
                            );
                            return;
                        }
                    }
                }
                let run = Invocation {
                    names,
                    cwd,
                    targets: list(&get("targets").unwrap_or_default(), true),
                    env: ctx
                        .env
                        .iter()
                        .filter(|(_, v)| !v.contains(ANY))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    sets: list(&get("set").unwrap_or_default(), false),
                };
                let by = Origin {
                    what: format!("{}: docker/bake-action", origin.what),
                    ..origin.clone()
                };
                bake::invoke(self.files, &run, &by, self.out);
            }
            local if local.starts_with("./") => self.local_action(origin, local, with, ctx),
            _ => {} // a remote action builds nothing here
        }
    }

    /// A local action: a composite one's steps, or a Docker container action's image.
    fn local_action(&mut self, origin: &Origin, uses: &str, with: Option<&Y>, ctx: &Ctx) {
        let Some(dir) = under("", uses) else {
            return;
        };
        if self.stack.len() > MAX_DEPTH || self.stack.contains(&dir) {
            self.opaque(
                origin.clone(),
                format!("its actions nest too deeply or loop at {dir}"),
            );
            return;
        }
        let mut found = None;
        for name in ["action.yml", "action.yaml"] {
            let path = if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            };
            match self.files.read(&path) {
                Ok(Some((_, text))) => {
                    found = Some((path, text));
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    self.opaque(origin.clone(), format!("{path} cannot be read ({e})"));
                    return;
                }
            }
        }
        let Some((path, text)) = found else {
            self.opaque(
                origin.clone(),
                format!("it uses {uses}, which has no action.yml"),
            );
            return;
        };
        let doc = match yaml::load(&text) {
            Ok(mut d) if !d.is_empty() => d.remove(0),
            _ => {
                self.opaque(origin.clone(), format!("{path} cannot be read"));
                return;
            }
        };
        let Some(runs) = doc.get("runs") else {
            return;
        };
        let what = format!("{} (action {dir})", origin.what);
        match runs.get("using").and_then(Y::str) {
            Some("composite") => {
                let action_ctx = Ctx {
                    matrix: ctx.matrix.clone(),
                    matrix_unknown: ctx.matrix_unknown,
                    env: ctx.env.clone(),
                    inputs: Some(inputs(with, doc.get("inputs"), ctx)),
                    action_path: Some(if dir.is_empty() {
                        ".".into()
                    } else {
                        dir.clone()
                    }),
                };
                if let Some(Y::Seq(steps)) = runs.get("steps") {
                    self.stack.push(dir.clone());
                    self.steps(&path, &what, steps, &action_ctx, None);
                    self.stack.pop();
                }
            }
            Some("docker") => {
                // GitHub builds a Docker container action's image from its directory.
                let Some(image) = runs.get("image").and_then(Y::str) else {
                    return;
                };
                if image.starts_with("docker://") {
                    return;
                }
                let Some(file) = under(&dir, image) else {
                    return;
                };
                self.out.decls.push(Declaration {
                    origin: Origin {
                        file: path,
                        line: runs.line(),
                        what,
                    },
                    dockerfile: Dockerfile::path(file),
                    context: Some(dir),
                    target: Target::Last,
                    args: Vec::new(),
                    named: Vec::new(),
                    builder: Builder::Either,
                });
            }
            _ => {}
        }
    }

    /// A `docker/build-push-action` step (its inputs evaluated by `get`).
    fn build_push(&mut self, origin: Origin, get: &dyn Fn(&str) -> Option<String>) {
        let unknown = |s: &str| s.contains(ANY);
        // Without `context`, the action builds the repository at the commit (its root);
        // `{{defaultContext}}:dir` is a directory of it.
        let context = match get("context") {
            // A remote context (a git or HTTP URL): nothing of this repository is built.
            Some(c) if c.contains("://") || c.starts_with("git@") => return,
            None => Some(String::new()),
            Some(c) => {
                let c = c
                    .strip_prefix("{{defaultContext}}")
                    .map_or(c.clone(), |r| r.strip_prefix(':').unwrap_or(".").to_owned());
                if c.starts_with(ANY) {
                    None
                } else {
                    under("", &c)
                }
            }
        };
        let file = match get("file") {
            Some(f) if f.starts_with(ANY) => format!("{ANY}{}", f.trim_start_matches(ANY)),
            Some(f) => under("", &f).unwrap_or_else(|| ANY.to_string()),
            None => match &context {
                Some(c) => under(c, "Dockerfile").unwrap_or_else(|| ANY.to_string()),
                None => format!("{ANY}Dockerfile"),
            },
        };
        let args = list(&get("build-args").unwrap_or_default(), false)
            .iter()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), (!unknown(v)).then(|| v.to_owned())))
            .collect();
        let mut named = Vec::new();
        for l in list(&get("build-contexts").unwrap_or_default(), false) {
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            if v.contains("://") || v.starts_with("target:") {
                continue;
            }
            match under("", v) {
                Some(p) if !unknown(&p) => named.push((k.trim().to_owned(), p)),
                _ => self.opaque(
                    origin.clone(),
                    format!("its build context `{k}` is not known here"),
                ),
            }
        }
        let target = match get("target") {
            None => Target::Last,
            Some(t) if t.is_empty() => Target::Last,
            Some(t) if unknown(&t) => Target::Unknown,
            Some(t) => Target::Named(t.to_lowercase()),
        };
        let dockerfile = Dockerfile::path(file);
        let context = context.filter(|c| !unknown(c));
        if context.is_none() || matches!(dockerfile, Dockerfile::Pattern(_)) {
            self.opaque(
                origin.clone(),
                "its context or file is an expression not known here",
            );
        }
        self.out.decls.push(Declaration {
            origin,
            dockerfile,
            context,
            target,
            args,
            named,
            builder: Builder::BuildKit,
        });
    }
}
