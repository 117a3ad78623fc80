//! One regression tree: its serialisable form, prediction, and growth from
//! histograms (leaf-wise by best gain, or depth-wise level by level).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::BinMapper;
use super::histogram::{self, BinStat, Layout, Rows};
use super::split::{SplitInfo, SplitRules, best_split, leaf_value};

/// A node of a tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "node")]
pub enum Node {
    /// Internal node: `x[feature] <= threshold` goes left, missing goes
    /// left iff `default_left`.
    Split {
        /// Feature index.
        feature: usize,
        /// Raw-value threshold (upper bound of the split bin). `+inf` when
        /// the split bin is the last value bin (every present value left,
        /// missing values by `default_left`): serde_json writes it as `null`,
        /// read back as `+inf`.
        #[serde(deserialize_with = "null_is_infinity")]
        threshold: f64,
        /// The split bin (value bins `<= bin` go left).
        bin: u8,
        /// Direction of missing values.
        default_left: bool,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
        /// Gain of the split (for importances).
        gain: f64,
    },
    /// Leaf with its (already shrunk) output.
    Leaf {
        /// Added to the raw score.
        value: f64,
        /// Training rows in the leaf.
        n: u32,
    },
}

/// Reads a threshold, `null` (how serde_json writes `+inf`) as `+inf`.
fn null_is_infinity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// A fitted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, root first.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Output for a row of raw feature values.
    #[inline]
    pub fn predict(&self, x: impl Fn(usize) -> f64) -> f64 {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value, .. } => return *value,
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    let v = x(*feature);
                    let go_left = if v.is_nan() {
                        *default_left
                    } else {
                        v <= *threshold
                    };
                    i = if go_left { *left } else { *right } as usize;
                }
            }
        }
    }

    /// Output for row `r` of binned data.
    #[inline]
    pub fn predict_binned(&self, bins: &[Vec<u8>], missing: &[u8], r: usize) -> f64 {
        let mut i = 0usize;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value, .. } => return *value,
                Node::Split {
                    feature,
                    bin,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    let b = bins[*feature][r];
                    let go_left = if b == missing[*feature] {
                        *default_left
                    } else {
                        b <= *bin
                    };
                    i = if go_left { *left } else { *right } as usize;
                }
            }
        }
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }
}

/// How leaves are chosen for splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Growth {
    /// Split the leaf with the largest gain next (LightGBM).
    LeafWise,
    /// Split leaves level by level (XGBoost's default).
    DepthWise,
}

/// Everything tree growth needs that does not change between trees.
pub struct GrowContext<'a> {
    /// Binned training columns.
    pub bins: &'a [Vec<u8>],
    /// Bin mappers (for thresholds and missing bins).
    pub mappers: &'a [BinMapper],
    /// Histogram layout.
    pub layout: &'a Layout,
    /// Split rules.
    pub rules: SplitRules,
    /// Maximum leaves.
    pub num_leaves: usize,
    /// Maximum depth (root = depth 0), `None` for unlimited.
    pub max_depth: Option<usize>,
    /// Leaf-wise or depth-wise.
    pub growth: Growth,
    /// Shrinkage applied to leaf values.
    pub learning_rate: f64,
}

/// Reusable buffers for growing trees.
pub struct Workspace {
    /// Row indices; leaves own contiguous ranges.
    pub indices: Vec<u32>,
    scratch: Vec<u32>,
    ogh: Vec<[f32; 2]>,
    pool: Vec<Vec<BinStat>>,
}

impl Workspace {
    /// Buffers for up to `n` rows.
    pub fn new(n: usize) -> Self {
        Self {
            indices: Vec::with_capacity(n),
            scratch: vec![0; n],
            ogh: vec![[0.0; 2]; n],
            pool: Vec::new(),
        }
    }
}

struct Leaf {
    start: usize,
    len: usize,
    depth: usize,
    sums: BinStat,
    hist: Option<Vec<BinStat>>,
    best: Option<SplitInfo>,
    node: usize,
    order: usize,
}

/// A leaf of the finished tree and its rows in `Workspace::indices`.
pub struct LeafRows {
    /// First position in `indices`.
    pub start: usize,
    /// Number of rows.
    pub len: usize,
    /// Leaf output (shrunk).
    pub value: f64,
}

/// Grows one tree on the rows in `ws.indices` (all rows when `all_rows`).
pub fn grow(
    ctx: &GrowContext<'_>,
    ws: &mut Workspace,
    gh: &[[f32; 2]],
    used: &[bool],
    all_rows: bool,
) -> (Tree, Vec<LeafRows>) {
    let n = ws.indices.len();
    let total_bins = ctx.layout.total();
    let mut root_hist = ws
        .pool
        .pop()
        .unwrap_or_else(|| vec![BinStat::default(); total_bins]);
    let rows = if all_rows {
        Rows::All { gh }
    } else {
        gather(&ws.indices, gh, &mut ws.ogh);
        Rows::Some {
            rows: &ws.indices,
            gh: &ws.ogh[..n],
        }
    };
    histogram::build(&mut root_hist, ctx.layout, ctx.bins, used, &rows);
    let sums = match rows {
        Rows::All { gh } | Rows::Some { gh, .. } => histogram::pair_sums(gh),
    };
    let mut nodes = vec![Node::Leaf {
        value: 0.0,
        n: sums.n,
    }];
    let mut leaves = vec![Leaf {
        start: 0,
        len: n,
        depth: 0,
        sums,
        best: None,
        hist: Some(root_hist),
        node: 0,
        order: 0,
    }];
    evaluate(ctx, used, &mut leaves[0], &mut ws.pool);
    let mut created = 1;
    while leaves.len() < ctx.num_leaves {
        let pick = leaves
            .iter()
            .enumerate()
            .filter(|(_, l)| l.best.is_some())
            .min_by(|(_, a), (_, b)| match ctx.growth {
                Growth::LeafWise => {
                    let (ga, gb) = (
                        a.best.map_or(0.0, |s| s.gain),
                        b.best.map_or(0.0, |s| s.gain),
                    );
                    gb.total_cmp(&ga).then(a.order.cmp(&b.order))
                }
                Growth::DepthWise => a.depth.cmp(&b.depth).then(a.order.cmp(&b.order)),
            })
            .map(|(i, _)| i);
        let Some(li) = pick else { break };
        let parent = leaves.swap_remove(li);
        let Some(split) = parent.best else { break };
        let col = &ctx.bins[split.feature];
        let miss = ctx.mappers[split.feature].missing_bin();
        let range = parent.start..parent.start + parent.len;
        let n_left = partition(
            &mut ws.indices[range.clone()],
            &mut ws.scratch,
            col,
            miss,
            split.bin,
            split.default_left,
        );
        debug_assert_eq!(n_left as u32, split.left.n);
        let left_node = nodes.len();
        nodes.push(Node::Leaf {
            value: 0.0,
            n: split.left.n,
        });
        nodes.push(Node::Leaf {
            value: 0.0,
            n: split.right.n,
        });
        nodes[parent.node] = Node::Split {
            feature: split.feature,
            threshold: ctx.mappers[split.feature].upper_bounds[split.bin as usize],
            bin: split.bin,
            default_left: split.default_left,
            left: left_node as u32,
            right: left_node as u32 + 1,
            gain: split.gain,
        };
        let mut left = Leaf {
            start: parent.start,
            len: n_left,
            depth: parent.depth + 1,
            sums: split.left,
            hist: None,
            best: None,
            node: left_node,
            order: created,
        };
        let mut right = Leaf {
            start: parent.start + n_left,
            len: parent.len - n_left,
            depth: parent.depth + 1,
            sums: split.right,
            hist: None,
            best: None,
            node: left_node + 1,
            order: created + 1,
        };
        created += 2;
        let can_split = |l: &Leaf| {
            ctx.max_depth.is_none_or(|d| l.depth < d) && l.sums.n >= 2 * ctx.rules.min_data_in_leaf
        };
        let mut parent_hist = parent.hist;
        if (can_split(&left) || can_split(&right))
            && leaves.len() + 2 < ctx.num_leaves
            && let Some(mut ph) = parent_hist.take()
        {
            let (small, large) = if left.len <= right.len {
                (&mut left, &mut right)
            } else {
                (&mut right, &mut left)
            };
            let mut sh = ws
                .pool
                .pop()
                .unwrap_or_else(|| vec![BinStat::default(); total_bins]);
            let rows = &ws.indices[small.start..small.start + small.len];
            gather(rows, gh, &mut ws.ogh);
            let k = rows.len();
            histogram::build(
                &mut sh,
                ctx.layout,
                ctx.bins,
                used,
                &Rows::Some {
                    rows,
                    gh: &ws.ogh[..k],
                },
            );
            histogram::subtract(&mut ph, &sh, ctx.layout, used);
            small.hist = Some(sh);
            large.hist = Some(ph);
        }
        if let Some(ph) = parent_hist {
            ws.pool.push(ph);
        }
        for mut child in [left, right] {
            if can_split(&child) {
                evaluate(ctx, used, &mut child, &mut ws.pool);
            } else if let Some(hh) = child.hist.take() {
                ws.pool.push(hh);
            }
            leaves.push(child);
        }
    }
    let mut out = Vec::with_capacity(leaves.len());
    for mut l in leaves {
        let value = leaf_value(l.sums, ctx.rules.lambda_l2) * ctx.learning_rate;
        nodes[l.node] = Node::Leaf { value, n: l.sums.n };
        if let Some(hh) = l.hist.take() {
            ws.pool.push(hh);
        }
        out.push(LeafRows {
            start: l.start,
            len: l.len,
            value,
        });
    }
    (Tree { nodes }, out)
}

/// Finds the leaf's best split and frees its histogram if it has none.
fn evaluate(ctx: &GrowContext<'_>, used: &[bool], leaf: &mut Leaf, pool: &mut Vec<Vec<BinStat>>) {
    let can = ctx.max_depth.is_none_or(|d| leaf.depth < d)
        && leaf.sums.n >= 2 * ctx.rules.min_data_in_leaf;
    leaf.best = match (&leaf.hist, can) {
        (Some(hh), true) => best_split(hh, ctx.layout, used, leaf.sums, &ctx.rules),
        _ => None,
    };
    if leaf.best.is_none()
        && let Some(hh) = leaf.hist.take()
    {
        pool.push(hh);
    }
}

/// `ogh[k] = gh[rows[k]]` (ordered pairs), in pieces on all threads for a
/// large leaf.
fn gather(rows: &[u32], gh: &[[f32; 2]], ogh: &mut [[f32; 2]]) {
    let one = |(rows, ogh): (&[u32], &mut [[f32; 2]])| {
        for (&r, o) in rows.iter().zip(ogh.iter_mut()) {
            *o = gh[r as usize];
        }
    };
    let ogh = &mut ogh[..rows.len()];
    if rows.len() <= PIECE {
        one((rows, ogh));
    } else {
        rows.par_chunks(PIECE)
            .zip(ogh.par_chunks_mut(PIECE))
            .for_each(one);
    }
}

/// Rows per piece when a leaf's rows are partitioned or gathered on all
/// threads. The pieces depend only on the leaf, and each keeps its rows'
/// order, so the result is the serial one whatever the thread count.
const PIECE: usize = 16_384;

/// Stable in-place partition of `rows` by the split; returns the left count.
/// A large leaf is partitioned piece by piece in parallel (into `scratch`),
/// then the pieces' left rows and right rows are copied back in piece order.
fn partition(
    rows: &mut [u32],
    scratch: &mut [u32],
    col: &[u8],
    miss: u8,
    bin: u8,
    default_left: bool,
) -> usize {
    let goes_left = |i: u32| {
        let b = col[i as usize];
        if b == miss { default_left } else { b <= bin }
    };
    if rows.len() <= PIECE {
        return partition_piece(rows, scratch, goes_left);
    }
    let scratch = &mut scratch[..rows.len()];
    scratch.copy_from_slice(rows);
    let lefts: Vec<usize> = scratch
        .par_chunks_mut(PIECE)
        .map_init(
            || vec![0u32; PIECE],
            |buf, piece| partition_piece(piece, buf, goes_left),
        )
        .collect();
    let mut l = 0;
    for (piece, &nl) in scratch.chunks(PIECE).zip(&lefts) {
        rows[l..l + nl].copy_from_slice(&piece[..nl]);
        l += nl;
    }
    let mut r = l;
    for (piece, &nl) in scratch.chunks(PIECE).zip(&lefts) {
        rows[r..r + piece.len() - nl].copy_from_slice(&piece[nl..]);
        r += piece.len() - nl;
    }
    l
}

/// Stable in-place partition of one piece, `buf` (at least as long) holding
/// the right rows meanwhile; returns the left count.
fn partition_piece(rows: &mut [u32], buf: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    // Without a branch on the side (it would be mispredicted): each row is
    // written to both places and only the side it goes to moves on. `l <= k`,
    // so the write never overtakes the rows still to be read.
    let (mut l, mut r) = (0, 0);
    for k in 0..rows.len() {
        let i = rows[k];
        let go_left = goes_left(i);
        rows[l] = i;
        buf[r] = i;
        l += usize::from(go_left);
        r += usize::from(!go_left);
    }
    rows[l..].copy_from_slice(&buf[..r]);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The piecewise parallel partition equals a plain stable partition, for
    /// leaves below, at and above the piece size, and for every thread count.
    #[test]
    fn partition_is_stable_and_matches_the_serial_one() {
        let n = 3 * PIECE + 123;
        let col: Vec<u8> = (0..n).map(|i| ((i * 7919) % 13) as u8).collect();
        for len in [10, PIECE, PIECE + 1, n] {
            // Rows in a scrambled order, as a leaf's rows are after splits.
            let rows: Vec<u32> = (0..len as u32).map(|i| (i * 40_503) % len as u32).collect();
            let goes_left = |i: u32| {
                let b = col[i as usize];
                if b == 12 { true } else { b <= 5 }
            };
            let want: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&i| goes_left(i))
                .chain(rows.iter().copied().filter(|&i| !goes_left(i)))
                .collect();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a thread pool");
                let mut got = rows.clone();
                let mut scratch = vec![0; len];
                let nl = pool.install(|| partition(&mut got, &mut scratch, &col, 12, 5, true));
                assert_eq!(got, want, "len {len}, {threads} threads");
                assert_eq!(nl, rows.iter().filter(|&&i| goes_left(i)).count());
            }
        }
    }
}
