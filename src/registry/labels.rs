//! Reading an image's labels from the registry, for `dockguard verify`: the manifest
//! under a tag (hashed and compared like every manifest), each image's config blob
//! (hashed against the digest the manifest names), and the config's `Labels`. An index
//! (a multi-platform image) yields the labels of every platform's image; attestation
//! manifests (platform `unknown/unknown`, as BuildKit writes them) are not images.

use std::collections::BTreeMap;

use serde::Deserialize;
use ureq::http;

use super::{header, valid_digest, Body, Client, Failure, Repository, Req, MANIFEST_TYPES};

/// The most platforms of one index that are read.
const MAX_PLATFORMS: usize = 32;

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Option<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ImageConfig {
    config: Option<ConfigSection>,
}

#[derive(Deserialize)]
struct ConfigSection {
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// What the registry holds under a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedImage {
    /// The manifest's digest (computed).
    pub digest: String,
    /// The labels of each image (one for a plain image, one per platform for an index).
    pub labels: Vec<BTreeMap<String, String>>,
}

impl Client {
    /// The digest and labels of `repo:tag`. `Ok(None)`: the tag does not exist.
    pub fn labels(&self, repo: &Repository, tag: &str) -> Result<Option<TaggedImage>, Failure> {
        let what = format!("{}:{tag}", repo.reference());
        if !super::valid_tag(tag) {
            return Err(Failure(format!("{what}: not a valid tag")));
        }
        self.prepare(&repo.registry, std::slice::from_ref(&repo.path));
        let Some((digest, m)) = self
            .manifest(repo, tag)
            .map_err(|f| Failure(self.scrub(&format!("{what}: {f}"))))?
        else {
            return Ok(None);
        };
        let mut labels = Vec::new();
        let configs: Vec<String> = if m.manifests.is_empty() {
            m.config.iter().map(|c| c.digest.clone()).collect()
        } else {
            let mut v = Vec::new();
            for child in m
                .manifests
                .iter()
                .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
                .take(MAX_PLATFORMS)
            {
                let found = self
                    .manifest(repo, &child.digest)
                    .map_err(|f| Failure(self.scrub(&format!("{what}: {f}"))))?;
                match found {
                    Some((_, cm)) => v.extend(cm.config.map(|c| c.digest)),
                    None => {
                        return Err(Failure(format!(
                            "{what}: the index names {} and the registry has no such manifest",
                            child.digest
                        )))
                    }
                }
            }
            v
        };
        if configs.is_empty() {
            return Err(Failure(format!(
                "{what}: the manifest names no image config"
            )));
        }
        for c in configs {
            let l = self
                .config_labels(repo, &c)
                .map_err(|f| Failure(self.scrub(&format!("{what}: {f}"))))?;
            labels.push(l);
        }
        Ok(Some(TaggedImage { digest, labels }))
    }

    fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<(String, Manifest)>, Failure> {
        if reference.contains(':') && !valid_digest(reference) {
            return Err(Failure(format!("`{reference}` is not a digest")));
        }
        let resp = self.send(
            &repo.registry,
            Req {
                method: http::Method::GET,
                url: format!(
                    "{}/v2/{}/manifests/{reference}",
                    repo.registry.base(),
                    repo.path
                ),
                scopes: vec![(repo.path.clone(), "pull")],
                headers: vec![("Accept", MANIFEST_TYPES.join(", "))],
                body: Body::Empty,
                redirects: false,
            },
        )?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            s => {
                return Err(Failure(format!(
                    "reading the manifest: {}",
                    self.status_failure(&repo.registry, s)
                )))
            }
        }
        let claimed = header(&resp, "docker-content-digest");
        let body = self.read_body(resp, "manifest")?;
        let digest =
            super::body_digest(&body, claimed.as_deref(), Some(reference)).map_err(Failure)?;
        let m: Manifest = serde_json::from_slice(&body)
            .map_err(|_| Failure("the manifest is not an image manifest or index".into()))?;
        Ok(Some((digest, m)))
    }

    fn config_labels(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<BTreeMap<String, String>, Failure> {
        if !valid_digest(digest) {
            return Err(Failure(format!(
                "the manifest names a config `{}` that is not a digest",
                super::truncate(&crate::render::outputs::one_line(digest), 80)
            )));
        }
        let resp = self.send(
            &repo.registry,
            Req {
                method: http::Method::GET,
                url: format!("{}/v2/{}/blobs/{digest}", repo.registry.base(), repo.path),
                scopes: vec![(repo.path.clone(), "pull")],
                headers: Vec::new(),
                body: Body::Empty,
                redirects: true,
            },
        )?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(Failure(format!(
                "reading the image config {digest}: {}",
                self.status_failure(&repo.registry, status)
            )));
        }
        let body = self.read_body(resp, "image config")?;
        if !super::digest::matches(&body, digest) {
            return Err(Failure(format!(
                "the image config downloaded as {digest} hashes to {}: refused",
                super::digest::sha256(&body)
            )));
        }
        let c: ImageConfig = serde_json::from_slice(&body)
            .map_err(|_| Failure(format!("the image config {digest} is not JSON")))?;
        Ok(c.config.and_then(|s| s.labels).unwrap_or_default())
    }
}
