//! The Parquet loader on mutated `patients` / `events` files (see
//! `checks::loader` for what is asserted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

use std::sync::OnceLock;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // Memory-backed where available: every input is written as a file.
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    })
    .path()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::loader(data, dir()));
