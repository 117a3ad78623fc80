//! The generated files follow the data model, are sorted, plausible, and use
//! only the codes documented in `data-synth/CODES.md`.

mod data_util;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use caregap_synth::{Config, Summary, generate};
use chrono::NaiveDate;

const AS_OF: i32 = 20454; // 2026-01-01
const NEXT_YEAR: i32 = AS_OF + 365; // 2027-01-01

fn generate_into(patients: u64, string_ids: bool, messy: bool) -> (tempfile::TempDir, Summary) {
    let mut cfg = Config::new(patients, 42, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    cfg.string_ids = string_ids;
    cfg.messy = messy;
    cfg.chunk_patients = 500;
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(&cfg, dir.path(), &|_| {}).unwrap();
    (dir, summary)
}

fn read(dir: &Path, name: &str) -> RecordBatch {
    data_util::read_parquet(&dir.join(format!("{name}.parquet")))
}

fn fields(b: &RecordBatch) -> Vec<(String, DataType)> {
    b.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn strs(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

fn dates(b: &RecordBatch, col: &str) -> Vec<Option<i32>> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Date32Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

fn ids(b: &RecordBatch) -> Vec<String> {
    let a = b.column_by_name("patient_id").unwrap();
    match a.data_type() {
        DataType::Int64 => a
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|v| format!("{v:020}"))
            .collect(),
        _ => strs(b, "patient_id")
            .into_iter()
            .map(|s| s.unwrap())
            .collect(),
    }
}

fn expect_schema(dir: &Path, id: DataType) {
    let s = |n: &str, t: DataType| (n.to_string(), t);
    assert_eq!(
        fields(&read(dir, "patients")),
        vec![
            s("patient_id", id.clone()),
            s("birth_date", DataType::Date32),
            s("sex", DataType::Utf8),
            s("clinic_id", DataType::Utf8),
            s("death_date", DataType::Date32),
            s("municipality", DataType::Utf8),
            s("language", DataType::Utf8),
        ]
    );
    let ev = vec![
        s("patient_id", id.clone()),
        s("date", DataType::Date32),
        s("kind", DataType::Utf8),
        s("system", DataType::Utf8),
        s("code", DataType::Utf8),
        s("value", DataType::Float64),
        s("unit", DataType::Utf8),
    ];
    assert_eq!(fields(&read(dir, "events")), ev);
    assert_eq!(fields(&read(dir, "events_future")), ev);
    assert_eq!(
        fields(&read(dir, "consents")),
        vec![
            s("patient_id", id.clone()),
            s("scope", DataType::Utf8),
            s("granted", DataType::Boolean),
            s("date", DataType::Date32)
        ]
    );
    assert_eq!(
        fields(&read(dir, "outreach")),
        vec![
            s("patient_id", id.clone()),
            s("date", DataType::Date32),
            s("criterion_id", DataType::Utf8),
            s("outcome", DataType::Utf8)
        ]
    );
    assert_eq!(
        fields(&read(dir, "truth")),
        vec![
            s("patient_id", id),
            s("expected_visits", DataType::Float64),
            s("future_death_date", DataType::Date32)
        ]
    );
}

/// Checks every invariant of a non-messy output folder.
fn check_valid(dir: &Path) {
    let pats = read(dir, "patients");
    let pid = ids(&pats);
    assert!(
        pid.windows(2).all(|w| w[0] < w[1]),
        "patient ids ascending and unique"
    );
    let birth = dates(&pats, "birth_date");
    let death = dates(&pats, "death_date");
    let index: HashMap<&str, usize> = pid
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    for (i, b) in birth.iter().enumerate() {
        assert!(b.unwrap() <= AS_OF);
        if let Some(d) = death[i] {
            assert!(d <= AS_OF && d >= b.unwrap());
        }
    }
    assert!(
        strs(&pats, "sex")
            .iter()
            .all(|s| matches!(s.as_deref(), Some("F" | "M")))
    );
    let clinics: BTreeSet<String> = strs(&pats, "clinic_id")
        .into_iter()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(clinics.len(), 25);
    let kinds = [
        "diagnosis",
        "measurement",
        "medication",
        "visit",
        "procedure",
        "immunization",
    ];
    for (name, lo, hi) in [
        ("events", i32::MIN, AS_OF),
        ("events_future", AS_OF, NEXT_YEAR),
    ] {
        let ev = read(dir, name);
        let eid = ids(&ev);
        let edate = dates(&ev, "date");
        for col in ["kind", "system", "code"] {
            assert_eq!(
                ev.column_by_name(col).unwrap().null_count(),
                0,
                "{name}.{col} has nulls"
            );
        }
        assert!(
            strs(&ev, "kind")
                .iter()
                .all(|k| kinds.contains(&k.as_deref().unwrap()))
        );
        for i in 0..ev.num_rows() {
            let d = edate[i].unwrap();
            assert!(
                (lo == i32::MIN || d > lo) && d <= hi,
                "{name} row {i} date {d}"
            );
            let p = *index.get(eid[i].as_str()).expect("no orphan events");
            assert!(d >= birth[p].unwrap(), "{name} row {i} before birth");
            if let Some(dd) = death[p] {
                assert!(d <= dd, "{name} row {i} after death");
            }
            if i > 0 {
                assert!(
                    (eid[i - 1].as_str(), edate[i - 1]) <= (eid[i].as_str(), edate[i]),
                    "{name} sorted at row {i}"
                );
            }
        }
    }
    let cons = read(dir, "consents");
    assert_eq!(cons.column_by_name("granted").unwrap().null_count(), 0);
    assert!(
        strs(&cons, "scope")
            .iter()
            .all(|s| matches!(s.as_deref(), Some("outreach" | "research")))
    );
    let outr = read(dir, "outreach");
    assert!(strs(&outr, "outcome").iter().all(|s| matches!(
        s.as_deref(),
        Some("booked" | "declined" | "no_answer" | "not_reachable")
    )));
    for c in strs(&outr, "criterion_id").into_iter().flatten() {
        assert!(
            [
                "HTN.BP_UNCONTROLLED",
                "DM.HBA1C_OVERDUE",
                "SCR.CERVICAL_OVERDUE"
            ]
            .contains(&c.as_str())
        );
    }
    let truth = read(dir, "truth");
    let alive = death.iter().filter(|d| d.is_none()).count();
    assert_eq!(
        truth.num_rows(),
        alive,
        "one truth row per person alive on as_of"
    );
    let ev = truth
        .column_by_name("expected_visits")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert!(ev.values().iter().all(|v| v.is_finite() && *v > 0.0));
}

#[test]
fn integer_ids_valid_and_plausible() {
    let (dir, summary) = generate_into(2500, false, false);
    expect_schema(dir.path(), DataType::Int64);
    check_valid(dir.path());
    let fig = &summary.figures;
    let prev: HashMap<&str, f64> = fig.prevalence.iter().copied().collect();
    let within = |name: &str, lo: f64, hi: f64| {
        let p = prev[name];
        assert!(
            (lo..=hi).contains(&p),
            "{name} prevalence {p} outside {lo}..{hi}"
        );
    };
    within("hypertension", 0.18, 0.34);
    within("type 2 diabetes", 0.05, 0.12);
    within("coronary heart disease", 0.02, 0.09);
    within("atrial fibrillation", 0.02, 0.08);
    within("asthma", 0.05, 0.14);
    within("depression", 0.05, 0.16);
    assert!(
        (0.40..=0.62).contains(&fig.top10_visit_share),
        "top-10% visit share {}",
        fig.top10_visit_share
    );
    assert!(
        (2.0..=6.0).contains(&fig.mean_pc_visits),
        "mean visits {}",
        fig.mean_pc_visits
    );
    assert!(
        (50.0..=160.0).contains(&fig.events_per_person),
        "events per person {}",
        fig.events_per_person
    );
    // History predicts the future: realised future visits correlate with the truth mean.
    let truth = read(dir.path(), "truth");
    let fut = read(dir.path(), "events_future");
    let mut count: HashMap<i64, f64> = HashMap::new();
    let fid = fut
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    for (i, code) in strs(&fut, "code").iter().enumerate() {
        if matches!(code.as_deref(), Some("PC_DOCTOR" | "PC_NURSE" | "PC_PHONE")) {
            *count.entry(fid.value(i)).or_default() += 1.0;
        }
    }
    let tid = truth
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let tv = truth
        .column_by_name("expected_visits")
        .unwrap()
        .as_primitive::<Float64Type>();
    let (mut sum_e, mut sum_o) = (0.0, 0.0);
    for i in 0..truth.num_rows() {
        sum_e += tv.value(i);
        sum_o += count.get(&tid.value(i)).copied().unwrap_or(0.0);
    }
    let ratio = sum_o / sum_e;
    assert!(
        (0.9..=1.05).contains(&ratio),
        "observed / expected future visits {ratio}"
    );
}

#[test]
fn string_ids_valid() {
    let (dir, _) = generate_into(600, true, false);
    expect_schema(dir.path(), DataType::Utf8);
    check_valid(dir.path());
    let pats = read(dir.path(), "patients");
    assert_eq!(strs(&pats, "patient_id")[0].as_deref(), Some("P0000001"));
}

/// Every code and unit a run emits is documented in CODES.md.
#[test]
fn emitted_codes_are_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data-synth/CODES.md"))
            .unwrap();
    let documented: HashSet<&str> = doc.split('`').skip(1).step_by(2).collect();
    let (dir, _) = generate_into(2000, false, false);
    let mut missing = BTreeSet::new();
    for name in ["events", "events_future"] {
        let ev = read(dir.path(), name);
        let kind = strs(&ev, "kind");
        let system = strs(&ev, "system");
        let code = strs(&ev, "code");
        let unit = strs(&ev, "unit");
        for i in 0..ev.num_rows() {
            let sys = system[i].as_deref().unwrap();
            let c = code[i].as_deref().unwrap();
            if !documented.contains(c) {
                missing.insert(format!("{} {sys} {c:?}", kind[i].as_deref().unwrap()));
            }
            if sys != "icd10" && !documented.contains(sys) {
                missing.insert(format!("system {sys}"));
            }
            if let Some(u) = unit[i].as_deref()
                && !documented.contains(u)
            {
                missing.insert(format!("unit {u:?}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in CODES.md: {missing:?}");
}

#[test]
fn messy_adds_unusable_rows() {
    let (dir, _) = generate_into(1500, false, true);
    let pats = read(dir.path(), "patients");
    let n = pats.num_rows() as i64;
    let ev = read(dir.path(), "events");
    let kinds = [
        "diagnosis",
        "measurement",
        "medication",
        "visit",
        "procedure",
        "immunization",
    ];
    let unknown = strs(&ev, "kind")
        .iter()
        .filter(|k| !kinds.contains(&k.as_deref().unwrap()))
        .count();
    let null_code = ev.column_by_name("code").unwrap().null_count();
    let future = dates(&ev, "date")
        .iter()
        .filter(|d| d.unwrap() > AS_OF)
        .count();
    let orphans = ev
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .filter(|&&p| p > n)
        .count();
    let cons = read(dir.path(), "consents");
    let null_granted = cons.column_by_name("granted").unwrap().null_count();
    assert!(
        unknown > 0 && null_code > 0 && future > 0 && orphans > 0 && null_granted > 0,
        "unknown {unknown}, null code {null_code}, future {future}, orphans {orphans}, null granted {null_granted}"
    );
}
