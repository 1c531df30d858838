//! Real parts for end-to-end tests: Debian's `docker-registry` (distribution 2.8) and
//! `dockerd` (docker.io 20.10), started by the test on loopback, stopped by pid in `Drop`
//! (also when the test fails), with all their state in the test's temp dir.
//!
//! Tests that use them are `#[ignore = "needs docker-registry"]` / `#[ignore = "needs
//! dockerd"]`: plain `cargo test` lists them as ignored, `./test.sh` installs the packages
//! and runs them (`--include-ignored`); inside such a test a missing tool is a panic.
//!
//! The docker CLI is Debian's `/usr/bin/docker` (20.10, from the same `docker.io` package
//! as the daemon), not whatever `docker` is first on PATH: the machine's
//! `/usr/local/bin/docker` 28.x has no buildx, so it can only use the legacy builder, while
//! Debian's CLI matches the daemon's API version and can build with BuildKit
//! (`DOCKER_BUILDKIT=1`), and `./test.sh` installs it on a fresh machine too.
//!
//! Measured here: the registry answers `/v2/` ~0.06 s after start; dockerd (overlay2)
//! answers `docker version` 0.4-0.9 s after start, takes ~1 s to stop and ~100 MB. One
//! dockerd is shared by the tests running at the same time ([`Dockerd::shared`]: it stops when the last test
//! holding it ends), with the busybox base image built once per daemon.

#![allow(dead_code)] // each test module uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Debian's docker CLI (see the module docs for why not the one on PATH).
pub const DOCKER: &str = "/usr/bin/docker";

/// The path of a tool the test needs; panics when it is missing (the test is
/// `#[ignore]`d, so it only runs when asked for, and then a missing tool is an error).
pub fn need(tool: &str) -> PathBuf {
    let p = Path::new(tool);
    if p.is_absolute() {
        assert!(
            p.is_file(),
            "{tool} is missing: run ./test.sh (it installs docker.io, docker-registry, busybox-static and apache2-utils with apt-get)"
        );
        return p.to_path_buf();
    }
    if let Some(found) = crate::fixture::find_tool(tool) {
        return found;
    }
    panic!(
        "{tool} is not installed: run ./test.sh (it installs docker.io, docker-registry, busybox-static and apache2-utils with apt-get)"
    );
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

fn wait_until(what: &str, timeout: Duration, log: &Path, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{what} did not become ready in {timeout:?}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// One HTTP/1.0 GET on loopback; the status code, or None when nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}

fn stop(child: &mut Child) {
    // SIGTERM first (dockerd and the registry shut down cleanly), SIGKILL after 10 s.
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// How a test registry authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// htpasswd (bcrypt) Basic auth with this user and password.
    Basic(String, String),
    /// The token flow: the registry trusts tokens signed by `cert` (PEM) for `service`,
    /// issued by `issuer`, and sends clients to `realm`.
    Token {
        /// Token endpoint URL.
        realm: String,
        /// The `service` name.
        service: String,
        /// The `iss` claim.
        issuer: String,
        /// The signer's certificate (PEM file).
        cert: PathBuf,
    },
}

/// A running `docker-registry serve CONFIG` with filesystem storage in a temp dir.
pub struct Registry {
    /// Its directory (config, storage, log).
    pub dir: TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl Registry {
    /// An open registry (no auth).
    pub fn start() -> Self {
        Registry::start_with(Auth::None, None)
    }

    /// A registry with Basic auth.
    pub fn basic(user: &str, password: &str) -> Self {
        Registry::start_with(Auth::Basic(user.into(), password.into()), None)
    }

    /// A registry with `auth` and, with `tls = Some((cert, key))`, HTTPS.
    pub fn start_with(auth: Auth, tls: Option<(PathBuf, PathBuf)>) -> Self {
        let bin = need("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("dockguard-registry-")
            .tempdir()
            .expect("temp dir");
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Basic(user, password) => {
                let file = dir.path().join("htpasswd");
                htpasswd(&file, user, password);
                format!(
                    "auth:\n  htpasswd:\n    realm: dockguard-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token {
                realm,
                service,
                issuer,
                cert,
            } => format!(
                "auth:\n  token:\n    realm: \"{realm}\"\n    service: \"{service}\"\n    issuer: \"{issuer}\"\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        // The port can be taken between free_port and the registry's bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let tls_yaml = tls
                .as_ref()
                .map(|(c, k)| {
                    format!(
                        "  tls:\n    certificate: {}\n    key: {}\n",
                        c.display(),
                        k.display()
                    )
                })
                .unwrap_or_default();
            let config = format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{tls_yaml}{auth_yaml}",
                dir.path().join("storage").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write registry config");
            let err_path = dir.path().join("registry.err");
            let mut child = Command::new(&bin)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&err_path).expect("log"))
                .spawn()
                .expect("start docker-registry");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: port taken, or a bad config
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && (tls.is_some() || http_status(port, "/v2/").is_some())
                {
                    return Registry { dir, port, child };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            stop(&mut child);
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            assert!(
                err.contains("address already in use"),
                "docker-registry did not start:\n{err}"
            );
        }
        panic!("docker-registry could not get a free port in 5 tries");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's own log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.err")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Writes a bcrypt htpasswd file: `htpasswd -B` from apache2-utils.
pub fn htpasswd(file: &Path, user: &str, password: &str) {
    let bin = need("htpasswd");
    let out = Command::new(bin)
        .args(["-B", "-b", "-c"])
        .arg(file)
        .args([user, password])
        .output()
        .expect("run htpasswd");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate it signed for 127.0.0.1 and `localhost`:
/// `(ca.pem, cert.pem, key.pem)` (rustls refuses a CA certificate as the server's own).
pub fn test_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = self_signed(dir, &format!("{name}-ca"));
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(need("openssl"))
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let subj = format!("/CN={name}");
    run(&[
        "req".as_ref(),
        "-newkey".as_ref(),
        "rsa:2048".as_ref(),
        "-nodes".as_ref(),
        "-subj".as_ref(),
        subj.as_ref(),
        "-keyout".as_ref(),
        key.as_os_str(),
        "-out".as_ref(),
        csr.as_os_str(),
    ]);
    run(&[
        "x509".as_ref(),
        "-req".as_ref(),
        "-in".as_ref(),
        csr.as_os_str(),
        "-CA".as_ref(),
        ca.as_os_str(),
        "-CAkey".as_ref(),
        ca_key.as_os_str(),
        "-CAcreateserial".as_ref(),
        "-days".as_ref(),
        "2".as_ref(),
        "-extfile".as_ref(),
        ext.as_os_str(),
        "-out".as_ref(),
        cert.as_os_str(),
    ]);
    (ca, cert, key)
}

/// A self-signed certificate for 127.0.0.1 (and `localhost`): `(cert.pem, key.pem)`.
pub fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new(need("openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={name}"))
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A running `dockerd` with its own data root, exec root, socket and pidfile, no
/// bridge and no iptables rules, trusting plain-HTTP registries on 127.0.0.1.
pub struct Dockerd {
    /// Its directory.
    pub dir: TempDir,
    /// `unix://…/docker.sock`, for `DOCKER_HOST`.
    pub host: String,
    child: Mutex<Option<Child>>,
    base: Mutex<Vec<String>>,
}

fn shared_slot() -> &'static Mutex<Weak<Dockerd>> {
    static SLOT: OnceLock<Mutex<Weak<Dockerd>>> = OnceLock::new();
    SLOT.get_or_init(|| Mutex::new(Weak::new()))
}

impl Dockerd {
    /// The daemon shared by the tests running now: started by the first, stopped when the
    /// last one holding it drops it (a `static` would never be dropped, leaving it running).
    pub fn shared() -> Arc<Dockerd> {
        let mut slot = shared_slot().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = slot.upgrade() {
            return d;
        }
        let d = Arc::new(Dockerd::start());
        *slot = Arc::downgrade(&d);
        d
    }

    /// A daemon of the test's own. Storage driver: overlay2 (measured to work here), or
    /// `DOCKGUARD_TEST_STORAGE_DRIVER` (e.g. `vfs` where overlayfs is unavailable).
    pub fn start() -> Self {
        let bin = need("dockerd");
        need(DOCKER);
        let dir = tempfile::Builder::new()
            .prefix("dockguard-dockerd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let sock = d.join("docker.sock");
        let host = format!("unix://{}", sock.display());
        let driver = std::env::var("DOCKGUARD_TEST_STORAGE_DRIVER")
            .unwrap_or_else(|_| "overlay2".to_owned());
        let log = d.join("dockerd.log");
        let err = d.join("dockerd.err");
        let child = Command::new(bin)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(&host)
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            // Docker trusts plain HTTP for 127.0.0.0/8 already; said explicitly for clarity.
            .args(["--insecure-registry", "127.0.0.0/8"])
            .args(["--storage-driver", &driver])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(&err).expect("log"))
            .spawn()
            .expect("start dockerd");
        let daemon = Dockerd {
            host,
            child: Mutex::new(Some(child)),
            base: Mutex::new(Vec::new()),
            dir,
        };
        wait_until("dockerd", Duration::from_secs(30), &err, || {
            daemon
                .docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
        });
        daemon
    }

    /// Runs Debian's docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        self.docker_in(None, args)
    }

    /// Runs the docker CLI in `dir` against this daemon.
    pub fn docker_in(&self, dir: Option<&Path>, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(DOCKER);
        c.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .stdin(Stdio::null());
        if let Some(d) = dir {
            c.current_dir(d);
        }
        c.output().expect("run docker")
    }

    /// Runs the docker CLI and panics with its output when it fails.
    pub fn docker_ok(&self, dir: Option<&Path>, args: &[&str]) -> String {
        let out = self.docker_in(dir, args);
        assert!(
            out.status.success(),
            "docker {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs the docker CLI, panics when it fails, returns stdout and stderr together.
    pub fn docker_all(&self, args: &[&str]) -> String {
        let out = self.docker_in(None, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker {args:?} failed:\n{text}");
        text
    }

    /// Builds the busybox base image (`FROM scratch` + Debian's static busybox: 2 MB, a
    /// working `RUN`) once per daemon and pushes it as `REF` (e.g. `127.0.0.1:P/base/busybox:1`).
    pub fn push_busybox(&self, reference: &str) {
        let mut built = self.base.lock().unwrap_or_else(|e| e.into_inner());
        if built.is_empty() {
            let busybox = need("/bin/busybox");
            let ctx = self.dir.path().join("busybox-ctx");
            std::fs::create_dir_all(&ctx).expect("ctx");
            std::fs::copy(busybox, ctx.join("busybox")).expect("copy busybox");
            std::fs::write(
                ctx.join("Dockerfile"),
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
            )
            .expect("dockerfile");
            self.docker_ok(
                Some(&ctx),
                &["build", "-q", "-t", "dockguard-test/busybox", "."],
            );
            built.push("dockguard-test/busybox".into());
        }
        if !built.iter().any(|b| b == reference) {
            self.docker_ok(None, &["tag", "dockguard-test/busybox", reference]);
            built.push(reference.to_owned());
        }
        drop(built);
        self.docker_ok(None, &["push", "-q", reference]);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop(&mut c);
        }
        // dockerd normally unmounts what it mounted; a killed one leaves its data-root
        // bind mount and netns mounts behind, and the temp dir could not be removed.
        let root = self.dir.path().to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(p).status();
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
    let git = need("git");
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
    d.docker_ok(
        None,
        &["build", "-q", "-t", tag, ctx.path().to_str().expect("utf8")],
    );
}

#[test]
#[ignore = "needs docker-registry"]
fn a_registry_starts_answers_and_stops_by_pid() {
    let reg = Registry::start();
    assert_eq!(http_status(reg.port, "/v2/"), Some(200));
    let port = reg.port;
    drop(reg);
    assert_eq!(http_status(port, "/v2/"), None, "stopped");
    let basic = Registry::basic("alice", "wonderland");
    assert_eq!(http_status(basic.port, "/v2/"), Some(401));
}

#[test]
#[ignore = "needs dockerd"]
fn dockerd_builds_busybox_pushes_it_and_leaves_no_mounts() {
    let reg = Registry::start();
    let root;
    {
        let d = Dockerd::start();
        root = d.dir.path().to_path_buf();
        let image = format!("{}/base/busybox:1", reg.host());
        d.push_busybox(&image);
        // Pulled back from the registry, not the local copy.
        d.docker_ok(None, &["rmi", &image]);
        let out = d.docker_ok(
            None,
            &["run", "--rm", &image, "sh", "-c", "echo hello from busybox"],
        );
        assert_eq!(out, "hello from busybox");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(root.to_string_lossy().as_ref()),
        "mounts left under {}:\n{mounts}",
        root.display()
    );
    assert!(!root.exists(), "the daemon's directory is removed");
}

#[test]
#[ignore = "needs dockerd"]
fn tests_running_together_share_one_daemon() {
    let t = Instant::now();
    let a = Dockerd::shared();
    let up = t.elapsed();
    let b = Dockerd::shared();
    assert!(Arc::ptr_eq(&a, &b), "a second holder gets the same daemon");
    let v = b.docker_ok(None, &["version", "--format", "{{.Server.Version}}"]);
    assert!(v.starts_with("20.10"), "Debian's dockerd: {v}");
    drop(a);
    let t = Instant::now();
    drop(b);
    // Measured here: 0.4-0.9 s to start (0.9 with a second daemon starting at the same
    // time), ~1 s to stop; shared because of that and because each daemon also takes
    // ~100 MB and starts its own containerd.
    eprintln!(
        "dockerd: up in {up:?}, last holder's drop took {:?}",
        t.elapsed()
    );
}
