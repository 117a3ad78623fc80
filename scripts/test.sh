#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script).
# It prepares the DuckDB virtual environment the SQL equivalence tests need
# (scripts/sql/setup-venv.sh, idempotent), makes those tests mandatory, and runs
# every crate's tests. Plain `cargo test --workspace` also works; without the
# venv the DuckDB tests then print SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sql/setup-venv.sh
export CAREGAP_REQUIRE_DUCKDB=1
exec cargo test --workspace
