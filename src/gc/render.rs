//! How `dockguard gc`'s report looks: a table for people, JSON for scripts
//! (schema/gc.schema.json).

use std::fmt::Write;

use super::{GcReport, Verdict};
use crate::render::outputs::one_line;

/// The JSON report.
pub(crate) fn json(r: &GcReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| {
        format!(
            "{{\"version\":{},\"error\":{:?}}}",
            r.version,
            e.to_string()
        )
    });
    s.push('\n');
    s
}

/// `1.5 MB`-style sizes (powers of 1000, as registries show them).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 0 => "future".into(),
        Some(s) if s < 3600 => format!("{}m", s / 60),
        Some(s) if s < 172_800 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86_400),
    }
}

/// The table: one line per tag (garbage first), then the totals.
pub(crate) fn table(r: &GcReport) -> String {
    let mut out = String::new();
    let mut rows: Vec<_> = r.tags.iter().collect();
    rows.sort_by_key(|t| {
        (
            t.verdict != Verdict::Garbage,
            t.repository.clone(),
            t.tag.clone(),
        )
    });
    let _ = writeln!(
        out,
        "{:<8} {:<48} {:<19} {:>9} {:>6}  WHY",
        "ACTION", "IMAGE:TAG", "DIGEST", "SIZE", "AGE"
    );
    for t in rows {
        let action = match (t.verdict, t.deleted, r.dry_run) {
            (Verdict::Keep, _, _) => "keep",
            (Verdict::Garbage, true, _) => "deleted",
            (Verdict::Garbage, false, true) => "garbage",
            (Verdict::Garbage, false, false) => "FAILED",
        };
        let name = t.repository.rsplit('/').next().unwrap_or(&t.repository);
        let digest = t.digest.get(..19).unwrap_or(&t.digest);
        let _ = writeln!(
            out,
            "{action:<8} {:<48} {digest:<19} {:>9} {:>6}  {}",
            one_line(&format!("{name}:{}", t.tag)),
            bytes(t.size),
            age(t.age_seconds),
            one_line(&t.why)
        );
    }
    let verb = if r.dry_run { "would free" } else { "freed" };
    let _ = writeln!(
        out,
        "{} tag(s) kept, {} garbage, {} deleted; {verb} {} ({} live commit(s) of {}, history {} of {}, grace {} s){}",
        r.counts.kept,
        r.counts.garbage,
        r.counts.deleted,
        bytes(r.bytes_freed),
        r.live_commits,
        one_line(&r.remote),
        r.history,
        one_line(&r.default_branch),
        r.grace_seconds,
        if r.dry_run && r.counts.garbage > 0 {
            "; dry run: add --delete to delete them"
        } else {
            ""
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_as_registries_show_them() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(age(Some(7200)), "2h");
        assert_eq!(age(Some(864_000)), "10d");
        assert_eq!(age(None), "-");
    }
}
