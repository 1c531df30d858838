//! Control flow as the shell runs it, as far as the values are known here: `if` /
//! `elif` / `else` on a `test` / `[ … ]` whose operands are known, `case` on a known
//! word, `while` / `until` whose condition is known false; everything else may or may
//! not run ([`Tri::Maybe`]): what it assigns becomes unknown, what it builds may be
//! built.

use super::super::super::dockerfile::ANY;

/// Whether something runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Maybe,
}

impl Tri {
    pub fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
        }
    }

    /// Whether either runs.
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Maybe,
        }
    }

    /// A branch tried after others: `taken` says whether one of those was.
    pub fn after(taken: Tri, this: Tri) -> Tri {
        match taken {
            Tri::Yes => Tri::No,
            Tri::No => this,
            Tri::Maybe if this == Tri::No => Tri::No,
            Tri::Maybe => Tri::Maybe,
        }
    }
}

/// An open compound command.
#[derive(Debug, Clone)]
pub enum Frame {
    /// `if`: the branch being read, and whether an earlier one ran.
    If { now: Tri, taken: Tri },
    /// `while` / `until` / `for` (a body is read once).
    Loop { now: Tri },
    /// `case WORD in`: the word (when known), the arm being read, whether an earlier arm
    /// ran, whether patterns are being read and those read so far.
    Case {
        subject: Option<String>,
        now: Tri,
        taken: Tri,
        patterns: Option<Vec<String>>,
    },
    /// `{ … }`.
    Group,
}

impl Frame {
    fn now(&self) -> Tri {
        match self {
            Frame::If { now, .. } | Frame::Loop { now } | Frame::Case { now, .. } => *now,
            Frame::Group => Tri::Yes,
        }
    }
}

/// Whether the commands inside `frames` run.
pub fn state(frames: &[Frame]) -> Tri {
    let mut s = Tri::Yes;
    for f in frames {
        match f.now() {
            Tri::No => return Tri::No,
            Tri::Maybe => s = Tri::Maybe,
            Tri::Yes => {}
        }
    }
    s
}

/// `test ARGS` / `[ ARGS ]` with expanded arguments.
pub fn test(args: &[String]) -> Tri {
    if let Some(("!", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        return test(rest).not();
    }
    let known = |s: &str| !s.contains(ANY);
    // A string with known text besides unknown parts is not empty.
    let empty = |s: &str| {
        if s.is_empty() {
            Tri::Yes
        } else if s.chars().any(|c| c != ANY) {
            Tri::No
        } else {
            Tri::Maybe
        }
    };
    match args {
        [] => Tri::No,
        [s] => empty(s).not(),
        [op, s] if op == "-z" => empty(s),
        [op, s] if op == "-n" => empty(s).not(),
        [a, op, b] if op == "=" || op == "==" || op == "!=" => {
            if !known(a) || !known(b) {
                return Tri::Maybe;
            }
            let eq = if a == b { Tri::Yes } else { Tri::No };
            if op == "!=" {
                eq.not()
            } else {
                eq
            }
        }
        [a, op, b] if ["-eq", "-ne", "-lt", "-le", "-gt", "-ge"].contains(&op.as_str()) => {
            let (Ok(a), Ok(b)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>()) else {
                return Tri::Maybe;
            };
            let r = match op.as_str() {
                "-eq" => a == b,
                "-ne" => a != b,
                "-lt" => a < b,
                "-le" => a <= b,
                "-gt" => a > b,
                _ => a >= b,
            };
            if r {
                Tri::Yes
            } else {
                Tri::No
            }
        }
        _ => Tri::Maybe,
    }
}

/// Whether a `case` pattern (`*`, `?`, `[…]` globs, alternatives already split) matches a
/// known word.
pub fn pattern(pattern: &str, word: &str) -> Tri {
    if pattern.contains(ANY) {
        return Tri::Maybe;
    }
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if matches!(chars.peek(), Some('!' | '^')) {
                    chars.next();
                    re.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' || d == '[' {
                        re.push('\\');
                    }
                    re.push(d);
                }
                re.push(']');
            }
            '\\' => {
                if let Some(d) = chars.next() {
                    re.push_str(&regex::escape(&d.to_string()));
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    match regex::Regex::new(&re) {
        Ok(re) if re.is_match(word) => Tri::Yes,
        Ok(_) => Tri::No,
        Err(_) => Tri::Maybe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Tri {
        test(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn tests_with_known_and_unknown_operands() {
        let any = ANY.to_string();
        assert_eq!(t(&["no", "=", "yes"]), Tri::No);
        assert_eq!(t(&["!", "no", "=", "yes"]), Tri::Yes);
        assert_eq!(t(&["-z", ""]), Tri::Yes);
        assert_eq!(t(&["-z", &format!("x{any}")]), Tri::No);
        assert_eq!(t(&["-n", &any]), Tri::Maybe);
        assert_eq!(t(&["2", "-ge", "1"]), Tri::Yes);
        assert_eq!(t(&[&any, "=", "yes"]), Tri::Maybe);
        assert_eq!(t(&["-f", "x"]), Tri::Maybe);
        assert_eq!(pattern("--dock*", "--docker"), Tri::Yes);
        assert_eq!(pattern("*", "a/b"), Tri::Yes);
        assert_eq!(pattern("--srcdir", "--docker"), Tri::No);
    }
}
