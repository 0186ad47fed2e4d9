//! Fivefold's Kafka side: the source (one consumer group over the five
//! topics), a producer for generators and dead letters, topic checks, and
//! librdkafka's in-process mock cluster for the demo and fast tests.
//!
//! The source never decides where to start reading: on every assignment it
//! asks a [`Rebalance`] handler (the pipeline, which asks the lake) for the
//! offsets to seek to, and on every revocation it lets the handler commit what
//! it holds before the partitions go. The group's committed offsets are
//! written after each lake commit for lag monitoring only.

mod config;
mod error;
mod producer;
mod source;

pub use config::{KafkaConfig, TopicNames};
pub use error::{Error, Result};
pub use producer::Producer;
pub use source::{KafkaSource, PartitionKey, Rebalance, Record, ensure_topics};

/// librdkafka's mock cluster: a Kafka-protocol broker inside this process.
pub use rdkafka::mocking::MockCluster;

/// Starts a one-broker mock cluster with the five topics of `names`, each
/// with `partitions` partitions. It keeps at most 5 MiB per partition, so
/// producers must not run far ahead of consumers.
pub fn mock_cluster(
    names: &TopicNames,
    partitions: i32,
) -> Result<MockCluster<'static, rdkafka::producer::DefaultProducerContext>> {
    let cluster = MockCluster::new(1).map_err(Error::Kafka)?;
    for t in names.all() {
        cluster.create_topic(t, partitions, 1).map_err(Error::Kafka)?;
    }
    Ok(cluster)
}
