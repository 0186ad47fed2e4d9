//! Scoring scenarios through `fivefold replay` on hand-written input, and
//! determinism (twice, and with a kill -9 in the middle).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

const T0: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const CLEAN: &str = "91440300708461136T";
const OTHER: &str = "91110108551385082Q";

fn enterprise(uscc: &str, industry: &str, level: i64) -> String {
    format!(
        r#"{{"event_id":"ent-{uscc}","event_time":{T0},"uscc":"{uscc}","region_code":"440300001001","name":"测试企业","industry":"{industry}","major_hazard_level":{level},"major_hazard_units":1,"hazardous_processes":0,"standardization_grade":2,"own_rescue_team":true,"employees":50,"status":"operating"}}"#
    )
}

fn point(uscc: &str, id: &str, period_s: i64) -> String {
    format!(
        r#"{{"event_id":"pt-{id}","event_time":{T0},"uscc":"{uscc}","record_type":"point","point_id":"{id}","kind":"combustible_gas","unit":"%LEL","high":25,"high_high":50,"expected_period_s":{period_s}}}"#
    )
}

fn reading(uscc: &str, id: &str, t: i64, value: f64) -> String {
    format!(
        r#"{{"event_time":{t},"uscc":"{uscc}","record_type":"reading","point_id":"{id}","value":{value}}}"#
    )
}

/// Readings of OTHER's point every `step` from T0 to T0 + `span`: the clock
/// that moves event time forward for everyone.
fn clock(span: i64, step: i64) -> Vec<String> {
    let mut out = vec![point(OTHER, "CLOCK", step / 1000)];
    let mut t = T0;
    while t <= T0 + span {
        out.push(reading(OTHER, "CLOCK", t, 3.0));
        t += step;
    }
    out
}

/// Writes enterprise.jsonl: the plant under test (CLEAN) and the enterprise
/// whose readings move event time (OTHER).
fn write_enterprises(dir: &Path, industry: &str, level: i64) {
    write(
        dir,
        "enterprise",
        &[enterprise(CLEAN, industry, level), enterprise(OTHER, "commercial", 0)],
    );
}

/// Writes monitoring.jsonl: the clock and `extra` lines, registry records first.
fn write_monitoring(dir: &Path, mut lines: Vec<String>, extra: impl IntoIterator<Item = String>) {
    lines.extend(extra);
    lines.sort_by_key(|l| l.contains("\"record_type\":\"reading\""));
    write(dir, "monitoring", &lines);
}

/// (window_end ms, colour, revision, overrides) of one enterprise, in order.
fn rows(lake: &Path, uscc: &str) -> Vec<(i64, String, i64, String)> {
    sql(
        lake,
        &format!(
            "SELECT CAST(window_end AS BIGINT) AS we, color, revision, \
               array_to_string(overrides, '|') AS ov \
             FROM risk_scores WHERE uscc = '{uscc}' ORDER BY we, revision"
        ),
    )
    .into_iter()
    .map(|r| {
        (
            r[0].parse().unwrap(),
            r[1].clone(),
            r[2].parse().unwrap(),
            r.get(3).cloned().unwrap_or_default(),
        )
    })
    .collect()
}

#[test]
fn a_clean_plant_stays_blue_for_a_week() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_enterprises(&input, "commercial", 0);
    let readings =
        (0..=7 * 48).map(|i| reading(CLEAN, "P1", T0 + i * HOUR / 2 + 1000, 4.0 + (i % 3) as f64));
    write_monitoring(
        &input,
        clock(7 * DAY, HOUR / 2),
        std::iter::once(point(CLEAN, "P1", 1800)).chain(readings),
    );
    let lake = dir.path().join("lake");
    replay(&input, &lake, 8192);
    let r = rows(&lake, CLEAN);
    assert!(!r.is_empty());
    assert!(r.iter().all(|(_, c, _, _)| c == "blue"), "{r:?}");
    // A row for every window in which it sent readings, through the week.
    assert!(r.len() >= 7 * 24 * 2, "{} rows", r.len());
    assert!(r.last().is_some_and(|(w, ..)| *w >= T0 + 7 * DAY), "{:?}", r.last());
    let latest = sql(&lake, &format!("SELECT color FROM risk_latest WHERE uscc = '{CLEAN}'"));
    assert_eq!(latest, vec![vec!["blue".to_owned()]]);
    assert_eq!(sql_count(&lake, &format!("SELECT count(*) FROM alarms WHERE uscc = '{CLEAN}'")), 0);
}

#[test]
fn an_overdue_major_hazard_turns_red_at_the_deadline_with_no_further_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let deadline = T0 + 2 * DAY + 7 * MIN;
    write_enterprises(&input, "other_industrial", 0);
    write(
        &input,
        "hazard",
        &[format!(
            r#"{{"event_id":"hz-1","event_time":{t},"uscc":"{CLEAN}","hazard_id":"M1","level":"major","found_by":"government","found_at":{t},"deadline":{deadline},"state":"rectifying"}}"#,
            t = T0 + HOUR
        )],
    );
    write(&input, "monitoring", &clock(3 * DAY, 10 * MIN));
    let lake = dir.path().join("lake");
    replay(&input, &lake, 8192);
    let r = rows(&lake, CLEAN);
    let first_red =
        r.iter().find(|(_, c, _, _)| c == "red").unwrap_or_else(|| panic!("never red: {r:?}"));
    // The deadline falls in the window ending at deadline rounded up to 5 min.
    let expected_window = (deadline / (5 * MIN) + 1) * 5 * MIN;
    assert_eq!(first_red.0, expected_window, "{r:?}");
    assert!(first_red.3.contains("OVR-MAJOR-OVERDUE"));
    assert!(r.iter().filter(|(w, ..)| *w < deadline).all(|(_, c, ..)| c != "red"), "{r:?}");
}

#[test]
fn a_fatal_accident_floors_orange_for_365_days() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let occurred = T0 + DAY;
    write_enterprises(&input, "commercial", 0);
    write(
        &input,
        "rescue",
        &[format!(
            r#"{{"event_id":"rs-1","event_time":{t},"region_code":"440300001001","uscc":"{CLEAN}","incident_id":"I1","accident_type":"04","occurred_at":{occurred},"reported_at":{t},"deaths":1,"serious_injuries":0,"minor_injuries":0,"direct_loss_cny":100000,"public_impact":false,"status":"reported","revision":0}}"#,
            t = occurred + 20 * MIN
        )],
    );
    write(&input, "monitoring", &clock(400 * DAY, DAY / 4));
    let lake = dir.path().join("lake");
    replay(&input, &lake, 8192);
    let r = rows(&lake, CLEAN);
    let during: Vec<_> =
        r.iter().filter(|(w, ..)| *w > occurred + 20 * MIN && *w <= occurred + 365 * DAY).collect();
    assert!(!during.is_empty());
    assert!(
        during.iter().all(|(_, c, _, o)| (c == "orange" || c == "red") && o.contains("OVR-FATAL")),
        "{during:?}"
    );
    let after: Vec<_> = r.iter().filter(|(w, ..)| *w > occurred + 365 * DAY + 5 * MIN).collect();
    assert!(!after.is_empty(), "scored after the floor ended");
    assert!(
        after.iter().all(|(_, c, _, o)| c != "orange" && !o.contains("OVR-FATAL")),
        "{after:?}"
    );
}

#[test]
fn a_chattering_sensor_does_not_flap_the_colour() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    // A level-1 plant close to the yellow edge.
    write_enterprises(&input, "hazchem_production", 1);
    // Above the H set point (25) for 40 s, which starts an episode after the
    // 30 s on-delay; then chattering around it every 10 s, never below the
    // 2% deadband (24.5), so the episode neither ends nor starts again.
    let value = |i: i64| if i < 4 || i % 2 == 0 { 25.2 } else { 24.8 };
    let readings = (0..6 * 360).map(|i| reading(CLEAN, "GAS", T0 + i * 10_000 + 500, value(i)));
    write_monitoring(
        &input,
        clock(6 * HOUR, 10 * MIN),
        std::iter::once(point(CLEAN, "GAS", 10)).chain(readings),
    );
    let lake = dir.path().join("lake");
    replay(&input, &lake, 8192);
    let episodes = sql_count(
        &lake,
        &format!("SELECT count(*) FROM alarms WHERE uscc = '{CLEAN}' AND kind = 'H'"),
    );
    assert_eq!(episodes, 1, "one standing episode, not {episodes}");
    let r = rows(&lake, CLEAN);
    let changes = r.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(changes <= 1, "the colour moved {changes} times: {r:?}");
}

#[test]
fn a_gateway_that_goes_silent_raises_mon_offline() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_enterprises(&input, "hazchem_storage", 2);
    let readings = (0..120).map(|i| reading(CLEAN, "GW1", T0 + i * 30_000, 5.0 + (i % 4) as f64));
    write_monitoring(
        &input,
        clock(4 * HOUR, 5 * MIN),
        std::iter::once(point(CLEAN, "GW1", 30)).chain(readings),
    );
    let lake = dir.path().join("lake");
    replay(&input, &lake, 8192);
    let offline = sql(
        &lake,
        &format!(
            "SELECT CAST(start_time AS BIGINT) FROM alarms WHERE uscc = '{CLEAN}' AND kind = 'OFFLINE'"
        ),
    );
    assert_eq!(offline.len(), 1, "{offline:?}");
    // Silent after the last reading at +59.5 min; offline once 300 s have passed.
    assert_eq!(offline[0][0].parse::<i64>().unwrap(), T0 + 119 * 30_000 + 300_000);
    let with_offline = sql_count(
        &lake,
        &format!(
            "SELECT count(*) FROM ( \
               SELECT unnest(contributions) AS x FROM risk_scores WHERE uscc = '{CLEAN}' \
             ) WHERE x['rule'] = 'MON-OFFLINE'"
        ),
    );
    assert!(with_offline > 0, "MON-OFFLINE shows in the explanations");
}

#[test]
fn late_penalties_re_emit_within_the_lateness_and_go_to_late_events_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_enterprises(&input, "commercial", 0);
    let enf = |id: &str, t: i64, kind: &str| {
        let extra = match kind {
            "penalty" => r#","fine_cny":100000"#,
            _ => r#","violations":0"#,
        };
        format!(
            r#"{{"event_id":"{id}","event_time":{t},"uscc":"{CLEAN}","case_id":"C-{id}","record_type":"{kind}"{extra}}}"#
        )
    };
    write(
        &input,
        "enforcement",
        &[
            enf("insp-1", T0 + 2 * HOUR + 31 * MIN, "inspection"),
            enf("insp-2", T0 + 3 * HOUR + 10 * MIN, "inspection"),
            enf("pen-late", T0 + 2 * HOUR + 32 * MIN, "penalty"),
            enf("pen-too-late", T0 + HOUR, "penalty"),
        ],
    );
    write(&input, "monitoring", &clock(5 * HOUR, MIN));
    let lake = dir.path().join("lake");
    // One record per read, so that the files interleave by event time.
    replay(&input, &lake, 1);
    let r = rows(&lake, CLEAN);
    let w = T0 + 2 * HOUR + 35 * MIN;
    let revs: Vec<i64> = r.iter().filter(|(we, ..)| *we == w).map(|(_, _, rev, _)| *rev).collect();
    assert_eq!(revs, vec![0, 1], "{r:?}");
    let late = sql(&lake, "SELECT \"table\", key, reason FROM late_events");
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0][0], "enforcement");
    assert_eq!(late[0][1], CLEAN);
    assert!(late[0][2].contains("beyond windows.allowed_lateness"), "{late:?}");
    // The late penalty is in the score: 5 points (3 + 2 * log10(10)).
    let pts = sql(
        &lake,
        &format!(
            "SELECT enforcement_points FROM risk_scores WHERE uscc = '{CLEAN}' AND revision = 1"
        ),
    );
    assert!(pts[0][0].parse::<f64>().unwrap() > 4.99, "{pts:?}");
}

#[test]
fn scores_are_deterministic_across_runs_and_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    generate(&input, 80, 6.0, 13, 0.0);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    replay(&input, &a, 2000);
    replay(&input, &b, 2000);
    let expected = scores_text(&a);
    assert!(expected.lines().count() > 80, "scores were produced");
    assert_eq!(scores_text(&b), expected, "two runs differ");

    let c = dir.path().join("c");
    let args = ["replay", "--input", input.to_str().unwrap(), "--lake", c.to_str().unwrap()];
    let mut child = bin()
        .args(args)
        .env("FIVEFOLD_REPLAY__BATCH_ROWS", "2000")
        .env("FIVEFOLD_REPLAY__COMMIT_ROWS", "10000")
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = c.join("_fivefold/log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().ok();
    child.wait().unwrap();
    assert!(killed, "the replay was still running when killed");
    replay(&input, &c, 2000);
    assert_eq!(scores_text(&c), expected, "a killed and resumed run differs");
}
