//! The in-memory columnar population: what the loader builds and the engine scans.
//!
//! Layout (struct of arrays):
//! - patients are dense indices `0..n`; every per-patient column has length `n`;
//! - events are flat columns grouped by patient: the events of patient `p` are
//!   `events.offsets[p]..events.offsets[p + 1]`, sorted by date ascending;
//! - every event code is dictionary-encoded once into [`CodeTable`] as the triple
//!   (kind, upper-cased system, normalised code), so value-set membership is
//!   resolved per distinct code, never per event.

/// A calendar day as days since 1970-01-01 (Arrow `Date32`).
pub type Day = i32;

/// The six event kinds of the data model, compared exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EventKind {
    Diagnosis = 0,
    Measurement = 1,
    Medication = 2,
    Visit = 3,
    Procedure = 4,
    Immunization = 5,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Diagnosis,
        EventKind::Measurement,
        EventKind::Medication,
        EventKind::Visit,
        EventKind::Procedure,
        EventKind::Immunization,
    ];

    /// Parses the `kind` column value; exact match only (`Diagnosis` is unknown).
    pub fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "diagnosis" => EventKind::Diagnosis,
            "measurement" => EventKind::Measurement,
            "medication" => EventKind::Medication,
            "visit" => EventKind::Visit,
            "procedure" => EventKind::Procedure,
            "immunization" => EventKind::Immunization,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Diagnosis => "diagnosis",
            EventKind::Measurement => "measurement",
            EventKind::Medication => "medication",
            EventKind::Visit => "visit",
            EventKind::Procedure => "procedure",
            EventKind::Immunization => "immunization",
        }
    }
}

/// Pseudonymous patient identifiers, in the type the `patients` table used.
#[derive(Debug, Clone, PartialEq)]
pub enum PatientIds {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl PatientIds {
    pub fn len(&self) -> usize {
        match self {
            PatientIds::Int(v) => v.len(),
            PatientIds::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of patient `p` rendered as text (for messages and CSV output).
    pub fn display(&self, p: usize) -> String {
        match self {
            PatientIds::Int(v) => v[p].to_string(),
            PatientIds::Str(v) => v[p].clone(),
        }
    }
}

/// A small dictionary of strings: `values[codes[i]]` is row `i`'s value.
/// Used for low-cardinality text columns (sex, clinic, language, municipality).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DictColumn {
    /// Per-row index into `values`; `None` is a null.
    pub codes: Vec<Option<u32>>,
    /// Distinct values, in order of first appearance.
    pub values: Vec<String>,
}

impl DictColumn {
    pub fn get(&self, row: usize) -> Option<&str> {
        self.codes[row].map(|c| self.values[c as usize].as_str())
    }
}

/// One row per person in the `patients` table (dense index order = table order).
#[derive(Debug, Clone, PartialEq)]
pub struct Patients {
    pub ids: PatientIds,
    pub birth_date: Vec<Day>,
    /// Sex as stored (`F`, `M` or other codes); never null (required column).
    pub sex: DictColumn,
    /// Clinic as stored; never null (required column).
    pub clinic: DictColumn,
    pub death_date: Vec<Option<Day>>,
    pub municipality: DictColumn,
    pub language: DictColumn,
}

impl Patients {
    pub fn len(&self) -> usize {
        self.birth_date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Alive on `as_of`: born on or before it and not dead on or before it.
    pub fn is_alive(&self, p: usize, as_of: Day) -> bool {
        self.birth_date[p] <= as_of && self.death_date[p].is_none_or(|d| d > as_of)
    }
}

/// A distinct (kind, system, code) triple seen in the events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeEntry {
    pub kind: EventKind,
    /// The system upper-cased (systems compare case-insensitively; nothing else is done).
    pub system: String,
    /// The code normalised: upper case, every `.`, space and `-` removed.
    pub code: String,
}

/// Dictionary of the distinct codes of the population's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeTable {
    pub entries: Vec<CodeEntry>,
}

/// Flat event columns grouped by patient (see module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Events {
    /// `n_patients + 1` offsets into the event columns.
    pub offsets: Vec<u32>,
    pub date: Vec<Day>,
    /// Index into [`Population::codes`].
    pub code: Vec<u32>,
    /// The `value` column; meaningful only where `has_value` is true.
    pub value: Vec<f64>,
    pub has_value: Vec<bool>,
    /// Index into [`Population::units`]; 0 is "no unit" (null).
    pub unit: Vec<u32>,
}

impl Events {
    pub fn len(&self) -> usize {
        self.date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.date.is_empty()
    }

    /// The event index range of patient `p`.
    pub fn range(&self, p: usize) -> std::ops::Range<usize> {
        self.offsets[p] as usize..self.offsets[p + 1] as usize
    }
}

/// What the engine scans: patients, their events, and the dictionaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// The date the population was loaded for: events after it were set aside as
    /// unusable. Evaluation may use any `as_of` up to this date.
    pub as_of: Day,
    pub patients: Patients,
    pub events: Events,
    pub codes: CodeTable,
    /// Distinct raw unit strings; index 0 is the empty entry standing for null.
    pub units: Vec<String>,
}

/// Normalises a code or code pattern: upper case, with every `.`, space and `-`
/// removed wherever it stands (`e11.9`, ` E11.9 `, `E11-9` → `E119`).
/// Shared by the loader (event codes) and the language (patterns).
pub fn normalise_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '.' | ' ' | '-'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Normalises a code system for comparison: upper case, nothing else.
pub fn normalise_system(raw: &str) -> String {
    raw.to_uppercase()
}

/// The data model's well-known code-system names, which libraries and
/// importers use so that they agree (`ICD10` covers WHO ICD-10 and national
/// variants such as ICD-10-FI).
pub const WELL_KNOWN_SYSTEMS: [&str; 14] = [
    "ICD10", "ICD10CM", "ICD10PCS", "ICPC2", "ATC", "LOINC", "SNOMED", "NOMESCO", "CPT", "HCPCS",
    "RXNORM", "CVX", "VISIT", "LOCAL",
];

/// The well-known system a name that is not one was probably meant to be
/// (`ICD-10`, `icpc_2`, `SNOMED CT`, `RxNorm ` → `ICD10`, `ICPC2`, `SNOMED`,
/// `RXNORM`): the same letters and digits, or a common alias. `None` for a
/// well-known name itself (in any case) and for names that resemble none.
pub fn well_known_system_meant(raw: &str) -> Option<&'static str> {
    let upper = normalise_system(raw);
    if WELL_KNOWN_SYSTEMS.contains(&upper.as_str()) {
        return None;
    }
    let bare: String = upper.chars().filter(char::is_ascii_alphanumeric).collect();
    let bare = match bare.as_str() {
        "SNOMEDCT" | "SCT" => "SNOMED",
        "ICD10FI" | "ICD10WHO" => "ICD10",
        "ICPC" => "ICPC2",
        other => other,
    };
    WELL_KNOWN_SYSTEMS.iter().copied().find(|&w| w == bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_of_well_known_systems_are_recognised() {
        for (raw, meant) in [
            ("ICD-10", Some("ICD10")),
            ("icpc_2", Some("ICPC2")),
            ("SNOMED CT", Some("SNOMED")),
            ("ICD-10-CM", Some("ICD10CM")),
            ("ICD-10-FI", Some("ICD10")),
            ("icd10", None),
            ("RxNorm", None),
            ("KELA", None),
        ] {
            assert_eq!(well_known_system_meant(raw), meant, "{raw}");
        }
    }

    #[test]
    fn codes_normalise_as_the_spec_says() {
        for raw in ["e11.9", " E11.9 ", "E11-9", "E119"] {
            assert_eq!(normalise_code(raw), "E119", "{raw:?}");
        }
        assert_eq!(normalise_code("=8480-6"), "=84806");
        assert_eq!(normalise_system("icd10"), "ICD10");
        assert_eq!(normalise_system("ICD-10"), "ICD-10");
    }
}
