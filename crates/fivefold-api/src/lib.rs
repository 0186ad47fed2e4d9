//! The Fivefold HTTP API and dashboard (axum).
//!
//! Dashboards poll the risk routes many times a second, so the latest score
//! of every enterprise and the region rows are held in memory, rebuilt when a
//! new lake commit lands, and swapped atomically; a poll never scans Parquet.
//! History, alarms and ad-hoc SQL go to DataFusion over the committed lake.
//!
//! Entry points: [`AppState::load`] and [`app`] (the router), or [`serve`].

mod cache;
mod error;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

pub use cache::Cache;
pub use error::ApiError;

/// How the API serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time limit of one SQL query.
    pub sql_timeout: Duration,
    /// Most rows a SQL response carries.
    pub max_rows: usize,
    /// Memory a SQL query may use (DataFusion's memory pool), bytes.
    pub sql_memory_bytes: usize,
    /// Bearer token required on `/api/` routes when set.
    pub token: Option<String>,
    /// How often the lake is checked for a new commit.
    pub refresh_every: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            sql_timeout: Duration::from_secs(10),
            max_rows: 10_000,
            sql_memory_bytes: 512 << 20,
            token: None,
            refresh_every: Duration::from_secs(1),
        }
    }
}

/// Shared by every request.
pub struct AppState {
    /// The lake directory.
    pub lake: PathBuf,
    /// Options.
    pub opts: ServeOptions,
    cache: RwLock<Arc<Cache>>,
    metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Reads the lake and builds the first cache.
    pub async fn load(
        lake: PathBuf,
        opts: ServeOptions,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Arc<AppState>, ApiError> {
        let cache = Cache::build(&lake, opts.sql_memory_bytes).await?;
        Ok(Arc::new(AppState { lake, opts, cache: RwLock::new(Arc::new(cache)), metrics }))
    }

    /// The current cache.
    pub fn cache(&self) -> Arc<Cache> {
        Arc::clone(&self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Rebuilds the cache when the lake has a new version.
    pub async fn refresh(&self) -> Result<bool, ApiError> {
        let snapshot = cache::read_snapshot(&self.lake).await?;
        if snapshot.version == self.cache().version {
            return Ok(false);
        }
        let fresh = Cache::build_from(snapshot, self.opts.sql_memory_bytes).await?;
        *self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        Ok(true)
    }
}

/// The router.
pub fn app(state: Arc<AppState>) -> Router {
    routes::router(state)
}

/// Serves until `shutdown` resolves, refreshing the cache in the background.
pub async fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let refresher = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(refresher.opts.refresh_every).await;
            if let Err(error) = refresher.refresh().await {
                tracing::warn!(%error, "Refreshing the API cache failed.");
            }
        }
    });
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
