//! Configuration parsing and validation: the pipeline config
//! (`config/fivefold.toml`, `fivefold_pipeline::Config`) and the risk model
//! (`config/risk-model.toml`, `fivefold_score::RiskModel`).
//!
//! The input is UTF-8 text (anything else is skipped). Text up to a line that
//! is exactly `# env` is a config file; each `KEY=VALUE` line after it is an
//! environment override (`FIVEFOLD_<SECTION>__<KEY>`). Every input goes
//! through:
//!
//! - `Config::load(Some(file), env)`: the built-in defaults, the file (written
//!   to a per-process scratch file), the overrides, then `validate()`;
//! - `Config` straight from the text (no defaults), then `validate()`;
//! - `RiskModel::from_toml`: deserialising, `validate()` and compiling the rules.
//!
//! Checked: no panic; an accepted config's durations and accessors are usable.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use fivefold_pipeline::Config;
use fivefold_score::RiskModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = match text.split_once("\n# env\n") {
        Some((file, env)) => (file, env),
        None => (text, ""),
    };
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

    let path = scratch_file();
    std::fs::write(path, file).expect("the scratch file is writable");
    if let Ok(cfg) = Config::load(Some(path), env) {
        use_config(&cfg);
    }

    if let Ok(cfg) = toml::from_str::<Config>(file)
        && cfg.validate().is_ok()
    {
        use_config(&cfg);
    }

    if let Ok(model) = RiskModel::from_toml(file, "fuzz input") {
        // A model that loads compiles its rules again the same way.
        fivefold_score::rules::Rules::compile(&model.rules).expect("an accepted model compiles");
    }
});

/// What the commands read from an accepted config, all of which must work.
fn use_config(cfg: &Config) {
    let _ = cfg.replay.commit_interval();
    let _ = cfg.run.commit_interval();
    let _ = cfg.serve.sql_timeout();
    let _ = cfg.kafka.connect_timeout();
    let _ = cfg.kafka.names();
    let _ = cfg.kafka.check();
    let _ = cfg.kafka.client_config();
    let _ = cfg.lake.writer_options();
    let _ = format!("{cfg:?}");
}

/// One scratch file per process (libFuzzer's `-fork`/`-jobs` run several).
fn scratch_file() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("fivefold-fuzz-config-{}.toml", std::process::id()))
    })
}
