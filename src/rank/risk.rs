//! Per-person risk: the cardiovascular estimate (SCORE2 / SCORE2-OP) and the
//! utilisation tier. Pure functions over plain columns; the CLI reads the
//! feature table and writes `risk.parquet`.
//!
//! ## Cardiovascular risk, in order of the checks
//! 1. Established CVD (`has_cvd` true): no estimate (model `none`), band
//!    `very_high`, reason `established CVD`. ESC 2021 classes documented
//!    ASCVD as very high risk; SCORE2 is for apparently healthy people.
//! 2. Diabetes (`has_diabetes` true): no estimate, no band, reason `diabetes`
//!    (SCORE2-Diabetes is a different model and is not implemented).
//! 3. Age under 40 (or unknown): no estimate, reason `age outside 40+`.
//! 4. Sex other than `F`/`M`: no estimate, reason `sex not F or M`.
//! 5. Systolic BP, total or HDL cholesterol missing: no estimate, reason
//!    naming every missing input (`missing sbp, hdl`). Implausible values
//!    (sbp outside 60–300 mmHg, total cholesterol outside 1–20 mmol/l, HDL
//!    outside 0.1–10 mmol/l) count as missing (`implausible sbp`).
//! 6. Smoking status missing: computed as a non-smoker and noted in `reason`
//!    (`smoking not recorded: computed as non-smoker`): smoking is used where
//!    it is coded.
//!    `has_cvd` / `has_diabetes` missing (null) count as false.
//! 7. Otherwise SCORE2 (40–69) or SCORE2-OP (70 and over), band by ESC 2021.

use super::score2::{RiskBand, RiskModel, Score2Input, Sex, ten_year_risk_pct};

/// One person's inputs, as read from the feature table (nulls kept).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CvInputs<'a> {
    pub age: Option<f64>,
    /// The `sex` value as stored in `patients`.
    pub sex: Option<&'a str>,
    pub smoker: Option<bool>,
    pub sbp: Option<f64>,
    pub total_chol: Option<f64>,
    pub hdl: Option<f64>,
    pub has_cvd: Option<bool>,
    pub has_diabetes: Option<bool>,
}

/// The outcome for one person.
#[derive(Debug, Clone, PartialEq)]
pub struct CvRisk {
    /// Ten-year risk in percent, when computed.
    pub risk_pct: Option<f64>,
    pub model: Option<RiskModel>,
    pub band: Option<RiskBand>,
    /// Why no estimate was made, or a note on how it was made.
    pub reason: Option<String>,
}

impl CvRisk {
    fn none(band: Option<RiskBand>, reason: impl Into<String>) -> CvRisk {
        CvRisk {
            risk_pct: None,
            model: None,
            band,
            reason: Some(reason.into()),
        }
    }
}

fn plausible(v: Option<f64>, lo: f64, hi: f64) -> Result<f64, &'static str> {
    match v {
        None => Err("missing"),
        Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
        Some(_) => Err("implausible"),
    }
}

/// Assesses one person (see the module docs for the order of the checks).
pub fn assess_cv(inp: &CvInputs) -> CvRisk {
    if inp.has_cvd == Some(true) {
        return CvRisk::none(Some(RiskBand::VeryHigh), "established CVD");
    }
    if inp.has_diabetes == Some(true) {
        return CvRisk::none(None, "diabetes");
    }
    let Some((age, model)) = inp.age.and_then(|a| Some((a, RiskModel::for_age(a)?))) else {
        return CvRisk::none(None, "age outside 40+");
    };
    let sex = match inp.sex {
        Some("F") => Sex::Female,
        Some("M") => Sex::Male,
        _ => return CvRisk::none(None, "sex not F or M"),
    };
    let checks = [
        ("sbp", plausible(inp.sbp, 60.0, 300.0)),
        ("total_chol", plausible(inp.total_chol, 1.0, 20.0)),
        ("hdl", plausible(inp.hdl, 0.1, 10.0)),
    ];
    let mut problems: Vec<String> = Vec::new();
    for kind in ["missing", "implausible"] {
        let names: Vec<&str> = checks
            .iter()
            .filter(|(_, r)| *r == Err(kind))
            .map(|(n, _)| *n)
            .collect();
        if !names.is_empty() {
            problems.push(format!("{kind} {}", names.join(", ")));
        }
    }
    if !problems.is_empty() {
        return CvRisk::none(None, problems.join("; "));
    }
    let [sbp, tc, hdl] = checks.map(|(_, r)| r.unwrap_or(f64::NAN));
    let input = Score2Input {
        age,
        sex,
        smoker: inp.smoker.unwrap_or(false),
        sbp,
        total_chol: tc,
        hdl,
    };
    let risk = ten_year_risk_pct(model, &input);
    CvRisk {
        risk_pct: Some(risk),
        model: Some(model),
        band: Some(RiskBand::of(age, risk)),
        reason: inp
            .smoker
            .is_none()
            .then(|| "smoking not recorded: computed as non-smoker".to_string()),
    }
}

/// Utilisation tiers: the top 1%, next to 5%, next to 20% of the measure, the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UtilTier {
    Top1,
    Top5,
    Top20,
    Rest,
}

impl UtilTier {
    pub const ALL: [UtilTier; 4] = [
        UtilTier::Top1,
        UtilTier::Top5,
        UtilTier::Top20,
        UtilTier::Rest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UtilTier::Top1 => "top1",
            UtilTier::Top5 => "top5",
            UtilTier::Top20 => "top20",
            UtilTier::Rest => "rest",
        }
    }
}

/// Assigns tiers over the whole population (not per clinic).
///
/// Rule, deterministic and independent of row order and ids: with `n` people
/// that have a measure, and `at_least(v)` the number of them whose measure is
/// `v` or more (the person included), a person is in `top1` when
/// `at_least(v) <= ceil(0.01·n)`, else `top5` when `at_least(v) <= ceil(0.05·n)`,
/// else `top20` when `at_least(v) <= ceil(0.20·n)`, else `rest`. Equal
/// measures therefore always share a tier, and a tier never holds more than
/// its share: people tied across a cut all go to the lower tier. A measure of
/// zero or below is always `rest`; a missing (or NaN) measure has no tier.
pub fn utilisation_tiers(measure: &[Option<f64>]) -> Vec<Option<UtilTier>> {
    let mut known: Vec<f64> = measure
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    let n = known.len();
    // Descending, so `at_least(v)` is a partition point.
    known.sort_unstable_by(|a, b| b.total_cmp(a));
    let cut = |share: f64| (share * n as f64).ceil() as usize;
    let cuts = [
        (cut(0.01), UtilTier::Top1),
        (cut(0.05), UtilTier::Top5),
        (cut(0.20), UtilTier::Top20),
    ];
    measure
        .iter()
        .map(|m| {
            let v = (*m).filter(|v| !v.is_nan())?;
            if v <= 0.0 {
                return Some(UtilTier::Rest);
            }
            let at_least = known.partition_point(|x| *x >= v);
            Some(
                cuts.iter()
                    .find(|(c, _)| at_least <= *c)
                    .map_or(UtilTier::Rest, |(_, t)| *t),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> CvInputs<'static> {
        CvInputs {
            age: Some(50.0),
            sex: Some("M"),
            smoker: Some(true),
            sbp: Some(140.0),
            total_chol: Some(6.3),
            hdl: Some(1.4),
            has_cvd: Some(false),
            has_diabetes: Some(false),
        }
    }

    #[test]
    fn computes_score2_for_apparently_healthy() {
        let r = assess_cv(&healthy());
        assert_eq!(r.model, Some(RiskModel::Score2));
        assert!((r.risk_pct.unwrap() - 8.1).abs() < 0.05);
        assert_eq!(r.band, Some(RiskBand::High));
        assert_eq!(r.reason, None);
    }

    #[test]
    fn exclusions_and_missing_inputs_are_explained() {
        let cases: [(CvInputs, Option<RiskBand>, &str); 7] = [
            (
                CvInputs {
                    has_cvd: Some(true),
                    ..healthy()
                },
                Some(RiskBand::VeryHigh),
                "established CVD",
            ),
            (
                CvInputs {
                    has_diabetes: Some(true),
                    ..healthy()
                },
                None,
                "diabetes",
            ),
            (
                CvInputs {
                    age: Some(39.0),
                    ..healthy()
                },
                None,
                "age outside 40+",
            ),
            (
                CvInputs {
                    age: None,
                    ..healthy()
                },
                None,
                "age outside 40+",
            ),
            (
                CvInputs {
                    sex: Some("X"),
                    ..healthy()
                },
                None,
                "sex not F or M",
            ),
            (
                CvInputs {
                    sbp: None,
                    hdl: None,
                    ..healthy()
                },
                None,
                "missing sbp, hdl",
            ),
            (
                CvInputs {
                    total_chol: Some(63.0),
                    sbp: None,
                    ..healthy()
                },
                None,
                "missing sbp; implausible total_chol",
            ),
        ];
        for (inp, band, reason) in cases {
            let r = assess_cv(&inp);
            assert_eq!(r.risk_pct, None, "{inp:?}");
            assert_eq!(r.model, None);
            assert_eq!(r.band, band, "{inp:?}");
            assert_eq!(r.reason.as_deref(), Some(reason));
        }
    }

    #[test]
    fn missing_smoking_is_non_smoker_with_a_note() {
        let r = assess_cv(&CvInputs {
            smoker: None,
            ..healthy()
        });
        let non = assess_cv(&CvInputs {
            smoker: Some(false),
            ..healthy()
        });
        assert_eq!(r.risk_pct, non.risk_pct);
        assert!(r.reason.unwrap().contains("non-smoker"));
    }

    #[test]
    fn tiers_share_ties_and_ignore_zero_and_missing() {
        // 200 people: measures 1..=200 → top1 = 2 people (200, 199), top5 = 10, top20 = 40.
        let m: Vec<Option<f64>> = (1..=200).map(|v| Some(v as f64)).collect();
        let t = utilisation_tiers(&m);
        assert_eq!(t[199], Some(UtilTier::Top1));
        assert_eq!(t[198], Some(UtilTier::Top1));
        assert_eq!(t[197], Some(UtilTier::Top5));
        assert_eq!(t[190], Some(UtilTier::Top5));
        assert_eq!(t[189], Some(UtilTier::Top20));
        assert_eq!(t[160], Some(UtilTier::Top20));
        assert_eq!(t[159], Some(UtilTier::Rest));

        // Ties straddling a cut share the lower tier, whatever the order.
        // n = 10 known: cuts 1, 1, 2; the two 9s would need 2 places in top1.
        let m = vec![
            Some(9.0),
            Some(2.0),
            Some(9.0),
            Some(8.0),
            None,
            Some(0.0),
            Some(7.0),
            Some(6.0),
            Some(5.0),
            Some(4.0),
            Some(3.0),
        ];
        let t = utilisation_tiers(&m);
        assert_eq!(t[0], Some(UtilTier::Top20));
        assert_eq!(t[2], Some(UtilTier::Top20));
        assert_eq!(t[3], Some(UtilTier::Rest));
        assert_eq!(t[4], None);
        assert_eq!(t[5], Some(UtilTier::Rest));
        let mut rev = m.clone();
        rev.reverse();
        let mut t_rev = utilisation_tiers(&rev);
        t_rev.reverse();
        assert_eq!(t, t_rev);
    }
}
