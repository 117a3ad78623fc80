//! The per-person simulation: one person, one RNG stream, all their rows.
//!
//! A person is simulated over the whole horizon `(as_of - years, as_of + future_years]`
//! at once, so that the future year comes from the same latent state (frailty,
//! engagement, conditions, treatments) as the history and history predicts it.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};

use crate::codes::{self, Cond, Conv, Lab, N_COND};

pub type Day = i32;
const NEVER: Day = i32::MAX;
/// Shape of the persistent frailty `Z ~ Gamma(shape, 1/shape)` (mean 1).
const FRAILTY_SHAPE: f64 = 0.8;
const YEAR: f64 = 365.25;

/// The dates the simulation works with, derived from the configuration once.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub as_of: Day,
    /// Exclusive start of the history: `as_of - years` (calendar years).
    pub start: Day,
    /// Inclusive end of the future: `as_of + future_years` (1 year by default).
    pub end: Day,
    /// Yearly periods `(exclusive start, inclusive end)`: the history's, then
    /// the future years'.
    pub periods: Vec<(Day, Day)>,
    /// Index in `periods` of the first future year (the one after `as_of`).
    pub first_future: usize,
}

/// Clinics: (id, relative size, municipality, share of Swedish speakers).
pub const CLINICS: [(&str, f64, &str, f64); 25] = [
    ("HC01", 1.6, "Espoo", 0.06),
    ("HC02", 1.4, "Espoo", 0.07),
    ("HC03", 1.2, "Espoo", 0.05),
    ("HC04", 1.1, "Espoo", 0.08),
    ("HC05", 0.9, "Espoo", 0.05),
    ("HC06", 0.8, "Espoo", 0.04),
    ("HC07", 1.3, "Espoo", 0.06),
    ("HC08", 1.0, "Espoo", 0.05),
    ("HC09", 0.7, "Espoo", 0.09),
    ("HC10", 1.5, "Vantaa", 0.03),
    ("HC11", 1.2, "Vantaa", 0.02),
    ("HC12", 1.0, "Vantaa", 0.03),
    ("HC13", 0.9, "Vantaa", 0.02),
    ("HC14", 1.3, "Vantaa", 0.03),
    ("HC15", 0.6, "Vantaa", 0.02),
    ("HC16", 0.8, "Kerava", 0.02),
    ("HC17", 0.7, "Kerava", 0.02),
    ("HC18", 0.5, "Kirkkonummi", 0.15),
    ("HC19", 0.6, "Kirkkonummi", 0.12),
    ("HC20", 0.4, "Kauniainen", 0.35),
    ("HC21", 0.9, "Lohja", 0.04),
    ("HC22", 0.5, "Lohja", 0.03),
    ("HC23", 0.4, "Raasepori", 0.60),
    ("HC24", 0.3, "Raasepori", 0.65),
    ("HC25", 0.3, "Hanko", 0.45),
];

/// Clinics whose doctors code mostly with ICPC-2.
fn icpc_clinic(c: usize) -> bool {
    matches!(c, 4 | 11 | 18)
}

/// Clinics served by the laboratory that reports LOCAL codes (HC21..HC25).
fn local_lab_clinic(c: usize) -> bool {
    c >= 20
}

/// Finnish population by five-year age band (thousands, about 2024), 0-4 .. 100+.
const PYRAMID: [f64; 21] = [
    235.0, 280.0, 310.0, 305.0, 310.0, 350.0, 365.0, 360.0, 350.0, 330.0, 335.0, 350.0, 355.0,
    345.0, 355.0, 290.0, 180.0, 100.0, 45.0, 12.0, 1.5,
];

/// Annual probability of death at age `a` (Gompertz, roughly Finnish life tables).
fn mortality(age: f64) -> f64 {
    (-9.9 + 0.087 * age).exp().min(0.45)
}

/// Everything persistent about one person.
#[derive(Debug, Clone)]
pub struct Person {
    pub idx: u64,
    pub female: bool,
    pub birth: Day,
    /// Date of death anywhere in the horizon (history or future year).
    pub death: Day,
    pub clinic: usize,
    pub language: Option<&'static str>,
    pub municipality: Option<&'static str>,
    pub frailty: f64,
    /// Health engagement (N(0,1)): adherence, screening, vaccination.
    pub engage: f64,
    pub onset: [Day; N_COND],
}

impl Person {
    pub fn age_at(&self, d: Day) -> f64 {
        (d - self.birth) as f64 / YEAR
    }
    pub fn has(&self, c: Cond, d: Day) -> bool {
        self.onset[c as usize] <= d
    }
    /// Alive on `d` by the data model's rule: born on or before `d` and not
    /// dead on or before it (a person who dies on `d` is not alive on `d`).
    pub fn alive_on(&self, d: Day) -> bool {
        self.birth <= d && d < self.death
    }
    /// Whether `d` is within the person's life, the day of death included:
    /// events (the last visit, a death-day diagnosis) may fall on it.
    pub fn in_life(&self, d: Day) -> bool {
        self.birth <= d && d <= self.death
    }
}

/// One event row before it is split into history and future.
#[derive(Debug, Clone, Copy)]
pub struct Ev {
    pub date: Day,
    pub kind: &'static str,
    pub system: &'static str,
    pub code: Option<&'static str>,
    pub unit: Option<&'static str>,
    pub value: Option<f64>,
}

/// Consent decision row.
#[derive(Debug, Clone, Copy)]
pub struct ConsentRow {
    pub date: Day,
    pub scope: &'static str,
    pub granted: Option<bool>,
}

/// Outreach log row.
#[derive(Debug, Clone, Copy)]
pub struct OutreachRow {
    pub date: Day,
    pub criterion: Option<&'static str>,
    pub outcome: &'static str,
}

/// Everything generated for one person.
#[derive(Debug, Default)]
pub struct Output {
    pub events: Vec<Ev>,
    pub consents: Vec<ConsentRow>,
    pub outreach: Vec<OutreachRow>,
    /// Rows dated after `as_of` that still go to the history file (`messy` only).
    pub misplaced: Vec<Ev>,
    /// Expected primary-care visits in the future year (alive on `as_of` only).
    pub expected_visits: Option<f64>,
    /// Primary-care visits in the last history year (for figures).
    pub pc_visits_last_year: u32,
}

/// The RNG of person `idx`: its own ChaCha8 stream of the seed, so results do not
/// depend on chunking or thread count.
pub fn person_rng(seed: u64, idx: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(idx);
    rng
}

/// The outcome of a generated outreach contact from a uniform draw `r` in
/// [0, 1): booked 40 %, declined 15 %, no answer 30 %, not reachable 15 %.
pub(crate) fn outreach_outcome(r: f64) -> &'static str {
    if r < 0.4 {
        "booked"
    } else if r < 0.55 {
        "declined"
    } else if r < 0.85 {
        "no_answer"
    } else {
        "not_reachable"
    }
}

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn gamma(rng: &mut ChaCha8Rng, shape: f64, scale: f64) -> f64 {
    Gamma::new(shape, scale)
        .map(|g| g.sample(rng))
        .unwrap_or(1.0)
}

fn exp(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = rng.random::<f64>();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Draws the demographics and latent state of person `idx`.
pub fn draw_person(rng: &mut ChaCha8Rng, idx: u64, cal: &Calendar, years: u32) -> Person {
    let female_share = |age: f64| {
        if age < 60.0 {
            0.49
        } else if age < 75.0 {
            0.52
        } else if age < 85.0 {
            0.57
        } else {
            0.68
        }
    };
    // About 1 % of the population dies per year: those are people who were in
    // the register during the history and died before `as_of`.
    let decedent_share = 0.0105 * years as f64;
    let (birth, death, female) = if rng.random::<f64>() < decedent_share / (1.0 + decedent_share) {
        // Age at death: pyramid weighted by mortality (rejection sampling).
        let age = loop {
            let a = pyramid_age(rng);
            if rng.random::<f64>() < mortality(a) / 0.45 {
                break a;
            }
        };
        let death = cal.start + 1 + rng.random_range(0..(cal.as_of - cal.start).max(1));
        let birth = death - (age * YEAR) as Day;
        (birth, death, rng.random::<f64>() < female_share(age))
    } else {
        let age = pyramid_age(rng);
        let birth = cal.as_of - (age * YEAR) as Day;
        (birth, NEVER, rng.random::<f64>() < female_share(age))
    };
    let total: f64 = CLINICS.iter().map(|c| c.1).sum();
    let mut u = rng.random::<f64>() * total;
    let mut clinic = CLINICS.len() - 1;
    for (i, c) in CLINICS.iter().enumerate() {
        if u < c.1 {
            clinic = i;
            break;
        }
        u -= c.1;
    }
    let sv = CLINICS[clinic].3;
    let l = rng.random::<f64>();
    let language = if l < 0.01 {
        None
    } else if l < 0.01 + sv {
        Some("sv")
    } else if l < 0.05 + sv {
        Some("en")
    } else if l < 0.08 + sv {
        Some("ru")
    } else if l < 0.10 + sv {
        Some("et")
    } else if l < 0.115 + sv {
        Some("ar")
    } else if l < 0.125 + sv {
        Some("so")
    } else {
        Some("fi")
    };
    let municipality = (rng.random::<f64>() >= 0.02).then_some(CLINICS[clinic].2);
    let frailty = gamma(rng, FRAILTY_SHAPE, 1.0 / FRAILTY_SHAPE);
    let engage = normal(rng);
    let metabolic = normal(rng);
    let mut p = Person {
        idx,
        female,
        birth,
        death,
        clinic,
        language,
        municipality,
        frailty,
        engage,
        onset: [NEVER; N_COND],
    };
    draw_conditions(rng, &mut p, metabolic);
    if p.death == NEVER {
        // Death in the future year (not written to patients.parquet).
        let age = p.age_at(cal.as_of);
        let n = Cond::ALL.iter().filter(|&&c| p.has(c, cal.as_of)).count() as f64;
        let q = mortality(age) * (0.6 + 0.25 * n) * p.frailty.powf(0.3);
        // One draw per future year (the first year's draws are those of a
        // one-year future, so `future_years = 1` keeps the data unchanged).
        for &(lo, hi) in &cal.periods[cal.first_future..] {
            if rng.random::<f64>() < q.min(0.6) {
                p.death = lo + 1 + rng.random_range(0..(hi - lo));
                break;
            }
        }
    }
    p
}

fn pyramid_age(rng: &mut ChaCha8Rng) -> f64 {
    let total: f64 = PYRAMID.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in PYRAMID.iter().enumerate() {
        if u < *w {
            return i as f64 * 5.0 + rng.random::<f64>() * 5.0;
        }
        u -= w;
    }
    100.0 + rng.random::<f64>() * 5.0
}

/// Onsets of the chronic conditions, from the logistic age curves with
/// personal multipliers (metabolic risk, frailty, smoking, comorbidity).
fn draw_conditions(rng: &mut ChaCha8Rng, p: &mut Person, metabolic: f64) {
    let age_end = p.age_at(p.death.min(p.birth + (110.0 * YEAR) as Day));
    let lf = p.frailty.ln().clamp(-3.0, 2.0);
    // Smoking: a status with an onset in early adulthood; quitters are not modelled.
    let smoke_p = if p.female { 0.24 } else { 0.30 } * logistic(-0.4 * p.engage);
    if rng.random::<f64>() < smoke_p && age_end > 16.0 {
        let a = 16.0 + rng.random::<f64>() * 10.0;
        p.onset[Cond::Smoking as usize] = p.birth + (a * YEAR) as Day;
    }
    let smoker = p.onset[Cond::Smoking as usize] != NEVER;
    for c in Cond::ALL {
        if c == Cond::Smoking {
            continue;
        }
        let s = c.spec();
        let pmax = if p.female { s.pmax_f } else { s.pmax_m };
        let has = |c: Cond| p.onset[c as usize] != NEVER;
        let mut mult = (0.25 * lf).exp();
        mult *= match c {
            Cond::Htn | Cond::Dyslip => (0.5 * metabolic).exp(),
            Cond::T2d | Cond::Obesity => (0.7 * metabolic).exp(),
            Cond::Chd => {
                (0.5 * metabolic).exp()
                    * if smoker { 1.8 } else { 1.0 }
                    * if has(Cond::T2d) { 1.8 } else { 1.0 }
            }
            Cond::Stroke => {
                (if has(Cond::Af) { 2.0 } else { 1.0 }) * if has(Cond::Htn) { 1.4 } else { 0.8 }
            }
            Cond::Hf => {
                if has(Cond::Chd) || has(Cond::Af) {
                    2.2
                } else {
                    0.7
                }
            }
            Cond::Ckd => {
                (if has(Cond::T2d) { 2.0 } else { 1.0 }) * if has(Cond::Htn) { 1.4 } else { 0.8 }
            }
            Cond::Copd => {
                if smoker {
                    3.5
                } else {
                    0.35
                }
            }
            Cond::Depression | Cond::Bipolar => (0.35 * lf).exp(),
            Cond::Pad => {
                (0.4 * metabolic).exp()
                    * if smoker { 2.5 } else { 0.6 }
                    * if has(Cond::T2d) { 2.0 } else { 1.0 }
            }
            Cond::Dementia => (0.3 * lf).exp() * if has(Cond::Stroke) { 1.8 } else { 1.0 },
            Cond::Alcohol => (if smoker { 2.0 } else { 0.6 }) * (-0.3 * p.engage).exp(),
            Cond::Liver => {
                (if has(Cond::Alcohol) { 5.0 } else { 0.7 })
                    * if has(Cond::Obesity) || has(Cond::T2d) {
                        1.8
                    } else {
                        1.0
                    }
            }
            _ => 1.0,
        };
        let v = rng.random::<f64>() / mult;
        if v >= pmax {
            continue;
        }
        let age = (s.a50 - s.scale * (pmax / v - 1.0).ln()).max(0.5);
        if age < age_end {
            p.onset[c as usize] = p.birth + (age * YEAR) as Day;
        }
    }
}

/// Per-person simulation state.
struct Sim<'a> {
    rng: &'a mut ChaCha8Rng,
    p: &'a Person,
    cal: &'a Calendar,
    out: Output,
    /// Primary-care contact dates, per period, for attaching diagnoses and measurements.
    pc_days: Vec<Vec<Day>>,
    /// Start of antihypertensive treatment, number of drugs, adherence (0..1).
    htn_treat: (Day, u32, f64),
    statin: (Day, f64),
    dm_treat: (Day, f64),
    /// Latest of the ACE/ARB and spironolactone starts while both are taken.
    raas_k: Day,
    on_warfarin: (Day, Day),
    on_lithium: (Day, Day),
    on_mtx: (Day, Day),
    on_amiodarone: (Day, Day),
    on_valproate: (Day, Day),
    /// DOAC and denosumab courses (first day, last day covered), for blood
    /// counts and the renal function and calcium before denosumab.
    on_doac: (Day, Day),
    on_denosumab: (Day, Day),
    /// Starts of metformin (vitamin B12) and levothyroxine (TSH).
    on_metformin: Day,
    on_levothyroxine: Day,
    /// Triglyceride multiplier: about 7 for the few with severe hypertriglyceridaemia.
    tg_factor: f64,
    /// Antidepressant course (first, last day covered), for PHQ-9 scores.
    on_antidepressant: (Day, Day),
    on_diuretic: Day,
    ckd_stage: u8,
    sbp_base: f64,
    ldl_base: f64,
    hba1c_base: f64,
    bmi: f64,
    egfr_base: f64,
    never_measured_bp: bool,
}

/// Simulates person `p` completely.
pub fn simulate(rng: &mut ChaCha8Rng, p: &Person, cal: &Calendar, messy: bool) -> Output {
    let adult_bmi = (27.0 + 4.5 * normal(rng)).clamp(16.5, 55.0);
    let mut s = Sim {
        p,
        cal,
        out: Output::default(),
        pc_days: vec![Vec::new(); cal.periods.len()],
        htn_treat: (NEVER, 0, 0.0),
        statin: (NEVER, 0.0),
        dm_treat: (NEVER, 0.0),
        raas_k: NEVER,
        on_warfarin: (NEVER, NEVER),
        on_lithium: (NEVER, NEVER),
        on_mtx: (NEVER, NEVER),
        on_amiodarone: (NEVER, NEVER),
        on_valproate: (NEVER, NEVER),
        on_doac: (NEVER, NEVER),
        on_denosumab: (NEVER, NEVER),
        on_metformin: NEVER,
        on_levothyroxine: NEVER,
        tg_factor: 1.0,
        on_antidepressant: (NEVER, NEVER),
        on_diuretic: NEVER,
        ckd_stage: 3,
        sbp_base: 0.0,
        ldl_base: (3.2 + 0.8 * normal(rng)).clamp(1.2, 7.5),
        hba1c_base: 0.0,
        bmi: adult_bmi,
        egfr_base: 0.0,
        never_measured_bp: false,
        rng,
    };
    s.sbp_base = 146.0 + 9.0 * normal(s.rng);
    s.hba1c_base = 50.0 + 8.0 * normal(s.rng);
    s.egfr_base = 12.0 * normal(s.rng);
    s.never_measured_bp = s.rng.random::<f64>() < 0.08;
    let r = s.rng.random::<f64>();
    s.ckd_stage = if r < 0.8 {
        3
    } else if r < 0.95 {
        4
    } else {
        5
    };
    s.visits();
    s.conditions();
    s.treatments();
    s.general_meds();
    s.injuries();
    s.measurements();
    s.screening();
    s.immunizations();
    s.pregnancies();
    s.palliative();
    s.consents_and_outreach();
    if messy {
        s.messy_rows();
    }
    let mut out = s.out;
    out.events.sort_by_key(|e| e.date);
    out.consents.sort_by_key(|c| c.date);
    out.outreach.sort_by_key(|o| o.date);
    out
}

impl Sim<'_> {
    fn u(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    /// Whether an event on day `d` is inside the horizon and the person's life.
    fn ok(&self, d: Day) -> bool {
        d > self.cal.start && d <= self.cal.end && self.p.in_life(d)
    }

    /// The part of `(lo, hi]` during which the person is alive: `(lo', hi']`.
    fn alive_span(&self, lo: Day, hi: Day) -> Option<(Day, Day)> {
        let lo = lo.max(self.p.birth - 1);
        let hi = hi.min(self.p.death);
        (hi > lo).then_some((lo, hi))
    }

    fn day_in(&mut self, lo: Day, hi: Day) -> Day {
        lo + 1 + self.rng.random_range(0..(hi - lo).max(1))
    }

    fn push(&mut self, e: Ev) {
        if self.ok(e.date) {
            self.out.events.push(e);
        }
    }

    fn simple(&mut self, date: Day, kind: &'static str, system: &'static str, code: &'static str) {
        self.push(Ev {
            date,
            kind,
            system,
            code: Some(code),
            unit: None,
            value: None,
        });
    }

    fn visit(&mut self, date: Day, code: &'static str) {
        self.simple(date, "visit", "VISIT", code);
    }

    /// A diagnosis row for condition `c`, coded the way this clinic codes.
    fn dx_cond(&mut self, date: Day, c: Cond, primary_care: bool) {
        let spec = c.spec();
        let use_icpc = primary_care
            && icpc_clinic(self.p.clinic)
            && !spec.icpc2.is_empty()
            && self.chance(0.67);
        if use_icpc {
            let mut code = pick(self.rng, spec.icpc2);
            if c == Cond::Htn
                && [Cond::Chd, Cond::Hf, Cond::Ckd, Cond::Stroke]
                    .iter()
                    .any(|&o| self.p.has(o, date))
            {
                code = "K87";
            }
            self.dx(date, "ICPC2", code);
            return;
        }
        let code = match c {
            Cond::T2d if self.p.has(Cond::Ckd, date) && self.chance(0.4) => "E11.2",
            Cond::T2d
                if date - self.p.onset[c as usize] > (8.0 * YEAR) as Day && self.chance(0.15) =>
            {
                "E11.3"
            }
            Cond::Chd if self.chd_mi() && self.chance(0.4) => "I25.2",
            Cond::Ckd => match self.ckd_stage {
                3 => "N18.3",
                4 => "N18.4",
                _ => "N18.5",
            },
            Cond::Af => {
                if self.p.idx.is_multiple_of(3) {
                    "I48.1"
                } else {
                    "I48.0"
                }
            }
            _ => pick(self.rng, spec.icd10),
        };
        self.dx(date, "ICD10", code);
    }

    fn chd_mi(&self) -> bool {
        self.p.idx % 4 == 1
    }

    /// A diagnosis row with the rare valid messy spellings.
    fn dx(&mut self, date: Day, system: &'static str, code: &'static str) {
        let r = self.u();
        let (system, code) = if r < 0.006 {
            let alt = codes::messy_spelling(code, self.rng.next_u32());
            (system, alt.unwrap_or(code))
        } else if r < 0.016 && system == "ICD10" {
            ("icd10", code)
        } else {
            (system, code)
        };
        self.simple(date, "diagnosis", system, code);
    }

    /// A measurement of `lab` with canonical value `v` (None = null value).
    fn lab(&mut self, date: Day, lab: &'static Lab, v: f64) {
        let local = lab.local.filter(|_| local_lab_clinic(self.p.clinic));
        let code = match local {
            Some(c) => c,
            None => {
                let r = self.u();
                lab.loinc
                    .iter()
                    .find(|(_, w)| r < *w)
                    .map_or(lab.loinc[0].0, |(c, _)| c)
            }
        };
        let r = self.u();
        let (unit, value) = match lab.variants.iter().find(|(p, _, _)| r < *p) {
            Some(&(_, u, conv)) => {
                let canon = round_to(v, lab.decimals);
                match conv {
                    Conv::Same => (Some(u), canon),
                    _ => (Some(u), round_to(conv.apply(canon), 2)),
                }
            }
            None => (lab.unit, round_to(v, lab.decimals)),
        };
        let value = (self.u() >= 0.002).then_some(value);
        let system = if local.is_some() { "LOCAL" } else { "LOINC" };
        self.push(Ev {
            date,
            kind: "measurement",
            system,
            code: Some(code),
            unit,
            value,
        });
    }

    fn med_fill(&mut self, date: Day, atc: &'static str, supply: f64) {
        let value = (self.u() >= 0.01).then_some(supply);
        self.push(Ev {
            date,
            kind: "medication",
            system: "ATC",
            code: Some(atc),
            unit: None,
            value,
        });
    }

    /// Dispensings of a chronic medication from `start` until `stop` (or the
    /// end of the horizon) with adherence `adh` in 0..1. Returns the last day covered.
    fn course(&mut self, atc: &'static str, start: Day, stop: Day, adh: f64) -> Day {
        let supply = if atc == "M05BX04" {
            180.0
        } else {
            let r = self.u();
            if r < 0.7 {
                90.0
            } else if r < 0.8 {
                100.0
            } else if r < 0.9 {
                30.0
            } else {
                60.0
            }
        };
        let mut t =
            start.max(self.cal.start - (supply as Day) + self.rng.random_range(0..supply as Day));
        let stop = stop.min(self.cal.end).min(self.p.death);
        let mut last = t;
        while t <= stop {
            self.med_fill(t, atc, supply);
            last = t + supply as Day;
            let gap = if self.u() < adh {
                -0.1 + 0.25 * self.u()
            } else {
                exp(self.rng, 0.7)
            };
            t += (supply * (1.0 + gap)).max(7.0) as Day;
            if self.chance(0.004 + 0.02 * (1.0 - adh)) {
                break;
            }
        }
        last
    }

    fn adherence(&mut self) -> f64 {
        logistic(1.2 + 0.8 * self.p.engage + 0.6 * normal(self.rng))
    }

    fn procedure(&mut self, date: Day, system: &'static str, code: &'static str) {
        self.simple(date, "procedure", system, code);
    }

    /// Visits per year: Poisson with a mean driven by age, sex, active
    /// conditions, the persistent frailty and a yearly shock.
    fn visits(&mut self) {
        let p = self.p;
        for (y, &(lo, hi)) in self.cal.periods.clone().iter().enumerate() {
            let age = p.age_at(lo + 1).max(0.0);
            let base = match age {
                a if a < 7.0 => 2.5,
                a if a < 18.0 => 1.3,
                a if a < 45.0 => 1.8,
                a if a < 65.0 => 2.6,
                a if a < 75.0 => 3.4,
                a if a < 85.0 => 4.6,
                _ => 6.0,
            } * if p.female && (16.0..70.0).contains(&age) {
                1.35
            } else {
                1.0
            };
            let morb: f64 = Cond::ALL
                .iter()
                .filter(|&&c| p.has(c, lo + 1))
                .map(|c| c.spec().visit_weight)
                .sum();
            let shock = gamma(self.rng, 6.0, 1.0 / 6.0);
            let rate = base * (1.0 + morb).min(6.0) * p.frailty * shock;
            let future = y == self.cal.first_future;
            if future && p.alive_on(self.cal.as_of) {
                self.out.expected_visits = Some(rate);
            }
            let Some((alo, ahi)) = self.alive_span(lo, hi) else {
                continue;
            };
            let exposure = (ahi - alo) as f64 / (hi - lo) as f64;
            let n = poisson(self.rng, rate * exposure);
            let mut days = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let d = self.day_in(alo, ahi);
                let r = self.u();
                let code = if r < 0.38 {
                    "PC_DOCTOR"
                } else if r < 0.70 {
                    "PC_NURSE"
                } else {
                    "PC_PHONE"
                };
                self.visit(d, code);
                days.push(d);
                self.contact_content(d, code);
            }
            if y + 1 == self.cal.first_future {
                self.out.pc_visits_last_year = n;
            }
            days.sort_unstable();
            self.pc_days[y] = days;
            // Emergency and specialist visits.
            let er_rate = 0.12 * (1.0 + age / 60.0) * (1.0 + 0.5 * morb) * p.frailty.sqrt();
            for _ in 0..poisson(self.rng, er_rate * exposure) {
                let d = self.day_in(alo, ahi);
                self.visit(d, "ER");
                self.er_content(d);
            }
            let sp_rate = 0.2 + 0.35 * morb;
            for _ in 0..poisson(self.rng, sp_rate * exposure * p.frailty.powf(0.3)) {
                let d = self.day_in(alo, ahi);
                self.visit(d, "SPECIALIST");
                let active: Vec<Cond> = Cond::ALL
                    .iter()
                    .copied()
                    .filter(|&c| p.has(c, d) && c != Cond::Smoking)
                    .collect();
                if !active.is_empty() && self.chance(0.85) {
                    let c = pick(self.rng, &active);
                    self.dx_cond(d, c, false);
                }
            }
        }
    }

    fn active_chronic(&self, d: Day) -> Vec<Cond> {
        Cond::ALL
            .iter()
            .copied()
            .filter(|&c| self.p.has(c, d))
            .collect()
    }

    /// Diagnoses, acute treatment and vital signs recorded at a primary-care contact.
    fn contact_content(&mut self, d: Day, code: &'static str) {
        let (p_chronic, p_acute) = match code {
            "PC_DOCTOR" => (0.55, 0.55),
            "PC_PHONE" => (0.3, 0.3),
            _ => (0.25, 0.1),
        };
        let active = self.active_chronic(d);
        if !active.is_empty() && self.chance(p_chronic) {
            let c = pick(self.rng, &active);
            self.dx_cond(d, c, true);
        }
        if self.chance(p_acute) {
            let (icd, icpc, abx) = pick(self.rng, &codes::ACUTE);
            if icpc_clinic(self.p.clinic) && self.chance(0.67) {
                self.dx(d, "ICPC2", icpc);
            } else {
                self.dx(d, "ICD10", icd);
            }
            if let Some(abx) = abx
                && self.chance(if icd == "N39.0" { 0.8 } else { 0.3 })
            {
                // Urinary infections: trimethoprim for 40 %, nitrofurantoin otherwise.
                let abx = if icd == "N39.0" && self.chance(0.4) {
                    "J01EA01"
                } else {
                    abx
                };
                self.med_fill(d, abx, if icd == "N39.0" { 5.0 } else { 7.0 });
            }
        }
        let age = self.p.age_at(d);
        if age >= 18.0 && code != "PC_PHONE" {
            let htn = self.p.has(Cond::Htn, d);
            let risk = [Cond::T2d, Cond::Chd, Cond::Ckd, Cond::Hf]
                .iter()
                .any(|&c| self.p.has(c, d));
            let p_bp = if htn {
                0.75
            } else if risk {
                0.5
            } else {
                0.15
            };
            if !(htn && self.never_measured_bp) && self.chance(p_bp) {
                self.bp(d);
            }
            if self.chance(0.25) {
                self.weight(d);
            }
        } else if age < 18.0 && code == "PC_NURSE" && self.chance(0.5) {
            self.child_growth(d);
        }
    }

    fn er_content(&mut self, d: Day) {
        if self.p.has(Cond::Copd, d) && self.chance(0.4) {
            self.dx(d, "ICD10", "J44.1");
            self.med_fill(d, "H02AB06", 10.0);
            return;
        }
        if self.chance(0.6) {
            let (icd, _, _) = pick(self.rng, &codes::ACUTE[..5]);
            self.dx(d, "ICD10", icd);
        }
    }

    fn bp(&mut self, d: Day) {
        let sbp = self.sbp_at(d) + 9.0 * normal(self.rng);
        let age = self.p.age_at(d);
        let dbp = 0.45 * sbp + 22.0 - 0.15 * (age - 60.0).max(0.0) + 6.0 * normal(self.rng);
        self.lab(d, &codes::SBP, sbp.clamp(80.0, 240.0));
        self.lab(d, &codes::DBP, dbp.clamp(40.0, 140.0));
    }

    fn sbp_at(&self, d: Day) -> f64 {
        let age = self.p.age_at(d);
        if !self.p.has(Cond::Htn, d) {
            // Normotensive: rises with age, stays below about 140.
            let b = 112.0 + 0.35 * (age - 20.0).max(0.0) + (self.sbp_base - 146.0) * 0.6;
            return b.min(136.0);
        }
        let (start, n, adh) = self.htn_treat;
        if d >= start {
            let drop = (11.0 + 6.0 * (n as f64 - 1.0)) * (0.3 + 0.7 * adh);
            self.sbp_base - drop
        } else {
            self.sbp_base
        }
    }

    fn weight(&mut self, d: Day) {
        let h = self.height_cm();
        let bmi = self.bmi + 0.8 * normal(self.rng);
        let w = bmi * (h / 100.0).powi(2);
        self.lab(d, &codes::WEIGHT, w);
        if self.chance(0.7) {
            self.lab(d, &codes::BMI, bmi);
        }
    }

    fn height_cm(&self) -> f64 {
        let base = if self.p.female { 165.0 } else { 179.0 };
        base + ((self.p.idx.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 / (1u64 << 24) as f64
            - 0.5)
            * 20.0
    }

    fn child_growth(&mut self, d: Day) {
        let age = self.p.age_at(d).max(0.05);
        let h = if age < 2.0 {
            50.0 + 18.0 * age.min(1.0) + 11.0 * (age - 1.0).max(0.0)
        } else {
            86.0 + 6.2 * (age - 2.0)
        };
        let h = h.min(self.height_cm()) + 2.0 * normal(self.rng);
        let bmi = 16.5 + 0.2 * (age - 6.0).max(0.0) + 1.5 * normal(self.rng);
        self.lab(d, &codes::HEIGHT, h);
        self.lab(d, &codes::WEIGHT, bmi * (h / 100.0).powi(2));
    }

    /// Chronic-condition coding: the incident diagnosis at onset and a yearly
    /// control diagnosis, placed at a primary-care contact when there is one.
    fn conditions(&mut self) {
        let p = self.p;
        for c in Cond::ALL {
            let onset = p.onset[c as usize];
            if onset == NEVER || onset > self.cal.end {
                continue;
            }
            if c == Cond::Smoking {
                // Only part of smokers get a code.
                if self.chance(0.5) {
                    let (lo, hi) = (self.cal.start, self.cal.end);
                    let d = self.day_in(lo, hi);
                    if d >= onset {
                        self.dx_cond(d, c, true);
                    }
                }
                continue;
            }
            if onset > self.cal.start {
                match c {
                    Cond::Chd if self.chd_mi() => {
                        self.visit(onset, "ER");
                        self.dx(onset, "ICD10", "I21.9");
                        if self.chance(0.6) {
                            self.procedure(onset, "NOMESCO", "FNG05");
                        }
                    }
                    Cond::Stroke => {
                        self.visit(onset, "ER");
                        self.dx(onset, "ICD10", "I63.9");
                    }
                    _ => self.dx_cond(onset, c, true),
                }
                if matches!(c, Cond::Htn | Cond::Af | Cond::Chd) && self.chance(0.6) {
                    self.procedure(onset, "LOCAL", "ECG");
                }
                if matches!(c, Cond::Asthma | Cond::Copd) && self.chance(0.7) {
                    self.procedure(onset, "LOCAL", "SPIROMETRY");
                }
            }
            let p_code = if c == Cond::Obesity { 0.3 } else { 0.75 };
            for y in 0..self.cal.periods.len() {
                let (_, hi) = self.cal.periods[y];
                if hi < onset || !self.chance(p_code) {
                    continue;
                }
                let d = self.contact_day(y, onset);
                if d >= onset {
                    self.dx_cond(d, c, true);
                }
                if matches!(c, Cond::Asthma | Cond::Copd) && self.chance(0.15) {
                    self.procedure(d, "LOCAL", "SPIROMETRY");
                }
                if matches!(c, Cond::Htn | Cond::Af | Cond::Chd | Cond::Hf) && self.chance(0.12) {
                    self.procedure(d, "LOCAL", "ECG");
                }
            }
        }
    }

    /// A primary-care contact day of period `y`, or a day of the period from
    /// `from` on when the person had no contact then.
    fn contact_day(&mut self, y: usize, from: Day) -> Day {
        let (lo, hi) = self.cal.periods[y];
        if self.pc_days[y].is_empty() {
            self.day_in(lo.max(from - 1), hi)
        } else {
            let days = &self.pc_days[y];
            days[self.rng.random_range(0..days.len())]
        }
    }

    fn start_after(&mut self, onset: Day, mean_delay: f64) -> Day {
        onset.saturating_add(exp(self.rng, mean_delay) as Day)
    }

    /// Drug treatment of the chronic conditions, with imperfect adherence and
    /// a share left untreated (the care gaps).
    fn treatments(&mut self) {
        let p = self.p;
        let on = |c: Cond| p.onset[c as usize];
        let end = self.cal.end;
        let mut raas: Day = NEVER;
        // Hypertension: about 22 % never treated.
        if on(Cond::Htn) != NEVER && self.chance(0.78) {
            let start = self.start_after(on(Cond::Htn), 150.0);
            let adh = self.adherence();
            let n = 1 + (self.u() < 0.45) as u32 + (self.u() < 0.2) as u32;
            self.htn_treat = (start, n, adh);
            let first = if self.chance(0.6) {
                pick(self.rng, &["C09AA05", "C09AA02"])
            } else {
                pick(self.rng, &["C09CA06", "C09CA01", "C09DA01"])
            };
            self.course(first, start, end, adh);
            raas = start;
            // ACE inhibitor and ARB together (dual RAS blockade): 1 % of ACE starts.
            if first.starts_with("C09A") && self.chance(0.01) {
                let arb = pick(self.rng, &["C09CA01", "C09CA06"]);
                self.course(arb, start + 180, end, adh);
            }
            let extra = ["C08CA01", "C03AA03", "C03BA11", "C07AB02"];
            for k in 1..n {
                let atc = extra[(k as usize + self.rng.random_range(0..2)) % extra.len()];
                let s2 = start + (k as Day) * 120;
                if atc.starts_with("C03") {
                    self.on_diuretic = self.on_diuretic.min(s2);
                }
                self.course(atc, s2, end, adh);
            }
        }
        // Diabetes.
        if on(Cond::T2d) != NEVER {
            let adh = self.adherence();
            let start = self.start_after(on(Cond::T2d), 90.0);
            self.dm_treat = (start, adh);
            if self.chance(0.82) {
                self.course("A10BA02", start, end, adh);
                self.on_metformin = start;
            }
            // Pioglitazone add-on in 2 %, also with heart failure (the contraindication).
            if self.chance(0.02) {
                self.course("A10BG03", start + 500, end, adh);
            }
            if self.chance(0.35) {
                let atc = pick(
                    self.rng,
                    &["A10BH01", "A10BK01", "A10BK03", "A10BJ02", "A10BJ06"],
                );
                self.course(atc, start + 400, end, adh);
            }
            if self.chance(0.12) {
                self.course("A10AE04", start + 700, end, adh);
            }
            if self.chance(0.05) {
                self.course("A10BB12", start + 500, end, adh);
            }
            if raas == NEVER && self.chance(0.35) {
                raas = start + 200;
                self.course("C09AA05", raas, end, adh);
            }
        }
        if on(Cond::T1d) != NEVER {
            let adh = self.adherence();
            let start = on(Cond::T1d);
            self.dm_treat = (start, adh);
            self.course("A10AE04", start, end, adh.max(0.6));
            self.course("A10AB05", start, end, adh.max(0.6));
        }
        // Lipids: statins for CHD, stroke, diabetes, dyslipidaemia.
        let statin_ind = [
            (Cond::Chd, 0.8),
            (Cond::Stroke, 0.7),
            (Cond::T2d, 0.6),
            (Cond::Dyslip, 0.55),
            (Cond::Pad, 0.6),
        ];
        if let Some(&(c, pr)) = statin_ind
            .iter()
            .filter(|&&(c, _)| on(c) != NEVER)
            .min_by_key(|&&(c, _)| on(c))
            && self.chance(pr)
        {
            let start = self.start_after(on(c), 120.0);
            let adh = self.adherence();
            self.statin = (start, adh);
            let atc = pick(self.rng, &["C10AA05", "C10AA05", "C10AA01", "C10AA07"]);
            self.course(atc, start, end, adh);
            if self.chance(0.08) {
                self.course("C10AX09", start + 300, end, adh);
            }
        }
        // Coronary heart disease, stroke/TIA: antiplatelets, beta blocker, nitrate.
        let vasc = [
            on(Cond::Chd),
            on(Cond::Stroke),
            on(Cond::Tia),
            on(Cond::Pad),
        ]
        .into_iter()
        .min()
        .unwrap_or(NEVER);
        if vasc != NEVER && on(Cond::Af) == NEVER && self.chance(0.75) {
            let adh = self.adherence();
            let atc = if self.chance(0.8) {
                "B01AC06"
            } else {
                "B01AC04"
            };
            let s0 = self.start_after(vasc, 20.0);
            self.course(atc, s0, end, adh);
        }
        if on(Cond::Chd) != NEVER {
            let adh = self.adherence();
            if self.chance(0.55) {
                let s0 = self.start_after(on(Cond::Chd), 30.0);
                let atc = pick(self.rng, &["C07AB02", "C07AB07"]);
                self.course(atc, s0, end, adh);
            }
            if self.chance(0.3) {
                let s0 = self.start_after(on(Cond::Chd), 30.0);
                self.course("C01DA02", s0, end, adh);
            }
        }
        // Atrial fibrillation: anticoagulation (about 18 % not anticoagulated).
        if on(Cond::Af) != NEVER {
            let adh = self.adherence();
            let start = self.start_after(on(Cond::Af), 40.0);
            // Valvular AF: a mechanical valve or rheumatic mitral stenosis,
            // mostly on warfarin (a DOAC there is the safety gap).
            let valve = self.chance(0.025);
            let mitral = !valve && self.chance(0.012);
            if valve {
                self.code_yearly("Z95.2", on(Cond::Af), 0.6);
            } else if mitral {
                self.code_yearly("I05.0", on(Cond::Af), 0.6);
            }
            if valve || mitral || self.chance(0.82) {
                let warfarin = if valve {
                    0.9
                } else if mitral {
                    0.75
                } else {
                    0.25
                };
                if self.chance(warfarin) {
                    // A fifth of non-valvular warfarin users switch to a DOAC in the
                    // horizon: the last warfarin supply overlaps the first DOAC weeks.
                    let switch = if !valve && self.chance(0.2) {
                        self.day_in(start.max(self.cal.start), end)
                    } else {
                        end
                    };
                    let last = self.course("B01AA03", start, switch, adh.max(0.7));
                    self.on_warfarin = (start, last);
                    if switch < end {
                        let atc = pick(self.rng, &["B01AF01", "B01AF02", "B01AF03"]);
                        let last = self.course(atc, switch, end, adh);
                        self.on_doac = (switch, last);
                    }
                } else {
                    let atc = pick(
                        self.rng,
                        &["B01AF01", "B01AF02", "B01AF02", "B01AF03", "B01AE07"],
                    );
                    let last = self.course(atc, start, end, adh);
                    self.on_doac = (start, last);
                }
                self.af_antiplatelets(start, adh);
            } else if self.chance(0.2) {
                self.course("B01AC06", start, end, adh);
            }
            if self.chance(0.65) {
                self.course("C07AB07", start, end, adh);
            }
            if self.chance(0.06) {
                let last = self.course("C01BD01", start + 60, end, adh);
                self.on_amiodarone = (start + 60, last);
            }
            if self.chance(0.05) {
                self.course("C01AA05", start + 30, end, adh);
            }
            // Rate control with verapamil or diltiazem (5 %) and rhythm control with
            // dronedarone (3 %), kept also when heart failure follows.
            if self.chance(0.05) {
                let atc = pick(self.rng, &["C08DB01", "C08DA01"]);
                self.course(atc, start + 30, end, adh);
            }
            if self.chance(0.03) {
                self.course("C01BD07", start + 90, end, adh);
            }
        }
        // Heart failure.
        if on(Cond::Hf) != NEVER {
            let adh = self.adherence();
            let start = self.start_after(on(Cond::Hf), 30.0);
            if self.chance(0.75) {
                self.course("C03CA01", start, end, adh);
                self.on_diuretic = self.on_diuretic.min(start);
                if self.chance(0.2) {
                    self.course("A12BA01", start + 30, end, adh);
                }
            }
            if raas == NEVER && self.chance(0.75) {
                raas = start;
                let atc = pick(self.rng, &["C09AA05", "C09CA06"]);
                self.course(atc, start, end, adh);
            }
            if self.chance(0.75) {
                let atc = pick(self.rng, &["C07AB02", "C07AB07"]);
                self.course(atc, start, end, adh);
            }
            if self.chance(0.35) {
                let s = start + 90;
                self.course("C03DA01", s, end, adh);
                // Potassium and creatinine 7-21 days after the start, for two thirds.
                if self.chance(0.65) {
                    let d = s + 7 + self.rng.random_range(0..15);
                    self.kidney(d);
                }
                if raas != NEVER {
                    self.raas_k = s.max(raas);
                }
            }
            if self.chance(0.3) {
                let atc = pick(self.rng, &["A10BK01", "A10BK03"]);
                self.course(atc, start + 180, end, adh);
            }
        }
        if on(Cond::Ckd) != NEVER && raas == NEVER && self.chance(0.3) {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Ckd), 200.0);
            self.course("C09AA05", s, end, adh);
        }
        // Respiratory.
        if on(Cond::Asthma) != NEVER {
            let adh = self.adherence() * 0.8;
            let s = self.start_after(on(Cond::Asthma), 30.0);
            if self.chance(0.8) {
                self.course("R03AC02", s, end, adh * 0.7);
            }
            if self.chance(0.55) {
                self.course("R03BA02", s, end, adh);
            } else if self.chance(0.5) {
                self.course("R03AK06", s, end, adh);
            }
            // A LABA inhaler without a corticosteroid in 4 %.
            if self.chance(0.04) {
                let atc = pick(self.rng, &["R03AC13", "R03AC12"]);
                self.course(atc, s + 60, end, adh);
            }
            // Exacerbations treated with prednisolone: 12 % have frequent ones
            // (1.2 a year), the others 0.12 a year.
            let rate = if self.chance(0.12) { 1.2 } else { 0.12 };
            let onset = on(Cond::Asthma);
            for &(lo, hi) in &self.cal.periods.clone() {
                for _ in 0..poisson(self.rng, rate) {
                    let d = self.day_in(lo, hi);
                    if d > onset {
                        let supply = pick(self.rng, &[5.0, 7.0, 10.0]);
                        self.med_fill(d, "H02AB06", supply);
                    }
                }
            }
        }
        if on(Cond::Copd) != NEVER {
            let adh = self.adherence() * 0.85;
            let s = self.start_after(on(Cond::Copd), 60.0);
            if self.chance(0.8) {
                self.course("R03AC02", s, end, adh * 0.7);
            }
            if self.chance(0.6) {
                let atc = pick(self.rng, &["R03BB04", "R03AL03"]);
                self.course(atc, s, end, adh);
            }
            if self.chance(0.3) {
                self.course("R03AK06", s, end, adh);
            }
            // An inhaled corticosteroid alone in 8 % (without a long-acting
            // bronchodilator for those not also on one above).
            if self.chance(0.08) {
                self.course("R03BA02", s, end, adh);
            }
        }
        // Mental health: depression episodes of one to two years.
        if on(Cond::Depression) != NEVER && self.chance(0.7) {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Depression), 20.0);
            let stop = s + (365.0 + 365.0 * self.u()) as Day;
            let stop = if self.chance(0.35) { end } else { stop };
            let atc = pick(self.rng, &["N06AB10", "N06AB10", "N06AB06", "N06AX11"]);
            let last = self.course(atc, s, stop, adh);
            self.on_antidepressant = (s, last);
        }
        if on(Cond::Bipolar) != NEVER {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Bipolar), 60.0);
            if self.chance(0.6) {
                let last = self.course("N05AN01", s, end, adh);
                self.on_lithium = (s, last);
            }
            if self.chance(0.4) {
                self.course("N05AH04", s, end, adh);
            }
            if self.chance(0.15) {
                self.valproate(s, adh);
            }
        }
        self.new_condition_treatments();
        // Rheumatoid arthritis: methotrexate with folic acid.
        if on(Cond::Ra) != NEVER && self.chance(0.75) {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Ra), 60.0);
            let last = self.course("L04AX03", s, end, adh);
            self.on_mtx = (s, last);
            self.course("B03BB01", s, end, adh);
            // Prednisolone: a bridging course for a quarter, long-term low dose for a fifth.
            let r = self.u();
            if r < 0.25 {
                self.course("H02AB06", s, s + 180, adh);
            } else if r < 0.45 {
                self.course("H02AB06", s, end, adh);
            }
        }
        // Regular NSAID in 30 % of people with RA, with a PPI for half of them.
        if on(Cond::Ra) != NEVER && self.chance(0.3) {
            let adh = self.adherence();
            let d = self.day_in(self.cal.start - 300, end).max(on(Cond::Ra));
            let atc = pick(self.rng, &["M01AE02", "M01AB05", "M01AE01"]);
            self.course(atc, d, end, adh);
            if self.chance(0.5) {
                self.course("A02BC01", d, end, adh);
            }
        }
        if on(Cond::Osteoporosis) != NEVER {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Osteoporosis), 90.0);
            let r = self.u();
            if r < 0.5 {
                self.course("M05BA04", s, end, adh);
            } else if r < 0.65 {
                let last = self.course("M05BX04", s, end, adh);
                self.on_denosumab = (s, last);
            }
            if self.chance(0.6) {
                self.course("A12AX", s, end, adh);
            }
        }
        if on(Cond::Hypothyroid) != NEVER && self.chance(0.95) {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Hypothyroid), 30.0);
            self.course("H03AA01", s, end, adh);
            self.on_levothyroxine = s;
        }
        if on(Cond::Smoking) != NEVER && self.chance(0.05) {
            let d = self.day_in(self.cal.start, end);
            self.course("N07BA01", d, d + 60, 0.5);
        }
    }

    /// Medicines not tied to one condition: NSAIDs (some with CKD or an
    /// anticoagulant, the unsafe combinations), PPIs, hypnotics, paracetamol.
    fn general_meds(&mut self) {
        let p = self.p;
        let ulcer = self.peptic_ulcer();
        for &(lo, hi) in &self.cal.periods.clone() {
            let age = p.age_at(hi);
            if age < 12.0 {
                continue;
            }
            let mut nsaid = if (45.0..80.0).contains(&age) {
                0.14
            } else {
                0.09
            };
            if p.has(Cond::Ckd, lo + 1) {
                nsaid *= 0.6;
            }
            if p.has(Cond::Af, lo + 1) {
                nsaid *= 0.6;
            }
            if ulcer <= lo {
                nsaid *= 0.5;
            }
            // Fluconazole for candidiasis (single dispensings, more in women).
            if self.chance(if p.female { 0.03 } else { 0.01 }) {
                let d = self.day_in(lo, hi);
                let supply = pick(self.rng, &[1.0, 3.0, 7.0]);
                self.med_fill(d, "J02AC01", supply);
            }
            for _ in 0..poisson(self.rng, nsaid) {
                let d = self.day_in(lo, hi);
                let atc = pick(self.rng, &["M01AE01", "M01AE01", "M01AE02", "M01AB05"]);
                let n = if self.chance(0.15) { 3 } else { 1 };
                for k in 0..n {
                    let supply = pick(self.rng, &[10.0, 14.0, 20.0, 30.0]);
                    self.med_fill(d + k * 35, atc, supply);
                }
                if self.chance(0.3) {
                    self.med_fill(d, "A02BC01", 30.0);
                }
            }
            if self.chance(if age > 50.0 { 0.12 } else { 0.05 }) {
                let d = self.day_in(lo, hi);
                self.med_fill(d, "N02BE01", 30.0);
            }
        }
        self.other_long_courses();
        let age = p.age_at(self.cal.as_of);
        if age > 55.0 && self.chance(0.08) {
            let d = self.day_in(self.cal.start - 400, self.cal.end);
            let adh = self.adherence();
            self.course("A02BC01", d, self.cal.end, adh);
        }
        let hyp = if age >= 75.0 {
            0.07
        } else if age >= 50.0 {
            0.03
        } else {
            0.01
        };
        if self.chance(hyp) {
            let d = self.day_in(self.cal.start - 200, self.cal.end);
            let atc = if self.chance(0.7) {
                "N05CF01"
            } else {
                "N05BA04"
            };
            let stop = if self.chance(0.5) {
                self.cal.end
            } else {
                d + 180
            };
            self.course(atc, d, stop, 0.6);
        }
    }

    /// Laboratory monitoring: frequencies depend on conditions and drugs; a
    /// share of people is monitored poorly or not at all.
    fn measurements(&mut self) {
        let p = self.p;
        let neglect = self.chance(0.12 * logistic(-self.p.engage) * 2.0);
        let poor_dm = self.chance(0.22);
        if poor_dm {
            self.hba1c_base += 14.0;
        }
        // Severe hypertriglyceridaemia: 1.2 % with diabetes, obesity or alcohol
        // use, 0.3 % of the others.
        let tg_risk = [Cond::T2d, Cond::Obesity, Cond::Alcohol]
            .iter()
            .any(|&c| p.onset[c as usize] != NEVER);
        if self.chance(if tg_risk { 0.012 } else { 0.003 }) {
            self.tg_factor = 7.0;
        }
        // Thyroid effects: amiodarone hypothyroidism (12 %) or thyrotoxicosis
        // (3 %) from 4 months of use; levothyroxine over-replacement (7 %).
        let amio_thyroid = self.u();
        let levo_over = self.chance(0.07);
        // PHQ-9 (0-27) at the depression diagnosis and at follow-ups.
        let dep = p.onset[Cond::Depression as usize];
        let phq_severity = 13.0 + 4.5 * normal(self.rng);
        if dep > self.cal.start && dep != NEVER && p.age_at(dep) >= 18.0 && self.chance(0.6) {
            self.phq9(dep, phq_severity + 2.0);
        }
        for &(lo, hi) in &self.cal.periods.clone() {
            let Some((alo, ahi)) = self.alive_span(lo, hi) else {
                continue;
            };
            let mid = alo + (ahi - alo) / 2;
            let age = p.age_at(mid);
            if age < 18.0 {
                continue;
            }
            let has = |c: Cond| p.has(c, mid);
            let diabetic = has(Cond::T2d) || has(Cond::T1d);
            let nm = if neglect { 0.15 } else { 1.0 };
            // HbA1c.
            let r_hba1c = if diabetic {
                1.8 * nm
            } else if age > 45.0 {
                0.15
            } else {
                0.04
            };
            for _ in 0..poisson(self.rng, r_hba1c) {
                let d = self.day_in(alo, ahi);
                let v = self.hba1c_at(d) + 3.0 * normal(self.rng);
                self.lab(d, &codes::HBA1C, v.clamp(25.0, 140.0));
                if self.chance(0.3) {
                    let g = (v - 10.0) / 6.0 + 0.5 * normal(self.rng);
                    self.lab(d, &codes::GLUCOSE, g.clamp(3.0, 25.0));
                }
            }
            // Lipids.
            let vascular = [Cond::Chd, Cond::Stroke, Cond::T2d, Cond::Dyslip]
                .iter()
                .any(|&c| has(c));
            let r_lip = if vascular {
                0.8 * nm
            } else if age > 40.0 {
                0.25
            } else {
                0.08
            };
            for _ in 0..poisson(self.rng, r_lip) {
                let d = self.day_in(alo, ahi);
                self.lipids(d);
            }
            // Kidney function and electrolytes.
            let on_between = |(s, e): (Day, Day)| s <= ahi && e >= alo;
            let kidney = [Cond::Htn, Cond::T2d, Cond::Ckd, Cond::Hf]
                .iter()
                .any(|&c| has(c))
                || self.htn_treat.0 <= mid
                || self.on_lithium.0 <= mid
                || self.on_mtx.0 <= mid
                || (age >= 65.0 && on_between(self.on_antidepressant));
            let r_crea = if has(Cond::Ckd) {
                2.0 * nm
            } else if kidney {
                0.9 * nm
            } else {
                0.12
            };
            for _ in 0..poisson(self.rng, r_crea) {
                let d = self.day_in(alo, ahi);
                self.kidney(d);
            }
            if diabetic || has(Cond::Ckd) {
                for _ in 0..poisson(self.rng, 0.6 * nm) {
                    let d = self.day_in(alo, ahi);
                    let base = if has(Cond::Ckd) {
                        6.0
                    } else if poor_dm {
                        3.0
                    } else {
                        1.0
                    };
                    let v = base * (0.8 * normal(self.rng)).exp();
                    self.lab(d, &codes::UACR, v.clamp(0.1, 300.0));
                }
            }
            // Drug monitoring.
            if on_between(self.on_warfarin) {
                for _ in 0..poisson(self.rng, 12.0 * nm) {
                    let d = self.day_in(alo.max(self.on_warfarin.0), ahi);
                    // 2 % of INRs are 5 or above (over-anticoagulation).
                    let v = if self.chance(0.02) {
                        (5.0 + exp(self.rng, 0.8)).min(9.0)
                    } else {
                        (2.5 + 0.55 * normal(self.rng)).clamp(0.9, 4.9)
                    };
                    self.lab(d, &codes::INR, v);
                }
            }
            // Renal function and calcium before denosumab doses.
            if on_between(self.on_denosumab) {
                for _ in 0..poisson(self.rng, 1.4 * nm) {
                    let d = self.day_in(alo.max(self.on_denosumab.0), ahi);
                    self.kidney(d);
                    if self.chance(0.85) {
                        self.calcium(d);
                    }
                }
            }
            self.blood_tests(alo, ahi, nm);
            if on_between(self.on_lithium) {
                for _ in 0..poisson(self.rng, 2.5 * nm) {
                    let d = self.day_in(alo.max(self.on_lithium.0), ahi);
                    // 2 % of levels 1.2 or above (toxic range).
                    let v = if self.chance(0.02) {
                        1.2 + exp(self.rng, 0.2)
                    } else {
                        0.7 + 0.18 * normal(self.rng)
                    };
                    self.lab(d, &codes::LITHIUM, v.clamp(0.1, 2.5));
                }
            }
            let liver_rate = if on_between(self.on_mtx) {
                4.0 * nm
            } else if on_between(self.on_amiodarone) {
                1.5 * nm
            } else if on_between(self.on_valproate) {
                2.0 * nm
            } else if has(Cond::Alcohol) || has(Cond::Liver) {
                0.8 * nm
            } else if self.statin.0 <= mid {
                0.3
            } else {
                0.08
            };
            let mtx = on_between(self.on_mtx);
            for _ in 0..poisson(self.rng, liver_rate) {
                let d = self.day_in(alo, ahi);
                let liver = if has(Cond::Alcohol) || has(Cond::Liver) {
                    1.8
                } else {
                    1.0
                };
                // On methotrexate: 2 % of ALTs above 150 U/l, a blood count with 95 %.
                let v = if mtx && self.chance(0.02) {
                    151.0 + exp(self.rng, 60.0)
                } else {
                    24.0 * liver * (0.4 * normal(self.rng)).exp()
                };
                self.lab(d, &codes::ALT, v.clamp(5.0, 400.0));
                if mtx && self.chance(0.95) {
                    self.haemoglobin(d);
                }
            }
            let tsh_rate = if has(Cond::Hypothyroid)
                || on_between(self.on_amiodarone)
                || on_between(self.on_lithium)
            {
                1.0 * nm
            } else if p.female && age > 40.0 {
                0.12
            } else {
                0.05
            };
            for _ in 0..poisson(self.rng, tsh_rate) {
                let d = self.day_in(alo, ahi);
                let med = if has(Cond::Hypothyroid) { 2.6 } else { 1.8 };
                let amio =
                    d >= self.on_amiodarone.0.saturating_add(120) && d <= self.on_amiodarone.1;
                let v = if amio && amio_thyroid < 0.12 {
                    12.0 + exp(self.rng, 8.0)
                } else if amio && amio_thyroid < 0.15 {
                    0.01 + 0.07 * self.u()
                } else if levo_over && d >= self.on_levothyroxine.saturating_add(90) {
                    0.02 + 0.07 * self.u()
                } else {
                    med * (0.5 * normal(self.rng)).exp()
                };
                self.lab(d, &codes::TSH, v.clamp(0.01, 60.0));
            }
            if has(Cond::Depression) {
                for _ in 0..poisson(self.rng, 0.8 * nm) {
                    let d = self.day_in(alo, ahi);
                    self.phq9(d, phq_severity);
                }
            }
            if self.chance(0.12) {
                let d = self.day_in(alo, ahi);
                let h = self.height_cm() + normal(self.rng);
                self.lab(d, &codes::HEIGHT, h);
            }
        }
    }

    /// A PHQ-9 score on day `d`: the person's severity, 5 points lower after
    /// two months of antidepressant.
    fn phq9(&mut self, d: Day, severity: f64) {
        let (s, e) = self.on_antidepressant;
        let treated = d >= s.saturating_add(60) && d <= e;
        let v = severity - if treated { 5.0 } else { 0.0 } + 3.0 * normal(self.rng);
        self.lab(d, &codes::PHQ9, v.clamp(0.0, 27.0));
    }

    /// Blood count, ferritin, vitamin B12 and calcium in period `(alo, ahi]`:
    /// more often on a DOAC, in CKD, heart failure, on metformin or lithium.
    fn blood_tests(&mut self, alo: Day, ahi: Day, nm: f64) {
        let p = self.p;
        let mid = alo + (ahi - alo) / 2;
        let age = p.age_at(mid);
        let has = |c: Cond| p.has(c, mid);
        let on_between = |(s, e): (Day, Day)| s <= ahi && e >= alo;
        let hb_rate = if has(Cond::Ckd) || on_between(self.on_doac) {
            1.5 * nm
        } else if has(Cond::Hf) {
            1.0 * nm
        } else if age >= 65.0 {
            0.5
        } else {
            0.25
        };
        for _ in 0..poisson(self.rng, hb_rate) {
            let d = self.day_in(alo, ahi);
            self.haemoglobin(d);
        }
        let ferritin_rate = if has(Cond::Hf) {
            0.4 * nm
        } else if p.female && age < 50.0 {
            0.1
        } else {
            0.04
        };
        let med = if p.female && age < 50.0 { 45.0 } else { 110.0 };
        let span = (alo, ahi);
        self.lognormal_labs(
            span,
            ferritin_rate,
            &codes::FERRITIN,
            (med, 0.8),
            (3.0, 2000.0),
        );
        let metformin = self.on_metformin <= ahi;
        let b12_rate = if metformin {
            0.3 * nm
        } else if age >= 65.0 {
            0.08
        } else {
            0.03
        };
        let med = if metformin { 260.0 } else { 310.0 };
        self.lognormal_labs(span, b12_rate, &codes::B12, (med, 0.35), (50.0, 1500.0));
        let ca_rate = if on_between(self.on_lithium) {
            1.2 * nm
        } else if has(Cond::Ckd) {
            0.6 * nm
        } else if has(Cond::Osteoporosis) {
            0.3
        } else if age >= 65.0 {
            0.06
        } else {
            0.02
        };
        for _ in 0..poisson(self.rng, ca_rate) {
            let d = self.day_in(alo, ahi);
            self.calcium(d);
        }
    }

    /// `Poisson(rate)` results of `lab` in `(lo, hi]`, log-normal with
    /// (median, sd of the log), clamped to `range`.
    fn lognormal_labs(
        &mut self,
        (lo, hi): (Day, Day),
        rate: f64,
        lab: &'static Lab,
        (median, sd): (f64, f64),
        range: (f64, f64),
    ) {
        for _ in 0..poisson(self.rng, rate) {
            let d = self.day_in(lo, hi);
            let v = median * (sd * normal(self.rng)).exp();
            self.lab(d, lab, v.clamp(range.0, range.1));
        }
    }

    /// Haemoglobin (g/l): lower in women, CKD (by stage) and heart failure.
    fn haemoglobin(&mut self, d: Day) {
        let mut v = if self.p.female { 136.0 } else { 150.0 } + 10.0 * normal(self.rng);
        if self.p.has(Cond::Ckd, d) {
            v -= 10.0 * (self.ckd_stage as f64 - 2.0);
        }
        if self.p.has(Cond::Hf, d) {
            v -= 6.0;
        }
        self.lab(d, &codes::HB, v.clamp(60.0, 200.0));
    }

    /// Total calcium (mmol/l), a little higher on lithium.
    fn calcium(&mut self, d: Day) {
        let li = d >= self.on_lithium.0 && d <= self.on_lithium.1;
        let v = 2.35 + if li { 0.05 } else { 0.0 } + 0.08 * normal(self.rng);
        self.lab(d, &codes::CALCIUM, v.clamp(1.6, 3.5));
    }

    fn hba1c_at(&self, d: Day) -> f64 {
        let p = self.p;
        if p.has(Cond::T1d, d) {
            return self.hba1c_base + 10.0;
        }
        if !p.has(Cond::T2d, d) {
            let age = p.age_at(d);
            return 34.0 + 0.07 * age + (self.hba1c_base - 50.0) * 0.25;
        }
        let (start, adh) = self.dm_treat;
        if d >= start {
            self.hba1c_base + 8.0 * (1.0 - adh)
        } else {
            self.hba1c_base + 7.0
        }
    }

    fn lipids(&mut self, d: Day) {
        let (start, adh) = self.statin;
        let ldl = if d >= start {
            self.ldl_base * (1.0 - 0.45 * adh)
        } else {
            self.ldl_base
        };
        let ldl = (ldl + 0.25 * normal(self.rng)).clamp(0.5, 9.0);
        let hdl =
            ((if self.p.female { 1.6 } else { 1.3 }) + 0.3 * normal(self.rng)).clamp(0.5, 3.5);
        let tg = 1.3 * self.tg_factor * (0.45 * normal(self.rng)).exp();
        self.lab(d, &codes::CHOL, ldl + hdl + tg / 2.2);
        self.lab(d, &codes::HDL, hdl);
        self.lab(d, &codes::LDL, ldl);
        if self.chance(0.8) {
            self.lab(d, &codes::TRIGLY, tg);
        }
    }

    fn egfr_at(&self, d: Day) -> f64 {
        let age = self.p.age_at(d);
        if self.p.has(Cond::Ckd, d) {
            let years = (d - self.p.onset[Cond::Ckd as usize]) as f64 / YEAR;
            let base = match self.ckd_stage {
                3 => 48.0,
                4 => 24.0,
                _ => 12.0,
            };
            return (base + self.egfr_base * 0.4 - 1.5 * years).max(5.0);
        }
        (115.0 - 0.85 * (age - 25.0).max(0.0) + self.egfr_base).max(62.0)
    }

    fn kidney(&mut self, d: Day) {
        let egfr = (self.egfr_at(d) * (1.0 + 0.07 * normal(self.rng))).clamp(4.0, 140.0);
        let age = self.p.age_at(d);
        let (kappa, alpha, sexf) = if self.p.female {
            (0.7, -0.241, 1.012)
        } else {
            (0.9, -0.302, 1.0)
        };
        let ref_ = 142.0 * 0.9938f64.powf(age) * sexf;
        let ratio = egfr / ref_;
        let scr = if ratio < 1.0 {
            kappa * ratio.powf(-1.0 / 1.2)
        } else {
            kappa * ratio.powf(1.0 / alpha)
        };
        self.lab(d, &codes::CREA, scr * 88.4);
        self.lab(d, &codes::EGFR, egfr);
        if self.chance(0.8) {
            let ckd = self.p.has(Cond::Ckd, d);
            let mut k = 4.1 + 0.35 * normal(self.rng);
            if ckd {
                k += 0.3;
            }
            if d >= self.raas_k {
                k += 0.35;
            }
            // Hyperkalaemia (6 or above): 1 % of CKD results, more in stage 4-5
            // and with ACE/ARB plus spironolactone; 0.05 % otherwise.
            let p_high = if ckd {
                0.01 + if self.ckd_stage >= 4 { 0.02 } else { 0.0 }
            } else {
                0.0005
            } + if d >= self.raas_k { 0.01 } else { 0.0 };
            if self.chance(p_high) {
                k = 6.0 + exp(self.rng, 0.3);
            }
            self.lab(d, &codes::POTASSIUM, k.clamp(2.5, 7.5));
        }
        if self.chance(0.6) {
            let mut na = 140.0 + 2.5 * normal(self.rng);
            if d >= self.on_diuretic {
                na -= 2.0;
            }
            // Hyponatraemia (below 130): more with age 80+, heart failure,
            // diuretics and antidepressants.
            let (ad_start, ad_end) = self.on_antidepressant;
            let p_low = 0.002
                + if age >= 80.0 { 0.02 } else { 0.0 }
                + if self.p.has(Cond::Hf, d) { 0.04 } else { 0.0 }
                + if d >= self.on_diuretic { 0.015 } else { 0.0 }
                + if d >= ad_start && d <= ad_end {
                    0.03
                } else {
                    0.0
                };
            if self.chance(p_low) {
                na = 129.4 - exp(self.rng, 3.0);
            }
            self.lab(d, &codes::SODIUM, na.clamp(118.0, 155.0));
        }
    }

    /// Screening programmes and diabetic checks, attended according to engagement.
    fn screening(&mut self) {
        let p = self.p;
        let attend = logistic(1.0 + 1.1 * p.engage);
        let (start, end) = (self.cal.start, self.cal.end);
        let recent = self.cal.as_of - (3.0 * YEAR) as Day;
        if p.female {
            // Cervical: invitations at ages 30, 35, ..., 65.
            for age in (30..=65).step_by(5) {
                let d = p.birth + (age as f64 * YEAR) as Day + self.rng.random_range(0..200);
                if d > start && d <= end && self.chance(attend * 0.95) {
                    let code = if d > recent && self.chance(0.7) {
                        "SCR_CERVICAL_HPV"
                    } else {
                        "SCR_CERVICAL_PAP"
                    };
                    self.procedure(d, "LOCAL", code);
                }
            }
            if self.chance(0.05) {
                let d = self.day_in(start, end);
                if (25.0..70.0).contains(&p.age_at(d)) {
                    self.procedure(d, "LOCAL", "SCR_CERVICAL_PAP");
                }
            }
            // Breast: every 2 years at 50-69.
            let off = self.rng.random_range(0..730);
            let mut d = start + off;
            while d <= end {
                let age = p.age_at(d);
                if (50.0..70.0).contains(&age) && self.chance((attend * 1.05).min(0.97)) {
                    self.procedure(d, "LOCAL", "SCR_MAMMOGRAPHY");
                }
                d += 730;
            }
        }
        // Colorectal: FIT every 2 years at 56-74, programme from 2022.
        let programme_start = self.cal.as_of - (4.0 * YEAR) as Day;
        let off = self.rng.random_range(0..730);
        let mut d = programme_start.max(start) + off;
        while d <= end {
            let age = p.age_at(d);
            if (56.0..75.0).contains(&age) && self.chance(attend * 0.8) {
                self.procedure(d, "LOCAL", "SCR_COLORECTAL_FIT");
                // FIT haemoglobin (ug/g): most below detection; the programme's
                // cut-offs are 25 (women) and 70 (men), about 4 % positive.
                let v = if self.chance(0.8) {
                    self.rng.random_range(0..10) as f64
                } else {
                    8.0 * (1.2 * normal(self.rng)).exp()
                };
                self.lab(d, &codes::FIT, v.min(2000.0));
                let cut = if p.female { 25.0 } else { 70.0 };
                if v >= cut && self.chance(0.8) {
                    let c = d + 20 + self.rng.random_range(0..60);
                    self.procedure(c, "NOMESCO", "UJF32");
                }
            }
            d += 730;
        }
        if p.age_at(end) > 50.0 && self.chance(0.01) {
            let c = self.day_in(start, end);
            self.procedure(c, "NOMESCO", "UJF32");
        }
        // Diabetic eye and foot checks.
        let dm_onset = p.onset[Cond::T2d as usize].min(p.onset[Cond::T1d as usize]);
        if dm_onset != NEVER {
            for &(lo, hi) in &self.cal.periods.clone() {
                if hi < dm_onset {
                    continue;
                }
                let lo = lo.max(dm_onset);
                if self.chance(0.6 * attend + 0.1) {
                    let d = self.day_in(lo, hi);
                    self.procedure(d, "LOCAL", "DM_EYE_RETINOPHOTO");
                }
                if self.chance(0.55 * attend + 0.1) {
                    let d = self.day_in(lo, hi);
                    self.procedure(d, "LOCAL", "DM_FOOT_EXAM");
                }
            }
        }
    }

    fn immunizations(&mut self) {
        let p = self.p;
        let will = logistic(0.2 + 1.2 * p.engage);
        for &(lo, hi) in &self.cal.periods.clone() {
            // The influenza season of the period: October to December of its first calendar year
            // if the period starts before October, else of the next.
            let age = p.age_at(hi);
            let risk = [
                Cond::T2d,
                Cond::T1d,
                Cond::Chd,
                Cond::Hf,
                Cond::Copd,
                Cond::Asthma,
                Cond::Ckd,
            ]
            .iter()
            .any(|&c| p.has(c, hi));
            let pr = if age >= 65.0 {
                0.85 * will
            } else if risk {
                0.6 * will
            } else if (0.5..7.0).contains(&age) {
                0.45 * will
            } else {
                0.12 * will
            };
            if self.chance(pr) {
                let d = flu_day(lo, hi, self.u());
                self.simple(d, "immunization", "ATC", "J07BB02");
            }
            // COVID-19 each autumn from 2021: 75+, 65-74, adult risk groups
            // and methotrexate users, few other adults.
            let immuno = self.on_mtx.0 <= hi && self.on_mtx.1 >= lo;
            let pc = if age >= 75.0 {
                0.8 * will
            } else if age >= 65.0 {
                0.6 * will
            } else if age >= 18.0 && (risk || immuno) {
                0.4 * will
            } else if age >= 18.0 {
                0.03
            } else {
                0.0
            };
            if self.chance(pc) {
                let d = flu_day(lo, hi, self.u());
                if d >= days_from_civil(2021, 1, 1) {
                    self.simple(d, "immunization", "ATC", "J07BN01");
                }
            }
            if age >= 70.0 && self.chance(0.02 * will * 2.0) {
                let d = self.day_in(lo, hi);
                self.simple(d, "immunization", "ATC", "J07BK03");
            }
            if age >= 18.0 && self.chance(0.04) {
                let d = self.day_in(lo, hi);
                self.simple(d, "immunization", "ATC", "J07AM51");
            }
        }
        let age = p.age_at(self.cal.as_of);
        let risk = [
            Cond::T2d,
            Cond::Chd,
            Cond::Hf,
            Cond::Copd,
            Cond::Ckd,
            Cond::Liver,
            Cond::Asplenia,
        ]
        .iter()
        .any(|&c| p.has(c, self.cal.as_of));
        let pr = if p.has(Cond::Asplenia, self.cal.as_of) {
            0.8
        } else {
            0.45 * will
        };
        if (age >= 65.0 || risk) && self.chance(pr) {
            let d = self.day_in(self.cal.start, self.cal.end);
            if self.chance(0.15) {
                // PPV23 alone (the older practice); a third get the PCV a year or two later.
                self.simple(d, "immunization", "ATC", "J07AL01");
                if self.chance(0.33) {
                    let d2 = d + 365 + self.rng.random_range(0..365);
                    self.simple(d2, "immunization", "ATC", "J07AL02");
                }
            } else {
                self.simple(d, "immunization", "ATC", "J07AL02");
                if self.chance(0.4) {
                    let d2 = d + 60 + self.rng.random_range(0..300);
                    self.simple(d2, "immunization", "ATC", "J07AL01");
                }
            }
        }
        // Hepatitis B (three doses): 60 % of people with CKD stage 4-5 before
        // dialysis, 15 % of diabetics and 8 % of other adults under 60 (work, travel).
        let severe_ckd = p.has(Cond::Ckd, self.cal.as_of) && self.ckd_stage >= 4;
        let diabetic = p.has(Cond::T2d, self.cal.as_of) || p.has(Cond::T1d, self.cal.as_of);
        let ph = if severe_ckd {
            0.6
        } else if !(18.0..60.0).contains(&age) {
            0.0
        } else if diabetic {
            0.15
        } else {
            0.08
        };
        if self.chance(ph) {
            let d = self.day_in(self.cal.start, self.cal.as_of);
            for k in [0, 30, 180] {
                self.simple(d + k, "immunization", "ATC", "J07BC01");
            }
        }
    }

    fn pregnancies(&mut self) {
        let p = self.p;
        if !p.female {
            return;
        }
        let mut d = self.cal.start - 280;
        while d < self.cal.end {
            let age = p.age_at(d);
            let rate = if (20.0..30.0).contains(&age) {
                0.07
            } else if (30.0..38.0).contains(&age) {
                0.08
            } else if (18.0..45.0).contains(&age) {
                0.02
            } else {
                0.0
            };
            if rate > 0.0 && self.chance(rate) {
                let s = d + self.rng.random_range(0..365);
                self.dx(s + 56, "ICD10", "Z33");
                for k in 0..6 {
                    let v = s + 70 + k * 35 + self.rng.random_range(0..10);
                    if icpc_clinic(p.clinic) && self.chance(0.67) {
                        self.dx(v, "ICPC2", "W78");
                    } else {
                        self.dx(v, "ICD10", "Z34.9");
                    }
                }
                if self.chance(0.1) {
                    self.dx(s + 180, "ICD10", "O24.4");
                }
                if self.chance(0.012) {
                    self.anticoagulated_pregnancy(s);
                }
                let birth = s + 273 + self.rng.random_range(0..14) - 7;
                self.dx(birth, "ICD10", "O80");
                d = birth + 365;
            } else {
                d += 365;
            }
        }
    }

    /// A venous thromboembolism (I80.2, I26.9) in the 14 months before a
    /// pregnancy, anticoagulated with a DOAC (60 %) or warfarin: half switch
    /// at the first antenatal visit, half continue (the safety gap).
    fn anticoagulated_pregnancy(&mut self, s: Day) {
        let vte = s - 30 - self.rng.random_range(0..400);
        let code = pick(self.rng, &["I80.2", "I26.9"]);
        self.dx(vte, "ICD10", code);
        let atc = if self.chance(0.4) {
            "B01AA03"
        } else {
            pick(self.rng, &["B01AF01", "B01AF02"])
        };
        let stop = if self.chance(0.5) {
            s + 270
        } else {
            s + 70 + self.rng.random_range(0..21)
        };
        self.course(atc, vte, stop, 0.9);
    }

    fn palliative(&mut self) {
        let death = self.p.death;
        if death == NEVER {
            return;
        }
        if self.chance(0.35) {
            let d = death - 30 - self.rng.random_range(0..150);
            self.dx(d, "ICD10", "Z51.5");
            if self.chance(0.6) {
                self.dx(d + 14, "ICD10", "Z51.5");
            }
        }
    }

    /// Consent decisions (MyData) and the log of earlier invitations.
    fn consents_and_outreach(&mut self) {
        let (start, as_of) = (self.cal.start, self.cal.as_of);
        for (scope, rate) in [("outreach", 0.03), ("research", 0.02)] {
            let r = self.u();
            if r < rate {
                let d = self.day_in(start, as_of);
                self.out.consents.push(ConsentRow {
                    date: d,
                    scope,
                    granted: Some(false),
                });
                let r2 = self.u();
                if r2 < 0.2 {
                    // Re-granted later.
                    let d2 = d + 1 + self.rng.random_range(0..400);
                    self.out.consents.push(ConsentRow {
                        date: d2,
                        scope,
                        granted: Some(true),
                    });
                } else if r2 < 0.25 {
                    // Same-day tie: the withdrawal wins.
                    self.out.consents.push(ConsentRow {
                        date: d,
                        scope,
                        granted: Some(true),
                    });
                } else if r2 < 0.27 {
                    // A decision recorded after as_of: does not count for this as_of.
                    let d2 = as_of + 1 + self.rng.random_range(0..200);
                    self.out.consents.push(ConsentRow {
                        date: d2,
                        scope,
                        granted: Some(true),
                    });
                }
            } else if r < rate + 0.05 {
                // An explicit grant.
                let d = self.day_in(start, as_of);
                self.out.consents.push(ConsentRow {
                    date: d,
                    scope,
                    granted: Some(true),
                });
            }
        }
        if !self.p.alive_on(as_of) && self.p.death < as_of - 400 {
            return;
        }
        let p = self.p;
        let mut crits: Vec<Option<&'static str>> = vec![None];
        if p.has(Cond::Htn, as_of) {
            crits.push(Some("HTN.BP_UNCONTROLLED"));
            crits.push(Some("HTN.BP_UNCONTROLLED"));
        }
        if p.has(Cond::T2d, as_of) {
            crits.push(Some("DM.HBA1C_OVERDUE"));
            crits.push(Some("DM.HBA1C_OVERDUE"));
        }
        let age = p.age_at(as_of);
        if p.female && (30.0..66.0).contains(&age) {
            crits.push(Some("SCR.CERVICAL_OVERDUE"));
        }
        let rate = 0.04 * crits.len() as f64;
        for _ in 0..poisson(self.rng, rate) {
            let d = self.day_in(as_of - 730, as_of);
            if !p.alive_on(d) {
                continue;
            }
            let criterion = pick(self.rng, &crits);
            let outcome = outreach_outcome(self.u());
            self.out.outreach.push(OutreachRow {
                date: d,
                criterion,
                outcome,
            });
        }
    }

    /// Rows that are invalid or unusable per the data model (only with `messy`).
    fn messy_rows(&mut self) {
        let as_of = self.cal.as_of;
        if self.chance(0.01) {
            let d = self.day_in(self.cal.start, as_of);
            let kind = pick(self.rng, &["Diagnosis", "lab", "note"]);
            self.out.events.push(Ev {
                date: d,
                kind,
                system: "ICD10",
                code: Some("I10"),
                unit: None,
                value: None,
            });
        }
        if self.chance(0.005) {
            let d = self.day_in(self.cal.start, as_of);
            self.out.events.push(Ev {
                date: d,
                kind: "diagnosis",
                system: "ICD10",
                code: None,
                unit: None,
                value: None,
            });
        }
        if self.chance(0.005) {
            // An event dated after as_of in the history file.
            let d = as_of + 1 + self.rng.random_range(0..100);
            self.out.misplaced.push(Ev {
                date: d,
                kind: "visit",
                system: "VISIT",
                code: Some("PC_NURSE"),
                unit: None,
                value: None,
            });
        }
        if self.chance(0.003) {
            let d = self.day_in(self.cal.start, as_of);
            self.out.consents.push(ConsentRow {
                date: d,
                scope: "outreach",
                granted: None,
            });
        }
    }
}

/// Conditions and medicines added for the library's remaining populations:
/// valvular AF, post-ACS antithrombotics, dementia, PAD, epilepsy, breast
/// cancer, falls and fractures, pain medicines, anticholinergics, PHQ-9.
impl Sim<'_> {
    /// A diagnosis code recorded from `from` on: on that day when it falls in
    /// the horizon, then at one primary-care contact in a period with chance `p`.
    fn code_yearly(&mut self, code: &'static str, from: Day, p: f64) {
        if from > self.cal.start {
            self.dx(from, "ICD10", code);
        }
        for y in 0..self.cal.periods.len() {
            let (_, hi) = self.cal.periods[y];
            if hi < from || !self.chance(p) {
                continue;
            }
            let d = self.contact_day(y, from);
            if d >= from {
                self.dx(d, "ICD10", code);
            }
        }
    }

    /// Antiplatelets of an anticoagulated AF patient with coronary disease:
    /// triple therapy after an infarction (aspirin for 1-12 months,
    /// clopidogrel for 6-12, a few never stopped), or aspirin kept on top of
    /// the anticoagulant in stable disease; a PPI for some.
    fn af_antiplatelets(&mut self, oac_start: Day, adh: f64) {
        let chd = self.p.onset[Cond::Chd as usize];
        if chd == NEVER {
            return;
        }
        let end = self.cal.end;
        let from = chd.max(oac_start);
        if self.chd_mi() && self.chance(0.6) {
            // Three in ten are left on triple therapy (the safety gap; rare
            // enough that a lower share leaves it empty at 64,000 people).
            let kept = self.chance(0.3);
            let asa_stop = if kept || self.chance(0.12) {
                end
            } else {
                from + 30 + self.rng.random_range(0..330)
            };
            let p2y12_stop = if kept || self.chance(0.15) {
                end
            } else {
                from + 180 + self.rng.random_range(0..200)
            };
            self.course("B01AC06", from, asa_stop, adh);
            self.course("B01AC04", from, p2y12_stop, adh);
            if self.chance(0.6) {
                self.course("A02BC02", from, asa_stop.max(p2y12_stop), adh);
            }
        } else if self.chance(0.15) {
            self.course("B01AC06", from + 30, end, adh);
            if self.chance(0.4) {
                self.course("A02BC02", from + 30, end, adh);
            }
        }
    }

    /// Valproate from `start`; a third switch to it later in the horizon
    /// (after lamotrigine), so that some courses start recently.
    fn valproate(&mut self, start: Day, adh: f64) {
        let s = if self.chance(0.3) {
            let switch = self.day_in(self.cal.start, self.cal.as_of).max(start);
            self.course("N03AX09", start, switch, adh);
            switch
        } else {
            start
        };
        let last = self.course("N03AG01", s, self.cal.end, adh);
        self.on_valproate = (self.on_valproate.0.min(s), self.on_valproate.1.max(last));
    }

    /// A peptic ulcer coded once in the history for 1.2 % of adults under 60
    /// and 3 % from 60 on (K25.9, K26.9); 60 % then take a PPI long-term.
    /// Returns the day of the code (NEVER without one).
    fn peptic_ulcer(&mut self) -> Day {
        let age = self.p.age_at(self.cal.as_of);
        if age < 30.0 || !self.chance(if age >= 60.0 { 0.03 } else { 0.012 }) {
            return NEVER;
        }
        let d = self.day_in(self.cal.start, self.cal.as_of);
        let code = pick(self.rng, &["K25.9", "K26.9"]);
        self.dx(d, "ICD10", code);
        if self.chance(0.6) {
            let adh = self.adherence();
            self.course("A02BC01", d, self.cal.end, adh);
        }
        d
    }

    /// Long courses not tied to a modelled condition: azole for nail fungus,
    /// trimethoprim prophylaxis of recurrent urinary infections, aspirin for
    /// primary prevention, propranolol and timolol eye drops (non-selective
    /// beta-blockers).
    fn other_long_courses(&mut self) {
        let p = self.p;
        let (start, end) = (self.cal.start, self.cal.end);
        let age = p.age_at(self.cal.as_of);
        let random_start = |s: &mut Self| s.day_in(start - 200, end);
        if age >= 50.0 && self.chance(0.04) {
            let d = random_start(self);
            let stop = d + 120 + self.rng.random_range(0..240);
            self.course("J02AC01", d, stop, 0.7);
        }
        if p.female && age >= 50.0 && self.chance(0.04) {
            let d = random_start(self);
            let stop = d + 180 + self.rng.random_range(0..180);
            self.course("J01EA01", d, stop, 0.7);
        }
        let vascular = [Cond::Chd, Cond::Stroke, Cond::Tia, Cond::Pad, Cond::Af]
            .iter()
            .any(|&c| p.onset[c as usize] != NEVER);
        let diabetic = p.onset[Cond::T2d as usize] != NEVER;
        if age >= 60.0 && !vascular && self.chance(if diabetic { 0.12 } else { 0.04 }) {
            let d = self.day_in(start - 600, end);
            let adh = self.adherence();
            self.course("B01AC06", d, end, adh);
        }
        let asthma = p.onset[Cond::Asthma as usize] != NEVER;
        if (18.0..65.0).contains(&age) && self.chance(if asthma { 0.005 } else { 0.01 }) {
            let d = random_start(self);
            let stop = if self.chance(0.4) { end } else { d + 365 };
            let adh = self.adherence();
            self.course("C07AA05", d, stop, adh);
        }
        if age >= 60.0 && self.chance(0.03) {
            let d = random_start(self);
            let adh = self.adherence();
            self.course("S01ED01", d, end, adh);
        }
    }

    fn new_condition_treatments(&mut self) {
        let p = self.p;
        let on = |c: Cond| p.onset[c as usize];
        let end = self.cal.end;
        if on(Cond::Dementia) != NEVER {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Dementia), 60.0);
            if self.chance(0.45) {
                let atc = pick(self.rng, &["N06DA02", "N06DA02", "N06DX01"]);
                self.course(atc, s, end, adh);
            }
            if self.chance(0.2) {
                let atc = pick(self.rng, &["N05AH04", "N05AX08"]);
                self.course(atc, s + 200, end, adh);
            }
        }
        if on(Cond::Epilepsy) != NEVER && self.chance(0.85) {
            let adh = self.adherence();
            let s = self.start_after(on(Cond::Epilepsy), 30.0);
            let childbearing = p.female && p.age_at(self.cal.as_of) < 50.0;
            if self.chance(if childbearing { 0.12 } else { 0.3 }) {
                self.valproate(s, adh);
            } else {
                let atc = pick(self.rng, &["N03AX09", "N03AX14"]);
                self.course(atc, s, end, adh);
            }
        }
        let bc = on(Cond::BreastCancer);
        if bc != NEVER && p.age_at(bc) >= 50.0 && self.chance(0.65) {
            let adh = self.adherence();
            let s = self.start_after(bc, 90.0);
            let atc = pick(self.rng, &["L02BG04", "L02BG03"]);
            self.course(atc, s, s + (5.0 * YEAR) as Day, adh);
            if self.chance(0.6) {
                let d = s + self.rng.random_range(0..60);
                self.procedure(d, "SNOMED", "312681000");
            }
        }
        let op = on(Cond::Osteoporosis);
        if op != NEVER {
            if op > self.cal.start && self.chance(0.6) {
                self.procedure(op, "SNOMED", "312681000");
            }
            for &(lo, hi) in &self.cal.periods.clone() {
                if lo >= op && self.chance(0.12) {
                    let d = self.day_in(lo, hi);
                    self.procedure(d, "SNOMED", "312681000");
                }
            }
        }
        // Pain: opioid courses, chronic opioids and gabapentinoids (more in
        // diabetic neuropathy), bladder antimuscarinics and tricyclics.
        let age = p.age_at(self.cal.as_of);
        for &(lo, hi) in &self.cal.periods.clone() {
            let a = p.age_at(hi);
            let rate = if a >= 65.0 {
                0.09
            } else if a >= 40.0 {
                0.06
            } else if a >= 18.0 {
                0.03
            } else {
                0.0
            };
            if self.chance(rate) {
                let d = self.day_in(lo, hi);
                let atc = pick(self.rng, &["N02AX02", "N02AX02", "N02AJ06", "N02AA05"]);
                let supply = pick(self.rng, &[5.0, 10.0, 20.0, 30.0]);
                self.med_fill(d, atc, supply);
            }
        }
        if age < 30.0 {
            return;
        }
        let diabetic = p.has(Cond::T2d, self.cal.as_of) || p.has(Cond::T1d, self.cal.as_of);
        let gaba = 0.015 + if diabetic { 0.04 } else { 0.0 } + if age >= 65.0 { 0.01 } else { 0.0 };
        if self.chance(gaba) {
            let d = self.day_in(self.cal.start - 300, self.cal.end);
            let stop = if self.chance(0.5) {
                self.cal.end
            } else {
                d + 120 + self.rng.random_range(0..300)
            };
            let atc = pick(self.rng, &["N03AX16", "N03AX16", "N03AX12"]);
            let adh = self.adherence();
            self.course(atc, d, stop, adh);
            if self.chance(0.25) {
                let atc = pick(self.rng, &["N02AX02", "N02AA05"]);
                self.course(atc, d + 30, stop, adh);
            }
        }
        if self.chance(if age >= 65.0 { 0.02 } else { 0.008 }) {
            let d = self.day_in(self.cal.start - 300, self.cal.end);
            let atc = pick(self.rng, &["N02AX02", "N02AA05", "N02AE01"]);
            self.course(atc, d, self.cal.end, 0.7);
        }
        if age >= 60.0 && self.chance(0.05) {
            let d = self.day_in(self.cal.start - 300, self.cal.end);
            let atc = pick(self.rng, &["G04BD08", "G04BD07"]);
            let adh = self.adherence();
            self.course(atc, d, self.cal.end, adh);
        }
        if self.chance(0.015) {
            let d = self.day_in(self.cal.start - 300, self.cal.end);
            let adh = self.adherence();
            self.course("N06AA09", d, d + 365, adh);
        }
        if age >= 60.0 && self.chance(0.015) {
            let d = self.day_in(self.cal.start, self.cal.end);
            self.med_fill(d, "N05BB01", 30.0);
        }
    }

    /// Falls and fractures from 60 on (more with age, frailty and
    /// osteoporosis): a coded fall at an ER visit (`W19`) or a primary-care
    /// contact (`R29.6`), some with a fracture; a fifth of the fractures are
    /// followed by osteoporosis treatment and some by a DXA.
    fn injuries(&mut self) {
        let p = self.p;
        for (y, &(lo, hi)) in self.cal.periods.clone().iter().enumerate() {
            let Some((alo, ahi)) = self.alive_span(lo, hi) else {
                continue;
            };
            let age = p.age_at(ahi);
            if age < 60.0 {
                continue;
            }
            let osteo = p.has(Cond::Osteoporosis, ahi);
            let rate = 0.07 * ((age - 65.0) / 12.0).exp() * p.frailty.sqrt();
            let rate = rate * if p.has(Cond::Dementia, ahi) { 2.0 } else { 1.0 };
            for _ in 0..poisson(self.rng, rate.min(2.0)) {
                let fracture = self.chance(if osteo { 0.25 } else { 0.12 });
                let d = if fracture || self.chance(0.4) || self.pc_days[y].is_empty() {
                    let d = self.day_in(alo, ahi);
                    self.visit(d, "ER");
                    self.dx(d, "ICD10", "W19");
                    d
                } else {
                    // Told at a primary-care contact of the period.
                    let days = &self.pc_days[y];
                    let d = days[self.rng.random_range(0..days.len())];
                    self.dx(d, "ICD10", "R29.6");
                    d
                };
                if !fracture {
                    continue;
                }
                let r = self.u();
                let code = if r < 0.3 + 0.005 * (age - 60.0) {
                    pick(self.rng, &["S72.0", "S72.1"])
                } else if r < 0.65 {
                    "S52.5"
                } else if r < 0.85 {
                    "S32.0"
                } else {
                    "S42.2"
                };
                self.dx(d, "ICD10", code);
                if self.chance(0.6) {
                    let f = d + 20 + self.rng.random_range(0..40);
                    self.dx(f, "ICD10", code);
                }
                if self.chance(0.2) {
                    let adh = self.adherence();
                    self.course("M05BA04", d + 30, self.cal.end, adh);
                }
                if self.chance(0.25) {
                    let f = d + 30 + self.rng.random_range(0..90);
                    self.procedure(f, "SNOMED", "312681000");
                }
            }
        }
    }
}

/// Day of an influenza vaccination in period `(lo, hi]`: October to December.
fn flu_day(lo: Day, hi: Day, u: f64) -> Day {
    // Find the first 1 October after lo (days since epoch; 1970-10-01 = 273).
    let mut y = 1970 + (lo as f64 / YEAR) as i32 - 1;
    loop {
        let oct1 = days_from_civil(y, 10, 1);
        if oct1 > lo {
            let d = oct1 + (u * 80.0) as Day;
            return if d <= hi {
                d
            } else {
                lo + 1 + ((hi - lo - 1) as f64 * u) as Day
            };
        }
        y += 1;
    }
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    chrono::NaiveDate::from_ymd_opt(y, m, d).map_or(0, day_of)
}

/// Days since 1970-01-01 (Arrow `Date32`) of a date.
pub fn day_of(d: chrono::NaiveDate) -> Day {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as Day
}
