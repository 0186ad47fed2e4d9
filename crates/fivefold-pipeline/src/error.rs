//! Errors of the pipeline.

use std::path::PathBuf;

/// What can stop a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every problem is listed with its key.
    #[error("invalid configuration: {}", .problems.join("; "))]
    Config {
        /// One line per problem, each starting with the key path.
        problems: Vec<String>,
    },
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An input file could not be read.
    #[error("{op} {path}: {source}")]
    Input {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not match what the lake recorded for it.
    #[error("input {path} does not match the lake: {message}")]
    InputMismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// Decoded columns did not fit their table schema.
    #[error("internal error building a record batch: {0}; please report")]
    Arrow(arrow::error::ArrowError),
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] fivefold_kafka::Error),
    /// Scoring failed.
    #[error(transparent)]
    Score(#[from] fivefold_score::Error),
    /// The lake failed.
    #[error(transparent)]
    Lake(#[from] fivefold_lake::Error),
}

/// The pipeline's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
