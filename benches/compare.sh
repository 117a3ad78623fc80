#!/usr/bin/env bash
# caregap vs. DuckDB on the same Parquet files, same thread count, same answers.
#
#   benches/compare.sh [PATIENTS] [THREADS]        (defaults: 64000 2)
#
# 1. generates a population (`caregap synth`, seed 42, as of 2026-01-01, 5 years)
#    in $CAREGAP_BENCH_DIR (default: target/compare/<PATIENTS>; reused if present);
# 2. times the whole `caregap score` run (Parquet in, outputs written) with
#    RAYON_NUM_THREADS=THREADS;
# 3. times DuckDB (`SET threads=THREADS`) running the script of
#    `caregap sql --dialect duckdb --data DIR` and writing its firings to Parquet;
# 4. checks that both give the same (patient_id, criterion_id) rows and prints
#    the times and their ratio.
#
# Needs the DuckDB venv: scripts/sql/setup-venv.sh. Library: $CAREGAP_CRITERIA
# (default: criteria/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-64000}"
threads="${2:-2}"
as_of="2026-01-01"
criteria="${CAREGAP_CRITERIA:-$root/criteria}"
dir="${CAREGAP_BENCH_DIR:-$root/target/compare/$n}"
python="${CAREGAP_SQL_VENV:-$root/.venv-sql}/bin/python"
[ -x "$python" ] || { echo "no DuckDB venv: run scripts/sql/setup-venv.sh" >&2; exit 1; }

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin caregap
bin="${CARGO_TARGET_DIR:-$root/target}/release/caregap"

if [ ! -e "$dir/events.parquet" ] && [ ! -d "$dir/events" ]; then
    echo "generating $n people in $dir ..." >&2
    "$bin" synth --patients "$n" --seed 42 --as-of "$as_of" --years 5 --out "$dir"
fi
mkdir -p "$dir/caregap" "$dir/duckdb"

# Wall time of a command in seconds (bash's TIMEFORMAT, no external `time`).
# On failure the command's messages are shown and the script stops.
seconds() {
    local TIMEFORMAT=%R log="$dir/last-command.log"
    { time "$@" >/dev/null 2>"$log"; } 2>&1 || { cat "$log" >&2; return 1; }
}

"$bin" sql --criteria "$criteria" --as-of "$as_of" --dialect duckdb --data "$dir" > "$dir/duckdb/firings.sql"

t_caregap=$(RAYON_NUM_THREADS="$threads" seconds "$bin" score --data "$dir" --criteria "$criteria" --as-of "$as_of" --out "$dir/caregap")
t_duckdb=$(seconds "$python" "$root/scripts/sql/run_sql.py" --threads "$threads" \
    --parquet "$dir/duckdb/firings.parquet" "$dir/duckdb/firings.sql")

"$python" - "$dir" "$n" "$threads" "$t_caregap" "$t_duckdb" <<'PY'
import sys
import duckdb
d, n, threads, tc, td = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
con = duckdb.connect()
a = f"SELECT CAST(patient_id AS VARCHAR) p, criterion_id c FROM read_parquet('{d}/caregap/firings.parquet') WHERE status = 'open'"
b = f"SELECT CAST(patient_id AS VARCHAR) p, criterion_id c FROM read_parquet('{d}/duckdb/firings.parquet')"
n_a = con.sql(f"SELECT count(*) FROM ({a})").fetchone()[0]
n_b = con.sql(f"SELECT count(*) FROM ({b})").fetchone()[0]
only_a = con.sql(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
only_b = con.sql(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
print(f"| people | threads | firings | caregap score (s) | DuckDB SQL (s) | DuckDB / caregap |")
print(f"|---|---|---|---|---|---|")
print(f"| {int(n):,} | {threads} | {n_a:,} | {tc:.2f} | {td:.2f} | {td / tc:.1f}x |")
if only_a or only_b:
    print(f"RESULTS DIFFER: {only_a} firings only in caregap, {only_b} only in DuckDB", file=sys.stderr)
    for row in con.sql(f"({a} EXCEPT ALL {b}) LIMIT 5").fetchall():
        print("  only caregap:", row, file=sys.stderr)
    for row in con.sql(f"({b} EXCEPT ALL {a}) LIMIT 5").fetchall():
        print("  only DuckDB: ", row, file=sys.stderr)
    sys.exit(1)
print(f"equal results: {n_a:,} firings in both", file=sys.stderr)
PY
