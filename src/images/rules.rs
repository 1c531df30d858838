//! How a dockerfile path becomes an image: its name, build context and extra inputs
//! (`[[images.rule]]`, then the built-in rules), and how a `FROM` line names another
//! image of the repository (`images.parent` templates).
//!
//! Built-in names, for paths no rule matches:
//! - `…/<dir>/Dockerfile`, `…/<dir>/dockerfile`, `…/<dir>/DockerFile`,
//!   `…/<dir>/Containerfile` → `<dir>`; at the root → `root`;
//! - `Dockerfile.<name>`, `Dockerfile-<name>`, `Dockerfile_<name>`, `dockerfile.<name>`,
//!   `Containerfile.<name>` → `<name>`;
//! - `<name>.Dockerfile`, `<name>.dockerfile`, `<name>.Containerfile`,
//!   `<name>.containerfile`, `<name>.docker` → `<name>`;
//! - any other file name → the name without its last extension.
//!
//! The built-in context is the dockerfile's directory.

use regex::bytes::Regex;

use crate::config::ContentSettings;
use crate::error::{Error, Result};

use super::dockerfile::{clean, ImageRef};

/// What a rule says about one dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// The image name.
    pub name: String,
    /// The build context, relative to the repository root (empty: the root).
    pub context: Vec<u8>,
    /// Extra input globs (repository-root relative), placeholders substituted.
    pub inputs: Vec<String>,
    /// Which `[[images.rule]]` decided (index), `None` for the built-in rules.
    pub rule: Option<usize>,
    /// The context is declared (a rule's `context`), not assumed.
    pub context_set: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    re: Regex,
    name: Option<String>,
    context: Option<String>,
    inputs: Vec<String>,
}

/// The compiled `images.*` settings.
#[derive(Debug, Clone, Default)]
pub struct ImageRules {
    rules: Vec<Rule>,
    /// `images.parent` templates as configured.
    pub parents: Vec<String>,
    /// Where the settings came from, for messages.
    pub origin: String,
}

impl ImageRules {
    /// Compiles and validates `images.rule` and `images.parent`.
    pub fn from_settings(settings: &ContentSettings) -> Result<Self> {
        let origin = settings.image_rules_origin.clone();
        let bad = |origin: &str, message: String| Error::Config {
            origin: origin.to_owned(),
            message,
        };
        let mut rules = Vec::new();
        for (i, table) in settings.image_rules.iter().enumerate() {
            let at = format!("images.rule[{i}]");
            let pattern = &table.dockerfile;
            let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
                // The pattern as written, with a caret, not the wrapped one.
                let problem = crate::config::excerpt::regex(pattern).unwrap_or_else(|| {
                    e.to_string().lines().last().unwrap_or("invalid").to_owned()
                });
                bad(
                    &origin,
                    format!("`{at}.dockerfile` regex {pattern:?} is not valid: {problem}"),
                )
            })?;
            let name = table.name.clone();
            if name.is_none() && !re.capture_names().any(|n| n == Some("name")) {
                return Err(bad(
                    &origin,
                    format!("`{at}.dockerfile` regex {pattern:?} has no `(?P<name>…)` group and the rule has no `name`"),
                ));
            }
            let inputs = table.inputs.clone();
            for g in &inputs {
                // Placeholders are substituted later; a glob broken without them is broken.
                crate::engine::matcher::checked_glob(
                    &g.replace("{name}", "x").replace("{dir}", "x"),
                    &origin,
                    &format!("{at}.inputs"),
                )?;
            }
            rules.push(Rule {
                re,
                name,
                context: table.context.clone(),
                inputs,
            });
        }
        let parents = settings.image_parents.clone();
        let parent_origin = settings.image_parents_origin.clone();
        for t in &parents {
            if t.matches("{name}").count() != 1 {
                return Err(bad(
                    &parent_origin,
                    format!("`images.parent` template {t:?} must contain `{{name}}` exactly once"),
                ));
            }
            if t.trim() == "{name}" {
                return Err(bad(
                    &parent_origin,
                    "`images.parent` template \"{name}\" would make every FROM an image of this repository; give it a prefix such as `myproject/{name}`".into(),
                ));
            }
        }
        Ok(ImageRules {
            rules,
            parents,
            origin,
        })
    }

    /// Names a dockerfile (a repository path).
    pub fn name(&self, path: &[u8]) -> Naming {
        let text = String::from_utf8_lossy(path);
        let (dir, file) = match text.rfind('/') {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => ("", &text[..]),
        };
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(caps) = rule.re.captures(path) else {
                continue;
            };
            let captured = caps
                .name("name")
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .unwrap_or_default();
            let fill = |t: &str| {
                t.replace("{name}", &captured)
                    .replace("{dir}", if dir.is_empty() { "." } else { dir })
            };
            let name = rule.name.as_deref().map_or(captured.clone(), fill);
            let name = if name.is_empty() {
                default_name(dir, file)
            } else {
                name
            };
            let context = match &rule.context {
                Some(t) => clean(&fill(t)).into_bytes(),
                None => dir_bytes(path).to_vec(),
            };
            return Naming {
                context,
                inputs: rule.inputs.iter().map(|g| fill(g)).collect(),
                name,
                rule: Some(i),
                context_set: rule.context.is_some(),
            };
        }
        Naming {
            name: default_name(dir, file),
            context: dir_bytes(path).to_vec(),
            inputs: Vec::new(),
            rule: None,
            context_set: false,
        }
    }

    /// Compiles the parent templates for a set of image names.
    pub fn parent_matcher(&self, names: &[&str]) -> ParentMatcher {
        let mut sorted: Vec<&str> = names.to_vec();
        // Longer names first, so that `a-b` wins over `a` where both could match.
        sorted.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let alternatives = sorted
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|");
        let templates = self
            .parents
            .iter()
            .filter_map(|t| {
                let known = if names.is_empty() {
                    None
                } else {
                    compile_template(t, &format!("(?P<name>{alternatives})"))
                };
                let any = compile_template(t, "(?P<name>.+?)")?;
                Some((known, any))
            })
            .collect();
        ParentMatcher { templates }
    }
}

/// The directory part of a path, exactly (bytes).
fn dir_bytes(path: &[u8]) -> &[u8] {
    path.iter()
        .rposition(|b| *b == b'/')
        .map_or(&path[..0], |i| &path[..i])
}

fn default_name(dir: &str, file: &str) -> String {
    if matches!(
        file,
        "Dockerfile" | "dockerfile" | "DockerFile" | "Containerfile"
    ) {
        return match dir.rsplit('/').next() {
            Some(d) if !d.is_empty() => d.to_owned(),
            _ => "root".to_owned(),
        };
    }
    for prefix in [
        "Dockerfile.",
        "Dockerfile-",
        "Dockerfile_",
        "dockerfile.",
        "Containerfile.",
    ] {
        if let Some(rest) = file.strip_prefix(prefix) {
            if !rest.is_empty() {
                return rest.to_owned();
            }
        }
    }
    for suffix in [
        ".Dockerfile",
        ".dockerfile",
        ".Containerfile",
        ".containerfile",
        ".docker",
    ] {
        if let Some(stem) = file.strip_suffix(suffix) {
            if !stem.is_empty() {
                return stem.to_owned();
            }
        }
    }
    match file.rfind('.') {
        Some(i) if i > 0 => file[..i].to_owned(),
        _ => file.to_owned(),
    }
}

/// A template as a regex: literal text, `{name}` as `name_re`, and `$VAR` / `${VAR}` as
/// either that variable written literally or any text (its value is unknown here).
fn compile_template(template: &str, name_re: &str) -> Option<regex::Regex> {
    let mut out = String::from("^");
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{name}") {
            out.push_str(name_re);
            rest = r;
        } else if let Some((var, r)) = template_var(rest) {
            let v = regex::escape(var);
            out.push_str(&format!(r"(?:\${v}|\$\{{{v}\}}|.+)"));
            rest = r;
        } else {
            let c = rest.chars().next()?;
            out.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push('$');
    regex::Regex::new(&out).ok()
}

/// `$NAME` or `${NAME}` at the start of `s`: the name and the rest.
fn template_var(s: &str) -> Option<(&str, &str)> {
    let after = s.strip_prefix('$')?;
    if let Some(braced) = after.strip_prefix('{') {
        let end = braced.find('}')?;
        return Some((&braced[..end], &braced[end + 1..]));
    }
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after.len());
    (end > 0).then(|| (&after[..end], &after[end..]))
}

/// What a FROM (or `--from`) reference is, relative to this repository's images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentMatch {
    /// Another image of this repository.
    Image(String),
    /// It matches a template, but no image has that name (any more).
    Missing(String),
    /// An outside image.
    External,
}

/// Compiled `images.parent` templates for one set of image names.
#[derive(Debug, Clone, Default)]
pub struct ParentMatcher {
    templates: Vec<(Option<regex::Regex>, regex::Regex)>,
}

impl ParentMatcher {
    /// Resolves a reference (the expanded form when known, else as written).
    pub fn resolve(&self, r: &ImageRef) -> ParentMatch {
        let forms: Vec<String> = r
            .expanded
            .iter()
            .chain(std::iter::once(&r.written))
            .map(|s| strip_tag(s).to_owned())
            .collect();
        for form in &forms {
            for (known, _) in &self.templates {
                if let Some(c) = known.as_ref().and_then(|k| k.captures(form)) {
                    return ParentMatch::Image(c["name"].to_owned());
                }
            }
        }
        for form in &forms {
            for (_, any) in &self.templates {
                if let Some(c) = any.captures(form) {
                    return ParentMatch::Missing(c["name"].to_owned());
                }
            }
        }
        ParentMatch::External
    }
}

/// The repository part of an image reference: without `@digest` and `:tag`.
pub fn strip_tag(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ContentSettings, EnvSettings, FileLayer, Layers};

    fn rules(toml: &str) -> Result<ImageRules> {
        let f = FileLayer::parse(toml, ".dockguard.toml")?;
        ImageRules::from_settings(&ContentSettings::new(&Layers::default().resolve(Some(&f))))
    }

    #[test]
    fn built_in_names() {
        let r = ImageRules::default();
        for (path, name, ctx) in [
            (
                "tests/docker/dockerfiles/debian10.docker",
                "debian10",
                "tests/docker/dockerfiles",
            ),
            (
                "ci/containers/centos-9.Dockerfile",
                "centos-9",
                "ci/containers",
            ),
            (
                ".gitlab-ci.d/opensbi/Dockerfile",
                "opensbi",
                ".gitlab-ci.d/opensbi",
            ),
            ("Dockerfile", "root", ""),
            ("Containerfile", "root", ""),
            ("docker/Dockerfile.alpine", "alpine", "docker"),
            ("x/app.dockerfile", "app", "x"),
            ("x/Containerfile.fedora", "fedora", "x"),
            ("web/DockerFile", "web", "web"),
            ("x/Dockerfile-dev", "dev", "x"),
            ("x/Dockerfile_prod", "prod", "x"),
            ("x/dockerfile.test", "test", "x"),
            ("images/base.txt", "base", "images"),
            ("images/noext", "noext", "images"),
        ] {
            let n = r.name(path.as_bytes());
            assert_eq!(
                (n.name.as_str(), &n.context[..]),
                (name, ctx.as_bytes()),
                "{path}"
            );
        }
    }

    #[test]
    fn configured_rules_win_in_order() {
        let r = rules(
            r#"
[[images.rule]]
dockerfile = 'tests/docker/dockerfiles/(?P<name>[^/]+)\.docker'
context = "."
inputs = ["tests/docker/dockerfiles/{name}.d/**"]

[[images.rule]]
dockerfile = '(?P<name>.*)/Dockerfile'
name = "svc-{name}"
context = "{dir}/.."
"#,
        )
        .expect("valid");
        let n = r.name(b"tests/docker/dockerfiles/fedora.docker");
        assert_eq!(n.name, "fedora");
        assert_eq!(n.context, b"");
        assert_eq!(n.inputs, vec!["tests/docker/dockerfiles/fedora.d/**"]);
        assert_eq!(n.rule, Some(0));
        let n = r.name(b"web/app/Dockerfile");
        assert_eq!(
            (n.name.as_str(), &n.context[..]),
            ("svc-web/app", &b"web"[..])
        );
    }

    #[test]
    fn rule_errors_name_the_key() {
        for (toml, want) in [
            ("[[images.rule]]\ndockerfile = '('\n", "`images.rule[0].dockerfile` regex"),
            ("[[images.rule]]\ndockerfile = 'x'\n", "no `(?P<name>…)` group"),
            ("[[images.rule]]\ndockerfile = '(?P<name>x)'\ninputs = ['']\n", "empty glob"),
            ("[images]\nparent = ['qemu/x']\n", "must contain `{name}` exactly once"),
            ("[images]\nparent = ['{name}']\n", "give it a prefix"),
            ("[[images.rule]]\ncontext = 'x'\n", "`images.rule[0]` needs `dockerfile`"),
            (
                "[[images.rule]]\ndockerfile = 'x'\ncontxt = 'y'\n",
                "unknown key `images.rule[0].contxt` (did you mean `context`?); allowed: dockerfile, name, context, inputs",
            ),
            ("[[images.rule]]\ndockerfile = 1\n", "`images.rule[0].dockerfile` must be a string, not an integer"),
            ("[images.rule]\ndockerfile = 'x'\n", "must be an array of tables (write `[[images.rule]]`)"),
            ("[images]\nrule = ['x']\n", "`images.rule[0]` must be a table, not a string"),
        ] {
            let e = rules(toml).expect_err(toml).to_string();
            assert!(e.starts_with(".dockguard.toml: "), "{e}");
            assert!(e.contains(want), "want {want:?} in {e}");
        }
        let env = std::collections::BTreeMap::from([(
            "DOCKGUARD_IMAGES_RULE".to_owned(),
            "x".to_owned(),
        )]);
        let e = Layers::load(None, &env, EnvSettings::Read, &[])
            .expect_err("env")
            .to_string();
        assert!(e.contains("can only be set in .dockguard.toml"), "{e}");
    }

    fn r(written: &str) -> ImageRef {
        ImageRef {
            written: written.into(),
            expanded: Some(written.into()),
            via: super::super::dockerfile::Via::From,
            line: 1,
            stage: 0,
            readers: super::super::dockerfile::EVERY,
        }
    }

    #[test]
    fn parent_templates() {
        let rules = rules("[images]\nparent = ['qemu/{name}', '$CI_REGISTRY_IMAGE/qemu/{name}']\n")
            .expect("valid");
        let m = rules.parent_matcher(&["debian10", "debian10-cross", "qemu/x"]);
        let img = |n: &str| ParentMatch::Image(n.into());
        assert_eq!(m.resolve(&r("qemu/debian10")), img("debian10"));
        assert_eq!(m.resolve(&r("qemu/debian10:latest")), img("debian10"));
        assert_eq!(
            m.resolve(&r("qemu/debian10-cross@sha256:abc")),
            img("debian10-cross")
        );
        assert_eq!(
            m.resolve(&r("registry.gitlab.com/qemu-project/qemu/qemu/debian10")),
            img("debian10")
        );
        assert_eq!(
            m.resolve(&r("$CI_REGISTRY_IMAGE/qemu/debian10:tag")),
            img("debian10")
        );
        assert_eq!(m.resolve(&r("qemu/qemu/x")), img("qemu/x"));
        assert_eq!(
            m.resolve(&r("qemu/gone")),
            ParentMatch::Missing("gone".into())
        );
        assert_eq!(m.resolve(&r("debian:12")), ParentMatch::External);
        assert_eq!(
            m.resolve(&r("localhost:5000/debian")),
            ParentMatch::External
        );
        let unresolved = ImageRef {
            written: "${REG}/qemu/debian10".into(),
            expanded: None,
            ..r("")
        };
        assert_eq!(
            rules.parent_matcher(&["debian10"]).resolve(&unresolved),
            img("debian10")
        );
    }

    #[test]
    fn strip_tags_and_digests() {
        assert_eq!(strip_tag("a/b:1"), "a/b");
        assert_eq!(strip_tag("host:5000/a/b"), "host:5000/a/b");
        assert_eq!(strip_tag("host:5000/a/b:t@sha256:x"), "host:5000/a/b");
        assert_eq!(strip_tag("debian"), "debian");
    }
}
