//! The Kafka source: a `BaseConsumer` in one consumer group over the five
//! topics, with assignment offsets chosen by the pipeline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fivefold_model::{Topic, metric};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{KafkaConfig, TopicNames};
use crate::error::{Error, Result};

/// A partition of one of the five topics.
pub type PartitionKey = (Topic, i32);

/// What the pipeline does when partitions come and go. Both calls run on the
/// thread that polls the source, inside [`KafkaSource::poll`].
pub trait Rebalance: Send + Sync + 'static {
    /// Partitions were assigned by the group generation `generation` (when
    /// the client tells it): return, for each, the offset to start at
    /// (`None`: the beginning of the partition).
    fn assigned(&self, parts: &[PartitionKey], generation: Option<i32>) -> Vec<Option<i64>>;
    /// Partitions are about to be revoked: commit what is held for them now.
    fn revoking(&self, parts: &[PartitionKey]);
}

struct Ctx {
    handler: Arc<dyn Rebalance>,
    names: TopicNames,
    /// Records behind the partitions' ends, summed over the partitions the
    /// client's latest statistics report (each is `fivefold_consumer_lag`);
    /// `None` while they report none.
    lag: Mutex<Option<i64>>,
}

impl Ctx {
    fn parts(&self, tpl: &TopicPartitionList) -> Vec<PartitionKey> {
        tpl.elements()
            .iter()
            .filter_map(|e| self.names.topic(e.topic()).map(|t| (t, e.partition())))
            .collect()
    }
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(facility = fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(facility = fac, "{message}"),
            _ => tracing::debug!(facility = fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka repeats an error for every broker connection and retry,
        // often hundreds of times a second while a broker is away: say each
        // distinct error once per 10 s.
        static LAST: Mutex<Option<(String, Instant)>> = Mutex::new(None);
        let text = error.to_string();
        let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_ref().is_some_and(|(t, at)| *t == text && at.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        tracing::warn!(%error, reason, "Kafka client error (repeats of it are silent for 10 s).");
        *last = Some((text, Instant::now()));
    }

    fn stats(&self, stats: Statistics) {
        let mut lag = None;
        for (name, topic) in &stats.topics {
            if self.names.topic(name).is_none() {
                continue;
            }
            for (p, part) in &topic.partitions {
                if *p >= 0 && part.consumer_lag >= 0 {
                    metrics::gauge!(metric::CONSUMER_LAG, "topic" => name.clone(), "partition" => p.to_string())
                        .set(part.consumer_lag as f64);
                    *lag.get_or_insert(0) += part.consumer_lag;
                }
            }
        }
        *self.lag.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = lag;
    }
}

impl ConsumerContext for Ctx {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts = self.parts(tpl);
                let generation = group_generation(consumer);
                let offsets = self.handler.assigned(&parts, generation);
                for ((t, p), off) in parts.iter().zip(offsets) {
                    let offset = off.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(error) = tpl.set_partition_offset(self.names.name(*t), *p, offset) {
                        tracing::error!(%error, "Cannot set the start offset.");
                    }
                }
                tracing::info!(partitions = ?parts, generation, "Partitions assigned.");
                if let Err(error) = consumer.assign(tpl) {
                    tracing::error!(%error, "Assigning partitions failed.");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let parts = self.parts(tpl);
                tracing::info!(partitions = ?parts, "Partitions revoked.");
                self.handler.revoking(&parts);
                if let Err(error) = consumer.unassign() {
                    tracing::error!(%error, "Unassigning partitions failed.");
                }
            }
            other => {
                tracing::error!(error = ?other, "Rebalance failed.");
                let _ = consumer.unassign();
            }
        }
    }
}

/// The generation of the consumer group this member is in, which rdkafka
/// does not expose: read from librdkafka's serialised group metadata,
/// `"CGMDv2:"` followed by the generation as a native-endian `i32`
/// (`rd_kafka_consumer_group_metadata_write`).
#[allow(unsafe_code)]
fn group_generation<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<i32> {
    use rdkafka::bindings as rd;
    let mut buf: *mut std::ffi::c_void = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the client handle lives as long as `consumer`; the metadata
    // object is destroyed once written out, the buffer is read within the
    // size librdkafka gives and freed with its allocator.
    unsafe {
        let meta = rd::rd_kafka_consumer_group_metadata(consumer.client().native_ptr());
        if meta.is_null() {
            return None;
        }
        let error = rd::rd_kafka_consumer_group_metadata_write(meta, &mut buf, &mut size);
        rd::rd_kafka_consumer_group_metadata_destroy(meta);
        if !error.is_null() {
            rd::rd_kafka_error_destroy(error);
            return None;
        }
        if buf.is_null() {
            return None;
        }
        let generation = parse_generation(std::slice::from_raw_parts(buf.cast::<u8>(), size));
        rd::rd_kafka_mem_free(std::ptr::null_mut(), buf);
        generation
    }
}

fn parse_generation(meta: &[u8]) -> Option<i32> {
    let rest = meta.strip_prefix(b"CGMDv2:")?;
    Some(i32::from_ne_bytes(rest.get(..4)?.try_into().ok()?))
}

/// One consumed record, borrowed from the consumer until dropped.
pub struct Record<'a> {
    msg: BorrowedMessage<'a>,
    topic: Topic,
    /// The configured name of `topic`: the name the message came from,
    /// without asking the client (a C string, measured and checked anew on
    /// every call) once more per record.
    name: &'a str,
}

impl<'a> Record<'a> {
    /// The topic.
    pub fn topic(&self) -> Topic {
        self.topic
    }
    /// The topic name as consumed (with any prefix).
    pub fn topic_name(&self) -> &'a str {
        self.name
    }
    /// The partition.
    pub fn partition(&self) -> i32 {
        self.msg.partition()
    }
    /// The offset.
    pub fn offset(&self) -> i64 {
        self.msg.offset()
    }
    /// The message key.
    pub fn key(&self) -> Option<&[u8]> {
        self.msg.key()
    }
    /// The payload (empty for a tombstone).
    pub fn payload(&self) -> &[u8] {
        self.msg.payload().unwrap_or_default()
    }
}

/// The five topics, consumed by one member of a consumer group.
pub struct KafkaSource {
    consumer: BaseConsumer<Ctx>,
    names: TopicNames,
    partitions: usize,
}

impl KafkaSource {
    /// Connects, checks (or creates) the topics, and subscribes. Fails fast
    /// with one clear error when the brokers do not answer within
    /// `connect_timeout`, when topics are missing, or when their partition
    /// counts differ.
    pub fn connect(cfg: &KafkaConfig, handler: Arc<dyn Rebalance>) -> Result<KafkaSource> {
        cfg.check()?;
        let names = cfg.names();
        let mut cc = cfg.client_config();
        cc.set("group.id", &cfg.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Range assignment gives one member partition p of every topic.
            .set("partition.assignment.strategy", "range")
            .set("statistics.interval.ms", "5000");
        if !cfg.properties.contains_key("session.timeout.ms") {
            cc.set("session.timeout.ms", "10000");
        }
        let consumer: BaseConsumer<Ctx> =
            cc.create_with_context(Ctx { handler, names: names.clone(), lag: Mutex::default() })?;
        let partitions = check_topics(cfg, &names, |timeout| {
            consumer.fetch_metadata(None, timeout).map(|m| {
                m.topics().iter().map(|t| (t.name().to_owned(), t.partitions().len())).collect()
            })
        })?;
        let topics: Vec<&str> = names.all().collect();
        consumer.subscribe(&topics)?;
        Ok(KafkaSource { consumer, names, partitions })
    }

    /// Records between this consumer and the ends of its partitions, summed,
    /// from the client's latest statistics (every 5 s); `None` before the
    /// first statistics name a partition it reads.
    pub fn consumer_lag(&self) -> Option<i64> {
        *self.consumer.context().lag.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Partitions per topic.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The topic names.
    pub fn names(&self) -> &TopicNames {
        &self.names
    }

    /// Waits up to `timeout` for the next record. Rebalance callbacks run in
    /// here. `Err` is a transient client error (e.g. a broker down); the
    /// client reconnects by itself.
    pub fn poll(&self, timeout: Duration) -> Option<Result<Record<'_>, KafkaError>> {
        match self.consumer.poll(timeout)? {
            Err(e) => Some(Err(e)),
            Ok(m) => self.record(m).map(Ok),
        }
    }

    fn record<'a>(&'a self, msg: BorrowedMessage<'a>) -> Option<Record<'a>> {
        let topic = self.names.topic(msg.topic())?;
        Some(Record { msg, topic, name: self.names.name(topic) })
    }

    /// Moves a partition's read position (after a failed commit).
    pub fn seek(&self, (topic, partition): PartitionKey, offset: Option<i64>) -> Result<()> {
        let off = offset.map_or(Offset::Beginning, Offset::Offset);
        self.consumer.seek(self.names.name(topic), partition, off, Duration::from_secs(10))?;
        Ok(())
    }

    /// Writes the group's offsets (for lag monitoring and tooling only; the
    /// lake is the source of truth). Asynchronous, best effort.
    pub fn commit_group_offsets(&self, offsets: &[(PartitionKey, i64)]) {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), next) in offsets {
            let _ = tpl.add_partition_offset(self.names.name(*t), *p, Offset::Offset(*next));
        }
        if tpl.count() > 0
            && let Err(error) = self.consumer.commit(&tpl, CommitMode::Async)
        {
            tracing::debug!(%error, "Committing group offsets failed.");
        }
    }

    /// Where the client stands in each assigned partition it has read from:
    /// the offset after the last record it handed over, or after the last
    /// transaction marker it stepped over (markers are never handed over,
    /// but the position moves past them).
    pub fn positions(&self) -> Result<Vec<(PartitionKey, i64)>> {
        let tpl = self.consumer.position()?;
        Ok(tpl
            .elements()
            .iter()
            .filter_map(|e| match (self.names.topic(e.topic()), e.offset()) {
                (Some(topic), Offset::Offset(o)) => Some(((topic, e.partition()), o)),
                _ => None,
            })
            .collect())
    }

    /// The high watermark (next offset to be written) of every partition.
    pub fn end_offsets(&self, timeout: Duration) -> Result<Vec<(PartitionKey, i64)>> {
        let mut out = Vec::new();
        for t in Topic::ALL {
            for p in 0..self.partitions as i32 {
                let (_, high) = self.consumer.fetch_watermarks(self.names.name(t), p, timeout)?;
                out.push(((t, p), high));
            }
        }
        Ok(out)
    }
}

/// Fetches metadata and checks that the five topics exist (creating them when
/// configured) with one partition count. Returns that count.
fn check_topics(
    cfg: &KafkaConfig,
    names: &TopicNames,
    fetch: impl Fn(Duration) -> std::result::Result<Vec<(String, usize)>, KafkaError>,
) -> Result<usize> {
    let unreachable = |source| Error::Unreachable { brokers: cfg.brokers.clone(), source };
    let mut meta = fetch(cfg.connect_timeout()).map_err(unreachable)?;
    let missing = |meta: &[(String, usize)]| -> Vec<String> {
        names
            .all()
            .filter(|n| !meta.iter().any(|(m, parts)| m == n && *parts > 0))
            .map(str::to_owned)
            .collect()
    };
    let absent = missing(&meta);
    if !absent.is_empty() {
        if !cfg.create_topics {
            return Err(Error::MissingTopics { brokers: cfg.brokers.clone(), topics: absent });
        }
        create_topics(cfg, &absent)?;
        meta = fetch(cfg.connect_timeout()).map_err(unreachable)?;
        let still = missing(&meta);
        if !still.is_empty() {
            return Err(Error::MissingTopics { brokers: cfg.brokers.clone(), topics: still });
        }
    }
    let counts: Vec<(String, usize)> = names
        .all()
        .map(|n| (n.to_owned(), meta.iter().find(|(m, _)| m == n).map_or(0, |(_, c)| *c)))
        .collect();
    let first = counts[0].1;
    if counts.iter().any(|(_, c)| *c != first) {
        return Err(Error::NotCoPartitioned { counts });
    }
    Ok(first)
}

/// Checks that the five topics exist with one partition count, creating the
/// missing ones. For producers; the source does the same on connect.
pub fn ensure_topics(cfg: &KafkaConfig) -> Result<usize> {
    let mut cfg = cfg.clone();
    cfg.create_topics = true;
    let consumer: BaseConsumer = cfg.client_config().create()?;
    check_topics(&cfg, &cfg.names(), |timeout| {
        consumer.fetch_metadata(None, timeout).map(|m| {
            m.topics().iter().map(|t| (t.name().to_owned(), t.partitions().len())).collect()
        })
    })
}

/// Creates topics with `kafka.partitions` partitions (replication 1).
pub(crate) fn create_topics(cfg: &KafkaConfig, topics: &[String]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = cfg.client_config().create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, cfg.partitions, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        Error::Config { key: "create_topics".into(), message: format!("no runtime: {e}") }
    })?;
    let opts = AdminOptions::new().operation_timeout(Some(cfg.connect_timeout()));
    let results = rt.block_on(admin.create_topics(&new, &opts))?;
    for r in results {
        match r {
            Ok(t) => tracing::info!(topic = %t, "Created topic."),
            Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %t, "Topic exists.");
            }
            Err((t, code)) => {
                return Err(Error::Config {
                    key: "create_topics".into(),
                    message: format!("creating topic {t} failed: {code}"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_generation;

    #[test]
    fn the_generation_is_read_from_the_group_metadata() {
        let mut meta = b"CGMDv2:".to_vec();
        meta.extend(7i32.to_ne_bytes());
        meta.extend(b"fivefold\0rdkafka-1\0\x01");
        assert_eq!(parse_generation(&meta), Some(7));
        assert_eq!(parse_generation(b"CGMDv2:\x01"), None, "too short");
        assert_eq!(parse_generation(b"CGMDv3:\x01\0\0\0"), None, "another format");
    }
}
