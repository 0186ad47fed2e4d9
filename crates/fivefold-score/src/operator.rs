//! The scoring operator: event time, watermarks, windows, lateness.
//!
//! State is kept per shard. A shard is a Kafka partition number (partition p
//! of every topic holds the same enterprises) or, in replay, shard 0. Within
//! a shard each source (a topic-partition, or a replay file) has its own
//! watermark, `max event time - out_of_orderness`; the shard's watermark is
//! the minimum over the sources that are not finished or idle. When it
//! passes the end of a scoring window, the window closes: timers fire
//! (offline, standing alarms, deadlines, hysteresis dwell all show up in the
//! evaluation at the window end) and a score row is emitted for every
//! enterprise that had an event or whose score moved.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use fivefold_model::Table;
use serde::{Deserialize, Serialize};

use crate::alarms::{PointState, Reading, Registry};
use crate::config::RiskModel;
use crate::enterprise::{
    COLOR_NAMES, Contribution, EntVersion, Enterprise, HazVersion, Incident, hysteresis,
};
use crate::error::{Error, Result};
use crate::keyed::Keyed;
use crate::output::{LateRow, Output, ScoreRow, ScoreRows};
use crate::rules::Rules;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Source {
    max_t: i64,
    finished: bool,
    #[serde(skip)]
    last_seen: Option<Instant>,
}

/// The state of one shard; serialised into the lake at every commit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Shard {
    sources: BTreeMap<String, Source>,
    watermark: Option<i64>,
    next_close: Option<i64>,
    min_t: Option<i64>,
    closed: u64,
    enterprises: Keyed<Enterprise>,
    points: Keyed<PointState>,
}

impl Shard {
    /// Moves `source`'s max event time to `batch_max` (once per batch).
    fn moved(&mut self, source: &str, batch_max: i64) {
        if let Some(src) = self.sources.get_mut(source) {
            src.max_t = src.max_t.max(batch_max);
        }
    }

    /// Notes that `source` delivered a batch now (for idleness).
    fn seen(&mut self, source: &str) {
        let src = self.sources.entry(source.to_owned()).or_insert(Source {
            max_t: i64::MIN,
            finished: false,
            last_seen: None,
        });
        src.last_seen = Some(Instant::now());
    }
}

/// The operator.
pub struct Scorer {
    model: Arc<RiskModel>,
    rules: Rules,
    shards: BTreeMap<i32, Shard>,
    out: Output,
    /// The wall clock, epoch ms, as last told by [`Scorer::set_clock`]:
    /// records further ahead of it than `windows.max_future` are quarantined.
    now: i64,
}

/// Column accessors by name, for one batch.
struct Cols<'a>(&'a RecordBatch);

impl<'a> Cols<'a> {
    fn str(&self, name: &str, row: usize) -> Option<&'a str> {
        let c = self.0.column_by_name(name)?.as_string_opt::<i32>()?;
        c.is_valid(row).then(|| c.value(row))
    }
    fn ts(&self, name: &str, row: usize) -> Option<i64> {
        let c = self.0.column_by_name(name)?.as_primitive_opt::<TimestampMillisecondType>()?;
        c.is_valid(row).then(|| c.value(row))
    }
    fn i64(&self, name: &str, row: usize) -> Option<i64> {
        let c = self.0.column_by_name(name)?.as_primitive_opt::<Int64Type>()?;
        c.is_valid(row).then(|| c.value(row))
    }
    fn i32(&self, name: &str, row: usize) -> Option<i32> {
        let c = self.0.column_by_name(name)?.as_primitive_opt::<Int32Type>()?;
        c.is_valid(row).then(|| c.value(row))
    }
    fn f64(&self, name: &str, row: usize) -> Option<f64> {
        let c = self.0.column_by_name(name)?.as_primitive_opt::<Float64Type>()?;
        c.is_valid(row).then(|| c.value(row))
    }
    fn bool(&self, name: &str, row: usize) -> Option<bool> {
        let c = self.0.column_by_name(name)?.as_boolean_opt()?;
        c.is_valid(row).then(|| c.value(row))
    }
}

/// Marks the window ending at `window_end` for evaluation: re-emitted if it
/// has already closed (`last_closed`), else evaluated when it closes.
fn mark_window(ent: &mut Enterprise, window_end: i64, last_closed: Option<i64>) {
    if last_closed.is_some_and(|lc| window_end <= lc) {
        ent.reemit_from = Some(ent.reemit_from.map_or(window_end, |r| r.min(window_end)));
    } else if !ent.dirty.contains(&window_end) {
        ent.dirty.push(window_end);
    }
}

/// The value of a nullable string column at `row`.
fn str_at(a: Option<&arrow::array::StringArray>, row: usize) -> Option<&str> {
    a.and_then(|a| a.is_valid(row).then(|| a.value(row)))
}

/// Why a record at `t` is not applied with the shard at watermark `wm` and
/// the wall clock at `now`: too far ahead of either (quarantined: a sensor
/// with a wrong clock must not drag the watermark forward, least of all
/// before the first watermark exists) or too late; `None` when it is applied.
fn late_reason(m: &RiskModel, wm: Option<i64>, now: i64, t: i64) -> Option<String> {
    if t > now.saturating_add(m.windows.max_future.0) {
        return Some(format!(
            "event_time is {} ahead of the clock, more than windows.max_future ({}): quarantined",
            fmt_duration(t - now),
            fmt_duration(m.windows.max_future.0)
        ));
    }
    let wm = wm?;
    if t > wm + m.windows.max_future.0 {
        Some(format!(
            "event_time is {} ahead of the watermark, more than windows.max_future ({}): quarantined",
            fmt_duration(t - wm),
            fmt_duration(m.windows.max_future.0)
        ))
    } else if wm - t > m.windows.allowed_lateness.0 {
        Some(format!(
            "event_time is {} behind the watermark, beyond windows.allowed_lateness ({})",
            fmt_duration(wm - t),
            fmt_duration(m.windows.allowed_lateness.0)
        ))
    } else {
        None
    }
}

/// Before a shard has a watermark, where a batch's event times stop being
/// contiguous: walking up from the median, the last time before a gap wider
/// than `max_future`. Records beyond that gap are quarantined as they would
/// be once the watermark exists (`None` once it does, or for an empty batch).
/// A batch that spans a year densely keeps all of it; one record from year
/// 9999 among today's does not become the watermark.
///
/// Only readings are judged so: a sensor stream is dense, and a gap of more
/// than a day inside one of its batches is a clock fault. Registry and case
/// records are sparse (an enterprise revision days after the rest of its
/// batch is normal), and are accepted before the first watermark as before.
fn cold_reference(
    wm: Option<i64>,
    max_future: i64,
    times: &arrow::array::TimestampMillisecondArray,
) -> Option<i64> {
    if wm.is_some() {
        return None;
    }
    let mut ts: Vec<i64> = times.iter().flatten().collect();
    ts.sort_unstable();
    let mut top = *ts.get(ts.len() / 2)?;
    for &t in &ts[ts.len() / 2..] {
        if t > top.saturating_add(max_future) {
            break;
        }
        top = t;
    }
    Some(top)
}

/// Why a reading at `t` that arrives before its shard has a watermark is
/// quarantined: more than `windows.max_future` beyond `reference`, the rest
/// of its batch (see [`cold_reference`]). A replay has no clock, and one
/// reading from year 9999 would otherwise set the watermark there and make
/// everything after it late.
fn cold_reason(m: &RiskModel, reference: i64, t: i64) -> Option<String> {
    (t > reference.saturating_add(m.windows.max_future.0)).then(|| {
        format!(
            "event_time is {} ahead of the rest of the first batch, more than \
             windows.max_future ({}): quarantined",
            fmt_duration(t - reference),
            fmt_duration(m.windows.max_future.0)
        )
    })
}

/// The `late_events` row of one record.
fn late_row(
    table: Table,
    c: &Cols<'_>,
    row: usize,
    key: Option<&str>,
    t: i64,
    wm: i64,
    reason: String,
) -> LateRow {
    LateRow {
        table: table.name(),
        topic: c.str("_topic", row).unwrap_or_default().to_owned(),
        partition: c.i32("_partition", row),
        offset: c.i64("_offset", row),
        file: c.str("_file", row).map(str::to_owned),
        line: c.i64("_line", row),
        key: key.map(str::to_owned),
        event_time: t,
        watermark: wm,
        reason,
    }
}

fn fmt_duration(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 86_400 {
        format!("{:.1}d", s as f64 / 86_400.0)
    } else if s >= 3600 {
        format!("{:.1}h", s as f64 / 3600.0)
    } else {
        format!("{s}s")
    }
}

impl Scorer {
    /// An operator for a model.
    pub fn new(model: RiskModel) -> Result<Scorer> {
        let rules = Rules::compile(&model.rules)?;
        Ok(Scorer {
            model: Arc::new(model),
            rules,
            shards: BTreeMap::new(),
            out: Output::default(),
            now: i64::MAX,
        })
    }

    /// Drops the rows waiting to be written (after a refused commit, the
    /// shards are restored from the lake and these rows come again).
    pub fn discard_output(&mut self) {
        self.out = Output::default();
    }

    /// Tells the operator the wall clock (epoch ms). Until it is told, no
    /// record counts as ahead of the clock.
    pub fn set_clock(&mut self, now_ms: i64) {
        self.now = now_ms;
    }

    /// The model.
    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    /// The state key of a shard in the lake.
    pub fn state_key(shard: i32) -> String {
        format!("scoring/{shard}")
    }

    /// Serialises a shard's state.
    pub fn snapshot(&self, shard: i32) -> Option<Vec<u8>> {
        self.shards.get(&shard).and_then(|s| serde_json::to_vec(s).ok())
    }

    /// Restores a shard from a snapshot.
    pub fn restore(&mut self, shard: i32, bytes: &[u8]) -> Result<()> {
        let mut s: Shard = serde_json::from_slice(bytes)
            .map_err(|e| Error::Snapshot { key: Self::state_key(shard), message: e.to_string() })?;
        // Idle time restarts with the process.
        for src in s.sources.values_mut() {
            src.last_seen = Some(Instant::now());
        }
        self.shards.insert(shard, s);
        Ok(())
    }

    /// Forgets a shard (its partition went to another instance).
    pub fn drop_shard(&mut self, shard: i32) {
        self.shards.remove(&shard);
    }

    /// The shards held.
    pub fn shards(&self) -> Vec<i32> {
        self.shards.keys().copied().collect()
    }

    /// Declares a source that will hold the watermark back until it delivers.
    /// A source restored as finished (the end of an earlier backfill) is open
    /// again: more may come.
    pub fn register_source(&mut self, shard: i32, source: &str) {
        self.shards
            .entry(shard)
            .or_default()
            .sources
            .entry(source.to_owned())
            .or_insert(Source { max_t: i64::MIN, finished: false, last_seen: Some(Instant::now()) })
            .finished = false;
    }

    /// A source has no more records (a replay file at its end).
    pub fn finish_source(&mut self, shard: i32, source: &str) {
        if let Some(s) = self.shards.get_mut(&shard).and_then(|s| s.sources.get_mut(source)) {
            s.finished = true;
        }
    }

    /// Applies one validated batch of a source table.
    pub fn process(
        &mut self,
        shard: i32,
        source: &str,
        table: Table,
        batch: &RecordBatch,
    ) -> Result<()> {
        if batch.num_rows() == 0 || table.fields().is_none() {
            return Ok(());
        }
        if table == Table::MonitoringReading {
            self.process_readings(shard, source, batch);
            return Ok(());
        }
        let hits = self.rules.eval(table, batch)?;
        let m = Arc::clone(&self.model);
        let sh = self.shards.entry(shard).or_default();
        sh.seen(source);
        // The source's max event time moves once per batch, not once per row
        // (the lateness checks below compare with the shard watermark, which
        // only `advance` moves).
        let mut batch_max = i64::MIN;
        let c = Cols(batch);
        let w = m.windows.score_window.0;
        let last_closed = sh.next_close.map(|n| n - w);
        let mut hit_at = 0;
        // The keys of this table's rules, each once.
        let mut replacing: Vec<&str> = self
            .rules
            .rules()
            .iter()
            .filter(|r| r.table == table)
            .map(|r| r.key.as_str())
            .collect();
        replacing.sort_unstable();
        replacing.dedup();
        for row in 0..batch.num_rows() {
            let row_hits_start = hit_at;
            while hit_at < hits.len() && hits[hit_at].row == row {
                hit_at += 1;
            }
            let Some(t) = c.ts("event_time", row) else { continue };
            let key = c.str("uscc", row).or_else(|| c.str("region_code", row));
            if let Some(reason) = late_reason(&m, sh.watermark, self.now, t) {
                let wm = sh.watermark.unwrap_or(self.now);
                self.out.late.push(late_row(table, &c, row, key, t, wm, reason));
                continue;
            }
            batch_max = batch_max.max(t);
            sh.min_t = Some(sh.min_t.map_or(t, |x| x.min(t)));
            let window_end = (t.div_euclid(w) + 1) * w;
            match table {
                Table::MonitoringPoint => {
                    let (Some(pid), Some(u)) = (c.str("point_id", row), c.str("uscc", row)) else {
                        continue;
                    };
                    let p = sh.points.get_or_insert_with(pid, || PointState::new(u));
                    if p.registry.as_ref().is_none_or(|r| r.t <= t) {
                        p.uscc = u.to_owned();
                        p.registry = Some(Registry {
                            t,
                            unit_level: c.i64("unit_level", row),
                            low_low: c.f64("low_low", row),
                            low: c.f64("low", row),
                            high: c.f64("high", row),
                            high_high: c.f64("high_high", row),
                            period_ms: c.i64("expected_period_s", row).unwrap_or(30) * 1000,
                            flatline_applicable: c
                                .bool("flatline_applicable", row)
                                .unwrap_or(false),
                        });
                    }
                }
                _ => {
                    let Some(u) = c.str("uscc", row) else { continue };
                    let ent = sh.enterprises.get_or_insert_with(u, Enterprise::default);
                    apply_record(table, &c, row, t, ent);
                    // Rule hits: a record supersedes what earlier records with
                    // the same key contributed (a later revision of an
                    // incident; the same event_id sent twice), and is itself
                    // superseded by a later one that came first.
                    let mut stale: Vec<&str> = Vec::new();
                    for k in &replacing {
                        let Some(v) = c.str(k, row) else { continue };
                        let name = table.name();
                        if ent
                            .contributions
                            .iter()
                            .any(|x| x.table == name && x.key == v && x.t > t)
                        {
                            stale.push(k);
                            continue;
                        }
                        ent.contributions.retain(|x| !(x.table == name && x.key == v && x.t <= t));
                    }
                    for h in &hits[row_hits_start..hit_at] {
                        let r = &self.rules.rules()[h.rule];
                        if stale.contains(&r.key.as_str()) {
                            continue;
                        }
                        let keyv = c.str(&r.key, row).unwrap_or_default().to_owned();
                        ent.contributions.push(Contribution {
                            rule: r.id.clone(),
                            family: r.family,
                            key: keyv,
                            t,
                            at: c.ts(&r.at, row).unwrap_or(t),
                            points: h.points,
                            half_life: r.half_life_ms,
                            event_ids: c
                                .str("event_id", row)
                                .map(|e| vec![e.to_owned()])
                                .unwrap_or_default(),
                            table: table.name().to_owned(),
                        });
                    }
                    mark_window(ent, window_end, last_closed);
                }
            }
        }
        sh.moved(source, batch_max);
        Ok(())
    }

    /// `process` for `monitoring_reading`, the high-volume table: columns
    /// are resolved once per batch, and a row costs one point lookup and one
    /// enterprise lookup with no allocation (rules never match readings; their
    /// points come from the alarms they raise).
    fn process_readings(&mut self, shard: i32, source: &str, batch: &RecordBatch) {
        let m = Arc::clone(&self.model);
        let sh = self.shards.entry(shard).or_default();
        sh.seen(source);
        let c = Cols(batch);
        let col = |name: &str| batch.column_by_name(name);
        let times =
            col("event_time").and_then(|a| a.as_primitive_opt::<TimestampMillisecondType>());
        let usccs = col("uscc").and_then(|a| a.as_string_opt::<i32>());
        let (Some(times), Some(usccs)) = (times, usccs) else { return };
        let points = col("point_id").and_then(|a| a.as_string_opt::<i32>());
        let values = col("value").and_then(|a| a.as_primitive_opt::<Float64Type>());
        let quality = col("quality").and_then(|a| a.as_string_opt::<i32>());
        let w = m.windows.score_window.0;
        let last_closed = sh.next_close.map(|n| n - w);
        let mut batch_max = i64::MIN;
        let reference = cold_reference(sh.watermark, m.windows.max_future.0, times);
        for row in 0..batch.num_rows() {
            if !times.is_valid(row) {
                continue;
            }
            let t = times.value(row);
            let u = str_at(Some(usccs), row);
            let reason = late_reason(&m, sh.watermark, self.now, t)
                .or_else(|| reference.and_then(|r| cold_reason(&m, r, t)));
            if let Some(reason) = reason {
                let wm = sh.watermark.or(reference).unwrap_or(self.now);
                self.out.late.push(late_row(Table::MonitoringReading, &c, row, u, t, wm, reason));
                continue;
            }
            batch_max = batch_max.max(t);
            sh.min_t = Some(sh.min_t.map_or(t, |x| x.min(t)));
            let window_end = (t.div_euclid(w) + 1) * w;
            let Some(pid) = str_at(points, row) else { continue };
            let u = u.unwrap_or_default();
            // One hash lookup (the point's; its enterprise is found through
            // its hint); a key is copied only when new.
            let p = sh.points.get_or_insert_with(pid, || PointState::new(u));
            let ent =
                sh.enterprises.get_or_insert_hinted(u, &mut p.enterprise_hint, Enterprise::default);
            let value = values.and_then(|v| v.is_valid(row).then(|| v.value(row)));
            let r = Reading { t, value, quality: str_at(quality, row).unwrap_or("good") };
            p.reading(&m, pid, r, ent, &mut self.out.alarms);
            mark_window(ent, window_end, last_closed);
        }
        sh.moved(source, batch_max);
    }

    /// Re-emits windows hit by late records, then closes every window the
    /// watermark has passed.
    pub fn advance(&mut self, shard: i32, idle_ms: Option<i64>) {
        let m = Arc::clone(&self.model);
        let Some(sh) = self.shards.get_mut(&shard) else { return };
        let ooo = m.windows.out_of_orderness.0;
        let wm = sh
            .sources
            .values()
            .filter(|s| !s.finished)
            .filter(|s| {
                idle_ms.is_none_or(|idle| {
                    s.last_seen.is_none_or(|l| (l.elapsed().as_millis() as i64) < idle)
                })
            })
            .map(|s| s.max_t.saturating_sub(ooo))
            .min();
        let wm = match wm {
            Some(w) if w > i64::MIN / 2 => w,
            Some(_) => return,
            // Every source finished or idle: everything seen so far is final.
            None => match sh.sources.values().map(|s| s.max_t).max() {
                Some(t) if t > i64::MIN => t,
                _ => return,
            },
        };
        sh.watermark = Some(sh.watermark.map_or(wm, |old| old.max(wm)));
        self.reemit(shard);
        self.close_until(shard);
    }

    fn reemit(&mut self, shard: i32) {
        let m = Arc::clone(&self.model);
        let w = m.windows.score_window.0;
        let Some(sh) = self.shards.get_mut(&shard) else { return };
        let Some(next) = sh.next_close else { return };
        let last_closed = next - w;
        let scores = &mut self.out.scores;
        sh.enterprises.for_each_mut(|uscc, ent| {
            let Some(from) = ent.reemit_from.take() else { return };
            ent.hyst = ent.hyst_log.range(..from).next_back().map(|(_, h)| *h);
            let mut we = from;
            while we <= last_closed {
                let force = we == from || ent.emitted.contains_key(&we);
                evaluate(&m, uscc, ent, we, force, scores);
                we += w;
            }
        });
    }

    fn close_until(&mut self, shard: i32) {
        let m = Arc::clone(&self.model);
        let w = m.windows.score_window.0;
        let Some(sh) = self.shards.get_mut(&shard) else { return };
        let (Some(wm), Some(min_t)) = (sh.watermark, sh.min_t) else { return };
        let mut next = sh.next_close.unwrap_or((min_t.div_euclid(w) + 1) * w);
        while next <= wm {
            // While closing, note the earliest moment at which a later close
            // can do anything (`None`: at the very next window). Windows
            // before it would close without a change or a row, so they are
            // skipped: one record from 1970 in a cold start's first batch
            // must not make the shard walk every window since.
            let mut busy_from = Some(i64::MAX);
            let mut busy_at = |t: Option<i64>| {
                busy_from = match (busy_from, t) {
                    (Some(b), Some(t)) => Some(b.min(t)),
                    _ => None,
                }
            };
            let enterprises = &mut sh.enterprises;
            sh.points.for_each_mut(|pid, p| {
                // Every point at every window end: no allocation unless the enterprise is new.
                let ent = enterprises.get_or_insert_hinted(
                    &p.uscc,
                    &mut p.enterprise_hint,
                    Enterprise::default,
                );
                p.tick(&m, pid, next, ent);
                if let Some(t) = p.next_timer(&m) {
                    busy_at(Some(t));
                }
            });
            let scores = &mut self.out.scores;
            sh.enterprises.for_each_mut(|uscc, ent| {
                let dirty = ent.dirty.iter().any(|d| *d <= next);
                ent.dirty.retain(|d| *d > next);
                if dirty || ent.time_varying || ent.last.is_none() {
                    evaluate(&m, uscc, ent, next, dirty, scores);
                }
                if ent.time_varying {
                    busy_at(None);
                } else {
                    if let Some(d) = ent.dirty.iter().min() {
                        busy_at(Some(*d));
                    }
                    if ent.last.is_none()
                        && let Some(v) = ent.versions.first()
                    {
                        // Its first row, once it has a version.
                        busy_at(Some(v.t.max(next + 1)));
                    }
                }
            });
            sh.closed += 1;
            if sh.closed.is_multiple_of(64) {
                let horizon = next - m.windows.allowed_lateness.0 - 2 * w;
                for e in sh.enterprises.values_mut() {
                    e.prune(horizon);
                }
            }
            next += w;
            if let Some(t) = busy_from {
                // The first window end at or after `t`, or just past the
                // watermark when nothing is due before it.
                let due = t.saturating_add(w - 1).div_euclid(w).saturating_mul(w);
                let past_wm = (wm.div_euclid(w) + 1) * w;
                next = next.max(due.min(past_wm));
            }
        }
        sh.next_close = Some(next);
    }

    /// End of input: every source is final; close the last windows and
    /// report alarm episodes that are still open.
    pub fn flush(&mut self, shard: i32) {
        let m = Arc::clone(&self.model);
        let w = m.windows.score_window.0;
        let Some(sh) = self.shards.get_mut(&shard) else { return };
        let Some(max_t) = sh.sources.values().map(|s| s.max_t).max().filter(|t| *t > i64::MIN)
        else {
            return;
        };
        for s in sh.sources.values_mut() {
            s.finished = true;
        }
        sh.watermark = Some((max_t.div_euclid(w) + 1) * w);
        self.reemit(shard);
        self.close_until(shard);
        if let Some(sh) = self.shards.get(&shard) {
            for (pid, p) in sh.points.iter() {
                p.close_open(&m, pid, &mut self.out.alarms);
            }
        }
    }

    /// The shard's watermark.
    pub fn watermark(&self, shard: i32) -> Option<i64> {
        self.shards.get(&shard).and_then(|s| s.watermark)
    }

    /// How many window ends the shard has closed (quiet windows skipped
    /// are not counted).
    pub fn windows_closed(&self, shard: i32) -> u64 {
        self.shards.get(&shard).map_or(0, |s| s.closed)
    }

    /// Drains the output rows as batches.
    pub fn take_output(&mut self, now_ms: i64) -> Result<Vec<(Table, RecordBatch)>> {
        let version = self.model.model_version.clone();
        self.out.take_batches(&version, now_ms)
    }
}

/// Applies a record of the enterprise, hazard, enforcement or rescue table.
fn apply_record(table: Table, c: &Cols<'_>, row: usize, t: i64, ent: &mut Enterprise) {
    let event_id = c.str("event_id", row).unwrap_or_default().to_owned();
    match table {
        Table::Enterprise => {
            let v = EntVersion {
                t,
                event_id,
                region_code: c.str("region_code", row).unwrap_or_default().to_owned(),
                industry: c.str("industry", row).unwrap_or_default().to_owned(),
                major_hazard_level: c.i64("major_hazard_level", row).unwrap_or(0),
                major_hazard_units: c.i64("major_hazard_units", row).unwrap_or(0),
                hazardous_processes: c.i64("hazardous_processes", row).unwrap_or(0),
                standardization_grade: c.i64("standardization_grade", row).unwrap_or(0),
                own_rescue_team: c.bool("own_rescue_team", row).unwrap_or(false),
                official_color: c.str("official_color", row).map(str::to_owned),
            };
            let at = ent.versions.partition_point(|x| x.t <= t);
            ent.versions.insert(at, v);
        }
        Table::Hazard => {
            let Some(id) = c.str("hazard_id", row) else { return };
            let state = c.str("state", row).unwrap_or("open");
            let v = HazVersion {
                t,
                event_id,
                major: c.str("level", row) == Some("major"),
                found_by_self: c.str("found_by", row) == Some("self"),
                deadline: c.ts("deadline", row),
                ended: matches!(state, "accepted" | "closed"),
            };
            let vs = ent.hazards.entry(id.to_owned()).or_default();
            let at = vs.partition_point(|x| x.t <= t);
            vs.insert(at, v);
        }
        Table::Enforcement => {
            if c.str("record_type", row) == Some("suspension")
                && let Some(until) = c.ts("suspended_until", row)
            {
                ent.suspensions.push((t, until));
            }
        }
        Table::Rescue => {
            let Some(id) = c.str("incident_id", row) else { return };
            let revision = c.i64("revision", row).unwrap_or(0);
            if ent.incidents.get(id).is_none_or(|i| i.revision <= revision) {
                ent.incidents.insert(
                    id.to_owned(),
                    Incident {
                        t,
                        revision,
                        occurred_at: c.ts("occurred_at", row).unwrap_or(t),
                        deaths: c.i64("deaths", row).unwrap_or(0),
                        grade: c.str("grade", row).unwrap_or("general").to_owned(),
                    },
                );
            }
        }
        _ => {}
    }
}

/// Evaluates one enterprise at a window end and emits a row when it had an
/// event (`force`) or its score, colour or overrides moved.
fn evaluate(
    m: &RiskModel,
    uscc: &str,
    ent: &mut Enterprise,
    we: i64,
    force: bool,
    out: &mut ScoreRows,
) {
    let Some(s) = ent.score(m, we) else { return };
    let h = hysteresis(m, ent.hyst, s.banded, s.safety, we);
    let time_varying = s.time_varying || h.better_since.is_some();
    let color = h.color.max(s.floor);
    let cents = (s.risk * 100.0).round() as i64;
    let changed = ent
        .last
        .as_ref()
        .is_none_or(|l| l.risk_cents != cents || l.color != color || l.overrides != s.overrides);
    // The row borrows from the enterprise (through the score): it is
    // appended before the enterprise is updated.
    let emitted = (force || changed).then(|| {
        let revision = ent.emitted.get(&we).map_or(0, |e| e.revision + 1);
        out.push(&ScoreRow {
            uscc,
            region_code: s.region_code,
            window_end: we,
            window: m.windows.score_window.0,
            revision,
            inherent: s.inherent,
            families: s.families,
            risk: s.risk,
            color: COLOR_NAMES[color as usize],
            overrides: &s.overrides,
            contributions: &s.contributions,
        });
        crate::enterprise::Emitted {
            revision,
            risk_cents: cents,
            color,
            overrides: s.overrides.iter().map(|o| (*o).to_owned()).collect(),
        }
    });
    ent.hyst = Some(h);
    ent.hyst_log.insert(we, h);
    ent.time_varying = time_varying;
    if let Some(emitted) = emitted {
        ent.emitted.insert(we, emitted.clone());
        ent.last = Some(emitted);
    }
}
