//! Registry authentication: the `WWW-Authenticate` challenge a registry answers `401`
//! with, and the Bearer token flow (docker's "token authentication specification": a GET
//! to the challenge's realm with `service` and `scope`s, Basic credentials when there are
//! any, answered with a JSON `token` / `access_token`).
//!
//! A registry's answer is hostile input, and the realm is where credentials go: it must
//! be an `https://` URL (plain `http://` only when the registry itself is plain HTTP, as
//! local test registries are), and a token answer is read up to a size limit.

use std::time::{Duration, Instant};

use serde::Deserialize;
use ureq::http;

use super::creds::{Credential, Secret};
use super::{Body, Client, Failure, Registry, Req, Scheme};

/// How many repositories one token request asks for (URLs stay well under 8 KB).
pub const SCOPES_PER_TOKEN: usize = 50;

/// What a registry's `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`: send the credentials on every request.
    Basic,
    /// `Bearer realm="…",service="…"`: get a token from the realm.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter.
        service: Option<String>,
    },
    /// A scheme we do not speak.
    Other(String),
}

/// Parses a `WWW-Authenticate` value (the first challenge in it).
pub fn parse_challenge(text: &str) -> Challenge {
    let text = text.trim();
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Challenge::Basic
    } else if scheme.eq_ignore_ascii_case("bearer") {
        match get("realm") {
            Some(realm) => Challenge::Bearer {
                realm,
                service: get("service"),
            },
            None => Challenge::Other("Bearer without a realm".into()),
        }
    } else {
        Challenge::Other(super::truncate(
            &crate::render::outputs::one_line(scheme),
            40,
        ))
    }
}

/// `k=v, k="quoted \" value"` pairs.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        _ => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
        if out.len() > 32 {
            break;
        }
    }
    out
}

/// A Bearer token and the scopes it was asked for.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token (a secret).
    pub value: Secret,
    scopes: Vec<(String, &'static str)>,
    expires: Instant,
}

impl Token {
    /// Whether it was asked for `scope` (or a wider action on the same repository).
    pub fn covers(&self, scope: &(String, &'static str)) -> bool {
        self.scopes.iter().any(|(p, a)| {
            *p == scope.0
                && scope
                    .1
                    .split(',')
                    .all(|want| a.split(',').any(|have| have == want))
        })
    }

    /// Whether it is about to expire (10 s of margin).
    pub fn expired(&self) -> bool {
        Instant::now() + Duration::from_secs(10) >= self.expires
    }
}

/// A cache key for a set of scopes.
pub fn scope_key(scopes: &[(String, &'static str)]) -> String {
    let mut v: Vec<String> = scopes.iter().map(|(p, a)| format!("{p}:{a}")).collect();
    v.sort();
    v.join(" ")
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Asks the challenge's realm for a token covering `scopes`.
pub(crate) fn fetch_token(
    client: &Client,
    registry: &Registry,
    ch: &Challenge,
    scopes: &[(String, &'static str)],
    cred: Option<&Credential>,
) -> Result<Token, Failure> {
    let Challenge::Bearer { realm, service } = ch else {
        return Err(Failure("internal: not a token challenge".into()));
    };
    let realm_ok = realm.starts_with("https://")
        || (realm.starts_with("http://") && registry.scheme == Scheme::Http);
    if !realm_ok || realm.contains(|c: char| c.is_control() || c == ' ') || realm.contains('#') {
        return Err(Failure(format!(
            "the registry's token realm `{}` is not an https:// URL: refusing to send credentials there",
            super::truncate(&crate::render::outputs::one_line(realm), 200)
        )));
    }
    let mut url = realm.clone();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    let mut param = |k: &str, v: &str| {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.push_str(&percent(v));
        sep = '&';
    };
    if let Some(s) = service {
        param("service", s);
    }
    for (path, actions) in scopes {
        param("scope", &format!("repository:{path}:{actions}"));
    }
    let req = Req {
        method: http::Method::GET,
        url,
        scopes: Vec::new(),
        headers: Vec::new(),
        body: Body::Empty,
        redirects: false,
    };
    let auth = cred.map(Credential::basic_header);
    let token_registry = Registry {
        host: registry.host.clone(),
        scheme: if realm.starts_with("https://") {
            Scheme::Https
        } else {
            Scheme::Http
        },
    };
    let (resp, _) = client
        .send_raw(&token_registry, req, auth, false)
        .map_err(|f| Failure(format!("the token server failed: {f}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        let why = match (status, cred) {
            (401 | 403, Some(c)) => format!(
                "the token server refused the credentials from {} ({status})",
                c.source
            ),
            (401 | 403, None) => format!(
                "the token server wants credentials and none were found for {} ({status})",
                registry.host
            ),
            _ => format!("the token server answered {status}"),
        };
        return Err(Failure(why));
    }
    let body = client.read_body(resp, "token server's answer")?;
    let answer: TokenAnswer = serde_json::from_slice(&body)
        .map_err(|_| Failure("the token server's answer is not the expected JSON".into()))?;
    let value = answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty() && t.len() < 64 * 1024 && !t.contains(|c: char| c.is_control()))
        .ok_or_else(|| Failure("the token server's answer holds no usable token".into()))?;
    let lifetime = answer.expires_in.unwrap_or(60).clamp(10, 24 * 3600);
    Ok(Token {
        value: Secret::new(value),
        scopes: scopes.to_vec(),
        expires: Instant::now() + Duration::from_secs(lifetime),
    })
}

/// Percent-encodes a query value (everything but unreserved characters).
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge("Basic realm=\"Registry Realm\""),
            Challenge::Basic
        );
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:a/b:pull\""
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        assert_eq!(
            parse_challenge("bearer realm=https://x/jwt/auth, service=container_registry"),
            Challenge::Bearer {
                realm: "https://x/jwt/auth".into(),
                service: Some("container_registry".into())
            }
        );
        assert_eq!(
            parse_challenge("Bearer realm=\"a\\\"b\""),
            Challenge::Bearer {
                realm: "a\"b".into(),
                service: None
            }
        );
        assert!(matches!(
            parse_challenge("Bearer service=x"),
            Challenge::Other(_)
        ));
        assert!(matches!(parse_challenge("Negotiate"), Challenge::Other(_)));
        // Garbage never panics.
        for s in ["", "=", "Bearer ===,,,\"", "Bearer realm=\"unterminated"] {
            let _ = parse_challenge(s);
        }
    }

    #[test]
    fn tokens_cover_what_they_were_asked_for() {
        let t = Token {
            value: Secret::new("t".into()),
            scopes: vec![("a/b".into(), "pull,push"), ("c".into(), "pull")],
            expires: Instant::now() + Duration::from_secs(60),
        };
        assert!(t.covers(&("a/b".into(), "pull")));
        assert!(t.covers(&("a/b".into(), "pull,push")));
        assert!(!t.covers(&("c".into(), "pull,push")));
        assert!(!t.covers(&("d".into(), "pull")));
        assert!(!t.expired());
        assert_eq!(percent("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
