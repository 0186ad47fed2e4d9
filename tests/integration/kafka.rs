//! `fivefold run` against a real broker process: kill -9, a group of two, a
//! broker restart, and clear startup errors. Every scenario ends with an
//! exact reconciliation of the lake against what was produced.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::broker::{Broker, Storage};
use crate::harness::*;

/// Produces a generated city (1% malformed) to the broker; returns (good, bad).
fn produce(
    broker: &Broker,
    enterprises: u32,
    hours: f64,
    seed: u64,
    partitions: i32,
) -> (u64, u64) {
    let (addr, parts) = (broker.addr(), partitions.to_string());
    generate_into(&["--brokers", &addr, "--partitions", &parts], enterprises, hours, seed, 0.01)
}

fn spawn_run(broker: &Broker, lake: &Path, extra: &[&str]) -> Child {
    bin()
        .args(["run", "--brokers", &broker.addr(), "--lake", lake.to_str().unwrap()])
        .args(extra)
        .env("FIVEFOLD_RUN__COMMIT_INTERVAL", "300ms")
        .env("FIVEFOLD_RUN__COMMIT_ROWS", "20000")
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .env("FIVEFOLD_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn log_versions(lake: &Path) -> usize {
    std::fs::read_dir(lake.join("_fivefold/log")).map(|d| d.count()).unwrap_or(0)
}

fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: &mut Child) {
    // SIGTERM: the pipeline commits what it holds, then exits 0.
    // The `kill` program (procps, which .ci/run installs) keeps this test free of `unsafe`.
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill (apt-get install procps)");
    assert!(sent.success(), "kill -TERM {} failed", child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "fivefold run exited with {status} after SIGTERM");
}

/// Exactly once: rows plus dead letters equal what was produced, and no
/// (topic, partition, offset) appears twice.
fn reconcile(lake: &Path, good: u64, bad: u64) {
    assert_eq!(lake_rows(lake), (good, bad));
    let union = SOURCE_TABLES
        .iter()
        .map(|t| format!("SELECT _topic AS t, _partition AS p, _offset AS o FROM {t}"))
        .chain(std::iter::once(
            "SELECT topic, \"partition\", \"offset\" FROM dead_letters".to_owned(),
        ))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let distinct =
        sql_count(lake, &format!("SELECT count(*) FROM (SELECT DISTINCT t, p, o FROM ({union}))"));
    assert_eq!(distinct, good + bad, "some Kafka records are in the lake twice");
    for t in ["enterprise", "hazard", "enforcement", "monitoring_point", "rescue"] {
        let (n, d) = (
            sql_count(lake, &format!("SELECT count(*) FROM {t}")),
            sql_count(lake, &format!("SELECT count(DISTINCT event_id) FROM {t}")),
        );
        assert_eq!(n, d, "{t}: duplicate event_id");
    }
}

#[test]
fn run_survives_kill_9_five_times() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(Storage::Memory, dir.path());
    let lake = dir.path().join("lake");
    let (good, bad) = produce(&broker, 700, 2.0, 21, 3);
    assert!(good + bad >= 200_000, "at least 200k records ({})", good + bad);
    let mut kills = 0;
    for round in 0..5u64 {
        let mut child = spawn_run(&broker, &lake, &["--exit-at-end"]);
        let before = log_versions(&lake);
        let deadline = Instant::now() + Duration::from_secs(120);
        while log_versions(&lake) <= before
            && Instant::now() < deadline
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        // A moment that varies from round to round.
        std::thread::sleep(Duration::from_millis(37 * round + 11));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "killed mid-run at least three times ({kills})");
    run_ok(&[
        "run",
        "--brokers",
        &broker.addr(),
        "--lake",
        lake.to_str().unwrap(),
        "--exit-at-end",
    ]);
    reconcile(&lake, good, bad);
}

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
    wait_until("the lake to hold every record", 120, || {
        let (rows, dead) = lake_rows(&lake);
        rows + dead >= good + bad
    });
    terminate(&mut b);
    reconcile(&lake, good, bad);
    let writers = sql_count(&lake, "SELECT count(DISTINCT _partition) FROM monitoring_reading");
    assert_eq!(writers, 4, "all four partitions were consumed");
}

#[test]
fn broker_down_for_20_seconds_then_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(Storage::Sqlite(dir.path().join("broker.db")), dir.path());
    let lake = dir.path().join("lake");
    let (good, bad) = produce(&broker, 150, 2.0, 23, 2);
    let mut run = spawn_run(&broker, &lake, &[]);
    wait_until("the first commit", 60, || log_versions(&lake) >= 1);
    broker.kill();
    std::thread::sleep(Duration::from_secs(20));
    assert!(
        run.try_wait().unwrap().is_none(),
        "the pipeline keeps running while the broker is away"
    );
    broker.restart();
    wait_until("the lake to hold every record", 120, || {
        let (rows, dead) = lake_rows(&lake);
        rows + dead >= good + bad
    });
    terminate(&mut run);
    reconcile(&lake, good, bad);
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
