//! The import report: every resource (FHIR) or row (OMOP) read is counted as
//! used or rejected under one reason, with a few examples (`file:line`).

use std::collections::BTreeMap;

use serde::Serialize;

/// The reason resource types the import does not read (Organization,
/// Practitioner, Location...) are counted under: never an error under `--strict`.
pub const NOT_IMPORTED: &str = "resource type not imported";

/// Examples kept per reason.
pub const EXAMPLES: usize = 5;

/// Where something was read: a file of the import and a line in it (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub file: u32,
    pub line: u32,
}

/// Count and first examples of one rejection reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reason {
    pub count: u64,
    pub examples: Vec<String>,
}

/// Counts of one resource type (or OMOP table).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypeCounts {
    pub read: u64,
    pub used: u64,
    pub rejected: BTreeMap<String, Reason>,
}

impl TypeCounts {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().map(|r| r.count).sum()
    }
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
}

/// The whole report, written as `import_report.json` beside the tables.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// `fhir` or `omop`.
    pub format: String,
    pub inputs: Vec<InputFile>,
    /// Per resource type (FHIR) or table (OMOP), in name order.
    pub resources: BTreeMap<String, TypeCounts>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Events written per kind.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Dates read, by precision (see docs/import.md, "Dates").
    pub date_precision: BTreeMap<String, u64>,
    /// Codings not used because their code system is not in the mapping: URI → count.
    pub unmapped_systems: BTreeMap<String, u64>,
    /// Codings used, by system name.
    pub codings_by_system: BTreeMap<String, u64>,
    /// Patients written with `clinic_id` = `UNASSIGNED` (no organisation reference).
    pub patients_without_clinic: u64,
    /// Whether person identifiers were replaced by keyed pseudonyms.
    pub pseudonymised: bool,
    /// With `--pseudonymise`: a fingerprint of the key (not the key; see
    /// docs/import.md), equal on every import with the same key.
    pub key_fingerprint: Option<String>,
    pub strict: bool,
    pub elapsed_seconds: f64,
}

impl ImportReport {
    /// Resources (or rows) read, used and rejected in total.
    pub fn totals(&self) -> (u64, u64, u64) {
        self.resources.values().fold((0, 0, 0), |(r, u, x), t| {
            (r + t.read, u + t.used, x + t.rejected_total())
        })
    }

    /// The first rejection as a sentence (for `--strict`).
    pub fn first_rejection(&self) -> Option<String> {
        self.resources.iter().find_map(|(ty, t)| {
            t.rejected
                .iter()
                .find(|(why, _)| why.as_str() != NOT_IMPORTED)
                .map(|(why, r)| {
                    format!(
                        "{ty}: {why} ({} in all; first at {})",
                        r.count,
                        r.examples.first().map_or("?", String::as_str)
                    )
                })
        })
    }

    /// Adds another report's counts to this one (chunks merged in input order).
    pub fn merge(&mut self, other: Partial) {
        for (ty, t) in other.resources {
            let mine = self.resources.entry(ty).or_default();
            mine.read += t.read;
            mine.used += t.used;
            for (why, r) in t.rejected {
                let m = mine.rejected.entry(why).or_default();
                m.count += r.count;
                for e in r.examples {
                    if m.examples.len() < EXAMPLES {
                        m.examples.push(e);
                    }
                }
            }
        }
        for (k, n) in other.date_precision {
            *self.date_precision.entry(k.to_string()).or_default() += n;
        }
        for (k, n) in other.unmapped_systems {
            *self.unmapped_systems.entry(k).or_default() += n;
        }
        for (k, n) in other.codings_by_system {
            *self.codings_by_system.entry(k).or_default() += n;
        }
    }

    /// Text for the terminal.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let (read, used, rejected) = self.totals();
        let what = if self.format == "omop" {
            "rows"
        } else {
            "resources"
        };
        let _ = writeln!(
            s,
            "{read} {what} read: {used} used, {rejected} rejected ({:.1} s)",
            self.elapsed_seconds
        );
        for (ty, t) in &self.resources {
            let _ = writeln!(
                s,
                "  {ty:<22} {:>10} read {:>10} used {:>8} rejected",
                t.read,
                t.used,
                t.rejected_total()
            );
            for (why, r) in &t.rejected {
                let _ = writeln!(
                    s,
                    "      {:>8}  {why}  e.g. {}",
                    r.count,
                    r.examples.join(", ")
                );
            }
        }
        let rows: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        let _ = writeln!(s, "rows written: {}", rows.join(", "));
        if !self.unmapped_systems.is_empty() {
            let _ = writeln!(
                s,
                "codings in unmapped code systems (add them to a --mapping file to use them):"
            );
            let mut v: Vec<_> = self.unmapped_systems.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (uri, n) in v.iter().take(10) {
                let _ = writeln!(s, "  {n:>10}  {uri}");
            }
        }
        if self.patients_without_clinic > 0 {
            let _ = writeln!(
                s,
                "{} patients have no organisation reference: clinic_id = UNASSIGNED",
                self.patients_without_clinic
            );
        }
        s
    }
}

/// A chunk's share of the report, merged into the [`ImportReport`] in order.
#[derive(Debug, Default)]
pub struct Partial {
    pub resources: BTreeMap<String, TypeCounts>,
    pub date_precision: BTreeMap<&'static str, u64>,
    pub unmapped_systems: BTreeMap<String, u64>,
    pub codings_by_system: BTreeMap<String, u64>,
}

impl Partial {
    pub fn read(&mut self, ty: &str) {
        self.entry(ty).read += 1;
    }

    pub fn used(&mut self, ty: &str) {
        self.entry(ty).used += 1;
    }

    /// Counts a rejection; `example` is built only while examples are wanted.
    pub fn reject(&mut self, ty: &str, why: &str, example: impl FnOnce() -> String) {
        let r = self.entry(ty).rejected.entry(why.to_string()).or_default();
        r.count += 1;
        if r.examples.len() < EXAMPLES {
            r.examples.push(example());
        }
    }

    fn entry(&mut self, ty: &str) -> &mut TypeCounts {
        if !self.resources.contains_key(ty) {
            self.resources.insert(ty.to_string(), TypeCounts::default());
        }
        self.resources.get_mut(ty).expect("inserted above")
    }
}
