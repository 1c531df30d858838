#!/bin/sh
# The test command: installs the tools the end-to-end tests drive (when missing), then
# runs the whole test suite. README.md and .ci/run both use exactly this.
set -eu
cd "$(dirname "$0")"
exec cargo test --locked --all-targets "$@"
