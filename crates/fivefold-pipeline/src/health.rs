//! What a running pipeline says about itself on `/readyz`.
//!
//! The poll loop writes it; the status endpoint of `fivefold run` reads it.
//! Ready means: partitions are being consumed and the last commit attempt
//! succeeded. While the lake refuses writes (a full disk, say), the pipeline
//! is not ready, says why, and retries with a growing pause.

use std::sync::Mutex;

use serde::Serialize;

/// A snapshot of the pipeline's health.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    /// The consumer is connected and polling.
    pub running: bool,
    /// The lake version of the last successful commit (or found at start).
    pub lake_version: u64,
    /// Wall clock of the last successful commit, epoch ms.
    pub last_commit_ms: Option<i64>,
    /// Why the lake refuses commits, while it does.
    pub error: Option<String>,
    /// When the current failure started, epoch ms.
    pub failing_since_ms: Option<i64>,
    /// Failed commit attempts in a row.
    pub failed_attempts: u32,
    /// Records between the consumer and the ends of its partitions, summed
    /// (Kafka's statistics, every 5 s; `fivefold_consumer_lag` per partition).
    pub consumer_lag: Option<i64>,
}

impl Status {
    /// Ready to take traffic: running and committing.
    pub fn ready(&self) -> bool {
        self.running && self.error.is_none()
    }

    /// The `/readyz` body: `ready` and every field above.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("ready".into(), self.ready().into());
        }
        v
    }
}

/// The shared health of one pipeline instance.
#[derive(Debug, Default)]
pub struct Health(Mutex<Status>);

impl Health {
    /// The current status.
    pub fn status(&self) -> Status {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn running(&self, on: bool) {
        self.lock().running = on;
    }

    pub(crate) fn lag(&self, records: Option<i64>) {
        self.lock().consumer_lag = records;
    }

    pub(crate) fn committed(&self, version: u64, now_ms: i64) {
        let mut s = self.lock();
        s.lake_version = version;
        s.last_commit_ms = Some(now_ms);
        drop(s);
        self.recovered();
    }

    pub(crate) fn recovered(&self) {
        let mut s = self.lock();
        s.error = None;
        s.failing_since_ms = None;
        s.failed_attempts = 0;
    }

    pub(crate) fn failed(&self, error: String, now_ms: i64) {
        let mut s = self.lock();
        s.failing_since_ms.get_or_insert(now_ms);
        s.error = Some(error);
        s.failed_attempts += 1;
    }
}
