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

/// Whether a `case` pattern (`*`, `?`, `[…]` globs; alternatives already split) matches
/// a known word.
pub fn pattern(pattern: &str, word: &str) -> Tri {
    if pattern.contains(ANY) {
        return Tri::Maybe;
    }
    let p: Vec<char> = pattern.chars().collect();
    let w: Vec<char> = word.chars().collect();
    match glob(&p, &w) {
        Some(true) => Tri::Yes,
        Some(false) => Tri::No,
        None => Tri::Maybe,
    }
}

/// fnmatch without flags (`*` matches `/` too); `None` for a malformed class.
fn glob(p: &[char], w: &[char]) -> Option<bool> {
    let Some((&c, rest)) = p.split_first() else {
        return Some(w.is_empty());
    };
    match c {
        '*' => {
            for k in 0..=w.len() {
                if glob(rest, &w[k..])? {
                    return Some(true);
                }
            }
            Some(false)
        }
        '?' => match w.split_first() {
            Some((_, wr)) => glob(rest, wr),
            None => Some(false),
        },
        '[' => {
            let (&x, wr) = match w.split_first() {
                Some(v) => v,
                None => return Some(false),
            };
            let end = rest.iter().skip(1).position(|&d| d == ']')? + 1;
            let class = &rest[..end];
            let (negate, class) = match class.split_first() {
                Some(('!' | '^', tail)) => (true, tail),
                _ => (false, class),
            };
            let mut hit = false;
            let mut k = 0;
            while k < class.len() {
                if k + 2 < class.len() && class[k + 1] == '-' {
                    hit |= class[k] <= x && x <= class[k + 2];
                    k += 3;
                } else {
                    hit |= class[k] == x;
                    k += 1;
                }
            }
            if hit != negate {
                glob(&rest[end + 1..], wr)
            } else {
                Some(false)
            }
        }
        '\\' => match (rest.split_first(), w.split_first()) {
            (Some((&e, pr)), Some((&x, wr))) if e == x => glob(pr, wr),
            _ => Some(false),
        },
        _ => match w.split_first() {
            Some((&x, wr)) if x == c => glob(rest, wr),
            _ => Some(false),
        },
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
        assert_eq!(pattern("[a-c]x", "bx"), Tri::Yes);
        assert_eq!(pattern("[!a-c]x", "bx"), Tri::No);
        assert_eq!(pattern("*.do?ker", "a.docker"), Tri::Yes);
    }
}
