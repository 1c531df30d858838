//! Registry credentials, found the way a CI job has them:
//!
//! 1. GitLab: for the host in `CI_REGISTRY`, `CI_REGISTRY_USER` / `CI_REGISTRY_PASSWORD`,
//!    else `gitlab-ci-token` / `CI_JOB_TOKEN`;
//! 2. GitHub: for `ghcr.io`, `GITHUB_TOKEN` (user `GITHUB_ACTOR`, else `x-access-token`);
//! 3. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers[host]`, then `auths[host]` (`auth` = base64 `user:password`, or
//!    `username` / `password`), then `credsStore`. A helper runs as
//!    `docker-credential-<name> get` with the server on stdin, as docker runs it.
//!
//! These come from the job's environment and the job's own files, never from the
//! repository. Secrets are [`Secret`]s: their `Debug` prints `***`, and the client scrubs
//! every one it has seen from every message.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use crate::Env;

/// A password or token: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    /// The secret itself, for a request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A user name and password for one registry, and where they came from.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: Secret,
    /// Where they came from, for messages (`CI_REGISTRY_USER/CI_REGISTRY_PASSWORD`).
    pub source: String,
}

impl Credential {
    /// `Basic <base64(user:password)>`.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// docker's config.json, the parts that matter here.
#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry(***)")
    }
}

/// Every credential source of the job, resolved per host on first use.
#[derive(Debug, Default)]
pub struct Credentials {
    /// From the CI environment, by host.
    fixed: Vec<(String, Credential)>,
    config: DockerConfig,
    config_path: Option<PathBuf>,
    /// Problems reading config.json (reported, never fatal).
    pub warnings: Vec<String>,
    helpers: Mutex<HashMap<String, Option<Credential>>>,
}

impl Credentials {
    /// No credentials at all.
    pub fn none() -> Self {
        Credentials::default()
    }

    /// The credentials a CI job has (see the module docs).
    pub fn from_env(env: &Env) -> Self {
        let mut c = Credentials::default();
        let var = |n: &str| env.get(n).filter(|v| !v.is_empty());
        if let Some(host) = var("CI_REGISTRY") {
            let host = normalize_host(host);
            if let (Some(u), Some(p)) = (var("CI_REGISTRY_USER"), var("CI_REGISTRY_PASSWORD")) {
                c.fixed.push((
                    host,
                    Credential {
                        username: u.to_owned(),
                        password: Secret::new(p.to_owned()),
                        source: "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD".into(),
                    },
                ));
            } else if let Some(t) = var("CI_JOB_TOKEN") {
                c.fixed.push((
                    host,
                    Credential {
                        username: "gitlab-ci-token".into(),
                        password: Secret::new(t.to_owned()),
                        source: "CI_JOB_TOKEN".into(),
                    },
                ));
            }
        }
        if let Some(t) = var("GITHUB_TOKEN") {
            c.fixed.push((
                "ghcr.io".into(),
                Credential {
                    username: var("GITHUB_ACTOR").unwrap_or("x-access-token").to_owned(),
                    password: Secret::new(t.to_owned()),
                    source: "GITHUB_TOKEN".into(),
                },
            ));
        }
        let dir = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".docker")));
        if let Some(dir) = dir {
            let path = dir.join("config.json");
            match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice::<DockerConfig>(&bytes) {
                    Ok(cfg) => {
                        c.config = cfg;
                        c.config_path = Some(path);
                    }
                    Err(e) => c.warnings.push(format!(
                        "{} is not a docker config: {e}; its credentials are not used",
                        path.display()
                    )),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => c
                    .warnings
                    .push(format!("cannot read {}: {e}", path.display())),
            }
        }
        c
    }

    /// Adds a credential for `host` (ahead of every other source).
    pub fn with(mut self, host: &str, username: &str, password: &str, source: &str) -> Self {
        self.fixed.insert(
            0,
            (
                normalize_host(host),
                Credential {
                    username: username.to_owned(),
                    password: Secret::new(password.to_owned()),
                    source: source.to_owned(),
                },
            ),
        );
        self
    }

    /// The credential for a registry host, if any source has one.
    pub fn for_host(&self, host: &str) -> Option<Credential> {
        let host = normalize_host(host);
        if let Some((_, c)) = self.fixed.iter().find(|(h, _)| *h == host) {
            return Some(c.clone());
        }
        let from = |k: &str| normalize_host(k) == host;
        if let Some((_, helper)) = self.config.cred_helpers.iter().find(|(k, _)| from(k)) {
            return self.helper(helper, &host);
        }
        if let Some((key, entry)) = self.config.auths.iter().find(|(k, _)| from(k)) {
            let file = self
                .config_path
                .as_ref()
                .map_or_else(|| "config.json".to_owned(), |p| p.display().to_string());
            let source = format!("{file} (auths.{key})");
            if let Some(c) = auth_entry(entry, &source) {
                return Some(c);
            }
        }
        let store = self.config.creds_store.clone()?;
        self.helper(&store, &host)
    }

    /// Every secret known so far (for scrubbing messages).
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, c) in &self.fixed {
            out.push(c.password.expose().to_owned());
            // The Basic header's base64 holds it too.
            out.push(c.basic_header().trim_start_matches("Basic ").to_owned());
        }
        for e in self.config.auths.values() {
            if let Some(p) = &e.password {
                out.push(p.clone());
            }
            if let Some(a) = &e.auth {
                out.push(a.clone());
                if let Some(c) = auth_entry(e, "") {
                    out.push(c.password.expose().to_owned());
                }
            }
        }
        if let Ok(h) = self.helpers.lock() {
            for c in h.values().flatten() {
                out.push(c.password.expose().to_owned());
                out.push(c.basic_header().trim_start_matches("Basic ").to_owned());
            }
        }
        out
    }

    fn helper(&self, name: &str, host: &str) -> Option<Credential> {
        if let Ok(cache) = self.helpers.lock() {
            if let Some(c) = cache.get(host) {
                return c.clone();
            }
        }
        let c = run_helper(name, host);
        if let Ok(mut cache) = self.helpers.lock() {
            cache.insert(host.to_owned(), c.clone());
        }
        c
    }
}

fn auth_entry(e: &AuthEntry, source: &str) -> Option<Credential> {
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        if !u.is_empty() {
            return Some(Credential {
                username: u.clone(),
                password: Secret::new(p.clone()),
                source: source.to_owned(),
            });
        }
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(e.auth.as_deref()?.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some(Credential {
        username: u.to_owned(),
        password: Secret::new(p.to_owned()),
        source: source.to_owned(),
    })
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<name> get` (10 s at most, 64 KB of answer at most).
fn run_helper(name: &str, host: &str) -> Option<Credential> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        eprintln!("dockguard: warning: ignoring the docker credential helper name {name:?}");
        return None;
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("dockguard: warning: cannot run {program}: {e}"))
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("dockguard: warning: {program} did not answer in 10 s");
                break None;
            }
        }
    }?;
    let out = reader.join().ok()?;
    if !status.success() {
        return None; // "credentials not found": no credential for this host
    }
    let a: HelperAnswer = serde_json::from_slice(&out)
        .map_err(|_| {
            eprintln!("dockguard: warning: {program} answered something that is not its JSON")
        })
        .ok()?;
    Some(Credential {
        username: a.username,
        password: Secret::new(a.secret),
        source: program,
    })
}

/// `https://index.docker.io/v1/` → `index.docker.io`; docker.io's aliases → one name.
pub fn normalize_host(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let k = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match k.as_str() {
        "docker.io" | "registry-1.docker.io" | "index.docker.io" => "docker.io".into(),
        _ => k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    #[test]
    fn ci_variables_give_credentials_for_their_registry_only() {
        let c = Credentials::from_env(&env(&[
            ("CI_REGISTRY", "registry.gitlab.example:5050"),
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_REGISTRY_PASSWORD", "s3cr3t-job-token"),
            ("CI_JOB_TOKEN", "s3cr3t-job-token"),
            ("GITHUB_TOKEN", "ghs_abcdef"),
        ]));
        let g = c.for_host("registry.gitlab.example:5050").expect("gitlab");
        assert_eq!(g.source, "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD");
        assert!(!format!("{g:?}").contains("s3cr3t"));
        let gh = c.for_host("ghcr.io").expect("ghcr");
        assert_eq!(gh.username, "x-access-token");
        assert!(c.for_host("registry.example").is_none());
        let only_job = Credentials::from_env(&env(&[
            ("CI_REGISTRY", "reg.example"),
            ("CI_JOB_TOKEN", "tok3n"),
        ]));
        let j = only_job.for_host("reg.example").expect("job token");
        assert_eq!(
            (j.username.as_str(), j.source.as_str()),
            ("gitlab-ci-token", "CI_JOB_TOKEN")
        );
        assert_eq!(
            j.basic_header(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("gitlab-ci-token:tok3n")
            )
        );
    }

    #[test]
    fn docker_config_auths_and_normalised_keys() {
        let dir = std::env::temp_dir().join(format!("dockguard-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let auth = base64::engine::general_purpose::STANDARD.encode("me:p4ssw0rd");
        std::fs::write(
            dir.join("config.json"),
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"reg.example:5000":{{"username":"u","password":"pw1234"}}}}}}"#
            ),
        )
        .expect("write");
        let c = Credentials::from_env(&env(&[("DOCKER_CONFIG", dir.to_str().expect("utf8"))]));
        let hub = c.for_host("registry-1.docker.io").expect("docker hub");
        assert_eq!(hub.username, "me");
        assert_eq!(hub.password.expose(), "p4ssw0rd");
        assert!(hub.source.contains("auths.https://index.docker.io/v1/"));
        assert_eq!(c.for_host("reg.example:5000").expect("u").username, "u");
        let secrets = c.secrets();
        assert!(secrets.contains(&"p4ssw0rd".to_owned()) && secrets.contains(&auth));
        std::fs::write(dir.join("config.json"), "{not json").expect("write");
        let broken = Credentials::from_env(&env(&[("DOCKER_CONFIG", dir.to_str().expect("utf8"))]));
        assert_eq!(broken.warnings.len(), 1);
        assert!(!broken.warnings[0].contains("p4ssw0rd"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn helper_names_cannot_be_paths() {
        assert!(run_helper("../../bin/sh", "x").is_none());
        assert!(run_helper("", "x").is_none());
    }
}
