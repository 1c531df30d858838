//! Content digests, computed here: a registry's `Docker-Content-Digest` header, the digest
//! a manifest is asked for by, and a blob's digest are claims until the bytes hash to
//! them. A manifest whose body does not match is not planned `skip`, and a copied blob
//! that does not match its digest never completes its upload.

use std::io::{self, Read};

use ring::digest::{Algorithm, Context, SHA256, SHA512};

/// The algorithm of a `sha256:`/`sha512:` digest (`None`: neither, or malformed).
fn algorithm(digest: &str) -> Option<&'static Algorithm> {
    if !super::valid_digest(digest) {
        return None;
    }
    match digest.split_once(':') {
        Some(("sha256", _)) => Some(&SHA256),
        Some(("sha512", _)) => Some(&SHA512),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn name(algo: &'static Algorithm) -> &'static str {
    if algo == &SHA512 {
        "sha512"
    } else {
        "sha256"
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(ring::digest::digest(&SHA256, bytes).as_ref())
    )
}

/// Whether `bytes` hash to `digest` (with the digest's own algorithm). A malformed
/// digest matches nothing.
pub(crate) fn matches(bytes: &[u8], digest: &str) -> bool {
    algorithm(digest).is_some_and(|a| {
        format!(
            "{}:{}",
            name(a),
            hex(ring::digest::digest(a, bytes).as_ref())
        ) == digest
    })
}

/// A reader that hashes what passes through it and fails unless the bytes hash to
/// `expected`: an upload fed from it is cut off (never completed) when the source sent
/// other bytes than the digest names. With a known `length` the check is made on the
/// read that reaches it, and that read's bytes are withheld on a mismatch: a client
/// sending `Content-Length` bytes stops reading there and would never see the end.
pub(crate) struct Verifying<R> {
    inner: R,
    ctx: Context,
    expected: String,
    length: Option<u64>,
    read: u64,
    done: bool,
}

impl<R: Read> Verifying<R> {
    /// `None` when `expected` is not a digest dockguard can compute.
    pub(crate) fn new(inner: R, expected: &str, length: Option<u64>) -> Option<Self> {
        let algo = algorithm(expected)?;
        Some(Verifying {
            inner,
            ctx: Context::new(algo),
            expected: expected.to_owned(),
            length,
            read: 0,
            done: false,
        })
    }

    fn check(&mut self) -> io::Result<()> {
        self.done = true;
        let got = format!(
            "{}:{}",
            name(self.ctx.algorithm()),
            hex(self.ctx.clone().finish().as_ref())
        );
        if got == self.expected {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the blob downloaded as {} hashes to {got}: not uploaded",
                self.expected
            )))
        }
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        self.read += n as u64;
        match self.length {
            Some(len) if self.read > len => Err(io::Error::other(format!(
                "the blob downloaded as {} is longer than its {len} bytes: not uploaded",
                self.expected
            ))),
            Some(len) if self.read == len => self.check().map(|()| n),
            Some(len) if n == 0 => Err(io::Error::other(format!(
                "the blob downloaded as {} ended after {} of its {len} bytes: not uploaded",
                self.expected, self.read
            ))),
            _ if n == 0 => self.check().map(|()| 0),
            _ => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_computed_and_compared() {
        // `printf abc | sha256sum`
        let abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256(b"abc"), abc);
        assert!(matches(b"abc", abc));
        assert!(!matches(b"abd", abc));
        assert!(matches(b"abc", "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));
        assert!(!matches(b"abc", "md5:900150983cd24fb0d6963f7d28e17f72"));
        assert!(!matches(b"abc", "sha256:BA7816BF"));
    }

    #[test]
    fn a_verifying_reader_fails_at_the_end_on_other_bytes() {
        let abc = sha256(b"abc");
        for length in [None, Some(3)] {
            let mut ok = Verifying::new(&b"abc"[..], &abc, length).expect("digest");
            let mut out = Vec::new();
            assert!(ok.read_to_end(&mut out).is_ok());
            assert_eq!(out, b"abc");
            let mut bad = Verifying::new(&b"abx"[..], &abc, length).expect("digest");
            let mut out = Vec::new();
            let err = bad.read_to_end(&mut out).expect_err("mismatch");
            assert!(err.to_string().contains("hashes to sha256:"), "{err}");
            assert!(
                length.is_none() || out.is_empty(),
                "the last bytes are withheld"
            );
        }
        let mut short = Verifying::new(&b"ab"[..], &abc, Some(3)).expect("digest");
        let err = short.read_to_end(&mut Vec::new()).expect_err("short");
        assert!(err.to_string().contains("ended after 2 of its 3"), "{err}");
        let mut long = Verifying::new(&b"abcd"[..], &abc, Some(3)).expect("digest");
        assert!(long.read_to_end(&mut Vec::new()).is_err());
        assert!(Verifying::new(&b""[..], "sha1:00", None).is_none());
    }
}
