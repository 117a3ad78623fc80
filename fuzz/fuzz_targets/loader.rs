//! The Parquet loader on mutated `patients` / `events` files (see
//! `checks::loader` for what is asserted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::loader(data, checks::scratch_dir()));
