//! The FHIR and OMOP importers on mutated records (see `checks::import` for
//! what is asserted).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::import(data, checks::scratch_dir()));
