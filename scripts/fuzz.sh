#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets/) with cargo-fuzz and libFuzzer on
# the nightly toolchain, each for a budget of CPU time. Not part of the test
# command: the inputs that ever failed are replayed there
# (tests/fuzz_regressions.rs).
#
#   scripts/fuzz.sh [CPU_SECONDS_PER_TARGET] [TARGET...]
#       default: 1800 CPU-seconds each, targets library loader import serve
#
# A target stops when its process has used the budget of CPU time (user +
# system), however busy the machine is; the wall time it took and the runs
# libFuzzer made are printed. Built without a sanitizer (`-s none`: the code
# is safe Rust, and a panic, an abort, a hang or memory over the limit is
# what is looked for) and with debug assertions (integer overflow panics).
#
# The working corpus grows in fuzz/work/TARGET (ignored by git), seeded from the
# small fuzz/corpus/TARGET kept in the repository. A failing input is written
# to fuzz/artifacts/TARGET/; keep it as a regression test by copying it to
# fuzz/regressions/TARGET/ under a name that says what it found.
# Limits per input: 10 s (a hang) and 2 GiB of memory (unbounded memory).
# The `serve` target serves a small `caregap demo` run made here first.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-1800}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(library loader import serve)
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
# CAREGAP_FUZZ_NO_BUILD=1 runs the targets as last built (several runs of
# this script in parallel, one target each, share one build).
if [ -z "${CAREGAP_FUZZ_NO_BUILD:-}" ]; then
    cargo +nightly fuzz build --fuzz-dir fuzz -s none --debug-assertions
fi
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release
if [[ " ${targets[*]} " == *" serve "* ]] && [ ! -d fuzz/work/serve-demo/run ]; then
    cargo run --release --quiet -- demo --patients 300 --out fuzz/work/serve-demo >/dev/null
fi
export CAREGAP_FUZZ_RUN=$PWD/fuzz/work/serve-demo/run
ticks=$(getconf CLK_TCK)
for t in "${targets[@]}"; do
    mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
    echo "== $t: ${budget} CPU-seconds"
    start=$(date +%s)
    "$bin_dir/$t" "fuzz/work/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
        >"fuzz/work/$t.log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        # utime + stime of the fuzzer (fields 14 and 15 of /proc/PID/stat).
        used=$(awk -v t="$ticks" '{print int(($14 + $15) / t)}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        if [ "$used" -ge "$budget" ]; then
            kill -INT "$pid"
            break
        fi
        sleep 5
    done
    status=0
    wait "$pid" || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/work/$t.log" | grep -o '[0-9]*$' || true)
    echo "   ${used:-?} CPU-s in $(( $(date +%s) - start )) s wall, ${runs:-?} inputs run, corpus $(ls "fuzz/work/$t" | wc -l) files"
    if ls "fuzz/artifacts/$t" | grep -q .; then
        echo "   FAILED: inputs in fuzz/artifacts/$t/ (log: fuzz/work/$t.log)" >&2
        status=1
    fi
    [ "$status" -eq 0 ] || [ "$status" -eq 130 ] || [ "$status" -eq 72 ] || { tail -30 "fuzz/work/$t.log" >&2; exit 1; }
done
