//! Risk stratification and call lists: turns a scoring run's firings and
//! features into per-person risk (`risk.parquet`), a documented priority score,
//! exclusions, and per-clinic call lists. Pure: the CLI does all file IO.
//!
//! Stages: features → [`risk::assess_cv`] + [`risk::utilisation_tiers`] →
//! [`calllist::rank`] (applies [`exclusions`], scores by [`priority`]) →
//! ordered entries per clinic. User-facing definitions: `docs/ranking.md`.
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
