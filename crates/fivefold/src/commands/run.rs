//! `fivefold run`.

use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use fivefold_lake::Lake;
use fivefold_pipeline::{Config, RunOptions};

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
    cfg.kafka.create_topics |= args.create_topics;
    cfg.validate()?;
    let lake = Lake::open(&cfg.lake.path, cfg.lake.writer_options())
        .with_context(|| format!("opening the lake at {}", cfg.lake.path.display()))?;
    let opts = RunOptions {
        commit_interval: cfg.run.commit_interval(),
        commit_rows: cfg.run.commit_rows,
        exit_at_end: args.exit_at_end,
        model: cfg.scoring.model(None)?,
    };
    let stop = super::shutdown_flag()?;
    tracing::info!(brokers = %cfg.kafka.brokers, group = %cfg.kafka.group, lake = %cfg.lake.path.display(), "Starting.");
    let summary = fivefold_pipeline::run(&cfg.kafka, lake, &opts, &stop, &AtomicU64::new(0))?;
    let accepted: u64 = summary.accepted.values().sum();
    let rejected: u64 = summary.rejected.values().sum();
    println!(
        "consumed {} records: {accepted} accepted, {rejected} dead letters; {} commits",
        summary.records, summary.commits
    );
    Ok(())
}
