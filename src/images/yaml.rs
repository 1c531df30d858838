//! A bounded YAML loader over yaml-rust2's event parser, for compose and CI files.
//!
//! These files come from the push, so they are hostile: a file is read only up to
//! [`MAX_BYTES`], and aliases are expanded only while the document stays under
//! [`MAX_NODES`] nodes (a "billion laughs" file is a parse error, not a hang). Tags
//! (GitLab's `!reference`) are kept as plain values. Every scalar is a string, with the
//! line it starts on. Merge keys (`<<: *anchor`, `<<: [*a, *b]`) are applied as YAML 1.1
//! defines them, as compose and GitLab do.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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

    /// Every scalar inside (depth first), for scripts written as nested lists.
    pub fn scalars(&self, out: &mut Vec<(String, usize)>) {
        match self {
            Y::Str(s, l) => out.push((s.clone(), *l)),
            Y::Seq(v) => v.iter().for_each(|y| y.scalars(out)),
            Y::Map(m) => m.iter().for_each(|(_, v)| v.scalars(out)),
        }
    }
}

#[derive(Default)]
struct Loader {
    stack: Vec<(Y, usize)>,
    keys: Vec<Option<Y>>,
    anchors: HashMap<usize, Y>,
    docs: Vec<Y>,
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
            Some((Y::Seq(v), _)) => v.push(y),
            Some((Y::Map(m), _)) => {
                let slot = self.keys.last_mut().expect("a key slot per mapping");
                match slot.take() {
                    None => *slot = Some(y),
                    Some(k) => m.push((k, y)),
                }
            }
            Some((Y::Str(..), _)) => {}
        }
    }
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.overflow {
            return;
        }
        self.nodes += 1;
        match ev {
            Event::Scalar(s, _, anchor, _) => self.push_value(Y::Str(s, mark.line()), anchor),
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
            Event::SequenceStart(anchor, _) => self.stack.push((Y::Seq(Vec::new()), anchor)),
            Event::MappingStart(anchor, _) => {
                self.stack.push((Y::Map(Vec::new()), anchor));
                self.keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((y, anchor)) = self.stack.pop() {
                    let y = match y {
                        Y::Map(m) => {
                            self.keys.pop();
                            Y::Map(merge_keys(m))
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

/// A mapping with its merge keys applied: the entries of `<<: *a` (or of each of
/// `<<: [*a, *b]`, the earlier winning) that the mapping does not set itself.
fn merge_keys(entries: Vec<(Y, Y)>) -> Vec<(Y, Y)> {
    if !entries.iter().any(|(k, _)| k.str() == Some("<<")) {
        return entries;
    }
    let (merges, mut out): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(k, _)| k.str() == Some("<<"));
    let add = |from: Y, out: &mut Vec<(Y, Y)>| {
        if let Y::Map(m) = from {
            for (k, v) in m {
                if !out.iter().any(|(o, _)| same_key(o, &k)) {
                    out.push((k, v));
                }
            }
        }
    };
    for (_, v) in merges {
        match v {
            Y::Seq(items) => items.into_iter().for_each(|i| add(i, &mut out)),
            other => add(other, &mut out),
        }
    }
    out
}

/// Keys compare by text (a scalar's line is not part of it).
fn same_key(a: &Y, b: &Y) -> bool {
    match (a.str(), b.str()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
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
