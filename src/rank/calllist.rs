//! Building the per-clinic call lists: exclusions, scores, order, ranks.
//! Pure: the CLI gathers the columns and renders the rows.
//!
//! Two orders ([`Order`]): `benefit` (default) lists the urgent band first
//! (a gap of priority `benefit.urgent_priority` or above), by highest
//! priority, then risk ([`benefit::annual_risk`]), then expected benefit,
//! then patient id;
//! then everyone else by [`benefit::order_value`] (quantified benefit per
//! year plus the fall-back of the highest unquantified priority), then
//! highest priority, then ten-year CVD risk, then number of listed gaps,
//! then patient id. `additive`
//! is the old score order ([`list_order`]).

use super::benefit::{self, Band, Baseline, Benefit, Effect, Order};
use super::config::RankConfig;
use super::exclusions::{Contact, Decision, Rule, decide};
use super::priority::{Score, list_order, score};
use super::risk::UtilTier;
use super::score2::RiskBand;
use crate::data::{Day, PatientIds};

/// Everything known per person (all columns have one entry per person).
#[derive(Debug, Clone, Copy)]
pub struct People<'a> {
    pub ids: &'a PatientIds,
    /// Index into the clinic table.
    pub clinic: &'a [u32],
    pub n_clinics: usize,
    /// Alive on `as_of`: born on or before it and not dead on or before it.
    pub alive: &'a [bool],
    /// Died on or before `as_of` (counted under [`Rule::Dead`]; people born
    /// after `as_of` are neither alive nor dead, and counted nowhere).
    pub dead: &'a [bool],
    pub outreach_allowed: &'a [bool],
    /// Each person's outreach contacts (any order).
    pub contacts: &'a [Vec<Contact>],
    pub band: &'a [Option<RiskBand>],
    pub tier: &'a [Option<UtilTier>],
    /// Risk without the actions, for the expected benefit.
    pub baseline: &'a [Baseline],
}

/// One open firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenGap {
    pub person: u32,
    /// Index into the criterion-id table given to [`rank`].
    pub criterion: u32,
    pub priority: u8,
}

/// One call-list row.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub person: u32,
    pub clinic: u32,
    /// 1-based rank within the clinic.
    pub rank: u32,
    pub score: Score,
    /// The listed (non-resting) gaps, as indices into the `gaps` input, by
    /// priority descending then criterion id.
    pub gaps: Vec<u32>,
    /// How many of the person's open gaps are resting (cool-down).
    pub resting: u32,
    pub band: Band,
    /// Expected benefit of the gaps with a quantified effect.
    pub benefit: Benefit,
    /// The benefit order's value ([`benefit::order_value`]).
    pub value: f64,
    /// The listed gaps as the reasons show them first: urgent ones, then by
    /// each gap's own value (benefit, else fall-back), priority, criterion id.
    pub top: Vec<u32>,
}

/// Per-clinic counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClinicCounts {
    /// Living people with at least one open gap.
    pub with_gaps: u64,
    pub listed: u64,
    /// Excluded people by [`Rule`] (index = position in [`Rule::ALL`]).
    pub excluded: [u64; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Ordered by clinic index, then rank.
    pub entries: Vec<Entry>,
    pub counts: Vec<ClinicCounts>,
}

fn rule_index(r: Rule) -> usize {
    Rule::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

fn id_cmp(ids: &PatientIds, a: u32, b: u32) -> std::cmp::Ordering {
    match ids {
        PatientIds::Int(v) => v[a as usize].cmp(&v[b as usize]),
        PatientIds::Str(v) => v[a as usize].cmp(&v[b as usize]),
    }
}

/// Applies the exclusion rules, scores and orders every clinic's list.
pub fn rank(
    people: &People,
    criteria: &[String],
    gaps: &[OpenGap],
    as_of: Day,
    config: &RankConfig,
) -> Ranked {
    let (cooldowns, weights, bcfg) = (&config.cooldown_days, &config.weights, &config.benefit);
    let effects: Vec<Option<Effect>> = criteria.iter().map(|c| bcfg.effect_of(c)).collect();
    let n = people.clinic.len();
    let mut counts = vec![ClinicCounts::default(); people.n_clinics];
    // Group gap indices by person (counting sort: stable, linear).
    let mut start = vec![0u32; n + 1];
    for g in gaps {
        start[g.person as usize + 1] += 1;
    }
    for p in 0..n {
        start[p + 1] += start[p];
    }
    let mut fill = start.clone();
    let mut by_person = vec![0u32; gaps.len()];
    for (i, g) in gaps.iter().enumerate() {
        let slot = &mut fill[g.person as usize];
        by_person[*slot as usize] = i as u32;
        *slot += 1;
    }

    let mut entries = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for p in 0..n {
        let clinic = people.clinic[p];
        let c = &mut counts[clinic as usize];
        if !people.alive[p] {
            if people.dead[p] {
                c.excluded[rule_index(Rule::Dead)] += 1;
            }
            continue;
        }
        let mine = &mut by_person[start[p] as usize..start[p + 1] as usize];
        if mine.is_empty() {
            continue;
        }
        c.with_gaps += 1;
        // Fast path: nothing to check without a withdrawal or any contact.
        let resting: Vec<bool> = if people.outreach_allowed[p] && people.contacts[p].is_empty() {
            Vec::new()
        } else {
            names.clear();
            names.extend(
                mine.iter()
                    .map(|&g| criteria[gaps[g as usize].criterion as usize].as_str()),
            );
            match decide(
                people.outreach_allowed[p],
                &people.contacts[p],
                &names,
                as_of,
                cooldowns,
            ) {
                Decision::Excluded(rule) => {
                    c.excluded[rule_index(rule)] += 1;
                    continue;
                }
                Decision::Listed { resting } => resting,
            }
        };
        c.listed += 1;
        let mut listed: Vec<u32> = mine
            .iter()
            .enumerate()
            .filter(|(i, _)| !resting.get(*i).copied().unwrap_or(false))
            .map(|(_, g)| *g)
            .collect();
        listed.sort_by(|&a, &b| {
            let (ga, gb) = (&gaps[a as usize], &gaps[b as usize]);
            gb.priority
                .cmp(&ga.priority)
                .then_with(|| criteria[ga.criterion as usize].cmp(&criteria[gb.criterion as usize]))
        });
        let s = score(
            listed.iter().map(|&g| gaps[g as usize].priority),
            people.band[p],
            people.tier[p],
            weights,
        );
        let base = &people.baseline[p];
        let effect = |g: u32| effects[gaps[g as usize].criterion as usize];
        let ben = benefit::person_benefit(listed.iter().filter_map(|&g| effect(g)), base);
        // Gaps whose effect has no baseline for this person fall back too.
        let own = |g: u32| {
            effect(g)
                .map(|e| benefit::person_benefit([e], base))
                .filter(Benefit::is_quantified)
                .map(|b| b.per_year)
        };
        let max_unquantified = listed
            .iter()
            .filter(|&&g| own(g).is_none())
            .map(|&g| gaps[g as usize].priority)
            .max()
            .unwrap_or(0);
        let value = benefit::order_value(&ben, max_unquantified, bcfg);
        let urgent = |g: u32| gaps[g as usize].priority >= bcfg.urgent_priority;
        let mut top: Vec<(u32, f64)> = listed
            .iter()
            .map(|&g| {
                let v = own(g).unwrap_or_else(|| bcfg.fallback_of(gaps[g as usize].priority));
                (g, v)
            })
            .collect();
        top.sort_by(|&(a, va), &(b, vb)| {
            let (ga, gb) = (&gaps[a as usize], &gaps[b as usize]);
            urgent(b)
                .cmp(&urgent(a))
                .then(vb.total_cmp(&va))
                .then(gb.priority.cmp(&ga.priority))
                .then_with(|| criteria[ga.criterion as usize].cmp(&criteria[gb.criterion as usize]))
        });
        entries.push(Entry {
            person: p as u32,
            clinic,
            rank: 0,
            score: s,
            resting: (mine.len() - listed.len()) as u32,
            band: if listed.iter().any(|&g| urgent(g)) {
                Band::Urgent
            } else {
                Band::Routine
            },
            benefit: ben,
            value,
            top: top.into_iter().map(|(g, _)| g).collect(),
            gaps: listed,
        });
    }
    entries.sort_unstable_by(|a, b| {
        let ids = || id_cmp(people.ids, a.person, b.person);
        a.clinic.cmp(&b.clinic).then_with(|| match config.order {
            Order::Additive => list_order(&a.score, &b.score, ids()),
            Order::Benefit => benefit_order(a, b, people.baseline, ids),
        })
    });
    let mut prev = u32::MAX;
    let mut r = 0;
    for e in &mut entries {
        if e.clinic != prev {
            prev = e.clinic;
            r = 0;
        }
        r += 1;
        e.rank = r;
    }
    Ranked { entries, counts }
}

/// The `benefit` order of the module docs: `a` before `b` when `Less`.
pub fn benefit_order(
    a: &Entry,
    b: &Entry,
    baseline: &[Baseline],
    ids: impl FnOnce() -> std::cmp::Ordering,
) -> std::cmp::Ordering {
    let cv = |e: &Entry| baseline[e.person as usize].cv10_pct.unwrap_or(-1.0);
    let risk = |e: &Entry| benefit::annual_risk(&baseline[e.person as usize]);
    a.band.cmp(&b.band).then_with(|| match a.band {
        Band::Urgent => b
            .score
            .max_priority
            .cmp(&a.score.max_priority)
            .then(risk(b).total_cmp(&risk(a)))
            .then(b.value.total_cmp(&a.value))
            .then_with(ids),
        Band::Routine => b
            .value
            .total_cmp(&a.value)
            .then(b.score.max_priority.cmp(&a.score.max_priority))
            .then(cv(b).total_cmp(&cv(a)))
            .then(b.gaps.len().cmp(&a.gaps.len()))
            .then_with(ids),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::exclusions::Outcome;

    #[test]
    fn lists_are_ordered_ranked_and_counted_per_clinic() {
        let ids = PatientIds::Int(vec![50, 40, 30, 20, 10, 60]);
        let clinic = [0, 0, 0, 1, 1, 1];
        let alive = [true, true, true, true, true, false];
        let dead = [false, false, false, false, false, true];
        let allowed = [true, true, false, true, true, true];
        let mut contacts = vec![Vec::new(); 6];
        contacts[4] = vec![Contact {
            date: 95,
            criterion: Some("B".into()),
            outcome: Outcome::NoAnswer,
        }];
        let band = [None; 6];
        let tier = [None; 6];
        let baseline = [Baseline::default(); 6];
        let people = People {
            ids: &ids,
            clinic: &clinic,
            n_clinics: 2,
            alive: &alive,
            dead: &dead,
            outreach_allowed: &allowed,
            contacts: &contacts,
            band: &band,
            tier: &tier,
            baseline: &baseline,
        };
        let criteria = vec!["A".to_string(), "B".to_string()];
        let g = |person, criterion, priority| OpenGap {
            person,
            criterion,
            priority,
        };
        let gaps = [
            g(0, 0, 5),
            g(1, 0, 5),
            g(2, 1, 9),
            g(3, 0, 3),
            g(4, 1, 9),
            g(4, 0, 2),
        ];
        let additive = RankConfig {
            order: Order::Additive,
            ..RankConfig::default()
        };
        let r = rank(&people, &criteria, &gaps, 100, &additive);
        let order: Vec<(u32, u32, u32)> = r
            .entries
            .iter()
            .map(|e| (e.clinic, e.rank, e.person))
            .collect();
        // Clinic 0: persons 0 and 1 tie (50 points): id 40 (person 1) first; person 2 withdrew.
        // Clinic 1: person 4's B gap rests, A remains (20 points) < person 3 (30).
        assert_eq!(order, vec![(0, 1, 1), (0, 2, 0), (1, 1, 3), (1, 2, 4)]);
        let e4 = &r.entries[3];
        assert_eq!(
            (e4.gaps.clone(), e4.resting, e4.score.total()),
            (vec![5], 1, 20)
        );
        assert_eq!(
            r.counts[0],
            ClinicCounts {
                with_gaps: 3,
                listed: 2,
                excluded: [0, 1, 0, 0]
            }
        );
        assert_eq!(
            r.counts[1],
            ClinicCounts {
                with_gaps: 2,
                listed: 2,
                excluded: [1, 0, 0, 0]
            }
        );
    }

    #[test]
    fn order_does_not_depend_on_input_order() {
        let n = 300u32;
        let ids = PatientIds::Str((0..n).map(|i| format!("p{:03}", (i * 7919) % n)).collect());
        let clinic: Vec<u32> = (0..n).map(|i| i % 3).collect();
        let alive = vec![true; n as usize];
        let dead = vec![false; n as usize];
        let allowed = vec![true; n as usize];
        let contacts = vec![Vec::new(); n as usize];
        let band: Vec<Option<RiskBand>> = (0..n)
            .map(|i| RiskBand::ALL.get((i % 4) as usize).copied())
            .collect();
        let tier = vec![None; n as usize];
        let baseline = vec![Baseline::default(); n as usize];
        let people = People {
            ids: &ids,
            clinic: &clinic,
            n_clinics: 3,
            alive: &alive,
            dead: &dead,
            outreach_allowed: &allowed,
            contacts: &contacts,
            band: &band,
            tier: &tier,
            baseline: &baseline,
        };
        let criteria: Vec<String> = (0..4).map(|i| format!("C{i}")).collect();
        let mut gaps: Vec<OpenGap> = (0..n)
            .flat_map(|p| {
                (0..(p % 3)).map(move |k| OpenGap {
                    person: p,
                    criterion: k,
                    priority: ((p + k) % 10 + 1) as u8,
                })
            })
            .collect();
        let cfg = RankConfig {
            order: Order::Additive,
            ..RankConfig::default()
        };
        let a = rank(&people, &criteria, &gaps, 0, &cfg);
        gaps.reverse();
        let b = rank(&people, &criteria, &gaps, 0, &cfg);
        let key = |r: &Ranked| -> Vec<(u32, u32, u32, u32)> {
            r.entries
                .iter()
                .map(|e| (e.clinic, e.rank, e.person, e.score.total()))
                .collect()
        };
        assert_eq!(key(&a), key(&b));
        // Within a clinic, scores never increase down the list.
        for w in a.entries.windows(2) {
            if w[0].clinic == w[1].clinic {
                assert!(w[0].score.total() >= w[1].score.total());
            }
        }
    }
}
