//! Re-identification: showing a scheduler the original identifier behind a
//! pseudonym (issue 18's "pseudonymisation at the door").
//!
//! `caregap import --pseudonymise KEY --reidentification FILE` writes the
//! pairs `patient_id,original_id` to a file kept apart from the data folder.
//! The service reads that file only when it is given one
//! (`caregap serve --reidentification FILE`), and shows an original
//! identifier only:
//! - to a scheduler of the person's clinic (the same access as the person
//!   page: [`super::auth::PersonAccess`]), never to an analyst or an admin;
//! - on an explicit request (`POST`, with the CSRF token), never in a list, a
//!   person page or an export;
//! - after the audit row `reveal` (who, whose, from where) is committed: a
//!   reveal that cannot be audited is not made.
//!
//! The file is read again when it changes (size or modification time), so a
//! nightly import that adds people needs no restart.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The header [`crate::import::write::write_reidentification`] writes.
const HEADER: [&str; 2] = ["patient_id", "original_id"];

/// What identifies one version of the file.
type Version = (u64, Option<SystemTime>);

/// The re-identification file given to the service.
#[derive(Debug)]
pub struct Reidentification {
    path: PathBuf,
    loaded: Mutex<(Version, Arc<HashMap<String, String>>)>,
}

impl Reidentification {
    /// Reads the file (refused when it cannot be read or is not one).
    pub fn open(path: &Path) -> Result<Reidentification, String> {
        let version = version(path)?;
        let pairs = read(path)?;
        Ok(Reidentification {
            path: path.to_path_buf(),
            loaded: Mutex::new((version, Arc::new(pairs))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The original identifier of a pseudonym, from the file as it is now.
    pub fn original(&self, pseudonym: &str) -> Result<Option<String>, String> {
        Ok(self.current()?.get(pseudonym).cloned())
    }

    /// The pairs, read again first if the file changed since.
    fn current(&self) -> Result<Arc<HashMap<String, String>>, String> {
        let now = version(&self.path)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.0 != now {
            *loaded = (now, Arc::new(read(&self.path)?));
        }
        Ok(loaded.1.clone())
    }
}

fn version(path: &Path) -> Result<Version, String> {
    let m = std::fs::metadata(path).map_err(|e| {
        format!(
            "cannot read the re-identification file {}: {e}",
            path.display()
        )
    })?;
    Ok((m.len(), m.modified().ok()))
}

/// Reads `patient_id,original_id` rows (CSV with that header; quoted fields
/// as RFC 4180). A pseudonym given twice with two different originals is
/// refused: which one is the person cannot be told.
pub fn read(path: &Path) -> Result<HashMap<String, String>, String> {
    let what = || format!("the re-identification file {}", path.display());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", what()))?;
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let header: Vec<&str> = first.trim_end_matches('\r').split(',').collect();
    if header != HEADER {
        return Err(format!(
            "{} starts with {:?}: expected the header `patient_id,original_id` \
             (the file `caregap import --reidentification` writes)",
            what(),
            first.trim_end()
        ));
    }
    let schema = Arc::new(Schema::new(
        HEADER.map(|h| Field::new(h, DataType::Utf8, true)).to_vec(),
    ));
    let reader = arrow::csv::ReaderBuilder::new(schema)
        .with_header(true)
        .build(std::io::Cursor::new(bytes))
        .map_err(|e| format!("cannot read {}: {e}", what()))?;
    let mut pairs = HashMap::new();
    // Rows after the header (a quoted field may hold a line break, so rows
    // are not lines).
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| format!("{} after row {row}: {e}", what()))?;
        let (ids, originals) = (
            batch.column(0).as_string::<i32>(),
            batch.column(1).as_string::<i32>(),
        );
        for i in 0..batch.num_rows() {
            row += 1;
            if ids.is_null(i) || originals.is_null(i) {
                return Err(format!("{}, row {row}: an empty field", what()));
            }
            let (id, original) = (ids.value(i), originals.value(i));
            if let Some(old) = pairs.insert(id.to_string(), original.to_string())
                && old != original
            {
                return Err(format!(
                    "{}, row {row}: pseudonym {id} is given two original identifiers; \
                     write the file again from one import",
                    what()
                ));
            }
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_import_writes_quotes_and_all() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reid.csv");
        let pairs = vec![
            ("a1".to_string(), "010150-123A".to_string()),
            ("b2".to_string(), "urn:oid:1.2.246,\"x\"".to_string()),
            ("c3".to_string(), "line\nbreak".to_string()),
        ];
        crate::import::write::write_reidentification(&p, &pairs).unwrap();
        let r = Reidentification::open(&p).unwrap();
        for (id, original) in &pairs {
            assert_eq!(r.original(id).unwrap().as_deref(), Some(original.as_str()));
        }
        assert_eq!(r.original("zz").unwrap(), None);
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reid.csv");
        let write = |pairs: &[(&str, &str)]| {
            let v: Vec<_> = pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            crate::import::write::write_reidentification(&p, &v).unwrap();
        };
        write(&[("a1", "X")]);
        let r = Reidentification::open(&p).unwrap();
        assert_eq!(r.original("b2").unwrap(), None);
        write(&[("a1", "X"), ("b2", "Y")]);
        assert_eq!(r.original("b2").unwrap().as_deref(), Some("Y"));
        std::fs::remove_file(&p).unwrap();
        let e = r.original("a1").unwrap_err();
        assert!(e.contains("cannot read the re-identification file"), "{e}");
    }

    #[test]
    fn a_wrong_header_or_a_contradiction_is_refused_with_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "id,original\n1,2\n").unwrap();
        let e = Reidentification::open(&p).unwrap_err();
        assert!(
            e.contains("expected the header `patient_id,original_id`"),
            "{e}"
        );
        std::fs::write(&p, "patient_id,original_id\na,1\nb,2\na,3\n").unwrap();
        let e = Reidentification::open(&p).unwrap_err();
        assert!(e.contains("row 3: pseudonym a is given two"), "{e}");
        std::fs::write(&p, "patient_id,original_id\na,1\na,1\n").unwrap();
        assert!(
            Reidentification::open(&p).is_ok(),
            "a repeated identical pair is fine"
        );
    }
}
