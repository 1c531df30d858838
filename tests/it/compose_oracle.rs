//! Compose resolution against the real tool: Debian's `docker-compose` (1.29, v1)
//! resolves generated projects with `docker-compose config` (no daemon needed), and every
//! built service dockguard resolves must agree with it: context, dockerfile, build args,
//! target, and which services build at all. The generator covers what v1 shares with the
//! compose specification: `extends` (also `file:`), merge keys, `.env` with defaults and
//! overrides, `${VAR:-default}`, `${VAR-default}`, `$$`, `${VAR:?err}`, build as a
//! string and as a map, args as a map and a list, profiles, image-only services and
//! override files. What v1 lacks (`include:`, `dockerfile_inline`, `additional_contexts`)
//! is tested from the specification in the unit tests of `declared::compose`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use dockguard::parts::{
    resolve_declarations, DeclarationFiles, Declared, DeclaredDockerfile, DeclaredTarget, ANY,
};
use yaml_rust2::{Yaml, YamlLoader};

use crate::fixture::require_tool;

/// A small deterministic generator (fixed seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap_or(0)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next(from.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.next(one_in) == 0
    }
}

/// The files of one generated project.
struct Case {
    files: BTreeMap<String, String>,
    /// The project file (the entry).
    entry: String,
}

/// Context directories every case has (v1 refuses a context that does not exist).
const DIRS: &[&str] = &["app", "sub/app", "sub/x", "common/ctx", "common"];

fn context(rng: &mut Lcg) -> String {
    rng.pick(&[
        ".",
        "app",
        "./app",
        "sub/app",
        "${CTX:-app}",
        "${CTX-sub/x}",
        "sub/${SUBDIR:-x}",
        "${DIR}",
        "${UNSET_CTX}",
    ])
    .to_owned()
}

/// A `build:` (v1 wants a context in every build map; `optional` where a base gives one).
fn build(rng: &mut Lcg, out: &mut String, indent: &str, optional: bool) {
    if rng.chance(3) {
        out.push_str(&format!("{indent}build: {}\n", context(rng)));
        return;
    }
    out.push_str(&format!("{indent}build:\n"));
    let start = out.len();
    let i = format!("{indent}  ");
    if !optional || !rng.chance(3) {
        out.push_str(&format!("{i}context: {}\n", context(rng)));
    }
    if rng.chance(2) {
        let df = rng.pick(&[
            "Dockerfile",
            "docker/Dockerfile",
            "${DF:-Dockerfile.ci}",
            "../Dfile",
            "${UNSET_DF}.Dockerfile",
            "x.${TAG:?tag is needed}.Dockerfile",
        ]);
        out.push_str(&format!("{i}dockerfile: {df}\n"));
    }
    if rng.chance(2) {
        args(rng, out, &i);
    }
    if rng.chance(3) {
        let t = rng.pick(&["prod", "Dev", "${STAGE:-build}", "${STAGE}"]);
        out.push_str(&format!("{i}target: {t}\n"));
    }
    if out.len() == start {
        out.push_str(&format!("{i}context: .\n"));
    }
}

fn args(rng: &mut Lcg, out: &mut String, i: &str) {
    let values = [
        "1",
        "\"two words\"",
        "${V1}",
        "${V2:-dflt}",
        "pre-$$HOME",
        "${TAG}",
    ];
    out.push_str(&format!("{i}args:\n"));
    if rng.chance(2) {
        for k in ["A", "B", "C"].iter().take(rng.next(3) + 1) {
            out.push_str(&format!("{i}  {k}: {}\n", values[rng.next(values.len())]));
        }
    } else {
        for k in ["A", "B", "V1", "V2"].iter().take(rng.next(4) + 1) {
            if rng.chance(3) {
                out.push_str(&format!("{i}  - {k}\n"));
            } else {
                let v = values[rng.next(values.len())].trim_matches('"');
                out.push_str(&format!("{i}  - \"{k}={v}\"\n"));
            }
        }
    }
}

fn generate(rng: &mut Lcg) -> Case {
    let mut files = BTreeMap::new();
    files.insert(
        "common/base.yml".to_owned(),
        "services:\n  base1:\n    build:\n      context: ctx\n      dockerfile: ../Dfile\n      args:\n        FROM_BASE: \"1\"\n  base2:\n    build: .\n".to_owned(),
    );
    let mut main = String::new();
    main.push_str(
        "x-anchor: &shared\n  build:\n    context: sub/x\n    args:\n      SHARED: \"yes\"\n",
    );
    main.push_str("services:\n");
    let count = rng.next(4) + 2;
    for n in 0..count {
        main.push_str(&format!("  s{n}:\n"));
        match rng.next(7) {
            0 => main.push_str("    image: postgres\n"),
            1 => {
                main.push_str("    <<: *shared\n");
                if rng.chance(2) {
                    main.push_str("    image: shared\n");
                }
            }
            2 => {
                let (file, svc) = if rng.chance(2) {
                    (
                        "      file: common/base.yml\n",
                        rng.pick(&["base1", "base2"]),
                    )
                } else {
                    ("", "tmpl")
                };
                main.push_str(&format!("    extends:\n{file}      service: {svc}\n"));
                if rng.chance(2) {
                    build(rng, &mut main, "    ", true);
                }
            }
            _ => build(rng, &mut main, "    ", false),
        }
        if rng.chance(5) {
            main.push_str("    profiles: [dev]\n");
        }
    }
    main.push_str("  tmpl:\n    build:\n      context: app\n      args: {T: \"1\"}\n");
    let entry = rng
        .pick(&["docker-compose.yml", "compose.yaml", "docker-compose.yaml"])
        .to_owned();
    files.insert(entry.clone(), main);
    if rng.chance(2) {
        let mut over = String::from("services:\n");
        for n in 0..count {
            if rng.chance(2) {
                over.push_str(&format!("  s{n}:\n"));
                match rng.next(3) {
                    0 => {
                        over.push_str("    build:\n");
                        args(rng, &mut over, "      ");
                    }
                    1 => over.push_str("    build:\n      target: ${STAGE:-ovr}\n"),
                    _ => build(rng, &mut over, "    ", true),
                }
            }
        }
        let name = rng.pick(&["docker-compose.override.yml", "compose.override.yml"]);
        if over.contains("  s") {
            files.insert(name.to_owned(), over);
        }
    }
    if !rng.chance(4) {
        let mut env = String::from("# generated\nTAG=t1\n");
        if rng.chance(2) {
            env.push_str("CTX=sub/app\n");
        }
        if rng.chance(2) {
            env.push_str("DIR=common\n");
        }
        if rng.chance(2) {
            env.push_str("V1=\"v one\"\n");
        }
        if rng.chance(2) {
            env.push_str("STAGE=Final\n");
        }
        if rng.chance(2) {
            env.push_str("DF=docker/Dockerfile\n");
        }
        env.push_str("DIR=${DIR:-app}\n");
        files.insert(".env".to_owned(), env);
    } else {
        files.insert(".env".to_owned(), "TAG=t2\nDIR=app\n".to_owned());
    }
    Case { files, entry }
}

/// The generated project as a tree dockguard resolves.
struct Tree<'a>(&'a BTreeMap<String, String>);

impl DeclarationFiles for Tree<'_> {
    fn read(&self, path: &str) -> dockguard::Result<Option<(git2::Oid, Arc<str>)>> {
        Ok(self.0.get(path).map(|t| {
            let oid = git2::Oid::hash_object(git2::ObjectType::Blob, t.as_bytes()).expect("oid");
            (oid, Arc::from(t.as_str()))
        }))
    }
    fn glob(&self, _: &str) -> dockguard::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Whether dockguard's text (with [`ANY`] for unknown parts) may be `actual`.
fn may_be(pattern: &str, actual: &str) -> bool {
    let re = pattern
        .split(ANY)
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(".*");
    regex::Regex::new(&format!("^(?s:{re})$"))
        .expect("regex")
        .is_match(actual)
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.replace("$$", "$")),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Compares one case; returns what disagrees.
fn compare(dir: &Path, case: &Case, config: &Yaml, got: &Declared) -> Vec<String> {
    let mut problems = Vec::new();
    let root = format!("{}", dir.display());
    let rel = |abs: &str| -> String {
        abs.strip_prefix(&root)
            .map(|r| r.trim_start_matches('/').to_owned())
            .unwrap_or_else(|| format!("outside:{abs}"))
    };
    let services = config["services"].as_hash().expect("services");
    let mut want_built = Vec::new();
    let mut outside = Vec::new();
    for (name, svc) in services {
        let name = name.as_str().expect("name");
        let build = &svc["build"];
        if build.is_badvalue() || !svc["profiles"].is_badvalue() {
            continue;
        }
        want_built.push(name.to_owned());
        let what = format!("service `{name}`");
        let opaque = got.opaque.iter().any(|o| o.origin.what == what);
        let ctx = rel(build["context"].as_str().expect("context"));
        let file = text(&build["dockerfile"]).unwrap_or_else(|| "Dockerfile".into());
        let Some(file) = crate_path(&ctx, &file) else {
            // The dockerfile is outside the repository: not a build dockguard can judge.
            if !opaque {
                problems.push(format!("{name}: its dockerfile is outside, yet not opaque"));
            }
            // Declared (with what is not known) or not: either way it is opaque.
            want_built.pop();
            outside.push(name.to_owned());
            continue;
        };
        let Some(d) = got.decls.iter().find(|d| d.origin.what == what) else {
            problems.push(format!(
                "{name}: compose builds it, dockguard declares nothing"
            ));
            continue;
        };
        match &d.context {
            Some(c) if *c != ctx => {
                problems.push(format!("{name}: context {c:?}, compose {ctx:?}"))
            }
            None if !opaque => problems.push(format!("{name}: unknown context but not opaque")),
            _ => {}
        }
        match &d.dockerfile {
            DeclaredDockerfile::Path(p) if *p != file => {
                problems.push(format!("{name}: dockerfile {p:?}, compose {file:?}"))
            }
            DeclaredDockerfile::Pattern(p) if !opaque || !may_be(p, &file) => problems.push(
                format!("{name}: dockerfile pattern {p:?}, compose {file:?} (opaque: {opaque})"),
            ),
            DeclaredDockerfile::Inline(_) => problems.push(format!("{name}: inline?")),
            _ => {}
        }
        let want_target = text(&build["target"]).map(|t| t.to_lowercase());
        match (&d.target, &want_target) {
            (DeclaredTarget::Last, None) | (DeclaredTarget::Unknown, _) => {}
            (DeclaredTarget::Named(t), Some(w)) if t == w => {}
            (t, w) => problems.push(format!("{name}: target {t:?}, compose {w:?}")),
        }
        let mut want_args: BTreeMap<String, String> = BTreeMap::new();
        if let Some(args) = build["args"].as_hash() {
            for (k, v) in args {
                want_args.insert(text(k).expect("key"), text(v).unwrap_or_default());
            }
        }
        let got_keys: Vec<&String> = d.args.iter().map(|(k, _)| k).collect();
        let want_keys: Vec<&String> = want_args.keys().collect();
        let mut sorted = got_keys.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != want_keys {
            problems.push(format!("{name}: args {got_keys:?}, compose {want_keys:?}"));
        }
        for (k, v) in &d.args {
            if let (Some(v), Some(w)) = (v, want_args.get(k)) {
                if v != w {
                    problems.push(format!("{name}: arg {k}={v:?}, compose {w:?}"));
                }
            }
        }
    }
    let mut got_built: Vec<String> = got
        .decls
        .iter()
        .map(|d| {
            d.origin
                .what
                .trim_start_matches("service `")
                .trim_end_matches('`')
                .to_owned()
        })
        .collect();
    got_built.retain(|n| !outside.contains(n));
    got_built.sort();
    want_built.sort();
    if got_built != want_built {
        problems.push(format!(
            "built services: dockguard {got_built:?}, compose {want_built:?}"
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("files: {:#?}", case.files));
    }
    problems
}

/// `dir/file`, cleaned as a repository path; `None` when it leaves the repository.
fn crate_path(dir: &str, file: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in dir.split('/').chain(file.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[test]
#[ignore = "needs docker-compose"]
fn compose_resolution_agrees_with_docker_compose() {
    let tool = require_tool("docker-compose");
    let mut rng = Lcg(0x0c0e_2024);
    let mut compared = 0;
    let mut failures = Vec::new();
    for n in 0..60 {
        let case = generate(&mut rng);
        let dir = tempfile::tempdir().expect("tempdir");
        for d in DIRS {
            std::fs::create_dir_all(dir.path().join(d)).expect("dir");
        }
        for (p, t) in &case.files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(&path, t).expect("write");
        }
        let out = std::process::Command::new(&tool)
            .arg("config")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .output()
            .expect("run docker-compose");
        let got = resolve_declarations(
            case.entry.as_bytes(),
            &case.files[&case.entry],
            &Tree(&case.files),
        );
        if !out.status.success() {
            // v1 refuses the case (a required variable unset, a context that is a file):
            // dockguard must not claim to know its builds.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let required = stderr.contains("required variable") || stderr.contains("is needed");
            // v1 wants a context in every build map (the specification defaults it to `.`).
            let v1_only = stderr.contains("neither an image nor a build context");
            assert!(
                required
                    || v1_only
                    || stderr.contains("does not exist")
                    || stderr.contains("not a valid"),
                "case {n}: docker-compose failed unexpectedly: {stderr}\n{:#?}",
                case.files
            );
            continue;
        }
        let config = YamlLoader::load_from_str(&String::from_utf8_lossy(&out.stdout))
            .expect("compose output")
            .remove(0);
        let problems = compare(dir.path(), &case, &config, &got);
        if !problems.is_empty() {
            failures.push(format!("case {n}:\n{}", problems.join("\n")));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        compared >= 40,
        "only {compared} cases ran through docker-compose"
    );
}
