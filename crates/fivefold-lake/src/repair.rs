//! `fivefold lake repair`: cut a damaged commit log back to its last good
//! version.
//!
//! The log is never repaired silently: a reader or writer that meets a
//! damaged entry stops with [`Error::CorruptLog`]. This is the explicit,
//! documented way forward when the entry cannot be restored from a backup.
//! The damaged entry, every entry after it and any checkpoint that does not
//! parse are moved (not deleted) into `_fivefold/quarantine/<time>/`. The lake
//! then stands at the last good version, with that version's source positions
//! and scoring state, so a restarted pipeline consumes again from those
//! positions: with Kafka retention or the input files still there, nothing is
//! lost and nothing is doubled.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::log::{self, CommitEntry, LakeState, Layout, SourcePosition};

/// What a repair did.
#[derive(Debug, Clone, Default)]
pub struct RepairReport {
    /// The version the lake stands at afterwards.
    pub version: u64,
    /// The first damaged log file, if any was found.
    pub damaged: Option<(PathBuf, String)>,
    /// Log files moved aside.
    pub moved: Vec<PathBuf>,
    /// Where they went.
    pub quarantine: Option<PathBuf>,
    /// Source positions at the version kept (where consumption resumes).
    pub sources: Vec<(String, SourcePosition)>,
}

/// Finds the first damaged file of the log at `root` and moves it and every
/// later entry aside. A log with no damage is left untouched. Refuses while a
/// writer holds the lake.
pub fn repair(root: &Path) -> Result<RepairReport> {
    let layout = Layout::open(root)?;
    if layout.remote.is_some() {
        return Err(Error::LocalOnly { what: "lake repair", lake: root.display().to_string() });
    }
    if let Some(id) = crate::writer::live_writer(&layout)? {
        return Err(Error::Busy { writer: id });
    }
    let (entries, checkpoints) = log::list_log(&layout)?;
    let mut bad: Vec<PathBuf> = Vec::new();
    let mut damaged = None;
    // The newest checkpoint that reads back whole is the starting point.
    let mut state = LakeState::default();
    for &v in checkpoints.iter().rev() {
        let rel = layout.checkpoint(v);
        let path = layout.show(&rel);
        match log::read_json::<LakeState>(&layout, &rel)
            .and_then(|s| log::expect_version(&path, s.version, v).map(|()| s))
        {
            Ok(s) => {
                state = s;
                break;
            }
            Err(e) => {
                damaged.get_or_insert((path.clone(), message(e)));
                bad.push(path);
            }
        }
    }
    let start = state.version;
    let mut cut = false;
    for v in entries.into_iter().filter(|v| *v > start) {
        let rel = layout.entry(v);
        let path = layout.show(&rel);
        if !cut {
            let read = if v == state.version + 1 {
                log::read_json::<CommitEntry>(&layout, &rel)
                    .and_then(|e| log::expect_version(&path, e.version, v).map(|()| e))
            } else {
                Err(Error::CorruptLog {
                    path: path.clone(),
                    message: format!("version {} is missing before it", state.version + 1),
                })
            };
            match read {
                Ok(e) => {
                    state.apply(&e);
                    continue;
                }
                Err(e) => {
                    damaged.get_or_insert((path.clone(), message(e)));
                    cut = true;
                }
            }
        }
        bad.push(path);
    }
    // Checkpoints past the cut describe versions that no longer exist.
    for &v in checkpoints.iter().filter(|v| **v > state.version) {
        let path = layout.show(&layout.checkpoint(v));
        if !bad.contains(&path) {
            bad.push(path);
        }
    }
    // The state blobs the kept version needs must still be on disk.
    for s in state.state.values() {
        if layout.locate(&s.path, &s.staged).is_none() {
            return Err(Error::MissingFile { version: state.version, path: s.path.clone() });
        }
    }
    let mut report = RepairReport {
        version: state.version,
        damaged,
        sources: state.sources.iter().map(|(k, p)| (k.clone(), *p)).collect(),
        ..Default::default()
    };
    if bad.is_empty() {
        return Ok(report);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dest = layout.meta().join("quarantine").join(format!("log-{stamp}"));
    fs::create_dir_all(&dest).ctx("create directory", &dest)?;
    bad.sort();
    for p in &bad {
        let to = dest.join(p.file_name().unwrap_or_default());
        fs::rename(p, &to).ctx("move", p)?;
    }
    log::sync_dir(&layout.log_dir())?;
    report.moved = bad;
    report.quarantine = Some(dest);
    Ok(report)
}

fn message(e: Error) -> String {
    match e {
        Error::CorruptLog { message, .. } => message,
        other => other.to_string(),
    }
}
