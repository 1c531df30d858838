use super::super::compose::tests::MapFiles;
use super::super::{Declared, Dockerfile, Origin, Target};
use super::*;

fn by_target<'a>(d: &'a Declared, name: &str) -> &'a super::super::Declaration {
    let what = format!("target `{name}`");
    d.decls
        .iter()
        .find(|d| d.origin.what.starts_with(&what))
        .unwrap_or_else(|| panic!("no build of {name}: {d:#?}"))
}

fn targets(d: &Declared) -> Vec<String> {
    let mut v: Vec<String> = d.decls.iter().map(|d| d.origin.what.clone()).collect();
    v.sort();
    v
}

const HCL: &str = r#"
# comment
variable "DIR" { default = "services" }
variable "SUB" { default = "${DIR}/common" }
variable "TAG" {}
REGISTRY = "r.example"
group "default" { targets = ["all"] }
group "all" { targets = ["api", "web"] }
target "base" {
  context = "${SUB}"   // trailing comment
  args = { A = "1", B = "${TAG}", C = DIR }
}
target "tools" {
  context = "tools"
  target = "Out"
}
target "api" {
  inherits = ["base"]
  dockerfile = "api.Dockerfile"
  contexts = { shared = "shared", img = "docker-image://alpine", t = "target:tools" }
}
target "web" {
  context = notlocal("x")
  dockerfile = "web/Dockerfile"
}
target "inline" {
  dockerfile-inline = <<-EOT
    FROM alpine
    COPY x /
    EOT
}
"#;

#[test]
fn the_default_group_variables_inherits_and_links() {
    let t = MapFiles::new(&[("deploy/docker-bake.hcl", HCL)]);
    let d = t.resolve("deploy/docker-bake.hcl");
    assert_eq!(
        targets(&d),
        ["target `api`", "target `tools`", "target `web`"],
        "the default group and what it links; `inline` is not in it"
    );
    let api = by_target(&d, "api");
    assert_eq!(api.context.as_deref(), Some("deploy/services/common"));
    assert_eq!(
        api.dockerfile,
        Dockerfile::Path("deploy/services/common/api.Dockerfile".into())
    );
    assert_eq!(
        api.args,
        vec![
            ("A".into(), Some("1".into())),
            ("B".into(), None),
            ("C".into(), Some("services".into()))
        ]
    );
    assert_eq!(api.named, vec![("shared".into(), "deploy/shared".into())]);
    assert_eq!(
        (api.origin.file.as_str(), api.origin.line),
        ("deploy/docker-bake.hcl", 17)
    );
    let tools = by_target(&d, "tools");
    assert_eq!(tools.target, Target::Named("out".into()));
    let web = by_target(&d, "web");
    assert_eq!(web.context, None);
    assert_eq!(
        web.dockerfile,
        Dockerfile::Pattern(format!("{ANY}web/Dockerfile"))
    );
    assert_eq!(d.opaque.len(), 1, "{:?}", d.opaque);
    assert_eq!(d.opaque[0].origin.line, 22);
}

#[test]
fn override_files_json_and_invocations() {
    let t = MapFiles::new(&[
        ("docker-bake.hcl", HCL),
        (
            "docker-bake.override.hcl",
            "target \"api\" {\n  target = \"Prod\"\n  args = { B = \"b\" }\n}\n",
        ),
        (
            "ci/bake.json",
            r#"{"variable": {"D": {"default": "app"}}, "target": {"default": {"context": "${D}", "dockerfile-inline": "FROM x\n"}}}"#,
        ),
    ]);
    let d = t.resolve("docker-bake.hcl");
    let api = by_target(&d, "api");
    assert_eq!(api.target, Target::Named("prod".into()));
    assert_eq!(api.args[1], ("B".into(), Some("b".into())));
    assert!(t.resolve("docker-bake.override.hcl").decls.is_empty());
    // A file of another name (a CI job's `-f`) stands alone.
    let other = MapFiles::new(&[("ci/x.hcl", HCL)]);
    let mut out = Declared::default();
    resolve("ci/x.hcl", "ci", HCL, &other, &mut out).expect("resolves");
    assert_eq!(
        targets(&out),
        ["target `api`", "target `tools`", "target `web`"]
    );
    // A JSON file with a target named `default`.
    let j = MapFiles::new(&[("docker-bake.json", t.0["ci/bake.json"].as_str())]);
    let d = j.resolve("docker-bake.json");
    let def = by_target(&d, "default");
    assert_eq!(def.context.as_deref(), Some("app"));
    assert_eq!(def.dockerfile, Dockerfile::Inline("FROM x\n".into()));
    assert_eq!(def.origin.line, 1);
    // A CI step: its files, its working directory, its targets, its env and --set.
    let by = Origin {
        file: ".github/workflows/ci.yml".into(),
        line: 9,
        what: "job `b`".into(),
    };
    let mut out = Declared::default();
    let env = HashMap::from([("DIR".to_owned(), "svc".to_owned())]);
    let run = Invocation {
        names: vec!["docker-bake.hcl".into()],
        cwd: String::new(),
        targets: vec!["inline".into(), "api".into(), "nope".into()],
        env,
        sets: vec![
            "api.dockerfile=cwd://ci/api.Dockerfile".into(),
            "*.args.E=e".into(),
        ],
    };
    invoke(&t, &run, &by, &mut out);
    assert_eq!(
        targets(&out).len(),
        3,
        "inline, api and the tools it links: {out:#?}"
    );
    let api = by_target(&out, "api");
    assert_eq!(api.context.as_deref(), Some("svc/common"));
    assert_eq!(api.dockerfile, Dockerfile::Path("ci/api.Dockerfile".into()));
    assert!(api.args.contains(&("E".into(), Some("e".into()))));
    assert!(
        api.origin.what.contains(".github/workflows/ci.yml:9"),
        "{}",
        api.origin
    );
    let inline = by_target(&out, "inline");
    assert_eq!(
        inline.dockerfile,
        Dockerfile::Inline("FROM alpine\nCOPY x /\n".into())
    );
    assert_eq!(inline.context.as_deref(), Some(""));
}

#[test]
fn bad_files_are_errors_not_panics() {
    assert!(
        hcl::parse("target \"x\" {").is_ok(),
        "an unclosed body ends at EOF"
    );
    assert!(hcl::parse("target \"x\" { context = [ }").is_err());
    assert!(hcl::parse("a = <<EOT\nno end\n").is_err());
    assert!(hcl::parse(&"[".repeat(100_000)).is_err());
    let t = MapFiles::new(&[(
        "docker-bake.hcl",
        "target \"a\" { inherits = [\"b\"] }\ntarget \"b\" { inherits = [\"a\"] }\ngroup \"default\" { targets = [\"default\", \"a\"] }\n",
    )]);
    assert_eq!(targets(&t.resolve("docker-bake.hcl")), ["target `a`"]);
}

/// Every prefix of the files above (cut anywhere) resolves without a panic.
#[test]
fn truncated_files_never_panic() {
    let json =
        r#"{"variable": {"D": {"default": "a$${x}"}}, "target": {"default": {"context": "${D}"}}}"#;
    for (name, text) in [("docker-bake.hcl", HCL), ("docker-bake.json", json)] {
        for cut in (0..=text.len()).filter(|c| text.is_char_boundary(*c)) {
            let t = MapFiles::new(&[(name, &text[..cut])]);
            let _ = t.resolve(name);
        }
    }
    let run = Run {
        def: &Def::default(),
        cwd: "",
        env: &HashMap::new(),
        sets: &[],
        by: None,
    };
    assert_eq!(run.template("a$${X}b%%{y}", 0), "a${X}b%{y}");
    assert_eq!(run.template("x$${", 0), "x${");
}
