//! Shared helpers of the SQL tests: IR builders, test tables, and running a
//! script on DuckDB through the Python venv made by `scripts/sql/setup-venv.sh`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use caregap::data::EventKind;
use caregap::lang::ir::*;

/// The venv's Python, or `None` (with a message) when it is missing and
/// `CAREGAP_REQUIRE_DUCKDB` is unset. With the flag set, a missing venv fails.
pub fn duckdb_python(test: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("CAREGAP_SQL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-sql"));
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var_os("CAREGAP_REQUIRE_DUCKDB").is_some() {
        panic!(
            "{test}: CAREGAP_REQUIRE_DUCKDB is set but {} does not exist; run scripts/sql/setup-venv.sh",
            python.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: no DuckDB venv at {} (run scripts/sql/setup-venv.sh, or set \
         CAREGAP_REQUIRE_DUCKDB=1 to make this a failure)",
        venv.display()
    );
    None
}

/// Runs `setup` then `script` on a fresh in-memory DuckDB; returns the rows.
pub fn run_duckdb(python: &PathBuf, setup: &str, script: &str) -> Vec<Vec<serde_json::Value>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup_path = dir.path().join("setup.sql");
    let script_path = dir.path().join("script.sql");
    std::fs::write(&setup_path, setup).expect("write setup");
    std::fs::write(&script_path, script).expect("write script");
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sql/run_duckdb.py");
    let out = Command::new(python)
        .arg(runner)
        .arg("--setup")
        .arg(&setup_path)
        .arg(&script_path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "DuckDB failed:\n{}\n--- script ---\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON rows")
}

/// Days since 1970-01-01 of a `yyyy-mm-dd` date.
pub fn day(ymd: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").expect("date");
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

pub struct Patient {
    pub id: i64,
    pub birth: &'static str,
    pub sex: &'static str,
    pub clinic: &'static str,
    pub death: Option<&'static str>,
}

pub struct Event {
    pub patient: i64,
    pub date: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub system: Option<&'static str>,
    pub code: Option<&'static str>,
    pub value: Option<f64>,
    pub unit: Option<&'static str>,
}

pub fn ev(
    patient: i64,
    date: &'static str,
    kind: &'static str,
    system: &'static str,
    code: &'static str,
) -> Event {
    Event {
        patient,
        date: Some(date),
        kind: Some(kind),
        system: Some(system),
        code: Some(code),
        value: None,
        unit: None,
    }
}

impl Event {
    pub fn value(mut self, v: f64) -> Event {
        self.value = Some(v);
        self
    }
    pub fn unit(mut self, u: &'static str) -> Event {
        self.unit = Some(u);
        self
    }
}

fn s(x: Option<&str>) -> String {
    x.map_or("NULL".into(), |x| format!("'{}'", x.replace('\'', "''")))
}

fn d(x: Option<&str>) -> String {
    x.map_or("NULL".into(), |x| format!("DATE '{x}'"))
}

/// `CREATE TABLE patients/events` statements holding the given rows.
pub fn tables_sql(patients: &[Patient], events: &[Event]) -> String {
    let mut out = String::from(
        "CREATE TABLE patients (patient_id BIGINT, birth_date DATE, sex VARCHAR, clinic_id VARCHAR, death_date DATE);\n\
         CREATE TABLE events (patient_id BIGINT, date DATE, kind VARCHAR, system VARCHAR, code VARCHAR, value DOUBLE, unit VARCHAR);\n",
    );
    for p in patients {
        out += &format!(
            "INSERT INTO patients VALUES ({}, DATE '{}', {}, {}, {});\n",
            p.id,
            p.birth,
            s(Some(p.sex)),
            s(Some(p.clinic)),
            d(p.death)
        );
    }
    for e in events {
        let value = match e.value {
            None => "NULL".to_string(),
            Some(v) if v.is_nan() => "'NaN'::DOUBLE".to_string(),
            Some(v) => format!("'{v:?}'::DOUBLE"),
        };
        out += &format!(
            "INSERT INTO events VALUES ({}, {}, {}, {}, {}, {value}, {});\n",
            e.patient,
            d(e.date),
            s(e.kind),
            s(e.system),
            s(e.code),
            s(e.unit)
        );
    }
    out
}

// ---- IR builders ----

pub fn x(ty: Type, kind: ExprKind) -> Expr {
    Expr {
        ty,
        span: Span::default(),
        kind,
    }
}
pub fn num(v: f64) -> Expr {
    x(Type::Num, ExprKind::Lit(Literal::Num(v)))
}
pub fn text(v: &str) -> Expr {
    x(Type::Str, ExprKind::Lit(Literal::Str(v.into())))
}
pub fn null() -> Expr {
    x(Type::Null, ExprKind::Lit(Literal::Null))
}
pub fn agg(func: AggFunc, value_set: usize, window: Option<Window>) -> Expr {
    let ty = match func {
        AggFunc::Has | AggFunc::Active => Type::Bool,
        _ => Type::Num,
    };
    x(
        ty,
        ExprKind::Agg(Aggregate {
            func,
            value_set,
            window,
        }),
    )
}
pub fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    x(Type::Bool, ExprKind::Cmp(op, Box::new(a), Box::new(b)))
}
pub fn arith(op: ArithOp, a: Expr, b: Expr) -> Expr {
    x(Type::Num, ExprKind::Arith(op, Box::new(a), Box::new(b)))
}
pub fn not(a: Expr) -> Expr {
    x(Type::Bool, ExprKind::Not(Box::new(a)))
}

pub fn value_set(
    name: &str,
    kind: EventKind,
    unit: Option<&str>,
    systems: Vec<(&str, Vec<Pattern>)>,
) -> ValueSet {
    ValueSet {
        name: name.into(),
        kind,
        title: None,
        unit: unit.map(Into::into),
        systems: systems.into_iter().map(|(s, p)| (s.into(), p)).collect(),
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

pub fn feature(name: &str, expr: Expr) -> Feature {
    Feature {
        name: name.into(),
        expr,
        origin: origin(),
    }
}

pub fn criterion(id: &str, population: Expr, gap: Expr, exclude: Option<Expr>) -> Criterion {
    Criterion {
        id: id.into(),
        title: format!("test criterion {id}"),
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
