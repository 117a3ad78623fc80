//! Evidence text: what an aggregate said for a person, readable without the record.

use crate::lang::ir::AggFunc;
use crate::plan::{AggId, Plan};

use super::calendar::format_day;
use crate::data::Day;

/// One evidence item, e.g. `last(lab.sbp, 12mo) = 162 on 2025-11-03`,
/// `has(dx.hypertension) = true (latest 2019-04-02)`, `count(visit.pc, 12mo) = 0`,
/// `days_since(proc.colonoscopy) = null`.
/// `value` is `None` for null; booleans are 0/1; `day` is the aggregate's
/// evidence date (latest event, chosen value's date, earliest for
/// `days_since_first`).
pub fn render_aggregate(plan: &Plan, agg: AggId, value: Option<f64>, day: Option<Day>) -> String {
    let text = plan.aggregate_text(agg);
    render_with(&text, plan.aggregates[agg as usize].func, value, day)
}

/// [`render_aggregate`] with the aggregate's text already at hand.
pub fn render_with(text: &str, func: AggFunc, value: Option<f64>, day: Option<Day>) -> String {
    let Some(x) = value else {
        return format!("{text} = null");
    };
    let shown = match func {
        AggFunc::Has | AggFunc::Active => (x != 0.0).to_string(),
        _ => x.to_string(),
    };
    match (func, day) {
        (_, None) => format!("{text} = {shown}"),
        (AggFunc::Last | AggFunc::First | AggFunc::Min | AggFunc::Max, Some(d)) => {
            format!("{text} = {shown} on {}", format_day(d))
        }
        (AggFunc::DaysSinceFirst, Some(d)) => format!("{text} = {shown} (first {})", format_day(d)),
        (_, Some(d)) => format!("{text} = {shown} (latest {})", format_day(d)),
    }
}
