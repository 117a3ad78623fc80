//! The optional `consents` and `outreach` tables, as usable rows.

use serde::Serialize;

use super::population::Day;

/// What a consent decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    /// Being invited proactively (call lists).
    Outreach,
    /// Use in model training, benchmarks and research exports.
    Research,
}

impl ConsentScope {
    /// Parses the `scope` column; exact match (`Outreach` is unknown), like `kind`.
    pub fn parse(s: &str) -> Option<ConsentScope> {
        match s {
            "outreach" => Some(ConsentScope::Outreach),
            "research" => Some(ConsentScope::Research),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentScope::Outreach => "outreach",
            ConsentScope::Research => "research",
        }
    }
}

/// One usable consent decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    /// Dense patient index.
    pub patient: u32,
    pub scope: ConsentScope,
    /// `false`: the person forbids this use.
    pub granted: bool,
    pub date: Day,
}

/// The usable rows of the `consents` table (empty when the table is absent),
/// in reading order. Decisions dated after the load's `as_of` are kept:
/// [`Consents::allowed`] takes its own `as_of` and ignores later ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consents {
    /// Number of patients in the population (length of [`Consents::allowed`]).
    pub n_patients: usize,
    pub rows: Vec<Consent>,
}

impl Consents {
    /// Per patient, whether `scope` is allowed on `as_of`: the latest decision
    /// dated on or before `as_of` wins, a withdrawal winning over a grant of
    /// the same day; a patient with no such decision is allowed.
    pub fn allowed(&self, scope: ConsentScope, as_of: Day) -> Vec<bool> {
        // Per patient the deciding (date, granted) so far.
        let mut latest: Vec<Option<(Day, bool)>> = vec![None; self.n_patients];
        for c in &self.rows {
            if c.scope != scope || c.date > as_of {
                continue;
            }
            let slot = &mut latest[c.patient as usize];
            let wins = match *slot {
                None => true,
                Some((date, granted)) => c.date > date || (c.date == date && granted && !c.granted),
            };
            if wins {
                *slot = Some((c.date, c.granted));
            }
        }
        latest
            .into_iter()
            .map(|d| d.is_none_or(|(_, granted)| granted))
            .collect()
    }
}

/// How an invitation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Booked,
    Declined,
    NoAnswer,
    NotReachable,
}

impl Outcome {
    /// Parses the `outcome` column; exact match.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "booked" => Some(Outcome::Booked),
            "declined" => Some(Outcome::Declined),
            "no_answer" => Some(Outcome::NoAnswer),
            "not_reachable" => Some(Outcome::NotReachable),
            _ => None,
        }
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

/// One usable contact of the outreach log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Dense patient index.
    pub patient: u32,
    pub date: Day,
    /// The criterion the contact was about; `None` = general.
    pub criterion_id: Option<String>,
    pub outcome: Outcome,
}

/// The usable rows of the `outreach` table (empty when absent), in reading
/// order. All dates are kept; a user scoring on some `as_of` ignores contacts
/// dated after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outreach {
    pub rows: Vec<Contact>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(patient: u32, scope: ConsentScope, granted: bool, date: Day) -> Consent {
        Consent {
            patient,
            scope,
            granted,
            date,
        }
    }

    #[test]
    fn latest_decision_on_or_before_as_of_wins() {
        use ConsentScope::*;
        let consents = Consents {
            n_patients: 5,
            rows: vec![
                // 0: withdrew, then granted again later.
                c(0, Outreach, false, 10),
                c(0, Outreach, true, 20),
                // 1: grant and withdrawal on the same day (either order): withdrawn.
                c(1, Outreach, true, 15),
                c(1, Outreach, false, 15),
                c(1, Outreach, true, 15),
                // 2: withdrawal only after as_of.
                c(2, Outreach, false, 31),
                // 3: research withdrawn, outreach untouched.
                c(3, Research, false, 1),
                // 4: no rows.
            ],
        };
        assert_eq!(
            consents.allowed(Outreach, 30),
            [true, false, true, true, true]
        );
        assert_eq!(
            consents.allowed(Outreach, 19),
            [false, false, true, true, true]
        );
        assert_eq!(
            consents.allowed(Outreach, 31),
            [true, false, false, true, true]
        );
        assert_eq!(
            consents.allowed(Research, 30),
            [true, true, true, false, true]
        );
        assert_eq!(consents.allowed(Outreach, 9), [true; 5]);
    }
}
