//! Ranking and call-list export for a city-sized population (640,000 people,
//! 30 clinics, ~300 criteria, about 1.3 open gaps per person with gaps), with
//! synthetic firings generated in memory. Run: `cargo bench --bench rank`.

use caregap::data::PatientIds;
use caregap::rank::benefit::Baseline;
use caregap::rank::calllist::{OpenGap, People, rank};
use caregap::rank::config::RankConfig;
use caregap::rank::exclusions::{Contact, OUTCOMES};
use caregap::rank::export::{CriterionText, ListContext, batch_csv, calllist_batch};
use caregap::rank::risk::{CvInputs, CvRisk, assess_cv, utilisation_tiers};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::hint::black_box;

const N: usize = 640_000;
const CLINICS: usize = 30;
const CRITERIA: u32 = 300;
const AS_OF: i32 = 20_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct World {
    ids: PatientIds,
    clinic: Vec<u32>,
    clinics: Vec<String>,
    alive: Vec<bool>,
    allowed: Vec<bool>,
    contacts: Vec<Vec<Contact>>,
    language: Vec<Option<String>>,
    cv: Vec<Option<CvRisk>>,
    measure: Vec<Option<f64>>,
    criteria: Vec<String>,
    gaps: Vec<OpenGap>,
    evidence: arrow::array::StringArray,
    texts: HashMap<String, CriterionText>,
}

fn world() -> World {
    let mut r = Rng(0x9E3779B97F4A7C15);
    let criteria: Vec<String> = (0..CRITERIA).map(|i| format!("CRIT.{i:03}")).collect();
    let texts = criteria
        .iter()
        .map(|c| {
            (
                c.clone(),
                CriterionText {
                    title: format!("Care gap {c}"),
                    action: Some(format!("Nurse visit for {c}")),
                },
            )
        })
        .collect();
    let mut gaps = Vec::new();
    let mut evidence = Vec::new();
    let mut contacts = vec![Vec::new(); N];
    let mut cv = Vec::with_capacity(N);
    let mut measure = Vec::with_capacity(N);
    for (p, mine) in contacts.iter_mut().enumerate() {
        let k = [0, 0, 1, 1, 1, 2, 3][r.below(7) as usize];
        for _ in 0..k {
            gaps.push(OpenGap {
                person: p as u32,
                criterion: r.below(u64::from(CRITERIA)) as u32,
                priority: 1 + r.below(10) as u8,
            });
            evidence.push(Some(format!(
                "last value {} on 2024-0{}-1{}",
                r.below(200),
                1 + r.below(9),
                r.below(10)
            )));
        }
        if r.below(20) == 0 {
            mine.push(Contact {
                date: AS_OF - r.below(400) as i32,
                criterion: Some(criteria[r.below(u64::from(CRITERIA)) as usize].clone()),
                outcome: OUTCOMES[r.below(4) as usize],
            });
        }
        let age = 20.0 + r.below(75) as f64;
        cv.push(Some(assess_cv(&CvInputs {
            age: Some(age),
            sex: Some(if r.below(2) == 0 { "F" } else { "M" }),
            smoker: Some(r.below(5) == 0),
            sbp: Some(100.0 + r.below(80) as f64),
            total_chol: Some(3.0 + r.below(40) as f64 / 10.0),
            hdl: Some(0.8 + r.below(15) as f64 / 10.0),
            has_cvd: Some(r.below(20) == 0),
            has_diabetes: Some(r.below(12) == 0),
        })));
        measure.push(Some(r.below(12) as f64));
    }
    World {
        ids: PatientIds::Int((0..N as i64).map(|i| (i * 7_919) % 10_000_019).collect()),
        clinic: (0..N).map(|_| r.below(CLINICS as u64) as u32).collect(),
        clinics: (0..CLINICS).map(|c| format!("HS{c:02}")).collect(),
        alive: (0..N).map(|_| r.below(200) != 0).collect(),
        allowed: (0..N).map(|_| r.below(50) != 0).collect(),
        contacts,
        language: (0..N)
            .map(|_| Some(["fi", "sv", "en"][r.below(3) as usize].to_string()))
            .collect(),
        cv,
        measure,
        criteria,
        gaps,
        evidence: evidence.into_iter().collect(),
        texts,
    }
}

fn bench(c: &mut Criterion) {
    let w = world();
    let tier = utilisation_tiers(&w.measure);
    let dead: Vec<bool> = w.alive.iter().map(|a| !a).collect();
    let band: Vec<_> =
        w.cv.iter()
            .map(|c| c.as_ref().and_then(|c| c.band))
            .collect();
    // Baselines from the SCORE2 risks (no AF): the benefit order's inputs.
    let baseline: Vec<Baseline> =
        w.cv.iter()
            .map(|c| Baseline {
                cv10_pct: c.as_ref().and_then(|c| c.risk_pct),
                sbp: Some(150.0),
                ..Baseline::default()
            })
            .collect();
    let people = People {
        ids: &w.ids,
        clinic: &w.clinic,
        n_clinics: CLINICS,
        alive: &w.alive,
        dead: &dead,
        outreach_allowed: &w.allowed,
        contacts: &w.contacts,
        band: &band,
        tier: &tier,
        baseline: &baseline,
    };
    let cfg = RankConfig::default();
    let ctx = ListContext {
        ids: &w.ids,
        clinics: &w.clinics,
        language: &w.language,
        cv: &w.cv,
        tier: &tier,
        measure: &w.measure,
        measure_name: "visits_pc_12mo",
        criteria: &w.criteria,
        gaps: &w.gaps,
        evidence: &w.evidence,
        texts: &w.texts,
    };
    let mut g = c.benchmark_group("rank_640k");
    g.sample_size(10);
    g.bench_function("utilisation_tiers", |b| {
        b.iter(|| black_box(utilisation_tiers(&w.measure)))
    });
    g.bench_function("rank", |b| {
        b.iter(|| black_box(rank(&people, &w.criteria, &w.gaps, AS_OF, &cfg)))
    });
    g.bench_function("rank_and_export_capacity_100_csv", |b| {
        b.iter(|| {
            let r = rank(&people, &w.criteria, &w.gaps, AS_OF, &cfg);
            // Each clinic's list cut at 100 rows, rendered and encoded as CSV.
            let mut start = 0;
            let mut bytes = 0;
            for ci in 0..CLINICS as u32 {
                let len = r.entries[start..]
                    .iter()
                    .take_while(|e| e.clinic == ci)
                    .count();
                let batch = calllist_batch(&r.entries[start..start + len.min(100)], &ctx).unwrap();
                bytes += batch_csv(&batch).unwrap().len();
                start += len;
            }
            black_box(bytes)
        })
    });
    g.bench_function("rank_and_export_all_rows", |b| {
        b.iter(|| {
            let r = rank(&people, &w.criteria, &w.gaps, AS_OF, &cfg);
            let batch = calllist_batch(&r.entries, &ctx).unwrap();
            black_box(batch_csv(&batch).unwrap().len())
        })
    });
    // The two halves of the full export, apart: building the call-list batch
    // (the texts of every row) and encoding it as CSV.
    let r = rank(&people, &w.criteria, &w.gaps, AS_OF, &cfg);
    g.bench_function("calllist_batch_all_rows", |b| {
        b.iter(|| black_box(calllist_batch(&r.entries, &ctx).unwrap().num_rows()))
    });
    let batch = calllist_batch(&r.entries, &ctx).unwrap();
    g.bench_function("csv_all_rows", |b| {
        b.iter(|| black_box(batch_csv(&batch).unwrap().len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
