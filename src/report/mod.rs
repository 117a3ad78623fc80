//! The aggregate HTML report: per-clinic and per-criterion counts and rates,
//! risk and utilisation distributions, exclusions, inline SVG charts. Every
//! count passes [`suppress`] first (small cells and their complements shown as
//! `<k`). Pure: takes counts, returns the HTML text.
pub mod charts;
pub mod nightly;
pub mod suppress;

use suppress::{Counts, Mask, suppress};

/// A count for HTML: the number, or `&lt;k` when suppressed.
fn show(v: u64, hidden: bool, k: u64) -> String {
    esc(&suppress::show(v, hidden, k))
}

/// One criterion's counts, per clinic (in [`ReportData::clinics`] order) and overall.
/// `in_population` is the rate's denominator: people in the criterion's
/// population whose `exclude` is not true (the engine's `rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionCounts {
    pub id: String,
    pub title: String,
    pub in_population: Vec<u64>,
    pub open: Vec<u64>,
    pub all_in_population: u64,
    pub all_open: u64,
}

/// A clinic × category table; totals are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub categories: Vec<String>,
    /// `rows[clinic][category]`.
    pub rows: Vec<Vec<u64>>,
}

impl Grid {
    fn counts(&self) -> Counts {
        let cols = self.categories.len();
        let row_totals: Vec<u64> = self.rows.iter().map(|r| r.iter().sum()).collect();
        let col_totals: Vec<u64> = (0..cols)
            .map(|j| self.rows.iter().map(|r| r[j]).sum())
            .collect();
        Counts {
            grand: Some(row_totals.iter().sum()),
            cells: self.rows.clone(),
            row_totals: Some(row_totals),
            col_totals: Some(col_totals),
        }
    }
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportData {
    /// Free text under the title (as_of, library hash, data dir).
    pub subtitle: String,
    pub clinics: Vec<String>,
    pub criteria: Vec<CriterionCounts>,
    pub bands: Grid,
    pub tiers: Grid,
    pub exclusions: Grid,
    /// `caregap rank evaluate`'s all-clinic rows, when the run has them.
    pub capture: Vec<CapturePoint>,
}

/// One all-clinic point of the list-order evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturePoint {
    pub order: String,
    pub capacity: u64,
    pub events_reached: u64,
    pub events_total: u64,
}

/// The capture section: a table and the chart of the share of outcomes
/// reached against capacity per order. Points whose count of outcomes
/// reached is under `k` are left out (small cells).
fn capture_section(out: &mut String, points: &[CapturePoint], k: u64) {
    if points.is_empty() {
        return;
    }
    out.push_str(
        "<h2>Outcomes reached by list order (generated population)</h2>\n<p>From \
         <code>caregap rank evaluate</code>: the share of all next-year outcomes (MI, stroke, \
         major bleeding, hyperkalaemia admission) among the people each clinic reaches at a \
         capacity, all clinics together. A simulation, not a clinical result.</p>\n\
         <table>\n<tr><th>order</th><th>capacity</th><th>outcomes reached</th><th>share</th></tr>\n",
    );
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for p in points {
        let shown = p.events_reached >= k && p.events_total > 0;
        let share = 100.0 * p.events_reached as f64 / p.events_total.max(1) as f64;
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&p.order),
            p.capacity,
            show(p.events_reached, !shown, k),
            if shown {
                format!("{share:.1}%")
            } else {
                String::new()
            }
        ));
        if !shown {
            continue;
        }
        match series.iter_mut().find(|(n, _)| *n == p.order) {
            Some((_, v)) => v.push((p.capacity as f64, share)),
            None => series.push((p.order.clone(), vec![(p.capacity as f64, share)])),
        }
    }
    out.push_str("</table>\n");
    match charts::line_chart(
        "Share of next-year outcomes reached",
        "people called per clinic",
        "% of outcomes",
        &series,
    ) {
        Ok(svg) => {
            out.push_str("<figure>");
            out.push_str(&svg);
            out.push_str("</figure>\n");
        }
        Err(e) => out.push_str(&format!("<p class=\"err\">{}</p>\n", esc(&e.to_string()))),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn grid_table(
    out: &mut String,
    title: &str,
    clinics: &[String],
    g: &Grid,
    k: u64,
) -> (Counts, Mask) {
    let c = g.counts();
    let m = suppress(&c, k);
    out.push_str(&format!(
        "<h2>{}</h2>\n<table>\n<tr><th>clinic</th>",
        esc(title)
    ));
    for cat in &g.categories {
        out.push_str(&format!("<th>{}</th>", esc(cat)));
    }
    out.push_str("<th>total</th></tr>\n");
    let rt = c.row_totals.as_deref().unwrap_or(&[]);
    for (i, clinic) in clinics.iter().enumerate() {
        out.push_str(&format!("<tr><td>{}</td>", esc(clinic)));
        for (j, v) in c.cells[i].iter().enumerate() {
            out.push_str(&format!("<td>{}</td>", show(*v, m.cells[i][j], k)));
        }
        out.push_str(&format!(
            "<td>{}</td></tr>\n",
            show(rt[i], m.row_totals[i], k)
        ));
    }
    out.push_str("<tr class=\"total\"><td>all clinics</td>");
    for (j, v) in c.col_totals.as_deref().unwrap_or(&[]).iter().enumerate() {
        out.push_str(&format!("<td>{}</td>", show(*v, m.col_totals[j], k)));
    }
    out.push_str(&format!(
        "<td>{}</td></tr>\n</table>\n",
        show(c.grand.unwrap_or(0), m.grand, k)
    ));
    (c, m)
}

fn chart(out: &mut String, title: &str, bars: Vec<(String, Option<u64>)>, k: u64) {
    match charts::bar_chart(title, &bars, k) {
        Ok(svg) => {
            out.push_str("<figure>");
            out.push_str(&svg);
            out.push_str("</figure>\n");
        }
        Err(e) => out.push_str(&format!("<p class=\"err\">{}</p>\n", esc(&e.to_string()))),
    }
}

/// Column totals of a grid as chart bars (suppressed ones as `None`).
fn total_bars(g: &Grid, c: &Counts, m: &Mask) -> Vec<(String, Option<u64>)> {
    let totals = c.col_totals.as_deref().unwrap_or(&[]);
    g.categories
        .iter()
        .zip(totals)
        .zip(&m.col_totals)
        .map(|((cat, v), hidden)| (cat.clone(), (!hidden).then_some(*v)))
        .collect()
}

/// Renders the whole report with threshold `k` (`k = 0` turns suppression off).
pub fn render_html(d: &ReportData, k: u64) -> String {
    render_html_with(d, k, &[])
}

/// [`render_html`] with more sections (already rendered HTML, e.g.
/// [`nightly::diff_section`]) after the subtitle.
pub fn render_html_with(d: &ReportData, k: u64, sections: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>caregap report</title><style>\
         body{font-family:sans-serif;margin:2em;max-width:1200px}\
         table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}\
         td:first-child,th:first-child{text-align:left}\
         tr.total{font-weight:bold}figure{margin:1em 0}</style></head><body>\n",
    );
    out.push_str(&format!(
        "<h1>caregap report</h1>\n<p>{}</p>\n<p>Counts under {k} are shown as <code>&lt;{k}</code>, \
         and so is at least one more cell in any row or column with a total that would \
         reveal them (complementary suppression). Rates are shown only where both counts are.</p>\n",
        esc(&d.subtitle)
    ));
    for s in sections {
        out.push_str(s);
    }

    // Criteria: open counts per clinic with the all-clinics total as row total.
    let crit_table = |pick: fn(&CriterionCounts) -> (&Vec<u64>, u64)| -> (Counts, Mask) {
        let cells: Vec<Vec<u64>> = d.criteria.iter().map(|c| pick(c).0.clone()).collect();
        let c = Counts {
            cells,
            row_totals: Some(d.criteria.iter().map(|c| pick(c).1).collect()),
            col_totals: None,
            grand: None,
        };
        let m = suppress(&c, k);
        (c, m)
    };
    let (open, open_m) = crit_table(|c| (&c.open, c.all_open));
    let (pop, pop_m) = crit_table(|c| (&c.in_population, c.all_in_population));
    out.push_str("<h2>Open gaps per criterion and clinic</h2>\n<p>Each cell: people with the gap open / people in the criterion's population and not excluded (rate).</p>\n<table>\n<tr><th>criterion</th>");
    for cl in &d.clinics {
        out.push_str(&format!("<th>{}</th>", esc(cl)));
    }
    out.push_str("<th>all clinics</th></tr>\n");
    let cell = |o: u64, oh: bool, p: u64, ph: bool| -> String {
        let rate = if oh || ph || p == 0 {
            String::new()
        } else {
            format!(" ({:.1}%)", 100.0 * o as f64 / p as f64)
        };
        format!("<td>{} / {}{rate}</td>", show(o, oh, k), show(p, ph, k))
    };
    for (i, c) in d.criteria.iter().enumerate() {
        out.push_str(&format!(
            "<tr><td title=\"{}\">{}</td>",
            esc(&c.title),
            esc(&c.id)
        ));
        for j in 0..d.clinics.len() {
            out.push_str(&cell(
                open.cells[i][j],
                open_m.cells[i][j],
                pop.cells[i][j],
                pop_m.cells[i][j],
            ));
        }
        out.push_str(&cell(
            c.all_open,
            open_m.row_totals[i],
            c.all_in_population,
            pop_m.row_totals[i],
        ));
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let mut top: Vec<(String, Option<u64>)> = d
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), (!open_m.row_totals[i]).then_some(c.all_open)))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(12);
    chart(&mut out, "Open gaps, all clinics (top 12 criteria)", top, k);

    let (c, m) = grid_table(
        &mut out,
        "Cardiovascular risk band (SCORE2 / SCORE2-OP, people alive on as_of)",
        &d.clinics,
        &d.bands,
        k,
    );
    chart(
        &mut out,
        "Risk bands, all clinics",
        total_bars(&d.bands, &c, &m),
        k,
    );
    let (c, m) = grid_table(&mut out, "Utilisation tier", &d.clinics, &d.tiers, k);
    chart(
        &mut out,
        "Utilisation tiers, all clinics",
        total_bars(&d.tiers, &c, &m),
        k,
    );
    let (c, m) = grid_table(
        &mut out,
        "Call lists: listed and excluded people (first rule that applies)",
        &d.clinics,
        &d.exclusions,
        k,
    );
    chart(
        &mut out,
        "Listed and excluded, all clinics",
        total_bars(&d.exclusions, &c, &m),
        k,
    );
    capture_section(&mut out, &d.capture, k);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_suppresses_small_cells_and_their_complements() {
        let d = ReportData {
            subtitle: "as_of 2025-01-01".into(),
            clinics: vec!["C1".into(), "C2".into()],
            criteria: vec![CriterionCounts {
                id: "HTN<1>".into(),
                title: "x".into(),
                in_population: vec![100, 80],
                open: vec![3, 40],
                all_in_population: 180,
                all_open: 43,
            }],
            bands: Grid {
                categories: vec!["low".into(), "high".into()],
                rows: vec![vec![50, 2], vec![60, 30]],
            },
            tiers: Grid {
                categories: vec!["rest".into()],
                rows: vec![vec![52], vec![90]],
            },
            exclusions: Grid {
                categories: vec!["listed".into()],
                rows: vec![vec![10], vec![20]],
            },
            capture: [
                ("benefit", 50, 3),
                ("benefit", 200, 40),
                ("additive", 200, 30),
            ]
            .map(|(o, c, e)| CapturePoint {
                order: o.into(),
                capacity: c,
                events_reached: e,
                events_total: 400,
            })
            .to_vec(),
        };
        let html = render_html(&d, 5);
        // Capture: 3 outcomes reached is a small cell; 40 of 400 is 10.0%.
        assert!(
            html.contains("<td>benefit</td><td>50</td><td>&lt;5</td><td></td>"),
            "{html}"
        );
        assert!(html.contains("<td>40</td><td>10.0%</td>"), "{html}");
        assert!(html.contains("Share of next-year outcomes reached"));
        assert!(html.contains("HTN&lt;1&gt;"));
        // The 3 and its complement 40 are hidden; the total 43 stays.
        assert!(html.contains("<td>&lt;5 / 100</td>"), "{html}");
        assert!(html.contains("<td>&lt;5 / 80</td>"), "{html}");
        assert!(html.contains("<td>43 / 180 (23.9%)</td>"), "{html}");
        assert!(!html.contains(">3<") && !html.contains(">40 "));
        // Band table: 2 hidden; complement in its row (50) and column (30), then 60.
        assert!(!html.contains("<td>2</td>"));
        assert!(html.matches("<svg").count() >= 4);
    }
}
