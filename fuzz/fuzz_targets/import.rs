//! The FHIR and OMOP importers on mutated records (see `checks::import` for
//! what is asserted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

use std::sync::OnceLock;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    })
    .path()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::import(data, dir()));
