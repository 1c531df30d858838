//! `.dockguard.toml` parsing and the source rules: arbitrary text either parses into
//! settings whose matcher builds (or fails with a config error) or fails with a one-line
//! config error; no panic. And whatever parses, a repository file never sets a machine
//! key, and the run settings built from it either fail or hold only the shapes a
//! repository may choose (the recognised rebuild request, no `repush`).
#![no_main]

use dockguard::parts::{ContentSettings, FileLayer, Layers, Matcher, Policy, RunSettings, Trust, KEYS};
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "HEAD:.dockguard.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FileLayer::parse(text, ORIGIN) {
        Ok(layer) => {
            let resolved = Layers::default().resolve(Some(&layer));
            let _ = resolved.effective();
            for key in KEYS {
                if key.trust == Trust::Machine {
                    assert!(
                        !resolved.origin(key.id).is_repository(),
                        "{} came from the file",
                        key.name
                    );
                }
            }
            if let Ok(run) = RunSettings::new(&resolved) {
                assert!(
                    run.push_option == "ci.variable=DOCKGUARD_REBUILD=1"
                        || run.push_option == "ci.input=dockguard_rebuild=true",
                    "{:?}",
                    run.push_option
                );
                assert!(run.policy != Policy::Repush);
            }
            let content = ContentSettings::new(&resolved);
            if let Ok(m) = Matcher::new(&content.match_spec, ORIGIN) {
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
