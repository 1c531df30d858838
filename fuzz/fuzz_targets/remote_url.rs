//! The "same server as origin" rule (`dockguard ci`, a fork MR's target project URL):
//! any text either names no server or a server whose rebuilt URL (what git is given)
//! names that same server again; a candidate accepted as on origin's server is given to
//! git as a URL on that server. Input: `origin\ncandidate`. No panic.
#![no_main]

use dockguard::parts::{locate, same_server};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (origin, candidate) = text.split_once('\n').unwrap_or((&text, &text));
    for place in [origin, candidate] {
        if let Ok(found) = locate(place) {
            let again = locate(&found.arg)
                .unwrap_or_else(|why| panic!("{place:?} -> {:?}: {why}", found.arg));
            assert_eq!(again.server, found.server, "{place:?} -> {:?}", found.arg);
            assert_eq!(again.arg, found.arg, "rebuilding is stable: {place:?}");
        }
    }
    if let Ok(arg) = same_server(origin, candidate) {
        let ours = locate(origin).expect("origin names a server").server;
        let given = locate(&arg).expect("what git is given names a server").server;
        assert_eq!(given, ours, "{origin:?} / {candidate:?} -> {arg:?}");
    }
});
