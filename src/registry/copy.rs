//! Copying an image between repositories, for the plan's `copy` action (a fork's
//! registry lacks what upstream's has).
//!
//! Within one registry, every blob is mounted (`POST /v2/<to>/blobs/uploads/?mount=
//! <digest>&from=<from>`: no bytes move); a registry that declines the mount (`202`) or a
//! copy between registries gets the blob downloaded and uploaded (`GET` then a monolithic
//! `PUT` of the upload session). Then the manifest is put under the tag, byte for byte
//! (an index's child manifests first, by digest), so the copy has the same digest.
//!
//! Nothing the source says is taken on trust: each manifest must hash to the source's
//! `Docker-Content-Digest` and to the digest it was asked by, and an uploaded blob is
//! hashed on its way through; when it does not hash to its digest the upload is cut off
//! before it completes, whatever the destination registry would have checked.

use serde::Deserialize;
use ureq::http;

use super::{header, valid_digest, Body, Client, Failure, Repository, Req, MANIFEST_TYPES};

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Blobs mounted from the source repository.
    pub mounted: usize,
    /// Blobs downloaded and uploaded.
    pub uploaded: usize,
    /// Blobs the target already had.
    pub present: usize,
    /// Manifests put.
    pub manifests: usize,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct Manifest {
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl Client {
    /// Copies `from:from_tag` to `to:to_tag`. Errors name both images.
    pub fn copy(
        &self,
        from: &Repository,
        from_tag: &str,
        to: &Repository,
        to_tag: &str,
    ) -> Result<CopyReport, Failure> {
        let what = format!(
            "copying {}:{from_tag} to {}:{to_tag}",
            from.reference(),
            to.reference()
        );
        if !super::valid_tag(from_tag) || !super::valid_tag(to_tag) {
            return Err(Failure(format!("{what}: not a valid tag")));
        }
        let mut report = CopyReport::default();
        self.copy_manifest(from, from_tag, to, to_tag, 0, &mut report)
            .map_err(|f| Failure(self.scrub(&format!("{what}: {f}"))))?;
        Ok(report)
    }

    fn copy_manifest(
        &self,
        from: &Repository,
        reference: &str,
        to: &Repository,
        to_reference: &str,
        depth: u32,
        report: &mut CopyReport,
    ) -> Result<(), Failure> {
        if depth > 1 {
            return Err(Failure("an image index nested in an image index".into()));
        }
        let (bytes, ctype) = self.get_manifest(from, reference, to)?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|_| {
            Failure(format!(
                "the manifest of {}:{reference} is not valid JSON",
                from.path
            ))
        })?;
        for child in &m.manifests {
            check_digest(&child.digest)?;
            self.copy_manifest(from, &child.digest, to, &child.digest, depth + 1, report)?;
        }
        let blobs: Vec<&str> = m
            .config
            .iter()
            .chain(&m.layers)
            .map(|d| d.digest.as_str())
            .collect();
        for d in &blobs {
            check_digest(d)?;
        }
        let same_registry = from.registry == to.registry;
        if from == to {
            // Another tag in the same repository (a moving tag): its blobs are there.
            report.present += blobs.len();
            return self.put_manifest(to, to_reference, &bytes, ctype, report);
        }
        let outcomes = self.parallel(&blobs, |d| self.copy_blob(from, to, d, same_registry));
        for o in outcomes {
            match o? {
                BlobCopy::Mounted => report.mounted += 1,
                BlobCopy::Uploaded => report.uploaded += 1,
                BlobCopy::Present => report.present += 1,
            }
        }
        self.put_manifest(to, to_reference, &bytes, ctype, report)
    }

    fn put_manifest(
        &self,
        to: &Repository,
        to_reference: &str,
        bytes: &[u8],
        ctype: String,
        report: &mut CopyReport,
    ) -> Result<(), Failure> {
        let req = Req {
            method: http::Method::PUT,
            url: format!(
                "{}/v2/{}/manifests/{to_reference}",
                to.registry.base(),
                to.path
            ),
            scopes: vec![(to.path.clone(), "pull,push")],
            headers: vec![("Content-Type", ctype)],
            body: Body::Bytes(bytes),
            redirects: false,
        };
        let resp = self.send(&to.registry, req)?;
        let status = resp.status().as_u16();
        if status != 201 && status != 200 {
            return Err(Failure(format!(
                "putting the manifest: {}",
                self.status_failure(&to.registry, status)
            )));
        }
        report.manifests += 1;
        Ok(())
    }

    fn get_manifest(
        &self,
        from: &Repository,
        reference: &str,
        to: &Repository,
    ) -> Result<(Vec<u8>, String), Failure> {
        let req = Req {
            method: http::Method::GET,
            url: format!(
                "{}/v2/{}/manifests/{reference}",
                from.registry.base(),
                from.path
            ),
            scopes: self.copy_scopes(from, to, "pull"),
            headers: vec![("Accept", MANIFEST_TYPES.join(", "))],
            body: Body::Empty,
            redirects: false,
        };
        let resp = self.send(&from.registry, req)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(Failure(format!(
                "reading the manifest {}:{reference}: {}",
                from.path,
                if status == 404 {
                    "there is none (404)".to_owned()
                } else {
                    self.status_failure(&from.registry, status)
                }
            )));
        }
        let ctype = header(&resp, "content-type").unwrap_or_default();
        let ctype = ctype
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !MANIFEST_TYPES.contains(&ctype.as_str()) {
            return Err(Failure(format!(
                "{}:{reference} is not an image manifest (Content-Type `{}`)",
                from.path,
                super::truncate(&crate::render::outputs::one_line(&ctype), 100)
            )));
        }
        let claimed = header(&resp, "docker-content-digest");
        let bytes = self.read_body(resp, "manifest")?;
        super::body_digest(&bytes, claimed.as_deref(), Some(reference))
            .map_err(|why| Failure(format!("{}:{reference}: {why}", from.path)))?;
        Ok((bytes, ctype))
    }

    /// Scopes for a copy: one token covers pulling `from` and pushing `to` when both are
    /// in the same registry (a mount needs both in one token).
    fn copy_scopes(
        &self,
        from: &Repository,
        to: &Repository,
        from_actions: &'static str,
    ) -> Vec<(String, &'static str)> {
        let mut s = vec![(from.path.clone(), from_actions)];
        if from.registry == to.registry && from.path != to.path {
            s.push((to.path.clone(), "pull,push"));
        }
        s
    }

    fn copy_blob(
        &self,
        from: &Repository,
        to: &Repository,
        digest: &str,
        same_registry: bool,
    ) -> Result<BlobCopy, Failure> {
        let push_scopes = {
            let mut s = vec![(to.path.clone(), "pull,push")];
            if same_registry && from.path != to.path {
                s.push((from.path.clone(), "pull"));
            }
            s
        };
        let base = to.registry.base();
        // Within one registry: mount.
        let url = if same_registry {
            format!(
                "{base}/v2/{}/blobs/uploads/?mount={digest}&from={}",
                to.path, from.path
            )
        } else {
            let head = Req {
                method: http::Method::HEAD,
                url: format!("{base}/v2/{}/blobs/{digest}", to.path),
                scopes: push_scopes.clone(),
                headers: Vec::new(),
                body: Body::Empty,
                redirects: true,
            };
            if self.send(&to.registry, head)?.status().as_u16() == 200 {
                return Ok(BlobCopy::Present);
            }
            format!("{base}/v2/{}/blobs/uploads/", to.path)
        };
        let post = Req {
            method: http::Method::POST,
            url,
            scopes: push_scopes.clone(),
            headers: vec![("Content-Length", "0".into())],
            body: Body::Empty,
            redirects: false,
        };
        let resp = self.send(&to.registry, post)?;
        let status = resp.status().as_u16();
        if status == 201 && same_registry {
            return Ok(BlobCopy::Mounted);
        }
        if status != 202 {
            return Err(Failure(format!(
                "starting the upload of {digest}: {}",
                self.status_failure(&to.registry, status)
            )));
        }
        let location = header(&resp, "location")
            .ok_or_else(|| Failure("the registry started an upload without a Location".into()))?;
        let location = self.upload_url(to, &location)?;
        // Download from the source (storage may redirect elsewhere; no credentials follow).
        let get = Req {
            method: http::Method::GET,
            url: format!("{}/v2/{}/blobs/{digest}", from.registry.base(), from.path),
            scopes: vec![(from.path.clone(), "pull")],
            headers: Vec::new(),
            body: Body::Empty,
            redirects: true,
        };
        let blob = self.send(&from.registry, get)?;
        let status = blob.status().as_u16();
        if status != 200 {
            return Err(Failure(format!(
                "downloading {digest} from {}: {}",
                from.path,
                self.status_failure(&from.registry, status)
            )));
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut headers = vec![("Content-Type", "application/octet-stream".to_owned())];
        if let Some(len) = header(&blob, "content-length") {
            headers.push(("Content-Length", len));
        }
        let length = header(&blob, "content-length").and_then(|l| l.trim().parse::<u64>().ok());
        let verifying =
            super::digest::Verifying::new(blob.into_body().into_reader(), digest, length)
                .ok_or_else(|| Failure(format!("cannot check the digest {digest}")))?;
        let put = Req {
            method: http::Method::PUT,
            url: format!("{location}{sep}digest={digest}"),
            scopes: push_scopes,
            headers,
            body: Body::Stream(ureq::SendBody::from_owned_reader(verifying)),
            redirects: false,
        };
        let resp = self.send(&to.registry, put)?;
        let status = resp.status().as_u16();
        if status != 201 {
            return Err(Failure(format!(
                "uploading {digest}: {}",
                self.status_failure(&to.registry, status)
            )));
        }
        Ok(BlobCopy::Uploaded)
    }

    /// An upload session's URL, which must stay on the target registry (credentials go there).
    fn upload_url(&self, to: &Repository, location: &str) -> Result<String, Failure> {
        let base = to.registry.base();
        let url = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location.to_owned()
        };
        let on_registry = url
            .strip_prefix(&base)
            .is_some_and(|rest| rest.starts_with('/'));
        if !on_registry || url.contains(|c: char| c.is_control() || c == ' ') {
            return Err(Failure(format!(
                "the registry's upload location `{}` is not on {}: refused",
                super::truncate(&crate::render::outputs::one_line(location), 200),
                to.registry.host
            )));
        }
        Ok(url)
    }
}

enum BlobCopy {
    Mounted,
    Uploaded,
    Present,
}

fn check_digest(d: &str) -> Result<(), Failure> {
    if valid_digest(d) {
        Ok(())
    } else {
        Err(Failure(format!(
            "the manifest names a blob `{}` that is not a digest",
            super::truncate(&crate::render::outputs::one_line(d), 80)
        )))
    }
}
