//! Pipeline configuration: serde structs with defaults, layered loading, and
//! a validation pass that reports every problem with its key path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The built-in defaults (`config/fivefold.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../../config/fivefold.toml");

/// Prefix of environment overrides: `FIVEFOLD_<SECTION>__<KEY>`.
pub const ENV_PREFIX: &str = "FIVEFOLD_";

/// The root of the pipeline configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where and how the lake is written.
    pub lake: LakeConfig,
    /// Scoring.
    pub scoring: ScoringConfig,
    /// File replay.
    pub replay: ReplayConfig,
    /// The Kafka cluster and topics.
    pub kafka: fivefold_kafka::KafkaConfig,
    /// The Kafka pipeline.
    pub run: RunConfig,
    /// The HTTP API.
    pub serve: ServeConfig,
}

/// `[serve]`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: String,
    /// SQL time limit ("10s").
    pub sql_timeout: String,
    /// Most rows per SQL response.
    pub max_rows: usize,
    /// Memory per SQL query, bytes.
    pub sql_memory_bytes: usize,
    /// Bearer token for /api/ routes; empty for none.
    pub token: String,
    /// Time a client has to send a request line and headers ("10s"); also
    /// how long an idle connection stays open.
    pub header_timeout: String,
    /// Time a client has to send a request body ("10s").
    pub body_timeout: String,
    /// Most connections served at once.
    pub max_connections: usize,
    /// PEM certificate chain for HTTPS; empty: plain HTTP. Needs `tls_key`.
    pub tls_cert: String,
    /// PEM private key for HTTPS; empty: plain HTTP. Needs `tls_cert`.
    pub tls_key: String,
}

impl std::fmt::Debug for ServeConfig {
    /// The token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("sql_timeout", &self.sql_timeout)
            .field("max_rows", &self.max_rows)
            .field("sql_memory_bytes", &self.sql_memory_bytes)
            .field("token", &if self.token.is_empty() { "" } else { "****" })
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

/// The longest `serve.header_timeout` / `serve.body_timeout` accepted: longer
/// lets slow clients hold connections for no benefit.
const MAX_CLIENT_TIMEOUT: Duration = Duration::from_secs(600);

impl ServeConfig {
    /// `sql_timeout` as a duration.
    pub fn sql_timeout(&self) -> Duration {
        parse_duration(&self.sql_timeout).unwrap_or(Duration::from_secs(10))
    }

    /// `header_timeout` as a duration (validated by [`Config::validate`]).
    pub fn header_timeout(&self) -> Duration {
        parse_duration(&self.header_timeout).unwrap_or(Duration::from_secs(10))
    }

    /// `body_timeout` as a duration (validated by [`Config::validate`]).
    pub fn body_timeout(&self) -> Duration {
        parse_duration(&self.body_timeout).unwrap_or(Duration::from_secs(10))
    }

    /// The problems of the slow-client limits and the TLS keys, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (key, value) in
            [("header_timeout", &self.header_timeout), ("body_timeout", &self.body_timeout)]
        {
            match parse_duration(value) {
                Some(d) if !d.is_zero() && d <= MAX_CLIENT_TIMEOUT => {}
                Some(_) => p.push(format!(
                    "serve.{key}: {value:?} must be more than 0s and at most {}s",
                    MAX_CLIENT_TIMEOUT.as_secs()
                )),
                None => p.push(format!("serve.{key}: {value:?} is not a duration like \"10s\"")),
            }
        }
        if self.max_connections == 0 {
            p.push("serve.max_connections: must be at least 1".to_owned());
        }
        match (self.tls_cert.trim().is_empty(), self.tls_key.trim().is_empty()) {
            (false, true) => p.push(
                "serve.tls_key (--tls-key): must be set when serve.tls_cert is (or unset both)"
                    .to_owned(),
            ),
            (true, false) => p.push(
                "serve.tls_cert (--tls-cert): must be set when serve.tls_key is (or unset both)"
                    .to_owned(),
            ),
            _ => {}
        }
        p
    }
}

/// `[scoring]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Derive alarms and risk scores.
    pub enabled: bool,
    /// Risk model file; empty for the built-in reference model.
    pub rules: String,
    /// Environment overrides of the risk model's sections (`FIVEFOLD_SCALE__BLUE_MIN`),
    /// set by [`Config::load`] and applied by [`ScoringConfig::model`].
    #[serde(skip)]
    pub model_env: Vec<EnvOverride>,
}

impl ScoringConfig {
    /// The model to score with (`None` when scoring is off); `rules` overrides the file.
    pub fn model(&self, rules: Option<&Path>) -> Result<Option<fivefold_score::RiskModel>> {
        if !self.enabled && rules.is_none() {
            return Ok(None);
        }
        let path = rules
            .map(Path::to_path_buf)
            .or_else(|| (!self.rules.is_empty()).then(|| PathBuf::from(&self.rules)));
        let (text, origin) = match &path {
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|source| Error::ConfigFile { path: p.clone(), source })?,
                p.display().to_string(),
            ),
            None => (
                fivefold_score::config::DEFAULT_MODEL_TOML.to_owned(),
                "built-in risk model".to_owned(),
            ),
        };
        let model = model_with_overrides(&text, &origin, &self.model_env)?;
        Ok(Some(model))
    }
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Commit at least this often ("5s").
    pub commit_interval: String,
    /// Commit when this many rows are pending.
    pub commit_rows: u64,
    /// Rows a partition collects before they are scored and written to the
    /// open commit.
    pub batch_rows: usize,
    /// Address of the status endpoints (`/healthz`, `/readyz`, `/metrics`);
    /// empty: none.
    pub listen: String,
}

impl RunConfig {
    /// `commit_interval` as a duration (validated by [`Config::validate`]).
    pub fn commit_interval(&self) -> Duration {
        parse_duration(&self.commit_interval).unwrap_or(Duration::from_secs(5))
    }
}

/// `[lake]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// The lake directory.
    pub path: PathBuf,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// zstd level, 1-22.
    pub zstd_level: i32,
    /// fsync at each commit.
    pub durable: bool,
}

/// `[replay]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// Records read from one file before switching to the one furthest behind.
    pub batch_rows: usize,
    /// Commit when this many rows are pending.
    pub commit_rows: u64,
    /// Commit at least this often ("30s").
    pub commit_interval: String,
}

impl ReplayConfig {
    /// `commit_interval` as a duration (validated by [`Config::validate`]).
    pub fn commit_interval(&self) -> Duration {
        parse_duration(&self.commit_interval).unwrap_or(Duration::from_secs(30))
    }
}

impl LakeConfig {
    /// The lake writer options this section describes.
    pub fn writer_options(&self) -> fivefold_lake::WriterOptions {
        fivefold_lake::WriterOptions {
            row_group_rows: self.row_group_rows,
            zstd_level: self.zstd_level,
            durable: self.durable,
        }
    }
}

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"2d"`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    // `try_`: a value too large for a Duration is a config error, not a panic.
    Duration::try_from_secs_f64(secs).ok()
}

impl Config {
    /// Loads the defaults, then `file` if given, then environment overrides
    /// from `env` (pass `std::env::vars()`), then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut merged: toml::Table = toml::from_str(DEFAULT_TOML)
            .map_err(|e| Error::Config { problems: vec![format!("built-in defaults: {e}")] })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| Error::ConfigFile { path: path.to_path_buf(), source })?;
            let user: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
                problems: vec![format!("{}: {}", path.display(), e.to_string().trim())],
            })?;
            merge(&mut merged, user);
        }
        let mut problems = Vec::new();
        let mut model_env = Vec::new();
        for o in env_overrides(env) {
            let section = o.path[0].as_str();
            if merged.contains_key(section) {
                if let Err(e) = o.apply(&mut merged) {
                    problems.push(e);
                }
            } else if is_model_section(section) {
                model_env.push(o);
            } else {
                problems.push(format!(
                    "{}: unknown section `{section}` (the configuration has {}; the risk model {})",
                    o.var,
                    merged.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
                    model_sections().join(", ")
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        let mut cfg: Config =
            toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| Error::Config {
                problems: vec![e.to_string().trim().replace('\n', " ")],
            })?;
        cfg.scoring.model_env = model_env;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values serde cannot: ranges and formats. Lists every problem.
    pub fn validate(&self) -> Result<()> {
        let mut p = Vec::new();
        if self.lake.row_group_rows == 0 {
            p.push("lake.row_group_rows: must be at least 1".to_owned());
        }
        if let Some(e) = zstd_level_problem(self.lake.zstd_level) {
            p.push(format!("lake.zstd_level: {e}"));
        }
        if self.replay.batch_rows == 0 {
            p.push("replay.batch_rows: must be at least 1".to_owned());
        }
        if self.replay.commit_rows == 0 {
            p.push("replay.commit_rows: must be at least 1".to_owned());
        }
        if parse_duration(&self.replay.commit_interval).is_none() {
            p.push(format!(
                "replay.commit_interval: {:?} is not a duration like \"30s\" or \"5m\"",
                self.replay.commit_interval
            ));
        }
        if parse_duration(&self.run.commit_interval).is_none() {
            p.push(format!(
                "run.commit_interval: {:?} is not a duration like \"5s\"",
                self.run.commit_interval
            ));
        }
        if self.run.commit_rows == 0 {
            p.push("run.commit_rows: must be at least 1".to_owned());
        }
        if self.run.batch_rows == 0 {
            p.push("run.batch_rows: must be at least 1".to_owned());
        }
        p.extend(self.kafka.problems());
        if parse_duration(&self.serve.sql_timeout).is_none() {
            p.push(format!(
                "serve.sql_timeout: {:?} is not a duration like \"10s\"",
                self.serve.sql_timeout
            ));
        }
        if !self.run.listen.is_empty() && self.run.listen.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "run.listen: {:?} is not an address like 127.0.0.1:9090 (or empty for none)",
                self.run.listen
            ));
        }
        if self.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "serve.listen: {:?} is not an address like 127.0.0.1:8080",
                self.serve.listen
            ));
        }
        p.extend(self.serve.problems());
        if p.is_empty() { Ok(()) } else { Err(Error::Config { problems: p }) }
    }
}

/// One `FIVEFOLD_SECTION__KEY` environment variable (`__` separates deeper
/// keys too: `FIVEFOLD_INHERENT__INDUSTRY__MINING`), with the key path it sets
/// in lower case.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvOverride {
    /// The variable's name, for error messages.
    pub var: String,
    /// Section, then keys.
    pub path: Vec<String>,
    /// The value, read by [`parse_env_value`].
    pub value: toml::Value,
}

impl EnvOverride {
    /// Sets the value at its path in `table`; deeper tables are created.
    fn apply(&self, table: &mut toml::Table) -> std::result::Result<(), String> {
        let Some((leaf, parents)) = self.path.split_last() else { return Ok(()) };
        let mut at = table;
        for (i, key) in parents.iter().enumerate() {
            let entry = at.entry(key.clone()).or_insert_with(|| toml::Table::new().into());
            at = entry.as_table_mut().ok_or_else(|| {
                format!("{}: `{}` is not a section", self.var, self.path[..=i].join("."))
            })?;
        }
        at.insert(leaf.clone(), self.value.clone());
        Ok(())
    }
}

/// The configuration overrides among environment variables: names that start
/// with `FIVEFOLD_` and hold a `__` (others, like `FIVEFOLD_LOG`, are not keys).
pub fn env_overrides(env: impl IntoIterator<Item = (String, String)>) -> Vec<EnvOverride> {
    let mut out: Vec<EnvOverride> = env
        .into_iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(ENV_PREFIX)?;
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            (path.len() >= 2 && !path.iter().any(String::is_empty)).then(|| EnvOverride {
                path,
                value: parse_env_value(&v),
                var: k,
            })
        })
        .collect();
    // The environment's order is arbitrary: a deeper key is set after its section.
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The top-level sections of the risk model (`scale`, `windows`, ...).
fn model_sections() -> &'static [String] {
    static SECTIONS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SECTIONS.get_or_init(|| {
        let model = fivefold_score::config::DEFAULT_MODEL_TOML.parse::<toml::Table>();
        let sections = model.into_iter().flatten().filter(|(_, v)| v.is_table() || v.is_array());
        sections.map(|(k, _)| k).collect()
    })
}

fn is_model_section(name: &str) -> bool {
    model_sections().iter().any(|s| s == name)
}

/// The risk model in `text` (from `origin`) with `overrides` of its sections
/// applied; errors name the file and the variables.
pub fn model_with_overrides(
    text: &str,
    origin: &str,
    overrides: &[EnvOverride],
) -> Result<fivefold_score::RiskModel> {
    let overrides: Vec<&EnvOverride> =
        overrides.iter().filter(|o| is_model_section(&o.path[0])).collect();
    if overrides.is_empty() {
        return Ok(fivefold_score::RiskModel::from_toml(text, origin)?);
    }
    let Ok(mut table) = text.parse::<toml::Table>() else {
        // Not TOML: the model's own parse words the error.
        return Ok(fivefold_score::RiskModel::from_toml(text, origin)?);
    };
    let problems: Vec<String> =
        overrides.iter().filter_map(|o| o.apply(&mut table).err()).collect();
    if !problems.is_empty() {
        return Err(Error::Config { problems });
    }
    let vars: Vec<&str> = overrides.iter().map(|o| o.var.as_str()).collect();
    let origin = format!("{origin} with {}", vars.join(", "));
    let text = toml::to_string(&table)
        .map_err(|e| Error::Config { problems: vec![format!("{origin}: {e}")] })?;
    Ok(fivefold_score::RiskModel::from_toml(&text, &origin)?)
}

/// Why `level` is not a zstd level the lake can write, in words that follow
/// the name of the setting (`lake.zstd_level`, `compact --zstd-level`).
pub fn zstd_level_problem(level: i32) -> Option<String> {
    let levels = fivefold_lake::ZSTD_LEVELS;
    (!levels.contains(&level))
        .then(|| format!("must be {} to {}, got {level}", levels.start(), levels.end()))
}

/// An environment value is read as TOML when it parses (numbers, booleans),
/// else as a plain string.
fn parse_env_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_owned()))
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.lake.zstd_level, 1);
        assert_eq!(c.replay.commit_interval(), Duration::from_secs(30));
    }

    #[test]
    fn env_overrides_files_and_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[lake]\nzstd_level = 5\n").unwrap();
        let env = [("FIVEFOLD_REPLAY__BATCH_ROWS".to_owned(), "100".to_owned())];
        let c = Config::load(Some(&f), env).unwrap();
        assert_eq!((c.lake.zstd_level, c.replay.batch_rows), (5, 100));

        std::fs::write(&f, "[lake]\nzstd_level = 40\n[replay]\ncommit_interval = \"soon\"\n")
            .unwrap();
        let e = Config::load(Some(&f), []).unwrap_err().to_string();
        assert!(e.contains("lake.zstd_level: must be 1 to 22, got 40"), "{e}");
        assert!(e.contains("replay.commit_interval: \"soon\" is not a duration"), "{e}");

        std::fs::write(&f, "[lake]\nzstd_levl = 4\n").unwrap();
        let e = Config::load(Some(&f), []).unwrap_err().to_string();
        assert!(e.contains("unknown field `zstd_levl`"), "{e}");

        let env = [("FIVEFOLD_LAKE__ROW_GROUP_ROWS".to_owned(), "many".to_owned())];
        let e = Config::load(None, env).unwrap_err().to_string();
        assert!(e.contains("row_group_rows"), "{e}");
    }

    #[test]
    fn env_overrides_reach_the_risk_model_and_deeper_keys() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>()
        };
        // The model's sections are not the pipeline's, and do not upset it.
        let env = vars(&[
            ("FIVEFOLD_SCALE__BLUE_MIN", "80"),
            ("FIVEFOLD_INHERENT__INDUSTRY__MINING_NEW", "2.5"),
            ("FIVEFOLD_LOG", "debug"),
            ("FIVEFOLD_RUN__BATCH_ROWS", "100"),
        ]);
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.run.batch_rows, 100);
        let m = c.scoring.model(None).unwrap().unwrap();
        assert_eq!(m.scale.blue_min, 80.0);
        assert_eq!(m.inherent.industry["mining_new"], 2.5);
        assert_eq!(m.inherent.industry["hazchem_storage"], 6.0, "the rest of the table stays");
        // Without overrides, the reference model.
        let m = Config::load(None, []).unwrap().scoring.model(None).unwrap().unwrap();
        assert_eq!(m.scale.blue_min, 90.0);

        // A misspelt model key is named, with the variable that set it.
        let c = Config::load(None, vars(&[("FIVEFOLD_SCALE__BLUE_MN", "80")])).unwrap();
        let e = c.scoring.model(None).unwrap_err().to_string();
        assert!(e.contains("with FIVEFOLD_SCALE__BLUE_MN") && e.contains("blue_mn"), "{e}");
        // So is a model value that breaks a rule of the model.
        let c = Config::load(None, vars(&[("FIVEFOLD_SCALE__BLUE_MIN", "10")])).unwrap();
        let e = c.scoring.model(None).unwrap_err().to_string();
        assert!(e.contains("blue_min > yellow_min > orange_min"), "{e}");

        // A section neither has, and a key below a value.
        let e = Config::load(None, vars(&[("FIVEFOLD_NOPE__X", "1")])).unwrap_err().to_string();
        assert!(e.contains("FIVEFOLD_NOPE__X: unknown section `nope`"), "{e}");
        assert!(e.contains("lake, ") && e.contains("scale, "), "{e}");
        let e = Config::load(None, vars(&[("FIVEFOLD_LAKE__ZSTD_LEVEL__X", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("FIVEFOLD_LAKE__ZSTD_LEVEL__X: `lake.zstd_level` is not a section"),
            "{e}"
        );
        // A model file that is not TOML reads the same with overrides as without.
        let overrides = env_overrides(vars(&[("FIVEFOLD_SCALE__BLUE_MIN", "80")]));
        let broken = "model_version = \"x\"\n[scale\n";
        let with = model_with_overrides(broken, "m.toml", &overrides).unwrap_err().to_string();
        let without = model_with_overrides(broken, "m.toml", &[]).unwrap_err().to_string();
        assert_eq!(with, without);
        assert!(with.contains("m.toml: ") && with.contains("line 2"), "{with}");
        // A deeper pipeline key: a librdkafka property (`env` can set dotted names).
        let c = Config::load(None, vars(&[("FIVEFOLD_KAFKA__PROPERTIES__CLIENT.RACK", "az1")]));
        assert_eq!(c.unwrap().kafka.properties["client.rack"], "az1");
    }

    #[test]
    fn serve_client_limits_and_tls_keys_are_checked() {
        let c = Config::load(None, []).unwrap();
        assert_eq!(c.serve.header_timeout(), Duration::from_secs(10));
        assert_eq!(c.serve.body_timeout(), Duration::from_secs(10));
        assert!(c.serve.tls_cert.is_empty() && c.serve.tls_key.is_empty());
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (format!("FIVEFOLD_SERVE__{k}"), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let e = Config::load(
            None,
            env(&[("HEADER_TIMEOUT", "0s"), ("BODY_TIMEOUT", "soon"), ("MAX_CONNECTIONS", "0")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("serve.header_timeout: \"0s\" must be more than 0s and at most 600s"),
            "{e}"
        );
        assert!(e.contains("serve.body_timeout: \"soon\" is not a duration"), "{e}");
        assert!(e.contains("serve.max_connections: must be at least 1"), "{e}");
        let e = Config::load(None, env(&[("TLS_CERT", "/x.pem")])).unwrap_err().to_string();
        assert!(e.contains("serve.tls_key (--tls-key): must be set when serve.tls_cert is"), "{e}");
        let e = Config::load(None, env(&[("TLS_KEY", "/x.key")])).unwrap_err().to_string();
        assert!(
            e.contains("serve.tls_cert (--tls-cert): must be set when serve.tls_key is"),
            "{e}"
        );
        let c = Config::load(None, env(&[("TLS_CERT", "/x.pem"), ("TLS_KEY", "/x.key")])).unwrap();
        assert_eq!((c.serve.tls_cert.as_str(), c.serve.tls_key.as_str()), ("/x.pem", "/x.key"));
    }

    #[test]
    fn run_batch_rows_defaults_and_is_checked() {
        assert_eq!(Config::load(None, []).unwrap().run.batch_rows, 8192);
        let env = [("FIVEFOLD_RUN__BATCH_ROWS".to_owned(), "0".to_owned())];
        let e = Config::load(None, env).unwrap_err().to_string();
        assert!(e.contains("run.batch_rows: must be at least 1"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999999999999s"), None);
    }
}
