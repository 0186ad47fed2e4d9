//! The lake in an S3 bucket (moto's server mode, as MinIO or AWS would serve
//! it): `replay`, `sql`, `compact` and `serve` over `s3://`, and a group of
//! `fivefold run` instances against the real broker, killed and added, whose
//! lake reconciles exactly and scores like a single instance.

use std::path::{Path, PathBuf};
use std::process::Child;

use crate::broker::{Broker, Storage};
use crate::harness::*;
use crate::moto::Moto;
use crate::runs::*;

/// A moto server and a new bucket on it; every command of this test gets the
/// AWS variables that reach it.
fn bucket() -> (Moto, String) {
    let moto = Moto::start();
    let bucket = moto.bucket();
    use_store_env(moto.env());
    (moto, bucket)
}

#[test]
fn replay_sql_compact_and_serve_work_over_a_bucket() {
    let (_moto, bucket) = bucket();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let (good, bad) = generate(&input, 60, 3.0, 7, 0.01);
    let local = dir.path().join("local");
    let remote = PathBuf::from(format!("{bucket}/city"));
    replay(&input, &local, 500);
    // Small commits, so that there are small files to compact.
    let out = bin()
        .args(["replay", "--input", input.to_str().unwrap(), "--lake", remote.to_str().unwrap()])
        .env("FIVEFOLD_REPLAY__BATCH_ROWS", "500")
        .env("FIVEFOLD_REPLAY__COMMIT_ROWS", "3000")
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .output()
        .unwrap();
    assert_success(&out, &["replay", "s3"]);

    assert_eq!(lake_rows(&remote), (good, bad));
    assert_no_duplicates(&remote);
    let scores = scores_text(&local);
    assert!(scores.lines().count() > 60, "scores were produced");
    same_scores(&scores_text(&remote), &scores, "the bucket's lake scores like the folder's");

    let arg = remote.to_str().unwrap();
    let out = run_ok(&["compact", "--lake", arg, "--retain", "0s"]);
    assert!(out.starts_with("merged"), "{out}");
    assert!(out.contains("deleted"), "replaced objects are deleted with --retain 0s: {out}");
    assert_eq!(lake_rows(&remote), (good, bad));
    same_scores(&scores_text(&remote), &scores, "compaction changed no score");

    // A second replay over the same input finds every line committed.
    replay(&input, &remote, 500);
    assert_eq!(lake_rows(&remote), (good, bad));

    let (mut server, port) = spawn_serve(&remote);
    let body = http_get(port, "/api/v1/risk/enterprises?limit=1").unwrap_or_default();
    server.kill().unwrap();
    server.wait().unwrap();
    let api: serde_json::Value = serde_json::from_str(&body).unwrap();
    let counted: u64 =
        ["red", "orange", "yellow", "blue"].iter().filter_map(|c| api["counts"][c].as_u64()).sum();
    let latest = sql_count(&local, "SELECT count(*) FROM risk_latest");
    assert_eq!(counted, latest, "serve over the bucket counts every enterprise: {body}");
}

#[test]
fn a_missing_credential_or_bucket_is_one_clear_error() {
    let (_moto, bucket) = bucket();
    let out = bin()
        .args(["sql", "--lake", &format!("{bucket}-none/x"), "SELECT count(*) FROM hazard"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{bucket}-none/x")), "the error names the lake: {err}");
}

/// Equal score texts, or a failure that shows the first line that differs.
fn same_scores(got: &str, want: &str, what: &str) {
    if got != want {
        let first = got.lines().zip(want.lines()).position(|(a, b)| a != b);
        panic!(
            "{what}: {} score rows against {}; first difference at row {first:?}: {:?} against {:?}",
            got.lines().count(),
            want.lines().count(),
            first.and_then(|i| got.lines().nth(i)),
            first.and_then(|i| want.lines().nth(i)),
        );
    }
}

/// `fivefold run` as one member of the group on `lake`; killed if the test
/// fails while it runs.
struct Member(Child);

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn member(brokers: &str, lake: &Path) -> Member {
    // Commits every second: each is a few dozen requests to a bucket.
    let mut run = run_command(brokers, lake);
    Member(run.env("FIVEFOLD_RUN__COMMIT_INTERVAL", "1s").spawn().unwrap())
}

/// Records in the lake: source rows plus dead letters.
fn held(lake: &Path) -> u64 {
    if !fivefold_lake::is_object_url(lake) && !lake.exists() {
        return 0; // no member has opened the lake yet
    }
    let (rows, dead) = lake_rows(lake);
    rows + dead
}

#[test]
fn three_instances_on_a_bucket_and_the_broker_process_survive_kills_and_additions() {
    let (_moto, bucket) = bucket();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(Storage::Memory, dir.path());
    // Tansu skips the rest of a record batch when a fetch starts inside it
    // (see `one_record_per_batch`): every offset is a batch boundary.
    let config = one_record_per_batch();
    group_of_three(&PathBuf::from(format!("{bucket}/group")), &broker.addr(), Some(&config));
}

#[test]
fn three_instances_on_a_folder_and_the_mock_cluster_survive_kills_and_additions() {
    let dir = tempfile::tempdir().unwrap();
    let names = fivefold_kafka::TopicNames::new("");
    // In this test process; the `fivefold` processes reach it over TCP.
    let cluster = fivefold_kafka::mock_cluster(&names, 6).unwrap();
    group_of_three(&dir.path().join("group"), &cluster.bootstrap_servers(), None);
}

/// Three members of one group on `lake`, reading from `brokers`: one killed,
/// one added while more records arrive, another killed; then every record
/// is in the lake once, and the scores are those of a single instance.
/// `producer` is a config file for the generator.
///
/// A killed member's partitions move to the others when its session times
/// out (`session.timeout.ms`, 10 s). Tansu 0.6 as published leaves them with
/// nobody; `.ci/tansu/install.sh` builds it with a fix of its coordinator.
fn group_of_three(lake: &Path, brokers: &str, producer: Option<&str>) {
    // Two groups of three at once would be eight processes on a 2-core
    // machine: the tests take turns.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let brokers = brokers.to_owned();
    // Two cities, one produced before the group starts and one after the
    // first kill and the join, an hour of event time later (under the mock
    // cluster's 5 MiB per partition).
    let city = |seed: u64, start: &str| {
        let mut target = vec!["--brokers", brokers.as_str(), "--partitions", "6", "--start", start];
        target.extend(producer.iter().flat_map(|config| ["--config", config]));
        generate_into(&target, 150, 1.0, seed, 0.01)
    };
    let (good, bad) = city(41, "2026-03-01T00:00:00+08:00");
    let lake = lake.to_path_buf();

    let a = member(&brokers, &lake);
    let b = member(&brokers, &lake);
    let mut c = member(&brokers, &lake);
    let mut total = good + bad;
    // Waits until the lake holds more than before (or everything), and
    // returns what it held before: each step is checked to land mid-stream.
    let mut last = 0;
    let mut grew = |what: &str, total: u64| {
        let before = last;
        wait_until(what, 120, || {
            last = held(&lake);
            last > before || last >= total
        });
        before
    };
    grew("the group's first commits", total);
    drop(a); // kill -9
    let at_first_kill = grew("the group to go on after a kill -9", total);
    let mut d = member(&brokers, &lake);
    let (good2, bad2) = city(42, "2026-03-01T01:00:00+08:00");
    let (good, bad) = (good + good2, bad + bad2);
    total = good + bad;
    drop(b); // kill -9
    let at_second_kill = grew("the group to go on after a second kill -9", total);
    assert!(
        at_second_kill < total,
        "the second kill came mid-stream ({at_second_kill} of {total})"
    );
    eprintln!("held at the first kill {at_first_kill}, the second {at_second_kill} of {total}");
    wait_until("the lake to hold every record", 300, || held(&lake) >= total);
    terminate(&mut c.0);
    terminate(&mut d.0);

    // The end of the stream, as a backfill sees it: one instance closes every
    // window. Then the same topics, read by one instance of another group.
    let to_end = |lake: &Path, group: &str| {
        let out = run_command(&brokers, lake)
            .args(["--exit-at-end", "--group", group])
            .env("FIVEFOLD_LOG", "info")
            .output()
            .unwrap();
        assert_success(&out, &["run", group]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let group_log = to_end(&lake, "fivefold");
    reconcile(&lake, good, bad);
    let single = tempfile::tempdir().unwrap();
    let single = single.path().join("single");
    to_end(&single, "single");
    reconcile(&single, good, bad);
    let scores = scores_text(&single);
    assert!(scores.lines().count() > 300, "scores were produced");
    let got = scores_text(&lake);
    if got != scores {
        // What each lake holds, for the failure's reader.
        for (name, l) in [("group", &lake), ("single", &single)] {
            let q = "SELECT 'late', \"table\", min(reason), count(*) FROM late_events GROUP BY 2 \
                     UNION ALL SELECT 'scored', CAST(count(DISTINCT uscc) AS VARCHAR), \
                       CAST(min(window_end) AS VARCHAR) || ' .. ' || CAST(max(window_end) AS VARCHAR), \
                       count(*) FROM risk_scores \
                     UNION ALL SELECT 'registered', CAST(count(DISTINCT uscc) AS VARCHAR), '', count(*) \
                       FROM enterprise";
            eprintln!("{name}: {:?}", sql(l, q));
        }
        eprintln!("the group's last run:\n{group_log}");
    }
    same_scores(&got, &scores, "the group's scores differ from one instance's");
    let parts = sql_count(&lake, "SELECT count(DISTINCT _partition) FROM monitoring_reading");
    assert_eq!(parts, 6, "all six partitions were consumed");
}
