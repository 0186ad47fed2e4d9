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
    /// The production pipeline: consume the five topics from Kafka into the lake until stopped.
    Run(RunArgs),
    /// The whole system on one machine: an embedded Kafka-protocol broker, the generator
    /// producing continuously, and the pipeline. Ctrl-C stops it cleanly.
    Demo(DemoArgs),
    /// Run read-only SQL over the lake with DataFusion.
    Sql(SqlArgs),
    /// The HTTP API and dashboard over an existing lake.
    Serve(ServeArgs),
    /// The period report (KPI tables, trend charts, top enterprises, towns by colour) as HTML
    /// or Markdown.
    Report(ReportArgs),
    /// Validate a pipeline configuration or a risk model file; every problem names its key or rule.
    CheckConfig(CheckConfigArgs),
    /// Merge small Parquet files of each table and date into larger ones, as one commit per
    /// partition; safe beside running pipelines and queries.
    Compact(CompactArgs),
    /// Lake maintenance: `repair` a damaged commit log.
    Lake(LakeArgs),
}

impl Command {
    /// The log level when `FIVEFOLD_LOG` is not set.
    pub(crate) fn default_log_level(&self) -> &'static str {
        match self {
            Command::Run(_) | Command::Demo(_) | Command::Serve(_) => "info",
            _ => "warn",
        }
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
    #[arg(long, required_unless_present = "brokers", conflicts_with = "brokers")]
    pub(crate) out: Option<PathBuf>,
    /// Produce to the five topics on these Kafka brokers instead (HOST:PORT,...).
    #[arg(long)]
    pub(crate) brokers: Option<String>,
    /// Pipeline configuration file (TOML) whose `[kafka]` section (e.g. SASL/TLS
    /// `properties`) the producer uses.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Prefix of the topic names when producing to Kafka.
    #[arg(long, default_value = "")]
    pub(crate) topic_prefix: String,
    /// Partitions of topics created when producing to Kafka (missing topics are created).
    #[arg(long, default_value_t = 3)]
    pub(crate) partitions: i32,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Pipeline configuration file (TOML); flags override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Kafka bootstrap servers, HOST:PORT,...
    #[arg(long)]
    pub(crate) brokers: Option<String>,
    /// Consumer group id.
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// The lake: a directory, or s3://BUCKET/PREFIX on S3-compatible storage.
    #[arg(long)]
    pub(crate) lake: Option<PathBuf>,
    /// Prefix of the five topic names.
    #[arg(long)]
    pub(crate) topic_prefix: Option<String>,
    /// Create missing topics instead of refusing to start.
    #[arg(long)]
    pub(crate) create_topics: bool,
    /// Exit once the lake holds everything that was on the topics at startup.
    #[arg(long)]
    pub(crate) exit_at_end: bool,
    /// Serve /healthz, /readyz and /metrics on this address (HOST:PORT).
    #[arg(long)]
    pub(crate) listen: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompactArgs {
    /// The lake: a directory, or s3://BUCKET/PREFIX on S3-compatible storage.
    #[arg(long)]
    pub(crate) lake: PathBuf,
    /// Files smaller than this many MiB are merged, into files of about this size.
    #[arg(long, default_value_t = 128)]
    pub(crate) target_mb: u64,
    /// How long replaced files stay on disk for queries that listed them before the
    /// compaction (e.g. 30s, 10m, 1h); a later compaction deletes them.
    #[arg(long, default_value = "1h")]
    pub(crate) retain: String,
    /// zstd level of the merged files (1-22). Ingest writes at `lake.zstd_level`
    /// (1 by default: least CPU per record); merging is where a smaller lake is
    /// cheap to buy.
    #[arg(long, default_value_t = 3)]
    pub(crate) zstd_level: i32,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LakeArgs {
    #[command(subcommand)]
    pub(crate) command: LakeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LakeCommand {
    /// Move a damaged commit log tail aside (into _fivefold/quarantine/) so the lake stands
    /// at its last good version; a restarted pipeline consumes again from that version's
    /// offsets. Refuses while a pipeline has the lake open.
    Repair {
        /// The lake directory.
        #[arg(long)]
        lake: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Enterprises in the synthetic city.
    #[arg(long, default_value_t = 200)]
    pub(crate) enterprises: u32,
    /// The lake directory.
    #[arg(long, default_value = "fivefold-demo-lake")]
    pub(crate) lake: PathBuf,
    /// Records produced per second (event time runs as fast as the records allow).
    #[arg(long, default_value_t = 5000)]
    pub(crate) rate: u32,
    /// Partitions per topic on the embedded broker.
    #[arg(long, default_value_t = 3)]
    pub(crate) partitions: i32,
    /// Seed of the synthetic city.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Address of the API and dashboard.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Directory with enterprise.jsonl, hazard.jsonl, enforcement.jsonl,
    /// monitoring.jsonl, rescue.jsonl (any may be missing; .jsonl.gz too).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// The lake: a directory (created if missing), or s3://BUCKET/PREFIX on S3-compatible storage.
    #[arg(long)]
    pub(crate) lake: Option<PathBuf>,
    /// Pipeline configuration file (TOML); flags override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Risk model file (default: `[scoring] rules`, else the built-in reference model).
    #[arg(long)]
    pub(crate) rules: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// The lake: a directory, or s3://BUCKET/PREFIX on S3-compatible storage.
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
pub(crate) struct ReportArgs {
    /// The lake: a directory, or s3://BUCKET/PREFIX on S3-compatible storage.
    #[arg(long)]
    pub(crate) lake: PathBuf,
    /// The period: 2026-03-01 (day), 2026-W09 (ISO week), 2026-03, 2026-Q1 or 2026.
    #[arg(long)]
    pub(crate) period: String,
    /// Only this town (its 12-digit region code, or the first 9 digits).
    #[arg(long, conflicts_with = "county")]
    pub(crate) town: Option<String>,
    /// Only this county (its 12-digit region code, or the first 6 digits).
    #[arg(long)]
    pub(crate) county: Option<String>,
    /// html (one file, charts inline) or md (charts as SVG files beside it).
    #[arg(long, default_value = "html")]
    pub(crate) format: String,
    /// Labels: zh or en.
    #[arg(long, default_value = "zh")]
    pub(crate) lang: String,
    /// The file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The lake: a directory, or s3://BUCKET/PREFIX on S3-compatible storage.
    #[arg(long)]
    pub(crate) lake: PathBuf,
    /// Listen address (default `[serve] listen`, 127.0.0.1:8080).
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// Pipeline configuration file (TOML), for the `[serve]` section.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (default `[serve] tls_cert`); needs
    /// --tls-key.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (default `[serve] tls_key`).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckConfigArgs {
    /// The configuration file to check.
    pub(crate) file: PathBuf,
}
