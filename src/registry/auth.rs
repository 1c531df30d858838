//! Registry authentication: the `WWW-Authenticate` challenges a registry answers `401`
//! with (every header, every challenge of each list; Bearer preferred over Basic), and the
//! Bearer token flow (docker's "token authentication specification": a GET
//! to the challenge's realm with `service` and `scope`s, Basic credentials when there are
//! any, answered with a JSON `token` / `access_token`).
//!
//! A registry's answer is hostile input, and the realm is where credentials go: it is
//! parsed as a URL and must be `https://` (plain `http://` only when the registry itself
//! is plain HTTP, as local test registries are), without user name, password or fragment;
//! it may be on another host (docker allows that, and Docker Hub and GitLab need it). A
//! token answer is read up to a size limit.

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

/// The challenge dockguard answers among every challenge of a 401's `WWW-Authenticate`
/// headers (`values`: each header may hold a list, RFC 9110 section 11.6.1): the first
/// Bearer with a realm, else Basic, as docker prefers them; other schemes are skipped. A
/// header is read up to its first syntax error (the challenges before it still count).
pub fn pick_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Challenge {
    let mut basic = false;
    let mut other: Option<String> = None;
    for value in values {
        for parsed in http_auth::parser::ChallengeParser::new(value).take(32) {
            let Ok(c) = parsed else { break };
            let get = |k: &str| {
                c.params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.to_unescaped())
            };
            if c.scheme.eq_ignore_ascii_case("bearer") {
                match get("realm") {
                    Some(realm) => {
                        return Challenge::Bearer {
                            realm,
                            service: get("service"),
                        }
                    }
                    None => {
                        other.get_or_insert_with(|| "Bearer without a realm".into());
                    }
                }
            } else if c.scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            } else {
                other.get_or_insert_with(|| {
                    super::truncate(&crate::render::outputs::one_line(c.scheme), 40)
                });
            }
        }
    }
    if basic {
        Challenge::Basic
    } else {
        Challenge::Other(other.unwrap_or_else(|| "no challenge dockguard can read".into()))
    }
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
    let url = token_url(registry, realm, service.as_deref(), scopes)?;
    let token_registry = Registry {
        host: registry.host.clone(),
        scheme: if url.starts_with("https://") {
            Scheme::Https
        } else {
            Scheme::Http
        },
    };
    let req = Req {
        method: http::Method::GET,
        url,
        scopes: Vec::new(),
        headers: Vec::new(),
        body: Body::Empty,
        redirects: false,
    };
    let auth = cred.map(Credential::basic_header);
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

/// The token request's URL: the realm, parsed, with `service` and a `scope` per
/// repository added to its query (form-encoded, as docker's Go client encodes them).
/// The realm is where the credentials go: it must be an `https://` URL (plain `http://`
/// only for a plain-HTTP registry) with no user name, password or fragment. It may be on
/// another host than the registry (Docker Hub's and GitLab's are), as docker allows.
fn token_url(
    registry: &Registry,
    realm: &str,
    service: Option<&str>,
    scopes: &[(String, &'static str)],
) -> Result<String, Failure> {
    let refuse = || {
        Failure(format!(
            "the registry's token realm `{}` is not an https:// URL: refusing to send credentials there",
            super::truncate(&crate::render::outputs::one_line(realm), 200)
        ))
    };
    // The WHATWG parser would silently drop tabs and newlines: such a realm is refused.
    if realm.contains(|c: char| c.is_control() || c.is_whitespace()) {
        return Err(refuse());
    }
    let mut url = url::Url::parse(realm).map_err(|_| refuse())?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => registry.scheme == Scheme::Http,
        _ => false,
    };
    if !scheme_ok
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(refuse());
    }
    if service.is_some() || !scopes.is_empty() {
        let mut query = url.query_pairs_mut();
        if let Some(s) = service {
            query.append_pair("service", s);
        }
        for (path, actions) in scopes {
            query.append_pair("scope", &format!("repository:{path}:{actions}"));
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(values: &[&str]) -> Challenge {
        pick_challenge(values.iter().copied())
    }

    fn bearer(realm: &str, service: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.into(),
            service: service.map(str::to_owned),
        }
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(pick(&["Basic realm=\"Registry Realm\""]), Challenge::Basic);
        assert_eq!(
            pick(&[
                "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:a/b:pull\""
            ]),
            bearer("https://auth.docker.io/token", Some("registry.docker.io"))
        );
        assert_eq!(
            pick(&["bearer REALM=\"https://x/jwt/auth\" , service=container_registry"]),
            bearer("https://x/jwt/auth", Some("container_registry"))
        );
        assert_eq!(pick(&["Bearer realm=\"a\\\"b\""]), bearer("a\"b", None));
        // A realm is a quoted string (RFC 9110 token chars exclude `:` and `/`), as docker reads it.
        assert!(matches!(
            pick(&["Bearer realm=https://x/jwt/auth"]),
            Challenge::Other(_)
        ));
        assert!(matches!(pick(&["Bearer service=x"]), Challenge::Other(_)));
        assert!(matches!(pick(&["Negotiate"]), Challenge::Other(_)));
        assert!(matches!(pick(&[]), Challenge::Other(_)));
        // Garbage never panics.
        for s in [
            "",
            "=",
            "Bearer ===,,,\"",
            "Bearer realm=\"unterminated",
            "\u{e9}t\u{e9}",
        ] {
            let _ = pick(&[s]);
        }
    }

    #[test]
    fn challenge_lists_and_several_headers_are_read_whole() {
        let b = bearer("https://auth.example/token", Some("reg"));
        // Bearer after Basic in one list, with commas inside quoted strings.
        assert_eq!(
            pick(&["Basic realm=\"a, b\", Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a/b:pull,push\""]),
            b
        );
        // Bearer in the second header.
        assert_eq!(
            pick(&[
                "Basic realm=\"x\"",
                "Bearer realm=\"https://auth.example/token\", service=reg"
            ]),
            b
        );
        // Unknown schemes (with or without parameters) are skipped.
        assert_eq!(
            pick(&[
                "Negotiate, Foo bar=\"1\", Bearer realm=\"https://auth.example/token\",service=reg"
            ]),
            b
        );
        assert_eq!(pick(&["Negotiate", "Basic realm=\"r\""]), Challenge::Basic);
        // Bearer wins over Basic whichever comes first; the first usable Bearer counts.
        assert_eq!(
            pick(&["Bearer realm=\"https://auth.example/token\",service=reg, Basic realm=\"x\", Bearer realm=\"https://other/\""]),
            b
        );
        assert_eq!(
            pick(&[
                "Bearer service=nope",
                "Bearer realm=\"https://auth.example/token\",service=reg"
            ]),
            b
        );
        // A syntax error ends that header only: what came before it, and later headers, count.
        assert_eq!(pick(&["Basic realm=\"x\", error error"]), Challenge::Basic);
        assert_eq!(
            pick(&[
                "Negotiate abc==",
                "Bearer realm=\"https://auth.example/token\",service=reg"
            ]),
            b
        );
    }

    #[test]
    fn token_realms_are_parsed_urls_where_credentials_may_go() {
        let https = Registry {
            host: "registry.example".into(),
            scheme: Scheme::Https,
        };
        let plain = Registry {
            host: "127.0.0.1:5000".into(),
            scheme: Scheme::Http,
        };
        let scopes = vec![("a/b".to_owned(), "pull"), ("c".to_owned(), "pull,push")];
        assert_eq!(
            token_url(&https, "https://auth.example/token?x=1", Some("reg y"), &scopes).as_deref(),
            Ok("https://auth.example/token?x=1&service=reg+y&scope=repository%3Aa%2Fb%3Apull&scope=repository%3Ac%3Apull%2Cpush")
        );
        assert_eq!(
            token_url(&https, "HTTPS://Auth.Example:443/token", None, &[]).as_deref(),
            Ok("https://auth.example/token")
        );
        assert!(token_url(&plain, "http://127.0.0.1:5001/token", None, &[]).is_ok());
        for bad in [
            "http://auth.example/token",
            "ftp://auth.example/token",
            "https://user:pw@auth.example/token",
            "https://auth.example/token#x",
            "https://auth.example/to ken",
            "https://auth.example/\ttoken",
            "/token",
            "a\"b",
            "",
        ] {
            assert!(token_url(&https, bad, None, &[]).is_err(), "{bad}");
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
    }
}
