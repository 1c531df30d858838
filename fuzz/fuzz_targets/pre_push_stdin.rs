//! The pre-push stdin parser: never panics, and whatever it accepts obeys the protocol
//! (so the hook never judges a half-parsed line).
#![no_main]

use dockguard::parts::parse_pre_push;
use libfuzzer_sys::fuzz_target;

fn hex_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fuzz_target!(|data: &[u8]| {
    match parse_pre_push(data) {
        Ok(updates) => {
            let lines = data.split(|b| *b == b'\n').count();
            let mut last = 0;
            for u in &updates {
                assert!(u.line > last && u.line <= lines, "line numbers increase");
                last = u.line;
                assert!(hex_oid(u.local_oid.as_str()) && hex_oid(u.remote_oid.as_str()));
                assert_eq!(u.local_oid.as_str().len(), u.remote_oid.as_str().len());
                assert!(u.remote_ref.starts_with("refs/") && u.remote_ref.len() > 5);
                assert!(!u.remote_ref.contains(' ') && !u.remote_ref.contains('\n'));
                assert!(!u.local_ref.is_empty() && !u.local_ref.starts_with(' '));
                assert!(!u.local_ref.contains('\n'));
                if u.local_ref == "(delete)" {
                    assert!(u.is_delete());
                }
                // Re-serialising an accepted line parses back to the same update.
                let again = format!(
                    "{} {} {} {}\n",
                    u.local_ref, u.local_oid, u.remote_ref, u.remote_oid
                );
                let back = parse_pre_push(again.as_bytes()).expect("re-serialised line parses");
                assert_eq!(back.len(), 1);
                assert_eq!(back[0].local_ref, u.local_ref);
                assert_eq!(back[0].remote_ref, u.remote_ref);
                assert_eq!(back[0].local_oid, u.local_oid);
                assert_eq!(back[0].remote_oid, u.remote_oid);
            }
        }
        Err(e) => {
            // The message is one line (it is printed to a terminal), bounded in size.
            let msg = e.to_string();
            assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg:?}");
            assert!(e.text.chars().count() <= 201, "{}", e.text.len());
            assert!(e.line >= 1);
        }
    }
});
