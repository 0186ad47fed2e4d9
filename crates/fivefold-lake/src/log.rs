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

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

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
        self.version = e.version;
    }
}

/// Paths inside `<lake>/_fivefold/`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The lake root.
    pub root: PathBuf,
}

impl Layout {
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
    /// `<lake>/_fivefold/trash`: lists of files compactions replaced.
    pub fn trash(&self) -> PathBuf {
        self.meta().join("trash")
    }
    /// The log file of a version.
    pub fn entry(&self, version: u64) -> PathBuf {
        self.log_dir().join(format!("{version:020}.json"))
    }
    /// The checkpoint file of a version.
    pub fn checkpoint(&self, version: u64) -> PathBuf {
        self.log_dir().join(format!("{version:020}.checkpoint.json"))
    }
}

/// Lists the committed versions and checkpoints in the log folder.
pub(crate) fn list_log(layout: &Layout) -> Result<(Vec<u64>, Vec<u64>)> {
    let dir = layout.log_dir();
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((entries, checkpoints)),
        Err(e) => return Err(e).ctx("read directory", &dir),
    };
    for item in rd {
        let name = item.ctx("read directory", &dir)?.file_name();
        let Some(name) = name.to_str() else { continue };
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

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).ctx("read", path)?;
    parse_json(path, &bytes)
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
            let path = layout.checkpoint(v);
            let s: LakeState = read_json(&path)?;
            expect_version(&path, s.version, v)?;
            s
        }
        None => LakeState::default(),
    };
    let start = state.version;
    for v in entries.into_iter().filter(|v| *v > start) {
        let path = layout.entry(v);
        if v != state.version + 1 {
            return Err(Error::CorruptLog {
                path,
                message: format!("version {} is missing before it", state.version + 1),
            });
        }
        let e: CommitEntry = read_json(&path)?;
        expect_version(&path, e.version, v)?;
        state.apply(&e);
    }
    Ok(state)
}

/// Applies the entries committed after `state.version` (by other writers).
pub fn catch_up(layout: &Layout, state: &mut LakeState) -> Result<()> {
    loop {
        let v = state.version + 1;
        let path = layout.entry(v);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).ctx("read", &path),
        };
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

/// fsyncs a directory so that names created in it survive a power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).ctx("fsync directory", dir)
}

/// Encodes a value as pretty JSON (log files are small and read by people too).
pub fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec_pretty(v).unwrap_or_default()
}
