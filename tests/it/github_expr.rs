//! GitHub Actions' expression language (`${{ ... }}`), the part dockguard's workflow and
//! actions use, for tests/it/github_workflow.rs: there is no hosted runner here, so the
//! test evaluates the shipped YAML's expressions itself, instead of hand-copying what
//! each one means (which would keep passing when the YAML changes).
//!
//! Covered: context paths (`needs.plan.outputs.level0`, `matrix`, dashes in names),
//! `x['key']`, string and number literals, `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`,
//! `||` (GitHub's value-returning forms), `fromJSON`, `toJSON`, `always()`, `success()`,
//! `failure()`, `cancelled()` (a run here never fails a job it goes on with). Anything
//! else panics: an expression the test cannot evaluate must not pass silently.

use serde_json::Value;

/// Replaces every `${{ expr }}` in `text`; a value that is the whole string keeps its
/// type (GitHub does the same for `matrix: ${{ fromJSON(...) }}`).
pub fn interpolate(text: &str, ctx: &Value) -> Value {
    let trimmed = text.trim();
    if trimmed.starts_with("${{") && trimmed.ends_with("}}") && trimmed.matches("${{").count() == 1
    {
        return eval(&trimmed[3..trimmed.len() - 2], ctx);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("unterminated ${{") + i;
        out.push_str(&to_text(&eval(&rest[i + 3..end], ctx)));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}

/// A value as GitHub turns it into a string (an input, an env value).
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string_pretty(other).expect("json"),
    }
}

/// GitHub's truthiness: null, false, 0, "" are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Evaluates one expression (the text between `${{` and `}}`, or an `if:`).
pub fn eval(expr: &str, ctx: &Value) -> Value {
    let tokens = lex(expr);
    let mut p = Parser {
        t: &tokens,
        i: 0,
        ctx,
    };
    let v = p.or();
    assert_eq!(p.i, tokens.len(), "trailing tokens in {expr:?}: {tokens:?}");
    v
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
}

fn lex(s: &str) -> Vec<Tok> {
    const OPS: &[&str] = &[
        "&&", "||", "==", "!=", ">=", "<=", ">", "<", "!", "(", ")", "[", "]", ".", ",",
    ];
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                assert!(i < b.len(), "unterminated string in {s:?}");
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        v.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(b[i] as char);
                i += 1;
            }
            out.push(Tok::Str(v));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Num(s[start..i].parse().expect("number")));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].to_owned()));
            continue;
        }
        for op in OPS {
            if s[i..].starts_with(op) {
                out.push(Tok::Op(op));
                i += op.len();
                continue 'outer;
            }
        }
        panic!("cannot lex {s:?} at {i}");
    }
    out
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
    ctx: &'a Value,
}

impl Parser<'_> {
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.t.get(self.i), Some(Tok::Op(o)) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Value {
        let mut l = self.and();
        while self.eat("||") {
            let r = self.and();
            l = if truthy(&l) { l } else { r };
        }
        l
    }

    fn and(&mut self) -> Value {
        let mut l = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            l = if truthy(&l) { r } else { l };
        }
        l
    }

    fn cmp(&mut self) -> Value {
        let l = self.unary();
        for op in ["==", "!=", ">=", "<=", ">", "<"] {
            if self.eat(op) {
                let r = self.unary();
                return Value::Bool(compare(&l, op, &r));
            }
        }
        l
    }

    fn unary(&mut self) -> Value {
        if self.eat("!") {
            return Value::Bool(!truthy(&self.unary()));
        }
        let mut v = self.primary();
        loop {
            if self.eat(".") {
                let Some(Tok::Ident(k)) = self.t.get(self.i).cloned() else {
                    panic!("a name after '.': {:?}", self.t);
                };
                self.i += 1;
                v = v.get(&k).cloned().unwrap_or(Value::Null);
            } else if self.eat("[") {
                let k = self.or();
                assert!(self.eat("]"), "']' expected: {:?}", self.t);
                v = v.get(to_text(&k)).cloned().unwrap_or(Value::Null);
            } else {
                return v;
            }
        }
    }

    fn primary(&mut self) -> Value {
        let tok = self.t.get(self.i).cloned();
        self.i += 1;
        match tok {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Num(n)) => serde_json::json!(n),
            Some(Tok::Op("(")) => {
                let v = self.or();
                assert!(self.eat(")"), "')' expected: {:?}", self.t);
                v
            }
            Some(Tok::Ident(name)) if self.eat("(") => {
                let mut args = Vec::new();
                if !self.eat(")") {
                    loop {
                        args.push(self.or());
                        if self.eat(")") {
                            break;
                        }
                        assert!(self.eat(","), "',' expected: {:?}", self.t);
                    }
                }
                call(&name, &args)
            }
            Some(Tok::Ident(name)) => match name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => self
                    .ctx
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| panic!("unknown context `{name}`")),
            },
            other => panic!("unexpected {other:?} in {:?}", self.t),
        }
    }
}

fn call(name: &str, args: &[Value]) -> Value {
    match (name, args) {
        ("fromJSON", [Value::String(s)]) => {
            serde_json::from_str(s).unwrap_or_else(|e| panic!("fromJSON({s:?}): {e}"))
        }
        ("toJSON", [v]) => Value::String(serde_json::to_string_pretty(v).expect("json")),
        ("always" | "success", []) => Value::Bool(true),
        ("failure" | "cancelled", []) => Value::Bool(false),
        _ => panic!("the test's evaluator has no {name}({args:?})"),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// GitHub compares strings case-insensitively, and other mixed types as numbers.
fn compare(l: &Value, op: &str, r: &Value) -> bool {
    if let (Value::String(a), Value::String(b)) = (l, r) {
        let (a, b) = (a.to_lowercase(), b.to_lowercase());
        return match op {
            "==" => a == b,
            "!=" => a != b,
            ">=" => a >= b,
            "<=" => a <= b,
            ">" => a > b,
            _ => a < b,
        };
    }
    let (a, b) = (number(l), number(r));
    match op {
        "==" => a == b,
        "!=" => a != b,
        ">=" => a >= b,
        "<=" => a <= b,
        ">" => a > b,
        _ => a < b,
    }
}

#[test]
fn the_evaluator_reads_expressions_as_github_does() {
    let ctx = serde_json::json!({
        "needs": {"plan": {"outputs": {"levels": "3", "level0": "{\"include\":[{\"a\":1}]}"}}},
        "github": {"event": {"inputs": {"rebuild": "true"}}},
        "inputs": {"entry": "{\"upstream-image\":\"u\",\"action\":\"copy\"}"},
    });
    let e = |s: &str| eval(s, &ctx);
    assert_eq!(e("needs.plan.outputs.levels >= 3"), Value::Bool(true));
    assert_eq!(e("needs.plan.outputs.levels >= 4"), Value::Bool(false));
    assert_eq!(
        e("always() && !failure() && !cancelled() && needs.plan.outputs.levels >= 2"),
        Value::Bool(true)
    );
    assert_eq!(
        e("github.event.inputs.rebuild == 'true' && '1' || ''"),
        Value::String("1".into())
    );
    assert_eq!(
        e("github.event.inputs.nothing == 'true' && '1' || ''"),
        Value::String(String::new())
    );
    assert_eq!(e("fromJSON(inputs.entry)['upstream-image']"), "u");
    assert_eq!(e("fromJSON(inputs.entry).action"), "copy");
    assert_eq!(
        interpolate("${{ fromJSON(needs.plan.outputs.level0) }}", &ctx)["include"][0]["a"],
        1
    );
    assert_eq!(
        interpolate("x-${{ needs.plan.outputs.levels }}-y", &ctx),
        "x-3-y"
    );
}
