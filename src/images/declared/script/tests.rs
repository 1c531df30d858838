//! Scripts read as a shell runs them.

use super::super::super::buildcmd::BuildCall;
use super::super::MemFiles;
use super::*;

fn run(
    tree: &[(&'static str, &'static str)],
    text: &str,
    vars: &[(&str, &str)],
) -> (Vec<(BuildCall, String, usize)>, Vec<String>) {
    let files = MemFiles(tree.to_vec());
    let mut s = Scripts::new(&files);
    let vars = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut sh = Shell::new(vars);
    s.run(text, ".gitlab-ci.yml", 10, &mut sh);
    let calls = s
        .found
        .into_iter()
        .filter_map(|f| match f.call {
            Invocation::Build(c) => Some((c, f.file, f.line)),
            Invocation::Files(_) => None,
        })
        .collect();
    (
        calls,
        s.unknown
            .into_iter()
            .map(|u| format!("{}:{}: {}", u.file, u.line, u.why))
            .collect(),
    )
}

#[test]
fn scripts_are_read_with_the_callers_values() {
    let tree = [
        ("ci/build.sh", "#!/usr/bin/env bash\nset -eu\nHERE=$(cd \"$(dirname \"$0\")\" && pwd)\n. \"$HERE/env.sh\"\ndocker build -f \"docker/$1.docker\" --target \"$STAGE\" .\n"),
        ("ci/env.sh", "STAGE=final\n"),
        ("tools/x.py", "#!/usr/bin/env python3\nprint('hello')\n"),
        ("tools/y.py", "#!/usr/bin/env python3\nimport subprocess\nsubprocess.run(['docker', 'build', '.'])\n"),
    ];
    let (calls, unknown) = run(
        &tree,
        "cd ci\n./build.sh debian\ncd ..\nsh -e ci/build.sh \"alpine\"\n./tools/x.py\npython3 tools/y.py\n./build/out/test\n",
        &[],
    );
    assert_eq!(calls.len(), 2, "{calls:?} {unknown:?}");
    assert_eq!(
        calls[0].0.file.as_deref(),
        Some("ci/docker/debian.docker"),
        "relative to the caller's directory"
    );
    assert_eq!(calls[0].0.target.as_deref(), Some("final"));
    assert_eq!((calls[0].1.as_str(), calls[0].2), ("ci/build.sh", 5));
    assert_eq!(calls[1].0.file.as_deref(), Some("docker/alpine.docker"));
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("tools/y.py"), "{unknown:?}");
}

#[test]
fn assignments_that_may_not_happen_make_values_unknown() {
    let (calls, _) = run(
        &[],
        "NAME=a\nif [ -n \"$X\" ]; then NAME=b; fi\ndocker build -f $NAME.docker .\nN2=c\ntrue && N2=d\ndocker build -f $N2.docker .\nexport N3=e\ndocker build -f $N3.docker .\n",
        &[("NAME", "z")],
    );
    let files: Vec<Option<String>> = calls.iter().map(|c| c.0.file.clone()).collect();
    assert_eq!(
        files,
        vec![
            Some(format!("{ANY}.docker")),
            Some(format!("{ANY}.docker")),
            Some("e.docker".to_owned())
        ]
    );
}

#[test]
fn control_flow_is_followed_where_values_are_known() {
    let tree = [(
        "ci/run.sh",
        "#!/bin/sh\nMODE=plain\nbuild_it() {\n  docker build -f \"$1.df\" .\n}\nnever_called() {\n  docker build -f never.df .\n}\nwhile [ \"$#\" -ge 1 ]; do\n  case \"$1\" in\n    --docker|-d) MODE=docker ;;\n    --name)\n      shift\n      NAME=\"$1\"\n      ;;\n    *) echo other ;;\n  esac\n  shift\ndone\nif [ -z \"$SRC\" ]; then\n  SRC=\"$PWD\"\nfi\ncd \"$SRC\"\nif [ \"$MODE\" = docker ]; then\n  build_it docker\nelif [ \"$MODE\" = plain ]; then\n  build_it plain\nelse\n  docker build -f else.df .\nfi\nexit 0\ndocker build -f after-exit.df .\n",
    )];
    let (calls, unknown) = run(&tree, "./ci/run.sh --check\n", &[]);
    let files: Vec<Option<String>> = calls.iter().map(|c| c.0.file.clone()).collect();
    assert_eq!(files, vec![Some("plain.df".to_owned())], "{unknown:?}");
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(
        (calls[0].1.as_str(), calls[0].2),
        ("ci/run.sh", 4),
        "the line in the function"
    );
    // An argument not known here: every arm may run.
    let (calls, _) = run(&tree, "./ci/run.sh \"$ARG\"\n", &[]);
    let mut files: Vec<String> = calls.iter().filter_map(|c| c.0.file.clone()).collect();
    files.sort();
    assert_eq!(files, vec!["docker.df", "else.df", "plain.df"]);
    // SRC from the job's variables wins over the script's default.
    let (calls, unknown) = run(&tree, "./ci/run.sh\n", &[("SRC", "sub")]);
    assert_eq!(
        calls[0].0.file.as_deref(),
        Some("sub/plain.df"),
        "{unknown:?}"
    );
}

#[test]
fn what_cannot_be_read_is_opaque() {
    let (_, unknown) = run(
        &[],
        "cd $SOMEWHERE\n./build.sh\n. ./ci/$WHICH\ncd\nbash \"$SCRIPT\"\n",
        &[],
    );
    assert_eq!(unknown.len(), 3, "{unknown:?}");
    assert!(
        unknown[2].contains("a script whose name is not known here"),
        "{unknown:?}"
    );
    assert!(
        unknown[0].contains(".gitlab-ci.yml:11: runs `./build.sh` from a directory not known here"),
        "{unknown:?}"
    );
    let tree = [("ci/a.sh", "docker build -f a.df .\n"), ("ci/b.sh", "x\n")];
    let (calls, unknown) = run(&tree, "./ci/$WHICH.sh\n. ci/$W.sh\n", &[]);
    assert_eq!(calls.len(), 1, "every file the pattern names is read");
    assert_eq!(
        unknown.len(),
        1,
        "a sourced pattern may set anything: {unknown:?}"
    );
    let (_, unknown) = run(&[("a.sh", "./a.sh\n. ./a.sh\n")], "./a.sh\n", &[]);
    assert!(
        unknown.is_empty(),
        "a script is not read inside itself: {unknown:?}"
    );
}
