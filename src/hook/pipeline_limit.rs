//! GitLab creates branch and tag pipelines only for the first few ref updates of one push
//! (`Git::ProcessRefChangesService::PIPELINE_PROCESS_LIMIT`, 4; gitlab#38251; a
//! self-managed instance may set `git_push_pipeline_limit`). A ref that needs a rebuild
//! beyond that gets no pipeline from the push, request or not: the hook names such refs
//! (`gitlab_pipeline_refs`; 0: other servers, no warning).

use std::fmt::Write as _;

use super::stdin::PushUpdate;
use crate::render::escape::shell_word as sh_quote;

/// At most this many refs are named.
const MAX_REFS_NAMED: usize = 10;

/// The refs that need a rebuild and come after GitLab's per-push pipeline limit: GitLab
/// numbers a push's branch and tag updates in the order it receives them (git sends them
/// in the order of its pre-push input) and creates pipelines only for the first `limit`
/// (`Git::ProcessRefChangesService::PIPELINE_PROCESS_LIMIT`, gitlab#38251).
pub(super) fn after_pipeline_limit<'u>(
    updates: &'u [PushUpdate],
    rebuild: &[(&PushUpdate, usize)],
    limit: usize,
) -> Vec<&'u str> {
    if limit == 0 {
        return Vec::new();
    }
    let needs: std::collections::HashSet<usize> = rebuild.iter().map(|(u, _)| u.line).collect();
    updates
        .iter()
        .filter(|u| {
            u.remote_ref.starts_with("refs/heads/") || u.remote_ref.starts_with("refs/tags/")
        })
        .enumerate()
        .filter(|(i, u)| *i >= limit && needs.contains(&u.line))
        .map(|(_, u)| u.remote_ref.as_str())
        .collect()
}

pub(super) fn warn_pipeline_limit(
    msg: &mut String,
    late: &[&str],
    limit: usize,
    want: &str,
    remote: &str,
) {
    if late.is_empty() {
        return;
    }
    let names = late
        .iter()
        .take(MAX_REFS_NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = late.len().saturating_sub(MAX_REFS_NAMED);
    let _ = writeln!(
        msg,
        "dockguard: warning: GitLab creates pipelines only for the first {limit} branch/tag updates \
         of one push (gitlab#38251), so {} that need{} a rebuild may get no pipeline from this push: \
         {names}{}",
        late.len(),
        if late.len() == 1 { "s" } else { "" },
        if more > 0 { format!(" and {more} more") } else { String::new() }
    );
    let _ = writeln!(
        msg,
        "  push them separately (at most {limit} at a time), e.g. `git push -o {} {} {}`, or rely \
         on the CI's content-tag plan; `gitlab_pipeline_refs` sets the limit (0: no warning)",
        sh_quote(want),
        sh_quote(remote),
        sh_quote(late[0])
    );
}
