#!/usr/bin/env bash
# Creates the Python virtual environment the SQL equivalence tests and
# benches/compare.sh use to run DuckDB: `.venv-sql/` at the repository root.
# Idempotent: re-running only installs what is missing.
#
#   scripts/sql/setup-venv.sh            # DuckDB only
#   scripts/sql/setup-venv.sh --spark    # also pyspark (needs a Java runtime)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CAREGAP_SQL_VENV:-$root/.venv-sql}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'duckdb>=1.1,<2'
if [ "${1:-}" = "--spark" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyspark>=3.5,<5'
fi
"$venv/bin/python" -c 'import duckdb; print("duckdb", duckdb.__version__, "in", "'"$venv"'")'
