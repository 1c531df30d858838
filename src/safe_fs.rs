//! Reading and writing files in places someone else may have prepared: the work tree of
//! a clone (a committed `dockguard.env` can be a symbolic link to any file), `.git/` (a
//! planted link at a predictable temporary name), a hooks directory.
//!
//! Rules, for every file dockguard writes (outputs, temporary files, the walk memo, the
//! hook shim):
//! - a new file always gets a random name and is opened with `create_new` (`O_EXCL`,
//!   which never follows a symbolic link) and `O_NOFOLLOW`, so nothing planted at a
//!   guessable name is written through;
//! - its permissions are set on the open handle (`fchmod`), never by path;
//! - it replaces its destination by `rename`, which replaces a link rather than writing
//!   to what it points at.
//!
//! Files dockguard only reads for itself (the memo) are opened with `O_NOFOLLOW`, must be
//! regular files, and are read up to a size cap.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

/// How many random names are tried before giving up (each is 128 random bits).
const ATTEMPTS: u32 = 16;

fn no_follow(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    opts.custom_flags(libc::O_NOFOLLOW);
    opts
}

/// Reads a file that must be a regular file (not a link, a device or a FIFO) of at most
/// `max` bytes. `Ok(None)` when it is missing, not regular, a link, or too large.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = match no_follow(OpenOptions::new().read(true)).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: the last component is a symbolic link.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > max {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    // The size may change under us: never read more than the cap.
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
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
            let path = dir.join(format!(
                "{prefix}{}",
                crate::render::outputs::random_token()
            ));
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            opts.mode(0o600);
            match no_follow(&mut opts).open(&path) {
                Ok(file) => {
                    // By handle: the umask does not apply, and no path is looked up again.
                    #[cfg(unix)]
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
        let dir = std::env::temp_dir().join(format!("dg-safefs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
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

    #[test]
    fn reading_refuses_links_devices_and_big_files() {
        let dir = std::env::temp_dir().join(format!("dg-safefs-r-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
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
        assert_eq!(read_regular(&dir.join("none"), 9).expect("read"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
