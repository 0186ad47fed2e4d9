//! Output rows and their Arrow batches: `alarms`, `risk_scores`, `late_events`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringArray, StringBuilder,
    StructBuilder, TimestampMillisecondArray, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields};
use arrow::record_batch::RecordBatch;
use fivefold_model::Table;

use crate::alarms::AlarmRow;
use crate::error::{Error, Result};

/// One row of `risk_scores`, borrowed from the enterprise it scores: it is
/// appended to [`ScoreRows`]' builders as its window closes, so nothing is
/// copied into an intermediate row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow<'a> {
    /// Enterprise.
    pub uscc: &'a str,
    /// Its region code.
    pub region_code: &'a str,
    /// Window end; the start is one window earlier.
    pub window_end: i64,
    /// Window length.
    pub window: i64,
    /// 0, then +1 for each re-emission after late records.
    pub revision: i64,
    /// Inherent points.
    pub inherent: f64,
    /// monitoring, hazards, enforcement, rescue.
    pub families: [f64; 4],
    /// risk_points.
    pub risk: f64,
    /// Final colour name.
    pub color: &'static str,
    /// Override ids.
    pub overrides: &'a [&'static str],
    /// Contributions (rule, points, event ids), largest first; the table
    /// keeps the first [`TOP_CONTRIBUTIONS`].
    pub contributions: &'a [(&'a str, f64, Vec<&'a str>)],
}

/// Contributions kept per `risk_scores` row.
pub const TOP_CONTRIBUTIONS: usize = 5;

/// `risk_scores` rows in Arrow builders, waiting to be written.
/// `model_version` and `computed_at` are the same for every row of a batch
/// and are filled in by [`ScoreRows::finish`].
#[derive(Debug)]
pub struct ScoreRows {
    uscc: StringBuilder,
    region: StringBuilder,
    window_start: TimestampMillisecondBuilder,
    window_end: TimestampMillisecondBuilder,
    revision: Int64Builder,
    /// inherent, the four families, risk, safety.
    points: [Float64Builder; 7],
    color: StringBuilder,
    overrides: ListBuilder<StringBuilder>,
    contributions: ListBuilder<StructBuilder>,
    rows: usize,
}

impl Default for ScoreRows {
    fn default() -> Self {
        let fields = contribution_fields();
        let item = StructBuilder::from_fields(fields.clone(), 0);
        let contributions = ListBuilder::new(item).with_field(Arc::new(Field::new(
            "item",
            DataType::Struct(fields),
            true,
        )));
        ScoreRows {
            uscc: StringBuilder::new(),
            region: StringBuilder::new(),
            window_start: ts(),
            window_end: ts(),
            revision: Int64Builder::new(),
            points: std::array::from_fn(|_| Float64Builder::new()),
            color: StringBuilder::new(),
            overrides: ListBuilder::new(StringBuilder::new()),
            contributions,
            rows: 0,
        }
    }
}

/// Points as stored: rounded to six decimals, so that re-runs compare equal.
fn stored(points: f64) -> f64 {
    (points * 1e6).round() / 1e6
}

impl ScoreRows {
    /// Rows waiting.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row waits.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row.
    pub fn push(&mut self, r: &ScoreRow<'_>) {
        self.uscc.append_value(r.uscc);
        self.region.append_value(r.region_code);
        self.window_start.append_value(r.window_end - r.window);
        self.window_end.append_value(r.window_end);
        self.revision.append_value(r.revision);
        let [f0, f1, f2, f3] = r.families;
        let vals = [r.inherent, f0, f1, f2, f3, r.risk, 100.0 - r.risk];
        for (b, v) in self.points.iter_mut().zip(vals) {
            b.append_value(stored(v));
        }
        self.color.append_value(r.color);
        for o in r.overrides {
            self.overrides.values().append_value(o);
        }
        self.overrides.append(true);
        for (rule, points, ids) in r.contributions.iter().take(TOP_CONTRIBUTIONS) {
            let s = self.contributions.values();
            if let Some(b) = s.field_builder::<StringBuilder>(0) {
                b.append_value(rule);
            }
            if let Some(b) = s.field_builder::<Float64Builder>(1) {
                b.append_value(stored(*points));
            }
            if let Some(l) = s.field_builder::<ListBuilder<Box<dyn arrow::array::ArrayBuilder>>>(2)
            {
                if let Some(sb) = l.values().as_any_mut().downcast_mut::<StringBuilder>() {
                    for id in ids {
                        sb.append_value(id);
                    }
                }
                l.append(true);
            }
            s.append(true);
        }
        self.contributions.append(true);
        self.rows += 1;
    }

    /// Drains the rows into a batch, computed at `now_ms` by `model_version`.
    pub fn finish(&mut self, model_version: &str, now_ms: i64) -> Result<RecordBatch> {
        let n = std::mem::take(&mut self.rows);
        let model = StringArray::from_iter_values(std::iter::repeat_n(model_version, n));
        let computed = TimestampMillisecondArray::from(vec![now_ms; n]).with_timezone("UTC");
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.uscc.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.window_start.finish()),
            Arc::new(self.window_end.finish()),
            Arc::new(self.revision.finish()),
            Arc::new(model),
        ];
        for b in &mut self.points {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.color.finish()));
        cols.push(Arc::new(self.overrides.finish()));
        cols.push(Arc::new(self.contributions.finish()));
        cols.push(Arc::new(computed));
        batch(Table::RiskScores, cols)
    }
}

/// One row of `late_events`.
#[derive(Debug, Clone, PartialEq)]
pub struct LateRow {
    /// Source table.
    pub table: &'static str,
    /// Topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: Option<i32>,
    /// Kafka offset.
    pub offset: Option<i64>,
    /// Replay file.
    pub file: Option<String>,
    /// Replay line.
    pub line: Option<i64>,
    /// The enterprise (or region) it concerns.
    pub key: Option<String>,
    /// Its event time.
    pub event_time: i64,
    /// The watermark when it arrived (the wall clock when there was none yet).
    pub watermark: i64,
    /// Why it was not scored.
    pub reason: String,
}

/// Rows waiting to be written.
#[derive(Debug, Default)]
pub struct Output {
    /// Alarm episodes.
    pub alarms: Vec<AlarmRow>,
    /// Score rows.
    pub scores: ScoreRows,
    /// Late and future records.
    pub late: Vec<LateRow>,
}

fn ts() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

fn batch(table: Table, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(table.schema(), cols)
        .map_err(|e| Error::Internal { table: table.name(), message: e.to_string() })
}

impl Output {
    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty() && self.scores.is_empty() && self.late.is_empty()
    }

    /// Drains the rows into batches, computed_at = `now_ms`.
    pub fn take_batches(
        &mut self,
        model_version: &str,
        now_ms: i64,
    ) -> Result<Vec<(Table, RecordBatch)>> {
        let mut out = Vec::new();
        if !self.alarms.is_empty() {
            out.push((Table::Alarms, alarms(&std::mem::take(&mut self.alarms))?));
        }
        if !self.scores.is_empty() {
            out.push((Table::RiskScores, self.scores.finish(model_version, now_ms)?));
        }
        if !self.late.is_empty() {
            out.push((Table::LateEvents, late(&std::mem::take(&mut self.late))?));
        }
        Ok(out)
    }
}

fn alarms(rows: &[AlarmRow]) -> Result<RecordBatch> {
    let (mut id, mut uscc, mut point, mut kind) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut start, mut end) = (ts(), ts());
    let (mut peak, mut sp) = (Float64Builder::new(), Float64Builder::new());
    for r in rows {
        id.append_value(&r.alarm_id);
        uscc.append_value(&r.uscc);
        point.append_option(r.point_id.as_deref());
        kind.append_value(r.kind);
        start.append_value(r.start);
        end.append_option(r.end);
        peak.append_option(r.peak);
        sp.append_option(r.set_point);
    }
    batch(
        Table::Alarms,
        vec![
            Arc::new(id.finish()),
            Arc::new(uscc.finish()),
            Arc::new(point.finish()),
            Arc::new(kind.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(peak.finish()),
            Arc::new(sp.finish()),
        ],
    )
}

fn contribution_fields() -> Fields {
    match fivefold_model::spec::contribution_type() {
        DataType::Struct(f) => f,
        _ => Fields::empty(),
    }
}

fn late(rows: &[LateRow]) -> Result<RecordBatch> {
    let (mut table, mut topic, mut file, mut key, mut reason) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut partition, mut offset, mut line) =
        (Int32Builder::new(), Int64Builder::new(), Int64Builder::new());
    let (mut et, mut wm) = (ts(), ts());
    for r in rows {
        table.append_value(r.table);
        topic.append_value(&r.topic);
        partition.append_option(r.partition);
        offset.append_option(r.offset);
        file.append_option(r.file.as_deref());
        line.append_option(r.line);
        key.append_option(r.key.as_deref());
        et.append_value(r.event_time);
        wm.append_value(r.watermark);
        reason.append_value(&r.reason);
    }
    batch(
        Table::LateEvents,
        vec![
            Arc::new(table.finish()),
            Arc::new(topic.finish()),
            Arc::new(partition.finish()),
            Arc::new(offset.finish()),
            Arc::new(file.finish()),
            Arc::new(line.finish()),
            Arc::new(key.finish()),
            Arc::new(et.finish()),
            Arc::new(wm.finish()),
            Arc::new(reason.finish()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, TimestampMillisecondType};

    use super::*;

    #[test]
    fn score_rows_keep_the_top_contributions_and_start_empty_after_finish() {
        let contributions: Vec<(&str, f64, Vec<&str>)> = (0..7)
            .map(|i| (["R0", "R1", "R2", "R3", "R4", "R5", "R6"][i], 10.0 - i as f64, vec!["e1"]))
            .collect();
        let row = ScoreRow {
            uscc: "91440300708461136T",
            region_code: "320505001000",
            window_end: 600_000,
            window: 300_000,
            revision: 1,
            inherent: 1.234_567_89,
            families: [1.0, 2.0, 3.0, 4.0],
            risk: 25.0,
            color: "yellow",
            overrides: &["OVR-FATAL"],
            contributions: &contributions,
        };
        let mut rows = ScoreRows::default();
        rows.push(&row);
        rows.push(&ScoreRow { revision: 2, overrides: &[], contributions: &[], ..row.clone() });
        assert_eq!(rows.len(), 2);
        let batch = rows.finish("m-1", 42).unwrap();
        assert!(rows.is_empty());
        assert_eq!(batch.num_rows(), 2);
        let col = |n: &str| batch.column_by_name(n).unwrap();
        let ts = |n: &str, i: usize| col(n).as_primitive::<TimestampMillisecondType>().value(i);
        assert_eq!(
            (ts("window_start", 0), ts("window_end", 0), ts("computed_at", 1)),
            (300_000, 600_000, 42)
        );
        assert_eq!(col("model_version").as_string::<i32>().value(1), "m-1");
        assert_eq!(col("inherent_points").as_primitive::<Float64Type>().value(0), 1.234_568);
        assert_eq!(col("safety_score").as_primitive::<Float64Type>().value(0), 75.0);
        let overrides = col("overrides").as_list::<i32>();
        assert_eq!((overrides.value(0).len(), overrides.value(1).len()), (1, 0));
        let contribs = col("contributions").as_list::<i32>();
        assert_eq!((contribs.value(0).len(), contribs.value(1).len()), (TOP_CONTRIBUTIONS, 0));
        let first = contribs.value(0);
        let rules = first.as_struct().column(0).as_string::<i32>();
        assert_eq!(rules.value(4), "R4");
        // The builders start over: the next batch holds only what came after.
        rows.push(&row);
        assert_eq!(rows.finish("m-1", 43).unwrap().num_rows(), 1);
    }
}
