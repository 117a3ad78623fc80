//! Histogram gradient boosting, held to LightGBM's rules.
//!
//! Pipeline: [`binning`] (quantile bins, ≤ 255 value bins + a missing bin)
//! → per round [`objective`] gradients → [`histogram`] building (parallel
//! over features and over fixed pieces of a leaf's rows, subtraction for the
//! larger sibling) → [`split`] search →
//! [`tree`] growth (leaf-wise or depth-wise) → [`booster`] (rounds,
//! shrinkage, bagging, column sampling, early stopping).
//!
//! Determinism: every sum is computed in a fixed order: pieces of rows whose
//! bounds depend only on the data, each summed by one thread, then added in
//! piece order (histograms, leaf sums), elementwise gradients; and
//! all randomness comes from ChaCha8 seeded with `seed` and the round number,
//! so a model is bit-identical for a seed whatever the number of threads.

pub mod binning;
pub mod booster;
pub mod histogram;
pub mod objective;
pub mod split;
pub mod tree;

pub use booster::{Booster, GbmParams, train};
pub use objective::Objective;
pub use tree::Growth;
