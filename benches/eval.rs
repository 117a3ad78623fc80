//! Evaluation benchmarks: a generated library of realistic criteria over an
//! in-memory population (~100 events per person), population already loaded.
//!
//! - `cargo bench --bench eval` — criterion runs at 64k and 640k people × 300
//!   criteria (plan compile included separately).
//! - `CAREGAP_SCALING=1 cargo bench --bench eval -- scaling` — prints the
//!   scaling table (64k → 640k → 2M people at 300 criteria; 30 → 300 → 1000
//!   criteria at 640k people), best of 3 per cell.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::hint::black_box;
use std::time::Instant;

use caregap::data::{
    CodeEntry, CodeTable, Day, DictColumn, EventKind, Events, PatientIds, Patients, Population,
};
use caregap::eval::{EvalOptions, EvidenceMode, evaluate};
use caregap::lang::ir::{
    AggFunc::*, ArithOp, CmpOp, Definition, Expr, ExprKind, Library, Type, ValueSet, Window,
};
use caregap::plan;
use caregap::timing::cpu_seconds;
use criterion::{Criterion, criterion_group};
use support::*;

const EVENTS_PER_PERSON: usize = 100;

/// 60 value sets: 20 dx, 15 lab (half with a unit), 10 med, 5 visit, 5 proc, 5 imm.
fn value_sets() -> Vec<ValueSet> {
    let mut out = Vec::new();
    let groups: [(&str, EventKind, &str, usize); 6] = [
        ("dx", EventKind::Diagnosis, "ICD10", 20),
        ("lab", EventKind::Measurement, "LOINC", 15),
        ("med", EventKind::Medication, "ATC", 10),
        ("visit", EventKind::Visit, "VISIT", 5),
        ("proc", EventKind::Procedure, "NOMESCO", 5),
        ("imm", EventKind::Immunization, "ATC", 5),
    ];
    for (prefix, kind, system, n) in groups {
        for i in 0..n {
            let unit = (kind == EventKind::Measurement && i % 2 == 0).then_some("mmol/l");
            let pat = format!("{}{i:02}", &prefix[..1].to_uppercase());
            out.push(vs(
                &format!("{prefix}.s{i}"),
                kind,
                unit,
                &[(system, &[pat.as_str()])],
            ));
        }
    }
    out
}

/// Code dictionary: per value set 8 codes matching its prefix pattern, plus
/// 200 codes matching nothing. Returns (codes, value set of each code or None).
fn code_table(sets: &[ValueSet]) -> Vec<CodeEntry> {
    let mut codes = Vec::new();
    for s in sets {
        let (system, pats) = &s.systems[0];
        let caregap::lang::ir::Pattern::Prefix(p) = &pats[0] else {
            unreachable!()
        };
        for k in 0..8 {
            codes.push(CodeEntry {
                kind: s.kind,
                system: system.clone(),
                code: format!("{p}{k}"),
            });
        }
    }
    for k in 0..200 {
        codes.push(CodeEntry {
            kind: EventKind::Diagnosis,
            system: "ICD10".into(),
            code: format!("Z{k:03}"),
        });
    }
    codes
}

/// A population of `n` people with ~100 events each over 10 years before `as_of`.
pub fn synth_population(n: usize, as_of: Day, seed: u64) -> Population {
    let sets = value_sets();
    let codes = code_table(&sets);
    let mut rng = Rng(seed);
    let mut ev = Events {
        offsets: Vec::with_capacity(n + 1),
        date: Vec::with_capacity(n * EVENTS_PER_PERSON),
        code: Vec::with_capacity(n * EVENTS_PER_PERSON),
        value: Vec::with_capacity(n * EVENTS_PER_PERSON),
        has_value: Vec::with_capacity(n * EVENTS_PER_PERSON),
        unit: Vec::with_capacity(n * EVENTS_PER_PERSON),
    };
    ev.offsets.push(0);
    let mut birth = Vec::with_capacity(n);
    let mut dates = Vec::with_capacity(2 * EVENTS_PER_PERSON);
    for _ in 0..n {
        birth.push(as_of - 365 * (1 + rng.below(95) as i32) - rng.below(365) as i32);
        let k = EVENTS_PER_PERSON / 2 + rng.below(EVENTS_PER_PERSON);
        dates.clear();
        dates.extend((0..k).map(|_| as_of - rng.below(3650) as i32));
        dates.sort_unstable();
        // Each person has a few chronic conditions (each dx set with p = 8%);
        // most events are visits, labs and medications.
        let conditions: Vec<usize> = (0..20).filter(|_| rng.chance(8)).collect();
        for &d in &dates {
            let r = rng.below(100);
            let c = if r < 10 && !conditions.is_empty() {
                conditions[rng.below(conditions.len())] * 8 + rng.below(8)
            } else if r < 40 {
                160 + rng.below(120) // labs
            } else if r < 60 {
                280 + rng.below(80) // medications
            } else if r < 85 {
                360 + rng.below(40) // visits
            } else if r < 92 {
                400 + rng.below(80) // procedures, immunizations
            } else {
                480 + rng.below(200) // codes in no value set
            };
            let kind = codes[c].kind;
            let (value, has) = match kind {
                EventKind::Measurement => (40.0 + rng.below(1600) as f64 / 10.0, rng.chance(95)),
                EventKind::Medication => ([30.0, 90.0, 100.0][rng.below(3)], rng.chance(90)),
                _ => (0.0, false),
            };
            ev.date.push(d);
            ev.code.push(c as u32);
            ev.value.push(value);
            ev.has_value.push(has);
            ev.unit.push(if kind == EventKind::Measurement {
                rng.below(3) as u32
            } else {
                0
            });
        }
        ev.offsets.push(ev.date.len() as u32);
    }
    let dict = |values: &[&str], rng: &mut Rng| DictColumn {
        codes: (0..n)
            .map(|_| Some(rng.below(values.len()) as u32))
            .collect(),
        values: values.iter().map(|s| s.to_string()).collect(),
    };
    let sex = dict(&["F", "M"], &mut rng);
    let clinic_names: Vec<String> = (0..25).map(|i| format!("HS{i:02}")).collect();
    let clinic_refs: Vec<&str> = clinic_names.iter().map(String::as_str).collect();
    let clinic = dict(&clinic_refs, &mut rng);
    Population {
        as_of,
        patients: Patients {
            ids: PatientIds::Int((0..n as i64).collect()),
            birth_date: birth,
            sex,
            clinic,
            death_date: (0..n)
                .map(|_| rng.chance(1).then_some(as_of - 10))
                .collect(),
            municipality: DictColumn {
                codes: vec![None; n],
                values: vec![],
            },
            language: DictColumn {
                codes: vec![None; n],
                values: vec![],
            },
        },
        events: ev,
        codes: CodeTable { entries: codes },
        units: vec![String::new(), "mmol/l".into(), "mg/dl".into()],
    }
}

/// A library of `n` criteria in the shape of real care-gap rules, plus 20
/// definitions and 10 features.
pub fn synth_library(n: usize, seed: u64) -> Library {
    let sets = value_sets();
    let mut rng = Rng(seed);
    let dx = |i: usize| i;
    let lab = |i: usize| 20 + i;
    let med = |i: usize| 35 + i;
    let visit = |i: usize| 45 + i;
    let procs = |i: usize| 50 + i;
    let imm = |i: usize| 55 + i;
    let months = |m| Some(Window::Months(m));
    let mut lib = Library {
        value_sets: sets,
        hash: "bench".into(),
        ..Library::default()
    };
    for d in 0..20 {
        let expr = or(agg(Has, dx(d), None), agg(Has, dx((d + 7) % 20), None));
        lib.definitions.push(Definition {
            name: format!("cond{d}"),
            expr,
            origin: origin(),
        });
    }
    let def = |d: usize| ex(Type::Bool, ExprKind::Def(d));
    for c in 0..n {
        let age_min = [18.0, 40.0, 50.0, 65.0][rng.below(4)];
        let population = and(cmp(CmpOp::Ge, age(), num(age_min)), def(rng.below(20)));
        let gap = match rng.below(6) {
            0 => cmp(
                CmpOp::Ge,
                agg(Last, lab(rng.below(15)), months(12)),
                num(120.0 + rng.below(40) as f64),
            ),
            1 => cmp(
                CmpOp::Eq,
                agg(Count, visit(rng.below(5)), months(12)),
                num(0.0),
            ),
            2 => not(agg(Active, med(rng.below(10)), Some(Window::Days(30)))),
            3 => {
                let d = agg(DaysSince, procs(rng.below(5)), None);
                or(
                    cmp(CmpOp::Gt, d.clone(), num(365.0 * (1 + rng.below(5)) as f64)),
                    ex(
                        Type::Bool,
                        ExprKind::IsNull {
                            expr: Box::new(d),
                            negated: false,
                        },
                    ),
                )
            }
            4 => not(agg(Has, imm(rng.below(5)), months(12))),
            _ => or(
                cmp(
                    CmpOp::Ge,
                    agg(Last, lab(rng.below(15)), months(12)),
                    num(140.0),
                ),
                cmp(
                    CmpOp::Ge,
                    agg(Mean, lab(rng.below(15)), months(24)),
                    num(90.0),
                ),
            ),
        };
        let exclude = rng.chance(40).then(|| agg(Has, dx(19), months(12)));
        lib.criteria
            .push(criterion(&format!("C{c:04}"), population, gap, exclude));
    }
    for f in 0..10 {
        let expr: Expr = match f % 3 {
            0 => agg(Count, visit(f % 5), months(12)),
            1 => arith(
                ArithOp::Add,
                agg(Count, dx(f), None),
                agg(Max, lab(f), months(24)),
            ),
            _ => def(f),
        };
        lib.features.push(feature(&format!("feat{f}"), expr));
    }
    lib
}

fn as_of() -> Day {
    day(2026, 1, 1)
}

fn bench_eval(c: &mut Criterion) {
    let lib = synth_library(300, 1);
    c.bench_function("plan_compile_300", |b| {
        b.iter(|| plan::compile(black_box(&lib)))
    });
    let plan = plan::compile(&lib);
    let opts = EvalOptions {
        evidence: EvidenceMode::Firings,
        ..EvalOptions::default()
    };
    let mut group = c.benchmark_group("evaluate_300_criteria");
    group.sample_size(10);
    for n in [64_000usize, 640_000] {
        let pop = synth_population(n, as_of(), 2);
        group.bench_function(format!("{n}_people"), |b| {
            b.iter(|| evaluate(&plan, black_box(&pop), as_of(), &opts).unwrap())
        });
    }
    group.finish();
}

/// Best wall seconds of two runs, and the CPU seconds of that run.
fn time_best(plan: &plan::Plan, pop: &Population, opts: &EvalOptions) -> (f64, f64) {
    (0..2)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_seconds());
            black_box(evaluate(plan, pop, as_of(), opts).unwrap());
            (t.elapsed().as_secs_f64(), cpu_seconds() - c)
        })
        .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a })
}

fn scaling() {
    let with = EvalOptions {
        evidence: EvidenceMode::Firings,
        ..EvalOptions::default()
    };
    let without = EvalOptions::default();
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "{:>10} {:>9} {:>8} {:>8} {:>12} {:>10} {:>16}",
        "people", "criteria", "eval_s", "cpu_s", "with_evid_s", "firings", "ns/person/crit"
    );
    let row = |n: usize, k: usize, plan: &plan::Plan, pop: &Population| {
        let (s, cpu) = time_best(plan, pop, &without);
        let (se, _) = time_best(plan, pop, &with);
        let firings = evaluate(plan, pop, as_of(), &with).unwrap().firings.len();
        println!(
            "{n:>10} {k:>9} {s:>8.3} {cpu:>8.2} {se:>12.3} {firings:>10} {:>16.2}",
            s * 1e9 / (n as f64 * k as f64)
        );
    };
    let plan300 = plan::compile(&synth_library(300, 1));
    let sizes: Vec<usize> = std::env::var("CAREGAP_SCALING_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![64_000, 640_000, 2_000_000]);
    for n in sizes {
        let pop = synth_population(n, as_of(), 2);
        println!("# {n} people, {} events", pop.events.len());
        row(n, 300, &plan300, &pop);
        if n == 640_000 {
            for k in [30usize, 1000] {
                row(n, k, &plan::compile(&synth_library(k, 1)), &pop);
            }
        }
    }
}

criterion_group!(benches, bench_eval);

fn main() {
    if std::env::var_os("CAREGAP_SCALING").is_some() {
        scaling();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
