#!/usr/bin/env bash
# `caregap.score` from Python against `caregap score`, on one dataset:
#
#   benches/python_score.sh DIR [REPEATS]      (default REPEATS: 3)
#
# DIR is a population folder, e.g. made by
#   caregap synth --patients 640000 --seed 42 --as-of 2026-01-01 --years 5 --out DIR
# Library: $CAREGAP_CRITERIA (default: criteria/); scoring date 2026-01-01.
#
# Builds the release binary, installs the package as a user does (`pip
# install ./python` into target/py-venv-bench: a release build), then alternates,
# per repeat:
# 1. `caregap score --data DIR --criteria LIB --out RUN` (compile, load,
#    evaluate, write the Parquet files);
# 2. the same from Python: `Library.load`, `Population.load`, `score`, and the
#    three results as pyarrow Tables (`.firings`, `.features`, `.summary`).
# Each prints wall time, CPU time and peak RSS (/usr/bin/time). The target:
# Python's wall time within 10 % of the CLI's. The Python run keeps the
# firings and features in memory (the CLI streams them to disk): its peak
# RSS is the CLI's plus those tables, which the zero-copy export does not
# grow (python/tests/test_score.py checks the buffers are the engine's).
# Run it on a quiet machine: every other process competes for the 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: benches/python_score.sh DIR [REPEATS]}"
repeats="${2:-3}"
criteria="${CAREGAP_CRITERIA:-$root/criteria}"
as_of="2026-01-01"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/py-venv-bench"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin caregap
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# As a user installs it (a release build); CAREGAP_BENCH_INSTALLED=1 keeps
# the package already installed in the venv.
if [ "${CAREGAP_BENCH_INSTALLED:-0}" != 1 ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$root/python"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
timed() { /usr/bin/time -f "  %e s wall, %U s user + %S s sys, peak RSS %M KiB" "$@"; }

cat > "$out/score.py" <<'PY'
import sys, time
import caregap
data, criteria, as_of = sys.argv[1:4]
t = time.perf_counter()
lib = caregap.Library.load(criteria)
pop = caregap.Population.load(data, as_of=as_of)
t_load = time.perf_counter()
run = caregap.score(pop, lib)
t_score = time.perf_counter()
firings, features, summary = run.firings, run.features, run.summary
t_tables = time.perf_counter()
print(f"  python: {firings.num_rows} firings rows, {features.num_rows} feature rows; "
      f"compile+load {t_load - t:.2f} s, score {t_score - t_load:.2f} s, "
      f"to pyarrow {t_tables - t_score:.3f} s")
PY

echo "# $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$repeats"); do
    echo "## repeat $r"
    echo "  caregap score:"
    timed "$target/release/caregap" score --data "$dir" --criteria "$criteria" --as-of "$as_of" \
        --out "$out/run" 2>&1 >/dev/null | grep -E "wall|scored"
    echo "  caregap.score (Python):"
    timed "$venv/bin/python" "$out/score.py" "$dir" "$criteria" "$as_of" 2>&1
done
