//! The boosting loop and the fitted model.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::BinMapper;
use super::histogram::Layout;
use super::objective::Objective;
use super::split::SplitRules;
use super::tree::{GrowContext, Growth, LeafRows, Tree, Workspace, grow};
use crate::data::Dataset;
use crate::error::{ModelError, Result, invalid_param};

const CHUNK: usize = 16_384;

/// Hyperparameters, named and defaulted as in LightGBM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbmParams {
    /// Loss.
    pub objective: Objective,
    /// Boosting rounds (trees).
    pub num_rounds: usize,
    /// Shrinkage.
    pub learning_rate: f64,
    /// Maximum leaves per tree.
    pub num_leaves: usize,
    /// Maximum depth (root = 0), `None` = unlimited.
    pub max_depth: Option<usize>,
    /// Leaf-wise or depth-wise growth.
    pub growth: Growth,
    /// L2 regularisation λ.
    pub lambda_l2: f64,
    /// Minimum rows per leaf.
    pub min_data_in_leaf: usize,
    /// Minimum hessian sum per leaf.
    pub min_sum_hessian_in_leaf: f64,
    /// Minimum gain to split.
    pub min_gain_to_split: f64,
    /// Maximum value bins per feature (≤ 255).
    pub max_bin: usize,
    /// Values sampled per feature to find bin boundaries.
    pub bin_construct_sample: usize,
    /// Fraction of rows used per bag (1 = no bagging).
    pub bagging_fraction: f64,
    /// Re-bag every this many rounds (0 = no bagging).
    pub bagging_freq: usize,
    /// Fraction of features used per tree.
    pub feature_fraction: f64,
    /// Stop when the validation loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Seed for binning samples, bagging and feature sampling.
    pub seed: u64,
}

impl Default for GbmParams {
    fn default() -> Self {
        Self {
            objective: Objective::poisson(),
            num_rounds: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            growth: Growth::LeafWise,
            lambda_l2: 0.0,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            min_gain_to_split: 0.0,
            max_bin: 255,
            bin_construct_sample: 200_000,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            feature_fraction: 1.0,
            early_stopping_rounds: None,
            seed: 0,
        }
    }
}

impl GbmParams {
    fn check(&self) -> Result<()> {
        let frac = |x: f64| x > 0.0 && x <= 1.0;
        if self.num_rounds == 0 {
            return Err(invalid_param("num_rounds", "must be at least 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(invalid_param("learning_rate", "must be > 0"));
        }
        if self.num_leaves < 2 {
            return Err(invalid_param("num_leaves", "must be at least 2"));
        }
        if !(2..=255).contains(&self.max_bin) {
            return Err(invalid_param(
                "max_bin",
                format!("must be in 2..=255, got {}", self.max_bin),
            ));
        }
        if !(self.lambda_l2 >= 0.0)
            || !(self.min_sum_hessian_in_leaf >= 0.0)
            || !(self.min_gain_to_split >= 0.0)
        {
            return Err(invalid_param(
                "lambda_l2/min_sum_hessian_in_leaf/min_gain_to_split",
                "must be >= 0",
            ));
        }
        if self.min_data_in_leaf == 0 {
            return Err(invalid_param("min_data_in_leaf", "must be at least 1"));
        }
        if !frac(self.bagging_fraction) || !frac(self.feature_fraction) {
            return Err(invalid_param(
                "bagging_fraction/feature_fraction",
                "must be in (0, 1]",
            ));
        }
        if self.bin_construct_sample == 0 {
            return Err(invalid_param("bin_construct_sample", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fitted booster. Predicts from raw feature values (NaN = missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// Loss it was trained with (gives the link).
    pub objective: Objective,
    /// Starting raw score.
    pub init_score: f64,
    /// The trees (truncated to the best round with early stopping).
    pub trees: Vec<Tree>,
    /// Number of input features.
    pub n_features: usize,
    /// Validation loss per round, when a validation set was given.
    pub valid_loss: Vec<f64>,
    /// Round (1-based count of trees kept) with the best validation loss.
    pub best_rounds: usize,
}

impl Booster {
    /// Raw scores (log mean or log-odds).
    pub fn predict_raw(&self, data: &Dataset) -> Result<Vec<f64>> {
        if data.n_features() != self.n_features {
            return Err(ModelError::InvalidData(format!(
                "booster was trained on {} features, data has {}",
                self.n_features,
                data.n_features()
            )));
        }
        let cols = data.columns();
        let mut out = vec![self.init_score; data.n_rows()];
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, o) in chunk.iter_mut().enumerate() {
                    let i = c * CHUNK + k;
                    for t in &self.trees {
                        *o += t.predict(|j| cols[j][i]);
                    }
                }
            });
        Ok(out)
    }

    /// Predictions: means (Poisson) or probabilities (logistic).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        let mut s = self.predict_raw(data)?;
        s.iter_mut().for_each(|v| *v = self.objective.transform(*v));
        Ok(s)
    }

    /// Total split gain per feature.
    pub fn feature_importance(&self) -> Vec<f64> {
        let mut imp = vec![0.0; self.n_features];
        for t in &self.trees {
            for n in &t.nodes {
                if let super::tree::Node::Split { feature, gain, .. } = n {
                    imp[*feature] += gain;
                }
            }
        }
        imp
    }
}

/// Trains a booster; with `valid`, tracks the validation loss each round and
/// stops early if `early_stopping_rounds` is set.
pub fn train(data: &Dataset, valid: Option<&Dataset>, params: &GbmParams) -> Result<Booster> {
    // On a pool thread: the many short parallel steps of a tree (a leaf's
    // histogram, partition and gather) are then forked from a worker, which
    // takes part in them, instead of being sent to the pool from outside
    // and waited for, a thread switch each time.
    rayon::scope(|_| train_in_pool(data, valid, params))
}

fn train_in_pool(data: &Dataset, valid: Option<&Dataset>, params: &GbmParams) -> Result<Booster> {
    params.check()?;
    let n = data.n_rows();
    if n == 0 || data.n_features() == 0 {
        return Err(ModelError::InvalidData(
            "no training rows or no features".into(),
        ));
    }
    if n > u32::MAX as usize {
        return Err(ModelError::InvalidData("more than 2^32 rows".into()));
    }
    if let Some(v) = valid
        && v.n_features() != data.n_features()
    {
        return Err(ModelError::InvalidData(
            "validation set has other features than training".into(),
        ));
    }
    if params.early_stopping_rounds.is_some() && valid.is_none() {
        return Err(invalid_param(
            "early_stopping_rounds",
            "needs a validation set",
        ));
    }
    let obj = params.objective;
    obj.check_labels(data.labels())
        .map_err(ModelError::InvalidData)?;
    let n_feat = data.n_features();
    let mappers: Vec<BinMapper> = (0..n_feat)
        .into_par_iter()
        .map(|j| {
            BinMapper::fit(
                data.column(j),
                params.max_bin,
                params.bin_construct_sample,
                params.seed ^ (j as u64),
            )
        })
        .collect();
    let bins: Vec<Vec<u8>> = (0..n_feat)
        .into_par_iter()
        .map(|j| mappers[j].bin_column(data.column(j)))
        .collect();
    let missing: Vec<u8> = mappers.iter().map(BinMapper::missing_bin).collect();
    let layout = Layout::new(&mappers.iter().map(BinMapper::n_bins).collect::<Vec<_>>())
        .with_most_frequent_bins(&bins);
    let valid_bins: Option<Vec<Vec<u8>>> = valid.map(|v| {
        (0..n_feat)
            .into_par_iter()
            .map(|j| mappers[j].bin_column(v.column(j)))
            .collect()
    });

    let ctx = GrowContext {
        bins: &bins,
        mappers: &mappers,
        layout: &layout,
        rules: SplitRules {
            lambda_l2: params.lambda_l2,
            min_data_in_leaf: params.min_data_in_leaf as u32,
            min_sum_hessian: params.min_sum_hessian_in_leaf,
            min_gain_to_split: params.min_gain_to_split,
        },
        num_leaves: params.num_leaves,
        max_depth: params.max_depth,
        growth: params.growth,
        learning_rate: params.learning_rate,
    };
    let y = data.labels();
    let w = data.weights();
    let init = obj.init_score(y, w);
    let mut score = vec![init; n];
    let mut valid_score = valid.map(|v| vec![init; v.n_rows()]);
    let mut gh = vec![[0f32; 2]; n];
    let mut ws = Workspace::new(n);
    let mut in_bag = vec![true; n];
    let bagging = params.bagging_fraction < 1.0 && params.bagging_freq > 0;
    let mut trees = Vec::with_capacity(params.num_rounds);
    let mut valid_loss = Vec::new();
    let (mut best_loss, mut best_rounds) = (f64::INFINITY, 0);
    for round in 0..params.num_rounds {
        obj.gradients(y, w, &score, &mut gh);
        if bagging && round % params.bagging_freq == 0 {
            let mut rng = ChaCha8Rng::seed_from_u64(
                params.seed.wrapping_add(0x9E37_79B9 * (round as u64 + 1)),
            );
            in_bag
                .iter_mut()
                .for_each(|b| *b = rng.random::<f64>() < params.bagging_fraction);
        }
        ws.indices.clear();
        if bagging {
            ws.indices
                .extend((0..n as u32).filter(|&i| in_bag[i as usize]));
        } else {
            ws.indices.extend(0..n as u32);
        }
        let used = feature_sample(n_feat, params.feature_fraction, params.seed, round);
        let (tree, leaves) = grow(&ctx, &mut ws, &gh, &used, !bagging);
        // Training scores: in-bag rows by leaf ranges, the others by traversal.
        add_leaf_values(&mut score, &ws.indices, &leaves);
        if bagging {
            score.par_chunks_mut(CHUNK).enumerate().for_each(|(c, ch)| {
                for (k, s) in ch.iter_mut().enumerate() {
                    let i = c * CHUNK + k;
                    if !in_bag[i] {
                        *s += tree.predict_binned(&bins, &missing, i);
                    }
                }
            });
        }
        if let (Some(vs), Some(vb), Some(v)) = (valid_score.as_mut(), valid_bins.as_ref(), valid) {
            vs.par_chunks_mut(CHUNK).enumerate().for_each(|(c, ch)| {
                for (k, s) in ch.iter_mut().enumerate() {
                    *s += tree.predict_binned(vb, &missing, c * CHUNK + k);
                }
            });
            let loss = obj.loss(v.labels(), vs);
            valid_loss.push(loss);
            if loss < best_loss {
                best_loss = loss;
                best_rounds = round + 1;
            }
        }
        trees.push(tree);
        if let Some(patience) = params.early_stopping_rounds
            && round + 1 - best_rounds >= patience
        {
            break;
        }
    }
    if params.early_stopping_rounds.is_some() {
        trees.truncate(best_rounds);
    } else {
        best_rounds = trees.len();
    }
    Ok(Booster {
        objective: obj,
        init_score: init,
        trees,
        n_features: n_feat,
        valid_loss,
        best_rounds,
    })
}

/// Adds each leaf's value to the scores of its rows (`indices[l.start..][..l.len]`),
/// on all threads: each thread takes a block of scores and, in every leaf,
/// the rows that fall in it. A leaf's rows are in increasing order (the
/// partition is stable and starts from the rows in order), so they are found
/// by binary search. Every score gets exactly one addition, so the result is
/// the serial one.
fn add_leaf_values(score: &mut [f64], indices: &[u32], leaves: &[LeafRows]) {
    score
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, block)| {
            let (lo, hi) = ((c * CHUNK) as u32, (c * CHUNK + block.len()) as u32);
            for l in leaves {
                let rows = &indices[l.start..l.start + l.len];
                debug_assert!(rows.is_sorted());
                let from = rows.partition_point(|&r| r < lo);
                let to = rows.partition_point(|&r| r < hi);
                for &r in &rows[from..to] {
                    block[(r - lo) as usize] += l.value;
                }
            }
        });
}

/// Features used by the tree of `round` (all when `fraction == 1`).
fn feature_sample(n_feat: usize, fraction: f64, seed: u64, round: usize) -> Vec<bool> {
    if fraction >= 1.0 {
        return vec![true; n_feat];
    }
    let k = ((fraction * n_feat as f64).round() as usize).clamp(1, n_feat);
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(round as u64 + 7));
    let mut used = vec![false; n_feat];
    for j in sample(&mut rng, n_feat, k) {
        used[j] = true;
    }
    used
}
