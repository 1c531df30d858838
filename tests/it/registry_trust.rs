//! What a registry says is checked, not trusted (issue 25): every manifest body is hashed
//! and compared with `Docker-Content-Digest` and with the digest it was asked by; a copy
//! hashes each blob it moves; 429 (with `Retry-After`) and 502-504 are retried a bounded
//! number of times; and `dockguard plan` fails as one clear failure when this project's
//! registry cannot be asked. Hostile or flaky registries are scripted (a real one does
//! not lie on demand); the destinations of copies are real `docker-registry`s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockguard::registry::creds::Credentials;
use dockguard::registry::{Client, Options, Repository, TagState};

use crate::realdocker::Registry;
use crate::testservers::{sha256, ScriptedServer};

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn repo(host: &str, path: &str) -> Repository {
    Repository::parse(&format!("http://{host}/{path}")).expect("valid repository")
}

/// Fast retries, so the tests do not wait half a minute.
fn quick() -> Options {
    Options {
        retry_wait: Duration::from_millis(50),
        ..Options::default()
    }
}

fn manifest_with(blob: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_TYPE}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{blob}"}},"layers":[]}}"#
    )
}

fn ok_manifest(body: &str, digest_header: Option<&str>) -> Vec<u8> {
    let header = digest_header
        .map(|d| format!("Docker-Content-Digest: {d}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {MANIFEST_TYPE}\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn v2_ok() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec()
}

#[test]
fn a_manifest_that_does_not_hash_to_its_digest_is_never_present() {
    let body = manifest_with(&sha256(b"{}"));
    let real = sha256(body.as_bytes());
    let other = sha256(b"some other manifest");
    for (name, header, expect) in [
        ("lying header", Some(other.clone()), Err("does not hash")),
        ("true header", Some(real.clone()), Ok(real.clone())),
        ("no header", None, Ok(real.clone())),
        (
            "garbage header",
            Some("sha256:nothex".to_owned()),
            Err("does not hash"),
        ),
    ] {
        let b = body.clone();
        let server = ScriptedServer::start(move |head| {
            Some(if head.starts_with("GET /v2/ ") {
                v2_ok()
            } else {
                ok_manifest(&b, header.as_deref())
            })
        });
        let host = format!("127.0.0.1:{}", server.port);
        let c = Client::new(quick(), Credentials::none());
        let state = c.tag_state(&repo(&host, "a/b"), "t");
        match expect {
            Ok(d) => assert_eq!(state, TagState::Present { digest: Some(d) }, "{name}"),
            Err(words) => match &state {
                TagState::Unknown { reason } => {
                    assert!(reason.contains(words), "{name}: {reason}");
                    assert!(
                        reason.contains(&real),
                        "{name}: names the real digest: {reason}"
                    );
                }
                other => panic!("{name}: expected Unknown, got {other:?}"),
            },
        }
    }
}

/// A server that answers the manifest request with `first` for the first `n` requests,
/// then with a good manifest; counts the manifest requests.
fn flaky(first: &'static str, n: usize) -> (ScriptedServer, Arc<AtomicUsize>, String) {
    let body = manifest_with(&sha256(b"{}"));
    let digest = sha256(body.as_bytes());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let server = ScriptedServer::start(move |head| {
        if head.starts_with("GET /v2/ ") {
            return Some(v2_ok());
        }
        let i = seen.fetch_add(1, Ordering::SeqCst);
        Some(if i < n {
            first.as_bytes().to_vec()
        } else {
            ok_manifest(&body, None)
        })
    });
    (server, count, digest)
}

#[test]
fn a_429_with_retry_after_and_a_503_are_retried() {
    let (server, count, digest) = flaky(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        1,
    );
    let c = Client::new(quick(), Credentials::none());
    let started = Instant::now();
    let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
    assert_eq!(
        s,
        TagState::Present {
            digest: Some(digest.clone())
        }
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After is honoured: {:?}",
        started.elapsed()
    );

    let (server, count, digest) = flaky(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        2,
    );
    let c = Client::new(quick(), Credentials::none());
    let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
    assert_eq!(
        s,
        TagState::Present {
            digest: Some(digest)
        }
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[test]
fn retries_are_bounded_and_a_long_retry_after_gives_up_at_once() {
    let (server, count, _) = flaky(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        usize::MAX,
    );
    let c = Client::new(quick(), Credentials::none());
    let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
    match &s {
        TagState::Unreachable { reason } => {
            assert!(
                reason.contains("503") && reason.contains("retried 3 time(s)"),
                "{reason}"
            )
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 4, "one request and 3 retries");

    let (server, count, _) = flaky(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        usize::MAX,
    );
    let c = Client::new(quick(), Credentials::none());
    let started = Instant::now();
    let s = c.tag_state(&repo(&format!("127.0.0.1:{}", server.port), "a/b"), "t");
    assert!(matches!(s, TagState::Unreachable { .. }), "{s:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "an hour is not waited for");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A source registry serving one manifest whose config blob is `blob_bytes` under
/// `blob_digest`, and its manifest under `manifest_digest` as `Docker-Content-Digest`.
fn lying_source(
    blob_digest: String,
    blob_bytes: &'static [u8],
    header: Option<String>,
) -> ScriptedServer {
    let body = manifest_with(&blob_digest);
    ScriptedServer::start(move |head| {
        Some(if head.starts_with("GET /v2/ ") {
            v2_ok()
        } else if head.starts_with("GET /v2/up/manifests/") {
            let h = header.clone().unwrap_or_else(|| sha256(body.as_bytes()));
            ok_manifest(&body, Some(&h))
        } else if head.starts_with("GET /v2/up/blobs/") {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                blob_bytes.len()
            )
            .into_bytes();
            r.extend_from_slice(blob_bytes);
            r
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        })
    })
}

#[test]
#[ignore = "needs docker-registry"]
fn a_copy_hashes_every_blob_and_manifest_itself() {
    let dest = Registry::start();
    let to = repo(&dest.host(), "fork/base");
    let c = Client::new(quick(), Credentials::none());

    // The blob's bytes are not what its digest says: the upload is cut off by dockguard.
    let claimed = sha256(b"{}");
    let source = lying_source(claimed.clone(), b"{]", None);
    let from = repo(&format!("127.0.0.1:{}", source.port), "up");
    let err = c.copy(&from, "t", &to, "t").expect_err("a lying blob");
    assert!(
        err.0.contains(&format!(
            "the blob downloaded as {claimed} hashes to {}",
            sha256(b"{]")
        )),
        "{err}"
    );
    assert_eq!(c.tag_state(&to, "t"), TagState::Missing, "nothing was put");
    let head = ureq::head(format!(
        "http://{}/v2/fork/base/blobs/{claimed}",
        dest.host()
    ))
    .config()
    .http_status_as_error(false)
    .build()
    .call()
    .expect("HEAD");
    assert_eq!(head.status().as_u16(), 404, "the blob never landed");

    // The manifest does not hash to the source's header: refused before any blob moves.
    let source = lying_source(claimed.clone(), b"{}", Some(sha256(b"another manifest")));
    let from = repo(&format!("127.0.0.1:{}", source.port), "up");
    let err = c.copy(&from, "t", &to, "t").expect_err("a lying manifest");
    assert!(
        err.0
            .contains("does not hash to the registry's Docker-Content-Digest"),
        "{err}"
    );

    // Honest: copied, with the manifest's own digest.
    let source = lying_source(claimed, b"{}", None);
    let from = repo(&format!("127.0.0.1:{}", source.port), "up");
    let r = c.copy(&from, "t", &to, "t").expect("an honest copy");
    assert_eq!((r.uploaded, r.manifests), (1, 1), "{r:?}");
    assert!(matches!(c.tag_state(&to, "t"), TagState::Present { .. }));
}
