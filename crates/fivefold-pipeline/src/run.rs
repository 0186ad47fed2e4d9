//! `fivefold run`: the pipeline from Kafka into the lake, exactly once.
//!
//! One thread polls the source, validates each record into its topic's
//! decoder, and commits the lake every `run.commit_interval`. Each commit
//! carries the next offset of every partition this instance owns, so the lake
//! alone says where to resume: on every assignment the instance claims the
//! partitions in the lake's log (fencing their previous owner) and the source
//! seeks to the lake's offsets, and before a revocation the instance commits
//! what it holds.
//! A slow lake slows the poll loop itself, and librdkafka's fetch queue is
//! bounded (`queued.max.messages.kbytes`), so memory does not grow with lag.
//!
//! When the lake refuses a commit (a full disk, a read-only remount), nothing
//! of that commit becomes visible: the instance drops its uncommitted work,
//! frees the staged files, reports the error on `/readyz` and in the log,
//! stops consuming for a pause that doubles up to 30 s, then consumes again
//! from the lake's offsets. It resumes by itself when the disk has room.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fivefold_kafka::{
    KafkaConfig, KafkaSource, PartitionKey, Producer, Rebalance, Record, TopicNames,
};
use fivefold_lake::{CommitInfo, Lake, SourcePosition, now_ms};
use fivefold_model::{Decoder, ErrorClass, Outcome, SourceRef, Table, Topic, metric};
use fivefold_score::{RiskModel, Scorer};

use crate::error::Result;
use crate::health::Health;

/// The first pause after a refused commit; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest pause between commit attempts on a refusing lake.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the Kafka pipeline runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Commit at least this often.
    pub commit_interval: Duration,
    /// Commit when this many records are pending.
    pub commit_rows: u64,
    /// Rows a partition's decoder holds before they are scored and written
    /// to the open transaction (visible only at the next commit). Small
    /// batches keep memory flat and the caches warm between commits.
    pub batch_rows: usize,
    /// Stop once the lake holds every partition up to the end offsets seen at
    /// startup (for backfills, tests and benchmarks).
    pub exit_at_end: bool,
    /// The risk model to score with (`None`: validate and store only).
    pub model: Option<RiskModel>,
    /// Quarantine records further ahead of the wall clock than
    /// `windows.max_future` (off where event time runs ahead of the clock on
    /// purpose, as in `fivefold demo`; a replay never looks at the clock, so
    /// that it gives the same scores whenever it runs).
    pub check_clock: bool,
    /// Where the instance reports its health (for `/readyz`).
    pub health: Arc<Health>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Records consumed by this instance.
    pub records: u64,
    /// Accepted rows per table.
    pub accepted: BTreeMap<Table, u64>,
    /// Rejected records per class.
    pub rejected: BTreeMap<ErrorClass, u64>,
    /// Lake commits made.
    pub commits: u64,
}

/// The source key under which a partition's next offset is committed: the
/// topic's full name, so that topics under another prefix are other sources
/// (with no prefix, `kafka:hazard:0`).
pub fn source_key(names: &TopicNames, (topic, partition): PartitionKey) -> String {
    format!("kafka:{}:{partition}", names.name(topic))
}

/// Everything the poll loop and the rebalance callbacks share.
struct Core {
    lake: Lake,
    /// The topics' full names, for the source keys.
    names: TopicNames,
    /// One decoder per topic-partition, so that batches stay within a shard.
    decoders: BTreeMap<PartitionKey, Decoder>,
    /// Rows a decoder holds before [`Core::flush`].
    batch_rows: usize,
    /// The scorer; shard p holds the enterprises of partition p.
    scorer: Option<Scorer>,
    /// Owned partitions and the next offset expected (`None`: not known yet).
    owned: BTreeMap<PartitionKey, Option<i64>>,
    pending: u64,
    received: [u64; 5],
    /// Accepted rows per table (in `Table::ALL` order) since the last
    /// commit's metrics: counted per record without a map search.
    accepted: [u64; Table::ALL.len()],
    rejected: BTreeMap<ErrorClass, u64>,
    summary: RunSummary,
    dead_letter: Option<(Producer, String)>,
    /// Partitions to seek back to the lake's offset (after a fenced commit or
    /// a pause); their records are dropped until the seek succeeds.
    reseek: Vec<(PartitionKey, Option<i64>)>,
    /// Set when a commit inside a rebalance callback failed, or a shard's
    /// state could not be restored.
    failed: Option<crate::Error>,
    /// Set when the run ends with an error: the revocation that closing the
    /// consumer fires must not commit what this instance holds then (a
    /// batch that failed half-way, a shard whose state did not restore).
    aborted: bool,
    health: Arc<Health>,
    check_clock: bool,
    /// Set while the lake refuses commits.
    degraded: Option<Degraded>,
    /// Assigned partitions whose claim the lake refused (a full disk, say):
    /// claimed when the pause ends, before anything is consumed from them.
    unclaimed: Vec<String>,
    /// The consumer group generation of the latest assignment.
    generation: Option<i32>,
    /// Shards whose every window this instance closed at the end of the
    /// topics (`--exit-at-end`) and whose next commit says so.
    closing: BTreeSet<i32>,
}

/// The pause after a refused commit.
struct Degraded {
    /// Consumption stays stopped until then.
    until: Instant,
    /// This pause; the next failure doubles it.
    backoff: Duration,
    /// True until the pause ends and consumption restarts from the lake.
    paused: bool,
}

/// Errors a later attempt may not meet: the disk, the filesystem or the
/// object store said no (after the store's own retries). A damaged log, a
/// missing file or an internal error is not retried.
fn retryable(e: &crate::Error) -> bool {
    matches!(
        e,
        crate::Error::Lake(
            fivefold_lake::Error::Io { .. }
                | fivefold_lake::Error::Parquet { .. }
                | fivefold_lake::Error::Store { .. }
        )
    )
}

impl Core {
    fn new(
        lake: Lake,
        names: TopicNames,
        opts: &RunOptions,
        dead_letter: Option<(Producer, String)>,
    ) -> Result<Core> {
        Ok(Core {
            lake,
            names,
            decoders: BTreeMap::new(),
            batch_rows: opts.batch_rows.max(1),
            scorer: match &opts.model {
                Some(m) => Some(Scorer::new(m.clone())?),
                None => None,
            },
            owned: BTreeMap::new(),
            pending: 0,
            received: [0; 5],
            accepted: [0; Table::ALL.len()],
            rejected: BTreeMap::new(),
            summary: RunSummary::default(),
            dead_letter,
            reseek: Vec::new(),
            failed: None,
            aborted: false,
            health: Arc::clone(&opts.health),
            check_clock: opts.check_clock,
            degraded: None,
            unclaimed: Vec::new(),
            generation: None,
            closing: BTreeSet::new(),
        })
    }

    /// Validates a record into its partition's decoder; a full decoder is
    /// flushed into the open transaction.
    fn push(&mut self, rec: &Record<'_>, seen_at: i64) -> Result<()> {
        let key = (rec.topic(), rec.partition());
        if !self.reseek.is_empty() && self.reseek.iter().any(|(k, _)| *k == key) {
            // Rewound to the lake's offset but not sought back there yet:
            // taking this record would skip what lies between.
            return Ok(());
        }
        let Some(next) = self.owned.get_mut(&key) else {
            return Ok(()); // revoked while queued
        };
        if next.is_some_and(|n| rec.offset() < n) {
            return Ok(()); // already in the lake (a re-delivery after a seek)
        }
        if let Some(n) = *next
            && rec.offset() > n
        {
            // Normal after compaction or transaction markers; anything else
            // means the broker skipped records (seen with Tansu 0.6, which
            // serves a fetch inside a record batch from the next batch).
            metrics::counter!(metric::OFFSET_GAPS_TOTAL, "topic" => rec.topic_name().to_owned())
                .increment(1);
            tracing::debug!(
                topic = rec.topic_name(),
                partition = rec.partition(),
                expected = n,
                got = rec.offset(),
                "Offsets jumped."
            );
        }
        *next = Some(rec.offset() + 1);
        let src = SourceRef {
            topic: rec.topic_name(),
            partition: Some(rec.partition()),
            offset: Some(rec.offset()),
            key: rec.key(),
            ..Default::default()
        };
        let i = rec.topic().index();
        self.received[i] += 1;
        self.pending += 1;
        let decoder = self.decoders.entry(key).or_insert_with(|| Decoder::new(key.0));
        match decoder.push(rec.payload(), &src, seen_at) {
            Outcome::Accepted(t) => self.accepted[t.index()] += 1,
            Outcome::Rejected(why) => {
                *self.rejected.entry(why.class).or_default() += 1;
                if let Some((producer, topic)) = &self.dead_letter {
                    let (p, o) = (rec.partition().to_string(), rec.offset().to_string());
                    let reason = why.reason();
                    let headers = [
                        ("fivefold-reason", reason.as_str()),
                        ("fivefold-error-class", why.class.as_str()),
                        ("fivefold-source-topic", rec.topic_name()),
                        ("fivefold-source-partition", p.as_str()),
                        ("fivefold-source-offset", o.as_str()),
                    ];
                    let key = rec.key().unwrap_or_default();
                    if let Err(error) = producer.send(topic, key, rec.payload(), &headers) {
                        tracing::warn!(%error, "Sending a dead letter to Kafka failed.");
                    }
                }
            }
        }
        if decoder.buffered_rows() < self.batch_rows {
            return Ok(());
        }
        // A write the lake refuses is handled as a refused commit.
        match self.flush(key) {
            Err(e) if retryable(&e) => self.degrade(e),
            other => other,
        }
    }

    /// Scores what a partition's decoder holds and writes it to the lake's
    /// open transaction.
    fn flush(&mut self, key: PartitionKey) -> Result<()> {
        let Some(decoder) = self.decoders.get_mut(&key) else { return Ok(()) };
        let batches = decoder.finish().map_err(crate::Error::Arrow)?;
        if batches.is_empty() {
            return Ok(());
        }
        if let Some(sc) = self.scorer.as_mut() {
            if self.check_clock {
                sc.set_clock(now_ms());
            }
            let source = source_key(&self.names, key);
            for (table, batch) in &batches {
                sc.process(key.1, &source, *table, batch)?;
            }
        }
        for (table, batch) in &batches {
            self.lake.write(*table, batch)?;
        }
        Ok(())
    }

    /// Commits what this instance holds; a refused commit pauses the
    /// instance instead of failing it (see the module docs).
    fn commit(&mut self) -> Result<Option<CommitInfo>> {
        if self.aborted || self.failed.is_some() {
            // Going down with an error: the next owner resumes from the last
            // good commit instead.
            return Ok(None);
        }
        match self.try_commit() {
            Ok(info) => {
                if let Some(i) = &info {
                    self.health.committed(i.version, now_ms());
                    self.degraded = None;
                } else if self.degraded.as_ref().is_some_and(|d| !d.paused) {
                    // Consuming again and nothing was refused: with nothing
                    // to write, the lake is not in the way.
                    self.health.recovered();
                    self.degraded = None;
                }
                Ok(info)
            }
            Err(e) if retryable(&e) => {
                self.degrade(e)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The last commit of a run. A rebalance callback that failed during the
    /// very last poll is reported here rather than ending the run as if it
    /// had succeeded (`commit` would quietly skip it).
    fn finish(&mut self, at_end: bool) -> Result<Option<CommitInfo>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if at_end {
            // Every owned shard is closed already, by this instance or the
            // member before it. One that took records since (consumed past
            // the end while waiting for the others) closes again, as a
            // replay that read more closes again at the end of its files.
            let at = self.offsets();
            let shards: BTreeSet<i32> = at.iter().map(|(k, _)| k.1).collect();
            let mut reopened = Vec::new();
            for shard in shards {
                if !self.shard_closed(shard, &at)? {
                    reopened.push(shard);
                }
            }
            self.close_shards(&reopened);
        }
        self.commit()
    }

    /// After a refused commit: frees what it staged, forgets the uncommitted
    /// work and pauses consumption.
    fn degrade(&mut self, e: crate::Error) -> Result<()> {
        let backoff =
            self.degraded.as_ref().map_or(FIRST_BACKOFF, |d| (d.backoff * 2).min(MAX_BACKOFF));
        tracing::error!(
            error = %e,
            retry_in = ?backoff,
            "The lake refused a commit; none of it is visible. Pausing, then consuming again from \
             the last commit."
        );
        metrics::counter!(metric::COMMIT_FAILURES_TOTAL).increment(1);
        self.health.failed(e.to_string(), now_ms());
        if let Err(error) = self.lake.reset() {
            tracing::warn!(%error, "Clearing the refused commit's files failed; retrying later.");
        }
        self.rewind()?;
        self.degraded = Some(Degraded { until: Instant::now() + backoff, backoff, paused: true });
        Ok(())
    }

    /// True while consumption is paused after a refused commit.
    fn paused(&self) -> bool {
        self.degraded.as_ref().is_some_and(|d| d.paused)
    }

    /// Ends the pause once it is over: the lake gets another chance, and
    /// consumption restarts from its offsets. Returns true while still paused.
    fn still_paused(&mut self) -> bool {
        let Some(d) = self.degraded.as_ref() else { return false };
        if !d.paused {
            return false;
        }
        if Instant::now() < d.until {
            return true;
        }
        let ready = self.lake.reset().and_then(|()| {
            if self.unclaimed.is_empty() {
                return Ok(false);
            }
            self.lake.claim(&self.unclaimed, self.generation)?;
            self.unclaimed.clear();
            Ok(true)
        });
        // After a late claim, the offsets and state are read again: only
        // now are they final.
        let ready = match ready {
            Ok(true) => self.rewind(),
            Ok(false) => Ok(()),
            Err(e) => Err(e.into()),
        };
        let Some(d) = self.degraded.as_mut() else { return false };
        if let Err(error) = ready {
            tracing::warn!(%error, "The lake still refuses; waiting longer.");
            self.health.failed(error.to_string(), now_ms());
            d.backoff = (d.backoff * 2).min(MAX_BACKOFF);
            d.until = Instant::now() + d.backoff;
            return true;
        }
        d.paused = false;
        let owned: Vec<_> = self.owned.iter().map(|(k, n)| (*k, *n)).collect();
        self.reseek.extend(owned);
        false
    }

    /// Writes what the decoders hold, scores it, and commits it with the
    /// offsets and the scoring state of every owned shard.
    fn try_commit(&mut self) -> Result<Option<CommitInfo>> {
        let keys: Vec<PartitionKey> = self.decoders.keys().copied().collect();
        for k in keys {
            self.flush(k)?;
        }
        // An idle instance writes no log entries: a commit needs new records,
        // score rows or offsets that moved.
        let mut changed = self.pending > 0;
        if let Some(sc) = self.scorer.as_mut() {
            let idle = sc.model().windows.idle_timeout.0;
            for shard in sc.shards() {
                sc.advance(shard, Some(idle));
            }
            for (table, batch) in sc.take_output(now_ms())? {
                changed = true;
                self.lake.write(table, &batch)?;
            }
        }
        // Every owned partition's position goes into the commit, moved or
        // not: the lake fences a commit only on the sources it carries, and
        // score rows and scoring state can change with no new records (a
        // window closing on the idle timeout), so this is what keeps an
        // instance that lost a partition from writing its shard.
        let positions: Vec<(String, u64)> = self
            .owned
            .iter()
            .filter_map(|(k, next)| next.map(|n| (source_key(&self.names, *k), n as u64)))
            .collect();
        changed |= positions
            .iter()
            .any(|(key, n)| self.lake.state().sources.get(key).map(|p| p.next) != Some(*n));
        changed |= !self.closing.is_empty();
        if !changed {
            return Ok(None);
        }
        if let Some(sc) = self.scorer.as_ref() {
            for shard in sc.shards() {
                if let Some(state) = sc.snapshot(shard) {
                    self.lake.put_state(&Scorer::state_key(shard), &state)?;
                }
            }
        }
        for shard in &self.closing {
            let at: BTreeMap<String, i64> = self
                .owned
                .iter()
                .filter(|(k, _)| k.1 == *shard)
                .filter_map(|(k, next)| next.map(|n| (source_key(&self.names, *k), n)))
                .collect();
            let marker = serde_json::to_vec(&at).unwrap_or_default();
            self.lake.put_state(&closed_key(*shard), &marker)?;
        }
        for (key, n) in positions {
            self.lake.set_position(key, SourcePosition { next: n, byte_offset: None });
        }
        match self.lake.commit() {
            Ok(info) => {
                self.emit_metrics();
                if info.is_some() {
                    self.summary.commits += 1;
                }
                self.pending = 0;
                self.closing.clear();
                Ok(info)
            }
            Err(fivefold_lake::Error::Fenced { sources }) => {
                tracing::warn!(?sources, "Another instance owns these partitions now; rewinding.");
                self.rewind()?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets uncommitted progress: every owned partition goes back to the
    /// lake's offset.
    fn rewind(&mut self) -> Result<()> {
        self.lake.refresh()?;
        self.decoders.clear();
        self.closing.clear();
        if let Some(sc) = self.scorer.as_mut() {
            sc.discard_output();
        }
        let shards: Vec<i32> = self.scorer.as_ref().map(Scorer::shards).unwrap_or_default();
        for shard in shards {
            self.restore_shard(shard)?;
        }
        for (k, next) in self.owned.iter_mut() {
            *next =
                self.lake.state().sources.get(&source_key(&self.names, *k)).map(|p| p.next as i64);
            self.reseek.push((*k, *next));
        }
        self.pending = 0;
        Ok(())
    }

    fn emit_metrics(&mut self) {
        for (i, n) in self.received.iter_mut().enumerate() {
            if *n > 0 {
                let topic = Topic::ALL[i].name();
                metrics::counter!(metric::RECORDS_RECEIVED_TOTAL, "topic" => topic).increment(*n);
                self.summary.records += *n;
                *n = 0;
            }
        }
        for (t, n) in Table::ALL.iter().zip(&mut self.accepted) {
            if *n > 0 {
                *self.summary.accepted.entry(*t).or_default() += std::mem::take(n);
            }
        }
        for (class, n) in std::mem::take(&mut self.rejected) {
            metrics::counter!(metric::DEAD_LETTERS_TOTAL, "reason" => class.as_str()).increment(n);
            *self.summary.rejected.entry(class).or_default() += n;
        }
    }

    /// Loads a shard's scoring state from the lake (or starts it empty) and
    /// declares its five sources.
    fn restore_shard(&mut self, shard: i32) -> Result<()> {
        let Some(sc) = self.scorer.as_mut() else { return Ok(()) };
        sc.drop_shard(shard);
        if let Some(bytes) = self.lake.read_state(&Scorer::state_key(shard))? {
            sc.restore(shard, &bytes)?;
        }
        for t in Topic::ALL {
            sc.register_source(shard, &source_key(&self.names, (t, shard)));
        }
        Ok(())
    }

    /// Closes owned shards as a replay closes its shard at the end of its
    /// files: every window closes, the last one too, and the alarm episodes
    /// still open are reported. The next commit writes that and records the
    /// positions they closed at (the end of a backfill, shard by shard as
    /// this instance comes to own them).
    fn close_shards(&mut self, shards: &[i32]) {
        self.closing.extend(shards);
        if let Some(sc) = self.scorer.as_mut() {
            for &shard in shards {
                sc.flush(shard);
            }
        }
    }

    /// Whether a commit closed every window of `shard` with its partitions
    /// read up to `ends` (by this instance or another member of the group).
    fn shard_closed(&self, shard: i32, ends: &[(PartitionKey, i64)]) -> Result<bool> {
        let mut ends = ends.iter().filter(|(k, end)| k.1 == shard && *end > 0);
        let Some(bytes) = self.lake.read_state(&closed_key(shard))? else { return Ok(false) };
        let at: BTreeMap<String, i64> = serde_json::from_slice(&bytes).unwrap_or_default();
        Ok(ends.all(|(k, end)| at.get(&source_key(&self.names, *k)).is_some_and(|n| n >= end)))
    }

    /// Moves an owned partition that the client has read up to its end
    /// offset but whose last offsets hold no record to that end: a
    /// transactional producer ends each transaction with a commit marker,
    /// which the client steps over without handing it over, so the last
    /// record's offset + 1 stays short of the end. `positions` are the
    /// client's. Every record the client handed over since its last seek
    /// went through [`Core::push`], so a position past `next` means markers,
    /// unless the partition's records are being dropped until a seek back.
    /// Returns whether any partition moved.
    fn step_over_markers(
        &mut self,
        ends: &[(PartitionKey, i64)],
        positions: &[(PartitionKey, i64)],
    ) -> bool {
        let mut moved = false;
        for &(k, pos) in positions {
            let Some(end) = ends.iter().find(|(e, _)| *e == k).map(|(_, end)| *end) else {
                continue;
            };
            if self.paused() || self.reseek.iter().any(|(r, _)| *r == k) {
                continue;
            }
            if let Some(next) = self.owned.get_mut(&k)
                && pos >= end
                && next.is_none_or(|n| n < pos)
            {
                tracing::debug!(?k, from = ?next, to = pos, "Stepped over transaction markers.");
                *next = Some(pos);
                moved = true;
            }
        }
        moved
    }

    fn offsets(&self) -> Vec<(PartitionKey, i64)> {
        self.owned.iter().filter_map(|(k, n)| n.map(|n| (*k, n))).collect()
    }
}

struct Handler(Arc<Mutex<Core>>);

/// Marks the run aborted when dropped armed: on every return by `?` from
/// the poll loop.
struct AbortOnExit(Option<Arc<Mutex<Core>>>);

impl AbortOnExit {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnExit {
    fn drop(&mut self) {
        if let Some(core) = self.0.take() {
            lock(&core).aborted = true;
        }
    }
}

fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    core.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Rebalance for Handler {
    fn assigned(&self, parts: &[PartitionKey], generation: Option<i32>) -> Vec<Option<i64>> {
        let mut core = lock(&self.0);
        core.generation = generation;
        // The claim fences the partitions' previous owner: once it is in the
        // log, the offsets and state read below are final.
        let keys: Vec<String> = parts.iter().map(|k| source_key(&core.names, *k)).collect();
        // A claim reads what other instances committed; without one, the
        // log is read here.
        let refused = match core.lake.claim(&keys, generation) {
            Ok(()) => None,
            Err(error) => {
                let error = crate::Error::from(error);
                if let Err(error) = core.lake.refresh() {
                    tracing::error!(%error, "Reading the lake's offsets failed.");
                    core.failed.get_or_insert(error.into());
                }
                if !retryable(&error) {
                    tracing::error!(%error, "Claiming the assigned partitions in the lake failed.");
                    core.failed.get_or_insert(error);
                    None
                } else {
                    // Claimed when the pause ends; the offsets read below are
                    // read again then, after the claim.
                    core.unclaimed.extend(keys);
                    Some(error)
                }
            }
        };
        // Partition p of every topic is shard p: restore each shard once.
        let shards: BTreeSet<i32> = parts.iter().map(|k| k.1).collect();
        for shard in shards {
            if let Err(error) = core.restore_shard(shard) {
                tracing::error!(%error, shard, "Restoring the scoring state failed.");
                core.failed.get_or_insert(error);
            }
        }
        // The client starts these at the positions returned below.
        core.reseek.retain(|(k, _)| !parts.contains(k));
        let positions = parts
            .iter()
            .map(|k| {
                let pos = core
                    .lake
                    .state()
                    .sources
                    .get(&source_key(&core.names, *k))
                    .map(|p| p.next as i64);
                core.owned.insert(*k, pos);
                pos
            })
            .collect();
        if let Some(error) = refused
            && let Err(error) = core.degrade(error)
        {
            core.failed.get_or_insert(error);
        }
        positions
    }

    fn revoking(&self, parts: &[PartitionKey]) {
        let mut core = lock(&self.0);
        if let Err(error) = core.commit() {
            tracing::error!(%error, "Committing before a revocation failed.");
            core.failed.get_or_insert(error);
        }
        for k in parts {
            core.owned.remove(k);
            core.decoders.remove(k);
            let key = source_key(&core.names, *k);
            core.unclaimed.retain(|u| *u != key);
        }
        // A shard goes with the last of its partitions.
        let held: Vec<i32> = core.scorer.as_ref().map(Scorer::shards).unwrap_or_default();
        for shard in held {
            if !core.owned.keys().any(|k| k.1 == shard)
                && let Some(sc) = core.scorer.as_mut()
            {
                sc.drop_shard(shard);
            }
        }
    }
}

/// State key: the positions of a shard's partitions at the commit that
/// closed its every window at the end of the topics (`--exit-at-end`).
fn closed_key(shard: i32) -> String {
    format!("run/closed/{shard}")
}

/// Runs the pipeline until `stop` is set (or, with `exit_at_end`, until the
/// lake holds everything that was on the topics at startup, and then every
/// window closes as at the end of a replay), then commits.
/// `progress` is told the records this instance has consumed so far.
pub fn run(
    cfg: &KafkaConfig,
    lake: Lake,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &AtomicU64,
) -> Result<RunSummary> {
    let dead_letter = if cfg.dead_letter_topic.is_empty() {
        None
    } else {
        Some((Producer::new(cfg)?, cfg.dead_letter_topic.clone()))
    };
    let core = Arc::new(Mutex::new(Core::new(lake, cfg.names(), opts, dead_letter)?));
    let Some(source) = connect(cfg, &core, stop)? else {
        return Ok(RunSummary::default());
    };
    // Declared after `source`, so dropped before it on an early return.
    let abort = AbortOnExit(Some(Arc::clone(&core)));
    opts.health.running(true);
    let ends =
        if opts.exit_at_end { Some(source.end_offsets(cfg.connect_timeout())?) } else { None };
    let mut last_commit = Instant::now();
    let mut last_end_check = Instant::now();
    let mut last_error_log: Option<Instant> = None;
    let mut since_check = 0u32;
    let mut consumed = 0u64;
    let mut at_end = false;
    let mut told_waiting = false;
    // When records were seen (dead letters' `seen_at`): read once per round
    // of up to 512 records, not per record.
    let mut seen_at = now_ms();
    while !stop.load(Ordering::Relaxed) {
        let polled = source.poll(Duration::from_millis(100));
        let idle = polled.is_none();
        match polled {
            Some(Ok(rec)) => {
                let mut c = lock(&core);
                // While paused, what arrives is dropped: consumption restarts
                // from the lake's offsets when the pause ends.
                if !c.paused() {
                    c.push(&rec, seen_at)?;
                    consumed += 1;
                }
            }
            Some(Err(error))
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) =>
            {
                tracing::warn!(%error, "Kafka is not answering; retrying.");
                last_error_log = Some(Instant::now());
            }
            Some(Err(_)) => {}
            None => {}
        }
        since_check += 1;
        if !idle && since_check < 512 {
            continue;
        }
        since_check = 0;
        seen_at = now_ms();
        progress.store(consumed, Ordering::Relaxed);
        let mut c = lock(&core);
        if let Some(e) = c.failed.take() {
            return Err(e);
        }
        if c.still_paused() {
            continue;
        }
        // With an end in sight, commit as soon as this instance has read up to it.
        let read_to_end = ends.as_ref().is_some_and(|ends| {
            c.pending > 0
                && ends.iter().all(|(k, end)| match c.owned.get(k) {
                    Some(next) => *end <= 0 || next.is_some_and(|n| n >= *end),
                    None => true,
                })
        });
        if read_to_end
            || c.pending >= opts.commit_rows
            || last_commit.elapsed() >= opts.commit_interval
        {
            if c.commit()?.is_some() {
                source.commit_group_offsets(&c.offsets());
            }
            last_commit = Instant::now();
            opts.health.lag(source.consumer_lag());
        }
        for (k, off) in std::mem::take(&mut c.reseek) {
            if !c.owned.contains_key(&k) {
                continue; // revoked since: its next owner reads the lake's offset
            }
            if let Err(error) = source.seek(k, off) {
                tracing::warn!(%error, "Seeking back to the lake's offset failed; retrying.");
                c.reseek.push((k, off));
            }
        }
        if let Some(ends) = &ends
            && last_end_check.elapsed() > Duration::from_millis(500)
        {
            last_end_check = Instant::now();
            // The client's positions cost no request to the broker.
            let positions = source.positions().unwrap_or_default();
            if c.step_over_markers(ends, &positions) && c.commit()?.is_some() {
                source.commit_group_offsets(&c.offsets());
            }
            c.lake.refresh()?;
            let caught_up = ends.iter().all(|(k, end)| {
                *end <= 0
                    || c.lake
                        .state()
                        .sources
                        .get(&source_key(&c.names, *k))
                        .is_some_and(|p| p.next as i64 >= *end)
            });
            // Every shard with records is closed once, by the member that
            // owns it when the lake holds everything: this instance closes
            // its own, then waits until the others are closed too (a member
            // that died holding some hands them over when its session times
            // out). An instance with no assignment yet waits for one unless
            // every shard is closed already.
            if caught_up && c.pending == 0 {
                let with_records: BTreeSet<i32> =
                    ends.iter().filter(|(_, end)| *end > 0).map(|(k, _)| k.1).collect();
                let mut open = Vec::new();
                for shard in with_records {
                    if !c.shard_closed(shard, ends)? {
                        open.push(shard);
                    }
                }
                let mine: Vec<i32> =
                    open.iter().copied().filter(|s| c.owned.keys().any(|k| k.1 == *s)).collect();
                if !mine.is_empty() {
                    c.close_shards(&mine);
                    if c.commit()?.is_some() {
                        source.commit_group_offsets(&c.offsets());
                    }
                    continue;
                }
                if open.is_empty() {
                    at_end = true;
                    break;
                }
                if !told_waiting {
                    tracing::info!(
                        shards = ?open,
                        "The lake holds everything; waiting for the members that own these \
                         shards to close their windows."
                    );
                    told_waiting = true;
                }
            }
        }
    }
    let summary = {
        let mut c = lock(&core);
        if c.finish(at_end)?.is_some() {
            source.commit_group_offsets(&c.offsets());
        }
        c.emit_metrics();
        c.summary.clone()
    };
    progress.store(consumed, Ordering::Relaxed);
    abort.disarm();
    // Leaving the group revokes the partitions; the handler has nothing left to commit.
    drop(source);
    opts.health.running(false);
    Ok(summary)
}

/// Connects to Kafka, retrying unreachable brokers for `kafka.startup_wait`;
/// `None` when stopped while waiting.
fn connect(
    cfg: &KafkaConfig,
    core: &Arc<Mutex<Core>>,
    stop: &AtomicBool,
) -> Result<Option<KafkaSource>> {
    let deadline = Instant::now() + cfg.startup_wait();
    loop {
        match KafkaSource::connect(cfg, Arc::new(Handler(Arc::clone(core)))) {
            Ok(source) => return Ok(Some(source)),
            Err(e @ fivefold_kafka::Error::Unreachable { .. }) if Instant::now() < deadline => {
                tracing::warn!(error = %e, "Kafka is not answering yet; retrying (kafka.startup_wait).");
                let pause = Instant::now() + Duration::from_secs(1);
                while Instant::now() < pause {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use fivefold_lake::WriterOptions;

    use super::*;

    fn test_options() -> RunOptions {
        RunOptions {
            commit_interval: Duration::from_secs(1),
            commit_rows: 1_000,
            batch_rows: 100,
            exit_at_end: false,
            model: None,
            check_clock: false,
            health: Arc::default(),
        }
    }

    /// A lake in `dir` that skips fsync.
    fn throwaway_lake(dir: &std::path::Path) -> Lake {
        Lake::open(dir, WriterOptions { durable: false, ..Default::default() }).unwrap()
    }

    #[test]
    fn source_keys_name_the_topic_with_its_prefix() {
        let key = (Topic::Hazard, 3);
        assert_eq!(source_key(&TopicNames::new(""), key), "kafka:hazard:3");
        assert_eq!(source_key(&TopicNames::new("v2."), key), "kafka:v2.hazard:3");
    }

    /// Closing the consumer after an error revokes the partitions; that
    /// revocation must not commit what the failed run held.
    #[test]
    fn a_revocation_commits_what_is_held_unless_the_run_aborted() {
        for aborted in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let open = || throwaway_lake(dir.path());
            let opts = test_options();
            let handler = Handler(Arc::new(Mutex::new(
                Core::new(open(), TopicNames::new(""), &opts, None).unwrap(),
            )));
            let key = (Topic::Hazard, 0);
            assert_eq!(handler.assigned(&[key], Some(1)), vec![None]);
            {
                let mut c = lock(&handler.0);
                // As if offsets 0 to 41 had been read.
                c.owned.insert(key, Some(42));
                c.pending = 42;
                c.aborted = aborted;
            }
            handler.revoking(&[key]);
            let next =
                open().state().sources.get(&source_key(&TopicNames::new(""), key)).map(|p| p.next);
            assert_eq!(next, (!aborted).then_some(42), "aborted: {aborted}");
        }
    }

    /// A transactional producer's commit marker after a partition's last
    /// record: the client's position passes it, and so does the offset the
    /// lake commits, or `--exit-at-end` would wait for that offset forever.
    #[test]
    fn a_position_past_the_last_record_is_the_end_unless_a_seek_back_is_due() {
        let dir = tempfile::tempdir().unwrap();
        let open = || throwaway_lake(dir.path());
        let opts = test_options();
        let handler = Handler(Arc::new(Mutex::new(
            Core::new(open(), TopicNames::new(""), &opts, None).unwrap(),
        )));
        let (marker, rewound, short) = ((Topic::Hazard, 0), (Topic::Hazard, 1), (Topic::Hazard, 2));
        handler.assigned(&[marker, rewound, short], Some(1));
        let mut c = lock(&handler.0);
        // Records 0 to 41 read from each, a marker at 42; the third has
        // records up to 42 still to come.
        c.owned.insert(marker, Some(42));
        c.owned.insert(rewound, Some(42));
        c.owned.insert(short, Some(40));
        c.pending = 122;
        // Its records are dropped until the client seeks back to 42.
        c.reseek.push((rewound, Some(42)));
        let ends = [(marker, 43), (rewound, 43), (short, 43)];
        let positions = [(marker, 43), (rewound, 43), (short, 41)];
        assert!(c.step_over_markers(&ends, &positions));
        assert!(!c.step_over_markers(&ends, &positions), "a second look moves nothing");
        c.reseek.clear();
        c.commit().unwrap();
        let next =
            |k| open().state().sources.get(&source_key(&TopicNames::new(""), k)).map(|p| p.next);
        assert_eq!(next(marker), Some(43), "stepped over the marker");
        assert_eq!(next(rewound), Some(42), "a partition due for a seek back stays");
        assert_eq!(next(short), Some(40), "short of the end: records may follow");
    }

    /// At the end of a backfill, a shard closed with nothing read since stays
    /// as it is (closing it again would report its open alarm episodes
    /// twice); one that took records after it closed closes again.
    #[test]
    fn the_end_of_a_backfill_closes_again_only_the_shards_that_read_on() {
        let dir = tempfile::tempdir().unwrap();
        let open = || throwaway_lake(dir.path());
        let opts = test_options();
        let handler = Handler(Arc::new(Mutex::new(
            Core::new(open(), TopicNames::new(""), &opts, None).unwrap(),
        )));
        let (still, read_on) = ((Topic::Hazard, 0), (Topic::Hazard, 1));
        handler.assigned(&[still, read_on], Some(1));
        let mut c = lock(&handler.0);
        c.owned.insert(still, Some(10));
        c.owned.insert(read_on, Some(10));
        c.pending = 20;
        c.close_shards(&[0, 1]);
        assert!(c.commit().unwrap().is_some());
        let closed_at = |shard| {
            let bytes = open().read_state(&closed_key(shard)).unwrap().unwrap();
            serde_json::from_slice::<BTreeMap<String, i64>>(&bytes).unwrap()
        };
        let key = |k| source_key(&TopicNames::new(""), k);
        assert_eq!(closed_at(0), BTreeMap::from([(key(still), 10)]));
        assert!(c.finish(true).unwrap().is_none(), "both closed where they stand: no commit");
        // Records 10 to 14 of the second shard, read while waiting.
        c.owned.insert(read_on, Some(15));
        c.pending = 5;
        assert!(c.finish(true).unwrap().is_some());
        assert_eq!(closed_at(1), BTreeMap::from([(key(read_on), 15)]));
        assert_eq!(closed_at(0), BTreeMap::from([(key(still), 10)]));
    }

    /// A rebalance callback that failed in the run's last poll makes the run
    /// fail, and nothing it held is committed.
    #[test]
    fn a_callback_failure_in_the_last_poll_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let open = || throwaway_lake(dir.path());
        let opts = test_options();
        let mut c = Core::new(open(), TopicNames::new(""), &opts, None).unwrap();
        let key = (Topic::Hazard, 0);
        c.owned.insert(key, Some(42));
        c.pending = 42;
        c.failed = Some(crate::Error::Config { problems: vec!["the claim failed".into()] });
        let err = c.finish(false).expect_err("the callback's failure is the run's");
        assert!(err.to_string().contains("the claim failed"), "{err}");
        assert!(open().state().sources.is_empty());
    }
}
