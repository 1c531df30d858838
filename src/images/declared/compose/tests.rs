use std::collections::BTreeMap;
use std::sync::Arc;

use git2::Oid;

use super::super::{resolve as resolve_file, Declaration, Declared, Dockerfile, Files, Target};
use super::ANY;

/// A tree of a few files, for resolvers that read others.
#[derive(Debug, Default)]
pub(crate) struct MapFiles(pub BTreeMap<String, String>);

impl MapFiles {
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        MapFiles(
            files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
        )
    }

    /// Resolves the entry file `path` of this tree.
    pub(crate) fn resolve(&self, path: &str) -> Declared {
        let text = self.0.get(path).expect("the entry file");
        resolve_file(path.as_bytes(), text, self)
    }
}

impl Files for MapFiles {
    fn read(&self, path: &str) -> crate::error::Result<Option<(Oid, Arc<str>)>> {
        Ok(self.0.get(path).map(|t| {
            let oid = Oid::hash_object(git2::ObjectType::Blob, t.as_bytes()).expect("oid");
            (oid, Arc::from(t.as_str()))
        }))
    }
    fn glob(&self, _: &str) -> crate::error::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

fn by_service<'a>(d: &'a Declared, name: &str) -> &'a Declaration {
    let what = format!("service `{name}`");
    d.decls
        .iter()
        .find(|d| d.origin.what == what)
        .unwrap_or_else(|| panic!("no build of {name}: {d:#?}"))
}

fn services(d: &Declared) -> Vec<String> {
    let mut v: Vec<String> = d.decls.iter().map(|d| d.origin.what.clone()).collect();
    v.sort();
    v
}

#[test]
fn extends_merge_keys_env_and_overrides() {
    let t = MapFiles::new(&[
        (
            "app/compose.yaml",
            "x-base: &base\n  build:\n    context: ./web\n    args:\n      A: \"1\"\nservices:\n  web:\n    <<: *base\n    image: web\n  api:\n    build: ${CTX:-api}\n  ext:\n    extends:\n      file: common/base.yml\n      service: base\n    build:\n      target: ${STAGE}\n  db:\n    image: postgres\n  dev:\n    profiles: [dev]\n    build: .\n  list:\n    build:\n      context: .\n      dockerfile: ${DF-docker/Dockerfile}\n      args:\n        - X=${X:?need x}\n        - Y\n        - Z\n",
        ),
        (
            "app/common/base.yml",
            "services:\n  base:\n    build:\n      context: ctx\n      dockerfile: ../Dfile\n",
        ),
        ("app/.env", "X=fromenv\nY=yy\nCTX=sub\nSTAGE=Prod\n"),
        (
            "app/compose.override.yml",
            "services:\n  web:\n    build:\n      args:\n        B: \"2\"\n      target: dev\n",
        ),
    ]);
    let d = t.resolve("app/compose.yaml");
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        services(&d),
        [
            "service `api`",
            "service `ext`",
            "service `list`",
            "service `web`"
        ],
        "image-only and profile-only services build nothing"
    );
    let web = by_service(&d, "web");
    assert_eq!(web.context.as_deref(), Some("app/web"));
    assert_eq!(
        web.dockerfile,
        Dockerfile::Path("app/web/Dockerfile".into())
    );
    assert_eq!(
        web.args,
        vec![
            ("A".into(), Some("1".into())),
            ("B".into(), Some("2".into()))
        ]
    );
    assert_eq!(web.target, Target::Named("dev".into()));
    assert_eq!(
        (web.origin.file.as_str(), web.origin.line),
        ("app/compose.yaml", 2)
    );
    let api = by_service(&d, "api");
    assert_eq!(
        api.context.as_deref(),
        Some("app/sub"),
        ".env wins over the default"
    );
    let ext = by_service(&d, "ext");
    assert_eq!(ext.context.as_deref(), Some("app/common/ctx"));
    assert_eq!(ext.dockerfile, Dockerfile::Path("app/common/Dfile".into()));
    assert_eq!(ext.target, Target::Named("prod".into()));
    assert_eq!(ext.origin.file, "app/common/base.yml");
    let list = by_service(&d, "list");
    assert_eq!(
        list.dockerfile,
        Dockerfile::Path("app/docker/Dockerfile".into())
    );
    assert_eq!(
        list.args,
        vec![
            ("X".into(), Some("fromenv".into())),
            ("Y".into(), Some("yy".into())),
            ("Z".into(), None)
        ]
    );
    // The override file is part of the project, not one of its own.
    assert!(t.resolve("app/compose.override.yml").decls.is_empty());
}

#[test]
fn unknown_variables_make_builds_opaque() {
    let t = MapFiles::new(&[(
        "compose.yml",
        "services:\n  a:\n    build: ${WHERE}\n  b:\n    build:\n      context: .\n      dockerfile: docker/${NAME}.Dockerfile\n      args: {V: $VERSION}\n  c:\n    build:\n      context: .\n      dockerfile: ${NAME:-x}.Dockerfile\n",
    )]);
    let d = t.resolve("compose.yml");
    let a = by_service(&d, "a");
    assert_eq!(a.context, None);
    assert_eq!(
        a.dockerfile,
        Dockerfile::Pattern(format!("{ANY}Dockerfile"))
    );
    let b = by_service(&d, "b");
    assert_eq!(b.context.as_deref(), Some(""));
    assert_eq!(
        b.dockerfile,
        Dockerfile::Pattern(format!("docker/{ANY}.Dockerfile"))
    );
    assert_eq!(b.args, vec![("V".into(), None)]);
    let c = by_service(&d, "c");
    assert_eq!(c.dockerfile, Dockerfile::Path("x.Dockerfile".into()));
    let lines: Vec<usize> = d.opaque.iter().map(|o| o.origin.line).collect();
    assert_eq!(lines, vec![3, 5], "{:?}", d.opaque);
}

#[test]
fn include_inline_and_named_contexts() {
    let t = MapFiles::new(&[
        (
            "compose.yaml",
            "include:\n  - db/compose.yaml\n  - path: [tools/tools.yml]\n    project_directory: tools\nservices:\n  app:\n    build:\n      context: .\n      additional_contexts:\n        shared: ./shared\n        base: service:base\n        img: docker-image://alpine\n  inline:\n    build:\n      dockerfile_inline: |\n        FROM alpine\n        COPY x /\n",
        ),
        (
            "db/compose.yaml",
            "services:\n  db:\n    build:\n      dockerfile: ${DBF}\n  base:\n    profiles: [never]\n    build: ./base\n",
        ),
        ("db/.env", "DBF=db.Dockerfile\n"),
        ("tools/tools.yml", "services:\n  tools:\n    build: {}\n"),
    ]);
    let d = t.resolve("compose.yaml");
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        services(&d),
        [
            "service `app`",
            "service `base`",
            "service `db`",
            "service `inline`",
            "service `tools`"
        ]
    );
    let db = by_service(&d, "db");
    assert_eq!(db.context.as_deref(), Some("db"));
    assert_eq!(db.dockerfile, Dockerfile::Path("db/db.Dockerfile".into()));
    assert_eq!(by_service(&d, "tools").context.as_deref(), Some("tools"));
    assert_eq!(by_service(&d, "base").context.as_deref(), Some("db/base"));
    let app = by_service(&d, "app");
    assert_eq!(app.named, vec![("shared".into(), "shared".into())]);
    let inline = by_service(&d, "inline");
    assert_eq!(
        inline.dockerfile,
        Dockerfile::Inline("FROM alpine\nCOPY x /\n".into())
    );
    assert_eq!(inline.context.as_deref(), Some(""));
    // `extends` may name a service an include brought.
    let t2 = MapFiles::new(&[
        (
            "compose.yaml",
            "include: [db/compose.yaml]\nservices:\n  db2:\n    extends: db\n    build:\n      target: x\n",
        ),
        ("db/compose.yaml", "services:\n  db:\n    build: ./img\n"),
    ]);
    let d2 = t2.resolve("compose.yaml");
    let db2 = by_service(&d2, "db2");
    assert_eq!(db2.context.as_deref(), Some("db/img"));
    assert_eq!(db2.target, Target::Named("x".into()));
    // An included file is part of the project that includes it.
    assert!(t.resolve("tools/tools.yml").decls.is_empty());
}

#[test]
fn which_files_are_projects() {
    let t = MapFiles::new(&[
        ("docker-compose.yml", "services:\n  a:\n    build: a\n"),
        ("docker-compose.prod.yml", "services:\n  p:\n    build: p\n"),
        (
            "web.compose.yaml",
            "services:\n  w:\n    build: w\n    extends: {file: docker-compose.yml, service: a}\n",
        ),
        (
            "lone/docker-compose.override.yml",
            "services:\n  o:\n    build: .\n",
        ),
    ]);
    assert_eq!(services(&t.resolve("docker-compose.yml")), ["service `a`"]);
    assert_eq!(
        services(&t.resolve("docker-compose.prod.yml")),
        ["service `p`"]
    );
    assert_eq!(services(&t.resolve("web.compose.yaml")), ["service `w`"]);
    assert_eq!(
        services(&t.resolve("lone/docker-compose.override.yml")),
        ["service `o`"],
        "an override file without a project file is a project"
    );
}

#[test]
fn loops_and_remote_includes_are_opaque() {
    let t = MapFiles::new(&[
        (
            "compose.yaml",
            "include:\n  - oci://example/x:1\nservices:\n  a:\n    extends: b\n    build: .\n  b:\n    extends: a\n",
        ),
        (
            "x/compose.yaml",
            "include: [../x/compose.yaml]\nservices:\n  s:\n    build: .\n",
        ),
        ("y/compose.yaml", "services:\n  s:\n    build: .\n"),
        ("y/.env", "COMPOSE_FILE=a.yml:b.yml\n"),
    ]);
    let d = t.resolve("compose.yaml");
    assert_eq!(
        d.opaque.len(),
        3,
        "the include, and each of the looping services: {:?}",
        d.opaque
    );
    assert_eq!(t.resolve("x/compose.yaml").opaque.len(), 1);
    let y = t.resolve("y/compose.yaml");
    assert!(y.decls.is_empty() && y.opaque.len() == 1, "{y:?}");
    // COMPOSE_PROFILES in .env enables profiles.
    let t = MapFiles::new(&[
        (
            "compose.yaml",
            "services:\n  a:\n    profiles: [ci]\n    build: .\n",
        ),
        (".env", "COMPOSE_PROFILES=ci\n"),
    ]);
    assert_eq!(services(&t.resolve("compose.yaml")), ["service `a`"]);
}

/// Every prefix of a project's files (cut anywhere) resolves without a panic.
#[test]
fn truncated_files_never_panic() {
    let compose = "x: &b\n  build:\n    context: ${A:-${B-x}}\n    dockerfile_inline: |\n      FROM a\nservices:\n  a:\n    <<: *b\n    extends: {file: o.yml, service: s}\n    profiles: [p]\n  b:\n    build:\n      args: [A=$$1, B]\n      additional_contexts: [x=service:a]\ninclude:\n  - path: [i.yml]\n";
    let env = "A='q'\nexport B=\"x\\n${A}\"\nC=1 # c\n";
    for cut in (0..=compose.len()).filter(|c| compose.is_char_boundary(*c)) {
        let t = MapFiles::new(&[
            ("compose.yaml", &compose[..cut]),
            (".env", env),
            ("o.yml", compose),
        ]);
        let _ = t.resolve("compose.yaml");
    }
    for cut in (0..=env.len()).filter(|c| env.is_char_boundary(*c)) {
        let t = MapFiles::new(&[("compose.yaml", compose), (".env", &env[..cut])]);
        let _ = t.resolve("compose.yaml");
    }
}
