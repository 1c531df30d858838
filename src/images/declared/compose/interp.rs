//! Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$$`, nested defaults),
//! as compose-go's `template` package applies it, and the `.env` file it reads them from.
//!
//! Only the project's `.env` (from the judged tree) is known here; the environment
//! `docker compose` runs in is not. A variable `.env` does not set is taken as unset where
//! the file says what happens then (a default, an alternative), and as unknown text
//! ([`ANY`]) where it does not (`${VAR}`, `${VAR:?error}`): there the file expects the
//! environment to give it.

use std::collections::HashMap;

use super::super::super::dockerfile::ANY;

/// Variables known for a project: its `.env`.
pub(crate) type Env = HashMap<String, String>;

/// `s` with its variables replaced (unknown text as [`ANY`]).
pub(crate) fn interpolate(s: &str, env: &Env) -> String {
    interpolate_depth(s, env, 0)
}

fn interpolate_depth(s: &str, env: &Env, depth: usize) -> String {
    if !s.contains('$') {
        return s.to_owned();
    }
    if depth > 8 {
        return ANY.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = closing_brace(inner) else {
                // An invalid template: compose refuses the file; what it would build is
                // not known.
                out.push(ANY);
                return out;
            };
            out.push_str(&braced(&inner[..end], env, depth));
            rest = &inner[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                // `$` before anything else is an invalid template too.
                out.push(ANY);
                rest = &after[end..];
                continue;
            }
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => out.push(ANY),
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// The index of the `}` that closes a `${`, counting nested `${…}` as compose-go does.
fn closing_brace(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut open = 1usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'}' => {
                open -= 1;
                if open == 0 {
                    return Some(i);
                }
            }
            b'{' => {
                open += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of one `${…}` body.
fn braced(body: &str, env: &Env, depth: usize) -> String {
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return ANY.to_string();
    }
    let op_text = &body[name_end..];
    let value = env.get(name);
    if op_text.is_empty() {
        return value.cloned().unwrap_or_else(|| ANY.to_string());
    }
    let (colon, op, arg) = match op_text.as_bytes() {
        [b':', c @ (b'-' | b'?' | b'+'), ..] => (true, *c, &op_text[2..]),
        [c @ (b'-' | b'?' | b'+'), ..] => (false, *c, &op_text[1..]),
        _ => return ANY.to_string(),
    };
    let set = value.filter(|v| !colon || !v.is_empty());
    match op {
        b'-' => match set {
            Some(v) => v.clone(),
            None => interpolate_depth(arg, env, depth + 1),
        },
        b'+' => match set {
            Some(_) => interpolate_depth(arg, env, depth + 1),
            None => value.cloned().unwrap_or_default(),
        },
        // `?`: the value when set; otherwise compose stops, so the environment must set it.
        _ => set.cloned().unwrap_or_else(|| ANY.to_string()),
    }
}

/// The variables of a `.env` file, as compose-go's dotenv parser reads them: `KEY=VALUE`
/// (or `KEY: VALUE`), `export KEY=…`, comments, single quotes (literal) and double quotes
/// (escapes, and `${…}` of earlier variables), unquoted values up to ` #`.
pub(crate) fn dotenv(text: &str) -> Env {
    let mut env = Env::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
            continue;
        }
        if let Some(r) = rest.strip_prefix("export") {
            if r.starts_with([' ', '\t']) {
                rest = r.trim_start();
            }
        }
        let Some(sep) = rest.find(['=', ':', '\n']) else {
            // A last name without a value: inherited from the environment, not known.
            break;
        };
        let key = rest[..sep].trim().to_owned();
        let inherited = rest.as_bytes()[sep] == b'\n';
        rest = &rest[sep + 1..];
        if inherited || key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        rest = rest.trim_start_matches([' ', '\t']);
        let value;
        match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                let mut chars = String::new();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in body.char_indices() {
                    if c == q && !escaped {
                        end = Some(i);
                        break;
                    }
                    if c == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if escaped {
                        escaped = false;
                        if c != q {
                            chars.push('\\');
                        }
                    }
                    chars.push(c);
                }
                let Some(end) = end else {
                    // Unterminated: compose refuses the file.
                    env.insert(key, ANY.to_string());
                    break;
                };
                rest = &body[end + 1..];
                rest = rest.split_once('\n').map_or("", |(_, r)| r);
                value = if q == '"' {
                    interpolate(&unescape(&chars), &env)
                } else {
                    chars
                };
            }
            _ => {
                let (line, r) = rest.split_once('\n').unwrap_or((rest, ""));
                rest = r;
                let line = line.split_once(" #").map_or(line, |(v, _)| v);
                value = interpolate(line.trim_end(), &env);
            }
        }
        env.insert(key, value);
    }
    env
}

/// Double-quoted escapes (`\n`, `\t`, `\\`, `\"`, `\$` stays a literal `$`).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('$') => out.push_str("$$"),
            Some(o @ ('\\' | '"')) => out.push(o),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from([
            ("A".to_owned(), "a".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ])
    }

    #[test]
    fn interpolation_as_compose_go() {
        let e = env();
        let any = ANY.to_string();
        for (text, want) in [
            ("x/${A}/$A", "x/a/a".to_owned()),
            ("$$A", "$A".to_owned()),
            ("${A:-d}${B:-d}${EMPTY:-d}${EMPTY-d}", "add".to_owned()),
            ("${B-${A}x}", "ax".to_owned()),
            (
                "${A:+alt}${B:+alt}${EMPTY:+alt}${EMPTY+alt}",
                "altalt".to_owned(),
            ),
            ("${B}", any.clone()),
            ("$B/x", format!("{ANY}/x")),
            ("${A:?err}", "a".to_owned()),
            ("${B:?err}", any.clone()),
            ("${EMPTY:?err}", any.clone()),
            ("${EMPTY?err}", String::new()),
            ("${A", any.clone()),
            ("${A:x}", any.clone()),
        ] {
            assert_eq!(interpolate(text, &e), want, "{text}");
        }
    }

    #[test]
    fn dotenv_files() {
        let e = dotenv(
            "# c\nA=1\nexport B = two words # comment\nC='lit ${A}'\nD=\"q ${A}\\n\"\nE: yaml\n\nF=${A}${G:-g}\nINHERITED\nH=\"a#b\" # c\n",
        );
        assert_eq!(e["A"], "1");
        assert_eq!(e["B"], "two words");
        assert_eq!(e["C"], "lit ${A}");
        assert_eq!(e["D"], "q 1\n");
        assert_eq!(e["E"], "yaml");
        assert_eq!(e["F"], "1g");
        assert_eq!(e["H"], "a#b");
        assert!(!e.contains_key("INHERITED"));
    }
}
