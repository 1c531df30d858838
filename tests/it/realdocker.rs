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

use base64::Engine as _;
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
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin".into(), "/sbin".into()])
    {
        let c = dir.join(tool);
        if c.is_file() {
            return c;
        }
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

/// A small token server (docker's token authentication specification) for a real
/// `docker-registry` with `auth: token:`. No token server is packaged in Debian, so the
/// test plays it: it checks Basic credentials and signs an RS256 JWT (with `openssl dgst`)
/// that grants what was asked for, with the signer's certificate in `x5c`, exactly what
/// distribution's token verifier checks. It records every request line it got.
pub struct TokenServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The certificate the registry must trust (`rootcertbundle`).
    pub cert: PathBuf,
    /// Request lines received (path and query only; never the credentials).
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The `service` and `iss` the token server and its registry agree on.
pub const TOKEN_SERVICE: &str = "dockguard-test-registry";
/// See [`TOKEN_SERVICE`].
pub const TOKEN_ISSUER: &str = "dockguard-test-issuer";

impl TokenServer {
    /// Starts one in `dir` accepting `user` / `password` (anonymous requests get a
    /// token with no access, as real token servers answer).
    pub fn start(dir: &Path, user: &str, password: &str) -> Self {
        let (cert, key) = self_signed(dir, "token-signer");
        let der = Command::new(need("openssl"))
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl x509");
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let (reqs, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(600);
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
            {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let head = read_head(&mut s);
                let line = head.lines().next().unwrap_or_default().to_owned();
                let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
                if let Ok(mut r) = reqs.lock() {
                    r.push(target.clone());
                }
                let auth = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_owned())
                });
                let reply = match auth {
                    Some(a) if a != expected => {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                    }
                    _ => {
                        let scopes = if auth.is_some() { scopes_of(&target) } else { Vec::new() };
                        let jwt = sign_jwt(&key, &x5c, &scopes);
                        let body = format!("{{\"token\":\"{jwt}\",\"expires_in\":300}}");
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                };
                let _ = s.write_all(reply.as_bytes());
            }
        });
        TokenServer {
            port,
            cert,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The realm URL.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads an HTTP request head (up to the blank line, 64 KB at most).
pub fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while buf.len() < 65536 && !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// `scope=repository:NAME:ACTIONS` parameters of a token request.
fn scopes_of(target: &str) -> Vec<(String, Vec<String>)> {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .filter_map(|v| {
            let v = percent_decode(v);
            let mut parts = v.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "repository").then(|| {
                (
                    name.to_owned(),
                    actions.split(',').map(str::to_owned).collect(),
                )
            })
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign_jwt(key: &Path, x5c: &str, scopes: &[(String, Vec<String>)]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .map(|(name, actions)| serde_json::json!({"type": "repository", "name": name, "actions": actions}))
        .collect();
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": "dockguard", "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_u32()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(signing_input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl dgst");
    format!("{signing_input}.{}", b64url(&out.stdout))
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    u32::from_le_bytes(b)
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

/// `sha256:<hex>` of some bytes (coreutils' `sha256sum`: the test does not trust the
/// code under test to compute what it checks).
pub fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        text.split_whitespace().next().unwrap_or_default()
    )
}

/// Pushes a tiny image (one config blob, one layer blob, a Docker schema-2 manifest) to
/// `repo:tag` with raw HTTP requests, without docker and without dockguard's client.
/// `auth` is an `Authorization` header value. Returns the manifest's digest.
pub fn put_image(base: &str, auth: Option<&str>, repo: &str, tag: &str, layer: &[u8]) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    put_image_via(&agent, base, auth, repo, tag, layer)
}

/// [`put_image`] with a given HTTP agent (e.g. one trusting a test certificate).
pub fn put_image_via(
    agent: &ureq::Agent,
    base: &str,
    auth: Option<&str>,
    repo: &str,
    tag: &str,
    layer: &[u8],
) -> String {
    let with_auth = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| match auth {
        Some(a) => r.header("Authorization", a),
        None => r,
    };
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(layer)
    );
    let put_blob = |bytes: &[u8]| {
        let digest = sha256(bytes);
        let post = agent.post(format!("{base}/v2/{repo}/blobs/uploads/"));
        let post = match auth {
            Some(a) => post.header("Authorization", a),
            None => post,
        };
        let resp = post.send_empty().expect("start upload");
        assert_eq!(resp.status().as_u16(), 202, "upload start for {repo}");
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location")
            .to_owned();
        let loc = if loc.starts_with('/') {
            format!("{base}{loc}")
        } else {
            loc
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = with_auth(agent.put(format!("{loc}{sep}digest={digest}")))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .expect("upload");
        assert_eq!(resp.status().as_u16(), 201, "upload of {digest}");
        (digest, bytes.len())
    };
    let (cd, cl) = put_blob(config.as_bytes());
    let (ld, ll) = put_blob(layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{cl},"digest":"{cd}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{ll},"digest":"{ld}"}}]}}"#
    );
    let resp = with_auth(agent.put(format!("{base}/v2/{repo}/manifests/{tag}")))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send(manifest.as_bytes())
        .expect("put manifest");
    assert_eq!(resp.status().as_u16(), 201, "manifest of {repo}:{tag}");
    sha256(manifest.as_bytes())
}

/// A one-connection-at-a-time HTTP server on loopback that answers every request with
/// `answer(request head)` (raw bytes: a status line or garbage), for the failures a real
/// registry will not produce on demand. `None` means: accept and never answer.
pub struct FakeServer {
    /// Its port.
    pub port: u16,
    /// Request heads received.
    pub heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Starts it.
    pub fn start(answer: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, stopping) = (heads.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut held = Vec::new();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
            {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let head = read_head(&mut s);
                if let Ok(mut v) = h.lock() {
                    v.push(head.clone());
                }
                match answer(&head) {
                    Some(bytes) => {
                        let _ = s.write_all(&bytes);
                    }
                    None => held.push(s), // never answered
                }
            }
        });
        FakeServer {
            port,
            heads,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
