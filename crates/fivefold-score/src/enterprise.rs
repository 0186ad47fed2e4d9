//! Per-enterprise state and the score as of any moment of event time.
//!
//! The state keeps what happened (enterprise versions, hazard versions,
//! decaying contributions, incidents, suspensions, offline and flatline
//! spans) rather than a running total, so the score at time `t` is a pure
//! function of it. That is what lets a late record re-emit past windows.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::RiskModel;
use crate::rules::Family;

/// Colours, best to worst.
pub const COLOR_NAMES: [&str; 4] = ["blue", "yellow", "orange", "red"];

/// Points that decay: one rule firing for one event (or alarm episode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Rule id.
    pub rule: String,
    /// Family.
    pub family: Family,
    /// What a later record with the same key replaces.
    pub key: String,
    /// Event time from which it counts.
    pub t: i64,
    /// Time the decay runs from.
    pub at: i64,
    /// Points before decay.
    pub points: f64,
    /// Half-life, ms (0: no decay).
    pub half_life: i64,
    /// The events behind it.
    pub event_ids: Vec<String>,
    /// The table whose rule made it (for replacement by key).
    pub table: String,
}

impl Contribution {
    /// Points at `t` (0 before it counts).
    pub fn at_time(&self, t: i64) -> f64 {
        if t < self.t {
            return 0.0;
        }
        if self.half_life <= 0 {
            return self.points;
        }
        let age = (t - self.at).max(0) as f64;
        self.points * (-(age / self.half_life as f64)).exp2()
    }
}

/// One version of the enterprise record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntVersion {
    /// Event time.
    pub t: i64,
    /// Its event id.
    pub event_id: String,
    /// Region code.
    pub region_code: String,
    /// Industry.
    pub industry: String,
    /// Major hazard level 0..4.
    pub major_hazard_level: i64,
    /// Major hazard units.
    pub major_hazard_units: i64,
    /// Hazardous processes.
    pub hazardous_processes: i64,
    /// Standardisation grade 0..3.
    pub standardization_grade: i64,
    /// Own rescue team.
    pub own_rescue_team: bool,
    /// Regulator-assigned colour, used as a floor.
    pub official_color: Option<String>,
}

/// One version of a hazard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazVersion {
    /// Event time.
    pub t: i64,
    /// Its event id.
    pub event_id: String,
    /// `major` level.
    pub major: bool,
    /// Found by the enterprise itself.
    pub found_by_self: bool,
    /// Rectification deadline.
    pub deadline: Option<i64>,
    /// `accepted` or `closed`.
    pub ended: bool,
}

/// The latest revision of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Event time of the revision.
    pub t: i64,
    /// Revision number.
    pub revision: i64,
    /// When it happened.
    pub occurred_at: i64,
    /// Deaths.
    pub deaths: i64,
    /// 493号令 grade.
    pub grade: String,
}

/// Offline or flatline time of one sensor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpanKind {
    /// No readings, or `comm_fail`.
    Offline,
    /// Unchanged value.
    Flatline,
}

/// A time span during which a point was offline or flat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The point.
    pub point_id: String,
    /// Offline or flatline.
    pub kind: SpanKind,
    /// Start.
    pub start: i64,
    /// End, while open `None`.
    pub end: Option<i64>,
    /// unit_level factor.
    pub factor: f64,
}

/// Colour with hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyst {
    /// Current colour index (0 blue .. 3 red), before overrides.
    pub color: u8,
    /// Since when the score has been inside a better band.
    pub better_since: Option<i64>,
}

/// A row already emitted for a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emitted {
    /// Revision.
    pub revision: i64,
    /// risk_points in hundredths.
    pub risk_cents: i64,
    /// Final colour.
    pub color: u8,
    /// Overrides applied.
    pub overrides: Vec<String>,
}

/// Everything known about one enterprise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enterprise {
    /// Enterprise record versions, oldest first.
    pub versions: Vec<EntVersion>,
    /// Hazard versions by hazard id, oldest first.
    pub hazards: BTreeMap<String, Vec<HazVersion>>,
    /// Decaying points.
    pub contributions: Vec<Contribution>,
    /// Incidents by id.
    pub incidents: BTreeMap<String, Incident>,
    /// Suspensions: (from, until).
    pub suspensions: Vec<(i64, i64)>,
    /// Offline and flatline spans.
    pub spans: Vec<Span>,
    /// Alarm episode starts in the flood window.
    pub episode_starts: VecDeque<i64>,
    /// Last flood.
    pub last_flood: Option<i64>,
    /// Hysteresis state after the last evaluated window.
    pub hyst: Option<Hyst>,
    /// Hysteresis state after each evaluated window, within the lateness.
    pub hyst_log: BTreeMap<i64, Hyst>,
    /// Rows emitted per window end, within the lateness.
    pub emitted: BTreeMap<i64, Emitted>,
    /// The last row emitted.
    pub last: Option<Emitted>,
    /// Window ends that had an event.
    pub dirty: Vec<i64>,
    /// Earliest window end to re-emit because of a late record.
    pub reemit_from: Option<i64>,
    /// Whether the last evaluation depended on time (decay, deadlines, spans).
    pub time_varying: bool,
}

/// A score as of one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Score<'a> {
    /// Region code of the enterprise.
    pub region_code: &'a str,
    /// Inherent points (capped).
    pub inherent: f64,
    /// Family points (capped): monitoring, hazards, enforcement, rescue.
    pub families: [f64; 4],
    /// risk_points.
    pub risk: f64,
    /// safety_score.
    pub safety: f64,
    /// Banded colour before hysteresis and overrides.
    pub banded: u8,
    /// Floor from overrides.
    pub floor: u8,
    /// Override ids applied.
    pub overrides: Vec<&'static str>,
    /// (rule, points, event ids), all of them, largest first. Borrowed from
    /// the enterprise: most evaluations emit nothing, so nothing is copied
    /// until a row is.
    pub contributions: Vec<(&'a str, f64, Vec<&'a str>)>,
    /// Depends on time even without new records.
    pub time_varying: bool,
}

fn family_index(f: Family) -> usize {
    match f {
        Family::Monitoring => 0,
        Family::Hazards => 1,
        Family::Enforcement => 2,
        Family::Rescue => 3,
    }
}

/// Colour index of a safety score.
pub fn band(m: &RiskModel, safety: f64) -> u8 {
    if safety >= m.scale.blue_min {
        0
    } else if safety >= m.scale.yellow_min {
        1
    } else if safety >= m.scale.orange_min {
        2
    } else {
        3
    }
}

/// Lower safety bound of a colour band.
fn band_min(m: &RiskModel, color: u8) -> f64 {
    match color {
        0 => m.scale.blue_min,
        1 => m.scale.yellow_min,
        2 => m.scale.orange_min,
        _ => f64::NEG_INFINITY,
    }
}

/// One hysteresis step at window end `t`: a colour rises at once, and falls
/// only after the score has been `hysteresis_points` inside the better band
/// for `hysteresis_dwell` of event time.
pub fn hysteresis(m: &RiskModel, prev: Option<Hyst>, banded: u8, safety: f64, t: i64) -> Hyst {
    let Some(h) = prev else { return Hyst { color: banded, better_since: None } };
    if banded >= h.color {
        return Hyst { color: banded, better_since: None };
    }
    let better = h.color - 1;
    if safety >= band_min(m, better) + m.scale.hysteresis_points {
        let since = h.better_since.unwrap_or(t);
        if t - since >= m.scale.hysteresis_dwell.0 {
            Hyst { color: banded, better_since: None }
        } else {
            Hyst { color: h.color, better_since: Some(since) }
        }
    } else {
        Hyst { color: h.color, better_since: None }
    }
}

impl Enterprise {
    /// The latest enterprise version as of `t`.
    pub fn version_at(&self, t: i64) -> Option<&EntVersion> {
        self.versions.iter().rev().find(|v| v.t <= t)
    }

    /// The score as of `t`; `None` before the first enterprise record.
    pub fn score<'a>(&'a self, m: &RiskModel, t: i64) -> Option<Score<'a>> {
        let v = self.version_at(t)?;
        let mut contribs: Vec<(&'a str, f64, Vec<&'a str>)> = Vec::new();
        let mut add = |rule: &'a str, points: f64, ids: &mut dyn Iterator<Item = &'a String>| {
            if points.abs() < 1e-9 {
                return;
            }
            match contribs.iter_mut().find(|c| c.0 == rule) {
                Some(c) => {
                    c.1 += points;
                    for id in ids {
                        if c.2.len() < 10 && !c.2.contains(&id.as_str()) {
                            c.2.push(id);
                        }
                    }
                }
                None => contribs.push((rule, points, ids.take(10).map(String::as_str).collect())),
            }
        };
        let mut time_varying = false;

        // Inherent.
        let inh = &m.inherent;
        let ids = std::slice::from_ref(&v.event_id);
        let mut inherent = 0.0;
        let mut part = |rule: &'static str, p: f64, total: &mut f64| {
            *total += p;
            add(rule, p, &mut ids.iter());
        };
        if (1..=4).contains(&v.major_hazard_level) {
            let extra = (inh.extra_unit_points * (v.major_hazard_units - 1).max(0) as f64)
                .min(inh.extra_unit_max);
            part(
                "INH-MAJOR-HAZARD",
                inh.major_hazard_level[(v.major_hazard_level - 1) as usize] + extra,
                &mut inherent,
            );
        }
        part(
            "INH-PROCESSES",
            (inh.hazardous_process_points * v.hazardous_processes as f64)
                .min(inh.hazardous_process_max),
            &mut inherent,
        );
        part("INH-INDUSTRY", inh.industry.get(&v.industry).copied().unwrap_or(0.0), &mut inherent);
        if (1..=3).contains(&v.standardization_grade) {
            part(
                "INH-STANDARDIZATION",
                inh.standardization_grade[(v.standardization_grade - 1) as usize],
                &mut inherent,
            );
        }
        if v.own_rescue_team {
            part("INH-RESCUE-TEAM", inh.own_rescue_team, &mut inherent);
        }
        let inherent = inherent.min(inh.cap);

        // Decaying contributions.
        let mut fam = [0.0f64; 4];
        for c in &self.contributions {
            let p = c.at_time(t);
            if p > 0.0 {
                fam[family_index(c.family)] += p;
                add(&c.rule, p, &mut c.event_ids.iter());
                if c.half_life > 0 && p > 1e-3 {
                    time_varying = true;
                }
            }
        }

        // Offline and flatline spans count while open at `t`.
        let mon = &m.monitoring;
        let (mut offline, mut flat) = (0.0f64, 0.0f64);
        for s in &self.spans {
            if s.start <= t && s.end.is_none_or(|e| e > t) {
                let hours = (t - s.start) as f64 / 3.6e6;
                match s.kind {
                    SpanKind::Offline => offline += mon.offline_points_per_hour * hours * s.factor,
                    SpanKind::Flatline => flat += mon.flatline_points_per_hour * hours * s.factor,
                }
                time_varying = true;
            }
        }
        let (offline, flat) = (offline.min(mon.offline_max), flat.min(mon.flatline_max));
        add("MON-OFFLINE", offline, &mut std::iter::empty());
        add("MON-FLATLINE", flat, &mut std::iter::empty());
        fam[0] += offline + flat;

        // Hazard state.
        let hz = &m.hazards;
        let mut overrides: Vec<&'static str> = Vec::new();
        let mut floor = 0u8;
        let mut majors = 0usize;
        let mut major_ids = Vec::new();
        for versions in self.hazards.values() {
            let Some(h) = versions.iter().rev().find(|h| h.t <= t) else { continue };
            if h.ended {
                continue;
            }
            time_varying |= h.deadline.is_some();
            let overdue = h.deadline.is_some_and(|d| d < t);
            let ids = std::slice::from_ref(&h.event_id);
            if h.major {
                majors += 1;
                major_ids.push(&h.event_id);
                if overdue && !overrides.contains(&"OVR-MAJOR-OVERDUE") {
                    overrides.push("OVR-MAJOR-OVERDUE");
                    floor = floor.max(3);
                }
            } else if overdue {
                let days = (t - h.deadline.unwrap_or(t)) as f64 / 86_400_000.0;
                let p =
                    (hz.overdue_points + hz.overdue_points_per_day * days).min(hz.overdue_max_each);
                fam[1] += p;
                add("HAZ-OVERDUE", p, &mut ids.iter());
            } else if h.found_by_self {
                fam[1] += hz.open_self_points;
                add("HAZ-OPEN-SELF", hz.open_self_points, &mut ids.iter());
            } else {
                fam[1] += hz.open_points;
                add("HAZ-OPEN", hz.open_points, &mut ids.iter());
            }
        }
        let major_points = (hz.open_major_points * majors as f64).min(hz.open_major_max);
        fam[1] += major_points;
        add("HAZ-OPEN-MAJOR", major_points, &mut major_ids.into_iter());

        let caps = [mon.cap, hz.cap, m.families.enforcement_cap, m.families.rescue_cap];
        for (f, cap) in fam.iter_mut().zip(caps) {
            *f = f.min(cap);
        }
        let risk = (inherent + fam.iter().sum::<f64>()).clamp(0.0, 100.0);
        let safety = 100.0 - risk;

        // Overrides.
        let ov = &m.overrides;
        let mut fatal = 0usize;
        let mut large = false;
        for i in self.incidents.values().filter(|i| i.t <= t) {
            if t - i.occurred_at <= ov.large_accident_window.0 && i.occurred_at <= t {
                time_varying = true;
                large |= i.grade != "general";
            }
            if i.deaths > 0 && t - i.occurred_at <= ov.fatal_accident_window.0 && i.occurred_at <= t
            {
                time_varying = true;
                fatal += 1;
            }
        }
        if large || fatal >= ov.fatal_accidents_for_red {
            overrides.push("OVR-LARGE-ACCIDENT");
            floor = floor.max(3);
        }
        if fatal > 0 {
            overrides.push("OVR-FATAL");
            floor = floor.max(2);
        }
        if self.suspensions.iter().any(|(from, until)| *from <= t && t < *until) {
            overrides.push("OVR-SUSPENDED");
            floor = floor.max(2);
        }
        time_varying |= self.suspensions.iter().any(|(_, until)| *until >= t);
        if let Some(c) =
            v.official_color.as_deref().and_then(|c| COLOR_NAMES.iter().position(|n| *n == c))
        {
            if c > 0 {
                overrides.push("OVR-OFFICIAL");
            }
            floor = floor.max(c as u8);
        }
        contribs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(b.0)));
        Some(Score {
            region_code: &v.region_code,
            inherent,
            families: fam,
            risk,
            safety,
            banded: band(m, safety),
            floor,
            overrides,
            contributions: contribs,
            time_varying,
        })
    }

    /// Drops what can no longer change a score at or after `horizon`.
    pub fn prune(&mut self, horizon: i64) {
        if let Some(keep) = self.versions.iter().rposition(|v| v.t <= horizon) {
            self.versions.drain(..keep);
        }
        self.hazards.retain(|_, vs| {
            if let Some(keep) = vs.iter().rposition(|v| v.t <= horizon) {
                vs.drain(..keep);
            }
            !(vs.len() == 1 && vs[0].ended && vs[0].t <= horizon)
        });
        self.contributions.retain(|c| c.half_life <= 0 || c.at_time(horizon.max(c.t)) > 1e-4);
        self.spans.retain(|s| s.end.is_none_or(|e| e > horizon));
        self.hyst_log = self.hyst_log.split_off(&horizon);
        self.emitted = self.emitted.split_off(&horizon);
    }
}
