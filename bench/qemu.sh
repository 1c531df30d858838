#!/bin/sh
# The benchmark on QEMU's real history: writes the QEMU section of bench/RESULTS.md.
#   bench/qemu.sh PATH-TO-A-QEMU-CLONE [bench/run.py arguments: --runs N, --no-heap, --keep, …]
#
# Any clone that has the fixed commits works; the mirror has them all:
#   git clone --single-branch --branch master -o upstream https://github.com/pbo-linaro/qemu-ci qemu
# The clone is only read: the scenarios (near / code-only / old / a 1000-ref push, each
# without and with a commit-graph) are set up in a scratch clone in a temporary directory
# (--tmp DIR; hardlinked when on the same file system, else ~500 MB) that is deleted after.
# DOCKGUARD=path/to/dockguard times that binary instead of building the release one.
# Needs: cargo (unless DOCKGUARD is set), git, python3; valgrind for the heap column.
# Takes about 10 minutes on 2 cores.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: bench/qemu.sh PATH-TO-A-QEMU-CLONE [run.py arguments]" >&2
    exit 2
fi
clone=$(cd "$1" && pwd)
shift
cd "$(dirname "$0")/.."
if [ -z "${DOCKGUARD:-}" ]; then
    cargo build --release --locked --quiet
    DOCKGUARD=target/release/dockguard
fi
exec python3 bench/run.py --dockguard "$DOCKGUARD" --qemu "$clone" --out bench/RESULTS.md "$@"
