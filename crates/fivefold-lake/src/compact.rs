//! Compaction: a partition's small files merged into fewer large ones.
//!
//! A compaction is one more commit (operation `compact`) that adds the merged
//! files and removes their sources, so a reader sees either the old files or
//! the new ones, never both and never neither. It takes no lock: live
//! writers keep appending, and if one claims a version first the compaction
//! reads that commit and retries, since appends only add new files. Only two
//! compactions of the same file conflict; the later one drops its work
//! ([`Error::Conflict`]). One commit per partition (table and date) keeps a
//! large run's progress durable.
//!
//! Removed files stay on disk for [`CompactOptions::retain`], so that a query
//! that listed them a moment before the commit can still read them; each
//! compaction commit leaves a list of them in `_fivefold/trash/`, and a later
//! run (or the same one, with a zero retention) deletes what has aged.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use fivefold_model::Table;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use crate::error::{Error, IoContext, Result};
use crate::log::{self, AddFile, CommitEntry, TRASH_DIR};
use crate::writer::{Lake, now_ms};

/// What to compact and how long to keep what it replaced.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Files smaller than this are merged, into files of about this size
    /// (compressed bytes of the inputs).
    pub target_bytes: u64,
    /// How long a replaced file stays on disk for readers that listed it.
    pub retain: Duration,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions { target_bytes: 128 << 20, retain: Duration::from_secs(3600) }
    }
}

/// Files to merge into one.
#[derive(Debug, Clone)]
struct Group {
    table: Table,
    date: i64,
    files: Vec<AddFile>,
}

/// What a compaction would merge, as of the version it was planned at.
#[derive(Debug, Clone, Default)]
pub struct CompactPlan {
    /// Groups by partition (table name, date).
    partitions: BTreeMap<(String, i64), Vec<Group>>,
}

impl CompactPlan {
    /// Input files to merge.
    pub fn input_files(&self) -> u64 {
        self.partitions.values().flatten().map(|g| g.files.len() as u64).sum()
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactReport {
    /// Commits made (one per partition compacted).
    pub commits: usize,
    /// The lake version afterwards.
    pub version: u64,
    /// Files merged.
    pub files_in: usize,
    /// Files they became.
    pub files_out: usize,
    /// Rows moved.
    pub rows: u64,
    /// Bytes of the merged files before and after.
    pub bytes_in: u64,
    /// Bytes of the files written.
    pub bytes_out: u64,
    /// Files of earlier compactions deleted now that their retention passed.
    pub deleted: usize,
}

impl Lake {
    /// Plans a compaction of the lake as it stands now: in every partition,
    /// the files smaller than the target, packed in path order into groups of
    /// at most the target size; a group of one file is left alone.
    pub fn plan_compaction(&mut self, opts: &CompactOptions) -> Result<CompactPlan> {
        self.refresh()?;
        let mut small: BTreeMap<(String, i64), Vec<AddFile>> = BTreeMap::new();
        for f in self.state().files.values().filter(|f| f.bytes < opts.target_bytes) {
            small.entry((f.table.clone(), f.date)).or_default().push(f.clone());
        }
        let mut plan = CompactPlan::default();
        for ((name, date), files) in small {
            let Some(table) = Table::from_name(&name) else { continue };
            let mut groups: Vec<Group> = Vec::new();
            let mut cur = Group { table, date, files: Vec::new() };
            let mut bytes = 0;
            for f in files {
                if !cur.files.is_empty() && bytes + f.bytes > opts.target_bytes {
                    groups.push(std::mem::replace(
                        &mut cur,
                        Group { table, date, files: Vec::new() },
                    ));
                    bytes = 0;
                }
                bytes += f.bytes;
                cur.files.push(f);
            }
            groups.push(cur);
            groups.retain(|g| g.files.len() > 1);
            if !groups.is_empty() {
                plan.partitions.insert((name, date), groups);
            }
        }
        Ok(plan)
    }

    /// Carries out `plan`: one commit per partition, then deletes the files
    /// of compactions older than `opts.retain`. `progress` is told of every
    /// input file merged.
    pub fn compact(
        &mut self,
        plan: CompactPlan,
        opts: &CompactOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<CompactReport> {
        if self.has_pending() {
            return Err(Error::Internal {
                table: "-",
                message: "compaction on a writer with uncommitted work".into(),
            });
        }
        let mut report = CompactReport::default();
        for groups in plan.partitions.into_values() {
            let started = Instant::now();
            let mut open = Vec::with_capacity(groups.len());
            let mut removes = Vec::new();
            for g in groups {
                let mut out = self.create_file(g.table, g.date)?;
                let schema = g.table.schema();
                for f in &g.files {
                    let (src, bytes) = self.read_file(f)?;
                    let rows = copy_rows(&src, bytes, &schema, &mut |b| {
                        out.writer.write(&b).map_err(|source| Error::Parquet {
                            path: self.root().join(&out.staged_rel),
                            source,
                        })
                    })?;
                    if rows != f.rows {
                        return Err(Error::Compact {
                            path: src,
                            message: format!("it holds {rows} rows, its commit says {}", f.rows),
                        });
                    }
                    out.rows += rows;
                    report.bytes_in += f.bytes;
                    removes.push(f.path.clone());
                    progress(1);
                }
                report.files_in += g.files.len();
                open.push(out);
            }
            let adds = self.close_files(open)?;
            report.files_out += adds.len();
            report.rows += adds.iter().map(|a| a.rows).sum::<u64>();
            report.bytes_out += adds.iter().map(|a| a.bytes).sum::<u64>();
            let entry = CommitEntry {
                version: self.state().version + 1,
                committed_at_ms: now_ms(),
                writer: self.writer_id().to_owned(),
                operation: "compact".into(),
                adds,
                removes,
                sources: BTreeMap::new(),
                state: BTreeMap::new(),
                owners: BTreeMap::new(),
            };
            let trash = entry.removes.clone();
            let info = self.publish(entry, started)?;
            // Losing this list (a crash right here) only leaves the replaced
            // files on disk; they are unreferenced and harmless.
            let list = format!("{TRASH_DIR}/{:020}.json", info.version);
            let tmp = format!(".tmp-{}", self.writer_id());
            self.layout().put(&list, log::to_json(&trash), &tmp)?;
            report.commits += 1;
        }
        report.deleted = self.purge_trash(opts.retain)?;
        report.version = self.state().version;
        Ok(report)
    }

    /// Where a committed file is, and (in object storage) its bytes.
    fn read_file(&self, f: &AddFile) -> Result<(PathBuf, Option<Bytes>)> {
        let missing = || Error::MissingFile { version: self.state().version, path: f.path.clone() };
        let layout = self.layout();
        if layout.remote.is_none() {
            return layout.locate(&f.path, &f.staged).map(|p| (p, None)).ok_or_else(missing);
        }
        match layout.read_committed(&f.path, &f.staged)? {
            Some((rel, bytes)) => Ok((layout.show(rel), Some(Bytes::from(bytes)))),
            None => Err(missing()),
        }
    }

    /// Deletes the files listed in trash lists older than `retain`; returns
    /// how many it deleted.
    fn purge_trash(&self, retain: Duration) -> Result<usize> {
        let layout = self.layout();
        let mut deleted = 0;
        for (name, modified) in layout.list(TRASH_DIR)? {
            if !name.ends_with(".json") || name.contains('/') {
                continue;
            }
            if !modified.elapsed().is_ok_and(|age| age >= retain) {
                continue;
            }
            let list = format!("{TRASH_DIR}/{name}");
            let Some(bytes) = layout.read(&list)? else { continue };
            let Ok(paths) = serde_json::from_slice::<Vec<String>>(&bytes) else {
                // Not written by a compaction (they put whole lists into
                // place): what it names cannot be trusted, so nothing is deleted.
                tracing::warn!(list = %layout.show(&list).display(), "Ignoring a damaged trash list.");
                continue;
            };
            for p in paths.iter().filter(|p| !self.state().files.contains_key(*p)) {
                layout.delete(p)?;
                deleted += 1;
            }
            layout.delete(&list)?;
        }
        Ok(deleted)
    }
}

/// Streams the rows of the Parquet file at `path` into `sink`, conformed to
/// the table's current schema: a column added since the file was written is
/// null, a column of another type is cast. Returns the rows read.
fn copy_rows(
    path: &Path,
    bytes: Option<Bytes>,
    schema: &SchemaRef,
    sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    let bad = |message: String| Error::Compact { path: path.to_path_buf(), message };
    fn open<T: ChunkReader + 'static>(
        input: T,
    ) -> parquet::errors::Result<ParquetRecordBatchReader> {
        ParquetRecordBatchReaderBuilder::try_new(input)?.with_batch_size(64 * 1024).build()
    }
    let reader = match bytes {
        Some(bytes) => open(bytes),
        None => open(fs::File::open(path).ctx("open", path)?),
    }
    .map_err(|source| Error::Parquet { path: path.to_path_buf(), source })?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        rows += batch.num_rows() as u64;
        sink(conform(batch, schema).map_err(bad)?)?;
    }
    Ok(rows)
}

fn conform(batch: RecordBatch, schema: &SchemaRef) -> std::result::Result<RecordBatch, String> {
    if batch.schema().fields() == schema.fields() {
        return RecordBatch::try_new(Arc::clone(schema), batch.columns().to_vec())
            .map_err(|e| e.to_string());
    }
    let n = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(Arc::clone(c)),
            Some(c) => cast(c, f.data_type())
                .map_err(|e| format!("column `{}` does not convert: {e}", f.name())),
            None if f.is_nullable() => Ok(new_null_array(f.data_type(), n)),
            None => Err(format!("required column `{}` is missing", f.name())),
        })
        .collect::<std::result::Result<Vec<ArrayRef>, String>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fivefold_model::{Decoder, SourceRef, Topic};

    fn hazard() -> RecordBatch {
        let mut dec = Decoder::new(Topic::Hazard);
        let raw = r#"{"event_id":"h1","event_time":"2026-03-01T00:00:00Z","uscc":"91440300708461136T","hazard_id":"H1","level":"general","found_by":"self","found_at":"2026-03-01T00:00:00Z","state":"open"}"#;
        let src = SourceRef { topic: "hazard", line: Some(1), ..Default::default() };
        dec.push(raw.as_bytes(), &src, 0);
        dec.finish().unwrap().remove(0).1
    }

    /// The batch without the named column, as a file written before it existed.
    fn without(b: &RecordBatch, name: &str) -> RecordBatch {
        let keep: Vec<usize> =
            (0..b.num_columns()).filter(|&i| b.schema().field(i).name() != name).collect();
        b.project(&keep).unwrap()
    }

    #[test]
    fn an_added_optional_column_reads_as_null_and_a_missing_required_one_is_named() {
        let schema = Table::Hazard.schema();
        let b = hazard();
        let optional = schema.fields().iter().find(|f| f.is_nullable()).unwrap().name().clone();
        let old = without(&b, &optional);
        let c = conform(old, &schema).unwrap();
        assert_eq!(c.schema().fields(), schema.fields());
        assert_eq!(c.column_by_name(&optional).unwrap().null_count(), 1);
        assert_eq!(c.column_by_name("event_id"), b.column_by_name("event_id"));
        let required = schema.fields().iter().find(|f| !f.is_nullable()).unwrap().name().clone();
        let err = conform(without(&b, &required), &schema).unwrap_err();
        assert_eq!(err, format!("required column `{required}` is missing"));
    }
}
