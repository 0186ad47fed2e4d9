//! `fivefold sql`.

use fivefold_query::{OutputFormat, QueryOptions};

use crate::cli::SqlArgs;

pub(crate) fn run(args: SqlArgs) -> anyhow::Result<()> {
    let format: OutputFormat = args.format.parse().map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    let snapshot = super::read_lake(&args.lake)?;
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
