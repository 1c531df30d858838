#!/bin/sh
# The test command: makes sure the tools the end-to-end tests drive are installed (into
# ./.tools, once), then runs the whole test suite. README.md and .ci/run use exactly this.
#
# End-to-end tests that need a tool skip (saying so) when it is missing, except when
# DOCKGUARD_E2E=require (set here whenever CI=true): then a missing tool fails the test.
set -eu
cd "$(dirname "$0")"
tools="$(pwd)/.tools"
mkdir -p "$tools/bin"
PATH="$tools/bin:$tools/node_modules/.bin:$tools/venv/bin:$PATH"
export PATH
if [ "${CI:-}" = "true" ]; then
    DOCKGUARD_E2E=${DOCKGUARD_E2E:-require}
fi
export DOCKGUARD_E2E="${DOCKGUARD_E2E:-optional}"

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
if ! command -v rsync >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null
    else
        echo "test.sh: rsync is missing (gitlab-ci-local needs it); install it, e.g. sudo apt-get install rsync" >&2
    fi
fi

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

# A real builder and a busybox base image for the differential test (tests/it/differential.rs
# starts its own dockerd): Debian's docker.io (dockerd + the docker 20.10 CLI with BuildKit)
# and busybox-static.
if ! command -v dockerd >/dev/null 2>&1 || [ ! -x /usr/bin/docker ] || [ ! -x /bin/busybox ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null
    else
        echo "test.sh: dockerd or busybox is missing (the differential test needs them); install docker.io and busybox-static" >&2
    fi
fi

# End-to-end tests that need an external tool are #[ignore = "needs TOOL"]: run them too.
exec cargo test --locked --all-targets "$@" -- --include-ignored
