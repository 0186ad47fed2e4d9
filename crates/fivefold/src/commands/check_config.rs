//! `fivefold check-config FILE`: a pipeline configuration or a risk model.

use anyhow::Context as _;
use fivefold_pipeline::{Config, config};

use crate::cli::CheckConfigArgs;

pub(crate) fn run(args: CheckConfigArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let is_model = text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("model_version"));
    if is_model {
        let env = config::env_overrides(std::env::vars());
        let m = config::model_with_overrides(&text, &args.file.display().to_string(), &env)?;
        println!(
            "{}: ok (risk model {}, {} rules)",
            args.file.display(),
            m.model_version,
            m.rules.len()
        );
    } else {
        let cfg = Config::load(Some(&args.file), std::env::vars()).with_context(|| {
            format!("{} is not a valid pipeline configuration", args.file.display())
        })?;
        if cfg.scoring.enabled {
            cfg.scoring.model(None)?;
        }
        println!("{}: ok", args.file.display());
    }
    Ok(())
}
