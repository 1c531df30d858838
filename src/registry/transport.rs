//! The HTTP layer under the client: ureq agents (plain and TLS), the TLS roots, and
//! transport errors in words.

use std::time::Duration;

use ureq::http;

use super::Failure;

pub(crate) fn run<S: ureq::AsSendBody>(
    agent: &ureq::Agent,
    req: http::Request<S>,
    redirects: u32,
) -> Result<http::Response<ureq::Body>, Failure> {
    let req = agent
        .configure_request(req)
        .max_redirects(redirects)
        .max_redirects_will_error(false)
        .build();
    agent.run(req).map_err(|e| Failure(transport_words(&e)))
}

/// The root certificates for HTTPS: the system's store and Mozilla's, together.
pub(crate) fn tls_config() -> ureq::tls::TlsConfig {
    let mut certs: Vec<ureq::tls::Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        certs.push(ureq::tls::Certificate::from_der(c.as_ref()).to_owned());
    }
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build()
}

/// ureq's error in words, without URLs' credentials (there are none in ours) or bodies.
pub(crate) fn transport_words(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("no answer in time ({t})"),
        ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
        ureq::Error::ConnectionFailed => "cannot connect (is the registry running?)".to_owned(),
        ureq::Error::Io(io) => io_words(io),
        ureq::Error::BodyExceedsLimit(n) => format!("the answer is larger than {n} bytes: refused"),
        ureq::Error::Protocol(p) => format!("the answer is not HTTP ({p})"),
        ureq::Error::Tls(t) => format!("TLS failed: {t}"),
        ureq::Error::Rustls(t) => format!("TLS failed: {t}"),
        other => {
            let text = other.to_string();
            format!(
                "request failed: {}",
                truncate(&crate::render::outputs::one_line(&text), 300)
            )
        }
    }
}

pub(crate) fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused (is the registry running?)".to_owned(),
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            "the registry closed the connection".to_owned()
        }
        K::TimedOut | K::WouldBlock => "no answer in time".to_owned(),
        _ => truncate(&crate::render::outputs::one_line(&e.to_string()), 300),
    }
}

pub(crate) fn header(resp: &http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// A `Retry-After` in seconds (RFC 9110 section 10.2.3). The HTTP-date form is not read:
/// the doubling backoff stands in for it.
pub(crate) fn retry_after(resp: &http::Response<ureq::Body>) -> Option<Duration> {
    header(resp, "retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
