//! A parser for the subset of HCL bake files use: blocks with labels, attributes, string
//! templates (`${…}`), heredocs, lists, objects, literals, references, comments. Function
//! calls, conditionals and operators parse, and their value is unknown.
//!
//! Why not the hcl-rs crate (0.20, measured): it would add seven crates and 1.4 MB to a
//! release binary, and parse the whole grammar (60 µs for a bake file), but bake's meaning
//! is not in it (variables from the environment, its function library, `inherits`, groups,
//! `target:` links): that is written here either way, and what dockguard reads (context,
//! dockerfile, target, args, contexts) are strings and `${VAR}` templates in practice. A
//! value behind a function or a conditional stays unknown, which makes the build opaque
//! (judged widely), never wrong.

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum V {
    /// A string template (`${…}` not yet evaluated).
    Str(String),
    /// A literal number or bool, as text.
    Lit(String),
    /// `null`.
    Null,
    /// A bare variable reference.
    Ref(String),
    /// A list.
    List(Vec<V>),
    /// An object.
    Obj(Vec<(String, V)>),
    /// Anything else (a call, a conditional, an operator, a traversal).
    Unknown,
}

/// A block: its type, labels, attributes, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub attrs: Vec<(String, V)>,
    pub line: usize,
}

/// A parsed file: top-level attributes and every block (nested ones too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Body {
    pub attrs: Vec<(String, V)>,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(char),
    Other,
}

fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        let at = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            let mut depth = 0usize;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err(format!("line {at}: an unterminated string"));
                };
                i += 1;
                match d {
                    '"' if depth == 0 => break,
                    '\n' if depth == 0 => return Err(format!("line {at}: an unterminated string")),
                    '\n' => {
                        line += 1;
                        s.push(d);
                    }
                    '\\' => {
                        let n = chars.get(i).copied().unwrap_or('\\');
                        i += 1;
                        s.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    '$' | '%' if chars.get(i) == Some(&'{') => {
                        depth += 1;
                        s.push(d);
                        s.push('{');
                        i += 1;
                    }
                    '{' if depth > 0 => {
                        depth += 1;
                        s.push(d);
                    }
                    '}' if depth > 0 => {
                        depth -= 1;
                        s.push('}');
                    }
                    _ => s.push(d),
                }
            }
            out.push((Tok::Str(s), at));
        } else if c == '<' && chars.get(i + 1) == Some(&'<') {
            // Heredoc: <<EOT or <<-EOT (indented) up to a line holding only EOT.
            i += 2;
            let indented = chars.get(i) == Some(&'-');
            if indented {
                i += 1;
            }
            let mut tag = String::new();
            while i < chars.len() && chars[i] != '\n' {
                tag.push(chars[i]);
                i += 1;
            }
            let tag = tag.trim().to_owned();
            if tag.is_empty() {
                return Err(format!("line {at}: a heredoc without a delimiter"));
            }
            let mut lines = Vec::new();
            i += 1;
            line += 1;
            loop {
                if i >= chars.len() {
                    return Err(format!("line {at}: an unterminated heredoc"));
                }
                let start = i;
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                let l: String = chars[start..i].iter().collect();
                i += 1;
                line += 1;
                if l.trim() == tag {
                    break;
                }
                lines.push(l);
            }
            if indented {
                let strip = lines
                    .iter()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.len() - l.trim_start().len())
                    .min()
                    .unwrap_or(0);
                for l in &mut lines {
                    *l = l.get(strip..).unwrap_or("").to_owned();
                }
            }
            let mut body = lines.join("\n");
            body.push('\n');
            out.push((Tok::Str(body), at));
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || "_-".contains(chars[i])) {
                s.push(chars[i]);
                i += 1;
            }
            out.push((Tok::Ident(s), at));
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                s.push(chars[i]);
                i += 1;
            }
            out.push((Tok::Num(s), at));
        } else if "{}[]()=,:.?!<>+*/%&|-".contains(c) {
            out.push((Tok::Punct(c), at));
            i += 1;
        } else {
            while i < chars.len() && !chars[i].is_whitespace() && !"{}[](),=".contains(chars[i]) {
                i += 1;
            }
            out.push((Tok::Other, at));
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

/// Nesting a file may use (a deeper one is refused, not a stack overflow).
const MAX_NESTING: usize = 64;

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }
    fn line(&self) -> usize {
        self.toks.get(self.at).map_or(0, |(_, l)| *l)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err("nested too deeply".into());
        }
        Ok(())
    }

    /// A body up to `}` (or the end): attributes and blocks.
    fn body(&mut self, blocks: &mut Vec<Block>) -> Result<Vec<(String, V)>, String> {
        self.deeper()?;
        let mut attrs = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct('}')) => {
                    self.at += 1;
                    break;
                }
                Some(Tok::Ident(_)) => {}
                Some(t) => return Err(format!("line {}: unexpected {t:?}", self.line())),
            }
            let line = self.line();
            let Some(Tok::Ident(name)) = self.next() else {
                break;
            };
            if self.eat('=') {
                attrs.push((name, self.expr()?));
                continue;
            }
            let mut labels = Vec::new();
            loop {
                match self.next() {
                    Some(Tok::Str(s)) | Some(Tok::Ident(s)) => labels.push(s),
                    Some(Tok::Punct('{')) => break,
                    other => {
                        return Err(format!(
                            "line {line}: a block `{name}` expected `{{`, got {other:?}"
                        ))
                    }
                }
            }
            let inner = self.body(blocks)?;
            blocks.push(Block {
                kind: name,
                labels,
                attrs: inner,
                line,
            });
        }
        self.depth -= 1;
        Ok(attrs)
    }

    fn expr(&mut self) -> Result<V, String> {
        self.deeper()?;
        let line = self.line();
        let v = match self.next() {
            Some(Tok::Str(s)) => V::Str(s),
            Some(Tok::Num(n)) => V::Lit(n),
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    if self.peek().is_none() {
                        return Err(format!("line {line}: an unterminated list"));
                    }
                    items.push(self.expr()?);
                    self.eat(',');
                }
                V::List(items)
            }
            Some(Tok::Punct('{')) => {
                let mut items = Vec::new();
                while !self.eat('}') {
                    let key = match self.next() {
                        Some(Tok::Ident(k)) | Some(Tok::Str(k)) => k,
                        None => return Err(format!("line {line}: an unterminated object")),
                        Some(t) => {
                            return Err(format!("line {line}: an object key expected, got {t:?}"))
                        }
                    };
                    if !(self.eat('=') || self.eat(':')) {
                        return Err(format!("line {line}: `=` expected after `{key}`"));
                    }
                    items.push((key, self.expr()?));
                    self.eat(',');
                }
                V::Obj(items)
            }
            Some(Tok::Punct('(')) => {
                let inner = self.expr()?;
                if !self.eat(')') {
                    return Err(format!("line {line}: `)` expected"));
                }
                inner
            }
            Some(Tok::Ident(name)) => {
                if self.eat('(') {
                    // A function call: its arguments are skipped.
                    let mut depth = 1;
                    while depth > 0 {
                        match self.next() {
                            Some(Tok::Punct('(')) => depth += 1,
                            Some(Tok::Punct(')')) => depth -= 1,
                            None => return Err(format!("line {line}: an unterminated call")),
                            _ => {}
                        }
                    }
                    V::Unknown
                } else {
                    match name.as_str() {
                        "null" => V::Null,
                        "true" | "false" => V::Lit(name),
                        _ => V::Ref(name),
                    }
                }
            }
            Some(Tok::Punct('-' | '!')) => {
                let _ = self.expr()?;
                V::Unknown
            }
            Some(Tok::Other) => V::Unknown,
            other => return Err(format!("line {line}: a value expected, got {other:?}")),
        };
        // Operators, conditionals, traversals (`a ? b : c`, `a + b`, `x.y`, `x[0]`): the
        // whole expression is unknown.
        let mut unknown = false;
        while let Some(Tok::Punct(c)) = self.peek() {
            if "?!<>+*/%&|-.:=[".contains(*c) {
                let c = *c;
                self.at += 1;
                unknown = true;
                if c == '[' {
                    let _ = self.expr()?;
                    self.eat(']');
                } else if self
                    .peek()
                    .is_some_and(|t| !matches!(t, Tok::Punct('}' | ']' | ',' | ')')))
                {
                    let _ = self.expr()?;
                }
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if unknown { V::Unknown } else { v })
    }
}

/// Parses an HCL file.
pub(crate) fn parse(text: &str) -> Result<Body, String> {
    let mut p = P {
        toks: tokens(text)?,
        at: 0,
        depth: 0,
    };
    let mut blocks = Vec::new();
    let attrs = p.body(&mut blocks)?;
    blocks.sort_by_key(|b| b.line);
    Ok(Body { attrs, blocks })
}

/// Parses a JSON bake file into the same shape (strings are templates there too; a
/// block's line is where its name is first written).
pub(crate) fn parse_json(text: &str) -> Result<Body, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    fn conv(v: &serde_json::Value) -> V {
        match v {
            serde_json::Value::String(s) => V::Str(s.clone()),
            serde_json::Value::Array(a) => V::List(a.iter().map(conv).collect()),
            serde_json::Value::Object(o) => {
                V::Obj(o.iter().map(|(k, v)| (k.clone(), conv(v))).collect())
            }
            serde_json::Value::Null => V::Null,
            serde_json::Value::Bool(b) => V::Lit(b.to_string()),
            serde_json::Value::Number(n) => V::Lit(n.to_string()),
        }
    }
    // Where `"name":` is written (the first time).
    let line_of = |name: &str| {
        let key = serde_json::to_string(name).unwrap_or_default();
        text.match_indices(&key)
            .find(|(i, _)| text[i + key.len()..].trim_start().starts_with(':'))
            .map_or(0, |(i, _)| text[..i].matches('\n').count() + 1)
    };
    let mut body = Body::default();
    let serde_json::Value::Object(top) = doc else {
        return Err("not a JSON object".into());
    };
    for (kind, v) in &top {
        match (kind.as_str(), v) {
            ("variable" | "target" | "group", serde_json::Value::Object(items)) => {
                for (name, item) in items {
                    let attrs = match conv(item) {
                        V::Obj(a) => a,
                        _ => Vec::new(),
                    };
                    body.blocks.push(Block {
                        kind: kind.clone(),
                        labels: vec![name.clone()],
                        attrs,
                        line: line_of(name),
                    });
                }
            }
            _ => body.attrs.push((kind.clone(), conv(v))),
        }
    }
    Ok(body)
}
