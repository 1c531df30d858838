//! What `gc` asks of a registry, through the OCI distribution API with the plan's
//! [`Client`] (its authentication, limits and secret scrubbing): every tag of a
//! repository (`tags/list`, following `Link` pagination), each tag's manifest (its digest,
//! the blobs it holds and, for an index, the manifests it lists), an image's `created`
//! time (from its config blob), and the delete of a manifest by digest.
//!
//! Kept apart from [`crate::registry`] because only `gc` lists, deletes and reads configs;
//! the plan never needs any of it.

use serde_json::Value;
use ureq::http;

use crate::registry::{
    header, valid_digest, valid_tag, Body, Client, Failure, Repository, Req, MANIFEST_TYPES,
};
use crate::render::outputs::one_line;

/// At most this many `tags/list` pages (of up to 1000 tags) per repository: a registry
/// that keeps sending `next` is broken, and gc then deletes nothing.
const MAX_PAGES: usize = 1000;
/// At most this many manifests an index may list (more: unreadable).
const MAX_CHILDREN: usize = 256;

/// One tag's manifest, as far as gc needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// `Docker-Content-Digest`: what a delete names.
    pub digest: String,
    /// Every blob the image holds (configs and layers, those of an index's manifests
    /// too), with its size.
    pub blobs: Vec<(String, u64)>,
    /// The manifests an index lists (empty for an image).
    pub children: Vec<String>,
    /// The config blob to read `created` from (an index: its first image's).
    pub config: Option<String>,
}

impl Manifest {
    /// The bytes its blobs take (a blob listed twice counts once).
    pub fn size(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.blobs
            .iter()
            .filter(|(d, _)| seen.insert(d.as_str()))
            .map(|(_, s)| s)
            .sum()
    }
}

fn get(
    repo: &Repository,
    url: String,
    scope: &'static str,
    accept: Option<String>,
) -> Req<'static> {
    Req {
        method: http::Method::GET,
        url,
        scopes: vec![(repo.path.clone(), scope)],
        headers: accept.map(|a| vec![("Accept", a)]).unwrap_or_default(),
        body: Body::Empty,
        redirects: false,
    }
}

/// Every tag of `repo` (none when the registry does not know the repository).
pub(crate) fn list_tags(client: &Client, repo: &Repository) -> Result<Vec<String>, Failure> {
    let what = format!("registry {}, image {}", repo.registry.host, repo.path);
    let fail = |m: String| Failure(client.scrub(&format!("{what}: {m}")));
    let first = format!("/v2/{}/tags/list?n=1000", repo.path);
    let mut next = Some(first);
    let mut tags = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(path) = next.take() else {
            return Ok(tags);
        };
        let url = format!("{}{path}", repo.registry.base());
        let resp = client
            .send(&repo.registry, get(repo, url, "pull", None))
            .map_err(|f| fail(f.0))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(tags);
        }
        if status != 200 {
            return Err(fail(format!(
                "cannot list its tags: {}",
                client.status_failure(&repo.registry, status)
            )));
        }
        next = match header(&resp, "link") {
            Some(link) => Some(next_page(&link, &repo.path).ok_or_else(|| {
                fail(format!(
                    "the tag list's Link header `{}` is not a next page of this repository",
                    one_line(&link)
                ))
            })?),
            None => None,
        };
        let body = client.read_body(resp, "tag list").map_err(|f| fail(f.0))?;
        let v: Value =
            serde_json::from_slice(&body).map_err(|_| fail("the tag list is not JSON".into()))?;
        match v.get("tags") {
            Some(Value::Null) | None => {}
            Some(Value::Array(a)) => {
                for t in a {
                    match t.as_str() {
                        Some(t) if valid_tag(t) => tags.push(t.to_owned()),
                        _ => return Err(fail(format!("the tag list holds `{t}`, not a tag"))),
                    }
                }
            }
            Some(_) => return Err(fail("the tag list's `tags` is not a list".into())),
        }
    }
    Err(fail(format!(
        "the tag list goes on for more than {MAX_PAGES} pages"
    )))
}

/// The path of the next page from a `Link: <URL>; rel="next"` header (RFC 8288), only
/// when it is this repository's tag list on the same registry: a registry's answer never
/// chooses where gc connects.
pub(crate) fn next_page(link: &str, path: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().strip_prefix('<')?.split_once('>')?;
        let next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let prefix = format!("/v2/{path}/tags/list?");
        (next && target.starts_with(&prefix) && !target.contains(['#', ' ']))
            .then(|| target.to_owned())
    })
}

/// A manifest's bytes and digest, by tag or digest.
fn fetch(client: &Client, repo: &Repository, reference: &str) -> Result<(Vec<u8>, String), String> {
    let url = format!(
        "{}/v2/{}/manifests/{reference}",
        repo.registry.base(),
        repo.path
    );
    let resp = client
        .send(
            &repo.registry,
            get(repo, url, "pull", Some(MANIFEST_TYPES.join(", "))),
        )
        .map_err(|f| f.0)?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(client.status_failure(&repo.registry, status));
    }
    let digest = header(&resp, "docker-content-digest").filter(|d| valid_digest(d));
    let body = client.read_body(resp, "manifest").map_err(|f| f.0)?;
    match digest {
        Some(d) => Ok((body, d)),
        None if valid_digest(reference) => Ok((body, reference.to_owned())),
        None => Err(
            "the registry did not say its digest (Docker-Content-Digest), which a delete needs"
                .into(),
        ),
    }
}

/// `(digest, size)` of a descriptor.
fn descriptor(v: &Value) -> Option<(String, u64)> {
    let d = v.get("digest")?.as_str().filter(|d| valid_digest(d))?;
    Some((d.to_owned(), v.get("size")?.as_u64()?))
}

/// An image manifest's config and layers.
fn image_blobs(v: &Value) -> Option<(String, Vec<(String, u64)>)> {
    let config = descriptor(v.get("config")?)?;
    let mut blobs = vec![config.clone()];
    for l in v.get("layers")?.as_array()? {
        blobs.push(descriptor(l)?);
    }
    Some((config.0, blobs))
}

/// `repo:tag`'s manifest (and, for an index, the manifests it lists).
pub(crate) fn manifest(client: &Client, repo: &Repository, tag: &str) -> Result<Manifest, Failure> {
    let what = format!("registry {}, image {}:{tag}", repo.registry.host, repo.path);
    let fail = |m: String| Failure(client.scrub(&format!("{what}: {m}")));
    let (body, digest) = fetch(client, repo, tag).map_err(fail)?;
    // A manifest of another kind (a signature, an artifact, schema 1) still protects its
    // digest; without a config its age is unknown, so it is never garbage.
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some((config, blobs)) = image_blobs(&v) {
        return Ok(Manifest {
            digest,
            blobs,
            children: Vec::new(),
            config: Some(config),
        });
    }
    let Some(list) = v.get("manifests").and_then(Value::as_array) else {
        return Ok(Manifest {
            digest,
            ..Manifest::default()
        });
    };
    if list.len() > MAX_CHILDREN {
        return Err(fail(format!(
            "the index lists more than {MAX_CHILDREN} manifests"
        )));
    }
    let mut m = Manifest {
        digest,
        ..Manifest::default()
    };
    for child in list {
        let Some((d, size)) = descriptor(child) else {
            return Err(fail(
                "the index lists a manifest without digest and size".into(),
            ));
        };
        let (cbody, _) =
            fetch(client, repo, &d).map_err(|e| fail(format!("its manifest {d}: {e}")))?;
        let cv: Value = serde_json::from_slice(&cbody)
            .map_err(|_| fail(format!("its manifest {d} is not JSON")))?;
        // A nested index or an artifact: its blobs are not counted, it is still protected.
        if let Some((config, blobs)) = image_blobs(&cv) {
            m.config.get_or_insert(config);
            m.blobs.extend(blobs);
        }
        m.blobs.push((d.clone(), size));
        m.children.push(d);
    }
    Ok(m)
}

/// The `created` time (seconds since the epoch) in an image's config blob; `None` when
/// the config has none or it is not an RFC 3339 time.
pub(crate) fn created(
    client: &Client,
    repo: &Repository,
    config: &str,
) -> Result<Option<i64>, Failure> {
    let what = format!("registry {}, image {}", repo.registry.host, repo.path);
    let url = format!("{}/v2/{}/blobs/{config}", repo.registry.base(), repo.path);
    let mut req = get(repo, url, "pull", None);
    // Blobs may be served from storage elsewhere; no credentials follow a redirect.
    req.redirects = true;
    let resp = client
        .send(&repo.registry, req)
        .map_err(|f| Failure(client.scrub(&format!("{what}: config {config}: {f}"))))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(Failure(client.scrub(&format!(
            "{what}: config {config}: {}",
            client.status_failure(&repo.registry, status)
        ))));
    }
    let body = client
        .read_body(resp, "image config")
        .map_err(|f| Failure(client.scrub(&format!("{what}: {f}"))))?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(v.get("created").and_then(Value::as_str).and_then(rfc3339))
}

/// Deletes the manifest `digest` of `repo` (every tag naming it goes with it). `Ok(false)`
/// when it was already gone.
pub(crate) fn delete(client: &Client, repo: &Repository, digest: &str) -> Result<bool, Failure> {
    let what = format!(
        "registry {}, image {}@{digest}",
        repo.registry.host, repo.path
    );
    let req = Req {
        method: http::Method::DELETE,
        url: format!(
            "{}/v2/{}/manifests/{digest}",
            repo.registry.base(),
            repo.path
        ),
        scopes: vec![(repo.path.clone(), "delete")],
        headers: Vec::new(),
        body: Body::Empty,
        redirects: false,
    };
    let resp = client
        .send(&repo.registry, req)
        .map_err(|f| Failure(client.scrub(&format!("{what}: {f}"))))?;
    match resp.status().as_u16() {
        200 | 202 | 204 => Ok(true),
        404 => Ok(false),
        405 => Err(Failure(format!(
            "{what}: the registry does not allow deletes (405): a distribution registry needs REGISTRY_STORAGE_DELETE_ENABLED=true (storage: delete: enabled: true); ghcr.io and Docker Hub never take them (run gc without --delete there)"
        ))),
        s => Err(Failure(client.scrub(&format!(
            "{what}: cannot delete: {}",
            client.status_failure(&repo.registry, s)
        )))),
    }
}

/// Seconds since the epoch of an RFC 3339 time (`2026-12-08T03:09:48.123Z`,
/// `…+01:00`), as docker and BuildKit write `created`.
pub(crate) fn rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            let o = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_as_docker_writes_them() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339("2026-12-08T03:09:48Z"), Some(1_796_699_388));
        assert_eq!(
            rfc3339("2026-12-08T03:09:48.123456789Z"),
            Some(1_796_699_388)
        );
        assert_eq!(rfc3339("2026-12-08T04:09:48+01:00"), Some(1_796_699_388));
        assert_eq!(rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-08T03:09:48",
            "2026-12-08T03:09:48.Z",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_next_page_of_the_same_list_is_followed() {
        let p = "group/app";
        assert_eq!(
            next_page(
                r#"</v2/group/app/tags/list?last=c1-x&n=1000>; rel="next""#,
                p
            )
            .as_deref(),
            Some("/v2/group/app/tags/list?last=c1-x&n=1000")
        );
        assert_eq!(
            next_page(
                r#"<https://evil.example/v2/group/app/tags/list?n=1>; rel="next""#,
                p
            ),
            None
        );
        assert_eq!(
            next_page(r#"</v2/other/tags/list?n=1>; rel="next""#, p),
            None
        );
        assert_eq!(
            next_page(r#"</v2/group/app/tags/list?n=1>; rel="prev""#, p),
            None
        );
    }

    #[test]
    fn sizes_count_each_blob_once() {
        let m = Manifest {
            blobs: vec![("a".into(), 5), ("b".into(), 7), ("a".into(), 5)],
            ..Manifest::default()
        };
        assert_eq!(m.size(), 12);
    }
}
