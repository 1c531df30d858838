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

exec cargo test --locked --all-targets "$@"
