#!/usr/bin/env bash
# A whole country on one machine (issue 21): `caregap score` with the shipped
# library on 5.6 million people with ten years of history, read a patient
# range at a time, against 640,000 people with five: wall time, peak memory
# and seconds per million people, with 640,000 people at five and at ten
# years for the same history per person (targets: peak under 4 GB at 5.6 million;
# time per person no worse than at 640,000).
#
#   benches/scale.sh [WORKDIR] [CHUNK_EVENTS]   # defaults: target/bench-scale, score's default
#
# Generates the populations once (`caregap synth --patients N --seed 42
# --as-of 2026-01-01 --years Y`; the 5.6M one takes about 4 GB of disk and
# half an hour on 2 cores), then scores each (a sync before each run).
set -euo pipefail
W=${1:-target/bench-scale}
CHUNK=${2:-}
# CAREGAP_BIN=path: use that binary instead of building target/release/caregap.
. benches/release_bin.sh
mkdir -p "$W"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in 640000:5 640000:10 5600000:10; do
  N=${spec%:*}
  Y=${spec#*:}
  POP="$W/pop-$N-$Y"
  if [ ! -f "$POP/patients.parquet" ]; then
    "$BIN" synth --patients "$N" --seed 42 --as-of 2026-01-01 --years "$Y" --out "$POP" >/dev/null
  fi
  sync; sleep 2
  /usr/bin/time -f "%e %M" -o "$W/time-$N" \
    "$BIN" score --data "$POP" --criteria criteria --as-of 2026-01-01 --out "$W/run-$N" \
    ${CHUNK:+--chunk-events "$CHUNK"} >/dev/null
  read -r WALL KB <"$W/time-$N"
  RANGES=$(grep -o '"patient_ranges": [0-9]*' "$W/run-$N/run.json" | grep -o '[0-9]*$')
  EVENTS=$(grep -o '"events": [0-9]*' "$W/run-$N/run.json" | grep -o '[0-9]*$')
  echo "$N people, $Y years, $EVENTS events: ${WALL} s, peak $((KB / 1024)) MiB," \
    "$(echo "scale=2; $WALL * 1000000 / $N" | bc) s per million people, $RANGES patient ranges"
done
