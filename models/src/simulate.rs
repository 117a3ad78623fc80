//! A synthetic population with realistic structure, for tests, benchmarks
//! and the LightGBM comparison when real generator output is not at hand.
//!
//! Each person has a persistent gamma frailty (mean 1, variance
//! `1/FRAILTY_SHAPE`) that multiplies a baseline visit rate driven by age (a
//! U shape), sex, deprivation, distance and eight chronic conditions (whose
//! prevalence itself rises with age and frailty), with an age × multimorbidity
//! interaction. Yearly primary-care visits (doctor, nurse, phone) are Poisson
//! given the frailty, so past counts predict future ones. Lab values are
//! missing more often for people without the related condition.
//!
//! Two data sets share the people: `train` has features at year `t − 1` and
//! visits in year `t` as label; `test` has features at `t` and visits in
//! `t + 1`, with `mu_true` the true expected count (baseline × frailty).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson};
use rayon::prelude::*;

use crate::data::Dataset;

/// Shape of the gamma frailty.
pub const FRAILTY_SHAPE: f64 = 1.5;

/// Simulated train/test sets.
pub struct Simulated {
    /// Features at `t − 1`, label = visits in `t`.
    pub train: Dataset,
    /// Features at `t`, label = visits in `t + 1`.
    pub test: Dataset,
    /// True expected visits in `t + 1` for each test row.
    pub test_mu_true: Vec<f64>,
}

const CONDITIONS: [(&str, f64, f64); 8] = [
    // name, prevalence intercept (logit at age 0), effect on visits
    ("diabetes", -5.0, 0.30),
    ("hypertension", -4.2, 0.15),
    ("copd", -6.0, 0.35),
    ("heart_failure", -7.0, 0.45),
    ("depression", -2.6, 0.40),
    ("asthma", -2.8, 0.20),
    ("ckd", -6.5, 0.30),
    ("dementia", -9.0, 0.25),
];

/// Feature names in column order.
pub fn feature_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "age",
        "sex_female",
        "deprivation",
        "distance_km",
        "lives_alone",
        "smoker",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(CONDITIONS.iter().map(|c| c.0.to_string()));
    v.extend(
        [
            "n_conditions",
            "n_medications",
            "visits_1y",
            "visits_2y",
            "doctor_1y",
            "nurse_1y",
            "phone_1y",
            "er_visits_1y",
            "admissions_1y",
            "no_show_1y",
            "hba1c",
            "ldl",
            "bmi",
            "sbp",
            "days_since_last_visit",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

struct Person {
    age0: f64,
    female: bool,
    dep: f64,
    dist: f64,
    alone: bool,
    smoker: bool,
    cond: [bool; 8],
    meds: f64,
    hba1c: f64,
    ldl: f64,
    bmi: f64,
    sbp: f64,
    /// Visits per year for years t−3 ..= t+1 (index 0 = t−3).
    doctor: [f64; 5],
    nurse: [f64; 5],
    phone: [f64; 5],
    er: [f64; 5],
    adm: [f64; 5],
    noshow: [f64; 5],
    last_gap: [f64; 5],
    mu: [f64; 5],
}

fn base_rate(p: &Person, age: f64) -> f64 {
    let a = age / 10.0;
    // U shape in age: small children and the old visit most.
    let age_term = 0.9 * (-age / 4.0).exp() + 0.025 * (a - 3.0).powi(2);
    let conds: f64 = p
        .cond
        .iter()
        .zip(CONDITIONS)
        .map(|(&c, (_, _, e))| if c { e } else { 0.0 })
        .sum();
    let n_cond = p.cond.iter().filter(|&&c| c).count() as f64;
    let multi = if age > 70.0 && n_cond >= 2.0 {
        0.25
    } else {
        0.0
    };
    let log_mu = -0.35 + age_term + if p.female { 0.22 } else { 0.0 } + 0.12 * p.dep
        - 0.08 * (1.0 + p.dist).ln()
        + conds
        + multi
        + if p.alone && age > 65.0 { 0.15 } else { 0.0 }
        + 0.04 * (p.meds.min(10.0));
    log_mu.exp()
}

// The `unwrap`s below construct distributions from constants or from means
// that are positive by construction (a sum of positive terms, or guarded by
// `m > 0.0`): they cannot fail, and no user input reaches them.
fn simulate_person(rng: &mut ChaCha8Rng) -> Person {
    let frailty = Gamma::new(FRAILTY_SHAPE, 1.0 / FRAILTY_SHAPE)
        .unwrap()
        .sample(rng);
    let age0 = (rng.random::<f64>() * 0.8 + rng.random::<f64>() * 0.4).min(1.0) * 95.0;
    let dep: f64 = Normal::new(0.0, 1.0).unwrap().sample(rng);
    let mut cond = [false; 8];
    for (k, (_, icpt, _)) in CONDITIONS.iter().enumerate() {
        let logit = icpt + 0.06 * age0.min(90.0) + 0.25 * dep + 0.5 * frailty.ln();
        cond[k] = rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp());
    }
    let n_cond = cond.iter().filter(|&&c| c).count() as f64;
    let meds = Poisson::new(0.2 + 1.1 * n_cond + 0.01 * age0)
        .unwrap()
        .sample(rng);
    let missing = |rng: &mut ChaCha8Rng, pm: f64| rng.random::<f64>() < pm;
    let norm = |rng: &mut ChaCha8Rng, m: f64, s: f64| Normal::new(m, s).unwrap().sample(rng);
    let hba1c = if missing(rng, if cond[0] { 0.1 } else { 0.8 }) {
        f64::NAN
    } else {
        norm(rng, if cond[0] { 58.0 } else { 37.0 }, 8.0)
    };
    let ldl = if missing(rng, if age0 > 40.0 { 0.4 } else { 0.9 }) {
        f64::NAN
    } else {
        norm(rng, 3.0, 0.9)
    };
    let bmi = if missing(rng, 0.35) {
        f64::NAN
    } else {
        norm(rng, 26.5, 4.5)
    };
    let sbp = if missing(rng, if cond[1] { 0.15 } else { 0.6 }) {
        f64::NAN
    } else {
        norm(rng, if cond[1] { 145.0 } else { 128.0 }, 14.0)
    };
    let mut p = Person {
        age0,
        female: rng.random::<bool>(),
        dep,
        dist: (norm(rng, 1.0, 0.9)).exp(),
        alone: rng.random::<f64>() < 0.15 + 0.003 * age0,
        smoker: rng.random::<f64>() < 0.18,
        cond,
        meds,
        hba1c,
        ldl,
        bmi,
        sbp,
        doctor: [0.0; 5],
        nurse: [0.0; 5],
        phone: [0.0; 5],
        er: [0.0; 5],
        adm: [0.0; 5],
        noshow: [0.0; 5],
        last_gap: [0.0; 5],
        mu: [0.0; 5],
    };
    for year in 0..5 {
        let age = age0 + year as f64;
        // Year-to-year variation around the persistent frailty.
        let wobble = Gamma::new(12.0, 1.0 / 12.0).unwrap().sample(rng);
        let mu = base_rate(&p, age) * frailty;
        p.mu[year] = mu;
        let m = mu * wobble;
        let pois = |rng: &mut ChaCha8Rng, m: f64| {
            if m > 0.0 {
                Poisson::new(m).unwrap().sample(rng)
            } else {
                0.0
            }
        };
        p.doctor[year] = pois(rng, 0.5 * m);
        p.nurse[year] = pois(rng, 0.3 * m);
        p.phone[year] = pois(rng, 0.2 * m);
        p.er[year] = pois(rng, 0.08 * m.sqrt() * (1.0 + p.dep.max(0.0)));
        p.adm[year] = pois(rng, 0.03 * m.sqrt() * (1.0 + n_cond));
        p.noshow[year] = pois(rng, 0.05 * m * (1.0 + 0.5 * p.dep.max(0.0)));
        let total = p.doctor[year] + p.nurse[year] + p.phone[year];
        p.last_gap[year] = if total > 0.0 {
            (rng.random::<f64>() * 365.0 / total).floor()
        } else {
            f64::NAN
        };
    }
    p
}

/// Feature row of person `p` at the start of year index `y` (features look
/// back at years `y − 1` and `y − 2`).
fn features(p: &Person, y: usize, out: &mut Vec<f64>) {
    let n_cond = p.cond.iter().filter(|&&c| c).count() as f64;
    out.clear();
    out.extend([
        (p.age0 + y as f64).floor(),
        f64::from(u8::from(p.female)),
        p.dep,
        p.dist,
        f64::from(u8::from(p.alone)),
        f64::from(u8::from(p.smoker)),
    ]);
    out.extend(p.cond.iter().map(|&c| f64::from(u8::from(c))));
    let visits = |k: usize| p.doctor[k] + p.nurse[k] + p.phone[k];
    out.extend([
        n_cond,
        p.meds,
        visits(y - 1),
        visits(y - 2),
        p.doctor[y - 1],
        p.nurse[y - 1],
        p.phone[y - 1],
        p.er[y - 1],
        p.adm[y - 1],
        p.noshow[y - 1],
        p.hba1c,
        p.ldl,
        p.bmi,
        p.sbp,
        p.last_gap[y - 1],
    ]);
}

/// Simulates `n` people, deterministic for `seed` (whatever the threads).
pub fn simulate(n: usize, seed: u64) -> Simulated {
    const CH: usize = 4096;
    let people: Vec<Person> = (0..n.div_ceil(CH))
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            (c * CH..((c + 1) * CH).min(n))
                .map(move |_| simulate_person(&mut rng))
                .collect::<Vec<_>>()
        })
        .collect();
    let names = feature_names();
    let k = names.len();
    let build = |y: usize| {
        let mut cols = vec![Vec::with_capacity(n); k];
        let mut labels = Vec::with_capacity(n);
        let mut row = Vec::with_capacity(k);
        for p in &people {
            features(p, y, &mut row);
            for (c, v) in cols.iter_mut().zip(&row) {
                c.push(*v);
            }
            labels.push(p.doctor[y] + p.nurse[y] + p.phone[y]);
        }
        Dataset::new(names.clone(), cols, labels, None).expect("simulated data are valid")
    };
    Simulated {
        train: build(3),
        test: build(4),
        test_mu_true: people.iter().map(|p| p.mu[4]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sensible() {
        let a = simulate(3000, 1);
        let b = simulate(3000, 1);
        assert_eq!(a.train.labels(), b.train.labels());
        assert_eq!(a.train.n_features(), feature_names().len());
        let mean = a.test.labels().iter().sum::<f64>() / 3000.0;
        let mean_true = a.test_mu_true.iter().sum::<f64>() / 3000.0;
        assert!(mean > 1.0 && mean < 8.0, "{mean}");
        assert!((mean / mean_true - 1.0).abs() < 0.1);
    }
}
