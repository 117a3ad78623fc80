//! The benefit order of the call lists (`caregap::rank::calllist::rank`,
//! docs/ranking.md "Who is called first"): urgent people first at every
//! capacity (property test against a slow reference of the documented
//! order), no outcome counted twice, and the fall-back scale that many
//! reminders never climb.

use caregap::data::PatientIds;
use caregap::rank::benefit::{Band, Baseline, Order, annual_risk};
use caregap::rank::calllist::{OpenGap, People, Ranked, rank};
use caregap::rank::config::RankConfig;
use proptest::prelude::*;

/// A small world: people with clinics, baselines and open gaps.
#[derive(Debug)]
struct World {
    ids: PatientIds,
    clinic: Vec<u32>,
    baseline: Vec<Baseline>,
    criteria: Vec<String>,
    gaps: Vec<OpenGap>,
}

impl World {
    fn rank(&self, cfg: &RankConfig) -> Ranked {
        let n = self.clinic.len();
        let (alive, dead, allowed) = (vec![true; n], vec![false; n], vec![true; n]);
        let contacts = vec![Vec::new(); n];
        let (band, tier) = (vec![None; n], vec![None; n]);
        let people = People {
            ids: &self.ids,
            clinic: &self.clinic,
            n_clinics: 1 + self.clinic.iter().copied().max().unwrap_or(0) as usize,
            alive: &alive,
            dead: &dead,
            outreach_allowed: &allowed,
            contacts: &contacts,
            band: &band,
            tier: &tier,
            baseline: &self.baseline,
        };
        rank(&people, &self.criteria, &self.gaps, 20_000, cfg)
    }
}

/// Criteria the generated worlds draw from: quantified ones and reminders.
const CRITERIA: [&str; 8] = [
    "HTN.BP_UNCONTROLLED",
    "DM.BP_ABOVE_TARGET",
    "CHD.NO_STATIN",
    "AF.NO_ANTICOAGULANT",
    "LIFE.SMOKER_NO_CESSATION",
    "DM.HBA1C_OVERDUE",
    "IMM.TD_BOOSTER",
    "X.LOCAL_REMINDER",
];

fn world() -> impl Strategy<Value = World> {
    let person = (
        0u32..3,
        prop::option::of(1.0f64..60.0),
        prop::option::of(0.2f64..12.0),
        prop::option::of(100.0f64..200.0),
        prop::collection::vec((0u32..8, 1u8..=10), 1..12),
    );
    prop::collection::vec(person, 1..60).prop_map(|people| {
        let mut w = World {
            ids: PatientIds::Int((0..people.len() as i64).map(|i| 1000 - i).collect()),
            clinic: Vec::new(),
            baseline: Vec::new(),
            criteria: CRITERIA.iter().map(|s| s.to_string()).collect(),
            gaps: Vec::new(),
        };
        for (p, (clinic, cv10, af, sbp, gaps)) in people.into_iter().enumerate() {
            w.clinic.push(clinic);
            w.baseline.push(Baseline {
                cv10_pct: cv10,
                af_stroke_pct: af,
                sbp,
                ldl: Some(3.5),
            });
            let mut seen = Vec::new();
            for (c, priority) in gaps {
                if !seen.contains(&c) {
                    seen.push(c);
                    w.gaps.push(OpenGap {
                        person: p as u32,
                        criterion: c,
                        priority,
                    });
                }
            }
        }
        w
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// At every capacity, nobody routine is ahead of anybody urgent; the
    /// bands are what the priorities say; within each band the documented
    /// keys never increase down the list; ranks count 1, 2, 3 per clinic.
    #[test]
    fn urgent_first_at_every_capacity(w in world(), urgent_priority in 7u8..=10) {
        let mut cfg = RankConfig::default();
        cfg.benefit.urgent_priority = urgent_priority;
        let r = w.rank(&cfg);
        for clinic in 0..3u32 {
            let list: Vec<_> = r.entries.iter().filter(|e| e.clinic == clinic).collect();
            for (i, e) in list.iter().enumerate() {
                prop_assert_eq!(e.rank as usize, i + 1);
                let max = w.gaps.iter().filter(|g| g.person == e.person).map(|g| g.priority).max();
                let urgent = max.is_some_and(|m| m >= urgent_priority);
                prop_assert_eq!(e.band == Band::Urgent, urgent);
            }
            for capacity in 0..=list.len() {
                let (reached, left) = list.split_at(capacity);
                let routine_reached = reached.iter().any(|e| e.band == Band::Routine);
                let urgent_left = left.iter().any(|e| e.band == Band::Urgent);
                prop_assert!(!(routine_reached && urgent_left), "capacity {}", capacity);
            }
            for pair in list.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if a.band == b.band {
                    match a.band {
                        Band::Urgent => {
                            prop_assert!(a.score.max_priority >= b.score.max_priority);
                            if a.score.max_priority == b.score.max_priority {
                                let risk = |p: u32| annual_risk(&w.baseline[p as usize]);
                                prop_assert!(risk(a.person) >= risk(b.person));
                            }
                        }
                        Band::Routine => prop_assert!(a.value >= b.value),
                    }
                }
            }
        }
        // The additive order is the old score order, urgent or not.
        cfg.order = Order::Additive;
        let old = w.rank(&cfg);
        for pair in old.entries.windows(2) {
            if pair[0].clinic == pair[1].clinic {
                prop_assert!(pair[0].score.total() >= pair[1].score.total());
            }
        }
    }
}

fn gap(person: u32, criterion: &str, priority: u8, w: &mut World) {
    let c = match w.criteria.iter().position(|x| x == criterion) {
        Some(c) => c,
        None => {
            w.criteria.push(criterion.to_string());
            w.criteria.len() - 1
        }
    };
    w.gaps.push(OpenGap {
        person,
        criterion: c as u32,
        priority,
    });
}

fn order(r: &Ranked) -> Vec<u32> {
    r.entries.iter().map(|e| e.person).collect()
}

#[test]
fn many_reminders_never_outrank_one_urgent_or_high_benefit_gap() {
    // 0: forty reminders of priority 5 (no quantified effect).
    // 1: one unquantified gap of priority 6.
    // 2: one BP gap at SBP 160, ten-year risk 15 %.
    // 3: one urgent gap (priority 9), nothing else.
    let mut w = World {
        ids: PatientIds::Int(vec![1, 2, 3, 4]),
        clinic: vec![0; 4],
        baseline: vec![
            Baseline {
                cv10_pct: Some(15.0),
                sbp: Some(160.0),
                ..Baseline::default()
            };
            4
        ],
        criteria: Vec::new(),
        gaps: Vec::new(),
    };
    for k in 0..40 {
        gap(0, &format!("REMINDER.{k:02}"), 5, &mut w);
    }
    gap(1, "MONITORING.X", 6, &mut w);
    gap(2, "HTN.BP_UNCONTROLLED", 7, &mut w);
    gap(3, "SCR.FIT_POSITIVE_NO_COLONOSCOPY", 9, &mut w);
    let new = w.rank(&RankConfig::default());
    assert_eq!(order(&new), vec![3, 2, 1, 0]);
    // The reminders are worth one of them: the priority-5 fall-back.
    let e0 = new.entries.iter().find(|e| e.person == 0).unwrap();
    assert_eq!(e0.value, RankConfig::default().benefit.fallback[4]);
    assert_eq!(e0.gaps.len(), 40);
    // The old score puts the forty reminders first (10·5 + 2·5·39 = 440).
    let old = w.rank(&RankConfig {
        order: Order::Additive,
        ..RankConfig::default()
    });
    assert_eq!(order(&old)[0], 0);
}

#[test]
fn one_visit_does_not_prevent_the_same_stroke_twice() {
    // The same person three ways: one BP criterion; three BP criteria (one
    // action); BP and a statin (one outcome, combined, not added).
    let base = Baseline {
        cv10_pct: Some(20.0),
        sbp: Some(160.0),
        ldl: Some(4.0),
        af_stroke_pct: None,
    };
    let mut w = World {
        ids: PatientIds::Int(vec![1, 2, 3]),
        clinic: vec![0; 3],
        baseline: vec![base; 3],
        criteria: Vec::new(),
        gaps: Vec::new(),
    };
    gap(0, "HTN.BP_UNCONTROLLED", 7, &mut w);
    for c in [
        "HTN.BP_UNCONTROLLED",
        "DM.BP_ABOVE_TARGET",
        "HTN.UNCONTROLLED_UNTREATED",
    ] {
        gap(1, c, 7, &mut w);
    }
    gap(2, "HTN.BP_UNCONTROLLED", 7, &mut w);
    gap(2, "CHD.NO_STATIN", 8, &mut w);
    let r = w.rank(&RankConfig::default());
    let arr = |p: u32| {
        r.entries
            .iter()
            .find(|e| e.person == p)
            .unwrap()
            .benefit
            .arr[0]
            .unwrap()
    };
    let bp = 20.0 * (1.0 - 0.8f64.powi(2));
    assert!((arr(0) - bp).abs() < 1e-9);
    assert_eq!(arr(1), arr(0));
    let statin = 1.0 - 0.78f64.powf(0.45 * 4.0);
    let combined = 20.0 * (1.0 - (1.0 - 0.36) * (1.0 - statin));
    assert!((arr(2) - combined).abs() < 1e-9, "{}", arr(2));
    assert!(arr(2) < bp + 20.0 * statin);
}
