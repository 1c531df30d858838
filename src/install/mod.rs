//! `dockguard install / uninstall / status`: the pre-push shim in the hooks directory
//! git really uses, without ever losing a user's hook.
//!
//! The hooks directory is resolved as git resolves it: `core.hooksPath` (a relative value
//! is relative to the work tree's root, where git runs hooks; `~/` expands), else the
//! *common* git dir's `hooks/` (linked worktrees share it), never `repo.path()/hooks`.
//!
//! Installing writes [`SHIM`] (hooks/pre-push in the sources: a POSIX sh script with a
//! marker line) with the absolute path of the running binary recorded in it. A foreign
//! `pre-push` is kept as [`CHAINED_NAME`] beside it (a hard link, then the shim renamed
//! over `pre-push`: bytes and mode kept, and a kill at any moment leaves either hook in
//! place) and run by the hook with the same argv and stdin; `uninstall` renames it back
//! (one rename). What a killed run leaves (a temporary shim, the lock, a second link to
//! the user's hook) is cleared by the next one. Installing
//! is refused, with `--force` explained, where it would be wrong: a hooks directory
//! outside the repository (shared by other repositories) or a `pre-push` that is a
//! symbolic link (we never write through one; `--force` moves the link itself aside).

pub mod hooks_dir;
mod lefthook;
pub mod managers;
mod precommit_cfg;
pub mod request_form;

pub use hooks_dir::hooks_dir;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use git2::Repository;

use crate::cli::InstallArgs;
use crate::context::{Context, Door};
use crate::error::{Error, Result};
pub use crate::hook::chain::CHAINED_NAME;
use crate::render::escape::shell_literal;
use crate::{write_out, Env};

/// The shim, as shipped in `hooks/pre-push`.
pub const SHIM: &str = include_str!("../../hooks/pre-push");

/// The line prefix that marks a pre-push hook as dockguard's.
pub const MARKER: &str = "# dockguard-managed-hook:";

/// The line `install` fills in with the binary's path.
const RECORDED: &str = "recorded=''";

/// A tracking ref older than this is called stale by `status`.
const STALE_DAYS: u64 = 7;

/// What is at `hooks/pre-push`.
#[derive(Debug)]
enum Existing {
    Absent,
    Ours(String),
    Foreign { symlink: bool },
}

fn classify(hook: &Path) -> Result<Existing> {
    let meta = match std::fs::symlink_metadata(hook) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(Error::io(format!("cannot inspect {}", hook.display()), e)),
    };
    if meta.file_type().is_symlink() {
        return Ok(Existing::Foreign { symlink: true });
    }
    if !meta.is_file() {
        return Err(Error::Hinted {
            message: format!("{} is not a file", hook.display()),
            hint: "move it away, then run dockguard install again".into(),
        });
    }
    // A hook in a committed `core.hooksPath` comes from whoever pushed: read at most a
    // cap, never through a link (a larger file is not dockguard's shim).
    let bytes = crate::fsx::read_regular(hook, crate::limits::MAX_HOOK_FILE_BYTES)
        .map_err(|e| Error::io(format!("cannot read {}", hook.display()), e))?;
    let Some(bytes) = bytes else {
        return Ok(Existing::Foreign { symlink: false });
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.lines().any(|l| l.starts_with(MARKER)) {
        Ok(Existing::Ours(text.into_owned()))
    } else {
        Ok(Existing::Foreign { symlink: false })
    }
}

/// The shim with `binary` recorded in it.
pub fn render_shim(binary: &Path) -> String {
    SHIM.replacen(
        RECORDED,
        &format!("recorded={}", shell_literal(&binary.display().to_string())),
        1,
    )
}

/// The binary path recorded in a shim, if any.
fn recorded_binary(shim: &str) -> Option<PathBuf> {
    let value = shim.lines().find_map(|l| l.strip_prefix("recorded="))?;
    let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(q) => q.replace(r"'\''", "'"),
        None => value.to_owned(),
    };
    (!value.is_empty()).then(|| PathBuf::from(value))
}

/// Serialises install/uninstall in one hooks directory: a classify-then-rename sequence
/// racing another one could chain our own shim over a user's hook and lose it (found by
/// `concurrent_installs_leave_one_hook_and_the_chained_original`). An exclusive create is
/// the lock; a lock older than [`LOCK_STALE`] belongs to a killed run and is taken over.
#[derive(Debug)]
struct DirLock(PathBuf);

const LOCK_NAME: &str = ".dockguard-install.lock";
const LOCK_STALE: std::time::Duration = std::time::Duration::from_secs(30);

impl DirLock {
    fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_NAME);
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(DirLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = holder_is_gone(&path)
                        || std::fs::metadata(&path)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| t.elapsed().ok())
                            .is_some_and(|age| age > LOCK_STALE);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() > LOCK_STALE {
                        return Err(Error::Hinted {
                            message: format!(
                                "another dockguard install/uninstall holds {}",
                                path.display()
                            ),
                            hint: "wait for it to finish, or remove the lock file if no dockguard is running".into(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(Error::io(format!("cannot create {}", path.display()), e));
                }
            }
        }
    }
}

/// Whether the lock's recorded process has ended (a killed install): on Linux, its
/// `/proc` entry is gone (elsewhere only [`LOCK_STALE`] tells). A lock with no pid a
/// second after its creation belongs to a run killed between creating and writing it
/// (a live one writes its pid right away).
fn holder_is_gone(lock: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return false;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => std::fs::metadata(lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(1)),
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Keeps the user's hook as [`CHAINED_NAME`] and puts the shim in its place, so that a
/// kill at any moment leaves the old state (their hook as `pre-push`) or the new one:
/// the shim is written first, the hook gets its second name by a hard link (the hook
/// itself stays in place), and one rename swaps the shim in. Moving the hook aside first
/// left no `pre-push` at all when a kill came before the shim was written.
fn chain_and_swap(hook: &Path, chained: &Path, shim: &str) -> Result<()> {
    let dir = hook.parent().unwrap_or_else(|| Path::new("."));
    let io = |e| Error::io(format!("cannot write {}", hook.display()), e);
    let mut tmp = crate::fsx::TempFile::new(dir, TMP_PREFIX, 0o755).map_err(io)?;
    tmp.write_all(shim.as_bytes()).map_err(io)?;
    // A link, not a copy: the bytes, mode and owner stay the user's, and a link to a
    // symbolic link (`--force`) is a link again (link(2) does not follow it).
    std::fs::hard_link(hook, chained).map_err(|e| {
        Error::io(
            format!("cannot keep {} as {}", hook.display(), chained.display()),
            e,
        )
    })?;
    if let Err(e) = tmp.persist(hook) {
        let _ = std::fs::remove_file(chained);
        return Err(io(e));
    }
    Ok(())
}

/// What a killed install or uninstall can leave, cleared by the next one (under the
/// lock, so no running one is writing them): its temporary shims, and a chained name
/// that is only a second link to the user's `pre-push` (the kill came between the link
/// and the swap; removing that name loses nothing).
fn clear_leftovers(hook: &Path, chained: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = hook.parent().unwrap_or_else(|| Path::new("."));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if let (Ok(h), Ok(c)) = (
        std::fs::symlink_metadata(hook),
        std::fs::symlink_metadata(chained),
    ) {
        if h.dev() == c.dev() && h.ino() == c.ino() {
            std::fs::remove_file(chained)
                .map_err(|e| Error::io(format!("cannot remove {}", chained.display()), e))?;
        }
    }
    Ok(())
}

/// The name prefix of a shim being written.
const TMP_PREFIX: &str = ".pre-push.dockguard-tmp.";

/// Writes the shim: a new file with a random name (created exclusively, links not
/// followed, mode 755 set on the handle), renamed over the hook. A fixed temporary name
/// (`.pre-push.dockguard-tmp.<pid>`) let a link planted there redirect the write and the
/// chmod to any file.
fn write_shim(hook: &Path, content: &str) -> Result<()> {
    let dir = hook.parent().unwrap_or_else(|| Path::new("."));
    let io = |e| Error::io(format!("cannot write {}", hook.display()), e);
    let mut tmp = crate::fsx::TempFile::new(dir, TMP_PREFIX, 0o755).map_err(io)?;
    tmp.write_all(content.as_bytes()).map_err(io)?;
    tmp.persist(hook).map_err(io)
}

/// A warning when others can write to the hooks directory: whoever can write there can
/// replace the hook (dockguard's or any other) and run code in every push.
fn writable_by_others(dir: &Path) -> Option<String> {
    let mode = std::fs::metadata(dir).ok()?.permissions().mode();
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (_, true) => "everyone",
        (true, false) => "its group",
        (false, false) => return None,
    };
    Some(format!(
        "warning: the hooks directory {} can be written by {who} (mode {:o}): anyone who can write there can replace the hook and run code in your pushes; chmod go-w {}\n",
        crate::render::escape::text(&dir.display().to_string()),
        mode & 0o7777,
        crate::render::escape::shell_word(&dir.display().to_string())
    ))
}

fn current_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot find the path of the running dockguard binary", e))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// The configured rebuild request and what it needs ([`request_form`]), or why the
/// settings cannot be read.
fn request_lines(repo: &Repository, env: &Env) -> String {
    match Context::load(repo, env, Door::Local, &[]) {
        Ok(ctx) => request_form::describe(&ctx.settings)
            .into_iter()
            .map(|l| l + "\n")
            .collect(),
        Err(e) => format!(
            "request:    unknown: the settings cannot be read: {}\n",
            e.render().replace('\n', "\n            ")
        ),
    }
}

/// `dockguard install`.
pub fn install(
    repo: &Repository,
    args: &InstallArgs,
    env: &Env,
    out: &mut dyn Write,
) -> Result<i32> {
    let mut msg = install_hook(repo, args, env)?;
    msg.push_str(&request_lines(repo, env));
    write_out(out, msg.as_bytes())?;
    Ok(0)
}

/// Installs the shim (or explains a hook manager's snippet); what to print.
fn install_hook(repo: &Repository, args: &InstallArgs, env: &Env) -> Result<String> {
    let hd = hooks_dir(repo)?;
    if !hd.inside && !args.force {
        return Err(Error::Hinted {
            message: format!(
                "refusing to install into {} ({}): it is outside this repository",
                hd.path.display(),
                hd.source
            ),
            hint: "hooks there run for every repository that shares the directory; install there anyway with `dockguard install --force`, or use this repository's own hooks: git config --local core.hooksPath .git/hooks (or --unset it)".into(),
        });
    }
    // Once dockguard's own hook is there (`--force` earlier), it is what a push runs,
    // as `status` says: update it rather than point at the manager.
    let ours = matches!(classify(&hd.path.join("pre-push")), Ok(Existing::Ours(_)));
    if !args.force && !ours {
        if let Some(m) = crate::install::managers::detect(repo, &hd, env) {
            return Ok(crate::install::managers::advice(&m));
        }
    }
    std::fs::create_dir_all(&hd.path)
        .map_err(|e| Error::io(format!("cannot create {}", hd.path.display()), e))?;
    let _lock = DirLock::acquire(&hd.path)?;
    let hook = hd.path.join("pre-push");
    let chained = hd.path.join(CHAINED_NAME);
    clear_leftovers(&hook, &chained)?;
    let binary = current_binary()?;
    let shim = render_shim(&binary);
    let mut msg = String::new();
    match classify(&hook)? {
        Existing::Absent => {
            write_shim(&hook, &shim)?;
            msg.push_str(&format!(
                "installed the pre-push hook: {}\n",
                hook.display()
            ));
        }
        Existing::Ours(current) if current == shim && is_executable(&hook) => {
            msg.push_str(&format!(
                "already installed: {} (nothing changed)\n",
                hook.display()
            ));
        }
        Existing::Ours(_) => {
            write_shim(&hook, &shim)?;
            msg.push_str(&format!("updated the pre-push hook: {}\n", hook.display()));
        }
        Existing::Foreign { symlink } => {
            if symlink && !args.force {
                let target = std::fs::read_link(&hook)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into());
                return Err(Error::Hinted {
                    message: format!(
                        "refusing to install: {} is a symbolic link (to {target})",
                        hook.display()
                    ),
                    hint: format!(
                        "dockguard never writes through a link (it may be shared or managed by another tool); `dockguard install --force` moves the link itself aside to {CHAINED_NAME} and runs it after dockguard's check"
                    ),
                });
            }
            if std::fs::symlink_metadata(&chained).is_ok() {
                return Err(Error::Hinted {
                    message: format!(
                        "refusing to install: {} is not dockguard's, and {} already exists; one of them would be lost",
                        hook.display(),
                        chained.display()
                    ),
                    hint: "keep the hook you want (merge or remove the other), then run dockguard install again".into(),
                });
            }
            chain_and_swap(&hook, &chained, &shim)?;
            msg.push_str(&format!(
                "installed the pre-push hook: {}\nyour existing pre-push hook is kept, unchanged, as {} and runs after dockguard's check (same arguments and input); dockguard uninstall puts it back\n",
                hook.display(),
                chained.display()
            ));
        }
    }
    msg.push_str(&format!(
        "hooks dir: {} ({})\nbinary:    {}\n",
        hd.path.display(),
        hd.source,
        binary.display()
    ));
    if let Some(w) = writable_by_others(&hd.path) {
        msg.push_str(&w);
    }
    if hd.path.components().any(|c| c.as_os_str() == ".husky") {
        msg.push_str("note: husky regenerates .husky/_ on install; if the hook disappears, run dockguard install again (or call `dockguard hook pre-push \"$@\"` from .husky/pre-push)\n");
    }
    Ok(msg)
}

/// `dockguard uninstall`.
pub fn uninstall(repo: &Repository, out: &mut dyn Write) -> Result<i32> {
    let hd = hooks_dir(repo)?;
    let lock = match std::fs::metadata(&hd.path) {
        Ok(_) => Some(DirLock::acquire(&hd.path)?),
        Err(_) => None,
    };
    let hook = hd.path.join("pre-push");
    let chained = hd.path.join(CHAINED_NAME);
    if lock.is_some() {
        clear_leftovers(&hook, &chained)?;
    }
    let has_chained = std::fs::symlink_metadata(&chained).is_ok();
    let msg = match classify(&hook)? {
        Existing::Ours(_) if has_chained => {
            std::fs::rename(&chained, &hook).map_err(|e| {
                Error::io(format!("cannot restore {}", chained.display()), e)
            })?;
            format!(
                "removed dockguard's pre-push hook and restored your previous one: {}\n",
                hook.display()
            )
        }
        Existing::Ours(_) => {
            std::fs::remove_file(&hook)
                .map_err(|e| Error::io(format!("cannot remove {}", hook.display()), e))?;
            format!("removed dockguard's pre-push hook: {}\n", hook.display())
        }
        Existing::Absent if has_chained => format!(
            "dockguard's hook is not installed in {}, but {CHAINED_NAME} is there; left as is (rename it to pre-push to use it again)\n",
            hd.path.display()
        ),
        Existing::Absent => format!("not installed: there is no pre-push hook in {}\n", hd.path.display()),
        Existing::Foreign { .. } => format!(
            "not installed: {} is not dockguard's; left untouched\n",
            hook.display()
        ),
    };
    write_out(out, msg.as_bytes())?;
    Ok(0)
}

/// `dockguard status`: what is installed, where, with which binary, against which
/// upstream (and how fresh), and every setting with where it came from.
pub fn status(repo: &Repository, env: &Env, out: &mut dyn Write) -> Result<i32> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "repository: {}",
        crate::git::repo::display_path(repo).display()
    );
    match hooks_dir(repo) {
        Ok(hd) => {
            let _ = writeln!(s, "hooks dir:  {} ({})", hd.path.display(), hd.source);
            if !hd.inside {
                let _ = writeln!(
                    s,
                    "            warning: outside this repository (shared with others)"
                );
            }
            hook_status(
                &mut s,
                &hd.path.join("pre-push"),
                &hd.path.join(CHAINED_NAME),
                crate::install::managers::detect(repo, &hd, env),
            )?;
            let default_hook = repo.commondir().join("hooks/pre-push");
            if hd.source.starts_with("core.hooksPath")
                && matches!(classify(&default_hook), Ok(Existing::Ours(_)))
            {
                let _ = writeln!(
                    s,
                    "            note: {} is dockguard's too, but git ignores it while core.hooksPath is set",
                    default_hook.display()
                );
            }
        }
        Err(e) => {
            let _ = writeln!(s, "hooks dir:  unknown: {e}");
        }
    }
    let me = current_binary()?;
    let on_path = find_on_path(env);
    let _ = writeln!(
        s,
        "binary:     {} (this one); PATH finds {}",
        me.display(),
        on_path.map_or_else(|| "no dockguard".to_owned(), |p| p.display().to_string())
    );
    // A doctor reports broken settings rather than dying of them.
    let ctx = match Context::load(repo, env, Door::Local, &[]) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = writeln!(
                s,
                "settings:   problem: {}",
                e.render().replace('\n', "\n            ")
            );
            write_out(out, crate::render::escape::lines(&s).as_bytes())?;
            return Ok(0);
        }
    };
    match ctx.upstream(repo) {
        Ok(up) => {
            let _ = writeln!(
                s,
                "upstream:   {} at {} ({})",
                up.refname,
                crate::git::short(&up.oid),
                up.chosen_by
            );
            let _ = writeln!(s, "            {}", freshness(repo, &up.refname));
        }
        Err(e) => {
            let _ = writeln!(s, "upstream:   problem: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(s, "            hint: {h}");
            }
        }
    }
    for line in request_form::describe(&ctx.settings) {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s, "settings (value, then where it comes from):");
    for (key, value, origin) in ctx.resolved().effective() {
        let _ = writeln!(s, "  {:<24} {:<34} {origin}", key.name, value);
    }
    write_out(out, crate::render::escape::lines(&s).as_bytes())?;
    Ok(0)
}

/// Says what runs dockguard on push. Where a hook manager owns the hook, it says what
/// `install` says: wired through the manager, or not yet (and `install` prints how).
fn hook_status(
    s: &mut String,
    hook: &Path,
    chained: &Path,
    manager: Option<crate::install::managers::Manager>,
) -> Result<()> {
    use std::fmt::Write as _;
    let existing = classify(hook);
    if let (Some(m), Ok(Existing::Absent | Existing::Foreign { .. })) = (&manager, &existing) {
        s.push_str(&crate::install::managers::status(m));
        return Ok(());
    }
    match existing {
        Ok(Existing::Ours(_)) if !is_executable(hook) => {
            let _ = writeln!(
                s,
                "pre-push:   NOT active: {} is dockguard's but not executable, so git ignores it (run: dockguard install)",
                hook.display()
            );
        }
        Ok(Existing::Ours(text)) => {
            let bin = recorded_binary(&text);
            let state = match &bin {
                Some(b) if is_executable(b) => format!("runs {}", b.display()),
                Some(b) => format!(
                    "records {}, which is MISSING: the hook falls back to PATH (reinstall: dockguard install)",
                    b.display()
                ),
                None => "records no binary: the hook uses PATH".into(),
            };
            let _ = writeln!(s, "pre-push:   installed ({}), {state}", hook.display());
            if std::fs::symlink_metadata(chained).is_ok() {
                let exec = if is_executable(chained) {
                    "runs after dockguard's check"
                } else {
                    "not executable, so ignored, as git would"
                };
                let _ = writeln!(
                    s,
                    "            chained hook: {} ({exec})",
                    chained.display()
                );
            }
        }
        Ok(Existing::Absent) => {
            let _ = writeln!(s, "pre-push:   NOT installed (run: dockguard install)");
        }
        Ok(Existing::Foreign { symlink }) => {
            let _ = writeln!(
                s,
                "pre-push:   NOT installed: {} is another tool's hook{} (dockguard install chains it)",
                hook.display(),
                if symlink { " (a symbolic link)" } else { "" }
            );
        }
        Err(e) => {
            let _ = writeln!(s, "pre-push:   problem: {e}");
        }
    }
    Ok(())
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn find_on_path(env: &Env) -> Option<PathBuf> {
    std::env::split_paths(env.get("PATH")?)
        .map(|d| d.join("dockguard"))
        .find(|p| is_executable(p))
}

/// How long ago the tracking ref was last fetched: its reflog's newest entry (it moved),
/// or `FETCH_HEAD` when that records this branch of this remote (a fetch that found it
/// unchanged writes no reflog entry, so the reflog alone kept calling a ref stale right
/// after the `git fetch` the warning asks for).
fn freshness(repo: &Repository, refname: &str) -> String {
    let (remote, branch) = refname
        .strip_prefix("refs/remotes/")
        .and_then(|r| r.split_once('/'))
        .unwrap_or(("upstream", ""));
    let moved = repo
        .reflog(refname)
        .ok()
        .and_then(|log| log.get(0).map(|e| e.committer().when().seconds()))
        .map(|t| (u64::try_from(t).unwrap_or(0), "reflog"));
    let fetched = fetched_at(repo, remote, branch).map(|t| (t, "last fetch"));
    let Some((then, source)) = moved.into_iter().chain(fetched).max() else {
        return format!("last updated: unknown (no reflog for {refname})");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let age = now.saturating_sub(then);
    let text = format!("last updated {} ago ({source})", human_age(age));
    if age > STALE_DAYS * 86_400 {
        format!("warning: {text}: older than {STALE_DAYS} days; run `git fetch {remote}` so pushes are judged against today's master")
    } else {
        text
    }
}

/// When `FETCH_HEAD` was written, if it records `branch` of `remote` (git writes
/// `branch 'B' of URL`, with the URL's trailing `/` and `.git` dropped).
fn fetched_at(repo: &Repository, remote: &str, branch: &str) -> Option<u64> {
    let found = repo.find_remote(remote).ok()?;
    let url = found.url().ok()?.to_owned();
    let trim = |u: &str| -> String {
        let u = u.trim_end_matches('/');
        u.strip_suffix(".git")
            .unwrap_or(u)
            .trim_end_matches('/')
            .to_owned()
    };
    let wanted = format!("branch '{branch}' of {}", trim(&url));
    let file = repo.path().join("FETCH_HEAD");
    let bytes = crate::fsx::read_regular(&file, crate::limits::MAX_HOOK_FILE_BYTES)
        .ok()
        .flatten()?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.lines().any(|l| trim(l).ends_with(&wanted)) {
        return None;
    }
    let modified = std::fs::metadata(&file).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

fn human_age(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s < 120 => (s, "second"),
        s if s < 7_200 => (s / 60, "minute"),
        s if s < 172_800 => (s / 3_600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_records_the_binary_once_and_reads_it_back() {
        assert_eq!(SHIM.matches(RECORDED).count(), 1);
        assert!(SHIM.lines().any(|l| l.starts_with(MARKER)));
        let s = render_shim(Path::new("/opt/it's here/dockguard"));
        assert!(s.contains(r"recorded='/opt/it'\''s here/dockguard'"), "{s}");
        assert_eq!(
            recorded_binary(&s),
            Some(PathBuf::from("/opt/it's here/dockguard"))
        );
        assert_eq!(recorded_binary(SHIM), None);
        let plain = render_shim(Path::new("/usr/bin/dockguard"));
        assert_eq!(
            recorded_binary(&plain),
            Some(PathBuf::from("/usr/bin/dockguard"))
        );
    }

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(human_age(5), "5 seconds");
        assert_eq!(human_age(60 * 60), "60 minutes");
        assert_eq!(human_age(3 * 3600), "3 hours");
        assert_eq!(human_age(86_400 * 9), "9 days");
    }
}
