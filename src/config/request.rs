//! What counts as a rebuild request: one definition for the hook, `dockguard push` and
//! `dockguard ci`, so that a push the hook lets through as "asks for the rebuild" is one the
//! CI job rebuilds for, and the other way round.
//!
//! A value asks for a rebuild unless it is empty, `0`, `false`, `no` or `off` (any case,
//! surrounding blanks ignored); a value nobody expected (`please`) asks: when in doubt,
//! rebuild. In the CI job that is the value of the request variable (`ci.request_variable`)
//! or input (`ci.request_input`); at push time, a push option that sets the variable or
//! input `push_option` sets (`ci.variable=NAME=VALUE`, `ci.input=NAME=VALUE`), or
//! `push_option` itself. README.md ("What counts as a request") documents exactly this.

/// The push option that tells GitLab to create no pipeline at all.
pub const CI_SKIP: &str = "ci.skip";

/// Whether a request's value asks for a rebuild (`None`: not set).
pub fn is_request(value: Option<&str>) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => !matches!(v.as_str(), "" | "0" | "false" | "no" | "off"),
    }
}

/// A push option that sets a pipeline variable or input: its form (`ci.variable=` or
/// `ci.input=`), name and value. GitLab takes the name up to the first `=` after the form
/// and the rest as the value, and so does this.
fn parts(option: &str) -> Option<(&'static str, &str, &str)> {
    ["ci.variable=", "ci.input="].into_iter().find_map(|form| {
        let (name, value) = option.strip_prefix(form)?.split_once('=')?;
        (!name.is_empty()).then_some((form, name, value))
    })
}

/// Whether a push option asks for the rebuild that `push_option` asks for: the same option,
/// or the same variable (or input) with another value that [`is_request`] (`=true` where
/// `push_option` says `=1`). The CI job reads the name, and any such value, the same way.
pub fn option_requests(option: &str, push_option: &str) -> bool {
    option == push_option
        || matches!(
            (parts(option), parts(push_option)),
            (Some((f, n, v)), Some((wf, wn, _))) if f == wf && n == wn && is_request(Some(v))
        )
}

/// Whether a push option sets the same variable (or input) as `push_option`, whatever the
/// value: in a command that adds `push_option`, such an option (`=0`) would contradict it.
pub fn same_request(option: &str, push_option: &str) -> bool {
    option == push_option
        || matches!(
            (parts(option), parts(push_option)),
            (Some((f, n, _)), Some((wf, wn, _))) if f == wf && n == wn
        )
}

/// Whether any of the options asks for the rebuild ([`option_requests`]).
pub fn options_request(options: &[String], push_option: &str) -> bool {
    options.iter().any(|o| option_requests(o, push_option))
}

/// The warning for a push that asks for a rebuild and also carries `ci.skip`: GitLab then
/// creates no pipeline, so the request reaches nobody.
pub fn skip_warning(options: &[String]) -> Option<String> {
    options.iter().any(|o| o == CI_SKIP).then(|| {
        "warning: this push asks for an image rebuild but also carries `-o ci.skip`: GitLab \
         creates no pipeline for it, so nothing is rebuilt; push again without `-o ci.skip` \
         (or run the pipeline by hand with the request variable set)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values() {
        for yes in ["1", "true", "YES", "on", "please", " 1 "] {
            assert!(is_request(Some(yes)), "{yes}");
        }
        for no in ["", " ", "0", "false", "No", "OFF"] {
            assert!(!is_request(Some(no)), "{no:?}");
        }
        assert!(!is_request(None));
    }

    #[test]
    fn options_that_ask() {
        let want = "ci.variable=DOCKGUARD_REBUILD=1";
        for yes in [
            "ci.variable=DOCKGUARD_REBUILD=1",
            "ci.variable=DOCKGUARD_REBUILD=true",
            "ci.variable=DOCKGUARD_REBUILD=yes",
            "ci.variable=DOCKGUARD_REBUILD=a=b",
        ] {
            assert!(option_requests(yes, want), "{yes}");
        }
        for no in [
            "ci.variable=DOCKGUARD_REBUILD=0",
            "ci.variable=DOCKGUARD_REBUILD=false",
            "ci.variable=DOCKGUARD_REBUILD=",
            "ci.variable=DOCKGUARD_REBUILD",
            "ci.variable=OTHER=1",
            "ci.input=DOCKGUARD_REBUILD=true",
            "ci.skip",
            "DOCKGUARD_REBUILD=1",
        ] {
            assert!(!option_requests(no, want), "{no}");
        }
        let input = "ci.input=dockguard_rebuild=true";
        assert!(option_requests("ci.input=dockguard_rebuild=yes", input));
        assert!(!option_requests("ci.input=dockguard_rebuild=false", input));
        assert!(!option_requests("ci.variable=dockguard_rebuild=1", input));
        // Another form of push_option: only itself.
        assert!(option_requests("custom", "custom"));
        assert!(!option_requests("custom=1", "custom"));
        let opts = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(options_request(&opts(&["x", want]), want));
        assert!(!options_request(&opts(&["x"]), want));
        assert!(same_request("ci.variable=DOCKGUARD_REBUILD=0", want));
        assert!(!same_request("ci.variable=OTHER=1", want) && !same_request("ci.skip", want));
        assert!(skip_warning(&opts(&["ci.skip"])).is_some());
        assert!(skip_warning(&opts(&["ci.skipped", "x"])).is_none());
    }
}
