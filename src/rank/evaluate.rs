//! Scoring list orders by what happens next (`caregap rank evaluate`): on a
//! generated population, whose `outcomes.parquet` holds each person's
//! adverse outcomes in the year after `as_of` and the generator's true
//! probabilities, how many of those outcomes fall on the people a clinic
//! would reach at a given capacity.
//!
//! Every order picks from the same people: those on the clinic's list (open
//! gaps, not excluded). Orders: `benefit` (the default order), `additive`
//! (the old score), `random` (seeded, by a hash of seed and person) and
//! `oracle` (the generator's expected events, highest first; ties by the
//! `benefit` order). Per clinic and capacity: the people reached, their
//! outcomes (MI, stroke, major bleeding, hyperkalaemia admission), the share
//! of the clinic's outcomes that is (denominator: everyone of the clinic
//! alive on `as_of`, listed or not), their emergency visits, and the
//! expected events prevented had their gaps been closed (the generator's
//! `preventable`). Pure: the caller reads the files.

use super::calllist::Ranked;
use super::columns::{self, ColumnError, IdIndex};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use std::path::Path;
use std::sync::Arc;

/// The default capacities (people called per clinic).
pub const CAPACITIES: [usize; 3] = [50, 200, 1000];

/// One person's next year, from `outcomes.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NextYear {
    /// Expected MI, stroke, bleeding and hyperkalaemia events (true probabilities).
    pub expected: f64,
    /// Expected events prevented had every open gap been closed.
    pub preventable: f64,
    /// MI + stroke + bleeding + hyperkalaemia events drawn.
    pub events: u32,
    pub emergency: u32,
}

/// Reads `outcomes.parquet` into patients order (`None`: no row, e.g. dead).
pub fn next_year(
    b: &RecordBatch,
    file: &Path,
    index: &IdIndex,
    n: usize,
) -> Result<Vec<Option<NextYear>>, ColumnError> {
    let who = index.lookup_all(&columns::patient_ids(b, file)?, file)?;
    let num = |c| columns::floats(b, c, file);
    let cnt = |c| columns::counts(b, c, file);
    let (expected, preventable) = (num("expected_events")?, num("preventable")?);
    let (mi, stroke, bleed, hyperk, emergency) = (
        cnt("mi")?,
        cnt("stroke")?,
        cnt("bleeding")?,
        cnt("hyperkalaemia")?,
        cnt("emergency")?,
    );
    let mut out = vec![None; n];
    for (r, p) in who.iter().enumerate() {
        let Some(p) = p else {
            return Err(ColumnError(format!(
                "{}: row {}: patient_id is not in patients (outcomes of another population?)",
                file.display(),
                r + 1
            )));
        };
        out[*p as usize] = Some(NextYear {
            expected: expected[r].unwrap_or(0.0),
            preventable: preventable[r].unwrap_or(0.0),
            events: (mi[r] + stroke[r] + bleed[r] + hyperk[r]) as u32,
            emergency: emergency[r] as u32,
        });
    }
    Ok(out)
}

/// Each clinic's people in list order (clinic index → person indices).
pub fn lists(r: &Ranked, n_clinics: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n_clinics];
    for e in &r.entries {
        out[e.clinic as usize].push(e.person);
    }
    out
}

/// SplitMix64: the random order's key of a person for a seed.
fn mix(seed: u64, person: u32) -> u64 {
    let mut z = seed ^ (u64::from(person).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The same people in a seeded random order.
pub fn random_order(list: &[u32], seed: u64) -> Vec<u32> {
    let mut v = list.to_vec();
    v.sort_by_key(|&p| (mix(seed, p), p));
    v
}

/// The same people by expected events, highest first (stable: ties keep `list` order).
pub fn oracle_order(list: &[u32], next: &[Option<NextYear>]) -> Vec<u32> {
    let key = |p: u32| next[p as usize].map_or(0.0, |x| x.expected);
    let mut v = list.to_vec();
    v.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    v
}

/// One line of the evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub clinic: String,
    pub order: String,
    pub capacity: usize,
    /// People reached: min(capacity, list length).
    pub reached: usize,
    pub events_reached: u64,
    /// Outcomes of every person of the clinic alive on `as_of`.
    pub events_clinic: u64,
    pub emergency_reached: u64,
    pub expected_reached: f64,
    pub prevented_reached: f64,
}

impl Capture {
    /// Share of the clinic's outcomes among the people reached (0 when none).
    pub fn share(&self) -> f64 {
        if self.events_clinic == 0 {
            0.0
        } else {
            self.events_reached as f64 / self.events_clinic as f64
        }
    }
}

/// Captures of each order (name, per-clinic lists) at each capacity, per
/// clinic and for all clinics together (clinic `ALL`: the sums).
pub fn capture(
    orders: &[(&str, Vec<Vec<u32>>)],
    clinics: &[String],
    clinic_of: &[u32],
    next: &[Option<NextYear>],
    capacities: &[usize],
) -> Vec<Capture> {
    let mut clinic_events = vec![0u64; clinics.len()];
    for (p, x) in next.iter().enumerate() {
        if let Some(x) = x {
            clinic_events[clinic_of[p] as usize] += u64::from(x.events);
        }
    }
    let mut out = Vec::new();
    for (name, lists) in orders {
        for &cap in capacities {
            let mut all = Capture {
                clinic: "ALL".into(),
                order: name.to_string(),
                capacity: cap,
                reached: 0,
                events_reached: 0,
                events_clinic: clinic_events.iter().sum(),
                emergency_reached: 0,
                expected_reached: 0.0,
                prevented_reached: 0.0,
            };
            for (ci, clinic) in clinics.iter().enumerate() {
                let list = lists.get(ci).map_or(&[][..], Vec::as_slice);
                let reached = &list[..cap.min(list.len())];
                let mut c = Capture {
                    clinic: clinic.clone(),
                    order: name.to_string(),
                    capacity: cap,
                    reached: reached.len(),
                    events_reached: 0,
                    events_clinic: clinic_events[ci],
                    emergency_reached: 0,
                    expected_reached: 0.0,
                    prevented_reached: 0.0,
                };
                for x in reached.iter().filter_map(|&p| next[p as usize]) {
                    c.events_reached += u64::from(x.events);
                    c.emergency_reached += u64::from(x.emergency);
                    c.expected_reached += x.expected;
                    c.prevented_reached += x.preventable;
                }
                all.reached += c.reached;
                all.events_reached += c.events_reached;
                all.emergency_reached += c.emergency_reached;
                all.expected_reached += c.expected_reached;
                all.prevented_reached += c.prevented_reached;
                out.push(c);
            }
            out.push(all);
        }
    }
    out
}

/// The evaluation as a table (`evaluation.parquet`).
pub fn capture_batch(rows: &[Capture]) -> Result<RecordBatch, ArrowError> {
    let schema = Schema::new(vec![
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("order", DataType::Utf8, false),
        Field::new("capacity", DataType::UInt64, false),
        Field::new("reached", DataType::UInt64, false),
        Field::new("events_reached", DataType::UInt64, false),
        Field::new("events_clinic", DataType::UInt64, false),
        Field::new("share", DataType::Float64, false),
        Field::new("emergency_reached", DataType::UInt64, false),
        Field::new("expected_reached", DataType::Float64, false),
        Field::new("prevented_reached", DataType::Float64, false),
    ]);
    let u = |f: &dyn Fn(&Capture) -> u64| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<UInt64Array>())
    };
    let fl = |f: &dyn Fn(&Capture) -> f64| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    };
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.clinic.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.order.as_str()))
                    .collect::<StringArray>(),
            ),
            u(&|r| r.capacity as u64),
            u(&|r| r.reached as u64),
            u(&|r| r.events_reached),
            u(&|r| r.events_clinic),
            fl(&|r| r.share()),
            u(&|r| r.emergency_reached),
            fl(&|r| r.expected_reached),
            fl(&|r| r.prevented_reached),
        ],
    )
}

/// Places (1-based ranks within the clinic) of the people `urgent` marks, in an order.
pub fn places(lists: &[Vec<u32>], urgent: &[bool]) -> Vec<u32> {
    let mut out = Vec::new();
    for list in lists {
        for (i, &p) in list.iter().enumerate() {
            if urgent[p as usize] {
                out.push(i as u32 + 1);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The `q` quantile (nearest rank) of sorted places; 0 when empty.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny(expected: f64, events: u32) -> Option<NextYear> {
        Some(NextYear {
            expected,
            preventable: expected / 2.0,
            events,
            emergency: events,
        })
    }

    #[test]
    fn capture_counts_the_people_reached_per_clinic_and_in_all() {
        // Clinic 0: persons 0..4, clinic 1: 4..6; person 5 not listed.
        let clinic_of = [0, 0, 0, 0, 1, 1];
        let next = [
            ny(0.1, 0),
            ny(0.5, 1),
            None,
            ny(0.2, 1),
            ny(0.3, 1),
            ny(0.9, 2),
        ];
        let clinics = vec!["A".to_string(), "B".to_string()];
        let lists = vec![vec![0, 1, 3], vec![4]];
        let rows = capture(&[("x", lists)], &clinics, &clinic_of, &next, &[1, 2]);
        let get = |c: &str, cap| {
            rows.iter()
                .find(|r| r.clinic == c && r.capacity == cap)
                .unwrap()
        };
        assert_eq!(get("A", 1).events_reached, 0);
        assert_eq!(get("A", 2).events_reached, 1);
        assert_eq!(get("A", 2).events_clinic, 2);
        assert_eq!(get("A", 2).share(), 0.5);
        assert_eq!(get("B", 2).reached, 1);
        assert_eq!(get("B", 2).events_clinic, 3);
        let all = get("ALL", 2);
        assert_eq!(
            (all.reached, all.events_reached, all.events_clinic),
            (3, 2, 5)
        );
        assert!((all.expected_reached - 0.9).abs() < 1e-12);
        assert!((all.prevented_reached - 0.45).abs() < 1e-12);
    }

    #[test]
    fn random_and_oracle_orders_keep_the_people() {
        let list: Vec<u32> = (0..50).collect();
        let next: Vec<Option<NextYear>> = (0..50).map(|i| ny(f64::from(i % 7), 0)).collect();
        let r = random_order(&list, 1);
        assert_ne!(r, list);
        assert_eq!(r, random_order(&list, 1));
        assert_ne!(r, random_order(&list, 2));
        let mut s = r.clone();
        s.sort_unstable();
        assert_eq!(s, list);
        let o = oracle_order(&list, &next);
        assert!(o.windows(2).all(|w| {
            next[w[0] as usize].unwrap().expected >= next[w[1] as usize].unwrap().expected
        }));
        // Ties keep the given order.
        assert_eq!(&o[..2], &[6, 13]);
    }

    #[test]
    fn places_and_quantiles() {
        let lists = vec![vec![5, 1, 2], vec![3, 4]];
        let urgent = [false, true, false, false, true, false];
        let p = places(&lists, &urgent);
        assert_eq!(p, vec![2, 2]);
        assert_eq!(quantile(&[1, 2, 3, 4, 10], 0.5), 3);
        assert_eq!(quantile(&[1, 2, 3, 4, 10], 0.9), 10);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}
