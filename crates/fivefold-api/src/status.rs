//! The status endpoints of a pipeline process (`fivefold run` with
//! `run.listen`): `/healthz`, `/readyz` and `/metrics`, without the lake API.
//!
//! The pipeline's health comes in as a probe, so this crate does not depend on
//! the pipeline.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::Value;

/// Says whether the process is ready, and why, as JSON for `/readyz`.
pub type Probe = Arc<dyn Fn() -> (bool, Value) + Send + Sync>;

#[derive(Clone)]
struct Status {
    probe: Probe,
    metrics: Option<PrometheusHandle>,
}

/// The router: `/healthz` (alive), `/readyz` (200 when ready, else 503, with
/// the probe's JSON either way) and `/metrics` (Prometheus text).
pub fn status_app(probe: Probe, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Status { probe, metrics })
}

async fn readyz(State(st): State<Status>) -> Response {
    let (ready, body) = (st.probe)();
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, axum::Json(body)).into_response()
}

async fn metrics_text(State(st): State<Status>) -> Response {
    let body = st.metrics.as_ref().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Serves the status endpoints on `listener` until `shutdown` resolves, with
/// the API's limits on slow clients and connections.
pub async fn serve_status(
    probe: Probe,
    metrics: Option<PrometheusHandle>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let defaults = crate::ServeOptions::default();
    let limits = crate::server::Limits {
        header_timeout: defaults.header_timeout,
        max_connections: defaults.max_connections,
        tls: None,
    };
    crate::server::accept_loop(status_app(probe, metrics), listener, limits, shutdown).await;
}
