//! `fivefold check-config FILE`.

use anyhow::Context as _;
use fivefold_pipeline::Config;

use crate::cli::CheckConfigArgs;

pub(crate) fn run(args: CheckConfigArgs) -> anyhow::Result<()> {
    Config::load(Some(&args.file), std::env::vars()).with_context(|| {
        format!("{} is not a valid pipeline configuration", args.file.display())
    })?;
    println!("{}: ok", args.file.display());
    Ok(())
}
