//! The "same server as origin" rule for a fetch URL from the CI's environment (a fork
//! merge request's target project, which a pipeline variable can set): parsed, never
//! sliced. Against git itself (`git fetch-pack --diag-url` prints how git splits a URL),
//! and through the binary with real git and curl: an attack URL must never be contacted.

use std::path::Path;

use dockguard::parts::{locate, same_server};

use crate::ci::{gitlab_env, run_env, scenario};
use crate::fixture::{git, git_output};
use crate::testservers::ScriptedServer;

/// `(host, port)` as git will connect for `place` (`None`: git would not connect).
fn git_reads(dir: &Path, place: &str) -> Option<(String, Option<u16>)> {
    let out = git_output(dir, &["fetch-pack", "--diag-url", place]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("Diag: {k}=")))
            .map(str::to_owned)
    };
    let (host, port) = if let Some(uh) = field("userandhost") {
        // ssh takes the host after the last `@` (OpenSSH's `strrchr`).
        let host = uh
            .rsplit_once('@')
            .map_or(uh.as_str(), |(_, h)| h)
            .to_owned();
        let port = field("port").filter(|p| p != "NONE");
        (host, port)
    } else {
        let hp = field("hostandport")?;
        match hp.rsplit_once(':').filter(|(h, _)| !h.contains(':')) {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (hp, None),
        }
    };
    Some((host, port.map(|p| p.parse().expect("port"))))
}

#[test]
fn git_connects_to_the_very_server_that_was_compared() {
    let dir = tempfile::tempdir().expect("tmp");
    git(dir.path(), &["init", "-q"]);
    let places = [
        "git@github.com:a/b.git",
        "GitHub.COM:a/b.git",
        "a@b@c.example:path",
        "u:pw@h.example:/abs",
        "ssh://git@Example.org:2222/a/b",
        "ssh://u@h.example:22/p",
        "ssh://[::1]/p",
        "ssh://[::1]:2222/p",
        "ssh://127.0.0.1/p",
        "ssh://EVIL%2F@ORIGIN/p",
        "ssh://%5BEVIL%5D@ORIGIN/p",
        "ssh://a%40EVIL@ORIGIN/p",
        "ssh://ORIGIN#@EVIL/p",
        "ssh://EVIL?@ORIGIN/p",
        "ssh://u@ORIGIN%2Fx/p",
        "ssh://%4fRIGIN/p",
        "ssh://EVIL%3A2@ORIGIN/p",
        "ssh://u;x@ORIGIN/p",
        "ssh://u@bücher.example/p",
        "git://h.example/p",
        "git://h.example:9999/p",
        "git://EVIL%2F@ORIGIN/p",
        "[git@h:2222]:repo",
        "user@[::1]:repo",
        "[h]:p",
        "h:2222:p",
    ];
    let mut compared = 0;
    for place in places {
        let Ok(found) = locate(place) else {
            continue;
        };
        compared += 1;
        let (host, port) = git_reads(dir.path(), &found.arg)
            .unwrap_or_else(|| panic!("{place}: git does not read {:?}", found.arg));
        let ours = found.server.host.to_string();
        assert_eq!(
            host.to_ascii_lowercase(),
            ours.trim_start_matches('[').trim_end_matches(']'),
            "{place} (git is given {:?})",
            found.arg
        );
        assert_eq!(
            port.unwrap_or(found.server.port),
            found.server.port,
            "{place}"
        );
    }
    assert!(compared >= 12, "only {compared} places compared");
}

#[test]
fn an_https_origin_and_an_ssh_url_are_different_servers() {
    let origin = "https://gitlab-ci-token:t0ken@gitlab.example.com/group/project.git";
    assert!(same_server(origin, "git@gitlab.example.com:upstream/project.git").is_err());
    assert!(same_server(origin, "ssh://git@gitlab.example.com/upstream/project.git").is_err());
    assert_eq!(
        same_server(
            origin,
            "https://GitLab.Example.com:443/upstream/project.git"
        )
        .as_deref(),
        Ok("https://gitlab.example.com/upstream/project.git")
    );
}

#[test]
fn a_target_project_url_on_another_server_is_never_contacted() {
    let s = scenario(3, true);
    let dir = s.checkout("ci", Some(1));
    // origin is an https URL (as a GitLab runner's clone has), which git rewrites to the
    // local upstream (`url.<base>.insteadOf`, from the environment: libgit2, and so
    // dockguard's comparison, still sees the https URL).
    let origin = "https://127.0.0.1/dockguard/upstream";
    git(
        &dir,
        &["remote", "set-url", "origin", &format!("{origin}.git")],
    );
    let evil = ScriptedServer::start(|_| Some(Vec::new()));
    let p = evil.port;
    let base: Vec<(String, String)> = gitlab_env(s.tip)
        .into_iter()
        .chain(
            [
                ("GIT_CONFIG_COUNT", "3".to_owned()),
                ("GIT_CONFIG_KEY_2", format!("url.{}.insteadOf", s.url())),
                ("GIT_CONFIG_VALUE_2", format!("{origin}.git")),
                ("CI_PIPELINE_SOURCE", "merge_request_event".into()),
                ("CI_MERGE_REQUEST_IID", "7".into()),
                ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "1".into()),
                ("CI_MERGE_REQUEST_PROJECT_ID", "2".into()),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "master".into()),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature".into()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    let run = |url: &str| {
        let mut env = base.clone();
        env.push(("CI_MERGE_REQUEST_PROJECT_URL".into(), url.to_owned()));
        let run = run_env(&dir, &["ci", "--format", "json"], &env);
        let v: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{url}: {e}\n{}{}", run.stdout, run.stderr));
        (run, v)
    };
    // The same server: used, and fetched (through the rewrite).
    let (ok, v) = run("https://127.0.0.1:443/dockguard/upstream");
    assert_eq!(
        v["fetch"]["source"],
        format!("{origin}.git"),
        "{}",
        ok.stderr
    );
    assert_eq!(v["decision"], "rebuild", "{}", ok.stderr);
    // Another server behind a host the old sliced check read as origin's, another port.
    for attack in [
        format!("https://127.0.0.1:{p}?@127.0.0.1/dockguard/upstream"),
        format!("https://127.0.0.1:{p}#@127.0.0.1/dockguard/upstream"),
        format!("https://127.0.0.1:{p}/dockguard/upstream"),
        format!("https://127.0.0.1@127.0.0.1:{p}/dockguard/upstream"),
    ] {
        let (r, v) = run(&attack);
        assert_eq!(
            v["fetch"]["source"], "remote `origin`",
            "{attack}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("ignoring the target project URL")
                && (r.stderr.contains("origin on https://127.0.0.1:443")
                    || r.stderr.contains("it has a query or a fragment")),
            "{attack}: says why: {}",
            r.stderr
        );
        assert_eq!(v["decision"], "rebuild", "{attack}: {}", r.stderr);
        let heads = evil.heads.lock().expect("heads").len();
        assert_eq!(heads, 0, "{attack}: git connected to the other server");
    }
}
