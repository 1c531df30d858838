//! GitLab resolution against an oracle: gitlab-ci-local 4.70.1's `--preview` prints the
//! pipeline as it resolves it (includes merged, `extends` and `!reference` resolved,
//! `default:` applied; `parallel: matrix:` is left as written, so this test expands it).
//! Generated repositories (a seeded generator: includes in several directories, nested,
//! as strings, lists, `local:` with and without `/`, a glob; hidden templates extending
//! each other; jobs extending one or several; variables at every level; `!reference`;
//! `parallel: matrix:`; rules that never run) must resolve to the same builds: for every
//! job that runs, the dockerfile, context, build args and target of each `docker build`
//! line, read here from the preview with the job's variables (a small evaluator written
//! for the generator's own line forms, independent of dockguard's), and from
//! `dockguard images --format json` (`built_by`) on the other side.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::fixture::TestRepo;

/// A small deterministic generator (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const NAMES: &[&str] = &["a", "b", "c", "d", "e", "f"];
const CTXS: &[&str] = &[".", "ctx1", "ctx2/sub"];
const VALS: &[&str] = &["1", "2", "3"];
/// The files templates and jobs are spread over (all reached by includes).
const FILES: &[&str] = &[
    "ci/templates.yml",
    "ci/more/base.yml",
    "jobs/one.yml",
    "jobs/two.yml",
];

fn build_line(g: &mut Lcg) -> String {
    match g.below(4) {
        0 => r#"docker build -f "d/$NAME.docker" --build-arg "V=$V" "$CTX""#.into(),
        1 => "docker build --file d/${NAME}.docker ${CTX}".into(),
        2 => r#"docker buildx build --target "t$V" -f "d/$NAME.docker" "$CTX""#.into(),
        _ => r#"docker build --build-arg "W=w$V" -f "d/${NAME}.docker" "${CTX}""#.into(),
    }
}

fn vars(g: &mut Lcg, indent: &str) -> String {
    let mut out = String::new();
    for (k, pool) in [("NAME", NAMES), ("CTX", CTXS), ("V", VALS)] {
        if g.chance(40) {
            out.push_str(&format!("{indent}  {k}: \"{}\"\n", g.pick(pool)));
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("{indent}variables:\n{out}")
    }
}

/// One generated repository: path -> content.
fn generate(seed: u64) -> Vec<(String, String)> {
    let mut g = Lcg(seed);
    let mut files: Vec<(String, String)> = FILES
        .iter()
        .map(|f| ((*f).to_owned(), String::new()))
        .collect();
    let templates = 2 + g.below(3);
    // Whether each template has a `script` (its own or through `extends`).
    let mut scripted = Vec::new();
    for t in 0..templates {
        let mut s = format!(".t{t}:\n  stage: test\n");
        let mut has = false;
        if t > 0 && g.chance(50) {
            let p = g.below(t);
            has = scripted[p];
            s.push_str(&format!("  extends: .t{p}\n"));
        }
        s.push_str(&vars(&mut g, "  "));
        if g.chance(30) {
            s.push_str(&format!("  before_script:\n    - {}\n", build_line(&mut g)));
        }
        if g.chance(80) || t == 0 {
            has = true;
            s.push_str(&format!(
                "  script:\n    - echo t{t}\n    - {}\n",
                build_line(&mut g)
            ));
        }
        scripted.push(has);
        let f = g.below(2);
        files[f].1.push_str(&s);
    }
    let jobs = 2 + g.below(5);
    for j in 0..jobs {
        let mut s = format!("job{j}:\n");
        let mut form = g.below(4);
        match form {
            0 => {
                let t = g.below(templates);
                s.push_str(&format!("  extends: .t{t}\n"));
                if !scripted[t] {
                    form = 3;
                }
            }
            1 => {
                let (a, b) = (g.below(templates), g.below(templates));
                s.push_str(&format!("  extends: [.t{a}, .t{b}]\n"));
                if !scripted[a] && !scripted[b] {
                    form = 3;
                }
            }
            _ => {}
        }
        s.push_str(&vars(&mut g, "  "));
        if g.chance(25) {
            let key = if g.chance(50) { "NAME" } else { "CTX" };
            let pool = if key == "NAME" { NAMES } else { CTXS };
            let (a, b) = (g.pick(pool), g.pick(pool));
            s.push_str(&format!(
                "  parallel:\n    matrix:\n      - {key}: [\"{a}\", \"{b}\"]\n        V: \"{}\"\n",
                g.pick(VALS)
            ));
        }
        if g.chance(20) {
            s.push_str("  rules:\n    - if: $NOPE\n      when: never\n    - when: never\n");
        } else if g.chance(20) {
            s.push_str("  rules:\n    - if: $NOPE\n      when: never\n    - when: on_success\n");
        }
        if form >= 2 {
            let with_script: Vec<usize> = (0..templates).filter(|t| scripted[*t]).collect();
            if form == 2 {
                s.push_str(&format!(
                    "  script:\n    - !reference [.t{}, script]\n    - echo done\n",
                    with_script[g.below(with_script.len())]
                ));
            } else {
                s.push_str(&format!("  script:\n    - {}\n", build_line(&mut g)));
            }
        }
        let f = 2 + g.below(2);
        files[f].1.push_str(&s);
    }
    // Includes: the templates file includes the base one (nested); the root includes the
    // rest in one of several forms.
    files[0].1 = format!(
        "include: {}\n{}",
        if g.chance(50) {
            "/ci/more/base.yml"
        } else {
            "ci/more/base.yml"
        },
        files[0].1
    );
    let includes = match g.below(3) {
        0 => "include:\n  - local: /ci/templates.yml\n  - local: 'jobs/*.yml'\n".to_owned(),
        1 => "include:\n  - ci/templates.yml\n  - jobs/one.yml\n  - local: jobs/two.yml\n".to_owned(),
        _ => "include:\n  - local: jobs/two.yml\n  - local: /jobs/one.yml\n  - local: ci/templates.yml\n".to_owned(),
    };
    let mut root = format!(
        "{includes}variables:\n  NAME: \"{}\"\n  CTX: \"{}\"\n  V: \"{}\"\n",
        g.pick(NAMES),
        g.pick(CTXS),
        g.pick(VALS)
    );
    // The including file wins over what it includes (a deep merge of one job).
    if g.chance(40) {
        root.push_str(&format!(
            "job{}:\n  variables:\n    CTX: \"{}\"\n",
            g.below(jobs),
            g.pick(CTXS)
        ));
    }
    files.push((".gitlab-ci.yml".into(), root));
    for n in NAMES {
        files.push((format!("d/{n}.docker"), "FROM scratch\n".into()));
    }
    for (i, (_, c)) in files.iter_mut().enumerate() {
        if c.is_empty() {
            *c = format!(".unused{i}:\n  stage: test\n");
        }
    }
    files
}

/// A build: (job as shown, dockerfile, context, sorted `K=V` args, target).
type Build = (String, String, String, Vec<String>, Option<String>);

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flat(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::Array(a) => a.iter().for_each(|i| flat(i, out)),
        other => out.extend(scalar(other)),
    }
}

fn var_map(y: &Yaml) -> Vec<(String, String)> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// `$X` / `${X}` with `vars` (the generator defines every variable it uses), quotes
/// dropped: the generator's lines have no other shell syntax.
fn substitute(line: &str, vars: &[(String, String)]) -> String {
    let mut out = line.to_owned();
    let mut sorted = vars.to_vec();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in &sorted {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out.replace('"', "")
}

fn parse_build(job: &str, line: &str) -> Option<Build> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let rest = match words.as_slice() {
        ["docker", "build", rest @ ..] | ["docker", "buildx", "build", rest @ ..] => rest,
        _ => return None,
    };
    let (mut file, mut target, mut args, mut ctx) = (None, None, Vec::new(), None);
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            "-f" | "--file" => file = rest.get(i + 1).map(|s| (*s).to_owned()),
            "--build-arg" => args.extend(rest.get(i + 1).map(|s| (*s).to_owned())),
            "--target" => target = rest.get(i + 1).map(|s| (*s).to_owned()),
            w => {
                ctx = Some(w.to_owned());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    args.sort();
    let ctx = ctx?;
    let ctx = if ctx == "." { ".".to_owned() } else { ctx };
    Some((job.to_owned(), file?, ctx, args, target))
}

/// The builds the preview's jobs run.
fn oracle(preview: &str) -> BTreeSet<Build> {
    let docs = YamlLoader::load_from_str(preview).expect("the preview is YAML");
    let root = docs[0].as_hash().expect("a mapping");
    let global = root
        .get(&Yaml::String("variables".into()))
        .map(var_map)
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    for (k, job) in root {
        let Some(name) = scalar(k) else { continue };
        if name.starts_with('.')
            || ["stages", "variables", "default", "workflow"].contains(&name.as_str())
        {
            continue;
        }
        let get = |key: &str| &job[key];
        let rules = match get("rules") {
            Yaml::Array(r) => r.clone(),
            _ => Vec::new(),
        };
        if !rules.is_empty() && rules.iter().all(|r| r["when"].as_str() == Some("never")) {
            continue;
        }
        let mut lines = Vec::new();
        flat(get("before_script"), &mut lines);
        flat(get("script"), &mut lines);
        let mut base = global.clone();
        for (k, v) in var_map(get("variables")) {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        let mut combos: Vec<(String, Vec<(String, String)>)> = Vec::new();
        if let Yaml::Array(entries) = &job["parallel"]["matrix"] {
            for e in entries {
                let mut partial: Vec<Vec<(String, String)>> = vec![Vec::new()];
                for (k, v) in e.as_hash().into_iter().flatten() {
                    let mut values = Vec::new();
                    flat(v, &mut values);
                    let k = scalar(k).expect("key");
                    partial = partial
                        .into_iter()
                        .flat_map(|c| {
                            values.iter().map({
                                let k = k.clone();
                                move |val| {
                                    let mut c = c.clone();
                                    c.push((k.clone(), val.clone()));
                                    c
                                }
                            })
                        })
                        .collect();
                }
                for c in partial {
                    let shown: Vec<&str> = c.iter().map(|(_, v)| v.as_str()).collect();
                    combos.push((format!("{name}: [{}]", shown.join(", ")), c));
                }
            }
        } else {
            combos.push((name.clone(), Vec::new()));
        }
        for (shown, extra) in combos {
            let mut vars = base.clone();
            for (k, v) in extra {
                vars.retain(|(n, _)| *n != k);
                vars.push((k, v));
            }
            // Variables may name others (the generator's do not, but be exact).
            let expanded: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, &vars)))
                .collect();
            for l in &lines {
                if let Some(b) = parse_build(&shown, &substitute(l, &expanded)) {
                    out.insert(b);
                }
            }
        }
    }
    out
}

/// The builds `dockguard images --format json` says each job runs (every build is
/// resolved: exact mode, unless no job runs at all).
fn dockguard(r: &TestRepo) -> BTreeSet<Build> {
    let run = r.dockguard(&["images", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    let d = &v["declarations"];
    assert_eq!(d["opaque"], serde_json::json!([]), "{d:#}");
    let mut out = BTreeSet::new();
    for img in v["images"].as_array().expect("images") {
        for b in img["built_by"].as_array().expect("built_by") {
            let what = b["what"].as_str().expect("what");
            let job = what.split('`').nth(1).expect("a job name").to_owned();
            let mut args: Vec<String> = b["args"]
                .as_object()
                .expect("args")
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                .collect();
            args.sort();
            assert_eq!(d["exact"], true, "{d:#}");
            out.insert((
                job,
                img["dockerfile"].as_str().expect("dockerfile").to_owned(),
                b["context"].as_str().unwrap_or("?").to_owned(),
                args,
                b["target"].as_str().map(str::to_owned),
            ));
        }
    }
    out
}

fn preview(tool: &Path, r: &TestRepo) -> String {
    let out = crate::fixture::hermetic(&mut Command::new(tool))
        .current_dir(r.path())
        .args(["--no-color", "--home"])
        .arg(r.scratch("gcl-home"))
        .arg("--preview")
        .output()
        .expect("run gitlab-ci-local");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "gitlab-ci-local --preview:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
#[ignore = "needs gitlab-ci-local"]
fn resolved_builds_agree_with_gitlab_ci_locals_preview() {
    let tool = crate::realdocker::need(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".tools/node_modules/.bin/gitlab-ci-local")
            .to_str()
            .expect("utf8"),
    );
    const CASES: u64 = 60;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|half| {
                let tool = &tool;
                s.spawn(move || {
                    let mut failures = Vec::new();
                    let mut builds = 0;
                    for seed in (0..CASES).filter(|c| c % 2 == half) {
                        let files = generate(seed);
                        let r = TestRepo::new();
                        let refs: Vec<(&str, &str)> =
                            files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
                        r.commit("generated", &refs);
                        let want = oracle(&preview(tool, &r));
                        let got = dockguard(&r);
                        builds += want.len();
                        if want != got {
                            let listing: String = files
                                .iter()
                                .filter(|(p, _)| !p.starts_with("d/"))
                                .map(|(p, c)| format!("--- {p}\n{c}"))
                                .collect();
                            failures.push(format!(
                                "seed {seed}:\n{listing}only in gitlab-ci-local: {:#?}\nonly in dockguard: {:#?}",
                                want.difference(&got).collect::<Vec<_>>(),
                                got.difference(&want).collect::<Vec<_>>()
                            ));
                        }
                    }
                    (failures, builds)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut builds = 0;
        for h in handles {
            let (f, b) = h.join().expect("thread");
            all.extend(f);
            builds += b;
        }
        assert!(
            builds > CASES as usize,
            "the generator builds something: {builds}"
        );
        all
    });
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
