//! The KPI views over a lake replayed from hand-written input whose figures
//! are known: enforcement counts (with a duplicate record and a record that
//! is in April by the bureau's clock), hazards found and rectified on time,
//! overdue and open major hazards at period end, accidents against the year
//! before, alarms per point, and enterprises per colour at period end.

use std::path::Path;

use crate::harness::*;

const A: &str = "91440300708461136T"; // town 440300001000, county 440300000000
const B: &str = "91110108551385082Q"; // town 440304002000, county 440304000000
const OTHER: &str = "91440300MA5DA1B2X0"; // the clock's enterprise, in A's town

fn enterprise(uscc: &str, region: &str, industry: &str) -> String {
    format!(
        r#"{{"event_id":"ent-{uscc}","event_time":"2025-01-01T00:00:00+08:00","uscc":"{uscc}","region_code":"{region}","name":"企业{uscc}","industry":"{industry}","major_hazard_level":0,"major_hazard_units":0,"hazardous_processes":0,"standardization_grade":2,"own_rescue_team":true,"employees":50,"status":"operating"}}"#
    )
}

fn enforcement(id: &str, t: &str, uscc: &str, fields: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","event_time":"{t}","uscc":"{uscc}","case_id":"C-{id}",{fields}}}"#
    )
}

fn hazard(id: &str, version: u32, t: &str, uscc: &str, fields: &str, state: &str) -> String {
    format!(
        r#"{{"event_id":"{id}-v{version}","event_time":"{t}","uscc":"{uscc}","hazard_id":"{id}",{fields},"state":"{state}"}}"#
    )
}

fn incident(
    id: &str,
    rev: u32,
    uscc: &str,
    at: &str,
    kind: &str,
    deaths: u32,
    serious: u32,
) -> String {
    format!(
        r#"{{"event_id":"{id}-r{rev}","event_time":"{at}","region_code":"440300001001","uscc":"{uscc}","incident_id":"{id}","accident_type":"{kind}","occurred_at":"{at}","reported_at":"{at}","deaths":{deaths},"serious_injuries":{serious},"minor_injuries":0,"direct_loss_cny":10000,"public_impact":false,"status":"reported","revision":{rev}}}"#
    )
}

/// Writes the input: three enterprises, five enforcement records (one twice,
/// one in April), four hazards, four incidents over two years, one sensor
/// excursion, and a clock that moves event time to 2026-04-02.
fn write_input(dir: &Path) {
    write(
        dir,
        "enterprise",
        &[
            enterprise(A, "440300001001", "commercial"),
            enterprise(B, "440304002001", "commercial"),
            enterprise(OTHER, "440300001002", "commercial"),
        ],
    );
    let e1 = enforcement(
        "E1",
        "2026-01-05T10:00:00+08:00",
        A,
        r#""record_type":"inspection","violations":3"#,
    );
    write(
        dir,
        "enforcement",
        &[
            e1.clone(),
            e1, // delivered twice: counted once
            enforcement(
                "E2",
                "2026-01-06T10:00:00+08:00",
                A,
                r#""record_type":"inspection","violations":0"#,
            ),
            enforcement("E3", "2026-01-07T10:00:00+08:00", A, r#""record_type":"order""#),
            enforcement(
                "E4",
                "2026-02-01T10:00:00+08:00",
                A,
                r#""record_type":"penalty","fine_cny":50000"#,
            ),
            enforcement(
                "E5",
                "2026-02-10T10:00:00+08:00",
                A,
                r#""record_type":"recheck","recheck_passed":false"#,
            ),
            enforcement(
                "E6",
                "2026-03-01T10:00:00+08:00",
                B,
                r#""record_type":"inspection","violations":2"#,
            ),
            enforcement(
                "E7",
                "2026-03-02T10:00:00+08:00",
                B,
                r#""record_type":"suspension","suspended_until":"2026-04-30T00:00:00+08:00""#,
            ),
            // 2026-04-01 04:00 in the bureau's clock: the second quarter.
            enforcement(
                "E8",
                "2026-03-31T20:00:00Z",
                B,
                r#""record_type":"inspection","violations":1"#,
            ),
        ],
    );
    let h1 = r#""level":"general","found_by":"self","found_at":"2026-01-10T09:00:00+08:00","deadline":"2026-01-20T00:00:00+08:00""#;
    let h2 = r#""level":"major","found_by":"government","found_at":"2026-02-01T09:00:00+08:00","deadline":"2026-02-10T00:00:00+08:00""#;
    let h3 = r#""level":"major","found_by":"third_party","found_at":"2026-03-01T09:00:00+08:00","deadline":"2026-03-10T00:00:00+08:00""#;
    let h4 = r#""level":"general","found_by":"government","found_at":"2026-03-05T09:00:00+08:00""#;
    write(
        dir,
        "hazard",
        &[
            hazard("H1", 0, "2026-01-10T09:00:00+08:00", A, h1, "open"),
            hazard("H1", 1, "2026-01-15T09:00:00+08:00", A, h1, "accepted"),
            hazard("H2", 0, "2026-02-01T09:00:00+08:00", A, h2, "open"),
            hazard("H2", 1, "2026-02-05T09:00:00+08:00", A, h2, "rectifying"),
            hazard("H2", 2, "2026-02-20T09:00:00+08:00", A, h2, "accepted"),
            hazard("H3", 0, "2026-03-01T09:00:00+08:00", B, h3, "open"),
            hazard("H4", 0, "2026-03-05T09:00:00+08:00", B, h4, "open"),
        ],
    );
    write(
        dir,
        "rescue",
        &[
            incident("R1", 0, A, "2025-02-01T10:00:00+08:00", "04", 2, 0),
            incident("R2", 0, A, "2025-03-01T10:00:00+08:00", "01", 0, 1),
            incident("R4", 0, A, "2025-05-01T10:00:00+08:00", "01", 0, 1),
            incident("R3", 0, A, "2026-02-15T10:00:00+08:00", "04", 0, 0),
            // The revision adds the death; reported 3 hours after it happened.
            incident("R3", 1, A, "2026-02-15T10:00:00+08:00", "04", 1, 0).replace(
                r#""reported_at":"2026-02-15T10:00:00+08:00""#,
                r#""reported_at":"2026-02-15T13:00:00+08:00""#,
            ),
        ],
    );
    // One point of A: above its high set point for six minutes on
    // 2026-03-03 (local), readings every 30 s for an hour around it.
    let mut mon = vec![
        r#"{"event_id":"pt-P1","event_time":"2025-01-01T00:00:00+08:00","uscc":"91440300708461136T","record_type":"point","point_id":"P1","kind":"combustible_gas","unit":"%LEL","high":25,"high_high":50,"expected_period_s":30}"#.to_string(),
        format!(
            r#"{{"event_id":"pt-CLOCK","event_time":"2025-01-01T00:00:00+08:00","uscc":"{OTHER}","record_type":"point","point_id":"CLOCK","kind":"temperature","unit":"C","expected_period_s":21600}}"#
        ),
    ];
    let start = 1_772_503_200_000_i64; // 2026-03-03T02:00:00Z = 10:00 local
    for i in 0..120 {
        let t = start + i * 30_000;
        let v = if (20..32).contains(&i) { 30.0 } else { 3.0 };
        mon.push(format!(
            r#"{{"event_time":{t},"uscc":"{A}","record_type":"reading","point_id":"P1","value":{v}}}"#
        ));
    }
    // The clock: every 6 h from 2025-01-01 to 2026-04-02 (UTC).
    let (t0, t1, step) = (1_735_689_600_000_i64, 1_775_088_000_000_i64, 6 * 3_600_000);
    let mut t = t0;
    while t <= t1 {
        mon.push(format!(
            r#"{{"event_time":{t},"uscc":"{OTHER}","record_type":"reading","point_id":"CLOCK","value":3.0}}"#
        ));
        t += step;
    }
    write(dir, "monitoring", &mon);
}

/// One row of a KPI view as (column, value) text, selected by `filter`.
fn row(lake: &Path, view: &str, cols: &str, filter: &str) -> Vec<String> {
    let rows = sql(lake, &format!("SELECT {cols} FROM {view} WHERE {filter}"));
    assert_eq!(rows.len(), 1, "{view} WHERE {filter}: {rows:?}");
    rows.into_iter().next().unwrap()
}

const Q1: &str = "period_kind = 'quarter' AND period = '2026-Q1' AND level = 'all'";

#[test]
fn kpi_views_give_the_known_figures_of_a_hand_written_lake() {
    let dir = tempfile::tempdir().unwrap();
    let (input, lake) = (dir.path().join("in"), dir.path().join("lake"));
    write_input(&input);
    replay(&input, &lake, 8192);
    assert_eq!(sql_count(&lake, "SELECT count(*) FROM dead_letters"), 0);

    // Enforcement: E1 once, E8 in the second quarter by the bureau's clock.
    let enf = "inspections, enterprises_inspected, violations, inspections_with_violations, \
               orders, penalties, fines_cny, suspensions, rechecks, rechecks_failed";
    assert_eq!(
        row(&lake, "kpi_enforcement", enf, Q1),
        ["3", "2", "5", "2", "1", "1", "50000.0", "1", "1", "1"]
    );
    let q2 = "period_kind = 'quarter' AND period = '2026-Q2' AND level = 'all'";
    assert_eq!(
        row(&lake, "kpi_enforcement", "inspections, period_start, period_end", q2),
        ["1", "2026-04-01", "2026-07-01"]
    );
    let county = "period_kind = 'quarter' AND period = '2026-Q1' AND level = 'county' \
                  AND region_code = '440304000000'";
    assert_eq!(row(&lake, "kpi_enforcement", "inspections, suspensions", county), ["1", "1"]);
    let jan = "period_kind = 'month' AND period = '2026-01' AND level = 'town' \
               AND region_code = '440300001000'";
    assert_eq!(row(&lake, "kpi_enforcement", "inspections, orders", jan), ["2", "1"]);

    // Hazards: H1 on time, H2 late, H3 overdue and open at the end, H4 open.
    let haz = "found, found_general, found_major, found_by_self, found_by_government, \
               found_by_third_party, rectified, rectified_on_time, rectification_rate, \
               on_time_rate, overdue_at_end, open_major_at_end";
    assert_eq!(
        row(&lake, "kpi_hazards", haz, Q1),
        ["4", "2", "2", "1", "2", "1", "2", "1", "0.5", "0.5", "1", "1"]
    );
    // H2 was overdue from 10 February until it was accepted on the 20th.
    let w07 = "period_kind = 'week' AND period = '2026-W07' AND level = 'all'";
    assert_eq!(row(&lake, "kpi_hazards", "overdue_at_end, open_major_at_end", w07), ["1", "1"]);
    let feb = "period_kind = 'month' AND period = '2026-02' AND level = 'all'";
    assert_eq!(
        row(&lake, "kpi_hazards", "overdue_at_end, open_major_at_end, rectified", feb),
        ["0", "0", "1"]
    );
    // A town with no hazard event in March still has its row at March's end.
    let mar_a = "period_kind = 'month' AND period = '2026-03' AND level = 'town' \
                 AND region_code = '440300001000'";
    assert_eq!(row(&lake, "kpi_hazards", "found, open_major_at_end", mar_a), ["0", "0"]);

    // Accidents: 2026-Q1 against 2025-Q1, the latest revision of R3.
    let acc = "incidents, deaths, serious_injuries, late_reports, prev_year_incidents, \
               prev_year_deaths, incidents_change, deaths_change, incidents_change_rate, \
               double_decline";
    let all = "accident_type = 'all' AND grade = 'all'";
    assert_eq!(
        row(&lake, "kpi_accidents", acc, &format!("{Q1} AND {all}")),
        ["1", "1", "0", "1", "2", "2", "-1", "-1", "-0.5", "true"]
    );
    let by_type = format!("{Q1} AND accident_type = '04' AND grade = 'all'");
    assert_eq!(row(&lake, "kpi_accidents", "incidents, prev_year_incidents", &by_type), ["1", "1"]);
    let by_grade = format!("{Q1} AND accident_type = 'all' AND grade = 'general'");
    assert_eq!(row(&lake, "kpi_accidents", "incidents", &by_grade), ["1"]);
    // No incident in 2026-Q2 so far, one in 2025-Q2: the row is there, with zeros.
    assert_eq!(
        row(
            &lake,
            "kpi_accidents",
            "incidents, prev_year_incidents, incidents_change",
            &format!("{q2} AND {all}")
        ),
        ["0", "1", "-1"]
    );

    // Monitoring: one H episode on 3 March (local), two points registered.
    let mar3 = "period_kind = 'day' AND period = '2026-03-03' AND level = 'all'";
    assert_eq!(
        row(
            &lake,
            "kpi_monitoring",
            "h, hh, alarm_episodes, points, alarms_per_100_points_per_day",
            mar3
        ),
        ["1", "0", "1", "2", "50.0"]
    );

    // Risk: enterprises per colour at the end of the quarter are the colours
    // of each enterprise's last score that started before the quarter ended.
    let risk = row(&lake, "kpi_risk", "enterprises, n_red, n_orange, n_yellow, n_blue", Q1);
    let direct = sql(
        &lake,
        "SELECT color, count(*) FROM ( \
           SELECT uscc, color, ROW_NUMBER() OVER (PARTITION BY uscc \
             ORDER BY window_end DESC, revision DESC) AS rn \
           FROM risk_scores WHERE window_start < TIMESTAMP '2026-03-31T16:00:00Z') \
         WHERE rn = 1 GROUP BY color",
    );
    let n = |c: &str| direct.iter().find(|r| r[0] == c).map_or("0".to_string(), |r| r[1].clone());
    assert_eq!(risk, ["3", &n("red"), &n("orange"), &n("yellow"), &n("blue")]);
    assert_ne!(n("red"), "0", "B's overdue major hazard makes it red");
    let moves = row(&lake, "kpi_risk", "moves, moves_worse + moves_better", Q1);
    assert_eq!(moves[0], moves[1], "every move is either worse or better");
}

/// Every `data-kpi` cell of a report page: (view.column, period, value).
fn kpi_cells(html: &str) -> Vec<(String, String, String)> {
    let attr = |cell: &str, name: &str| {
        let start = cell.find(&format!("{name}=\""))? + name.len() + 2;
        Some(cell[start..].split('"').next()?.to_string())
    };
    html.split("<td ")
        .filter(|c| c.contains("data-kpi="))
        .filter_map(|c| {
            Some((attr(c, "data-kpi")?, attr(c, "data-period")?, attr(c, "data-value")?))
        })
        .collect()
}

#[test]
fn a_report_from_generated_data_shows_the_figures_of_the_views_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let (input, lake) = (dir.path().join("in"), dir.path().join("lake"));
    generate(&input, 150, 30.0, 11, 0.0);
    run_ok(&["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()]);
    let target = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).unwrap();
    let page = target.join("report.html");
    let l = lake.to_str().unwrap();
    run_ok(&["report", "--lake", l, "--period", "2026-03", "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();

    // Each figure equals its view's value for that month (or, where the view
    // has no row for a month the lake covers, a count of 0).
    let cells = kpi_cells(&html);
    let mut matched = 0;
    for family in ["kpi_enforcement", "kpi_hazards", "kpi_accidents", "kpi_monitoring", "kpi_risk"]
    {
        let mine: Vec<_> =
            cells.iter().filter(|c| c.0.starts_with(&format!("{family}."))).collect();
        assert!(!mine.is_empty(), "{family} has cells");
        let mut cols: Vec<&str> = mine.iter().map(|c| &c.0[family.len() + 1..]).collect();
        cols.dedup();
        assert_eq!(cols.len() * 3, mine.len(), "three periods per indicator");
        let filter = if family == "kpi_accidents" {
            " AND accident_type = 'all' AND grade = 'all'"
        } else {
            ""
        };
        let select = cols.iter().map(|c| format!("CAST({c} AS DOUBLE)")).collect::<Vec<_>>();
        let rows = sql(
            &lake,
            &format!(
                "SELECT period, {} FROM {family} WHERE period_kind = 'month' AND level = 'all'{filter}",
                select.join(", ")
            ),
        );
        for (name, period, value) in mine {
            let i = cols.iter().position(|c| name.ends_with(&format!(".{c}"))).unwrap();
            match rows.iter().find(|r| &r[0] == period) {
                Some(r) => {
                    // Sums of fractions (offline hours) may differ in the last bits
                    // between two queries: DataFusion adds partial sums in any order.
                    let (got, want) = (value.parse::<f64>().ok(), r[i + 1].parse::<f64>().ok());
                    let same = match (got, want) {
                        (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                        (g, w) => g == w,
                    };
                    assert!(same, "{name} in {period}: the page has {got:?}, the view {want:?}");
                    matched += 1;
                }
                None => assert!(value.is_empty() || value == "0", "{name} in {period}: {value}"),
            }
        }
    }
    assert!(matched >= 30, "only {matched} figures had a view row to check");

    // The ten highest-risk enterprises at the end of March, worst first.
    let listed: Vec<&str> =
        html.split("<tr data-uscc=\"").skip(1).filter_map(|s| s.split('"').next()).collect();
    let worst: Vec<String> = sql(
        &lake,
        "SELECT uscc FROM risk_latest ORDER BY CASE color WHEN 'red' THEN 0 WHEN 'orange' THEN 1 \
           WHEN 'yellow' THEN 2 ELSE 3 END, risk_points DESC, uscc LIMIT 10",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(listed, worst);
    let towns = sql_count(
        &lake,
        "SELECT count(*) FROM kpi_risk WHERE period_kind = 'month' AND period = '2026-03' \
           AND level = 'town'",
    );
    assert_eq!(html.matches("<tr data-town=").count() as u64, towns);

    // Rendered by headless Chromium for people to look at.
    let shot = target.join("report.png");
    let _ = std::fs::remove_file(&shot);
    crate::browser::headless(
        &format!("file://{}", page.display()),
        &[&format!("--screenshot={}", shot.display()), "--window-size=1320,3000"],
        &dir.path().join("chrome"),
    );
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 20_000).unwrap_or(false), "screenshot");

    // Markdown in English, with its charts beside it.
    let md = dir.path().join("q1.md");
    run_ok(
        &["report", "--lake", l, "--period", "2026-Q1", "--format", "md", "--lang", "en"]
            .into_iter()
            .chain(["--out", md.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# Safety risk monitoring report 2026-Q1"), "{text}");
    for chart in ["kpi_enforcement", "kpi_hazards", "kpi_accidents", "kpi_monitoring", "kpi_risk"] {
        let file = format!("q1-{chart}.svg");
        assert!(text.contains(&format!("]({file})")), "{file} linked");
        let svg = std::fs::read_to_string(dir.path().join(&file)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{file}");
    }

    // A period that is not one gets one clear line.
    let out = bin()
        .args(["report", "--lake", l, "--period", "2026-Q5", "--out", "x.html"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--period: period '2026-Q5' is not one of"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
