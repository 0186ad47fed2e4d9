//! The risk model as configuration (`config/risk-model.toml`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// The built-in reference model.
pub const DEFAULT_MODEL_TOML: &str = include_str!("../../../config/risk-model.toml");

/// A duration in milliseconds, written `"30s"`, `"10m"`, `"24h"`, `"90d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub i64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_millis(&s).map(Millis).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration like \"30s\", \"10m\", \"24h\" or \"90d\""
            ))
        })
    }
}

/// Parses `"500ms"`, `"30s"`, `"10m"`, `"24h"`, `"90d"`.
pub fn parse_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "ms" => 1.0,
        "s" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then(|| (n * mult).round() as i64)
}

/// The whole model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskModel {
    /// Recorded on every score row.
    pub model_version: String,
    /// Colour bands and hysteresis.
    pub scale: Scale,
    /// Windows, watermarks and lateness.
    pub windows: Windows,
    /// Inherent points from the enterprise record.
    pub inherent: Inherent,
    /// Sensor alarm derivation and points.
    pub monitoring: Monitoring,
    /// Hazard state points.
    pub hazards: Hazards,
    /// Override windows.
    pub overrides: Overrides,
    /// Family caps of the rule-based families.
    pub families: Families,
    /// Event rules (SQL predicates and points).
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// `[scale]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Scale {
    pub blue_min: f64,
    pub yellow_min: f64,
    pub orange_min: f64,
    pub hysteresis_points: f64,
    pub hysteresis_dwell: Millis,
}

/// `[windows]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Windows {
    pub score_window: Millis,
    pub out_of_orderness: Millis,
    pub allowed_lateness: Millis,
    pub idle_timeout: Millis,
    pub max_future: Millis,
}

/// `[inherent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Inherent {
    pub cap: f64,
    pub major_hazard_level: [f64; 4],
    pub extra_unit_points: f64,
    pub extra_unit_max: f64,
    pub hazardous_process_points: f64,
    pub hazardous_process_max: f64,
    pub standardization_grade: [f64; 3],
    pub own_rescue_team: f64,
    pub industry: BTreeMap<String, f64>,
}

/// `[monitoring]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Monitoring {
    pub cap: f64,
    pub deadband_fraction: f64,
    pub on_delay: Millis,
    pub h_points: f64,
    pub hh_points: f64,
    pub decay: Millis,
    pub standing_after: Millis,
    pub standing_every: Millis,
    pub standing_points: f64,
    pub standing_max: f64,
    pub flood_episodes: usize,
    pub flood_window: Millis,
    pub flood_points: f64,
    pub offline_min: Millis,
    pub offline_periods: i64,
    pub offline_points_per_hour: f64,
    pub offline_max: f64,
    pub flatline_after: Millis,
    pub flatline_points_per_hour: f64,
    pub flatline_max: f64,
    pub unit_level_factor: [f64; 4],
}

/// `[hazards]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Hazards {
    pub cap: f64,
    pub open_self_points: f64,
    pub open_points: f64,
    pub open_major_points: f64,
    pub open_major_max: f64,
    pub overdue_points: f64,
    pub overdue_points_per_day: f64,
    pub overdue_max_each: f64,
}

/// `[overrides]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Overrides {
    pub large_accident_window: Millis,
    pub fatal_accident_window: Millis,
    pub fatal_accidents_for_red: usize,
}

/// `[families]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Families {
    pub enforcement_cap: f64,
    pub rescue_cap: f64,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Rule id, e.g. `ENF-PENALTY`.
    pub id: String,
    /// The source table the rule reads (`enforcement`, `hazard`, `rescue`).
    pub table: String,
    /// `hazards`, `enforcement` or `rescue`.
    pub family: String,
    /// SQL predicate over the record's columns.
    pub when: String,
    /// SQL expression for the points.
    pub points: String,
    /// Half-life of the points.
    pub decay: Millis,
    /// Timestamp column the decay runs from (default `event_time`).
    #[serde(default)]
    pub at: Option<String>,
    /// Column whose value a later record replaces (default `event_id`).
    #[serde(default)]
    pub key: Option<String>,
}

impl RiskModel {
    /// The reference model.
    pub fn reference() -> Result<RiskModel> {
        Self::from_toml(DEFAULT_MODEL_TOML, "built-in risk model")
    }

    /// Parses a model and checks it (rules compile, numbers make sense).
    pub fn from_toml(text: &str, origin: &str) -> Result<RiskModel> {
        let m: RiskModel = toml::from_str(text).map_err(|e| Error::Config {
            problems: vec![format!("{origin}: {}", e.to_string().trim().replace('\n', " "))],
        })?;
        m.validate()?;
        crate::rules::Rules::compile(&m.rules)?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let mut p = Vec::new();
        let s = &self.scale;
        if !(s.blue_min > s.yellow_min && s.yellow_min > s.orange_min) {
            p.push("scale: blue_min > yellow_min > orange_min must hold".to_owned());
        }
        if self.windows.score_window.0 <= 0 {
            p.push("windows.score_window: must be positive".to_owned());
        }
        for (i, r) in self.rules.iter().enumerate() {
            if !["hazards", "enforcement", "rescue"].contains(&r.family.as_str()) {
                p.push(format!(
                    "rules[{i}] ({}).family: {:?} is not one of hazards, enforcement, rescue",
                    r.id, r.family
                ));
            }
        }
        if p.is_empty() { Ok(()) } else { Err(Error::Config { problems: p }) }
    }
}
