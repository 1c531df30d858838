//! `WWW-Authenticate` headers of a registry's 401 (hostile input): every header value
//! (one per line of the input) and every challenge list in it is read without a panic,
//! and the challenge picked is one that the input really offered.
#![no_main]

use dockguard::registry::auth::{pick_challenge, Challenge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let lower = text.to_ascii_lowercase();
    match pick_challenge(values.iter().copied()) {
        Challenge::Bearer { realm, service } => {
            assert!(lower.contains("bearer"), "{text:?}");
            assert!(lower.contains("realm"), "{text:?}");
            assert!(realm.len() <= text.len(), "{text:?}");
            assert!(service.is_none_or(|s| s.len() <= text.len()), "{text:?}");
        }
        Challenge::Basic => assert!(lower.contains("basic"), "{text:?}"),
        Challenge::Other(what) => assert!(what.len() <= 64, "{what:?}"),
    }
});
