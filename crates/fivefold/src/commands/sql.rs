//! `fivefold sql`.

use std::io::Write as _;

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
            // Rows go out as they come: a result larger than memory still prints.
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut out = fivefold_query::query_to(&ctx, &args.sql, format, out).await?;
            // CSV ends its last line; the table and JSON get one.
            if format != OutputFormat::Csv {
                writeln!(out)?;
            }
            out.flush()?;
        }
        anyhow::Ok(())
    })
}
