//! caregap: care-gap detection and risk stratification for primary care.
pub mod data;
pub mod lang;
pub mod sql;
