//! Files in places someone else may have prepared: the work tree of a clone (whoever
//! pushed chose every path in it, and any of them can be a symbolic link to any file of
//! the machine, `/proc/self/environ` or `/dev/zero`), `.git/` (a planted link or FIFO at a
//! predictable name), a hooks directory. Every file dockguard opens there goes through
//! here; a leaf module (no crate imports), so any layer may use it.
//!
//! Reads:
//! - a file the work tree holds ([`read_below`]: `.dockguard.toml`, hook managers'
//!   configurations) is opened one component at a time below a trusted root with
//!   `openat(O_NOFOLLOW)`: no link is followed anywhere below the root, and the file that
//!   was checked is the one read (no window between a check and an open for a link to be
//!   swapped in). It must be a regular file of at most a cap; anything else is refused
//!   with the reason ([`Refused`]), and nothing of it is read, so no error can quote it;
//! - dockguard's own files (the memos in `.git/dockguard/`) are read the same way
//!   ([`read_regular`]: the last component), and a refusal only means "not there";
//! - every open is `O_NONBLOCK`, so a FIFO is refused instead of waited on forever, and
//!   `O_NOCTTY`; only a regular file is then read, and never more than its cap (it may
//!   grow while read).
//!
//! Files the machine or the CI runner owns (`GITHUB_EVENT_PATH`, a docker `config.json`,
//! `/proc`) are read where they are used, links followed: where they point is that
//! machine's own choice. Files named by a tree are read from git objects wherever the
//! commit, not the work tree, is what is judged (dockerfiles, ignore files, declaration
//! files, the commits' `.dockguard.toml`).
//!
//! Writes, for every file dockguard writes (outputs, temporary files, the memos, the hook
//! shim):
//! - a new file always gets a random name ([`random_token`]) and is opened with
//!   `create_new` (`O_EXCL`, which never follows a symbolic link) and `O_NOFOLLOW`, so
//!   nothing planted at a guessable name is written through;
//! - its permissions are set on the open handle (`fchmod`), never by path;
//! - it replaces its destination by `rename`, which replaces a link rather than writing
//!   to what it points at.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

/// How many random names are tried before giving up (each is 128 random bits).
const ATTEMPTS: u32 = 16;

fn no_follow(opts: &mut OpenOptions) -> &mut OpenOptions {
    opts.custom_flags(libc::O_NOFOLLOW)
}

/// What a careful read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// The file's bytes: a regular file, reached without following a link, within the cap.
    Bytes(Vec<u8>),
    /// Nothing there (no such file, or a directory on the way is missing).
    Missing,
    /// Something is there that is not read, and why.
    Refused(Refused),
}

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The path (below the root) that was refused: the file, or a component on the way.
    pub at: PathBuf,
    /// Why.
    pub why: Why,
}

/// What was wrong with [`Refused::at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A symbolic link.
    Link,
    /// A component on the way that is not a directory.
    NotADirectory,
    /// Not a regular file: `what` it is instead ("a FIFO", "a directory", …).
    NotRegular(&'static str),
    /// A regular file larger than the cap (`size` is at least `max + 1`).
    TooLarge {
        /// Its size, as far as it was looked at.
        size: u64,
        /// The cap.
        max: u64,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Link => f.write_str("is a symbolic link"),
            Why::NotADirectory => f.write_str("is not a directory"),
            Why::NotRegular(what) => write!(f, "is {what}, not a regular file"),
            Why::TooLarge { size, max } => {
                write!(f, "is {size} bytes, more than the {max} dockguard reads")
            }
        }
    }
}

/// Opens `name` relative to `dir` (the current directory when `None`), close-on-exec.
fn open_at(dir: Option<&OwnedFd>, name: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let name = CString::new(name.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    #[allow(unsafe_code)]
    // SAFETY: `name` is a NUL-terminated string that outlives the call, `dirfd` is
    // AT_FDCWD or a descriptor borrowed for the call; a non-negative result is a new
    // descriptor that nothing else owns, so `OwnedFd` may take it (and close it once).
    unsafe {
        let fd = libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// What a file type is, for a refusal.
fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Reads `root/rel`, where `root` is trusted (opened as given, links followed: it is the
/// work tree or the git dir, wherever the user keeps it) and `rel` is a relative path
/// below it of which no component may be a link. The file must be a regular file of at
/// most `max` bytes. Errors are the OS's other failures (permission denied, I/O errors).
pub fn read_below(root: &Path, rel: &Path, max: u64) -> std::io::Result<Found> {
    let names: Vec<&Path> = rel
        .components()
        .map(|c| match c {
            Component::Normal(n) => Ok(Path::new(n)),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect::<Result<_, _>>()?;
    let Some((last, dirs)) = names.split_last() else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    let mut at = PathBuf::new();
    // Why an open failed: a link or the wrong kind of file (looked at without following
    // it, only to word the refusal: nothing was opened), else the OS's error.
    let refusal = |at: &Path, e: std::io::Error, want_dir: bool| -> std::io::Result<Found> {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Ok(Found::Missing);
        }
        let why = match std::fs::symlink_metadata(root.join(at)) {
            Ok(m) if m.file_type().is_symlink() => Why::Link,
            Ok(m) if want_dir && !m.is_dir() => Why::NotADirectory,
            Ok(m) if !want_dir && !m.is_file() => Why::NotRegular(kind_of(m.file_type())),
            _ => return Err(e),
        };
        Ok(Found::Refused(Refused {
            at: at.to_path_buf(),
            why,
        }))
    };
    let mut dir = match open_at(None, root, libc::O_RDONLY | libc::O_DIRECTORY) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(e),
    };
    let nofollow = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    for name in dirs {
        at.push(name);
        dir = match open_at(Some(&dir), name, nofollow | libc::O_DIRECTORY) {
            Ok(d) => d,
            Err(e) => return refusal(&at, e, true),
        };
    }
    at.push(last);
    let file = match open_at(Some(&dir), last, nofollow) {
        Ok(f) => File::from(f),
        Err(e) => return refusal(&at, e, false),
    };
    let meta = file.metadata()?;
    let refused = |why| {
        Ok(Found::Refused(Refused {
            at: at.clone(),
            why,
        }))
    };
    if !meta.is_file() {
        return refused(Why::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > max {
        return refused(Why::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let mut bytes = Vec::new();
    // The size may change under us: never read more than the cap.
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return refused(Why::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(Found::Bytes(bytes))
}

/// Reads one of dockguard's own files (a memo): [`read_below`] its directory, so the
/// file must be a regular file, not a link, of at most `max` bytes. `Ok(None)` when it is
/// missing or anything else (a FIFO is not waited on).
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(None);
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok(match read_below(dir, Path::new(name), max)? {
        Found::Bytes(b) => Some(b),
        Found::Missing | Found::Refused(_) => None,
    })
}

/// 32 hex digits from `/dev/urandom`, else from the time, the pid and a counter hashed
/// (unpredictable enough for a temporary name or a heredoc delimiter; no crate needed).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let from_os = File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !from_os {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = format!("{nanos}-{}-{:p}", std::process::id(), &bytes);
        let oid = git2::Oid::hash_object(git2::ObjectType::Blob, seed.as_bytes())
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_default();
        for (b, o) in bytes.iter_mut().zip(oid) {
            *b = o;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new file with a random name `<prefix><random>` in `dir`, created exclusively,
/// without following links, with permissions `mode` set on the handle. Removed when
/// dropped unless [`TempFile::persist`] renamed it.
#[derive(Debug)]
pub struct TempFile {
    file: Option<File>,
    path: PathBuf,
}

impl TempFile {
    /// Creates it.
    pub fn new(dir: &Path, prefix: &str, mode: u32) -> std::io::Result<Self> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let path = dir.join(format!("{prefix}{}", random_token()));
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            opts.mode(0o600);
            match no_follow(&mut opts).open(&path) {
                Ok(file) => {
                    // By handle: the umask does not apply, and no path is looked up again.
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                    return Ok(TempFile {
                        file: Some(file),
                        path,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
    }

    /// Its path.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Err(std::io::Error::other("temporary file already closed")),
        }
    }

    /// Closes it and renames it to `dest` (replacing `dest`, or the link at `dest`).
    pub fn persist(mut self, dest: &Path) -> std::io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_data().ok();
        }
        std::fs::rename(&self.path, dest)?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Replaces `dest` with `bytes` atomically (a [`TempFile`] beside it, renamed over it),
/// with permissions `mode`. A link at `dest` is replaced, never written through.
pub fn replace(dest: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = TempFile::new(dir, &format!(".{name}.dockguard-tmp."), mode)?;
    tmp.write_all(bytes)?;
    tmp.persist(dest)
}

/// The first component of `path` (as given: relative paths only, below the current
/// directory) that is a symbolic link, if any. Absolute paths are the caller's choice
/// (`/var/run` is a link on many systems); a relative one names something in the
/// checkout, which whoever pushed may have made a link.
pub fn linked_component(path: &Path) -> Option<PathBuf> {
    let mut at = PathBuf::new();
    if path.is_absolute() {
        return std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_symlink())
            .map(|_| path.to_path_buf());
    }
    for comp in path.components() {
        at.push(comp);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_random_exclusive_and_cleaned_up() {
        let dir = scratch("w");
        let a = TempFile::new(&dir, ".t.", 0o755).expect("a");
        let b = TempFile::new(&dir, ".t.", 0o644).expect("b");
        assert_ne!(a.path(), b.path());
        let mode = std::fs::metadata(a.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "set on the handle, umask or not");
        let pa = a.path().to_path_buf();
        drop(a);
        assert!(!pa.exists(), "dropped: removed");
        let dest = dir.join("dest");
        std::os::unix::fs::symlink(dir.join("victim"), &dest).expect("link");
        replace(&dest, b"new", 0o644).expect("replace");
        assert!(
            !dir.join("victim").exists(),
            "the link's target is untouched"
        );
        assert_eq!(std::fs::read(&dest).expect("read"), b"new");
        assert!(!std::fs::symlink_metadata(&dest)
            .expect("meta")
            .file_type()
            .is_symlink());
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dg-fsx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).expect("path");
        #[allow(unsafe_code)]
        // SAFETY: a NUL-terminated path that outlives the call.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
        assert_eq!(rc, 0, "mkfifo {}", path.display());
    }

    fn refused(found: Found) -> (String, Why) {
        match found {
            Found::Refused(r) => (r.at.display().to_string(), r.why),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn reading_refuses_links_devices_fifos_and_big_files() {
        let dir = scratch("r");
        let f = dir.join("f");
        std::fs::write(&f, b"12345").expect("write");
        assert_eq!(
            read_regular(&f, 5).expect("read").as_deref(),
            Some(&b"12345"[..])
        );
        assert_eq!(read_regular(&f, 4).expect("read"), None, "over the cap");
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("link");
        assert_eq!(read_regular(&link, 1 << 20).expect("read"), None, "a link");
        assert_eq!(
            read_regular(Path::new("/dev/zero"), 1 << 20).expect("read"),
            None,
            "a device"
        );
        // No writer: a blocking open would wait forever.
        mkfifo(&dir.join("fifo"));
        assert_eq!(read_regular(&dir.join("fifo"), 9).expect("read"), None);
        assert_eq!(read_regular(&dir.join("none"), 9).expect("read"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn below_a_root_no_component_may_be_a_link() {
        let root = scratch("below");
        let outside = scratch("outside");
        std::fs::write(outside.join("secret"), b"TOKEN=hunter2").expect("secret");
        std::fs::create_dir_all(root.join("a/b")).expect("dirs");
        std::fs::write(root.join("a/b/c"), b"inside").expect("c");
        let read = |rel: &str| read_below(&root, Path::new(rel), 100).expect("read");
        assert_eq!(read("a/b/c"), Found::Bytes(b"inside".to_vec()));
        assert_eq!(read("a/none/c"), Found::Missing);
        assert_eq!(read("a/b/none"), Found::Missing);

        std::os::unix::fs::symlink(outside.join("secret"), root.join("file-link")).expect("link");
        assert_eq!(
            read("file-link"),
            Found::Refused(Refused {
                at: "file-link".into(),
                why: Why::Link,
            })
        );
        std::os::unix::fs::symlink(&outside, root.join("a/dir-link")).expect("link");
        assert_eq!(
            refused(read("a/dir-link/secret")),
            ("a/dir-link".into(), Why::Link),
            "a link on the way"
        );
        std::os::unix::fs::symlink("b", root.join("a/inner")).expect("link");
        assert_eq!(
            refused(read("a/inner/c")),
            ("a/inner".into(), Why::Link),
            "even one that stays inside"
        );
        assert_eq!(
            refused(read("a/b/c/d")),
            ("a/b/c".into(), Why::NotADirectory)
        );
        assert_eq!(
            refused(read("a/b")),
            ("a/b".into(), Why::NotRegular("a directory"))
        );
        mkfifo(&root.join("fifo"));
        assert_eq!(
            refused(read("fifo")),
            ("fifo".into(), Why::NotRegular("a FIFO"))
        );
        std::fs::write(root.join("big"), vec![b'x'; 101]).expect("big");
        assert_eq!(
            refused(read("big")),
            (
                "big".into(),
                Why::TooLarge {
                    size: 101,
                    max: 100
                }
            )
        );
        for bad in ["../outside", "/etc/passwd", ""] {
            assert!(read_below(&root, Path::new(bad), 100).is_err(), "{bad:?}");
        }
        // The root itself is trusted: reached through a link, as given.
        let via = scratch("via");
        std::fs::remove_dir(&via).expect("rmdir");
        std::os::unix::fs::symlink(&root, &via).expect("link");
        assert_eq!(
            read_below(&via, Path::new("a/b/c"), 100).expect("read"),
            Found::Bytes(b"inside".to_vec())
        );
        for d in [&root, &outside, &via] {
            let _ = std::fs::remove_dir_all(d);
            let _ = std::fs::remove_file(d);
        }
    }

    #[test]
    fn random_tokens_are_hex_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
