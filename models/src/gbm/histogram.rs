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
//! result is still the same whatever the number of threads. These features
//! are stored row by row without their skipped bins ([`RowGroup`], LightGBM's
//! multi-value bins) and built together in one pass over a leaf's rows (one
//! thread, same row order per bin, so the same sums as column by column).
//!
//! While accumulating, a bin's gradient and hessian sums sit side by side and
//! the rows' (gradient, hessian) pairs are interleaved, so one row costs one
//! two-lane conversion and addition.

use std::ops::Range;

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
    /// The features with a skipped bin, row by row, in groups.
    pub groups: Vec<RowGroup>,
}

/// Features with a skipped bin stored row by row (LightGBM's multi-value
/// bins): per row, the cells of its bins that are not skipped. Their
/// histograms are built together in one pass over a leaf's rows that reads
/// one short run per row, instead of one byte of each feature's column per
/// row; the additions of one row go to different features' cells, so they
/// do not wait for each other.
#[derive(Debug, Clone, Default)]
pub struct RowGroup {
    /// The features, in slot order.
    features: Vec<usize>,
    /// `base[s]..base[s + 1]`: the cells of the feature in slot `s`.
    base: Vec<usize>,
    /// Row `r`'s cells are `cells[starts[r]..starts[r + 1]]`.
    starts: Vec<u32>,
    /// A cell is `base[slot] + bin`.
    cells: Vec<u16>,
}

impl RowGroup {
    /// The features `js` (each with a skipped bin), row by row.
    fn new(bins: &[Vec<u8>], layout: &Layout, js: &[usize]) -> Self {
        let mut base = vec![0];
        for (s, &j) in js.iter().enumerate() {
            base.push(base[s] + layout.offsets[j + 1] - layout.offsets[j]);
        }
        let n = bins.first().map_or(0, Vec::len);
        let cols: Vec<(&[u8], usize, Option<u8>)> = js
            .iter()
            .zip(&base)
            .map(|(&j, &b0)| (bins[j].as_slice(), b0, layout.skipped(j)))
            .collect();
        // In pieces of rows on all threads, joined in order.
        const PIECE: usize = 65_536;
        let pieces: Vec<(Vec<u32>, Vec<u16>)> = (0..n.div_ceil(PIECE))
            .into_par_iter()
            .map(|k| {
                let rows = k * PIECE..((k + 1) * PIECE).min(n);
                let mut ends = Vec::with_capacity(rows.len());
                let mut cells = Vec::new();
                for r in rows {
                    for &(col, b0, m) in &cols {
                        if Some(col[r]) != m {
                            cells.push((b0 + col[r] as usize) as u16);
                        }
                    }
                    ends.push(cells.len() as u32);
                }
                (ends, cells)
            })
            .collect();
        let mut starts = Vec::with_capacity(n + 1);
        let mut cells = Vec::with_capacity(pieces.iter().map(|p| p.1.len()).sum());
        starts.push(0);
        for (ends, piece) in pieces {
            let base = cells.len() as u32;
            starts.extend(ends.iter().map(|&e| base + e));
            cells.extend_from_slice(&piece);
        }
        Self {
            features: js.to_vec(),
            base,
            starts,
            cells,
        }
    }
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
            groups: Vec::new(),
        }
    }
    /// Skips, for each feature of `bins` whose most frequent bin holds at
    /// least 1/3 of the rows, that bin while building (see the module docs).
    pub fn with_most_frequent_bins(mut self, bins: &[Vec<u8>]) -> Self {
        // Per feature, its most frequent bin and the bin's share of the rows
        // (at least `num / den`).
        let top: Vec<Option<(u8, usize)>> = bins
            .par_iter()
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
        // All of them in one row group, unless a cell or the cell count would
        // not fit a u16 or u32. (Two or four groups, one thread each, took
        // about a fifth more CPU time on /work/cmp640: each group's loop over
        // a row's cells ends on a mispredicted branch.)
        let stored = |j: usize| top[j].map_or(0, |(_, c)| bins[j].len() - c);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let (mut nnz, mut n_cells) = (0, 0);
        for j in (0..bins.len()).filter(|&j| self.skip[j].is_some()) {
            let nb = self.offsets[j + 1] - self.offsets[j];
            let full = nnz + stored(j) > u32::MAX as usize || n_cells + nb > usize::from(u16::MAX);
            if groups.is_empty() || full {
                groups.push(Vec::new());
                (nnz, n_cells) = (0, 0);
            }
            if let Some(g) = groups.last_mut() {
                g.push(j);
            }
            nnz += stored(j);
            n_cells += nb;
        }
        self.groups = groups
            .iter()
            .map(|js| RowGroup::new(bins, &self, js))
            .collect();
        self
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
    // One task per row group, and one per other feature.
    let mut tasks: Vec<Task<'_>> = Vec::with_capacity(bins.len());
    let mut by_group: Vec<Vec<(usize, &mut [BinStat])>> =
        layout.groups.iter().map(|_| Vec::new()).collect();
    let group_of = |j: usize| layout.groups.iter().position(|g| g.features.contains(&j));
    let mut rest = hist;
    for (j, &u) in used.iter().enumerate().take(bins.len()) {
        let (head, tail) = rest.split_at_mut(layout.offsets[j + 1] - layout.offsets[j]);
        match (u, group_of(j)) {
            (true, Some(g)) => by_group[g].push((j, head)),
            (true, None) => tasks.push(Task::One(j, head)),
            (false, _) => {}
        }
        rest = tail;
    }
    for (g, features) in by_group.into_iter().enumerate() {
        if !features.is_empty() {
            tasks.insert(0, Task::Rows(&layout.groups[g], features));
        }
    }
    let gh = match rows {
        Rows::All { gh } | Rows::Some { gh, .. } => *gh,
    };
    let work = match rows {
        Rows::All { .. } => gh.len(),
        Rows::Some { rows, .. } => rows.len(),
    };
    let any_skipped = used
        .iter()
        .enumerate()
        .take(bins.len())
        .any(|(j, &u)| u && layout.skipped(j).is_some());
    let total = if any_skipped {
        pair_sums(gh)
    } else {
        BinStat::default()
    };
    let finish = |j: usize, out: &mut [BinStat], cells: &[Cell]| {
        for (o, c) in out.iter_mut().zip(cells) {
            *o = BinStat {
                g: c.gh[0],
                h: c.gh[1],
                n: c.n as u32,
            };
        }
        if let Some(m) = layout.skipped(j) {
            fill_skipped(out, m, total);
        }
    };
    let one = |task: &mut Task<'_>| match task {
        Task::One(j, out) => {
            let mut cells = [Cell::default(); 256];
            let col = &bins[*j];
            match rows {
                Rows::All { gh } => accumulate(&mut cells, col, gh),
                Rows::Some { rows, gh } => accumulate_indexed(&mut cells, col, rows, gh),
            }
            finish(*j, out, &cells);
        }
        Task::Rows(group, features) => {
            let cells = row_group_cells(group, rows);
            for (j, out) in features {
                if let Some(s) = group.features.iter().position(|f| f == j) {
                    finish(*j, out, &cells[group.base[s]..group.base[s + 1]]);
                }
            }
        }
    };
    if work * tasks.len() < 50_000 {
        tasks.iter_mut().for_each(one);
    } else {
        tasks.par_iter_mut().for_each(one);
    }
}

/// Histogram work for one thread: one feature's bins, or those of a row
/// group's features.
enum Task<'h> {
    One(usize, &'h mut [BinStat]),
    Rows(&'h RowGroup, Vec<(usize, &'h mut [BinStat])>),
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

impl Cell {
    #[inline(always)]
    fn add(&mut self, p: [f32; 2]) {
        self.gh[0] += f64::from(p[0]);
        self.gh[1] += f64::from(p[1]);
        self.n += 1;
    }
}

/// All rows, pairs indexed by row.
#[inline(never)]
fn accumulate(cells: &mut [Cell; 256], col: &[u8], gh: &[[f32; 2]]) {
    for (&b, &p) in col.iter().zip(gh) {
        cells[b as usize].add(p);
    }
}

/// The listed rows with ordered pairs (`gh[k]` is `rows[k]`'s).
#[inline(never)]
fn accumulate_indexed(cells: &mut [Cell; 256], col: &[u8], rows: &[u32], gh: &[[f32; 2]]) {
    for (&r, &p) in rows.iter().zip(gh) {
        cells[col[r as usize] as usize].add(p);
    }
}

/// Rows per piece of a row group's pass: a leaf's pass is split into pieces
/// of this many rows (of [`SMALL_ROW_PIECE`] rows below [`SMALL_LEAF`] rows),
/// built in parallel and added in piece order. The pieces depend only on the
/// leaf, never on the thread count, so neither do the sums.
const ROW_PIECE: usize = 16_384;
const SMALL_ROW_PIECE: usize = 4_096;
const SMALL_LEAF: usize = 4 * ROW_PIECE;

/// Rows per piece of [`pair_sums`].
const SUM_PIECE: usize = 16_384;

/// The sums of `gh` (and its length as `n`): per piece of [`SUM_PIECE`]
/// pairs, on all threads, then the pieces in order (the same sums for any
/// number of threads).
pub fn pair_sums(gh: &[[f32; 2]]) -> BinStat {
    let piece = |gh: &[[f32; 2]]| {
        let mut t = BinStat {
            n: gh.len() as u32,
            ..BinStat::default()
        };
        for p in gh {
            t.g += f64::from(p[0]);
            t.h += f64::from(p[1]);
        }
        t
    };
    if gh.len() <= SUM_PIECE {
        return piece(gh);
    }
    let parts: Vec<BinStat> = gh.par_chunks(SUM_PIECE).map(piece).collect();
    parts.into_iter().fold(BinStat::default(), BinStat::plus)
}

/// A row group's cells for `rows`: one pass, or for more than [`ROW_PIECE`]
/// rows one pass per piece on all threads, the pieces' cells then added in
/// piece order. (The row group holds most of the histogram work: as one task
/// it would keep one thread busy while the others wait.)
fn row_group_cells(group: &RowGroup, rows: &Rows<'_>) -> Vec<Cell> {
    let n_cells = group.base.last().copied().unwrap_or(0);
    let n = match rows {
        Rows::All { gh } | Rows::Some { gh, .. } => gh.len(),
    };
    let size = if n < SMALL_LEAF {
        SMALL_ROW_PIECE
    } else {
        ROW_PIECE
    };
    let piece = |k: usize| {
        let range = k * size..((k + 1) * size).min(n);
        let mut cells = vec![Cell::default(); n_cells];
        accumulate_rows(&mut cells, group, rows, range);
        cells
    };
    let pieces = n.div_ceil(size);
    if pieces <= 1 {
        return piece(0);
    }
    let parts: Vec<Vec<Cell>> = (0..pieces).into_par_iter().map(piece).collect();
    let mut parts = parts.into_iter();
    let mut sum = parts.next().unwrap_or_default();
    for part in parts {
        for (s, c) in sum.iter_mut().zip(&part) {
            s.gh[0] += c.gh[0];
            s.gh[1] += c.gh[1];
            s.n += c.n;
        }
    }
    sum
}

/// A row group's features: each row's cells, for positions `range` of
/// `rows` (row numbers for [`Rows::All`], list positions for [`Rows::Some`]),
/// in order.
#[inline(never)]
fn accumulate_rows(cells: &mut [Cell], group: &RowGroup, rows: &Rows<'_>, range: Range<usize>) {
    let mut add_row = |r: usize, p: [f32; 2]| {
        let (a, b) = (group.starts[r] as usize, group.starts[r + 1] as usize);
        for &c in &group.cells[a..b] {
            cells[c as usize].add(p);
        }
    };
    match rows {
        Rows::All { gh } => gh[range.clone()]
            .iter()
            .zip(range)
            .for_each(|(&p, r)| add_row(r, p)),
        Rows::Some { rows, gh } => {
            // A leaf's rows are scattered over the table, and waiting for
            // each row's cells from memory took most of the time of the
            // smaller leaves. As in LightGBM, each row's cells are requested
            // `AHEAD` rows early, and its `starts` entry twice as early.
            const AHEAD: usize = 16;
            let end = range.end;
            for k in range {
                if k + 2 * AHEAD < end {
                    prefetch(&group.starts[rows[k + 2 * AHEAD] as usize]);
                }
                if k + AHEAD < end {
                    let a = group.starts[rows[k + AHEAD] as usize] as usize;
                    if let Some(c) = group.cells.get(a) {
                        prefetch(c);
                    }
                }
                add_row(rows[k] as usize, gh[k]);
            }
        }
    }
}

/// Asks the processor to bring `x`'s cache line in (a hint: no effect on
/// results, and nothing on targets without a stable prefetch instruction).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache; it reads nothing into the
    // program, never faults, and `x` is a valid reference anyway. (Unsafe
    // only because the intrinsic takes a raw pointer.)
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast::<i8>(),
        );
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

    /// Two features mostly in bin 0 (95%, 87.5%: skipped), one dense (not skipped).
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
            bins[0].push(if r % 20 < 19 {
                0
            } else {
                (next() % 5) as u8 + 1
            });
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
        // More rows than a row group's construction piece and than a small
        // leaf: both are split into pieces. (Sums of these pairs are exact in
        // any order, so every bin but the skipped ones is bit-identical.)
        let n = 70_000;
        let (bins, gh) = sparse_data(n);
        let plain = Layout::new(&[6, 7, 7]);
        let skip = Layout::new(&[6, 7, 7]).with_most_frequent_bins(&bins);
        assert_eq!(skip.skip, vec![Some(0), Some(0), None]);
        let used = [true, true, true];
        // Both skipped features in one row group; the same histograms with one
        // group each, or with none stored row by row.
        assert_eq!(skip.groups.len(), 1);
        assert_eq!(skip.groups[0].features, vec![0, 1]);
        let mut two_groups = skip.clone();
        two_groups.groups = vec![
            RowGroup::new(&bins, &skip, &[0]),
            RowGroup::new(&bins, &skip, &[1]),
        ];
        let mut by_column = skip.clone();
        by_column.groups = Vec::new();
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
            for other in [&two_groups, &by_column] {
                let mut c = vec![BinStat::default(); plain.total()];
                build(&mut c, other, &bins, &used, &rows);
                assert_eq!(b, c);
            }
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
