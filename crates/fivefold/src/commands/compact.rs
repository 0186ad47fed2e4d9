//! `fivefold compact`.

use anyhow::{Context as _, bail};
use fivefold_lake::{CompactOptions, Lake, WriterOptions};

use crate::cli::CompactArgs;

pub(crate) fn run(args: CompactArgs) -> anyhow::Result<()> {
    if !fivefold_lake::is_object_url(&args.lake) && !args.lake.join("_fivefold/log").is_dir() {
        bail!("--lake {} is not a Fivefold lake (no _fivefold/log)", args.lake.display());
    }
    let Some(retain) = fivefold_pipeline::config::parse_duration(&args.retain) else {
        bail!("--retain: expected a duration such as 30s, 10m or 1h, got {:?}", args.retain);
    };
    if args.target_mb == 0 {
        bail!("--target-mb: must be at least 1");
    }
    if let Some(e) = fivefold_pipeline::config::zstd_level_problem(args.zstd_level) {
        bail!("--zstd-level: {e}");
    }
    let opts = CompactOptions { target_bytes: args.target_mb << 20, retain };
    let writer = WriterOptions { zstd_level: args.zstd_level, ..WriterOptions::default() };
    let mut lake = Lake::open(&args.lake, writer)
        .with_context(|| format!("opening the lake at {}", args.lake.display()))?;
    let plan = lake.plan_compaction(&opts)?;
    let bar = crate::progress::bar(plan.input_files(), "files");
    let report = lake.compact(plan, &opts, &mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    if report.commits == 0 {
        println!("nothing to compact at version {}", report.version);
    } else {
        println!(
            "merged {} files into {} ({} rows, {:.1} MiB into {:.1} MiB) in {} commits; the lake \
             stands at version {}",
            report.files_in,
            report.files_out,
            report.rows,
            report.bytes_in as f64 / 1048576.0,
            report.bytes_out as f64 / 1048576.0,
            report.commits,
            report.version,
        );
    }
    if report.deleted > 0 {
        println!("deleted {} files that earlier compactions replaced", report.deleted);
    }
    Ok(())
}
