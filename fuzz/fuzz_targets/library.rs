//! The criteria language, whole: TOML → checked library → plan → evaluation
//! and SQL (see `checks::library` for what is asserted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::library(data));
