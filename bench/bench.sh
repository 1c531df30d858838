#!/bin/sh
# Reproduces bench/RESULTS.md from scratch: builds dockguard (release), generates the two
# benchmark repositories (once; they are deterministic) and runs the interleaved timings.
#   bench/bench.sh [--runs N] [--many-runs N]     (extra arguments go to bench/run.py)
# Needs: cargo, git, python3. Takes about 10 minutes on 2 cores; uses ~1 GB in bench/work.
set -eu
cd "$(dirname "$0")/.."
work=bench/work
mkdir -p "$work"
cargo build --release --locked --quiet
gen() {
    if [ ! -d "$work/$1/.git" ]; then
        rm -rf "$work/$1"
        python3 bench/gen.py "$work/$1" --commits "$2" --files "$3" --dockerfiles 100 --refs 1000
    fi
}
gen small 20000 5000
gen large 200000 50000
python3 bench/run.py --dockguard target/release/dockguard \
    --repo "small=$work/small" --repo "large=$work/large" --out bench/RESULTS.md "$@"
