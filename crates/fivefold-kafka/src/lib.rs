//! Kafka source (in progress).
