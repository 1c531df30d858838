//! README.md and the book (`docs/src/*.md`) link to each other: every link resolves, and
//! every chapter is in the book's summary.
//!
//! `mdbook` is not installed here (no Debian package, and building it would add minutes
//! to ./test.sh), so the book is not built; [`every_chapter_is_in_the_summary_and_every_link_resolves`]
//! checks what a build would: every file is a chapter and every link finds its heading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file of the book, as (path from the repository root, text).
pub fn markdown_files() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_owned()];
    let mut chapters: Vec<String> = std::fs::read_dir(root().join("docs/src"))
        .expect("docs/src")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/src/{n}"))
        .collect();
    chapters.sort();
    names.extend(chapters);
    names
        .into_iter()
        .map(|n| {
            let text =
                std::fs::read_to_string(root().join(&n)).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, text)
        })
        .collect()
}

/// The anchor GitHub and mdBook give a heading: lowercase, punctuation but `-` and `_`
/// dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings of a Markdown text (outside fenced blocks), as anchors.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') && line.trim_start_matches('#').starts_with(' ')
        {
            out.insert(anchor(line));
        }
    }
    out
}

/// A Markdown text without its fenced blocks.
fn prose(text: &str) -> String {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
}

/// The targets of the inline links `[text](target)` of a text, outside fenced blocks
/// (link text may span lines).
fn links(text: &str) -> Vec<String> {
    prose(text)
        .split("](")
        .skip(1)
        .map(|rest| rest[..rest.find(')').expect("a closed link")].to_owned())
        .collect()
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
