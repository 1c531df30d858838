//! The generators of the differential test: each makes a random repository, a dockerfile
//! and a branch that changes it, in one class of what a build reads.

use std::collections::BTreeMap;

use super::{at, Case, Class, Declared, Node, Rng};

/// A random case (the class is chosen by the seed, so that every run has each class).
pub(super) fn generate(seed: u64, subs: usize) -> Case {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    match seed % 16 {
        0..=7 => contexts(seed, &mut rng, subs),
        8..=11 => stages(seed, &mut rng),
        12..=14 => vars(seed, &mut rng),
        _ => wildcard(seed, &mut rng),
    }
}

/// A `.gitlab-ci.yml` that builds `dockerfile` in `ctx` with these `--build-arg`s.
fn ci(dockerfile: &str, ctx: &str, args: &[(String, String)]) -> String {
    let args: String = args
        .iter()
        .map(|(k, v)| format!(" --build-arg {k}={v}"))
        .collect();
    format!("image-build:\n  script:\n    - docker build -t x{args} -f {dockerfile} {ctx}\n")
}

/// Up to two random changes of files in `pool` (written, or added when missing).
fn change(
    rng: &mut Rng,
    files: &BTreeMap<String, Node>,
    pool: &[String],
) -> (BTreeMap<String, Node>, Vec<String>) {
    let mut tip = files.clone();
    let mut changes = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let p = pool[rng.below(pool.len())].clone();
        let what = if tip.contains_key(&p) { "write" } else { "add" };
        tip.insert(
            p.clone(),
            Node::File(format!("changed {}\n", rng.below(1000)), false),
        );
        changes.push(format!("{what} {p}"));
    }
    (tip, changes)
}

/// The first generator: contexts, declarations, links, ignore files, COPY forms.
fn contexts(seed: u64, rng: &mut Rng, subs: usize) -> Case {
    let buildkit = !rng.chance(20);
    let declared = rng.pick(&[
        Declared::Beside,
        Declared::Beside,
        Declared::Ci,
        Declared::Compose,
        Declared::Rule,
        Declared::Widened,
    ]);
    let context = match declared {
        Declared::Beside => rng.pick(&["", "app", "svc/api"]).to_string(),
        Declared::Widened => String::new(),
        _ => rng.pick(&["", "app"]).to_string(),
    };
    let dockerfile = match declared {
        Declared::Beside => at(&context, rng.pick(&["Dockerfile", "app.Dockerfile"])),
        _ => rng
            .pick(&["docker/Dockerfile", "ci/images/build.Dockerfile"])
            .to_string(),
    };
    let c = |p: &str| at(&context, p);
    let mut files: BTreeMap<String, Node> = BTreeMap::new();
    let content = |rng: &mut Rng| format!("v{}\n", rng.below(3));
    for p in [
        "f1.txt",
        "f2.txt",
        "a/x.txt",
        "a/y.md",
        "a/c/keep",
        "a/c/z.tmp",
        "b/b1",
        "b/b2.txt",
    ] {
        if rng.chance(85) {
            files.insert(c(p), Node::File(content(rng), rng.chance(10)));
        }
    }
    files.insert(
        c("outside.txt"),
        Node::File("in the context\n".into(), false),
    );
    files.insert(
        "outside.txt".into(),
        Node::File("at the root\n".into(), false),
    );
    files.insert("README".into(), Node::File("readme\n".into(), false));
    if rng.chance(60) {
        files.insert(
            c("lnk_f"),
            Node::Link(rng.pick(&["f1.txt", "a/x.txt", "missing"]).to_string()),
        );
    }
    if rng.chance(60) {
        files.insert(
            c("lnk_d"),
            Node::Link(rng.pick(&["a", "b", "./a/c"]).to_string()),
        );
    }
    if rng.chance(40) {
        // Leaves the context: builders resolve it inside the context root.
        files.insert(
            c("a/lnk_out"),
            Node::Link(
                rng.pick(&["../../outside.txt", "/outside.txt", "../f1.txt"])
                    .to_string(),
            ),
        );
    }
    if rng.chance(35) {
        files.insert(c("sub"), Node::Gitlink(rng.below(subs)));
    }
    let ignore_pool = ["*.tmp", "a/c", "!a/c/keep", "*.md", "b", "lnk_*", "f2.txt"];
    if rng.chance(50) {
        let n = 1 + rng.below(3);
        let lines: Vec<&str> = (0..n).map(|_| rng.pick(&ignore_pool)).collect();
        files.insert(
            c(".dockerignore"),
            Node::File(lines.join("\n") + "\n", false),
        );
    }
    if rng.chance(20) {
        let lines: Vec<&str> = (0..2).map(|_| rng.pick(&ignore_pool)).collect();
        files.insert(
            format!("{dockerfile}.dockerignore"),
            Node::File(lines.join("\n") + "\n", false),
        );
    }
    // The dockerfile: sources that exist in the base, in random forms.
    let exists = |p: &str, files: &BTreeMap<String, Node>| {
        let full = c(p);
        files.contains_key(&full) || files.keys().any(|k| k.starts_with(&format!("{full}/")))
    };
    let mut lines = vec!["FROM dg-base".to_owned()];
    let mut stages = String::new();
    let mut specific = 0;
    let pool: Vec<(&str, &str)> = vec![
        ("f1.txt", "COPY f1.txt /data/f1"),
        ("f2.txt", "COPY --chown=1:1 f2.txt /data/f2"),
        ("a", "COPY a /data/a"),
        ("a/x.txt", "COPY a/*.txt /data/at/"),
        ("b/b1", "ADD b/b1 /data/"),
        ("lnk_f", "COPY lnk_f /data/lf"),
        ("lnk_d", "COPY lnk_d /data/ld"),
        ("lnk_d", "COPY lnk_d/x.txt /data/ldx"),
        ("a/lnk_out", "COPY a/lnk_out /data/lo"),
        ("sub", "COPY sub/s.txt /data/sub_s"),
        ("sub", "COPY sub /data/sub"),
        ("b", "ARG D=b\nCOPY $D /data/argd"),
        ("a/c", "COPY [\"a/c\", \"/data/c\"]"),
    ];
    for (src, line) in &pool {
        if rng.chance(35) && exists(src, &files) {
            lines.push((*line).to_owned());
            specific += 1;
        }
    }
    if rng.chance(25) && exists("a/c", &files) {
        stages = "FROM dg-base AS s1\nCOPY a/c /c\nRUN echo staged > /c/extra\n\n".into();
        lines.push("COPY --from=s1 /c /data/fromc".into());
        specific += 1;
    }
    if buildkit && rng.chance(25) && exists("f2.txt", &files) {
        lines.push("RUN --mount=type=bind,source=f2.txt,target=/m cat /m > /data/mounted".into());
        specific += 1;
    }
    if rng.chance(20) || specific == 0 {
        lines.push("COPY . /data/all".into());
    }
    if declared == Declared::Widened && specific == 0 {
        lines.insert(1, "COPY outside.txt /data/o".into());
    }
    lines.push("RUN echo built > /data/run".into());
    let df = format!("{stages}{}\n", lines.join("\n"));
    files.insert(dockerfile.clone(), Node::File(df, false));
    let ctx_arg = if context.is_empty() {
        ".".to_owned()
    } else {
        context.clone()
    };
    match declared {
        Declared::Ci => {
            files.insert(
                ".gitlab-ci.yml".into(),
                Node::File(ci(&dockerfile, &ctx_arg, &[]), false),
            );
        }
        Declared::Compose => {
            let rel = {
                let up = if context.is_empty() {
                    String::new()
                } else {
                    "../".repeat(context.split('/').count())
                };
                format!("{up}{dockerfile}")
            };
            files.insert(
                "docker-compose.yml".into(),
                Node::File(format!("services:\n  img:\n    build:\n      context: {ctx_arg}\n      dockerfile: {rel}\n"), false),
            );
        }
        Declared::Rule => {
            files.insert(
                ".dockguard.toml".into(),
                Node::File(
                    format!(
                        "[[images.rule]]\ndockerfile = '{}'\nname = 'img'\ncontext = '{ctx_arg}'\n",
                        regex::escape(&dockerfile)
                    ),
                    false,
                ),
            );
        }
        _ => {}
    }
    // Random changes.
    let mut tip = files.clone();
    let mut changes = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let keys: Vec<String> = tip.keys().cloned().collect();
        let target = keys[rng.below(keys.len())].clone();
        let kind = rng.below(9);
        let what = match kind {
            0 | 1 => {
                tip.insert(
                    target.clone(),
                    Node::File(format!("changed {}\n", rng.below(1000)), false),
                );
                format!("write {target}")
            }
            2 => {
                if target == dockerfile {
                    continue;
                }
                tip.remove(&target);
                format!("delete {target}")
            }
            3 => {
                let p = c(rng.pick(&[
                    "a/new.txt",
                    "new.txt",
                    "b/b3",
                    "a/c/new.tmp",
                    "lnk_f",
                    "docker/f1.txt",
                    "docker/a/x.txt",
                ]));
                tip.insert(p.clone(), Node::File("new\n".into(), false));
                format!("add {p}")
            }
            4 => {
                let p = c(rng.pick(&["lnk_d", "lnk_f", "a/lnk_out"]));
                let t = rng
                    .pick(&["a", "b", "f2.txt", "../../outside.txt", "a/c"])
                    .to_string();
                tip.insert(p.clone(), Node::Link(t.clone()));
                format!("link {p} -> {t}")
            }
            5 => {
                let p = c(".dockerignore");
                let l = rng.pick(&ignore_pool);
                tip.insert(p.clone(), Node::File(format!("{l}\n"), false));
                format!("ignore {l}")
            }
            6 => {
                let p = c("sub");
                tip.insert(p.clone(), Node::Gitlink(rng.below(subs)));
                format!("bump {p}")
            }
            7 => {
                if let Some(Node::File(text, x)) = tip.get(&target).cloned() {
                    tip.insert(target.clone(), Node::File(text, !x));
                    format!("chmod {target}")
                } else {
                    continue;
                }
            }
            _ => {
                let p = c(rng.pick(&["f1.txt", "a/x.txt", "outside.txt"]));
                tip.insert(
                    p.clone(),
                    Node::File(format!("other {}\n", rng.below(1000)), false),
                );
                format!("write {p}")
            }
        };
        changes.push(what);
    }
    Case {
        seed,
        class: Class::Contexts,
        builders: vec![buildkit],
        declared,
        context,
        dockerfile,
        target: None,
        args: Vec::new(),
        base: files.into_iter().collect(),
        tip: tip.into_iter().collect(),
        changes,
        newer: None,
    }
}

/// Stages: some built FROM others, copied `--from` others, some unused; a declared build
/// of the last stage, or an undeclared one of a random `--target` (which dockguard cannot
/// see, so every stage counts); ONBUILD in a stage that another is built FROM.
fn stages(seed: u64, rng: &mut Rng) -> Case {
    let declared = if rng.chance(70) {
        Declared::Ci
    } else {
        Declared::Beside
    };
    let dockerfile = match declared {
        Declared::Ci => "docker/Dockerfile",
        _ => "Dockerfile",
    }
    .to_owned();
    let mut files: BTreeMap<String, Node> = BTreeMap::new();
    let k = 2 + rng.below(3);
    let mut pool = vec![
        "st/final/f".to_owned(),
        "other.txt".to_owned(),
        "st/ob/f".to_owned(),
    ];
    for i in 0..k {
        pool.push(format!("st/{i}/f"));
        pool.push(format!("st/{i}/new"));
    }
    for p in &pool {
        if !p.ends_with("/new") {
            files.insert(
                p.clone(),
                Node::File(format!("{p} {}\n", rng.below(3)), false),
            );
        }
    }
    let mut lines = Vec::new();
    let mut onbuild = false;
    for i in 0..k {
        let from = if i > 0 && rng.chance(40) {
            format!("s{}", rng.below(i))
        } else {
            "dg-base".to_owned()
        };
        lines.push(format!("FROM {from} AS s{i}"));
        lines.push(format!("COPY st/{i} /data/s{i}"));
        if i > 0 && rng.chance(30) {
            let j = rng.below(i);
            lines.push(format!("COPY --from=s{j} /data/s{j} /data/from{j}"));
        }
        if rng.chance(20) {
            onbuild = true;
            lines.push("ONBUILD COPY st/ob /data/ob".into());
        }
    }
    let from = if rng.chance(30) {
        format!("s{}", rng.below(k))
    } else {
        "dg-base".to_owned()
    };
    lines.push(format!("FROM {from} AS final"));
    for j in 0..k {
        if rng.chance(40) {
            lines.push(format!("COPY --from=s{j} /data/s{j} /data/f{j}"));
        }
    }
    lines.push("COPY st/final /data/final".into());
    lines.push("RUN echo built > /data/run".into());
    files.insert(
        dockerfile.clone(),
        Node::File(lines.join("\n") + "\n", false),
    );
    let target =
        (declared == Declared::Beside && rng.chance(50)).then(|| format!("s{}", rng.below(k)));
    if declared == Declared::Ci {
        files.insert(
            ".gitlab-ci.yml".into(),
            Node::File(ci(&dockerfile, ".", &[]), false),
        );
    }
    let (tip, changes) = change(rng, &files, &pool);
    Case {
        seed,
        class: Class::Stages,
        // ONBUILD of a base stage: Docker 20.10's BuildKit and the legacy builder run it.
        builders: if onbuild {
            vec![true, false]
        } else {
            vec![!rng.chance(30)]
        },
        declared,
        context: String::new(),
        dockerfile,
        target,
        args: Vec::new(),
        base: files.into_iter().collect(),
        tip: tip.into_iter().collect(),
        changes,
        newer: None,
    }
}

/// ENV and ARG: several assignments in one instruction, ENV and ARG of one name, ARGs
/// without a default (passed by the declaration or not), a stage built FROM another;
/// every source `v/$VAR` names a file per value. Built with both builders.
fn vars(seed: u64, rng: &mut Rng) -> Case {
    let declared = if rng.chance(70) {
        Declared::Ci
    } else {
        Declared::Beside
    };
    let dockerfile = match declared {
        Declared::Ci => "docker/Dockerfile",
        _ => "Dockerfile",
    }
    .to_owned();
    let mut files: BTreeMap<String, Node> = BTreeMap::new();
    let mut pool: Vec<String> = ["a1", "a2", "x", "y", "e", "q", "dflt", "p"]
        .iter()
        .map(|v| format!("v/{v}"))
        .collect();
    pool.push("other.txt".into());
    for p in &pool {
        files.insert(p.clone(), Node::File(format!("{p}\n"), false));
    }
    // (instruction, variables it defines by ENV, by ARG, variable it uses)
    type Ins = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        Option<&'static str>,
    );
    let all: [Ins; 8] = [
        ("ENV A=a1", &["A"], &[], None),
        ("ARG A=a2", &[], &["A"], None),
        ("ENV A=x B=$A", &["A", "B"], &[], Some("A")),
        ("ARG A=y C=$A", &[], &["A", "C"], Some("A")),
        ("ARG E", &[], &["E"], None),
        ("ENV F=${E:-dflt}", &["F"], &[], Some("E")),
        ("ARG G=$A", &[], &["G"], Some("A")),
        ("ENV A=p", &["A"], &[], None),
    ];
    let mut body = Vec::new();
    let (mut env, mut arg): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut newer = None;
    for n in 0..3 + rng.below(3) {
        // Mostly A first (what the others use), and E before what uses it.
        let mut pick = all[rng.below(all.len())];
        if n == 0 && rng.chance(80) {
            pick = all[rng.pick(&[0, 1, 7])];
        }
        if pick.3 == Some("E") && !arg.contains(&"E") && rng.chance(70) {
            body.push("ARG E".to_owned());
            arg.push("E");
        }
        let (ins, by_env, by_arg, uses) = pick;
        if uses.is_some_and(|u| !env.contains(&u) && !arg.contains(&u)) {
            // The base image may define it: its value is not known here.
            newer = Some("a variable the base image may define");
        }
        body.push(ins.to_owned());
        env.extend(by_env);
        arg.extend(by_arg);
        // Current BuildKit assigns `ARG A=y C=$A` one word at a time: C is y there.
        if ins.starts_with("ARG A=y") {
            newer = newer.or(Some("current BuildKit reads more"));
        }
    }
    let mut defined: Vec<&str> = env.iter().chain(&arg).copied().collect();
    defined.sort_unstable();
    defined.dedup();
    let mut used = Vec::new();
    for v in &defined {
        if used.is_empty() || rng.chance(50) {
            used.push(*v);
            body.push(format!("COPY v/${v} /data/{}", v.to_lowercase()));
        }
    }
    if newer == Some("current BuildKit reads more") && !used.contains(&"C") {
        newer = None;
    }
    let child = rng.chance(30);
    let mut lines = vec![format!("FROM dg-base{}", if child { " AS s0" } else { "" })];
    lines.extend(body);
    if child {
        // BuildKit: the stage's ARGs are inherited; the legacy builder: ENVs only (an ARG
        // is then whatever the base image says).
        let mut v = defined[rng.below(defined.len())];
        if !env.is_empty() && rng.chance(60) {
            v = env[rng.below(env.len())];
        }
        if !env.contains(&v) {
            newer = Some("a variable the base image may define");
        }
        lines.push("FROM s0".into());
        lines.push(format!("COPY v/${v} /data/child"));
    }
    lines.push("RUN echo built > /data/run".into());
    files.insert(
        dockerfile.clone(),
        Node::File(lines.join("\n") + "\n", false),
    );
    let mut args = Vec::new();
    if defined.contains(&"E") && rng.chance(50) {
        args.push(("E".to_owned(), rng.pick(&["e", "q"]).to_owned()));
    }
    if rng.chance(20) {
        args.push(("A".to_owned(), "q".to_owned()));
    }
    if declared == Declared::Ci {
        files.insert(
            ".gitlab-ci.yml".into(),
            Node::File(ci(&dockerfile, ".", &args), false),
        );
    }
    let (tip, changes) = change(rng, &files, &pool);
    Case {
        seed,
        class: Class::Vars,
        builders: vec![true, false],
        declared,
        context: String::new(),
        dockerfile,
        target: None,
        args,
        base: files.into_iter().collect(),
        tip: tip.into_iter().collect(),
        changes,
        newer,
    }
}

/// A wildcard source that may match nothing in a declared context, decoys where a widened
/// context would look.
fn wildcard(seed: u64, rng: &mut Rng) -> Case {
    let dockerfile = "docker/Dockerfile".to_owned();
    let mut files: BTreeMap<String, Node> = BTreeMap::new();
    files.insert("pkg.json".into(), Node::File("{}\n".into(), false));
    files.insert(
        "docker/pkg.json".into(),
        Node::File("decoy\n".into(), false),
    );
    if rng.chance(50) {
        files.insert(
            "docker/yarn.lock".into(),
            Node::File("decoy\n".into(), false),
        );
    }
    if rng.chance(30) {
        files.insert("yarn.lock".into(), Node::File("lock\n".into(), false));
    }
    files.insert(
        dockerfile.clone(),
        Node::File(
            "FROM dg-base\nCOPY pkg.json yarn.lock* /data/\nRUN echo built > /data/run\n".into(),
            false,
        ),
    );
    files.insert(
        ".gitlab-ci.yml".into(),
        Node::File(ci(&dockerfile, ".", &[]), false),
    );
    let pool: Vec<String> = [
        "pkg.json",
        "docker/pkg.json",
        "docker/yarn.lock",
        "yarn.lock",
        "yarn.lock.v2",
        "other.txt",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let (tip, changes) = change(rng, &files, &pool);
    Case {
        seed,
        class: Class::Wildcard,
        builders: vec![!rng.chance(30)],
        declared: Declared::Ci,
        context: String::new(),
        dockerfile,
        target: None,
        args: Vec::new(),
        base: files.into_iter().collect(),
        tip: tip.into_iter().collect(),
        changes,
        newer: None,
    }
}
