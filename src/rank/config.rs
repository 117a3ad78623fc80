//! Ranking configuration (`--config FILE`, TOML) and clinic capacities
//! (`--capacities FILE`, CSV or TOML). Parsed from text: the CLI reads files.
//!
//! ```toml
//! # rank.toml: every key optional; these are the defaults
//! predictions = "model/predictions.parquet"  # optional: utilisation from the model
//! [cooldown_days]
//! booked = 90
//! declined = 365
//! no_answer = 14
//! not_reachable = 30
//! [weights]
//! top_gap = 10
//! other_gaps = 2
//! band = { low_to_moderate = 0, high = 10, very_high = 20 }
//! tier = { top1 = 15, top5 = 10, top20 = 5, rest = 0 }
//! order = "benefit"              # or "additive": the old score (top level key)
//! [benefit]
//! urgent_priority = 9            # a gap of this priority or above: urgent band
//! fallback = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
//! [benefit.criteria]             # criterion id -> effect (or "none")
//! "MY.BP_CRITERION" = "bp_lowering"
//! ```
//!
//! (`order` is a top-level key: write it before the first table.)
//!
//! Capacities, CSV (header required, one row per clinic):
//! `clinic_id,capacity` — or TOML: `default = 40` and `[clinics]` `"C01" = 25`.
//! A clinic without a capacity gets the default; with no default, the whole list.

use super::benefit::{BenefitConfig, Order};
use super::exclusions::Cooldowns;
use super::priority::Weights;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankConfig {
    /// A predictions file (`patient_id`, `predicted_visits`), relative to the config file.
    pub predictions: Option<String>,
    pub cooldown_days: Cooldowns,
    pub weights: Weights,
    /// The list order (`--order` overrides).
    pub order: Order,
    pub benefit: BenefitConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Toml { file: String, message: String },
    #[error("{file}, line {line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
}

impl RankConfig {
    pub fn parse(file: &str, text: &str) -> Result<RankConfig, ConfigError> {
        let c: RankConfig = toml::from_str(text).map_err(|e| ConfigError::Toml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        c.benefit.validate().map_err(|message| ConfigError::Toml {
            file: file.to_string(),
            message,
        })?;
        Ok(c)
    }
}

/// Per-clinic list lengths.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacities {
    #[serde(default)]
    pub default: Option<u32>,
    #[serde(default)]
    pub clinics: BTreeMap<String, u32>,
}

impl Capacities {
    /// The capacity of a clinic: its own, else the default, else unlimited.
    pub fn of(&self, clinic: &str) -> Option<u32> {
        self.clinics.get(clinic).copied().or(self.default)
    }

    /// Parses a capacity file; `.csv` files as CSV, anything else as TOML.
    pub fn parse(file: &str, text: &str) -> Result<Capacities, ConfigError> {
        if !file.to_ascii_lowercase().ends_with(".csv") {
            return toml::from_str(text).map_err(|e| ConfigError::Toml {
                file: file.to_string(),
                message: e.to_string(),
            });
        }
        let err = |line: usize, message: String| ConfigError::Csv {
            file: file.to_string(),
            line,
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let header: Vec<String> = match lines.next() {
            Some((_, h)) => h
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect(),
            None => {
                return Err(err(
                    1,
                    "empty file: expected the header clinic_id,capacity".into(),
                ));
            }
        };
        if header != ["clinic_id", "capacity"] {
            return Err(err(
                1,
                format!("header is {header:?}: expected clinic_id,capacity"),
            ));
        }
        let mut out = Capacities::default();
        for (i, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [clinic, cap] = fields[..] else {
                return Err(err(
                    i + 1,
                    format!("expected 2 fields, found {}", fields.len()),
                ));
            };
            let cap: u32 = cap.parse().map_err(|_| {
                err(
                    i + 1,
                    format!("capacity {cap:?} is not a whole number >= 0"),
                )
            })?;
            if out.clinics.insert(clinic.to_string(), cap).is_some() {
                return Err(err(i + 1, format!("clinic {clinic:?} appears twice")));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_overrides() {
        let c = RankConfig::parse("r.toml", "").unwrap();
        assert_eq!(c, RankConfig::default());
        assert_eq!(c.cooldown_days.declined, 365);
        let c = RankConfig::parse(
            "r.toml",
            "[cooldown_days]\nno_answer = 7\n[weights.band]\nhigh = 12\n",
        )
        .unwrap();
        assert_eq!(c.cooldown_days.no_answer, 7);
        assert_eq!(c.cooldown_days.booked, 90);
        assert_eq!(c.weights.band.high, 12);
        assert_eq!(c.weights.band.very_high, 20);
        let e = RankConfig::parse("r.toml", "[cooldown_days]\nnoanswer = 7\n").unwrap_err();
        assert!(e.to_string().contains("r.toml"), "{e}");
        let c = RankConfig::parse(
            "r.toml",
            "order = \"additive\"\n[benefit]\nurgent_priority = 10\n",
        )
        .unwrap();
        assert_eq!(c.order, Order::Additive);
        assert_eq!(c.benefit.urgent_priority, 10);
        let e = RankConfig::parse("r.toml", "[benefit]\nurgent_priority = 11\n").unwrap_err();
        assert!(e.to_string().contains("urgent_priority"), "{e}");
    }

    #[test]
    fn capacities_from_csv_and_toml() {
        let c = Capacities::parse("cap.csv", "clinic_id,capacity\nC01,25\n\nC02, 3\n").unwrap();
        assert_eq!(
            (c.of("C01"), c.of("C02"), c.of("C03")),
            (Some(25), Some(3), None)
        );
        let c = Capacities::parse("cap.toml", "default = 40\n[clinics]\nC01 = 25\n").unwrap();
        assert_eq!((c.of("C01"), c.of("C03")), (Some(25), Some(40)));
        let e = Capacities::parse("cap.csv", "clinic_id,capacity\nC01,-1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cap.csv, line 2: capacity \"-1\" is not a whole number >= 0"
        );
        assert!(Capacities::parse("cap.csv", "clinic,cap\n").is_err());
        assert!(Capacities::parse("cap.csv", "clinic_id,capacity\nA,1\nA,2\n").is_err());
    }
}
