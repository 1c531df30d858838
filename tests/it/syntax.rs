//! Current Dockerfile syntax (BuildKit's `frontend/dockerfile`): `COPY --parents` with `**`,
//! `--exclude`, `ADD --checksum` / `--keep-git-dir`, `--link`, heredocs; and what cannot
//! be judged (remote ADD sources, build-arg overrides) is said by `check` and `tag`.

use crate::contexts::{affected, branch_pair, check};
use crate::trees::Edit;

fn counts(dockerfile: &str, files: &[(&str, &str)], changed: &str) -> bool {
    let mut base = vec![Edit::File("docker/Dockerfile", dockerfile)];
    base.extend(files.iter().map(|(p, c)| Edit::File(p, c)));
    let (r, _, _) = branch_pair(&base, &[Edit::File(changed, "changed\n")]);
    let v = check(&r, "feature");
    v["rebuild"].as_bool().unwrap_or(false)
}

#[test]
fn copy_parents_double_star_spans_directories() {
    // BuildKit: with --parents the source is an include pattern (`**` any directories),
    // and `/./` is the pivot (the part before it is the source root).
    let df =
        "FROM debian:12\nCOPY --parents src/**/*.h /inc/\nCOPY --parents ./gen/./out/x.txt /\n";
    let files = [
        ("docker/src/a/b/c/x.h", "x"),
        ("docker/src/y.h", "y"),
        ("docker/gen/out/x.txt", "g"),
        ("docker/other/z.h", "z"),
    ];
    assert!(counts(df, &files, "docker/src/a/b/c/x.h"));
    assert!(counts(df, &files, "docker/src/y.h"));
    assert!(counts(df, &files, "docker/gen/out/x.txt"));
    assert!(!counts(df, &files, "docker/other/z.h"));
}

#[test]
fn exclude_link_and_heredocs_are_read_safely() {
    // --exclude is not applied: more files count, never fewer.
    let df = "FROM debian:12\nCOPY --link --exclude=*.md docs /docs\nCOPY <<EOF /etc/motd\nCOPY not/a/source /\nEOF\nRUN <<SH\nADD also/not /\nSH\n";
    let files = [
        ("docker/docs/a.md", "a"),
        ("docker/docs/b.txt", "b"),
        ("docker/not/a/source", "n"),
        ("docker/also/not", "n"),
    ];
    assert!(counts(df, &files, "docker/docs/a.md"));
    assert!(counts(df, &files, "docker/docs/b.txt"));
    assert!(
        !counts(df, &files, "docker/not/a/source"),
        "a heredoc body is not an instruction"
    );
    assert!(!counts(df, &files, "docker/also/not"));
}

#[test]
fn remote_sources_and_build_args_are_warned_about_in_check_and_tag() {
    let df = "FROM debian:12\nARG SRC=src\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/x.tgz /\nADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.13 /buildkit\nADD git@github.com:moby/buildkit.git /b2\nADD deploy@build.example.com:repo /b3\nCOPY $SRC /src\n";
    let base = [
        Edit::File("docker/Dockerfile", df),
        Edit::File("docker/src/a", "a\n"),
    ];
    let (r, _, _) = branch_pair(&base, &[Edit::File("docker/src/a", "b\n")]);
    let v = check(&r, "feature");
    assert_eq!(affected(&v), vec!["docker"]);
    let w = v["targets"][0]["warnings"].to_string();
    for want in [
        "image `docker` (docker/Dockerfile): line 3: ADD https://example.com/x.tgz is fetched at build time",
        "line 4: ADD https://github.com/moby/buildkit.git#v0.13",
        "line 5: ADD git@github.com:moby/buildkit.git",
        "line 6: ADD deploy@build.example.com:repo",
        "line 7: COPY uses ARG SRC",
        "--build-arg SRC=",
    ] {
        assert!(w.contains(want), "want {want:?} in {w}");
    }
    let human = r.dockguard(&["check", "feature"]);
    assert!(
        human.stdout.contains("warning: image `docker`"),
        "{}",
        human.stdout
    );
    let run = r.dockguard(&["tag", "--image", "docker", "feature"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 3: ADD https://example.com/x.tgz"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("line 7: COPY uses ARG SRC"),
        "{}",
        run.stderr
    );
    // An image built on it inherits the warning in `tag`.
    let child = [
        Edit::File(".dockguard.toml", "[images]\nparent = [\"local/{name}\"]\n"),
        Edit::File("docker/Dockerfile", df),
        Edit::File("child/Dockerfile", "FROM local/docker\n"),
    ];
    let (r, _, _) = branch_pair(
        &child,
        &[Edit::File("child/Dockerfile", "FROM local/docker:1\n")],
    );
    let run = r.dockguard(&["tag", "--image", "child", "feature"]);
    assert!(run.stderr.contains("image `docker`"), "{}", run.stderr);
}
