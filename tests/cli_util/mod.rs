//! Running the `caregap` binary from integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary under test.
pub fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

/// The repository (for `criteria/` and test fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The output of a command that must succeed (else its stderr is shown).
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command's stderr names each of `left` (what killed runs left behind) as
/// removed and left behind by a killed run.
pub fn assert_reported(left: &[String], out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in left {
        assert!(
            stderr.contains(name.as_str()) && stderr.contains("left behind by a killed run"),
            "{name} not reported:\n{stderr}"
        );
    }
}
