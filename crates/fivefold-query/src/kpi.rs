//! The bureau's KPI views: `kpi_enforcement`, `kpi_hazards`, `kpi_accidents`,
//! `kpi_monitoring` and `kpi_risk`.
//!
//! Every KPI view has one row per period and region, with the same leading
//! columns:
//!
//! | column | meaning |
//! |---|---|
//! | `period_kind` | `day`, `week`, `month`, `quarter` or `year` |
//! | `period` | its label: `2026-03-01`, `2026-W09` (ISO week), `2026-03`, `2026-Q1`, `2026` |
//! | `period_start`, `period_end` | first day, and the day after the last (`DATE`) |
//! | `level` | `all` (the whole lake), `county` or `town` |
//! | `region_code` | `all`, a county (6 digits + `000000`), a town (9 digits + `000`), or `unknown` |
//!
//! Periods are calendar periods in China Standard Time (UTC+8, the bureau's
//! clock): a record at `2026-03-31T20:00:00Z` belongs to April. A period row
//! exists once the view's table has a record in that period (in any region,
//! for the views that carry stock figures "at period end", so that every region
//! has a row for it).
//!
//! Figures "at period end" (open major hazards, overdue hazards, enterprises per
//! colour) are running sums of changes over the ordered periods, so they stay
//! exact however long the history is. "Now" is the lake's event time: the newest
//! `risk_scores.window_end`, or the newest source record when nothing is scored.
//!
//! The SQL is assembled from the pieces below so that the period and region
//! expansion is written once.

use crate::session::{alarm_episodes, first_per};

/// The period kinds, finest first.
pub const PERIOD_KINDS: [&str; 5] = ["day", "week", "month", "quarter", "year"];

/// The region levels.
pub const LEVELS: [&str; 3] = ["all", "county", "town"];

/// Hours the bureau's clock is ahead of UTC (China Standard Time has no DST).
const LOCAL_OFFSET: &str = "INTERVAL '8 hours'";

/// The lake's event-time "now" as a one-row CTE body (`t`, UTC) over `source`'s `time` column.
fn now_cte(source: &str, time: &str) -> String {
    format!(
        "SELECT coalesce((SELECT max(window_end) FROM risk_scores), \
                         (SELECT max({time}) FROM {source})) AS t"
    )
}

/// Expands the CTE `ev` (a time `t` in UTC and a region code `rc`, plus
/// measures) to one row per period kind and region level: adds `period_kind`,
/// `period_start`, `level` and `region_code`.
fn expand_ev() -> String {
    let trunc = PERIOD_KINDS
        .iter()
        .map(|k| format!("WHEN '{k}' THEN date_trunc('{k}', ev.ld)"))
        .collect::<Vec<_>>()
        .join(" ");
    let kinds = PERIOD_KINDS.iter().map(|k| format!("('{k}')")).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT ev.*, p.period_kind, l.level, {region} AS region_code, \
           CAST(CASE p.period_kind {trunc} END AS DATE) AS period_start \
         FROM (SELECT *, CAST(t + {LOCAL_OFFSET} AS DATE) AS ld FROM ev) ev \
         CROSS JOIN (VALUES {kinds}) AS p(period_kind) \
         CROSS JOIN {levels}",
        region = region_at_level("ev.rc"),
        levels = levels_table(),
    )
}

/// The region code of a 12-digit code `rc` at the level `l.level`: `all`, its
/// county (6 digits + `000000`) or its town (9 digits + `000`); `unknown` when
/// `rc` is null.
fn region_at_level(rc: &str) -> String {
    format!(
        "coalesce(CASE l.level WHEN 'all' THEN 'all' \
                    WHEN 'county' THEN substr({rc}, 1, 6) || '000000' \
                    ELSE substr({rc}, 1, 9) || '000' END, 'unknown')"
    )
}

/// The region levels as a one-column table `l(level)`.
fn levels_table() -> String {
    let levels = LEVELS.iter().map(|l| format!("('{l}')")).collect::<Vec<_>>().join(", ");
    format!("(VALUES {levels}) AS l(level)")
}

/// `period` and `period_end` from `{q}period_kind` and `{q}period_start`.
fn label(q: &str) -> String {
    format!(
        "CASE {q}period_kind \
           WHEN 'day' THEN to_char({q}period_start, '%Y-%m-%d') \
           WHEN 'week' THEN to_char({q}period_start, '%G-W%V') \
           WHEN 'month' THEN to_char({q}period_start, '%Y-%m') \
           WHEN 'quarter' THEN to_char({q}period_start, '%Y') || '-Q' || \
             CAST(CAST(date_part('quarter', {q}period_start) AS INT) AS VARCHAR) \
           ELSE to_char({q}period_start, '%Y') END AS period, \
         {q}period_start, \
         CAST(CASE {q}period_kind \
           WHEN 'day' THEN {q}period_start + INTERVAL '1 day' \
           WHEN 'week' THEN {q}period_start + INTERVAL '7 days' \
           WHEN 'month' THEN {q}period_start + INTERVAL '1 month' \
           WHEN 'quarter' THEN {q}period_start + INTERVAL '3 months' \
           ELSE {q}period_start + INTERVAL '1 year' END AS DATE) AS period_end"
    )
}

/// The CTEs `grid` (every period of `agg` times every region of `agg`) for
/// views with figures at period end.
fn grid() -> &'static str {
    "grid AS (SELECT p.period_kind, p.period_start, r.level, r.region_code \
       FROM (SELECT DISTINCT period_kind, period_start FROM agg) p \
       CROSS JOIN (SELECT DISTINCT level, region_code FROM agg) r)"
}

/// A running sum of `agg.{col}` over the ordered periods of one region.
fn at_end(col: &str, name: &str) -> String {
    format!(
        "CAST(sum(coalesce(a.{col}, 0)) OVER (PARTITION BY g.period_kind, g.level, g.region_code \
           ORDER BY g.period_start ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) \
           AS {name}"
    )
}

/// `sum(CASE WHEN cond THEN 1 ELSE 0 END)`.
fn count_if(cond: &str, name: &str) -> String {
    format!("sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {name}")
}

const GROUP: &str = "period_kind, period_start, level, region_code";

/// `kpi_enforcement`: inspections, violations, orders, penalties, suspensions, rechecks.
pub fn enforcement() -> String {
    let dedup = first_per("enforcement", "event_id", "event_time");
    let measures = [
        count_if("record_type = 'inspection'", "inspections"),
        "count(DISTINCT CASE WHEN record_type = 'inspection' THEN uscc END) \
           AS enterprises_inspected"
            .to_string(),
        "sum(CASE WHEN record_type = 'inspection' THEN coalesce(violations, 0) ELSE 0 END) \
           AS violations"
            .to_string(),
        count_if("record_type = 'inspection' AND violations > 0", "inspections_with_violations"),
        count_if("record_type = 'order'", "orders"),
        count_if("record_type = 'penalty'", "penalties"),
        "sum(CASE WHEN record_type = 'penalty' THEN coalesce(fine_cny, 0) ELSE 0 END) \
           AS fines_cny"
            .to_string(),
        count_if("record_type = 'suspension'", "suspensions"),
        count_if("record_type = 'recheck'", "rechecks"),
        count_if("record_type = 'recheck' AND NOT recheck_passed", "rechecks_failed"),
    ]
    .join(", ");
    format!(
        "WITH ev AS (SELECT f.event_time AS t, e.region_code AS rc, f.uscc, f.record_type, \
                       f.violations, f.recheck_passed, f.fine_cny \
                     FROM {dedup} f LEFT JOIN enterprise_latest e ON f.uscc = e.uscc), \
         x AS ({x}), \
         agg AS (SELECT {GROUP}, {measures} FROM x GROUP BY {GROUP}) \
         SELECT period_kind, {label}, level, region_code, \
           inspections, enterprises_inspected, violations, inspections_with_violations, orders, \
           penalties, fines_cny, suspensions, rechecks, rechecks_failed \
         FROM agg",
        x = expand_ev(),
        label = label(""),
    )
}

/// `kpi_hazards`: found (by level and finder), rectified, on time, rates, and
/// overdue and open major hazards at period end.
pub fn hazards() -> String {
    let now = now_cte("hazard", "event_time");
    // One row per hazard: its latest version, when it ended (the first version
    // in an ending state, if the latest one is ended) and its region.
    let hz = "SELECT h.hazard_id, h.level, h.found_by, h.found_at, h.deadline, \
                CASE WHEN h.state IN ('accepted', 'closed') THEN c.closed_at END AS closed_at, \
                e.region_code AS rc \
              FROM hazard_latest h \
              LEFT JOIN (SELECT hazard_id, min(event_time) AS closed_at FROM hazard \
                         WHERE state IN ('accepted', 'closed') GROUP BY hazard_id) c \
                ON h.hazard_id = c.hazard_id \
              LEFT JOIN enterprise_latest e ON h.uscc = e.uscc";
    // Three kinds of event per hazard: found, ended, and (if it was still open
    // at its deadline, and the deadline has passed) became overdue.
    let ev = "SELECT found_at AS t, rc, 1 AS found, \
                CASE WHEN level = 'major' THEN 1 ELSE 0 END AS found_major, \
                CASE WHEN found_by = 'self' THEN 1 ELSE 0 END AS found_by_self, \
                CASE WHEN found_by = 'government' THEN 1 ELSE 0 END AS found_by_government, \
                CASE WHEN found_by = 'third_party' THEN 1 ELSE 0 END AS found_by_third_party, \
                CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END AS found_rectified, \
                0 AS rectified, 0 AS rectified_on_time, \
                CASE WHEN level = 'major' THEN 1 ELSE 0 END AS d_open_major, 0 AS d_overdue \
              FROM hz \
              UNION ALL \
              SELECT closed_at, rc, 0, 0, 0, 0, 0, 0, 1, \
                CASE WHEN deadline IS NULL OR closed_at <= deadline THEN 1 ELSE 0 END, \
                CASE WHEN level = 'major' THEN -1 ELSE 0 END, \
                CASE WHEN closed_at > deadline AND deadline <= (SELECT t FROM now) THEN -1 \
                  ELSE 0 END \
              FROM hz WHERE closed_at IS NOT NULL \
              UNION ALL \
              SELECT deadline, rc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 \
              FROM hz WHERE deadline <= (SELECT t FROM now) \
                AND (closed_at IS NULL OR closed_at > deadline)";
    let sums = [
        "found",
        "found_major",
        "found_by_self",
        "found_by_government",
        "found_by_third_party",
        "found_rectified",
        "rectified",
        "rectified_on_time",
        "d_open_major",
        "d_overdue",
    ]
    .map(|c| format!("sum({c}) AS {c}"))
    .join(", ");
    let flows = ["found", "found_major", "found_by_self", "found_by_government"]
        .into_iter()
        .chain(["found_by_third_party", "rectified", "rectified_on_time"])
        .map(|c| format!("coalesce(a.{c}, 0) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH now AS ({now}), hz AS ({hz}), ev AS ({ev}), x AS ({x}), \
         agg AS (SELECT {GROUP}, {sums} FROM x GROUP BY {GROUP}), {grid} \
         SELECT g.period_kind, {label}, g.level, g.region_code, \
           {flows}, \
           coalesce(a.found, 0) - coalesce(a.found_major, 0) AS found_general, \
           CASE WHEN coalesce(a.found, 0) = 0 THEN NULL \
                ELSE CAST(a.found_rectified AS DOUBLE) / a.found END AS rectification_rate, \
           CASE WHEN coalesce(a.rectified, 0) = 0 THEN NULL \
                ELSE CAST(a.rectified_on_time AS DOUBLE) / a.rectified END AS on_time_rate, \
           {overdue}, {open_major} \
         FROM grid g LEFT JOIN agg a ON g.period_kind = a.period_kind \
           AND g.period_start = a.period_start AND g.level = a.level \
           AND g.region_code = a.region_code",
        x = expand_ev(),
        grid = grid(),
        label = label("g."),
        overdue = at_end("d_overdue", "overdue_at_end"),
        open_major = at_end("d_open_major", "open_major_at_end"),
    )
}

/// `kpi_accidents`: incidents and their toll, by GB 6441 type and 493号令 grade,
/// against the same period a year before.
pub fn accidents() -> String {
    let now = now_cte("rescue", "occurred_at");
    let latest = first_per("rescue", "incident_id", "revision DESC, event_time DESC");
    let sums = ["deaths", "serious_injuries", "minor_injuries", "direct_loss_cny", "late"]
        .map(|c| format!("sum({c}) AS {c}"))
        .join(", ");
    // The same period a year before starts one calendar year earlier; for
    // weeks, 52 weeks earlier (the same ISO week number in almost every year).
    let next_year = "CAST(CASE WHEN period_kind = 'week' THEN period_start + INTERVAL '364 days' \
                     ELSE period_start + INTERVAL '1 year' END AS DATE)";
    let keys = "period_kind, level, region_code, accident_type, grade";
    let on = |q: &str| {
        format!(
            "{q}.period_kind = k.period_kind AND {q}.level = k.level \
             AND {q}.region_code = k.region_code AND {q}.accident_type = k.accident_type \
             AND {q}.grade = k.grade"
        )
    };
    format!(
        "WITH now AS ({now}), \
         ev AS (SELECT occurred_at AS t, region_code AS rc, accident_type, grade, deaths, \
                  serious_injuries, minor_injuries, direct_loss_cny, \
                  CASE WHEN reported_at - occurred_at > INTERVAL '1 hour' THEN 1 ELSE 0 END AS late \
                FROM {latest}), \
         x AS (SELECT x.* EXCLUDE (accident_type, grade), \
                 CASE WHEN d.dim = 'type' THEN x.accident_type ELSE 'all' END AS accident_type, \
                 CASE WHEN d.dim = 'grade' THEN x.grade ELSE 'all' END AS grade \
               FROM ({x}) x CROSS JOIN (VALUES ('all'), ('type'), ('grade')) AS d(dim)), \
         agg AS (SELECT {keys}, period_start, count(*) AS incidents, {sums}, \
                   {next_year} AS next_start \
                 FROM x GROUP BY {keys}, period_start), \
         k AS (SELECT {keys}, period_start FROM agg \
               UNION \
               SELECT {keys}, next_start FROM agg \
               WHERE next_start <= CAST((SELECT t FROM now) + {LOCAL_OFFSET} AS DATE)) \
         SELECT k.period_kind, {label}, k.level, k.region_code, k.accident_type, k.grade, \
           coalesce(c.incidents, 0) AS incidents, coalesce(c.deaths, 0) AS deaths, \
           coalesce(c.serious_injuries, 0) AS serious_injuries, \
           coalesce(c.minor_injuries, 0) AS minor_injuries, \
           coalesce(c.direct_loss_cny, 0) AS direct_loss_cny, \
           coalesce(c.late, 0) AS late_reports, \
           coalesce(p.incidents, 0) AS prev_year_incidents, \
           coalesce(p.deaths, 0) AS prev_year_deaths, \
           coalesce(p.serious_injuries, 0) AS prev_year_serious_injuries, \
           coalesce(p.direct_loss_cny, 0) AS prev_year_direct_loss_cny, \
           coalesce(c.incidents, 0) - coalesce(p.incidents, 0) AS incidents_change, \
           coalesce(c.deaths, 0) - coalesce(p.deaths, 0) AS deaths_change, \
           CASE WHEN coalesce(p.incidents, 0) = 0 THEN NULL \
             ELSE CAST(coalesce(c.incidents, 0) - p.incidents AS DOUBLE) / p.incidents END \
             AS incidents_change_rate, \
           CASE WHEN coalesce(p.deaths, 0) = 0 THEN NULL \
             ELSE CAST(coalesce(c.deaths, 0) - p.deaths AS DOUBLE) / p.deaths END \
             AS deaths_change_rate, \
           coalesce(c.incidents, 0) < coalesce(p.incidents, 0) \
             AND coalesce(c.deaths, 0) < coalesce(p.deaths, 0) AS double_decline \
         FROM k \
         LEFT JOIN agg c ON {on_c} AND c.period_start = k.period_start \
         LEFT JOIN agg p ON {on_p} AND p.next_start = k.period_start",
        x = expand_ev(),
        label = label("k."),
        on_c = on("c"),
        on_p = on("p"),
    )
}

/// `kpi_monitoring`: alarm episodes by kind, offline hours, and alarms per 100
/// points per day.
pub fn monitoring() -> String {
    let now = now_cte("monitoring_reading", "event_time");
    let alarms = alarm_episodes();
    let points = first_per("monitoring_point", "point_id", "event_time DESC");
    let kinds = ["H", "L", "HH", "LL", "STANDING", "FLOOD", "OFFLINE", "FLATLINE"]
        .map(|k| count_if(&format!("kind = '{k}'"), &k.to_lowercase()))
        .join(", ");
    format!(
        "WITH now AS ({now}), \
         ev AS (SELECT a.start_time AS t, e.region_code AS rc, a.kind, \
                  date_part('epoch', coalesce(a.end_time, (SELECT t FROM now)) - a.start_time) \
                    / 3600.0 AS hours \
                FROM {alarms} a LEFT JOIN enterprise_latest e ON a.uscc = e.uscc), \
         x AS ({x}), \
         agg AS (SELECT {GROUP}, {kinds}, \
                   sum(CASE WHEN kind = 'OFFLINE' THEN hours ELSE 0 END) AS offline_hours \
                 FROM x GROUP BY {GROUP}), \
         pts AS (SELECT l.level, {pt_region} AS region_code, count(*) AS points \
                 FROM (SELECT e.region_code AS rc FROM {points} p \
                       LEFT JOIN enterprise_latest e ON p.uscc = e.uscc) pt \
                 CROSS JOIN {levels} GROUP BY 1, 2), \
         lab AS (SELECT a.* EXCLUDE (period_start), {label} FROM agg a) \
         SELECT a.period_kind, a.period, a.period_start, a.period_end, a.level, a.region_code, \
           a.h + a.l + a.hh + a.ll AS alarm_episodes, a.h, a.l, a.hh, a.ll, a.standing, a.flood, \
           a.offline, a.flatline, a.offline_hours, coalesce(p.points, 0) AS points, \
           CASE WHEN coalesce(p.points, 0) = 0 THEN NULL \
             ELSE CAST(a.h + a.l + a.hh + a.ll AS DOUBLE) * 100.0 / p.points / \
               greatest(1, least(a.period_end, \
                 CAST(CAST((SELECT t FROM now) + {LOCAL_OFFSET} AS DATE) + INTERVAL '1 day' \
                   AS DATE)) - a.period_start) END AS alarms_per_100_points_per_day \
         FROM lab a LEFT JOIN pts p ON a.level = p.level AND a.region_code = p.region_code",
        x = expand_ev(),
        pt_region = region_at_level("pt.rc"),
        levels = levels_table(),
        label = label("a."),
    )
}

/// `kpi_risk`: enterprises per colour at period end, and the moves between
/// colours during the period.
pub fn risk() -> String {
    let rank = |c: &str| {
        format!(
            "CASE {c} WHEN 'red' THEN 3 WHEN 'orange' THEN 2 WHEN 'yellow' THEN 1 \
             WHEN 'blue' THEN 0 END"
        )
    };
    let colours = ["red", "orange", "yellow", "blue"];
    let deltas = colours
        .map(|c| {
            format!(
                "CASE WHEN color = '{c}' THEN 1 ELSE 0 END - \
                 CASE WHEN prev_color = '{c}' THEN 1 ELSE 0 END AS d_{c}"
            )
        })
        .join(", ");
    let sums = ["d_red", "d_orange", "d_yellow", "d_blue"]
        .into_iter()
        .chain(["moves", "moves_worse", "moves_better", "moves_to_red", "moves_from_red"])
        .map(|c| format!("sum({c}) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let stock = colours.map(|c| at_end(&format!("d_{c}"), &format!("n_{c}"))).join(", ");
    let flows = ["moves", "moves_worse", "moves_better", "moves_to_red", "moves_from_red"]
        .map(|c| format!("coalesce(a.{c}, 0) AS {c}"))
        .join(", ");
    format!(
        "WITH s AS (SELECT uscc, window_start, window_end, color, \
                      last_value(region_code) OVER (PARTITION BY uscc ORDER BY window_end \
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS rc \
                    FROM {latest}), \
         c AS (SELECT *, lag(color) OVER (PARTITION BY uscc ORDER BY window_end) AS prev_color \
               FROM s), \
         ev AS (SELECT window_start AS t, rc, color, prev_color, {deltas}, \
                  CASE WHEN prev_color IS NOT NULL THEN 1 ELSE 0 END AS moves, \
                  CASE WHEN {rank_c} > {rank_p} THEN 1 ELSE 0 END AS moves_worse, \
                  CASE WHEN {rank_c} < {rank_p} THEN 1 ELSE 0 END AS moves_better, \
                  CASE WHEN color = 'red' AND prev_color IS NOT NULL THEN 1 ELSE 0 END \
                    AS moves_to_red, \
                  CASE WHEN prev_color = 'red' THEN 1 ELSE 0 END AS moves_from_red \
                FROM c WHERE prev_color IS NULL OR prev_color <> color), \
         x AS ({x}), \
         agg AS (SELECT {GROUP}, {sums} FROM x GROUP BY {GROUP}), {grid}, \
         n AS (SELECT g.period_kind, {label}, g.level, g.region_code, {stock}, {flows} \
               FROM grid g LEFT JOIN agg a ON g.period_kind = a.period_kind \
                 AND g.period_start = a.period_start AND g.level = a.level \
                 AND g.region_code = a.region_code) \
         SELECT period_kind, period, period_start, period_end, level, region_code, \
           n_red + n_orange + n_yellow + n_blue AS enterprises, \
           n_red, n_orange, n_yellow, n_blue, \
           moves, moves_worse, moves_better, moves_to_red, moves_from_red \
         FROM n",
        latest = first_per("risk_scores", "uscc, window_end", "revision DESC"),
        rank_c = rank("color"),
        rank_p = rank("prev_color"),
        x = expand_ev(),
        grid = grid(),
        label = label("g."),
    )
}

/// The KPI views as `(name, SELECT)`, in registration order.
pub fn views() -> Vec<(&'static str, String)> {
    vec![
        ("kpi_enforcement", enforcement()),
        ("kpi_hazards", hazards()),
        ("kpi_accidents", accidents()),
        ("kpi_monitoring", monitoring()),
        ("kpi_risk", risk()),
    ]
}
