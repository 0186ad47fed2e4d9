//! `[kafka]`: brokers, group, topics, and librdkafka settings passed through.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use fivefold_model::Topic;
use rdkafka::ClientConfig;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The `[kafka]` section.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `HOST:PORT[,HOST:PORT...]`.
    pub brokers: String,
    /// Consumer group id; every instance of one pipeline uses the same one.
    pub group: String,
    /// Prefix of the five topic names (`enterprise`, `hazard`, ...).
    pub topic_prefix: String,
    /// Create missing topics at startup instead of refusing to start.
    pub create_topics: bool,
    /// Partitions of topics this process creates.
    pub partitions: i32,
    /// How long to wait for the brokers at startup ("10s").
    pub connect_timeout: String,
    /// How long `fivefold run` keeps retrying when the brokers do not answer
    /// at startup: "0s" fails at once (for a supervisor to restart it), "5m"
    /// waits (for a Compose file where Kafka starts later).
    pub startup_wait: String,
    /// Also send dead letters to this topic (with the reason in headers); empty: off.
    pub dead_letter_topic: String,
    /// librdkafka settings passed through as they are, e.g. `security.protocol`,
    /// `sasl.mechanism`, `sasl.username`, `sasl.password`, `ssl.ca.location`.
    pub properties: BTreeMap<String, String>,
}

impl fmt::Debug for KafkaConfig {
    /// Secrets in `properties` are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let secret = ["password", "secret", "key"].iter().any(|s| k.contains(s));
                (k.as_str(), if secret { "****" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("topic_prefix", &self.topic_prefix)
            .field("create_topics", &self.create_topics)
            .field("partitions", &self.partitions)
            .field("connect_timeout", &self.connect_timeout)
            .field("startup_wait", &self.startup_wait)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("properties", &props)
            .finish()
    }
}

/// Keys Fivefold sets itself; `properties` may not override them, because
/// exactly-once depends on them.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "partition.assignment.strategy",
];

impl KafkaConfig {
    /// Problems with the values, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.brokers.trim().is_empty() {
            p.push("kafka.brokers: must list at least one HOST:PORT".to_owned());
        }
        if self.group.trim().is_empty() {
            p.push("kafka.group: must not be empty".to_owned());
        }
        if self.partitions < 1 {
            p.push(format!("kafka.partitions: must be at least 1, got {}", self.partitions));
        }
        if parse_secs(&self.connect_timeout).is_none() {
            p.push(format!(
                "kafka.connect_timeout: {:?} is not a duration like \"10s\"",
                self.connect_timeout
            ));
        }
        if parse_secs(&self.startup_wait).is_none() {
            p.push(format!(
                "kafka.startup_wait: {:?} is not a duration like \"0s\" or \"5m\"",
                self.startup_wait
            ));
        }
        for k in self.properties.keys() {
            if RESERVED.contains(&k.as_str()) {
                p.push(format!(
                    "kafka.properties.{k}: is set by Fivefold and cannot be overridden"
                ));
            }
        }
        p
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        parse_secs(&self.connect_timeout).unwrap_or(Duration::from_secs(10))
    }

    /// How long to keep retrying unreachable brokers at startup.
    pub fn startup_wait(&self) -> Duration {
        parse_secs(&self.startup_wait).unwrap_or_default()
    }

    /// The topic names after the prefix.
    pub fn names(&self) -> TopicNames {
        TopicNames::new(&self.topic_prefix)
    }

    /// A librdkafka configuration with the brokers and the passthrough properties.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// Checks the config as librdkafka would, naming the key it rejects.
    pub fn check(&self) -> Result<()> {
        if let Some(p) = self.problems().into_iter().next() {
            let (key, message) = p.split_once(": ").unwrap_or((&p, ""));
            return Err(Error::Config {
                key: key.trim_start_matches("kafka.").to_owned(),
                message: message.to_owned(),
            });
        }
        Ok(())
    }
}

fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    // `try_`: a value too large for a Duration is a config error, not a panic.
    Duration::try_from_secs_f64(v * mult).ok()
}

/// The five topic names of one deployment, and the way back to the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames {
    names: [String; 5],
}

impl TopicNames {
    /// Names with a prefix.
    pub fn new(prefix: &str) -> TopicNames {
        TopicNames { names: Topic::ALL.map(|t| format!("{prefix}{}", t.name())) }
    }

    /// The name of a topic.
    pub fn name(&self, t: Topic) -> &str {
        &self.names[t.index()]
    }

    /// The topic of a name.
    pub fn topic(&self, name: &str) -> Option<Topic> {
        self.names.iter().position(|n| n == name).map(|i| Topic::ALL[i])
    }

    /// All five names.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}
