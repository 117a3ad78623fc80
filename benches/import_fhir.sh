#!/usr/bin/env bash
# Throughput and memory of `caregap import fhir` on a synthetic Bulk Data export:
#
#   benches/import_fhir.sh [PEOPLE] [REPEATS]      (defaults: 64000 people, 2 repeats)
#
# Writes the population twice with the release binary (`caregap synth`: Parquet,
# and `--format fhir-ndjson`), then per repeat
# 1. `caregap import fhir` (wall, CPU, peak RSS from /usr/bin/time -v), with
#    resources/s and MB/s of NDJSON over the wall time;
# 2. the same with --pseudonymise;
# 3. `caregap inspect` of the Parquet tables (the Parquet loader on the same
#    population), for comparison.
# Threads: rayon's default (RAYON_NUM_THREADS). Run it on a quiet machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
people="${1:-64000}"
repeats="${2:-2}"
bin="${CAREGAP_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin caregap
    bin="${CARGO_TARGET_DIR:-$root/target}/release/caregap"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" synth --patients "$people" --seed 42 --as-of 2026-01-01 --string-ids --out "$work/pq" >/dev/null
"$bin" synth --patients "$people" --seed 42 --as-of 2026-01-01 --string-ids --format fhir-ndjson --out "$work/fhir" >/dev/null
bytes=$(cat "$work"/fhir/*.ndjson | wc -c)
lines=$(cat "$work"/fhir/*.ndjson | wc -l)
head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/key"
echo "people $people; NDJSON $(awk "BEGIN{printf \"%.1f\", $bytes/1e6}") MB, $lines resources; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
measure() { # label, command...
    local label="$1"; shift
    /usr/bin/time -v "$@" > "$work/out.txt" 2> "$work/time.txt"
    local wall cpu_u cpu_s rss
    wall=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    cpu_u=$(grep 'User time' "$work/time.txt" | awk '{print $NF}')
    cpu_s=$(grep 'System time' "$work/time.txt" | awk '{print $NF}')
    rss=$(grep 'Maximum resident' "$work/time.txt" | awk '{print $NF}')
    awk -v l="$label" -v w="$wall" -v u="$cpu_u" -v s="$cpu_s" -v r="$rss" -v b="$bytes" -v n="$lines" 'BEGIN{
        printf "%-22s wall %6.2f s  cpu %6.2f s  peak RSS %6.0f MB  %7.1f MB/s  %9.0f resources/s\n", l, w, u+s, r/1024, b/1e6/w, n/w }'
}
for r in $(seq 1 "$repeats"); do
    echo "repeat $r"
    measure "import fhir" "$bin" import fhir "$work/fhir" --out "$work/imported"
    measure "import --pseudonymise" "$bin" import fhir "$work/fhir" --pseudonymise "$work/key" --out "$work/pseudo"
    measure "inspect Parquet" "$bin" inspect "$work/pq" --as-of 2026-01-01
done
grep -E 'rows written' "$work/out.txt" || true
"$bin" import fhir "$work/fhir" --out "$work/imported" | grep 'rows written'
