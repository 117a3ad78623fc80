#!/usr/bin/env bash
# The speed and memory targets of loading and scoring, on one dataset:
#
#   benches/score_stages.sh DIR [REPEATS]      (default REPEATS: 2)
#
# DIR is a population folder, e.g. made by
#   caregap synth --patients 640000 --seed 42 --as-of 2026-01-01 --years 5 --out DIR
# Library: $CAREGAP_CRITERIA (default: criteria/); scoring date 2026-01-01;
# threads: rayon's default (RAYON_NUM_THREADS).
#
# Per repeat it prints
# 1. `load_bench decode`: the bare Parquet decode of the columns the loader
#    reads, and `load_bench load`: Parquet to ready population (wall, CPU,
#    peak RSS; the load's RSS against the size of the event columns);
# 2. the whole `caregap score` run (wall, CPU, peak RSS) and its stage timings
#    from run.json;
# 3. `eval_bench`: the evaluation stage alone, population already loaded
#    (without evidence, with evidence, summary).
# Run it on a quiet machine: every other process competes for the 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: benches/score_stages.sh DIR [REPEATS]}"
repeats="${2:-2}"
criteria="${CAREGAP_CRITERIA:-$root/criteria}"
as_of="2026-01-01"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" \
    --bin caregap --example load_bench --example eval_bench
rel="${CARGO_TARGET_DIR:-$root/target}/release"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
timed() { /usr/bin/time -f "  %e s wall, %U s user + %S s sys, peak RSS %M KiB" "$@"; }

echo "# $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$repeats"); do
    echo "## repeat $r"
    timed "$rel/examples/load_bench" decode "$dir" 2>&1 | sed 's/^decode/  decode/'
    timed "$rel/examples/load_bench" load "$dir" "$as_of" 2>&1 | sed 's/^load/  load/'
    echo "  caregap score:"
    timed "$rel/caregap" score --data "$dir" --criteria "$criteria" --as-of "$as_of" \
        --out "$out/run" 2>&1 >/dev/null | grep -E "wall|scored"
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['timings_s']; print('  stages: ' + ', '.join(f'{k} {v:.2f} s' for k, v in t.items()))" "$out/run/run.json"
done
echo "## evaluation stage alone"
"$rel/examples/eval_bench" "$dir" "$criteria" "$as_of" 3 | sed 's/^/  /'
