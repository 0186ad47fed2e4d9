//! `fivefold run`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use fivefold_lake::Lake;
use fivefold_pipeline::{Config, Health, RunOptions};

use crate::cli::RunArgs;

pub(crate) fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut cfg = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(b) = args.brokers {
        cfg.kafka.brokers = b;
    }
    if let Some(g) = args.group {
        cfg.kafka.group = g;
    }
    if let Some(l) = args.lake {
        cfg.lake.path = l;
    }
    if let Some(p) = args.topic_prefix {
        cfg.kafka.topic_prefix = p;
    }
    if let Some(l) = args.listen {
        cfg.run.listen = l;
    }
    cfg.kafka.create_topics |= args.create_topics;
    cfg.validate()?;
    let lake = Lake::open(&cfg.lake.path, cfg.lake.writer_options())
        .with_context(|| format!("opening the lake at {}", cfg.lake.path.display()))?;
    let opts = RunOptions {
        commit_interval: cfg.run.commit_interval(),
        commit_rows: cfg.run.commit_rows,
        batch_rows: cfg.run.batch_rows,
        exit_at_end: args.exit_at_end,
        model: cfg.scoring.model(None)?,
        check_clock: true,
        health: Arc::new(Health::default()),
    };
    let stop = super::shutdown_flag()?;
    let status = if cfg.run.listen.is_empty() {
        None
    } else {
        let addr: SocketAddr = cfg.run.listen.parse().context("run.listen")?;
        Some(spawn_status(addr, Arc::clone(&opts.health), Arc::clone(&stop))?)
    };
    tracing::info!(brokers = %cfg.kafka.brokers, group = %cfg.kafka.group, lake = %cfg.lake.path.display(), "Starting.");
    let summary = fivefold_pipeline::run(&cfg.kafka, lake, &opts, &stop, &AtomicU64::new(0));
    stop.store(true, Ordering::Relaxed);
    if let Some(status) = status {
        status.join().map_err(|_| anyhow::anyhow!("the status thread panicked"))??;
    }
    let summary = summary?;
    let accepted: u64 = summary.accepted.values().sum();
    let rejected: u64 = summary.rejected.values().sum();
    println!(
        "consumed {} records: {accepted} accepted, {rejected} dead letters; {} commits",
        summary.records, summary.commits
    );
    Ok(())
}

/// Serves `/healthz`, `/readyz` and `/metrics` of this pipeline on `addr`
/// until `stop` is set.
fn spawn_status(
    addr: SocketAddr,
    health: Arc<Health>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("run.listen: binding {addr}"))?;
    let probe: fivefold_api::Probe = Arc::new(move || {
        let s = health.status();
        (s.ready(), s.to_json())
    });
    let metrics = super::serve::metrics();
    Ok(std::thread::Builder::new().name("status".into()).spawn(move || {
        rt.block_on(async move {
            let shutdown = async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            fivefold_api::serve_status(probe, metrics, listener, shutdown).await;
            Ok(())
        })
    })?)
}
