//! Errors of scoring.

/// What can go wrong configuring or running the scorer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The risk model is invalid; every problem names its key or rule.
    #[error("invalid risk model: {}", .problems.join("; "))]
    Config {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// A rule expression failed on a batch.
    #[error("rule {rule}: {message}")]
    Rule {
        /// The rule id.
        rule: String,
        /// What failed.
        message: String,
    },
    /// A state snapshot could not be read back.
    #[error("scoring state snapshot {key} cannot be read: {message}")]
    Snapshot {
        /// The state key.
        key: String,
        /// The decoder's error.
        message: String,
    },
    /// Building an output batch failed.
    #[error("internal error building {table}: {message}; please report")]
    Internal {
        /// The table.
        table: &'static str,
        /// What happened.
        message: String,
    },
}

/// The scorer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
