//! The lake's commit protocol: visibility, crash recovery, positions, state.

use std::fs;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use fivefold_lake::{CompactOptions, Error, Lake, SourcePosition, WriterOptions, read_snapshot};
use fivefold_model::{Decoder, SourceRef, Table, Topic};
use std::time::Duration;

fn hazard_batch(times: &[&str]) -> RecordBatch {
    hazards_from(0, times)
}

/// Hazard rows with event ids `h<first>`, `h<first + 1>`, ...
fn hazards_from(first: usize, times: &[&str]) -> RecordBatch {
    let mut dec = Decoder::new(Topic::Hazard);
    for (i, t) in times.iter().enumerate() {
        let i = first + i;
        let raw = format!(
            r#"{{"event_id":"h{i}","event_time":"{t}","uscc":"91440300708461136T","hazard_id":"H{i}","level":"general","found_by":"self","found_at":"{t}","state":"open"}}"#
        );
        let src = SourceRef { topic: "hazard", line: Some(i as i64 + 1), ..Default::default() };
        dec.push(raw.as_bytes(), &src, 0);
    }
    let mut out = dec.finish().unwrap();
    assert_eq!(out.len(), 1, "all rows valid");
    out.remove(0).1
}

fn opts() -> WriterOptions {
    WriterOptions { durable: false, ..Default::default() }
}

/// True when no writer's staging folder holds a file.
fn staging_is_empty(root: &Path) -> bool {
    fs::read_dir(root.join("_fivefold/staging"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .all(|d| fs::read_dir(d).unwrap().next().is_none())
}

#[test]
fn commit_makes_files_visible_split_by_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    let b = hazard_batch(&[
        "2026-03-01T23:00:00Z",
        "2026-03-02T01:00:00Z",
        "2026-03-02T02:00:00+08:00",
    ]);
    lake.write(Table::Hazard, &b).unwrap();
    let before = read_snapshot(dir.path()).unwrap();
    assert_eq!(before.files.len(), 0, "nothing visible before commit");
    assert_eq!(before.input_committed_at_ms, None);
    lake.set_position("file:hazard.jsonl", SourcePosition { next: 4, byte_offset: Some(900) });
    let info = lake.commit().unwrap().unwrap();
    assert_eq!((info.version, info.files, info.rows), (1, 2, 3));
    let snap = read_snapshot(dir.path()).unwrap();
    let dates: Vec<(i64, u64)> = snap.files.iter().map(|f| (f.date, f.rows)).collect();
    // 2026-03-01 is day 20513; 02:00+08:00 on the 2nd is 18:00Z on the 1st.
    assert_eq!(dates, vec![(20513, 2), (20514, 1)]);
    for f in &snap.files {
        assert!(
            f.location.to_string_lossy().contains("/hazard/date=2026-03-0"),
            "{:?}",
            f.location
        );
        assert!(f.location.exists());
    }
    assert_eq!(lake.state().sources["file:hazard.jsonl"].next, 4);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = snap.input_committed_at_ms.expect("the commit moved a source");
    assert!((0..60_000).contains(&(now.as_millis() as i64 - at)), "{at}");
    assert!(lake.commit().unwrap().is_none(), "an empty commit is skipped");
}

#[test]
fn uncommitted_work_vanishes_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut lake = Lake::open(dir.path(), opts()).unwrap();
        lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
        lake.commit().unwrap();
        lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
        lake.put_state("scoring/p0", b"abc").unwrap();
        // Dropped without commit: as if killed.
    }
    let lake = Lake::open(dir.path(), opts()).unwrap();
    assert!(staging_is_empty(dir.path()));
    assert_eq!(lake.state().version, 1);
    assert_eq!(lake.read_state("scoring/p0").unwrap(), None);
    let snap = read_snapshot(dir.path()).unwrap();
    assert_eq!(snap.files.iter().map(|f| f.rows).sum::<u64>(), 1);
}

#[test]
fn a_commit_interrupted_before_linking_is_rolled_forward() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    lake.put_state("scoring/p0", b"state-1").unwrap();
    lake.commit().unwrap();
    // Recreate the disk as a process that died right after writing the log
    // entry leaves it: files still staged, not yet linked into place.
    let mut moved = Vec::new();
    let st = lake.state();
    for (fin, staged) in st
        .files
        .values()
        .map(|f| (&f.path, &f.staged))
        .chain(st.state.values().map(|s| (&s.path, &s.staged)))
    {
        moved.push((dir.path().join(fin), dir.path().join(staged)));
    }
    drop(lake);
    for (fin, staged) in &moved {
        fs::create_dir_all(staged.parent().unwrap()).unwrap();
        fs::rename(fin, staged).unwrap();
    }
    let fin = moved[0].0.clone();
    // A reader still sees the whole commit, from the staged file.
    let snap = read_snapshot(dir.path()).unwrap();
    assert!(snap.files[0].location.to_string_lossy().contains("_fivefold/staging"));
    // The next writer links it into place.
    let lake = Lake::open(dir.path(), opts()).unwrap();
    assert!(fin.exists());
    assert_eq!(lake.read_state("scoring/p0").unwrap().as_deref(), Some(&b"state-1"[..]));
    assert!(staging_is_empty(dir.path()));
}

#[test]
fn state_blobs_are_replaced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    lake.put_state("k", b"one").unwrap();
    lake.commit().unwrap();
    let first = dir.path().join(&lake.state().state["k"].path);
    lake.put_state("k", b"two").unwrap();
    assert_eq!(lake.read_state("k").unwrap().as_deref(), Some(&b"one"[..]));
    lake.commit().unwrap();
    assert_eq!(lake.read_state("k").unwrap().as_deref(), Some(&b"two"[..]));
    // Kept for a few commits (so that a damaged log tail can be rolled back),
    // then deleted.
    assert!(first.exists(), "the replaced blob outlives its version a while");
    for _ in 0..8 {
        lake.put_state("k", b"more").unwrap();
        lake.commit().unwrap();
    }
    assert!(!first.exists(), "the replaced blob is deleted eight commits later");
}

#[test]
fn repair_moves_a_damaged_tail_aside_and_the_lake_resumes_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    for i in 1..=4u64 {
        lake.set_position("kafka:hazard:0", SourcePosition { next: i * 10, byte_offset: None });
        lake.put_state("shard-0", format!("state {i}").as_bytes()).unwrap();
        lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
        lake.commit().unwrap();
    }
    drop(lake);
    let log = dir.path().join("_fivefold/log");
    let third = log.join("00000000000000000003.json");
    let bytes = fs::read(&third).unwrap();
    fs::write(&third, &bytes[..bytes.len() / 2]).unwrap();
    let err = Lake::open(dir.path(), opts()).err().unwrap();
    assert!(err.to_string().contains("fivefold lake repair --lake"), "{err}");

    let report = fivefold_lake::repair(dir.path()).unwrap();
    assert_eq!(report.version, 2);
    assert!(report.damaged.as_ref().unwrap().0.ends_with("00000000000000000003.json"));
    assert_eq!(report.moved.len(), 2, "entries 3 and 4: {:?}", report.moved);
    assert_eq!(
        report.sources,
        vec![("kafka:hazard:0".to_owned(), SourcePosition { next: 20, byte_offset: None })]
    );
    assert!(report.quarantine.unwrap().join("00000000000000000004.json").exists());

    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    assert_eq!(lake.state().version, 2);
    assert_eq!(lake.read_state("shard-0").unwrap().as_deref(), Some(&b"state 2"[..]));
    assert_eq!(read_snapshot(dir.path()).unwrap().files.len(), 2);
    lake.set_position("kafka:hazard:0", SourcePosition { next: 30, byte_offset: None });
    assert_eq!(lake.commit().unwrap().unwrap().version, 3);
    // A second repair finds nothing to do; a held lake is refused.
    let err = fivefold_lake::repair(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    drop(lake);
    assert!(fivefold_lake::repair(dir.path()).unwrap().moved.is_empty());
}

#[test]
fn checkpoints_and_log_replay_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    for i in 0..120u64 {
        lake.set_position("kafka:hazard:0", SourcePosition { next: i, byte_offset: None });
        if i % 10 == 0 {
            lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
        }
        lake.commit().unwrap();
    }
    let expected = lake.state().clone();
    drop(lake);
    assert!(dir.path().join("_fivefold/log/00000000000000000100.checkpoint.json").exists());
    let lake = Lake::open(dir.path(), opts()).unwrap();
    assert_eq!(lake.state(), &expected);
    assert_eq!(read_snapshot(dir.path()).unwrap().files.len(), 12);
}

#[test]
fn damaged_or_gapped_logs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    for i in 0..3 {
        lake.set_position("s", SourcePosition { next: i, byte_offset: None });
        lake.commit().unwrap();
    }
    drop(lake);
    let log = dir.path().join("_fivefold/log");
    fs::write(log.join("00000000000000000002.json"), b"{\"version\": 2, trunc").unwrap();
    let err = Lake::open(dir.path(), opts()).err().unwrap();
    assert!(matches!(err, Error::CorruptLog { .. }), "{err}");
    assert!(err.to_string().contains("00000000000000000002.json"), "{err}");
    fs::remove_file(log.join("00000000000000000002.json")).unwrap();
    let err = read_snapshot(dir.path()).unwrap_err();
    assert!(err.to_string().contains("version 2 is missing before it"), "{err}");
}

#[test]
fn two_writers_share_a_lake_and_a_stale_owner_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Lake::open(dir.path(), opts()).unwrap();
    let mut b = Lake::open(dir.path(), opts()).unwrap();
    let pos = |n| SourcePosition { next: n, byte_offset: None };
    a.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    a.set_position("kafka:hazard:0", pos(10));
    assert_eq!(a.commit().unwrap().unwrap().version, 1);
    // b has not seen version 1; its commit of another partition retries as 2.
    b.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    b.set_position("kafka:hazard:1", pos(20));
    assert_eq!(b.commit().unwrap().unwrap().version, 2);
    // b believes it still owns partition 0 at its old position, but a has
    // moved it: b's commit is refused and its files never become visible.
    let mut c = Lake::open(dir.path(), opts()).unwrap();
    c.set_position("kafka:hazard:0", pos(5));
    a.set_position("kafka:hazard:0", pos(30));
    a.commit().unwrap();
    c.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    let err = c.commit().unwrap_err();
    assert!(matches!(&err, Error::Fenced { sources } if sources == &["kafka:hazard:0"]), "{err}");
    let snap = read_snapshot(dir.path()).unwrap();
    assert_eq!(snap.version, 3);
    assert_eq!(snap.files.iter().map(|f| f.rows).sum::<u64>(), 2);
    b.refresh().unwrap();
    assert_eq!(b.state().sources["kafka:hazard:0"].next, 30);
}

/// What `fivefold run` relies on: every commit carries the position of every
/// partition its writer owns, moved or not, so a writer that lost a claim
/// cannot commit score rows or scoring state for it, even when it consumed
/// nothing new there (its windows closing on the idle timeout, say).
#[test]
fn a_stale_owner_is_fenced_by_an_unmoved_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Lake::open(dir.path(), opts()).unwrap();
    let mut b = Lake::open(dir.path(), opts()).unwrap();
    let key = "kafka:hazard:0".to_owned();
    let pos = SourcePosition { next: 10, byte_offset: None };
    a.claim(std::slice::from_ref(&key), Some(1)).unwrap();
    a.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    a.set_position(key.clone(), pos);
    a.put_state("scoring/0", b"a's state").unwrap();
    a.commit().unwrap();
    b.claim(std::slice::from_ref(&key), Some(2)).unwrap();
    let before = read_snapshot(dir.path()).unwrap();
    // a has not seen b's claim; its offset did not move.
    a.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:01Z"])).unwrap();
    a.put_state("scoring/0", b"a's stale state").unwrap();
    a.set_position(key.clone(), pos);
    let err = a.commit().unwrap_err();
    assert!(
        matches!(&err, Error::Fenced { sources } if sources == std::slice::from_ref(&key)),
        "{err}"
    );
    let after = read_snapshot(dir.path()).unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.files.iter().map(|f| f.rows).sum::<u64>(), 1);
    b.refresh().unwrap();
    assert_eq!(b.read_state("scoring/0").unwrap().as_deref(), Some(&b"a's state"[..]));
}

#[test]
fn a_dead_writers_leftovers_are_cleared_but_a_live_writers_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = Lake::open(dir.path(), opts()).unwrap();
    live.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z"])).unwrap();
    // A writer that died mid-transaction left a staged file and no lock.
    let dead = dir.path().join("_fivefold/staging/00000000deadbeef");
    fs::create_dir_all(&dead).unwrap();
    fs::write(dead.join("part-x.parquet"), b"partial").unwrap();
    fs::write(dir.path().join("_fivefold/staging/00000000deadbeef.lock"), b"").unwrap();
    let _other = Lake::open(dir.path(), opts()).unwrap();
    assert!(!dead.exists(), "the dead writer's staging is removed");
    // The live writer's transaction is untouched and still commits.
    assert_eq!(live.commit().unwrap().unwrap().rows, 1);
}

#[test]
fn parquet_files_hold_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    lake.write(Table::Hazard, &hazard_batch(&["2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z"]))
        .unwrap();
    lake.commit().unwrap();
    let snap = read_snapshot(dir.path()).unwrap();
    assert_eq!(ids_in(&snap.files[0].location), vec!["h0", "h1"]);
}

#[test]
fn rows_keep_their_order_in_each_days_file_whether_days_run_together_or_interleave() {
    // Days in runs (written as slices) and interleaved (gathered per day).
    for (times, want) in [
        (
            &["2026-03-01T22:00:00Z", "2026-03-01T23:00:00Z", "2026-03-02T00:00:00Z"][..],
            vec![vec!["h0", "h1"], vec!["h2"]],
        ),
        (
            &["2026-03-01T22:00:00Z", "2026-03-02T00:00:00Z", "2026-03-01T23:00:00Z"][..],
            vec![vec!["h0", "h2"], vec!["h1"]],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = Lake::open(dir.path(), opts()).unwrap();
        lake.write(Table::Hazard, &hazard_batch(times)).unwrap();
        lake.commit().unwrap();
        let mut files = read_snapshot(dir.path()).unwrap().files;
        files.sort_by_key(|f| f.date);
        let got: Vec<Vec<String>> = files.iter().map(|f| ids_in(&f.location)).collect();
        assert_eq!(got, want, "{times:?}");
    }
}

/// The event ids in a Parquet file, in file order.
fn ids_in(path: &Path) -> Vec<String> {
    let file = fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for b in reader {
        let b: RecordBatch = b.unwrap();
        let c = b.column_by_name("event_id").unwrap().as_string::<i32>();
        ids.extend((0..c.len()).map(|i| c.value(i).to_owned()));
    }
    ids
}

/// The event ids of every visible row of a table, sorted.
fn visible_ids(root: &Path, table: &str) -> Vec<String> {
    let snap = read_snapshot(root).unwrap();
    let mut ids: Vec<String> = snap.table_files(table).flat_map(|f| ids_in(&f.location)).collect();
    ids.sort();
    ids
}

/// Three one-row commits on 2026-03-01 and one on 2026-03-02, with a source
/// position and a state blob.
fn small_files_lake(root: &Path) {
    let mut lake = Lake::open(root, opts()).unwrap();
    for i in 0..3 {
        lake.write(Table::Hazard, &hazards_from(i, &["2026-03-01T00:00:00Z"])).unwrap();
        lake.set_position(
            "kafka:hazard:0",
            SourcePosition { next: i as u64 + 1, byte_offset: None },
        );
        lake.commit().unwrap();
    }
    lake.write(Table::Hazard, &hazards_from(3, &["2026-03-02T00:00:00Z"])).unwrap();
    lake.put_state("scoring/p0", b"state").unwrap();
    lake.commit().unwrap();
}

fn no_retention() -> CompactOptions {
    CompactOptions { retain: Duration::ZERO, ..Default::default() }
}

#[test]
fn compaction_merges_small_files_and_keeps_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    small_files_lake(dir.path());
    let before = read_snapshot(dir.path()).unwrap();
    assert_eq!(before.files.len(), 4);
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    let plan = lake.plan_compaction(&no_retention()).unwrap();
    assert_eq!(plan.input_files(), 3, "the lone file of 2026-03-02 is left alone");
    let mut seen = 0;
    let report = lake.compact(plan, &no_retention(), &mut |n| seen += n).unwrap();
    assert_eq!(seen, 3);
    assert_eq!((report.commits, report.files_in, report.files_out, report.rows), (1, 3, 1, 3));
    assert_eq!(report.version, 5);
    assert_eq!(report.deleted, 3, "with no retention the replaced files go at once");
    let after = read_snapshot(dir.path()).unwrap();
    let files: Vec<(i64, u64)> = after.files.iter().map(|f| (f.date, f.rows)).collect();
    assert_eq!(files, vec![(20513, 3), (20514, 1)]);
    assert!(before.input_committed_at_ms.is_some());
    assert_eq!(
        after.input_committed_at_ms, before.input_committed_at_ms,
        "a compaction is not new input"
    );
    assert_eq!(visible_ids(dir.path(), "hazard"), ["h0", "h1", "h2", "h3"]);
    for f in &before.files[..3] {
        assert!(!f.location.exists(), "{} was deleted", f.location.display());
    }
    // Positions and state are untouched by a compaction.
    drop(lake);
    let lake = Lake::open(dir.path(), opts()).unwrap();
    assert_eq!(lake.state().sources["kafka:hazard:0"].next, 3);
    assert_eq!(lake.read_state("scoring/p0").unwrap().unwrap(), b"state");
    // A second run finds nothing left to merge.
    let mut lake = lake;
    assert_eq!(lake.plan_compaction(&no_retention()).unwrap().input_files(), 0);
}

#[test]
fn compaction_beside_a_live_writer_retries_and_both_commits_stand() {
    let dir = tempfile::tempdir().unwrap();
    small_files_lake(dir.path());
    let mut writer = Lake::open(dir.path(), opts()).unwrap();
    let mut compactor = Lake::open(dir.path(), opts()).unwrap();
    let plan = compactor.plan_compaction(&no_retention()).unwrap();
    // The writer commits after the plan was made, taking version 5.
    writer.write(Table::Hazard, &hazards_from(4, &["2026-03-01T00:00:00Z"])).unwrap();
    writer.set_position("kafka:hazard:0", SourcePosition { next: 4, byte_offset: None });
    assert_eq!(writer.commit().unwrap().unwrap().version, 5);
    let report = compactor.compact(plan, &no_retention(), &mut |_| {}).unwrap();
    assert_eq!((report.version, report.files_in), (6, 3));
    // And the writer goes on after it.
    writer.write(Table::Hazard, &hazards_from(5, &["2026-03-01T00:00:00Z"])).unwrap();
    writer.set_position("kafka:hazard:0", SourcePosition { next: 5, byte_offset: None });
    assert_eq!(writer.commit().unwrap().unwrap().version, 7);
    assert_eq!(visible_ids(dir.path(), "hazard"), ["h0", "h1", "h2", "h3", "h4", "h5"]);
    assert_eq!(read_snapshot(dir.path()).unwrap().files.len(), 4, "merged + 03-02 + two new");
}

#[test]
fn two_compactions_of_the_same_files_conflict_and_the_later_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    small_files_lake(dir.path());
    let mut first = Lake::open(dir.path(), opts()).unwrap();
    let mut second = Lake::open(dir.path(), opts()).unwrap();
    let plan1 = first.plan_compaction(&no_retention()).unwrap();
    let plan2 = second.plan_compaction(&CompactOptions::default()).unwrap();
    first.compact(plan1, &CompactOptions::default(), &mut |_| {}).unwrap();
    let err = second.compact(plan2, &CompactOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("another compaction rewrote these files first"), "{err}");
    let snap = read_snapshot(dir.path()).unwrap();
    assert_eq!(snap.version, 5);
    assert_eq!(visible_ids(dir.path(), "hazard"), ["h0", "h1", "h2", "h3"]);
    drop((first, second));
    assert!(staging_is_empty(dir.path()), "the loser's merged file is gone");
}

#[test]
fn replaced_files_stay_for_the_retention_then_a_later_run_deletes_them() {
    let dir = tempfile::tempdir().unwrap();
    small_files_lake(dir.path());
    let before = read_snapshot(dir.path()).unwrap();
    let mut lake = Lake::open(dir.path(), opts()).unwrap();
    let keep = CompactOptions::default();
    let plan = lake.plan_compaction(&keep).unwrap();
    assert_eq!(lake.compact(plan, &keep, &mut |_| {}).unwrap().deleted, 0);
    // A query that listed the old files before the commit can still read them.
    for f in &before.files[..3] {
        assert!(f.location.exists(), "{} is kept for readers", f.location.display());
    }
    // A damaged list (not one a compaction wrote) is ignored, not obeyed.
    fs::write(dir.path().join("_fivefold/trash/00000000000000000001.json"), b"[\"haz").unwrap();
    let plan = lake.plan_compaction(&no_retention()).unwrap();
    assert_eq!(lake.compact(plan, &no_retention(), &mut |_| {}).unwrap().deleted, 3);
    assert!(before.files[..3].iter().all(|f| !f.location.exists()));
    assert_eq!(visible_ids(dir.path(), "hazard"), ["h0", "h1", "h2", "h3"]);
}
