//! The reference model, checked against hand-computed expectations.

use fivefold_model::{Decoder, SourceRef, Table, Topic};
use fivefold_score::enterprise::{Contribution, EntVersion, Enterprise, HazVersion, hysteresis};
use fivefold_score::rules::Family;
use fivefold_score::{RiskModel, Scorer};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn model() -> RiskModel {
    RiskModel::reference().unwrap()
}

fn storage_plant(t: i64) -> EntVersion {
    EntVersion {
        t,
        event_id: "e1".into(),
        region_code: "320505001000".into(),
        industry: "hazchem_storage".into(),
        major_hazard_level: 2,
        major_hazard_units: 1,
        hazardous_processes: 0,
        standardization_grade: 2,
        own_rescue_team: false,
        official_color: None,
    }
}

/// risk-model.md's worked example: 13 + 2.121 + 0.5 = 15.621, yellow.
#[test]
fn the_worked_example() {
    let m = model();
    let now = 100 * D;
    let mut e = Enterprise { versions: vec![storage_plant(0)], ..Default::default() };
    // One HH episode on a level-1 unit (factor 1.5) 12 h ago.
    e.contributions.push(Contribution {
        rule: "MON-HH".into(),
        family: Family::Monitoring,
        key: "p1".into(),
        t: now - 12 * H,
        at: now - 12 * H,
        points: 2.0 * 1.5,
        half_life: 24 * H,
        event_ids: vec!["p1:HH".into()],
        table: "monitoring_reading".into(),
    });
    // One open general hazard found by the government.
    e.hazards.insert(
        "H1".into(),
        vec![HazVersion {
            t: now - D,
            event_id: "h1".into(),
            major: false,
            found_by_self: false,
            deadline: None,
            ended: false,
        }],
    );
    let s = e.score(&m, now).unwrap();
    assert_eq!(s.inherent, 13.0);
    assert!((s.families[0] - 2.121_320).abs() < 1e-5, "{}", s.families[0]);
    assert_eq!(s.families[1], 0.5);
    assert!((s.risk - 15.621_320).abs() < 1e-5, "{}", s.risk);
    assert!((s.safety - 84.378_680).abs() < 1e-5);
    assert_eq!(s.banded, 1, "yellow");
    assert!(s.overrides.is_empty());
}

#[test]
fn an_overdue_major_hazard_is_red_from_its_deadline() {
    let m = model();
    let deadline = 10 * D;
    let mut e = Enterprise { versions: vec![storage_plant(0)], ..Default::default() };
    e.hazards.insert(
        "M1".into(),
        vec![HazVersion {
            t: D,
            event_id: "m1".into(),
            major: true,
            found_by_self: false,
            deadline: Some(deadline),
            ended: false,
        }],
    );
    let before = e.score(&m, deadline - 1).unwrap();
    assert_eq!(before.floor, 0);
    assert_eq!(before.families[1], 6.0);
    let after = e.score(&m, deadline + 1).unwrap();
    assert_eq!(after.floor, 3);
    assert_eq!(after.overrides, vec!["OVR-MAJOR-OVERDUE".to_owned()]);
}

#[test]
fn colours_rise_at_once_and_fall_after_a_day_inside_the_better_band() {
    let m = model();
    let h = hysteresis(&m, None, 1, 80.0, 0);
    assert_eq!(h.color, 1);
    // Up at once.
    let h = hysteresis(&m, Some(h), 2, 70.0, H);
    assert_eq!(h.color, 2);
    // Back in yellow but within 2 points of the band edge: no dwell starts.
    let h = hysteresis(&m, Some(h), 1, 76.0, 2 * H);
    assert_eq!((h.color, h.better_since), (2, None));
    // Well inside yellow: the dwell starts, and the colour falls after 24 h.
    let h = hysteresis(&m, Some(h), 1, 80.0, 3 * H);
    assert_eq!((h.color, h.better_since), (2, Some(3 * H)));
    let h = hysteresis(&m, Some(h), 1, 80.0, 26 * H);
    assert_eq!(h.color, 2);
    let h = hysteresis(&m, Some(h), 1, 80.0, 27 * H);
    assert_eq!((h.color, h.better_since), (1, None));
}

#[test]
fn a_rule_that_does_not_compile_is_named() {
    let text = fivefold_score::config::DEFAULT_MODEL_TOML
        .replace("when = \"record_type = 'order'\"", "when = \"record_kind = 'order'\"");
    let err = RiskModel::from_toml(&text, "test").unwrap_err().to_string();
    assert!(err.contains("rule ENF-ORDER"), "{err}");
    assert!(err.contains("record_kind"), "{err}");
    let text =
        fivefold_score::config::DEFAULT_MODEL_TOML.replace("points = \"2\"", "points = \"2 +\"");
    let err = RiskModel::from_toml(&text, "test").unwrap_err().to_string();
    assert!(err.contains("rule ENF-ORDER: points"), "{err}");
}

fn batch(topic: Topic, lines: &[String]) -> Vec<(Table, arrow::record_batch::RecordBatch)> {
    let mut d = Decoder::new(topic);
    for (i, l) in lines.iter().enumerate() {
        let src = SourceRef { topic: topic.name(), line: Some(i as i64 + 1), ..Default::default() };
        d.push(l.as_bytes(), &src, 0);
    }
    d.finish().unwrap()
}

/// A penalty of 100k CNY: 3 + min(4, 2 * log10(10)) = 5 points, decaying over 180 d.
#[test]
fn penalty_rule_points_are_evaluated_on_batches() {
    let mut sc = Scorer::new(model()).unwrap();
    let uscc = "91440300708461136T";
    let ent = format!(
        r#"{{"event_id":"e1","event_time":"2026-03-01T00:00:00Z","uscc":"{uscc}","region_code":"440300001000","name":"x","industry":"commercial","major_hazard_level":0,"major_hazard_units":0,"hazardous_processes":0,"standardization_grade":0,"own_rescue_team":false,"employees":5,"status":"operating"}}"#
    );
    let pen = format!(
        r#"{{"event_id":"p1","event_time":"2026-03-01T00:10:00Z","uscc":"{uscc}","case_id":"C1","record_type":"penalty","fine_cny":100000}}"#
    );
    for (t, b) in batch(Topic::Enterprise, &[ent]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    for (t, b) in batch(Topic::Enforcement, &[pen]) {
        sc.process(0, "f", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let scores = &out.iter().find(|(t, _)| *t == Table::RiskScores).unwrap().1;
    use arrow::array::AsArray;
    use arrow::datatypes::Float64Type;
    let enf = scores.column_by_name("enforcement_points").unwrap().as_primitive::<Float64Type>();
    let last = enf.value(enf.len() - 1);
    // 5 points, a few minutes of a 180-day half-life later.
    assert!((last - 5.0).abs() < 0.001, "{last}");
}

/// `column` of the last score row after `batches` of `topic` records.
fn last_points(topic: Topic, column: &str, batches: &[&[String]]) -> f64 {
    use arrow::array::AsArray;
    use arrow::datatypes::Float64Type;
    let mut sc = Scorer::new(model()).unwrap();
    for (t, b) in batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0)]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    for lines in batches {
        for (t, b) in batch(topic, lines) {
            sc.process(0, topic.name(), t, &b).unwrap();
        }
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let scores = &out.iter().find(|(t, _)| *t == Table::RiskScores).unwrap().1;
    let points = scores.column_by_name(column).unwrap().as_primitive::<Float64Type>();
    points.value(points.len() - 1)
}

/// Enforcement points of the last score row after `batches` of enforcement records.
fn enforcement_points(batches: &[&[String]]) -> f64 {
    last_points(Topic::Enforcement, "enforcement_points", batches)
}

/// Two rules that hit different rows of one batch, the later rule on the
/// earlier row: both count, as when each record comes in its own batch.
#[test]
fn every_rule_hit_of_a_batch_counts_whatever_the_rule_order() {
    let uscc = "91440300708461136T";
    let order = format!(
        r#"{{"event_id":"o1","event_time":"2026-03-01T00:10:00Z","uscc":"{uscc}","case_id":"C1","record_type":"order"}}"#
    );
    let inspection = format!(
        r#"{{"event_id":"i1","event_time":"2026-03-01T00:11:00Z","uscc":"{uscc}","case_id":"C2","record_type":"inspection","violations":3}}"#
    );
    let apart =
        enforcement_points(&[std::slice::from_ref(&order), std::slice::from_ref(&inspection)]);
    let together = enforcement_points(&[&[order, inspection]]);
    assert!(apart > 2.0, "both the order and the violations score: {apart}");
    assert!((together - apart).abs() < 1e-9, "one batch {together}, one record a batch {apart}");
}

const T0: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z
const CLEAN: &str = "91440300708461136T";

fn enterprise_line(uscc: &str, t: i64) -> String {
    format!(
        r#"{{"event_id":"ent-{uscc}","event_time":{t},"uscc":"{uscc}","region_code":"440300001001","name":"x","industry":"commercial","major_hazard_level":0,"major_hazard_units":0,"hazardous_processes":0,"standardization_grade":0,"own_rescue_team":false,"employees":5,"status":"operating"}}"#
    )
}

fn point_line(uscc: &str, id: &str, period_s: i64) -> String {
    format!(
        r#"{{"event_id":"pt-{id}","event_time":{T0},"uscc":"{uscc}","record_type":"point","point_id":"{id}","kind":"combustible_gas","unit":"%LEL","high":25,"high_high":50,"expected_period_s":{period_s}}}"#
    )
}

fn reading_line(uscc: &str, id: &str, t: i64, value: f64) -> String {
    format!(
        r#"{{"event_time":{t},"uscc":"{uscc}","record_type":"reading","point_id":"{id}","value":{value}}}"#
    )
}

/// (window_end, colour) of every score row of `uscc`, in order.
fn score_rows(out: &[(Table, arrow::record_batch::RecordBatch)], uscc: &str) -> Vec<(i64, String)> {
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMillisecondType;
    let mut rows = Vec::new();
    for (_, b) in out.iter().filter(|(t, _)| *t == Table::RiskScores) {
        let u = b.column_by_name("uscc").unwrap().as_string::<i32>();
        let we = b.column_by_name("window_end").unwrap().as_primitive::<TimestampMillisecondType>();
        let color = b.column_by_name("color").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            if u.value(i) == uscc {
                rows.push((we.value(i), color.value(i).to_owned()));
            }
        }
    }
    rows
}

/// A reading every 30 minutes for two days, all in one batch: one row for
/// every window that had a reading, none lost to skipping quiet windows.
#[test]
fn every_window_with_an_event_gets_a_row_when_quiet_windows_are_skipped() {
    let mut sc = Scorer::new(model()).unwrap();
    const OTHER: &str = "91110108551385082Q";
    for (t, b) in
        batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0), enterprise_line(OTHER, T0)])
    {
        sc.process(0, "e", t, &b).unwrap();
    }
    let half_hour = 30 * 60_000;
    let mut lines = vec![point_line(OTHER, "CLOCK", 1800), point_line(CLEAN, "P1", 1800)];
    lines.extend((0..337).map(|i| reading_line(OTHER, "CLOCK", T0 + i * half_hour, 3.0)));
    lines.extend(
        (0..337)
            .map(|i| reading_line(CLEAN, "P1", T0 + i * half_hour + 1000, 4.0 + (i % 3) as f64)),
    );
    for (t, b) in batch(Topic::Monitoring, &lines) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let rows = score_rows(&out, CLEAN);
    let ends: Vec<i64> = rows.iter().map(|r| r.0).collect();
    for i in 0..337 {
        let we = T0 + i * half_hour + 5 * 60_000;
        assert!(ends.contains(&we), "no row for the window ending {we}: {ends:?}");
    }
}

/// Readings of CLEAN's point every 10 minutes through the first day.
fn one_day_of_readings() -> Vec<String> {
    let mut lines = vec![point_line(CLEAN, "P1", 600)];
    lines.extend((0..144).map(|i| reading_line(CLEAN, "P1", T0 + i * 600_000 + 1000, 4.0)));
    lines
}

/// A cold start whose first batch holds one reading from 1970: it is kept
/// (nothing is late before the first watermark), and closing the windows
/// does not walk the 56 years between it and the rest of the batch.
#[test]
fn a_reading_from_1970_in_the_first_batch_does_not_walk_every_window_since() {
    let mut sc = Scorer::new(model()).unwrap();
    for (t, b) in batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0)]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    let mut lines = one_day_of_readings();
    lines.push(reading_line(CLEAN, "P1", 0, 4.0));
    for (t, b) in batch(Topic::Monitoring, &lines) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.flush(0);
    // The 144 windows with a reading, the 1970 reading's, and a few more.
    let closed = sc.windows_closed(0);
    assert!((145..=150).contains(&closed), "{closed} windows closed");
    let out = sc.take_output(0).unwrap();
    assert!(out.iter().all(|(t, _)| *t != Table::LateEvents), "nothing is late");
    let rows = score_rows(&out, CLEAN);
    // One row per window with a reading, and the first score as of the
    // enterprise record (the walk passed its time).
    assert_eq!(rows.len(), 145, "{rows:?}");
}

/// A cold start whose first batch holds one reading from year 9999: without
/// a clock (a replay), it is quarantined against the rest of the batch
/// instead of becoming the watermark that makes everything after it late.
#[test]
fn a_reading_from_9999_in_the_first_batch_is_quarantined_not_the_watermark() {
    use arrow::array::AsArray;
    let mut sc = Scorer::new(model()).unwrap();
    for (t, b) in batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0)]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    let far = 253_402_300_000_000; // 9999-12-31T23:06:40Z
    let mut lines = one_day_of_readings();
    lines.push(reading_line(CLEAN, "P1", far, 4.0));
    for (t, b) in batch(Topic::Monitoring, &lines) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.finish_source(0, "e");
    sc.advance(0, None);
    let wm = sc.watermark(0).expect("a watermark after the first batch");
    assert!(wm < T0 + 2 * 86_400_000, "the watermark stays with the data: {wm}");
    // The next half day's readings are on time.
    let next: Vec<String> =
        (0..72).map(|i| reading_line(CLEAN, "P1", T0 + 86_400_000 + i * 600_000, 4.0)).collect();
    for (t, b) in batch(Topic::Monitoring, &next) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let late: Vec<_> = out.iter().filter(|(t, _)| *t == Table::LateEvents).collect();
    let reasons: Vec<&str> = late
        .iter()
        .flat_map(|(_, b)| b.column_by_name("reason").unwrap().as_string::<i32>().iter().flatten())
        .collect();
    assert_eq!(reasons.len(), 1, "only the reading from 9999 is set aside: {reasons:?}");
    assert!(reasons[0].contains("ahead of the rest of the first batch"), "{reasons:?}");
    assert_eq!(score_rows(&out, CLEAN).len(), 144 + 72, "both batches are scored");
}

/// Registry records are sparse: a revision days after the rest of the first
/// batch is applied, not quarantined like a reading would be.
#[test]
fn a_sparse_first_batch_of_enterprise_records_is_kept_whole() {
    let mut sc = Scorer::new(model()).unwrap();
    let lines = [enterprise_line(CLEAN, T0), enterprise_line(CLEAN, T0 + 3 * 86_400_000)];
    for (t, b) in batch(Topic::Enterprise, &lines) {
        sc.process(0, "e", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    assert!(out.iter().all(|(t, _)| *t != Table::LateEvents), "nothing is set aside");
    let last = score_rows(&out, CLEAN).last().map(|r| r.0);
    assert_eq!(last, Some(T0 + 3 * 86_400_000 + 300_000), "the revision is scored");
}

/// An alarm 11.5 minutes long, begun and ended within one batch: it stood
/// more than 10 minutes, so it earns MON-STANDING although no window closed
/// while it was active.
#[test]
fn an_alarm_that_stood_and_ended_between_window_ends_earns_mon_standing() {
    use arrow::array::AsArray;
    let mut sc = Scorer::new(model()).unwrap();
    for (t, b) in batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0)]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    let mut lines = vec![point_line(CLEAN, "P1", 30)];
    // High (30 %LEL against a set point of 25) from T0 for 11 minutes, then clear.
    lines.extend((0..=22).map(|i| reading_line(CLEAN, "P1", T0 + i * 30_000, 30.0)));
    lines.push(reading_line(CLEAN, "P1", T0 + 23 * 30_000, 4.0));
    lines.extend((24..40).map(|i| reading_line(CLEAN, "P1", T0 + i * 30_000, 4.0)));
    for (t, b) in batch(Topic::Monitoring, &lines) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let kinds: Vec<String> = out
        .iter()
        .filter(|(t, _)| *t == Table::Alarms)
        .flat_map(|(_, b)| {
            let k = b.column_by_name("kind").unwrap().as_string::<i32>();
            k.iter().flatten().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(kinds, ["H", "STANDING"]);
}

/// A point reporting every 10 s falls silent for 330 s, longer than
/// MON-OFFLINE's 300 s, between two window ends, and its readings before and
/// after the silence come in one batch: it was offline from 300 s after its
/// last reading until the next, although no window closed while it was silent.
#[test]
fn a_silence_between_window_ends_is_offline() {
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMillisecondType;
    let mut sc = Scorer::new(model()).unwrap();
    for (t, b) in batch(Topic::Enterprise, &[enterprise_line(CLEAN, T0)]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    let mut lines = vec![point_line(CLEAN, "P1", 10)];
    lines.extend((0..=6).map(|i| reading_line(CLEAN, "P1", T0 + i * 10_000, 4.0)));
    lines.extend((39..60).map(|i| reading_line(CLEAN, "P1", T0 + i * 10_000, 4.0)));
    for (t, b) in batch(Topic::Monitoring, &lines) {
        sc.process(0, "m", t, &b).unwrap();
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let mut alarms = Vec::new();
    for (_, b) in out.iter().filter(|(t, _)| *t == Table::Alarms) {
        let kind = b.column_by_name("kind").unwrap().as_string::<i32>();
        let ts = |c| b.column_by_name(c).unwrap().as_primitive::<TimestampMillisecondType>();
        let (start, end) = (ts("start_time"), ts("end_time"));
        for i in 0..b.num_rows() {
            alarms.push((kind.value(i).to_owned(), start.value(i) - T0, end.value(i) - T0));
        }
    }
    assert_eq!(alarms, [("OFFLINE".to_owned(), 360_000, 390_000)]);
}

/// Rescue points of the last score row after `batches` of rescue records.
fn rescue_points(batches: &[&[String]]) -> f64 {
    last_points(Topic::Rescue, "rescue_points", batches)
}

fn incident(revision: i64, minutes: i64, serious: i64) -> String {
    let t = T0 + minutes * 60_000;
    format!(
        r#"{{"event_id":"rs-{revision}","event_time":{t},"region_code":"440300001001","uscc":"{CLEAN}","incident_id":"I1","accident_type":"04","occurred_at":{T0},"reported_at":{T0},"deaths":0,"serious_injuries":{serious},"minor_injuries":1,"direct_loss_cny":1000,"public_impact":false,"status":"reported","revision":{revision}}}"#
    )
}

/// An incident counts by its latest revision, in whichever order the
/// revisions arrive: the older one arriving late adds nothing.
#[test]
fn a_late_older_revision_of_an_incident_adds_no_points() {
    let (first, second) = (incident(0, 10, 0), incident(1, 20, 1));
    let in_order = rescue_points(&[std::slice::from_ref(&first), std::slice::from_ref(&second)]);
    let late = rescue_points(&[std::slice::from_ref(&second), std::slice::from_ref(&first)]);
    // ACC-INJURY (5) only: the minor-accident points of revision 0 are gone.
    assert!((in_order - 5.0).abs() < 0.01, "{in_order}");
    assert!((late - in_order).abs() < 1e-9, "older revision late: {late}, in order: {in_order}");
}

/// The same penalty delivered twice (at-least-once upstream) scores once.
#[test]
fn a_record_sent_twice_scores_once() {
    let pen = format!(
        r#"{{"event_id":"p1","event_time":"2026-03-01T00:10:00Z","uscc":"{CLEAN}","case_id":"C1","record_type":"penalty","fine_cny":100000}}"#
    );
    let once = enforcement_points(&[std::slice::from_ref(&pen)]);
    let twice = enforcement_points(&[std::slice::from_ref(&pen), std::slice::from_ref(&pen)]);
    assert!((once - 5.0).abs() < 0.001, "{once}");
    assert!((twice - once).abs() < 1e-9, "twice {twice}, once {once}");
}
