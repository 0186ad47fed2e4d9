//! Errors of the Kafka side.

/// What can go wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No broker answered.
    #[error("cannot reach the Kafka brokers at {brokers}: {source}")]
    Unreachable {
        /// The bootstrap list.
        brokers: String,
        /// librdkafka's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Some of the five topics do not exist.
    #[error(
        "topics missing on {brokers}: {}; create them (all with the same partition count) or \
         pass --create-topics",
        .topics.join(", ")
    )]
    MissingTopics {
        /// The bootstrap list.
        brokers: String,
        /// The missing topic names.
        topics: Vec<String>,
    },
    /// The five topics do not have the same number of partitions.
    #[error(
        "the five topics must have the same partition count so that partition p of each holds \
         the same enterprises; found {}",
        .counts.iter().map(|(t, n)| format!("{t}={n}")).collect::<Vec<_>>().join(", ")
    )]
    NotCoPartitioned {
        /// Partition count per topic.
        counts: Vec<(String, usize)>,
    },
    /// A Kafka configuration value is invalid.
    #[error("kafka.{key}: {message}")]
    Config {
        /// The key under `[kafka]`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The message is larger than the client or broker accepts (`message.max.bytes`).
    #[error("a message of {bytes} bytes is larger than Kafka accepts (message.max.bytes)")]
    MessageTooLarge {
        /// The payload size.
        bytes: usize,
    },
    /// Any other client error.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// The Kafka side's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
