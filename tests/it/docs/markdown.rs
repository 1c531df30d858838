//! Reading the docs' Markdown as GitHub and mdBook do, as far as the tests need: the
//! files, their fenced blocks with info strings, the prose between them, its links,
//! headings (as anchors) and `dockguard …` code spans.

use std::collections::BTreeSet;

use super::root;

/// README.md and every Markdown file of the book, as (path from the repository root, text).
pub(crate) fn markdown_files() -> Vec<(String, String)> {
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

/// A fenced block: where it starts, its language, why it does not run (if it says), its text.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) lang: String,
    pub(crate) no_run: Option<String>,
    pub(crate) text: String,
}

impl Block {
    pub(crate) fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The fenced blocks of a Markdown text (``` fences, as this project writes them).
pub(crate) fn blocks(file: &str, text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    open = Some((i + 1, info.trim().to_owned(), Vec::new()));
                }
            }
            Some((start, info, mut body)) => {
                if line.trim_start().starts_with("```") {
                    let (lang, attrs) = info.split_once(',').unwrap_or((&info, ""));
                    let no_run = attrs.strip_prefix("no-run(").map(|r| {
                        r.strip_suffix(')')
                            .unwrap_or_else(|| {
                                panic!("{file}:{start}: no-run(REASON) is not closed")
                            })
                            .to_owned()
                    });
                    assert!(
                        attrs.is_empty() || no_run.as_deref().is_some_and(|r| !r.is_empty()),
                        "{file}:{start}: the only attribute is no-run(REASON): {info:?}"
                    );
                    out.push(Block {
                        file: file.to_owned(),
                        line: start,
                        lang: lang.to_owned(),
                        no_run,
                        text: body.join("\n") + "\n",
                    });
                } else {
                    body.push(line);
                    open = Some((start, info, body));
                }
            }
        }
    }
    if let Some((start, ..)) = open {
        panic!("{file}:{start}: a fenced block is never closed");
    }
    out
}

/// A Markdown text without its fenced blocks.
pub(crate) fn prose(text: &str) -> String {
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
pub(crate) fn links(text: &str) -> Vec<String> {
    prose(text)
        .split("](")
        .skip(1)
        .map(|rest| rest[..rest.find(')').expect("a closed link")].to_owned())
        .collect()
}

/// The anchor GitHub and mdBook give a heading: lowercase, punctuation but `-` and `_`
/// dropped, spaces as `-`.
pub(crate) fn anchor(heading: &str) -> String {
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
pub(crate) fn anchors(text: &str) -> BTreeSet<String> {
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

/// The `dockguard …` code spans of a text's prose (a span may wrap onto the next line).
pub(crate) fn inline_commands(text: &str) -> Vec<String> {
    prose(text)
        .replace('\n', " ")
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("dockguard "))
        .map(str::to_owned)
        .collect()
}
