//! The live set: which content tag of which image some ref may still pull. Every branch
//! and tag the remote has now (asked with `git ls-remote`, not read from possibly stale
//! remote-tracking refs), the last N commits of the default branch, and the commits CI
//! names (`--keep`). Each commit's content tags are computed exactly as `dockguard plan`
//! computes them, from that commit's own rules.
//!
//! Nothing here guesses: a remote that does not answer, a ref whose commit this clone
//! lacks, a shallow clone, or a content tag that cannot be computed is an error, and the
//! caller then deletes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Stdio;

use git2::{Oid, Repository};

use crate::context::{Context, Door};
use crate::error::{Error, Result};
use crate::hook::git_command;
use crate::images::tag;
use crate::plan::repository_name;
use crate::render::outputs::one_line;
use crate::Env;

/// A commit that is live, and the first few reasons why (for the report).
#[derive(Debug, Clone)]
pub(crate) struct LiveCommit {
    pub oid: Oid,
    pub why: Vec<String>,
}

/// Per image repository (the component name under the registry image), the live content
/// tags and, for each, why it is live.
pub(crate) type LiveTags = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// What the remote has: its refs (name, commit) and the branch its `HEAD` names.
#[derive(Debug, Default)]
pub(crate) struct RemoteRefs {
    pub refs: Vec<(String, Oid)>,
    pub head: Option<String>,
}

/// The hint for every "fetch first" failure (`shallow`: the clone also needs its history).
fn fetch_hint(remote: &str, shallow: bool) -> String {
    format!(
        "fetch every branch and tag, then run gc again: git fetch{} --tags {} '+refs/heads/*:refs/remotes/{}/*'",
        if shallow { " --unshallow" } else { "" },
        one_line(remote),
        one_line(remote)
    )
}

/// `git ls-remote --symref REMOTE`: the remote's branches and tags (annotated tags peeled
/// to what they name), and its `HEAD` branch.
pub(crate) fn remote_refs(repo: &Repository, env: &Env, remote: &str) -> Result<RemoteRefs> {
    if remote.is_empty() || remote.starts_with('-') {
        return Err(Error::Usage(format!(
            "--remote `{}` is not a remote name or URL",
            one_line(remote)
        )));
    }
    let out = git_command(repo, env)
        .args(["ls-remote", "--symref", "--end-of-options", remote])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run git ls-remote", e))?;
    if !out.status.success() {
        return Err(Error::Hinted {
            message: format!(
                "cannot list the refs of remote `{}`, so nothing can be known to be unused: git ls-remote said: {}",
                one_line(remote),
                one_line(String::from_utf8_lossy(&out.stderr).trim())
            ),
            hint: format!("check that this works: git ls-remote {}", one_line(remote)),
        });
    }
    parse_ls_remote(&String::from_utf8_lossy(&out.stdout))
}

/// Parses `git ls-remote --symref` output: `ref: refs/heads/X<TAB>HEAD` and
/// `<oid><TAB><refname>` lines; `<tag>^{}` lines replace the tag object's id.
pub(crate) fn parse_ls_remote(text: &str) -> Result<RemoteRefs> {
    let mut out = RemoteRefs::default();
    let mut by_name: BTreeMap<String, Oid> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ref: ") {
            if let Some((target, "HEAD")) = rest.split_once('\t') {
                out.head = target.strip_prefix("refs/heads/").map(str::to_owned);
            }
            continue;
        }
        let Some((oid, name)) = line.split_once('\t') else {
            return Err(Error::Corrupt(format!(
                "git ls-remote printed a line it never prints: `{}`",
                one_line(line)
            )));
        };
        let oid = Oid::from_str(oid).map_err(|_| {
            Error::Corrupt(format!(
                "git ls-remote printed `{}` as an object id",
                one_line(oid)
            ))
        })?;
        let (name, peeled) = match name.strip_suffix("^{}") {
            Some(n) => (n, true),
            None => (name, false),
        };
        if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
            continue;
        }
        if peeled || !by_name.contains_key(name) {
            by_name.insert(name.to_owned(), oid);
        }
    }
    out.refs = by_name.into_iter().collect();
    Ok(out)
}

/// Every live commit: the remote's refs, the default branch's last `history` commits,
/// and `keep` (revisions CI names). Fails when any of them is not in this clone.
pub(crate) fn live_commits(
    repo: &Repository,
    remote: &str,
    refs: &RemoteRefs,
    default_branch: &str,
    history: usize,
    keep: &[String],
) -> Result<Vec<LiveCommit>> {
    if repo.is_shallow() {
        return Err(Error::Hinted {
            message: "this clone is shallow: the default branch's history window cannot be walked, so nothing can be known to be unused".into(),
            hint: fetch_hint(remote, true),
        });
    }
    let mut live: Vec<LiveCommit> = Vec::new();
    let mut index: HashMap<Oid, usize> = HashMap::new();
    let mut add = |oid: Oid, why: String| {
        let i = *index.entry(oid).or_insert_with(|| {
            live.push(LiveCommit {
                oid,
                why: Vec::new(),
            });
            live.len() - 1
        });
        if live[i].why.len() < 3 {
            live[i].why.push(why);
        }
    };
    let mut default_tip = None;
    for (name, oid) in &refs.refs {
        let commit = peel_commit(repo, *oid, name, remote)?;
        let Some(commit) = commit else { continue };
        if name.strip_prefix("refs/heads/") == Some(default_branch) {
            default_tip = Some(commit);
        }
        add(commit, name.clone());
    }
    let Some(tip) = default_tip else {
        return Err(Error::Hinted {
            message: format!(
                "remote `{}` has no branch `{}`, so the default branch's history window is unknown",
                one_line(remote),
                one_line(default_branch)
            ),
            hint: format!(
                "name the default branch: dockguard gc --default-branch BRANCH (see git ls-remote {} 'refs/heads/*')",
                one_line(remote)
            ),
        });
    };
    let mut walk = repo
        .revwalk()
        .map_err(|e| Error::git("cannot walk the default branch's history", e))?;
    walk.push(tip)
        .and_then(|()| walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME))
        .map_err(|e| Error::git("cannot walk the default branch's history", e))?;
    for (n, oid) in walk.take(history).enumerate() {
        let oid = oid.map_err(|e| {
            Error::git(
                format!("cannot walk the history of `{}`", one_line(default_branch)),
                e,
            )
        })?;
        add(oid, format!("{default_branch}~{n} (history window)"));
    }
    for rev in keep {
        let oid = crate::git::repo::resolve_commit(repo, rev)?;
        add(oid, format!("--keep {}", one_line(rev)));
    }
    Ok(live)
}

/// The commit a remote ref names, `None` for a tag of something else (a tree or a blob
/// has no images); an error when this clone lacks the object.
fn peel_commit(repo: &Repository, oid: Oid, name: &str, remote: &str) -> Result<Option<Oid>> {
    let missing = || {
        Error::Hinted {
        message: format!(
            "remote `{}` has {} at {oid}, which this clone does not have, so its images' tags are unknown",
            one_line(remote),
            one_line(name)
        ),
        hint: fetch_hint(remote, false),
    }
    };
    let obj = repo.find_object(oid, None).map_err(|_| missing())?;
    Ok(obj.peel(git2::ObjectType::Commit).ok().map(|c| c.id()))
}

/// The content tag of every image at every live commit, by image repository name. Trees
/// seen before are not computed again (a tag of `master` costs nothing more).
pub(crate) fn live_tags(repo: &Repository, env: &Env, commits: &[LiveCommit]) -> Result<LiveTags> {
    // As `dockguard plan` reads its settings (the CI door): the tags must be the ones the
    // pipelines pushed, or gc would call live images garbage.
    let ctx = Context::load(repo, env, Door::Ci, &[])?;
    let mut by_tree: HashMap<Oid, Vec<(String, String)>> = HashMap::new();
    let mut out: LiveTags = BTreeMap::new();
    for lc in commits {
        let label = lc
            .why
            .first()
            .cloned()
            .unwrap_or_else(|| lc.oid.to_string());
        let commit = repo
            .find_commit(lc.oid)
            .map_err(|e| Error::git(format!("cannot read commit {} ({label})", lc.oid), e))?;
        let tree_id = commit.tree_id();
        let tags = match by_tree.entry(tree_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(tags_at(repo, &ctx, &commit, &label)?)
            }
        };
        for (component, t) in tags.iter() {
            let why = out
                .entry(component.clone())
                .or_default()
                .entry(t.clone())
                .or_default();
            for w in &lc.why {
                if why.len() < 3 && !why.contains(w) {
                    why.push(w.clone());
                }
            }
        }
    }
    Ok(out)
}

/// `(image repository name, content tag)` of every image at `commit`.
fn tags_at(
    repo: &Repository,
    ctx: &Context,
    commit: &git2::Commit<'_>,
    label: &str,
) -> Result<Vec<(String, String)>> {
    let fail = |e: Error| {
        Error::Hinted {
        message: format!(
            "cannot compute the content tags at {} ({label}), so nothing can be known to be unused: {}",
            crate::git::short(&commit.id()),
            e.to_string().trim()
        ),
        hint: format!(
            "see what fails: dockguard images {}",
            crate::git::short(&commit.id())
        ),
    }
    };
    let tree = commit
        .tree()
        .map_err(|e| Error::git(format!("cannot read the tree of {label}"), e))?;
    let catalog = crate::images::cmd::catalog_at(repo, ctx, commit, label).map_err(fail)?;
    let set = catalog.image_set(repo, tree.id()).map_err(fail)?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, t) in tag::all_tags(repo, &set, &tree) {
        let t = t.map_err(fail)?;
        if seen.insert((name.clone(), t.clone())) {
            out.push((repository_name(&name), t));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_remote_lines_become_branches_tags_and_head() {
        let a = "1111111111111111111111111111111111111111";
        let b = "2222222222222222222222222222222222222222";
        let c = "3333333333333333333333333333333333333333";
        let text = format!(
            "ref: refs/heads/main\tHEAD\n{a}\tHEAD\n{a}\trefs/heads/main\n{b}\trefs/tags/v1\n{c}\trefs/tags/v1^{{}}\n{b}\trefs/merge-requests/1/head\n"
        );
        let r = parse_ls_remote(&text).expect("parses");
        assert_eq!(r.head.as_deref(), Some("main"));
        let names: Vec<(&str, String)> = r
            .refs
            .iter()
            .map(|(n, o)| (n.as_str(), o.to_string()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("refs/heads/main", a.to_owned()),
                ("refs/tags/v1", c.to_owned())
            ]
        );
        assert!(parse_ls_remote("garbage\n").is_err());
        assert!(parse_ls_remote("zz\trefs/heads/x\n").is_err());
    }
}
