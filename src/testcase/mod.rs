//! Test cases for a criteria library: small people written in TOML, the
//! criteria that must and must not fire for them, and a runner that evaluates
//! the library over them with the engine and reports every failure with the
//! evidence.
//!
//! Pipeline: case text → [`CaseFile`] ([`parse_case_file`]) → an in-memory
//! [`crate::data::Population`] per file ([`build_population`]) → the engine's
//! [`crate::eval::evaluate`] with in-population evidence → [`Report`]
//! ([`run_cases`]). The module does no IO: the CLI (`caregap test-library`)
//! reads the files.
//!
//! # Coverage
//!
//! A criterion is *covered* when some person that must fire for it does, and
//! some person that must not fire for it is a **near miss**: the criterion's
//! population is true for that person, so the case exercises the gap (a value
//! just on the right side of a threshold, a test just inside the window) or the
//! exclusion. A person who is simply outside the population (wrong age or sex)
//! is a valid `no_fire` check but not a near miss.

mod build;
mod format;
mod run;

pub use build::build_population;
pub use format::{
    CaseError, CaseEvent, CaseFile, DEFAULT_AS_OF, DEFAULT_CLINIC, Person, parse_case_file,
};
pub use run::{Coverage, Expectation, Failure, Report, run_cases};
