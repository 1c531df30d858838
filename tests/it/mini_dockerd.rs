//! A minimal real `dockerd` for tests, and base images built from this machine's own
//! files (no Docker Hub): kept small and in its own file so it can be folded into the
//! shared harness (`tests/it/realdocker.rs`) later.
//!
//! The daemon runs as FACTS.md measured it: its own `--data-root`, `--exec-root`, pidfile
//! and unix socket, `--bridge=none --iptables=false --ip6tables=false` (no network
//! interfaces or firewall rules touched), stopped by pid when the guard drops, on failure
//! too. Containers get `--network none`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running dockerd, stopped (SIGTERM, then SIGKILL) and cleaned up on drop.
pub struct Dockerd {
    dir: TempDir,
    child: Child,
    socket: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Dockerd {
    /// Starts a private dockerd; panics (clearly) when it cannot.
    pub fn start() -> Dockerd {
        let dockerd = on_path("dockerd").unwrap_or_else(|| {
            panic!("needs dockerd: apt-get install --no-install-recommends docker.io (./test.sh does, as root)")
        });
        // A short path: the socket must fit in sun_path (108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("dgd-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let socket = dir.path().join("d.sock");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).expect("log file");
        let child = Command::new(dockerd)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver",
                "overlay2",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let mut d = Dockerd { dir, child, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!(
                    "dockerd exited at start ({status}; it needs root):\n{}",
                    d.log()
                );
            }
            if d.socket.exists() && d.docker(&["version"]).status.success() {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer in 30 s:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker ARGS` against this daemon. Debian's CLI (same release as the daemon) when
    /// present; the client's own config dir is private (no user credentials read).
    pub fn docker(&self, args: &[&str]) -> Output {
        let cli = Path::new("/usr/bin/docker");
        let mut cmd = Command::new(if cli.is_file() {
            cli.as_os_str()
        } else {
            "docker".as_ref()
        });
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("cli"))
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// `docker ARGS`, which must succeed; returns stdout and stderr together.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker {args:?} failed:\n{text}");
        text
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // dockerd can leave mounts below its roots (an nsfs under exec/netns, overlays):
        // unmount them, deepest first, so the temp dir can go.
        let root = self.dir.path().to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").args(["-l", &m]).status();
        }
    }
}

/// Copies `file` (symlinks followed) to the same absolute path below `rootfs`.
fn copy_as_is(file: &Path, rootfs: &Path) {
    let dest = rootfs.join(file.strip_prefix("/").expect("absolute path"));
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    std::fs::copy(file, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
}

/// Builds `tag`: `FROM scratch` with Debian's static busybox as /bin/sh and the usual
/// applets, plus this machine's `git` with exactly the shared libraries `ldd` lists and
/// its exec-path helpers for local transports (`git-upload-pack`, `git-receive-pack`).
/// No /etc/passwd, so HOME is `/`. The stand-in for `alpine` + `apk add git`.
pub fn build_busybox_git_base(d: &Dockerd, tag: &str) {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("needs busybox-static: apt-get install busybox-static (./test.sh does, as root)")
        });
    let git = on_path("git").expect("git on PATH");
    let ctx = tempfile::tempdir().expect("tempdir");
    let rootfs = ctx.path().join("rootfs");
    for dir in ["bin", "root", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("mkdir");
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).expect("copy busybox");
    let git = std::fs::canonicalize(git).expect("git path");
    copy_as_is(&git, &rootfs);
    let ldd = Command::new("ldd").arg(&git).output().expect("ldd git");
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)" or "/lib64/ld-linux… (0x…)"
        let lib = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = lib {
            copy_as_is(&lib, &rootfs);
        }
    }
    let exec_path = Command::new(&git)
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    let exec_path = String::from_utf8_lossy(&exec_path.stdout).trim().to_owned();
    let helpers = rootfs.join(exec_path.trim_start_matches('/'));
    std::fs::create_dir_all(&helpers).expect("mkdir exec-path");
    for helper in ["git-upload-pack", "git-receive-pack", "git-upload-archive"] {
        std::os::unix::fs::symlink(&git, helpers.join(helper)).expect("symlink");
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .expect("Dockerfile");
    d.ok(&["build", "-q", "-t", tag, ctx.path().to_str().expect("utf8")]);
}
