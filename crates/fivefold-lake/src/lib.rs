//! The Fivefold lake: Parquet files per table and date, made visible by an
//! atomic commit log that also carries source positions and operator state.
//!
//! Layout: `<lake>/<table>/date=YYYY-MM-DD/<file>.parquet` for data, and
//! `<lake>/_fivefold/` for everything else (the log, staged files, state).
//! Writers use [`Lake`]: [`Lake::write`] batches, [`Lake::set_position`] and
//! [`Lake::put_state`], then [`Lake::commit`]. Readers use [`read_snapshot`],
//! which lists committed files only.
//!
//! ```no_run
//! # fn main() -> fivefold_lake::Result<()> {
//! let mut lake = fivefold_lake::Lake::open("/tmp/lake", Default::default())?;
//! lake.set_position("file:hazard.jsonl", fivefold_lake::SourcePosition { next: 1, byte_offset: Some(0) });
//! lake.commit()?;
//! let snap = fivefold_lake::read_snapshot(std::path::Path::new("/tmp/lake"))?;
//! assert_eq!(snap.version, 1);
//! # Ok(()) }
//! ```

mod compact;
mod error;
pub mod log;
mod metrics;
mod repair;
pub mod snapshot;
mod store;
mod writer;

use std::path::{Path, PathBuf};

pub use compact::{CompactOptions, CompactPlan, CompactReport};
pub use error::{Error, Result};
pub use log::{LakeState, SourcePosition};
pub use repair::{RepairReport, repair};
pub use snapshot::{LakeFile, Snapshot};
pub use store::{ObjectLake, is_object_url};
pub use writer::{CommitInfo, Lake, WriterOptions, ZSTD_LEVELS, now_ms};

/// Reads the committed files of the lake at `root`, a folder or
/// `s3://bucket/prefix` (no writes, no locks).
///
/// A file of the newest commit that its writer has not yet linked into the
/// table folder is read from its staged place, so a reader never sees half a
/// commit. An empty or missing lake is an empty snapshot.
pub fn read_snapshot(root: &Path) -> Result<Snapshot> {
    let layout = log::Layout::open(root)?;
    let state = log::replay(&layout)?;
    let mut files = Vec::with_capacity(state.files.len());
    // In object storage, one listing of the staging folder tells which files
    // may not be in place yet; only those are looked up one by one.
    let staged: Option<std::collections::HashSet<String>> =
        layout.remote_staged()?.map(|s| s.into_iter().map(|(path, _)| path).collect());
    for f in state.files.values() {
        let location = match (&layout.remote, &staged) {
            (Some(r), Some(staged)) => {
                let rel = if staged.contains(&f.staged) && !r.exists(&f.path)? {
                    &f.staged
                } else {
                    &f.path
                };
                PathBuf::from(r.object_path(rel))
            }
            _ => {
                let Some(location) = layout.locate(&f.path, &f.staged) else {
                    return Err(Error::MissingFile {
                        version: state.version,
                        path: f.path.clone(),
                    });
                };
                std::path::absolute(&location).unwrap_or(location)
            }
        };
        files.push(LakeFile {
            table: f.table.clone(),
            date: f.date,
            location,
            rows: f.rows,
            bytes: f.bytes,
        });
    }
    files.sort_by(|a, b| (&a.table, a.date, &a.location).cmp(&(&b.table, b.date, &b.location)));
    Ok(Snapshot {
        version: state.version,
        files,
        store: layout.remote,
        input_committed_at_ms: state.input_committed_at_ms,
    })
}
