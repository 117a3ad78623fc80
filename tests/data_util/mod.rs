//! Writing small Parquet datasets for the loader's tests and benches.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    StringBuilder,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Writes `batch` to `path` with row groups of at most `row_group_rows` rows.
pub fn write(path: &Path, batch: &RecordBatch, row_group_rows: usize) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// A batch of nullable columns.
/// The whole of one Parquet file as one batch (an empty file included).
pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .unwrap()
}

pub fn ints(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

pub fn dates(v: &[i32]) -> ArrayRef {
    Arc::new(Date32Array::from(v.to_vec()))
}

pub fn opt_dates(v: &[Option<i32>]) -> ArrayRef {
    Arc::new(Date32Array::from(v.to_vec()))
}

pub fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

pub fn opt_strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

pub fn floats(v: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

pub fn bools(v: &[Option<bool>]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

/// A patients table of `ids` (born 1960-01-01 = day -3653, clinic `C1`, sex `F`).
pub fn simple_patients(ids: &[i64]) -> RecordBatch {
    let n = ids.len();
    batch(vec![
        ("patient_id", ints(ids)),
        ("birth_date", dates(&vec![-3653; n])),
        ("sex", strs(&vec!["F"; n])),
        ("clinic_id", strs(&vec!["C1"; n])),
    ])
}

/// One event row of a test.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    pub pid: i64,
    pub date: i32,
    pub kind: String,
    pub system: String,
    pub code: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
}

pub fn ev(pid: i64, date: i32, kind: &str, system: &str, code: &str, value: Option<f64>) -> Ev {
    Ev {
        pid,
        date,
        kind: kind.into(),
        system: system.into(),
        code: code.into(),
        value,
        unit: None,
    }
}

pub fn events_batch(rows: &[Ev]) -> RecordBatch {
    let s = |f: fn(&Ev) -> &str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    batch(vec![
        (
            "patient_id",
            ints(&rows.iter().map(|e| e.pid).collect::<Vec<_>>()),
        ),
        (
            "date",
            dates(&rows.iter().map(|e| e.date).collect::<Vec<_>>()),
        ),
        ("kind", s(|e| &e.kind)),
        ("system", s(|e| &e.system)),
        ("code", s(|e| &e.code)),
        (
            "value",
            floats(&rows.iter().map(|e| e.value).collect::<Vec<_>>()),
        ),
        (
            "unit",
            Arc::new(StringArray::from(
                rows.iter().map(|e| e.unit.as_deref()).collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// A tiny deterministic generator (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CODES: &[(&str, &str, &str)] = &[
    ("diagnosis", "ICD10", "I10"),
    ("diagnosis", "icd10", "e11.9"),
    ("diagnosis", "ICPC2", "T90"),
    ("measurement", "LOINC", "4548-4"),
    ("measurement", "LOINC", "8480-6"),
    ("medication", "ATC", "C09AA02"),
    ("medication", "ATC", "A10BA02"),
    ("visit", "VISIT", "GP"),
    ("visit", "VISIT", "NURSE"),
    ("procedure", "NOMESCO", "TFX00"),
    ("immunization", "ATC", "J07BB"),
];

/// Writes a generated dataset of `n` patients with about `per_patient` events
/// each into `dir`: `patients.parquet` and a folder `events/` of `parts` files
/// (events sorted by patient and date, as synth writes them). Streams part by
/// part, so it scales to large populations.
pub fn write_generated(dir: &Path, n: usize, per_patient: usize, parts: usize, seed: u64) {
    let mut rng = Rng(seed);
    let ids: Vec<i64> = (0..n as i64).map(|i| 1_000_000 + i * 7).collect();
    let clinics = ["C01", "C02", "C03", "C04", "C05"];
    let patients = batch(vec![
        ("patient_id", ints(&ids)),
        (
            "birth_date",
            dates(
                &ids.iter()
                    .map(|_| -20_000 + rng.below(30_000) as i32)
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "sex",
            strs(
                &ids.iter()
                    .map(|_| if rng.below(2) == 0 { "F" } else { "M" })
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "clinic_id",
            strs(
                &ids.iter()
                    .map(|_| clinics[rng.below(5) as usize])
                    .collect::<Vec<_>>(),
            ),
        ),
    ]);
    write(&dir.join("patients.parquet"), &patients, 1 << 20);
    let per_part = n.div_ceil(parts.max(1)).max(1);
    for (part, ids) in ids.chunks(per_part).enumerate() {
        let mut pid = Vec::new();
        let mut date = Vec::new();
        let (mut kind, mut system, mut code) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let mut value = Vec::new();
        let mut unit = StringBuilder::new();
        let mut days = Vec::new();
        for &p in ids {
            let k = rng.below(2 * per_patient as u64 + 1) as usize;
            days.clear();
            days.extend((0..k).map(|_| 18_000 + rng.below(2_400) as i32));
            days.sort();
            for &d in &days {
                let (kd, sy, co) = CODES[rng.below(CODES.len() as u64) as usize];
                pid.push(p);
                date.push(d);
                kind.append_value(kd);
                system.append_value(sy);
                code.append_value(co);
                value.push(match kd {
                    "measurement" => Some(rng.below(2000) as f64 / 10.0),
                    "medication" => Some(90.0),
                    _ => None,
                });
                if kd == "measurement" {
                    unit.append_value("mmol/mol");
                } else {
                    unit.append_null();
                }
            }
        }
        let events = batch(vec![
            ("patient_id", ints(&pid)),
            ("date", dates(&date)),
            ("kind", Arc::new(kind.finish())),
            ("system", Arc::new(system.finish())),
            ("code", Arc::new(code.finish())),
            ("value", floats(&value)),
            ("unit", Arc::new(unit.finish())),
        ]);
        write(
            &dir.join("events").join(format!("part-{part:03}.parquet")),
            &events,
            512 * 1024,
        );
    }
}
