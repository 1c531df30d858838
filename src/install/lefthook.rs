//! lefthook: whether a push runs dockguard through it. Its configuration
//! (`lefthook.yml` or its other names and formats, merged with `lefthook-local.*`) must
//! have a `pre-push` command or job running `dockguard hook pre-push` with
//! `use_stdin: true` (dockguard reads git's ref lines) and nothing that skips it
//! (`skip`, `only`, file filters, `LEFTHOOK_EXCLUDE`); and `lefthook install` must have
//! put lefthook's own hook in the hooks directory (a fresh clone has none), where git
//! runs it only if it is executable, and lefthook itself must be found by that hook
//! (else it prints "Can't find lefthook in PATH" and lets the push through).

use std::path::Path;

use super::hooks_dir::HooksDir;
use super::managers::{
    chmod_fix, executable, hook_file, runs, scalars, tree_file, Manager, LEFTHOOK_SNIPPET,
};
use crate::images::yaml::{load, Y};
use crate::Env;

/// lefthook's configuration names, in the order it looks for them.
const NAMES: &[&str] = &[
    "lefthook.yml",
    ".lefthook.yml",
    "lefthook.yaml",
    ".lefthook.yaml",
    "lefthook.toml",
    ".lefthook.toml",
    "lefthook.json",
    ".lefthook.json",
    ".config/lefthook.yml",
    ".config/lefthook.yaml",
];

/// Keys of a command or job that make it run only for some pushes.
const CONDITIONS: &[&str] = &[
    "skip",
    "only",
    "glob",
    "files",
    "exclude",
    "file_types",
    "root",
];

/// lefthook, when its configuration or its hook is there.
pub(crate) fn detect(root: &Path, hooks: &HooksDir, env: &Env) -> Option<Manager> {
    let hook_path = hooks.path.join("pre-push");
    let hook = hook_file(&hook_path);
    let theirs = hook.contains("call_lefthook") || hook.contains("lefthook run");
    let main = NAMES
        .iter()
        .find_map(|n| tree_file(root, n).map(|t| (*n, t)));
    if main.is_none() && !theirs {
        return None;
    }
    let evidence = match &main {
        Some((n, _)) => format!("{n} exists"),
        None => format!("{} runs lefthook", hook_path.display()),
    };
    let mut m = Manager::new("lefthook", evidence);
    let file = main.as_ref().map_or("lefthook.yml", |(n, _)| *n);
    let add = format!("Add dockguard to lefthook instead, in {file}:\n\n{LEFTHOOK_SNIPPET}");
    match main.map(|(n, t)| parse(n, &t)) {
        None => m.gap("there is no lefthook.yml".into(), add.clone()),
        Some(Err(e)) => m.gap(
            format!("{file} cannot be read ({e}), so nothing it says can be relied on"),
            format!("fix {file}, then run dockguard status again"),
        ),
        Some(Ok(mut config)) => {
            for local in NAMES
                .iter()
                .map(|n| n.replacen("lefthook", "lefthook-local", 1))
            {
                if let Some(t) = tree_file(root, &local) {
                    match parse(&local, &t) {
                        Ok(l) => config = merge(config, l),
                        Err(e) => m.gap(
                            format!("{local} cannot be read ({e})"),
                            format!("fix {local}, then run dockguard status again"),
                        ),
                    }
                }
            }
            judge_config(&config, file, env, &add, &mut m);
            if config.get("extends").is_some() || config.get("remotes").is_some() {
                m.notes.push(format!(
                    "{file} also takes configuration from `extends`/`remotes`, which dockguard does not read: they can change what pre-push runs"
                ));
            }
        }
    }
    if !theirs {
        let why = if hook.is_empty() && !hook_path.exists() {
            "lefthook's hooks are not installed in this clone (`lefthook install` was never run here), so a push runs no hook".to_owned()
        } else {
            format!("{} is not lefthook's hook", hook_path.display())
        };
        m.gap(why, "run: lefthook install".into());
    } else if !executable(&hook_path) {
        m.gap(
            format!(
                "{} is not executable, so git ignores it",
                hook_path.display()
            ),
            chmod_fix(&hook_path),
        );
    }
    if theirs && !findable(root, env) {
        m.gap(
            "lefthook itself is not found (not on PATH, no LEFTHOOK_BIN, not in node_modules): its hook then lets every push through".into(),
            "install lefthook where its hook finds it (on PATH, or `npm install` for node_modules)".into(),
        );
    }
    if env.get("LEFTHOOK") == Some("0") {
        m.gap(
            "LEFTHOOK=0 is set here, which makes lefthook's hooks exit at once".into(),
            "unset LEFTHOOK".into(),
        );
    }
    Some(m)
}

/// The gaps in a parsed configuration's `pre-push`.
fn judge_config(config: &Y, file: &str, env: &Env, add: &str, m: &mut Manager) {
    let Some(pp) = config.get("pre-push") else {
        m.gap(format!("{file} has no pre-push hook"), add.to_owned());
        return;
    };
    let entry =
        format!("in {file}, make dockguard's pre-push entry exactly:\n\n{LEFTHOOK_SNIPPET}");
    if let Some(v) = set(pp, "skip") {
        m.gap(format!("{file}'s pre-push has `skip: {v}`"), entry.clone());
    }
    let found = candidates(pp);
    let Some((name, cmd)) = found.into_iter().next() else {
        m.gap(
            format!(
                "{file}'s pre-push does not run dockguard (a mention in a comment runs nothing)"
            ),
            add.to_owned(),
        );
        return;
    };
    for key in CONDITIONS {
        if let Some(v) = set(cmd, key) {
            m.gap(
                format!("its `{name}` command has `{key}: {v}`, so it does not run on every push"),
                entry.clone(),
            );
        }
    }
    if cmd.get("use_stdin").and_then(Y::str) != Some("true") {
        m.gap(
            format!("its `{name}` command lacks `use_stdin: true`, so dockguard is not given the pushed refs"),
            entry.clone(),
        );
    }
    let excluded = env.get("LEFTHOOK_EXCLUDE").unwrap_or_default();
    let tags = words(cmd.get("tags"));
    if excluded
        .split(',')
        .map(str::trim)
        .any(|x| !x.is_empty() && (x == name || tags.iter().any(|t| t == x)))
    {
        m.gap(
            format!("LEFTHOOK_EXCLUDE={excluded} is set here and excludes `{name}`"),
            "unset LEFTHOOK_EXCLUDE (or drop dockguard's name and tags from it)".into(),
        );
    }
}

/// The `pre-push` commands and jobs (one level of groups) that run dockguard's hook.
fn candidates(pp: &Y) -> Vec<(String, &Y)> {
    let mut out = Vec::new();
    if let Some(commands) = pp.get("commands") {
        for (name, c) in commands.entries() {
            if y_runs(c) {
                out.push((name.to_owned(), c));
            }
        }
    }
    let mut jobs: Vec<&Y> = Vec::new();
    if let Some(Y::Seq(js)) = pp.get("jobs") {
        for j in js {
            jobs.push(j);
            if let Some(Y::Seq(inner)) = j.get("group").and_then(|g| g.get("jobs")) {
                jobs.extend(inner.iter());
            }
        }
    }
    for (i, j) in jobs.into_iter().enumerate() {
        if y_runs(j) {
            let name = j
                .get("name")
                .and_then(Y::str)
                .map_or_else(|| format!("job {}", i + 1), str::to_owned);
            out.push((name, j));
        }
    }
    out
}

fn y_runs(c: &Y) -> bool {
    c.get("run")
        .and_then(Y::str)
        .is_some_and(|r| runs(r, "dockguard hook pre-push"))
}

/// A condition key's value unless it is absent or off (`false`, empty).
fn set(y: &Y, key: &str) -> Option<String> {
    let v = y.get(key)?;
    let text = match v {
        Y::Str(s, _) => s.clone(),
        other => format!("[{}]", scalars(other).join(", ")),
    };
    (!matches!(text.as_str(), "false" | "" | "[]")).then_some(text)
}

fn words(y: Option<&Y>) -> Vec<String> {
    match y {
        Some(Y::Str(s, _)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(other) => scalars(other),
        None => Vec::new(),
    }
}

/// Whether the hook lefthook generates would find lefthook (its own search order).
fn findable(root: &Path, env: &Env) -> bool {
    if env.get("LEFTHOOK_BIN").is_some_and(|b| !b.is_empty()) {
        return true;
    }
    let on_path = env
        .get("PATH")
        .map(|p| std::env::split_paths(p).any(|d| executable(&d.join("lefthook"))))
        .unwrap_or(false);
    on_path
        || [
            "node_modules/lefthook/bin/index.js",
            "node_modules/@evilmartians/lefthook-installer/bin/lefthook",
        ]
        .iter()
        .any(|p| root.join(p).is_file())
        || std::fs::read_dir(root.join("node_modules"))
            .map(|d| {
                d.flatten().any(|e| {
                    e.file_name().to_string_lossy().starts_with("lefthook-")
                        && e.path().join("bin/lefthook").is_file()
                })
            })
            .unwrap_or(false)
}

/// One configuration file, as a YAML-like tree (TOML and JSON are converted).
fn parse(name: &str, text: &str) -> Result<Y, String> {
    if name.ends_with(".toml") {
        let v: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        return Ok(from_json(
            &serde_json::to_value(v).map_err(|e| e.to_string())?,
        ));
    }
    if name.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return Ok(from_json(&v));
    }
    let docs = load(text)?;
    Ok(docs.into_iter().next().unwrap_or(Y::Map(Vec::new())))
}

fn from_json(v: &serde_json::Value) -> Y {
    use serde_json::Value as J;
    match v {
        J::Object(m) => Y::Map(
            m.iter()
                .map(|(k, v)| (Y::Str(k.clone(), 0), from_json(v)))
                .collect(),
        ),
        J::Array(a) => Y::Seq(a.iter().map(from_json).collect()),
        J::String(s) => Y::Str(s.clone(), 0),
        J::Null => Y::Str(String::new(), 0),
        other => Y::Str(other.to_string(), 0),
    }
}

/// lefthook's merge of a local configuration over the main one: mappings key by key,
/// anything else replaced.
fn merge(base: Y, over: Y) -> Y {
    match (base, over) {
        (Y::Map(mut b), Y::Map(o)) => {
            for (k, v) in o {
                match b.iter().position(|(bk, _)| bk.str() == k.str()) {
                    Some(i) => {
                        let old = std::mem::replace(&mut b[i].1, Y::Seq(Vec::new()));
                        b[i].1 = merge(old, v);
                    }
                    None => b.push((k, v)),
                }
            }
            Y::Map(b)
        }
        (_, o) => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(yaml: &str, env: &[(&str, &str)]) -> Vec<String> {
        let config = parse("lefthook.yml", yaml).expect("yaml");
        let env = Env::from_pairs(env);
        let mut m = Manager::new("lefthook", String::new());
        judge_config(&config, "lefthook.yml", &env, "add", &mut m);
        m.gaps
    }

    #[test]
    fn only_an_unconditional_command_with_stdin_is_wired() {
        assert_eq!(gaps(LEFTHOOK_SNIPPET, &[]), Vec::<String>::new());
        let skipped = format!("{LEFTHOOK_SNIPPET}\n      skip: true");
        assert!(gaps(&skipped, &[])[0].contains("`skip: true`"));
        let on_merge = format!("{LEFTHOOK_SNIPPET}\n      skip: [merge, rebase]");
        assert!(gaps(&on_merge, &[])[0].contains("skip: [merge, rebase]"));
        let globbed = format!("{LEFTHOOK_SNIPPET}\n      glob: \"*.docker\"");
        assert!(gaps(&globbed, &[])[0].contains("glob"));
        let comment = "pre-push:\n  commands:\n    lint:\n      run: make lint\n# dockguard hook pre-push {1} {2}\n";
        assert!(gaps(comment, &[])[0].contains("does not run dockguard"));
        let no_stdin = "pre-push:\n  commands:\n    dg:\n      run: dockguard hook pre-push\n";
        assert!(gaps(no_stdin, &[])[0].contains("use_stdin"));
        let hook_skip = format!("{LEFTHOOK_SNIPPET}\n  skip: true")
            .replace("pre-push:\n  commands:", "pre-push:\n  commands:");
        assert!(!gaps(&hook_skip, &[]).is_empty());
        let excluded = gaps(LEFTHOOK_SNIPPET, &[("LEFTHOOK_EXCLUDE", "dockguard")]);
        assert!(excluded[0].contains("LEFTHOOK_EXCLUDE"));
        let jobs = "pre-push:\n  jobs:\n    - name: dg\n      run: dockguard hook pre-push {1} {2}\n      use_stdin: true\n";
        assert_eq!(gaps(jobs, &[]), Vec::<String>::new());
    }

    #[test]
    fn a_local_file_overrides_the_main_one() {
        let main = parse("lefthook.yml", LEFTHOOK_SNIPPET).expect("yaml");
        let local = parse(
            "lefthook-local.yml",
            "pre-push:\n  commands:\n    dockguard:\n      skip: true\n",
        )
        .expect("yaml");
        let merged = merge(main, local);
        let mut m = Manager::new("lefthook", String::new());
        judge_config(
            &merged,
            "lefthook.yml",
            &Env::from_pairs(&[]),
            "add",
            &mut m,
        );
        assert!(m.gaps[0].contains("skip: true"), "{:?}", m.gaps);
    }

    #[test]
    fn toml_and_json_configurations_are_read_too() {
        let toml = "[pre-push.commands.dockguard]\nrun = \"dockguard hook pre-push {1} {2}\"\nuse_stdin = true\n";
        let y = parse("lefthook.toml", toml).expect("toml");
        assert_eq!(candidates(y.get("pre-push").expect("pre-push")).len(), 1);
        let json = r#"{"pre-push": {"commands": {"dockguard": {"run": "dockguard hook pre-push", "use_stdin": true}}}}"#;
        let y = parse("lefthook.json", json).expect("json");
        let c = candidates(y.get("pre-push").expect("pre-push"));
        assert_eq!(c[0].1.get("use_stdin").and_then(Y::str), Some("true"));
    }
}
