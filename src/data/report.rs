//! What a load read and what it set aside: per-table files and row counts,
//! and every unusable row counted by reason with the first few examples.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// How many examples are kept per (table, reason).
pub const MAX_EXAMPLES: usize = 5;

/// The tables of the data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Patients,
    Events,
    Consents,
    Outreach,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Patients => "patients",
            Table::Events => "events",
            Table::Consents => "consents",
            Table::Outreach => "outreach",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a row is unusable. Each rejected row is counted once, under the first
/// reason that applies in the order of this enum.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// A required column is null in this row.
    NullRequired { column: &'static str },
    /// `events.kind` is not one of the six kinds (compared exactly).
    UnknownKind,
    /// `consents.scope` is not `outreach` or `research` (compared exactly).
    UnknownScope,
    /// `consents.granted` is null.
    NullGranted,
    /// `outreach.outcome` is not `booked`, `declined`, `no_answer` or `not_reachable`.
    UnknownOutcome,
    /// The row's patient_id is not in the `patients` table.
    OrphanPatient,
    /// The row's patient is in `patients` but that row was itself unusable.
    RejectedPatient,
    /// A medication whose `value` (days of supply) is negative.
    NegativeSupply,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NullRequired { column } => write!(f, "required column `{column}` is null"),
            Reason::UnknownKind => f.write_str("unknown event kind"),
            Reason::UnknownScope => f.write_str("unknown consent scope"),
            Reason::NullGranted => f.write_str("consent `granted` is null"),
            Reason::UnknownOutcome => f.write_str("unknown outreach outcome"),
            Reason::OrphanPatient => f.write_str("patient_id not in the patients table"),
            Reason::RejectedPatient => f.write_str("the patient's own row is unusable"),
            Reason::NegativeSupply => f.write_str("medication with a negative supply"),
        }
    }
}

/// One rejected row, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectExample {
    pub file: String,
    /// 1-based row number within the file (row 1 is the file's first row).
    pub row: u64,
    /// The offending value as text (`null` for a null).
    pub value: String,
}

/// The rows of one table rejected for one reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub table: Table,
    pub reason: Reason,
    pub count: u64,
    /// The first [`MAX_EXAMPLES`] rows, in file order then row order.
    pub examples: Vec<RejectExample>,
}

/// One Parquet file of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRows {
    pub path: String,
    pub rows: u64,
}

/// What was read of one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    pub table: Table,
    /// The files read, in reading order (parts in name order; extra event files last).
    pub files: Vec<FileRows>,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    /// Usable events dated after `as_of`: they do not exist for the run but
    /// are not unusable rows either, so they are counted apart and `--strict`
    /// does not refuse them. Always 0 for the other tables.
    pub rows_after_as_of: u64,
}

/// The load's account of every row: `rows_read = rows_used + rows_rejected +
/// rows_after_as_of` for each table. Serialisable for run records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// The `as_of` the data was loaded for, ISO 8601.
    pub as_of: String,
    /// The tables present, in the order patients, events, consents, outreach.
    pub tables: Vec<TableReport>,
    /// Rejected rows by table then reason.
    pub rejected: Vec<Rejection>,
}

impl LoadReport {
    pub fn table(&self, table: Table) -> Option<&TableReport> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// The number of rows of `table` rejected for `reason`.
    pub fn count(&self, table: Table, reason: &Reason) -> u64 {
        self.rejected
            .iter()
            .filter(|r| r.table == table && &r.reason == reason)
            .map(|r| r.count)
            .sum()
    }

    pub fn total_rejected(&self) -> u64 {
        self.rejected.iter().map(|r| r.count).sum()
    }
}

/// Rejections gathered while reading one unit of work (a row group);
/// merged in reading order so counts and examples do not depend on threads.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    by_reason: BTreeMap<Reason, (u64, Vec<RawExample>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawExample {
    /// Index of the file in the table's file list.
    pub file: usize,
    /// 1-based row within the file.
    pub row: u64,
    pub value: String,
}

impl Tally {
    /// Counts one rejected row; `value` is only rendered for kept examples.
    pub fn add(&mut self, reason: Reason, file: usize, row: u64, value: impl FnOnce() -> String) {
        let entry = self.by_reason.entry(reason).or_default();
        entry.0 += 1;
        if entry.1.len() < MAX_EXAMPLES {
            entry.1.push(RawExample {
                file,
                row,
                value: value(),
            });
        }
    }

    pub fn total(&self) -> u64 {
        self.by_reason.values().map(|(n, _)| n).sum()
    }

    /// Appends `other` (read after `self`).
    pub fn merge(&mut self, other: Tally) {
        for (reason, (count, examples)) in other.by_reason {
            let entry = self.by_reason.entry(reason).or_default();
            entry.0 += count;
            let room = MAX_EXAMPLES.saturating_sub(entry.1.len());
            entry.1.extend(examples.into_iter().take(room));
        }
    }

    /// The earliest rejected row (by file, then row) and its reason.
    pub fn first(&self) -> Option<(&Reason, &RawExample)> {
        self.by_reason
            .iter()
            .filter_map(|(reason, (_, ex))| ex.first().map(|e| (reason, e)))
            .min_by_key(|(_, e)| (e.file, e.row))
    }

    pub fn into_rejections(self, table: Table, files: &[FileRows]) -> Vec<Rejection> {
        self.by_reason
            .into_iter()
            .map(|(reason, (count, examples))| Rejection {
                table,
                reason,
                count,
                examples: examples
                    .into_iter()
                    .map(|e| RejectExample {
                        file: files[e.file].path.clone(),
                        row: e.row,
                        value: e.value,
                    })
                    .collect(),
            })
            .collect()
    }
}
