//! What the service recorded since the run was made, applied on top of the
//! run's call lists at once (the next nightly `caregap rank` reads the same
//! records through `caregap outreach export`).
//!
//! The rules are the ranking's (docs/ranking.md), with the service's day
//! (UTC) in place of `as_of`:
//! - the latest outreach consent decision recorded in the service is a
//!   withdrawal: the person is on no list and in no export;
//! - a `booked` contact within the booked cool-down: off the list;
//! - a contact with outcome `o` on day `d` rests a criterion when
//!   `today − cooldown(o) < d ≤ today` and it was about that criterion or was
//!   general; a person whose listed gaps all rest is off the list.
//!
//! `wrong_number` has the `not_reachable` cool-down; `reached` rests nothing.
//! A person stays at their rank: scores are recomputed by the next run.

use super::store::{ConsentRow, OutcomeRow};
use crate::data::{Day, Outcome, parse_day};
use crate::rank::exclusions::Cooldowns;
use std::collections::HashMap;

/// One contact recorded in the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub day: Day,
    pub time: String,
    pub criterion: Option<String>,
    pub outcome: String,
    pub user: String,
    pub note: String,
}

/// The service's records that change lists, by canonical person id.
#[derive(Debug, Default)]
pub struct Overlay {
    pub contacts: HashMap<String, Vec<Contact>>,
    /// Latest decision per person and scope: (scope, time, granted).
    pub consents: HashMap<String, Vec<(String, String, bool)>>,
    /// Counts the records added: what was computed from the overlay at one
    /// epoch holds until it changes.
    pub epoch: u64,
}

/// Why a person is off the list now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Off {
    ConsentWithdrawn,
    Booked,
    Resting,
}

/// The data model's outcome a service outcome stands for, when there is one.
pub fn data_outcome(outcome: &str) -> Option<Outcome> {
    match outcome {
        "wrong_number" => Some(Outcome::NotReachable),
        "reached" => None,
        o => Outcome::parse(o),
    }
}

impl Overlay {
    /// Builds the overlay from the store's rows.
    pub fn from_rows(outcomes: &[OutcomeRow], consents: &[ConsentRow]) -> Overlay {
        let mut o = Overlay::default();
        for r in outcomes {
            o.add_outcome(r);
        }
        for c in consents {
            o.add_consent(c);
        }
        o
    }

    pub fn add_outcome(&mut self, r: &OutcomeRow) {
        let Some(day) = parse_day(&r.day) else { return };
        self.epoch += 1;
        self.contacts
            .entry(r.patient_id.clone())
            .or_default()
            .push(Contact {
                day,
                time: r.time.clone(),
                criterion: r.criterion_id.clone(),
                outcome: r.outcome.clone(),
                user: r.user.clone(),
                note: r.note.clone(),
            });
    }

    pub fn add_consent(&mut self, c: &ConsentRow) {
        self.epoch += 1;
        let scopes = self.consents.entry(c.patient_id.clone()).or_default();
        match scopes.iter_mut().find(|(s, _, _)| *s == c.scope) {
            Some(d) if d.1 <= c.time => *d = (c.scope.clone(), c.time.clone(), c.granted),
            Some(_) => {}
            None => scopes.push((c.scope.clone(), c.time.clone(), c.granted)),
        }
    }

    /// Whether the service has recorded nothing (no one is off any list).
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty() && self.consents.is_empty()
    }

    /// Every person the service has records of (each once): the only ones
    /// [`Overlay::off_list`] can take off.
    pub fn people(&self) -> impl Iterator<Item = &str> {
        self.contacts.keys().map(String::as_str).chain(
            self.consents
                .keys()
                .filter(|k| !self.contacts.contains_key(*k))
                .map(String::as_str),
        )
    }

    /// Whether the latest decision recorded in the service withdraws `scope`.
    pub fn withdrawn(&self, person: &str, scope: &str) -> bool {
        self.consents
            .get(person)
            .is_some_and(|v| v.iter().any(|(s, _, g)| s == scope && !g))
    }

    /// The latest contact recorded in the service.
    pub fn last_contact(&self, person: &str) -> Option<&Contact> {
        self.contacts
            .get(person)?
            .iter()
            .max_by(|a, b| a.time.cmp(&b.time))
    }

    /// Whether `person` with listed gaps `criteria` is off the list on `today`.
    pub fn off_list(
        &self,
        person: &str,
        criteria: &[String],
        today: Day,
        cd: &Cooldowns,
    ) -> Option<Off> {
        if self.is_empty() {
            return None;
        }
        if self.withdrawn(person, "outreach") {
            return Some(Off::ConsentWithdrawn);
        }
        let contacts = self.contacts.get(person)?;
        let active = |c: &&Contact| {
            data_outcome(&c.outcome)
                .is_some_and(|o| today - (cd.days(o) as Day) < c.day && c.day <= today)
        };
        let live: Vec<&Contact> = contacts.iter().filter(active).collect();
        if live.iter().any(|c| c.outcome == "booked") {
            return Some(Off::Booked);
        }
        let rests = |crit: &String| {
            live.iter()
                .any(|c| c.criterion.as_ref().is_none_or(|x| x == crit))
        };
        (!live.is_empty() && (criteria.is_empty() || criteria.iter().all(rests)))
            .then_some(Off::Resting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(day: &str, crit: Option<&str>, o: &str) -> OutcomeRow {
        OutcomeRow {
            id: 0,
            time: format!("{day}T10:00:00.000Z"),
            day: day.into(),
            user: "u".into(),
            clinic: "HC01".into(),
            patient_id: "17".into(),
            criterion_id: crit.map(str::to_string),
            outcome: o.into(),
            note: String::new(),
        }
    }

    fn consent(time: &str, granted: bool) -> ConsentRow {
        ConsentRow {
            id: 0,
            time: time.into(),
            day: time[..10].into(),
            user: "u".into(),
            clinic: "HC01".into(),
            patient_id: "17".into(),
            scope: "outreach".into(),
            granted,
            note: String::new(),
        }
    }

    #[test]
    fn cool_downs_follow_the_ranking_rules() {
        let cd = Cooldowns::default();
        let today = parse_day("2026-06-30").unwrap();
        let crit = vec!["A".to_string(), "B".to_string()];
        let off =
            |rows: &[OutcomeRow]| Overlay::from_rows(rows, &[]).off_list("17", &crit, today, &cd);
        assert_eq!(off(&[]), None);
        assert_eq!(
            off(&[outcome("2026-06-30", Some("A"), "booked")]),
            Some(Off::Booked)
        );
        // Exactly 90 days before: rests nothing any more.
        assert_eq!(off(&[outcome("2026-04-01", None, "booked")]), None);
        assert_eq!(
            off(&[outcome("2026-04-02", None, "booked")]),
            Some(Off::Booked)
        );
        // A contact after today is not seen.
        assert_eq!(off(&[outcome("2026-07-01", None, "booked")]), None);
        // One gap resting: stays; both: off.
        assert_eq!(off(&[outcome("2026-06-30", Some("A"), "declined")]), None);
        assert_eq!(
            off(&[
                outcome("2026-06-30", Some("A"), "declined"),
                outcome("2026-06-20", Some("B"), "no_answer")
            ]),
            Some(Off::Resting)
        );
        assert_eq!(off(&[outcome("2026-06-16", None, "no_answer")]), None);
        assert_eq!(
            off(&[outcome("2026-06-17", None, "no_answer")]),
            Some(Off::Resting)
        );
        assert_eq!(
            off(&[outcome("2026-06-01", None, "wrong_number")]),
            Some(Off::Resting)
        );
        assert_eq!(off(&[outcome("2026-06-30", None, "reached")]), None);
    }

    #[test]
    fn the_latest_consent_decision_wins() {
        let cd = Cooldowns::default();
        let today = parse_day("2026-06-30").unwrap();
        let o = Overlay::from_rows(&[], &[consent("2026-06-01T10:00:00.000Z", false)]);
        assert_eq!(
            o.off_list("17", &[], today, &cd),
            Some(Off::ConsentWithdrawn)
        );
        assert_eq!(o.off_list("18", &[], today, &cd), None);
        let o = Overlay::from_rows(
            &[],
            &[
                consent("2026-06-02T10:00:00.000Z", true),
                consent("2026-06-01T10:00:00.000Z", false),
            ],
        );
        assert_eq!(o.off_list("17", &[], today, &cd), None);
    }
}
