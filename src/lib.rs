//! caregap: care-gap detection and risk stratification for primary care.
//!
//! The modules follow the pipeline (see ARCHITECTURE.md):
//! [`data`] (Parquet → `Population`) → [`lang`] (TOML → checked `Library`) →
//! [`plan`] (`Library` → `Plan`) → [`eval`] (`Plan` × `Population` → `Evaluation`) →
//! [`output`] (scoring-run files) → [`rank`] (risk, priorities, call lists) →
//! [`report`] (suppressed aggregate report). [`modelreport`] draws the model
//! report (`caregap model fit|bench --out`). Beside them: [`sql`] emits the same
//! library as portable SQL, [`testcase`] runs a library's test cases, [`timing`]
//! reads the process's CPU time.
pub mod data;
pub mod eval;
pub mod import;
pub mod lang;
pub mod modelreport;
pub mod output;
pub mod plan;
pub mod rank;
pub mod report;
pub mod runs;
pub mod serve;
pub mod sql;
pub mod tablemodel;
pub mod testcase;
pub mod timing;
