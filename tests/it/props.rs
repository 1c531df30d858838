//! Properties (proptest): the dotenv writer under GitLab's rules, the pre-push
//! stdin parser against an independent oracle, glob-vs-regex agreement in the matcher, and
//! install/uninstall as a state machine that must never lose a foreign hook.

use proptest::prelude::*;
use regex::bytes::Regex;

use dockguard::parts::glob_to_regex;
use dockguard::parts::parse_pre_push;
use dockguard::parts::{dotenv, is_var_name, sanitize_value};

// ---- dotenv ---------------------------------------------------------------------------

/// GitLab's dotenv rules: `KEY=VALUE` per line, key `[A-Za-z_][A-Za-z0-9_]*`; the value is
/// the rest of the line, surrounding whitespace stripped and one pair of matching quotes
/// removed. None when GitLab would reject the report.
fn gitlab_parse(text: &str) -> Option<Vec<(String, String)>> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once('=')?;
            if !is_var_name(k) {
                return None;
            }
            let v = v.trim();
            let v = ['"', '\'']
                .iter()
                .find_map(|q| v.strip_prefix(*q).and_then(|x| x.strip_suffix(*q)))
                .unwrap_or(v);
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn dotenv_parses_under_gitlab_rules_and_round_trips(
        values in proptest::collection::vec(any::<String>(), 0..8),
        safe in "[A-Za-z0-9_./:@%+,=-]{0,40}",
    ) {
        let mut vars: Vec<(String, String)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("DOCKGUARD_V{i}"), v.clone()))
            .collect();
        vars.push(("DOCKGUARD_SAFE".to_owned(), safe.clone()));
        let Ok(text) = dotenv(&vars) else {
            // Only GitLab's size limit may refuse; never silently.
            let total: usize = vars.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
            prop_assert!(total > dockguard::parts::DOTENV_MAX_BYTES / 4);
            return Ok(());
        };
        let parsed = gitlab_parse(&text).expect("GitLab accepts the report");
        prop_assert_eq!(parsed.len(), vars.len());
        for ((k, v), (pk, pv)) in vars.iter().zip(&parsed) {
            prop_assert_eq!(k, pk);
            prop_assert_eq!(pv, &sanitize_value(v));
        }
        // A safe value (a ref slug, an oid, a number) round-trips exactly.
        prop_assert_eq!(&parsed.last().expect("safe").1, &safe);
    }
}

// ---- pre-push stdin -------------------------------------------------------------------

/// An independent reading of githooks(5): 4 space-separated fields counted from the right,
/// oids 40/64 lowercase hex of equal length, remote ref `refs/…`, local ref non-empty.
fn oracle_line(line: &str) -> bool {
    let f: Vec<&str> = line.rsplitn(4, ' ').collect();
    if f.len() != 4 {
        return false;
    }
    let (roid, rref, loid, lref) = (f[0], f[1], f[2], f[3]);
    let hex = |s: &str| {
        (s.len() == 40 || s.len() == 64)
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    hex(roid)
        && hex(loid)
        && roid.len() == loid.len()
        && rref.starts_with("refs/")
        && rref.len() > 5
        && !lref.is_empty()
        && !lref.starts_with(' ')
        && (lref != "(delete)" || loid.chars().all(|c| c == '0'))
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("refs/heads/main".to_owned()),
        Just("HEAD~".to_owned()),
        Just("(delete)".to_owned()),
        Just("a b".to_owned()),
        Just("refs/".to_owned()),
        Just(String::new()),
        Just("0".repeat(40)),
        Just("0".repeat(64)),
        Just("ab".repeat(20)),
        Just("AB".repeat(20)),
        Just("ab".repeat(32)),
        Just("a".repeat(39)),
        "[a-f0-9]{40}",
        "refs/heads/[a-z🦀%@{}]{1,8}",
        "[ -~]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn stdin_parser_rejects_exactly_the_malformed_lines(
        lines in proptest::collection::vec(proptest::collection::vec(field(), 1..6), 1..5),
        crlf in any::<bool>(),
    ) {
        let lines: Vec<String> = lines.iter().map(|f| f.join(" ")).collect();
        let eol = if crlf { "\r\n" } else { "\n" };
        let input = lines.iter().map(|l| format!("{l}{eol}")).collect::<String>();
        let want_ok: Vec<bool> = lines
            .iter()
            .map(|l| l.is_empty() || oracle_line(l))
            .collect();
        match parse_pre_push(input.as_bytes()) {
            Ok(updates) => {
                prop_assert!(want_ok.iter().all(|b| *b), "accepted {:?}", lines);
                prop_assert_eq!(updates.len(), lines.iter().filter(|l| !l.is_empty()).count());
            }
            Err(e) => {
                let first_bad = want_ok.iter().position(|b| !b);
                prop_assert_eq!(Some(e.line - 1), first_bad, "{} for {:?}", e, lines);
            }
        }
    }

    #[test]
    fn stdin_parser_never_panics_on_bytes(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_pre_push(&input);
    }
}

// ---- matcher --------------------------------------------------------------------------

/// git's wildmatch with WM_PATHNAME over bytes, for one component pattern: `*` any bytes
/// but `/`, `?` one byte but `/`, `[..]`/`[!..]` a class that never matches `/`.
fn wild_component(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len())
            .take_while(|i| *i == 0 || s[i - 1] != b'/')
            .any(|i| wild_component(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && s[0] != b'/' && wild_component(&p[1..], &s[1..]),
        Some(b'[') => {
            let end = p
                .iter()
                .position(|b| *b == b']')
                .expect("generated classes close");
            let (neg, set) = match p[1] {
                b'!' => (true, &p[2..end]),
                _ => (false, &p[1..end]),
            };
            !s.is_empty()
                && s[0] != b'/'
                && set.contains(&s[0]) != neg
                && wild_component(&p[end + 1..], &s[1..])
        }
        Some(c) => s.first() == Some(c) && wild_component(&p[1..], &s[1..]),
    }
}

/// The documented glob semantics (README, matcher module docs), written independently.
fn glob_oracle(glob: &str, path: &[u8]) -> bool {
    let anchored = glob.trim_end_matches('/').contains('/');
    let g = glob.strip_prefix('/').unwrap_or(glob);
    let dir_only = g.ends_with('/');
    let g = g.trim_end_matches('/');
    let comps: Vec<&[u8]> = g.split('/').map(str::as_bytes).collect();
    let parts: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    // Match pattern components against path components; `**` spans any number.
    fn go(c: &[&[u8]], p: &[&[u8]], dir_only: bool) -> bool {
        match c.first() {
            None => {
                if dir_only {
                    !p.is_empty()
                } else {
                    p.is_empty()
                }
            }
            Some(&b"**") if c.len() == 1 && !dir_only => !p.is_empty(),
            // `**/`: below some directory, at any depth.
            Some(&b"**") if c.len() == 1 => p.len() >= 2,
            Some(&b"**") => (0..=p.len()).any(|i| go(&c[1..], &p[i..], dir_only)),
            Some(pat) => {
                !p.is_empty() && wild_component(pat, p[0]) && go(&c[1..], &p[1..], dir_only)
            }
        }
    }
    if anchored {
        go(&comps, &parts, dir_only)
    } else {
        (0..parts.len()).any(|i| go(&comps, &parts[i..], dir_only))
    }
}

fn glob_strategy() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("a"),
        Just("b"),
        Just("."),
        Just("*"),
        Just("?"),
        Just("[ab]"),
        Just("[!a]"),
    ];
    let comp = proptest::collection::vec(atom, 1..4).prop_map(|v| v.concat());
    let comp = prop_oneof![4 => comp, 1 => Just("**".to_owned())];
    (
        proptest::collection::vec(comp, 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(comps, lead, trail)| {
            let mut g = comps.join("/");
            if lead {
                g.insert(0, '/');
            }
            if trail {
                g.push('/');
            }
            g
        })
}

fn path_strategy() -> impl Strategy<Value = Vec<u8>> {
    let comp = proptest::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'b'),
            Just(b'.'),
            Just(b'\n'),
            Just(0xff_u8),
            Just(b'c')
        ],
        1..4,
    );
    proptest::collection::vec(comp, 1..5).prop_map(|v| v.join(&b'/'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn glob_and_its_regex_form_agree(glob in glob_strategy(), path in path_strategy()) {
        let re = Regex::new(&format!("^(?:{})$", glob_to_regex(&glob))).expect("compiles");
        prop_assert_eq!(
            re.is_match(&path),
            glob_oracle(&glob, &path),
            "glob {:?} regex {:?} path {:?}",
            glob,
            glob_to_regex(&glob),
            String::from_utf8_lossy(&path)
        );
    }
}

/// Regression (found by `glob_and_its_regex_form_agree`): a negated class matched `/`, so
/// `*[!a].` matched `a/.` and `x[!y]z` matched `x/z`.
#[test]
fn negated_class_never_matches_a_slash() {
    for (glob, path) in [
        ("*[!a].", &b"a/."[..]),
        ("x[!y]z", b"x/z"),
        ("d/[!a]b", b"d//b"),
    ] {
        let re = Regex::new(&format!("^(?:{})$", glob_to_regex(glob))).expect("compiles");
        assert!(!re.is_match(path), "{glob} matched {path:?}");
        assert!(!glob_oracle(glob, path));
    }
    let re = Regex::new(&format!("^(?:{})$", glob_to_regex("x[!y]z"))).expect("compiles");
    assert!(re.is_match(b"dir/xaz"));
}

// ---- install / uninstall state machine ------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Op {
    Install,
    InstallForce,
    Uninstall,
}

/// Bytes no text tool would keep: CRLF, a NUL, invalid UTF-8, no final newline.
const FOREIGN: &[u8] = b"#!/bin/sh\r\n# theirs \x00\xff\xfe\nexit 0";

fn assert_state(hooks: &std::path::Path, foreign: bool, installed: bool) {
    use std::os::unix::fs::PermissionsExt;
    let hook = hooks.join("pre-push");
    let chained = hooks.join(dockguard::parts::CHAINED_NAME);
    let read = |p: &std::path::Path| std::fs::read(p).ok();
    match (installed, foreign) {
        (true, f) => {
            let text = read(&hook).expect("hook");
            assert!(
                String::from_utf8_lossy(&text).contains(dockguard::parts::MARKER),
                "ours"
            );
            assert_eq!(
                read(&chained).as_deref(),
                f.then_some(FOREIGN),
                "chained kept"
            );
        }
        (false, true) => {
            assert_eq!(
                read(&hook).as_deref(),
                Some(FOREIGN),
                "restored byte-identical"
            );
            let mode = std::fs::metadata(&hook).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o751, "mode kept");
            assert!(!chained.exists());
        }
        (false, false) => {
            assert!(!hook.exists() && !chained.exists());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn install_sequences_never_lose_a_foreign_hook(
        foreign in any::<bool>(),
        ops in proptest::collection::vec(
            prop_oneof![Just(Op::Install), Just(Op::InstallForce), Just(Op::Uninstall)],
            1..7,
        ),
    ) {
        use std::os::unix::fs::PermissionsExt;
        let (r, _) = crate::fixture::with_master();
        let hooks = r.repo.path().join("hooks");
        std::fs::create_dir_all(&hooks).expect("mkdir");
        if foreign {
            let p = hooks.join("pre-push");
            std::fs::write(&p, FOREIGN).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o751)).expect("chmod");
        }
        let mut installed = false;
        for op in &ops {
            let args: &[&str] = match op {
                Op::Install => &["install"],
                Op::InstallForce => &["install", "--force"],
                Op::Uninstall => &["uninstall"],
            };
            let run = r.dockguard(args);
            prop_assert_eq!(run.code, 0, "{:?}: {}{}", op, run.stdout, run.stderr);
            installed = !matches!(op, Op::Uninstall);
            assert_state(&hooks, foreign, installed);
        }
        if installed {
            prop_assert_eq!(r.dockguard(&["uninstall"]).code, 0);
            assert_state(&hooks, foreign, false);
        }
    }
}
