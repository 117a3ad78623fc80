//! caregap: care-gap detection and risk stratification for primary care.
pub mod data;
pub mod eval;
pub mod lang;
pub mod output;
pub mod plan;
pub mod sql;
