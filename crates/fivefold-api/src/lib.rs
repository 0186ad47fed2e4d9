//! The Fivefold HTTP API and dashboard (axum).
//!
//! Dashboards poll the risk routes many times a second, so the latest score
//! of every enterprise and the region rows are held in memory, rebuilt when a
//! new lake commit lands, and swapped atomically; a poll never scans Parquet.
//! History, alarms and ad-hoc SQL go to DataFusion over the committed lake.
//!
//! Entry points: [`AppState::load`] and [`app`] (the router), or [`serve`] /
//! [`serve_on`], which add what the router alone cannot: time limits on slow
//! clients, a cap on connections, and optional TLS.

mod cache;
mod error;
mod routes;
mod server;
mod status;
mod tls;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

pub use cache::Cache;
pub use error::ApiError;
pub use server::{ServeError, serve, serve_on};
pub use status::{Probe, serve_status, status_app};
pub use tls::{TlsError, TlsFiles};

/// How the API serves. `Debug` never shows the token.
#[derive(Clone)]
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
    /// Time a client has to send a request line and its headers, counted from
    /// when the server starts waiting for them (so it also closes an idle
    /// keep-alive connection), and to finish a TLS handshake.
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body once its headers are in.
    pub body_timeout: Duration,
    /// Most connections served at once; further ones wait in the listen
    /// backlog until one closes.
    pub max_connections: usize,
    /// Serve HTTPS with these PEM files instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("sql_timeout", &self.sql_timeout)
            .field("max_rows", &self.max_rows)
            .field("sql_memory_bytes", &self.sql_memory_bytes)
            .field("token", &self.token.as_ref().map(|_| "****"))
            .field("refresh_every", &self.refresh_every)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            sql_timeout: Duration::from_secs(10),
            max_rows: 10_000,
            sql_memory_bytes: 512 << 20,
            token: None,
            refresh_every: Duration::from_secs(1),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 512,
            tls: None,
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
    queries: QueryRuntime,
}

/// Where `/api/v1/sql` statements are planned and run: threads of their own,
/// with large stacks.
///
/// DataFusion plans and evaluates expressions by recursion, and the
/// optimiser merges the expressions of chained CTEs and subqueries, so an
/// accepted statement (within [`shape`]'s limits: 32 SELECTs, 64 levels
/// each) may still become an expression about 2,000 levels deep. In a debug
/// build that needs about 15 MiB of stack; a tokio worker has 2 MiB, and an
/// overflow aborts the process. Stacks are reserved address space, committed
/// only as far as they are used. Running queries apart also keeps the HTTP
/// threads free for `/healthz` and the risk routes while a query is busy.
struct QueryRuntime(Option<tokio::runtime::Runtime>);

/// Stack of a query thread: four times what the deepest accepted statement needs.
const QUERY_STACK_BYTES: usize = 64 << 20;

impl QueryRuntime {
    fn start() -> Result<QueryRuntime, ApiError> {
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("fivefold-sql")
            .thread_stack_size(QUERY_STACK_BYTES)
            .enable_all()
            .build()
            .map(|rt| QueryRuntime(Some(rt)))
            .map_err(|e| ApiError::Internal(format!("starting the SQL threads: {e}")))
    }

    /// Runs `work` on the query threads; dropping the handle cancels it.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<server::AbortOnDrop<T>> {
        self.0.as_ref().map(|rt| server::AbortOnDrop(rt.spawn(work)))
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // The state may be dropped inside another runtime, where a blocking
        // shutdown panics.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl AppState {
    /// Reads the lake and builds the first cache.
    pub async fn load(
        lake: PathBuf,
        opts: ServeOptions,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Arc<AppState>, ApiError> {
        let cache = Cache::build(&lake, opts.sql_memory_bytes).await?;
        let queries = QueryRuntime::start()?;
        Ok(Arc::new(AppState { lake, opts, cache: RwLock::new(Arc::new(cache)), metrics, queries }))
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
