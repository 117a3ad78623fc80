//! Evidence text: what an aggregate said for a person, readable without the record.
//!
//! A scoring run renders one text per firing (millions at 640,000 people), so
//! the renderer appends to a caller's buffer with hand-written number and date
//! formatting instead of `format!`: same text, no temporary strings.

use std::fmt::Write as _;

use crate::lang::ir::AggFunc;
use crate::plan::{AggId, Plan};

use super::calendar::civil;
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
    let mut out = String::with_capacity(text.len() + 24);
    push_item(&mut out, text, func, value, day);
    out
}

/// Appends the item [`render_with`] returns to `out`.
pub fn push_item(
    out: &mut String,
    text: &str,
    func: AggFunc,
    value: Option<f64>,
    day: Option<Day>,
) {
    out.push_str(text);
    out.push_str(" = ");
    let Some(x) = value else {
        out.push_str("null");
        return;
    };
    match func {
        AggFunc::Has | AggFunc::Active => out.push_str(if x != 0.0 { "true" } else { "false" }),
        _ => push_f64(out, x),
    }
    let Some(d) = day else { return };
    match func {
        AggFunc::Last | AggFunc::First | AggFunc::Min | AggFunc::Max => {
            out.push_str(" on ");
            push_day(out, d);
        }
        AggFunc::DaysSinceFirst => {
            out.push_str(" (first ");
            push_day(out, d);
            out.push(')');
        }
        _ => {
            out.push_str(" (latest ");
            push_day(out, d);
            out.push(')');
        }
    }
}

/// Appends `x` exactly as `Display` shows it (`162`, `7.5`, `-0`, `inf`).
pub fn push_f64(out: &mut String, x: f64) {
    // Integral values below 2^53 print as integers; `-0.0` keeps its sign.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 && !(x == 0.0 && x.is_sign_negative())
    {
        push_int(out, x as i64);
    } else {
        let _ = write!(out, "{x}");
    }
}

fn push_int(out: &mut String, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Appends `YYYY-MM-DD` (the text of [`super::calendar::format_day`]).
pub fn push_day(out: &mut String, day: Day) {
    let (y, m, d) = civil(day);
    if !(0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        return;
    }
    let y = y as u32;
    let b = [
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (d / 10) as u8,
        b'0' + (d % 10) as u8,
    ];
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::calendar::format_day;

    #[test]
    fn numbers_print_as_display_does() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            162.0,
            7.5,
            -3.25,
            0.1,
            1e15,
            1e16,
            9_007_199_254_740_992.0,
            -9_007_199_254_740_991.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            123456.789,
        ] {
            let mut s = String::new();
            push_f64(&mut s, x);
            assert_eq!(s, x.to_string(), "{x:?}");
        }
    }

    #[test]
    fn days_print_as_format_day_does() {
        for d in [
            -719_468 - 1,
            -719_468,
            -1,
            0,
            59,
            11_016,
            20_454,
            2_932_896,
            2_932_897,
            i32::MIN,
            i32::MAX,
        ] {
            let mut s = String::new();
            push_day(&mut s, d);
            assert_eq!(s, format_day(d), "{d}");
        }
    }

    #[test]
    fn items_keep_their_shape() {
        let item = |f, v, d| render_with("f(x)", f, v, d);
        assert_eq!(
            item(AggFunc::Last, Some(162.0), Some(20_395)),
            "f(x) = 162 on 2025-11-03"
        );
        assert_eq!(
            item(AggFunc::Has, Some(1.0), Some(0)),
            "f(x) = true (latest 1970-01-01)"
        );
        assert_eq!(item(AggFunc::Count, Some(0.0), None), "f(x) = 0");
        assert_eq!(item(AggFunc::DaysSince, None, None), "f(x) = null");
        assert_eq!(
            item(AggFunc::DaysSinceFirst, Some(3.0), Some(1)),
            "f(x) = 3 (first 1970-01-02)"
        );
        assert_eq!(
            item(AggFunc::Mean, Some(7.25), Some(1)),
            "f(x) = 7.25 (latest 1970-01-02)"
        );
    }
}
