#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets/) with cargo-fuzz and libFuzzer on
# the nightly toolchain, each for a time budget. Not part of the test command:
# the inputs that ever failed are replayed there (tests/fuzz_regressions.rs).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 1800 s, all targets
#
# The working corpus grows in fuzz/work/TARGET (ignored by git), seeded from the
# small fuzz/corpus/TARGET kept in the repository. A failing input is written
# to fuzz/artifacts/TARGET/; keep it as a regression test by copying it to
# fuzz/regressions/TARGET/ under a name that says what it found.
# Limits per input: 10 s (a hang) and 2 GiB of memory (unbounded memory).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(library loader)
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
for t in "${targets[@]}"; do
    mkdir -p "fuzz/work/$t"
    echo "== $t: ${seconds} s"
    cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1
done
