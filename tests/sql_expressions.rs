//! Random typed expressions: the emitted DuckDB SQL computes what the
//! language's semantics (three-valued logic, division by zero is null, least/
//! greatest ignore nulls, round half away from zero, `in` with nulls, ...)
//! prescribe, as computed by a small interpreter here over the aggregate values
//! DuckDB returned for the same people.
//!
//! Cases: `CAREGAP_SQL_PROPTEST_CASES` (default 6, each 40 expressions).
//! Skips with a message when the DuckDB venv is missing (see `sql_common`).

mod sql_common;

use caregap::data::EventKind;
use caregap::lang::ir::*;
use caregap::sql::{SqlOptions, emit};
use proptest::prelude::*;
use serde_json::Value;
use sql_common::*;

const PER_CASE: usize = 40;
const N_BASE: usize = 5;

/// A tiny deterministic generator (xorshift) driven by a proptest seed.
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

fn base_features() -> Vec<Expr> {
    vec![
        agg(AggFunc::Count, 0, None),
        agg(AggFunc::Has, 0, Some(Window::Months(12))),
        agg(AggFunc::Last, 1, Some(Window::Months(12))),
        agg(AggFunc::Min, 1, None),
        agg(AggFunc::Active, 2, Some(Window::Days(10))),
    ]
}

fn gen_num(r: &mut Rng, depth: u32) -> Expr {
    if depth == 0 || r.below(3) == 0 {
        return match r.below(8) {
            0 => null(),
            1 => x(Type::Num, ExprKind::Age),
            2 => base_features()[0].clone(),
            3 => base_features()[2].clone(),
            4 => base_features()[3].clone(),
            5 => num([0.5, 2.5, 1.5, 10.0][r.below(4) as usize]),
            _ => num(r.below(6) as f64),
        };
    }
    let d = depth - 1;
    let b = |e: Expr| Box::new(e);
    match r.below(9) {
        0 => x(Type::Num, ExprKind::Neg(b(gen_num(r, d)))),
        1 | 2 => {
            let op = [ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div][r.below(4) as usize];
            arith(op, gen_num(r, d), gen_num(r, d))
        }
        3 => x(
            Type::Num,
            ExprKind::If(b(gen_bool(r, d)), b(gen_num(r, d)), b(gen_num(r, d))),
        ),
        4 => x(Type::Num, ExprKind::Coalesce(vec_of(r, d, gen_num))),
        5 => x(Type::Num, ExprKind::Abs(b(gen_num(r, d)))),
        6 => x(Type::Num, ExprKind::Round(b(gen_num(r, d)))),
        7 => x(Type::Num, ExprKind::Least(vec_of(r, d, gen_num))),
        _ => x(Type::Num, ExprKind::Greatest(vec_of(r, d, gen_num))),
    }
}

fn gen_str(r: &mut Rng, depth: u32) -> Expr {
    if depth == 0 || r.below(2) == 0 {
        return match r.below(6) {
            0 => null(),
            1 => x(Type::Str, ExprKind::Sex),
            2 => x(Type::Str, ExprKind::Clinic),
            3 => text("F"),
            4 => text("A"),
            _ => text("it's"),
        };
    }
    let d = depth - 1;
    match r.below(2) {
        0 => x(
            Type::Str,
            ExprKind::If(
                Box::new(gen_bool(r, d)),
                Box::new(gen_str(r, d)),
                Box::new(gen_str(r, d)),
            ),
        ),
        _ => x(Type::Str, ExprKind::Coalesce(vec_of(r, d, gen_str))),
    }
}

fn gen_bool(r: &mut Rng, depth: u32) -> Expr {
    if depth == 0 || r.below(4) == 0 {
        return match r.below(5) {
            0 => null(),
            1 => x(Type::Bool, ExprKind::Lit(Literal::Bool(r.below(2) == 0))),
            2 => base_features()[1].clone(),
            _ => base_features()[4].clone(),
        };
    }
    let d = depth - 1;
    let b = |e: Expr| Box::new(e);
    let cmp_op = |r: &mut Rng| {
        [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ][r.below(6) as usize]
    };
    match r.below(12) {
        0 => not(gen_bool(r, d)),
        1 => x(
            Type::Bool,
            ExprKind::And(b(gen_bool(r, d)), b(gen_bool(r, d))),
        ),
        2 => x(
            Type::Bool,
            ExprKind::Or(b(gen_bool(r, d)), b(gen_bool(r, d))),
        ),
        3 | 4 => cmp(cmp_op(r), gen_num(r, d), gen_num(r, d)),
        5 => cmp(
            [CmpOp::Eq, CmpOp::Ne][r.below(2) as usize],
            gen_str(r, d),
            gen_str(r, d),
        ),
        6 => cmp(
            [CmpOp::Eq, CmpOp::Ne][r.below(2) as usize],
            gen_bool(r, d),
            gen_bool(r, d),
        ),
        7 => x(
            Type::Bool,
            ExprKind::Between(b(gen_num(r, d)), b(gen_num(r, d)), b(gen_num(r, d))),
        ),
        8 => x(
            Type::Bool,
            ExprKind::In(b(gen_num(r, d)), vec_of(r, d, gen_num)),
        ),
        9 => x(
            Type::Bool,
            ExprKind::In(b(gen_str(r, d)), vec_of(r, d, gen_str)),
        ),
        10 => {
            let inner = match r.below(3) {
                0 => gen_num(r, d),
                1 => gen_str(r, d),
                _ => gen_bool(r, d),
            };
            x(
                Type::Bool,
                ExprKind::IsNull {
                    expr: b(inner),
                    negated: r.below(2) == 0,
                },
            )
        }
        _ => x(
            Type::Bool,
            ExprKind::If(b(gen_bool(r, d)), b(gen_bool(r, d)), b(gen_bool(r, d))),
        ),
    }
}

fn vec_of(r: &mut Rng, d: u32, g: fn(&mut Rng, u32) -> Expr) -> Vec<Expr> {
    (0..1 + r.below(3)).map(|_| g(r, d)).collect()
}

/// A value of the interpreter: a number, boolean or string, each possibly null.
#[derive(Debug, Clone, PartialEq)]
enum V {
    N(Option<f64>),
    B(Option<bool>),
    S(Option<String>),
    Null,
}

impl V {
    fn num(&self) -> Option<f64> {
        match self {
            V::N(x) => *x,
            V::Null => None,
            v => panic!("not a number: {v:?}"),
        }
    }
    fn bool(&self) -> Option<bool> {
        match self {
            V::B(x) => *x,
            V::Null => None,
            v => panic!("not a boolean: {v:?}"),
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, V::Null | V::N(None) | V::B(None) | V::S(None))
    }
}

struct Person {
    age: f64,
    sex: String,
    clinic: String,
    /// The base aggregates as DuckDB computed them.
    base: Vec<V>,
}

/// Equality of two non-null values of one type (`None` if either is null).
fn eq(a: &V, b: &V) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    Some(match (a, b) {
        (V::N(x), V::N(y)) => x == y,
        (V::B(x), V::B(y)) => x == y,
        (V::S(x), V::S(y)) => x == y,
        _ => panic!("mixed types {a:?} {b:?}"),
    })
}

fn eval(e: &Expr, p: &Person) -> V {
    let n = |e: &Expr| eval(e, p).num();
    let bo = |e: &Expr| eval(e, p).bool();
    let base = base_features();
    match &e.kind {
        ExprKind::Lit(Literal::Null) => V::Null,
        ExprKind::Lit(Literal::Num(x)) => V::N(Some(*x)),
        ExprKind::Lit(Literal::Bool(x)) => V::B(Some(*x)),
        ExprKind::Lit(Literal::Str(x)) => V::S(Some(x.clone())),
        ExprKind::Age => V::N(Some(p.age)),
        ExprKind::Sex => V::S(Some(p.sex.clone())),
        ExprKind::Clinic => V::S(Some(p.clinic.clone())),
        ExprKind::Def(_) => unreachable!("no definitions here"),
        ExprKind::Agg(_) => {
            let i = base.iter().position(|b| b == e).expect("a base aggregate");
            p.base[i].clone()
        }
        ExprKind::Not(a) => V::B(bo(a).map(|x| !x)),
        ExprKind::Neg(a) => V::N(n(a).map(|x| -x)),
        ExprKind::And(a, b) => V::B(match (bo(a), bo(b)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }),
        ExprKind::Or(a, b) => V::B(match (bo(a), bo(b)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }),
        ExprKind::Cmp(op, a, b) => {
            let (va, vb) = (eval(a, p), eval(b, p));
            V::B(match op {
                CmpOp::Eq => eq(&va, &vb),
                CmpOp::Ne => eq(&va, &vb).map(|x| !x),
                _ => match (va.num(), vb.num()) {
                    (Some(x), Some(y)) => Some(match op {
                        CmpOp::Lt => x < y,
                        CmpOp::Le => x <= y,
                        CmpOp::Gt => x > y,
                        _ => x >= y,
                    }),
                    _ => None,
                },
            })
        }
        ExprKind::Arith(op, a, b) => V::N(match (n(a), n(b)) {
            (Some(x), Some(y)) => {
                let r = match op {
                    ArithOp::Add => x + y,
                    ArithOp::Sub => x - y,
                    ArithOp::Mul => x * y,
                    ArithOp::Div => x / y,
                };
                (!(r.is_nan() || (*op == ArithOp::Div && y == 0.0))).then_some(r)
            }
            _ => None,
        }),
        ExprKind::Between(v, lo, hi) => {
            let ge = match (n(v), n(lo)) {
                (Some(x), Some(l)) => Some(x >= l),
                _ => None,
            };
            let le = match (n(v), n(hi)) {
                (Some(x), Some(h)) => Some(x <= h),
                _ => None,
            };
            V::B(match (ge, le) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            })
        }
        ExprKind::In(v, items) => {
            let v = eval(v, p);
            let results: Vec<Option<bool>> = items.iter().map(|i| eq(&v, &eval(i, p))).collect();
            V::B(if results.contains(&Some(true)) {
                Some(true)
            } else if results.contains(&None) {
                None
            } else {
                Some(false)
            })
        }
        ExprKind::IsNull { expr, negated } => V::B(Some(eval(expr, p).is_null() != *negated)),
        ExprKind::If(c, a, b) => {
            if bo(c) == Some(true) {
                eval(a, p)
            } else {
                eval(b, p)
            }
        }
        ExprKind::Coalesce(es) => es
            .iter()
            .map(|e| eval(e, p))
            .find(|v| !v.is_null())
            .unwrap_or(V::Null),
        ExprKind::Abs(a) => V::N(n(a).map(f64::abs)),
        ExprKind::Round(a) => V::N(n(a).map(f64::round)),
        ExprKind::Least(es) => V::N(es.iter().filter_map(&n).reduce(f64::min)),
        ExprKind::Greatest(es) => V::N(es.iter().filter_map(&n).reduce(f64::max)),
    }
}

fn population() -> (Vec<Patient>, Vec<Event>) {
    let sexes = ["F", "M", "X"];
    let clinics = ["A", "B", "it's"];
    let births = [
        "1940-05-05",
        "1980-03-31",
        "2000-02-29",
        "2010-12-31",
        "1955-01-01",
    ];
    let mut patients = Vec::new();
    let mut events = Vec::new();
    let dates = [
        "2023-01-15",
        "2023-07-01",
        "2024-02-29",
        "2024-05-31",
        "2024-06-01",
    ];
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for id in 0..30i64 {
        patients.push(Patient {
            id,
            birth: births[id as usize % births.len()],
            sex: sexes[id as usize % 3],
            clinic: clinics[(id as usize / 3) % 3],
            death: None,
        });
        for _ in 0..r.below(6) {
            let date = dates[r.below(dates.len() as u64) as usize];
            events.push(match r.below(3) {
                0 => ev(id, date, "diagnosis", "ICD10", "E11.9"),
                1 => {
                    let e = ev(id, date, "measurement", "LOINC", "4548-4");
                    if r.below(4) == 0 {
                        e
                    } else {
                        e.value([0.0, 2.5, 6.5, 7.0, -1.5][r.below(5) as usize])
                    }
                }
                _ => {
                    let e = ev(id, date, "medication", "ATC", "A10BA02");
                    if r.below(3) == 0 {
                        e
                    } else {
                        e.value([0.0, 10.0, 30.5, 90.0][r.below(4) as usize])
                    }
                }
            });
        }
    }
    (patients, events)
}

fn library(exprs: &[Expr]) -> Library {
    let vs = |name: &str, kind, system: &str, p: &str| {
        value_set(
            name,
            kind,
            None,
            vec![(system, vec![Pattern::Prefix(p.into())])],
        )
    };
    let mut features: Vec<Feature> = base_features()
        .into_iter()
        .enumerate()
        .map(|(i, e)| feature(&format!("base{i}"), e))
        .collect();
    features.extend(
        exprs
            .iter()
            .enumerate()
            .map(|(i, e)| feature(&format!("e{i}"), e.clone())),
    );
    Library {
        value_sets: vec![
            vs("dx.t2d", EventKind::Diagnosis, "ICD10", "E11"),
            vs("lab.a1c", EventKind::Measurement, "LOINC", "45484"),
            vs("med.metformin", EventKind::Medication, "ATC", "A10BA"),
        ],
        features,
        ..Library::default()
    }
}

fn from_json(v: &Value, ty: Type) -> V {
    match (v, ty) {
        (Value::Null, Type::Bool) => V::B(None),
        (Value::Null, _) => V::N(None),
        (Value::Bool(b), _) => V::B(Some(*b)),
        (Value::Number(x), _) => V::N(x.as_f64()),
        (Value::String(s), _) => V::N(Some(s.parse().expect("inf/nan text"))),
        _ => panic!("unexpected cell {v}"),
    }
}

fn same(got: &V, want: &V) -> bool {
    match (got, want) {
        (V::N(Some(a)), V::N(Some(b))) => a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        (V::N(None), V::Null) | (V::B(None), V::Null) => true,
        _ => got == want,
    }
}

fn check_batch(engine: &Engine, seed: u64) -> Result<(), TestCaseError> {
    let mut r = Rng(seed | 1);
    let exprs: Vec<Expr> = (0..PER_CASE)
        .map(|_| {
            if r.below(2) == 0 {
                gen_num(&mut r, 4)
            } else {
                gen_bool(&mut r, 4)
            }
        })
        .collect();
    let lib = library(&exprs);
    let (patients, events) = population();
    let as_of = day("2024-05-31");
    let opts = SqlOptions {
        features: true,
        ..SqlOptions::default()
    };
    let script = emit(&lib, as_of, engine.dialect, &opts);
    let rows = run_sql(
        engine,
        &tables_sql(engine.dialect, &patients, &events),
        &script,
    );
    prop_assert_eq!(rows.len(), patients.len());
    for row in &rows {
        let id = row[0].as_i64().expect("id");
        let pt = &patients[id as usize];
        let base_types = [Type::Num, Type::Bool, Type::Num, Type::Num, Type::Bool];
        let person = Person {
            age: {
                let b = chrono::NaiveDate::parse_from_str(pt.birth, "%Y-%m-%d").unwrap();
                let a = chrono::NaiveDate::from_ymd_opt(2024, 5, 31).unwrap();
                use chrono::Datelike;
                let mut y = a.year() - b.year();
                if (a.month(), a.day()) < (b.month(), b.day()) {
                    y -= 1;
                }
                y as f64
            },
            sex: pt.sex.into(),
            clinic: pt.clinic.into(),
            base: (0..N_BASE)
                .map(|i| from_json(&row[2 + i], base_types[i]))
                .collect(),
        };
        for (i, e) in exprs.iter().enumerate() {
            let got = from_json(&row[2 + N_BASE + i], e.ty);
            let want = eval(e, &person);
            prop_assert!(
                same(&got, &want),
                "{:?}: patient {}: e{} = {:?}, expected {:?}\nexpression: {:#?}\nbase: {:?}",
                engine.dialect,
                id,
                i,
                got,
                want,
                e,
                person.base
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("CAREGAP_SQL_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

#[test]
fn random_expressions_match_the_language_semantics() {
    for engine in engines("random_expressions_match_the_language_semantics", true) {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        runner
            .run(&any::<u64>(), |seed| check_batch(&engine, seed))
            .unwrap();
    }
}
