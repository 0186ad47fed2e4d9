//! Writing the lake: stage Parquet files, then commit them atomically.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use arrow::record_batch::RecordBatch;
use fivefold_model::Table;
use fivefold_model::time::{MS_PER_DAY, format_date};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, IoContext, Result};
use crate::log::{
    self, AddFile, CommitEntry, LakeState, Layout, Owner, STAGING_DIR, STATE_DIR, SourcePosition,
    StateRef,
};

/// The zstd levels Parquet accepts; configuration outside them is refused.
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// Tuning of the writer.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// zstd level, within [`ZSTD_LEVELS`] (any other falls back to parquet's default).
    pub zstd_level: i32,
    /// fsync files and folders before a commit is acknowledged. Off only for
    /// throwaway lakes: a kill -9 is survived either way, a power loss is not.
    pub durable: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { row_group_rows: 512 * 1024, zstd_level: 1, durable: true }
    }
}

/// Columns whose values are (nearly) all distinct: a dictionary would only
/// cost a hash and a compare per value before the writer gives up on it.
const DISTINCT_COLUMNS: [&str; 5] = ["event_id", "event_time", "value", "_line", "_offset"];
/// Integer columns that mostly grow row by row (times in arrival order, line
/// numbers, offsets): delta encoding stores them in a few bits a value, and
/// zstd has far less left to do.
const RISING_COLUMNS: [&str; 3] = ["event_time", "_line", "_offset"];

/// String columns whose min and max prune nothing: producer-assigned ids,
/// unknown fields as JSON text, and provenance (one topic per table). The
/// writer compares every value with the page's min and max otherwise, about
/// 4 % of replay's CPU time.
const NO_STATISTICS_COLUMNS: [&str; 4] = ["event_id", "extra", "_topic", "_file"];

/// The Parquet settings of every file the lake writes.
fn writer_properties(opts: &WriterOptions) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(opts.zstd_level).unwrap_or_default()))
        .set_max_row_group_row_count(Some(opts.row_group_rows));
    for c in DISTINCT_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    for c in NO_STATISTICS_COLUMNS {
        b = b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
    }
    for c in RISING_COLUMNS {
        b = b.set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
    }
    b.build()
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitInfo {
    /// The new version.
    pub version: u64,
    /// Files made visible.
    pub files: usize,
    /// Rows in them.
    pub rows: u64,
    /// Bytes in them.
    pub bytes: u64,
    /// Seconds the commit took (closing files, log write, links).
    pub seconds: f64,
}

pub(crate) struct OpenFile {
    pub(crate) writer: ArrowWriter<BufWriter<fs::File>>,
    pub(crate) staged_rel: String,
    final_rel: String,
    table: Table,
    date: i64,
    pub(crate) rows: u64,
}

/// A lake opened for writing. Several writers may share a lake: each claims
/// log versions exclusively and owns the sources it commits positions for.
pub struct Lake {
    layout: Layout,
    state: LakeState,
    writer_id: String,
    opts: WriterOptions,
    props: WriterProperties,
    seq: u64,
    open: HashMap<(Table, i64), OpenFile>,
    staged_state: BTreeMap<String, StateRef>,
    pending_sources: BTreeMap<String, SourcePosition>,
    /// Staged files of the previous commit (paths relative to the lake),
    /// deleted at the next one so that a reader that resolved a staged path a
    /// moment ago can still open it.
    linked_staged: Vec<String>,
    /// State blobs replaced by a commit (its version, the blob's path), deleted
    /// [`STATE_KEEP_VERSIONS`] commits later.
    retired: VecDeque<(u64, String)>,
    _lock: fs::File,
}

/// Commits a replaced state blob is kept for.
pub(crate) const STATE_KEEP_VERSIONS: u64 = 8;

/// Unreferenced state blobs older than this are deleted when a writer opens
/// the lake (what a crashed writer had not yet retired).
const STALE_STATE_AGE: Duration = Duration::from_secs(600);

impl Lake {
    /// Opens (creating if needed) the lake at `root` (a folder, or
    /// `s3://bucket/prefix`) for writing, and recovers from any crash: commits
    /// whose files were not yet linked into place are rolled forward, and
    /// staged files no commit refers to are deleted.
    pub fn open(root: impl Into<PathBuf>, opts: WriterOptions) -> Result<Lake> {
        let layout = Layout::open(&root.into())?;
        let writer_id = writer_id();
        let mut dirs = vec![layout.staging()];
        if layout.remote.is_none() {
            dirs.extend([layout.log_dir(), layout.meta().join("state")]);
        }
        for d in dirs {
            log::create_dirs(&d, opts.durable)?;
        }
        // Each writer stages into its own folder and holds a lock on its own
        // lock file for as long as it lives, so that others can tell its
        // leftovers (after a crash) from work in progress. The lock file is
        // locked before it appears in staging, and the folder is made after
        // it: a writer opening at the same moment never takes either for a
        // dead writer's.
        let lock_path = layout.staging().join(format!("{writer_id}.lock"));
        let unnamed = layout.meta().join(format!(".lock-{writer_id}"));
        let lock = fs::File::create(&unnamed).ctx("create", &unnamed)?;
        lock.try_lock().map_err(|e| Error::Io {
            op: "lock",
            path: unnamed.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        fs::rename(&unnamed, &lock_path).ctx("rename", &lock_path)?;
        let my_staging = layout.staging().join(&writer_id);
        log::create_dirs(&my_staging, opts.durable)?;
        let state = log::replay(&layout)?;
        let props = writer_properties(&opts);
        let mut lake = Lake {
            layout,
            state,
            writer_id,
            opts,
            props,
            seq: 0,
            open: HashMap::new(),
            staged_state: BTreeMap::new(),
            pending_sources: BTreeMap::new(),
            linked_staged: Vec::new(),
            retired: VecDeque::new(),
            _lock: lock,
        };
        lake.recover()?;
        Ok(lake)
    }

    /// The committed state (files, source positions, operator state).
    pub fn state(&self) -> &LakeState {
        &self.state
    }

    /// The lake root (for a lake in object storage, the local folder its
    /// files are staged in).
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Where the lake's files are.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// This writer's id (in log entries and staged file names).
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// Reads a committed state blob.
    pub fn read_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.state.state.get(key) {
            None => Ok(None),
            Some(r) => match self.layout.read_committed(&r.path, &r.staged)? {
                Some((_, bytes)) => Ok(Some(bytes)),
                None => {
                    Err(Error::MissingFile { version: self.state.version, path: r.path.clone() })
                }
            },
        }
    }

    /// Deletes state blobs that the current state does not refer to and that
    /// are older than [`STALE_STATE_AGE`] (the retired blobs of writers that
    /// stopped before deleting them).
    fn sweep_state(&self) -> Result<()> {
        let live: HashSet<&str> = self.state.state.values().map(|s| s.path.as_str()).collect();
        for (name, modified) in self.layout.list(STATE_DIR)? {
            let rel = format!("{STATE_DIR}/{name}");
            if older_than(modified, STALE_STATE_AGE) && !live.contains(rel.as_str()) {
                self.layout.delete(&rel)?;
            }
        }
        Ok(())
    }

    /// Links every committed file that is still only in staging into place
    /// (rolling forward a commit that crashed or failed after its log entry).
    /// In object storage, staged objects are copied to their final place, and
    /// staged objects older than [`STALE_STATE_AGE`] are deleted: committed
    /// ones were copied just now, the others belong to no live commit.
    fn link_committed(&self) -> Result<()> {
        let files = self.state.files.values().map(|f| (&f.path, &f.staged));
        let blobs = self.state.state.values().map(|s| (&s.path, &s.staged));
        let committed = files.chain(blobs);
        if let (Some(r), Some(staged)) = (&self.layout.remote, self.layout.remote_staged()?) {
            let present: HashSet<&str> = staged.iter().map(|(path, _)| path.as_str()).collect();
            for (path, st) in committed {
                // A live writer may delete a staged twin between the listing
                // and the copy: only once the file is in place.
                if present.contains(st.as_str()) && !r.copy(st, path)? && !r.exists(path)? {
                    return Err(Error::MissingFile {
                        version: self.state.version,
                        path: path.clone(),
                    });
                }
            }
            for (path, modified) in &staged {
                if older_than(*modified, STALE_STATE_AGE) {
                    r.delete(path)?;
                }
            }
            return Ok(());
        }
        let mut linked: Vec<PathBuf> = Vec::new();
        for (path, staged) in committed {
            let fin = self.layout.root.join(path);
            match self.layout.locate(path, staged) {
                Some(at) if at == fin => {}
                Some(st) => {
                    link_into_place(&st, &fin, self.opts.durable, &mut linked)?;
                }
                None => {
                    return Err(Error::MissingFile {
                        version: self.state.version,
                        path: path.clone(),
                    });
                }
            }
        }
        // The links are durable before the staged copies can be deleted.
        sync_dirs(&linked, self.opts.durable)
    }

    fn recover(&mut self) -> Result<()> {
        // Which writers are dead is decided first, then the log is read again
        // and its files linked, and only then are the dead writers' leftovers
        // deleted: a writer that commits and dies after `open` read the log
        // is dead by now, and its commit is in the log read here, so its
        // files are in place before its staging folder goes.
        let staging = self.layout.staging();
        let mut dead = Vec::new();
        for item in fs::read_dir(&staging).ctx("read directory", &staging)? {
            let p = item.ctx("read directory", &staging)?.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else { continue };
            let id = name.strip_suffix(".lock").unwrap_or(name);
            if id != self.writer_id && !writer_alive(&staging, id) {
                dead.push(p);
            }
        }
        let logdir = self.layout.log_dir();
        if self.layout.remote.is_none() {
            // Object stores create log entries whole: no temporary files.
            for item in fs::read_dir(&logdir).ctx("read directory", &logdir)? {
                let p = item.ctx("read directory", &logdir)?.path();
                let Some(name) = p.file_name().and_then(|n| n.to_str()) else { continue };
                if let Some(rest) = name.strip_prefix(".tmp-") {
                    let id = rest.split('-').next().unwrap_or_default();
                    if id != self.writer_id && !writer_alive(&staging, id) {
                        dead.push(p);
                    }
                }
            }
        }
        self.refresh()?;
        self.link_committed()?;
        self.sweep_state()?;
        // What dead writers left is linked already or uncommitted.
        for p in dead {
            let gone = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
            match gone {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // another writer's recovery
                other => other.ctx("remove", &p)?,
            }
        }
        Ok(())
    }

    /// Reads the commits other writers made since this one last looked.
    pub fn refresh(&mut self) -> Result<()> {
        log::catch_up(&self.layout, &mut self.state)
    }

    /// Claims `sources` (the partitions a rebalance just assigned) for this
    /// writer with a commit of their own, each at the next ownership epoch.
    /// From then on a commit by their previous owner that covers any of them
    /// is refused ([`Error::Fenced`]), and the committed positions and state
    /// that [`Lake::state`] shows afterwards are final: the previous owner
    /// can add nothing to them. Claiming what this writer owns already is a
    /// no-op. `generation` is the consumer group generation of the
    /// assignment, recorded with each claim.
    pub fn claim(&mut self, sources: &[String], generation: Option<i32>) -> Result<()> {
        self.refresh()?;
        let started = Instant::now();
        loop {
            let owners: BTreeMap<String, Owner> = sources
                .iter()
                .filter(|k| self.state.owners.get(*k).is_none_or(|o| o.writer != self.writer_id))
                .map(|k| {
                    let epoch = self.state.owners.get(k).map_or(0, |o| o.epoch) + 1;
                    (k.clone(), Owner { writer: self.writer_id.clone(), epoch, generation })
                })
                .collect();
            if owners.is_empty() {
                return Ok(());
            }
            let entry = CommitEntry {
                version: self.state.version + 1,
                committed_at_ms: now_ms(),
                writer: self.writer_id.clone(),
                operation: "claim".into(),
                adds: Vec::new(),
                removes: Vec::new(),
                sources: BTreeMap::new(),
                state: BTreeMap::new(),
                owners,
            };
            if self.create_entry(&entry)? {
                self.state.apply(&entry);
                self.checkpoint_if_due()?;
                crate::metrics::commit(&entry, started.elapsed().as_secs_f64());
                return Ok(());
            }
            // Another writer took the version: read it and claim again.
            self.refresh()?;
        }
    }

    /// The sources of `bases` (this writer's view of their positions when it
    /// staged its commit) that another writer has since moved or claimed.
    fn lost(&self, bases: &[(String, Option<SourcePosition>)]) -> Vec<String> {
        bases
            .iter()
            .filter(|(k, base)| {
                self.state.sources.get(k).copied() != *base
                    || self.state.owners.get(k).is_some_and(|o| o.writer != self.writer_id)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Appends a batch of `table` to the open transaction, split by the UTC
    /// date of its partition time column.
    pub fn write(&mut self, table: Table, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let col = batch
            .column_by_name(table.partition_time_column())
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
            .ok_or_else(|| Error::Internal {
                table: table.name(),
                message: format!("no timestamp column `{}`", table.partition_time_column()),
            })?;
        let day = |i: usize| col.value(i).div_euclid(MS_PER_DAY);
        if col.null_count() == 0 {
            // Records come nearly in event-time order: the days usually rise
            // in runs of rows, each written as a slice without copying.
            let mut runs: Vec<(i64, usize, usize)> = Vec::new();
            for i in 0..col.len() {
                let d = day(i);
                match runs.last_mut() {
                    Some((last, _, len)) if *last == d => *len += 1,
                    _ => runs.push((d, i, 1)),
                }
            }
            if runs.windows(2).all(|w| w[0].0 < w[1].0) {
                for (d, start, len) in runs {
                    self.append(table, d, &batch.slice(start, len))?;
                }
                return Ok(());
            }
        }
        let mut by_day: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for i in 0..col.len() {
            let d = if col.is_null(i) { 0 } else { day(i) };
            by_day.entry(d).or_default().push(i as u32);
        }
        for (d, idx) in by_day {
            let part = take_record_batch(batch, &UInt32Array::from(idx))
                .map_err(|e| Error::Internal { table: table.name(), message: e.to_string() })?;
            self.append(table, d, &part)?;
        }
        Ok(())
    }

    fn append(&mut self, table: Table, date: i64, batch: &RecordBatch) -> Result<()> {
        let key = (table, date);
        if !self.open.contains_key(&key) {
            let f = self.create_file(table, date)?;
            self.open.insert(key, f);
        }
        let Some(f) = self.open.get_mut(&key) else {
            return Ok(());
        };
        f.writer.write(batch).map_err(|source| Error::Parquet {
            path: self.layout.root.join(&f.staged_rel),
            source,
        })?;
        f.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn next_name(&mut self, ext: &str) -> String {
        self.seq += 1;
        format!("part-{}-{:06}.{ext}", self.writer_id, self.seq)
    }

    pub(crate) fn create_file(&mut self, table: Table, date: i64) -> Result<OpenFile> {
        let name = self.next_name("parquet");
        let staged_rel = format!("{STAGING_DIR}/{}/{name}", self.writer_id);
        let final_rel = format!("{}/date={}/{name}", table.name(), format_date(date));
        let path = self.layout.root.join(&staged_rel);
        let file = fs::File::create(&path).ctx("create", &path)?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            table.schema(),
            Some(self.props.clone()),
        )
        .map_err(|source| Error::Parquet { path: path.clone(), source })?;
        Ok(OpenFile { writer, staged_rel, final_rel, table, date, rows: 0 })
    }

    /// Records how far a source has been consumed; committed with the next commit.
    pub fn set_position(&mut self, source: impl Into<String>, pos: SourcePosition) {
        self.pending_sources.insert(source.into(), pos);
    }

    /// Stages an operator-state blob under `key`; committed with the next commit.
    pub fn put_state(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        let name = self.next_name("state");
        let staged = format!("{STAGING_DIR}/{}/{name}", self.writer_id);
        let path = self.layout.root.join(&staged);
        fs::write(&path, bytes).ctx("write", &path)?;
        if self.opts.durable {
            fs::File::open(&path).and_then(|f| f.sync_all()).ctx("fsync", &path)?;
        }
        let r = StateRef { path: format!("{STATE_DIR}/{name}"), bytes: bytes.len() as u64, staged };
        self.staged_state.insert(key.to_owned(), r);
        Ok(())
    }

    /// Rows written since the last commit.
    pub fn pending_rows(&self) -> u64 {
        self.open.values().map(|f| f.rows).sum()
    }

    /// Bytes of encoded data buffered or written since the last commit (approximate).
    pub fn pending_bytes(&self) -> usize {
        self.open.values().map(|f| f.writer.bytes_written() + f.writer.in_progress_size()).sum()
    }

    /// True when a commit would change anything.
    pub fn has_pending(&self) -> bool {
        !self.open.is_empty() || !self.pending_sources.is_empty() || !self.staged_state.is_empty()
    }

    /// Makes everything written since the last commit visible at once,
    /// together with the source positions and state blobs.
    ///
    /// Order: close and fsync the staged files; create the log entry (the
    /// commit point); link the files into their table folders. A crash before
    /// the log entry leaves nothing visible; a crash after it is rolled
    /// forward by the next [`Lake::open`].
    pub fn commit(&mut self) -> Result<Option<CommitInfo>> {
        if !self.has_pending() {
            return Ok(None);
        }
        let started = Instant::now();
        let mut open: Vec<OpenFile> = self.open.drain().map(|(_, f)| f).collect();
        open.sort_by(|a, b| a.final_rel.cmp(&b.final_rel));
        let adds = self.close_files(open)?;
        let entry = CommitEntry {
            version: self.state.version + 1,
            committed_at_ms: now_ms(),
            writer: self.writer_id.clone(),
            operation: "append".into(),
            adds,
            removes: Vec::new(),
            sources: std::mem::take(&mut self.pending_sources),
            state: std::mem::take(&mut self.staged_state),
            owners: BTreeMap::new(),
        };
        self.publish(entry, started).map(Some)
    }

    /// Closes and fsyncs staged files; what a commit entry lists of them.
    pub(crate) fn close_files(&self, open: Vec<OpenFile>) -> Result<Vec<AddFile>> {
        let mut adds = Vec::with_capacity(open.len());
        for f in open {
            let staged = self.layout.root.join(&f.staged_rel);
            let file = f
                .writer
                .into_inner()
                .map_err(|source| Error::Parquet { path: staged.clone(), source })?
                .into_inner()
                .map_err(|e| Error::Io {
                    op: "flush",
                    path: staged.clone(),
                    source: e.into_error(),
                })?;
            if self.opts.durable && self.layout.remote.is_none() {
                file.sync_all().ctx("fsync", &staged)?;
            }
            let bytes = file.metadata().ctx("stat", &staged)?.len();
            adds.push(AddFile {
                path: f.final_rel,
                staged: f.staged_rel,
                table: f.table.name().to_owned(),
                date: f.date,
                rows: f.rows,
                bytes,
            });
        }
        if self.opts.durable && self.layout.remote.is_none() {
            log::sync_dir(&self.layout.staging().join(&self.writer_id))?;
        }
        Ok(adds)
    }

    /// Claims the next log version for `entry` (the commit point), then links
    /// its files into place and retires replaced state.
    pub(crate) fn publish(
        &mut self,
        mut entry: CommitEntry,
        started: Instant,
    ) -> Result<CommitInfo> {
        // Optimistic concurrency: if another writer took the version, read its
        // commits and retry, unless it claimed or moved one of the sources
        // this commit covers (then this writer lost them in a rebalance and
        // its work must go) or removed a file this commit removes (two
        // compactions of the same files: the later one yields).
        let bases: Vec<(String, Option<SourcePosition>)> =
            entry.sources.keys().map(|k| (k.clone(), self.state.sources.get(k).copied())).collect();
        let staged: Vec<String> = entry
            .adds
            .iter()
            .map(|a| a.staged.clone())
            .chain(entry.state.values().map(|s| s.staged.clone()))
            .collect();
        // A partition claimed by another writer is lost already (its position,
        // read just now, cannot have moved).
        let mut lost = self.lost(&bases);
        // In object storage the staged files go up before the commit point,
        // so that a committed file is always in the bucket.
        if lost.is_empty()
            && let Some(r) = &self.layout.remote
        {
            for rel in &staged {
                r.upload(&self.layout.root.join(rel), rel)?;
            }
        }
        while lost.is_empty() {
            if self.create_entry(&entry)? {
                break;
            }
            self.refresh()?;
            lost = self.lost(&bases);
            if lost.is_empty() && entry.removes.iter().any(|p| !self.state.files.contains_key(p)) {
                self.discard(&staged);
                return Err(Error::Conflict { version: entry.version });
            }
            entry.version = self.state.version + 1;
        }
        if !lost.is_empty() {
            self.discard(&staged);
            return Err(Error::Fenced { sources: lost });
        }
        // The commit is durable from here on.
        let replaced: Vec<StateRef> =
            entry.state.keys().filter_map(|k| self.state.state.get(k).cloned()).collect();
        self.state.apply(&entry);
        for old in std::mem::take(&mut self.linked_staged) {
            self.remove_staged(&old);
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (rel, staged) in entry
            .adds
            .iter()
            .map(|a| (&a.path, &a.staged))
            .chain(entry.state.values().map(|s| (&s.path, &s.staged)))
        {
            if let Some(r) = &self.layout.remote {
                if !r.copy(staged, rel)? {
                    return Err(Error::MissingFile { version: entry.version, path: rel.clone() });
                }
                let _ = fs::remove_file(self.layout.root.join(staged));
            } else {
                let fin = self.layout.root.join(rel);
                link_into_place(
                    &self.layout.root.join(staged),
                    &fin,
                    self.opts.durable,
                    &mut dirs,
                )?;
            }
            self.linked_staged.push(staged.clone());
        }
        sync_dirs(&dirs, self.opts.durable)?;
        // A replaced state blob outlives its last version by a few commits, so
        // that `fivefold lake repair` can roll a damaged log tail back to a
        // version whose state is still on disk.
        self.retired.extend(replaced.into_iter().map(|old| (entry.version, old.path)));
        while let Some((v, _)) = self.retired.front()
            && v + STATE_KEEP_VERSIONS <= entry.version
        {
            if let Some((_, path)) = self.retired.pop_front() {
                let _ = self.layout.delete(&path);
            }
        }
        self.checkpoint_if_due()?;
        let info = CommitInfo {
            version: entry.version,
            files: entry.adds.len(),
            rows: entry.adds.iter().map(|a| a.rows).sum(),
            bytes: entry.adds.iter().map(|a| a.bytes).sum(),
            seconds: started.elapsed().as_secs_f64(),
        };
        crate::metrics::commit(&entry, info.seconds);
        tracing::debug!(version = info.version, files = info.files, rows = info.rows, "Committed.");
        Ok(info)
    }

    /// Creates the log entry of `entry.version` (the commit point); false
    /// when another writer took that version first.
    fn create_entry(&self, entry: &CommitEntry) -> Result<bool> {
        let rel = self.layout.entry(entry.version);
        let tmp = format!(".tmp-{}-{}", self.writer_id, entry.version);
        self.layout.create(&rel, log::to_json(entry), &tmp, self.opts.durable)
    }

    /// Writes a checkpoint of the state when its version is due for one.
    fn checkpoint_if_due(&self) -> Result<()> {
        if !self.state.version.is_multiple_of(log::CHECKPOINT_INTERVAL) {
            return Ok(());
        }
        let rel = self.layout.checkpoint(self.state.version);
        let tmp = format!(".tmp-{}-checkpoint", self.writer_id);
        self.layout.create(&rel, log::to_json(&self.state), &tmp, self.opts.durable)?;
        Ok(())
    }

    /// Deletes the staged files of a commit that did not happen (here, and
    /// in object storage the copies uploaded for it).
    fn discard(&self, staged: &[String]) {
        for rel in staged {
            self.remove_staged(rel);
        }
    }

    /// Deletes a staged file: the twin of a file linked (or copied) into
    /// place, or one of a commit that did not happen.
    fn remove_staged(&self, rel: &str) {
        let _ = fs::remove_file(self.layout.root.join(rel));
        if let Some(r) = &self.layout.remote {
            let _ = r.delete(rel);
        }
    }

    /// Recovers from a failed write or commit (a full disk, say) without
    /// reopening: drops the open transaction, reads the log again (a commit
    /// whose log entry was written stands, even if linking its files failed),
    /// links committed files into place, and deletes this writer's staged and
    /// temporary files that no commit refers to, so that their space comes
    /// back. Returns an error while the disk still refuses; call it again.
    pub fn reset(&mut self) -> Result<()> {
        self.open.clear();
        self.staged_state.clear();
        self.pending_sources.clear();
        self.refresh()?;
        self.link_committed()?;
        let mine = self.layout.staging().join(&self.writer_id);
        let prefix = format!("{STAGING_DIR}/{}/", self.writer_id);
        let committed: HashSet<&str> = self
            .state
            .files
            .values()
            .map(|f| f.staged.as_str())
            .chain(self.state.state.values().map(|s| s.staged.as_str()))
            .filter_map(|s| s.strip_prefix(prefix.as_str()))
            .collect();
        for item in fs::read_dir(&mine).ctx("read directory", &mine)? {
            let p = item.ctx("read directory", &mine)?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let rel = format!("{prefix}{name}");
            if !committed.contains(name) {
                fs::remove_file(&p).ctx("remove", &p)?;
            } else if !self.linked_staged.contains(&rel) {
                // The staged twin of a linked file: deleted at the next commit.
                self.linked_staged.push(rel);
            }
        }
        if self.layout.remote.is_some() {
            return Ok(());
        }
        let own_tmp = format!(".tmp-{}-", self.writer_id);
        let logdir = self.layout.log_dir();
        for item in fs::read_dir(&logdir).ctx("read directory", &logdir)? {
            let p = item.ctx("read directory", &logdir)?.path();
            if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&own_tmp)) {
                fs::remove_file(&p).ctx("remove", &p)?;
            }
        }
        Ok(())
    }

    /// Discards everything written since the last commit.
    pub fn abort(&mut self) {
        for (_, f) in self.open.drain() {
            drop(f.writer);
            let _ = fs::remove_file(self.layout.root.join(&f.staged_rel));
        }
        for (_, s) in std::mem::take(&mut self.staged_state) {
            let _ = fs::remove_file(self.layout.root.join(&s.staged));
        }
        self.pending_sources.clear();
    }
}

impl Drop for Lake {
    /// Uncommitted staged files are left for the next open to clear (as after
    /// a crash); the staged twins of committed files are removed now.
    fn drop(&mut self) {
        for rel in std::mem::take(&mut self.linked_staged) {
            self.remove_staged(&rel);
        }
        // With nothing uncommitted, the writer leaves no trace in staging.
        let staging = self.layout.staging();
        if self.open.is_empty() && self.staged_state.is_empty() {
            let _ = fs::remove_dir(staging.join(&self.writer_id));
            let _ = fs::remove_file(staging.join(format!("{}.lock", self.writer_id)));
        }
    }
}

/// Hard-links a staged file to its final place (idempotent), and notes its
/// folder in `dirs`. With `durable`, the folders it creates are durable; the
/// link itself is made durable by [`sync_dirs`] over `dirs` after the links.
fn link_into_place(
    staged: &Path,
    fin: &Path,
    durable: bool,
    dirs: &mut Vec<PathBuf>,
) -> Result<()> {
    if let Some(d) = fin.parent() {
        log::create_dirs(d, durable)?;
        if !dirs.iter().any(|x| x == d) {
            dirs.push(d.to_path_buf());
        }
    }
    match fs::hard_link(staged, fin) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).ctx("link", fin),
    }
}

/// With `durable`, fsyncs each folder in `dirs`, so that the links made in
/// them survive a power loss.
fn sync_dirs(dirs: &[PathBuf], durable: bool) -> Result<()> {
    if durable {
        for d in dirs {
            log::sync_dir(d)?;
        }
    }
    Ok(())
}

/// The id of a writer that holds the lake open, if any.
pub(crate) fn live_writer(layout: &Layout) -> Result<Option<String>> {
    let staging = layout.staging();
    let rd = match fs::read_dir(&staging) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx("read directory", &staging),
    };
    for item in rd {
        let name = item.ctx("read directory", &staging)?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".lock"))
            && writer_alive(&staging, id)
        {
            return Ok(Some(id.to_owned()));
        }
    }
    Ok(None)
}

/// True while the writer `id` holds its lock file.
fn writer_alive(staging: &Path, id: &str) -> bool {
    match fs::File::open(staging.join(format!("{id}.lock"))) {
        Err(_) => false,
        Ok(f) => matches!(f.try_lock(), Err(fs::TryLockError::WouldBlock)),
    }
}

/// True when `t` lies more than `age` in the past.
pub(crate) fn older_than(t: SystemTime, age: Duration) -> bool {
    t.elapsed().is_ok_and(|a| a > age)
}

/// The wall clock, epoch ms: the clock of `committed_at_ms`, for anyone
/// comparing the present with a commit.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A writer id unique enough across processes and restarts: time and pid mixed.
fn writer_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    format!("{x:016x}")
}

#[cfg(test)]
mod tests {
    use fivefold_model::{Decoder, SourceRef, Topic};

    use super::*;

    /// A writer that commits and dies while another is opening the lake:
    /// the opener, whose first read of the log came before that commit,
    /// links the commit's files into place before it clears the dead
    /// writer's staging folder.
    #[test]
    fn a_commit_made_while_the_lake_opens_is_linked_before_its_writer_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions { durable: false, ..Default::default() };
        // Opened, so it has read the log; its recovery is run again below,
        // as if the other writer's commit and death fell between the two.
        let mut opener = Lake::open(dir.path(), opts.clone()).unwrap();
        let mut other = Lake::open(dir.path(), opts.clone()).unwrap();
        let mut dec = Decoder::new(Topic::Hazard);
        let raw = r#"{"event_id":"h1","event_time":"2026-03-01T00:00:00Z","uscc":"91440300708461136T","hazard_id":"H1","level":"general","found_by":"self","found_at":"2026-03-01T00:00:00Z","state":"open"}"#;
        dec.push(raw.as_bytes(), &SourceRef { topic: "hazard", ..Default::default() }, 0);
        for (table, batch) in dec.finish().unwrap() {
            other.write(table, &batch).unwrap();
        }
        other.commit().unwrap();
        // The disk as `other` leaves it dying right after its log entry:
        // the files still staged, not yet linked into place.
        let files: Vec<_> = other
            .state()
            .files
            .values()
            .map(|f| (dir.path().join(&f.path), dir.path().join(&f.staged)))
            .collect();
        assert_eq!(files.len(), 1);
        drop(other);
        for (fin, staged) in &files {
            fs::create_dir_all(staged.parent().unwrap()).unwrap();
            fs::rename(fin, staged).unwrap();
        }
        let moved: Vec<_> = files.into_iter().map(|(fin, _)| fin).collect();
        assert!(!moved[0].exists());
        opener.recover().unwrap();
        assert!(moved[0].exists(), "the commit's file is in place");
        let lake = Lake::open(dir.path(), opts).expect("every committed file is there");
        assert_eq!(lake.state().files.values().map(|f| f.rows).sum::<u64>(), 1);
    }

    #[test]
    fn statistics_are_kept_only_where_they_prune() {
        let props = writer_properties(&WriterOptions::default());
        for c in NO_STATISTICS_COLUMNS {
            assert_eq!(
                props.statistics_enabled(&ColumnPath::from(c)),
                EnabledStatistics::None,
                "{c}"
            );
        }
        for c in ["uscc", "point_id", "event_time", "_offset"] {
            assert_eq!(
                props.statistics_enabled(&ColumnPath::from(c)),
                EnabledStatistics::Page,
                "{c}"
            );
        }
    }
}
