# Sourced by the bench scripts (run from the repository's root): BIN is
# $CAREGAP_BIN when set, else target/release/caregap, built now.
if [ -n "${CAREGAP_BIN:-}" ]; then
  BIN=$CAREGAP_BIN
else
  cargo build --release --quiet --bin caregap
  BIN="${CARGO_TARGET_DIR:-target}/release/caregap"
fi
