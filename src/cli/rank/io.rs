//! File IO shared by `rank`, `calllist`, `outreach` and `report`: Parquet
//! tables (a `name.parquet` file or a `name/` folder of parts), atomic writes,
//! the run description and the audit log. The data tables are read through
//! `caregap::data::load`; only the outreach writer reads raw batches here.

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use caregap::data::Day;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Reads one Parquet file into a single batch.
pub fn read_parquet(path: &Path) -> Result<RecordBatch> {
    Ok(caregap::runs::table::read(path, None)?)
}

/// Where a table lives in a data folder: `dir/name.parquet` or `dir/name/*.parquet`.
pub fn table_location(dir: &Path, name: &str) -> Option<PathBuf> {
    let file = dir.join(format!("{name}.parquet"));
    let folder = dir.join(name);
    if file.is_file() {
        Some(file)
    } else if folder.is_dir() {
        Some(folder)
    } else {
        None
    }
}

/// Reads a table (file or folder of parts, parts in name order); `None` when absent.
pub fn read_table(dir: &Path, name: &str) -> Result<Option<(PathBuf, RecordBatch)>> {
    let Some(loc) = table_location(dir, name) else {
        return Ok(None);
    };
    if loc.is_file() {
        return Ok(Some((loc.clone(), read_parquet(&loc)?)));
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&loc)
        .with_context(|| format!("listing {}", loc.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    parts.sort();
    let batches = parts
        .iter()
        .map(|p| read_parquet(p))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = batches.first() else {
        bail!("{} holds no .parquet parts", loc.display());
    };
    let schema: SchemaRef = first.schema();
    let joined = concat_batches(&schema, &batches)
        .with_context(|| format!("the parts of {} do not share one schema", loc.display()))?;
    Ok(Some((loc, joined)))
}

pub use caregap::rank::columns::{IdIndex, counts, days, opt_strings, patient_ids, strings};

/// Writes `bytes` as `path` atomically and durably (`output::write_file_atomic`:
/// a synced temporary file beside it, renamed; removed on error).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(caregap::output::write_file_atomic(path, bytes)?)
}

pub fn parquet_bytes(batch: &RecordBatch) -> Result<Vec<u8>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}

pub fn write_parquet_atomic(path: &Path, batch: &RecordBatch) -> Result<()> {
    write_atomic(path, &parquet_bytes(batch)?)
}

/// What `caregap score` recorded about its run (`OUTDIR/run.json`).
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub as_of: Day,
    pub as_of_text: String,
    pub data: PathBuf,
    pub library: Option<PathBuf>,
    pub library_hash: Option<String>,
}

pub use caregap::data::parse_day;

impl RunInfo {
    /// Reads `run.json`; paths in it are taken relative to the run folder when relative.
    pub fn read(run: &Path) -> Result<RunInfo> {
        let path = run.join("run.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (run `caregap score` first)", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let text_of = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
                .map(str::to_string)
        };
        let path_of = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                let x = v.get(*k)?;
                x.as_str()
                    .or_else(|| x.get("path").and_then(|p| p.as_str()))
                    .map(|s| {
                        let p = PathBuf::from(s);
                        if p.is_relative() && !p.exists() {
                            run.join(p)
                        } else {
                            p
                        }
                    })
            })
        };
        let as_of_text =
            text_of(&["as_of"]).ok_or_else(|| anyhow!("{}: no `as_of`", path.display()))?;
        let as_of = parse_day(&as_of_text).ok_or_else(|| {
            anyhow!(
                "{}: `as_of` {as_of_text:?} is not a date YYYY-MM-DD",
                path.display()
            )
        })?;
        let data = path_of(&["data", "data_dir"])
            .ok_or_else(|| anyhow!("{}: no `data` folder", path.display()))?;
        let library_hash = text_of(&["library_hash"]).or_else(|| {
            v.get("library")
                .and_then(|l| l.get("hash"))
                .and_then(|h| h.as_str())
                .map(str::to_string)
        });
        Ok(RunInfo {
            as_of,
            as_of_text,
            data,
            library: path_of(&["library", "library_path", "criteria"]),
            library_hash,
        })
    }
}

/// Appends one line to `OUTDIR/audit.log`: UTC time, user, command, clinic, rows.
pub fn audit(run: &Path, command: &str, clinic: &str, rows: usize, target: &str) -> Result<()> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let line = format!(
        "{now}\tuser={user}\tcommand={command}\tclinic={clinic}\trows={rows}\tto={target}\n"
    );
    let path = run.join("audit.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    f.write_all(line.as_bytes())
        .with_context(|| format!("writing the audit log {}", path.display()))
}

#[cfg(test)]
use caregap::rank::export::csv_field;
pub use caregap::rank::export::{batch_csv, batch_json};

/// Splits CSV text into records (RFC 4180: quoted fields, doubled quotes, CRLF).
/// Returns each record with its 1-based starting line.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let (mut line, mut start_line) = (1usize, 1usize);
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].trim().is_empty()) {
                    out.push((start_line, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start_line = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        bail!("line {start_line}: a quoted field is not closed");
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((start_line, record));
    }
    Ok(out)
}

/// A clinic id made safe as a file name (anything but letters, digits, `.`, `_`, `-` becomes `_`).
pub fn clinic_file_stem(clinic: &str) -> String {
    let s: String = clinic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        let fields = ["a", "b,c", "say \"hi\"", "x\ny"];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f).into_owned()).collect();
        let text = format!("h1,h2,h3,h4\r\n{}\n\n", line.join(","));
        let recs = parse_csv(&text).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].0, 2);
        assert_eq!(recs[1].1, fields);
        assert!(parse_csv("a,\"b\n").is_err());
    }

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(parse_day("2024-02-29"), Some(19782));
        assert_eq!(parse_day("2024-02-30"), None);
    }
}
