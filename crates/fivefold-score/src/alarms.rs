//! Sensor alarm episodes from readings and the point registry.
//!
//! Per point: H/L and HH/LL episodes with an on-delay and a deadband,
//! standing alarms, offline (silence or `comm_fail`) and flatline spans. The
//! enterprise-wide flood rule lives with the enterprise state.

use serde::{Deserialize, Serialize};

use crate::config::{Monitoring, RiskModel};
use crate::enterprise::{Contribution, Enterprise, Span, SpanKind};
use crate::keyed::Hint;
use crate::rules::Family;

/// One row of the `alarms` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    /// Deterministic id: `<point>:<kind>:<start ms>`.
    pub alarm_id: String,
    /// Enterprise.
    pub uscc: String,
    /// Point (none for FLOOD).
    pub point_id: Option<String>,
    /// `H`, `L`, `HH`, `LL`, `STANDING`, `FLOOD`, `OFFLINE`, `FLATLINE`.
    pub kind: &'static str,
    /// Start.
    pub start: i64,
    /// End (none while open at the end of input).
    pub end: Option<i64>,
    /// Highest (or lowest) value during the episode.
    pub peak: Option<f64>,
    /// The set point crossed.
    pub set_point: Option<f64>,
}

/// One sensor reading.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// Event time.
    pub t: i64,
    /// The value (none when quality is not good).
    pub value: Option<f64>,
    /// `good`, `bad` or `comm_fail`.
    pub quality: &'a str,
}

/// A registry entry (the latest `monitoring_point` version). `Copy`, so the
/// per-reading path reads it without an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    /// Version time.
    pub t: i64,
    /// unit_level 1..4.
    pub unit_level: Option<i64>,
    /// Set points.
    pub low_low: Option<f64>,
    /// Set points.
    pub low: Option<f64>,
    /// Set points.
    pub high: Option<f64>,
    /// Set points.
    pub high_high: Option<f64>,
    /// Expected period, ms.
    pub period_ms: i64,
    /// Whether the value should move.
    pub flatline_applicable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    high: bool,
    level: u8,
    since: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    high: bool,
    level: u8,
    start: i64,
    peak: f64,
    first_set_point: f64,
    standing: u32,
}

/// The live state of one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointState {
    /// Its registry entry (readings before it arrive are not judged).
    pub registry: Option<Registry>,
    /// Enterprise of the readings.
    pub uscc: String,
    last_t: Option<i64>,
    pending: Option<Pending>,
    active: Option<Episode>,
    offline_since: Option<i64>,
    flat: Option<(f64, i64, bool)>,
    /// Where the enterprise of `uscc` sits in its shard's map.
    #[serde(skip)]
    pub(crate) enterprise_hint: Hint,
}

impl PointState {
    /// A point first seen in a reading of `uscc`.
    pub fn new(uscc: &str) -> PointState {
        PointState {
            registry: None,
            uscc: uscc.to_owned(),
            last_t: None,
            pending: None,
            active: None,
            offline_since: None,
            flat: None,
            enterprise_hint: Hint::default(),
        }
    }

    fn factor(&self, m: &RiskModel) -> f64 {
        match self.registry.as_ref().and_then(|r| r.unit_level) {
            Some(l @ 1..=4) => m.monitoring.unit_level_factor[(l - 1) as usize],
            _ => 1.0,
        }
    }

    /// Applies one reading.
    pub fn reading(
        &mut self,
        m: &RiskModel,
        point_id: &str,
        reading: Reading<'_>,
        ent: &mut Enterprise,
        out: &mut Vec<AlarmRow>,
    ) {
        let Reading { t, value, quality } = reading;
        let Some(reg) = self.registry else { return };
        let factor = self.factor(m);
        let mon = &m.monitoring;
        // A silence longer than the threshold was offline, whether or not a
        // window end fell inside it while it lasted: this reading may come
        // before the window ends after the silence close (within one batch,
        // or while the watermark waits on another partition).
        self.silence(mon, &reg, point_id, t, factor, ent);
        self.last_t = Some(self.last_t.map_or(t, |l| l.max(t)));
        if quality == "comm_fail" {
            if self.offline_since.is_none() {
                self.offline_since = Some(t);
                ent.spans.push(Span {
                    point_id: point_id.to_owned(),
                    kind: SpanKind::Offline,
                    start: t,
                    end: None,
                    factor,
                });
            }
            return;
        }
        let Some(v) = value.filter(|_| quality == "good") else { return };
        if let Some(since) = self.offline_since.take() {
            close_span(ent, point_id, SpanKind::Offline, t);
            out.push(row(&self.uscc, point_id, "OFFLINE", since, Some(t), None, None));
        }
        if reg.flatline_applicable {
            self.flat = match self.flat {
                Some((fv, since, flagged)) if (v - fv).abs() < 1e-9 => {
                    let start = since + mon.flatline_after.0;
                    if !flagged && t >= start {
                        ent.spans.push(Span {
                            point_id: point_id.to_owned(),
                            kind: SpanKind::Flatline,
                            start,
                            end: None,
                            factor,
                        });
                    }
                    Some((fv, since, flagged || t >= start))
                }
                Some((_, since, true)) => {
                    close_span(ent, point_id, SpanKind::Flatline, t);
                    out.push(row(
                        &self.uscc,
                        point_id,
                        "FLATLINE",
                        since + mon.flatline_after.0,
                        Some(t),
                        None,
                        None,
                    ));
                    Some((v, t, false))
                }
                _ => Some((v, t, false)),
            };
        }
        let level_high = if reg.high_high.is_some_and(|x| v >= x) {
            2
        } else if reg.high.is_some_and(|x| v >= x) {
            1
        } else {
            0
        };
        let level_low = if reg.low_low.is_some_and(|x| v <= x) {
            2
        } else if reg.low.is_some_and(|x| v <= x) {
            1
        } else {
            0
        };
        if let Some(ep) = &mut self.active {
            ep.peak = if ep.high { ep.peak.max(v) } else { ep.peak.min(v) };
            let level = if ep.high { level_high } else { level_low };
            if level > ep.level {
                ep.level = level;
                let key = format!("{point_id}:{}:{}", kind_name(ep.high, 2), ep.start);
                ent.contributions.push(mon_contribution(
                    "MON-HH",
                    &key,
                    t,
                    mon.hh_points * factor,
                    mon.decay.0,
                ));
            }
            let band = m.monitoring.deadband_fraction * ep.first_set_point.abs();
            let cleared =
                if ep.high { v < ep.first_set_point - band } else { v > ep.first_set_point + band };
            if cleared {
                let ep = self.active.take();
                if let Some(mut ep) = ep {
                    // What it earned standing since the last window end:
                    // an episode may begin and end between two of them
                    // (within one batch, even).
                    award_standing(m, point_id, &mut ep, t, factor, ent);
                    self.end_episode(m, point_id, &reg, &ep, t, out);
                }
            }
            return;
        }
        let (high, level) = if level_high > 0 { (true, level_high) } else { (false, level_low) };
        if level == 0 {
            self.pending = None;
            return;
        }
        let pending = match self.pending.take() {
            Some(p) if p.high == high => Pending { level: p.level.max(level), ..p },
            _ => Pending { high, level, since: t },
        };
        if t - pending.since < mon.on_delay.0 {
            self.pending = Some(pending);
            return;
        }
        // The episode starts at the first crossing.
        let first_set_point = if high {
            reg.high.or(reg.high_high).unwrap_or(v)
        } else {
            reg.low.or(reg.low_low).unwrap_or(v)
        };
        let start = pending.since;
        let (rule, pts) =
            if pending.level >= 2 { ("MON-HH", mon.hh_points) } else { ("MON-H", mon.h_points) };
        let key = format!("{point_id}:{}:{start}", kind_name(high, pending.level));
        ent.contributions.push(mon_contribution(rule, &key, start, pts * factor, mon.decay.0));
        self.active = Some(Episode {
            high,
            level: pending.level,
            start,
            peak: v,
            first_set_point,
            standing: 0,
        });
        flood(m, &self.uscc, ent, start, out);
    }

    fn end_episode(
        &self,
        m: &RiskModel,
        point_id: &str,
        reg: &Registry,
        ep: &Episode,
        end: i64,
        out: &mut Vec<AlarmRow>,
    ) {
        let kind = kind_name(ep.high, ep.level);
        let set_point = match kind {
            "HH" => reg.high_high,
            "H" => reg.high,
            "LL" => reg.low_low,
            _ => reg.low,
        };
        let end_opt = (end != i64::MAX).then_some(end);
        out.push(row(&self.uscc, point_id, kind, ep.start, end_opt, Some(ep.peak), set_point));
        if ep.standing > 0 {
            let start = standing_at(&m.monitoring, ep, 0);
            out.push(row(
                &self.uscc,
                point_id,
                "STANDING",
                start,
                end_opt,
                Some(ep.peak),
                set_point,
            ));
        }
    }

    /// Timers at window end `now`: standing increments and offline by silence.
    pub fn tick(&mut self, m: &RiskModel, point_id: &str, now: i64, ent: &mut Enterprise) {
        let Some(reg) = self.registry else { return };
        let factor = self.factor(m);
        let mon = &m.monitoring;
        if let Some(ep) = &mut self.active {
            award_standing(m, point_id, ep, now, factor, ent);
        }
        self.silence(mon, &reg, point_id, now, factor, ent);
    }

    /// Offline by silence: nothing heard for longer than the threshold by
    /// `now`. The episode starts when the threshold passed.
    fn silence(
        &mut self,
        mon: &Monitoring,
        reg: &Registry,
        point_id: &str,
        now: i64,
        factor: f64,
        ent: &mut Enterprise,
    ) {
        let (Some(last), None) = (self.last_t, self.offline_since) else { return };
        let threshold = offline_threshold(mon, reg);
        if now - last > threshold {
            let start = last + threshold;
            self.offline_since = Some(start);
            ent.spans.push(Span {
                point_id: point_id.to_owned(),
                kind: SpanKind::Offline,
                start,
                end: None,
                factor,
            });
            ent.time_varying = true;
        }
    }

    /// The earliest moment at which [`PointState::tick`] may change
    /// something (a standing increment, offline by silence), or `None` when
    /// no timer is pending. Early rather than late: a tick at that moment
    /// may still find nothing due.
    pub fn next_timer(&self, m: &RiskModel) -> Option<i64> {
        let reg = self.registry.as_ref()?;
        let mon = &m.monitoring;
        let standing = self
            .active
            .as_ref()
            .filter(|ep| f64::from(ep.standing) < mon.standing_max)
            .map(|ep| standing_at(mon, ep, ep.standing));
        let offline = match (self.last_t, self.offline_since) {
            (Some(last), None) => Some(last.saturating_add(offline_threshold(mon, reg))),
            _ => None,
        };
        match (standing, offline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Rows for what is still open at the end of the input.
    pub fn close_open(&self, m: &RiskModel, point_id: &str, out: &mut Vec<AlarmRow>) {
        if let (Some(ep), Some(reg)) = (&self.active, &self.registry) {
            self.end_episode(m, point_id, reg, ep, i64::MAX, out);
        }
        if let Some(since) = self.offline_since {
            out.push(row(&self.uscc, point_id, "OFFLINE", since, None, None, None));
        }
        if let Some((_, since, true)) = self.flat {
            out.push(row(
                &self.uscc,
                point_id,
                "FLATLINE",
                since + m.monitoring.flatline_after.0,
                None,
                None,
                None,
            ));
        }
    }
}

fn kind_name(high: bool, level: u8) -> &'static str {
    match (high, level >= 2) {
        (true, true) => "HH",
        (true, false) => "H",
        (false, true) => "LL",
        (false, false) => "L",
    }
}

/// How long a point may send nothing before it counts as offline (the one
/// rule for `tick` and for `next_timer`, which must agree on it).
fn offline_threshold(mon: &Monitoring, reg: &Registry) -> i64 {
    (mon.offline_periods * reg.period_ms).max(mon.offline_min.0)
}

/// When an episode's `k`-th standing increment (from 0) falls due.
fn standing_at(mon: &Monitoring, ep: &Episode, k: u32) -> i64 {
    ep.start
        .saturating_add(mon.standing_after.0)
        .saturating_add(i64::from(k).saturating_mul(mon.standing_every.0))
}

/// MON-STANDING: the increments an episode has earned by `now` (active more
/// than `standing_after`, then one per `standing_every`, at most
/// `standing_max`) that it was not yet given.
fn award_standing(
    m: &RiskModel,
    point_id: &str,
    ep: &mut Episode,
    now: i64,
    factor: f64,
    ent: &mut Enterprise,
) {
    let mon = &m.monitoring;
    let active = now - ep.start;
    if active <= mon.standing_after.0 {
        return;
    }
    let due = (1 + (active - mon.standing_after.0) / mon.standing_every.0.max(1)) as u32;
    let due = due.min(mon.standing_max as u32);
    for k in ep.standing..due {
        let at = standing_at(mon, ep, k);
        let key = format!("{point_id}:STANDING:{}:{k}", ep.start);
        ent.contributions.push(mon_contribution(
            "MON-STANDING",
            &key,
            at,
            mon.standing_points * factor,
            mon.decay.0,
        ));
    }
    if due > ep.standing {
        ent.time_varying = true;
    }
    ep.standing = ep.standing.max(due);
}

fn row(
    uscc: &str,
    point_id: &str,
    kind: &'static str,
    start: i64,
    end: Option<i64>,
    peak: Option<f64>,
    set_point: Option<f64>,
) -> AlarmRow {
    AlarmRow {
        alarm_id: format!("{point_id}:{kind}:{start}"),
        uscc: uscc.to_owned(),
        point_id: Some(point_id.to_owned()),
        kind,
        start,
        end,
        peak,
        set_point,
    }
}

fn close_span(ent: &mut Enterprise, point_id: &str, kind: SpanKind, end: i64) {
    if let Some(s) = ent
        .spans
        .iter_mut()
        .rev()
        .find(|s| s.point_id == point_id && s.kind == kind && s.end.is_none())
    {
        s.end = Some(end.max(s.start));
    }
}

fn mon_contribution(rule: &str, key: &str, t: i64, points: f64, half_life: i64) -> Contribution {
    Contribution {
        rule: rule.to_owned(),
        family: Family::Monitoring,
        key: key.to_owned(),
        t,
        at: t,
        points,
        half_life,
        event_ids: vec![key.to_owned()],
        table: "monitoring_reading".to_owned(),
    }
}

/// MON-FLOOD: many episodes in one enterprise within the flood window.
fn flood(m: &RiskModel, uscc: &str, ent: &mut Enterprise, start: i64, out: &mut Vec<AlarmRow>) {
    let mon = &m.monitoring;
    ent.episode_starts.push_back(start);
    while ent.episode_starts.front().is_some_and(|s| *s < start - mon.flood_window.0) {
        ent.episode_starts.pop_front();
    }
    if ent.episode_starts.len() >= mon.flood_episodes
        && ent.last_flood.is_none_or(|f| start - f >= mon.flood_window.0)
    {
        ent.last_flood = Some(start);
        let key = format!("{uscc}:FLOOD:{start}");
        ent.contributions.push(mon_contribution(
            "MON-FLOOD",
            &key,
            start,
            mon.flood_points,
            mon.decay.0,
        ));
        out.push(AlarmRow {
            alarm_id: key,
            uscc: uscc.to_owned(),
            point_id: None,
            kind: "FLOOD",
            start,
            end: Some(start),
            peak: None,
            set_point: None,
        });
    }
}
