//! Risk stratification and call lists: turns a scoring run's firings and
//! features into per-person risk (`risk.parquet`), a documented priority score,
//! exclusions, and per-clinic call lists. Pure: the CLI does all file IO.
//!
//! Stages: features → [`risk::assess_cv`] + [`risk::utilisation_tiers`] +
//! [`benefit::baseline`] → [`calllist::rank`] (applies [`exclusions`],
//! scores by [`priority`] and [`benefit`], orders by the configured
//! [`benefit::Order`]) → ordered entries per clinic → [`export`].
//! [`pipeline`] runs these stages for a whole scoring run (what `caregap
//! rank` and the service call); [`evaluate`] scores orders by a generated
//! population's next-year outcomes. User-facing definitions: `docs/ranking.md`.
pub mod benefit;
pub mod calllist;
pub mod columns;
pub mod config;
pub mod evaluate;
pub mod exclusions;
pub mod export;
pub mod pipeline;
pub mod priority;
pub mod risk;
pub mod score2;
