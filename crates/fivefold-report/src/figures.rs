//! The figures of one report, read from the KPI views and `risk_scores`.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::array_value_to_string;
use fivefold_query::SessionContext;

use crate::catalog::{FAMILIES, Family, Unit};
use crate::error::{Error, Result};
use crate::period::{Kind, Period};

/// Which part of the lake a report covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every region.
    #[default]
    All,
    /// One county: its 12-digit code (6 digits + `000000`).
    County(String),
    /// One town: its 12-digit code (9 digits + `000`).
    Town(String),
}

impl Scope {
    /// A county from its 12-digit code or its first 6 digits.
    pub fn county(code: &str) -> Result<Scope> {
        Ok(Scope::County(format!("{}000000", region_prefix(code, 6)?)))
    }

    /// A town from its 12-digit code or its first 9 digits.
    pub fn town(code: &str) -> Result<Scope> {
        Ok(Scope::Town(format!("{}000", region_prefix(code, 9)?)))
    }

    /// The KPI views' `level`.
    pub fn level(&self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::County(_) => "county",
            Scope::Town(_) => "town",
        }
    }

    /// The KPI views' `region_code`.
    pub fn region_code(&self) -> &str {
        match self {
            Scope::All => "all",
            Scope::County(c) | Scope::Town(c) => c,
        }
    }

    /// A condition on a 12-digit `region_code` column for rows in this scope.
    fn region_filter(&self, column: &str) -> String {
        match self {
            Scope::All => "TRUE".to_string(),
            Scope::County(c) => format!("substr({column}, 1, 6) = '{}'", &c[..6]),
            Scope::Town(c) => format!("substr({column}, 1, 9) = '{}'", &c[..9]),
        }
    }
}

fn region_prefix(code: &str, digits: usize) -> Result<&str> {
    let ok = (code.len() == digits || code.len() == 12) && code.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(Error::Region { given: code.to_string(), digits });
    }
    Ok(&code[..digits])
}

/// One family's figures: the indicators for this period, the previous one and
/// the year before, and a trend in finer periods for each of the three.
#[derive(Debug)]
pub struct FamilyFigures {
    /// The family.
    pub family: &'static Family,
    /// Per indicator: [this period, previous, year before]; `None` when the view
    /// has no row for that period.
    pub values: Vec<[Option<f64>; 3]>,
    /// The finer periods of this period (the x axis of the trend chart).
    pub trend_labels: Vec<String>,
    /// The trend column over the finer periods of [this period, previous, year before].
    pub trend: [Vec<Option<f64>>; 3],
}

/// One of the highest-risk enterprises at period end.
#[derive(Debug)]
pub struct TopEnterprise {
    /// USCC.
    pub uscc: String,
    /// Name from the registry, if known.
    pub name: Option<String>,
    /// Region code.
    pub region_code: String,
    /// Colour.
    pub color: String,
    /// Risk points.
    pub risk_points: f64,
    /// Override ids.
    pub overrides: Vec<String>,
    /// The largest contributions, (rule, points), largest first.
    pub contributions: Vec<(String, f64)>,
}

/// One row of the accident breakdown of this period.
#[derive(Debug)]
pub struct AccidentRow {
    /// GB 6441 type, or a 493号令 grade.
    pub key: String,
    /// Incidents, deaths; the same a year before.
    pub figures: [f64; 4],
}

/// Everything a report shows.
#[derive(Debug)]
pub struct Figures {
    /// The period.
    pub period: Period,
    /// The scope.
    pub scope: Scope,
    /// The five families.
    pub families: Vec<FamilyFigures>,
    /// The highest-risk enterprises at period end, worst first.
    pub top: Vec<TopEnterprise>,
    /// Towns by colour at period end: (town code, [red, orange, yellow, blue]).
    pub towns: Vec<(String, [f64; 4])>,
    /// Accidents of this period by type.
    pub by_type: Vec<AccidentRow>,
    /// Accidents of this period by grade.
    pub by_grade: Vec<AccidentRow>,
    /// The lake's event time ("now"), UTC, if anything is scored.
    pub as_of: Option<String>,
}

/// Reads the figures of `period` for `scope`.
///
/// Counts over a period that the view has no row for are 0 when the view
/// covers the period (its first row is before the period ends, and the
/// lake's event time has reached the period's start), and unknown (`None`)
/// otherwise; levels at period end are carried
/// forward from the last period with a row; rates stay unknown.
pub async fn gather(ctx: &SessionContext, period: Period, scope: Scope) -> Result<Figures> {
    let Span { first: scored_from, last, as_of } = scored_span(ctx).await?;
    let mut families = Vec::with_capacity(FAMILIES.len());
    for family in FAMILIES {
        // A family's data starts at its first day with a row, or where scoring
        // started if that is earlier (a view with no rows has had no events).
        let first_sql = format!(
            "SELECT CAST(min(period_start) AS VARCHAR) FROM {} \
             WHERE period_kind = 'day' AND level = 'all'",
            family.view
        );
        let first = query(ctx, &first_sql)
            .await?
            .first()
            .and_then(|b| string_at(b, 0, 0))
            .and_then(|d| d.parse::<NaiveDate>().ok());
        let first = match (first, scored_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let covered = first.zip(last);
        families.push(family_figures(ctx, family, period, &scope, covered).await?);
    }
    let end_utc = (period.end().and_time(NaiveTime::MIN) - Duration::hours(8))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let top = top(ctx, &end_utc, &scope).await?;
    let towns = towns(ctx, period, &scope).await?;
    let (by_type, by_grade) = accidents(ctx, period, &scope).await?;
    Ok(Figures { period, scope, families, top, towns, by_type, by_grade, as_of })
}

/// What the lake's risk scores cover; all `None` when nothing is scored.
struct Span {
    /// The first day (in the bureau's calendar).
    first: Option<NaiveDate>,
    /// The last day (in the bureau's calendar).
    last: Option<NaiveDate>,
    /// The newest `window_end` as text (UTC): the lake's "now".
    as_of: Option<String>,
}

async fn scored_span(ctx: &SessionContext) -> Result<Span> {
    let sql = "SELECT CAST(min(window_start) AS BIGINT) AS first_ms, \
                 CAST(max(window_end) AS BIGINT) AS last_ms, \
                 CAST(max(window_end) AS VARCHAR) AS last_text \
               FROM risk_scores";
    let span = query(ctx, sql).await?;
    let batch = span.iter().find(|b| b.num_rows() > 0);
    let cols = batch.map(f64_columns).unwrap_or_default();
    let local_day = |col| {
        let ms = cell(&cols, col, 0)? as i64;
        let t = chrono::DateTime::from_timestamp_millis(ms)? + Duration::hours(8);
        Some(t.date_naive())
    };
    let as_of = batch.and_then(|b| string_at(b, 2, 0));
    Ok(Span { first: local_day(0), last: local_day(1), as_of })
}

/// The period of `kind` that holds the lake's newest score (its "now"), if
/// anything is scored: the period a report shows when none is asked for.
pub async fn latest_period(ctx: &SessionContext, kind: Kind) -> Result<Option<Period>> {
    Ok(scored_span(ctx).await?.last.map(|day| Period::containing(kind, day)))
}

async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(fivefold_query::query(ctx, sql).await?)
}

fn string_at(batch: &RecordBatch, col: usize, row: usize) -> Option<String> {
    let array = batch.column(col);
    if array.is_null(row) {
        return None;
    }
    array_value_to_string(array, row).ok()
}

/// Every column of `batch` cast to Float64, once per batch (`None` where it
/// does not cast, e.g. a text column).
fn f64_columns(batch: &RecordBatch) -> Vec<Option<ArrayRef>> {
    batch.columns().iter().map(|c| cast(c, &DataType::Float64).ok()).collect()
}

/// The value at `row` of column `col` of [`f64_columns`].
fn cell(cols: &[Option<ArrayRef>], col: usize, row: usize) -> Option<f64> {
    let values = cols.get(col)?.as_ref()?.as_primitive::<Float64Type>();
    (!values.is_null(row)).then(|| values.value(row))
}

/// Rows of `(period label, values...)` from a KPI view.
async fn by_period(
    ctx: &SessionContext,
    family: &Family,
    columns: &[&str],
    kind: &str,
    labels: &[String],
    scope: &Scope,
) -> Result<HashMap<String, Vec<Option<f64>>>> {
    let cols = columns.join(", ");
    let list = labels.iter().map(|l| format!("'{l}'")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT period, {cols} FROM {view} WHERE period_kind = '{kind}' AND level = '{level}' \
         AND region_code = '{region}' AND period IN ({list}) {filter}",
        view = family.view,
        level = scope.level(),
        region = scope.region_code(),
        filter = family.filter,
    );
    let mut out = HashMap::new();
    for batch in query(ctx, &sql).await? {
        let cols = f64_columns(&batch);
        for row in 0..batch.num_rows() {
            let Some(label) = string_at(&batch, 0, row) else { continue };
            let values = (1..=columns.len()).map(|c| cell(&cols, c, row)).collect();
            if out.insert(label.clone(), values).is_some() {
                return Err(Error::Shape {
                    view: family.view,
                    what: format!("two rows for period {label}"),
                });
            }
        }
    }
    Ok(out)
}

/// The last row of `family` for `scope` in periods of `kind` that start before `end`.
async fn last_before(
    ctx: &SessionContext,
    family: &Family,
    columns: &[&str],
    kind: &str,
    end: NaiveDate,
    scope: &Scope,
) -> Result<Vec<Option<f64>>> {
    let sql = format!(
        "SELECT {cols} FROM {view} WHERE period_kind = '{kind}' AND level = '{level}' \
         AND region_code = '{region}' AND period_start < DATE '{end}' {filter} \
         ORDER BY period_start DESC LIMIT 1",
        cols = columns.join(", "),
        view = family.view,
        level = scope.level(),
        region = scope.region_code(),
        filter = family.filter,
    );
    let batches = query(ctx, &sql).await?;
    let batch = batches.iter().find(|b| b.num_rows() > 0);
    let cols = batch.map(f64_columns).unwrap_or_default();
    Ok((0..columns.len()).map(|c| cell(&cols, c, 0)).collect())
}

async fn family_figures(
    ctx: &SessionContext,
    family: &'static Family,
    period: Period,
    scope: &Scope,
    covered: Option<(NaiveDate, NaiveDate)>,
) -> Result<FamilyFigures> {
    let covers =
        |p: &Period| covered.is_some_and(|(first, last)| p.end() > first && p.start <= last);
    let periods = period.compared();
    let labels: Vec<String> = periods.iter().map(Period::to_string).collect();
    let columns: Vec<&str> = family.metrics.iter().map(|m| m.column).collect();
    let rows = by_period(ctx, family, &columns, period.kind.name(), &labels, scope).await?;
    let mut values: Vec<[Option<f64>; 3]> = (0..columns.len())
        .map(|i| {
            let at = |p: &String| rows.get(p).and_then(|v| v[i]);
            [at(&labels[0]), at(&labels[1]), at(&labels[2])]
        })
        .collect();
    for (j, p) in periods.iter().enumerate() {
        if rows.contains_key(&labels[j]) || !covers(p) {
            continue;
        }
        let carried = if family.metrics.iter().any(|m| m.stock) {
            last_before(ctx, family, &columns, p.kind.name(), p.end(), scope).await?
        } else {
            Vec::new()
        };
        for (i, metric) in family.metrics.iter().enumerate() {
            values[i][j] = match (metric.unit, metric.stock) {
                (Unit::Rate, _) => None,
                (_, true) => carried.get(i).copied().flatten(),
                (_, false) => Some(0.0),
            };
        }
    }

    let finer = period.kind.finer();
    let splits = periods.map(|p| p.split(finer));
    let all: Vec<String> = splits.iter().flatten().map(Period::to_string).collect();
    let trend_rows = by_period(ctx, family, &[family.trend], finer.name(), &all, scope).await?;
    let stock = family.metrics.iter().any(|m| m.column == family.trend && m.stock);
    let trend = splits.each_ref().map(|ps| {
        let mut last = None;
        ps.iter()
            .map(|p| {
                let v = trend_rows.get(&p.to_string()).and_then(|v| v[0]);
                let v = match v {
                    Some(v) => Some(v),
                    None if !covers(p) => None,
                    None if stock => last,
                    None => Some(0.0),
                };
                last = v;
                v
            })
            .collect()
    });
    let trend_labels = splits[0].iter().map(Period::to_string).collect();
    Ok(FamilyFigures { family, values, trend_labels, trend })
}

async fn top(ctx: &SessionContext, end_utc: &str, scope: &Scope) -> Result<Vec<TopEnterprise>> {
    let sql = format!(
        "SELECT s.uscc, e.name, s.region_code, s.color, s.risk_points, s.overrides, \
           s.contributions \
         FROM {latest} s \
         LEFT JOIN enterprise_latest e ON s.uscc = e.uscc \
         WHERE {region} \
         ORDER BY CASE s.color WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2 \
           ELSE 3 END, s.risk_points DESC, s.uscc LIMIT 10",
        latest = fivefold_query::first_per(
            &format!("(SELECT * FROM risk_scores WHERE window_start < TIMESTAMP '{end_utc}')"),
            "uscc",
            "window_end DESC, revision DESC",
        ),
        region = scope.region_filter("s.region_code"),
    );
    let mut out = Vec::new();
    for batch in query(ctx, &sql).await? {
        let floats = f64_columns(&batch);
        let overrides = batch.column(5).as_list::<i32>();
        let contributions = batch.column(6).as_list::<i32>();
        for row in 0..batch.num_rows() {
            let ov = overrides.value(row);
            let overrides = (0..ov.len()).filter_map(|i| array_value_to_string(&ov, i).ok());
            let c = contributions.value(row);
            let c = c.as_struct();
            let (rules, points) = (c.column(0), cast(c.column(1), &DataType::Float64).ok());
            let mut contributions: Vec<(String, f64)> = (0..c.len())
                .filter_map(|i| {
                    let rule = array_value_to_string(rules, i).ok()?;
                    let p = points.as_ref()?.as_primitive::<Float64Type>().value(i);
                    Some((rule, p))
                })
                .collect();
            contributions.sort_by(|a, b| b.1.total_cmp(&a.1));
            contributions.truncate(3);
            out.push(TopEnterprise {
                uscc: string_at(&batch, 0, row).unwrap_or_default(),
                name: string_at(&batch, 1, row),
                region_code: string_at(&batch, 2, row).unwrap_or_default(),
                color: string_at(&batch, 3, row).unwrap_or_default(),
                risk_points: cell(&floats, 4, row).unwrap_or_default(),
                overrides: overrides.collect(),
                contributions,
            });
        }
    }
    Ok(out)
}

async fn towns(
    ctx: &SessionContext,
    period: Period,
    scope: &Scope,
) -> Result<Vec<(String, [f64; 4])>> {
    let sql = format!(
        "SELECT region_code, n_red, n_orange, n_yellow, n_blue FROM kpi_risk \
         WHERE period_kind = '{kind}' AND period = '{period}' AND level = 'town' AND {region} \
         ORDER BY n_red DESC, n_orange DESC, n_yellow DESC, region_code",
        kind = period.kind.name(),
        region = scope.region_filter("region_code"),
    );
    let mut out = Vec::new();
    for batch in query(ctx, &sql).await? {
        let cols = f64_columns(&batch);
        for row in 0..batch.num_rows() {
            let n = [1, 2, 3, 4].map(|c| cell(&cols, c, row).unwrap_or_default());
            out.push((string_at(&batch, 0, row).unwrap_or_default(), n));
        }
    }
    Ok(out)
}

async fn accidents(
    ctx: &SessionContext,
    period: Period,
    scope: &Scope,
) -> Result<(Vec<AccidentRow>, Vec<AccidentRow>)> {
    let sql = format!(
        "SELECT accident_type, grade, incidents, deaths, prev_year_incidents, prev_year_deaths \
         FROM kpi_accidents WHERE period_kind = '{kind}' AND period = '{period}' \
           AND level = '{level}' AND region_code = '{region}' \
           AND (accident_type <> 'all' OR grade <> 'all') \
         ORDER BY accident_type, grade",
        kind = period.kind.name(),
        level = scope.level(),
        region = scope.region_code(),
    );
    let (mut by_type, mut by_grade) = (Vec::new(), Vec::new());
    for batch in query(ctx, &sql).await? {
        let cols = f64_columns(&batch);
        for row in 0..batch.num_rows() {
            let figures = [2, 3, 4, 5].map(|c| cell(&cols, c, row).unwrap_or_default());
            let (t, g) = (string_at(&batch, 0, row), string_at(&batch, 1, row));
            match (t.as_deref(), g) {
                (Some("all"), Some(g)) => by_grade.push(AccidentRow { key: g, figures }),
                (Some(t), _) => by_type.push(AccidentRow { key: t.to_string(), figures }),
                _ => {}
            }
        }
    }
    Ok((by_type, by_grade))
}
