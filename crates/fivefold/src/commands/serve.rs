//! `fivefold serve`: the API and dashboard over a lake.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use fivefold_api::{AppState, ServeOptions, TlsFiles};
use fivefold_pipeline::Config;

use crate::cli::ServeArgs;

/// The API options of a configuration.
pub(crate) fn options(cfg: &Config) -> ServeOptions {
    let s = &cfg.serve;
    let path = |p: &str| (!p.trim().is_empty()).then(|| PathBuf::from(p));
    ServeOptions {
        sql_timeout: s.sql_timeout(),
        max_rows: s.max_rows,
        sql_memory_bytes: s.sql_memory_bytes,
        token: (!s.token.is_empty()).then(|| s.token.clone()),
        header_timeout: s.header_timeout(),
        body_timeout: s.body_timeout(),
        max_connections: s.max_connections,
        // Validation makes sure both are set or neither.
        tls: path(&s.tls_cert).zip(path(&s.tls_key)).map(|(cert, key)| TlsFiles { cert, key }),
        ..ServeOptions::default()
    }
}

/// The API options of a configuration with its TLS files loaded once, so
/// that a bad certificate or key is one clear error before anything is
/// served, and the URL scheme they serve (`http` or `https`).
pub(crate) fn checked_options(cfg: &Config) -> anyhow::Result<(ServeOptions, &'static str)> {
    let opts = options(cfg);
    if let Some(files) = &opts.tls {
        files.load()?;
    }
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    Ok((opts, scheme))
}

/// Installs the Prometheus recorder behind `/metrics` (once per process).
pub(crate) fn metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok()
}

/// Serves `lake` on `addr` until `stop` is set; runs on its own runtime.
pub(crate) fn spawn(
    lake: PathBuf,
    addr: SocketAddr,
    opts: ServeOptions,
    handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    Ok(std::thread::Builder::new().name("api".into()).spawn(move || {
        rt.block_on(async move {
            let state = AppState::load(lake, opts, handle).await?;
            let shutdown = async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            fivefold_api::serve(state, addr, shutdown)
                .await
                .with_context(|| format!("serving on {addr}"))
        })
    })?)
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut cfg = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(l) = args.listen {
        cfg.serve.listen = l;
    }
    if let Some(c) = args.tls_cert {
        cfg.serve.tls_cert = c.to_string_lossy().into_owned();
    }
    if let Some(k) = args.tls_key {
        cfg.serve.tls_key = k.to_string_lossy().into_owned();
    }
    // The flags may have set one TLS file without the other.
    if let Some(problem) = cfg.serve.problems().into_iter().next() {
        anyhow::bail!("{problem}");
    }
    let addr: SocketAddr = cfg
        .serve
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not HOST:PORT", cfg.serve.listen))?;
    if !fivefold_lake::is_object_url(&args.lake) && !args.lake.is_dir() {
        anyhow::bail!("--lake {} is not a directory", args.lake.display());
    }
    let (opts, scheme) = checked_options(&cfg)?;
    let stop = super::shutdown_flag()?;
    let server = spawn(args.lake, addr, opts, metrics(), stop)?;
    println!("Fivefold API and dashboard on {scheme}://{addr}/");
    server.join().map_err(|_| anyhow::anyhow!("the API thread panicked"))?
}
