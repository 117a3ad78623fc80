//! Expected benefit of closing a person's gaps, and the urgent band.
//!
//! Every figure and its source is in `docs/ranking.md` ("Who is called
//! first"); this module is the computation.
//!
//! - A criterion maps (by id, [`DEFAULT_EFFECTS`], overridable in the
//!   ranking config) to an [`Effect`]: an action with a published relative
//!   risk reduction (RRR) on one [`Outcome`].
//! - A person's [`Baseline`] is their risk of that outcome without the action:
//!   SCORE2 / SCORE2-OP ten-year CVD risk (with documented stand-ins for
//!   established CVD and diabetes), CHA₂DS₂-VASc annual stroke rate in AF.
//! - [`person_benefit`] combines the person's effects without counting the
//!   same outcome twice: criteria that ask for the same action count once
//!   (the largest RRR of that action), and the actions on one outcome combine
//!   as `1 − Π(1 − RRR_a)`. Different outcomes add (they are different events).
//! - The routine order's value ([`order_value`]) is the benefit in percentage
//!   points per year plus, for the gaps without a quantified effect, the
//!   fall-back value of the **highest** such priority only: a person's number
//!   of reminders never adds up.

use super::risk::{CvInputs, CvRisk};
use super::score2::{RiskModel, Score2Input, Sex, ten_year_risk_pct};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The outcome an action prevents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Fatal and non-fatal myocardial infarction and stroke (SCORE2's
    /// outcome), over 10 years.
    Cvd,
    /// Ischaemic stroke in atrial fibrillation, per year.
    AfStroke,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Cvd, Outcome::AfStroke];

    /// The words of the benefit text.
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Cvd => "fewer heart attacks or strokes over 10 years",
            Outcome::AfStroke => "fewer strokes per year",
        }
    }
}

/// An action with a quantified effect (sources in `docs/ranking.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Lowering systolic pressure towards 130 mmHg: RR 0.80 per 10 mmHg
    /// (Ettehad 2016), reduction min(SBP − 130, 20) mmHg, 10 when unknown.
    BpLowering,
    /// Starting a statin: RR 0.78 per 1 mmol/l LDL (CTT 2010), LDL lowered by 45 %.
    StatinStart,
    /// Intensifying lipid lowering on a statin: RR 0.78 per 1 mmol/l LDL,
    /// LDL lowered by a further 25 %.
    LipidIntensify,
    /// Smoking-cessation support: attributable quit rate 0.14 (Cochrane 2013)
    /// × RR 0.64 after quitting (Critchley 2003): RRR 0.05.
    SmokingCessation,
    /// Antiplatelet (or other antithrombotic) in established vascular disease:
    /// RRR 0.22 (Antithrombotic Trialists' Collaboration 2002).
    Antiplatelet,
    /// Oral anticoagulation in AF instead of nothing: RRR 0.64 (Hart 2007).
    Anticoagulation,
    /// Oral anticoagulation in AF instead of aspirin: RRR 0.39 (Hart 2007).
    AnticoagulationInsteadOfAspirin,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::BpLowering => "bp_lowering",
            Effect::StatinStart => "statin_start",
            Effect::LipidIntensify => "lipid_intensify",
            Effect::SmokingCessation => "smoking_cessation",
            Effect::Antiplatelet => "antiplatelet",
            Effect::Anticoagulation => "anticoagulation",
            Effect::AnticoagulationInsteadOfAspirin => "anticoagulation_instead_of_aspirin",
        }
    }

    pub fn outcome(self) -> Outcome {
        match self {
            Effect::Anticoagulation | Effect::AnticoagulationInsteadOfAspirin => Outcome::AfStroke,
            _ => Outcome::Cvd,
        }
    }

    /// Effects that are one action (one visit cannot start a statin twice):
    /// a person's effects of one action count once, the largest.
    pub fn action(self) -> u8 {
        match self {
            Effect::BpLowering => 0,
            Effect::StatinStart | Effect::LipidIntensify => 1,
            Effect::SmokingCessation => 2,
            Effect::Antiplatelet => 3,
            Effect::Anticoagulation | Effect::AnticoagulationInsteadOfAspirin => 4,
        }
    }

    /// The relative risk reduction for this person (0..1).
    pub fn rrr(self, b: &Baseline) -> f64 {
        let per_mmol = |ldl_drop: f64| 1.0 - RR_PER_MMOL_LDL.powf(ldl_drop);
        let ldl = b
            .ldl
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(DEFAULT_LDL);
        match self {
            Effect::BpLowering => {
                let drop = b
                    .sbp
                    .filter(|v| v.is_finite())
                    .map_or(DEFAULT_SBP_DROP, |s| {
                        (s - SBP_TARGET).clamp(0.0, MAX_SBP_DROP)
                    });
                1.0 - RR_PER_10_MMHG.powf(drop / 10.0)
            }
            Effect::StatinStart => per_mmol(STATIN_LDL_FRACTION * ldl),
            Effect::LipidIntensify => per_mmol(INTENSIFY_LDL_FRACTION * ldl),
            Effect::SmokingCessation => QUIT_ATTRIBUTABLE * (1.0 - RR_AFTER_QUITTING),
            Effect::Antiplatelet => ANTIPLATELET_RRR,
            Effect::Anticoagulation => OAC_VS_NOTHING_RRR,
            Effect::AnticoagulationInsteadOfAspirin => OAC_VS_ASPIRIN_RRR,
        }
    }
}

/// Ettehad et al., Lancet 2016;387:957–967: major CVD events RR 0.80 per 10 mmHg.
pub const RR_PER_10_MMHG: f64 = 0.80;
pub const SBP_TARGET: f64 = 130.0;
pub const MAX_SBP_DROP: f64 = 20.0;
pub const DEFAULT_SBP_DROP: f64 = 10.0;
/// CTT Collaboration, Lancet 2010;376:1670–1681: major vascular events RR 0.78 per 1 mmol/l.
pub const RR_PER_MMOL_LDL: f64 = 0.78;
pub const STATIN_LDL_FRACTION: f64 = 0.45;
pub const INTENSIFY_LDL_FRACTION: f64 = 0.25;
/// LDL used when none is measured (mmol/l): the Finnish adult mean (FinHealth 2017, about 3.0).
pub const DEFAULT_LDL: f64 = 3.0;
/// Cahill et al., Cochrane 2013 (network meta-analysis): abstinence with
/// varenicline about 25 % vs about 11 % unaided.
pub const QUIT_ATTRIBUTABLE: f64 = 0.14;
/// Critchley & Capewell, JAMA 2003;290:86–97: mortality RR 0.64 after quitting (CHD).
pub const RR_AFTER_QUITTING: f64 = 0.64;
/// Antithrombotic Trialists' Collaboration, BMJ 2002;324:71–86.
pub const ANTIPLATELET_RRR: f64 = 0.22;
/// Hart, Pearce & Aguilar, Ann Intern Med 2007;146:857–867.
pub const OAC_VS_NOTHING_RRR: f64 = 0.64;
pub const OAC_VS_ASPIRIN_RRR: f64 = 0.39;
/// Ten-year CVD risk used for established CVD (no SCORE2): at least the
/// ESC 2021 lower edge of "very high" in secondary prevention, 20 %, and the
/// SCORE2 equations with the person's values × 2 (REACH: one-year CV death,
/// MI or stroke about 4.2–4.7 % with established atherothrombosis against
/// 2.1 % with risk factors only; Steg et al., JAMA 2007;297:1197–1206).
pub const ESTABLISHED_CVD_10Y_PCT: f64 = 20.0;
pub const ESTABLISHED_CVD_HR: f64 = 2.0;
/// Diabetes: SCORE2 as without diabetes × 2 (Emerging Risk Factors
/// Collaboration, Lancet 2010;375:2215–2222: vascular HR about 2).
pub const DIABETES_HR: f64 = 2.0;
/// The largest ten-year risk the stand-ins give (60 %: about the top of
/// SCORE2-OP's range at 85–89 in the moderate region; beyond it competing
/// mortality dominates).
pub const MAX_CV10_PCT: f64 = 60.0;
/// Total and HDL cholesterol imputed for the benefit estimate only.
pub const DEFAULT_TOTAL_CHOL: f64 = 5.2;
pub const DEFAULT_HDL: f64 = 1.4;
/// Annual ischaemic stroke rate (%) without anticoagulation by CHA₂DS₂-VASc
/// 0..=9: Friberg, Rosenqvist & Lip, Eur Heart J 2012;33:1500–1510.
pub const AF_STROKE_PCT_YEAR: [f64; 10] = [0.2, 0.6, 2.2, 3.2, 4.8, 7.2, 9.7, 11.2, 10.8, 12.2];

/// Criterion id → effect, the shipped library's quantified gaps.
pub const DEFAULT_EFFECTS: &[(&str, Effect)] = &[
    ("HTN.BP_SEVERE", Effect::BpLowering),
    ("HTN.BP_UNCONTROLLED", Effect::BpLowering),
    ("HTN.BP_UNCONTROLLED_80PLUS", Effect::BpLowering),
    ("HTN.UNCONTROLLED_UNTREATED", Effect::BpLowering),
    ("HTN.UNCONTROLLED_MONOTHERAPY", Effect::BpLowering),
    ("HTN.RESISTANT_NO_MRA", Effect::BpLowering),
    ("HTN.HIGH_BP_NOT_RECHECKED", Effect::BpLowering),
    ("HTN.POSSIBLE_UNDIAGNOSED", Effect::BpLowering),
    ("CHD.BP_ABOVE_TARGET", Effect::BpLowering),
    ("DM.BP_ABOVE_TARGET", Effect::BpLowering),
    ("STROKE.BP_ABOVE_TARGET", Effect::BpLowering),
    ("CKD.BP_ABOVE_TARGET", Effect::BpLowering),
    ("AF.BP_ABOVE_TARGET", Effect::BpLowering),
    ("CHD.NO_STATIN", Effect::StatinStart),
    ("STROKE.NO_STATIN", Effect::StatinStart),
    ("DM.NO_STATIN", Effect::StatinStart),
    ("CKD.NO_STATIN", Effect::StatinStart),
    ("LIPID.PAD_NO_STATIN", Effect::StatinStart),
    ("LIPID.LDL_VERY_HIGH_UNTREATED", Effect::StatinStart),
    ("LIPID.HIGH_TOTAL_CHOL_UNTREATED", Effect::StatinStart),
    ("CHD.LDL_ABOVE_TARGET", Effect::LipidIntensify),
    ("CHD.LDL_HIGH_NO_EZETIMIBE", Effect::LipidIntensify),
    ("STROKE.LDL_ABOVE_TARGET", Effect::LipidIntensify),
    ("DM.LDL_ABOVE_TARGET", Effect::LipidIntensify),
    ("DM.LDL_ABOVE_TARGET_HIGH_RISK", Effect::LipidIntensify),
    ("CHD.SMOKER", Effect::SmokingCessation),
    ("DM.SMOKER", Effect::SmokingCessation),
    ("HTN.SMOKER", Effect::SmokingCessation),
    ("STROKE.SMOKER", Effect::SmokingCessation),
    ("LIFE.SMOKER_NO_CESSATION", Effect::SmokingCessation),
    ("CHD.NO_ANTITHROMBOTIC", Effect::Antiplatelet),
    ("STROKE.NO_ANTITHROMBOTIC", Effect::Antiplatelet),
    ("LIPID.PAD_NO_ANTIPLATELET", Effect::Antiplatelet),
    ("AF.NO_ANTICOAGULANT", Effect::Anticoagulation),
    ("AF.ANTICOAGULANT_TO_CONSIDER", Effect::Anticoagulation),
    ("AF.ASPIRIN_ONLY", Effect::AnticoagulationInsteadOfAspirin),
];

/// Fall-back value (percentage points per year) of a gap without a
/// quantified effect, by priority 1..=10: a value judgement, doubling
/// roughly per level, configurable.
pub const DEFAULT_FALLBACK: [f64; 10] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0];

/// How the call lists are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Urgent band first, then expected benefit (the default).
    #[default]
    Benefit,
    /// The old additive priority score (`score`), for comparison.
    Additive,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Benefit => "benefit",
            Order::Additive => "additive",
        }
    }
}

/// `[benefit]` of the ranking config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenefitConfig {
    /// A gap of this priority or above puts the person in the urgent band.
    pub urgent_priority: u8,
    /// Fall-back values for priorities 1..=10 (percentage points per year).
    pub fallback: [f64; 10],
    /// Criterion id → effect name, or `"none"`: added to or replacing the
    /// shipped table.
    pub criteria: BTreeMap<String, String>,
}

impl Default for BenefitConfig {
    fn default() -> Self {
        BenefitConfig {
            urgent_priority: 9,
            fallback: DEFAULT_FALLBACK,
            criteria: BTreeMap::new(),
        }
    }
}

impl BenefitConfig {
    /// Checks the values; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10).contains(&self.urgent_priority) {
            return Err(format!(
                "benefit.urgent_priority = {}: expected 1 to 10",
                self.urgent_priority
            ));
        }
        if let Some(v) = self.fallback.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(format!("benefit.fallback holds {v}: expected numbers >= 0"));
        }
        for (id, name) in &self.criteria {
            if name != "none" && effect_by_name(name).is_none() {
                return Err(format!(
                    "benefit.criteria.{id:?} = {name:?}: expected one of {} or \"none\"",
                    ALL_EFFECTS.map(Effect::as_str).join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The effect of a criterion: the config's entry, else the shipped table.
    pub fn effect_of(&self, criterion: &str) -> Option<Effect> {
        match self.criteria.get(criterion) {
            Some(name) => effect_by_name(name),
            None => DEFAULT_EFFECTS
                .iter()
                .find(|(id, _)| *id == criterion)
                .map(|(_, e)| *e),
        }
    }

    /// The fall-back value of a priority (1..=10; 0 for anything else).
    pub fn fallback_of(&self, priority: u8) -> f64 {
        match priority {
            1..=10 => self.fallback[priority as usize - 1],
            _ => 0.0,
        }
    }
}

pub const ALL_EFFECTS: [Effect; 7] = [
    Effect::BpLowering,
    Effect::StatinStart,
    Effect::LipidIntensify,
    Effect::SmokingCessation,
    Effect::Antiplatelet,
    Effect::Anticoagulation,
    Effect::AnticoagulationInsteadOfAspirin,
];

fn effect_by_name(name: &str) -> Option<Effect> {
    ALL_EFFECTS.into_iter().find(|e| e.as_str() == name)
}

/// A person's risk without the actions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Baseline {
    /// Ten-year CVD risk in percent used for benefit (module docs), if any.
    pub cv10_pct: Option<f64>,
    /// Annual ischaemic stroke risk in AF (%), if the person has AF.
    pub af_stroke_pct: Option<f64>,
    /// Last systolic pressure (mmHg) and LDL cholesterol (mmol/l).
    pub sbp: Option<f64>,
    pub ldl: Option<f64>,
}

/// The features a baseline is made of (nulls kept): SCORE2's and a few more.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BaselineInputs<'a> {
    pub cv: CvInputs<'a>,
    pub ldl: Option<f64>,
    pub has_af: Option<bool>,
    pub has_heart_failure: Option<bool>,
    pub has_hypertension: Option<bool>,
}

/// CHA₂DS₂-VASc from the features: heart failure 1, hypertension 1, age 75+ 2
/// (65–74 1), diabetes 1, established vascular disease 1 (the features do not
/// tell a stroke, worth 2, from other vascular disease: a lower bound), female 1.
pub fn cha2ds2vasc(i: &BaselineInputs) -> u8 {
    let f = |b: Option<bool>| u8::from(b == Some(true));
    let age = i.cv.age.unwrap_or(0.0);
    f(i.has_heart_failure)
        + f(i.has_hypertension)
        + if age >= 75.0 {
            2
        } else {
            u8::from(age >= 65.0)
        }
        + f(i.cv.has_diabetes)
        + f(i.cv.has_cvd)
        + u8::from(i.cv.sex == Some("F"))
}

/// The baseline of one person; `cv` is their SCORE2 assessment.
pub fn baseline(i: &BaselineInputs, cv: Option<&CvRisk>) -> Baseline {
    let plausible = |v: Option<f64>, lo: f64, hi: f64| v.filter(|x| (lo..=hi).contains(x));
    let sbp = plausible(i.cv.sbp, 60.0, 300.0);
    let cvd = i.cv.has_cvd == Some(true);
    let cv10_pct = if let Some(r) = cv.and_then(|c| c.risk_pct) {
        Some(r)
    } else {
        // Established CVD (× 2, at least 20 %), diabetes (× 2) or missing
        // cholesterol (imputed): the same equations with stand-ins, for the
        // benefit estimate only.
        let sex = match i.cv.sex {
            Some("F") => Some(Sex::Female),
            Some("M") => Some(Sex::Male),
            _ => None,
        };
        match (i.cv.age.and_then(RiskModel::for_age), sex, sbp) {
            (Some(model), Some(sex), Some(sbp)) => {
                let input = Score2Input {
                    age: i.cv.age.unwrap_or(0.0),
                    sex,
                    smoker: i.cv.smoker == Some(true),
                    sbp,
                    total_chol: plausible(i.cv.total_chol, 1.0, 20.0).unwrap_or(DEFAULT_TOTAL_CHOL),
                    hdl: plausible(i.cv.hdl, 0.1, 10.0).unwrap_or(DEFAULT_HDL),
                };
                let mut r = ten_year_risk_pct(model, &input);
                if i.cv.has_diabetes == Some(true) {
                    r *= DIABETES_HR;
                }
                if cvd {
                    r = (r * ESTABLISHED_CVD_HR).max(ESTABLISHED_CVD_10Y_PCT);
                }
                Some(r.min(MAX_CV10_PCT))
            }
            _ => cvd.then_some(ESTABLISHED_CVD_10Y_PCT),
        }
    };
    let af_stroke_pct =
        (i.has_af == Some(true)).then(|| AF_STROKE_PCT_YEAR[usize::from(cha2ds2vasc(i)).min(9)]);
    Baseline {
        cv10_pct,
        af_stroke_pct,
        sbp,
        ldl: plausible(i.ldl, 0.1, 20.0),
    }
}

/// A person's expected benefit, per outcome and in common units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Benefit {
    /// Absolute risk reduction in percentage points over the outcome's own
    /// horizon (10 years for CVD, 1 year for AF stroke), per [`Outcome::ALL`].
    pub arr: [Option<f64>; 2],
    /// The sum over outcomes in percentage points per year (CVD's ten-year
    /// reduction as the first year's share of it).
    pub per_year: f64,
}

impl Benefit {
    pub fn is_quantified(&self) -> bool {
        self.arr.iter().any(Option::is_some)
    }
}

/// The first year's risk (%) of a ten-year risk (%), at a constant hazard.
pub fn one_year_of_ten(ten_year_pct: f64) -> f64 {
    let r = (ten_year_pct / 100.0).clamp(0.0, 0.999_999);
    100.0 * (1.0 - (1.0 - r).powf(0.1))
}

/// A person's estimated risk in percent per year of the outcomes above:
/// the first year's share of the ten-year CVD risk plus the AF stroke rate
/// (0 when neither is known). The urgent band's second key.
pub fn annual_risk(b: &Baseline) -> f64 {
    b.cv10_pct.map_or(0.0, one_year_of_ten) + b.af_stroke_pct.unwrap_or(0.0)
}

/// Combines a person's effects (module docs): one action counts once (its
/// largest RRR), actions on one outcome as `1 − Π(1 − RRR)`. An outcome
/// without a baseline gives no benefit (its gaps fall back to priority).
pub fn person_benefit(effects: impl IntoIterator<Item = Effect>, b: &Baseline) -> Benefit {
    // Largest RRR per action (5 actions).
    let mut best: [Option<(Outcome, f64)>; 5] = [None; 5];
    for e in effects {
        let r = e.rrr(b).clamp(0.0, 1.0);
        let slot = &mut best[usize::from(e.action())];
        if slot.is_none_or(|(_, old)| r > old) {
            *slot = Some((e.outcome(), r));
        }
    }
    let mut out = Benefit::default();
    for (k, o) in Outcome::ALL.into_iter().enumerate() {
        let base = match o {
            Outcome::Cvd => b.cv10_pct,
            Outcome::AfStroke => b.af_stroke_pct,
        };
        let mut keep = 1.0;
        let mut any = false;
        for (oo, r) in best.iter().flatten() {
            if *oo == o {
                keep *= 1.0 - r;
                any = true;
            }
        }
        let (Some(base), true) = (base, any) else {
            continue;
        };
        let rrr = 1.0 - keep;
        out.arr[k] = Some(base * rrr);
        out.per_year += match o {
            Outcome::Cvd => one_year_of_ten(base) * rrr,
            Outcome::AfStroke => base * rrr,
        };
    }
    out
}

/// The routine order's value: quantified benefit per year plus the fall-back
/// of the highest priority among the gaps without a quantified benefit.
pub fn order_value(benefit: &Benefit, max_unquantified_priority: u8, cfg: &BenefitConfig) -> f64 {
    benefit.per_year + cfg.fallback_of(max_unquantified_priority)
}

/// The call-list band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    /// At least one gap at or above the urgent priority.
    Urgent,
    Routine,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Urgent => "urgent",
            Band::Routine => "routine",
        }
    }
}

/// How soon to act, by the highest priority among the listed gaps
/// (the library's priority scale, `criteria/README.md`).
pub fn time_frame(max_priority: u8) -> &'static str {
    match max_priority {
        10.. => "today",
        9 => "within a week",
        8 => "within 2 weeks",
        7 => "within a month",
        5 | 6 => "within 3 months",
        _ => "at the next contact",
    }
}

/// The benefit text: `≈ 2.1 % fewer heart attacks or strokes over 10 years`.
pub fn benefit_text(b: &Benefit) -> String {
    let parts: Vec<String> = Outcome::ALL
        .iter()
        .zip(b.arr)
        .filter_map(|(o, a)| a.map(|a| format!("≈ {} % {}", fmt_pct(a), o.words())))
        .collect();
    if parts.is_empty() {
        "not quantified".to_string()
    } else {
        parts.join("; ")
    }
}

/// One decimal, two significant digits under 0.1, `< 0.01` below.
fn fmt_pct(v: f64) -> String {
    if v >= 0.095 {
        format!("{v:.1}")
    } else if v >= 0.01 {
        format!("{v:.2}")
    } else {
        "< 0.01".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(cv10: f64) -> Baseline {
        Baseline {
            cv10_pct: Some(cv10),
            af_stroke_pct: None,
            sbp: Some(160.0),
            ldl: Some(4.0),
        }
    }

    #[test]
    fn effect_sizes_follow_the_documented_formulas() {
        let base = b(10.0);
        // 20 mmHg (capped): 1 − 0.8² = 0.36.
        assert!((Effect::BpLowering.rrr(&base) - 0.36).abs() < 1e-12);
        let mild = Baseline {
            sbp: Some(142.0),
            ..base
        };
        assert!((Effect::BpLowering.rrr(&mild) - (1.0 - 0.8f64.powf(1.2))).abs() < 1e-12);
        // Statin: 45 % of 4.0 = 1.8 mmol/l.
        assert!((Effect::StatinStart.rrr(&base) - (1.0 - 0.78f64.powf(1.8))).abs() < 1e-12);
        assert!((Effect::SmokingCessation.rrr(&base) - 0.14 * 0.36).abs() < 1e-12);
        assert_eq!(Effect::Anticoagulation.rrr(&base), 0.64);
    }

    #[test]
    fn the_same_action_counts_once_and_one_outcome_combines_multiplicatively() {
        let base = b(10.0);
        let one = person_benefit([Effect::BpLowering], &base);
        // Five criteria asking for BP lowering: the same benefit as one.
        let five = person_benefit([Effect::BpLowering; 5], &base);
        assert_eq!(one, five);
        let both = person_benefit([Effect::BpLowering, Effect::StatinStart], &base);
        let (r1, r2) = (
            Effect::BpLowering.rrr(&base),
            Effect::StatinStart.rrr(&base),
        );
        let expected = 10.0 * (1.0 - (1.0 - r1) * (1.0 - r2));
        assert!((both.arr[0].unwrap() - expected).abs() < 1e-9);
        // Less than the sum of the two alone: no stroke prevented twice.
        assert!(both.arr[0].unwrap() < 10.0 * (r1 + r2));
        // Statin start and intensification are one action: the larger counts.
        let lipid = person_benefit([Effect::StatinStart, Effect::LipidIntensify], &base);
        assert_eq!(lipid, person_benefit([Effect::StatinStart], &base));
        // Different outcomes add.
        let af = Baseline {
            af_stroke_pct: Some(3.2),
            ..base
        };
        let mixed = person_benefit([Effect::BpLowering, Effect::Anticoagulation], &af);
        assert!((mixed.arr[1].unwrap() - 3.2 * 0.64).abs() < 1e-12);
        let cvd_only = person_benefit([Effect::BpLowering], &af);
        assert!((mixed.per_year - cvd_only.per_year - 3.2 * 0.64).abs() < 1e-9);
    }

    #[test]
    fn no_baseline_no_benefit() {
        let none = Baseline::default();
        let r = person_benefit([Effect::BpLowering, Effect::Anticoagulation], &none);
        assert!(!r.is_quantified());
        assert_eq!(r.per_year, 0.0);
        assert_eq!(benefit_text(&r), "not quantified");
    }

    #[test]
    fn baselines_use_score2_and_documented_stand_ins() {
        let cv = CvInputs {
            age: Some(50.0),
            sex: Some("M"),
            smoker: Some(true),
            sbp: Some(140.0),
            total_chol: Some(6.3),
            hdl: Some(1.4),
            ..Default::default()
        };
        let of = |cv: CvInputs| {
            baseline(
                &BaselineInputs {
                    cv,
                    ..Default::default()
                },
                None,
            )
        };
        let i = BaselineInputs {
            cv,
            ..Default::default()
        };
        let plain = of(cv).cv10_pct.unwrap();
        assert!((plain - 8.1).abs() < 0.05, "{plain}");
        let dm = of(CvInputs {
            has_diabetes: Some(true),
            ..cv
        });
        assert!((dm.cv10_pct.unwrap() - 2.0 * plain).abs() < 1e-9);
        let with_cvd = CvInputs {
            has_cvd: Some(true),
            ..cv
        };
        // Established CVD at 50: max(20 %, 2 × 8.1 %).
        assert_eq!(of(with_cvd).cv10_pct, Some(20.0));
        // Established CVD with diabetes at 75: the equations × 2 × 2.
        let old = CvInputs {
            age: Some(75.0),
            ..cv
        };
        let op = of(old).cv10_pct.unwrap();
        let equations = ten_year_risk_pct(
            RiskModel::Score2Op,
            &Score2Input {
                age: 75.0,
                sex: Sex::Male,
                smoker: true,
                sbp: 140.0,
                total_chol: 6.3,
                hdl: 1.4,
            },
        );
        assert_eq!(op, equations);
        let both = of(CvInputs {
            has_cvd: Some(true),
            has_diabetes: Some(true),
            ..old
        })
        .cv10_pct
        .unwrap();
        assert!((both - (4.0 * op).min(MAX_CV10_PCT)).abs() < 1e-9, "{both}");
        // Under 40 with CVD: the flat 20 %.
        let young = CvInputs {
            age: Some(35.0),
            ..with_cvd
        };
        assert_eq!(of(young).cv10_pct, Some(20.0));
        // AF, woman 76 with hypertension: 2 + 1 + 1 = 4 → 4.8 % a year.
        let af = BaselineInputs {
            cv: CvInputs {
                age: Some(76.0),
                sex: Some("F"),
                ..Default::default()
            },
            has_af: Some(true),
            has_hypertension: Some(true),
            ..Default::default()
        };
        assert_eq!(cha2ds2vasc(&af), 4);
        assert_eq!(baseline(&af, None).af_stroke_pct, Some(4.8));
        assert_eq!(baseline(&i, None).af_stroke_pct, None);
    }

    #[test]
    fn texts_and_time_frames() {
        let x = Benefit {
            arr: [Some(2.1234), Some(0.05)],
            per_year: 0.0,
        };
        assert_eq!(
            benefit_text(&x),
            "≈ 2.1 % fewer heart attacks or strokes over 10 years; ≈ 0.05 % fewer strokes per year"
        );
        assert_eq!(time_frame(9), "within a week");
        assert_eq!(time_frame(10), "today");
        assert_eq!(time_frame(3), "at the next contact");
        assert!((one_year_of_ten(10.0) - 100.0 * (1.0 - 0.9f64.powf(0.1))).abs() < 1e-12);
    }

    #[test]
    fn config_validates_and_overrides() {
        let mut c = BenefitConfig::default();
        assert_eq!(c.effect_of("HTN.BP_UNCONTROLLED"), Some(Effect::BpLowering));
        assert_eq!(c.effect_of("DM.HBA1C_OVERDUE"), None);
        c.criteria
            .insert("HTN.BP_UNCONTROLLED".into(), "none".into());
        c.criteria.insert("X".into(), "statin_start".into());
        assert_eq!(c.effect_of("HTN.BP_UNCONTROLLED"), None);
        assert_eq!(c.effect_of("X"), Some(Effect::StatinStart));
        assert!(c.validate().is_ok());
        c.criteria.insert("Y".into(), "aspirin".into());
        assert!(c.validate().unwrap_err().contains("benefit.criteria.\"Y\""));
        // Every shipped criterion id maps once.
        let mut ids: Vec<&str> = DEFAULT_EFFECTS.iter().map(|(i, _)| *i).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
