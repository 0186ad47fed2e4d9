//! `fivefold sql`.

use anyhow::Context as _;
use fivefold_query::{OutputFormat, QueryOptions};

use crate::cli::SqlArgs;

pub(crate) fn run(args: SqlArgs) -> anyhow::Result<()> {
    let format: OutputFormat = args.format.parse().map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    if !args.lake.is_dir() {
        anyhow::bail!("--lake {} is not a directory", args.lake.display());
    }
    let snapshot = fivefold_lake::read_snapshot(&args.lake)
        .with_context(|| format!("reading the lake at {}", args.lake.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let ctx = fivefold_query::lake_session(&snapshot, &QueryOptions::default())?;
        if args.explain {
            println!("{}", fivefold_query::explain(&ctx, &args.sql).await?);
        } else {
            let batches = fivefold_query::query(&ctx, &args.sql).await?;
            let text = fivefold_query::format_batches(&batches, format)?;
            if text.ends_with('\n') {
                print!("{text}");
            } else {
                println!("{text}");
            }
        }
        anyhow::Ok(())
    })
}
