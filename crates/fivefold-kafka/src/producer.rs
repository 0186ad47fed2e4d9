//! A producer for the generator, the demo and the dead-letter topic.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// A keyed producer. Keys are partitioned with murmur2, as Java clients do,
/// so the same key lands in the same partition number of every topic.
pub struct Producer {
    inner: ThreadedProducer<DefaultProducerContext>,
}

impl Producer {
    /// Connects a producer with the brokers and passthrough properties of `cfg`.
    pub fn new(cfg: &KafkaConfig) -> Result<Producer> {
        let mut cc = cfg.client_config();
        // Defaults; `[kafka.properties]` may set any of them.
        for (k, v) in [
            ("partitioner", "murmur2_random"),
            ("linger.ms", "5"),
            ("compression.type", "lz4"),
            ("queue.buffering.max.messages", "200000"),
        ] {
            if !cfg.properties.contains_key(k) {
                cc.set(k, v);
            }
        }
        Ok(Producer { inner: cc.create()? })
    }

    /// Queues one message; waits while the local queue is full.
    pub fn send(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let mut hs = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            hs = hs.insert(Header { key: k, value: Some(*v) });
        }
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        if !headers.is_empty() {
            record = record.headers(hs);
        }
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    return Err(Error::MessageTooLarge { bytes: payload.len() });
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// Waits until every queued message is delivered, for as long as
    /// deliveries go on: a slow broker is waited for, and the wait fails
    /// only when `stall` passes with no message delivered.
    pub fn flush(&self, stall: Duration) -> Result<()> {
        let mut queued = self.inner.in_flight_count();
        loop {
            match self.inner.flush(stall) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    let now = self.inner.in_flight_count();
                    if now >= queued {
                        return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut).into());
                    }
                    queued = now;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
