//! Future adverse outcomes (`outcomes.parquet`): for every person alive on
//! `as_of`, the probabilities the generator used and the events drawn in the
//! year after `as_of` — myocardial infarction and stroke (from blood
//! pressure, cholesterol, smoking, diabetes, established vascular disease and
//! untreated atrial fibrillation), major bleeding with a high INR on warfarin,
//! hospital admission for hyperkalaemia, and emergency visits.
//!
//! **A simulation assumption, not a clinical claim.** Rates depend on the
//! person's true state and history up to `as_of` and on whether the
//! corresponding gap is open; closing a gap would lower the rate by the same
//! published effect sizes the ranking uses (`docs/ranking.md`). The
//! probabilities assume nobody acts on the gaps during the year; the column
//! `preventable` is the expected number of events that closing every open gap
//! on `as_of` would have prevented.
//!
//! Drawn from a random stream of its own (the seed mixed with
//! [`STREAM_SALT`], stream = person index) after the person is simulated and
//! from nothing the other tables are written from, so every other table stays
//! byte-identical for a seed and options, and outcomes depend only on them too.
//!
//! Risk factors read from the person's history (the same events scoring
//! reads; only rows in the canonical unit are used): last systolic pressure
//! (5 years), last total, HDL and LDL cholesterol (5 years), medicines in
//! supply on `as_of` (90 days when the supply is missing), last INR (14 days),
//! last potassium (3 months). Conditions and smoking are the true state.

use crate::codes::Cond;
use crate::model::{Calendar, Day, Ev, Person, normal, poisson};
use arrow::array::{ArrayRef, Float64Builder, UInt32Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Mixed into the seed for the outcome stream ("outcomes" in ASCII).
pub const STREAM_SALT: u64 = 0x6f75_7463_6f6d_6573;

/// Annual MI-or-stroke hazard at 55 for a man with SBP 120, LDL 3.0, no other
/// risk factor; women × 0.6; × exp(0.075) per year of age.
const H0_MALE_55: f64 = 0.0030;
const FEMALE_HR: f64 = 0.6;
const AGE_SLOPE: f64 = 0.075;
/// Observational hazard ratios (simulation assumptions of the order of the
/// Prospective Studies Collaboration and the Emerging Risk Factors Collaboration).
const HR_PER_20_MMHG: f64 = 1.6;
const HR_PER_MMOL_LDL: f64 = 1.25;
const HR_SMOKING: f64 = 1.9;
const HR_DIABETES: f64 = 2.0;
const HR_ESTABLISHED_CVD: f64 = 2.5;
/// Share of atherosclerotic events that are strokes.
const STROKE_SHARE: f64 = 0.35;

/// The ranking's effect sizes (`caregap::rank::benefit`, `docs/ranking.md`).
const RR_PER_10_MMHG: f64 = 0.80;
const RR_PER_MMOL_LDL: f64 = 0.78;
const STATIN_LDL_FRACTION: f64 = 0.45;
const INTENSIFY_LDL_FRACTION: f64 = 0.25;
const SMOKING_RRR: f64 = 0.14 * 0.36;
const ANTIPLATELET_RRR: f64 = 0.22;
const OAC_RRR: f64 = 0.64;
/// Friberg 2012, annual ischaemic stroke rate (%) by CHA₂DS₂-VASc 0..=9.
const AF_STROKE_PCT: [f64; 10] = [0.2, 0.6, 2.2, 3.2, 4.8, 7.2, 9.7, 11.2, 10.8, 12.2];

/// Major bleeding in the year on warfarin: INR 5+ left alone vs acted on,
/// and anyone on an anticoagulant (simulation assumptions).
const BLEED_HIGH_INR_OPEN: f64 = 0.10;
const BLEED_HIGH_INR_CLOSED: f64 = 0.03;
const BLEED_ON_OAC: f64 = 0.025;
/// Hyperkalaemia admission in the year: K 6.0+ (or 5.5+ on a RAS inhibitor
/// or MRA) left alone vs acted on; background with CKD (simulation assumptions).
const HYPERK_OPEN: f64 = 0.15;
const HYPERK_CLOSED: f64 = 0.03;
const HYPERK_CKD: f64 = 0.004;

/// One person's outcome row.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outcomes {
    /// Probabilities in the year (gaps left open).
    pub p_mi: f64,
    pub p_stroke: f64,
    pub p_bleeding: f64,
    pub p_hyperkalaemia: f64,
    /// Expected emergency visits not caused by the outcomes above.
    pub emergency_rate: f64,
    /// Expected events prevented had every open gap been closed on `as_of`.
    pub preventable: f64,
    /// Events drawn.
    pub mi: u32,
    pub stroke: u32,
    pub bleeding: u32,
    pub hyperkalaemia: u32,
    pub emergency: u32,
}

impl Outcomes {
    /// Expected MI, stroke, bleeding and hyperkalaemia events (the oracle's key).
    pub fn expected(&self) -> f64 {
        self.p_mi + self.p_stroke + self.p_bleeding + self.p_hyperkalaemia
    }
}

/// What the history says on `as_of`.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    sbp: Option<f64>,
    total_chol: Option<f64>,
    hdl: Option<f64>,
    ldl: Option<f64>,
    inr_14d: Option<f64>,
    k_3mo: Option<f64>,
    on_statin: bool,
    on_antihypertensive: bool,
    on_antiplatelet: bool,
    on_anticoagulant: bool,
    on_warfarin: bool,
    on_raasi_or_mra: bool,
}

fn code_is(e: &Ev, codes: &[&str]) -> bool {
    e.code.is_some_and(|c| codes.contains(&c))
}

fn read_state(events: &[Ev], as_of: Day) -> State {
    let mut s = State::default();
    let canonical = |e: &Ev, unit: Option<&str>| e.unit == unit;
    for e in events.iter().filter(|e| e.date <= as_of) {
        let age = as_of - e.date;
        match e.kind {
            "measurement" => {
                let v = e.value;
                let mmol = Some("mmol/l");
                if age <= 5 * 366 {
                    if code_is(e, &["8480-6", "RR-SYS"]) && canonical(e, Some("mmHg")) {
                        s.sbp = v.or(s.sbp);
                    } else if code_is(e, &["2093-3", "fP-Kol"]) && canonical(e, mmol) {
                        s.total_chol = v.or(s.total_chol);
                    } else if code_is(e, &["2085-9", "fP-Kol-HDL"]) && canonical(e, mmol) {
                        s.hdl = v.or(s.hdl);
                    } else if code_is(e, &["13457-7", "2089-1", "fP-Kol-LDL"]) && canonical(e, mmol)
                    {
                        s.ldl = v.or(s.ldl);
                    }
                }
                if age <= 14 && code_is(e, &["6301-6", "P-TT-INR"]) {
                    s.inr_14d = v.or(s.inr_14d);
                }
                if age <= 92 && code_is(e, &["2823-3", "P-K"]) && canonical(e, mmol) {
                    s.k_3mo = v.or(s.k_3mo);
                }
            }
            "medication" => {
                let supply = e.value.unwrap_or(90.0);
                if (age as f64) >= supply {
                    continue;
                }
                let atc = e.code.unwrap_or("");
                if atc.starts_with("C10AA") {
                    s.on_statin = true;
                }
                if ["C02", "C03", "C07", "C08", "C09"]
                    .iter()
                    .any(|p| atc.starts_with(p))
                {
                    s.on_antihypertensive = true;
                }
                if atc.starts_with("C09") || atc.starts_with("C03DA") {
                    s.on_raasi_or_mra = true;
                }
                if atc.starts_with("B01AC") {
                    s.on_antiplatelet = true;
                }
                if atc.starts_with("B01AA") || atc.starts_with("B01AF") || atc == "B01AE07" {
                    s.on_anticoagulant = true;
                }
                if atc == "B01AA03" {
                    s.on_warfarin = true;
                }
            }
            _ => {}
        }
    }
    s
}

/// The outcome rows' random stream of person `idx`.
pub fn outcome_rng(seed: u64, idx: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM_SALT);
    rng.set_stream(idx);
    rng
}

/// Probability of at least one event in a year at an annual rate.
fn p_year(rate: f64) -> f64 {
    1.0 - (-rate.max(0.0)).exp()
}

/// Probabilities and draws of person `idx` (alive on `as_of`).
pub fn draw(seed: u64, idx: u64, p: &Person, events: &[Ev], cal: &Calendar) -> Outcomes {
    let mut rng = outcome_rng(seed, idx);
    let as_of = cal.as_of;
    let s = read_state(events, as_of);
    let age = p.age_at(as_of);
    let has = |c: Cond| p.has(c, as_of);
    let adult = age >= 18.0;

    // True values where the history has none (unmeasured is not absent).
    let sbp = s.sbp.unwrap_or_else(|| 128.0 + 14.0 * normal(&mut rng));
    let ldl = s
        .ldl
        .or_else(|| Some(s.total_chol? - s.hdl? - 0.6))
        .unwrap_or_else(|| 3.0 + 0.8 * normal(&mut rng))
        .max(0.5);
    let diabetes = has(Cond::T2d) || has(Cond::T1d);
    let cvd = has(Cond::Chd) || has(Cond::Stroke) || has(Cond::Tia) || has(Cond::Pad);
    let smoker = has(Cond::Smoking);
    let af = has(Cond::Af);

    // Atherosclerotic MI or stroke.
    let mut h = if adult {
        H0_MALE_55 * (AGE_SLOPE * (age - 55.0)).exp()
    } else {
        0.0
    };
    if p.female {
        h *= FEMALE_HR;
    }
    h *= HR_PER_20_MMHG.powf((sbp - 120.0) / 20.0);
    h *= HR_PER_MMOL_LDL.powf(ldl - 3.0);
    if smoker {
        h *= HR_SMOKING;
    }
    if diabetes {
        h *= HR_DIABETES;
    }
    if cvd {
        h *= HR_ESTABLISHED_CVD;
    }
    // Open gaps and what closing them keeps of the hazard.
    let mut keep = 1.0;
    if adult && sbp >= 140.0 {
        keep *= RR_PER_10_MMHG.powf((sbp - 130.0).min(20.0) / 10.0);
    }
    let statin_indicated = cvd
        || (diabetes && (40.0..=75.0).contains(&age))
        || ldl >= 5.0
        || (has(Cond::Ckd) && age >= 50.0);
    if statin_indicated && !s.on_statin {
        keep *= RR_PER_MMOL_LDL.powf(STATIN_LDL_FRACTION * ldl);
    } else if s.on_statin && (cvd || diabetes) && ldl >= 1.8 {
        keep *= RR_PER_MMOL_LDL.powf(INTENSIFY_LDL_FRACTION * ldl);
    }
    if smoker && adult {
        keep *= 1.0 - SMOKING_RRR;
    }
    if cvd && !s.on_antiplatelet && !s.on_anticoagulant {
        keep *= 1.0 - ANTIPLATELET_RRR;
    }
    // AF stroke without anticoagulation (CHA₂DS₂-VASc, stroke worth 2 here).
    let mut af_rate = 0.0;
    let mut af_keep = 1.0;
    if af && !s.on_anticoagulant {
        let score = u8::from(has(Cond::Hf))
            + u8::from(has(Cond::Htn))
            + if age >= 75.0 {
                2
            } else {
                u8::from(age >= 65.0)
            }
            + u8::from(diabetes)
            + 2 * u8::from(has(Cond::Stroke) || has(Cond::Tia))
            + u8::from(has(Cond::Chd) || has(Cond::Pad))
            + u8::from(p.female);
        af_rate = AF_STROKE_PCT[usize::from(score).min(9)] / 100.0;
        if score >= if p.female { 2 } else { 1 } {
            af_keep = 1.0 - OAC_RRR;
        }
    }
    let p_mi = p_year(h * (1.0 - STROKE_SHARE));
    let p_stroke = p_year(h * STROKE_SHARE + af_rate);
    let p_mi_closed = p_year(h * keep * (1.0 - STROKE_SHARE));
    let p_stroke_closed = p_year(h * keep * STROKE_SHARE + af_rate * af_keep);

    // Bleeding with a high INR on warfarin; hyperkalaemia.
    let high_inr = s.on_warfarin && s.inr_14d.is_some_and(|v| v >= 5.0);
    let (p_bleeding, p_bleeding_closed) = if high_inr {
        (BLEED_HIGH_INR_OPEN, BLEED_HIGH_INR_CLOSED)
    } else if s.on_anticoagulant {
        (BLEED_ON_OAC, BLEED_ON_OAC)
    } else {
        (0.0, 0.0)
    };
    let high_k = s
        .k_3mo
        .is_some_and(|k| k >= 6.0 || (s.on_raasi_or_mra && k >= 5.5));
    let (p_hyperk, p_hyperk_closed) = if high_k {
        (HYPERK_OPEN, HYPERK_CLOSED)
    } else if has(Cond::Ckd) {
        (HYPERK_CKD, HYPERK_CKD)
    } else {
        (0.0, 0.0)
    };
    // Emergency visits for everything else: frailty, age and conditions.
    let n_cond = crate::codes::Cond::ALL.iter().filter(|c| has(**c)).count() as f64;
    let emergency_rate =
        0.08 * p.frailty * (1.0 + 0.15 * n_cond) * (1.0 + (age - 60.0).max(0.0) / 40.0);

    let preventable = (p_mi - p_mi_closed)
        + (p_stroke - p_stroke_closed)
        + (p_bleeding - p_bleeding_closed)
        + (p_hyperk - p_hyperk_closed);
    let mut bern = |p: f64| u32::from(rng.random::<f64>() < p);
    let (mi, stroke, bleeding, hyperkalaemia) =
        (bern(p_mi), bern(p_stroke), bern(p_bleeding), bern(p_hyperk));
    let emergency = poisson(&mut rng, emergency_rate) + mi + stroke + bleeding + hyperkalaemia;
    Outcomes {
        p_mi,
        p_stroke,
        p_bleeding,
        p_hyperkalaemia: p_hyperk,
        emergency_rate,
        preventable,
        mi,
        stroke,
        bleeding,
        hyperkalaemia,
        emergency,
    }
}

/// The schema of `outcomes.parquet` (patient id as in `patients`).
pub fn schema(id: DataType) -> SchemaRef {
    let f = |n: &str| Field::new(n, DataType::Float64, false);
    let u = |n: &str| Field::new(n, DataType::UInt32, false);
    Arc::new(Schema::new(vec![
        Field::new("patient_id", id, false),
        f("p_mi"),
        f("p_stroke"),
        f("p_bleeding"),
        f("p_hyperkalaemia"),
        f("emergency_rate"),
        f("expected_events"),
        f("preventable"),
        u("mi"),
        u("stroke"),
        u("bleeding"),
        u("hyperkalaemia"),
        u("emergency"),
    ]))
}

/// Outcome columns of a chunk (the id column is built by the caller's writer).
pub struct OutcomeCols {
    f: [Float64Builder; 7],
    u: [UInt32Builder; 5],
}

impl OutcomeCols {
    pub fn new(cap: usize) -> OutcomeCols {
        OutcomeCols {
            f: std::array::from_fn(|_| Float64Builder::with_capacity(cap)),
            u: std::array::from_fn(|_| UInt32Builder::with_capacity(cap)),
        }
    }

    pub fn push(&mut self, o: &Outcomes) {
        let f = [
            o.p_mi,
            o.p_stroke,
            o.p_bleeding,
            o.p_hyperkalaemia,
            o.emergency_rate,
            o.expected(),
            o.preventable,
        ];
        for (b, v) in self.f.iter_mut().zip(f) {
            b.append_value(v);
        }
        let u = [o.mi, o.stroke, o.bleeding, o.hyperkalaemia, o.emergency];
        for (b, v) in self.u.iter_mut().zip(u) {
            b.append_value(v);
        }
    }

    pub fn finish(
        mut self,
        ids: ArrayRef,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut cols = vec![ids];
        cols.extend(self.f.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.extend(self.u.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(schema.clone(), cols)
    }
}
