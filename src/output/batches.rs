//! A scoring run's tables in memory, as Arrow record batches: what the
//! Python package hands over (through the Arrow C stream interface, without
//! a copy) instead of writing `firings.parquet`, `features.parquet` and
//! `criteria_summary.parquet`.
//!
//! The same evaluation as `caregap score` ([`crate::eval::evaluate_blocks`]
//! with [`super::tables::BLOCK_PEOPLE`]), the same columns built by the same
//! functions as the files' ([`super::tables`]): one firings batch per
//! evaluated part (a few hundred people), one features batch per block, rows
//! in population order then library order, as in the files. The repeated text
//! columns of the firings (`clinic_id`, `criterion_id`, `status`) stay the
//! dictionary arrays the engine builds (the files store them as plain text);
//! their values read the same.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::OutputError;
use super::tables::{BLOCK_PEOPLE, FeaturesWriter, FiringIds, firings_columns};
use crate::data::{Day, PatientIds, Population};
use crate::eval::{
    self, Block, BlockSink, EvalError, EvalOptions, FeatureValues, Part, Status, SummaryCounts,
};
use crate::plan::Plan;

/// The tables of one scoring run in memory.
#[derive(Debug, Clone)]
pub struct ScoredTables {
    /// As `firings.parquet`, with `clinic_id`, `criterion_id` and `status`
    /// as dictionary arrays (Int32 keys, Utf8 values).
    pub firings_schema: SchemaRef,
    pub firings: Vec<RecordBatch>,
    /// As `features.parquet`; `None` when the library has no features (the
    /// run then writes no features file).
    pub features_schema: Option<SchemaRef>,
    pub features: Vec<RecordBatch>,
    /// As `criteria_summary.parquet`.
    pub summary: RecordBatch,
    /// People alive on `as_of` (the people scored).
    pub alive: usize,
    /// Firings rows with status `open`, and all rows.
    pub open: usize,
    pub firings_rows: usize,
    /// Per unit-declaring value set, measurements whose unit did not match
    /// (name, count), as `run.json`'s `unit_mismatches`.
    pub unit_mismatches: Vec<(String, u64)>,
}

/// Why scoring in memory failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The schema of the in-memory firings.
pub fn firings_schema(pop: &Population) -> SchemaRef {
    let pid_type = match pop.patients.ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    };
    let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("patient_id", pid_type, false),
        Field::new("clinic_id", dict(), true),
        Field::new("criterion_id", dict(), false),
        Field::new("priority", DataType::Int32, false),
        Field::new("status", dict(), false),
        Field::new("evidence", DataType::Utf8, false),
    ]))
}

/// Scores `pop` against `plan` on `as_of` into record batches (see the
/// module docs). `opts.evidence` decides, as `caregap score --status` does,
/// whether excluded and closed rows are in the firings.
pub fn score_tables(
    plan: &Plan,
    pop: &Population,
    as_of: Day,
    opts: &EvalOptions,
) -> Result<ScoredTables, ScoreError> {
    let sink = BatchSink {
        plan,
        pop,
        ids: FiringIds::new(plan, pop),
        schema: firings_schema(pop),
    };
    let (done, blocks) = eval::evaluate_blocks(plan, pop, as_of, opts, BLOCK_PEOPLE, &sink)?;
    let mut counts = SummaryCounts::zeros(plan, pop);
    let (mut firings, mut features) = (Vec::new(), Vec::new());
    let (mut open, mut rows) = (0, 0);
    for block in blocks {
        let block = block?;
        counts.add(&block.counts);
        open += block.open;
        for b in &block.firings {
            rows += b.num_rows();
        }
        firings.extend(block.firings);
        features.extend(block.features);
    }
    let features_schema = if plan.features.is_empty() {
        None
    } else {
        let empty: Vec<(FeatureValues, Vec<bool>)> = plan
            .features
            .iter()
            .map(|f| (FeatureValues::zeros(f.ty, 0), Vec::new()))
            .collect();
        Some(FeaturesWriter::batch(plan, pop, &[], &empty)?.schema())
    };
    let summary = super::tables::summary_batch(&counts.rows(plan, pop))?;
    let unit_mismatches = plan
        .value_sets
        .iter()
        .zip(&done.unit_mismatches)
        .filter(|(vs, _)| vs.unit.is_some())
        .map(|(vs, &n)| (vs.name.clone(), n))
        .collect();
    Ok(ScoredTables {
        firings_schema: sink.schema,
        firings,
        features_schema,
        features,
        summary,
        alive: done.alive.len(),
        open,
        firings_rows: rows,
        unit_mismatches,
    })
}

/// Keeps each part's firings and each block's features as record batches.
struct BatchSink<'a> {
    plan: &'a Plan,
    pop: &'a Population,
    ids: FiringIds,
    schema: SchemaRef,
}

/// What [`BatchSink`] made of one block.
struct BlockBatches {
    firings: Vec<RecordBatch>,
    features: Option<RecordBatch>,
    counts: SummaryCounts,
    open: usize,
}

impl BlockSink for BatchSink<'_> {
    type Open = Result<BlockBatches, OutputError>;
    type Done = Result<BlockBatches, OutputError>;

    fn open(&self, _block: usize) -> Self::Open {
        Ok(BlockBatches {
            firings: Vec::new(),
            features: None,
            counts: SummaryCounts::zeros(self.plan, self.pop),
            open: 0,
        })
    }

    fn part(&self, open: &mut Self::Open, mut part: Part<'_>) {
        let Ok(block) = open else {
            return;
        };
        block.counts.add_people(self.pop, part.people, part.status);
        if part.firings.is_empty() {
            return;
        }
        block.open += part
            .firings
            .iter()
            .filter(|f| f.status == Status::Open)
            .count();
        // The columns keep the part's evidence text (no copy); the next part
        // starts a new one.
        let batch = firings_columns(&self.ids, self.pop, &mut part).and_then(|(cols, _)| {
            RecordBatch::try_new(Arc::clone(&self.schema), cols).map_err(|source| {
                OutputError::Arrow {
                    table: "firings",
                    source,
                }
            })
        });
        match batch {
            Ok(b) => block.firings.push(b),
            Err(e) => *open = Err(e),
        }
    }

    fn close(&self, open: Self::Open, block: Block<'_>) -> Self::Done {
        let mut done = open?;
        if !self.plan.features.is_empty() {
            done.features = Some(FeaturesWriter::batch(
                self.plan,
                self.pop,
                block.people,
                block.features,
            )?);
        }
        Ok(done)
    }
}
