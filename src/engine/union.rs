//! Judging one tip against several comparisons at once, and combining the answers.
//!
//! A tip is compared with *every* merge-base (`git merge-base --all`: criss-cross merges
//! have several, and which one git prints depends on commit dates), and, when the branch
//! edits `.dockguard.toml`, under the merge-base's rules as well as the tip's (so a branch
//! cannot exclude its own dockerfile change). Each comparison is a complete
//! [`Judged`]; the verdict is their union: a path counts when any comparison counts it,
//! an image is affected when any comparison affects it. A union can only add to what one
//! comparison says, never take away.

use std::collections::{HashMap, HashSet};

use git2::Oid;

use crate::engine::changes::{Change, TreeChanges};
use crate::engine::matcher::PathRole;
use crate::images::graph::MAX_REASONS;
use crate::images::{AffectedImage, Judged};

/// The union, and which merge-base's comparison found what.
#[derive(Debug, Default)]
pub struct Union {
    /// What any comparison found.
    pub judged: Judged,
    /// Per change of `judged` (same order): the merge-bases whose comparison found it.
    pub found_by: Vec<Vec<Oid>>,
}

/// The union of several complete comparisons of the same tip, each with the merge-base
/// it compared with.
pub fn merge(all: Vec<(Oid, Judged)>) -> Union {
    let mut it = all.into_iter();
    let Some((first, mut out)) = it.next() else {
        return Union::default();
    };
    // Path -> the merge-bases whose comparison found it (a map: a branch may change
    // thousands of paths).
    let mut found: HashMap<Vec<u8>, Vec<Oid>> = out
        .changes
        .matched
        .iter()
        .map(|c| (c.path.clone(), vec![first]))
        .collect();
    for b in &mut out.builds {
        b.merge_base = Some(first);
    }
    // The largest total of changed paths any comparison saw: "other" is what the union
    // does not count of it.
    let mut total = out.changes.matched.len() + out.changes.other;
    for (base, j) in it {
        total = total.max(j.changes.matched.len() + j.changes.other);
        for c in &j.changes.matched {
            let bases = found.entry(c.path.clone()).or_default();
            if !bases.contains(&base) {
                bases.push(base);
            }
        }
        merge_changes(&mut out.changes, j.changes.matched);
        merge_images(&mut out.images, j.images);
        for mut b in j.builds {
            if !out.builds.iter().any(|x| x.image == b.image) {
                b.merge_base = Some(base);
                out.builds.push(b);
            }
        }
        for w in j.warnings {
            if !out.warnings.contains(&w) {
                out.warnings.push(w);
            }
        }
    }
    out.changes.other = total.saturating_sub(out.changes.matched.len());
    let found_by = out
        .changes
        .matched
        .iter()
        .map(|c| found.remove(&c.path).unwrap_or_default())
        .collect();
    Union {
        judged: out,
        found_by,
    }
}

fn merge_changes(into: &mut TreeChanges, more: Vec<Change>) {
    for c in more {
        match into.matched.iter_mut().find(|m| m.path == c.path) {
            Some(m) => {
                if c.role == PathRole::Dockerfile {
                    m.role = PathRole::Dockerfile;
                }
            }
            None => into.matched.push(c),
        }
    }
    into.matched.sort_by(|x, y| x.path.cmp(&y.path));
}

fn merge_images(into: &mut Vec<AffectedImage>, more: Vec<AffectedImage>) {
    for img in more {
        // The same dockerfile may be named differently under the other rules: one image.
        let found = into
            .iter_mut()
            .find(|i| i.dockerfile == img.dockerfile || i.name == img.name);
        match found {
            Some(have) => {
                let seen: HashSet<String> = have.reasons.iter().cloned().collect();
                let extra: Vec<String> = img
                    .reasons
                    .into_iter()
                    .filter(|r| !seen.contains(r) && !r.starts_with("and "))
                    .collect();
                have.reasons.retain(|r| !r.starts_with("and "));
                have.reasons.extend(extra);
                if have.reasons.len() > MAX_REASONS {
                    let more = have.reasons.len() - MAX_REASONS;
                    have.reasons.truncate(MAX_REASONS);
                    have.reasons.push(format!("and {more} more"));
                }
            }
            None => into.push(img),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::changes::ChangeKind;

    fn change(path: &str, role: PathRole) -> Change {
        Change {
            path: path.as_bytes().to_vec(),
            old_path: None,
            kind: ChangeKind::Modified,
            role,
            old_oid: Oid::ZERO_SHA1,
            new_oid: Oid::ZERO_SHA1,
        }
    }

    fn judged(paths: &[(&str, PathRole)], other: usize, images: &[(&str, &str)]) -> Judged {
        Judged {
            changes: TreeChanges {
                matched: paths.iter().map(|(p, r)| change(p, *r)).collect(),
                other,
            },
            images: images
                .iter()
                .map(|(n, why)| AffectedImage {
                    name: (*n).into(),
                    dockerfile: format!("{n}/Dockerfile"),
                    reasons: vec![(*why).into()],
                })
                .collect(),
            builds: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_union_only_adds() {
        let a = judged(&[("a/x", PathRole::Input)], 3, &[("a", "input a/x")]);
        let b = judged(
            &[("a/x", PathRole::Dockerfile), ("b/y", PathRole::Input)],
            2,
            &[("a", "dockerfile"), ("b", "input b/y")],
        );
        let (one, two) = (
            Oid::from_bytes(&[1; 20]).expect("oid"),
            Oid::from_bytes(&[2; 20]).expect("oid"),
        );
        let u = merge(vec![(one, a), (two, b)]);
        assert_eq!(
            u.found_by,
            vec![vec![one, two], vec![two]],
            "who found what"
        );
        let m = u.judged;
        let paths: Vec<&[u8]> = m.changes.matched.iter().map(|c| &c.path[..]).collect();
        assert_eq!(paths, vec![&b"a/x"[..], b"b/y"]);
        assert_eq!(m.changes.matched[0].role, PathRole::Dockerfile);
        assert_eq!(m.changes.other, 2, "4 changed paths, 2 counted");
        assert_eq!(m.images.len(), 2);
        assert_eq!(m.images[0].reasons, vec!["input a/x", "dockerfile"]);
        assert!(merge(Vec::new()).judged.changes.matched.is_empty());
    }
}
