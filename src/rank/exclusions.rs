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

use crate::data::Day;
use serde::Deserialize;

/// Outcome of an outreach contact (the `outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Booked,
    Declined,
    NoAnswer,
    NotReachable,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Booked,
        Outcome::Declined,
        Outcome::NoAnswer,
        Outcome::NotReachable,
    ];

    /// Parses the stored value, exactly (`Booked` is unknown).
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Booked => "booked",
            Outcome::Declined => "declined",
            Outcome::NoAnswer => "no_answer",
            Outcome::NotReachable => "not_reachable",
        }
    }
}

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

/// One consent decision of a person for the `outreach` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentDecision {
    pub date: Day,
    pub granted: bool,
}

/// Outreach allowed on `as_of`: the latest decision on or before `as_of` wins,
/// a withdrawal beating a grant of the same day; no decision = allowed.
pub fn outreach_allowed(decisions: &[ConsentDecision], as_of: Day) -> bool {
    decisions
        .iter()
        .filter(|d| d.date <= as_of)
        // Order by date, then withdrawal (granted = false) after grant: max wins.
        .max_by_key(|d| (d.date, !d.granted))
        .is_none_or(|d| d.granted)
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

    fn consent(date: Day, granted: bool) -> ConsentDecision {
        ConsentDecision { date, granted }
    }

    #[test]
    fn consent_latest_decision_on_or_before_as_of_wins() {
        assert!(outreach_allowed(&[], 100));
        // Withdrawn, then granted again: allowed from the re-grant on.
        let d = [consent(10, false), consent(50, true)];
        assert!(outreach_allowed(&d, 9));
        assert!(!outreach_allowed(&d, 10));
        assert!(!outreach_allowed(&d, 49));
        assert!(outreach_allowed(&d, 50));
        // Granted then withdrawn; order of rows does not matter.
        let d = [consent(50, false), consent(10, true)];
        assert!(outreach_allowed(&d, 49));
        assert!(!outreach_allowed(&d, 50));
        // A decision after as_of is not seen.
        assert!(outreach_allowed(&[consent(101, false)], 100));
    }

    #[test]
    fn same_day_withdrawal_beats_grant() {
        for d in [
            [consent(20, true), consent(20, false)],
            [consent(20, false), consent(20, true)],
        ] {
            assert!(!outreach_allowed(&d, 20));
            assert!(!outreach_allowed(&d, 30));
        }
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
        for o in Outcome::ALL {
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
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("Booked"), None);
    }
}
