//! The traps of the spec, one hand-written case each, through the real engine
//! (and, for each, the reference evaluator agrees).

mod reference;
mod support;

use caregap::data::{Day, EventKind::*, Population};
use caregap::eval::{EvalOptions, EvidenceMode, FeatureValues, Status, evaluate};
use caregap::lang::ir::{AggFunc::*, ArithOp, CmpOp, Expr, ExprKind, Library, Type, Window::*};
use caregap::plan;
use support::*;

fn lib_with_features(features: Vec<Expr>) -> Library {
    Library {
        value_sets: random_value_sets(),
        features: features
            .into_iter()
            .enumerate()
            .map(|(i, e)| feature(&format!("f{i}"), e))
            .collect(),
        hash: "h".into(),
        ..Library::default()
    }
}

/// Evaluates features for the single person of `pop`; `None` = null, booleans 1/0.
/// Also checks the reference agrees.
fn features_of(lib: &Library, pop: &Population, as_of: Day) -> Vec<Option<f64>> {
    let plan = plan::compile(lib);
    let e = evaluate(&plan, pop, as_of, &EvalOptions::default()).unwrap();
    assert_eq!(e.alive.len(), 1, "the person must be alive");
    let got: Vec<Option<f64>> = e
        .features
        .iter()
        .map(|c| {
            c.valid[0].then(|| match &c.values {
                FeatureValues::Num(v) => v[0],
                FeatureValues::Bool(v) => v[0] as u8 as f64,
            })
        })
        .collect();
    let r = reference::evaluate(lib, pop, as_of);
    assert_eq!(
        got,
        r.people[0].as_ref().unwrap().features,
        "engine vs reference"
    );
    got
}

const SBP: usize = 2;
const STATIN: usize = 5;
const HTN: usize = 0;
const HBA1C: usize = 3;
const PE: usize = 10;
const BLANK: usize = 11;

fn sbp(date: Day, v: Option<f64>) -> RawEvent {
    ev(date, Measurement, "LOINC", "8480-6", v)
}

#[test]
fn windows_are_half_open_and_months_clamp_to_month_end() {
    let as_of = day(2024, 3, 31);
    // 1mo back from 2024-03-31 is 2024-02-29: that day is outside, 03-01 inside.
    let pop = population(
        as_of,
        &[patient(
            day(1950, 1, 1),
            vec![
                ev(day(2024, 2, 29), Diagnosis, "ICD10", "I10", None),
                ev(day(2024, 3, 1), Diagnosis, "ICD10", "I10", None),
                ev(as_of, Diagnosis, "ICD10", "I10", None),
                ev(as_of + 1, Diagnosis, "ICD10", "I10", None),
            ],
        )],
    );
    let lib = lib_with_features(vec![
        agg(Count, HTN, Some(Months(1))),
        agg(Count, HTN, Some(Days(31))),
        agg(Count, HTN, Some(Days(0))),
        agg(Count, HTN, None),
        agg(Has, HTN, Some(Days(0))),
        agg(DaysSince, HTN, None),
        agg(DaysSinceFirst, HTN, None),
    ]);
    assert_eq!(
        features_of(&lib, &pop, as_of),
        vec![
            Some(2.0),
            Some(2.0),
            Some(0.0),
            Some(3.0),
            Some(0.0),
            Some(0.0),
            Some(31.0)
        ]
    );
    // Evaluated a day earlier, the as_of event is invisible too.
    assert_eq!(features_of(&lib, &pop, as_of - 1)[3], Some(2.0));
}

#[test]
fn last_and_first_skip_nulls_and_break_date_ties_by_largest_value() {
    let as_of = day(2025, 6, 30);
    let d1 = day(2025, 1, 10);
    let d2 = day(2025, 5, 2);
    let pop = population(
        as_of,
        &[patient(
            day(1960, 5, 5),
            vec![
                sbp(d1, Some(150.0)),
                sbp(d1, Some(170.0)),
                sbp(d2, Some(120.0)),
                sbp(d2, Some(135.0)),
                sbp(day(2025, 6, 1), None),
                sbp(day(2025, 6, 29), Some(f64::NAN)),
            ],
        )],
    );
    let lib = lib_with_features(vec![
        agg(Last, SBP, None),
        agg(First, SBP, None),
        agg(Min, SBP, None),
        agg(Max, SBP, None),
        agg(Mean, SBP, None),
        agg(Count, SBP, None),
        agg(DaysSince, SBP, None),
        agg(Last, SBP, Some(Days(0))),
    ]);
    assert_eq!(
        features_of(&lib, &pop, as_of),
        vec![
            Some(135.0),
            Some(170.0),
            Some(120.0),
            Some(170.0),
            Some(143.75),
            Some(6.0),
            Some(1.0),
            None
        ]
    );
}

#[test]
fn units_differing_are_set_aside_and_counted() {
    let as_of = day(2025, 6, 30);
    let mut a = sbp(day(2025, 6, 1), Some(150.0));
    a.unit = Some(" MMHG ".into());
    let mut b = sbp(day(2025, 6, 2), Some(20.0));
    b.unit = Some("kPa".into());
    let mut c = sbp(day(2025, 6, 3), Some(19.0));
    c.unit = Some("mm[Hg]".into());
    let d = sbp(day(2025, 5, 3), Some(140.0)); // no unit: the declared one
    let pop = population(as_of, &[patient(day(1960, 5, 5), vec![a, b, c, d])]);
    let lib = lib_with_features(vec![
        agg(Last, SBP, None),
        agg(Count, SBP, None),
        agg(Has, SBP, Some(Days(30))),
    ]);
    assert_eq!(
        features_of(&lib, &pop, as_of),
        vec![Some(150.0), Some(2.0), Some(1.0)]
    );
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &EvalOptions::default()).unwrap();
    assert_eq!(e.unit_mismatches[SBP], 2);
}

/// Issue 22: an empty or blank unit string is a unit, one that matches no
/// declared unit (not even a blank one); only null means "the declared unit".
#[test]
fn empty_and_blank_units_are_units_that_match_no_declared_unit() {
    let as_of = day(2025, 6, 30);
    let hba1c = |d: u32, v: f64, unit: Option<&str>| {
        let mut e = ev(day(2025, 6, d), Measurement, "LOINC", "4548-4", Some(v));
        e.unit = unit.map(str::to_string);
        e
    };
    let mut events = vec![
        hba1c(1, 40.0, None),
        hba1c(2, 41.0, Some("")),
        hba1c(3, 42.0, Some("   ")),
    ];
    for (d, unit) in [(4, ""), (5, "  "), (6, " MMHG ")] {
        let mut e = sbp(day(2025, 6, d), Some(150.0 + d as f64));
        e.unit = Some(unit.into());
        events.push(e);
    }
    let pop = population(as_of, &[patient(day(1960, 5, 5), events)]);
    let lib = lib_with_features(vec![
        // lab.sbp declares mmHg: "" and "  " are set aside, " MMHG " is used.
        agg(Count, SBP, None),
        agg(Last, SBP, None),
        // lab.hba1c declares no unit: every unit, blank ones too.
        agg(Count, HBA1C, None),
        // lab.blank declares a blank unit: only the null-unit row matches.
        agg(Count, BLANK, None),
        agg(Last, BLANK, None),
    ]);
    assert_eq!(
        features_of(&lib, &pop, as_of),
        vec![Some(1.0), Some(156.0), Some(3.0), Some(1.0), Some(40.0)]
    );
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &EvalOptions::default()).unwrap();
    assert_eq!(e.unit_mismatches[SBP], 2);
    assert_eq!(e.unit_mismatches[BLANK], 2);
}

/// Issue 22: the range rule for codes shorter than the bounds. A code
/// compares by its first characters, as many as the bounds have; a shorter
/// code is compared whole (`I27` lies between `I269` and `I270`; `I2` and
/// `I26` sort before `I269`).
#[test]
fn range_compares_shorter_codes_whole() {
    let as_of = day(2025, 6, 30);
    let has = |vs: usize, code: &str| {
        let pop = population(
            as_of,
            &[patient(
                day(1960, 5, 5),
                vec![ev(day(2025, 1, 1), Diagnosis, "ICD10", code, None)],
            )],
        );
        features_of(&lib_with_features(vec![agg(Has, vs, None)]), &pop, as_of)[0] == Some(1.0)
    };
    for (code, inside) in [
        ("I27", true),
        ("I26.9", true),
        ("I26.99", true),
        ("I27.0", true),
        ("I27.01", true),
        ("I26", false),
        ("I2", false),
        ("I27.1", false),
        ("I28", false),
        ("J", false),
    ] {
        assert_eq!(has(PE, code), inside, "{code} in I26.9..I27.0");
    }
    // And the spec's own example: `I1` is outside `I10..I15`, `I15` inside.
    for (code, inside) in [("I1", false), ("I15", true), ("I159", true), ("I16", false)] {
        assert_eq!(has(HTN, code), inside, "{code} in I10..I15");
    }
}

#[test]
fn active_uses_supply_grace_and_default() {
    let as_of = day(2025, 6, 30);
    let med = |date: Day, v: Option<f64>| ev(date, Medication, "ATC", "C10AA05", v);
    let case = |events: Vec<RawEvent>, grace: Option<caregap::lang::ir::Window>| {
        let pop = population(as_of, &[patient(day(1960, 1, 1), events)]);
        features_of(
            &lib_with_features(vec![agg(Active, STATIN, grace)]),
            &pop,
            as_of,
        )[0]
    };
    // 30 days supply from 30 days ago: as_of < date + 30 is false.
    assert_eq!(case(vec![med(as_of - 30, Some(30.0))], None), Some(0.0));
    assert_eq!(case(vec![med(as_of - 30, Some(30.5))], None), Some(1.0));
    assert_eq!(
        case(vec![med(as_of - 30, Some(30.0))], Some(Days(1))),
        Some(1.0)
    );
    // Null supply is 90 days.
    assert_eq!(case(vec![med(as_of - 89, None)], None), Some(1.0));
    assert_eq!(case(vec![med(as_of - 90, None)], None), Some(0.0));
    // Supply 0 never, even with grace; a negative supply is unusable.
    assert_eq!(case(vec![med(as_of, Some(0.0))], Some(Days(30))), Some(0.0));
    assert_eq!(
        case(vec![med(as_of, Some(-5.0))], Some(Days(30))),
        Some(0.0)
    );
    // A future dispensing is invisible.
    assert_eq!(case(vec![med(as_of + 1, Some(100.0))], None), Some(0.0));
}

#[test]
fn age_in_completed_years_with_leap_day_birthdays() {
    let born = day(2000, 2, 29);
    let lib = lib_with_features(vec![age()]);
    for (as_of, want) in [
        (day(2023, 2, 28), 22.0),
        (day(2023, 3, 1), 23.0),
        (day(2024, 2, 29), 24.0),
    ] {
        let pop = population(as_of, &[patient(born, vec![])]);
        assert_eq!(features_of(&lib, &pop, as_of), vec![Some(want)]);
    }
}

#[test]
fn three_valued_logic_and_null_arithmetic() {
    let as_of = day(2025, 1, 1);
    let pop = population(as_of, &[patient(day(1970, 1, 1), vec![])]);
    let n = || agg(Last, SBP, None); // null: no measurements
    let b = |e: Expr| e;
    let lib = lib_with_features(vec![
        and(null(), boolean(false)),
        or(null(), boolean(true)),
        not(cmp(CmpOp::Gt, n(), num(1.0))),
        arith(ArithOp::Div, num(1.0), num(0.0)),
        arith(ArithOp::Div, num(0.0), num(0.0)),
        arith(ArithOp::Mul, num(1e308), num(10.0)),
        ex(Type::Num, ExprKind::Round(Box::new(num(-2.5)))),
        ex(Type::Num, ExprKind::Round(Box::new(num(2.5)))),
        ex(Type::Num, ExprKind::Least(vec![n(), num(3.0), num(-1.0)])),
        ex(Type::Num, ExprKind::Greatest(vec![n(), null()])),
        ex(Type::Num, ExprKind::Coalesce(vec![n(), num(7.0)])),
        // if(null, 1, 2) = 2
        ex(
            Type::Num,
            ExprKind::If(
                Box::new(b(cmp(CmpOp::Eq, n(), num(1.0)))),
                Box::new(num(1.0)),
                Box::new(num(2.0)),
            ),
        ),
        // 1 in (2, null) = null; 2 in (2, null) = true
        ex(
            Type::Bool,
            ExprKind::In(Box::new(num(1.0)), vec![num(2.0), null()]),
        ),
        ex(
            Type::Bool,
            ExprKind::In(Box::new(num(2.0)), vec![num(2.0), null()]),
        ),
        // null between 1 and 2 = null; 5 between 1 and null = null; 0 between 1 and null = false
        ex(
            Type::Bool,
            ExprKind::Between(Box::new(n()), Box::new(num(1.0)), Box::new(num(2.0))),
        ),
        ex(
            Type::Bool,
            ExprKind::Between(Box::new(num(5.0)), Box::new(num(1.0)), Box::new(null())),
        ),
        ex(
            Type::Bool,
            ExprKind::Between(Box::new(num(0.0)), Box::new(num(1.0)), Box::new(null())),
        ),
        ex(
            Type::Bool,
            ExprKind::IsNull {
                expr: Box::new(n()),
                negated: false,
            },
        ),
        agg(Count, SBP, None),
        agg(Has, SBP, None),
        cmp(CmpOp::Eq, ex(Type::Str, ExprKind::Sex), string("f")),
    ]);
    assert_eq!(
        features_of(&lib, &pop, as_of),
        vec![
            Some(0.0),
            Some(1.0),
            None,
            None,
            None,
            Some(f64::INFINITY),
            Some(-3.0),
            Some(3.0),
            Some(-1.0),
            None,
            Some(7.0),
            Some(2.0),
            None,
            Some(1.0),
            None,
            None,
            Some(0.0),
            Some(1.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
        ]
    );
}

#[test]
fn only_people_alive_on_as_of_are_scored() {
    let as_of = day(2025, 1, 1);
    let mut dead_today = patient(day(1950, 1, 1), vec![]);
    dead_today.death = Some(as_of);
    let mut dies_tomorrow = patient(day(1950, 1, 1), vec![]);
    dies_tomorrow.death = Some(as_of + 1);
    let born_today = patient(as_of, vec![]);
    let born_tomorrow = patient(as_of + 1, vec![]);
    let pop = population(
        as_of,
        &[dead_today, dies_tomorrow, born_today, born_tomorrow],
    );
    let mut lib = lib_with_features(vec![]);
    lib.criteria
        .push(criterion("ALL", boolean(true), boolean(true), None));
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &EvalOptions::default()).unwrap();
    assert_eq!(e.alive, vec![1, 2]);
    assert_eq!(e.status_of(0, 0), None);
    assert_eq!(e.status_of(0, 1), Some(Status::Open));
}

#[test]
fn statuses_follow_is_true_and_exclusion_wins() {
    let as_of = day(2025, 1, 1);
    let pop = population(as_of, &[patient(day(1950, 1, 1), vec![])]);
    let unknown = || cmp(CmpOp::Gt, agg(Last, SBP, None), num(140.0)); // null
    let mut lib = lib_with_features(vec![]);
    lib.criteria = vec![
        criterion("NULL_POP", unknown(), boolean(true), None),
        criterion("NULL_GAP", boolean(true), unknown(), None),
        criterion("NULL_EXCL", boolean(true), boolean(true), Some(unknown())),
        criterion("EXCL", boolean(true), boolean(true), Some(boolean(true))),
        criterion(
            "CLOSED",
            boolean(true),
            boolean(false),
            Some(boolean(false)),
        ),
    ];
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &EvalOptions::default()).unwrap();
    let got: Vec<Status> = e.status.iter().map(|s| s[0]).collect();
    assert_eq!(
        got,
        vec![
            Status::NotInPopulation,
            Status::Closed,
            Status::Open,
            Status::Excluded,
            Status::Closed
        ]
    );
}

#[test]
fn evidence_names_values_and_dates_through_definitions() {
    let as_of = day(2025, 12, 1);
    let pop = population(
        as_of,
        &[patient(
            day(1950, 1, 1),
            vec![
                ev(day(2019, 4, 2), Diagnosis, "ICD10", "I10", None),
                sbp(day(2025, 11, 3), Some(162.0)),
            ],
        )],
    );
    let mut lib = lib_with_features(vec![]);
    lib.definitions.push(caregap::lang::ir::Definition {
        name: "hypertensive".into(),
        expr: agg(Has, HTN, None),
        origin: origin(),
    });
    lib.criteria.push(criterion(
        "HTN.BP",
        and(
            cmp(CmpOp::Ge, age(), num(18.0)),
            ex(Type::Bool, ExprKind::Def(0)),
        ),
        cmp(CmpOp::Ge, agg(Last, SBP, Some(Months(12))), num(140.0)),
        Some(agg(Has, 8, Some(Months(12)))),
    ));
    let opts = EvalOptions {
        evidence: EvidenceMode::Firings,
        ..EvalOptions::default()
    };
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &opts).unwrap();
    assert_eq!(e.firings.len(), 1);
    assert_eq!(
        e.evidence(&e.firings[0]),
        "age = 75; has(dx.htn) = true (latest 2019-04-02); last(lab.sbp, 12mo) = 162 on 2025-11-03; has(proc.colo, 12mo) = false"
    );
}

/// A person's firings share items (rendered once, then copied): every
/// firing still shows its own person's values, never the previous person's.
#[test]
fn shared_evidence_items_belong_to_their_person() {
    let as_of = day(2025, 12, 1);
    let pop = population(
        as_of,
        &[
            patient(
                day(1950, 1, 1),
                vec![
                    ev(day(2019, 4, 2), Diagnosis, "ICD10", "I10", None),
                    sbp(day(2025, 11, 3), Some(162.0)),
                ],
            ),
            patient(
                day(1960, 1, 1),
                vec![
                    ev(day(2020, 5, 6), Diagnosis, "ICD10", "I10", None),
                    sbp(day(2025, 10, 1), Some(150.5)),
                ],
            ),
        ],
    );
    let mut lib = lib_with_features(vec![]);
    let last_sbp = || agg(Last, SBP, Some(Months(12)));
    lib.criteria.push(criterion(
        "C1",
        agg(Has, HTN, None),
        cmp(CmpOp::Ge, last_sbp(), num(140.0)),
        None,
    ));
    lib.criteria.push(criterion(
        "C2",
        and(cmp(CmpOp::Ge, age(), num(18.0)), agg(Has, HTN, None)),
        cmp(CmpOp::Ge, last_sbp(), num(145.0)),
        None,
    ));
    let opts = EvalOptions {
        evidence: EvidenceMode::Firings,
        ..EvalOptions::default()
    };
    let e = evaluate(&plan::compile(&lib), &pop, as_of, &opts).unwrap();
    let texts: Vec<(u32, u32, &str)> = e
        .firings
        .iter()
        .map(|f| (f.patient, f.criterion, e.evidence(f)))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                0,
                0,
                "has(dx.htn) = true (latest 2019-04-02); last(lab.sbp, 12mo) = 162 on 2025-11-03"
            ),
            (
                0,
                1,
                "age = 75; has(dx.htn) = true (latest 2019-04-02); last(lab.sbp, 12mo) = 162 on 2025-11-03"
            ),
            (
                1,
                0,
                "has(dx.htn) = true (latest 2020-05-06); last(lab.sbp, 12mo) = 150.5 on 2025-10-01"
            ),
            (
                1,
                1,
                "age = 65; has(dx.htn) = true (latest 2020-05-06); last(lab.sbp, 12mo) = 150.5 on 2025-10-01"
            ),
        ]
    );
}

#[test]
fn plan_shares_aggregates_and_definitions() {
    let mut lib = lib_with_features(vec![agg(Has, HTN, None)]);
    lib.definitions.push(caregap::lang::ir::Definition {
        name: "d".into(),
        expr: and(agg(Has, HTN, None), cmp(CmpOp::Ge, age(), num(18.0))),
        origin: origin(),
    });
    let d = || ex(Type::Bool, ExprKind::Def(0));
    for i in 0..5 {
        lib.criteria.push(criterion(
            &format!("C{i}"),
            d(),
            cmp(CmpOp::Lt, agg(Count, 7, Some(Months(12))), num(i as f64)),
            None,
        ));
    }
    let p = plan::compile(&lib);
    assert_eq!(p.aggregates.len(), 2, "{}", p.explain());
    assert_eq!(p.aggregate_uses, vec![6, 5]);
    // The definition is one node shared by all criteria.
    let roots: Vec<u32> = p.criteria.iter().map(|c| c.population).collect();
    assert!(roots.iter().all(|&r| r == p.definitions[0].root));
    assert!(p.explain().contains("has(dx.htn)"));
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = Rng(7);
    let lib = random_library(&mut rng);
    let as_of = random_as_of(&mut rng);
    let pop = random_population(&mut rng, as_of, 3000);
    let plan = plan::compile(&lib);
    let opts = EvalOptions {
        evidence: EvidenceMode::InPopulation,
        ..EvalOptions::default()
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| evaluate(&plan, &pop, as_of, &opts).unwrap())
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn as_of_after_load_date_is_refused() {
    let as_of = day(2025, 1, 1);
    let pop = population(as_of, &[patient(day(1950, 1, 1), vec![])]);
    let plan = plan::compile(&lib_with_features(vec![]));
    let err = evaluate(&plan, &pop, as_of + 1, &EvalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("2025-01-02"), "{err}");
}

/// A random library (changed by `edit`) and population of `n` people from
/// `seed`, evaluated with the evidence of every person in a population.
fn random_case(
    seed: u64,
    n: usize,
    edit: impl FnOnce(&mut Library),
) -> (plan::Plan, Population, Day, EvalOptions<'static>) {
    let mut rng = Rng(seed);
    let mut lib = random_library(&mut rng);
    edit(&mut lib);
    let as_of = random_as_of(&mut rng);
    let pop = random_population(&mut rng, as_of, n);
    let opts = EvalOptions {
        evidence: EvidenceMode::InPopulation,
        ..EvalOptions::default()
    };
    (plan::compile(&lib), pop, as_of, opts)
}

/// What a test sink collects of one block: its parts' people, statuses,
/// firings with their texts and summary counts, then the block's features.
struct Collected {
    index: usize,
    people: Vec<u32>,
    status: Vec<Vec<Status>>,
    features: Vec<(FeatureValues, Vec<bool>)>,
    firings: Vec<(u32, u32, Status, String)>,
    counts: caregap::eval::SummaryCounts,
}

/// A sink that keeps everything `evaluate_blocks` hands over, checking that
/// each block's parts come in order and make up the block.
struct Collect<'a> {
    plan: &'a plan::Plan,
    pop: &'a Population,
}

impl caregap::eval::BlockSink for Collect<'_> {
    type Open = Collected;
    type Done = Collected;

    fn open(&self, block: usize) -> Collected {
        Collected {
            index: block,
            people: Vec::new(),
            status: vec![Vec::new(); self.plan.criteria.len()],
            features: Vec::new(),
            firings: Vec::new(),
            counts: caregap::eval::SummaryCounts::zeros(self.plan, self.pop),
        }
    }

    fn part(&self, open: &mut Collected, part: caregap::eval::Part<'_>) {
        assert_eq!(part.block, open.index);
        assert!(!part.people.is_empty() && part.people.len() <= caregap::eval::PART_PEOPLE);
        open.people.extend_from_slice(part.people);
        for (all, st) in open.status.iter_mut().zip(part.status) {
            assert_eq!(st.len(), part.people.len());
            all.extend_from_slice(st);
        }
        open.firings.extend(part.firings.iter().map(|f| {
            (
                f.patient,
                f.criterion,
                f.status,
                part.evidence(f).to_string(),
            )
        }));
        open.counts.add_people(self.pop, part.people, part.status);
    }

    fn close(&self, mut open: Collected, block: caregap::eval::Block<'_>) -> Collected {
        assert_eq!(block.index, open.index);
        assert_eq!(block.people, open.people.as_slice());
        open.features = block.features.to_vec();
        open
    }
}

/// `evaluate_blocks` (what `caregap score` runs) hands over exactly what
/// `evaluate` keeps: the same statuses, features, firings and evidence texts,
/// block by block and part by part in population order, and the same
/// summary; for block sizes that do and do not divide the population, with
/// one and several parts per block, at 1 and 3 threads.
#[test]
fn block_by_block_evaluation_equals_the_whole() {
    use caregap::eval::{SummaryCounts, evaluate_blocks, summarize};
    let (plan, pop, as_of, opts) = random_case(7, 2000, |_| ());
    let whole = evaluate(&plan, &pop, as_of, &opts).unwrap();
    assert!(!whole.firings.is_empty());
    let summary = summarize(&plan, &pop, &whole);
    let sink = Collect {
        plan: &plan,
        pop: &pop,
    };
    for (threads, block_people) in [(1, 128), (3, 128), (3, 300), (1, 1500), (3, 5000)] {
        let (done, blocks) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| evaluate_blocks(&plan, &pop, as_of, &opts, block_people, &sink).unwrap());
        assert_eq!(done.alive, whole.alive);
        assert_eq!(done.unit_mismatches, whole.unit_mismatches);
        let mut people = Vec::new();
        let mut status = vec![Vec::new(); plan.criteria.len()];
        let mut features = vec![(Vec::new(), Vec::new()); plan.features.len()];
        let mut firings = Vec::new();
        let mut counts = SummaryCounts::zeros(&plan, &pop);
        for (k, b) in blocks.into_iter().enumerate() {
            assert_eq!(b.index, k);
            assert!(b.people.len() <= block_people.div_ceil(128) * 128);
            people.extend(b.people);
            for (all, part) in status.iter_mut().zip(b.status) {
                all.extend(part);
            }
            for ((values, valid), (v, ok)) in features.iter_mut().zip(b.features) {
                let v = match v {
                    FeatureValues::Num(v) => v,
                    FeatureValues::Bool(v) => v.into_iter().map(f64::from).collect(),
                };
                values.extend(v);
                valid.extend(ok);
            }
            firings.extend(b.firings);
            counts.add(&b.counts);
        }
        assert_eq!(people, whole.alive);
        assert_eq!(status, whole.status);
        for ((values, valid), f) in features.iter().zip(&whole.features) {
            let expected = match &f.values {
                FeatureValues::Num(v) => v.clone(),
                FeatureValues::Bool(v) => v.iter().map(|&b| f64::from(b)).collect(),
            };
            assert_eq!(values, &expected);
            assert_eq!(valid, &f.valid);
        }
        let expected: Vec<(u32, u32, Status, String)> = whole
            .firings
            .iter()
            .map(|f| {
                (
                    f.patient,
                    f.criterion,
                    f.status,
                    whole.evidence(f).to_string(),
                )
            })
            .collect();
        assert_eq!(firings, expected);
        assert_eq!(counts.rows(&plan, &pop), summary);
    }
}

/// `caregap score`'s files (with `--status`) written block by block (many small blocks, three
/// threads, so that blocks finish out of order and feature row groups span
/// several blocks) hold exactly the whole evaluation's rows, in order.
#[test]
fn streamed_files_hold_the_whole_evaluation_in_order() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};
    use caregap::eval::evaluate_blocks;
    use caregap::output::tables::{FEATURE_GROUP_BLOCKS, ScoreSink};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let (plan, pop, as_of, opts) = random_case(13, 3000, |lib| {
        lib.features = vec![feature("n_events", agg(Count, 0, None))];
    });
    let whole = evaluate(&plan, &pop, as_of, &opts).unwrap();
    assert!(whole.firings.len() > 100, "{} rows", whole.firings.len());
    let dir = tempfile::tempdir().unwrap();
    let (firings_path, features_path) = (
        dir.path().join("firings.parquet"),
        dir.path().join("features.parquet"),
    );
    let sink = ScoreSink::create(dir.path(), &plan, &pop).unwrap();
    let (_, blocks) = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| evaluate_blocks(&plan, &pop, as_of, &opts, 128, &sink).unwrap());
    let blocks: Vec<usize> = blocks
        .into_iter()
        .map(|b| b.unwrap().firings.rows)
        .collect();
    assert!(
        blocks.len() > 2 * FEATURE_GROUP_BLOCKS,
        "{} blocks",
        blocks.len()
    );
    assert_eq!(blocks.iter().sum::<usize>(), whole.firings.len());
    sink.finish().unwrap();

    let read = |path: &std::path::Path| {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        let groups = reader.metadata().num_row_groups();
        let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        (
            groups,
            arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap(),
        )
    };
    let ids = |b: &arrow::array::RecordBatch| -> Vec<i64> {
        b.column_by_name("patient_id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    };
    let pid = |p: u32| match &pop.patients.ids {
        caregap::data::PatientIds::Int(v) => v[p as usize],
        caregap::data::PatientIds::Str(_) => unreachable!("random populations have integer ids"),
    };

    let (groups, x) = read(&features_path);
    assert_eq!(groups, blocks.len().div_ceil(FEATURE_GROUP_BLOCKS));
    assert_eq!(
        ids(&x),
        whole.alive.iter().map(|&p| pid(p)).collect::<Vec<_>>()
    );
    let n = x
        .column_by_name("n_events")
        .unwrap()
        .as_primitive::<Float64Type>();
    let FeatureValues::Num(expected) = &whole.features[0].values else {
        panic!("count is numeric")
    };
    assert_eq!(n.null_count(), 0);
    assert_eq!(n.values().to_vec(), *expected);

    let (groups, f) = read(&firings_path);
    assert_eq!(groups, blocks.iter().filter(|&&rows| rows > 0).count());
    assert_eq!(
        ids(&f),
        whole
            .firings
            .iter()
            .map(|w| pid(w.patient))
            .collect::<Vec<_>>()
    );
    let evidence = f.column_by_name("evidence").unwrap().as_string::<i32>();
    for (k, w) in whole.firings.iter().enumerate() {
        assert_eq!(evidence.value(k), whole.evidence(w));
    }
}
