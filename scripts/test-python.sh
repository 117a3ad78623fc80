#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest), as scripts/test.sh runs
# them after `cargo test --workspace`:
# - a virtual environment in target/py-venv with maturin, pyarrow, numpy,
#   pandas, polars, scikit-learn and pytest from PyPI (wheels; installed once,
#   again when this list changes);
# - `maturin develop` (debug profile, the workspace's target/ dir: the
#   dependencies `cargo test` built are reused; maturin's own pyo3
#   configuration makes cargo compile pyo3, arrow's facade, caregap-synth,
#   caregap and the module once more, about 1.5 min on 2 shared cores);
# - pytest, against the `caregap` binary `cargo test` built (CAREGAP_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
venv="$target/py-venv"
requirements="maturin>=1.7,<2 pyarrow>=15 numpy pandas polars scikit-learn>=1.6 pytest"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.caregap-requirements" 2>/dev/null)" != "$requirements" ]; then
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # one requirement per word
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
    echo "$requirements" > "$venv/.caregap-requirements"
fi
cargo build --quiet --bin caregap
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --quiet)
CAREGAP_BIN="$target/debug/caregap" exec "$venv/bin/python" -m pytest python/tests -q -p no:cacheprovider
