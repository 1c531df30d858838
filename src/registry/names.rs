//! Registries, repositories, tags and digests: parsing and docker's grammars. Names from
//! the repository or a registry's answer reach a URL only after these checks.

use serde::Serialize;

/// How to speak to a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP (an `http://` prefix, or a loopback host).
    Http,
    /// HTTPS (the default).
    Https,
}

/// A registry: where requests go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Registry {
    /// `host[:port]`, as in image references.
    pub host: String,
    /// HTTP or HTTPS.
    pub scheme: Scheme,
}

impl Registry {
    /// `http://host` or `https://host`.
    pub fn base(&self) -> String {
        match self.scheme {
            Scheme::Http => format!("http://{}", self.host),
            Scheme::Https => format!("https://{}", self.host),
        }
    }
}

/// A repository in a registry (`registry.example.com/group/project/debian`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Repository {
    /// The registry.
    pub registry: Registry,
    /// The repository path (`group/project/debian`).
    pub path: String,
}

impl Repository {
    /// Parses `[http://|https://]host[:port]/path`. The host must look like a registry
    /// host (a `.` or `:` in it, or `localhost`), as docker requires for a first component.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(r) = text.strip_prefix("http://") {
            (Some(Scheme::Http), r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (Some(Scheme::Https), r)
        } else {
            (None, text)
        };
        let rest = rest.trim_end_matches('/');
        let Some((host, path)) = rest.split_once('/') else {
            return Err(format!(
                "`{text}` is not a registry repository: expected HOST[:PORT]/PATH"
            ));
        };
        if !valid_host(host) {
            return Err(format!(
                "`{text}`: `{host}` is not a registry host (it needs a `.` or a `:PORT`, or is `localhost`)"
            ));
        }
        if !valid_repository_path(path) {
            return Err(format!(
                "`{text}`: `{path}` is not a repository path (lowercase [a-z0-9] components joined by `.`, `_`, `__` or `-`, separated by `/`)"
            ));
        }
        let scheme = scheme.unwrap_or(if is_loopback(host) {
            Scheme::Http
        } else {
            Scheme::Https
        });
        Ok(Repository {
            registry: Registry {
                host: host.to_owned(),
                scheme,
            },
            path: path.to_owned(),
        })
    }

    /// Parses an image reference `[http://|https://]host[:port]/path:tag` into the
    /// repository and the tag.
    pub fn parse_reference(text: &str) -> Result<(Self, String), String> {
        let slash = text.rfind('/').unwrap_or(0);
        let Some(colon) = text[slash..].rfind(':').map(|c| slash + c) else {
            return Err(format!(
                "`{text}` has no tag: expected HOST[:PORT]/PATH:TAG"
            ));
        };
        let tag = &text[colon + 1..];
        if !valid_tag(tag) {
            return Err(format!("`{text}`: `{tag}` is not a valid tag"));
        }
        Ok((Repository::parse(&text[..colon])?, tag.to_owned()))
    }

    /// `host/path`: the repository as docker names it (no scheme).
    pub fn reference(&self) -> String {
        format!("{}/{}", self.registry.host, self.path)
    }

    /// The same registry, another path below this one (`self/child`).
    pub fn child(&self, child: &str) -> Repository {
        Repository {
            registry: self.registry.clone(),
            path: format!("{}/{child}", self.path),
        }
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let name = host_name(host);
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

/// The host without its port.
pub(crate) fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && (host.contains('.') || host.contains(':') || host == "localhost")
}

/// docker's repository path grammar: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
/// separated by `/`, at most 255 bytes in all.
pub fn valid_repository_path(path: &str) -> bool {
    !path.is_empty() && path.len() <= 255 && path.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'a'..=b'z' | b'0'..=b'9' => i += 1,
            b'.' => {
                i += 1;
                if !b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                {
                    return false;
                }
            }
            b'_' => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
                if !b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                {
                    return false;
                }
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
                if !b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A content digest as registries write them (`sha256:<64 hex>`, `sha512:<128 hex>`):
/// digests from a registry's answer go into URLs only when they pass this.
pub fn valid_digest(d: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match d.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha512", h)) => hex(h, 128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_parse_with_scheme_rules() {
        let r = Repository::parse("registry.gitlab.com/qemu-project/qemu").expect("valid");
        assert_eq!(r.registry.host, "registry.gitlab.com");
        assert_eq!(r.registry.scheme, Scheme::Https);
        assert_eq!(r.path, "qemu-project/qemu");
        let l = Repository::parse("127.0.0.1:5000/p").expect("valid");
        assert_eq!(l.registry.scheme, Scheme::Http);
        let forced = Repository::parse("https://localhost:5000/p/q").expect("valid");
        assert_eq!(forced.registry.scheme, Scheme::Https);
        assert_eq!(forced.reference(), "localhost:5000/p/q");
        assert_eq!(
            Repository::parse("http://reg.example:80/a").map(|r| r.registry.scheme),
            Ok(Scheme::Http)
        );
        for bad in [
            "debian",
            "library/debian",
            "reg.example/UPPER",
            "reg.example/a//b",
            "reg.example/-a",
            "reg.example/a b",
            "re g.example/a",
            "reg.example/a?x=1",
            "reg.example/a#b",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        let (r, t) = Repository::parse_reference("127.0.0.1:5000/a/b:c1-1").expect("valid");
        assert_eq!(
            (r.reference().as_str(), t.as_str()),
            ("127.0.0.1:5000/a/b", "c1-1")
        );
        let (r, t) = Repository::parse_reference("https://reg.example/x:latest").expect("valid");
        assert_eq!((r.registry.scheme, t.as_str()), (Scheme::Https, "latest"));
        for bad in [
            "127.0.0.1:5000/a/b",
            "reg.example/a:",
            "reg.example/a:b c",
            "a:b",
        ] {
            assert!(Repository::parse_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_grammar() {
        for ok in [
            "a",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "qemu/debian-amd64-cross",
            "x1/2y",
        ] {
            assert!(valid_repository_path(ok), "{ok}");
        }
        for bad in [
            "", "A", "a.", "_a", "a___b", "a..b", "a/", "/a", "a.-b", "ü",
        ] {
            assert!(!valid_repository_path(bad), "{bad}");
        }
        assert!(valid_tag("c1-0123abc"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest("sha256:../../x"));
        assert!(!valid_digest("md5:00"));
    }

    #[test]
    fn host_names_without_ports() {
        assert_eq!(host_name("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(host_name("[::1]:5000"), "[::1]");
        assert!(is_loopback("[::1]:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("registry.example"));
    }
}
