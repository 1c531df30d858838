//! Every command README.md and the book (`docs/src/*.md`) show is run by the tests, and
//! every link between them resolves, so the docs cannot drift from the code.
//!
//! Each fenced block of each file is read with its info string (`lang[,attr...]`):
//! - in a ` ```sh ` or ` ```console ` block (console: the `$ ` lines), every `dockguard …`
//!   invocation, wherever it stands (after `|`, `&&`, `<(`, inside `sh -c '…'`), is parsed
//!   by the real command line definition with its exact arguments: a flag the CLI does not
//!   have, or a missing value, fails here with clap's own message;
//! - the block then runs with bash (`-e -o pipefail`) in a fixture repository made for it
//!   ([`Play`]), with the dockguard under test first on PATH, and must succeed; a block
//!   that cannot run here says why in its info string, ` ```sh,no-run(needs a registry) `,
//!   and a block another test runs as a user would is listed in [`RUN_ELSEWHERE`]. The
//!   test prints how many blocks ran and which did not, past the harness's capture, so
//!   skips show in every log.
//!
//! The `dockguard …` code spans of the prose are parsed too: prose may name a command
//! without its required arguments (`dockguard copy`), but a flag or value it writes must
//! be one the CLI takes.
//!
//! `mdbook` is not installed here (no Debian package, and building it would add minutes
//! to ./test.sh), so the book is not built;
//! [`every_chapter_is_in_the_summary_and_every_link_resolves`] checks what a build would:
//! every file is a chapter and every link finds its heading.

mod markdown;
mod shell;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::error::ErrorKind;
use clap::Parser as _;
use dockguard::cli::Cli;

use crate::fixture::{dockguard_bin, git, hermetic, path_with, TestRepo};
pub(crate) use markdown::markdown_files;
use markdown::{anchors, blocks, inline_commands, links, Block};
use shell::{interpolated, invocations, shell_text};

/// Blocks another test runs as a user would (file, the block's first line, the test).
/// Each entry must match exactly one block, so a stale one fails.
const RUN_ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "cd your-project && path/to/dockguard/install.sh   # dockguard, and its pre-push hook in your-project",
        "install_script::the_readme_install_and_quick_start_commands_run_as_shown",
    ),
    (
        "README.md",
        "cd your-project",
        "install_script::the_readme_install_and_quick_start_commands_run_as_shown",
    ),
    (
        "README.md",
        "cd your-project && path/to/dockguard/install.sh",
        "install_script::the_readme_install_and_quick_start_commands_run_as_shown",
    ),
    (
        "docs/src/hook-managers.md",
        "echo 'dockguard hook pre-push \"$@\"' >> .husky/pre-push",
        "husky::five_plus_three_under_husky",
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Parses `dockguard ARGS` with the real command line definition: `Ok` for a command the
/// CLI accepts (or answers with help or the version), clap's message otherwise.
fn parse(args: &[String]) -> Result<(), String> {
    match Cli::try_parse_from(std::iter::once("dockguard".to_owned()).chain(args.iter().cloned())) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(e) => Err(e.render().to_string()),
    }
}

/// The repository a docs block runs in, shaped like the project the docs talk about: a
/// QEMU-like image (`tests/docker/dockerfiles/debian10.docker`), upstream `master` on a
/// real (bare, local) `origin`, the checked-out branch `feature` four commits ahead of it
/// and pushed with its upstream set, a tag `v1.2`, and `path/to/repo` leading to it.
/// The branch changes no image input, so every check answers "no rebuild" (exit 0).
struct Play {
    repo: TestRepo,
}

impl Play {
    fn new() -> Self {
        let repo = TestRepo::new();
        let base = repo.commit(
            "base",
            &[
                (
                    "tests/docker/dockerfiles/debian10.docker",
                    "FROM debian:10\nRUN true\n",
                ),
                ("src/main.c", "int main(void) { return 0; }\n"),
            ],
        );
        let origin = repo.bare_clone("origin.git");
        let dir = repo.path();
        git(
            dir,
            &["remote", "add", "origin", origin.to_str().expect("utf-8")],
        );
        git(dir, &["fetch", "-q", "origin"]);
        git(dir, &["remote", "set-head", "origin", "master"]);
        repo.switch_new("feature", base);
        for i in 0..4 {
            repo.commit(
                &format!("feature {i}"),
                &[("src/main.c", &format!("/* {i} */\n"))],
            );
        }
        git(dir, &["tag", "v1.2", "HEAD~1"]);
        git(dir, &["push", "-q", "-u", "origin", "feature"]);
        // The URL the docs' generic CI example fetches from, served by the local origin.
        git(
            dir,
            &[
                "config",
                &format!("url.{}.insteadOf", origin.display()),
                "https://gitlab.com/qemu-project/qemu.git",
            ],
        );
        std::fs::create_dir_all(dir.join("path/to")).expect("path/to");
        std::os::unix::fs::symlink(dir, dir.join("path/to/repo")).expect("path/to/repo");
        std::fs::write(dir.join(".git/info/exclude"), "/path/\n").expect("exclude");
        Play { repo }
    }

    /// Runs `script` with bash -e in the work tree, the dockguard under test first on PATH.
    fn run(&self, script: &str) -> (bool, String) {
        let bin = Path::new(dockguard_bin()).parent().expect("bin dir");
        let out = hermetic(&mut Command::new("bash"))
            .current_dir(self.repo.path())
            .env("PATH", path_with(&[bin]))
            .env("BRANCH", "feature")
            .args(["-e", "-o", "pipefail", "-c", script])
            .output()
            .expect("bash");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

/// Writes to the test binary's stderr past the test harness's capture (which takes only
/// `eprintln!`), so what did not run shows in every `./test.sh` log, not only on failure.
fn uncaptured(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The shell blocks of README and the book, with their shell text.
fn shell_blocks() -> Vec<(Block, String)> {
    markdown_files()
        .iter()
        .flat_map(|(name, text)| blocks(name, text))
        .filter_map(|b| shell_text(&b).map(|script| (b, script)))
        .collect()
}

#[test]
fn every_dockguard_command_the_blocks_show_parses() {
    let mut failures = Vec::new();
    let mut parsed = 0;
    for (block, script) in shell_blocks() {
        for args in invocations(&script) {
            parsed += 1;
            if let Err(e) = parse(&args) {
                let shown = args.join(" ");
                failures.push(format!("{}: `dockguard {shown}`:\n{e}", block.at()));
            }
        }
    }
    uncaptured(&format!(
        "docs: {parsed} dockguard commands in blocks parsed\n"
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(parsed >= 40, "{parsed} parsed");
}

#[test]
#[ignore = "needs graphviz (dot) and man-db (man)"]
fn every_block_the_docs_show_runs() {
    let mut elsewhere_used = vec![0; RUN_ELSEWHERE.len()];
    let mut ran = 0;
    let mut skipped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for (block, script) in shell_blocks() {
        let first = script.lines().next().unwrap_or("");
        if let Some(i) = RUN_ELSEWHERE
            .iter()
            .position(|(file, line, _)| *file == block.file && first == *line)
        {
            elsewhere_used[i] += 1;
            let reason = format!("run by {}", RUN_ELSEWHERE[i].2);
            skipped.entry(reason).or_default().push(block.at());
        } else if let Some(reason) = &block.no_run {
            skipped.entry(reason.clone()).or_default().push(block.at());
        } else {
            let (ok, out) = Play::new().run(&script);
            ran += 1;
            if !ok {
                failures.push(format!("{}: the block fails:\n{script}\n{out}", block.at()));
            }
        }
    }
    for (used, (file, line, test)) in elsewhere_used.iter().zip(RUN_ELSEWHERE) {
        if *used != 1 {
            failures.push(format!(
                "RUN_ELSEWHERE ({file}: {line:?}) matches {used} blocks, not 1"
            ));
        }
        let (module, name) = test.split_once("::").expect("module::test");
        let source = std::fs::read_to_string(root().join(format!("tests/it/{module}.rs")))
            .unwrap_or_default();
        if !source.contains(&format!("fn {name}()")) {
            failures.push(format!("RUN_ELSEWHERE names {test}, which is not a test"));
        }
    }
    let skips: usize = skipped.values().map(Vec::len).sum();
    let mut summary = format!("docs: {ran} blocks ran, {skips} did not:\n");
    for (reason, at) in &skipped {
        summary.push_str(&format!("  {reason}: {}\n", at.join(", ")));
    }
    uncaptured(&summary);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 8, "{ran} ran");
}

#[test]
fn every_dockguard_command_in_the_prose_parses() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, text) in markdown_files() {
        for span in inline_commands(&text) {
            for args in invocations(&interpolated(&span)) {
                count += 1;
                // Prose may name a command without the arguments it needs (`dockguard
                // copy`, `dockguard hook`); what it does write must be what the CLI takes.
                let argv = std::iter::once("dockguard".to_owned()).chain(args.iter().cloned());
                let Err(e) = Cli::try_parse_from(argv) else {
                    continue;
                };
                if !matches!(
                    e.kind(),
                    ErrorKind::DisplayHelp
                        | ErrorKind::DisplayVersion
                        | ErrorKind::MissingRequiredArgument
                        | ErrorKind::MissingSubcommand
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                ) {
                    failures.push(format!("{name}: `{span}`:\n{}", e.render()));
                }
            }
        }
    }
    uncaptured(&format!(
        "docs: {count} dockguard commands in the prose parsed\n"
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 50, "{count}");
}

#[test]
fn the_harness_reads_commands_as_a_shell_does() {
    let words = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        invocations(
            "dockguard check --format json   # for scripts\n\
             source <(dockguard completions bash)\n\
             X=1 dockguard ci --ref \"$BRANCH\" \\\n    --format json > out.json\n\
             docker run img sh -c 'git config x && dockguard ci --provider generic'\n\
             dockguard images --format dot | dot -Tsvg > images.svg\n\
             dockguard slug '🐳'\n\
             echo 'dockguard hook pre-push \"$@\"' >> .husky/pre-push\n"
        ),
        vec![
            words(&["check", "--format", "json"]),
            words(&["completions", "bash"]),
            words(&["ci", "--ref", "$BRANCH", "--format", "json"]),
            words(&["ci", "--provider", "generic"]),
            words(&["images", "--format", "dot"]),
            words(&["slug", "🐳"]),
        ]
    );
    // What the CLI refuses is reported with clap's message.
    let err = parse(&words(&["check", "--no-such-flag"])).expect_err("unknown flag");
    assert!(
        err.contains("unexpected argument '--no-such-flag'"),
        "{err}"
    );
    assert!(
        parse(&words(&["tag", "--image"])).is_err(),
        "a missing value"
    );
    assert!(parse(&words(&["check", "--help"])).is_ok());
    // A console block's commands are its `$ ` lines.
    let block = Block {
        file: "x.md".into(),
        line: 1,
        lang: "console".into(),
        no_run: None,
        text: "$ dockguard slug v1 \\\n> --gitlab\nv1\n".into(),
    };
    assert_eq!(
        shell_text(&block).as_deref(),
        Some("dockguard slug v1 \\\n--gitlab\n")
    );
    // Info strings: the language, and why a block does not run.
    let b = blocks(
        "x.md",
        "```sh,no-run(needs a registry)\ndocker push x\n```\n",
    );
    assert_eq!(
        (b[0].lang.as_str(), b[0].no_run.as_deref()),
        ("sh", Some("needs a registry"))
    );
}

#[test]
fn every_chapter_is_in_the_summary_and_every_link_resolves() {
    let files = markdown_files();
    let by_path: BTreeMap<PathBuf, &str> = files
        .iter()
        .map(|(n, t)| (root().join(n), t.as_str()))
        .collect();
    let mut broken = Vec::new();
    for (name, text) in &files {
        let dir = root().join(name).parent().expect("dir").to_path_buf();
        for target in links(text) {
            if target.starts_with("https://") || target.starts_with("http://") {
                continue;
            }
            let (path, frag) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                root().join(name)
            } else {
                dir.join(path)
            };
            let file = std::fs::canonicalize(&file).unwrap_or(file);
            if !file.exists() {
                broken.push(format!("{name}: ({target}): no file {}", file.display()));
                continue;
            }
            if frag.is_empty() {
                continue;
            }
            match by_path.get(&file) {
                Some(t) if anchors(t).contains(frag) => {}
                Some(_) => broken.push(format!("{name}: ({target}): no such heading")),
                None => broken.push(format!(
                    "{name}: ({target}): an anchor in a file the docs do not check"
                )),
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));

    // Every chapter is in SUMMARY.md, once, and SUMMARY.md names no other file.
    let summary = std::fs::read_to_string(root().join("docs/src/SUMMARY.md")).expect("SUMMARY.md");
    let listed: Vec<String> = links(&summary);
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a chapter listed twice: {listed:?}"
    );
    let chapters: BTreeSet<String> = files
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("docs/src/"))
        .filter(|n| *n != "SUMMARY.md")
        .map(str::to_owned)
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        chapters
    );
}

#[test]
fn readme_shows_the_test_command_ci_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let block = blocks("README.md", &readme)
        .into_iter()
        .find(|b| b.text.lines().any(|l| l.starts_with("./install.sh")))
        .expect("README shows the set-up commands");
    let test_command = block
        .text
        .lines()
        .find(|l| l.starts_with("./test.sh"))
        .and_then(|l| l.split(" #").next())
        .map(str::trim_end)
        .expect("README shows the test command");
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l == test_command),
        ".ci/run does not run README's test command `{test_command}`:\n{ci}"
    );
}
