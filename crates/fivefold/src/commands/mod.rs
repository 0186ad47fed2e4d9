//! One module per subcommand.

mod check_config;
mod compact;
mod demo;
mod generate;
mod lake;
mod replay;
mod report;
mod run;
mod serve;
mod sql;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Run(a) => run::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Sql(a) => sql::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Report(a) => report::run(a),
        Command::CheckConfig(a) => check_config::run(a),
        Command::Compact(a) => compact::run(a),
        Command::Lake(a) => lake::run(a),
    }
}

/// The committed snapshot of the lake directory given as `--lake`.
pub(crate) fn read_lake(lake: &std::path::Path) -> anyhow::Result<fivefold_lake::Snapshot> {
    use anyhow::Context as _;
    if !fivefold_lake::is_object_url(lake) && !lake.is_dir() {
        anyhow::bail!("--lake {} is not a directory", lake.display());
    }
    fivefold_lake::read_snapshot(lake)
        .with_context(|| format!("reading the lake at {}", lake.display()))
}

/// A flag set by SIGINT or SIGTERM, for loops that stop cleanly.
pub(crate) fn shutdown_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(error) => {
                        tracing::warn!(%error, "Cannot listen for SIGTERM.");
                        let _ = tokio::signal::ctrl_c().await;
                        set.store(true, Ordering::Relaxed);
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("Stopping: committing what is in flight.");
            set.store(true, Ordering::Relaxed);
        });
    })?;
    Ok(flag)
}
