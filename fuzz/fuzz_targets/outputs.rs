//! The CI writers: a dotenv report re-parses under GitLab's rules with exactly the
//! variables written (values sanitised, nothing injected), and `$GITHUB_OUTPUT` re-parses
//! under GitHub's heredoc rules into exactly the scalars and lists written.
#![no_main]

use dockguard::parts::{dotenv, github_output, is_var_name, one_line, sanitize_value};
use libfuzzer_sys::fuzz_target;

/// GitLab's dotenv rules (gitlab-org/gitlab `Ci::ParseDotenvArtifactService`): one
/// `KEY=VALUE` per line, key `[A-Za-z_][A-Za-z0-9_]*`, value is the rest of the line with
/// surrounding quotes stripped and whitespace trimmed. Returns None for a line GitLab rejects.
fn parse_gitlab(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=')?;
        if !is_var_name(k) {
            return None;
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Some(out)
}

/// GitHub's `$GITHUB_OUTPUT` rules (actions/runner `SetOutputFileCommandExtension`):
/// `name=value`, or `name<<DELIM` … lines … `DELIM` (the delimiter line matched exactly).
fn parse_github(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let eq = line.find('=');
        match (heredoc, eq) {
            (Some(h), e) if e.is_none_or(|e| h < e) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                let mut body = Vec::new();
                loop {
                    let l = lines.next()?;
                    if l == delim {
                        break;
                    }
                    body.push(l);
                }
                out.push((name.to_owned(), body.join("\n")));
            }
            (_, Some(e)) => out.push((line[..e].to_owned(), line[e + 1..].to_owned())),
            _ => return None,
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split the input into a few values; names are fixed (they are ours, not the pusher's).
    let values: Vec<String> = text.split('\u{0}').take(8).map(str::to_owned).collect();
    let vars: Vec<(String, String)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("DOCKGUARD_V{i}"), v.clone()))
        .collect();
    if let Ok(env) = dotenv(&vars) {
        let parsed = parse_gitlab(&env).expect("dotenv parses under GitLab's rules");
        assert_eq!(parsed.len(), vars.len(), "one line per variable: {env:?}");
        for ((k, v), (pk, pv)) in vars.iter().zip(&parsed) {
            assert_eq!(k, pk);
            assert_eq!(*pv, sanitize_value(v), "round-trips the sanitised value");
            // Nothing GitLab or a shell would reinterpret.
            assert!(pv.trim() == pv && !pv.starts_with(['"', '\'']));
            assert!(!pv.contains(['$', '`', '\\', '#', ' ']));
            if v.chars()
                .all(|c| c.is_ascii_graphic() && !"\"'`#$\\".contains(c))
            {
                assert_eq!(pv, v, "safe values round-trip unchanged");
            }
        }
    }
    let lists = vec![("paths".to_owned(), values.clone())];
    let token = "0123456789abcdef";
    let gh = github_output(&vars, &lists, token);
    let parsed = parse_github(&gh).expect("GITHUB_OUTPUT parses");
    assert_eq!(parsed.len(), vars.len() + 1, "{gh:?}");
    for ((k, v), (pk, pv)) in vars.iter().zip(&parsed) {
        assert_eq!(k, pk);
        assert_eq!(*pv, sanitize_value(v));
    }
    let (pk, pv) = &parsed[vars.len()];
    assert_eq!(pk, "paths");
    let want: Vec<String> = values.iter().map(|v| one_line(v)).collect();
    assert_eq!(*pv, want.join("\n"), "list round-trips line by line");
});
