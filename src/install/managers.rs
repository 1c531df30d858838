//! Hook managers (husky, pre-commit, lefthook): whether one is in charge of the pre-push
//! hook, and whether a `git push` really runs dockguard through it.
//!
//! A hook manager owns the hook files it generates and rewrites them (husky on every
//! `npm install`, `pre-commit install`, `lefthook install`), so `dockguard install` does
//! not write its shim there: it says which manager it found and exactly what to do so
//! that a push runs dockguard. `--force` installs the shim anyway (chaining the
//! manager's hook, as for any foreign hook).
//!
//! "Wired" is decided the way the push decides it, never by a text search: the configs
//! are parsed (a mention in a comment runs nothing; lefthook's `skip`, `only`, file
//! filters and `use_stdin`, pre-commit's `stages`), the manager's own hook must be
//! installed in the hooks directory git uses and be executable (git ignores it
//! otherwise), and the variables that switch a manager off (`LEFTHOOK=0`, `HUSKY=0`,
//! pre-commit's `SKIP`) count. Each gap comes with its fix.
//!
//! Their configurations are the work tree's files, which come from whoever pushed: they
//! are read only as regular files inside the checkout, capped ([`crate::fsx::read_below`]),
//! parsed with the bounded loader ([`crate::images::yaml`]), and never run.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git2::Repository;

use super::hooks_dir::HooksDir;
use crate::limits::MAX_HOOK_FILE_BYTES;
use crate::Env;

/// A hook manager in charge of this repository's pre-push hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    /// Its name.
    pub name: &'static str,
    /// What gave it away, for the message.
    pub evidence: String,
    /// Why a push does not run dockguard through it (empty: it does).
    pub gaps: Vec<String>,
    /// What to do about them, each exactly (a command to run, lines to add).
    pub fixes: Vec<String>,
    /// What else is worth knowing (not a gap).
    pub notes: Vec<String>,
}

impl Manager {
    pub(crate) fn new(name: &'static str, evidence: String) -> Self {
        Manager {
            name,
            evidence,
            gaps: Vec::new(),
            fixes: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a gap and its fix.
    pub(crate) fn gap(&mut self, why: String, fix: String) {
        self.gaps.push(why);
        if !self.fixes.contains(&fix) {
            self.fixes.push(fix);
        }
    }

    /// Whether a push runs dockguard through it.
    pub fn wired(&self) -> bool {
        self.gaps.is_empty()
    }
}

/// The line husky users add to `.husky/pre-push`.
pub const HUSKY_LINE: &str = "dockguard hook pre-push \"$@\"";

/// lefthook's `lefthook.yml` entry (`use_stdin` hands git's ref lines to dockguard).
pub const LEFTHOOK_SNIPPET: &str = "\
pre-push:
  commands:
    dockguard:
      run: dockguard hook pre-push {1} {2}
      use_stdin: true";

/// `.pre-commit-config.yaml` entry.
pub const PRE_COMMIT_SNIPPET: &str = "\
- repo: https://github.com/OWNER/dockguard   # or a local clone's path
  rev: v0.1.0                                 # a tag or commit of it
  hooks: [{id: dockguard-system}]             # `dockguard` builds it with cargo instead";

/// A manager's configuration in the work tree (`rel` below `root`): the checkout's files
/// come from whoever pushed, so a link (to `/dev/zero`, to any file of the machine), a
/// FIFO or an oversized file is not read (`None`, as if absent).
pub(crate) fn tree_file(root: &Path, rel: &str) -> Option<String> {
    match crate::fsx::read_below(root, Path::new(rel), MAX_HOOK_FILE_BYTES) {
        Ok(crate::fsx::Found::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

/// The hook file in the hooks directory, the same way (a link there is no manager's).
pub(crate) fn hook_file(p: &Path) -> String {
    crate::fsx::read_regular(p, MAX_HOOK_FILE_BYTES)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Whether git would run `p` as a hook: a file with an execute bit.
pub(crate) fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a shell script's text calls `needle` on a line that is not a comment.
pub(crate) fn runs(script: &str, needle: &str) -> bool {
    script.lines().any(|l| {
        let code = l.split(" #").next().unwrap_or_default().trim();
        !code.starts_with('#') && code.contains(needle)
    })
}

/// Every scalar inside a value, depth first (a list written flow or block style).
pub(crate) fn scalars(y: &crate::images::yaml::Y) -> Vec<String> {
    use crate::images::yaml::Y;
    match y {
        Y::Str(s, _) => vec![s.clone()],
        Y::Seq(v) => v.iter().flat_map(scalars).collect(),
        Y::Map(m) => m.iter().flat_map(|(_, v)| scalars(v)).collect(),
    }
}

/// The fix for a manager's hook that git ignores.
pub(crate) fn chmod_fix(hook: &Path) -> String {
    format!(
        "run: chmod +x {}",
        crate::render::escape::shell_word(&hook.display().to_string())
    )
}

/// The manager that owns the pre-push hook, if any, and whether it runs dockguard.
pub fn detect(repo: &Repository, hooks: &HooksDir, env: &Env) -> Option<Manager> {
    let root = repo.workdir()?;
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_string("core.hookspath").ok())
        .unwrap_or_default();
    let trimmed = configured.trim_end_matches('/');
    if trimmed.ends_with(".husky/_") || trimmed.ends_with(".husky") {
        return Some(husky(root, hooks, &configured, env));
    }
    if let Some(m) = super::precommit_cfg::detect(root, hooks, env) {
        return Some(m);
    }
    super::lefthook::detect(root, hooks, env)
}

/// husky: `core.hooksPath` is `.husky/_`, whose stubs run `.husky/pre-push` with `sh`.
fn husky(root: &Path, hooks: &HooksDir, configured: &str, env: &Env) -> Manager {
    let mut m = Manager::new("husky", format!("core.hooksPath = {configured}"));
    let add = format!("echo '{HUSKY_LINE}' >> .husky/pre-push");
    match tree_file(root, ".husky/pre-push") {
        Some(script) if runs(&script, "dockguard hook pre-push") => {}
        Some(_) => m.gap(
            ".husky/pre-push does not run dockguard (a mention in a comment runs nothing)".into(),
            format!("Add dockguard to husky instead:\n\n{add}"),
        ),
        None => m.gap(
            "there is no .husky/pre-push".into(),
            format!("Add dockguard to husky instead:\n\n{add}"),
        ),
    }
    // husky 9 (`.husky/_`): a stub per hook, written when husky runs in the clone;
    // husky 4-8 (`.husky`): `.husky/pre-push` is itself the hook git runs.
    let stub = hooks.path.join("pre-push");
    if trimmed_ends_with_stub_dir(configured) && !stub.is_file() {
        m.gap(
            format!(
                "husky's hooks are not installed ({} is missing)",
                stub.display()
            ),
            "run husky again in this clone, as the project does: `npm install` (package.json's `prepare` script runs husky) or `npx husky` where husky is installed".into(),
        );
    } else if stub.is_file() && !executable(&stub) {
        m.gap(
            format!("{} is not executable, so git ignores it", stub.display()),
            chmod_fix(&stub),
        );
    }
    if env.get("HUSKY") == Some("0") {
        m.gap(
            "HUSKY=0 is set here, which makes husky's hooks do nothing".into(),
            "unset HUSKY".into(),
        );
    }
    m
}

fn trimmed_ends_with_stub_dir(configured: &str) -> bool {
    configured.trim_end_matches('/').ends_with(".husky/_")
}

/// What a manager changes about what dockguard sees (`install` and `status` both say it).
pub fn caveat(m: &Manager) -> Option<&'static str> {
    (m.name == "pre-commit").then_some(
        "pre-commit passes dockguard one pushed ref; dockguard finds the others from the \
         `git push` command line and `git push --dry-run` (and stops the push when it cannot). \
         pre-commit runs no hook at all when every pushed commit is already on a \
         remote-tracking ref (a new branch at a pushed commit): `dockguard install --force` \
         runs dockguard's own hook, which sees every ref, before pre-commit's",
    )
}

/// `dockguard status`'s lines for a hook owned by a manager: what a push would do.
pub fn status(m: &Manager) -> String {
    let mut s = if m.wired() {
        format!(
            "pre-push:   via {} ({}): its configuration runs dockguard\n",
            m.name, m.evidence
        )
    } else {
        format!(
            "pre-push:   NOT installed: hooks are managed by {} ({}), and a push does not run dockguard: {}; `dockguard install` says what to do\n",
            m.name,
            m.evidence,
            m.gaps.join("; ")
        )
    };
    for n in &m.notes {
        s.push_str(&format!("            note: {n}\n"));
    }
    if let Some(c) = caveat(m) {
        s.push_str(&format!("            note: {c}\n"));
    }
    s
}

/// The message `dockguard install` prints instead of installing.
pub fn advice(m: &Manager) -> String {
    let mut extra: String = m.notes.iter().map(|n| format!("note: {n}\n")).collect();
    if let Some(c) = caveat(m) {
        extra.push_str(&format!("note: {c}\n"));
    }
    if m.wired() {
        return format!(
            "this repository's hooks are managed by {} ({}), and its configuration already runs dockguard: nothing to do\n{extra}",
            m.name, m.evidence
        );
    }
    let fixes: Vec<String> = m.fixes.iter().map(|f| indent(f)).collect();
    format!(
        "this repository's hooks are managed by {} ({}); not installing a hook that {} would overwrite.\nA push does not run dockguard yet: {}.\n\n{}\n\n(`dockguard install --force` installs dockguard's own hook anyway, chaining the existing one.)\n{extra}",
        m.name,
        m.evidence,
        m.name,
        m.gaps.join("; "),
        fixes.join("\n\n"),
    )
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_runs_nothing() {
        assert!(runs(
            "#!/bin/sh\ndockguard hook pre-push \"$@\"\n",
            "dockguard hook pre-push"
        ));
        assert!(!runs(
            "#!/bin/sh\n# dockguard hook pre-push \"$@\"\n",
            "dockguard hook pre-push"
        ));
        assert!(!runs(
            "true # dockguard hook pre-push\n",
            "dockguard hook pre-push"
        ));
        assert!(runs(
            "  dockguard hook pre-push {1} {2}",
            "dockguard hook pre-push"
        ));
    }
}
