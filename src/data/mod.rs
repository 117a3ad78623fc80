//! Data layer: the population store and (later) the Parquet loader.
mod population;
pub use population::*;
