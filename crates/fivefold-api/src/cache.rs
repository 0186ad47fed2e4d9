//! The in-memory view of the latest scores and regions, rebuilt per commit.

use std::collections::HashMap;
use std::path::Path;

use fivefold_lake::Snapshot;
use fivefold_query::{OutputFormat, QueryOptions, SessionContext};
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
    /// DataFusion with a memory limit, for `/api/v1/sql`.
    pub sql_ctx: SessionContext,
}

/// Runs a query and returns its rows as JSON objects.
pub(crate) async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Value>, ApiError> {
    Ok(rows_up_to(ctx, sql, usize::MAX).await?.0)
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
        let sql_ctx = fivefold_query::lake_session(&snapshot, &sql_opts)?;
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

fn raw(v: &Value) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}
