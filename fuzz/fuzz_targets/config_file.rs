//! `.dockguard.toml` parsing: arbitrary text either parses into settings whose matcher
//! builds (or fails with a config error) or fails with a one-line config error; no panic.
#![no_main]

use dockguard::parts::{FileLayer, Matcher, Overrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FileLayer::parse(text, "HEAD:.dockguard.toml") {
        Ok(layer) => {
            let settings = Overrides::default().resolve(Some(&layer));
            let _ = settings.effective();
            let spec = settings.match_spec();
            let _ = settings.match_origin();
            if let Ok(m) = Matcher::new(&spec, "HEAD:.dockguard.toml") {
                for p in [
                    &b"Dockerfile"[..],
                    b"a/b/c.txt",
                    b"\xff/x",
                    b"",
                    b"docker/x\ny",
                ] {
                    let _ = m.classify(p);
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
    }
});
