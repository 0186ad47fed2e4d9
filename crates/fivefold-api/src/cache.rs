//! The in-memory view of the latest scores and regions, rebuilt per commit.

use std::collections::HashMap;
use std::path::Path;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SQLOptions;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use fivefold_lake::Snapshot;
use fivefold_query::{OutputFormat, QueryOptions, SessionContext};
use futures::StreamExt as _;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Colour names, best first.
pub(crate) const COLORS: [&str; 4] = ["blue", "yellow", "orange", "red"];

/// One enterprise's latest score, serialised once per commit so that a poll
/// copies bytes instead of building JSON.
pub struct Item {
    /// USCC.
    pub uscc: String,
    /// Colour index, 0 blue .. 3 red.
    pub color: usize,
    /// Region code.
    pub region_code: String,
    /// The row without its explanation, as the list route returns it.
    pub summary: Box<RawValue>,
    /// The whole row, with its contributions.
    pub detail: Box<RawValue>,
}

/// What the risk routes serve.
pub struct Cache {
    /// The lake version it reflects.
    pub version: u64,
    /// Latest score per enterprise, worst first.
    pub enterprises: Vec<Item>,
    /// Index by USCC.
    pub by_uscc: HashMap<String, usize>,
    /// Enterprises per colour (blue, yellow, orange, red).
    pub counts: [usize; 4],
    /// Region rows.
    pub regions: Vec<Value>,
    /// DataFusion over the same snapshot.
    pub ctx: SessionContext,
    /// DataFusion for `/api/v1/sql`: with a memory limit, and without
    /// spilling to disk, so that a query over the limit fails at once instead
    /// of filling the disk (and nothing a client sends can create a file).
    pub sql_ctx: SessionContext,
}

/// Runs a query and returns its rows as JSON objects.
pub(crate) async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Value>, ApiError> {
    Ok(rows_up_to(ctx, sql, usize::MAX).await?.0)
}

/// The options of [`sql_rows`]' own read-only check: those of
/// `fivefold_query::query` (no DDL, no DML, no SET-like statements).
fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Runs a client's statement for `/api/v1/sql`: its first `max` rows as a JSON
/// array, and whether there were more.
///
/// `fivefold_query::query` collects every row before any is dropped, and
/// collected rows are outside DataFusion's memory pool, so
/// `SELECT * FROM generate_series(1, 10000000000)` or a cross join would fill
/// the server's memory. A plain query is therefore planned here, under the
/// same read-only options, with a `LIMIT max + 1` on top, and the rows kept
/// are charged to the session's memory pool (`serve.sql_memory_bytes`).
/// Anything else (EXPLAIN, SHOW, DESCRIBE, whose output is small) and every
/// refusal goes through `fivefold_query`, which gives the canonical messages.
/// Every statement is first measured by [`fivefold_query::shape`], as one too deep to
/// plan would overflow the stack.
pub(crate) async fn sql_rows(
    ctx: &SessionContext,
    sql: &str,
    max: usize,
) -> Result<(Box<RawValue>, bool), ApiError> {
    fivefold_query::shape::set_operations(sql)?;
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(sql, &dialect) else {
        return small_rows(ctx, sql, max).await; // fivefold-query words the syntax error
    };
    if !matches!(&statement, DfStatement::Statement(s) if matches!(**s, SqlStatement::Query(_))) {
        return small_rows(ctx, sql, max).await; // fivefold-query checks its shape
    }
    fivefold_query::shape::check(&statement)?;
    let plan = match state.statement_to_plan(statement).await {
        Ok(plan) if read_only().verify_plan(&plan).is_ok() => plan,
        _ => {
            // `explain` plans exactly as `query` does and fails the same way,
            // but never runs a plain query, should it pass after all.
            fivefold_query::explain(ctx, sql).await?;
            return Err(ApiError::BadRequest("the query cannot be run through the API".into()));
        }
    };
    let df_error = |e| ApiError::Query(fivefold_query::Error::DataFusion(e));
    let plan = LogicalPlanBuilder::from(plan)
        .limit(0, Some(max.saturating_add(1)))
        .and_then(LogicalPlanBuilder::build)
        .map_err(df_error)?;
    let df = ctx.execute_logical_plan(plan).await.map_err(df_error)?;
    let mut stream = df.execute_stream().await.map_err(df_error)?;
    let held =
        MemoryConsumer::new("fivefold-api SQL result").register(&ctx.runtime_env().memory_pool);
    let mut kept = Vec::new();
    let mut n = 0;
    while n <= max {
        let Some(batch) = stream.next().await else { break };
        let batch = batch.map_err(df_error)?;
        held.try_grow(batch.get_array_memory_size()).map_err(df_error)?;
        n += batch.num_rows();
        kept.push(batch);
    }
    drop(stream);
    let mut room = max;
    for b in &mut kept {
        *b = b.slice(0, b.num_rows().min(room));
        room -= b.num_rows();
    }
    let text = fivefold_query::format_batches(&kept, OutputFormat::Json)?;
    held.try_grow(text.len()).map_err(df_error)?;
    Ok((json_text(text)?, n > max))
}

/// [`sql_rows`] for statements whose output is small, and for refusals.
async fn small_rows(
    ctx: &SessionContext,
    sql: &str,
    max: usize,
) -> Result<(Box<RawValue>, bool), ApiError> {
    let (rows, total) = rows_up_to(ctx, sql, max).await?;
    let text = serde_json::to_string(&rows).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((json_text(text)?, total > max))
}

fn json_text(text: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(text).map_err(|e| ApiError::Internal(format!("rows as JSON: {e}")))
}

/// Runs a query and returns its first `max` rows as JSON objects, with the
/// number of rows it had: only the rows returned are converted to JSON.
pub(crate) async fn rows_up_to(
    ctx: &SessionContext,
    sql: &str,
    max: usize,
) -> Result<(Vec<Value>, usize), ApiError> {
    let batches = fivefold_query::query(ctx, sql).await?;
    let total = batches.iter().map(|b| b.num_rows()).sum();
    let mut kept = Vec::with_capacity(batches.len());
    let mut room = max;
    for b in &batches {
        if room == 0 {
            break;
        }
        let n = b.num_rows().min(room);
        kept.push(b.slice(0, n));
        room -= n;
    }
    // At least one (possibly empty) batch, so the columns are known.
    if kept.is_empty()
        && let Some(b) = batches.first()
    {
        kept.push(b.slice(0, 0));
    }
    Ok((json_rows(&kept)?, total))
}

fn json_rows(batches: &[fivefold_query::RecordBatch]) -> Result<Vec<Value>, ApiError> {
    let text = fivefold_query::format_batches(batches, OutputFormat::Json)?;
    match serde_json::from_str(&text) {
        Ok(Value::Array(v)) => Ok(v),
        Ok(_) => Ok(Vec::new()),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// Reads the lake's committed snapshot on a blocking thread.
pub(crate) async fn read_snapshot(lake: &Path) -> Result<Snapshot, ApiError> {
    let root = lake.to_path_buf();
    tokio::task::spawn_blocking(move || fivefold_lake::read_snapshot(&root))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

fn color_rank(v: &Value) -> usize {
    v.get("color")
        .and_then(Value::as_str)
        .and_then(|c| COLORS.iter().position(|x| *x == c))
        .unwrap_or(0)
}

impl Cache {
    /// Reads the committed lake and builds the cache.
    pub async fn build(lake: &Path, sql_memory_bytes: usize) -> Result<Cache, ApiError> {
        Cache::build_from(read_snapshot(lake).await?, sql_memory_bytes).await
    }

    /// Builds the cache from a snapshot already read.
    pub async fn build_from(
        snapshot: Snapshot,
        sql_memory_bytes: usize,
    ) -> Result<Cache, ApiError> {
        let ctx = fivefold_query::lake_session(&snapshot, &QueryOptions::default())?;
        let sql_opts =
            QueryOptions { memory_limit_bytes: Some(sql_memory_bytes), ..QueryOptions::default() };
        let sql_ctx = without_spilling(fivefold_query::lake_session(&snapshot, &sql_opts)?)?;
        let mut enterprises = rows(&ctx, "SELECT * FROM risk_latest").await?;
        enterprises.sort_by(|a, b| {
            let ra = a.get("risk_points").and_then(Value::as_f64).unwrap_or(0.0);
            let rb = b.get("risk_points").and_then(Value::as_f64).unwrap_or(0.0);
            color_rank(b).cmp(&color_rank(a)).then(rb.total_cmp(&ra))
        });
        let mut counts = [0usize; 4];
        let mut by_uscc = HashMap::with_capacity(enterprises.len());
        let mut items = Vec::with_capacity(enterprises.len());
        for (i, mut e) in enterprises.into_iter().enumerate() {
            let color = color_rank(&e);
            counts[color] += 1;
            let uscc = e.get("uscc").and_then(Value::as_str).unwrap_or_default().to_owned();
            let region_code =
                e.get("region_code").and_then(Value::as_str).unwrap_or_default().to_owned();
            let detail = raw(&e)?;
            if let Some(o) = e.as_object_mut() {
                o.remove("contributions");
            }
            let summary = raw(&e)?;
            by_uscc.insert(uscc.clone(), i);
            items.push(Item { uscc, color, region_code, summary, detail });
        }
        let regions = rows(&ctx, "SELECT * FROM region_risk ORDER BY level, region_code").await?;
        Ok(Cache {
            version: snapshot.version,
            enterprises: items,
            by_uscc,
            counts,
            regions,
            ctx,
            sql_ctx,
        })
    }
}

/// The same session (tables, views, memory pool) with spilling to disk turned off.
fn without_spilling(ctx: SessionContext) -> Result<SessionContext, ApiError> {
    let df_error = |e| ApiError::Query(fivefold_query::Error::DataFusion(e));
    let runtime = RuntimeEnvBuilder::from_runtime_env(&ctx.runtime_env())
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(df_error)?;
    let state =
        SessionStateBuilder::new_from_existing(ctx.state()).with_runtime_env(runtime).build();
    Ok(SessionContext::new_with_state(state))
}

fn raw(v: &Value) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}
