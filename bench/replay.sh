#!/bin/sh
# Replays real merges through `dockguard check` and grades each verdict against what the
# project's own CI builds (bench/replay.py says how). Writes bench/REPLAY.md.
#   bench/replay.sh PATH-TO-A-QEMU-CLONE [replay.py arguments: --since DATE, --limit N, …]
#
# The clone needs the default branch's history (the mirror has it all):
#   git clone --single-branch --branch master -o upstream https://github.com/pbo-linaro/qemu-ci qemu
# It is only read: the replay works in a scratch clone (`--shared`) in a temporary directory.
# DOCKGUARD=path/to/dockguard replays that binary instead of building the release one.
# Needs: cargo (unless DOCKGUARD is set), git, python3, and the tools ./test.sh installs
# into ./.tools (gitlab-ci-local, PyYAML, the `dockerfile` parser). Since 2023-03-01
# (~1400 merges) it takes about 15 minutes on 2 cores, most of it gitlab-ci-local.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: bench/replay.sh PATH-TO-A-QEMU-CLONE [replay.py arguments]" >&2
    exit 2
fi
clone=$(cd "$1" && pwd)
shift
cd "$(dirname "$0")/.."
tools="$(pwd)/.tools"
for tool in "$tools/node_modules/.bin/gitlab-ci-local" "$tools/venv/bin/python"; do
    if [ ! -x "$tool" ]; then
        echo "bench/replay.sh: $tool is missing; run ./test.sh once (it installs the test tools)" >&2
        exit 2
    fi
done
if [ -z "${DOCKGUARD:-}" ]; then
    cargo build --release --locked --quiet
    DOCKGUARD=target/release/dockguard
fi
exec "$tools/venv/bin/python" bench/replay.py --dockguard "$DOCKGUARD" --clone "$clone" \
    --gitlab-ci-local "$tools/node_modules/.bin/gitlab-ci-local" \
    --oracle "$tools/venv/bin/python tests/tools/dockerfile_oracle.py" --out bench/REPLAY.md "$@"
