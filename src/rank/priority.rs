//! The priority score and the deterministic order of a call list.
//!
//! A person on a list has at least one open, non-resting gap. Their score is a
//! whole number, the sum of three parts, each shown on the list:
//!
//! ```text
//! score = gaps + risk + utilisation
//! gaps        = top_gap × (highest priority among the gaps)
//!             + other_gaps × (sum of the priorities of the other gaps)
//! risk        = points of the ESC risk band (none when no band)
//! utilisation = points of the utilisation tier (none when no tier)
//! ```
//!
//! Defaults: `top_gap = 10`, `other_gaps = 2`; band points low-to-moderate 0,
//! high 10, very high 20; tier points top 1% 15, top 5% 10, top 20% 5, rest 0.
//! So the most important gap leads (a priority-8 gap = 80 points), further gaps
//! add a little (a second priority-5 gap = 10), and risk and heavy use of care
//! move people up within and across neighbouring priority levels.
//!
//! Order: score descending, then highest gap priority descending, then the
//! patient id ascending (numerically for integer ids, byte-wise for text ids).

use super::risk::UtilTier;
use super::score2::RiskBand;
use serde::Deserialize;

/// Points per risk band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandPoints {
    pub low_to_moderate: u32,
    pub high: u32,
    pub very_high: u32,
}

impl Default for BandPoints {
    fn default() -> Self {
        BandPoints {
            low_to_moderate: 0,
            high: 10,
            very_high: 20,
        }
    }
}

/// Points per utilisation tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierPoints {
    pub top1: u32,
    pub top5: u32,
    pub top20: u32,
    pub rest: u32,
}

impl Default for TierPoints {
    fn default() -> Self {
        TierPoints {
            top1: 15,
            top5: 10,
            top20: 5,
            rest: 0,
        }
    }
}

/// The weights of the score (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub top_gap: u32,
    pub other_gaps: u32,
    pub band: BandPoints,
    pub tier: TierPoints,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            top_gap: 10,
            other_gaps: 2,
            band: BandPoints::default(),
            tier: TierPoints::default(),
        }
    }
}

/// A person's score, part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Score {
    pub gaps: u32,
    pub risk: u32,
    pub utilisation: u32,
    pub max_priority: u8,
}

impl Score {
    pub fn total(&self) -> u32 {
        self.gaps + self.risk + self.utilisation
    }
}

/// Scores a person from the priorities of their listed gaps.
pub fn score(
    priorities: impl IntoIterator<Item = u8>,
    band: Option<RiskBand>,
    tier: Option<UtilTier>,
    w: &Weights,
) -> Score {
    let (mut max, mut sum) = (0u8, 0u32);
    for p in priorities {
        max = max.max(p);
        sum += u32::from(p);
    }
    let gaps = w.top_gap * u32::from(max) + w.other_gaps * (sum - u32::from(max));
    let risk = match band {
        None => 0,
        Some(RiskBand::LowToModerate) => w.band.low_to_moderate,
        Some(RiskBand::High) => w.band.high,
        Some(RiskBand::VeryHigh) => w.band.very_high,
    };
    let utilisation = match tier {
        None => 0,
        Some(UtilTier::Top1) => w.tier.top1,
        Some(UtilTier::Top5) => w.tier.top5,
        Some(UtilTier::Top20) => w.tier.top20,
        Some(UtilTier::Rest) => w.tier.rest,
    };
    Score {
        gaps,
        risk,
        utilisation,
        max_priority: max,
    }
}

/// The order of the module docs: `a` before `b` when `Less`. `id_order` compares
/// the two people's patient ids.
pub fn list_order(a: &Score, b: &Score, id_order: std::cmp::Ordering) -> std::cmp::Ordering {
    b.total()
        .cmp(&a.total())
        .then(b.max_priority.cmp(&a.max_priority))
        .then(id_order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_parts_follow_the_documented_formula() {
        let w = Weights::default();
        let s = score([5, 8, 3], Some(RiskBand::High), Some(UtilTier::Top5), &w);
        assert_eq!(
            s,
            Score {
                gaps: 80 + 2 * (5 + 3),
                risk: 10,
                utilisation: 10,
                max_priority: 8
            }
        );
        assert_eq!(s.total(), 116);
        assert_eq!(score([], None, None, &w).total(), 0);
    }

    #[test]
    fn order_is_score_then_priority_then_id() {
        use std::cmp::Ordering::*;
        let a = Score {
            gaps: 50,
            risk: 20,
            utilisation: 0,
            max_priority: 5,
        };
        let b = Score {
            gaps: 70,
            risk: 0,
            utilisation: 0,
            max_priority: 7,
        };
        // Same total: the higher priority first, whatever the ids.
        assert_eq!(list_order(&b, &a, Greater), Less);
        assert_eq!(list_order(&a, &b, Less), Greater);
        // Same everything: ids decide.
        assert_eq!(list_order(&a, &a, Less), Less);
        let c = Score { risk: 21, ..a };
        assert_eq!(list_order(&c, &b, Greater), Less);
    }
}
