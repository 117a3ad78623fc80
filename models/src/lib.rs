//! Next-year visit-count and classification models for caregap.
//!
//! Pure numerics: no Arrow, no files. The CLI builds a [`Dataset`] (plain
//! column-major `f64` features with `NaN` for missing values, count labels,
//! optional weights), fits models from here, scores them with [`metrics`] and
//! saves them with [`saved`]. smartcore matrices are used inside [`forest`]
//! only and never appear in the public API.
//!
//! Models: [`baseline`] (overall mean, age-sex group mean, last year's count),
//! [`glm`] (Poisson and NB2 by IRLS), [`logistic`] (logistic by the same IRLS),
//! [`forest`] (smartcore random forest) and [`gbm`], a histogram gradient
//! booster with Poisson and logistic objectives written to LightGBM's rules.

// `!(x > 0.0)` is used on purpose: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
// One exception, a cache prefetch hint in `gbm::histogram`.
#![deny(unsafe_code)]

pub mod baseline;
pub mod data;
pub mod design;
pub mod error;
pub mod forest;
pub mod gbm;
pub mod glm;
mod linalg;
pub mod logistic;
pub mod metrics;
pub mod report;
pub mod saved;
pub mod simulate;

pub use data::{Dataset, Fold, kfold};
pub use error::{ModelError, Result};
