//! `docker build` / `docker buildx build` / `podman build` / `buildah bud` command lines
//! in CI scripts: which dockerfile is built with which context.
//!
//! Scripts are split into simple commands (`;`, `&&`, `||`, `|`, newlines; backslash
//! continuations joined), words are unquoted as a shell would, `$VAR` / `${VAR}` take the
//! values the CI file defines, and `cd DIR` moves the working directory of what follows
//! (CI jobs start at the repository root). Anything else (an unknown variable, a command
//! substitution, an option we do not know) makes the affected part unknown, which the
//! image graph treats as "not declared" (the guess, widened, stays in force).

use std::collections::HashMap;

use super::dockerfile::{clean, ANY};

/// One builder invocation found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCall {
    /// The command as written (first words), for messages.
    pub command: String,
    /// The dockerfile, repository-relative (may contain [`ANY`]); `None` when it is the
    /// context's default (`Dockerfile`, or `Containerfile` for podman/buildah).
    pub file: Option<String>,
    /// The context, repository-relative (may contain [`ANY`]); `None` when unknown.
    pub context: Option<String>,
    /// `--build-arg NAME=VALUE` (`None`: the value is unknown).
    pub args: Vec<(String, Option<String>)>,
    /// `--build-context name=DIR` directories (repository-relative).
    pub named: Vec<String>,
    /// podman/buildah look for `Containerfile` before `Dockerfile`.
    pub podman: bool,
}

/// docker/podman/buildah build options that take a value (as a separate word).
const VALUE_FLAGS: &[&str] = &[
    "-f",
    "--file",
    "-t",
    "--tag",
    "--build-arg",
    "--build-context",
    "--target",
    "--cache-from",
    "--cache-to",
    "--platform",
    "--label",
    "--network",
    "--add-host",
    "--cgroup-parent",
    "--cpu-period",
    "--cpu-quota",
    "-c",
    "--cpu-shares",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--iidfile",
    "--isolation",
    "-m",
    "--memory",
    "--memory-swap",
    "-o",
    "--output",
    "--progress",
    "--secret",
    "--security-opt",
    "--shm-size",
    "--ssh",
    "--ulimit",
    "--attest",
    "--sbom",
    "--provenance",
    "--metadata-file",
    "--allow",
    "--builder",
    "--call",
    "--annotation",
    "--authfile",
    "--cert-dir",
    "--creds",
    "--format",
    "--runtime",
    "--sign-by",
    "--signature-policy",
    "--arch",
    "--os",
    "--variant",
    "--jobs",
    "--logfile",
    "--manifest",
    "--timestamp",
    "-v",
    "--volume",
    "--cap-add",
    "--cap-drop",
    "--device",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--from",
    "--userns",
    "--uts",
    "--pid",
    "--ipc",
    "--cgroupns",
    "--decryption-key",
    "--ignorefile",
    "--layer-label",
    "--unsetenv",
    "--unsetlabel",
    "--retry",
    "--retry-delay",
    "--os-feature",
    "--os-version",
    "--platforms",
    "--rusage-logfile",
    "--hooks-dir",
    "--cpp-flag",
    "--group-add",
    "--source-date-epoch",
    "--env",
    "-e",
    "--runtime-flag",
    "--tls-details",
    "--userns-uid-map",
    "--userns-gid-map",
    "--userns-uid-map-user",
    "--userns-gid-map-group",
    "--cw",
    "--sbom-output",
    "--sbom-scanner-image",
    "--sbom-image-output",
    "--sbom-merge-strategy",
    "--no-cache-filter",
    "--identity-label",
    "--stdin",
];

/// Boolean options (no value).
const BOOL_FLAGS: &[&str] = &[
    "-q",
    "--quiet",
    "--no-cache",
    "--pull",
    "--rm",
    "--force-rm",
    "--compress",
    "--squash",
    "--squash-all",
    "--load",
    "--push",
    "--layers",
    "--disable-compression",
    "-D",
    "--disable-content-trust",
    "--debug",
    "--help",
    "--tls-verify",
    "--http-proxy",
    "--no-hosts",
    "--omit-history",
    "--compat-volumes",
    "--rewrite-timestamp",
    "--inherit-labels",
    "--skip-unused-stages",
    "--all-platforms",
    "--check",
    "--print",
    "--stream",
];

/// Splits a script into simple commands (each a list of unquoted words), expanding
/// variables with `vars`; unknown expansions become [`ANY`].
pub fn commands(script: &str, vars: &HashMap<String, String>) -> Vec<Vec<String>> {
    let joined = script.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = joined.chars().peekable();
    let flush = |words: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        if !words.is_empty() {
            out.push(std::mem::take(words));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    word.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        '$' => expand(&mut chars, vars, &mut word),
                        '`' => {
                            word.push(ANY);
                            for e in chars.by_ref() {
                                if e == '`' {
                                    break;
                                }
                            }
                        }
                        _ => word.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, vars, &mut word);
            }
            '#' if !in_word => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                flush(&mut words, &mut out);
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                flush(&mut words, &mut out);
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    flush(&mut words, &mut out);
    out
}

/// `$NAME`, `${NAME}`, `${NAME:-default}`, `$(…)`: the known value, else [`ANY`].
fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    vars: &HashMap<String, String>,
    word: &mut String,
) {
    match chars.peek() {
        Some('{') => {
            chars.next();
            let mut inner = String::new();
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
                inner.push(d);
            }
            let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((n, d)) => (n.to_owned(), Some(d.to_owned())),
                None => (inner.clone(), None),
            };
            match vars.get(&name).cloned().or(default) {
                Some(v) if !v.contains('$') => word.push_str(&v),
                _ => word.push(ANY),
            }
        }
        Some('(') => {
            // A command substitution: unknown text.
            let mut depth = 0;
            for d in chars.by_ref() {
                match d {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            word.push(ANY);
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let mut name = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    name.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            match vars.get(&name) {
                Some(v) if !v.contains('$') => word.push_str(v),
                _ => word.push(ANY),
            }
        }
        Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(*c) => {
            chars.next();
            word.push(ANY);
        }
        _ => word.push('$'),
    }
}

/// The variables that name the repository root in CI (`$CI_PROJECT_DIR/x` is `x`).
pub const ROOT_VARS: &[&str] = &["CI_PROJECT_DIR", "GITHUB_WORKSPACE", "PWD", "CI_BUILDS_DIR"];

/// A path word relative to `cwd`, repository-relative and cleaned; `None` when it leaves
/// the repository or is absolute (outside what this repository holds).
pub(super) fn repo_path(cwd: &str, word: &str) -> Option<String> {
    if word.starts_with('/') {
        return None;
    }
    let joined = if cwd.is_empty() {
        word.to_owned()
    } else {
        format!("{cwd}/{word}")
    };
    let mut depth: i32 = 0;
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => depth += 1,
        }
    }
    Some(clean(&joined))
}

/// The builder invocations in a script (run from the repository root).
pub fn build_calls(script: &str, vars: &HashMap<String, String>) -> Vec<BuildCall> {
    build_calls_in(script, vars, &mut Some(String::new()))
}

/// The builder invocations in a script run in `cwd` (repository-relative, `None`:
/// unknown), which a `cd` in it moves for what follows (the next script of the same job).
pub fn build_calls_in(
    script: &str,
    vars: &HashMap<String, String>,
    cwd: &mut Option<String>,
) -> Vec<BuildCall> {
    let mut vars = vars.clone();
    for v in ROOT_VARS {
        vars.insert((*v).to_owned(), ".".to_owned());
    }
    let mut out = Vec::new();
    for words in commands(script, &vars) {
        let mut w: &[String] = &words;
        // Leading assignments and wrappers.
        while let Some((first, rest)) = w.split_first() {
            let is_assign = first.contains('=')
                && first.split('=').next().is_some_and(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if is_assign
                || matches!(
                    first.as_str(),
                    "sudo" | "time" | "exec" | "command" | "nice" | "env"
                )
            {
                w = rest;
            } else {
                break;
            }
        }
        let Some(first) = w.first() else { continue };
        if first == "cd" {
            *cwd = match (cwd.take(), w.get(1)) {
                (Some(c), Some(dir)) if !dir.contains(ANY) => repo_path(&c, dir),
                (_, None) => Some(String::new()),
                _ => None,
            };
            continue;
        }
        let tool = first.rsplit('/').next().unwrap_or(first);
        let (rest, podman) = match (
            tool,
            w.get(1).map(String::as_str),
            w.get(2).map(String::as_str),
        ) {
            ("docker", Some("build"), _) => (&w[2..], false),
            ("docker", Some("buildx" | "image" | "builder"), Some("build")) => (&w[3..], false),
            ("podman", Some("build"), _) => (&w[2..], true),
            ("podman", Some("image"), Some("build")) => (&w[3..], true),
            ("buildah", Some("bud" | "build" | "build-using-dockerfile"), _) => (&w[2..], true),
            _ => continue,
        };
        let command = w[..w.len() - rest.len()].join(" ");
        out.push(parse_call(command, rest, cwd.as_deref(), podman));
    }
    out
}

fn parse_call(command: String, args: &[String], cwd: Option<&str>, podman: bool) -> BuildCall {
    let mut call = BuildCall {
        command,
        file: None,
        context: None,
        args: Vec::new(),
        named: Vec::new(),
        podman,
    };
    let mut positional = Vec::new();
    let mut uncertain = false;
    let mut i = 0;
    let mut file = None;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            positional.push(a.clone());
            continue;
        }
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => {
                // `-fDockerfile` style short options.
                if a.len() > 2 && !a.starts_with("--") && VALUE_FLAGS.contains(&&a[..2]) {
                    let v = &a[2..];
                    (
                        a[..2].to_owned(),
                        Some(v.strip_prefix('=').unwrap_or(v).to_owned()),
                    )
                } else {
                    (a.clone(), None)
                }
            }
        };
        let value = if VALUE_FLAGS.contains(&flag.as_str()) {
            match value {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    args.get(i - 1).cloned()
                }
            }
        } else {
            if !BOOL_FLAGS.contains(&flag.as_str()) && value.is_none() {
                // We do not know whether it takes a value: the context is uncertain.
                uncertain = true;
            }
            None
        };
        let Some(v) = value else { continue };
        match flag.as_str() {
            "-f" | "--file" => file = Some(v),
            "--build-arg" => match v.split_once('=') {
                Some((k, val)) => call
                    .args
                    .push((k.to_owned(), (!val.contains(ANY)).then(|| val.to_owned()))),
                // `--build-arg NAME` takes the value from the environment: unknown.
                None => call.args.push((v, None)),
            },
            "--build-context" => {
                if let Some((_, dir)) = v.split_once('=') {
                    if let Some(p) = cwd.and_then(|c| local_dir(c, dir)) {
                        call.named.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    let context = match positional.as_slice() {
        [one] if !uncertain => Some(one.clone()),
        _ => None,
    };
    call.context = match (cwd, context) {
        (Some(c), Some(ctx)) => local_dir(c, &ctx),
        _ => None,
    };
    call.file = match (cwd, file) {
        (_, None) => None,
        (_, Some(f)) if f == "-" => None,
        (Some(c), Some(f)) => repo_path(c, &f),
        (None, Some(_)) => Some(ANY.to_string()),
    };
    // `-f` given but unusable (absolute, outside): a dockerfile we cannot name.
    if call.file.is_none()
        && args
            .iter()
            .any(|a| a == "-f" || a == "--file" || a.starts_with("--file="))
    {
        call.file = Some(ANY.to_string());
    }
    call
}

/// A local context directory (not a URL, not `-`).
fn local_dir(cwd: &str, word: &str) -> Option<String> {
    if word == "-" || word.contains("://") || word.starts_with("git@") {
        return None;
    }
    repo_path(cwd, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(s: &str) -> Vec<BuildCall> {
        let vars = HashMap::from([("NAME".to_owned(), "debian".to_owned())]);
        build_calls(s, &vars)
    }

    #[test]
    fn finds_builds_in_scripts() {
        let c = calls(
            "set -e\ndocker build -t x:1 -f docker/Dockerfile --build-arg A=1 .\ncd sub && sudo podman build --layers -f=ci/$NAME.Containerfile ctx\n",
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].file.as_deref(), Some("docker/Dockerfile"));
        assert_eq!(c[0].context.as_deref(), Some(""));
        assert_eq!(c[0].args, vec![("A".into(), Some("1".into()))]);
        assert_eq!(c[1].file.as_deref(), Some("sub/ci/debian.Containerfile"));
        assert_eq!(c[1].context.as_deref(), Some("sub/ctx"));
        assert!(c[1].podman);
        let c = calls("docker buildx build --push \\\n  --file \"$CI_PROJECT_DIR/a b/Dockerfile\" \"${CI_PROJECT_DIR}/a b\"");
        assert_eq!(c[0].file.as_deref(), Some("a b/Dockerfile"));
        assert_eq!(c[0].context.as_deref(), Some("a b"));
        let c = calls("buildah bud -f $UNKNOWN/Dockerfile --weird-flag x .");
        assert_eq!(c[0].file, Some(format!("{ANY}/Dockerfile")));
        assert_eq!(
            c[0].context, None,
            "an unknown option makes the context unknown"
        );
        let c = calls("docker build - < Dockerfile\ndocker build https://github.com/x/y.git\necho docker build");
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.context.is_none()));
        let c = calls("docker build --build-context tools=../tools .");
        assert!(c[0].named.is_empty(), "outside the repository");
    }
}
