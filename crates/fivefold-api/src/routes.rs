//! The routes of `interfaces.md`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fivefold_model::time::parse_rfc3339_ms;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::AppState;
use crate::cache::{rows, sql_rows};
use crate::error::ApiError;

type St = State<Arc<AppState>>;

/// Largest request body accepted, bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// The dashboard page, shipped in the binary (no CDN).
const DASHBOARD: &str = include_str!("dashboard.html");

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/risk/enterprises", get(enterprises))
        .route("/api/v1/risk/enterprises/{uscc}", get(enterprise))
        .route("/api/v1/risk/enterprises/{uscc}/history", get(history))
        .route("/api/v1/risk/regions", get(regions))
        .route("/api/v1/alarms", get(alarms))
        .route("/api/v1/sql", post(sql))
        .route("/report", get(report))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), auth));
    Router::new()
        .merge(api)
        .route("/", get(|| async { Html(DASHBOARD) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), read_body))
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

/// Reads the whole request body before any handler runs, so that a client
/// that stalls mid-body is answered with 408 after `body_timeout` instead of
/// holding its connection and task, and a body over [`BODY_LIMIT`] is refused
/// with 413 whether it declares its length or comes chunked.
async fn read_body(State(st): St, req: Request, next: Next) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    if axum::body::HttpBody::size_hint(&body).lower() > BODY_LIMIT as u64 {
        return Err(ApiError::TooLarge(BODY_LIMIT));
    }
    let limit = st.opts.body_timeout;
    let bytes = match tokio::time::timeout(limit, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return Err(ApiError::TooLarge(BODY_LIMIT)),
        Ok(Err(e)) => {
            return Err(ApiError::BadRequest(format!("the request body cannot be read: {e}")));
        }
        Err(_) => return Err(ApiError::BodyTimeout(limit)),
    };
    Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
}

/// Whether reading a body failed because it went over the limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Unknown routes get the same JSON error shape as every other error.
async fn no_route(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", shown(uri.path())))
}

/// A known route asked with a method it does not serve (axum adds `Allow`).
async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not served at {}", shown(uri.path())))
}

/// An extractor (`Query`, `Path`) whose rejection is answered like every
/// other error, as JSON with 400, instead of axum's plain-text body.
struct Checked<E>(E);

impl<E, S> FromRequestParts<S> for Checked<E>
where
    E: FromRequestParts<S>,
    E::Rejection: std::fmt::Display,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match E::from_request_parts(parts, state).await {
            Ok(e) => Ok(Checked(e)),
            Err(e) => {
                // Serde's words, cut short in case they quote a long value.
                let m = e.to_string();
                let cut = m.char_indices().nth(200).map_or(m.len(), |(i, _)| i);
                Err(ApiError::BadRequest(m[..cut].to_owned()))
            }
        }
    }
}

/// A client-supplied value as an error message quotes it: at most 64
/// characters, so that a huge parameter is not echoed back whole.
fn shown(v: &str) -> String {
    const MAX: usize = 64;
    match v.char_indices().nth(MAX) {
        None => format!("{v:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &v[..cut], v.len()),
    }
}

async fn count_requests(req: Request, next: Next) -> Response {
    let path =
        req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("fivefold_http_requests_total", "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("fivefold_http_request_duration_seconds", "path" => path)
        .record(started.elapsed().as_secs_f64());
    resp
}

async fn auth(
    State(st): St,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &st.opts.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_bytes(g.as_bytes(), token.as_bytes())) {
            // The path only: neither the header nor the query string, which
            // may hold a token (right or wrong) in clear.
            tracing::debug!(path = req.uri().path(), "Refused a request without a valid token.");
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(req).await)
}

/// Compares in time independent of where the first difference is, so that
/// response times do not reveal how much of a guessed token is right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Deserialize)]
struct ListParams {
    color: Option<String>,
    county: Option<String>,
    town: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Region codes have 12 digits; a prefix of `len` to 12 digits selects one.
fn check_code(name: &str, v: &str, len: usize) -> Result<(), ApiError> {
    if !(len..=12).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "{name} must be a region code of {len} to 12 digits, got {}",
            shown(v)
        )));
    }
    Ok(())
}

async fn enterprises(
    State(st): St,
    Checked(Query(p)): Checked<Query<ListParams>>,
) -> Result<Json<Value>, ApiError> {
    let cache = st.cache();
    if let Some(c) = &p.color
        && !crate::cache::COLORS.contains(&c.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "color must be one of blue, yellow, orange, red; got {}",
            shown(c)
        )));
    }
    if let Some(c) = &p.county {
        check_code("county", c, 6)?;
    }
    if let Some(t) = &p.town {
        check_code("town", t, 9)?;
    }
    let limit = p.limit.unwrap_or(50).min(1000);
    let offset = p.offset.unwrap_or(0);
    let color = p.color.as_deref().and_then(|c| crate::cache::COLORS.iter().position(|x| *x == c));
    let matches = |e: &&crate::cache::Item| {
        color.is_none_or(|c| e.color == c)
            && p.county.as_deref().is_none_or(|c| e.region_code.starts_with(&c[..6]))
            && p.town.as_deref().is_none_or(|t| e.region_code.starts_with(&t[..9]))
    };
    // One pass over the cache: count every match, keep the page.
    let mut total = 0;
    let mut items: Vec<&RawValue> = Vec::with_capacity(limit.min(cache.enterprises.len()));
    for e in cache.enterprises.iter().filter(matches) {
        if total >= offset && items.len() < limit {
            items.push(&e.summary);
        }
        total += 1;
    }
    let [blue, yellow, orange, red] = cache.counts;
    Ok(Json(json!({
        "lake_version": cache.version,
        "total": total,
        "offset": offset,
        "limit": limit,
        "counts": {"blue": blue, "yellow": yellow, "orange": orange, "red": red},
        "items": items,
    })))
}

fn check_uscc(uscc: &str) -> Result<(), ApiError> {
    fivefold_model::uscc::check_shape(uscc)
        .map_err(|e| ApiError::BadRequest(format!("uscc {} {e}", shown(uscc))))
}

async fn enterprise(
    State(st): St,
    Checked(Path(uscc)): Checked<Path<String>>,
) -> Result<Response, ApiError> {
    check_uscc(&uscc)?;
    let cache = st.cache();
    match cache.by_uscc.get(&uscc).and_then(|i| cache.enterprises.get(*i)) {
        Some(e) => Ok(([(header::CONTENT_TYPE, "application/json")], e.detail.get().to_owned())
            .into_response()),
        None => Err(ApiError::NotFound(format!("no score for enterprise {uscc}"))),
    }
}

fn time_param(name: &str, v: Option<&String>) -> Result<Option<i64>, ApiError> {
    let Some(s) = v else { return Ok(None) };
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Some(ms));
    }
    parse_rfc3339_ms(s).map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "{name} must be RFC 3339 or epoch milliseconds, got {}",
            shown(s)
        ))
    })
}

async fn history(
    State(st): St,
    Checked(Path(uscc)): Checked<Path<String>>,
    Checked(Query(p)): Checked<Query<HashMap<String, String>>>,
) -> Result<Json<Value>, ApiError> {
    check_uscc(&uscc)?;
    let from = time_param("from", p.get("from"))?;
    let to = time_param("to", p.get("to"))?;
    let mut sql = format!(
        "SELECT window_start, window_end, revision, risk_points, safety_score, color, overrides, \
         inherent_points, monitoring_points, hazard_points, enforcement_points, rescue_points \
         FROM risk_scores WHERE uscc = '{uscc}'"
    );
    if let Some(f) = from {
        sql.push_str(&format!(" AND window_end >= to_timestamp_millis({f})"));
    }
    if let Some(t) = to {
        sql.push_str(&format!(" AND window_end <= to_timestamp_millis({t})"));
    }
    sql.push_str(" ORDER BY window_end, revision");
    let cache = st.cache();
    Ok(Json(json!({ "uscc": uscc, "rows": rows(&cache.ctx, &sql).await? })))
}

async fn regions(
    State(st): St,
    Checked(Query(p)): Checked<Query<HashMap<String, String>>>,
) -> Result<Json<Value>, ApiError> {
    let level = p.get("level").map_or("town", String::as_str);
    if level != "town" && level != "county" {
        return Err(ApiError::BadRequest(format!(
            "level must be town or county, got {}",
            shown(level)
        )));
    }
    let cache = st.cache();
    let items: Vec<&Value> = cache
        .regions
        .iter()
        .filter(|r| r.get("level").and_then(Value::as_str) == Some(level))
        .collect();
    Ok(Json(json!({ "lake_version": cache.version, "level": level, "items": items })))
}

async fn alarms(
    State(st): St,
    Checked(Query(p)): Checked<Query<HashMap<String, String>>>,
) -> Result<Json<Value>, ApiError> {
    let since = time_param("since", p.get("since"))?;
    let mut sql = format!("SELECT * FROM {} AS a WHERE true", fivefold_query::alarm_episodes());
    if let Some(u) = p.get("uscc") {
        check_uscc(u)?;
        sql.push_str(&format!(" AND uscc = '{u}'"));
    }
    match since {
        Some(s) => sql.push_str(&format!(" AND start_time >= to_timestamp_millis({s})")),
        None => sql.push_str(
            " AND start_time >= (SELECT max(start_time) FROM alarms) - INTERVAL '24 hours'",
        ),
    }
    sql.push_str(" ORDER BY start_time DESC LIMIT 1000");
    let cache = st.cache();
    Ok(Json(json!({ "items": rows(&cache.ctx, &sql).await? })))
}

#[derive(Debug, Deserialize)]
struct ReportParams {
    period: Option<String>,
    lang: Option<String>,
    town: Option<String>,
    county: Option<String>,
}

/// A query parameter that was given and is not blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The period report as an HTML page with a form for another period; with no
/// `period`, the quarter of the lake's newest score.
async fn report(
    State(st): St,
    Checked(Query(p)): Checked<Query<ReportParams>>,
) -> Result<Response, ApiError> {
    use fivefold_report::{Kind, Lang, Scope};
    // fivefold-report quotes a bad value whole; none of these is long.
    for (name, v) in
        [("period", &p.period), ("lang", &p.lang), ("town", &p.town), ("county", &p.county)]
    {
        if let Some(v) = v.as_deref().filter(|v| v.len() > 32) {
            return Err(ApiError::BadRequest(format!("{name} is too long: {}", shown(v))));
        }
    }
    let lang: Lang = match given(&p.lang) {
        Some(l) => l.parse().map_err(ApiError::BadRequest)?,
        None => Lang::Zh,
    };
    let scope = match (given(&p.town), given(&p.county)) {
        (Some(t), _) => Scope::town(t)?,
        (None, Some(c)) => Scope::county(c)?,
        (None, None) => Scope::All,
    };
    let cache = st.cache();
    let limit = st.opts.sql_timeout;
    let work = async {
        let period = match given(&p.period) {
            Some(s) => s.parse()?,
            None => fivefold_report::latest_period(&cache.ctx, Kind::Quarter).await?.ok_or_else(
                || fivefold_report::Error::Period {
                    given: "(none, and the lake has no scores yet)".into(),
                },
            )?,
        };
        fivefold_report::gather(&cache.ctx, period, scope).await
    };
    let figures =
        tokio::time::timeout(limit, work).await.map_err(|_| ApiError::Timeout(limit))??;
    let page = fivefold_report::html(&figures, lang, Some(cache.version), Some("/report"));
    Ok(Html(page).into_response())
}

#[derive(Debug, Deserialize)]
struct SqlBody {
    sql: String,
}

async fn sql(
    State(st): St,
    body: Result<Json<SqlBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(BODY_LIMIT)
        } else {
            // serde_json stops at 128 levels of nesting, so a deeply nested
            // body is refused here without deep recursion.
            ApiError::BadRequest(format!("the body must be JSON {{\"sql\": \"...\"}}: {e}"))
        }
    })?;
    let cache = st.cache();
    let max_rows = st.opts.max_rows;
    let work = async move { sql_rows(&cache.sql_ctx, &body.sql, max_rows).await };
    let mut task = st
        .queries
        .spawn(work)
        .ok_or_else(|| ApiError::Internal("the SQL threads have stopped".into()))?;
    let limit = st.opts.sql_timeout;
    // On a timeout (or when the client leaves) `task` is dropped, which cancels the query.
    let (rows, truncated) = tokio::time::timeout(limit, &mut task.0)
        .await
        .map_err(|_| ApiError::Timeout(limit))?
        .map_err(|e| ApiError::Internal(format!("the query task failed: {e}")))?
        .map_err(|e| e.with_memory_limit(st.opts.sql_memory_bytes))?;
    Ok((StatusCode::OK, Json(json!({ "rows": rows, "truncated": truncated }))).into_response())
}

async fn readyz(State(st): St) -> Response {
    let lake = st.lake.clone();
    match tokio::task::spawn_blocking(move || fivefold_lake::read_snapshot(&lake)).await {
        Ok(Ok(s)) => {
            // How far behind the lake is, as a reader can tell: seconds since
            // the pipeline last committed new input (consumer lag in records
            // is on the pipeline's own /readyz and /metrics).
            let now = fivefold_lake::now_ms();
            let age = s.input_committed_at_ms.map(|t| (now - t).max(0) as f64 / 1000.0);
            Json(json!({
                "ready": true,
                "lake_version": s.version,
                "served_version": st.cache().version,
                "last_input_commit_ms": s.input_committed_at_ms,
                "input_lag_s": age,
            }))
            .into_response()
        }
        Ok(Err(e)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "error": e.to_string()})))
                .into_response()
        }
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "error": e.to_string()})))
                .into_response()
        }
    }
}

async fn metrics_text(State(st): St) -> Response {
    let body = st.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
