//! `caregap import fhir` end to end: hand-written files covering every rule
//! (golden tables and report), --strict, a malformed line in a large file,
//! pseudonymisation, and the round trip synth → FHIR NDJSON → import → score
//! against scoring the Parquet directly.
//!
//! Golden files are in tests/golden/import/; `UPDATE_GOLDEN=1` rewrites them.

mod data_util;
mod import_util;

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use import_util::{caregap, report, run, score, scores_identically};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import_fixtures")
}

/// A copy of the hand-written FHIR files with Condition.ndjson gzipped.
fn fixture_copy(dir: &Path) -> PathBuf {
    let to = dir.join("export");
    fs::create_dir_all(&to).unwrap();
    for e in fs::read_dir(fixtures().join("fhir")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(&p).unwrap();
        if name == "Condition.ndjson" {
            let f = fs::File::create(to.join("Condition.ndjson.gz")).unwrap();
            let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
            gz.write_all(&bytes).unwrap();
            gz.finish().unwrap();
        } else {
            fs::write(to.join(name), bytes).unwrap();
        }
    }
    to
}

/// Every row of a table as text, one line per row.
fn dump(batch: &RecordBatch) -> String {
    let opts = FormatOptions::default().with_null("null");
    let fmts: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
        .collect();
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let mut s = names.join(" | ");
    s.push('\n');
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = fmts.iter().map(|f| f.value(row).to_string()).collect();
        s.push_str(&cells.join(" | "));
        s.push('\n');
    }
    s
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/import")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        expected,
        actual,
        "{} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change)",
        path.display()
    );
}

#[test]
fn hand_written_files_follow_every_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let export = fixture_copy(tmp.path());
    let out = tmp.path().join("data");
    let o = run(caregap()
        .args(["import", "fhir"])
        .arg(&export)
        .arg("--mapping")
        .arg(fixtures().join("lab-mapping.toml"))
        .arg("--out")
        .arg(&out));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("http://example.org/unknown-codes"),
        "{stdout}"
    );
    let mut tables = String::new();
    for t in ["patients", "events", "consents"] {
        let b = data_util::read_parquet(&out.join(format!("{t}.parquet")));
        let _ = writeln!(tables, "## {t}\n{}", dump(&b));
    }
    golden("fhir_tables.txt", &tables);
    let r = report(&out);
    let mut counts = serde_json::to_string_pretty(&serde_json::json!({
        "resources": r["resources"],
        "date_precision": r["date_precision"],
        "unmapped_systems": r["unmapped_systems"],
        "codings_by_system": r["codings_by_system"],
        "events_by_kind": r["events_by_kind"],
        "rows": r["rows"],
        "patients_without_clinic": r["patients_without_clinic"],
    }))
    .unwrap();
    counts.push('\n');
    golden("fhir_report.json", &counts);
    // Every resource counted once: read = used + rejected, per type.
    for (ty, t) in r["resources"].as_object().unwrap() {
        let rejected: u64 = t["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            t["read"].as_u64().unwrap(),
            t["used"].as_u64().unwrap() + rejected,
            "{ty}"
        );
    }
    // The loader reads the folder, and the outreach log beside it survives a re-import.
    fs::write(out.join("outreach.parquet"), b"not touched").unwrap();
    run(caregap()
        .args(["import", "fhir"])
        .arg(&export)
        .arg("--out")
        .arg(&out));
    assert_eq!(
        fs::read(out.join("outreach.parquet")).unwrap(),
        b"not touched"
    );
    let leftovers: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn strict_makes_a_rejection_an_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let export = fixture_copy(tmp.path());
    let out = tmp.path().join("data");
    let o = caregap()
        .args(["import", "fhir", "--strict"])
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--strict"), "{err}");
    assert!(err.contains("Condition.ndjson.gz:"), "{err}");
    assert!(!out.join("patients.parquet").exists());
    // Resource types the import does not read are not an error.
    let clean = tmp.path().join("clean");
    fs::create_dir(&clean).unwrap();
    for f in ["Organization.ndjson", "Medication.ndjson"] {
        fs::copy(export.join(f), clean.join(f)).unwrap();
    }
    fs::write(
        clean.join("Patient.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"birthDate\":\"1970-01-01\"}\n",
    )
    .unwrap();
    run(caregap()
        .args(["import", "fhir", "--strict"])
        .arg(&clean)
        .arg("--out")
        .arg(&out));
    assert_eq!(report(&out)["rows"]["patients"], 1);
}

#[test]
fn a_malformed_line_in_a_large_file_is_counted_and_the_rest_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join("Patient.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"birthDate\":\"1970-01-01\"}\n",
    )
    .unwrap();
    // About 9 MB: several read blocks, so line numbers cross block edges.
    let n = 40_000;
    let bad = 31_337;
    let mut text = String::new();
    for i in 1..=n {
        if i == bad {
            text.push_str("{\"resourceType\":\"Observation\",\"status\":\"final\",,}\n");
            continue;
        }
        let _ = writeln!(
            text,
            "{{\"resourceType\":\"Observation\",\"id\":\"o{i}\",\"status\":\"final\",\"subject\":{{\"reference\":\"Patient/a\"}},\"effectiveDateTime\":\"2024-01-01T08:00:00+02:00\",\"code\":{{\"coding\":[{{\"system\":\"http://loinc.org\",\"code\":\"8480-6\",\"display\":\"Systolic blood pressure, padded to make the file larger than one block\"}}]}},\"valueQuantity\":{{\"value\":{},\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}}}}",
            100 + i % 60
        );
    }
    assert!(text.len() > 8 << 20);
    fs::write(dir.join("Observation.ndjson"), &text).unwrap();
    let out = tmp.path().join("data");
    run(caregap()
        .args(["import", "fhir"])
        .arg(&dir)
        .arg("--out")
        .arg(&out));
    let r = report(&out);
    let obs = &r["resources"]["Observation"];
    assert_eq!(obs["read"], n);
    assert_eq!(obs["used"], n - 1);
    let malformed = &obs["rejected"]["malformed JSON"];
    assert_eq!(malformed["count"], 1);
    let example = malformed["examples"][0].as_str().unwrap();
    assert!(
        example.starts_with(&format!("Observation.ndjson:{bad} ")),
        "{example}"
    );
    assert_eq!(r["rows"]["events"], n - 1);
    let err = caregap()
        .args(["import", "fhir", "--strict"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("strict"))
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains(&format!("Observation.ndjson:{bad}")),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
}

#[test]
fn pseudonyms_are_keyed_stable_and_never_reveal_ids_or_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    fs::create_dir(&dir).unwrap();
    let mut text = String::new();
    let mut obs = String::new();
    for i in 0..50 {
        let _ = writeln!(
            text,
            "{{\"resourceType\":\"Patient\",\"id\":\"hetu-010170-9{i:02}X\",\"birthDate\":\"1970-01-01\",\"gender\":\"female\"}}"
        );
        let _ = writeln!(
            obs,
            "{{\"resourceType\":\"Observation\",\"status\":\"final\",\"subject\":{{\"reference\":\"Patient/hetu-010170-9{i:02}X\"}},\"effectiveDateTime\":\"2024-01-01\",\"code\":{{\"coding\":[{{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}}]}},\"valueQuantity\":{{\"value\":120}}}}"
        );
    }
    fs::write(dir.join("Patient.ndjson"), text).unwrap();
    fs::write(dir.join("Observation.ndjson"), obs).unwrap();
    let keys = tmp.path().join("keys");
    fs::create_dir(&keys).unwrap();
    let key = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    fs::write(keys.join("k1"), format!("{key}\n")).unwrap();
    fs::write(keys.join("k2"), "another key, long enough to be accepted\n").unwrap();
    let import = |keyfile: &str, out: &str, extra: &[&str]| {
        let mut c = caregap();
        c.args(["import", "fhir"])
            .arg(&dir)
            .arg("--pseudonymise")
            .arg(keys.join(keyfile))
            .arg("--out")
            .arg(tmp.path().join(out))
            .args(extra);
        c.output().unwrap()
    };
    let ids = |out: &str| -> Vec<String> {
        let b = data_util::read_parquet(&tmp.path().join(out).join("patients.parquet"));
        dump(&b)
            .lines()
            .skip(1)
            .map(|l| l.split(" | ").next().unwrap().to_string())
            .collect()
    };
    let reid = keys.join("reid.csv");
    assert!(
        import("k1", "a", &["--reidentification", reid.to_str().unwrap()])
            .status
            .success()
    );
    assert!(import("k1", "b", &[]).status.success());
    assert!(import("k2", "c", &[]).status.success());
    let (a, b, c) = (ids("a"), ids("b"), ids("c"));
    assert_eq!(a.len(), 50);
    assert_eq!(a, b, "same key, same pseudonyms");
    assert!(
        a.iter()
            .all(|p| p.len() == 32 && p.chars().all(|c| c.is_ascii_hexdigit()))
    );
    assert!(
        a.iter().all(|p| !c.contains(p)),
        "another key, other pseudonyms"
    );
    // Nothing in the data folder holds an original id or the key.
    for e in fs::read_dir(tmp.path().join("a")).unwrap() {
        let bytes = fs::read(e.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hetu-"), "an original id leaked");
        assert!(!text.contains(key), "the key leaked");
    }
    // The events join the pseudonymised patients.
    let r = report(&tmp.path().join("a"));
    assert_eq!(r["rows"]["events"], 50);
    assert_eq!(r["pseudonymised"], true);
    assert_eq!(
        report(&tmp.path().join("a"))["key_fingerprint"],
        report(&tmp.path().join("b"))["key_fingerprint"]
    );
    // The re-identification file maps each pseudonym back, and cannot go into the data folder.
    let csv = fs::read_to_string(&reid).unwrap();
    assert_eq!(csv.lines().count(), 51);
    assert!(csv.contains(&format!("{},hetu-010170-9", a[0])), "{csv}");
    let inside = tmp.path().join("a").join("reid.csv");
    let o = import("k1", "a", &["--reidentification", inside.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("inside the data folder"));
    // A short key is refused with what to do.
    fs::write(keys.join("short"), "abc").unwrap();
    let o = import("short", "d", &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("openssl rand"));
}

/// People in the round trip (the 20,000; `CAREGAP_IMPORT_ROUNDTRIP_PEOPLE` overrides).
fn round_trip_people() -> u64 {
    std::env::var("CAREGAP_IMPORT_ROUNDTRIP_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn round_trip_through_fhir_ndjson_scores_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let people = round_trip_people().to_string();
    let synth = |format: &str, out: &str| {
        run(caregap()
            .args([
                "synth",
                "--patients",
                &people,
                "--seed",
                "7",
                "--as-of",
                "2025-06-30",
            ])
            .args(["--string-ids", "--format", format, "--out"])
            .arg(t.join(out)));
    };
    synth("parquet", "pq");
    synth("fhir-ndjson", "fhir");
    run(caregap()
        .args(["import", "fhir"])
        .arg(t.join("fhir"))
        .arg("--out")
        .arg(t.join("imported")));
    let r = report(&t.join("imported"));
    for (ty, c) in r["resources"].as_object().unwrap() {
        if ty != "Organization" {
            assert_eq!(c["read"], c["used"], "{ty}: {c}");
        }
    }
    fs::write(
        t.join("key"),
        "round-trip key: 0123456789abcdef0123456789\n",
    )
    .unwrap();
    run(caregap()
        .args(["import", "fhir"])
        .arg(t.join("fhir"))
        .arg("--pseudonymise")
        .arg(t.join("key"))
        .arg("--out")
        .arg(t.join("pseudo")));
    scores_identically(t, "pq", "imported");
    score(t, "pseudo");
    // Pseudonyms change the ids, not one count.
    let a = fs::read(t.join("score-pq/criteria_summary.parquet")).unwrap();
    let b = fs::read(t.join("score-pseudo/criteria_summary.parquet")).unwrap();
    assert!(a == b, "criteria_summary differs after pseudonymisation");
}

#[test]
fn round_trip_through_fhir_bundles_scores_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (format, out) in [("parquet", "pq"), ("fhir-bundle", "bundles")] {
        run(caregap()
            .args([
                "synth",
                "--patients",
                "3000",
                "--seed",
                "5",
                "--as-of",
                "2025-06-30",
            ])
            .args(["--string-ids", "--format", format, "--out"])
            .arg(t.join(out)));
    }
    run(caregap()
        .args(["import", "fhir"])
        .arg(t.join("bundles"))
        .arg("--out")
        .arg(t.join("imported")));
    scores_identically(t, "pq", "imported");
}
