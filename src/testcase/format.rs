//! The test-case file format: small people with events relative to `as_of`,
//! and the criteria that must and must not fire for each.
//!
//! ```toml
//! as_of = "2026-01-01"            # optional; default 2026-01-01
//!
//! [[person]]
//! name = "htn_bp_152"             # unique in the file
//! age = 64                        # or birth = "1961-05-02"
//! sex = "F"                       # required: F, M or another code
//! clinic = "HC01"                 # optional; default HC01
//! death = "2025-12-01"            # optional
//! events = [
//!   "3y dx ICD10 I10",
//!   "2mo lab LOINC 8480-6 152 mmHg",
//!   { days_ago = 20, kind = "medication", system = "ATC", code = "C09AA05", value = 90 },
//! ]
//! fire = ["HTN.BP_UNCONTROLLED"]
//! no_fire = ["HTN.BP_NOT_MEASURED"]
//! ```
//!
//! An event is a table (`ago` | `days_ago` | `date`, `kind`, `system`, `code`,
//! optional `value` and `unit`) or the shorthand string
//! `"WHEN KIND SYSTEM CODE [VALUE [UNIT]]"` split on spaces, where `WHEN` is
//! `today`, a window like `30d`, `11mo`, `2y` (that long before `as_of`, in
//! calendar months as the language counts them) or a date `2025-11-03`;
//! `KIND` is a data-model kind or a value-set prefix (`dx`, `lab`, `med`,
//! `proc`, `imm`, `visit`); `VALUE` is a number or `null`. A code with a space
//! needs the table form.
//!
//! `age = N` means born N years and 6 calendar months before `as_of`, so the
//! age is N with no birthday near; boundary tests give `birth` instead.

use std::collections::HashSet;

use chrono::{Months, NaiveDate};
use serde::Deserialize;

use crate::data::{Day, EventKind};
use crate::eval::calendar::{from_date, to_date};

/// The default scoring date of a case file without `as_of`.
pub const DEFAULT_AS_OF: &str = "2026-01-01";
/// The clinic of a person without `clinic`.
pub const DEFAULT_CLINIC: &str = "HC01";

/// One parsed case file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    /// The file name, for messages.
    pub name: String,
    pub as_of: Day,
    pub people: Vec<Person>,
}

/// One test person.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub name: String,
    pub birth: Day,
    pub sex: String,
    pub clinic: String,
    pub death: Option<Day>,
    pub events: Vec<CaseEvent>,
    /// Criterion ids that must fire.
    pub fire: Vec<String>,
    /// Criterion ids that must not fire.
    pub no_fire: Vec<String>,
}

/// One event of a test person, with its date resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    pub date: Day,
    pub kind: EventKind,
    pub system: String,
    pub code: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// The event as written, for failure reports.
    pub written: String,
}

/// A problem in a case file: where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}: {message}")]
pub struct CaseError {
    pub file: String,
    /// `person 'name'`, `person 'name', event 3`, or `file`.
    pub place: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    as_of: Option<toml::Value>,
    #[serde(default)]
    person: Vec<RawPerson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    name: String,
    age: Option<u32>,
    birth: Option<toml::Value>,
    sex: String,
    clinic: Option<String>,
    death: Option<toml::Value>,
    #[serde(default)]
    events: Vec<toml::Value>,
    #[serde(default)]
    fire: Vec<String>,
    #[serde(default)]
    no_fire: Vec<String>,
}

/// Parses a case file. Every problem of the file is returned, not only the first.
pub fn parse_case_file(name: &str, text: &str) -> Result<CaseFile, Vec<CaseError>> {
    let err = |place: &str, message: String| CaseError {
        file: name.to_string(),
        place: place.to_string(),
        message,
    };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| vec![err("file", e.to_string().trim_end().to_string())])?;
    let mut errors = Vec::new();
    let as_of = match &raw.as_of {
        None => parse_date(DEFAULT_AS_OF).expect("the default as_of is a valid date"),
        Some(v) => match date_of_value(v) {
            Ok(d) => d,
            Err(m) => {
                errors.push(err("as_of", m));
                return Err(errors);
            }
        },
    };
    let mut names = HashSet::new();
    let mut people = Vec::new();
    for (i, rp) in raw.person.into_iter().enumerate() {
        let place = if rp.name.is_empty() {
            format!("person {}", i + 1)
        } else {
            format!("person '{}'", rp.name)
        };
        if rp.name.is_empty() {
            errors.push(err(
                &place,
                "`name` is empty; give every person a unique name".into(),
            ));
        } else if !names.insert(rp.name.clone()) {
            errors.push(err(&place, "the name is used twice in this file".into()));
        }
        let birth = match (rp.age, &rp.birth) {
            (Some(_), Some(_)) => {
                errors.push(err(&place, "give `age` or `birth`, not both".into()));
                None
            }
            (None, None) => {
                errors.push(err(
                    &place,
                    "missing `age` (years) or `birth` (YYYY-MM-DD)".into(),
                ));
                None
            }
            (Some(age), None) => to_date(as_of)
                .checked_sub_months(Months::new(age * 12 + 6))
                .map(from_date)
                .or_else(|| {
                    errors.push(err(&place, format!("age {age} is out of range")));
                    None
                }),
            (None, Some(v)) => date_of_value(v)
                .map_err(|m| errors.push(err(&place, format!("`birth`: {m}"))))
                .ok(),
        };
        let death = match &rp.death {
            None => None,
            Some(v) => date_of_value(v)
                .map_err(|m| errors.push(err(&place, format!("`death`: {m}"))))
                .ok(),
        };
        if rp.fire.is_empty() && rp.no_fire.is_empty() {
            errors.push(err(
                &place,
                "no expectations: list criterion ids in `fire` and/or `no_fire`".into(),
            ));
        }
        for id in &rp.fire {
            if rp.no_fire.contains(id) {
                errors.push(err(&place, format!("{id} is in both `fire` and `no_fire`")));
            }
        }
        let mut events = Vec::new();
        for (j, v) in rp.events.iter().enumerate() {
            let eplace = format!("{place}, event {}", j + 1);
            match parse_event(v, as_of) {
                Ok(e) if e.date > as_of => errors.push(err(
                    &eplace,
                    "the event is after as_of; events after the scoring date do not exist for a run"
                        .into(),
                )),
                Ok(e) => events.push(e),
                Err(m) => errors.push(err(&eplace, m)),
            }
        }
        if let Some(birth) = birth {
            people.push(Person {
                name: rp.name,
                birth,
                sex: rp.sex,
                clinic: rp.clinic.unwrap_or_else(|| DEFAULT_CLINIC.to_string()),
                death,
                events,
                fire: rp.fire,
                no_fire: rp.no_fire,
            });
        }
    }
    if errors.is_empty() {
        Ok(CaseFile {
            name: name.to_string(),
            as_of,
            people,
        })
    } else {
        Err(errors)
    }
}

fn parse_date(s: &str) -> Option<Day> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .map(from_date)
}

/// A date given as a TOML string `"2025-11-03"` or a TOML local date `2025-11-03`.
fn date_of_value(v: &toml::Value) -> Result<Day, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "expected a date YYYY-MM-DD, found {}",
                other.type_str()
            ));
        }
    };
    parse_date(&text).ok_or_else(|| format!("'{text}' is not a date YYYY-MM-DD"))
}

/// `today`, `30d`, `11mo`, `2y` (before `as_of`) or a date.
fn parse_when(s: &str, as_of: Day) -> Result<Day, String> {
    if s == "today" {
        return Ok(as_of);
    }
    if let Some(d) = parse_date(s) {
        return Ok(d);
    }
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    let unit = &s[digits.len()..];
    let n: u32 = digits.parse().map_err(|_| {
        format!("'{s}' is not a time: write today, 30d, 11mo, 2y or a date YYYY-MM-DD")
    })?;
    let months = match unit {
        "d" => return Ok(as_of - n as Day),
        "mo" => n,
        "y" => n * 12,
        _ => {
            return Err(format!(
                "'{s}' is not a time: the unit is d, mo or y (e.g. 30d, 11mo, 2y)"
            ));
        }
    };
    to_date(as_of)
        .checked_sub_months(Months::new(months))
        .map(from_date)
        .ok_or_else(|| format!("'{s}' is too far back"))
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    let kind = match s {
        "dx" => Some(EventKind::Diagnosis),
        "lab" => Some(EventKind::Measurement),
        "med" => Some(EventKind::Medication),
        "proc" => Some(EventKind::Procedure),
        "imm" => Some(EventKind::Immunization),
        other => EventKind::parse(other),
    };
    kind.ok_or_else(|| {
        format!(
            "unknown kind '{s}': use diagnosis, measurement, medication, visit, procedure, \
             immunization (or dx, lab, med, visit, proc, imm)"
        )
    })
}

fn parse_value(s: &str) -> Result<Option<f64>, String> {
    if s == "null" {
        return Ok(None);
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Some)
        .ok_or_else(|| format!("'{s}' is not a number (or null)"))
}

fn parse_event(v: &toml::Value, as_of: Day) -> Result<CaseEvent, String> {
    match v {
        toml::Value::String(s) => parse_shorthand(s, as_of),
        toml::Value::Table(t) => parse_table(t, as_of),
        other => Err(format!(
            "an event is a string \"WHEN KIND SYSTEM CODE [VALUE [UNIT]]\" or a table, found {}",
            other.type_str()
        )),
    }
}

fn parse_shorthand(s: &str, as_of: Day) -> Result<CaseEvent, String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if !(4..=6).contains(&parts.len()) {
        return Err(format!(
            "'{s}': expected \"WHEN KIND SYSTEM CODE [VALUE [UNIT]]\" (4 to 6 words)"
        ));
    }
    Ok(CaseEvent {
        date: parse_when(parts[0], as_of)?,
        kind: parse_kind(parts[1])?,
        system: parts[2].to_string(),
        code: parts[3].to_string(),
        value: parts.get(4).map_or(Ok(None), |x| parse_value(x))?,
        unit: parts.get(5).map(|u| (*u).to_string()),
        written: s.to_string(),
    })
}

fn parse_table(t: &toml::Table, as_of: Day) -> Result<CaseEvent, String> {
    const KEYS: [&str; 8] = [
        "ago", "days_ago", "date", "kind", "system", "code", "value", "unit",
    ];
    if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown event field '{k}' (fields: {})",
            KEYS.join(", ")
        ));
    }
    let text = |key: &str| -> Result<Option<&str>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!(
                "`{key}` must be a string, found {}",
                other.type_str()
            )),
        }
    };
    let required = |key: &str| -> Result<&str, String> {
        text(key)?.ok_or_else(|| format!("missing `{key}`"))
    };
    let whens = ["ago", "days_ago", "date"]
        .iter()
        .filter(|k| t.contains_key(**k))
        .count();
    if whens != 1 {
        return Err("give exactly one of `ago`, `days_ago`, `date`".into());
    }
    let date = if let Some(ago) = text("ago")? {
        parse_when(ago, as_of)?
    } else if let Some(v) = t.get("days_ago") {
        match v {
            toml::Value::Integer(n) if *n >= 0 && *n <= i64::from(i32::MAX) => as_of - *n as Day,
            _ => return Err("`days_ago` must be a whole number of days, 0 or more".into()),
        }
    } else {
        date_of_value(t.get("date").expect("one of the three is present"))?
    };
    let value = match t.get("value") {
        None => None,
        Some(toml::Value::Integer(n)) => Some(*n as f64),
        Some(toml::Value::Float(x)) if x.is_finite() => Some(*x),
        Some(other) => return Err(format!("`value` must be a number, found {other}")),
    };
    let kind = parse_kind(required("kind")?)?;
    Ok(CaseEvent {
        date,
        kind,
        system: required("system")?.to_string(),
        code: required("code")?.to_string(),
        value,
        unit: text("unit")?.map(str::to_string),
        written: toml::Value::Table(t.clone()).to_string().trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        parse_date(s).unwrap()
    }

    #[test]
    fn shorthand_and_table_events_resolve_dates_like_windows() {
        let text = r#"
            as_of = "2024-03-31"
            [[person]]
            name = "a"
            age = 60
            sex = "F"
            events = [
              "1mo lab LOINC 8480-6 152 mmHg",
              "today dx ICD10 I10",
              "2y med ATC C09AA05",
              "2023-01-02 imm ATC J07BB02",
              { days_ago = 30, kind = "measurement", system = "LOINC", code = "8462-4", value = 91 },
            ]
            fire = ["X"]
        "#;
        let f = parse_case_file("t.toml", text).unwrap();
        let p = &f.people[0];
        assert_eq!(f.as_of, day("2024-03-31"));
        assert_eq!(p.birth, day("1963-09-30"));
        assert_eq!(p.clinic, DEFAULT_CLINIC);
        assert_eq!(p.events[0].date, day("2024-02-29"));
        assert_eq!(p.events[0].value, Some(152.0));
        assert_eq!(p.events[0].unit.as_deref(), Some("mmHg"));
        assert_eq!(p.events[1].date, f.as_of);
        assert_eq!(p.events[2].date, day("2022-03-31"));
        assert_eq!(p.events[2].value, None);
        assert_eq!(p.events[3].kind, EventKind::Immunization);
        assert_eq!(p.events[4].date, f.as_of - 30);
        assert_eq!(p.events[4].value, Some(91.0));
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = r#"
            [[person]]
            name = "a"
            sex = "F"
            events = ["12m dx ICD10 I10", "1d diag ICD10 I10", "1d dx ICD10", "-1d dx ICD10 I10"]
            fire = ["X"]
            no_fire = ["X"]
            [[person]]
            name = "a"
            age = 3
            sex = "M"
        "#;
        let errors = parse_case_file("t.toml", text).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let expect = [
            "t.toml: person 'a': missing `age`",
            "t.toml: person 'a': X is in both",
            "t.toml: person 'a', event 1: '12m' is not a time",
            "t.toml: person 'a', event 2: unknown kind 'diag'",
            "t.toml: person 'a', event 3: '1d dx ICD10': expected",
            "t.toml: person 'a', event 4: '-1d' is not a time",
            "t.toml: person 'a': the name is used twice",
            "t.toml: person 'a': no expectations",
        ];
        for e in expect {
            assert!(
                text.iter().any(|t| t.starts_with(e)),
                "missing {e:?} in {text:#?}"
            );
        }
        assert_eq!(text.len(), expect.len(), "{text:#?}");
    }

    #[test]
    fn unknown_fields_and_future_events_are_errors() {
        let e = parse_case_file(
            "t.toml",
            "[[person]]\nname='a'\nage=1\nsex='F'\nfires=['X']\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("unknown field `fires`"), "{e:?}");
        let e = parse_case_file(
            "t.toml",
            "as_of='2026-01-01'\n[[person]]\nname='a'\nage=1\nsex='F'\nfire=['X']\nevents=['2026-01-02 dx ICD10 I10']\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("after as_of"), "{e:?}");
    }
}
