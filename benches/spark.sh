#!/usr/bin/env bash
# The Spark dialect on a local Spark standalone cluster (a master and two
# workers, scripts/sql/spark-cluster.sh) over the same Parquet as caregap:
# times the emitted script and checks its firings equal the engine's.
#
#   benches/spark.sh [PATIENTS]        (default 64000; data as benches/compare.sh)
#
# Needs scripts/sql/setup-venv.sh --spark and a Java runtime
# (apt-get install openjdk-17-jre-headless). On an existing cluster, set
# CAREGAP_SPARK_MASTER=spark://HOST:7077 and a data folder every executor can read.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-64000}"
as_of="2026-01-01"
criteria="${CAREGAP_CRITERIA:-$root/criteria}"
dir="${CAREGAP_BENCH_DIR:-$root/target/compare/$n}"
python="${CAREGAP_SQL_VENV:-$root/.venv-sql}/bin/python"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin caregap
bin="${CARGO_TARGET_DIR:-$root/target}/release/caregap"
if [ ! -e "$dir/events.parquet" ] && [ ! -d "$dir/events" ]; then
    "$bin" synth --patients "$n" --seed 42 --as-of "$as_of" --years 5 --out "$dir"
fi
mkdir -p "$dir/spark"
[ -e "$dir/caregap/firings.parquet" ] ||
    "$bin" score --data "$dir" --criteria "$criteria" --as-of "$as_of" --out "$dir/caregap" >/dev/null
master="${CAREGAP_SPARK_MASTER:-}"
if [ -z "$master" ]; then
    master=$("$root/scripts/sql/spark-cluster.sh" start)
    trap '"$root/scripts/sql/spark-cluster.sh" stop' EXIT
fi
"$bin" sql --criteria "$criteria" --as-of "$as_of" --dialect spark --data "$dir" > "$dir/spark/firings.sql"
"$python" "$root/scripts/sql/run_sql.py" --engine spark --master "$master" --time \
    --parquet "$dir/spark/firings" "$dir/spark/firings.sql" 2> "$dir/spark/run.log" || {
    cat "$dir/spark/run.log" >&2; exit 1; }
seconds=$(grep -o 'seconds=[0-9.]*' "$dir/spark/run.log" | cut -d= -f2)
"$python" - "$dir" "$n" "$seconds" "$master" <<'PY'
import sys
import duckdb
d, n, secs, master = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
a = f"SELECT CAST(patient_id AS VARCHAR) p, criterion_id c FROM read_parquet('{d}/caregap/firings.parquet') WHERE status = 'open'"
b = f"SELECT CAST(patient_id AS VARCHAR) p, criterion_id c FROM read_parquet('{d}/spark/firings/*.parquet')"
n_a = con.sql(f"SELECT count(*) FROM ({a})").fetchone()[0]
only_a = con.sql(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
only_b = con.sql(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
print("| people | cluster | firings | Spark SQL (s) | equal to caregap |")
print("|---|---|---|---|---|")
print(f"| {n} | {master}, 2 workers x 1 core | {n_a} | {secs:.1f} | {'yes' if only_a == only_b == 0 else f'NO: {only_a} only in caregap, {only_b} only in Spark'} |")
sys.exit(0 if only_a == only_b == 0 else 1)
PY
