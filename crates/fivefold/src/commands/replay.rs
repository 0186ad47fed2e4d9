//! `fivefold replay`.

use anyhow::Context as _;
use fivefold_lake::Lake;
use fivefold_pipeline::{Config, ReplayOptions};

use crate::cli::ReplayArgs;
use crate::progress;

pub(crate) fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let mut cfg = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(l) = args.lake {
        cfg.lake.path = l;
    }
    if !args.input.is_dir() {
        anyhow::bail!("--input {} is not a directory", args.input.display());
    }
    let mut lake = Lake::open(&cfg.lake.path, cfg.lake.writer_options())
        .with_context(|| format!("opening the lake at {}", cfg.lake.path.display()))?;
    let opts = ReplayOptions {
        model: cfg.scoring.model(args.rules.as_deref())?,
        batch_rows: cfg.replay.batch_rows,
        commit_rows: cfg.replay.commit_rows,
        commit_interval: cfg.replay.commit_interval(),
    };
    let pb = progress::bar(0, "bytes");
    let summary = fivefold_pipeline::replay(&args.input, &mut lake, &opts, &mut |p| {
        pb.set_length(p.total_bytes);
        pb.set_position(p.bytes);
    })?;
    pb.finish_and_clear();
    if summary.files.is_empty() {
        anyhow::bail!(
            "--input {} holds none of enterprise.jsonl, hazard.jsonl, enforcement.jsonl, \
             monitoring.jsonl, rescue.jsonl (or .jsonl.gz)",
            args.input.display()
        );
    }
    let accepted: u64 = summary.accepted.values().sum();
    let rejected: u64 = summary.rejected.values().sum();
    println!(
        "replayed {} records from {} files: {accepted} accepted, {rejected} dead letters; lake version {}",
        summary.records,
        summary.files.len(),
        lake.state().version
    );
    Ok(())
}
