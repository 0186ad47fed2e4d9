//! `fivefold generate`.

use anyhow::Context as _;
use fivefold_generate::{GenConfig, Generator, write_files};
use fivefold_model::time::parse_rfc3339_ms;

use crate::cli::GenerateArgs;
use crate::progress;

pub(crate) fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let mut cfg = GenConfig {
        enterprises: args.enterprises,
        hours: args.hours,
        seed: args.seed,
        bad_ratio: args.bad_ratio,
        ..GenConfig::default()
    };
    if let Some(start) = &args.start {
        cfg.start_ms = parse_rfc3339_ms(start).map_err(|e| {
            anyhow::anyhow!("--start {start:?} is not an RFC 3339 timestamp ({})", e.0)
        })?;
    }
    let generator = Generator::new(cfg)?;
    let pb = progress::bar(generator.estimated_records(), "records");
    let summary = write_files(generator, &args.out, &mut |n| pb.set_position(n))
        .with_context(|| format!("writing to {}", args.out.display()))?;
    pb.finish_and_clear();
    let good: u64 = summary.good.iter().sum();
    let bad: u64 = summary.bad.iter().sum();
    println!(
        "generated {} records ({good} good, {bad} malformed) into {}",
        good + bad,
        args.out.display()
    );
    Ok(())
}
