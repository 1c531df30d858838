//! The compose model as far as builds go: services' `build:` and `profiles:`, with
//! their paths resolved where each file is read, merged as compose merges override
//! files, `include:` and `extends:`.

use super::super::super::dockerfile::ANY;
use super::super::super::yaml::Y;
use super::super::under;
use super::interp::{interpolate, Env};

/// A location a compose file names (a context), resolved against the directory it is
/// relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Loc {
    /// A repository path (may hold [`ANY`]).
    Repo(String),
    /// Outside the repository (a URL, an absolute path, above the root).
    Outside,
    /// Another service's image (`service:NAME`).
    Service(String),
}

pub(super) fn locate(base: &str, value: &str) -> Loc {
    if let Some(s) = value.strip_prefix("service:") {
        return Loc::Service(s.to_owned());
    }
    let remote = [
        "https://",
        "http://",
        "git://",
        "ssh://",
        "github.com/",
        "git@",
    ];
    if value.contains("://") || remote.iter().any(|r| value.starts_with(r)) {
        return Loc::Outside;
    }
    if value.starts_with(ANY) {
        // Unknown from its first character: it may be absolute or go up.
        return Loc::Repo(value.to_owned());
    }
    match under(base, value) {
        Some(p) => Loc::Repo(p),
        None => Loc::Outside,
    }
}

/// A service's `build:`, with its paths resolved.
#[derive(Debug, Clone, Default)]
pub(super) struct Build {
    /// Where `build:` is written (the first file that wrote it).
    pub(super) origin: Option<(String, usize)>,
    pub(super) context: Option<Loc>,
    pub(super) dockerfile: Option<String>,
    pub(super) inline: Option<String>,
    pub(super) target: Option<String>,
    /// Build arguments (`None`: from the environment).
    pub(super) args: Vec<(String, Option<String>)>,
    pub(super) contexts: Vec<(String, Loc)>,
}

/// What a service says about building.
#[derive(Debug, Clone, Default)]
pub(super) struct Service {
    pub(super) build: Option<Build>,
    pub(super) profiles: Vec<String>,
}

/// Later wins per key; new keys go last (compose merges these lists by key).
fn merge_pairs<T: Clone>(base: &mut Vec<(String, T)>, over: &[(String, T)]) {
    for (k, v) in over {
        match base.iter_mut().find(|(b, _)| b == k) {
            Some(slot) => slot.1 = v.clone(),
            None => base.push((k.clone(), v.clone())),
        }
    }
}

/// `over` merged onto `base`, as compose merges override files and `extends`.
pub(super) fn merge(base: Service, over: Service) -> Service {
    let build = match (base.build, over.build) {
        (Some(mut b), Some(o)) => {
            b.origin = b.origin.or(o.origin);
            b.context = o.context.or(b.context);
            b.dockerfile = o.dockerfile.or(b.dockerfile);
            b.inline = o.inline.or(b.inline);
            b.target = o.target.or(b.target);
            merge_pairs(&mut b.args, &o.args);
            merge_pairs(&mut b.contexts, &o.contexts);
            Some(b)
        }
        (b, o) => o.or(b),
    };
    let mut profiles = base.profiles;
    profiles.extend(over.profiles);
    Service { build, profiles }
}

/// Every scalar value (not key) of a tree, interpolated.
pub(super) fn interpolated(y: &Y, env: &Env) -> Y {
    match y {
        Y::Str(s, l) => Y::Str(interpolate(s, env), *l),
        Y::Seq(v) => Y::Seq(v.iter().map(|i| interpolated(i, env)).collect()),
        Y::Map(m) => Y::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), interpolated(v, env)))
                .collect(),
        ),
    }
}

/// A YAML null (`~`, `null`, or nothing).
fn is_null(y: &Y) -> bool {
    matches!(y.str(), Some("~" | "null" | "Null" | "NULL" | ""))
}

/// `args:` / `additional_contexts:` as a map or a `KEY=VALUE` list.
fn pairs(y: &Y) -> Vec<(String, Option<String>)> {
    match y {
        Y::Map(_) => y
            .entries()
            .into_iter()
            .map(|(k, v)| {
                let value = (!is_null(v)).then(|| v.str().map(str::to_owned)).flatten();
                (k.to_owned(), value)
            })
            .collect(),
        Y::Seq(items) => items
            .iter()
            .filter_map(Y::str)
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (s.to_owned(), None),
            })
            .collect(),
        Y::Str(..) => Vec::new(),
    }
}

/// A service as one file writes it, its paths relative to `base`.
pub(super) fn service(file: &str, base: &str, y: &Y) -> Service {
    let mut s = Service::default();
    let Y::Map(entries) = y else {
        return s;
    };
    for (k, v) in entries {
        match k.str() {
            Some("build") => {
                let mut b = Build {
                    origin: Some((file.to_owned(), k.line())),
                    ..Build::default()
                };
                match v {
                    Y::Str(ctx, _) => b.context = Some(locate(base, ctx)),
                    Y::Map(_) => {
                        let text = |key: &str| v.get(key).and_then(Y::str).map(str::to_owned);
                        b.context = text("context").map(|c| locate(base, &c));
                        b.dockerfile = text("dockerfile");
                        b.inline = text("dockerfile_inline");
                        b.target = text("target");
                        b.args = v.get("args").map(pairs).unwrap_or_default();
                        b.contexts = v
                            .get("additional_contexts")
                            .map(pairs)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|(k, v)| Some((k, locate(base, &v?))))
                            .collect();
                    }
                    Y::Seq(_) => {}
                }
                s.build = Some(b);
            }
            Some("profiles") => {
                s.profiles = match v {
                    Y::Seq(items) => items.iter().filter_map(Y::str).map(str::to_owned).collect(),
                    Y::Str(p, _) => vec![p.clone()],
                    Y::Map(_) => Vec::new(),
                }
            }
            _ => {}
        }
    }
    s
}

/// One compose file, loaded and interpolated: its services as written.
pub(super) struct RawFile {
    pub(super) path: String,
    /// The directory its relative paths are resolved against.
    pub(super) base: String,
    pub(super) doc: Y,
}

impl RawFile {
    pub(super) fn services(&self) -> Vec<(&str, &Y)> {
        self.doc.get("services").map(Y::entries).unwrap_or_default()
    }
}

/// The services of a project being loaded, in order.
pub(super) type Services = Vec<(String, Service)>;

pub(super) fn merge_into(into: &mut Services, from: Services) {
    for (name, s) in from {
        match into.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                let base = std::mem::take(&mut into[i].1);
                into[i].1 = merge(base, s);
            }
            None => into.push((name, s)),
        }
    }
}
