//! `fivefold run` against a real broker process: a group of two and clear
//! startup errors. Kills, broker outages, a full disk, a damaged log and
//! clock skew are in the fault-injection suite (`tests/faults`).

use std::time::{Duration, Instant};

use crate::broker::{Broker, Storage};
use crate::harness::*;
use crate::runs::*;

#[test]
fn two_instances_in_one_group_and_one_stops_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(Storage::Memory, dir.path());
    let lake = dir.path().join("lake");
    let (good, bad) = produce(&broker, 400, 2.0, 22, 4);
    let mut a = spawn_run(&broker, &lake, &[]);
    wait_until("the first commit", 60, || log_versions(&lake) >= 1);
    let mut b = spawn_run(&broker, &lake, &[]);
    // Both members commit, then the first one leaves.
    std::thread::sleep(Duration::from_secs(3));
    terminate(&mut a);
    drain_and_reconcile(&mut b, &lake, good, bad);
    let writers = sql_count(&lake, "SELECT count(DISTINCT _partition) FROM monitoring_reading");
    assert_eq!(writers, 4, "all four partitions were consumed");
}

/// A backfill (`run --exit-at-end`) ends as a replay of the same records
/// ends: the last, unfinished window is scored and the alarm episodes still
/// open are reported, so the two lakes hold the same scores and alarms.
#[test]
fn a_backfill_ends_with_the_scores_and_alarms_of_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (enterprises, hours, seed) = (200, 3.0, 41);
    let input = dir.path().join("input");
    let replayed = dir.path().join("replayed");
    let (in_files, _) = generate(&input, enterprises, hours, seed, 0.01);
    replay(&input, &replayed, 8192);
    let broker = Broker::start(Storage::Memory, dir.path());
    let lake = dir.path().join("lake");
    let (good, bad) = produce(&broker, enterprises, hours, seed, 3);
    // The same city (less the malformed records too large for the broker).
    assert_eq!(good, in_files, "the broker holds the good records of the files");
    let out = run_command(&broker.addr(), &lake).arg("--exit-at-end").output().unwrap();
    assert_success(&out, &["run", "--exit-at-end"]);
    reconcile(&lake, good, bad);

    let open = "SELECT count(*) FROM alarms WHERE end_time IS NULL";
    assert!(sql_count(&replayed, open) > 0, "the replay ends with open alarm episodes");
    let last = "SELECT count(*) FROM risk_scores WHERE window_end > \
                (SELECT max(event_time) FROM monitoring_reading)";
    assert!(sql_count(&replayed, last) > 0, "the replay scores the unfinished last window");
    assert_eq!(alarms_text(&lake), alarms_text(&replayed));
    assert_eq!(scores_text(&lake), scores_text(&replayed));
}

#[test]
fn startup_fails_fast_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let out = bin()
        .args([
            "run",
            "--brokers",
            &format!("127.0.0.1:{dead_port}"),
            "--lake",
            lake.to_str().unwrap(),
        ])
        .env("FIVEFOLD_KAFKA__CONNECT_TIMEOUT", "2s")
        .env("FIVEFOLD_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: cannot reach the Kafka brokers at 127.0.0.1:"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));

    let broker = Broker::start(Storage::Memory, dir.path());
    let out = bin()
        .args(["run", "--brokers", &broker.addr(), "--lake", lake.to_str().unwrap()])
        .args(["--topic-prefix", "nothing_here_"])
        .env("FIVEFOLD_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("topics missing on"), "{err}");
    assert!(err.contains("nothing_here_enterprise"), "{err}");
    assert!(err.contains("--create-topics"), "{err}");
}
