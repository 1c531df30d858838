use super::super::compose::tests::MapFiles;
use super::super::{Declared, Dockerfile, Target};
use super::ANY;

fn built(d: &Declared) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = d
        .decls
        .iter()
        .map(|d| {
            let f = match &d.dockerfile {
                Dockerfile::Path(p) | Dockerfile::Pattern(p) => p.replace(ANY, "*"),
                Dockerfile::Inline(_) => "inline".into(),
            };
            (f, d.context.clone())
        })
        .collect();
    v.sort();
    v
}

fn pair(f: &str, c: &str) -> (String, Option<String>) {
    (f.to_owned(), Some(c.to_owned()))
}

#[test]
fn matrix_env_and_working_directories() {
    let t = MapFiles::new(&[(
        ".github/workflows/ci.yml",
        r#"on: push
env:
  ROOT: images
defaults:
  run:
    working-directory: ci
jobs:
  build:
    strategy:
      matrix:
        name: [debian, alpine]
        include:
          - name: fedora
            dir: rpm
        exclude:
          - name: alpine
    env:
      DIR: ${{ matrix.dir || 'deb' }}
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          context: ${{ env.ROOT }}/${{ env.DIR }}
          file: ${{ env.ROOT }}/${{ matrix.name }}.Dockerfile
          target: ${{ matrix.stage }}
          build-args: |
            NAME=${{ matrix.name }}
            SHA=${{ github.sha }}
      - run: docker build -f "$ROOT/$DIR/x.Dockerfile" ..
  shell:
    defaults:
      run:
        working-directory: sub
    steps:
      - run: docker build .
        working-directory: ${{ github.workspace }}/step
      - run: docker build -t x .
"#,
    )]);
    let d = t.resolve(".github/workflows/ci.yml");
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        built(&d),
        [
            pair("ci/images/deb/x.Dockerfile", ""),
            pair("ci/images/rpm/x.Dockerfile", ""),
            pair("images/debian.Dockerfile", "images/deb"),
            pair("images/fedora.Dockerfile", "images/rpm"),
            pair("step/Dockerfile", "step"),
            pair("step/dockerfile", "step"),
            pair("sub/Dockerfile", "sub"),
            pair("sub/dockerfile", "sub"),
        ]
    );
    let deb = d
        .decls
        .iter()
        .find(|d| d.dockerfile == Dockerfile::Path("images/debian.Dockerfile".into()))
        .expect("debian");
    assert_eq!(deb.target, Target::Last, "an unset matrix value is empty");
    assert_eq!(
        deb.args,
        vec![("NAME".into(), Some("debian".into())), ("SHA".into(), None)]
    );
    assert_eq!(deb.origin.line, 21);
    assert!(
        deb.origin.what.contains("matrix name=debian"),
        "{}",
        deb.origin
    );
}

#[test]
fn composite_actions_reusable_workflows_and_bake() {
    let t = MapFiles::new(&[
        (
            ".github/workflows/ci.yml",
            "on: [push]\njobs:\n  images:\n    strategy:\n      matrix:\n        img: [a, b]\n    uses: ./.github/workflows/build.yml\n    with:\n      image: ${{ matrix.img }}\n  local:\n    runs-on: x\n    steps:\n      - uses: ./.github/actions/build\n        with:\n          dir: tools\n      - uses: ./.github/actions/container\n      - uses: docker/bake-action@v6\n        env:\n          TAG: ci\n        with:\n          workdir: deploy\n          files: |\n            docker-bake.hcl\n          targets: app\n          set: app.args.X=1\n  remote:\n    uses: org/repo/.github/workflows/x.yml@v1\n",
        ),
        (
            ".github/workflows/build.yml",
            "on:\n  workflow_call:\n    inputs:\n      image: {type: string}\n      ctx: {type: string, default: images}\njobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: ${{ inputs.ctx }}\n          file: ${{ inputs.ctx }}/${{ inputs.image }}.Dockerfile\n",
        ),
        (
            ".github/actions/build/action.yml",
            "inputs:\n  dir: {default: x}\n  file: {default: Dockerfile.ci}\nruns:\n  using: composite\n  steps:\n    - run: docker build -f ${{ inputs.dir }}/${{ inputs.file }} ${{ inputs.dir }}\n      shell: bash\n    - uses: docker/build-push-action@v6\n      with:\n        context: ${{ github.action_path }}\n",
        ),
        (
            ".github/actions/container/action.yaml",
            "runs:\n  using: docker\n  image: Dockerfile\n",
        ),
        (
            "deploy/docker-bake.hcl",
            "variable \"TAG\" {}\ntarget \"app\" {\n  context = \"app\"\n  dockerfile = \"${TAG}.Dockerfile\"\n}\n",
        ),
    ]);
    let d = t.resolve(".github/workflows/ci.yml");
    assert!(d.opaque.is_empty(), "{:?}", d.opaque);
    assert_eq!(
        built(&d),
        [
            pair(".github/actions/build/Dockerfile", ".github/actions/build"),
            pair(
                ".github/actions/container/Dockerfile",
                ".github/actions/container"
            ),
            pair("deploy/app/ci.Dockerfile", "deploy/app"),
            pair("images/a.Dockerfile", "images"),
            pair("images/b.Dockerfile", "images"),
            pair("tools/Dockerfile.ci", "tools"),
        ]
    );
    let bake = d
        .decls
        .iter()
        .find(|d| d.context.as_deref() == Some("deploy/app"))
        .expect("bake");
    assert_eq!(bake.args, vec![("X".into(), Some("1".into()))]);
    assert_eq!(
        (bake.origin.file.as_str(), bake.origin.line),
        ("deploy/docker-bake.hcl", 2)
    );
    let called = d
        .decls
        .iter()
        .find(|d| d.context.as_deref() == Some("images"))
        .expect("called");
    assert_eq!(called.origin.file, ".github/workflows/build.yml");
    assert!(
        called
            .origin
            .what
            .contains("called by .github/workflows/ci.yml:3"),
        "{}",
        called.origin
    );
    // The reusable workflow alone: only called, so not resolved with unknown inputs.
    assert!(t.resolve(".github/workflows/build.yml").decls.is_empty());
}

#[test]
fn unknown_expressions_are_opaque() {
    let t = MapFiles::new(&[(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  b:\n    strategy:\n      matrix: ${{ fromJSON(needs.a.outputs.m) }}\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: .\n          file: docker/${{ matrix.name }}.Dockerfile\n      - uses: docker/build-push-action@v6\n        with:\n          context: ${{ steps.x.outputs.dir }}\n      - run: docker build -f x/Dockerfile ${{ steps.y.outputs.ctx }}\n      - uses: ./.github/actions/missing\n",
    )]);
    let d = t.resolve(".github/workflows/ci.yml");
    let lines: Vec<usize> = d.opaque.iter().map(|o| o.origin.line).collect();
    assert_eq!(lines, vec![7, 11, 14, 15], "{:?}", d.opaque);
    assert_eq!(
        built(&d),
        [
            ("*Dockerfile".to_owned(), None),
            ("docker/*.Dockerfile".to_owned(), Some(String::new())),
            ("x/Dockerfile".to_owned(), None),
        ]
    );
}

#[test]
fn bake_and_compose_command_lines() {
    let t = MapFiles::new(&[
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  b:\n    env:\n      TAG: ci\n    steps:\n      - run: |\n          cd deploy\n          docker buildx bake -f docker-bake.hcl --set '*.args.X=1' --push app\n      - run: docker compose build\n      - run: docker compose -f other.yml build web\n      - run: docker buildx bake --weird x\n",
        ),
        (
            "deploy/docker-bake.hcl",
            "variable \"TAG\" {}\ntarget \"app\" {\n  context = \".\"\n  dockerfile = \"${TAG}.Dockerfile\"\n}\n",
        ),
    ]);
    let d = t.resolve(".github/workflows/ci.yml");
    assert_eq!(built(&d), [pair("deploy/ci.Dockerfile", "deploy")]);
    assert_eq!(d.decls[0].args, vec![("X".into(), Some("1".into()))]);
    let lines: Vec<usize> = d.opaque.iter().map(|o| o.origin.line).collect();
    assert_eq!(lines, vec![11, 12], "{:?}", d.opaque);
}

/// Every prefix of a workflow (cut anywhere) resolves without a panic.
#[test]
fn truncated_workflows_never_panic() {
    let wf = "on: push\njobs:\n  b:\n    strategy:\n      matrix:\n        n: [a, b]\n        include: [{n: c, d: x}]\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: ${{ format('{0}/x', matrix.n) || 'y' }}\n          build-args: |\n            A=${{ env.X }}\n      - uses: ./.github/actions/a\n      - run: cd ${{ matrix.d }} && docker buildx bake -f x.hcl t && docker build .\n  c:\n    uses: ./.github/workflows/ci.yml\n";
    for cut in (0..=wf.len()).filter(|c| wf.is_char_boundary(*c)) {
        let t = MapFiles::new(&[
            (".github/workflows/ci.yml", &wf[..cut]),
            ("x.hcl", "target \"t\" {}"),
        ]);
        let _ = t.resolve(".github/workflows/ci.yml");
    }
}
