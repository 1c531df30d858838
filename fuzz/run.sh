#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and records libFuzzer's final stats.
#
#   fuzz/run.sh                 # every target, 600 s each, two at a time
#   fuzz/run.sh 60 slug         # one target for 60 s
#   FUZZ_JOBS=1 fuzz/run.sh 30  # one at a time
#
# Only stable Rust exists here: RUSTC_BOOTSTRAP=1 lets it accept cargo-fuzz's -Z flags.
# cargo-fuzz is installed into ~/.cargo/bin when missing. Logs: fuzz/logs/<target>.log,
# crashes: fuzz/artifacts/<target>/ (a crash makes the script exit 1; turn it into a
# regression test in tests/it/adversarial.rs).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
    cargo install cargo-fuzz --locked
fi
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
jobs="${FUZZ_JOBS:-2}"
mkdir -p logs
# Build once (serially): parallel builds would fight over the target dir lock anyway.
for t in "${targets[@]}"; do
    nice -n 10 cargo fuzz build "$t" >/dev/null 2>&1
done
run_one() {
    local t="$1"
    mkdir -p "corpus/$t" "artifacts/$t"
    # The committed seeds stay untouched: new inputs go to a scratch corpus first.
    mkdir -p "scratch/$t"
    if nice -n 10 cargo fuzz run "$t" "scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
        >"logs/$t.log" 2>&1; then
        echo "$t: ok, $(grep -m1 '^stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}') executions in ${secs}s"
    else
        echo "$t: FAILED (see fuzz/logs/$t.log, fuzz/artifacts/$t/)"
        return 1
    fi
}
status=0
running=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=("$!")
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
done
for _ in $(seq "$running"); do
    wait -n || status=1
done
exit "$status"
