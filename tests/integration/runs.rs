//! Running `fivefold run` against a broker and reconciling its lake: shared by
//! the integration tests and the fault-injection suite.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::harness::*;

/// A config file for `fivefold generate` that produces one record per batch
/// ([`crate::broker::ONE_RECORD_PER_BATCH`]).
pub(crate) fn one_record_per_batch() -> String {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("one-record-per-batch.toml");
    std::fs::write(&path, crate::broker::ONE_RECORD_PER_BATCH).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Produces a generated city (1% malformed) to the broker, one record per
/// batch; returns (good, bad).
pub(crate) fn produce(
    broker: &Broker,
    enterprises: u32,
    hours: f64,
    seed: u64,
    partitions: i32,
) -> (u64, u64) {
    let (addr, parts, config) = (broker.addr(), partitions.to_string(), one_record_per_batch());
    let target = ["--brokers", &addr, "--partitions", &parts, "--config", &config];
    generate_into(&target, enterprises, hours, seed, 0.01)
}

/// `fivefold run` on `brokers` into `lake`, committing every 300 ms without
/// fsync (throwaway lakes), logging warnings, stdout discarded.
pub(crate) fn run_command(brokers: &str, lake: &Path) -> Command {
    let mut c = bin();
    c.args(["run", "--brokers", brokers, "--lake", lake.to_str().unwrap()])
        .env("FIVEFOLD_RUN__COMMIT_INTERVAL", "300ms")
        .env("FIVEFOLD_RUN__COMMIT_ROWS", "20000")
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .env("FIVEFOLD_LOG", "warn")
        .stdout(Stdio::null());
    c
}

/// Starts `fivefold run` (see [`run_command`]) with `extra` arguments.
pub(crate) fn spawn_run(broker: &Broker, lake: &Path, extra: &[&str]) -> Child {
    run_command(&broker.addr(), lake).args(extra).spawn().unwrap()
}

/// Files in the commit log folder.
pub(crate) fn log_versions(lake: &Path) -> usize {
    std::fs::read_dir(lake.join("_fivefold/log")).map(|d| d.count()).unwrap_or(0)
}

/// Polls `done` every 50 ms; fails after `secs`.
pub(crate) fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then expects exit 0.
pub(crate) fn terminate(child: &mut Child) {
    // SIGTERM: the pipeline commits what it holds, then exits 0.
    // The `kill` program (procps, which .ci/run installs) keeps this test free of `unsafe`.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill (apt-get install procps)");
    assert!(sent.success(), "kill -TERM {} failed", child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "fivefold run exited with {status} after SIGTERM");
}

/// Waits until the lake holds `good + bad` records (3 minutes at most), stops
/// `run` with SIGTERM and reconciles the lake exactly.
pub(crate) fn drain_and_reconcile(run: &mut Child, lake: &Path, good: u64, bad: u64) {
    wait_until("the lake to hold every record", 180, || {
        let (rows, dead) = lake_rows(lake);
        rows + dead >= good + bad
    });
    terminate(run);
    reconcile(lake, good, bad);
}

/// Exactly once: rows plus dead letters equal what was produced, and no
/// (topic, partition, offset) appears twice.
pub(crate) fn reconcile(lake: &Path, good: u64, bad: u64) {
    assert_eq!(lake_rows(lake), (good, bad));
    let union = crate::lake_sql::kafka_coordinates();
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
