//! SCORE2 and SCORE2-OP: ten-year risk of fatal and non-fatal cardiovascular
//! disease, recalibrated to the ESC **moderate** risk region (Finland).
//!
//! Sources: SCORE2 working group and ESC Cardiovascular Risk Collaboration,
//! *Eur Heart J* 2021;42:2439–2454 (ages 40–69) and SCORE2-OP working group,
//! *Eur Heart J* 2021;42:2455–2467 (ages 70 and over); risk bands from the 2021
//! ESC guidelines on CVD prevention in clinical practice.
//!
//! Both models are computed for a person with no diabetes: SCORE2 is meant for
//! apparently healthy people, and people with diabetes or established CVD are
//! classified before this module is reached (see [`crate::rank::risk`]).
//!
//! The computation (sex-specific coefficients `b`):
//! - SCORE2: transformed inputs `cage = (age − 60)/5`, `csbp = (sbp − 120)/20`,
//!   `ctc = tc − 6`, `chdl = (hdl − 1.3)/0.5`; linear predictor
//!   `x = b·(cage, smoke, csbp, ctc, chdl, smoke·cage, csbp·cage, ctc·cage, chdl·cage)`;
//!   uncalibrated risk `1 − S0^exp(x)`.
//! - SCORE2-OP: `cage = age − 73`, `csbp = sbp − 150`, `ctc = tc − 6`,
//!   `chdl = hdl − 1.4`; uncalibrated risk `1 − S0^exp(x − mean_x)`.
//! - Region recalibration: `1 − exp(−exp(scale1 + scale2 · ln(−ln(1 − risk))))`.

/// Which model a risk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskModel {
    /// SCORE2, ages 40–69.
    Score2,
    /// SCORE2-OP, ages 70 and over.
    Score2Op,
}

impl RiskModel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskModel::Score2 => "SCORE2",
            RiskModel::Score2Op => "SCORE2-OP",
        }
    }

    /// The model that covers an age in completed years, if any.
    pub fn for_age(age: f64) -> Option<RiskModel> {
        if age >= 70.0 {
            Some(RiskModel::Score2Op)
        } else if age >= 40.0 {
            Some(RiskModel::Score2)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Female,
    Male,
}

/// The inputs of one risk estimate (SI units: mmHg, mmol/l).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score2Input {
    /// Age in completed years.
    pub age: f64,
    pub sex: Sex,
    pub smoker: bool,
    /// Systolic blood pressure, mmHg.
    pub sbp: f64,
    /// Total cholesterol, mmol/l.
    pub total_chol: f64,
    /// HDL cholesterol, mmol/l.
    pub hdl: f64,
}

/// Coefficients in the order: age, smoking, sbp, total chol, hdl,
/// smoking×age, sbp×age, total chol×age, hdl×age.
struct Coefficients {
    b: [f64; 9],
    baseline_survival: f64,
    /// Mean linear predictor subtracted before exponentiation (SCORE2-OP only).
    mean_lp: f64,
    /// Moderate-region recalibration (scale1, scale2).
    moderate: (f64, f64),
}

const SCORE2_MALE: Coefficients = Coefficients {
    b: [
        0.3742, 0.6012, 0.2777, 0.1458, -0.2698, -0.0755, -0.0255, -0.0281, 0.0426,
    ],
    baseline_survival: 0.9605,
    mean_lp: 0.0,
    moderate: (-0.1565, 0.8009),
};

const SCORE2_FEMALE: Coefficients = Coefficients {
    b: [
        0.4648, 0.7744, 0.3131, 0.1002, -0.2606, -0.1088, -0.0277, -0.0226, 0.0613,
    ],
    baseline_survival: 0.9776,
    mean_lp: 0.0,
    moderate: (-0.3143, 0.7701),
};

const SCORE2_OP_MALE: Coefficients = Coefficients {
    b: [
        0.0634, 0.3524, 0.0094, 0.0850, -0.3564, -0.0247, -0.0005, 0.0073, 0.0091,
    ],
    baseline_survival: 0.7576,
    mean_lp: 0.0929,
    moderate: (0.01, 1.25),
};

const SCORE2_OP_FEMALE: Coefficients = Coefficients {
    b: [
        0.0789, 0.4921, 0.0102, 0.0605, -0.3040, -0.0255, -0.0004, -0.0009, 0.0154,
    ],
    baseline_survival: 0.8082,
    mean_lp: 0.229,
    moderate: (-0.1, 1.1),
};

/// Ten-year CVD risk in percent (0–100), moderate risk region, for a person
/// without diabetes. `model` decides the equations; pass
/// [`RiskModel::for_age`] of the person's age.
pub fn ten_year_risk_pct(model: RiskModel, input: &Score2Input) -> f64 {
    let smoke = if input.smoker { 1.0 } else { 0.0 };
    let (c, age, sbp, tc, hdl) = match model {
        RiskModel::Score2 => (
            match input.sex {
                Sex::Male => &SCORE2_MALE,
                Sex::Female => &SCORE2_FEMALE,
            },
            (input.age - 60.0) / 5.0,
            (input.sbp - 120.0) / 20.0,
            input.total_chol - 6.0,
            (input.hdl - 1.3) / 0.5,
        ),
        RiskModel::Score2Op => (
            match input.sex {
                Sex::Male => &SCORE2_OP_MALE,
                Sex::Female => &SCORE2_OP_FEMALE,
            },
            input.age - 73.0,
            input.sbp - 150.0,
            input.total_chol - 6.0,
            input.hdl - 1.4,
        ),
    };
    let terms = [
        age,
        smoke,
        sbp,
        tc,
        hdl,
        smoke * age,
        sbp * age,
        tc * age,
        hdl * age,
    ];
    let lp: f64 = c.b.iter().zip(terms).map(|(b, x)| b * x).sum();
    let uncalibrated = 1.0 - c.baseline_survival.powf((lp - c.mean_lp).exp());
    let (scale1, scale2) = c.moderate;
    let calibrated = 1.0 - (-(scale1 + scale2 * (-(1.0 - uncalibrated).ln()).ln()).exp()).exp();
    100.0 * calibrated
}

/// ESC 2021 risk categories for apparently healthy people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RiskBand {
    LowToModerate,
    High,
    VeryHigh,
}

impl RiskBand {
    pub const ALL: [RiskBand; 3] = [RiskBand::LowToModerate, RiskBand::High, RiskBand::VeryHigh];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskBand::LowToModerate => "low_to_moderate",
            RiskBand::High => "high",
            RiskBand::VeryHigh => "very_high",
        }
    }

    /// The band of a risk in percent at an age (completed years), ESC 2021:
    /// under 50: <2.5 / 2.5 to <7.5 / ≥7.5; 50–69: <5 / 5 to <10 / ≥10;
    /// 70 and over: <7.5 / 7.5 to <15 / ≥15. The lower edge belongs to the
    /// higher band (exactly 5.0% at 55 is `High`). The unrounded risk is banded.
    pub fn of(age: f64, risk_pct: f64) -> RiskBand {
        let (high, very_high) = if age < 50.0 {
            (2.5, 7.5)
        } else if age < 70.0 {
            (5.0, 10.0)
        } else {
            (7.5, 15.0)
        };
        if risk_pct >= very_high {
            RiskBand::VeryHigh
        } else if risk_pct >= high {
            RiskBand::High
        } else {
            RiskBand::LowToModerate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(age: f64, sex: Sex, sbp: f64, tc: f64, hdl: f64) -> f64 {
        let input = Score2Input {
            age,
            sex,
            smoker: true,
            sbp,
            total_chol: tc,
            hdl,
        };
        ten_year_risk_pct(RiskModel::for_age(age).unwrap(), &input)
    }

    /// Published worked examples (SCORE2 and SCORE2-OP papers, moderate region),
    /// compared at the one decimal they are published with.
    #[test]
    fn reproduces_published_moderate_region_examples() {
        let cases = [
            (50.0, Sex::Male, 140.0, 6.3, 1.4, 8.1),
            (50.0, Sex::Female, 140.0, 6.3, 1.4, 5.2),
            (75.0, Sex::Male, 140.0, 5.5, 1.3, 23.9),
            (75.0, Sex::Female, 140.0, 5.5, 1.3, 20.0),
        ];
        for (age, sex, sbp, tc, hdl, want) in cases {
            let got = risk(age, sex, sbp, tc, hdl);
            assert!(
                (got - want).abs() < 0.05,
                "{age} {sex:?}: got {got:.3}, want {want}"
            );
        }
    }

    #[test]
    fn risk_rises_with_each_risk_factor() {
        let base = Score2Input {
            age: 60.0,
            sex: Sex::Male,
            smoker: false,
            sbp: 130.0,
            total_chol: 5.0,
            hdl: 1.3,
        };
        let r0 = ten_year_risk_pct(RiskModel::Score2, &base);
        for worse in [
            Score2Input {
                smoker: true,
                ..base
            },
            Score2Input { sbp: 150.0, ..base },
            Score2Input {
                total_chol: 7.0,
                ..base
            },
            Score2Input { hdl: 0.9, ..base },
            Score2Input { age: 65.0, ..base },
        ] {
            assert!(
                ten_year_risk_pct(RiskModel::Score2, &worse) > r0,
                "{worse:?}"
            );
        }
    }

    #[test]
    fn model_by_age() {
        assert_eq!(RiskModel::for_age(39.0), None);
        assert_eq!(RiskModel::for_age(40.0), Some(RiskModel::Score2));
        assert_eq!(RiskModel::for_age(69.0), Some(RiskModel::Score2));
        assert_eq!(RiskModel::for_age(70.0), Some(RiskModel::Score2Op));
    }

    #[test]
    fn band_edges_belong_to_the_higher_band() {
        use RiskBand::*;
        let cases = [
            (45.0, 2.49, LowToModerate),
            (45.0, 2.5, High),
            (45.0, 7.49, High),
            (45.0, 7.5, VeryHigh),
            (49.0, 4.0, High),
            (50.0, 4.99, LowToModerate),
            (50.0, 5.0, High),
            (69.0, 9.99, High),
            (69.0, 10.0, VeryHigh),
            (70.0, 7.49, LowToModerate),
            (70.0, 7.5, High),
            (80.0, 14.99, High),
            (80.0, 15.0, VeryHigh),
        ];
        for (age, pct, want) in cases {
            assert_eq!(RiskBand::of(age, pct), want, "age {age}, {pct}%");
        }
    }
}
