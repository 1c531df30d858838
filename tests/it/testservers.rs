//! Servers the tests play where no real one can run here, and raw-HTTP helpers that
//! do not use the code under test: a token server for the Bearer flow (Debian packages
//! none), a one-connection HTTP server answering whatever a test needs (500s, garbage,
//! huge headers, silence), and `put_image`, which pushes a tiny image with plain requests.

#![allow(dead_code)] // each test module uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::realdocker::{need, self_signed};

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
pub struct ScriptedServer {
    /// Its port.
    pub port: u16,
    /// Request heads received.
    pub heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ScriptedServer {
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
        ScriptedServer {
            port,
            heads,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
