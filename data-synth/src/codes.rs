//! The code catalogue: conditions, laboratory tests and unit variants.
//!
//! `data-synth/CODES.md` documents every code written here; the test
//! `tests/synth_codes_doc.rs` checks that whatever a run emits is in that file.

/// Chronic conditions (and smoking) that a person carries from their onset on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cond {
    Htn = 0,
    T2d,
    T1d,
    Dyslip,
    Obesity,
    Chd,
    Af,
    Hf,
    Stroke,
    Tia,
    Ckd,
    Asthma,
    Copd,
    Depression,
    Bipolar,
    Osteoporosis,
    Ra,
    Hypothyroid,
    Dementia,
    Pad,
    Alcohol,
    Liver,
    Asplenia,
    Epilepsy,
    BreastCancer,
    Smoking,
}

pub const N_COND: usize = 26;

impl Cond {
    pub const ALL: [Cond; N_COND] = [
        Cond::Htn,
        Cond::T2d,
        Cond::T1d,
        Cond::Dyslip,
        Cond::Obesity,
        Cond::Chd,
        Cond::Af,
        Cond::Hf,
        Cond::Stroke,
        Cond::Tia,
        Cond::Ckd,
        Cond::Asthma,
        Cond::Copd,
        Cond::Depression,
        Cond::Bipolar,
        Cond::Osteoporosis,
        Cond::Ra,
        Cond::Hypothyroid,
        Cond::Dementia,
        Cond::Pad,
        Cond::Alcohol,
        Cond::Liver,
        Cond::Asplenia,
        Cond::Epilepsy,
        Cond::BreastCancer,
        Cond::Smoking,
    ];

    pub fn spec(self) -> &'static CondSpec {
        &COND_SPECS[self as usize]
    }
}

/// How a condition is coded and how common it is.
///
/// The probability of having had the onset by age `a` is the logistic curve
/// `pmax / (1 + exp(-(a - a50) / scale))`, times a personal risk multiplier.
#[derive(Debug)]
pub struct CondSpec {
    pub name: &'static str,
    pub icd10: &'static [&'static str],
    pub icpc2: &'static [&'static str],
    pub pmax_f: f64,
    pub pmax_m: f64,
    pub a50: f64,
    pub scale: f64,
    /// Relative increase of the primary-care visit rate while the condition is active.
    pub visit_weight: f64,
}

macro_rules! cond {
    ($name:literal, [$($i:literal),*], [$($p:literal),*], $f:literal, $m:literal, $a50:literal, $s:literal, $w:literal) => {
        CondSpec { name: $name, icd10: &[$($i),*], icpc2: &[$($p),*], pmax_f: $f, pmax_m: $m, a50: $a50, scale: $s, visit_weight: $w }
    };
}

pub static COND_SPECS: [CondSpec; N_COND] = [
    cond!(
        "hypertension",
        ["I10"],
        ["K86"],
        0.80,
        0.86,
        65.0,
        10.0,
        0.25
    ),
    cond!(
        "type 2 diabetes",
        ["E11.9"],
        ["T90"],
        0.25,
        0.33,
        68.0,
        10.0,
        0.55
    ),
    cond!(
        "type 1 diabetes",
        ["E10.9"],
        ["T89"],
        0.006,
        0.007,
        12.0,
        5.0,
        0.6
    ),
    cond!(
        "dyslipidaemia",
        ["E78.0", "E78.5"],
        ["T93"],
        0.30,
        0.34,
        63.0,
        10.0,
        0.05
    ),
    cond!(
        "obesity",
        ["E66.0", "E66.9"],
        ["T82"],
        0.10,
        0.08,
        45.0,
        10.0,
        0.15
    ),
    cond!(
        "coronary heart disease",
        ["I25.1", "I20.9"],
        ["K74", "K76"],
        0.17,
        0.34,
        80.0,
        8.0,
        0.45
    ),
    cond!(
        "atrial fibrillation",
        ["I48.0", "I48.1"],
        ["K78"],
        0.30,
        0.40,
        84.0,
        7.5,
        0.35
    ),
    cond!(
        "heart failure",
        ["I50.0", "I50.9"],
        ["K77"],
        0.22,
        0.28,
        88.0,
        7.0,
        0.9
    ),
    cond!("stroke", ["I63.9"], ["K90"], 0.18, 0.22, 86.0, 8.0, 0.6),
    cond!(
        "transient ischaemic attack",
        ["G45.9"],
        ["K89"],
        0.07,
        0.08,
        81.0,
        8.0,
        0.15
    ),
    cond!(
        "chronic kidney disease",
        ["N18.3"],
        [],
        0.28,
        0.32,
        88.0,
        8.0,
        0.45
    ),
    cond!(
        "asthma",
        ["J45.0", "J45.9"],
        ["R96"],
        0.12,
        0.10,
        25.0,
        14.0,
        0.25
    ),
    cond!("COPD", ["J44.9"], ["R95"], 0.18, 0.22, 76.0, 8.0, 0.7),
    cond!(
        "depression",
        ["F32.1", "F32.9", "F33.1"],
        ["P76"],
        0.15,
        0.09,
        35.0,
        10.0,
        0.7
    ),
    cond!(
        "bipolar disorder",
        ["F31.9"],
        ["P73"],
        0.012,
        0.011,
        30.0,
        6.0,
        0.8
    ),
    cond!(
        "osteoporosis",
        ["M81.0", "M81.9"],
        ["L95"],
        0.33,
        0.08,
        76.0,
        7.0,
        0.15
    ),
    cond!(
        "rheumatoid arthritis",
        ["M06.9"],
        ["L88"],
        0.028,
        0.014,
        55.0,
        10.0,
        0.5
    ),
    cond!(
        "hypothyroidism",
        ["E03.9"],
        ["T86"],
        0.14,
        0.03,
        55.0,
        12.0,
        0.1
    ),
    cond!(
        "dementia",
        ["F03", "G30.1", "G30.9"],
        ["P70"],
        0.40,
        0.32,
        87.0,
        6.0,
        0.5
    ),
    cond!(
        "peripheral arterial disease",
        ["I70.2", "I73.9"],
        ["K92"],
        0.10,
        0.14,
        80.0,
        8.0,
        0.3
    ),
    cond!(
        "alcohol use disorder",
        ["F10.1", "F10.2"],
        ["P15"],
        0.025,
        0.07,
        42.0,
        9.0,
        0.4
    ),
    cond!(
        "chronic liver disease",
        ["K70.3", "K76.0", "K74.6"],
        ["D97"],
        0.025,
        0.035,
        62.0,
        9.0,
        0.4
    ),
    cond!("asplenia", ["D73.0"], [], 0.004, 0.004, 45.0, 15.0, 0.1),
    cond!("epilepsy", ["G40.9"], ["N88"], 0.01, 0.012, 30.0, 18.0, 0.3),
    cond!(
        "breast cancer",
        ["C50.9"],
        ["X76"],
        0.11,
        0.0,
        64.0,
        9.0,
        0.3
    ),
    cond!(
        "tobacco smoking",
        ["F17.2", "Z72.0"],
        ["P17"],
        0.0,
        0.0,
        0.0,
        1.0,
        0.05
    ),
];

/// Acute diagnoses recorded at contacts: (ICD-10, ICPC-2, antibiotic or none).
pub static ACUTE: [(&str, &str, Option<&str>); 6] = [
    ("J06.9", "R74", Some("J01CA04")),
    ("J20.9", "R78", Some("J01CA04")),
    ("N39.0", "U71", Some("J01XE01")),
    ("M54.5", "L03", None),
    ("A09", "D73", None),
    ("Z00.0", "A97", None),
];

/// Lower-case / undotted spellings of canonical diagnosis codes (all valid).
pub fn messy_spelling(code: &'static str, pick: u32) -> Option<&'static str> {
    Some(match (code, pick % 2) {
        ("E11.9", 0) => "e11.9",
        ("E11.9", _) => "E119",
        ("I10", 0) => " I10",
        ("I10", _) => "i10",
        ("I48.0", _) => "i48.0",
        ("N18.3", _) => "N18-3",
        ("J45.9", _) => "j45.9",
        ("K86", _) => "k86",
        _ => return None,
    })
}

/// How a unit variant's value relates to the canonical value.
#[derive(Debug, Clone, Copy)]
pub enum Conv {
    Same,
    Factor(f64),
    /// HbA1c mmol/mol (IFCC) to NGSP per cent.
    HbA1cPercent,
}

impl Conv {
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Conv::Same => v,
            Conv::Factor(f) => v * f,
            Conv::HbA1cPercent => v / 10.929 + 2.15,
        }
    }
}

/// A laboratory test or vital sign.
#[derive(Debug)]
pub struct Lab {
    /// LOINC codes with cumulative choice weights (the last has weight 1.0).
    pub loinc: &'static [(&'static str, f64)],
    /// LOCAL code used by clinics HC21..HC25 (`None`: always LOINC).
    pub local: Option<&'static str>,
    pub unit: Option<&'static str>,
    /// Unit variants for LOINC rows: (cumulative probability, unit, conversion, applies to code index 0 only).
    pub variants: &'static [(f64, &'static str, Conv)],
    /// Decimal places the value is rounded to.
    pub decimals: i32,
}

macro_rules! lab {
    ($name:ident, [$(($c:literal, $w:literal)),*], $local:expr, $unit:expr, [$(($p:literal, $u:literal, $conv:expr)),*], $dec:literal) => {
        pub static $name: Lab = Lab { loinc: &[$(($c, $w)),*], local: $local, unit: $unit, variants: &[$(($p, $u, $conv)),*], decimals: $dec };
    };
}

lab!(
    SBP,
    [("8480-6", 1.0)],
    Some("RR-SYS"),
    Some("mmHg"),
    [(0.01, "MMHG", Conv::Same), (0.015, "mm[Hg]", Conv::Same)],
    0
);
lab!(
    DBP,
    [("8462-4", 1.0)],
    Some("RR-DIA"),
    Some("mmHg"),
    [(0.01, "MMHG", Conv::Same), (0.015, "mm[Hg]", Conv::Same)],
    0
);
lab!(
    HBA1C,
    [("4548-4", 0.95), ("59261-8", 1.0)],
    Some("B-HbA1c"),
    Some("mmol/mol"),
    [
        (0.02, "%", Conv::HbA1cPercent),
        (0.03, "MMOL/MOL", Conv::Same)
    ],
    0
);
lab!(
    GLUCOSE,
    [("1558-6", 1.0)],
    Some("fP-Gluk"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    1
);
lab!(
    CHOL,
    [("2093-3", 1.0)],
    Some("fP-Kol"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    1
);
lab!(
    HDL,
    [("2085-9", 1.0)],
    Some("fP-Kol-HDL"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    2
);
lab!(
    LDL,
    [("13457-7", 0.9), ("2089-1", 1.0)],
    Some("fP-Kol-LDL"),
    Some("mmol/l"),
    [
        (0.01, "mg/dL", Conv::Factor(38.67)),
        (0.11, "mmol/L", Conv::Same)
    ],
    1
);
lab!(
    TRIGLY,
    [("2571-8", 1.0)],
    Some("fP-Trigly"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    2
);
lab!(
    CREA,
    [("14682-9", 1.0)],
    Some("P-Krea"),
    Some("umol/l"),
    [(0.02, "µmol/l", Conv::Same)],
    0
);
lab!(
    EGFR,
    [("62238-1", 0.85), ("33914-3", 1.0)],
    Some("-eGFR"),
    Some("ml/min/1.73m2"),
    [(0.02, "mL/min/{1.73_m2}", Conv::Same)],
    0
);
lab!(
    POTASSIUM,
    [("2823-3", 1.0)],
    Some("P-K"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    1
);
lab!(
    SODIUM,
    [("2951-2", 1.0)],
    Some("P-Na"),
    Some("mmol/l"),
    [(0.10, "mmol/L", Conv::Same)],
    0
);
lab!(
    UACR,
    [("9318-7", 1.0)],
    Some("U-AlbKrea"),
    Some("mg/mmol"),
    [],
    1
);
lab!(ALT, [("1742-6", 1.0)], Some("P-ALAT"), Some("U/l"), [], 0);
lab!(TSH, [("3016-3", 1.0)], Some("P-TSH"), Some("mU/l"), [], 2);
lab!(INR, [("6301-6", 1.0)], Some("P-TT-INR"), None, [], 1);
lab!(
    LITHIUM,
    [("14334-7", 1.0)],
    Some("S-Li"),
    Some("mmol/l"),
    [],
    2
);
lab!(
    WEIGHT,
    [("29463-7", 1.0)],
    None,
    Some("kg"),
    [(0.01, "KG", Conv::Same)],
    1
);
lab!(
    HEIGHT,
    [("8302-2", 1.0)],
    None,
    Some("cm"),
    [(0.01, "m", Conv::Factor(0.01))],
    0
);
lab!(BMI, [("39156-5", 1.0)], None, Some("kg/m2"), [], 1);
lab!(PHQ9, [("44261-6", 1.0)], None, None, [], 0);
lab!(
    FIT,
    [("57905-2", 1.0)],
    Some("F-HbImm"),
    Some("ug/g"),
    [],
    0
);

lab!(HB, [("718-7", 1.0)], Some("B-Hb"), Some("g/l"), [], 0);
lab!(
    FERRITIN,
    [("2276-4", 1.0)],
    Some("P-Ferrit"),
    Some("ug/l"),
    [],
    0
);
lab!(
    B12,
    [("14685-2", 1.0)],
    Some("P-B12-Vit"),
    Some("pmol/l"),
    [],
    0
);
lab!(
    CALCIUM,
    [("2000-8", 1.0)],
    Some("P-Ca"),
    Some("mmol/l"),
    [],
    2
);

/// Every laboratory test and vital sign the generator writes, by name.
pub static LABS: [(&str, &Lab); 26] = [
    ("sbp", &SBP),
    ("dbp", &DBP),
    ("hba1c", &HBA1C),
    ("glucose", &GLUCOSE),
    ("chol", &CHOL),
    ("hdl", &HDL),
    ("ldl", &LDL),
    ("trigly", &TRIGLY),
    ("crea", &CREA),
    ("egfr", &EGFR),
    ("potassium", &POTASSIUM),
    ("sodium", &SODIUM),
    ("uacr", &UACR),
    ("alt", &ALT),
    ("tsh", &TSH),
    ("inr", &INR),
    ("lithium", &LITHIUM),
    ("weight", &WEIGHT),
    ("height", &HEIGHT),
    ("bmi", &BMI),
    ("phq9", &PHQ9),
    ("fit", &FIT),
    ("haemoglobin", &HB),
    ("ferritin", &FERRITIN),
    ("b12", &B12),
    ("calcium", &CALCIUM),
];
