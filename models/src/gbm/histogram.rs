//! Gradient histograms: per feature and bin, the sums of gradients, hessians
//! and the row count of the rows in a leaf.
//!
//! Building is parallel over features (each feature's bins are summed by one
//! thread in row order), so a histogram is bit-identical whatever the number
//! of threads. The larger child of a split gets its histogram by subtracting
//! the smaller child's from the parent's (the subtraction trick).

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

/// Where each feature's bins live in a flat histogram.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `offsets[j]..offsets[j + 1]` are feature `j`'s bins.
    pub offsets: Vec<usize>,
}

impl Layout {
    /// From the number of bins (including the missing bin) per feature.
    pub fn new(n_bins: &[usize]) -> Self {
        let mut offsets = vec![0];
        for b in n_bins {
            offsets.push(offsets.last().copied().unwrap_or(0) + b);
        }
        Self { offsets }
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

/// Rows of a leaf with their gradients.
pub enum Rows<'a> {
    /// All rows `0..n`; gradients indexed by row.
    All { g: &'a [f32], h: &'a [f32] },
    /// The listed rows; `g[k]`, `h[k]` belong to `rows[k]` (ordered gradients).
    Some {
        rows: &'a [u32],
        g: &'a [f32],
        h: &'a [f32],
    },
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
    let work = match rows {
        Rows::All { g, .. } => g.len(),
        Rows::Some { rows, .. } => rows.len(),
    };
    let one = |(j, out): &mut (usize, &mut [BinStat])| {
        out.iter_mut().for_each(|b| *b = BinStat::default());
        match rows {
            Rows::All { g, h } => accumulate(out, &bins[*j], g, h),
            Rows::Some { rows, g, h } => accumulate_indexed(out, &bins[*j], rows, g, h),
        }
    };
    if work * slices.len() < 50_000 {
        slices.iter_mut().for_each(one);
    } else {
        slices.par_iter_mut().for_each(one);
    }
}

#[inline(never)]
fn accumulate(out: &mut [BinStat], col: &[u8], g: &[f32], h: &[f32]) {
    for ((&b, &g), &h) in col.iter().zip(g).zip(h) {
        let s = &mut out[b as usize];
        s.g += f64::from(g);
        s.h += f64::from(h);
        s.n += 1;
    }
}

#[inline(never)]
fn accumulate_indexed(out: &mut [BinStat], col: &[u8], rows: &[u32], g: &[f32], h: &[f32]) {
    for ((&r, &g), &h) in rows.iter().zip(g).zip(h) {
        let s = &mut out[col[r as usize] as usize];
        s.g += f64::from(g);
        s.h += f64::from(h);
        s.n += 1;
    }
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
        let g = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        let h = [0.5f32; 5];
        let used = [true, true];
        let mut full = vec![BinStat::default(); layout.total()];
        build(
            &mut full,
            &layout,
            &bins,
            &used,
            &Rows::All { g: &g, h: &h },
        );
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
                g: &[2.0, 4.0],
                h: &[0.5, 0.5],
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
                g: &[1.0, 3.0, 5.0],
                h: &[0.5; 3],
            },
        );
        assert_eq!(full, direct);
    }
}
