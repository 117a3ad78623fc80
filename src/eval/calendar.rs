//! Calendar arithmetic on [`Day`]s: window bounds and completed years of age.

use chrono::{Months, NaiveDate};

use crate::data::Day;
use crate::lang::ir::Window;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date")
}

/// The calendar date of a day number (clamped to chrono's range, which spans
/// ±262,000 years, for absurd inputs rather than panicking).
pub fn to_date(day: Day) -> NaiveDate {
    epoch()
        .checked_add_signed(chrono::Duration::days(day as i64))
        .unwrap_or(if day < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// The day number of a calendar date.
pub fn from_date(date: NaiveDate) -> Day {
    (date - epoch()).num_days() as Day
}

/// `(year, month, day)` of a day number (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`, valid for every `i32`).
pub fn civil(day: Day) -> (i64, u32, u32) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// `YYYY-MM-DD` (fast: used for every evidence item).
pub fn format_day(day: Day) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The exclusive lower bound of window `w` ending at `as_of`: an event is in the
/// window when `bound < date <= as_of`. `None` (no window) is all history.
/// Months are calendar months with end-of-month clamping
/// (`2024-03-31 - 1mo = 2024-02-29`); a bound before the calendar's range is
/// all history.
pub fn window_bound(as_of: Day, w: Option<Window>) -> i64 {
    match w {
        None => i64::MIN,
        Some(Window::Days(d)) => as_of as i64 - d as i64,
        Some(Window::Months(m)) => to_date(as_of)
            .checked_sub_months(Months::new(m))
            .map_or(i64::MIN, |d| from_date(d) as i64),
    }
}

/// Age in completed years on `as_of`: the difference of the years, less one when
/// (month, day) of `as_of` comes before (month, day) of the birth date. A person
/// born on 29 February turns a year older on 1 March in common years.
pub fn age_years(birth: Day, as_of: Day) -> i32 {
    // `civil`, not chrono: ages are computed for every person of every
    // evaluation, and a day number's date costs a few multiplications this way.
    let ((by, bm, bd), (ay, am, ad)) = (civil(birth), civil(as_of));
    let mut years = ay - by;
    if (am, ad) < (bm, bd) {
        years -= 1;
    }
    // Two `i32` day numbers are less than 12 million years apart.
    years as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn d(y: i32, m: u32, dd: u32) -> Day {
        from_date(NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    /// `age_years` (on `civil`) agrees with chrono's calendar for births
    /// across two centuries, leap days included, on several scoring dates.
    #[test]
    fn age_years_agrees_with_chrono() {
        let chrono_age = |birth: Day, as_of: Day| {
            let (b, a) = (to_date(birth), to_date(as_of));
            let mut years = a.year() - b.year();
            if (a.month(), a.day()) < (b.month(), b.day()) {
                years -= 1;
            }
            years
        };
        for as_of in [d(2024, 2, 28), d(2024, 2, 29), d(2025, 3, 1), d(2026, 1, 1)] {
            for birth in d(1900, 1, 1)..=d(2100, 12, 31) {
                assert_eq!(
                    age_years(birth, as_of),
                    chrono_age(birth, as_of),
                    "{birth} {as_of}"
                );
            }
        }
        assert_eq!(age_years(d(2000, 2, 29), d(2023, 2, 28)), 22);
        assert_eq!(age_years(d(2000, 2, 29), d(2023, 3, 1)), 23);
    }

    #[test]
    fn month_windows_clamp_to_month_end() {
        assert_eq!(
            window_bound(d(2024, 3, 31), Some(Window::Months(1))),
            d(2024, 2, 29) as i64
        );
        assert_eq!(
            window_bound(d(2023, 3, 31), Some(Window::Months(1))),
            d(2023, 2, 28) as i64
        );
        assert_eq!(
            window_bound(d(2024, 2, 29), Some(Window::Months(12))),
            d(2023, 2, 28) as i64
        );
        assert_eq!(
            window_bound(d(2024, 1, 10), Some(Window::Days(0))),
            d(2024, 1, 10) as i64
        );
        assert_eq!(window_bound(d(2024, 1, 10), None), i64::MIN);
    }

    #[test]
    fn leap_day_birthdays_turn_older_on_first_of_march() {
        let born = d(2000, 2, 29);
        assert_eq!(age_years(born, d(2023, 2, 28)), 22);
        assert_eq!(age_years(born, d(2023, 3, 1)), 23);
        assert_eq!(age_years(born, d(2024, 2, 28)), 23);
        assert_eq!(age_years(born, d(2024, 2, 29)), 24);
        assert_eq!(age_years(born, born), 0);
        assert_eq!(format_day(d(2025, 11, 3)), "2025-11-03");
        for day in (-719_000..2_900_000).step_by(997) {
            assert_eq!(format_day(day), to_date(day).format("%Y-%m-%d").to_string());
        }
    }
}
