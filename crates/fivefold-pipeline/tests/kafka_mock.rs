//! The Kafka pipeline against librdkafka's in-process mock cluster: exactly
//! once into the lake, resuming from the lake's offsets, and two instances of
//! one group sharing the partitions and the lake.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fivefold_generate::{GenConfig, Generator};
use fivefold_kafka::{KafkaConfig, Producer, TopicNames};
use fivefold_lake::{Lake, WriterOptions, read_snapshot};
use fivefold_pipeline::{Config, RunOptions};

/// Produces a small generated city; returns (good, bad) record counts.
/// Kept well under the mock cluster's 5 MiB per partition.
fn produce(cfg: &KafkaConfig, enterprises: u32, hours: f64, seed: u64) -> (u64, u64) {
    let producer = Producer::new(cfg).unwrap();
    let names = cfg.names();
    let gen_cfg = GenConfig { enterprises, hours, seed, bad_ratio: 0.01, ..GenConfig::default() };
    let (mut good, mut bad) = (0, 0);
    for rec in Generator::new(gen_cfg).unwrap() {
        match producer.send(names.name(rec.topic), rec.key.as_bytes(), &rec.payload, &[]) {
            Ok(()) if rec.bad.is_some() => bad += 1,
            Ok(()) => good += 1,
            Err(fivefold_kafka::Error::MessageTooLarge { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    (good, bad)
}

/// A mock cluster with the five topics of `partitions` partitions each, and
/// the Kafka config of a consumer group on it.
fn cluster(
    partitions: i32,
) -> (rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>, KafkaConfig)
{
    let cluster = fivefold_kafka::mock_cluster(&TopicNames::new(""), partitions).unwrap();
    let mut cfg = Config::load(None, []).unwrap().kafka;
    cfg.brokers = cluster.bootstrap_servers();
    cfg.group = "test".into();
    (cluster, cfg)
}

/// The reference model, but partitions that send nothing (rescue, say) stop
/// holding event time back after 200 ms instead of 30 s.
fn quick_idle_model() -> fivefold_score::RiskModel {
    let text = fivefold_score::config::DEFAULT_MODEL_TOML
        .replace("idle_timeout = \"30s\"", "idle_timeout = \"200ms\"");
    fivefold_score::RiskModel::from_toml(&text, "test").unwrap()
}

fn opts(exit_at_end: bool) -> RunOptions {
    RunOptions {
        commit_interval: Duration::from_millis(300),
        commit_rows: 5_000,
        batch_rows: 1_000,
        exit_at_end,
        model: Some(quick_idle_model()),
        check_clock: true,
        health: Default::default(),
    }
}

fn lake(dir: &Path) -> Lake {
    Lake::open(dir, WriterOptions { durable: false, ..Default::default() }).unwrap()
}

/// Committed rows per table.
fn rows(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in read_snapshot(dir).unwrap().files {
        *out.entry(f.table).or_default() += f.rows;
    }
    out
}

/// Rows of the source tables (derived tables left out).
fn good_rows(r: &BTreeMap<String, u64>) -> u64 {
    const DERIVED: [&str; 4] = ["dead_letters", "alarms", "risk_scores", "late_events"];
    r.iter().filter(|(t, _)| !DERIVED.contains(&t.as_str())).map(|(_, n)| n).sum()
}

#[test]
fn consumes_everything_exactly_once_and_resumes_from_the_lake() {
    let (_cluster, cfg) = cluster(2);
    let (good, bad) = produce(&cfg, 20, 2.0, 5);
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let summary =
        fivefold_pipeline::run(&cfg, lake(dir.path()), &opts(true), &stop, &AtomicU64::new(0))
            .unwrap();
    assert_eq!(summary.records, good + bad);
    let r = rows(dir.path());
    assert_eq!((good_rows(&r), r["dead_letters"]), (good, bad));
    // The summary counts what each source table took, as committed.
    let accepted: BTreeMap<String, u64> =
        summary.accepted.iter().map(|(t, n)| (t.name().to_owned(), *n)).collect();
    let committed: BTreeMap<String, u64> =
        r.iter().filter(|(t, _)| accepted.contains_key(*t)).map(|(t, n)| (t.clone(), *n)).collect();
    assert_eq!(accepted, committed);
    assert_eq!(accepted.values().sum::<u64>(), good);
    assert!(r.get("risk_scores").copied().unwrap_or(0) > 0, "scores were committed: {r:?}");
    let state = Lake::open(dir.path(), WriterOptions::default()).unwrap();
    assert!(state.read_state("scoring/0").unwrap().is_some(), "shard 0's state is in the lake");
    drop(state);
    // Offsets live in the lake: a second run under a new group id (whose
    // Kafka-side offsets are empty) still reads nothing twice.
    let mut cfg2 = cfg.clone();
    cfg2.group = "another-group".into();
    let summary =
        fivefold_pipeline::run(&cfg2, lake(dir.path()), &opts(true), &stop, &AtomicU64::new(0))
            .unwrap();
    assert_eq!(summary.records, 0);
    assert_eq!(rows(dir.path()), r);
}

/// A shard whose committed state does not restore stops the run with an
/// error, and none of the run is committed: the offsets, the files and the
/// state blob stay as they were (the next start fails the same way, instead
/// of scoring on from an empty shard).
#[test]
fn a_state_that_does_not_restore_stops_the_run_without_a_commit() {
    let (_cluster, cfg) = cluster(1);
    produce(&cfg, 10, 1.0, 5);
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    fivefold_pipeline::run(&cfg, lake(dir.path()), &opts(true), &stop, &AtomicU64::new(0)).unwrap();
    let state_ref = lake(dir.path()).state().state["scoring/0"].clone();
    let blob = dir.path().join(&state_ref.path);
    std::fs::write(&blob, b"not a scoring state").unwrap();
    let before = lake(dir.path()).state().clone();
    produce(&cfg, 10, 1.0, 6);
    let err =
        fivefold_pipeline::run(&cfg, lake(dir.path()), &opts(true), &stop, &AtomicU64::new(0))
            .unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
    // The new run's claim of the partitions is the only new log entry.
    let after = lake(dir.path()).state().clone();
    assert_eq!(after.files.keys().collect::<Vec<_>>(), before.files.keys().collect::<Vec<_>>());
    assert_eq!(after.sources, before.sources, "no offset moved");
    assert_eq!(after.state["scoring/0"].path, state_ref.path);
    assert_eq!(std::fs::read(&blob).unwrap(), b"not a scoring state");
}

/// An instance running `fivefold run` with `opts` on a thread of its own:
/// its stop flag, its count of records seen, its thread.
fn spawn_instance(
    cfg: &KafkaConfig,
    root: &Path,
    opts: RunOptions,
) -> (Arc<AtomicBool>, Arc<AtomicU64>, std::thread::JoinHandle<fivefold_pipeline::RunSummary>) {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let (cfg, root, s, n) = (cfg.clone(), root.to_path_buf(), Arc::clone(&stop), Arc::clone(&seen));
    let handle = std::thread::spawn(move || {
        fivefold_pipeline::run(&cfg, lake(&root), &opts, &s, &n).unwrap()
    });
    (stop, seen, handle)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readiness_reports_the_consumer_lag_falling_to_zero() {
    let (_cluster, cfg) = cluster(2);
    let (good, bad) = produce(&cfg, 20, 1.0, 7);
    let dir = tempfile::tempdir().unwrap();
    let o = opts(false);
    let health = Arc::clone(&o.health);
    assert_eq!(health.status().consumer_lag, None, "no statistics yet");
    let (stop, seen, run) = spawn_instance(&cfg, dir.path(), o);
    wait_for("every record", || seen.load(Ordering::Relaxed) >= good + bad);
    // Kafka's statistics come every 5 s; once the offsets are committed
    // the partitions' lag is zero.
    wait_for("a lag of zero on /readyz", || health.status().consumer_lag == Some(0));
    assert_eq!(health.status().to_json()["consumer_lag"], 0);
    stop.store(true, Ordering::Relaxed);
    assert_eq!(run.join().unwrap().records, good + bad);
}

#[test]
fn two_instances_share_partitions_and_one_leaving_loses_nothing() {
    let (_cluster, cfg) = cluster(4);
    let dir = tempfile::tempdir().unwrap();
    let (g1, b1) = produce(&cfg, 20, 1.0, 5);
    let (stop_a, seen_a, a) = spawn_instance(&cfg, dir.path(), opts(false));
    wait_for("instance a to read the first part", || seen_a.load(Ordering::Relaxed) >= g1 + b1);
    // A second member joins: the group rebalances the 4 partitions of each topic.
    let (stop_b, seen_b, b) = spawn_instance(&cfg, dir.path(), opts(false));
    std::thread::sleep(Duration::from_secs(4));
    let (g2, b2) = produce(&cfg, 60, 1.0, 6);
    let (good, bad) = (g1 + g2, b1 + b2);
    let before = seen_a.load(Ordering::Relaxed);
    wait_for("both to consume", || {
        seen_b.load(Ordering::Relaxed) > 0 && seen_a.load(Ordering::Relaxed) > before
    });
    // The first member leaves mid-stream; the second takes its partitions.
    stop_a.store(true, Ordering::Relaxed);
    let sa = a.join().unwrap();
    wait_for("the lake to hold every record", || {
        let r = rows(dir.path());
        good_rows(&r) + r.get("dead_letters").copied().unwrap_or(0) >= good + bad
    });
    // a committed all it read before leaving, so the lake may be complete
    // before the group hands a's partitions to b: b claims them all.
    let owners = || lake(dir.path()).state().owners.clone();
    wait_for("b to claim every partition", || {
        let owners = owners();
        let writers: std::collections::BTreeSet<_> = owners.values().map(|o| &o.writer).collect();
        owners.len() == 5 * 4 && writers.len() == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    stop_b.store(true, Ordering::Relaxed);
    let sb = b.join().unwrap();
    assert!(sa.records > 0 && sb.records > 0, "both consumed ({}, {})", sa.records, sb.records);
    let r = rows(dir.path());
    assert_eq!((good_rows(&r), r["dead_letters"]), (good, bad));
    // b's claims came in two rebalances (as b joined, and as a left), each
    // with the group generation of its assignment.
    let owners = owners();
    assert!(owners.values().all(|o| o.generation.is_some()), "{owners:?}");
    let generations: std::collections::BTreeSet<_> =
        owners.values().filter_map(|o| o.generation).collect();
    assert!(generations.len() >= 2, "b's claims came from two rebalances: {owners:?}");
}

#[test]
fn dead_letters_also_go_to_a_kafka_topic_with_their_reason_in_headers() {
    use rdkafka::Message as _;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers as _;

    let (cluster, mut cfg) = cluster(1);
    cluster.create_topic("dlq", 1, 1).unwrap();
    cfg.dead_letter_topic = "dlq".into();
    let (_, bad) = produce(&cfg, 10, 1.0, 9);
    assert!(bad > 0);
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    fivefold_pipeline::run(&cfg, lake(dir.path()), &opts(true), &stop, &AtomicU64::new(0)).unwrap();

    let mut cc = cfg.client_config();
    cc.set("group.id", "dlq-reader").set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = cc.create().unwrap();
    consumer.subscribe(&["dlq"]).unwrap();
    let (mut n, mut with_reason) = (0u64, 0u64);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while n < bad && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            n += 1;
            let headers =
                m.headers().map(|h| h.iter().map(|x| x.key.to_owned()).collect::<Vec<_>>());
            if headers.is_some_and(|h| {
                [
                    "fivefold-reason",
                    "fivefold-error-class",
                    "fivefold-source-topic",
                    "fivefold-source-offset",
                ]
                .iter()
                .all(|k| h.iter().any(|x| x == k))
            }) {
                with_reason += 1;
            }
        }
    }
    assert_eq!((n, with_reason), (bad, bad));
}

/// A backfill member (`exit_at_end`) that joins while another member holds
/// some of the shards closes its own, then waits: it ends only once every
/// shard's windows are closed, here after the other member leaves and it
/// takes that member's shards over. Ending earlier would leave the other
/// shards' last windows unscored for good (as when the other member dies).
#[test]
fn a_backfill_ends_only_once_every_shard_is_closed() {
    let (_cluster, cfg) = cluster(4);
    let (good, bad) = produce(&cfg, 20, 1.0, 5);
    // The reference model, whose 30 s idle timeout closes no window while
    // these instances run: every window closes at the end, by whoever ends.
    let opts = |exit_at_end| RunOptions {
        model: Some(
            fivefold_score::RiskModel::from_toml(fivefold_score::config::DEFAULT_MODEL_TOML, "t")
                .unwrap(),
        ),
        ..opts(exit_at_end)
    };
    let alone = tempfile::tempdir().unwrap();
    let mut cfg_alone = cfg.clone();
    cfg_alone.group = "alone".into();
    let stop = AtomicBool::new(false);
    fivefold_pipeline::run(&cfg_alone, lake(alone.path()), &opts(true), &stop, &AtomicU64::new(0))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (stop_y, seen_y, y) = spawn_instance(&cfg, dir.path(), opts(false));
    wait_for("y to read everything", || seen_y.load(Ordering::Relaxed) >= good + bad);
    let (_, _, x) = spawn_instance(&cfg, dir.path(), opts(true));
    let closed =
        || lake(dir.path()).state().state.keys().filter(|k| k.starts_with("run/closed/")).count();
    wait_for("x to close the shards it got", || closed() > 0 || x.is_finished());
    std::thread::sleep(Duration::from_secs(2));
    assert!(!x.is_finished(), "x ended while y held open shards");
    assert_eq!(closed(), 2, "x closed its two shards of four");
    stop_y.store(true, Ordering::Relaxed);
    y.join().unwrap();
    wait_for("x to take y's shards over and end", || x.is_finished());
    x.join().unwrap();
    assert_eq!(closed(), 4);
    let (r, want) = (rows(dir.path()), rows(alone.path()));
    assert_eq!((good_rows(&r), r["dead_letters"]), (good, bad));
    assert_eq!(r["risk_scores"], want["risk_scores"], "every shard's windows closed");
}
