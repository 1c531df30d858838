//! What a manifest answer must be before the plan or a copy believes it: a JSON image
//! manifest or index (schema 2), whose body hashes to the digest the registry claims and
//! to the digest it was asked by.

use super::digest;
use super::truncate;

/// The digest of a manifest `body`, checked against what the registry claimed
/// (`Docker-Content-Digest`) and the digest it was asked by (`reference`, when that is a
/// digest): the body's own digest when both agree, else why not.
pub(crate) fn body_digest(
    body: &[u8],
    claimed: Option<&str>,
    reference: Option<&str>,
) -> Result<String, String> {
    let own = digest::sha256(body);
    if let Some(c) = claimed {
        if !digest::matches(body, c) {
            return Err(format!(
                "the manifest does not hash to the registry's Docker-Content-Digest `{}` (it is {own}): refused",
                truncate(&crate::render::outputs::one_line(c), 140)
            ));
        }
    }
    if let Some(r) = reference.filter(|r| r.contains(':')) {
        if !digest::matches(body, r) {
            return Err(format!(
                "the manifest asked for by digest {} hashes to {own}: refused",
                truncate(&crate::render::outputs::one_line(r), 140)
            ));
        }
        return Ok(r.to_owned());
    }
    Ok(match claimed {
        Some(c) if c.starts_with("sha512:") => c.to_owned(),
        _ => own,
    })
}

/// Why `body` is not a usable image manifest or index, or `None` when it is one:
/// a JSON object with `schemaVersion` 2 and either a `config` and `layers` (an image) or
/// `manifests` (an index, a manifest list).
pub(crate) fn manifest_problem(body: &[u8]) -> Option<&'static str> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Some("not JSON");
    };
    let Some(m) = v.as_object() else {
        return Some("not a JSON object");
    };
    if m.get("schemaVersion").and_then(serde_json::Value::as_u64) != Some(2) {
        return Some("no schemaVersion 2");
    }
    let image = m.get("config").is_some_and(serde_json::Value::is_object)
        && m.get("layers").is_some_and(serde_json::Value::is_array);
    let index = m.get("manifests").is_some_and(serde_json::Value::is_array);
    if image || index {
        None
    } else {
        Some("neither config and layers nor manifests")
    }
}

#[cfg(test)]
mod tests {
    use super::{body_digest, manifest_problem};

    #[test]
    fn only_manifests_and_indexes_are_readable() {
        let image = br#"{"schemaVersion":2,"config":{"digest":"sha256:x"},"layers":[]}"#;
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(manifest_problem(image), None);
        assert_eq!(manifest_problem(index), None);
        assert_eq!(manifest_problem(b"not json!"), Some("not JSON"));
        assert_eq!(manifest_problem(b"[]"), Some("not a JSON object"));
        assert_eq!(
            manifest_problem(br#"{"schemaVersion":1,"fsLayers":[]}"#),
            Some("no schemaVersion 2")
        );
        assert_eq!(
            manifest_problem(br#"{"schemaVersion":2}"#),
            Some("neither config and layers nor manifests")
        );
    }

    #[test]
    fn a_body_must_hash_to_the_claimed_and_the_asked_digest() {
        let own = crate::registry::digest::sha256(b"m");
        let other = crate::registry::digest::sha256(b"n");
        assert_eq!(body_digest(b"m", None, None), Ok(own.clone()));
        assert_eq!(body_digest(b"m", Some(&own), Some("t1")), Ok(own.clone()));
        assert_eq!(body_digest(b"m", None, Some(&own)), Ok(own.clone()));
        assert!(body_digest(b"m", Some(&other), None)
            .is_err_and(|e| e.contains("Docker-Content-Digest") && e.contains(&own)));
        assert!(
            body_digest(b"m", None, Some(&other)).is_err_and(|e| e.contains("asked for by digest"))
        );
        assert!(body_digest(b"m", Some("sha256:zz"), None).is_err());
    }
}
