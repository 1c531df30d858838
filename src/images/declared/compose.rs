//! docker compose files: each service with a `build:` is a declaration (`context`,
//! `dockerfile`, `args`, `additional_contexts`), `${VAR:-default}` interpolation with the
//! defaults known and everything else unknown text.

use super::super::dockerfile::ANY;
use super::super::yaml::{self, Y};
use super::{declaration, under, Declared, Dockerfile, Files, Origin};

/// Resolves a compose file.
pub(super) fn resolve(
    shown: &str,
    dir: &str,
    text: &str,
    _files: &dyn Files,
    out: &mut Declared,
) -> Result<(), String> {
    let docs = yaml::load(text)?;
    services(shown, dir, &docs, out);
    Ok(())
}

/// Compose's `${VAR}`, `${VAR:-default}`, `$$`: defaults known, the rest unknown text.
fn compose_vars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            let body = &inner[..end];
            match body.split_once(":-").or_else(|| body.split_once('-')) {
                Some((_, d)) if !d.contains('$') => out.push_str(d),
                _ => out.push(ANY),
            }
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push(if end == 0 { '$' } else { ANY });
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

fn pairs(y: Option<&Y>) -> Vec<(String, Option<String>)> {
    match y {
        Some(Y::Map(_)) => y
            .map(Y::entries)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.str().map(compose_vars)))
            .collect(),
        Some(Y::Seq(items)) => items
            .iter()
            .filter_map(Y::str)
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(compose_vars(v))),
                None => (s.to_owned(), None),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn services(shown: &str, dir: &str, docs: &[Y], out: &mut Declared) {
    for doc in docs {
        let Some(services) = doc.get("services") else {
            continue;
        };
        for (name, svc) in services.entries() {
            let Some(build) = svc.get("build") else {
                continue;
            };
            let origin = Origin {
                file: shown.to_owned(),
                line: build.line(),
                what: format!("service `{name}`"),
            };
            let (context, dockerfile, args, named) = match build {
                Y::Str(ctx, _) => (Some(compose_vars(ctx)), None, Vec::new(), Vec::new()),
                Y::Map(_) => {
                    if build.get("dockerfile_inline").is_some() {
                        continue; // no dockerfile in the repository
                    }
                    let ctx = match build.get("context") {
                        None => Some(".".to_owned()),
                        Some(c) => c.str().map(compose_vars),
                    };
                    let named = pairs(build.get("additional_contexts"))
                        .into_iter()
                        .filter_map(|(k, v)| Some((k, v?)))
                        .collect();
                    (
                        ctx,
                        build.get("dockerfile").and_then(Y::str).map(compose_vars),
                        pairs(build.get("args")),
                        named,
                    )
                }
                _ => continue,
            };
            let context = context.and_then(|c| under(dir, &c));
            let file = dockerfile.unwrap_or_else(|| "Dockerfile".into());
            // The dockerfile is relative to the context; unknown context, unknown file.
            let dockerfile = match &context {
                Some(c) => under(c, &file).unwrap_or_else(|| ANY.to_string()),
                None => ANY.to_string(),
            };
            let named = named
                .iter()
                .filter_map(|(k, n): &(String, String)| {
                    Some((k.clone(), under(context.as_ref()?, n)?))
                })
                .collect();
            let context = context.filter(|c| !c.contains(ANY));
            out.decls.push(declaration(
                origin,
                Dockerfile::path(dockerfile),
                context,
                args,
                named,
            ));
        }
    }
}
