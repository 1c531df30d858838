//! GitLab resolution, file by file (the differential test against gitlab-ci-local is
//! tests/it/gitlab_oracle.rs).

use super::super::{resolve_gitlab, Declared, Dockerfile, MemFiles, Target};

fn resolve(files: &[(&'static str, &'static str)]) -> Declared {
    let tree = MemFiles(files.to_vec());
    let root = files
        .iter()
        .find(|(p, _)| *p == ".gitlab-ci.yml")
        .map(|(_, t)| *t)
        .expect("a root file");
    resolve_gitlab(".gitlab-ci.yml", root, &tree)
}

/// (job as `what` names it, dockerfile, context) per declaration, sorted.
fn builds(d: &Declared) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = d
        .decls
        .iter()
        .map(|d| {
            let job = d
                .origin
                .what
                .split('`')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let file = match &d.dockerfile {
                Dockerfile::Path(p) | Dockerfile::Pattern(p) => p.replace('\0', "*"),
                Dockerfile::Inline(_) => "inline".into(),
            };
            (job, file, d.context.clone().unwrap_or_else(|| "?".into()))
        })
        .collect();
    v.sort();
    v
}

fn b(job: &str, file: &str, ctx: &str) -> (String, String, String) {
    (job.into(), file.into(), ctx.into())
}

const TEMPLATE: &str = ".tpl:\n  script:\n    - docker build -f \"docker/$NAME.docker\" \"$CTX\"\n  variables:\n    CTX: .\n";

#[test]
fn includes_in_every_form_and_nested() {
    let d = resolve(&[
        (".gitlab-ci.yml", "include:\n  - local: /ci/a.yml\n  - ci/b.yml\n  - local: 'ci/more/*.yml'\n  - local: ci/never.yml\n    rules:\n      - when: never\n"),
        ("ci/a.yml", "include: ci/tpl.yml\nja:\n  extends: .tpl\n  variables: {NAME: a}\n"),
        ("ci/tpl.yml", TEMPLATE),
        ("ci/b.yml", "jb:\n  extends: .tpl\n  variables: {NAME: b, CTX: docker}\n"),
        ("ci/more/c.yml", "jc:\n  extends: .tpl\n  variables: {NAME: c}\n"),
        ("ci/more/d.txt", "not yaml: ["),
        ("ci/never.yml", "jn:\n  extends: .tpl\n  variables: {NAME: n}\n"),
    ]);
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        builds(&d),
        vec![
            b("ja", "docker/a.docker", ""),
            b("jb", "docker/b.docker", "docker"),
            b("jc", "docker/c.docker", "")
        ]
    );
    // The origin is the job; what it runs says where the line is.
    let ja = d
        .decls
        .iter()
        .find(|d| d.origin.what.contains("`ja`"))
        .expect("ja");
    assert_eq!((ja.origin.file.as_str(), ja.origin.line), ("ci/a.yml", 2));
    assert!(
        ja.origin.what.ends_with("docker build (ci/tpl.yml:3)"),
        "{}",
        ja.origin.what
    );
}

#[test]
fn the_including_file_wins_and_hashes_merge_deeply() {
    let d = resolve(&[
        (".gitlab-ci.yml", "include: [ci/one.yml, ci/two.yml]\nvariables:\n  NAME: root\nj:\n  variables:\n    EXTRA: x\n"),
        ("ci/one.yml", "variables:\n  NAME: one\n  CTX: one\nj:\n  script: [docker build -f $NAME.df $CTX]\n  variables: {CTX: j}\n"),
        ("ci/two.yml", "variables:\n  NAME: two\n"),
    ]);
    assert_eq!(
        builds(&d),
        vec![b("j", "root.df", "j")],
        "root's global wins, the job's own CTX wins over the global"
    );
}

#[test]
fn extends_chains_arrays_hidden_jobs_and_references() {
    let d = resolve(&[(
        ".gitlab-ci.yml",
        ".base:\n  before_script: [export NAME=$FROM_BASE]\n  variables: {FROM_BASE: base, CTX: .}\n.mid:\n  extends: .base\n  script: [docker build -f \"d/$NAME.docker\" $CTX]\n.other:\n  variables: {CTX: ctx}\nchain:\n  extends: .mid\narr:\n  extends: [.mid, .other]\nref:\n  variables: {NAME: r}\n  script:\n    - !reference [.mid, script]\n.hidden:\n  script: [docker build -f d/hidden.docker .]\n",
    )]);
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        builds(&d),
        vec![
            b("arr", "d/base.docker", "ctx"),
            b("chain", "d/base.docker", ""),
            b("ref", "d/r.docker", "?")
        ],
    );
}

#[test]
fn jobs_that_never_run_build_nothing_and_rule_variables_are_ways_to_run() {
    let d = resolve(&[(
        ".gitlab-ci.yml",
        "variables: {NAME: g}\nnever:\n  when: never\n  script: [docker build -f never.df .]\nall-never:\n  rules:\n    - if: $X\n      when: never\n    - when: never\n  script: [docker build -f allnever.df .]\nsome:\n  rules:\n    - if: $X\n      when: never\n    - if: $Y\n      variables: {NAME: y}\n    - when: on_success\n  script: [docker build -f $NAME.df .]\n",
    )]);
    assert_eq!(
        builds(&d),
        vec![b("some", "g.df", ""), b("some", "y.df", "")]
    );
}

#[test]
fn matrix_combinations_default_and_after_script() {
    let d = resolve(&[(
        ".gitlab-ci.yml",
        "default:\n  before_script: [cd sub]\nm:\n  parallel:\n    matrix:\n      - OS: [debian, alpine]\n        ARCH: amd64\n      - OS: fedora\n  script: [docker build -f \"$OS-$ARCH.df\" .]\n  after_script: [docker build -f after.df .]\nno-default:\n  inherit:\n    default: false\n  script: [docker build -f x.df .]\n",
    )]);
    assert_eq!(
        builds(&d),
        vec![
            b("m: [alpine, amd64]", "after.df", ""),
            b("m: [alpine, amd64]", "sub/alpine-amd64.df", "sub"),
            b("m: [debian, amd64]", "after.df", ""),
            b("m: [debian, amd64]", "sub/debian-amd64.df", "sub"),
            b("m: [fedora]", "after.df", ""),
            b("m: [fedora]", "sub/fedora-*.df", "sub"),
            b("no-default", "x.df", ""),
        ],
    );
}

#[test]
fn inputs_are_interpolated_with_defaults() {
    let d = resolve(&[
        (".gitlab-ci.yml", "include:\n  - local: ci/c.yml\n    inputs:\n      name: given\n  - local: ci/c.yml\n"),
        ("ci/c.yml", "spec:\n  inputs:\n    name:\n      default: dflt\n---\nbuild-$[[ inputs.name ]]:\n  script:\n    - docker build -f \"$[[ inputs.name ]].df\" .\n"),
    ]);
    // The same file twice: GitLab reads it once per include entry.
    assert!(d.opaque.is_empty(), "{:?} {:?}", d.opaque, d.warnings);
    assert_eq!(
        builds(&d),
        vec![
            b("build-dflt", "dflt.df", ""),
            b("build-given", "given.df", "")
        ]
    );
}

#[test]
fn child_pipelines_get_the_trigger_jobs_variables() {
    let d = resolve(&[
        (".gitlab-ci.yml", "trig:\n  variables: {NAME: from-parent}\n  trigger:\n    include: ci/child.yml\ngen:\n  trigger:\n    include:\n      - artifact: child.yml\n        job: plan\n"),
        ("ci/child.yml", "variables: {NAME: child-default}\nc:\n  script: [docker build -f $NAME.df .]\n"),
    ]);
    assert_eq!(builds(&d), vec![b("c", "from-parent.df", "")]);
    assert_eq!(d.opaque.len(), 1, "{:?}", d.opaque);
    assert!(d.opaque[0].why.contains("artifact"), "{:?}", d.opaque);
}

#[test]
fn what_comes_from_outside_is_opaque_except_dockguard() {
    let d = resolve(&[(
        ".gitlab-ci.yml",
        "include:\n  - remote: https://example.com/x.yml\n  - template: Docker.gitlab-ci.yml\n  - project: group/other\n    file: /ci.yml\n  - local: missing.yml\nj:\n  extends: .from-outside\n  script: [true]\n",
    )]);
    let lines: Vec<(usize, &str)> = d
        .opaque
        .iter()
        .map(|o| (o.origin.line, o.origin.what.as_str()))
        .collect();
    assert_eq!(d.opaque.len(), 5, "{lines:?}");
    let d = resolve(&[(
        ".gitlab-ci.yml",
        "include:\n  - component: $CI_SERVER_FQDN/g/dockguard/dockguard@1.0\n    inputs:\n      mode: global\nimg:\n  extends: .dockguard-container\n  variables:\n    DOCKGUARD_IMAGE_NAME: base\n    DOCKGUARD_DOCKERFILE: docker/base.docker\n",
    )]);
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(builds(&d), vec![b("img", "docker/base.docker", "")]);
    let d = resolve(&[(
        ".gitlab-ci.yml",
        "include:\n  - component: gitlab.com/g/dockguard/dockguard@1.0\n",
    )]);
    assert!(d.opaque[0].why.contains("content mode"), "{:?}", d.opaque);
}

#[test]
fn unreadable_files_and_targets() {
    let d = resolve(&[(".gitlab-ci.yml", "a: [")]);
    assert_eq!((d.opaque.len(), d.warnings.len()), (1, 1));
    let d = resolve(&[
        (".gitlab-ci.yml", "include: ci/bad.yml\nj:\n  script:\n    - docker build --target Test -f a.df .\n    - docker build -f \"$UNKNOWN\" .\n"),
        ("ci/bad.yml", "x: ["),
    ]);
    assert_eq!(d.opaque.len(), 1, "the bad include: {:?}", d.opaque);
    assert_eq!(d.decls[0].target, Target::Named("test".into()));
    assert_eq!(d.decls[1].dockerfile, Dockerfile::Pattern("\0".into()));
}
