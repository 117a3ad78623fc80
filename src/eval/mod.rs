//! Evaluation of a [`Plan`] over a [`Population`] on one scoring date.
//!
//! # Data flow
//!
//! 1. Per evaluation: value-set membership is resolved once per distinct code
//!    and unit of the population ([`scan::ScanTables`]); window bounds are
//!    computed once per aggregate; string literals and the population's sex and
//!    clinic values are interned into one id space (only equality is asked of
//!    strings).
//! 2. The people alive on `as_of` (born on or before it, not dead on or before
//!    it) are split into chunks of [`CHUNK`] people; rayon runs chunks in
//!    parallel, never single rows.
//! 3. Per chunk: one pass over each person's events dated on or before `as_of`
//!    (binary search; later events are never read) fills the columns of all
//!    aggregate nodes ([`scan`]); then the flat program runs column-wise with
//!    explicit validity masks ([`program`]); then each criterion's status, each
//!    feature's column and (if asked) the evidence text are taken from the
//!    chunk's columns. Statuses and features are written straight into their
//!    people's slots of the result columns (allocated once); evidence texts go
//!    to one buffer per chunk ([`evaluate`]) or per part of a block
//!    ([`evaluate_blocks`]).
//!    A person's firings are rendered one after another, so an item already
//!    rendered for that person (`age`, a shared diagnosis, the exclusions) is
//!    copied from where it was written instead of rendered again.
//! 4. The groups' firings and text buffers are joined in population order
//!    ([`evaluate`]). Or ([`evaluate_blocks`]) each block of people is
//!    evaluated part by part into a thread's reused buffers: each part's
//!    statuses and evidence go to a [`BlockSink`] as soon as the part is done
//!    (while they are in cache), the block's features when the block is done.
//!    Nothing of the size of the population is kept.
//!
//! # Invariants
//!
//! - **Null is three-valued everywhere.** No null turns into false before the
//!   final `IS TRUE` of a criterion's `population`/`gap` and `IS NOT TRUE` of its
//!   `exclude`; features keep their nulls.
//! - **Events after `as_of` are never visible**, also when `as_of` is earlier
//!   than the population's load date.
//! - **Results are independent of the thread count**: every person is computed
//!   by one thread with the same arithmetic in the same event order, and chunk
//!   results are joined in population order; counters are integer sums.
//! - NaN never exists in a column: a NaN data value is a null value, and an
//!   arithmetic result that is NaN (`inf - inf`, `0 * inf`) is null.
//!
//! # Decisions where the spec is silent
//!
//! - A NaN `value` is treated as null everywhere: skipped by the value
//!   functions, counted by `has`/`count`/`days_since`; as a medication supply
//!   it is a null supply (90 days). ±infinity values are ordinary values.
//! - `inf - inf`, `0 * inf`, `inf / inf` are null (undefined, like `0/0`);
//!   `mean` over values summing to `inf` and `-inf` is null.
//! - The unit rule applies to measurements only (the spec speaks of "a
//!   measurement whose unit ..."); a non-`lab` value set declaring a unit takes
//!   every unit. Unit strings compare after trimming Unicode white space and
//!   lower-casing. An empty unit string is a present unit (it differs from a
//!   declared unit); only a null unit is "no unit".
//! - A medication with a negative supply is invisible to every function (the
//!   loader also drops it; the engine holds to it for hand-built populations).
//! - `active(VS, G)`: the test is `as_of < date + supply + G` in f64, evaluated
//!   left to right, with all history (no window). A supply of `+inf` is active
//!   forever; `-0.0` is a supply of 0.
//! - `min`/`max` evidence shows the date of the extreme value (the latest on
//!   ties); `mean` evidence shows the latest date it averaged.
//! - `mean` sums in event order (date, then input order).
//! - Unit mismatches are counted over the events the run could see: events
//!   on or before `as_of` of people alive on `as_of`, once per value set.
//! - A scoring date after the population's load date is refused
//!   ([`EvalError::AsOfAfterLoad`]): the loader already dropped the events in
//!   between, so the result would silently be wrong.

pub mod calendar;
mod evidence;
mod program;
pub mod scan;
mod summary;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::data::{Day, Population};
use crate::lang::ir::AggFunc;
use crate::plan::{AggId, FeatureType, Op, Plan};

pub use evidence::render_aggregate;
pub use summary::{SummaryCounts, SummaryRow, summarize};

/// People per chunk of column-wise evaluation: small enough that a chunk's
/// aggregate and program columns (about 1,200 nodes for the shipped library)
/// stay in a core's L2 cache, large enough to amortise the per-node dispatch.
pub const CHUNK: usize = 128;

/// Which evidence texts an evaluation builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvidenceMode {
    /// None (fastest; statuses and features only).
    #[default]
    None,
    /// For every firing (status open).
    Firings,
    /// For every (person, criterion) whose population is true: open, closed and
    /// excluded rows (`caregap score --status`).
    InPopulation,
}

/// Options of [`evaluate`].
#[derive(Default, Clone, Copy)]
pub struct EvalOptions<'a> {
    pub evidence: EvidenceMode,
    /// Called with the number of people finished, from worker threads.
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
}

/// Where a living person stands for one criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// `population` is not true.
    NotInPopulation = 0,
    /// In population and `exclude` is true.
    Excluded = 1,
    /// In population, not excluded, `gap` true: the criterion fires.
    Open = 2,
    /// In population, not excluded, `gap` not true.
    Closed = 3,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotInPopulation => "not_in_population",
            Status::Excluded => "excluded",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// One row of evidence: a firing (or, with [`EvidenceMode::InPopulation`], an
/// excluded or closed row).
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// Patient index in the population.
    pub patient: u32,
    /// Criterion index in the plan.
    pub criterion: u32,
    pub status: Status,
    /// Where the evidence text lies; read it with [`Evaluation::evidence`].
    pub evidence: TextRef,
}

/// A firing's evidence text in [`Evaluation`]'s text buffers (one buffer per
/// chunk of people: millions of texts, no allocation each) or in a
/// [`Part`]'s one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef {
    buf: u32,
    start: u32,
    len: u32,
}

/// The values of one feature for the alive people.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValues {
    Num(Vec<f64>),
    Bool(Vec<bool>),
}

impl FeatureValues {
    /// `n` zeros (or falses) of type `ty`.
    pub fn zeros(ty: FeatureType, n: usize) -> FeatureValues {
        match ty {
            FeatureType::Num => FeatureValues::Num(vec![0.0; n]),
            FeatureType::Bool => FeatureValues::Bool(vec![false; n]),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumn {
    pub name: String,
    pub values: FeatureValues,
    /// `false` = null.
    pub valid: Vec<bool>,
}

/// The result of an evaluation. Per-person vectors are indexed like `alive`.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub as_of: Day,
    /// Population indices of the people alive on `as_of`, ascending.
    pub alive: Vec<u32>,
    /// Per criterion (plan order), the status of each alive person.
    pub status: Vec<Vec<Status>>,
    /// Per feature (plan order), its column over the alive people.
    pub features: Vec<FeatureColumn>,
    /// Evidence rows by patient, then criterion (see [`EvidenceMode`]).
    pub firings: Vec<Firing>,
    /// The evidence texts of `firings`, one buffer per chunk.
    texts: Vec<String>,
    /// Per value set: measurements not used because their unit differs from
    /// the declared one (events on or before `as_of` of alive people).
    pub unit_mismatches: Vec<u64>,
}

impl Evaluation {
    /// The `; `-joined evidence of a firing of this evaluation, e.g.
    /// `last(lab.sbp, 12mo) = 162 on 2025-11-03; has(dx.hypertension) = true
    /// (latest 2019-04-02)`.
    pub fn evidence(&self, f: &Firing) -> &str {
        text_of(&self.texts, f.evidence)
    }

    /// The status of population index `patient` for criterion `criterion`;
    /// `None` when the person is not alive on `as_of`.
    pub fn status_of(&self, criterion: usize, patient: u32) -> Option<Status> {
        let i = self.alive.binary_search(&patient).ok()?;
        Some(self.status[criterion][i])
    }
}

/// Why an evaluation cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    #[error(
        "scoring date {as_of} is after the date the population was loaded for ({loaded}); \
         events in between were set aside by the loader. Load the data with an as_of on or after {as_of}"
    )]
    AsOfAfterLoad { as_of: String, loaded: String },
}

/// Evaluates every criterion and feature of `plan` for the people of `pop`
/// alive on `as_of` (see module docs). `as_of` may be earlier than
/// `pop.as_of`, never later.
pub fn evaluate(
    plan: &Plan,
    pop: &Population,
    as_of: Day,
    opts: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    let (alive, ctx) = prepare(plan, pop, as_of, opts)?;
    // The result columns are allocated once (in parallel: first touches are
    // page faults, expensive on some machines) and every chunk writes its
    // people's slots in place; nothing is gathered or copied afterwards.
    let total = alive.len();
    let mut status: Vec<Vec<Status>> = (0..plan.criteria.len())
        .into_par_iter()
        .map(|_| vec![Status::NotInPopulation; total])
        .collect();
    let mut features: Vec<FeatureColumn> = plan
        .features
        .par_iter()
        .map(|f| FeatureColumn {
            name: f.name.clone(),
            values: FeatureValues::zeros(f.ty, total),
            valid: vec![false; total],
        })
        .collect();
    // Contiguous groups of whole chunks, a few per thread; scratch space is
    // made once per rayon work split, not per group. Chunk boundaries are
    // multiples of CHUNK from the start whatever the thread count, and no
    // result depends on them anyway.
    let groups = rayon::current_num_threads() * 4;
    let per_group = total.div_ceil(groups).div_ceil(CHUNK).max(1) * CHUNK;
    let n_groups = total.div_ceil(per_group);
    let outs: Vec<GroupOut> = split_status(&mut status, per_group, n_groups)
        .into_iter()
        .zip(split_features(&mut features, per_group, n_groups))
        .enumerate()
        .map(|(g, (status, features))| GroupOut {
            status,
            features,
            first_chunk: g * per_group / CHUNK,
            firings: Vec::new(),
            texts: Texts::PerChunk(Vec::new()),
            mismatches: vec![0; plan.value_sets.len()],
        })
        .collect();
    let outs: Vec<GroupOut> = alive
        .par_chunks(per_group)
        .zip(outs)
        .map_init(
            || Scratch::new(plan),
            |s, (group, mut out)| {
                ctx.run_group(s, group, &mut out);
                out
            },
        )
        .collect();
    let mut firings = Vec::with_capacity(outs.iter().map(|o| o.firings.len()).sum());
    let mut texts = Vec::new();
    let mut unit_mismatches = vec![0u64; plan.value_sets.len()];
    for mut o in outs {
        firings.append(&mut o.firings);
        if let Texts::PerChunk(t) = &mut o.texts {
            texts.append(t);
        }
        add_counts(&mut unit_mismatches, &o.mismatches);
    }
    Ok(Evaluation {
        as_of,
        alive,
        status,
        features,
        firings,
        texts,
        unit_mismatches,
    })
}

/// The people alive on `as_of` and the evaluation context, after the checks.
fn prepare<'a>(
    plan: &'a Plan,
    pop: &'a Population,
    as_of: Day,
    opts: &'a EvalOptions<'a>,
) -> Result<(Vec<u32>, Context<'a>), EvalError> {
    prepare_in(plan, pop, as_of, opts, 0..pop.patients.len() as u32)
}

/// [`prepare`] for the people with population indices in `people` only.
fn prepare_in<'a>(
    plan: &'a Plan,
    pop: &'a Population,
    as_of: Day,
    opts: &'a EvalOptions<'a>,
    people: Range<u32>,
) -> Result<(Vec<u32>, Context<'a>), EvalError> {
    if as_of > pop.as_of {
        return Err(EvalError::AsOfAfterLoad {
            as_of: calendar::format_day(as_of),
            loaded: calendar::format_day(pop.as_of),
        });
    }
    let patients = &pop.patients;
    let alive: Vec<u32> = people
        .filter(|&p| patients.is_alive(p as usize, as_of))
        .collect();
    Ok((alive, Context::new(plan, pop, as_of, opts)))
}

fn add_counts(sum: &mut [u64], x: &[u64]) {
    for (m, x) in sum.iter_mut().zip(x) {
        *m += x;
    }
}

/// A block of alive people once evaluated, handed to [`BlockSink::close`]:
/// its features (its statuses and evidence came in [`Part`]s).
pub struct Block<'a> {
    /// The block's number: the blocks hold the alive people in population
    /// order, block 0 first (sizes: see [`evaluate_blocks`]).
    pub index: usize,
    /// The block's people (population indices, ascending).
    pub people: &'a [u32],
    /// Per feature (plan order), the block's values (a null slot holds 0 or
    /// false) and validity (`false` = null).
    pub features: &'a [(FeatureValues, Vec<bool>)],
}

/// A few hundred consecutive people of a block ([`PART_PEOPLE`]), handed to
/// [`BlockSink::part`] as soon as they are evaluated, while their statuses
/// and evidence texts are still in the core's cache.
pub struct Part<'a> {
    /// The number of the block the part belongs to.
    pub block: usize,
    /// The part's people (population indices, ascending).
    pub people: &'a [u32],
    /// Per criterion (plan order), each of the part's people's status.
    pub status: &'a [Vec<Status>],
    /// The evidence rows by patient, then criterion (see [`EvidenceMode`]).
    pub firings: &'a [Firing],
    /// The evidence texts of `firings`, back to back in firing order (read
    /// one with [`Part::evidence`]). The buffer is reused for the same
    /// thread's next part: a sink may take it (e.g. to hand its bytes to
    /// Arrow without a copy) and put back a buffer to reuse; it is cleared
    /// before the next part.
    pub evidence_text: &'a mut String,
}

impl Part<'_> {
    /// The evidence text of one of the part's firings (before the sink
    /// takes [`Part::evidence_text`]).
    pub fn evidence(&self, f: &Firing) -> &str {
        let r = f.evidence;
        &self.evidence_text[r.start as usize..(r.start + r.len) as usize]
    }

    /// Where firing `f`'s text starts in [`Part::evidence_text`]; the
    /// part's texts are back to back, so firing `k + 1` starts where firing
    /// `k` ends.
    pub fn evidence_start(f: &Firing) -> usize {
        f.evidence.start as usize
    }
}

/// What [`evaluate_blocks`] hands its results to, from the worker threads:
/// per block, [`open`](BlockSink::open), then every [`Part`] of it in
/// order, then [`close`](BlockSink::close) with the block's features.
/// A block is one thread's from open to close; blocks are opened in order
/// (block 0 first), one per thread at a time, and close roughly in order.
pub trait BlockSink: Sync {
    /// What the sink keeps while a block is evaluated (e.g. an open row group).
    type Open;
    /// What the sink makes of a block, returned in block order.
    type Done: Send;
    fn open(&self, block: usize) -> Self::Open;
    fn part(&self, open: &mut Self::Open, part: Part<'_>);
    fn close(&self, open: Self::Open, block: Block<'_>) -> Self::Done;
}

/// What [`evaluate_blocks`] returns besides the sink's results.
#[derive(Debug, Clone, PartialEq)]
pub struct BlocksDone {
    pub as_of: Day,
    /// Population indices of the people alive on `as_of`, ascending.
    pub alive: Vec<u32>,
    /// As [`Evaluation::unit_mismatches`].
    pub unit_mismatches: Vec<u64>,
}

/// The evidence text a part of [`evaluate_blocks`] is sized to stay within
/// even if every criterion fired for everyone with its usual text length: a
/// part's texts are one buffer, and an Arrow `Utf8` column's offsets are
/// 32-bit.
pub const MAX_PART_TEXT: usize = i32::MAX as usize;

/// People per [`Part`] of a block of [`evaluate_blocks`] (fewer when their
/// evidence could pass [`MAX_PART_TEXT`]). Small enough that a part's
/// statuses (one byte per person and criterion) and evidence texts stay in a
/// core's cache until the sink has counted and encoded them.
pub const PART_PEOPLE: usize = 4 * CHUNK;

/// [`evaluate`] block by block, keeping nothing: the alive people are cut
/// into blocks of `block_people` (rounded up to a multiple of [`CHUNK`];
/// smaller and smaller towards the end, see `block_ranges`), each block into
/// parts of [`PART_PEOPLE`], and each part's statuses and evidence rows are
/// handed to `sink` right after the part is evaluated, each block's features
/// when the block is done; they are dropped (their buffers reused) when the
/// sink returns. Every thread of the pool takes the next block in order, so
/// blocks finish roughly in order. Returns the alive people, the unit
/// mismatches and the sink's results in block order. The blocks and parts
/// depend only on `block_people` and the number of alive people, never on
/// the thread count.
///
/// `caregap score` turns each block into a row group of `firings.parquet`,
/// written part by part while the part is in cache, and summary counts,
/// instead of holding every column and evidence text of the population
/// until the end.
pub fn evaluate_blocks<S: BlockSink>(
    plan: &Plan,
    pop: &Population,
    as_of: Day,
    opts: &EvalOptions,
    block_people: usize,
    sink: &S,
) -> Result<(BlocksDone, Vec<S::Done>), EvalError> {
    let everyone = 0..pop.patients.len() as u32;
    evaluate_blocks_in(plan, pop, as_of, opts, block_people, everyone, 0, sink)
}

/// [`evaluate_blocks`] for the people with population indices in `people`
/// only, the blocks numbered from `first_block` (the streaming score
/// evaluates a patient range at a time, with only that range's events
/// loaded, and hands every range's blocks to one sink).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_blocks_in<S: BlockSink>(
    plan: &Plan,
    pop: &Population,
    as_of: Day,
    opts: &EvalOptions,
    block_people: usize,
    people: Range<u32>,
    first_block: usize,
    sink: &S,
) -> Result<(BlocksDone, Vec<S::Done>), EvalError> {
    let (alive, ctx) = prepare_in(plan, pop, as_of, opts, people)?;
    let per_block = block_people.div_ceil(CHUNK).max(1) * CHUNK;
    let mut per_part = PART_PEOPLE;
    if opts.evidence != EvidenceMode::None {
        // Fewer people per part when everyone's usual evidence (every
        // criterion's text) could pass `MAX_PART_TEXT`.
        let per_person: usize = ctx.text_len.iter().sum::<usize>().max(1);
        let fits = (MAX_PART_TEXT / per_person / CHUNK).max(1) * CHUNK;
        per_part = per_part.min(fits);
    }
    let blocks = block_ranges(alive.len(), per_block);
    // Each thread takes the next block in order until none is left (so the
    // blocks finish roughly in order, and the small last ones keep the
    // threads finishing together).
    let next = AtomicUsize::new(0);
    let per_thread = rayon::broadcast(|_| {
        let mut s = Scratch::new(plan);
        // A thread's buffers are reused from part to part and block to
        // block: every slot is written before it is read.
        let mut status: Vec<Vec<Status>> = plan.criteria.iter().map(|_| Vec::new()).collect();
        let mut features: Vec<(FeatureValues, Vec<bool>)> = plan
            .features
            .iter()
            .map(|f| (FeatureValues::zeros(f.ty, 0), Vec::new()))
            .collect();
        let mut text = String::new();
        let mut firings = Vec::new();
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(range) = blocks.get(index) else {
                break;
            };
            let index = first_block + index;
            let people = &alive[range.clone()];
            let n = people.len();
            for (values, valid) in features.iter_mut() {
                match values {
                    FeatureValues::Num(v) => v.resize(n, 0.0),
                    FeatureValues::Bool(v) => v.resize(n, false),
                }
                valid.resize(n, false);
            }
            let mut open = sink.open(index);
            let mut mismatches = vec![0; plan.value_sets.len()];
            for from in (0..n).step_by(per_part) {
                let part = &people[from..(from + per_part).min(n)];
                for col in status.iter_mut() {
                    col.resize(part.len(), Status::NotInPopulation);
                }
                text.clear();
                firings.clear();
                let mut out = GroupOut {
                    status: status.iter_mut().map(Vec::as_mut_slice).collect(),
                    features: features
                        .iter_mut()
                        .map(|(values, valid)| FeaturePart {
                            values: match values {
                                FeatureValues::Num(v) => {
                                    FeaturePartValues::Num(&mut v[from..from + part.len()])
                                }
                                FeatureValues::Bool(v) => {
                                    FeaturePartValues::Bool(&mut v[from..from + part.len()])
                                }
                            },
                            valid: &mut valid[from..from + part.len()],
                        })
                        .collect(),
                    first_chunk: 0,
                    // The part's texts go into one buffer (the thread's, reused).
                    firings: std::mem::take(&mut firings),
                    texts: Texts::One(std::mem::take(&mut text)),
                    mismatches: std::mem::take(&mut mismatches),
                };
                ctx.run_group(&mut s, part, &mut out);
                firings = std::mem::take(&mut out.firings);
                mismatches = std::mem::take(&mut out.mismatches);
                if let Texts::One(t) =
                    std::mem::replace(&mut out.texts, Texts::PerChunk(Vec::new()))
                {
                    text = t;
                }
                drop(out);
                sink.part(
                    &mut open,
                    Part {
                        block: index,
                        people: part,
                        status: &status,
                        firings: &firings,
                        evidence_text: &mut text,
                    },
                );
            }
            let r = sink.close(
                open,
                Block {
                    index,
                    people,
                    features: &features,
                },
            );
            done.push((index, mismatches, r));
        }
        done
    });
    let mut done: Vec<(usize, Vec<u64>, S::Done)> = per_thread.into_iter().flatten().collect();
    done.sort_unstable_by_key(|&(index, ..)| index);
    let mut unit_mismatches = vec![0u64; plan.value_sets.len()];
    let mut results = Vec::with_capacity(done.len());
    for (_, m, r) in done {
        add_counts(&mut unit_mismatches, &m);
        results.push(r);
    }
    Ok((
        BlocksDone {
            as_of,
            alive,
            unit_mismatches,
        },
        results,
    ))
}

/// The blocks of [`evaluate_blocks`] over `n` alive people: `per_block`
/// people each, except towards the end, where each block is a quarter of the
/// people left (rounded up to a multiple of [`CHUNK`]), but no less than a
/// quarter of `per_block`. A thread that takes the last blocks then finishes
/// soon after the others instead of a whole block later. The blocks depend
/// only on `n` and `per_block` (a multiple of [`CHUNK`]).
fn block_ranges(n: usize, per_block: usize) -> Vec<Range<usize>> {
    let least = (per_block / 4).div_ceil(CHUNK).max(1) * CHUNK;
    let mut blocks = Vec::with_capacity(n / per_block + 8);
    let mut start = 0;
    while start < n {
        let left = n - start;
        let size = ((left / 4).div_ceil(CHUNK) * CHUNK)
            .clamp(least, per_block.max(least))
            .min(left);
        blocks.push(start..start + size);
        start += size;
    }
    blocks
}

fn text_of(texts: &[String], r: TextRef) -> &str {
    &texts[r.buf as usize][r.start as usize..(r.start + r.len) as usize]
}

/// One group's share of the result columns (slots `0..` are the group's first
/// person), and what it collects.
struct GroupOut<'o> {
    /// Per criterion.
    status: Vec<&'o mut [Status]>,
    /// Per feature.
    features: Vec<FeaturePart<'o>>,
    /// The evaluation-wide index of the group's first chunk (its text buffer).
    first_chunk: usize,
    firings: Vec<Firing>,
    texts: Texts,
    mismatches: Vec<u64>,
}

/// Where a group's evidence texts go.
enum Texts {
    /// One buffer per chunk of the group ([`evaluate`]: each sized once,
    /// kept until the end); a firing's [`TextRef::buf`] is its chunk's
    /// evaluation-wide index.
    PerChunk(Vec<String>),
    /// One buffer for the whole group ([`evaluate_blocks`]: a part's texts
    /// back to back, in a buffer reused from part to part); `buf` is 0.
    One(String),
}

/// A group's slots of one feature column.
struct FeaturePart<'o> {
    values: FeaturePartValues<'o>,
    valid: &'o mut [bool],
}

enum FeaturePartValues<'o> {
    Num(&'o mut [f64]),
    Bool(&'o mut [bool]),
}

/// Per group of `size` people (`n_groups` of them), its slice of every
/// status column.
fn split_status(cols: &mut [Vec<Status>], size: usize, n_groups: usize) -> Vec<Vec<&mut [Status]>> {
    let mut groups: Vec<Vec<&mut [Status]>> = (0..n_groups).map(|_| Vec::new()).collect();
    for col in cols {
        for (group, part) in groups.iter_mut().zip(col.chunks_mut(size)) {
            group.push(part);
        }
    }
    groups
}

/// Per group of `size` people (`n_groups` of them), its slices of every
/// feature column.
fn split_features(
    cols: &mut [FeatureColumn],
    size: usize,
    n_groups: usize,
) -> Vec<Vec<FeaturePart<'_>>> {
    let mut groups: Vec<Vec<FeaturePart>> = (0..n_groups).map(|_| Vec::new()).collect();
    for col in cols {
        let valid = col.valid.chunks_mut(size);
        match &mut col.values {
            FeatureValues::Num(v) => {
                for ((group, v), valid) in groups.iter_mut().zip(v.chunks_mut(size)).zip(valid) {
                    group.push(FeaturePart {
                        values: FeaturePartValues::Num(v),
                        valid,
                    });
                }
            }
            FeatureValues::Bool(v) => {
                for ((group, v), valid) in groups.iter_mut().zip(v.chunks_mut(size)).zip(valid) {
                    group.push(FeaturePart {
                        values: FeaturePartValues::Bool(v),
                        valid,
                    });
                }
            }
        }
    }
    groups
}

/// The status of a person from `population IS TRUE` (`p`), `exclude IS TRUE`
/// (`e`) and `gap IS TRUE` (`g`), as 0/1 bytes, without branches: the code's
/// low bit is `p ∧ (e ∨ ¬g)`, its high bit `p ∧ ¬e`, giving 0 (not in
/// population), 1 (excluded), 2 (open) or 3 (closed). Byte arithmetic, so the
/// status loop vectorises.
#[inline(always)]
fn status_code(p: u8, e: u8, g: u8) -> Status {
    match ((p & (e | (g ^ 1))) | ((p & (e ^ 1)) << 1)) & 3 {
        0 => Status::NotInPopulation,
        1 => Status::Excluded,
        2 => Status::Open,
        _ => Status::Closed,
    }
}

/// Writes each slot's status from the `population`, `exclude` and `gap`
/// columns (truth value, validity). Compiled for the x86-64 baseline and for AVX2,
/// chosen at run time (see `program::run`).
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn write_statuses(
    out: &mut [Status],
    (pt, po): (&[u8], &[bool]),
    (et, eo): (&[u8], &[bool]),
    (gt, go): (&[u8], &[bool]),
) {
    // Re-sliced to one length so that the loop has no bounds checks.
    let n = out.len();
    let (pt, po, et, eo, gt, go) = (&pt[..n], &po[..n], &et[..n], &eo[..n], &gt[..n], &go[..n]);
    for i in 0..n {
        out[i] = status_code(
            po[i] as u8 & pt[i],
            eo[i] as u8 & et[i],
            go[i] as u8 & gt[i],
        );
    }
}

/// What every chunk shares.
struct Context<'a> {
    plan: &'a Plan,
    pop: &'a Population,
    as_of: Day,
    opts: &'a EvalOptions<'a>,
    tables: scan::ScanTables,
    /// String ids of the population's sex and clinic dictionary values.
    sex_ids: Vec<f64>,
    clinic_ids: Vec<f64>,
    /// Per aggregate, its node.
    agg_node: Vec<usize>,
    /// Per node, which buffer holds its values ([`program::node_reprs`]).
    reprs: Vec<program::Repr>,
    /// Per aggregate, where the scan's state goes (see [`AggOut`]).
    agg_out: Vec<AggOut>,
    /// The aggregates derived from others, `agg_out[a].derived` of them.
    derived_out: Vec<DerivedOut>,
    /// Per aggregate, its text (`last(lab.sbp, 12mo)`), for evidence.
    agg_text: Vec<String>,
    /// Per criterion, the length its evidence text usually stays within:
    /// each item's aggregate text plus ` = `, a value of up to 12 characters
    /// and ` (latest YYYY-MM-DD)`, plus separators.
    text_len: Vec<usize>,
}

/// Where a scanned aggregate's value goes in a chunk's buffers: slot `i`
/// of its column is `cell + i` of the values and validity, `day + i` of the
/// evidence dates; and which aggregates are derived from it.
struct AggOut {
    func: AggFunc,
    cell: usize,
    day: usize,
    derived: (u32, u32),
}

/// [`AggOut`] of an aggregate derived from a wider one (see
/// [`scan::Derived`]).
struct DerivedOut {
    bound: i64,
    func: AggFunc,
    cell: usize,
    day: usize,
}

struct Scratch {
    /// The program's columns (see [`program`]): numbers, truth values, validity.
    v: Vec<f64>,
    t: Vec<u8>,
    ok: Vec<bool>,
    /// Per aggregate × slot: `(chunk stamp, evidence date)`, written only
    /// for aggregates with an event; a stamp other than `chunk` means no event
    /// in this chunk (so the table needs no reset between chunks).
    agg_day: Vec<(u32, Day)>,
    /// The current chunk's stamp (counts chunks from 1).
    chunk: u32,
    age: Vec<f64>,
    sex: Vec<f64>,
    clinic: Vec<f64>,
    /// A false column (the `exclude` of criteria without one).
    zeros: Vec<u8>,
    falses: Vec<bool>,
    scan: scan::ScanScratch,
    items: ItemCache,
    /// The chunk's `(slot, criterion)` cells that get evidence, as found
    /// and sorted by slot (both kept between chunks, not allocated anew).
    cells: Vec<(u32, u32)>,
    sorted_cells: Vec<(u32, u32)>,
}

/// The evidence items rendered for the person whose firings are being
/// written: a person's firings are written one after another, and most of
/// them repeat items (`age`, a shared diagnosis, the exclusions), which are
/// then copied from where they were first written in the text buffer.
#[derive(Default)]
struct ItemCache {
    /// Counts the people whose firings were written (from 1).
    person: u64,
    /// Per aggregate: `(person, start, len)` of its item in the current text
    /// buffer, valid when `person` is the current one.
    at: Vec<(u64, u32, u32)>,
}

impl Scratch {
    /// The evidence date of aggregate `a` in slot `i` of the current chunk.
    fn evidence_day(&self, a: usize, i: usize) -> Option<Day> {
        let (stamp, day) = self.agg_day[a * CHUNK + i];
        (stamp == self.chunk).then_some(day)
    }

    fn new(plan: &Plan) -> Scratch {
        let cells = plan.nodes.len() * CHUNK;
        Scratch {
            v: vec![0.0; cells],
            t: vec![0; cells],
            ok: vec![false; cells],
            agg_day: vec![(0, 0); plan.aggregates.len() * CHUNK],
            chunk: 0,
            age: vec![0.0; CHUNK],
            sex: vec![0.0; CHUNK],
            clinic: vec![0.0; CHUNK],
            zeros: vec![0; CHUNK],
            falses: vec![false; CHUNK],
            scan: scan::ScanScratch::new(plan.aggregates.len()),
            items: ItemCache {
                person: 0,
                at: vec![(0, 0, 0); plan.aggregates.len()],
            },
            cells: Vec::new(),
            sorted_cells: Vec::new(),
        }
    }
}

impl<'a> Context<'a> {
    fn new(plan: &'a Plan, pop: &'a Population, as_of: Day, opts: &'a EvalOptions<'a>) -> Self {
        let mut ids: HashMap<&str, u32> = plan
            .strings
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i as u32))
            .collect();
        let mut intern = |s: &'a str| {
            let next = ids.len() as u32;
            *ids.entry(s).or_insert(next) as f64
        };
        let sex_ids = pop.patients.sex.values.iter().map(|s| intern(s)).collect();
        let clinic_ids = pop
            .patients
            .clinic
            .values
            .iter()
            .map(|s| intern(s))
            .collect();
        let mut agg_node = vec![0; plan.aggregates.len()];
        for (k, op) in plan.nodes.iter().enumerate() {
            if let Op::Agg(a) = op {
                agg_node[*a as usize] = k;
            }
        }
        let tables = scan::ScanTables::new(plan, pop, as_of);
        let mut derived_out = Vec::new();
        let agg_out = (0..plan.aggregates.len())
            .map(|a| {
                let start = derived_out.len() as u32;
                derived_out.extend(tables.derived(a as AggId).iter().map(|d| DerivedOut {
                    bound: d.bound,
                    func: tables.func(d.agg),
                    cell: agg_node[d.agg as usize] * CHUNK,
                    day: d.agg as usize * CHUNK,
                }));
                AggOut {
                    func: tables.func(a as AggId),
                    cell: agg_node[a] * CHUNK,
                    day: a * CHUNK,
                    derived: (start, derived_out.len() as u32),
                }
            })
            .collect();
        let mut ctx = Context {
            plan,
            pop,
            as_of,
            opts,
            tables,
            agg_out,
            derived_out,
            sex_ids,
            clinic_ids,
            agg_node,
            reprs: program::node_reprs(plan),
            agg_text: (0..plan.aggregates.len() as u32)
                .map(|a| plan.aggregate_text(a))
                .collect(),
            text_len: Vec::new(),
        };
        ctx.text_len = plan
            .criteria
            .iter()
            .map(|c| {
                let items: usize = c
                    .evidence
                    .iter()
                    .map(|&a| ctx.agg_text[a as usize].len() + 3 + 12 + 20 + 2)
                    .sum();
                items + if c.reads_age { 12 } else { 0 }
            })
            .collect();
        ctx
    }

    /// Evaluates a group's people (slots `0..people.len()` of `out`) chunk
    /// by chunk.
    fn run_group(&self, s: &mut Scratch, people: &[u32], out: &mut GroupOut) {
        for (j, chunk) in people.chunks(CHUNK).enumerate() {
            self.run_chunk(s, chunk, j * CHUNK, out);
        }
    }

    /// Evaluates `people`, the group's slots `off..off + people.len()`, into
    /// `out`.
    fn run_chunk(&self, s: &mut Scratch, people: &[u32], off: usize, out: &mut GroupOut) {
        let n = people.len();
        let plan = self.plan;
        let pats = &self.pop.patients;
        // 1. Person attributes. Sex and clinic are required columns; a null
        //    (impossible from the loader) gets an id no literal has.
        let no_string = u32::MAX as f64;
        for (i, &p) in people.iter().enumerate() {
            let p = p as usize;
            s.age[i] = calendar::age_years(pats.birth_date[p], self.as_of) as f64;
            s.sex[i] = pats.sex.codes[p].map_or(no_string, |c| self.sex_ids[c as usize]);
            s.clinic[i] = pats.clinic.codes[p].map_or(no_string, |c| self.clinic_ids[c as usize]);
        }
        // 2. Aggregates: empty values, then one scan per person.
        for (a, &node) in self.agg_node.iter().enumerate() {
            let (x, valid) = scan::empty(self.tables.func(a as AggId));
            let base = node * CHUNK;
            s.v[base..base + n].fill(x);
            if self.reprs[node] == program::Repr::Bool {
                s.t[base..base + n].fill((x != 0.0) as u8);
            }
            s.ok[base..base + n].fill(valid);
        }
        let evidence = self.opts.evidence != EvidenceMode::None;
        s.chunk += 1;
        for (i, &p) in people.iter().enumerate() {
            scan::scan_person(
                &self.tables,
                self.pop,
                p as usize,
                &mut s.scan,
                &mut out.mismatches,
            );
            for &a in &s.scan.touched {
                let a = a as usize;
                let acc = &s.scan.acc[a];
                let o = &self.agg_out[a];
                let (x, valid) = scan::finish(o.func, acc, self.as_of);
                s.v[o.cell + i] = x;
                s.t[o.cell + i] = (x != 0.0) as u8;
                s.ok[o.cell + i] = valid;
                if evidence && acc.n > 0 {
                    s.agg_day[o.day + i] = (s.chunk, acc.day);
                }
                // Narrower windows hold the same state when its event is
                // inside them, and stay empty otherwise.
                if acc.n == 0 {
                    continue;
                }
                for d in &self.derived_out[o.derived.0 as usize..o.derived.1 as usize] {
                    if acc.day as i64 <= d.bound {
                        continue;
                    }
                    let (x, valid) = scan::finish(d.func, acc, self.as_of);
                    s.v[d.cell + i] = x;
                    s.t[d.cell + i] = (x != 0.0) as u8;
                    s.ok[d.cell + i] = valid;
                    if evidence {
                        s.agg_day[d.day + i] = (s.chunk, acc.day);
                    }
                }
            }
        }
        // 3. The program, column-wise.
        let inputs = program::PersonInputs {
            age: &s.age[..n],
            sex: &s.sex[..n],
            clinic: &s.clinic[..n],
        };
        let cols = program::Columns {
            v: &mut s.v,
            t: &mut s.t,
            ok: &mut s.ok,
        };
        program::run(plan, &self.reprs, CHUNK, n, cols, &inputs);
        // 4. Statuses, branch-free: `population IS TRUE`, then `exclude IS
        //    TRUE`, then `gap IS TRUE` decide (see `status_code`).
        let cells = |node: u32| node as usize * CHUNK..node as usize * CHUNK + n;
        let num = |node: u32| (&s.v[cells(node)], &s.ok[cells(node)]);
        let truth = |node: u32| (&s.t[cells(node)], &s.ok[cells(node)]);
        for (c, out) in plan.criteria.iter().zip(&mut out.status) {
            let (p, g) = (truth(c.population), truth(c.gap));
            let e = match c.exclude {
                Some(e) => truth(e),
                None => (&s.zeros[..n], &s.falses[..n]),
            };
            write_statuses(&mut out[off..off + n], p, e, g);
        }
        // 5. Features: a null numeric slot holds 0.0, a boolean one false.
        for (f, part) in plan.features.iter().zip(&mut out.features) {
            let valid = &mut part.valid[off..off + n];
            match &mut part.values {
                FeaturePartValues::Num(dst) => {
                    let (v, ok) = num(f.root);
                    valid.copy_from_slice(ok);
                    for ((d, &x), &ok) in dst[off..off + n].iter_mut().zip(v).zip(ok) {
                        *d = if ok { x } else { 0.0 };
                    }
                }
                FeaturePartValues::Bool(dst) => {
                    let (t, ok) = truth(f.root);
                    valid.copy_from_slice(ok);
                    for ((d, &x), &ok) in dst[off..off + n].iter_mut().zip(t).zip(ok) {
                        *d = ok & (x != 0);
                    }
                }
            }
        }
        // 6. Evidence: the wanted (person, criterion) cells, found column by
        //    column, then ordered by person, criterion (library order).
        //    The wanted statuses are a range of codes, `lo..=lo + span` (open:
        //    2..=2; in population: 1..=3), tested 16 slots at a time first.
        let (lo, span) = match self.opts.evidence {
            EvidenceMode::None => (0, 0),
            EvidenceMode::Firings => (Status::Open as u8, 0),
            EvidenceMode::InPopulation => (Status::Excluded as u8, 2),
        };
        let wanted = |st: Status| (st as u8).wrapping_sub(lo) <= span;
        if evidence {
            let mut cells = std::mem::take(&mut s.cells);
            cells.clear();
            for (c, col) in out.status.iter().enumerate() {
                for (b, block) in col[off..off + n].chunks(16).enumerate() {
                    // `fold`, not `any`: no early exit, so the test vectorises.
                    if !block.iter().fold(false, |any, &st| any | wanted(st)) {
                        continue;
                    }
                    for (i, &st) in block.iter().enumerate() {
                        if wanted(st) {
                            cells.push(((b * 16 + i) as u32, c as u32));
                        }
                    }
                }
            }
            // By slot (a counting sort: the criteria of a slot stay in
            // library order, as they were found).
            let mut at = [0u32; CHUNK + 1];
            for &(i, _) in &cells {
                at[i as usize + 1] += 1;
            }
            for k in 0..CHUNK {
                at[k + 1] += at[k];
            }
            let mut sorted = std::mem::take(&mut s.sorted_cells);
            sorted.clear();
            sorted.resize(cells.len(), (0, 0));
            for &(i, c) in &cells {
                let k = &mut at[i as usize];
                sorted[*k as usize] = (i, c);
                *k += 1;
            }
            s.sorted_cells = cells;
            let cells = sorted;
            out.firings.reserve(cells.len());
            // Sized from each criterion's longest usual text, so that the
            // buffer is not grown (copied) while it fills.
            let wanted_len: usize = cells.iter().map(|&(_, c)| self.text_len[c as usize]).sum();
            let (buf, text) = match &mut out.texts {
                Texts::PerChunk(texts) => {
                    texts.push(String::with_capacity(wanted_len));
                    let buf = (out.first_chunk + off / CHUNK) as u32;
                    (buf, texts.last_mut().expect("just pushed"))
                }
                Texts::One(text) => {
                    text.reserve(wanted_len);
                    (0, text)
                }
            };
            let mut items = std::mem::take(&mut s.items);
            let mut last_slot = u32::MAX;
            for &(i, c) in &cells {
                if i != last_slot {
                    // A new person: the items rendered so far are another's.
                    last_slot = i;
                    items.person += 1;
                }
                let (i, c) = (i as usize, c as usize);
                let start = text.len();
                self.push_evidence(text, s, &mut items, c, i);
                out.firings.push(Firing {
                    patient: people[i],
                    criterion: c as u32,
                    status: out.status[c][off + i],
                    // A chunk's text stays far below 4 GiB, and parts are
                    // sized to keep theirs within `MAX_PART_TEXT`.
                    evidence: TextRef {
                        buf,
                        start: start as u32,
                        len: (text.len() - start) as u32,
                    },
                });
            }
            s.items = items;
            s.cells = cells;
        } else if let Texts::PerChunk(texts) = &mut out.texts {
            texts.push(String::new());
        }
        if let Some(progress) = self.opts.progress {
            progress(n);
        }
    }

    /// Appends the `; `-joined evidence of criterion `c` for slot `i` to `buf`.
    /// An item already rendered for this person (into `buf`, see
    /// [`ItemCache`]) is copied rather than rendered again.
    fn push_evidence(
        &self,
        buf: &mut String,
        s: &Scratch,
        items: &mut ItemCache,
        c: usize,
        i: usize,
    ) {
        let crit = &self.plan.criteria[c];
        let start = buf.len();
        if crit.reads_age {
            buf.push_str("age = ");
            evidence::push_f64(buf, s.age[i]);
        }
        for &a in &crit.evidence {
            if buf.len() > start {
                buf.push_str("; ");
            }
            let (person, at, len) = items.at[a as usize];
            if person == items.person {
                buf.extend_from_within(at as usize..(at + len) as usize);
                continue;
            }
            let cell = self.agg_node[a as usize] * CHUNK + i;
            let value = s.ok[cell].then_some(s.v[cell]);
            let at = buf.len();
            evidence::push_item(
                buf,
                &self.agg_text[a as usize],
                self.tables.func(a),
                value,
                s.evidence_day(a as usize, i),
            );
            items.at[a as usize] = (items.person, at as u32, (buf.len() - at) as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks cover the people once, in order, in whole chunks (but the
    /// last), never above `per_block`, shrinking to a quarter of it at the end.
    #[test]
    fn block_ranges_cover_everyone_and_shrink_at_the_end() {
        for per_block in [CHUNK, 4 * CHUNK, 256 * CHUNK] {
            for n in [0, 1, CHUNK - 1, CHUNK, 5 * CHUNK + 3, 100_000, 607_764] {
                let blocks = block_ranges(n, per_block);
                let mut next = 0;
                for (k, b) in blocks.iter().enumerate() {
                    assert_eq!(b.start, next, "n {n} per_block {per_block}");
                    assert!(!b.is_empty() && b.len() <= per_block);
                    if k + 1 < blocks.len() {
                        assert_eq!(b.len() % CHUNK, 0);
                        assert!(b.len() >= (per_block / 4).max(CHUNK));
                    }
                    next = b.end;
                }
                assert_eq!(next, n);
            }
        }
        let sizes: Vec<usize> = block_ranges(607_764, 16_384)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes[0], 16_384);
        assert!(sizes.iter().rev().take(4).all(|&s| s <= 4096), "{sizes:?}");
    }

    /// The bit formula against the spec's order of tests, for all 8 inputs.
    #[test]
    fn status_code_follows_population_exclude_gap() {
        for p in [false, true] {
            for e in [false, true] {
                for g in [false, true] {
                    let want = if !p {
                        Status::NotInPopulation
                    } else if e {
                        Status::Excluded
                    } else if g {
                        Status::Open
                    } else {
                        Status::Closed
                    };
                    assert_eq!(status_code(p as u8, e as u8, g as u8), want, "{p} {e} {g}");
                }
            }
        }
    }
}
