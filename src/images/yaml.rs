//! A bounded YAML loader over yaml-rust2's event parser, for compose and CI files.
//!
//! These files come from the push, so they are hostile: a file is read only up to
//! [`MAX_BYTES`], and aliases are expanded only while the document stays under
//! [`MAX_NODES`] nodes (a "billion laughs" file is a parse error, not a hang). Every
//! scalar is a string, with the line its text starts on (a block scalar's first content
//! line). YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) are applied as YAML 1.1 says
//! (GitLab and docker compose both honour them): the mapping's own keys win, then the
//! merged mappings in order. GitLab's `!reference [job, key]` is kept as a one-entry
//! mapping `{"!reference": [job, key]}` ([`Y::reference`]); other tags are dropped (their
//! value stays).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Larger files are not read (a declaration file that large is not one).
pub const MAX_BYTES: usize = 1 << 20;
/// Nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 200_000;

/// A YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Y {
    /// A scalar and its line.
    Str(String, usize),
    /// A sequence.
    Seq(Vec<Y>),
    /// A mapping, in order.
    Map(Vec<(Y, Y)>),
}

impl Y {
    /// The scalar's text.
    pub fn str(&self) -> Option<&str> {
        match self {
            Y::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// The line of a scalar, else of the first scalar inside.
    pub fn line(&self) -> usize {
        match self {
            Y::Str(_, l) => *l,
            Y::Seq(v) => v.first().map_or(0, Y::line),
            Y::Map(m) => m.first().map_or(0, |(k, _)| k.line()),
        }
    }

    /// A mapping's value for a string key.
    pub fn get(&self, key: &str) -> Option<&Y> {
        match self {
            Y::Map(m) => m.iter().find(|(k, _)| k.str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A mapping's entries with string keys.
    pub fn entries(&self) -> Vec<(&str, &Y)> {
        match self {
            Y::Map(m) => m.iter().filter_map(|(k, v)| Some((k.str()?, v))).collect(),
            _ => Vec::new(),
        }
    }

    /// The path of a GitLab `!reference [job, key, …]` tag.
    pub fn reference(&self) -> Option<Vec<&str>> {
        match self {
            Y::Map(m) if m.len() == 1 && m[0].0.str() == Some(REFERENCE) => match &m[0].1 {
                Y::Seq(v) => v.iter().map(Y::str).collect(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The key a `!reference` sequence is kept under.
pub const REFERENCE: &str = "!reference";
/// A plain `<<` key while its mapping is read (a quoted `"<<"` is an ordinary key).
const MERGE: &str = "\0<<";

#[derive(Default)]
struct Loader {
    /// Open collections: the value, its anchor, and whether it is a `!reference`.
    stack: Vec<(Y, usize, bool)>,
    keys: Vec<Option<Y>>,
    anchors: HashMap<usize, Y>,
    docs: Vec<Y>,
    /// Where each open `!reference` sequence starts.
    reference_lines: Vec<usize>,
    nodes: usize,
    overflow: bool,
}

fn size(y: &Y) -> usize {
    match y {
        Y::Str(..) => 1,
        Y::Seq(v) => 1 + v.iter().map(size).sum::<usize>(),
        Y::Map(m) => 1 + m.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

impl Loader {
    fn push_value(&mut self, y: Y, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, y.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(y),
            Some((Y::Seq(v), ..)) => v.push(y),
            Some((Y::Map(m), ..)) => {
                let slot = self.keys.last_mut().expect("a key slot per mapping");
                match slot.take() {
                    None => *slot = Some(y),
                    Some(k) => m.push((k, y)),
                }
            }
            Some((Y::Str(..), ..)) => {}
        }
    }

    /// Whether the next value is a mapping key.
    fn at_key(&self) -> bool {
        matches!(self.stack.last(), Some((Y::Map(_), ..))) && matches!(self.keys.last(), Some(None))
    }
}

/// Applies a mapping's merge keys: its own entries first (they win), then the entries of
/// each merged mapping that no earlier one has.
fn merged(m: Vec<(Y, Y)>) -> Vec<(Y, Y)> {
    if !m.iter().any(|(k, _)| k.str() == Some(MERGE)) {
        return m;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) =
        m.into_iter().partition(|(k, _)| k.str() == Some(MERGE));
    for (_, v) in merges {
        let sources = match v {
            Y::Map(entries) => vec![entries],
            Y::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i {
                    Y::Map(entries) => Some(entries),
                    _ => None,
                })
                .collect(),
            Y::Str(..) => Vec::new(),
        };
        for entries in sources {
            for (k, v) in entries {
                if !own
                    .iter()
                    .any(|(o, _)| *o == k || (o.str().is_some() && o.str() == k.str()))
                {
                    own.push((k, v));
                }
            }
        }
    }
    own
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.overflow {
            return;
        }
        self.nodes += 1;
        match ev {
            Event::Scalar(s, style, anchor, _) => {
                let s = if s == "<<" && style == TScalarStyle::Plain && self.at_key() {
                    MERGE.to_owned()
                } else {
                    s
                };
                self.push_value(Y::Str(s, mark.line()), anchor);
            }
            Event::Alias(id) => {
                let y = self.anchors.get(&id).cloned();
                if let Some(y) = y {
                    self.nodes += size(&y);
                    if self.nodes > MAX_NODES {
                        self.overflow = true;
                        return;
                    }
                    self.push_value(y, 0);
                }
            }
            Event::SequenceStart(anchor, tag) => {
                let reference = tag.is_some_and(|t| t.handle == "!" && t.suffix == "reference");
                self.stack.push((Y::Seq(Vec::new()), anchor, reference));
                if reference {
                    self.reference_lines.push(mark.line());
                }
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((Y::Map(Vec::new()), anchor, false));
                self.keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((y, anchor, reference)) = self.stack.pop() {
                    let y = match y {
                        Y::Map(m) => {
                            self.keys.pop();
                            Y::Map(merged(m))
                        }
                        Y::Seq(v) if reference => {
                            let line = self.reference_lines.pop().unwrap_or(0);
                            Y::Map(vec![(Y::Str(REFERENCE.to_owned(), line), Y::Seq(v))])
                        }
                        other => other,
                    };
                    self.push_value(y, anchor);
                }
            }
            _ => {}
        }
        if self.nodes > MAX_NODES {
            self.overflow = true;
        }
    }
}

/// The documents of a YAML text, or why it cannot be read.
pub fn load(text: &str) -> Result<Vec<Y>, String> {
    if text.len() > MAX_BYTES {
        return Err(format!("larger than {} KiB", MAX_BYTES / 1024));
    }
    let mut loader = Loader::default();
    Parser::new_from_str(text)
        .load(&mut loader, true)
        .map_err(|e| e.to_string())?;
    if loader.overflow {
        return Err(format!("expands to more than {MAX_NODES} values"));
    }
    Ok(loader.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lists_aliases_and_lines() {
        let docs = load("a: &x [1, 2]\nb: *x\nc:\n  d: !reference [e, f]\n").expect("yaml");
        let d = &docs[0];
        assert_eq!(d.get("b"), d.get("a"));
        assert_eq!(d.get("c").and_then(|c| c.get("d")).map(Y::line), Some(4));
        assert!(load("a: [").is_err());
    }

    #[test]
    fn references_merge_keys_and_block_lines() {
        let docs = load(
            ".a: &a\n  x: 1\n  y: 2\nb:\n  <<: *a\n  y: 3\n  \"<<\": q\n  s: !reference [.a, x]\n  t: |\n    echo hi\n    echo ho\nc:\n  <<: [{k: 1}, {k: 2, l: 2}]\n",
        )
        .expect("yaml");
        let b = docs[0].get("b").expect("b");
        assert_eq!(b.get("x").and_then(Y::str), Some("1"));
        assert_eq!(b.get("y").and_then(Y::str), Some("3"), "own keys win");
        assert_eq!(
            b.get("<<").and_then(Y::str),
            Some("q"),
            "a quoted << is a key"
        );
        assert_eq!(b.get("s").and_then(Y::reference), Some(vec![".a", "x"]));
        assert_eq!(b.get("s").map(Y::line), Some(8));
        assert_eq!(b.get("t").map(Y::line), Some(10), "the block's first line");
        let c = docs[0].get("c").expect("c");
        assert_eq!(c.get("k").and_then(Y::str), Some("1"), "earlier merges win");
        assert_eq!(c.get("l").and_then(Y::str), Some("2"));
    }

    #[test]
    fn merge_keys_are_applied() {
        let docs = load(
            "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: *a\n  x: 0\nd:\n  <<: [*b, *a]\n",
        )
        .expect("yaml");
        let d = &docs[0];
        let c = d.get("c").expect("c");
        assert_eq!(c.get("x").and_then(Y::str), Some("0"), "explicit keys win");
        assert_eq!(c.get("y").and_then(Y::str), Some("1"));
        assert_eq!(c.get("<<"), None);
        let m = d.get("d").expect("d");
        assert_eq!(
            m.get("y").and_then(Y::str),
            Some("2"),
            "the earlier map wins"
        );
        assert_eq!(m.get("x").and_then(Y::str), Some("1"));
        assert_eq!(m.get("z").and_then(Y::str), Some("2"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = load(&text).expect_err("bomb");
        assert!(e.contains("more than"), "{e}");
    }
}
