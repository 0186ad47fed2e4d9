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

/// Enforcement points of the last score row after `batches` of enforcement records.
fn enforcement_points(batches: &[&[String]]) -> f64 {
    use arrow::array::AsArray;
    use arrow::datatypes::Float64Type;
    let mut sc = Scorer::new(model()).unwrap();
    let uscc = "91440300708461136T";
    let ent = format!(
        r#"{{"event_id":"e1","event_time":"2026-03-01T00:00:00Z","uscc":"{uscc}","region_code":"440300001000","name":"x","industry":"commercial","major_hazard_level":0,"major_hazard_units":0,"hazardous_processes":0,"standardization_grade":0,"own_rescue_team":false,"employees":5,"status":"operating"}}"#
    );
    for (t, b) in batch(Topic::Enterprise, &[ent]) {
        sc.process(0, "e", t, &b).unwrap();
    }
    for lines in batches {
        for (t, b) in batch(Topic::Enforcement, lines) {
            sc.process(0, "f", t, &b).unwrap();
        }
    }
    sc.flush(0);
    let out = sc.take_output(0).unwrap();
    let scores = &out.iter().find(|(t, _)| *t == Table::RiskScores).unwrap().1;
    let enf = scores.column_by_name("enforcement_points").unwrap().as_primitive::<Float64Type>();
    enf.value(enf.len() - 1)
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
