//! Conversions between [`Day`] (days since 1970-01-01) and calendar dates.

use chrono::{Datelike, NaiveDate};

use super::population::Day;

const EPOCH_FROM_CE: i32 = 719_163;

/// The [`Day`] of a calendar date.
pub fn day_from_date(date: NaiveDate) -> Day {
    date.num_days_from_ce() - EPOCH_FROM_CE
}

/// The calendar date of a [`Day`] (None outside chrono's range).
pub fn date_from_day(day: Day) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(EPOCH_FROM_CE)?)
}

/// A day as ISO 8601 (`2026-01-01`); out-of-range days as `day <n>`.
pub fn format_day(day: Day) -> String {
    match date_from_day(day) {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("day {day}"),
    }
}

/// Parses an ISO 8601 date (`2026-01-01`).
pub fn parse_day(s: &str) -> Option<Day> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .map(day_from_date)
}

/// Today in local time.
pub fn today() -> Day {
    day_from_date(chrono::Local::now().date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-01-01"), Some(20_454));
        assert_eq!(format_day(20_454), "2026-01-01");
        assert_eq!(format_day(-1), "1969-12-31");
        assert_eq!(parse_day("2026-13-01"), None);
    }
}
