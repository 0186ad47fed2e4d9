//! The command line, as `interfaces.md` names it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Fivefold: the five-in-one emergency-management data hub's stream engine.
#[derive(Debug, Parser)]
#[command(name = "fivefold", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate realistic synthetic records for all five topics (deterministic per seed).
    Generate(GenerateArgs),
    /// Run the pipeline over files into a lake; resumes where the lake's last commit stood.
    Replay(ReplayArgs),
    /// Run read-only SQL over the lake with DataFusion.
    Sql(SqlArgs),
    /// Validate a pipeline configuration file; every problem is named with its key.
    CheckConfig(CheckConfigArgs),
}

impl Command {
    /// The log level when `FIVEFOLD_LOG` is not set.
    pub(crate) fn default_log_level(&self) -> &'static str {
        "warn"
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// Enterprises in the synthetic city.
    #[arg(long, default_value_t = 200)]
    pub(crate) enterprises: u32,
    /// Hours of event time to generate.
    #[arg(long, default_value_t = 24.0)]
    pub(crate) hours: f64,
    /// Seed: the same seed and sizes give byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Fraction of extra malformed records (of every bad-input class), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) bad_ratio: f64,
    /// Start of event time (RFC 3339); default 2026-03-01T00:00:00+08:00.
    #[arg(long)]
    pub(crate) start: Option<String>,
    /// Write `<topic>.jsonl` files into this directory.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Directory with enterprise.jsonl, hazard.jsonl, enforcement.jsonl,
    /// monitoring.jsonl, rescue.jsonl (any may be missing; .jsonl.gz too).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// The lake directory (created if missing).
    #[arg(long)]
    pub(crate) lake: Option<PathBuf>,
    /// Pipeline configuration file (TOML); flags override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// The lake directory.
    #[arg(long)]
    pub(crate) lake: PathBuf,
    /// Output format: table, csv or json.
    #[arg(long, default_value = "table")]
    pub(crate) format: String,
    /// Print the query plan instead of running the query.
    #[arg(long)]
    pub(crate) explain: bool,
    /// The query.
    pub(crate) sql: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckConfigArgs {
    /// The configuration file to check.
    pub(crate) file: PathBuf,
}
