//! Quantile binning of feature values into at most 255 value bins plus one
//! bin for missing values (so a bin index fits in a `u8`).
//!
//! Like LightGBM: bin boundaries are learned from a seeded sample of at most
//! `sample_size` non-missing values; with at most `max_bin` distinct values
//! each value gets its own bin (neighbours merged until a bin holds
//! `MIN_DATA_IN_BIN` sampled values), otherwise bins are filled greedily to
//! about equal counts, a heavy single value keeping a bin of its own.
//! Boundaries lie halfway between neighbouring distinct values; value `v`
//! falls in the first bin whose upper bound is `>= v`. The last value bin is
//! open-ended (`+inf`), `NaN` goes to the missing bin, whose index is the
//! number of value bins.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

const MIN_DATA_IN_BIN: usize = 3;

/// Maps the values of one feature to bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    /// Upper bound of each value bin, ascending; the last is `+inf`.
    pub upper_bounds: Vec<f64>,
}

impl BinMapper {
    /// Learns the bins of `values` (NaN = missing).
    pub fn fit(values: &[f64], max_bin: usize, sample_size: usize, seed: u64) -> Self {
        let max_bin = max_bin.clamp(2, 255);
        // The sample is drawn from the positions of the non-missing values
        // (all positions when nothing is missing, the usual case: no list).
        let n_present = values.iter().filter(|v| !v.is_nan()).count();
        let present: Vec<u32> = if n_present < values.len() {
            (0..values.len() as u32)
                .filter(|&i| !values[i as usize].is_nan())
                .collect()
        } else {
            Vec::new()
        };
        let value = |k: usize| match present.get(k) {
            Some(&i) => values[i as usize],
            None => values[k],
        };
        let mut sample_vals: Vec<f64> = if n_present > sample_size {
            sample(&mut ChaCha8Rng::seed_from_u64(seed), n_present, sample_size)
                .into_iter()
                .map(value)
                .collect()
        } else {
            (0..n_present).map(value).collect()
        };
        // Unstable is enough: values equal under `total_cmp` are the same bits.
        sample_vals.sort_unstable_by(f64::total_cmp);
        let mut distinct: Vec<f64> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        for v in sample_vals {
            if distinct.last() == Some(&v) {
                *counts.last_mut().unwrap_or(&mut 0) += 1;
            } else {
                distinct.push(v);
                counts.push(1);
            }
        }
        let mut upper = Vec::new();
        if distinct.len() <= max_bin {
            let mut acc = 0;
            for i in 0..distinct.len().saturating_sub(1) {
                acc += counts[i];
                if acc >= MIN_DATA_IN_BIN {
                    upper.push(midpoint(distinct[i], distinct[i + 1]));
                    acc = 0;
                }
            }
        } else {
            let total: usize = counts.iter().sum();
            let mut remaining = total;
            let mut bins_left = max_bin;
            let mut acc = 0;
            for i in 0..distinct.len() - 1 {
                acc += counts[i];
                remaining -= counts[i];
                let target = (remaining + acc) as f64 / bins_left as f64;
                // Cut when this bin is full, or when the next value alone
                // would overfill it (so heavy values start their own bin).
                if bins_left > 1
                    && (acc as f64 >= target
                        || (acc + counts[i + 1]) as f64 > 1.5 * target && acc >= MIN_DATA_IN_BIN)
                {
                    upper.push(midpoint(distinct[i], distinct[i + 1]));
                    acc = 0;
                    bins_left -= 1;
                }
            }
        }
        upper.push(f64::INFINITY);
        Self {
            upper_bounds: upper,
        }
    }

    /// Number of value bins (the missing bin's index).
    pub fn missing_bin(&self) -> u8 {
        self.upper_bounds.len() as u8
    }

    /// Total bins including the missing bin.
    pub fn n_bins(&self) -> usize {
        self.upper_bounds.len() + 1
    }

    /// Bin of one value.
    #[inline]
    pub fn bin(&self, v: f64) -> u8 {
        if v.is_nan() {
            self.missing_bin()
        } else {
            self.upper_bounds.partition_point(|&ub| ub < v) as u8
        }
    }

    /// Bins a whole column.
    pub fn bin_column(&self, values: &[f64]) -> Vec<u8> {
        values.iter().map(|&v| self.bin(v)).collect()
    }
}

fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    // Guard against rounding onto b for adjacent floats.
    if m >= b { a } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_own_bins() {
        let v: Vec<f64> = (0..100)
            .map(|i| f64::from(i % 4))
            .chain([f64::NAN])
            .collect();
        let m = BinMapper::fit(&v, 255, 200_000, 1);
        assert_eq!(m.upper_bounds, vec![0.5, 1.5, 2.5, f64::INFINITY]);
        assert_eq!(m.bin(0.0), 0);
        assert_eq!(m.bin(0.5), 0);
        assert_eq!(m.bin(0.6), 1);
        assert_eq!(m.bin(100.0), 3);
        assert_eq!(m.bin(f64::NAN), 4);
    }

    #[test]
    fn many_values_use_quantiles() {
        let v: Vec<f64> = (0..100_000).map(f64::from).collect();
        let m = BinMapper::fit(&v, 255, 200_000, 1);
        assert!(m.upper_bounds.len() <= 255 && m.upper_bounds.len() > 240);
        let bins = m.bin_column(&v);
        let mut counts = vec![0usize; 256];
        bins.iter().for_each(|&b| counts[b as usize] += 1);
        let used: Vec<usize> = counts.into_iter().filter(|&c| c > 0).collect();
        assert!(used.iter().all(|&c| c > 300 && c < 500), "{used:?}");
    }

    #[test]
    fn heavy_value_gets_own_bin() {
        let mut v: Vec<f64> = vec![0.0; 50_000];
        v.extend((0..50_000).map(|i| f64::from(i) + 1.0));
        let m = BinMapper::fit(&v, 255, 200_000, 1);
        assert_eq!(m.bin(0.0), 0);
        assert_ne!(m.bin(1.0), 0);
    }
}
