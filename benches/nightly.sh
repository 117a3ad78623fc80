#!/usr/bin/env bash
# `caregap nightly` at full size: each step's time and the whole night against
# `caregap score` alone on the same data (target: night < 3x score alone).
#
#   benches/nightly.sh [PATIENTS] [WORKDIR]      # defaults: 640000, target/bench-nightly
#
# Generates the population once (`caregap synth --patients N --seed 42 --as-of
# 2026-01-01 --years 5`), scores it alone, then runs two nights (the second
# diffs with the first) and prints nightly.json's step times of both.
set -euo pipefail
N=${1:-640000}
W=${2:-target/bench-nightly}
# CAREGAP_BIN=path: use that binary instead of building target/release/caregap.
. benches/release_bin.sh
mkdir -p "$W"
POP="$W/pop-$N"
if [ ! -f "$POP/patients.parquet" ]; then
  "$BIN" synth --patients "$N" --seed 42 --as-of 2026-01-01 --years 5 --out "$POP" >/dev/null
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Each timed command starts with the disk written back (`sync`): a night
# writes 1.2 GB, and the kernel writing the last one slows the next.
sync; sleep 2
t0=$(date +%s.%N)
"$BIN" score --data "$POP" --criteria criteria --as-of 2026-01-01 --out "$W/score-alone" >/dev/null
t1=$(date +%s.%N)
SCORE=$(echo "$t1 - $t0" | bc)
echo "score alone: ${SCORE} s"

rm -rf "$W/runs"
cat >"$W/nightly.toml" <<TOML
runs = "runs"
data = "pop-$N"
library = "$(pwd)/criteria"
as_of = "2026-01-01"
keep = 3
TOML
for night in 1 2; do
  sync; sleep 2
  t0=$(date +%s.%N)
  "$BIN" nightly --config "$W/nightly.toml" 2>"$W/night-$night.log"
  t1=$(date +%s.%N)
  WALL=$(echo "$t1 - $t0" | bc)
  python3 - "$W/runs/latest/nightly.json" "$WALL" "$SCORE" "$night" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall, score, night = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
steps = ", ".join(f"{x['step']} {x['seconds']:.1f} s" for x in s["steps"])
print(f"night {night}: {steps}; steps total {s['total_seconds']:.1f} s, process wall {wall:.1f} s "
      f"= {wall / score:.2f}x score alone")
if s.get("diff"):
    d = s["diff"]
    n = lambda v: f"<{d['min_cell']}" if v is None else v  # suppressed small counts
    print(f"  diff: opened {n(d['opened'])}, closed {n(d['closed'])}, still open {n(d['still_open'])}")
PY
done
