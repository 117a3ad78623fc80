//! Test support: building checked IR and populations by hand, and random
//! generators of valid typed libraries and small tricky populations.

#![allow(dead_code)]

use std::collections::HashMap;

use caregap::data::{
    CodeEntry, CodeTable, Day, DictColumn, EventKind, Events, PatientIds, Patients, Population,
    normalise_code, normalise_system,
};
use caregap::lang::ir::*;
use chrono::NaiveDate;

pub fn day(y: i32, m: u32, d: u32) -> Day {
    (NaiveDate::from_ymd_opt(y, m, d).unwrap() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as Day
}

// ---------- expressions ----------

pub fn ex(ty: Type, kind: ExprKind) -> Expr {
    Expr {
        ty,
        span: Span::default(),
        kind,
    }
}

pub fn num(x: f64) -> Expr {
    ex(Type::Num, ExprKind::Lit(Literal::Num(x)))
}
pub fn boolean(b: bool) -> Expr {
    ex(Type::Bool, ExprKind::Lit(Literal::Bool(b)))
}
pub fn string(s: &str) -> Expr {
    ex(Type::Str, ExprKind::Lit(Literal::Str(s.into())))
}
pub fn null() -> Expr {
    ex(Type::Null, ExprKind::Lit(Literal::Null))
}
pub fn age() -> Expr {
    ex(Type::Num, ExprKind::Age)
}
pub fn agg(func: AggFunc, vs: usize, window: Option<Window>) -> Expr {
    let ty = match func {
        AggFunc::Has | AggFunc::Active => Type::Bool,
        _ => Type::Num,
    };
    ex(
        ty,
        ExprKind::Agg(Aggregate {
            func,
            value_set: vs,
            window,
        }),
    )
}
pub fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    ex(Type::Bool, ExprKind::Cmp(op, Box::new(a), Box::new(b)))
}
pub fn and(a: Expr, b: Expr) -> Expr {
    ex(Type::Bool, ExprKind::And(Box::new(a), Box::new(b)))
}
pub fn or(a: Expr, b: Expr) -> Expr {
    ex(Type::Bool, ExprKind::Or(Box::new(a), Box::new(b)))
}
pub fn not(a: Expr) -> Expr {
    ex(Type::Bool, ExprKind::Not(Box::new(a)))
}
pub fn arith(op: ArithOp, a: Expr, b: Expr) -> Expr {
    ex(Type::Num, ExprKind::Arith(op, Box::new(a), Box::new(b)))
}

pub fn vs(
    name: &str,
    kind: EventKind,
    unit: Option<&str>,
    systems: &[(&str, &[&str])],
) -> ValueSet {
    ValueSet {
        name: name.into(),
        kind,
        title: None,
        unit: unit.map(str::to_string),
        systems: systems
            .iter()
            .map(|(s, pats)| {
                (
                    normalise_system(s),
                    pats.iter()
                        .map(|p| {
                            if let Some(x) = p.strip_prefix('=') {
                                Pattern::Exact(normalise_code(x))
                            } else if let Some((lo, hi)) = p.split_once("..") {
                                Pattern::Range(normalise_code(lo), normalise_code(hi))
                            } else {
                                Pattern::Prefix(normalise_code(p))
                            }
                        })
                        .collect(),
                )
            })
            .collect(),
        file: "test.toml".into(),
    }
}

pub fn origin() -> Origin {
    Origin {
        file: "test.toml".into(),
        line: 1,
        column: 1,
    }
}

pub fn criterion(id: &str, population: Expr, gap: Expr, exclude: Option<Expr>) -> Criterion {
    Criterion {
        id: id.into(),
        title: id.into(),
        domain: None,
        source: None,
        population,
        gap,
        exclude,
        priority: 5,
        action: None,
        origin: origin(),
    }
}

pub fn feature(name: &str, expr: Expr) -> Feature {
    Feature {
        name: name.into(),
        expr,
        origin: origin(),
    }
}

// ---------- populations ----------

/// One raw event as a loader would see it.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub date: Day,
    pub kind: EventKind,
    pub system: String,
    pub code: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
}

pub fn ev(date: Day, kind: EventKind, system: &str, code: &str, value: Option<f64>) -> RawEvent {
    RawEvent {
        date,
        kind,
        system: system.into(),
        code: code.into(),
        value,
        unit: None,
    }
}

#[derive(Debug, Clone)]
pub struct RawPatient {
    pub birth: Day,
    pub death: Option<Day>,
    pub sex: String,
    pub clinic: String,
    pub events: Vec<RawEvent>,
}

pub fn patient(birth: Day, events: Vec<RawEvent>) -> RawPatient {
    RawPatient {
        birth,
        death: None,
        sex: "F".into(),
        clinic: "C1".into(),
        events,
    }
}

fn dict(values: impl Iterator<Item = String>) -> DictColumn {
    let mut col = DictColumn::default();
    let mut ids: HashMap<String, u32> = HashMap::new();
    for v in values {
        let next = col.values.len() as u32;
        let id = *ids.entry(v.clone()).or_insert_with(|| {
            col.values.push(v.clone());
            next
        });
        col.codes.push(Some(id));
    }
    col
}

/// Builds a population the way the loader does: codes normalised and
/// dictionary-encoded, events grouped by patient and sorted by date (stable).
pub fn population(as_of: Day, people: &[RawPatient]) -> Population {
    let mut codes: Vec<CodeEntry> = Vec::new();
    let mut code_ids: HashMap<CodeEntry, u32> = HashMap::new();
    let mut units: Vec<String> = vec![String::new()];
    let mut unit_ids: HashMap<String, u32> = HashMap::new();
    let mut events = Events {
        offsets: vec![0],
        ..Events::default()
    };
    for p in people {
        let mut evs = p.events.clone();
        evs.sort_by_key(|e| e.date);
        for e in evs {
            let entry = CodeEntry {
                kind: e.kind,
                system: normalise_system(&e.system),
                code: normalise_code(&e.code),
            };
            let next = codes.len() as u32;
            let c = *code_ids.entry(entry.clone()).or_insert_with(|| {
                codes.push(entry);
                next
            });
            let u = match &e.unit {
                None => 0,
                Some(u) => {
                    let next = units.len() as u32;
                    *unit_ids.entry(u.clone()).or_insert_with(|| {
                        units.push(u.clone());
                        next
                    })
                }
            };
            events.date.push(e.date);
            events.code.push(c);
            events.value.push(e.value.unwrap_or(0.0));
            events.has_value.push(e.value.is_some());
            events.unit.push(u);
        }
        events.offsets.push(events.date.len() as u32);
    }
    Population {
        as_of,
        patients: Patients {
            ids: PatientIds::Int((0..people.len() as i64).map(|i| 1000 + i).collect()),
            birth_date: people.iter().map(|p| p.birth).collect(),
            sex: dict(people.iter().map(|p| p.sex.clone())),
            clinic: dict(people.iter().map(|p| p.clinic.clone())),
            death_date: people.iter().map(|p| p.death).collect(),
            municipality: DictColumn {
                codes: vec![None; people.len()],
                values: vec![],
            },
            language: DictColumn {
                codes: vec![None; people.len()],
                values: vec![],
            },
        },
        events,
        codes: CodeTable { entries: codes },
        units,
    }
}

// ---------- random generation ----------

/// splitmix64: a tiny deterministic generator driven by a proptest seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The fixed value sets of the random libraries: every pattern form, several
/// systems, units declared and not.
pub fn random_value_sets() -> Vec<ValueSet> {
    use EventKind::*;
    vec![
        vs(
            "dx.htn",
            Diagnosis,
            None,
            &[("ICD10", &["I10..I15"]), ("icpc2", &["K86", "K87"])],
        ),
        vs("dx.dm", Diagnosis, None, &[("ICD10", &["E11", "=E10.9"])]),
        vs(
            "lab.sbp",
            Measurement,
            Some("mmHg"),
            &[("LOINC", &["=8480-6"]), ("LOCAL", &["RR-SYS"])],
        ),
        vs("lab.hba1c", Measurement, None, &[("LOINC", &["4548"])]),
        vs(
            "lab.egfr",
            Measurement,
            Some(" ml/min "),
            &[("LOINC", &["=33914-3", "62238"])],
        ),
        vs(
            "med.statin",
            Medication,
            None,
            &[("ATC", &["C10AA", "=C10BA01"])],
        ),
        vs("med.ace", Medication, Some("d"), &[("ATC", &["C09"])]),
        vs("visit.pc", Visit, None, &[("VISIT", &["PC", "R10..R12"])]),
        vs("proc.colo", Procedure, None, &[("NOMESCO", &["JFA"])]),
        vs("imm.flu", Immunization, None, &[("ATC", &["J07BB"])]),
        // Codes shorter than the bounds are compared whole: `I27` is inside.
        vs("dx.pe", Diagnosis, None, &[("ICD10", &["I26.9..I27.0"])]),
        // A blank declared unit: only measurements with no unit match it.
        vs(
            "lab.blank",
            Measurement,
            Some("  "),
            &[("LOINC", &["4548"])],
        ),
    ]
}

/// (kind, system, code) pool for random events: matches, near misses, other
/// kinds and systems, punctuation variants.
pub fn code_pool() -> Vec<(EventKind, &'static str, &'static str)> {
    use EventKind::*;
    vec![
        (Diagnosis, "ICD10", "I10"),
        (Diagnosis, "icd10", "i11.9"),
        (Diagnosis, "ICD10", "I15"),
        (Diagnosis, "ICD10", "I16"),
        (Diagnosis, "ICD10", "I1"),
        (Diagnosis, "ICD10", "I27"),
        (Diagnosis, "ICD10", "I26"),
        (Diagnosis, "ICD10", "I2"),
        (Diagnosis, "ICD10", "I26.9"),
        (Diagnosis, "ICD10", "I27.01"),
        (Diagnosis, "ICD10", "I27.1"),
        (Diagnosis, "ICD-10", "I10"),
        (Diagnosis, "ICPC2", "K86"),
        (Diagnosis, "ICD10", "E11.9"),
        (Diagnosis, "ICD10", "E10.9"),
        (Diagnosis, "ICD10", "E10.91"),
        (Measurement, "ICD10", "E11"),
        (Measurement, "LOINC", "8480-6"),
        (Measurement, "loinc", "84806"),
        (Measurement, "LOINC", "8480-61"),
        (Measurement, "LOCAL", "rr sys"),
        (Measurement, "LOINC", "4548-4"),
        (Measurement, "LOINC", "33914-3"),
        (Measurement, "LOINC", "62238-1"),
        (Medication, "ATC", "C10AA05"),
        (Medication, "ATC", "C10BA01"),
        (Medication, "ATC", "C10BA02"),
        (Medication, "ATC", "C09AA02"),
        (Diagnosis, "ATC", "C10AA05"),
        (Visit, "VISIT", "PC"),
        (Visit, "VISIT", "R11"),
        (Visit, "VISIT", "R13"),
        (Procedure, "NOMESCO", "JFA15"),
        (Immunization, "ATC", "J07BB02"),
    ]
}

const WINDOWS: &[Option<Window>] = &[
    None,
    Some(Window::Days(0)),
    Some(Window::Days(1)),
    Some(Window::Days(30)),
    Some(Window::Days(365)),
    Some(Window::Months(1)),
    Some(Window::Months(3)),
    Some(Window::Months(12)),
    Some(Window::Months(24)),
];

pub struct ExprGen<'a> {
    pub rng: &'a mut Rng,
    pub value_sets: &'a [ValueSet],
    /// Definitions available so far, with their types.
    pub defs: Vec<Type>,
}

impl ExprGen<'_> {
    fn vs_of(&mut self, kinds: &[EventKind]) -> usize {
        let ids: Vec<usize> = (0..self.value_sets.len())
            .filter(|&i| kinds.contains(&self.value_sets[i].kind))
            .collect();
        *self.rng.pick(&ids)
    }

    fn bool_agg(&mut self) -> Expr {
        if self.rng.chance(30) {
            let vs = self.vs_of(&[EventKind::Medication]);
            let grace = *self.rng.pick(&[
                None,
                Some(Window::Days(0)),
                Some(Window::Days(7)),
                Some(Window::Days(30)),
            ]);
            agg(AggFunc::Active, vs, grace)
        } else {
            let vs = self.rng.below(self.value_sets.len());
            let w = *self.rng.pick(WINDOWS);
            agg(AggFunc::Has, vs, w)
        }
    }

    fn num_agg(&mut self) -> Expr {
        use AggFunc::*;
        let f = *self.rng.pick(&[
            Count,
            Last,
            First,
            Min,
            Max,
            Mean,
            DaysSince,
            DaysSinceFirst,
        ]);
        match f {
            Count => {
                let vs = self.rng.below(self.value_sets.len());
                agg(Count, vs, *self.rng.pick(WINDOWS))
            }
            DaysSince | DaysSinceFirst => {
                let vs = self.rng.below(self.value_sets.len());
                agg(f, vs, None)
            }
            _ => {
                let vs = self.vs_of(&[EventKind::Measurement]);
                agg(f, vs, *self.rng.pick(WINDOWS))
            }
        }
    }

    fn def_of(&mut self, ty: Type) -> Option<Expr> {
        let ids: Vec<usize> = (0..self.defs.len())
            .filter(|&i| self.defs[i] == ty)
            .collect();
        if ids.is_empty() {
            return None;
        }
        let d = *self.rng.pick(&ids);
        Some(ex(ty, ExprKind::Def(d)))
    }

    fn list(&mut self, ty: Type, depth: u32) -> Vec<Expr> {
        let n = 1 + self.rng.below(3);
        (0..n).map(|_| self.gen_expr(ty, depth)).collect()
    }

    /// A random valid expression of type `ty` (`Num`, `Bool` or `Str`).
    pub fn gen_expr(&mut self, ty: Type, depth: u32) -> Expr {
        let leaf = depth == 0 || self.rng.chance(25);
        let d = depth.saturating_sub(1);
        if self.rng.chance(6) {
            return null();
        }
        match ty {
            Type::Num if leaf => match self.rng.below(5) {
                0 => num(*self
                    .rng
                    .pick(&[0.0, 1.0, 2.5, -3.0, 140.0, 0.5, 18.0, 90.0, -0.5])),
                1 => age(),
                2 => self.def_of(Type::Num).unwrap_or_else(age),
                _ => self.num_agg(),
            },
            Type::Num => match self.rng.below(9) {
                0 => ex(
                    Type::Num,
                    ExprKind::Neg(Box::new(self.gen_expr(Type::Num, d))),
                ),
                1 | 2 => {
                    let op =
                        *self
                            .rng
                            .pick(&[ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div]);
                    arith(op, self.gen_expr(Type::Num, d), self.gen_expr(Type::Num, d))
                }
                3 => ex(
                    Type::Num,
                    ExprKind::If(
                        Box::new(self.gen_expr(Type::Bool, d)),
                        Box::new(self.gen_expr(Type::Num, d)),
                        Box::new(self.gen_expr(Type::Num, d)),
                    ),
                ),
                4 => ex(Type::Num, ExprKind::Coalesce(self.list(Type::Num, d))),
                5 => ex(
                    Type::Num,
                    ExprKind::Abs(Box::new(self.gen_expr(Type::Num, d))),
                ),
                6 => ex(
                    Type::Num,
                    ExprKind::Round(Box::new(self.gen_expr(Type::Num, d))),
                ),
                7 => ex(Type::Num, ExprKind::Least(self.list(Type::Num, d))),
                _ => ex(Type::Num, ExprKind::Greatest(self.list(Type::Num, d))),
            },
            Type::Str if leaf => match self.rng.below(4) {
                0 => ex(Type::Str, ExprKind::Sex),
                1 => ex(Type::Str, ExprKind::Clinic),
                _ => {
                    let s: &&str = self.rng.pick(&["F", "M", "f", "C1", "X"]);
                    string(s)
                }
            },
            Type::Str => match self.rng.below(2) {
                0 => ex(
                    Type::Str,
                    ExprKind::If(
                        Box::new(self.gen_expr(Type::Bool, d)),
                        Box::new(self.gen_expr(Type::Str, d)),
                        Box::new(self.gen_expr(Type::Str, d)),
                    ),
                ),
                _ => ex(Type::Str, ExprKind::Coalesce(self.list(Type::Str, d))),
            },
            Type::Bool if leaf => match self.rng.below(5) {
                0 => boolean(self.rng.chance(50)),
                1 => self.def_of(Type::Bool).unwrap_or_else(|| self.bool_agg()),
                _ => self.bool_agg(),
            },
            Type::Bool => match self.rng.below(12) {
                0 => not(self.gen_expr(Type::Bool, d)),
                1 => and(self.gen_expr(Type::Bool, d), self.gen_expr(Type::Bool, d)),
                2 => or(self.gen_expr(Type::Bool, d), self.gen_expr(Type::Bool, d)),
                3 | 4 => {
                    let op = *self.rng.pick(&[
                        CmpOp::Eq,
                        CmpOp::Ne,
                        CmpOp::Lt,
                        CmpOp::Le,
                        CmpOp::Gt,
                        CmpOp::Ge,
                    ]);
                    cmp(op, self.gen_expr(Type::Num, d), self.gen_expr(Type::Num, d))
                }
                5 => {
                    let op = *self.rng.pick(&[CmpOp::Eq, CmpOp::Ne]);
                    let t = *self.rng.pick(&[Type::Str, Type::Bool]);
                    cmp(op, self.gen_expr(t, d), self.gen_expr(t, d))
                }
                6 => ex(
                    Type::Bool,
                    ExprKind::Between(
                        Box::new(self.gen_expr(Type::Num, d)),
                        Box::new(self.gen_expr(Type::Num, d)),
                        Box::new(self.gen_expr(Type::Num, d)),
                    ),
                ),
                7 => {
                    let t = *self.rng.pick(&[Type::Num, Type::Str, Type::Bool]);
                    let x = self.gen_expr(t, d);
                    let items = self.list(t, d);
                    ex(Type::Bool, ExprKind::In(Box::new(x), items))
                }
                8 => {
                    let t = *self.rng.pick(&[Type::Num, Type::Str, Type::Bool]);
                    ex(
                        Type::Bool,
                        ExprKind::IsNull {
                            expr: Box::new(self.gen_expr(t, d)),
                            negated: self.rng.chance(50),
                        },
                    )
                }
                9 => ex(
                    Type::Bool,
                    ExprKind::If(
                        Box::new(self.gen_expr(Type::Bool, d)),
                        Box::new(self.gen_expr(Type::Bool, d)),
                        Box::new(self.gen_expr(Type::Bool, d)),
                    ),
                ),
                10 => ex(Type::Bool, ExprKind::Coalesce(self.list(Type::Bool, d))),
                _ => self.bool_agg(),
            },
            Type::Null => null(),
        }
    }
}

/// A random valid library over [`random_value_sets`].
pub fn random_library(rng: &mut Rng) -> Library {
    let value_sets = random_value_sets();
    let mut lib = Library {
        value_sets: value_sets.clone(),
        hash: "test".into(),
        ..Library::default()
    };
    let mut g = ExprGen {
        rng,
        value_sets: &value_sets,
        defs: Vec::new(),
    };
    for (i, ty) in [Type::Num, Type::Bool, Type::Bool].into_iter().enumerate() {
        let expr = g.gen_expr(ty, 3);
        lib.definitions.push(Definition {
            name: format!("d{i}"),
            expr,
            origin: origin(),
        });
        g.defs.push(ty);
    }
    for i in 0..4 {
        let population = g.gen_expr(Type::Bool, 3);
        let gap = g.gen_expr(Type::Bool, 3);
        let exclude = g.rng.chance(50).then(|| g.gen_expr(Type::Bool, 2));
        lib.criteria
            .push(criterion(&format!("C{i}"), population, gap, exclude));
    }
    for i in 0..3 {
        let ty = if g.rng.chance(50) {
            Type::Num
        } else {
            Type::Bool
        };
        let expr = g.gen_expr(ty, 3);
        lib.features.push(feature(&format!("f{i}"), expr));
    }
    lib
}

/// Scoring dates near month ends and leap days.
pub fn random_as_of(rng: &mut Rng) -> Day {
    *rng.pick(&[
        day(2024, 3, 31),
        day(2024, 2, 29),
        day(2023, 2, 28),
        day(2024, 12, 31),
        day(2025, 1, 15),
        day(2023, 3, 1),
    ])
}

/// A random small population around `as_of`.
pub fn random_population(rng: &mut Rng, as_of: Day, n: usize) -> Population {
    let codes = code_pool();
    let offsets: &[i32] = &[
        0, 0, 1, 2, 7, 28, 29, 30, 31, 59, 60, 61, 89, 90, 91, 92, 120, 364, 365, 366, 730, 731,
        2000,
    ];
    let mut people = Vec::with_capacity(n);
    for _ in 0..n {
        let birth = match rng.below(8) {
            0 => day(2000, 2, 29),
            1 => as_of,
            2 => as_of + 1,
            3 => as_of - 365 * 18,
            4 => as_of - 365 * 18 + 4,
            _ => day(1930, 1, 1) + rng.below(30000) as i32,
        };
        let death = match rng.below(10) {
            0 => Some(as_of),
            1 => Some(as_of + 1),
            2 => Some(as_of - 10),
            _ => None,
        };
        let n_events = rng.below(14);
        let mut events = Vec::with_capacity(n_events);
        let mut last_date = as_of;
        let mut last_code = *rng.pick(&codes);
        for _ in 0..n_events {
            // Ties of dates with different values are frequent, often of the
            // same code.
            let tie = rng.chance(30);
            let (kind, system, code) = if tie && rng.chance(60) {
                last_code
            } else {
                *rng.pick(&codes)
            };
            last_code = (kind, system, code);
            let date = if tie {
                last_date
            } else if rng.chance(10) {
                as_of + 1 + rng.below(20) as i32
            } else {
                as_of - rng.pick(offsets)
            };
            last_date = date;
            let value = match rng.below(12) {
                0 | 1 => None,
                2 => Some(0.0),
                3 => Some(-5.0),
                4 => Some(f64::NAN),
                5 => Some(0.5),
                6 => Some(29.5),
                _ => Some((rng.below(400) as f64) * 0.5),
            };
            let unit = match rng.below(9) {
                0 => Some("mmHg".to_string()),
                1 => Some(" MMHG ".to_string()),
                2 => Some("mm[Hg]".to_string()),
                3 => Some("ml/min".to_string()),
                4 => Some("d".to_string()),
                5 => Some(String::new()),
                6 => Some("  ".to_string()),
                _ => None,
            };
            events.push(RawEvent {
                date,
                kind,
                system: system.into(),
                code: code.into(),
                value,
                unit,
            });
        }
        people.push(RawPatient {
            birth,
            death,
            sex: rng.pick(&["F", "M", "X"]).to_string(),
            clinic: rng.pick(&["C1", "C2", "F"]).to_string(),
            events,
        });
    }
    population(as_of, &people)
}
