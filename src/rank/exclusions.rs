//! Who is never on a call list, and which of a person's gaps are resting.
//!
//! Rules, checked in this order; a person is counted under the FIRST rule that
//! applies, so the per-rule counts of a clinic add up to its excluded total:
//! 1. `dead`: not alive on `as_of` (died on or before it). Such people never
//!    fire, so this count is the clinic's people who died on or before `as_of`.
//! 2. `consent_withdrawn`: the latest `outreach` consent decision dated on or
//!    before `as_of` is a withdrawal; on one day a withdrawal beats a grant;
//!    no decision = allowed; decisions after `as_of` are not seen.
//! 3. `already_booked`: a `booked` contact (about any criterion, or a general
//!    one) within the booked cool-down. The person has an appointment coming,
//!    where every open gap can be handled.
//! 4. `cool_down`: every open gap of the person is resting (below).
//!
//! A contact dated `d` with outcome `o` rests criterion `c` on `as_of` when
//! `as_of − cooldown(o) < d <= as_of` (the data model's window rule: a
//! contact exactly `cooldown(o)` days ago no longer rests anything) and the
//! contact was about `c`, or was general (null criterion: a general contact
//! rests every criterion). Contacts after `as_of` do not exist for the run.
//! Each contact rests on its own: when several apply, any one suffices.
//! A person with some gaps resting and some not stays on the list with the
//! non-resting gaps only.

use crate::data::{Day, Outreach};
use serde::Deserialize;

/// Outcome of an outreach contact: the data layer's type (parsed exactly by
/// the loader, `Booked` is unknown).
pub use crate::data::Outcome;

/// Every outcome, in the order of the cool-down table.
pub const OUTCOMES: [Outcome; 4] = [
    Outcome::Booked,
    Outcome::Declined,
    Outcome::NoAnswer,
    Outcome::NotReachable,
];

/// Cool-down per outcome, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cooldowns {
    pub booked: u32,
    pub declined: u32,
    pub no_answer: u32,
    pub not_reachable: u32,
}

impl Default for Cooldowns {
    fn default() -> Self {
        Cooldowns {
            booked: 90,
            declined: 365,
            no_answer: 14,
            not_reachable: 30,
        }
    }
}

impl Cooldowns {
    pub fn days(&self, o: Outcome) -> u32 {
        match o {
            Outcome::Booked => self.booked,
            Outcome::Declined => self.declined,
            Outcome::NoAnswer => self.no_answer,
            Outcome::NotReachable => self.not_reachable,
        }
    }
}

/// One logged contact of a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub date: Day,
    /// `None` = a general contact.
    pub criterion: Option<String>,
    pub outcome: Outcome,
}

impl Contact {
    /// Whether the contact's cool-down covers `as_of` (see module docs).
    pub fn active(&self, as_of: Day, cooldowns: &Cooldowns) -> bool {
        let days = i64::from(cooldowns.days(self.outcome));
        self.date <= as_of && i64::from(as_of) - days < i64::from(self.date)
    }

    /// Whether the contact rests `criterion` on `as_of`.
    pub fn rests(&self, criterion: &str, as_of: Day, cooldowns: &Cooldowns) -> bool {
        self.criterion.as_deref().is_none_or(|c| c == criterion) && self.active(as_of, cooldowns)
    }
}

/// Groups the loaded outreach log by person (`n` people), in log order: the
/// one place where the data layer's contacts become ranking contacts.
pub fn contacts_by_person(outreach: &Outreach, n: usize) -> Vec<Vec<Contact>> {
    let mut out = vec![Vec::new(); n];
    for c in &outreach.rows {
        out[c.patient as usize].push(Contact {
            date: c.date,
            criterion: c.criterion_id.clone(),
            outcome: c.outcome,
        });
    }
    out
}

/// The rules of the module docs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    Dead,
    ConsentWithdrawn,
    AlreadyBooked,
    CoolDown,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::Dead,
        Rule::ConsentWithdrawn,
        Rule::AlreadyBooked,
        Rule::CoolDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Dead => "dead",
            Rule::ConsentWithdrawn => "consent_withdrawn",
            Rule::AlreadyBooked => "already_booked",
            Rule::CoolDown => "cool_down",
        }
    }
}

/// What happens to a person with open gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Excluded(Rule),
    /// On the list; `resting[i]` tells whether gap `i` (in the order given) is resting.
    Listed {
        resting: Vec<bool>,
    },
}

/// Decides for a living person with the given open criteria.
pub fn decide(
    outreach_consent: bool,
    contacts: &[Contact],
    open_criteria: &[&str],
    as_of: Day,
    cooldowns: &Cooldowns,
) -> Decision {
    if !outreach_consent {
        return Decision::Excluded(Rule::ConsentWithdrawn);
    }
    if contacts
        .iter()
        .any(|c| c.outcome == Outcome::Booked && c.active(as_of, cooldowns))
    {
        return Decision::Excluded(Rule::AlreadyBooked);
    }
    let resting: Vec<bool> = open_criteria
        .iter()
        .map(|crit| contacts.iter().any(|c| c.rests(crit, as_of, cooldowns)))
        .collect();
    if !resting.is_empty() && resting.iter().all(|r| *r) {
        return Decision::Excluded(Rule::CoolDown);
    }
    Decision::Listed { resting }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::data::{Consent, ConsentScope, Consents};

    /// Outreach allowed on `as_of` for one person with these (date, granted)
    /// decisions, through the data layer's rule.
    fn allowed(decisions: &[(Day, bool)], as_of: Day) -> bool {
        let mut rows: Vec<Consent> = decisions
            .iter()
            .map(|&(date, granted)| Consent {
                patient: 0,
                scope: ConsentScope::Outreach,
                granted,
                date,
            })
            .collect();
        // A research decision never affects outreach.
        rows.push(Consent {
            patient: 0,
            scope: ConsentScope::Research,
            granted: false,
            date: 0,
        });
        Consents {
            n_patients: 1,
            rows,
        }
        .allowed(ConsentScope::Outreach, as_of)[0]
    }

    #[test]
    fn consent_latest_decision_on_or_before_as_of_wins() {
        assert!(allowed(&[], 100));
        // Withdrawn, then granted again: allowed from the re-grant on.
        let d = [(10, false), (50, true)];
        assert!(allowed(&d, 9));
        assert!(!allowed(&d, 10));
        assert!(!allowed(&d, 49));
        assert!(allowed(&d, 50));
        // Granted then withdrawn; order of rows does not matter.
        let d = [(50, false), (10, true)];
        assert!(allowed(&d, 49));
        assert!(!allowed(&d, 50));
        // A decision after as_of is not seen.
        assert!(allowed(&[(101, false)], 100));
    }

    #[test]
    fn same_day_withdrawal_beats_grant() {
        for d in [[(20, true), (20, false)], [(20, false), (20, true)]] {
            assert!(!allowed(&d, 20));
            assert!(!allowed(&d, 30));
        }
    }

    #[test]
    fn contacts_are_grouped_by_person_in_log_order() {
        use crate::data::Contact as Logged;
        let log = Outreach {
            rows: vec![
                Logged {
                    patient: 1,
                    date: 5,
                    criterion_id: None,
                    outcome: Outcome::Booked,
                },
                Logged {
                    patient: 0,
                    date: 3,
                    criterion_id: Some("A".into()),
                    outcome: Outcome::NoAnswer,
                },
                Logged {
                    patient: 1,
                    date: 2,
                    criterion_id: Some("B".into()),
                    outcome: Outcome::Declined,
                },
            ],
        };
        let by = contacts_by_person(&log, 3);
        assert_eq!(by[0], vec![contact(3, Some("A"), Outcome::NoAnswer)]);
        assert_eq!(
            by[1],
            vec![
                contact(5, None, Outcome::Booked),
                contact(2, Some("B"), Outcome::Declined)
            ]
        );
        assert!(by[2].is_empty());
    }

    fn contact(date: Day, crit: Option<&str>, outcome: Outcome) -> Contact {
        Contact {
            date,
            criterion: crit.map(str::to_string),
            outcome,
        }
    }

    #[test]
    fn cool_down_edges_follow_the_window_rule() {
        let cd = Cooldowns::default();
        let as_of = 1000;
        for o in OUTCOMES {
            let days = cd.days(o) as Day;
            // Exactly `days` ago: no longer resting; one day later: resting.
            assert!(
                !contact(as_of - days, Some("A"), o).rests("A", as_of, &cd),
                "{o:?}"
            );
            assert!(
                contact(as_of - days + 1, Some("A"), o).rests("A", as_of, &cd),
                "{o:?}"
            );
            assert!(contact(as_of, Some("A"), o).rests("A", as_of, &cd), "{o:?}");
            // Future contact: not seen.
            assert!(
                !contact(as_of + 1, Some("A"), o).rests("A", as_of, &cd),
                "{o:?}"
            );
            // Another criterion is not rested; a general contact rests all.
            assert!(
                !contact(as_of, Some("B"), o).rests("A", as_of, &cd),
                "{o:?}"
            );
            assert!(contact(as_of, None, o).rests("A", as_of, &cd), "{o:?}");
        }
        let zero = Cooldowns { no_answer: 0, ..cd };
        assert!(!contact(as_of, Some("A"), Outcome::NoAnswer).rests("A", as_of, &zero));
    }

    #[test]
    fn decisions_in_rule_order() {
        let cd = Cooldowns::default();
        let as_of = 1000;
        let booked = contact(as_of - 89, Some("B"), Outcome::Booked);
        let declined_a = contact(as_of - 364, Some("A"), Outcome::Declined);
        assert_eq!(
            decide(false, std::slice::from_ref(&booked), &["A"], as_of, &cd),
            Decision::Excluded(Rule::ConsentWithdrawn)
        );
        // A booking about another criterion still counts as already booked.
        assert_eq!(
            decide(
                true,
                &[booked.clone(), declined_a.clone()],
                &["A"],
                as_of,
                &cd
            ),
            Decision::Excluded(Rule::AlreadyBooked)
        );
        // Booked 90 days ago: expired.
        let old_booking = contact(as_of - 90, Some("A"), Outcome::Booked);
        assert_eq!(
            decide(true, &[old_booking], &["A"], as_of, &cd),
            Decision::Listed {
                resting: vec![false]
            }
        );
        assert_eq!(
            decide(true, std::slice::from_ref(&declined_a), &["A"], as_of, &cd),
            Decision::Excluded(Rule::CoolDown)
        );
        assert_eq!(
            decide(true, &[declined_a], &["A", "C"], as_of, &cd),
            Decision::Listed {
                resting: vec![true, false]
            }
        );
        assert_eq!(
            decide(true, &[], &["A"], as_of, &cd),
            Decision::Listed {
                resting: vec![false]
            }
        );
    }

    #[test]
    fn outcomes_parse_exactly() {
        for o in OUTCOMES {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("Booked"), None);
    }
}
