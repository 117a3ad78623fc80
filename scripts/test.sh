#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script).
# It installs Debian's chromium + chromium-driver when missing (browser tests),
# prepares the DuckDB virtual environment the SQL equivalence tests need
# (scripts/sql/setup-venv.sh, idempotent), makes those tests mandatory, and runs
# every crate's tests, then the Python package's (scripts/test-python.sh).
# Plain `cargo test --workspace` also works; without the venv the DuckDB
# tests then print SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sql/setup-venv.sh
export CAREGAP_REQUIRE_DUCKDB=1
# The service's browser tests (tests/serve_browser.rs) drive Debian's headless
# Chromium over WebDriver; install it when missing, then make them mandatory.
if ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "scripts/test.sh: chromedriver missing; install chromium and chromium-driver (as root: apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi
export CAREGAP_REQUIRE_BROWSER=1
cargo test --workspace
# The Python package (python/): built with maturin, tested with pytest.
exec scripts/test-python.sh
