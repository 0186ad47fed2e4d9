//! The lake in an S3 bucket (moto's server): commits, readers, two writers
//! racing for log versions, ownership claims that fence a stale writer, and
//! compaction. The same protocol as a local lake, through the store's
//! conditional create.

#[path = "../../../tests/support/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use fivefold_lake::{
    CompactOptions, Error, Lake, ObjectLake, SourcePosition, WriterOptions, read_snapshot,
};
use fivefold_model::{Decoder, SourceRef, Table, Topic};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;

use moto::Moto;

/// Hazard rows with event ids `h<first>`, `h<first + 1>`, ... at `time`.
fn hazards(first: usize, n: usize, time: &str) -> RecordBatch {
    let mut dec = Decoder::new(Topic::Hazard);
    for i in first..first + n {
        let raw = format!(
            r#"{{"event_id":"h{i}","event_time":"{time}","uscc":"91440300708461136T","hazard_id":"H{i}","level":"general","found_by":"self","found_at":"{time}","state":"open"}}"#
        );
        let src = SourceRef { topic: "hazard", line: Some(i as i64 + 1), ..Default::default() };
        dec.push(raw.as_bytes(), &src, 0);
    }
    dec.finish().unwrap().remove(0).1
}

fn opts() -> WriterOptions {
    WriterOptions { durable: false, ..Default::default() }
}

fn pos(next: u64) -> SourcePosition {
    SourcePosition { next, byte_offset: None }
}

/// A fresh lake in a new bucket of `moto`, under the prefix `city`.
fn s3_lake(moto: &Moto) -> PathBuf {
    let bucket = moto.bucket();
    let owned = moto.options();
    let options: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ObjectLake::configure(&bucket, &options).unwrap();
    PathBuf::from(format!("{bucket}/city"))
}

/// The event ids of every visible row of `hazard`, sorted, read from the bucket.
fn visible_ids(root: &Path) -> Vec<String> {
    let snap = read_snapshot(root).unwrap();
    let store = snap.store.clone().expect("an object-store snapshot names its store").store();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ids = Vec::new();
    for f in snap.table_files("hazard") {
        let path = ObjectPath::from(f.location.to_str().unwrap());
        let bytes = rt.block_on(async { store.get(&path).await.unwrap().bytes().await.unwrap() });
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        for b in reader {
            let b = b.unwrap();
            let c = b.column_by_name("event_id").unwrap().as_string::<i32>();
            ids.extend((0..c.len()).map(|i| c.value(i).to_owned()));
        }
    }
    ids.sort();
    ids
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("h{i}")).collect();
    v.sort();
    v
}

#[test]
fn a_lake_in_a_bucket_commits_atomically_and_restores_positions_and_state() {
    let moto = Moto::start();
    let root = s3_lake(&moto);
    let mut lake = Lake::open(&root, opts()).unwrap();
    lake.write(Table::Hazard, &hazards(0, 2, "2026-03-01T08:00:00Z")).unwrap();
    lake.write(Table::Hazard, &hazards(2, 1, "2026-03-02T08:00:00Z")).unwrap();
    lake.set_position("kafka:hazard:0", pos(3));
    lake.put_state("scoring/p0", b"state one").unwrap();
    assert_eq!(read_snapshot(&root).unwrap().files.len(), 0, "nothing visible before the commit");
    let info = lake.commit().unwrap().unwrap();
    assert_eq!((info.version, info.files, info.rows), (1, 2, 3));

    let snap = read_snapshot(&root).unwrap();
    assert_eq!(snap.version, 1);
    let mut locations: Vec<String> =
        snap.files.iter().map(|f| f.location.to_string_lossy().into_owned()).collect();
    locations.sort();
    assert!(locations[0].starts_with("city/hazard/date=2026-03-01/part-"), "{locations:?}");
    assert!(locations[1].starts_with("city/hazard/date=2026-03-02/part-"), "{locations:?}");
    assert_eq!(visible_ids(&root), ids(0..3));

    // A second commit replaces the state blob; a new writer reads it all back.
    lake.write(Table::Hazard, &hazards(3, 1, "2026-03-02T09:00:00Z")).unwrap();
    lake.set_position("kafka:hazard:0", pos(4));
    lake.put_state("scoring/p0", b"state two").unwrap();
    assert_eq!(lake.commit().unwrap().unwrap().version, 2);
    drop(lake);
    let again = Lake::open(&root, opts()).unwrap();
    assert_eq!(again.state().version, 2);
    assert_eq!(again.state().sources["kafka:hazard:0"].next, 4);
    assert_eq!(again.read_state("scoring/p0").unwrap().as_deref(), Some(&b"state two"[..]));
    assert_eq!(visible_ids(&root), ids(0..4));
}

#[test]
fn two_writers_racing_for_log_versions_lose_no_commit() {
    let moto = Moto::start();
    let root = s3_lake(&moto);
    let commits = 12;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut lake = Lake::open(&root, opts()).unwrap();
                let key = format!("kafka:hazard:{w}");
                for i in 0..commits {
                    let first = w * 1000 + i;
                    lake.write(Table::Hazard, &hazards(first, 1, "2026-03-01T08:00:00Z")).unwrap();
                    lake.set_position(&key, pos(i as u64 + 1));
                    lake.commit().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // Every commit of both writers holds a version of its own, in one
    // unbroken sequence, and every row is visible once.
    let lake = Lake::open(&root, opts()).unwrap();
    assert_eq!(lake.state().version, 2 * commits as u64);
    assert_eq!(lake.state().sources["kafka:hazard:0"].next, commits as u64);
    assert_eq!(lake.state().sources["kafka:hazard:1"].next, commits as u64);
    let mut want = ids(0..commits);
    want.extend(ids(1000..1000 + commits));
    want.sort();
    assert_eq!(visible_ids(&root), want);
}

#[test]
fn a_claim_fences_the_previous_owner_of_a_partition() {
    let moto = Moto::start();
    let root = s3_lake(&moto);
    let key = "kafka:hazard:0".to_owned();
    let mut a = Lake::open(&root, opts()).unwrap();
    a.claim(std::slice::from_ref(&key), Some(1)).unwrap();
    a.write(Table::Hazard, &hazards(0, 1, "2026-03-01T08:00:00Z")).unwrap();
    a.set_position(&key, pos(1));
    a.commit().unwrap();

    // b takes the partition over (a rebalance a missed, say) and sees a's
    // last commit as final.
    let mut b = Lake::open(&root, opts()).unwrap();
    b.claim(std::slice::from_ref(&key), Some(2)).unwrap();
    assert_eq!(b.state().owners[&key].writer, b.writer_id());
    assert_eq!(b.state().owners[&key].epoch, 2);
    assert_eq!(b.state().owners[&key].generation, Some(2), "the generation is recorded");
    assert_eq!(b.state().sources[&key].next, 1);

    // a, the zombie, still writes: its commit is refused, even though the
    // position it read is unchanged, and its rows never become visible.
    a.write(Table::Hazard, &hazards(1, 1, "2026-03-01T08:00:00Z")).unwrap();
    a.set_position(&key, pos(2));
    let err = a.commit().unwrap_err();
    assert!(
        matches!(&err, Error::Fenced { sources } if sources == std::slice::from_ref(&key)),
        "{err}"
    );

    b.write(Table::Hazard, &hazards(100, 1, "2026-03-01T08:00:00Z")).unwrap();
    b.set_position(&key, pos(2));
    assert_eq!(b.commit().unwrap().unwrap().version, 4);
    assert_eq!(visible_ids(&root), vec!["h0".to_owned(), "h100".to_owned()]);
}

#[test]
fn compaction_in_a_bucket_keeps_every_row_once() {
    let moto = Moto::start();
    let root = s3_lake(&moto);
    let mut lake = Lake::open(&root, opts()).unwrap();
    for i in 0..4 {
        lake.write(Table::Hazard, &hazards(i, 1, "2026-03-01T08:00:00Z")).unwrap();
        lake.set_position("kafka:hazard:0", pos(i as u64 + 1));
        lake.commit().unwrap();
    }
    let before = read_snapshot(&root).unwrap();
    assert_eq!(before.files.len(), 4);
    let copts = CompactOptions { retain: Duration::ZERO, ..Default::default() };
    let plan = lake.plan_compaction(&copts).unwrap();
    let report = lake.compact(plan, &copts, &mut |_| {}).unwrap();
    assert_eq!((report.files_in, report.files_out, report.rows), (4, 1, 4));
    assert_eq!(report.deleted, 4, "the replaced objects are deleted once retention passes");
    let after = read_snapshot(&root).unwrap();
    assert_eq!(after.files.len(), 1);
    assert_eq!(visible_ids(&root), ids(0..4));
    assert_eq!(lake.state().sources["kafka:hazard:0"].next, 4, "positions are untouched");
}

#[test]
fn a_url_without_a_bucket_is_one_clear_error() {
    let err = Lake::open("s3://", opts()).err().expect("no bucket");
    assert!(err.to_string().contains("names no bucket"), "{err}");
}

#[test]
fn an_unknown_store_option_is_one_clear_error() {
    let err =
        ObjectLake::configure("s3://some-bucket", &[("aws_region", "x"), ("aws_regoin", "y")])
            .expect_err("unknown key");
    let text = err.to_string();
    assert!(text.starts_with("configure s3://some-bucket: "), "{text}");
    assert!(text.contains("aws_regoin"), "{text}");
}
