//! Places to fetch from, read the way git reads them: which transport a string selects,
//! which server it connects to, and what may be shown of it.
//!
//! `dockguard ci` gives git two kinds of place: configured ones (flags, git config: trusted)
//! and one from the CI's environment (a fork merge request's target project URL), which a
//! pipeline variable can set. That one is used only when it names the same server as the
//! clone's `origin`: the same scheme, host and port, compared after parsing, never by
//! slicing strings (`https://EVIL?@ORIGIN/p` once passed a sliced check, and git connected
//! to EVIL). URLs are parsed with the WHATWG parser of the `url` crate (hosts lowercased,
//! IDNA-mapped, IP addresses canonical, default ports dropped); scp-like `[user@]host:path`
//! follows git's own rule (`connect.c`: no `://`, a colon before any slash). What git is
//! then given is the URL rebuilt from the parsed parts, so git and the check cannot read
//! two different servers out of one string. Anything the two parsers could read
//! differently (a query or fragment, percent-escapes in an ssh user name, brackets in
//! the scp-like form) is not compared at all: it is ignored, like any other server.

use std::fmt;

use url::{Host, Url};

use crate::error::{Error, Result};

/// URL schemes dockguard fetches from (`file` for tests and local mirrors). Anything
/// else, notably git's `<transport>::<address>` helpers (`ext::sh -c …` runs a command),
/// is refused.
pub const ALLOWED_SCHEMES: &[&str] = &["https", "ssh", "git", "file"];

/// Which of git's transports a place to fetch from selects (git's `transport_get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form<'a> {
    /// `<transport>::<address>`: git runs `git-remote-<transport>`.
    Helper,
    /// `<scheme>://…` (git's `is_url`).
    Url(&'a str),
    /// `://` after something that is no scheme: git refuses it.
    BadUrl,
    /// `[user@]host:path`: ssh.
    Scp,
    /// A path (or a remote's name).
    Local,
}

/// git's `is_urlschemechar`: `[A-Za-z0-9][A-Za-z0-9+.-]*`.
fn scheme_char(first: bool, c: u8) -> bool {
    c.is_ascii_alphanumeric() || (!first && matches!(c, b'+' | b'-' | b'.'))
}

/// The transport `place` selects, in git's order: a helper prefix, a URL, then scp-like
/// versus local (a colon before the first slash; a drive letter `C:` is a path).
pub(crate) fn form(place: &str) -> Form<'_> {
    let b = place.as_bytes();
    let name = b
        .iter()
        .enumerate()
        .take_while(|(i, c)| scheme_char(*i == 0, **c))
        .count();
    let rest = &place[name..];
    if rest.starts_with("::") {
        return Form::Helper;
    }
    if name > 0 && rest.starts_with("://") {
        return Form::Url(&place[..name]);
    }
    if place.contains("://") {
        return Form::BadUrl;
    }
    let colon = place.find(':');
    let slash = place.find('/');
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    match colon {
        Some(c) if slash.is_none_or(|s| s > c) && !drive => Form::Scp,
        _ => Form::Local,
    }
}

/// Checks a place to fetch from before git sees it: a URL with an allowed scheme
/// ([`ALLOWED_SCHEMES`]), an scp-like `[user@]host:path`, a local path or a remote name.
/// Refused: anything starting with `-` (git would read it as an option), control
/// characters, other schemes, `<transport>::<address>`.
pub fn validate_remote(arg: &str) -> Result<()> {
    let shown = crate::render::escape::text(&redact_url(arg)).into_owned();
    let refuse = |why: String| {
        Error::Ci {
        context: format!("refusing to fetch from `{shown}`: {why}"),
        source: None,
        hint: format!(
            "set ci.upstream_url (or --upstream-url) to an {} URL, an scp-like user@host:path, a local path or a remote name",
            ALLOWED_SCHEMES.join(", ")
        ),
    }
    };
    if arg.trim().is_empty() {
        return Err(refuse("it is empty".into()));
    }
    if arg.starts_with('-') {
        return Err(refuse(
            "it starts with `-`, so git would read it as an option".into(),
        ));
    }
    if arg.chars().any(char::is_control) {
        return Err(refuse("it contains control characters".into()));
    }
    match form(arg) {
        Form::Helper => Err(refuse(
            "git's `<transport>::<address>` syntax runs a remote helper".into(),
        )),
        Form::Url(scheme) if !ALLOWED_SCHEMES.contains(&scheme) => Err(refuse(format!(
            "the scheme `{}` is not allowed",
            crate::render::escape::text(scheme)
        ))),
        Form::BadUrl => Err(refuse("what precedes `://` is not a URL scheme".into())),
        // scp-like, a local path or a remote name: git reads none of them as an option
        // or a helper.
        Form::Url(_) | Form::Scp | Form::Local => Ok(()),
    }
}

/// A URL with any `user:password@` replaced by `***@`, for messages.
pub fn redact_url(url: &str) -> String {
    if let Form::Url(_) = form(url) {
        if let Ok(mut u) = Url::parse(url) {
            if u.username().is_empty() && u.password().is_none() {
                return url.to_owned();
            }
            if u.set_username("***").is_ok() && u.set_password(None).is_ok() {
                return u.into();
            }
        }
        // Unparsable: hide everything up to the last `@` of what could be the authority.
        if let Some((scheme, rest)) = url.split_once("://") {
            let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
            if let Some(at) = rest[..end].rfind('@') {
                return format!("{scheme}://***{}", &rest[at..]);
            }
        }
    }
    url.to_owned()
}

/// The server a place to fetch from connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `https`, `ssh` (also the scp-like form) or `git`.
    pub scheme: String,
    /// Lowercased, IDNA-mapped; IP addresses in their canonical form.
    pub host: Host<String>,
    /// With the scheme's default filled in (443, 22, 9418).
    pub port: u16,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A place that names a server: the server, and the text git is given for it (rebuilt
/// from the parsed parts, so that git connects to exactly this server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The server.
    pub server: Server,
    /// What `git fetch` is given.
    pub arg: String,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        "ssh" => Some(22),
        "git" => Some(9418),
        _ => None,
    }
}

/// Which server `place` connects to, or why it names none that can be compared (a local
/// path, a `file://` URL, something git and the WHATWG parser could read differently).
pub fn locate(place: &str) -> std::result::Result<Located, &'static str> {
    if place.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("it contains spaces or control characters");
    }
    match form(place) {
        Form::Url(_) => locate_url(place),
        Form::Scp => locate_scp(place),
        Form::Helper | Form::BadUrl => Err("it is no URL git connects to by itself"),
        Form::Local => Err("it is a local path"),
    }
}

fn locate_url(place: &str) -> std::result::Result<Located, &'static str> {
    let mut url = Url::parse(place).map_err(|_| "it is not a valid URL")?;
    let scheme = url.scheme().to_owned();
    let port = default_port(&scheme).ok_or("its scheme names no server")?;
    if url.query().is_some() || url.fragment().is_some() {
        // git (ssh, git) and curl (https) split these differently from a URL parser.
        return Err("it has a query or a fragment");
    }
    let host = match url.host() {
        None => return Err("it names no host"),
        Some(Host::Domain(d)) if url.is_special() => Host::Domain(d.to_owned()),
        Some(Host::Domain(opaque)) => {
            // ssh:// and git:// hosts are opaque to WHATWG (not lowercased, not mapped);
            // git percent-decodes them, so they are parsed as git will read them.
            Host::parse(opaque).map_err(|_| "its host is not a valid host name")?
        }
        Some(Host::Ipv4(a)) => Host::Ipv4(a),
        Some(Host::Ipv6(a)) => Host::Ipv6(a),
    };
    if !url.is_special() {
        // git percent-decodes an ssh:// or git:// URL before splitting it: an escaped `/`,
        // `@` or `[` in the user name would move the host.
        if url.username().contains('%') || url.password().is_some_and(|p| p.contains('%')) {
            return Err("its user name holds percent-escapes");
        }
        url.set_host(Some(&host.to_string()))
            .map_err(|_| "its host cannot be written back")?;
    }
    let server = Server {
        scheme,
        host,
        port: url.port().unwrap_or(port),
    };
    Ok(Located {
        server,
        arg: url.into(),
    })
}

/// `[user@]host:path`, as git's `connect.c` splits it for ssh (the host after the last
/// `@`). The bracketed forms (`[host:port]:path`, `user@[::1]:path`) are not compared.
fn locate_scp(place: &str) -> std::result::Result<Located, &'static str> {
    let (userhost, path) = place.split_once(':').ok_or("it has no path")?;
    if userhost.contains(['[', ']']) {
        return Err("its bracketed host form is not compared");
    }
    let (user, host) = match userhost.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, userhost),
    };
    if host.is_empty() || host.contains('%') || path.is_empty() {
        return Err("it names no plain host and path");
    }
    let host = Host::parse(host).map_err(|_| "its host is not a valid host name")?;
    if let Host::Ipv6(_) = host {
        return Err("its bracketed host form is not compared");
    }
    let arg = match user {
        Some(u) => format!("{u}@{host}:{path}"),
        None => format!("{host}:{path}"),
    };
    Ok(Located {
        server: Server {
            scheme: "ssh".into(),
            host,
            port: 22,
        },
        arg,
    })
}

/// `candidate` (from the CI's environment) is on the same server as `origin` (the
/// clone's): same scheme, host and port. Returns what git is given for the candidate,
/// or why it is not used.
pub fn same_server(origin: &str, candidate: &str) -> std::result::Result<String, String> {
    let theirs =
        locate(candidate).map_err(|why| format!("it names no server to compare ({why})"))?;
    let ours =
        locate(origin).map_err(|why| format!("origin's URL names no server to compare ({why})"))?;
    if theirs.server == ours.server {
        Ok(theirs.arg)
    } else {
        Err(format!(
            "it is on {}, origin on {}",
            theirs.server, ours.server
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(place: &str) -> Option<String> {
        locate(place).ok().map(|l| l.server.to_string())
    }

    #[test]
    fn forms_follow_git() {
        assert_eq!(form("https://h/p"), Form::Url("https"));
        assert_eq!(form("git+ssh://h/p"), Form::Url("git+ssh"));
        assert_eq!(form("ext::sh -c id"), Form::Helper);
        assert_eq!(form("::x"), Form::Helper);
        assert_eq!(form("host::path"), Form::Helper);
        assert_eq!(form("a b://x"), Form::BadUrl);
        assert_eq!(form("/p/x://y"), Form::BadUrl);
        assert_eq!(form("git@github.com:a/b.git"), Form::Scp);
        assert_eq!(form("host:path"), Form::Scp);
        assert_eq!(form("[::1]:repo"), Form::Scp);
        assert_eq!(form("./a:b"), Form::Local);
        assert_eq!(form("/srv/repo.git"), Form::Local);
        assert_eq!(form("C:foo"), Form::Local);
        assert_eq!(form("origin"), Form::Local);
    }

    #[test]
    fn servers_are_parsed_not_sliced() {
        assert_eq!(
            server("https://gitlab-ci-token:xyz@GitLab.COM/a/b.git").as_deref(),
            Some("https://gitlab.com:443")
        );
        assert_eq!(
            server("https://gitlab.com:443/a").as_deref(),
            Some("https://gitlab.com:443")
        );
        assert_eq!(
            server("ssh://git@Example.org:2222/a/b").as_deref(),
            Some("ssh://example.org:2222")
        );
        assert_eq!(
            server("git@github.com:a/b.git").as_deref(),
            Some("ssh://github.com:22")
        );
        assert_eq!(
            server("ssh://git@github.com/a/b.git").as_deref(),
            Some("ssh://github.com:22")
        );
        assert_eq!(
            server("git://h.example/p").as_deref(),
            Some("git://h.example:9418")
        );
        assert_eq!(server("https://EVIL?@ORIGIN/p").as_deref(), None);
        assert_eq!(server("https://EVIL#@ORIGIN/p").as_deref(), None);
        assert_eq!(
            server("https://EVIL\\@ORIGIN/p").as_deref(),
            Some("https://evil:443")
        );
        assert_eq!(
            server("https://ORIGIN@EVIL/p").as_deref(),
            Some("https://evil:443")
        );
        assert_eq!(
            server("https://a:b:c@EVIL/p").as_deref(),
            Some("https://evil:443")
        );
        assert_eq!(
            server("https://0x7f.1/p").as_deref(),
            Some("https://127.0.0.1:443")
        );
        assert_eq!(
            server("https://[::1]:8443/p").as_deref(),
            Some("https://[::1]:8443")
        );
        assert_eq!(
            server("https://bücher.example/p").as_deref(),
            Some("https://xn--bcher-kva.example:443")
        );
        // git decodes these before splitting: the host would move.
        assert_eq!(server("ssh://EVIL%2F@ORIGIN/p"), None);
        assert_eq!(server("ssh://%5BEVIL%5D@ORIGIN/p"), None);
        assert_eq!(server("ssh://ORIGIN#@EVIL/p"), None);
        assert_eq!(server("[git@h:2222]:repo"), None);
        assert_eq!(server("user@[::1]:repo"), None);
        assert_eq!(server("/srv/repo.git"), None);
        assert_eq!(server("file:///srv/repo.git"), None);
        // WHATWG skips the extra slash; git is given `https://p/`, the host compared.
        assert_eq!(server("https:///p").as_deref(), Some("https://p:443"));
        assert_eq!(server("ext::sh -c id"), None);
        assert_eq!(server("h:"), None);
    }

    #[test]
    fn the_same_server_means_scheme_host_and_port() {
        let origin = "https://gitlab-ci-token:s3cret@gitlab.example.com/group/project.git";
        let ok = |c: &str| same_server(origin, c);
        assert_eq!(
            ok("https://gitlab.example.com/upstream/project.git").as_deref(),
            Ok("https://gitlab.example.com/upstream/project.git")
        );
        assert_eq!(
            ok("https://GITLAB.example.com:443/upstream/project.git").as_deref(),
            Ok("https://gitlab.example.com/upstream/project.git")
        );
        for evil in [
            "https://evil.example?@gitlab.example.com/p",
            "https://evil.example#@gitlab.example.com/p",
            "https://evil.example\\@gitlab.example.com/p",
            "https://gitlab.example.com@evil.example/p",
            "https://gitlab.example.com:x@evil.example/p",
            "https://gitlab.example.com./p",
            "https://gitlab.example.com:8443/p",
            "ssh://git@gitlab.example.com/p",
            "git@gitlab.example.com:p",
            "http://gitlab.example.com/p",
            "https://gitlab.example.com/p?x",
            "/srv/p.git",
        ] {
            assert!(ok(evil).is_err(), "{evil}: {:?}", ok(evil));
        }
        assert_eq!(
            same_server("git@github.com:a/b.git", "ssh://git@GitHub.com:22/c/d.git").as_deref(),
            Ok("ssh://git@github.com:22/c/d.git")
        );
        assert_eq!(
            same_server("ssh://git@github.com/a/b.git", "x@GitHub.com:c/d.git").as_deref(),
            Ok("x@github.com:c/d.git")
        );
        assert!(same_server("/srv/a.git", "/srv/b.git").is_err());
    }

    #[test]
    fn places_are_checked_before_git_sees_them() {
        assert!(validate_remote("--upload-pack=touch PWNED").is_err());
        assert!(validate_remote("https://x/y\n").is_err());
        assert!(validate_remote("ext::sh -c id").is_err());
        assert!(validate_remote("fd::17").is_err());
        assert!(validate_remote("git+ssh://h/p").is_err());
        assert!(validate_remote("a b://x").is_err());
        assert!(validate_remote("http://h/p").is_err());
        for ok in [
            "https://x/y",
            "ssh://h/p",
            "git@h:p",
            "/srv/p.git",
            "file:///srv/p.git",
            "origin",
        ] {
            assert!(validate_remote(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://gitlab-ci-token:s3cret@gitlab.example/a/b.git"),
            "https://***@gitlab.example/a/b.git"
        );
        assert_eq!(
            redact_url("https://gitlab.example/a/b@c.git"),
            "https://gitlab.example/a/b@c.git"
        );
        assert_eq!(redact_url("file:///tmp/x.git"), "file:///tmp/x.git");
        assert_eq!(redact_url("git@host:a/b.git"), "git@host:a/b.git");
        // Shown as the parser reads it: the host is EVIL.
        assert_eq!(
            redact_url("https://EVIL?@ORIGIN/p"),
            "https://EVIL?@ORIGIN/p"
        );
        assert_eq!(
            redact_url("https://u:pw@h:99999/p"),
            "https://***@h:99999/p"
        );
    }
}
