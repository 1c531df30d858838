//! A client for container registries (the OCI distribution API), for `dockguard plan`.
//!
//! What the plan needs from a registry is small: does `<repository>:<content tag>` exist
//! (`GET /v2/<name>/manifests/<tag>`, the body checked to be a manifest), and, to copy an image a fork's upstream already
//! has, a manifest and its blobs moved from one repository to another (a cross-repository
//! blob mount within one registry, else blob GET/PUT). Authentication is the registry's
//! `WWW-Authenticate` challenge: Basic, or the Bearer token flow ([`auth`]), with the
//! credentials a CI job has ([`creds`]).
//!
//! Nothing here decides how the plan fails: a registry that could not be asked (refused
//! credentials, a 429 or 502-504 after the retries, a timeout) is [`TagState::Unreachable`], an
//! answer that makes no sense (not a manifest, a body that does not hash to its digest)
//! is [`TagState::Unknown`], each with a message naming the registry and the image; the
//! plan fails on the first or builds, and builds on the second. What the registry says
//! is checked, not trusted: every manifest body is hashed and compared with
//! `Docker-Content-Digest` and with the digest it was asked by ([`digest`]). A 429 or a
//! 502/503/504 is retried a bounded number of times with backoff (honouring
//! `Retry-After`), so one hiccup does not rebuild every image or fail a copy. No secret
//! reaches a message: every password and token the client holds is scrubbed from every
//! text it returns.
//!
//! Only `dockguard plan` constructs a [`Client`]; the hook, `check` and `ci` never do, so
//! the hook's path has no network code to reach (tests/it/plan.rs checks the sources).

pub mod auth;
mod copy;
pub mod creds;
mod digest;
mod labels;
mod manifest;
mod names;
mod transport;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use ureq::http;

use self::auth::{Challenge, Token};
pub use self::copy::CopyReport;
use self::creds::Credentials;
pub use self::labels::TaggedImage;
pub(crate) use self::manifest::body_digest;
use self::manifest::manifest_problem;
pub use self::names::{
    valid_digest, valid_repository_path, valid_tag, Registry, Repository, Scheme,
};
pub(crate) use self::transport::{header, truncate};
use self::transport::{io_words, reason_phrase, retry_after, run, tls_config};

/// The manifest media types a registry may answer with (`Accept` on manifest requests).
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Whether a tag exists, as far as the registry could tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TagState {
    /// The registry has a manifest under the tag.
    Present {
        /// Its digest (`Docker-Content-Digest`), when the registry said.
        digest: Option<String>,
    },
    /// The registry answered that there is none.
    Missing,
    /// The registry's answer made no sense (not a manifest, a body that does not hash to
    /// its digest; the message says which registry, which image, and what happened).
    Unknown {
        /// What went wrong.
        reason: String,
    },
    /// The registry could not be asked: no connection, no answer in time, refused
    /// credentials (401/403), rate-limited or unavailable (429, 502-504) after the retries.
    Unreachable {
        /// What went wrong.
        reason: String,
    },
}

impl TagState {
    /// The reason, for `Unknown` and `Unreachable`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            TagState::Unknown { reason } | TagState::Unreachable { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Limits and timeouts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connecting to a registry.
    pub connect_timeout: Duration,
    /// One whole request (connect, send, receive).
    pub request_timeout: Duration,
    /// Requests in flight at once.
    pub parallel: usize,
    /// The largest manifest, token or error body read (larger is an error).
    pub max_body: u64,
    /// How many times a 429, 502, 503 or 504 is retried.
    pub retries: u32,
    /// The first wait before a retry (doubled each time) when the registry names none.
    pub retry_wait: Duration,
    /// The longest wait a `Retry-After` may ask for; longer gives up at once.
    pub retry_wait_max: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            parallel: 16,
            max_body: 4 << 20,
            retries: 3,
            retry_wait: Duration::from_millis(500),
            retry_wait_max: Duration::from_secs(30),
        }
    }
}

/// Why a request gave no usable answer. Its text never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registry client: connection pools, credentials, tokens, and a request counter.
pub struct Client {
    opts: Options,
    creds: Credentials,
    plain: OnceLock<ureq::Agent>,
    tls: OnceLock<ureq::Agent>,
    /// Per registry host: how it authenticates (`None`: it asked for nothing).
    challenges: Mutex<HashMap<String, Option<Arc<Challenge>>>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
    secrets: Mutex<Vec<String>>,
    requests: AtomicUsize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.opts)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// A request the client sends (with authentication added as the registry asks).
pub(crate) struct Req<'a> {
    pub method: http::Method,
    pub url: String,
    /// Which repositories (and actions) a token must cover: `(path, "pull")`.
    pub scopes: Vec<(String, &'static str)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body<'a>,
    /// Follow redirects (blob downloads go to storage elsewhere; no credentials follow).
    pub redirects: bool,
}

/// What a request carries.
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// Sent once: a request with a stream is neither retried nor re-sent after a 401.
    Stream(ureq::SendBody<'static>),
}

impl<'a> Req<'a> {
    /// The same request again, unless its body is a stream.
    fn again(&self) -> Option<Req<'a>> {
        let body = match &self.body {
            Body::Empty => Body::Empty,
            Body::Bytes(b) => Body::Bytes(b),
            Body::Stream(_) => return None,
        };
        Some(Req {
            method: self.method.clone(),
            url: self.url.clone(),
            scopes: self.scopes.clone(),
            headers: self.headers.clone(),
            body,
            redirects: self.redirects,
        })
    }
}

impl Client {
    /// A client with these limits and credentials. No connection is made yet, and the
    /// system's CA certificates are loaded only when an HTTPS registry is first asked.
    pub fn new(opts: Options, creds: Credentials) -> Self {
        Client {
            opts,
            creds,
            plain: OnceLock::new(),
            tls: OnceLock::new(),
            challenges: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            secrets: Mutex::new(Vec::new()),
            requests: AtomicUsize::new(0),
        }
    }

    /// How many HTTP requests have been sent (token requests included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether `repo:tag` exists.
    pub fn tag_state(&self, repo: &Repository, tag: &str) -> TagState {
        self.prepare(&repo.registry, std::slice::from_ref(&repo.path));
        self.head_manifest(repo, tag)
    }

    /// Whether each `(repository, tag)` exists, asked in parallel (at most
    /// [`Options::parallel`] at once). Per registry, one `/v2/` request learns how to
    /// authenticate and, for the token flow, one token request covers every repository
    /// asked about; then one manifest `GET` per image.
    pub fn tag_states(&self, queries: &[(Repository, String)]) -> Vec<TagState> {
        let mut by_registry: Vec<(Registry, Vec<String>)> = Vec::new();
        for (repo, _) in queries {
            match by_registry.iter_mut().find(|(r, _)| *r == repo.registry) {
                Some((_, paths)) => {
                    if !paths.contains(&repo.path) {
                        paths.push(repo.path.clone());
                    }
                }
                None => by_registry.push((repo.registry.clone(), vec![repo.path.clone()])),
            }
        }
        for (registry, paths) in &by_registry {
            self.prepare(registry, paths);
        }
        self.parallel(queries, |(repo, tag)| self.head_manifest(repo, tag))
    }

    /// Runs `f` over `items` on a bounded pool of threads, keeping the order.
    pub(crate) fn parallel<T: Sync, R: Send>(
        &self,
        items: &[T],
        f: impl Fn(&T) -> R + Sync,
    ) -> Vec<R> {
        let workers = self.opts.parallel.clamp(1, 64).min(items.len());
        if workers <= 1 {
            return items.iter().map(&f).collect();
        }
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Asks for `repo:tag`'s manifest with a `GET`, not a `HEAD`: a registry (or a cache
    /// in front of it) can answer `HEAD` 200 for a tag whose manifest it cannot serve, and
    /// the plan would then skip an image nobody can pull. The body is read (at most
    /// [`Options::max_body`] bytes) and must be a manifest or an index; anything else is
    /// `Unknown`, which plans `build`. Same number of requests as a `HEAD`.
    fn head_manifest(&self, repo: &Repository, tag: &str) -> TagState {
        let what = format!("registry {}, image {}:{tag}", repo.registry.host, repo.path);
        if !valid_tag(tag) {
            return TagState::Unknown {
                reason: format!("{what}: `{tag}` is not a valid tag"),
            };
        }
        let req = Req {
            method: http::Method::GET,
            url: format!("{}/v2/{}/manifests/{tag}", repo.registry.base(), repo.path),
            scopes: vec![(repo.path.clone(), "pull")],
            headers: vec![("Accept", MANIFEST_TYPES.join(", "))],
            body: Body::Empty,
            redirects: false,
        };
        let resp = match self.send(&repo.registry, req) {
            Ok(r) => r,
            Err(f) => {
                return TagState::Unreachable {
                    reason: self.scrub(&format!("{what}: {f}")),
                }
            }
        };
        let status = resp.status().as_u16();
        match status {
            200 => {
                let ctype = header(&resp, "content-type").unwrap_or_default();
                let ctype = ctype.split(';').next().unwrap_or_default().trim();
                if !MANIFEST_TYPES.contains(&ctype) {
                    return TagState::Unknown {
                        reason: self.scrub(&format!(
                            "{what}: the answer is not a manifest (Content-Type `{}`)",
                            crate::render::outputs::one_line(&truncate(ctype, 100))
                        )),
                    };
                }
                let claimed = header(&resp, "docker-content-digest");
                match self.read_body(resp, "manifest") {
                    Ok(body) => match manifest_problem(&body) {
                        None => match body_digest(&body, claimed.as_deref(), None) {
                            Ok(digest) => TagState::Present {
                                digest: Some(digest),
                            },
                            Err(why) => TagState::Unknown {
                                reason: self.scrub(&format!("{what}: {why}")),
                            },
                        },
                        Some(why) => TagState::Unknown {
                            reason: self.scrub(&format!(
                                "{what}: the tag exists but its manifest is unreadable ({why})"
                            )),
                        },
                    },
                    Err(f) => TagState::Unknown {
                        reason: self.scrub(&format!(
                            "{what}: the tag exists but its manifest is unreadable: {f}"
                        )),
                    },
                }
            }
            404 => TagState::Missing,
            // A 500 is an answer (e.g. a corrupt stored manifest): build, which replaces it.
            401 | 403 | 429 | 502..=504 => TagState::Unreachable {
                reason: self.scrub(&format!(
                    "{what}: {}",
                    self.status_failure(&repo.registry, status)
                )),
            },
            _ => TagState::Unknown {
                reason: self.scrub(&format!(
                    "{what}: {}",
                    self.status_failure(&repo.registry, status)
                )),
            },
        }
    }

    /// What a status code means, in words (401/403 name where the credentials came from).
    pub(crate) fn status_failure(&self, registry: &Registry, status: u16) -> String {
        let source = self
            .creds
            .for_host(&registry.host)
            .map(|c| c.source.clone());
        match status {
            401 => match source {
                Some(s) => format!("the registry refused the credentials from {s} (401 Unauthorized)"),
                None => format!(
                    "the registry wants credentials and none were found for {} (401 Unauthorized; set CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, GITHUB_TOKEN for ghcr.io, or a docker config.json)",
                    registry.host
                ),
            },
            403 => match source {
                Some(s) => format!("access denied to the credentials from {s} (403 Forbidden)"),
                None => "access denied (403 Forbidden), and no credentials were found".to_owned(),
            },
            429 => format!(
                "too many requests (429): the registry is rate-limiting (retried {} time(s))",
                self.opts.retries
            ),
            502..=504 => format!(
                "the registry failed ({status} {}, retried {} time(s))",
                reason_phrase(status),
                self.opts.retries
            ),
            500..=599 => format!("the registry failed ({status} {})", reason_phrase(status)),
            _ => format!("unexpected answer {status} {}", reason_phrase(status)),
        }
    }

    /// Learns how `registry` authenticates (one `GET /v2/`), and for the token flow gets
    /// one token covering every path in `paths` for pulling.
    pub(crate) fn prepare(&self, registry: &Registry, paths: &[String]) {
        let known = self
            .challenges
            .lock()
            .map(|c| c.contains_key(&registry.host))
            .unwrap_or(false);
        if !known {
            let req = Req {
                method: http::Method::GET,
                url: format!("{}/v2/", registry.base()),
                scopes: Vec::new(),
                headers: Vec::new(),
                body: Body::Empty,
                redirects: false,
            };
            // Failures show again, per image, on the real requests.
            if let Ok((resp, _)) = self.send_raw(registry, req, None, true) {
                if resp.status().as_u16() != 401 {
                    if let Ok(mut c) = self.challenges.lock() {
                        c.entry(registry.host.clone()).or_insert(None);
                    }
                }
            }
        }
        if let Some(ch) = self.challenge(registry) {
            if let Challenge::Bearer { .. } = *ch {
                let scopes: Vec<(String, &'static str)> =
                    paths.iter().map(|p| (p.clone(), "pull")).collect();
                for chunk in scopes.chunks(auth::SCOPES_PER_TOKEN) {
                    let _ = self.token(registry, &ch, chunk);
                }
            }
        }
    }

    fn challenge(&self, registry: &Registry) -> Option<Arc<Challenge>> {
        self.challenges
            .lock()
            .ok()?
            .get(&registry.host)
            .cloned()
            .flatten()
    }

    /// Sends a request with the authentication the registry asked for ([`Self::send_once`]),
    /// and sends it again after a 429, 502, 503 or 504, at most [`Options::retries`] times:
    /// after `Retry-After` seconds when the registry names them (giving up at once when it
    /// asks for more than [`Options::retry_wait_max`]), else after a doubling backoff.
    /// A request with a streamed body is sent once. Returns the last response.
    pub(crate) fn send(
        &self,
        registry: &Registry,
        req: Req<'_>,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let mut wait = self.opts.retry_wait;
        let mut next = req.again();
        let mut resp = self.send_once(registry, req)?;
        for _ in 0..self.opts.retries {
            let status = resp.status().as_u16();
            if !matches!(status, 429 | 502..=504) {
                break;
            }
            let Some(req) = next.take() else { break };
            let pause = match retry_after(&resp) {
                Some(asked) if asked > self.opts.retry_wait_max => break,
                Some(asked) => asked,
                None => wait,
            };
            wait = wait.saturating_mul(2);
            std::thread::sleep(pause);
            next = req.again();
            resp = self.send_once(registry, req)?;
        }
        Ok(resp)
    }

    /// Sends a request with the authentication the registry asked for, answering one
    /// 401 challenge. Returns the response whatever its status.
    fn send_once(
        &self,
        registry: &Registry,
        req: Req<'_>,
    ) -> Result<http::Response<ureq::Body>, Failure> {
        let auth = match self.challenge(registry) {
            Some(ch) => self.authorization(registry, &ch, &req.scopes)?,
            None => None,
        };
        let sent_auth = auth.is_some();
        let can_retry = !matches!(req.body, Body::Stream(_));
        let (resp, retry) = self.send_raw(registry, req, auth, true)?;
        if resp.status().as_u16() != 401 || sent_auth || !can_retry {
            return Ok(resp);
        }
        // First contact with this registry: answer the challenge and try once more.
        let Some(retry) = retry else { return Ok(resp) };
        let Some(ch) = self.challenge(registry) else {
            return Ok(resp);
        };
        match self.authorization(registry, &ch, &retry.scopes)? {
            Some(a) => self
                .send_raw(registry, retry, Some(a), true)
                .map(|(r, _)| r),
            None => Ok(resp),
        }
    }

    /// The `Authorization` header value for a request, if the challenge needs one and
    /// credentials (or an anonymous token) exist.
    fn authorization(
        &self,
        registry: &Registry,
        ch: &Challenge,
        scopes: &[(String, &'static str)],
    ) -> Result<Option<String>, Failure> {
        match ch {
            Challenge::Basic => Ok(self
                .creds
                .for_host(&registry.host)
                .map(|c| c.basic_header())),
            Challenge::Bearer { .. } => {
                if scopes.is_empty() {
                    return Ok(None);
                }
                self.token(registry, ch, scopes)
                    .map(|t| Some(format!("Bearer {}", t.value.expose())))
            }
            Challenge::Other(_) => Ok(None),
        }
    }

    fn token(
        &self,
        registry: &Registry,
        ch: &Challenge,
        scopes: &[(String, &'static str)],
    ) -> Result<Token, Failure> {
        let key = (registry.host.clone(), auth::scope_key(scopes));
        if let Some(t) = self.cached_token(registry, scopes) {
            return Ok(t);
        }
        let cred = self.creds.for_host(&registry.host);
        let token = auth::fetch_token(self, registry, ch, scopes, cred.as_ref())?;
        if let Ok(mut s) = self.secrets.lock() {
            s.push(token.value.expose().to_owned());
        }
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(key, token.clone());
        }
        Ok(token)
    }

    /// A cached token covering every scope asked for (one token for many repositories).
    fn cached_token(
        &self,
        registry: &Registry,
        scopes: &[(String, &'static str)],
    ) -> Option<Token> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .iter()
            .filter(|((host, _), t)| *host == registry.host && !t.expired())
            .find(|(_, t)| scopes.iter().all(|s| t.covers(s)))
            .map(|(_, t)| t.clone())
    }

    /// Sends one request as is (plus `auth`), recording any challenge. Returns the
    /// request back (when it can be re-sent) for a retry.
    fn send_raw<'a>(
        &self,
        registry: &Registry,
        req: Req<'a>,
        auth: Option<String>,
        record: bool,
    ) -> Result<(http::Response<ureq::Body>, Option<Req<'a>>), Failure> {
        let agent = self.agent(registry.scheme)?;
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(&req.url)
            .header(
                "User-Agent",
                concat!("dockguard/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        if let Some(a) = &auth {
            b = b.header("Authorization", a);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let redirects = if req.redirects { 5 } else { 0 };
        let mut req = req;
        let made = |e: http::Error| Failure(format!("cannot make the request: {e}"));
        let (result, back) = match std::mem::replace(&mut req.body, Body::Empty) {
            Body::Empty => (run(agent, b.body(()).map_err(made)?, redirects), Some(req)),
            Body::Bytes(bytes) => {
                req.body = Body::Bytes(bytes);
                (
                    run(agent, b.body(bytes).map_err(made)?, redirects),
                    Some(req),
                )
            }
            // A stream cannot be sent twice.
            Body::Stream(stream) => (run(agent, b.body(stream).map_err(made)?, redirects), None),
        };
        let resp = result.map_err(|f| Failure(self.scrub(&f.0)))?;
        if record && resp.status().as_u16() == 401 {
            // Every header counts: a registry may send Basic first and Bearer second.
            let values: Vec<&str> = resp
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !values.is_empty() {
                let ch = auth::pick_challenge(values);
                if let Ok(mut c) = self.challenges.lock() {
                    c.insert(registry.host.clone(), Some(Arc::new(ch)));
                }
            }
        }
        Ok((resp, back))
    }

    fn agent(&self, scheme: Scheme) -> Result<&ureq::Agent, Failure> {
        let config = |tls: Option<ureq::tls::TlsConfig>| {
            let mut c = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(self.opts.connect_timeout))
                .timeout_global(Some(self.opts.request_timeout))
                .max_response_header_size(64 * 1024)
                .max_idle_connections_per_host(self.opts.parallel.max(1));
            if let Some(t) = tls {
                c = c.tls_config(t);
            }
            c.build().new_agent()
        };
        Ok(match scheme {
            Scheme::Http => self.plain.get_or_init(|| config(None)),
            Scheme::Https => self.tls.get_or_init(|| config(Some(tls_config()))),
        })
    }

    /// Reads a body of at most [`Options::max_body`] bytes.
    pub(crate) fn read_body(
        &self,
        resp: http::Response<ureq::Body>,
        what: &str,
    ) -> Result<Vec<u8>, Failure> {
        let limit = self.opts.max_body;
        let mut out = Vec::new();
        let mut reader = resp.into_body().into_reader();
        let read = (&mut reader)
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                Failure(self.scrub(&format!("cannot read the {what}: {}", io_words(&e))))
            })?;
        if read as u64 > limit {
            return Err(Failure(format!(
                "the {what} is larger than {} bytes: refused",
                limit
            )));
        }
        Ok(out)
    }

    /// `text` with every secret the client knows replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut all = self.creds.secrets();
        if let Ok(secrets) = self.secrets.lock() {
            all.extend(secrets.iter().cloned());
        }
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in all.iter().filter(|s| s.len() >= 4) {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
}
