use super::*;

fn sources(p: &Parsed) -> Vec<String> {
    let mut seen = Vec::new();
    for s in &p.sources {
        let d = s.display();
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    seen
}

/// The sources a build stopping at `stop` reads, as `builders` read it.
fn read_as(text: &str, stop: Stop<'_>, builders: &[Semantics], declared: bool) -> Vec<String> {
    let p = parse(text);
    let mut out: Vec<String> = p
        .sources_for(stop, readers(builders, declared))
        .iter()
        .map(|s| s.display())
        .collect();
    out.sort();
    out.dedup();
    out
}

const BK: &[Semantics] = &[Semantics::BuildKit];
const V08: &[Semantics] = &[Semantics::BuildKitV08];
const LEGACY: &[Semantics] = &[Semantics::Legacy];

#[test]
fn stages_args_and_from() {
    let p = parse(
        "ARG BASE=qemu/debian10\nARG TAG\nFROM ${BASE}:latest AS build\nFROM build\nFROM --platform=$BUILDPLATFORM scratch AS x\nFROM other:$TAG\nFROM BUILD AS again\n",
    );
    assert_eq!(p.stages.len(), 5);
    assert_eq!(p.stages[0].name.as_deref(), Some("build"));
    assert_eq!(p.stages[1].base, Base::Stage(0));
    assert_eq!(p.stages[2].base, Base::Scratch);
    assert_eq!(
        p.stages[4].base,
        Base::Stage(0),
        "stage names are case-insensitive"
    );
    assert_eq!(p.refs[0].expanded.as_deref(), Some("qemu/debian10:latest"));
    assert_eq!(p.refs[1].written, "other:$TAG");
    assert_eq!(p.refs[1].expanded, None, "a meta ARG without a default");
    assert_eq!(p.refs[1].readers, readers(&Semantics::ALL, false));
    assert_eq!(
        p.refs[2].expanded.as_deref(),
        Some("other:"),
        "declared builds that do not pass TAG"
    );
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert_eq!(p.args, vec!["BASE", "TAG"]);
}

#[test]
fn copy_sources_and_dependencies() {
    let p = parse(
        "FROM a AS b\nARG D=dir\nENV F=file\nCOPY --chown=1:1 --link ./x/../y /$D/*.sh [a-c]?.txt /dst/\nCOPY [\"json src\", \"${F}\", \"/d\"]\nCOPY --from=b /a /b\nCOPY --from=0 /a /b\nCOPY --from=qemu/helper:1 /a /b\nADD https://example.com/x.tgz git@github.com:a/b.git local.tgz /\nCOPY <<EOF <<-two /d/\nx\nEOF\ny\ntwo\nCOPY $HOME/x ../../../etc /d\n",
    );
    assert_eq!(
        sources(&p),
        vec![
            "y",
            "dir/*.sh",
            "[a-c]?.txt",
            "json src",
            "file",
            "local.tgz",
            "*/x",
            "etc"
        ]
    );
    assert_eq!(p.inline, 2);
    assert_eq!(p.remote.len(), 2);
    let refs: Vec<_> = p.refs.iter().map(|r| (r.written.as_str(), r.via)).collect();
    assert_eq!(
        refs,
        vec![("a", Via::From), ("qemu/helper:1", Via::CopyFrom)]
    );
}

#[test]
fn run_mounts_and_heredoc_bodies() {
    let p = parse(
        "FROM a\nRUN --mount=type=bind,source=req.txt,target=/r pip install\nRUN --mount=target=/src make\nRUN --mount=type=cache,target=/c --mount=type=bind,from=tools,source=/x,target=/y true\nRUN <<EOF\nCOPY not/a/source /x\nEOF\n",
    );
    assert_eq!(sources(&p), vec!["req.txt", "."]);
    assert_eq!(p.refs.len(), 2);
    assert_eq!(p.refs[1].via, Via::MountFrom);
    let p = parse("FROM a\nARG T=qemu/tools\nRUN --mount=type=bind,from=$T,target=/t x\n");
    assert_eq!(p.refs[1].written, "$T");
    assert_eq!(p.refs[1].expanded.as_deref(), Some("qemu/tools"));
    assert!(p.sources.is_empty());
}

#[test]
fn stage_env_inheritance_and_windows_escape() {
    let p = parse("FROM a AS one\nENV D=src\nFROM one\nCOPY $D/x /\n");
    assert_eq!(sources(&p), vec!["src/x"]);
    let p = parse("# escape=`\nFROM mcr.microsoft.com/windows\nCOPY .\\app\\bin C:\\app\n");
    assert_eq!(sources(&p), vec!["app/bin"]);
}

#[test]
fn args_cross_stages_in_buildkit_only() {
    // moby/buildkit#1977: a stage's ARGs are inherited by stages built FROM it.
    let text = "FROM scratch AS one\nARG D=src\nFROM one\nCOPY $D/x /\n";
    assert_eq!(read_as(text, Stop::Last, BK, false), vec!["src/x"]);
    assert_eq!(read_as(text, Stop::Last, V08, false), vec!["src/x"]);
    assert_eq!(
        read_as(text, Stop::Last, LEGACY, false),
        vec!["x"],
        "empty in the legacy builder (nothing else defines D on scratch)"
    );
    let outside = "FROM img AS one\nARG D=src\nFROM one\nCOPY $D/x /\n";
    assert_eq!(
        read_as(outside, Stop::Last, LEGACY, false),
        vec!["*/x"],
        "the base image may define D"
    );
}

#[test]
fn env_assignments_see_the_values_from_before_the_instruction() {
    let text = "FROM scratch\nENV A=one\nENV A=two B=$A\nCOPY $B /\n";
    for b in [BK, V08, LEGACY] {
        assert_eq!(read_as(text, Stop::Last, b, false), vec!["one"], "{b:?}");
    }
}

#[test]
fn arg_assignments_differ_between_builders() {
    let text = "FROM scratch\nARG A=one\nARG A=two B=$A\nCOPY $B /\n";
    assert_eq!(read_as(text, Stop::Last, BK, false), vec!["two"]);
    assert_eq!(read_as(text, Stop::Last, V08, false), vec!["one"]);
    assert_eq!(read_as(text, Stop::Last, LEGACY, false), vec!["one"]);
    let all = read_as(text, Stop::Last, &Semantics::ALL, false);
    assert_eq!(all, vec!["one", "two"], "a build of unknown builder: both");
    // Before the first FROM, both BuildKits assign one word at a time.
    let p = parse("ARG A=one\nARG A=two B=$A\nFROM img:$B\n");
    let refs: Vec<(Option<&str>, Readers)> = p
        .refs
        .iter()
        .map(|r| (r.expanded.as_deref(), r.readers))
        .collect();
    let bk = readers(&[Semantics::BuildKit, Semantics::BuildKitV08], false)
        | readers(&[Semantics::BuildKit, Semantics::BuildKitV08], true);
    let legacy = readers(LEGACY, false) | readers(LEGACY, true);
    assert_eq!(refs, vec![(Some("img:two"), bk), (Some("img:one"), legacy)]);
}

#[test]
fn env_and_arg_of_one_name() {
    // BuildKit: the later instruction wins; the legacy builder: ENV always wins.
    let text = "FROM scratch\nENV D=env\nARG D=arg\nCOPY $D /\n";
    assert_eq!(read_as(text, Stop::Last, BK, false), vec!["arg"]);
    assert_eq!(read_as(text, Stop::Last, V08, false), vec!["arg"]);
    assert_eq!(read_as(text, Stop::Last, LEGACY, false), vec!["env"]);
    let text = "FROM scratch\nARG D=arg\nENV D=env\nCOPY $D /\n";
    assert_eq!(
        read_as(text, Stop::Last, &Semantics::ALL, false),
        vec!["env"]
    );
    // A --build-arg overrides the ARG, and so the ENV in BuildKit only.
    let text = "FROM scratch\nENV D=env\nARG D\nCOPY $D /\n";
    let args = HashMap::from([("D".to_owned(), Some("passed".to_owned()))]);
    let p = parse_with_args(text, &args);
    let got = |b: &[Semantics]| -> Vec<String> {
        p.sources_for(Stop::Last, readers(b, true))
            .iter()
            .map(|s| s.display())
            .collect()
    };
    assert_eq!(got(BK), vec!["passed"]);
    assert_eq!(got(LEGACY), vec!["env"]);
}

#[test]
fn declared_build_args_decide_args_without_a_default() {
    let text = "FROM scratch\nARG V\nARG W=dflt\nCOPY app-$V.tgz $W /\n";
    let all = &Semantics::ALL;
    assert_eq!(
        read_as(text, Stop::Last, all, false),
        vec!["app-*.tgz", "dflt"],
        "nobody declares the build: any --build-arg may be passed"
    );
    assert_eq!(
        read_as(text, Stop::Last, all, true),
        vec!["app-.tgz", "dflt"],
        "a declared build that passes none"
    );
    let args = HashMap::from([
        ("V".to_owned(), Some("1".to_owned())),
        ("W".to_owned(), None),
    ]);
    let p = parse_with_args(text, &args);
    let got: Vec<String> = p
        .sources_for(Stop::Last, readers(all, true))
        .iter()
        .map(|s| s.display())
        .collect();
    assert_eq!(got, vec!["app-1.tgz", "*"], "W's value is not known");
    // Platform arguments are BuildKit's own: never known.
    let p = parse("FROM scratch\nARG TARGETARCH\nCOPY bin/$TARGETARCH /\n");
    assert_eq!(
        p.sources_for(Stop::Last, readers(all, true))[0].display(),
        "bin/*"
    );
}

#[test]
fn a_build_reads_the_stages_its_target_needs() {
    let text = "FROM scratch AS test\nCOPY tests /t\nFROM scratch AS build\nCOPY src /s\nFROM build AS more\nCOPY extra /e\nFROM scratch\nCOPY --from=more /s /s\nRUN --mount=type=bind,from=test,target=/x true\nCOPY main /m\nFROM scratch AS unused\nCOPY junk /j\n";
    let all = &Semantics::ALL;
    assert_eq!(
        read_as(text, Stop::Last, all, true),
        vec!["junk"],
        "the last stage"
    );
    assert_eq!(
        read_as(text, Stop::Named("more"), all, true),
        vec!["extra", "src"]
    );
    let p = parse(text);
    let needed = p.needed(Stop::Named(""), EVERY);
    assert!(needed.iter().all(|n| *n == EVERY), "no such stage: all");
    assert_eq!(p.finals(Stop::Named("nope")), None);
    let text = "FROM scratch AS a\nCOPY a /a\nFROM scratch AS b\nCOPY b /b\nFROM scratch\nCOPY --from=b /b /b\nRUN --mount=type=bind,from=a,target=/x true\nCOPY main /m\n";
    assert_eq!(read_as(text, Stop::Last, all, true), vec!["a", "b", "main"]);
    assert_eq!(read_as(text, Stop::Any, all, true), vec!["a", "b", "main"]);
    // A `--from` naming a later stage is that stage (BuildKit resolves the whole graph).
    let text = "FROM scratch AS first\nCOPY --from=later /a /a\nFROM scratch AS later\nCOPY l /l\nFROM scratch\nCOPY --from=first /a /a\n";
    assert_eq!(read_as(text, Stop::Last, all, true), vec!["l"]);
}

#[test]
fn parents_in_unused_stages_do_not_count() {
    let p = parse("FROM qemu/base AS dev\nFROM debian:12\nCOPY --from=qemu/tools /t /t\n");
    let refs: Vec<&str> = p
        .refs_for(Stop::Last, EVERY)
        .iter()
        .map(|r| r.written.as_str())
        .collect();
    assert_eq!(refs, vec!["debian:12", "qemu/tools"]);
    assert_eq!(p.refs_for(Stop::Any, EVERY).len(), 3);
}

#[test]
fn onbuild_sources_are_for_the_children() {
    let text = "FROM scratch AS base\nENV D=dir\nONBUILD COPY trig/$D /t\nONBUILD RUN --mount=type=bind,source=m,target=/m true\nONBUILD COPY --from=x /a /b\nFROM base\nCOPY x /\n";
    let p = parse(text);
    let trig: Vec<String> = p
        .onbuild_for(Stop::Named("base"), EVERY)
        .iter()
        .map(|s| s.display())
        .collect();
    assert_eq!(trig, vec!["trig/dir", "m"]);
    assert!(p.onbuild_for(Stop::Last, EVERY).is_empty());
    // In the same file: BuildKit v0.8 and the legacy builder run them, BuildKit not.
    assert_eq!(read_as(text, Stop::Last, BK, false), vec!["x"]);
    assert_eq!(
        read_as(text, Stop::Last, V08, false),
        vec!["m", "trig/dir", "x"]
    );
    assert_eq!(
        read_as(text, Stop::Last, LEGACY, false),
        vec!["m", "trig/dir", "x"]
    );
    assert!(p.warnings.iter().any(|w| w.contains("ONBUILD COPY --from")));
    // An ARG is not in the child's environment: its value there is not known.
    let p = parse("FROM scratch\nARG D=dir\nONBUILD COPY $D/x /\n");
    assert_eq!(p.onbuild[0].display(), "*/x");
}

#[test]
fn a_scratch_stage_has_no_other_variables() {
    assert_eq!(
        read_as(
            "FROM scratch\nCOPY $HOME/x /\n",
            Stop::Last,
            &Semantics::ALL,
            false
        ),
        vec!["x"]
    );
    assert_eq!(
        read_as(
            "FROM img\nCOPY $HOME/x /\n",
            Stop::Last,
            &Semantics::ALL,
            false
        ),
        vec!["*/x"]
    );
}

#[test]
fn wildcards() {
    // (`\*` in a Dockerfile is a `*` once the shell escape is removed: a wildcard too.)
    let p = parse("FROM a\nCOPY package.json yarn.lock* [ab] \"a\\\\?\" ./\n");
    let w: Vec<bool> = p.sources.iter().map(Source::is_wildcard).collect();
    assert_eq!(w, vec![false, true, true, false]);
}

#[test]
fn clean_paths() {
    assert_eq!(clean("/a//b/./c/"), "a/b/c");
    assert_eq!(clean("../../x"), "x");
    assert_eq!(clean("a/../.."), "");
    assert_eq!(clean("."), "");
}

#[test]
fn odd_files_keep_stages_in_step() {
    // A FROM without an image makes no stage: the names of the others stay theirs.
    let p = parse("FROM\nFROM scratch AS b\nCOPY x /\nFROM b\nCOPY y /\n");
    assert_eq!(p.stages.len(), 2);
    assert_eq!(p.stages[0].name.as_deref(), Some("b"));
    assert_eq!(p.stages[1].base, Base::Stage(0));
    // Sources before any FROM belong to no stage a build makes (BuildKit rejects them).
    let p = parse("COPY a /\n");
    assert!(p.sources_for(Stop::Any, EVERY).is_empty());
    for text in [
        "",
        "ONBUILD",
        "ONBUILD COPY",
        "FROM a\nONBUILD ONBUILD COPY x /\n",
        "ARG\nFROM $\n",
    ] {
        let _ = parse(text);
    }
}

#[test]
fn reading_again_with_declared_arguments_only_when_it_can_differ() {
    // No ARG without a default: the declared readings are the guessed ones.
    for text in [
        "FROM scratch AS a\nARG D=x\nCOPY $D /\nFROM a\nCOPY --from=a /x /y\nONBUILD COPY o /\n",
        "ARG TARGETARCH\nFROM img:$TARGETARCH\nCOPY bin/$TARGETARCH /\n",
    ] {
        let lexed = lex(text);
        let mut u = Union::default();
        for s in Semantics::ALL {
            reading::read(&lexed, s, None, reader(s, false), &mut u);
        }
        let none = HashMap::new();
        for s in Semantics::ALL {
            reading::read(&lexed, s, Some(&none), reader(s, true), &mut u);
        }
        assert_eq!(parse(text), u.finish(&lexed), "{text:?}");
    }
}
