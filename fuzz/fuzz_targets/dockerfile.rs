//! The Dockerfile parser (issue 5): any text parses without panicking, every context
//! source it reports stays inside the context, their union compiles to a path regex, and
//! line numbers point into the file.
#![no_main]

use dockguard::parts::{parse_dockerfile as parse, ANY};
use dockguard::parts::sources_union;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(text);
    let lines = text.split('\n').count() + 1;
    for s in &parsed.sources {
        assert!(s.line >= 1 && s.line <= lines, "line {} of {lines}", s.line);
        assert!(!s.pattern.starts_with('/'), "{:?}", s.pattern);
        assert!(
            !s.pattern.split('/').any(|c| c == ".."),
            "a source leaves the context: {:?}",
            s.pattern
        );
        let _ = s.display();
        let _ = s.pattern.contains(ANY);
    }
    // The union the image graph uses always compiles (an uncompilable pattern counts as
    // the whole context), so no image silently loses its inputs.
    let patterns: Vec<String> = parsed.sources.iter().map(|s| s.pattern.clone()).collect();
    if !patterns.is_empty() {
        assert!(sources_union(&patterns).is_some(), "{patterns:?}");
    }
    for r in &parsed.refs {
        assert!(r.line >= 1 && r.line <= lines);
    }
    for st in &parsed.stages {
        assert!(st.line >= 1 && st.line <= lines);
    }
});
