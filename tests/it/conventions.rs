//! The command-line conventions people expect of a tool like cargo or ripgrep: `--color`
//! with NO_COLOR / CLICOLOR / CLICOLOR_FORCE, colour in the hook's stderr, and `-q` / `-v`
//! on every command.

use clap::CommandFactory;
use dockguard::cli::Cli;

use crate::fixture::{with_master, TestRepo};
use crate::server::dockguard_stdin;

const ESC: &str = "\u{1b}[";
const ZERO: &str = "0000000000000000000000000000000000000000";

/// A repository on a branch that needs no rebuild.
fn clean() -> TestRepo {
    let (r, base) = with_master();
    r.switch_new("clean", base);
    r.commit("docs", &[("README", "hi\n")]);
    r
}

#[test]
fn every_command_takes_color_quiet_and_verbose() {
    let mut root = Cli::command();
    root.build();
    let mut missing = Vec::new();
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{path} {}", sub.get_name());
            for id in ["color", "quiet", "verbose"] {
                if !sub.get_arguments().any(|a| a.get_id() == id) {
                    missing.push(format!("{name} --{id}"));
                }
            }
            walk(sub, &name, missing);
        }
    }
    walk(&root, "dockguard", &mut missing);
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn color_follows_the_flag_then_no_color_clicolor_force_and_clicolor() {
    let r = clean();
    // The hermetic environment sets NO_COLOR=1; "" is unset as far as the convention goes.
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let run = r.dockguard_env(&all, env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout.contains(ESC)
    };
    // Not a terminal: plain by default.
    assert!(!run(&[], &[("NO_COLOR", "")]));
    assert!(
        run(&["--color", "always"], &[]),
        "--color always beats NO_COLOR"
    );
    assert!(run(&["--color=always"], &[("NO_COLOR", "")]));
    assert!(
        !run(
            &["--color", "never"],
            &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]
        ),
        "--color never beats CLICOLOR_FORCE"
    );
    assert!(run(&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]));
    assert!(!run(&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "0")]));
    assert!(
        !run(&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
        "NO_COLOR wins over CLICOLOR_FORCE, as in cargo"
    );
    assert!(!run(&[], &[("NO_COLOR", ""), ("CLICOLOR", "0")]));
    // A global flag: before the subcommand too.
    let before = r.dockguard(&["--color", "always", "check"]);
    assert!(before.stdout.contains(ESC), "{}", before.stdout);
    // JSON is never coloured.
    let json = r.dockguard(&["check", "--format", "json", "--color", "always"]);
    assert!(!json.stdout.contains(ESC), "{}", json.stdout);
    json.json();
    // A bad value is a usage error naming the choices.
    let bad = r.dockguard(&["check", "--color", "sometimes"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("always"), "{}", bad.stderr);
}

#[test]
fn the_hook_colours_its_stderr_only_when_asked() {
    let r = clean();
    let tip = r.head();
    let input = format!("refs/heads/clean {tip} refs/heads/clean {ZERO}\n");
    let hook = |args: &[&str], env: &[(&str, &str)], input: &str| {
        let mut all = vec!["hook", "pre-push"];
        all.extend_from_slice(args);
        all.extend(["origin", "/nonexistent.git"]);
        dockguard_stdin(r.path(), &all, env, input.as_bytes())
    };
    let plain = hook(&[], &[], &input).ok();
    assert!(!plain.stderr.contains(ESC), "{}", plain.stderr);
    assert!(plain.stderr.contains("dockguard: no image rebuild needed"));

    let forced = hook(&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")], &input).ok();
    assert!(
        forced.stderr.contains(&format!(
            "dockguard: {ESC}32mno image rebuild needed{ESC}0m"
        )),
        "{:?}",
        forced.stderr
    );
    // Errors too, on the hook's stderr and in main's error line.
    let broken = hook(&["--color", "always"], &[], "x\n");
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(
        broken
            .stderr
            .contains(&format!("dockguard: {ESC}31m{ESC}1merror:{ESC}0m")),
        "{:?}",
        broken.stderr
    );
    let outside = crate::fixture::dockguard(
        crate::fixture::empty_home(),
        &["--color", "always", "check"],
        &[],
    );
    assert_eq!(outside.code, 2, "{}", outside.stderr);
    assert!(
        outside.stderr.contains(&format!("{ESC}31m")),
        "{:?}",
        outside.stderr
    );
}

#[test]
fn quiet_and_verbose_reach_every_command() {
    let r = clean();
    // check -q: only the conclusion when nothing needs a rebuild.
    let normal = r.dockguard(&["check"]);
    assert!(normal.stdout.lines().count() > 2, "{}", normal.stdout);
    for quiet in [
        r.dockguard(&["check", "-q"]),
        r.dockguard(&["-q", "check"]),
        r.dockguard(&["check", "--quiet"]),
    ] {
        assert_eq!(quiet.code, 0, "{}", quiet.stderr);
        assert_eq!(
            quiet.stdout,
            "=> no container image needs a rebuild: nothing they are built from differs from upstream.\n"
        );
    }
    // A rebuild is still explained in full.
    r.commit("bump", &[("docker/Dockerfile", "FROM debian:13\n")]);
    let rebuild = r.dockguard(&["check", "-q"]);
    assert!(
        rebuild.stdout.contains("docker/Dockerfile"),
        "{}",
        rebuild.stdout
    );
    // The flag is the `verbosity` setting for every command: `status` shows where it came from.
    let status = r.dockguard(&["status", "-v"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains("verbosity"))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    assert!(line.contains("verbose") && line.contains("-v"), "{line}");
    // Every command accepts them (a usage error would exit 2 before doing anything).
    for args in [
        &["images", "-q"][..],
        &["images", "-v"],
        &["tag", "--image", "docker", "-q"],
        &["slug", "-v", "feature/x"],
        &["completions", "bash", "-q"],
    ] {
        let run = r.dockguard(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    }
    let both = r.dockguard(&["check", "-q", "-v"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
}

#[test]
fn man_pages_have_exit_status_environment_and_the_dir_in_the_synopsis() {
    let r = clean();
    let dir = r.scratch("man");
    let run = r.dockguard(&["man", "--out-dir", dir.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut pages = 0;
    for page in std::fs::read_dir(&dir).expect("dir").flatten() {
        let name = page.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(page.path()).expect("read");
        for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH SYNOPSIS"] {
            assert!(text.contains(section), "{name}: {section}");
        }
        let synopsis = text
            .split(".SH SYNOPSIS")
            .nth(1)
            .and_then(|s| s.split(".SH").next())
            .expect("synopsis");
        assert!(
            synopsis.contains(r"[\fB\-C\fR \fIDIR\fR]"),
            "{name}: {synopsis}"
        );
        for var in [
            "NO_COLOR",
            "CLICOLOR_FORCE",
            "DOCKGUARD_SKIP",
            "DOCKGUARD_POLICY",
        ] {
            assert!(
                text.contains(&format!(r"\fB{}\fR", var.replace('-', r"\-"))),
                "{name}: {var}"
            );
        }
        pages += 1;
    }
    assert!(pages > 10, "{pages}");
    // Each command's own exit codes, from its help.
    let check = std::fs::read_to_string(dir.join("dockguard-check.1")).expect("check page");
    let exit = check
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .expect("exit status");
    assert!(
        exit.contains(r"1  with \-\-exit\-code: a rebuild is needed"),
        "{exit}"
    );
    let main = r.dockguard(&["man"]);
    assert!(
        main.stdout
            .contains(r"dockguard push exits with git push's status."),
        "{}",
        main.stdout
    );
}

#[test]
fn toml_and_regex_errors_show_the_line_and_a_caret_under_what_the_user_wrote() {
    let r = clean();
    let check_with = |file: &str| {
        std::fs::write(r.path().join(".dockguard.toml"), file).expect("write");
        let run = r.dockguard(&["check"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        run.stderr
    };
    let toml = check_with("[match]\ninputs = [\"a/**\"\n");
    assert!(
        toml.contains("not valid TOML: unclosed array, expected `]` (line 2)\n"),
        "{toml}"
    );
    assert!(
        toml.contains(&format!(
            "\n    2 | inputs = [\"a/**\"\n      | {}^\n  hint: ",
            " ".repeat(16)
        )),
        "{toml}"
    );

    let regex = check_with("[match]\ninput_regex = [\"docs/(a|b\"]\n");
    assert!(
        regex.contains("`match.input_regex` regex \"docs/(a|b\" is not valid: unclosed group\n"),
        "{regex}"
    );
    assert!(regex.contains("\n    docs/(a|b\n         ^\n"), "{regex}");
    assert!(
        !regex.contains("(?s:"),
        "the rewritten pattern leaks: {regex}"
    );

    let rule = check_with("[[images.rule]]\ndockerfile = \"ci/(?P<name>[a-z+)\\\\.docker\"\n");
    assert!(rule.contains("unclosed character class\n"), "{rule}");
    assert!(
        rule.contains("\n    ci/(?P<name>[a-z+)\\.docker\n"),
        "{rule}"
    );
    assert!(!rule.contains("(?s:"), "{rule}");

    // What the file says is escaped line by line: a control character in it is shown,
    // not sent to the terminal, and cannot start a line of its own.
    let hostile = check_with("[match]\ninputs = [\"\u{1b}[31m\"\n");
    assert!(!hostile.contains('\u{1b}'), "{hostile:?}");
    assert!(
        hostile
            .lines()
            .all(|l| l.starts_with("dockguard: error:") || l.starts_with("  ")),
        "{hostile}"
    );
}

#[test]
fn push_passes_quiet_and_verbose_on_to_git_push() {
    let r = clean();
    let remote = r.bare_clone("remote.git");
    r.git(&["remote", "add", "dest", remote.to_str().expect("utf-8")]);
    // `git push -v` says "Pushing to URL"; without -v it does not.
    let plain = r.dockguard(&["push", "--dry-run", "dest", "HEAD:refs/heads/a"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(!plain.stderr.contains("Pushing to"), "{}", plain.stderr);
    for args in [
        &["push", "-v", "--dry-run", "dest", "HEAD:refs/heads/a"][..],
        &["-v", "push", "--dry-run", "dest", "HEAD:refs/heads/a"],
        &["push", "--dry-run", "-v", "dest", "HEAD:refs/heads/a"],
    ] {
        let run = r.dockguard(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Pushing to"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // -q reaches git too: its "To URL" and ref lines are gone.
    let quiet = r.dockguard(&["push", "-q", "--dry-run", "dest", "HEAD:refs/heads/a"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("[new branch]"), "{}", quiet.stderr);
    assert!(plain.stderr.contains("[new branch]"), "{}", plain.stderr);
}
