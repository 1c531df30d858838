#!/bin/sh
# The test command: makes sure the tools the end-to-end tests drive are installed (into
# ./.tools, once, or from Debian's packages when root), then runs the whole test suite,
# the end-to-end tests included. README.md and .ci/run use exactly this.
#
# End-to-end tests that need a tool are #[ignore = "needs TOOL"]: plain `cargo test`
# lists them as ignored; here they run (--include-ignored), and a tool that could not be
# installed makes its tests fail, never pass silently.
set -eu
cd "$(dirname "$0")"
tools="$(pwd)/.tools"
mkdir -p "$tools/bin"
PATH="$tools/bin:$tools/node_modules/.bin:$tools/venv/bin:$PATH"
export PATH

# Debian packages the tests use, installed when missing (apt-get, as root only).
apt_install() {
    missing=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
    done
    [ -n "$missing" ] || return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    elif [ "${CI:-}" = "true" ]; then
        echo "test.sh: missing Debian packages:$missing (and not root, so apt-get cannot install them)" >&2
        exit 1
    else
        echo "test.sh: missing Debian packages:$missing; the tests that need them will fail (sudo apt-get install --no-install-recommends$missing)" >&2
    fi
}

# --- tool installs (each idempotent; add new tools below) ---

# gitlab-ci-local runs the shipped GitLab template end to end (tests/it/gitlab.rs).
# It needs Node 20+ (npm) and Debian's rsync (for --shell-isolation).
if [ ! -x "$tools/node_modules/.bin/gitlab-ci-local" ]; then
    if command -v npm >/dev/null 2>&1; then
        npm install --prefix "$tools" --no-audit --no-fund --loglevel=error gitlab-ci-local@4.70.1
    else
        echo "test.sh: npm is not installed, so gitlab-ci-local cannot be; install Node 20 + npm" >&2
    fi
fi
# rsync: gitlab-ci-local's shell isolation; man-db: the man page test formats every page.
apt_install rsync man-db

# pre-commit (PyPI) runs the shipped .pre-commit-hooks.yaml end to end (tests/it/precommit.rs).
if [ ! -x "$tools/venv/bin/pre-commit" ]; then
    [ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install -q --disable-pip-version-check pre-commit==4.0.1
fi
# husky and lefthook (npm) manage hooks in tests/it/husky.rs and tests/it/lefthook.rs;
# lefthook's npm package brings its platform binary as an optional dependency.
if [ ! -x "$tools/node_modules/.bin/husky" ] || [ ! -x "$tools/node_modules/.bin/lefthook" ]; then
    if command -v npm >/dev/null 2>&1; then
        # --ignore-scripts: lefthook's postinstall would install hooks into the repository npm
        # runs in (this one); the platform binary comes as a package, no script needed.
        npm install --prefix "$tools" --ignore-scripts --no-audit --no-fund --loglevel=error husky@9.1.7 lefthook@1.8.2
    fi
fi

# PyYAML parses the child pipelines `dockguard plan` generates (tests/it/plan.rs); it
# comes with pre-commit, but the tests must not depend on that by accident.
if ! "$tools/venv/bin/python" -c 'import yaml' >/dev/null 2>&1; then
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'PyYAML==6.0.2'
fi

# dockerfile-oracle: BuildKit's own Dockerfile parser (PyPI `dockerfile` wraps the Go
# parser), for the differential test of dockguard's Dockerfile lexer (tests/it/lexer.rs).
if ! "$tools/venv/bin/python" -c 'import dockerfile' >/dev/null 2>&1; then
    [ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'dockerfile==3.4.0'
fi
cat > "$tools/bin/dockerfile-oracle" <<EOF
#!/bin/sh
exec "$tools/venv/bin/python" "$(pwd)/tests/tools/dockerfile_oracle.py" "\$@"
EOF
chmod +x "$tools/bin/dockerfile-oracle"

# The real builder and registry (tests/it/realdocker.rs and the tests using it): Debian's
# docker.io (dockerd and its /usr/bin/docker CLI, 20.10), docker-registry (distribution
# 2.8), busybox-static (a base image without Docker Hub), apache2-utils (htpasswd -B for
# Basic auth), openssl (test certificates, the test token server's signatures) and curl
# (the templates' pinned binary download, tests/it/gitlab.rs, github_action.rs).
apt_install docker.io docker-registry busybox-static apache2-utils openssl curl
# binutils: readelf, with which scripts/build-static.sh and release.sh refuse a binary that
# is not static (tests/it/release_script.rs).
apt_install binutils
# strace: the install tests kill dockguard at each of its system calls.
apt_install strace

# graphviz: the `dot` the docs pipe `dockguard images --format dot` into (tests/it/docs.rs
# runs every command the docs show).
apt_install graphviz

# docker-compose (Debian's v1, 1.29): the oracle for compose resolution
# (tests/it/compose_oracle.rs runs `docker-compose config`, which needs no daemon).
apt_install docker-compose

# The static binary (tests/it/static_binary.rs, job_image.rs): the quick dev profile, in
# its own target dir (target/static), so it never invalidates the normal build.
scripts/build-static.sh --profile dev >/dev/null
DOCKGUARD_STATIC_BIN="$(pwd)/target/static-dist-dev/dockguard"
export DOCKGUARD_STATIC_BIN

# --include-ignored goes to the test binaries, after any `--` of the caller's.
case " $* " in
*" -- "*) exec cargo test --locked --all-targets "$@" --include-ignored ;;
*) exec cargo test --locked --all-targets "$@" -- --include-ignored ;;
esac
