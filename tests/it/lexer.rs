//! The Dockerfile lexer against BuildKit's own parser (PyPI's `dockerfile` wraps the Go
//! parser; test.sh installs it as `dockerfile-oracle`).

use serde_json::Value;

use crate::fixture::require_tool;

/// Hand-picked cases (each a whole Dockerfile).
const LEXER_CASES: &[&str] = &[
    "FROM a\n\n  # c\nRUN a \\\n  # inner\n\n  b\nENV A=1 B=\"x y\"\nARG X=\"q r\" Y\nCOPY --chown=\"a b\" --link x y\n",
    "# escape=`\nFROM a\nRUN x `\n y\nCOPY a\\b c\n",
    "#syntax=docker/dockerfile:1\n# escape=`\n\nFROM a\nRUN x `\n y\n",
    "\n# escape=`\nFROM a\nRUN x `\n y\n",
    "# unknown=1\n# escape=`\nFROM a\nRUN x `\n y\n",
    "FROM a\nRUN cat <<EOF > x && cat <<-'E2' >y\nbody\nCOPY no way\nEOF\n\tb2\n\tE2\nRUN echo \"<<NO\"\n",
    "FROM a\nCOPY <<one <<\"two\" /d/\n1\none\n2\ntwo\nCOPY 2<<x /y\nz\nx\n",
    "FROM a\nCOPY -- --x y\nCOPY ['a'] y\nCOPY [\"a\",\"b\"]   \nCOPY [\"a\", \"b\"] trailing\n",
    "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nARG TARGETOS TARGETARCH\nRUN --mount=type=cache,target=/root/.cache \\\n    --mount=type=bind,source=.,target=/src \\\n    go build ./...\nFROM scratch\nCOPY --from=build /out /\n",
    "FROM a\nLABEL x=<<EOF\nCOPY a b\n",
    "FROM a\r\nCOPY x y\r\nRUN a \\\r\n b\r\n",
    "\u{feff}FROM a\nADD --checksum=sha256:abc https://x/y /z\nADD --keep-git-dir=true git@github.com:a/b.git /c\n",
    "FROM a\nRUN echo \\\n\nCOPY a b\n",
    "FROM a\nRUN <<-EOT bash\n\techo hi\n\tEOT\nCOPY x y\n",
    "FROM a\nONBUILD COPY . /app\nHEALTHCHECK --interval=5s CMD true\nSHELL [\"/bin/sh\", \"-c\"]\n",
    "  FROM   a   AS   b  \n\tCOPY\t--from=b\t/x\t/y\n",
    "FROM a\nRUN echo '<<EOF'\nRUN x \\\n# comment \\\n y\n",
    "FROM a\nCOPY --chmod=755 --parents --exclude=*.md ./a/ ./b/ /dst/\n",
    "FROM a\nRUN \"<<EOF\"\nCOPY x y\n",
    "FROM a\nRUN <<EOF\nEOF\nCOPY x y\n",
];

/// Instruction fragments for generated Dockerfiles (every combination is valid).
const FRAGMENTS: &[&str] = &[
    "RUN apt-get update \\\n    && apt-get install -y gcc\n",
    "RUN a \\\n  # a comment inside\n\n  b\n",
    "COPY --chown=1:1 src/ /src/\n",
    "COPY [\"a b\", \"/dst/\"]\n",
    "ADD --link https://example.com/a.tgz /a\n",
    "COPY <<EOF /etc/conf\nline one\nRUN not an instruction\nEOF\n",
    "RUN <<-END sh\n\techo \"<<NOT\"\n\tEND\n",
    "ARG VERSION=1.2 OTHER\n",
    "ENV PATH=/opt/bin:$PATH LANG=C.UTF-8\n",
    "ENV OLD style value\n",
    "# just a comment\n",
    "\n",
    "   \n",
    "WORKDIR /src\n",
    "RUN --mount=type=bind,source=req.txt,target=/r pip install -r /r\n",
    "COPY --from=builder /out/bin /usr/local/bin/\n",
    "RUN echo hi > /x \\\n\t&& cat /x\n",
    "CMD [\"sh\", \"-c\", \"echo done\"]\n",
    "LABEL a=b \\\n      c=d\n",
    "COPY <<A <<B /two/\nfirst\nA\nsecond\nB\n",
    "RUN cat <<'Q' > /q\n$NOT_EXPANDED\nQ\n",
    "USER 1000:1000\n",
];

/// A small deterministic generator (no randomness crate needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap_or(0)
    }
}

fn generated_cases(count: usize) -> Vec<String> {
    let mut rng = Lcg(0x00d0_c6e4);
    (0..count)
        .map(|_| {
            let mut text = String::new();
            if rng.next(4) == 0 {
                text.push_str("# syntax=docker/dockerfile:1\n");
            }
            text.push_str(
                [
                    "FROM debian:12 AS builder\n",
                    "FROM alpine\n",
                    "ARG B=x\nFROM $B\n",
                ][rng.next(3)],
            );
            for _ in 0..rng.next(12) + 1 {
                text.push_str(FRAGMENTS[rng.next(FRAGMENTS.len())]);
            }
            text
        })
        .collect()
}

#[test]
#[ignore = "needs dockerfile-oracle"]
fn dockerfile_lexer_agrees_with_buildkit() {
    let oracle = require_tool("dockerfile-oracle");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cases: Vec<String> = LEXER_CASES.iter().map(|s| (*s).to_owned()).collect();
    cases.extend(generated_cases(300));
    let mut paths = Vec::new();
    for (i, text) in cases.iter().enumerate() {
        let p = dir.path().join(format!("{i}.Dockerfile"));
        std::fs::write(&p, text).expect("write");
        paths.push(p);
    }
    let out = std::process::Command::new(oracle)
        .args(&paths)
        .output()
        .expect("run the oracle");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle JSON"))
        .collect();
    assert_eq!(results.len(), cases.len());
    for (text, want) in cases.iter().zip(&results) {
        let got = dockguard::parts::lex(text);
        if let Some(err) = want.get("error") {
            assert!(
                !got.warnings.is_empty(),
                "BuildKit rejects this ({err}) but dockguard saw no problem:\n{text}"
            );
            continue;
        }
        let want = want["instructions"].as_array().expect("instructions");
        let summary = |cmd: &str, start: usize, end: usize| format!("{cmd} {start}-{end}");
        let got_lines: Vec<String> = got
            .instructions
            .iter()
            .map(|i| summary(&i.cmd, i.start_line, i.end_line))
            .collect();
        let want_lines: Vec<String> = want
            .iter()
            .map(|i| {
                summary(
                    i["cmd"].as_str().unwrap_or_default(),
                    usize::try_from(i["start_line"].as_u64().unwrap_or(0)).unwrap_or(0),
                    usize::try_from(i["end_line"].as_u64().unwrap_or(0)).unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(got_lines, want_lines, "instructions differ for:\n{text}");
        for (g, w) in got.instructions.iter().zip(want) {
            let ctx = format!("{} at line {} of:\n{text}", g.cmd, g.start_line);
            assert_eq!(
                g.flags,
                crate::fixture::strings(&w["flags"]),
                "flags of {ctx}"
            );
            let heredocs: Vec<(String, String)> = w["heredocs"]
                .as_array()
                .expect("heredocs")
                .iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap_or_default().to_owned(),
                        h["content"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let got_docs: Vec<(String, String)> = g
                .heredocs
                .iter()
                .map(|h| (h.name.clone(), h.content.clone()))
                .collect();
            assert_eq!(got_docs, heredocs, "heredocs of {ctx}");
            if matches!(g.cmd.as_str(), "from" | "copy" | "add" | "arg") {
                assert_eq!(
                    g.args,
                    crate::fixture::strings(&w["value"]),
                    "arguments of {ctx}"
                );
                assert_eq!(g.json, w["json"] == true, "JSON form of {ctx}");
            }
        }
    }
}

#[test]
fn lexer_flags_what_buildkit_rejects() {
    for text in [
        "FROM a\nRUN <<EOF\nno terminator\n",
        "# escape=x\nFROM a\n",
        "# escape=`\n# escape=\\\nFROM a\n",
    ] {
        assert!(!dockguard::parts::lex(text).warnings.is_empty(), "{text}");
    }
}
