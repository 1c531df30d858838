//! The dockguard image (`docker/dockguard/Dockerfile`) built by a real dockerd and used the
//! way a CI job uses `DOCKGUARD_JOB_IMAGE`.
//!
//! What this proves: the repository's own Dockerfile builds with the static binary, its
//! build-time check runs that binary inside the image, and a container of the image (no
//! network) runs the GitLab template's `dockguard` job commands on a real shallow clone:
//! `git` in the image deepens it from the upstream, `dockguard ci` decides, writes the
//! dotenv report, and copes with a checkout owned by another user (safe.directory).
//! What it does not: the default `BASE=alpine:…` (Docker Hub is out of reach here), so the
//! base is a stand-in with busybox and this machine's git (`build_busybox_git_base`) and the
//! Dockerfile's `apk add`/`apt-get` branch is not run; nor a hosted GitLab runner.

use std::path::Path;

use crate::ci::{gitlab_env, scenario};
use crate::fixture::dockguard;
use crate::realdocker::{build_busybox_git_base, Dockerd};
use crate::static_binary::static_bin;

/// The template's `dockguard` job (ci/gitlab/dockguard.yml) as it runs when the image
/// already has dockguard on PATH: its safe.directory step, the PATH check, then `ci`.
const JOB_SCRIPT: &str = r#"set -e
if [ "$DOCKGUARD_TRUST_PROJECT_DIR" = "true" ] && ! git config --global --get-all safe.directory | grep -qxF "$PWD"; then
  git config --global --add safe.directory "$PWD"
fi
if command -v dockguard >/dev/null 2>&1; then
  echo "dockguard: using $(command -v dockguard)"
else
  echo "dockguard: not on PATH" >&2
  exit 2
fi
dockguard ci --provider gitlab --dotenv dockguard.env $DOCKGUARD_ARGS
"#;

#[test]
#[ignore = "needs dockerd, busybox-static and a static build"]
fn the_dockguard_image_builds_and_runs_a_gitlab_dockguard_job() {
    let bin = static_bin();
    let d = Dockerd::shared();
    build_busybox_git_base(&d, "dockguard-test-base:local");

    let ctx = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&bin, ctx.path().join("dockguard")).expect("copy binary");
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/dockguard/Dockerfile");
    let image = "dockguard-job:test";
    let build = d.docker_ok(
        None,
        &[
            "build",
            "--build-arg",
            "BASE=dockguard-test-base:local",
            "-t",
            image,
            "-f",
            dockerfile.to_str().expect("utf8"),
            ctx.path().to_str().expect("utf8"),
        ],
    );
    let version = dockguard(ctx.path(), &["--version"], &[]).stdout;
    assert!(
        build.contains(version.trim()),
        "the build-time check ran this binary in the image:\n{build}"
    );

    let help = d.docker_all(&["run", "--rm", "--network", "none", image]);
    assert!(help.contains("Usage: dockguard"), "CMD is the help: {help}");
    let size = d.docker_ok(None, &["image", "inspect", "-f", "{{.Size}}", image]);
    eprintln!("dockguard image: {} bytes", size.trim());

    // A GitLab branch pipeline on `feature` (its dockerfile changed 3 commits back), in a
    // depth-1 clone owned by another user, as runners leave it.
    let s = scenario(3, true);
    let clone = s.checkout("job", Some(1));
    let chown = std::process::Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(&clone)
        .status()
        .expect("chown");
    assert!(chown.success());
    let upstream = s.upstream.to_str().expect("utf8");
    let mount_clone = format!("{}:/builds/group/project", clone.display());
    // The clone's origin is file://<upstream>: the same path inside, read-only.
    let mount_upstream = format!("{upstream}:{upstream}:ro");
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount_clone,
        "-v",
        &mount_upstream,
        "-w",
        "/builds/group/project",
        "-e",
        "CI=true",
        "-e",
        "CI_PROJECT_DIR=/builds/group/project",
        "-e",
        "DOCKGUARD_TRUST_PROJECT_DIR=true",
        "-e",
        "DOCKGUARD_ARGS=",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (k, v) in gitlab_env(s.tip) {
        args.extend(["-e".to_owned(), format!("{k}={v}")]);
    }
    args.extend([image, "sh", "-c", JOB_SCRIPT].map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let job = d.docker_all(&args);
    assert!(
        job.contains("dockguard: using /usr/local/bin/dockguard"),
        "{job}"
    );
    assert!(job.contains("REBUILD (fallback)"), "{job}");

    let env = std::fs::read_to_string(clone.join("dockguard.env")).expect("dotenv report");
    let line = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing in:\n{env}"))
            .to_owned()
    };
    assert_eq!(line("DOCKGUARD_DECISION"), "rebuild");
    assert_eq!(line("DOCKGUARD_REASON"), "fallback");
    assert_eq!(
        line("DOCKGUARD_MERGE_BASE"),
        s.base.to_string(),
        "git in the image deepened the clone to the branch point"
    );
    assert_eq!(line("DOCKGUARD_TARGET_SHA"), s.tip.to_string());
}
