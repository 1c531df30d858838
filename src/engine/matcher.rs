//! Which paths are dockerfiles, and which are other image inputs.
//!
//! A path is judged as bytes (git paths need not be UTF-8), relative to the repository
//! root with `/` separators. Globs and regexes compile into one regex per class, so a
//! path costs one regex search per class however many patterns there are.
//!
//! Glob syntax (documented in README, and the contract the regex form must agree with):
//! - a glob without `/` matches the file name in any directory (`Dockerfile`, `*.docker`);
//! - a glob with `/` is anchored at the repository root (a leading `/` is dropped);
//! - `*` matches any run of characters except `/`, `?` one such character;
//! - `**` as a whole path component matches zero or more components (`a/**/b`, `dir/**`);
//! - `[abc]`, `[a-z]`, `[!abc]` (or `[^abc]`) are character classes; `\x` matches `x`;
//! - a trailing `/` means everything below that directory.
//!
//! There is no `!` negation: exclusions are a separate `exclude` list, which always wins.
//! (Order-dependent negation is what users of other tools trip over.) It wins for images
//! too: an excluded dockerfile is no image, and an excluded path is no image's input,
//! whatever image copies it (the images carry [`Matcher::exclude_regex`]).

use regex::bytes::Regex;

use crate::error::{Error, Result};

/// The file names that are dockerfiles unless the configuration turns the defaults off.
/// As the tools define them: the docker CLI's `Dockerfile` and its lowercase fallback
/// `dockerfile`, Podman/Buildah's `Containerfile`, and the `<name>.` forms; and the
/// spellings projects use (`DockerFile`, `Dockerfile-dev`, `Dockerfile_prod`,
/// `dockerfile.dev`). README's list is checked against this one.
pub const DEFAULT_DOCKERFILES: &[&str] = &[
    "Dockerfile",
    "dockerfile",
    "DockerFile",
    "Dockerfile.*",
    "Dockerfile-*",
    "Dockerfile_*",
    "dockerfile.*",
    "*.Dockerfile",
    "*.dockerfile",
    "Containerfile",
    "Containerfile.*",
    "*.Containerfile",
    "*.containerfile",
    "*.docker",
];

/// What the default names also match but no builder reads as a dockerfile: documentation
/// and pictures (`docs/Dockerfile.md`), and ignore files (`Dockerfile.dockerignore`).
/// A file a declaration builds is a dockerfile whatever its name.
pub const NOT_DOCKERFILES: &[&str] = &[
    "*.md",
    "*.markdown",
    "*.mdx",
    "*.rst",
    "*.adoc",
    "*.asciidoc",
    "*.html",
    "*.htm",
    "*.pdf",
    "*.png",
    "*.svg",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.dockerignore",
];

/// What a matched path is to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathRole {
    /// A dockerfile: it defines an image.
    Dockerfile,
    /// Something an image is built from (a helper script, a context file).
    Input,
}

/// The patterns a [`Matcher`] is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchSpec {
    /// Use [`DEFAULT_DOCKERFILES`].
    pub defaults: bool,
    /// Extra dockerfile globs.
    pub dockerfiles: Vec<String>,
    /// Extra dockerfile regexes (matched against the whole path).
    pub dockerfile_regex: Vec<String>,
    /// Image-input globs.
    pub inputs: Vec<String>,
    /// Image-input regexes (matched against the whole path).
    pub input_regex: Vec<String>,
    /// Globs that never count, whatever else matches.
    pub exclude: Vec<String>,
}

/// Compiled [`MatchSpec`].
#[derive(Debug, Clone)]
pub struct Matcher {
    dockerfile: Option<Regex>,
    /// [`DEFAULT_DOCKERFILES`] (when on), and what of it is not a dockerfile.
    defaults: Option<(Regex, Regex)>,
    input: Option<Regex>,
    exclude: Option<Regex>,
}

impl Matcher {
    /// Compiles the patterns; `origin` names where they came from for error messages.
    pub fn new(spec: &MatchSpec, origin: &str) -> Result<Self> {
        let mut dockerfile = Vec::new();
        let globs =
            |list: &[&str]| -> Vec<String> { list.iter().map(|g| glob_to_regex(g)).collect() };
        let defaults = if spec.defaults {
            union(&globs(DEFAULT_DOCKERFILES)).zip(union(&globs(NOT_DOCKERFILES)))
        } else {
            None
        };
        for g in &spec.dockerfiles {
            dockerfile.push(checked_glob(g, origin, "match.dockerfiles")?);
        }
        for r in &spec.dockerfile_regex {
            dockerfile.push(checked_regex(r, origin, "match.dockerfile_regex")?);
        }
        let mut input = Vec::new();
        for g in &spec.inputs {
            input.push(checked_glob(g, origin, "match.inputs")?);
        }
        for r in &spec.input_regex {
            input.push(checked_regex(r, origin, "match.input_regex")?);
        }
        let mut exclude = Vec::new();
        for g in &spec.exclude {
            exclude.push(checked_glob(g, origin, "match.exclude")?);
        }
        Ok(Matcher {
            dockerfile: union(&dockerfile),
            defaults,
            input: union(&input),
            exclude: union(&exclude),
        })
    }

    /// The role of `path`, or `None` when it is nothing to an image.
    pub fn classify(&self, path: &[u8]) -> Option<PathRole> {
        if self.exclude.as_ref().is_some_and(|re| re.is_match(path)) {
            return None;
        }
        let default = || {
            self.defaults
                .as_ref()
                .is_some_and(|(yes, no)| yes.is_match(path) && !no.is_match(path))
        };
        if self.dockerfile.as_ref().is_some_and(|re| re.is_match(path)) || default() {
            Some(PathRole::Dockerfile)
        } else if self.input.as_ref().is_some_and(|re| re.is_match(path)) {
            Some(PathRole::Input)
        } else {
            None
        }
    }

    /// Whether `match.exclude` keeps `path` out, whatever else matches.
    pub fn excludes(&self, path: &[u8]) -> bool {
        self.exclude.as_ref().is_some_and(|re| re.is_match(path))
    }

    /// The compiled `match.exclude` globs, for images: a path they exclude is never an
    /// image input, whatever image copies it ([`crate::images::Image::claim`]).
    pub(crate) fn exclude_regex(&self) -> Option<&Regex> {
        self.exclude.as_ref()
    }

    /// Identifies the patterns (for memos made under them).
    pub fn fingerprint(&self) -> Vec<String> {
        let (yes, no) = self
            .defaults
            .as_ref()
            .map_or((None, None), |(y, n)| (Some(y), Some(n)));
        [
            self.dockerfile.as_ref(),
            yes,
            no,
            self.input.as_ref(),
            self.exclude.as_ref(),
        ]
        .iter()
        .map(|r| r.map_or_else(String::new, |r| r.as_str().to_owned()))
        .collect()
    }

    /// True when no path can ever match (everything turned off).
    pub fn is_empty(&self) -> bool {
        self.dockerfile.is_none() && self.defaults.is_none() && self.input.is_none()
    }
}

fn union(parts: &[String]) -> Option<Regex> {
    if parts.is_empty() {
        return None;
    }
    let joined = parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    // Every part was compiled on its own already, so the union compiles too.
    Regex::new(&format!("^(?:{joined})$")).ok()
}

/// A configured glob, compiled: an empty glob, an unclosed `[` or a class the regex engine
/// rejects (`[z-a]`) is a config error naming the key, never a literal or a silent miss.
pub fn checked_glob(glob: &str, origin: &str, key: &str) -> Result<String> {
    if glob.is_empty() {
        return Err(Error::Config {
            origin: origin.to_owned(),
            message: format!("`{key}` has an empty glob; remove it"),
        });
    }
    if let Some(problem) = glob_problem(glob) {
        return Err(Error::Config {
            origin: origin.to_owned(),
            message: format!("`{key}` glob {glob:?} is not valid: {problem}"),
        });
    }
    let re = glob_to_regex(glob);
    Regex::new(&format!("^(?:{re})$")).map_err(|e| Error::Config {
        origin: origin.to_owned(),
        message: format!("`{key}` glob {glob:?} is not valid: {e}"),
    })?;
    Ok(re)
}

fn checked_regex(re: &str, origin: &str, key: &str) -> Result<String> {
    // The pattern as written first, so the error quotes it, not the wrapped one.
    if let Some(problem) = crate::config::excerpt::regex(re) {
        return Err(Error::Config {
            origin: origin.to_owned(),
            message: format!("`{key}` regex {re:?} is not valid: {problem}"),
        });
    }
    // `.` matches newlines (paths may hold them); Unicode stays on for users' classes.
    let re = format!("(?s:{re})");
    Regex::new(&format!("^(?:{re})$")).map_err(|e| Error::Config {
        origin: origin.to_owned(),
        message: format!(
            "`{key}` regex {re:?} is not valid: {}",
            e.to_string().lines().last().unwrap_or("invalid")
        ),
    })?;
    Ok(re)
}

/// Translates a glob (syntax in the module docs) into a regex that must match the whole
/// path. It works on bytes (`-u`) with `.` matching newlines (`s`), like git's globs.
pub fn glob_to_regex(glob: &str) -> String {
    let mut g = glob;
    let anchored = g.trim_end_matches('/').contains('/');
    g = g.strip_prefix('/').unwrap_or(g);
    let dir_only = g.ends_with('/');
    let g = g.trim_end_matches('/');
    let mut out = String::new();
    if !anchored {
        out.push_str("(?:.*/)?");
    }
    let comps: Vec<&str> = g.split('/').collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if *comp == "**" {
            if last {
                // `dir/**`: everything below dir.
                out.push_str(".*");
            } else {
                out.push_str("(?:[^/]*/)*");
            }
            continue;
        }
        translate_component(comp, &mut out);
        if !last {
            out.push('/');
        }
    }
    if dir_only {
        out.push_str("/.*");
    }
    // Bytes, not characters: `*` must match non-UTF-8 names and newlines too.
    format!("(?s-u:{out})")
}

fn translate_component(comp: &str, out: &mut String) {
    let chars: Vec<char> = comp.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                while i + 1 < chars.len() && chars[i + 1] == '*' {
                    i += 1;
                }
                out.push_str("[^/]*");
            }
            '?' => out.push_str("[^/]"),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push_str(&regex::escape(&chars[i].to_string()));
            }
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    out.push('[');
                    let mut j = i + 1;
                    if matches!(chars[j], '!' | '^') {
                        // A class never matches `/` (git's wildmatch, WM_PATHNAME):
                        // `[!a]` must not reach into another directory.
                        out.push_str("^/");
                        j += 1;
                    }
                    for &cc in &chars[j..end] {
                        match cc {
                            '\\' | '[' | ']' | '&' | '~' | '^' => {
                                out.push('\\');
                                out.push(cc);
                            }
                            _ => out.push(cc),
                        }
                    }
                    out.push(']');
                    i = end;
                }
                None => out.push_str(&regex::escape("[")),
            },
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
}

/// What is wrong with a glob's syntax (an unclosed character class), if anything.
fn glob_problem(glob: &str) -> Option<String> {
    for comp in glob.split('/') {
        let chars: Vec<char> = comp.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 1,
                '[' => match class_end(&chars, i) {
                    Some(end) => i = end,
                    None => {
                        return Some(format!(
                            "`[` at {:?} opens a character class that is never closed \
                             (write `\\[` for a literal `[`)",
                            comp
                        ))
                    }
                },
                _ => {}
            }
            i += 1;
        }
    }
    None
}

/// Index of the `]` closing the class opened at `start`, if the class is well formed.
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    if j < chars.len() && matches!(chars[j], '!' | '^') {
        j += 1;
    }
    // A `]` right after the opening is a literal member.
    if j < chars.len() && chars[j] == ']' {
        j += 1;
    }
    while j < chars.len() {
        if chars[j] == ']' {
            return (j > start + 1).then_some(j);
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(spec: MatchSpec) -> Matcher {
        Matcher::new(&spec, "test").expect("valid spec")
    }

    fn defaults() -> Matcher {
        m(MatchSpec {
            defaults: true,
            ..MatchSpec::default()
        })
    }

    #[test]
    fn default_names_in_any_directory() {
        let d = defaults();
        for p in [
            "Dockerfile",
            "a/b/Dockerfile",
            "Dockerfile.alpine",
            "ci/containers/centos-9.Dockerfile",
            "x/y.dockerfile",
            "Containerfile",
            "c/Containerfile.fedora",
            "tests/docker/dockerfiles/debian10.docker",
            // The docker CLI's lowercase fallback, Podman's `<name>.` forms.
            "dockerfile",
            "x/web.Containerfile",
            "x/api.containerfile",
            // What projects write.
            "DockerFile",
            "Dockerfile-dev",
            "Dockerfile_prod",
            "dockerfile.dev",
            "Dockerfile.txt",
        ] {
            assert_eq!(d.classify(p.as_bytes()), Some(PathRole::Dockerfile), "{p}");
        }
        for p in [
            "Dockerfiles/readme",
            "containerfile",
            "a/Dockerfile/x",
            "x.docker.sh",
            "docs/docker.md",
            "DockerfileX",
            "docs/Dockerfile.md",
            "Dockerfile.rst",
            "img/Dockerfile-layers.png",
            "docker/Dockerfile.dockerignore",
        ] {
            assert_eq!(d.classify(p.as_bytes()), None, "{p}");
        }
    }

    #[test]
    fn anchored_globs_and_double_star() {
        let mm = m(MatchSpec {
            inputs: vec!["tests/docker/dockerfiles/**".into(), "scripts/*.sh".into()],
            ..MatchSpec::default()
        });
        assert_eq!(
            mm.classify(b"tests/docker/dockerfiles/debian.d/build.sh"),
            Some(PathRole::Input)
        );
        assert_eq!(mm.classify(b"scripts/a.sh"), Some(PathRole::Input));
        assert_eq!(mm.classify(b"scripts/sub/a.sh"), None);
        assert_eq!(mm.classify(b"x/scripts/a.sh"), None);
        let mid = m(MatchSpec {
            inputs: vec!["a/**/b".into()],
            ..MatchSpec::default()
        });
        for p in ["a/b", "a/x/b", "a/x/y/b"] {
            assert!(mid.classify(p.as_bytes()).is_some(), "{p}");
        }
        assert!(mid.classify(b"a/xb").is_none());
    }

    #[test]
    fn classes_escapes_and_trailing_slash() {
        let mm = m(MatchSpec {
            dockerfiles: vec!["[!x]ile[0-9]".into(), "lit\\*".into()],
            inputs: vec!["ctx/".into()],
            ..MatchSpec::default()
        });
        assert!(mm.classify(b"a/file1").is_some());
        assert!(mm.classify(b"a/xile1").is_none());
        assert!(mm.classify(b"lit*").is_some());
        assert!(mm.classify(b"litx").is_none());
        assert!(mm.classify(b"ctx/a/b").is_some());
        assert!(mm.classify(b"ctx").is_none());
    }

    #[test]
    fn exclude_wins_and_non_utf8_paths_do_not_panic() {
        let mm = m(MatchSpec {
            defaults: true,
            exclude: vec!["vendor/**".into()],
            ..MatchSpec::default()
        });
        assert!(mm.classify(b"vendor/x/Dockerfile").is_none());
        assert_eq!(
            mm.classify(b"\xff\xfe/Dockerfile"),
            Some(PathRole::Dockerfile)
        );
        assert_eq!(mm.classify(b"a\xff.docker"), Some(PathRole::Dockerfile));
    }

    #[test]
    fn bad_patterns_name_key_and_origin() {
        let err = Matcher::new(
            &MatchSpec {
                dockerfile_regex: vec!["(".into()],
                ..MatchSpec::default()
            },
            ".dockguard.toml",
        )
        .expect_err("bad regex");
        let s = err.to_string();
        assert!(
            s.contains(".dockguard.toml") && s.contains("match.dockerfile_regex"),
            "{s}"
        );
    }

    #[test]
    fn regex_form_agrees_with_glob_form() {
        for glob in ["*.docker", "tests/docker/**", "a/**/b/*.sh", "Dockerfile.*"] {
            let g = m(MatchSpec {
                inputs: vec![glob.into()],
                ..MatchSpec::default()
            });
            let r = m(MatchSpec {
                input_regex: vec![glob_to_regex(glob)],
                ..MatchSpec::default()
            });
            for p in [
                "x.docker",
                "d/x.docker",
                "tests/docker/a",
                "a/b/c.sh",
                "a/q/b/c.sh",
                "Dockerfile.x",
            ] {
                assert_eq!(
                    g.classify(p.as_bytes()),
                    r.classify(p.as_bytes()),
                    "{glob} {p}"
                );
            }
        }
    }
}
