//! Gradient histograms: per feature and bin, the sums of gradients, hessians
//! and the row count of the rows in a leaf.
//!
//! Building is parallel over features (each feature's bins are summed by one
//! thread in row order), so a histogram is bit-identical whatever the number
//! of threads. The larger child of a split gets its histogram by subtracting
//! the smaller child's from the parent's (the subtraction trick).
//!
//! Most features are one value (usually 0 or missing) for many people. With
//! [`Layout::with_most_frequent_bins`], a feature whose most frequent bin
//! holds at least 1/3 of the rows skips that bin while accumulating and sets
//! it afterwards to the leaf's total minus the other bins (LightGBM's
//! `most_freq_bin`): the long runs of updates to one bin, each waiting for the
//! previous one, go away. The other bins are summed exactly as before; the
//! skipped bin's sums differ from direct summation only by rounding, and the
//! result is still the same whatever the number of threads. At 9/10 and more
//! a branch leaves the bin's rows out; below, a branch would be mispredicted,
//! so the rows go without a branch to throwaway cells (`Skip`). For
//! features whose bin holds at least 4/5, the layout also keeps the list of
//! the other rows, and a histogram of all rows (the root's) visits only those
//! (same rows in the same order, so the same sums).
//!
//! While accumulating, a bin's gradient and hessian sums sit side by side and
//! the rows' (gradient, hessian) pairs are interleaved, so one row costs one
//! two-lane conversion and addition.

use rayon::prelude::*;

/// Sums over the rows of one bin (or of a whole leaf).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinStat {
    /// Sum of gradients.
    pub g: f64,
    /// Sum of hessians.
    pub h: f64,
    /// Number of rows.
    pub n: u32,
}

impl BinStat {
    /// `self + o`.
    #[inline]
    pub fn plus(self, o: BinStat) -> BinStat {
        BinStat {
            g: self.g + o.g,
            h: self.h + o.h,
            n: self.n + o.n,
        }
    }
    /// `self − o`.
    #[inline]
    pub fn minus(self, o: BinStat) -> BinStat {
        BinStat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// A feature's most frequent bin is skipped when it holds at least this
/// share of the rows (numerator, denominator).
const SKIP_AT: (usize, usize) = (1, 3);

/// Where each feature's bins live in a flat histogram.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `offsets[j]..offsets[j + 1]` are feature `j`'s bins.
    pub offsets: Vec<usize>,
    /// Per feature, the bin skipped while accumulating and reconstructed
    /// from the leaf total (empty: no skipping).
    pub skip: Vec<Option<u8>>,
    /// Per feature with a skipped bin, whether it holds at least 9/10 of
    /// the rows (then a branch leaves it out).
    pub branch: Vec<bool>,
    /// Per feature whose skipped bin holds at least 4/5 of the rows, the
    /// rows not in it (ascending).
    pub listed: Vec<Option<Vec<u32>>>,
}

impl Layout {
    /// From the number of bins (including the missing bin) per feature.
    pub fn new(n_bins: &[usize]) -> Self {
        let mut offsets = vec![0];
        for b in n_bins {
            offsets.push(offsets.last().copied().unwrap_or(0) + b);
        }
        Self {
            offsets,
            skip: Vec::new(),
            branch: Vec::new(),
            listed: Vec::new(),
        }
    }
    /// Skips, for each feature of `bins` whose most frequent bin holds at
    /// least 1/3 of the rows, that bin while building (see the module docs).
    pub fn with_most_frequent_bins(mut self, bins: &[Vec<u8>]) -> Self {
        // Per feature, its most frequent bin and the bin's share of the rows
        // (at least `num / den`).
        let top: Vec<Option<(u8, usize)>> = bins
            .iter()
            .map(|col| {
                let mut counts = [0usize; 256];
                col.iter().for_each(|&b| counts[b as usize] += 1);
                let (b, &c) = counts
                    .iter()
                    .enumerate()
                    .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(&x.0)))?;
                (c > 0).then_some((b as u8, c))
            })
            .collect();
        let holds = |j: usize, (num, den): (usize, usize)| {
            top[j].filter(|&(_, c)| den * c >= num * bins[j].len())
        };
        self.skip = (0..bins.len())
            .map(|j| holds(j, SKIP_AT).map(|(b, _)| b))
            .collect();
        self.branch = (0..bins.len())
            .map(|j| holds(j, (9, 10)).is_some())
            .collect();
        self.listed = (0..bins.len())
            .map(|j| {
                let (m, _) = holds(j, (4, 5))?;
                let col = &bins[j];
                Some(
                    (0..col.len() as u32)
                        .filter(|&r| col[r as usize] != m)
                        .collect(),
                )
            })
            .collect();
        self
    }
    /// How feature `j`'s skipped bin is left out while accumulating.
    fn how_skipped(&self, j: usize) -> Skip {
        match (self.skipped(j), self.branch.get(j)) {
            (None, _) => Skip::No,
            (Some(m), Some(true)) => Skip::Branch(m),
            (Some(m), _) => Skip::Scrap(m),
        }
    }
    /// The bin of feature `j` skipped while accumulating, if any.
    #[inline]
    pub fn skipped(&self, j: usize) -> Option<u8> {
        self.skip.get(j).copied().flatten()
    }
    /// Total bins.
    pub fn total(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
    /// Feature `j`'s bins of `hist`.
    pub fn feature<'a>(&self, hist: &'a [BinStat], j: usize) -> &'a [BinStat] {
        &hist[self.offsets[j]..self.offsets[j + 1]]
    }
}

/// Rows of a leaf with their (gradient, hessian) pairs.
pub enum Rows<'a> {
    /// All rows `0..n`; pairs indexed by row.
    All { gh: &'a [[f32; 2]] },
    /// The listed rows; `gh[k]` belongs to `rows[k]` (ordered gradients).
    Some { rows: &'a [u32], gh: &'a [[f32; 2]] },
}

/// Builds the histogram of `rows` for the features with `used[j]`; other
/// features' bins are left untouched.
pub fn build(
    hist: &mut [BinStat],
    layout: &Layout,
    bins: &[Vec<u8>],
    used: &[bool],
    rows: &Rows<'_>,
) {
    let mut slices: Vec<(usize, &mut [BinStat])> = Vec::with_capacity(bins.len());
    let mut rest = hist;
    for (j, &u) in used.iter().enumerate().take(bins.len()) {
        let (head, tail) = rest.split_at_mut(layout.offsets[j + 1] - layout.offsets[j]);
        if u {
            slices.push((j, head));
        }
        rest = tail;
    }
    let gh = match rows {
        Rows::All { gh } | Rows::Some { gh, .. } => *gh,
    };
    let work = match rows {
        Rows::All { .. } => gh.len(),
        Rows::Some { rows, .. } => rows.len(),
    };
    let total = if slices.iter().any(|(j, _)| layout.skipped(*j).is_some()) {
        let mut t = BinStat {
            n: gh.len() as u32,
            ..BinStat::default()
        };
        for p in gh {
            t.g += f64::from(p[0]);
            t.h += f64::from(p[1]);
        }
        t
    } else {
        BinStat::default()
    };
    let one = |(j, out): &mut (usize, &mut [BinStat])| {
        let mut cells = [Cell::default(); CELLS];
        let col = &bins[*j];
        let skip = layout.how_skipped(*j);
        match rows {
            Rows::All { gh } => match layout.listed.get(*j).and_then(Option::as_ref) {
                Some(list) => accumulate_indexed_by_row(&mut cells, col, list, gh),
                None => accumulate(&mut cells, col, gh, skip),
            },
            Rows::Some { rows, gh } => accumulate_indexed(&mut cells, col, rows, gh, skip),
        }
        for (o, c) in out.iter_mut().zip(&cells) {
            *o = BinStat {
                g: c.gh[0],
                h: c.gh[1],
                n: c.n as u32,
            };
        }
        if let Some(m) = layout.skipped(*j) {
            fill_skipped(out, m, total);
        }
    };
    if work * slices.len() < 50_000 {
        slices.iter_mut().for_each(one);
    } else {
        slices.par_iter_mut().for_each(one);
    }
}

/// A bin's sums while accumulating: gradient and hessian side by side, so
/// one row's pair is converted and added as one two-lane operation (the
/// same IEEE additions as two scalar ones, so the same sums).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Cell {
    gh: [f64; 2],
    n: u64,
}

/// 256 bins (a `u8`) and `SCRAP` throwaway cells for the skipped bin.
const CELLS: usize = 256 + SCRAP;
/// See [`Skip::Scrap`].
const SCRAP: usize = 8;

/// How a feature's rows in its skipped bin are left out while accumulating.
#[derive(Debug, Clone, Copy)]
enum Skip {
    /// No bin skipped.
    No,
    /// The bin holds at least 9/10 of the rows: a branch around it is
    /// predicted well.
    Branch(u8),
    /// Below 9/10 the branch would be mispredicted too often: the bin's rows
    /// are added, without a branch, to one of `SCRAP` throwaway cells in turn
    /// (row `k` to cell `256 + k % SCRAP`). With a single throwaway cell
    /// every addition would wait for the previous one; with eight they
    /// overlap.
    Scrap(u8),
}

/// Adds row `k`'s (bin `b`) pair to its cell, leaving out the skipped bin.
#[inline(always)]
fn add(cells: &mut [Cell; CELLS], b: u8, k: usize, p: [f32; 2], skip: Skip) {
    let i = match skip {
        Skip::Branch(m) if b == m => return,
        Skip::Scrap(m) if b == m => 256 + k % SCRAP,
        _ => b as usize,
    };
    let c = &mut cells[i];
    c.gh[0] += f64::from(p[0]);
    c.gh[1] += f64::from(p[1]);
    c.n += 1;
}

/// Calls `f` with `skip` as a constant variant, so each variant gets its
/// own loop.
#[inline(always)]
fn per_variant(skip: Skip, mut f: impl FnMut(Skip)) {
    match skip {
        Skip::No => f(Skip::No),
        Skip::Branch(m) => f(Skip::Branch(m)),
        Skip::Scrap(m) => f(Skip::Scrap(m)),
    }
}

/// All rows, pairs indexed by row.
#[inline(never)]
fn accumulate(cells: &mut [Cell; CELLS], col: &[u8], gh: &[[f32; 2]], skip: Skip) {
    per_variant(skip, |skip| {
        for (k, (&b, &p)) in col.iter().zip(gh).enumerate() {
            add(cells, b, k, p, skip);
        }
    });
}

/// The listed rows with ordered pairs (`gh[k]` is `rows[k]`'s).
#[inline(never)]
fn accumulate_indexed(
    cells: &mut [Cell; CELLS],
    col: &[u8],
    rows: &[u32],
    gh: &[[f32; 2]],
    skip: Skip,
) {
    per_variant(skip, |skip| {
        for (k, (&r, &p)) in rows.iter().zip(gh).enumerate() {
            add(cells, col[r as usize], k, p, skip);
        }
    });
}

/// The listed rows (none in the skipped bin) with pairs indexed by row.
#[inline(never)]
fn accumulate_indexed_by_row(cells: &mut [Cell; CELLS], col: &[u8], rows: &[u32], gh: &[[f32; 2]]) {
    for (k, &r) in rows.iter().enumerate() {
        let r = r as usize;
        add(cells, col[r], k, gh[r], Skip::No);
    }
}

/// Sets the skipped bin `m` to `total` minus the other bins (summed in bin
/// order, so the result does not depend on the number of threads).
fn fill_skipped(out: &mut [BinStat], m: u8, total: BinStat) {
    let others = out
        .iter()
        .enumerate()
        .filter(|&(b, _)| b != m as usize)
        .fold(BinStat::default(), |acc, (_, s)| acc.plus(*s));
    let rest = total.minus(others);
    // An empty bin gets exact zeros, as when summed directly (no rounding
    // residue to break ties between equivalent thresholds).
    out[m as usize] = if rest.n == 0 {
        BinStat::default()
    } else {
        rest
    };
}

/// `parent ← parent − child` for the used features: the parent's buffer
/// becomes the sibling's histogram.
pub fn subtract(parent: &mut [BinStat], child: &[BinStat], layout: &Layout, used: &[bool]) {
    for (j, &u) in used.iter().enumerate() {
        if u {
            let r = layout.offsets[j]..layout.offsets[j + 1];
            for (p, c) in parent[r.clone()].iter_mut().zip(&child[r]) {
                *p = p.minus(*c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_equals_full_and_subtraction_works() {
        let bins = vec![vec![0u8, 1, 1, 2, 0], vec![1u8, 1, 0, 0, 1]];
        let layout = Layout::new(&[3, 2]);
        let gh = [1.0f32, 2.0, 3.0, 4.0, 5.0].map(|g| [g, 0.5]);
        let used = [true, true];
        let mut full = vec![BinStat::default(); layout.total()];
        build(&mut full, &layout, &bins, &used, &Rows::All { gh: &gh });
        assert_eq!(
            full[0],
            BinStat {
                g: 6.0,
                h: 1.0,
                n: 2
            }
        );
        assert_eq!(
            full[1],
            BinStat {
                g: 5.0,
                h: 1.0,
                n: 2
            }
        );
        assert_eq!(
            full[3],
            BinStat {
                g: 7.0,
                h: 1.0,
                n: 2
            }
        );
        let rows = [1u32, 3];
        let mut part = vec![BinStat::default(); layout.total()];
        build(
            &mut part,
            &layout,
            &bins,
            &used,
            &Rows::Some {
                rows: &rows,
                gh: &[[2.0, 0.5], [4.0, 0.5]],
            },
        );
        subtract(&mut full, &part, &layout, &used);
        let rest = [0u32, 2, 4];
        let mut direct = vec![BinStat::default(); layout.total()];
        build(
            &mut direct,
            &layout,
            &bins,
            &used,
            &Rows::Some {
                rows: &rest,
                gh: &[[1.0, 0.5], [3.0, 0.5], [5.0, 0.5]],
            },
        );
        assert_eq!(full, direct);
    }

    /// Two features mostly in bin 0 (90%, 87.5%: skipped), one dense (not skipped).
    fn sparse_data(n: usize) -> (Vec<Vec<u8>>, Vec<[f32; 2]>) {
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        let mut bins = vec![Vec::new(), Vec::new(), Vec::new()];
        let mut gh = Vec::new();
        for _ in 0..n {
            let r = next();
            bins[0].push(if r % 10 < 9 { 0 } else { (r % 5) as u8 + 1 });
            bins[1].push(if next() % 8 == 0 { 6 } else { 0 });
            bins[2].push((next() % 7) as u8);
            let g = (next() % 1000) as f32 / 997.0 - 0.4;
            gh.push([g, (next() % 1000) as f32 / 991.0 + 0.01]);
        }
        (bins, gh)
    }

    fn close(a: BinStat, b: BinStat) -> bool {
        a.n == b.n
            && (a.g - b.g).abs() <= 1e-9 * (1.0 + b.g.abs())
            && (a.h - b.h).abs() <= 1e-9 * (1.0 + b.h.abs())
    }

    #[test]
    fn skipping_the_most_frequent_bin_equals_direct_summation() {
        let n = 20_000;
        let (bins, gh) = sparse_data(n);
        let plain = Layout::new(&[6, 7, 7]);
        let skip = Layout::new(&[6, 7, 7]).with_most_frequent_bins(&bins);
        assert_eq!(skip.skip, vec![Some(0), Some(0), None]);
        let used = [true, true, true];
        assert!(skip.listed[0].is_some() && skip.listed[1].is_some() && skip.listed[2].is_none());
        let mut unlisted = skip.clone();
        unlisted.listed = vec![None; 3];
        let (mut a, mut b) = (
            vec![BinStat::default(); plain.total()],
            vec![BinStat::default(); plain.total()],
        );
        build(&mut a, &unlisted, &bins, &used, &Rows::All { gh: &gh });
        build(&mut b, &skip, &bins, &used, &Rows::All { gh: &gh });
        assert_eq!(a, b, "listed rows give the same all-rows histogram");
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 1).collect();
        let ogh: Vec<[f32; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
        // Rows in bin 6 of feature 1 only: its skipped bin 0 is empty.
        let few: Vec<u32> = (0..n as u32)
            .filter(|&r| bins[1][r as usize] == 6)
            .take(50)
            .collect();
        let fgh: Vec<[f32; 2]> = few.iter().map(|&r| gh[r as usize]).collect();
        for rows in [
            Rows::All { gh: &gh },
            Rows::Some {
                rows: &rows,
                gh: &ogh,
            },
            Rows::Some {
                rows: &few,
                gh: &fgh,
            },
        ] {
            let mut a = vec![BinStat::default(); plain.total()];
            let mut b = vec![BinStat::default(); plain.total()];
            build(&mut a, &plain, &bins, &used, &rows);
            build(&mut b, &skip, &bins, &used, &rows);
            for j in 0..3 {
                let m = skip.skipped(j);
                for (k, (x, y)) in plain
                    .feature(&b, j)
                    .iter()
                    .zip(plain.feature(&a, j))
                    .enumerate()
                {
                    if m == Some(k as u8) {
                        assert!(close(*x, *y), "feature {j} bin {k}: {x:?} vs {y:?}");
                        if y.n == 0 {
                            assert_eq!(x, y);
                        }
                    } else {
                        // Bins other than the skipped one are bit-identical.
                        assert_eq!(x, y, "feature {j} bin {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn skipping_is_the_same_for_any_number_of_threads() {
        let (bins, gh) = sparse_data(100_000);
        let layout = Layout::new(&[6, 7, 7]).with_most_frequent_bins(&bins);
        let used = [true, true, true];
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = vec![BinStat::default(); layout.total()];
            pool.install(|| build(&mut out, &layout, &bins, &used, &Rows::All { gh: &gh }));
            out
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(3));
    }
}
