//! The registry client (src/registry/) against a real `docker-registry`: present and
//! missing tags, Basic auth, the token flow, wrong credentials, a registry that is down,
//! servers that answer 500, garbage, huge headers or nothing at all, copies by
//! cross-repository mount and between registries; and no secret in any message.

use std::time::{Duration, Instant};

use base64::Engine as _;
use dockguard::registry::creds::Credentials;
use dockguard::registry::{Client, Options, Repository, TagState};

use crate::realdocker::{Auth, Registry};
use crate::testservers::{put_image, ScriptedServer, TokenServer, TOKEN_ISSUER, TOKEN_SERVICE};

fn repo(host: &str, path: &str) -> Repository {
    Repository::parse(&format!("http://{host}/{path}")).expect("valid repository")
}

fn client(creds: Credentials) -> Client {
    Client::new(Options::default(), creds)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn unknown(state: &TagState) -> &str {
    match state {
        TagState::Unknown { reason } => reason,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

/// The reason of a registry that could not be asked (down, refused, 429/502-504).
fn unreachable(state: &TagState) -> &str {
    match state {
        TagState::Unreachable { reason } => reason,
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

/// The reason of either: no usable answer.
fn no_answer(state: &TagState) -> &str {
    state
        .reason()
        .unwrap_or_else(|| panic!("expected no usable answer, got {state:?}"))
}

#[test]
#[ignore = "needs docker-registry"]
fn present_and_missing_tags_with_digests_in_few_requests() {
    let reg = Registry::start();
    let base = format!("http://{}", reg.host());
    let digest = put_image(&base, None, "proj/base", "c1-aaaa", b"layer one");
    let c = client(Credentials::none());
    let states = c.tag_states(&[
        (repo(&reg.host(), "proj/base"), "c1-aaaa".into()),
        (repo(&reg.host(), "proj/base"), "c1-bbbb".into()),
        (repo(&reg.host(), "proj/nothing"), "c1-aaaa".into()),
    ]);
    assert_eq!(
        states,
        vec![
            TagState::Present {
                digest: Some(digest)
            },
            TagState::Missing,
            TagState::Missing
        ]
    );
    // One /v2/ to learn the authentication, then one manifest GET per image.
    assert_eq!(c.requests(), 4);
}

#[test]
#[ignore = "needs docker-registry"]
fn basic_auth_right_wrong_and_no_credentials() {
    let reg = Registry::basic("alice", "wonder-s3cret");
    let base = format!("http://{}", reg.host());
    put_image(
        &base,
        Some(&basic("alice", "wonder-s3cret")),
        "p/img",
        "t1",
        b"x",
    );
    let r = repo(&reg.host(), "p/img");

    let good = client(Credentials::none().with(&reg.host(), "alice", "wonder-s3cret", "the test"));
    assert!(matches!(good.tag_state(&r, "t1"), TagState::Present { .. }));
    assert_eq!(good.tag_state(&r, "t2"), TagState::Missing);

    let wrong = client(Credentials::none().with(
        &reg.host(),
        "alice",
        "not-her-passw0rd",
        "CI_REGISTRY_PASSWORD",
    ));
    let s = wrong.tag_state(&r, "t1");
    let msg = unreachable(&s);
    assert!(
        msg.contains(&format!("registry {}", reg.host()))
            && msg.contains("p/img:t1")
            && msg.contains("refused the credentials from CI_REGISTRY_PASSWORD"),
        "{msg}"
    );
    assert!(!msg.contains("not-her-passw0rd"), "{msg}");

    let none = client(Credentials::none());
    let msg = unreachable(&none.tag_state(&r, "t1")).to_owned();
    assert!(msg.contains("none were found"), "{msg}");
}

/// A real `docker-registry` with `auth: token:`, and a token server played by the test
/// (no token server is packaged in Debian; see realdocker::TokenServer).
fn token_registry(user: &str, password: &str) -> (Registry, TokenServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let ts = TokenServer::start(dir.path(), user, password);
    let reg = Registry::start_with(
        Auth::Token {
            realm: ts.realm(),
            service: TOKEN_SERVICE.into(),
            issuer: TOKEN_ISSUER.into(),
            cert: ts.cert.clone(),
        },
        None,
    );
    (reg, ts, dir)
}

fn token_for(ts: &TokenServer, user: &str, password: &str, scope: &str) -> String {
    let url = format!("{}?service={TOKEN_SERVICE}&scope={scope}", ts.realm());
    let mut resp = ureq::get(&url)
        .header("Authorization", &basic(user, password))
        .call()
        .expect("token");
    let text = resp.body_mut().read_to_string().expect("body");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    format!("Bearer {}", v["token"].as_str().expect("token"))
}

#[test]
#[ignore = "needs docker-registry"]
fn token_flow_one_token_for_every_image_and_wrong_credentials() {
    let (reg, ts, _dir) = token_registry("ci", "job-t0ken-value");
    let base = format!("http://{}", reg.host());
    for path in ["g/p/base", "g/p/child"] {
        let t = token_for(
            &ts,
            "ci",
            "job-t0ken-value",
            &format!("repository:{path}:pull,push"),
        );
        put_image(&base, Some(&t), path, "c1-1", path.as_bytes());
    }
    let before = ts.requests.lock().map(|r| r.len()).unwrap_or_default();
    let c = client(Credentials::none().with(&reg.host(), "ci", "job-t0ken-value", "CI_JOB_TOKEN"));
    let states = c.tag_states(&[
        (repo(&reg.host(), "g/p/base"), "c1-1".into()),
        (repo(&reg.host(), "g/p/child"), "c1-1".into()),
        (repo(&reg.host(), "g/p/child"), "c1-2".into()),
    ]);
    assert!(
        matches!(states[0], TagState::Present { .. }),
        "{states:?}\n{}",
        reg.log()
    );
    assert!(matches!(states[1], TagState::Present { .. }), "{states:?}");
    assert_eq!(states[2], TagState::Missing);
    let token_requests: Vec<String> = ts
        .requests
        .lock()
        .map(|r| r[before..].to_vec())
        .unwrap_or_default();
    assert_eq!(
        token_requests.len(),
        1,
        "one token for all images: {token_requests:?}"
    );
    assert!(token_requests[0].contains("scope=repository%3Ag%2Fp%2Fbase%3Apull"));
    assert!(token_requests[0].contains("scope=repository%3Ag%2Fp%2Fchild%3Apull"));
    // /v2/, one token, three manifest GETs.
    assert_eq!(c.requests(), 5);

    let wrong =
        client(Credentials::none().with(&reg.host(), "ci", "wr0ng-token-value", "CI_JOB_TOKEN"));
    let s = wrong.tag_state(&repo(&reg.host(), "g/p/base"), "c1-1");
    let msg = unreachable(&s);
    assert!(
        msg.contains("token server refused the credentials from CI_JOB_TOKEN"),
        "{msg}"
    );
    assert!(!msg.contains("wr0ng-token-value"), "{msg}");

    // Anonymous: the token server grants nothing, the registry says 401.
    let anon = client(Credentials::none());
    let msg = unreachable(&anon.tag_state(&repo(&reg.host(), "g/p/base"), "c1-1")).to_owned();
    assert!(msg.contains("401"), "{msg}");
}

#[test]
fn a_registry_that_is_down_is_unknown_fast() {
    let port = crate::realdocker::free_port();
    let c = client(Credentials::none());
    let start = Instant::now();
    let s = c.tag_state(&repo(&format!("127.0.0.1:{port}"), "a/b"), "t");
    let msg = unreachable(&s);
    assert!(
        msg.contains(&format!("registry 127.0.0.1:{port}, image a/b:t")),
        "{msg}"
    );
    assert!(
        msg.contains("refused") || msg.contains("cannot connect"),
        "{msg}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn broken_servers_give_unknown_with_a_reason_and_never_a_secret() {
    let secret = "hunter2-registry-password";
    let creds = |host: &str| Credentials::none().with(host, "bob", secret, "CI_REGISTRY_PASSWORD");
    type Answer = Box<dyn Fn(&str) -> Option<Vec<u8>> + Send>;
    let cases: Vec<(&str, Answer, &str)> = vec![
        (
            "500",
            Box::new(|_| {
                Some(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec())
            }),
            "the registry failed (500",
        ),
        (
            "503",
            Box::new(|_| {
                Some(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec())
            }),
            "503",
        ),
        (
            "garbage",
            Box::new(|_| Some(b"\x00\x01garbage\xff\r\n\r\n".to_vec())),
            "not HTTP",
        ),
        (
            "echo",
            // Echoes the request (with its Authorization header) as a broken status line.
            Box::new(|head: &str| Some(format!("HTTP/1.1 200 {head}").into_bytes())),
            "",
        ),
        (
            "huge header",
            Box::new(|_| {
                let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
                r.extend(std::iter::repeat_n(b'a', 200_000));
                r.extend_from_slice(b"\r\n\r\n");
                Some(r)
            }),
            "",
        ),
        (
            "not a manifest",
            Box::new(|_| {
                Some(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n"
                        .to_vec(),
                )
            }),
            "not a manifest (Content-Type `text/html`)",
        ),
        (
            "credentials quoted back",
            // A Content-Type holding the request's Authorization header: the message
            // quotes the Content-Type, and must scrub the credentials out of it.
            Box::new(|head: &str| {
                let auth = head.lines().find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                });
                Some(match auth {
                    Some(a) => format!("HTTP/1.1 200 OK\r\nContent-Type: x/{}\r\nContent-Length: 0\r\n\r\n", a.trim().trim_start_matches("Basic ")).into_bytes(),
                    None => b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n".to_vec(),
                })
            }),
            "not a manifest (Content-Type `x/***`)",
        ),
        (
            "401 then refused",
            Box::new(|head: &str| {
                let lower = head.to_ascii_lowercase();
                Some(if lower.contains("authorization:") {
                    // The refusal quotes the credentials back.
                    format!("HTTP/1.1 403 Forbidden {head}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .into_bytes()
                } else {
                    // `Connection: close`: the server closes after each answer, and a client
                    // must not send the retry on this connection (it raced under load).
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                })
            }),
            "access denied to the credentials from CI_REGISTRY_PASSWORD (403",
        ),
    ];
    for (name, answer, expect) in cases {
        let server = ScriptedServer::start(answer);
        let host = format!("127.0.0.1:{}", server.port);
        let c = client(creds(&host));
        let s = c.tag_state(&repo(&host, "a/b"), "t");
        // An answer that makes no sense is Unknown (build); no answer is Unreachable.
        let msg = if ["500", "not a manifest", "credentials quoted back"].contains(&name) {
            unknown(&s)
        } else {
            no_answer(&s)
        };
        if ["503", "garbage", "401 then refused"].contains(&name) {
            unreachable(&s);
        }
        eprintln!("{name}: {msg}");
        assert!(msg.contains(expect), "{name}: {msg}");
        assert!(
            msg.contains(&format!("registry 127.0.0.1:{}, image a/b:t", server.port)),
            "{name}: {msg}"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("bob:{secret}"));
        assert!(
            !msg.contains(secret) && !msg.contains(&b64),
            "{name} leaks: {msg}"
        );
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = ScriptedServer::start(|_| None);
    let opts = Options {
        request_timeout: Duration::from_millis(800),
        ..Options::default()
    };
    let c = Client::new(opts, Credentials::none());
    let start = Instant::now();
    let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
    let msg = unreachable(&s);
    assert!(msg.contains("no answer in time"), "{msg}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
#[ignore = "needs docker-registry"]
fn copy_within_a_registry_mounts_and_between_registries_uploads() {
    let a = Registry::start();
    let b = Registry::start();
    let base_a = format!("http://{}", a.host());
    let digest = put_image(
        &base_a,
        None,
        "upstream/proj/base",
        "c1-77",
        b"some layer bytes",
    );
    let c = client(Credentials::none());
    let from = repo(&a.host(), "upstream/proj/base");

    let fork = repo(&a.host(), "fork/proj/base");
    let r = c
        .copy(&from, "c1-77", &fork, "c1-77")
        .expect("copy within a");
    assert_eq!((r.mounted, r.uploaded, r.manifests), (2, 0, 1), "{r:?}");
    assert_eq!(
        c.tag_state(&fork, "c1-77"),
        TagState::Present {
            digest: Some(digest.clone())
        }
    );

    let other = repo(&b.host(), "fork/proj/base");
    let r = c
        .copy(&from, "c1-77", &other, "c1-77")
        .expect("copy a -> b");
    assert_eq!((r.mounted, r.uploaded, r.manifests), (0, 2, 1), "{r:?}");
    assert_eq!(
        c.tag_state(&other, "c1-77"),
        TagState::Present {
            digest: Some(digest)
        }
    );
    // Again: the blobs are there already.
    let r = c.copy(&from, "c1-77", &other, "c1-77").expect("copy again");
    assert_eq!((r.present, r.uploaded), (2, 0), "{r:?}");

    let err = c
        .copy(&from, "c1-nope", &fork, "c1-nope")
        .expect_err("no such tag");
    assert!(
        err.0.contains("there is none (404)") && err.0.contains("upstream/proj/base:c1-nope"),
        "{err}"
    );
}

#[test]
#[ignore = "needs docker-registry"]
fn copy_with_the_token_flow() {
    let (reg, ts, _dir) = token_registry("ci", "t0k3n-for-copy");
    let base = format!("http://{}", reg.host());
    let t = token_for(&ts, "ci", "t0k3n-for-copy", "repository:up/base:pull,push");
    put_image(&base, Some(&t), "up/base", "c1-5", b"layer");
    let c = client(Credentials::none().with(&reg.host(), "ci", "t0k3n-for-copy", "CI_JOB_TOKEN"));
    let r = c
        .copy(
            &repo(&reg.host(), "up/base"),
            "c1-5",
            &repo(&reg.host(), "fork/base"),
            "c1-5",
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    assert_eq!(r.mounted, 2, "{r:?}");
    assert!(matches!(
        c.tag_state(&repo(&reg.host(), "fork/base"), "c1-5"),
        TagState::Present { .. }
    ));
}

#[test]
#[ignore = "needs docker-registry"]
fn dockguard_copy_mounts_reports_and_fails_clearly() {
    let reg = Registry::basic("ci", "c0py-s3cret");
    let auth = basic("ci", "c0py-s3cret");
    let base = format!("http://{}", reg.host());
    let digest = put_image(&base, Some(&auth), "up/base", "c1-9", b"layer");
    let dir = tempfile::tempdir().expect("dir");
    let env = [
        ("CI_REGISTRY", reg.host()),
        ("CI_REGISTRY_USER", "ci".to_owned()),
        ("CI_REGISTRY_PASSWORD", "c0py-s3cret".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let from = format!("{}/up/base:c1-9", reg.host());
    let to = format!("{}/fork/base:c1-9", reg.host());
    let run = crate::fixture::dockguard(dir.path(), &["copy", &from, &to], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("2 blob(s) mounted, 0 uploaded"),
        "{}",
        run.stdout
    );
    let c = client(Credentials::none().with(&reg.host(), "ci", "c0py-s3cret", "test"));
    assert_eq!(
        c.tag_state(&repo(&reg.host(), "fork/base"), "c1-9"),
        TagState::Present {
            digest: Some(digest)
        }
    );
    // A tag that is not there: exit 2, both images named.
    let missing = format!("{}/up/base:c1-0", reg.host());
    let run = crate::fixture::dockguard(dir.path(), &["copy", &missing, &to], &env);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("up/base:c1-0") && run.stderr.contains("there is none (404)"),
        "{}",
        run.stderr
    );
    // Wrong credentials: said, not shown.
    let host = reg.host();
    let wrong = [
        ("CI_REGISTRY", host.as_str()),
        ("CI_REGISTRY_USER", "ci"),
        ("CI_REGISTRY_PASSWORD", "wr0ng-c0py"),
    ];
    let run = crate::fixture::dockguard(dir.path(), &["copy", &from, &to], &wrong);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("refused the credentials from CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wr0ng-c0py") && !run.stdout.contains("wr0ng-c0py"));
    let bad = crate::fixture::dockguard(dir.path(), &["copy", "no-tag", &to], &env);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("argument FROM"), "{}", bad.stderr);
}

#[test]
fn oversized_or_malformed_token_answers_are_unknown() {
    // The scripted server is both registry and token realm: 401 with a Bearer challenge,
    // then the token endpoint answers `body`.
    for (name, body, expect) in [
        ("huge", "x".repeat(5 << 20), "larger than"),
        ("not json", "<html>".to_owned(), "not the expected JSON"),
        (
            "no token",
            "{\"expires_in\":5}".to_owned(),
            "no usable token",
        ),
    ] {
        let port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
        let p = port.clone();
        let server = ScriptedServer::start(move |head: &str| {
            let realm = format!(
                "http://127.0.0.1:{}/token",
                p.load(std::sync::atomic::Ordering::Relaxed)
            );
            Some(if head.starts_with("GET /token") {
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
            } else {
                format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"s\"\r\nContent-Length: 0\r\n\r\n").into_bytes()
            })
        });
        port.store(server.port, std::sync::atomic::Ordering::Relaxed);
        let c = client(Credentials::none());
        let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
        let msg = unreachable(&s);
        assert!(
            msg.contains(expect) && msg.contains("image a/b:t"),
            "{name}: {msg}"
        );
    }
}

#[test]
fn a_hostile_registry_cannot_steer_a_copy() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let manifest = |blob: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"digest":"{blob}","size":1}},"layers":[]}}"#
        )
    };
    for (name, blob, location, expect) in [
        // An upload location on another host would receive the credentials.
        (
            "location elsewhere",
            digest.clone(),
            "http://evil.invalid/upload",
            "is not on localhost:",
        ),
        // A digest is pasted into URLs: only sha256/sha512 hex passes.
        (
            "path in a digest",
            "sha256:../../../v2/other/manifests/x".to_owned(),
            "/v2/b/blobs/uploads/1",
            "not a digest",
        ),
    ] {
        let body = manifest(&blob);
        let loc = location.to_owned();
        let server = ScriptedServer::start(move |head: &str| {
            Some(if head.starts_with("GET /v2/a/manifests/") {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            } else if head.starts_with("HEAD /v2/b/blobs/") {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
            } else if head.starts_with("POST /v2/b/blobs/uploads/") {
                format!("HTTP/1.1 202 Accepted\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n")
                    .into_bytes()
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
            })
        });
        let host = format!("127.0.0.1:{}", server.port);
        let c = client(Credentials::none().with(&host, "u", "p4ssword", "test"));
        // From a second registry name (same server) so the copy must upload.
        let other = format!("localhost:{}", server.port);
        let err = c
            .copy(&repo(&host, "a"), "t", &repo(&other, "b"), "t")
            .expect_err(name);
        assert!(err.0.contains(expect), "{name}: {err}");
        let heads = server.heads.lock().map(|h| h.clone()).unwrap_or_default();
        assert!(
            !heads.iter().any(|h| h.contains("/other/")),
            "{name}: {heads:?}"
        );
    }
}

#[test]
fn a_bearer_challenge_after_basic_is_the_one_answered() {
    // The scripted server is registry and token realm. Its 401 lists Basic first and
    // Bearer second, in one header or in two; dockguard must take the token flow (docker
    // prefers Bearer), and the manifest is served only with the token.
    let manifest = r#"{"schemaVersion":2,"config":{"digest":"sha256:x"},"layers":[]}"#;
    for (name, challenge) in [
        (
            "two headers",
            "WWW-Authenticate: Basic realm=\"registry\"\r\nWWW-Authenticate: Bearer realm=\"@REALM@\",service=\"svc\"",
        ),
        (
            "one list",
            "WWW-Authenticate: Basic realm=\"a, b\", Negotiate, Bearer realm=\"@REALM@\",service=\"svc\",scope=\"repository:a/b:pull\"",
        ),
    ] {
        let port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
        let p = port.clone();
        let server = ScriptedServer::start(move |head: &str| {
            let realm = format!(
                "http://127.0.0.1:{}/token",
                p.load(std::sync::atomic::Ordering::Relaxed)
            );
            let bearer = head
                .lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer t0ken-from-realm"));
            Some(if head.starts_with("GET /token") {
                let body = r#"{"token":"t0ken-from-realm","expires_in":300}"#;
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
            } else if head.starts_with("GET /v2/a/b/manifests/") && bearer {
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\n\r\n{manifest}", manifest.len()).into_bytes()
            } else {
                let challenge = challenge.replace("@REALM@", &realm);
                format!("HTTP/1.1 401 Unauthorized\r\n{challenge}\r\nContent-Length: 0\r\n\r\n")
                    .into_bytes()
            })
        });
        port.store(server.port, std::sync::atomic::Ordering::Relaxed);
        let host = format!("127.0.0.1:{}", server.port);
        let c = client(Credentials::none().with(&host, "ci", "job-t0ken-value", "CI_JOB_TOKEN"));
        let s = c.tag_state(&repo(&host, "a/b"), "t");
        assert!(matches!(s, TagState::Present { .. }), "{name}: {s:?}");
        let heads = server.heads.lock().expect("heads").clone();
        let token = heads
            .iter()
            .find(|h| h.starts_with("GET /token"))
            .unwrap_or_else(|| panic!("{name}: no token request: {heads:?}"));
        assert!(
            token.contains("service=svc") && token.contains("scope=repository%3Aa%2Fb%3Apull"),
            "{name}: {token}"
        );
        assert!(
            token.contains(&basic("ci", "job-t0ken-value")),
            "{name}: the credentials go to the token realm: {token}"
        );
    }
}
