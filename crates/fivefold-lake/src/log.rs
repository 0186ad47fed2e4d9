//! The commit log: `<lake>/_fivefold/log/<version>.json`, one file per commit.
//!
//! A commit is the unit of atomicity for everything a pipeline produces: the
//! data files it makes visible, the source positions (Kafka offsets, replay
//! file positions) those files cover, and the operator state snapshots that go
//! with them. A commit exists once its log file exists; the log file is
//! created with a hard link from a fully written temporary file, which fails
//! if the version already exists, so two writers can never both claim one.
//! Every [`CHECKPOINT_INTERVAL`] versions a checkpoint file holds the whole
//! replayed state, so opening a lake reads at most that many entries.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::store::{ObjectLake, is_object_url, scratch_dir};

/// Versions between two checkpoints.
pub const CHECKPOINT_INTERVAL: u64 = 50;

/// A data file a commit makes visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddFile {
    /// Final path, relative to the lake root: `<table>/date=YYYY-MM-DD/<name>.parquet`.
    pub path: String,
    /// Where the writer staged it, relative to the lake root; the file is
    /// linked from here to `path` after the commit is durable.
    pub staged: String,
    /// Table name.
    pub table: String,
    /// Partition date, days since 1970-01-01 (UTC).
    pub date: i64,
    /// Rows in the file.
    pub rows: u64,
    /// Bytes in the file.
    pub bytes: u64,
}

/// How far a source has been consumed: everything before this position is in
/// the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// Kafka: the next offset to read. Files: the next line (1-based) to read.
    pub next: u64,
    /// Files: the byte offset of that line, to seek to it directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
}

/// A committed operator-state blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    /// Path relative to the lake root (`_fivefold/state/<name>`).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Staged path it is linked from.
    pub staged: String,
}

/// The writer that owns a source (a Kafka partition), and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The owning writer's id.
    pub writer: String,
    /// Rises by one with every claim of the source: the ownership epoch that
    /// fences the previous owner's commits.
    pub epoch: u64,
    /// The consumer group generation whose assignment the claim follows
    /// (Kafka sources). A record of which rebalance moved the source; the
    /// epoch, not this, does the fencing, since generations are the
    /// broker's and an instance learns of a new one only when it rejoins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i32>,
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitEntry {
    /// The version (1, 2, ...).
    pub version: u64,
    /// Wall-clock time of the commit, epoch ms.
    pub committed_at_ms: i64,
    /// The writer that made it.
    pub writer: String,
    /// `append`, or `compact` for a rewrite that adds and removes the same rows.
    pub operation: String,
    /// Files made visible.
    #[serde(default)]
    pub adds: Vec<AddFile>,
    /// Paths made invisible.
    #[serde(default)]
    pub removes: Vec<String>,
    /// Source positions as of this commit (only the sources it advanced).
    #[serde(default)]
    pub sources: BTreeMap<String, SourcePosition>,
    /// Operator state as of this commit (only the keys it replaced).
    #[serde(default)]
    pub state: BTreeMap<String, StateRef>,
    /// Sources this commit claims for its writer (after a rebalance).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, Owner>,
}

/// The lake as of one version: the replay of the log up to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LakeState {
    /// The version reached.
    pub version: u64,
    /// Visible files by path.
    pub files: BTreeMap<String, AddFile>,
    /// Every source position.
    pub sources: BTreeMap<String, SourcePosition>,
    /// Every state blob.
    pub state: BTreeMap<String, StateRef>,
    /// The owner of every claimed source.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, Owner>,
    /// Wall clock of the newest commit that moved a source (new input, not
    /// a compaction or a claim), epoch ms: how fresh the lake is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_committed_at_ms: Option<i64>,
}

impl LakeState {
    /// Applies one commit.
    pub fn apply(&mut self, e: &CommitEntry) {
        for p in &e.removes {
            self.files.remove(p);
        }
        for a in &e.adds {
            self.files.insert(a.path.clone(), a.clone());
        }
        self.sources.extend(e.sources.iter().map(|(k, v)| (k.clone(), *v)));
        self.state.extend(e.state.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.owners.extend(e.owners.iter().map(|(k, v)| (k.clone(), v.clone())));
        if !e.sources.is_empty() {
            self.input_committed_at_ms = Some(e.committed_at_ms);
        }
        self.version = e.version;
    }
}

/// Where the lake's files are, and how to reach them.
///
/// For a lake in a local folder, everything is under `root`. For a lake in
/// object storage, the log, state, trash lists and data are in the bucket,
/// and `root` is the local scratch folder writers stage files in before they
/// upload them (the same `_fivefold/staging/<writer>/` layout as a local lake).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The lake root, or the local scratch folder of an object-store lake.
    pub root: PathBuf,
    /// The bucket, for a lake in object storage.
    pub remote: Option<ObjectLake>,
}

impl Layout {
    /// The layout of the lake at `root`: a folder, or `s3://bucket/prefix`.
    pub fn open(root: &Path) -> Result<Layout> {
        if !is_object_url(root) {
            return Ok(Layout { root: root.to_path_buf(), remote: None });
        }
        let url = root.to_string_lossy();
        let remote = ObjectLake::open(&url)?;
        Ok(Layout { root: scratch_dir(&remote.url()), remote: Some(remote) })
    }

    /// Where a committed file is: its final path, or its staged path when the
    /// commit that listed it was interrupted before linking it into place;
    /// `None` when neither exists.
    pub fn locate(&self, path: &str, staged: &str) -> Option<PathBuf> {
        [path, staged].into_iter().map(|p| self.root.join(p)).find(|p| p.exists())
    }

    /// `<lake>/_fivefold`.
    pub fn meta(&self) -> PathBuf {
        self.root.join("_fivefold")
    }
    /// `<lake>/_fivefold/log`.
    pub fn log_dir(&self) -> PathBuf {
        self.meta().join("log")
    }
    /// `<lake>/_fivefold/staging`.
    pub fn staging(&self) -> PathBuf {
        self.meta().join("staging")
    }
    /// The log file of a version, relative to the lake root.
    pub fn entry(&self, version: u64) -> String {
        format!("{LOG_DIR}/{version:020}.json")
    }
    /// The checkpoint file of a version, relative to the lake root.
    pub fn checkpoint(&self, version: u64) -> String {
        format!("{LOG_DIR}/{version:020}.checkpoint.json")
    }

    /// Where `rel` is, for messages: a local path or an object URL.
    pub fn show(&self, rel: &str) -> PathBuf {
        match &self.remote {
            Some(r) => PathBuf::from(format!("{}/{rel}", r.url())),
            None => self.root.join(rel),
        }
    }

    /// Reads the file at `rel`; `None` when there is none.
    pub(crate) fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        if let Some(r) = &self.remote {
            return r.read(rel);
        }
        let path = self.root.join(rel);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx("read", &path),
        }
    }

    /// The bytes of a committed file and the place they were read from: its
    /// final place or, while its commit is rolled forward, its staged one;
    /// `None` when neither holds it.
    pub(crate) fn read_committed<'a>(
        &self,
        path: &'a str,
        staged: &'a str,
    ) -> Result<Option<(&'a str, Vec<u8>)>> {
        for rel in [path, staged] {
            if let Some(bytes) = self.read(rel)? {
                return Ok(Some((rel, bytes)));
            }
        }
        Ok(None)
    }

    /// The files in the folder `dir` with their modification times (a
    /// missing folder is empty). Local folders are listed one level deep,
    /// object-store folders in full.
    pub(crate) fn list(&self, dir: &str) -> Result<Vec<(String, SystemTime)>> {
        if let Some(r) = &self.remote {
            return r.list(dir);
        }
        let path = self.root.join(dir);
        let rd = match fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).ctx("read directory", &path),
        };
        let mut out = Vec::new();
        for item in rd {
            let item = item.ctx("read directory", &path)?;
            let Some(name) = item.file_name().to_str().map(str::to_owned) else { continue };
            let modified = item.metadata().and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH);
            out.push((name, modified));
        }
        Ok(out)
    }

    /// In object storage, every staged object, as its path in the lake with
    /// its modification time: one listing tells which committed files may
    /// still be only in staging. `None` for a local lake, where
    /// [`Layout::locate`] looks each file up instead.
    pub(crate) fn remote_staged(&self) -> Result<Option<Vec<(String, SystemTime)>>> {
        let Some(r) = &self.remote else { return Ok(None) };
        let staged = r.list(STAGING_DIR)?;
        Ok(Some(staged.into_iter().map(|(n, m)| (format!("{STAGING_DIR}/{n}"), m)).collect()))
    }

    /// Creates the file `rel` holding `bytes` unless it exists (the commit
    /// point); false when it did. Locally through [`create_exclusive`] with
    /// the temporary name `tmp_name`, in a bucket by the store's conditional create.
    pub(crate) fn create(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        tmp_name: &str,
        durable: bool,
    ) -> Result<bool> {
        match &self.remote {
            Some(r) => r.create(rel, bytes),
            None => create_exclusive(&self.root.join(rel), &bytes, tmp_name, durable),
        }
    }

    /// Writes the file `rel` whole (readers see the old file or the new one).
    pub(crate) fn put(&self, rel: &str, bytes: Vec<u8>, tmp_name: &str) -> Result<()> {
        if let Some(r) = &self.remote {
            return r.put(rel, bytes);
        }
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).ctx("create directory", dir)?;
        }
        let tmp = path.with_file_name(tmp_name);
        fs::write(&tmp, bytes).ctx("write", &tmp)?;
        fs::rename(&tmp, &path).ctx("rename", &path)
    }

    /// Deletes the file `rel`; a missing one is fine.
    pub(crate) fn delete(&self, rel: &str) -> Result<()> {
        if let Some(r) = &self.remote {
            return r.delete(rel);
        }
        let path = self.root.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("remove", &path),
        }
    }
}

/// The log folder, relative to the lake root.
pub const LOG_DIR: &str = "_fivefold/log";
/// The trash lists of compactions, relative to the lake root.
pub const TRASH_DIR: &str = "_fivefold/trash";
/// Staged files (per writer), relative to the lake root.
pub const STAGING_DIR: &str = "_fivefold/staging";
/// Committed state blobs, relative to the lake root.
pub const STATE_DIR: &str = "_fivefold/state";

/// Lists the committed versions and checkpoints in the log folder.
pub(crate) fn list_log(layout: &Layout) -> Result<(Vec<u64>, Vec<u64>)> {
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    for (name, _) in layout.list(LOG_DIR)? {
        if let Some(v) = name.strip_suffix(".checkpoint.json") {
            if let Ok(v) = v.parse() {
                checkpoints.push(v);
            }
        } else if let Some(v) = name.strip_suffix(".json")
            && let Ok(v) = v.parse()
        {
            entries.push(v);
        }
    }
    entries.sort_unstable();
    checkpoints.sort_unstable();
    Ok((entries, checkpoints))
}

/// Reads and parses the log file `rel`, which must exist.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(layout: &Layout, rel: &str) -> Result<T> {
    match layout.read(rel)? {
        Some(bytes) => parse_json(&layout.show(rel), &bytes),
        None => Err(Error::CorruptLog {
            path: layout.show(rel),
            message: "it disappeared while the log was read".into(),
        }),
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::CorruptLog { path: path.to_path_buf(), message: e.to_string() })
}

/// A log file named for version `v` must hold version `v`.
pub(crate) fn expect_version(path: &Path, held: u64, v: u64) -> Result<()> {
    if held == v {
        return Ok(());
    }
    Err(Error::CorruptLog { path: path.to_path_buf(), message: format!("holds version {held}") })
}

/// Replays the log: the latest checkpoint, then every later entry in order.
/// Gaps in the version sequence and entries that disagree with their file
/// name are reported as corruption, never skipped.
pub fn replay(layout: &Layout) -> Result<LakeState> {
    let (entries, checkpoints) = list_log(layout)?;
    let mut state = match checkpoints.last() {
        Some(&v) => {
            let rel = layout.checkpoint(v);
            let s: LakeState = read_json(layout, &rel)?;
            expect_version(&layout.show(&rel), s.version, v)?;
            s
        }
        None => LakeState::default(),
    };
    let start = state.version;
    for v in entries.into_iter().filter(|v| *v > start) {
        let rel = layout.entry(v);
        if v != state.version + 1 {
            return Err(Error::CorruptLog {
                path: layout.show(&rel),
                message: format!("version {} is missing before it", state.version + 1),
            });
        }
        let e: CommitEntry = read_json(layout, &rel)?;
        expect_version(&layout.show(&rel), e.version, v)?;
        state.apply(&e);
    }
    Ok(state)
}

/// Applies the entries committed after `state.version` (by other writers).
pub fn catch_up(layout: &Layout, state: &mut LakeState) -> Result<()> {
    loop {
        let v = state.version + 1;
        let rel = layout.entry(v);
        let Some(bytes) = layout.read(&rel)? else { return Ok(()) };
        let path = layout.show(&rel);
        let e: CommitEntry = parse_json(&path, &bytes)?;
        expect_version(&path, e.version, v)?;
        state.apply(&e);
    }
}

/// Writes `bytes` to `path` durably: a temporary file, fsync, then a hard link
/// that fails if `path` exists (the conditional create), then fsync of the folder.
pub fn create_exclusive(path: &Path, bytes: &[u8], tmp_name: &str, durable: bool) -> Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(tmp_name);
    let written = fs::File::create(&tmp).ctx("create", &tmp).and_then(|mut f| {
        f.write_all(bytes).ctx("write", &tmp)?;
        if durable {
            f.sync_all().ctx("fsync", &tmp)?;
        }
        Ok(())
    });
    if let Err(e) = written {
        // A full disk: leave no partial file behind.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = match fs::hard_link(&tmp, path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e).ctx("link", path);
        }
    };
    fs::remove_file(&tmp).ctx("remove", &tmp)?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(linked)
}

/// Creates `dir` and its missing parents. With `durable`, the parent of
/// every folder created is fsynced too: a file fsynced into a new folder
/// survives a power loss only if the folder's own name does.
pub fn create_dirs(dir: &Path, durable: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // Absolute, so that every created folder has a parent to fsync (the
    // parent of a relative `lake` is the empty path).
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().ctx("read the current directory", ".")?.join(dir)
    };
    let dir = dir.as_path();
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    fs::create_dir_all(dir).ctx("create directory", dir)?;
    if durable {
        // Innermost first: each new name is made durable in its parent.
        for d in missing {
            if let Some(parent) = d.parent() {
                sync_dir(parent)?;
            }
        }
    }
    Ok(())
}

/// fsyncs a directory so that names created in it survive a power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).ctx("fsync directory", dir)
}

/// Encodes a value as pretty JSON (log files are small and read by people too).
pub fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lake given as a relative path (`--lake lake`): the folders are
    /// created and their names fsynced, the outermost one in the current
    /// directory.
    #[test]
    fn durable_folders_are_created_under_a_relative_path() {
        let top = PathBuf::from(format!(".create-dirs-test-{}", std::process::id()));
        let dir = top.join("a/b");
        let made = create_dirs(&dir, true);
        let exists = dir.is_dir();
        let _ = fs::remove_dir_all(&top);
        made.unwrap();
        assert!(exists);
    }
}
