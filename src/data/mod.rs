//! Data layer: the Parquet loader and the in-memory columnar population store.
//!
//! [`load`] reads the tables of the data model (`shared/spec/data-model.md`)
//! from a directory and returns a [`Dataset`]: the [`Population`] the engine
//! scans, the usable [`Consents`] and [`Outreach`] rows, and a [`LoadReport`].
//!
//! # Tables on disk
//! A table is `DIR/<table>.parquet` or a folder `DIR/<table>/` of `*.parquet`
//! parts read as one table, parts in file-name order (both at once is an
//! error). `patients` and `events` are required, `consents` and `outreach`
//! optional. [`LoadOptions::extra_event_files`] are read after the `events`
//! parts as more of the same table (e.g. `events_future.parquet` for labels).
//!
//! Column types are checked per file before any row is read: a missing
//! required column or a wrong type is a [`DataError`] naming the file, the
//! column, the expected and found type and what to do. Dates must be
//! `Date32` (timestamps are refused rather than guessed at). Text columns may
//! be `Utf8`, `LargeUtf8`, `Utf8View` or dictionaries of those. `patient_id` is
//! `Int64` or text, the same in every table. Extra columns are never read.
//!
//! # Layout in memory
//! See [`population`](self::Population): dense patient indices `0..n` in
//! `patients` table order; flat event columns grouped by patient through
//! `offsets`; codes as ids into the [`CodeTable`] of distinct
//! (kind, normalised system, normalised code); units as ids into
//! `Population::units` (0 = null); low-cardinality patient text columns as
//! [`DictColumn`]s.
//!
//! # How loading works
//! Every row group of every file is a unit of work; rayon reads units in
//! parallel with only the needed columns projected, text columns of events
//! decoded as Arrow dictionaries so that strings are looked at once per
//! distinct value. Each unit writes its usable rows, with chunk-local code
//! ids, straight into its share of the final event columns (sized from the
//! files' row counts; gaps left by rejected rows are closed afterwards), so
//! the columns are built once. After reading, local ids are mapped to global
//! ones (in reading order, normalising each distinct raw string once). Input
//! already sorted by patient (what `caregap synth` writes) is then grouped as
//! it stands; any other order is grouped by a stable counting sort (one
//! scatter per column, in parallel). Last, each patient's events are stably
//! sorted by date.
//!
//! # Invariants
//! - **Events are sorted per patient** by date; events of the same date keep
//!   input order (files in order, rows in file order). The result does not
//!   depend on the number of threads: ids and order follow reading order.
//! - **Future events never enter the store**: a usable event dated after
//!   [`LoadOptions::as_of`] is counted apart (`rows_after_as_of`) and set
//!   aside. It is not an unusable row (the data model), so `--strict` does not
//!   refuse it; an unusable row is counted as unusable whatever its date.
//! - **Nothing is dropped silently**: each unusable row is counted once in
//!   the [`LoadReport`] under one [`Reason`] (with the first examples), and
//!   `rows_read = rows_used + rows_rejected + rows_after_as_of` per table.
//!   With [`LoadOptions::strict`] the first unusable row is an error instead.
//! - A patient row with a null required value is unusable; events, consents
//!   and outreach rows of that patient are counted as
//!   [`Reason::RejectedPatient`], not as orphans.
//! - A medication with a negative `value` (days of supply) is unusable;
//!   `value` of other kinds is kept whatever its sign.
//! - Consent and outreach rows are kept whatever their date; users filter by
//!   their own `as_of` ([`Consents::allowed`] does).
//!
//! The reason a row is counted under is the first that applies, checking a
//! null `patient_id`, then the other required nulls (in column order), then
//! the values (`kind`, `scope`, `outcome`), then the patient (orphan or
//! rejected), then `as_of` and the supply.
mod consents;
mod days;
mod error;
mod load;
mod population;
mod read;
mod report;

pub use consents::*;
pub use days::*;
pub use error::DataError;
pub use load::{
    Dataset, LoadOptions, Loaded, MemoryTable, MemoryTables, StreamChunk, Streaming, load,
    load_streaming, load_tables,
};
pub use population::*;
/// String interning of the loader, for the run files' readers too.
pub(crate) use read::{Interner, NULL_ID, intern_column};
pub use report::*;
