//! The nightly sections of the report: what changed since the previous run
//! (`runs::diff`) and whether outreach closes gaps (`runs::effect`), with
//! closure curves. Both inputs are already suppressed aggregates.

use super::{charts, esc};
use crate::runs::diff::DiffSummary;
use crate::runs::effect::Effect;

fn count(v: Option<u64>, k: u64) -> String {
    v.map_or_else(|| format!("&lt;{k}"), |v| v.to_string())
}

/// "Since the previous run" section.
pub fn diff_section(d: &DiffSummary) -> String {
    let k = d.min_cell;
    let mut out = format!(
        "<h2>Since the previous run</h2>\n<p>Compared with run <code>{}</code> (as of {}): \
         <strong>{}</strong> gaps opened, <strong>{}</strong> closed, {} still open, {} newly \
         excluded (a gap open before whose person is now excluded by the criterion, or no longer \
         in the register).</p>\n",
        esc(&d.run_a),
        esc(&d.as_of_a),
        count(d.opened, k),
        count(d.closed, k),
        count(d.still_open, k),
        count(d.newly_excluded, k)
    );
    if !d.top.is_empty() {
        out.push_str(
            "<table>\n<tr><th>criterion</th><th>clinic</th><th>opened</th><th>closed</th><th>net</th></tr>\n",
        );
        for t in &d.top {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:+}</td></tr>\n",
                esc(&t.criterion),
                esc(&t.clinic),
                t.opened,
                t.closed,
                t.net
            ));
        }
        out.push_str("</table>\n");
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{:.1}", 100.0 * v))
}

/// "Does outreach close gaps" section: a table per criterion and a closure
/// curve (share closed by days after contact) per outcome.
pub fn effect_section(e: &Effect) -> String {
    let k = e.min_cell;
    let mut out = format!(
        "<h2>Does outreach close gaps?</h2>\n<p>Share of gaps open at the contact that are closed \
         30, 90 and 180 days later, by outcome, with 95 % intervals (Wilson), and the difference \
         from people with the same gap open on the same day, not contacted, in the same age and \
         priority stratum (Mantel–Haenszel, 95 % interval). Observational: people who book may \
         differ from those who do not in ways the strata do not capture (docs/effect.md). Scored at \
         {} past dates every {} days up to {}; {} contacts with the gap open.</p>\n",
        e.dates,
        e.grid_days,
        esc(&e.as_of),
        e.contacts_read
    );
    let mut crits: Vec<&str> = e.rows.iter().map(|r| r.criterion.as_str()).collect();
    crits.dedup();
    for c in crits {
        out.push_str(&format!(
            "<h3>{}</h3>\n<table>\n<tr><th>outcome</th><th>days</th><th>gaps open</th><th>closed</th>\
             <th>closed %</th><th>95 % CI</th><th>difference (pp)</th><th>95 % CI</th></tr>\n",
            esc(c)
        ));
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in e.rows.iter().filter(|r| r.criterion == c) {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&r.outcome),
                r.horizon_days,
                count(r.units, k),
                count(r.closed, k),
                pct(r.share),
                if r.share.is_some() {
                    format!("{}–{}", pct(r.share_low), pct(r.share_high))
                } else {
                    String::new()
                },
                pct(r.difference),
                if r.difference.is_some() {
                    format!("{} to {}", pct(r.difference_low), pct(r.difference_high))
                } else {
                    String::new()
                },
            ));
            if let Some(s) = r.share {
                let p = (f64::from(r.horizon_days), 100.0 * s);
                match series.iter_mut().find(|(n, _)| *n == r.outcome) {
                    Some((_, v)) => v.push(p),
                    None => series.push((r.outcome.clone(), vec![p])),
                }
            }
        }
        out.push_str("</table>\n");
        if series.iter().any(|(_, v)| v.len() > 1) {
            match charts::line_chart(
                &format!("Closure curves: {c}"),
                "days after contact",
                "% of gaps closed",
                &series,
            ) {
                Ok(svg) => {
                    out.push_str("<figure>");
                    out.push_str(&svg);
                    out.push_str("</figure>\n");
                }
                Err(er) => {
                    out.push_str(&format!("<p class=\"err\">{}</p>\n", esc(&er.to_string())))
                }
            }
        }
    }
    out
}
