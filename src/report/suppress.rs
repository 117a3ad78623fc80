//! Small-cell suppression for aggregate tables that leave the secure environment.
//!
//! A table is a grid of counts, optionally with a total per row (the last
//! column), a total per column (the last row) and a grand total.
//!
//! 1. **Primary**: every count under the threshold `k` (default 5, zero
//!    included) is suppressed, shown as `<k`. Totals are counts too.
//! 2. **Complementary**: a *line* is a row with its row total, a column with
//!    its column total, the row of column totals with the grand total, and the
//!    column of row totals with the grand total (only the lines whose total is
//!    part of the table: without a total, a line reveals nothing by subtraction).
//!    A line with exactly one suppressed member would give it away
//!    (`total − Σ others`), so one more member is suppressed: the smallest
//!    shown inner cell of the line, else the line's total; ties go to the first
//!    in reading order. Lines are revisited until no line has exactly one
//!    suppressed member (each round suppresses at least one more cell, so it ends).
//!
//! Guarantee: no suppressed value equals a difference within a single line.
//! Not guaranteed: recovery through a system of several lines (linear
//! programming); the counts published here (clinic × category, a few
//! columns) keep that risk small, and the threshold should be raised where it
//! is not.

/// Which parts of a table are suppressed (same shapes as the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub cells: Vec<Vec<bool>>,
    pub row_totals: Vec<bool>,
    pub col_totals: Vec<bool>,
    pub grand: bool,
}

/// A table of counts; `row_totals[i]` must equal the sum of row `i` and so on
/// (not checked: a total of something that is not a sum still protects).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counts {
    pub cells: Vec<Vec<u64>>,
    pub row_totals: Option<Vec<u64>>,
    pub col_totals: Option<Vec<u64>>,
    pub grand: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    Cell(usize, usize),
    RowTotal(usize),
    ColTotal(usize),
    Grand,
}

/// Computes the suppression mask with threshold `k` (see module docs).
pub fn suppress(t: &Counts, k: u64) -> Mask {
    let rows = t.cells.len();
    let cols = t.cells.first().map_or(0, Vec::len);
    let mut m = Mask {
        cells: t
            .cells
            .iter()
            .map(|r| r.iter().map(|v| *v < k).collect())
            .collect(),
        row_totals: t
            .row_totals
            .as_ref()
            .map_or(Vec::new(), |v| v.iter().map(|x| *x < k).collect()),
        col_totals: t
            .col_totals
            .as_ref()
            .map_or(Vec::new(), |v| v.iter().map(|x| *x < k).collect()),
        grand: t.grand.is_some_and(|g| g < k),
    };
    let value = |a: At| -> u64 {
        match a {
            At::Cell(i, j) => t.cells[i][j],
            At::RowTotal(i) => t.row_totals.as_ref().map_or(0, |v| v[i]),
            At::ColTotal(j) => t.col_totals.as_ref().map_or(0, |v| v[j]),
            At::Grand => t.grand.unwrap_or(0),
        }
    };
    // Lines: inner members, then the total.
    let mut lines: Vec<(Vec<At>, At)> = Vec::new();
    if t.row_totals.is_some() {
        for i in 0..rows {
            lines.push(((0..cols).map(|j| At::Cell(i, j)).collect(), At::RowTotal(i)));
        }
    }
    if t.col_totals.is_some() {
        for j in 0..cols {
            lines.push(((0..rows).map(|i| At::Cell(i, j)).collect(), At::ColTotal(j)));
        }
    }
    if t.grand.is_some() {
        if t.col_totals.is_some() {
            lines.push(((0..cols).map(At::ColTotal).collect(), At::Grand));
        }
        if t.row_totals.is_some() {
            lines.push(((0..rows).map(At::RowTotal).collect(), At::Grand));
        }
    }
    loop {
        let mut changed = false;
        for (inner, total) in &lines {
            let hidden = |m: &Mask, a: At| match a {
                At::Cell(i, j) => m.cells[i][j],
                At::RowTotal(i) => m.row_totals[i],
                At::ColTotal(j) => m.col_totals[j],
                At::Grand => m.grand,
            };
            let n = inner
                .iter()
                .chain(std::iter::once(total))
                .filter(|a| hidden(&m, **a))
                .count();
            if n != 1 {
                continue;
            }
            let pick = inner
                .iter()
                .filter(|a| !hidden(&m, **a))
                .min_by_key(|a| value(**a))
                .copied()
                .unwrap_or(*total);
            match pick {
                At::Cell(i, j) => m.cells[i][j] = true,
                At::RowTotal(i) => m.row_totals[i] = true,
                At::ColTotal(j) => m.col_totals[j] = true,
                At::Grand => m.grand = true,
            }
            changed = true;
        }
        if !changed {
            return m;
        }
    }
}

/// Renders a count, or `<k` when suppressed.
pub fn show(v: u64, hidden: bool, k: u64) -> String {
    if hidden {
        format!("<{k}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: Vec<Vec<u64>>) -> Counts {
        let row_totals: Vec<u64> = cells.iter().map(|r| r.iter().sum()).collect();
        let cols = cells[0].len();
        let col_totals: Vec<u64> = (0..cols)
            .map(|j| cells.iter().map(|r| r[j]).sum())
            .collect();
        let grand = row_totals.iter().sum();
        Counts {
            cells,
            row_totals: Some(row_totals),
            col_totals: Some(col_totals),
            grand: Some(grand),
        }
    }

    /// Every line has zero or at least two suppressed members.
    fn assert_no_single(t: &Counts, m: &Mask) {
        for (i, row) in m.cells.iter().enumerate() {
            let n = row.iter().filter(|h| **h).count() + usize::from(m.row_totals[i]);
            assert!(n != 1, "row {i}: {m:?}");
        }
        for j in 0..t.cells[0].len() {
            let n = m.cells.iter().filter(|r| r[j]).count() + usize::from(m.col_totals[j]);
            assert!(n != 1, "column {j}: {m:?}");
        }
        let n = m.col_totals.iter().filter(|h| **h).count() + usize::from(m.grand);
        assert!(n != 1, "total row: {m:?}");
        let n = m.row_totals.iter().filter(|h| **h).count() + usize::from(m.grand);
        assert!(n != 1, "total column: {m:?}");
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let t = table(vec![vec![10, 20], vec![30, 40]]);
        let m = suppress(&t, 5);
        assert!(m.cells.iter().flatten().all(|h| !h) && !m.grand);
    }

    #[test]
    fn one_small_cell_hides_a_rectangle() {
        // 3 is primary; row 0 then hides 12 (smallest other); column 0 hides 20;
        // row 1 now has 20 hidden alone → hides 25 ... until consistent.
        let t = table(vec![vec![3, 12, 50], vec![20, 25, 60], vec![30, 40, 70]]);
        let m = suppress(&t, 5);
        assert!(m.cells[0][0], "primary");
        assert!(
            m.cells[0][1],
            "complement in row 0 is the smallest other cell"
        );
        assert!(
            m.cells[1][0],
            "complement in column 0 is the smallest other cell"
        );
        assert!(m.cells[1][1], "closes the rectangle");
        assert_eq!(m.cells.iter().flatten().filter(|h| **h).count(), 4);
        assert!(!m.grand && m.row_totals.iter().all(|h| !h) && m.col_totals.iter().all(|h| !h));
        assert_no_single(&t, &m);
        assert_eq!(show(3, true, 5), "<5");
        assert_eq!(show(12, false, 5), "12");
    }

    #[test]
    fn zero_is_under_the_threshold_and_totals_follow() {
        // A one-column table: each row is cell + total, so a hidden cell hides its total.
        let t = table(vec![vec![0], vec![100], vec![7]]);
        let m = suppress(&t, 5);
        assert!(m.cells[0][0] && m.row_totals[0]);
        // Column 0 then has two hidden; the total column has one hidden row total → another.
        assert_no_single(&t, &m);
    }

    #[test]
    fn rows_without_totals_only_protect_columns() {
        let t = Counts {
            cells: vec![vec![2, 50], vec![60, 70]],
            row_totals: None,
            col_totals: Some(vec![62, 120]),
            grand: None,
        };
        let m = suppress(&t, 5);
        assert_eq!(m.cells, vec![vec![true, false], vec![true, false]]);
        assert!(!m.col_totals[0]);
    }

    #[test]
    fn random_tables_never_leave_a_single_hidden_member() {
        // Deterministic pseudo-random tables with many small values.
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let rows = 1 + (next() % 5) as usize;
            let cols = 1 + (next() % 5) as usize;
            let cells = (0..rows)
                .map(|_| (0..cols).map(|_| next() % 30).collect())
                .collect();
            let t = table(cells);
            let m = suppress(&t, 5);
            assert_no_single(&t, &m);
            for (i, row) in t.cells.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    assert!(*v >= 5 || m.cells[i][j]);
                }
            }
        }
    }
}
