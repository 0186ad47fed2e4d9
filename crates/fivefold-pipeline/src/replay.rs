//! `fivefold replay`: the pipeline over files.
//!
//! Reads `<topic>.jsonl` (or `.jsonl.gz`) for each of the five topics, always
//! from the file that is furthest behind in event time, validates each record
//! into Arrow batches and writes them to the lake. The position of every file
//! (line and byte offset) is committed with the data it produced, so a replay
//! killed at any moment and started again over the same input resumes exactly
//! where the last commit stood: every record lands once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::compute::max;
use arrow::datatypes::TimestampMillisecondType;
use fivefold_lake::{Lake, SourcePosition, now_ms};
use fivefold_model::decode::MAX_RECORD_BYTES;
use fivefold_model::{Decoder, ErrorClass, Outcome, SourceRef, Table, Topic, metric};
use fivefold_score::{RiskModel, Scorer};

use crate::error::{Error, Result};

/// Lines longer than this are not held in memory whole: the first part is kept
/// for the dead letter and the rest is skipped.
const MAX_LINE_BYTES: usize = 4 * MAX_RECORD_BYTES;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The risk model to score with (`None`: validate and store only).
    pub model: Option<RiskModel>,
    /// Records read from one file before switching files.
    pub batch_rows: usize,
    /// Commit when this many rows are pending.
    pub commit_rows: u64,
    /// Commit at least this often.
    pub commit_interval: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            model: None,
            batch_rows: 8192,
            commit_rows: 2_000_000,
            commit_interval: Duration::from_secs(30),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Records read in this run (lines resumed past are not counted).
    pub records: u64,
    /// Accepted rows per table.
    pub accepted: BTreeMap<Table, u64>,
    /// Rejected records per class.
    pub rejected: BTreeMap<ErrorClass, u64>,
    /// Commits made.
    pub commits: u64,
    /// Input files found, by topic.
    pub files: Vec<String>,
}

/// Progress, reported after every chunk.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Input bytes consumed so far (including bytes resumed past).
    pub bytes: u64,
    /// Total input bytes (compressed size for `.gz` files, so approximate).
    pub total_bytes: u64,
    /// Records read in this run.
    pub records: u64,
}

/// The source key under which a topic's file position is committed.
pub fn source_key(topic: Topic) -> String {
    format!("file:{}", topic.name())
}

struct FileSource {
    topic: Topic,
    name: String,
    path: PathBuf,
    reader: Box<dyn BufRead>,
    next_line: u64,
    byte_offset: u64,
    done: bool,
    last_event_ms: i64,
    decoder: Decoder,
}

fn open_sources(input: &Path, lake: &Lake) -> Result<Vec<FileSource>> {
    let mut out = Vec::new();
    for topic in Topic::ALL {
        let plain = input.join(format!("{}.jsonl", topic.name()));
        let gz = input.join(format!("{}.jsonl.gz", topic.name()));
        let (path, compressed) = if plain.exists() {
            (plain, false)
        } else if gz.exists() {
            (gz, true)
        } else {
            continue;
        };
        let file = File::open(&path).map_err(|source| Error::Input {
            op: "open",
            path: path.clone(),
            source,
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let pos = lake.state().sources.get(&source_key(topic)).copied();
        let (next_line, byte_offset) = pos.map_or((1, 0), |p| (p.next, p.byte_offset.unwrap_or(0)));
        let reader: Box<dyn BufRead> = if compressed {
            let mut r = BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file));
            let skipped = std::io::copy(&mut (&mut r).take(byte_offset), &mut std::io::sink())
                .map_err(|source| Error::Input { op: "read", path: path.clone(), source })?;
            if skipped != byte_offset {
                return Err(mismatch(&path, byte_offset, skipped));
            }
            Box::new(r)
        } else {
            if byte_offset > len {
                return Err(mismatch(&path, byte_offset, len));
            }
            let mut file = file;
            file.seek(SeekFrom::Start(byte_offset)).map_err(|source| Error::Input {
                op: "seek",
                path: path.clone(),
                source,
            })?;
            Box::new(BufReader::with_capacity(1 << 20, file))
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        out.push(FileSource {
            topic,
            name,
            path,
            reader,
            next_line,
            byte_offset,
            done: false,
            last_event_ms: i64::MIN,
            decoder: Decoder::new(topic),
        });
    }
    Ok(out)
}

fn mismatch(path: &Path, wanted: u64, have: u64) -> Error {
    Error::InputMismatch {
        path: path.to_path_buf(),
        message: format!(
            "the lake has consumed {wanted} bytes of it but it holds {have}; \
             replay the same input, or use a new lake"
        ),
    }
}

/// Reads one line into `buf` (without the newline), keeping at most `cap`
/// bytes. Returns the bytes consumed (0 at the end) and the line's full length.
fn read_line_capped(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, usize)> {
    buf.clear();
    let mut consumed = 0;
    let mut len = 0;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok((consumed, len));
        }
        let (chunk, found) = match memchr(avail) {
            Some(i) => (&avail[..i], true),
            None => (avail, false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        len += chunk.len();
        let used = chunk.len() + usize::from(found);
        consumed += used;
        r.consume(used);
        if found {
            return Ok((consumed, len));
        }
    }
}

/// The first newline (SIMD search: this runs over every byte of the input).
fn memchr(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// Replays the files of `input` into `lake`, resuming from the positions the
/// lake has committed for them, and commits at the end.
pub fn replay(
    input: &Path,
    lake: &mut Lake,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ReplaySummary> {
    let mut sources = open_sources(input, lake)?;
    let mut summary = ReplaySummary {
        files: sources.iter().map(|s| s.name.clone()).collect(),
        ..Default::default()
    };
    let total_bytes: u64 =
        sources.iter().map(|s| std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0)).sum();
    // Replay is shard 0 of the scorer; each file is one source of event time.
    let mut scorer = match &opts.model {
        Some(m) => Some(Scorer::new(m.clone())?),
        None => None,
    };
    if let Some(sc) = scorer.as_mut() {
        if let Some(bytes) = lake.read_state(&Scorer::state_key(REPLAY_SHARD))? {
            sc.restore(REPLAY_SHARD, &bytes)?;
        }
        for s in &sources {
            sc.register_source(REPLAY_SHARD, &source_key(s.topic));
        }
    }
    // The order files are read in is part of the state, so that a resumed
    // replay interleaves them exactly as an uninterrupted one would.
    if let Some(bytes) = lake.read_state(ORDER_KEY)? {
        let order: BTreeMap<String, i64> = serde_json::from_slice(&bytes).unwrap_or_default();
        for s in &mut sources {
            if let Some(t) = order.get(&source_key(s.topic)) {
                s.last_event_ms = *t;
            }
        }
    }
    // Whether the lake's last commit closed every window (the end of a
    // replay). A lake from before this key was kept counts as closed.
    let mut closed = lake.read_state(CLOSED_KEY)?.is_none_or(|b| b == b"true");
    let mut last_commit = Instant::now();
    let mut line = Vec::with_capacity(64 * 1024);
    // The file furthest behind in event time goes next.
    while let Some(src) = sources.iter_mut().filter(|s| !s.done).min_by_key(|s| s.last_event_ms) {
        read_chunk(src, &mut line, opts.batch_rows, &mut summary)?;
        let key = source_key(src.topic);
        for (table, batch) in src.decoder.finish().map_err(Error::Arrow)? {
            if table != Table::DeadLetters
                && let Some(m) = batch
                    .column_by_name("event_time")
                    .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
                    .and_then(max)
            {
                src.last_event_ms = src.last_event_ms.max(m);
            }
            if let Some(sc) = scorer.as_mut() {
                sc.process(REPLAY_SHARD, &key, table, &batch)?;
            }
            lake.write(table, &batch)?;
        }
        if let Some(sc) = scorer.as_mut() {
            if src.done {
                sc.finish_source(REPLAY_SHARD, &key);
            }
            sc.advance(REPLAY_SHARD, None);
            write_output(sc, lake)?;
        }
        progress(Progress {
            bytes: sources.iter().map(|s| s.byte_offset).sum(),
            total_bytes,
            records: summary.records,
        });
        if lake.pending_rows() >= opts.commit_rows || last_commit.elapsed() >= opts.commit_interval
        {
            closed &= summary.records == 0;
            commit(lake, &sources, scorer.as_ref(), closed, &mut summary)?;
            last_commit = Instant::now();
        }
    }
    // End of input: close every window. Only when this run read something or
    // the run before it stopped short of this (killed after committing its
    // last records), so that replaying a finished input again changes nothing.
    if let Some(sc) = scorer.as_mut()
        && (summary.records > 0 || !closed)
    {
        sc.flush(REPLAY_SHARD);
        write_output(sc, lake)?;
        closed = true;
    }
    commit(lake, &sources, scorer.as_ref(), closed, &mut summary)?;
    Ok(summary)
}

/// The scorer shard of a replay.
const REPLAY_SHARD: i32 = 0;
/// State key of the replay's file order.
const ORDER_KEY: &str = "replay/order";
/// State key: `true` when the commit closed every window, `false` when more
/// was read since.
const CLOSED_KEY: &str = "replay/closed";

fn write_output(sc: &mut Scorer, lake: &mut Lake) -> Result<()> {
    for (table, batch) in sc.take_output(now_ms())? {
        lake.write(table, &batch)?;
    }
    Ok(())
}

fn read_chunk(
    src: &mut FileSource,
    line: &mut Vec<u8>,
    batch_rows: usize,
    summary: &mut ReplaySummary,
) -> Result<()> {
    let seen_at = now_ms();
    let mut chunk = Chunk::default();
    while chunk.records < batch_rows as u64 {
        // A line that lies whole in the reader's buffer (nearly every one) is
        // validated where it lies; a line that spans the buffer's end is
        // gathered into `line` first.
        let avail = src.reader.fill_buf().map_err(|source| Error::Input {
            op: "read",
            path: src.path.clone(),
            source,
        })?;
        if let Some(i) = memchr(avail) {
            let line_no = src.next_line;
            let (raw, consumed) = (&avail[..i], i + 1);
            src.next_line += 1;
            src.byte_offset += consumed as u64;
            let pushed =
                push_line(src.topic, &src.name, &mut src.decoder, raw, raw.len(), line_no, seen_at);
            src.reader.consume(consumed);
            chunk.count(pushed, summary);
            continue;
        }
        let (consumed, len) = read_line_capped(&mut src.reader, line, MAX_LINE_BYTES)
            .map_err(|source| Error::Input { op: "read", path: src.path.clone(), source })?;
        if consumed == 0 {
            src.done = true;
            break;
        }
        let line_no = src.next_line;
        src.next_line += 1;
        src.byte_offset += consumed as u64;
        let pushed = push_line(src.topic, &src.name, &mut src.decoder, line, len, line_no, seen_at);
        chunk.count(pushed, summary);
    }
    let Chunk { records, bytes, rejected } = chunk;
    summary.records += records;
    let topic = src.topic.name();
    metrics::counter!(metric::RECORDS_RECEIVED_TOTAL, "topic" => topic).increment(records);
    metrics::counter!(metric::BYTES_RECEIVED_TOTAL, "topic" => topic).increment(bytes);
    metrics::histogram!(metric::BATCH_ROWS, "topic" => topic).record(records as f64);
    for (class, n) in rejected {
        metrics::counter!(metric::DEAD_LETTERS_TOTAL, "reason" => class.as_str()).increment(n);
        *summary.rejected.entry(class).or_default() += n;
    }
    Ok(())
}

/// Validates one line (without its newline; `len` is its full length when
/// it was cut at `MAX_LINE_BYTES`). Blank lines carry no record: `None`.
fn push_line(
    topic: Topic,
    file: &str,
    decoder: &mut Decoder,
    mut raw: &[u8],
    mut len: usize,
    line_no: u64,
    seen_at: i64,
) -> Option<(usize, Outcome)> {
    if let Some(stripped) = raw.strip_suffix(b"\r") {
        if len == raw.len() {
            len -= 1;
        }
        raw = stripped;
    }
    if len == raw.len() && raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let sref = SourceRef {
        topic: topic.name(),
        file: Some(file),
        line: Some(line_no as i64),
        ..Default::default()
    };
    let outcome = if len > raw.len() {
        decoder.push_too_large(raw, len, &sref, seen_at)
    } else {
        decoder.push(raw, &sref, seen_at)
    };
    Some((len, outcome))
}

/// What one chunk of a file held.
#[derive(Default)]
struct Chunk {
    records: u64,
    bytes: u64,
    rejected: BTreeMap<ErrorClass, u64>,
}

impl Chunk {
    /// Counts what [`push_line`] did with one line.
    fn count(&mut self, pushed: Option<(usize, Outcome)>, summary: &mut ReplaySummary) {
        let Some((len, outcome)) = pushed else { return };
        self.records += 1;
        self.bytes += len as u64;
        match outcome {
            Outcome::Accepted(t) => *summary.accepted.entry(t).or_default() += 1,
            Outcome::Rejected(r) => *self.rejected.entry(r.class).or_default() += 1,
        }
    }
}

fn commit(
    lake: &mut Lake,
    sources: &[FileSource],
    scorer: Option<&Scorer>,
    closed: bool,
    summary: &mut ReplaySummary,
) -> Result<()> {
    for s in sources {
        lake.set_position(
            source_key(s.topic),
            SourcePosition { next: s.next_line, byte_offset: Some(s.byte_offset) },
        );
    }
    if let Some(sc) = scorer {
        if let Some(state) = sc.snapshot(REPLAY_SHARD) {
            lake.put_state(&Scorer::state_key(REPLAY_SHARD), &state)?;
        }
        let order: BTreeMap<String, i64> =
            sources.iter().map(|s| (source_key(s.topic), s.last_event_ms)).collect();
        lake.put_state(ORDER_KEY, &serde_json::to_vec(&order).unwrap_or_default())?;
        lake.put_state(CLOSED_KEY, if closed { b"true" } else { b"false" })?;
    }
    if let Some(info) = lake.commit()? {
        summary.commits += 1;
        tracing::info!(
            version = info.version,
            files = info.files,
            rows = info.rows,
            seconds = info.seconds,
            "Committed."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use fivefold_lake::WriterOptions;

    use super::*;

    /// Lines that cross the reader's buffer, CRLF endings, blank lines and a
    /// line too long to hold: every record is counted once, blank lines not
    /// at all, and the committed position is the end of the file.
    #[test]
    fn every_line_of_a_file_is_read_once_wherever_it_falls() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        let path = input.join("monitoring.jsonl");
        let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
        let good = 20_000;
        let mut lines = 0u64;
        for i in 0..good {
            // Readings of varying length, so that line ends fall everywhere.
            let pad = "x".repeat(i % 97);
            write!(
                f,
                "{{\"event_time\":\"2026-03-02T00:00:{:02}.{:03}+08:00\",\"uscc\":\"91320582E54PCPJJGD\",\
                 \"record_type\":\"reading\",\"point_id\":\"P{pad}\",\"value\":{i},\"quality\":\"good\"}}\r\n",
                i % 60,
                i % 1000
            )
            .unwrap();
            lines += 1;
            if i == 7_000 {
                f.write_all(b"\r\n   \n{bad\n").unwrap();
                lines += 3;
                let long = vec![b' '; 5 * MAX_RECORD_BYTES];
                f.write_all(&long).unwrap();
                f.write_all(b"x\n").unwrap();
                lines += 1;
            }
        }
        f.flush().unwrap();
        drop(f);
        let size = std::fs::metadata(&path).unwrap().len();

        let mut lake = Lake::open(
            dir.path().join("lake"),
            WriterOptions { durable: false, ..Default::default() },
        )
        .unwrap();
        let summary = replay(&input, &mut lake, &ReplayOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(summary.records, good as u64 + 2);
        assert_eq!(summary.accepted.get(&Table::MonitoringReading), Some(&(good as u64)));
        assert_eq!(summary.rejected.get(&ErrorClass::NotJson), Some(&1));
        assert_eq!(summary.rejected.get(&ErrorClass::TooLarge), Some(&1));
        let pos = lake.state().sources.get(&source_key(Topic::Monitoring)).copied().unwrap();
        assert_eq!((pos.next, pos.byte_offset), (lines + 1, Some(size)));
    }

    /// Copies a directory tree (a lake, as a kill would leave it on disk).
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }

    fn score_rows(lake: &Lake) -> u64 {
        lake.state().files.values().filter(|f| f.table == "risk_scores").map(|f| f.rows).sum()
    }

    /// A replay killed after committing its last records, before closing
    /// its last windows: the resumed replay reads nothing new and still
    /// closes them, as the uninterrupted replay did.
    #[test]
    fn a_replay_stopped_before_its_last_windows_closed_closes_them_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        let uscc = "91320582E54PCPJJGD";
        let t0 = 1_772_323_200_000i64; // 2026-03-01T00:00:00Z
        std::fs::write(
            input.join("enterprise.jsonl"),
            format!(
                "{{\"event_id\":\"e1\",\"event_time\":{t0},\"uscc\":\"{uscc}\",\"region_code\":\"320582001000\",\
                 \"name\":\"x\",\"industry\":\"commercial\",\"major_hazard_level\":0,\"major_hazard_units\":0,\
                 \"hazardous_processes\":0,\"standardization_grade\":0,\"own_rescue_team\":false,\
                 \"employees\":5,\"status\":\"operating\"}}\n"
            ),
        )
        .unwrap();
        // Two chunks exactly: the last read finds the end with nothing in it,
        // after the chunk before it was committed.
        let batch_rows = 1000;
        let mut readings = String::new();
        for i in 0..2 * batch_rows as i64 {
            readings.push_str(&format!(
                "{{\"event_time\":{},\"uscc\":\"{uscc}\",\"record_type\":\"reading\",\"point_id\":\"P1\",\"value\":4}}\n",
                t0 + i * 60_000
            ));
        }
        std::fs::write(input.join("monitoring.jsonl"), readings).unwrap();
        let opts = ReplayOptions {
            model: Some(
                RiskModel::from_toml(fivefold_score::config::DEFAULT_MODEL_TOML, "test").unwrap(),
            ),
            batch_rows,
            commit_rows: 1,
            commit_interval: Duration::from_secs(3600),
        };
        let open = |p: &Path| {
            Lake::open(p, WriterOptions { durable: false, ..Default::default() }).unwrap()
        };
        let (whole, stopped) = (dir.path().join("whole"), dir.path().join("stopped"));
        let mut lake = open(&whole);
        let total = 2 * batch_rows as u64 + 1;
        replay(&input, &mut lake, &opts, &mut |p| {
            if p.records == total && p.bytes == p.total_bytes {
                // The disk as a kill here would leave it; the last such moment wins.
                let _ = std::fs::remove_dir_all(&stopped);
                copy_tree(&whole, &stopped);
            }
        })
        .unwrap();
        let expected = score_rows(&lake);

        let mut lake = open(&stopped);
        assert!(score_rows(&lake) < expected, "the copy stopped short of the last windows");
        let summary = replay(&input, &mut lake, &opts, &mut |_| {}).unwrap();
        assert_eq!(summary.records, 0, "nothing is read again");
        assert_eq!(score_rows(&lake), expected);
        // And a finished replay run again adds nothing.
        replay(&input, &mut lake, &opts, &mut |_| {}).unwrap();
        assert_eq!(score_rows(&lake), expected);
    }
}
