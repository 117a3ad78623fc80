//! FHIR `date`, `dateTime` and `instant` values → a [`Day`].
//!
//! The rule (docs/import.md, "Dates"):
//! - a full date (`2024-03-05`) is that day;
//! - a time with a zone (`2024-03-05T23:30:00+02:00`, `...Z`) is the calendar
//!   date as written, i.e. the day where the event happened in the record's own
//!   time zone; it is not converted to UTC (that would move late-evening
//!   events to another day);
//! - a partial date is the first day it can mean: `2024-03` is 2024-03-01,
//!   `2024` is 2024-01-01, so an event is never placed after it happened.
//!   The import report counts the values read at each precision.

use crate::data::{Day, day_from_date};

/// How precise a FHIR date was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Time,
}

impl Precision {
    pub const ALL: [Precision; 4] = [
        Precision::Year,
        Precision::Month,
        Precision::Day,
        Precision::Time,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Year => "year",
            Precision::Month => "month",
            Precision::Day => "day",
            Precision::Time => "date and time",
        }
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
}

/// Parses a FHIR date, dateTime or instant; `None` when it is not one.
pub fn parse(s: &str) -> Option<(Day, Precision)> {
    let b = s.as_bytes();
    if b.len() < 4 {
        return None;
    }
    let year = digits(&b[..4])? as i32;
    let (month, day, precision) = match b.len() {
        4 => (1, 1, Precision::Year),
        7 if b[4] == b'-' => (digits(&b[5..7])?, 1, Precision::Month),
        n if n >= 10 && b[4] == b'-' && b[7] == b'-' => {
            let p = if n == 10 {
                Precision::Day
            } else if b[10] == b'T' && valid_time(&b[11..]) {
                Precision::Time
            } else {
                return None;
            };
            (digits(&b[5..7])?, digits(&b[8..10])?, p)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    Some((day_from_date(date), precision))
}

/// `hh:mm(:ss(.fff))` followed by `Z` or `±hh:mm`, or nothing (FHIR requires a
/// zone when there is a time; a missing one is accepted, the date is the same).
fn valid_time(t: &[u8]) -> bool {
    if t.len() < 5 || t[2] != b':' {
        return false;
    }
    let (Some(h), Some(m)) = (digits(&t[..2]), digits(&t[3..5])) else {
        return false;
    };
    if h > 24 || m > 59 {
        return false;
    }
    let mut rest = &t[5..];
    if rest.first() == Some(&b':') {
        if rest.len() < 3 || digits(&rest[1..3]).is_none_or(|s| s > 60) {
            return false;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            rest = &rest[1 + n..];
        }
    }
    match rest {
        [] | [b'Z'] => true,
        [s, h1, h2, b':', m1, m2] if *s == b'+' || *s == b'-' => {
            digits(&[*h1, *h2]).is_some_and(|h| h <= 14)
                && digits(&[*m1, *m2]).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::parse_day;

    fn d(s: &str) -> Day {
        parse_day(s).unwrap()
    }

    #[test]
    fn every_precision() {
        assert_eq!(parse("2024"), Some((d("2024-01-01"), Precision::Year)));
        assert_eq!(parse("2024-03"), Some((d("2024-03-01"), Precision::Month)));
        assert_eq!(parse("2024-03-05"), Some((d("2024-03-05"), Precision::Day)));
        assert_eq!(
            parse("2024-03-05T23:30:00+02:00"),
            Some((d("2024-03-05"), Precision::Time))
        );
        assert_eq!(
            parse("2024-03-05T00:10:00.123-05:00"),
            Some((d("2024-03-05"), Precision::Time))
        );
        assert_eq!(
            parse("2024-03-05T10:00:00Z"),
            Some((d("2024-03-05"), Precision::Time))
        );
        assert_eq!(
            parse("2024-03-05T10:00Z"),
            Some((d("2024-03-05"), Precision::Time))
        );
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        for s in [
            "",
            "24",
            "2024-3",
            "2024-13",
            "2024-02-30",
            "2024/03/05",
            "2024-03-05 10:00",
            "2024-03-05T25:00:00Z",
            "2024-03-05T10:00:00+2",
            "yesterday",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
