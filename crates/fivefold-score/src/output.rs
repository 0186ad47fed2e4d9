//! Output rows and their Arrow batches: `alarms`, `risk_scores`, `late_events`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    StructBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields};
use arrow::record_batch::RecordBatch;
use fivefold_model::Table;

use crate::alarms::AlarmRow;
use crate::error::{Error, Result};

/// One row of `risk_scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// Enterprise.
    pub uscc: String,
    /// Its region code.
    pub region_code: String,
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
    pub overrides: Vec<String>,
    /// Top contributions (rule, points, event ids).
    pub contributions: Vec<(String, f64, Vec<String>)>,
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
    pub scores: Vec<ScoreRow>,
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
            out.push((
                Table::RiskScores,
                scores(&std::mem::take(&mut self.scores), model_version, now_ms)?,
            ));
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

fn scores(rows: &[ScoreRow], model_version: &str, now_ms: i64) -> Result<RecordBatch> {
    let (mut uscc, mut region, mut model, mut color) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut ws, mut we, mut computed) = (ts(), ts(), ts());
    let mut revision = Int64Builder::new();
    let mut f: Vec<Float64Builder> = (0..7).map(|_| Float64Builder::new()).collect();
    let mut overrides = ListBuilder::new(StringBuilder::new());
    let fields = contribution_fields();
    let item = StructBuilder::from_fields(fields.clone(), rows.len() * 5);
    let mut contribs = ListBuilder::new(item).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        true,
    )));
    for r in rows {
        uscc.append_value(&r.uscc);
        region.append_value(&r.region_code);
        ws.append_value(r.window_end - r.window);
        we.append_value(r.window_end);
        revision.append_value(r.revision);
        model.append_value(model_version);
        let vals = [
            r.inherent,
            r.families[0],
            r.families[1],
            r.families[2],
            r.families[3],
            r.risk,
            100.0 - r.risk,
        ];
        for (b, v) in f.iter_mut().zip(vals) {
            b.append_value((v * 1e6).round() / 1e6);
        }
        color.append_value(r.color);
        for o in &r.overrides {
            overrides.values().append_value(o);
        }
        overrides.append(true);
        for (rule, points, ids) in r.contributions.iter().take(5) {
            let s = contribs.values();
            if let Some(b) = s.field_builder::<StringBuilder>(0) {
                b.append_value(rule);
            }
            if let Some(b) = s.field_builder::<Float64Builder>(1) {
                b.append_value((points * 1e6).round() / 1e6);
            }
            if let Some(l) = s.field_builder::<ListBuilder<Box<dyn arrow::array::ArrayBuilder>>>(2)
            {
                for id in ids {
                    if let Some(sb) = l.values().as_any_mut().downcast_mut::<StringBuilder>() {
                        sb.append_value(id);
                    }
                }
                l.append(true);
            }
            s.append(true);
        }
        contribs.append(true);
        computed.append_value(now_ms);
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(uscc.finish()),
        Arc::new(region.finish()),
        Arc::new(ws.finish()),
        Arc::new(we.finish()),
        Arc::new(revision.finish()),
        Arc::new(model.finish()),
    ];
    for mut b in f {
        cols.push(Arc::new(b.finish()));
    }
    cols.push(Arc::new(color.finish()));
    cols.push(Arc::new(overrides.finish()));
    cols.push(Arc::new(contribs.finish()));
    cols.push(Arc::new(computed.finish()));
    batch(Table::RiskScores, cols)
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
